//! The streaming line format of `sockscope watch`, like vmstat: one line per interval with
//! the key states and their change since the previous line, and the active findings. Text
//! repeats its header every [`HEADER_EVERY`] lines; jsonl writes one self-contained object
//! per line carrying `schema_version`.
//!
//! With `-u` / `-x` a line also carries UDP and UNIX: their states and changes, UDP drops
//! in the interval (the sockets' counters' growth, [`udp_drops_between`], and the host's
//! `Udp:`/`Udp6:` error counters) and the fullest UNIX listener. A TCP-only line is what it
//! always was, byte for byte.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::ser::SerializeMap;
use serde::Serialize;

use super::json::{StatesJson, SCHEMA_VERSION};
use crate::analyze::finding::{Alert, AlertPhase};
use crate::analyze::proto_counts::ProtoAggregate;
use crate::model::{
    udp_drops_between, KernelCounters, Protocol, Protocols, Snapshot, StateCounts, TcpState,
};
use crate::record::time::rfc3339;

/// Text header repeats after this many data lines.
pub const HEADER_EVERY: usize = 20;

/// The states a text line shows, in column order.
pub const KEY_STATES: [TcpState; 6] = [
    TcpState::Established,
    TcpState::SynRecv,
    TcpState::TimeWait,
    TcpState::CloseWait,
    TcpState::FinWait2,
    TcpState::Listen,
];

/// One line of the stream.
pub struct WatchLine<'a> {
    /// The snapshot of this tick.
    pub snapshot: &'a Snapshot,
    /// Per-state counts of this tick.
    pub states: StateCounts,
    /// Per-state counts of the previous tick, if any.
    pub previous: Option<StateCounts>,
    /// Current alerts; only firing ones are printed.
    pub alerts: &'a [Alert],
    /// Zero-based line number (decides when the text header repeats).
    pub line_no: usize,
    /// The previous tick's snapshot, if any (UDP drops and host counters in the interval).
    pub previous_snapshot: Option<&'a Snapshot>,
    /// UDP counts, when the snapshot collected UDP.
    pub udp: Option<ProtoLine<'a>>,
    /// UNIX counts, when the snapshot collected UNIX sockets.
    pub unix: Option<ProtoLine<'a>>,
}

/// One protocol's counts in a line: this tick's and the previous tick's.
#[derive(Clone, Copy)]
pub struct ProtoLine<'a> {
    /// This tick.
    pub now: &'a ProtoAggregate,
    /// The previous tick (none on the first line).
    pub previous: Option<&'a ProtoAggregate>,
}

/// The states a UDP or UNIX line always shows (as `ss` spells them); others while non-zero.
fn proto_states(p: Protocol) -> &'static [TcpState] {
    match p {
        Protocol::Udp => &[TcpState::Established, TcpState::Close],
        _ => &[TcpState::Established, TcpState::Close, TcpState::Listen],
    }
}

/// The host's `Udp:` plus `Udp6:` counters a UDP line reports, in this order.
const HOST_UDP: [&str; 3] = ["RcvbufErrors", "InErrors", "NoPorts"];

fn host_udp(c: &KernelCounters, name: &str) -> Option<u64> {
    match (c.udp.get(name), c.udp6.get(name)) {
        (None, None) => None,
        (a, b) => Some(a.copied().unwrap_or(0) + b.copied().unwrap_or(0)),
    }
}

impl WatchLine<'_> {
    /// Drops on UDP sockets since the previous line; `None` on the first line.
    fn udp_drops(&self) -> Option<u64> {
        self.udp?;
        let before = self.previous_snapshot?;
        Some(udp_drops_between(&before.udp, &self.snapshot.udp))
    }

    /// A host UDP counter's growth since the previous line (a counter that went down, a
    /// reset, counts from zero).
    fn host_udp_delta(&self, name: &str) -> Option<u64> {
        let now = host_udp(self.snapshot.counters.as_ref()?, name)?;
        let before = host_udp(self.previous_snapshot?.counters.as_ref()?, name)?;
        Some(now.checked_sub(before).unwrap_or(now))
    }

    fn tcp(&self) -> bool {
        self.snapshot.protocols.contains(Protocol::Tcp)
    }
}

fn delta(now: u64, before: Option<u64>) -> i64 {
    before.map_or(0, |b| {
        i64::try_from(now).unwrap_or(i64::MAX) - i64::try_from(b).unwrap_or(i64::MAX)
    })
}

