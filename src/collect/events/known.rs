//! What periodic polls saw of each socket, by cookie, so a destroy notification (which
//! carries no inode, uid or owner) can be given its owner, its last polled state and its
//! first sighting, and so a connection that no poll ever saw can be called short-lived.
//!
//! "Short-lived" is measured, not guessed: a socket whose cookie no poll saw, destroyed
//! after the first poll of its protocol, was born after the last poll before its death
//! and died before the next one, so it lived less than one poll interval (plus the
//! dump's own duration). Two generations are kept (the last poll and the one before) so a
//! socket seen by poll k and destroyed just before poll k+1 finished is still known when
//! its notification is read after that poll. Caveat: a dump is not atomic, so a socket
//! created while a dump walks the table can be missed by it and counted short-lived.

use std::collections::HashMap;

use crate::model::{
    Endpoint, Owner, ProcessInfo, Protocol, Protocols, Snapshot, SocketRecord, TcpState,
};

/// One socket as the polls knew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The state at the last poll that saw it.
    pub state: TcpState,
    /// Its inode (0: TIME_WAIT or request socket).
    pub inode: u64,
    /// Its uid.
    pub uid: u32,
    /// Its owner at that poll, when attribution named one.
    pub process: Option<ProcessInfo>,
    /// When a poll first saw it (ms since the epoch).
    pub first_seen_ms: i64,
    /// Its endpoints at that poll. An aborted connection (RST on close, `SO_LINGER` 0) is
    /// announced with its local address and remote port cleared (measured on 6.18), so
    /// these are the only ones left to show.
    pub local: Endpoint,
    /// See `local`.
    pub remote: Endpoint,
}

/// The cookie cache over the last two polls.
#[derive(Debug, Default)]
pub struct KnownSockets {
    current: HashMap<(Protocol, u64), Known>,
    previous: HashMap<(Protocol, u64), Known>,
    /// Protocols each completed poll covered, and when the first such poll finished.
    polled: Protocols,
    first_poll_ms: Option<i64>,
}

impl KnownSockets {
    /// Takes in one poll: `snap.protocols` says which tables it covered.
    pub fn observe(&mut self, snap: &Snapshot, finished_ms: i64) {
        let mut next = HashMap::with_capacity(snap.sockets.len() + snap.udp.len());
        let tables = [(Protocol::Tcp, &snap.sockets), (Protocol::Udp, &snap.udp)];
        for (proto, list) in tables {
            if !snap.protocols.contains(proto) {
                continue;
            }
            for s in list.iter() {
                if let Some(cookie) = s.cookie {
                    let first = self
                        .lookup(proto, cookie)
                        .map_or(snap.taken_at_ms, |k| k.first_seen_ms);
                    next.insert((proto, cookie), known(s, snap, first));
                }
            }
        }
        self.previous = std::mem::replace(&mut self.current, next);
        // A poll from /proc carries no cookies, so it cannot tell which sockets it saw:
        // counting its tables as polled would call every close short-lived.
        self.polled = if snap.source == crate::model::SourceKind::Proc {
            Protocols::NONE
        } else {
            snap.protocols
        };
        self.first_poll_ms.get_or_insert(finished_ms);
    }

    /// Says the last poll listed only part of its tables (a `--state` filter): a socket
    /// it did not list may have lived through it, so lifetimes are unknown, never
    /// "short-lived", until a complete poll.
    pub fn forget_coverage(&mut self) {
        self.polled = Protocols::NONE;
    }

    /// What the polls knew of this socket.
    pub fn lookup(&self, proto: Protocol, cookie: u64) -> Option<&Known> {
        self.current
            .get(&(proto, cookie))
            .or_else(|| self.previous.get(&(proto, cookie)))
    }

    /// Whether a socket destroyed at `at_ms` lived less than one poll interval: `None`
    /// when that cannot be known (no poll of its protocol finished before it died).
    pub fn short_lived(&self, proto: Protocol, cookie: u64, at_ms: i64) -> Option<bool> {
        let first = self.first_poll_ms?;
        if !self.polled.contains(proto) || at_ms < first {
            return None;
        }
        Some(self.lookup(proto, cookie).is_none())
    }

