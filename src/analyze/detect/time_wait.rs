//! `time_wait_storm`: TIME_WAIT sockets eat the ephemeral ports toward one destination
//! ip:port (each holds its 4-tuple for 60 s, or about 2 s where `tcp_tw_reuse` applies),
//! or approach the namespace-wide `tcp_max_tw_buckets` cap (`TCPTimeWaitOverflow` counts
//! the overflows). The ports in use are judged route by route exactly as `port_exhaustion`
//! judges them (`port_exhaustion::judge_route`), so the two never disagree on the ports left.
//!
//! "How fast" comes from one of two inputs, and the finding says which: the kernel's
//! destroy events when they were read (closes per second toward the destination: each
//! connection this host closes first refills TIME_WAIT, also those a poll never sees), else
//! the polled TIME_WAIT count's growth. The severity is judged on the ports in use either
//! way; the rate explains where they are going.

use super::port_exhaustion::judge_route;
use super::{detail, finding, put_rates, put_sysctls, Ctx};
use crate::analyze::finding::{human_growth, Finding, Severity, Subject};
use crate::analyze::ports::{TIME_WAIT_S, TW_REUSE_HOLD_S};
use crate::model::RuleId;
use crate::model::{Endpoint, TcpState};
use std::net::{IpAddr, Ipv4Addr};

pub(super) fn detect(ctx: &Ctx<'_>) -> Vec<Finding> {
    let t = &ctx.th.time_wait_storm;
    let space = &ctx.ports.space;
    let (lo, hi, range) = (space.low, space.high, space.range);
    let mut out = Vec::new();
    // The same per-destination numbers port_exhaustion sums per source address.
    for (remote, d) in ctx.ports.destinations() {
        let (time_wait, sources) = (d.held.time_wait, d.sources);
        let subject = Subject::Destination { remote };
        let k = ctx.scale(RuleId::TimeWaitStorm, &subject);
        if (time_wait as f64) < t.min_count as f64 * k {
            continue;
        }
        // The ports that block a new connection, as port_exhaustion judges each route:
        // where tcp_tw_reuse applies, TIME_WAIT older than ~2 s does not.
        let hold = Hold::of(ctx, &remote, sources);
        let in_use = hold.blocking;
        // Each local source address has its own usable ports toward the destination.
        let capacity = d.capacity;
        let fill = if capacity == 0 {
            1.0
        } else {
            in_use as f64 / capacity as f64
        };
        let sev = if fill >= t.crit_port_fill * k {
            Severity::Critical
        } else if fill >= t.warn_port_fill * k {
            Severity::Warning
        } else {
            continue;
        };
        let growth = ctx
            .history
            .growth_per_min(|tick| tick.time_wait.get(&remote).copied().unwrap_or(0));
        let mut f = finding(ctx, RuleId::TimeWaitStorm, sev, subject);
        f.count = time_wait;
        f.growth_per_min = growth;
        f.threshold = t.warn_port_fill * capacity as f64;
        let headroom = capacity.saturating_sub(in_use);
        let speed = Speed::of(ctx, &remote, growth);
        let reusable = d.held.total.saturating_sub(in_use);
        f.message = if reusable > 0 {
            format!(
                "{remote}: {} TIME_WAIT ({reusable} reusable under tcp_tw_reuse), {} of \
                 {capacity} ephemeral ports in use ({headroom} left{})",
                time_wait,
                in_use,
                speed.short()
            )
        } else {
            format!(
                "{remote}: {} TIME_WAIT, {} of {capacity} ephemeral ports in use ({headroom} \
                 left{})",
                time_wait,
                in_use,
                speed.short()
            )
        };
        for (k2, v) in [
            ("time_wait", time_wait as f64),
            ("ports_in_use", in_use as f64),
            ("ports_held", d.held.total as f64),
            ("hold_s", hold.hold_s),
            ("tw_reuse_sources", hold.reuse_sources as f64),
            ("port_range_size", range as f64),
            ("usable_ports", space.usable as f64),
            ("port_capacity", capacity as f64),
            ("headroom", headroom as f64),
            ("source_addresses", sources as f64),
            ("max_new_per_s", capacity as f64 / hold.hold_s),
        ] {
            f.metrics.insert(k2.into(), v);
        }
        if let Speed::Events { per_s, seconds } = speed {
            f.metrics.insert("events.closes_per_s".into(), per_s);
            f.metrics.insert("events.window_s".into(), seconds);
            f.metrics
                .insert("events.time_wait_at_rate".into(), per_s * TIME_WAIT_S);
        }
        put_sysctls(ctx, &mut f.metrics, &["net.ipv4.tcp_tw_reuse"]);
        let mut lines = vec![format!(
            "This host closes connections to {remote} first, and each one holds its port for \
             {}. Ephemeral range {lo}-{hi} ({range} ports, {} usable after reserved and \
             listener-bound ones) × {sources} source address(es) allows about {:.0} new \
             connections/s to this destination; {headroom} ports are left. port_exhaustion \
             forecasts each source address's ports.",
            hold.words(sources),
            space.usable,
            capacity as f64 / hold.hold_s
        )];
        lines.push(speed.line(&remote, capacity, hold.hold_s));
        f.detail = detail(RuleId::TimeWaitStorm, &lines);
        out.push(f);
    }
    out.extend(global(ctx));
    out
}

/// A destination's ports as `port_exhaustion` judges its routes, summed.
struct Hold {
    /// Held ports that block a new connect() (see `port_exhaustion::judge_route`).
    blocking: u64,
    /// Source addresses toward it where tcp_tw_reuse applies.
    reuse_sources: u64,
    /// The hold the capacity figure uses: about 2 s when reuse applies to every source,
    /// else 60 s.
    hold_s: f64,
}

