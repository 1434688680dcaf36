//! `SOCK_DESTROY` through inet_diag (what `ss -K` sends): the request builder and the ack
//! parser (pure, over bytes), the CAP_NET_ADMIN pre-check (a pure parser over
//! `/proc/self/status`), and [`Destroyer`], the netlink socket that sends the requests.
//!
//! Owns nothing about *which* sockets to destroy: the caller resolves the set (dump,
//! attribute, filter) and hands over one [`SockId`] per socket. Each carries the socket's
//! kernel cookie, so the kernel acts only on the very socket that was listed. Measured on
//! this kernel (6.18): without the cookie, a request naming a connection that had just
//! gone fell through the kernel's lookup to the *listener* on the same local port and
//! destroyed it; with the cookie the same request is refused with `ENOENT`. A wrong cookie
//! is `ENOENT` too (TCP and UDP alike), never `ESTALE`, so "already gone" is both. A
//! TIME_WAIT entry inherits its full socket's cookie, so a socket listed ESTABLISHED that
//! moved to TIME_WAIT is still "this socket" and its TIME_WAIT entry is what goes. No state
//! was refused on 6.18 (SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT2, CLOSE_WAIT, TIME_WAIT,
//! LISTEN, UDP UNCONN and ESTAB all destroyed); `EOPNOTSUPP`/`EINVAL` are still classified
//! as "refused" for kernels or protocols without a `diag_destroy`.
//!
//! Not handled: a socket bound to a device (`SO_BINDTODEVICE`, VRF, a v6 link-local
//! peer) is looked up with its interface index, which [`SocketRecord`] does not carry;
//! such a socket answers `ENOENT` and the caller's re-dump counts it as remaining.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};

use super::CollectError;
use crate::model::{Family, Protocol, SocketRecord};

/// `SOCK_DESTROY` (linux/sock_diag.h).
pub const SOCK_DESTROY: u16 = 21;
/// Bytes of one destroy request: `nlmsghdr` (16) + `inet_diag_req_v2` (56).
pub const REQUEST_LEN: usize = 72;
/// CAP_NET_ADMIN's bit in the capability sets.
pub const CAP_NET_ADMIN: u32 = 12;

/// Requests in flight before their acks are read. Each ack is about 1 KiB of receive
/// buffer (skb truesize): 64 of them stay far below the 1 MiB asked for, so the kernel
/// never has to drop an ack (which would hide a result).
const BATCH: usize = 64;
const RCVBUF: libc::c_int = 1024 * 1024;
const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// The exact `inet_diag_sockid` of one socket plus what the request needs besides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockId {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The socket's own family (the request goes to that family's table).
    pub family: Family,
    /// `struct inet_diag_sockid` as the kernel wants it (ports and addresses in network
    /// order, interface and cookie in host order).
    raw: [u8; 48],
}

impl SockId {
    /// The sockid of a dumped socket. `None` without a cookie (a `/proc` row: it could hit
    /// a replacement socket or the listener, see the module doc) or for UNIX (not inet).
    pub fn of(protocol: Protocol, s: &SocketRecord) -> Option<SockId> {
        let cookie = s.cookie?;
        if protocol == Protocol::Unix {
            return None;
        }
        let mut raw = [0u8; 48];
        raw[0..2].copy_from_slice(&s.local.port.to_be_bytes());
        raw[2..4].copy_from_slice(&s.remote.port.to_be_bytes());
        raw[4..20].copy_from_slice(&addr_bytes(s.family, s.local.ip));
        raw[20..36].copy_from_slice(&addr_bytes(s.family, s.remote.ip));
        // idiag_if stays 0: not in the record (see the module doc).
        raw[40..44].copy_from_slice(&((cookie & 0xFFFF_FFFF) as u32).to_ne_bytes());
        raw[44..48].copy_from_slice(&((cookie >> 32) as u32).to_ne_bytes());
        Some(SockId {
            protocol,
            family: s.family,
            raw,
        })
    }

    /// The cookie this sockid names.
    pub fn cookie(&self) -> u64 {
        let word = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&self.raw[at..at + 4]);
            u64::from(u32::from_ne_bytes(b))
        };
        word(40) | (word(44) << 32)
    }
}

