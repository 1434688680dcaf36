//! The destroy-event families of the exposition: whether events are read
//! (`sockscope_socket_events_up`), the running totals ([`ChurnLedger`]: destroys per
//! protocol, short-lived connections, events the kernel dropped) and the latest interval's
//! top remote endpoints and processes by closes per second (a bounded label set, rebuilt
//! every tick). Pure over the ticks' [`Churn`]; no I/O, no clock.
//!
//! A namespace whose tick carries no churn exports `sockscope_socket_events_up 0` and no
//! event counters: "not read" must not look like "nothing closed".

use std::collections::BTreeMap;

use prometheus_client::registry::Registry;

use super::metrics::{encode, labels, Series, NAME_LABEL_MAX};
use crate::analyze::engine::Analysis;
use crate::analyze::events::per_second;
use crate::model::{Protocol, Snapshot};

/// Remote endpoints and processes exported per namespace and tick, most closes first.
pub const TOP_CHURN: usize = 10;

/// Running totals of one namespace since events were first read there.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    /// Destroy events seen: TCP, UDP.
    destroys: [u64; 2],
    /// Connections no poll saw (lived less than one interval).
    short_lived: u64,
    /// Events the kernel dropped.
    lost: u64,
}

/// The tick thread's running event totals per namespace.
#[derive(Debug, Default)]
pub struct ChurnLedger {
    totals: BTreeMap<String, Totals>,
}

impl ChurnLedger {
    /// Adds each namespace's interval.
    pub fn observe(&mut self, ticks: &[(Snapshot, Analysis)]) {
        for (snap, analysis) in ticks {
            let Some(c) = &analysis.churn else { continue };
            let t = self.totals.entry(snap.netns.clone()).or_default();
            t.destroys[0] += c.window.closes[0];
            t.destroys[1] += c.window.closes[1];
            t.short_lived += c.window.short_lived;
            t.lost += c.window.lost;
        }
    }
}

