//! `close_wait_leak`: per process, CLOSE_WAIT sockets the application never close()s.
//! Fires on a count (at once), on a count that grew at every sample over a minute, or on an
//! old socket, and names the peers, including the local FIN_WAIT2 end when both ends are on
//! this host.
//!
//! A process in a container or a systemd `.service` is judged with all the processes of
//! that container or service ([`LeakKey`]): its subject is a [`Subject::Service`] listing
//! the current pids, so a leak that survives a restart stays one finding, one alert and one
//! history series instead of a new one per pid. Owns only this rule.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::{detail, finding, put_sysctls, Ctx};
use crate::analyze::finding::{human_duration, human_growth, Finding, Severity, Subject};
use crate::analyze::history::{LeakKey, OwnerKey};
use crate::model::RuleId;
use crate::model::{Endpoint, Name, SocketRecord, TcpState};

/// The pids a service finding names one by one in its detail and metrics.
const MAX_LISTED_PIDS: usize = 10;

/// Evidence about one owner's CLOSE_WAIT sockets.
#[derive(Default)]
struct Group {
    count: u64,
    /// CLOSE_WAIT sockets per pid holding them (one pid, unless the key is a service or
    /// container).
    pids: BTreeMap<u32, u64>,
    oldest_s: Option<u64>,
    /// The oldest age is only a lower bound (there when sockscope started, undated by the
    /// kernel).
    oldest_lower_bound: bool,
    /// Recv-Q 0: the application read the end of stream and never closed.
    eof_read: u64,
    /// Recv-Q 1: nothing but the peer's FIN is unread (the FIN takes one sequence number).
    fin_unread: u64,
    /// Recv-Q > 1: data and the FIN unread.
    data_unread: u64,
    /// The data bytes those hold: Recv-Q less the FIN's one.
    data_bytes: u64,
    peers: HashMap<IpAddr, u64>,
    locals: HashMap<Endpoint, u64>,
    local_peers: HashMap<OwnerKey, u64>,
}

pub(super) fn detect(ctx: &Ctx<'_>) -> Vec<Finding> {
    let snap = ctx.snap;
    // FIN_WAIT2 sockets by (local, remote): a CLOSE_WAIT socket's local peer is the one
    // whose 4-tuple is its own reversed.
    let fin_wait2: HashMap<(Endpoint, Endpoint), &SocketRecord> = snap
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::FinWait2)
        .map(|s| ((s.local, s.remote), s))
        .collect();
    let mut groups: HashMap<LeakKey, Group> = HashMap::new();
    for s in snap
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::CloseWait)
    {
        let Some(key) = LeakKey::of(snap, s.owner, s.inode) else {
            continue;
        };
        let g = groups.entry(key).or_default();
        g.count += 1;
        if let Some(pid) = s.owner.pid() {
            *g.pids.entry(pid).or_default() += 1;
        }
        if let Some(a) = ctx.ages.age(s) {
            let secs = u64::from(a.secs);
            // The oldest decides; among equals, an exact age beats a lower bound.
            if g.oldest_s
                .is_none_or(|o| secs > o || (secs == o && !a.lower_bound))
            {
                g.oldest_lower_bound = a.lower_bound;
            }
            g.oldest_s = Some(g.oldest_s.map_or(secs, |o| o.max(secs)));
        }
        match s.recv_q {
            0 => g.eof_read += 1,
            1 => g.fin_unread += 1,
            n => {
                g.data_unread += 1;
                g.data_bytes += u64::from(n) - 1;
            }
        }
        *g.peers.entry(s.remote.ip).or_default() += 1;
        *g.locals.entry(s.local).or_default() += 1;
        if let Some(p) = fin_wait2.get(&(s.remote, s.local)) {
            if let Some(pk) = OwnerKey::of(p.owner, p.inode) {
                *g.local_peers.entry(pk).or_default() += 1;
            }
        }
    }
    let mut out: Vec<Finding> = groups
        .into_iter()
        .filter_map(|(k, g)| judge(ctx, k, g))
        .collect();
    out.sort_by_key(|f| std::cmp::Reverse(f.count));
    out
}

