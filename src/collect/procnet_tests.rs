//! Tests for the /proc/net/tcp parser and source: kernel-captured and malformed fixtures,
//! budgets and property tests. Live tests against the kernel are in `live`.

use super::source::{sockstat_tcp_total, sockstat_udp_total};
use super::*;
use crate::collect::SocketSource;
use crate::model::SourceKind;
use crate::model::{SampleQuality, StateCounts};
use proptest::prelude::*;
use std::fs::File;
use std::io::{BufReader, Cursor};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/proc")
        .join(name)
}

fn parse_file(name: &str, family: Family) -> SocketDump {
    let f = File::open(fixture(name)).unwrap();
    parse(
        BufReader::new(f),
        family,
        &DumpRequest::default(),
        Limits::default(),
    )
    .unwrap()
}

fn parse_str(text: &str, family: Family) -> (SocketDump, Option<(u64, RowError)>) {
    let mut p = Parser::new(Limits::default());
    p.feed(Cursor::new(text), family, &DumpRequest::default())
        .unwrap();
    let first = p.first_error().cloned();
    (p.finish(), first)
}

fn counts(d: &SocketDump) -> StateCounts {
    let mut c = StateCounts::default();
    d.sockets.iter().for_each(|s| c.add(s.state));
    c
}

fn find<'a>(d: &'a SocketDump, local: &str, remote: &str) -> &'a SocketRecord {
    let (l, r): (SocketAddr, SocketAddr) = (local.parse().unwrap(), remote.parse().unwrap());
    d.sockets
        .iter()
        .find(|s| {
            s.local == Endpoint::new(l.ip(), l.port())
                && s.remote == Endpoint::new(r.ip(), r.port())
        })
        .unwrap_or_else(|| panic!("{local} -> {remote} not found"))
}

const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when \
                      retrnsmt   uid  timeout inode\n";

// The captured fixtures are little-endian renderings.
#[cfg(target_endian = "little")]
mod captured {
    use super::*;
    use TcpState::*;

    // Per-state counts, in kernel order (ESTABLISHED .. CLOSING), from ss-tanoe.txt.
    fn assert_counts(name: &str, family: Family, want: [u64; 11]) {
        let d = parse_file(name, family);
        assert_eq!(d.quality, SampleQuality::default());
        assert_eq!(counts(&d), StateCounts(want), "{name}");
        assert!(d.sockets.iter().all(|s| s.family == family));
    }

    #[test]
    fn tcp_counts_per_state() {
        // 7 ESTABLISHED, 3 SYN_RECV, 1 FIN_WAIT2, 4 TIME_WAIT, 1 CLOSE_WAIT, 3 LISTEN.
        assert_counts("tcp", Family::V4, [7, 0, 3, 0, 1, 4, 0, 1, 0, 3, 0]);
    }

    #[test]
    fn tcp6_counts_per_state() {
        // 3 ESTABLISHED, 2 FIN_WAIT2, 2 TIME_WAIT, 2 CLOSE_WAIT, 2 LISTEN.
        assert_counts("tcp6", Family::V6, [3, 0, 0, 0, 2, 2, 0, 2, 0, 2, 0]);
    }

