//! Per-state and per-rule explanations and remedies, in sockscope's own words (the domain
//! notes are the source of truth). Owns the texts and their lookup; findings reuse
//! [`remedy`] in their detail. Reads no kernel state itself: current sysctl values come in
//! as [`Sysctls`].

mod text;

use crate::model::RuleId;
use crate::model::{Sysctls, TcpState};
use text::{Topic, RULES, STATES};

/// Every topic `explain` knows: the eleven states (netstat spelling) and the rule ids.
pub fn topics() -> Vec<&'static str> {
    STATES.iter().chain(RULES).map(|t| t.name).collect()
}

/// Normalises a spelling: upper-case, `-` read as `_`.
fn norm(s: &str) -> String {
    s.trim().to_ascii_uppercase().replace('-', "_")
}

fn find(topic: &str) -> Option<&'static Topic> {
    let want = norm(topic);
    STATES
        .iter()
        .chain(RULES)
        .find(|t| norm(t.name) == want || t.aka.iter().any(|a| norm(a) == want))
}

/// The explanation of `topic`: a state in netstat (`CLOSE_WAIT`) or ss (`close-wait`)
/// spelling, case-insensitive, or a rule id (`close_wait_leak`). With `sysctls`, the
/// relevant settings of that namespace are appended with their current values. `None` for
/// an unknown topic.
pub fn explain(topic: &str, sysctls: Option<&Sysctls>) -> Option<String> {
    let t = find(topic)?;
    let mut out = format!("{}\n\n{}\n", t.name, t.body);
    if !t.sysctls.is_empty() {
        out.push_str("\nRelevant settings");
        match sysctls {
            Some(s) => {
                out.push_str(" in this namespace:\n");
                for name in t.sysctls {
                    let v = s.values.get(*name).map_or("(not read)", String::as_str);
                    out.push_str(&format!("  {name} = {v}\n"));
                }
            }
            None => {
                out.push_str(":\n");
                for name in t.sysctls {
                    out.push_str(&format!("  {name}\n"));
                }
            }
        }
    }
    Some(out)
}

/// The explanation of a state.
pub fn explain_state(state: TcpState, sysctls: Option<&Sysctls>) -> Option<String> {
    explain(state.netstat_name(), sysctls)
}

/// A rule's explanation and remedy, without sysctl values (findings carry those in their
/// metrics).
pub fn remedy(rule: RuleId) -> &'static str {
    RULES
        .iter()
        .find(|t| t.name == rule.as_str())
        .map_or("", |t| t.body)
}

#[cfg(test)]
mod tests {
    /// Every sysctl an explanation cites is one the collector reads, so no text ever
    /// shows "(not read)" for a value that exists.
    #[test]
    fn cited_sysctls_are_collected() {
        for t in super::text::STATES.iter().chain(super::text::RULES) {
            for name in t.sysctls {
                assert!(
                    crate::model::TCP_SYSCTLS.contains(name),
                    "{name} is cited but not in TCP_SYSCTLS"
                );
            }
        }
    }

    use super::*;

    #[test]
    fn every_state_in_both_spellings() {
        for s in TcpState::ALL {
            for name in [s.netstat_name(), s.ss_name()] {
                for spelled in [name.to_string(), name.to_lowercase(), name.to_uppercase()] {
                    let t = explain(&spelled, None);
                    assert!(t.is_some(), "no text for {spelled}");
                }
            }
            assert!(explain_state(s, None).is_some());
        }
        assert!(explain("NEW_SYN_RECV", None)
            .unwrap()
            .contains("request sockets"));
        assert!(explain("fin_wait_2", None).is_some());
    }

    #[test]
    fn every_rule_and_nothing_else() {
        for r in RuleId::ALL {
            assert!(explain(r.as_str(), None).is_some(), "{}", r.as_str());
            assert!(!remedy(r).is_empty());
        }
        assert_eq!(topics().len(), 11 + RuleId::ALL.len());
        assert!(explain("bogus", None).is_none());
        assert!(explain("", None).is_none());
    }

    #[test]
    fn udp_and_unix_rules_cite_this_hosts_buffers_and_backlog_cap() {
        let mut s = Sysctls::default();
        for (k, v) in [
            ("net.core.rmem_max", "4194304"),
            ("net.core.rmem_default", "212992"),
            ("net.core.somaxconn", "4096"),
        ] {
            s.values.insert(k.into(), v.into());
        }
        let t = explain("udp-drops", Some(&s)).unwrap();
        assert!(t.starts_with("udp_drops\n"), "{t}");
        assert!(t.contains("  net.core.rmem_max = 4194304\n"), "{t}");
        assert!(t.contains("  net.core.rmem_default = 212992\n"), "{t}");
        assert!(
            t.contains("SO_REUSEPORT") && t.contains("RcvbufErrors"),
            "{t}"
        );
        let t = explain("UNIX-ACCEPT-OVERFLOW", Some(&s)).unwrap();
        assert!(t.starts_with("unix_accept_overflow\n"), "{t}");
        assert!(t.contains("  net.core.somaxconn = 4096\n"), "{t}");
        assert!(
            t.contains("  net.unix.max_dgram_qlen = (not read)\n"),
            "{t}"
        );
        assert!(t.contains("backlog + 1") && t.contains("EAGAIN"), "{t}");
        assert!(t.contains("/proc/net/unix have no queue lengths"), "{t}");
        // Findings carry the same remedy.
        assert!(remedy(RuleId::UdpDrops).contains("net.core.rmem_max"));
        assert!(remedy(RuleId::UnixAcceptOverflow).contains("net.core.somaxconn"));
    }

    #[test]
    fn port_exhaustion_cites_the_range_the_reserved_ports_and_the_formula() {
        let mut s = Sysctls::default();
        for (k, v) in [
            ("net.ipv4.ip_local_port_range", "32768 60999"),
            ("net.ipv4.ip_local_reserved_ports", "8080,9000-9010"),
            ("net.ipv4.tcp_tw_reuse", "2"),
        ] {
            s.values.insert(k.into(), v.into());
        }
        let t = explain("port-exhaustion", Some(&s)).unwrap();
        assert!(t.starts_with("port_exhaustion\n"), "{t}");
        assert!(
            t.contains("  net.ipv4.ip_local_reserved_ports = 8080,9000-9010\n"),
            "{t}"
        );
        assert!(
            t.contains("  net.ipv4.tcp_timestamps = (not read)\n"),
            "{t}"
        );
        assert!(
            t.contains("A + 60·r") && t.contains("(usable − held) / r"),
            "{t}"
        );
        assert!(t.contains("steady at N of M"), "{t}");
        assert!(remedy(RuleId::PortExhaustion).contains("keep-alive"));
    }

    #[test]
    fn sysctl_values_are_shown_and_recycle_never_suggested() {
        let mut s = Sysctls::default();
        s.values
            .insert("net.ipv4.tcp_fin_timeout".into(), "30".into());
        let t = explain("fin-wait-2", Some(&s)).unwrap();
        assert!(t.contains("net.ipv4.tcp_fin_timeout = 30"), "{t}");
        let t = explain("time_wait", Some(&s)).unwrap();
        assert!(t.contains("net.ipv4.tcp_tw_reuse = (not read)"), "{t}");
        for topic in topics() {
            let t = explain(topic, None).unwrap();
            assert!(
                !t.contains("tcp_tw_recycle=1") && !t.contains("enable tcp_tw_recycle"),
                "{topic}"
            );
        }
    }
}
