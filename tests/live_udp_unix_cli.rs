//! `summary -u/-x` and `sockets -u/-x` through the real binary on the real kernel, each
//! compared with `ss` taken at the same moment, inside a private network namespace where
//! only this test's sockets live (UDP and UNIX sockets are per namespace). A child process
//! (this test binary re-run inside the namespace) holds: a UDP receiver that never reads,
//! flooded until it drops; a connected UDP socket; a v6 UDP socket; a UNIX stream listener
//! with backlog 4 that never accepts and 20 non-blocking clients (Linux admits 5); an
//! abstract-name listener; a bound dgram socket; a socketpair. Root only (namespaces).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};

use common::{in_netns, require_root, run_ok, run_sockscope, sockscope_ok, Netns};

const CHILD_ENV: &str = "SOCKSCOPE_UDP_UNIX_CHILD";
const RECV_PORT: u16 = 40_053;
const V6_PORT: u16 = 40_054;

/// Child half: creates the sockets, prints `ready <dir>`, holds them until stdin closes.
fn hold_sockets(dir: &str) -> ! {
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};

    let rx = UdpSocket::bind(("127.0.0.1", RECV_PORT)).unwrap();
    let small: libc::c_int = 4096;
    // SAFETY: a valid fd and a c_int option value of the size given.
    let rc = unsafe {
        libc::setsockopt(
            rx.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&small as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(("127.0.0.1", RECV_PORT)).unwrap();
    for _ in 0..2000 {
        let _ = tx.send(&[0u8; 1000]);
    }
    let v6 = UdpSocket::bind(("::1", V6_PORT)).unwrap();

    let path = format!("{dir}/listen.sock");
    let cpath = std::ffi::CString::new(path.clone()).unwrap();
    // SAFETY: plain socket calls on a fresh fd with a correctly sized sockaddr_un.
    let listener = unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut sa: libc::sockaddr_un = std::mem::zeroed();
        sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (i, b) in cpath.as_bytes().iter().enumerate() {
            sa.sun_path[i] = *b as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&sa as *const libc::sockaddr_un).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 4), 0);
        let mut clients = Vec::new();
        for _ in 0..20 {
            let c = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0);
            assert!(c >= 0);
            // EAGAIN once the queue holds backlog+1: such a client stays unconnected.
            libc::connect(c, (&sa as *const libc::sockaddr_un).cast(), len);
            clients.push(c);
        }
        (fd, clients)
    };
    let abs_name = format!("sockscope-test-{}", std::process::id());
    let abs = UnixListener::bind_addr(&SocketAddr::from_abstract_name(&abs_name).unwrap()).unwrap();
    let dgram = UnixDatagram::bind(format!("{dir}/dgram.sock")).unwrap();
    let pair = UnixStream::pair().unwrap();
    println!("ready {abs_name}");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop((rx, tx, v6, listener, abs, dgram, pair));
    std::process::exit(0)
}

#[test]
fn child_holds_sockets() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        hold_sockets(dir.to_str().unwrap());
    }
}

/// The child, running inside `ns`, killed on drop.
struct Holder {
    child: Child,
    abs_name: String,
    dir: tempfile::TempDir,
}

