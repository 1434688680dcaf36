//! The fault table of [`super::transport`], one test per row. A real dump is recorded once
//! from a network namespace this test creates (unshared on a throwaway thread, so it
//! vanishes with the thread) holding a known socket population; every case replays that
//! recording through [`Scripted`] with one fault injected at the socket boundary and
//! checks the exact outcome: the very sockets of the clean dump (and the restart recorded
//! in `last_stats`), or the exact error. Part of the table also replays the committed
//! kernel fixtures, so it runs without root. Also checks the collector's `auto` fallback.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::fault_transport::{Fault, Recorder, Recording, Scripted, When};
use super::transport::KernelSocket;
use super::{NetlinkSource, MAX_EINTR};
use crate::collect::collector::{CollectConfig, Collector, SourcePref, MAX_FAILED_TICKS};
use crate::collect::{CollectError, DumpRequest, SocketDump, SocketSource};
use crate::model::{SourceKind, TcpState};

/// Population in the namespace: ESTABLISHED pairs (v4), TIME_WAIT, half-closed pairs
/// (FIN_WAIT2 + CLOSE_WAIT), ESTABLISHED pairs on ::1, and one listener per family.
const EST_PAIRS: usize = 150;
const TIME_WAITS: usize = 300;
const HALF_CLOSED: usize = 20;
const V6_PAIRS: usize = 10;

/// The clean reference: what the kernel sent, and what the source made of it.
struct Clean {
    recording: Recording,
    dump: SocketDump,
}

fn expected() -> BTreeMap<TcpState, u64> {
    [
        (TcpState::Established, 2 * (EST_PAIRS + V6_PAIRS) as u64),
        (TcpState::TimeWait, TIME_WAITS as u64),
        (TcpState::FinWait2, HALF_CLOSED as u64),
        (TcpState::CloseWait, HALF_CLOSED as u64),
        (TcpState::Listen, 2),
    ]
    .into_iter()
    .collect()
}

fn counts(dump: &SocketDump) -> BTreeMap<TcpState, u64> {
    let mut m = BTreeMap::new();
    for s in &dump.sockets {
        *m.entry(s.state).or_insert(0) += 1;
    }
    m
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The recorded clean dump, or `None` (test skipped) when not root, as
/// `tests/common::require_root` does: under `CI` a skip is a failure.
fn clean(test: &str) -> Option<&'static Clean> {
    static CLEAN: OnceLock<Clean> = OnceLock::new();
    if !is_root() {
        let msg = format!("SKIPPED: {test} needs root to create a network namespace");
        assert!(std::env::var_os("CI").is_none(), "{msg} (CI is set)");
        let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{msg}\n").as_bytes());
        return None;
    }
    Some(CLEAN.get_or_init(|| {
        std::thread::spawn(record_in_fresh_namespace)
            .join()
            .expect("recording thread")
    }))
}

/// Runs on its own thread: unshares a fresh network namespace, builds the population,
/// and records a real dump once the kernel shows exactly the population.
fn record_in_fresh_namespace() -> Clean {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
    let up = std::process::Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip link set lo up");
    assert!(up.success());
    let _held = populate();
    let socket = KernelSocket::open(Duration::from_secs(5)).unwrap();
    let mut src = NetlinkSource::with_transport(Recorder::new(socket));
    // Closes settle within microseconds on loopback; poll rather than sleep.
    let start = Instant::now();
    let mut dump = src.dump(&DumpRequest::default()).unwrap();
    while counts(&dump) != expected() && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(10));
        dump = src.dump(&DumpRequest::default()).unwrap();
    }
    assert_eq!(
        counts(&dump),
        expected(),
        "the namespace holds exactly our sockets"
    );
    assert_eq!(src.last_stats().restarts, 0);
    let recording = src.transport.recording.clone();
    // Faults at datagram 1 and 2 must land mid-dump, with data after them.
    assert!(
        recording.v4.len() >= 3,
        "{} v4 datagrams",
        recording.v4.len()
    );
    assert!(!recording.v6.is_empty());
    Clean { recording, dump }
}

