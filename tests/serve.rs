//! The metrics endpoint as a library: routing, hostile clients (in `serve/hostile.rs`), the
//! one-dump-per-interval guarantee, the exposition's golden form, and `promtool check
//! metrics`; the UDP and UNIX families in `serve/protocols.rs`. No kernel needed: every
//! tick is a hand-built snapshot.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sockscope::analyze::aggregate::aggregate;
use sockscope::analyze::engine::Analysis;
use sockscope::analyze::finding::{Alert, AlertPhase, Finding, Severity, Subject};
use sockscope::model::RuleId;
use sockscope::model::*;
use sockscope::report::prometheus::{
    assemble, render_data, render_fleet_data, render_status, to_prometheus_text, Options, Status,
};
use sockscope::serve::{start, ServeHandle, ServeOptions, TickResult, DEFAULT_PORT};

#[path = "serve/hostile.rs"]
mod hostile;
#[path = "serve/protocols.rs"]
mod protocols;

fn sock(state: TcpState, local: &str, remote: &str, owner: Owner) -> SocketRecord {
    let mut s = SocketRecord::new(
        state,
        local.parse().unwrap(),
        remote.parse().unwrap(),
        owner,
    );
    s.inode = 1;
    s
}

fn process(pid: u32, comm: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        comm: comm.into(),
        uid: 1000,
        user: "app".into(),
        unit: None,
        container: None,
    }
}

/// A small host: a java listener with a CLOSE_WAIT leak and a SYN_RECV, a curl client with
/// TIME_WAIT, one unattributed socket, counters and one firing finding.
fn fixture() -> (Snapshot, Analysis) {
    let mut listen = sock(
        TcpState::Listen,
        "0.0.0.0:8080",
        "0.0.0.0:0",
        Owner::Process(42),
    );
    listen.send_q = 128;
    listen.recv_q = 2;
    let mut sockets = vec![listen];
    for port in 0..3 {
        sockets.push(sock(
            TcpState::CloseWait,
            "10.0.0.1:8080",
            &format!("10.0.0.9:{}", 5000 + port),
            Owner::Process(42),
        ));
    }
    sockets.push(sock(
        TcpState::SynRecv,
        "10.0.0.1:8080",
        "10.0.0.7:6000",
        Owner::ViaListener(42),
    ));
    sockets.push(sock(
        TcpState::Established,
        "10.0.0.1:41000",
        "10.0.0.8:443",
        Owner::Process(7),
    ));
    sockets.push(sock(
        TcpState::TimeWait,
        "10.0.0.1:40000",
        "10.0.0.8:443",
        Owner::Ownerless,
    ));
    sockets.push(sock(
        TcpState::Established,
        "10.0.0.1:22",
        "10.0.0.6:50000",
        Owner::Unattributed,
    ));
    let mut counters = KernelCounters::default();
    counters.tcp_ext.insert("ListenOverflows".into(), 5);
    counters.tcp_ext.insert("SyncookiesSent".into(), 0);
    counters.tcp.insert("CurrEstab".into(), 2);
    counters.tcp.insert("ActiveOpens".into(), 100);
    let snap = Snapshot {
        taken_at_ms: 0,
        source: SourceKind::Netlink,
        netns: "host".into(),
        sockets,
        protocols: Default::default(),
        udp: Vec::new(),
        unix: Vec::new(),
        processes: BTreeMap::from([(42, process(42, "java")), (7, process(7, "curl"))]),
        attribution: Attribution::default(),
        quality: SampleQuality {
            parse_errors: 1,
            ..SampleQuality::default()
        },
        counters: Some(counters),
        sysctls: None,
        collect_us: 1500,
    };
    let finding = Finding {
        rule: RuleId::CloseWaitLeak,
        severity: Severity::Warning,
        subject: Subject::Process {
            pid: 42,
            comm: "java".into(),
            user: "app".into(),
            unit: None,
            container: None,
        },
        netns: "host".into(),
        count: 3,
        growth_per_min: None,
        oldest_age_s: None,
        threshold: 2.0,
        metrics: BTreeMap::new(),
        message: "java holds 3 CLOSE_WAIT sockets".into(),
        detail: String::new(),
    };
    let resolved = Alert {
        finding: Finding {
            rule: RuleId::SynFlood,
            ..finding.clone()
        },
        phase: AlertPhase::Resolved,
        since_ms: 0,
        changed_ms: 0,
    };
    let alert = Alert {
        finding,
        phase: AlertPhase::Firing,
        since_ms: 0,
        changed_ms: 0,
    };
    let analysis = Analysis {
        aggregate: aggregate(&snap),
        alerts: vec![alert, resolved],
        findings: Vec::new(),
        rates: None,
        ages: Vec::new(),
        churn: None,
    };
    (snap, analysis)
}

