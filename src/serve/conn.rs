//! Connections: the acceptor, the bounds every connection lives under, TLS handshakes and
//! the lingering close, on a two-thread tokio runtime with hyper's HTTP/1.1 parser.
//!
//! A connection costs a task and two descriptors (its socket and a duplicate kept for the
//! close), never a thread: idle, slow-sending and slow-reading clients cannot starve a
//! scrape. Until its request head is complete a connection holds only the bytes it sent
//! (about 5 KiB in all, measured); hyper, whose two 8 KiB buffers are allocated on its first
//! read, takes over once it is. Bounds:
//! - the TLS handshake and the request head must be complete within
//!   [`ServeOptions::header_timeout`] of accept: else `408` (plain HTTP) and close;
//! - a head over [`MAX_HEAD`] bytes or [`MAX_HEADERS`] lines gets hyper's `431`; a request
//!   line hyper cannot parse `400`;
//! - the response must be delivered within [`ServeOptions::write_timeout`] of the head,
//!   else the connection is reset;
//! - at most [`ServeOptions::max_pending`] connections (cut so that they leave
//!   [`FD_RESERVE`] descriptors of the open-file limit): a new one closes (resets) the
//!   oldest that has not sent a whole head yet, else the oldest, so a flood of idle
//!   connections cannot keep a scrape out nor cut a response being written short.
//!
//! Every response closes its connection. The close lingers: our side is shut for writing
//! and the client's leftovers are discarded for at most [`LINGER`] (closing with unread
//! input makes the kernel send a reset that can destroy the response before the client
//! reads it); a response the kernel has not delivered by then is waited for until the write
//! deadline and then reset, because a plain close would leave an orphaned socket holding it.
//!
//! Every runtime thread drops its capabilities as it starts.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};

use super::http::{self, MAX_HEAD, MAX_HEADERS};
use super::{caps, ServeError, ServeOptions, Shared};

/// File descriptors kept out of the connection budget, for the collector (netlink sockets,
/// the `/proc` directories of the attribution scan) and the rest of the process.
pub const FD_RESERVE: usize = 128;

/// How long an answered connection is drained before it is closed regardless.
pub const LINGER: Duration = Duration::from_secs(1);

/// Most bytes discarded from one answered connection before it is closed regardless.
const MAX_DISCARD: usize = 256 * 1024;

/// The acceptor thread: an error only when it could not set up its listener.
pub(crate) type AcceptHandle = JoinHandle<io::Result<()>>;

/// File descriptors the endpoint may hold at most (two per connection): what `--all-netns`
/// keeps out of its namespace budget.
pub fn http_fd_budget(max_pending: usize) -> u64 {
    u64::try_from(connection_budget(max_pending).saturating_mul(2)).unwrap_or(u64::MAX)
}

/// `max_pending`, cut so that two descriptors per connection leave [`FD_RESERVE`] of the
/// soft open-file limit (but at least 16, so a tiny limit still serves).
fn connection_budget(max_pending: usize) -> usize {
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| {
            usize::try_from(soft).unwrap_or(usize::MAX)
        });
    max_pending.min(soft.saturating_sub(FD_RESERVE) / 2).max(16)
}

/// One held connection, as the table sees it.
struct Slot {
    id: u64,
    /// Set (to the time) when the request head was complete.
    asked: Arc<OnceLock<Instant>>,
    evict: Arc<tokio::sync::Notify>,
}

/// The connections held, oldest first.
#[derive(Default)]
struct Table {
    slots: Mutex<VecDeque<Slot>>,
    next: AtomicU64,
}

/// A connection's place in the [`Table`]; leaves it when dropped.
struct Ticket {
    table: Arc<Table>,
    id: u64,
    asked: Arc<OnceLock<Instant>>,
    evict: Arc<tokio::sync::Notify>,
}

