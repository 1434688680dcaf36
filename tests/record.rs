//! Recordings end to end: a CLOSE_WAIT leak written through the real `Recorder` and read
//! back tick by tick; torn, garbage, empty and foreign files; a real `kill -9` of a
//! recording process; proptests that no input panics the reader; sizes and costs.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sockscope::analyze::engine::{Analysis, Analyzer};
use sockscope::analyze::finding::{AlertPhase, Severity};
use sockscope::model::RuleId;
use sockscope::model::*;
use sockscope::record::{parse_time, HeaderInfo, RecordError, Recorder, Recording, TOP_REMOTES};

const T0: i64 = 1_795_322_400_000; // 2026-11-22T04:40:00Z

fn sock(state: TcpState, local: &str, remote: &str, owner: Owner) -> SocketRecord {
    let mut s = SocketRecord::new(
        state,
        local.parse().unwrap(),
        remote.parse().unwrap(),
        owner,
    );
    s.inode = 7;
    s.uid = 1000;
    s.cookie = Some(1);
    s
}

/// A host where `java` (pid 42) leaks `leak` CLOSE_WAIT sockets on :8080, with a listener,
/// some TIME_WAIT, one unattributed socket and `extra` established connections.
fn snapshot(tick: i64, leak: u64, extra: u64) -> Snapshot {
    let mut l = sock(
        TcpState::Listen,
        "0.0.0.0:8080",
        "0.0.0.0:0",
        Owner::Process(42),
    );
    l.send_q = 511;
    l.recv_q = 2;
    let mut sockets = vec![l];
    for i in 0..leak {
        let mut s = sock(
            TcpState::CloseWait,
            "10.0.0.1:8080",
            &format!("10.1.{}.{}:{}", i / 250 % 250, i % 250, 20_000 + i % 40_000),
            Owner::Process(42),
        );
        s.cookie = Some(i + 1);
        sockets.push(s);
    }
    for i in 0..extra {
        let mut s = sock(
            TcpState::Established,
            &format!("10.0.0.1:{}", 30_000 + i % 30_000),
            &format!("10.2.{}.{}:443", i / 250 % 250, i % 250),
            Owner::Process(7),
        );
        s.cookie = Some(1_000_000 + i);
        s.tcp_info = Some(TcpInfoLite {
            last_data_recv_ms: 12,
            last_ack_recv_ms: 3,
            rtt_us: 250,
            total_retrans: 0,
        });
        sockets.push(s);
    }
    sockets.push(sock(
        TcpState::TimeWait,
        "10.0.0.1:41000",
        "10.0.0.8:443",
        Owner::Ownerless,
    ));
    sockets.push(sock(
        TcpState::Established,
        "10.0.0.1:22",
        "10.0.0.6:50000",
        Owner::Unattributed,
    ));
    let proc = |pid: u32, comm: &str, user: &str| ProcessInfo {
        pid,
        comm: comm.into(),
        uid: 1000,
        user: user.into(),
        unit: None,
        container: None,
    };
    let counters = KernelCounters {
        tcp_ext: [("ListenOverflows".to_string(), 10 * tick as u64)].into(),
        tcp: [("ActiveOpens".to_string(), 100 + 5 * tick as u64)].into(),
        udp: Default::default(),
        udp6: Default::default(),
        sockets_in_use: Default::default(),
        conntrack: None,
        conntrack_absent: None,
    };
    Snapshot {
        taken_at_ms: T0 + tick * 1000,
        source: SourceKind::Netlink,
        netns: "host".into(),
        sockets,
        protocols: Default::default(),
        udp: Vec::new(),
        unix: Vec::new(),
        processes: BTreeMap::from([(42, proc(42, "java", "app")), (7, proc(7, "nginx", "www"))]),
        attribution: Attribution {
            attempted: true,
            unreadable_pids: 1,
            reason: Some(UnattributedReason::NotRoot),
        },
        quality: SampleQuality {
            parse_errors: 0,
            duplicates: 1,
            inconsistent: None,
        },
        counters: Some(counters),
        sysctls: Some(Sysctls {
            values: [("net.ipv4.tcp_fin_timeout".to_string(), "60".to_string())].into(),
        }),
        collect_us: 1234,
    }
}

