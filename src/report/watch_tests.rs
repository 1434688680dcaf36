//! Tests of the watch line formats (TCP alone, and with UDP and UNIX).

use super::*;
use crate::model::fixtures::{snapshot, sock};
use crate::model::Owner;

#[test]
fn header_repeats_and_deltas_show() {
    let snap = snapshot(vec![sock(
        TcpState::CloseWait,
        "127.0.0.1:80",
        "127.0.0.1:5000",
        Owner::Process(42),
    )]);
    let states = snap.state_counts();
    let mut out = Vec::new();
    for i in 0..(HEADER_EVERY + 1) {
        let line = WatchLine {
            snapshot: &snap,
            states,
            previous: (i > 0).then(StateCounts::default),
            alerts: &[],
            line_no: i,
            previous_snapshot: None,
            udp: None,
            unix: None,
        };
        write_text(&mut out, &line).unwrap();
    }
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("time")).count(), 2);
    assert!(text.lines().nth(2).unwrap().contains("1 (+1)"), "{text}");
}

#[test]
fn jsonl_is_one_object_per_line() {
    let snap = snapshot(vec![]);
    let mut out = Vec::new();
    let line = WatchLine {
        snapshot: &snap,
        states: StateCounts::default(),
        previous: None,
        alerts: &[],
        line_no: 0,
        previous_snapshot: None,
        udp: None,
        unix: None,
    };
    write_jsonl(&mut out, &line).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema_version"], SCHEMA_VERSION);
    assert_eq!(v["states"]["CLOSE_WAIT"], 0);
    // A TCP-only line has no key it did not have before UDP and UNIX.
    for key in ["protocols", "udp", "unix"] {
        assert!(v.get(key).is_none(), "{key} in {text}");
    }
}

fn udp_sock(port: u16, inode: u64, drops: u32) -> crate::model::SocketRecord {
    let mut s = sock(
        TcpState::Close,
        &format!("127.0.0.1:{port}"),
        "0.0.0.0:0",
        Owner::Process(42),
    );
    s.inode = inode;
    s.skmem = Some(crate::model::SkMem {
        drops,
        ..crate::model::SkMem::default()
    });
    s
}

/// Two ticks of a UDP + UNIX host: a socket that keeps dropping, one that closes with
/// its drops, and a UNIX listener at its backlog.
fn two_ticks() -> (Snapshot, Snapshot) {
    use crate::model::{UnixKind, UnixRecord};
    let mut a = snapshot(Vec::new());
    a.protocols = Protocols::from_flags(false, true, true);
    a.udp = vec![udp_sock(53, 1, 100), udp_sock(54, 2, 40)];
    let mut l = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 9);
    l.recv_q = Some(5);
    l.send_q = Some(4);
    a.unix = vec![l, UnixRecord::new(UnixKind::Dgram, TcpState::Close, 10)];
    let mut counters = KernelCounters::default();
    counters.udp.insert("RcvbufErrors".into(), 1000);
    counters.udp6.insert("RcvbufErrors".into(), 5);
    a.counters = Some(counters.clone());
    let mut b = a.clone();
    b.taken_at_ms += 1000;
    b.udp = vec![udp_sock(53, 1, 130)];
    counters.udp.insert("RcvbufErrors".into(), 1030);
    b.counters = Some(counters);
    (a, b)
}

fn lines(a: &Snapshot, b: &Snapshot, jsonl: bool) -> String {
    use crate::analyze::proto_counts::aggregate_proto;
    let aggs = |s: &Snapshot| {
        (
            aggregate_proto(s, Protocol::Udp),
            aggregate_proto(s, Protocol::Unix),
        )
    };
    let (ua, xa) = aggs(a);
    let (ub, xb) = aggs(b);
    let mut out = Vec::new();
    let first = WatchLine {
        snapshot: a,
        states: StateCounts::default(),
        previous: None,
        alerts: &[],
        line_no: 0,
        previous_snapshot: None,
        udp: Some(ProtoLine {
            now: &ua,
            previous: None,
        }),
        unix: Some(ProtoLine {
            now: &xa,
            previous: None,
        }),
    };
    let second = WatchLine {
        snapshot: b,
        previous: Some(StateCounts::default()),
        line_no: 1,
        previous_snapshot: Some(a),
        udp: Some(ProtoLine {
            now: &ub,
            previous: Some(&ua),
        }),
        unix: Some(ProtoLine {
            now: &xb,
            previous: Some(&xa),
        }),
        ..first
    };
    for line in [&first, &second] {
        if jsonl {
            write_jsonl(&mut out, line).unwrap();
        } else {
            write_text(&mut out, line).unwrap();
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn text_shows_udp_and_unix_columns_and_drops_in_the_interval() {
    let (a, b) = two_ticks();
    let text = lines(&a, &b, false);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "time",
            "udp",
            "udp_ESTAB",
            "udp_UNCONN",
            "udp_drops",
            "unix",
            "unix_ESTAB",
            "unix_UNCONN",
            "unix_LISTEN",
            "unix_fullest",
            "findings"
        ],
        "no TCP column when TCP was not collected: {text}"
    );
    assert_eq!(
        &rows[1][1..],
        ["2", "0", "2", "-", "2", "0", "1", "1", "5/4", "-"]
    );
    // The port-54 socket closed with its 40 drops: 30 dropped on port 53, never -10.
    assert_eq!(
        &rows[2][1..],
        [
            "1", "(-1)", "0", "(+0)", "1", "(-1)", "30", "2", "(+0)", "0", "(+0)", "1", "(+0)",
            "1", "(+0)", "5/4", "-"
        ],
        "{text}"
    );
}

#[test]
fn jsonl_carries_udp_drops_host_counters_and_unix_types() {
    let (a, b) = two_ticks();
    let text = lines(&a, &b, true);
    let v: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v[0]["protocols"], serde_json::json!(["udp", "unix"]));
    let (u0, u1) = (&v[0]["udp"], &v[1]["udp"]);
    assert_eq!(u0["states"], serde_json::json!({"ESTAB": 0, "UNCONN": 2}));
    assert_eq!(u0["socket_drops"], 140);
    assert!(u0["drops"].is_null() && u0["deltas"].is_null());
    assert_eq!(u0["host"]["RcvbufErrors"], 1005);
    assert!(u0.get("host_deltas").is_none());
    assert_eq!(u1["drops"], 30);
    assert_eq!(u1["socket_drops"], 130);
    assert_eq!(u1["deltas"]["UNCONN"], -1);
    assert_eq!(u1["host_deltas"]["RcvbufErrors"], 30);
    assert!(u1.get("types").is_none());
    let x = &v[1]["unix"];
    assert_eq!(x["states"]["LISTEN"], 1);
    assert_eq!(
        x["types"],
        serde_json::json!({"stream": 1, "dgram": 1, "seqpacket": 0})
    );
    assert!(x.get("drops").is_none() && x.get("host").is_none());
}

#[test]
fn tcp_beside_other_protocols_heads_its_total_tcp() {
    let (mut a, mut b) = two_ticks();
    a.protocols = Protocols::ALL;
    b.protocols = Protocols::ALL;
    let text = lines(&a, &b, false);
    let head: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(&head[..3], ["time", "tcp", "ESTABLISHED"]);
    assert!(head.contains(&"udp_drops"), "{text}");
}
