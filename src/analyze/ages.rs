//! Per-socket first-seen tracking, so a socket's age in its current state is known.
//!
//! Keyed by the sock_diag cookie; sockets from /proc have none and fall back to
//! (family, local, remote, inode). The entry remembers the state, so a connection that moves
//! from ESTABLISHED to CLOSE_WAIT starts a new clock: the age that matters is the age *in*
//! the state. Entries of sockets missing from the latest snapshot are dropped every tick,
//! so memory follows the live socket count, with one exception: a snapshot keyed only by
//! tuple (a /proc tick while netlink is failing) leaves the cookie map as it was, so the next
//! netlink tick finds its sockets' clocks instead of restarting them all. Listeners are not tracked (their age says
//! nothing), and TIME_WAIT sockets carry their own clock in the kernel timer.
//!
//! [`SocketAges::observe`] also returns each socket's age aligned with the snapshot's socket
//! list ([`Age`]), so presenters show the same age the rules call "oldest" instead of keeping a
//! second clock of their own.
//!
//! Cost: a cookie entry is 8 bytes of key, 16 of value and one control byte in a SwissTable
//! kept between 50% and 87.5% full: roughly 30-50 bytes per socket (`ages_memory` test
//! prints the measured figure), about 4 MB at 100k sockets.

use std::collections::HashMap;

use crate::fasthash::IdMap;
use crate::model::{Endpoint, Family, Snapshot, SocketRecord, TcpState};

/// Fallback key for sockets without a cookie.
type TupleKey = (Family, Endpoint, Endpoint, u64);

/// When a socket was first seen in its current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    since_ms: i64,
    state: TcpState,
}

/// A socket's age in its current state, as presenters show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Age {
    /// Seconds in the current state (for CLOSE_WAIT at least tcp_info's `last_data_recv`).
    pub secs: u32,
    /// Only a lower bound: the socket was already there at the tracker's first tick and
    /// nothing from the kernel dates it further back.
    pub lower_bound: bool,
}

/// Ages of one snapshot's sockets, index-aligned with `snapshot.sockets`; `None` for
/// untracked sockets (listeners, TIME_WAIT, CLOSE). Empty when nothing is known.
pub type AgeList = Vec<Option<Age>>;

/// First-seen times of the sockets in the latest snapshot.
#[derive(Debug, Default)]
pub struct SocketAges {
    by_cookie: IdMap<u64, Seen>,
    by_tuple: HashMap<TupleKey, Seen>,
    now_ms: i64,
    /// First tick that tracked sockets by cookie, and by tuple: a socket first seen on its
    /// key space's first tick was already there, so its age is a lower bound.
    first_cookie_ms: Option<i64>,
    first_tuple_ms: Option<i64>,
}

/// The age of a socket seen in its state since `since_ms`, at `now_ms`.
fn age_of(s: &SocketRecord, since_ms: i64, now_ms: i64, first_ms: Option<i64>) -> Age {
    let seen = u64::try_from(now_ms - since_ms).unwrap_or(0);
    let lastrcv = lastrcv_ms(s);
    let ms = seen.max(lastrcv.unwrap_or(0));
    Age {
        secs: u32::try_from(ms / 1000).unwrap_or(u32::MAX),
        lower_bound: Some(since_ms) == first_ms && lastrcv.is_none_or(|l| l <= seen),
    }
}

/// tcp_info's `last_data_recv` for CLOSE_WAIT: the peer's FIN was the last data, so it dates
/// the state even from before sockscope started.
fn lastrcv_ms(s: &SocketRecord) -> Option<u64> {
    match (s.state, s.tcp_info) {
        (TcpState::CloseWait, Some(ti)) => Some(u64::from(ti.last_data_recv_ms)),
        _ => None,
    }
}

/// Ages from one snapshot alone (a replayed frame): CLOSE_WAIT sockets with tcp_info get
/// their `last_data_recv`; everything else is unknown.
pub fn ages_from_snapshot(snap: &Snapshot) -> AgeList {
    snap.sockets
        .iter()
        .map(|s| {
            lastrcv_ms(s).map(|ms| Age {
                secs: u32::try_from(ms / 1000).unwrap_or(u32::MAX),
                lower_bound: false,
            })
        })
        .collect()
}

fn tracked(s: &SocketRecord) -> bool {
    !matches!(
        s.state,
        TcpState::Listen | TcpState::TimeWait | TcpState::Close
    )
}

impl SocketAges {
    /// An empty tracker.
    pub fn new() -> SocketAges {
        SocketAges::default()
    }

