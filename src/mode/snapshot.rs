//! One snapshot for the one-shot modes: collected, or loaded from `--from-snapshot`, and
//! saved with `--save-snapshot`.

use std::io::{self};
use std::path::Path;

use super::{open_collector, RunError};
use crate::cli::GlobalArgs;
use crate::collect::collector::CollectConfig;
use crate::filter::Filter;
use crate::model::{Snapshot, SourceKind};

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
pub(super) fn load_snapshot(path: &Path, filter: &Filter) -> Result<Snapshot, RunError> {
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
