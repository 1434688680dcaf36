//! The Detail view: what a drill-down opened (a process, listener, remote, state, finding
//! or one socket, whose fields come first and which is selected among its owner's): the finding's numbers when one applies, its explanation, and the sockets
//! behind it with age, queues and timers. Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use std::net::IpAddr;

use crate::analyze::engine::Analysis;
use crate::analyze::finding::{Alert, AlertPhase, Subject};
use crate::model::{Endpoint, Snapshot, StateCounts, TcpState};
use crate::tui::state::app::App;
use crate::tui::state::explain;
use crate::tui::state::history::SocketKey;
use crate::tui::state::target::DetailTarget;
use crate::tui::views::fmt;
use crate::tui::views::sockets;
use crate::tui::views::table::{self, Spec};
use crate::tui::views::theme::Theme;

/// A finding's subject as the Detail view's title words it
/// (`listener 0.0.0.0:80 nginx[42] in nginx.service`).
pub(super) fn subject_text(s: &Subject) -> String {
    match s {
        Subject::Process {
            pid,
            comm,
            user,
            unit,
            container,
        } => match (container, unit) {
            (Some(c), _) => format!("{comm}[{pid}] ({user}) in {}", c.label()),
            (None, Some(u)) => format!("{comm}[{pid}] ({user}) in {}", u.label()),
            (None, None) => format!("{comm}[{pid}] ({user})"),
        },
        Subject::Service { .. } => format!("service {s}"),
        Subject::Listener {
            local, pid, comm, ..
        } => match (comm, pid) {
            (Some(c), Some(p)) => format!("listener {local} {c}[{p}]{}", fmt::owner_in(s)),
            _ => format!("listener {local}"),
        },
        Subject::Destination { remote } => format!("destination {remote}"),
        Subject::Host => "this host".into(),
        Subject::Unowned { .. } => s.to_string(),
        Subject::Route { source, remote } => format!("from {source} to {remote}"),
        Subject::UnixListener { .. } => format!("UNIX listener {s}"),
    }
}

/// What a drill-down opened, as the Detail view's title says it.
pub fn target_text(snap: &Snapshot, t: &DetailTarget) -> String {
    match t {
        DetailTarget::Process(pid) => match snap.processes.get(pid) {
            Some(p) => format!("process {}[{pid}] user {}", p.comm, p.user),
            None => format!("process [{pid}]"),
        },
        DetailTarget::Listener(ep) => format!("listener {ep}"),
        DetailTarget::Remote(ip) => format!("remote {ip}"),
        DetailTarget::State(s) => format!("state {}", s.netstat_name()),
        DetailTarget::Finding(rule, subject) => {
            format!("finding {} on {}", rule.as_str(), subject_text(subject))
        }
        DetailTarget::Socket(..) | DetailTarget::Unix(..) => "socket".into(),
    }
}

/// The chosen socket's fields, one group per line; `None` when it has gone since.
fn socket_lines<'a>(app: &App, snap: &Snapshot, an: &Analysis, key: &SocketKey) -> Vec<Line<'a>> {
    let t = Theme::new(app.color);
    let Some(i) = snap.sockets.iter().position(|s| SocketKey::of(s) == *key) else {
        return vec![Line::styled(
            "this socket is gone (closed since it was chosen); its owner's sockets below",
            t.warn(),
        )];
    };
    let s = &snap.sockets[i];
    let idle = s.tcp_info.map_or_else(
        || "-".into(),
        |ti| fmt::age_ms(i64::from(ti.last_data_recv_ms)),
    );
    let mut lines = vec![
        Line::from(vec![
            Span::styled(format!("{} ", s.state.netstat_name()), t.state(s.state)),
            Span::raw(format!("{} → {}", s.local, s.remote)),
            Span::styled(format!("  owner {}", sockets::owner_text(snap, s)), t.dim()),
        ]),
        Line::raw(format!(
            "recv-q {} · send-q {} · timer {} · age {} · idle {}",
            s.recv_q,
            s.send_q,
            sockets::timer_text(s),
            sockets::age_text(an, i, s),
            idle
        )),
    ];
    if let Some(ti) = s.tcp_info {
        lines.push(Line::styled(
            format!(
                "tcp_info: rtt {:.1} ms · retransmits {} · last data recv {} · last ack recv {}",
                f64::from(ti.rtt_us) / 1000.0,
                ti.total_retrans,
                fmt::age_ms(i64::from(ti.last_data_recv_ms)),
                fmt::age_ms(i64::from(ti.last_ack_recv_ms)),
            ),
            t.dim(),
        ));
    }
    lines
}

