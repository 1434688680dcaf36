//! What a drill-down opened ([`DetailTarget`]) and which sockets belong to it: the Detail
//! view lists exactly the sockets [`in_detail`] accepts.

use std::net::IpAddr;

use crate::analyze::finding::{Alert, Subject};
use crate::model::{
    listener_matches, Endpoint, Protocol, RuleId, SocketRecord, TcpState, UnixRecord,
};
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
    /// One TCP or UDP socket (by identity, so it survives ticks) and its owner's other
    /// sockets of the same protocol.
    Socket(SocketKey, Option<u32>),
    /// One UNIX socket (by inode) and its owner's other UNIX sockets.
    Unix(u64, Option<u32>),
}

/// The alert about `rule` and `subject` among `alerts`, matched by the subject's identity
/// ([`Subject::identity`]): a service finding whose pids changed is still the same alert.
pub fn current_alert<'a>(
    alerts: &'a [Alert],
    rule: RuleId,
    subject: &Subject,
) -> Option<&'a Alert> {
    let id = subject.identity();
    alerts
        .iter()
        .find(|a| a.finding.rule == rule && a.finding.subject.identity() == id)
}

/// `t` with a finding's subject as its alert has it now (a service's current pids), so
/// that the drill-down lists the sockets the finding is about today. Unchanged when the
/// alert has gone or `t` is not a finding.
pub fn refreshed(t: DetailTarget, alerts: &[Alert]) -> DetailTarget {
    match t {
        DetailTarget::Finding(rule, subject) => {
            let now = current_alert(alerts, rule, &subject).map(|a| a.finding.subject.clone());
            DetailTarget::Finding(rule, now.unwrap_or(subject))
        }
        other => other,
    }
}

/// The state a rule is about, when it is about one.
pub fn rule_state(rule: RuleId) -> Option<TcpState> {
    match rule {
        RuleId::CloseWaitLeak => Some(TcpState::CloseWait),
        RuleId::SynFlood => Some(TcpState::SynRecv),
        RuleId::TimeWaitStorm => Some(TcpState::TimeWait),
        RuleId::FinWait2Buildup => Some(TcpState::FinWait2),
        RuleId::AcceptQueueOverflow
        | RuleId::PortExhaustion
        | RuleId::Orphans
        | RuleId::UdpDrops
        | RuleId::UnixAcceptOverflow
        | RuleId::ConntrackFull => None,
    }
}

/// The protocol whose sockets a rule's finding is about; `None` for a finding about a
/// kernel table (`conntrack_full`), which lists no sockets.
pub fn rule_protocol(rule: RuleId) -> Option<Protocol> {
    rule.protocol()
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
        DetailTarget::Unix(..) => false,
        DetailTarget::Socket(key, pid) => match pid {
            Some(p) => s.owner.pid() == Some(*p),
            None => SocketKey::of(s) == *key,
        },
        DetailTarget::Finding(rule, subject) => {
            // A finding about no sockets (conntrack_full, a host-wide table) lists none,
            // not every one.
            let state_ok = rule_state(*rule).is_none_or(|st| s.state == st);
            state_ok
                && rule.protocol().is_some()
                && match subject {
                    Subject::Process { pid, .. } => s.owner.pid() == Some(*pid),
                    Subject::Service { pids, .. } => {
                        s.owner.pid().is_some_and(|p| pids.contains(&p))
                    }
                    // A UDP finding is about one process's sockets on that endpoint (an
                    // SO_REUSEPORT group, or mDNS shared by several daemons): never its
                    // neighbours'. A TCP listener's subject is every connection on its port.
                    Subject::Listener { local, pid, .. }
                        if rule.protocol() == Some(Protocol::Udp) =>
                    {
                        listener_matches(local, &s.local)
                            && pid.is_none_or(|p| s.owner.pid() == Some(p))
                    }
                    Subject::Listener { local, .. } => listener_matches(local, &s.local),
                    Subject::Destination { remote } => s.remote == *remote,
                    Subject::Route { source, remote } => {
                        s.remote == *remote && s.local.ip == *source
                    }
                    Subject::Host => true,
                    Subject::Unowned { orphaned } => {
                        crate::analyze::history::OwnerKey::of(s.owner, s.inode)
                            == Some(if *orphaned {
                                crate::analyze::history::OwnerKey::Orphaned
                            } else {
                                crate::analyze::history::OwnerKey::Unattributed
                            })
                    }
                    Subject::UnixListener { .. } => false,
                }
        }
    }
}

