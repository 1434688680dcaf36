//! The `/proc/net` fallback socket source: a pure, allocation-light parser over [`BufRead`]
//! for `tcp{,6}` ([`Parser`], [`parse`], [`parse_row`]) and, with the rows of
//! [`super::procnet_udp`], `udp{,6}`; and [`ProcNetSource`], which feeds it the calling
//! thread's `/proc/thread-self/net/…` (UNIX sockets: [`super::procnet_unix`]).
//!
//! This module owns the text format and the defences against its unreliability. It must not
//! resolve owners (that is `procmap`), enter namespaces (that is `netns`) or know about
//! analysis or presentation.
//!
//! # Why the defences
//!
//! The kernel renders these files a page at a time, re-walking the socket hash between
//! read() calls. Under churn (measured: 4-8k connections/s) a full read took 12-22 s and
//! returned tens of thousands of duplicate rows. So every read:
//! - deduplicates by (family, local, remote, inode) and counts what it dropped;
//! - stops at a time budget and at a row budget, and marks the sample inconsistent;
//! - counts every line it cannot parse (wrong field count, bad hex, unknown state) in
//!   `quality.parse_errors` instead of dropping it or panicking.
//!
//! # Row format
//!
//! Full sockets print 17 whitespace-separated fields; TIME_WAIT and request (SYN_RECV)
//! sockets print 12. The first ten are shared and are all we read:
//! `sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode`.
//! `tm->when` is printed with `jiffies_delta_to_clock_t`, i.e. in USER_HZ clock ticks
//! (`sysconf(_SC_CLK_TCK)`, 100 on every mainstream architecture), already clamped at 0;
//! we convert it as `ticks * 1000 / user_hz` milliseconds, saturating at `u32::MAX`.
//!
//! Listeners: `rx_queue` is the accept-queue length, but `tx_queue` is `write_seq -
//! snd_una` (0), not the backlog sock_diag reports; /proc has no backlog.

use std::collections::HashSet;
use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::procnet_udp::parse_udp_row;
use super::{DumpRequest, InetProtocol, SocketDump};
use crate::model::{Endpoint, Family, Owner, SocketRecord, TcpState, TimerKind};

/// Default (and smallest derived) wall-clock budget for reading both files.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(2);
/// Time allowed per socket `sockstat` reports when deriving the time budget. A static
/// 131k-socket table read in 0.6-1.5 s on a loaded 2-core machine (~5-11 µs per row):
/// 20 µs leaves room, so a big but quiet table is not flagged, while a table churning
/// as in the measured 12-22 s reads still is.
pub const TIME_PER_SOCKET: Duration = Duration::from_micros(20);
/// Smallest derived row budget, so a quiet table never trips it (covers SYN_RECV floods
/// up to the default `tcp_max_syn_backlog` several times over).
pub const MIN_ROW_BUDGET: u64 = 65_536;
/// Row budget when `sockstat` cannot be read to derive one.
pub const FALLBACK_ROW_BUDGET: u64 = 1_000_000;
/// USER_HZ assumed when the system does not say.
pub const DEFAULT_USER_HZ: u32 = 100;
/// Longest line accepted; kernel rows are at most ~180 bytes (tcp6), tcp4 pads to 150.
pub const MAX_LINE: usize = 1024;

// Check the clock once per this many lines: cheap, and a page holds ~25 rows anyway.
const CLOCK_EVERY: u64 = 64;
// Kernel pages are 4 KiB and each read() returns at most one, but a big buffer costs
// nothing and helps fixtures and pipes.
pub(crate) const READ_BUFFER: usize = 128 * 1024;

/// Limits one parse (or one `ProcNetSource` dump) must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Clock ticks per second used to convert `tm->when`.
    pub user_hz: u32,
    /// Stop reading after this long and mark the sample inconsistent.
    pub time: Duration,
    /// Stop after this many lines (all lines, duplicates and errors included).
    pub max_rows: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            user_hz: DEFAULT_USER_HZ,
            time: DEFAULT_TIME_BUDGET,
            max_rows: FALLBACK_ROW_BUDGET,
        }
    }
}

