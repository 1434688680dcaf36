//! Tests for `check`.

use super::*;
use crate::analyze::finding::Subject;
use crate::model::{Name, RuleId};

fn f(sev: Severity, count: u64, msg: &str) -> Finding {
    Finding {
        rule: RuleId::CloseWaitLeak,
        severity: sev,
        subject: Subject::Host,
        netns: "host".into(),
        count,
        growth_per_min: Some(40.0),
        oldest_age_s: Some(11_520),
        threshold: 200.0,
        metrics: BTreeMap::new(),
        message: msg.into(),
        detail: "d".into(),
    }
}

#[test]
fn a_hostile_comm_cannot_split_or_forge_the_status_line() {
    // As the detectors build it: the subject's Display and a message formatting the
    // comm, a Name, so both are escaped.
    let comm = Name::from("x\nSOCKSCOPE OK - 0 sockets\r\x1b[2K");
    let mut finding = f(
        Severity::Critical,
        5,
        &format!("pid 9 ({comm}) holds 5 CLOSE_WAIT"),
    );
    finding.subject = Subject::Process {
        pid: 9,
        comm,
        user: Name::from("root"),
        unit: None,
        container: None,
    };
    let mut out = Vec::new();
    write_text(&mut out, &[finding], &CheckSummary::default()).unwrap();
    let s = String::from_utf8(out).unwrap();
    let first = s.lines().next().unwrap();
    assert_eq!(
        first,
        "SOCKSCOPE CRITICAL - close_wait_leak: pid 9 (x\\nSOCKSCOPE OK - 0 sockets\\r\\e[2K) \
         holds 5 CLOSE_WAIT"
    );
    assert!(
        !s.lines().skip(1).any(|l| l.starts_with("SOCKSCOPE")),
        "{s}"
    );
    assert!(!s.bytes().any(|b| b < 0x20 && b != b'\n'), "{s:?}");
}

#[test]
fn a_pipe_in_a_name_cannot_forge_perfdata() {
    let finding = f(
        Severity::Critical,
        5,
        "/tmp/a|x=1: accept queue 5/4 (pid 9 (a|b))",
    );
    let summary = CheckSummary {
        perfdata: true,
        ..CheckSummary::default()
    };
    let mut out = Vec::new();
    write_text(&mut out, &[finding], &summary).unwrap();
    let s = String::from_utf8(out).unwrap();
    let first = s.lines().next().unwrap();
    assert_eq!(first.matches('|').count(), 1, "{first}");
    assert!(first.contains("/tmp/a\u{a6}x=1"), "{first}");
    assert!(!s.lines().skip(1).any(|l| l.contains('|')), "{s}");
}

#[test]
fn ok_line_and_code() {
    let mut states = StateCounts::default();
    states.add(TcpState::Established);
    let sum = CheckSummary {
        states,
        netns: "host".into(),
        perfdata: true,
        unattributed: 0,
        unattributed_reason: Some("ignored when the count is 0"),
        ..CheckSummary::default()
    };
    let mut out = Vec::new();
    write_text(&mut out, &[], &sum).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(
        s.starts_with("SOCKSCOPE OK - 1 sockets, no findings | established=1 "),
        "{s}"
    );
    assert_eq!(exit_code(&[]), 0);
}

#[test]
fn worst_first_and_json_schema() {
    let fs = vec![
        f(Severity::Warning, 300, "pid 1 (a) holds 300 CLOSE_WAIT"),
        f(
            Severity::Critical,
            812,
            "pid 4242 (java) holds 812 CLOSE_WAIT (+40/min, oldest 3h12m)",
        ),
    ];
    let sum = CheckSummary::default();
    let mut out = Vec::new();
    write_text(&mut out, &fs, &sum).unwrap();
    let s = String::from_utf8(out).unwrap();
    let first = s.lines().next().unwrap();
    assert_eq!(
        first,
        "SOCKSCOPE CRITICAL - close_wait_leak: pid 4242 (java) holds 812 CLOSE_WAIT \
         (+40/min, oldest 3h12m) (+1 more)"
    );
    assert_eq!(
        s.lines().nth(2).unwrap(),
        "WARNING close_wait_leak: pid 1 (a) holds 300 CLOSE_WAIT"
    );
    assert_eq!(exit_code(&fs), 2);
    assert_eq!(exit_code(&fs[..1]), 1);

    let mut out = Vec::new();
    write_json(&mut out, &fs, &sum).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["status"], "CRITICAL");
    assert_eq!(v["findings"][0]["severity"], "critical");
    assert_eq!(v["findings"][0]["subject"]["kind"], "host");
    assert_eq!(v["unattributed"]["count"], 0);
    assert!(v["unattributed"]["reason"].is_null());

    let sum = CheckSummary {
        unattributed: 7,
        unattributed_reason: Some("not root; fix: setcap"),
        ..CheckSummary::default()
    };
    let mut out = Vec::new();
    write_json(&mut out, &fs, &sum).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["unattributed"]["count"], 7);
    assert_eq!(v["unattributed"]["reason"], "not root; fix: setcap");
}