/// Creates the population; returns the sockets that must stay open.
fn populate() -> Vec<Box<dyn std::any::Any>> {
    let mut held: Vec<Box<dyn std::any::Any>> = Vec::new();
    let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let pair = |l: &TcpListener| {
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    };
    for _ in 0..EST_PAIRS {
        held.push(Box::new(pair(&l4)));
    }
    for _ in 0..V6_PAIRS {
        held.push(Box::new(pair(&l6)));
    }
    for _ in 0..HALF_CLOSED {
        let (c, s) = pair(&l4);
        c.shutdown(Shutdown::Write).unwrap();
        held.push(Box::new((c, s)));
    }
    // The client closes first and the server only after seeing EOF, so exactly the
    // client end lingers in TIME_WAIT (no simultaneous close).
    for _ in 0..TIME_WAITS {
        let (c, mut s) = pair(&l4);
        drop(c);
        assert_eq!(s.read(&mut [0u8; 1]).unwrap(), 0);
    }
    held.push(Box::new((l4, l6)));
    held
}

/// What a case must produce.
enum Outcome {
    /// The clean dump's sockets and quality, exactly, after `restarts` restarts whose
    /// reason contains the text.
    Exact(u32, &'static str),
    /// The clean dump's sockets; the sample is marked inconsistent.
    Inconsistent,
    /// The clean dump's sockets, the duplicated datagram's sockets counted as duplicates.
    Deduplicated,
    /// An error of this variant whose text contains the string, after `restarts`.
    Error(fn(&CollectError) -> bool, &'static str, u32),
}

fn protocol(e: &CollectError) -> bool {
    matches!(e, CollectError::Protocol(_))
}

fn denied(e: &CollectError) -> bool {
    matches!(e, CollectError::PermissionDenied(_))
}

fn unsupported(e: &CollectError) -> bool {
    matches!(e, CollectError::Unsupported(_))
}

fn netlink_einval(e: &CollectError) -> bool {
    matches!(e, CollectError::Netlink { errno, .. } if *errno == libc::EINVAL)
}

fn netlink_enobufs(e: &CollectError) -> bool {
    matches!(e, CollectError::Netlink { errno, .. } if *errno == libc::ENOBUFS)
}

fn replay(clean: &Clean, faults: &[(When, usize, Fault)]) -> NetlinkSource<Scripted> {
    let mut t = Scripted::new(clean.recording.clone());
    for &(when, k, fault) in faults {
        t = t.fault(when, k, fault);
    }
    NetlinkSource::with_transport(t)
}

fn run_case(name: &str, faults: &[(When, usize, Fault)], outcome: Outcome) {
    if let Some(clean) = clean(name) {
        check_case(clean, name, faults, outcome);
    }
}

fn check_case(clean: &Clean, name: &str, faults: &[(When, usize, Fault)], outcome: Outcome) {
    let mut src = replay(clean, faults);
    let result = src.dump(&DumpRequest::default());
    let stats = src.last_stats().clone();
    match (outcome, result) {
        (Outcome::Exact(restarts, why), Ok(dump)) => {
            assert_eq!(dump, clean.dump, "{name}: not the clean dump");
            assert_eq!(stats.restarts, restarts, "{name}: {stats:?}");
            let reason = stats.restart_reason.unwrap_or_default();
            assert!(reason.contains(why), "{name}: reason {reason:?}");
        }
        (Outcome::Inconsistent, Ok(dump)) => {
            assert_eq!(dump.sockets, clean.dump.sockets, "{name}");
            assert!(dump.quality.inconsistent.is_some(), "{name}");
            assert_eq!(stats.restarts, 1, "{name}");
        }
        (Outcome::Deduplicated, Ok(dump)) => {
            assert_eq!(dump.sockets, clean.dump.sockets, "{name}");
            // Datagram 1 of the v4 answer came twice: each of its sockets is a duplicate.
            let mut d = super::decode::DumpDecoder::new(0xFFF);
            d.begin(9);
            d.feed(&super::fault_transport::with_seq(&clean.recording.v4[1], 9))
                .unwrap();
            assert!(d.stats().messages > 0);
            assert_eq!(dump.quality.duplicates, d.stats().messages, "{name}");
            assert_eq!(stats.restarts, 0, "{name}");
        }
        (Outcome::Error(variant, text, restarts), Err(e)) => {
            assert!(variant(&e), "{name}: wrong variant {e:?}");
            assert!(e.to_string().contains(text), "{name}: {e}");
            assert_eq!(stats.restarts, restarts, "{name}: {stats:?}");
        }
        (_, other) => panic!("{name}: unexpected {other:?}"),
    }
}

macro_rules! fault_case {
    ($name:ident: $($when:expr, $k:expr, $fault:expr);+ => $outcome:expr) => {
        #[test]
        fn $name() {
            run_case(stringify!($name), &[$(($when, $k, $fault)),+], $outcome);
        }
    };
}

use Fault::*;
use Outcome::*;
use When::{Always, Request};

// EINTR: repeated in place; a storm longer than the bound costs one restart.
fault_case!(eintr_in_recv_is_retried_in_place: Request(0), 1, Eintr(3) => Exact(0, ""));
fault_case!(eintr_storm_restarts_the_dump: Request(0), 1, Eintr(MAX_EINTR + 1) => Exact(1, "interrupted"));
fault_case!(eintr_storm_twice_is_an_error: Always, 1, Eintr(MAX_EINTR + 1) => Error(protocol, "restarted 1", 1));
fault_case!(eintr_in_send_is_retried_in_place: Request(0), 0, SendEintr(2) => Exact(0, ""));
// ENOBUFS: a datagram was dropped, so the dump is incomplete.
fault_case!(enobufs_restarts_the_dump: Request(0), 1, Enobufs => Exact(1, "ENOBUFS"));
fault_case!(enobufs_in_the_v6_answer_restarts_the_whole_dump: Request(1), 0, Enobufs => Exact(1, "ENOBUFS"));
fault_case!(enobufs_twice_is_an_error: Always, 1, Enobufs => Error(protocol, "ENOBUFS", 1));
fault_case!(enobufs_again_while_draining_is_drained_past: Request(0), 1, Enobufs; Request(0), 3, Enobufs => Exact(1, "ENOBUFS"));
fault_case!(send_enobufs_restarts_the_dump: Request(0), 0, SendErrno(libc::ENOBUFS) => Exact(1, "No buffer space"));
// Missing DONE / stalled answer: recv times out.
fault_case!(stalled_answer_restarts_the_dump: Request(0), 2, Stall => Exact(1, "no DONE"));
fault_case!(missing_done_restarts_the_dump: Request(0), 0, DropDone => Exact(1, "no DONE"));
fault_case!(missing_done_twice_is_a_timeout_error: Always, 0, DropDone => Error(protocol, "no DONE", 1));
// NLMSG_ERROR for the request: typed, restarted only when transient.
fault_case!(nlmsg_error_eperm_is_permission_denied: Always, 0, NlmsgError(libc::EPERM) => Error(denied, "Operation not permitted", 0));
fault_case!(nlmsg_error_eacces_is_permission_denied: Always, 0, NlmsgError(libc::EACCES) => Error(denied, "Permission denied", 0));
fault_case!(nlmsg_error_eprotonosupport_is_unsupported: Always, 0, NlmsgError(libc::EPROTONOSUPPORT) => Error(unsupported, "not supported", 0));
fault_case!(nlmsg_error_einval_is_a_netlink_error: Always, 0, NlmsgError(libc::EINVAL) => Error(netlink_einval, "netlink error 22", 0));
fault_case!(nlmsg_error_ebusy_restarts_the_dump: Request(0), 0, NlmsgError(libc::EBUSY) => Exact(1, "busy"));
fault_case!(nlmsg_error_mid_dump_restarts_the_dump: Request(0), 2, NlmsgError(libc::EINTR) => Exact(1, "netlink error 4"));
// DONE carrying an error code.
fault_case!(done_with_eintr_restarts_the_dump: Request(0), 0, DoneError(libc::EINTR) => Exact(1, "netlink error 4"));
fault_case!(done_with_enobufs_twice_is_an_error: Always, 0, DoneError(libc::ENOBUFS) => Error(netlink_enobufs, "netlink error 105", 1));
fault_case!(done_with_eperm_is_permission_denied: Always, 0, DoneError(libc::EPERM) => Error(denied, "NLMSG_DONE", 0));
// NLMSG_OVERRUN.
fault_case!(overrun_restarts_the_dump: Request(0), 1, Overrun => Exact(1, "OVERRUN"));
fault_case!(overrun_twice_is_an_error: Always, 1, Overrun => Error(protocol, "OVERRUN", 1));
// NLM_F_DUMP_INTR.
fault_case!(dump_intr_restarts_the_dump: Request(0), 1, DumpIntr => Exact(1, "NLM_F_DUMP_INTR"));
fault_case!(dump_intr_twice_marks_the_sample_inconsistent: Always, 1, DumpIntr => Inconsistent);
// Truncation: a datagram cut mid-message, a length past the end, a short read.
fault_case!(datagram_cut_mid_message_restarts_the_dump: Request(0), 1, CutMidMessage => Exact(1, "truncated netlink message"));
fault_case!(datagram_cut_twice_is_an_error: Always, 1, CutMidMessage => Error(protocol, "truncated netlink message", 1));
fault_case!(message_longer_than_its_datagram_restarts_the_dump: Request(0), 2, Overlong => Exact(1, "truncated netlink message"));
fault_case!(message_longer_than_its_datagram_twice_is_an_error: Always, 2, Overlong => Error(protocol, "truncated", 1));
fault_case!(short_read_restarts_the_dump: Request(0), 1, RecvClaimsMore => Exact(1, "datagram truncated"));
fault_case!(short_read_twice_is_an_error: Always, 1, RecvClaimsMore => Error(protocol, "datagram truncated", 1));
// Sequence numbers.
fault_case!(wrong_sequence_number_restarts_the_dump: Request(0), 1, WrongSeq(1000) => Exact(1, "sequence number"));
fault_case!(stale_datagram_mid_dump_restarts_the_dump: Request(0), 1, StaleInserted => Exact(1, "sequence number"));
fault_case!(earlier_sequence_number_in_place_of_ours_restarts: Request(0), 1, WrongSeq(-1) => Exact(1, "sequence number"));
fault_case!(wrong_sequence_number_twice_is_an_error: Always, 1, WrongSeq(1000) => Error(protocol, "sequence number", 1));
// Harmless oddities.
fault_case!(duplicated_datagram_is_deduplicated_by_cookie: Request(0), 1, Duplicate => Deduplicated);
fault_case!(empty_datagram_is_ignored: Request(0), 1, Empty => Exact(0, ""));
fault_case!(send_eperm_is_permission_denied: Always, 0, SendErrno(libc::EPERM) => Error(denied, "sending sock_diag request", 0));

/// The committed real-kernel fixtures (`tests/fixtures/netlink/`, 21 v4 + 5 v6 sockets)
/// as a recording: the v4 answer split into three datagrams at message boundaries.
fn fixture_clean() -> Clean {
    const V4: &[u8] = include_bytes!("../../../tests/fixtures/netlink/v4.bin");
    const V6: &[u8] = include_bytes!("../../../tests/fixtures/netlink/v6.bin");
    let mut bounds = vec![0];
    let mut off = 0;
    while off < V4.len() {
        let len = u32::from_ne_bytes(V4[off..off + 4].try_into().unwrap()) as usize;
        off += (len + 3) & !3;
        bounds.push(off.min(V4.len()));
    }
    let cut = |i: usize| bounds[i * (bounds.len() - 1) / 3];
    let recording = Recording {
        v4: vec![
            V4[..cut(1)].to_vec(),
            V4[cut(1)..cut(2)].to_vec(),
            V4[cut(2)..].to_vec(),
        ],
        v6: vec![V6.to_vec()],
    };
    let mut src = NetlinkSource::with_transport(Scripted::new(recording.clone()));
    let dump = src.dump(&DumpRequest::default()).unwrap();
    let want: BTreeMap<TcpState, u64> = [
        (TcpState::Established, 12),
        (TcpState::Listen, 6),
        (TcpState::SynRecv, 2),
        (TcpState::FinWait2, 2),
        (TcpState::TimeWait, 2),
        (TcpState::CloseWait, 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts(&dump), want);
    Clean { recording, dump }
}

/// Part of the table over the fixtures, so it also runs without root.
#[test]
fn fixture_replay_faults_without_root() {
    let clean = fixture_clean();
    let cases: [(&str, (When, usize, Fault), Outcome); 10] = [
        ("eintr", (Request(0), 1, Eintr(3)), Exact(0, "")),
        ("enobufs", (Request(0), 1, Enobufs), Exact(1, "ENOBUFS")),
        (
            "enobufs twice",
            (Always, 1, Enobufs),
            Error(protocol, "ENOBUFS", 1),
        ),
        (
            "no done",
            (Always, 0, DropDone),
            Error(protocol, "no DONE", 1),
        ),
        (
            "eperm",
            (Always, 0, NlmsgError(libc::EPERM)),
            Error(denied, "not permitted", 0),
        ),
        ("overrun", (Request(0), 1, Overrun), Exact(1, "OVERRUN")),
        ("cut", (Request(0), 1, CutMidMessage), Exact(1, "truncated")),
        (
            "short read",
            (Request(0), 2, RecvClaimsMore),
            Exact(1, "datagram truncated"),
        ),
        (
            "wrong seq",
            (Request(0), 1, WrongSeq(-1)),
            Exact(1, "sequence number"),
        ),
        ("duplicate", (Request(0), 1, Duplicate), Deduplicated),
    ];
    for (name, fault, outcome) in cases {
        check_case(&clean, name, &[fault], outcome);
    }
}

#[test]
fn eintr_retries_are_counted_in_last_stats() {
    let Some(clean) = clean("eintr_retries_are_counted_in_last_stats") else {
        return;
    };
    let mut src = replay(
        clean,
        &[(Request(0), 1, Eintr(3)), (Request(1), 0, SendEintr(2))],
    );
    let dump = src.dump(&DumpRequest::default()).unwrap();
    assert_eq!(dump, clean.dump);
    let stats = src.last_stats();
    assert_eq!((stats.eintr_retries, stats.restarts), (5, 0), "{stats:?}");
    let datagrams = (clean.recording.v4.len() + clean.recording.v6.len()) as u64;
    assert_eq!(stats.datagrams, datagrams);
}

#[test]
fn restart_drains_the_broken_answer_and_records_why() {
    let Some(clean) = clean("restart_drains_the_broken_answer_and_records_why") else {
        return;
    };
    let mut src = replay(clean, &[(Request(0), 1, Enobufs)]);
    assert_eq!(src.dump(&DumpRequest::default()).unwrap(), clean.dump);
    let stats = src.last_stats().clone();
    assert_eq!(stats.restarts, 1);
    // The datagrams after the dropped one were still queued: drained, not decoded.
    assert_eq!(stats.drained as usize, clean.recording.v4.len() - 2);
    assert_eq!(src.transport.sends(), 3, "v4 (broken), v4, v6");
    // The next dump on the same socket starts clean: no restart, nothing to drain.
    assert_eq!(src.dump(&DumpRequest::default()).unwrap(), clean.dump);
    assert_eq!(
        (src.last_stats().restarts, src.last_stats().drained),
        (0, 0)
    );
}

// ----------------------------------------------------------------- collector policy (auto)

fn collector(clean: &Clean, pref: SourcePref, faults: &[(When, usize, Fault)]) -> Collector {
    let cfg = CollectConfig {
        source: pref,
        ..CollectConfig::default()
    };
    Collector::with_source(cfg, Box::new(replay(clean, faults)), None)
}

fn snapshot_counts(snap: &crate::model::Snapshot) -> BTreeMap<TcpState, u64> {
    let mut m = BTreeMap::new();
    for s in &snap.sockets {
        *m.entry(s.state).or_insert(0) += 1;
    }
    m
}

#[test]
fn auto_reads_one_failed_tick_from_proc_then_returns_to_netlink() {
    let Some(clean) = clean("auto_reads_one_failed_tick_from_proc_then_returns_to_netlink") else {
        return;
    };
    // Both attempts of the first tick break (requests 0 and 1 are v4); later ones are clean.
    let mut c = collector(clean, SourcePref::Auto, &[(When::Before(2), 1, Enobufs)]);
    let first = c.collect().unwrap();
    assert_eq!(first.source, SourceKind::Proc);
    let notice = c.take_notice().unwrap();
    assert!(
        notice.contains("this sample is from /proc/net/tcp"),
        "{notice}"
    );
    assert!(notice.contains("ENOBUFS"), "{notice}");
    let second = c.collect().unwrap();
    assert_eq!(second.source, SourceKind::Netlink);
    assert_eq!(snapshot_counts(&second), expected());
    assert_eq!(c.take_notice(), None);
}

#[test]
fn auto_switches_to_proc_for_good_when_the_kernel_refuses() {
    let Some(clean) = clean("auto_switches_to_proc_for_good_when_the_kernel_refuses") else {
        return;
    };
    let mut c = collector(
        clean,
        SourcePref::Auto,
        &[(Request(0), 0, NlmsgError(libc::EPERM))],
    );
    assert_eq!(c.collect().unwrap().source, SourceKind::Proc);
    let notice = c.take_notice().unwrap();
    assert!(notice.contains("falling back to /proc/net/tcp"), "{notice}");
    // The scripted socket would answer now; the switch is permanent anyway.
    assert_eq!(c.collect().unwrap().source, SourceKind::Proc);
    assert_eq!(c.source_kind(), SourceKind::Proc);
}

#[test]
fn auto_switches_to_proc_for_good_after_repeated_failed_ticks() {
    let Some(clean) = clean("auto_switches_to_proc_for_good_after_repeated_failed_ticks") else {
        return;
    };
    let mut c = collector(clean, SourcePref::Auto, &[(Always, 1, Overrun)]);
    for tick in 1..=MAX_FAILED_TICKS {
        assert_eq!(c.collect().unwrap().source, SourceKind::Proc, "tick {tick}");
        let kind = c.source_kind();
        let expected = if tick < MAX_FAILED_TICKS {
            SourceKind::Netlink
        } else {
            SourceKind::Proc
        };
        assert_eq!(kind, expected, "tick {tick}");
    }
}

#[test]
fn netlink_only_returns_the_error_and_recovers_next_tick() {
    let Some(clean) = clean("netlink_only_returns_the_error_and_recovers_next_tick") else {
        return;
    };
    let mut c = collector(clean, SourcePref::Netlink, &[(When::Before(2), 1, Overrun)]);
    match c.collect() {
        Err(CollectError::Protocol(m)) => assert!(m.contains("OVERRUN"), "{m}"),
        other => panic!("{other:?}"),
    }
    let next = c.collect().unwrap();
    assert_eq!(next.source, SourceKind::Netlink);
    assert_eq!(snapshot_counts(&next), expected());
}

// ----------------------------------------------------------------- streaming (issue 17)

#[test]
fn a_restarted_stream_forgets_the_broken_attempt() {
    let Some(clean) = clean("a_restarted_stream_forgets_the_broken_attempt") else {
        return;
    };
    let mut src = replay(clean, &[(Request(0), 1, Enobufs)]);
    let mut got: Vec<crate::model::SocketRecord> = Vec::new();
    let quality = src.dump_stream(&DumpRequest::default(), &mut got).unwrap();
    assert_eq!(src.last_stats().restarts, 1);
    assert_eq!(
        got, clean.dump.sockets,
        "the partial first attempt was forgotten"
    );
    assert_eq!(quality, clean.dump.quality);
}

#[test]
fn a_streamed_collection_restarted_mid_dump_still_gives_listeners_first() {
    let Some(clean) = clean("a_streamed_collection_restarted_mid_dump") else {
        return;
    };
    let listed = collector(clean, SourcePref::Netlink, &[])
        .collect()
        .unwrap();
    // Requests 0 and 1 are the LISTEN-only dump; 2 is the first family of the rest, broken
    // after its first datagram: the sink is reset and the listeners replayed before the retry.
    let mut c = collector(clean, SourcePref::Netlink, &[(Request(2), 1, Enobufs)]);
    let mut got: Vec<crate::model::SocketRecord> = Vec::new();
    let snap = c.collect_stream(&mut got).unwrap();
    assert!(snap.sockets.is_empty(), "nothing listed");
    let listeners = got
        .iter()
        .take_while(|s| s.state == TcpState::Listen)
        .count();
    assert_eq!(listeners, 2, "both listeners first");
    assert!(got[listeners..].iter().all(|s| s.state != TcpState::Listen));
    let mut want = listed.sockets.clone();
    want.sort_by_key(|s| s.cookie);
    got.sort_by_key(|s| s.cookie);
    assert_eq!(got, want, "the same sockets, owners included, once each");
    assert_eq!(snap.quality, listed.quality);
}
