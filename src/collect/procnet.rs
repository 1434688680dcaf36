//! /proc/net/tcp{,6} fallback source. Placeholder until the parser lands.

use super::{CollectError, DumpRequest, SocketDump, SocketSource};
use crate::model::SourceKind;

/// Reads /proc/net/tcp and /proc/net/tcp6 of the calling thread's network namespace.
pub struct ProcNetSource {}

impl ProcNetSource {
    /// A source reading the calling thread's /proc/thread-self/net.
    pub fn new() -> ProcNetSource {
        ProcNetSource {}
    }
}

impl Default for ProcNetSource {
    fn default() -> Self {
        Self::new()
    }
}

impl SocketSource for ProcNetSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Proc
    }
    fn dump(&mut self, _req: &DumpRequest) -> Result<SocketDump, CollectError> {
        Err(CollectError::Unsupported(
            "proc source not built yet".into(),
        ))
    }
}