fn info(sockets: bool) -> HeaderInfo {
    HeaderInfo {
        host: "web-3".into(),
        kernel: "6.8.0-test".into(),
        interval_ms: 1000,
        started_at_ms: T0,
        netns: "host".into(),
        sockets,
    }
}

/// Records the leak (50 → 1200 CLOSE_WAIT over six ticks) into `path`.
fn record_leak(path: &Path, sockets: bool) -> Vec<(Snapshot, Analysis)> {
    let mut rec = Recorder::create(path, &info(sockets)).unwrap();
    let mut an = Analyzer::new();
    [50, 150, 250, 400, 700, 1200]
        .iter()
        .enumerate()
        .map(|(i, &leak)| {
            let snap = snapshot(i as i64, leak, 3);
            let a = an.observe(&snap);
            rec.append(&snap, &a).unwrap();
            (snap, a)
        })
        .collect()
}

/// `value` as serde_json reads it back: without serde_json's `float_roundtrip` feature a
/// float may come back one ULP off (12942.857142857141 → 12942.85714285714).
fn json_roundtrip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

#[test]
fn leak_reads_back_tick_by_tick() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leak.jsonl");
    let written = record_leak(&path, false);
    if std::env::var_os("SOCKSCOPE_REGEN_RECORD_FIXTURE").is_some() {
        // A new file per schema: the older ones stay, so later versions must read them.
        let name = format!("leak-v{}.jsonl", sockscope::record::SCHEMA_VERSION);
        std::fs::copy(&path, fixture().with_file_name(name)).unwrap();
    }
    let rec = Recording::open(&path).unwrap();
    assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
    assert_eq!(rec.header().host, "web-3");
    assert_eq!(rec.header().started_at, "2026-11-22T04:40:00Z");
    assert!(!rec.header().sockets);
    assert_eq!(rec.ticks().len(), written.len());
    for (tick, (snap, a)) in rec.ticks().iter().zip(&written) {
        assert_eq!(tick.taken_at_ms, snap.taken_at_ms);
        assert_eq!(tick.states.0, snap.state_counts());
        let mut want = a.aggregate.clone();
        want.remotes.truncate(TOP_REMOTES);
        assert_eq!(
            tick.aggregate(),
            want,
            "rows rebuild the aggregate, top remotes only"
        );
        assert_eq!(tick.alerts, json_roundtrip(&a.alerts));
        assert_eq!(tick.rates(), a.rates);
        assert!(!tick.has_sockets());
        let back = tick.to_snapshot(&rec.header().netns);
        assert!(back.sockets.is_empty());
        assert_eq!(
            (back.attribution, back.quality, back.counters, back.sysctls),
            (
                snap.attribution.clone(),
                snap.quality.clone(),
                snap.counters.clone(),
                snap.sysctls.clone()
            )
        );
    }
    // The leak as the on-call engineer will read it: quiet, then warning, then critical.
    let cw = |t: &sockscope::record::Tick| t.states.0.get(TcpState::CloseWait);
    let counts: Vec<u64> = rec.ticks().iter().map(cw).collect();
    assert_eq!(counts, [50, 150, 250, 400, 700, 1200]);
    let leak_alert = |i: usize| {
        rec.ticks()[i]
            .alerts
            .iter()
            .find(|a| a.finding.rule == RuleId::CloseWaitLeak)
            .map(|a| (a.phase, a.finding.severity, a.finding.count))
    };
    assert_eq!(leak_alert(0), None);
    assert_eq!(
        leak_alert(2),
        Some((AlertPhase::Firing, Severity::Warning, 250))
    );
    assert_eq!(
        leak_alert(5),
        Some((AlertPhase::Firing, Severity::Critical, 1200))
    );
    assert!(rec.ticks()[0].rates.is_none());
    assert_eq!(rec.ticks()[1].rates().unwrap().get("ListenOverflows"), 10.0);
}

