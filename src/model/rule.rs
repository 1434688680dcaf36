//! The names of the detection rules: shared vocabulary of the configuration, the
//! explanations, the analysis that fires them and every face that shows them. Only the
//! names live here; what a rule measures lives in `analyze::detect`.

use serde::{Deserialize, Serialize};

use super::Protocol;

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
    /// A UDP socket (or process) drops datagrams, or its receive queue sits at its buffer.
    UdpDrops,
    /// A UNIX stream/seqpacket listener's pending connections reach its backlog.
    UnixAcceptOverflow,
    /// The namespace's conntrack table nears `nf_conntrack_max`, or drops entries.
    ConntrackFull,
    /// The ephemeral ports toward one destination from one source address run out.
    PortExhaustion,
}

impl RuleId {
    /// Every rule.
    pub const ALL: [RuleId; 10] = [
        RuleId::CloseWaitLeak,
        RuleId::SynFlood,
        RuleId::AcceptQueueOverflow,
        RuleId::TimeWaitStorm,
        RuleId::FinWait2Buildup,
        RuleId::Orphans,
        RuleId::UdpDrops,
        RuleId::UnixAcceptOverflow,
        RuleId::ConntrackFull,
        RuleId::PortExhaustion,
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
            RuleId::UdpDrops => "udp_drops",
            RuleId::UnixAcceptOverflow => "unix_accept_overflow",
            RuleId::ConntrackFull => "conntrack_full",
            RuleId::PortExhaustion => "port_exhaustion",
        }
    }

    /// The protocol whose sockets the rule judges, or `None` for a rule about a kernel
    /// table rather than sockets (`conntrack_full` counts flows, which outlive and
    /// outnumber the sockets behind them).
    pub fn protocol(self) -> Option<Protocol> {
        // Exhaustive on purpose: a new rule must say which sockets it is about.
        match self {
            RuleId::CloseWaitLeak
            | RuleId::SynFlood
            | RuleId::AcceptQueueOverflow
            | RuleId::TimeWaitStorm
            | RuleId::FinWait2Buildup
            | RuleId::Orphans
            | RuleId::PortExhaustion => Some(Protocol::Tcp),
            RuleId::UdpDrops => Some(Protocol::Udp),
            RuleId::UnixAcceptOverflow => Some(Protocol::Unix),
            RuleId::ConntrackFull => None,
        }
    }

    /// Parses a rule id.
    pub fn parse(s: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.as_str() == s)
    }
}