/// The address as the kernel stores it for this family: endpoints hold v4-mapped v6
/// addresses normalised to v4, so a v6 socket's v4 address is mapped back.
fn addr_bytes(family: Family, ip: IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match (family, ip) {
        (Family::V4, IpAddr::V4(v4)) => out[..4].copy_from_slice(&v4.octets()),
        (Family::V6, IpAddr::V4(v4)) => out = v4.to_ipv6_mapped().octets(),
        (_, IpAddr::V6(v6)) => out = v6.octets(),
    }
    out
}

/// The destroy request for `id` with sequence number `seq`, asking for an ack.
pub fn destroy_request(seq: u32, id: &SockId) -> [u8; REQUEST_LEN] {
    let mut b = [0u8; REQUEST_LEN];
    b[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&SOCK_DESTROY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    b[6..8].copy_from_slice(&flags.to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    // nlmsg_pid 0 (12..16). inet_diag_req_v2: family, protocol, ext, pad, states.
    b[16] = match id.family {
        Family::V4 => libc::AF_INET as u8,
        Family::V6 => libc::AF_INET6 as u8,
    };
    b[17] = match id.protocol {
        Protocol::Udp => libc::IPPROTO_UDP as u8,
        _ => libc::IPPROTO_TCP as u8,
    };
    b[20..24].copy_from_slice(&u32::MAX.to_ne_bytes());
    b[24..72].copy_from_slice(&id.raw);
    b
}

/// What the kernel answered for one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Destroyed (ack 0).
    Killed,
    /// No socket with this sockid and cookie any more: closed, or replaced by another
    /// socket on the same addresses (`ENOENT`, also `ESTALE` on kernels that return it).
    Gone,
    /// The kernel will not destroy a socket in this state or of this kind
    /// (`EOPNOTSUPP`, `EINVAL`).
    Refused(i32),
    /// CAP_NET_ADMIN missing, or a security module said no (`EPERM`, `EACCES`).
    Denied,
    /// Any other errno (also when no ack came back).
    Failed(i32),
}

impl Outcome {
    /// Classifies an ack's error code (0 or a positive errno).
    pub fn from_errno(errno: i32) -> Outcome {
        match errno {
            0 => Outcome::Killed,
            libc::ENOENT | libc::ESTALE => Outcome::Gone,
            libc::EOPNOTSUPP | libc::EINVAL => Outcome::Refused(errno),
            libc::EPERM | libc::EACCES => Outcome::Denied,
            e => Outcome::Failed(e),
        }
    }
}

/// Reads every NLMSG_ERROR (ack) in one datagram: `(sequence number, positive errno)`.
/// Other message types are skipped; a message cut short ends the walk.
pub fn parse_acks(datagram: &[u8]) -> Vec<(u32, i32)> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= 16 {
        let u32_at = |b: &[u8], at: usize| -> Option<u32> {
            Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
        };
        let (Some(len), Some(seq)) = (u32_at(rest, 0), u32_at(rest, 8)) else {
            break;
        };
        let len = len as usize;
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        if len < 16 || len > rest.len() {
            break;
        }
        // The error code must lie inside this message, not in the next one.
        if kind == libc::NLMSG_ERROR as u16 && len >= 20 {
            if let Some(code) = u32_at(rest, 16) {
                out.push((seq, (code as i32).saturating_neg()));
            }
        }
        rest = rest.get((len + 3) & !3..).unwrap_or_default();
    }
    out
}

/// Whether `CapEff:` in a `/proc/PID/status` text holds capability `cap`. `None` when the
/// line is missing or not hex.
pub fn cap_eff_has(status: &str, cap: u32) -> Option<bool> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let bits = u64::from_str_radix(hex, 16).ok()?;
    Some(cap < 64 && bits & (1u64 << cap) != 0)
}

/// Whether this process has CAP_NET_ADMIN in its effective set (as
/// `/proc/self/status` says; `None` when it cannot be read).
pub fn has_net_admin() -> Option<bool> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    cap_eff_has(&text, CAP_NET_ADMIN)
}

