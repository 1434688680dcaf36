//! Thresholds and the TOML config file. Placeholder.
