//! `close_wait_leak` per service and container: the engine fed hand-built snapshots whose
//! pid changes while the unit stays (a restart), against the per-pid control.

use crate::analyze::engine::Analyzer;
use crate::analyze::finding::{Alert, AlertPhase, Subject};
use crate::config::Thresholds;
use crate::model::fixtures::{snapshot, sock};
use crate::model::*;

fn unit(name: &str) -> Option<Unit> {
    Some(Unit {
        name: name.into(),
        user: None,
    })
}

fn docker(id: &str, name: Option<&str>) -> Option<Container> {
    Some(Container {
        runtime: Runtime::Docker,
        id: id.into(),
        name: name.map(Name::from),
        pod_uid: None,
        qos: None,
    })
}

/// `n` CLOSE_WAIT sockets of `pid` toward peer `10.0.<net>.9`.
fn leaking(pid: u32, n: u64, net: usize) -> Vec<SocketRecord> {
    (0..n)
        .map(|i| {
            let mut s = sock(
                TcpState::CloseWait,
                "10.0.0.1:8080",
                &format!("10.0.{net}.9:{}", 10_000 + i),
                Owner::Process(pid),
            );
            let id = u64::from(pid) * 100_000 + i;
            s.inode = id;
            s.cookie = Some(id);
            s
        })
        .collect()
}

/// A snapshot at `t_ms` holding each `(pid, unit, container, count)`.
fn world(t_ms: i64, procs: &[(u32, Option<Unit>, Option<Container>, u64)]) -> Snapshot {
    let mut socks = Vec::new();
    let mut snap = snapshot(Vec::new());
    for (i, (pid, u, c, n)) in procs.iter().enumerate() {
        socks.extend(leaking(*pid, *n, i));
        snap.processes.insert(
            *pid,
            ProcessInfo {
                pid: *pid,
                comm: "payments".into(),
                uid: 1000,
                user: "app".into(),
                unit: u.clone(),
                container: c.clone(),
            },
        );
    }
    snap.sockets = socks;
    snap.taken_at_ms = t_ms;
    snap
}

fn leaks(alerts: &[Alert]) -> Vec<&Alert> {
    alerts
        .iter()
        .filter(|a| a.finding.rule == RuleId::CloseWaitLeak)
        .collect()
}

#[test]
fn a_service_leak_survives_a_restart_as_one_alert_with_its_history() {
    let svc = unit("payments.service");
    let mut a = Analyzer::with_thresholds(Thresholds::default());
    a.observe(&world(1_000, &[(100, svc.clone(), None, 210)]));
    a.observe(&world(11_000, &[(100, svc.clone(), None, 220)]));
    // Restarted: pid 100 is gone with its sockets, pid 200 leaks on in the same unit.
    let an = a.observe(&world(21_000, &[(200, svc.clone(), None, 230)]));
    let v = leaks(&an.alerts);
    assert_eq!(v.len(), 1, "{v:#?}");
    let al = v[0];
    assert_eq!(al.phase, AlertPhase::Firing);
    assert_eq!(al.since_ms, 1_000, "first seen survives the restart");
    let f = &al.finding;
    assert_eq!(f.count, 230);
    match &f.subject {
        Subject::Service {
            unit, pids, comm, ..
        } => {
            assert_eq!(unit, &svc);
            assert_eq!(pids, &[200]);
            assert_eq!(comm.to_string(), "payments");
        }
        s => panic!("not a service subject: {s:?}"),
    }
    // 210 → 220 → 230 over 20 s: the series went on across the pid change.
    let g = f.growth_per_min.expect("growth");
    assert!((g - 60.0).abs() < 1e-6, "{g}");
    assert!(
        f.message
            .starts_with("payments.service (pid 200 payments) holds 230 CLOSE_WAIT"),
        "{}",
        f.message
    );
    assert!(
        f.detail.contains("pids now: 200 payments (230)"),
        "{}",
        f.detail
    );
}

