//! Listener findings name their owner's systemd unit or container beside the pid
//! (`accept_queue_overflow`, `syn_flood`, `udp_drops`, `unix_accept_overflow`), and a unit or
//! container read later does not restart a listener's alert.

use std::collections::BTreeMap;

use crate::analyze::engine::{check, Analyzer};
use crate::analyze::finding::{AlertPhase, Finding, Subject};
use crate::config::Thresholds;
use crate::model::fixtures::{snapshot, sock};
use crate::model::*;

use super::tests::{at, counters, listener};

fn nginx_service() -> Unit {
    Unit {
        name: Name::from("nginx.service"),
        user: None,
    }
}

fn docker_web() -> Container {
    Container {
        runtime: Runtime::Docker,
        id: Name::from("0123456789abcdef0123456789abcdef"),
        name: Some(Name::from("web")),
        pod_uid: None,
        qos: None,
    }
}

/// `s` with pid 42 (java) placed in `unit` and `container`.
fn owned(mut s: Snapshot, unit: Option<Unit>, container: Option<Container>) -> Snapshot {
    let p = s.processes.get_mut(&42).expect("fixture pid 42");
    p.unit = unit;
    p.container = container;
    s
}

fn only(fs: &[Finding], rule: RuleId) -> &Finding {
    let v: Vec<&Finding> = fs.iter().filter(|f| f.rule == rule).collect();
    assert_eq!(v.len(), 1, "{fs:#?}");
    v[0]
}

fn overflowing_listener(t: i64, overflows: u64) -> Snapshot {
    let mut s = snapshot(vec![listener("127.0.0.1:9000", 16, 17, 42)]);
    s.counters = counters(&[("ListenOverflows", overflows), ("ListenDrops", overflows)]);
    at(s, t)
}

#[test]
fn accept_queue_overflow_names_the_unit_beside_the_pid() {
    let mk = |t, n| owned(overflowing_listener(t, n), Some(nginx_service()), None);
    let fs = check(&Thresholds::default(), &[mk(0, 0), mk(1_000, 300)]);
    let f = only(&fs, RuleId::AcceptQueueOverflow);
    assert_eq!(f.subject.unit(), Some(&nginx_service()));
    assert_eq!(
        f.subject.to_string(),
        "127.0.0.1:9000 (pid 42 java in nginx.service)"
    );
    assert!(
        f.message
            .ends_with("accepts too slowly (pid 42 (java) in nginx.service)"),
        "{}",
        f.message
    );
    assert!(
        f.detail.contains("pid 42 (java) in nginx.service has"),
        "{}",
        f.detail
    );
}

#[test]
fn syn_flood_names_the_container_over_the_unit() {
    let mut socks = vec![listener("0.0.0.0:80", 128, 0, 42)];
    for i in 0..128u32 {
        let src = format!("10.{}.{}.7:{}", i / 200, i % 200, 1000 + i);
        socks.push(sock(
            TcpState::SynRecv,
            "10.0.0.1:80",
            &src,
            Owner::ViaListener(42),
        ));
    }
    let s = owned(snapshot(socks), Some(nginx_service()), Some(docker_web()));
    let fs = check(&Thresholds::default(), &[s]);
    let f = only(&fs, RuleId::SynFlood);
    assert_eq!(
        f.subject.to_string(),
        "0.0.0.0:80 (pid 42 java in docker:web)"
    );
    assert_eq!(f.subject.container(), Some(&docker_web()));
    assert!(f.message.contains("in docker:web"), "{}", f.message);
}

