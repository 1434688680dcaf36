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

use netlink_packet_core::NlasIterator;
use netlink_packet_sock_diag::{INET_DIAG_INFO, INET_DIAG_SKMEMINFO};

use super::framing::{read_be16, read_cookie, read_u32, read_u8, read_v4, read_v6};
pub use super::framing::{DiagDecoder, Framing};

use crate::collect::{CollectError, DumpRequest, SocketDump};
use crate::model::{
    Endpoint, Family, Owner, SampleQuality, SkMem, SocketRecord, TcpInfoLite, TcpState, TimerKind,
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

// enum sk_meminfo indices (linux/sock_diag.h).
const SKMEM_RMEM_ALLOC: usize = 0;
const SKMEM_RCVBUF: usize = 1;
const SKMEM_WMEM_ALLOC: usize = 2;
const SKMEM_SNDBUF: usize = 3;
const SKMEM_DROPS: usize = 8;

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

/// Incremental decoder for one inet (TCP or UDP) dump: one or more requests (one per
/// address family), each answered by any number of datagrams and closed by NLMSG_DONE
/// (framing and sequence policy: [`Framing`]).
///
/// The decoder keeps its cookie set between dumps so the live source does not
/// reallocate it each poll.
#[derive(Debug, Default)]
pub struct DumpDecoder {
    sockets: Vec<SocketRecord>,
    seen: IdSet<u64>,
    state_mask: u32,
    frame: Framing,
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
        self.seen.clear();
        self.state_mask = state_mask;
        self.frame.reset();
    }

    /// Starts decoding the answer to the request sent with sequence number `seq`.
    /// Sockets and cookies from earlier requests of the same dump are kept, so a socket
    /// seen under both families is still reported once.
    pub fn begin(&mut self, seq: u32) {
        self.frame.begin(seq);
    }

    /// Whether the current request's DONE has been seen.
    pub fn is_done(&self) -> bool {
        self.frame.is_done()
    }

    /// Counters gathered so far.
    pub fn stats(&self) -> DecodeStats {
        self.frame.stats()
    }

    /// Decodes one received datagram, which may hold many netlink messages (see
    /// [`Framing::feed`] for what is an error and what is counted).
    pub fn feed(&mut self, datagram: &[u8]) -> Result<Progress, CollectError> {
        let (sockets, seen, mask) = (&mut self.sockets, &mut self.seen, self.state_mask);
        self.frame.feed(datagram, |payload, quality, stats| {
            inet_socket(payload, mask, quality, stats, sockets, seen);
        })
    }

    /// Ends the dump and hands over its sockets. Fails if the current request's DONE was
    /// never seen: a dump without DONE is incomplete, never a short success.
    pub fn finish(&mut self) -> Result<SocketDump, CollectError> {
        let quality = self.frame.finish()?;
        Ok(SocketDump {
            sockets: std::mem::take(&mut self.sockets),
            quality,
        })
    }
}

impl DiagDecoder for DumpDecoder {
    type Dump = SocketDump;
    fn begin(&mut self, seq: u32) {
        DumpDecoder::begin(self, seq);
    }
    fn feed(&mut self, datagram: &[u8]) -> Result<Progress, CollectError> {
        DumpDecoder::feed(self, datagram)
    }
    fn finish(&mut self) -> Result<SocketDump, CollectError> {
        DumpDecoder::finish(self)
    }
    fn stats(&self) -> DecodeStats {
        DumpDecoder::stats(self)
    }
}

/// Keeps one decoded inet socket: state re-check, cookie dedup, error counts.
fn inet_socket(
    payload: &[u8],
    state_mask: u32,
    quality: &mut SampleQuality,
    stats: &mut DecodeStats,
    sockets: &mut Vec<SocketRecord>,
    seen: &mut IdSet<u64>,
) {
    match parse_inet_diag(payload) {
        Parsed::Socket { record, nla_error } => {
            if nla_error {
                quality.parse_errors += 1;
            }
            if !wants(state_mask, record.state) {
                stats.filtered += 1;
            } else if record.cookie.is_some_and(|cookie| !seen.insert(cookie)) {
                quality.duplicates += 1;
            } else {
                sockets.push(record);
            }
        }
        Parsed::UnknownState(code) => {
            let req = DumpRequest {
                state_mask,
                ..DumpRequest::default()
            };
            if req.wants_state(code) {
                stats.unknown_state += 1;
            } else {
                stats.filtered += 1;
            }
        }
        Parsed::Malformed => quality.parse_errors += 1,
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
            Ok(nla) if nla.kind() == INET_DIAG_SKMEMINFO => match parse_skmem(nla.value()) {
                Some(mem) => record.skmem = Some(mem),
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

/// Reads `INET_DIAG_SKMEMINFO`: the kernel's `u32 [SK_MEMINFO_VARS]` array (rmem_alloc 0,
/// rcvbuf 1, wmem_alloc 2, sndbuf 3, fwd_alloc 4, wmem_queued 5, optmem 6, backlog 7,
/// drops 8; `linux/sock_diag.h`, host order). `None` when it is too short to reach the
/// drop counter.
pub fn parse_skmem(value: &[u8]) -> Option<SkMem> {
    Some(SkMem {
        rmem_alloc: read_u32(value, SKMEM_RMEM_ALLOC * 4)?,
        rcvbuf: Some(read_u32(value, SKMEM_RCVBUF * 4)?),
        wmem_alloc: read_u32(value, SKMEM_WMEM_ALLOC * 4)?,
        sndbuf: Some(read_u32(value, SKMEM_SNDBUF * 4)?),
        drops: read_u32(value, SKMEM_DROPS * 4)?,
    })
}

/// Whether a decoded state passes a kernel state mask (SYN_RECV also passes on bit 12).
fn wants(mask: u32, state: TcpState) -> bool {
    mask & state.kernel_mask() != 0
}
