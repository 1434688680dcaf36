//! Unit tests for [`App::apply`] and [`App::on_event`]: view switching, sorting,
//! drill-down and back, pause, interval bounds and filter editing.

use std::collections::BTreeMap;

use super::*;
use crate::analyze::aggregate::aggregate;
use crate::analyze::engine::Analysis;
use crate::analyze::finding::{Alert, AlertPhase, Finding, Severity, Subject};
use crate::model::fixtures::sock;
use crate::model::{Attribution, Owner, ProcessInfo, SampleQuality, SourceKind};
use crate::model::{RuleId, Snapshot, TcpState};

pub(crate) fn tick(at_ms: i64) -> TickData {
    let mut processes = BTreeMap::new();
    for (pid, comm) in [(42, "java"), (7, "nginx")] {
        processes.insert(
            pid,
            ProcessInfo {
                pid,
                comm: comm.into(),
                uid: 0,
                user: "root".into(),
                unit: None,
                container: None,
            },
        );
    }
    let snapshot = Snapshot {
        taken_at_ms: at_ms,
        source: SourceKind::Netlink,
        netns: "host".into(),
        protocols: Default::default(),
        udp: Vec::new(),
        unix: Vec::new(),
        sockets: vec![
            sock(
                TcpState::Listen,
                "0.0.0.0:80",
                "0.0.0.0:0",
                Owner::Process(7),
            ),
            sock(
                TcpState::CloseWait,
                "10.0.0.1:8080",
                "10.0.0.9:5000",
                Owner::Process(42),
            ),
            sock(
                TcpState::CloseWait,
                "10.0.0.1:8080",
                "10.0.0.9:5001",
                Owner::Process(42),
            ),
            sock(
                TcpState::Established,
                "10.0.0.1:80",
                "10.0.0.8:6000",
                Owner::Process(7),
            ),
            sock(
                TcpState::TimeWait,
                "10.0.0.1:40000",
                "10.0.0.2:443",
                Owner::Ownerless,
            ),
        ],
        processes,
        attribution: Attribution::default(),
        quality: SampleQuality::default(),
        counters: None,
        sysctls: None,
        collect_us: 0,
    };
    let finding = Finding {
        rule: RuleId::CloseWaitLeak,
        severity: Severity::Critical,
        subject: Subject::Process {
            pid: 42,
            comm: "java".into(),
            user: "root".into(),
            unit: None,
            container: None,
        },
        netns: "host".into(),
        count: 2,
        growth_per_min: Some(2.0),
        oldest_age_s: Some(60),
        threshold: 1.0,
        metrics: BTreeMap::new(),
        message: "java[42] holds 2 CLOSE_WAIT".into(),
        detail: "java never closes".into(),
    };
    let analysis = Analysis {
        aggregate: aggregate(&snapshot),
        alerts: vec![Alert {
            finding,
            phase: AlertPhase::Firing,
            since_ms: at_ms - 60_000,
            changed_ms: at_ms,
        }],
        findings: Vec::new(),
        rates: None,
        ages: Vec::new(),
        churn: None,
    };
    TickData {
        snapshot,
        analysis,
        tick_ms: 5,
    }
}

pub(crate) fn app() -> App {
    let mut a = App::new(&TuiOptions {
        host: "h".into(),
        interval_ms: 1000,
        color: false,
        lines: Default::default(),
        protocols: Default::default(),
    });
    a.on_tick(tick(1_000_000));
    a
}

#[test]
fn view_switching_wraps_both_ways() {
    let mut a = app();
    assert_eq!(a.view(), View::Overview);
    a.apply(Action::NextView);
    assert_eq!(a.view(), View::Processes);
    a.apply(Action::PrevView);
    a.apply(Action::PrevView);
    assert_eq!(a.view(), View::StateMachine);
    a.apply(Action::GoView(2));
    assert_eq!(a.view(), View::Listeners);
    a.apply(Action::GoView(9));
    assert_eq!(a.view(), View::Listeners);
}

#[test]
fn sort_cycles_columns_and_direction() {
    let mut a = app();
    a.apply(Action::GoView(1));
    let before = a.sort[0];
    a.apply(Action::SortNext);
    assert_eq!(
        a.sort[0].column,
        (before.column + 1) % columns::column_count(0)
    );
    a.apply(Action::SortReverse);
    assert_eq!(a.sort[0].descending, !before.descending);
    for _ in 0..columns::column_count(0) {
        a.apply(Action::SortNext);
    }
    assert_eq!(
        a.sort[0].column,
        (before.column + 1) % columns::column_count(0)
    );
    // Sorting by PID ascending puts nginx (7) first.
    a.sort[0] = SortState {
        column: 0,
        descending: false,
    };
    a.refresh();
    assert_eq!(a.rows.processes[0].pid, Some(7));
    // Overview has no sort: nothing changes, no panic.
    a.apply(Action::GoView(0));
    assert_eq!(a.apply(Action::SortNext), None);
}

