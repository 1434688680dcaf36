//! The dashboard in a real terminal: tmux runs `sockscope` next to a CLOSE_WAIT leak held by
//! a known child, the test reads the screen with `capture-pane`, drives it with
//! `send-keys`, and checks that `q` leaves the alternate screen with the cursor shown and
//! exit code 0. Every tmux server is private to the test and killed on drop.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

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

/// The dashboard in a private tmux pane, started by a child shell that records its pid and
/// execs it in the foreground (same pid, owns the terminal); the outer shell records the
/// exit code. `env` is prepended to the command (`VAR=value` or empty).
struct Dashboard {
    tmux: Tmux,
    dir: tempfile::TempDir,
}

impl Dashboard {
    fn start(tag: &str, env: &str) -> Dashboard {
        Dashboard::start_with(tag, env, "--interval 500ms")
    }

    /// Like [`Dashboard::start`] with other arguments (e.g. `replay FILE`).
    fn start_with(tag: &str, env: &str, args: &str) -> Dashboard {
        let bin = assert_cmd::cargo::cargo_bin("sockscope");
        let dir = tempfile::tempdir().unwrap();
        let cmd = format!(
            "sh -c 'echo $$ > {}; {env} exec {} {args}'; echo \"exit=$?\" > {}",
            dir.path().join("pid").display(),
            bin.display(),
            dir.path().join("status").display()
        );
        let tmux = Tmux::start(tag, 100, 30, &cmd);
        Dashboard { tmux, dir }
    }

    /// Waits (bounded) until the dashboard has drawn its first data frame.
    fn wait_drawn(&self) {
        let (ok, screen) = self
            .tmux
            .wait_for(Duration::from_secs(5), |s| s.contains("1 Overview"));
        assert!(ok, "dashboard did not start:\n{screen}");
    }

    fn pid(&self) -> i32 {
        self.tmux.read_pid(&self.dir.path().join("pid"))
    }

    fn assert_exited(&self, code: i32, what: &str) {
        self.tmux
            .assert_exited(&self.dir.path().join("status"), code, what);
    }
}

/// SIGTERM, SIGHUP and SIGINT (a real `kill -INT`, not the key) end the dashboard with the
/// terminal restored (main screen, cursor shown, cooked mode) and exit 128 + signal, as
/// shells and supervisors expect.
#[test]
fn signals_restore_the_terminal_and_exit_128_plus_signal() {
    if !common::require_tmux() {
        return;
    }
    for (sig, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGHUP, "HUP"),
        (libc::SIGINT, "INT"),
    ] {
        let d = Dashboard::start(&format!("sig{name}"), "");
        d.wait_drawn();
        let pid = d.pid();
        // SAFETY: kill has no memory-safety preconditions; pid is our own child's.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
        d.assert_exited(128 + sig, &format!("SIG{name}"));
    }
}

/// Replay runs the same UI loop: SIGTERM and SIGINT end it the same way.
#[test]
fn replay_signals_restore_the_terminal_and_exit_128_plus_signal() {
    if !common::require_tmux() {
        return;
    }
    let rec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/record/leak-v1.jsonl"
    );
    for (sig, name) in [(libc::SIGTERM, "TERM"), (libc::SIGINT, "INT")] {
        let d = Dashboard::start_with(&format!("replay{name}"), "", &format!("replay {rec}"));
        d.wait_drawn();
        // SAFETY: kill has no memory-safety preconditions; pid is our own child's.
        assert_eq!(unsafe { libc::kill(d.pid(), sig) }, 0);
        d.assert_exited(128 + sig, &format!("replay SIG{name}"));
    }
}

/// In raw mode the tty sends no SIGINT: Ctrl-C arrives as a key, and the key table makes it
/// quit like `q` (the user asked to leave: exit 0), terminal restored.
#[test]
fn ctrl_c_key_quits_with_0_and_restores() {
    if !common::require_tmux() {
        return;
    }
    let d = Dashboard::start("ctrlc", "");
    d.wait_drawn();
    d.tmux.keys(&["C-c"]);
    d.assert_exited(0, "Ctrl-C key");
}

/// A panic in the UI loop (forced by the hidden test trigger) restores the terminal first,
/// then prints the panic message where it can be read, and exits 101.
#[test]
fn panic_in_the_ui_loop_restores_then_reports_and_exits_101() {
    if !common::require_tmux() {
        return;
    }
    let d = Dashboard::start("panicui", "SOCKSCOPE_TEST_PANIC=after-first-frame");
    d.assert_exited(101, "panic in the UI loop");
    let screen = d.tmux.screen();
    assert!(
        screen.contains("forced panic in the UI loop"),
        "the panic message is not readable after restore:\n{screen}"
    );
}

