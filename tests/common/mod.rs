//! Live-test harness: namespaces, socket populations, and the reference tools (`ss`,
//! `netstat | awk`) that sockscope's numbers are checked against.
//!
//! Owns only test-side setup and teardown. Every resource is behind a guard whose `Drop`
//! removes it (namespaces deleted, generator process groups killed), so a failing or
//! panicking test leaves nothing behind. Every wait is bounded by a deadline.
//!
//! Network safety: generators talk only to loopback, or inside namespace pairs created here
//! (veth subnet 10.201.X.0/24 that exists only inside the pair).
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The eleven netstat spellings, in kernel state-code order.
pub const STATES: [&str; 11] = [
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
];

/// Per-state socket counts keyed by netstat spelling.
pub type Counts = BTreeMap<String, u64>;

static SEQ: AtomicU32 = AtomicU32::new(0);

fn next_seq() -> u32 {
    SEQ.fetch_add(1, Ordering::SeqCst) + 1
}

// ------------------------------------------------------------------------------------ root

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// True when the test may run. Not root: prints `SKIPPED: …` to stderr and returns false,
/// except under `CI`, where it panics — a live test must never pass silently in CI.
pub fn require_root(test: &str, why: &str) -> bool {
    if is_root() {
        return true;
    }
    let msg = format!("SKIPPED: {test} needs root because {why}");
    if std::env::var_os("CI").is_some() {
        panic!("{msg} (CI is set: refusing to skip)");
    }
    // Straight to fd 2, not eprintln!: libtest captures the macros and would hide the skip.
    let _ = writeln!(std::io::stderr(), "{msg}");
    false
}

// ------------------------------------------------------------------------------------ commands

/// Runs a command to completion within `timeout`; panics (after killing it) when it overruns.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let desc = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            kill_group(child.id(), libc::SIGKILL);
            let _ = child.wait();
            panic!("timed out after {timeout:?}: {desc}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

/// Runs a command that must succeed; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let desc = format!("{cmd:?}");
    let o = run_bounded(cmd, Duration::from_secs(20));
    assert!(
        o.status.success(),
        "{desc} failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `cmd args…`, inside `netns` when given (via `ip netns exec`).
pub fn in_netns(netns: Option<&str>, program: &str, args: &[&str]) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, program]).args(args);
            c
        }
        None => {
            let mut c = Command::new(program);
            c.args(args);
            c
        }
    }
}

