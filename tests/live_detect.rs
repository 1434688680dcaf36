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

/// A server holding CLOSE_WAIT sockets of all three kinds, in a private namespace: 80 that
/// read the end of stream (Recv-Q 0), 70 whose peer sent nothing (Recv-Q 1: the FIN), 60 whose
/// peer sent 10 bytes first (Recv-Q 11). The finding's three counts and data bytes equal what
/// `ss` shows for the same sockets, and its words keep the FIN apart from data.
#[test]
fn close_wait_recv_q_kinds_match_ss() {
    if !require_root(
        "close_wait_recv_q_kinds_match_ss",
        "it creates a network namespace",
    ) {
        return;
    }
    let ns = Netns::new("recvq");
    let script = r#"
import socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(512); port = srv.getsockname()[1]
held = []
for kind, n in (("eof", 80), ("fin", 70), ("data", 60)):
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        if kind == "data":
            c.sendall(b"0123456789")
        c.shutdown(socket.SHUT_WR)
        s, _ = srv.accept()
        if kind == "eof":
            s.settimeout(5)
            while s.recv(4096):
                pass
        held.append((s, c))
print("ready", port, flush=True)
time.sleep(120)
"#;
    let mut child = ns
        .cmd(&python(), &["-c", script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = KillOnDrop(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    assert!(line.starts_with("ready"), "holder said {line:?}");
    let port: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();

    let rows: Vec<SsRow> = ss_rows(ns.some(), &sport(port))
        .into_iter()
        .filter(|r| r.state == "CLOSE_WAIT")
        .collect();
    let ss_eof = rows.iter().filter(|r| r.recv_q == 0).count() as f64;
    let ss_fin = rows.iter().filter(|r| r.recv_q == 1).count() as f64;
    let ss_data = rows.iter().filter(|r| r.recv_q > 1).count() as f64;
    let ss_bytes: f64 = rows
        .iter()
        .filter(|r| r.recv_q > 1)
        .map(|r| (r.recv_q - 1) as f64)
        .sum();
    println!(
        "ss: {} CLOSE_WAIT: Recv-Q 0 {ss_eof}, 1 {ss_fin}, >1 {ss_data} ({ss_bytes} data bytes)",
        rows.len()
    );
    assert_eq!(
        (ss_eof, ss_fin, ss_data),
        (80.0, 70.0, 60.0),
        "the population itself"
    );

    let (code, out, err) = check(ns.some(), &["--interval", "200ms", "--format", "json"]);
    assert!(matches!(code, 1 | 2), "exit {code}\n{out}\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "close_wait_leak")
        .unwrap_or_else(|| panic!("no close_wait_leak in {out}"));
    let m = |k: &str| f["metrics"][k].as_f64().unwrap_or(-1.0);
    println!(
        "sockscope: eof_read {} fin_unread {} data_unread {} data_bytes {}",
        m("recvq.eof_read"),
        m("recvq.fin_unread"),
        m("recvq.data_unread"),
        m("recvq.data_bytes")
    );
    assert_eq!(m("recvq.eof_read"), ss_eof, "{f}");
    assert_eq!(m("recvq.fin_unread"), ss_fin, "{f}");
    assert_eq!(m("recvq.data_unread"), ss_data, "{f}");
    assert_eq!(m("recvq.data_bytes"), ss_bytes, "{f}");
    let detail = f["detail"].as_str().unwrap();
    assert!(
        detail.contains("80 read the end of stream and never closed"),
        "{detail}"
    );
    assert!(detail.contains("70 never read the peer's FIN"), "{detail}");
    assert!(
        detail.contains("60 hold unread data and the FIN (Recv-Q > 1: 600 bytes"),
        "{detail}"
    );
    drop(guard);
}

/// `watch` gives the same oldest age as `check` for a leak older than either run (it used to
/// count from its own start and said `oldest 0s` for a leak minutes old), and its JSON lines
/// carry the age.
#[test]
fn watch_and_check_agree_on_the_oldest_age() {
    if !require_root(
        "watch_and_check_agree_on_the_oldest_age",
        "it creates a network namespace",
    ) {
        return;
    }
    let ns = Netns::new("wage");
    let _leak = Population::spawn(
        ns.some(),
        &["closewait", "--count", "250", "--client-mode", "shutdown"],
    );
    // Older than anything the next two runs could see for themselves.
    std::thread::sleep(Duration::from_secs(4));
    let (_, out, err) = parts(&run_sockscope(
        None,
        &[
            "--netns", &ns.name, "watch", "-n", "200ms", "-c", "2", "-f", "jsonl",
        ],
    ));
    let last: Value = serde_json::from_str(out.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    let f = last["findings"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["rule"] == "close_wait_leak"))
        .unwrap_or_else(|| panic!("no close_wait_leak in {last}"));
    let watched = f["oldest_age_s"].as_u64().unwrap();
    let (_, out, _) = check(ns.some(), &["--interval", "200ms", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let checked = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "close_wait_leak")
        .and_then(|f| f["oldest_age_s"].as_u64())
        .unwrap();
    println!(
        "oldest: watch {watched} s, check {checked} s, lower bound {}",
        f["oldest_age_lower_bound"]
    );
    assert!(
        watched >= 4,
        "watch says {watched} s for a leak at least 4 s old: {f}"
    );
    assert!(
        checked.abs_diff(watched) <= 2,
        "watch {watched} s, check {checked} s"
    );
    assert_eq!(f["oldest_age_lower_bound"], false, "tcp_info dates it: {f}");
}

/// `summary --state close-wait --by listener` cannot show listeners (the filter left none)
/// and says so in one line with the way out; the way out counts the CLOSE_WAIT sockets on
/// their listener's row.
#[test]
fn listener_summary_under_a_state_filter_says_why_it_is_empty() {
    if !require_root(
        "listener_summary_under_a_state_filter_says_why_it_is_empty",
        "it creates a network namespace",
    ) {
        return;
    }
    let ns = Netns::new("lsum");
    let _leak = Population::spawn(
        ns.some(),
        &["closewait", "--count", "50", "--client-mode", "shutdown"],
    );
    let args = |states: &str| {
        parts(&run_sockscope(
            None,
            &[
                "--netns", &ns.name, "summary", "--state", states, "--by", "listener", "--format",
                "table",
            ],
        ))
    };
    let (code, out, err) = args("close-wait");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no LISTEN socket passed the filter"), "{err}");
    assert!(err.contains("--state close-wait,listen"), "{err}");
    assert!(out.contains("sockets: 50"), "{out}");
    let (code, out, err) = args("close-wait,listen");
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("no LISTEN socket"), "{err}");
    let row = out
        .lines()
        .find(|l| l.contains("sscpop-cw"))
        .unwrap_or_else(|| panic!("no listener row:\n{out}"));
    assert!(row.trim_end().ends_with(" 50"), "{row}");
}