    /// Sockets known from the last poll.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// Whether no poll saw any socket.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

fn known(s: &SocketRecord, snap: &Snapshot, first_seen_ms: i64) -> Known {
    let process = match s.owner {
        Owner::Process(pid) | Owner::ViaListener(pid) => snap.processes.get(&pid).cloned(),
        _ => None,
    };
    Known {
        state: s.state,
        inode: s.inode,
        uid: s.uid,
        process,
        first_seen_ms,
        local: s.local,
        remote: s.remote,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Name, SourceKind};

    fn snap(at: i64, cookies: &[u64]) -> Snapshot {
        let mut sockets = Vec::new();
        for &c in cookies {
            let mut s = SocketRecord::new(
                TcpState::Established,
                "127.0.0.1:80".parse().unwrap(),
                "127.0.0.1:5000".parse().unwrap(),
                Owner::Process(7),
            );
            s.cookie = Some(c);
            s.inode = 100 + c;
            sockets.push(s);
        }
        let mut processes = std::collections::BTreeMap::new();
        processes.insert(
            7,
            ProcessInfo {
                pid: 7,
                comm: Name::from("nginx"),
                uid: 0,
                user: Name::from("root"),
                unit: None,
                container: None,
            },
        );
        Snapshot {
            taken_at_ms: at,
            source: SourceKind::Netlink,
            netns: "host".into(),
            protocols: Protocols::TCP,
            sockets,
            udp: Vec::new(),
            unix: Vec::new(),
            processes,
            attribution: Default::default(),
            quality: Default::default(),
            counters: None,
            sysctls: None,
            collect_us: 0,
        }
    }

    #[test]
    fn two_generations_and_first_sighting() {
        let mut k = KnownSockets::default();
        assert_eq!(k.short_lived(Protocol::Tcp, 1, 50), None, "no poll yet");
        k.observe(&snap(1000, &[1, 2]), 1001);
        k.observe(&snap(2000, &[2, 3]), 2001);
        // 1 left between the polls: still known from the previous generation.
        assert_eq!(k.lookup(Protocol::Tcp, 1).map(|x| x.inode), Some(101));
        assert_eq!(
            k.lookup(Protocol::Tcp, 2).map(|x| x.first_seen_ms),
            Some(1000)
        );
        let owner = k.lookup(Protocol::Tcp, 3).and_then(|x| x.process.clone());
        assert_eq!(owner.map(|p| p.comm), Some(Name::from("nginx")));
        assert_eq!(k.short_lived(Protocol::Tcp, 3, 2500), Some(false));
        assert_eq!(k.short_lived(Protocol::Tcp, 99, 2500), Some(true));
        assert_eq!(
            k.short_lived(Protocol::Tcp, 99, 900),
            None,
            "before the first poll"
        );
        assert_eq!(
            k.short_lived(Protocol::Udp, 99, 2500),
            None,
            "UDP never polled"
        );
        k.observe(&snap(3000, &[3]), 3001);
        assert!(k.lookup(Protocol::Tcp, 1).is_none());
        assert_eq!(k.len(), 1);
    }

    #[test]
    fn a_poll_from_proc_never_calls_a_close_short_lived() {
        let mut k = KnownSockets::default();
        let mut proc_snap = snap(1000, &[]);
        proc_snap.source = SourceKind::Proc;
        k.observe(&proc_snap, 1001);
        assert_eq!(k.short_lived(Protocol::Tcp, 5, 2000), None);
    }

    #[test]
    fn a_state_filtered_poll_leaves_lifetimes_unknown() {
        let mut k = KnownSockets::default();
        k.observe(&snap(1000, &[1]), 1001);
        k.forget_coverage();
        assert_eq!(k.short_lived(Protocol::Tcp, 99, 2000), None);
        assert_eq!(k.lookup(Protocol::Tcp, 1).map(|x| x.inode), Some(101));
    }
}
