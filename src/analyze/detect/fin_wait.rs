//! `fin_wait2_buildup` (FIN_WAIT2 sockets whose peers never close, per process or orphaned)
//! and `orphans` (sockets no process holds any more, against `tcp_max_orphans`).

use super::{detail, finding, put_sysctls, Ctx};
use crate::analyze::finding::{Finding, Severity, Subject};
use crate::analyze::history::OwnerKey;
use crate::model::RuleId;
use crate::model::TcpState;

pub(super) fn detect(ctx: &Ctx<'_>) -> Vec<Finding> {
    let mut out = fin_wait2(ctx);
    out.extend(orphans(ctx));
    out
}

fn fin_wait2(ctx: &Ctx<'_>) -> Vec<Finding> {
    let c = &ctx.th.fin_wait2_buildup;
    let Some(tick) = ctx.history.ticks().last() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut keys: Vec<(&OwnerKey, &u64)> = tick.fin_wait2.iter().collect();
    keys.sort();
    for (&key, &n) in keys {
        let (subject, who) = match key {
            OwnerKey::Pid(pid) => {
                // `pid 42 (java) in payments.service`: the unit or container named beside it.
                let s = Subject::of_process(pid, ctx.snap.processes.get(&pid));
                let who = s.to_string();
                (s, who)
            }
            OwnerKey::Unattributed => (
                Subject::Unowned { orphaned: false },
                "unnamed processes".to_string(),
            ),
            OwnerKey::Orphaned => (
                Subject::Unowned { orphaned: true },
                "no process (orphaned)".to_string(),
            ),
        };
        let k = ctx.scale(RuleId::FinWait2Buildup, &subject);
        let sev = if n as f64 >= c.crit_count as f64 * k {
            Severity::Critical
        } else if n as f64 >= c.warn_count as f64 * k {
            Severity::Warning
        } else {
            continue;
        };
        let mut f = finding(ctx, RuleId::FinWait2Buildup, sev, subject);
        f.count = n;
        f.threshold = c.warn_count as f64;
        f.growth_per_min = ctx
            .history
            .growth_per_min(|t| t.fin_wait2.get(&key).copied().unwrap_or(0));
        f.oldest_age_s = ctx
            .snap
            .sockets
            .iter()
            .filter(|s| {
                s.state == TcpState::FinWait2 && OwnerKey::of(s.owner, s.inode) == Some(key)
            })
            .filter_map(|s| ctx.ages.age_s(s))
            .max();
        f.message = format!("{who} holds {n} FIN_WAIT2 (peers that never close)");
        put_sysctls(ctx, &mut f.metrics, &["net.ipv4.tcp_fin_timeout"]);
        let line = if key == OwnerKey::Orphaned {
            "These sockets were closed by their process; each times out after \
             tcp_fin_timeout. A steady count this high means many closes per second toward \
             peers that do not answer with their FIN."
        } else {
            "The process shut down its sending side and still holds the sockets: they stay \
             until the peer closes or the process closes them, tcp_fin_timeout does not apply."
        };
        f.detail = detail(RuleId::FinWait2Buildup, &[line.to_string()]);
        out.push(f);
    }
    out
}

fn orphans(ctx: &Ctx<'_>) -> Option<Finding> {
    let o = &ctx.th.orphans;
    // An orphan is a socket no file descriptor refers to any more (inode 0) that still
    // has a connection to finish; TIME_WAIT sockets are accounted separately by the kernel.
    let n = ctx
        .snap
        .sockets
        .iter()
        .filter(|s| {
            s.inode == 0
                && matches!(
                    s.state,
                    TcpState::FinWait1 | TcpState::FinWait2 | TcpState::LastAck | TcpState::Closing
                )
        })
        .count() as u64;
    let max = ctx
        .sysctl("net.ipv4.tcp_max_orphans")
        .and_then(|v| u64::try_from(v).ok())
        .filter(|&v| v > 0)?;
    let k = ctx.scale(RuleId::Orphans, &Subject::Host);
    let fill = n as f64 / max as f64;
    if (n as f64) < o.min_count as f64 * k {
        return None;
    }
    let sev = if fill >= o.crit_fill * k {
        Severity::Critical
    } else if fill >= o.warn_fill * k {
        Severity::Warning
    } else {
        return None;
    };
    let mut f = finding(ctx, RuleId::Orphans, sev, Subject::Host);
    f.count = n;
    f.threshold = o.warn_fill * max as f64;
    f.message = format!("{n} orphaned sockets of tcp_max_orphans {max}");
    f.metrics.insert("orphans".into(), n as f64);
    put_sysctls(
        ctx,
        &mut f.metrics,
        &["net.ipv4.tcp_max_orphans", "net.ipv4.tcp_fin_timeout"],
    );
    f.detail = detail(
        RuleId::Orphans,
        &[
            "Counted as FIN_WAIT1, FIN_WAIT2, LAST_ACK and CLOSING sockets with no inode."
                .to_string(),
        ],
    );
    Some(f)
}
