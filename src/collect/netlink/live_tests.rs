//! Live tests against the running kernel: sockets this test creates on 127.0.0.1 must
//! come back from a real dump with the right state, ports, inode and cookie, and the
//! per-state counts must match `ss -tanH` taken at the same moment. Works as root and
//! as an unprivileged user (sock_diag lists every socket to everyone).

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use super::NetlinkSource;
use crate::collect::{DumpRequest, SocketSource};
use crate::model::{Family, SocketRecord, TcpState};

/// The sockets one test run owns, kept open until dropped.
struct Population {
    listeners: Vec<TcpListener>,
    streams: Vec<TcpStream>,
    /// Every port this test uses: listeners and client ends.
    ports: HashSet<u16>,
    listener_ports: HashSet<u16>,
}

fn port(a: SocketAddr) -> u16 {
    a.port()
}

fn listener(pop: &mut Population) -> TcpListener {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = port(l.local_addr().unwrap());
    pop.ports.insert(p);
    pop.listener_ports.insert(p);
    l
}

fn connect(pop: &mut Population, to: &TcpListener) -> TcpStream {
    let c = TcpStream::connect(to.local_addr().unwrap()).unwrap();
    pop.ports.insert(port(c.local_addr().unwrap()));
    c
}

/// LISTEN 4, ESTABLISHED 2 pairs + 1 deferred client, CLOSE_WAIT/FIN_WAIT2 1 pair,
/// TIME_WAIT 1, SYN_RECV 1 (a TCP_DEFER_ACCEPT request socket).
fn build() -> Population {
    let mut pop = Population {
        listeners: Vec::new(),
        streams: Vec::new(),
        ports: HashSet::new(),
        listener_ports: HashSet::new(),
    };
    let est = listener(&mut pop);
    for _ in 0..2 {
        let c = connect(&mut pop, &est);
        let (s, _) = est.accept().unwrap();
        pop.streams.extend([c, s]);
    }
    let half = listener(&mut pop);
    let c = connect(&mut pop, &half);
    let (s, _) = half.accept().unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    pop.streams.extend([c, s]);
    let tw = listener(&mut pop);
    let c = connect(&mut pop, &tw);
    let (mut s, _) = tw.accept().unwrap();
    drop(c);
    let mut b = [0u8; 1];
    assert_eq!(s.read(&mut b).unwrap(), 0);
    drop(s);
    let deferred = listener(&mut pop);
    set_defer_accept(deferred.as_raw_fd());
    let c = connect(&mut pop, &deferred);
    pop.streams.push(c);
    pop.listeners.extend([est, half, tw, deferred]);
    pop
}

fn set_defer_accept(fd: RawFd) {
    let secs: libc::c_int = 30;
    // SAFETY: fd is an open socket owned by the caller; the option value is a live c_int.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&secs as *const libc::c_int).cast(),
            4,
        )
    };
    assert_eq!(rc, 0);
}

fn ours(pop: &Population, state: TcpState, local: u16, remote: u16) -> bool {
    if state == TcpState::Listen {
        pop.listener_ports.contains(&local)
    } else {
        pop.ports.contains(&local) && pop.ports.contains(&remote)
    }
}

fn inode_of(fd: RawFd) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    let link = link.to_string_lossy();
    link.trim_start_matches("socket:[")
        .trim_end_matches(']')
        .parse()
        .unwrap()
}

fn our_counts(pop: &Population, sockets: &[SocketRecord]) -> BTreeMap<TcpState, u64> {
    let mut m = BTreeMap::new();
    for s in sockets {
        if s.family == Family::V4 && ours(pop, s.state, s.local.port, s.remote.port) {
            *m.entry(s.state).or_insert(0) += 1;
        }
    }
    m
}

fn ss_counts(pop: &Population) -> BTreeMap<TcpState, u64> {
    let out = std::process::Command::new("ss")
        .args(["-tanH4"])
        .output()
        .unwrap();
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(state), Some(local), Some(peer)) = (f.first(), f.get(3), f.get(4)) else {
            continue;
        };
        let port = |a: &str| a.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok());
        let state = TcpState::ALL
            .into_iter()
            .find(|s| s.ss_name().eq_ignore_ascii_case(state));
        if let (Some(state), Some(l), Some(r)) = (state, port(local), port(peer).or(Some(0))) {
            if ours(pop, state, l, r) {
                *m.entry(state).or_insert(0) += 1;
            }
        }
    }
    m
}

