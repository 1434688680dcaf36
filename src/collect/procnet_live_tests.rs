//! Live tests on the real kernel: loopback sockets compared with `ss`, and an opt-in
//! benchmark of the parser and of a full dump.

use super::*;
use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

/// The inode of a socket fd, from its `/proc/thread-self/fd` link (`socket:[INODE]`).
pub(crate) fn inode_of(fd: &impl AsRawFd) -> u64 {
    let link = std::fs::read_link(format!("/proc/thread-self/fd/{}", fd.as_raw_fd())).unwrap();
    let s = link.to_string_lossy();
    s.trim_start_matches("socket:[")
        .trim_end_matches(']')
        .parse()
        .unwrap()
}

fn ss_counts(ports: &[u16]) -> BTreeMap<String, u64> {
    let out = std::process::Command::new("ss")
        .args(["-tanH"])
        .output()
        .unwrap();
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let port = |s: &str| s.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        if f.len() >= 5
            && [f[3], f[4]]
                .iter()
                .any(|a| port(a).is_some_and(|p| ports.contains(&p)))
        {
            *m.entry(f[0].to_lowercase().replace('-', "")).or_default() += 1;
        }
    }
    m
}

fn proc_counts(d: &SocketDump, ports: &[u16]) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for s in d
        .sockets
        .iter()
        .filter(|s| ports.contains(&s.local.port) || ports.contains(&s.remote.port))
    {
        *m.entry(s.state.ss_name().replace('-', "")).or_default() += 1;
    }
    m
}

#[test]
fn live_loopback_matches_ss() {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    let mut listeners = Vec::new();
    for addr in ["127.0.0.1:0", "[::1]:0"] {
        let l = TcpListener::bind(addr).unwrap();
        let a = l.local_addr().unwrap();
        ports.push(a.port());
        // ESTABLISHED pair, CLOSE_WAIT <-> FIN_WAIT2 pair, and a TIME_WAIT client.
        let est = TcpStream::connect(a).unwrap();
        held.push(l.accept().unwrap().0);
        held.push(est);
        let half = TcpStream::connect(a).unwrap();
        held.push(l.accept().unwrap().0);
        half.shutdown(std::net::Shutdown::Write).unwrap();
        held.push(half);
        let tw = TcpStream::connect(a).unwrap();
        let srv = l.accept().unwrap().0;
        drop(tw);
        std::thread::sleep(Duration::from_millis(20));
        drop(srv);
        listeners.push(l);
    }
    let want: BTreeMap<String, u64> = [
        ("closewait", 2),
        ("estab", 4),
        ("finwait2", 2),
        ("listen", 2),
        ("timewait", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut src = ProcNetSource::new();
    let mut last = None;
    // The host table churns under other tests; retry a few times before failing.
    for _ in 0..20 {
        let d = src.dump(&DumpRequest::default()).unwrap();
        let (mine, theirs) = (proc_counts(&d, &ports), ss_counts(&ports));
        if mine == want && theirs == want {
            for l in &listeners {
                let a = l.local_addr().unwrap();
                let r = find(
                    &d,
                    &a.to_string(),
                    if a.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" },
                );
                assert_eq!((r.state, r.inode), (TcpState::Listen, inode_of(l)));
            }
            return;
        }
        last = Some((mine, theirs));
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("proc/ss/expected disagree: {last:?} vs {want:?}");
}