    /// Records every socket of `snap`, forgets the ones that vanished, and returns each
    /// socket's [`Age`] aligned with `snap.sockets`.
    pub fn observe(&mut self, snap: &Snapshot) -> AgeList {
        let now = snap.taken_at_ms;
        self.now_ms = now;
        let mut cookies: IdMap<u64, Seen> =
            IdMap::with_capacity_and_hasher(snap.sockets.len(), Default::default());
        let mut tuples: HashMap<TupleKey, Seen> = HashMap::new();
        let mut ages = Vec::with_capacity(snap.sockets.len());
        for s in &snap.sockets {
            if !tracked(s) {
                ages.push(None);
                continue;
            }
            let fresh = Seen {
                since_ms: now,
                state: s.state,
            };
            let keep = |old: Option<&Seen>| match old {
                Some(o) if o.state == s.state => *o,
                _ => fresh,
            };
            match s.cookie {
                Some(c) => {
                    let first = *self.first_cookie_ms.get_or_insert(now);
                    let v = keep(self.by_cookie.get(&c));
                    cookies.insert(c, v);
                    ages.push(Some(age_of(s, v.since_ms, now, Some(first))));
                }
                None => {
                    let first = *self.first_tuple_ms.get_or_insert(now);
                    let k = (s.family, s.local, s.remote, s.inode);
                    let v = keep(self.by_tuple.get(&k));
                    tuples.insert(k, v);
                    ages.push(Some(age_of(s, v.since_ms, now, Some(first))));
                }
            }
        }
        let (has_cookie, has_tuple) = (!cookies.is_empty(), !tuples.is_empty());
        // Rebuilding rather than retain(): the old maps' capacity would otherwise stay at the
        // high-water mark after a storm subsides. A map this snapshot did not use at all while
        // using the other is kept (see the module doc).
        if has_cookie || !has_tuple {
            self.by_cookie = cookies;
        }
        if has_tuple || !has_cookie {
            self.by_tuple = tuples;
        }
        ages
    }

    /// Milliseconds `s` has been seen in its current state (0 on its first tick); `None`
    /// for untracked sockets.
    pub fn seen_ms(&self, s: &SocketRecord) -> Option<u64> {
        let seen = match s.cookie {
            Some(c) => self.by_cookie.get(&c),
            None => self.by_tuple.get(&(s.family, s.local, s.remote, s.inode)),
        }?;
        (seen.state == s.state).then(|| u64::try_from(self.now_ms - seen.since_ms).unwrap_or(0))
    }

    /// The age of `s` in its state, and whether it is only a lower bound (the socket was
    /// there when tracking started and the kernel dates it no further back); `None` for an
    /// untracked socket the kernel gives no date for.
    pub fn age(&self, s: &SocketRecord) -> Option<Age> {
        let (seen, first) = match s.cookie {
            Some(c) => (self.by_cookie.get(&c), self.first_cookie_ms),
            None => (
                self.by_tuple.get(&(s.family, s.local, s.remote, s.inode)),
                self.first_tuple_ms,
            ),
        };
        match seen.filter(|v| v.state == s.state) {
            Some(v) => Some(age_of(s, v.since_ms, self.now_ms, first)),
            None => lastrcv_ms(s).map(|ms| Age {
                secs: u32::try_from(ms / 1000).unwrap_or(u32::MAX),
                lower_bound: false,
            }),
        }
    }

