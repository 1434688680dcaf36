//! One-shot output. Every format is a function of the same shape,
//! `write(out: &mut impl Write, view, opts) -> io::Result<()>`, over analysis results; none
//! touches the kernel. JSON goes through serde structs of its own carrying
//! `schema_version`, so internals can change without breaking scripts.

/// Output of the one-shot `check`.
pub mod check;
pub mod events;
pub mod json;
pub mod kill;
pub mod sockets;
pub mod table;
pub mod text;
pub mod watch;

use std::io::{self, Write};

use crate::analyze::aggregate::Aggregate;
use crate::model::Snapshot;

/// Which grouping a summary shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Per state.
    State,
    /// Per process × state.
    Process,
    /// Per listener.
    Listener,
    /// Per remote address × state.
    Remote,
}

/// Options for a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryOpts {
    /// The grouping for text and table output.
    pub by: Grouping,
    /// At most this many rows per grouping; `None` = all.
    pub top: Option<usize>,
}

/// What a summary is made of.
pub struct SummaryView<'a> {
    /// The snapshot.
    pub snapshot: &'a Snapshot,
    /// Its aggregate.
    pub aggregate: &'a Aggregate,
}

/// Writes the notes that belong beside any human-readable output: unattributed sockets
/// and why, parse errors, an inconsistent sample. One line each; nothing when all is well.
pub fn write_notes(out: &mut impl Write, snap: &Snapshot, agg: &Aggregate) -> io::Result<()> {
    if agg.unattributed > 0 {
        let why = snap
            .attribution
            .reason
            .map_or("unknown reason", |r| r.explain());
        writeln!(
            out,
            "note: {} of {} sockets unattributed: {why}",
            agg.unattributed,
            agg.states.total()
        )?;
    }
    if snap.quality.parse_errors > 0 {
        writeln!(
            out,
            "note: {} {} records failed to parse (counted where the header was readable)",
            snap.quality.parse_errors,
            snap.source.name()
        )?;
    }
    if let Some(why) = &snap.quality.inconsistent {
        writeln!(
            out,
            "note: inconsistent sample from {}: {why}",
            snap.source.name()
        )?;
    }
    Ok(())
}

fn truncate<T>(v: &[T], top: Option<usize>) -> &[T] {
    match top {
        Some(n) if n > 0 && n < v.len() => &v[..n],
        _ => v,
    }
}
