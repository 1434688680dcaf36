//! `port_exhaustion` over hand-built snapshot pairs, and its agreement with
//! `time_wait_storm` on the numbers they share.

use crate::analyze::engine::check;
use crate::analyze::finding::{Finding, Severity, Subject};
use crate::config::Thresholds;
use crate::model::fixtures::{snapshot, sock};
use crate::model::*;

/// A snapshot at `t_ms` with TIME_WAIT sockets from `src` on `ports` toward `dst`, the
/// range 40000-40199 and the given `tcp_tw_reuse`.
fn tw(t_ms: i64, src: &str, dst: &str, ports: std::ops::Range<u16>, reuse: &str) -> Snapshot {
    let socks = ports
        .map(|p| {
            sock(
                TcpState::TimeWait,
                &format!("{src}:{p}"),
                dst,
                Owner::Ownerless,
            )
        })
        .collect();
    let mut s = snapshot(socks);
    s.taken_at_ms = t_ms;
    let mut sys = Sysctls::default();
    for (k, v) in [
        ("net.ipv4.ip_local_port_range", "40000 40199"),
        ("net.ipv4.tcp_tw_reuse", reuse),
        ("net.ipv4.ip_local_reserved_ports", ""),
    ] {
        sys.values.insert(k.into(), v.into());
    }
    s.sysctls = Some(sys);
    s
}

fn of(fs: &[Finding], rule: RuleId) -> Vec<&Finding> {
    fs.iter().filter(|f| f.rule == rule).collect()
}

fn route(src: &str, dst: &str) -> Subject {
    let a: std::net::SocketAddr = dst.parse().unwrap();
    Subject::Route {
        source: src.parse().unwrap(),
        remote: Endpoint::new(a.ip(), a.port()),
    }
}

#[test]
fn forecasts_exhaustion_from_the_new_four_tuples_between_two_polls() {
    let dst = "10.0.0.8:443";
    // 80 held, then 100 one second later: 20 new a second, none left yet.
    let a = tw(0, "10.0.0.1", dst, 40_000..40_080, "0");
    let b = tw(1_000, "10.0.0.1", dst, 40_000..40_100, "0");
    let fs = check(&Thresholds::default(), &[a.clone(), b.clone()]);
    let f = of(&fs, RuleId::PortExhaustion);
    assert_eq!(f.len(), 1, "{fs:#?}");
    let f = f[0];
    assert_eq!(f.subject, route("10.0.0.1", dst));
    assert_eq!(f.severity, Severity::Critical, "5 s is under crit_minutes");
    assert_eq!(
        f.message,
        "10.0.0.1 -> 10.0.0.8:443: 100 of 200 ports held (100 TIME_WAIT), 20.0 new/s: \
         exhausted in 5s"
    );
    assert_eq!(f.metrics["exhausts_in_s"], 5.0);
    assert_eq!(f.metrics["new_per_s"], 20.0);
    assert_eq!(f.metrics["usable_ports"], 200.0);
    assert!(f.detail.contains("(200 − 100) / 20.0 = 5s"), "{}", f.detail);
    assert!(f.detail.contains("no Tcp or TcpExt counter moves"));
    assert!(!f.detail.contains("tcp_tw_recycle=1"));
    // A single poll: no rate, judged on the fill alone (100 of 200 is warn_fill's 50%).
    let fs = check(&Thresholds::default(), &[b]);
    let f = of(&fs, RuleId::PortExhaustion)[0];
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.message,
        "10.0.0.1 -> 10.0.0.8:443: 100 of 200 ports held (100 TIME_WAIT), rate not measured yet"
    );
    assert!(!f.metrics.contains_key("exhausts_in_s"));
    // A slower client that can never fill the range: steady, and a fill that warns.
    let a = tw(0, "10.0.0.1", dst, 40_000..40_150, "0");
    let b = tw(2_000, "10.0.0.1", dst, 40_001..40_151, "0");
    let fs = check(&Thresholds::default(), &[a, b]);
    let f = of(&fs, RuleId::PortExhaustion)[0];
    assert_eq!(
        f.severity,
        Severity::Warning,
        "150 of 200 is past warn_fill 0.7"
    );
    assert!(
        f.message.ends_with("0.5 new/s: steady at 30 of 200"),
        "{}",
        f.message
    );
    assert_eq!(f.metrics["steady_level"], 30.0);
}

