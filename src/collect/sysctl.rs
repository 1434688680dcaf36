//! The sysctls the verdicts cite, read from /proc/sys. Placeholder.

use crate::model::Sysctls;

/// Reads the sysctls of the calling thread's network namespace.
pub fn read_sysctls() -> Sysctls {
    Sysctls::default()
}
