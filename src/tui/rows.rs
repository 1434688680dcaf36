//! Row orders for the tables: which rows each view lists, in which order, after sorting and
//! filtering. Computed in [`crate::tui::app::App`] when data, sort or filter change, so
//! drawing only reads them. Column lists live here because sorting and headers share them.

use std::net::IpAddr;

use crate::analyze::engine::Analysis;
use crate::analyze::finding::{Alert, AlertPhase, Subject};
use crate::analyze::process_rows::RowKind;
use crate::model::listener_matches;
use crate::model::RuleId;
use crate::model::{Endpoint, Snapshot, SocketRecord, TcpState};
use crate::tui::app::{App, DetailTarget};
use crate::tui::history::SocketKey;
use crate::tui::keys::View;
use crate::tui::processes::{self, ProcRow};
use crate::tui::sockets::socket_age;

/// Sort column and direction of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortState {
    /// Index into the table's column list.
    pub column: usize,
    /// Largest (or last) first.
    pub descending: bool,
}

/// The state columns' order (and sort-column order): a connection's life, as the Overview's
/// histogram shows it, not the kernel's numbering.
pub use crate::tui::histogram::LIFECYCLE as STATE_COLUMNS;

/// Processes table: fixed columns, then one per state in [`STATE_COLUMNS`] order.
pub const PROCESS_COLUMNS: [&str; 4] = ["PID", "COMMAND", "USER", "TOTAL"];
/// Listeners table columns.
pub const LISTENER_COLUMNS: [&str; 8] = [
    "LOCAL",
    "PROCESS",
    "SYN_RECV",
    "BACKLOG",
    "FILL",
    "ACCEPT_Q",
    "ESTAB",
    "CLOSE_WAIT",
];
/// Remotes table: fixed columns, then one per state.
pub const REMOTE_COLUMNS: [&str; 2] = ["REMOTE", "TOTAL"];
/// Sockets table columns.
pub const SOCKET_COLUMNS: [&str; 9] = [
    "STATE", "LOCAL", "REMOTE", "PROCESS", "RECV-Q", "SEND-Q", "TIMER", "AGE", "IDLE",
];

/// Column count of sort slot `slot` (0 processes, 1 listeners, 2 remotes, 3 sockets).
pub fn column_count(slot: usize) -> usize {
    match slot {
        0 => PROCESS_COLUMNS.len() + STATE_COLUMNS.len(),
        1 => LISTENER_COLUMNS.len(),
        2 => REMOTE_COLUMNS.len() + STATE_COLUMNS.len(),
        _ => SOCKET_COLUMNS.len(),
    }
}

/// The name of column `col` of sort slot `slot`.
pub fn column_name(slot: usize, col: usize) -> &'static str {
    let (fixed, with_states): (&[&'static str], bool) = match slot {
        0 => (&PROCESS_COLUMNS, true),
        1 => (&LISTENER_COLUMNS, false),
        2 => (&REMOTE_COLUMNS, true),
        _ => (&SOCKET_COLUMNS, false),
    };
    match fixed.get(col) {
        Some(n) => n,
        None if with_states => STATE_COLUMNS
            .get(col - fixed.len())
            .map_or("?", |s| s.netstat_name()),
        None => "?",
    }
}

/// The sorts a fresh dashboard starts with: busiest first everywhere, oldest sockets first.
pub fn default_sorts() -> [SortState; 4] {
    let desc = |column| SortState {
        column,
        descending: true,
    };
    [desc(3), desc(2), desc(1), desc(7)]
}