#[test]
fn drill_down_and_back() {
    let mut a = app();
    a.apply(Action::DrillDown);
    assert_eq!(a.view(), View::Detail);
    assert!(matches!(
        a.detail(),
        Some(DetailTarget::Finding(RuleId::CloseWaitLeak, _))
    ));
    assert_eq!(a.rows.detail.len(), 2);
    a.apply(Action::Back);
    assert_eq!(a.view(), View::Overview);
    assert!(a.detail().is_none());

    a.apply(Action::GoView(5));
    a.apply(Action::Down);
    a.apply(Action::Down);
    a.apply(Action::DrillDown);
    // j moves along the picture (SYN_SENT, CLOSED, LISTEN on its top row), not the
    // kernel's numbering (ESTABLISHED, SYN_SENT, SYN_RECV).
    assert_eq!(a.detail(), Some(&DetailTarget::State(TcpState::Listen)));
    a.apply(Action::Back);
    assert_eq!(a.view(), View::StateMachine);
    a.apply(Action::Down);
    a.apply(Action::DrillDown);
    assert_eq!(
        a.detail(),
        Some(&DetailTarget::State(TcpState::Established))
    );
    a.apply(Action::Back);
}

#[test]
fn selection_is_clamped() {
    let mut a = app();
    a.apply(Action::GoView(1));
    // java, nginx and the (ownerless) TIME_WAIT row.
    assert_eq!(a.rows.processes.len(), 3);
    for _ in 0..5 {
        a.apply(Action::Down);
    }
    assert_eq!(a.selected(), 2);
    a.apply(Action::Top);
    assert_eq!(a.selected(), 0);
    a.apply(Action::Bottom);
    assert_eq!(a.selected(), 2);
    a.apply(Action::PageUp);
    assert_eq!(a.selected(), 0);
}

#[test]
fn pause_stops_ticks_and_tells_the_collector() {
    let mut a = app();
    assert_eq!(a.apply(Action::TogglePause), Some(Control::Pause(true)));
    a.on_tick(tick(2_000_000));
    assert_eq!(a.now_ms, 1_000_000);
    assert_eq!(a.apply(Action::TogglePause), Some(Control::Pause(false)));
    a.on_tick(tick(2_000_000));
    assert_eq!(a.now_ms, 2_000_000);
}

#[test]
fn interval_steps_within_bounds() {
    let mut a = app();
    assert_eq!(
        a.apply(Action::SlowerInterval),
        Some(Control::SetInterval(2000))
    );
    assert_eq!(
        a.apply(Action::FasterInterval),
        Some(Control::SetInterval(1000))
    );
    for _ in 0..20 {
        a.apply(Action::FasterInterval);
    }
    assert_eq!(a.interval_ms(), INTERVALS_MS[0]);
    assert_eq!(a.apply(Action::FasterInterval), None);
    for _ in 0..20 {
        a.apply(Action::SlowerInterval);
    }
    assert_eq!(a.interval_ms(), 60_000);
    assert_eq!(a.apply(Action::SlowerInterval), None);
}

#[test]
fn filter_editing() {
    let mut a = app();
    a.apply(Action::StartFilter);
    assert_eq!((a.view(), a.mode()), (View::Sockets, Mode::Filter));
    for c in "state:close-wait".chars() {
        a.apply(Action::FilterChar(c));
    }
    assert_eq!(a.rows.sockets.len(), 2);
    a.apply(Action::FilterCommit);
    assert_eq!((a.mode(), a.filter()), (Mode::Normal, "state:close-wait"));

    // A bad expression keeps the last good one and says why.
    a.apply(Action::StartFilter);
    a.apply(Action::FilterChar(' '));
    for c in "bogus:1".chars() {
        a.apply(Action::FilterChar(c));
    }
    assert!(a.filter_error.is_some());
    a.apply(Action::Back);
    assert_eq!(a.rows.sockets.len(), 2);
    assert_eq!((a.mode(), a.filter()), (Mode::Normal, "state:close-wait"));
    assert!(a.filter_error.is_none());

    // Typing past a valid prefix into an invalid port: the table keeps the committed
    // filter (not `sport:9999`), and Enter refuses to commit.
    a.apply(Action::StartFilter);
    for c in " sport:99999".chars() {
        a.apply(Action::FilterChar(c));
    }
    assert!(a.filter_error.is_some());
    assert_eq!(a.filter(), "state:close-wait");
    assert_eq!(a.rows.sockets.len(), 2);
    a.apply(Action::FilterCommit);
    assert_eq!(
        a.mode(),
        Mode::Filter,
        "Enter on an invalid filter stays in the prompt"
    );
    assert_eq!(a.filter(), "state:close-wait");
    a.apply(Action::Back);
    assert_eq!(a.rows.sockets.len(), 2);
    assert_eq!((a.mode(), a.filter()), (Mode::Normal, "state:close-wait"));
    assert!(a.filter_error.is_none());

    a.apply(Action::StartFilter);
    for _ in 0..40 {
        a.apply(Action::FilterBackspace);
    }
    for c in "process:java".chars() {
        a.apply(Action::FilterChar(c));
    }
    a.apply(Action::FilterCommit);
    assert_eq!(a.rows.sockets.len(), 2);
    // Esc in the Sockets view clears the filter.
    a.apply(Action::Back);
    assert_eq!(a.filter(), "");
    assert_eq!(a.rows.sockets.len(), 5);
}

