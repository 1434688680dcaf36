//! `K` and the churn panel: the confirmation popup (ready, greyed out without
//! CAP_NET_ADMIN, over the cap), the footer under `--read-only` and after a kill, and the
//! churn panel under the Remotes table with a fixed window of events, or why it is empty.

use std::collections::HashMap;

use sockscope::analyze::events::EventWindow;
use sockscope::model::{Endpoint, Name};
use sockscope::tui::state::churn::{Churn, ChurnWindow};
use sockscope::tui::state::kill::{KillDone, KillGate};
use sockscope::tui::{Action, App, Event, TuiOptions};

use super::{snap_sizes, tick};

const SIZES: &[(u16, u16)] = &[(80, 24), (120, 40)];

/// The fixture's ten ticks with a kernel cookie on every socket, and `gate`.
fn app(gate: KillGate) -> App {
    let mut app = App::new(&TuiOptions {
        host: "web-1".into(),
        interval_ms: 1000,
        color: true,
        lines: Default::default(),
        protocols: Default::default(),
    });
    app.set_kill_gate(gate);
    for k in 0..10 {
        let Event::Tick(mut t) = tick(k) else {
            unreachable!("tick() makes ticks")
        };
        for (i, s) in t.snapshot.sockets.iter_mut().enumerate() {
            s.cookie = Some(1000 + i as u64);
        }
        app.on_event(Event::Tick(t));
    }
    app
}

#[test]
fn kill_popup_on_the_close_wait_finding() {
    // Overview's first row is the firing CLOSE_WAIT leak in java.
    let mut a = app(KillGate::Ready);
    a.apply(Action::Kill);
    snap_sizes("kill_popup_finding", &a, SIZES);
}

#[test]
fn kill_popup_on_a_process_row_spares_its_listener() {
    let mut a = app(KillGate::Ready);
    a.apply(Action::GoView(1));
    a.apply(Action::Down);
    a.apply(Action::Kill);
    snap_sizes("kill_popup_process", &a, SIZES);
}

#[test]
fn kill_popup_greyed_without_the_capability() {
    let mut a = app(KillGate::Greyed(
        "needs CAP_NET_ADMIN (sock_diag SOCK_DESTROY), which this process lacks".into(),
    ));
    a.apply(Action::Kill);
    snap_sizes("kill_popup_greyed", &a, SIZES);
}

#[test]
fn kill_is_off_under_read_only() {
    let mut a = app(KillGate::ReadOnly);
    a.apply(Action::Kill);
    snap_sizes("kill_read_only", &a, SIZES);
}

#[test]
fn kill_result_in_the_footer() {
    let mut a = app(KillGate::Ready);
    a.apply(Action::Kill);
    a.apply(Action::ConfirmKill);
    a.on_event(Event::Killed(Box::new(KillDone {
        targeted: 39,
        killed: 38,
        gone: 1,
        remaining: Some(0),
        ..KillDone::default()
    })));
    snap_sizes("kill_result", &a, &[(80, 24)]);
}

fn ep(s: &str) -> Endpoint {
    let a: std::net::SocketAddr = s.parse().unwrap();
    Endpoint::new(a.ip(), a.port())
}

/// Two seconds of a TIME_WAIT storm to 10.0.0.20:5432 from java, with some lost.
fn window() -> ChurnWindow {
    let remotes: HashMap<Endpoint, u64> = [
        ("10.0.0.20:5432", 1800),
        ("10.0.0.9:8080", 120),
        ("203.0.113.12:443", 40),
        ("[2001:db8::1]:443", 6),
    ]
    .into_iter()
    .map(|(e, n)| (ep(e), n))
    .collect();
    let processes: HashMap<u32, (Name, u64)> = [
        (4242, (Name::from("java"), 1900)),
        (812, (Name::from("ngi\x1b[2Jnx"), 46)),
    ]
    .into_iter()
    .collect();
    ChurnWindow {
        window: EventWindow {
            closes: [1960, 6],
            short_lived: 1700,
            lifetime_unknown: 0,
            lost: 12,
            remotes,
            processes,
            unowned: 20,
        },
        secs: 2.0,
        seen_total: 98_000,
        lost_total: 12,
    }
}

#[test]
fn churn_panel_from_events() {
    let mut a = app(KillGate::Ready);
    a.on_event(Event::Churn(Box::new(Churn::Live(Box::new(window())))));
    a.apply(Action::GoView(3));
    snap_sizes("churn_live", &a, SIZES);
}

#[test]
fn churn_panel_says_why_it_is_empty() {
    let mut a = app(KillGate::Ready);
    a.on_event(Event::Churn(Box::new(Churn::Off(
        "needs CAP_NET_ADMIN to join sock_diag's destroy groups".into(),
    ))));
    a.apply(Action::GoView(3));
    snap_sizes("churn_off", &a, &[(80, 24)]);
}
