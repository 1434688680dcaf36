//! The process × state view, shared by `summary --by process` (text, table, JSON) and the
//! dashboard's Processes view, each formatting it its own way: the processes (up to
//! `--top`), then one row per kind of socket no listed process accounts for, so the rows
//! always add up to the total, per state. Those rows carry no pid (`-`) and a comm in
//! parentheses, the dashboard's words: `(other)` for the processes beyond `--top`,
//! `(unattributed)`, `(ownerless)`, and `(unresolved)` when attribution never ran.

use crate::analyze::aggregate::Aggregate;
use crate::model::{Name, Owner, Snapshot, StateCounts, TcpState};

/// What a row stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// One process.
    Process,
    /// The processes `--top` left out, summed.
    Other,
    /// Sockets a process owns but procfs would not name (the note's count).
    Unattributed,
    /// Sockets no process owns by design (TIME_WAIT, request and orphaned sockets).
    Ownerless,
    /// Sockets attribution never looked at (a snapshot saved without it).
    Unresolved,
    /// Ownerless and unattributed together: a recording without `--sockets` kept both
    /// counts but not which states each kind was in.
    OwnerlessOrUnattributed,
}

impl RowKind {
    /// The comm shown for a row that is not a process; its stable marker for scripts.
    pub fn marker(self) -> Option<&'static str> {
        match self {
            RowKind::Process => None,
            RowKind::Other => Some("(other)"),
            RowKind::Unattributed => Some("(unattributed)"),
            RowKind::Ownerless => Some("(ownerless)"),
            RowKind::Unresolved => Some("(unresolved)"),
            RowKind::OwnerlessOrUnattributed => Some("(ownerless|unattributed)"),
        }
    }

    /// The JSON spelling of a row that is not a process.
    pub fn json_name(self) -> &'static str {
        match self {
            RowKind::Process => "process",
            RowKind::Other => "other",
            RowKind::Unattributed => "unattributed",
            RowKind::Ownerless => "ownerless",
            RowKind::Unresolved => "unresolved",
            RowKind::OwnerlessOrUnattributed => "ownerless_or_unattributed",
        }
    }
}

/// One row of the per-process grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What it stands for.
    pub kind: RowKind,
    /// The pid (`None` for every kind but [`RowKind::Process`]).
    pub pid: Option<u32>,
    /// The command, or the kind's marker (a marker has no byte the escape rule changes, so
    /// it prints as it is).
    pub comm: Name,
    /// The user, or `-`.
    pub user: Name,
    /// Sockets per state.
    pub states: StateCounts,
}

impl Row {
    /// The pid as text: the number, or `-`.
    pub fn pid_text(&self) -> String {
        self.pid.map_or_else(|| "-".to_string(), |p| p.to_string())
    }
}

/// The processes (at most `top`), then the non-empty rows that are not processes, in the
/// order of [`RowKind`]. Their states add up to the aggregate's, state by state.
pub fn rows(snap: &Snapshot, agg: &Aggregate, top: Option<usize>) -> Vec<Row> {
    let shown = match top {
        Some(n) if n > 0 && n < agg.processes.len() => &agg.processes[..n],
        _ => &agg.processes[..],
    };
    let mut out: Vec<Row> = shown
        .iter()
        .map(|p| Row {
            kind: RowKind::Process,
            pid: Some(p.process.pid),
            comm: p.process.comm.clone(),
            user: p.process.user.clone(),
            states: p.states,
        })
        .collect();
    let mut other = StateCounts::default();
    for p in &agg.processes[shown.len()..] {
        add(&mut other, &p.states);
    }
    let mut rest = vec![(RowKind::Other, other)];
    rest.extend(unlisted(snap, agg));
    out.extend(
        rest.into_iter()
            .filter(|(_, s)| s.total() > 0)
            .map(|(kind, states)| Row {
                kind,
                pid: None,
                comm: Name::from(kind.marker().unwrap_or("-")),
                user: Name::from("-"),
                states,
            }),
    );
    out
}

/// The sockets no process row holds, per kind and state.
fn unlisted(snap: &Snapshot, agg: &Aggregate) -> Vec<(RowKind, StateCounts)> {
    // What the process rows leave of the total, state by state: exact whatever the source.
    let mut rest = agg.states;
    for p in &agg.processes {
        for s in TcpState::ALL {
            rest.0[s.index()] = rest.0[s.index()].saturating_sub(p.states.get(s));
        }
    }
    if snap.sockets.len() as u64 == agg.states.total() {
        // The socket list is there: each kind's states are counted, not inferred.
        let mut by_kind = [StateCounts::default(); 3];
        for s in &snap.sockets {
            let i = match s.owner {
                Owner::Unattributed => 0,
                Owner::Ownerless => 1,
                Owner::Unresolved => 2,
                Owner::Process(_) | Owner::ViaListener(_) => continue,
            };
            by_kind[i].add(s.state);
        }
        return vec![
            (RowKind::Unattributed, by_kind[0]),
            (RowKind::Ownerless, by_kind[1]),
            (RowKind::Unresolved, by_kind[2]),
        ];
    }
    split_counts(rest, agg.unattributed, agg.ownerless)
}

