//! Per-second rates of the kernel TCP counters (TcpExt and Tcp), from the deltas between two
//! snapshots. Owns only arithmetic over [`KernelCounters`]; reading them is `collect`'s job.
//!
//! A counter that went *down* between two polls was reset (namespace recreated, a 32-bit
//! counter wrapped, or a different namespace got polled). How much happened in that interval
//! is unknowable, so its rate is reported as 0 for that one interval and the next interval
//! measures from the new value. This never produces a negative rate, and never invents a
//! huge one that could fire an alert.

use std::collections::BTreeMap;

use crate::model::KernelCounters;

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
    /// Names of counters that went down (treated as a reset, rate 0).
    pub resets: Vec<String>,
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
    let mut out = CounterRates {
        interval_s,
        ..CounterRates::default()
    };
    let mut one =
        |a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, dst: &mut BTreeMap<String, f64>| {
            for (name, &now) in b {
                if GAUGES.contains(&name.as_str()) {
                    continue;
                }
                let Some(&then) = a.get(name) else { continue };
                let rate = if now >= then {
                    (now - then) as f64 / interval_s
                } else {
                    out.resets.push(name.clone());
                    0.0
                };
                dst.insert(name.clone(), rate);
            }
        };
    let mut ext = BTreeMap::new();
    let mut tcp = BTreeMap::new();
    one(&prev.tcp_ext, &cur.tcp_ext, &mut ext);
    one(&prev.tcp, &cur.tcp, &mut tcp);
    out.tcp_ext = ext;
    out.tcp = tcp;
    Some(out)
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
    fn no_rate_without_time_passing() {
        assert!(rates(&kc(&[]), 5, &kc(&[]), 5).is_none());
        assert!(rates(&kc(&[]), 5, &kc(&[]), 4).is_none());
    }
}
