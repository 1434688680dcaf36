//! The sysctls the verdicts cite, read from `/proc/sys`.
//!
//! Reads the names in [`TCP_SYSCTLS`] (a list the model owns, since the explanations cite
//! the same names). `/proc/sys/net` is resolved
//! against the network namespace of the thread that opens it, so a collector thread that
//! entered a namespace reads that namespace's values. Interpreting them (headroom, backlog
//! caps) belongs to `analyze`; entering namespaces belongs to `netns`.

use std::path::Path;

use crate::model::{Sysctls, TCP_SYSCTLS};

/// Collapses runs of whitespace (tabs in `ip_local_port_range`) to single spaces and trims.
pub fn normalize_value(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads [`TCP_SYSCTLS`] under `sys_root` (normally `/proc/sys`). Missing or unreadable
/// ones are left out.
pub fn read_sysctls_from(sys_root: &Path) -> Sysctls {
    let mut out = Sysctls::default();
    for &name in TCP_SYSCTLS {
        let path = sys_root.join(name.replace('.', "/"));
        if let Ok(raw) = std::fs::read_to_string(path) {
            out.values.insert(name.to_string(), normalize_value(&raw));
        }
    }
    out
}

/// Reads the sysctls of the calling thread's network namespace.
pub fn read_sysctls() -> Sysctls {
    read_sysctls_from(Path::new("/proc/sys"))
}

#[cfg(test)]
#[path = "sysctl_tests.rs"]
mod tests;