/// Writes one text line, preceded by the header on the first line and every
/// [`HEADER_EVERY`] lines after.
pub fn write_text(out: &mut impl Write, line: &WatchLine<'_>) -> io::Result<()> {
    let tcp = line.tcp();
    if line.line_no % HEADER_EVERY == 0 {
        write!(out, "{:<8}", "time")?;
        if tcp {
            // "total" is TCP's alone, as it always was; beside other protocols it says so.
            let only_tcp = line.snapshot.protocols == Protocols::TCP;
            write!(out, " {:>8}", if only_tcp { "total" } else { "tcp" })?;
            for s in KEY_STATES {
                write!(out, " {:>17}", s.netstat_name())?;
            }
        }
        text_header(out, line)?;
        writeln!(out, "  findings")?;
    }
    let time = rfc3339(line.snapshot.taken_at_ms);
    let hms = time.get(11..19).unwrap_or(&time);
    write!(out, "{hms:<8}")?;
    if tcp {
        write!(out, " {:>8}", line.states.total())?;
        for s in KEY_STATES {
            let n = line.states.get(s);
            write!(out, " {:>17}", cell(n, line.previous.map(|p| p.get(s))))?;
        }
    }
    text_protocols(out, line)?;
    let firing: Vec<&Alert> = line
        .alerts
        .iter()
        .filter(|a| a.phase == AlertPhase::Firing)
        .collect();
    if firing.is_empty() {
        writeln!(out, "  -")
    } else {
        let msgs: Vec<String> = firing
            .iter()
            .map(|a| format!("{}: {}", a.finding.rule.as_str(), a.finding.message))
            .collect();
        writeln!(out, "  {}", msgs.join("; "))
    }
}

/// `n`, and `n (+d)` once there is a previous value.
fn cell(n: u64, before: Option<u64>) -> String {
    match before {
        Some(b) => format!("{n} ({:+})", delta(n, Some(b))),
        None => n.to_string(),
    }
}

/// Width of a UDP or UNIX column.
const PROTO_CELL: usize = 13;

fn text_header(out: &mut impl Write, line: &WatchLine<'_>) -> io::Result<()> {
    for (p, pl) in [(Protocol::Udp, &line.udp), (Protocol::Unix, &line.unix)] {
        if pl.is_none() {
            continue;
        }
        write!(out, " {:>PROTO_CELL$}", p.name())?;
        for &s in proto_states(p) {
            let head = format!("{}_{}", p.name(), p.state_name(s));
            write!(out, " {head:>PROTO_CELL$}")?;
        }
        let last = if p == Protocol::Udp {
            "udp_drops"
        } else {
            "unix_fullest"
        };
        write!(out, " {last:>PROTO_CELL$}")?;
    }
    Ok(())
}

fn text_protocols(out: &mut impl Write, line: &WatchLine<'_>) -> io::Result<()> {
    for (p, pl) in [(Protocol::Udp, &line.udp), (Protocol::Unix, &line.unix)] {
        let Some(pl) = pl else { continue };
        let before = |f: &dyn Fn(&ProtoAggregate) -> u64| pl.previous.map(f);
        write!(
            out,
            " {:>PROTO_CELL$}",
            cell(pl.now.total(), before(&|a| a.total()))
        )?;
        for &s in proto_states(p) {
            let c = cell(pl.now.states.get(s), before(&|a| a.states.get(s)));
            write!(out, " {c:>PROTO_CELL$}")?;
        }
        let last = if p == Protocol::Udp {
            line.udp_drops()
                .map_or_else(|| "-".to_string(), |d| d.to_string())
        } else {
            fullest(pl.now)
        };
        write!(out, " {last:>PROTO_CELL$}")?;
    }
    Ok(())
}

/// The fullest UNIX listener's `pending/backlog`, `-` when no listener has known queues.
fn fullest(agg: &ProtoAggregate) -> String {
    agg.unix_listeners
        .iter()
        .find_map(|l| Some(format!("{}/{}", l.pending?, l.backlog?)))
        .unwrap_or_else(|| "-".to_string())
}

#[derive(Serialize)]
struct JsonLine<'a> {
    schema_version: u32,
    taken_at: String,
    source: &'a str,
    netns: &'a str,
    total: u64,
    states: StatesJson,
    deltas: Option<DeltasJson>,
    unattributed: u64,
    findings: Vec<FindingJson<'a>>,
    /// Present only when the run is not TCP alone: says which of the keys above are real
    /// (TCP's are zeros when TCP was not collected).
    #[serde(skip_serializing_if = "Option::is_none")]
    protocols: Option<Protocols>,
    #[serde(skip_serializing_if = "Option::is_none")]
    udp: Option<ProtoJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unix: Option<ProtoJson>,
}

/// A UDP or UNIX protocol's part of a jsonl line.
#[derive(Serialize)]
struct ProtoJson {
    total: u64,
    states: ProtoStatesJson,
    /// Change per state since the previous line (`null` on the first).
    deltas: Option<ProtoDeltasJson>,
    unattributed: u64,
    /// UDP: the open sockets' drop counters summed (each since its socket was created).
    #[serde(skip_serializing_if = "Option::is_none")]
    socket_drops: Option<u64>,
    /// UDP: drops counted on sockets since the previous line (`null` on the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    drops: Option<Option<u64>>,
    /// UDP: the host's Udp + Udp6 error counters (RcvbufErrors, InErrors, NoPorts).
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<BTreeMap<&'static str, u64>>,
    /// UDP: their growth since the previous line.
    #[serde(skip_serializing_if = "Option::is_none")]
    host_deltas: Option<BTreeMap<&'static str, u64>>,
    /// UNIX: sockets per type.
    #[serde(skip_serializing_if = "Option::is_none")]
    types: Option<BTreeMap<&'static str, u64>>,
}

