//! What detection reports: a [`Finding`] (one rule firing on one subject, with the numbers
//! behind it) and an [`Alert`] (a finding's lifecycle: pending → firing → resolved).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Endpoint;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Needs attention.
    Warning,
    /// Needs attention now.
    Critical,
}

/// The detection rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    /// A process accumulates CLOSE_WAIT sockets.
    CloseWaitLeak,
    /// A listener receives more SYNs than it completes.
    SynFlood,
    /// A listener's application accepts too slowly.
    AcceptQueueOverflow,
    /// TIME_WAIT exhausts ports to a destination, or the global bucket cap.
    TimeWaitStorm,
    /// FIN_WAIT2 sockets pile up (peers that never close).
    FinWait2Buildup,
    /// Orphaned sockets approach tcp_max_orphans.
    Orphans,
}

impl RuleId {
    /// Every rule.
    pub const ALL: [RuleId; 6] = [
        RuleId::CloseWaitLeak,
        RuleId::SynFlood,
        RuleId::AcceptQueueOverflow,
        RuleId::TimeWaitStorm,
        RuleId::FinWait2Buildup,
        RuleId::Orphans,
    ];

    /// The rule id as users type it.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::CloseWaitLeak => "close_wait_leak",
            RuleId::SynFlood => "syn_flood",
            RuleId::AcceptQueueOverflow => "accept_queue_overflow",
            RuleId::TimeWaitStorm => "time_wait_storm",
            RuleId::FinWait2Buildup => "fin_wait2_buildup",
            RuleId::Orphans => "orphans",
        }
    }

    /// Parses a rule id.
    pub fn parse(s: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A process.
    Process {
        /// Process id.
        pid: u32,
        /// Command name.
        comm: String,
        /// User name.
        user: String,
    },
    /// A listening endpoint and its owner.
    Listener {
        /// Local address and port.
        local: Endpoint,
        /// Owning pid, when attributed.
        pid: Option<u32>,
        /// Owning command, when attributed.
        comm: Option<String>,
    },
    /// A remote destination ip:port.
    Destination {
        /// The destination.
        remote: Endpoint,
    },
    /// The whole host (namespace).
    Host,
}

/// One rule firing on one subject, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule.
    pub rule: RuleId,
    /// Its severity.
    pub severity: Severity,
    /// What it is about.
    pub subject: Subject,
    /// Network namespace the subject lives in.
    pub netns: String,
    /// The count the rule measured (sockets, or a rate for counter-only rules).
    pub count: u64,
    /// Growth of `count` per minute over the history window, when known.
    pub growth_per_min: Option<f64>,
    /// Age of the oldest socket involved, in seconds, when known.
    pub oldest_age_s: Option<u64>,
    /// The threshold that was crossed.
    pub threshold: f64,
    /// Further numbers: counter rates, sysctl values, peers (name → value).
    pub metrics: BTreeMap<String, f64>,
    /// A one-line message.
    pub message: String,
    /// A longer explanation with the remedy.
    pub detail: String,
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertPhase {
    /// The condition holds but not yet for the for-duration.
    Pending,
    /// The condition has held for the for-duration.
    Firing,
    /// The condition cleared (past hysteresis).
    Resolved,
}

/// A finding's lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The latest finding for this rule and subject.
    pub finding: Finding,
    /// Current phase.
    pub phase: AlertPhase,
    /// When the condition was first seen (ms since the epoch).
    pub since_ms: i64,
    /// When the phase last changed (ms since the epoch).
    pub changed_ms: i64,
}
