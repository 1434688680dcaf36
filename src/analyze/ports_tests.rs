//! Fixtures for the port space, the client-side rule, the new-connection count and the
//! forecast formula.

use super::*;
use crate::model::fixtures::{snapshot, sock};
use crate::model::{Owner, Sysctls};

fn sysctls(kv: &[(&str, &str)]) -> Option<Sysctls> {
    let mut s = Sysctls::default();
    for (k, v) in kv {
        s.values.insert((*k).into(), (*v).into());
    }
    Some(s)
}

fn ep(s: &str) -> Endpoint {
    let a: std::net::SocketAddr = s.parse().unwrap();
    Endpoint::new(a.ip(), a.port())
}

fn held(total: u64, time_wait: u64) -> Held {
    Held { total, time_wait }
}

#[test]
fn reserved_ports_list_parses_like_the_kernel_prints_it() {
    assert_eq!(parse_port_list(""), Ok(vec![]));
    assert_eq!(parse_port_list(" "), Ok(vec![]));
    assert_eq!(parse_port_list("8080"), Ok(vec![(8080, 8080)]));
    assert_eq!(
        parse_port_list("40010-40014,40100,40102-40105,50000"),
        Ok(vec![
            (40010, 40014),
            (40100, 40100),
            (40102, 40105),
            (50000, 50000)
        ])
    );
    // Unsorted, overlapping and adjacent items merge.
    assert_eq!(
        parse_port_list("9005-9010, 9000-9004,9008,1"),
        Ok(vec![(1, 1), (9000, 9010)])
    );
    assert_eq!(parse_port_list("65535"), Ok(vec![(65535, 65535)]));
    for bad in ["x", "1-", "-5", "70000", "5-3", "1,,2-a", "1 2"] {
        let e = parse_port_list(bad).expect_err(bad);
        assert!(e.contains('`'), "{bad}: {e}");
    }
    assert_eq!(
        parse_port_list("10,5-3").unwrap_err(),
        "`5-3`: the range's low end is above its high end"
    );
}

#[test]
fn usable_ports_are_range_minus_reserved_minus_bound() {
    let mut snap = snapshot(vec![
        // Listeners in the range block their port for every autobind, whatever address.
        sock(
            TcpState::Listen,
            "127.0.0.1:40050",
            "0.0.0.0:0",
            Owner::Process(42),
        ),
        sock(
            TcpState::Listen,
            "127.0.0.2:40051",
            "0.0.0.0:0",
            Owner::Process(42),
        ),
        // Same port twice (v4 and v6) blocks it once; a reserved one is not counted again.
        sock(TcpState::Listen, "[::]:40051", "[::]:0", Owner::Process(42)),
        sock(
            TcpState::Listen,
            "0.0.0.0:40012",
            "0.0.0.0:0",
            Owner::Process(42),
        ),
        sock(
            TcpState::Listen,
            "0.0.0.0:80",
            "0.0.0.0:0",
            Owner::Process(42),
        ),
    ]);
    snap.sysctls = sysctls(&[
        ("net.ipv4.ip_local_port_range", "40000 40199"),
        (
            "net.ipv4.ip_local_reserved_ports",
            "39990-40014,40100,40102-40105,50000",
        ),
    ]);
    let s = PortSpace::of(&snap);
    assert_eq!(
        (s.low, s.high, s.range, s.range_read),
        (40000, 40199, 200, true)
    );
    assert_eq!(s.reserved, 15 + 1 + 4, "only the part inside the range");
    assert_eq!(s.bound, 2);
    assert_eq!(s.usable, 200 - 20 - 2);
    assert_eq!(s.reserved_error, None);
    // An unreadable list is said, and reserves nothing.
    snap.sysctls = sysctls(&[
        ("net.ipv4.ip_local_port_range", "40000 40199"),
        ("net.ipv4.ip_local_reserved_ports", "40010-x"),
    ]);
    let s = PortSpace::of(&snap);
    assert_eq!((s.reserved, s.usable), (0, 197));
    assert!(s.reserved_error.is_some());
    // Without sysctls: Linux's default range.
    snap.sysctls = None;
    let s = PortSpace::of(&snap);
    assert_eq!((s.low, s.high, s.range_read), (32768, 60999, false));
    assert_eq!(
        s.usable,
        28232 - 3,
        "the three listeners are in that range too"
    );
}

