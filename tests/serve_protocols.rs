//! `serve` and `watch` with `-u` / `-x` through the real binary.
//!
//! From the snapshot fixture `serve/udp_unix.json` (hidden `--from-snapshot`, read again on
//! every tick): the families and labels over HTTP, the observed-drops counter growing when
//! the file changes under the running server, the default run staying TCP alone, and the
//! watch lines. Live, on loopback, against `ss` (root, as CI runs): a UDP receiver that
//! never reads, flooded until it drops, and a UNIX listener with backlog 4 that never
//! accepts and 20 non-blocking clients, bound to a hostile path.

#![allow(clippy::unwrap_used)]

use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{metric, wait_for, Server};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/serve/udp_unix.json");

/// The body of a `GET /metrics` once the server answers 200.
fn scrape_ok(addr: &str) -> String {
    wait_for("a 200 from /metrics", Duration::from_secs(20), || {
        let r = common::scrape(addr);
        r.starts_with("HTTP/1.1 200")
            .then(|| r.split_once("\r\n\r\n").map(|(_, b)| b.to_string()))
            .flatten()
    })
}

/// Replaces `path` whole (a temporary file renamed over it), so a tick never reads half.
fn replace_json(path: &Path, v: &serde_json::Value) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(v).unwrap()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn serve_from_snapshot_exports_udp_and_unix_and_counts_drops_between_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.json");
    std::fs::copy(FIXTURE, &file).unwrap();
    let f = file.to_str().unwrap();
    let mut server = Server::start(
        "",
        &[
            "-u",
            "-x",
            "serve",
            "--from-snapshot",
            f,
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "100ms",
        ],
    );
    let addr = server.addr();
    let text = scrape_ok(&addr);
    let observed = "sockscope_udp_drops_observed_total{netns=\"host\"}";
    assert_eq!(metric(&text, observed), Some(0.0), "{text}");
    assert_eq!(
        metric(&text, "sockscope_udp_socket_drops{netns=\"host\"}"),
        Some(1523.0)
    );
    assert_eq!(
        metric(
            &text,
            "sockscope_unix_listener_accept_queue{netns=\"host\",path=\"/run/php/php-fpm.sock\",type=\"stream\"}"
        ),
        Some(5.0)
    );
    assert!(
        !text.contains("sockscope_sockets{"),
        "-u -x without -t: {text}"
    );

    // dnsmasq drops 100 more; the mDNS socket (3 drops) closes. The sum of the counters
    // says +97; the drops that happened are 100.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    v["udp"][0]["skmem"]["drops"] = 1600.into();
    v["udp"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["local"]["port"] != 5353);
    replace_json(&file, &v);
    let text = wait_for(
        "the observed drops to grow",
        Duration::from_secs(10),
        || {
            let t = scrape_ok(&addr);
            (metric(&t, observed) != Some(0.0)).then_some(t)
        },
    );
    assert_eq!(metric(&text, observed), Some(100.0), "{text}");
    assert_eq!(
        metric(&text, "sockscope_udp_socket_drops{netns=\"host\"}"),
        Some(1620.0)
    );
    // Later ticks of the same file add nothing.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(metric(&scrape_ok(&addr), observed), Some(100.0));
    assert!(server.stderr().iter().all(|l| !l.contains("panicked")));
}

#[test]
fn serve_from_snapshot_without_flags_is_tcp_alone() {
    let mut server = Server::start(
        "",
        &[
            "serve",
            "--from-snapshot",
            FIXTURE,
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "100ms",
        ],
    );
    let text = scrape_ok(&server.addr());
    for absent in ["sockscope_udp_", "sockscope_unix_", "sockscope_kernel_udp"] {
        assert!(!text.contains(absent), "{absent} in\n{text}");
    }
    assert_eq!(
        metric(&text, "sockscope_sockets{netns=\"host\",state=\"LISTEN\"}"),
        Some(1.0)
    );
}

#[test]
fn serve_from_a_bad_snapshot_is_one_line_and_exit_2() {
    for args in [
        &["serve", "--from-snapshot", "/nonexistent/snap.json"][..],
        &["--all-netns", "serve", "--from-snapshot", FIXTURE],
    ] {
        let mut a = args.to_vec();
        a.extend(["--listen", "127.0.0.1:0"]);
        let (code, out, err) = common::parts(&common::run_sockscope(None, &a));
        assert_eq!(code, 2, "{a:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{a:?}: {err}");
    }
}

