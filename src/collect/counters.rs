//! Kernel counters: `TcpExt` from `/proc/net/netstat`, `Tcp` and `Udp` from
//! `/proc/net/snmp`, and `Udp6*` from `/proc/net/snmp6`.
//!
//! Owns the parsers for those files ([`parse_counters`] for header/value line pairs,
//! [`parse_snmp6`] for snmp6's one-counter-per-line form; both pure over `impl BufRead`,
//! fuzzed) and reading them for the calling thread's network namespace. Rates (deltas
//! between polls) belong to `analyze`, not here.
//!
//! Both files are sequences of pairs: `Prefix: Name1 Name2 …` then `Prefix: v1 v2 …`. A pair
//! whose lengths differ is dropped whole, because zipping it would silently shift every
//! counter after the gap onto the wrong name.

use std::io::BufRead;
use std::path::Path;

use crate::collect::CollectError;
use crate::model::KernelCounters;

/// Counters read from one or more files, with the parse errors met on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedCounters {
    /// TcpExt and Tcp counters.
    pub counters: KernelCounters,
    /// Malformed pairs, values and lines; each one skipped, never fatal.
    pub errors: u64,
}

/// Parses netstat- or snmp-format text from `reader` into `out`; returns the number of
/// parse errors. Only `TcpExt`, `Tcp` and `Udp` are stored; other sections (Ip, UdpLite,
/// IpExt, MPTcpExt …) are checked for shape and skipped. Call it once per file to fold both into one [`KernelCounters`].
///
/// Errors counted: a line without `Prefix:`, a header with no value line after it, a pair
/// whose lengths differ (dropped whole), a value that is not an integer, and a read
/// failure (which ends the parse). Negative values are skipped without an error: the only
/// signed one is Tcp `MaxConn`, -1 meaning "no limit", which [`KernelCounters`] (u64)
/// cannot hold.
pub fn parse_counters<R: BufRead>(mut reader: R, out: &mut KernelCounters) -> u64 {
    let mut errors = 0u64;
    let mut header: Option<(String, Vec<String>)> = None;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => {
                errors += 1;
                break;
            }
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((prefix, rest)) = line.split_once(':') else {
            errors += 1;
            continue;
        };
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        match header.take() {
            Some((hp, names)) if hp == prefix => {
                errors += store_pair(prefix, &names, &fields, out);
            }
            pending => {
                if pending.is_some() {
                    // The previous header never got its value line.
                    errors += 1;
                }
                header = Some((
                    prefix.to_string(),
                    fields.iter().map(|s| s.to_string()).collect(),
                ));
            }
        }
    }
    if header.is_some() {
        errors += 1;
    }
    errors
}

/// Stores one header/value pair when its section is kept; returns errors found.
fn store_pair(prefix: &str, names: &[String], values: &[&str], out: &mut KernelCounters) -> u64 {
    if names.len() != values.len() {
        return 1;
    }
    let mut map = match prefix {
        "TcpExt" => Some(&mut out.tcp_ext),
        "Tcp" => Some(&mut out.tcp),
        "Udp" => Some(&mut out.udp),
        _ => None,
    };
    let mut errors = 0;
    for (name, value) in names.iter().zip(values) {
        let parsed = match value.parse::<u64>() {
            Ok(v) => Some(v),
            // Valid but negative: Tcp MaxConn's -1.
            Err(_) if value.parse::<i64>().is_ok() => None,
            Err(_) => {
                errors += 1;
                None
            }
        };
        if let (Some(m), Some(v)) = (map.as_deref_mut(), parsed) {
            m.insert(name.clone(), v);
        }
    }
    errors
}

/// Parses `/proc/net/snmp6` text (`Name<whitespace>value` per line) into `out.udp6`,
/// keeping the `Udp6` counters with the prefix stripped (`Udp6InErrors` is stored as
/// `InErrors`, the name `Udp:` uses); returns the number of parse errors. Other counters
/// (Ip6, Icmp6, UdpLite6 …) are checked for shape and skipped. Errors counted: a line
/// that is not exactly a name and a value, a value that is not an integer, and a read
/// failure (which ends the parse).
pub fn parse_snmp6<R: BufRead>(mut reader: R, out: &mut KernelCounters) -> u64 {
    let mut errors = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => {
                errors += 1;
                break;
            }
        }
        let line = String::from_utf8_lossy(&buf);
        let mut it = line.split_ascii_whitespace();
        let (name, value) = match (it.next(), it.next(), it.next()) {
            (None, _, _) => continue,
            (Some(n), Some(v), None) => (n, v),
            _ => {
                errors += 1;
                continue;
            }
        };
        let Ok(value) = value.parse::<u64>() else {
            errors += 1;
            continue;
        };
        if let Some(short) = name.strip_prefix("Udp6").filter(|s| !s.is_empty()) {
            out.udp6.insert(short.to_string(), value);
        }
    }
    errors
}

