//! Every network namespace at once (`--all-netns`) for `serve` and the dashboard: a
//! collector and analyzer per namespace, kept across ticks.

use crate::analyze::engine::Analyzer;
use crate::collect::collector::{CollectConfig, Collector};
use crate::config::Thresholds;

/// A collector and an analyzer per network namespace, kept across ticks for `serve
/// --all-netns` and the `--all-netns` dashboard (all on the one tick thread: collectors
/// re-enter their namespace on each collect). Namespaces are re-discovered every tick; new
/// ones get a collector, vanished ones are dropped, and each one that cannot be entered or
/// collected is listed in [`NamespaceFleet::failures`] for that tick and (unless
/// [`NamespaceFleet::quiet`]) reported on stderr once: never skipped silently.
pub(super) struct NamespaceFleet {
    cfg: CollectConfig,
    thresholds: Thresholds,
    members: std::collections::BTreeMap<u64, (Collector, Analyzer)>,
    /// One `/proc` scan per tick attributes every member's sockets.
    resolver: crate::collect::procmap::SharedResolver,
    tick: u64,
    reported: std::collections::BTreeSet<String>,
    /// The latest tick's unreadable namespaces: (label or path, why).
    failures: Vec<(String, String)>,
    stderr: bool,
}

impl NamespaceFleet {
    pub(super) fn new(cfg: CollectConfig, thresholds: Thresholds) -> Self {
        NamespaceFleet {
            cfg,
            thresholds,
            members: Default::default(),
            resolver: Default::default(),
            tick: 0,
            reported: Default::default(),
            failures: Vec::new(),
            stderr: true,
        }
    }

    /// No stderr reports (the dashboard shows [`NamespaceFleet::failures`] instead).
    pub(super) fn quiet(mut self) -> Self {
        self.stderr = false;
        self
    }

    /// The namespaces the latest [`NamespaceFleet::tick`] could not read, and why.
    pub(super) fn failures(&self) -> &[(String, String)] {
        &self.failures
    }

    fn report(&mut self, what: &str, why: &str) {
        self.failures.push((what.to_string(), why.to_string()));
        if self.stderr && self.reported.insert(what.to_string()) {
            eprintln!("sockscope: netns {what} not collected: {why}");
        }
    }

    pub(super) fn tick(
        &mut self,
    ) -> Vec<(crate::model::Snapshot, crate::analyze::engine::Analysis)> {
        self.failures.clear();
        self.tick += 1;
        let (entries, failures) = crate::collect::netns_sweep::discover();
        for f in failures {
            self.report(&f.what, &f.reason);
        }
        let live: std::collections::BTreeSet<u64> = entries.iter().map(|e| e.inode).collect();
        self.members.retain(|inode, _| live.contains(inode));
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            if !self.members.contains_key(&e.inode) {
                let mut c = self.cfg.clone();
                c.netns = Some(e.path.to_string_lossy().into_owned());
                c.netns_label = Some(e.label.clone());
                match Collector::open(c) {
                    Ok(mut col) => {
                        col.share_resolver(&self.resolver);
                        self.members.insert(
                            e.inode,
                            (col, Analyzer::with_thresholds(self.thresholds.clone())),
                        );
                    }
                    Err(err) => {
                        self.report(&e.label, &err.to_string());
                        continue;
                    }
                }
            }
            let collected = self.members.get_mut(&e.inode).map(|(col, an)| {
                col.set_round(self.tick);
                col.collect().map(|snap| {
                    let a = an.observe(&snap);
                    (snap, a)
                })
            });
            match collected {
                Some(Ok(pair)) => out.push(pair),
                Some(Err(err)) => self.report(&e.label, &err.to_string()),
                None => {}
            }
        }
        out
    }
}