#[test]
fn watch_from_snapshot_shows_udp_and_unix() {
    let text = common::sockscope_ok(
        None,
        &[
            "-u",
            "-x",
            "watch",
            "--from-snapshot",
            FIXTURE,
            "-c",
            "2",
            "-n",
            "50ms",
        ],
    );
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert_eq!(rows[0][1], "udp", "{text}");
    let col = |name: &str| rows[0].iter().position(|h| *h == name).unwrap();
    // Data rows have "n (+d)" cells on the second line; count from the first.
    assert_eq!(rows[1][col("udp_drops")], "-", "{text}");
    assert_eq!(rows[1][col("unix_fullest")], "5/4", "{text}");
    assert!(
        rows[2].contains(&"0"),
        "no drops between two reads of one file: {text}"
    );

    let jsonl = common::sockscope_ok(
        None,
        &[
            "-u",
            "-x",
            "watch",
            "--from-snapshot",
            FIXTURE,
            "-c",
            "2",
            "-n",
            "50ms",
            "-f",
            "jsonl",
        ],
    );
    let v: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v[1]["udp"]["drops"], 0);
    assert_eq!(v[1]["udp"]["socket_drops"], 1523);
    assert_eq!(v[1]["udp"]["host"]["RcvbufErrors"], 1540);
    assert_eq!(v[1]["unix"]["states"]["LISTEN"], 4);

    let tcp = common::sockscope_ok(
        None,
        &["watch", "--from-snapshot", FIXTURE, "-c", "1", "-n", "50ms"],
    );
    let head: Vec<&str> = tcp.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head[..3], ["time", "total", "ESTABLISHED"], "{tcp}");
    assert!(!tcp.contains("udp"), "{tcp}");
}

// ------------------------------------------------------------------ live (needs collection)

/// A UDP receiver on loopback that never reads, with a tiny receive buffer, so that a
/// flood drops; and its sender.
struct UdpFlood {
    rx: std::net::UdpSocket,
    tx: std::net::UdpSocket,
}

