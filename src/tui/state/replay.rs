//! Replay: the dashboard over a recording (`sockscope replay FILE`). This file owns the pure
//! parts: the [`Player`] (which frame, playing or paused, how fast, when the next frame is
//! due) and turning a recorded [`Tick`] into the [`ReplayFrame`] the UI loop folds into
//! [`crate::tui::App`]. The thread that owns the recording and the player lives in
//! [`crate::tui::runtime`]; nothing here sleeps, reads a clock or touches the terminal.
//!
//! Time is the recording's: a frame's clock is its `taken_at_ms`, and the wait before the
//! next frame is the recorded gap divided by the speed ([`next_due_ms`]), so the same keys
//! give the same screens whatever the wall clock does.
//!
//! Seeking: `[`/`]` move a tenth of the recording's *frames* (at least one), not of its
//! wall-clock span, so a recording with a gap (the recorder was stopped) still seeks evenly.
//! After any jump (anything but "the next frame") the app's trends restart from a lead-in
//! of up to [`HISTORY_LEN`] earlier frames, so the charts show what led up to the frame.

use crate::analyze::ages::ages_from_snapshot;
use crate::analyze::engine::Analysis;
use crate::analyze::finding::AlertPhase;
use crate::model::TcpState;
use crate::record::{Recording, Tick};
use crate::tui::state::event::{LeadIn, ReplayControl, ReplayFrame, ReplayStatus, TickData};
use crate::tui::state::history::HISTORY_LEN;

/// Playback speeds `-`/`+` step through.
pub const SPEEDS: [f64; 7] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];

/// Index of 1× in [`SPEEDS`].
const NORMAL_SPEED: usize = 2;

/// Longest recorded gap played back as it was (ms of recording time); a longer one (the
/// recorder was stopped for an hour) is played as this long.
pub const MAX_GAP_MS: i64 = 10_000;

/// Milliseconds to wait before showing the frame taken at `to_ms` after the one taken at
/// `from_ms`, at `speed`: the recorded gap over the speed, a clock that stepped back counting
/// as no gap and a gap over [`MAX_GAP_MS`] as that.
pub fn next_due_ms(from_ms: i64, to_ms: i64, speed: f64) -> u64 {
    let gap = to_ms.saturating_sub(from_ms).clamp(0, MAX_GAP_MS) as f64;
    let speed = if speed > 0.0 { speed } else { 1.0 };
    (gap / speed).round() as u64
}

/// The player: pure state over the recorded frame times.
#[derive(Debug, Clone, PartialEq)]
pub struct Player {
    times: Vec<i64>,
    pos: usize,
    speed: usize,
    playing: bool,
}

impl Player {
    /// A player over frames taken at `times` (file order), at the first frame, paused, 1×.
    pub fn new(times: Vec<i64>) -> Player {
        Player {
            times,
            pos: 0,
            speed: NORMAL_SPEED,
            playing: false,
        }
    }

    /// The current frame, 0-based.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Frames in the recording.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// True for a player over no frames (a [`Recording`] always has one).
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Whether it is playing.
    pub fn playing(&self) -> bool {
        self.playing
    }

    /// The playback speed, one of [`SPEEDS`].
    pub fn speed(&self) -> f64 {
        SPEEDS[self.speed]
    }

    fn last(&self) -> usize {
        self.times.len().saturating_sub(1)
    }

    fn go(&mut self, to: i64) {
        self.pos = to.clamp(0, self.last() as i64) as usize;
    }

    /// Carries out one control.
    pub fn apply(&mut self, c: ReplayControl) {
        let pos = self.pos as i64;
        match c {
            ReplayControl::TogglePlay => {
                if !self.playing && self.pos == self.last() {
                    self.pos = 0;
                }
                self.playing = !self.playing && self.pos < self.last();
            }
            ReplayControl::Step(n) => {
                self.playing = false;
                self.go(pos + n);
            }
            ReplayControl::Seek(tenths) => {
                let tenth = (self.times.len() / 10).max(1) as i64;
                self.go(pos + tenths * tenth);
            }
            ReplayControl::First => self.pos = 0,
            ReplayControl::Last => self.pos = self.last(),
            ReplayControl::Slower => self.speed = self.speed.saturating_sub(1),
            ReplayControl::Faster => self.speed = (self.speed + 1).min(SPEEDS.len() - 1),
        }
        if self.pos == self.last() {
            self.playing = false;
        }
    }