fn exposition() -> String {
    let ticks = vec![fixture()];
    let errors = BTreeMap::from([("host".to_string(), 3)]);
    let data = render_data(&ticks, &errors, &Options::default());
    let status = Status {
        up: true,
        collect_errors_total: 1,
        collect_duration_s: 0.25,
        scrape_duration_s: 0.001,
        scrapes_total: 9,
        http_privileged: false,
    };
    assemble(&data, &render_status(&status))
}

fn opts(header_timeout: Duration, interval: Duration) -> ServeOptions {
    ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        interval,
        header_timeout,
        ..ServeOptions::default()
    }
}

/// A server whose tick counts its calls and serves [`fixture`].
fn serve(o: ServeOptions) -> (ServeHandle, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&calls);
    let h = start(o, move || -> TickResult {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(vec![fixture()])
    })
    .unwrap();
    (h, calls)
}

/// Sends `raw`, returns (status, whole response text). Bounded by a 10 s read timeout.
fn send(addr: SocketAddr, raw: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer (and close) before it has read all of an oversized request.
    let _ = s.write_all(raw);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    send(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
}

/// Waits (bounded) until the first tick has been published.
fn wait_up(addr: SocketAddr) {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if get(addr, "/healthz").0 == 200 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server never became healthy");
}

#[test]
fn default_bind_is_loopback() {
    let o = ServeOptions::default();
    assert!(o.listen.ip().is_loopback());
    assert_eq!(o.listen.port(), DEFAULT_PORT);
    assert!((9100..=9999).contains(&DEFAULT_PORT));
    assert_eq!(o.top_processes, 20);
    assert!(!o.pid_labels);
}

#[test]
fn routes_and_methods() {
    let (h, _) = serve(opts(Duration::from_secs(2), Duration::from_millis(100)));
    let a = h.local_addr();
    wait_up(a);
    let (code, text) = get(a, "/metrics");
    assert_eq!(code, 200);
    assert!(
        text.contains("Content-Type: text/plain; version=0.0.4"),
        "{text}"
    );
    assert!(text.contains("sockscope_sockets{netns=\"host\",state=\"CLOSE_WAIT\"} 3"));
    assert!(!text.contains("# EOF"));
    let (code, text) = send(
        a,
        b"GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text; version=1.0.0\r\n\r\n",
    );
    assert_eq!(code, 200);
    assert!(text.contains("application/openmetrics-text"));
    assert!(text.trim_end().ends_with("# EOF"));
    assert_eq!(get(a, "/healthz"), (200, get(a, "/healthz").1));
    assert!(get(a, "/healthz").1.ends_with("ok\n"));
    let (code, text) = get(a, "/");
    assert_eq!(code, 200);
    assert!(text.contains("href=\"/metrics\""));
    assert_eq!(get(a, "/nope").0, 404);
    assert_eq!(get(a, "/metrics/extra").0, 404);
    let (code, text) = send(a, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(code, 405);
    assert!(text.contains("Allow: GET, HEAD"));
    let (code, text) = send(a, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(code, 200);
    assert!(text.ends_with("\r\n\r\n"), "HEAD has no body");
    h.shutdown();
}

#[test]
fn concurrent_scrapes_do_not_multiply_collections() {
    let interval = Duration::from_millis(300);
    let (h, calls) = serve(opts(Duration::from_secs(2), interval));
    let a = h.local_addr();
    wait_up(a);
    let before = calls.load(Ordering::SeqCst);
    let t0 = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut ok = 0;
                for _ in 0..15 {
                    if get(a, "/metrics").0 == 200 {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let ok: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let elapsed = t0.elapsed();
    let made = calls.load(Ordering::SeqCst) - before;
    let allowed = u64::try_from(elapsed.as_millis() / interval.as_millis()).unwrap() + 2;
    assert!(ok >= 100, "most of 120 scrapes succeed, got {ok}");
    assert!(
        made <= allowed,
        "{made} ticks in {elapsed:?} (allowed {allowed})"
    );
    h.shutdown();
}

#[test]
fn failed_ticks_keep_last_data_and_report_down() {
    let calls = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&calls);
    let h = start(
        opts(Duration::from_secs(2), Duration::from_millis(50)),
        move || {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                Ok(vec![fixture()])
            } else {
                Err("netlink went away".into())
            }
        },
    )
    .unwrap();
    let a = h.local_addr();
    let until = Instant::now() + Duration::from_secs(10);
    while calls.load(Ordering::SeqCst) < 3 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, text) = get(a, "/metrics");
    assert!(text.contains("sockscope_up 0"), "{text}");
    assert!(text.contains("sockscope_sockets{netns=\"host\",state=\"CLOSE_WAIT\"} 3"));
    assert!(!text.contains("sockscope_collect_errors_total 0\n"));
    let (code, text) = get(a, "/healthz");
    assert_eq!(code, 503);
    assert!(text.contains("netlink went away"));
    h.shutdown();
}

#[test]
fn exposition_golden() {
    insta::assert_snapshot!(exposition());
}

#[test]
fn cardinality_is_capped_and_pid_labels_are_opt_in() {
    let (snap, analysis) = fixture();
    let ticks = vec![(snap, analysis)];
    let none = BTreeMap::new();
    let capped = Options {
        top_processes: 1,
        top_listeners: 0,
        ..Options::default()
    };
    let text = render_data(&ticks, &none, &capped);
    assert!(text.contains("comm=\"java\""));
    assert!(!text.contains("comm=\"curl\""));
    assert!(!text.contains("sockscope_listener_backlog{"));
    assert!(!text.contains("pid=\""));
    let with_pids = Options {
        pid_labels: true,
        ..Options::default()
    };
    let text = render_data(&ticks, &none, &with_pids);
    assert!(text.contains(
        "sockscope_process_sockets{netns=\"host\",comm=\"java\",pid=\"42\",state=\"CLOSE_WAIT\"} 3"
    ));
    assert!(text.contains("subject=\"java[42]\""));
}

#[test]
fn several_namespaces_render_side_by_side() {
    let (a, aa) = fixture();
    let (mut b, mut ba) = fixture();
    b.netns = "blue".into();
    ba.alerts.clear();
    let text = render_data(&[(a, aa), (b, ba)], &BTreeMap::new(), &Options::default());
    assert!(text.contains("sockscope_sockets{netns=\"host\",state=\"LISTEN\"} 1"));
    assert!(text.contains("sockscope_sockets{netns=\"blue\",state=\"LISTEN\"} 1"));
    assert_eq!(text.matches("# TYPE sockscope_sockets gauge").count(), 1);
}

#[test]
fn netns_unreadable_is_a_fleet_gauge() {
    let ticks = vec![fixture()];
    let none = BTreeMap::new();
    let o = Options::default();
    // One namespace: no sweep ran, so no gauge (rather than a 0 that claims one did).
    assert!(!render_data(&ticks, &none, &o).contains("netns_unreadable"));
    assert_eq!(
        render_fleet_data(&ticks, &none, None, &o),
        render_data(&ticks, &none, &o)
    );
    for n in [0u64, 3] {
        let data = render_fleet_data(&ticks, &none, Some(n), &o);
        let text = to_prometheus_text(&assemble(&data, ""));
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("sockscope_netns_unreadable"))
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("# HELP sockscope_netns_unreadable "));
        assert_eq!(lines[1], "# TYPE sockscope_netns_unreadable gauge");
        assert_eq!(lines[2], format!("sockscope_netns_unreadable {n}"));
    }
    // Every namespace unreadable: nothing collected, the gauge still says so.
    let data = render_fleet_data(&[], &none, Some(2), &o);
    assert!(data.contains("sockscope_netns_unreadable 2\n"), "{data}");
    promtool_lints_clean(&to_prometheus_text(&assemble(
        &render_fleet_data(&ticks, &none, Some(1), &o),
        &render_status(&Status::default()),
    )));
}