/// A panic on the collector thread ends the dashboard instead of leaving it frozen: the
/// terminal is restored, the panic message and a one-line summary are readable, exit 101.
#[test]
fn panic_in_the_collector_restores_and_exits_101_without_hanging() {
    if !common::require_tmux() {
        return;
    }
    let d = Dashboard::start("paniccol", "SOCKSCOPE_TEST_PANIC=collector");
    d.assert_exited(101, "panic in the collector thread");
    let screen = d.tmux.screen();
    assert!(
        screen.contains("forced panic in the collector thread")
            && screen
                .contains("sockscope: dashboard stopped: the sockscope-collector thread panicked"),
        "the panic is not reported after restore:\n{screen}"
    );
}

/// The terminal goes away (the tmux server is killed, as when a terminal window is
/// closed): the dashboard exits within 5 s instead of lingering as an orphan.
#[test]
fn tty_gone_ends_the_dashboard() {
    if !common::require_tmux() {
        return;
    }
    let d = Dashboard::start("ttygone", "");
    d.wait_drawn();
    let pid = d.pid();
    d.tmux.kill_server();
    let stat = format!("/proc/{pid}/stat");
    let deadline = Instant::now() + Duration::from_secs(5);
    let started = Instant::now();
    loop {
        // Gone, or a zombie waiting for init to reap it: either way it has exited.
        let state = std::fs::read_to_string(&stat)
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.chars().next()))
            .flatten();
        if matches!(state, None | Some('Z')) {
            println!("exited {:?} after the tty went away", started.elapsed());
            break;
        }
        if Instant::now() > deadline {
            let s = std::fs::read_to_string(&stat).unwrap_or_default();
            // SAFETY: kill has no memory-safety preconditions; pid is our own child's.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("still running 5 s after its tty went away: {s}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The terminal hangs up under a dashboard whose parent shell ignores SIGHUP (`trap '' HUP`,
/// as under nohup-style wrappers): the kernel then sends the dashboard no SIGHUP, its tty
/// reads as an endless end-of-file (crossterm's read spins on it) and with `--interval 1h`
/// no draw fails either. It must still end within 5 s, as SIGHUP (129), with nothing on
/// stderr (no "Failed to show the cursor" from writing to the dead terminal). The shell
/// survives to record the exit code.
#[test]
fn tty_hangup_exits_129_silently() {
    if !common::require_tmux() {
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("sockscope");
    let dir = tempfile::tempdir().unwrap();
    let (status, err) = (dir.path().join("status"), dir.path().join("stderr"));
    let cmd = format!(
        "trap '' HUP; sh -c '{} --interval 1h 2>{}; echo exit=$? > {}'",
        bin.display(),
        err.display(),
        status.display()
    );
    let tmux = Tmux::start("hangup", 100, 30, &cmd);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(5), |s| s.contains("1 Overview"));
    assert!(ok, "dashboard did not start:\n{screen}");
    tmux.kill_server();
    let started = Instant::now();
    while !status.exists() && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = started.elapsed();
    if !status.exists() {
        // Do not leave it spinning: the dashboard whose parent shell's command line names
        // this test's directory.
        for pid in children_of_shell_naming(&dir.path().to_string_lossy()) {
            // SAFETY: kill has no memory-safety preconditions; pid is our own descendant.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let exit = std::fs::read_to_string(&status).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    println!("hung up: {} after {took:?}", exit.trim());
    assert_eq!(
        exit.trim(),
        "exit=129",
        "after a hangup ({took:?}); stderr: {stderr}"
    );
    assert!(stderr.is_empty(), "stderr after a hangup: {stderr}");
}

/// Pids of the processes whose parent's command line contains `needle`.
fn children_of_shell_naming(needle: &str) -> Vec<i32> {
    let cmdline = |pid: &str| std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .unwrap_or("0");
        if String::from_utf8_lossy(&cmdline(ppid)).contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// Bad input that only a terminal reaches (the dashboard and replay check the tty first):
/// one line naming it, exit 2, and the terminal never switched (no alternate screen left
/// behind, cooked mode).
#[test]
fn bad_input_in_a_terminal_is_one_line_and_exit_2() {
    if !common::require_tmux() {
        return;
    }
    let cases = [
        ("--netns sockscope-no-such-ns", "sockscope-no-such-ns"),
        (
            "--config /nonexistent/sockscope.toml",
            "/nonexistent/sockscope.toml",
        ),
        ("--threshold orphans.min_count=x", "orphans.min_count"),
        ("--interval 0", "--interval"),
        ("--all-netns --threshold nosuch.key=1", "nosuch"),
        ("replay /nonexistent/rec.jsonl", "/nonexistent/rec.jsonl"),
    ];
    for (i, (args, needle)) in cases.into_iter().enumerate() {
        let d = Dashboard::start_with(&format!("bad{i}"), "", args);
        d.assert_exited(2, args);
        let screen = d.tmux.screen();
        let lines: Vec<&str> = screen
            .lines()
            // The shell's prompt may land in front of the line: `# sockscope: …`.
            .filter(|l| l.contains("sockscope: "))
            .collect();
        assert_eq!(lines.len(), 1, "{args}: not one line:\n{screen}");
        assert!(
            lines[0].contains(needle),
            "{args}: does not name {needle}:\n{screen}"
        );
    }
}
