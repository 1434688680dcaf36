//! The Overview view: histogram, trends, alerts and the top offenders (processes by
//! CLOSE_WAIT, busiest listeners). Lays the panels out for 80×24 and grows them on larger
//! terminals. Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::model::TcpState;
use crate::tui::state::app::App;
use crate::tui::views::alerts;
use crate::tui::views::fmt;
use crate::tui::views::histogram;
use crate::tui::views::theme::Theme;
use crate::tui::views::trends;

/// Height of the histogram: eleven bars and a border.
const HISTOGRAM_H: u16 = 13;

/// Draws the Overview in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    if area.width >= 120 {
        let top_h = HISTOGRAM_H.max(area.height * 11 / 20);
        let [top, bottom] =
            Layout::vertical([Constraint::Length(top_h), Constraint::Min(0)]).areas(area);
        let [h, tr, off] = Layout::horizontal([
            Constraint::Length(44),
            Constraint::Fill(3),
            Constraint::Fill(2),
        ])
        .areas(top);
        histogram::draw(frame, h, app);
        trends::draw(frame, tr, app);
        draw_offenders(frame, off, app);
        alerts::draw(frame, bottom, app, true);
    } else {
        let [top, bottom] =
            Layout::vertical([Constraint::Length(HISTOGRAM_H), Constraint::Min(0)]).areas(area);
        let [h, tr] = Layout::horizontal([Constraint::Length(38), Constraint::Min(0)]).areas(top);
        let [al, off] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(34)]).areas(bottom);
        histogram::draw(frame, h, app);
        trends::draw(frame, tr, app);
        alerts::draw(frame, al, app, true);
        draw_offenders(frame, off, app);
    }
}

/// Top processes by CLOSE_WAIT, then the busiest listeners, as many as fit.
fn draw_offenders(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let block = Block::bordered().title(" top offenders ");
    let inner = block.inner(area);
    let w = usize::from(inner.width);
    let h = usize::from(inner.height);
    let mut lines: Vec<Line> = Vec::new();
    if let Some((_, an)) = app.data() {
        let agg = &an.aggregate;
        let mut cw: Vec<_> = agg
            .processes
            .iter()
            .filter(|p| p.states.get(TcpState::CloseWait) > 0)
            .collect();
        cw.sort_by_key(|p| std::cmp::Reverse(p.states.get(TcpState::CloseWait)));
        // Half the room each, but give spare lines to whichever list needs them.
        let busy: Vec<_> = agg
            .listeners
            .iter()
            .filter(|l| l.states.total() > 1)
            .collect();
        let half = h.saturating_sub(2) / 2;
        let n_cw = cw
            .len()
            .min(half.max(h.saturating_sub(2 + busy.len().min(half))));
        lines.push(Line::styled(
            "CLOSE_WAIT by process",
            t.state(TcpState::CloseWait),
        ));
        if cw.is_empty() {
            lines.push(Line::styled("  none", t.dim()));
        }
        for p in cw.iter().take(n_cw.max(1)) {
            let name = format!("{}[{}]", p.process.comm, p.process.pid);
            let n = fmt::count(p.states.get(TcpState::CloseWait));
            let growth = app.cw_trend.growth_per_min(p.process.pid);
            let g = growth.map_or_else(String::new, |g| format!(" {}", fmt::per_min(g)));
            let g_style = if growth.is_some_and(|g| g > 0.0) {
                t.hot()
            } else {
                t.dim()
            };
            let room = w.saturating_sub(n.len() + g.len() + 3);
            lines.push(Line::from(vec![
                Span::raw(format!("  {:<room$}", fmt::clip(&name, room))),
                Span::styled(format!(" {n}"), t.title()),
                Span::styled(g, g_style),
            ]));
        }
        // Spelled out, with the short state name when the box is narrow (80 columns).
        let head = if w >= 36 {
            "listeners: SYN_RECV/backlog accept q"
        } else {
            "listeners SYN_R/backlog accept q"
        };
        lines.push(Line::styled(head, t.state(TcpState::Listen)));
        if busy.is_empty() {
            lines.push(Line::styled("  none busy", t.dim()));
        }
        for l in busy {
            let nums = format!(
                "{}/{} {}",
                fmt::count(l.syn_recv()),
                l.backlog,
                l.accept_queue
            );
            let room = w.saturating_sub(nums.len() + 3);
            lines.push(Line::from(vec![
                Span::raw(format!(
                    "  {:<room$}",
                    fmt::clip(&l.local.to_string(), room)
                )),
                Span::styled(format!(" {nums}"), t.title()),
            ]));
        }
    }
    lines.truncate(h);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
