//! One-shot output. Every format is a function of the same shape,
//! `write(out: &mut impl Write, view, opts) -> io::Result<()>`, over analysis results; none
//! touches the kernel. JSON goes through serde structs of its own carrying
//! `schema_version`, so internals can change without breaking scripts.

/// Output of the one-shot `check`.
pub mod check;
pub mod conntrack;
pub mod csv;
pub mod events;
pub mod groups;
pub mod json;
pub mod json_proto;
pub mod kill;
pub mod prometheus;
pub mod proto;
pub mod sockets;
pub mod sockets_proto;
pub mod table;
pub mod text;
pub mod watch;

use std::io::{self, Write};

use crate::analyze::aggregate::Aggregate;
use crate::analyze::proto_counts::ProtoAggregate;
use crate::model::{unattributed_note, Protocol, Protocols, Snapshot};

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
    /// Its TCP aggregate.
    pub aggregate: &'a Aggregate,
    /// The protocols shown (`-t/-u/-x`; TCP alone by default).
    pub protocols: Protocols,
    /// The UDP and UNIX counts, one per shown protocol other than TCP.
    pub others: &'a [ProtoAggregate],
}

impl SummaryView<'_> {
    /// Whether only TCP is shown: every face then prints exactly what it printed before
    /// UDP and UNIX existed.
    pub fn tcp_only(&self) -> bool {
        self.protocols == Protocols::TCP
    }

    /// Whether more than one protocol is shown (lines then carry the protocol).
    pub fn several(&self) -> bool {
        self.protocols.iter().count() > 1
    }

    /// The counts of a shown protocol other than TCP.
    pub fn other(&self, p: Protocol) -> Option<&ProtoAggregate> {
        self.others.iter().find(|a| a.protocol == p)
    }

    /// Sockets of `p` in this view.
    pub fn total(&self, p: Protocol) -> u64 {
        match p {
            Protocol::Tcp => self.aggregate.states.total(),
            _ => self.other(p).map_or(0, ProtoAggregate::total),
        }
    }
}

/// Writes the notes that belong beside any human-readable output: how many sockets are
/// unattributed (the reason and fix are `sockscope explain unattributed`'s: a 300-character
/// note on every run was noise), parse errors, an inconsistent sample. One line each;
/// nothing when all is well.
pub fn write_notes(out: &mut impl Write, snap: &Snapshot, agg: &Aggregate) -> io::Result<()> {
    if agg.unattributed > 0 {
        let note = unattributed_note(agg.unattributed, agg.states.total(), None);
        writeln!(out, "note: {note}")?;
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