/// Why a single row was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// Not 12 (TIME_WAIT, request socket) or 17 (full socket) fields.
    #[error("expected 12 or 17 fields, found {0}")]
    FieldCount(usize),
    /// A `/proc/net/udp{,6}` row without its 13 fields.
    #[error("expected 13 fields, found {0}")]
    UdpFieldCount(usize),
    /// A field is malformed (bad hex or decimal, wrong width, missing separator).
    #[error("malformed {0} field")]
    Field(&'static str),
    /// The address width does not match the file's family (8 hex digits v4, 32 v6).
    #[error("address width does not match the file's family")]
    Family,
    /// The `st` code is no TCP state Linux defines.
    #[error("unknown state code {0:#04x}")]
    UnknownState(u8),
    /// The line is longer than [`MAX_LINE`] bytes.
    #[error("line longer than {MAX_LINE} bytes")]
    TooLong,
    /// A feed did not start with the `sl local_address ...` header.
    #[error("missing header line")]
    MissingHeader,
}

/// Parses one data row of `/proc/net/tcp` (`family` = V4) or `tcp6` (V6).
/// `owner` is [`Owner::Unresolved`], `cookie` and `tcp_info` are `None`.
pub fn parse_row(line: &[u8], family: Family, user_hz: u32) -> Result<SocketRecord, RowError> {
    let mut f: [&[u8]; 17] = [&[]; 17];
    let mut n = 0;
    for tok in line
        .split(u8::is_ascii_whitespace)
        .filter(|t| !t.is_empty())
    {
        if n == f.len() {
            return Err(RowError::FieldCount(n + 1));
        }
        f[n] = tok;
        n += 1;
    }
    if n != 12 && n != 17 {
        return Err(RowError::FieldCount(n));
    }
    let RowHead {
        local,
        remote,
        state,
        send_q,
        recv_q,
        timer,
        ticks,
        retrans,
        uid,
        inode,
    } = row_head(&f, family)?;
    let timer = TimerKind::from_kernel(u8::try_from(timer).unwrap_or(0));
    let expires_ms = if timer == TimerKind::Off {
        0
    } else {
        let ms = u128::from(ticks) * 1000 / u128::from(user_hz.max(1));
        u32::try_from(ms).unwrap_or(u32::MAX)
    };
    Ok(SocketRecord {
        family,
        state,
        local,
        remote,
        inode,
        uid,
        recv_q,
        send_q,
        timer,
        expires_ms,
        retransmits: u8::try_from(retrans).unwrap_or(u8::MAX),
        cookie: None,
        tcp_info: None,
        skmem: None,
        owner: Owner::Unresolved,
    })
}

/// The columns `/proc/net/tcp{,6}` and `/proc/net/udp{,6}` share, `sl` through `inode`.
pub(crate) struct RowHead {
    pub local: Endpoint,
    pub remote: Endpoint,
    pub state: TcpState,
    pub send_q: u32,
    pub recv_q: u32,
    /// `tr`: the kernel's timer code.
    pub timer: u64,
    /// `tm->when`, in clock ticks.
    pub ticks: u64,
    pub retrans: u64,
    pub uid: u32,
    pub inode: u64,
}

/// Parses the shared columns of a row already split into fields (at least 10).
pub(crate) fn row_head(f: &[&[u8]], family: Family) -> Result<RowHead, RowError> {
    if f.len() < 10 {
        return Err(RowError::FieldCount(f.len()));
    }
    match f[0].split_last() {
        Some((b':', digits)) if dec(digits).is_some() => {}
        _ => return Err(RowError::Field("sl")),
    }
    let code = hex_exact(f[3], 2).ok_or(RowError::Field("st"))? as u8;
    let (tx, rx) = split2(f[4]).ok_or(RowError::Field("tx_queue:rx_queue"))?;
    let (tr, when) = split2(f[5]).ok_or(RowError::Field("tr:tm->when"))?;
    // The `timeout` column is the keepalive probe count, printed signed on some kernels.
    let probes = f[8].strip_prefix(b"-").unwrap_or(f[8]);
    let head = RowHead {
        local: endpoint(f[1], family)?,
        remote: endpoint(f[2], family)?,
        state: TcpState::from_kernel(code).ok_or(RowError::UnknownState(code))?,
        send_q: hex_exact(tx, 8).ok_or(RowError::Field("tx_queue"))? as u32,
        recv_q: hex_exact(rx, 8).ok_or(RowError::Field("rx_queue"))? as u32,
        timer: hex_exact(tr, 2).ok_or(RowError::Field("tr"))?,
        ticks: hex_range(when, 8, 16).ok_or(RowError::Field("tm->when"))?,
        retrans: hex_range(f[6], 1, 8).ok_or(RowError::Field("retrnsmt"))?,
        uid: dec(f[7])
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(RowError::Field("uid"))?,
        inode: {
            dec(probes).ok_or(RowError::Field("timeout"))?;
            dec(f[9]).ok_or(RowError::Field("inode"))?
        },
    };
    Ok(head)
}

