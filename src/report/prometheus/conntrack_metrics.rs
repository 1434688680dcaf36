//! The conntrack part of the exposition: per namespace, the table's entries, its limit, its
//! hash buckets, and the per-CPU statistics summed (`sockscope_conntrack_drops_total` for
//! the refusals, `sockscope_conntrack_stat_total{name}` for every column). Pure over the
//! snapshots, like [`super::metrics`] (whose series and encoding helpers it uses); reading
//! the table is `collect`'s, judging it `conntrack_full`'s.
//!
//! A namespace whose snapshot holds no table (module not loaded, counters not collected)
//! gets no series at all: zeros would claim an empty table. The statistics are per-CPU
//! 32-bit kernel counters summed here; one that went down (a CPU's counter wrapped) is a
//! counter reset to Prometheus, which `rate()` already handles.

use prometheus_client::registry::Registry;

use super::metrics::{encode, labels, Series};
use crate::analyze::engine::Analysis;
use crate::model::{Snapshot, CONNTRACK_DROP_STATS};

/// The conntrack families of every namespace in `ticks`; empty when none has a table.
pub(super) fn render(ticks: &[(Snapshot, Analysis)]) -> String {
    let mut entries = Series::<u64>::gauge();
    let mut max = Series::<u64>::gauge();
    let mut buckets = Series::<u64>::gauge();
    let mut drops = Series::<u64>::counter();
    let mut stats = Series::<u64>::counter();
    let mut any = false;
    for (snap, _) in ticks {
        let Some(ct) = snap.counters.as_ref().and_then(|c| c.conntrack.as_ref()) else {
            continue;
        };
        any = true;
        let ns = snap.netns.as_str();
        entries.slot(labels(ns, &[])).set(ct.count);
        if let Some(m) = ct.max {
            max.slot(labels(ns, &[])).set(m);
        }
        if let Some(b) = ct.buckets {
            buckets.slot(labels(ns, &[])).set(b);
        }
        for name in CONNTRACK_DROP_STATS {
            if let Some(v) = ct.stat(name) {
                drops.slot(labels(ns, &[("kind", name)])).set(v);
            }
        }
        for (name, &v) in &ct.stats {
            stats.slot(labels(ns, &[("name", name)])).set(v);
        }
    }
    if !any {
        return String::new();
    }
    let mut r = Registry::with_prefix("sockscope");
    r.register(
        "conntrack_entries",
        "Entries in the namespace's netfilter conntrack table (nf_conntrack_count)",
        entries,
    );
    r.register(
        "conntrack_max",
        "Limit of the conntrack table (nf_conntrack_max; global, the same in every namespace)",
        max,
    );
    r.register(
        "conntrack_buckets",
        "Hash buckets of the conntrack table (nf_conntrack_buckets; global)",
        buckets,
    );
    r.register(
        "conntrack_drops",
        "Conntrack entries the kernel refused, summed over CPUs: drop (table full), \
         early_drop (an entry evicted to make room), insert_failed",
        drops,
    );
    r.register(
        "conntrack_stat",
        "Every per-CPU statistic of /proc/net/stat/nf_conntrack summed over CPUs, by the \
         kernel's column name",
        stats,
    );
    encode(&r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::engine::Analyzer;
    use crate::model::fixtures::snapshot;
    use crate::model::{Conntrack, KernelCounters};

    fn tick(netns: &str, ct: Option<Conntrack>) -> (Snapshot, Analysis) {
        let mut s = snapshot(vec![]);
        s.netns = netns.into();
        s.counters = Some(KernelCounters {
            conntrack: ct,
            ..KernelCounters::default()
        });
        let a = Analyzer::new().observe(&s);
        (s, a)
    }

    #[test]
    fn families_per_namespace_and_nothing_without_a_table() {
        let ct = Conntrack {
            count: 30,
            max: Some(262_144),
            buckets: Some(65_536),
            stats: [
                ("drop".to_string(), 4),
                ("early_drop".to_string(), 1),
                ("found".to_string(), 9),
            ]
            .into(),
            cpus: 2,
            dropped_stats: 0,
        };
        let out = render(&[tick("ns1", Some(ct)), tick("bare", None)]);
        for want in [
            "# TYPE sockscope_conntrack_entries gauge",
            "sockscope_conntrack_entries{netns=\"ns1\"} 30",
            "sockscope_conntrack_max{netns=\"ns1\"} 262144",
            "sockscope_conntrack_buckets{netns=\"ns1\"} 65536",
            "# TYPE sockscope_conntrack_drops counter",
            "sockscope_conntrack_drops_total{netns=\"ns1\",kind=\"drop\"} 4",
            "sockscope_conntrack_drops_total{netns=\"ns1\",kind=\"early_drop\"} 1",
            "sockscope_conntrack_stat_total{netns=\"ns1\",name=\"found\"} 9",
        ] {
            assert!(out.contains(want), "{want}\n{out}");
        }
        assert!(!out.contains("bare"), "{out}");
        assert!(
            !out.contains("kind=\"insert_failed\""),
            "a column this kernel lacks is no series: {out}"
        );
        assert_eq!(render(&[tick("bare", None)]), "");
    }
}
