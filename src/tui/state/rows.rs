//! Row orders for the tables: which rows each view lists, in which order, after sorting and
//! filtering. Computed by [`crate::tui::state::app::App`] when data, sort or filter change,
//! so drawing only reads them. The columns they sort by are in [`super::columns`].

use std::net::IpAddr;

use crate::analyze::engine::Analysis;
use crate::analyze::finding::{Alert, AlertPhase, Subject};
use crate::analyze::group_rows::{GroupCount, GroupRow};
use crate::analyze::process_rows::RowKind;
use crate::model::RuleId;
use crate::model::{Endpoint, Name, Snapshot, SocketRecord, TcpState, TimerKind};
use crate::tui::state::columns::{fill_permille, SortState, STATE_COLUMNS};
use crate::tui::state::history::SocketKey;
use crate::tui::state::keys::View;
use crate::tui::state::process_table::{self, ProcRow};
use crate::tui::state::target::{in_detail, DetailTarget};

/// Row orders; only the shown view's list (and the alerts) is filled, see [`compute`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    /// Indices into `analysis.alerts`: firing, then pending, then resolved.
    pub alerts: Vec<usize>,
    /// The Processes view's rows in display order (see [`crate::tui::views::processes`]).
    pub processes: Vec<ProcRow>,
    /// The Processes view's unit or container rows in display order, when grouped (`o`).
    pub groups: Vec<GroupCount>,
    /// Indices into `aggregate.listeners`.
    pub listeners: Vec<usize>,
    /// Indices into `aggregate.remotes`.
    pub remotes: Vec<usize>,
    /// Indices into `snapshot.sockets` that pass the filter.
    pub sockets: Vec<usize>,
    /// Indices into `snapshot.sockets` behind the open detail, oldest first.
    pub detail: Vec<usize>,
}

/// Sorts `0..n` by `key`, ties in original order. Each key is computed once: keys may look
/// up ages or process names, and the socket list can be 100k rows.
fn order<K: Ord>(n: usize, key: impl Fn(usize) -> K, descending: bool) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    if descending {
        v.sort_by_cached_key(|&i| std::cmp::Reverse(key(i)));
    } else {
        v.sort_by_cached_key(|&i| key(i));
    }
    v
}

/// A sortable cell, typed so that sorting formats nothing: numbers, then addresses
/// (numerically, v4 before v6), then text borrowed from the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Num(u64),
    Addr(IpAddr, u16),
    /// Text sorts by its exact bytes (a name's raw bytes, not its escaped form).
    Text(&'a [u8]),
}

fn phase_rank(p: AlertPhase) -> u8 {
    match p {
        AlertPhase::Firing => 0,
        AlertPhase::Pending => 1,
        AlertPhase::Resolved => 2,
    }
}

/// Alerts in display order: firing, pending, resolved; worse and bigger first.
pub fn alert_order(alerts: &[Alert]) -> Vec<usize> {
    let mut v: Vec<usize> = (0..alerts.len()).collect();
    v.sort_by(|&a, &b| {
        let (x, y) = (&alerts[a], &alerts[b]);
        phase_rank(x.phase)
            .cmp(&phase_rank(y.phase))
            .then(y.finding.severity.cmp(&x.finding.severity))
            .then(y.finding.count.cmp(&x.finding.count))
    });
    v
}

/// TIME_WAIT lasts this long on Linux, so its age is exact from the remaining timer.
const TIME_WAIT_MS: i64 = 60_000;

/// Socket `i`'s age in its state in milliseconds, and whether it is only a lower bound:
/// exact for TIME_WAIT from its timer, otherwise the analyzer's (the age findings call
/// "oldest").
pub fn socket_age(an: &Analysis, i: usize, s: &SocketRecord) -> Option<(i64, bool)> {
    if s.timer == TimerKind::TimeWait {
        return Some((TIME_WAIT_MS - i64::from(s.expires_ms), false));
    }
    an.ages
        .get(i)
        .copied()
        .flatten()
        .map(|a| (i64::from(a.secs) * 1000, a.lower_bound))
}

fn socket_key<'a>(snap: &'a Snapshot, an: &Analysis, i: usize, col: usize) -> Key<'a> {
    let s = &snap.sockets[i];
    match col {
        0 => Key::Text(s.state.netstat_name().as_bytes()),
        1 => Key::Addr(s.local.ip, s.local.port),
        2 => Key::Addr(s.remote.ip, s.remote.port),
        3 => Key::Text(
            s.owner
                .pid()
                .and_then(|p| snap.processes.get(&p))
                .map_or(&[][..], |p| p.comm.raw_bytes()),
        ),
        4 => Key::Num(u64::from(s.recv_q)),
        5 => Key::Num(u64::from(s.send_q)),
        6 => Key::Num(u64::from(s.expires_ms)),
        8 => Key::Num(s.tcp_info.map_or(0, |i| u64::from(i.last_data_recv_ms))),
        _ => Key::Num(socket_age(an, i, s).map_or(0, |(ms, _)| ms.max(0) as u64)),
    }
}