/// Kills and reaps a child on drop, also when an assertion fails first.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kill_group(pgid: u32, sig: i32) {
    let Ok(pgid) = i32::try_from(pgid) else {
        return;
    };
    if pgid > 1 {
        // SAFETY: kill(2) on our own child's process group; no memory is involved.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

pub mod cgroups;
mod netns;
mod population;
pub mod privilege;
pub mod screen;
mod server;
mod tmux;
pub use cgroups::Cgroups;
pub use netns::*;
pub use population::*;
pub use server::*;
pub use tmux::{require_tmux, Tmux};

// ------------------------------------------------------------------------------------ reference tools

/// Maps any state spelling (ss, netstat, RFC with underscores, lowercase) to netstat's.
pub fn canon_state(s: &str) -> String {
    let up = s.trim().to_ascii_uppercase().replace('-', "_");
    match up.as_str() {
        "ESTAB" => "ESTABLISHED".into(),
        "SYN_RECV" | "NEW_SYN_RECV" | "SYN_RECEIVED" => "SYN_RECV".into(),
        "FIN_WAIT_1" | "FIN_WAIT1" => "FIN_WAIT1".into(),
        "FIN_WAIT_2" | "FIN_WAIT2" => "FIN_WAIT2".into(),
        "UNCONN" | "CLOSED" => "CLOSE".into(),
        _ => up,
    }
}

/// Counts with all eleven states present (zeros included).
pub fn full(c: &Counts) -> Counts {
    let mut out: Counts = STATES.iter().map(|s| ((*s).to_string(), 0)).collect();
    for (k, v) in c {
        *out.entry(canon_state(k)).or_default() += v;
    }
    out
}

/// Counts with zero entries removed and keys canonicalised.
pub fn nonzero(c: &Counts) -> Counts {
    full(c).into_iter().filter(|(_, v)| *v > 0).collect()
}

/// One parsed `ss -tanpH` row.
#[derive(Debug, Clone)]
pub struct SsRow {
    /// netstat spelling.
    pub state: String,
    /// Recv-Q.
    pub recv_q: u64,
    /// Send-Q.
    pub send_q: u64,
    /// Local address:port as ss prints it.
    pub local: String,
    /// Peer address:port as ss prints it.
    pub peer: String,
    /// Owning pids from `users:((…,pid=N,…))`, empty when not shown / unowned.
    pub pids: Vec<u32>,
}

/// `ss -tanpH [filter…]` (in `netns` if given), parsed.
///
/// Beware: with `-p` (or `-e`) this ss omits request sockets (SYN_RECV) entirely — measured
/// here: 10 SYN_RECV under `ss -tan`, 0 under `ss -tanp`. Count states with [`ss_counts`]. `filter` is an ss filter expression,
/// e.g. `"( sport = :8080 )"`; empty for all.
pub fn ss_rows(netns: Option<&str>, filter: &str) -> Vec<SsRow> {
    let mut args = vec!["-tanpH"];
    if !filter.is_empty() {
        args.push(filter);
    }
    let out = run_ok(&mut in_netns(netns, "ss", &args));
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 5, "unexpected ss line: {l}");
            let pids = l
                .split("pid=")
                .skip(1)
                .filter_map(|s| s.split([',', ')']).next()?.parse().ok())
                .collect();
            SsRow {
                state: canon_state(f[0]),
                recv_q: f[1].parse().unwrap(),
                send_q: f[2].parse().unwrap(),
                local: f[3].to_string(),
                peer: f[4].to_string(),
                pids,
            }
        })
        .collect()
}

/// Per-state counts from `ss -tanH [filter]`, netstat spellings.
pub fn ss_counts(netns: Option<&str>, filter: &str) -> Counts {
    let mut args = vec!["-tanH"];
    if !filter.is_empty() {
        args.push(filter);
    }
    let out = run_ok(&mut in_netns(netns, "ss", &args));
    let mut c = Counts::new();
    for l in out.lines() {
        if let Some(st) = l.split_whitespace().next() {
            *c.entry(canon_state(st)).or_default() += 1;
        }
    }
    c
}

/// ss filter for a local port.
pub fn sport(p: u16) -> String {
    format!("( sport = :{p} )")
}

/// ss filter for a remote port.
pub fn dport(p: u16) -> String {
    format!("( dport = :{p} )")
}

/// The classic one-liner users know, verbatim in shape.
pub const NETSTAT_AWK: &str = r#"netstat -tan | awk '/^tcp/{++state[$NF]}; END{for(key in state) print key, "\t", state[key]}'"#;

/// Raw output lines of [`NETSTAT_AWK`] (in `netns` if given).
pub fn netstat_awk_lines(netns: Option<&str>) -> Vec<String> {
    let out = run_ok(&mut in_netns(netns, "sh", &["-c", NETSTAT_AWK]));
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// [`NETSTAT_AWK`] parsed to counts (its lines look like `KEY \t N`).
pub fn netstat_awk(netns: Option<&str>) -> Counts {
    parse_state_lines(&netstat_awk_lines(netns))
}

/// Parses `STATE<ws>count` lines (sockscope's text summary or the awk one-liner).
pub fn parse_state_lines(lines: &[String]) -> Counts {
    let mut c = Counts::new();
    for l in lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(f.len(), 2, "not a `STATE count` line: {l:?}");
        let n: u64 = f[1]
            .parse()
            .unwrap_or_else(|_| panic!("bad count in {l:?}"));
        assert!(
            c.insert(f[0].to_string(), n).is_none(),
            "duplicate state line {l:?}"
        );
    }
    c
}

