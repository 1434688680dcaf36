//! Per-second rates of the kernel counters (TcpExt, Tcp, and the host's `Udp:`/`Udp6`), from
//! the deltas between two snapshots, and of each UDP socket's own drop counter
//! ([`SocketDropTracker`]). Owns only arithmetic over counters; reading them is `collect`'s
//! job.
//!
//! A counter that went *down* between two polls was reset (namespace recreated, a 32-bit
//! counter wrapped, or a different namespace got polled). How much happened in that interval
//! is unknowable, so its rate is reported as 0 for that one interval and the next interval
//! measures from the new value. This never produces a negative rate, and never invents a
//! huge one that could fire an alert.

use std::collections::{BTreeMap, HashMap};

use crate::model::{Endpoint, KernelCounters, Snapshot};

/// Tcp counters that are gauges, not counters: they get no rate.
const GAUGES: [&str; 1] = ["CurrEstab"];

/// Per-second rates of every counter present in both snapshots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CounterRates {
    /// Seconds between the two samples.
    pub interval_s: f64,
    /// TcpExt rates by counter name.
    pub tcp_ext: BTreeMap<String, f64>,
    /// Tcp rates by counter name (gauges excluded).
    pub tcp: BTreeMap<String, f64>,
    /// Names of counters that went down (treated as a reset, rate 0); UDP ones prefixed
    /// `Udp.` / `Udp6.`.
    pub resets: Vec<String>,
    /// `Udp:` rates (/proc/net/snmp) by counter name; empty when not collected.
    pub udp: BTreeMap<String, f64>,
    /// `Udp6` rates (/proc/net/snmp6), named as in `Udp:`.
    pub udp6: BTreeMap<String, f64>,
    /// Conntrack statistics rates (`drop`, `early_drop`, `insert_failed`, …) by column
    /// name, when both samples read the table; resets are listed as `conntrack.NAME`.
    pub conntrack: BTreeMap<String, f64>,
    /// Growth of the conntrack entry count per second (a gauge: negative when it shrank),
    /// when both samples read the table.
    pub conntrack_count_per_s: Option<f64>,
}

impl CounterRates {
    /// The rate of `name`, looked up in TcpExt then Tcp; 0 when unknown.
    pub fn get(&self, name: &str) -> f64 {
        self.tcp_ext
            .get(name)
            .or_else(|| self.tcp.get(name))
            .copied()
            .unwrap_or(0.0)
    }

    /// Whether `name` was present in both samples.
    pub fn has(&self, name: &str) -> bool {
        self.tcp_ext.contains_key(name) || self.tcp.contains_key(name)
    }

    /// The host-wide UDP rate of `name` (`RcvbufErrors`, `InErrors`): v4 and v6 summed, as
    /// the kernel counts a datagram in one of them only. `None` when neither was measured.
    pub fn udp_rate(&self, name: &str) -> Option<f64> {
        match (self.udp.get(name), self.udp6.get(name)) {
            (None, None) => None,
            (a, b) => Some(a.copied().unwrap_or(0.0) + b.copied().unwrap_or(0.0)),
        }
    }
}

/// Rates between `prev` (taken at `prev_ms`) and `cur` (taken at `cur_ms`). `None` when the
/// clock did not advance.
pub fn rates(
    prev: &KernelCounters,
    prev_ms: i64,
    cur: &KernelCounters,
    cur_ms: i64,
) -> Option<CounterRates> {
    if cur_ms <= prev_ms {
        return None;
    }
    let interval_s = (cur_ms - prev_ms) as f64 / 1000.0;
    let mut resets = Vec::new();
    // `prefix` names the table in `resets` where names collide (Udp's InErrors, Tcp's).
    let mut one = |a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, prefix: &str| {
        let mut dst = BTreeMap::new();
        for (name, &now) in b {
            if GAUGES.contains(&name.as_str()) {
                continue;
            }
            let Some(&then) = a.get(name) else { continue };
            let rate = if now >= then {
                (now - then) as f64 / interval_s
            } else {
                resets.push(format!("{prefix}{name}"));
                0.0
            };
            dst.insert(name.clone(), rate);
        }
        dst
    };
    let tcp_ext = one(&prev.tcp_ext, &cur.tcp_ext, "");
    let tcp = one(&prev.tcp, &cur.tcp, "");
    let udp = one(&prev.udp, &cur.udp, "Udp.");
    let udp6 = one(&prev.udp6, &cur.udp6, "Udp6.");
    let (conntrack, conntrack_count_per_s) = match (&prev.conntrack, &cur.conntrack) {
        (Some(a), Some(b)) => (
            one(&a.stats, &b.stats, "conntrack."),
            Some((b.count as f64 - a.count as f64) / interval_s),
        ),
        _ => (BTreeMap::new(), None),
    };
    let out = CounterRates {
        interval_s,
        tcp_ext,
        tcp,
        resets,
        udp,
        udp6,
        conntrack,
        conntrack_count_per_s,
    };
    Some(out)
}

