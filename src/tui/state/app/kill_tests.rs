//! Unit tests of `K` on [`App`]: what each selection plans, the confirmation and its
//! refusals (greyed, read-only, UNIX, over the cap), the request handed over once, and the
//! answer shown in the footer.

use crate::analyze::finding::Subject;
use crate::model::fixtures::sock;
use crate::model::{Endpoint, Owner, Protocol, RuleId, TcpState};
use crate::tui::state::app::tests::tick;
use crate::tui::state::app::{App, TuiOptions};
use crate::tui::state::event::{Event, TickData};
use crate::tui::state::keys::{Action, Mode, View};
use crate::tui::state::kill::{KillDone, KillGate};

/// The shared fixture with cookies (1..) on every socket.
fn cookied() -> TickData {
    let mut t = tick(1_000_000);
    for (i, s) in t.snapshot.sockets.iter_mut().enumerate() {
        s.cookie = Some(i as u64 + 1);
    }
    t
}

fn app(gate: KillGate) -> App {
    let mut a = App::new(&TuiOptions::new("h", 1000));
    a.set_kill_gate(gate);
    a.on_tick(cookied());
    a
}

fn planned(a: &App) -> Vec<(TcpState, u64)> {
    a.kill_plan()
        .map(|p| {
            p.targets
                .iter()
                .map(|t| (t.socket.state, t.socket.cookie.unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_finding_plans_its_subjects_sockets_and_y_hands_them_over_once() {
    let mut a = app(KillGate::Ready);
    a.apply(Action::Kill);
    assert_eq!(a.mode(), Mode::Confirm);
    assert_eq!(
        planned(&a),
        [(TcpState::CloseWait, 2), (TcpState::CloseWait, 3)]
    );
    assert!(a.take_kill_request().is_none(), "nothing before y");
    a.apply(Action::ConfirmKill);
    assert_eq!(a.mode(), Mode::Normal);
    let req = a.take_kill_request().expect("a request");
    assert_eq!(req.targets.len(), 2);
    assert!(a.take_kill_request().is_none(), "handed over once");
    assert_eq!(a.status(), Some("K: killing 2 sockets…"));
    // A second K while it runs is refused.
    a.apply(Action::Kill);
    assert_eq!(a.mode(), Mode::Normal);
    assert_eq!(a.status(), Some("K: the last kill is still running"));
    a.on_event(Event::Killed(Box::new(KillDone {
        targeted: 2,
        killed: 2,
        remaining: Some(0),
        ..KillDone::default()
    })));
    assert_eq!(
        a.status(),
        Some("K: killed 2 of 2 · already gone 0 · remaining 0")
    );
}

#[test]
fn any_other_key_cancels_and_touches_nothing() {
    let mut a = app(KillGate::Ready);
    a.apply(Action::Kill);
    a.apply(Action::CancelKill);
    assert_eq!(a.mode(), Mode::Normal);
    assert!(a.kill_plan().is_none());
    assert!(a.take_kill_request().is_none());
    assert_eq!(a.status(), Some("K: cancelled; nothing was touched"));
}

#[test]
fn a_process_row_spares_its_listener_and_a_selected_listener_is_killable() {
    let mut a = app(KillGate::Ready);
    a.apply(Action::GoView(1));
    // Rows: java (2 CLOSE_WAIT) then nginx (LISTEN + ESTABLISHED), in some order.
    let nginx = (0..2)
        .find(|&i| a.rows.processes.get(i).and_then(|r| r.pid) == Some(7))
        .expect("nginx row");
    a.selected[1] = nginx;
    a.apply(Action::Kill);
    assert_eq!(planned(&a), [(TcpState::Established, 4)]);
    assert_eq!(a.kill_plan().map(|p| p.listeners_skipped), Some(1));
    a.apply(Action::CancelKill);
    // The Sockets view: the LISTEN row selected by itself is planned.
    a.apply(Action::GoView(4));
    let listen = (0..5)
        .find(|&i| {
            a.rows
                .sockets
                .get(i)
                .is_some_and(|&k| a.data().unwrap().0.sockets[k].state == TcpState::Listen)
        })
        .expect("listener row");
    a.selected[4] = listen;
    a.apply(Action::Kill);
    assert_eq!(planned(&a), [(TcpState::Listen, 1)]);
}

#[test]
fn greyed_read_only_unix_and_other_views_say_why() {
    let mut a = app(KillGate::Greyed("needs CAP_NET_ADMIN".into()));
    a.apply(Action::Kill);
    assert_eq!(a.mode(), Mode::Confirm, "greyed still shows the plan");
    a.apply(Action::ConfirmKill);
    assert!(a.take_kill_request().is_none());
    assert_eq!(a.status(), Some("K: nothing killed: needs CAP_NET_ADMIN"));

    let mut a = app(KillGate::ReadOnly);
    a.apply(Action::Kill);
    assert_eq!(a.mode(), Mode::Normal);
    assert!(a.kill_plan().is_none());
    assert_eq!(
        a.status(),
        Some("K is off: this dashboard runs --read-only")
    );

    let mut a = app(KillGate::Ready);
    a.proto = Protocol::Unix;
    a.apply(Action::Kill);
    assert!(a
        .status()
        .is_some_and(|s| s.contains("UNIX sockets cannot be killed")));

    let mut a = app(KillGate::Ready);
    a.apply(Action::GoView(2));
    a.apply(Action::Kill);
    assert_eq!(a.view(), View::Listeners);
    assert!(a.status().is_some_and(|s| s.contains("open the row")));
}

#[test]
fn a_drill_down_plans_its_list() {
    let mut a = app(KillGate::Ready);
    a.apply(Action::GoView(3));
    a.apply(Action::DrillDown);
    assert_eq!(a.view(), View::Detail);
    a.apply(Action::Kill);
    let p = a.kill_plan().expect("plan");
    assert!(p.what.contains("remote drill-down"), "{}", p.what);
    assert!(!p.targets.is_empty());
    assert!(p.targets.iter().all(|t| t.socket.state != TcpState::Listen));
}

/// The shared fixture with one finding about `rule` and `subject` instead of the leak, and
/// a live ESTABLISHED connection (cookie 6) beside the TIME_WAIT one (cookie 5) on the
/// route 10.0.0.1 → 10.0.0.2:443.
fn with_finding(rule: RuleId, subject: Subject) -> App {
    let mut t = tick(1_000_000);
    t.snapshot.sockets.push(sock(
        TcpState::Established,
        "10.0.0.1:40001",
        "10.0.0.2:443",
        Owner::Process(42),
    ));
    for (i, s) in t.snapshot.sockets.iter_mut().enumerate() {
        s.cookie = Some(i as u64 + 1);
    }
    let f = &mut t.analysis.alerts[0].finding;
    f.rule = rule;
    f.subject = subject;
    f.message = format!("{} fired", rule.as_str());
    let mut a = App::new(&TuiOptions::new("h", 1000));
    a.set_kill_gate(KillGate::Ready);
    a.on_tick(t);
    a
}

fn route() -> Subject {
    Subject::Route {
        source: "10.0.0.1".parse().expect("ip"),
        remote: Endpoint::new("10.0.0.2".parse().expect("ip"), 443),
    }
}

#[test]
fn port_exhaustion_kills_its_routes_time_wait_and_spares_live_connections() {
    let mut a = with_finding(RuleId::PortExhaustion, route());
    a.apply(Action::Kill);
    assert_eq!(a.mode(), Mode::Confirm);
    assert_eq!(planned(&a), [(TcpState::TimeWait, 5)]);
    let what = &a.kill_plan().expect("plan").what;
    assert!(what.contains("TIME_WAIT sockets only"), "{what}");
    a.apply(Action::CancelKill);
    // K in its drill-down, which lists both, obeys the same limit.
    a.apply(Action::DrillDown);
    assert_eq!(a.view(), View::Detail);
    assert_eq!(
        a.rows.detail.len(),
        2,
        "the drill-down shows the whole route"
    );
    a.apply(Action::Kill);
    assert_eq!(planned(&a), [(TcpState::TimeWait, 5)]);
    let what = &a.kill_plan().expect("plan").what;
    assert!(what.contains("TIME_WAIT sockets only"), "{what}");
}

#[test]
fn conntrack_full_and_host_wide_findings_refuse_k() {
    for rule in [RuleId::ConntrackFull, RuleId::Orphans] {
        let mut a = with_finding(rule, Subject::Host);
        a.apply(Action::Kill);
        assert_eq!(a.mode(), Mode::Normal, "{rule:?}");
        assert!(a.kill_plan().is_none(), "{rule:?}");
        let why = a.status().unwrap_or_default().to_string();
        let expect = match rule {
            RuleId::ConntrackFull => "kernel table",
            _ => "whole host",
        };
        assert!(why.contains(expect), "{rule:?}: {why}");
    }
    // The orphans drill-down lists every socket; K there refuses as on the finding.
    let mut a = with_finding(RuleId::Orphans, Subject::Host);
    a.apply(Action::DrillDown);
    assert_eq!(a.view(), View::Detail);
    a.apply(Action::Kill);
    assert!(a.kill_plan().is_none());
    assert!(a.status().is_some_and(|s| s.contains("whole host")));
}

#[test]
fn a_host_wide_time_wait_storm_still_kills_only_time_wait() {
    let mut a = with_finding(RuleId::TimeWaitStorm, Subject::Host);
    a.apply(Action::Kill);
    assert_eq!(planned(&a), [(TcpState::TimeWait, 5)]);
}
