//! sock_diag (NETLINK_SOCK_DIAG) TCP dump: one persistent netlink socket, one request per
//! address family, every datagram checked before the pure decoder in [`decode`] turns it
//! into [`SocketRecord`](crate::model::SocketRecord)s.
//!
//! Owns the netlink socket and the receive loop, nothing else: it does not resolve
//! owners (records leave with `Owner::Unresolved`), pick a fallback, or enter
//! namespaces (the socket lives in the namespace of the thread that opened it).
//!
//! Safety nets, each because a measured or plausible failure would otherwise be silent:
//! every datagram is sized with `MSG_PEEK | MSG_TRUNC` before it is read, so nothing is
//! ever cut (a reader with a small buffer lost 74% of sockets); each receive times out
//! (`SO_RCVTIMEO`) and the dump has an overall deadline and datagram budget; a dump
//! without NLMSG_DONE is an error. Stale datagrams left by an abandoned dump are drained
//! before each request, and any that slip through are skipped by sequence number.

pub mod decode;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod tests;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::{SockDiagMessage, AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};

use self::decode::{DecodeStats, DumpDecoder, Progress};
use super::{CollectError, DumpRequest, SocketDump, SocketSource};
use crate::model::{Family, SourceKind, KERNEL_NEW_SYN_RECV};

/// Initial user-space receive buffer. The kernel sizes dump datagrams from the reader's
/// buffer, capped near 32 KiB; anything larger is still read whole thanks to the peek.
const RECV_BUF: usize = 64 * 1024;
/// Kernel-side socket receive buffer requested with SO_RCVBUF.
/// A `c_int` because netlink-sys passes the option value's own size to setsockopt.
const SO_RCVBUF_BYTES: libc::c_int = 1024 * 1024;
/// Longest wait for any single datagram.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a whole dump (all families) may take; 100k sockets take ~0.15 s.
const DUMP_DEADLINE: Duration = Duration::from_secs(30);
/// Datagrams per request before we give up; ~250 sockets each, so ~250M sockets.
const MAX_DATAGRAMS: u32 = 1_000_000;
/// Stale datagrams drained before a request at most.
const MAX_DRAIN: u32 = 4096;

/// A persistent NETLINK_SOCK_DIAG socket that dumps TCP sockets.
pub struct NetlinkSource {
    socket: Socket,
    buf: Vec<u8>,
    decoder: DumpDecoder,
    seq: u32,
    last_len: usize,
    last_stats: DumpStats,
}

/// What the last dump saw besides sockets, for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpStats {
    /// Decoder counters (messages, foreign sequence numbers, unknown states).
    pub decode: DecodeStats,
    /// Datagrams received for the dump's requests.
    pub datagrams: u64,
    /// Stale datagrams discarded before the requests were sent.
    pub drained: u64,
}

