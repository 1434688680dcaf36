//! The netfilter conntrack table of the calling thread's network namespace: how full it is
//! (`/proc/sys/net/netfilter/nf_conntrack_{count,max,buckets}`) and what it refused
//! (`/proc/net/stat/nf_conntrack`, one line of hex counters per CPU).
//!
//! Owns the parsers ([`parse_stat`] over `impl BufRead`, [`parse_value`] over `&str`; both
//! pure and fuzzed) and the thin reader [`read_conntrack`]. Rates and verdicts belong to
//! `analyze`; entering the namespace belongs to `netns` (the collector thread is already in
//! it: `/proc/sys/net` and `/proc/thread-self/net` follow the thread).
//!
//! When `nf_conntrack` is not loaded the files do not exist: that is no error, only a
//! reason kept beside the counters, said once where the table would be shown.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::model::Conntrack;

/// The per-CPU statistics file, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedStat {
    /// Each column summed over the CPU lines, by header name (`entries` excluded).
    pub stats: std::collections::BTreeMap<String, u64>,
    /// The `entries` column (the namespace's entry count, repeated on every line): the
    /// largest value seen, when the column exists.
    pub entries: Option<u64>,
    /// CPU lines summed.
    pub cpus: u32,
    /// Malformed lines (each skipped whole) and a missing or duplicated header.
    pub errors: u64,
}

/// What one read of the namespace's conntrack files gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConntrackRead {
    /// The table, when the module is loaded.
    pub conntrack: Option<Conntrack>,
    /// Why there is none (module not loaded, count unreadable).
    pub absent: Option<String>,
    /// Parse errors met: malformed statistic lines and unparsable values.
    pub errors: u64,
}

/// The column that repeats the entry count on every CPU's line rather than counting per
/// CPU: taken once, not summed.
const ENTRIES: &str = "entries";

/// No real statistics line comes near this; a longer one is garbage, not a kernel line.
const MAX_COLUMNS: usize = 256;

/// Parses `/proc/net/stat/nf_conntrack`: a header of column names, then one line of
/// 8-digit hex values per CPU. Sums every column over the CPU lines by its header name, so
/// a kernel that adds, drops or reorders columns still parses; columns are kept under
/// whatever names the kernel gives them (an unknown one is summed like the rest, and
/// ignored by the verdicts). A line whose field count differs from the header's, or with
/// a value that is not hex, is skipped whole and counted as an error (summing part of it
/// would put numbers under the wrong names). A read failure counts one and ends the parse.
pub fn parse_stat<R: BufRead>(mut reader: R) -> ParsedStat {
    let mut out = ParsedStat::default();
    let mut header: Option<Vec<String>> = None;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => {
                out.errors += 1;
                break;
            }
        }
        let line = String::from_utf8_lossy(&buf);
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let Some(names) = &header else {
            if fields.len() > MAX_COLUMNS || fields.iter().any(|f| !is_name(f)) {
                out.errors += 1;
                // Without a header no value line can be placed: the rest is unreadable.
                return out;
            }
            header = Some(fields.iter().map(|s| s.to_string()).collect());
            continue;
        };
        if fields.len() != names.len() {
            out.errors += 1;
            continue;
        }
        let Some(values) = fields
            .iter()
            .map(|f| u64::from_str_radix(f, 16).ok())
            .collect::<Option<Vec<u64>>>()
        else {
            out.errors += 1;
            continue;
        };
        out.cpus = out.cpus.saturating_add(1);
        for (name, v) in names.iter().zip(values) {
            if name == ENTRIES {
                out.entries = Some(out.entries.map_or(v, |e| e.max(v)));
            } else {
                let sum = out.stats.entry(name.clone()).or_insert(0);
                *sum = sum.saturating_add(v);
            }
        }
    }
    if header.is_none() && out.errors == 0 && out.cpus == 0 {
        // An empty file: no header to speak of, which is one error, not silence.
        out.errors += 1;
    }
    out
}

/// A header name: what the kernel prints (`insert_failed`, `search_restart`). A hex
/// value (8 hex digits, `0000001a`) is not one, so a file that lost its header does not take its
/// first CPU line for names.
fn is_name(s: &str) -> bool {
    let value_shaped = s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit());
    s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !value_shaped
}

/// Parses a one-number sysctl file (`262144\n`).
pub fn parse_value(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// Opens a procfs file plainly, as `sysctl.rs` and `counters.rs` do. Not through
/// `safefs`'s config kind: in a network namespace owned by a user namespace (rootless
/// podman, LXC) these files belong to that namespace's root (uid 100000, say), and the
/// root-owner rule would refuse them, so conntrack_full would never run there. The paths
/// are fixed kernel paths, and every read is capped.
fn open_proc(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// Reads a sysctl value (at most 4 KiB): `Ok(None)` when the file does not exist.
fn read_value(path: &Path) -> Result<Option<String>, String> {
    match open_proc(path) {
        Ok(f) => {
            let mut s = String::new();
            f.take(4096)
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Ok(Some(s))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot open {}: {e}", path.display())),
    }
}

/// Reads the conntrack files: `nf_conntrack_{count,max,buckets}` under `sys_dir` (normally
/// `/proc/sys/net/netfilter`) and the statistics at `stat`. A missing count file means the
/// module is not loaded: `conntrack` is `None` and `absent` says so. A missing or
/// unreadable max, buckets or statistics file leaves that part empty.
pub fn read_conntrack_from(sys_dir: &Path, stat: &Path) -> ConntrackRead {
    let mut out = ConntrackRead::default();
    let count_path = sys_dir.join("nf_conntrack_count");
    let count = match read_value(&count_path) {
        Ok(Some(text)) => match parse_value(&text) {
            Some(v) => v,
            None => {
                out.errors += 1;
                out.absent = Some(format!("{} is not a number", count_path.display()));
                return out;
            }
        },
        Ok(None) => {
            out.absent = Some("nf_conntrack is not loaded (no connection tracking)".into());
            return out;
        }
        Err(e) => {
            out.absent = Some(e);
            return out;
        }
    };
    let mut number = |name: &str| match read_value(&sys_dir.join(name)) {
        Ok(Some(text)) => {
            let v = parse_value(&text);
            out.errors += u64::from(v.is_none());
            v
        }
        _ => None,
    };
    let max = number("nf_conntrack_max");
    let buckets = number("nf_conntrack_buckets");
    let parsed = match open_proc(stat) {
        Ok(f) => parse_stat(BufReader::new(f.take(1 << 20))),
        Err(_) => ParsedStat::default(),
    };
    out.errors += parsed.errors;
    out.conntrack = Some(Conntrack {
        count,
        max,
        buckets,
        stats: parsed.stats,
        cpus: parsed.cpus,
        dropped_stats: 0,
    });
    out
}

/// Reads the conntrack table of the calling thread's network namespace.
pub fn read_conntrack() -> ConntrackRead {
    read_conntrack_from(
        Path::new("/proc/sys/net/netfilter"),
        Path::new("/proc/thread-self/net/stat/nf_conntrack"),
    )
}

#[cfg(test)]
#[path = "conntrack_tests.rs"]
mod tests;
