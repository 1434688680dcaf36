//! The Sockets view for UDP and UNIX, and the cells the Detail view reuses for them: UDP
//! with its queues, drops and receive-buffer fill; UNIX with type, queues (`-` where the
//! source gave none, never 0), the path or `@abstract` name (escaped, fitted to its column
//! with `…`), inode, peer inode and owner. Pure over `&App`.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::Frame;

use crate::model::{Owner, Protocol, Snapshot, SocketRecord, UnixRecord};
use crate::tui::state::app::App;
use crate::tui::views::fmt;
use crate::tui::views::table::{self, Column, Spec};
use crate::tui::views::theme::Theme;

/// UDP table columns, by id.
pub const UDP_COLUMNS: [&str; 8] = [
    "STATE", "LOCAL", "PEER", "PROCESS", "RECV-Q", "SEND-Q", "DROPS", "RCVBUF",
];

/// UNIX table columns, by id.
pub const UNIX_COLUMNS: [&str; 8] = [
    "TYPE", "STATE", "RECV-Q", "SEND-Q", "NAME", "INODE", "PEER", "PROCESS",
];

/// The UNIX columns other than NAME, in priority order, with their widths: NAME takes
/// what they leave (inodes are 10 wide so a number is dropped with its column, never cut).
const UNIX_FIXED: [(usize, u16, bool); 7] = [
    (0, 5, false),
    (1, 6, false),
    (2, 6, true),
    (3, 6, true),
    (7, PROCESS_W, false),
    (5, 10, true),
    (6, 10, true),
];

/// The narrowest the NAME column gets before lower-priority columns give way.
const UNIX_NAME_MIN: u16 = 20;

/// Width of the PROCESS column of the UDP and UNIX tables.
const PROCESS_W: u16 = 18;

/// A socket's owner in at most `width` columns: the command escaped and cut with `…` so
/// that its `[pid]` is always whole (a number is never cut).
pub fn owner_fit(snap: &Snapshot, owner: Owner, width: usize) -> String {
    match owner {
        Owner::Process(pid) | Owner::ViaListener(pid) => {
            let tag = format!("[{pid}]");
            match snap.processes.get(&pid) {
                Some(p) => {
                    let room = width.saturating_sub(tag.len());
                    format!("{}{tag}", fmt::name(&p.comm, room))
                }
                None => tag,
            }
        }
        Owner::Ownerless => "(ownerless)".into(),
        Owner::Unattributed => "(unattributed)".into(),
        Owner::Unresolved => "-".into(),
    }
}

/// A UNIX socket's owner, as the Detail view prints it (escaped comm, whole).
pub fn unix_owner_text(snap: &Snapshot, s: &UnixRecord) -> String {
    owner_fit(snap, s.owner, usize::MAX)
}

/// How full a UDP socket's receive buffer is (`37%`), or `-` when its size is unknown.
pub fn rcvbuf_fill(s: &SocketRecord) -> String {
    s.skmem
        .and_then(|m| m.rcv_fill())
        .map_or_else(|| "-".into(), |f| format!("{:.0}%", f * 100.0))
}

/// UDP socket `s`'s cell for column `col` of [`UDP_COLUMNS`].
pub fn udp_cell(t: Theme, snap: &Snapshot, s: &SocketRecord, col: usize) -> (String, Style) {
    let drops = s.skmem.map(|m| m.drops);
    match col {
        0 => (Protocol::Udp.state_name(s.state).into(), t.state(s.state)),
        1 => (s.local.to_string(), Style::new()),
        2 => (s.remote.to_string(), Style::new()),
        3 => (owner_fit(snap, s.owner, usize::from(PROCESS_W)), t.dim()),
        4 => {
            let style = if s.recv_q > 0 { t.warn() } else { t.dim() };
            (fmt::count(u64::from(s.recv_q)), style)
        }
        5 => (fmt::count(u64::from(s.send_q)), t.dim()),
        6 => {
            let style = if drops.is_some_and(|d| d > 0) {
                t.hot()
            } else {
                t.dim()
            };
            (fmt::maybe(drops), style)
        }
        _ => {
            let full = s.skmem.and_then(|m| m.rcv_fill()).is_some_and(|f| f >= 0.9);
            (rcvbuf_fill(s), if full { t.hot() } else { t.dim() })
        }
    }
}

/// The UDP columns in priority order.
pub fn udp_columns() -> Vec<Column> {
    let c = UDP_COLUMNS;
    vec![
        Column::text(0, c[0], 6),
        Column::text(1, c[1], 21),
        Column::num(6, c[6], 6),
        Column::num(4, c[4], 6),
        Column::text(3, c[3], PROCESS_W),
        Column::num(7, c[7], 6),
        Column::text(2, c[2], 21),
        Column::num(5, c[5], 6),
    ]
}