impl UdpFlood {
    fn new() -> UdpFlood {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let size: libc::c_int = 1024;
        // SAFETY: setsockopt on a socket we own, with a c_int option value of its size.
        let rc = unsafe {
            libc::setsockopt(
                rx.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw const size).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        UdpFlood { rx, tx }
    }

    fn port(&self) -> u16 {
        self.rx.local_addr().unwrap().port()
    }

    fn send(&self, n: usize) {
        let to = self.rx.local_addr().unwrap();
        for _ in 0..n {
            let _ = self.tx.send_to(&[0u8; 512], to);
        }
    }
}

/// `d<N>` of `ss -uamn` for the socket on local `port`: the kernel's drop counter.
fn ss_udp_drops(port: u16) -> u64 {
    let out = common::run_ok(
        std::process::Command::new("ss").args(["-uamnH", &format!("( sport = :{port} )")]),
    );
    let skmem = out
        .split("skmem:(")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    skmem
        .split([',', ')'])
        .find_map(|f| f.strip_prefix('d')?.parse().ok())
        .unwrap_or_else(|| panic!("no d<N> in {out}"))
}

/// A UNIX stream listener with backlog 4 that never accepts, bound to `path`, and 20
/// non-blocking clients: Linux admits backlog + 1 = 5, the others get EAGAIN.
fn full_unix_listener(path: &Path) -> (OwnedFd, Vec<OwnedFd>) {
    fn stream(flags: libc::c_int) -> OwnedFd {
        // SAFETY: socket(2) with constant arguments; the fd is checked and owned at once.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | flags, 0) };
        assert!(fd >= 0);
        // SAFETY: fd is a fresh descriptor nothing else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }
    // SAFETY: sockaddr_un is plain old data; all zeros is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    assert!(bytes.len() < addr.sun_path.len());
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let sa = (&raw const addr).cast::<libc::sockaddr>();
    let listener = stream(0);
    // SAFETY: bind/listen on our socket with a valid, sized sockaddr_un.
    unsafe {
        assert_eq!(libc::bind(listener.as_raw_fd(), sa, len), 0);
        assert_eq!(libc::listen(listener.as_raw_fd(), 4), 0);
    }
    let mut clients = Vec::new();
    let mut admitted = 0;
    for _ in 0..20 {
        let c = stream(libc::SOCK_NONBLOCK);
        // SAFETY: connect on our socket with a valid, sized sockaddr_un.
        if unsafe { libc::connect(c.as_raw_fd(), sa, len) } == 0 {
            admitted += 1;
        }
        clients.push(c);
    }
    assert_eq!(admitted, 5, "Linux admits backlog + 1");
    (listener, clients)
}

/// The label value the exposition prints for a path: the name's escaped form (the
/// library's own helper), then the text format's `\\` and `\"`.
fn exposition_label(path: &Path) -> String {
    let name = sockscope::model::Name::from_bytes(path.as_os_str().as_bytes());
    name.label_value(sockscope::report::prometheus::proto_metrics::PATH_LABEL_MAX)
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

fn own_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim_end()
        .to_string()
}

/// Needs collection: the real kernel's UDP and UNIX sockets reach `serve -u -x`.
#[test]
fn live_serve_names_udp_drops_and_a_full_unix_listener() {
    if !common::require_root(
        "live_serve_names_udp_drops_and_a_full_unix_listener",
        "naming the owner of every socket reads other processes' fd tables",
    ) {
        return;
    }
    let flood = UdpFlood::new();
    flood.send(2000);
    let kernel_drops = ss_udp_drops(flood.port());
    assert!(kernel_drops > 0, "the flood must drop (ss says d0)");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q\x1b[7m\"x\\y.sock");
    let (_listener, _clients) = full_unix_listener(&path);

    let mut server = Server::start(
        "",
        &[
            "-u",
            "-x",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "200ms",
        ],
    );
    let addr = server.addr();
    let label = exposition_label(&path);
    let queue = |text: &str, family: &str| {
        metric(
            text,
            &format!("sockscope_{family}{{netns=\"host\",path=\"{label}\",type=\"stream\"}}"),
        )
    };
    let comm = own_comm();
    let drops = format!("sockscope_udp_process_drops{{netns=\"host\",comm=\"{comm}\"}}");
    let text = wait_for(
        "our sockets in the exposition",
        Duration::from_secs(20),
        || {
            let t = scrape_ok(&addr);
            (queue(&t, "unix_listener_accept_queue").is_some() && metric(&t, &drops).is_some())
                .then_some(t)
        },
    );
    // ss -xl shows the listener as Recv-Q 5, Send-Q 4.
    assert_eq!(
        queue(&text, "unix_listener_accept_queue"),
        Some(5.0),
        "{text}"
    );
    assert_eq!(queue(&text, "unix_listener_backlog"), Some(4.0), "{text}");
    assert!(
        !text.contains('\x1b'),
        "a raw escape byte in the exposition"
    );
    let seen = metric(&text, &drops).unwrap();
    assert!(
        seen >= kernel_drops as f64,
        "{comm}'s UDP drops {seen} < ss's d{kernel_drops}"
    );
    assert!(
        metric(
            &text,
            "sockscope_kernel_udp_total{netns=\"host\",group=\"Udp\",name=\"RcvbufErrors\"}"
        )
        .is_some_and(|v| v >= kernel_drops as f64),
        "{text}"
    );
    // The ledger counts drops that happen while it watches.
    let observed = "sockscope_udp_drops_observed_total{netns=\"host\"}";
    let before = metric(&text, observed).unwrap();
    flood.send(2000);
    wait_for("observed drops to grow", Duration::from_secs(10), || {
        metric(&scrape_ok(&addr), observed).filter(|&v| v > before)
    });
}

/// Needs collection: `watch -u -f jsonl` counts the drops of each interval.
#[test]
fn live_watch_counts_udp_drops_per_interval() {
    let flood = Arc::new(UdpFlood::new());
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (flood, stop) = (Arc::clone(&flood), Arc::clone(&stop));
        std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(20);
            while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                flood.send(20);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let out = std::process::Command::new(common::sockscope_path())
        .args(["-u", "watch", "-f", "jsonl", "-n", "300ms", "-c", "3"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    sender.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines.iter().all(|l| l.get("udp").is_some()),
        "watch -u collected no UDP: {lines:?}"
    );
    assert!(lines[0]["udp"]["drops"].is_null());
    let dropped: u64 = lines[1..]
        .iter()
        .map(|l| l["udp"]["drops"].as_u64().unwrap())
        .sum();
    assert!(
        dropped > 0,
        "a receiver that never reads, flooded, dropped nothing? {lines:?} (ss: d{})",
        ss_udp_drops(flood.port())
    );
    assert!(lines[2]["udp"]["total"].as_u64().unwrap() >= 2);
}
