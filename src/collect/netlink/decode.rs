//! The pure sock_diag response decoder: bytes in, [`SocketRecord`]s out. No I/O happens
//! here, so fixtures, property tests and the fuzzer drive exactly the code the live
//! source runs.
//!
//! The fixed `struct inet_diag_msg` header is read by offset rather than through
//! `netlink-packet-sock-diag`'s `InetResponse`: the crate parses every attribute into a
//! `Vec` (an allocation per socket) and rejects the whole message when one attribute is
//! malformed, which would silently drop a socket. Attributes are walked with
//! `netlink-packet-core`'s zero-copy [`NlasIterator`].

use crate::fasthash::IdSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{
    NlasIterator, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_DUMP_INTR,
};
use netlink_packet_sock_diag::{INET_DIAG_INFO, SOCK_DIAG_BY_FAMILY};

use crate::collect::{CollectError, DumpRequest, SocketDump};
use crate::model::{
    Endpoint, Family, Owner, SampleQuality, SocketRecord, TcpInfoLite, TcpState, TimerKind,
};

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDR_LEN: usize = 16;
/// Size of the fixed `struct inet_diag_msg` that starts every sock_diag inet answer.
pub const INET_DIAG_MSG_LEN: usize = 72;
/// Bytes of `struct tcp_info` needed to reach `tcpi_total_retrans` (offset 100, 4 bytes).
pub const TCP_INFO_MIN_LEN: usize = 104;

// struct inet_diag_msg (linux/inet_diag.h), all fields host order except the
// inet_diag_sockid ports and addresses, which are network order.
const OFF_FAMILY: usize = 0;
const OFF_STATE: usize = 1;
const OFF_TIMER: usize = 2;
const OFF_RETRANS: usize = 3;
const OFF_SPORT: usize = 4;
const OFF_DPORT: usize = 6;
const OFF_SRC: usize = 8;
const OFF_DST: usize = 24;
const OFF_COOKIE: usize = 44;
const OFF_EXPIRES: usize = 52;
const OFF_RQUEUE: usize = 56;
const OFF_WQUEUE: usize = 60;
const OFF_UID: usize = 64;
const OFF_INODE: usize = 68;

// struct tcp_info (include/uapi/linux/tcp.h): eight u8 fields, then u32s from offset 8:
// rto, ato, snd_mss, rcv_mss, unacked, sacked, lost, retrans, fackets (8..44),
// last_data_sent 44, last_ack_sent 48, last_data_recv 52, last_ack_recv 56, pmtu 60,
// rcv_ssthresh 64, rtt 68, rttvar 72, snd_ssthresh 76, snd_cwnd 80, advmss 84,
// reordering 88, rcv_rtt 92, rcv_space 96, total_retrans 100. These offsets have been
// stable since Linux 2.6; newer kernels only append fields.
const TI_LAST_DATA_RECV: usize = 52;
const TI_LAST_ACK_RECV: usize = 56;
const TI_RTT: usize = 68;
const TI_TOTAL_RETRANS: usize = 100;

const AF_INET: u8 = libc::AF_INET as u8;
const AF_INET6: u8 = libc::AF_INET6 as u8;

/// Counters about a dump that are not socket data and not parse errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Netlink messages looked at, of any type.
    pub messages: u64,
    /// Messages whose sequence number belongs to another request. The first one ends
    /// the decode with an error (see [`DumpDecoder`]), so this is 0 or 1.
    pub foreign_seq: u64,
    /// Messages flagged NLM_F_DUMP_INTR (the kernel's table changed under the dump).
    pub dump_intr: u64,
    /// Sockets skipped because their state is not one sockscope models (for instance
    /// TCP_BOUND_INACTIVE, 13, which only a mask wider than 0xFFF asks for).
    pub unknown_state: u64,
    /// Sockets skipped by the defensive re-check of the request's state mask.
    pub filtered: u64,
}

/// How far one [`DumpDecoder::feed`] call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The request's DONE has not been seen yet; more datagrams are due.
    More,
    /// The request's DONE arrived with a zero error code.
    Done,
}

/// Incremental decoder for one dump: one or more requests (one per address family),
/// each answered by any number of datagrams and closed by NLMSG_DONE.
///
/// Sequence policy: a message whose `nlmsg_seq` differs from the request being decoded
/// is an error. The live source drains the socket before each request and the kernel runs
/// one dump per socket at a time, so such a message is either corrupt or stale output that
/// may stand where one of ours should be; skipping it could silently lose sockets, so the
/// caller restarts the dump instead.
///
/// The decoder keeps its cookie set between dumps so the live source does not
/// reallocate it each poll.
#[derive(Debug, Default)]
pub struct DumpDecoder {
    sockets: Vec<SocketRecord>,
    quality: SampleQuality,
    stats: DecodeStats,
    seen: IdSet<u64>,
    state_mask: u32,
    seq: u32,
    done: bool,
}

