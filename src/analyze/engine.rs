//! The analysis engine: feeds snapshots through history and detection and returns an
//! [`Analysis`] per tick. Placeholder until detection lands.

use crate::analyze::aggregate::{aggregate, Aggregate};
use crate::analyze::finding::Alert;
use crate::model::Snapshot;

/// Everything presenters need about one tick.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Per-group counts of the latest snapshot.
    pub aggregate: Aggregate,
    /// Current alerts (pending, firing and recently resolved).
    pub alerts: Vec<Alert>,
}

/// Keeps history across ticks and runs the rules.
#[derive(Debug, Default)]
pub struct Analyzer {}

impl Analyzer {
    /// A fresh analyzer with default thresholds.
    pub fn new() -> Analyzer {
        Analyzer {}
    }

    /// Folds one snapshot into history and evaluates the rules.
    pub fn observe(&mut self, snap: &Snapshot) -> Analysis {
        Analysis {
            aggregate: aggregate(snap),
            alerts: Vec::new(),
        }
    }
}
