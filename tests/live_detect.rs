//! Live detection tests (issue 3): `sockscope check` on real buildups.
//!
//! Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. First line Nagios style:
//! `SOCKSCOPE CRITICAL - close_wait_leak: pid 4242 (java) holds 812 CLOSE_WAIT (…)`.
//! Floods and storms run in private namespaces so nothing else on the machine shows up; the
//! host-side leak test narrows `check` to its own pid with `--process`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const RULES: [&str; 6] = [
    "close_wait_leak",
    "syn_flood",
    "accept_queue_overflow",
    "time_wait_storm",
    "fin_wait2_buildup",
    "orphans",
];

/// Runs `check` (inside `--netns` when given) and returns (exit code, stdout, stderr).
fn check(netns: Option<&str>, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["check"];
    if let Some(ns) = netns {
        args.extend_from_slice(&["--netns", ns]);
    }
    args.extend_from_slice(extra);
    parts(&run_sockscope(None, &args))
}

fn assert_alerting(code: i32, out: &str, err: &str) -> String {
    assert!(
        matches!(code, 1 | 2),
        "exit {code}, want 1|2\nstdout:\n{out}\nstderr:\n{err}"
    );
    let first = out.lines().next().unwrap_or_default().to_string();
    let level = if code == 1 { "WARNING" } else { "CRITICAL" };
    assert!(
        first.starts_with(&format!("SOCKSCOPE {level} - ")),
        "first line not Nagios style for exit {code}: {first:?}"
    );
    first
}

#[test]
fn growing_close_wait_leak_names_pid_and_comm() {
    if !require_root(
        "growing_close_wait_leak_names_pid_and_comm",
        "attribution needs every /proc/<pid>/fd",
    ) {
        return;
    }
    let pop = Population::spawn(
        None,
        &[
            "closewait",
            "--count",
            "300",
            "--grow-per-sec",
            "100",
            "--max-count",
            "3000",
        ],
    );
    let pid = pop.pid().to_string();
    let (code, out, err) = check(None, &["--interval", "2s", "--process", &pid]);
    assert_alerting(code, &out, &err);
    // Any line: a host-wide finding (e.g. orphans from other activity) may outrank ours.
    let want = format!("close_wait_leak: pid {pid} ({}) holds ", pop.comm());
    let line = out
        .lines()
        .find(|l| l.contains(&want))
        .unwrap_or_else(|| panic!("want {want:?} in:\n{out}"));
    assert!(line.contains("CLOSE_WAIT"), "{line}");

    let (code, out, err) = check(
        None,
        &["--interval", "1s", "--process", &pid, "--format", "json"],
    );
    assert!(matches!(code, 1 | 2), "json exit {code}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{out}"));
    let flat = v.to_string();
    assert!(
        flat.contains("close_wait_leak") && flat.contains(&pid),
        "{v}"
    );
}

fn syn_flood_detected(syncookies: &str) {
    let pair = NetnsPair::new(&format!("dsyn{syncookies}"));
    pair.b.sysctl("net.ipv4.tcp_syncookies", syncookies);
    let lst = Population::spawn(pair.b.some(), &["listen", "--backlog", "64"]);
    let port = lst.port();
    let (dst, net, ps) = (pair.b_addr(), pair.net(), port.to_string());
    // A burst to fill the queue, then a steady 200 SYN/s while `check` measures its rates.
    let _syn = Population::spawn_hold(
        pair.a.some(),
        30,
        &[
            "synflood",
            "--dst",
            &dst,
            "--dport",
            &ps,
            "--src-net",
            &net,
            "--count",
            "300",
            "--rate",
            "200",
        ],
    );
    let synrecv = || {
        ss_counts(pair.b.some(), &sport(port))
            .get("SYN_RECV")
            .copied()
            .unwrap_or(0)
    };
    if syncookies == "2" {
        wait_for("SyncookiesSent", Duration::from_secs(5), || {
            (kernel_counter(pair.b.some(), "SyncookiesSent") >= 250).then_some(())
        });
        assert_eq!(synrecv(), 0, "syncookies=2 keeps no request sockets");
    } else {
        wait_for("SYN_RECV at backlog", Duration::from_secs(5), || {
            (synrecv() >= 60).then_some(())
        });
    }
    let (code, out, err) = check(pair.b.some(), &["--interval", "2s"]);
    assert_alerting(code, &out, &err);
    let line = out
        .lines()
        .find(|l| l.contains("syn_flood"))
        .unwrap_or_else(|| panic!("no syn_flood finding:\n{out}"));
    assert!(
        line.contains(&format!(":{port}")),
        "syn_flood must name the listener :{port}: {line}"
    );
    if syncookies == "2" {
        assert_eq!(synrecv(), 0);
    }
}

