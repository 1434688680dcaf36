//! The State machine view: the eleven TCP states as the RFC 793 diagram, drawn with box
//! characters, each state showing its live count; states building up are highlighted and
//! j/k select a state for Enter (its sockets) and `e` (its explanation). Pure over `&App`.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::analyze::finding::AlertPhase;
use crate::model::TcpState;
use crate::tui::state::app::App;
use crate::tui::state::columns::DIAGRAM_STATES;
use crate::tui::state::target::rule_state;
use crate::tui::views::theme::Phase;
use crate::tui::views::theme::Theme;

/// The diagram without counts; every box's inside is filled in from [`NODES`].
const DIAGRAM: [&str; 18] = [
    "┌───────────────┐  connect   ┌───────────────┐   listen   ┌───────────────┐",
    "│               │◀───────────┤               ├───────────▶│               │",
    "└───────┬───────┘            └───────────────┘            └───────┬───────┘",
    "        │ SYN+ACK                                                 │ SYN",
    "        │                    ┌───────────────┐            ┌───────▼───────┐",
    "        └───────────────────▶│               │◀── ACK ────┤               │",
    "                             └──┬─────────┬──┘            └───────────────┘",
    "                      close     │         │   FIN",
    "┌───────────────┐◀──────────────┘         └──────────────▶┌───────────────┐",
    "│               │                                         │               │",
    "└──┬─────────┬──┘  FIN       ┌───────────────┐            └───────┬───────┘",
    "   │ ACK     └──────────────▶│               │                    │ close",
    "┌──▼────────────┐            └───────┬───────┘            ┌───────▼───────┐",
    "│               │                    │ ACK                │               │",
    "└───────┬───────┘            ┌───────▼───────┐            └───────┬───────┘",
    "        └── FIN ────────────▶│               │                    │ ACK",
    "                             └───────┬───────┘                    │",
    "                                     └─ 2×MSL (60 s) ─▶ CLOSE ◀───┘",
];

/// Width of [`DIAGRAM`] in cells.
const DIAGRAM_W: u16 = 75;

/// Where each state's label goes: (state, column, row) of the box's inside, in reading
/// order ([`DIAGRAM_STATES`], the order `j`/`k` select in).
const NODES: [(TcpState, u16, u16); 11] = [
    (TcpState::SynSent, 1, 1),
    (TcpState::Close, 30, 1),
    (TcpState::Listen, 59, 1),
    (TcpState::Established, 30, 5),
    (TcpState::SynRecv, 59, 5),
    (TcpState::FinWait1, 1, 9),
    (TcpState::CloseWait, 59, 9),
    (TcpState::Closing, 30, 11),
    (TcpState::FinWait2, 1, 13),
    (TcpState::LastAck, 59, 13),
    (TcpState::TimeWait, 30, 15),
];

/// Growth per minute above which a lingering state counts as building up.
const BUILDUP_PER_MIN: f64 = 1.0;

/// A count in at most four characters, to fit a box.
fn count4(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{}M", (n / 1_000_000).min(999)),
    }
}

/// The inside of a state's box: name left, count right, 15 cells.
fn label(s: TcpState, n: u64) -> String {
    let name = s.netstat_name();
    let c = count4(n);
    let pad = 15usize.saturating_sub(name.len() + c.len());
    format!("{name}{}{c}", " ".repeat(pad))
}

/// Whether `s` is building up: an active alert about it, or steady growth in a state that
/// should not accumulate.
pub fn in_buildup(app: &App, s: TcpState) -> bool {
    let alerted = app.data().is_some_and(|(_, an)| {
        an.alerts
            .iter()
            .any(|a| a.phase != AlertPhase::Resolved && rule_state(a.finding.rule) == Some(s))
    });
    let lingering = matches!(Phase::of(s), Phase::Waiting | Phase::Handshake);
    alerted
        || (lingering
            && app
                .history
                .growth_per_min(s)
                .is_some_and(|g| g > BUILDUP_PER_MIN))
}

/// Draws the State machine view in `area`.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = Theme::new(app.color);
    let block =
        Block::bordered().title(" TCP state machine · j/k select · Enter sockets · e explain ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let counts = app
        .data()
        .map(|(_, an)| an.aggregate.states)
        .unwrap_or_default();
    let x0 = inner.x + inner.width.saturating_sub(DIAGRAM_W) / 2;
    let lines: Vec<Line> = DIAGRAM.iter().map(|l| Line::styled(*l, t.dim())).collect();
    let diagram = Rect::new(x0, inner.y, inner.width.min(DIAGRAM_W), inner.height);
    frame.render_widget(Paragraph::new(lines), diagram);

    let selected = DIAGRAM_STATES.get(app.selected()).copied();
    let buf = frame.buffer_mut();
    for (s, dx, dy) in NODES {
        let (x, y) = (x0 + dx, inner.y + dy);
        if dy >= inner.height || dx + 15 > inner.width {
            continue;
        }
        let mut style = if in_buildup(app, s) {
            t.hot()
        } else {
            t.state(s)
        };
        if selected == Some(s) {
            style = style.add_modifier(Modifier::REVERSED | Modifier::UNDERLINED);
        }
        buf.set_string(x, y, label(s, counts.get(s)), style);
    }

    // Below the diagram when there is room: the phase legend and the selected state.
    let below = DIAGRAM.len() as u16 + 1;
    if inner.height > below {
        let mut legend: Vec<Span> = vec![Span::raw("phases: ")];
        for p in [
            Phase::Handshake,
            Phase::Open,
            Phase::Closing,
            Phase::Waiting,
        ] {
            legend.push(Span::styled(format!("■ {}  ", p.name()), t.phase(p)));
        }
        legend.push(Span::styled("building up", t.hot()));
        let mut lines = vec![Line::from(legend)];
        if let Some(s) = selected {
            let text = crate::tui::state::explain::explain_state(
                s,
                app.data().and_then(|(x, _)| x.sysctls.as_ref()),
            );
            lines.push(Line::raw(""));
            // A Line does not break on '\n': one Line per text line keeps paragraphs apart.
            lines.extend(text.lines().map(|l| Line::styled(l.to_string(), t.dim())));
        }
        let r = Rect::new(x0, inner.y + below, diagram.width, inner.height - below);
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn j_and_k_follow_the_picture() {
        let order: Vec<TcpState> = NODES.iter().map(|n| n.0).collect();
        assert_eq!(order, DIAGRAM_STATES);
        // Reading order: each box is below, or right of, the one before it.
        for w in NODES.windows(2) {
            let ((_, x0, y0), (_, x1, y1)) = (w[0], w[1]);
            assert!(y1 > y0 || (y1 == y0 && x1 > x0), "{w:?}");
        }
    }
}
