//! A CLOSE_WAIT leak that survives a restart is one finding (issue 18): the test makes a
//! `sscleak-<pid>.service` cgroup under the writable systemd hierarchy, runs a process in a
//! namespace of its own that leaks CLOSE_WAIT sockets (more every few hundred ms), moves it
//! into the cgroup *before* it opens a socket, and watches with the real binary
//! (`watch --format jsonl`). Then it "restarts" the service: a second leaker (a new pid) in
//! the same cgroup, the first killed. The finding must stay one `service` subject whose
//! first-seen time is unchanged and whose pids are the new one; the growth series goes on.
//! Every child is moved back to the root cgroup, killed and the cgroup removed on drop.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{python, require_root, sockscope_path, Cgroups, Netns};

/// Waits for `go` on stdin (so it is in its cgroup before its first socket), then makes
/// 6 CLOSE_WAIT sockets on loopback and one more every 300 ms (at most 60 more); holds
/// them until stdin closes or 60 s pass.
const LEAKER: &str = r#"
import os, select, socket, sys, time
assert sys.stdin.readline().strip() == 'go'
lst = socket.socket()
lst.bind(('127.0.0.1', 0))
lst.listen(128)
keep = []
def leak():
    c = socket.create_connection(lst.getsockname())
    a, _ = lst.accept()
    a.close()
    keep.append(c)
for _ in range(6):
    leak()
print('leaking', flush=True)
end = time.time() + 60
while time.time() < end:
    r, _, _ = select.select([sys.stdin], [], [], 0.3)
    if r and not sys.stdin.readline():
        break
    if len(keep) < 66:
        leak()
"#;

/// A leaker in `ns`, made inside the unit's cgroup `dir`; its pid.
fn leaker(g: &mut Cgroups, ns: &Netns, dir: &Path) -> u32 {
    g.start_in(dir, &mut ns.cmd(&python(), &["-c", LEAKER]), "leaking")
}

/// A running `watch --format jsonl`, killed on drop; its lines arrive on `rx`.
struct Watch {
    child: Child,
    rx: mpsc::Receiver<String>,
}

impl Watch {
    fn start(ns: &Netns) -> Watch {
        let mut child = Command::new(sockscope_path())
            .args([
                "--netns",
                &ns.name,
                "--threshold",
                "close_wait_leak.warn_count=5",
                "--threshold",
                "close_wait_leak.crit_count=1000",
                "watch",
                "--format",
                "jsonl",
                "--interval",
                "300ms",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sockscope watch");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watch { child, rx }
    }

    /// The close_wait_leak findings of the first line (within 20 s) where `pred` holds
    /// for them.
    fn until(&self, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = String::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.rx.recv_timeout(left) else {
                break;
            };
            let v: Value = serde_json::from_str(&line).unwrap();
            let leaks: Vec<Value> = v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["rule"] == "close_wait_leak")
                .cloned()
                .collect();
            if pred(&leaks) {
                return leaks;
            }
            last = line;
        }
        panic!("no line where {what}; last: {last}");
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pids(f: &Value) -> Vec<u64> {
    f["subject"]["pids"]
        .as_array()
        .map(|v| v.iter().map(|p| p.as_u64().unwrap()).collect())
        .unwrap_or_default()
}

#[test]
fn a_service_restarted_under_a_new_pid_keeps_its_close_wait_finding() {
    if !require_root(
        "a_service_restarted_under_a_new_pid_keeps_its_close_wait_finding",
        "it creates cgroups and a network namespace",
    ) {
        return;
    }
    let me = std::process::id();
    let unit = format!("sscleak-{me}.service");
    let mut g = Cgroups::new();
    let dir = g.make(&format!("system.slice/{unit}"));
    let ns = Netns::new("w4leak");
    let watch = Watch::start(&ns);

    let first = leaker(&mut g, &ns, &dir);
    let is_ours = |f: &Value| {
        f["subject"]["kind"] == "service" && f["subject"]["unit"]["name"] == unit.as_str()
    };
    let before = watch.until("the service's leak fires", |v| {
        v.len() == 1 && is_ours(&v[0]) && pids(&v[0]) == [u64::from(first)]
    });
    let since = before[0]["since"].as_str().unwrap().to_string();
    assert!(
        before[0]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{unit} (pid {first} ")),
        "{:#}",
        before[0]
    );

    // The restart: a new pid in the same unit, leaking on; the old one killed.
    let second = leaker(&mut g, &ns, &dir);
    g.kill(first);
    let after = watch.until("the new pid alone holds the leak", |v| {
        v.iter()
            .any(|f| is_ours(f) && pids(f) == [u64::from(second)])
    });
    // One service finding and none per pid. (A poll that races a process's exit or a new
    // socket may see a socket whose owner it cannot name for a tick: that is a `host`
    // finding of its own, not one per pid.)
    let ours: Vec<&Value> = after.iter().filter(|f| is_ours(f)).collect();
    assert_eq!(ours.len(), 1, "one finding, not one per pid: {after:#?}");
    assert!(
        !after.iter().any(|f| f["subject"]["kind"] == "process"),
        "a per-pid finding: {after:#?}"
    );
    let f = ours[0];
    assert_eq!(f["since"], since.as_str(), "first seen survives: {f:#}");
    assert_eq!(f["phase"], "firing", "{f:#}");
    assert!(f["growth_per_min"].is_number(), "{f:#}");
    assert!(f["count"].as_u64().unwrap() >= 6, "{f:#}");
}
