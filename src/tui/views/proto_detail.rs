//! The Detail view of a UDP or UNIX drill-down: for one socket everything known about it
//! (UDP: endpoints, queues, skmem with drops and receive-buffer fill; UNIX: type, name,
//! inode and peer, a listener's pending connections against its backlog, uid, the bound
//! file's device and inode), then the alert that concerns it and the sockets behind the
//! drill-down (its owner's, or the process's or finding's). Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::model::{Protocol, Snapshot, SocketRecord, StateCounts, UnixRecord};
use crate::tui::state::app::App;
use crate::tui::state::explain;
use crate::tui::state::history::SocketKey;
use crate::tui::state::target::DetailTarget;
use crate::tui::views::detail::{finding_lines, target_text, wrapped_rows};
use crate::tui::views::fmt;
use crate::tui::views::proto_sockets::{self, rcvbuf_fill, unix_owner_text};
use crate::tui::views::sockets::owner_text;
use crate::tui::views::theme::Theme;

/// A UDP socket's fields.
fn udp_lines(t: Theme, snap: &Snapshot, s: &SocketRecord) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!("UDP {} ", Protocol::Udp.state_name(s.state)),
                t.state(s.state),
            ),
            Span::raw(format!("{} → {}", s.local, s.remote)),
            Span::styled(format!("  owner {}", owner_text(snap, s)), t.dim()),
        ]),
        Line::raw(format!(
            "recv-q {} · send-q {} · inode {} · uid {}{}",
            s.recv_q,
            s.send_q,
            s.inode,
            s.uid,
            s.cookie
                .map_or_else(String::new, |c| format!(" · cookie {c:#x}"))
        )),
    ];
    lines.push(match s.skmem {
        Some(m) => {
            let opt = |v: Option<u32>| v.map_or_else(|| "-".into(), |v| v.to_string());
            Line::styled(
                format!(
                    "skmem: rmem {} of rcvbuf {} ({} full) · wmem {} of sndbuf {} · drops {}",
                    m.rmem_alloc,
                    opt(m.rcvbuf),
                    rcvbuf_fill(s),
                    m.wmem_alloc,
                    opt(m.sndbuf),
                    m.drops
                ),
                if m.drops > 0 { t.hot() } else { t.dim() },
            )
        }
        None => Line::styled("skmem: not reported by this source", t.dim()),
    });
    lines
}

/// A UNIX socket's fields; `-` for what the source did not give (never 0).
fn unix_lines(t: Theme, snap: &Snapshot, s: &UnixRecord) -> Vec<Line<'static>> {
    let name = s
        .name
        .as_ref()
        .map_or_else(|| "(unnamed)".to_string(), |n| n.to_string());
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!(
                    "{} {} ",
                    s.kind.ss_name(),
                    Protocol::Unix.state_name(s.state)
                ),
                t.state(s.state),
            ),
            Span::raw(name),
            Span::styled(format!("  owner {}", unix_owner_text(snap, s)), t.dim()),
        ]),
        Line::raw(format!(
            "inode {} · peer {} · uid {}{}{}",
            s.inode,
            s.peer_inode.map_or("-".into(), |p| p.to_string()),
            s.uid.map_or("-".into(), |u| u.to_string()),
            s.vfs.map_or_else(String::new, |v| format!(
                " · file dev {} ino {}",
                v.dev, v.ino
            )),
            s.cookie
                .map_or_else(String::new, |c| format!(" · cookie {c:#x}"))
        )),
    ];
    lines.push(match (s.listen_queue(), s.recv_q, s.send_q) {
        // Linux admits backlog + 1 before connect() must wait.
        (Some((pending, backlog)), _, _) => {
            let full = pending > backlog;
            Line::styled(
                format!(
                    "listener: {pending} pending of backlog {backlog}{}",
                    if full {
                        " · FULL: connect() waits or gets EAGAIN"
                    } else {
                        ""
                    }
                ),
                if full { t.hot() } else { t.title() },
            )
        }
        (None, None, None) => Line::styled(
            "queues: not reported by this source (/proc/net/unix has none)",
            t.dim(),
        ),
        (None, r, w) => Line::raw(format!(
            "recv-q {} · send-q {}",
            fmt::maybe(r),
            fmt::maybe(w)
        )),
    });
    lines
}

/// Draws the Detail view of the shown UDP/UNIX protocol in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let (Some((snap, _)), Some(target)) = (app.data(), app.detail()) else {
        return;
    };
    let t = Theme::new(app.color);
    let proto = app.protocol();
    let rows = &app.rows.detail;
    let mut lines: Vec<Line> = Vec::new();
    let gone = || {
        Line::styled(
            "this socket is gone (closed since it was chosen); its owner's sockets below",
            t.warn(),
        )
    };
    match target {
        DetailTarget::Socket(key, _) => match snap.udp.iter().find(|s| SocketKey::of(s) == *key) {
            Some(s) => lines.extend(udp_lines(t, snap, s)),
            None => lines.push(gone()),
        },
        DetailTarget::Unix(inode, _) => match snap.unix.iter().find(|s| s.inode == *inode) {
            Some(s) => lines.extend(unix_lines(t, snap, s)),
            None => lines.push(gone()),
        },
        _ => {}
    }
    let mut counts = StateCounts::default();
    for &i in rows {
        counts.add(match proto {
            Protocol::Unix => snap.unix[i].state,
            _ => snap.udp[i].state,
        });
    }
    let whose = match target {
        DetailTarget::Socket(..) | DetailTarget::Unix(..) => "its owner's",
        _ => "its",
    };
    let mut by_state = vec![Span::raw(format!(
        "{} {whose} {} sockets: ",
        counts.total(),
        proto.name()
    ))];
    for (s, n) in counts.ranked() {
        by_state.push(Span::styled(
            format!("{} {n}  ", proto.state_name(s)),
            t.state(s),
        ));
    }
    lines.push(Line::from(by_state));
    if let Some(a) = app.alert_about(target) {
        lines.extend(finding_lines(app, a));
        let text = explain::explain_finding(&a.finding, snap.sysctls.as_ref());
        lines.extend(text.lines().map(|l| Line::styled(l.to_string(), t.dim())));
    }
    let wrap_w = usize::from(area.width.saturating_sub(2)).max(1);
    let needed: usize = lines.iter().map(|l| wrapped_rows(l, wrap_w)).sum();
    let needed = u16::try_from(needed).unwrap_or(u16::MAX);
    let info_h = needed.saturating_add(2).clamp(7, (area.height / 2).max(7));
    let [info, list] =
        Layout::vertical([Constraint::Length(info_h), Constraint::Min(0)]).areas(area);
    let max_scroll = needed.saturating_sub(info_h.saturating_sub(2));
    let scroll = app.info_scroll.min(max_scroll);
    let mut block = Block::bordered().title(format!(
        " {} {} · Esc back ",
        proto.name(),
        target_text(snap, target)
    ));
    if max_scroll > 0 {
        block = block.title_bottom(Line::from(" J/K scroll ").right_aligned());
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .scroll((scroll, 0))
            .block(block),
        info,
    );
    let title = format!(
        " {whose} {} sockets ({}), worst first ",
        proto.name(),
        rows.len()
    );
    proto_sockets::draw_table(frame, list, app, rows, title, "no sockets right now");
}
