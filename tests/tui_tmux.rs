//! The dashboard in a real terminal: tmux runs `sockscope` next to a CLOSE_WAIT leak held by
//! a known child, the test reads the screen with `capture-pane`, drives it with
//! `send-keys`, and checks that `q` leaves the alternate screen with the cursor shown and
//! exit code 0. Every tmux server is private to the test and killed on drop.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{require_root, Netns, Population};

/// A private tmux server with one 120×40 pane; killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(shell_cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("sockscope-test-{}", std::process::id()),
        };
        let out = t.run(&["new-session", "-d", "-x", "120", "-y", "40", "sh"]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.keys(&[shell_cmd, "Enter"]);
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env("TERM", "xterm-256color")
            .output()
            .unwrap()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    }

    fn format(&self, f: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", "0", f]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits (bounded) until the screen satisfies `ok`; returns the last screen either way.
    fn wait_for(&self, timeout: Duration, ok: impl Fn(&str) -> bool) -> (bool, String) {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if ok(&s) {
                return (true, s);
            }
            if Instant::now() > deadline {
                return (false, s);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

#[test]
fn dashboard_shows_leak_drills_down_and_restores_terminal() {
    if !require_root(
        "dashboard_shows_leak_drills_down_and_restores_terminal",
        "it creates a network namespace",
    ) {
        return;
    }
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is required under CI"
        );
        eprintln!("SKIPPED: tmux is not installed");
        return;
    }
    let ns = Netns::new("tui");
    // 250 CLOSE_WAIT in one process is over the default warning count (200): the alert
    // fires on the first tick, no for-duration.
    let leak = Population::spawn(
        ns.some(),
        &["closewait", "--count", "250", "--client-mode", "shutdown"],
    );
    let pid = leak.pid().to_string();
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let bin = assert_cmd::cargo::cargo_bin("sockscope");
    let cmd = format!(
        "{} --netns {} --interval 500ms; echo \"exit=$?\" > {}; clear",
        bin.display(),
        ns.name,
        status.display()
    );
    let tmux = Tmux::start(&cmd);

    // 3. Within 3 s: the CLOSE_WAIT count and an alert naming the pid.
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        s.contains("CLOSE_WAIT  250")
            && s.contains("FIRING")
            && s.contains(&format!(
                "CLOSE_WAIT leak sscpop-cw[{pid}] holds 250 CLOSE_WAIT"
            ))
    });
    assert!(
        ok,
        "no CLOSE_WAIT count and alert naming pid {pid} within 3 s:\n{screen}"
    );
    println!("--- overview ---\n{screen}");

    // 4. Processes view, then the process's Detail.
    tmux.keys(&["2"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        s.contains("processes (")
            && s.contains("COMMAND")
            && s.contains(&pid)
            && s.contains("sscpop-cw")
    });
    assert!(ok, "Processes view does not list pid {pid}:\n{screen}");
    println!("--- processes ---\n{screen}");
    tmux.keys(&["Enter"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        s.contains("Esc back") && s.contains(&pid) && s.matches("CLOSE_WAIT").count() >= 5
    });
    assert!(
        ok,
        "Detail of pid {pid} does not list its CLOSE_WAIT sockets:\n{screen}"
    );
    println!("--- detail ---\n{screen}");

    // 5. q: exit 0, alternate screen left, cursor visible, back at the shell.
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !status.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let exit = std::fs::read_to_string(&status).unwrap_or_default();
    assert_eq!(exit.trim(), "exit=0", "sockscope did not exit 0 on q");
    assert_eq!(
        tmux.format("#{alternate_on}"),
        "0",
        "still on the alternate screen"
    );
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "cursor left hidden");
    tmux.keys(&["echo shell-is-back", "Enter"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        s.contains("shell-is-back\n") || s.lines().any(|l| l.trim() == "shell-is-back")
    });
    assert!(ok, "the shell does not answer after quitting:\n{screen}");
}
