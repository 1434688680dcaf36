//! The dashboard's views: one file per panel, each a pure function of `&App` that draws
//! into a `Rect`. This file lays them out: the header, the view tabs, the footer, the
//! too-small message and the popups, with each view's body delegated to its own file.
//! Nothing here writes to the app; [`fmt`], [`table`] and [`theme`] are the shared
//! formatting, table widget and colours.

pub mod alerts;
pub mod churn;
pub mod detail;
pub mod fmt;
pub mod groups;
pub mod histogram;
pub mod kernel;
pub mod kill;
pub mod listeners;
pub mod namespaces;
pub mod overview;
pub mod processes;
pub mod proto_detail;
pub mod proto_panels;
pub mod proto_sockets;
pub mod remotes;
pub mod sockets;
pub mod statemachine;
pub mod table;
pub mod theme;
pub mod trends;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Tabs, Wrap};
use ratatui::Frame;

use crate::tui::state::app::App;
use crate::tui::state::event::ReplayStatus;
use crate::tui::state::keys::{help_rows, Mode, View};
use crate::tui::views::theme::Theme;

/// The smallest terminal the dashboard draws in.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// Draws the whole dashboard for `app` into `frame`.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        draw_too_small(frame, area);
        return;
    }
    // Under --all-netns a namespaces strip sits under the tabs, visible from every view.
    let strip_h = u16::from(app.fleet().is_some());
    let [header, tabs, strip, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Length(strip_h),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app);
    draw_tabs(frame, tabs, app);
    if strip_h > 0 {
        namespaces::draw(frame, strip, app);
    }
    // Where owners are the point, say how many are missing and how to get them back.
    let body = match attribution_notice(app, body.width)
        .filter(|_| matches!(app.view, View::Overview | View::Processes))
    {
        Some(lines) => {
            let h = u16::try_from(lines.len()).unwrap_or(0).min(body.height / 4);
            let [rest, notice] =
                Layout::vertical([Constraint::Min(0), Constraint::Length(h)]).areas(body);
            frame.render_widget(
                Paragraph::new(lines).style(Theme::new(app.color).warn()),
                notice,
            );
            rest
        }
        None => body,
    };
    match (app.view, app.proto_aggregate()) {
        (View::Overview, _) => overview::draw(frame, body, app),
        (View::Processes, _) if app.grouped() => groups::draw(frame, body, app),
        (View::Processes, Some(agg)) => proto_panels::draw_processes(frame, body, app, agg),
        (View::Sockets, Some(_)) => proto_sockets::draw(frame, body, app),
        (View::Detail, Some(_)) => proto_detail::draw(frame, body, app),
        (View::Listeners, Some(_)) => proto_panels::draw_tcp_only(frame, body, app, "Listeners"),
        (View::Remotes, Some(_)) => proto_panels::draw_tcp_only(frame, body, app, "Remotes"),
        (View::StateMachine, Some(_)) => {
            proto_panels::draw_tcp_only(frame, body, app, "State machine")
        }
        (view, None) => draw_tcp_view(frame, body, app, view),
    }
    draw_footer(frame, footer, app);
    match app.mode {
        Mode::Help => draw_help(frame, area, app),
        Mode::Explain => draw_explain(frame, area, app),
        Mode::Confirm => kill::draw(frame, area, app),
        Mode::Normal | Mode::Filter => {}
    }
}

/// The TCP body of `view`.
fn draw_tcp_view(frame: &mut Frame, body: Rect, app: &App, view: View) {
    match view {
        View::Overview => overview::draw(frame, body, app),
        View::Processes => processes::draw(frame, body, app),
        View::Listeners => listeners::draw(frame, body, app),
        View::Remotes => remotes::draw(frame, body, app),
        View::Sockets => sockets::draw(frame, body, app),
        View::StateMachine => statemachine::draw(frame, body, app),
        View::Detail => detail::draw(frame, body, app),
    }
}

