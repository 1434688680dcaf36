//! `conntrack_full` over hand-built snapshot pairs: fill thresholds, drops growing between
//! samples, a first sample holding old drops, hysteresis, and the absent module.

use crate::analyze::engine::Analyzer;
use crate::analyze::finding::{Finding, Severity, Subject};
use crate::config::Thresholds;
use crate::model::fixtures::{snapshot, sock};
use crate::model::*;

fn snap(t_ms: i64, count: u64, max: u64, drop: u64, sockets: Vec<SocketRecord>) -> Snapshot {
    let mut s = snapshot(sockets);
    s.taken_at_ms = t_ms;
    s.counters = Some(KernelCounters {
        conntrack: Some(Conntrack {
            count,
            max: Some(max),
            buckets: Some(max / 4),
            stats: [
                ("found".to_string(), 100),
                ("drop".to_string(), drop),
                ("early_drop".to_string(), 0),
                ("insert_failed".to_string(), 0),
            ]
            .into(),
            cpus: 2,
            dropped_stats: 0,
        }),
        ..KernelCounters::default()
    });
    s
}

fn conntrack(fs: &[Finding]) -> Option<&Finding> {
    let v: Vec<&Finding> = fs
        .iter()
        .filter(|f| f.rule == RuleId::ConntrackFull)
        .collect();
    assert!(v.len() <= 1, "{fs:#?}");
    v.first().copied()
}

#[test]
fn below_the_warning_fill_is_quiet() {
    let an = Analyzer::new().observe(&snap(1_000, 79, 100, 0, vec![]));
    assert!(conntrack(&an.findings).is_none(), "{:#?}", an.findings);
}

#[test]
fn fill_thresholds_make_warning_then_critical() {
    let an = Analyzer::new().observe(&snap(1_000, 80, 100, 0, vec![]));
    let f = conntrack(&an.findings).unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.subject, Subject::Host);
    assert_eq!(f.count, 80);
    assert_eq!(f.metrics["fill"], 0.8);
    assert_eq!(f.metrics["max"], 100.0);
    assert!(
        f.message.starts_with("conntrack 80/100 (80%)"),
        "{}",
        f.message
    );

    let an = Analyzer::new().observe(&snap(1_000, 97, 100, 0, vec![]));
    let f = conntrack(&an.findings).unwrap();
    assert_eq!(f.severity, Severity::Critical);
    assert!(
        f.detail.contains("Fired because the table is 97% full"),
        "{}",
        f.detail
    );
    assert!(f.detail.contains("nf_conntrack_max"), "remedy appended");
}

#[test]
fn drops_growing_between_samples_are_critical_at_any_fill() {
    let mut a = Analyzer::new();
    let first = a.observe(&snap(1_000, 10, 1000, 5, vec![]));
    assert!(
        conntrack(&first.findings).is_none(),
        "old drops on a first sample are history, not a rate"
    );
    let an = a.observe(&snap(3_000, 50, 1000, 25, vec![]));
    let f = conntrack(&an.findings).unwrap();
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.metrics["rate.conntrack.drop"], 10.0);
    assert_eq!(f.metrics["entries_per_s"], 20.0);
    assert_eq!(f.metrics["drop_total"], 25.0);
    assert!(
        f.message
            .contains("10 dropped/s — new connections are being dropped"),
        "{}",
        f.message
    );
    assert!(
        f.detail.contains("drop 10/s, early_drop 0/s"),
        "{}",
        f.detail
    );
    assert!(
        f.detail.contains("full in about 48 s at this rate"),
        "{}",
        f.detail
    );

    // Unchanged counters on the next sample: no refusal, and 5% full: quiet.
    let an = a.observe(&snap(5_000, 50, 1000, 25, vec![]));
    assert!(conntrack(&an.findings).is_none(), "{:#?}", an.findings);
}

/// `snap` with `early_drop` and `insert_failed` set instead of `drop`.
fn snap_other(t_ms: i64, early_drop: u64, insert_failed: u64) -> Snapshot {
    let mut s = snap(t_ms, 50, 1000, 0, vec![]);
    if let Some(ct) = s.counters.as_mut().and_then(|c| c.conntrack.as_mut()) {
        ct.stats.insert("early_drop".into(), early_drop);
        ct.stats.insert("insert_failed".into(), insert_failed);
    }
    s
}

