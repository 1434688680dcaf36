//! Live UDP and UNIX collection (issue 13) through the library API, each compared with `ss`
//! taken at the same moment: a flooded UDP receiver's drops and Recv-Q, connected and v6
//! UDP, a UNIX listener whose backlog is full, abstract, datagram and socketpair sockets,
//! `--source proc` against sock_diag, and attribution to this test's own pid.
//!
//! The sockets live in the test's own namespace; every comparison picks them out by port or
//! by socket inode (`fstat`), so other activity on the machine cannot change the numbers.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::process::Command;
use std::time::Duration;

use common::{require_root, run_ok, wait_for};
use sockscope::collect::collector::{CollectConfig, Collector, SourcePref};
use sockscope::model::{Owner, Protocol, Protocols, Snapshot, TcpState, UnixRecord};

fn collect(protocols: Protocols, source: SourcePref) -> Snapshot {
    let cfg = CollectConfig {
        source,
        protocols,
        attribute: true,
        ..CollectConfig::default()
    };
    Collector::open(cfg).unwrap().collect().unwrap()
}

fn inode(fd: RawFd) -> u64 {
    nix::sys::stat::fstat(fd).unwrap().st_ino
}

fn set_rcvbuf(fd: RawFd, bytes: libc::c_int) {
    // SAFETY: a valid fd and a c_int option value of its own size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_RCVBUF");
}

/// `ss -uamnH` for one local port: (Recv-Q, drops `d<N>`).
fn ss_udp(port: u16) -> (u32, u32) {
    let out = run_ok(Command::new("ss").args(["-uamnH", &format!("sport = :{port}")]));
    let mut lines = out.lines();
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("ss has no socket on {port}:\n{out}"));
    let recv_q = first.split_whitespace().nth(1).unwrap().parse().unwrap();
    let skmem = out
        .split("skmem:(")
        .nth(1)
        .unwrap_or_else(|| panic!("no skmem:\n{out}"));
    let drops = skmem
        .split([',', ')'])
        .find_map(|f| f.strip_prefix('d'))
        .unwrap()
        .parse()
        .unwrap();
    (recv_q, drops)
}

#[test]
fn flooded_udp_receiver_drops_and_queue_match_ss_in_both_sources() {
    if !require_root(
        "flooded_udp_receiver",
        "ss -p and /proc/*/fd of every process",
    ) {
        return;
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    set_rcvbuf(rx.as_raw_fd(), 4096);
    let port = rx.local_addr().unwrap().port();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Bounded flood: the receiver never reads, so once its buffer is full every datagram
    // is a drop.
    let payload = [7u8; 512];
    let mut sent = 0;
    wait_for("the receiver to drop", Duration::from_secs(10), || {
        for _ in 0..50 {
            tx.send_to(&payload, ("127.0.0.1", port)).unwrap();
        }
        sent += 50;
        assert!(sent <= 5000, "no drop after {sent} datagrams");
        (ss_udp(port).1 > 0).then_some(())
    });
    let connected = UdpSocket::bind("127.0.0.1:0").unwrap();
    connected.connect(("127.0.0.1", port)).unwrap();
    let v6 = UdpSocket::bind("[::1]:0").unwrap();
    let v6_port = v6.local_addr().unwrap().port();

    let before = ss_udp(port);
    let snap = collect(Protocols::only(Protocol::Udp), SourcePref::Netlink);
    let proc_snap = collect(Protocols::only(Protocol::Udp), SourcePref::Proc);
    assert_eq!(ss_udp(port), before, "nothing moved while we looked");
    assert!(snap.sockets.is_empty(), "a UDP-only run has no TCP");
    assert_eq!(snap.protocols, Protocols::only(Protocol::Udp));

    let me = std::process::id();
    for s in [&snap, &proc_snap] {
        let r = s
            .udp
            .iter()
            .find(|r| r.inode == inode(rx.as_raw_fd()))
            .unwrap();
        let mem = r.skmem.unwrap();
        assert_eq!((r.recv_q, mem.drops), before, "{:?} vs ss", s.source);
        assert_eq!((r.state, r.local.port), (TcpState::Close, port));
        assert_eq!(r.owner, Owner::Process(me));
        assert!(s.processes.contains_key(&me));
        let c = s
            .udp
            .iter()
            .find(|r| r.inode == inode(connected.as_raw_fd()))
            .unwrap();
        assert_eq!(c.state, TcpState::Established);
        assert_eq!(c.remote.port, port);
        let six = s
            .udp
            .iter()
            .find(|r| r.inode == inode(v6.as_raw_fd()))
            .unwrap();
        assert_eq!(six.local.to_string(), format!("[::1]:{v6_port}"));
    }
    let r = snap
        .udp
        .iter()
        .find(|r| r.inode == inode(rx.as_raw_fd()))
        .unwrap();
    let rb = r.skmem.unwrap().rcvbuf.unwrap();
    assert!(rb >= 4096, "the kernel doubles SO_RCVBUF: {rb}");
    let pr = proc_snap
        .udp
        .iter()
        .find(|r| r.inode == inode(rx.as_raw_fd()))
        .unwrap();
    assert_eq!(pr.skmem.unwrap().rcvbuf, None, "/proc has no buffer size");
}

/// `sockaddr_un` for `name` (a path, or an abstract name when `abstract_name`) and its length.
fn sockaddr_un(name: &[u8], abstract_name: bool) -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut a: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    a.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let start = usize::from(abstract_name);
    assert!(start + name.len() < a.sun_path.len());
    for (i, b) in name.iter().enumerate() {
        a.sun_path[start + i] = *b as libc::c_char;
    }
    let base = std::mem::size_of::<libc::sa_family_t>();
    // A path is NUL-terminated; an abstract name is exactly its bytes after the NUL.
    let len = base + start + name.len() + usize::from(!abstract_name);
    (a, len as libc::socklen_t)
}

