//! One-shot output formats. Placeholder.

/// Output of the one-shot `check`.
pub mod check;
