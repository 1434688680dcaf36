//! The UDP and UNIX rules on the real kernel, through the real binary, checked against `ss`
//! at the same moment: a UDP receiver that never reads, flooded on 127.0.0.1 until it drops,
//! makes `check -u` exit 2 naming this process and its port; a UNIX stream listener with
//! backlog 4 that never accepts, with 20 non-blocking clients (5 admitted, 15 EAGAIN), makes
//! `check -x` exit 2 naming its path and this process, as `ss -xl` shows it (Recv-Q 5,
//! Send-Q 4).
//!
//! Both need the UDP and UNIX collection (`-u`, `-x` on the live sources); without it the
//! check answers UNKNOWN (exit 3) and these tests fail saying so.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// `sockscope ARGS check --format json` (bounded to 30 s): exit code and the document.
fn check_json(args: &[&str]) -> (i32, Value) {
    let mut a = args.to_vec();
    a.extend_from_slice(&["check", "--interval", "1s", "--format", "json"]);
    let o = run_sockscope(None, &a);
    let (code, out, err) = parts(&o);
    assert_ne!(
        code, 3,
        "sockscope {a:?} could not judge (is the UDP/UNIX collection there?):\n{out}{err}"
    );
    let v = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("sockscope {a:?}: bad JSON ({e}):\n{out}\n{err}"));
    (code, v)
}

fn findings_of<'a>(v: &'a Value, rule: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn own_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim_end()
        .to_string()
}

/// The drop counter `ss -uamn` shows for the socket on 127.0.0.1:`port` (`d<N>` in skmem).
fn ss_drops(port: u16) -> u64 {
    let out = run_ok(std::process::Command::new("ss").args([
        "-uamnH",
        "src",
        &format!("127.0.0.1:{port}"),
    ]));
    let skmem = out
        .split("skmem:(")
        .nth(1)
        .unwrap_or_else(|| panic!("no skmem in ss output:\n{out}"));
    skmem
        .split([',', ')'])
        .find_map(|f| f.strip_prefix('d')?.parse().ok())
        .unwrap_or_else(|| panic!("no d<N> in ss output:\n{out}"))
}

#[test]
fn a_receiver_that_never_reads_is_named_by_check_u() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rx.local_addr().unwrap().port();
    let small: libc::c_int = 4096;
    // SAFETY: a valid socket fd, a pointer to a c_int and its size.
    let rc = unsafe {
        libc::setsockopt(
            rx.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&small as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_RCVBUF: {}", std::io::Error::last_os_error());
    // Flood it from a thread until the test is done (at most 60 s).
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if tx.send_to(&[0u8; 64], ("127.0.0.1", port)).is_ok() {
                    sent += 1;
                }
            }
            sent
        })
    };
    wait_for("the receiver to drop", Duration::from_secs(10), || {
        (ss_drops(port) > 1000).then_some(())
    });
    let before = ss_drops(port);
    let (code, v) = check_json(&["-u"]);
    let after = ss_drops(port);
    stop.store(true, Ordering::Relaxed);
    let sent = flood.join().unwrap();
    drop(rx);

    assert_eq!(code, 2, "a flood drops far over 100/s: {v:#}");
    let ours: Vec<&Value> = findings_of(&v, "udp_drops")
        .into_iter()
        .filter(|f| f["metrics"]["port"] == f64::from(port))
        .collect();
    assert_eq!(ours.len(), 1, "{v:#}");
    let f = ours[0];
    assert_eq!(f["severity"], "critical", "{f:#}");
    assert_eq!(f["subject"]["pid"], std::process::id(), "{f:#}");
    assert_eq!(f["subject"]["comm"], own_comm(), "{f:#}");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "127.0.0.1:{port} (pid {} {}): ",
            std::process::id(),
            own_comm()
        )) && msg.contains(" drops/s"),
        "{msg}"
    );
    // The socket's counter as ss saw it just before and just after the check.
    let total = f["metrics"]["drops_total"].as_f64().unwrap() as u64;
    assert!(
        (before..=after).contains(&total),
        "sockscope {total} drops, ss {before}..{after}"
    );
    let rate = f["metrics"]["drops_per_s"].as_f64().unwrap();
    assert!(rate >= 100.0, "{rate}/s");
    // The kernel doubles SO_RCVBUF: the buffer sockscope names is ss's rb.
    assert_eq!(f["metrics"]["rcvbuf"], f64::from(small * 2), "{f:#}");
    assert!(
        f["metrics"]["sysctl.net.core.rmem_max"].as_f64().is_some(),
        "{f:#}"
    );
    let host = f["metrics"]["rate.Udp.RcvbufErrors"].as_f64().unwrap();
    assert!(host > 0.0, "host RcvbufErrors rate {host}: {f:#}");
    assert!(sent > 0);
}

