//! The `check` output: Nagios-convention text (status line, optional perfdata, one line per
//! finding), JSON through its own serde structs (`schema_version: 1`), and the exit code.
//! Pure over findings; it never collects or analyses.
//!
//! Exit codes: 0 OK, 1 WARNING, 2 CRITICAL. 3 (UNKNOWN) belongs to the caller, for a check
//! that could not run.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::analyze::finding::{Finding, Severity};
use crate::model::{StateCounts, TcpState};

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
    let total = summary.states.total();
    match v.first() {
        None => write!(out, "SOCKSCOPE OK - {total} sockets, no findings")?,
        Some(w) => {
            write!(
                out,
                "SOCKSCOPE {name} - {}{}: {}",
                w.rule.as_str(),
                in_netns(w),
                w.message
            )?;
            if v.len() > 1 {
                write!(out, " (+{} more)", v.len() - 1)?;
            }
        }
    }
    if summary.perfdata {
        write!(out, " |")?;
        for s in TcpState::ALL {
            write!(
                out,
                " {}={}",
                s.netstat_name().to_ascii_lowercase(),
                summary.states.get(s)
            )?;
        }
    }
    writeln!(out)?;
    for f in v {
        writeln!(
            out,
            "{} {}{}: {}",
            f.severity.name(),
            f.rule.as_str(),
            in_netns(f),
            f.message
        )?;
    }
    Ok(())
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
    states: BTreeMap<&'static str, u64>,
    findings: Vec<FindingJson<'a>>,
    unattributed: UnattributedJson,
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
    let doc = CheckJson {
        schema_version: 1,
        status: name,
        exit_code: code,
        netns: &summary.netns,
        sockets: summary.states.total(),
        states: TcpState::ALL
            .iter()
            .map(|&s| (s.netstat_name(), summary.states.get(s)))
            .collect(),
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
mod tests {
    use super::*;
    use crate::analyze::finding::Subject;
    use crate::model::{Name, RuleId};

    fn f(sev: Severity, count: u64, msg: &str) -> Finding {
        Finding {
            rule: RuleId::CloseWaitLeak,
            severity: sev,
            subject: Subject::Host,
            netns: "host".into(),
            count,
            growth_per_min: Some(40.0),
            oldest_age_s: Some(11_520),
            threshold: 200.0,
            metrics: BTreeMap::new(),
            message: msg.into(),
            detail: "d".into(),
        }
    }

    #[test]
    fn a_hostile_comm_cannot_split_or_forge_the_status_line() {
        // As the detectors build it: the subject's Display and a message formatting the
        // comm, a Name, so both are escaped.
        let comm = Name::from("x\nSOCKSCOPE OK - 0 sockets\r\x1b[2K");
        let mut finding = f(
            Severity::Critical,
            5,
            &format!("pid 9 ({comm}) holds 5 CLOSE_WAIT"),
        );
        finding.subject = Subject::Process {
            pid: 9,
            comm,
            user: Name::from("root"),
        };
        let mut out = Vec::new();
        write_text(&mut out, &[finding], &CheckSummary::default()).unwrap();
        let s = String::from_utf8(out).unwrap();
        let first = s.lines().next().unwrap();
        assert_eq!(
            first,
            "SOCKSCOPE CRITICAL - close_wait_leak: pid 9 (x\\nSOCKSCOPE OK - 0 sockets\\r\\e[2K) \
             holds 5 CLOSE_WAIT"
        );
        assert!(
            !s.lines().skip(1).any(|l| l.starts_with("SOCKSCOPE")),
            "{s}"
        );
        assert!(!s.bytes().any(|b| b < 0x20 && b != b'\n'), "{s:?}");
    }

    #[test]
    fn ok_line_and_code() {
        let mut states = StateCounts::default();
        states.add(TcpState::Established);
        let sum = CheckSummary {
            states,
            netns: "host".into(),
            perfdata: true,
            unattributed: 0,
            unattributed_reason: Some("ignored when the count is 0"),
        };
        let mut out = Vec::new();
        write_text(&mut out, &[], &sum).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.starts_with("SOCKSCOPE OK - 1 sockets, no findings | established=1 "),
            "{s}"
        );
        assert_eq!(exit_code(&[]), 0);
    }

    #[test]
    fn worst_first_and_json_schema() {
        let fs = vec![
            f(Severity::Warning, 300, "pid 1 (a) holds 300 CLOSE_WAIT"),
            f(
                Severity::Critical,
                812,
                "pid 4242 (java) holds 812 CLOSE_WAIT (+40/min, oldest 3h12m)",
            ),
        ];
        let sum = CheckSummary::default();
        let mut out = Vec::new();
        write_text(&mut out, &fs, &sum).unwrap();
        let s = String::from_utf8(out).unwrap();
        let first = s.lines().next().unwrap();
        assert_eq!(
            first,
            "SOCKSCOPE CRITICAL - close_wait_leak: pid 4242 (java) holds 812 CLOSE_WAIT \
             (+40/min, oldest 3h12m) (+1 more)"
        );
        assert_eq!(
            s.lines().nth(2).unwrap(),
            "WARNING close_wait_leak: pid 1 (a) holds 300 CLOSE_WAIT"
        );
        assert_eq!(exit_code(&fs), 2);
        assert_eq!(exit_code(&fs[..1]), 1);

        let mut out = Vec::new();
        write_json(&mut out, &fs, &sum).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["status"], "CRITICAL");
        assert_eq!(v["findings"][0]["severity"], "critical");
        assert_eq!(v["findings"][0]["subject"]["kind"], "host");
        assert_eq!(v["unattributed"]["count"], 0);
        assert!(v["unattributed"]["reason"].is_null());

        let sum = CheckSummary {
            unattributed: 7,
            unattributed_reason: Some("not root; fix: setcap"),
            ..CheckSummary::default()
        };
        let mut out = Vec::new();
        write_json(&mut out, &fs, &sum).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["unattributed"]["count"], 7);
        assert_eq!(v["unattributed"]["reason"], "not root; fix: setcap");
    }
}