/// Rows of one view, computed from `app`'s data. Only the shown view's rows are computed
/// (per tick, and again on a view switch, sort or filter change): at 10k sockets sorting
/// every view every tick was a measurable share of the dashboard's CPU.
/// `filtered` are the sockets passing the filter, in snapshot order (used by Sockets, and
/// by Processes when a filter is set).
pub fn compute(
    data: Option<(&Snapshot, &Analysis)>,
    sort: &[SortState; 4],
    detail: Option<&DetailTarget>,
    view: View,
    filtered: Option<Vec<usize>>,
) -> Rows {
    let Some((snap, an)) = data else {
        return Rows::default();
    };
    let agg = &an.aggregate;
    let state_col = |c: usize, fixed: usize| STATE_COLUMNS.get(c.wrapping_sub(fixed)).copied();
    let mut rows = Rows {
        alerts: alert_order(&an.alerts),
        ..Rows::default()
    };
    match view {
        View::Overview | View::StateMachine => {}
        View::Processes => {
            // A filter narrows the rows only where the socket list is there to filter.
            let filtered = filtered.filter(|_| process_table::can_filter(snap, agg));
            let all = process_table::rows_for(snap, agg, filtered.as_deref());
            rows.processes = process_table::sorted(all, sort[0]);
        }
        View::Listeners => {
            let s = sort[1];
            rows.listeners = order(
                agg.listeners.len(),
                |i| {
                    let l = &agg.listeners[i];
                    match s.column {
                        0 => Key::Addr(l.local.ip, l.local.port),
                        1 => Key::Text(l.comm.as_ref().map_or(&[][..], Name::raw_bytes)),
                        2 => Key::Num(l.syn_recv()),
                        3 => Key::Num(u64::from(l.backlog)),
                        4 => Key::Num(fill_permille(l.syn_recv(), l.backlog)),
                        5 => Key::Num(u64::from(l.accept_queue)),
                        6 => Key::Num(l.states.get(TcpState::Established)),
                        _ => Key::Num(l.states.get(TcpState::CloseWait)),
                    }
                },
                s.descending,
            );
        }
        View::Remotes => {
            let s = sort[2];
            rows.remotes = order(
                agg.remotes.len(),
                |i| {
                    let r = &agg.remotes[i];
                    match s.column {
                        0 => Key::Addr(r.ip, 0),
                        1 => Key::Num(r.states.total()),
                        c => Key::Num(state_col(c, 2).map_or(0, |st| r.states.get(st))),
                    }
                },
                s.descending,
            );
        }
        View::Sockets => {
            let filtered = filtered.unwrap_or_default();
            let s = sort[3];
            let by = order(
                filtered.len(),
                |j| socket_key(snap, an, filtered[j], s.column),
                s.descending,
            );
            rows.sockets = by.into_iter().map(|j| filtered[j]).collect();
        }
        View::Detail => {
            if let Some(t) = detail {
                let idx: Vec<usize> = (0..snap.sockets.len())
                    .filter(|&i| in_detail(t, &snap.sockets[i]))
                    .collect();
                let by = order(idx.len(), |j| socket_key(snap, an, idx[j], 7), true);
                rows.detail = by.into_iter().map(|j| idx[j]).collect();
            }
        }
    }
    rows
}

/// What a selection points at, so it stays on the same row when rows re-sort or a new
/// tick arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKey {
    /// An alert, by rule and subject identity ([`Subject::identity`]).
    Alert(RuleId, Subject),
    /// A process.
    Pid(u32),
    /// A Processes row that is not a process (`(ownerless)`, …).
    Unlisted(RowKind),
    /// A unit or container row of the grouped Processes view.
    Group(GroupRow),
    /// A listener.
    Listener(Endpoint),
    /// A remote address.
    Remote(IpAddr),
    /// A TCP or UDP socket.
    Socket(SocketKey),
    /// A UNIX socket, by inode.
    Unix(u64),
    /// A fixed position (the state diagram).
    Index(usize),
}

/// The key of the row at `pos` in view `v`.
pub fn key_at(r: &Rows, snap: &Snapshot, an: &Analysis, v: View, pos: usize) -> Option<RowKey> {
    Some(match v {
        View::Overview => {
            let f = &an.alerts.get(*r.alerts.get(pos)?)?.finding;
            RowKey::Alert(f.rule, f.subject.identity())
        }
        View::Processes => {
            let p = r.processes.get(pos)?;
            p.pid.map_or(RowKey::Unlisted(p.kind), RowKey::Pid)
        }
        View::Listeners => {
            RowKey::Listener(an.aggregate.listeners.get(*r.listeners.get(pos)?)?.local)
        }
        View::Remotes => RowKey::Remote(an.aggregate.remotes.get(*r.remotes.get(pos)?)?.ip),
        View::Sockets => RowKey::Socket(SocketKey::of(snap.sockets.get(*r.sockets.get(pos)?)?)),
        View::Detail => RowKey::Socket(SocketKey::of(snap.sockets.get(*r.detail.get(pos)?)?)),
        View::StateMachine => RowKey::Index(pos),
    })
}