fn unix_socket(flags: libc::c_int) -> OwnedFd {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | flags, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a fresh, valid descriptor nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A non-blocking UNIX stream socket connecting to `path`; `None` when the backlog is full.
fn nonblocking_connect(path: &std::path::Path) -> Option<OwnedFd> {
    let fd = unix_socket(libc::SOCK_NONBLOCK);
    let (addr, len) = sockaddr_un(path.as_os_str().as_encoded_bytes(), false);
    // SAFETY: addr is a valid sockaddr_un of `len` bytes.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        )
    };
    if rc == 0 {
        return Some(fd);
    }
    let e = std::io::Error::last_os_error();
    assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "connect: {e}");
    None
}

/// A UNIX stream listener bound to `name` with `backlog`.
fn listen_unix(name: &[u8], abstract_name: bool, backlog: i32) -> OwnedFd {
    let fd = unix_socket(0);
    let (addr, len) = sockaddr_un(name, abstract_name);
    // SAFETY: addr is a valid sockaddr_un of `len` bytes; fd is ours.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        )
    };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    // SAFETY: fd is a bound stream socket we own.
    assert_eq!(unsafe { libc::listen(fd.as_raw_fd(), backlog) }, 0);
    fd
}

/// `ss -xanH` rows by local inode: (state, Recv-Q, Send-Q).
fn ss_unix() -> std::collections::BTreeMap<u64, (String, u32, u32)> {
    let out = run_ok(Command::new("ss").args(["-xanH"]));
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let ino = f.get(5)?.parse().ok()?;
            Some((
                ino,
                (f[1].to_string(), f[2].parse().ok()?, f[3].parse().ok()?),
            ))
        })
        .collect()
}

fn find(s: &[UnixRecord], ino: u64) -> &UnixRecord {
    s.iter()
        .find(|r| r.inode == ino)
        .unwrap_or_else(|| panic!("inode {ino} not collected"))
}

