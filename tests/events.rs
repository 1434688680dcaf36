//! `sockscope watch --events` on the real kernel (root, in a private namespace, loopback
//! only): both ends of 300 short connections are seen, and a reader stopped under a burst
//! counts exactly what the kernel dropped.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A running `watch --events`, ready (its "watching" line seen on stderr).
struct Watcher {
    child: Child,
    err: mpsc::Receiver<String>,
    /// stdout, read all along (a full pipe would stall the watcher, not the kernel).
    out: std::thread::JoinHandle<String>,
}

impl Watcher {
    fn start(ns: &Netns, extra: &[&str]) -> Watcher {
        let mut cmd = Command::new(sockscope_path());
        cmd.args(["watch", "--events", "-f", "json", "--netns", &ns.name])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn sockscope");
        let stderr = child.stderr.take().expect("stderr");
        let mut stdout = child.stdout.take().expect("stdout");
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        assert!(
            first.contains("watching destroy events"),
            "not ready: {first:?}"
        );
        // The first poll (with attribution) runs right after the groups are joined.
        std::thread::sleep(Duration::from_millis(500));
        Watcher {
            child,
            err: rx,
            out,
        }
    }

    fn child_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0);
    }

    /// SIGTERM, then (exit code, stdout JSON lines, stderr lines).
    fn stop(mut self) -> (i32, Vec<Value>, Vec<String>) {
        if self.child_status().is_none() {
            self.signal(libc::SIGTERM);
        }
        let status = wait_for("sockscope to exit", Duration::from_secs(10), || {
            self.child.try_wait().ok().flatten()
        });
        // Until the reader thread sees EOF: the totals line may still be on its way.
        let mut err = Vec::new();
        while let Ok(line) = self.err.recv_timeout(Duration::from_secs(5)) {
            err.push(line);
        }

        let out = std::mem::replace(&mut self.out, std::thread::spawn(String::new))
            .join()
            .expect("stdout reader");
        let lines = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l}: {e}")))
            .collect();
        (status.code().unwrap_or(-1), lines, err)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `short_conns.py` in the namespace; returns (listener port, client ports).