#[test]
fn with_sockets_the_snapshot_is_exact_and_replays_to_the_same_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leak.jsonl");
    let written = record_leak(&path, true);
    let rec = Recording::open(&path).unwrap();
    assert!(rec.header().sockets);
    let mut replay = Analyzer::new();
    for (tick, (snap, a)) in rec.ticks().iter().zip(&written) {
        let back = tick.to_snapshot(&rec.header().netns);
        assert_eq!(&back, snap);
        assert_eq!(tick.aggregate(), a.aggregate);
        let again = replay.observe(&back);
        assert_eq!(again.alerts, a.alerts);
        assert_eq!(again.rates, a.rates);
    }
}

#[test]
fn tick_at_and_parse_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leak.jsonl");
    record_leak(&path, false);
    let rec = Recording::open(&path).unwrap();
    let at = |s: &str| {
        rec.tick_at(parse_time(s, &rec).unwrap())
            .unwrap()
            .taken_at_ms
    };
    assert_eq!(at("2026-11-22T04:40:02Z"), T0 + 2000);
    assert_eq!(at("2026-11-22T06:40:02.999+02:00"), T0 + 2000);
    assert_eq!(at("04:40:03"), T0 + 3000);
    assert_eq!(at("04:39"), T0, "before the first tick: the first");
    assert_eq!(at("+90s"), T0 + 5000, "after the last: the last");
    assert_eq!(at("+2s"), T0 + 2000);
    assert_eq!(at("+2500ms"), T0 + 2000);
    for bad in ["yesterday", "+5", "4:40", "2026-11-22"] {
        let e = parse_time(bad, &rec).unwrap_err().to_string();
        assert!(e.contains("leak.jsonl") && e.contains(bad), "{e}");
    }
}

fn open_bytes(dir: &Path, bytes: &[u8]) -> Result<Recording, RecordError> {
    let path = dir.join("x.jsonl");
    std::fs::write(&path, bytes).unwrap();
    Recording::open(&path)
}

#[test]
fn torn_last_line_replays_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leak.jsonl");
    record_leak(&path, false);
    let bytes = std::fs::read(&path).unwrap();
    let cut = bytes.len() - 40;
    let rec = open_bytes(dir.path(), &bytes[..cut]).unwrap();
    assert_eq!(rec.ticks().len(), 5);
    assert_eq!(
        rec.warnings,
        ["line 7: torn last record skipped (kill -9 while writing?)"]
    );
}

#[test]
fn garbage_in_the_middle_is_skipped_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leak.jsonl");
    record_leak(&path, false);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(3, "{\"kind\":\"tick\",\"taken_at_ms\":");
    lines.insert(5, "\u{0}\u{1}binary");
    let rec = open_bytes(dir.path(), (lines.join("\n") + "\n").as_bytes()).unwrap();
    assert_eq!(rec.ticks().len(), 6);
    assert_eq!(rec.warnings.len(), 2, "{:?}", rec.warnings);
    assert!(rec.warnings[0].starts_with("line 4: unreadable record skipped: EOF"));
    assert!(rec.warnings[1].starts_with("line 6: unreadable record skipped"));
}

