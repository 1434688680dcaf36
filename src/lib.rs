//! sockscope: a Linux TCP socket-state monitor.
//!
//! Data flows one way: [`collect`] reads the kernel into a [`model::Snapshot`], [`analyze`]
//! turns snapshots into counts, trends and findings, and the presenters ([`report`], and
//! later the dashboard and the metrics endpoint) format them. No presenter touches the
//! kernel and no collector knows about presentation.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod analyze;
pub mod cli;
pub mod collect;
pub mod config;
pub mod explain;
pub mod fasthash;
pub mod filter;
pub mod model;
pub mod oneshot;
pub mod record;
pub mod report;
pub mod safefs;
pub mod serve;
pub mod stream;
pub mod tui;
