//! The analysis engine: feeds snapshots through history, socket ages, counter rates and the
//! rules, and returns an [`Analysis`] per tick. Two paths share it:
//!
//! - live: [`Analyzer::observe`] every poll; [`Analysis::alerts`] carry the lifecycle
//!   (for-durations, hysteresis, recently resolved);
//! - one-shot `check`: [`check`] (or [`Analyzer::for_check`] + `observe`) reports
//!   [`Analysis::findings`] of the last sample directly, with no for-duration and no
//!   hysteresis, so what meets a threshold on the second sample is reported.
//!
//! Owns no I/O and no presentation.

use crate::analyze::ages::{AgeList, SocketAges};
use crate::analyze::aggregate::{aggregate, Aggregate};
use crate::analyze::alerts::AlertBook;
use crate::analyze::detect::{self, Ctx};
use crate::analyze::events::Churn;
use crate::analyze::finding::{Alert, Finding};
use crate::analyze::history::{History, Tick};
use crate::analyze::ports::{NewConnTracker, PortUse};
use crate::analyze::rates::{rates, CounterRates, SocketDropTracker};
use crate::config::Thresholds;
use crate::model::{KernelCounters, Snapshot};

/// Everything presenters need about one tick.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Per-group counts of the latest snapshot.
    pub aggregate: Aggregate,
    /// Current alerts (pending, firing and recently resolved), firing first.
    pub alerts: Vec<Alert>,
    /// This tick's findings, worst first, before any for-duration (what `check` reports).
    pub findings: Vec<Finding>,
    /// Counter rates since the previous snapshot, when both carried counters.
    pub rates: Option<CounterRates>,
    /// Each socket's age in its current state, index-aligned with `snapshot.sockets` (what
    /// the rules call "oldest"); empty when unknown (e.g. a replayed recording).
    pub ages: AgeList,
    /// The kernel's destroy events of the interval that ended with this tick, when they
    /// were read (`None`: events off, not "no closes").
    pub churn: Option<Churn>,
}

/// Keeps history across ticks and runs the rules.
#[derive(Debug)]
pub struct Analyzer {
    thresholds: Thresholds,
    history: History,
    ages: SocketAges,
    prev_counters: Option<(i64, KernelCounters)>,
    socket_drops: SocketDropTracker,
    new_conns: NewConnTracker,
    alerts: AlertBook,
    hysteresis: bool,
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new()
    }
}

impl Analyzer {
    /// A fresh analyzer with default thresholds.
    pub fn new() -> Analyzer {
        Analyzer::with_thresholds(Thresholds::default())
    }

    /// A fresh analyzer for the live path (alerts with for-durations and hysteresis).
    pub fn with_thresholds(thresholds: Thresholds) -> Analyzer {
        Analyzer {
            history: History::new(thresholds.history.window_s, thresholds.history.max_samples),
            thresholds,
            ages: SocketAges::new(),
            prev_counters: None,
            socket_drops: SocketDropTracker::new(),
            new_conns: NewConnTracker::new(),
            alerts: AlertBook::new(),
            hysteresis: true,
        }
    }

    /// A fresh analyzer for the one-shot check: findings are judged against the plain
    /// thresholds every tick (no hysteresis).
    pub fn for_check(thresholds: Thresholds) -> Analyzer {
        Analyzer {
            hysteresis: false,
            ..Analyzer::with_thresholds(thresholds)
        }
    }

    /// The thresholds in use.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// History, for growth rates (and `history().series(state)` for a caller that plots it).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// First-seen socket ages.
    pub fn ages(&self) -> &SocketAges {
        &self.ages
    }

    /// Folds one snapshot into history and evaluates the rules.
    pub fn observe(&mut self, snap: &Snapshot) -> Analysis {
        self.observe_with_events(snap, None)
    }

    /// [`Analyzer::observe`] with the destroy events read since the previous tick: the
    /// rules that judge "how fast" (time_wait_storm) then use their rates.
    pub fn observe_with_events(&mut self, snap: &Snapshot, churn: Option<Churn>) -> Analysis {
        let agg = aggregate(snap);
        self.history.push(Tick::new(snap, &agg));
        let ages = self.ages.observe(snap);
        let rates = match (&self.prev_counters, &snap.counters) {
            (Some((t0, c0)), Some(c1)) => rates(c0, *t0, c1, snap.taken_at_ms),
            _ => None,
        };
        if let Some(c) = &snap.counters {
            self.prev_counters = Some((snap.taken_at_ms, c.clone()));
        }
        let socket_drops = self.socket_drops.observe(snap);
        let ports = PortUse::of(snap);
        // The lowest held count port_exhaustion can judge (hysteresis lowers its floor).
        let th = &self.thresholds;
        let floor = (th.port_exhaustion.min_held as f64 * th.alerts.clear_ratio).floor() as u64;
        let new_conns = self.new_conns.observe(snap, &ports, floor);
        let active = if self.hysteresis {
            self.alerts.active(&snap.netns)
        } else {
            Default::default()
        };
        let findings = detect::run(&Ctx {
            snap,
            agg: &agg,
            rates: rates.as_ref(),
            socket_drops: &socket_drops,
            history: &self.history,
            ages: &self.ages,
            th: &self.thresholds,
            active: &active,
            churn: churn.as_ref(),
            ports: &ports,
            new_conns: &new_conns,
        });
        self.alerts
            .update(&snap.netns, snap.taken_at_ms, &findings, &self.thresholds);
        Analysis {
            aggregate: agg,
            alerts: self.alerts.alerts(),
            findings,
            rates,
            ages,
            churn,
        }
    }
}

/// The one-shot check: observes `samples` in order (usually two, an interval apart, so
/// counter rates exist) and returns the findings of the last one, worst first.
pub fn check(thresholds: &Thresholds, samples: &[Snapshot]) -> Vec<Finding> {
    let mut a = Analyzer::for_check(thresholds.clone());
    samples
        .iter()
        .map(|s| a.observe(s).findings)
        .last()
        .unwrap_or_default()
}
