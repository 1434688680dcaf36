//! Rows per unit and per container add up to the snapshot, and several pids of one unit
//! are one row.

use super::*;
use crate::model::fixtures::{snapshot, sock};
use crate::model::{Name, ProcessInfo, Runtime, TcpState, UnixKind, UnixRecord};

fn proc(pid: u32, unit: Option<&str>, container: Option<&str>) -> ProcessInfo {
    ProcessInfo {
        pid,
        comm: Name::from("x"),
        uid: 0,
        user: Name::from("root"),
        unit: unit.map(|u| Unit {
            name: Name::from(u),
            user: None,
        }),
        container: container.map(|id| Container {
            runtime: Runtime::Docker,
            id: Name::from(id),
            name: None,
            pod_uid: None,
            qos: None,
        }),
    }
}

fn snap() -> Snapshot {
    let mut s = snapshot(vec![
        sock(
            TcpState::Listen,
            "0.0.0.0:80",
            "0.0.0.0:0",
            Owner::Process(10),
        ),
        sock(
            TcpState::Established,
            "10.0.0.1:80",
            "10.0.0.2:5000",
            Owner::Process(11),
        ),
        sock(
            TcpState::CloseWait,
            "10.0.0.1:80",
            "10.0.0.2:5001",
            Owner::Process(11),
        ),
        sock(
            TcpState::Established,
            "10.0.0.1:22",
            "10.0.0.3:5000",
            Owner::Process(20),
        ),
        sock(
            TcpState::TimeWait,
            "10.0.0.1:80",
            "10.0.0.2:5002",
            Owner::Ownerless,
        ),
        sock(
            TcpState::Established,
            "10.0.0.1:9",
            "10.0.0.2:9",
            Owner::Process(42),
        ),
    ]);
    s.processes.insert(10, proc(10, Some("web.service"), None));
    s.processes
        .insert(11, proc(11, Some("web.service"), Some("aaaabbbbcccc")));
    s.processes.insert(20, proc(20, Some("ssh.service"), None));
    let mut u = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 7);
    u.owner = Owner::Process(20);
    s.unix.push(u);
    s.protocols = Protocols::ALL;
    s
}

#[test]
fn units_sum_their_pids_and_rows_add_up() {
    let s = snap();
    let rows = group_rows(&s, Protocols::ALL, GroupKey::Unit);
    let labels: Vec<String> = rows.iter().map(|r| r.row.label(GroupKey::Unit)).collect();
    assert_eq!(
        labels,
        ["web.service", "ssh.service", "(no unit)", "(no process)"]
    );
    let web = &rows[0];
    assert_eq!(web.pids, [10, 11]);
    assert_eq!(web.tcp.get(TcpState::CloseWait), 1);
    assert_eq!(web.total(), 3);
    assert_eq!((rows[1].tcp.total(), rows[1].unix), (1, 1));
    assert_eq!(rows[2].pids, [42]);
    let total: u64 = rows.iter().map(GroupCount::total).sum();
    assert_eq!(total, 7);
    // TCP alone leaves the UNIX socket out.
    let tcp = group_rows(&s, Protocols::TCP, GroupKey::Unit);
    assert_eq!(tcp.iter().map(GroupCount::total).sum::<u64>(), 6);
}

#[test]
fn containers_group_by_id() {
    let rows = group_rows(&snap(), Protocols::TCP, GroupKey::Container);
    assert_eq!(
        rows[0].row.label(GroupKey::Container),
        "docker:aaaabbbbcccc"
    );
    assert_eq!(rows[0].pids, [11]);
    assert_eq!(rows[0].total(), 2);
    assert_eq!(rows[1].row, GroupRow::None);
    assert_eq!(rows[1].pids, [10, 20, 42]);
    assert_eq!(rows[2].row, GroupRow::NoProcess);
}
