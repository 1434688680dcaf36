//! The `/proc/net/unix` fallback for UNIX sockets: a pure parser over [`BufRead`]
//! ([`UnixParser`], [`parse_unix_row`]). [`super::procnet::ProcNetSource`] feeds it the
//! calling thread's file.
//!
//! # Row format (`unix_seq_show`)
//!
//! `%pK: %08X %08X %08X %04X %02X %5lu` — Num (the socket's kernel address, hashed or
//! zeroed), RefCount, Protocol (0), Flags (`__SO_ACCEPTCON` 0x10000 for a listener), Type
//! (`SOCK_*`), St (`SS_*`), Inode — then, for a bound socket, one space and the name to the
//! end of the line: a path as bound, or `@` and an abstract name with each NUL printed as
//! `@`. The file has no queue lengths, no uid, no peer and no cookie: those stay `None`.
//!
//! St is printed from the socket's state and whether it still has a `struct socket`:
//! `SS_UNCONNECTED` (1) → CLOSE (printed UNCONN), `SS_CONNECTED` (3) → ESTABLISHED,
//! `SS_CONNECTING` (2) → SYN_SENT. Rows with inode 0 are connections waiting in a listener's
//! accept queue (no `struct socket` yet; they print St 2 and the listener's path): unix_diag
//! does not report them either (`sk_diag_dump` skips inode 0; the listener's queue counts
//! them), so they are skipped here too and counted in [`UnixParser::skipped_unaccepted`].
//!
//! # Hostile names
//!
//! A name is whatever the binding process chose; the kernel prints it raw, spaces and
//! newlines included. A space is harmless (the name runs to the end of the line). A
//! newline cuts the row: the name is reported up to it, and what follows is a line of its
//! own, which must then pass the whole fixed grammar below (exact field widths, hex where
//! the kernel prints hex, a known type and state) or it is counted in
//! `quality.parse_errors`, never parsed into a record. A forged line that repeats an inode
//! already read is counted as a duplicate. Num is `%pK`: with `kptr_restrict` 1 (the
//! usual distribution default) an unprivileged reader sees it blank (all zeros) while root
//! sees a hashed address, so the forger, copying what it sees, writes a blank Num into a
//! file whose real rows are hashed: a blank Num among hashed ones is counted as a parse
//! error, never a socket. What text alone cannot tell apart is a line crafted to match the
//! file exactly (an attacker who sees the same Num form as the reader, and an unused
//! inode): the binary unix_diag answer (`--source netlink`, preferred by `auto`) has no
//! such ambiguity. A path bound as `@x` (relative, starting with `@`) also prints like the
//! abstract name `x`, as ss shows it.

use std::collections::HashSet;
use std::io::{self, BufRead};
use std::time::Instant;

use super::procnet::{dec, hex_exact, read_line_bounded, Limits, MAX_LINE};
use super::UnixDump;
use crate::model::{Name, TcpState, UnixKind, UnixName, UnixRecord};

/// `__SO_ACCEPTCON`: the Flags bit of a listening socket.
pub const SO_ACCEPTCON: u64 = 0x1_0000;

const CLOCK_EVERY: u64 = 64;

/// Why a `/proc/net/unix` line was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnixRowError {
    /// Fewer than the seven fixed fields.
    #[error("expected 7 fields before the name, found {0}")]
    FieldCount(usize),
    /// A fixed field is malformed (wrong width, not hex or decimal, missing colon).
    #[error("malformed {0} field")]
    Field(&'static str),
    /// Type is not `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    #[error("unknown socket type {0:#06x}")]
    UnknownType(u64),
    /// St is not a state a socket with an inode prints.
    #[error("unknown St {0:#04x}")]
    UnknownState(u64),
    /// Longer than [`MAX_LINE`] bytes.
    #[error("line longer than {MAX_LINE} bytes")]
    TooLong,
    /// The feed did not start with the `Num RefCount …` header.
    #[error("missing header line")]
    MissingHeader,
}