fn udp_snap(t_ms: i64, drops: u32, rcvbuf_errors: u64) -> Snapshot {
    let mut r = sock(
        TcpState::Close,
        "127.0.0.1:5353",
        "0.0.0.0:0",
        Owner::Process(42),
    );
    r.inode = 1001;
    r.cookie = Some(1);
    r.skmem = Some(SkMem {
        rmem_alloc: 0,
        rcvbuf: Some(212_992),
        wmem_alloc: 0,
        sndbuf: Some(212_992),
        drops,
    });
    let mut s = snapshot(Vec::new());
    s.taken_at_ms = t_ms;
    s.protocols = Protocols::only(Protocol::Udp);
    s.udp = vec![r];
    s.counters = counters(&[]);
    if let Some(c) = s.counters.as_mut() {
        c.udp = BTreeMap::from([("RcvbufErrors".to_string(), rcvbuf_errors)]);
    }
    owned(s, Some(nginx_service()), None)
}

#[test]
fn udp_drops_per_endpoint_names_the_unit() {
    let fs = check(
        &Thresholds::default(),
        &[udp_snap(1_000, 100, 1_000), udp_snap(3_000, 1_100, 2_000)],
    );
    let f = only(&fs, RuleId::UdpDrops);
    assert!(
        f.message
            .starts_with("127.0.0.1:5353 (pid 42 java in nginx.service): 500 drops/s"),
        "{}",
        f.message
    );
}

#[test]
fn unix_accept_overflow_names_the_container() {
    let mut r = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 812);
    r.name = UnixName::from_sun_path(b"/run/x.sock");
    r.owner = Owner::Process(42);
    r.recv_q = Some(5);
    r.send_q = Some(4);
    let mut s = snapshot(Vec::new());
    s.protocols = Protocols::only(Protocol::Unix);
    s.unix = vec![r];
    let s = owned(s, None, Some(docker_web()));
    let fs = check(&Thresholds::default(), &[s]);
    let f = only(&fs, RuleId::UnixAcceptOverflow);
    assert!(
        f.message
            .starts_with("/run/x.sock (pid 42 java in docker:web): 5/4 pending"),
        "{}",
        f.message
    );
}

/// The container's name (or the whole cgroup) read a tick late must not end one alert and
/// start another: the listener's alert keeps its `since_ms` and its phase.
#[test]
fn a_unit_read_later_continues_the_listener_alert() {
    let mut th = Thresholds::default();
    th.accept_queue_overflow.for_s = 0;
    let mut a = Analyzer::with_thresholds(th);
    a.observe(&overflowing_listener(0, 0));
    let an = a.observe(&overflowing_listener(1_000, 300));
    assert_eq!(an.alerts.len(), 1, "{:#?}", an.alerts);
    let since = an.alerts[0].since_ms;
    let mut n = 300;
    let mut last = None;
    for (t, unit, container) in [
        (11_000, Some(nginx_service()), None),
        (12_000, Some(nginx_service()), Some(docker_web())),
    ] {
        n += 300;
        let an = a.observe(&owned(overflowing_listener(t, n), unit, container));
        let live: Vec<_> = an
            .alerts
            .iter()
            .filter(|a| a.phase != AlertPhase::Resolved)
            .collect();
        assert_eq!(live.len(), 1, "{:#?}", an.alerts);
        assert_eq!(live[0].since_ms, since, "{:#?}", live[0]);
        assert_eq!(live[0].phase, AlertPhase::Firing);
        last = Some(live[0].finding.subject.to_string());
    }
    assert_eq!(
        last.as_deref(),
        Some("127.0.0.1:9000 (pid 42 java in docker:web)"),
        "the alert carries the latest owner"
    );
    let with = Subject::Listener {
        local: Endpoint::new("127.0.0.1".parse().expect("ip"), 9000),
        pid: Some(42),
        comm: Some("java".into()),
        unit: Some(nginx_service()),
        container: None,
    };
    let without = Subject::Listener {
        local: Endpoint::new("127.0.0.1".parse().expect("ip"), 9000),
        pid: Some(42),
        comm: Some("java".into()),
        unit: None,
        container: None,
    };
    assert_eq!(with.identity(), without.identity());
    assert_ne!(with, without);
}