impl DumpDecoder {
    /// A decoder for a dump filtered by `state_mask` (re-applied on decode).
    pub fn new(state_mask: u32) -> DumpDecoder {
        DumpDecoder {
            state_mask,
            ..DumpDecoder::default()
        }
    }

    /// Clears everything from a previous dump, keeping allocations, and sets the mask.
    pub fn reset(&mut self, state_mask: u32, capacity_hint: usize) {
        self.sockets = Vec::with_capacity(capacity_hint);
        self.quality = SampleQuality::default();
        self.stats = DecodeStats::default();
        self.seen.clear();
        self.state_mask = state_mask;
        self.seq = 0;
        self.done = false;
    }

    /// Starts decoding the answer to the request sent with sequence number `seq`.
    /// Sockets and cookies from earlier requests of the same dump are kept, so a socket
    /// seen under both families is still reported once.
    pub fn begin(&mut self, seq: u32) {
        self.seq = seq;
        self.done = false;
    }

    /// Whether the current request's DONE has been seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Counters gathered so far.
    pub fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// Decodes one received datagram, which may hold many netlink messages.
    ///
    /// Framing damage (a message running past the datagram end, a length below the
    /// netlink header) and NLMSG_ERROR / NLMSG_OVERRUN / a failed DONE are errors: the
    /// rest of the dump cannot be trusted. A damaged socket message only costs that
    /// socket (short header) or its attributes (bad NLA); both count as parse errors.
    pub fn feed(&mut self, datagram: &[u8]) -> Result<Progress, CollectError> {
        let mut rest = datagram;
        while !rest.is_empty() {
            if self.done {
                // Anything after our DONE would be a kernel bug; ignore it rather than
                // fold it into the next request.
                break;
            }
            let (msg_type, flags, seq, payload, next) = split_message(rest)?;
            rest = next;
            self.stats.messages += 1;
            if seq != self.seq {
                self.stats.foreign_seq += 1;
                return Err(CollectError::Protocol(format!(
                    "message with sequence number {seq} in the answer to request {}",
                    self.seq
                )));
            }
            // Never seen for TCP dumps on this kernel, so nothing relies on it; when a
            // kernel does set it, saying so is better than staying quiet.
            if flags & NLM_F_DUMP_INTR != 0 {
                self.stats.dump_intr += 1;
                if self.quality.inconsistent.is_none() {
                    self.quality.inconsistent =
                        Some("kernel flagged the sock_diag dump as interrupted".into());
                }
            }
            match msg_type {
                SOCK_DIAG_BY_FAMILY => self.socket_message(payload),
                NLMSG_DONE => {
                    check_error_code(payload, "NLMSG_DONE")?;
                    self.done = true;
                }
                // Code 0 is an ACK, which a dump does not ask for; harmless.
                NLMSG_ERROR => check_error_code(payload, "NLMSG_ERROR")?,
                NLMSG_OVERRUN => {
                    return Err(CollectError::Protocol(
                        "kernel reported NLMSG_OVERRUN".into(),
                    ))
                }
                NLMSG_NOOP => {}
                _ => self.quality.parse_errors += 1,
            }
        }
        Ok(if self.done {
            Progress::Done
        } else {
            Progress::More
        })
    }

    /// Ends the dump and hands over its sockets. Fails if the current request's DONE was
    /// never seen: a dump without DONE is incomplete, never a short success.
    pub fn finish(&mut self) -> Result<SocketDump, CollectError> {
        if !self.done {
            return Err(CollectError::Protocol(
                "dump ended without NLMSG_DONE".into(),
            ));
        }
        Ok(SocketDump {
            sockets: std::mem::take(&mut self.sockets),
            quality: std::mem::take(&mut self.quality),
        })
    }

    fn socket_message(&mut self, payload: &[u8]) {
        match parse_inet_diag(payload) {
            Parsed::Socket { record, nla_error } => {
                if nla_error {
                    self.quality.parse_errors += 1;
                }
                if !wants(self.state_mask, record.state) {
                    self.stats.filtered += 1;
                } else if record
                    .cookie
                    .is_some_and(|cookie| !self.seen.insert(cookie))
                {
                    self.quality.duplicates += 1;
                } else {
                    self.sockets.push(record);
                }
            }
            Parsed::UnknownState(code) => {
                let req = DumpRequest {
                    state_mask: self.state_mask,
                    ..DumpRequest::default()
                };
                if req.wants_state(code) {
                    self.stats.unknown_state += 1;
                } else {
                    self.stats.filtered += 1;
                }
            }
            Parsed::Malformed => self.quality.parse_errors += 1,
        }
    }
}

