//! A `sockscope serve` under test: started through `sh -c` (so a test can set a ulimit
//! first), in its own process group killed on drop, stderr collected on a thread.

use std::os::unix::process::CommandExt;

use super::*;

/// A running `sockscope serve`; its process group is killed and reaped on drop.
pub struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
}

impl Server {
    /// Runs `sh -c "<prelude> exec sockscope <args…>"` (prelude e.g. `ulimit -n 256;`).
    pub fn start(prelude: &str, args: &[&str]) -> Server {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!("{prelude} exec \"$0\" \"$@\""))
            .arg(sockscope_path())
            .args(args);
        Server::spawn(c)
    }

    /// Runs `c` (which execs `sockscope serve` in the end) in its own process group, with
    /// stderr collected.
    pub fn spawn(mut c: Command) -> Server {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = c.spawn().unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Server {
            child,
            lines,
            stderr: Vec::new(),
        }
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The stderr lines so far.
    pub fn stderr(&mut self) -> &[String] {
        while let Ok(l) = self.lines.try_recv() {
            self.stderr.push(l);
        }
        &self.stderr
    }

    /// `host:port` from the "serving metrics on http://…/metrics" line (30 s at most).
    pub fn addr(&mut self) -> String {
        wait_for("the serving line", Duration::from_secs(30), || {
            self.stderr().iter().find_map(|l| {
                let rest = l.split("serving metrics on http://").nth(1)?;
                Some(rest.trim_end_matches("/metrics").to_string())
            })
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's process group; no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// The value of the series line starting with `series ` (name and labels as printed).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The distinct `netns` label values of `sockscope_sockets` series in a scrape.
pub fn netns_labels(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("sockscope_sockets{netns=\""))
        .filter_map(|l| l.split_once("\",").map(|(ns, _)| ns.to_string()))
        .collect()
}
