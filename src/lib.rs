//! sockscope: a Linux socket-state monitor.
//!
//! Data flows one way: [`collect`] reads the kernel into a [`model::Snapshot`], [`analyze`]
//! turns snapshots into counts, trends and findings, and the presenters ([`report`],
//! [`serve`], [`tui`]) format them. [`mode`] wires one of each together per way of running
//! sockscope. No presenter touches the kernel, no collector knows about analysis or
//! presentation, and no presenter borrows from another. ARCHITECTURE.md draws the tree;
//! `tests/architecture.rs` fails when an import runs against the flow.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod analyze;
pub mod cli;
pub mod collect;
pub mod config;
pub mod explain;
pub mod fasthash;
pub mod filter;
pub mod mode;
pub mod model;
pub mod record;
pub mod report;
pub mod safefs;
pub mod serve;
pub mod tui;
