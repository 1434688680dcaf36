//! The Prometheus exposition: snapshots and their analysis rendered as OpenMetrics text and
//! the classic text format 0.0.4. An output format like the others under `report`: pure over
//! its arguments, no kernel, no network, no clock. `serve` publishes what this renders; it
//! owns the HTTP side and nothing here knows about it.

mod churn;
pub mod metrics;
pub mod proto_metrics;
mod udp_drops;

pub use churn::{render as render_churn, ChurnLedger};
pub use metrics::*;
pub use udp_drops::DropLedger;

/// What the exposition exports, and how much of it (cardinality caps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Processes exported per namespace, most sockets first (cardinality cap).
    pub top_processes: usize,
    /// Listeners exported per namespace, most SYN_RECV then accept queue first.
    pub top_listeners: usize,
    /// Add a `pid` label to per-process series (more series; pids churn).
    pub pid_labels: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            top_processes: 20,
            top_listeners: 50,
            pid_labels: false,
        }
    }
}