#[test]
fn foreign_and_broken_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leak.jsonl");
    record_leak(&path, false);
    let text = std::fs::read_to_string(&path).unwrap();
    let header = text.lines().next().unwrap();
    let future = header.replace(
        &format!("\"schema_version\":{}", sockscope::record::SCHEMA_VERSION),
        "\"schema_version\":99",
    ) + "\n";
    let header_nl = format!("{header}\n");
    let cases: [(&[u8], &str); 10] = [
        (b"", "empty file"),
        (header_nl.as_bytes(), "no readable tick"),
        (header.as_bytes(), "no readable tick"),
        (&header.as_bytes()[..30], "line 1: truncated header"),
        (b"Netid State Recv-Q\ntcp LISTEN 0\n", "line 1 is not JSON"),
        (b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe", "line 1 is not JSON"),
        (b"[1,2,3]\n", "not a JSON object"),
        (
            b"{\"kind\":\"tick\"}\n",
            "is a \"tick\" record, not a header",
        ),
        (future.as_bytes(), "schema_version 99 is newer"),
        (
            b"{\"kind\":\"header\",\"schema_version\":1}\n",
            "bad header: missing field",
        ),
    ];
    for (bytes, want) in cases {
        let e = open_bytes(dir.path(), bytes).unwrap_err().to_string();
        assert!(e.contains(want), "{e:?} lacks {want:?}");
        assert!(e.contains("x.jsonl"), "{e}");
        assert!(!e.contains('\n'), "{e:?}");
    }
    let e = Recording::open(&dir.path().join("missing")).unwrap_err();
    assert!(e.to_string().contains("missing: No such file"), "{e}");
}

#[test]
fn create_refuses_to_clobber_a_non_recording() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "incident notes\n").unwrap();
    let e = Recorder::create(&notes, &info(false)).unwrap_err();
    assert!(matches!(e, RecordError::WouldClobber { .. }), "{e}");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "incident notes\n");
    // An old recording, or an empty file, is fair game.
    let path = dir.path().join("leak.jsonl");
    record_leak(&path, false);
    Recorder::create(&path, &info(false)).unwrap();
    assert!(matches!(
        Recording::open(&path).unwrap_err(),
        RecordError::NoTicks { .. }
    ));
}

#[test]
fn v1_fixture_still_reads() {
    let rec = Recording::open(&fixture()).unwrap();
    assert!(rec.warnings.is_empty());
    let last = rec.tick_at(i64::MAX).unwrap();
    assert_eq!(last.states.0.get(TcpState::CloseWait), 1200);
    assert_eq!(last.aggregate().processes[0].process.comm, "java");
    assert!(last
        .alerts
        .iter()
        .any(|a| a.finding.severity == Severity::Critical));
}

/// A schema-1 recording of the leak, kept so that later versions must still read it
/// (`SOCKSCOPE_REGEN_RECORD_FIXTURE=1` writes the current schema's beside it).
fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/record/leak-v1.jsonl")
}

const CHILD_ENV: &str = "SOCKSCOPE_RECORDER_CHILD";

/// Records a ticking leak to `path` every 5 ms until killed.
fn record_forever(path: &Path) -> ! {
    let mut rec = Recorder::create(path, &info(true)).unwrap();
    let mut an = Analyzer::new();
    for i in 0.. {
        let snap = snapshot(i, 20 + i as u64 % 300, 50);
        let a = an.observe(&snap);
        rec.append(&snap, &a).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    unreachable!()
}

/// The child half of `kill9_loses_at_most_last_record`, and on its own a check that three
/// ticks survive a normal drop of the recorder.
#[test]
fn recorder_child() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        record_forever(Path::new(&path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("three.jsonl");
    {
        let mut rec = Recorder::create(&path, &info(false)).unwrap();
        let mut an = Analyzer::new();
        for i in 0..3 {
            let snap = snapshot(i, 10, 1);
            rec.append(&snap, &an.observe(&snap)).unwrap();
        }
    }
    let rec = Recording::open(&path).unwrap();
    assert_eq!(rec.ticks().len(), 3);
    assert_eq!(rec.ticks()[2].taken_at_ms, T0 + 2000);
}

#[test]
fn kill9_loses_at_most_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.jsonl");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "recorder_child", "--nocapture"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it is writing ticks (bounded), then let it run ~300 ms more.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read(&path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count()) < 2 {
        assert!(Instant::now() < deadline, "child never wrote a tick");
        assert!(child.try_wait().unwrap().is_none(), "child exited");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let complete = bytes.iter().filter(|&&c| c == b'\n').count() - 1;
    let rec = Recording::open(&path).unwrap();
    assert!(complete >= 2, "{complete}");
    if bytes.ends_with(b"\n") {
        assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
    } else {
        assert_eq!(
            rec.warnings,
            [format!(
                "line {}: torn last record skipped (kill -9 while writing?)",
                complete + 2
            )]
        );
    }
    assert_eq!(rec.ticks().len(), complete, "every complete line parses");
    for (i, t) in rec.ticks().iter().enumerate() {
        assert_eq!(
            t.taken_at_ms,
            T0 + i as i64 * 1000,
            "no tick lost or reordered"
        );
        assert_eq!(
            t.sockets.as_ref().unwrap().len(),
            t.states.0.total() as usize
        );
    }
}

/// A three-tick recording in memory, built once for all proptest cases.
fn leak_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(write_leak_bytes)
}

