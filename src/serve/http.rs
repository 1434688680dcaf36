//! The HTTP surface: `GET /metrics`, `GET /healthz`, `GET /` and nothing else.
//!
//! A deliberately small HTTP/1.1 server on `std::net`, with request heads parsed by
//! `httparse`. It is hand-rolled because tiny_http 0.12 reads header lines without any size
//! limit, spawns a thread per pending connection without bound, and has no read timeout;
//! an exporter on every host must survive port scanners and half-open clients.
//!
//! Two kinds of thread: one acceptor (the private `accept` module) holds every connection
//! whose head is still arriving or whose response is still being sent, and a fixed pool of
//! [`ServeOptions::workers`] answers connections whose head is complete. A worker never
//! waits for a client: it renders the response (the data part was rendered once per tick),
//! writes what the socket takes without blocking, and hands the connection back to the
//! acceptor, with the rest of the response (`Outgoing`) if there is any. So a client that
//! does not read pins no thread, only a bounded buffer ([`ServeOptions::max_unsent`]) until
//! [`ServeOptions::write_timeout`]. Every response closes the connection. This module reads
//! `Shared` and never calls the tick closure.

use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::serve::accept::Acceptor;
use crate::serve::metrics::{self, Status};
use crate::serve::{Body, ServeError, ServeOptions, Shared};

/// Largest request head (request line plus headers) accepted, in bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 48;

/// Default [`ServeOptions::write_timeout`]: Prometheus' default scrape timeout.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default [`ServeOptions::max_unsent`]: 32 MiB.
pub const MAX_UNSENT: usize = 32 << 20;

/// Content type of the classic text format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Content type of OpenMetrics text, served when the scraper's `Accept` asks for it.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

const LANDING: &str = "<!DOCTYPE html>\n<html><head><title>sockscope exporter</title></head>\n\
<body><h1>sockscope exporter</h1>\n<p>TCP socket states, listeners, processes and findings \
for Prometheus.</p>\n<ul><li><a href=\"/metrics\">/metrics</a></li>\
<li><a href=\"/healthz\">/healthz</a></li></ul>\n</body></html>\n";

/// An HTTP response, before serialisation.
pub(crate) struct Response {
    status: u16,
    content_type: &'static str,
    extra: Option<(&'static str, &'static str)>,
    /// For a scrape: the per-tick data part, which starts the body. Shared with the tick
    /// thread and every other response of that tick, never copied.
    data: Option<(Arc<Body>, Format)>,
    /// The body, or for a scrape the rest of it after `data`.
    body: String,
}

impl Response {
    pub(crate) fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            extra: None,
            data: None,
            body: body.to_string(),
        }
    }
}

/// Which text format a scrape is answered in.
#[derive(Debug, Clone, Copy)]
enum Format {
    OpenMetrics,
    Prometheus,
}

/// The data part of `body` in `format`.
fn data_bytes(data: &Option<(Arc<Body>, Format)>) -> &[u8] {
    match data {
        Some((body, Format::OpenMetrics)) => body.openmetrics.as_bytes(),
        Some((body, Format::Prometheus)) => body.prometheus.as_bytes(),
        None => &[],
    }
}

/// A connection whose request head is complete, for a worker.
pub(crate) struct Job {
    pub(crate) stream: TcpStream,
    pub(crate) head: Head,
}

/// A response on its way to the client: the HTTP head, the shared data part (scrapes only)
/// and the rest of the body, written with one `writev` per round.
pub(crate) struct Outgoing {
    head: Vec<u8>,
    data: Option<(Arc<Body>, Format)>,
    tail: Vec<u8>,
    /// How many bytes of head, data and tail together the socket has taken.
    sent: usize,
    /// How many of them the worker's first write got in.
    first: usize,
    /// When the client is given up on.
    pub(crate) deadline: Instant,
    /// When the client last took bytes (or the response was made).
    pub(crate) progress: Instant,
    /// When answering a scrape began, for the scrape-duration gauge; `None` for other paths.
    scrape_started: Option<Instant>,
}

impl Outgoing {
    fn new(r: Response, head_only: bool, deadline: Instant, scrape: Option<Instant>) -> Outgoing {
        let head = head_bytes(&r);
        let (data, tail) = if head_only {
            (None, Vec::new())
        } else {
            (r.data, r.body.into_bytes())
        };
        Outgoing {
            head,
            data,
            tail,
            sent: 0,
            first: 0,
            deadline,
            progress: Instant::now(),
            scrape_started: scrape,
        }
    }

    fn parts(&self) -> [&[u8]; 3] {
        [&self.head, data_bytes(&self.data), &self.tail]
    }

