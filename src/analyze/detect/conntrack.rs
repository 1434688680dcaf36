//! `conntrack_full`: the namespace's netfilter conntrack table nears `nf_conntrack_max`, or
//! the kernel refuses entries. Judges the [`Conntrack`] the collector read and the rates of
//! its statistics since the previous sample; never reads anything itself.
//!
//! Warning at `warn_fill` of the max, critical at `crit_fill`, and critical whenever
//! `drop` (a packet dropped for want of an entry) grew faster than `crit_drop_rate`
//! (default: any growth) between two samples. `early_drop` growth (an unassured entry
//! evicted to admit the new one: pressure, no loss yet) is a warning, and so is
//! `insert_failed` past `warn_insert_failed_rate` (below it, mostly the UDP DNS race). A first sample has no rate: counters that already hold
//! drops then are reported as history, never as a rate. Subject: the namespace
//! ([`Subject::Host`]; the finding carries the namespace's name).

use super::{detail, finding, put_sysctls, Ctx};
use crate::analyze::finding::{Finding, Severity, Subject};
use crate::model::{Conntrack, RuleId, TcpState, CONNTRACK_DROP_STATS};

pub(super) fn detect(ctx: &Ctx<'_>) -> Option<Finding> {
    let ct = ctx.snap.counters.as_ref()?.conntrack.as_ref()?;
    let t = &ctx.th.conntrack_full;
    let k = ctx.scale(RuleId::ConntrackFull, &Subject::Host);
    let fill = ct.fill();
    let drop_rates: Vec<(&str, f64)> = ctx.rates.map_or_else(Vec::new, |r| {
        CONNTRACK_DROP_STATS
            .iter()
            .filter_map(|&n| r.conntrack.get(n).map(|&v| (n, v)))
            .collect()
    });
    let refused: f64 = drop_rates.iter().map(|(_, v)| v).sum();
    let of = |name: &str| {
        drop_rates
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0.0, |&(_, v)| v)
    };
    // Only `drop` is a packet dropped for want of an entry. `early_drop` evicted an
    // unassured entry to admit the new one (the table is under pressure, the connection
    // got in); `insert_failed` is mostly two UDP packets of one flow racing (DNS A and
    // AAAA queries), a problem only at a sustained rate.
    let (dropped, evicted, failed) = (of("drop"), of("early_drop"), of("insert_failed"));
    let (severity, why) = match fill {
        _ if dropped > t.crit_drop_rate * k => (
            Severity::Critical,
            format!(
                "the kernel dropped {} packets/s for want of a conntrack entry (drop) since \
                 the previous sample",
                rate(dropped)
            ),
        ),
        Some(f) if f >= t.crit_fill * k => (
            Severity::Critical,
            format!(
                "the table is {} full (≥ critical {})",
                pct(f),
                pct(t.crit_fill)
            ),
        ),
        Some(f) if f >= t.warn_fill * k => (
            Severity::Warning,
            format!(
                "the table is {} full (≥ warning {})",
                pct(f),
                pct(t.warn_fill)
            ),
        ),
        _ if evicted > 0.0 => (
            Severity::Warning,
            format!(
                "the table is under pressure: the kernel evicted {} unassured entries/s \
                 (early_drop) to admit new ones since the previous sample",
                rate(evicted)
            ),
        ),
        _ if failed > t.warn_insert_failed_rate * k => (
            Severity::Warning,
            format!(
                "{} insertions/s failed (insert_failed) since the previous sample, above \
                 warn_insert_failed_rate {}",
                rate(failed),
                rate(t.warn_insert_failed_rate)
            ),
        ),
        _ => return None,
    };
    let mut f = finding(ctx, RuleId::ConntrackFull, severity, Subject::Host);
    f.count = ct.count;
    f.threshold = ct.max.map_or(t.warn_fill, |m| t.warn_fill * m as f64);
    let growth = ctx.rates.and_then(|r| r.conntrack_count_per_s);
    f.growth_per_min = growth.map(|g| g * 60.0);
    f.message = message(ct, growth, &drop_rates, refused);
    put_metrics(ctx, ct, growth, &drop_rates, &mut f);

    let mut lines = vec![format!("Fired because {why}.")];
    lines.push(table_line(ct, growth));
    lines.push(drops_line(ctx, ct, &drop_rates));
    lines.push(sockets_line(ctx));
    if let Some(line) = buckets_line(ct) {
        lines.push(line);
    }
    f.detail = detail(RuleId::ConntrackFull, &lines);
    Some(f)
}