#[test]
fn promtool_accepts_the_exposition() {
    promtool_lints_clean(&to_prometheus_text(&exposition()));
}

/// `promtool check metrics` passes `text` with nothing to say (when promtool is installed;
/// CI installs it).
fn promtool_lints_clean(text: &str) {
    let promtool = std::path::Path::new("/usr/bin/promtool");
    if !promtool.exists() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "promtool is required under CI (apt-get install prometheus)"
        );
        eprintln!("skipped: /usr/bin/promtool absent (apt-get install prometheus)");
        return;
    }
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {report}\n---\n{text}");
    assert!(
        report.trim().is_empty(),
        "promtool lint: {report}\n---\n{text}"
    );
}

#[test]
fn data_part_converted_once_per_tick_matches_whole_conversion() {
    // The server converts the data part per tick and the status lines per scrape; joined,
    // they must equal converting the whole exposition.
    let ticks = vec![fixture()];
    let errors = BTreeMap::from([("host".to_string(), 3)]);
    let data = render_data(&ticks, &errors, &Options::default());
    let status = render_status(&Status {
        up: false,
        collect_errors_total: 4,
        collect_duration_s: 0.5,
        scrape_duration_s: 0.002,
        scrapes_total: 11,
        http_privileged: false,
    });
    let whole = to_prometheus_text(&assemble(&data, &status));
    let split = to_prometheus_text(&data) + &to_prometheus_text(&status);
    assert_eq!(whole, split);
    assert!(
        whole.contains("_total"),
        "the fixture has counters to rewrite"
    );
}

