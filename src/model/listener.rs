//! Which listener accepts a connection: the lookup the collector uses to attribute request
//! sockets to their listener's owner and the analysis uses to group them per listener.
//! Plain lookups over [`SocketRecord`]s, no I/O.

use std::collections::HashMap;

use super::{Endpoint, SocketRecord, TcpState};

/// Does a listener bound to `listen` accept connections arriving at `local`?
pub fn listener_matches(listen: &Endpoint, local: &Endpoint) -> bool {
    listen.port == local.port && (listen.ip.is_unspecified() || listen.ip == local.ip)
}

/// Index from port to the listeners on it, for matching request sockets to listeners.
pub struct ListenerIndex<'a> {
    by_port: HashMap<u16, Vec<&'a SocketRecord>>,
}

impl<'a> ListenerIndex<'a> {
    /// Indexes the LISTEN sockets among `sockets`.
    pub fn new(sockets: &'a [SocketRecord]) -> ListenerIndex<'a> {
        let mut by_port: HashMap<u16, Vec<&SocketRecord>> = HashMap::new();
        for s in sockets.iter().filter(|s| s.state == TcpState::Listen) {
            by_port.entry(s.local.port).or_default().push(s);
        }
        ListenerIndex { by_port }
    }

    /// The listener that accepts connections to `local`: an exact address match wins over
    /// a wildcard one.
    pub fn find(&self, local: &Endpoint) -> Option<&'a SocketRecord> {
        let cands = self.by_port.get(&local.port)?;
        cands
            .iter()
            .find(|l| l.local.ip == local.ip)
            .or_else(|| cands.iter().find(|l| listener_matches(&l.local, local)))
            .copied()
    }
}
