//! `--all-netns` snapshots: three namespaces fed as the collector thread sends them
//! ([`Event::Fleet`]), ten ticks one second apart. `app-a` holds the fixture's CLOSE_WAIT
//! leak and its alerts; `host` and `db` have the same sockets without the CLOSE_WAIT and no
//! alerts. The Overview shows `host` first: the strip and the alerts panel must still name
//! `app-a` as the namespace in trouble.

use sockscope::analyze::aggregate::aggregate;
use sockscope::analyze::engine::Analysis;
use sockscope::model::TcpState;
use sockscope::tui::{Action, App, Event, FleetTick, NetnsFailure, TickData, TuiOptions};

use super::{render, snap_both, snapshot, tick};

/// Tick `k` of namespace `ns`: the fixture itself for `app-a`, a quiet copy elsewhere.
fn ns_tick(ns: &str, k: u64) -> TickData {
    if ns == "app-a" {
        let Event::Tick(t) = tick(k) else {
            unreachable!("tick() builds an Event::Tick")
        };
        let mut t = *t;
        t.snapshot.netns = ns.into();
        return t;
    }
    let mut snapshot = snapshot(k);
    snapshot.netns = ns.into();
    snapshot.sockets.retain(|s| s.state != TcpState::CloseWait);
    let analysis = Analysis {
        aggregate: aggregate(&snapshot),
        alerts: Vec::new(),
        findings: Vec::new(),
        rates: None,
        ages: Vec::new(),
        churn: None,
    };
    TickData {
        snapshot,
        analysis,
        tick_ms: 14,
    }
}

fn fleet_app() -> App {
    let mut app = App::new(&TuiOptions {
        host: "web-1".into(),
        interval_ms: 1000,
        color: true,
        lines: Default::default(),
        protocols: Default::default(),
    });
    for k in 0..10 {
        let ticks = ["host", "app-a", "db"]
            .iter()
            .map(|ns| ns_tick(ns, k))
            .collect();
        let failures = vec![NetnsFailure {
            netns: "pid 4711".into(),
            reason: "permission denied".into(),
        }];
        app.on_event(Event::Fleet(Box::new(FleetTick { ticks, failures })));
    }
    app
}

#[test]
fn fleet_overview() {
    snap_both("fleet_overview", &fleet_app());
}

#[test]
fn fleet_leaking_namespace_shown() {
    let mut app = fleet_app();
    app.apply(Action::NextNetns);
    snap_both("fleet_leaking_shown", &app);
}

#[test]
fn fleet_help_lists_the_namespace_keys() {
    let mut app = fleet_app();
    app.apply(Action::ToggleHelp);
    let term = render(&app, 160, 48);
    let text = format!("{:?}", term.backend());
    assert!(text.contains("next network namespace"), "{text}");
}
