//! Per-state and per-rule explanations and remedies. Placeholder.
