//! The Processes view grouped by systemd unit and by container (`o`), over the fixture with
//! its processes placed in units and containers: java in `payments.service`, nginx in a
//! docker container `web` (its scope unit `docker-….scope`), postgres in `postgresql.service`,
//! sshd in no unit. The rows are `summary --by unit|container`'s; Enter on one lists its
//! sockets; a third `o` is back to processes.

use sockscope::analyze::ages::SocketAges;
use sockscope::analyze::aggregate::aggregate;
use sockscope::analyze::engine::Analysis;
use sockscope::model::*;
use sockscope::tui::{Action, App, Event, TickData, TuiOptions, View};

use super::{alerts, render, snap_sizes, snapshot};

const WEB_ID: &str = "5f2c0a1b9d8e7f60112233445566778899aabbccddeeff001122334455667788";

fn placed(k: u64) -> Snapshot {
    let mut s = snapshot(k);
    let unit = |name: &str| {
        Some(Unit {
            name: name.into(),
            user: None,
        })
    };
    for (pid, p) in s.processes.iter_mut() {
        match pid {
            4242 => p.unit = unit("payments.service"),
            812 => {
                p.unit = unit(&format!("docker-{WEB_ID}.scope"));
                p.container = Some(Container {
                    runtime: Runtime::Docker,
                    id: WEB_ID.into(),
                    name: Some("web".into()),
                    pod_uid: None,
                    qos: None,
                });
            }
            1337 => p.unit = unit("postgresql.service"),
            _ => {}
        }
    }
    s
}

/// Ten ticks of the placed fixture, one second apart, then `actions`.
fn grouped(actions: &[Action]) -> App {
    let mut app = App::new(&TuiOptions {
        host: "web-1".into(),
        interval_ms: 1000,
        color: true,
        lines: Default::default(),
        protocols: Default::default(),
    });
    let mut ages = SocketAges::new();
    for k in 0..10 {
        let snapshot = placed(k);
        let cw = snapshot.state_counts().get(TcpState::CloseWait);
        let analysis = Analysis {
            aggregate: aggregate(&snapshot),
            alerts: alerts(snapshot.taken_at_ms, cw),
            findings: Vec::new(),
            rates: None,
            ages: ages.observe(&snapshot),
            churn: None,
        };
        app.on_event(Event::Tick(Box::new(TickData {
            snapshot,
            analysis,
            tick_ms: 14,
        })));
    }
    for &a in actions {
        app.apply(a);
    }
    app
}

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

#[test]
fn processes_by_unit() {
    let a = grouped(&[Action::GoView(1), Action::CycleGrouping]);
    let text = format!("{}", render(&a, 160, 48).backend());
    // java's 39 CLOSE_WAIT + 8 ESTABLISHED + 5 FIN_WAIT2 + 1 SYN_SENT + its listener = 54.
    assert!(text.contains(" units (3) · "), "{text}");
    assert!(text.contains("payments.service"), "{text}");
    assert!(text.contains("(no unit)"), "{text}");
    assert!(text.contains("(no process)"), "{text}");
    snap_sizes("processes_by_unit", &a, &SIZES);
}

#[test]
fn processes_by_container() {
    let a = grouped(&[
        Action::GoView(1),
        Action::CycleGrouping,
        Action::CycleGrouping,
    ]);
    let text = format!("{}", render(&a, 160, 48).backend());
    assert!(text.contains(" containers (1) · "), "{text}");
    assert!(text.contains("docker:web"), "{text}");
    snap_sizes("processes_by_container", &a, &SIZES);
}

#[test]
fn enter_on_a_unit_lists_its_sockets_and_o_comes_back_to_processes() {
    let mut a = grouped(&[Action::GoView(1), Action::CycleGrouping, Action::DrillDown]);
    // The biggest unit sorts first (sockets, descending).
    assert_eq!(a.view(), View::Sockets);
    assert_eq!(a.filter(), "unit:payments.service@system");
    let text = format!("{}", render(&a, 160, 48).backend());
    assert!(text.contains("sockets (54 of 158)"), "{text}");
    a.apply(Action::Back);
    a.apply(Action::GoView(1));
    a.apply(Action::CycleGrouping);
    let text = format!("{}", render(&a, 160, 48).backend());
    assert!(text.contains(" containers (1)"), "{text}");
    a.apply(Action::CycleGrouping);
    let text = format!("{}", render(&a, 160, 48).backend());
    assert!(text.contains(" processes ("), "{text}");
}
