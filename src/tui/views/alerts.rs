//! The alerts panel: firing, pending and recently resolved alerts with their age, rule and
//! one-line message (rule first, subject short, so narrow terminals keep what differs); the selection here is what Enter and `e` act on in the Overview.
//! Pure over `&App`.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use crate::analyze::finding::{Alert, AlertPhase, Finding, Severity, Subject};
use crate::model::RuleId;
use crate::tui::state::app::App;
use crate::tui::views::fmt;
use crate::tui::views::theme::Theme;

fn phase_tag(p: AlertPhase) -> &'static str {
    match p {
        AlertPhase::Firing => "FIRING  ",
        AlertPhase::Pending => "pending ",
        AlertPhase::Resolved => "resolved",
    }
}

fn sev_tag(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::Warning => "WARN",
    }
}

/// A rule's short name for narrow rows and titles.
pub fn rule_label(r: RuleId) -> &'static str {
    match r {
        RuleId::CloseWaitLeak => "CLOSE_WAIT leak",
        RuleId::SynFlood => "SYN flood",
        RuleId::AcceptQueueOverflow => "accept q overflow",
        RuleId::TimeWaitStorm => "TIME_WAIT storm",
        RuleId::FinWait2Buildup => "FIN_WAIT2 buildup",
        RuleId::Orphans => "orphans",
        RuleId::UdpDrops => "UDP drops",
        RuleId::PortExhaustion => "port exhaustion",
        RuleId::UnixAcceptOverflow => "unix accept q",
        RuleId::ConntrackFull => "conntrack full",
    }
}

/// The finding's message with its subject written short, as the tables write it
/// (`java[4242]` for `pid 4242 (java)`, `0.0.0.0:80 nginx in nginx.service` for
/// `0.0.0.0:80 (pid 812 nginx in nginx.service)`),
/// so that at 80 columns what tells two alerts apart is still on screen.
pub fn short_message(f: &Finding) -> String {
    let long = f.subject.to_string();
    let Some(rest) = f.message.strip_prefix(long.as_str()) else {
        return f.message.clone();
    };
    let short = match &f.subject {
        Subject::Process { pid, comm, .. } => format!("{comm}[{pid}]"),
        Subject::Listener {
            local,
            comm: Some(c),
            ..
        } => format!("{local} {c}{}", fmt::owner_in(&f.subject)),
        _ => long,
    };
    format!("{short}{rest}")
}

/// The finding's message in at most `room` columns, cut where it costs least: first its
/// tail (marked `…`), then the subject's name; the subject's pid or port stays whole, so a
/// cut row never shows another pid (`pyth…[10055]`, never `python3[1005`).
pub fn fitted_message(f: &Finding, room: usize) -> String {
    let long = f.subject.to_string();
    let (subject, rest) = match (&f.subject, f.message.strip_prefix(long.as_str())) {
        (Subject::Process { pid, comm, .. }, Some(rest)) => (format!("{comm}[{pid}]"), rest),
        (
            Subject::Listener {
                local,
                comm: Some(c),
                ..
            },
            Some(rest),
        ) => {
            let owner = fmt::owner_in(&f.subject);
            return fit_after(&local.to_string(), &format!(" {c}{owner}{rest}"), room);
        }
        _ => return fmt::clip_words(&short_message(f), room),
    };
    fit_after(&subject, rest, room)
}

/// `head` (which ends in a number) whole and `rest` cut to what is left, or `head` fitted
/// alone when nothing is left.
fn fit_after(head: &str, rest: &str, room: usize) -> String {
    let w = head.width();
    if w + rest.width() <= room {
        format!("{head}{rest}")
    } else if w < room {
        format!("{head}{}", fmt::clip_words(rest, room - w))
    } else {
        fmt::fit(head, room)
    }
}

/// Fewest columns a row's message gets before the rule's name gives way: a short
/// `comm[pid]` and a word.
const MIN_MESSAGE_W: usize = 12;

/// Most lines the selected alert's full message may take under the list.
const DETAIL_MAX_LINES: usize = 4;

/// The alert rows: the shown namespace's alerts in display order, then (under
/// `--all-netns`) every other namespace's firing and pending ones.
fn rows(app: &App) -> Vec<(Option<&str>, i64, &Alert)> {
    let alerts = app
        .data()
        .map(|(_, an)| an.alerts.as_slice())
        .unwrap_or(&[]);
    let active = app.active_netns();
    let mut rows: Vec<(Option<&str>, i64, &Alert)> = app
        .rows
        .alerts
        .iter()
        .filter_map(|&i| alerts.get(i))
        .map(|a| (active, app.now_ms, a))
        .collect();
    rows.extend(
        app.other_alerts()
            .into_iter()
            .map(|(ns, now, a)| (Some(ns), now, a)),
    );
    rows
}