/// Binds a UNIX stream socket at `path` and listens with `backlog`; never accepts.
fn unix_listener(path: &std::path::Path, backlog: i32) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: plain socket(2); the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: fd was just returned by socket(2) and nothing else owns it.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let addr = sockaddr_un(path.as_os_str().as_bytes());
    // SAFETY: a valid fd and a fully initialised sockaddr_un of the given size.
    let rc = unsafe {
        libc::bind(
            fd,
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    // SAFETY: a valid, bound socket fd.
    assert_eq!(unsafe { libc::listen(fd, backlog) }, 0);
    owned
}

fn sockaddr_un(path: &[u8]) -> libc::sockaddr_un {
    // SAFETY: sockaddr_un is plain old data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    assert!(path.len() < addr.sun_path.len());
    for (d, s) in addr.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
    }
    addr
}

/// A non-blocking connect() to `path`: the fd (kept open) or the errno.
fn connect_nonblocking(path: &std::path::Path) -> Result<std::os::fd::OwnedFd, i32> {
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: plain socket(2); the fd is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    assert!(fd >= 0);
    // SAFETY: fd was just returned by socket(2) and nothing else owns it.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let addr = sockaddr_un(path.as_os_str().as_bytes());
    // SAFETY: a valid fd and a fully initialised sockaddr_un of the given size.
    let rc = unsafe {
        libc::connect(
            fd,
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(owned)
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

#[test]
fn a_listener_that_never_accepts_is_named_by_check_x() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sockscope-live.sock");
    let _listener = unix_listener(&path, 4);
    let mut clients = Vec::new();
    let mut eagain = 0;
    for _ in 0..20 {
        match connect_nonblocking(&path) {
            Ok(fd) => clients.push(fd),
            Err(e) if e == libc::EAGAIN => eagain += 1,
            Err(e) => panic!("connect: errno {e}"),
        }
    }
    assert_eq!((clients.len(), eagain), (5, 15), "Linux admits backlog + 1");
    let shown = path.to_str().unwrap();
    // ss -xl: Recv-Q 5 (pending), Send-Q 4 (backlog).
    let ss = run_ok(std::process::Command::new("ss").args(["-xlnH"]));
    let row = ss
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == shown))
        .unwrap_or_else(|| panic!("ss -xl does not list {shown}:\n{ss}"));
    let f: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((f[2], f[3]), ("5", "4"), "{row}");

    let (code, v) = check_json(&["-x"]);
    assert_eq!(code, 2, "{v:#}");
    let ours: Vec<&Value> = findings_of(&v, "unix_accept_overflow")
        .into_iter()
        .filter(|f| f["subject"]["name"] == shown)
        .collect();
    assert_eq!(ours.len(), 1, "{v:#}");
    let f = ours[0];
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["subject"]["pid"], std::process::id(), "{f:#}");
    assert_eq!(f["metrics"]["pending"], 5.0);
    assert_eq!(f["metrics"]["backlog"], 4.0);
    assert_eq!(f["metrics"]["full"], 1.0);
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!(
            "{shown} (pid {} {}): 5/4 pending connections (stream) — full",
            std::process::id(),
            own_comm()
        )),
        "{msg}"
    );
    drop(clients);
}
