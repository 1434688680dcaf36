//! Entering network namespaces by name (/run/netns/NAME) or path. Placeholder.

use crate::collect::CollectError;

/// Moves the calling thread into the network namespace `spec` (a name under /run/netns
/// or a path such as /proc/PID/ns/net).
pub fn enter(spec: &str) -> Result<(), CollectError> {
    Err(CollectError::Netns {
        name: spec.into(),
        reason: "not built yet".into(),
    })
}
