//! The trend charts: the states that build up (CLOSE_WAIT, SYN_RECV, FIN_WAIT2) and the
//! connection states (ESTABLISHED, TIME_WAIT) over the chosen window (`w`: 1m, 10m, 1h), on
//! a labelled time axis ending "now" and a labelled count axis from zero, with the current
//! value and growth per minute of each series above its chart. A rule threshold is drawn as
//! a line where it is near the data (close enough to matter on this scale); otherwise its
//! value is named in the header. Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use crate::model::TcpState;
use crate::tui::state::app::App;
use crate::tui::state::history::{Series, TrendWindow};
use crate::tui::views::fmt;
use crate::tui::views::theme::Theme;

/// The states of the buildup chart, in legend order.
pub const BUILDUP: [TcpState; 3] = [TcpState::CloseWait, TcpState::SynRecv, TcpState::FinWait2];

/// The states of the connections chart.
pub const CONNECTIONS: [TcpState; 2] = [TcpState::Established, TcpState::TimeWait];

/// Growth per minute above which a trend is drawn as hot.
const HOT_GROWTH_PER_MIN: f64 = 1.0;

/// Inner height from which both charts get their own box; below it the connection states
/// are one text line under the buildup chart.
const TWO_CHARTS_H: u16 = 12;

/// A threshold line: its value and label.
struct Threshold {
    value: f64,
    label: String,
}

/// The smallest "round" number (1, 2 or 5 times a power of ten) at or above `v`, so the
/// count axis reads 0, half, max in plain numbers.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 1.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&c| c >= v)
        .unwrap_or(10.0 * mag)
}

/// Time-axis labels for `window`: its start, its middle and now.
fn time_labels(window: TrendWindow) -> [String; 3] {
    let half = window.ms() / 2 / 1000;
    let mid = if half >= 60 {
        format!("-{}m", half / 60)
    } else {
        format!("-{half}s")
    };
    [format!("-{}", window.label()), mid, "now".to_string()]
}

/// A threshold is drawn when it would sit within the axis' range at a scale that still shows
/// the data: at most twice the highest point (a far-away cap would flatten every series).
fn near(t: &Threshold, data_max: f64) -> bool {
    t.value > 0.0 && t.value <= (2.0 * data_max).max(10.0)
}

/// The header line of a chart: each state's name, current count and growth per minute.
fn header<'a>(
    app: &App,
    t: Theme,
    states: &[TcpState],
    drawn: &[&Threshold],
    far: &[&Threshold],
) -> Line<'a> {
    let mut spans = Vec::new();
    for &state in states {
        let cur = app
            .data()
            .map_or(0, |(_, an)| an.aggregate.states.get(state));
        let growth = app.history.growth_per_min(state);
        let hot = state != TcpState::Established && growth.is_some_and(|g| g > HOT_GROWTH_PER_MIN);
        spans.push(Span::styled(
            format!("{} ", fmt::state_short(state)),
            t.series(state),
        ));
        // A series that has not moved in the window: its level in words, not a bare line.
        let points = app
            .history
            .window(state, app.trend_window, app.now_ms)
            .points;
        if let Some(flat) = fmt::flat(points.iter().map(|p| p.1)) {
            spans.push(Span::styled(format!("{flat}  "), t.title()));
            continue;
        }
        spans.push(Span::styled(format!("{} ", fmt::count(cur)), t.title()));
        spans.push(match growth {
            Some(g) => Span::styled(fmt::per_min(g), if hot { t.hot() } else { t.dim() }),
            None => Span::styled("–/min", t.dim()),
        });
        spans.push(Span::raw("  "));
    }
    // A drawn line is named in its own colour; one too far to draw is named dimmed.
    for th in drawn {
        spans.push(Span::styled(format!("┄ {}  ", th.label), t.warn()));
    }
    for th in far {
        spans.push(Span::styled(format!("{}  ", th.label), t.dim()));
    }
    Line::from(spans)
}

