//! The tables' columns and sorts: which columns each table has, their names, the state
//! columns' lifecycle order, and each table's sort. Shared by the row orders (which sort by
//! them) and the views (which head their columns with them).

use crate::model::TcpState;

/// Sort column and direction of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortState {
    /// Index into the table's column list.
    pub column: usize,
    /// Largest (or last) first.
    pub descending: bool,
}

/// The state columns' order (and sort-column order): a connection's life, as the Overview's
/// histogram shows it (handshake, open, closing, waiting), not the kernel's numbering.
pub const STATE_COLUMNS: [TcpState; 11] = [
    TcpState::Listen,
    TcpState::SynSent,
    TcpState::SynRecv,
    TcpState::Established,
    TcpState::FinWait1,
    TcpState::FinWait2,
    TcpState::Closing,
    TcpState::TimeWait,
    TcpState::CloseWait,
    TcpState::LastAck,
    TcpState::Close,
];

/// The State machine view's selection order: the diagram's boxes as they are read, row by
/// row and left to right, so `j`/`k` move along the picture (the kernel's numbering jumps
/// across it).
pub const DIAGRAM_STATES: [TcpState; 11] = [
    TcpState::SynSent,
    TcpState::Close,
    TcpState::Listen,
    TcpState::Established,
    TcpState::SynRecv,
    TcpState::FinWait1,
    TcpState::CloseWait,
    TcpState::Closing,
    TcpState::FinWait2,
    TcpState::LastAck,
    TcpState::TimeWait,
];

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
