//! The modes: one file per way of running sockscope, each a function from the parsed
//! arguments to an exit status; `main.rs` is the dispatch table that names them. A mode is glue: it chooses what to collect for what to show, then hands the
//! snapshots to `analyze` and the results to a presenter (`report`, `serve`, `tui`). It owns
//! no logic of its own, and nothing below it imports it.
//!
//! One-shot modes ([`summary`], [`sockets`], [`check`], [`explain`], [`dump_floor`]) collect
//! once (twice for rates) on the calling thread and start no threads. Long-running modes
//! ([`watch`], [`record`], [`serve`], [`dashboard`], [`replay`]) tick every interval, measured
//! from tick start so output does not drift; `serve` and the dashboard keep the collector on
//! one tick thread that owns it, because namespaces are per thread. [`completions`] and
//! [`man`] collect nothing: they print what the clap command generates.

mod check;
mod churn;
mod completions;
mod dashboard;
mod events;
mod explain;
mod fleet;
mod floor;
mod kill;
mod man;
mod record;
mod replay;
mod select;
mod serve;
mod snapshot;
mod sockets;
mod summary;
mod summary_groups;
mod summary_stream;
mod watch;

pub use check::check;
pub use completions::completions;
pub use dashboard::dashboard;
pub use explain::explain;
pub use floor::dump_floor;
pub use kill::kill;
pub use man::man;
pub use record::record;
pub use replay::replay;
pub use select::check_flags;
pub use serve::serve;
pub use sockets::sockets;
pub use summary::summary;
pub use watch::watch;

use std::io;

use crate::cli::{GlobalArgs, SourceArg};
use crate::collect::collector::{CollectConfig, Collector, SourcePref};
use crate::collect::CollectError;
use crate::config::{self, ConfigError, Thresholds};
use crate::safefs::WriteOpts;

/// Why a mode failed; `main` maps it to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input detected after parsing (config, namespace, topic): exit 2.
    #[error("{0}")]
    Usage(String),
    /// Collection failed.
    #[error("{0}")]
    Collect(#[from] CollectError),
    /// A signal ended a long-running mode after it cleaned up: exit 128 + the signal.
    #[error("terminated by signal {0}")]
    Signal(i32),
    /// Writing output failed (a closed pipe is not an error: see [`is_broken_pipe`]).
    #[error("writing output: {0}")]
    Output(#[from] io::Error),
}

/// Whether an error is a write into a closed pipe (`| head`), which exits 0.
pub fn is_broken_pipe(e: &RunError) -> bool {
    matches!(e, RunError::Output(io) if io.kind() == io::ErrorKind::BrokenPipe)
}

/// How files named on the command line are written: `--force` as a plain value, so
/// `record` and `safefs` never see clap types.
pub(super) fn write_opts(global: &GlobalArgs) -> WriteOpts {
    WriteOpts {
        force: global.force,
    }
}

/// Refuses `--all-netns` in a mode that shows one namespace: collecting the host alone
/// under that flag would pass off one namespace as all of them.
pub fn one_namespace(global: &GlobalArgs, mode: &str) -> Result<(), RunError> {
    if global.all_netns {
        return Err(RunError::Usage(format!(
            "--all-netns works with summary, check, serve and the dashboard; {mode} shows one \
             namespace (choose it with --netns)"
        )));
    }
    Ok(())
}

/// Says on stderr when a filter left nothing: an empty answer is valid (exit 0 stays), but
/// silence reads like a tool that did not look.
pub(crate) fn note_empty(global: &GlobalArgs, counted: u64) {
    let filter = global.filter.to_filter().to_string();
    if counted == 0 && !filter.is_empty() {
        eprintln!(
            "sockscope: no socket matched {}",
            crate::model::escape_controls(&filter)
        );
    }
}

/// Builds the collector configuration shared by every mode.
pub fn collect_config(global: &GlobalArgs) -> CollectConfig {
    let filter = global.filter.to_filter();
    CollectConfig {
        source: match global.source {
            SourceArg::Auto => SourcePref::Auto,
            SourceArg::Netlink => SourcePref::Netlink,
            SourceArg::Proc => SourcePref::Proc,
        },
        netns: global.netns.clone(),
        netns_label: None,
        attribute: filter.needs_attribution(),
        filter,
        tcp_info: false,
        lean: false,
        counters: false,
        sysctls: false,
        max_netns: Some(global.max_netns),
        protocols: global.protocols(),
    }
}

/// Opens a collector, mapping a bad namespace to a usage error and printing any fallback
/// notice on stderr.
pub fn open_collector(cfg: CollectConfig) -> Result<Collector, RunError> {
    let mut c = Collector::open(cfg).map_err(|e| match e {
        CollectError::Netns { .. } => RunError::Usage(e.to_string()),
        other => RunError::Collect(other),
    })?;
    if let Some(n) = c.take_notice() {
        eprintln!("{n}");
    }
    Ok(c)
}

/// Loads thresholds: `--config FILE`, else the first file on the default search path, else
/// the defaults; then every `--threshold` override, relations checked once all are set.
pub fn thresholds(global: &GlobalArgs) -> Result<Thresholds, RunError> {
    let usage = |e: ConfigError| RunError::Usage(e.to_string());
    let mut t = match &global.config {
        Some(path) => config::load(path).map_err(usage)?,
        None => config::load_default().map_err(usage)?.0,
    };
    t.apply_overrides(&global.thresholds).map_err(usage)?;
    Ok(t)
}

/// Opens (and drops) a collector on a throwaway thread, so configuration errors surface
/// before a long-running mode starts.
pub(super) fn probe(cfg: &CollectConfig) -> Result<(), RunError> {
    let probe = cfg.clone();
    std::thread::spawn(move || open_collector(probe).map(drop))
        .join()
        .map_err(|_| RunError::Usage("collector probe panicked".into()))?
}
