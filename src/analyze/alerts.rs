//! The alert lifecycle: pending → firing → resolved, keyed by (rule, subject, netns).
//!
//! A finding opens a *pending* alert; it turns *firing* once the condition has held for the
//! rule's for-duration (at once when that is 0). A firing alert resolves only after
//! `clear_ticks` consecutive ticks without its finding, and detection already applies the
//! lowered `clear_ratio` level to active alerts: together they keep a value that hovers at
//! the threshold from flapping. A pending alert whose condition clears is dropped (it never
//! fired). Resolved alerts stay listed for `resolved_keep_s`, then go. Owns no detection
//! logic and reads no clock: time is the snapshot's `taken_at_ms`.
//!
//! The subject in a key is its [`Subject::identity`]: a service or container finding keeps
//! one alert (its since, its phase) across restarts that change its pids, while the alert
//! shows the latest finding, current pids and all.

use std::collections::{HashMap, HashSet};

use crate::analyze::finding::{Alert, AlertPhase, Finding, Subject};
use crate::config::Thresholds;
use crate::model::RuleId;

/// Identity of an alert: the rule, the subject's [`Subject::identity`], the namespace.
pub type AlertKey = (RuleId, Subject, String);

#[derive(Debug, Clone)]
struct Entry {
    alert: Alert,
    misses: u32,
}

/// Every alert that is pending, firing or recently resolved.
#[derive(Debug, Default)]
pub struct AlertBook {
    entries: HashMap<AlertKey, Entry>,
}

impl AlertBook {
    /// An empty book.
    pub fn new() -> AlertBook {
        AlertBook::default()
    }

    /// (rule, subject identity) pairs of pending and firing alerts in `netns`: detection
    /// applies the clear level to them.
    pub fn active(&self, netns: &str) -> HashSet<(RuleId, Subject)> {
        self.entries
            .iter()
            .filter(|(k, e)| k.2 == netns && e.alert.phase != AlertPhase::Resolved)
            .map(|(k, _)| (k.0, k.1.clone()))
            .collect()
    }

    /// Folds one tick's findings for `netns` in at time `now_ms`.
    pub fn update(&mut self, netns: &str, now_ms: i64, findings: &[Finding], th: &Thresholds) {
        let mut seen: HashSet<AlertKey> = HashSet::new();
        for f in findings {
            let key: AlertKey = (f.rule, f.subject.identity(), f.netns.clone());
            let for_ms = th.for_ms(f.rule);
            seen.insert(key.clone());
            match self.entries.get_mut(&key) {
                Some(e) if e.alert.phase != AlertPhase::Resolved => {
                    e.misses = 0;
                    e.alert.finding = f.clone();
                    if e.alert.phase == AlertPhase::Pending && now_ms - e.alert.since_ms >= for_ms {
                        e.alert.phase = AlertPhase::Firing;
                        e.alert.changed_ms = now_ms;
                    }
                }
                _ => {
                    let phase = if for_ms <= 0 {
                        AlertPhase::Firing
                    } else {
                        AlertPhase::Pending
                    };
                    let alert = Alert {
                        finding: f.clone(),
                        phase,
                        since_ms: now_ms,
                        changed_ms: now_ms,
                    };
                    self.entries.insert(key, Entry { alert, misses: 0 });
                }
            }
        }
        let keep_ms =
            i64::try_from(th.alerts.resolved_keep_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        let clear_ticks = th.alerts.clear_ticks.max(1);
        self.entries.retain(|k, e| {
            if k.2 != netns || seen.contains(k) {
                return true;
            }
            match e.alert.phase {
                AlertPhase::Pending => false,
                AlertPhase::Firing => {
                    e.misses += 1;
                    if e.misses >= clear_ticks {
                        e.alert.phase = AlertPhase::Resolved;
                        e.alert.changed_ms = now_ms;
                    }
                    true
                }
                AlertPhase::Resolved => now_ms - e.alert.changed_ms < keep_ms,
            }
        });
    }

    /// Alerts, firing first, then pending, then resolved; worst and biggest first within.
    pub fn alerts(&self) -> Vec<Alert> {
        let rank = |p: AlertPhase| match p {
            AlertPhase::Firing => 0,
            AlertPhase::Pending => 1,
            AlertPhase::Resolved => 2,
        };
        let mut v: Vec<Alert> = self.entries.values().map(|e| e.alert.clone()).collect();
        v.sort_by(|a, b| {
            rank(a.phase)
                .cmp(&rank(b.phase))
                .then(b.finding.severity.cmp(&a.finding.severity))
                .then(b.finding.count.cmp(&a.finding.count))
                .then(a.finding.rule.cmp(&b.finding.rule))
                .then(a.finding.subject.cmp(&b.finding.subject))
        });
        v
    }
}
