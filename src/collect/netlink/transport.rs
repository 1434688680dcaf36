//! The socket boundary of the sock_diag source: the [`DiagTransport`] trait (send one
//! request, `recv(2)` one datagram with flags) and [`KernelSocket`], its implementation on
//! a real NETLINK_SOCK_DIAG socket. Tests put a scripted, fault-injecting transport here
//! (`fault_transport.rs`) that replays real kernel answers with one fault added, so the
//! receive loop and its recovery policy run exactly the production code.
//!
//! Owns the socket options and nothing about the protocol: framing, sequence numbers and
//! the recovery policy live in [`super`] and [`super::decode`].
//!
//! # What each fault does (the policy, enforced by `fault_tests.rs`)
//!
//! "Restart" means: the partial dump is thrown away (never returned, never counted), the
//! socket is drained of what is left of the broken answer, and the whole dump (every
//! family) is requested again with fresh sequence numbers. One restart per dump; a second
//! failure is returned as a [`CollectError`] and
//! `DumpStats::restarts` / `restart_reason` record what happened.
//!
//! | fault at the socket                                   | behaviour                                  |
//! |-------------------------------------------------------|--------------------------------------------|
//! | `EINTR` from `recv` / `send`                          | retried in place (8 times), then restart   |
//! | `ENOBUFS` from `recv` (a datagram was dropped)        | restart (the drain reads past a second one) |
//! | `EAGAIN` / `SO_RCVTIMEO` expiry (no DONE, stalled)    | restart; then `Protocol("… no DONE")`      |
//! | NLMSG_OVERRUN                                         | restart                                    |
//! | NLM_F_DUMP_INTR on a message                          | restart; then the sample is marked inconsistent |
//! | datagram cut mid-message, or `nlmsg_len` past its end | restart; then `Protocol("truncated …")`    |
//! | `recv` reports more bytes than it copied (MSG_TRUNC)  | restart; then `Protocol("datagram truncated …")` |
//! | message with a sequence number not of this request    | restart (stale or corrupt: data may be lost) |
//! | NLMSG_ERROR / DONE error `EINTR EAGAIN EBUSY ENOBUFS` | restart; then `Netlink { errno }`          |
//! | NLMSG_ERROR / DONE error `EPERM EACCES`               | `PermissionDenied` (auto: falls back to /proc) |
//! | NLMSG_ERROR / DONE error `EPROTONOSUPPORT ENOENT …`   | `Unsupported` (auto: falls back to /proc)  |
//! | any other NLMSG_ERROR / DONE error                    | `Netlink { errno }`, no restart            |
//! | the same datagram delivered twice                     | sockets deduplicated by cookie, `duplicates` counted |
//! | an empty datagram                                     | ignored (nothing lost)                     |
//!
//! Not detectable at this boundary: a datagram dropped *without* ENOBUFS, or a datagram
//! cut exactly at a message boundary without MSG_TRUNC saying so. Netlink numbers requests,
//! not datagrams, so nothing in the protocol reveals either; the kernel does neither (it
//! queues whole skbs and reports a short read through MSG_TRUNC).

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};

use crate::collect::CollectError;

/// Kernel-side socket receive buffer requested with SO_RCVBUF.
/// A `c_int` because netlink-sys passes the option value's own size to setsockopt.
const SO_RCVBUF_BYTES: libc::c_int = 1024 * 1024;

/// One netlink socket as the dump loop uses it: the two system calls it makes.
pub trait DiagTransport {
    /// Sends one request datagram to the kernel (`sendto(2)`, port 0).
    fn send(&mut self, request: &[u8]) -> io::Result<usize>;

    /// `recv(2)` with `flags` into the spare capacity of `buf` (`capacity - len` bytes,
    /// which may be zero), appending what was copied. Returns what `recv` returns: with
    /// `MSG_TRUNC` the datagram's full length, which may exceed what was copied.
    fn recv(&mut self, buf: &mut Vec<u8>, flags: libc::c_int) -> io::Result<usize>;
}

/// A real NETLINK_SOCK_DIAG socket, bound, with a receive timeout.
pub struct KernelSocket {
    socket: Socket,
}

impl KernelSocket {
    /// Opens and binds the socket in the calling thread's network namespace; every
    /// `recv` gives up after `timeout`.
    pub fn open(timeout: Duration) -> Result<KernelSocket, CollectError> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)
            .map_err(|e| CollectError::io("opening NETLINK_SOCK_DIAG socket", e))?;
        socket
            .bind_auto()
            .map_err(|e| CollectError::io("binding NETLINK_SOCK_DIAG socket", e))?;
        // A bigger kernel buffer is an optimisation; the dump is paced by our reads.
        let _ = socket.set_rx_buf_sz(SO_RCVBUF_BYTES);
        set_recv_timeout(&socket, timeout)
            .map_err(|e| CollectError::io("setting SO_RCVTIMEO on netlink socket", e))?;
        Ok(KernelSocket { socket })
    }
}

impl DiagTransport for KernelSocket {
    fn send(&mut self, request: &[u8]) -> io::Result<usize> {
        self.socket.send_to(request, &SocketAddr::new(0, 0), 0)
    }

    fn recv(&mut self, buf: &mut Vec<u8>, flags: libc::c_int) -> io::Result<usize> {
        if buf.capacity() == buf.len() {
            // `Vec`'s BufMut grows a full vector; a zero-length read must stay zero-length.
            let mut empty: &mut [u8] = &mut [];
            self.socket.recv(&mut empty, flags)
        } else {
            self.socket.recv(buf, flags)
        }
    }
}

/// Sets `SO_RCVTIMEO` on a netlink socket, so a recv never blocks past `timeout`.
pub(crate) fn set_recv_timeout(socket: &Socket, timeout: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        // The sub-second part too: a timeout under a second with tv_usec 0 would read as
        // {0, 0}, which SO_RCVTIMEO takes as "block forever".
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros()),
    };
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::timeval>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `tv` is a valid, live timeval and `len` is its exact size; the fd is owned
    // by `socket` and open for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