/// A finding's phase, severity, age, message and numbers, as the Detail view shows them.
pub fn finding_lines<'a>(app: &App, a: &'a Alert) -> Vec<Line<'a>> {
    let t = Theme::new(app.color);
    let f = &a.finding;
    let phase = match a.phase {
        AlertPhase::Firing => "FIRING",
        AlertPhase::Pending => "pending",
        AlertPhase::Resolved => "resolved",
    };
    let mut nums = vec![
        format!("count {}", f.count),
        format!("threshold {}", f.threshold),
    ];
    if let Some(g) = f.growth_per_min {
        nums.push(format!("growth {}", fmt::per_min(g)));
    }
    if let Some(o) = f.oldest_age_s {
        nums.push(format!("oldest {}", fmt::age_ms(o as i64 * 1000)));
    }
    // Only the numbers a person acts on; the rule's internal metrics (per-endpoint counts,
    // sysctl values) are spelled out in plain English in the explanation below.
    vec![
        Line::from(vec![
            Span::styled(
                format!("{phase} {:?} ", f.severity),
                t.alert(f.severity, a.phase),
            ),
            Span::styled(
                format!(
                    "for {} ",
                    fmt::age_ms(app.now_ms.saturating_sub(a.since_ms))
                ),
                t.dim(),
            ),
            Span::raw(f.message.as_str()),
        ]),
        Line::from(nums.join(" · ")),
    ]
}

/// The target's counts from the aggregate's rows, for a recording without sockets (a
/// finding's subject counts as its process, listener or remote; a host-wide one as all).
fn recorded_counts(an: &Analysis, target: &DetailTarget) -> StateCounts {
    let agg = &an.aggregate;
    let process = |pid: u32| {
        agg.processes
            .iter()
            .find(|p| p.process.pid == pid)
            .map(|p| p.states)
    };
    let listener = |ep: &Endpoint| {
        agg.listeners
            .iter()
            .find(|l| l.local == *ep)
            .map(|l| l.states)
    };
    let remote = |ip: IpAddr| agg.remotes.iter().find(|r| r.ip == ip).map(|r| r.states);
    let only = |s: TcpState| {
        let mut c = StateCounts::default();
        c.0[s.index()] = agg.states.get(s);
        Some(c)
    };
    let found = match target {
        DetailTarget::Process(pid) => process(*pid),
        DetailTarget::Listener(ep) => listener(ep),
        DetailTarget::Remote(ip) => remote(*ip),
        DetailTarget::State(s) => only(*s),
        DetailTarget::Socket(_, pid) | DetailTarget::Unix(_, pid) => pid.and_then(process),
        DetailTarget::Finding(_, subject) => match subject {
            Subject::Process { pid, .. } => process(*pid),
            Subject::Listener { local, .. } => listener(local),
            Subject::Destination { remote: r } => remote(r.ip),
            Subject::Host => Some(agg.states),
            Subject::Route { remote: r, .. } => remote(r.ip),
            Subject::UnixListener { .. } | Subject::Unowned { .. } => None,
            Subject::Service { pids, .. } => {
                let mut sum = StateCounts::default();
                for c in pids.iter().filter_map(|p| process(*p)) {
                    for st in TcpState::ALL {
                        sum.0[st.index()] += c.get(st);
                    }
                }
                Some(sum)
            }
        },
    };
    found.unwrap_or_default()
}

/// Rows `line` takes when word-wrapped at `width` (greedy, like ratatui's `Wrap`), so the
/// pane's height and scroll limit match what is drawn.
pub fn wrapped_rows(line: &Line, width: usize) -> usize {
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let mut rows = 1;
    let mut col = 0;
    for word in text.split_whitespace() {
        let w = word.chars().count();
        let need = if col == 0 { w } else { col + 1 + w };
        if need <= width {
            col = need;
        } else {
            // A new row unless this is the row's first word; a word longer than a row
            // breaks over several.
            rows += usize::from(col > 0) + w.saturating_sub(1) / width;
            col = match w % width {
                0 => width,
                r => r,
            };
        }
    }
    rows
}

