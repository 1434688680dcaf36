//! `sockscope check`: two samples an interval apart, findings, a Nagios exit code.

use std::io::{self, Write};

use super::snapshot::collect_once;
use super::{collect_config, open_collector, thresholds, RunError};
use crate::analyze::aggregate::aggregate;
use crate::analyze::engine::check as analyze_check;
use crate::cli::{CheckArgs, CheckFormat, GlobalArgs};
use crate::collect::collector::{sweep, CollectConfig};
use crate::config::Thresholds;
use crate::model::Snapshot;
use crate::report::check::{self as check_report, CheckSummary};
use crate::report::{self};

/// `sockscope check`: two samples `--interval` apart, findings of the second, Nagios exit
/// code. A check that cannot collect prints `SOCKSCOPE UNKNOWN - why` and returns 3.
pub fn check(global: &GlobalArgs, args: &CheckArgs, out: &mut impl Write) -> Result<i32, RunError> {
    let th = thresholds(global)?;
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.counters = true;
    cfg.sysctls = true;
    cfg.tcp_info = true;
    if global.all_netns {
        return check_all(&th, cfg, args, out);
    }
    let samples = match global.from_snapshot {
        Some(_) => collect_once(global, cfg).map(|s| vec![s]),
        None => two_samples(cfg, args.interval),
    };
    let samples = match samples {
        Ok(s) => s,
        Err(RunError::Collect(e)) => {
            writeln!(out, "SOCKSCOPE UNKNOWN - cannot collect sockets: {e}")?;
            return Ok(3);
        }
        Err(e) => return Err(e),
    };
    let findings = analyze_check(&th, &samples);
    let Some(last) = samples.last() else {
        writeln!(out, "SOCKSCOPE UNKNOWN - no sample")?;
        return Ok(3);
    };
    let agg = aggregate(last);
    let summary = CheckSummary {
        states: last.state_counts(),
        netns: last.netns.clone(),
        perfdata: true,
        unattributed: agg.unattributed,
        unattributed_reason: last.attribution.reason.map(|r| r.explain()),
    };
    match args.format {
        CheckFormat::Text => check_report::write_text(out, &findings, &summary)?,
        CheckFormat::Json => check_report::write_json(out, &findings, &summary)?,
    }
    // Both formats: stdout stays one status line or one JSON document, and a monitoring
    // agent's log still shows how many owners are missing and how to fix it.
    report::write_notes(&mut io::stderr(), last, &agg)?;
    Ok(check_report::exit_code(&findings))
}

/// `check --all-netns`: two samples in every namespace at once (one thread each), findings
/// of all of them (each names its namespace), the worst decides the exit code. Namespaces
/// that could not be checked are listed on stderr.
pub(super) fn check_all(
    th: &Thresholds,
    cfg: CollectConfig,
    args: &CheckArgs,
    out: &mut impl Write,
) -> Result<i32, RunError> {
    let (per_ns, failures) = sweep(&cfg, 2, args.interval);
    if per_ns.is_empty() {
        writeln!(
            out,
            "SOCKSCOPE UNKNOWN - no network namespace could be collected"
        )?;
        return Ok(3);
    }
    let mut findings = Vec::new();
    let mut states = crate::model::StateCounts::default();
    let (mut unattributed, mut unattributed_reason) = (0, None);
    for samples in &per_ns {
        findings.extend(analyze_check(th, samples));
        if let Some(last) = samples.last() {
            let c = last.state_counts();
            for s in crate::model::TcpState::ALL {
                states.0[s.index()] += c.get(s);
            }
            let un = aggregate(last).unattributed;
            if un > 0 {
                unattributed += un;
                let why = last.attribution.reason.map(|r| r.explain());
                // One reason for the sum only when every namespace gives the same one.
                unattributed_reason = match unattributed_reason {
                    None => why,
                    Some(r) if Some(r) == why => Some(r),
                    Some(_) => Some("several causes; summary --all-netns gives each namespace's"),
                };
            }
        }
    }
    let summary = CheckSummary {
        states,
        netns: format!("all ({} namespaces)", per_ns.len()),
        perfdata: true,
        unattributed,
        unattributed_reason,
    };
    match args.format {
        CheckFormat::Text => check_report::write_text(out, &findings, &summary)?,
        CheckFormat::Json => check_report::write_json(out, &findings, &summary)?,
    }
    let mut err = io::stderr();
    for f in &failures {
        writeln!(err, "note: netns {} not checked: {}", f.what, f.reason)?;
    }
    Ok(check_report::exit_code(&findings))
}

pub(super) fn two_samples(
    cfg: CollectConfig,
    interval: std::time::Duration,
) -> Result<Vec<Snapshot>, RunError> {
    let mut c = open_collector(cfg)?;
    let first = c.collect()?;
    std::thread::sleep(interval);
    let second = c.collect()?;
    if let Some(n) = c.take_notice() {
        eprintln!("{n}");
    }
    Ok(vec![first, second])
}