/// Splits `rest` (the sockets no process row holds) by kind when only the kinds' counts
/// are known (a recording without `--sockets`). Exact when one kind is empty, or when the
/// ownerless sockets are exactly `rest`'s TIME_WAIT (TIME_WAIT is always ownerless and
/// unattributed sockets never are); otherwise one row holds both kinds.
fn split_counts(
    rest: StateCounts,
    unattributed: u64,
    ownerless: u64,
) -> Vec<(RowKind, StateCounts)> {
    let unresolved = rest.total().saturating_sub(unattributed + ownerless);
    let nonzero = [unattributed, ownerless, unresolved]
        .iter()
        .filter(|&&n| n > 0)
        .count();
    let only = |kind| vec![(kind, rest)];
    match nonzero {
        0 => Vec::new(),
        1 if unattributed > 0 => only(RowKind::Unattributed),
        1 if ownerless > 0 => only(RowKind::Ownerless),
        1 => only(RowKind::Unresolved),
        _ if unresolved == 0 && rest.get(TcpState::TimeWait) == ownerless => {
            let mut tw = StateCounts::default();
            tw.0[TcpState::TimeWait.index()] = ownerless;
            let mut un = rest;
            un.0[TcpState::TimeWait.index()] = 0;
            vec![(RowKind::Unattributed, un), (RowKind::Ownerless, tw)]
        }
        _ => only(RowKind::OwnerlessOrUnattributed),
    }
}

fn add(into: &mut StateCounts, from: &StateCounts) {
    for s in TcpState::ALL {
        into.0[s.index()] += from.get(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::aggregate::{aggregate, Aggregate};
    use crate::model::fixtures::{snapshot, sock};
    use crate::model::Snapshot;

    fn sum(rows: &[Row]) -> StateCounts {
        let mut s = StateCounts::default();
        for r in rows {
            add(&mut s, &r.states);
        }
        s
    }

    fn live() -> Snapshot {
        use TcpState::*;
        snapshot(vec![
            sock(
                CloseWait,
                "10.0.0.1:8080",
                "10.0.0.9:5000",
                Owner::Process(42),
            ),
            sock(Listen, "0.0.0.0:8080", "0.0.0.0:0", Owner::Process(42)),
            sock(
                SynRecv,
                "10.0.0.1:8080",
                "10.0.0.9:5001",
                Owner::ViaListener(42),
            ),
            sock(TimeWait, "10.0.0.1:8080", "10.0.0.9:5002", Owner::Ownerless),
            sock(TimeWait, "10.0.0.1:8080", "10.0.0.9:5003", Owner::Ownerless),
            sock(LastAck, "10.0.0.1:9", "10.0.0.9:5004", Owner::Ownerless),
            sock(
                Established,
                "10.0.0.1:22",
                "10.0.0.9:5005",
                Owner::Unattributed,
            ),
            sock(Listen, "0.0.0.0:22", "0.0.0.0:0", Owner::Unattributed),
            sock(
                Established,
                "10.0.0.1:7",
                "10.0.0.9:5006",
                Owner::Unresolved,
            ),
        ])
    }

    #[test]
    fn rows_add_up_per_state_with_each_kind_counted_from_the_sockets() {
        let snap = live();
        let agg = aggregate(&snap);
        let rows = rows(&snap, &agg, None);
        assert_eq!(sum(&rows), agg.states);
        let kinds: Vec<_> = rows
            .iter()
            .map(|r| (r.kind, r.pid, r.states.total()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (RowKind::Process, Some(42), 3),
                (RowKind::Unattributed, None, 2),
                (RowKind::Ownerless, None, 3),
                (RowKind::Unresolved, None, 1),
            ]
        );
        assert_eq!(rows[1].states.get(TcpState::Listen), 1);
        assert_eq!(rows[2].states.get(TcpState::LastAck), 1);
        assert_eq!(
            (&rows[2].comm, &rows[2].user),
            (&Name::from("(ownerless)"), &Name::from("-"))
        );
    }

    #[test]
    fn top_folds_the_rest_into_other() {
        let mut snap = live();
        snap.sockets.push(sock(
            TcpState::Established,
            "10.0.0.1:1",
            "10.0.0.9:1",
            Owner::Process(7),
        ));
        let agg = aggregate(&snap);
        let rows = rows(&snap, &agg, Some(1));
        assert_eq!(sum(&rows), agg.states);
        assert_eq!(rows[1].kind, RowKind::Other);
        assert_eq!(rows[1].states.get(TcpState::Established), 1);
        assert_eq!(rows[1].pid_text(), "-");
    }

    fn rows_of(snapshot: &Snapshot, aggregate: &Aggregate) -> Vec<Row> {
        rows(snapshot, aggregate, None)
    }

    #[test]
    fn without_sockets_the_split_is_exact_or_the_kinds_share_a_row() {
        let mut full = live();
        full.sockets.retain(|s| s.owner != Owner::Unresolved);
        let mut agg = aggregate(&full);
        // A recording without sockets: only the kinds' counts survive.
        let mut snap = live();
        snap.sockets.clear();
        // LAST_ACK ownerless: not all ownerless are TIME_WAIT, so the split is unknown.
        let r = rows_of(&snap, &agg);
        assert_eq!(sum(&r), agg.states);
        assert_eq!(
            r.last().map(|r| r.kind),
            Some(RowKind::OwnerlessOrUnattributed)
        );
        // All ownerless are TIME_WAIT: exact.
        full.sockets.retain(|s| s.state != TcpState::LastAck);
        agg = aggregate(&full);
        let r = rows_of(&snap, &agg);
        assert_eq!(sum(&r), agg.states);
        let tail: Vec<_> = r[1..].iter().map(|r| (r.kind, r.states.total())).collect();
        assert_eq!(
            tail,
            vec![(RowKind::Unattributed, 2), (RowKind::Ownerless, 2)]
        );
        assert_eq!(r[2].states.get(TcpState::TimeWait), 2);
        // One kind only: all of the rest is it.
        full.sockets.retain(|s| s.owner != Owner::Unattributed);
        agg = aggregate(&full);
        let r = rows_of(&snap, &agg);
        assert_eq!(sum(&r), agg.states);
        assert_eq!(r.last().map(|r| r.kind), Some(RowKind::Ownerless));
    }
}