impl Holder {
    fn start(ns: &Netns) -> Holder {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let mut child = in_netns(
            Some(&ns.name),
            exe.to_str().unwrap(),
            &["--exact", "child_holds_sockets", "--nocapture"],
        )
        .env(CHILD_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        // libtest prints its own lines first. Bounded: the child prints `ready` or exits (EOF).
        let mut line = String::new();
        let abs_name = loop {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                panic!("child exited before it held its sockets");
            }
            if let Some(name) = line.trim().strip_prefix("ready ") {
                break name.to_string();
            }
        };
        Holder {
            child,
            abs_name,
            dir,
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// `ss <args>` in the namespace: the State column counted (`ss -x` prints a Netid column
/// first; `ss -u` alone does not).
fn ss_states(ns: &Netns, args: &[&str]) -> BTreeMap<String, u64> {
    let col = usize::from(args.iter().any(|a| a.starts_with('-') && a.contains('x')));
    let mut c = BTreeMap::new();
    for l in run_ok(&mut in_netns(Some(&ns.name), "ss", args)).lines() {
        if let Some(st) = l.split_whitespace().nth(col) {
            *c.entry(st.to_string()).or_default() += 1;
        }
    }
    c
}

/// `STATE<TAB>count` lines as counts.
fn text_states(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .map(|l| {
            let (s, n) = l.split_once('\t').unwrap();
            (s.to_string(), n.parse().unwrap())
        })
        .collect()
}

/// sockscope's and ss's counts at one stable moment (ss before and after agree).
fn compare(ns: &Netns, ours: &[&str], ss: &[&str]) {
    for _ in 0..3 {
        let before = ss_states(ns, ss);
        let got = text_states(&sockscope_ok(Some(&ns.name), ours));
        if before == ss_states(ns, ss) {
            assert_eq!(got, before, "sockscope {ours:?} vs ss {ss:?}");
            return;
        }
    }
    panic!("ss never stable around sockscope {ours:?}");
}

/// `d<N>` from `ss -uamn` for the socket bound to `port` (ss prints `skmem:(…)` on a
/// continuation line under the socket's own).
fn ss_drops(ns: &Netns, port: u16) -> u64 {
    let out = run_ok(&mut in_netns(Some(&ns.name), "ss", &["-uamnH"]));
    let mut records: Vec<String> = Vec::new();
    for l in out.lines() {
        match records.last_mut() {
            Some(r) if l.starts_with(char::is_whitespace) => r.push_str(l),
            _ => records.push(l.to_string()),
        }
    }
    let local = format!(":{port}");
    let r = records
        .iter()
        .find(|r| {
            r.split_whitespace()
                .nth(3)
                .is_some_and(|a| a.ends_with(&local))
        })
        .unwrap_or_else(|| panic!("no socket on {local} in ss -uam:\n{out}"));
    let sk = &r[r.find("skmem:(").unwrap()..];
    sk.split([',', ')', '('])
        .find_map(|f| f.strip_prefix('d')?.parse().ok())
        .unwrap()
}

#[test]
fn udp_and_unix_counts_match_ss() {
    if !require_root(
        "udp_and_unix_counts_match_ss",
        "it creates a network namespace",
    ) {
        return;
    }
    let ns = Netns::new("uxcli");
    let h = Holder::start(&ns);
    compare(&ns, &["summary", "-u"], &["-uanH"]);
    compare(&ns, &["summary", "-x"], &["-xaH"]);
    let both = sockscope_ok(Some(&ns.name), &["summary", "-ux"]);
    assert!(both
        .lines()
        .all(|l| l.starts_with("udp\t") || l.starts_with("unix\t")));

    // The flooded receiver: our drops are the kernel's, as ss -uam shows them.
    let v = common::sockscope_json(Some(&ns.name), &["sockets", "-u"]);
    let rx = v["udp"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local"] == format!("127.0.0.1:{RECV_PORT}"))
        .unwrap()
        .clone();
    let drops = rx["drops"].as_u64().unwrap();
    assert!(drops > 0, "the receiver never dropped: {rx}");
    assert_eq!(drops, ss_drops(&ns, RECV_PORT));
    assert_eq!(rx["pid"].as_u64(), Some(u64::from(h.child.id())), "{rx}");
    let connected = v["udp"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "ESTAB");
    assert_eq!(connected.count(), 1, "{v}");
    assert!(v["udp"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["local"] == format!("[::1]:{V6_PORT}")));

    // The full listener: 5 pending on a backlog of 4, as ss -xl prints Recv-Q/Send-Q.
    let path = format!("{}/listen.sock", h.dir.path().display());
    let v = common::sockscope_json(
        Some(&ns.name),
        &["summary", "-x", "--by", "listener", "--path", &path],
    );
    let l = &v["unix"]["listeners"][0];
    assert_eq!(
        (&l["pending"], &l["backlog"]),
        (&5.into(), &4.into()),
        "{v}"
    );
    let ssl = run_ok(&mut in_netns(Some(&ns.name), "ss", &["-xlH", "src", &path]));
    let f: Vec<&str> = ssl.split_whitespace().collect();
    assert_eq!((f[2], f[3]), ("5", "4"), "{ssl}");
    let abs = format!("@{}", h.abs_name);
    let out = sockscope_ok(Some(&ns.name), &["sockets", "-x", "--path", &abs]);
    assert!(out.contains(&abs), "{out}");
    let pair = sockscope_ok(Some(&ns.name), &["sockets", "-x"]);
    assert!(
        pair.lines().filter(|l| l.contains(" * ")).count() >= 2,
        "{pair}"
    );
}

#[test]
fn proc_source_gives_the_same_udp_drops_and_unix_sockets() {
    if !require_root("proc_source_…", "it creates a network namespace") {
        return;
    }
    let ns = Netns::new("uxproc");
    let h = Holder::start(&ns);
    let inodes = |source: &str| -> Vec<u64> {
        let v = common::sockscope_json(Some(&ns.name), &["--source", source, "sockets", "-x"]);
        let mut i: Vec<u64> = v["unix"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["inode"].as_u64().unwrap())
            .collect();
        i.sort_unstable();
        i
    };
    assert_eq!(inodes("proc"), inodes("netlink"));
    let v = common::sockscope_json(Some(&ns.name), &["--source", "proc", "sockets", "-ux"]);
    let rx = v["udp"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local"] == format!("127.0.0.1:{RECV_PORT}"))
        .unwrap();
    assert_eq!(rx["drops"].as_u64(), Some(ss_drops(&ns, RECV_PORT)));
    // /proc/net/unix has no queues: unknown, never 0.
    assert!(v["unix"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["recv_q"].is_null()));
    let o = run_sockscope(Some(&ns.name), &["--source", "proc", "summary", "-x"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("queue lengths of"), "{err}");
    drop(h);
}
