//! The churn panel (under the Remotes table): closes per second per remote endpoint and
//! per process, connections that lived less than one poll interval and events the kernel
//! dropped, all from the kernel's destroy events and titled so, beside the polled counts a
//! poll can see. Says why it is empty when there are no events. Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::analyze::events::per_second as rate;
use crate::model::TcpState;
use crate::tui::state::app::App;
use crate::tui::state::churn::{Churn, ChurnWindow};
use crate::tui::views::fmt;
use crate::tui::views::theme::Theme;

/// The panel's height in `body_h` rows of view: borders, the totals, a heading and up to
/// five ranked rows, never more than a third of the view.
pub fn height(app: &App, body_h: u16) -> u16 {
    let rows: u16 = match app.churn() {
        Churn::Live(_) => 2 + 5,
        _ => 2,
    };
    (rows + 2).min(body_h / 3).max(3)
}

/// Draws the panel in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let title = match app.churn() {
        Churn::Live(c) => format!(" churn from destroy events, last {:.1}s ", c.secs),
        _ => " churn from destroy events ".to_string(),
    };
    let block = Block::bordered().title(Span::styled(title, t.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = usize::from(inner.width);
    let c = match app.churn() {
        Churn::Live(c) => c,
        Churn::Off(why) => {
            let lines = vec![
                Line::styled(fmt::clip(&format!("no events: {why}"), w), t.warn()),
                Line::styled(fmt::clip(&polled(app), w), t.dim()),
            ];
            frame.render_widget(Paragraph::new(lines), inner);
            return;
        }
        Churn::Waiting => {
            let lines = vec![
                Line::styled("subscribed; the first interval is not over yet", t.dim()),
                Line::styled(fmt::clip(&polled(app), w), t.dim()),
            ];
            frame.render_widget(Paragraph::new(lines), inner);
            return;
        }
    };
    let [head, cols] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(totals(c, &polled(app), w, t)), head);
    let [left, right] = Layout::horizontal([Constraint::Fill(1); 2]).areas(cols);
    let n = usize::from(cols.height.saturating_sub(1));
    let remotes: Vec<(String, u64)> = c
        .window
        .top_remotes(n)
        .into_iter()
        .map(|(e, k)| (e.to_string(), k))
        .collect();
    let cw = usize::from(right.width).saturating_sub(1);
    let mut procs: Vec<(String, u64)> = c
        .window
        .top_processes(n)
        .into_iter()
        .map(|(pid, comm, k)| {
            let tail = format!("[{pid}]");
            (
                format!(
                    "{}{tail}",
                    fmt::name(comm, cw.saturating_sub(tail.len() + 9))
                ),
                k,
            )
        })
        .collect();
    if c.window.unowned > 0 && procs.len() < n {
        procs.push(("(owner unknown)".into(), c.window.unowned));
    }
    let lw = usize::from(left.width).saturating_sub(1);
    frame.render_widget(
        Paragraph::new(ranked("closes/s by remote", &remotes, c.secs, lw, t)),
        left,
    );
    frame.render_widget(
        Paragraph::new(ranked("closes/s by process", &procs, c.secs, cw, t)),
        right,
    );
}

/// What a poll sees beside it: the TIME_WAIT and ESTABLISHED counts of the last tick.
fn polled(app: &App) -> String {
    match app.data() {
        Some((_, an)) => {
            let s = &an.aggregate.states;
            format!(
                "polled now: TIME_WAIT {} · ESTABLISHED {}",
                fmt::count(s.get(TcpState::TimeWait)),
                fmt::count(s.get(TcpState::Established))
            )
        }
        None => "polled: nothing yet".into(),
    }
}

/// The totals line: closes per second, short-lived, lost, then the polled counts.
fn totals(c: &ChurnWindow, polled: &str, w: usize, t: Theme) -> Line<'static> {
    let win = &c.window;
    let lost_style = if win.lost > 0 { t.hot() } else { t.dim() };
    let spans = vec![
        Span::styled(fmt::per_sec(rate(win.total(), c.secs)), t.title()),
        Span::raw(format!(
            " closes (tcp {} udp {})  short-lived {} (<1 poll)  ",
            fmt::count(win.closes[0]),
            fmt::count(win.closes[1]),
            fmt::count(win.short_lived)
        )),
        Span::styled(
            format!(
                "lost {} (total {})",
                fmt::count(win.lost),
                fmt::count(c.lost_total)
            ),
            lost_style,
        ),
        Span::styled(format!("  {polled}"), t.dim()),
    ];
    clip_spans(spans, w)
}

/// Cuts a line of spans to `w` columns.
fn clip_spans(spans: Vec<Span<'static>>, w: usize) -> Line<'static> {
    let mut used = 0;
    let mut out = Vec::new();
    for s in spans {
        let sw = s.width();
        if used + sw <= w {
            used += sw;
            out.push(s);
        } else {
            let room = w.saturating_sub(used);
            if room > 1 {
                out.push(Span::styled(fmt::clip(&s.content, room), s.style));
            }
            break;
        }
    }
    Line::from(out)
}

/// A heading and `rows` as `name  rate/s` lines `w` wide.
fn ranked(head: &str, rows: &[(String, u64)], secs: f64, w: usize, t: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(fmt::clip(head, w), t.dim())];
    if rows.is_empty() {
        lines.push(Line::styled("  none", t.dim()));
    }
    for (name, n) in rows {
        let r = fmt::per_sec(rate(*n, secs));
        let room = w.saturating_sub(r.len() + 3);
        lines.push(Line::from(vec![
            Span::raw(format!("  {:<room$}", fmt::clip(name, room))),
            Span::styled(format!(" {r}"), Style::new()),
        ]));
    }
    lines
}