#[test]
fn without_a_unit_a_restart_is_a_new_alert() {
    let mut a = Analyzer::with_thresholds(Thresholds::default());
    a.observe(&world(1_000, &[(100, None, None, 210)]));
    a.observe(&world(11_000, &[(100, None, None, 220)]));
    let an = a.observe(&world(21_000, &[(200, None, None, 230)]));
    let v = leaks(&an.alerts);
    let new: Vec<_> = v
        .iter()
        .filter(|a| matches!(a.finding.subject, Subject::Process { pid: 200, .. }))
        .collect();
    assert_eq!(new.len(), 1, "{v:#?}");
    assert_eq!(new[0].since_ms, 21_000, "first seen starts over");
    assert!(
        v.iter()
            .any(|a| matches!(a.finding.subject, Subject::Process { pid: 100, .. })),
        "the old pid's alert is still listed until it resolves: {v:#?}"
    );
}

#[test]
fn a_services_pids_are_summed_and_listed() {
    let svc = unit("nginx.service");
    let mut a = Analyzer::with_thresholds(Thresholds::default());
    // 120 + 90: neither pid alone reaches the warning count of 200, the service does.
    let an = a.observe(&world(
        1_000,
        &[(31, svc.clone(), None, 120), (30, svc.clone(), None, 90)],
    ));
    let v = leaks(&an.alerts);
    assert_eq!(v.len(), 1, "{v:#?}");
    let f = &v[0].finding;
    assert_eq!(f.count, 210);
    assert!(
        matches!(&f.subject, Subject::Service { pids, .. } if pids == &[30, 31]),
        "{:?}",
        f.subject
    );
    assert_eq!(f.subject.to_string(), "nginx.service (pids 30,31 payments)");
    assert_eq!(f.metrics.get("pids"), Some(&2.0));
    assert_eq!(f.metrics.get("pid.31"), Some(&120.0));
    assert!(
        f.detail
            .contains("pids now: 31 payments (120), 30 payments (90)"),
        "{}",
        f.detail
    );
}

#[test]
fn the_pid_holding_the_most_names_the_service() {
    let svc = unit("sshd.service");
    let mut snap = world(1_000, &[(10, svc.clone(), None, 1), (4242, svc, None, 230)]);
    if let Some(p) = snap.processes.get_mut(&10) {
        p.comm = "sshd".into();
    }
    if let Some(p) = snap.processes.get_mut(&4242) {
        p.comm = "python3".into();
    }
    let an = Analyzer::with_thresholds(Thresholds::default()).observe(&snap);
    let f = &leaks(&an.alerts)[0].finding;
    assert_eq!(f.subject.to_string(), "sshd.service (pids 10,4242 python3)");
}

#[test]
fn containers_key_by_id_and_scopes_stay_per_pid() {
    let id = "ab".repeat(32);
    let mut a = Analyzer::with_thresholds(Thresholds::default());
    a.observe(&world(
        1_000,
        &[
            (40, unit("docker-x.scope"), docker(&id, None), 205),
            (50, unit("session-3.scope"), None, 205),
        ],
    ));
    // The container's name read later, and a restart inside it: still the same alert.
    let an = a.observe(&world(
        11_000,
        &[
            (41, unit("docker-x.scope"), docker(&id, Some("web")), 206),
            (50, unit("session-3.scope"), None, 206),
        ],
    ));
    let v = leaks(&an.alerts);
    assert_eq!(v.len(), 2, "{v:#?}");
    let ctr = v
        .iter()
        .find(|a| matches!(a.finding.subject, Subject::Service { .. }))
        .expect("container alert");
    assert_eq!(ctr.since_ms, 1_000);
    assert_eq!(
        ctr.finding.subject.to_string(),
        "docker:web (pid 41 payments)"
    );
    let scope = v
        .iter()
        .find(|a| matches!(a.finding.subject, Subject::Process { pid: 50, .. }))
        .expect("scope process keeps its per-pid subject");
    assert_eq!(
        scope.finding.subject.to_string(),
        "pid 50 (payments) in session-3.scope"
    );
}

