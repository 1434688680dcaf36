//! One-shot output formats. Placeholder.