/// `3 of 158 sockets unattributed (why: u, or sockscope explain unattributed)`: one line,
/// when attribution left some sockets without an owner. The cause and the fix are one key
/// away (`u` opens them in the explanation popup), not two permanent lines.
pub fn attribution_notice(app: &App, width: u16) -> Option<Vec<Line<'static>>> {
    let (un, total, what) = app.unattributed_counts();
    if un == 0 {
        return None;
    }
    let head = format!(
        "{} of {} {what} unattributed",
        fmt::count(un),
        fmt::count(total)
    );
    let width = usize::from(width);
    let line = [
        format!("{head} (why: u, or sockscope explain unattributed)"),
        format!("{head} (why: sockscope explain unattributed)"),
        format!("{head} (why: press u)"),
    ]
    .into_iter()
    .find(|l| unicode_width::UnicodeWidthStr::width(l.as_str()) <= width)
    .unwrap_or_else(|| fmt::clip(&head, width));
    Some(vec![Line::from(line)])
}

fn draw_too_small(frame: &mut Frame, area: Rect) {
    let msg = format!(
        "terminal too small (need {}×{}, have {}×{})",
        MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
    );
    let y = area.height / 2;
    let line = Rect::new(area.x, area.y + y, area.width, 1.min(area.height));
    frame.render_widget(
        Paragraph::new(msg).centered().wrap(Wrap { trim: true }),
        Rect {
            height: area.height.saturating_sub(y),
            ..line
        },
    );
}

fn sep<'a>() -> Span<'a> {
    Span::raw("  ")
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let [l0, l1] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let mut first = vec![Span::styled("sockscope", t.title()), sep()];
    // Which protocol the tables show, up front (at 80 columns the line's tail is cut);
    // a TCP-only dashboard looks as it always did.
    let proto = app.protocol();
    if proto != crate::model::Protocol::Tcp || app.protocols().iter().count() > 1 {
        first.extend([
            Span::styled(format!(" {} ", proto.name().to_uppercase()), t.selected()),
            Span::styled(" p ", t.dim()),
        ]);
    }
    // In replay the player's status comes first: at 80 columns it is what must not be cut.
    if let Some(r) = app.replay() {
        first.extend([Span::styled(replay_status(r), t.hot()), sep()]);
    }
    first.push(Span::raw(format!("host {}", app.host)));
    let mut second = Vec::new();
    match app.data() {
        Some((snap, an)) => {
            first.extend([
                sep(),
                Span::raw(netns_label(app, &snap.netns)),
                sep(),
                Span::raw(format!("source {}", snap.source.name())),
            ]);
            if let Some(agg) = app.proto_aggregate() {
                second.extend(proto_counts_spans(app, agg));
            } else {
                // The aggregate, not the socket list: a replay without sockets has counts only.
                second.extend([
                    Span::styled(fmt::count(an.aggregate.states.total()), t.title()),
                    Span::raw(" sockets"),
                    sep(),
                    Span::raw(format!("{} ownerless", fmt::count(an.aggregate.ownerless))),
                    sep(),
                ]);
                let un = an.aggregate.unattributed;
                let un_style = if un > 0 { t.warn() } else { t.dim() };
                second.push(Span::styled(
                    format!("{} unattributed", fmt::count(un)),
                    un_style,
                ));
            }
            if snap.quality.inconsistent.is_some() {
                second.extend([sep(), Span::styled("inconsistent sample", t.warn())]);
            }
            if app.socketless() {
                second.extend([sep(), Span::styled("no socket list", t.dim())]);
            }
        }
        None => second.push(Span::styled("waiting for the first collection…", t.dim())),
    }
    if app.replay().is_none() {
        first.extend([
            sep(),
            Span::raw(format!("every {}", fmt::age_ms(app.interval_ms as i64))),
        ]);
        if app.paused {
            first.extend([sep(), Span::styled(" PAUSED ", t.hot())]);
        }
    }
    if let Some(tick) = app.tick.as_ref().filter(|_| app.replay().is_none()) {
        if tick.tick_ms > app.interval_ms {
            second.extend([
                sep(),
                Span::styled(format!("stretched: tick took {}ms", tick.tick_ms), t.warn()),
            ]);
        }
    }
    if let Some(note) = namespaces::failures_note(app) {
        second.extend([sep(), Span::styled(note, t.warn())]);
    }
    if let Some(e) = &app.collect_error {
        second.extend([sep(), Span::styled(format!("collect error: {e}"), t.hot())]);
    }
    frame.render_widget(Paragraph::new(Line::from(first)), l0);
    frame.render_widget(Paragraph::new(Line::from(second)), l1);
}

