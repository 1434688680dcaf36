//! `record` and `summary --from` through the real binary: a CLOSE_WAIT leak grows while
//! `sockscope record` runs, the recorder is killed with SIGKILL mid-run, and the file still
//! reads back with the recorded counts; damaged files give one clear line and exit 2.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{require_root, Netns, Population};

#[test]
fn kill9_recording_still_replays_with_recorded_counts() {
    if !require_root(
        "kill9_recording_still_replays_with_recorded_counts",
        "it creates a network namespace",
    ) {
        return;
    }
    let ns = Netns::new("rec");
    let leak = Population::spawn(
        ns.some(),
        &[
            "closewait",
            "--count",
            "20",
            "--grow-per-sec",
            "40",
            "--max-count",
            "400",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leak.jsonl");
    let bin = assert_cmd::cargo::cargo_bin("sockscope");
    let mut rec = Command::new(&bin)
        .args(["--netns", &ns.name, "record", "--interval", "200ms", "-o"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Let it write several ticks of a growing leak, then SIGKILL it mid-run.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let lines = std::fs::read_to_string(&file).map_or(0, |t| t.lines().count());
        if lines >= 8 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    rec.kill().unwrap();
    rec.wait().unwrap();

    let out = assert_cmd::Command::new(&bin)
        .args(["summary", "--format", "json", "--from"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let at = |offset: &str| -> u64 {
        let out = assert_cmd::Command::new(&bin)
            .args(["summary", "--format", "json", "--at", offset, "--from"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["states"]["CLOSE_WAIT"].as_u64().unwrap()
    };
    let first = at("+0s");
    let final_cw = last["states"]["CLOSE_WAIT"].as_u64().unwrap();
    assert!(first >= 20, "first tick lost the initial leak: {first}");
    assert!(
        final_cw > first,
        "the recording does not show the leak growing: {first} -> {final_cw}"
    );
    // The owner is in the recording too.
    let procs = last["processes"].as_array().unwrap();
    assert!(
        procs
            .iter()
            .any(|p| p["pid"].as_u64() == Some(u64::from(leak.pid()))
                && p["states"]["CLOSE_WAIT"].as_u64() == Some(final_cw)),
        "{last}"
    );
}

#[test]
fn damaged_recordings_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[u8])] = &[
        ("empty", b""),
        ("garbage", b"\x7fELF\x02\x01\x01\x00garbage"),
        ("header-only", b"{\"kind\":\"header\",\"schema_version\":1"),
        ("not-json", b"State Recv-Q Send-Q\n"),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = assert_cmd::Command::cargo_bin("sockscope")
            .unwrap()
            .args(["summary", "--from"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(
            err.contains(name),
            "{name}: error does not name the file: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}