impl NetlinkSource {
    /// Opens the netlink socket in the calling thread's network namespace.
    pub fn open() -> Result<NetlinkSource, CollectError> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)
            .map_err(|e| CollectError::io("opening NETLINK_SOCK_DIAG socket", e))?;
        socket
            .bind_auto()
            .map_err(|e| CollectError::io("binding NETLINK_SOCK_DIAG socket", e))?;
        // A bigger kernel buffer is an optimisation; the dump is paced by our reads.
        let _ = socket.set_rx_buf_sz(SO_RCVBUF_BYTES);
        set_recv_timeout(&socket, RECV_TIMEOUT)
            .map_err(|e| CollectError::io("setting SO_RCVTIMEO on netlink socket", e))?;
        Ok(NetlinkSource {
            socket,
            buf: Vec::with_capacity(RECV_BUF),
            decoder: DumpDecoder::default(),
            seq: 0,
            last_len: 0,
            last_stats: DumpStats::default(),
        })
    }

    /// Counters from the most recent dump.
    pub fn last_stats(&self) -> DumpStats {
        self.last_stats
    }

    /// Sends one request for `family` and appends every datagram of the answer, raw, to
    /// `out`. Returns the request's sequence number. The concatenation is exactly what
    /// [`decode::decode_dump`] takes; this is how the fixtures were recorded.
    pub fn dump_raw(
        &mut self,
        family: Family,
        req: &DumpRequest,
        out: &mut Vec<u8>,
    ) -> Result<u32, CollectError> {
        let deadline = Instant::now() + DUMP_DEADLINE;
        self.last_stats = DumpStats::default();
        self.decoder.reset(req.state_mask, 0);
        let seq = self.request(family, req)?;
        self.decoder.begin(seq);
        self.receive_until_done(deadline, |datagram| out.extend_from_slice(datagram))?;
        Ok(seq)
    }

    /// Drains stale datagrams, then sends the dump request for `family`.
    fn request(&mut self, family: Family, req: &DumpRequest) -> Result<u32, CollectError> {
        self.last_stats.drained += self.drain();
        self.seq = self.seq.wrapping_add(1);
        let msg = request_message(self.seq, family, req);
        let mut bytes = [0u8; 128];
        let len = msg.buffer_len();
        let out = bytes
            .get_mut(..len)
            .ok_or_else(|| CollectError::Protocol("request larger than expected".into()))?;
        msg.serialize(out);
        let kernel = SocketAddr::new(0, 0);
        self.socket
            .send_to(out, &kernel, 0)
            .map_err(|e| CollectError::io("sending sock_diag request", e))?;
        Ok(self.seq)
    }

    /// Reads datagrams into the decoder until the current request's DONE.
    fn receive_until_done(
        &mut self,
        deadline: Instant,
        mut tap: impl FnMut(&[u8]),
    ) -> Result<(), CollectError> {
        for _ in 0..MAX_DATAGRAMS {
            if Instant::now() > deadline {
                return Err(CollectError::Protocol(format!(
                    "dump did not finish within {DUMP_DEADLINE:?}"
                )));
            }
            self.receive_one()?;
            self.last_stats.datagrams += 1;
            tap(&self.buf);
            if self.decoder.feed(&self.buf)? == Progress::Done {
                return Ok(());
            }
        }
        Err(CollectError::Protocol(format!(
            "no NLMSG_DONE after {MAX_DATAGRAMS} datagrams"
        )))
    }

    /// Receives exactly one whole datagram into `self.buf`.
    fn receive_one(&mut self) -> Result<(), CollectError> {
        let socket = &self.socket;
        let size = retry_eintr(|| {
            let mut empty: &mut [u8] = &mut [];
            socket.recv(&mut empty, libc::MSG_PEEK | libc::MSG_TRUNC)
        })?;
        self.buf.clear();
        self.buf.reserve(size.max(RECV_BUF));
        let buf = &mut self.buf;
        let got = retry_eintr(|| socket.recv(buf, libc::MSG_TRUNC))?;
        if got > self.buf.len() || got != size {
            return Err(CollectError::Protocol(format!(
                "datagram truncated: {got} bytes sent, {} read",
                self.buf.len()
            )));
        }
        Ok(())
    }

    /// Discards datagrams already queued (left by an abandoned dump); returns how many.
    fn drain(&mut self) -> u64 {
        let mut drained = 0;
        for _ in 0..MAX_DRAIN {
            let mut empty: &mut [u8] = &mut [];
            match self
                .socket
                .recv(&mut empty, libc::MSG_DONTWAIT | libc::MSG_TRUNC)
            {
                Ok(_) => drained += 1,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        drained
    }
}

impl SocketSource for NetlinkSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Netlink
    }

    fn dump(&mut self, req: &DumpRequest) -> Result<SocketDump, CollectError> {
        if !req.ipv4 && !req.ipv6 {
            return Ok(SocketDump::default());
        }
        let deadline = Instant::now() + DUMP_DEADLINE;
        self.last_stats = DumpStats::default();
        self.decoder
            .reset(req.state_mask, self.last_len + self.last_len / 8);
        let families = [(req.ipv4, Family::V4), (req.ipv6, Family::V6)];
        for (_, family) in families.iter().filter(|(on, _)| *on) {
            let seq = self.request(*family, req)?;
            self.decoder.begin(seq);
            self.receive_until_done(deadline, |_| {})?;
        }
        self.last_stats.decode = self.decoder.stats();
        let dump = self.decoder.finish()?;
        self.last_len = dump.sockets.len();
        Ok(dump)
    }
}

/// The dump request for one family. SYN_RECV's mask bit also asks for NEW_SYN_RECV (12)
/// so request sockets are never dropped, whatever the kernel version does on its own.
fn request_message(seq: u32, family: Family, req: &DumpRequest) -> NetlinkMessage<SockDiagMessage> {
    let mut states = req.state_mask;
    if states & (1 << 3) != 0 {
        states |= 1 << KERNEL_NEW_SYN_RECV;
    }
    let (af, socket_id) = match family {
        Family::V4 => (AF_INET, SocketId::new_v4()),
        Family::V6 => (AF_INET6, SocketId::new_v6()),
    };
    let extensions = if req.tcp_info {
        ExtensionFlags::INFO
    } else {
        ExtensionFlags::empty()
    };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family: af,
            protocol: IPPROTO_TCP,
            extensions,
            states: StateFlags::from_bits_retain(states),
            socket_id,
        })
        .into(),
    );
    msg.finalize();
    msg
}

/// Runs a receive, retrying a bounded number of times when a signal interrupts it.
fn retry_eintr(mut recv: impl FnMut() -> std::io::Result<usize>) -> Result<usize, CollectError> {
    for _ in 0..8 {
        match recv() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other.map_err(recv_error),
        }
    }
    Err(CollectError::Protocol("recv kept being interrupted".into()))
}

fn recv_error(e: std::io::Error) -> CollectError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => CollectError::Protocol(
            format!("no answer from sock_diag within {RECV_TIMEOUT:?} (dump has no DONE)"),
        ),
        _ if e.raw_os_error() == Some(libc::ENOBUFS) => {
            CollectError::Protocol("netlink receive buffer overrun (ENOBUFS)".into())
        }
        _ => CollectError::io("receiving sock_diag answer", e),
    }
}

fn set_recv_timeout(socket: &Socket, timeout: Duration) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::from(0u8),
    };
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::timeval>())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `tv` is a valid, live timeval and `len` is its exact size; the fd is owned
    // by `socket` and open for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