/// Row orders; only the shown view's list (and the alerts) is filled, see [`compute`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    /// Indices into `analysis.alerts`: firing, then pending, then resolved.
    pub alerts: Vec<usize>,
    /// The Processes view's rows in display order (see [`crate::tui::processes`]).
    pub processes: Vec<ProcRow>,
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
    Text(&'a str),
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

/// The state a rule is about, when it is about one.
pub fn rule_state(rule: RuleId) -> Option<TcpState> {
    match rule {
        RuleId::CloseWaitLeak => Some(TcpState::CloseWait),
        RuleId::SynFlood => Some(TcpState::SynRecv),
        RuleId::TimeWaitStorm => Some(TcpState::TimeWait),
        RuleId::FinWait2Buildup => Some(TcpState::FinWait2),
        RuleId::AcceptQueueOverflow | RuleId::Orphans => None,
    }
}

/// Does socket `s` belong to the drill-down `t`?
pub fn in_detail(t: &DetailTarget, s: &SocketRecord) -> bool {
    match t {
        DetailTarget::Process(pid) => s.owner.pid() == Some(*pid),
        DetailTarget::Listener(ep) => listener_matches(ep, &s.local),
        DetailTarget::Remote(ip) => {
            s.remote.ip == *ip && !matches!(s.state, TcpState::Listen | TcpState::Close)
        }
        DetailTarget::State(st) => s.state == *st,
        DetailTarget::Socket(key, pid) => match pid {
            Some(p) => s.owner.pid() == Some(*p),
            None => SocketKey::of(s) == *key,
        },
        DetailTarget::Finding(rule, subject) => {
            let state_ok = rule_state(*rule).is_none_or(|st| s.state == st);
            state_ok
                && match subject {
                    Subject::Process { pid, .. } => s.owner.pid() == Some(*pid),
                    Subject::Listener { local, .. } => listener_matches(local, &s.local),
                    Subject::Destination { remote } => s.remote == *remote,
                    Subject::Host => true,
                }
        }
    }
}

fn socket_key<'a>(snap: &'a Snapshot, an: &Analysis, i: usize, col: usize) -> Key<'a> {
    let s = &snap.sockets[i];
    match col {
        0 => Key::Text(s.state.netstat_name()),
        1 => Key::Addr(s.local.ip, s.local.port),
        2 => Key::Addr(s.remote.ip, s.remote.port),
        3 => Key::Text(
            s.owner
                .pid()
                .and_then(|p| snap.processes.get(&p))
                .map_or("", |p| p.comm.as_str()),
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
pub fn compute(app: &App, view: View, filtered: Option<Vec<usize>>) -> Rows {
    let Some((snap, an)) = app.data() else {
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
            let filtered = filtered.filter(|_| processes::can_filter(snap, agg));
            let all = processes::rows_for(snap, agg, filtered.as_deref());
            rows.processes = processes::sorted(all, app.sort[0]);
        }
        View::Listeners => {
            let s = app.sort[1];
            rows.listeners = order(
                agg.listeners.len(),
                |i| {
                    let l = &agg.listeners[i];
                    match s.column {
                        0 => Key::Addr(l.local.ip, l.local.port),
                        1 => Key::Text(l.comm.as_deref().unwrap_or_default()),
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
            let s = app.sort[2];
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
            let s = app.sort[3];
            let by = order(
                filtered.len(),
                |j| socket_key(snap, an, filtered[j], s.column),
                s.descending,
            );
            rows.sockets = by.into_iter().map(|j| filtered[j]).collect();
        }
        View::Detail => {
            if let Some(t) = &app.detail {
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
    /// An alert, by rule and subject.
    Alert(RuleId, Subject),
    /// A process.
    Pid(u32),
    /// A Processes row that is not a process (`(ownerless)`, …).
    Unlisted(RowKind),
    /// A listener.
    Listener(Endpoint),
    /// A remote address.
    Remote(IpAddr),
    /// A socket.
    Socket(SocketKey),
    /// A fixed position (the state diagram).
    Index(usize),
}

/// The key of the row at `pos` in view `v`.
pub fn key_at(app: &App, v: View, pos: usize) -> Option<RowKey> {
    let (snap, an) = app.data()?;
    let r = &app.rows;
    Some(match v {
        View::Overview => {
            let f = &an.alerts.get(*r.alerts.get(pos)?)?.finding;
            RowKey::Alert(f.rule, f.subject.clone())
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

/// Where the row with `key` now is in view `v`.
pub fn position(app: &App, v: View, key: &RowKey) -> Option<usize> {
    (0..app.row_count(v)).find(|&p| key_at(app, v, p).as_ref() == Some(key))
}

/// SYN_RECV as a share of the backlog, in permille (0 when the backlog is unknown).
pub fn fill_permille(syn_recv: u64, backlog: u32) -> u64 {
    if backlog == 0 {
        0
    } else {
        syn_recv.saturating_mul(1000) / u64::from(backlog)
    }
}

/// Compares two sort states' columns for header markers.
pub fn marker(s: SortState, col: usize) -> &'static str {
    match (s.column == col, s.descending) {
        (true, true) => "▼",
        (true, false) => "▲",
        _ => "",
    }
}
