//! `o` on the Processes view: the unit and container rows are `group_rows`' (they add up to
//! every socket), the selection follows its row across ticks and sorts, Enter on a unit
//! filters the Sockets view to it, and `K` never takes a group row for a process.

use crate::analyze::aggregate::aggregate;
use crate::analyze::engine::Analysis;
use crate::analyze::group_rows::GroupRow;
use crate::model::fixtures::{snapshot, sock};
use crate::model::{Container, Owner, ProcessInfo, Runtime, Snapshot, TcpState, Unit};
use crate::tui::state::app::{App, TuiOptions};
use crate::tui::state::event::TickData;
use crate::tui::state::keys::{Action, View};
use crate::tui::state::kill::KillGate;
use crate::tui::state::rows::RowKey;

fn proc_in(pid: u32, unit: &str, container: Option<&str>) -> ProcessInfo {
    ProcessInfo {
        pid,
        comm: "svc".into(),
        uid: 0,
        user: "root".into(),
        unit: Some(Unit {
            name: unit.into(),
            user: None,
        }),
        container: container.map(|id| Container {
            runtime: Runtime::Podman,
            id: id.into(),
            name: None,
            pod_uid: None,
            qos: None,
        }),
    }
}

/// pids 10 and 11 in `api.service` (3 sockets), pid 20 in a podman container (2), pid 42
/// (the fixture's java) in no unit (1), one TIME_WAIT with no process.
fn scene(at_ms: i64, extra_api: u16) -> Snapshot {
    use TcpState::*;
    let mut socks = vec![
        sock(Listen, "0.0.0.0:80", "0.0.0.0:0", Owner::Process(10)),
        sock(Established, "10.0.0.1:80", "10.0.0.9:1", Owner::Process(11)),
        sock(CloseWait, "10.0.0.1:80", "10.0.0.9:2", Owner::Process(11)),
        sock(Listen, "0.0.0.0:81", "0.0.0.0:0", Owner::Process(20)),
        sock(Established, "10.0.0.1:81", "10.0.0.9:3", Owner::Process(20)),
        sock(Listen, "0.0.0.0:8080", "0.0.0.0:0", Owner::Process(42)),
        sock(TimeWait, "10.0.0.1:4000", "10.0.0.2:443", Owner::Ownerless),
    ];
    for i in 0..extra_api {
        socks.push(sock(
            Established,
            "10.0.0.1:80",
            &format!("10.0.1.9:{}", 100 + i),
            Owner::Process(10),
        ));
    }
    let mut snap = snapshot(socks);
    snap.taken_at_ms = at_ms;
    snap.processes.insert(10, proc_in(10, "api.service", None));
    snap.processes.insert(11, proc_in(11, "api.service", None));
    snap.processes.insert(
        20,
        proc_in(
            20,
            &format!("libpod-{}.scope", "c".repeat(64)),
            Some(&"c".repeat(64)),
        ),
    );
    snap
}

fn tick_of(snapshot: Snapshot) -> TickData {
    TickData {
        analysis: Analysis {
            aggregate: aggregate(&snapshot),
            alerts: Vec::new(),
            findings: Vec::new(),
            rates: None,
            ages: Vec::new(),
            churn: None,
        },
        snapshot,
        tick_ms: 5,
    }
}

fn app_on(snap: Snapshot) -> App {
    let mut a = App::new(&TuiOptions {
        host: "h".into(),
        interval_ms: 1000,
        color: false,
        lines: Default::default(),
        protocols: Default::default(),
    });
    a.on_tick(tick_of(snap));
    a
}

fn labels(a: &App) -> Vec<(String, u64)> {
    let key = a.grouping.key().expect("grouped");
    a.rows
        .groups
        .iter()
        .map(|r| (r.row.label(key), r.total()))
        .collect()
}

#[test]
fn o_cycles_process_unit_container_and_the_rows_add_up() {
    let mut a = app_on(scene(1_000, 0));
    a.apply(Action::CycleGrouping);
    assert_eq!(a.view(), View::Processes, "o opens the Processes view");
    let pod = format!("libpod-{}.scope", "c".repeat(64));
    assert_eq!(
        labels(&a),
        vec![
            ("api.service".to_string(), 3),
            (pod, 2),
            ("(no unit)".to_string(), 1),
            ("(no process)".to_string(), 1),
        ]
    );
    assert_eq!(a.row_count(View::Processes), 4);
    a.apply(Action::CycleGrouping);
    assert_eq!(
        labels(&a),
        vec![
            (format!("podman:{}", "c".repeat(12)), 2),
            ("(no container)".to_string(), 4),
            ("(no process)".to_string(), 1),
        ]
    );
    a.apply(Action::CycleGrouping);
    assert!(!a.grouped());
    assert!(a.rows.groups.is_empty());
    assert_eq!(a.row_count(View::Processes), a.rows.processes.len());
}