pub(crate) fn split2(tok: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = tok.iter().position(|&b| b == b':')?;
    Some((&tok[..i], &tok[i + 1..]))
}

pub(crate) fn endpoint(tok: &[u8], family: Family) -> Result<Endpoint, RowError> {
    let (addr, port) = split2(tok).ok_or(RowError::Field("address"))?;
    let port = hex_exact(port, 4).ok_or(RowError::Field("port"))? as u16;
    // Each 32-bit word of the address is printed as a host-order hex number of the bytes
    // as they sit in memory (network order), so to_ne_bytes restores those bytes on any
    // endianness.
    let word = |i: usize| -> Result<[u8; 4], RowError> {
        let w = addr.get(i * 8..i * 8 + 8).ok_or(RowError::Family)?;
        let v = hex_exact(w, 8).ok_or(RowError::Field("address"))? as u32;
        Ok(v.to_ne_bytes())
    };
    let ip = match (family, addr.len()) {
        (Family::V4, 8) => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        (Family::V6, 32) => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        (_, 8 | 32) => return Err(RowError::Family),
        _ => return Err(RowError::Field("address")),
    };
    Ok(Endpoint::new(ip, port))
}

pub(crate) fn hex_exact(tok: &[u8], width: usize) -> Option<u64> {
    hex_range(tok, width, width)
}

pub(crate) fn hex_range(tok: &[u8], min: usize, max: usize) -> Option<u64> {
    if tok.len() < min || tok.len() > max || tok.len() > 16 {
        return None;
    }
    tok.iter().try_fold(0u64, |acc, &b| {
        let d = char::from(b).to_digit(16)?;
        Some(acc << 4 | u64::from(d))
    })
}

pub(crate) fn dec(tok: &[u8]) -> Option<u64> {
    if tok.is_empty() || tok.len() > 20 {
        return None;
    }
    tok.iter().try_fold(0u64, |acc, &b| {
        let d = char::from(b).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(d))
    })
}

// The dedup key packed into plain integers (v4 as v4-mapped v6, family and ports in one
// word): hashing the nested enums cost more than parsing the row. The hasher stays std's
// keyed SipHash: SYN-flood sources are attacker-chosen, so an unkeyed fast hash would
// let a flood make dedup quadratic.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DedupKey(u128, u128, u64, u64);

impl DedupKey {
    fn of(r: &SocketRecord) -> DedupKey {
        let bits = |ip: IpAddr| match ip {
            IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
            IpAddr::V6(a) => u128::from(a),
        };
        let family = u64::from(r.family == Family::V6);
        let ports = u64::from(r.local.port) << 17 | u64::from(r.remote.port) << 1 | family;
        DedupKey(bits(r.local.ip), bits(r.remote.ip), ports, r.inode)
    }
}

/// An incremental parser: feed it `tcp` then `tcp6` (or any rows), then [`Parser::finish`].
/// Budgets span all feeds; the clock starts at [`Parser::new`].
#[derive(Debug)]
pub struct Parser {
    limits: Limits,
    protocol: InetProtocol,
    started: Instant,
    rows: u64,
    stopped: Option<String>,
    seen: HashSet<DedupKey>,
    dump: SocketDump,
    first_error: Option<(u64, RowError)>,
    line: Vec<u8>,
}

impl Parser {
    /// A `tcp{,6}` parser with empty results; the time budget starts now.
    pub fn new(limits: Limits) -> Parser {
        Parser::for_protocol(limits, InetProtocol::Tcp)
    }

    /// A parser for the rows of `protocol`'s files (`tcp{,6}` or `udp{,6}`).
    pub fn for_protocol(limits: Limits, protocol: InetProtocol) -> Parser {
        Parser {
            limits,
            protocol,
            started: Instant::now(),
            rows: 0,
            stopped: None,
            seen: HashSet::new(),
            dump: SocketDump::default(),
            first_error: None,
            line: Vec::with_capacity(256),
        }
    }