#[test]
fn unix_sockets_match_ss_and_proc_gives_the_same_set() {
    if !require_root("unix_sockets_match_ss", "/proc/*/fd of every process") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backlog.sock");
    let listener = listen_unix(path.as_os_str().as_encoded_bytes(), false, 4);
    let clients: Vec<OwnedFd> = (0..20).filter_map(|_| nonblocking_connect(&path)).collect();
    assert_eq!(clients.len(), 5, "Linux admits backlog + 1");
    let abs_name = format!("sockscope-live-{}", std::process::id());
    let abs = listen_unix(abs_name.as_bytes(), true, 8);
    let dgram_path = dir.path().join("dgram.sock");
    let dgram = UnixDatagram::bind(&dgram_path).unwrap();
    UnixDatagram::unbound()
        .unwrap()
        .send_to(b"0123456789", &dgram_path)
        .unwrap();
    let (pa, pb) = UnixStream::pair().unwrap();

    let mine: BTreeSet<u64> = [
        listener.as_raw_fd(),
        abs.as_raw_fd(),
        dgram.as_raw_fd(),
        pa.as_raw_fd(),
        pb.as_raw_fd(),
    ]
    .into_iter()
    .chain(clients.iter().map(AsRawFd::as_raw_fd))
    .map(inode)
    .collect();

    let ss = ss_unix();
    let snap = collect(Protocols::only(Protocol::Unix), SourcePref::Netlink);
    let proc_snap = collect(Protocols::only(Protocol::Unix), SourcePref::Proc);
    assert_eq!(ss_unix(), ss, "nothing moved while we looked");

    let me = std::process::id();
    // Every socket of ours that ss lists, we list, with ss's state and queues.
    for &ino in &mine {
        let (state, rq, sq) = ss.get(&ino).unwrap_or_else(|| panic!("ss lacks {ino}"));
        let r = find(&snap.unix, ino);
        assert_eq!(
            (
                sockscope::model::Protocol::Unix.state_name(r.state),
                r.recv_q,
                r.send_q
            ),
            (state.as_str(), Some(*rq), Some(*sq)),
            "inode {ino}"
        );
        assert_eq!(r.owner, Owner::Process(me), "inode {ino}");
    }
    assert!(snap.processes.contains_key(&me));
    let l = find(&snap.unix, inode(listener.as_raw_fd()));
    assert_eq!(l.listen_queue(), Some((5, 4)), "as ss -xl shows");
    assert_eq!(
        l.name.as_ref().unwrap().bytes(),
        path.as_os_str().as_encoded_bytes()
    );
    let a = find(&snap.unix, inode(abs.as_raw_fd()));
    assert_eq!(a.name.as_ref().unwrap().to_string(), format!("@{abs_name}"));
    let d = find(&snap.unix, inode(dgram.as_raw_fd()));
    assert_eq!((d.state, d.recv_q), (TcpState::Close, Some(10)));
    let (ia, ib) = (inode(pa.as_raw_fd()), inode(pb.as_raw_fd()));
    let sa = find(&snap.unix, ia);
    assert_eq!((sa.name.as_ref(), sa.peer_inode), (None, Some(ib)));
    assert_eq!(sa.state, TcpState::Established);

    // /proc/net/unix: the same sockets of ours, states alike, no queues, still attributed.
    let proc_mine: BTreeSet<u64> = proc_snap
        .unix
        .iter()
        .map(|r| r.inode)
        .filter(|i| mine.contains(i))
        .collect();
    assert_eq!(proc_mine, mine);
    for &ino in &mine {
        let (p, n) = (find(&proc_snap.unix, ino), find(&snap.unix, ino));
        assert_eq!((p.kind, p.state, &p.name), (n.kind, n.state, &n.name));
        assert_eq!((p.recv_q, p.send_q, p.uid), (None, None, None));
        assert_eq!(p.owner, Owner::Process(me));
    }
    drop((clients, pa, pb));
}

/// A lean dump (what `summary` by state asks for) counts the same sockets in the same
/// states and only leaves out the details it was told to skip: UDP memory info, UNIX names.
#[test]
fn lean_dump_counts_the_same_and_skips_only_the_details() {
    if !require_root(
        "lean_dump_counts_the_same",
        "a sock_diag dump that names our sockets",
    ) {
        return;
    }
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("lean.sock");
    let l = std::os::unix::net::UnixListener::bind(&path).expect("bind unix");
    let both = Protocols::from_flags(false, true, true);
    let cfg = |lean| CollectConfig {
        source: SourcePref::Netlink,
        protocols: both,
        lean,
        ..CollectConfig::default()
    };
    let mut full_c = Collector::open(cfg(false)).expect("open");
    let mut lean_c = Collector::open(cfg(true)).expect("open");
    let full = full_c.collect().expect("full");
    let lean = lean_c.collect().expect("lean");
    let udp_ino = inode(rx.as_raw_fd());
    let unix_ino = inode(l.as_raw_fd());
    let f = full
        .udp
        .iter()
        .find(|s| s.inode == udp_ino)
        .expect("udp in full");
    let g = lean
        .udp
        .iter()
        .find(|s| s.inode == udp_ino)
        .expect("udp in lean");
    assert!(f.skmem.is_some() && g.skmem.is_none(), "{f:?} / {g:?}");
    assert_eq!((f.state, f.local, f.recv_q), (g.state, g.local, g.recv_q));
    let f = find(&full.unix, unix_ino);
    let g = find(&lean.unix, unix_ino);
    assert!(f.name.is_some() && g.name.is_none(), "{f:?} / {g:?}");
    assert_eq!(
        (f.state, f.kind, f.recv_q, f.send_q),
        (g.state, g.kind, g.recv_q, g.send_q)
    );
    // Same totals per state, give or take sockets other processes opened in between.
    let diff = |a: usize, b: usize| a.abs_diff(b);
    assert!(diff(full.udp.len(), lean.udp.len()) <= 5);
    assert!(diff(full.unix.len(), lean.unix.len()) <= 5);
}
