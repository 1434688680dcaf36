//! Unit tests of the seams between [`App`] and findings that are not about one process
//! or socket list: a service's close_wait_leak (its pids change between ticks, its identity
//! does not) and conntrack_full (about a kernel table, no sockets).

use std::net::IpAddr;

use crate::analyze::finding::{Alert, AlertPhase, Severity, Subject};
use crate::model::fixtures::sock;
use crate::model::{Owner, ProcessInfo, RuleId, TcpState, Unit};
use crate::tui::state::app::tests::tick;
use crate::tui::state::app::{App, TuiOptions};
use crate::tui::state::event::TickData;
use crate::tui::state::keys::{Action, Mode, View};
use crate::tui::state::rows::RowKey;
use crate::tui::state::target::DetailTarget;

fn service(pids: Vec<u32>) -> Subject {
    Subject::Service {
        unit: Some(Unit {
            name: "php-fpm.service".into(),
            user: None,
        }),
        container: None,
        pids,
        comm: "php-fpm".into(),
    }
}

/// Two alerts: a big time_wait_storm, then php-fpm.service's leak over `pids`. With a
/// third pid (43, which then holds a CLOSE_WAIT socket to the same peer) the leak turns
/// critical and outgrows the storm, so it sorts first.
fn service_tick(at_ms: i64, pids: Vec<u32>) -> TickData {
    let mut t = tick(at_ms);
    let grown = pids.contains(&43);
    if grown {
        t.snapshot.processes.insert(
            43,
            ProcessInfo {
                pid: 43,
                comm: "php-fpm".into(),
                uid: 0,
                user: "root".into(),
                unit: None,
                container: None,
            },
        );
        t.snapshot.sockets.push(sock(
            TcpState::CloseWait,
            "10.0.0.1:8080",
            "10.0.0.9:5002",
            Owner::Process(43),
        ));
    }
    let leak = &mut t.analysis.alerts[0];
    leak.finding.subject = service(pids.clone());
    leak.finding.severity = if grown {
        Severity::Critical
    } else {
        Severity::Warning
    };
    leak.finding.count = if grown { 300 } else { 2 };
    leak.finding.message = format!("php-fpm.service (pids {pids:?}) holds CLOSE_WAIT");
    let mut storm = t.analysis.alerts[0].clone();
    storm.finding.rule = RuleId::TimeWaitStorm;
    storm.finding.severity = Severity::Critical;
    storm.finding.count = 100;
    storm.finding.subject = Subject::Destination {
        remote: crate::model::Endpoint::new("10.0.0.2".parse().expect("ip"), 443),
    };
    storm.finding.message = "TIME_WAIT storm to 10.0.0.2:443".into();
    t.analysis.alerts.insert(0, storm);
    t.analysis.aggregate = crate::analyze::aggregate::aggregate(&t.snapshot);
    t
}

fn app() -> App {
    let mut a = App::new(&TuiOptions::new("h", 1000));
    a.on_tick(service_tick(1_000_000, vec![42]));
    a
}

fn selected_alert(a: &App) -> Option<RuleId> {
    match a.key_at(View::Overview, a.selected())? {
        RowKey::Alert(rule, _) => Some(rule),
        _ => None,
    }
}

#[test]
fn the_selected_service_alert_stays_selected_when_its_pids_change() {
    let mut a = app();
    a.apply(Action::Down);
    assert_eq!(selected_alert(&a), Some(RuleId::CloseWaitLeak));
    assert_eq!(a.selected(), 1);
    a.on_tick(service_tick(1_001_000, vec![42, 43]));
    // The leak now sorts first: the selection moved with it.
    assert_eq!(a.selected(), 0);
    assert_eq!(selected_alert(&a), Some(RuleId::CloseWaitLeak));
}

