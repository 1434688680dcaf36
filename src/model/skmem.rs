//! [`SkMem`]: a socket's memory accounting and drop counter (sock_diag
//! `INET_DIAG_SKMEMINFO`, what `ss -m` prints as `skmem:(r…,rb…,t…,tb…,…,d…)`). The UDP
//! verdicts read it: a receiver whose queue sits at its buffer drops every datagram. No I/O.

use serde::{Deserialize, Serialize};

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