/// The event families for `ticks`, with the totals of `ledger` (after it observed them).
pub fn render(ticks: &[(Snapshot, Analysis)], ledger: &ChurnLedger) -> String {
    let mut up = Series::<u64>::gauge();
    let mut destroys = Series::<u64>::counter();
    let mut short_lived = Series::<u64>::counter();
    let mut lost = Series::<u64>::counter();
    let mut remotes = Series::<f64>::gauge();
    let mut processes = Series::<f64>::gauge();
    for (snap, analysis) in ticks {
        let ns = snap.netns.as_str();
        up.slot(labels(ns, &[]))
            .set(u64::from(analysis.churn.is_some()));
        let (Some(c), Some(t)) = (&analysis.churn, ledger.totals.get(ns)) else {
            continue;
        };
        for (i, p) in [Protocol::Tcp, Protocol::Udp].into_iter().enumerate() {
            if snap.protocols.contains(p) {
                destroys
                    .slot(labels(ns, &[("protocol", p.name())]))
                    .set(t.destroys[i]);
            }
        }
        short_lived.slot(labels(ns, &[])).set(t.short_lived);
        lost.slot(labels(ns, &[])).set(t.lost);
        for (remote, n) in c.window.top_remotes(TOP_CHURN) {
            remotes
                .slot(labels(ns, &[("remote", &remote.to_string())]))
                .set(per_second(n, c.seconds));
        }
        for (_, comm, n) in c.window.top_processes(TOP_CHURN) {
            let comm = comm.label_value(NAME_LABEL_MAX);
            // Two processes with one comm share a series: add, do not overwrite.
            processes
                .slot(labels(ns, &[("comm", &comm)]))
                .inc_by(per_second(n, c.seconds));
        }
    }
    let mut r = Registry::with_prefix("sockscope");
    r.register(
        "socket_events_up",
        "1 when the kernel's socket destroy events are read in this namespace (sock_diag \
         destroy groups, CAP_NET_ADMIN); 0 when not, and the event families are then absent",
        up,
    );
    r.register(
        "socket_destroys",
        "Sockets destroyed (closed for good), from the kernel's destroy events, including \
         connections no poll saw",
        destroys,
    );
    r.register(
        "socket_short_lived",
        "Destroyed connections no poll saw: they lived less than one poll interval",
        short_lived,
    );
    r.register(
        "socket_destroy_events_lost",
        "Destroy events the kernel dropped because its receive queue was full (each one \
         destroyed socket not counted in sockscope_socket_destroys_total)",
        lost,
    );
    r.register(
        "remote_closes_per_second",
        "Sockets toward this remote endpoint closed per second over the latest interval, \
         top remote endpoints only",
        remotes,
    );
    r.register(
        "process_closes_per_second",
        "Sockets of this process command closed per second over the latest interval, top \
         processes only (where a poll knew the owner)",
        processes,
    );
    encode(&r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::aggregate::aggregate;
    use crate::analyze::events::{Churn, EventWindow};
    use crate::model::fixtures::snapshot;
    use crate::model::{Endpoint, Name};

    fn tick(ns: &str, churn: Option<Churn>) -> (Snapshot, Analysis) {
        let mut snap = snapshot(Vec::new());
        snap.netns = ns.into();
        let analysis = Analysis {
            aggregate: aggregate(&snap),
            alerts: Vec::new(),
            findings: Vec::new(),
            rates: None,
            ages: Vec::new(),
            churn,
        };
        (snap, analysis)
    }

    fn window(closes: u64, lost: u64) -> Churn {
        let mut w = EventWindow {
            closes: [closes, 0],
            short_lived: closes / 2,
            lost,
            ..EventWindow::default()
        };
        for i in 0..12u16 {
            w.remotes.insert(
                Endpoint::new("10.0.0.8".parse().unwrap(), 1000 + i),
                u64::from(i) * 2,
            );
        }
        w.processes.insert(7, (Name::from("a\"b"), 4));
        w.processes.insert(8, (Name::from("a\"b"), 2));
        Churn {
            seconds: 2.0,
            window: w,
        }
    }

    #[test]
    fn totals_grow_and_top_rows_are_bounded() {
        let mut ledger = ChurnLedger::default();
        let t1 = [tick("host", Some(window(10, 1)))];
        ledger.observe(&t1);
        let t2 = [tick("host", Some(window(6, 0)))];
        ledger.observe(&t2);
        let out = render(&t2, &ledger);
        assert!(
            out.contains("sockscope_socket_events_up{netns=\"host\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("sockscope_socket_destroys_total{netns=\"host\",protocol=\"tcp\"} 16\n"),
            "{out}"
        );
        assert!(
            !out.contains("protocol=\"udp\""),
            "UDP not collected: {out}"
        );
        assert!(out.contains("sockscope_socket_short_lived_total{netns=\"host\"} 8\n"));
        assert!(out.contains("sockscope_socket_destroy_events_lost_total{netns=\"host\"} 1\n"));
        assert_eq!(
            out.matches("sockscope_remote_closes_per_second{").count(),
            TOP_CHURN
        );
        assert!(out.contains(
            "sockscope_remote_closes_per_second{netns=\"host\",remote=\"10.0.0.8:1011\"} 11.0\n"
        ), "{out}");
        assert!(
            !out.contains("remote=\"10.0.0.8:1001\""),
            "below the top: {out}"
        );
        assert!(
            out.contains(
                "sockscope_process_closes_per_second{netns=\"host\",comm=\"a\\\"b\"} 3.0\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn no_events_is_a_zero_gauge_and_no_counters() {
        let mut ledger = ChurnLedger::default();
        let t = [tick("host", None)];
        ledger.observe(&t);
        let out = render(&t, &ledger);
        assert!(
            out.contains("sockscope_socket_events_up{netns=\"host\"} 0\n"),
            "{out}"
        );
        assert!(!out.contains("sockscope_socket_destroys_total{"), "{out}");
        assert!(
            !out.contains("sockscope_socket_destroy_events_lost_total{"),
            "{out}"
        );
    }
}
