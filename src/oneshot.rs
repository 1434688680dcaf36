//! The one-shot modes: collect once (twice for rates), analyze, write a report. No threads.
//! This is the glue between the CLI and the layers; it owns no logic of its own beyond
//! choosing what to collect for what to show.

use std::io::{self, Write};

use crate::analyze::aggregate::{aggregate, Aggregate};
use crate::cli::SourceArg;
use crate::cli::{Format, GlobalArgs, GroupBy, SocketsArgs, SummaryArgs};
use crate::collect::collector::{CollectConfig, Collector, SourcePref};
use crate::collect::CollectError;
use crate::filter::Filter;
use crate::model::{Snapshot, SourceKind};
use crate::report::{self, Grouping, SummaryOpts, SummaryView};
use std::path::Path;

/// Why a one-shot mode failed; `main` maps it to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input detected after parsing (config, namespace, topic): exit 2.
    #[error("{0}")]
    Usage(String),
    /// Collection failed.
    #[error("{0}")]
    Collect(#[from] CollectError),
    /// Writing output failed (a closed pipe is not an error: see [`is_broken_pipe`]).
    #[error("writing output: {0}")]
    Output(#[from] io::Error),
}

/// Whether an error is a write into a closed pipe (`| head`), which exits 0.
pub fn is_broken_pipe(e: &RunError) -> bool {
    matches!(e, RunError::Output(io) if io.kind() == io::ErrorKind::BrokenPipe)
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
        attribute: filter.needs_attribution(),
        filter,
        tcp_info: false,
        counters: false,
        sysctls: false,
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

/// Collects one snapshot (or loads `--from-snapshot`), saving it when `--save-snapshot`
/// asks.
pub fn collect_once(global: &GlobalArgs, cfg: CollectConfig) -> Result<Snapshot, RunError> {
    let snap = match &global.from_snapshot {
        Some(path) => load_snapshot(path, &cfg.filter)?,
        None => {
            let mut c = open_collector(cfg)?;
            let snap = c.collect()?;
            if let Some(n) = c.take_notice() {
                eprintln!("{n}");
            }
            snap
        }
    };
    if let Some(path) = &global.save_snapshot {
        let text = serde_json::to_string(&snap).map_err(io::Error::other)?;
        std::fs::write(path, text)
            .map_err(|e| RunError::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(snap)
}

/// Loads a snapshot file and applies the filter, as a collector would have.
fn load_snapshot(path: &Path, filter: &Filter) -> Result<Snapshot, RunError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RunError::Usage(format!("cannot read snapshot {}: {e}", path.display())))?;
    let mut snap: Snapshot = serde_json::from_str(&text).map_err(|e| {
        RunError::Usage(format!(
            "{} is not a sockscope snapshot: {e}",
            path.display()
        ))
    })?;
    let procs = snap.processes.clone();
    snap.sockets.retain(|s| filter.matches(s, &procs));
    snap.source = SourceKind::File;
    Ok(snap)
}

/// `sockscope summary`.
pub fn summary(
    global: &GlobalArgs,
    args: &SummaryArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    let mut cfg = collect_config(global);
    // Per-state counts need no owners; everything else shows them.
    cfg.attribute |= args.by != GroupBy::State || args.format == Format::Json;
    let full = cfg.attribute;
    let snap = collect_once(global, cfg)?;
    // The default per-state count is the hot path scripts poll: skip the other groupings.
    let agg = if full {
        aggregate(&snap)
    } else {
        Aggregate {
            states: snap.state_counts(),
            ..Aggregate::default()
        }
    };
    let view = SummaryView {
        snapshot: &snap,
        aggregate: &agg,
    };
    let by = match args.by {
        GroupBy::State => Grouping::State,
        GroupBy::Process => Grouping::Process,
        GroupBy::Listener => Grouping::Listener,
        GroupBy::Remote => Grouping::Remote,
    };
    let top = match (args.format, args.top) {
        (_, Some(0)) | (Format::Json, None) => None,
        (_, Some(n)) => Some(n),
        (_, None) => Some(20),
    };
    let opts = SummaryOpts { by, top };
    match args.format {
        Format::Text => {
            report::text::write(out, &view, &opts)?;
            // stdout stays parseable; the honesty notes go to stderr.
            report::write_notes(&mut io::stderr(), &snap, &agg)?;
        }
        Format::Table => report::table::write(out, &view, &opts)?,
        Format::Json => report::json::write_summary(out, &view, &opts)?,
    }
    Ok(())
}

/// `sockscope sockets`.
pub fn sockets(
    global: &GlobalArgs,
    args: &SocketsArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.tcp_info = args.info;
    let snap = collect_once(global, cfg)?;
    let mut list: Vec<&crate::model::SocketRecord> = snap.sockets.iter().collect();
    list.sort_by(|a, b| {
        a.state
            .cmp(&b.state)
            .then(a.local.cmp(&b.local))
            .then(a.remote.cmp(&b.remote))
    });
    match args.format {
        Format::Json => report::json::write_sockets(out, &snap, &list)?,
        Format::Text | Format::Table => {
            report::sockets::write(out, &snap, &list, args.info)?;
            let agg = aggregate(&snap);
            report::write_notes(&mut io::stderr(), &snap, &agg)?;
        }
    }
    Ok(())
}

/// The benchmark floor: one bare sock_diag dump, no attribution, no aggregation beyond a
/// count. Prints the socket count and the dump time in microseconds.
pub fn dump_floor(out: &mut impl Write) -> Result<(), RunError> {
    use crate::collect::{netlink::NetlinkSource, DumpRequest, SocketSource};
    let mut src = NetlinkSource::open()?;
    let t = std::time::Instant::now();
    let dump = src.dump(&DumpRequest::default())?;
    writeln!(out, "{}\t{}us", dump.sockets.len(), t.elapsed().as_micros())?;
    Ok(())
}