    #[test]
    fn decodes_specific_rows() {
        let d = parse_file("tcp", Family::V4);
        let l = find(&d, "127.0.0.1:8080", "0.0.0.0:0");
        assert_eq!(
            (l.state, l.inode, l.uid, l.timer),
            (Listen, 18839, 0, TimerKind::Off)
        );
        assert_eq!(
            (l.cookie, l.tcp_info, l.owner),
            (None, None, Owner::Unresolved)
        );
        let q = find(&d, "127.0.0.1:7070", "0.0.0.0:0");
        assert_eq!(
            (q.recv_q, q.send_q),
            (2, 0),
            "accept queue 2; /proc has no backlog"
        );
        let e = find(&d, "127.0.0.1:8080", "127.0.0.1:55476");
        assert_eq!((e.state, e.recv_q, e.inode), (Established, 100, 18845));
        let s = find(&d, "10.99.0.1:8888", "10.99.0.77:40000");
        assert_eq!(
            (s.state, s.inode, s.timer),
            (SynRecv, 0, TimerKind::Retransmit)
        );
        assert_eq!(s.expires_ms, 670); // 0x43 ticks at USER_HZ 100
        let t = find(&d, "127.0.0.1:55492", "127.0.0.1:8080");
        assert_eq!(
            (t.state, t.inode, t.timer),
            (TimeWait, 0, TimerKind::TimeWait)
        );
        assert_eq!(t.expires_ms, 0x172B * 10);
        let o = find(&d, "127.0.0.1:55480", "127.0.0.1:8080");
        assert_eq!(
            (o.state, o.inode, o.timer),
            (FinWait2, 0, TimerKind::TimeWait)
        );
    }

    #[test]
    fn decodes_v6_and_v4_mapped() {
        let d = parse_file("tcp6", Family::V6);
        let m = find(&d, "127.0.0.1:8443", "127.0.0.1:54902");
        assert_eq!(
            (m.family, m.state, m.inode),
            (Family::V6, Established, 18849)
        );
        let any = find(&d, "[::]:8443", "[::]:0");
        assert_eq!((any.state, any.inode), (Listen, 18840));
        let cw = find(&d, "[::1]:9090", "[::1]:46372");
        assert_eq!((cw.state, cw.recv_q, cw.inode), (CloseWait, 1, 18855));
    }

    #[test]
    fn source_reads_a_fixture_directory() {
        let mut src = ProcNetSource::with_root(fixture(""));
        assert_eq!(src.kind(), SourceKind::Proc);
        // sockstat says alloc 22 + tw 7, far below the floor.
        let l = src.limits();
        assert_eq!((l.max_rows, l.time), (MIN_ROW_BUDGET, DEFAULT_TIME_BUDGET));
        let fixed = src
            .clone()
            .with_budget(Some(Duration::from_secs(9)), Some(7));
        assert_eq!(
            (fixed.limits().max_rows, fixed.limits().time.as_secs()),
            (7, 9)
        );
        let big = ProcNetSource::with_root("/nonexistent").with_budget(None, Some(7));
        assert_eq!(big.limits().time, DEFAULT_TIME_BUDGET);
        let d = src.dump(&DumpRequest::default()).unwrap();
        assert_eq!(d.sockets.len(), 30);
        assert_eq!(d.quality, SampleQuality::default());
        let v6 = DumpRequest {
            ipv4: false,
            ..DumpRequest::default()
        };
        assert_eq!(src.dump(&v6).unwrap().sockets.len(), 11);
        let cw = DumpRequest {
            state_mask: CloseWait.kernel_mask() | SynRecv.kernel_mask(),
            ..DumpRequest::default()
        };
        let c = counts(&src.dump(&cw).unwrap());
        assert_eq!((c.get(CloseWait), c.get(SynRecv), c.total()), (3, 3, 6));
    }
}

#[test]
fn malformed_rows_are_counted_not_dropped() {
    let d = parse_file("malformed/tcp", Family::V4);
    assert_eq!(d.sockets.len(), 2);
    assert_eq!(d.quality.parse_errors, 5);
    assert_eq!(d.quality.duplicates, 1);
    assert!(d.quality.inconsistent.unwrap().contains("1 duplicate rows"));
}

#[test]
fn empty_header_only_and_duplicates() {
    let e = parse_file("malformed/empty", Family::V4);
    assert_eq!((e.sockets.len(), e.quality.parse_errors), (0, 1));
    let h = parse_file("malformed/header_only", Family::V4);
    assert_eq!(h.quality, SampleQuality::default());
    assert!(h.sockets.is_empty());
    let d = parse_file("malformed/duplicates", Family::V4);
    assert_eq!((d.sockets.len(), d.quality.duplicates), (1, 2));
    assert_eq!(d.quality.parse_errors, 0);
}

