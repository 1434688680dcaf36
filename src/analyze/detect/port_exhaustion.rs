//! `port_exhaustion`: the ephemeral ports from one local source address toward one
//! destination ip:port run out, now or at the current rate of new connections.
//!
//! Counts every state that holds a port (not only TIME_WAIT, which is `time_wait_storm`'s
//! share of the same numbers: both read [`crate::analyze::ports::PortUse`]), against the
//! usable ports, and forecasts with [`crate::analyze::ports::forecast`]. The rate of new
//! connections comes from the polls (4-tuples the poll before did not have, over the
//! last 10 s), else from the kernel's destroy events when the destination has one source
//! address. Owns the
//! verdict and its words only; the arithmetic lives in `analyze::ports`.

use super::{detail, finding, put_rates, put_sysctls, Ctx};
use crate::analyze::finding::{human_duration, Finding, Severity, Subject};
use crate::analyze::ports::{
    forecast, max_rate, tw_reuse_applies, Held, Outlook, Route, TIME_WAIT_S, TW_REUSE_HOLD_S,
};
use crate::model::RuleId;

/// Where the rate of new connections came from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rate {
    /// New 4-tuples between polls, over the last `window_s` seconds.
    Polls { per_s: f64, window_s: f64 },
    /// Destroy events toward the destination over `seconds` (its only source address).
    Events { per_s: f64, seconds: f64 },
    /// Not measured (first poll).
    Unknown,
}

impl Rate {
    fn of(ctx: &Ctx<'_>, route: &Route, sources: u64) -> Rate {
        if let (Some(per_s), Some(window_s)) =
            (ctx.new_conns.per_s(route), ctx.new_conns.window_s(route))
        {
            return Rate::Polls { per_s, window_s };
        }
        match ctx.churn.filter(|c| c.seconds > 0.0 && sources == 1) {
            Some(c) => Rate::Events {
                per_s: c.closes_per_s_to(&route.0),
                seconds: c.seconds,
            },
            None => Rate::Unknown,
        }
    }

    fn per_s(self) -> Option<f64> {
        match self {
            Rate::Polls { per_s, .. } | Rate::Events { per_s, .. } => Some(per_s),
            Rate::Unknown => None,
        }
    }
}

/// One route's ports as both rules judge them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Judged {
    /// The held ports that block a new connect(): all of them, except that where
    /// tcp_tw_reuse applies and the rate is known only the TIME_WAIT of the last
    /// `hold_s` seconds counts.
    pub judged: Held,
    rate: Rate,
    /// Whether tcp_tw_reuse applies to the route.
    pub reuse: bool,
    /// How long a closed connection blocks its port: 60 s, or about 2 s with reuse.
    pub hold_s: f64,
}

/// Judges `route`'s `held` ports: the one computation `port_exhaustion` and
/// `time_wait_storm` share, so they never disagree on the ports left.
pub(super) fn judge_route(ctx: &Ctx<'_>, route: &Route, held: Held, sources: u64) -> Judged {
    let (remote, source) = *route;
    let rate = Rate::of(ctx, route, sources);
    let reuse = tw_reuse_applies(
        ctx.sysctl("net.ipv4.tcp_tw_reuse"),
        ctx.sysctl("net.ipv4.tcp_timestamps"),
        source,
        &remote,
    );
    let hold_s = if reuse { TW_REUSE_HOLD_S } else { TIME_WAIT_S };
    // Where tcp_tw_reuse applies, only the TIME_WAIT of the last ~2 s blocks a connect().
    let judged = match (reuse, rate.per_s()) {
        (true, Some(r)) => {
            let young = held.time_wait.min((r * hold_s).ceil() as u64);
            Held {
                total: held.active() + young,
                time_wait: young,
            }
        }
        _ => held,
    };
    Judged {
        judged,
        rate,
        reuse,
        hold_s,
    }
}

