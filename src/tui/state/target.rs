//! What a drill-down opened ([`DetailTarget`]) and which sockets belong to it: the Detail
//! view lists exactly the sockets [`in_detail`] accepts.

use std::net::IpAddr;

use crate::analyze::finding::Subject;
use crate::model::{listener_matches, Endpoint, RuleId, SocketRecord, TcpState};
use crate::tui::state::history::SocketKey;

/// What a drill-down opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetailTarget {
    /// A process's sockets.
    Process(u32),
    /// A listener's SYN_RECV and accepted sockets.
    Listener(Endpoint),
    /// Sockets to one remote address.
    Remote(IpAddr),
    /// Sockets in one state.
    State(TcpState),
    /// A finding (by rule and subject, so it survives ticks) and its subject's sockets.
    Finding(RuleId, Subject),
    /// One socket (by identity, so it survives ticks) and its owner's other sockets.
    Socket(SocketKey, Option<u32>),
}

/// The state a rule is about, when it is about one.
pub fn rule_state(rule: RuleId) -> Option<TcpState> {
    match rule {
        RuleId::CloseWaitLeak => Some(TcpState::CloseWait),
        RuleId::SynFlood => Some(TcpState::SynRecv),
        RuleId::TimeWaitStorm => Some(TcpState::TimeWait),
        RuleId::FinWait2Buildup => Some(TcpState::FinWait2),
        RuleId::AcceptQueueOverflow
        | RuleId::Orphans
        | RuleId::UdpDrops
        | RuleId::UnixAcceptOverflow => None,
    }
}

/// Does socket `s` belong to the drill-down `t`?
pub fn in_detail(t: &DetailTarget, s: &SocketRecord) -> bool {
    match t {
        DetailTarget::Process(pid) => s.owner.pid() == Some(*pid),
        DetailTarget::Listener(ep) => listener_matches(ep, &s.local),
        DetailTarget::Remote(ip) => {
            s.remote.ip == *ip && !matches!(s.state, TcpState::Listen | TcpState::Close)
        }
        DetailTarget::State(st) => s.state == *st,
        DetailTarget::Socket(key, pid) => match pid {
            Some(p) => s.owner.pid() == Some(*p),
            None => SocketKey::of(s) == *key,
        },
        DetailTarget::Finding(rule, subject) => {
            let state_ok = rule_state(*rule).is_none_or(|st| s.state == st);
            state_ok
                && match subject {
                    Subject::Process { pid, .. } => s.owner.pid() == Some(*pid),
                    Subject::Listener { local, .. } => listener_matches(local, &s.local),
                    Subject::Destination { remote } => s.remote == *remote,
                    Subject::Host => true,
                    Subject::UnixListener { .. } => false,
                }
        }
    }
}