/// The header's counts for a UDP/UNIX protocol: its sockets, UDP's drops or UNIX's types,
/// the unattributed ones, and that the trend charts stay TCP's.
fn proto_counts_spans(
    app: &App,
    agg: &crate::analyze::proto_counts::ProtoAggregate,
) -> Vec<Span<'static>> {
    let t = Theme::new(app.color);
    let name = agg.protocol.name();
    if !agg.collected {
        return vec![Span::styled(
            proto_panels::not_collected(app, agg.protocol),
            t.warn(),
        )];
    }
    let mut v = vec![
        Span::styled(fmt::count(agg.total()), t.title()),
        Span::raw(format!(" {name} sockets")),
        sep(),
    ];
    match agg.protocol {
        crate::model::Protocol::Unix => {
            let [st, dg, sq] = agg.unix_kinds;
            v.push(Span::raw(format!(
                "stream {} dgram {} seqpacket {}",
                fmt::count(st),
                fmt::count(dg),
                fmt::count(sq)
            )));
        }
        _ => v.push(Span::styled(
            format!("{} drops", fmt::count(agg.drops)),
            if agg.drops > 0 { t.hot() } else { t.dim() },
        )),
    }
    let un_style = if agg.unattributed > 0 {
        t.warn()
    } else {
        t.dim()
    };
    v.extend([
        sep(),
        Span::styled(
            format!("{} unattributed", fmt::count(agg.unattributed)),
            un_style,
        ),
        sep(),
        Span::styled("charts: TCP", t.dim()),
    ]);
    v
}

/// `netns web-1`, or under `--all-netns` `netns web-1 (2/5)`.
fn netns_label(app: &App, netns: &str) -> String {
    match app.fleet().and_then(|f| f.position()) {
        Some((i, n)) => format!("netns {netns} ({}/{n})", i + 1),
        None => format!("netns {netns}"),
    }
}

/// Whether `n`/`N` switch namespaces (`--all-netns` with more than one).
fn switchable(app: &App) -> bool {
    app.fleet()
        .and_then(|f| f.position())
        .is_some_and(|(_, n)| n > 1)
}

/// `REPLAY leak.jsonl · frame 3/6 · 04:40:02 UTC · 2× · ⏸` (frames counted from 1).
pub fn replay_status(r: &ReplayStatus) -> String {
    let secs = r.at_ms.div_euclid(1000).rem_euclid(86_400);
    let speed = if r.speed.fract() == 0.0 {
        format!("{}", r.speed as u64)
    } else {
        format!("{}", r.speed)
    };
    format!(
        "REPLAY {} · frame {}/{} · {:02}:{:02}:{:02} UTC · {speed}× · {}",
        fmt::clip(&r.file, 24),
        (r.frame + 1).min(r.frames),
        r.frames,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        if r.playing { "▶" } else { "⏸" }
    )
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let titles: Vec<String> = View::TABS
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{} {}", i + 1, v.title()))
        .collect();
    let current = app.view.tab_index().or(app.back_to.tab_index());
    let tabs = Tabs::new(titles)
        .select(current)
        .highlight_style(t.selected())
        .divider("│");
    // The Detail marker only where it does not cut the last tab.
    let marker_w = if area.width >= 90 { 10 } else { 0 };
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(marker_w)]).areas(area);
    frame.render_widget(tabs, left);
    if app.view == View::Detail && marker_w > 0 {
        frame.render_widget(Paragraph::new(Span::styled("▸ Detail", t.title())), right);
    }
}

fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let line = if app.mode == Mode::Filter {
        let mut spans = vec![
            Span::styled("/", t.title()),
            Span::raw(app.filter_input.clone()),
            Span::styled("█", t.dim()),
        ];
        if let Some(e) = &app.filter_error {
            spans.extend([sep(), Span::styled(e.clone(), t.warn())]);
        } else {
            spans.extend([sep(), Span::styled("Enter keep · Esc cancel", t.dim())]);
        }
        Line::from(spans)
    } else {
        let mut spans = Vec::new();
        if !app.filter.is_empty() {
            spans.push(Span::styled(format!("filter: {}", app.filter), t.warn()));
            spans.push(sep());
        }
        // The answer to the last key takes the hints' place until the next key.
        if let Some(msg) = app.status() {
            spans.push(Span::styled(msg.to_string(), t.warn()));
            frame.render_widget(Paragraph::new(Line::from(spans)), area);
            return;
        }
        let mut hints: Vec<(&str, &str)> = if app.replay().is_some() {
            [
                ("q", "quit"),
                ("?", "help"),
                ("Space", "play"),
                ("←/→", "step"),
                ("[/]", "seek"),
                ("Home/End", "ends"),
                ("-/+", "speed"),
                ("Tab", "view"),
                ("Enter", "detail"),
                ("Esc", "back"),
            ]
            .to_vec()
        } else {
            // Most needed first: at 80 columns the tail is dropped.
            [
                ("q", "quit"),
                ("?", "help"),
                ("Tab", "view"),
                ("Enter", "detail"),
                ("/", "filter"),
                ("e", "explain"),
                ("Esc", "back"),
                ("s/S", "sort"),
                ("Space", "pause"),
                ("+/-", "interval"),
            ]
            .to_vec()
        };
        if switchable(app) {
            hints.insert(2, ("n/N", "netns"));
        }
        if app.protocols().iter().count() > 1 {
            hints.insert(2, ("p", "protocol"));
        }
        // Only whole hints: drop the tail rather than cut one in half.
        let mut used: usize = spans.iter().map(|s| s.width()).sum();
        for (k, what) in hints {
            let w = k.chars().count() + what.chars().count() + 2;
            if used + w > usize::from(area.width) {
                break;
            }
            used += w;
            spans.push(Span::styled(k, t.title()));
            spans.push(Span::styled(format!(" {what} "), t.dim()));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// A centred rectangle `w`×`h` within `area`, shrunk to fit.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn draw_help(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let rows = help_rows(app.replay.is_some(), switchable(app));
    let mut lines: Vec<Line> = rows
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>9} "), t.title()),
                Span::raw(*what),
            ])
        })
        .collect();
    let block = Block::bordered().title(" keys — Esc or ? closes ");
    // One column when it fits, else two side by side (80×24 needs two).
    let fits = lines.len() as u16 + 2 <= area.height;
    let (w, h) = if fits {
        (64, lines.len() as u16 + 2)
    } else {
        (area.width, (lines.len() as u16).div_ceil(2) + 2)
    };
    let r = centered(area, w, h);
    frame.render_widget(Clear, r);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    if fits {
        frame.render_widget(Paragraph::new(lines), inner);
    } else {
        let right = lines.split_off(lines.len().div_ceil(2));
        let [a, b] = Layout::horizontal([Constraint::Fill(1); 2]).areas(inner);
        frame.render_widget(Paragraph::new(lines), a);
        frame.render_widget(Paragraph::new(right), b);
    }
}

fn draw_explain(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let (title, text) = match app.explanation() {
        Some(e) => (e.title, e.text),
        None => (
            "gone".to_string(),
            "What this explained is gone (the alert resolved and aged out).".to_string(),
        ),
    };
    let w = area.width.saturating_sub(8).min(90);
    // A Line does not break on '\n': one Line per line of text, or paragraphs run together.
    let lines: Vec<Line> = text.lines().map(|l| Line::raw(l.to_string())).collect();
    let wrap_w = usize::from(w.saturating_sub(2)).max(1);
    let needed: usize = lines.iter().map(|l| detail::wrapped_rows(l, wrap_w)).sum();
    let needed = u16::try_from(needed).unwrap_or(u16::MAX);
    let h = needed
        .saturating_add(2)
        .min(area.height.saturating_sub(4))
        .max(5);
    let r = centered(area, w, h);
    let shown = h.saturating_sub(2);
    let max_scroll = needed.saturating_sub(shown);
    let scroll = app.explain_scroll.min(max_scroll);
    let mut block = Block::bordered().title(format!(" {} — Esc closes ", fmt::clip(&title, 60)));
    if max_scroll > 0 {
        let more = match (scroll > 0, scroll < max_scroll) {
            (true, true) => " ↑↓ j/k J/K PgUp/PgDn scroll ",
            (false, _) => " ↓ more: j J PgDn scroll ",
            (true, false) => " ↑ end: k K PgUp scroll back ",
        };
        block = block.title_bottom(Line::styled(more, t.title()).right_aligned());
    }
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .scroll((scroll, 0))
            .block(block),
        r,
    );
}