#[test]
fn client_side_rule_and_per_route_counts() {
    let dst = "10.0.0.8:443";
    let mut socks = vec![
        sock(
            TcpState::Listen,
            "0.0.0.0:40080",
            "0.0.0.0:0",
            Owner::Process(42),
        ),
        // Accepted children of a listener inside the range are server side.
        sock(
            TcpState::Established,
            "10.0.0.1:40080",
            dst,
            Owner::Process(42),
        ),
        sock(
            TcpState::TimeWait,
            "10.0.0.1:40080",
            "10.0.0.8:444",
            Owner::Ownerless,
        ),
        sock(TcpState::SynRecv, "10.0.0.1:40081", dst, Owner::Ownerless),
        // Outside the range: a server port.
        sock(TcpState::TimeWait, "10.0.0.1:80", dst, Owner::Ownerless),
        sock(TcpState::Close, "10.0.0.1:40082", dst, Owner::Process(42)),
    ];
    let states = [
        TcpState::SynSent,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::Closing,
        TcpState::CloseWait,
        TcpState::LastAck,
    ];
    for (i, st) in states.iter().enumerate() {
        socks.push(sock(
            *st,
            &format!("10.0.0.1:{}", 40000 + i),
            dst,
            Owner::Process(42),
        ));
    }
    for i in 0..5 {
        socks.push(sock(
            TcpState::TimeWait,
            &format!("10.0.0.1:{}", 40100 + i),
            dst,
            Owner::Ownerless,
        ));
        socks.push(sock(
            TcpState::TimeWait,
            &format!("10.0.0.2:{}", 40100 + i),
            dst,
            Owner::Ownerless,
        ));
    }
    let mut snap = snapshot(socks);
    snap.sysctls = sysctls(&[("net.ipv4.ip_local_port_range", "40000 40199")]);
    let u = PortUse::of(&snap);
    let a: IpAddr = "10.0.0.1".parse().unwrap();
    let b: IpAddr = "10.0.0.2".parse().unwrap();
    assert_eq!(u.routes.len(), 2, "{:?}", u.routes);
    assert_eq!(u.routes[&(ep(dst), a)], held(7 + 5, 5));
    assert_eq!(u.routes[&(ep(dst), b)], held(5, 5));
    let d = u.destinations();
    assert_eq!(d.len(), 1);
    let d = d[&ep(dst)];
    assert_eq!(d.held, held(17, 10));
    assert_eq!(d.sources, 2);
    assert_eq!(
        d.capacity,
        2 * 199,
        "two sources, one port bound by the listener"
    );
    // The destination's sums are the routes' sums: the two rules cannot disagree.
    let sum: u64 = u.routes.values().map(|h| h.total).sum();
    assert_eq!(d.held.total, sum);
    assert_eq!(d.capacity, u.space.usable * u.routes.len() as u64);
}

#[test]
fn new_connections_are_new_four_tuples_between_polls() {
    let mk = |t_ms: i64, ports: std::ops::Range<u16>| {
        let socks = ports
            .map(|p| {
                sock(
                    TcpState::TimeWait,
                    &format!("10.0.0.1:{p}"),
                    "10.0.0.8:443",
                    Owner::Ownerless,
                )
            })
            .collect();
        let mut s = snapshot(socks);
        s.taken_at_ms = t_ms;
        s.sysctls = sysctls(&[("net.ipv4.ip_local_port_range", "40000 40999")]);
        s
    };
    let route = (ep("10.0.0.8:443"), "10.0.0.1".parse().unwrap());
    let mut t = NewConnTracker::new();
    let s = mk(1_000, 40_000..40_050);
    let first = t.observe(&s, &PortUse::of(&s), 0);
    assert_eq!(first.interval_s, None);
    assert_eq!(first.per_s(&route), None);
    // 10 of the old ones left, 40 new ones came over 2 s: 20/s, whatever the level did.
    let s = mk(3_000, 40_010..40_090);
    let second = t.observe(&s, &PortUse::of(&s), 0);
    assert_eq!(second.interval_s, Some(2.0));
    assert_eq!(second.per_s(&route), Some(20.0));
    // Another namespace, or polls too far apart, measure nothing.
    let mut other = mk(4_000, 40_000..40_100);
    other.netns = "other".into();
    assert_eq!(t.observe(&other, &PortUse::of(&other), 0).interval_s, None);
    let s = mk(60_000, 40_000..40_100);
    assert_eq!(t.observe(&s, &PortUse::of(&s), 0).interval_s, None);
    // With a floor: a route first seen is all new; one seen below the floor is unknown.
    let mut t = NewConnTracker::new();
    let s = mk(0, 40_000..40_005);
    t.observe(&s, &PortUse::of(&s), 10);
    let s = mk(1_000, 40_000..40_030);
    let n = t.observe(&s, &PortUse::of(&s), 10);
    assert_eq!(n.interval_s, Some(1.0));
    assert_eq!(
        n.per_s(&route),
        None,
        "5 ports were below the floor: not kept"
    );
    let s = mk(2_000, 40_000..40_045);
    assert_eq!(
        t.observe(&s, &PortUse::of(&s), 10).per_s(&route),
        Some(15.0)
    );
    let other_route = (ep("10.0.0.9:80"), "10.0.0.1".parse().unwrap());
    let mut s = mk(3_000, 40_000..40_045);
    s.sockets.extend((0..12u16).map(|i| {
        sock(
            TcpState::SynSent,
            &format!("10.0.0.1:{}", 40_500 + i),
            "10.0.0.9:80",
            Owner::Process(42),
        )
    }));
    let n = t.observe(&s, &PortUse::of(&s), 10);
    assert_eq!(n.per_s(&other_route), Some(12.0), "a new route is all new");
    assert_eq!(
        n.per_s(&route),
        Some(7.5),
        "15 then 0 over the window's 2 s"
    );
    assert_eq!(n.window_s(&route), Some(2.0));
    // The window keeps 10 s: a quiet minute later the burst is forgotten.
    let mut last = None;
    for k in 4..16i64 {
        let s = mk(k * 1_000, 40_000..40_045);
        last = Some(t.observe(&s, &PortUse::of(&s), 10));
    }
    let n = last.unwrap();
    assert_eq!(n.per_s(&route), Some(0.0));
    assert_eq!(n.window_s(&route), Some(10.0));
    assert_eq!(not_in(&[1, 2, 5, 9], &[2, 3, 9]), 2);
    assert_eq!(not_in(&[], &[1]), 0);
    assert_eq!(not_in(&[7], &[]), 1);
}

