//! Colours and emphasis. Every style the panels use comes from [`Theme`], so `NO_COLOR`
//! is honoured in one place: without colour, emphasis falls back to bold, reverse and
//! underline. Foregrounds are ANSI palette colours (never fixed white or black) so the
//! terminal's own theme keeps them readable on dark and light backgrounds.

use ratatui::style::{Color, Modifier, Style};

use crate::analyze::finding::{AlertPhase, Severity};
use crate::model::TcpState;

/// Where in a connection's life a state sits; the histogram and diagram colour by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// SYN_SENT, SYN_RECV.
    Handshake,
    /// ESTABLISHED, LISTEN.
    Open,
    /// FIN_WAIT1, CLOSING, LAST_ACK, CLOSE.
    Closing,
    /// TIME_WAIT, CLOSE_WAIT, FIN_WAIT2: the states that linger and build up.
    Waiting,
}

impl Phase {
    /// The phase of `state`.
    pub fn of(state: TcpState) -> Phase {
        match state {
            TcpState::SynSent | TcpState::SynRecv => Phase::Handshake,
            TcpState::Established | TcpState::Listen => Phase::Open,
            TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck | TcpState::Close => {
                Phase::Closing
            }
            TcpState::TimeWait | TcpState::CloseWait | TcpState::FinWait2 => Phase::Waiting,
        }
    }

    /// Lower-case name for legends.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Handshake => "handshake",
            Phase::Open => "open",
            Phase::Closing => "closing",
            Phase::Waiting => "waiting",
        }
    }
}

/// The dashboard's styles, with or without colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// False when `NO_COLOR` is set (or colour was turned off).
    pub color: bool,
}

impl Theme {
    /// A theme; `color: false` uses modifiers only.
    pub fn new(color: bool) -> Theme {
        Theme { color }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// The style of a phase (bars, diagram nodes).
    pub fn phase(self, p: Phase) -> Style {
        self.fg(match p {
            Phase::Handshake => Color::Cyan,
            Phase::Open => Color::Green,
            Phase::Closing => Color::Blue,
            Phase::Waiting => Color::Magenta,
        })
    }

    /// The style of a state, by its phase.
    pub fn state(self, s: TcpState) -> Style {
        self.phase(Phase::of(s))
    }

    /// The style of a state's series in a chart: its phase colour, except that two states
    /// of one phase drawn on the same chart (CLOSE_WAIT and FIN_WAIT2) must differ.
    pub fn series(self, s: TcpState) -> Style {
        match s {
            TcpState::FinWait2 => self.fg(Color::LightRed),
            _ => self.state(s),
        }
    }

    /// Whether styles carry colour (without it, charts tell series apart by marker).
    pub fn has_color(self) -> bool {
        self.color
    }

    /// Emphasis for something that needs attention (a buildup, a firing alert).
    pub fn hot(self) -> Style {
        if self.color {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        }
    }

    /// The style of an alert line by severity and phase.
    pub fn alert(self, severity: Severity, phase: AlertPhase) -> Style {
        match (phase, severity) {
            (AlertPhase::Resolved, _) => self.dim(),
            (AlertPhase::Pending, _) => self.fg(Color::Yellow),
            (AlertPhase::Firing, Severity::Warning) => {
                self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
            }
            (AlertPhase::Firing, Severity::Critical) => self.hot(),
        }
    }

    /// Secondary text.
    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    /// Titles and column headers.
    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// The selected row: reverse video reads on every background, with or without colour.
    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// Markers in the header (paused, stretched, errors).
    pub fn warn(self) -> Style {
        if self.color {
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_has_no_colours() {
        let t = Theme::new(false);
        for s in TcpState::ALL {
            assert_eq!(t.state(s).fg, None);
        }
        assert_eq!(t.hot().fg, None);
        assert_eq!(t.warn().fg, None);
        assert_eq!(t.alert(Severity::Critical, AlertPhase::Firing).fg, None);
        assert!(Theme::new(true).state(TcpState::TimeWait).fg.is_some());
    }
}
