//! The pure unix_diag decoder: the answer to an `AF_UNIX` SOCK_DIAG_BY_FAMILY dump (bytes
//! in) turned into [`UnixRecord`]s, and the request that asks for it. No I/O.
//!
//! The request is built with `netlink-packet-sock-diag`'s `UnixRequest`, but the answer is
//! read by offset, as the inet one is, for the same reasons (an allocation per attribute,
//! a whole socket rejected for one bad attribute) and for gaps in the crate: its `Vfs`
//! keeps inode and device private, a path name without a trailing NUL fails to parse (so
//! the socket is lost), and it knows neither `UDIAG_SHOW_UID` nor `UNIX_DIAG_UID`
//! ([`UDIAG_SHOW_UID`], [`UNIX_DIAG_UID`], from `linux/unix_diag.h`).

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NlasIterator, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_sock_diag::unix::{ShowFlags, StateFlags, UnixRequest};
use netlink_packet_sock_diag::{
    SockDiagMessage, UDIAG_SHOW_NAME, UDIAG_SHOW_PEER, UDIAG_SHOW_RQLEN, UDIAG_SHOW_VFS,
    UNIX_DIAG_NAME, UNIX_DIAG_PEER, UNIX_DIAG_RQLEN, UNIX_DIAG_VFS,
};

use super::decode::{DecodeStats, Progress};
use super::framing::{read_cookie, read_u32, read_u8, DiagDecoder, Framing};
use crate::collect::{CollectError, UnixDump};
use crate::fasthash::IdSet;
use crate::model::{SampleQuality, TcpState, UnixKind, UnixName, UnixRecord, UnixVfs};

/// Size of the fixed `struct unix_diag_msg` that starts every unix_diag answer.
pub const UNIX_DIAG_MSG_LEN: usize = 16;
/// `UDIAG_SHOW_UID` (linux/unix_diag.h; missing from the crate).
pub const UDIAG_SHOW_UID: u32 = 0x40;
/// `UNIX_DIAG_UID`, the attribute `UDIAG_SHOW_UID` adds (missing from the crate).
pub const UNIX_DIAG_UID: u16 = 7;
/// What sockscope asks unix_diag to show: name, VFS inode, peer, queues, uid.
pub const UNIX_SHOW: u32 =
    UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID;

// struct unix_diag_msg: family, type, state, pad (u8 each), ino (u32), cookie (u32[2]).
const OFF_FAMILY: usize = 0;
const OFF_TYPE: usize = 1;
const OFF_STATE: usize = 2;
const OFF_INODE: usize = 4;
const OFF_COOKIE: usize = 8;

const AF_UNIX: u8 = libc::AF_UNIX as u8;

/// The dump request for every UNIX socket whose state is in `state_mask`, showing
/// [`UNIX_SHOW`], or only the queues when `lean` (a count by state needs no names).
pub fn request_message(seq: u32, state_mask: u32, lean: bool) -> NetlinkMessage<SockDiagMessage> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(
        header,
        SockDiagMessage::UnixRequest(UnixRequest {
            state_flags: StateFlags::from_bits_retain(state_mask),
            inode: 0,
            show_flags: ShowFlags::from_bits_retain(if lean {
                UDIAG_SHOW_RQLEN
            } else {
                UNIX_SHOW
            }),
            // Ignored by a dump; all-ones is what ss sends.
            cookie: [0xff; 8],
        })
        .into(),
    );
    msg.finalize();
    msg
}

/// The outcome of parsing one unix_diag SOCK_DIAG_BY_FAMILY payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedUnix {
    /// A socket; `nla_error` when an attribute was malformed (the fixed header parsed,
    /// attributes after the damage are lost).
    Socket {
        /// The socket, `owner` unresolved.
        record: UnixRecord,
        /// Whether an attribute failed to parse.
        nla_error: bool,
    },
    /// A well-formed socket in a state sockscope does not model.
    UnknownState(u8),
    /// The header is short, or names another family or an unknown socket type.
    Malformed,
}