#[test]
fn the_selection_follows_its_group_and_markers_stay_below_under_any_sort() {
    let mut a = app_on(scene(1_000, 0));
    a.apply(Action::CycleGrouping);
    a.apply(Action::Down);
    let pod_row = a.key_at(View::Processes, a.selected());
    assert!(matches!(pod_row, Some(RowKey::Group(GroupRow::Unit(_)))));
    // api.service grows past nothing; the pod stays selected wherever it sorts.
    a.on_tick(tick_of(scene(2_000, 5)));
    assert_eq!(a.key_at(View::Processes, a.selected()), pod_row);
    a.apply(Action::SortReverse);
    let last_two: Vec<String> = labels(&a)
        .into_iter()
        .rev()
        .take(2)
        .map(|(l, _)| l)
        .collect();
    assert_eq!(last_two, ["(no process)", "(no unit)"]);
}

#[test]
fn enter_on_a_unit_filters_the_sockets_and_k_refuses_group_rows() {
    let mut a = app_on(scene(1_000, 0));
    a.set_kill_gate(KillGate::Ready);
    a.apply(Action::CycleGrouping);
    a.apply(Action::Kill);
    assert_eq!(
        a.mode,
        crate::tui::state::keys::Mode::Normal,
        "no confirmation opened"
    );
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.contains("K kills from one process")),
        "{:?}",
        a.status
    );
    a.apply(Action::DrillDown);
    assert_eq!(a.view(), View::Sockets);
    assert_eq!(a.filter(), "unit:api.service@system");
    assert_eq!(a.rows.sockets.len(), 3);
    // A marker row opens nothing and says why.
    a.apply(Action::GoView(1));
    a.apply(Action::Back);
    a.apply(Action::Bottom);
    a.apply(Action::DrillDown);
    assert_eq!(a.view(), View::Processes);
    assert!(
        a.status
            .as_deref()
            .is_some_and(|s| s.contains("nothing to open")),
        "{:?}",
        a.status
    );
}

#[test]
fn under_udp_the_groups_count_the_udp_sockets() {
    let mut snap = scene(1_000, 0);
    let udp = |local: &str, pid: u32| {
        let mut s = sock(TcpState::Close, local, "0.0.0.0:0", Owner::Process(pid));
        s.inode = 9;
        s
    };
    snap.udp = vec![
        udp("0.0.0.0:53", 10),
        udp("0.0.0.0:54", 11),
        udp("0.0.0.0:55", 42),
    ];
    snap.protocols = crate::model::Protocols::ALL;
    let mut a = app_on(snap);
    a.apply(Action::NextProtocol);
    a.apply(Action::CycleGrouping);
    assert_eq!(
        labels(&a),
        vec![("api.service".to_string(), 2), ("(no unit)".to_string(), 1)]
    );
    // A filter (typed from anywhere, `/` shows the Sockets view) narrows them to the
    // passing UDP sockets.
    a.apply(Action::StartFilter);
    for c in "sport:53".chars() {
        a.apply(Action::FilterChar(c));
    }
    a.apply(Action::FilterCommit);
    a.apply(Action::GoView(1));
    assert_eq!(labels(&a), vec![("api.service".to_string(), 1)]);
}

#[test]
fn enter_on_a_user_unit_lists_that_users_sockets_only() {
    let mut snap = scene(1_000, 0);
    let pw = |pid: u32, user: Option<u32>| ProcessInfo {
        unit: Some(Unit {
            name: "pipewire.service".into(),
            user,
        }),
        ..proc_in(pid, "x", None)
    };
    // Two users' pipewire (two sockets for 1000, one for 1001) and a system one.
    for (pid, user, port) in [
        (30, Some(1000), 7000),
        (30, Some(1000), 7001),
        (31, Some(1001), 7002),
        (32, None, 7003),
    ] {
        snap.processes.insert(pid, pw(pid, user));
        snap.sockets.push(sock(
            TcpState::Established,
            &format!("127.0.0.1:{port}"),
            "127.0.0.1:9",
            Owner::Process(pid),
        ));
    }
    snap.processes.insert(32, pw(32, None));
    let mut a = app_on(snap);
    a.apply(Action::CycleGrouping);
    let at = |a: &App, label: &str| {
        labels(a)
            .iter()
            .position(|(l, _)| l == label)
            .unwrap_or_else(|| panic!("no row {label}: {:?}", labels(a)))
    };
    let cases = [
        (
            "pipewire.service (user 1000)",
            "unit:pipewire.service@1000",
            30,
            2,
        ),
        (
            "pipewire.service (user 1001)",
            "unit:pipewire.service@1001",
            31,
            1,
        ),
        ("pipewire.service", "unit:pipewire.service@system", 32, 1),
    ];
    for (label, filter, pid, n) in cases {
        a.apply(Action::GoView(1));
        a.selected[1] = at(&a, label);
        a.apply(Action::DrillDown);
        assert_eq!(a.view(), View::Sockets, "{label}");
        assert_eq!(a.filter(), filter);
        let snap = &a.data().expect("data").0;
        let pids: Vec<_> = a
            .rows
            .sockets
            .iter()
            .map(|&i| snap.sockets[i].owner.pid())
            .collect();
        assert_eq!(pids, vec![Some(pid); n], "{label}");
        // Clear the filter for the next row.
        a.apply(Action::StartFilter);
        for _ in 0..filter.len() {
            a.apply(Action::FilterBackspace);
        }
        a.apply(Action::FilterCommit);
        assert_eq!(a.filter(), "", "{label}");
    }
}