/// A NETLINK_SOCK_DIAG socket for destroy requests, in the calling thread's network
/// namespace (the one the sockets were dumped in).
pub struct Destroyer {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Destroyer {
    /// Opens and binds the socket.
    pub fn open() -> Result<Destroyer, CollectError> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)
            .map_err(|e| CollectError::io("opening NETLINK_SOCK_DIAG socket", e))?;
        socket
            .bind_auto()
            .map_err(|e| CollectError::io("binding NETLINK_SOCK_DIAG socket", e))?;
        let _ = socket.set_rx_buf_sz(RCVBUF);
        crate::collect::netlink::transport::set_recv_timeout(&socket, RECV_TIMEOUT)
            .map_err(|e| CollectError::io("setting SO_RCVTIMEO on netlink socket", e))?;
        Ok(Destroyer {
            socket,
            seq: 0,
            buf: vec![0u8; 64 * 1024],
        })
    }

    /// Destroys each socket in turn, `BATCH` requests in flight; one outcome per id,
    /// in order. When the very first answer is `EPERM` and nothing in its batch was
    /// destroyed, the rest are not sent (they would be refused the same way) and read as
    /// [`Outcome::Denied`]: the caller reports "nothing done", not a half-done run.
    pub fn destroy_all(&mut self, ids: &[SockId]) -> Result<Vec<Outcome>, CollectError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let first = self.seq.wrapping_add(1);
            for id in chunk {
                self.seq = self.seq.wrapping_add(1);
                let req = destroy_request(self.seq, id);
                self.socket
                    .send_to(&req, &SocketAddr::new(0, 0), 0)
                    .map_err(|e| CollectError::io("sending SOCK_DESTROY", e))?;
            }
            let mut answers = vec![None; chunk.len()];
            let mut pending = chunk.len();
            while pending > 0 {
                let n = match self.socket.recv(&mut &mut self.buf[..], 0) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // No ack within the timeout: the rest of the batch is unknown.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(CollectError::io("reading SOCK_DESTROY acks", e)),
                };
                let got = self.buf.get(..n).unwrap_or_default();
                for (seq, errno) in parse_acks(got) {
                    let idx = seq.wrapping_sub(first) as usize;
                    if let Some(slot) = answers.get_mut(idx).filter(|s| s.is_none()) {
                        *slot = Some(Outcome::from_errno(errno));
                        pending -= 1;
                    }
                }
            }
            let denied_first = out.is_empty() && answers.first() == Some(&Some(Outcome::Denied));
            out.extend(
                answers
                    .into_iter()
                    .map(|a| a.unwrap_or(Outcome::Failed(libc::ETIMEDOUT))),
            );
            if denied_first && out.iter().all(|o| *o != Outcome::Killed) {
                out.resize(ids.len(), Outcome::Denied);
                return Ok(out);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Owner, TcpState};

    fn rec(local: &str, remote: &str, cookie: u64) -> SocketRecord {
        let mut s = SocketRecord::new(
            TcpState::CloseWait,
            local.parse().unwrap(),
            remote.parse().unwrap(),
            Owner::Unresolved,
        );
        s.cookie = Some(cookie);
        s
    }

    #[test]
    fn request_layout_is_inet_diag_req_v2() {
        let s = rec("127.0.0.1:8080", "127.0.0.2:40000", 0x1_0000_0002);
        let id = SockId::of(Protocol::Tcp, &s).unwrap();
        assert_eq!(id.cookie(), 0x1_0000_0002);
        let b = destroy_request(7, &id);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), 72);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 21);
        assert_eq!(u16::from_ne_bytes([b[6], b[7]]), 0x5);
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 7);
        assert_eq!((b[16], b[17]), (2, 6));
        assert_eq!(&b[24..26], &8080u16.to_be_bytes());
        assert_eq!(&b[26..28], &40000u16.to_be_bytes());
        assert_eq!(&b[28..32], &[127, 0, 0, 1]);
        assert_eq!(&b[44..48], &[127, 0, 0, 2]);
        assert_eq!(u32::from_ne_bytes(b[64..68].try_into().unwrap()), 2);
        assert_eq!(u32::from_ne_bytes(b[68..72].try_into().unwrap()), 1);
    }

    #[test]
    fn v6_socket_with_a_v4_peer_is_mapped_back() {
        let mut s = rec("127.0.0.1:80", "127.0.0.1:5000", 9);
        s.family = Family::V6;
        let b = destroy_request(1, &SockId::of(Protocol::Udp, &s).unwrap());
        assert_eq!((b[16], b[17]), (10, 17));
        assert_eq!(
            &b[28..44],
            &"::ffff:127.0.0.1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
    }

    #[test]
    fn no_cookie_no_sockid() {
        let mut s = rec("127.0.0.1:80", "127.0.0.1:5000", 9);
        s.cookie = None;
        assert!(SockId::of(Protocol::Tcp, &s).is_none());
        s.cookie = Some(1);
        assert!(SockId::of(Protocol::Unix, &s).is_none());
    }

    #[test]
    fn acks_and_outcomes() {
        let mut d = Vec::new();
        for (seq, code) in [(5u32, 0i32), (6, -libc::ENOENT), (7, -libc::EPERM)] {
            d.extend_from_slice(&36u32.to_ne_bytes());
            d.extend_from_slice(&2u16.to_ne_bytes());
            d.extend_from_slice(&0u16.to_ne_bytes());
            d.extend_from_slice(&seq.to_ne_bytes());
            d.extend_from_slice(&0u32.to_ne_bytes());
            d.extend_from_slice(&code.to_ne_bytes());
            d.extend_from_slice(&[0u8; 16]);
        }
        d.extend_from_slice(&[1, 2, 3]);
        let acks = parse_acks(&d);
        assert_eq!(acks, vec![(5, 0), (6, libc::ENOENT), (7, libc::EPERM)]);
        let outcomes: Vec<Outcome> = acks.iter().map(|a| Outcome::from_errno(a.1)).collect();
        assert_eq!(outcomes, [Outcome::Killed, Outcome::Gone, Outcome::Denied]);
        assert_eq!(
            Outcome::from_errno(libc::EOPNOTSUPP),
            Outcome::Refused(libc::EOPNOTSUPP)
        );
        assert!(parse_acks(&[0xff; 15]).is_empty());
        let mut short = d.clone();
        short[0..4].copy_from_slice(&9999u32.to_ne_bytes());
        assert!(parse_acks(&short).is_empty());
    }

    /// The safety the cookie buys, on the real kernel: a connection that closed after it
    /// was listed is "gone", and the listener its 4-tuple now falls through to survives
    /// (without the cookie this kernel destroyed the listener). Needs CAP_NET_ADMIN.
    #[test]
    fn live_a_closed_connection_is_gone_and_its_listener_survives() {
        use crate::collect::netlink::NetlinkSource;
        use crate::collect::{DumpRequest, SocketSource};
        use std::net::{TcpListener, TcpStream};
        if has_net_admin() != Some(true) {
            eprintln!("SKIPPED: live destroy test needs CAP_NET_ADMIN");
            assert!(std::env::var_os("CI").is_none(), "CI runs as root");
            return;
        }
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        let dump = |st: TcpState| {
            let mut src = NetlinkSource::open().unwrap();
            let req = DumpRequest {
                state_mask: st.kernel_mask(),
                ipv6: false,
                ..DumpRequest::default()
            };
            src.dump(&req)
                .unwrap()
                .sockets
                .into_iter()
                .filter(|s| s.local.port == port)
                .collect::<Vec<_>>()
        };
        let estab = dump(TcpState::Established);
        assert_eq!(estab.len(), 1);
        let old = SockId::of(Protocol::Tcp, &estab[0]).unwrap();
        // The client closes first: its side keeps the TIME_WAIT (which inherits the cookie
        // and would still be "this socket"); the server side goes away entirely.
        drop(c);
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(server);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut d = Destroyer::open().unwrap();
        assert_eq!(d.destroy_all(&[old]).unwrap(), [Outcome::Gone]);
        assert_eq!(dump(TcpState::Listen).len(), 1, "the listener must survive");
        // And a live one is killed, once.
        let c2 = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (_s2, _) = l.accept().unwrap();
        let live = dump(TcpState::Established);
        let id = SockId::of(Protocol::Tcp, &live[0]).unwrap();
        assert_eq!(
            d.destroy_all(&[id, id]).unwrap(),
            [Outcome::Killed, Outcome::Gone]
        );
        let mut buf = [0u8; 1];
        let err = std::io::Read::read(&mut &c2, &mut buf);
        assert!(
            matches!(err, Ok(0)) || err.is_err(),
            "the peer got the RST: {err:?}"
        );
    }

    #[test]
    fn capability_parser() {
        let status = "Name:\tx\nCapEff:\t0000000000001000\n";
        assert_eq!(cap_eff_has(status, CAP_NET_ADMIN), Some(true));
        assert_eq!(cap_eff_has("CapEff:\t000001ffffffefff\n", 12), Some(false));
        assert_eq!(cap_eff_has("CapEff:\tzz\n", 12), None);
        assert_eq!(cap_eff_has("Name: x\n", 12), None);
    }
}