#[test]
fn a_service_finding_drill_down_lists_its_current_pids_sockets() {
    let mut a = app();
    a.apply(Action::Down);
    a.apply(Action::DrillDown);
    assert_eq!(a.view(), View::Detail);
    assert_eq!(a.rows.detail.len(), 2, "pid 42's two CLOSE_WAIT");
    a.on_tick(service_tick(1_001_000, vec![42, 43]));
    assert_eq!(a.view(), View::Detail);
    assert_eq!(
        a.rows.detail.len(),
        3,
        "the new pid's CLOSE_WAIT joins the list"
    );
    let d = a.detail().cloned().expect("a drill-down");
    let alert = a.alert_about(&d).expect("the finding is still there");
    assert_eq!(alert.finding.subject, service(vec![42, 43]));
    // Its explanation follows the alert too.
    a.apply(Action::Explain);
    assert_eq!(a.mode(), Mode::Explain);
    let e = a.explanation().expect("an explanation");
    assert!(e.text.contains("[42, 43]"), "{}", e.text);
}

#[test]
fn the_explain_popup_on_a_service_finding_survives_a_new_pid() {
    let mut a = app();
    a.apply(Action::Down);
    a.apply(Action::Explain);
    assert_eq!(a.mode(), Mode::Explain);
    a.on_tick(service_tick(1_001_000, vec![42, 43]));
    let e = a.explanation().expect("still explained");
    assert!(e.text.contains("[42, 43]"), "{}", e.text);
}

#[test]
fn a_process_of_the_service_shows_the_services_leak() {
    let mut a = app();
    a.on_tick(service_tick(1_001_000, vec![42, 43]));
    for pid in [42, 43] {
        let alert = a.alert_about(&DetailTarget::Process(pid));
        assert_eq!(
            alert.map(|a| a.finding.rule),
            Some(RuleId::CloseWaitLeak),
            "pid {pid}"
        );
    }
    assert!(a.alert_about(&DetailTarget::Process(7)).is_none());
    // Through the Processes view: Enter on pid 43 and `e` explain the leak.
    a.apply(Action::GoView(1));
    let row = (0..a.rows.processes.len())
        .find(|&i| a.rows.processes[i].pid == Some(43))
        .expect("pid 43's row");
    a.selected[1] = row;
    a.apply(Action::DrillDown);
    assert_eq!(a.detail(), Some(&DetailTarget::Process(43)));
    a.apply(Action::Explain);
    let e = a.explanation().expect("an explanation");
    assert_eq!(e.title, "close_wait_leak");
}

#[test]
fn the_leaks_peer_opens_on_the_services_leak() {
    let a = app();
    let peer: IpAddr = "10.0.0.9".parse().expect("ip");
    let alert = a.alert_about(&DetailTarget::Remote(peer));
    assert_eq!(alert.map(|a| a.finding.rule), Some(RuleId::CloseWaitLeak));
}

/// The shared fixture with a conntrack_full finding about the host as its only alert.
fn conntrack_tick() -> TickData {
    let mut t = tick(1_000_000);
    let f = &mut t.analysis.alerts[0].finding;
    f.rule = RuleId::ConntrackFull;
    f.subject = Subject::Host;
    f.message = "conntrack table 99% full".into();
    t.analysis.alerts[0].phase = AlertPhase::Firing;
    t
}

#[test]
fn enter_on_conntrack_full_explains_it_instead_of_listing_every_tcp_socket() {
    let mut a = App::new(&TuiOptions::new("h", 1000));
    a.on_tick(conntrack_tick());
    let proto = a.protocol();
    a.apply(Action::DrillDown);
    assert_eq!(a.view(), View::Overview, "no socket list opens");
    assert_eq!(a.protocol(), proto);
    assert_eq!(a.mode(), Mode::Explain);
    let e = a.explanation().expect("an explanation");
    assert_eq!(e.title, "conntrack_full");
    assert!(e.text.contains("conntrack table 99% full"), "{}", e.text);
    // Even as a stored drill-down it lists no sockets.
    let t = DetailTarget::Finding(RuleId::ConntrackFull, Subject::Host);
    let snap = &a.data().expect("data").0;
    assert!(snap
        .sockets
        .iter()
        .all(|s| !crate::tui::state::target::in_detail(&t, s)));
    let _: Option<&Alert> = a.alert_about(&t);
}
