//! Row orders for UDP and UNIX, the counterpart of [`super::rows`] for TCP: the Processes
//! rows from [`aggregate_proto`] (so the dashboard and `summary -u/-x --by process` count
//! alike), the Sockets rows (indices into `snapshot.udp` or `snapshot.unix`) and the
//! Detail rows behind a drill-down. Their order is fixed, worst first: UDP by drops, then
//! receive queue; UNIX listeners fullest first, then by receive queue. Nothing here draws.

use std::cmp::Reverse;

use crate::analyze::engine::Analysis;
use crate::analyze::process_rows::RowKind;
use crate::analyze::proto_counts::{aggregate_proto, ProtoAggregate};
use crate::model::{Name, Owner, Protocol, Snapshot, SocketRecord, UnixRecord};
use crate::tui::state::history::SocketKey;
use crate::tui::state::keys::View;
use crate::tui::state::process_table::ProcRow;
use crate::tui::state::rows::{alert_order, RowKey, Rows};
use crate::tui::state::target::{in_detail, in_unix_detail, DetailTarget};

/// The Processes rows of `agg`: its processes (most sockets first), then one row per kind
/// of socket no process holds, in [`RowKind`] order, so the rows add up to the protocol's
/// sockets, state by state.
pub fn process_rows(agg: &ProtoAggregate) -> Vec<ProcRow> {
    let mut rows: Vec<ProcRow> = agg
        .processes
        .iter()
        .map(|p| ProcRow {
            kind: RowKind::Process,
            pid: Some(p.process.pid),
            comm: p.process.comm.clone(),
            user: p.process.user.clone(),
            states: p.states,
            drops: p.drops,
            recv_q: p.recv_q,
        })
        .collect();
    for u in &agg.unheld {
        let kind = match u.owner {
            Owner::Unattributed => RowKind::Unattributed,
            Owner::Ownerless => RowKind::Ownerless,
            _ => RowKind::Unresolved,
        };
        rows.push(ProcRow {
            kind,
            pid: None,
            comm: Name::from(kind.marker().unwrap_or("?")),
            user: Name::from("-"),
            states: u.states,
            drops: u.drops,
            recv_q: u.recv_q,
        });
    }
    rows
}

/// Sockets rows a UDP socket sorts by: most drops, then fullest queue, then local port.
fn udp_order(s: &SocketRecord) -> (Reverse<u32>, Reverse<u32>, u16) {
    let drops = s.skmem.map_or(0, |m| m.drops);
    (Reverse(drops), Reverse(s.recv_q), s.local.port)
}

/// Where a UNIX socket sorts: listeners first, fullest accept queue first (Linux admits
/// backlog + 1), then every other socket by its receive queue, then by inode.
fn unix_order(s: &UnixRecord) -> (u8, Reverse<u64>, Reverse<u32>, u64) {
    match s.listen_queue() {
        Some((pending, backlog)) => {
            let permille = u64::from(pending) * 1000 / (u64::from(backlog) + 1);
            (0, Reverse(permille), Reverse(pending), s.inode)
        }
        None if s.state == crate::model::TcpState::Listen => (1, Reverse(0), Reverse(0), s.inode),
        None => (2, Reverse(0), Reverse(s.recv_q.unwrap_or(0)), s.inode),
    }
}

/// `idx` (indices into the protocol's list) in the fixed order.
fn ordered(snap: &Snapshot, proto: Protocol, mut idx: Vec<usize>) -> Vec<usize> {
    match proto {
        Protocol::Udp => idx.sort_by_cached_key(|&i| udp_order(&snap.udp[i])),
        Protocol::Unix => idx.sort_by_cached_key(|&i| unix_order(&snap.unix[i])),
        Protocol::Tcp => {}
    }
    idx
}

/// The indices of the protocol's sockets the drill-down `t` lists.
fn detail_indices(snap: &Snapshot, proto: Protocol, t: &DetailTarget) -> Vec<usize> {
    match proto {
        Protocol::Udp => (0..snap.udp.len())
            .filter(|&i| in_detail(t, &snap.udp[i]))
            .collect(),
        Protocol::Unix => (0..snap.unix.len())
            .filter(|&i| in_unix_detail(t, &snap.unix[i]))
            .collect(),
        Protocol::Tcp => Vec::new(),
    }
}

/// A snapshot holding only the sockets `idx` selects of `proto` (the Processes view counts
/// what passes a filter with the same counting as the whole).
fn narrowed(snap: &Snapshot, proto: Protocol, idx: &[usize]) -> Snapshot {
    let pick = |on: bool, all: &[SocketRecord]| -> Vec<SocketRecord> {
        if on {
            idx.iter().map(|&i| all[i].clone()).collect()
        } else {
            Vec::new()
        }
    };
    Snapshot {
        taken_at_ms: snap.taken_at_ms,
        source: snap.source,
        netns: snap.netns.clone(),
        protocols: snap.protocols,
        sockets: Vec::new(),
        udp: pick(proto == Protocol::Udp, &snap.udp),
        unix: if proto == Protocol::Unix {
            idx.iter().map(|&i| snap.unix[i].clone()).collect()
        } else {
            Vec::new()
        },
        processes: snap.processes.clone(),
        attribution: snap.attribution.clone(),
        quality: snap.quality.clone(),
        counters: None,
        sysctls: None,
        collect_us: snap.collect_us,
    }
}

