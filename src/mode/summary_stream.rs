//! `summary` without the socket list: when one live collection of TCP with a state-only
//! filter is asked for, the dump streams into a [`SummaryFold`] and the snapshot carries
//! the metadata only. The output is the materialised path's, byte for byte (the fold is
//! what [`crate::analyze::aggregate::aggregate`] runs too); memory stays flat in the
//! number of sockets. Anything else (files, recordings, UDP/UNIX, other filters, snapshots
//! to save) takes the materialised path.

use super::{open_collector, RunError};
use crate::analyze::aggregate::Aggregate;
use crate::analyze::fold::SummaryFold;
use crate::cli::GlobalArgs;
use crate::collect::collector::CollectConfig;
use crate::model::{Protocols, Snapshot};

/// The snapshot (no sockets) and its aggregate, streamed; `None` when this collection
/// cannot stream. `full`: every grouping, else the per-state counts alone (what the
/// materialised path computes in each case).
pub(super) fn streamed(
    global: &GlobalArgs,
    cfg: &CollectConfig,
    full: bool,
) -> Result<Option<(Snapshot, Aggregate)>, RunError> {
    let streamable = global.from_snapshot.is_none()
        && global.save_snapshot.is_none()
        && !global.all_netns
        && cfg.protocols == Protocols::TCP
        && cfg.filter.is_state_only()
        && cfg.filter.path.is_empty();
    if !streamable {
        return Ok(None);
    }
    let mut c = open_collector(cfg.clone())?;
    if !c.can_stream() {
        return Ok(None);
    }
    let mut fold = if full {
        SummaryFold::new()
    } else {
        SummaryFold::states_only()
    };
    let snap = c.collect_stream(&mut fold)?;
    if let Some(n) = c.take_notice() {
        eprintln!("{n}");
    }
    let agg = fold.finish(&snap.processes);
    Ok(Some((snap, agg)))
}
