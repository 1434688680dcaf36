//! The Overview's layout at 80×24, 120×40 and 200×60: every panel sized to what it holds
//! (none mostly empty, the alerts whole), the trends as charts with a time axis, and `w`
//! switching their window.

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sockscope::tui::Action;

use super::screen::{boxes, mostly_empty};
use super::{app, render};

/// The screen's text, one string per row.
fn rows_of(term: &Terminal<TestBackend>) -> Vec<String> {
    let buf = term.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

/// The Overview at 80×24, 120×40 and 200×60: no panel is mostly empty, the alerts take the
/// lines they need (every alert listed, the selected one's message whole where there is
/// room), and the trends are charts with a labelled time axis.
#[test]
fn overview_panels_are_sized_to_their_content() {
    let app = app();
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        let rows = rows_of(&render(&app, w, h));
        let screen = rows.join("\n");
        let found = boxes(&rows);
        assert!(found.len() >= 4, "{w}x{h}: boxes {found:?}");
        let empty = mostly_empty(&found);
        assert!(empty.is_empty(), "{w}x{h}: {empty:?}\n{screen}");
        let alerts = found
            .iter()
            .find(|(_, t, _)| t.starts_with("alerts"))
            .expect("alerts panel");
        for needle in ["CLOSE_WAIT leak", "SYN flood", "TIME_WAIT storm"] {
            assert!(
                alerts.2.iter().any(|l| l.contains(needle)),
                "{w}x{h}: alert {needle:?} not listed\n{screen}"
            );
        }
        for label in ["-10m", "-5m", "now"] {
            assert!(
                screen.contains(label),
                "{w}x{h}: time axis {label:?}\n{screen}"
            );
        }
        if w >= 120 {
            assert!(
                alerts.2.iter().all(|l| !l.trim().is_empty()),
                "{w}x{h}: the alerts panel has blank lines\n{screen}"
            );
            assert!(
                screen.contains("▸ java[4242] holds 39 CLOSE_WAIT sockets, +60/min, oldest 15m"),
                "{w}x{h}: the selected alert is not readable in full\n{screen}"
            );
        }
    }
}

/// `w` cycles the charts' window, and the time axis follows.
#[test]
fn the_trend_window_cycles() {
    let mut app = app();
    for (want, start) in [("1h", "-1h"), ("1m", "-1m"), ("10m", "-10m")] {
        app.apply(Action::CycleTrendWindow);
        let screen = rows_of(&render(&app, 120, 40)).join("\n");
        assert!(screen.contains(&format!("trends, last {want}")), "{screen}");
        assert!(screen.contains(start), "{screen}");
    }
}