#[test]
fn help_explain_and_quit() {
    let mut a = app();
    a.apply(Action::ToggleHelp);
    assert_eq!(a.mode(), Mode::Help);
    a.apply(Action::ToggleHelp);
    assert_eq!(a.mode(), Mode::Normal);
    a.apply(Action::Explain);
    assert_eq!(a.mode(), Mode::Explain);
    let e = a.explanation().unwrap();
    // The title is the rule only (never cut); the message opens the body.
    assert_eq!(e.title, "close_wait_leak");
    assert!(
        e.text
            .starts_with("java[42] holds 2 CLOSE_WAIT\n\njava never closes"),
        "{}",
        e.text
    );
    assert!(e.text.contains("close_wait_leak"), "{}", e.text);
    a.apply(Action::Back);
    assert_eq!(a.mode(), Mode::Normal);
    a.apply(Action::GoView(5));
    a.apply(Action::Explain);
    assert!(a.explanation().unwrap().title.contains("SYN_SENT"));
    assert_eq!(a.apply(Action::Quit), Some(Control::Shutdown));
    assert!(a.should_quit());
}

#[test]
fn signals_and_lost_tty_quit() {
    let mut a = app();
    assert_eq!(a.on_event(Event::Terminate(15)), Some(Control::Shutdown));
    assert!(a.should_quit());
    let mut a = app();
    a.on_event(Event::InputLost("EIO".into()));
    assert!(a.should_quit());
    let mut a = app();
    a.on_event(Event::CollectError("netlink: EPERM".into()));
    assert_eq!(a.collect_error.as_deref(), Some("netlink: EPERM"));
    a.on_tick(tick(1_001_000));
    assert!(a.collect_error.is_none());
}

#[test]
fn a_sort_goes_to_the_top_and_ticks_keep_the_selected_row() {
    let mut a = app();
    a.apply(Action::GoView(1));
    // Default sort is TOTAL descending: java (2 sockets) then nginx (2): select nginx.
    a.apply(Action::Down);
    let pid = |a: &App| a.rows.processes[a.selected()].pid;
    assert_eq!(a.selected(), 1);
    let chosen = pid(&a);
    a.on_tick(tick(1_001_000));
    assert_eq!(pid(&a), chosen, "a new tick keeps the selected row");
    // A new order starts at its top (the table title says where the selection is).
    a.apply(Action::SortReverse);
    assert_eq!(a.selected(), 0);
    a.apply(Action::SortNext);
    assert_eq!(a.selected(), 0);
}

#[test]
fn only_the_shown_view_has_rows_and_selections_survive_switching() {
    let mut a = app();
    assert!(a.rows.sockets.is_empty() && a.rows.processes.is_empty());
    a.apply(Action::GoView(4));
    assert_eq!(a.rows.sockets.len(), 5);
    assert!(a.rows.processes.is_empty(), "hidden views are not computed");
    a.apply(Action::Down);
    a.apply(Action::Down);
    let key = a.key_at(View::Sockets, a.selected());
    a.apply(Action::GoView(1));
    assert!(a.rows.sockets.is_empty());
    assert!(!a.rows.processes.is_empty());
    a.on_tick(tick(1_001_000));
    a.apply(Action::GoView(4));
    assert_eq!(a.key_at(View::Sockets, a.selected()), key);
}

#[test]
fn enter_on_a_socket_shows_that_socket_among_its_owners() {
    let mut a = app();
    a.apply(Action::StartFilter);
    for c in "state:established".chars() {
        a.apply(Action::FilterChar(c));
    }
    a.apply(Action::FilterCommit);
    assert_eq!(a.rows.sockets.len(), 1);
    let chosen = a.key_at(View::Sockets, 0);
    a.apply(Action::DrillDown);
    assert_eq!(a.view(), View::Detail);
    assert!(matches!(a.detail(), Some(DetailTarget::Socket(_, Some(7)))));
    // nginx's two sockets, the chosen one selected; the filter is kept for going back.
    assert_eq!(a.rows.detail.len(), 2);
    assert_eq!(a.key_at(View::Detail, a.selected()), chosen);
    a.apply(Action::Back);
    assert_eq!((a.view(), a.filter()), (View::Sockets, "state:established"));
}

#[test]
fn the_detail_explanation_scrolls() {
    let mut a = app();
    a.apply(Action::InfoDown);
    assert_eq!(a.info_scroll, 0, "only in Detail");
    a.apply(Action::DrillDown);
    a.apply(Action::InfoDown);
    a.apply(Action::InfoDown);
    a.apply(Action::InfoUp);
    assert_eq!(a.info_scroll, INFO_STEP);
    a.apply(Action::Back);
    a.apply(Action::DrillDown);
    assert_eq!(a.info_scroll, 0, "a new drill-down starts at the top");
}
