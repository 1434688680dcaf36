//! The streaming line format of `sockscope watch`, like vmstat: one line per interval with
//! the key states and their change since the previous line, and the active findings. Text
//! repeats its header every [`HEADER_EVERY`] lines; jsonl writes one self-contained object
//! per line carrying `schema_version`.

use std::io::{self, Write};

use serde::Serialize;

use super::json::{StatesJson, SCHEMA_VERSION};
use crate::analyze::finding::{Alert, AlertPhase};
use crate::model::{Snapshot, StateCounts, TcpState};
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
}

fn delta(now: u64, before: Option<u64>) -> i64 {
    before.map_or(0, |b| {
        i64::try_from(now).unwrap_or(i64::MAX) - i64::try_from(b).unwrap_or(i64::MAX)
    })
}

/// Writes one text line, preceded by the header on the first line and every
/// [`HEADER_EVERY`] lines after.
pub fn write_text(out: &mut impl Write, line: &WatchLine<'_>) -> io::Result<()> {
    if line.line_no % HEADER_EVERY == 0 {
        write!(out, "{:<8} {:>8}", "time", "total")?;
        for s in KEY_STATES {
            write!(out, " {:>17}", s.netstat_name())?;
        }
        writeln!(out, "  findings")?;
    }
    let time = rfc3339(line.snapshot.taken_at_ms);
    let hms = time.get(11..19).unwrap_or(&time);
    write!(out, "{hms:<8} {:>8}", line.states.total())?;
    for s in KEY_STATES {
        let n = line.states.get(s);
        let d = delta(n, line.previous.map(|p| p.get(s)));
        let cell = if line.previous.is_some() {
            format!("{n} ({d:+})")
        } else {
            n.to_string()
        };
        write!(out, " {cell:>17}")?;
    }
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
    };
    serde_json::to_writer(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{snapshot, sock};
    use crate::model::Owner;

    #[test]
    fn header_repeats_and_deltas_show() {
        let snap = snapshot(vec![sock(
            TcpState::CloseWait,
            "127.0.0.1:80",
            "127.0.0.1:5000",
            Owner::Process(42),
        )]);
        let states = snap.state_counts();
        let mut out = Vec::new();
        for i in 0..(HEADER_EVERY + 1) {
            let line = WatchLine {
                snapshot: &snap,
                states,
                previous: (i > 0).then(StateCounts::default),
                alerts: &[],
                line_no: i,
            };
            write_text(&mut out, &line).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().filter(|l| l.starts_with("time")).count(), 2);
        assert!(text.lines().nth(2).unwrap().contains("1 (+1)"), "{text}");
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        let snap = snapshot(vec![]);
        let mut out = Vec::new();
        let line = WatchLine {
            snapshot: &snap,
            states: StateCounts::default(),
            previous: None,
            alerts: &[],
            line_no: 0,
        };
        write_jsonl(&mut out, &line).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["states"]["CLOSE_WAIT"], 0);
    }
}
