//! Socket filters shared by every mode. Placeholder.