    /// Best estimate of the age in seconds of `s` in its state. For CLOSE_WAIT this is at
    /// least tcp_info's `last_data_recv` (the peer's FIN was the last data), which knows about
    /// time before sockscope started.
    pub fn age_s(&self, s: &SocketRecord) -> Option<u64> {
        let seen = self.seen_ms(s);
        let lastrcv = lastrcv_ms(s);
        match (seen, lastrcv) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).max(b.unwrap_or(0)) / 1000),
        }
    }

    /// Sockets tracked.
    pub fn len(&self) -> usize {
        self.by_cookie.len() + self.by_tuple.len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap bytes held (capacity × (entry + control byte)).
    pub fn approx_bytes(&self) -> usize {
        self.by_cookie.capacity() * (std::mem::size_of::<(u64, Seen)>() + 1)
            + self.by_tuple.capacity() * (std::mem::size_of::<(TupleKey, Seen)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{snapshot, sock};
    use crate::model::{Owner, TcpInfoLite};

    fn cw(cookie: Option<u64>, port: u16) -> SocketRecord {
        let mut s = sock(
            TcpState::CloseWait,
            "10.0.0.1:80",
            &format!("10.0.0.9:{port}"),
            Owner::Process(42),
        );
        s.cookie = cookie;
        s
    }

    #[test]
    fn age_counts_from_first_seen_and_resets_on_state_change() {
        let mut a = SocketAges::new();
        let mut s1 = snapshot(vec![cw(Some(1), 1000), cw(None, 1001)]);
        s1.taken_at_ms = 10_000;
        let first = a.observe(&s1);
        assert_eq!(a.age_s(&s1.sockets[0]), Some(0));
        assert_eq!(
            first[0],
            Some(Age {
                secs: 0,
                lower_bound: true
            })
        );
        let mut s2 = s1.clone();
        s2.taken_at_ms = 70_000;
        s2.sockets.push(cw(Some(2), 1002));
        let ages = a.observe(&s2);
        assert_eq!(a.age_s(&s2.sockets[0]), Some(60));
        assert_eq!(ages.len(), 3, "aligned with the socket list");
        assert_eq!(
            ages[0],
            Some(Age {
                secs: 60,
                lower_bound: true
            }),
            "there at the first tick: a lower bound"
        );
        assert_eq!(
            ages[2],
            Some(Age {
                secs: 0,
                lower_bound: false
            }),
            "appeared later: exact"
        );
        assert_eq!(a.age_s(&s2.sockets[1]), Some(60), "tuple fallback");
        // Same cookie, new state: new clock.
        let mut s3 = s2.clone();
        s3.taken_at_ms = 80_000;
        s3.sockets[0].state = TcpState::LastAck;
        a.observe(&s3);
        assert_eq!(a.age_s(&s3.sockets[0]), Some(0));
    }

    /// netlink → one /proc fallback tick → netlink: the cookie clocks survive the /proc
    /// tick, whose own ages are lower bounds (those sockets were there before it).
    #[test]
    fn a_proc_tick_between_netlink_ticks_keeps_the_clocks() {
        let mut a = SocketAges::new();
        let mut t1 = snapshot(vec![cw(Some(7), 1000)]);
        t1.taken_at_ms = 10_000;
        a.observe(&t1);
        let mut t2 = snapshot(vec![cw(None, 1000)]);
        t2.taken_at_ms = 40_000;
        let during = a.observe(&t2);
        assert_eq!(
            during[0],
            Some(Age {
                secs: 0,
                lower_bound: true
            }),
            "first /proc tick: only a lower bound"
        );
        let mut t3 = t1.clone();
        t3.taken_at_ms = 70_000;
        let after = a.observe(&t3);
        assert_eq!(a.age_s(&t3.sockets[0]), Some(60), "clock kept across /proc");
        assert_eq!(after[0].map(|g| g.secs), Some(60));
    }

    #[test]
    fn close_wait_age_uses_lastrcv() {
        let mut a = SocketAges::new();
        let mut s = cw(Some(9), 1000);
        s.tcp_info = Some(TcpInfoLite {
            last_data_recv_ms: 3_600_000,
            ..TcpInfoLite::default()
        });
        let mut listen = cw(Some(10), 1001);
        listen.state = TcpState::Listen;
        let snap = snapshot(vec![s, listen]);
        let ages = a.observe(&snap);
        assert_eq!(a.age_s(&snap.sockets[0]), Some(3600));
        let exact = Some(Age {
            secs: 3600,
            lower_bound: false,
        });
        assert_eq!(
            ages,
            vec![exact, None],
            "the kernel dates it: not a lower bound"
        );
        assert_eq!(ages_from_snapshot(&snap), vec![exact, None]);
    }

    #[test]
    fn ages_memory() {
        let mut a = SocketAges::new();
        let base = cw(Some(0), 1);
        let sockets: Vec<SocketRecord> = (0..100_000u64)
            .map(|c| SocketRecord {
                cookie: Some(c),
                ..base.clone()
            })
            .collect();
        let mut snap = snapshot(sockets);
        a.observe(&snap);
        assert_eq!(a.len(), 100_000);
        let per = a.approx_bytes() as f64 / 100_000.0;
        println!("first-seen tracking: {per:.1} bytes/socket at 100k");
        assert!(per < 64.0, "{per} bytes/socket");
        snap.sockets.clear();
        snap.taken_at_ms += 1000;
        a.observe(&snap);
        assert_eq!(a.len(), 0);
        assert!(a.is_empty());
        assert!(a.approx_bytes() < 1024, "memory released");
    }
}
