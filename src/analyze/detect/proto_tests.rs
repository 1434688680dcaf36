//! `udp_drops` and `unix_accept_overflow` over hand-built snapshot sequences: growth, a
//! steady counter, a socket first seen holding old drops, unknown queues, hysteresis, and
//! rules running only on the protocols a snapshot collected. Time comes from `taken_at_ms`.

use std::collections::BTreeMap;

use crate::analyze::engine::{check, Analyzer};
use crate::analyze::finding::{AlertPhase, Finding, Severity, Subject};
use crate::config::Thresholds;
use crate::model::fixtures::{snapshot, sock};
use crate::model::*;

const HOST_SYSCTLS: [(&str, &str); 3] = [
    ("net.core.rmem_max", "4194304"),
    ("net.core.rmem_default", "212992"),
    ("net.core.somaxconn", "4096"),
];

/// A snapshot of `protocols` at `t_ms` with this host's sysctls and `Udp:` RcvbufErrors.
fn snap_at(t_ms: i64, protocols: Protocols, rcvbuf_errors: u64) -> Snapshot {
    let mut s = snapshot(Vec::new());
    s.taken_at_ms = t_ms;
    s.protocols = protocols;
    s.sysctls = Some(Sysctls {
        values: HOST_SYSCTLS
            .iter()
            .map(|&(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    });
    s.counters = Some(KernelCounters {
        tcp_ext: BTreeMap::new(),
        tcp: BTreeMap::new(),
        udp: [
            ("RcvbufErrors".to_string(), rcvbuf_errors),
            ("InErrors".to_string(), rcvbuf_errors),
        ]
        .into_iter()
        .collect(),
        udp6: BTreeMap::new(),
        sockets_in_use: BTreeMap::new(),
        conntrack: None,
        conntrack_absent: None,
    });
    s
}

fn udp_snap(t_ms: i64, socks: Vec<SocketRecord>, rcvbuf_errors: u64) -> Snapshot {
    let mut s = snap_at(t_ms, Protocols::only(Protocol::Udp), rcvbuf_errors);
    s.udp = socks;
    s
}

/// An unconnected UDP socket of `owner` on `local` with this cookie, drop counter and queue.
fn udp(local: &str, owner: Owner, cookie: u64, drops: u32, rmem: u32) -> SocketRecord {
    let mut s = sock(TcpState::Close, local, "0.0.0.0:0", owner);
    s.inode = 1000 + cookie;
    s.cookie = Some(cookie);
    s.skmem = Some(SkMem {
        rmem_alloc: rmem,
        rcvbuf: Some(212_992),
        wmem_alloc: 0,
        sndbuf: Some(212_992),
        drops,
    });
    s
}

fn of_rule(fs: &[Finding], rule: RuleId) -> Vec<&Finding> {
    fs.iter().filter(|f| f.rule == rule).collect()
}

fn only(fs: &[Finding], rule: RuleId) -> &Finding {
    let v = of_rule(fs, rule);
    assert_eq!(v.len(), 1, "{fs:#?}");
    v[0]
}

fn no_for_duration() -> Thresholds {
    let mut th = Thresholds::default();
    th.udp_drops.for_s = 0;
    th.unix_accept_overflow.for_s = 0;
    th
}

#[test]
fn udp_growth_names_the_socket_rate_buffer_and_host_counter() {
    let a = udp_snap(
        1_000,
        vec![udp("127.0.0.1:5353", Owner::Process(42), 1, 100, 0)],
        1_000,
    );
    let b = udp_snap(
        3_000,
        vec![udp("127.0.0.1:5353", Owner::Process(42), 1, 1_100, 212_992)],
        2_200,
    );
    let fs = check(&Thresholds::default(), &[a, b]);
    let f = only(&fs, RuleId::UdpDrops);
    assert_eq!(f.severity, Severity::Critical, "500/s ≥ 100/s");
    assert_eq!(f.count, 1_000);
    assert_eq!(
        f.subject,
        Subject::Listener {
            local: Endpoint::new("127.0.0.1".parse().expect("ip"), 5353),
            pid: Some(42),
            comm: Some("java".into()),
            unit: None,
            container: None,
        }
    );
    assert_eq!(
        f.message,
        "127.0.0.1:5353 (pid 42 java): 500 drops/s, Recv-Q 212992/212992 B (100% of rcvbuf), \
         rmem_max 4194304, host RcvbufErrors 600/s — the receiver reads too slowly"
    );
    let m = |k: &str| f.metrics.get(k).copied();
    assert_eq!(m("drops_per_s"), Some(500.0));
    assert_eq!(m("port"), Some(5353.0));
    assert_eq!(m("rcvbuf"), Some(212_992.0));
    assert_eq!(m("sysctl.net.core.rmem_max"), Some(4_194_304.0));
    assert_eq!(m("rate.Udp.RcvbufErrors"), Some(600.0));
    assert!(
        f.detail
            .contains("1000 datagrams dropped in the last 2.0 s (500/s)"),
        "{}",
        f.detail
    );
    assert!(
        f.detail.contains("up to 2 × rmem_max = 8388608 B")
            && f.detail.contains("`sysctl -w net.core.rmem_max=8388608`"),
        "{}",
        f.detail
    );
    assert!(
        f.detail.contains("SO_REUSEPORT"),
        "the remedy: {}",
        f.detail
    );
}

#[test]
fn udp_a_slow_trickle_warns_and_a_steady_counter_is_quiet() {
    let s = |t, drops| {
        udp_snap(
            t,
            vec![udp("0.0.0.0:514", Owner::Process(42), 7, drops, 4_096)],
            0,
        )
    };
    let fs = check(&Thresholds::default(), &[s(0, 40), s(10_000, 45)]);
    let f = only(&fs, RuleId::UdpDrops);
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.detail
            .starts_with("Fired because the drop counter grew (0.5 drops/s)."),
        "{}",
        f.detail
    );
    // Old drops that no longer grow, and a queue far from its buffer: nothing to say.
    assert!(check(&Thresholds::default(), &[s(0, 45), s(10_000, 45)]).is_empty());
    // A raised warning rate keeps the trickle quiet.
    let mut th = Thresholds::default();
    th.apply_override("udp_drops.warn_drop_rate=1")
        .expect("override");
    assert!(check(&th, &[s(0, 40), s(10_000, 45)]).is_empty());
}

#[test]
fn udp_a_socket_first_seen_with_old_drops_is_no_rate() {
    let old = |rmem| udp("127.0.0.1:9125", Owner::Process(42), 3, 5_000, rmem);
    let before = udp_snap(0, vec![], 0);
    // It appears between the two samples already holding 5000 drops: no finding from them.
    let fs = check(
        &Thresholds::default(),
        &[before.clone(), udp_snap(1_000, vec![old(0)], 0)],
    );
    assert!(fs.is_empty(), "{fs:#?}");
    // With its queue at the buffer it fires on the fill, and says the drops are old.
    let fs = check(
        &Thresholds::default(),
        &[before, udp_snap(1_000, vec![old(200_000)], 0)],
    );
    let f = only(&fs, RuleId::UdpDrops);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.count, 0);
    assert!(
        f.message
            .contains("5000 drops since creation (no rate yet)"),
        "{}",
        f.message
    );
    assert!(
        f.detail.contains("already holding 5000 drops"),
        "{}",
        f.detail
    );
    assert!(!f.metrics.contains_key("drops_per_s"));
}

