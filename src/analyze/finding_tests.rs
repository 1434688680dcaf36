//! Unit tests for [`super`]: durations, growth and subjects on the wire.

use super::*;

#[test]
fn durations_read_like_humans_write_them() {
    assert_eq!(human_duration(45), "45s");
    assert_eq!(human_duration(300), "5m");
    assert_eq!(human_duration(725), "12m5s");
    assert_eq!(human_duration(3 * 3600 + 12 * 60 + 7), "3h12m");
    assert_eq!(human_duration(2 * 86_400 + 3 * 3600), "2d3h");
}

#[test]
fn subjects_keep_exact_names_on_the_wire() {
    let s = Subject::Process {
        pid: 9,
        comm: Name::from(&b"\x1b[7m\xff"[..]),
        user: Name::from("r\noot"),
        unit: None,
        container: None,
    };
    assert_eq!(s.to_string(), "pid 9 (\\e[7m\\xff)");
    let v = serde_json::to_value(&s).expect("json");
    assert_eq!(v["kind"], "process");
    assert_eq!(v["comm_b64"], "G1s3bf8=");
    assert_eq!(v["user"], "r\noot");
    assert!(v.get("user_b64").is_none(), "{v}");
    assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), s);
    let l = Subject::Listener {
        local: Endpoint::unspecified(),
        pid: Some(1),
        comm: Some(Name::from(&b"\xfe"[..])),
        unit: None,
        container: None,
    };
    let v = serde_json::to_value(&l).expect("json");
    assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), l);
    // Written before the siblings existed.
    let old = r#"{"kind":"process","pid":1,"comm":"java","user":"root"}"#;
    let back: Subject = serde_json::from_str(old).expect("old");
    assert_eq!(back.to_string(), "pid 1 (java)");
}

/// A prefork service with 500 workers: its one-line form names three pids and counts
/// the rest instead of carrying ~3 KB of pids into check and Nagios lines.
#[test]
fn service_subjects_cap_their_pid_list() {
    let svc = |pids: Vec<u32>| Subject::Service {
        unit: Some(crate::model::Unit {
            name: Name::from("httpd.service"),
            user: None,
        }),
        container: None,
        pids,
        comm: Name::from("httpd"),
    };
    let big = svc((1000..1500).collect()).to_string();
    assert!(big.ends_with("(pids 1000,1001,1002 +497 httpd)"), "{big}");
    assert!(big.len() < 80, "{big}");
    assert!(svc(vec![7, 8, 9])
        .to_string()
        .ends_with("(pids 7,8,9 httpd)"));
    assert!(svc(vec![7]).to_string().ends_with("(pid 7 httpd)"));
    // The wire form keeps every pid.
    let v = serde_json::to_value(svc((1000..1500).collect())).expect("json");
    assert_eq!(v["pids"].as_array().map(Vec::len), Some(500), "{v}");
}

#[test]
fn unix_listener_subjects_escape_and_round_trip_exactly() {
    let hostile = Subject::UnixListener {
        name: Some(UnixName::Path(Name::from(&b"/run/\x1b[2Jx\n\xff.sock"[..]))),
        inode: 812,
        pid: Some(7),
        comm: Some(Name::from("php\rfpm")),
        unit: None,
        container: None,
    };
    let shown = hostile.to_string();
    assert_eq!(shown, "/run/\\e[2Jx\\n\\xff.sock (pid 7 php\\rfpm)");
    let v = serde_json::to_value(&hostile).expect("json");
    assert_eq!(v["kind"], "unix_listener");
    assert!(v.get("name_b64").is_some(), "{v}");
    assert!(v.get("name_abstract").is_none(), "{v}");
    assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), hostile);

    let abs = Subject::UnixListener {
        name: UnixName::from_sun_path(b"\0dbus"),
        inode: 9,
        pid: None,
        comm: None,
        unit: None,
        container: None,
    };
    assert_eq!(abs.to_string(), "@dbus");
    let v = serde_json::to_value(&abs).expect("json");
    assert_eq!(v["name_abstract"], true);
    assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), abs);

    let unnamed = Subject::UnixListener {
        name: None,
        inode: 3,
        pid: Some(1),
        comm: None,
        unit: None,
        container: None,
    };
    assert_eq!(unnamed.to_string(), "unnamed UNIX listener inode 3 (pid 1)");
    let v = serde_json::to_value(&unnamed).expect("json");
    assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), unnamed);
}

