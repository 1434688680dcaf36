//! The `check` output: Nagios-convention text (status line, optional perfdata, one line per
//! finding), JSON through its own serde structs (`schema_version: 1`), and the exit code.
//! Pure over findings; it never collects or analyses. With UDP or UNIX checked (`-u`, `-x`)
//! the status line counts each protocol, perfdata and JSON gain their per-state counts; the
//! default (TCP alone) prints exactly what it always printed.
//!
//! Exit codes: 0 OK, 1 WARNING, 2 CRITICAL. 3 (UNKNOWN) belongs to the caller, for a check
//! that could not run.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::analyze::finding::{Finding, Severity};
use crate::analyze::proto_counts::ProtoAggregate;
use crate::model::{Protocol, Protocols, StateCounts, TcpState};

/// What the status line says besides the findings.
#[derive(Debug, Clone, Default)]
pub struct CheckSummary {
    /// Sockets in the last sample, per state.
    pub states: StateCounts,
    /// The namespace checked.
    pub netns: String,
    /// Append Nagios perfdata (per-state counts) after `|`.
    pub perfdata: bool,
    /// Sockets no process could be named for in the last sample.
    pub unattributed: u64,
    /// Why, with the fix, when `unattributed > 0`.
    pub unattributed_reason: Option<&'static str>,
    /// The protocols checked ([`Protocols::TCP`], the default, keeps the TCP-only output).
    pub protocols: Protocols,
    /// Totals of the UDP and UNIX tables checked, in [`Protocol::ALL`] order.
    pub others: Vec<ProtoTotals>,
}

/// One UDP or UNIX table's counts for the status line, perfdata and JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoTotals {
    /// Which table.
    pub protocol: Protocol,
    /// Sockets per state.
    pub states: StateCounts,
    /// UDP: drop counters summed (since each socket was created).
    pub drops: u64,
    /// UNIX: listeners whose queues are unknown (the /proc/net/unix source), which
    /// `unix_accept_overflow` cannot judge.
    pub listeners_unknown_queue: u64,
}

impl ProtoTotals {
    /// The totals of one protocol's aggregate.
    pub fn of(agg: &ProtoAggregate) -> ProtoTotals {
        ProtoTotals {
            protocol: agg.protocol,
            states: agg.states,
            drops: agg.drops,
            listeners_unknown_queue: agg
                .unix_listeners
                .iter()
                .filter(|l| l.pending.is_none() || l.backlog.is_none())
                .count() as u64,
        }
    }

    /// Adds another namespace's totals of the same protocol.
    pub fn add(&mut self, other: &ProtoTotals) {
        for (a, b) in self.states.0.iter_mut().zip(other.states.0) {
            *a += b;
        }
        self.drops += other.drops;
        self.listeners_unknown_queue += other.listeners_unknown_queue;
    }

    /// The states perfdata and JSON always list for this protocol (the ones `ss` shows for
    /// it); JSON adds any other that is non-zero.
    fn main_states(&self) -> &'static [TcpState] {
        match self.protocol {
            Protocol::Udp => &[TcpState::Close, TcpState::Established],
            _ => &[
                TcpState::Listen,
                TcpState::Established,
                TcpState::Close,
                TcpState::SynSent,
            ],
        }
    }
}

impl CheckSummary {
    /// Whether this is the default TCP-only check, whose output never changes.
    fn tcp_only(&self) -> bool {
        self.protocols == Protocols::TCP
    }

    /// Sockets over every table checked.
    fn total(&self) -> u64 {
        let tcp = if self.protocols.contains(Protocol::Tcp) {
            self.states.total()
        } else {
            0
        };
        tcp + self.others.iter().map(|o| o.states.total()).sum::<u64>()
    }

    /// `40 sockets` (TCP alone), else `3 tcp, 12 udp, 40 unix sockets`.
    fn count_phrase(&self) -> String {
        if self.tcp_only() {
            return format!("{} sockets", self.states.total());
        }
        let mut parts = Vec::new();
        if self.protocols.contains(Protocol::Tcp) {
            parts.push(format!("{} tcp", self.states.total()));
        }
        for o in &self.others {
            parts.push(format!("{} {}", o.states.total(), o.protocol));
        }
        format!("{} sockets", parts.join(", "))
    }
}

/// The Nagios status of a set of findings.
fn status(findings: &[Finding]) -> (&'static str, i32) {
    match findings.iter().map(|f| f.severity).max() {
        None => ("OK", 0),
        Some(Severity::Warning) => ("WARNING", 1),
        Some(Severity::Critical) => ("CRITICAL", 2),
    }
}

/// 0 when there is no finding, 1 for warnings only, 2 when any is critical.
pub fn exit_code(findings: &[Finding]) -> i32 {
    status(findings).1
}

/// Findings worst first (severity, then count), stable for equal ones.
fn ordered(findings: &[Finding]) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = findings.iter().collect();
    v.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.count.cmp(&a.count)));
    v
}

