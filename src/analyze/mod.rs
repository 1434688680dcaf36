//! Pure analysis over snapshots: counting, history and buildup detection. Nothing here does
//! I/O or knows about presentation.

pub mod aggregate;
pub mod engine;
pub mod finding;
