//! The Processes view: process × state counts, sortable by any column, Enter opens the
//! process's sockets. Its rows add up to the sockets it counts, state by state: after the
//! processes come the rows `summary --by process` prints for sockets no process holds
//! (`(unattributed)`, `(ownerless)`, `(unresolved)`), built by
//! [`crate::analyze::process_rows`] so the dashboard and the report never disagree. Those
//! rows are pinned below the processes whatever the sort: they are not processes, and a
//! sort must not bury them among them. Under a `/` filter every row counts only the
//! sockets passing it. Drawing is pure over `&App`.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use crate::analyze::aggregate::{aggregate, Aggregate};
use crate::analyze::process_rows::{self, RowKind};
use crate::model::{Snapshot, StateCounts, TcpState};
use crate::tui::app::App;
use crate::tui::fmt;
use crate::tui::rows::{column_name, SortState, PROCESS_COLUMNS, STATE_COLUMNS};
use crate::tui::table::{self, Column, Spec};

/// State columns by how much an on-call engineer cares, most first.
pub const STATE_PRIORITY: [TcpState; 11] = [
    TcpState::CloseWait,
    TcpState::Established,
    TcpState::SynRecv,
    TcpState::FinWait2,
    TcpState::Listen,
    TcpState::TimeWait,
    TcpState::LastAck,
    TcpState::FinWait1,
    TcpState::SynSent,
    TcpState::Closing,
    TcpState::Close,
];

/// One row of the Processes view: a process, or the sockets of one kind no process holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcRow {
    /// What it stands for ([`RowKind::Process`] or a kind of unheld socket).
    pub kind: RowKind,
    /// The pid; `None` for every row that is not a process.
    pub pid: Option<u32>,
    /// The command, or the kind's marker (`(ownerless)`, …).
    pub comm: String,
    /// The user, or `-`.
    pub user: String,
    /// Sockets per state.
    pub states: StateCounts,
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
    let own = |rows: Vec<process_rows::Row<'_>>| -> Vec<ProcRow> {
        rows.into_iter()
            .map(|r| ProcRow {
                kind: r.kind,
                pid: r.pid,
                comm: r.comm.to_string(),
                user: r.user.to_string(),
                states: r.states,
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

/// State columns of a table whose state columns start at id `first`, in priority order
/// (which fit first); shown in [`STATE_COLUMNS`] order.
pub fn state_columns(first: usize) -> Vec<Column> {
    STATE_PRIORITY
        .iter()
        .map(|&s| {
            let title = fmt::state_short(s);
            let pos = STATE_COLUMNS.iter().position(|&x| x == s).unwrap_or(0);
            Column::num(first + pos, title, title.len().max(6) as u16)
        })
        .collect()
}

/// The title: how many processes, and how many sockets the rows add up to (of how many,
/// under a filter). `processes (N)` counts process rows only; the rows below them are
/// named by their markers.
fn title(app: &App, rows: &[ProcRow], sort: SortState) -> String {
    let procs = rows.iter().filter(|r| r.kind == RowKind::Process).count();
    let shown = counted(rows).total();
    let sockets = match app.data() {
        Some((snap, an)) if !app.filter.is_empty() => {
            let all = fmt::count(an.aggregate.states.total());
            if can_filter(snap, &an.aggregate) {
                format!("{} of {all} sockets match", fmt::count(shown))
            } else {
                format!("{all} sockets, unfiltered (no socket list)")
            }
        }
        _ => format!("{} sockets", fmt::count(shown)),
    };
    format!(
        " processes ({procs}) · {sockets} · sort {} · Enter sockets ",
        column_name(0, sort.column)
    )
}

/// Draws the Processes view in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let rows = &app.rows.processes;
    let sort = app.sort[0];
    let mut columns = vec![
        Column::num(0, PROCESS_COLUMNS[0], 7),
        Column::text(1, PROCESS_COLUMNS[1], 15),
        Column::num(3, PROCESS_COLUMNS[3], 6),
    ];
    let mut states = state_columns(PROCESS_COLUMNS.len());
    let tail = states.split_off(6);
    columns.extend(states);
    columns.push(Column::text(2, PROCESS_COLUMNS[2], 10));
    columns.extend(tail);
    let cell = |pos: usize, col: usize| {
        let r = &rows[pos];
        // Rows that are not processes read as notes, not as processes: a dim `-` pid, the
        // marker in the warning style when the sockets have an owner we could not name.
        let marker = match r.kind {
            RowKind::Process => Style::new(),
            RowKind::Unattributed | RowKind::OwnerlessOrUnattributed => t.warn(),
            _ => t.dim(),
        };
        match col {
            0 => match r.pid {
                Some(pid) => (pid.to_string(), t.title()),
                None => ("-".into(), t.dim()),
            },
            1 => (fmt::clip(&r.comm, 15), marker),
            2 => (fmt::clip(&r.user, 10), t.dim()),
            3 => (fmt::count(r.states.total()), t.title()),
            c => {
                let st = STATE_COLUMNS[c - PROCESS_COLUMNS.len()];
                table::state_count(t, st, r.states.get(st))
            }
        }
    };
    let spec = Spec {
        title: title(app, rows, sort),
        columns,
        sort: Some(sort),
        total: rows.len(),
        selected: app.selected(),
        cell: &cell,
        theme: t,
        empty: if app.filter.is_empty() {
            "no sockets"
        } else {
            "no socket matches the filter (Esc clears it)"
        },
    };
    table::draw(frame, area, &spec);
}

#[cfg(test)]
#[path = "processes_tests.rs"]
mod tests;