/// The pids of a group, the one holding the most first (ties: the lowest pid).
fn by_count(pids: &BTreeMap<u32, u64>) -> Vec<(u32, u64)> {
    let mut v: Vec<(u32, u64)> = pids.iter().map(|(&p, &n)| (p, n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn subject(ctx: &Ctx<'_>, key: &LeakKey, pids: &BTreeMap<u32, u64>) -> Subject {
    let procs = &ctx.snap.processes;
    // The comm of the pid that holds the most: a service's shell or supervisor must not
    // name a leak its worker holds.
    let first = by_count(pids).iter().find_map(|(p, _)| procs.get(p));
    let comm = first.map_or_else(|| Name::from("?"), |p| p.comm.clone());
    match key {
        LeakKey::Owner(OwnerKey::Pid(pid)) => Subject::of_process(*pid, procs.get(pid)),
        LeakKey::Owner(OwnerKey::Unattributed) => Subject::Unowned { orphaned: false },
        LeakKey::Owner(OwnerKey::Orphaned) => Subject::Unowned { orphaned: true },
        LeakKey::Service(unit) => Subject::Service {
            unit: Some(unit.clone()),
            container: None,
            pids: pids.keys().copied().collect(),
            comm,
        },
        LeakKey::Container(..) => Subject::Service {
            unit: None,
            container: first.and_then(|p| p.container.clone()),
            pids: pids.keys().copied().collect(),
            comm,
        },
    }
}

fn owner_label(ctx: &Ctx<'_>, key: OwnerKey) -> String {
    match key {
        OwnerKey::Pid(pid) => match ctx.snap.processes.get(&pid) {
            Some(p) => format!("pid {pid} ({})", p.comm),
            None => format!("pid {pid}"),
        },
        OwnerKey::Unattributed => "an unnamed process".into(),
        OwnerKey::Orphaned => "no process (orphaned)".into(),
    }
}

/// The unit or container label of a service subject.
fn service_label(s: &Subject) -> String {
    match (s.container(), s.unit()) {
        (Some(c), _) => c.label(),
        (None, Some(u)) => u.label(),
        (None, None) => "?".into(),
    }
}

/// Who holds a leak, for prose: the owner's words, or the service or container.
fn leak_label(ctx: &Ctx<'_>, key: &LeakKey, subject: &Subject) -> String {
    match key {
        LeakKey::Owner(k) => owner_label(ctx, *k),
        _ => service_label(subject),
    }
}

/// One line per kind of CLOSE_WAIT the group holds, each with its own remedy.
fn recvq_lines(g: &Group) -> Vec<String> {
    let mut lines = Vec::new();
    if g.eof_read > 0 {
        lines.push(format!(
            "{} read the end of stream and never closed (Recv-Q 0): a close() is missing on the \
             path where read() returns 0 or an error; close there.",
            g.eof_read
        ));
    }
    if g.fin_unread > 0 {
        lines.push(format!(
            "{} never read the peer's FIN (Recv-Q 1: the FIN itself, no data): the application \
             stopped looking at them (an idle pooled connection, an abandoned handle); evict \
             idle connections or poll them for EOF.",
            g.fin_unread
        ));
    }
    if g.data_unread > 0 {
        lines.push(format!(
            "{} hold unread data and the FIN (Recv-Q > 1: {} bytes of data in all): a reader \
             stopped mid-stream; read to the end, then close.",
            g.data_unread, g.data_bytes
        ));
    }
    lines
}

fn judge(ctx: &Ctx<'_>, key: LeakKey, g: Group) -> Option<Finding> {
    let c = &ctx.th.close_wait_leak;
    let subject = subject(ctx, &key, &g.pids);
    let k = ctx.scale(RuleId::CloseWaitLeak, &subject);
    let active = k < 1.0;
    let value = |t: &crate::analyze::history::Tick| t.close_wait.get(&key).copied().unwrap_or(0);
    let growth = ctx.history.growth_per_min(value);
    let window_ms = i64::try_from(c.growth_window_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let grew = ctx.history.grew_every_sample(window_ms, value);
    let n = g.count as f64;
    let old = g
        .oldest_s
        .is_some_and(|a| a as f64 >= c.warn_age_s as f64 * k);
    let small_ok = g.count >= c.min_count;

    let (severity, threshold, why) = if n >= c.crit_count as f64 * k {
        let why = format!("count {} ≥ critical threshold {}", g.count, c.crit_count);
        (Severity::Critical, c.crit_count as f64, why)
    } else if n >= c.warn_count as f64 * k {
        let why = format!("count {} ≥ warning threshold {}", g.count, c.warn_count);
        (Severity::Warning, c.warn_count as f64, why)
    } else if small_ok && old {
        let why = format!(
            "a CLOSE_WAIT socket is older than {}",
            human_duration(c.warn_age_s)
        );
        (Severity::Warning, c.warn_age_s as f64, why)
    } else if small_ok && (grew || (active && growth.is_some_and(|g| g > 0.0))) {
        let why = format!(
            "the count grew at every sample over {}",
            human_duration(c.growth_window_s)
        );
        (Severity::Warning, c.min_count as f64, why)
    } else {
        return None;
    };

    let mut f = finding(ctx, RuleId::CloseWaitLeak, severity, subject);
    f.count = g.count;
    f.growth_per_min = growth;
    f.oldest_age_s = g.oldest_s;
    f.threshold = threshold;

    let mut paren = Vec::new();
    if let Some(gr) = growth {
        paren.push(human_growth(gr));
    }
    if let Some(a) = g.oldest_s {
        // An age only known from sockscope's own start is said as such: a three-hour leak
        // must not read as new.
        let at_least = if g.oldest_lower_bound { "≥" } else { "" };
        paren.push(format!("oldest {at_least}{}", human_duration(a)));
    }
    let paren = if paren.is_empty() {
        String::new()
    } else {
        format!(" ({})", paren.join(", "))
    };
    f.message = match key {
        LeakKey::Owner(OwnerKey::Unattributed | OwnerKey::Orphaned) => format!(
            "{} CLOSE_WAIT held by processes sockscope could not name{paren}",
            g.count
        ),
        _ => format!("{} holds {} CLOSE_WAIT{paren}", f.subject, g.count),
    };

    let mut lines = vec![format!("Fired because {why}.")];
    if matches!(f.subject, Subject::Service { .. }) {
        let label = service_label(&f.subject);
        let ranked = by_count(&g.pids);
        let list: Vec<String> = ranked
            .iter()
            .take(MAX_LISTED_PIDS)
            .map(|(pid, n)| match ctx.snap.processes.get(pid) {
                Some(p) => format!("{pid} {} ({n})", p.comm),
                None => format!("{pid} ({n})"),
            })
            .collect();
        let more = ranked.len().saturating_sub(MAX_LISTED_PIDS);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        lines.push(format!(
            "Counted over every process of {label}; pids now: {}{more}. A restart under new \
             pids continues this finding, its growth and its first-seen time.",
            list.join(", ")
        ));
        f.metrics.insert("pids".into(), ranked.len() as f64);
        for (pid, n) in ranked.iter().take(MAX_LISTED_PIDS) {
            f.metrics.insert(format!("pid.{pid}"), *n as f64);
        }
    }
    let top = |m: HashMap<String, u64>| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(c.top_peers);
        v
    };
    let peers = top(g.peers.iter().map(|(ip, n)| (ip.to_string(), *n)).collect());
    let locals = top(g.locals.iter().map(|(e, n)| (e.to_string(), *n)).collect());
    let list = |v: &[(String, u64)]| {
        v.iter()
            .map(|(a, n)| format!("{a} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    lines.push(format!("Remote peers: {}.", list(&peers)));
    lines.push(format!("Local endpoints: {}.", list(&locals)));
    for (p, n) in &peers {
        f.metrics.insert(format!("peer.{p}"), *n as f64);
    }
    for (l, n) in &locals {
        f.metrics.insert(format!("local.{l}"), *n as f64);
    }
    // In CLOSE_WAIT the peer's FIN takes one sequence number: Recv-Q counts it until the
    // application reads the end of stream, so 0, 1 and more are three different bugs.
    f.metrics.insert(
        "oldest_age_lower_bound".into(),
        f64::from(u8::from(g.oldest_lower_bound)),
    );
    f.metrics.insert("recvq.eof_read".into(), g.eof_read as f64);
    f.metrics
        .insert("recvq.fin_unread".into(), g.fin_unread as f64);
    f.metrics
        .insert("recvq.data_unread".into(), g.data_unread as f64);
    f.metrics
        .insert("recvq.data_bytes".into(), g.data_bytes as f64);
    lines.extend(recvq_lines(&g));
    if let Some((&pk, &matched)) = g
        .local_peers
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
    {
        let total = ctx
            .history
            .ticks()
            .last()
            .and_then(|t| t.fin_wait2.get(&pk).copied())
            .unwrap_or(matched);
        f.metrics
            .insert("local_peer.fin_wait2".into(), matched as f64);
        f.metrics
            .insert("local_peer.fin_wait2_total".into(), total as f64);
        if let OwnerKey::Pid(pid) = pk {
            f.metrics.insert("local_peer.pid".into(), f64::from(pid));
        }
        let who = owner_label(ctx, pk);
        f.message
            .push_str(&format!("; peer {who} holds {total} FIN_WAIT2"));
        lines.push(format!(
            "The peer end is on this host: {who} holds {total} FIN_WAIT2 sockets, {matched} of \
             them the other half of these CLOSE_WAIT sockets (the FIN_WAIT2 ↔ CLOSE_WAIT \
             pair). The peer closed; {} has not.",
            leak_label(ctx, &key, &f.subject)
        ));
    }
    if key == LeakKey::Owner(OwnerKey::Unattributed) {
        if let Some(r) = ctx.snap.attribution.reason {
            lines.push(format!("Owner unknown: {}.", r.explain()));
        }
    }
    put_sysctls(
        ctx,
        &mut f.metrics,
        &[
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ],
    );
    f.detail = detail(RuleId::CloseWaitLeak, &lines);
    Some(f)
}

#[cfg(test)]
#[path = "close_wait_tests.rs"]
mod tests;
