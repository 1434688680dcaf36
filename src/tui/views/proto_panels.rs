//! The panels that change with the shown protocol when it is UDP or UNIX: the states
//! panel (spelled as ss spells them: `UNCONN`, `ESTAB`, `LISTEN`), the Processes table
//! (states, drops, queues, from [`crate::analyze::proto_counts`]), the Overview's top
//! offenders (UDP: drops by process; UNIX: the fullest listeners) and the note TCP-only
//! views show. Pure over `&App`.

use ratatui::layout::{Direction, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::analyze::process_rows::RowKind;
use crate::analyze::proto_counts::ProtoAggregate;
use crate::model::{Protocol, TcpState};
use crate::tui::state::app::App;
use crate::tui::state::columns::{PROCESS_COLUMNS, STATE_COLUMNS};
use crate::tui::views::fmt;
use crate::tui::views::table::{self, Column, Spec};
use crate::tui::views::theme::Theme;

/// The states a protocol's sockets can be in, in the order the panels list them.
pub fn states(p: Protocol) -> &'static [TcpState] {
    match p {
        Protocol::Udp => &[TcpState::Close, TcpState::Established],
        Protocol::Unix => &[
            TcpState::Listen,
            TcpState::SynSent,
            TcpState::Established,
            TcpState::Close,
        ],
        Protocol::Tcp => &STATE_COLUMNS,
    }
}

/// The note a protocol that was not collected shows in place of zeros; the flag that asks
/// for it when it was not asked for.
pub fn not_collected(app: &App, p: Protocol) -> String {
    let hint = if app.wanted.contains(p) {
        String::new()
    } else {
        format!(" (start sockscope with {})", p.flag())
    };
    format!(
        "{} was not collected in this snapshot{hint}",
        p.name().to_uppercase()
    )
}

/// The states panel of a UDP/UNIX aggregate: one bar per state; UNIX adds its socket
/// types (`u_str`, `u_dgr`, `u_seq`).
pub fn draw_histogram(frame: &mut Frame, area: Rect, app: &App, agg: &ProtoAggregate) {
    let t = Theme::new(app.color);
    let title = format!(" {} states ", agg.protocol.name());
    if !agg.collected {
        frame.render_widget(
            Paragraph::new(not_collected(app, agg.protocol))
                .style(t.dim())
                .wrap(Wrap { trim: true })
                .block(Block::bordered().title(title)),
            area,
        );
        return;
    }
    let mut bars: Vec<Bar> = states(agg.protocol)
        .iter()
        .map(|&s| {
            let n = agg.states.get(s);
            Bar::default()
                .label(format!("{:<11}", agg.protocol.state_name(s)))
                .value(n)
                .text_value(fmt::count(n))
                .style(t.state(s))
                .value_style(t.state(s).add_modifier(Modifier::REVERSED))
        })
        .collect();
    // UNIX types count sockets too, so they share the bars' scale (UDP's drops do not:
    // the header carries them).
    let extra: Vec<(&str, u64)> = match agg.protocol {
        Protocol::Unix => vec![
            ("u_str", agg.unix_kinds[0]),
            ("u_dgr", agg.unix_kinds[1]),
            ("u_seq", agg.unix_kinds[2]),
        ],
        _ => Vec::new(),
    };
    for (label, n) in extra {
        bars.push(
            Bar::default()
                .label(format!("{label:<11}"))
                .value(n)
                .text_value(fmt::count(n))
                .style(t.dim())
                .value_style(t.dim().add_modifier(Modifier::REVERSED)),
        );
    }
    let chart = BarChart::default()
        .direction(Direction::Horizontal)
        .data(BarGroup::default().bars(&bars))
        .bar_width(1)
        .bar_gap(1)
        .label_style(Style::new())
        .block(Block::bordered().title(title));
    frame.render_widget(chart, area);
}

/// Column ids past the TCP process columns: drops and receive queue.
const DROPS_COL: usize = 100;
const RECV_Q_COL: usize = 101;

