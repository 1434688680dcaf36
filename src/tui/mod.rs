//! The dashboard: live (`sockscope top`, [`run`]) a ratatui view over the stream of
//! snapshots and analyses; over a recording (`sockscope replay FILE`, [`replay()`]) the same
//! app, views and keys, fed by a player instead of the collector. It owns presentation
//! only: it never reads the kernel (the caller's tick closure does) and never changes
//! analysis.
//!
//! Layout of this module:
//! - [`runtime`]: terminal setup/restore, threads, the UI loop ([`run`], [`replay()`],
//!   [`is_tty`]).
//! - [`mod@replay`]: the replay player (pure) and recorded ticks as frames.
//! - [`event`]: the messages between threads ([`Event`], [`Control`], [`TickData`]).
//! - [`keys`]: the key table ([`keys::action_for`]) and the help it generates.
//! - [`app`]: [`App`], the state, changed only by `on_event` / `apply`; [`fleet`]: the
//!   `--all-netns` namespace switcher on it (one namespace shown, the others parked).
//! - [`history`], [`rows`]: derived state (trends, rates, ages, row orders).
//! - [`ui`] and one file per panel/view: pure drawing over `&App` ([`namespaces`]: the
//!   `--all-netns` strip).
//! - [`filter`], [`explain`]: the one-function seams to `crate::filter` and `crate::explain`.

pub mod alerts;
pub mod app;
pub mod detail;
mod drill;
pub mod event;
pub mod explain;
pub mod filter;
pub mod fleet;
pub mod fmt;
pub mod histogram;
pub mod history;
pub mod keys;
pub mod listeners;
pub mod namespaces;
pub mod overview;
pub mod processes;
pub mod remotes;
pub mod replay;
pub mod rows;
pub mod runtime;
pub mod sockets;
pub mod statemachine;
pub mod table;
pub mod theme;
pub mod trends;
pub mod ui;

pub use app::{App, DetailTarget, TuiOptions};
pub use event::{Control, Event, FleetTick, NetnsFailure, TickData};
pub use keys::{action_for, replay_action_for, Action, Mode, View};
pub use runtime::{is_tty, replay, run, run_fleet, TuiError};
pub use ui::draw;