#[test]
fn udp_sums_a_reuseport_group_and_a_process_spread_over_ports() {
    // Four sockets of one process on :53 (SO_REUSEPORT): one finding with their sum.
    let s = |t, d| {
        udp_snap(
            t,
            (1..=4)
                .map(|c| udp("0.0.0.0:53", Owner::Process(42), c, d, 0))
                .collect(),
            0,
        )
    };
    let fs = check(&Thresholds::default(), &[s(0, 0), s(1_000, 30)]);
    let f = only(&fs, RuleId::UdpDrops);
    assert_eq!(f.severity, Severity::Critical, "4 × 30/s = 120/s");
    assert!(
        f.message
            .starts_with("0.0.0.0:53 (pid 42 java) (4 sockets): 120 drops/s"),
        "{}",
        f.message
    );
    // Spread over three ports, each below a raised warning rate but not their sum.
    let mut th = Thresholds::default();
    th.apply_override("udp_drops.warn_drop_rate=10")
        .expect("override");
    let s = |t, d| {
        udp_snap(
            t,
            (1..=3u16)
                .map(|i| {
                    udp(
                        &format!("10.0.0.1:{}", 4000 + i),
                        Owner::Process(42),
                        u64::from(i),
                        d,
                        0,
                    )
                })
                .collect(),
            0,
        )
    };
    let fs = check(&th, &[s(0, 0), s(1_000, 5)]);
    let f = only(&fs, RuleId::UdpDrops);
    assert!(
        matches!(f.subject, Subject::Process { pid: 42, .. }),
        "{f:#?}"
    );
    assert!(
        f.message
            .starts_with("pid 42 (java): 15 drops/s over its 3 UDP sockets"),
        "{}",
        f.message
    );
}

