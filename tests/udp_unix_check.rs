//! `check` and `explain` for the UDP and UNIX rules through the real binary, over snapshots
//! written by the test (`--from-snapshot`, the fixture-backed source): the exit codes, the
//! status line naming the socket, thresholds from the command line, the default TCP check
//! untouched by tables it was not asked for, and a missing table reported UNKNOWN.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sockscope::model::{
    Owner, ProcessInfo, Protocols, SkMem, Snapshot, SocketRecord, TcpState, UnixKind, UnixName,
    UnixRecord,
};

fn process(pid: u32, comm: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        comm: comm.into(),
        uid: 0,
        user: "root".into(),
        unit: None,
        container: None,
    }
}

/// A snapshot with every table: a UDP receiver on :5353 whose queue sits at its buffer
/// (pid 4242 dnsd), an idle UDP socket, php-fpm's UNIX listener with 5 pending against a
/// backlog of 4, an idle abstract listener, and one quiet TCP listener.
fn all_tables() -> Snapshot {
    // The golden fixture's header (namespace, attribution, time), with tables of our own.
    let mut s: Snapshot =
        serde_json::from_str(include_str!("fixtures/tui/closewait_leak.json")).unwrap();
    s.sockets.clear();
    s.processes.clear();
    s.protocols = Protocols::ALL;
    s.processes.insert(4242, process(4242, "dnsd"));
    s.processes.insert(4343, process(4343, "php-fpm"));
    let mut listen = SocketRecord::new(
        TcpState::Listen,
        "0.0.0.0:22".parse().unwrap(),
        "0.0.0.0:0".parse().unwrap(),
        Owner::Process(4343),
    );
    listen.inode = 7;
    listen.send_q = 128;
    s.sockets.push(listen);
    let udp = |port: u16, cookie: u64, rmem: u32| {
        let mut u = SocketRecord::new(
            TcpState::Close,
            format!("127.0.0.1:{port}").parse().unwrap(),
            "0.0.0.0:0".parse().unwrap(),
            Owner::Process(4242),
        );
        u.inode = 100 + cookie;
        u.cookie = Some(cookie);
        u.skmem = Some(SkMem {
            rmem_alloc: rmem,
            rcvbuf: Some(212_992),
            wmem_alloc: 0,
            sndbuf: Some(212_992),
            drops: 77,
        });
        u
    };
    s.udp = vec![udp(5353, 1, 212_992), udp(6000, 2, 0)];
    let listener = |path: &[u8], inode: u64, pending: u32, backlog: u32| {
        let mut r = UnixRecord::new(UnixKind::Stream, TcpState::Listen, inode);
        r.name = UnixName::from_sun_path(path);
        r.recv_q = Some(pending);
        r.send_q = Some(backlog);
        r.owner = Owner::Process(4343);
        r
    };
    s.unix = vec![
        listener(b"/run/php/fpm.sock", 812, 5, 4),
        listener(b"\0idle", 813, 0, 128),
    ];
    s
}

fn write(dir: &Path, name: &str, snap: &Snapshot) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(snap).unwrap()).unwrap();
    p
}

