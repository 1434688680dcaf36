//! The Listeners view: each listener's SYN_RECV against its backlog, its accept queue, and
//! the host's drop and syncookie rates (computed from consecutive counter samples), with
//! the sysctls that bound them. Enter opens the listener's sockets. Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::model::TcpState;
use crate::tui::state::app::App;
use crate::tui::state::columns::{column_name, fill_permille, LISTENER_COLUMNS};
use crate::tui::state::history::RATE_COUNTERS;
use crate::tui::views::fmt;
use crate::tui::views::table::{self, Column, Spec};
use crate::tui::views::theme::Theme;

/// Sysctls that bound the listen queues, shown under the table.
const QUEUE_SYSCTLS: [(&str, &str); 3] = [
    ("net.core.somaxconn", "somaxconn"),
    ("net.ipv4.tcp_max_syn_backlog", "tcp_max_syn_backlog"),
    ("net.ipv4.tcp_syncookies", "tcp_syncookies"),
];

/// Draws the Listeners view in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let [top, bottom] = Layout::vertical([Constraint::Min(0), Constraint::Length(4)]).areas(area);
    draw_table(frame, top, app);
    draw_rates(frame, bottom, app);
}

fn draw_table(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let ls = app
        .data()
        .map(|(_, an)| an.aggregate.listeners.as_slice())
        .unwrap_or(&[]);
    let sort = app.sort[1];
    let c = LISTENER_COLUMNS;
    let columns = vec![
        Column::text(0, c[0], 22),
        Column::num(2, c[2], 8),
        Column::num(3, c[3], 7),
        Column::num(4, c[4], 5),
        Column::num(5, c[5], 8),
        Column::growing(1, c[1], 16, 32),
        Column::num(6, c[6], 6),
        Column::num(7, c[7], 10),
    ];
    let cell = |pos: usize, col: usize| {
        let l = &ls[app.rows.listeners[pos]];
        let fill = fill_permille(l.syn_recv(), l.backlog);
        match col {
            0 => (fmt::fit(&l.local.to_string(), 22), t.title()),
            1 => {
                let who = match (&l.comm, l.pid) {
                    (Some(c), Some(p)) => format!("{c}[{p}]"),
                    (None, Some(p)) => format!("[{p}]"),
                    _ => "unattributed".into(),
                };
                (who, Style::new())
            }
            2 => {
                let style = if fill >= 800 {
                    t.hot()
                } else {
                    t.state(TcpState::SynRecv)
                };
                (fmt::count(l.syn_recv()), style)
            }
            3 => (l.backlog.to_string(), t.dim()),
            4 => {
                let style = if fill >= 800 { t.hot() } else { t.dim() };
                (format!("{}%", fill / 10), style)
            }
            5 => {
                // Recv-Q reaching the backlog is the slow-accept() signature.
                let full = l.backlog > 0 && l.accept_queue >= l.backlog;
                let style = if full { t.hot() } else { Style::new() };
                (l.accept_queue.to_string(), style)
            }
            6 => (
                fmt::count(l.states.get(TcpState::Established)),
                Style::new(),
            ),
            _ => table::state_count(t, TcpState::CloseWait, l.states.get(TcpState::CloseWait)),
        }
    };
    let spec = Spec {
        title: format!(
            " listeners ({}) · sort {} · Enter sockets ",
            ls.len(),
            column_name(1, sort.column)
        ),
        columns,
        sort: Some(sort),
        total: app.rows.listeners.len(),
        selected: app.selected(),
        cell: &cell,
        theme: t,
        empty: "no listening sockets",
    };
    table::draw(frame, area, &spec);
}

fn draw_rates(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let mut spans: Vec<Span> = Vec::new();
    // The analyzer's rates (replay frames carry the recorded ones): the view computes none.
    let rates: Vec<(&str, f64)> = app
        .data()
        .and_then(|(_, a)| a.rates.as_ref())
        .map(|r| {
            RATE_COUNTERS
                .iter()
                .filter(|n| r.has(n))
                .map(|n| (*n, r.get(n)))
                .collect()
        })
        .unwrap_or_default();
    if rates.is_empty() {
        spans.push(Span::styled(
            "counter rates appear from the second tick (needs /proc/net/netstat)",
            t.dim(),
        ));
    }
    for (name, r) in rates {
        let style = if r > 0.0 { t.hot() } else { t.dim() };
        spans.push(Span::raw(format!("{name} ")));
        spans.push(Span::styled(fmt::per_sec(r), style));
        spans.push(Span::raw("   "));
    }
    let mut lines = vec![Line::from(spans)];
    if let Some(sys) = app.data().and_then(|(s, _)| s.sysctls.as_ref()) {
        let parts: Vec<String> = QUEUE_SYSCTLS
            .iter()
            .filter_map(|(key, short)| sys.values.get(*key).map(|v| format!("{short}={v}")))
            .collect();
        if !parts.is_empty() {
            lines.push(Line::styled(parts.join("  "), t.dim()));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" host drops and cookies (TcpExt, per second) ")),
        area,
    );
}
