//! `sockscope replay FILE` in a real terminal: the test writes a recording with the real
//! `Recorder` (no live collection: hand-made snapshots of a growing CLOSE_WAIT leak,
//! recorded without `--sockets`), tmux runs the binary on it, `send-keys` drives the player
//! and `capture-pane` reads the screen. `q` must leave the alternate screen with the cursor
//! shown and exit code 0. The tmux server is private to the test and killed on drop.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sockscope::analyze::engine::Analyzer;
use sockscope::model::*;
use sockscope::record::{HeaderInfo, Recorder};

use common::Tmux;

const T0: i64 = 1_795_322_400_000; // 2026-11-22T04:40:00Z

/// CLOSE_WAIT count per recorded frame: the leak the on-call engineer replays.
const LEAK: [u64; 5] = [3, 7, 12, 20, 42];

fn sock(state: TcpState, local: &str, remote: &str, owner: Owner) -> SocketRecord {
    let mut s = SocketRecord::new(
        state,
        local.parse().unwrap(),
        remote.parse().unwrap(),
        owner,
    );
    s.inode = 7;
    s.uid = 1000;
    s
}

/// Frame `i`: `java` (pid 42) listening on :8080 and holding `LEAK[i]` CLOSE_WAIT sockets.
fn snapshot(i: usize) -> Snapshot {
    let mut sockets = vec![sock(
        TcpState::Listen,
        "0.0.0.0:8080",
        "0.0.0.0:0",
        Owner::Process(42),
    )];
    for n in 0..LEAK[i] {
        sockets.push(sock(
            TcpState::CloseWait,
            "10.0.0.1:8080",
            &format!("10.1.0.{}:{}", n % 250, 20_000 + n),
            Owner::Process(42),
        ));
    }
    Snapshot {
        taken_at_ms: T0 + i as i64 * 1000,
        source: SourceKind::Netlink,
        netns: "host".into(),
        sockets,
        protocols: Default::default(),
        udp: Vec::new(),
        unix: Vec::new(),
        processes: BTreeMap::from([(
            42,
            ProcessInfo {
                pid: 42,
                comm: "java".into(),
                uid: 1000,
                user: "app".into(),
                unit: None,
                container: None,
            },
        )]),
        attribution: Attribution {
            attempted: true,
            unreadable_pids: 0,
            reason: None,
        },
        quality: SampleQuality::default(),
        counters: None,
        sysctls: None,
        collect_us: 1000,
    }
}

fn write_recording(path: &Path) {
    let info = HeaderInfo {
        host: "web-3".into(),
        kernel: "6.8.0-test".into(),
        interval_ms: 1000,
        started_at_ms: T0,
        netns: "host".into(),
        sockets: false,
    };
    let mut rec = Recorder::create(path, &info).unwrap();
    let mut an = Analyzer::new();
    for i in 0..LEAK.len() {
        let snap = snapshot(i);
        let a = an.observe(&snap);
        rec.append(&snap, &a).unwrap();
    }
}

#[test]
fn replay_steps_seeks_to_the_end_and_restores_the_terminal() {
    if !common::require_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("incident.jsonl");
    write_recording(&file);
    let status = dir.path().join("status");
    let bin = assert_cmd::cargo::cargo_bin("sockscope");
    let cmd = format!(
        "{} replay {}; echo \"exit=$?\" > {}; clear",
        bin.display(),
        file.display(),
        status.display()
    );
    let tmux = Tmux::start("replay", 120, 40, &cmd);
    let wait = Duration::from_secs(5);

    // The first frame, paused: its time and CLOSE_WAIT count.
    let (ok, screen) = tmux.wait_for(wait, |s| {
        s.contains("REPLAY incident.jsonl · frame 1/5 · 04:40:00 UTC · 1× · ⏸")
            && s.contains("CLOSE_WAIT  3")
            && s.contains("web-3")
    });
    assert!(ok, "first frame not shown:\n{screen}");
    println!("--- frame 1 ---\n{screen}");

    // → one frame forward.
    tmux.keys(&["Right"]);
    let (ok, screen) = tmux.wait_for(wait, |s| {
        s.contains("frame 2/5 · 04:40:01 UTC") && s.contains("CLOSE_WAIT  7")
    });
    assert!(ok, "→ did not advance to frame 2:\n{screen}");

    // End: the last frame's count, and the Sockets view says there is no socket list.
    tmux.keys(&["End"]);
    let (ok, screen) = tmux.wait_for(wait, |s| {
        s.contains("frame 5/5 · 04:40:04 UTC") && s.contains("CLOSE_WAIT  42")
    });
    assert!(ok, "End did not show the last frame:\n{screen}");
    println!("--- last frame ---\n{screen}");
    tmux.keys(&["5"]);
    let (ok, screen) = tmux.wait_for(wait, |s| {
        s.contains("recorded without --sockets: no socket list")
    });
    assert!(ok, "Sockets view of a socketless recording:\n{screen}");

    // q: exit 0, alternate screen left, cursor visible.
    tmux.keys(&["q"]);
    tmux.assert_exited(&status, 0, "replay q");
}

#[test]
fn replay_of_a_missing_file_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.jsonl");
    let out = Command::new(assert_cmd::cargo::cargo_bin("sockscope"))
        .arg("replay")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nope.jsonl"), "{err}");
}

#[test]
fn replay_without_a_tty_says_so_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.jsonl");
    write_recording(&file);
    let out = Command::new(assert_cmd::cargo::cargo_bin("sockscope"))
        .arg("replay")
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "sockscope: stdout is not a terminal; use `sockscope summary`"
    );
}