#[test]
fn tw_reuse_on_loopback_frees_time_wait_ports() {
    let dst = "127.0.0.1:8080";
    let mk = |reuse| {
        [
            tw(0, "127.0.0.1", dst, 40_000..40_170, reuse),
            tw(1_000, "127.0.0.1", dst, 40_000..40_190, reuse),
        ]
    };
    let fs = check(&Thresholds::default(), &mk("0"));
    let f = of(&fs, RuleId::PortExhaustion);
    assert_eq!(f[0].severity, Severity::Critical);
    assert_eq!(f[0].metrics["tw_reuse_applies"], 0.0);
    // The kernel's default (2) reuses loopback TIME_WAIT after ~1 s: 20/s × 2 s blocks 40.
    let fs = check(&Thresholds::default(), &mk("2"));
    assert!(of(&fs, RuleId::PortExhaustion).is_empty(), "{fs:#?}");
    let mut th = Thresholds::default();
    th.apply_override("port_exhaustion.warn_fill=0.1").unwrap();
    // The time thresholds keep their order, and say which one broke it.
    let e = th
        .clone()
        .apply_override("port_exhaustion.crit_minutes=45")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "override `port_exhaustion.crit_minutes=45`: port_exhaustion.crit_minutes: must be \
         <= warn_minutes (30)"
    );
    let fs = check(&th, &mk("2"));
    let f = of(&fs, RuleId::PortExhaustion)[0];
    assert_eq!(f.metrics["tw_reuse_applies"], 1.0);
    assert_eq!(f.metrics["hold_s"], 2.0);
    assert!(f.message.ends_with("steady at 40 of 200"), "{}", f.message);
}

#[test]
fn agrees_with_time_wait_storm_on_every_destination() {
    let dst = "10.0.0.8:443";
    let mut a = tw(0, "10.0.0.1", dst, 40_000..40_150, "0");
    let mut b = tw(1_000, "10.0.0.1", dst, 40_000..40_170, "0");
    // A second source address toward the same destination, and open connections.
    for (s, n) in [(&mut a, 120u16), (&mut b, 130)] {
        let more = tw(0, "10.0.0.2", dst, 40_000..40_000 + n, "0").sockets;
        s.sockets.extend(more);
        s.sockets.push(sock(
            TcpState::Established,
            "10.0.0.2:40190",
            dst,
            Owner::Process(42),
        ));
        // A server's listener inside the range: its port is bound, its children are not
        // client sockets.
        s.sockets.push(sock(
            TcpState::Listen,
            "0.0.0.0:40199",
            "0.0.0.0:0",
            Owner::Process(42),
        ));
        s.sockets.push(sock(
            TcpState::TimeWait,
            "10.0.0.1:40199",
            dst,
            Owner::Ownerless,
        ));
    }
    let fs = check(&Thresholds::default(), &[a, b]);
    let storm = of(&fs, RuleId::TimeWaitStorm);
    let storm = storm
        .iter()
        .find(|f| matches!(f.subject, Subject::Destination { .. }))
        .expect("time_wait_storm toward the destination");
    let routes = of(&fs, RuleId::PortExhaustion);
    assert_eq!(routes.len(), 2, "{fs:#?}");
    let sum = |k: &str| routes.iter().map(|f| f.metrics[k]).sum::<f64>();
    assert_eq!(storm.metrics["ports_in_use"], sum("ports_held"));
    assert_eq!(storm.metrics["ports_in_use"], 170.0 + 131.0);
    assert_eq!(storm.metrics["time_wait"], sum("time_wait"));
    assert_eq!(storm.metrics["port_capacity"], sum("usable_ports"));
    assert_eq!(storm.metrics["port_capacity"], 2.0 * 199.0);
    assert_eq!(
        storm.metrics["usable_ports"],
        routes[0].metrics["usable_ports"]
    );
    assert_eq!(storm.metrics["source_addresses"], 2.0);
}

#[test]
fn route_subjects_print_and_round_trip() {
    let s = route("10.0.0.1", "10.0.0.8:443");
    assert_eq!(s.to_string(), "10.0.0.1 -> 10.0.0.8:443");
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["kind"], "route");
    assert_eq!(v["source"], "10.0.0.1");
    assert_eq!(serde_json::from_value::<Subject>(v).unwrap(), s);
    let v6 = route("::1", "[::1]:80");
    assert_eq!(v6.to_string(), "::1 -> [::1]:80");
}

/// With one source address and no rate yet, both rules judge the same ports against the
/// same default levels: they fire together and with the same severity.
#[test]
fn one_source_severities_agree_with_time_wait_storm() {
    let dst = "10.0.0.8:443";
    for n in (40..=200u16).step_by(5) {
        let snap = tw(0, "10.0.0.1", dst, 40_000..40_000 + n, "0");
        let fs = check(&Thresholds::default(), &[snap]);
        let sev = |rule| of(&fs, rule).first().map(|f| f.severity);
        assert_eq!(
            sev(RuleId::TimeWaitStorm),
            sev(RuleId::PortExhaustion),
            "{n} of 200 held: {fs:#?}"
        );
    }
}