/// Draws one chart of `states` (with `thresholds`) in `area`: a header line, then the chart.
fn draw_chart(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    states: &[TcpState],
    thresholds: &[Threshold],
) {
    let t = Theme::new(app.color);
    let window = app.trend_window;
    let series: Vec<Series> = states
        .iter()
        .map(|&s| app.history.window(s, window, app.now_ms))
        .collect();
    let data_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let (shown, far): (Vec<&Threshold>, Vec<&Threshold>) =
        thresholds.iter().partition(|th| near(th, data_max));
    let top = nice_ceiling(shown.iter().map(|th| th.value).fold(data_max, f64::max));
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(Paragraph::new(header(app, t, states, &shown, &far)), head);
    if body.height < 3 {
        return;
    }
    let x0 = -(window.ms() as f64) / 1000.0;
    let lines: Vec<[(f64, f64); 2]> = shown
        .iter()
        .map(|th| [(x0, th.value), (0.0, th.value)])
        .collect();
    let mut datasets: Vec<Dataset> = states
        .iter()
        .zip(&series)
        .enumerate()
        .map(|(i, (&s, ser))| {
            // Without colour the series differ by their marker.
            let marker = match (t.has_color(), i) {
                (true, _) | (false, 0) => Marker::Braille,
                (false, 1) => Marker::Dot,
                (false, _) => Marker::Block,
            };
            Dataset::default()
                .marker(marker)
                .graph_type(GraphType::Line)
                .style(t.series(s))
                .data(&ser.points)
        })
        .collect();
    // Later datasets draw over earlier ones: the first-listed state (CLOSE_WAIT, the one a
    // leak is about) goes last so it stays visible where series overlap.
    datasets.reverse();
    for (th, pts) in shown.iter().zip(&lines) {
        datasets.push(
            Dataset::default()
                .name(th.label.clone())
                .marker(Marker::Dot)
                .graph_type(GraphType::Line)
                .style(t.warn())
                .data(pts),
        );
    }
    let coarse = series.iter().any(|s| s.coarse);
    let x_title = if coarse { "10 s peaks" } else { "" };
    // A half that is not a whole count (the axis of an empty chart ends at 1) stays blank.
    let half = (top >= 2.0 && (top as u64) % 2 == 0).then(|| fmt::count((top / 2.0) as u64));
    let y_labels = [Some(fmt::count(0)), half, Some(fmt::count(top as u64))]
        .map(|l| Span::styled(l.unwrap_or_default(), t.dim()));
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .title(Span::styled(x_title, t.dim()))
                .bounds([x0, 0.0])
                .labels(time_labels(window).map(|l| Span::styled(l, t.dim())))
                .style(t.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(y_labels)
                .style(t.dim()),
        )
        .legend_position(None);
    frame.render_widget(chart, body);
}

/// The thresholds that apply to the buildup chart.
fn buildup_thresholds(app: &App) -> Vec<Threshold> {
    vec![Threshold {
        value: app.lines.close_wait_per_process as f64,
        label: format!("warn {}/proc", app.lines.close_wait_per_process),
    }]
}

/// The TIME_WAIT bucket threshold, where the namespace's `tcp_max_tw_buckets` is known.
fn connection_thresholds(app: &App) -> Vec<Threshold> {
    let cap = app
        .data()
        .and_then(|(snap, _)| snap.sysctls.as_ref()?.int("net.ipv4.tcp_max_tw_buckets"))
        .filter(|&c| c > 0);
    cap.map(|c| {
        let value = (c as f64 * app.lines.time_wait_bucket_fill).round();
        Threshold {
            value,
            label: format!("warn {}", fmt::count(value as u64)),
        }
    })
    .into_iter()
    .collect()
}

/// Draws the trend charts in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let mut title = vec![
        Span::raw(" trends, last "),
        Span::styled(app.trend_window.label(), t.title()),
        Span::styled(" (w) ", t.dim()),
    ];
    // The series are TCP's whatever protocol the rest of the screen shows: say so.
    if app.protocol() != crate::model::Protocol::Tcp {
        title.push(Span::styled("TCP ", t.warn()));
    }
    let title = Line::from(title);
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height >= TWO_CHARTS_H {
        let [a, b] = Layout::vertical([Constraint::Fill(1); 2]).areas(inner);
        draw_chart(frame, a, app, &BUILDUP, &buildup_thresholds(app));
        draw_chart(frame, b, app, &CONNECTIONS, &connection_thresholds(app));
    } else {
        let [a, b] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
        draw_chart(frame, a, app, &BUILDUP, &buildup_thresholds(app));
        let far: Vec<Threshold> = connection_thresholds(app);
        let far: Vec<&Threshold> = far.iter().collect();
        frame.render_widget(Paragraph::new(header(app, t, &CONNECTIONS, &[], &far)), b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_axis_ends_on_a_round_number() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(300.0), 500.0);
        assert_eq!(nice_ceiling(200.0), 200.0);
        assert_eq!(nice_ceiling(1001.0), 2000.0);
    }

    #[test]
    fn time_labels_name_the_window() {
        assert_eq!(time_labels(TrendWindow::OneMinute), ["-1m", "-30s", "now"]);
        assert_eq!(time_labels(TrendWindow::TenMinutes), ["-10m", "-5m", "now"]);
        assert_eq!(time_labels(TrendWindow::OneHour), ["-1h", "-30m", "now"]);
    }

    #[test]
    fn a_far_threshold_is_named_not_drawn() {
        let t = Threshold {
            value: 200.0,
            label: String::new(),
        };
        assert!(near(&t, 150.0));
        assert!(near(&t, 100.0));
        assert!(!near(&t, 20.0));
        let small = Threshold {
            value: 8.0,
            label: String::new(),
        };
        assert!(near(&small, 0.0));
    }
}
