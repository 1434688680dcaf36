//! Real third-party programs for `tests/real_software.rs`: nginx, redis-server, wrk and
//! hping3 run inside a namespace the test creates, each behind a guard that continues
//! (SIGCONT) and kills its process group on drop, so a failing test leaves nothing behind.
//! A small Python client holds connections and closes them on command.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// A program in its own process group; SIGCONT + SIGKILL to the group and reaped on drop.
pub struct Proc {
    child: Child,
    /// The program's pid (`ip netns exec` execs in place).
    pub pid: u32,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
    _dir: Option<tempfile::TempDir>,
}

impl Proc {
    /// Spawns `cmd` with stdin/stdout piped, stderr discarded, in its own process group.
    pub fn spawn(mut cmd: Command, dir: Option<tempfile::TempDir>) -> Proc {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        Proc {
            pid: child.id(),
            child,
            stdin,
            stdout,
            _dir: dir,
        }
    }

    /// Sends `sig` to the program's process group.
    pub fn signal(&self, sig: i32) {
        let pgid = i32::try_from(self.pid).unwrap();
        // SAFETY: kill(2) on our own child's process group; no memory involved.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }

    /// Writes one command line to its stdin.
    pub fn say(&mut self, line: &str) {
        let w = self.stdin.as_mut().unwrap();
        writeln!(w, "{line}").unwrap();
        w.flush().unwrap();
    }

    /// Reads stdout lines until one starts with `word` (the client reports each step), at
    /// most 30 s (the client exits by itself on any error, which ends the wait too).
    pub fn expect(&mut self, word: &str) -> String {
        let r = self.stdout.as_mut().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut line = String::new();
        while Instant::now() < deadline {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if line.starts_with(word) {
                return line.trim().to_string();
            }
        }
        panic!("program {} never said {word:?} (last {line:?})", self.pid);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        drop(self.stdin.take());
        self.signal(libc::SIGCONT);
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// nginx, single process (`master_process off`), serving one small file from a temp dir,
/// listening on 127.0.0.1:`port` with `backlog`. Returns once ss shows the listener.
pub fn nginx(ns: &Netns, addr: &str, port: u16, backlog: u32) -> Proc {
    nginx_serving(
        ns,
        port,
        &format!("listen {addr}:{port} backlog={backlog}; root DIR/www;"),
    )
}

/// nginx on 127.0.0.1:`port` as a reverse proxy to 127.0.0.1:`upstream`, with nginx's
/// defaults: HTTP/1.0 and no keepalive toward the upstream, so every request opens (and
/// closes) a connection to it.
pub fn nginx_proxy(ns: &Netns, port: u16, upstream: u16) -> Proc {
    nginx_serving(
        ns,
        port,
        &format!(
            "listen 127.0.0.1:{port}; location / {{ proxy_pass http://127.0.0.1:{upstream}; }}"
        ),
    )
}

/// nginx with one `server { … }` block (`DIR` in it is the temp dir, which holds
/// `www/index.html`), single process; returns once ss shows it listening on `port`.
fn nginx_serving(ns: &Netns, port: u16, server: &str) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    std::fs::write(dir.path().join("www/index.html"), "hello\n").unwrap();
    let server = server.replace("DIR", &d);
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 1024; }}\nhttp {{\n  \
         access_log off;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  \
         fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n  \
         server {{ {server} }}\n}}\n"
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let p = path.to_str().unwrap();
    let err = format!("{d}/error.log");
    let cmd = ns.cmd("nginx", &["-p", &d, "-e", &err, "-c", p]);
    let proc = Proc::spawn(cmd, Some(dir));
    wait_listening(ns, port, proc.pid);
    proc
}

/// redis-server on 127.0.0.1:`port`, no persistence, working dir a temp dir.
pub fn redis(ns: &Netns, port: u16) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let ps = port.to_string();
    let cmd = ns.cmd(
        "redis-server",
        &[
            "--port",
            &ps,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            &d,
            "--logfile",
            "",
            "--protected-mode",
            "no",
        ],
    );
    let proc = Proc::spawn(cmd, Some(dir));
    wait_listening(ns, port, proc.pid);
    proc
}

