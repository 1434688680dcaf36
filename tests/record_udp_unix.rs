//! Recordings with UDP and UNIX sockets (schema 2): the per-protocol counts, drops and UNIX
//! listeners written by the real `Recorder` read back exactly, with and without
//! `--sockets`; schema-1 files still read (as TCP alone); and `summary --from` shows the
//! recorded protocols through the real binary, refusing one the file does not hold.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sockscope::analyze::engine::Analyzer;
use sockscope::analyze::proto_counts::aggregate_proto;
use sockscope::model::{Protocol, Protocols, Snapshot, TcpState};
use sockscope::record::{HeaderInfo, Recorder, Recording, SCHEMA_VERSION};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The hand-made TCP + UDP + UNIX snapshot (see `fixtures/snapshots/make_udp_unix.py`).
fn fixture_snapshot() -> Snapshot {
    let text = std::fs::read_to_string(root().join("snapshots/udp_unix.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn info(sockets: bool) -> HeaderInfo {
    HeaderInfo {
        host: "web-3".into(),
        kernel: "6.8.0-test".into(),
        interval_ms: 1000,
        started_at_ms: 1_700_000_009_000,
        netns: "host".into(),
        sockets,
    }
}

/// Three ticks of the fixture, the statsd receiver dropping more each tick.
fn record(path: &Path, sockets: bool) -> Vec<Snapshot> {
    let mut rec = Recorder::create(path, &info(sockets)).unwrap();
    let mut an = Analyzer::new();
    (0..3)
        .map(|i| {
            let mut snap = fixture_snapshot();
            snap.taken_at_ms += i * 1000;
            for s in &mut snap.udp {
                if let Some(m) = s.skmem.as_mut().filter(|m| m.drops > 0) {
                    m.drops += 1000 * i as u32;
                }
            }
            let a = an.observe(&snap);
            rec.append(&snap, &a).unwrap();
            snap
        })
        .collect()
}

#[test]
fn udp_and_unix_counts_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for sockets in [false, true] {
        let path = dir.path().join(format!("rec-{sockets}.jsonl"));
        let written = record(&path, sockets);
        let rec = Recording::open(&path).unwrap();
        assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
        assert_eq!(rec.header().schema_version, SCHEMA_VERSION);
        for (tick, snap) in rec.ticks().iter().zip(&written) {
            assert_eq!(tick.protocols, Protocols::ALL);
            for p in [Protocol::Udp, Protocol::Unix] {
                let mut want = aggregate_proto(snap, p);
                if !sockets {
                    // Counts alone do not split the sockets no process holds by kind.
                    want.unheld.clear();
                }
                assert_eq!(tick.proto_aggregate(p), want, "{p}, sockets {sockets}");
            }
            let back = tick.to_snapshot("host");
            assert_eq!(back.protocols, Protocols::ALL);
            if sockets {
                assert_eq!((&back.udp, &back.unix), (&snap.udp, &snap.unix));
            } else {
                assert!(back.udp.is_empty() && back.unix.is_empty());
                // The processes of the UDP/UNIX rows are known without the socket list.
                assert_eq!(back.processes[&600].comm, "statsd");
                assert_eq!(back.processes[&1337].comm.raw_bytes(), b"evil\x1b[7m\xfe");
            }
        }
        let last = rec.ticks().last().unwrap();
        assert_eq!(last.proto_aggregate(Protocol::Udp).drops, 98_765 + 2000);
        let unix = last.proto_aggregate(Protocol::Unix);
        assert_eq!(
            unix.unix_listeners[0].name.as_ref().unwrap().to_string(),
            "/run/php/php-fpm.sock"
        );
        assert_eq!(
            (
                unix.unix_listeners[0].pending,
                unix.unix_listeners[0].backlog
            ),
            (Some(5), Some(4))
        );
    }
    // The file keys UDP/UNIX states as ss spells them.
    let text = std::fs::read_to_string(dir.path().join("rec-false.jsonl")).unwrap();
    let tick: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(tick["protocols"], serde_json::json!(["tcp", "udp", "unix"]));
    assert_eq!(
        tick["udp"]["states"],
        serde_json::json!({"UNCONN": 4, "ESTAB": 1})
    );
    assert_eq!(tick["unix"]["types"]["stream"], 7);
    assert!(tick.get("udp_sockets").is_none());
}

#[test]
fn schema_1_recordings_read_as_tcp_alone() {
    let rec = Recording::open(&root().join("record/leak-v1.jsonl")).unwrap();
    assert_eq!(rec.header().schema_version, 1);
    let last = rec.ticks().last().unwrap();
    assert_eq!(last.protocols, Protocols::TCP);
    let udp = last.proto_aggregate(Protocol::Udp);
    assert!(!udp.collected, "a v1 file says nothing about UDP");
    let tcp = last.proto_aggregate(Protocol::Tcp);
    assert_eq!(tcp.states.get(TcpState::CloseWait), 1200);
    assert_eq!(tcp.states, last.aggregate().states);
}

/// A schema-2 recording with UDP and UNIX, kept so that later versions must still read it
/// (rewritten by `SOCKSCOPE_REGEN_RECORD_FIXTURE=1` only on a schema change).
#[test]
fn schema_2_fixture_still_reads() {
    let fixture = root().join("record/udp-unix-v2.jsonl");
    if std::env::var_os("SOCKSCOPE_REGEN_RECORD_FIXTURE").is_some() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.jsonl");
        record(&path, true);
        std::fs::copy(&path, &fixture).unwrap();
    }
    let rec = Recording::open(&fixture).unwrap();
    assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
    let last = rec.ticks().last().unwrap();
    assert_eq!(last.proto_aggregate(Protocol::Udp).drops, 100_765);
    let snap = last.to_snapshot("host");
    assert_eq!(snap.unix.len(), 9);
    assert_eq!(
        snap.unix[7].name.as_ref().unwrap().bytes(),
        b"/tmp/\x1b[31mevil\xff.sock"
    );
}

