//! The namespaces strip (`--all-netns` only): one line under the tabs naming every
//! namespace with its socket count and, in the alert colour, its firing-alert count, the
//! shown one highlighted, so the namespace in trouble is visible from any view; then how
//! many namespaces could not be read. Pure over `&App`.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::tui::state::app::App;
use crate::tui::views::fmt;
use crate::tui::views::theme::Theme;

/// The strip's text as spans (kept apart from drawing so tests can read it).
pub fn strip(app: &App) -> Line<'static> {
    let t = Theme::new(app.color);
    let mut spans = vec![Span::styled("netns ", t.dim())];
    for (i, s) in app.netns_summaries().into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" │ ", t.dim()));
        }
        let name = if s.active {
            Span::styled(format!("▸{}", s.name), t.selected())
        } else {
            Span::styled(s.name, t.title())
        };
        spans.push(name);
        spans.push(Span::raw(format!(" {}", fmt::count(s.sockets))));
        if s.firing > 0 {
            spans.push(Span::styled(format!(" ▲{} firing", s.firing), t.hot()));
        }
    }
    if let Some(f) = app.fleet().filter(|f| !f.failures().is_empty()) {
        spans.push(Span::styled(
            format!("  {} unreadable", f.failures().len()),
            t.warn(),
        ));
    }
    Line::from(spans)
}

/// Draws the strip in `area` (one line).
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    frame.render_widget(Paragraph::new(strip(app)), area);
}

/// The header's note on unreadable namespaces: `2 netns unreadable: ns-a: why; ns-b: why`.
pub fn failures_note(app: &App) -> Option<String> {
    let f = app.fleet()?.failures();
    if f.is_empty() {
        return None;
    }
    let why: Vec<String> = f
        .iter()
        .map(|x| format!("{}: {}", x.netns, x.reason))
        .collect();
    Some(format!("{} netns unreadable: {}", f.len(), why.join("; ")))
}