fn wait_listening(ns: &Netns, port: u16, pid: u32) {
    wait_for(
        &format!("pid {pid} listening on :{port}"),
        Duration::from_secs(10),
        || {
            ss_rows(ns.some(), &sport(port))
                .iter()
                .any(|r| r.state == "LISTEN" && r.pids.contains(&pid))
                .then_some(())
        },
    );
}

/// A Python client holding `n` connections to 127.0.0.1:`port`. Commands on stdin:
/// `close K DATA` (send DATA bytes, if any, then close K of them), `shutdown K` (send FIN,
/// keep the socket); [`clients_nonblocking`] does not wait for handshakes. Says `connected N`, then
/// `done` after each command.
pub fn clients(ns: &Netns, port: u16, n: u32) -> Proc {
    spawn_clients(ns, port, n, false)
}

/// As [`clients`], but connects without waiting for each handshake (for a listener whose
/// queue is full: later connects stay in SYN_SENT).
pub fn clients_nonblocking(ns: &Netns, port: u16, n: u32) -> Proc {
    spawn_clients(ns, port, n, true)
}

const CLIENT: &str = r#"
import socket, sys, time
port, n, nb = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
socks = []
for _ in range(n):
    s = socket.socket()
    if nb:
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
    else:
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
    socks.append(s)
print("connected", len(socks), flush=True)
deadline = time.time() + 120
for line in sys.stdin:
    if time.time() > deadline:
        break
    f = line.split()
    k = int(f[1])
    batch, socks = socks[:k], socks[k:]
    for s in batch:
        if f[0] == "close":
            if int(f[2]) > 0:
                s.sendall(b"x" * int(f[2]))
            s.close()
        else:
            s.shutdown(socket.SHUT_WR)
            socks.append(s)
    print("done", flush=True)
"#;

fn spawn_clients(ns: &Netns, port: u16, n: u32, nonblocking: bool) -> Proc {
    let (ps, ns_) = (port.to_string(), n.to_string());
    let nb = if nonblocking { "1" } else { "0" };
    let mut p = Proc::spawn(ns.cmd(&python(), &["-c", CLIENT, &ps, &ns_, nb]), None);
    p.expect("connected");
    p
}

/// `sockscope check --netns NS --interval I --format json`, parsed (exit 1 or 2 required
/// when `alerting`).
pub fn check_json(ns: &Netns, interval: &str) -> Value {
    let o = run_sockscope(
        None,
        &[
            "check",
            "--netns",
            &ns.name,
            "--interval",
            interval,
            "--format",
            "json",
        ],
    );
    let (code, out, err) = parts(&o);
    assert!(matches!(code, 0..=2), "check exit {code}\n{out}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{out}\n{err}"))
}

/// The findings of `rule` in a check JSON.
pub fn findings<'a>(v: &'a Value, rule: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

/// A finding's metric, -1 when absent.
pub fn fmetric(f: &Value, key: &str) -> f64 {
    f["metrics"][key].as_f64().unwrap_or(-1.0)
}

/// hping3 in `pair.a` sending SYNs to `pair.b`'s `port` from `sources` spoofed, unassigned
/// addresses of the pair's /24 (never `--rand-source`): for each, `count` SYNs one every
/// `gap_us` µs, one address after the other. Bounded: sources × count SYNs in all.
pub fn hping3_flood(pair: &NetnsPair, port: u16, sources: u32, count: u32, gap_us: u32) -> Proc {
    let prefix = pair.b_addr().rsplit_once('.').unwrap().0.to_string();
    let script = format!(
        "for i in $(seq 100 {last}); do hping3 -q -S -p {port} -a {prefix}.$i -c {count} \
         -i u{gap_us} {dst} >/dev/null 2>&1; done",
        last = 99 + sources,
        dst = pair.b_addr()
    );
    Proc::spawn(pair.a.cmd("sh", &["-c", &script]), None)
}
