//! Socket inode → process attribution through procfs. Placeholder until it lands.

use std::collections::BTreeMap;

use crate::model::{Attribution, Owner, ProcessInfo, SocketRecord, TcpState};

/// Maps socket inodes to processes, cached between polls.
#[derive(Default)]
pub struct ProcessResolver {}

impl ProcessResolver {
    /// A resolver over the host's /proc.
    pub fn new() -> ProcessResolver {
        ProcessResolver {}
    }

    /// Sets `owner` on every socket and returns the processes referenced.
    pub fn attribute(
        &mut self,
        sockets: &mut [SocketRecord],
    ) -> (BTreeMap<u32, ProcessInfo>, Attribution) {
        for s in sockets.iter_mut() {
            s.owner = if s.inode == 0 || s.state == TcpState::TimeWait {
                Owner::Ownerless
            } else {
                Owner::Unattributed
            };
        }
        (BTreeMap::new(), Attribution::default())
    }
}
