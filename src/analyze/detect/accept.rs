//! `accept_queue_overflow`: a listener whose application accepts too slowly. Its Recv-Q
//! (accept queue) reaches its Send-Q (backlog) and `ListenOverflows` grows. Kept apart from
//! `syn_flood` by construction: this rule looks only at the accept queue and
//! ListenOverflows; the SYN side (cookies, TCPReqQFullDrop, and ListenDrops *beyond*
//! ListenOverflows) belongs to `syn_flood`.

use super::{detail, finding, put_rates, put_sysctls, Ctx};
use crate::analyze::aggregate::ListenerRow;
use crate::analyze::finding::{Finding, Severity, Subject};
use crate::model::{Container, RuleId, Unit};

/// The listener as a finding subject, its owner's unit and container beside the pid.
pub(super) fn listener_subject(ctx: &Ctx<'_>, row: &ListenerRow) -> Subject {
    let (unit, container) = owner_cgroup(ctx, row.pid);
    Subject::Listener {
        local: row.local,
        pid: row.pid,
        comm: row.comm.clone(),
        unit,
        container,
    }
}

/// The systemd unit and container of the process `pid`, where its cgroup names them.
pub(super) fn owner_cgroup(ctx: &Ctx<'_>, pid: Option<u32>) -> (Option<Unit>, Option<Container>) {
    match pid.and_then(|p| ctx.snap.processes.get(&p)) {
        Some(p) => (p.unit.clone(), p.container.clone()),
        None => (None, None),
    }
}

/// Accept queue as a fraction of the backlog. `listen(fd, 0)` still queues one
/// connection, hence the floor of 1.
pub(super) fn accept_fill(row: &ListenerRow) -> f64 {
    f64::from(row.accept_queue) / f64::from(row.backlog.max(1))
}

/// Whether `row`'s accept queue is at the warning level (used by `syn_flood` to leave
/// such listeners to this rule).
pub(super) fn overflowing(ctx: &Ctx<'_>, row: &ListenerRow) -> bool {
    accept_fill(row) >= ctx.th.accept_queue_overflow.warn_fill
}

const RATES: [&str; 2] = ["ListenOverflows", "ListenDrops"];

pub(super) fn detect(ctx: &Ctx<'_>) -> Vec<Finding> {
    let a = &ctx.th.accept_queue_overflow;
    let overflows = ctx.rate("ListenOverflows");
    let mut out = Vec::new();
    for row in &ctx.agg.listeners {
        let subject = listener_subject(ctx, row);
        let k = ctx.scale(RuleId::AcceptQueueOverflow, &subject);
        let fill = accept_fill(row);
        let severity = if fill >= a.crit_fill * k {
            Severity::Critical
        } else if fill >= a.warn_fill * k {
            Severity::Warning
        } else {
            continue;
        };
        let mut f = finding(ctx, RuleId::AcceptQueueOverflow, severity, subject);
        f.count = u64::from(row.accept_queue);
        f.threshold = if severity == Severity::Critical {
            a.crit_fill
        } else {
            a.warn_fill
        } * f64::from(row.backlog);
        fill_common(ctx, &mut f, row, overflows);
        out.push(f);
    }
    // ListenOverflows is namespace-wide: with no listener visibly full (the queue drained
    // between polls), attribute it to the only listener with a non-empty queue, or to the
    // host.
    if out.is_empty() && overflows > a.warn_overflow_rate {
        let busy: Vec<&ListenerRow> = ctx
            .agg
            .listeners
            .iter()
            .filter(|l| l.accept_queue > 0)
            .collect();
        let mut f = match busy.as_slice() {
            [row] => {
                let mut f = finding(
                    ctx,
                    RuleId::AcceptQueueOverflow,
                    Severity::Warning,
                    listener_subject(ctx, row),
                );
                fill_common(ctx, &mut f, row, overflows);
                f
            }
            _ => {
                let mut f = finding(
                    ctx,
                    RuleId::AcceptQueueOverflow,
                    Severity::Warning,
                    Subject::Host,
                );
                f.message = format!(
                    "{overflows:.1} ListenOverflows/s: a listener's accept queue overflowed \
                     between polls — the application accepts too slowly"
                );
                let names: Vec<String> = ctx
                    .agg
                    .listeners
                    .iter()
                    .map(|l| listener_subject(ctx, l).to_string())
                    .collect();
                f.detail = detail(
                    RuleId::AcceptQueueOverflow,
                    &[format!(
                        "Listeners in this namespace: {}.",
                        names.join(", ")
                    )],
                );
                put_rates(ctx, &mut f.metrics, &RATES);
                f
            }
        };
        f.count = overflows.round() as u64;
        f.threshold = a.warn_overflow_rate;
        out.push(f);
    }
    out
}

fn fill_common(ctx: &Ctx<'_>, f: &mut Finding, row: &ListenerRow, overflows: f64) {
    let group = f
        .subject
        .group_label()
        .map(|l| format!(" in {l}"))
        .unwrap_or_default();
    let owner = match (&row.pid, &row.comm) {
        (Some(p), Some(c)) => format!("pid {p} ({c}){group}"),
        (Some(p), None) => format!("pid {p}{group}"),
        _ => "its owner (not attributed)".into(),
    };
    let rate = if overflows > 0.0 {
        format!(", {overflows:.1} overflows/s")
    } else {
        String::new()
    };
    f.message = format!(
        "{}: accept queue {}/{}{rate} — the application accepts too slowly ({owner})",
        row.local, row.accept_queue, row.backlog
    );
    f.metrics
        .insert("accept_queue".into(), f64::from(row.accept_queue));
    f.metrics.insert("backlog".into(), f64::from(row.backlog));
    f.metrics.insert("syn_recv".into(), row.syn_recv() as f64);
    put_rates(ctx, &mut f.metrics, &RATES);
    put_sysctls(ctx, &mut f.metrics, &["net.core.somaxconn"]);
    let lines = vec![format!(
        "Verdict: slow accept(), not a SYN flood. {owner} has {} connections completed by the \
         kernel but not yet accept()ed, against a backlog of {}. New handshakes to {} are \
         dropped (ListenOverflows) while the queue is full.",
        row.accept_queue, row.backlog, row.local
    )];
    f.detail = detail(RuleId::AcceptQueueOverflow, &lines);
}
