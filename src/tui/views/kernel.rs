//! The kernel panel of a tall Overview: the TcpExt counter rates the verdicts use
//! (overflows, drops, syncookies), the conntrack table (entries of its max, refusals per
//! second, when the namespace has one) and the sysctls they cite, with this namespace's
//! values, so the numbers behind a SYN flood, TIME_WAIT or conntrack_full verdict are on
//! screen without switching views. Pure over `&App`.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::model::{RuleId, CONNTRACK_DROP_STATS};
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

/// Lines the panel holds (borders included) without conntrack: a heading and a line per
/// counter and sysctl.
pub const HEIGHT: u16 = (2 + RATE_COUNTERS.len() + SYSCTLS.len() + 2) as u16;

/// Lines the panel holds for the snapshot on screen: [`HEIGHT`] plus the conntrack lines.
pub fn height(app: &App) -> u16 {
    HEIGHT + u16::try_from(conntrack_lines(app, 40, &Theme::new(false)).len()).unwrap_or(0)
}

/// The conntrack heading and lines: entries of the max, refusals per second and since
/// boot; one line saying why when the namespace has no table; none when counters were not
/// read (then the panel looks as it always did).
fn conntrack_lines(app: &App, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let Some((snap, an)) = app.data() else {
        return Vec::new();
    };
    let Some(c) = snap.counters.as_ref() else {
        return Vec::new();
    };
    let row = |name: &str, value: String, hot: bool| {
        let room = w.saturating_sub(value.len() + 3);
        Line::from(vec![
            Span::raw(format!("  {:<room$} ", fmt::clip(name, room))),
            Span::styled(value, if hot { t.hot() } else { t.dim() }),
        ])
    };
    let Some(ct) = c.conntrack.as_ref() else {
        return match &c.conntrack_absent {
            Some(why) => vec![
                Line::styled("conntrack", t.title()),
                Line::styled(
                    format!("  {}", fmt::clip(why, w.saturating_sub(2))),
                    t.dim(),
                ),
            ],
            None => Vec::new(),
        };
    };
    let fill = ct.fill();
    let entries = match ct.max {
        Some(m) => format!(
            "{}/{m} {}",
            ct.count,
            fill.map_or_else(String::new, |f| format!("{:.0}%", f * 100.0))
        ),
        None => format!("{}/?", ct.count),
    };
    // Rates exist but hold no conntrack statistic when the previous sample had no table
    // (module loaded since, statistics unreadable then): that is no rate, not zero.
    let rates = an.rates.as_ref().map(|r| {
        let v: Vec<f64> = CONNTRACK_DROP_STATS
            .iter()
            .filter_map(|n| r.conntrack.get(*n).copied())
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>())
    });
    let refused = rates.flatten();
    let refused_text = match (rates, ct.cpus) {
        (_, 0) => "not read".into(),
        (Some(Some(r)), _) => format!("{r:.1}"),
        (Some(None), _) => "not measured".into(),
        (None, _) => "from 2nd tick".into(),
    };
    vec![
        Line::styled("conntrack", t.title()),
        row(
            "entries",
            entries,
            an.findings.iter().any(|f| f.rule == RuleId::ConntrackFull),
        ),
        row("refused/s", refused_text, refused.is_some_and(|r| r > 0.0)),
        row(
            "refused total",
            ct.drops()
                .map_or_else(|| "not read".into(), |d| d.to_string()),
            false,
        ),
    ]
}

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
    lines.extend(conntrack_lines(app, w, &t));
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

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::analyze::engine::Analyzer;
    use crate::model::fixtures::snapshot;
    use crate::model::{Conntrack, KernelCounters, Snapshot};
    use crate::tui::{Event, TickData, TuiOptions};

    fn snap(t_ms: i64, count: u64, drop: u64, absent: Option<&str>) -> Snapshot {
        let mut s = snapshot(vec![]);
        s.taken_at_ms = t_ms;
        s.counters = Some(KernelCounters {
            conntrack: absent.is_none().then(|| Conntrack {
                count,
                max: Some(1000),
                buckets: Some(250),
                stats: [("drop".to_string(), drop)].into(),
                cpus: 2,
                dropped_stats: 0,
            }),
            conntrack_absent: absent.map(str::to_string),
            ..KernelCounters::default()
        });
        s
    }

    fn app_after(snaps: &[Snapshot]) -> App {
        let mut app = App::new(&TuiOptions {
            host: "h".into(),
            interval_ms: 1000,
            color: false,
            lines: Default::default(),
            protocols: Default::default(),
        });
        let mut an = Analyzer::new();
        for s in snaps {
            let analysis = an.observe(s);
            app.on_event(Event::Tick(Box::new(TickData {
                snapshot: s.clone(),
                analysis,
                tick_ms: 1,
            })));
        }
        app
    }

    fn screen(app: &App) -> String {
        let mut term = Terminal::new(TestBackend::new(44, 40)).unwrap();
        term.draw(|f| draw(f, f.area(), app)).unwrap();
        let buf = term.backend().buffer().clone();
        let w = usize::from(buf.area.width);
        buf.content()
            .chunks(w)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
            .collect()
    }

    #[test]
    fn conntrack_lines_show_fill_and_refusals() {
        let app = app_after(&[snap(1_000, 900, 10, None), snap(3_000, 970, 30, None)]);
        let s = screen(&app);
        assert!(s.contains("conntrack"), "{s}");
        assert!(s.contains("970/1000 97%"), "{s}");
        assert!(s.contains("refused/s"), "{s}");
        assert!(s.contains("10.0"), "20 drops in 2 s: {s}");
        assert!(s.contains("30"), "{s}");
        assert_eq!(height(&app), HEIGHT + 4);
        let first = app_after(&[snap(1_000, 5, 0, None)]);
        assert!(screen(&first).contains("from 2nd tick"));
    }

    /// The previous sample had no table (the module was loaded since): the rates exist
    /// but hold no conntrack statistic, which is "not measured", never a rate of 0.
    #[test]
    fn refusals_after_a_sample_without_a_table_are_not_measured() {
        let app = app_after(&[
            snap(1_000, 0, 0, Some("nf_conntrack is not loaded")),
            snap(3_000, 5, 7, None),
        ]);
        let s = screen(&app);
        let line = s.lines().find(|l| l.contains("refused/s")).unwrap_or("");
        assert!(line.contains("not measured"), "{s}");
        assert!(!line.contains("0.0"), "{s}");
    }

    #[test]
    fn an_absent_module_is_one_line_and_no_counters_none() {
        let app = app_after(&[snap(1_000, 0, 0, Some("nf_conntrack is not loaded"))]);
        assert!(screen(&app).contains("nf_conntrack is not loaded"));
        assert_eq!(height(&app), HEIGHT + 2);
        let bare = app_after(&[snapshot(vec![])]);
        assert!(!screen(&bare).contains("conntrack"));
        assert_eq!(height(&bare), HEIGHT);
    }
}
