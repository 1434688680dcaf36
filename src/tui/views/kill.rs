//! The `K` confirmation popup: exactly what would be killed (the selection, the count per
//! state and per process, the first rows), and what `y` does: kill, or nothing and why
//! (greyed out without CAP_NET_ADMIN, refused over the cap). Pure over `&App`; owners are
//! already escaped through `Name` in the plan and are clipped to width here.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::state::app::App;
use crate::tui::state::kill::{KillGate, KillPlan, PLAN_ROWS};
use crate::tui::views::theme::Theme;
use crate::tui::views::{centered, fmt};

/// Draws the confirmation over `area` when one is open.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let Some(plan) = app.kill_plan() else {
        return;
    };
    let t = Theme::new(app.color);
    let w = area.width.saturating_sub(4).min(110);
    let inner_w = usize::from(w.saturating_sub(2));
    let blocked = match app.kill_gate() {
        KillGate::Ready => plan.refusal(),
        KillGate::Greyed(why) => Some(why.clone()),
        KillGate::ReadOnly => Some("--read-only".into()),
        KillGate::Unavailable(why) => Some(why.clone()),
    };
    let greyed = matches!(app.kill_gate(), KillGate::Greyed(_));
    let body = if greyed { t.dim() } else { Style::new() };
    let mut lines = plan_lines(plan, inner_w, body, t);
    lines.push(Line::raw(""));
    lines.push(match &blocked {
        None => Line::from(vec![
            Span::styled("y", t.hot()),
            Span::raw("/"),
            Span::styled("Enter", t.hot()),
            Span::raw(format!(
                " kill these {} · any other key cancels",
                plan.targets.len()
            )),
        ]),
        Some(why) => Line::styled(
            fmt::clip(&format!("cannot kill: {why} · any key closes"), inner_w),
            t.warn(),
        ),
    });
    let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let r = centered(area, w, h);
    let n = plan.targets.len();
    let title = if blocked.is_some() {
        format!(
            " K: would kill {n} socket{} ",
            if n == 1 { "" } else { "s" }
        )
    } else {
        format!(" K: kill {n} socket{}? ", if n == 1 { "" } else { "s" })
    };
    frame.render_widget(Clear, r);
    let border = if greyed { t.dim() } else { t.hot() };
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().border_style(border).title(title)),
        r,
    );
}

/// The plan as lines `w` wide: what, per state, per process, left-alone listeners, rows.
fn plan_lines(plan: &KillPlan, w: usize, body: Style, t: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(fmt::clip(&plan.what, w), body)];
    let states: Vec<String> = plan
        .per_state()
        .iter()
        .map(|(p, s, n)| format!("{} {} {n}", p.name(), p.state_name(*s)))
        .collect();
    lines.push(Line::styled(
        fmt::clip(&format!("per state: {}", states.join(", ")), w),
        body,
    ));
    let owners: Vec<String> = plan
        .per_owner()
        .iter()
        .map(|(o, n)| format!("{o} {n}"))
        .collect();
    lines.push(Line::styled(
        fmt::clip(&format!("per process: {}", owners.join(", ")), w),
        body,
    ));
    if plan.listeners_skipped > 0 {
        lines.push(Line::styled(
            fmt::clip(
                &format!(
                    "{} LISTEN left alone (select a listener by itself to kill it)",
                    plan.listeners_skipped
                ),
                w,
            ),
            t.dim(),
        ));
    }
    if plan.targets.is_empty() {
        return lines;
    }
    let addr_w = (w.saturating_sub(4 + 12 + 18) / 2).clamp(12, 40);
    lines.push(Line::styled(
        fmt::clip(
            &format!(
                "{:<4} {:<11} {:<addr_w$} {:<addr_w$} PROCESS",
                "", "STATE", "LOCAL", "PEER"
            ),
            w,
        ),
        t.title(),
    ));
    for tg in plan.targets.iter().take(PLAN_ROWS) {
        let s = &tg.socket;
        let row = format!(
            "{:<4} {:<11} {:<addr_w$} {:<addr_w$} {}",
            tg.protocol.name(),
            tg.protocol.state_name(s.state),
            fmt::clip(&s.local.to_string(), addr_w),
            fmt::clip(&s.remote.to_string(), addr_w),
            tg.owner
        );
        lines.push(Line::styled(fmt::clip(&row, w), body));
    }
    if plan.targets.len() > PLAN_ROWS {
        lines.push(Line::styled(
            format!("… and {} more", plan.targets.len() - PLAN_ROWS),
            t.dim(),
        ));
    }
    lines
}