fn write_leak_bytes() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leak.jsonl");
    let mut rec = Recorder::create(&path, &info(false)).unwrap();
    let mut an = Analyzer::new();
    for (i, leak) in [50, 250, 1200].into_iter().enumerate() {
        let snap = snapshot(i as i64, leak, 2);
        rec.append(&snap, &an.observe(&snap)).unwrap();
    }
    std::fs::read(&path).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn junk_after_the_header_never_panics(junk in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut bytes = leak_bytes().to_vec();
        let header_end = bytes.iter().position(|&c| c == b'\n').unwrap() + 1;
        bytes.truncate(header_end);
        bytes.extend_from_slice(&junk);
        let _ = Recording::from_reader(Cursor::new(&bytes), "junk");
        let _ = Recording::from_reader(Cursor::new(&junk), "junk");
    }

    #[test]
    fn any_truncation_keeps_every_complete_tick(frac in 0.0f64..1.0) {
        let bytes = leak_bytes();
        let full = Recording::from_reader(Cursor::new(bytes), "full").unwrap();
        let cut = (bytes.len() as f64 * frac) as usize;
        let prefix = &bytes[..cut];
        let complete = prefix.iter().filter(|&&c| c == b'\n').count().saturating_sub(1);
        // Cut just before a newline: the last tick is whole JSON and is kept.
        let whole_tail = bytes.get(cut) == Some(&b'\n') && !prefix.ends_with(b"\n");
        let expect = complete + usize::from(whole_tail && prefix.contains(&b'\n'));
        match Recording::from_reader(Cursor::new(prefix), "cut") {
            Ok(rec) => {
                prop_assert_eq!(rec.ticks(), &full.ticks()[..expect]);
                prop_assert!(rec.warnings.len() <= 1);
            }
            Err(e) => prop_assert_eq!(expect, 0, "{}", e),
        }
    }
}

#[test]
fn sizes_and_costs() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = String::new();
    for (label, sockets, leak, extra) in [
        ("typical host, no sockets (300 sockets)", false, 150, 150),
        ("10k sockets, no --sockets", false, 5_000, 5_000),
        ("10k sockets, --sockets", true, 5_000, 5_000),
    ] {
        let path = dir.path().join("m.jsonl");
        let mut rec = Recorder::create(&path, &info(sockets)).unwrap();
        let mut an = Analyzer::new();
        let snaps: Vec<(Snapshot, Analysis)> = (0..5)
            .map(|i| {
                let s = snapshot(i, leak, extra);
                let a = an.observe(&s);
                (s, a)
            })
            .collect();
        let start_len = rec.bytes_written();
        let t = Instant::now();
        for (s, a) in &snaps {
            rec.append(s, a).unwrap();
        }
        let per_tick = t.elapsed() / snaps.len() as u32;
        let bytes = (rec.bytes_written() - start_len) / snaps.len() as u64;
        report += &format!("{label}: {bytes} B/tick, append {per_tick:?}/tick (debug build)\n");
        if !sockets {
            assert!(bytes < 64 * 1024, "{bytes}");
        }
        rec.set_sync_every(1);
        let t = Instant::now();
        rec.append(&snaps[0].0, &snaps[0].1).unwrap();
        report += &format!("  with fdatasync every tick: {:?}\n", t.elapsed());
    }
    let _ = std::io::stderr().write_all(report.as_bytes());
}
