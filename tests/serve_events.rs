//! `sockscope serve` with the kernel's destroy events (issue 15), through the real binary as
//! root in a private namespace, loopback only: `sockscope_socket_destroys_total` grows by
//! exactly the sockets closed (both ends of each connection, and the listener), the lost
//! counter is exported, the top remote endpoint is the listener; without CAP_NET_ADMIN
//! `sockscope_socket_events_up` is 0 with a one-line notice and no event counter.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The value of the one series of `text` whose line starts with `prefix`.
fn value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn destroys_total_counts_both_ends_of_every_short_connection() {
    if !require_root(
        "destroys_total_counts_both_ends_of_every_short_connection",
        "it creates a network namespace and joins sock_diag's destroy groups",
    ) {
        return;
    }
    let ns = Netns::new("sev");
    let mut server = Server::start(
        "",
        &[
            "serve",
            "--netns",
            &ns.name,
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "200ms",
        ],
    );
    let addr = server.addr();
    let up = format!("sockscope_socket_events_up{{netns=\"{}\"}}", ns.name);
    let destroys = format!(
        "sockscope_socket_destroys_total{{netns=\"{}\",protocol=\"tcp\"}}",
        ns.name
    );
    let lost = format!(
        "sockscope_socket_destroy_events_lost_total{{netns=\"{}\"}}",
        ns.name
    );
    let text = wait_for("events up", Duration::from_secs(10), || {
        let t = scrape(&addr);
        (value(&t, &up) == Some(1.0)).then_some(t)
    });
    let before = value(&text, &destroys).unwrap_or_else(|| panic!("no {destroys}: {text}"));

    const N: u64 = 150;
    let script = pop_script().with_file_name("short_conns.py");
    let mut conns = ns
        .cmd(
            &python(),
            &[
                script.to_str().unwrap(),
                "--count",
                &N.to_string(),
                "--hold-ms",
                "5",
            ],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Scrape while the connections come and go: the top-remote gauge is per interval.
    let mut top_remotes: std::collections::HashMap<String, f64> = Default::default();
    let started = Instant::now();
    while conns.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "short_conns hung"
        );
        let t = scrape(&addr);
        for l in t
            .lines()
            .filter(|l| l.starts_with("sockscope_remote_closes_per_second{"))
        {
            let (series, v) = l.rsplit_once(' ').unwrap();
            let best = top_remotes.entry(series.to_string()).or_default();
            *best = best.max(v.parse().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = conns.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let port = v["port"].as_u64().unwrap();
    // Each connection's two ends, and the listener.
    let want = before + (2 * N + 1) as f64;
    let text = wait_for("every close counted", Duration::from_secs(10), || {
        let t = scrape(&addr);
        (value(&t, &destroys) == Some(want)).then_some(t)
    });
    assert_eq!(value(&text, &lost), Some(0.0), "{text}");
    let short = format!(
        "sockscope_socket_short_lived_total{{netns=\"{}\"}}",
        ns.name
    );
    assert!(value(&text, &short).is_some(), "{text}");
    assert!(
        text.contains("# TYPE sockscope_socket_destroys_total counter"),
        "{text}"
    );
    // The client ends' remote is the listener: no remote endpoint closed faster.
    let (top, _) = top_remotes
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap_or_else(|| panic!("no top remote seen"));
    assert!(
        top.contains(&format!("remote=\"127.0.0.1:{port}\"")),
        "{top_remotes:?}"
    );
    // A few more scrapes: the counter holds (no close happens any more).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(value(&scrape(&addr), &destroys), Some(want));
}

#[test]
fn unix_only_serve_says_events_are_off_and_exports_no_event_counter() {
    if !require_root(
        "unix_only_serve_says_events_are_off_and_exports_no_event_counter",
        "it creates a network namespace",
    ) {
        return;
    }
    let ns = Netns::new("sevx");
    let mut server = Server::start(
        "",
        &[
            "serve",
            "-x",
            "--netns",
            &ns.name,
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "200ms",
        ],
    );
    let addr = server.addr();
    let up = format!("sockscope_socket_events_up{{netns=\"{}\"}}", ns.name);
    let text = wait_for("a first tick", Duration::from_secs(10), || {
        let t = scrape(&addr);
        value(&t, &up).map(|_| t)
    });
    assert_eq!(value(&text, &up), Some(0.0), "{text}");
    assert!(!text.contains("sockscope_socket_destroys_total{"), "{text}");
    assert!(
        !text.contains("sockscope_socket_destroy_events_lost_total{"),
        "{text}"
    );
    let notices: Vec<&String> = server
        .stderr()
        .iter()
        .filter(|l| l.contains("destroy events off"))
        .collect();
    assert_eq!(notices.len(), 1, "{:?}", server.stderr());
    assert!(notices[0].contains("TCP and UDP only"), "{}", notices[0]);
}

/// Measured on 6.18: sock_diag lets any user join its destroy groups (of its own
/// namespace), so without CAP_NET_ADMIN events are still read, with a receive buffer
/// capped at net.core.rmem_max. A kernel that refuses must say so: never a silent zero.
#[test]
fn without_net_admin_events_are_read_or_said_to_be_off() {
    if !require_root(
        "without_net_admin_events_are_read_or_said_to_be_off",
        "it drops CAP_NET_ADMIN from root with setpriv",
    ) {
        return;
    }
    let ns = Netns::new("sevcap");
    let mut c = Command::new("setpriv");
    c.args(["--inh-caps=-net_admin", "--bounding-set=-net_admin"])
        .arg(sockscope_path())
        .args([
            "serve",
            "--netns",
            &ns.name,
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "200ms",
        ]);
    let mut server = Server::spawn(c);
    let addr = server.addr();
    let up = format!("sockscope_socket_events_up{{netns=\"{}\"}}", ns.name);
    let text = wait_for("a first tick", Duration::from_secs(10), || {
        let t = scrape(&addr);
        value(&t, &up).map(|_| t)
    });
    let off: Vec<String> = server
        .stderr()
        .iter()
        .filter(|l| l.contains("destroy events off"))
        .cloned()
        .collect();
    match value(&text, &up) {
        Some(1.0) => {
            assert!(off.is_empty(), "{off:?}");
            assert!(text.contains("sockscope_socket_destroys_total{"), "{text}");
        }
        _ => {
            assert_eq!(off.len(), 1, "{:?}", server.stderr());
            assert!(off[0].contains("destroy groups"), "{}", off[0]);
            assert!(!text.contains("sockscope_socket_destroys_total{"), "{text}");
        }
    }
}