/// A TcpExt/Tcp counter (e.g. `SyncookiesSent`, `ListenOverflows`) from /proc/net/netstat
/// and /proc/net/snmp as seen in `netns`.
pub fn kernel_counter(netns: Option<&str>, name: &str) -> u64 {
    let out = run_ok(&mut in_netns(
        netns,
        "cat",
        &["/proc/net/netstat", "/proc/net/snmp"],
    ));
    let lines: Vec<&str> = out.lines().collect();
    for pair in lines.chunks(2) {
        if pair.len() < 2 {
            continue;
        }
        let (h, v) = (pair[0], pair[1]);
        let keys: Vec<&str> = h.split_whitespace().collect();
        let vals: Vec<&str> = v.split_whitespace().collect();
        if keys.first() != vals.first() {
            continue;
        }
        if let Some(i) = keys.iter().position(|k| *k == name) {
            return vals[i].parse().unwrap();
        }
    }
    panic!("kernel counter {name} not found");
}

/// Polls `f` every 20 ms until it returns Some, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ------------------------------------------------------------------------------------ sockscope

/// The binary under test.
pub fn sockscope() -> assert_cmd::Command {
    assert_cmd::Command::new(sockscope_path())
}

/// Path of the binary under test: `$SOCKSCOPE_BIN` when set (to test an installed or
/// separately built binary), else this crate's `target/…/sockscope`.
pub fn sockscope_path() -> PathBuf {
    match std::env::var_os("SOCKSCOPE_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => assert_cmd::cargo::cargo_bin("sockscope"),
    }
}

/// Runs sockscope with `args` (inside `netns` via `ip netns exec` when given), bounded to 30 s.
pub fn run_sockscope(netns: Option<&str>, args: &[&str]) -> Output {
    let bin = sockscope_path();
    run_bounded(
        &mut in_netns(netns, bin.to_str().unwrap(), args),
        Duration::from_secs(30),
    )
}

/// Like [`run_sockscope`] but requires exit 0 and returns stdout.
pub fn sockscope_ok(netns: Option<&str>, args: &[&str]) -> String {
    let o = run_sockscope(netns, args);
    assert!(
        o.status.success(),
        "sockscope {args:?} exited {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `sockscope <args> --format json`, parsed.
pub fn sockscope_json(netns: Option<&str>, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend_from_slice(&["--format", "json"]);
    let out = sockscope_ok(netns, &a);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("sockscope {a:?}: bad JSON ({e}):\n{out}"))
}

/// The `states` object of a summary JSON as counts (netstat spellings); asserts all eleven
/// names are present.
pub fn json_states(v: &Value) -> Counts {
    let obj = v["states"]
        .as_object()
        .unwrap_or_else(|| panic!("no states object in {v}"));
    let c: Counts = obj
        .iter()
        .map(|(k, n)| (canon_state(k), n.as_u64().unwrap()))
        .collect();
    for s in STATES {
        assert!(c.contains_key(s), "states lacks {s}: {v}");
    }
    c
}

/// Takes `ss` before and after `f` and retries (at most 3 times) until both agree, so the
/// comparison is against one stable moment. Returns (ss counts, f's value).
pub fn stable_against_ss<T>(
    netns: Option<&str>,
    filter: &str,
    mut f: impl FnMut() -> T,
) -> (Counts, T) {
    let mut last = None;
    for _ in 0..3 {
        let before = ss_counts(netns, filter);
        let v = f();
        let after = ss_counts(netns, filter);
        if before == after {
            return (before, v);
        }
        last = Some((before, after));
    }
    panic!("ss never stable across a sockscope run: {last:?}");
}

/// Copies the binary into a fresh 0755 temp dir (so an unprivileged user can run it even
/// when the path to target/ is not searchable for them). Returns (guard, path).
pub fn world_executable_copy() -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("ssc-bin-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dst = dir.path().join("sockscope");
    std::fs::copy(sockscope_path(), &dst).unwrap();
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, dst)
}

/// Exit code, stdout, stderr of an Output.
pub fn parts(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `GET /metrics` from a sockscope endpoint at `addr` (`host:port`, loopback): the whole
/// response, head included; what arrived when the server closes or 10 s pass.
pub fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}
