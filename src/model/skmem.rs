//! [`SkMem`]: a socket's memory accounting and drop counter (sock_diag
//! `INET_DIAG_SKMEMINFO`, what `ss -m` prints as `skmem:(r…,rb…,t…,tb…,…,d…)`). The UDP
//! verdicts read it: a receiver whose queue sits at its buffer drops every datagram. No I/O.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::SocketRecord;

/// Memory and drops of one socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SkMem {
    /// Bytes charged to the receive queue (`r`, `sk_rmem_alloc`).
    pub rmem_alloc: u32,
    /// Receive buffer limit (`rb`, `sk_rcvbuf`); `None` from /proc/net/udp, which lacks it.
    pub rcvbuf: Option<u32>,
    /// Bytes charged to the send queue (`t`, `sk_wmem_alloc`).
    pub wmem_alloc: u32,
    /// Send buffer limit (`tb`, `sk_sndbuf`); `None` from /proc/net/udp.
    pub sndbuf: Option<u32>,
    /// Packets dropped on this socket since it was created (`d`, `sk_drops`; the last
    /// column of /proc/net/udp).
    pub drops: u32,
}

impl SkMem {
    /// How full the receive buffer is, 0.0–1.0 (and above: the kernel lets one datagram
    /// overshoot); `None` when the buffer size is unknown or zero.
    pub fn rcv_fill(&self) -> Option<f64> {
        let rb = self.rcvbuf.filter(|&b| b > 0)?;
        Some(f64::from(self.rmem_alloc) / f64::from(rb))
    }
}

/// Drops counted between two dumps of one UDP table, `before` then `now`: for each socket
/// of `now`, how much its counter grew since `before`, or its whole counter when it is new
/// (created since `before`, so every drop it counts happened in between).
///
/// Sockets are matched by inode, and told apart by cookie when both dumps carry one (an
/// inode can be reused). A socket that closed in between takes its last drops with it:
/// this undercounts, never counts a drop twice. A socket without memory info counts
/// nothing, and one with no inode and no cookie cannot be matched and counts nothing.
/// Summing the counters themselves instead would fall whenever a dropping socket closes.
pub fn udp_drops_between(before: &[SocketRecord], now: &[SocketRecord]) -> u64 {
    let mut by_inode: HashMap<u64, (Option<u64>, u32)> = HashMap::with_capacity(before.len());
    let mut by_cookie: HashMap<u64, u32> = HashMap::new();
    for s in before {
        let Some(m) = s.skmem else { continue };
        if s.inode != 0 {
            by_inode.insert(s.inode, (s.cookie, m.drops));
        } else if let Some(c) = s.cookie {
            by_cookie.insert(c, m.drops);
        }
    }
    let mut total = 0u64;
    for s in now {
        let Some(m) = s.skmem else { continue };
        let earlier = if s.inode != 0 {
            match by_inode.get(&s.inode) {
                Some(&(Some(was), _)) if s.cookie.is_some_and(|c| c != was) => None,
                Some(&(_, d)) => Some(d),
                None => None,
            }
        } else if let Some(c) = s.cookie {
            by_cookie.get(&c).copied()
        } else {
            continue;
        };
        total += u64::from(match earlier {
            Some(d) if d <= m.drops => m.drops - d,
            // A counter that went down is another socket under a reused inode.
            _ => m.drops,
        });
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Owner, TcpState};

    fn udp(inode: u64, cookie: Option<u64>, drops: Option<u32>) -> SocketRecord {
        let mut s = SocketRecord::new(
            TcpState::Close,
            "127.0.0.1:53".parse().expect("addr"),
            "0.0.0.0:0".parse().expect("addr"),
            Owner::Unresolved,
        );
        s.inode = inode;
        s.cookie = cookie;
        s.skmem = drops.map(|drops| SkMem {
            drops,
            ..SkMem::default()
        });
        s
    }

    #[test]
    fn growth_of_kept_sockets_plus_whole_counters_of_new_ones() {
        let before = [udp(1, Some(10), Some(5)), udp(2, Some(20), Some(7))];
        // 1 grew by 3; 2 closed (its drops are gone, not negative); 3 is new with 4.
        let now = [udp(1, Some(10), Some(8)), udp(3, Some(30), Some(4))];
        assert_eq!(udp_drops_between(&before, &now), 7);
        assert_eq!(udp_drops_between(&now, &now), 0);
    }

    #[test]
    fn a_reused_inode_is_a_new_socket() {
        let before = [udp(1, Some(10), Some(50))];
        assert_eq!(udp_drops_between(&before, &[udp(1, Some(11), Some(2))]), 2);
        // Without cookies (/proc) a counter that fell says the same.
        let before = [udp(1, None, Some(50))];
        assert_eq!(udp_drops_between(&before, &[udp(1, None, Some(2))]), 2);
        assert_eq!(udp_drops_between(&before, &[udp(1, None, Some(52))]), 2);
    }

    #[test]
    fn unknown_counters_count_nothing() {
        let before = [udp(1, None, None)];
        assert_eq!(udp_drops_between(&before, &[udp(1, None, None)]), 0);
        assert_eq!(udp_drops_between(&[], &[udp(0, None, Some(9))]), 0);
        assert_eq!(udp_drops_between(&[], &[udp(0, Some(4), Some(9))]), 9);
        // Memory info appearing on a known socket: counted from zero, as a new one.
        assert_eq!(udp_drops_between(&before, &[udp(1, None, Some(3))]), 3);
    }
}
