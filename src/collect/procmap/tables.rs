//! What the resolver attributes: every socket table of one collection together
//! ([`Tables`]: TCP, UDP, UNIX), so one `/proc` scan serves all protocols, and the
//! [`Attributable`] trait that lets one generic pass (monomorphised per record type, so
//! the TCP path pays nothing for the others) read an inode and set an owner.

use crate::model::{Owner, SocketRecord, TcpState, UnixRecord};

/// A socket the resolver can attribute.
pub trait Attributable {
    /// Socket inode (what `/proc/PID/fd` links name); 0 when it has none.
    fn inode(&self) -> u64;
    /// Whether no process can hold it by design (no inode; a TCP TIME_WAIT).
    fn ownerless(&self) -> bool;
    /// Its owner.
    fn owner(&self) -> Owner;
    /// Sets its owner.
    fn set_owner(&mut self, owner: Owner);
}

impl Attributable for SocketRecord {
    fn inode(&self) -> u64 {
        self.inode
    }
    fn ownerless(&self) -> bool {
        self.inode == 0 || self.state == TcpState::TimeWait
    }
    fn owner(&self) -> Owner {
        self.owner
    }
    fn set_owner(&mut self, owner: Owner) {
        self.owner = owner;
    }
}

impl Attributable for UnixRecord {
    fn inode(&self) -> u64 {
        self.inode
    }
    fn ownerless(&self) -> bool {
        self.inode == 0
    }
    fn owner(&self) -> Owner {
        self.owner
    }
    fn set_owner(&mut self, owner: Owner) {
        self.owner = owner;
    }
}

/// The socket tables of one collection, attributed in one pass. Empty slices cost nothing.
#[derive(Debug, Default)]
pub struct Tables<'a> {
    /// TCP sockets (request sockets are attributed through their listener).
    pub tcp: &'a mut [SocketRecord],
    /// UDP sockets.
    pub udp: &'a mut [SocketRecord],
    /// UNIX sockets.
    pub unix: &'a mut [UnixRecord],
}

impl<'a> Tables<'a> {
    /// TCP sockets alone.
    pub fn tcp(sockets: &'a mut [SocketRecord]) -> Tables<'a> {
        Tables {
            tcp: sockets,
            ..Tables::default()
        }
    }

    /// Sockets whose inode `known` does not know (inode 0 excluded), over every table.
    pub(super) fn count_where(&self, mut unknown: impl FnMut(u64) -> bool) -> u64 {
        fn count<T: Attributable>(t: &[T], f: &mut impl FnMut(u64) -> bool) -> u64 {
            t.iter().filter(|s| s.inode() != 0 && f(s.inode())).count() as u64
        }
        count(self.tcp, &mut unknown)
            + count(self.udp, &mut unknown)
            + count(self.unix, &mut unknown)
    }

    /// Whether any socket with an inode satisfies `f`.
    pub(super) fn any_inode(&self, mut f: impl FnMut(u64) -> bool) -> bool {
        self.count_where(&mut f) > 0
    }

    /// Calls `f` with every non-zero inode.
    pub(super) fn each_inode(&self, mut f: impl FnMut(u64)) {
        self.count_where(|i| {
            f(i);
            false
        });
    }

    /// Sets every owner from `lookup` (inode → lowest holding pid); returns how many stayed
    /// [`Owner::Unattributed`].
    pub(super) fn assign(&mut self, lookup: impl Fn(u64) -> Option<u32>) -> u64 {
        fn assign<T: Attributable>(t: &mut [T], lookup: &impl Fn(u64) -> Option<u32>) -> u64 {
            let mut unknown = 0;
            for s in t.iter_mut() {
                let owner = if s.ownerless() {
                    Owner::Ownerless
                } else if let Some(pid) = lookup(s.inode()) {
                    Owner::Process(pid)
                } else {
                    unknown += 1;
                    Owner::Unattributed
                };
                s.set_owner(owner);
            }
            unknown
        }
        assign(self.tcp, &lookup) + assign(self.udp, &lookup) + assign(self.unix, &lookup)
    }

    /// The pids owning sockets (after attribution), in table order, repeats included.
    pub fn pids(&self) -> impl Iterator<Item = u32> + '_ {
        let inet = self.tcp.iter().chain(self.udp.iter()).map(|s| s.owner);
        inet.chain(self.unix.iter().map(|s| s.owner))
            .filter_map(Owner::pid)
    }
}
