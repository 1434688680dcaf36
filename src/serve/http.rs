//! The HTTP surface: `GET /metrics`, `GET /healthz`, `GET /` and nothing else (`HEAD` too;
//! other paths `404`, other methods `405`). Parsing, limits and connections are hyper's and
//! the `conn` module's; this module only picks the answer to a parsed request, reading
//! `Shared` and never calling the tick closure.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::metrics::{self, Status};
use super::{gzip, ServeOptions, Shared};

/// Largest request head (request line plus headers) accepted, in bytes; beyond it `431`.
pub const MAX_HEAD: usize = 8 * 1024;

/// Most header lines accepted in one request; beyond it `431`.
pub const MAX_HEADERS: usize = 48;

/// Default [`ServeOptions::write_timeout`]: Prometheus' default scrape timeout.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Content type of the classic text format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Content type of OpenMetrics text, served when the scraper's `Accept` asks for it.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

const LANDING: &str = "<!DOCTYPE html>\n<html><head><title>sockscope exporter</title></head>\n\
<body><h1>sockscope exporter</h1>\n<p>TCP socket states, listeners, processes and findings \
for Prometheus.</p>\n<ul><li><a href=\"/metrics\">/metrics</a></li>\
<li><a href=\"/healthz\">/healthz</a></li></ul>\n</body></html>\n";

/// A response body: for a scrape the shared per-tick part, then this scrape's own bytes.
pub(crate) type Body = Full<bytes::buf::Chain<Bytes, Bytes>>;

/// A response with a body made of `a` then `b`.
pub(crate) fn reply(
    status: StatusCode,
    content_type: &'static str,
    a: Bytes,
    b: Bytes,
) -> Response<Body> {
    let mut r = Response::new(Full::new(a.chain(b)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A short plain-text response.
pub(crate) fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    reply(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
        Bytes::new(),
    )
}

/// Answers one request (authentication has been checked).
pub(crate) async fn route<B>(
    req: &Request<B>,
    shared: &Shared,
    opts: &ServeOptions,
) -> Response<Body> {
    let path = req.uri().path();
    if !matches!(path, "/" | "/metrics" | "/healthz") {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match path {
        "/metrics" => {
            // Before the first collection has finished there is nothing true to say: `up 0`
            // would fire an alert on every restart (with `--all-netns` the first sweep takes
            // seconds), so the scrape waits for it, and past the bound is refused.
            if !shared.wait_ready(opts.ready_wait).await {
                let mut r = text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "starting: the first collection has not finished yet\n",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
            scrape(shared, req.headers())
        }
        "/healthz" => healthz(shared, opts),
        _ => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Bytes::from_static(LANDING.as_bytes()),
            Bytes::new(),
        ),
    }
}

/// Whether `accept_encoding` lists gzip with a non-zero quality.
fn wants_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let q_zero = parts.any(|p| {
            p.strip_prefix("q=")
                .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
    })
}

fn scrape(shared: &Shared, headers: &hyper::HeaderMap) -> Response<Body> {
    let started = Instant::now();
    let joined = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
    };
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
    let (format, content_type, tail) =
        if joined(header::ACCEPT).contains("application/openmetrics-text") {
            // `assemble` appends status and `# EOF` to the data: given no data, the rest.
            (0, CONTENT_TYPE_OPENMETRICS, metrics::assemble("", &status))
        } else {
            (1, CONTENT_TYPE_TEXT, metrics::to_prometheus_text(&status))
        };
    let whole = if format == 0 {
        &data.openmetrics
    } else {
        &data.prometheus
    };
    let mut r = if wants_gzip(&joined(header::ACCEPT_ENCODING)) {
        let part = data.gz[format].get_or_init(|| gzip::part(whole));
        let (a, b) = gzip::finish(part, tail.as_bytes());
        let mut r = reply(StatusCode::OK, content_type, a, b);
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        reply(StatusCode::OK, content_type, whole.clone(), tail.into())
    };
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    shared.last_scrape_ns.store(ns, Ordering::Relaxed);
    r
}

fn healthz(shared: &Shared, opts: &ServeOptions) -> Response<Body> {
    if !shared.is_ready() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "starting\n");
    }
    let max_age = opts.health_max_age();
    shared.tick_state(|t| match t.last_ok {
        Some(at) if t.up && at.elapsed() <= max_age => text(StatusCode::OK, "ok\n"),
        last_ok => {
            let why = match (t.up, &t.last_error, last_ok) {
                (false, Some(e), _) => e.clone(),
                // Up, but the last success is too old: the collection is stuck (a hung
                // dump or /proc read), which no error says.
                (_, _, Some(at)) => format!(
                    "last successful collection {} s ago (limit {} s): the collection is stuck",
                    at.elapsed().as_secs(),
                    max_age.as_secs()
                ),
                (_, Some(e), None) => e.clone(),
                (_, None, None) => "no successful collection yet".to_string(),
            };
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                Bytes::from(format!("unhealthy: {why}\n")),
                Bytes::new(),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_when_offered_with_a_non_zero_quality() {
        assert!(wants_gzip("gzip"));
        assert!(wants_gzip("deflate, GZIP;q=0.5"));
        assert!(wants_gzip("*"));
        assert!(!wants_gzip("gzip;q=0"));
        assert!(!wants_gzip("identity, br"));
        assert!(!wants_gzip(""));
    }
}