/// Decodes the complete answer to one request (all its datagrams, concatenated) sent
/// with sequence number `seq`, keeping sockets whose state passes `state_mask`.
///
/// This is the pure entry point fixtures and the fuzzer use. It fails like the live
/// source does, including when DONE is missing.
pub fn decode_dump(bytes: &[u8], seq: u32, state_mask: u32) -> Result<SocketDump, CollectError> {
    let mut decoder = DumpDecoder::new(state_mask);
    decoder.begin(seq);
    decoder.feed(bytes)?;
    decoder.finish()
}

/// The outcome of parsing one SOCK_DIAG_BY_FAMILY payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A socket. `nla_error` is set when its attributes were malformed; the socket is
    /// still good (its fixed header parsed) but attributes after the damage are lost.
    Socket {
        /// The socket, `owner` unresolved.
        record: SocketRecord,
        /// Whether an attribute failed to parse.
        nla_error: bool,
    },
    /// A well-formed socket in a state sockscope does not model.
    UnknownState(u8),
    /// The fixed header is short or names an unknown address family.
    Malformed,
}

/// Parses one `struct inet_diag_msg` plus attributes (a SOCK_DIAG_BY_FAMILY payload).
pub fn parse_inet_diag(payload: &[u8]) -> Parsed {
    let Some(header) = payload.get(..INET_DIAG_MSG_LEN) else {
        return Parsed::Malformed;
    };
    let Some(state_code) = read_u8(header, OFF_STATE) else {
        return Parsed::Malformed;
    };
    let (family, local_ip, remote_ip) = match read_u8(header, OFF_FAMILY) {
        Some(AF_INET) => (
            Family::V4,
            read_v4(header, OFF_SRC),
            read_v4(header, OFF_DST),
        ),
        Some(AF_INET6) => (
            Family::V6,
            read_v6(header, OFF_SRC),
            read_v6(header, OFF_DST),
        ),
        _ => return Parsed::Malformed,
    };
    let (Some(local_ip), Some(remote_ip)) = (local_ip, remote_ip) else {
        return Parsed::Malformed;
    };
    let Some(state) = TcpState::from_kernel(state_code) else {
        return Parsed::UnknownState(state_code);
    };
    let fixed = (|| {
        Some(SocketRecord {
            family,
            state,
            local: Endpoint::new(local_ip, read_be16(header, OFF_SPORT)?),
            remote: Endpoint::new(remote_ip, read_be16(header, OFF_DPORT)?),
            inode: u64::from(read_u32(header, OFF_INODE)?),
            uid: read_u32(header, OFF_UID)?,
            recv_q: read_u32(header, OFF_RQUEUE)?,
            send_q: read_u32(header, OFF_WQUEUE)?,
            timer: TimerKind::from_kernel(read_u8(header, OFF_TIMER)?),
            expires_ms: read_u32(header, OFF_EXPIRES)?,
            retransmits: read_u8(header, OFF_RETRANS)?,
            cookie: Some(read_cookie(header, OFF_COOKIE)?),
            tcp_info: None,
            skmem: None,
            owner: Owner::Unresolved,
        })
    })();
    let Some(mut record) = fixed else {
        return Parsed::Malformed;
    };
    let mut nla_error = false;
    for nla in NlasIterator::new(payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default()) {
        match nla {
            Ok(nla) if nla.kind() == INET_DIAG_INFO => match parse_tcp_info(nla.value()) {
                Some(info) => record.tcp_info = Some(info),
                None => nla_error = true,
            },
            Ok(_) => {}
            Err(_) => {
                nla_error = true;
                break;
            }
        }
    }
    Parsed::Socket { record, nla_error }
}

/// Reads the four fields sockscope uses from a `struct tcp_info` by offset (see the
/// layout note at the top of this file). `None` when the attribute is too short.
pub fn parse_tcp_info(info: &[u8]) -> Option<TcpInfoLite> {
    Some(TcpInfoLite {
        last_data_recv_ms: read_u32(info, TI_LAST_DATA_RECV)?,
        last_ack_recv_ms: read_u32(info, TI_LAST_ACK_RECV)?,
        rtt_us: read_u32(info, TI_RTT)?,
        total_retrans: read_u32(info, TI_TOTAL_RETRANS)?,
    })
}