/// Parses `/proc/net/protocols` (a header, then `name size sockets memory …` per protocol)
/// into `out.sockets_in_use`: the `sockets` column by protocol name. Returns the number of
/// lines that did not have that shape (a read failure counts one and ends the parse).
pub fn parse_protocols<R: BufRead>(mut reader: R, out: &mut KernelCounters) -> u64 {
    let mut errors = 0u64;
    let mut buf = Vec::new();
    let mut header = true;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => {
                errors += 1;
                break;
            }
        }
        let line = String::from_utf8_lossy(&buf);
        let mut it = line.split_ascii_whitespace();
        let (Some(name), Some(size), Some(sockets)) = (it.next(), it.next(), it.next()) else {
            errors += u64::from(!line.trim().is_empty());
            continue;
        };
        if std::mem::take(&mut header) && name == "protocol" {
            continue;
        }
        match (size.parse::<u64>(), sockets.parse::<u64>()) {
            (Ok(_), Ok(n)) => {
                out.sockets_in_use.insert(name.to_string(), n);
            }
            _ => errors += 1,
        }
    }
    errors
}

/// Reads `/proc/thread-self/net/protocols` into `parsed` (see [`parse_protocols`]).
pub fn read_protocols_from(path: &Path, parsed: &mut ParsedCounters) -> Result<(), CollectError> {
    let f = std::fs::File::open(path)
        .map_err(|e| CollectError::io(format!("open {}", path.display()), e))?;
    parsed.errors += parse_protocols(std::io::BufReader::new(f), &mut parsed.counters);
    Ok(())
}

/// Reads and parses `netstat` and `snmp` files at the given paths.
pub fn read_counters_from(netstat: &Path, snmp: &Path) -> Result<ParsedCounters, CollectError> {
    let mut parsed = ParsedCounters::default();
    for path in [netstat, snmp] {
        let f = std::fs::File::open(path)
            .map_err(|e| CollectError::io(format!("open {}", path.display()), e))?;
        parsed.errors += parse_counters(std::io::BufReader::new(f), &mut parsed.counters);
    }
    Ok(parsed)
}

/// Reads TcpExt and Tcp counters of the calling thread's network namespace, with the
/// parse error count.
///
/// `/proc/thread-self/net` rather than `/proc/net` (= `/proc/self/net`, the main thread's
/// namespace): a collector thread that entered another netns reads that netns.
pub fn read_counters_checked() -> Result<ParsedCounters, CollectError> {
    read_counters_from(
        Path::new("/proc/thread-self/net/netstat"),
        Path::new("/proc/thread-self/net/snmp"),
    )
}

/// Reads `snmp6` at `path` into `parsed` (its `Udp6` counters). A missing file means IPv6
/// is disabled here: nothing to read, not an error.
pub fn read_snmp6_from(path: &Path, parsed: &mut ParsedCounters) -> Result<(), CollectError> {
    match std::fs::File::open(path) {
        Ok(f) => {
            parsed.errors += parse_snmp6(std::io::BufReader::new(f), &mut parsed.counters);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CollectError::io(format!("open {}", path.display()), e)),
    }
}

/// [`read_counters_checked`] plus the `Udp6` counters of `/proc/thread-self/net/snmp6`,
/// for runs that collect UDP (a TCP-only run does not read the extra file).
pub fn read_counters_with_udp6() -> Result<ParsedCounters, CollectError> {
    let mut parsed = read_counters_checked()?;
    read_snmp6_from(Path::new("/proc/thread-self/net/snmp6"), &mut parsed)?;
    Ok(parsed)
}

/// Reads TcpExt and Tcp counters of the calling thread's network namespace.
/// Malformed entries are skipped; see [`read_counters_checked`] for their count.
pub fn read_counters() -> Result<KernelCounters, CollectError> {
    read_counters_checked().map(|p| p.counters)
}

#[cfg(test)]
#[path = "counters_tests.rs"]
mod tests;
