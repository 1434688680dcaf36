//! Decoder tests for UDP (inet_diag with SKMEMINFO) and UNIX (unix_diag) answers captured
//! from the real kernel (`tests/fixtures/netlink/udp_v4.bin`, `udp_v6.bin`, `unix.bin`,
//! with `ss-uamnH.txt` / `ss-xamnH.txt` taken at the same moment; see the README), their
//! malformed variants, and property tests. No I/O.

use proptest::prelude::*;

use super::decode::{decode_dump, parse_skmem};
use super::unix::{decode_unix_dump, parse_unix_diag, parse_vfs, ParsedUnix, UNIX_DIAG_MSG_LEN};
use crate::collect::CollectError;
use crate::model::{Family, SkMem, SocketRecord, TcpState, UnixKind, UnixName, UnixRecord};

const UDP_V4: &[u8] = include_bytes!("../../../tests/fixtures/netlink/udp_v4.bin");
const UDP_V6: &[u8] = include_bytes!("../../../tests/fixtures/netlink/udp_v6.bin");
const UNIX: &[u8] = include_bytes!("../../../tests/fixtures/netlink/unix.bin");
const ALL: u32 = 0xFFF;

fn by_port(s: &[SocketRecord], port: u16) -> &SocketRecord {
    s.iter()
        .find(|r| r.local.port == port)
        .unwrap_or_else(|| panic!("no socket on port {port}: {s:?}"))
}

fn udp() -> (Vec<SocketRecord>, Vec<SocketRecord>) {
    let v4 = decode_dump(UDP_V4, 1, ALL).unwrap();
    let v6 = decode_dump(UDP_V6, 2, ALL).unwrap();
    assert_eq!(v4.quality, Default::default());
    assert_eq!(v6.quality, Default::default());
    (v4.sockets, v6.sockets)
}

#[test]
fn udp_fixture_matches_ss_uamn() {
    let (v4, v6) = udp();
    // ss-uamnH.txt: three v4 and three v6 sockets.
    assert_eq!((v4.len(), v6.len()), (3, 3));
    assert!(v4
        .iter()
        .all(|s| s.family == Family::V4 && s.skmem.is_some()));
    // `UNCONN 7680 0 127.0.0.1:7101 … skmem:(r7680,rb8192,t0,tb212992,…,d44)`
    let flooded = by_port(&v4, 7101);
    assert_eq!(flooded.state, TcpState::Close);
    assert_eq!(flooded.recv_q, 7680);
    assert_eq!(
        flooded.skmem,
        Some(SkMem {
            rmem_alloc: 7680,
            rcvbuf: Some(8192),
            wmem_alloc: 0,
            sndbuf: Some(212_992),
            drops: 44,
        })
    );
    // `ESTAB 0 0 127.0.0.1:7104 127.0.0.1:7101`
    let connected = by_port(&v4, 7104);
    assert_eq!(connected.state, TcpState::Established);
    assert_eq!(connected.remote.to_string(), "127.0.0.1:7101");
    // `UNCONN 2496 0 [::1]:7102 … skmem:(r2496,rb212992,…,d0)`
    let r6 = by_port(&v6, 7102);
    assert_eq!(r6.local.to_string(), "[::1]:7102");
    assert_eq!((r6.recv_q, r6.skmem.map(|m| m.drops)), (2496, Some(0)));
    assert!(v6
        .iter()
        .all(|s| s.state == TcpState::Close && s.inode != 0));
    assert!(v4.iter().chain(&v6).all(|s| s.cookie.is_some()));
}

#[test]
fn udp_state_mask_is_reapplied() {
    let est = decode_dump(UDP_V4, 1, TcpState::Established.kernel_mask()).unwrap();
    assert_eq!(est.sockets.len(), 1);
    assert_eq!(est.sockets[0].local.port, 7104);
}