/// Does UNIX socket `s` belong to the drill-down `t`? A finding names a process or the
/// host; a UNIX listener is named by its owner (the Detail view shows its path).
pub fn in_unix_detail(t: &DetailTarget, s: &UnixRecord) -> bool {
    match t {
        DetailTarget::Process(pid) | DetailTarget::Unix(_, Some(pid)) => {
            s.owner.pid() == Some(*pid)
        }
        DetailTarget::Unix(inode, None) => s.inode == *inode,
        DetailTarget::State(st) => s.state == *st,
        DetailTarget::Finding(rule, _) if rule.protocol().is_none() => false,
        DetailTarget::Finding(_, subject) => match subject {
            Subject::Process { pid, .. } | Subject::Listener { pid: Some(pid), .. } => {
                s.owner.pid() == Some(*pid)
            }
            // The listener itself, and any other socket bound to its name (a rebind, or
            // its accepted connections, which carry the listener's name).
            Subject::UnixListener { inode, name, .. } => {
                s.inode == *inode || (name.is_some() && s.name == *name)
            }
            Subject::Service { pids, .. } => s.owner.pid().is_some_and(|p| pids.contains(&p)),
            Subject::Host => true,
            _ => false,
        },
        DetailTarget::Listener(_) | DetailTarget::Remote(_) | DetailTarget::Socket(..) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_rules_keep_their_states_and_protocol() {
        assert_eq!(rule_state(RuleId::CloseWaitLeak), Some(TcpState::CloseWait));
        assert_eq!(rule_state(RuleId::Orphans), None);
        assert_eq!(rule_protocol(RuleId::SynFlood), Some(Protocol::Tcp));
        assert_eq!(rule_protocol(RuleId::Orphans), Some(Protocol::Tcp));
        assert_eq!(rule_protocol(RuleId::PortExhaustion), Some(Protocol::Tcp));
        assert_eq!(rule_protocol(RuleId::ConntrackFull), None);
    }

    #[test]
    fn a_unix_socket_belongs_to_its_owner_or_its_inode() {
        let mut s = UnixRecord::new(crate::model::UnixKind::Stream, TcpState::Listen, 9);
        s.owner = crate::model::Owner::Process(7);
        assert!(in_unix_detail(&DetailTarget::Unix(1, Some(7)), &s));
        assert!(in_unix_detail(&DetailTarget::Unix(9, None), &s));
        assert!(!in_unix_detail(&DetailTarget::Unix(8, None), &s));
        assert!(in_unix_detail(&DetailTarget::Process(7), &s));
        assert!(!in_unix_detail(
            &DetailTarget::Remote("::1".parse().expect("ip")),
            &s
        ));
    }

    #[test]
    fn a_udp_finding_is_its_process_sockets_not_its_neighbours_on_the_port() {
        use crate::model::{Endpoint, Owner, SocketRecord};
        let sock = |pid| {
            SocketRecord::new(
                TcpState::Close,
                "0.0.0.0:5353".parse().expect("addr"),
                "0.0.0.0:0".parse().expect("addr"),
                Owner::Process(pid),
            )
        };
        let subject = Subject::Listener {
            local: Endpoint::new("0.0.0.0".parse().expect("ip"), 5353),
            pid: Some(7),
            comm: None,
            unit: None,
            container: None,
        };
        let udp = DetailTarget::Finding(RuleId::UdpDrops, subject.clone());
        assert!(in_detail(&udp, &sock(7)));
        assert!(
            !in_detail(&udp, &sock(8)),
            "another daemon on the same port"
        );
        // A TCP listener's finding still spans every connection on its port.
        let tcp = DetailTarget::Finding(RuleId::AcceptQueueOverflow, subject);
        assert!(in_detail(&tcp, &sock(8)));
    }
}
