//! Sparklines for the states that build up (ESTABLISHED, TIME_WAIT, CLOSE_WAIT, SYN_RECV)
//! with the current value, growth per minute and the window's range, from the dashboard's
//! own history ring. Each line is scaled to its own min..max.
//! Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, RenderDirection, Sparkline};
use ratatui::Frame;

use crate::model::TcpState;
use crate::tui::state::app::App;
use crate::tui::views::fmt;
use crate::tui::views::theme::Theme;

/// The states with a sparkline, in display order.
pub const TRENDED: [TcpState; 4] = [
    TcpState::Established,
    TcpState::TimeWait,
    TcpState::CloseWait,
    TcpState::SynRecv,
];

/// Growth per minute above which a trend is drawn as hot.
const HOT_GROWTH_PER_MIN: f64 = 1.0;

/// Maps `values` onto the sparkline's bar levels from their own min..max, one level above
/// the floor for the minimum, so a flat line is a thin bar (not a full block that reads as
/// "at max") and small changes on a large count stay visible. Returns the data and its max.
fn scaled(values: &[u64], height: u16) -> (Vec<u64>, u64) {
    let levels = u64::from(height.max(1)) * 8;
    let lo = values.iter().copied().min().unwrap_or(0);
    let hi = values.iter().copied().max().unwrap_or(0);
    let span = hi - lo;
    let data = values
        .iter()
        .map(|&v| match span {
            0 => 1,
            _ => 1 + (v - lo) * (levels - 1) / span,
        })
        .collect();
    (data, levels)
}

/// Draws the four trends in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let block = Block::bordered().title(" trends (per tick) ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let areas = Layout::vertical([Constraint::Fill(1); 4]).split(inner);
    for (i, &state) in TRENDED.iter().enumerate() {
        let Some(&r) = areas.get(i) else { break };
        if r.height == 0 {
            continue;
        }
        let [label, spark] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(r);
        let series = app.history.series(state);
        let cur = series.last().copied().unwrap_or(0);
        let growth = app.history.growth_per_min(state);
        let hot = state != TcpState::Established && growth.is_some_and(|g| g > HOT_GROWTH_PER_MIN);
        let growth_span = match growth {
            Some(g) => Span::styled(fmt::per_min(g), if hot { t.hot() } else { t.dim() }),
            None => Span::styled("–/min", t.dim()),
        };
        let mut spans = vec![
            Span::styled(format!("{:<11} ", state.netstat_name()), t.state(state)),
            Span::styled(format!("{:>6} ", fmt::count(cur)), t.title()),
            growth_span,
        ];
        // The sparkline spans min..max of the window, so say what that is.
        let shown = &series[series.len().saturating_sub(usize::from(spark.width))..];
        if let (Some(lo), Some(hi)) = (shown.iter().min(), shown.iter().max()) {
            let range = if lo == hi {
                format!("  flat {}", fmt::count(*lo))
            } else {
                format!("  {}–{}", fmt::count(*lo), fmt::count(*hi))
            };
            spans.push(Span::styled(range, t.dim()));
        }
        let line = Line::from(spans);
        frame.render_widget(Paragraph::new(line), label);
        if spark.height > 0 {
            // Right-aligned: the newest samples that fit, so the line ends "now".
            let w = usize::from(spark.width);
            let newest_first: Vec<u64> = series.iter().rev().take(w).copied().collect();
            let (data, max) = scaled(&newest_first, spark.height);
            frame.render_widget(
                Sparkline::default()
                    .data(&data)
                    .max(max)
                    .direction(RenderDirection::RightToLeft)
                    .style(t.state(state)),
                spark,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scaled;

    #[test]
    fn flat_is_a_thin_bar_and_changes_span_the_height() {
        assert_eq!(scaled(&[600, 600, 600], 2), (vec![1, 1, 1], 16));
        assert_eq!(scaled(&[600, 610, 620], 2), (vec![1, 8, 16], 16));
        assert_eq!(scaled(&[], 2), (vec![], 16));
    }
}