#[test]
fn skmem_needs_the_drop_counter() {
    let mut v = Vec::new();
    for n in 0u32..9 {
        v.extend_from_slice(&(n * 10).to_ne_bytes());
    }
    let m = parse_skmem(&v).unwrap();
    assert_eq!(
        (m.rmem_alloc, m.rcvbuf, m.sndbuf, m.drops),
        (0, Some(10), Some(30), 80)
    );
    assert_eq!(parse_skmem(&v[..32]), None, "8 words: no drops");
}

fn unix_sockets() -> Vec<UnixRecord> {
    let d = decode_unix_dump(UNIX, 3, ALL).unwrap();
    assert_eq!(d.quality, Default::default());
    d.sockets
}

fn named<'a>(s: &'a [UnixRecord], shown: &str) -> &'a UnixRecord {
    s.iter()
        .find(|r| r.name.as_ref().is_some_and(|n| n.to_string() == shown))
        .unwrap_or_else(|| panic!("no socket named {shown}"))
}

#[test]
fn unix_fixture_matches_ss_xamn() {
    let s = unix_sockets();
    // ss-xamnH.txt: 30 sockets (the 5 connections waiting in the listener's queue have no
    // inode and are not reported, as ss shows).
    assert_eq!(s.len(), 30);
    let count =
        |k: UnixKind, st: TcpState| s.iter().filter(|r| r.kind == k && r.state == st).count();
    assert_eq!(count(UnixKind::Stream, TcpState::Established), 9);
    assert_eq!(count(UnixKind::Stream, TcpState::Close), 15);
    assert_eq!(count(UnixKind::Stream, TcpState::Listen), 3);
    assert_eq!(count(UnixKind::SeqPacket, TcpState::Listen), 1);
    assert_eq!(count(UnixKind::Dgram, TcpState::Close), 2);
    assert!(s
        .iter()
        .all(|r| r.inode != 0 && r.uid == Some(0) && r.cookie.is_some()));
    assert!(s.iter().all(|r| r.recv_q.is_some() && r.send_q.is_some()));

    // `u_str LISTEN 5 4 /tmp/sockscope-fixture/listen.sock`: backlog 4, 5 admitted.
    let l = named(&s, "/tmp/sockscope-fixture/listen.sock");
    assert_eq!(l.listen_queue(), Some((5, 4)));
    assert!(l.vfs.is_some_and(|v| v.ino != 0));
    // `u_str LISTEN 0 8 @sockscope-abstract` and its accepted end with 7 unread bytes.
    let abs: Vec<_> = s
        .iter()
        .filter(|r| r.name.as_ref().is_some_and(UnixName::is_abstract))
        .collect();
    assert_eq!(abs.len(), 2);
    let al = abs.iter().find(|r| r.state == TcpState::Listen).unwrap();
    assert_eq!((al.recv_q, al.send_q, al.vfs), (Some(0), Some(8), None));
    let aa = abs
        .iter()
        .find(|r| r.state == TcpState::Established)
        .unwrap();
    assert_eq!(aa.recv_q, Some(7));
    let peer = s.iter().find(|r| Some(r.inode) == aa.peer_inode).unwrap();
    assert_eq!(peer.peer_inode, Some(aa.inode));
    // `u_dgr UNCONN 10 0 …/dgram.sock`, `u_seq LISTEN 0 2 …/with space.sock`
    assert_eq!(
        named(&s, "/tmp/sockscope-fixture/dgram.sock").recv_q,
        Some(10)
    );
    let sq = named(&s, "/tmp/sockscope-fixture/with space.sock");
    assert_eq!(
        (sq.kind, sq.listen_queue()),
        (UnixKind::SeqPacket, Some((0, 2)))
    );
    // The hostile name keeps its newline as bytes and prints it escaped.
    let evil = s
        .iter()
        .find(|r| r.name.as_ref().is_some_and(|n| n.bytes().contains(&b'\n')))
        .unwrap();
    let shown = evil.name.as_ref().unwrap().to_string();
    assert!(
        !shown.contains('\n') && shown.contains("@forged"),
        "{shown}"
    );
    // The socketpair: two unnamed sockets, each the other's peer.
    let pairs = s
        .iter()
        .filter(|r| {
            r.name.is_none()
                && r.peer_inode.is_some_and(|p| {
                    s.iter()
                        .any(|o| o.inode == p && o.name.is_none() && o.peer_inode == Some(r.inode))
                })
        })
        .count();
    assert_eq!(pairs, 2);
}

