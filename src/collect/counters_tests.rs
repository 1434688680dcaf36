//! Tests for the kernel counter readers: real /proc/net/netstat and snmp files, malformed
//! fixtures counted as errors, property tests, and a live read of this namespace.

use std::path::PathBuf;

use proptest::prelude::*;

use super::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/counters")
        .join(name)
}

fn parse_fixture(name: &str) -> (KernelCounters, u64) {
    let text = std::fs::read(fixture(name)).unwrap();
    let mut c = KernelCounters::default();
    let errors = parse_counters(text.as_slice(), &mut c);
    (c, errors)
}

#[test]
fn real_files_parse_cleanly() {
    let p = read_counters_from(&fixture("netstat"), &fixture("snmp")).unwrap();
    assert_eq!(p.errors, 0);
    let c = &p.counters;
    assert_eq!(c.tcp_ext.len(), 135, "TcpExt names");
    for name in [
        "ListenOverflows",
        "ListenDrops",
        "TCPReqQFullDrop",
        "TCPReqQFullDoCookies",
        "SyncookiesSent",
        "SyncookiesRecv",
        "SyncookiesFailed",
        "TCPTimeWaitOverflow",
        "TCPAbortOnData",
        "TCPAbortOnTimeout",
        "TCPTimeouts",
    ] {
        assert!(c.tcp_ext.contains_key(name), "{name}");
    }
    for name in [
        "CurrEstab",
        "ActiveOpens",
        "PassiveOpens",
        "AttemptFails",
        "EstabResets",
        "RetransSegs",
    ] {
        assert!(c.tcp.contains_key(name), "{name}");
    }
    // MaxConn is -1: skipped, not an error. Udp/Ip did not leak into Tcp.
    assert!(!c.tcp.contains_key("MaxConn"));
    assert_eq!(c.tcp.get("RtoMin"), Some(&200));
    assert!(!c.tcp.contains_key("InDatagrams"));
    assert!(!c.tcp_ext.contains_key("InOctets"), "IpExt kept apart");
}

#[test]
fn malformed_fixtures_count_errors() {
    let (c, e) = parse_fixture("netstat.short_values");
    assert_eq!((c.tcp_ext.len(), e), (0, 1));

    let (good, _) = parse_fixture("netstat");
    let (c, e) = parse_fixture("netstat.non_numeric");
    assert_eq!(e, 1);
    assert_eq!(c.tcp_ext.len(), good.tcp_ext.len() - 1);

    let (c, e) = parse_fixture("netstat.missing_values");
    assert_eq!(e, 2);
    assert_eq!(c.tcp_ext, good.tcp_ext);

    let (c, e) = parse_fixture("netstat.truncated");
    assert_eq!((c.tcp_ext.len(), e), (0, 1));
}

#[test]
fn small_cases() {
    let parse = |s: &str| {
        let mut c = KernelCounters::default();
        let e = parse_counters(s.as_bytes(), &mut c);
        (c, e)
    };
    let (c, e) = parse("Tcp: A B\nTcp: 1 18446744073709551615\n");
    assert_eq!(e, 0);
    assert_eq!(c.tcp.get("B"), Some(&u64::MAX));
    // Header followed by another section's header: the first never got values.
    let (c, e) = parse("TcpExt: A\nTcp: X\nTcp: 3\n");
    assert_eq!((c.tcp_ext.len(), c.tcp.get("X"), e), (0, Some(&3), 1));
    let (_, e) = parse("garbage without colon\n\n");
    assert_eq!(e, 1);
    let (c, e) = parse("Tcp: A\nTcp: 99999999999999999999999\n");
    assert_eq!((c.tcp.len(), e), (0, 1));
    let (c, e) = parse("Tcp: A B\nTcp: 1 2");
    assert_eq!((c.tcp.len(), e), (2, 0), "no trailing newline");
    let (c, e) = parse_counters_bytes(b"Tcp: A\nTcp: \xff\n");
    assert_eq!((c.tcp.len(), e), (0, 1));
}

fn parse_counters_bytes(b: &[u8]) -> (KernelCounters, u64) {
    let mut c = KernelCounters::default();
    let e = parse_counters(b, &mut c);
    (c, e)
}