/// Before the first collection has finished, a scrape waits for it (up to
/// `ready_wait`, then 503 with `Retry-After`), never `sockscope_up 0` (an `up == 0` alert
/// would fire on every restart), and `/healthz` says "starting"; once it has, 200 and
/// `up 1`. A first tick that fails is a real answer: `up 0` then.
#[test]
fn no_up_0_before_the_first_collection() {
    let (release, gate) = std::sync::mpsc::channel::<bool>();
    let mut o = opts(Duration::from_secs(2), Duration::from_millis(100));
    o.ready_wait = Duration::from_millis(300);
    let h = start(o, move || -> TickResult {
        // The first tick waits for the test; later ones run at once.
        match gate.recv_timeout(Duration::from_secs(20)) {
            Ok(true) | Err(_) => Ok(vec![fixture()]),
            Ok(false) => Err("first tick failed".into()),
        }
    })
    .unwrap();
    let a = h.local_addr();
    let (code, text) = get(a, "/healthz");
    assert_eq!(
        (code, text.ends_with("\r\n\r\nstarting\n")),
        (503, true),
        "{text}"
    );
    for _ in 0..2 {
        let t0 = Instant::now();
        let (code, text) = get(a, "/metrics");
        assert_eq!(code, 503, "{text}");
        assert!(
            t0.elapsed() >= Duration::from_millis(300),
            "not held: {:?}",
            t0.elapsed()
        );
        assert!(text.contains("Retry-After: 1"), "{text}");
        assert!(!text.contains("sockscope_up"), "{text}");
    }
    // A scrape that arrives before the first tick ends is held, then answered with it.
    let held = std::thread::spawn(move || get(a, "/metrics"));
    std::thread::sleep(Duration::from_millis(100));
    release.send(true).unwrap();
    let (code, text) = held.join().unwrap();
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("sockscope_up 1"), "{text}");
    wait_up(a);
    h.shutdown();

    let (release, gate) = std::sync::mpsc::channel::<bool>();
    let h = start(
        opts(Duration::from_secs(2), Duration::from_millis(100)),
        move || -> TickResult {
            match gate.recv_timeout(Duration::from_secs(20)) {
                Ok(false) | Err(_) => Err("collection failed".into()),
                Ok(true) => Ok(vec![fixture()]),
            }
        },
    )
    .unwrap();
    let a = h.local_addr();
    release.send(false).unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (code, text) = get(a, "/metrics");
        if code == 200 {
            break text;
        }
        assert!(
            Instant::now() < until,
            "still {code} after a failed tick:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(text.contains("sockscope_up 0"), "{text}");
    h.shutdown();
}
