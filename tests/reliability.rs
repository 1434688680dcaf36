//! The reliability scripts (tests/reliability/*.py), run small enough for CI: churn accuracy
//! (static set exact, totals within 2% of `ss`, /proc exact or flagged) and a long-run smoke
//! (every tick done, fds flat, no gross RSS growth). RELIABILITY.md has the full-size runs.
//!
//! Both need root (a private network namespace each); under CI they refuse to skip.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{require_root, run_bounded, sockscope_path};

/// Deletes the script's namespace on drop: a script killed at the time bound (SIGKILL to its
/// process group) never reaches its own clean-up.
struct NetnsName(String);

impl Drop for NetnsName {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.0])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn script(name: &str, args: &[&str]) -> (bool, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ns = NetnsName(format!(
        "ssc-rel-{}-{}",
        name.trim_end_matches(".py"),
        std::process::id()
    ));
    let mut cmd = Command::new("python3");
    cmd.arg(root.join("tests/reliability").join(name))
        .arg("--binary")
        .arg(sockscope_path())
        .args(["--netns-name", &ns.0])
        .args(args);
    let out = run_bounded(&mut cmd, Duration::from_secs(240));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn churn_accuracy_small() {
    if !require_root("churn_accuracy_small", "it creates a network namespace") {
        return;
    }
    let args = [
        "--established",
        "1000",
        "--closewait",
        "100",
        "--rate",
        "1000",
        "--runs",
        "20",
        "--proc-seconds",
        "6",
    ];
    let (ok, text) = script("churn_accuracy.py", &args);
    assert!(ok, "churn accuracy failed:\n{text}");
    assert!(text.contains("static set exact in 20/20 runs"), "{text}");
}

#[test]
fn long_run_small() {
    if !require_root("long_run_small", "it creates a network namespace") {
        return;
    }
    // A 50-sample history ring fills in the first 150 ticks (the warm-up). After it, 250 ticks
    // over 2.2k sockets: a leak of 25 bytes per socket per tick is 14 MB, about doubling RSS,
    // while allocator noise stays within ~10%. The full-size run holds the 5% line.
    let args = [
        "--ticks",
        "400",
        "--interval",
        "10ms",
        "--pairs",
        "1000",
        "--closewait",
        "100",
        "--rate",
        "200",
        "--history",
        "50",
        "--growth",
        "0.5",
        "--max-seconds",
        "180",
    ];
    let (ok, text) = script("longrun.py", &args);
    assert!(ok, "long run failed:\n{text}");
    assert!(text.contains("OK: flat"), "{text}");
}
