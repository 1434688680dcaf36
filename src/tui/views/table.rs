//! A windowed table shared by the list views: picks the columns that fit (by priority),
//! marks the sort column, shows the selection's position (`12/2203`) in the title, and
//! builds cells only for the visible rows so a 100k-socket list
//! costs no more to draw than a screenful. Pure over its inputs.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Row, Table, TableState};
use ratatui::Frame;

use crate::model::TcpState;
use crate::tui::state::columns::{marker, SortState};
use crate::tui::views::fmt;
use crate::tui::views::theme::Theme;

/// One column of a list view.
#[derive(Debug, Clone)]
pub struct Column {
    /// The column's id (its index in the view's sort columns).
    pub id: usize,
    /// Header text.
    pub title: String,
    /// Width in cells.
    pub width: u16,
    /// Right-aligned numbers.
    pub numeric: bool,
    /// Widest the column may grow to fit its visible cells from spare width (0: fixed).
    pub max_width: u16,
}

impl Column {
    /// A text column.
    pub fn text(id: usize, title: impl Into<String>, width: u16) -> Column {
        Column {
            id,
            title: title.into(),
            width,
            numeric: false,
            max_width: 0,
        }
    }

    /// A text column that grows up to `max` cells when its visible cells are wider and the
    /// table has spare width (long process names); cells are fitted to the final width.
    pub fn growing(id: usize, title: impl Into<String>, width: u16, max: u16) -> Column {
        Column {
            max_width: max,
            ..Column::text(id, title, width)
        }
    }

    /// A numeric column.
    pub fn num(id: usize, title: impl Into<String>, width: u16) -> Column {
        Column {
            id,
            title: title.into(),
            width,
            numeric: true,
            max_width: 0,
        }
    }
}

/// What a list view hands to [`draw`].
pub struct Spec<'a> {
    /// Block title.
    pub title: String,
    /// Columns in priority order; those that do not fit are dropped, the rest shown in id
    /// order.
    pub columns: Vec<Column>,
    /// The sort to mark in the header.
    pub sort: Option<SortState>,
    /// Number of rows.
    pub total: usize,
    /// Selected row.
    pub selected: usize,
    /// The text and style of (row position, column id).
    pub cell: &'a dyn Fn(usize, usize) -> (String, Style),
    /// The dashboard's theme.
    pub theme: Theme,
    /// Shown when there are no rows.
    pub empty: &'a str,
}

/// A per-state count cell: `·` for zero (less noise), else the count in the state's colour.
pub fn state_count(theme: Theme, state: TcpState, n: u64) -> (String, Style) {
    match n {
        0 => ("·".into(), theme.dim()),
        n => (fmt::count(n), theme.state(state)),
    }
}

/// Columns of `cols` (priority order) that fit in `width`, returned in id order.
pub fn fit(cols: &[Column], width: u16) -> Vec<Column> {
    let mut used = 0u16;
    let mut out: Vec<Column> = Vec::new();
    for c in cols {
        // Room for the title and a sort marker, so headers are never cut.
        let mut c = c.clone();
        c.width = c.width.max(c.title.chars().count() as u16 + 1);
        let need = c.width + u16::from(!out.is_empty());
        if used + need > width {
            continue;
        }
        used += need;
        out.push(c);
    }
    out.sort_by_key(|c| c.id);
    out
}

/// Draws the table described by `spec` in `area`.
pub fn draw(frame: &mut Frame, area: Rect, spec: &Spec) {
    let t = spec.theme;
    let mut block = Block::bordered().title(spec.title.clone());
    if spec.total > 0 {
        // Where the selection is, so a list scrolled away from its top says so.
        block = block.title_top(
            Line::from(format!(" {}/{} ", spec.selected + 1, spec.total)).right_aligned(),
        );
    }
    let inner = block.inner(area);
    let cols = fit(&spec.columns, inner.width);
    let body_h = usize::from(inner.height.saturating_sub(1)).max(1);
    let start = spec.selected.saturating_sub(body_h - 1);
    let end = (start + body_h).min(spec.total);

    let header = Row::new(cols.iter().map(|c| {
        let m = spec.sort.map_or("", |s| marker(s, c.id));
        let text = format!("{}{m}", c.title);
        let line = if c.numeric {
            Line::from(text).right_aligned()
        } else {
            Line::from(text)
        };
        Cell::from(line)
    }))
    .style(t.title());

    // Cells of the visible rows only; growing columns then take what they need of the
    // spare width, and every cell is fitted to its column (`comm…[pid]`, never a cut number).
    let mut cols = cols;
    let cells: Vec<Vec<(String, Style)>> = (start..end)
        .map(|pos| cols.iter().map(|c| (spec.cell)(pos, c.id)).collect())
        .collect();
    let used: u16 = cols.iter().map(|c| c.width).sum::<u16>()
        + u16::try_from(cols.len().saturating_sub(1)).unwrap_or(0);
    let mut spare = inner.width.saturating_sub(used);
    for (k, c) in cols.iter_mut().enumerate() {
        // A number is never cut: a numeric column takes what its widest number needs.
        let max_width = if c.numeric { u16::MAX } else { c.max_width };
        if max_width <= c.width || spare == 0 {
            continue;
        }
        let widest = cells
            .iter()
            .map(|r| unicode_width::UnicodeWidthStr::width(r[k].0.as_str()))
            .max()
            .unwrap_or(0);
        let want = u16::try_from(widest).unwrap_or(u16::MAX).min(max_width);
        let extra = want.saturating_sub(c.width).min(spare);
        c.width += extra;
        spare -= extra;
    }
    let rows: Vec<Row> = cells
        .into_iter()
        .map(|r| {
            Row::new(r.into_iter().zip(&cols).map(|((text, style), c)| {
                let text = fmt::fit(&text, usize::from(c.width));
                let line = if c.numeric {
                    Line::from(text).right_aligned()
                } else {
                    Line::from(text)
                };
                Cell::from(line.style(style))
            }))
        })
        .collect();

    if spec.total == 0 {
        let table = Table::new(
            vec![Row::new(vec![Cell::from(spec.empty.to_string())]).style(t.dim())],
            [Constraint::Min(0)],
        )
        .block(block);
        frame.render_widget(table, area);
        return;
    }

    let widths: Vec<Constraint> = cols.iter().map(|c| Constraint::Length(c.width)).collect();
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(t.selected());
    // A throwaway state: the window is already cut to the selection, so nothing needs
    // remembering between frames.
    let mut state = TableState::default().with_selected(Some(spec.selected - start));
    frame.render_stateful_widget(table, area, &mut state);
}
