//! Sparklines for the states that build up (ESTABLISHED, TIME_WAIT, CLOSE_WAIT, SYN_RECV)
//! with the current value and growth per minute, from the dashboard's own history ring.
//! Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, RenderDirection, Sparkline};
use ratatui::Frame;

use crate::model::TcpState;
use crate::tui::app::App;
use crate::tui::fmt;

/// The states with a sparkline, in display order.
pub const TRENDED: [TcpState; 4] = [
    TcpState::Established,
    TcpState::TimeWait,
    TcpState::CloseWait,
    TcpState::SynRecv,
];

/// Growth per minute above which a trend is drawn as hot.
const HOT_GROWTH_PER_MIN: f64 = 1.0;

/// Draws the four trends in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = app.theme;
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
        let line = Line::from(vec![
            Span::styled(format!("{:<11} ", state.netstat_name()), t.state(state)),
            Span::styled(format!("{:>6} ", fmt::count(cur)), t.title()),
            growth_span,
        ]);
        frame.render_widget(Paragraph::new(line), label);
        if spark.height > 0 {
            // Right-aligned: the newest samples that fit, so the line ends "now".
            let w = usize::from(spark.width);
            let newest_first: Vec<u64> = series.iter().rev().take(w).copied().collect();
            frame.render_widget(
                Sparkline::default()
                    .data(&newest_first)
                    .direction(RenderDirection::RightToLeft)
                    .style(t.state(state)),
                spark,
            );
        }
    }
}