/// `early_drop` growth evicted an unassured entry to admit the new one: pressure, a
/// warning in its own words, never "new connections are being dropped".
#[test]
fn early_drop_growth_is_a_pressure_warning_not_dropping() {
    let mut a = Analyzer::new();
    a.observe(&snap_other(1_000, 0, 0));
    let an = a.observe(&snap_other(3_000, 40, 0));
    let f = conntrack(&an.findings).expect("early_drop warns");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.contains("20 evicted/s — under pressure"),
        "{}",
        f.message
    );
    assert!(!f.message.contains("being dropped"), "{}", f.message);
    assert!(f.detail.contains("(early_drop)"), "{}", f.detail);
}

/// `insert_failed` is mostly the UDP DNS clash race: quiet below its own rate, a warning
/// above it, never critical and never "dropped".
#[test]
fn insert_failed_warns_only_past_its_own_rate() {
    let mut a = Analyzer::new();
    a.observe(&snap_other(1_000, 0, 0));
    let an = a.observe(&snap_other(3_000, 0, 10));
    assert!(
        conntrack(&an.findings).is_none(),
        "5/s < 10/s: {:#?}",
        an.findings
    );
    let an = a.observe(&snap_other(5_000, 0, 110));
    let f = conntrack(&an.findings).expect("50/s > 10/s");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("50 insert_failed/s"), "{}", f.message);
    assert!(!f.message.contains("being dropped"), "{}", f.message);
    assert!(
        f.detail.contains("warn_insert_failed_rate 10"),
        "{}",
        f.detail
    );
}

#[test]
fn a_drop_rate_threshold_lets_slow_refusals_pass() {
    let mut th = Thresholds::default();
    th.conntrack_full.crit_drop_rate = 50.0;
    let mut a = Analyzer::with_thresholds(th);
    a.observe(&snap(1_000, 10, 1000, 0, vec![]));
    let an = a.observe(&snap(2_000, 10, 1000, 20, vec![]));
    assert!(conntrack(&an.findings).is_none(), "20/s ≤ 50/s");
}

#[test]
fn a_reset_counter_is_no_refusal() {
    let mut a = Analyzer::new();
    a.observe(&snap(1_000, 10, 1000, 500, vec![]));
    let an = a.observe(&snap(2_000, 10, 1000, 3, vec![]));
    assert!(conntrack(&an.findings).is_none(), "{:#?}", an.findings);
}

#[test]
fn the_detail_names_the_sockets_that_hold_entries() {
    let tw: Vec<SocketRecord> = (0..3)
        .map(|i| {
            sock(
                TcpState::TimeWait,
                "10.0.0.1:40000",
                &format!("10.0.0.9:{}", 80 + i),
                Owner::Ownerless,
            )
        })
        .collect();
    let an = Analyzer::new().observe(&snap(1_000, 90, 100, 0, tw));
    let f = conntrack(&an.findings).unwrap();
    assert!(
        f.detail.contains("3 TIME_WAIT, 0 SYN_RECV, 0 ESTABLISHED"),
        "{}",
        f.detail
    );
    assert!(f.detail.contains("Hash buckets: 25"), "{}", f.detail);
}

#[test]
fn no_table_no_finding() {
    let mut s = snapshot(vec![]);
    s.counters = Some(KernelCounters {
        conntrack_absent: Some("nf_conntrack is not loaded".into()),
        ..KernelCounters::default()
    });
    assert!(conntrack(&Analyzer::new().observe(&s).findings).is_none());
}

#[test]
fn an_active_alert_clears_only_below_the_lowered_fill() {
    let mut a = Analyzer::new();
    let an = a.observe(&snap(1_000, 85, 100, 0, vec![]));
    assert!(conntrack(&an.findings).is_some());
    // 79% is under the warning fill but over 80% × clear_ratio: the alert holds.
    let an = a.observe(&snap(2_000, 79, 100, 0, vec![]));
    let ratio = Thresholds::default().alerts.clear_ratio;
    assert_eq!(conntrack(&an.findings).is_some(), 0.79 >= 0.8 * ratio);
}