/// One parsed `/proc/net/unix` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixRow {
    /// The socket; `None` for an inode-0 row (a connection not yet accepted; see the module
    /// doc).
    pub record: Option<UnixRecord>,
    /// Num (the kernel address) printed blank, as `kptr_restrict` does.
    pub blank_num: bool,
}

/// Parses one data row.
pub fn parse_unix_row(line: &[u8]) -> Result<UnixRow, UnixRowError> {
    let mut rest = line;
    let mut fixed: [&[u8]; 7] = [&[]; 7];
    for (i, slot) in fixed.iter_mut().enumerate() {
        // The inode is right-aligned (`%5lu`), so spaces may pad it; everything else is
        // separated by exactly one space.
        let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
        let spaced = if i < 6 {
            start == usize::from(i > 0)
        } else {
            start > 0
        };
        if !spaced {
            return Err(UnixRowError::FieldCount(i));
        }
        rest = &rest[start..];
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        if end == 0 {
            return Err(UnixRowError::FieldCount(i));
        }
        *slot = &rest[..end];
        rest = &rest[end..];
    }
    let [num, refcnt, proto, flags, kind, st, inode] = fixed;
    let blank_num = match num.split_last() {
        Some((b':', h)) if matches!(h.len(), 8 | 16) => {
            hex_exact(h, h.len()).ok_or(UnixRowError::Field("Num"))? == 0
        }
        _ => return Err(UnixRowError::Field("Num")),
    };
    hex_exact(refcnt, 8).ok_or(UnixRowError::Field("RefCount"))?;
    hex_exact(proto, 8).ok_or(UnixRowError::Field("Protocol"))?;
    let flags = hex_exact(flags, 8).ok_or(UnixRowError::Field("Flags"))?;
    let kind_code = hex_exact(kind, 4).ok_or(UnixRowError::Field("Type"))?;
    let st = hex_exact(st, 2).ok_or(UnixRowError::Field("St"))?;
    let inode = dec(inode).ok_or(UnixRowError::Field("Inode"))?;
    let kind = u32::try_from(kind_code)
        .ok()
        .and_then(UnixKind::from_kernel)
        .ok_or(UnixRowError::UnknownType(kind_code))?;
    let state = match st {
        _ if flags & SO_ACCEPTCON != 0 => TcpState::Listen,
        1 => TcpState::Close,
        2 => TcpState::SynSent,
        3 => TcpState::Established,
        // 4 (SS_DISCONNECTING) is printed only for sockets without inode.
        4 if inode == 0 => TcpState::Close,
        other => return Err(UnixRowError::UnknownState(other)),
    };
    let name = match rest {
        [] => None,
        [b' ', name @ ..] if !name.is_empty() => Some(match name {
            [b'@', abs @ ..] => UnixName::Abstract(Name::from_bytes(abs)),
            path => UnixName::Path(Name::from_bytes(path)),
        }),
        _ => return Err(UnixRowError::Field("Path")),
    };
    let record = (inode != 0).then(|| {
        let mut r = UnixRecord::new(kind, state, inode);
        r.name = name;
        r
    });
    Ok(UnixRow { record, blank_num })
}

/// Reads `/proc/net/unix` text: header check, budgets (time and rows, as
/// [`super::procnet::Parser`]), inode dedup, and every rejected line counted.
#[derive(Debug)]
pub struct UnixParser {
    limits: Limits,
    state_mask: u32,
    started: Instant,
    rows: u64,
    unaccepted: u64,
    seen: HashSet<u64>,
    dump: UnixDump,
    /// Sockets whose Num was blank, kept aside until the whole file says whether blank is
    /// its form (see the module doc).
    blank: Vec<UnixRecord>,
    hashed_rows: bool,
    stopped: Option<String>,
    first_error: Option<(u64, UnixRowError)>,
}

impl UnixParser {
    /// A parser keeping sockets whose state is in `state_mask` (bit N = kernel state N).
    pub fn new(limits: Limits, state_mask: u32) -> UnixParser {
        UnixParser {
            limits,
            state_mask,
            started: Instant::now(),
            rows: 0,
            unaccepted: 0,
            seen: HashSet::new(),
            dump: UnixDump::default(),
            blank: Vec::new(),
            hashed_rows: false,
            stopped: None,
            first_error: None,
        }
    }