    /// Milliseconds until the next frame is due, or `None` when paused or at the end.
    pub fn due_in_ms(&self) -> Option<u64> {
        if !self.playing {
            return None;
        }
        let next = self.times.get(self.pos + 1)?;
        Some(next_due_ms(self.times[self.pos], *next, self.speed()))
    }

    /// Moves to the next frame when playing (the due time passed); pauses at the end.
    pub fn advance(&mut self) {
        if self.playing && self.pos < self.last() {
            self.pos += 1;
        }
        if self.pos == self.last() {
            self.playing = false;
        }
    }
}

/// The recording's file name without its directory.
pub fn file_name(rec: &Recording) -> String {
    let name = rec.name();
    std::path::Path::new(name)
        .file_name()
        .map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned())
}

/// The `(Snapshot, Analysis)` the dashboard shows for a recorded tick.
pub fn tick_data(tick: &Tick, netns: &str) -> TickData {
    let alerts = tick.alerts.clone();
    let findings = alerts
        .iter()
        .filter(|a| a.phase != AlertPhase::Resolved)
        .map(|a| a.finding.clone())
        .collect();
    let snapshot = tick.to_snapshot(netns);
    // A frame has no first-seen history (the player can jump): only what the kernel dates.
    let ages = ages_from_snapshot(&snapshot);
    TickData {
        snapshot,
        analysis: Analysis {
            aggregate: tick.aggregate(),
            alerts,
            findings,
            rates: tick.rates(),
            ages,
            churn: tick.churn(),
        },
        tick_ms: tick.collect_us / 1000,
    }
}

/// A tick's contribution to trends, from its recorded rows (never its sockets).
pub fn lead_in(tick: &Tick) -> LeadIn {
    LeadIn {
        at_ms: tick.taken_at_ms,
        states: tick.states.0,
        close_wait: tick
            .processes
            .iter()
            .map(|p| (p.pid, p.states.0.get(TcpState::CloseWait)))
            .collect(),
    }
}

