//! The HTTP surface: `GET /metrics`, `GET /healthz`, `GET /` and nothing else.
//!
//! A deliberately small HTTP/1.1 server on `std::net`, with request heads parsed by
//! `httparse`. It is hand-rolled because tiny_http 0.12 reads header lines without any size
//! limit, spawns a thread per pending connection without bound, and has no read timeout;
//! an exporter on every host must survive port scanners and half-open clients.
//!
//! Bounds: a request head may be at most [`MAX_HEAD`] bytes and must arrive within
//! [`ServeOptions::header_timeout`]; a fixed pool of [`ServeOptions::workers`] threads
//! handles connections with at most as many more waiting, and a connection arriving beyond
//! that gets an immediate `503`. Every response closes the connection. This module reads
//! `Shared` and never calls the tick closure.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::serve::metrics::{self, Status};
use crate::serve::{ServeError, ServeOptions, Shared};

/// Largest request head (request line plus headers) accepted, in bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 48;

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
struct Response {
    status: u16,
    content_type: &'static str,
    extra: Option<(&'static str, &'static str)>,
    body: String,
}

impl Response {
    fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            extra: None,
            body: body.to_string(),
        }
    }
}

/// Starts the worker pool and the accept thread.
pub(crate) fn spawn(
    listener: TcpListener,
    shared: Arc<Shared>,
    opts: Arc<ServeOptions>,
) -> Result<(Vec<JoinHandle<()>>, JoinHandle<()>), ServeError> {
    let workers = opts.workers.max(1);
    let busy = Arc::new(AtomicUsize::new(0));
    // Admitted connections: one per worker plus as many waiting. The queue absorbs the gap
    // between a worker finishing and a client's next connect; beyond it, 503.
    let admit = workers * 2;
    let (tx, rx) = mpsc::channel::<(TcpStream, Instant)>();
    let rx = Arc::new(Mutex::new(rx));
    let mut handles = Vec::with_capacity(workers);
    for i in 0..workers {
        let rx = Arc::clone(&rx);
        let shared = Arc::clone(&shared);
        let opts = Arc::clone(&opts);
        let busy = Arc::clone(&busy);
        let h = std::thread::Builder::new()
            .name(format!("sockscope-http-{i}"))
            .stack_size(256 * 1024)
            .spawn(move || loop {
                let next = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok((stream, accepted)) = next else { return };
                handle(stream, accepted, &shared, &opts);
                busy.fetch_sub(1, Ordering::SeqCst);
            })
            .map_err(ServeError::Spawn)?;
        handles.push(h);
    }
    let accept = std::thread::Builder::new()
        .name("sockscope-accept".into())
        .spawn(move || {
            for conn in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let stream = match conn {
                    Ok(s) => s,
                    // EMFILE, ECONNABORTED and friends pass; back off so a full fd table
                    // does not spin this thread.
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                };
                // Claim a slot first: a full pool answers 503 now rather than queueing
                // the connection without bound behind idle clients.
                if busy.fetch_add(1, Ordering::SeqCst) >= admit {
                    busy.fetch_sub(1, Ordering::SeqCst);
                    reject_busy(stream);
                    continue;
                }
                if tx.send((stream, Instant::now())).is_err() {
                    busy.fetch_sub(1, Ordering::SeqCst);
                }
            }
            // Dropping the sender ends every worker's recv loop.
            drop(tx);
        })
        .map_err(ServeError::Spawn)?;
    Ok((handles, accept))
}

fn reject_busy(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let _ = write_response(
        &mut stream,
        &Response::text(503, "busy: too many connections\n"),
        false,
    );
    let _ = stream.shutdown(Shutdown::Both);
}

/// Serves one connection: one request, one response, close.
fn handle(mut stream: TcpStream, accepted: Instant, shared: &Shared, opts: &ServeOptions) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let started = Instant::now();
    // Counted from accept, so time spent queued behind idle clients counts against them;
    // but a request that is already waiting in the socket buffer still gets read.
    let deadline = (accepted + opts.header_timeout).max(started + Duration::from_millis(50));
    let (response, head_only, scrape) = match read_head(&mut stream, deadline) {
        Ok(head) => route(&head, shared, opts),
        Err(HeadError::Closed) => return,
        Err(HeadError::Timeout) => (Response::text(408, "request timeout\n"), false, false),
        Err(HeadError::TooLarge { line_done: true }) => (
            Response::text(431, "request header fields too large\n"),
            false,
            false,
        ),
        Err(HeadError::TooLarge { line_done: false } | HeadError::Malformed) => {
            (Response::text(400, "bad request\n"), false, false)
        }
        Err(HeadError::TooManyHeaders) => (
            Response::text(431, "too many header fields\n"),
            false,
            false,
        ),
    };
    let _ = write_response(&mut stream, &response, head_only);
    if scrape {
        let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.last_scrape_ns.store(ns, Ordering::Relaxed);
    }
    // Half-close, then drain briefly: closing with unread input makes the kernel send RST,
    // which can destroy the response before the client reads it.
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut sink = [0u8; 1024];
    for _ in 0..64 {
        match stream.read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// A parsed request head: what routing needs.
struct Head {
    method: String,
    path: String,
    accept: String,
}

enum HeadError {
    Closed,
    Timeout,
    TooLarge { line_done: bool },
    TooManyHeaders,
    Malformed,
}

fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Head, HeadError> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    // Bounded: each pass reads at least one byte or returns, and buf has MAX_HEAD bytes.
    loop {
        if find(&buf[..len], b"\r\n\r\n").is_some() {
            break;
        }
        if len == buf.len() {
            return Err(HeadError::TooLarge {
                line_done: find(&buf[..len], b"\r\n").is_some(),
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HeadError::Timeout);
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf[len..]) {
            Ok(0) if len == 0 => return Err(HeadError::Closed),
            Ok(0) => return Err(HeadError::Malformed),
            Ok(n) => len += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HeadError::Timeout)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(HeadError::Closed),
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&buf[..len]) {
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
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
            body: LANDING.to_string(),
        },
    };
    (response, head_only, path == "/metrics")
}

fn scrape(shared: &Shared, accept: &str) -> Response {
    let scrapes = shared.scrapes.fetch_add(1, Ordering::Relaxed) + 1;
    let status = shared.tick_state(|t| Status {
        up: t.up,
        collect_errors_total: t.errors,
        collect_duration_s: t.duration_s,
        scrape_duration_s: Duration::from_nanos(shared.last_scrape_ns.load(Ordering::Relaxed))
            .as_secs_f64(),
        scrapes_total: scrapes,
    });
    let data = shared.data();
    let body = metrics::assemble(&data, &metrics::render_status(&status));
    if accept.contains("application/openmetrics-text") {
        Response {
            status: 200,
            content_type: CONTENT_TYPE_OPENMETRICS,
            extra: None,
            body,
        }
    } else {
        Response {
            status: 200,
            content_type: CONTENT_TYPE_TEXT,
            extra: None,
            body: metrics::to_prometheus_text(&body),
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

fn write_response(out: &mut impl Write, r: &Response, head_only: bool) -> io::Result<()> {
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
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    if let Some((k, v)) = r.extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if !head_only {
        out.write_all(r.body.as_bytes())?;
    }
    out.flush()
}
