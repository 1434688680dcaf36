//! The dashboard: live (no subcommand, [`run`]) a ratatui view over the stream of snapshots
//! and analyses; over a recording (`sockscope replay FILE`, [`replay()`]) the same app, views
//! and keys, fed by a player instead of the collector. It owns presentation only: it never
//! reads the kernel (the caller's tick closure does) and never changes analysis.
//!
//! Three folders, one-way:
//! - [`state`]: [`App`] and everything it is made of: the messages it folds in
//!   ([`state::event`]), the key table ([`state::keys`]), trends, row orders, the
//!   `--all-netns` fleet and the replay player. Changed only by `App::on_event` /
//!   `App::apply`. It imports nothing from `views` or `runtime`.
//! - [`views`]: one file per panel, pure drawing over `&App`; [`views::draw`] lays them out.
//!   Views read the state and never write it.
//! - [`runtime`]: the terminal (raw mode, alternate screen, restore on panic, SIGTERM or a
//!   lost tty), the threads and the UI loop: receive, apply, draw.

pub mod runtime;
pub mod state;
pub mod views;

pub use runtime::{is_tty, replay, run, run_fleet, LiveSource, TuiError};
pub use state::app::{App, TrendLines, TuiOptions};
pub use state::event::{Control, Event, FleetTick, NetnsFailure, TickData};
pub use state::keys::{action_for, replay_action_for, Action, Mode, View};
pub use state::target::DetailTarget;
pub use views::draw;
