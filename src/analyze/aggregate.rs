//! Counting: per state, per process × state, per listener × state and per remote address
//! × state. Pure functions over a [`Snapshot`]; no I/O, no presentation.

use std::net::IpAddr;

use super::fold::SummaryFold;
use crate::model::{
    Endpoint, Name, ProcessInfo, Snapshot, SocketRecord, SocketSink, StateCounts, TcpState,
};

/// Counts for one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRow {
    /// The process.
    pub process: ProcessInfo,
    /// Its sockets per state (SYN_RECV via its listeners included).
    pub states: StateCounts,
}

/// A listening socket and the connections arriving on its port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerRow {
    /// Local address and port it listens on.
    pub local: Endpoint,
    /// Owning pid, when attributed.
    pub pid: Option<u32>,
    /// Owning command, when attributed.
    pub comm: Option<Name>,
    /// The backlog (Send-Q of a LISTEN socket).
    pub backlog: u32,
    /// Connections waiting in the accept queue (Recv-Q of a LISTEN socket).
    pub accept_queue: u32,
    /// Sockets on this listener's local address and port, per state (SYN_RECV, and the
    /// accepted connections' states).
    pub states: StateCounts,
    /// Distinct source prefixes (/24 for IPv4, /64 for IPv6) of its SYN_RECV sockets: many
    /// of them at a full queue is the mark of a (spoofed) flood.
    pub syn_sources: u64,
}

impl ListenerRow {
    /// Half-open connections on this listener.
    pub fn syn_recv(&self) -> u64 {
        self.states.get(TcpState::SynRecv)
    }
}

/// Counts for one remote address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRow {
    /// The remote address (normalised).
    pub ip: IpAddr,
    /// Sockets to it, per state.
    pub states: StateCounts,
}

/// All the per-group counts of one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Aggregate {
    /// Sockets per state.
    pub states: StateCounts,
    /// Processes, most sockets first.
    pub processes: Vec<ProcessRow>,
    /// Listeners, most SYN_RECV then most accept queue first.
    pub listeners: Vec<ListenerRow>,
    /// Remote addresses (listeners excluded), most sockets first.
    pub remotes: Vec<RemoteRow>,
    /// Sockets with no owner by design (TIME_WAIT, request sockets without a listener).
    pub ownerless: u64,
    /// Sockets owned by a process procfs would not name.
    pub unattributed: u64,
}

/// Computes every grouping of `snap`: the streaming [`SummaryFold`] run over the
/// materialised list, listeners first as its contract asks.
pub fn aggregate(snap: &Snapshot) -> Aggregate {
    let mut fold = SummaryFold::new();
    let listening = |s: &&SocketRecord| s.state == TcpState::Listen;
    for s in snap.sockets.iter().filter(listening) {
        fold.push(s);
    }
    for s in snap.sockets.iter().filter(|s| !listening(s)) {
        fold.push(s);
    }
    fold.finish(&snap.processes)
}

/// The /24 (IPv4) or /64 (IPv6) a source address belongs to, as one comparable number.
pub fn source_prefix(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4) & 0xFFFF_FF00),
        // Tagged so a v6 /64 never equals a v4 /24.
        IpAddr::V6(v6) => (u128::from(v6) >> 64) | (1u128 << 127),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{snapshot, sock};
    use crate::model::*;

    #[test]
    fn groups_by_process_listener_and_remote() {
        let mut l = sock(
            TcpState::Listen,
            "0.0.0.0:80",
            "0.0.0.0:0",
            Owner::Process(42),
        );
        l.send_q = 128;
        l.recv_q = 3;
        let snap = snapshot(vec![
            l,
            sock(
                TcpState::CloseWait,
                "10.0.0.1:80",
                "10.0.0.9:5000",
                Owner::Process(42),
            ),
            sock(
                TcpState::CloseWait,
                "10.0.0.1:80",
                "10.0.0.9:5001",
                Owner::Process(42),
            ),
            sock(
                TcpState::SynRecv,
                "10.0.0.1:80",
                "10.0.0.7:6000",
                Owner::ViaListener(42),
            ),
            sock(
                TcpState::TimeWait,
                "10.0.0.1:40000",
                "10.0.0.8:443",
                Owner::Ownerless,
            ),
            sock(
                TcpState::Established,
                "10.0.0.1:22",
                "10.0.0.6:50000",
                Owner::Unattributed,
            ),
        ]);
        let a = aggregate(&snap);
        assert_eq!(a.states.total(), 6);
        assert_eq!(a.ownerless, 1);
        assert_eq!(a.unattributed, 1);
        assert_eq!(a.processes.len(), 1);
        assert_eq!(a.processes[0].states.get(TcpState::CloseWait), 2);
        assert_eq!(a.processes[0].states.get(TcpState::SynRecv), 1);
        assert_eq!(a.listeners.len(), 1);
        let row = &a.listeners[0];
        assert_eq!((row.backlog, row.accept_queue, row.syn_recv()), (128, 3, 1));
        assert_eq!(row.comm, Some(Name::from("java")));
        assert_eq!(row.states.get(TcpState::CloseWait), 2);
        assert_eq!(a.remotes[0].ip.to_string(), "10.0.0.9");
        assert_eq!(a.remotes[0].states.get(TcpState::CloseWait), 2);
    }

    #[test]
    fn syn_sources_count_distinct_prefixes() {
        let snap = snapshot(vec![
            sock(
                TcpState::Listen,
                "0.0.0.0:80",
                "0.0.0.0:0",
                Owner::Process(42),
            ),
            sock(
                TcpState::SynRecv,
                "10.0.0.1:80",
                "10.9.0.7:6000",
                Owner::ViaListener(42),
            ),
            sock(
                TcpState::SynRecv,
                "10.0.0.1:80",
                "10.9.0.8:6001",
                Owner::ViaListener(42),
            ),
            sock(
                TcpState::SynRecv,
                "10.0.0.1:80",
                "10.9.1.9:6002",
                Owner::ViaListener(42),
            ),
            sock(
                TcpState::SynRecv,
                "10.0.0.1:80",
                "[2001:db8::1]:6003",
                Owner::ViaListener(42),
            ),
            sock(
                TcpState::Established,
                "10.0.0.1:80",
                "10.9.2.1:6004",
                Owner::Process(42),
            ),
        ]);
        let row = &aggregate(&snap).listeners[0];
        assert_eq!((row.syn_recv(), row.syn_sources), (4, 3));
    }

    #[test]
    fn exact_listener_beats_wildcard() {
        let socks = vec![
            sock(
                TcpState::Listen,
                "0.0.0.0:80",
                "0.0.0.0:0",
                Owner::Process(1),
            ),
            sock(
                TcpState::Listen,
                "127.0.0.2:80",
                "0.0.0.0:0",
                Owner::Process(2),
            ),
        ];
        let idx = ListenerIndex::new(&socks);
        let hit = idx.find(&Endpoint::new("127.0.0.2".parse().unwrap(), 80));
        assert_eq!(hit.map(|l| l.owner), Some(Owner::Process(2)));
        let hit = idx.find(&Endpoint::new("127.0.0.3".parse().unwrap(), 80));
        assert_eq!(hit.map(|l| l.owner), Some(Owner::Process(1)));
        assert!(idx
            .find(&Endpoint::new("127.0.0.3".parse().unwrap(), 81))
            .is_none());
    }
}
