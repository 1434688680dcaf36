//! The netlink framing every sock_diag answer shares, whatever its socket family: splitting
//! datagrams into messages, the sequence check, NLMSG_DONE / ERROR / OVERRUN and
//! NLM_F_DUMP_INTR ([`Framing`]), the [`DiagDecoder`] trait the receive loop drives, and
//! the bounds-checked readers the payload decoders share. Pure: bytes in, no I/O.
//!
//! Payloads belong to the decoders: inet sockets in [`super::decode`], UNIX sockets in
//! [`super::unix`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_DUMP_INTR};
use netlink_packet_sock_diag::SOCK_DIAG_BY_FAMILY;

use super::decode::{DecodeStats, Progress, NLMSG_HDR_LEN};
use crate::collect::CollectError;
use crate::model::SampleQuality;

/// What the receive loop needs from a decoder: one per kind of answer (inet sockets here,
/// UNIX sockets in [`super::unix`]), sharing the netlink framing of [`Framing`].
pub trait DiagDecoder {
    /// What a finished dump hands over.
    type Dump;
    /// Starts decoding the answer to the request sent with sequence number `seq`.
    fn begin(&mut self, seq: u32);
    /// Decodes one received datagram, which may hold many netlink messages.
    fn feed(&mut self, datagram: &[u8]) -> Result<Progress, CollectError>;
    /// Ends the dump; fails when the current request's DONE was never seen.
    fn finish(&mut self) -> Result<Self::Dump, CollectError>;
    /// Counters gathered so far.
    fn stats(&self) -> DecodeStats;
}

/// The netlink framing every sock_diag answer shares: splitting datagrams into messages,
/// the sequence check, DONE / ERROR / OVERRUN, NLM_F_DUMP_INTR. Socket payloads go to the
/// caller's closure with the quality and stats to count into.
///
/// Sequence policy: a message whose `nlmsg_seq` differs from the request being decoded
/// is an error. The live source drains the socket before each request and the kernel runs
/// one dump per socket at a time, so such a message is either corrupt or stale output that
/// may stand where one of ours should be; skipping it could silently lose sockets, so the
/// caller restarts the dump instead.
#[derive(Debug, Default)]
pub struct Framing {
    quality: SampleQuality,
    stats: DecodeStats,
    seq: u32,
    done: bool,
}

impl Framing {
    /// Clears counters and state from a previous dump.
    pub fn reset(&mut self) {
        *self = Framing::default();
    }

    /// Starts the answer to request `seq`.
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

    /// Splits `datagram` into messages and hands each SOCK_DIAG_BY_FAMILY payload to
    /// `on_socket`.
    ///
    /// Framing damage (a message running past the datagram end, a length below the
    /// netlink header) and NLMSG_ERROR / NLMSG_OVERRUN / a failed DONE are errors: the
    /// rest of the dump cannot be trusted. A damaged socket message only costs that
    /// socket (short header) or its attributes (bad NLA); `on_socket` counts those.
    pub fn feed(
        &mut self,
        datagram: &[u8],
        mut on_socket: impl FnMut(&[u8], &mut SampleQuality, &mut DecodeStats),
    ) -> Result<Progress, CollectError> {
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
                SOCK_DIAG_BY_FAMILY => on_socket(payload, &mut self.quality, &mut self.stats),
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

    /// Ends the dump, handing over its quality. Fails if the current request's DONE was
    /// never seen: a dump without DONE is incomplete, never a short success.
    pub fn finish(&mut self) -> Result<SampleQuality, CollectError> {
        if !self.done {
            return Err(CollectError::Protocol(
                "dump ended without NLMSG_DONE".into(),
            ));
        }
        Ok(std::mem::take(&mut self.quality))
    }
}

/// One netlink message split off a datagram: `(type, flags, seq, payload, rest)`.
pub(crate) type Split<'a> = (u16, u16, u32, &'a [u8], &'a [u8]);

/// Splits the first netlink message off `buf`.
pub(crate) fn split_message(buf: &[u8]) -> Result<Split<'_>, CollectError> {
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
pub(crate) fn check_error_code(payload: &[u8], what: &str) -> Result<(), CollectError> {
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

pub(crate) fn read_u8(buf: &[u8], off: usize) -> Option<u8> {
    buf.get(off).copied()
}

pub(crate) fn read_array<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    buf.get(off..off.checked_add(N)?)?.try_into().ok()
}

pub(crate) fn read_u16(buf: &[u8], off: usize) -> Option<u16> {
    read_array(buf, off).map(u16::from_ne_bytes)
}

pub(crate) fn read_be16(buf: &[u8], off: usize) -> Option<u16> {
    read_array(buf, off).map(u16::from_be_bytes)
}

pub(crate) fn read_u32(buf: &[u8], off: usize) -> Option<u32> {
    read_array(buf, off).map(u32::from_ne_bytes)
}

pub(crate) fn read_i32(buf: &[u8], off: usize) -> Option<i32> {
    read_array(buf, off).map(i32::from_ne_bytes)
}

pub(crate) fn read_v4(buf: &[u8], off: usize) -> Option<IpAddr> {
    read_array::<4>(buf, off).map(|b| IpAddr::V4(Ipv4Addr::from(b)))
}

pub(crate) fn read_v6(buf: &[u8], off: usize) -> Option<IpAddr> {
    read_array::<16>(buf, off).map(|b| IpAddr::V6(Ipv6Addr::from(b)))
}

/// The kernel stores the 64-bit socket cookie as `__u32 idiag_cookie[2]`, low word first,
/// each word in host order (`sock_diag_save_cookie` in net/core/sock_diag.c). Reading the
/// words separately keeps the value right on big-endian hosts too, where the 8 bytes are
/// not a native u64.
pub(crate) fn read_cookie(buf: &[u8], off: usize) -> Option<u64> {
    let low = read_u32(buf, off)?;
    let high = read_u32(buf, off.checked_add(4)?)?;
    Some(u64::from(low) | (u64::from(high) << 32))
}