#[test]
fn udp_fill_alert_holds_while_hovering_then_resolves() {
    let th = no_for_duration();
    let mut a = Analyzer::with_thresholds(th.clone());
    let s = |t, rmem| {
        udp_snap(
            t,
            vec![udp("127.0.0.1:8125", Owner::Process(42), 1, 0, rmem)],
            0,
        )
    };
    // 95% fires; 80% is below 90% but above the clear level 72%: the alert holds.
    let an = a.observe(&s(1_000, 202_342));
    assert_eq!(an.alerts.len(), 1);
    assert_eq!(an.alerts[0].phase, AlertPhase::Firing);
    let an = a.observe(&s(2_000, 170_394));
    assert_eq!(
        of_rule(&an.findings, RuleId::UdpDrops).len(),
        1,
        "hysteresis keeps it"
    );
    // The plain check has no hysteresis: 80% is no finding there.
    assert!(check(&th, &[s(2_000, 170_394)]).is_empty());
    // Drained: it resolves after clear_ticks quiet ticks.
    for t in 0..th.alerts.clear_ticks {
        let an = a.observe(&s(3_000 + i64::from(t) * 1_000, 0));
        assert!(an.findings.is_empty());
    }
    let an = a.observe(&s(9_000, 0));
    assert_eq!(an.alerts[0].phase, AlertPhase::Resolved);
}

#[test]
fn udp_unattributed_and_hostile_names_and_unknown_rcvbuf() {
    // /proc/net/udp: drops but no rcvbuf; owner unknown.
    let mut sk = udp("[::]:443", Owner::Unattributed, 9, 10, 0);
    sk.cookie = None;
    sk.skmem = Some(SkMem {
        rcvbuf: None,
        sndbuf: None,
        ..sk.skmem.expect("skmem")
    });
    let mut sk2 = sk.clone();
    sk2.skmem = Some(SkMem {
        drops: 20,
        ..sk.skmem.expect("skmem")
    });
    let fs = check(
        &Thresholds::default(),
        &[udp_snap(0, vec![sk], 0), udp_snap(1_000, vec![sk2], 0)],
    );
    let f = only(&fs, RuleId::UdpDrops);
    assert!(
        f.message.starts_with("[::]:443: 10 drops/s"),
        "{}",
        f.message
    );
    assert!(f.detail.contains("rcvbuf unknown"), "{}", f.detail);

    let mut a = udp_snap(0, vec![udp("127.0.0.1:1", Owner::Process(66), 1, 0, 0)], 0);
    a.processes.insert(
        66,
        ProcessInfo {
            pid: 66,
            comm: Name::from("ev\x1b[2Jil\n"),
            uid: 0,
            user: "root".into(),
            unit: None,
            container: None,
        },
    );
    let mut b = a.clone();
    b.taken_at_ms = 1_000;
    b.udp = vec![udp("127.0.0.1:1", Owner::Process(66), 1, 3, 0)];
    let fs = check(&Thresholds::default(), &[a, b]);
    let f = only(&fs, RuleId::UdpDrops);
    assert!(
        f.message.contains("(pid 66 ev\\e[2Jil\\n)"),
        "{}",
        f.message
    );
    assert!(!f.message.contains('\x1b') && !f.detail.contains('\x1b'));
}