#[test]
fn growth_has_a_sign() {
    assert_eq!(human_growth(40.2), "+40/min");
    assert_eq!(human_growth(-3.0), "-3/min");
    assert_eq!(human_growth(0.5), "+0.5/min");
    assert_eq!(human_growth(0.0), "+0/min");
    assert_eq!(human_growth(-0.01), "+0/min");
}

/// A listener's unit and container: printed beside the pid (the container wins), escaped,
/// exact on the wire (non-UTF-8 bytes in `name_b64`), absent from JSON when unknown, and
/// files written before they existed still load.
#[test]
fn listener_subjects_carry_unit_and_container_exactly() {
    use crate::model::{Container, Runtime, Unit};
    let unit = Unit {
        name: Name::from(&b"ng\x1b[2Jinx\xff.service"[..]),
        user: Some(1000),
    };
    let container = Container {
        runtime: Runtime::Docker,
        id: Name::from("0123456789abcdef0123456789abcdef"),
        name: Some(Name::from(&b"we\nb\xfe"[..])),
        pod_uid: None,
        qos: None,
    };
    let tcp = Subject::Listener {
        local: Endpoint::new("0.0.0.0".parse().expect("ip"), 80),
        pid: Some(42),
        comm: Some(Name::from("nginx")),
        unit: Some(unit.clone()),
        container: None,
    };
    assert_eq!(
        tcp.to_string(),
        "0.0.0.0:80 (pid 42 nginx in ng\\e[2Jinx\\xff.service (user 1000))"
    );
    let v = serde_json::to_value(&tcp).expect("json");
    assert_eq!(v["unit"]["name_b64"], "bmcbWzJKaW54/y5zZXJ2aWNl", "{v}");
    assert!(v.get("container").is_none(), "{v}");
    assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), tcp);

    let unix = Subject::UnixListener {
        name: UnixName::from_sun_path(b"/run/x.sock"),
        inode: 5,
        pid: Some(7),
        comm: Some(Name::from("php-fpm")),
        unit: Some(unit),
        container: Some(container),
    };
    assert_eq!(
        unix.to_string(),
        "/run/x.sock (pid 7 php-fpm in docker:we\\nb\\xfe)"
    );
    let v = serde_json::to_value(&unix).expect("json");
    assert!(v["container"].get("name_b64").is_some(), "{v}");
    assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), unix);

    // Unknown owner: no fields, and the pid-less form prints no owner at all.
    let bare = Subject::Listener {
        local: Endpoint::unspecified(),
        pid: None,
        comm: None,
        unit: None,
        container: None,
    };
    let v = serde_json::to_value(&bare).expect("json");
    assert!(
        v.get("unit").is_none() && v.get("container").is_none(),
        "{v}"
    );

    // Written before the fields existed.
    let old =
        r#"{"kind":"listener","local":{"ip":"127.0.0.1","port":9000},"pid":42,"comm":"java"}"#;
    let back: Subject = serde_json::from_str(old).expect("old listener");
    assert_eq!(back.to_string(), "127.0.0.1:9000 (pid 42 java)");
    assert_eq!(back.unit(), None);
    let old = r#"{"kind":"unix_listener","name":"/run/x.sock","inode":5,"pid":7,"comm":"php"}"#;
    let back: Subject = serde_json::from_str(old).expect("old unix listener");
    assert_eq!(back.to_string(), "/run/x.sock (pid 7 php)");
}
