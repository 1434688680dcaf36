//! The messages that cross threads in live mode: [`Event`] flows from the collector, input
//! and signal threads to the UI loop over one channel; [`Control`] flows back from the UI loop
//! to the collector thread (in replay, to the player thread). Plain owned data; nothing here
//! touches the terminal or the kernel.

use crossterm::event::KeyEvent;

use crate::analyze::engine::Analysis;
use crate::model::Snapshot;
use crate::tui::replay::{ReplayControl, ReplayFrame};

/// One collection and its analysis, as the collector thread produced it.
#[derive(Debug, Clone)]
pub struct TickData {
    /// The sockets, processes, counters and sysctls of this tick.
    pub snapshot: Snapshot,
    /// Counts and alerts computed from `snapshot`.
    pub analysis: Analysis,
    /// Wall time the collection (and analysis) took, in milliseconds.
    pub tick_ms: u64,
}

/// A namespace `--all-netns` could not enter or collect, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsFailure {
    /// The namespace's label (or path, when it has none).
    pub netns: String,
    /// Why it was not collected.
    pub reason: String,
}

/// One `--all-netns` tick: a collection per readable namespace (in discovery order, `host`
/// first) and the namespaces that could not be read this tick.
#[derive(Debug, Clone, Default)]
pub struct FleetTick {
    /// One [`TickData`] per namespace; each snapshot's `netns` names it.
    pub ticks: Vec<TickData>,
    /// Namespaces skipped this tick, shown in the header (never silently dropped).
    pub failures: Vec<NetnsFailure>,
}

/// Everything the UI loop reacts to.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new collection arrived. Boxed: a snapshot is large and most events are keys.
    Tick(Box<TickData>),
    /// (`--all-netns`) A collection of every namespace arrived. Boxed like [`Event::Tick`].
    Fleet(Box<FleetTick>),
    /// The collector failed this tick; the previous data stays on screen.
    CollectError(String),
    /// A key was pressed.
    Key(KeyEvent),
    /// The terminal was resized to (columns, rows).
    Resize(u16, u16),
    /// The terminal input failed (tty lost): leave cleanly.
    InputLost(String),
    /// SIGTERM, SIGHUP or SIGINT arrived: leave cleanly.
    Terminate(i32),
    /// The tick closure panicked; the collector thread is gone. Leave with this message.
    CollectorGone(String),
    /// (replay) The player moved, paused or changed speed. Boxed like [`Event::Tick`].
    Replay(Box<ReplayFrame>),
}

/// Requests from the UI loop to the collector thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Collect every this many milliseconds from now on.
    SetInterval(u64),
    /// Stop (true) or resume (false) collecting.
    Pause(bool),
    /// Stop the collector thread.
    Shutdown,
    /// (replay) Move, pause or change the speed of the player.
    Replay(ReplayControl),
}
