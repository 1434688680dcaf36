//! [`Sysctls`]: the kernel settings the verdicts cite, as read in the collected namespace,
//! and [`TCP_SYSCTLS`], the list of them. Plain data: reading them belongs to
//! `collect::sysctl`, citing them to `analyze`. No I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The sysctls shown next to verdicts, as dotted names: TCP's, and the UDP and UNIX ones
/// their verdicts cite (the name stays for its users in `collect`).
pub const TCP_SYSCTLS: &[&str] = &[
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_max_syn_backlog",
    "net.core.somaxconn",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_synack_retries",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_orphan_retries",
    "net.ipv4.tcp_syn_retries",
    "net.core.rmem_max",
    "net.core.rmem_default",
    "net.unix.max_dgram_qlen",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_buckets",
    "net.netfilter.nf_conntrack_tcp_timeout_time_wait",
    "net.netfilter.nf_conntrack_tcp_timeout_established",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_timestamps",
];

/// The sysctls the verdicts cite, read in the collected namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sysctls {
    /// Raw values by dotted name (`net.ipv4.tcp_fin_timeout`), whitespace-normalised.
    pub values: BTreeMap<String, String>,
}

impl Sysctls {
    /// A single integer sysctl.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.values.get(name)?.trim().parse().ok()
    }

    /// The ephemeral port range `(low, high)` from `net.ipv4.ip_local_port_range`.
    pub fn port_range(&self) -> Option<(u16, u16)> {
        let v = self.values.get("net.ipv4.ip_local_port_range")?;
        let mut it = v.split_whitespace().map(str::parse::<u16>);
        match (it.next(), it.next()) {
            (Some(Ok(lo)), Some(Ok(hi))) if lo <= hi => Some((lo, hi)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_range_parses_tab_separated() {
        let mut s = Sysctls::default();
        s.values
            .insert("net.ipv4.ip_local_port_range".into(), "32768\t60999".into());
        assert_eq!(s.port_range(), Some((32768, 60999)));
    }
}