#[test]
fn unix_state_mask_is_reapplied() {
    let d = decode_unix_dump(UNIX, 3, TcpState::Listen.kernel_mask()).unwrap();
    assert_eq!(d.sockets.len(), 4);
}

fn first_payload(bytes: &[u8]) -> &[u8] {
    let len = u32::from_ne_bytes(bytes[..4].try_into().unwrap()) as usize;
    &bytes[16..len]
}

#[test]
fn unix_malformed_answers_are_counted_or_refused() {
    // Missing DONE: the dump is incomplete, never a short success.
    let cut = &UNIX[..UNIX.len() - 20];
    assert!(matches!(
        decode_unix_dump(cut, 3, ALL),
        Err(CollectError::Protocol(_))
    ));
    // A foreign sequence number.
    assert!(matches!(
        decode_unix_dump(UNIX, 4, ALL),
        Err(CollectError::Protocol(_))
    ));
    // A short header, an unknown type, another family: the socket is a parse error.
    let p = first_payload(UNIX);
    assert_eq!(
        parse_unix_diag(&p[..UNIX_DIAG_MSG_LEN - 1]),
        ParsedUnix::Malformed
    );
    let mut bad = p.to_vec();
    bad[1] = 3; // SOCK_RAW
    assert_eq!(parse_unix_diag(&bad), ParsedUnix::Malformed);
    bad[1] = 1;
    bad[0] = libc::AF_INET as u8;
    assert_eq!(parse_unix_diag(&bad), ParsedUnix::Malformed);
    bad[0] = libc::AF_UNIX as u8;
    bad[2] = 13;
    assert_eq!(parse_unix_diag(&bad), ParsedUnix::UnknownState(13));
    // A broken attribute keeps the socket and flags the error.
    let mut attr = p[..UNIX_DIAG_MSG_LEN].to_vec();
    attr.extend_from_slice(&[8, 0, 4, 0, 1, 0, 0, 0]); // RQLEN with 4 bytes of 8
    match parse_unix_diag(&attr) {
        ParsedUnix::Socket { record, nla_error } => {
            assert!(nla_error);
            assert_eq!(record.recv_q, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(parse_vfs(&[1, 0, 0, 0]), None);
}

#[test]
fn a_path_without_its_nul_is_kept() {
    // The crate refuses such a name; the decoder keeps it (see unix.rs).
    let p = first_payload(UNIX);
    let mut msg = p[..UNIX_DIAG_MSG_LEN].to_vec();
    msg.extend_from_slice(&[9, 0, 0, 0]); // nla_len 9: the 5 bytes, no NUL
    msg.extend_from_slice(b"/a/bc");
    msg.extend_from_slice(&[0, 0, 0]); // alignment padding, outside the attribute
    match parse_unix_diag(&msg) {
        ParsedUnix::Socket { record, nla_error } => {
            assert!(!nla_error);
            assert_eq!(record.name.map(|n| n.to_string()), Some("/a/bc".into()));
        }
        other => panic!("{other:?}"),
    }
}

proptest! {
    #[test]
    fn unix_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_unix_dump(&bytes, 0, ALL);
        let _ = parse_unix_diag(&bytes);
    }

    #[test]
    fn any_cut_of_the_unix_fixture_is_an_error_or_the_whole(cut in 0usize..2248) {
        let cut = cut.min(UNIX.len());
        if let Ok(d) = decode_unix_dump(&UNIX[..cut], 3, ALL) {
            prop_assert_eq!(d.sockets.len(), 30);
        }
    }
}
