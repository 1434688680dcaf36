//! Assembles a Snapshot from a socket source, attribution, counters and sysctls. Placeholder.