/// `1234`, `12`, `0.5`: a rate as messages print it.
fn rate(r: f64) -> String {
    if r.abs() >= 10.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn pct(f: f64) -> String {
    format!("{:.0}%", f * 100.0)
}

fn message(ct: &Conntrack, growth: Option<f64>, drops: &[(&str, f64)], refused: f64) -> String {
    let max = ct.max.map_or_else(|| "?".into(), |m| m.to_string());
    let fill = ct
        .fill_text()
        .map_or_else(String::new, |f| format!(" ({f})"));
    let mut s = format!("conntrack {}/{max}{fill}", ct.count);
    if let Some(g) = growth {
        s.push_str(&format!(", {}/s", signed(g)));
    }
    let of = |name: &str| {
        drops
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0.0, |&(_, v)| v)
    };
    let (dropped, evicted, failed) = (of("drop"), of("early_drop"), of("insert_failed"));
    if dropped > 0.0 {
        s.push_str(&format!(
            ", {} dropped/s — new connections are being dropped",
            rate(dropped)
        ));
    } else if evicted > 0.0 {
        s.push_str(&format!(
            ", {} evicted/s — under pressure: unassured entries are evicted to admit new ones",
            rate(evicted)
        ));
    } else if failed > 0.0 && refused > 0.0 {
        s.push_str(&format!(
            ", {} insert_failed/s — insertions clash (often the UDP DNS race)",
            rate(failed)
        ));
    } else if ct.fill().is_some_and(|f| f >= 1.0) {
        s.push_str(" — full: new connections are being dropped");
    } else {
        s.push_str(" — new connections will be dropped when it fills");
    }
    s
}

fn signed(g: f64) -> String {
    if g >= 0.0 {
        format!("+{}", rate(g))
    } else {
        rate(g)
    }
}

fn table_line(ct: &Conntrack, growth: Option<f64>) -> String {
    let max = ct.max.map_or_else(
        || "nf_conntrack_max unreadable".into(),
        |m| format!("nf_conntrack_max {m}"),
    );
    let mut s = format!("Entries: {} of {max}", ct.count);
    match (growth, ct.max) {
        (Some(g), Some(m)) if g > 0.0 && m > ct.count => {
            let secs = (m - ct.count) as f64 / g;
            s.push_str(&format!(
                ", growing {}/s: full in about {} at this rate",
                rate(g),
                duration(secs)
            ));
        }
        (Some(g), _) => s.push_str(&format!(", {}/s since the previous sample", signed(g))),
        (None, _) => s.push_str(" (one sample: no growth rate yet)"),
    }
    s.push('.');
    s
}

/// `45 s`, `12 min`, `3.5 h`.
fn duration(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

fn drops_line(ctx: &Ctx<'_>, ct: &Conntrack, drops: &[(&str, f64)]) -> String {
    if ct.cpus == 0 {
        return "Refusals unknown: /proc/net/stat/nf_conntrack was not readable.".into();
    }
    let totals: Vec<String> = CONNTRACK_DROP_STATS
        .iter()
        .filter_map(|&n| ct.stat(n).map(|v| format!("{n} {v}")))
        .collect();
    let totals = format!(
        "{} (summed over {} CPUs since boot or namespace creation)",
        totals.join(", "),
        ct.cpus
    );
    if drops.is_empty() {
        let why = if ctx.rates.is_none() {
            "one sample"
        } else {
            "the previous sample had no table"
        };
        return format!("Refusals: {totals}; no rate ({why}).");
    }
    let per_s: Vec<String> = drops
        .iter()
        .map(|(n, v)| format!("{n} {}/s", rate(*v)))
        .collect();
    format!("Refusals: {}; totals {totals}.", per_s.join(", "))
}

/// The sockets that hold entries longest, from the same snapshot.
fn sockets_line(ctx: &Ctx<'_>) -> String {
    let s = &ctx.agg.states;
    let tw = ctx
        .sysctl("net.netfilter.nf_conntrack_tcp_timeout_time_wait")
        .map_or_else(String::new, |t| {
            format!(", a TIME_WAIT one for {t} s (nf_conntrack_tcp_timeout_time_wait)")
        });
    format!(
        "Sockets in this namespace: {} TIME_WAIT, {} SYN_RECV, {} ESTABLISHED; each tracked \
         connection holds an entry{tw}.",
        s.get(TcpState::TimeWait),
        s.get(TcpState::SynRecv),
        s.get(TcpState::Established)
    )
}

fn buckets_line(ct: &Conntrack) -> Option<String> {
    let b = ct.buckets.filter(|&b| b > 0)?;
    let chain = ct.count as f64 / b as f64;
    Some(format!(
        "Hash buckets: {b} (nf_conntrack_buckets), {chain:.1} entries per chain on average{}.",
        if chain > 4.0 {
            ": lookups slow down; raise the hash size with the max"
        } else {
            ""
        }
    ))
}

fn put_metrics(
    ctx: &Ctx<'_>,
    ct: &Conntrack,
    growth: Option<f64>,
    drops: &[(&str, f64)],
    f: &mut Finding,
) {
    let m = &mut f.metrics;
    m.insert("entries".into(), ct.count as f64);
    if let Some(max) = ct.max {
        m.insert("max".into(), max as f64);
    }
    if let Some(fill) = ct.fill() {
        m.insert("fill".into(), fill);
    }
    if let Some(b) = ct.buckets {
        m.insert("buckets".into(), b as f64);
    }
    if let Some(g) = growth {
        m.insert("entries_per_s".into(), g);
    }
    for name in CONNTRACK_DROP_STATS {
        if let Some(v) = ct.stat(name) {
            m.insert(format!("{name}_total"), v as f64);
        }
    }
    for (name, v) in drops {
        m.insert(format!("rate.conntrack.{name}"), *v);
    }
    put_sysctls(
        ctx,
        m,
        &[
            "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
            "net.netfilter.nf_conntrack_tcp_timeout_established",
        ],
    );
}

#[cfg(test)]
#[path = "conntrack_tests.rs"]
mod tests;
