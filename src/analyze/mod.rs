//! Pure analysis over snapshots: counting, history and buildup detection. Nothing here does
//! I/O or knows about presentation.
//!
//! Data flows `Snapshot` → [`aggregate`] (counts) → [`history`] / [`ages`] / [`rates`] (what
//! changes between ticks) → [`detect`] (rules → [`finding::Finding`]s) → [`alerts`]
//! (pending → firing → resolved). [`engine::Analyzer`] drives it all, one call per tick.

pub mod ages;
pub mod aggregate;
pub mod alerts;
pub mod detect;
pub mod engine;
pub mod events;
pub mod finding;
pub mod fold;
pub mod group_rows;
pub mod history;
pub mod ports;
pub mod process_rows;
pub mod proto_counts;
pub mod rates;
