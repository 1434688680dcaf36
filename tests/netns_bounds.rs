//! `serve --all-netns` has resource bounds (issue 21, item 3): hundreds of user-owned
//! namespaces (made by uid 65534 with `unshare -rn`) against `ulimit -n 256` must not
//! blind it. Every tick still covers the host and what fits; what does not is counted in
//! `sockscope_netns_skipped{reason}`, and collected + skipped + unreadable adds up to
//! `sockscope_netns_discovered`. A second run shows `--max-netns`.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::privilege::SETPRIV_NOBODY;
use common::*;

/// How many namespaces the flood makes.
const FLOOD: usize = 300;

/// `FLOOD` times `setpriv … unshare -rn sleep 60`, all in one process group killed on drop.
struct Flood(Child);

impl Flood {
    fn spawn() -> Flood {
        let script = format!(
            "for i in $(seq {FLOOD}); do setpriv {} unshare -rn sleep 60 & done; wait",
            SETPRIV_NOBODY.join(" ")
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        Flood(child)
    }

    /// The flood's processes that sit in a namespace of their own.
    fn namespaces(&self) -> usize {
        let host = std::fs::read_link("/proc/self/ns/net").unwrap();
        let me = self.0.id().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                let p = e.path();
                let stat = std::fs::read_to_string(p.join("stat")).unwrap_or_default();
                // pid (comm) state ppid …
                let ppid = stat.rsplit(") ").next().and_then(|r| r.split(' ').nth(1));
                ppid == Some(me.as_str())
                    && std::fs::read_link(p.join("ns/net")).is_ok_and(|l| l != host)
            })
            .count()
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.0.id()) {
            // SAFETY: kill(2) on our own child's process group; no memory is involved.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.0.wait();
    }
}

/// What one scrape says about the sweep.
#[derive(Debug)]
struct Sweep {
    reported: usize,
    limit: f64,
    fds: f64,
    unreadable: f64,
    discovered: f64,
}

fn sweep_of(text: &str) -> Sweep {
    let get = |s: &str| metric(text, s).unwrap_or_else(|| panic!("no {s} in:\n{text}"));
    Sweep {
        reported: netns_labels(text).len(),
        limit: get("sockscope_netns_skipped{reason=\"limit\"}"),
        fds: get("sockscope_netns_skipped{reason=\"fds\"}"),
        unreadable: get("sockscope_netns_unreadable"),
        discovered: get("sockscope_netns_discovered"),
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

#[test]
fn hundreds_of_user_namespaces_are_bounded_and_counted() {
    if !require_root(
        "hundreds_of_user_namespaces_are_bounded_and_counted",
        "it reads every namespace and sets up many as uid 65534",
    ) {
        return;
    }
    let started = Instant::now();
    let flood = Flood::spawn();
    wait_for("the flood's namespaces", Duration::from_secs(60), || {
        (flood.namespaces() >= FLOOD).then_some(())
    });
    eprintln!("{FLOOD} user namespaces up in {:?}", started.elapsed());

    let mut server = Server::start(
        "ulimit -n 256;",
        &[
            "--all-netns",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "200ms",
        ],
    );
    let addr = server.addr();
    wait_for(
        "namespaces skipped for fds",
        Duration::from_secs(20),
        || {
            let t = scrape(&addr);
            (metric(&t, "sockscope_netns_skipped{reason=\"fds\"}")? > 0.0).then_some(())
        },
    );
    let mut max_fds = 0;
    for i in 0..10 {
        let text = scrape(&addr);
        let s = sweep_of(&text);
        let series = text.lines().filter(|l| !l.starts_with('#')).count();
        eprintln!(
            "ulimit 256, scrape {i}: {s:?}, {} bytes, {series} lines of series",
            text.len()
        );
        assert!(text.contains("sockscope_up 1"), "scrape {i}:\n{text}");
        assert!(
            text.contains("sockscope_sockets{netns=\"host\",state=\"LISTEN\"}"),
            "scrape {i}: no host:\n{text}"
        );
        assert!(s.discovered >= (FLOOD + 1) as f64, "scrape {i}: {s:?}");
        assert!(s.fds > 0.0, "scrape {i}: {s:?}");
        assert!(s.reported > 1, "scrape {i}: {s:?}");
        assert_eq!(
            s.reported as f64 + s.limit + s.fds + s.unreadable,
            s.discovered,
            "scrape {i}: collected + skipped + unreadable != discovered"
        );
        max_fds = max_fds.max(open_fds(server.pid()));
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("ulimit 256: at most {max_fds} descriptors open");
    eprintln!("stderr: {:?}", server.stderr());
    assert!(max_fds <= 256, "{max_fds}");
    assert!(
        server
            .stderr()
            .iter()
            .any(|l| l.contains("namespaces not collected") && l.contains("file descriptors")),
        "{:?}",
        server.stderr()
    );
    drop(server);

    // The one-shot faces: the same bound, said on stderr (and in the JSON failures).
    let o = run_bounded(
        Command::new("sh").args([
            "-c",
            "ulimit -n 256; exec \"$0\" --all-netns summary",
            sockscope_path().to_str().unwrap(),
        ]),
        Duration::from_secs(60),
    );
    let (code, stdout, stderr) = parts(&o);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\thost"), "{stdout}");
    let note = stderr
        .lines()
        .find(|l| l.contains("namespaces not collected: skipped:"))
        .unwrap_or_else(|| panic!("no skip line:\n{stderr}"));
    eprintln!("summary --all-netns under ulimit 256: {note}");
    assert!(note.contains("file descriptors"), "{note}");

    // The namespace limit, with descriptors to spare.
    let mut server = Server::start(
        "",
        &[
            "--all-netns",
            "--max-netns",
            "50",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "200ms",
        ],
    );
    let addr = server.addr();
    let text = wait_for("the limit", Duration::from_secs(20), || {
        let t = scrape(&addr);
        (metric(&t, "sockscope_netns_skipped{reason=\"limit\"}")? > 0.0).then_some(t)
    });
    let s = sweep_of(&text);
    eprintln!("--max-netns 50: {s:?}, {} bytes", text.len());
    assert_eq!(s.reported, 50, "{s:?}");
    assert_eq!(s.fds, 0.0, "{s:?}");
    assert_eq!(
        s.reported as f64 + s.limit + s.unreadable,
        s.discovered,
        "{s:?}"
    );
    assert!(
        server
            .stderr()
            .iter()
            .any(|l| l.contains("over --max-netns 50")),
        "{:?}",
        server.stderr()
    );
    eprintln!("whole test: {:?}", started.elapsed());
}
