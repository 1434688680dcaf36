//! [`ProcNetSource`]: the `/proc/net` socket source, feeding the pure parsers the calling
//! thread's `tcp{,6}`, `udp{,6}` and `unix`, with budgets sized from `sockstat`.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    file_name, Limits, Parser, DEFAULT_TIME_BUDGET, DEFAULT_USER_HZ, FALLBACK_ROW_BUDGET,
    MIN_ROW_BUDGET, READ_BUFFER, TIME_PER_SOCKET,
};
use crate::collect::procnet_unix::UnixParser;
use crate::collect::{CollectError, DumpRequest, InetProtocol, SocketDump, SocketSource, UnixDump};
use crate::model::{Family, SourceKind};

/// Reads `tcp` and `tcp6` from a directory: by default the calling thread's
/// `/proc/thread-self/net`, so a thread that entered another netns reads that netns.
#[derive(Debug, Clone)]
pub struct ProcNetSource {
    root: PathBuf,
    time: Option<Duration>,
    max_rows: Option<u64>,
    user_hz: u32,
}

impl ProcNetSource {
    /// A source reading `/proc/thread-self/net/tcp{,6}` with the default budgets.
    pub fn new() -> ProcNetSource {
        ProcNetSource::with_root("/proc/thread-self/net")
    }

    /// A source reading `tcp`, `tcp6` (and `sockstat`, for the budgets) from `root`:
    /// fixtures, or another pid's `/proc/PID/net`.
    pub fn with_root(root: impl Into<PathBuf>) -> ProcNetSource {
        let hz = procfs::ticks_per_second();
        ProcNetSource {
            root: root.into(),
            time: None,
            max_rows: None,
            user_hz: u32::try_from(hz)
                .ok()
                .filter(|&h| h > 0)
                .unwrap_or(DEFAULT_USER_HZ),
        }
    }

    /// Sets the budgets; `None` derives one at each dump from `sockstat`'s `alloc + tw`
    /// (N): time `max(DEFAULT_TIME_BUDGET, N × TIME_PER_SOCKET)`, rows
    /// `max(MIN_ROW_BUDGET, 2 × N)`: room for every socket the kernel has, once more for
    /// churn, and no more. Without `sockstat`: 2 s and `FALLBACK_ROW_BUDGET`.
    pub fn with_budget(mut self, time: Option<Duration>, max_rows: Option<u64>) -> ProcNetSource {
        self.time = time;
        self.max_rows = max_rows;
        self
    }

    /// The directory this source reads.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The limits the next TCP dump will use (reads `sockstat` for what is derived).
    pub fn limits(&self) -> Limits {
        self.limits_for(SockstatLine::Tcp)
    }

    /// The limits for one table, derived from its `sockstat` line (UNIX has none there:
    /// its budgets are the fallback ones unless set).
    fn limits_for(&self, line: SockstatLine) -> Limits {
        let expected = match (self.time, self.max_rows, line) {
            (Some(_), Some(_), _) | (_, _, SockstatLine::None) => None,
            _ => std::fs::read_to_string(self.root.join("sockstat"))
                .ok()
                .and_then(|s| match line {
                    SockstatLine::Tcp => sockstat_tcp_total(&s),
                    // v6 sockets are counted apart, in sockstat6 (absent without IPv6).
                    SockstatLine::Udp => sockstat_udp_total(&s).map(|v4| {
                        let v6 = std::fs::read_to_string(self.root.join("sockstat6"));
                        v4 + v6.ok().and_then(|t| sockstat_udp_total(&t)).unwrap_or(0)
                    }),
                    SockstatLine::None => None,
                }),
        };
        let derived_time = expected.map_or(DEFAULT_TIME_BUDGET, |n| {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            TIME_PER_SOCKET.saturating_mul(n).max(DEFAULT_TIME_BUDGET)
        });
        let derived_rows = expected.map_or(FALLBACK_ROW_BUDGET, |n| {
            n.saturating_mul(2).max(MIN_ROW_BUDGET)
        });
        Limits {
            user_hz: self.user_hz,
            time: self.time.unwrap_or(derived_time),
            max_rows: self.max_rows.unwrap_or(derived_rows),
        }
    }
}

/// Which `sockstat` line sizes a table's budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SockstatLine {
    Tcp,
    Udp,
    None,
}

// `UDP: inuse 5 mem 1` (sockstat) or `UDP6: inuse 5` (sockstat6) -> inuse.
pub(crate) fn sockstat_udp_total(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|l| l.starts_with("UDP:") || l.starts_with("UDP6:"))?;
    let mut it = line.split_whitespace().skip(1);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        if k == "inuse" {
            return v.parse().ok();
        }
    }
    None
}

// `TCP: inuse 5 orphan 0 tw 3 alloc 7 mem 1` -> alloc + tw.
pub(crate) fn sockstat_tcp_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let mut it = line.split_whitespace().skip(1);
    let (mut alloc, mut tw) = (None, None);
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        match k {
            "alloc" => alloc = v.parse::<u64>().ok(),
            "tw" => tw = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    Some(alloc?.saturating_add(tw?))
}

impl Default for ProcNetSource {
    fn default() -> Self {
        Self::new()
    }
}

impl SocketSource for ProcNetSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Proc
    }

    fn dump(&mut self, req: &DumpRequest) -> Result<SocketDump, CollectError> {
        let line = match req.protocol {
            InetProtocol::Tcp => SockstatLine::Tcp,
            InetProtocol::Udp => SockstatLine::Udp,
        };
        let mut parser = Parser::for_protocol(self.limits_for(line), req.protocol);
        for (family, wanted) in [(Family::V4, req.ipv4), (Family::V6, req.ipv6)] {
            if !wanted {
                continue;
            }
            let path = self.root.join(file_name(req.protocol, family));
            let file = match File::open(&path) {
                Ok(f) => f,
                // No tcp6 means IPv6 is disabled here: there are no v6 sockets to miss.
                Err(e) if family == Family::V6 && e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CollectError::io(format!("open {}", path.display()), e)),
            };
            parser
                .feed(BufReader::with_capacity(READ_BUFFER, file), family, req)
                .map_err(|e| CollectError::io(format!("read {}", path.display()), e))?;
        }
        Ok(parser.finish())
    }

    /// `unix` from the same directory (no queues, no uid: those stay `None`).
    fn dump_unix(&mut self, req: &DumpRequest) -> Result<UnixDump, CollectError> {
        let path = self.root.join("unix");
        let file = File::open(&path)
            .map_err(|e| CollectError::io(format!("open {}", path.display()), e))?;
        let mut parser = UnixParser::new(self.limits_for(SockstatLine::None), req.state_mask);
        parser
            .feed(BufReader::with_capacity(READ_BUFFER, file))
            .map_err(|e| CollectError::io(format!("read {}", path.display()), e))?;
        Ok(parser.finish())
    }
}
