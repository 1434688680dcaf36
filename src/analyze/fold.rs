//! Counting while the dump streams: [`SummaryFold`] folds each socket into the counts
//! [`Aggregate`] holds (per state, process, listener and remote address), with memory
//! bounded by the distinct keys (processes, listeners, remote addresses, SYN sources per
//! listener), not by the number of sockets. [`super::aggregate::aggregate`] runs the same
//! fold over a materialised snapshot, so both paths produce the same rows by construction.
//!
//! Pure: no I/O, no presentation. It reads only what each socket carries plus, at the end,
//! the process table the collector built.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use super::aggregate::{source_prefix, Aggregate, ListenerRow, ProcessRow, RemoteRow};
use crate::fasthash::IdMap;
use crate::model::{
    listener_matches, Endpoint, Name, Owner, ProcessInfo, SocketRecord, SocketSink, StateCounts,
    TcpState,
};

/// The per-group counts of one dump, folded socket by socket. Listeners must arrive before
/// the connections on them (the [`SocketSink`] contract); [`SummaryFold::finish`] turns the
/// fold into the sorted [`Aggregate`].
#[derive(Debug, Default)]
pub struct SummaryFold {
    /// Fold only the per-state counts (the default `summary`): nothing per key.
    states_only: bool,
    states: StateCounts,
    procs: IdMap<u32, StateCounts>,
    // Remote addresses and SYN sources are chosen by peers: the default (keyed) hasher.
    remotes: HashMap<IpAddr, StateCounts>,
    ownerless: u64,
    unattributed: u64,
    /// Keyed by the listener's local endpoint: SO_REUSEPORT groups and dual binds of one
    /// endpoint fold into one row.
    listeners: BTreeMap<Endpoint, Listening>,
    /// Port → the LISTEN sockets' local endpoints on it, in arrival order (what
    /// [`crate::model::ListenerIndex`] indexes).
    by_port: HashMap<u16, Vec<Endpoint>>,
}

#[derive(Debug)]
struct Listening {
    pid: Option<u32>,
    backlog: u32,
    accept_queue: u32,
    states: StateCounts,
    syn_sources: HashSet<u128>,
}

impl SummaryFold {
    /// A fold of every grouping.
    pub fn new() -> SummaryFold {
        SummaryFold::default()
    }

    /// A fold of the per-state counts alone (what `summary` text by state prints): its
    /// [`SummaryFold::finish`] carries nothing else, as the materialised path's.
    pub fn states_only() -> SummaryFold {
        SummaryFold {
            states_only: true,
            ..SummaryFold::default()
        }
    }

    /// Sockets folded so far.
    pub fn total(&self) -> u64 {
        self.states.total()
    }

    /// The listener that accepts connections to `local`, as
    /// [`crate::model::ListenerIndex::find`] picks it: an exact address wins over a wildcard.
    fn listener_for(&self, local: &Endpoint) -> Option<Endpoint> {
        let cands = self.by_port.get(&local.port)?;
        cands
            .iter()
            .find(|l| l.ip == local.ip)
            .or_else(|| cands.iter().find(|l| listener_matches(l, local)))
            .copied()
    }

    /// The sorted rows; `processes` names the pids (the snapshot's process table).
    pub fn finish(self, processes: &BTreeMap<u32, ProcessInfo>) -> Aggregate {
        if self.states_only {
            return Aggregate {
                states: self.states,
                ..Aggregate::default()
            };
        }
        let mut agg = Aggregate {
            states: self.states,
            ownerless: self.ownerless,
            unattributed: self.unattributed,
            ..Aggregate::default()
        };
        agg.processes = self
            .procs
            .into_iter()
            .map(|(pid, states)| ProcessRow {
                process: processes.get(&pid).cloned().unwrap_or(ProcessInfo {
                    pid,
                    comm: Name::from("?"),
                    uid: 0,
                    user: Name::from("?"),
                    unit: None,
                    container: None,
                }),
                states,
            })
            .collect();
        agg.processes.sort_by(|a, b| {
            b.states
                .total()
                .cmp(&a.states.total())
                .then(a.process.pid.cmp(&b.process.pid))
        });
        agg.remotes = self
            .remotes
            .into_iter()
            .map(|(ip, states)| RemoteRow { ip, states })
            .collect();
        agg.remotes.sort_by(|a, b| {
            b.states
                .total()
                .cmp(&a.states.total())
                .then(a.ip.cmp(&b.ip))
        });
        let mut listeners: Vec<ListenerRow> = self
            .listeners
            .into_iter()
            .map(|(local, l)| ListenerRow {
                local,
                pid: l.pid,
                comm: l
                    .pid
                    .and_then(|p| processes.get(&p))
                    .map(|p| p.comm.clone()),
                backlog: l.backlog,
                accept_queue: l.accept_queue,
                states: l.states,
                syn_sources: l.syn_sources.len() as u64,
            })
            .collect();
        listeners.sort_by(|a, b| {
            b.syn_recv()
                .cmp(&a.syn_recv())
                .then(b.accept_queue.cmp(&a.accept_queue))
                .then(b.states.total().cmp(&a.states.total()))
                .then(a.local.cmp(&b.local))
        });
        agg.listeners = listeners;
        agg
    }
}

impl SocketSink for SummaryFold {
    /// Per-state counts need no listener; the groupings match connections to them.
    fn listeners_first(&self) -> bool {
        !self.states_only
    }

    fn reset(&mut self) {
        *self = SummaryFold {
            states_only: self.states_only,
            ..SummaryFold::default()
        };
    }

    fn push(&mut self, s: &SocketRecord) {
        self.states.add(s.state);
        match s.owner {
            Owner::Process(pid) | Owner::ViaListener(pid) => {
                if !self.states_only {
                    self.procs.entry(pid).or_default().add(s.state);
                }
            }
            Owner::Ownerless => self.ownerless += 1,
            Owner::Unattributed => self.unattributed += 1,
            Owner::Unresolved => {}
        }
        if self.states_only {
            return;
        }
        if s.state != TcpState::Listen && s.state != TcpState::Close {
            self.remotes.entry(s.remote.ip).or_default().add(s.state);
        }
        if s.state == TcpState::Listen {
            let pid = s.owner.pid();
            let row = self.listeners.entry(s.local).or_insert_with(|| Listening {
                pid,
                backlog: 0,
                accept_queue: 0,
                states: StateCounts::default(),
                syn_sources: HashSet::new(),
            });
            row.backlog += s.send_q;
            row.accept_queue += s.recv_q;
            row.states.add(TcpState::Listen);
            let on_port = self.by_port.entry(s.local.port).or_default();
            if !on_port.contains(&s.local) {
                on_port.push(s.local);
            }
            return;
        }
        if let Some(l) = self.listener_for(&s.local) {
            if let Some(row) = self.listeners.get_mut(&l) {
                row.states.add(s.state);
                if s.state == TcpState::SynRecv {
                    row.syn_sources.insert(source_prefix(s.remote.ip));
                }
            }
        }
    }
}