/// A listening UNIX stream socket with known (or unknown) queues.
fn unix_listener(path: &[u8], inode: u64, queues: Option<(u32, u32)>, owner: Owner) -> UnixRecord {
    let mut r = UnixRecord::new(UnixKind::Stream, TcpState::Listen, inode);
    r.name = UnixName::from_sun_path(path);
    r.owner = owner;
    if let Some((pending, backlog)) = queues {
        r.recv_q = Some(pending);
        r.send_q = Some(backlog);
    }
    r
}

fn unix_snap(t_ms: i64, socks: Vec<UnixRecord>) -> Snapshot {
    let mut s = snap_at(t_ms, Protocols::only(Protocol::Unix), 0);
    s.unix = socks;
    s
}

#[test]
fn unix_listener_at_backlog_plus_one_is_full_and_named() {
    let s = unix_snap(
        0,
        vec![
            unix_listener(b"/run/php/fpm.sock", 812, Some((5, 4)), Owner::Process(42)),
            unix_listener(b"\0idle", 813, Some((1, 128)), Owner::Process(42)),
            unix_listener(b"/run/unknown.sock", 814, None, Owner::Process(42)),
        ],
    );
    let fs = check(&Thresholds::default(), &[s]);
    let f = only(&fs, RuleId::UnixAcceptOverflow);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.count, 5);
    assert_eq!(
        f.message,
        "/run/php/fpm.sock (pid 42 java): 5/4 pending connections (stream) — full: a \
         non-blocking connect() gets EAGAIN, a blocking one waits"
    );
    assert!(
        f.detail.contains("Linux admits backlog + 1 = 5"),
        "{}",
        f.detail
    );
    assert!(
        f.detail
            .contains("1 other UNIX listener(s) have unknown queues"),
        "{}",
        f.detail
    );
    assert!(f.detail.contains("net.core.somaxconn 4096"), "{}", f.detail);
    assert_eq!(f.metrics.get("full"), Some(&1.0));

    // At the backlog exactly: critical, one slot still left.
    let fs = check(
        &Thresholds::default(),
        &[unix_snap(
            0,
            vec![unix_listener(
                b"\0sock",
                1,
                Some((4, 4)),
                Owner::Process(42),
            )],
        )],
    );
    let f = only(&fs, RuleId::UnixAcceptOverflow);
    assert!(f.message.starts_with("@sock (pid 42 java): 4/4 pending connections (stream) — the application accepts too slowly"), "{}", f.message);
}

#[test]
fn unix_unknown_queues_are_never_judged_full() {
    // /proc/net/unix: no queue lengths at all.
    let s = unix_snap(
        0,
        (1..=50)
            .map(|i| unix_listener(b"/run/x.sock", i, None, Owner::Process(42)))
            .collect(),
    );
    assert!(check(&Thresholds::default(), &[s]).is_empty());
}