impl Hold {
    fn of(ctx: &Ctx<'_>, remote: &Endpoint, sources: u64) -> Hold {
        let mut h = Hold {
            blocking: 0,
            reuse_sources: 0,
            hold_s: TIME_WAIT_S,
        };
        let first = (*remote, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let routes = ctx.ports.routes.range(first..);
        for (route, &held) in routes.take_while(|(r, _)| r.0 == *remote) {
            let j = judge_route(ctx, route, held, sources);
            h.blocking += j.judged.total;
            h.reuse_sources += u64::from(j.reuse);
        }
        if h.reuse_sources > 0 && h.reuse_sources == sources {
            h.hold_s = TW_REUSE_HOLD_S;
        }
        h
    }

    /// How long each closed connection holds its port, in the detail's words.
    fn words(&self, sources: u64) -> String {
        if self.reuse_sources == 0 {
            "60 s".into()
        } else if self.reuse_sources == sources {
            format!(
                "60 s, but tcp_tw_reuse lets a new connection take one after about {:.0} s, \
                 so only the youngest TIME_WAIT blocks a port",
                TW_REUSE_HOLD_S
            )
        } else {
            format!(
                "60 s (about {:.0} s from the {} source address(es) where tcp_tw_reuse \
                 applies)",
                TW_REUSE_HOLD_S, self.reuse_sources
            )
        }
    }
}

/// Where "how fast" came from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Speed {
    /// Destroy events: closes per second toward the destination over `seconds`.
    Events { per_s: f64, seconds: f64 },
    /// Polls: TIME_WAIT growth per minute, when history has it.
    Polls(Option<f64>),
}

impl Speed {
    fn of(ctx: &Ctx<'_>, remote: &Endpoint, growth: Option<f64>) -> Speed {
        match ctx.churn.filter(|c| c.seconds > 0.0) {
            Some(c) => Speed::Events {
                per_s: c.closes_per_s_to(remote),
                seconds: c.seconds,
            },
            None => Speed::Polls(growth),
        }
    }

    /// The message's part.
    fn short(self) -> String {
        match self {
            Speed::Events { per_s, .. } => format!(", {per_s:.1} closes/s from events"),
            Speed::Polls(Some(g)) => format!(", {} from polls", human_growth(g)),
            Speed::Polls(None) => String::new(),
        }
    }

    /// The detail's line.
    fn line(self, remote: &Endpoint, capacity: u64, hold_s: f64) -> String {
        match self {
            Speed::Events { per_s, seconds } => format!(
                "How fast, from the kernel's destroy events: {per_s:.1} connections/s toward \
                 {remote} closed over the last {seconds:.1} s, short-lived ones included. \
                 Each that this host closed first blocks its port for {hold_s:.0} s, so this \
                 rate alone holds about {:.0} of the {capacity} ports.",
                per_s * hold_s
            ),
            Speed::Polls(g) => format!(
                "How fast, from polls: TIME_WAIT toward {remote} {} (a poll sees the level, \
                 not the connections opened and closed between two polls; destroy events \
                 count those).",
                g.map_or_else(
                    || "has no trend yet".to_string(),
                    |g| format!("grows {}", human_growth(g))
                )
            ),
        }
    }
}

/// The namespace-wide cap: TIME_WAIT total against `tcp_max_tw_buckets`, and overflows.
fn global(ctx: &Ctx<'_>) -> Option<Finding> {
    let t = &ctx.th.time_wait_storm;
    let total = ctx.agg.states.get(TcpState::TimeWait);
    let overflow = ctx.rate("TCPTimeWaitOverflow");
    let k = ctx.scale(RuleId::TimeWaitStorm, &Subject::Host);
    let cap = ctx
        .sysctl("net.ipv4.tcp_max_tw_buckets")
        .and_then(|v| u64::try_from(v).ok())
        .filter(|&v| v > 0);
    let fill = cap.map_or(0.0, |c| total as f64 / c as f64);
    let sev = if overflow > 0.0 || fill >= t.crit_bucket_fill * k {
        Severity::Critical
    } else if fill >= t.warn_bucket_fill * k {
        Severity::Warning
    } else {
        return None;
    };
    let mut f = finding(ctx, RuleId::TimeWaitStorm, sev, Subject::Host);
    f.count = total;
    f.threshold = cap.map_or(0.0, |c| t.warn_bucket_fill * c as f64);
    let capstr = cap.map_or_else(|| "?".into(), |c| c.to_string());
    f.message = if overflow > 0.0 {
        format!("{total} TIME_WAIT of tcp_max_tw_buckets {capstr}, {overflow:.1} overflows/s")
    } else {
        format!("{total} TIME_WAIT of tcp_max_tw_buckets {capstr}")
    };
    f.growth_per_min = ctx
        .history
        .growth_per_min(|tick| tick.states.get(TcpState::TimeWait));
    put_rates(ctx, &mut f.metrics, &["TCPTimeWaitOverflow"]);
    put_sysctls(
        ctx,
        &mut f.metrics,
        &["net.ipv4.tcp_max_tw_buckets", "net.ipv4.tcp_tw_reuse"],
    );
    let lines = vec![
        "Past tcp_max_tw_buckets the kernel closes sockets without TIME_WAIT \
         (TCPTimeWaitOverflow): late segments of an old connection can then corrupt a new one \
         on the same 4-tuple."
            .to_string(),
    ];
    f.detail = detail(RuleId::TimeWaitStorm, &lines);
    Some(f)
}