#[test]
fn row_errors_say_why() {
    let row = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 \
               0 0 1 1 0 100 0 0 10 0";
    assert!(parse_row(row.as_bytes(), Family::V4, 100).is_ok());
    let bad = |s: &str, fam| parse_row(s.as_bytes(), fam, 100).unwrap_err();
    assert_eq!(bad(row, Family::V6), RowError::Family);
    assert_eq!(
        bad(&row.replace(" 0A ", " 0D "), Family::V4),
        RowError::UnknownState(13)
    );
    assert_eq!(
        bad(&row.replace(" 0A ", " 00 "), Family::V4),
        RowError::UnknownState(0)
    );
    assert_eq!(
        bad(&row.replace("1F90", "1F9"), Family::V4),
        RowError::Field("port")
    );
    assert_eq!(
        bad(&row.replace("0:", "x:"), Family::V4),
        RowError::Field("sl")
    );
    assert_eq!(bad(&row[..40], Family::V4), RowError::FieldCount(5));
    assert_eq!(
        bad(&format!("{row} 1"), Family::V4),
        RowError::FieldCount(18)
    );
    // A file cut mid-row (no final newline) counts one error and keeps the rest.
    let (d, first) = parse_str(&format!("{HEADER}{row}\n{}", &row[..60]), Family::V4);
    assert_eq!((d.sockets.len(), d.quality.parse_errors), (1, 1));
    assert_eq!(first, Some((3, RowError::FieldCount(6))));
    let (d, _) = parse_str(&format!("{row}\n"), Family::V4);
    assert_eq!(
        (d.sockets.len(), d.quality.parse_errors),
        (1, 1),
        "no header"
    );
    let long = format!("{HEADER}{}\n{row}\n", "x".repeat(5000));
    let (d, first) = parse_str(&long, Family::V4);
    assert_eq!((d.sockets.len(), first), (1, Some((2, RowError::TooLong))));
    let (d, _) = parse_str(&format!("{HEADER}\u{0}\u{ff}\n"), Family::V4);
    assert_eq!(d.quality.parse_errors, 1);
}