#[test]
fn forecast_exhausts_when_the_steady_level_passes_the_capacity() {
    // 200 ports, nothing open, 80 in TIME_WAIT, 20 new a second held 60 s: the level heads
    // for 1200, so the 120 free ports go in 6 s.
    assert_eq!(
        forecast(200, held(80, 80), Some(20.0), TIME_WAIT_S),
        Outlook::ExhaustsIn(6.0)
    );
    // 1/s held 60 s over 28232 ports: steady at 60 (plus the 100 open ones).
    assert_eq!(
        forecast(28_232, held(160, 60), Some(1.0), TIME_WAIT_S),
        Outlook::Steady(160.0)
    );
    // Exactly at the capacity: it fills.
    assert_eq!(
        forecast(120, held(60, 60), Some(2.0), TIME_WAIT_S),
        Outlook::ExhaustsIn(30.0)
    );
    // The open connections count in the level: 150 open + 1/s × 60 reaches 200.
    assert!(matches!(
        forecast(200, held(150, 0), Some(1.0), TIME_WAIT_S),
        Outlook::ExhaustsIn(s) if (s - 50.0).abs() < 1e-9
    ));
    // A rate that fell: the population drains toward its new level.
    assert_eq!(
        forecast(1000, held(900, 900), Some(5.0), TIME_WAIT_S),
        Outlook::Steady(300.0)
    );
    // With tcp_tw_reuse a TIME_WAIT port is free again after ~2 s.
    assert_eq!(
        forecast(200, held(150, 150), Some(20.0), TW_REUSE_HOLD_S),
        Outlook::Steady(40.0)
    );
    assert_eq!(
        forecast(200, held(200, 10), Some(0.0), TIME_WAIT_S),
        Outlook::Exhausted
    );
    assert_eq!(
        forecast(200, held(10, 10), None, TIME_WAIT_S),
        Outlook::Unknown
    );
    assert_eq!(
        forecast(200, held(10, 10), Some(f64::NAN), TIME_WAIT_S),
        Outlook::Unknown
    );
    assert_eq!(
        forecast(200, held(10, 4), Some(0.0), TIME_WAIT_S),
        Outlook::Steady(6.0)
    );
    assert_eq!(
        forecast(0, held(0, 0), Some(1.0), TIME_WAIT_S),
        Outlook::Exhausted
    );
    assert!((max_rate(28_232, held(232, 100), TIME_WAIT_S) - 28_100.0 / 60.0).abs() < 1e-9);
}

#[test]
fn tw_reuse_applies_by_mode_destination_and_timestamps() {
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let ext: IpAddr = "10.0.0.1".parse().unwrap();
    let l = ep("127.0.0.1:80");
    let e = ep("10.0.0.8:443");
    assert!(tw_reuse_applies(Some(2), Some(1), lo, &l));
    assert!(!tw_reuse_applies(Some(2), Some(1), ext, &e));
    assert!(tw_reuse_applies(None, None, lo, &l), "kernel default 2");
    assert!(tw_reuse_applies(Some(1), Some(1), ext, &e));
    assert!(!tw_reuse_applies(Some(0), Some(1), lo, &l));
    assert!(!tw_reuse_applies(Some(1), Some(0), ext, &e));
    let v6 = ep("[::1]:80");
    assert!(tw_reuse_applies(
        Some(2),
        Some(1),
        "::1".parse().unwrap(),
        &v6
    ));
}
