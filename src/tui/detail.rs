//! The Detail view: what a drill-down opened (a process, listener, remote, state or
//! finding): the finding's numbers when one applies, its explanation, and the sockets
//! behind it with age, queues and timers. Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use std::net::IpAddr;

use crate::analyze::engine::Analysis;
use crate::analyze::finding::{Alert, AlertPhase, Subject};
use crate::model::{Endpoint, Snapshot, StateCounts, TcpState};
use crate::tui::app::{App, DetailTarget};
use crate::tui::table::{self, Spec};
use crate::tui::{explain, fmt, sockets};

fn subject_text(s: &Subject) -> String {
    match s {
        Subject::Process { pid, comm, user } => format!("{comm}[{pid}] ({user})"),
        Subject::Listener { local, pid, comm } => match (comm, pid) {
            (Some(c), Some(p)) => format!("listener {local} {c}[{p}]"),
            _ => format!("listener {local}"),
        },
        Subject::Destination { remote } => format!("destination {remote}"),
        Subject::Host => "this host".into(),
    }
}

fn target_text(snap: &Snapshot, t: &DetailTarget) -> String {
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
    }
}

fn finding_lines<'a>(app: &App, a: &'a Alert) -> Vec<Line<'a>> {
    let t = app.theme;
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
    nums.extend(f.metrics.iter().map(|(k, v)| format!("{k} {v}")));
    vec![
        Line::from(vec![
            Span::styled(
                format!("{phase} {:?} ", f.severity),
                t.alert(f.severity, a.phase),
            ),
            Span::styled(
                format!("for {} ", fmt::age_ms(app.now_ms - a.since_ms)),
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
        DetailTarget::Finding(_, subject) => match subject {
            Subject::Process { pid, .. } => process(*pid),
            Subject::Listener { local, .. } => listener(local),
            Subject::Destination { remote: r } => remote(r.ip),
            Subject::Host => Some(agg.states),
        },
    };
    found.unwrap_or_default()
}

/// Draws the Detail view in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let (Some((snap, an)), Some(target)) = (app.data(), app.detail()) else {
        return;
    };
    let t = app.theme;
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
    let mut by_state: Vec<Span> = vec![Span::raw(format!("{} sockets: ", counts.total()))];
    for (s, n) in counts.ranked() {
        by_state.push(Span::styled(
            format!("{} {}  ", s.netstat_name(), n),
            t.state(s),
        ));
    }
    lines.push(Line::from(by_state));
    let alert = app.alert_about(target);
    let sysctls = snap.sysctls.as_ref();
    let text = match (alert, target) {
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
    // As tall as the text wraps to (plus border), at least 7 rows, at most 2/5 of the view.
    let wrap_w = usize::from(area.width.saturating_sub(2)).max(1);
    let needed: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(wrap_w).max(1))
        .sum();
    let info_h = (needed as u16 + 2).clamp(7, (area.height * 2 / 5).max(7));
    let [info, list] =
        Layout::vertical([Constraint::Length(info_h), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(format!(
                " {} · Esc back · e explain ",
                target_text(snap, target)
            ))),
        info,
    );

    let rows = &app.rows.detail;
    let cellf = |pos: usize, col: usize| sockets::cell(app, snap, an, rows[pos], col);
    let spec = Spec {
        title: format!(" its sockets ({}), oldest first ", rows.len()),
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
