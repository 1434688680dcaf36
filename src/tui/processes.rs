//! The Processes view: process × state counts, sortable by any column, Enter opens the
//! process's sockets. Pure over `&App`.

use ratatui::layout::Rect;
use ratatui::Frame;

use crate::model::TcpState;
use crate::tui::app::App;
use crate::tui::fmt;
use crate::tui::rows::{column_name, PROCESS_COLUMNS, STATE_COLUMNS};
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

/// Draws the Processes view in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
    let procs = app
        .data()
        .map(|(_, an)| an.aggregate.processes.as_slice())
        .unwrap_or(&[]);
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
        let p = &procs[app.rows.processes[pos]];
        match col {
            0 => (p.process.pid.to_string(), t.title()),
            1 => (fmt::clip(&p.process.comm, 15), ratatui::style::Style::new()),
            2 => (fmt::clip(&p.process.user, 10), t.dim()),
            3 => (fmt::count(p.states.total()), t.title()),
            c => {
                let st = STATE_COLUMNS[c - PROCESS_COLUMNS.len()];
                table::state_count(t, st, p.states.get(st))
            }
        }
    };
    let spec = Spec {
        title: format!(
            " processes ({}) · sort {} · s/S sort · Enter sockets ",
            procs.len(),
            column_name(0, sort.column)
        ),
        columns,
        sort: Some(sort),
        total: app.rows.processes.len(),
        selected: app.selected(),
        cell: &cell,
        theme: t,
        empty: "no attributed sockets (TIME_WAIT is ownerless; the rest need root or both \
                capabilities)",
    };
    table::draw(frame, area, &spec);
}
