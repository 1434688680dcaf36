//! The Remotes view: remote address × state counts, with TIME_WAIT against the ephemeral
//! port range where the sysctl is known. Enter opens the sockets to that address. Under
//! the table, the churn panel ([`super::churn`]): the same remotes as destroy events count
//! them. Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::Frame;

use crate::model::TcpState;
use crate::tui::state::app::App;
use crate::tui::state::columns::{column_name, REMOTE_COLUMNS, STATE_COLUMNS};
use crate::tui::views::fmt;
use crate::tui::views::processes::state_columns;
use crate::tui::views::table::{self, Column, Spec};
use crate::tui::views::theme::Theme;

/// Draws the Remotes view in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let [area, churn_area] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(super::churn::height(app, area.height)),
    ])
    .areas(area);
    super::churn::draw(frame, churn_area, app);
    let t = Theme::new(app.color);
    let (remotes, ports) = match app.data() {
        Some((snap, an)) => (
            an.aggregate.remotes.as_slice(),
            snap.sysctls.as_ref().and_then(|s| s.port_range()),
        ),
        None => (&[][..], None),
    };
    let sort = app.sort[2];
    let n_fixed = REMOTE_COLUMNS.len();
    // Not a sort column: the TIME_WAIT share of the port range, an id after the states.
    let tw_share = n_fixed + STATE_COLUMNS.len();
    let mut columns = vec![
        Column::text(0, REMOTE_COLUMNS[0], 24),
        Column::num(1, REMOTE_COLUMNS[1], 6),
    ];
    // Towards remotes, TIME_WAIT (port exhaustion) matters most.
    let mut states = state_columns(n_fixed);
    if let Some(i) = states.iter().position(|c| c.title == "TIME_W") {
        let tw = states.remove(i);
        states.insert(0, tw);
    }
    let tail = states.split_off(4);
    columns.extend(states);
    if ports.is_some() {
        columns.push(Column::num(tw_share, "TW/PORTS", 8));
    }
    columns.extend(tail);
    let cell = |pos: usize, col: usize| {
        let r = &remotes[app.rows.remotes[pos]];
        match col {
            0 => (fmt::clip(&r.ip.to_string(), 24), Style::new()),
            1 => (fmt::count(r.states.total()), t.title()),
            c if c == tw_share => {
                let tw = r.states.get(TcpState::TimeWait);
                let (lo, hi) = ports.unwrap_or((0, 0));
                let range = u64::from(hi - lo) + 1;
                let pct = tw * 100 / range;
                let style = if pct >= 50 { t.hot() } else { t.dim() };
                (format!("{pct}%"), style)
            }
            c => {
                let st = STATE_COLUMNS[c - n_fixed];
                table::state_count(t, st, r.states.get(st))
            }
        }
    };
    let spec = Spec {
        title: format!(
            " remotes ({}) · sort {} · Enter sockets ",
            remotes.len(),
            column_name(2, sort.column)
        ),
        columns,
        sort: Some(sort),
        total: app.rows.remotes.len(),
        selected: app.selected(),
        cell: &cell,
        theme: t,
        empty: "no connected sockets",
    };
    table::draw(frame, area, &spec);
}
