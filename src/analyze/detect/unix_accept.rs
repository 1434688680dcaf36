//! `unix_accept_overflow`: a UNIX stream or seqpacket listener whose application accepts too
//! slowly. `ss -xl` shows a listener's pending connections as Recv-Q and its backlog as
//! Send-Q; Linux admits backlog + 1, then a non-blocking connect() fails with EAGAIN and a
//! blocking one waits. A listener whose queues are unknown (the /proc/net/unix source has
//! none) is never judged full. The listeners come from
//! [`aggregate_proto`](crate::analyze::proto_counts::aggregate_proto), as every face counts
//! them.

use super::{detail, finding, put_sysctls, Ctx};
use crate::analyze::finding::{Finding, Severity, Subject};
use crate::analyze::proto_counts::{aggregate_proto, UnixListenerRow};
use crate::model::{Protocol, RuleId};

/// Pending connections as a fraction of the backlog, the TCP rule's measure: 1.0 is the
/// backlog reached (one more is admitted). `listen(fd, 0)` still admits one, hence the
/// floor of 1.
fn fill(pending: u32, backlog: u32) -> f64 {
    f64::from(pending) / f64::from(backlog.max(1))
}

pub(super) fn detect(ctx: &Ctx<'_>) -> Vec<Finding> {
    let t = &ctx.th.unix_accept_overflow;
    let agg = aggregate_proto(ctx.snap, Protocol::Unix);
    let unknown = agg
        .unix_listeners
        .iter()
        .filter(|l| l.pending.is_none() || l.backlog.is_none())
        .count();
    let mut out = Vec::new();
    for row in &agg.unix_listeners {
        let (Some(pending), Some(backlog)) = (row.pending, row.backlog) else {
            continue;
        };
        let (unit, container) = super::accept::owner_cgroup(ctx, row.pid);
        let subject = Subject::UnixListener {
            name: row.name.clone(),
            inode: row.inode,
            pid: row.pid,
            comm: row.comm.clone(),
            unit,
            container,
        };
        let k = ctx.scale(RuleId::UnixAcceptOverflow, &subject);
        let x = fill(pending, backlog);
        let (severity, threshold) = if x >= t.crit_fill * k {
            (Severity::Critical, t.crit_fill)
        } else if x >= t.warn_fill * k {
            (Severity::Warning, t.warn_fill)
        } else {
            continue;
        };
        let mut f = finding(ctx, RuleId::UnixAcceptOverflow, severity, subject);
        f.count = u64::from(pending);
        f.threshold = threshold * f64::from(backlog);
        fill_in(ctx, &mut f, row, pending, backlog, unknown);
        out.push(f);
    }
    out
}

fn fill_in(
    ctx: &Ctx<'_>,
    f: &mut Finding,
    row: &UnixListenerRow,
    pending: u32,
    backlog: u32,
    unknown: usize,
) {
    let owner = match (&row.pid, &row.comm) {
        (Some(p), Some(c)) => format!("pid {p} ({c})"),
        (Some(p), None) => format!("pid {p}"),
        _ => "its owner (not attributed)".into(),
    };
    let full = pending > backlog;
    let state = if full {
        "full: a non-blocking connect() gets EAGAIN, a blocking one waits"
    } else {
        "the application accepts too slowly"
    };
    f.message = format!(
        "{}: {pending}/{backlog} pending connections ({}) — {state}",
        f.subject,
        row.kind.name()
    );
    let mut lines = vec![format!(
        "Verdict: slow accept(). {owner} has {pending} connections waiting to be accept()ed \
         against a backlog of {backlog} (ss -xl: Recv-Q {pending}, Send-Q {backlog}). Linux \
         admits backlog + 1 = {}; past that a non-blocking connect() fails with EAGAIN \
         (\"Resource temporarily unavailable\") and a blocking one waits until the listener \
         accepts.",
        u64::from(backlog) + 1
    )];
    match ctx.sysctl("net.core.somaxconn") {
        Some(cap) if i64::from(backlog) >= cap => lines.push(format!(
            "The backlog is capped by net.core.somaxconn ({cap}): a larger listen() argument \
             alone changes nothing; raise both, e.g. `sysctl -w net.core.somaxconn={}`.",
            cap.saturating_mul(2)
        )),
        Some(cap) => lines.push(format!(
            "The backlog comes from the listen() call (net.core.somaxconn {cap} caps it): \
             raise the argument there."
        )),
        None => {}
    }
    if unknown > 0 {
        lines.push(format!(
            "{unknown} other UNIX listener(s) have unknown queues (the /proc/net/unix source \
             has none) and were not judged."
        ));
    }
    if row.pid.is_none() {
        if let Some(r) = ctx.snap.attribution.reason {
            lines.push(format!("Owner unknown: {}.", r.explain()));
        }
    }
    f.metrics.insert("pending".into(), f64::from(pending));
    f.metrics.insert("backlog".into(), f64::from(backlog));
    f.metrics.insert("fill".into(), fill(pending, backlog));
    f.metrics.insert("full".into(), f64::from(u8::from(full)));
    f.metrics.insert("inode".into(), row.inode as f64);
    f.metrics
        .insert("listeners_unknown_queue".into(), unknown as f64);
    put_sysctls(ctx, &mut f.metrics, &["net.core.somaxconn"]);
    f.detail = detail(RuleId::UnixAcceptOverflow, &lines);
}