/// Parses one `struct unix_diag_msg` plus attributes.
///
/// For a listener `UNIX_DIAG_RQLEN` holds pending connections and the backlog (what
/// `ss -xl` prints as Recv-Q / Send-Q); otherwise the bytes queued to read and to send.
pub fn parse_unix_diag(payload: &[u8]) -> ParsedUnix {
    let fixed = (|| {
        let family = read_u8(payload, OFF_FAMILY)?;
        let kind = UnixKind::from_kernel(u32::from(read_u8(payload, OFF_TYPE)?));
        let state = read_u8(payload, OFF_STATE)?;
        let inode = read_u32(payload, OFF_INODE)?;
        let cookie = read_cookie(payload, OFF_COOKIE)?;
        Some((family, kind, state, inode, cookie))
    })();
    let Some((AF_UNIX, Some(kind), state_code, inode, cookie)) = fixed else {
        return ParsedUnix::Malformed;
    };
    let Some(state) = TcpState::from_kernel(state_code) else {
        return ParsedUnix::UnknownState(state_code);
    };
    let mut record = UnixRecord::new(kind, state, u64::from(inode));
    record.cookie = Some(cookie);
    let mut nla_error = false;
    for nla in NlasIterator::new(payload.get(UNIX_DIAG_MSG_LEN..).unwrap_or_default()) {
        let Ok(nla) = nla else {
            nla_error = true;
            break;
        };
        let value = nla.value();
        let ok = match nla.kind() {
            UNIX_DIAG_NAME => {
                record.name = UnixName::from_sun_path(value);
                true
            }
            UNIX_DIAG_VFS => parse_vfs(value).map(|v| record.vfs = Some(v)).is_some(),
            UNIX_DIAG_PEER => read_u32(value, 0)
                .map(|p| record.peer_inode = Some(u64::from(p)))
                .is_some(),
            UNIX_DIAG_RQLEN => read_u32(value, 0)
                .zip(read_u32(value, 4))
                .map(|(r, w)| {
                    record.recv_q = Some(r);
                    record.send_q = Some(w);
                })
                .is_some(),
            UNIX_DIAG_UID => read_u32(value, 0).map(|u| record.uid = Some(u)).is_some(),
            _ => true,
        };
        nla_error |= !ok;
    }
    ParsedUnix::Socket { record, nla_error }
}

/// `struct unix_diag_vfs` (`udiag_vfs_ino`, `udiag_vfs_dev`, host order). The crate parses
/// it into a type whose fields are private, so it is read here.
pub fn parse_vfs(value: &[u8]) -> Option<UnixVfs> {
    Some(UnixVfs {
        ino: read_u32(value, 0)?,
        dev: read_u32(value, 4)?,
    })
}

/// Incremental decoder for one unix_diag dump (one request, any number of datagrams,
/// then NLMSG_DONE; framing and sequence policy: [`Framing`]). Deduplicates by cookie and
/// re-applies the state mask.
#[derive(Debug, Default)]
pub struct UnixDecoder {
    sockets: Vec<UnixRecord>,
    seen: IdSet<u64>,
    state_mask: u32,
    frame: Framing,
}

impl UnixDecoder {
    /// A decoder for a dump filtered by `state_mask` (bit N = kernel state N).
    pub fn new(state_mask: u32) -> UnixDecoder {
        UnixDecoder {
            state_mask,
            ..UnixDecoder::default()
        }
    }

    /// Clears everything from a previous dump, keeping the cookie set's allocation.
    pub fn reset(&mut self, state_mask: u32, capacity_hint: usize) {
        self.sockets = Vec::with_capacity(capacity_hint);
        self.seen.clear();
        self.state_mask = state_mask;
        self.frame.reset();
    }
}

impl DiagDecoder for UnixDecoder {
    type Dump = UnixDump;

    fn begin(&mut self, seq: u32) {
        self.frame.begin(seq);
    }

    fn feed(&mut self, datagram: &[u8]) -> Result<Progress, CollectError> {
        let (sockets, seen, mask) = (&mut self.sockets, &mut self.seen, self.state_mask);
        self.frame.feed(datagram, |payload, quality, stats| {
            unix_socket(payload, mask, quality, stats, sockets, seen);
        })
    }

    fn finish(&mut self) -> Result<UnixDump, CollectError> {
        let quality = self.frame.finish()?;
        Ok(UnixDump {
            sockets: std::mem::take(&mut self.sockets),
            quality,
        })
    }

    fn stats(&self) -> DecodeStats {
        self.frame.stats()
    }
}

fn unix_socket(
    payload: &[u8],
    state_mask: u32,
    quality: &mut SampleQuality,
    stats: &mut DecodeStats,
    sockets: &mut Vec<UnixRecord>,
    seen: &mut IdSet<u64>,
) {
    let wanted = |code: u8| code < 32 && state_mask & (1u32 << code) != 0;
    match parse_unix_diag(payload) {
        ParsedUnix::Socket { record, nla_error } => {
            if nla_error {
                quality.parse_errors += 1;
            }
            if !wanted(record.state.code()) {
                stats.filtered += 1;
            } else if record.cookie.is_some_and(|c| !seen.insert(c)) {
                quality.duplicates += 1;
            } else {
                sockets.push(record);
            }
        }
        ParsedUnix::UnknownState(code) if wanted(code) => stats.unknown_state += 1,
        ParsedUnix::UnknownState(_) => stats.filtered += 1,
        ParsedUnix::Malformed => quality.parse_errors += 1,
    }
}

/// Decodes the complete answer to one unix_diag request (all its datagrams,
/// concatenated) sent with sequence number `seq`; the entry point fixtures and the fuzzer
/// use. Fails like the live source does, including when DONE is missing.
pub fn decode_unix_dump(bytes: &[u8], seq: u32, state_mask: u32) -> Result<UnixDump, CollectError> {
    let mut d = UnixDecoder::new(state_mask);
    d.begin(seq);
    d.feed(bytes)?;
    d.finish()
}
