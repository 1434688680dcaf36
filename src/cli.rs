//! Command-line definitions (clap derive). Placeholder.
