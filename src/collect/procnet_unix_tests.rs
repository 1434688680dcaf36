//! `/proc/net/unix` parser tests over the file captured with the netlink fixture
//! (`tests/fixtures/proc/unix`, same population and moment as `netlink/unix.bin`), hostile
//! names, and property tests.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::collect::netlink::unix::decode_unix_dump;

const UNIX_FILE: &[u8] = include_bytes!("../../tests/fixtures/proc/unix");
const UNIX_NL: &[u8] = include_bytes!("../../tests/fixtures/netlink/unix.bin");
const ALL: u32 = 0xFFF;

/// Parses `text`; returns the dump and what the parser counted on the way.
fn parsed(text: &[u8]) -> (UnixDump, Counted) {
    let mut p = UnixParser::new(Limits::default(), ALL);
    p.feed(text).unwrap();
    let c = Counted {
        unaccepted: p.skipped_unaccepted(),
        first_error: p.first_error().cloned(),
    };
    (p.finish(), c)
}

struct Counted {
    unaccepted: u64,
    first_error: Option<(u64, UnixRowError)>,
}

impl Counted {
    fn skipped_unaccepted(&self) -> u64 {
        self.unaccepted
    }
    fn first_error(&self) -> Option<&(u64, UnixRowError)> {
        self.first_error.as_ref()
    }
}

#[test]
fn same_sockets_as_unix_diag_without_queues_and_the_forged_row_refused() {
    let (d, p) = parsed(UNIX_FILE);
    let nl = decode_unix_dump(UNIX_NL, 3, ALL).unwrap().sockets;
    let inodes = |v: &[UnixRecord]| v.iter().map(|r| r.inode).collect::<BTreeSet<_>>();
    assert_eq!(
        inodes(&d.sockets),
        inodes(&nl),
        "same socket set as unix_diag"
    );
    // The 5 connections waiting in the listener's queue: inode 0, skipped as unix_diag does.
    assert_eq!(p.skipped_unaccepted(), 5);
    // The hostile name's second line is a well-formed row with a blank Num among hashed
    // ones: counted, not a socket.
    assert_eq!(d.quality.parse_errors, 1);
    assert!(d
        .quality
        .inconsistent
        .as_deref()
        .is_some_and(|m| m.contains("blank kernel address")));
    assert!(!d.sockets.iter().any(|r| r.inode == 99_999));
    for r in &d.sockets {
        let n = nl.iter().find(|x| x.inode == r.inode).unwrap();
        assert_eq!((r.kind, r.state), (n.kind, n.state), "inode {}", r.inode);
        assert_eq!(
            (r.recv_q, r.send_q, r.uid, r.peer_inode),
            (None, None, None, None)
        );
        if n.name.as_ref().is_some_and(|x| !x.bytes().contains(&b'\n')) {
            assert_eq!(r.name, n.name, "inode {}", r.inode);
        }
    }
    // The hostile name is cut at its newline, and says so only through its bytes.
    let evil = d
        .sockets
        .iter()
        .find(|r| {
            r.name
                .as_ref()
                .is_some_and(|n| n.to_string().ends_with("/evil"))
        })
        .unwrap();
    assert_eq!(evil.state, TcpState::Listen);
    let space = d
        .sockets
        .iter()
        .find(|r| r.kind == UnixKind::SeqPacket)
        .unwrap();
    assert_eq!(
        space.name.as_ref().unwrap().to_string(),
        "/tmp/sockscope-fixture/with space.sock"
    );
}

#[test]
fn rows_follow_the_kernel_grammar() {
    let row = |s: &str| parse_unix_row(s.as_bytes());
    let ok = row("00000000f8db9ec1: 00000002 00000000 00010000 0001 01 26443 /run/a b.sock")
        .unwrap()
        .record
        .unwrap();
    assert_eq!((ok.state, ok.inode), (TcpState::Listen, 26443));
    assert_eq!(ok.name.unwrap().to_string(), "/run/a b.sock");
    let abs = row("0000000094d78b55: 00000003 00000000 00000000 0002 03 26466 @a@b")
        .unwrap()
        .record
        .unwrap();
    assert_eq!(
        (abs.kind, abs.state),
        (UnixKind::Dgram, TcpState::Established)
    );
    assert_eq!(abs.name, Some(UnixName::Abstract(Name::from("a@b"))));
    let embryo = row("00000000fdd49744: 00000003 00000000 00000000 0001 02     0 /x").unwrap();
    assert_eq!(embryo.record, None);
    let conn = row("00000000fdd49744: 00000003 00000000 00000000 0005 02    17")
        .unwrap()
        .record
        .unwrap();
    assert_eq!(
        (conn.kind, conn.state),
        (UnixKind::SeqPacket, TcpState::SynSent)
    );
    for bad in [
        "",
        "garbage",
        "0000000000000000: 00000002 00000000 00000000 0001 01",
        "000000000000000: 00000002 00000000 00000000 0001 01 5",
        "0000000000000000: 0000002 00000000 00000000 0001 01 5",
        "0000000000000000:  00000002 00000000 00000000 0001 01 5",
        "0000000000000000: 00000002 00000000 00000000 0003 01 5",
        "0000000000000000: 00000002 00000000 00000000 0001 05 5",
        "0000000000000000: 00000002 00000000 00000000 0001 01 5x",
        "0000000000000000: 00000002 00000000 00000000 0001 01 5 ",
        "000000000000000g: 00000002 00000000 00000000 0001 01 5",
    ] {
        assert!(row(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn a_blank_address_file_keeps_its_rows_and_bad_lines_are_counted() {
    let text = "Num       RefCount Protocol Flags    Type St Inode Path\n\
                0000000000000000: 00000002 00000000 00010000 0001 01    10 /run/x\n\
                not a row\n\
                0000000000000000: 00000002 00000000 00000000 0002 01    11\n\
                0000000000000000: 00000002 00000000 00000000 0002 01    11\n";
    let (d, p) = parsed(text.as_bytes());
    assert_eq!(d.sockets.len(), 2, "kptr_restrict: every Num is blank");
    assert_eq!((d.quality.parse_errors, d.quality.duplicates), (1, 1));
    assert_eq!(p.first_error().map(|e| e.0), Some(3));
    let (none, _) = parsed(b"");
    assert_eq!(none.quality.parse_errors, 1, "missing header");
    let (headerless, _) = parsed(b"0000000000000000: 00000002 00000000 00000000 0002 01    11\n");
    assert_eq!(headerless.sockets.len(), 1);
    assert_eq!(headerless.quality.parse_errors, 1);
}

#[test]
fn the_state_mask_applies() {
    let mut p = UnixParser::new(Limits::default(), TcpState::Listen.kernel_mask());
    p.feed(UNIX_FILE).unwrap();
    let d = p.finish();
    assert_eq!(d.sockets.len(), 4, "3 stream + 1 seqpacket listeners");
}

proptest! {
    #[test]
    fn any_bytes_parse_without_panic_and_every_line_is_accounted(
        bytes in proptest::collection::vec(any::<u8>(), 0..600)
    ) {
        let mut p = UnixParser::new(Limits::default(), ALL);
        p.feed(bytes.as_slice()).unwrap();
        let rows = p.rows_read();
        let skipped = p.skipped_unaccepted();
        let d = p.finish();
        prop_assert!(
            d.sockets.len() as u64 + d.quality.parse_errors + d.quality.duplicates + skipped
                <= rows + 1
        );
    }
}
