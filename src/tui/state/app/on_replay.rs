//! [`App`]'s replay actions: a dashboard that replays a recording, folding in the player's
//! frames and turning replay keys into player controls.

use crate::tui::state::app::{App, TuiOptions};
use crate::tui::state::event::{Control, ReplayControl, ReplayFrame, ReplayStatus};
use crate::tui::state::history::{CloseWaitTrend, StateHistory};
use crate::tui::state::keys::Action;

impl App {
    /// A dashboard for replaying a recording: replay keys, and the header shows the player
    /// (until the first frame arrives, an empty recording status).
    pub fn new_replay(opts: &TuiOptions) -> App {
        let mut app = App::new(opts);
        app.paused = true;
        app.churn =
            crate::tui::state::churn::Churn::Off("a recording carries no destroy events".into());
        app.replay = Some(ReplayStatus {
            file: String::new(),
            frame: 0,
            frames: 0,
            at_ms: 0,
            speed: 1.0,
            playing: false,
            sockets: true,
        });
        app
    }

    /// Where the replay is, when replaying.
    pub fn replay(&self) -> Option<&ReplayStatus> {
        self.replay.as_ref()
    }

    /// True when replaying a recording made without `--sockets`: counts come from the
    /// recorded rows and there is no socket list.
    pub fn socketless(&self) -> bool {
        self.replay.as_ref().is_some_and(|r| !r.sockets)
    }

    /// Folds in one message from the player: the status always, the frame when it changed
    /// (after restarting trends from the lead-in when the player jumped).
    pub fn on_replay(&mut self, f: ReplayFrame) {
        self.paused = !f.status.playing;
        self.replay = Some(f.status);
        if f.jumped {
            self.history = StateHistory::default();
            self.cw_trend = CloseWaitTrend::default();
            for l in &f.lead_in {
                self.history.push(l.at_ms, l.states);
                self.cw_trend.observe(l.at_ms, l.close_wait.iter().copied());
            }
        }
        if let Some(t) = f.data {
            self.show_tick(t);
        }
    }

    /// The player control for a replay key, when replaying.
    pub(crate) fn replay_control(&self, action: Action) -> Option<Control> {
        self.replay.as_ref()?;
        let c = match action {
            Action::TogglePause => ReplayControl::TogglePlay,
            Action::StepBack => ReplayControl::Step(-1),
            Action::StepForward => ReplayControl::Step(1),
            Action::SeekBack => ReplayControl::Seek(-1),
            Action::SeekForward => ReplayControl::Seek(1),
            Action::FirstFrame => ReplayControl::First,
            Action::LastFrame => ReplayControl::Last,
            Action::SlowerPlayback => ReplayControl::Slower,
            Action::FasterPlayback => ReplayControl::Faster,
            _ => return None,
        };
        Some(Control::Replay(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_keys_become_player_controls_only_when_replaying() {
        let opts = TuiOptions::new("h", 1000);
        let mut live = App::new(&opts);
        assert_eq!(live.apply(Action::StepForward), None);
        assert_eq!(live.apply(Action::TogglePause), Some(Control::Pause(true)));
        let mut app = App::new_replay(&opts);
        let want = [
            (Action::TogglePause, ReplayControl::TogglePlay),
            (Action::StepBack, ReplayControl::Step(-1)),
            (Action::StepForward, ReplayControl::Step(1)),
            (Action::SeekBack, ReplayControl::Seek(-1)),
            (Action::SeekForward, ReplayControl::Seek(1)),
            (Action::FirstFrame, ReplayControl::First),
            (Action::LastFrame, ReplayControl::Last),
            (Action::SlowerPlayback, ReplayControl::Slower),
            (Action::FasterPlayback, ReplayControl::Faster),
        ];
        for (a, c) in want {
            assert_eq!(app.apply(a), Some(Control::Replay(c)), "{a:?}");
        }
        // The app waits for the player to say it paused: no local toggling.
        assert!(app.paused());
    }
}
