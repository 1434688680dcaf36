//! Decoder tests over real-kernel fixtures (`tests/fixtures/netlink/`, see its README),
//! malformed variants of them, and property tests. No I/O.

use std::net::IpAddr;

use proptest::prelude::*;

use super::decode::{decode_dump, parse_inet_diag, DumpDecoder, Parsed, INET_DIAG_MSG_LEN};
use crate::collect::CollectError;
use crate::model::{Endpoint, Family, SocketRecord, StateCounts, TcpState, TimerKind};

const V4: &[u8] = include_bytes!("../../../tests/fixtures/netlink/v4.bin");
const V6: &[u8] = include_bytes!("../../../tests/fixtures/netlink/v6.bin");
const V4_INFO: &[u8] = include_bytes!("../../../tests/fixtures/netlink/v4_info.bin");
const V6_INFO: &[u8] = include_bytes!("../../../tests/fixtures/netlink/v6_info.bin");
const ALL: u32 = 0xFFF;
const DONE_LEN: usize = 20;

fn counts(sockets: &[SocketRecord]) -> Vec<(TcpState, u64)> {
    let mut c = StateCounts::default();
    sockets.iter().for_each(|s| c.add(s.state));
    c.ranked()
}

fn v4_counts() -> Vec<(TcpState, u64)> {
    vec![
        (TcpState::Established, 9),
        (TcpState::Listen, 4),
        (TcpState::SynRecv, 2),
        (TcpState::FinWait2, 2),
        (TcpState::TimeWait, 2),
        (TcpState::CloseWait, 2),
    ]
}

fn v6_counts() -> Vec<(TcpState, u64)> {
    vec![(TcpState::Established, 3), (TcpState::Listen, 2)]
}

/// A netlink message header followed by `payload`.
fn message(msg_type: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(16 + payload.len()).unwrap();
    let mut m = Vec::new();
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&msg_type.to_ne_bytes());
    m.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    while m.len() % 4 != 0 {
        m.push(0);
    }
    m
}

fn done(seq: u32, code: i32) -> Vec<u8> {
    message(3, seq, &code.to_ne_bytes())
}

#[test]
fn v4_fixture_counts_and_fields() {
    let dump = decode_dump(V4, 1, ALL).unwrap();
    assert_eq!(counts(&dump.sockets), v4_counts());
    assert_eq!(dump.quality.parse_errors, 0);
    assert_eq!(dump.quality.duplicates, 0);
    for s in &dump.sockets {
        assert_eq!(s.family, Family::V4);
        assert!(s.tcp_info.is_none());
        assert!(s.cookie.is_some());
        match s.state {
            TcpState::Listen => {
                assert_eq!(s.send_q, 128, "backlog");
                assert!(s.inode != 0);
                assert!((7001..=7006).contains(&s.local.port));
            }
            TcpState::SynRecv => {
                assert_eq!(s.inode, 0, "request sockets have no inode");
                assert_eq!(s.local.port, 7006);
            }
            TcpState::TimeWait => {
                assert_eq!(s.inode, 0);
                assert_eq!(s.timer, TimerKind::TimeWait);
                assert!(s.expires_ms > 0 && s.expires_ms <= 60_000);
                assert_eq!(s.remote.port, 7003);
            }
            TcpState::CloseWait => {
                assert_eq!(s.local.port, 7002);
                assert_eq!(s.recv_q, 1, "the peer's FIN counts as one byte");
            }
            TcpState::FinWait2 => assert_eq!(s.remote.port, 7002),
            _ => {}
        }
    }
}