/// The message for the player's current state. `shown` is the frame the app shows now
/// (`None` before the first); the frame's data is included only when it changed.
pub fn frame(rec: &Recording, player: &Player, shown: Option<usize>) -> ReplayFrame {
    let pos = player.pos();
    let ticks = rec.ticks();
    let status = ReplayStatus {
        file: file_name(rec),
        frame: pos,
        frames: ticks.len(),
        at_ms: ticks.get(pos).map_or(0, |t| t.taken_at_ms),
        speed: player.speed(),
        playing: player.playing(),
        sockets: rec.header().sockets,
    };
    if shown == Some(pos) {
        return ReplayFrame {
            status,
            data: None,
            jumped: false,
            lead_in: Vec::new(),
        };
    }
    let jumped = shown.is_none_or(|s| s + 1 != pos);
    let lead_in = if jumped {
        ticks[pos.saturating_sub(HISTORY_LEN - 1)..pos]
            .iter()
            .map(lead_in)
            .collect()
    } else {
        Vec::new()
    };
    ReplayFrame {
        status,
        data: ticks.get(pos).map(|t| tick_data(t, &rec.header().netns)),
        jumped,
        lead_in,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn player(n: usize) -> Player {
        Player::new((0..n as i64).map(|i| 1_000 * i).collect())
    }

    #[test]
    fn due_time_is_the_recorded_gap_over_the_speed() {
        assert_eq!(next_due_ms(0, 1000, 1.0), 1000);
        assert_eq!(next_due_ms(0, 1000, 2.0), 500);
        assert_eq!(next_due_ms(0, 1000, 0.25), 4000);
        assert_eq!(next_due_ms(0, 1000, 16.0), 63);
        // The clock stepped back: no wait. A long gap: capped.
        assert_eq!(next_due_ms(5000, 1000, 1.0), 0);
        assert_eq!(next_due_ms(0, 3_600_000, 1.0), MAX_GAP_MS as u64);
        assert_eq!(next_due_ms(i64::MIN, i64::MAX, 1.0), MAX_GAP_MS as u64);
    }

    #[test]
    fn starts_paused_at_the_first_frame_and_plays_to_the_end() {
        let mut p = player(3);
        assert_eq!((p.pos(), p.playing(), p.speed()), (0, false, 1.0));
        assert_eq!(p.due_in_ms(), None);
        p.apply(ReplayControl::TogglePlay);
        assert!(p.playing());
        assert_eq!(p.due_in_ms(), Some(1000));
        p.advance();
        p.advance();
        assert_eq!((p.pos(), p.playing(), p.due_in_ms()), (2, false, None));
        p.advance();
        assert_eq!(p.pos(), 2);
        // Play at the end starts again.
        p.apply(ReplayControl::TogglePlay);
        assert_eq!((p.pos(), p.playing()), (0, true));
        p.apply(ReplayControl::TogglePlay);
        assert!(!p.playing());
    }

    #[test]
    fn stepping_pauses_and_stays_in_bounds() {
        let mut p = player(5);
        p.apply(ReplayControl::TogglePlay);
        p.apply(ReplayControl::Step(1));
        assert_eq!((p.pos(), p.playing()), (1, false));
        p.apply(ReplayControl::Step(-1));
        p.apply(ReplayControl::Step(-1));
        assert_eq!(p.pos(), 0);
        p.apply(ReplayControl::Step(99));
        assert_eq!(p.pos(), 4);
        p.apply(ReplayControl::First);
        assert_eq!(p.pos(), 0);
        p.apply(ReplayControl::TogglePlay);
        p.apply(ReplayControl::Last);
        assert_eq!((p.pos(), p.playing()), (4, false));
    }

    #[test]
    fn seeking_moves_a_tenth_of_the_frames_and_keeps_playing() {
        let mut p = player(100);
        p.apply(ReplayControl::TogglePlay);
        p.apply(ReplayControl::Seek(1));
        assert_eq!((p.pos(), p.playing()), (10, true));
        p.apply(ReplayControl::Seek(-1));
        p.apply(ReplayControl::Seek(-1));
        assert_eq!(p.pos(), 0);
        for _ in 0..20 {
            p.apply(ReplayControl::Seek(1));
        }
        assert_eq!((p.pos(), p.playing()), (99, false));
        // A short recording still moves at least one frame.
        let mut p = player(4);
        p.apply(ReplayControl::Seek(1));
        assert_eq!(p.pos(), 1);
    }

    #[test]
    fn speed_doubles_and_halves_within_bounds() {
        let mut p = player(2);
        for _ in 0..10 {
            p.apply(ReplayControl::Faster);
        }
        assert_eq!(p.speed(), 16.0);
        p.apply(ReplayControl::TogglePlay);
        assert_eq!(p.due_in_ms(), Some(63));
        for _ in 0..10 {
            p.apply(ReplayControl::Slower);
        }
        assert_eq!(p.speed(), 0.25);
        assert_eq!(p.due_in_ms(), Some(4000));
        p.apply(ReplayControl::Faster);
        assert_eq!(p.speed(), 0.5);
    }

    #[test]
    fn a_one_frame_recording_never_plays() {
        let mut p = player(1);
        p.apply(ReplayControl::TogglePlay);
        assert!(!p.playing());
        p.apply(ReplayControl::Seek(-3));
        p.apply(ReplayControl::Step(1));
        assert_eq!(p.pos(), 0);
        assert_eq!(p.due_in_ms(), None);
    }
}
