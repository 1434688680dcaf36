//! [`DropLedger`]: the tick thread's running count of UDP drops per namespace, behind
//! `sockscope_udp_drops_observed_total`. A sum of the sockets' own drop counters falls
//! whenever a dropping socket closes, so it is exported as a gauge; this ledger adds up only
//! the growth seen between ticks ([`udp_drops_between`]), which never falls. It keeps the
//! previous tick's UDP sockets of each namespace and nothing else; no I/O.

use std::collections::{BTreeMap, HashMap};

use crate::analyze::engine::Analysis;
use crate::model::{udp_drops_between, Protocol, Snapshot, SocketRecord};

/// Drops seen per namespace since the exporter started.
#[derive(Debug, Default)]
pub struct DropLedger {
    /// The cumulative counts, by namespace label.
    totals: BTreeMap<String, u64>,
    /// Each namespace's UDP sockets at its previous tick.
    previous: HashMap<String, Vec<SocketRecord>>,
}

impl DropLedger {
    /// Adds one tick. A namespace's first tick is its baseline (drops from before the
    /// exporter saw it are not counted: they did not happen while it watched). A namespace
    /// missing from a tick (unreadable, gone) starts again from a new baseline, but its
    /// total keeps counting from where it was.
    pub fn observe(&mut self, ticks: &[(Snapshot, Analysis)]) {
        let mut previous = HashMap::with_capacity(ticks.len());
        for (snap, _) in ticks {
            if !snap.protocols.contains(Protocol::Udp) {
                continue;
            }
            let total = self.totals.entry(snap.netns.clone()).or_default();
            if let Some(before) = self.previous.remove(&snap.netns) {
                *total += udp_drops_between(&before, &snap.udp);
            }
            previous.insert(snap.netns.clone(), snap.udp.clone());
        }
        self.previous = previous;
    }

    /// The cumulative counts, by namespace label.
    pub fn totals(&self) -> &BTreeMap<String, u64> {
        &self.totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::aggregate::aggregate;
    use crate::model::fixtures::snapshot;
    use crate::model::{Owner, Protocols, SkMem, TcpState};

    fn tick(ns: &str, drops: &[(u64, u32)]) -> (Snapshot, Analysis) {
        let mut snap = snapshot(Vec::new());
        snap.netns = ns.into();
        snap.protocols = Protocols::from_flags(true, true, false);
        snap.udp = drops
            .iter()
            .map(|&(inode, d)| {
                let mut s = SocketRecord::new(
                    TcpState::Close,
                    "127.0.0.1:53".parse().expect("addr"),
                    "0.0.0.0:0".parse().expect("addr"),
                    Owner::Unresolved,
                );
                s.inode = inode;
                s.skmem = Some(SkMem {
                    drops: d,
                    ..SkMem::default()
                });
                s
            })
            .collect();
        let analysis = Analysis {
            aggregate: aggregate(&snap),
            alerts: Vec::new(),
            findings: Vec::new(),
            rates: None,
            ages: Vec::new(),
            churn: None,
        };
        (snap, analysis)
    }

    #[test]
    fn counts_growth_only_and_never_falls() {
        let mut l = DropLedger::default();
        l.observe(&[tick("host", &[(1, 100)])]);
        assert_eq!(
            l.totals().get("host"),
            Some(&0),
            "the first tick is a baseline"
        );
        l.observe(&[tick("host", &[(1, 130), (2, 5)])]);
        assert_eq!(l.totals().get("host"), Some(&35));
        // The socket with 130 drops closes: the sum of counters falls, the ledger does not.
        l.observe(&[tick("host", &[(2, 6)])]);
        assert_eq!(l.totals().get("host"), Some(&36));
    }

    #[test]
    fn namespaces_are_apart_and_a_gap_is_a_new_baseline() {
        let mut l = DropLedger::default();
        l.observe(&[tick("a", &[(1, 1)]), tick("b", &[(1, 50)])]);
        l.observe(&[tick("a", &[(1, 4)])]);
        l.observe(&[tick("a", &[(1, 4)]), tick("b", &[(1, 90)])]);
        assert_eq!(l.totals().get("a"), Some(&3));
        assert_eq!(l.totals().get("b"), Some(&0));
        let mut tcp_only = tick("c", &[(1, 9)]);
        tcp_only.0.protocols = Protocols::TCP;
        l.observe(&[tcp_only]);
        assert_eq!(l.totals().get("c"), None);
    }
}