fn udp_unix_summary(protocols: Protocols) -> CheckSummary {
    let mut udp = StateCounts::default();
    for _ in 0..3 {
        udp.add(TcpState::Close);
    }
    udp.add(TcpState::Established);
    let mut unix = StateCounts::default();
    unix.add(TcpState::Listen);
    unix.add(TcpState::Established);
    unix.add(TcpState::Established);
    let mut tcp = StateCounts::default();
    tcp.add(TcpState::Listen);
    CheckSummary {
        states: tcp,
        netns: "host".into(),
        perfdata: true,
        protocols,
        others: [
            ProtoTotals {
                protocol: Protocol::Udp,
                states: udp,
                drops: 1234,
                listeners_unknown_queue: 0,
            },
            ProtoTotals {
                protocol: Protocol::Unix,
                states: unix,
                drops: 0,
                listeners_unknown_queue: 1,
            },
        ]
        .into_iter()
        .filter(|o| protocols.contains(o.protocol))
        .collect(),
        ..CheckSummary::default()
    }
}

#[test]
fn udp_and_unix_are_counted_in_the_status_line_perfdata_and_json() {
    let sum = udp_unix_summary(Protocols::from_flags(false, true, true));
    let mut out = Vec::new();
    write_text(&mut out, &[], &sum).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "SOCKSCOPE OK - 4 udp, 3 unix sockets, no findings | udp_unconn=3 udp_estab=1 \
         udp_drops=1234c unix_listen=1 unix_estab=2 unix_unconn=0 unix_syn_sent=0\n"
    );
    let mut out = Vec::new();
    write_json(&mut out, &[], &sum).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["sockets"], 7);
    assert!(v.get("states").is_none(), "TCP was not checked: {v}");
    assert_eq!(v["protocols"], serde_json::json!(["udp", "unix"]));
    assert_eq!(
        v["udp"],
        serde_json::json!({"sockets": 4, "states": {"UNCONN": 3, "ESTAB": 1}, "drops": 1234})
    );
    assert_eq!(v["unix"]["states"]["ESTAB"], 2);
    assert_eq!(v["unix"]["listeners_unknown_queue"], 1);
    assert!(v["unix"].get("drops").is_none());

    let sum = udp_unix_summary(Protocols::from_flags(true, true, false));
    let mut out = Vec::new();
    write_text(&mut out, &[], &sum).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(
        s.starts_with("SOCKSCOPE OK - 1 tcp, 4 udp sockets, no findings | established=0 "),
        "{s}"
    );
    assert!(s.contains(" listen=1 closing=0 udp_unconn=3 "), "{s}");
}

#[test]
fn the_default_tcp_check_prints_what_it_always_printed() {
    let sum = udp_unix_summary(Protocols::TCP);
    assert!(sum.others.is_empty());
    let mut out = Vec::new();
    write_text(&mut out, &[], &sum).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(
        s.starts_with("SOCKSCOPE OK - 1 sockets, no findings | established=0"),
        "{s}"
    );
    assert!(!s.contains("udp") && !s.contains("unix"), "{s}");
    let mut out = Vec::new();
    write_json(&mut out, &[], &sum).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "exit_code",
            "findings",
            "netns",
            "schema_version",
            "sockets",
            "states",
            "status",
            "unattributed"
        ]
    );
}

/// From a snapshot whose listener's owner runs in `nginx.service` to `check`'s text and
/// JSON: both name the unit beside the pid, the JSON as the subject's `unit`.
#[test]
fn a_listener_finding_names_its_owner_unit_in_text_and_json() {
    use crate::analyze::engine::check;
    use crate::config::Thresholds;
    use crate::model::fixtures::{snapshot, sock};
    use crate::model::{Owner, Unit};

    let mut socks = vec![{
        let mut l = sock(
            TcpState::Listen,
            "0.0.0.0:80",
            "0.0.0.0:0",
            Owner::Process(42),
        );
        l.send_q = 128;
        l
    }];
    for i in 0..128u32 {
        let src = format!("10.0.{}.7:{}", i % 200, 1000 + i);
        socks.push(sock(
            TcpState::SynRecv,
            "10.0.0.1:80",
            &src,
            Owner::ViaListener(42),
        ));
    }
    let mut snap = snapshot(socks);
    if let Some(p) = snap.processes.get_mut(&42) {
        p.unit = Some(Unit {
            name: Name::from("nginx.service"),
            user: None,
        });
    }
    let fs = check(&Thresholds::default(), &[snap]);
    assert_eq!(fs.len(), 1, "{fs:#?}");

    let mut out = Vec::new();
    write_text(&mut out, &fs, &CheckSummary::default()).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(
        s.starts_with("SOCKSCOPE CRITICAL - syn_flood: 0.0.0.0:80 (pid 42 java in nginx.service)"),
        "{s}"
    );

    let mut out = Vec::new();
    write_json(&mut out, &fs, &CheckSummary::default()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let subject = &v["findings"][0]["subject"];
    assert_eq!(subject["kind"], "listener", "{v}");
    assert_eq!(subject["unit"]["name"], "nginx.service", "{v}");
    assert!(
        v["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("in nginx.service"),
        "{v}"
    );
}