#[test]
fn service_subjects_round_trip_and_serialize_additively() {
    let s = Subject::Service {
        unit: unit("pay\x1b[2Jments.service"),
        container: None,
        pids: vec![7, 9],
        comm: Name::from(&b"j\xffava"[..]),
    };
    let v = serde_json::to_value(&s).expect("json");
    assert_eq!(v["kind"], "service");
    assert_eq!(v["unit"]["name"], "pay\x1b[2Jments.service");
    assert_eq!(v["pids"], serde_json::json!([7, 9]));
    assert!(v.get("comm_b64").is_some(), "{v}");
    assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), s);
    assert_eq!(s.to_string(), r"pay\e[2Jments.service (pids 7,9 j\xffava)");

    let p = Subject::Process {
        pid: 3,
        comm: "java".into(),
        user: "app".into(),
        unit: None,
        container: docker(&"cd".repeat(32), Some("api")),
    };
    let v = serde_json::to_value(&p).expect("json");
    assert_eq!(v["container"]["runtime"], "docker");
    assert_eq!(v["container"]["name"], "api");
    assert!(v.get("unit").is_none(), "{v}");
    assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), p);
    assert_eq!(p.to_string(), "pid 3 (java) in docker:api");
}

/// CLOSE_WAIT (and FIN_WAIT2) held by unnamed processes and by no process are two alerts
/// with subjects of their own: they used to share `host`, and the second overwrote the
/// first.
#[test]
fn unnamed_and_orphaned_owners_are_two_alerts() {
    let mk = |t_ms: i64, state: TcpState| {
        let mut snap = snapshot(Vec::new());
        for (owner, n, net) in [(Owner::Unattributed, 210u64, 1), (Owner::Ownerless, 220, 2)] {
            for i in 0..n {
                let mut s = sock(
                    state,
                    "10.0.0.1:8080",
                    &format!("10.0.{net}.9:{}", 10_000 + i),
                    owner,
                );
                s.inode = if owner == Owner::Ownerless {
                    0
                } else {
                    u64::from(net as u8) * 100_000 + i
                };
                s.cookie = Some(u64::from(net as u8) * 100_000 + i);
                snap.sockets.push(s);
            }
        }
        snap.taken_at_ms = t_ms;
        snap
    };
    for (state, rule) in [
        (TcpState::CloseWait, RuleId::CloseWaitLeak),
        (TcpState::FinWait2, RuleId::FinWait2Buildup),
    ] {
        let mut th = Thresholds::default();
        th.apply_override("fin_wait2_buildup.warn_count=200")
            .unwrap();
        let mut a = Analyzer::with_thresholds(th);
        let mut an = a.observe(&mk(1_000, state));
        for t in 1..=7 {
            an = a.observe(&mk(1_000 + t * 10_000, state));
        }
        let mut got: Vec<(String, u64)> = an
            .alerts
            .iter()
            .filter(|a| a.finding.rule == rule)
            .map(|a| (a.finding.subject.to_string(), a.finding.count))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("no process (orphaned)".to_string(), 220),
                ("unnamed processes".to_string(), 210)
            ],
            "{rule:?}: {:#?}",
            an.alerts
        );
    }
    // On the wire: a kind of its own; old files' `host` still reads.
    let v = serde_json::to_value(Subject::Unowned { orphaned: true }).unwrap();
    assert_eq!(v, serde_json::json!({"kind": "unowned", "orphaned": true}));
    assert_eq!(
        serde_json::from_value::<Subject>(v).unwrap(),
        Subject::Unowned { orphaned: true }
    );
    let old: Subject = serde_json::from_str(r#"{"kind":"host"}"#).unwrap();
    assert_eq!(old, Subject::Host);
}