fn addr_hex(ip: IpAddr) -> String {
    let words: Vec<[u8; 4]> = match ip {
        IpAddr::V4(a) => vec![a.octets()],
        IpAddr::V6(a) => a
            .octets()
            .chunks(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect(),
    };
    words
        .iter()
        .map(|w| format!("{:08X}", u32::from_ne_bytes(*w)))
        .collect()
}

/// Renders a record the way the kernel does (USER_HZ 100); `short` gives the 12-field form.
fn format_row(sl: usize, r: &SocketRecord, short: bool) -> String {
    let ip = |e: &Endpoint| match (r.family, e.ip) {
        (Family::V6, IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        (_, ip) => ip,
    };
    let timer = match r.timer {
        TimerKind::Off => 0,
        TimerKind::Retransmit => 1,
        TimerKind::KeepAlive => 2,
        TimerKind::TimeWait => 3,
        TimerKind::Probe => 4,
    };
    let head = format!(
        "{sl:4}: {}:{:04X} {}:{:04X} {:02X} {:08X}:{:08X} {timer:02X}:{:08X} {:08X} {:5} {:8} {}",
        addr_hex(ip(&r.local)),
        r.local.port,
        addr_hex(ip(&r.remote)),
        r.remote.port,
        r.state.code(),
        r.send_q,
        r.recv_q,
        r.expires_ms / 10,
        r.retransmits,
        r.uid,
        0,
        r.inode
    );
    if short {
        format!("{head} 3 0000000000000000")
    } else {
        format!("{head} 1 0000000000000000 20 4 30 10 -1")
    }
}

#[test]
fn v4_v6_and_mapped_addresses_decode_endian_correctly() {
    for (fam, ip) in [
        (Family::V4, "192.168.1.20"),
        (Family::V6, "2001:db8::1"),
        (Family::V6, "fe80::1:2:3:4"),
        (Family::V6, "::ffff:10.1.2.3"),
    ] {
        let ip: IpAddr = ip.parse().unwrap();
        let row = format!(
            "0: {}:0050 {}:1F90 01 00000000:00000000 00:00000000 0 0 0 7 0 0",
            addr_hex(ip),
            addr_hex(ip)
        );
        let r = parse_row(row.as_bytes(), fam, 100).unwrap();
        assert_eq!(r.local, Endpoint::new(ip, 80));
        assert_eq!(r.remote.port, 8080);
    }
    #[cfg(target_endian = "little")]
    assert_eq!(addr_hex("127.0.0.1".parse().unwrap()), "0100007F");
}

#[test]
fn budgets_stop_the_read_and_say_so() {
    let row = |i: usize| {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        format_row(
            i,
            &record(Family::V4, Endpoint::new(ip, 80), i as u64),
            false,
        )
    };
    let text: String = std::iter::once(HEADER.to_string())
        .chain((1..=200).map(|i| row(i) + "\n"))
        .collect();
    let tight = Limits {
        max_rows: 50,
        ..Limits::default()
    };
    let run = |limits| {
        parse(
            Cursor::new(&text),
            Family::V4,
            &DumpRequest::default(),
            limits,
        )
    };
    let d = run(tight).unwrap();
    assert_eq!(d.sockets.len(), 49); // 50 lines including the header
    assert!(d.quality.inconsistent.unwrap().contains("row budget"));
    let no_time = Limits {
        time: Duration::ZERO,
        ..Limits::default()
    };
    let d = run(no_time).unwrap();
    assert_eq!(d.sockets.len(), CLOCK_EVERY as usize - 1);
    assert!(d.quality.inconsistent.unwrap().contains("time budget"));
    let d = run(Limits::default()).unwrap();
    assert_eq!((d.sockets.len(), d.quality.inconsistent), (200, None));
}

#[test]
fn sockstat_derives_the_budgets() {
    let s = "sockets: used 20\nTCP: inuse 11 orphan 0 tw 70000 alloc 22 mem 140\n";
    assert_eq!(sockstat_tcp_total(s), Some(70022));
    assert_eq!(sockstat_tcp_total("TCP: inuse 1\n"), None);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sockstat"),
        "TCP: inuse 1 orphan 0 tw 200000 alloc 0 mem 1\n",
    )
    .unwrap();
    let l = ProcNetSource::with_root(dir.path()).limits();
    assert_eq!((l.max_rows, l.time), (400_000, Duration::from_secs(4)));
}

fn record(family: Family, local: Endpoint, inode: u64) -> SocketRecord {
    SocketRecord {
        family,
        state: TcpState::Established,
        local,
        remote: Endpoint::new(local.ip, 9),
        inode,
        uid: 0,
        recv_q: 0,
        send_q: 0,
        timer: TimerKind::Off,
        expires_ms: 0,
        retransmits: 0,
        cookie: None,
        tcp_info: None,
        skmem: None,
        owner: Owner::Unresolved,
    }
}

fn arb_record() -> impl Strategy<Value = SocketRecord> {
    let ip = prop_oneof![
        any::<[u8; 4]>().prop_map(|b| (Family::V4, IpAddr::from(b))),
        any::<[u8; 16]>().prop_map(|b| (Family::V6, IpAddr::from(b))),
    ];
    let timer = prop_oneof![
        Just(TimerKind::Off),
        Just(TimerKind::Retransmit),
        Just(TimerKind::KeepAlive),
        Just(TimerKind::TimeWait),
        Just(TimerKind::Probe)
    ];
    (
        (ip, any::<[u8; 16]>(), any::<u16>(), any::<u16>()),
        (
            0usize..11,
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        ),
        (timer, 0u32..400_000_000, any::<u8>()),
    )
        .prop_map(
            |((ip, peer, lp, rp), (st, inode, uid, rq, sq), (timer, t, retransmits))| {
                let (family, ip) = ip;
                let peer = match family {
                    Family::V4 => IpAddr::from([peer[0], peer[1], peer[2], peer[3]]),
                    Family::V6 => IpAddr::from(peer),
                };
                SocketRecord {
                    family,
                    state: TcpState::ALL[st],
                    local: Endpoint::new(ip, lp),
                    remote: Endpoint::new(peer, rp),
                    inode,
                    uid,
                    recv_q: rq,
                    send_q: sq,
                    timer,
                    expires_ms: if timer == TimerKind::Off { 0 } else { t * 10 },
                    retransmits,
                    cookie: None,
                    tcp_info: None,
                    skmem: None,
                    owner: Owner::Unresolved,
                }
            },
        )
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        for fam in [Family::V4, Family::V6] {
            let mut p = Parser::new(Limits::default());
            p.feed(Cursor::new(&data), fam, &DumpRequest::default()).unwrap();
            let rows = p.rows_read();
            let d = p.finish();
            prop_assert!(d.sockets.len() as u64 + d.quality.parse_errors + d.quality.duplicates <= rows + 1);
        }
    }

    #[test]
    fn mutated_rows_never_panic(cut in 0usize..200, byte in any::<u8>(), at in 0usize..200) {
        let row = "   4: 0100007F:1F90 0100007F:D8B4 01 00000000:00000064 00:00000000 00000000     0        0 18845 1 00000000abc06bc7 20 4 30 10 -1";
        let mut b = row.as_bytes()[..cut.min(row.len())].to_vec();
        if at < b.len() { b[at] = byte; }
        let _ = parse_row(&b, Family::V4, 100);
        let _ = parse_row(&b, Family::V6, 0);
    }

    #[test]
    fn formatted_rows_round_trip(recs in proptest::collection::vec((arb_record(), any::<bool>()), 0..40)) {
        let mut text = HEADER.to_string();
        for (i, (r, short)) in recs.iter().enumerate() {
            text.push_str(&format_row(i, r, *short));
            text.push('\n');
        }
        let mut p = Parser::new(Limits::default());
        for fam in [Family::V4, Family::V6] {
            let mine: String = std::iter::once(HEADER.to_string()).chain(recs.iter().enumerate()
                .filter(|(_, (r, _))| r.family == fam)
                .map(|(i, (r, s))| format_row(i, r, *s) + "\n")).collect();
            p.feed(Cursor::new(mine), fam, &DumpRequest::default()).unwrap();
        }
        let d = p.finish();
        prop_assert_eq!(d.quality.parse_errors, 0);
        let mut want: Vec<SocketRecord> = Vec::new();
        for fam in [Family::V4, Family::V6] {
            for (r, _) in recs.iter().filter(|(r, _)| r.family == fam) {
                if !want.iter().any(|w| (w.family, w.local, w.remote, w.inode) == (r.family, r.local, r.remote, r.inode)) {
                    want.push(r.clone());
                }
            }
        }
        prop_assert_eq!(d.sockets, want);
    }
}

#[path = "procnet_live_tests.rs"]
pub(crate) mod live;

#[test]
fn udp_budget_comes_from_the_udp_sockstat_line() {
    let s = std::fs::read_to_string(fixture("sockstat_udp")).unwrap();
    assert_eq!(
        sockstat_udp_total(&s),
        Some(3),
        "the fixture's three v4 sockets"
    );
    assert_eq!(
        sockstat_udp_total("UDP6: inuse 3\nUDPLITE6: inuse 0\n"),
        Some(3)
    );
    assert_eq!(sockstat_udp_total("UDP: mem 1\n"), None);
}
