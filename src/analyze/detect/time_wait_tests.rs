//! `time_wait_storm` over hand-built snapshot sequences: the destination against a
//! narrowed range, the global bucket cap and overflows, and "how fast" from destroy events
//! or from polls. Shares the helpers of [`super::tests`].

use super::tests::{at, counters, only, sysctls};
use crate::analyze::engine::{check, Analyzer};
use crate::analyze::finding::{Severity, Subject};
use crate::config::Thresholds;
use crate::model::fixtures::{snapshot, sock};
use crate::model::*;

#[test]
fn time_wait_storm_names_destination_against_narrowed_range() {
    let mut socks: Vec<SocketRecord> = (0..80u16)
        .map(|i| {
            let local = format!("10.0.0.1:{}", 40_000 + i);
            sock(TcpState::TimeWait, &local, "10.0.0.8:443", Owner::Ownerless)
        })
        .collect();
    // Inbound TIME_WAIT on a server port does not use the ephemeral range.
    socks.push(sock(
        TcpState::TimeWait,
        "10.0.0.1:80",
        "10.0.0.8:443",
        Owner::Ownerless,
    ));
    let mut snap = snapshot(socks);
    snap.sysctls = sysctls(&[("net.ipv4.ip_local_port_range", "40000\t40099")]);
    let fs = check(&Thresholds::default(), &[snap.clone()]);
    let f = only(&fs, RuleId::TimeWaitStorm);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(
        f.subject,
        Subject::Destination {
            remote: Endpoint::new("10.0.0.8".parse().unwrap(), 443)
        }
    );
    assert!(
        f.message
            .starts_with("10.0.0.8:443: 80 TIME_WAIT, 80 of 100 ephemeral ports in use (20 left"),
        "{}",
        f.message
    );
    assert!(!f.detail.contains("tcp_tw_recycle=1"));
    // With the default range the same load is nothing.
    snap.sysctls = None;
    assert!(check(&Thresholds::default(), &[snap]).is_empty());
}

#[test]
fn time_wait_global_cap_and_overflow() {
    let mk = |t: i64, n: u64| {
        let socks = (0..100u16)
            .map(|i| {
                let r = format!("10.0.{}.8:{}", i % 50, 1000 + i);
                sock(TcpState::TimeWait, "10.0.0.1:80", &r, Owner::Ownerless)
            })
            .collect();
        let mut s = snapshot(socks);
        s.sysctls = sysctls(&[("net.ipv4.tcp_max_tw_buckets", "1000")]);
        s.counters = counters(&[("TCPTimeWaitOverflow", n)]);
        at(s, t)
    };
    assert!(check(&Thresholds::default(), &[mk(0, 0), mk(1_000, 0)]).is_empty());
    let fs = check(&Thresholds::default(), &[mk(0, 0), mk(1_000, 5)]);
    let f = only(&fs, RuleId::TimeWaitStorm);
    assert_eq!(
        (f.subject.clone(), f.severity),
        (Subject::Host, Severity::Critical)
    );
}

/// 80 TIME_WAIT toward 10.0.0.8:443 out of a 100-port range (critical on ports in use).
fn time_wait_toward_one_destination(t_ms: i64, n: u16) -> Snapshot {
    let socks = (0..n)
        .map(|i| {
            let local = format!("10.0.0.1:{}", 40_000 + i);
            sock(TcpState::TimeWait, &local, "10.0.0.8:443", Owner::Ownerless)
        })
        .collect();
    let mut snap = at(snapshot(socks), t_ms);
    snap.sysctls = sysctls(&[("net.ipv4.ip_local_port_range", "40000\t40099")]);
    snap
}

/// A window of `seconds` with `n` closes toward `remote` (and 7 elsewhere).
fn churn(seconds: f64, remote: &str, n: u64) -> crate::analyze::events::Churn {
    let mut window = crate::analyze::events::EventWindow::default();
    let addr: std::net::SocketAddr = remote.parse().unwrap();
    window
        .remotes
        .insert(Endpoint::new(addr.ip(), addr.port()), n);
    window
        .remotes
        .insert(Endpoint::new("10.0.0.1".parse().unwrap(), 40_001), 7);
    window.closes = [n + 7, 0];
    crate::analyze::events::Churn { seconds, window }
}

#[test]
fn time_wait_storm_takes_how_fast_from_destroy_events_when_read() {
    let mut a = Analyzer::for_check(Thresholds::default());
    let an = a.observe_with_events(
        &time_wait_toward_one_destination(1_000, 80),
        Some(churn(2.0, "10.0.0.8:443", 300)),
    );
    let f = only(&an.findings, RuleId::TimeWaitStorm);
    assert_eq!(f.severity, Severity::Critical, "judged on ports in use");
    assert!(
        f.message
            .ends_with("80 of 100 ephemeral ports in use (20 left, 150.0 closes/s from events)"),
        "{}",
        f.message
    );
    assert_eq!(f.metrics["events.closes_per_s"], 150.0);
    assert_eq!(f.metrics["events.window_s"], 2.0);
    assert_eq!(f.metrics["events.time_wait_at_rate"], 9000.0);
    assert!(
        f.detail.contains(
            "How fast, from the kernel's destroy events: 150.0 connections/s toward \
             10.0.0.8:443 closed over the last 2.0 s"
        ),
        "{}",
        f.detail
    );
    assert!(
        f.detail.contains("about 9000 of the 100 ports"),
        "{}",
        f.detail
    );
    assert_eq!(an.churn.map(|c| c.window.total()), Some(307));
}

#[test]
fn time_wait_storm_says_polls_when_no_events_were_read() {
    let mut a = Analyzer::for_check(Thresholds::default());
    let an = a.observe(&time_wait_toward_one_destination(0, 60));
    let f = only(&an.findings, RuleId::TimeWaitStorm);
    assert!(f.message.ends_with("(40 left)"), "{}", f.message);
    assert!(f
        .detail
        .contains("How fast, from polls: TIME_WAIT toward 10.0.0.8:443 has no trend yet"));
    assert!(!f.metrics.contains_key("events.closes_per_s"));
    // A minute later, 20 more: the growth is the polls' figure.
    let an = a.observe(&time_wait_toward_one_destination(60_000, 80));
    let f = only(&an.findings, RuleId::TimeWaitStorm);
    assert!(
        f.message.ends_with("(20 left, +20/min from polls)"),
        "{}",
        f.message
    );
    assert!(f
        .detail
        .contains("from polls: TIME_WAIT toward 10.0.0.8:443 grows +20/min"));
    // A window of no length carries no rate: the polls' figure again.
    let an = a.observe_with_events(
        &time_wait_toward_one_destination(61_000, 80),
        Some(churn(0.0, "10.0.0.8:443", 300)),
    );
    let f = only(&an.findings, RuleId::TimeWaitStorm);
    assert!(f.message.ends_with("from polls)"), "{}", f.message);
    // Events that saw no close toward it: a measured zero, not the polls' growth.
    let an = a.observe_with_events(
        &time_wait_toward_one_destination(62_000, 80),
        Some(churn(1.0, "10.0.0.9:443", 300)),
    );
    let f = only(&an.findings, RuleId::TimeWaitStorm);
    assert!(
        f.message.ends_with("(20 left, 0.0 closes/s from events)"),
        "{}",
        f.message
    );
}
