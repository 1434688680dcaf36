//! Unit tests for the Processes view's rows: they add up to the aggregate (or to the
//! filtered sockets) state by state, the rows that are not processes stay pinned below the
//! processes under every sort, and Enter on one lists exactly its sockets (or says why not).

use crate::analyze::aggregate::aggregate;
use crate::analyze::engine::Analysis;
use crate::analyze::process_rows::RowKind;
use crate::model::fixtures::{snapshot, sock};
use crate::model::{Owner, ProcessInfo};
use crate::model::{Snapshot, StateCounts, TcpState};
use crate::tui::state::app::App;
use crate::tui::state::app::TuiOptions;
use crate::tui::state::columns::{self, SortState};
use crate::tui::state::event::TickData;
use crate::tui::state::keys::{Action, View};
use crate::tui::state::process_table::counted;
use crate::tui::state::rows::RowKey;

/// java (42) and nginx (7), three unattributed, four ownerless (TIME_WAIT and a LAST_ACK
/// orphan): the shape of a dashboard run as a non-root user.
fn scene(at_ms: i64) -> Snapshot {
    use TcpState::*;
    let mut snap = snapshot(vec![
        sock(Listen, "0.0.0.0:8080", "0.0.0.0:0", Owner::Process(42)),
        sock(CloseWait, "10.0.0.1:8080", "10.0.0.9:1", Owner::Process(42)),
        sock(CloseWait, "10.0.0.1:8080", "10.0.0.9:2", Owner::Process(42)),
        sock(
            SynRecv,
            "10.0.0.1:8080",
            "10.0.0.9:3",
            Owner::ViaListener(42),
        ),
        sock(Listen, "0.0.0.0:80", "0.0.0.0:0", Owner::Process(7)),
        sock(Established, "10.0.0.1:80", "10.0.0.8:4", Owner::Process(7)),
        sock(Listen, "0.0.0.0:22", "0.0.0.0:0", Owner::Unattributed),
        sock(
            Established,
            "10.0.0.1:22",
            "10.0.0.7:5",
            Owner::Unattributed,
        ),
        sock(
            Established,
            "10.0.0.1:22",
            "10.0.0.7:6",
            Owner::Unattributed,
        ),
        sock(TimeWait, "10.0.0.1:40001", "10.0.0.2:443", Owner::Ownerless),
        sock(TimeWait, "10.0.0.1:40002", "10.0.0.2:443", Owner::Ownerless),
        sock(TimeWait, "10.0.0.1:40003", "10.0.0.2:443", Owner::Ownerless),
        sock(LastAck, "10.0.0.1:80", "10.0.0.8:7", Owner::Ownerless),
    ]);
    snap.taken_at_ms = at_ms;
    snap.processes.insert(
        7,
        ProcessInfo {
            pid: 7,
            comm: "nginx".into(),
            uid: 33,
            user: "www-data".into(),
            unit: None,
            container: None,
        },
    );
    snap
}

fn tick_of(snapshot: Snapshot) -> TickData {
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
    a.apply(Action::GoView(1));
    a
}

fn kinds(a: &App) -> Vec<(RowKind, Option<u32>, u64)> {
    a.rows
        .processes
        .iter()
        .map(|r| (r.kind, r.pid, r.states.total()))
        .collect()
}

fn aggregate_states(a: &App) -> StateCounts {
    a.data()
        .map(|(_, an)| an.aggregate.states)
        .unwrap_or_default()
}

#[test]
fn rows_add_up_to_the_aggregate_per_state_and_unheld_rows_stay_pinned_under_every_sort() {
    let mut a = app_on(scene(1_000));
    assert_eq!(counted(&a.rows.processes), aggregate_states(&a));
    assert_eq!(
        kinds(&a),
        vec![
            (RowKind::Process, Some(42), 4),
            (RowKind::Process, Some(7), 2),
            (RowKind::Unattributed, None, 3),
            (RowKind::Ownerless, None, 4),
        ]
    );
    let own = &a.rows.processes[3];
    assert_eq!(
        (own.comm.as_utf8(), own.user.as_utf8()),
        (Some("(ownerless)"), Some("-"))
    );
    assert_eq!(own.states.get(TcpState::TimeWait), 3);
    assert_eq!(own.states.get(TcpState::LastAck), 1);
    // Every column, both directions: the processes move, the other rows do not.
    for _ in 0..columns::column_count(0) {
        for _ in 0..2 {
            a.apply(Action::SortReverse);
            let k = kinds(&a);
            assert_eq!(counted(&a.rows.processes), aggregate_states(&a));
            let tail: Vec<_> = k[2..].iter().map(|x| x.0).collect();
            assert_eq!(
                tail,
                vec![RowKind::Unattributed, RowKind::Ownerless],
                "{:?}",
                a.sort[0]
            );
        }
        a.apply(Action::SortNext);
    }
    // Ascending by PID: nginx (7) first.
    a.sort[0] = SortState {
        column: 0,
        descending: false,
    };
    a.apply(Action::GoView(0));
    a.apply(Action::GoView(1));
    assert_eq!(a.rows.processes[0].pid, Some(7));
}

