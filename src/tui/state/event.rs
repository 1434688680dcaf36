//! The messages that cross threads in live mode: [`Event`] flows from the collector, input
//! and signal threads to the UI loop over one channel; [`Control`] flows back from the UI loop
//! to the collector thread (in replay, to the player thread). Plain owned data; nothing here
//! touches the terminal or the kernel.

use crossterm::event::KeyEvent;

use crate::analyze::engine::Analysis;
use crate::model::Snapshot;
use crate::model::StateCounts;
use crate::tui::state::churn::Churn;
use crate::tui::state::kill::KillDone;

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
    /// The collector thread carried out a `K` kill: what happened.
    Killed(Box<KillDone>),
    /// The destroy events of the interval before the next tick, or why there are none.
    Churn(Box<Churn>),
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

/// Requests from the UI loop to the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayControl {
    /// Play, or pause. Playing at the last frame starts again from the first.
    TogglePlay,
    /// Move this many frames (clamped to the recording); pauses.
    Step(i64),
    /// Move this many tenths of the recording's frames (at least one frame each); keeps
    /// playing or paused.
    Seek(i64),
    /// The first frame.
    First,
    /// The last frame (pauses: there is nothing after it).
    Last,
    /// Halve the speed (not below 0.25×).
    Slower,
    /// Double the speed (not above 16×).
    Faster,
}

/// Where the player is, as the header shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayStatus {
    /// The recording's file name (no directory).
    pub file: String,
    /// The current frame, 0-based.
    pub frame: usize,
    /// Frames in the recording.
    pub frames: usize,
    /// The current frame's time, ms since the epoch.
    pub at_ms: i64,
    /// Playback speed, one of [`crate::tui::state::replay::SPEEDS`].
    pub speed: f64,
    /// Playing (true) or paused.
    pub playing: bool,
    /// Whether the recording carries the socket list (`record --sockets`).
    pub sockets: bool,
}

/// What a recorded frame contributes to trends (trend charts, growth), without
/// its sockets: cheap enough to send a few hundred of after a jump.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadIn {
    /// When it was taken.
    pub at_ms: i64,
    /// Sockets per state.
    pub states: StateCounts,
    /// CLOSE_WAIT sockets per pid.
    pub close_wait: Vec<(u32, u64)>,
}

/// One message from the player: the status, and the frame's data when the frame changed.
#[derive(Debug, Clone)]
pub struct ReplayFrame {
    /// Where the player is now.
    pub status: ReplayStatus,
    /// The frame, when it changed (`None`: only pause or speed changed).
    pub data: Option<TickData>,
    /// True when the frame is not the one after the previous: trends restart from
    /// `lead_in` before `data` is shown.
    pub jumped: bool,
    /// The frames before `data`, oldest first (only when `jumped`).
    pub lead_in: Vec<LeadIn>,
}
