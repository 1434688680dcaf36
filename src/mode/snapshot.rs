//! One snapshot for the one-shot modes: collected, or loaded from `--from-snapshot`, and
//! saved with `--save-snapshot`.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::{open_collector, write_opts, RunError};
use crate::cli::GlobalArgs;
use crate::collect::collector::CollectConfig;
use crate::filter::Filter;
use crate::model::{Snapshot, SourceKind};
use crate::safefs::{self, ReadKind, SafeFsError, WriteOpts};

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
        save_snapshot(path, &snap, &write_opts(global))?;
    }
    Ok(snap)
}

/// Writes `snap` as JSON to `path` through [`safefs::replace`]: a 0600 temporary file
/// renamed over the name once complete, so a symlink there is replaced, never written
/// through, and as root only into a directory no other user can change (unless `--force`).
fn save_snapshot(path: &Path, snap: &Snapshot, opts: &WriteOpts) -> Result<(), RunError> {
    // An OS error names the file asked for, as before; a refusal is safefs' own line.
    let usage = |e: SafeFsError| match e {
        SafeFsError::Io { source, .. } => {
            RunError::Usage(format!("cannot write {}: {source}", path.display()))
        }
        refusal => RunError::Usage(refusal.to_string()),
    };
    let mut file = safefs::replace(path, opts).map_err(usage)?;
    let mut out = BufWriter::new(&mut file);
    serde_json::to_writer(&mut out, snap)
        .map_err(io::Error::from)
        .and_then(|()| out.flush())
        .map_err(|e| RunError::Usage(format!("cannot write {}: {e}", path.display())))?;
    drop(out);
    file.commit().map_err(usage)
}

/// Loads a snapshot file and applies the filter, as a collector would have.
pub(super) fn load_snapshot(path: &Path, filter: &Filter) -> Result<Snapshot, RunError> {
    // safefs: a FIFO or a device is refused unopened, and the size is capped.
    let text = safefs::read_to_string_capped(path, ReadKind::Snapshot).map_err(|e| match e {
        SafeFsError::Io { source, .. } => {
            RunError::Usage(format!("cannot read snapshot {}: {source}", path.display()))
        }
        refusal => RunError::Usage(refusal.to_string()),
    })?;
    let mut snap: Snapshot = serde_json::from_str(&text).map_err(|e| {
        RunError::Usage(format!(
            "{} is not a sockscope snapshot: {e}",
            path.display()
        ))
    })?;
    let procs = snap.processes.clone();
    snap.sockets.retain(|s| filter.matches(s, &procs));
    snap.udp.retain(|s| filter.matches(s, &procs));
    snap.unix.retain(|s| filter.matches_unix(s, &procs));
    snap.source = SourceKind::File;
    Ok(snap)
}