#[test]
fn enter_on_an_unheld_row_lists_exactly_its_sockets() {
    let mut a = app_on(scene(1_000));
    a.apply(Action::Bottom);
    assert_eq!(a.rows.processes[a.selected()].kind, RowKind::Ownerless);
    a.apply(Action::DrillDown);
    assert_eq!((a.view(), a.filter()), (View::Sockets, "owner:ownerless"));
    let owners = |a: &App| -> Vec<Owner> {
        let (snap, _) = a.data().unwrap();
        a.rows
            .sockets
            .iter()
            .map(|&i| snap.sockets[i].owner)
            .collect()
    };
    assert_eq!(owners(&a), vec![Owner::Ownerless; 4]);
    // Back on Processes under that filter, only the (ownerless) row is left.
    a.apply(Action::GoView(1));
    assert_eq!(kinds(&a), vec![(RowKind::Ownerless, None, 4)]);
    a.apply(Action::Back);

    // Under a filter, the row's sockets are the filter's too.
    filter(&mut a, "state:established");
    a.apply(Action::Bottom);
    assert_eq!(kinds(&a).last().map(|k| k.0), Some(RowKind::Unattributed));
    let row_total = a.rows.processes[a.selected()].states.total();
    a.apply(Action::DrillDown);
    assert_eq!(a.filter(), "state:estab owner:unattributed");
    assert_eq!(owners(&a), vec![Owner::Unattributed; row_total as usize]);
    // Again from the narrowed Processes view: the owner term is replaced, not repeated.
    a.apply(Action::GoView(1));
    a.apply(Action::Bottom);
    a.apply(Action::DrillDown);
    assert_eq!(a.filter(), "state:estab owner:unattributed");

    // A process row still opens that process's sockets.
    a.apply(Action::Back);
    a.apply(Action::GoView(1));
    a.apply(Action::Top);
    a.apply(Action::DrillDown);
    assert_eq!((a.view(), a.status()), (View::Detail, None));
    assert_eq!(
        a.detail(),
        Some(&crate::tui::state::app::DetailTarget::Process(42))
    );
    assert_eq!(a.rows.detail.len(), 4);
}

#[test]
fn a_tick_keeps_the_selection_on_an_unheld_row() {
    let mut a = app_on(scene(1_000));
    a.apply(Action::Bottom);
    a.apply(Action::Up);
    let key = a.key_at(View::Processes, a.selected());
    assert_eq!(key, Some(RowKey::Unlisted(RowKind::Unattributed)));
    // A new process (99, no procfs entry) adds a row above the pinned ones: the selection
    // follows the (unattributed) row down rather than staying on position 2.
    let mut next = scene(2_000);
    next.sockets.push(sock(
        TcpState::Established,
        "10.0.0.1:5000",
        "10.0.0.3:9",
        Owner::Process(99),
    ));
    a.on_tick(tick_of(next));
    assert_eq!(a.key_at(View::Processes, a.selected()), key);
    assert_eq!(a.selected(), 3);
}

fn filter(a: &mut App, expr: &str) {
    a.apply(Action::StartFilter);
    for c in expr.chars() {
        a.apply(Action::FilterChar(c));
    }
    a.apply(Action::FilterCommit);
    a.apply(Action::GoView(1));
}

#[test]
fn under_a_filter_the_rows_count_only_the_passing_sockets() {
    for (expr, want) in [
        ("state:time-wait", vec![(RowKind::Ownerless, None, 3)]),
        ("sport:22", vec![(RowKind::Unattributed, None, 3)]),
        (
            "state:established",
            vec![
                (RowKind::Process, Some(7), 1),
                (RowKind::Unattributed, None, 2),
            ],
        ),
        ("process:java", vec![(RowKind::Process, Some(42), 4)]),
    ] {
        let mut a = app_on(scene(1_000));
        filter(&mut a, expr);
        let passing = {
            let (snap, _) = a.data().unwrap();
            let idx =
                crate::tui::state::filter::apply_filter(expr, snap, crate::model::Protocol::Tcp)
                    .unwrap();
            let mut c = StateCounts::default();
            for i in idx {
                c.add(snap.sockets[i].state);
            }
            c
        };
        assert_eq!(kinds(&a), want, "{expr}");
        assert_eq!(counted(&a.rows.processes), passing, "{expr}");
        // Esc in the Processes view drops the filter: the rows are whole again.
        a.apply(Action::Back);
        assert_eq!(a.filter(), "");
        assert_eq!(counted(&a.rows.processes), aggregate_states(&a), "{expr}");
    }
}

#[test]
fn without_a_socket_list_the_rows_still_add_up_and_a_filter_is_not_applied() {
    // A recording without --sockets: the aggregate survives, the socket list does not.
    let full = scene(1_000);
    let mut t = tick_of(full);
    t.snapshot.sockets.clear();
    let mut a = App::new(&TuiOptions {
        host: "h".into(),
        interval_ms: 1000,
        color: false,
        lines: Default::default(),
        protocols: Default::default(),
    });
    a.on_tick(t);
    a.apply(Action::GoView(1));
    // LAST_ACK is ownerless too, so the kinds' states cannot be split: one shared row.
    assert_eq!(counted(&a.rows.processes), aggregate_states(&a));
    assert_eq!(
        a.rows.processes.last().map(|r| r.kind),
        Some(RowKind::OwnerlessOrUnattributed)
    );
    filter(&mut a, "state:time-wait");
    assert_eq!(counted(&a.rows.processes), aggregate_states(&a));
    a.apply(Action::Bottom);
    a.apply(Action::DrillDown);
    assert_eq!(
        a.status(),
        Some("(ownerless|unattributed): no process to open; this recording kept counts only")
    );
}
