//! The Prometheus exposition: snapshots and their analysis rendered as OpenMetrics text and
//! the classic text format 0.0.4. An output format like the others under `report`: pure over
//! its arguments, no kernel, no network, no clock. `serve` publishes what this renders; it
//! owns the HTTP side and nothing here knows about it.

mod churn;
mod conntrack_metrics;
pub mod metrics;
pub mod proto_metrics;
mod udp_drops;
pub mod unit_metrics;

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
    /// Units and containers exported per namespace, most sockets first (the rest summed as
    /// `(other)`); 0 leaves both families out.
    pub top_units: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            top_processes: 20,
            top_listeners: 50,
            pid_labels: false,
            top_units: 20,
        }
    }
}

/// What an `--all-netns` sweep found besides the snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Namespaces found (collected, skipped or unreadable).
    pub discovered: u64,
    /// Found but not readable (`sockscope_netns_unreadable`).
    pub unreadable: u64,
    /// Left out over `--max-netns`.
    pub skipped_limit: u64,
    /// Left out for lack of file descriptors.
    pub skipped_fds: u64,
}

/// The exposition's memory across ticks (cumulative parse errors, UDP drops and churn per
/// namespace): one per endpoint, fed every successful tick.
#[derive(Debug, Default)]
pub struct Exposition {
    parse_errors: std::collections::BTreeMap<String, u64>,
    udp_drops: DropLedger,
    churn: ChurnLedger,
}

impl Exposition {
    /// Renders one tick's data part (no status lines, no `# EOF`) in OpenMetrics text; the
    /// sweep's counts are `None` for one namespace.
    pub fn render(
        &mut self,
        ticks: &[(crate::model::Snapshot, crate::analyze::engine::Analysis)],
        sweep: Option<SweepCounts>,
        opts: &Options,
    ) -> String {
        for (snap, _) in ticks {
            *self.parse_errors.entry(snap.netns.clone()).or_default() += snap.quality.parse_errors;
        }
        self.udp_drops.observe(ticks);
        self.churn.observe(ticks);
        let mut out = render_tick(
            ticks,
            &self.parse_errors,
            Some(self.udp_drops.totals()),
            sweep.map(|c| c.unreadable),
            opts,
        );
        out.push_str(&render_churn(ticks, &self.churn));
        if let Some(c) = sweep {
            out.push_str(&render_sweep(
                c.discovered,
                &[("limit", c.skipped_limit), ("fds", c.skipped_fds)],
            ));
        }
        out
    }
}