pub(super) fn detect(ctx: &Ctx<'_>) -> Vec<Finding> {
    let t = &ctx.th.port_exhaustion;
    let capacity = ctx.ports.space.usable;
    let dests = ctx.ports.destinations();
    let mut out = Vec::new();
    for (&route, &held) in &ctx.ports.routes {
        let (remote, source) = route;
        let subject = Subject::Route { source, remote };
        let k = ctx.scale(RuleId::PortExhaustion, &subject);
        if (held.total as f64) < t.min_held as f64 * k {
            continue;
        }
        let sources = dests.get(&remote).map_or(1, |d| d.sources);
        let Judged {
            judged,
            rate,
            reuse,
            hold_s,
        } = judge_route(ctx, &route, held, sources);
        let outlook = forecast(capacity, judged, rate.per_s(), hold_s);
        let fill = if capacity == 0 {
            1.0
        } else {
            judged.total as f64 / capacity as f64
        };
        let soon = |minutes: f64| match outlook {
            Outlook::Exhausted => true,
            Outlook::ExhaustsIn(s) => s <= minutes * 60.0 / k,
            Outlook::Steady(_) | Outlook::Unknown => false,
        };
        let sev = if fill >= t.crit_fill * k || soon(t.crit_minutes) {
            Severity::Critical
        } else if fill >= t.warn_fill * k || soon(t.warn_minutes) {
            Severity::Warning
        } else {
            continue;
        };
        let mut f = finding(ctx, RuleId::PortExhaustion, sev, subject.clone());
        f.count = held.total;
        f.threshold = t.warn_fill * capacity as f64;
        f.message = message(&subject, held, capacity, rate, outlook);
        put_metrics(ctx, &mut f, held, rate, outlook, hold_s, reuse);
        let lines = explain_lines(ctx, &route, held, rate, outlook, hold_s, reuse);
        f.detail = detail(RuleId::PortExhaustion, &lines);
        out.push(f);
    }
    out
}

/// `10.0.0.1 -> 10.0.0.8:443: 120 of 200 ports held (118 TIME_WAIT), 20.0 new/s: exhausted
/// in 4s`.
fn message(subject: &Subject, held: Held, capacity: u64, rate: Rate, outlook: Outlook) -> String {
    let head = format!(
        "{subject}: {} of {capacity} ports held ({} TIME_WAIT)",
        held.total, held.time_wait
    );
    let rate = match rate.per_s() {
        Some(r) => format!(", {r:.1} new/s"),
        None => ", rate not measured yet".into(),
    };
    let verdict = match outlook {
        Outlook::Exhausted => ": exhausted, connect() fails with EADDRNOTAVAIL".to_string(),
        Outlook::ExhaustsIn(s) => format!(": exhausted in {}", human_duration(s.ceil() as u64)),
        Outlook::Steady(l) => format!(": steady at {:.0} of {capacity}", l.ceil()),
        Outlook::Unknown => String::new(),
    };
    format!("{head}{rate}{verdict}")
}

fn put_metrics(
    ctx: &Ctx<'_>,
    f: &mut Finding,
    held: Held,
    rate: Rate,
    outlook: Outlook,
    hold_s: f64,
    reuse: bool,
) {
    let s = &ctx.ports.space;
    let m = &mut f.metrics;
    for (k, v) in [
        ("ports_held", held.total as f64),
        ("time_wait", held.time_wait as f64),
        ("active", held.active() as f64),
        ("usable_ports", s.usable as f64),
        ("port_range_size", s.range as f64),
        ("reserved_ports", s.reserved as f64),
        ("bound_ports", s.bound as f64),
        ("hold_s", hold_s),
        ("tw_reuse_applies", f64::from(u8::from(reuse))),
        ("max_new_per_s", max_rate(s.usable, held, hold_s)),
    ] {
        m.insert(k.into(), v);
    }
    match rate {
        Rate::Polls { per_s, window_s } => {
            m.insert("new_per_s".into(), per_s);
            m.insert("rate_window_s".into(), window_s);
        }
        Rate::Events { per_s, seconds } => {
            m.insert("new_per_s".into(), per_s);
            m.insert("events.closes_per_s".into(), per_s);
            m.insert("events.window_s".into(), seconds);
        }
        Rate::Unknown => {}
    }
    match outlook {
        Outlook::Exhausted => {
            m.insert("exhausts_in_s".into(), 0.0);
        }
        Outlook::ExhaustsIn(secs) => {
            m.insert("exhausts_in_s".into(), secs);
        }
        Outlook::Steady(level) => {
            m.insert("steady_level".into(), level);
        }
        Outlook::Unknown => {}
    }
    put_rates(
        ctx,
        m,
        &["ActiveOpens", "TW", "TWRecycled", "TCPTimeWaitOverflow"],
    );
    put_sysctls(
        ctx,
        m,
        &["net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_timestamps"],
    );
}