/// The full text of an alert the list shows cut: its message, as the finding says it.
fn full_text(a: &Alert) -> String {
    format!("▸ {}", a.finding.message)
}

/// Lines `text` takes when wrapped on spaces at `width` columns (at least one); a word
/// longer than a line is broken, as the paragraph breaks it.
fn wrapped_lines(text: &str, width: usize) -> usize {
    let width = width.max(1);
    let mut lines = 1;
    let mut col = 0;
    for word in text.split(' ') {
        let w = UnicodeWidthStr::width(word);
        if col > 0 && col + 1 + w <= width {
            col += 1 + w;
            continue;
        }
        if col > 0 {
            lines += 1;
        }
        lines += w.saturating_sub(1) / width;
        col = if w == 0 { 0 } else { (w - 1) % width + 1 };
    }
    lines
}

/// The height (borders included) the panel needs at `width` columns: one line per alert
/// (one for "no alerts"), and the selected alert's full message, wrapped, when it is cut.
pub fn needed_height(app: &App, width: u16, selectable: bool) -> u16 {
    let inner_w = usize::from(width.saturating_sub(2));
    let rows = rows(app);
    let detail = selected_detail(app, &rows, selectable).map_or(0, |text| {
        wrapped_lines(&text, inner_w).min(DETAIL_MAX_LINES)
    });
    u16::try_from(rows.len().max(1) + detail + 2).unwrap_or(u16::MAX)
}

/// The selected alert's full message, when there is a selected alert.
fn selected_detail(
    app: &App,
    rows: &[(Option<&str>, i64, &Alert)],
    selectable: bool,
) -> Option<String> {
    if !selectable {
        return None;
    }
    rows.get(app.selected()).map(|&(_, _, a)| full_text(a))
}