/// Writes the Nagios text: `SOCKSCOPE CRITICAL - close_wait_leak: pid 4242 (java) holds 812
/// CLOSE_WAIT (+40/min, oldest 3h12m)` (worst finding first, `(+N more)` when there are
/// others), or `SOCKSCOPE OK - N sockets, no findings`; then one line per finding.
pub fn write_text(
    out: &mut impl Write,
    findings: &[Finding],
    summary: &CheckSummary,
) -> io::Result<()> {
    let (name, _) = status(findings);
    let v = ordered(findings);
    match v.first() {
        None => write!(
            out,
            "SOCKSCOPE OK - {}, no findings",
            summary.count_phrase()
        )?,
        Some(w) => {
            write!(
                out,
                "SOCKSCOPE {name} - {}{}: {}",
                w.rule.as_str(),
                no_pipe(&in_netns(w)),
                no_pipe(&w.message)
            )?;
            if v.len() > 1 {
                write!(out, " (+{} more)", v.len() - 1)?;
            }
        }
    }
    if summary.perfdata {
        write!(out, " |")?;
        if summary.protocols.contains(Protocol::Tcp) {
            for s in TcpState::ALL {
                write!(
                    out,
                    " {}={}",
                    s.netstat_name().to_ascii_lowercase(),
                    summary.states.get(s)
                )?;
            }
        }
        for o in &summary.others {
            let p = o.protocol;
            for &s in o.main_states() {
                let label = p.state_name(s).to_ascii_lowercase();
                write!(out, " {p}_{label}={}", o.states.get(s))?;
            }
            if p == Protocol::Udp {
                // A counter since each socket's creation: Nagios' `c` unit.
                write!(out, " udp_drops={}c", o.drops)?;
            }
        }
    }
    writeln!(out)?;
    for f in v {
        writeln!(
            out,
            "{} {}{}: {}",
            f.severity.name(),
            f.rule.as_str(),
            no_pipe(&in_netns(f)),
            no_pipe(&f.message)
        )?;
    }
    Ok(())
}

/// `text` with `|` shown as `¦`: in a Nagios plugin's output `|` starts the performance
/// data, and a finding's message carries names other users chose (a comm, a UNIX path such
/// as `/tmp/a|x=1`) that must not forge or cut it.
fn no_pipe(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('|') {
        text.replace('|', "\u{a6}").into()
    } else {
        text.into()
    }
}

/// ` [netns NAME]` for a finding outside the host namespace, so `--all-netns` and
/// `--netns` output says where each finding is; empty for the host.
fn in_netns(f: &Finding) -> String {
    if f.netns == "host" {
        String::new()
    } else {
        format!(" [netns {}]", f.netns)
    }
}

/// JSON document of the check (stable schema, independent of internal types).
#[derive(Debug, Serialize)]
struct CheckJson<'a> {
    schema_version: u32,
    status: &'static str,
    exit_code: i32,
    netns: &'a str,
    sockets: u64,
    /// TCP states; absent when TCP was not checked (`-u` or `-x` alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    states: Option<BTreeMap<&'static str, u64>>,
    /// The protocols checked; absent for the default TCP-only check.
    #[serde(skip_serializing_if = "Option::is_none")]
    protocols: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    udp: Option<ProtoJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unix: Option<ProtoJson>,
    findings: Vec<FindingJson<'a>>,
    unattributed: UnattributedJson,
}

/// A UDP or UNIX table in the check JSON: states spelled as ss spells them.
#[derive(Debug, Serialize)]
struct ProtoJson {
    sockets: u64,
    states: BTreeMap<&'static str, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    drops: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listeners_unknown_queue: Option<u64>,
}

impl ProtoJson {
    fn of(t: &ProtoTotals) -> ProtoJson {
        let p = t.protocol;
        let states = TcpState::ALL
            .iter()
            .filter(|s| t.main_states().contains(s) || t.states.get(**s) > 0)
            .map(|&s| (p.state_name(s), t.states.get(s)))
            .collect();
        ProtoJson {
            sockets: t.states.total(),
            states,
            drops: (p == Protocol::Udp).then_some(t.drops),
            listeners_unknown_queue: (p == Protocol::Unix).then_some(t.listeners_unknown_queue),
        }
    }
}

/// `{"count": N, "reason": "..."}`, as in the summary JSON.
#[derive(Debug, Serialize)]
struct UnattributedJson {
    count: u64,
    reason: Option<&'static str>,
}

#[derive(Debug, Serialize)]
struct FindingJson<'a> {
    rule: &'static str,
    severity: &'static str,
    subject: &'a crate::analyze::finding::Subject,
    netns: &'a str,
    count: u64,
    growth_per_min: Option<f64>,
    oldest_age_s: Option<u64>,
    threshold: f64,
    metrics: &'a BTreeMap<String, f64>,
    message: &'a str,
    detail: &'a str,
}

/// Writes the check as one JSON document (`schema_version: 1`) and a newline.
pub fn write_json(
    out: &mut impl Write,
    findings: &[Finding],
    summary: &CheckSummary,
) -> io::Result<()> {
    let (name, code) = status(findings);
    let other = |p: Protocol| {
        summary
            .others
            .iter()
            .find(|o| o.protocol == p)
            .map(ProtoJson::of)
    };
    let doc = CheckJson {
        schema_version: 1,
        status: name,
        exit_code: code,
        netns: &summary.netns,
        sockets: summary.total(),
        states: summary.protocols.contains(Protocol::Tcp).then(|| {
            TcpState::ALL
                .iter()
                .map(|&s| (s.netstat_name(), summary.states.get(s)))
                .collect()
        }),
        protocols: (!summary.tcp_only())
            .then(|| summary.protocols.iter().map(Protocol::name).collect()),
        udp: other(Protocol::Udp),
        unix: other(Protocol::Unix),
        findings: ordered(findings)
            .into_iter()
            .map(|f| FindingJson {
                rule: f.rule.as_str(),
                severity: match f.severity {
                    Severity::Warning => "warning",
                    Severity::Critical => "critical",
                },
                subject: &f.subject,
                netns: &f.netns,
                count: f.count,
                growth_per_min: f.growth_per_min,
                oldest_age_s: f.oldest_age_s,
                threshold: f.threshold,
                metrics: &f.metrics,
                message: &f.message,
                detail: &f.detail,
            })
            .collect(),
        unattributed: UnattributedJson {
            count: summary.unattributed,
            reason: summary
                .unattributed_reason
                .filter(|_| summary.unattributed > 0),
        },
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