/// Whether a decoded state passes a kernel state mask (SYN_RECV also passes on bit 12).
fn wants(mask: u32, state: TcpState) -> bool {
    mask & state.kernel_mask() != 0
}

/// One netlink message split off a datagram: `(type, flags, seq, payload, rest)`.
type Split<'a> = (u16, u16, u32, &'a [u8], &'a [u8]);

/// Splits the first netlink message off `buf`.
fn split_message(buf: &[u8]) -> Result<Split<'_>, CollectError> {
    let truncated = || {
        CollectError::Protocol(format!(
            "truncated netlink message: {} bytes left in the datagram",
            buf.len()
        ))
    };
    let len = read_u32(buf, 0).ok_or_else(truncated)? as usize;
    let msg_type = read_u16(buf, 4).ok_or_else(truncated)?;
    let flags = read_u16(buf, 6).ok_or_else(truncated)?;
    let seq = read_u32(buf, 8).ok_or_else(truncated)?;
    if len < NLMSG_HDR_LEN {
        return Err(CollectError::Protocol(format!(
            "netlink message length {len} is shorter than its header"
        )));
    }
    let payload = buf.get(NLMSG_HDR_LEN..len).ok_or_else(truncated)?;
    // The last message of a datagram may omit its alignment padding.
    let next = buf.get(nlmsg_align(len)..).unwrap_or_default();
    Ok((msg_type, flags, seq, payload, next))
}

fn nlmsg_align(len: usize) -> usize {
    len.saturating_add(3) & !3
}

/// Reads the `int error` that opens NLMSG_DONE and NLMSG_ERROR payloads (negative errno,
/// 0 for success) and turns a failure into [`CollectError::Netlink`].
fn check_error_code(payload: &[u8], what: &str) -> Result<(), CollectError> {
    let code = read_i32(payload, 0)
        .ok_or_else(|| CollectError::Protocol(format!("{what} without its error code")))?;
    if code == 0 {
        return Ok(());
    }
    let errno = code.saturating_neg();
    let msg = std::io::Error::from_raw_os_error(errno).to_string();
    // The fallback matches on these variants (an LSM or a kernel without inet_diag
    // refuses the dump itself, not the socket open).
    Err(match errno {
        libc::EPERM | libc::EACCES => {
            CollectError::PermissionDenied(format!("sock_diag refused the dump ({what}): {msg}"))
        }
        libc::EPROTONOSUPPORT | libc::EAFNOSUPPORT | libc::ENOENT | libc::EOPNOTSUPP => {
            CollectError::Unsupported(format!("sock_diag refused the dump ({what}): {msg}"))
        }
        _ => CollectError::Netlink { errno, msg },
    })
}

fn read_u8(buf: &[u8], off: usize) -> Option<u8> {
    buf.get(off).copied()
}

fn read_array<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    buf.get(off..off.checked_add(N)?)?.try_into().ok()
}

fn read_u16(buf: &[u8], off: usize) -> Option<u16> {
    read_array(buf, off).map(u16::from_ne_bytes)
}

fn read_be16(buf: &[u8], off: usize) -> Option<u16> {
    read_array(buf, off).map(u16::from_be_bytes)
}

fn read_u32(buf: &[u8], off: usize) -> Option<u32> {
    read_array(buf, off).map(u32::from_ne_bytes)
}

fn read_i32(buf: &[u8], off: usize) -> Option<i32> {
    read_array(buf, off).map(i32::from_ne_bytes)
}

fn read_v4(buf: &[u8], off: usize) -> Option<IpAddr> {
    read_array::<4>(buf, off).map(|b| IpAddr::V4(Ipv4Addr::from(b)))
}

fn read_v6(buf: &[u8], off: usize) -> Option<IpAddr> {
    read_array::<16>(buf, off).map(|b| IpAddr::V6(Ipv6Addr::from(b)))
}

/// The kernel stores the 64-bit socket cookie as `__u32 idiag_cookie[2]`, low word first,
/// each word in host order (`sock_diag_save_cookie` in net/core/sock_diag.c). Reading the
/// words separately keeps the value right on big-endian hosts too, where the 8 bytes are
/// not a native u64.
fn read_cookie(buf: &[u8], off: usize) -> Option<u64> {
    let low = read_u32(buf, off)?;
    let high = read_u32(buf, off.checked_add(4)?)?;
    Some(u64::from(low) | (u64::from(high) << 32))
}