/// What one UDP socket dropped since the previous tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SocketDropRate {
    /// Drops counted in the interval (0 when the counter went down: a reset, see the module
    /// doc).
    pub dropped: u64,
    /// The same per second.
    pub per_s: f64,
}

/// Per-socket drop rates of one tick.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SocketDropRates {
    /// Seconds since the previous tick of the same namespace; `None` on the first.
    pub interval_s: Option<f64>,
    /// Index-aligned with [`Snapshot::udp`]: the socket's drops since the previous tick, or
    /// `None` when it was not there (a socket first seen already holding drops dropped them
    /// at some unknown time: that is no rate) or carries no drop counter.
    pub per_socket: Vec<Option<SocketDropRate>>,
}

impl SocketDropRates {
    /// The rate of `snap.udp[i]`.
    pub fn get(&self, i: usize) -> Option<SocketDropRate> {
        self.per_socket.get(i).copied().flatten()
    }
}

/// A UDP socket's identity across ticks: its sock_diag cookie (never reused), else (from
/// /proc) its inode with its local endpoint, so a recycled inode is seldom mistaken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SocketKey {
    Cookie(u64),
    Inode(u64, Endpoint),
}

/// Remembers every UDP socket's drop counter from the previous tick, to turn the kernel's
/// per-socket totals (since creation) into rates.
#[derive(Debug, Default)]
pub struct SocketDropTracker {
    /// Namespace, time and counters of the previous tick.
    prev: Option<(String, i64, HashMap<SocketKey, u32>)>,
}

impl SocketDropTracker {
    /// A tracker that has seen nothing.
    pub fn new() -> SocketDropTracker {
        SocketDropTracker::default()
    }

