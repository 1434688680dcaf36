//! The acceptor: one thread that owns every connection that is not being answered.
//!
//! It accepts, reads request heads from all incomplete connections at once with `poll(2)` on
//! non-blocking sockets, and hands only connections with a complete, parsed head to the
//! worker pool ([`super::http`]). A worker renders the response, writes what the socket takes
//! and hands the connection back; the rest of a response the client does not read fast
//! enough is written from here as the socket becomes writable. So an idle, slow-sending or
//! slow-reading client costs one file descriptor and a bounded buffer, never a thread:
//! slowloris clients and clients that do not read cannot starve real scrapes.
//!
//! Bounds: a head must arrive within [`ServeOptions::header_timeout`] of accept (else `408`)
//! and fit in [`MAX_HEAD`] bytes (else `431`, or `400` when even the request line does not
//! fit). At most [`ServeOptions::max_pending`] connections are held, and as many more may be
//! with the workers, each capped at half of what the open-file limit leaves after
//! [`FD_RESERVE`] (but at least 16, so a tiny limit still serves). When full, a held
//! connection is closed so a new client always gets in: the oldest still sending its head,
//! else the oldest draining one, and only when every held connection is a response being
//! written, the most stalled of those ([`take_victim`]); so a flood of idle connections
//! cannot cut a scrape's response short.
//!
//! A response must be written and delivered within [`ServeOptions::write_timeout`] of a
//! worker taking the request up, else the connection is reset. Unsent responses (bytes not
//! yet taken by the socket) come to at most [`ServeOptions::max_unsent`] bytes together, and
//! one that would exceed it resets connections until it fits: those whose clients have not
//! read at all first, then those that have gone longest without reading (a stalled
//! reader's response, not a new scrape, is what gives). A response larger than the cap on
//! its own resets only clients that have read nothing and is then sent over the cap
//! ([`make_room`]). What is charged is a response's unsent bytes, counting the per-tick data
//! it shares with other scrapes once per response; the shared data itself stays allocated
//! until the last response using it is written, whatever the charge says.
//!
//! Answered connections come back here for a lingering close: our side is shut for writing
//! and the client's leftovers are read and discarded for at most [`LINGER`], because closing
//! with unread input makes the kernel send a reset that can destroy the response before the
//! client reads it. If the kernel has not delivered the whole response when the linger ends,
//! the drain goes on until the write deadline and the connection is then reset, because a
//! plain close would leave an orphaned socket holding the undelivered bytes.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::serve::http::{self, Answered, HeadError, Job, Outgoing, Response, MAX_HEAD};
use crate::serve::{ServeOptions, Shared};

/// File descriptors kept out of the connection budget, for the collector (netlink sockets,
/// the `/proc` directories of the attribution scan) and the rest of the process: without
/// them a slowloris client would silently cost sockets their owner.
pub const FD_RESERVE: usize = 128;

/// How long an answered connection is drained before it is closed regardless.
pub const LINGER: Duration = Duration::from_secs(1);

/// Most bytes discarded from one answered connection before it is closed regardless.
const MAX_DISCARD: usize = 256 * 1024;

/// Most connections accepted per poll round, so reads of waiting heads are not starved by a
/// connect flood.
const ACCEPT_BATCH: usize = 128;

/// The longest poll wait: the stop flag is looked at least this often.
const MAX_WAIT: Duration = Duration::from_millis(500);

/// What the acceptor is doing with a connection.
enum Phase {
    /// Reading the request head; the bytes so far.
    Head(Vec<u8>),
    /// Answered, but the client has not taken all of the response yet; the rest.
    Write(Outgoing),
    /// Answered and shut for writing; discarding input until EOF. The bytes discarded, and
    /// the write deadline: a response the kernel still holds then is reset, not orphaned.
    Drain(usize, Instant),
}

struct Conn {
    stream: TcpStream,
    phase: Phase,
    deadline: Instant,
}

impl Conn {
    /// Bytes of unsent response this connection holds.
    fn held(&self) -> usize {
        match &self.phase {
            Phase::Write(out) => out.unsent(),
            _ => 0,
        }
    }

