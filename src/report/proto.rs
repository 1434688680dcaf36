//! What every summary face shares for UDP and UNIX sockets: which state columns a protocol
//! shows, the per-process rows (processes, then the sockets no process row holds, so rows
//! add up to the total), and the notes that belong beside them. Pure over a
//! [`ProtoAggregate`] (from [`crate::analyze::proto_counts`]) and its snapshot; the text,
//! table and JSON writers format the result their own way.

use std::io::{self, Write};

use crate::analyze::proto_counts::ProtoAggregate;
use crate::model::{unattributed_note, Name, Owner, Protocol, Snapshot, StateCounts, TcpState};

/// The states a protocol's tables always show, in column order: the ones `ss` prints for
/// it. TCP shows all eleven.
pub fn base_states(p: Protocol) -> &'static [TcpState] {
    match p {
        Protocol::Tcp => &TcpState::ALL,
        Protocol::Udp => &[TcpState::Close, TcpState::Established],
        Protocol::Unix => &[
            TcpState::Listen,
            TcpState::Established,
            TcpState::Close,
            TcpState::SynSent,
        ],
    }
}

/// The state columns for `p`: [`base_states`], then any other state a row holds (the kernel
/// reuses TCP's numbers; an unexpected one is shown, never dropped from the sum).
pub fn state_columns(p: Protocol, total: &StateCounts) -> Vec<TcpState> {
    let base = base_states(p);
    let mut cols = base.to_vec();
    cols.extend(
        TcpState::ALL
            .into_iter()
            .filter(|s| !base.contains(s) && total.get(*s) > 0),
    );
    cols
}

/// What a per-process row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoRowKind {
    /// One process.
    Process,
    /// The processes `--top` left out, summed.
    Other,
    /// Sockets a process owns but procfs would not name.
    Unattributed,
    /// Sockets attribution never looked at.
    Unresolved,
    /// Both of the above, when only their counts are known (a recording without
    /// `--sockets` whose attribution was partial).
    UnattributedOrUnresolved,
}

impl ProtoRowKind {
    /// The comm shown for a row that is not a process (as the TCP rows spell them).
    pub fn marker(self) -> &'static str {
        match self {
            ProtoRowKind::Process => "-",
            ProtoRowKind::Other => "(other)",
            ProtoRowKind::Unattributed => "(unattributed)",
            ProtoRowKind::Unresolved => "(unresolved)",
            ProtoRowKind::UnattributedOrUnresolved => "(unattributed|unresolved)",
        }
    }

    /// The JSON spelling.
    pub fn json_name(self) -> &'static str {
        match self {
            ProtoRowKind::Process => "process",
            ProtoRowKind::Other => "other",
            ProtoRowKind::Unattributed => "unattributed",
            ProtoRowKind::Unresolved => "unresolved",
            ProtoRowKind::UnattributedOrUnresolved => "unattributed_or_unresolved",
        }
    }
}

/// One row of `summary --by process` for UDP or UNIX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoRow {
    /// What it stands for.
    pub kind: ProtoRowKind,
    /// The pid, for a process row.
    pub pid: Option<u32>,
    /// The command, or the kind's marker.
    pub comm: Name,
    /// The user, or `-`.
    pub user: Name,
    /// Sockets per state.
    pub states: StateCounts,
    /// UDP drops summed over the row's sockets (0 for UNIX and for rows with no drops).
    pub drops: u64,
    /// Receive queues summed (bytes; UNIX listeners: pending connections).
    pub recv_q: u64,
}

impl ProtoRow {
    /// The pid as text: the number, or `-`.
    pub fn pid_text(&self) -> String {
        self.pid.map_or_else(|| "-".to_string(), |p| p.to_string())
    }
}

/// The processes (at most `top`), then the non-empty rows that are not processes. Their
/// states add up to the aggregate's.
pub fn rows(snap: &Snapshot, agg: &ProtoAggregate, top: Option<usize>) -> Vec<ProtoRow> {
    let shown = match top {
        Some(n) if n > 0 && n < agg.processes.len() => &agg.processes[..n],
        _ => &agg.processes[..],
    };
    let mut out: Vec<ProtoRow> = shown
        .iter()
        .map(|p| ProtoRow {
            kind: ProtoRowKind::Process,
            pid: Some(p.process.pid),
            comm: p.process.comm.clone(),
            user: p.process.user.clone(),
            states: p.states,
            drops: p.drops,
            recv_q: p.recv_q,
        })
        .collect();
    let mut other = empty(ProtoRowKind::Other);
    for p in &agg.processes[shown.len()..] {
        add(&mut other.states, &p.states);
        other.drops += p.drops;
        other.recv_q += p.recv_q;
    }
    out.push(other);
    out.extend(unlisted(snap, agg));
    out.retain(|r| r.kind == ProtoRowKind::Process || r.states.total() > 0);
    out
}

fn empty(kind: ProtoRowKind) -> ProtoRow {
    ProtoRow {
        kind,
        pid: None,
        comm: Name::from(kind.marker()),
        user: Name::from("-"),
        states: StateCounts::default(),
        drops: 0,
        recv_q: 0,
    }
}

