//! Destroy events in recordings (schema 3): a tick's `events` written through the real
//! `Recorder` and read back (totals exact, top rows kept, a hostile comm byte for byte), a
//! tick without events stays without, and the schema 1 and 2 fixtures still load with no
//! events (unknown, not zero).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use sockscope::analyze::engine::Analyzer;
use sockscope::analyze::events::{Churn, EventWindow};
use sockscope::model::*;
use sockscope::record::{HeaderInfo, Recorder, Recording, SCHEMA_VERSION, TOP_EVENT_ROWS};

const T0: i64 = 1_795_322_400_000;

fn info() -> HeaderInfo {
    HeaderInfo {
        host: "web-3".into(),
        kernel: "6.18.0-test".into(),
        interval_ms: 1000,
        started_at_ms: T0,
        netns: "host".into(),
        sockets: false,
    }
}

fn snapshot(at: i64) -> Snapshot {
    let s = SocketRecord::new(
        TcpState::Established,
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.8:443".parse().unwrap(),
        Owner::Unresolved,
    );
    Snapshot {
        taken_at_ms: at,
        source: SourceKind::Netlink,
        netns: "host".into(),
        protocols: Protocols::TCP,
        sockets: vec![s],
        udp: Vec::new(),
        unix: Vec::new(),
        processes: Default::default(),
        attribution: Default::default(),
        quality: Default::default(),
        counters: None,
        sysctls: None,
        collect_us: 0,
    }
}

fn ep(s: &str) -> Endpoint {
    let a: std::net::SocketAddr = s.parse().unwrap();
    Endpoint::new(a.ip(), a.port())
}

/// 15 remotes (remote i closed i+1 times), two processes, one with a hostile comm.
fn churn() -> Churn {
    let mut w = EventWindow {
        closes: [120, 3],
        short_lived: 90,
        lifetime_unknown: 2,
        lost: 7,
        unowned: 40,
        ..EventWindow::default()
    };
    for i in 0..15u64 {
        w.remotes
            .insert(ep(&format!("10.0.0.{}:443", i + 1)), i + 1);
    }
    w.processes
        .insert(42, (Name::from(&b"\x1b[2Jev\xff"[..]), 80));
    w.processes.insert(7, (Name::from("curl"), 3));
    Churn {
        seconds: 2.0,
        window: w,
    }
}

#[test]
fn events_round_trip_and_a_tick_without_stays_without() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("churn.jsonl");
    let mut rec = Recorder::create(&path, &info()).unwrap();
    let mut an = Analyzer::new();
    let mut snap = snapshot(T0);
    let a = an.observe_with_events(&snap, Some(churn()));
    rec.append(&snap, &a).unwrap();
    snap.taken_at_ms = T0 + 1000;
    let a = an.observe(&snap);
    rec.append(&snap, &a).unwrap();
    drop(rec);

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(&format!(
            "{{\"kind\":\"header\",\"schema_version\":{SCHEMA_VERSION}"
        )),
        "{text}"
    );
    assert_eq!(SCHEMA_VERSION, 3);
    let second_line = text.lines().nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(second_line).unwrap();
    let e = &v["events"];
    assert_eq!(e["closes"], 123);
    assert_eq!(e["closes_per_s"], 61.5);
    assert_eq!(e["short_lived"], 90);
    assert_eq!(e["lost"], 7);
    assert_eq!(e["top_remotes"][0]["remote"]["ip"], "10.0.0.15");
    assert_eq!(e["top_remotes"][0]["per_s"], 7.5);
    assert_eq!(e["top_remotes"].as_array().unwrap().len(), TOP_EVENT_ROWS);
    assert_eq!(e["top_processes"][0]["pid"], 42);
    assert!(e["top_processes"][0]["comm_b64"].is_string(), "{e}");
    assert!(
        text.lines().nth(2).unwrap().find("\"events\"").is_none(),
        "a tick without events has no `events`"
    );

    let rec = Recording::open(&path).unwrap();
    assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
    let ticks = rec.ticks();
    let back = ticks[0].churn().unwrap();
    let want = churn();
    assert_eq!(back.seconds, want.seconds);
    assert_eq!(back.window.total(), 123);
    assert_eq!(
        (
            back.window.closes,
            back.window.short_lived,
            back.window.lifetime_unknown,
            back.window.lost,
            back.window.unowned
        ),
        ([120, 3], 90, 2, 7, 40)
    );
    assert_eq!(
        back.window.top_remotes(TOP_EVENT_ROWS),
        want.window.top_remotes(TOP_EVENT_ROWS)
    );
    assert_eq!(
        back.window.remotes.len(),
        TOP_EVENT_ROWS,
        "only the top rows"
    );
    assert_eq!(
        back.window.processes, want.window.processes,
        "exact comm bytes"
    );
    assert_eq!(back.closes_per_s_to(&ep("10.0.0.15:443")), 7.5);
    assert!(
        ticks[1].churn().is_none(),
        "no events read is not zero closes"
    );
}

#[test]
fn schema_1_and_2_recordings_load_without_events() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/record");
    for (file, schema) in [("leak-v1.jsonl", 1), ("udp-unix-v2.jsonl", 2)] {
        let rec = Recording::open(&dir.join(file)).unwrap();
        assert_eq!(rec.header().schema_version, schema, "{file}");
        assert!(!rec.ticks().is_empty(), "{file}");
        assert!(rec.warnings.is_empty(), "{file}: {:?}", rec.warnings);
        for t in rec.ticks() {
            assert!(t.events.is_none() && t.churn().is_none(), "{file}");
        }
    }
}