    /// Writes what the non-blocking `stream` takes: `Ok(true)` once all is written.
    pub(crate) fn flush(&mut self, mut stream: &TcpStream) -> io::Result<bool> {
        // Bounded: each pass writes at least one byte or returns, or is an EINTR.
        loop {
            let res = {
                let mut skip = self.sent;
                let mut slices = Vec::with_capacity(3);
                for part in self.parts() {
                    if skip >= part.len() {
                        skip -= part.len();
                    } else {
                        slices.push(IoSlice::new(&part[skip..]));
                        skip = 0;
                    }
                }
                if slices.is_empty() {
                    return Ok(true);
                }
                stream.write_vectored(&slices)
            };
            match res {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    self.progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the client has taken bytes since the first write: it is reading, however
    /// slowly (the kernel buffers take the first write whether the client reads or not).
    pub(crate) fn reading(&self) -> bool {
        self.sent > self.first
    }

    /// Bytes of this response not yet taken by the socket. The data part is charged in full
    /// although it is shared: the cap then also bounds the kernel send buffers these
    /// connections fill, and an old tick's data is freed only when its last response is.
    pub(crate) fn unsent(&self) -> usize {
        self.parts().iter().map(|p| p.len()).sum::<usize>() - self.sent
    }

    /// All written: shuts the connection for writing and records the scrape's duration.
    pub(crate) fn finish(&self, stream: &TcpStream, shared: &Shared) {
        let _ = stream.shutdown(Shutdown::Write);
        if let Some(started) = self.scrape_started {
            let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            shared.last_scrape_ns.store(ns, Ordering::Relaxed);
        }
    }
}

/// What a worker hands back to the acceptor.
pub(crate) enum Answered {
    /// Response written and the connection shut for writing: drain it, then close; the
    /// write deadline, by which the kernel must have delivered it too.
    Sent(TcpStream, Instant),
    /// The socket took part of the response: send the rest as the client reads.
    Unsent(TcpStream, Outgoing),
}

/// The acceptor thread: an error only when it could not set up its sockets.
pub(crate) type AcceptHandle = JoinHandle<io::Result<()>>;

/// Starts the worker pool and the acceptor thread.
pub(crate) fn spawn(
    listener: TcpListener,
    shared: Arc<Shared>,
    opts: Arc<ServeOptions>,
) -> Result<(Vec<JoinHandle<()>>, AcceptHandle), ServeError> {
    let workers = opts.workers.max(1);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (jobs, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let (answered_tx, answered) = mpsc::channel::<Answered>();
    let (wake, wake_tx) = UnixStream::pair().map_err(ServeError::Spawn)?;
    wake_tx.set_nonblocking(true).map_err(ServeError::Spawn)?;
    let wake_tx = Arc::new(wake_tx);
    let mut handles = Vec::with_capacity(workers);
    for i in 0..workers {
        let rx = Arc::clone(&rx);
        let shared = Arc::clone(&shared);
        let opts = Arc::clone(&opts);
        let in_flight = Arc::clone(&in_flight);
        let answered = answered_tx.clone();
        let wake = Arc::clone(&wake_tx);
        let h = std::thread::Builder::new()
            .name(format!("sockscope-http-{i}"))
            .stack_size(256 * 1024)
            .spawn(move || {
                super::caps::drop_for_server_thread();
                worker_loop(&rx, &shared, &opts, &in_flight, &answered, &wake);
            })
            .map_err(ServeError::Spawn)?;
        handles.push(h);
    }
    let acceptor = Acceptor {
        listener,
        shared,
        opts,
        jobs,
        in_flight,
        answered,
        wake,
    };
    let accept = std::thread::Builder::new()
        .name("sockscope-accept".into())
        // Dropping the acceptor drops the job sender, which ends every worker's recv loop.
        .spawn(move || {
            super::caps::drop_for_server_thread();
            acceptor.run()
        })
        .map_err(ServeError::Spawn)?;
    Ok((handles, accept))
}

/// A worker: takes complete requests, answers them, hands the connections back.
fn worker_loop(
    rx: &Mutex<mpsc::Receiver<Job>>,
    shared: &Shared,
    opts: &ServeOptions,
    in_flight: &AtomicUsize,
    answered: &mpsc::Sender<Answered>,
    wake: &UnixStream,
) {
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        let done = answer(job, shared, opts);
        in_flight.fetch_sub(1, Ordering::SeqCst);
        // Back to the acceptor for the rest of the response and the lingering
        // close. A full wake socket already has a wake-up pending, so a failed write
        // loses nothing.
        if let Some(done) = done {
            if answered.send(done).is_ok() {
                let _ = (&*wake).write(&[1]);
            }
        }
    }
}

/// Answers one complete request on its non-blocking stream: renders the response and
/// writes what the socket takes now. `None` when the client is gone (the stream is closed).
fn answer(job: Job, shared: &Shared, opts: &ServeOptions) -> Option<Answered> {
    let Job { stream, head } = job;
    let started = Instant::now();
    let (response, head_only, scrape) = route(&head, shared, opts);
    let deadline = started + opts.write_timeout;
    let mut out = Outgoing::new(response, head_only, deadline, scrape.then_some(started));
    match out.flush(&stream) {
        Ok(true) => {
            out.finish(&stream, shared);
            Some(Answered::Sent(stream, deadline))
        }
        Ok(false) => {
            out.first = out.sent;
            Some(Answered::Unsent(stream, out))
        }
        Err(_) => None,
    }
}

/// A parsed request head: what routing needs.
pub(crate) struct Head {
    method: String,
    path: String,
    accept: String,
}

/// Why a request head was refused.
pub(crate) enum HeadError {
    Timeout,
    TooLarge { line_done: bool },
    TooManyHeaders,
    Malformed,
}

/// The answer to a refused head.
pub(crate) fn head_error_response(e: &HeadError) -> Response {
    match e {
        HeadError::Timeout => Response::text(408, "request timeout\n"),
        HeadError::TooLarge { line_done: true } => {
            Response::text(431, "request header fields too large\n")
        }
        HeadError::TooLarge { line_done: false } | HeadError::Malformed => {
            Response::text(400, "bad request\n")
        }
        HeadError::TooManyHeaders => Response::text(431, "too many header fields\n"),
    }
}

/// Parses a complete head (ending in an empty line).
pub(crate) fn parse_head(buf: &[u8]) -> Result<Head, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Malformed),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(_) => return Err(HeadError::Malformed),
    }
    let accept = req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("accept"))
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .collect::<Vec<_>>()
        .join(",");
    Ok(Head {
        method: req.method.unwrap_or_default().to_string(),
        path: req.path.unwrap_or_default().to_string(),
        accept,
    })
}