#[test]
fn v6_fixture_counts_and_v4_mapped_peer() {
    let dump = decode_dump(V6, 2, ALL).unwrap();
    assert_eq!(counts(&dump.sockets), v6_counts());
    let mapped: Vec<_> = dump
        .sockets
        .iter()
        .filter(|s| s.local.port == 7005 && s.state == TcpState::Established)
        .collect();
    assert_eq!(mapped.len(), 1);
    let m = mapped[0];
    assert_eq!(m.family, Family::V6, "a dual-stack socket keeps its family");
    assert_eq!(m.local, Endpoint::new("127.0.0.1".parse().unwrap(), 7005));
    assert_eq!(m.remote.ip, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(m.recv_q, 2, "two unread bytes");
    let loopback6: IpAddr = "::1".parse().unwrap();
    assert_eq!(
        dump.sockets
            .iter()
            .filter(|s| s.local.ip == loopback6)
            .count(),
        3
    );
}

#[test]
fn tcp_info_fixtures() {
    let dump = decode_dump(V4_INFO, 3, ALL).unwrap();
    assert_eq!(counts(&dump.sockets), v4_counts());
    assert_eq!(dump.quality.parse_errors, 0);
    for s in &dump.sockets {
        // TIME_WAIT and request sockets are minisocks: the kernel sends no tcp_info.
        let minisock = matches!(s.state, TcpState::TimeWait | TcpState::SynRecv);
        assert_eq!(s.tcp_info.is_none(), minisock, "{s:?}");
        if let (TcpState::Established, Some(info)) = (s.state, s.tcp_info) {
            assert!(info.rtt_us > 0, "loopback rtt is small but set");
            assert_eq!(info.total_retrans, 0);
        }
    }
    let dump = decode_dump(V6_INFO, 4, ALL).unwrap();
    assert_eq!(counts(&dump.sockets), v6_counts());
    assert!(dump.sockets.iter().all(|s| s.tcp_info.is_some()));
}

#[test]
fn both_families_share_one_dump_and_dedup_by_cookie() {
    let mut d = DumpDecoder::new(ALL);
    d.begin(1);
    d.feed(V4).unwrap();
    d.begin(2);
    d.feed(V6).unwrap();
    let dump = d.finish().unwrap();
    assert_eq!(dump.sockets.len(), 26);

    // The same answer twice (without the first DONE): every socket is a duplicate.
    let mut twice = V4[..V4.len() - DONE_LEN].to_vec();
    twice.extend_from_slice(V4);
    let dump = decode_dump(&twice, 1, ALL).unwrap();
    assert_eq!(dump.sockets.len(), 21);
    assert_eq!(dump.quality.duplicates, 21);
}

#[test]
fn state_mask_is_reapplied_on_decode() {
    let listen = TcpState::Listen.kernel_mask();
    let dump = decode_dump(V4, 1, listen).unwrap();
    assert_eq!(counts(&dump.sockets), vec![(TcpState::Listen, 4)]);
    // SYN_RECV's bit keeps the NEW_SYN_RECV request sockets.
    let dump = decode_dump(V4, 1, 1 << 3).unwrap();
    assert_eq!(counts(&dump.sockets), vec![(TcpState::SynRecv, 2)]);
}

#[test]
fn truncated_datagram_is_a_protocol_error() {
    let cut = &V4[..V4.len() / 2 + 5];
    assert!(matches!(
        decode_dump(cut, 1, ALL),
        Err(CollectError::Protocol(_))
    ));
    // A header shorter than nlmsghdr breaks framing too.
    let mut bad = V4.to_vec();
    bad[0..4].copy_from_slice(&8u32.to_ne_bytes());
    assert!(matches!(
        decode_dump(&bad, 1, ALL),
        Err(CollectError::Protocol(_))
    ));
}

#[test]
fn bad_nla_length_keeps_the_socket_and_counts_it() {
    let mut bad = V4.to_vec();
    // First attribute of the first message: 16-byte nlmsghdr + fixed inet_diag_msg.
    let nla = 16 + INET_DIAG_MSG_LEN;
    bad[nla..nla + 2].copy_from_slice(&200u16.to_ne_bytes());
    let dump = decode_dump(&bad, 1, ALL).unwrap();
    assert_eq!(counts(&dump.sockets), v4_counts());
    assert_eq!(dump.quality.parse_errors, 1);
}

#[test]
fn short_fixed_header_is_counted_and_skipped() {
    let first_payload = &V4[16..16 + 40];
    let mut data = message(20, 1, first_payload);
    data.extend_from_slice(V4);
    let dump = decode_dump(&data, 1, ALL).unwrap();
    assert_eq!(dump.sockets.len(), 21);
    assert_eq!(dump.quality.parse_errors, 1);
    assert_eq!(parse_inet_diag(first_payload), Parsed::Malformed);
}

#[test]
fn nlmsg_error_is_a_typed_error() {
    let with_error = |errno: i32| {
        let mut payload = (-errno).to_ne_bytes().to_vec();
        payload.extend_from_slice(&[0u8; 16]);
        let mut data = V4[..V4.len() - DONE_LEN].to_vec();
        data.extend_from_slice(&message(2, 1, &payload));
        decode_dump(&data, 1, ALL)
    };
    match with_error(libc::EINVAL) {
        Err(CollectError::Netlink { errno, msg }) => {
            assert_eq!(errno, libc::EINVAL);
            assert!(msg.contains("nvalid argument"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    // The variants the /proc fallback matches on.
    for errno in [libc::EACCES, libc::EPERM] {
        assert!(matches!(
            with_error(errno),
            Err(CollectError::PermissionDenied(_))
        ));
    }
    for errno in [libc::EPROTONOSUPPORT, libc::ENOENT, libc::EOPNOTSUPP] {
        assert!(matches!(
            with_error(errno),
            Err(CollectError::Unsupported(_))
        ));
    }
}

#[test]
fn done_with_error_code_is_a_typed_error() {
    let mut data = V4[..V4.len() - DONE_LEN].to_vec();
    data.extend_from_slice(&done(1, -libc::EINTR));
    assert!(matches!(
        decode_dump(&data, 1, ALL),
        Err(CollectError::Netlink {
            errno: libc::EINTR,
            ..
        })
    ));
}

#[test]
fn foreign_sequence_number_is_an_error_not_skipped() {
    // A message of another request may stand where one of ours should be: skipping it
    // could lose sockets silently, so the decode fails and the source restarts.
    let mut d = DumpDecoder::new(ALL);
    d.begin(1);
    match d.feed(V6) {
        Err(CollectError::Protocol(m)) => {
            assert_eq!(
                m,
                "message with sequence number 2 in the answer to request 1"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.stats().foreign_seq, 1);
    assert!(matches!(
        decode_dump(V4, 7, ALL),
        Err(CollectError::Protocol(_))
    ));
}

#[test]
fn missing_done_is_an_error_not_a_short_success() {
    let data = &V4[..V4.len() - DONE_LEN];
    match decode_dump(data, 1, ALL) {
        Err(CollectError::Protocol(m)) => assert!(m.contains("DONE"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// Fields of one synthesized socket.
#[derive(Debug, Clone)]
struct Synth {
    v6: bool,
    state: u8,
    timer: u8,
    retrans: u8,
    sport: u16,
    dport: u16,
    src: [u8; 16],
    dst: [u8; 16],
    cookie: u64,
    words: [u32; 5],
    info: Option<[u32; 4]>,
}

fn synth_payload(s: &Synth) -> Vec<u8> {
    let mut p = vec![if s.v6 { 10 } else { 2 }, s.state, s.timer, s.retrans];
    p.extend_from_slice(&s.sport.to_be_bytes());
    p.extend_from_slice(&s.dport.to_be_bytes());
    p.extend_from_slice(&s.src);
    p.extend_from_slice(&s.dst);
    p.extend_from_slice(&0u32.to_ne_bytes());
    p.extend_from_slice(&(s.cookie as u32).to_ne_bytes());
    p.extend_from_slice(&((s.cookie >> 32) as u32).to_ne_bytes());
    for w in s.words {
        p.extend_from_slice(&w.to_ne_bytes());
    }
    if let Some(info) = s.info {
        let mut ti = vec![0u8; 232];
        for (off, v) in [52, 56, 68, 100].into_iter().zip(info) {
            ti[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        }
        p.extend_from_slice(&(4u16 + 232).to_ne_bytes());
        p.extend_from_slice(&2u16.to_ne_bytes());
        p.extend_from_slice(&ti);
    }
    p
}

fn synth_strategy() -> impl Strategy<Value = Synth> {
    (
        any::<bool>(),
        1u8..=12,
        0u8..=4,
        any::<u8>(),
        any::<(u16, u16)>(),
        any::<([u8; 16], [u8; 16])>(),
        any::<u64>(),
        any::<[u32; 5]>(),
        proptest::option::of(any::<[u32; 4]>()),
    )
        .prop_map(
            |(v6, state, timer, retrans, (sport, dport), (src, dst), cookie, words, info)| Synth {
                v6,
                state,
                timer,
                retrans,
                sport,
                dport,
                src,
                dst,
                cookie,
                words,
                info,
            },
        )
}

fn ip(v6: bool, b: [u8; 16]) -> IpAddr {
    if v6 {
        IpAddr::from(b)
    } else {
        IpAddr::from([b[0], b[1], b[2], b[3]])
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096),
                                   seq in 0u32..4, mask in any::<u32>()) {
        let _ = decode_dump(&bytes, seq, mask);
        let _ = parse_inet_diag(&bytes);
    }

    #[test]
    fn mutated_fixtures_never_panic(which in 0usize..4,
                                    edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
                                    cut in any::<usize>()) {
        let (fixture, seq) = [(V4, 1), (V6, 2), (V4_INFO, 3), (V6_INFO, 4)][which];
        let mut data = fixture.to_vec();
        for (pos, byte) in edits {
            let i = pos % data.len();
            data[i] = byte;
        }
        let keep = cut % (data.len() + 1);
        let _ = decode_dump(&data, seq, ALL);
        let _ = decode_dump(&data[..keep], seq, ALL);
    }

    #[test]
    fn synthesized_sockets_round_trip(socks in proptest::collection::vec(synth_strategy(), 0..20)) {
        let mut data = Vec::new();
        for s in &socks {
            data.extend_from_slice(&message(20, 9, &synth_payload(s)));
        }
        data.extend_from_slice(&done(9, 0));
        let dump = decode_dump(&data, 9, ALL).unwrap();
        prop_assert_eq!(dump.quality.parse_errors, 0);
        let mut seen = std::collections::HashSet::new();
        let expected: Vec<_> = socks.iter().filter(|s| seen.insert(s.cookie)).collect();
        prop_assert_eq!(dump.sockets.len(), expected.len());
        prop_assert_eq!(dump.quality.duplicates as usize, socks.len() - expected.len());
        for (got, s) in dump.sockets.iter().zip(expected) {
            prop_assert_eq!(got.family, if s.v6 { Family::V6 } else { Family::V4 });
            prop_assert_eq!(Some(got.state), TcpState::from_kernel(s.state));
            prop_assert_eq!(got.local, Endpoint::new(ip(s.v6, s.src), s.sport));
            prop_assert_eq!(got.remote, Endpoint::new(ip(s.v6, s.dst), s.dport));
            prop_assert_eq!(got.cookie, Some(s.cookie));
            prop_assert_eq!(got.timer, TimerKind::from_kernel(s.timer));
            prop_assert_eq!(got.retransmits, s.retrans);
            prop_assert_eq!(
                [got.expires_ms, got.recv_q, got.send_q, got.uid, got.inode as u32],
                s.words
            );
            let info = got.tcp_info.map(|i| [i.last_data_recv_ms, i.last_ack_recv_ms, i.rtt_us, i.total_retrans]);
            prop_assert_eq!(info, s.info);
        }
    }
}

#[test]
fn dump_intr_marks_the_sample_inconsistent() {
    let mut data = V4.to_vec();
    let flags = u16::from_ne_bytes([data[6], data[7]]) | 16;
    data[6..8].copy_from_slice(&flags.to_ne_bytes());
    let dump = decode_dump(&data, 1, ALL).unwrap();
    assert_eq!(dump.sockets.len(), 21);
    assert!(dump.quality.inconsistent.is_some());
    assert!(decode_dump(V4, 1, ALL)
        .unwrap()
        .quality
        .inconsistent
        .is_none());
}
