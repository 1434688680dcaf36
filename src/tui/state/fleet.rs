//! `--all-netns` on [`crate::tui::App`]: one namespace is shown at a time through the app's usual
//! fields (`tick`, `history`, `rates`, `cw_trend`), and every other namespace is *parked*
//! here with its own latest tick and its own bounded history, so switching (`n`/`N`, or
//! Enter on another namespace's alert) swaps state in and out instead of rebuilding it.
//! Memory stays bounded: one latest tick and fixed-size ring buffers per live namespace,
//! and namespaces that vanish are dropped. Reads and writes only the app's state.

use std::collections::BTreeMap;

use crate::tui::state::event::{NetnsFailure, TickData};
use crate::tui::state::history::{CloseWaitTrend, StateHistory};

/// The per-namespace state of a namespace that is not shown.
#[derive(Debug, Clone, Default)]
pub struct Parked {
    /// Its latest tick.
    pub(crate) tick: Option<TickData>,
    pub(crate) history: StateHistory,
    pub(crate) cw_trend: CloseWaitTrend,
}

impl Parked {
    pub(crate) fn observe(&mut self, t: TickData) {
        crate::tui::state::history::observe(&mut self.history, &mut self.cw_trend, &t);
        self.tick = Some(t);
    }
}

/// Every namespace of the latest `--all-netns` tick.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    /// Namespace labels in discovery order (`host` first).
    pub(crate) order: Vec<String>,
    /// The shown namespace; its state lives in the app's own fields.
    pub(crate) active: String,
    /// Everything else, by label.
    pub(crate) parked: BTreeMap<String, Parked>,
    /// Namespaces that could not be read on the latest tick.
    pub(crate) failures: Vec<NetnsFailure>,
}

/// One namespace's line in the namespaces strip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsSummary {
    /// Its label.
    pub name: String,
    /// Whether it is the one shown.
    pub active: bool,
    /// Sockets in it (all states).
    pub sockets: u64,
    /// Alerts firing in it.
    pub firing: usize,
}

impl Fleet {
    /// The shown namespace's position (from 0) and the namespace count.
    pub fn position(&self) -> Option<(usize, usize)> {
        let i = self.order.iter().position(|n| *n == self.active)?;
        Some((i, self.order.len()))
    }

    /// The namespaces that could not be read on the latest tick.
    pub fn failures(&self) -> &[NetnsFailure] {
        &self.failures
    }
}