/// States as the protocol spells them: the usual ones always, others while non-zero.
struct ProtoStatesJson(Protocol, StateCounts);

fn shown_states(p: Protocol, counts: &[StateCounts]) -> Vec<TcpState> {
    TcpState::ALL
        .into_iter()
        .filter(|s| proto_states(p).contains(s) || counts.iter().any(|c| c.get(*s) > 0))
        .collect()
}

impl Serialize for ProtoStatesJson {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let shown = shown_states(self.0, &[self.1]);
        let mut m = ser.serialize_map(Some(shown.len()))?;
        for s in shown {
            m.serialize_entry(self.0.state_name(s), &self.1.get(s))?;
        }
        m.end()
    }
}

struct ProtoDeltasJson(Protocol, StateCounts, StateCounts);

impl Serialize for ProtoDeltasJson {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let shown = shown_states(self.0, &[self.1, self.2]);
        let mut m = ser.serialize_map(Some(shown.len()))?;
        for s in shown {
            let d = delta(self.1.get(s), Some(self.2.get(s)));
            m.serialize_entry(self.0.state_name(s), &d)?;
        }
        m.end()
    }
}

fn proto_json(line: &WatchLine<'_>, pl: ProtoLine<'_>) -> ProtoJson {
    let p = pl.now.protocol;
    let udp = p == Protocol::Udp;
    let snap = line.snapshot;
    let drops_known = snap.udp.is_empty() || snap.udp.iter().any(|s| s.skmem.is_some());
    let host = |f: &dyn Fn(&str) -> Option<u64>| -> Option<BTreeMap<&'static str, u64>> {
        let m: BTreeMap<&'static str, u64> =
            HOST_UDP.iter().filter_map(|&n| Some((n, f(n)?))).collect();
        (udp && !m.is_empty()).then_some(m)
    };
    ProtoJson {
        total: pl.now.total(),
        states: ProtoStatesJson(p, pl.now.states),
        deltas: pl
            .previous
            .map(|b| ProtoDeltasJson(p, pl.now.states, b.states)),
        unattributed: pl.now.unattributed,
        socket_drops: (udp && drops_known).then_some(pl.now.drops),
        drops: udp.then(|| line.udp_drops()),
        host: host(&|n| host_udp(snap.counters.as_ref()?, n)),
        host_deltas: host(&|n| line.host_udp_delta(n)),
        types: (!udp).then(|| {
            ["stream", "dgram", "seqpacket"]
                .into_iter()
                .zip(pl.now.unix_kinds)
                .collect()
        }),
    }
}

struct DeltasJson(StateCounts, StateCounts);

impl Serialize for DeltasJson {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = ser.serialize_map(Some(TcpState::ALL.len()))?;
        for s in TcpState::ALL {
            m.serialize_entry(s.netstat_name(), &delta(self.0.get(s), Some(self.1.get(s))))?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct FindingJson<'a> {
    rule: &'static str,
    severity: crate::analyze::finding::Severity,
    phase: AlertPhase,
    subject: &'a crate::analyze::finding::Subject,
    /// When the alert was first seen (RFC 3339): a service's survives its restarts.
    since: String,
    count: u64,
    /// Growth per minute, when known.
    growth_per_min: Option<f64>,
    /// The oldest socket's age in its state, as `check` and the dashboard give it.
    oldest_age_s: Option<u64>,
    /// True when that age is only a lower bound (there when sockscope started).
    oldest_age_lower_bound: bool,
    message: &'a str,
}

/// Writes one jsonl object.
pub fn write_jsonl(out: &mut impl Write, line: &WatchLine<'_>) -> io::Result<()> {
    let snap = line.snapshot;
    let doc = JsonLine {
        schema_version: SCHEMA_VERSION,
        taken_at: rfc3339(snap.taken_at_ms),
        source: snap.source.name(),
        netns: &snap.netns,
        total: line.states.total(),
        states: StatesJson(line.states),
        deltas: line.previous.map(|p| DeltasJson(line.states, p)),
        unattributed: snap.unattributed(),
        findings: line
            .alerts
            .iter()
            .filter(|a| a.phase != AlertPhase::Resolved)
            .map(|a| FindingJson {
                rule: a.finding.rule.as_str(),
                severity: a.finding.severity,
                phase: a.phase,
                subject: &a.finding.subject,
                since: rfc3339(a.since_ms),
                count: a.finding.count,
                growth_per_min: a.finding.growth_per_min,
                oldest_age_s: a.finding.oldest_age_s,
                oldest_age_lower_bound: a
                    .finding
                    .metrics
                    .get("oldest_age_lower_bound")
                    .is_some_and(|&v| v > 0.0),
                message: &a.finding.message,
            })
            .collect(),
        protocols: (snap.protocols != Protocols::TCP).then_some(snap.protocols),
        udp: line.udp.map(|pl| proto_json(line, pl)),
        unix: line.unix.map(|pl| proto_json(line, pl)),
    };
    serde_json::to_writer(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
