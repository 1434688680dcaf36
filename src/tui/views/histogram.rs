//! The state histogram: all eleven states as horizontal bars, coloured by phase, in the
//! order of a connection's life. Pure over `&App`.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Bar, BarChart, BarGroup, Block};
use ratatui::Frame;

use crate::tui::state::app::App;
use crate::tui::state::columns::STATE_COLUMNS as LIFECYCLE;
use crate::tui::views::fmt;
use crate::tui::views::theme::Theme;

/// Height (borders included) of the histogram with one line per state.
pub const HEIGHT: u16 = 13;

/// Height of the histogram with a blank line between bars, for a tall column.
pub const SPACED_HEIGHT: u16 = 24;

/// Draws the histogram in `area`, its bars a line apart when the area is
/// [`SPACED_HEIGHT`] tall.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    if let Some(agg) = app.proto_aggregate() {
        return crate::tui::views::proto_panels::draw_histogram(frame, area, app, agg);
    }
    let t = Theme::new(app.color);
    let counts = app
        .data()
        .map(|(_, an)| an.aggregate.states)
        .unwrap_or_default();
    let bars: Vec<Bar> = LIFECYCLE
        .iter()
        .map(|&s| {
            let n = counts.get(s);
            Bar::default()
                .label(format!("{:<11}", s.netstat_name()))
                .value(n)
                .text_value(fmt::count(n))
                .style(t.state(s))
                .value_style(t.state(s).add_modifier(ratatui::style::Modifier::REVERSED))
        })
        .collect();
    let chart = BarChart::default()
        .direction(ratatui::layout::Direction::Horizontal)
        .data(BarGroup::default().bars(&bars))
        .bar_width(1)
        .bar_gap(u16::from(area.height >= SPACED_HEIGHT))
        .label_style(Style::new())
        .block(Block::bordered().title(" states "));
    frame.render_widget(chart, area);
}
