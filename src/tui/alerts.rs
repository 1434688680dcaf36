//! The alerts panel: firing, pending and recently resolved alerts with their age and
//! one-line message; the selection here is what Enter and `e` act on in the Overview.
//! Pure over `&App`.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::analyze::finding::{AlertPhase, Severity};
use crate::tui::app::App;
use crate::tui::fmt;

fn phase_tag(p: AlertPhase) -> &'static str {
    match p {
        AlertPhase::Firing => "FIRING  ",
        AlertPhase::Pending => "pending ",
        AlertPhase::Resolved => "resolved",
    }
}

fn sev_tag(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::Warning => "WARN",
    }
}

/// Draws the alerts panel in `area`; `selectable` marks the selected alert.
pub fn draw(frame: &mut Frame, area: Rect, app: &App, selectable: bool) {
    let t = app.theme;
    let alerts = app
        .data()
        .map(|(_, an)| an.alerts.as_slice())
        .unwrap_or(&[]);
    let firing = alerts
        .iter()
        .filter(|a| a.phase == AlertPhase::Firing)
        .count();
    let block = Block::bordered().title(format!(" alerts ({firing} firing) "));
    let inner = block.inner(area);
    let height = usize::from(inner.height);
    let sel = app.selected();
    // Keep the selection visible: scroll by whole pages.
    let skip = sel.checked_div(height).map_or(0, |page| page * height);
    let mut lines: Vec<Line> = Vec::new();
    if alerts.is_empty() {
        lines.push(Line::styled("no alerts: nothing is building up", t.dim()));
    }
    for (row, &i) in app.rows.alerts.iter().enumerate().skip(skip).take(height) {
        let a = &alerts[i];
        let f = &a.finding;
        let style = t.alert(f.severity, a.phase);
        let age = fmt::age_ms(app.now_ms - a.since_ms);
        let mut line = Line::from(vec![
            Span::styled(
                format!("{} {} ", phase_tag(a.phase), sev_tag(f.severity)),
                style,
            ),
            Span::styled(format!("{age:>6} "), t.dim()),
            Span::raw(f.message.clone()),
        ]);
        if selectable && row == sel {
            line = line.style(t.selected());
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
