//! Sockets per systemd unit or per container (`summary --by unit` / `--by container`):
//! the pids of one unit summed, so a service that restarts under new pids stays one row.
//!
//! Rows always add up to every socket of the snapshot: a socket whose process runs in no
//! unit (or no container) counts in [`GroupRow::None`]'s row, one with no process (TIME_WAIT,
//! unattributed, never resolved) in [`GroupRow::NoProcess`]'s. Pure over a [`Snapshot`].

use std::collections::BTreeMap;

use crate::model::{Container, Owner, Protocol, Protocols, Snapshot, StateCounts, Unit};

/// Which owner a grouping follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKey {
    /// The systemd unit.
    Unit,
    /// The container.
    Container,
}

impl GroupKey {
    /// The lowercase word used in headers, JSON and markers.
    pub fn word(self) -> &'static str {
        match self {
            GroupKey::Unit => "unit",
            GroupKey::Container => "container",
        }
    }
}

/// What one row stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GroupRow {
    /// One systemd unit.
    Unit(Unit),
    /// One container (keyed by runtime and id).
    Container(Container),
    /// Processes that run in no unit or no container.
    None,
    /// Sockets no process is known to hold.
    NoProcess,
}

impl GroupRow {
    /// The label a table shows: the unit or container label, or a parenthesised marker.
    pub fn label(&self, key: GroupKey) -> String {
        match self {
            GroupRow::Unit(u) => u.label(),
            GroupRow::Container(c) => c.label(),
            GroupRow::None => format!("(no {})", key.word()),
            GroupRow::NoProcess => "(no process)".to_string(),
        }
    }
}

/// One unit's or container's sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCount {
    /// The unit, container or marker.
    pub row: GroupRow,
    /// The pids seen holding its sockets, ascending.
    pub pids: Vec<u32>,
    /// TCP sockets per state.
    pub tcp: StateCounts,
    /// UDP sockets.
    pub udp: u64,
    /// UNIX sockets.
    pub unix: u64,
}

impl GroupCount {
    /// Sockets of every protocol.
    pub fn total(&self) -> u64 {
        self.tcp.total() + self.udp + self.unix
    }
}

/// The rows of `snap` grouped by `key`, over the protocols shown: the groups by socket
/// count (largest first, then by label), then the `(no unit)` and `(no process)` rows
/// when non-empty.
pub fn group_rows(snap: &Snapshot, protocols: Protocols, key: GroupKey) -> Vec<GroupCount> {
    let mut map: BTreeMap<GroupRow, GroupCount> = BTreeMap::new();
    let row_of = |owner: Owner| -> (GroupRow, Option<u32>) {
        let Some(pid) = owner.pid() else {
            return (GroupRow::NoProcess, None);
        };
        let info = snap.processes.get(&pid);
        let row = match key {
            GroupKey::Unit => info.and_then(|p| p.unit.clone()).map(GroupRow::Unit),
            GroupKey::Container => info
                .and_then(|p| p.container.clone())
                .map(GroupRow::Container),
        };
        (row.unwrap_or(GroupRow::None), Some(pid))
    };
    let mut add = |owner: Owner, f: &mut dyn FnMut(&mut GroupCount)| {
        let (row, pid) = row_of(owner);
        let e = map.entry(row.clone()).or_insert_with(|| GroupCount {
            row,
            pids: Vec::new(),
            tcp: StateCounts::default(),
            udp: 0,
            unix: 0,
        });
        if let Some(p) = pid {
            if let Err(i) = e.pids.binary_search(&p) {
                e.pids.insert(i, p);
            }
        }
        f(e);
    };
    if protocols.contains(Protocol::Tcp) {
        for s in &snap.sockets {
            add(s.owner, &mut |e| e.tcp.add(s.state));
        }
    }
    if protocols.contains(Protocol::Udp) {
        for s in &snap.udp {
            add(s.owner, &mut |e| e.udp += 1);
        }
    }
    if protocols.contains(Protocol::Unix) {
        for s in &snap.unix {
            add(s.owner, &mut |e| e.unix += 1);
        }
    }
    let mut rows: Vec<GroupCount> = map.into_values().collect();
    rows.sort_by(|a, b| {
        let marker = |r: &GroupRow| matches!(r, GroupRow::None | GroupRow::NoProcess);
        match (marker(&a.row), marker(&b.row)) {
            (false, false) => b.total().cmp(&a.total()).then_with(|| a.row.cmp(&b.row)),
            (x, y) => x.cmp(&y).then_with(|| a.row.cmp(&b.row)),
        }
    });
    rows
}

#[cfg(test)]
#[path = "group_rows_tests.rs"]
mod tests;
