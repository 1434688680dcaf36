//! Counting for UDP and UNIX sockets, the way [`super::aggregate`] counts TCP: per state, per
//! process, per UNIX socket type, plus the drops and queues their verdicts read. One
//! [`ProtoAggregate`] per protocol, so the summary, the dashboard and the Prometheus endpoint
//! show the same numbers. Pure over a [`Snapshot`]; no I/O, no presentation.

use std::collections::HashMap;

use crate::model::{
    Name, Owner, ProcessInfo, Protocol, Snapshot, StateCounts, TcpState, UnixKind, UnixName,
};

/// One process's sockets of one protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoProcessRow {
    /// The process (`?` for a pid the snapshot has no details of).
    pub process: ProcessInfo,
    /// Its sockets per state.
    pub states: StateCounts,
    /// UDP: drops summed over its sockets (since each socket was created).
    pub drops: u64,
    /// Receive queues summed over its sockets, in bytes (UNIX listeners' pending
    /// connections are not bytes and are left out; queues /proc/net/unix does not give
    /// count nothing, so faces show the sum only when every queue was known).
    pub recv_q: u64,
}

/// A UNIX listener and its accept queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixListenerRow {
    /// Where it is bound; `None` for an unnamed listener (rare, but the kernel allows it).
    pub name: Option<UnixName>,
    /// Stream or seqpacket.
    pub kind: UnixKind,
    /// Its inode.
    pub inode: u64,
    /// Owning pid, when attributed.
    pub pid: Option<u32>,
    /// Owning command, when attributed.
    pub comm: Option<Name>,
    /// Connections waiting to be accepted; `None` from /proc/net/unix.
    pub pending: Option<u32>,
    /// The listen backlog; `None` from /proc/net/unix.
    pub backlog: Option<u32>,
}

/// The sockets of one kind no process holds ([`Owner::Unattributed`],
/// [`Owner::Ownerless`] or [`Owner::Unresolved`]), so per-process tables can end with rows
/// that make them add up to the total, state by state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnheldRow {
    /// Which kind.
    pub owner: Owner,
    /// Its sockets per state.
    pub states: StateCounts,
    /// UDP drops summed over them.
    pub drops: u64,
    /// Receive queues summed over them.
    pub recv_q: u64,
}

/// Every count of one protocol in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoAggregate {
    /// Which protocol.
    pub protocol: Protocol,
    /// Whether the snapshot collected it (an uncollected protocol has all zeros, which
    /// must not be shown as "no sockets").
    pub collected: bool,
    /// Sockets per state.
    pub states: StateCounts,
    /// Processes, most sockets first (ties by pid).
    pub processes: Vec<ProtoProcessRow>,
    /// Sockets with no owner by design (TIME_WAIT, request sockets; TCP only).
    pub ownerless: u64,
    /// Sockets owned by a process procfs would not name.
    pub unattributed: u64,
    /// UDP: drops summed over every socket (per-socket counters since creation).
    pub drops: u64,
    /// UNIX: sockets per type, indexed stream, dgram, seqpacket.
    pub unix_kinds: [u64; 3],
    /// UNIX: listeners, fullest accept queue (pending/backlog) first.
    pub unix_listeners: Vec<UnixListenerRow>,
    /// The sockets no process holds, per kind (unattributed, ownerless, unresolved; only
    /// the kinds present). Empty when counted from a recording without its socket list.
    pub unheld: Vec<UnheldRow>,
}

impl ProtoAggregate {
    /// All sockets of this protocol.
    pub fn total(&self) -> u64 {
        self.states.total()
    }
}

fn unix_kind_index(k: UnixKind) -> usize {
    match k {
        UnixKind::Stream => 0,
        UnixKind::Dgram => 1,
        UnixKind::SeqPacket => 2,
    }
}

#[derive(Default)]
struct Tally {
    states: StateCounts,
    drops: u64,
    recv_q: u64,
}

