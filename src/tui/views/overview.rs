//! The Overview view: histogram, trend charts, alerts and the top offenders (processes by
//! CLOSE_WAIT, busiest listeners). Lays the panels out for 80×24 and grows them on larger
//! terminals, each to its content. Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::model::TcpState;
use crate::tui::state::app::App;
use crate::tui::views::alerts;
use crate::tui::views::fmt;
use crate::tui::views::histogram;
use crate::tui::views::kernel;
use crate::tui::views::proto_panels;
use crate::tui::views::theme::Theme;
use crate::tui::views::trends;

const HISTOGRAM_H: u16 = histogram::HEIGHT;

/// Draws the Overview in `area`. Every panel is sized to what it holds: the alerts take the
/// lines their alerts need (the rest goes to the charts), and on wide terminals the
/// offenders list grows under the histogram instead of leaving either one a tall empty box.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    if area.width >= 120 {
        let room = area.height.saturating_sub(HISTOGRAM_H);
        let alerts_h = alerts::needed_height(app, area.width, true).min(room.max(3));
        let [top, bottom] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(alerts_h)]).areas(area);
        let [left, tr] =
            Layout::horizontal([Constraint::Length(44), Constraint::Fill(1)]).areas(top);
        // Under the histogram: the offenders as tall as they need, then the kernel panel in
        // what is left (when that holds a few lines; otherwise the offenders take it). Room
        // beyond all three spaces the histogram's bars out, then goes to the kernel panel.
        let off_h = offenders_height(app);
        let hist_h = if left.height >= histogram::SPACED_HEIGHT + off_h + kernel::height(app) {
            histogram::SPACED_HEIGHT
        } else {
            HISTOGRAM_H
        };
        let spare = left.height.saturating_sub(hist_h);
        let kernel_h = if spare >= off_h + kernel::MIN_HEIGHT {
            spare - off_h
        } else {
            0
        };
        let [h, off, k] = Layout::vertical([
            Constraint::Length(hist_h),
            Constraint::Min(0),
            Constraint::Length(kernel_h),
        ])
        .areas(left);
        histogram::draw(frame, h, app);
        draw_offenders(frame, off, app);
        if kernel_h > 0 {
            kernel::draw(frame, k, app);
        }
        trends::draw(frame, tr, app);
        alerts::draw(frame, bottom, app, true);
    } else {
        const OFFENDERS_W: u16 = 34;
        let room = area.height.saturating_sub(HISTOGRAM_H).max(3);
        let need = alerts::needed_height(app, area.width.saturating_sub(OFFENDERS_W), true)
            .max(offenders_height(app));
        let [top, bottom] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(need.min(room))]).areas(area);
        let [h, tr] = Layout::horizontal([Constraint::Length(38), Constraint::Min(0)]).areas(top);
        let [al, off] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(OFFENDERS_W)]).areas(bottom);
        histogram::draw(frame, h, app);
        trends::draw(frame, tr, app);
        alerts::draw(frame, al, app, true);
        draw_offenders(frame, off, app);
    }
}

/// The height (borders included) the offenders list needs: a heading and at least one line
/// for each of its two lists.
fn offenders_height(app: &App) -> u16 {
    if let Some(agg) = app.proto_aggregate() {
        let n = proto_panels::offender_lines(app, agg, 80).len();
        return u16::try_from(n + 2).unwrap_or(u16::MAX).max(4);
    }
    let (cw, busy) = app.data().map_or((0, 0), |(_, an)| {
        let agg = &an.aggregate;
        (
            agg.processes
                .iter()
                .filter(|p| p.states.get(TcpState::CloseWait) > 0)
                .count(),
            agg.listeners
                .iter()
                .filter(|l| l.states.total() > 1)
                .count(),
        )
    });
    u16::try_from(2 + cw.max(1) + busy.max(1) + 2).unwrap_or(u16::MAX)
}

/// Top processes by CLOSE_WAIT, then the busiest listeners, as many as fit.
fn draw_offenders(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let block = Block::bordered().title(" top offenders ");
    let inner = block.inner(area);
    let w = usize::from(inner.width);
    let h = usize::from(inner.height);
    let mut lines: Vec<Line> = Vec::new();
    if let Some(agg) = app.proto_aggregate() {
        lines = proto_panels::offender_lines(app, agg, w);
    } else if let Some((_, an)) = app.data() {
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
                Span::raw(format!("  {:<room$}", fmt::fit(&name, room))),
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
                Span::raw(format!("  {:<room$}", fmt::fit(&l.local.to_string(), room))),
                Span::styled(format!(" {nums}"), t.title()),
            ]));
        }
    }
    lines.truncate(h);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
