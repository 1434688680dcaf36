//! Read-only accessors of [`App`] for the renderer and tests: the state's fields stay
//! private to `app`, and drawing reads them only through these.

use super::{view_slot, App};
use crate::analyze::engine::Analysis;
use crate::model::Snapshot;
use crate::tui::state::keys::{Mode, View};
use crate::tui::state::target::DetailTarget;

impl App {
    /// True once the user (or a signal, or a lost tty) asked to leave.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// Why the dashboard must stop, when it is not the user's choice (the collector died).
    pub fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }

    /// The signal that ended the dashboard, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view
    }

    /// The current input mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The collection interval in milliseconds.
    pub fn interval_ms(&self) -> u64 {
        self.interval_ms
    }

    /// Whether collection is paused.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The committed socket filter expression.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The latest snapshot and analysis, if any.
    pub fn data(&self) -> Option<(&Snapshot, &Analysis)> {
        self.tick.as_ref().map(|t| (&t.snapshot, &t.analysis))
    }

    /// The selected row of the current view.
    pub fn selected(&self) -> usize {
        self.selected[view_slot(self.view)]
    }

    /// The footer's answer to the last key, if any.
    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// The open drill-down, if any.
    pub fn detail(&self) -> Option<&DetailTarget> {
        self.detail.as_ref()
    }
}