/// Counts `proto` in `snap`. TCP is counted from [`Snapshot::sockets`] with the same owner
/// rules as [`super::aggregate::aggregate`] (so its numbers agree with the TCP tables).
pub fn aggregate_proto(snap: &Snapshot, proto: Protocol) -> ProtoAggregate {
    let mut agg = ProtoAggregate {
        protocol: proto,
        collected: snap.protocols.contains(proto),
        states: StateCounts::default(),
        processes: Vec::new(),
        ownerless: 0,
        unattributed: 0,
        drops: 0,
        unix_kinds: [0; 3],
        unix_listeners: Vec::new(),
        unheld: Vec::new(),
    };
    let mut procs: HashMap<u32, Tally> = HashMap::new();
    // Unattributed, ownerless, unresolved.
    let mut unheld: [Tally; 3] = Default::default();
    let mut count = |agg: &mut ProtoAggregate, owner: Owner, state, drops: u64, recv_q: u64| {
        agg.states.add(state);
        agg.drops += drops;
        match owner {
            Owner::Process(pid) | Owner::ViaListener(pid) => {
                let t = procs.entry(pid).or_default();
                t.states.add(state);
                t.drops += drops;
                t.recv_q += recv_q;
            }
            Owner::Unattributed | Owner::Ownerless | Owner::Unresolved => {
                let i = match owner {
                    Owner::Unattributed => {
                        agg.unattributed += 1;
                        0
                    }
                    Owner::Ownerless => {
                        agg.ownerless += 1;
                        1
                    }
                    _ => 2,
                };
                let t = &mut unheld[i];
                t.states.add(state);
                t.drops += drops;
                t.recv_q += recv_q;
            }
        }
    };
    match proto {
        Protocol::Tcp | Protocol::Udp => {
            let list = if proto == Protocol::Tcp {
                &snap.sockets
            } else {
                &snap.udp
            };
            for s in list {
                let drops = s.skmem.map_or(0, |m| u64::from(m.drops));
                count(&mut agg, s.owner, s.state, drops, u64::from(s.recv_q));
            }
        }
        Protocol::Unix => {
            for s in &snap.unix {
                agg.unix_kinds[unix_kind_index(s.kind)] += 1;
                // A listener's Recv-Q is its pending connections, not bytes: those are in
                // `unix_listeners`, never summed with the bytes of connected sockets.
                let q = match s.state {
                    TcpState::Listen => 0,
                    _ => s.recv_q.map_or(0, u64::from),
                };
                count(&mut agg, s.owner, s.state, 0, q);
                if s.state == TcpState::Listen {
                    let pid = s.owner.pid();
                    agg.unix_listeners.push(UnixListenerRow {
                        name: s.name.clone(),
                        kind: s.kind,
                        inode: s.inode,
                        pid,
                        comm: pid
                            .and_then(|p| snap.processes.get(&p))
                            .map(|p| p.comm.clone()),
                        pending: s.recv_q,
                        backlog: s.send_q,
                    });
                }
            }
        }
    }
    let kinds = [Owner::Unattributed, Owner::Ownerless, Owner::Unresolved];
    agg.unheld = kinds
        .into_iter()
        .zip(unheld)
        .filter(|(_, t)| t.states.total() > 0)
        .map(|(owner, t)| UnheldRow {
            owner,
            states: t.states,
            drops: t.drops,
            recv_q: t.recv_q,
        })
        .collect();
    agg.processes = procs
        .into_iter()
        .map(|(pid, t)| ProtoProcessRow {
            process: snap.processes.get(&pid).cloned().unwrap_or(ProcessInfo {
                pid,
                comm: Name::from("?"),
                uid: 0,
                user: Name::from("?"),
                unit: None,
                container: None,
            }),
            states: t.states,
            drops: t.drops,
            recv_q: t.recv_q,
        })
        .collect();
    agg.processes.sort_by(|a, b| {
        b.states
            .total()
            .cmp(&a.states.total())
            .then(a.process.pid.cmp(&b.process.pid))
    });
    agg.unix_listeners
        .sort_by(|a, b| fill(b).total_cmp(&fill(a)).then(a.inode.cmp(&b.inode)));
    agg
}

/// pending / (backlog + 1): Linux admits backlog + 1 before connect() must wait, so 1.0 is
/// full. Unknown queues sort last.
fn fill(l: &UnixListenerRow) -> f64 {
    match (l.pending, l.backlog) {
        (Some(p), Some(b)) => f64::from(p) / (f64::from(b) + 1.0),
        _ => -1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::snapshot;
    use crate::model::{Protocols, SkMem, SocketRecord, UnixRecord};

    fn udp(port: u16, owner: Owner, drops: u32) -> SocketRecord {
        let mut s = SocketRecord::new(
            TcpState::Close,
            format!("127.0.0.1:{port}").parse().expect("addr"),
            "0.0.0.0:0".parse().expect("addr"),
            owner,
        );
        s.skmem = Some(SkMem {
            drops,
            ..SkMem::default()
        });
        s
    }

    #[test]
    fn udp_counts_states_processes_and_drops() {
        let mut snap = snapshot(Vec::new());
        snap.protocols = Protocols::ALL;
        snap.udp = vec![
            udp(53, Owner::Process(7), 10),
            udp(54, Owner::Process(7), 5),
            udp(55, Owner::Unattributed, 1),
        ];
        let a = aggregate_proto(&snap, Protocol::Udp);
        assert!(a.collected);
        assert_eq!(a.total(), 3);
        assert_eq!(a.states.get(TcpState::Close), 3);
        assert_eq!(a.drops, 16);
        assert_eq!(a.unattributed, 1);
        assert_eq!(a.processes.len(), 1);
        assert_eq!(a.processes[0].drops, 15);
    }

    #[test]
    fn unix_listeners_fullest_first_and_kinds_counted() {
        let mut snap = snapshot(Vec::new());
        snap.protocols = Protocols::ALL;
        let mut full = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 1);
        full.recv_q = Some(5);
        full.send_q = Some(4);
        let mut idle = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 2);
        idle.recv_q = Some(0);
        idle.send_q = Some(128);
        let unknown = UnixRecord::new(UnixKind::SeqPacket, TcpState::Listen, 3);
        let dgram = UnixRecord::new(UnixKind::Dgram, TcpState::Close, 4);
        snap.unix = vec![idle, unknown, dgram, full];
        let a = aggregate_proto(&snap, Protocol::Unix);
        assert_eq!(a.unix_kinds, [2, 1, 1]);
        let order: Vec<u64> = a.unix_listeners.iter().map(|l| l.inode).collect();
        assert_eq!(order, vec![1, 2, 3]);
    }

    #[test]
    fn an_uncollected_protocol_says_so() {
        let snap = snapshot(Vec::new());
        assert!(!aggregate_proto(&snap, Protocol::Udp).collected);
        assert!(aggregate_proto(&snap, Protocol::Tcp).collected);
    }
}
