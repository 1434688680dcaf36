//! Every network namespace at once (`--all-netns`) for `serve` and the dashboard: a
//! collector and analyzer per namespace, kept across ticks.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::analyze::engine::{Analysis, Analyzer};
use crate::collect::collector::{CollectConfig, Collector};
use crate::collect::netns::{NsHandle, NsId};
use crate::collect::netns_budget::{Admission, Skipped};
use crate::collect::netns_sweep::discover_all;
use crate::config::Thresholds;
use crate::model::Snapshot;

/// A collector and an analyzer per network namespace, kept across ticks for `serve
/// --all-netns` and the `--all-netns` dashboard (all on the one tick thread: collectors
/// re-enter their namespace on each collect).
///
/// Identity: a namespace is its [`NsId`], held by an open descriptor from the tick it is
/// discovered, and entered through it; a path or pid reused meanwhile cannot move a member
/// into another namespace. Labels are re-read every tick, so a namespace whose naming pid
/// exits while other processes keep it alive is relabelled from another member (or its
/// inode) and keeps its history. A held namespace is dead, and dropped (closing its
/// descriptor, which lets the kernel free it), when discovery no longer finds its identity
/// anywhere: no `/run/netns` entry and no `/proc/PID/ns/net`. If `/proc` itself cannot be
/// listed, nothing is dropped and every held namespace is still collected.
///
/// Bounds: at most [`CollectConfig::netns_limit`] members, and new ones only while their
/// descriptors leave [`crate::collect::netns_budget::FD_RESERVE`] free; members are kept,
/// new ones admitted in discovery order (host, named, then the rest), and the rest counted
/// in [`NamespaceFleet::skipped`]. Each namespace that cannot be entered or collected is
/// listed in [`NamespaceFleet::failures`] for that tick and (unless
/// [`NamespaceFleet::quiet`]) reported on stderr once while it keeps failing: never skipped
/// silently.
pub(super) struct NamespaceFleet {
    cfg: CollectConfig,
    thresholds: Thresholds,
    members: BTreeMap<NsId, (Collector, Analyzer)>,
    /// One `/proc` scan per tick attributes every member's sockets.
    resolver: crate::collect::procmap::SharedResolver,
    tick: u64,
    reported: BTreeSet<String>,
    /// The latest tick's unreadable namespaces: (label or path, why).
    failures: Vec<(String, String)>,
    /// The latest tick's namespaces left out by the bounds.
    skipped: Skipped,
    /// The latest tick's namespaces found (collected, skipped or unreadable).
    discovered: u64,
    /// The skip reasons already said on stderr.
    skip_said: Skipped,
    stderr: bool,
}