/// Where `needle` first occurs in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Picks the response; returns it, whether to omit the body (HEAD) and whether this was a
/// scrape (for the scrape-duration gauge).
fn route(head: &Head, shared: &Shared, opts: &ServeOptions) -> (Response, bool, bool) {
    let path = head.path.split('?').next().unwrap_or_default();
    let known = matches!(path, "/" | "/metrics" | "/healthz");
    if !known {
        return (Response::text(404, "not found\n"), false, false);
    }
    let head_only = match head.method.as_str() {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut r = Response::text(405, "method not allowed\n");
            r.extra = Some(("Allow", "GET, HEAD"));
            return (r, false, false);
        }
    };
    let response = match path {
        "/metrics" => scrape(shared, &head.accept),
        "/healthz" => healthz(shared, opts),
        _ => Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            extra: None,
            data: None,
            body: LANDING.to_string(),
        },
    };
    (response, head_only, path == "/metrics")
}

fn scrape(shared: &Shared, accept: &str) -> Response {
    // Before the first collection has finished there is nothing true to say: `up 0` would
    // fire an alert on every restart (with `--all-netns` the first sweep takes seconds), so
    // the scrape is refused and Prometheus tries again next interval.
    if shared.tick_state(|t| t.last_ok.is_none() && t.errors == 0) {
        let mut r = Response::text(503, "the first collection has not finished yet\n");
        r.extra = Some(("Retry-After", "1"));
        return r;
    }
    let scrapes = shared.scrapes.fetch_add(1, Ordering::Relaxed) + 1;
    let status = shared.tick_state(|t| Status {
        up: t.up,
        collect_errors_total: t.errors,
        collect_duration_s: t.duration_s,
        scrape_duration_s: Duration::from_nanos(shared.last_scrape_ns.load(Ordering::Relaxed))
            .as_secs_f64(),
        scrapes_total: scrapes,
        http_privileged: super::caps::http_threads_privileged(),
    });
    let status = metrics::render_status(&status);
    // The data part of both formats was rendered once per tick and is shared, not copied;
    // only the status lines are per scrape.
    let data = shared.data();
    if accept.contains("application/openmetrics-text") {
        Response {
            status: 200,
            content_type: CONTENT_TYPE_OPENMETRICS,
            extra: None,
            data: Some((data, Format::OpenMetrics)),
            // `assemble` appends status and `# EOF` to the data: given no data, the rest.
            body: metrics::assemble("", &status),
        }
    } else {
        Response {
            status: 200,
            content_type: CONTENT_TYPE_TEXT,
            extra: None,
            data: Some((data, Format::Prometheus)),
            body: metrics::to_prometheus_text(&status),
        }
    }
}

fn healthz(shared: &Shared, opts: &ServeOptions) -> Response {
    let max_age = opts.health_max_age();
    shared.tick_state(|t| match t.last_ok {
        Some(at) if t.up && at.elapsed() <= max_age => Response::text(200, "ok\n"),
        _ => {
            let why = t
                .last_error
                .as_deref()
                .unwrap_or("no successful collection yet");
            Response::text(503, &format!("unhealthy: {why}\n"))
        }
    })
}

/// The response as bytes: head, then the body unless `head_only`. For the small answers the
/// acceptor writes itself.
pub(crate) fn serialize(r: &Response, head_only: bool) -> Vec<u8> {
    let mut out = head_bytes(r);
    if !head_only {
        out.extend_from_slice(data_bytes(&r.data));
        out.extend_from_slice(r.body.as_bytes());
    }
    out
}

/// The status line and headers, through the empty line.
fn head_bytes(r: &Response) -> Vec<u8> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    };
    let len = data_bytes(&r.data).len() + r.body.len();
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {len}\r\nConnection: close\r\n",
        r.status, r.content_type,
    );
    if let Some((k, v)) = r.extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}