/// The UNIX columns for a table `width` cells wide (inside its border), in priority order,
/// and the NAME column's width (what the fixed columns that fit leave, at least
/// `UNIX_NAME_MIN` columns).
pub fn unix_columns(width: u16) -> (Vec<Column>, u16) {
    let mut used = UNIX_NAME_MIN;
    let mut fixed = Vec::new();
    for &(id, w, numeric) in &UNIX_FIXED {
        let w = w.max(UNIX_COLUMNS[id].len() as u16 + 1);
        if used + w + 1 > width {
            continue;
        }
        used += w + 1;
        fixed.push(if numeric {
            Column::num(id, UNIX_COLUMNS[id], w)
        } else {
            Column::text(id, UNIX_COLUMNS[id], w)
        });
    }
    let name_w = UNIX_NAME_MIN + width.saturating_sub(used);
    let mut cols = fixed;
    cols.insert(2, Column::text(4, UNIX_COLUMNS[4], name_w));
    (cols, name_w)
}

/// UNIX socket `s`'s cell for column `col` of [`UNIX_COLUMNS`]; the name fitted to
/// `name_w` columns.
pub fn unix_cell(
    t: Theme,
    snap: &Snapshot,
    s: &UnixRecord,
    col: usize,
    name_w: u16,
) -> (String, Style) {
    let full = s.listen_queue().is_some_and(|(p, b)| p > b);
    match col {
        0 => (s.kind.ss_name().into(), t.dim()),
        1 => (Protocol::Unix.state_name(s.state).into(), t.state(s.state)),
        2 => {
            let style = if full {
                t.hot()
            } else if s.recv_q.is_some_and(|q| q > 0) {
                t.warn()
            } else {
                t.dim()
            };
            (fmt::maybe(s.recv_q), style)
        }
        3 => (fmt::maybe(s.send_q), t.dim()),
        4 => match &s.name {
            Some(n) => (fmt::unix_name(n, usize::from(name_w)), Style::new()),
            None => ("*".into(), t.dim()),
        },
        5 => (s.inode.to_string(), t.dim()),
        6 => (s.peer_inode.map_or("-".into(), |p| p.to_string()), t.dim()),
        _ => (owner_fit(snap, s.owner, usize::from(PROCESS_W)), t.dim()),
    }
}

/// The table of the protocol's sockets at `rows` (indices into its list), titled `title`.
pub fn draw_table(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    rows: &[usize],
    title: String,
    empty: &str,
) {
    let Some((snap, _)) = app.data() else {
        return;
    };
    let t = Theme::new(app.color);
    let (columns, name_w) = match app.protocol() {
        Protocol::Unix => unix_columns(area.width.saturating_sub(2)),
        _ => (udp_columns(), 0),
    };
    let proto = app.protocol();
    let cellf = |pos: usize, col: usize| match proto {
        Protocol::Unix => unix_cell(t, snap, &snap.unix[rows[pos]], col, name_w),
        _ => udp_cell(t, snap, &snap.udp[rows[pos]], col),
    };
    let spec = Spec {
        title,
        columns,
        sort: None,
        total: rows.len(),
        selected: app.selected(),
        cell: &cellf,
        theme: t,
        empty,
    };
    table::draw(frame, area, &spec);
}

/// Draws the Sockets view of the shown UDP or UNIX protocol in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let Some((snap, _)) = app.data() else {
        return;
    };
    let proto = app.protocol();
    let all = match proto {
        Protocol::Unix => snap.unix.len(),
        _ => snap.udp.len(),
    };
    let rows = &app.rows.sockets;
    let filter = if app.filter.is_empty() {
        "/ to filter".to_string()
    } else {
        format!("filter `{}`", app.filter)
    };
    let order = match proto {
        Protocol::Unix => "fullest first",
        _ => "most drops first",
    };
    let title = format!(
        " {} sockets ({} of {all}) · {filter} · {order} ",
        proto.name(),
        rows.len()
    );
    let empty = if !snap.protocols.contains(proto) {
        "not collected in this snapshot"
    } else if app.filter.is_empty() {
        "no sockets"
    } else {
        "no socket matches the filter (Esc clears it)"
    };
    draw_table(frame, area, app, rows, title, empty);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_name_column_takes_what_the_others_leave() {
        let (cols, name_w) = unix_columns(78);
        let used: u16 = cols.iter().map(|c| c.width).sum::<u16>() + cols.len() as u16 - 1;
        assert!(used <= 78, "{used}");
        assert!(name_w >= UNIX_NAME_MIN);
        // At 80 columns the peer inode gives way; no number column is ever narrower than
        // its widest value.
        assert!(cols.iter().all(|c| c.id != 6));
        let (wide, wide_name) = unix_columns(198);
        assert_eq!(wide.len(), 8);
        assert!(wide_name > name_w);
    }
}