#[test]
fn live_dump_finds_our_sockets_and_matches_ss() {
    let pop = build();
    let expected: BTreeMap<TcpState, u64> = [
        (TcpState::Established, 5),
        (TcpState::SynRecv, 1),
        (TcpState::FinWait2, 1),
        (TcpState::TimeWait, 1),
        (TcpState::CloseWait, 1),
        (TcpState::Listen, 4),
    ]
    .into_iter()
    .collect();
    let mut src = NetlinkSource::open().unwrap();
    let req = DumpRequest::default();
    // Closes settle within microseconds on loopback; poll briefly rather than sleep.
    let start = Instant::now();
    let mut dump = src.dump(&req).unwrap();
    while our_counts(&pop, &dump.sockets) != expected && start.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
        dump = src.dump(&req).unwrap();
    }
    let ss = ss_counts(&pop);
    assert_eq!(our_counts(&pop, &dump.sockets), expected);
    assert_eq!(ss, expected, "ss -tanH disagrees");
    assert_eq!(dump.quality.parse_errors, 0);

    // Listeners: right port, state and inode (the one /proc/self/fd names).
    for l in &pop.listeners {
        let p = port(l.local_addr().unwrap());
        let rec = dump
            .sockets
            .iter()
            .find(|s| s.state == TcpState::Listen && s.local.port == p)
            .unwrap();
        assert_eq!(rec.inode, inode_of(l.as_raw_fd()));
        assert_eq!(rec.local.ip.to_string(), "127.0.0.1");
    }
    // Every stream we hold: found by 4-tuple with its inode.
    for s in &pop.streams {
        let (l, r) = (s.local_addr().unwrap(), s.peer_addr().unwrap());
        let rec = dump
            .sockets
            .iter()
            .find(|x| x.local.port == l.port() && x.remote.port == r.port() && x.inode != 0)
            .unwrap();
        assert_eq!(rec.inode, inode_of(s.as_raw_fd()));
    }
    // Cookies: unique within a dump, stable across dumps (they are the dedup key).
    let cookies: Vec<u64> = dump.sockets.iter().filter_map(|s| s.cookie).collect();
    assert_eq!(cookies.len(), dump.sockets.len());
    assert_eq!(cookies.iter().collect::<HashSet<_>>().len(), cookies.len());
    let again = src.dump(&req).unwrap();
    for l in &pop.listeners {
        let p = port(l.local_addr().unwrap());
        let find = |d: &[SocketRecord]| {
            d.iter()
                .find(|s| s.state == TcpState::Listen && s.local.port == p)
                .and_then(|s| s.cookie)
        };
        assert_eq!(find(&dump.sockets), find(&again.sockets));
    }
    assert_eq!(src.last_stats().decode.foreign_seq, 0);
}

#[test]
fn live_tcp_info_and_family_selection() {
    let pop = build();
    let mut src = NetlinkSource::open().unwrap();
    let v6_only = DumpRequest {
        ipv4: false,
        tcp_info: true,
        ..DumpRequest::default()
    };
    let dump = src.dump(&v6_only).unwrap();
    assert!(dump.sockets.iter().all(|s| s.family == Family::V6));
    let req = DumpRequest {
        ipv4: true,
        ipv6: false,
        tcp_info: true,
        state_mask: TcpState::Established.kernel_mask() | TcpState::Listen.kernel_mask(),
        protocol: crate::collect::InetProtocol::Tcp,
        lean: false,
    };
    let dump = src.dump(&req).unwrap();
    let mine: Vec<_> = dump
        .sockets
        .iter()
        .filter(|s| ours(&pop, s.state, s.local.port, s.remote.port))
        .collect();
    assert_eq!(mine.len(), 9, "5 ESTABLISHED + 4 LISTEN");
    assert!(mine.iter().all(|s| s.tcp_info.is_some()));
    assert!(dump
        .sockets
        .iter()
        .all(|s| matches!(s.state, TcpState::Established | TcpState::Listen)));
    let none = DumpRequest {
        ipv4: false,
        ipv6: false,
        ..DumpRequest::default()
    };
    assert!(src.dump(&none).unwrap().sockets.is_empty());
}

#[test]
fn stale_datagrams_from_an_abandoned_dump_are_drained() {
    let _pop = build();
    let mut src = NetlinkSource::open().unwrap();
    // Send a request and walk away without reading the answer.
    // No wait needed: the kernel builds the first dump datagram inside sendmsg itself.
    src.request(
        super::DiagRequest::Inet(Family::V4, crate::collect::InetProtocol::Tcp),
        &DumpRequest::default(),
    )
    .unwrap();
    let dump = src.dump(&DumpRequest::default()).unwrap();
    assert!(dump.sockets.len() >= 10);
    assert!(src.last_stats().drained >= 1);
}