/// Draws the Detail view in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let (Some((snap, an)), Some(target)) = (app.data(), app.detail()) else {
        return;
    };
    let t = Theme::new(app.color);
    let counts = if app.socketless() {
        recorded_counts(an, target)
    } else {
        let mut counts = StateCounts::default();
        for &i in &app.rows.detail {
            counts.add(snap.sockets[i].state);
        }
        counts
    };
    let mut lines: Vec<Line> = Vec::new();
    if let DetailTarget::Socket(key, _) = target {
        lines.extend(socket_lines(app, snap, an, key));
    }
    let whose = match target {
        DetailTarget::Socket(..) => "its owner's sockets",
        _ => "sockets",
    };
    let mut by_state: Vec<Span> = vec![Span::raw(format!("{} {whose}: ", counts.total()))];
    for (s, n) in counts.ranked() {
        by_state.push(Span::styled(
            format!("{} {}  ", s.netstat_name(), n),
            t.state(s),
        ));
    }
    lines.push(Line::from(by_state));
    let socket_state = match target {
        DetailTarget::Socket(key, _) => snap
            .sockets
            .iter()
            .find(|s| SocketKey::of(s) == *key)
            .map(|s| s.state),
        _ => None,
    };
    let alert = app.alert_about(target);
    let sysctls = snap.sysctls.as_ref();
    let text = match (alert, target) {
        // A socket: its own state's explanation, after its owner's alert numbers if any.
        (a, DetailTarget::Socket(..)) => {
            if let Some(a) = a {
                lines.extend(finding_lines(app, a));
            }
            socket_state.map_or_else(String::new, |s| explain::explain_state(s, sysctls))
        }
        (Some(a), _) => {
            lines.extend(finding_lines(app, a));
            explain::explain_finding(&a.finding, sysctls)
        }
        (None, DetailTarget::State(s)) => explain::explain_state(*s, sysctls),
        (None, _) => match counts.ranked().first() {
            Some(&(s, _)) => explain::explain_state(s, sysctls),
            None => String::new(),
        },
    };
    // A Line does not break on '\n': one Line per line of text, or paragraphs run together.
    lines.extend(text.lines().map(|l| Line::styled(l.to_string(), t.dim())));
    // As tall as the text wraps to (plus border), at least 7 rows, at most half the view;
    // what does not fit scrolls with J/K.
    let wrap_w = usize::from(area.width.saturating_sub(2)).max(1);
    let needed: usize = lines.iter().map(|l| wrapped_rows(l, wrap_w)).sum();
    let needed = u16::try_from(needed).unwrap_or(u16::MAX);
    let info_h = needed.saturating_add(2).clamp(7, (area.height / 2).max(7));
    let [info, list] =
        Layout::vertical([Constraint::Length(info_h), Constraint::Min(0)]).areas(area);
    let shown = info_h.saturating_sub(2);
    let max_scroll = needed.saturating_sub(shown);
    let scroll = app.info_scroll.min(max_scroll);
    let mut block = Block::bordered().title(format!(
        " {} · Esc back · e explain ",
        target_text(snap, target)
    ));
    if max_scroll > 0 {
        let more = match (scroll > 0, scroll < max_scroll) {
            (true, true) => " ↑↓ J/K scroll ",
            (false, _) => " ↓ more: J scrolls ",
            (true, false) => " ↑ K scrolls back ",
        };
        block = block.title_bottom(Line::from(more).right_aligned());
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .scroll((scroll, 0))
            .block(block),
        info,
    );

    let rows = &app.rows.detail;
    let cellf = |pos: usize, col: usize| sockets::cell(app, snap, an, rows[pos], col);
    let spec = Spec {
        title: match target {
            DetailTarget::Socket(..) => {
                format!(" its owner's sockets ({}), oldest first ", rows.len())
            }
            _ => format!(" its sockets ({}), oldest first ", rows.len()),
        },
        columns: sockets::columns(),
        sort: None,
        total: rows.len(),
        selected: app.selected(),
        cell: &cellf,
        theme: t,
        empty: if app.socketless() {
            sockets::NO_SOCKET_LIST
        } else {
            "no sockets right now"
        },
    };
    table::draw(frame, list, &spec);
}