#[test]
fn missing_files_are_unsupported() {
    let r = read_counters_from(&fixture("nope"), &fixture("snmp"));
    assert!(matches!(r, Err(CollectError::Unsupported(_))));
}

#[test]
fn reads_this_namespace() {
    let c = read_counters().unwrap();
    assert!(c.tcp.contains_key("CurrEstab"));
    assert!(c.tcp_ext.contains_key("ListenOverflows"));
}

proptest! {
    #[test]
    fn never_panics_on_bytes(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_counters_bytes(&data);
    }

    #[test]
    fn never_panics_on_near_valid_text(
        lines in proptest::collection::vec(
            "(Tcp|TcpExt|IpExt|)(:)?( [A-Za-z0-9-]{0,6}){0,6}", 0..12)
    ) {
        let text = lines.join("\n");
        let (c, _) = parse_counters_bytes(text.as_bytes());
        prop_assert!(c.tcp.len() <= 6 && c.tcp_ext.len() <= 6);
    }
}

fn proc_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/proc")
        .join(name)
}

#[test]
fn udp_counters_come_from_snmp_and_snmp6() {
    // Captured with the UDP flood of tests/fixtures/netlink (44 datagrams dropped at 7101).
    let mut p = read_counters_from(&fixture("netstat"), &proc_fixture("snmp")).unwrap();
    read_snmp6_from(&proc_fixture("snmp6"), &mut p).unwrap();
    assert_eq!(p.errors, 0);
    let c = &p.counters;
    assert_eq!(c.udp.get("RcvbufErrors"), Some(&44));
    assert_eq!(c.udp.get("InErrors"), Some(&44));
    assert_eq!(c.udp.get("OutDatagrams"), Some(&50));
    assert_eq!(c.udp.len(), 9, "UdpLite kept apart");
    for name in [
        "InErrors",
        "RcvbufErrors",
        "SndbufErrors",
        "NoPorts",
        "OutDatagrams",
    ] {
        assert!(c.udp6.contains_key(name), "{name}");
    }
    assert_eq!(c.udp6.get("OutDatagrams"), Some(&3));
    assert_eq!(c.udp6.len(), 9, "UdpLite6 and Ip6 kept apart");
    assert!(!c.udp6.keys().any(|k| k.starts_with("Udp")));
}

#[test]
fn snmp6_bad_lines_are_counted_and_a_missing_file_is_no_error() {
    let mut c = KernelCounters::default();
    let text = b"Udp6InErrors 3\nUdp6NoPorts x\nUdp6 7\nUdp6RcvbufErrors 1 2\n\nIp6InReceives 9\n";
    // "Udp6 7" has the shape but names no counter: skipped, not an error.
    assert_eq!(parse_snmp6(&text[..], &mut c), 2);
    assert_eq!(c.udp6.len(), 1);
    assert_eq!(c.udp6.get("InErrors"), Some(&3));
    let mut p = ParsedCounters::default();
    read_snmp6_from(&fixture("no-snmp6-here"), &mut p).unwrap();
    assert_eq!(p, ParsedCounters::default());
}

#[test]
fn reads_udp_counters_of_this_namespace() {
    let p = read_counters_with_udp6().unwrap();
    assert!(p.counters.udp.contains_key("RcvbufErrors"));
}

#[test]
fn protocols_gives_the_kernel_socket_totals() {
    let mut c = KernelCounters::default();
    let f = std::fs::read("tests/fixtures/counters/protocols").expect("fixture");
    assert_eq!(parse_protocols(&f[..], &mut c), 0);
    for name in ["UNIX", "UNIX-STREAM", "UDP", "UDPv6", "TCP", "TCPv6"] {
        assert!(c.sockets_in_use.contains_key(name), "{name}: {c:?}");
    }
    let mut c = KernelCounters::default();
    let bad = b"protocol  size sockets  memory\nUNIX 1152 x -1\nUDP 1344 7 0\n\nshort\n";
    assert_eq!(parse_protocols(&bad[..], &mut c), 2);
    assert_eq!(c.sockets_in_use.get("UDP"), Some(&7));
}