impl Table {
    /// Admits a connection, evicting one first when `cap` are held.
    fn admit(self: &Arc<Table>, cap: usize) -> Ticket {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let asked = Arc::new(OnceLock::new());
        let evict = Arc::new(tokio::sync::Notify::new());
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        while slots.len() >= cap {
            let victim = slots
                .iter()
                .position(|s| s.asked.get().is_none())
                .unwrap_or(0);
            if let Some(v) = slots.remove(victim) {
                v.evict.notify_one();
            }
        }
        slots.push_back(Slot {
            id,
            asked: Arc::clone(&asked),
            evict: Arc::clone(&evict),
        });
        Ticket {
            table: Arc::clone(self),
            id,
            asked,
            evict,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut slots = self.table.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = slots.iter().position(|s| s.id == self.id) {
            slots.remove(i);
        }
    }
}

/// Starts the runtime and the acceptor thread.
pub(crate) fn spawn(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    opts: Arc<ServeOptions>,
) -> Result<AcceptHandle, ServeError> {
    listener.set_nonblocking(true).map_err(ServeError::Spawn)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .thread_name("sockscope-http")
        .on_thread_start(caps::drop_for_server_thread)
        .enable_all()
        .build()
        .map_err(ServeError::Spawn)?;
    std::thread::Builder::new()
        .name("sockscope-accept".into())
        .spawn(move || {
            caps::drop_for_server_thread();
            let res = rt.block_on(accept_loop(listener, shared, opts));
            rt.shutdown_timeout(Duration::from_secs(1));
            res
        })
        .map_err(ServeError::Spawn)
}

async fn accept_loop(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    opts: Arc<ServeOptions>,
) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let table = Arc::new(Table::default());
    let cap = connection_budget(opts.max_pending);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = shared.stop_accept.notified() => return Ok(()),
        };
        match accepted {
            Ok((stream, _)) => {
                let ticket = table.admit(cap);
                tokio::spawn(connection(
                    stream,
                    ticket,
                    Arc::clone(&shared),
                    Arc::clone(&opts),
                ));
            }
            // Out of descriptors (or a connection gone before accept): held connections
            // time out and free theirs; try again shortly rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// How a connection's exchange ended.
enum End {
    /// Answered (or closed by the client, or refused by hyper with its own status).
    Done,
    /// No complete head in time.
    HeadTimeout,
    /// Response not delivered in time, or evicted: reset.
    Reset,
}

async fn connection(
    stream: TcpStream,
    ticket: Ticket,
    shared: Arc<Shared>,
    opts: Arc<ServeOptions>,
) {
    let _ = stream.set_nodelay(true);
    // A second descriptor of the same socket, so it outlives hyper's for the close.
    let Ok(raw) = stream.as_fd().try_clone_to_owned() else {
        return;
    };
    let head_deadline = Instant::now() + opts.header_timeout;
    let end = match opts.web.as_ref().and_then(|w| w.tls.clone()) {
        None => exchange(stream, &ticket, &shared, &opts, head_deadline).await,
        Some(acceptor) => {
            let tls = tokio::select! {
                r = tokio::time::timeout_at(head_deadline, Box::pin(acceptor.accept(stream))) => r,
                () = ticket.evict.notified() => return reset(&raw),
            };
            match tls {
                Ok(Ok(s)) => exchange(s, &ticket, &shared, &opts, head_deadline).await,
                // A failed handshake (plain HTTP, no client certificate, wrong CA) or
                // one past the deadline: rustls has sent its alert, if any; close.
                _ => return,
            }
        }
    };
    let plain = opts.web.as_ref().is_none_or(|w| w.tls.is_none());
    match end {
        End::Reset => reset(&raw),
        End::HeadTimeout if plain => {
            let msg =
                b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n\
                Content-Length: 16\r\nConnection: close\r\n\r\nrequest timeout\n";
            let _ = nix::sys::socket::send(
                raw.as_raw_fd(),
                msg,
                nix::sys::socket::MsgFlags::MSG_DONTWAIT,
            );
            linger(raw, Instant::now() + opts.write_timeout, &ticket.evict).await;
        }
        End::HeadTimeout => {}
        End::Done => {
            let asked = ticket.asked.get().copied().unwrap_or_else(Instant::now);
            linger(raw, asked + opts.write_timeout, &ticket.evict).await;
        }
    }
}

/// Serves the one request of a connection with hyper, under the head and write deadlines.
async fn exchange<I>(
    mut io: I,
    ticket: &Ticket,
    shared: &Arc<Shared>,
    opts: &Arc<ServeOptions>,
    head_deadline: Instant,
) -> End
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let head = tokio::select! {
        r = tokio::time::timeout_at(head_deadline, gather_head(&mut io)) => match r {
            Ok(Ok(head)) => head,
            // A read error: nobody to answer.
            Ok(Err(_)) => return End::Done,
            Err(_) => return End::HeadTimeout,
        },
        () = ticket.evict.notified() => return End::Reset,
    };
    // The head is complete: the write deadline replaces the head deadline.
    let asked = *ticket.asked.get_or_init(Instant::now);
    let (shared, opts) = (Arc::clone(shared), Arc::clone(opts));
    let write_deadline = asked + opts.write_timeout;
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        let (shared, opts) = (Arc::clone(&shared), Arc::clone(&opts));
        async move { Ok::<_, Infallible>(answer(req, &shared, &opts).await) }
    });
    // Boxed: inline, hyper's state would enlarge every connection's task from accept on.
    let conn = Box::pin(
        http1::Builder::new()
            .keep_alive(false)
            .title_case_headers(true)
            .max_headers(MAX_HEADERS)
            .max_header_size(MAX_HEAD)
            .header_read_timeout(None)
            .serve_connection(
                TokioIo::new(Prefixed {
                    head: Bytes::from(head),
                    io,
                }),
                service,
            ),
    );
    tokio::select! {
        _ = conn => End::Done,
        () = ticket.evict.notified() => End::Reset,
        () = sleep_until(write_deadline) => End::Reset,
    }
}

