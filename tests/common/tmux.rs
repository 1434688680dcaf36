//! A private tmux server for terminal tests: one pane running a shell, driven with
//! `send-keys` and read with `capture-pane`. The server (and whatever runs in it) is killed
//! on drop, pass or fail.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A private tmux server with one pane; killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts a `cols`×`rows` pane running `sh` on a server named after `tag` and this
    /// process, then types `shell_cmd` and Enter.
    pub fn start(tag: &str, cols: u16, rows: u16, shell_cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("sockscope-{tag}-{}", std::process::id()),
        };
        let (c, r) = (cols.to_string(), rows.to_string());
        let out = t.run(&["new-session", "-d", "-x", &c, "-y", &r, "sh"]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.keys(&[shell_cmd, "Enter"]);
        t
    }

    /// Runs a tmux command against this server.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env("TERM", "xterm-256color")
            .output()
            .unwrap()
    }

    /// `send-keys` to the pane (key names as tmux spells them: `Enter`, `Right`, `q`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }

    /// The pane's text.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    }

    /// A tmux format evaluated for the pane, e.g. `#{alternate_on}`.
    pub fn format(&self, f: &str) -> String {
        let out = self.run(&["display-message", "-p", "-t", "0", f]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits (bounded) until the screen satisfies `ok`; returns the last screen either way.
    pub fn wait_for(&self, timeout: Duration, ok: impl Fn(&str) -> bool) -> (bool, String) {
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

impl Tmux {
    /// Waits (bounded) for the shell to write `exit=N` into `status` after the program in
    /// the pane ended, and asserts the code was `code` and the terminal is restored: the
    /// alternate screen left and the cursor shown.
    pub fn assert_exited(&self, status: &Path, code: i32, what: &str) {
        // Bounded generously: on a loaded 2-core machine the last collection (attribution
        // as nobody walks every /proc entry) can take seconds to end before the exit.
        let deadline = Instant::now() + Duration::from_secs(12);
        while !status.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let exit = std::fs::read_to_string(status).unwrap_or_default();
        assert_eq!(exit.trim(), format!("exit={code}"), "{what}: exit code");
        assert_eq!(
            self.format("#{alternate_on}"),
            "0",
            "{what}: still on the alternate screen"
        );
        assert_eq!(
            self.format("#{cursor_flag}"),
            "1",
            "{what}: cursor left hidden"
        );
        self.assert_cooked(&status.with_file_name("stty"), what);
    }

    /// Asserts the pane's tty is back in cooked mode (raw mode off): the shell runs
    /// `stty -a` into `out` and its flags must include `icanon` and `echo`, not
    /// `-icanon`/`-echo`. The pane's shell must be at its prompt.
    pub fn assert_cooked(&self, out: &Path, what: &str) {
        let _ = std::fs::remove_file(out);
        let tmp = out.with_extension("tmp");
        // Written under another name and renamed, so a half-written file is never read.
        let cmd = format!(
            "stty -a > {} && mv {} {}",
            tmp.display(),
            tmp.display(),
            out.display()
        );
        self.keys(&[&cmd, "Enter"]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !out.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let flags = std::fs::read_to_string(out).unwrap_or_default();
        let words: Vec<&str> = flags.split_whitespace().collect();
        for flag in ["icanon", "echo"] {
            assert!(
                words.contains(&flag),
                "{what}: tty not restored (no `{flag}` in stty -a):\n{flags}\n{}",
                self.screen()
            );
        }
    }

    /// The pid the pane's program wrote into `pidfile` (bounded wait).
    pub fn read_pid(&self, pidfile: &Path) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(pidfile).unwrap_or_default();
            if let Ok(pid) = text.trim().parse() {
                return pid;
            }
            assert!(Instant::now() < deadline, "no pid in {}", pidfile.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the tmux server now (the pane's tty goes away), as closing a terminal
    /// window does.
    pub fn kill_server(&self) {
        let _ = self.run(&["kill-server"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// True when tmux is installed. Without it: prints why the test is skipped and returns
/// false, except under `CI`, where `.ci/run` installs tmux and its absence is a failure.
pub fn require_tmux() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tmux is required under CI"
    );
    eprintln!("SKIPPED: tmux is not installed");
    false
}
