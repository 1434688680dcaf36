//! `udp_drops`: a UDP receiver that cannot keep up. The kernel queues datagrams on the socket
//! until the application reads them; once the queue (Recv-Q, bytes of buffer charged) reaches
//! the socket's `rcvbuf`, every further datagram is dropped and counted on the socket (`ss
//! -uam`: `d<N>`) and host-wide (`Udp: RcvbufErrors`).
//!
//! Fires per bound endpoint and owner (the sockets of one `SO_REUSEPORT` group in one process
//! count together) when the per-socket drop counters grew since the previous tick, or when a
//! socket's queue sits near its buffer; and per process when its endpoints together drop more
//! than the threshold while none alone does. A socket first seen already holding drops
//! dropped them at some unknown time: that is reported, never turned into a rate.

use std::collections::BTreeMap;

use super::{detail, finding, put_sysctls, Ctx};
use crate::analyze::finding::{Finding, Severity, Subject};
use crate::model::{Endpoint, Name, RuleId, TcpState};

/// Evidence about the UDP sockets of one owner on one local endpoint.
#[derive(Debug, Default)]
struct Group {
    sockets: u64,
    connected: u64,
    /// Sockets seen on the previous tick too (their drops have a rate).
    measured: u64,
    /// Drops in the interval, over the measured sockets.
    dropped: u64,
    per_s: f64,
    /// Drop counters summed (since each socket was created).
    total_drops: u64,
    /// Sockets first seen this tick already holding drops, and how many.
    new_with_drops: u64,
    new_drops_held: u64,
    /// The fullest socket whose buffer size is known: (fill, rmem_alloc, rcvbuf).
    fullest: Option<(f64, u32, u32)>,
}

impl Group {
    /// Drops per second, when at least one socket was measured.
    fn rate(&self) -> Option<f64> {
        (self.measured > 0).then_some(self.per_s)
    }
}

/// One process's measured drops over all its endpoints.
#[derive(Default)]
struct ProcessDrops {
    per_s: f64,
    dropped: u64,
    sockets: u64,
    /// One of its endpoints fired on its own (then the process-wide finding would repeat it).
    endpoint_fired: bool,
}

/// What a finding is judged on: the rate and fill against the thresholds.
struct Verdict {
    severity: Severity,
    threshold: f64,
    why: String,
}

pub(super) fn detect(ctx: &Ctx<'_>) -> Vec<Finding> {
    let mut groups: BTreeMap<(Option<u32>, Endpoint), Group> = BTreeMap::new();
    for (i, s) in ctx.snap.udp.iter().enumerate() {
        let g = groups.entry((s.owner.pid(), s.local)).or_default();
        g.sockets += 1;
        if s.state == TcpState::Established {
            g.connected += 1;
        }
        let Some(mem) = s.skmem else { continue };
        g.total_drops += u64::from(mem.drops);
        match ctx.socket_drops.get(i) {
            Some(d) => {
                g.measured += 1;
                g.dropped += d.dropped;
                g.per_s += d.per_s;
            }
            None if mem.drops > 0 => {
                g.new_with_drops += 1;
                g.new_drops_held += u64::from(mem.drops);
            }
            None => {}
        }
        if let (Some(fill), Some(rb)) = (mem.rcv_fill(), mem.rcvbuf) {
            if g.fullest.is_none_or(|(f, _, _)| fill > f) {
                g.fullest = Some((fill, mem.rmem_alloc, rb));
            }
        }
    }
    let mut out = Vec::new();
    let mut per_pid: BTreeMap<u32, ProcessDrops> = BTreeMap::new();
    for ((pid, local), g) in &groups {
        let f = judge_endpoint(ctx, *pid, *local, g);
        if let Some(pid) = pid {
            let p = per_pid.entry(*pid).or_default();
            if let Some(r) = g.rate() {
                p.per_s += r;
                p.dropped += g.dropped;
                p.sockets += g.sockets;
            }
            p.endpoint_fired |= f.is_some();
        }
        out.extend(f);
    }
    for (pid, p) in per_pid {
        if !p.endpoint_fired && p.sockets > 0 {
            out.extend(judge_process(ctx, pid, &p));
        }
    }
    out
}

fn comm_of(ctx: &Ctx<'_>, pid: Option<u32>) -> Option<Name> {
    pid.and_then(|p| ctx.snap.processes.get(&p))
        .map(|p| p.comm.clone())
}