/// Draws the alerts panel in `area`; `selectable` marks the selected alert and shows its
/// full message, wrapped, under the list (a row is cut at the border; its words are not
/// lost). Under `--all-netns` every row starts with its namespace, and the shown
/// namespace's alerts are followed by the firing and pending alerts of every other
/// namespace (Enter on one switches to it).
pub fn draw(frame: &mut Frame, area: Rect, app: &App, selectable: bool) {
    let t = Theme::new(app.color);
    let active = app.active_netns();
    let rows = rows(app);
    let firing = rows
        .iter()
        .filter(|(_, _, a)| a.phase == AlertPhase::Firing)
        .count();
    let block = Block::bordered().title(format!(" alerts ({firing} firing) "));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let detail = selected_detail(app, &rows, selectable);
    let detail_h = detail.as_ref().map_or(0, |d| {
        wrapped_lines(d, usize::from(inner.width)).min(DETAIL_MAX_LINES)
    });
    // Every alert row comes first; the detail takes what is left, up to its need.
    let list_need = u16::try_from(rows.len().max(1)).unwrap_or(u16::MAX);
    let detail_h = u16::try_from(detail_h)
        .unwrap_or(u16::MAX)
        .min(inner.height.saturating_sub(list_need));
    let [list_area, detail_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(detail_h)]).areas(inner);
    let height = usize::from(list_area.height);
    let wide = inner.width >= 60;
    let sel = app.selected();
    // Keep the selection visible: scroll by whole pages.
    let skip = sel.checked_div(height).map_or(0, |page| page * height);
    let mut lines: Vec<Line> = Vec::new();
    if rows.is_empty() {
        lines.push(Line::styled("no alerts: nothing is building up", t.dim()));
    }
    for (row, &(ns, now_ms, a)) in rows.iter().enumerate().skip(skip).take(height) {
        let f = &a.finding;
        let style = t.alert(f.severity, a.phase);
        let age = fmt::age_ms(now_ms.saturating_sub(a.since_ms));
        // Narrow panes drop the severity word (the colour carries it) before the rule.
        let tag = if wide {
            format!("{} {} ", phase_tag(a.phase), sev_tag(f.severity))
        } else {
            format!("{} ", phase_tag(a.phase))
        };
        let mut spans = Vec::with_capacity(5);
        if let Some(ns) = ns {
            let ns_style = if Some(ns) == active {
                t.dim()
            } else {
                t.title()
            };
            let room = if wide { 24 } else { 12 };
            spans.push(Span::styled(
                format!("[{}] ", fmt::clip(ns, room)),
                ns_style,
            ));
        }
        spans.extend([
            Span::styled(tag, style),
            Span::styled(format!("{age:>6} "), t.dim()),
        ]);
        let label = format!("{} ", rule_label(f.rule));
        let used: usize = spans.iter().map(Span::width).sum::<usize>() + label.width();
        let mut room = usize::from(list_area.width).saturating_sub(used);
        // Where the rule's name leaves no room for a `comm[pid]`, the message (which names
        // the state) goes without it.
        if room >= MIN_MESSAGE_W {
            spans.push(Span::styled(label, t.title()));
        } else {
            room += label.width();
        }
        spans.push(Span::raw(fitted_message(f, room)));
        let mut line = Line::from(spans);
        if selectable && row == sel {
            line = line.style(t.selected());
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), list_area);
    if let Some(text) = detail.filter(|_| detail_h > 0) {
        frame.render_widget(
            Paragraph::new(text)
                .style(t.title())
                .wrap(Wrap { trim: true }),
            detail_area,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn messages_lose_the_long_subject_only() {
        let mut f = Finding {
            rule: RuleId::CloseWaitLeak,
            severity: Severity::Warning,
            subject: Subject::Process {
                pid: 14411,
                comm: "sscpop-cw".into(),
                user: "root".into(),
                unit: None,
                container: None,
            },
            netns: "host".into(),
            count: 600,
            growth_per_min: None,
            oldest_age_s: None,
            threshold: 200.0,
            metrics: BTreeMap::new(),
            message: "pid 14411 (sscpop-cw) holds 600 CLOSE_WAIT".into(),
            detail: String::new(),
        };
        assert_eq!(short_message(&f), "sscpop-cw[14411] holds 600 CLOSE_WAIT");
        f.message = "600 orphaned sockets".into();
        assert_eq!(short_message(&f), "600 orphaned sockets");
        assert_eq!(rule_label(RuleId::CloseWaitLeak), "CLOSE_WAIT leak");
    }

    #[test]
    fn a_cut_row_keeps_the_pid_whole() {
        let f = Finding {
            rule: RuleId::CloseWaitLeak,
            severity: Severity::Warning,
            subject: Subject::Process {
                pid: 10055,
                comm: "python3".into(),
                user: "root".into(),
                unit: None,
                container: None,
            },
            netns: "host".into(),
            count: 300,
            growth_per_min: None,
            oldest_age_s: None,
            threshold: 200.0,
            metrics: BTreeMap::new(),
            message: "pid 10055 (python3) holds 300 CLOSE_WAIT (+0/min, oldest 4m43s)".into(),
            detail: String::new(),
        };
        assert_eq!(
            fitted_message(&f, 80),
            "python3[10055] holds 300 CLOSE_WAIT (+0/min, oldest 4m43s)"
        );
        assert_eq!(fitted_message(&f, 21), "python3[10055] holds…");
        assert_eq!(fitted_message(&f, 20), "python3[10055] …");
        assert_eq!(fitted_message(&f, 12), "pyth…[10055]");
        assert_eq!(fitted_message(&f, 10), "py…[10055]");
        let l = Finding {
            rule: RuleId::SynFlood,
            subject: Subject::Listener {
                local: crate::model::Endpoint::new("0.0.0.0".parse().unwrap(), 8080),
                pid: Some(812),
                comm: Some("nginx".into()),
                unit: None,
                container: None,
            },
            message: "0.0.0.0:8080 (pid 812 nginx) has 12 SYN_RECV".into(),
            ..f
        };
        assert_eq!(fitted_message(&l, 14), "0.0.0.0:8080 …");
        assert_eq!(fitted_message(&l, 10), "0.0.…:8080");
        let u = Finding {
            subject: Subject::Listener {
                local: crate::model::Endpoint::new("0.0.0.0".parse().unwrap(), 8080),
                pid: Some(812),
                comm: Some("nginx".into()),
                unit: Some(crate::model::Unit {
                    name: "nginx.service".into(),
                    user: None,
                }),
                container: None,
            },
            message: "0.0.0.0:8080 (pid 812 nginx in nginx.service) has 12 SYN_RECV".into(),
            ..l
        };
        assert_eq!(
            short_message(&u),
            "0.0.0.0:8080 nginx in nginx.service has 12 SYN_RECV"
        );
        assert_eq!(
            fitted_message(&u, 80),
            "0.0.0.0:8080 nginx in nginx.service has 12 SYN_RECV"
        );
        assert_eq!(fitted_message(&u, 14), "0.0.0.0:8080 …");
        assert_eq!(
            crate::tui::views::detail::subject_text(&u.subject),
            "listener 0.0.0.0:8080 nginx[812] in nginx.service"
        );
    }

    #[test]
    fn wrapping_counts_the_lines_a_paragraph_takes() {
        assert_eq!(wrapped_lines("", 10), 1);
        assert_eq!(wrapped_lines("abc def", 7), 1);
        assert_eq!(wrapped_lines("abc defg", 7), 2);
        assert_eq!(wrapped_lines("abcdefghijklmnop", 5), 4);
        assert_eq!(wrapped_lines("ab abcdefghijklmnop", 5), 5);
        assert_eq!(wrapped_lines("数数数 ab", 8), 2);
    }
}
