//! `sockscope check`: two samples an interval apart, findings, a Nagios exit code. With
//! `-u` / `-x` the UDP and UNIX rules run too (the drop rates need both samples); a table
//! that was asked for but not collected makes the check UNKNOWN, never a silent OK.

use std::io::{self, Write};

use super::snapshot::collect_once;
use super::{collect_config, open_collector, thresholds, RunError};
use crate::analyze::aggregate::aggregate;
use crate::analyze::engine::{check as analyze_check, Analyzer};
use crate::analyze::proto_counts::aggregate_proto;
use crate::cli::{CheckArgs, CheckFormat, GlobalArgs};
use crate::collect::collector::{sweep, CollectConfig};
use crate::config::Thresholds;
use crate::model::{Protocol, Protocols, Snapshot};
use crate::report::check::{self as check_report, CheckSummary, ProtoTotals};
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
    // What `-t/-u/-x` asked for (TCP alone without any).
    let asked = cfg.protocols;
    // Each sample is judged as it arrives and the first dropped before the second is
    // taken: the peak holds one socket list, not two (issue 17).
    let mut analyzer = Analyzer::for_check(th.clone());
    let mut judge = |mut s: Snapshot| {
        keep_protocols(&mut s, asked);
        let findings = analyzer.observe(&s).findings;
        (findings, s)
    };
    let judged = match global.from_snapshot {
        Some(_) => collect_once(global, cfg).map(&mut judge),
        None => two_samples(cfg, args.interval, &mut judge),
    };
    let (findings, last) = match judged {
        Ok(j) => j,
        Err(RunError::Collect(e)) => {
            writeln!(out, "SOCKSCOPE UNKNOWN - cannot collect sockets: {e}")?;
            return Ok(3);
        }
        Err(e) => return Err(e),
    };
    let last = &last;
    if let Some(line) = not_collected(asked, last.protocols) {
        writeln!(out, "SOCKSCOPE UNKNOWN - {line}")?;
        return Ok(3);
    }
    let agg = aggregate(last);
    let summary = CheckSummary {
        states: last.state_counts(),
        netns: last.netns.clone(),
        perfdata: true,
        unattributed: agg.unattributed,
        unattributed_reason: last.attribution.reason.map(|r| r.explain()),
        protocols: last.protocols,
        others: other_totals(last),
    };
    match args.format {
        CheckFormat::Text => check_report::write_text(out, &findings, &summary)?,
        CheckFormat::Json => check_report::write_json(out, &findings, &summary)?,
    }
    // Both formats: stdout stays one status line or one JSON document, and a monitoring
    // agent's log still shows how many owners are missing and how to fix it.
    report::write_notes(&mut io::stderr(), last, &agg)?;
    write_unknown_queues(&mut io::stderr(), &summary.others)?;
    Ok(check_report::exit_code(&findings))
}

/// Narrows `snap` to the protocols asked for: a recorded snapshot may hold more tables than
/// this check was asked to judge.
fn keep_protocols(snap: &mut Snapshot, asked: Protocols) {
    let mut kept = Protocols::NONE;
    for p in asked.iter().filter(|p| snap.protocols.contains(*p)) {
        kept.insert(p);
    }
    snap.protocols = kept;
    if !kept.contains(Protocol::Tcp) {
        snap.sockets.clear();
    }
    if !kept.contains(Protocol::Udp) {
        snap.udp.clear();
    }
    if !kept.contains(Protocol::Unix) {
        snap.unix.clear();
    }
}

/// Why the check cannot judge what it was asked to, when a table was not collected.
fn not_collected(asked: Protocols, got: Protocols) -> Option<String> {
    let missing: Vec<&str> = asked
        .iter()
        .filter(|p| !got.contains(*p))
        .map(Protocol::name)
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{} sockets were not collected (the source or snapshot has no such table)",
            missing.join(" and ")
        )
    })
}

/// The UDP and UNIX totals of `snap`, for the tables it holds.
fn other_totals(snap: &Snapshot) -> Vec<ProtoTotals> {
    [Protocol::Udp, Protocol::Unix]
        .into_iter()
        .filter(|p| snap.protocols.contains(*p))
        .map(|p| ProtoTotals::of(&aggregate_proto(snap, p)))
        .collect()
}

/// One stderr line when UNIX listeners could not be judged (no queue lengths).
fn write_unknown_queues(err: &mut impl Write, others: &[ProtoTotals]) -> io::Result<()> {
    for o in others.iter().filter(|o| o.listeners_unknown_queue > 0) {
        writeln!(
            err,
            "note: {} UNIX listeners have no queue lengths (the /proc/net/unix source has \
             none): unix_accept_overflow could not judge them; the netlink source can",
            o.listeners_unknown_queue
        )?;
    }
    Ok(())
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
    let asked = cfg.protocols;
    let mut findings = Vec::new();
    let mut states = crate::model::StateCounts::default();
    let mut others: Vec<ProtoTotals> = Vec::new();
    let (mut unattributed, mut unattributed_reason) = (0, None);
    let namespaces = per_ns.len();
    for mut samples in per_ns {
        for s in &mut samples {
            keep_protocols(s, asked);
        }
        if let Some(line) = samples
            .last()
            .and_then(|l| not_collected(asked, l.protocols))
        {
            writeln!(out, "SOCKSCOPE UNKNOWN - {line}")?;
            return Ok(3);
        }
        findings.extend(analyze_check(th, &samples));
        if let Some(last) = samples.last() {
            for t in other_totals(last) {
                match others.iter_mut().find(|o| o.protocol == t.protocol) {
                    Some(o) => o.add(&t),
                    None => others.push(t),
                }
            }
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
        netns: format!("all ({namespaces} namespaces)"),
        perfdata: true,
        unattributed,
        unattributed_reason,
        protocols: asked,
        others,
    };
    match args.format {
        CheckFormat::Text => check_report::write_text(out, &findings, &summary)?,
        CheckFormat::Json => check_report::write_json(out, &findings, &summary)?,
    }
    let mut err = io::stderr();
    for f in &failures {
        writeln!(err, "note: netns {} not checked: {}", f.what, f.reason)?;
    }
    write_unknown_queues(&mut err, &summary.others)?;
    Ok(check_report::exit_code(&findings))
}

/// Two samples `interval` apart, each handed to `judge` as it is taken (so the first can be
/// dropped before the second exists); returns the second verdict.
pub(super) fn two_samples<T>(
    cfg: CollectConfig,
    interval: std::time::Duration,
    judge: &mut impl FnMut(Snapshot) -> T,
) -> Result<T, RunError> {
    let mut c = open_collector(cfg)?;
    // The first sample's verdict is superseded; only the analyzer's state from it counts.
    drop(judge(c.collect()?));
    std::thread::sleep(interval);
    let second = judge(c.collect()?);
    if let Some(n) = c.take_notice() {
        eprintln!("{n}");
    }
    Ok(second)
}
