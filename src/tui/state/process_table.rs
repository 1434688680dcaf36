//! The Processes view's rows: process × state counts from
//! [`crate::analyze::process_rows`] (so the dashboard and `summary --by process` never
//! disagree), narrowed to the sockets passing a filter, sorted with the rows no process
//! holds pinned below the processes.

use crate::analyze::aggregate::{aggregate, Aggregate};
use crate::analyze::process_rows::{self, RowKind};
use crate::model::{Name, Snapshot, StateCounts, TcpState};
use crate::tui::state::columns::{SortState, PROCESS_COLUMNS, STATE_COLUMNS};

/// One row of the Processes view: a process, or the sockets of one kind no process holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcRow {
    /// What it stands for ([`RowKind::Process`] or a kind of unheld socket).
    pub kind: RowKind,
    /// The pid; `None` for every row that is not a process.
    pub pid: Option<u32>,
    /// The command, or the kind's marker (`(ownerless)`, …); printed only escaped.
    pub comm: Name,
    /// The user, or `-`.
    pub user: Name,
    /// Sockets per state.
    pub states: StateCounts,
    /// UDP: drops summed over its sockets (0 for TCP and UNIX rows).
    pub drops: u64,
    /// UDP and UNIX: receive queues summed (bytes; a UNIX listener's pending connections).
    pub recv_q: u64,
}

/// Whether the snapshot carries its socket list, so a filter can be applied (a recording
/// made without `--sockets` has counts only).
pub fn can_filter(snap: &Snapshot, agg: &Aggregate) -> bool {
    snap.sockets.len() as u64 == agg.states.total()
}

/// The rows over the sockets `filtered` selects (indices into `snap.sockets`), or over all
/// of them when `None`: the processes, busiest first, then the rows of unheld sockets in
/// [`RowKind`] order. Their states add up to the counted sockets', state by state.
pub fn rows_for(snap: &Snapshot, agg: &Aggregate, filtered: Option<&[usize]>) -> Vec<ProcRow> {
    let own = |rows: Vec<process_rows::Row>| -> Vec<ProcRow> {
        rows.into_iter()
            .map(|r| ProcRow {
                kind: r.kind,
                pid: r.pid,
                comm: r.comm,
                user: r.user,
                states: r.states,
                drops: 0,
                recv_q: 0,
            })
            .collect()
    };
    match filtered {
        None => own(process_rows::rows(snap, agg, None)),
        Some(idx) => {
            // The report's rows over just the passing sockets: the same aggregate and the
            // same row logic on a snapshot that holds only them.
            let sub = Snapshot {
                taken_at_ms: snap.taken_at_ms,
                source: snap.source,
                netns: snap.netns.clone(),
                sockets: idx.iter().map(|&i| snap.sockets[i].clone()).collect(),
                protocols: Default::default(),
                udp: Vec::new(),
                unix: Vec::new(),
                processes: snap.processes.clone(),
                attribution: snap.attribution.clone(),
                quality: snap.quality.clone(),
                counters: None,
                sysctls: None,
                collect_us: snap.collect_us,
            };
            let sub_agg = aggregate(&sub);
            own(process_rows::rows(&sub, &sub_agg, None))
        }
    }
}

/// `rows` in display order: the processes by `sort` (ties keep the busiest-first order),
/// then the other rows, pinned, in their own order.
pub fn sorted(rows: Vec<ProcRow>, sort: SortState) -> Vec<ProcRow> {
    let (mut procs, rest): (Vec<ProcRow>, Vec<ProcRow>) =
        rows.into_iter().partition(|r| r.kind == RowKind::Process);
    let n = PROCESS_COLUMNS.len();
    let num = |r: &ProcRow| -> u64 {
        match sort.column {
            0 => u64::from(r.pid.unwrap_or(0)),
            3 => r.states.total(),
            c => STATE_COLUMNS
                .get(c.wrapping_sub(n))
                .map_or(0, |&s| r.states.get(s)),
        }
    };
    let by_text = |a: &ProcRow, b: &ProcRow| match sort.column {
        1 => a.comm.cmp(&b.comm),
        _ => a.user.cmp(&b.user),
    };
    procs.sort_by(|a, b| {
        let o = match sort.column {
            1 | 2 => by_text(a, b),
            _ => num(a).cmp(&num(b)),
        };
        if sort.descending {
            o.reverse()
        } else {
            o
        }
    });
    procs.extend(rest);
    procs
}

/// Sockets the rows count, state by state.
pub fn counted(rows: &[ProcRow]) -> StateCounts {
    let mut sum = StateCounts::default();
    for r in rows {
        for s in TcpState::ALL {
            sum.0[s.index()] += r.states.get(s);
        }
    }
    sum
}
