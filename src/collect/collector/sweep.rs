//! `--all-netns`: one collector per namespace, all sampled in parallel, attributed through
//! one shared resolver.

use crate::collect::netns::NsHandle;
use crate::collect::netns_budget::{Admission, Skipped};
use crate::collect::netns_sweep::{discover, NetnsFailure};
use crate::collect::procmap::SharedResolver;
use crate::collect::CollectError;
use crate::model::Snapshot;

use super::{CollectConfig, Collector};

/// Collects `samples` snapshots `interval` apart in every network namespace, one thread per
/// namespace (namespaces are per thread), all in parallel so the sweep takes one interval,
/// attributing through one [`SharedResolver`] (one `/proc` scan per sample). At most
/// [`CollectConfig::netns_limit`] namespaces, and only as many as the descriptors allow
/// (see [`crate::collect::netns_budget`]); the rest are one failure entry that counts them.
/// Each namespace is opened once and entered through that descriptor.
/// Returns the samples per namespace, in discovery order.
pub fn sweep(
    cfg: &CollectConfig,
    samples: usize,
    interval: std::time::Duration,
) -> (Vec<Vec<Snapshot>>, Vec<NetnsFailure>) {
    let (entries, mut failures) = discover();
    let mut room = Admission::new(cfg.netns_limit(), 0);
    let mut skipped = Skipped::default();
    let mut chosen = Vec::new();
    for e in entries {
        match room.admit() {
            Ok(()) => match NsHandle::open(&e.path.to_string_lossy()) {
                Ok(h) if h.id() == e.id => chosen.push((e.label, h)),
                Ok(h) => failures.push(NetnsFailure {
                    what: e.label,
                    reason: format!(
                        "{} changed from {} to {} between discovery and open",
                        e.path.display(),
                        e.id,
                        h.id()
                    ),
                }),
                Err(err) => failures.push(NetnsFailure {
                    what: e.label,
                    reason: err.to_string(),
                }),
            },
            Err(why) => skipped.add(why),
        }
    }
    if let Some((what, reason)) = skipped.failure(cfg.netns_limit()) {
        failures.push(NetnsFailure { what, reason });
    }
    let shared = SharedResolver::new();
    let results: Vec<(String, Result<Vec<Snapshot>, CollectError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = chosen
            .into_iter()
            .map(|(label, h)| {
                let mut c = cfg.clone();
                c.netns = None;
                c.netns_label = Some(label.clone());
                let shared = &shared;
                scope.spawn(move || {
                    let run = || -> Result<Vec<Snapshot>, CollectError> {
                        let mut col = Collector::open_in(c, Some(h))?;
                        col.share_resolver(shared);
                        let mut out = Vec::with_capacity(samples);
                        for i in 0..samples {
                            if i > 0 {
                                std::thread::sleep(interval);
                            }
                            col.set_round(i as u64);
                            out.push(col.collect()?);
                        }
                        Ok(out)
                    };
                    (label, run())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    (
                        "?".into(),
                        Err(CollectError::Unsupported(
                            "collector thread panicked".into(),
                        )),
                    )
                })
            })
            .collect()
    });
    let mut ok = Vec::new();
    for (label, r) in results {
        match r {
            Ok(s) => ok.push(s),
            Err(e) => failures.push(NetnsFailure {
                what: label,
                reason: e.to_string(),
            }),
        }
    }
    (ok, failures)
}
