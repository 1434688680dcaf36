//! Every rule over hand-built snapshot sequences. Time comes from `taken_at_ms` only.

use std::collections::BTreeMap;

use crate::analyze::engine::{check, Analyzer};
use crate::analyze::finding::{AlertPhase, Finding, Severity, Subject};
use crate::config::Thresholds;
use crate::model::fixtures::{snapshot, sock};
use crate::model::RuleId;
use crate::model::*;

pub(super) fn at(mut s: Snapshot, t_ms: i64) -> Snapshot {
    s.taken_at_ms = t_ms;
    s
}

pub(super) fn with_process(s: &mut Snapshot, pid: u32, comm: &str) {
    s.processes.insert(
        pid,
        ProcessInfo {
            pid,
            comm: comm.into(),
            uid: 1000,
            user: "app".into(),
            unit: None,
            container: None,
        },
    );
}

pub(super) fn sysctls(pairs: &[(&str, &str)]) -> Option<Sysctls> {
    Some(Sysctls {
        values: pairs
            .iter()
            .map(|&(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
}

pub(super) fn counters(ext: &[(&str, u64)]) -> Option<KernelCounters> {
    Some(KernelCounters {
        tcp_ext: ext.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
        tcp: BTreeMap::new(),
        udp: Default::default(),
        udp6: Default::default(),
        sockets_in_use: Default::default(),
        conntrack: None,
        conntrack_absent: None,
    })
}

pub(super) fn close_waits(n: u64, pid: u32) -> Vec<SocketRecord> {
    (0..n)
        .map(|i| {
            let mut s = sock(
                TcpState::CloseWait,
                "10.0.0.1:80",
                &format!("10.0.{}.9:{}", i % 3, 10_000 + i),
                Owner::Process(pid),
            );
            s.cookie = Some(i + 1);
            s
        })
        .collect()
}

pub(super) fn listener(local: &str, backlog: u32, queue: u32, pid: u32) -> SocketRecord {
    let mut l = sock(TcpState::Listen, local, "0.0.0.0:0", Owner::Process(pid));
    l.send_q = backlog;
    l.recv_q = queue;
    l
}

pub(super) fn rules(fs: &[Finding]) -> Vec<RuleId> {
    fs.iter().map(|f| f.rule).collect()
}

pub(super) fn only(fs: &[Finding], rule: RuleId) -> &Finding {
    let v: Vec<&Finding> = fs.iter().filter(|f| f.rule == rule).collect();
    assert_eq!(v.len(), 1, "{fs:#?}");
    v[0]
}

#[test]
fn close_wait_200_warns_at_once() {
    let mut a = Analyzer::new();
    let an = a.observe(&at(snapshot(close_waits(200, 42)), 1_000));
    let f = only(&an.findings, RuleId::CloseWaitLeak);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.count, 200);
    assert!(
        f.message.starts_with("pid 42 (java) holds 200 CLOSE_WAIT"),
        "{}",
        f.message
    );
    assert!(f.detail.contains("Remote peers: 10.0.0.9"), "{}", f.detail);
    assert_eq!(an.alerts.len(), 1);
    assert_eq!(an.alerts[0].phase, AlertPhase::Firing, "no for-duration");

    let mut a = Analyzer::new();
    assert!(a
        .observe(&snapshot(close_waits(199, 42)))
        .findings
        .is_empty());
    let an = a.observe(&at(snapshot(close_waits(1000, 42)), 1_000));
    assert_eq!(an.findings[0].severity, Severity::Critical);
}

/// Recv-Q in CLOSE_WAIT counts the peer's FIN: 0, 1 and more are three bugs, each counted
/// and explained on its own, and the FIN is never called data.
#[test]
fn close_wait_tells_eof_read_fin_unread_and_data_unread_apart() {
    let mut socks = close_waits(210, 42);
    for (i, s) in socks.iter_mut().enumerate() {
        s.recv_q = match i % 3 {
            0 => 0,
            1 => 1,
            _ => 11,
        };
    }
    let an = Analyzer::new().observe(&at(snapshot(socks), 1_000));
    let f = only(&an.findings, RuleId::CloseWaitLeak);
    let m = |k: &str| f.metrics.get(k).copied();
    assert_eq!(m("recvq.eof_read"), Some(70.0));
    assert_eq!(m("recvq.fin_unread"), Some(70.0));
    assert_eq!(m("recvq.data_unread"), Some(70.0));
    assert_eq!(
        m("recvq.data_bytes"),
        Some(700.0),
        "ten bytes each: Recv-Q less the FIN"
    );
    assert!(
        f.detail
            .contains("70 read the end of stream and never closed (Recv-Q 0)"),
        "{}",
        f.detail
    );
    assert!(
        f.detail.contains("70 never read the peer's FIN (Recv-Q 1"),
        "{}",
        f.detail
    );
    assert!(
        f.detail
            .contains("70 hold unread data and the FIN (Recv-Q > 1: 700 bytes"),
        "{}",
        f.detail
    );
    assert!(!f.detail.contains("Recv-Q > 0"), "{}", f.detail);

    // Only FINs unread: one line, no word of data.
    let mut socks = close_waits(200, 42);
    for s in &mut socks {
        s.recv_q = 1;
    }
    let an = Analyzer::new().observe(&at(snapshot(socks), 1_000));
    let f = only(&an.findings, RuleId::CloseWaitLeak);
    assert_eq!(f.metrics.get("recvq.fin_unread"), Some(&200.0));
    assert_eq!(f.metrics.get("recvq.data_unread"), Some(&0.0));
    assert!(!f.detail.contains("unread data"), "{}", f.detail);
}

#[test]
fn close_wait_growing_every_sample_for_a_minute_warns_at_small_counts() {
    let mut a = Analyzer::new();
    for i in 0..6u64 {
        let an = a.observe(&at(snapshot(close_waits(i + 1, 42)), i as i64 * 10_000));
        assert!(an.findings.is_empty(), "not yet a minute at sample {i}");
    }
    let an = a.observe(&at(snapshot(close_waits(7, 42)), 60_000));
    let f = only(&an.findings, RuleId::CloseWaitLeak);
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.growth_per_min.unwrap() > 5.0);
    assert!(
        f.message.contains("holds 7 CLOSE_WAIT (+6/min"),
        "{}",
        f.message
    );
    assert!(f.detail.contains("grew at every sample"), "{}", f.detail);
}

#[test]
fn close_wait_older_than_five_minutes_warns() {
    // Known from tcp_info's lastrcv on the first sample.
    let mut socks = close_waits(2, 42);
    socks[1].tcp_info = Some(TcpInfoLite {
        last_data_recv_ms: 11_520_000,
        ..TcpInfoLite::default()
    });
    let mut a = Analyzer::new();
    let an = a.observe(&snapshot(socks));
    let f = only(&an.findings, RuleId::CloseWaitLeak);
    assert!(f.message.contains("oldest 3h12m"), "{}", f.message);

    // Known from first-seen tracking: same socket for 5 minutes, no growth.
    let mut a = Analyzer::new();
    assert!(a
        .observe(&at(snapshot(close_waits(1, 42)), 0))
        .findings
        .is_empty());
    assert!(a
        .observe(&at(snapshot(close_waits(1, 42)), 299_000))
        .findings
        .is_empty());
    let an = a.observe(&at(snapshot(close_waits(1, 42)), 300_000));
    assert_eq!(
        only(&an.findings, RuleId::CloseWaitLeak).oldest_age_s,
        Some(300)
    );
}

#[test]
fn close_wait_names_local_fin_wait2_peer() {
    let mut socks = Vec::new();
    for i in 0..250u16 {
        let client = format!("127.0.0.1:{}", 40_000 + i);
        socks.push(sock(
            TcpState::CloseWait,
            "127.0.0.1:8080",
            &client,
            Owner::Process(42),
        ));
        socks.push(sock(
            TcpState::FinWait2,
            &client,
            "127.0.0.1:8080",
            Owner::Process(77),
        ));
    }
    let mut snap = snapshot(socks);
    with_process(&mut snap, 77, "client");
    let an = Analyzer::new().observe(&snap);
    let f = only(&an.findings, RuleId::CloseWaitLeak);
    assert!(
        f.message
            .ends_with("; peer pid 77 (client) holds 250 FIN_WAIT2"),
        "{}",
        f.message
    );
    assert_eq!(f.metrics["local_peer.pid"], 77.0);
    assert_eq!(f.metrics["local_peer.fin_wait2"], 250.0);
    assert!(f.detail.contains("FIN_WAIT2 ↔ CLOSE_WAIT"), "{}", f.detail);
}

#[test]
fn hovering_at_threshold_does_not_flap_then_resolves() {
    let mut a = Analyzer::new();
    let counts = [200, 199, 201, 190, 200, 185, 199, 200];
    for (i, &n) in counts.iter().enumerate() {
        let an = a.observe(&at(snapshot(close_waits(n, 42)), i as i64 * 1_000));
        assert_eq!(an.alerts.len(), 1);
        assert_eq!(an.alerts[0].phase, AlertPhase::Firing, "tick {i} ({n})");
        assert_eq!(an.alerts[0].since_ms, 0);
        assert_eq!(an.alerts[0].changed_ms, 0);
    }
    // The one-shot path has no hysteresis: 199 is below the threshold there.
    let th = Thresholds::default();
    let two = [
        at(snapshot(close_waits(200, 42)), 0),
        at(snapshot(close_waits(199, 42)), 1_000),
    ];
    assert!(check(&th, &two).is_empty());

    // Well below the clear level (160) for clear_ticks (3) ticks: resolved, then kept.
    let mut phases = Vec::new();
    for i in 0..3 {
        let an = a.observe(&at(snapshot(close_waits(10, 42)), 10_000 + i * 1_000));
        phases.push(an.alerts[0].phase);
    }
    assert_eq!(
        phases,
        [AlertPhase::Firing, AlertPhase::Firing, AlertPhase::Resolved]
    );
    let an = a.observe(&at(snapshot(close_waits(10, 42)), 20_000));
    assert_eq!(an.alerts[0].phase, AlertPhase::Resolved);
    assert_eq!(an.alerts[0].changed_ms, 12_000);
    // (No sockets: the remaining ten would fire again by age, rightly.)
    let an = a.observe(&at(snapshot(close_waits(0, 42)), 12_000 + 899_999));
    assert_eq!(an.alerts.len(), 1);
    let an = a.observe(&at(snapshot(close_waits(0, 42)), 12_000 + 900_000));
    assert!(an.alerts.is_empty(), "resolved alerts expire");
}

#[test]
fn for_duration_holds_alerts_pending_but_check_reports_directly() {
    let mk = |t: i64, cookies: u64| {
        let mut s = snapshot(vec![listener("0.0.0.0:80", 128, 0, 42)]);
        s.counters = counters(&[("SyncookiesSent", cookies)]);
        at(s, t)
    };
    let mut a = Analyzer::new();
    a.observe(&mk(0, 0));
    let an = a.observe(&mk(1_000, 5_000));
    assert_eq!(an.alerts[0].phase, AlertPhase::Pending);
    let an = a.observe(&mk(11_000, 10_000));
    assert_eq!(an.alerts[0].phase, AlertPhase::Firing);
    assert_eq!(an.alerts[0].changed_ms, 11_000);

    let fs = check(&Thresholds::default(), &[mk(0, 0), mk(1_000, 5_000)]);
    assert_eq!(rules(&fs), [RuleId::SynFlood]);
}

#[test]
fn syn_flood_fires_on_cookies_with_no_syn_recv() {
    let mk = |t: i64, cookies: u64, socks: Vec<SocketRecord>| {
        let mut s = snapshot(socks);
        s.counters = counters(&[("SyncookiesSent", cookies), ("ListenDrops", 0)]);
        s.sysctls = sysctls(&[("net.ipv4.tcp_syncookies", "2")]);
        at(s, t)
    };
    let one = vec![listener("0.0.0.0:80", 128, 0, 42)];
    let fs = check(
        &Thresholds::default(),
        &[mk(0, 100, one.clone()), mk(2_000, 1_100, one)],
    );
    let f = only(&fs, RuleId::SynFlood);
    assert_eq!(f.severity, Severity::Critical, "500/s ≥ crit_rate");
    assert!(matches!(f.subject, Subject::Listener { pid: Some(42), .. }));
    assert_eq!(f.metrics["rate.SyncookiesSent"], 500.0);
    assert!(
        f.message.contains("no SYN_RECV socket visible"),
        "{}",
        f.message
    );
    assert!(f.detail.contains("tcp_syncookies = 2"), "{}", f.detail);

    // Two listeners: the counters cannot say which, so the host, naming both.
    let two = vec![
        listener("0.0.0.0:80", 128, 0, 42),
        listener("0.0.0.0:443", 128, 0, 42),
    ];
    let fs = check(
        &Thresholds::default(),
        &[mk(0, 0, two.clone()), mk(1_000, 10, two)],
    );
    let f = only(&fs, RuleId::SynFlood);
    assert_eq!(f.subject, Subject::Host);
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.contains("one of 2 listeners: 0.0.0.0:80"),
        "{}",
        f.message
    );
}

#[test]
fn syn_flood_from_many_sources_at_backlog() {
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
    let fs = check(&Thresholds::default(), &[snapshot(socks)]);
    let f = only(&fs, RuleId::SynFlood);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.metrics["source_prefixes"], 128.0);
    assert!(f.detail.starts_with("Verdict: SYN flood."), "{}", f.detail);
    assert!(!rules(&fs).contains(&RuleId::AcceptQueueOverflow));
}