#[test]
fn unix_backlog_at_somaxconn_says_raise_both_and_hostile_paths_are_escaped() {
    let mut r = unix_listener(
        b"/tmp/\x1b[31mevil\n.sock",
        7,
        Some((4096, 4096)),
        Owner::Unattributed,
    );
    r.kind = UnixKind::SeqPacket;
    let mut s = unix_snap(0, vec![r]);
    s.attribution.reason = Some(UnattributedReason::NotRoot);
    let fs = check(&Thresholds::default(), &[s]);
    let f = only(&fs, RuleId::UnixAcceptOverflow);
    assert!(
        f.message
            .starts_with("/tmp/\\e[31mevil\\n.sock: 4096/4096 pending connections (seqpacket)"),
        "{}",
        f.message
    );
    assert!(
        f.detail.contains("capped by net.core.somaxconn (4096)"),
        "{}",
        f.detail
    );
    assert!(
        f.detail.contains("`sysctl -w net.core.somaxconn=8192`"),
        "{}",
        f.detail
    );
    assert!(f.detail.contains("Owner unknown: not root"), "{}", f.detail);
    assert!(!f.detail.contains('\x1b') && !f.message.contains('\n'));
}

#[test]
fn unix_alert_hovering_at_the_threshold_does_not_flap() {
    let th = no_for_duration();
    let mut a = Analyzer::with_thresholds(th.clone());
    let s = |t, pending| {
        unix_snap(
            t,
            vec![unix_listener(
                b"/run/docker.sock",
                5,
                Some((pending, 10)),
                Owner::Process(42),
            )],
        )
    };
    let an = a.observe(&s(0, 9));
    assert_eq!(
        only(&an.findings, RuleId::UnixAcceptOverflow).severity,
        Severity::Warning
    );
    assert_eq!(an.alerts[0].phase, AlertPhase::Firing);
    // 8/10 is under 0.9 but over the clear level 0.72: still active.
    let an = a.observe(&s(1_000, 8));
    assert_eq!(of_rule(&an.findings, RuleId::UnixAcceptOverflow).len(), 1);
    let an = a.observe(&s(2_000, 5));
    assert!(an.findings.is_empty());
    assert_eq!(
        an.alerts[0].phase,
        AlertPhase::Firing,
        "one quiet tick is not enough"
    );
    a.observe(&s(3_000, 0));
    let an = a.observe(&s(4_000, 0));
    assert_eq!(an.alerts[0].phase, AlertPhase::Resolved);
    // With the default for_s the first sighting is only pending.
    let mut a = Analyzer::new();
    assert_eq!(a.observe(&s(0, 10)).alerts[0].phase, AlertPhase::Pending);
    assert_eq!(
        a.observe(&s(15_000, 10)).alerts[0].phase,
        AlertPhase::Firing
    );
}

#[test]
fn rules_run_only_on_the_protocols_a_snapshot_collected() {
    let full_udp = || vec![udp("127.0.0.1:5353", Owner::Process(42), 1, 0, 212_992)];
    let full_unix = || {
        vec![unix_listener(
            b"/run/x.sock",
            1,
            Some((9, 4)),
            Owner::Process(42),
        )]
    };
    // The tables hold evidence, but the snapshot says TCP alone was collected.
    let mut s = snap_at(0, Protocols::TCP, 0);
    s.udp = full_udp();
    s.unix = full_unix();
    assert!(check(&Thresholds::default(), &[s]).is_empty());
    // UDP and UNIX alone: TCP's CLOSE_WAIT rule stays silent though the list is full.
    let mut s = snap_at(0, Protocols::from_flags(false, true, true), 0);
    s.udp = full_udp();
    s.unix = full_unix();
    s.sockets = (0..300)
        .map(|i| {
            let mut c = sock(
                TcpState::CloseWait,
                "10.0.0.1:80",
                &format!("10.0.0.2:{}", 1000 + i),
                Owner::Process(42),
            );
            c.cookie = Some(i);
            c
        })
        .collect();
    let fs = check(&Thresholds::default(), &[s]);
    let mut rules: Vec<RuleId> = fs.iter().map(|f| f.rule).collect();
    rules.sort();
    assert_eq!(rules, vec![RuleId::UdpDrops, RuleId::UnixAcceptOverflow]);
}