    /// Parses one file's worth of lines (header first) for `family`, keeping the rows
    /// `req` wants. Stops early, without error, when a budget runs out. Only I/O errors
    /// are returned; bad lines are counted.
    pub fn feed<R: BufRead>(
        &mut self,
        mut reader: R,
        family: Family,
        req: &DumpRequest,
    ) -> io::Result<()> {
        let wanted = match family {
            Family::V4 => req.ipv4,
            Family::V6 => req.ipv6,
        };
        if !wanted || self.stopped.is_some() {
            return Ok(());
        }
        let file = file_name(self.protocol, family);
        let mut first = true;
        let mut line = std::mem::take(&mut self.line);
        while let Some(too_long) = read_line_bounded(&mut reader, &mut line, MAX_LINE)? {
            self.rows += 1;
            let is_header = first
                && line.split(u8::is_ascii_whitespace).find(|t| !t.is_empty())
                    == Some(b"sl".as_slice());
            if first && !is_header {
                self.error(RowError::MissingHeader);
            }
            first = false;
            if is_header {
                // not a row
            } else if too_long {
                self.error(RowError::TooLong);
            } else {
                let parsed = match self.protocol {
                    InetProtocol::Tcp => parse_row(&line, family, self.limits.user_hz),
                    InetProtocol::Udp => parse_udp_row(&line, family),
                };
                match parsed {
                    Ok(rec) if req.wants_state(rec.state.code()) => {
                        if self.seen.insert(DedupKey::of(&rec)) {
                            self.dump.sockets.push(rec);
                        } else {
                            self.dump.quality.duplicates += 1;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => self.error(e),
                }
            }
            if self.rows >= self.limits.max_rows {
                self.stopped = Some(format!(
                    "/proc/net/{file}: stopped at the row budget ({} rows); the socket table \
                     is changing faster than it can be read",
                    self.limits.max_rows
                ));
                break;
            }
            if self.rows % CLOCK_EVERY == 0 && self.started.elapsed() >= self.limits.time {
                self.stopped = Some(format!(
                    "/proc/net/{file}: stopped at the time budget ({} ms) after {} rows; \
                     the socket table is changing faster than it can be read",
                    self.limits.time.as_millis(),
                    self.rows
                ));
                break;
            }
        }
        if first {
            self.error(RowError::MissingHeader);
        }
        self.line = line;
        Ok(())
    }

    fn error(&mut self, e: RowError) {
        self.dump.quality.parse_errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some((self.rows, e));
        }
    }

    /// The first rejected line: its 1-based line number across all feeds, and why.
    pub fn first_error(&self) -> Option<&(u64, RowError)> {
        self.first_error.as_ref()
    }

    /// Lines read so far across all feeds (headers, errors and duplicates included).
    pub fn rows_read(&self) -> u64 {
        self.rows
    }

    /// The sockets and the quality; `inconsistent` says why when a budget ran out or
    /// duplicates were dropped.
    pub fn finish(self) -> SocketDump {
        let mut dump = self.dump;
        let mut reasons: Vec<String> = self.stopped.into_iter().collect();
        if dump.quality.duplicates > 0 {
            reasons.push(format!(
                "{} duplicate rows dropped: the socket table changed during the read",
                dump.quality.duplicates
            ));
        }
        if !reasons.is_empty() {
            dump.quality.inconsistent = Some(reasons.join("; "));
        }
        dump
    }
}

/// The file a family's rows come from: `tcp`, `tcp6`, `udp`, `udp6`.
pub fn file_name(protocol: InetProtocol, family: Family) -> &'static str {
    match (protocol, family) {
        (InetProtocol::Tcp, Family::V4) => "tcp",
        (InetProtocol::Tcp, Family::V6) => "tcp6",
        (InetProtocol::Udp, Family::V4) => "udp",
        (InetProtocol::Udp, Family::V6) => "udp6",
    }
}

/// Parses one `/proc/net/tcp` (`Family::V4`) or `tcp6` (`Family::V6`) text in one call.
pub fn parse<R: BufRead>(
    reader: R,
    family: Family,
    req: &DumpRequest,
    limits: Limits,
) -> io::Result<SocketDump> {
    let mut p = Parser::new(limits);
    p.feed(reader, family, req)?;
    Ok(p.finish())
}

// Reads one line (without its newline) into `buf`, keeping at most `max` bytes and
// discarding the rest, so a file without newlines cannot grow memory without bound.
// Returns None at end of input, else whether the line was cut.
pub(crate) fn read_line_bounded<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let mut any = false;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (end, used, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (i, i + 1, true),
            None => (avail.len(), avail.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        too_long |= end > room;
        buf.extend_from_slice(&avail[..end.min(room)]);
        r.consume(used);
        if done {
            return Ok(Some(too_long));
        }
    }
}

mod source;
pub use source::ProcNetSource;

#[cfg(test)]
#[path = "procnet_tests.rs"]
pub(crate) mod tests;
