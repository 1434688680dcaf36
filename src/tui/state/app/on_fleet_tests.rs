//! Unit tests for the `--all-netns` switcher: parking and unparking namespaces, `n`/`N`,
//! Enter on another namespace's alert, vanished namespaces and failures.

use super::*;
use crate::model::TcpState;
use crate::tui::state::app::tests::tick;
use crate::tui::state::app::TuiOptions;
use crate::tui::state::event::{Event, NetnsFailure, TickData};
use crate::tui::state::history::TrendWindow;
use crate::tui::state::keys::Action;

/// A tick of namespace `ns`; only `leaky` ones keep the fixture's firing alert.
fn ns_tick(ns: &str, at_ms: i64, leaky: bool) -> TickData {
    let mut t = tick(at_ms);
    t.snapshot.netns = ns.into();
    if !leaky {
        t.analysis.alerts.clear();
    }
    t
}

fn fleet_tick(at_ms: i64, names: &[&str], failures: usize) -> Event {
    Event::Fleet(Box::new(FleetTick {
        ticks: names
            .iter()
            .map(|n| ns_tick(n, at_ms, *n == "web-2"))
            .collect(),
        failures: (0..failures)
            .map(|i| NetnsFailure {
                netns: format!("bad-{i}"),
                reason: "permission denied".into(),
            })
            .collect(),
    }))
}

fn app() -> App {
    let mut a = App::new(&TuiOptions {
        host: "h".into(),
        interval_ms: 1000,
        color: false,
        lines: Default::default(),
        protocols: Default::default(),
    });
    a.on_event(fleet_tick(1_000_000, &["host", "web-1", "web-2"], 1));
    a
}

fn shown(a: &App) -> (&str, Option<(usize, usize)>) {
    let f = a.fleet().unwrap();
    (a.active_netns().unwrap(), f.position())
}

#[test]
fn the_first_namespace_is_shown_and_the_others_parked() {
    let a = app();
    assert_eq!(shown(&a), ("host", Some((0, 3))));
    assert_eq!(a.data().unwrap().0.netns, "host");
    let f = a.fleet().unwrap();
    assert_eq!(f.parked.len(), 2);
    assert_eq!(f.failures()[0].netns, "bad-0");
    let s = a.netns_summaries();
    assert_eq!(
        s.iter()
            .map(|s| (s.name.as_str(), s.firing))
            .collect::<Vec<_>>(),
        [("host", 0), ("web-1", 0), ("web-2", 1)]
    );
    assert!(s[0].active && !s[1].active);
}

#[test]
fn n_and_shift_n_step_through_namespaces_and_wrap() {
    let mut a = app();
    a.apply(Action::NextNetns);
    assert_eq!(shown(&a), ("web-1", Some((1, 3))));
    assert_eq!(a.data().unwrap().0.netns, "web-1");
    a.apply(Action::NextNetns);
    a.apply(Action::NextNetns);
    assert_eq!(shown(&a).0, "host");
    a.apply(Action::PrevNetns);
    assert_eq!(shown(&a).0, "web-2");
    assert_eq!(a.fleet().unwrap().parked.len(), 2);
}

#[test]
fn switch_keys_do_nothing_without_several_namespaces() {
    let mut single = App::new(&TuiOptions {
        host: "h".into(),
        interval_ms: 1000,
        color: false,
        lines: Default::default(),
        protocols: Default::default(),
    });
    single.on_tick(tick(1));
    single.apply(Action::NextNetns);
    assert!(single.fleet().is_none());
    assert_eq!(single.data().unwrap().0.netns, "host");
    let mut one = App::new(&TuiOptions {
        host: "h".into(),
        interval_ms: 1000,
        color: false,
        lines: Default::default(),
        protocols: Default::default(),
    });
    one.on_event(fleet_tick(1, &["host"], 0));
    one.apply(Action::NextNetns);
    assert_eq!(shown(&one), ("host", Some((0, 1))));
}

#[test]
fn each_namespace_keeps_its_own_history() {
    let mut a = app();
    for k in 1..5 {
        a.on_event(fleet_tick(
            1_000_000 + k * 1000,
            &["host", "web-1", "web-2"],
            0,
        ));
    }
    assert_eq!(a.history.len(), 5);
    a.apply(Action::NextNetns);
    assert_eq!(a.history.len(), 5, "web-1 was observed while parked");
    assert_eq!(a.fleet().unwrap().failures().len(), 0);
    // A namespace that appears later starts its own history.
    a.on_event(fleet_tick(1_010_000, &["host", "web-1", "web-2", "new"], 0));
    a.apply(Action::PrevNetns);
    a.apply(Action::PrevNetns);
    assert_eq!(shown(&a).0, "new");
    assert_eq!(a.history.len(), 1);
    let drawn = a
        .history
        .window(TcpState::CloseWait, TrendWindow::OneMinute, a.now_ms);
    assert_eq!(drawn.points.len(), 1);
}

#[test]
fn other_namespaces_alerts_follow_and_enter_switches_to_them() {
    let mut a = app();
    // host has no alert; web-2's firing alert is the Overview's first row.
    assert_eq!(a.rows.alerts.len(), 0);
    let others = a.other_alerts();
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].0, "web-2");
    assert_eq!(a.row_count(View::Overview), 1);
    a.apply(Action::DrillDown);
    assert_eq!(shown(&a).0, "web-2");
    assert_eq!(
        a.view(),
        View::Overview,
        "the switch does not drill down yet"
    );
    assert_eq!(a.rows.alerts.len(), 1);
    assert_eq!(a.selected(), 0, "the alert is selected in its namespace");
    // Enter again drills into it as usual.
    a.apply(Action::DrillDown);
    assert_eq!(a.view(), View::Detail);
    // Switching away closes the drill-down: it belongs to web-2.
    a.apply(Action::NextNetns);
    assert_eq!(shown(&a).0, "host");
    assert_eq!(a.view(), View::Overview);
    assert!(a.detail().is_none());
}

#[test]
fn a_vanished_namespace_is_dropped_and_the_shown_one_falls_back() {
    let mut a = app();
    a.apply(Action::NextNetns);
    a.on_event(fleet_tick(1_001_000, &["host", "web-2"], 0));
    assert_eq!(shown(&a), ("host", Some((0, 2))));
    assert_eq!(a.fleet().unwrap().parked.len(), 1);
    assert!(!a.fleet().unwrap().parked.contains_key("web-1"));
}

#[test]
fn paused_fleet_ticks_are_ignored_but_switching_works() {
    let mut a = app();
    a.apply(Action::TogglePause);
    a.on_event(fleet_tick(1_005_000, &["host", "web-1", "web-2"], 0));
    assert_eq!(a.history.len(), 1);
    assert_eq!(a.fleet().unwrap().failures().len(), 1);
    a.apply(Action::NextNetns);
    assert_eq!(a.data().unwrap().0.netns, "web-1");
}