/// `1234`, `12`, `0.5`: a rate as messages print it.
fn per_s(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// The rate conditions, shared by endpoints and processes; `k` is the hysteresis scale.
fn rate_verdict(ctx: &Ctx<'_>, rate: Option<f64>, k: f64) -> Option<Verdict> {
    let t = &ctx.th.udp_drops;
    let r = rate?;
    if r >= t.crit_drop_rate * k {
        Some(Verdict {
            severity: Severity::Critical,
            threshold: t.crit_drop_rate,
            why: format!(
                "{} drops/s ≥ critical threshold {}/s",
                per_s(r),
                per_s(t.crit_drop_rate)
            ),
        })
    } else if r > t.warn_drop_rate * k {
        let why = if t.warn_drop_rate > 0.0 {
            format!(
                "{} drops/s > warning threshold {}/s",
                per_s(r),
                per_s(t.warn_drop_rate)
            )
        } else {
            format!("the drop counter grew ({} drops/s)", per_s(r))
        };
        Some(Verdict {
            severity: Severity::Warning,
            threshold: t.warn_drop_rate,
            why,
        })
    } else {
        None
    }
}

fn judge_endpoint(ctx: &Ctx<'_>, pid: Option<u32>, local: Endpoint, g: &Group) -> Option<Finding> {
    let t = &ctx.th.udp_drops;
    let (unit, container) = super::accept::owner_cgroup(ctx, pid);
    let subject = Subject::Listener {
        local,
        pid,
        comm: comm_of(ctx, pid),
        unit,
        container,
    };
    let k = ctx.scale(RuleId::UdpDrops, &subject);
    let rate = g.rate();
    let verdict = rate_verdict(ctx, rate, k).or_else(|| {
        let (fill, _, _) = g.fullest?;
        (fill >= t.warn_fill * k).then(|| Verdict {
            severity: Severity::Warning,
            threshold: t.warn_fill,
            why: format!(
                "Recv-Q sits at {:.0}% of rcvbuf (≥ {:.0}%)",
                fill * 100.0,
                t.warn_fill * 100.0
            ),
        })
    })?;
    let mut f = finding(ctx, RuleId::UdpDrops, verdict.severity, subject);
    f.count = g.dropped;
    f.threshold = verdict.threshold;
    let rmem_max = ctx.sysctl("net.core.rmem_max");

    let mut parts = Vec::new();
    match rate {
        Some(r) => parts.push(format!("{} drops/s", per_s(r))),
        None if g.total_drops > 0 => parts.push(format!(
            "{} drops since creation (no rate yet)",
            g.total_drops
        )),
        None => {}
    }
    if let Some((fill, rmem, rb)) = g.fullest {
        parts.push(format!(
            "Recv-Q {rmem}/{rb} B ({:.0}% of rcvbuf)",
            fill * 100.0
        ));
    }
    if let Some(m) = rmem_max {
        parts.push(format!("rmem_max {m}"));
    }
    if let Some(h) = host_rcvbuf_errors(ctx) {
        parts.push(format!("host RcvbufErrors {}/s", per_s(h)));
    }
    let sockets = if g.sockets > 1 {
        format!(" ({} sockets)", g.sockets)
    } else {
        String::new()
    };
    f.message = format!(
        "{}{sockets}: {} — the receiver reads too slowly",
        f.subject,
        parts.join(", ")
    );

    let owner = match (pid, comm_of(ctx, pid)) {
        (Some(p), Some(c)) => format!("pid {p} ({c})"),
        (Some(p), None) => format!("pid {p}"),
        _ => "its owner (not attributed)".into(),
    };
    let mut lines = vec![
        format!("Fired because {}.", verdict.why),
        format!(
            "Verdict: {owner} does not read {local} fast enough. The kernel queues each \
             datagram on the socket until the application reads it; once the queue reaches \
             rcvbuf, every further datagram is dropped (ss -uam shows the socket's count as \
             d<N>) and counted host-wide as Udp RcvbufErrors."
        ),
    ];
    lines.extend(drop_lines(ctx, g));
    lines.push(buffer_line(
        g,
        rmem_max,
        ctx.sysctl("net.core.rmem_default"),
    ));
    lines.push(host_line(ctx));
    if pid.is_none() {
        if let Some(r) = ctx.snap.attribution.reason {
            lines.push(format!("Owner unknown: {}.", r.explain()));
        }
    }
    f.metrics.insert("port".into(), f64::from(local.port));
    f.metrics.insert("sockets".into(), g.sockets as f64);
    f.metrics.insert("connected".into(), g.connected as f64);
    f.metrics.insert("drops_total".into(), g.total_drops as f64);
    f.metrics.insert("drops_interval".into(), g.dropped as f64);
    if let Some(r) = rate {
        f.metrics.insert("drops_per_s".into(), r);
    }
    f.metrics
        .insert("sockets_new_with_drops".into(), g.new_with_drops as f64);
    if let Some((fill, rmem, rb)) = g.fullest {
        f.metrics.insert("rcv_fill".into(), fill);
        f.metrics.insert("rmem_alloc".into(), f64::from(rmem));
        f.metrics.insert("rcvbuf".into(), f64::from(rb));
    }
    put_host_rates(ctx, &mut f);
    put_sysctls(
        ctx,
        &mut f.metrics,
        &["net.core.rmem_max", "net.core.rmem_default"],
    );
    f.detail = detail(RuleId::UdpDrops, &lines);
    Some(f)
}

fn judge_process(ctx: &Ctx<'_>, pid: u32, d: &ProcessDrops) -> Option<Finding> {
    let (rate, dropped, sockets) = (d.per_s, d.dropped, d.sockets);
    let subject = Subject::of_process(pid, ctx.snap.processes.get(&pid));
    let k = ctx.scale(RuleId::UdpDrops, &subject);
    let v = rate_verdict(ctx, Some(rate), k)?;
    let mut f = finding(ctx, RuleId::UdpDrops, v.severity, subject);
    f.count = dropped;
    f.threshold = v.threshold;
    let host = host_rcvbuf_errors(ctx)
        .map(|h| format!(", host RcvbufErrors {}/s", per_s(h)))
        .unwrap_or_default();
    f.message = format!(
        "{}: {} drops/s over its {sockets} UDP sockets, none alone over the threshold{host} \
         — it reads too slowly",
        f.subject,
        per_s(rate)
    );
    f.metrics.insert("drops_per_s".into(), rate);
    f.metrics.insert("drops_interval".into(), dropped as f64);
    f.metrics.insert("sockets".into(), sockets as f64);
    put_host_rates(ctx, &mut f);
    put_sysctls(
        ctx,
        &mut f.metrics,
        &["net.core.rmem_max", "net.core.rmem_default"],
    );
    let lines = vec![
        format!("Fired because {}.", v.why),
        format!(
            "The drops are spread over many sockets of {}: `sockscope sockets -u --process \
             {pid}` lists them with their queues.",
            f.subject
        ),
        host_line(ctx),
    ];
    f.detail = detail(RuleId::UdpDrops, &lines);
    Some(f)
}

/// The interval's drops, and the sockets whose drops predate sockscope's first look.
fn drop_lines(ctx: &Ctx<'_>, g: &Group) -> Vec<String> {
    let mut lines = Vec::new();
    if let (Some(r), Some(secs)) = (g.rate(), ctx.socket_drops.interval_s) {
        lines.push(format!(
            "{} datagrams dropped in the last {secs:.1} s ({}/s); {} since the sockets were \
             created.",
            g.dropped,
            per_s(r),
            g.total_drops
        ));
    }
    if g.new_with_drops > 0 {
        lines.push(format!(
            "{} socket(s) first seen this tick already holding {} drops: dropped before \
             sockscope looked, at an unknown rate (not counted as one).",
            g.new_with_drops, g.new_drops_held
        ));
    }
    lines
}

/// rcvbuf against the sysctls that bound it, with the command that raises the cap.
fn buffer_line(g: &Group, rmem_max: Option<i64>, rmem_default: Option<i64>) -> String {
    let Some((_, _, rb)) = g.fullest else {
        return "rcvbuf unknown (the /proc/net/udp source does not give it; the netlink \
                source does): the drop counter alone judged this."
            .into();
    };
    let default = rmem_default.map_or_else(String::new, |d| format!("net.core.rmem_default {d}, "));
    let Some(max) = rmem_max else {
        return format!(
            "rcvbuf {rb} B ({default}net.core.rmem_max not read). setsockopt(SO_RCVBUF, n) \
             sets min(n, rmem_max) × 2."
        );
    };
    // The kernel doubles what SO_RCVBUF asks for (bookkeeping overhead), capped at rmem_max.
    let cap = max.saturating_mul(2);
    let raise = max.max(i64::from(rb)).saturating_mul(2);
    if i64::from(rb) >= cap {
        format!(
            "rcvbuf {rb} B is already at the cap ({default}net.core.rmem_max {max}; \
             SO_RCVBUF gives at most 2 × rmem_max = {cap} B): raise the cap first, e.g. \
             `sysctl -w net.core.rmem_max={raise}` (persist it in /etc/sysctl.d/), then \
             SO_RCVBUF in the application."
        )
    } else {
        format!(
            "rcvbuf {rb} B ({default}net.core.rmem_max {max}): the application may raise it \
             with setsockopt(SO_RCVBUF) up to 2 × rmem_max = {cap} B; beyond that, \
             `sysctl -w net.core.rmem_max={raise}` first (persist it in /etc/sysctl.d/)."
        )
    }
}

/// Host-wide `RcvbufErrors` per second, v4 and v6.
fn host_rcvbuf_errors(ctx: &Ctx<'_>) -> Option<f64> {
    ctx.rates?.udp_rate("RcvbufErrors")
}

fn host_line(ctx: &Ctx<'_>) -> String {
    let Some(r) = ctx.rates else {
        return "Host UDP counters: no rate (one sample).".into();
    };
    match (r.udp_rate("RcvbufErrors"), r.udp_rate("InErrors")) {
        (Some(b), Some(e)) => format!(
            "Host-wide (Udp + Udp6): RcvbufErrors {}/s, InErrors {}/s.",
            per_s(b),
            per_s(e)
        ),
        (Some(b), None) => format!("Host-wide (Udp + Udp6): RcvbufErrors {}/s.", per_s(b)),
        _ => "Host UDP counters not collected.".into(),
    }
}

fn put_host_rates(ctx: &Ctx<'_>, f: &mut Finding) {
    let Some(r) = ctx.rates else { return };
    for name in ["RcvbufErrors", "InErrors"] {
        if let Some(v) = r.udp_rate(name) {
            f.metrics.insert(format!("rate.Udp.{name}"), v);
        }
    }
}
