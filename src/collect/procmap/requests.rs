//! Request sockets (SYN_RECV, inode 0) belong to no process: [`attribute_requests`]
//! counts each toward its listener's owner.

use crate::model::{ListenerIndex, Owner, SocketRecord, TcpState};

/// Points every inode-0 SYN_RECV socket at the owner of the listener that accepts on its
/// local address ([`Owner::ViaListener`]), or [`Owner::Ownerless`] when that listener is
/// missing or unattributed. Listeners must already carry their owners.
pub fn attribute_requests(sockets: &mut [SocketRecord]) {
    let owners: Vec<(usize, Owner)> = {
        let index = ListenerIndex::new(sockets);
        sockets
            .iter()
            .enumerate()
            .filter(|(_, s)| s.inode == 0 && s.state == TcpState::SynRecv)
            .map(|(i, s)| {
                let owner = match index.find(&s.local).map(|l| l.owner) {
                    Some(Owner::Process(pid)) => Owner::ViaListener(pid),
                    _ => Owner::Ownerless,
                };
                (i, owner)
            })
            .collect()
    };
    for (i, owner) in owners {
        if let Some(s) = sockets.get_mut(i) {
            s.owner = owner;
        }
    }
}
