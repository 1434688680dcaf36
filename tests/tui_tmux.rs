//! The dashboard in a real terminal: tmux runs `sockscope` next to a CLOSE_WAIT leak held by
//! a known child, the test reads the screen with `capture-pane`, drives it with
//! `send-keys`, and checks that `q` leaves the alternate screen with the cursor shown and
//! exit code 0. Every tmux server is private to the test and killed on drop.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{require_root, Netns, Population, Tmux};

#[test]
fn dashboard_shows_leak_drills_down_and_restores_terminal() {
    if !require_root(
        "dashboard_shows_leak_drills_down_and_restores_terminal",
        "it creates a network namespace",
    ) {
        return;
    }
    if !common::require_tmux() {
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
    let tmux = Tmux::start("tui", 120, 40, &cmd);

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
    tmux.assert_exited(&status, 0, "q");
    tmux.keys(&["echo shell-is-back", "Enter"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        s.contains("shell-is-back\n") || s.lines().any(|l| l.trim() == "shell-is-back")
    });
    assert!(ok, "the shell does not answer after quitting:\n{screen}");
}

/// SIGTERM and SIGHUP end the dashboard with the terminal restored and exit 128 + signal,
/// as shells and supervisors expect.
#[test]
fn signals_restore_the_terminal_and_exit_128_plus_signal() {
    if !common::require_tmux() {
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("sockscope");
    for (sig, name) in [(libc::SIGTERM, "TERM"), (libc::SIGHUP, "HUP")] {
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("status");
        let pidfile = dir.path().join("pid");
        // A child shell records its pid and execs the dashboard in the foreground (same
        // pid, owns the terminal); the outer shell records the exit code.
        let cmd = format!(
            "sh -c 'echo $$ > {}; exec {} --interval 500ms'; echo \"exit=$?\" > {}",
            pidfile.display(),
            bin.display(),
            status.display()
        );
        let tmux = Tmux::start(&format!("sig{name}"), 100, 30, &cmd);
        let (ok, screen) = tmux.wait_for(Duration::from_secs(5), |s| s.contains("1 Overview"));
        assert!(ok, "dashboard did not start:\n{screen}");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SAFETY: kill has no memory-safety preconditions; pid is our own child's.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
        tmux.assert_exited(&status, 128 + sig, &format!("SIG{name}"));
    }
}
