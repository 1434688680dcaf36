//! The streaming decoder against the materialising one: on the real kernel, the sockets
//! this test creates come out of [`SocketSource::dump_stream`] exactly as
//! [`SocketSource::dump`] returns them; and the duplicate window forgets only what is
//! older than its size.

use std::collections::HashSet;
use std::net::{TcpListener, TcpStream};

use super::stream::{DedupWindow, DEDUP_WINDOW};
use super::NetlinkSource;
use crate::collect::{DumpRequest, SocketSource};
use crate::model::SocketRecord;

/// Only this test's sockets (the host table changes between two dumps, and other tests'
/// ephemeral ports may equal ours on other addresses): its listener, and connections on
/// 127.0.0.1 between the listener's port and one of its clients' ports.
fn ours(mut v: Vec<SocketRecord>, port: u16, ports: &HashSet<u16>) -> Vec<SocketRecord> {
    let lo: std::net::IpAddr = [127, 0, 0, 1].into();
    v.retain(|s| {
        s.local.ip == lo
            && ((s.local.port == port && (s.remote.port == 0 || ports.contains(&s.remote.port)))
                || (s.remote.ip == lo && s.remote.port == port && ports.contains(&s.local.port)))
    });
    v.sort_by_key(|s| s.cookie);
    v
}

#[test]
fn stream_yields_what_the_list_holds() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut held = Vec::new();
    let mut ports = HashSet::new();
    for _ in 0..150 {
        let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        ports.insert(c.local_addr().unwrap().port());
        let (s, _) = l.accept().unwrap();
        held.extend([c, s]);
    }
    let mut src = NetlinkSource::open().unwrap();
    let req = DumpRequest::default();
    let listed = src.dump(&req).unwrap();
    let mut streamed: Vec<SocketRecord> = Vec::new();
    let quality = src.dump_stream(&req, &mut streamed).unwrap();
    let (a, b) = (
        ours(listed.sockets, port, &ports),
        ours(streamed, port, &ports),
    );
    assert_eq!(a.len(), 301, "1 listener + 150 pairs");
    assert_eq!(a, b);
    assert_eq!(quality.parse_errors, 0);
    // A second stream over the same source starts clean (the sink is reset).
    let mut again: Vec<SocketRecord> = vec![b[0].clone(); 5];
    src.dump_stream(&req, &mut again).unwrap();
    assert_eq!(ours(again, port, &ports).len(), 301);
}

#[test]
fn the_window_catches_near_repeats_and_forgets_far_ones() {
    let mut w = DedupWindow::default();
    assert!(w.insert(1));
    assert!(!w.insert(1), "a repeat inside the window is a duplicate");
    for c in 2..=DEDUP_WINDOW as u64 {
        assert!(w.insert(c));
    }
    assert!(
        !w.insert(1),
        "still inside: exactly DEDUP_WINDOW cookies remembered"
    );
    assert!(w.insert(DEDUP_WINDOW as u64 + 1));
    assert!(w.insert(1), "pushed out by the newest");
    w.clear();
    assert!(w.insert(2));
}
