//! The Processes view grouped by systemd unit or container (`o`): one row per unit or
//! container with its pids summed, the rows `summary --by unit|container` prints, then the
//! `(no unit)` / `(no process)` rows pinned below so the rows add up to the sockets shown.
//! TCP rows carry the state columns; UDP and UNIX rows their socket count. Enter opens the
//! Sockets view filtered to the row's unit or container. Drawing is pure over `&App`.

use ratatui::layout::Rect;
use ratatui::Frame;

use crate::analyze::group_rows::GroupCount;
use crate::model::Protocol;
use crate::tui::state::app::App;
use crate::tui::state::columns::{column_name, PROCESS_COLUMNS, STATE_COLUMNS};
use crate::tui::state::grouping::{count_of, is_marker};
use crate::tui::views::fmt;
use crate::tui::views::processes::state_columns;
use crate::tui::views::table::{self, Column, Spec};
use crate::tui::views::theme::Theme;

/// The pids cell: the pids while they fit in `width`, then `+N` for the rest.
fn pids_cell(pids: &[u32], width: usize) -> String {
    if pids.is_empty() {
        return "-".into();
    }
    let mut out = String::new();
    for (i, p) in pids.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let more = pids.len() - i;
        let next = format!("{out}{sep}{p}");
        let tail = if more > 1 {
            format!(",+{}", more - 1)
        } else {
            String::new()
        };
        if next.len() + tail.len() > width && i > 0 {
            out.push_str(&format!(",+{more}"));
            return out;
        }
        out = next;
    }
    out
}

fn title(app: &App, rows: &[GroupCount]) -> String {
    let word = app.grouping.word();
    let groups = rows.iter().filter(|r| !is_marker(&r.row)).count();
    let sockets: u64 = rows.iter().map(|r| count_of(r, app.proto)).sum();
    let filtered = if app.filter.is_empty() {
        String::new()
    } else {
        " matching".to_string()
    };
    format!(
        " {word}s ({groups}) · {} sockets{filtered} · sort {} · o regroup · Enter sockets ",
        fmt::count(sockets),
        column_name(0, app.sort[0].column)
    )
}

/// Draws the grouped Processes view in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let rows = &app.rows.groups;
    let Some(key) = app.grouping.key() else {
        return;
    };
    let label = key.word().to_ascii_uppercase();
    let tcp = app.proto == Protocol::Tcp;
    let mut columns = vec![
        Column::growing(1, label, 24, 64),
        Column::num(3, if tcp { PROCESS_COLUMNS[3] } else { "SOCKETS" }, 7),
    ];
    if tcp {
        columns.extend(state_columns(PROCESS_COLUMNS.len()));
    }
    columns.push(Column::text(0, "PIDS", 14));
    let cell = |pos: usize, col: usize| {
        let r = &rows[pos];
        match col {
            0 => (pids_cell(&r.pids, 14), t.dim()),
            1 if is_marker(&r.row) => (r.row.label(key), t.dim()),
            1 => (r.row.label(key), t.title()),
            3 => (fmt::count(count_of(r, app.proto)), t.title()),
            c => {
                let st = STATE_COLUMNS[c - PROCESS_COLUMNS.len()];
                table::state_count(t, st, r.tcp.get(st))
            }
        }
    };
    let spec = Spec {
        title: title(app, rows),
        columns,
        sort: Some(app.sort[0]),
        total: rows.len(),
        selected: app.selected(),
        cell: &cell,
        theme: t,
        empty: if app.filter.is_empty() {
            "no sockets"
        } else {
            "no socket matches the filter (Esc clears it)"
        },
    };
    table::draw(frame, area, &spec);
}

#[cfg(test)]
mod tests {
    use super::pids_cell;

    #[test]
    fn pids_fit_with_a_count_of_the_rest() {
        assert_eq!(pids_cell(&[], 14), "-");
        assert_eq!(pids_cell(&[812], 14), "812");
        assert_eq!(pids_cell(&[812, 813], 14), "812,813");
        assert_eq!(
            pids_cell(&[1001, 1002, 1003, 1004, 1005], 14),
            "1001,1002,+3"
        );
        assert!(pids_cell(&[1001, 1002, 1003, 1004, 1005], 14).len() <= 14);
    }
}