fn run(snap: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("sockscope")
        .unwrap()
        .arg("--from-snapshot")
        .arg(snap)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn check_u_and_x_name_the_socket_with_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let snap = write(dir.path(), "all.json", &all_tables());

    // Default: TCP alone, as always; the UDP and UNIX tables in the file are not judged.
    let (code, out, err) = run(&snap, &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("SOCKSCOPE OK - 1 sockets, no findings | established=0 "),
        "{out}"
    );
    assert!(!out.contains("udp") && !out.contains("unix"), "{out}");

    let (code, out, _) = run(&snap, &["-u", "check"]);
    assert_eq!(code, 1, "fill alone is a warning: {out}");
    let first = out.lines().next().unwrap();
    assert_eq!(
        first,
        "SOCKSCOPE WARNING - udp_drops: 127.0.0.1:5353 (pid 4242 dnsd): 77 drops since \
         creation (no rate yet), Recv-Q 212992/212992 B (100% of rcvbuf) — the receiver reads \
         too slowly | udp_unconn=2 udp_estab=0 udp_drops=154c"
    );

    let (code, out, _) = run(&snap, &["-x", "check"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with(
            "SOCKSCOPE CRITICAL - unix_accept_overflow: /run/php/fpm.sock (pid 4343 php-fpm): \
             5/4 pending connections (stream) — full: a non-blocking connect() gets EAGAIN, a \
             blocking one waits | unix_listen=2 unix_estab=0 unix_unconn=0 unix_syn_sent=0\n"
        ),
        "{out}"
    );

    let (code, out, _) = run(&snap, &["-t", "-u", "-x", "check", "--format", "json"]);
    assert_eq!(code, 2, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "CRITICAL");
    assert_eq!(v["sockets"], 5);
    assert_eq!(v["protocols"], serde_json::json!(["tcp", "udp", "unix"]));
    assert_eq!(v["udp"]["drops"], 154);
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["unix_accept_overflow", "udp_drops"]);
    let unix = &v["findings"][0];
    assert_eq!(unix["subject"]["kind"], "unix_listener");
    assert_eq!(unix["subject"]["name"], "/run/php/fpm.sock");
    assert_eq!(unix["subject"]["pid"], 4343);
    assert_eq!(unix["metrics"]["pending"], 5.0);
    assert_eq!(unix["metrics"]["backlog"], 4.0);
    assert_eq!(v["findings"][1]["metrics"]["port"], 5353.0);
}

#[test]
fn thresholds_from_the_command_line_move_the_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let snap = write(dir.path(), "all.json", &all_tables());
    // 5/4 = 1.25: under a critical fill of 2 it is only a warning.
    let (code, out, _) = run(
        &snap,
        &[
            "-x",
            "--threshold",
            "unix_accept_overflow.crit_fill=2",
            "check",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("SOCKSCOPE WARNING - unix_accept_overflow: "),
        "{out}"
    );
    // A full buffer under a warning fill above 100% is no finding.
    let (code, out, _) = run(
        &snap,
        &["-u", "--threshold", "udp_drops.warn_fill=1.5", "check"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("SOCKSCOPE OK - 2 udp sockets, no findings |"),
        "{out}"
    );
    // A bad value: one line naming the override, exit 2.
    let (code, out, err) = run(
        &snap,
        &["-u", "--threshold", "udp_drops.crit_drop_rate=-3", "check"],
    );
    assert_eq!(code, 2, "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("udp_drops.crit_drop_rate"), "{err}");
}

#[test]
fn a_table_not_collected_is_unknown_and_unknown_queues_are_said() {
    let dir = tempfile::tempdir().unwrap();
    // A snapshot from before UDP and UNIX: TCP alone.
    let mut old = all_tables();
    old.protocols = Protocols::TCP;
    old.udp.clear();
    old.unix.clear();
    let old = write(dir.path(), "old.json", &old);
    let (code, out, _) = run(&old, &["-u", "-x", "check"]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        out,
        "SOCKSCOPE UNKNOWN - udp and unix sockets were not collected (the source or snapshot \
         has no such table)\n"
    );

    // /proc/net/unix: listeners without queue lengths are never judged full, and stderr
    // says so.
    let mut proc = all_tables();
    for r in &mut proc.unix {
        r.recv_q = None;
        r.send_q = None;
    }
    let proc = write(dir.path(), "proc.json", &proc);
    let (code, out, err) = run(&proc, &["-x", "check"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("SOCKSCOPE OK - 2 unix sockets, no findings"),
        "{out}"
    );
    assert!(
        err.contains("note: 2 UNIX listeners have no queue lengths"),
        "{err}"
    );
}

fn sysctl(name: &str) -> String {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

#[test]
fn explain_cites_this_hosts_sysctls() {
    for (topic, name, cited) in [
        (
            "udp-drops",
            "udp_drops",
            &["net.core.rmem_max", "net.core.rmem_default"][..],
        ),
        (
            "unix_accept_overflow",
            "unix_accept_overflow",
            &["net.core.somaxconn", "net.unix.max_dgram_qlen"][..],
        ),
    ] {
        let out = Command::cargo_bin("sockscope")
            .unwrap()
            .args(["explain", topic])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{topic}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().next(), Some(name));
        for c in cited {
            let line = format!("  {c} = {}", sysctl(c));
            assert!(
                text.lines().any(|l| l == line),
                "{topic}: no `{line}` in\n{text}"
            );
        }
        assert!(!text.contains("(not read)"), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 78), "{text}");
    }
}
