//! Kernel destroy notifications (what `ss -E` prints): [`EventSocket`] joins the sock_diag
//! destroy multicast groups and hands each datagram to the pure decoder in [`decode`];
//! [`known`] remembers what periodic polls saw of each socket (owner, state, first sight),
//! because the notification itself carries neither inode nor uid.
//!
//! Loss is counted, never silent. When the reader falls behind, the kernel drops the
//! notification, bumps the socket's drop counter and fails the next `recv` with `ENOBUFS`;
//! the drop counter (`SO_MEMINFO`'s `SK_MEMINFO_DROPS`) says exactly how many were lost,
//! since each notification is one datagram. The receive buffer is raised with
//! `SO_RCVBUFFORCE` (root may pass `net.core.rmem_max`), else `SO_RCVBUF`.
//!
//! Any process may join its own namespace's groups (measured as nobody on Linux 6.18); a
//! kernel or security module that refuses makes [`EventSocket::open`] return
//! `PermissionDenied`.

pub mod decode;
pub mod known;

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket};

use self::decode::{decode_events, DestroyEvent, EventCounts};
use super::CollectError;

/// sock_diag multicast groups (linux/sock_diag.h `SKNLGRP_*`).
const GRP_INET_TCP: u32 = 1;
const GRP_INET_UDP: u32 = 2;
const GRP_INET6_TCP: u32 = 3;
const GRP_INET6_UDP: u32 = 4;
// asm-generic socket option numbers (x86, arm, arm64, riscv, powerpc); libc lacks them.
const SO_RCVBUFFORCE: libc::c_int = 33;
const SO_MEMINFO: libc::c_int = 55;
const SK_MEMINFO_VARS: usize = 9;
/// Datagrams taken per `recvmmsg`, and the room for each.
const BATCH: usize = 64;
const SLOT: usize = 4096;

/// Receive buffer asked for by default: about 20,000 notifications (TCP ones take ~1.5
/// KiB of buffer each), a second of 10k short connections per second closing both ends.
pub const DEFAULT_RCVBUF: usize = 32 * 1024 * 1024;

/// Which groups to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Groups {
    /// TCP sockets.
    pub tcp: bool,
    /// UDP sockets.
    pub udp: bool,
    /// IPv4 sockets.
    pub v4: bool,
    /// IPv6 sockets.
    pub v6: bool,
}

impl Groups {
    fn ids(self) -> Vec<u32> {
        [
            (self.tcp && self.v4, GRP_INET_TCP),
            (self.udp && self.v4, GRP_INET_UDP),
            (self.tcp && self.v6, GRP_INET6_TCP),
            (self.udp && self.v6, GRP_INET6_UDP),
        ]
        .into_iter()
        .filter_map(|(on, g)| on.then_some(g))
        .collect()
    }
}

/// What one [`EventSocket::recv`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Datagrams were decoded (their events appended to the caller's vector).
    Datagram(EventCounts),
    /// The kernel dropped this many notifications since the last count (`ENOBUFS`).
    Lost(u64),
    /// Nothing arrived within the wait.
    Idle,
}

/// A NETLINK_SOCK_DIAG socket subscribed to destroy notifications, in the calling thread's
/// network namespace.
pub struct EventSocket {
    socket: Socket,
    buf: Vec<u8>,
    drops: u32,
    rcvbuf: usize,
}