/// Reads until the request head is complete (a blank line), the client stops sending or
/// more than [`MAX_HEAD`] bytes came: what came, for hyper to parse. Hyper holds two 8 KiB
/// buffers per connection from its first read; a held head costs only the bytes it sent.
async fn gather_head<I: AsyncRead + Unpin>(io: &mut I) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(256);
    loop {
        if head.len() == head.capacity() {
            head.reserve(head.len());
        }
        let from = head.len().saturating_sub(2);
        if io.read_buf(&mut head).await? == 0 || head.len() > MAX_HEAD {
            return Ok(head);
        }
        let new = head.get(from..).unwrap_or_default();
        if new.windows(2).any(|w| w == b"\n\n") || new.windows(3).any(|w| w == b"\n\r\n") {
            return Ok(head);
        }
    }
}

/// A stream whose first bytes were already read: hands them out again, then reads on.
struct Prefixed<I> {
    head: Bytes,
    io: I,
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.head.is_empty() {
            return Pin::new(&mut self.io).poll_read(cx, buf);
        }
        let n = self.head.len().min(buf.remaining());
        buf.put_slice(&self.head.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Authenticates (when `--web-config` asks for it), routes and adds the configured headers.
async fn answer(
    req: Request<hyper::body::Incoming>,
    shared: &Shared,
    opts: &ServeOptions,
) -> hyper::Response<http::Body> {
    let web = opts.web.as_deref();
    let allowed = match web.and_then(|w| w.auth.as_ref()) {
        Some(auth) => {
            auth.allows(req.headers().get(hyper::header::AUTHORIZATION))
                .await
        }
        None => true,
    };
    let mut r = if allowed {
        http::route(&req, shared, opts).await
    } else {
        let mut r = http::text(StatusCode::UNAUTHORIZED, "unauthorized\n");
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"sockscope\", charset=\"UTF-8\""),
        );
        r
    };
    for (name, value) in web.map(|w| w.headers.as_slice()).unwrap_or_default() {
        r.headers_mut().insert(name.clone(), value.clone());
    }
    r
}

/// Closes with a reset: whatever the kernel still holds for the client is dropped.
fn reset(raw: &impl AsFd) {
    let zero = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let _ = nix::sys::socket::setsockopt(raw, nix::sys::socket::sockopt::Linger, &zero);
}

/// Bytes written to `raw` that the client has not acknowledged yet.
fn unacked(raw: &impl AsFd) -> usize {
    let mut n: nix::libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ) on a TCP socket writes one int, here a local that
    // outlives the call; the descriptor is owned by the caller and open.
    let rc = unsafe { nix::libc::ioctl(raw.as_fd().as_raw_fd(), nix::libc::TIOCOUTQ, &raw mut n) };
    if rc == 0 {
        usize::try_from(n).unwrap_or(0)
    } else {
        0
    }
}

/// The lingering close: shut for writing, discard the client's leftovers until it closes
/// or [`LINGER`] has passed and the kernel has delivered the response; reset at `deadline`,
/// or at once when evicted (an evicted connection must give its descriptor back now: the
/// cap on connections is what keeps the process within its descriptor budget).
async fn linger(raw: OwnedFd, deadline: Instant, evict: &tokio::sync::Notify) {
    let _ = nix::sys::socket::shutdown(raw.as_raw_fd(), nix::sys::socket::Shutdown::Write);
    let std = std::net::TcpStream::from(raw);
    let Ok(mut s) = std
        .set_nonblocking(true)
        .and_then(|()| TcpStream::from_std(std))
    else {
        return;
    };
    let quiet = Instant::now() + LINGER;
    let (mut eof, mut discarded) = (false, 0usize);
    // On the heap: in the future it would be part of every connection's task.
    let mut buf = vec![0u8; 4096];
    loop {
        let delivered = unacked(&s) == 0;
        if delivered && (eof || Instant::now() >= quiet || discarded > MAX_DISCARD) {
            return;
        }
        if Instant::now() >= deadline {
            reset(&s);
            return;
        }
        let tick = sleep_until((Instant::now() + Duration::from_millis(50)).min(deadline));
        if eof {
            tokio::select! {
                () = tick => {}
                () = evict.notified() => return reset(&s),
            }
            continue;
        }
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) => eof = true,
                Ok(n) => discarded += n,
                Err(_) => return,
            },
            () = tick => {}
            () = evict.notified() => return reset(&s),
        }
    }
}