    fn drain(stream: TcpStream, write_deadline: Instant) -> Conn {
        let now = Instant::now();
        Conn {
            stream,
            phase: Phase::Drain(0, write_deadline),
            deadline: now + LINGER,
        }
    }
}

/// What one round did to a connection.
enum Next {
    Keep,
    Close,
    /// Close with a reset: the client did not take its response in time.
    Abort,
    /// Complete head: to the workers.
    Dispatch(http::Head),
    /// Answer from here, then drain.
    Reject(Response),
}

/// The acceptor's channels and counters, shared with the workers.
pub(crate) struct Acceptor {
    pub(crate) listener: TcpListener,
    pub(crate) shared: Arc<Shared>,
    pub(crate) opts: Arc<ServeOptions>,
    /// Complete heads, to the workers.
    pub(crate) jobs: Sender<Job>,
    /// Connections dispatched and not yet answered (queued or being rendered).
    pub(crate) in_flight: Arc<AtomicUsize>,
    /// Answered connections, from the workers, for the rest of the response and the
    /// lingering close.
    pub(crate) answered: Receiver<Answered>,
    /// Readable when a worker has handed a connection back.
    pub(crate) wake: UnixStream,
}

impl Acceptor {
    /// Runs until the stop flag is set; an error only when the sockets cannot be set up.
    pub(crate) fn run(self) -> io::Result<()> {
        let Acceptor {
            listener,
            shared,
            opts,
            jobs,
            in_flight,
            answered,
            wake,
        } = self;
        listener.set_nonblocking(true)?;
        wake.set_nonblocking(true)?;
        let max_pending = connection_budget(opts.max_pending);
        let max_in_flight = max_pending;
        let mut conns: VecDeque<Conn> = VecDeque::new();
        let mut scratch = vec![0u8; MAX_HEAD];
        // After EMFILE with nothing left to evict, the listener is not polled for a while:
        // it stays readable and would spin this thread.
        let mut accept_after = Instant::now();
        while !shared.stop.load(Ordering::SeqCst) {
            let mut unsent: usize = conns.iter().map(Conn::held).sum();
            while let Ok(done) = answered.try_recv() {
                match done {
                    Answered::Sent(stream, until) => conns.push_back(Conn::drain(stream, until)),
                    Answered::Unsent(stream, out) => {
                        make_room(&mut conns, &mut unsent, out.unsent(), opts.max_unsent);
                        unsent += out.unsent();
                        conns.push_back(Conn {
                            stream,
                            deadline: out.deadline,
                            phase: Phase::Write(out),
                        });
                    }
                }
            }
            let now = Instant::now();
            let listen = now >= accept_after;
            let mut wait = conns
                .iter()
                .map(|c| c.deadline.saturating_duration_since(now))
                .min()
                .unwrap_or(MAX_WAIT)
                .min(MAX_WAIT);
            if !listen {
                wait = wait.min(accept_after - now);
            }
            // Rounded up so a deadline 0.4 ms away does not become a busy loop.
            let ms = u16::try_from(wait.as_millis() + 1).unwrap_or(u16::MAX);
            let (ready, wake_ready, listen_ready) =
                match wait_ready(&listener, &wake, &conns, listen, ms) {
                    Ok(r) => r,
                    Err(Errno::EINTR) => continue,
                    // ENOMEM and the like: nothing to do but wait and try again.
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
            if wake_ready {
                let mut sink = [0u8; 64];
                while matches!((&wake).read(&mut sink), Ok(n) if n > 0) {}
            }
            let now = Instant::now();
            let mut kept = VecDeque::with_capacity(conns.len());
            for (mut conn, is_ready) in conns.into_iter().zip(ready) {
                let next = if is_ready {
                    advance(&mut conn, &mut scratch, &shared)
                } else {
                    Next::Keep
                };
                let next = match next {
                    Next::Keep if now >= conn.deadline => expire(&mut conn, &mut scratch, now),
                    other => other,
                };
                match next {
                    Next::Keep => kept.push_back(conn),
                    Next::Close => {}
                    Next::Abort => abort(&conn.stream),
                    Next::Reject(r) => kept.push_back(reject(conn.stream, &r, &opts)),
                    Next::Dispatch(head) => {
                        if in_flight.load(Ordering::SeqCst) >= max_in_flight {
                            kept.push_back(reject(conn.stream, &busy(), &opts));
                            continue;
                        }
                        in_flight.fetch_add(1, Ordering::SeqCst);
                        let job = Job {
                            stream: conn.stream,
                            head,
                        };
                        if jobs.send(job).is_err() {
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                }
            }
            conns = kept;
            if listen_ready {
                accept_batch(&listener, &mut conns, max_pending, &opts, &mut accept_after);
            }
        }
        Ok(())
    }
}

/// The descriptors the HTTP side may hold at most with `max_pending`: the connections held
/// and as many with the workers. `--all-netns` keeps them out of its own budget, so neither
/// side can take what the other (or discovery) counts on.
pub fn http_fd_budget(max_pending: usize) -> u64 {
    u64::try_from(connection_budget(max_pending).saturating_mul(2)).unwrap_or(u64::MAX)
}

/// The connections that may be held, and as many with the workers: `max_pending`, cut so both
/// together leave [`FD_RESERVE`] of the soft open-file limit.
fn connection_budget(max_pending: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives on this stack.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    let soft = if rc == 0 {
        usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    max_pending.min(soft.saturating_sub(FD_RESERVE) / 2).max(16)
}

/// Polls the wake socket, every connection and (when `listen`) the listener; returns which
/// connections are ready, in order, and whether the wake socket and the listener are.
fn wait_ready(
    listener: &TcpListener,
    wake: &UnixStream,
    conns: &VecDeque<Conn>,
    listen: bool,
    ms: u16,
) -> Result<(Vec<bool>, bool, bool), Errno> {
    let mut fds = Vec::with_capacity(conns.len() + 2);
    fds.push(PollFd::new(wake.as_fd(), PollFlags::POLLIN));
    let listen_flags = if listen {
        PollFlags::POLLIN
    } else {
        PollFlags::empty()
    };
    fds.push(PollFd::new(listener.as_fd(), listen_flags));
    for c in conns {
        let flags = match c.phase {
            Phase::Write(_) => PollFlags::POLLOUT,
            Phase::Head(_) | Phase::Drain(..) => PollFlags::POLLIN,
        };
        fds.push(PollFd::new(c.stream.as_fd(), flags));
    }
    poll(&mut fds, PollTimeout::from(ms))?;
    // POLLHUP and POLLERR count as ready: the read that follows reports EOF or the error.
    let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
    Ok((
        fds[2..].iter().map(ready).collect(),
        ready(&fds[0]),
        ready(&fds[1]),
    ))
}

/// Accepts up to [`ACCEPT_BATCH`] waiting connections, evicting a held connection (see
/// [`take_victim`]) whenever the table is full or the process is out of file descriptors.
fn accept_batch(
    listener: &TcpListener,
    conns: &mut VecDeque<Conn>,
    max_pending: usize,
    opts: &ServeOptions,
    accept_after: &mut Instant,
) {
    for _ in 0..ACCEPT_BATCH {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(true).is_err() {
                    continue;
                }
                // Bounded: each pass removes one connection, and the table is not empty.
                while conns.len() >= max_pending {
                    match take_victim(conns) {
                        Some(old) => evict(old),
                        None => break,
                    }
                }
                let now = Instant::now();
                conns.push_back(Conn {
                    stream,
                    phase: Phase::Head(Vec::new()),
                    deadline: now + opts.header_timeout,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                match take_victim(conns) {
                    Some(old) => evict(old),
                    None => {
                        *accept_after = Instant::now() + Duration::from_millis(50);
                        return;
                    }
                }
            }
            // Out of kernel memory: the listener stays readable, so pause it as for EMFILE
            // rather than spin.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOMEM | libc::ENOBUFS)) => {
                *accept_after = Instant::now() + Duration::from_millis(50);
                return;
            }
            // ECONNABORTED and friends concern that one connection only.
            Err(_) => {}
        }
    }
}

/// Resets connections until `need` more unsent bytes fit in `cap` (or none is left to reset):
/// first those whose clients have not read a byte since the first write, oldest first, then
/// those that have gone longest without reading. `unsent` is what `conns` hold now. A scraper
/// that reads is in the second group within one poll round, so a flood of clients that do
/// not read evicts its own kind first, even when the scraper connected before them.
///
/// A response larger than the cap on its own cannot be made to fit: for it only clients that
/// have read nothing are reset, never one that is reading, and it is sent over the cap. So
/// the total stays under `cap` plus one such response from a non-reader plus those of
/// readers, and a cap set below one scrape does not cut every slow reader's response short.
fn make_room(conns: &mut VecDeque<Conn>, unsent: &mut usize, need: usize, cap: usize) {
    let oversized = need > cap;
    // Bounded: each pass removes one connection.
    while unsent.saturating_add(need) > cap {
        let Some(i) = most_stalled(conns) else { return };
        if oversized && matches!(&conns[i].phase, Phase::Write(out) if out.reading()) {
            return;
        }
        if let Some(old) = conns.remove(i) {
            *unsent = unsent.saturating_sub(old.held());
            abort(&old.stream);
        }
    }
}

/// The index of the response being written whose client is most stalled: one that has read
/// nothing since the first write before any that has, then the longest without reading.
fn most_stalled(conns: &VecDeque<Conn>) -> Option<usize> {
    conns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match &c.phase {
            Phase::Write(out) => Some((out.reading(), out.progress, i)),
            _ => None,
        })
        .min()
        .map(|(_, _, i)| i)
}

/// Reads what the connection has for us, or writes what it will take of its response.
fn advance(conn: &mut Conn, scratch: &mut [u8], shared: &Shared) -> Next {
    match &mut conn.phase {
        Phase::Head(buf) => read_head(&mut conn.stream, buf, scratch),
        Phase::Write(out) => match out.flush(&conn.stream) {
            Ok(true) => {
                out.finish(&conn.stream, shared);
                conn.phase = Phase::Drain(0, out.deadline);
                conn.deadline = Instant::now() + LINGER;
                Next::Keep
            }
            Ok(false) => Next::Keep,
            Err(_) => Next::Close,
        },
        Phase::Drain(discarded, _) => {
            // Bounded: each pass discards at least one byte and stops at MAX_DISCARD.
            loop {
                match conn.stream.read(scratch) {
                    Ok(0) => return Next::Close,
                    Ok(n) => {
                        *discarded += n;
                        if *discarded >= MAX_DISCARD {
                            return close_or_reset(&conn.stream);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return Next::Close,
                }
            }
        }
    }
}

/// Reads head bytes until the socket has no more, the head is complete, or it is too large.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>, scratch: &mut [u8]) -> Next {
    // Bounded: each pass appends at least one byte, and buf stops at MAX_HEAD.
    loop {
        let room = MAX_HEAD - buf.len();
        if room == 0 {
            return Next::Reject(http::head_error_response(&HeadError::TooLarge {
                line_done: http::find(buf, b"\r\n").is_some(),
            }));
        }
        match stream.read(&mut scratch[..room]) {
            Ok(0) if buf.is_empty() => return Next::Close,
            Ok(0) => return Next::Reject(http::head_error_response(&HeadError::Malformed)),
            Ok(n) => {
                let from = buf.len().saturating_sub(3);
                buf.extend_from_slice(&scratch[..n]);
                if let Some(end) = http::find(&buf[from..], b"\r\n\r\n") {
                    return match http::parse_head(&buf[..from + end + 4]) {
                        Ok(head) => Next::Dispatch(head),
                        Err(e) => Next::Reject(http::head_error_response(&e)),
                    };
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
}

/// The connection's deadline passed: a head still missing gets `408`; a response not yet
/// taken is cut short; a drain ends, gracefully once the kernel has delivered the whole
/// response, else it waits for that until the write deadline and then resets.
fn expire(conn: &mut Conn, scratch: &mut [u8], now: Instant) -> Next {
    match &mut conn.phase {
        Phase::Head(buf) => {
            // Bytes that arrived after the last poll are read first: they may complete the
            // head, and unread input would turn our close into a reset.
            match read_head(&mut conn.stream, buf, scratch) {
                Next::Keep => Next::Reject(http::head_error_response(&HeadError::Timeout)),
                other => other,
            }
        }
        Phase::Write(_) => Next::Abort,
        Phase::Drain(_, until) => {
            if undelivered(&conn.stream) == 0 {
                Next::Close
            } else if now >= *until {
                Next::Abort
            } else {
                // A slow but reading client still gets the end of its response; a
                // non-reader is reset at the write deadline, like one still in Write.
                conn.deadline = (now + LINGER).min(*until);
                Next::Keep
            }
        }
    }
}

/// How to end a drain early: a plain close when the kernel has delivered the whole response,
/// else a reset. A plain close would leave an orphaned FIN_WAIT1 socket that keeps the
/// undelivered bytes for as long as the client's window stays shut.
fn close_or_reset(stream: &TcpStream) -> Next {
    if undelivered(stream) == 0 {
        Next::Close
    } else {
        Next::Abort
    }
}

/// Response bytes the kernel still holds for `stream`: written but not acknowledged by the
/// client (`SIOCOUTQ`). Our FIN takes a sequence number too, so it is counted as one byte
/// until acknowledged and left out here: only data is worth a reset. When the query fails
/// this says 0 (a plain close, the behaviour without it).
fn undelivered(stream: &TcpStream) -> usize {
    let mut outq: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (= TIOCOUTQ) writes one int to the pointer given, which is a local
    // that outlives the call; the fd is open for as long as `stream` is borrowed.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &raw mut outq) };
    if rc != 0 {
        return 0;
    }
    usize::try_from(outq).unwrap_or(0).saturating_sub(1)
}

fn busy() -> Response {
    Response::text(503, "busy: too many connections\n")
}

/// Answers from this thread and starts the lingering close. The response is a few hundred
/// bytes written first on a fresh connection, so one non-blocking write fits in the socket
/// buffer; if it does not, the client was not reading anyway.
fn reject(mut stream: TcpStream, r: &Response, opts: &ServeOptions) -> Conn {
    let _ = stream.write(&http::serialize(r, false));
    let _ = stream.shutdown(Shutdown::Write);
    Conn::drain(stream, Instant::now() + opts.write_timeout)
}

/// Removes the connection to evict when the table is full: the oldest still sending its
/// head (idle and slowloris clients cost a new client nothing), else the oldest draining
/// one (its response is written; only the close is cut short, and a reset if the kernel
/// still holds some of it), and only then a response being written, the most stalled
/// first as in [`make_room`]. The newcomer is never refused: it may be the scrape, and
/// with the table full of responses being written the one that gives is the client that
/// has gone longest without reading.
fn take_victim(conns: &mut VecDeque<Conn>) -> Option<Conn> {
    let rank = |c: &Conn| match &c.phase {
        Phase::Head(_) => 0,
        Phase::Drain(..) => 1,
        Phase::Write(_) => 2,
    };
    let best = conns.iter().map(rank).min()?;
    let i = if best < 2 {
        conns.iter().position(|c| rank(c) == best)?
    } else {
        most_stalled(conns)?
    };
    conns.remove(i)
}

/// Closes an evicted connection; one that was still sending its head is told `503` first,
/// best effort; one whose response the kernel still holds is reset.
fn evict(mut old: Conn) {
    match old.phase {
        Phase::Head(_) => {
            let _ = old.stream.write(&http::serialize(&busy(), false));
        }
        Phase::Write(_) => abort(&old.stream),
        Phase::Drain(..) => {
            if let Next::Abort = close_or_reset(&old.stream) {
                abort(&old.stream);
            }
        }
    }
}

/// Makes the coming close of `stream` a reset that discards what its send buffer still holds.
/// A plain close of a connection whose client does not read leaves an orphaned socket that
/// keeps that memory, up to megabytes, until the kernel gives up probing its zero window.
fn abort(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt only reads the struct it is given, which lives on this stack, for the
    // length given; the fd is open for as long as `stream` is borrowed. Failure leaves a
    // graceful close, which is still correct.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
