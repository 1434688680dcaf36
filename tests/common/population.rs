//! Socket-population generators (`tests/support/pop.py`) behind a guard that kills the
//! generator's process group on drop.

use super::*;

/// Absolute path of `tests/support/pop.py`.
pub fn pop_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/pop.py")
}

/// The Python interpreter: `/usr/bin/python3` when present (same on every machine), else
/// whatever `python3` is on PATH.
pub fn python() -> String {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3".into()
    } else {
        "python3".into()
    }
}

/// A running generator (`pop.py <subcommand>`), ready, in its own process group.
/// Drop kills the group (SIGTERM, then SIGKILL after 2 s) and reaps it.
pub struct Population {
    child: Option<Child>,
    /// The JSON ready line.
    pub ready: Value,
    stderr_path: PathBuf,
    _stderr_dir: tempfile::TempDir,
}

impl Population {
    /// Spawns `pop.py --hold <hold> <args…>` (inside `netns` if given) and waits up to 30 s
    /// for its ready line. Panics with the generator's stderr when it fails.
    pub fn spawn(netns: Option<&str>, args: &[&str]) -> Population {
        Self::spawn_hold(netns, 90, args)
    }

    /// As [`Population::spawn`] with an explicit hold cap in seconds.
    pub fn spawn_hold(netns: Option<&str>, hold_secs: u32, args: &[&str]) -> Population {
        let script = pop_script();
        let hold = hold_secs.to_string();
        let mut full: Vec<&str> = vec![script.to_str().unwrap(), "--hold", &hold];
        full.extend_from_slice(args);
        let py = python();
        let mut cmd = in_netns(netns, &py, &full);
        let dir = tempfile::tempdir().unwrap();
        let stderr_path = dir.path().join("stderr");
        let errf = File::create(&stderr_path).unwrap();
        cmd.stderr(Stdio::from(errf));
        let (child, rx, desc) = start_generator(&mut cmd);
        let mut pop = Population {
            child: Some(child),
            ready: Value::Null,
            stderr_path,
            _stderr_dir: dir,
        };
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let parsed: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
        if parsed["ready"] != Value::Bool(true) {
            let err = pop.stderr();
            drop(pop);
            panic!("generator {desc} not ready: line={line:?}\nstderr:\n{err}");
        }
        pop.ready = parsed;
        pop
    }

    /// The generator's own pid (as it reports; the same as the spawned pid, since
    /// `ip netns exec` execs in place).
    pub fn pid(&self) -> u32 {
        u32::try_from(self.ready["pid"].as_u64().unwrap()).unwrap()
    }

    /// The listening/destination port it reports.
    pub fn port(&self) -> u16 {
        u16::try_from(self.ready["port"].as_u64().unwrap()).unwrap()
    }

    /// `comm` it set for itself.
    pub fn comm(&self) -> String {
        self.ready["comm"].as_str().unwrap().to_string()
    }

    /// Any ready-line field as u64.
    pub fn u64(&self, key: &str) -> u64 {
        self.ready[key]
            .as_u64()
            .unwrap_or_else(|| panic!("ready line has no integer {key}: {}", self.ready))
    }

    /// What it has written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// True while the process is alive.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Population {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_generator(child);
        }
    }
}

/// Starts a generator with stdin and stdout on pipes, in its own process group, and a
/// thread that hands over its first stdout line (the ready line) and then keeps draining,
/// so the generator never blocks on a full pipe. stdin stays a pipe: when the guard (and
/// so the pipe) goes, the generator sees EOF. Returns the child, the line's receiver and a
/// description for messages.
pub fn start_generator(cmd: &mut Command) -> (Child, mpsc::Receiver<String>, String) {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0);
    let desc = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink);
    });
    (child, rx, desc)
}

/// Ends a generator started in its own process group: stdin closed, SIGTERM to the group,
/// SIGKILL after 2 s, reaped.
pub fn stop_generator(mut child: Child) {
    let pgid = child.id();
    drop(child.stdin.take());
    kill_group(pgid, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        // Once reaped the pgid is not ours to signal any more; forked holders die with
        // their parent (PDEATHSIG) and are also killed by its SIGTERM handler.
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_group(pgid, libc::SIGKILL);
    let _ = child.wait();
}