fn short_conns(ns: &Netns, count: u32, hold_ms: u32) -> (u16, Vec<u16>) {
    let script = pop_script().with_file_name("short_conns.py");
    let out = run_ok(&mut ns.cmd(
        &python(),
        &[
            script.to_str().expect("path"),
            "--count",
            &count.to_string(),
            "--hold-ms",
            &hold_ms.to_string(),
        ],
    ));
    let v: Value = serde_json::from_str(out.trim()).expect("short_conns JSON");
    let port = u16::try_from(v["port"].as_u64().expect("port")).expect("port");
    let clients = v["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .map(|p| u16::try_from(p.as_u64().expect("port")).expect("port"))
        .collect();
    (port, clients)
}

fn port_of(endpoint: &Value) -> u16 {
    let s = endpoint.as_str().expect("endpoint");
    s.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port")
}

/// "N destroy events seen, M lost" from the final stderr line.
fn totals(err: &[String]) -> (u64, u64) {
    let line = err
        .iter()
        .find(|l| l.contains("destroy events seen"))
        .unwrap_or_else(|| panic!("no totals line: {err:?}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

#[test]
fn both_ends_of_300_short_connections_are_seen() {
    if !require_root(
        "both_ends_of_300_short_connections",
        "it creates a network namespace and reads its destroy events",
    ) {
        return;
    }
    let ns = Netns::new("ev");
    let w = Watcher::start(&ns, &[]);
    let (port, clients) = short_conns(&ns, 300, 20);
    assert_eq!(clients.len(), 300);
    std::thread::sleep(Duration::from_millis(1500));
    let (code, lines, err) = w.stop();
    assert_eq!(code, 128 + libc::SIGTERM, "{err:?}");
    let destroys: Vec<&Value> = lines.iter().filter(|v| v["kind"] == "destroy").collect();
    assert!(
        lines.iter().all(|v| v["kind"] != "lost"),
        "nothing may be lost here"
    );
    // Client ends: remote is the listener; server ends: local is the listener port.
    let mut client_seen: HashMap<u16, u32> = HashMap::new();
    let mut server_seen: HashMap<u16, u32> = HashMap::new();
    for v in &destroys {
        assert_eq!(v["protocol"], "tcp");
        assert_eq!(v["state"], "UNCONN");
        let (l, r) = (port_of(&v["local"]), port_of(&v["remote"]));
        if r == port {
            *client_seen.entry(l).or_default() += 1;
        } else if l == port && r != 0 {
            *server_seen.entry(r).or_default() += 1;
        }
    }
    // Loopback reuses a TIME_WAIT client port after a second (tcp_tw_reuse=2): a port
    // the generator used twice is expected twice.
    let mut expected: HashMap<u16, u32> = HashMap::new();
    for c in &clients {
        *expected.entry(*c).or_default() += 1;
    }
    for (c, n) in &expected {
        assert_eq!(client_seen.get(c), Some(n), "client end of :{c}");
        assert_eq!(server_seen.get(c), Some(n), "server end of :{c}");
    }
    // 600 ends and the listener; nothing else lives in this namespace.
    assert_eq!(destroys.len(), 601);
    assert_eq!(totals(&err), (601, 0));
    // Lifetimes: a poll a second sees at most a few of these ~10 ms connections, and what
    // a poll saw carries its owner (the generator) and inode.
    let short = destroys.iter().filter(|v| v["short_lived"] == true).count();
    assert!(short >= 500, "{short} of 601 short-lived");
    let listener = destroys
        .iter()
        .find(|v| port_of(&v["local"]) == port && port_of(&v["remote"]) == 0)
        .expect("listener event");
    assert_eq!(
        listener["short_lived"], false,
        "the listener lived for seconds"
    );
    assert_eq!(listener["last_polled_state"], "LISTEN");
    assert!(
        listener["inode"].as_u64().is_some_and(|i| i > 0),
        "{listener}"
    );
    assert_eq!(listener["comm"], "python3", "{listener}");
}

#[test]
fn a_stopped_reader_counts_what_the_kernel_dropped() {
    if !require_root(
        "a_stopped_reader_counts_lost_events",
        "it creates a network namespace and reads its destroy events",
    ) {
        return;
    }
    let ns = Netns::new("evlost");
    // A tiny buffer (the kernel's minimum) and a reader that stops during the burst.
    let w = Watcher::start(&ns, &["--rcvbuf", "4096"]);
    w.signal(libc::SIGSTOP);
    let (_, clients) = short_conns(&ns, 300, 0);
    w.signal(libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(1500));
    let (code, lines, err) = w.stop();
    assert_eq!(code, 128 + libc::SIGTERM, "{err:?}");
    assert_eq!(clients.len(), 300);
    let seen = lines.iter().filter(|v| v["kind"] == "destroy").count() as u64;
    let lost: u64 = lines
        .iter()
        .filter(|v| v["kind"] == "lost")
        .map(|v| v["lost"].as_u64().expect("lost"))
        .sum();
    assert!(lost > 0, "a 4 KiB buffer cannot hold 601 events: {err:?}");
    // Every destroy accounted for: seen or counted as lost, exactly.
    assert_eq!(seen + lost, 601, "seen {seen} lost {lost}");
    assert_eq!(totals(&err), (seen, lost));
}

#[test]
fn aggregate_intervals_count_every_close_once() {
    if !require_root(
        "aggregate_intervals",
        "it creates a network namespace and reads its destroy events",
    ) {
        return;
    }
    let ns = Netns::new("evagg");
    let mut w = Watcher::start(&ns, &["--aggregate", "-n", "1s", "-c", "3"]);
    let (port, clients) = short_conns(&ns, 200, 5);
    let status = wait_for("three intervals", Duration::from_secs(15), || {
        w.child_status()
    });
    assert!(status.success(), "{status:?}");
    let (_, lines, err) = w.stop();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|v| v["kind"] == "interval"));
    let closes: u64 = lines
        .iter()
        .map(|v| v["closes"].as_u64().expect("closes"))
        .sum();
    assert_eq!(closes, 2 * clients.len() as u64 + 1, "{lines:?}");
    assert_eq!(totals(&err), (closes, 0));
    // The client ends all close toward the listener: the top remote, at 200 closes.
    let listener = format!("127.0.0.1:{port}");
    let top: u64 = lines
        .iter()
        .flat_map(|v| v["top_remotes"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["remote"] == listener.as_str())
        .map(|r| r["closes"].as_u64().expect("closes"))
        .sum();
    assert_eq!(top, 200, "{lines:?}");
}

/// The watcher's voluntary context switches so far (each is one wait that ended).
fn wakeups(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("voluntary_ctxt_switches")
}

#[test]
fn a_busy_stream_is_read_in_batches_not_one_wakeup_per_event() {
    if !require_root(
        "a_busy_stream_is_read_in_batches",
        "it creates a network namespace and reads its destroy events",
    ) {
        return;
    }
    let ns = Netns::new("evwake");
    let w = Watcher::start(&ns, &["-n", "1s"]);
    let pid = w.child.id();
    let before = wakeups(pid);
    let t0 = std::time::Instant::now();
    let (_, clients) = short_conns(&ns, 4000, 0);
    let secs = t0.elapsed().as_secs_f64();
    let during = wakeups(pid) - before;
    std::thread::sleep(Duration::from_millis(1500));
    let (code, _, err) = w.stop();
    assert_eq!(code, 128 + libc::SIGTERM, "{err:?}");
    assert_eq!(totals(&err), (2 * clients.len() as u64 + 1, 0));
    // Batched reads wake about every 10 ms (plus the polls and the 200 ms signal
    // checks); one wakeup per few events was thousands for these 8,001.
    let bound = 130.0 * secs + 20.0;
    assert!(
        (during as f64) < bound,
        "{during} wakeups in {secs:.2} s for {} events (bound {bound:.0})",
        2 * clients.len() + 1
    );
}