#[test]
fn syn_flood_with_syncookies_1() {
    if !require_root(
        "syn_flood_with_syncookies_1",
        "it creates namespaces and raw sockets",
    ) {
        return;
    }
    syn_flood_detected("1");
}

#[test]
fn syn_flood_with_syncookies_2_and_zero_syn_recv() {
    if !require_root(
        "syn_flood_with_syncookies_2_and_zero_syn_recv",
        "it creates namespaces and raw sockets",
    ) {
        return;
    }
    syn_flood_detected("2");
}

#[test]
fn never_accepting_listener_is_accept_queue_overflow_not_syn_flood() {
    if !require_root(
        "never_accepting_listener_is_accept_queue_overflow_not_syn_flood",
        "it creates a namespace",
    ) {
        return;
    }
    let ns = Netns::new("daq");
    let pop = Population::spawn(
        ns.some(),
        &["acceptoverflow", "--backlog", "8", "--clients", "20"],
    );
    let (code, out, err) = check(ns.some(), &["--interval", "2s"]);
    assert_alerting(code, &out, &err);
    let line = out
        .lines()
        .find(|l| l.contains("accept_queue_overflow"))
        .unwrap_or_else(|| panic!("no accept_queue_overflow finding:\n{out}"));
    assert!(
        line.contains(&format!(":{}", pop.port())),
        "must name the listener: {line}"
    );
    assert!(
        !out.contains("syn_flood"),
        "slow accept() is not a SYN flood:\n{out}"
    );
}

#[test]
fn time_wait_storm_names_destination() {
    if !require_root(
        "time_wait_storm_names_destination",
        "it creates a namespace",
    ) {
        return;
    }
    let ns = Netns::new("dtw");
    ns.sysctl("net.ipv4.ip_local_port_range", "40000 40499");
    ns.sysctl("net.ipv4.tcp_tw_reuse", "0");
    let pop = Population::spawn(ns.some(), &["timewait", "--count", "480"]);
    assert!(pop.u64("count") >= 470, "{}", pop.ready);
    let (code, out, err) = check(ns.some(), &["--interval", "1s"]);
    assert_alerting(code, &out, &err);
    let dest = format!("127.0.0.1:{}", pop.port());
    let line = out
        .lines()
        .find(|l| l.contains("time_wait_storm"))
        .unwrap_or_else(|| panic!("no time_wait_storm finding:\n{out}"));
    assert!(line.contains(&dest), "must name destination {dest}: {line}");
}

#[test]
fn empty_namespace_is_ok() {
    if !require_root("empty_namespace_is_ok", "it creates a namespace") {
        return;
    }
    let ns = Netns::new("dok");
    let (code, out, err) = check(ns.some(), &["--interval", "1s"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.starts_with("SOCKSCOPE OK"), "{out}");
    for r in RULES {
        assert!(
            !out.contains(r),
            "finding {r} in an empty namespace:\n{out}"
        );
    }
    let (code, out, err) = check(ns.some(), &["--interval", "1s", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{out}"));
    // Shape of check JSON beyond this is the lead's: no findings, and OK if a status is given.
    if let Some(f) = v.get("findings") {
        assert_eq!(f.as_array().map(Vec::len), Some(0), "{v}");
    }
    if let Some(s) = v.get("status") {
        assert_eq!(s, "OK", "{v}");
    }
}