    /// Parses the file, header first. Only I/O errors are returned.
    pub fn feed<R: BufRead>(&mut self, mut reader: R) -> io::Result<()> {
        let mut line = Vec::with_capacity(256);
        let mut first = true;
        while let Some(too_long) = read_line_bounded(&mut reader, &mut line, MAX_LINE)? {
            self.rows += 1;
            if first {
                first = false;
                if line.starts_with(b"Num ") {
                    continue;
                }
                self.error(UnixRowError::MissingHeader);
            }
            if too_long {
                self.error(UnixRowError::TooLong);
            } else {
                match parse_unix_row(&line) {
                    Ok(row) => self.keep(row),
                    Err(e) => self.error(e),
                }
            }
            if self.rows >= self.limits.max_rows {
                self.stopped = Some(format!(
                    "/proc/net/unix: stopped at the row budget ({} rows)",
                    self.limits.max_rows
                ));
                break;
            }
            if self.rows % CLOCK_EVERY == 0 && self.started.elapsed() >= self.limits.time {
                self.stopped = Some(format!(
                    "/proc/net/unix: stopped at the time budget ({} ms) after {} rows",
                    self.limits.time.as_millis(),
                    self.rows
                ));
                break;
            }
        }
        if first {
            self.error(UnixRowError::MissingHeader);
        }
        Ok(())
    }

    fn keep(&mut self, row: UnixRow) {
        self.hashed_rows |= !row.blank_num;
        match row.record {
            None => self.unaccepted += 1,
            Some(r) if !self.wants(r.state) => {}
            Some(r) if !self.seen.insert(r.inode) => self.dump.quality.duplicates += 1,
            Some(r) if row.blank_num => self.blank.push(r),
            Some(r) => self.dump.sockets.push(r),
        }
    }

    fn wants(&self, state: TcpState) -> bool {
        self.state_mask & (1u32 << state.code()) != 0
    }

    fn error(&mut self, e: UnixRowError) {
        self.dump.quality.parse_errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some((self.rows, e));
        }
    }

    /// The first rejected line: its 1-based line number, and why.
    pub fn first_error(&self) -> Option<&(u64, UnixRowError)> {
        self.first_error.as_ref()
    }

    /// Lines read (header, errors and skipped rows included).
    pub fn rows_read(&self) -> u64 {
        self.rows
    }

    /// Inode-0 rows skipped: connections waiting in an accept queue.
    pub fn skipped_unaccepted(&self) -> u64 {
        self.unaccepted
    }

    /// The sockets and the quality (`inconsistent` says why a budget stopped the read or
    /// rows repeated).
    pub fn finish(self) -> UnixDump {
        let mut dump = self.dump;
        let mut reasons: Vec<String> = self.stopped.into_iter().collect();
        if self.hashed_rows && !self.blank.is_empty() {
            dump.quality.parse_errors += self.blank.len() as u64;
            reasons.push(format!(
                "{} rows with a blank kernel address among hashed ones were not counted \
                 (a socket name holding a newline forges such rows)",
                self.blank.len()
            ));
        } else {
            dump.sockets.extend(self.blank);
        }
        if dump.quality.duplicates > 0 {
            reasons.push(format!(
                "{} rows repeated an inode already read (the table changed during the read, \
                 or a name holding a newline forged a row)",
                dump.quality.duplicates
            ));
        }
        if !reasons.is_empty() {
            dump.quality.inconsistent = Some(reasons.join("; "));
        }
        dump
    }
}

/// Parses a whole `/proc/net/unix` text in one call.
pub fn parse_unix<R: BufRead>(reader: R, state_mask: u32, limits: Limits) -> io::Result<UnixDump> {
    let mut p = UnixParser::new(limits, state_mask);
    p.feed(reader)?;
    Ok(p.finish())
}

#[cfg(test)]
#[path = "procnet_unix_tests.rs"]
mod tests;
