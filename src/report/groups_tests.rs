//! The three faces of `--by unit` / `--by container`: columns, escaping, JSON shape.

use super::*;
use crate::analyze::group_rows::group_rows;
use crate::model::fixtures::{snapshot, sock};
use crate::model::{Name, Owner, ProcessInfo, Runtime};

fn snap() -> Snapshot {
    let mut s = snapshot(vec![
        sock(
            TcpState::Listen,
            "0.0.0.0:80",
            "0.0.0.0:0",
            Owner::Process(10),
        ),
        sock(
            TcpState::CloseWait,
            "10.0.0.1:80",
            "10.0.0.2:1",
            Owner::Process(10),
        ),
        sock(
            TcpState::Established,
            "10.0.0.1:9",
            "10.0.0.2:2",
            Owner::Process(11),
        ),
        sock(
            TcpState::TimeWait,
            "10.0.0.1:9",
            "10.0.0.2:3",
            Owner::Ownerless,
        ),
    ]);
    let info = |pid, unit: &[u8]| ProcessInfo {
        pid,
        comm: Name::from("x"),
        uid: 0,
        user: Name::from("root"),
        unit: Some(Unit {
            name: Name::from(unit),
            user: None,
        }),
        container: Some(Container {
            runtime: Runtime::Docker,
            id: Name::from("0123456789abcdef0123"),
            name: None,
            pod_uid: None,
            qos: None,
        }),
    };
    s.processes.insert(10, info(10, b"web.service"));
    s.processes.insert(11, info(11, b"\x1b[7mevil\n.service"));
    s
}

fn render(key: GroupKey, f: fn(&mut Vec<u8>, &GroupView<'_>) -> io::Result<()>) -> String {
    let s = snap();
    let rows = group_rows(&s, Protocols::TCP, key);
    let view = GroupView {
        snapshot: &s,
        rows: &rows,
        key,
        protocols: Protocols::TCP,
        top: None,
    };
    let mut out = Vec::new();
    f(&mut out, &view).expect("write");
    String::from_utf8(out).expect("utf8")
}

#[test]
fn text_has_a_header_and_escapes_names() {
    let text = render(GroupKey::Unit, write_text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "UNIT\tSOCKETS\tTCP\tPIDS");
    assert_eq!(lines[1], "web.service\t2\t2\t10");
    assert!(
        lines[2].starts_with("\\e[7mevil\\n.service\t1\t1\t11"),
        "{text}"
    );
    assert_eq!(lines[3], "(no process)\t1\t1\t-");
    assert!(!text.contains('\x1b'));
}

#[test]
fn table_shows_used_states_and_containers_sum_pids() {
    let text = render(GroupKey::Container, write_table);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("CONTAINER"), "{text}");
    assert!(
        lines[0].contains("CLOSE_WAIT") && !lines[0].contains("SYN_SENT"),
        "{text}"
    );
    assert!(lines[1].starts_with("docker:0123456789ab"), "{text}");
    assert!(lines[1].ends_with("10,11"), "{text}");
}

#[test]
fn json_rows_carry_the_unit_object() {
    let text = render(GroupKey::Unit, write_json);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["by"], "unit");
    assert_eq!(v["rows"][0]["kind"], "unit");
    assert_eq!(v["rows"][0]["unit"]["name"], "web.service");
    assert_eq!(v["rows"][0]["tcp"]["CLOSE_WAIT"], 1);
    assert_eq!(v["rows"][0]["pids"][0], 10);
    assert_eq!(v["rows"][2]["kind"], "no_process");
    assert!(v["rows"][0].get("udp").is_none());
}
