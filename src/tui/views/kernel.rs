//! The kernel panel of a tall Overview: the TcpExt counter rates the verdicts use
//! (overflows, drops, syncookies) and the sysctls they cite, with this namespace's values,
//! so the numbers behind a SYN flood or TIME_WAIT verdict are on screen without switching
//! views. Pure over `&App`.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::tui::state::app::App;
use crate::tui::state::history::RATE_COUNTERS;
use crate::tui::views::fmt;
use crate::tui::views::theme::Theme;

/// The sysctls shown, with the short name the panel gives them.
const SYSCTLS: [(&str, &str); 7] = [
    ("somaxconn", "net.core.somaxconn"),
    ("tcp_max_syn_backlog", "net.ipv4.tcp_max_syn_backlog"),
    ("tcp_syncookies", "net.ipv4.tcp_syncookies"),
    ("tcp_fin_timeout", "net.ipv4.tcp_fin_timeout"),
    ("tcp_tw_reuse", "net.ipv4.tcp_tw_reuse"),
    ("tcp_max_tw_buckets", "net.ipv4.tcp_max_tw_buckets"),
    ("ip_local_port_range", "net.ipv4.ip_local_port_range"),
];

/// Lines the panel holds (borders included): a heading and a line per counter and sysctl.
pub const HEIGHT: u16 = (2 + RATE_COUNTERS.len() + SYSCTLS.len() + 2) as u16;

/// The smallest height worth drawing: a heading and three lines.
pub const MIN_HEIGHT: u16 = 6;

/// Draws the panel in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let block = Block::bordered().title(" kernel ");
    let w = usize::from(block.inner(area).width);
    let mut lines = vec![Line::styled("counters per second", t.title())];
    let rates = app.data().and_then(|(_, an)| an.rates.as_ref());
    for name in RATE_COUNTERS {
        let value = match rates {
            Some(r) if r.has(name) => format!("{:.1}", r.get(name)),
            Some(_) => "not read".into(),
            None => "from 2nd tick".into(),
        };
        let hot = rates.is_some_and(|r| r.get(name) > 0.0);
        let room = w.saturating_sub(value.len() + 3);
        lines.push(Line::from(vec![
            Span::raw(format!("  {:<room$} ", fmt::clip(name, room))),
            Span::styled(value, if hot { t.hot() } else { t.dim() }),
        ]));
    }
    lines.push(Line::styled("sysctls", t.title()));
    let sysctls = app.data().and_then(|(snap, _)| snap.sysctls.as_ref());
    for (short, name) in SYSCTLS {
        let value = sysctls.and_then(|s| s.values.get(name)).map_or_else(
            || "not read".to_string(),
            |v| v.split_whitespace().collect::<Vec<_>>().join(" "),
        );
        let room = w.saturating_sub(value.len() + 3);
        lines.push(Line::from(vec![
            Span::raw(format!("  {:<room$} ", fmt::clip(short, room))),
            Span::styled(value, t.dim()),
        ]));
    }
    // A short panel says what it left out rather than ending mid-list.
    let room = usize::from(area.height.saturating_sub(2));
    if lines.len() > room && room > 0 {
        let left = lines.len() - (room - 1);
        lines.truncate(room - 1);
        lines.push(Line::styled(
            format!("  … {left} more lines: taller terminal"),
            t.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