fn sockscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("sockscope")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn summary_from_a_recording_shows_udp_and_unix() {
    let dir = tempfile::tempdir().unwrap();
    let counts = dir.path().join("counts.jsonl");
    let full = dir.path().join("full.jsonl");
    record(&counts, false);
    record(&full, true);
    let c = counts.to_str().unwrap();
    let f = full.to_str().unwrap();
    let (code, out, err) = sockscope(&["summary", "--from", c, "-u"]);
    assert_eq!((code, out.as_str()), (0, "UNCONN\t4\nESTAB\t1\n"), "{err}");
    let (code, out, _) = sockscope(&["summary", "--from", c, "-tux"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("tcp\tESTABLISHED\t1\ntcp\tLISTEN\t1\nudp\tUNCONN\t4\n"),
        "{out}"
    );
    // Counts-only rows are enough for --by process and --by listener.
    let (code, out, _) = sockscope(&["summary", "--from", c, "-u", "--by", "process"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("600\tstatsd\tstatsd\t1\t1\t0\t100765\t212992\n"),
        "{out}"
    );
    let (code, out, _) = sockscope(&["summary", "--from", c, "-x", "--by", "listener"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("/tmp/\\e[31mevil\\xff.sock\tu_str\t307\t1337\tevil\\e[7m\\xfe\t1\t16"),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "{out}");
    // Filters need the socket list: refused on counts, applied on a --sockets recording.
    let (code, _, err) = sockscope(&["summary", "--from", c, "-x", "--path", "/run/php/*"]);
    assert_eq!(code, 2);
    assert!(err.contains("recorded without --sockets"), "{err}");
    let (code, out, err) = sockscope(&["summary", "--from", f, "-x", "--path", "/run/php/*"]);
    assert_eq!((code, out.as_str()), (0, "LISTEN\t1\n"), "{err}");
    let (code, out, _) = sockscope(&[
        "summary", "--from", f, "-u", "--sport", "8125", "-f", "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["udp"]["total"], 1);
    assert_eq!(v["udp"]["drops"], 100_765);
    // A protocol the recording does not hold is one line naming what it has.
    let v1 = root().join("record/leak-v1.jsonl");
    let (code, out, err) = sockscope(&["summary", "--from", v1.to_str().unwrap(), "-u"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("recorded without -u (the recording has tcp)"),
        "{err}"
    );
}
