//! The buildup rules: each turns one tick's evidence (snapshot, aggregate, counter rates,
//! history, socket ages) into [`Finding`]s. One file per rule group. Rules are pure: they
//! never keep state between ticks (that is history's and the alert book's job) and never
//! format for a particular presenter beyond the finding's own message and detail.
//!
//! Hysteresis lives here as a scale factor: for a (rule, subject) whose alert is already
//! active, every "fire" comparison uses `threshold × clear_ratio`, so a value hovering at
//! the threshold keeps the alert instead of flapping.

mod accept;
mod close_wait;
mod conntrack;
mod fin_wait;
mod port_exhaustion;
mod syn;
mod time_wait;
mod udp_drops;
mod unix_accept;

use std::collections::{BTreeMap, HashSet};

use crate::analyze::ages::SocketAges;
use crate::analyze::aggregate::Aggregate;
use crate::analyze::events::Churn;
use crate::analyze::finding::{Finding, Severity, Subject};
use crate::analyze::history::History;
use crate::analyze::ports::{NewConns, PortUse};
use crate::analyze::rates::{CounterRates, SocketDropRates};
use crate::config::Thresholds;
use crate::model::Snapshot;
use crate::model::{Protocol, RuleId};

/// Everything a rule may look at for one tick.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The latest snapshot.
    pub snap: &'a Snapshot,
    /// Its aggregate.
    pub agg: &'a Aggregate,
    /// Counter rates since the previous snapshot, when both had counters.
    pub rates: Option<&'a CounterRates>,
    /// Each UDP socket's drops since the previous snapshot.
    pub socket_drops: &'a SocketDropRates,
    /// History including this tick.
    pub history: &'a History,
    /// First-seen ages including this tick.
    pub ages: &'a SocketAges,
    /// Thresholds.
    pub th: &'a Thresholds,
    /// (rule, subject) pairs whose alert is active: they fire at the lowered level.
    pub active: &'a HashSet<(RuleId, Subject)>,
    /// The destroy events since the previous tick, when they were read.
    pub churn: Option<&'a Churn>,
    /// Client-side ephemeral port use per route (shared by the port rules).
    pub ports: &'a PortUse,
    /// New client connections per route since the previous snapshot.
    pub new_conns: &'a NewConns,
}

impl Ctx<'_> {
    /// 1.0, or the clear ratio when the alert for `(rule, subject)` is already active.
    pub fn scale(&self, rule: RuleId, subject: &Subject) -> f64 {
        if self.active.contains(&(rule, subject.identity())) {
            self.th.alerts.clear_ratio
        } else {
            1.0
        }
    }

    /// An integer sysctl of the collected namespace.
    pub fn sysctl(&self, name: &str) -> Option<i64> {
        self.snap.sysctls.as_ref()?.int(name)
    }

    /// A counter's per-second rate; 0 without rates.
    pub fn rate(&self, name: &str) -> f64 {
        self.rates.map_or(0.0, |r| r.get(name))
    }
}

/// Runs the rules of every protocol the snapshot collected (an uncollected table is no
/// evidence of anything); findings come back worst first.
pub fn run(ctx: &Ctx<'_>) -> Vec<Finding> {
    let mut v = Vec::new();
    let collected = |p: Protocol| ctx.snap.protocols.contains(p);
    if collected(Protocol::Tcp) {
        v.extend(close_wait::detect(ctx));
        v.extend(syn::detect(ctx));
        v.extend(accept::detect(ctx));
        v.extend(time_wait::detect(ctx));
        v.extend(port_exhaustion::detect(ctx));
        v.extend(fin_wait::detect(ctx));
    }
    if collected(Protocol::Udp) {
        v.extend(udp_drops::detect(ctx));
    }
    if collected(Protocol::Unix) {
        v.extend(unix_accept::detect(ctx));
    }
    // The conntrack table holds entries of every protocol: judged whatever was collected.
    v.extend(conntrack::detect(ctx));
    sort_worst_first(&mut v);
    v
}

/// Orders findings by severity, then count, then rule and subject (stable output).
pub fn sort_worst_first(v: &mut [Finding]) {
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.count.cmp(&a.count))
            .then(a.rule.cmp(&b.rule))
            .then(a.subject.cmp(&b.subject))
    });
}

/// A finding with the common fields filled and the rule's remedy as detail.
fn finding(ctx: &Ctx<'_>, rule: RuleId, severity: Severity, subject: Subject) -> Finding {
    Finding {
        rule,
        severity,
        subject,
        netns: ctx.snap.netns.clone(),
        count: 0,
        growth_per_min: None,
        oldest_age_s: None,
        threshold: 0.0,
        metrics: BTreeMap::new(),
        message: String::new(),
        detail: String::new(),
    }
}

/// Joins the finding-specific lines and the rule's remedy into `detail`.
fn detail(rule: RuleId, lines: &[String]) -> String {
    let mut d = lines.join("\n");
    if !d.is_empty() {
        d.push_str("\n\n");
    }
    d.push_str(crate::explain::remedy(rule));
    d
}

/// Adds the named sysctls that are known to `metrics` as `sysctl.NAME`.
fn put_sysctls(ctx: &Ctx<'_>, metrics: &mut BTreeMap<String, f64>, names: &[&str]) {
    for n in names {
        if let Some(v) = ctx.sysctl(n) {
            metrics.insert(format!("sysctl.{n}"), v as f64);
        }
    }
}

/// Adds the named counter rates that were measured to `metrics` as `rate.NAME`.
fn put_rates(ctx: &Ctx<'_>, metrics: &mut BTreeMap<String, f64>, names: &[&str]) {
    let Some(r) = ctx.rates else { return };
    for n in names {
        if r.has(n) {
            metrics.insert(format!("rate.{n}"), r.get(n));
        }
    }
}

#[cfg(test)]
mod owner_unit_tests;
#[cfg(test)]
mod port_tests;
#[cfg(test)]
mod proto_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod time_wait_tests;
