//! Cgroups a test makes under the hierarchy that names systemd units, and the processes it
//! moves into them. Everything is undone on drop: processes moved back to the root cgroup
//! and killed, then the cgroups removed (retried for a bounded time while they empty).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The hierarchy that names units: v1 `name=systemd` where mounted (a hybrid host like
/// this one), else the v2 root.
pub fn unit_hierarchy() -> PathBuf {
    let v1 = Path::new("/sys/fs/cgroup/systemd");
    if v1.join("cgroup.procs").exists() {
        v1.to_path_buf()
    } else {
        PathBuf::from("/sys/fs/cgroup")
    }
}

/// Cgroups made and children started by a test.
pub struct Cgroups {
    /// The hierarchy's root ([`unit_hierarchy`]).
    pub root: PathBuf,
    dirs: Vec<PathBuf>,
    /// The children it will move back, kill and reap.
    pub children: Vec<Child>,
}

impl Cgroups {
    /// Nothing made yet, under [`unit_hierarchy`].
    pub fn new() -> Cgroups {
        Cgroups {
            root: unit_hierarchy(),
            dirs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Makes `rel` (e.g. `system.slice/demo.service`) under the root, each missing part
    /// of it too; returns its path.
    pub fn make(&mut self, rel: &str) -> PathBuf {
        let mut p = self.root.clone();
        for part in rel.split('/') {
            p.push(part);
            if !p.exists() {
                std::fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
                self.dirs.push(p.clone());
            }
        }
        p
    }

    /// Moves `pid` into the cgroup `dir`.
    pub fn move_into(&self, dir: &Path, pid: u32) {
        std::fs::write(dir.join("cgroup.procs"), pid.to_string())
            .unwrap_or_else(|e| panic!("move {pid} into {}: {e}", dir.display()));
    }

    /// Starts `cmd`, a program that waits for a `go` line on stdin before it opens its
    /// sockets and then prints `ready`; moves it into `dir` first, so every socket is made
    /// inside the cgroup. Keeps it (its stdin open) and returns its pid.
    pub fn start_in(&mut self, dir: &Path, cmd: &mut Command, ready: &str) -> u32 {
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let pid = child.id();
        self.children.push(child);
        self.move_into(dir, pid);
        let child = self.children.last_mut().unwrap();
        writeln!(child.stdin.as_mut().unwrap(), "go").unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), ready, "pid {pid} did not get ready");
        pid
    }

    /// Ends one of its children now (a "restart" of its service).
    pub fn kill(&mut self, pid: u32) {
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            let mut c = self.children.remove(i);
            end(&self.root, &mut c);
        }
    }
}

fn end(root: &Path, c: &mut Child) {
    // Back to the root first, so the cgroup empties even if the kill is slow.
    let _ = std::fs::write(root.join("cgroup.procs"), c.id().to_string());
    let _ = c.kill();
    let _ = c.wait();
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for c in &mut self.children {
            end(&self.root, c);
        }
        for d in self.dirs.iter().rev() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while std::fs::remove_dir(d).is_err() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