/// The sockets no process row holds: counted from the socket list when the snapshot has
/// it, else split from the counts (exact unless both kinds are present).
fn unlisted(snap: &Snapshot, agg: &ProtoAggregate) -> Vec<ProtoRow> {
    let listed = match agg.protocol {
        Protocol::Tcp => false,
        Protocol::Udp => snap.udp.len() as u64 == agg.total(),
        Protocol::Unix => snap.unix.len() as u64 == agg.total(),
    };
    if listed {
        let row = |owner: Owner, kind: ProtoRowKind| {
            let mut r = empty(kind);
            if let Some(u) = agg.unheld.iter().find(|u| u.owner == owner) {
                r.states = u.states;
                r.drops = u.drops;
                r.recv_q = u.recv_q;
            }
            r
        };
        return vec![
            row(Owner::Unattributed, ProtoRowKind::Unattributed),
            row(Owner::Unresolved, ProtoRowKind::Unresolved),
        ];
    }
    let mut rest = agg.states;
    for p in &agg.processes {
        for s in TcpState::ALL {
            rest.0[s.index()] = rest.0[s.index()].saturating_sub(p.states.get(s));
        }
    }
    let unresolved = rest.total().saturating_sub(agg.unattributed);
    let kind = match (agg.unattributed > 0, unresolved > 0) {
        (_, false) => ProtoRowKind::Unattributed,
        (false, true) => ProtoRowKind::Unresolved,
        (true, true) => ProtoRowKind::UnattributedOrUnresolved,
    };
    let mut row = empty(kind);
    row.states = rest;
    vec![row]
}

fn add(into: &mut StateCounts, from: &StateCounts) {
    for s in TcpState::ALL {
        into.0[s.index()] += from.get(s);
    }
}

/// Whether a `RECV_Q` sum over `p`'s sockets means anything: false for UNIX sockets read
/// from `/proc/net/unix`, which gives no queue lengths (the faces print `-` / `null`, never
/// a 0 that reads as "empty").
pub fn recv_q_known(snap: &Snapshot, p: Protocol) -> bool {
    p != Protocol::Unix || snap.unix.iter().all(|u| u.recv_q.is_some())
}

/// Notes for a UDP or UNIX summary, one line each: unattributed sockets and why, and UNIX
/// queues the source could not give (`/proc/net/unix` has none).
pub fn write_notes(out: &mut impl Write, snap: &Snapshot, agg: &ProtoAggregate) -> io::Result<()> {
    if agg.unattributed > 0 {
        let p = agg.protocol.to_string();
        let note = unattributed_note(agg.unattributed, agg.total(), Some(&p));
        writeln!(out, "note: {note}")?;
    }
    if agg.protocol == Protocol::Unix {
        let unknown = snap.unix.iter().filter(|u| u.recv_q.is_none()).count();
        if unknown > 0 {
            writeln!(
                out,
                "note: queue lengths of {unknown} unix sockets are unknown ({} gives none); \
                 they show as -, not 0",
                unix_source(snap)
            )?;
        }
    }
    Ok(())
}

fn unix_source(snap: &Snapshot) -> &'static str {
    match snap.source {
        crate::model::SourceKind::Proc => "/proc/net/unix",
        _ => "the source",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::proto_counts::aggregate_proto;
    use crate::model::fixtures::snapshot;
    use crate::model::{Protocols, SkMem, SocketRecord, UnixKind, UnixRecord};

    fn udp(owner: Owner, state: TcpState, drops: u32) -> SocketRecord {
        let mut s = SocketRecord::new(
            state,
            "127.0.0.1:53".parse().expect("addr"),
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
    fn rows_add_up_to_the_total_with_top_and_remainders() {
        let mut snap = snapshot(Vec::new());
        snap.protocols = Protocols::ALL;
        snap.udp = vec![
            udp(Owner::Process(42), TcpState::Close, 3),
            udp(Owner::Process(42), TcpState::Established, 0),
            udp(Owner::Process(9), TcpState::Close, 1),
            udp(Owner::Unattributed, TcpState::Close, 5),
            udp(Owner::Unresolved, TcpState::Established, 0),
        ];
        let agg = aggregate_proto(&snap, Protocol::Udp);
        let rows = rows(&snap, &agg, Some(1));
        let kinds: Vec<ProtoRowKind> = rows.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                ProtoRowKind::Process,
                ProtoRowKind::Other,
                ProtoRowKind::Unattributed,
                ProtoRowKind::Unresolved
            ]
        );
        let mut sum = StateCounts::default();
        rows.iter().for_each(|r| add(&mut sum, &r.states));
        assert_eq!(sum, agg.states);
        assert_eq!(rows.iter().map(|r| r.drops).sum::<u64>(), 9);
        assert_eq!(rows[0].comm, "java");
    }

    #[test]
    fn without_the_list_counts_split_and_say_when_they_cannot() {
        let mut snap = snapshot(Vec::new());
        snap.protocols = Protocols::ALL;
        let mut a = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 1);
        a.owner = Owner::Unattributed;
        let b = UnixRecord::new(UnixKind::Dgram, TcpState::Close, 2);
        snap.unix = vec![a, b];
        let agg = aggregate_proto(&snap, Protocol::Unix);
        snap.unix.clear();
        let rows = rows(&snap, &agg, None);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].kind, ProtoRowKind::UnattributedOrUnresolved);
        assert_eq!(rows[0].states.total(), 2);
    }

    #[test]
    fn unexpected_states_get_a_column() {
        let mut c = StateCounts::default();
        c.add(TcpState::Close);
        assert_eq!(state_columns(Protocol::Udp, &c).len(), 2);
        c.add(TcpState::CloseWait);
        assert_eq!(
            state_columns(Protocol::Udp, &c),
            [TcpState::Close, TcpState::Established, TcpState::CloseWait]
        );
    }
}
