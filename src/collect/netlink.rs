//! sock_diag (NETLINK_SOCK_DIAG) TCP dump. Placeholder until the netlink source lands.

use super::{CollectError, DumpRequest, SocketDump, SocketSource};
use crate::model::SourceKind;

/// A persistent NETLINK_SOCK_DIAG socket that dumps TCP sockets.
pub struct NetlinkSource {}

impl NetlinkSource {
    /// Opens the netlink socket in the calling thread's network namespace.
    pub fn open() -> Result<NetlinkSource, CollectError> {
        Err(CollectError::Unsupported(
            "netlink source not built yet".into(),
        ))
    }
}

impl SocketSource for NetlinkSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Netlink
    }
    fn dump(&mut self, _req: &DumpRequest) -> Result<SocketDump, CollectError> {
        Err(CollectError::Unsupported(
            "netlink source not built yet".into(),
        ))
    }
}