/// Before a second poll, destroy events give the rate when the destination has one source.
#[test]
fn destroy_events_give_the_rate_before_a_second_poll() {
    use crate::analyze::engine::Analyzer;
    use crate::analyze::events::{Churn, EventWindow};
    let dst = "10.0.0.8:443";
    let a: std::net::SocketAddr = dst.parse().unwrap();
    let mut window = EventWindow::default();
    window.remotes.insert(Endpoint::new(a.ip(), a.port()), 40);
    let churn = Churn {
        seconds: 2.0,
        window,
    };
    let snap = tw(0, "10.0.0.1", dst, 40_000..40_150, "0");
    let mut an = Analyzer::for_check(Thresholds::default());
    let fs = an.observe_with_events(&snap, Some(churn.clone())).findings;
    let f = of(&fs, RuleId::PortExhaustion)[0];
    assert_eq!(f.metrics["events.closes_per_s"], 20.0);
    assert_eq!(f.metrics["exhausts_in_s"], 2.5);
    assert!(
        f.detail.contains("destroy events over 2.0 s"),
        "{}",
        f.detail
    );
    // Two source addresses toward it: the events cannot be split between them.
    let mut two = snap.clone();
    two.sockets
        .extend(tw(0, "10.0.0.2", dst, 40_000..40_060, "0").sockets);
    let mut an = Analyzer::for_check(Thresholds::default());
    let fs = an.observe_with_events(&two, Some(churn)).findings;
    for f in of(&fs, RuleId::PortExhaustion) {
        assert!(!f.metrics.contains_key("new_per_s"), "{f:#?}");
        assert!(
            f.message.ends_with("rate not measured yet"),
            "{}",
            f.message
        );
    }
}

/// The reviewer's case: loopback, tcp_tw_reuse=2 (the kernel's default), 170 then 190 of
/// 200 ports in TIME_WAIT at 20 new/s. Only the ~2 s of young TIME_WAIT blocks a connect():
/// port_exhaustion says "steady at 40 of 200", so time_wait_storm must not claim the
/// ports are running out (nor that each one holds its port for 60 s); with reuse off both
/// fire on the same ports.
#[test]
fn loopback_with_tw_reuse_never_disagrees_with_time_wait_storm() {
    let dst = "127.0.0.1:8080";
    let mk = |reuse| {
        [
            tw(0, "127.0.0.1", dst, 40_000..40_170, reuse),
            tw(1_000, "127.0.0.1", dst, 40_000..40_190, reuse),
        ]
    };
    let dest_storm = |fs: &[Finding]| -> Option<Finding> {
        of(fs, RuleId::TimeWaitStorm)
            .into_iter()
            .find(|f| matches!(f.subject, Subject::Destination { .. }))
            .cloned()
    };
    let fs = check(&Thresholds::default(), &mk("2"));
    assert!(of(&fs, RuleId::PortExhaustion).is_empty(), "{fs:#?}");
    assert_eq!(dest_storm(&fs), None, "{fs:#?}");

    // Lowered thresholds: both fire, on the same 40 blocking ports, and the words say
    // the hold is ~2 s, not 60 s.
    let mut th = Thresholds::default();
    th.apply_override("port_exhaustion.warn_fill=0.1").unwrap();
    th.apply_override("time_wait_storm.warn_port_fill=0.1")
        .unwrap();
    let fs = check(&th, &mk("2"));
    let pe = of(&fs, RuleId::PortExhaustion)[0];
    let storm = dest_storm(&fs).expect("storm at warn_port_fill 0.1");
    assert!(
        pe.message.ends_with("steady at 40 of 200"),
        "{}",
        pe.message
    );
    assert_eq!(storm.metrics["ports_in_use"], 40.0, "{storm:#?}");
    assert_eq!(storm.metrics["ports_held"], 190.0);
    assert_eq!(storm.metrics["hold_s"], 2.0);
    assert_eq!(storm.metrics["tw_reuse_sources"], 1.0);
    assert_eq!(storm.metrics["max_new_per_s"], 100.0);
    assert_eq!(storm.count, 190, "the storm still counts every TIME_WAIT");
    assert!(
        storm
            .message
            .contains("190 TIME_WAIT (150 reusable under tcp_tw_reuse), 40 of 200"),
        "{}",
        storm.message
    );
    assert!(storm
        .detail
        .contains("tcp_tw_reuse lets a new connection take one"));
    assert!(
        !storm.detail.contains("holds its port for 60 s."),
        "{}",
        storm.detail
    );

    // Reuse off: both judge all 190 ports, both Critical.
    let fs = check(&Thresholds::default(), &mk("0"));
    let pe = of(&fs, RuleId::PortExhaustion)[0];
    let storm = dest_storm(&fs).expect("storm without reuse");
    assert_eq!(
        (pe.severity, storm.severity),
        (Severity::Critical, Severity::Critical)
    );
    assert_eq!(storm.metrics["ports_in_use"], pe.metrics["ports_held"]);
    assert!(
        storm.detail.contains("holds its port for 60 s."),
        "{}",
        storm.detail
    );
}