#[test]
fn accept_overflow_is_not_syn_flood() {
    let mk = |t: i64, n: u64| {
        let mut socks = vec![listener("127.0.0.1:9000", 16, 17, 42)];
        for i in 0..16u16 {
            let src = format!("127.0.0.1:{}", 50_000 + i);
            socks.push(sock(
                TcpState::SynRecv,
                "127.0.0.1:9000",
                &src,
                Owner::ViaListener(42),
            ));
        }
        let mut s = snapshot(socks);
        s.counters = counters(&[("ListenOverflows", n), ("ListenDrops", n)]);
        at(s, t)
    };
    let fs = check(&Thresholds::default(), &[mk(0, 0), mk(1_000, 300)]);
    assert_eq!(rules(&fs), [RuleId::AcceptQueueOverflow], "{fs:#?}");
    let f = &fs[0];
    assert_eq!(f.severity, Severity::Critical);
    assert!(
        f.message.contains("accept queue 17/16, 300.0 overflows/s — the application accepts too slowly (pid 42 (java))"),
        "{}",
        f.message
    );
}

#[test]
fn counter_reset_gives_no_rate_and_no_finding() {
    let mk = |t: i64, n: u64| {
        let mut s = snapshot(vec![listener("0.0.0.0:80", 128, 0, 42)]);
        s.counters = counters(&[("SyncookiesSent", n), ("ListenOverflows", n)]);
        at(s, t)
    };
    let mut a = Analyzer::new();
    a.observe(&mk(0, u64::from(u32::MAX)));
    let an = a.observe(&mk(1_000, 3));
    assert!(an.findings.is_empty(), "{:#?}", an.findings);
    let r = an.rates.unwrap();
    assert!(r.tcp_ext.values().all(|&v| v >= 0.0));
    assert_eq!(r.resets.len(), 2);
}

#[test]
fn fin_wait2_and_orphans() {
    let mut socks: Vec<SocketRecord> = (0..600u16)
        .map(|i| {
            let mut s = sock(
                TcpState::FinWait2,
                &format!("10.0.0.1:{}", 30_000 + i),
                "10.0.0.5:80",
                Owner::Ownerless,
            );
            s.inode = 0;
            s
        })
        .collect();
    socks.push(sock(
        TcpState::FinWait2,
        "10.0.0.1:1",
        "10.0.0.5:80",
        Owner::Process(42),
    ));
    let mut snap = snapshot(socks);
    snap.sysctls = sysctls(&[("net.ipv4.tcp_max_orphans", "1000")]);
    let fs = check(&Thresholds::default(), &[snap]);
    let mut r = rules(&fs);
    r.sort();
    assert_eq!(r, [RuleId::FinWait2Buildup, RuleId::Orphans]);
    assert_eq!(only(&fs, RuleId::Orphans).severity, Severity::Warning);
    assert!(only(&fs, RuleId::FinWait2Buildup)
        .message
        .starts_with("no process (orphaned) holds 600 FIN_WAIT2"));
}