/// The Processes view of a UDP/UNIX protocol: pid, command, total, one column per state,
/// UDP's drops, the summed receive queue, user; rows for sockets no process holds last.
pub fn draw_processes(frame: &mut Frame, area: Rect, app: &App, agg: &ProtoAggregate) {
    let t = Theme::new(app.color);
    let rows = &app.rows.processes;
    let proto = agg.protocol;
    let mut columns = vec![
        Column::num(0, PROCESS_COLUMNS[0], 7),
        Column::text(1, PROCESS_COLUMNS[1], 15),
        Column::num(3, PROCESS_COLUMNS[3], 6),
    ];
    if proto == Protocol::Udp {
        columns.push(Column::num(DROPS_COL, "DROPS", 6));
    }
    columns.push(Column::num(RECV_Q_COL, "RECV-Q", 7));
    for &s in states(proto) {
        let pos = STATE_COLUMNS.iter().position(|&x| x == s).unwrap_or(0);
        let title = proto.state_name(s);
        columns.push(Column::num(
            PROCESS_COLUMNS.len() + pos,
            title,
            title.len().max(6) as u16,
        ));
    }
    columns.push(Column::text(2, PROCESS_COLUMNS[2], 10));
    let cell = |pos: usize, col: usize| {
        let r = &rows[pos];
        let marker = match r.kind {
            RowKind::Process => Style::new(),
            RowKind::Unattributed => t.warn(),
            _ => t.dim(),
        };
        match col {
            0 => r
                .pid
                .map_or(("-".into(), t.dim()), |p| (p.to_string(), t.title())),
            1 => (fmt::name(&r.comm, 15), marker),
            2 => (fmt::name(&r.user, 10), t.dim()),
            3 => (fmt::count(r.states.total()), t.title()),
            DROPS_COL => {
                let style = if r.drops > 0 { t.hot() } else { t.dim() };
                (fmt::count(r.drops), style)
            }
            RECV_Q_COL => (fmt::count(r.recv_q), t.dim()),
            c => {
                let st = STATE_COLUMNS[c - PROCESS_COLUMNS.len()];
                table::state_count(t, st, r.states.get(st))
            }
        }
    };
    let procs = rows.iter().filter(|r| r.kind == RowKind::Process).count();
    let shown: u64 = rows.iter().map(|r| r.states.total()).sum();
    let sockets = if app.filter.is_empty() {
        format!("{} sockets", fmt::count(shown))
    } else {
        format!(
            "{} of {} sockets match",
            fmt::count(shown),
            fmt::count(agg.total())
        )
    };
    let spec = Spec {
        title: format!(
            " {} processes ({procs}) · {sockets} · most sockets first · Enter sockets ",
            proto.name()
        ),
        columns,
        sort: None,
        total: rows.len(),
        selected: app.selected(),
        cell: &cell,
        theme: t,
        empty: if !agg.collected {
            "not collected in this snapshot"
        } else if app.filter.is_empty() {
            "no sockets"
        } else {
            "no socket matches the filter (Esc clears it)"
        },
    };
    table::draw(frame, area, &spec);
}

/// The offenders panel's lines for a UDP/UNIX aggregate, `w` columns wide: UDP processes
/// by drops (then receive queue), UNIX listeners fullest first (`pending/backlog`).
pub fn offender_lines(app: &App, agg: &ProtoAggregate, w: usize) -> Vec<Line<'static>> {
    let t = Theme::new(app.color);
    let mut lines = Vec::new();
    if !agg.collected {
        lines.push(Line::styled(not_collected(app, agg.protocol), t.dim()));
        return lines;
    }
    let row = |name: String, nums: String, hot: bool| {
        let room = w.saturating_sub(nums.chars().count() + 3);
        Line::from(vec![
            Span::raw(format!("  {:<room$}", fmt::fit(&name, room))),
            Span::styled(format!(" {nums}"), if hot { t.hot() } else { t.title() }),
        ])
    };
    match agg.protocol {
        Protocol::Unix => {
            lines.push(Line::styled(
                "UNIX listeners: pending/backlog",
                t.state(TcpState::Listen),
            ));
            if agg.unix_listeners.is_empty() {
                lines.push(Line::styled("  none", t.dim()));
            }
            for l in &agg.unix_listeners {
                let nums = format!("{}/{}", fmt::maybe(l.pending), fmt::maybe(l.backlog));
                let room = w.saturating_sub(nums.chars().count() + 3);
                let name = l
                    .name
                    .as_ref()
                    .map_or_else(|| "(unnamed)".into(), |n| fmt::unix_name(n, room));
                let full = matches!((l.pending, l.backlog), (Some(p), Some(b)) if p > b);
                lines.push(row(name, nums, full));
            }
        }
        _ => {
            lines.push(Line::styled(
                "UDP drops by process (recv-q)",
                t.state(TcpState::Close),
            ));
            let mut procs: Vec<_> = agg.processes.iter().collect();
            procs.sort_by_key(|p| (std::cmp::Reverse(p.drops), std::cmp::Reverse(p.recv_q)));
            if procs.is_empty() {
                lines.push(Line::styled("  none", t.dim()));
            }
            for p in procs {
                let name = format!("{}[{}]", p.process.comm, p.process.pid);
                let nums = format!("{} ({})", fmt::count(p.drops), fmt::count(p.recv_q));
                lines.push(row(name, nums, p.drops > 0));
            }
        }
    }
    lines
}

/// What a TCP-only view (Listeners, Remotes, the state diagram) shows while another
/// protocol is: where that protocol's sockets are, and how to get back to TCP.
pub fn draw_tcp_only(frame: &mut Frame, area: Rect, app: &App, what: &str) {
    let t = Theme::new(app.color);
    let p = app.protocol();
    let text = vec![
        Line::raw(format!(
            "{what} are TCP's. {} sockets: Processes (2), Sockets (5); Enter on one opens it.",
            p.name().to_uppercase()
        )),
        Line::styled("p switches protocol.", t.dim()),
    ];
    frame.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(format!(" {what} · TCP only "))),
        area,
    );
}