    /// Rates between the previous tick and `snap`, then remembers `snap`'s counters. A tick
    /// of another namespace, or one without UDP, starts over: no rate is invented across it.
    pub fn observe(&mut self, snap: &Snapshot) -> SocketDropRates {
        let key = |s: &crate::model::SocketRecord| match (s.cookie, s.inode) {
            (Some(c), _) => Some(SocketKey::Cookie(c)),
            (None, 0) => None,
            (None, ino) => Some(SocketKey::Inode(ino, s.local)),
        };
        let prev = self.prev.take().filter(|(ns, t, _)| {
            *ns == snap.netns
                && *t < snap.taken_at_ms
                && snap.protocols.contains(crate::model::Protocol::Udp)
        });
        let interval_s = prev
            .as_ref()
            .map(|(_, t, _)| (snap.taken_at_ms - t) as f64 / 1000.0);
        let mut now = HashMap::with_capacity(snap.udp.len());
        let per_socket = snap
            .udp
            .iter()
            .map(|s| {
                let (k, drops) = (key(s)?, s.skmem?.drops);
                now.insert(k, drops);
                let then = *prev.as_ref()?.2.get(&k)?;
                let secs = interval_s?;
                let dropped = u64::from(drops.saturating_sub(then));
                Some(SocketDropRate {
                    dropped,
                    per_s: dropped as f64 / secs,
                })
            })
            .collect();
        if snap.protocols.contains(crate::model::Protocol::Udp) {
            self.prev = Some((snap.netns.clone(), snap.taken_at_ms, now));
        }
        SocketDropRates {
            interval_s,
            per_socket,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kc(ext: &[(&str, u64)]) -> KernelCounters {
        KernelCounters {
            tcp_ext: ext.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
            tcp: [
                ("CurrEstab".to_string(), 5),
                ("ActiveOpens".to_string(), 10),
            ]
            .into_iter()
            .collect(),
            udp: Default::default(),
            udp6: Default::default(),
            sockets_in_use: Default::default(),
            conntrack: None,
            conntrack_absent: None,
        }
    }

    #[test]
    fn rate_is_delta_over_seconds() {
        let r = rates(
            &kc(&[("ListenOverflows", 100)]),
            1_000,
            &kc(&[("ListenOverflows", 150)]),
            3_000,
        )
        .unwrap();
        assert_eq!(r.interval_s, 2.0);
        assert_eq!(r.get("ListenOverflows"), 25.0);
        assert_eq!(r.get("ActiveOpens"), 0.0);
        assert!(!r.has("CurrEstab"), "gauges get no rate");
        assert!(!r.has("SyncookiesSent"));
    }

    #[test]
    fn reset_and_wrap_never_go_negative() {
        // A 32-bit counter wrapping, and a counter reset to a small value.
        let a = kc(&[
            ("SyncookiesSent", u64::from(u32::MAX) - 5),
            ("ListenDrops", 1_000_000),
        ]);
        let b = kc(&[("SyncookiesSent", 10), ("ListenDrops", 3)]);
        let r = rates(&a, 0, &b, 1_000).unwrap();
        assert_eq!(r.get("SyncookiesSent"), 0.0);
        assert_eq!(r.get("ListenDrops"), 0.0);
        assert_eq!(r.resets.len(), 2);
        // The next interval measures from the new baseline.
        let c = kc(&[("SyncookiesSent", 30), ("ListenDrops", 3)]);
        assert_eq!(
            rates(&b, 1_000, &c, 2_000).unwrap().get("SyncookiesSent"),
            20.0
        );
    }

    #[test]
    fn udp_rates_sum_v4_and_v6_and_name_their_resets() {
        let mut a = kc(&[]);
        let mut b = kc(&[]);
        a.udp.insert("RcvbufErrors".into(), 100);
        b.udp.insert("RcvbufErrors".into(), 130);
        a.udp6.insert("RcvbufErrors".into(), 10);
        b.udp6.insert("RcvbufErrors".into(), 20);
        a.udp.insert("InErrors".into(), 50);
        b.udp.insert("InErrors".into(), 5);
        let r = rates(&a, 0, &b, 2_000).unwrap();
        assert_eq!(r.udp_rate("RcvbufErrors"), Some(20.0));
        assert_eq!(r.udp_rate("InErrors"), Some(0.0));
        assert_eq!(r.udp_rate("NoPorts"), None);
        assert_eq!(r.resets, vec!["Udp.InErrors".to_string()]);
        // Udp's InErrors never answers for Tcp's.
        assert!(!r.has("RcvbufErrors"));
    }

    fn udp_snap(t_ms: i64, socks: &[(Option<u64>, u64, u32)]) -> Snapshot {
        let mut snap = crate::model::fixtures::snapshot(Vec::new());
        snap.protocols = crate::model::Protocols::only(crate::model::Protocol::Udp);
        snap.taken_at_ms = t_ms;
        snap.udp = socks
            .iter()
            .map(|&(cookie, inode, drops)| {
                let mut s = crate::model::fixtures::sock(
                    crate::model::TcpState::Close,
                    "127.0.0.1:5353",
                    "0.0.0.0:0",
                    crate::model::Owner::Process(42),
                );
                s.cookie = cookie;
                s.inode = inode;
                s.skmem = Some(crate::model::SkMem {
                    drops,
                    ..Default::default()
                });
                s
            })
            .collect();
        snap
    }

    #[test]
    fn socket_drops_become_rates_only_between_two_sightings() {
        let mut t = SocketDropTracker::new();
        // Both sockets appear already holding drops: no rate for either.
        let r = t.observe(&udp_snap(1_000, &[(Some(1), 10, 5_000), (None, 11, 7)]));
        assert_eq!(r.interval_s, None);
        assert_eq!(r.per_socket, vec![None, None]);
        // Two seconds later: the cookie one grew by 600, the /proc one (inode key) by 4;
        // a third socket is new with old drops.
        let r = t.observe(&udp_snap(
            3_000,
            &[(Some(1), 10, 5_600), (None, 11, 11), (Some(2), 12, 90)],
        ));
        assert_eq!(r.interval_s, Some(2.0));
        assert_eq!(
            r.get(0),
            Some(SocketDropRate {
                dropped: 600,
                per_s: 300.0
            })
        );
        assert_eq!(r.get(1).map(|d| d.dropped), Some(4));
        assert_eq!(r.get(2), None, "new socket holding drops is not a rate");
        // Steady: known sockets with no new drops rate 0; a counter that went down reads as
        // a reset (0), never negative.
        let r = t.observe(&udp_snap(
            4_000,
            &[(Some(1), 10, 5_600), (None, 11, 3), (Some(2), 12, 90)],
        ));
        assert!(
            r.per_socket.iter().all(|d| d.map(|d| d.per_s) == Some(0.0)),
            "{r:?}"
        );
    }

    #[test]
    fn another_namespace_or_no_udp_starts_over() {
        let mut t = SocketDropTracker::new();
        t.observe(&udp_snap(1_000, &[(Some(1), 10, 5)]));
        let mut other = udp_snap(2_000, &[(Some(1), 10, 50)]);
        other.netns = "blue".into();
        assert_eq!(t.observe(&other).get(0), None);
        let mut tcp_only = udp_snap(3_000, &[]);
        tcp_only.protocols = crate::model::Protocols::TCP;
        t.observe(&tcp_only);
        assert_eq!(
            t.observe(&udp_snap(4_000, &[(Some(1), 10, 90)])).get(0),
            None
        );
        // The clock did not advance: no rate.
        assert_eq!(
            t.observe(&udp_snap(4_000, &[(Some(1), 10, 95)])).get(0),
            None
        );
        let r = t.observe(&udp_snap(5_000, &[(Some(1), 10, 100)]));
        assert_eq!(r.get(0).map(|d| d.dropped), Some(5));
    }

    #[test]
    fn no_rate_without_time_passing() {
        assert!(rates(&kc(&[]), 5, &kc(&[]), 5).is_none());
        assert!(rates(&kc(&[]), 5, &kc(&[]), 4).is_none());
    }
}
