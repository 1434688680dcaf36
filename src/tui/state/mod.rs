//! The dashboard's state and its actions: [`app::App`] and the parts it is made of. Nothing
//! here draws, touches the terminal, sleeps or reads a clock: the clock is the latest
//! snapshot's time, so every screen is a function of the events folded in.
//!
//! From the bottom up (no file imports one above it):
//! - [`event`]: the messages between threads (ticks, keys, signals, replay frames);
//! - [`keys`]: the key table and the help it generates;
//! - [`history`]: trends and growth per minute; [`columns`]: the tables' columns and sorts;
//! - [`process_table`], [`target`], [`rows`]: derived rows, what a drill-down opened, and
//!   the row orders of each view ([`proto_rows`] for UDP and UNIX);
//! - [`fleet`]: the `--all-netns` namespaces parked beside the shown one; [`replay`]: the
//!   replay player; [`filter`], [`explain`]: one-function seams to `crate::filter` and
//!   `crate::explain`;
//! - [`kill`], [`churn`]: what `K` would kill and what it did; the destroy events'
//!   interval for the churn panel;
//! - [`app`]: [`app::App`] itself, with its drill-down, fleet and replay actions in
//!   `app/`.

pub mod app;
pub mod churn;
pub mod columns;
pub mod event;
pub mod explain;
pub mod filter;
pub mod fleet;
pub mod grouping;
pub mod history;
pub mod keys;
pub mod kill;
pub mod process_table;
pub mod proto_rows;
pub mod replay;
pub mod rows;
pub mod target;
pub mod view;