fn explain_lines(
    ctx: &Ctx<'_>,
    route: &Route,
    held: Held,
    rate: Rate,
    outlook: Outlook,
    hold_s: f64,
    reuse: bool,
) -> Vec<String> {
    let s = &ctx.ports.space;
    let (remote, source) = route;
    let range_src = if s.range_read {
        ""
    } else {
        " (not read: Linux's default assumed)"
    };
    let mut lines = vec![format!(
        "From {source} to {remote}: {} ports held ({} TIME_WAIT, {} open or closing) of {} \
         usable: ip_local_port_range {}-{}{range_src} is {} ports, minus {} in \
         ip_local_reserved_ports, minus {} a listener binds. A 4-tuple must be unique, so \
         each source address has its own {} toward one destination ip:port.",
        held.total,
        held.time_wait,
        held.active(),
        s.usable,
        s.low,
        s.high,
        s.range,
        s.reserved,
        s.bound,
        s.usable
    )];
    if let Some(e) = &s.reserved_error {
        lines.push(format!(
            "ip_local_reserved_ports could not be read as a port list ({e}): no port was \
             taken as reserved."
        ));
    }
    lines.push(match rate {
        Rate::Polls { per_s, window_s } => format!(
            "New connections: {per_s:.1}/s over the last {window_s:.1} s, the 4-tuples toward \
             it each poll found that the poll before did not have (a connection opened and \
             closed in between still holds its port in TIME_WAIT)."
        ),
        Rate::Events { per_s, seconds } => format!(
            "New connections: {per_s:.1}/s from the kernel's destroy events over {seconds:.1} s \
             (closes toward it; an upper bound, as a close the peer began leaves no TIME_WAIT \
             here)."
        ),
        Rate::Unknown => "New connections: not measured yet (one poll so far).".to_string(),
    });
    let r = rate.per_s().unwrap_or(0.0);
    let hold = if reuse {
        format!(
            "tcp_tw_reuse lets a new connection to it take a TIME_WAIT port about 1 s old \
             (with TCP timestamps), so a closed connection blocks its port about {hold_s:.0} s \
             here, not 60 s."
        )
    } else {
        "Each connection this host closes first holds its port 60 s in TIME_WAIT (tcp_tw_reuse \
         does not apply to this destination)."
            .to_string()
    };
    let fcast = match outlook {
        Outlook::Exhausted => {
            "Forecast: none left; connect() fails with EADDRNOTAVAIL (\"Cannot assign \
             requested address\") until one frees."
                .to_string()
        }
        Outlook::ExhaustsIn(secs) => format!(
            "Forecast: at {r:.1}/s TIME_WAIT tends to {hold_s:.0}·{r:.1} = {:.0}, so the held \
             ports head for {:.0}, past {}: the {} free ones go in ({} − {}) / {r:.1} = {}.",
            r * hold_s,
            held.active() as f64 + r * hold_s,
            s.usable,
            s.usable.saturating_sub(held.total),
            s.usable,
            held.total,
            human_duration(secs.ceil() as u64)
        ),
        Outlook::Steady(level) => format!(
            "Forecast: at {r:.1}/s TIME_WAIT tends to {hold_s:.0}·{r:.1} = {:.0}, so the held \
             ports level off at {:.0} of {}: steady, no exhaustion at this rate (it takes \
             {:.1}/s).",
            r * hold_s,
            level.ceil(),
            s.usable,
            max_rate(s.usable, held, hold_s)
        ),
        Outlook::Unknown => "Forecast: needs a second poll.".to_string(),
    };
    lines.push(format!("{hold} {fcast}"));
    lines.push(
        "Counter evidence: the kernel counts no connect() that failed for want of a port \
         (EADDRNOTAVAIL goes to the application only; no Tcp or TcpExt counter moves). The \
         namespace-wide neighbours are in the metrics: ActiveOpens (connects that got a \
         port), TW (sockets entering TIME_WAIT), TWRecycled (TIME_WAIT ports taken through \
         tcp_tw_reuse), TCPTimeWaitOverflow."
            .to_string(),
    );
    lines
}