impl EventSocket {
    /// Opens the socket, sizes its receive buffer to `rcvbuf` bytes (the kernel doubles
    /// and may cap it; [`EventSocket::rcvbuf`] says what it got) and joins `groups`.
    pub fn open(groups: Groups, rcvbuf: usize) -> Result<EventSocket, CollectError> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)
            .map_err(|e| CollectError::io("opening NETLINK_SOCK_DIAG socket", e))?;
        socket
            .bind_auto()
            .map_err(|e| CollectError::io("binding NETLINK_SOCK_DIAG socket", e))?;
        let want = libc::c_int::try_from(rcvbuf / 2).unwrap_or(libc::c_int::MAX);
        if set_int(&socket, SO_RCVBUFFORCE, want).is_err() {
            let _ = set_int(&socket, libc::SO_RCVBUF, want);
        }
        for g in groups.ids() {
            socket
                .add_membership(g)
                .map_err(|e| CollectError::io(format!("joining sock_diag destroy group {g}"), e))?;
        }
        let rcvbuf = socket.get_rx_buf_sz().unwrap_or(0);
        let drops = meminfo_drops(&socket).unwrap_or(0);
        Ok(EventSocket {
            socket,
            buf: vec![0u8; BATCH * SLOT],
            drops,
            rcvbuf,
        })
    }

    /// The receive buffer the kernel granted, in bytes.
    pub fn rcvbuf(&self) -> usize {
        self.rcvbuf
    }

    /// Waits up to `wait` (zero: do not wait) for one datagram and decodes it into `out`.
    pub fn recv(
        &mut self,
        wait: Duration,
        out: &mut Vec<DestroyEvent>,
    ) -> Result<Received, CollectError> {
        // Under load datagrams are already queued: take up to BATCH of them in one call,
        // and wait only when there is none.
        let mut result = self.recv_batch(out);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) && !wait.is_zero() {
            if !self.readable(wait)? {
                return Ok(Received::Idle);
            }
            result = self.recv_batch(out);
        }
        match result {
            Ok(counts) => Ok(Received::Datagram(counts)),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                // At least one was dropped even if the counter could not be read.
                Ok(Received::Lost(self.take_lost().max(1)))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(Received::Idle)
            }
            Err(e) => Err(CollectError::io("receiving destroy events", e)),
        }
    }

    /// `recvmmsg(2)` of up to [`BATCH`] queued datagrams without waiting, each decoded into
    /// `out`; a datagram longer than its [`SLOT`] is counted malformed (none is: a
    /// notification is one message of about 400 bytes).
    fn recv_batch(&mut self, out: &mut Vec<DestroyEvent>) -> io::Result<EventCounts> {
        let base = self.buf.as_mut_ptr();
        let mut iov: [libc::iovec; BATCH] = std::array::from_fn(|i| libc::iovec {
            // In bounds: `buf` is BATCH * SLOT bytes.
            iov_base: base.wrapping_add(i * SLOT).cast(),
            iov_len: SLOT,
        });
        // SAFETY: mmsghdr is plain data for which all-zero is a valid value.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: each header points at one iovec of SLOT bytes inside `self.buf`, all of
        // which outlive the call; vlen is the array length; no timeout.
        let n = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut counts = EventCounts::default();
        for (i, m) in msgs
            .iter()
            .take(usize::try_from(n).unwrap_or(0))
            .enumerate()
        {
            let len = (m.msg_len as usize).min(SLOT);
            if m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                counts.malformed += 1;
                continue;
            }
            let slot = self.buf.get(i * SLOT..i * SLOT + len).unwrap_or_default();
            let c = decode_events(slot, out);
            counts.events += c.events;
            counts.malformed += c.malformed;
            counts.other += c.other;
        }
        Ok(counts)
    }

    /// Notifications the kernel dropped since the last call (or since open), from the
    /// socket's drop counter. Call it at each interval: drops are counted there before the
    /// `ENOBUFS` reaches a `recv`.
    pub fn take_lost(&mut self) -> u64 {
        match meminfo_drops(&self.socket) {
            Ok(now) => {
                let lost = now.wrapping_sub(self.drops);
                self.drops = now;
                u64::from(lost)
            }
            Err(_) => 0,
        }
    }

    fn readable(&self, wait: Duration) -> Result<bool, CollectError> {
        let mut pfd = libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, count 1; the fd is open for the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(CollectError::io("waiting for destroy events", e));
        }
        // POLLERR also means "recv now": that is where ENOBUFS is reported.
        Ok(rc > 0)
    }
}

fn set_int(socket: &Socket, opt: libc::c_int, value: libc::c_int) -> io::Result<()> {
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `value` is a live c_int of `len` bytes; the fd is open for the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&value as *const libc::c_int).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The socket's drop counter (`SO_MEMINFO`, `SK_MEMINFO_DROPS`).
fn meminfo_drops(socket: &Socket) -> io::Result<u32> {
    let mut mem = [0u32; SK_MEMINFO_VARS];
    let mut len = libc::socklen_t::try_from(std::mem::size_of_val(&mem))
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `mem` is a live buffer of `len` bytes and `len` a live socklen_t; the
    // kernel writes at most `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_MEMINFO,
            mem.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let at = usize::try_from(libc::SK_MEMINFO_DROPS).unwrap_or(usize::MAX);
    mem.get(at)
        .copied()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))
}