impl NamespaceFleet {
    pub(super) fn new(cfg: CollectConfig, thresholds: Thresholds) -> Self {
        NamespaceFleet {
            cfg,
            thresholds,
            members: BTreeMap::new(),
            resolver: Default::default(),
            tick: 0,
            reported: BTreeSet::new(),
            failures: Vec::new(),
            skipped: Skipped::default(),
            discovered: 0,
            skip_said: Skipped::default(),
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

    /// The namespaces the latest tick left out by the bounds.
    pub(super) fn skipped(&self) -> Skipped {
        self.skipped
    }

    /// The latest tick's skips as one line for a face (`None` when none).
    pub(super) fn skipped_note(&self) -> Option<String> {
        self.skipped.note(self.cfg.netns_limit())
    }

    /// The latest tick's skips as a failure entry: (`N namespaces`, `skipped: …`).
    pub(super) fn skipped_failure(&self) -> Option<(String, String)> {
        self.skipped.failure(self.cfg.netns_limit())
    }

    /// Namespaces the latest tick found: collected + skipped + unreadable.
    pub(super) fn discovered(&self) -> u64 {
        self.discovered
    }

    fn report(&mut self, what: &str, why: &str) {
        self.failures.push((what.to_string(), why.to_string()));
        if self.stderr && self.reported.insert(what.to_string()) {
            eprintln!("sockscope: netns {what} not collected: {why}");
        }
    }

    /// Says on stderr, once per reason, that namespaces are being left out.
    fn say_skipped(&mut self) {
        let new_limit = self.skipped.limit > 0 && self.skip_said.limit == 0;
        let new_fds = self.skipped.fds > 0 && self.skip_said.fds == 0;
        if !(new_limit || new_fds) {
            return;
        }
        self.skip_said.limit += u64::from(new_limit);
        self.skip_said.fds += u64::from(new_fds);
        if let (true, Some(note)) = (self.stderr, self.skipped_note()) {
            eprintln!("sockscope: {note} (counted in sockscope_netns_skipped)");
        }
    }

    pub(super) fn tick(&mut self) -> Vec<(Snapshot, Analysis)> {
        self.failures.clear();
        self.skipped = Skipped::default();
        self.tick += 1;
        let found = discover_all();
        let mut discovered = (found.entries.len() + found.failures.len()) as u64;
        for f in &found.failures {
            self.report(&f.what, &f.reason);
        }
        let live: BTreeSet<NsId> = found.entries.iter().map(|e| e.id).collect();
        if found.proc_listed {
            self.members.retain(|id, _| live.contains(id));
        }
        let mut room = Admission::new(self.cfg.netns_limit(), self.members.len());
        let mut labels = HashSet::new();
        let mut out = Vec::with_capacity(found.entries.len());
        for e in found.entries {
            // Two namespaces may name themselves alike (one unit, two namespaces): series
            // must not merge.
            let label = if labels.contains(&e.label) {
                format!("{} {}", e.label, e.id)
            } else {
                e.label
            };
            labels.insert(label.clone());
            if !self.members.contains_key(&e.id) {
                if let Err(why) = room.admit() {
                    self.skipped.add(why);
                    continue;
                }
                if let Err(why) = self.join(e.id, &e.path.to_string_lossy(), &label) {
                    self.report(&label, &why);
                    continue;
                }
            }
            self.collect(e.id, &label, &mut out);
        }
        // /proc could not be listed: the members it did not show are still collected.
        let unseen: Vec<NsId> = self
            .members
            .keys()
            .filter(|id| !live.contains(id))
            .copied()
            .collect();
        for id in unseen {
            discovered += 1;
            let label = self
                .members
                .get(&id)
                .map(|(c, _)| c.netns_label().to_string())
                .unwrap_or_default();
            self.collect(id, &label, &mut out);
        }
        self.discovered = discovered;
        self.say_skipped();
        // Said once per episode: a failure that cleared is forgotten, so the set stays as
        // small as this tick's failures (labels carry pids, and pids come and go).
        let failing: BTreeSet<&String> = self.failures.iter().map(|(what, _)| what).collect();
        self.reported.retain(|what| failing.contains(what));
        out
    }

    /// Opens and holds the namespace at `path`, expected to be `id`, as a new member.
    fn join(&mut self, id: NsId, path: &str, label: &str) -> Result<(), String> {
        let h = NsHandle::open(path).map_err(|e| e.to_string())?;
        if h.id() != id {
            // The pid exited and the path now shows another namespace: that one is found
            // under its own identity, never collected under this one's label.
            return Err(format!(
                "{path} changed from {id} to {} between discovery and open",
                h.id()
            ));
        }
        let mut c = self.cfg.clone();
        c.netns = None;
        c.netns_label = Some(label.to_string());
        let mut col = Collector::open_in(c, Some(h)).map_err(|e| e.to_string())?;
        col.share_resolver(&self.resolver);
        self.members.insert(
            id,
            (col, Analyzer::with_thresholds(self.thresholds.clone())),
        );
        Ok(())
    }

    fn collect(&mut self, id: NsId, label: &str, out: &mut Vec<(Snapshot, Analysis)>) {
        let collected = self.members.get_mut(&id).map(|(col, an)| {
            col.set_netns_label(label);
            col.set_round(self.tick);
            col.collect().map(|snap| {
                let a = an.observe(&snap);
                (snap, a)
            })
        });
        match collected {
            Some(Ok(pair)) => out.push(pair),
            Some(Err(err)) => self.report(label, &err.to_string()),
            None => {}
        }
    }
}
