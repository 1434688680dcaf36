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

use crate::analyze::process_rows::RowKind;
use crate::model::TcpState;
use crate::tui::state::app::App;
use crate::tui::state::columns::{column_name, SortState, PROCESS_COLUMNS, STATE_COLUMNS};
use crate::tui::state::process_table::{can_filter, counted, ProcRow};
use crate::tui::views::fmt;
use crate::tui::views::table::{self, Column, Spec};
use crate::tui::views::theme::Theme;

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
    let t = Theme::new(app.color);
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
            1 => (fmt::name(&r.comm, 15), marker),
            2 => (fmt::name(&r.user, 10), t.dim()),
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