/// The rows of view `view` for the UDP or UNIX protocol `agg` counts. `filtered` are the
/// sockets passing the `/` filter (indices into the protocol's list), for Sockets and,
/// under a filter, Processes. Listeners, Remotes and the state diagram are TCP's: no rows.
pub fn compute(
    data: Option<(&Snapshot, &Analysis)>,
    agg: &ProtoAggregate,
    detail: Option<&DetailTarget>,
    view: View,
    filtered: Option<Vec<usize>>,
) -> Rows {
    let Some((snap, an)) = data else {
        return Rows::default();
    };
    let proto = agg.protocol;
    let mut rows = Rows {
        alerts: alert_order(&an.alerts),
        ..Rows::default()
    };
    match view {
        View::Processes => {
            rows.processes = match filtered {
                Some(idx) => {
                    let sub = narrowed(snap, proto, &idx);
                    process_rows(&aggregate_proto(&sub, proto))
                }
                None => process_rows(agg),
            };
        }
        View::Sockets => rows.sockets = ordered(snap, proto, filtered.unwrap_or_default()),
        View::Detail => {
            if let Some(t) = detail {
                rows.detail = ordered(snap, proto, detail_indices(snap, proto, t));
            }
        }
        View::Overview | View::Listeners | View::Remotes | View::StateMachine => {}
    }
    rows
}

/// The key of the row at `pos` in view `v` of a UDP or UNIX table.
pub fn key_at(
    r: &Rows,
    snap: &Snapshot,
    an: &Analysis,
    proto: Protocol,
    v: View,
    pos: usize,
) -> Option<RowKey> {
    let socket = |i: usize| -> Option<RowKey> {
        match proto {
            Protocol::Unix => Some(RowKey::Unix(snap.unix.get(i)?.inode)),
            _ => Some(RowKey::Socket(SocketKey::of(snap.udp.get(i)?))),
        }
    };
    match v {
        View::Overview => {
            let f = &an.alerts.get(*r.alerts.get(pos)?)?.finding;
            Some(RowKey::Alert(f.rule, f.subject.identity()))
        }
        View::Processes => {
            let p = r.processes.get(pos)?;
            Some(p.pid.map_or(RowKey::Unlisted(p.kind), RowKey::Pid))
        }
        View::Sockets => socket(*r.sockets.get(pos)?),
        View::Detail => socket(*r.detail.get(pos)?),
        View::Listeners | View::Remotes | View::StateMachine => None,
    }
}

/// What Enter opens on the Sockets row at `i` (an index into the protocol's list).
pub fn socket_target(snap: &Snapshot, proto: Protocol, i: usize) -> Option<DetailTarget> {
    match proto {
        Protocol::Unix => {
            let s = snap.unix.get(i)?;
            Some(DetailTarget::Unix(s.inode, s.owner.pid()))
        }
        _ => {
            let s = snap.udp.get(i)?;
            Some(DetailTarget::Socket(SocketKey::of(s), s.owner.pid()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::snapshot;
    use crate::model::{Protocols, SkMem, TcpState, UnixKind};

    fn udp(port: u16, drops: u32, recv_q: u32, owner: Owner) -> SocketRecord {
        let mut s = SocketRecord::new(
            TcpState::Close,
            format!("127.0.0.1:{port}").parse().expect("addr"),
            "0.0.0.0:0".parse().expect("addr"),
            owner,
        );
        s.recv_q = recv_q;
        s.skmem = Some(SkMem {
            drops,
            ..SkMem::default()
        });
        s
    }

    fn unix(inode: u64, state: TcpState, q: Option<(u32, u32)>) -> UnixRecord {
        let mut s = UnixRecord::new(UnixKind::Stream, state, inode);
        if let Some((r, w)) = q {
            s.recv_q = Some(r);
            s.send_q = Some(w);
        }
        s
    }

    #[test]
    fn udp_sockets_worst_first_and_processes_add_up() {
        let mut snap = snapshot(Vec::new());
        snap.protocols = Protocols::ALL;
        snap.udp = vec![
            udp(53, 0, 0, Owner::Process(42)),
            udp(54, 9, 0, Owner::Process(42)),
            udp(55, 0, 800, Owner::Unattributed),
            udp(56, 0, 0, Owner::Unresolved),
        ];
        assert_eq!(
            ordered(&snap, Protocol::Udp, vec![0, 1, 2, 3]),
            vec![1, 2, 0, 3]
        );
        let agg = aggregate_proto(&snap, Protocol::Udp);
        let rows = process_rows(&agg);
        let kinds: Vec<RowKind> = rows.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            vec![RowKind::Process, RowKind::Unattributed, RowKind::Unresolved]
        );
        assert_eq!(rows[0].drops, 9);
        assert_eq!(rows[0].states.total(), 2);
        assert_eq!(rows[1].recv_q, 800);
        let total: u64 = rows.iter().map(|r| r.states.total()).sum();
        assert_eq!(total, 4);
    }

    #[test]
    fn unix_listeners_fullest_first_then_queues() {
        let mut snap = snapshot(Vec::new());
        snap.unix = vec![
            unix(1, TcpState::Established, Some((10, 0))),
            unix(2, TcpState::Listen, Some((0, 128))),
            unix(3, TcpState::Listen, Some((5, 4))),
            unix(4, TcpState::Listen, None),
            unix(5, TcpState::Established, None),
        ];
        assert_eq!(
            ordered(&snap, Protocol::Unix, vec![0, 1, 2, 3, 4]),
            vec![2, 1, 3, 0, 4]
        );
    }

    #[test]
    fn a_filter_narrows_the_process_rows() {
        let mut snap = snapshot(Vec::new());
        snap.protocols = Protocols::ALL;
        snap.udp = vec![
            udp(53, 1, 0, Owner::Process(42)),
            udp(54, 2, 0, Owner::Process(42)),
        ];
        let sub = narrowed(&snap, Protocol::Udp, &[1]);
        let rows = process_rows(&aggregate_proto(&sub, Protocol::Udp));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].drops, 2);
        assert_eq!(&*rows[0].comm.escaped(), "java");
    }
}
