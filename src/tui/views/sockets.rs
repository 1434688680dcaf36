//! The Sockets view: every socket passing the `/` filter, sortable, with owner, queues,
//! timer and age. Also owns the per-socket cell formatting the Detail view reuses.
//! Pure over `&App`.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use crate::analyze::engine::Analysis;
use crate::model::{Owner, Snapshot, SocketRecord, TimerKind};
use crate::tui::state::app::App;
use crate::tui::state::columns::{column_name, SOCKET_COLUMNS};
use crate::tui::state::rows::socket_age;
use crate::tui::views::fmt;
use crate::tui::views::table::{self, Column, Spec};
use crate::tui::views::theme::Theme;

/// Socket `i`'s age as text, prefixed with `≥` when it is only a lower bound (the socket was
/// there when monitoring started).
pub fn age_text(an: &Analysis, i: usize, s: &SocketRecord) -> String {
    match socket_age(an, i, s) {
        Some((ms, true)) => format!("≥{}", fmt::age_ms(ms)),
        Some((ms, false)) => fmt::age_ms(ms),
        None => "-".into(),
    }
}

/// Who owns the socket, as the tables print it.
pub fn owner_text(snap: &Snapshot, s: &SocketRecord) -> String {
    let named = |pid: u32| {
        snap.processes
            .get(&pid)
            .map_or_else(|| format!("[{pid}]"), |p| format!("{}[{pid}]", p.comm))
    };
    match s.owner {
        Owner::Process(pid) => named(pid),
        Owner::ViaListener(pid) => format!("→{}", named(pid)),
        Owner::Ownerless => "(ownerless)".into(),
        Owner::Unattributed => "(unattributed)".into(),
        Owner::Unresolved => "-".into(),
    }
}

/// The pending timer as text: `timewait 42s`, `on 200ms ×3`, or `-`.
pub fn timer_text(s: &SocketRecord) -> String {
    match s.timer {
        TimerKind::Off => "-".into(),
        k if s.retransmits > 0 => {
            format!(
                "{} {} ×{}",
                k.name(),
                fmt::age_ms(i64::from(s.expires_ms)),
                s.retransmits
            )
        }
        k => format!("{} {}", k.name(), fmt::age_ms(i64::from(s.expires_ms))),
    }
}

/// One cell of socket `i`'s row, for column `col` of [`SOCKET_COLUMNS`].
pub fn cell(app: &App, snap: &Snapshot, an: &Analysis, i: usize, col: usize) -> (String, Style) {
    let t = Theme::new(app.color);
    let s = &snap.sockets[i];
    match col {
        0 => (s.state.netstat_name().into(), t.state(s.state)),
        1 => (fmt::fit(&s.local.to_string(), 19), Style::new()),
        2 => (fmt::fit(&s.remote.to_string(), 19), Style::new()),
        3 => (owner_text(snap, s), t.dim()),
        4 => {
            let style = if s.recv_q > 0 { t.warn() } else { t.dim() };
            (s.recv_q.to_string(), style)
        }
        5 => (s.send_q.to_string(), t.dim()),
        6 => (timer_text(s), t.dim()),
        // Time since data last arrived: old CLOSE_WAIT sockets show a large one.
        8 => match s.tcp_info {
            Some(i) => (fmt::age_ms(i64::from(i.last_data_recv_ms)), t.dim()),
            None => ("-".into(), t.dim()),
        },
        _ => (age_text(an, i, s), Style::new()),
    }
}

/// The socket columns in priority order.
pub fn columns() -> Vec<Column> {
    let c = SOCKET_COLUMNS;
    vec![
        Column::text(0, c[0], 11),
        Column::text(1, c[1], 19),
        Column::text(2, c[2], 19),
        Column::num(7, c[7], 6),
        Column::growing(3, c[3], 11, 32),
        Column::num(4, c[4], 6),
        Column::num(8, c[8], 7),
        Column::num(5, c[5], 6),
        Column::text(6, c[6], 16),
    ]
}

/// What the socket tables say instead of rows when a replayed recording has no sockets.
pub const NO_SOCKET_LIST: &str = "recorded without --sockets: no socket list";

/// Draws the Sockets view in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let Some((snap, an)) = app.data() else {
        return;
    };
    let empty = if app.socketless() {
        NO_SOCKET_LIST
    } else {
        "no socket matches the filter (Esc clears it)"
    };
    let sort = app.sort[3];
    let rows = &app.rows.sockets;
    let cellf = |pos: usize, col: usize| cell(app, snap, an, rows[pos], col);
    let filter = if app.filter.is_empty() {
        "/ to filter".to_string()
    } else {
        format!("filter `{}`", app.filter)
    };
    let spec = Spec {
        title: format!(
            " sockets ({} of {}) · {filter} · sort {} ",
            rows.len(),
            snap.sockets.len(),
            column_name(3, sort.column)
        ),
        columns: columns(),
        sort: Some(sort),
        total: rows.len(),
        selected: app.selected(),
        cell: &cellf,
        theme: Theme::new(app.color),
        empty,
    };
    table::draw(frame, area, &spec);
}
