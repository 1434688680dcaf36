//! The Prometheus endpoint: `sockscope serve`.
//!
//! One background *tick thread* calls the caller's tick closure every
//! [`ServeOptions::interval`], renders the exposition once through
//! [`crate::report::prometheus`], in both text formats, and publishes it behind an `Arc`.
//! Scrapes only clone that `Arc` and add a few status lines, so any number of concurrent
//! scrapes costs one kernel dump per interval. When a tick fails, the last good data stays
//! published, `sockscope_up` drops to 0 and `sockscope_collect_errors_total` grows. Until
//! the first tick has finished a scrape waits for it (at most [`ServeOptions::ready_wait`],
//! then `503`), so a restart never shows `sockscope_up 0`.
//!
//! This module owns the threads, the shared state, the connections and their bounds
//! (the `conn` module, on hyper and a two-thread tokio runtime), the HTTP surface
//! ([`http`]) and TLS and basic auth from `--web-config` ([`tls`]). It must not open
//! collectors itself: the caller's closure does, on the tick thread, because network
//! namespaces are per thread (the tick thread is a plain thread, never a tokio worker).
//! It never imports `tui` and renders no metric family itself.

mod caps;
mod conn;
mod gzip;
pub mod http;
pub mod tls;

/// The exposition this endpoint publishes (it lives with the other output formats).
pub use crate::report::prometheus as metrics;
pub use crate::report::prometheus::{proto_metrics, SweepCounts};
pub use conn::http_fd_budget;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::analyze::engine::Analysis;
use crate::model::Snapshot;

/// Default TCP port of the metrics endpoint.
///
/// Chosen in the Prometheus exporter range 9100–9999 and absent from the community's
/// default-port allocation list as far as we could read it (the copy we found allocates up
/// to 9637 plus a few outliers: 9876, 9913, 9980, 9984, 9999). Its maintainers reported the
/// whole range allocated in 2023, so no port there is guaranteed unique; no exporter we
/// could find uses 9847. Override with `--listen`.
pub const DEFAULT_PORT: u16 = 9847;

/// What one tick produces: one snapshot and its analysis per collected network namespace,
/// or a one-line error.
pub type TickResult = Result<Vec<(Snapshot, Analysis)>, String>;

/// What one `--all-netns` tick produces: the snapshot and analysis of every namespace
/// collected, and what the sweep found but did not collect; or a one-line error.
pub type FleetTickResult = Result<(Vec<(Snapshot, Analysis)>, SweepCounts), String>;

/// A tick as the tick thread sees it: the sweep's counts are `None` for one namespace.
type Collected = Result<(Vec<(Snapshot, Analysis)>, Option<SweepCounts>), String>;

/// How the endpoint runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on; default `127.0.0.1:`[`DEFAULT_PORT`] (loopback only).
    pub listen: SocketAddr,
    /// Time between ticks (one collection per tick, whatever the scrape rate).
    pub interval: Duration,
    /// Processes exported per namespace, most sockets first (cardinality cap).
    pub top_processes: usize,
    /// Listeners exported per namespace, most SYN_RECV then accept queue first.
    pub top_listeners: usize,
    /// Add a `pid` label to per-process series (more series; pids churn).
    pub pid_labels: bool,
    /// Units and containers exported per namespace, most sockets first (the rest summed as
    /// `(other)`); 0 leaves both families out.
    pub top_units: usize,
    /// Time a client has from connect to send its whole request head (and, with TLS, to
    /// finish the handshake first); then `408` and close (a TLS connection is just closed).
    pub header_timeout: Duration,
    /// Most connections held open at once; when full, one is closed to let a new one in:
    /// the oldest that has not sent a whole request head yet, else the oldest.
    pub max_pending: usize,
    /// Time from a request head being complete to the last byte of its response being
    /// delivered (acknowledged by the client); a client that reads slower is reset.
    pub write_timeout: Duration,
    /// Longest a scrape waits for the first collection before it is told `503`.
    pub ready_wait: Duration,
    /// TLS, basic auth and extra headers from `--web-config`; `None`: plain HTTP, open.
    pub web: Option<Arc<tls::Web>>,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            interval: Duration::from_secs(1),
            top_processes: 20,
            top_listeners: 50,
            pid_labels: false,
            top_units: 20,
            header_timeout: Duration::from_secs(5),
            max_pending: 1024,
            write_timeout: http::WRITE_TIMEOUT,
            ready_wait: Duration::from_secs(5),
            web: None,
        }
    }
}

impl ServeOptions {
    /// The exposition's part of these options.
    pub fn exposition(&self) -> metrics::Options {
        metrics::Options {
            top_processes: self.top_processes,
            top_listeners: self.top_listeners,
            pid_labels: self.pid_labels,
            top_units: self.top_units,
        }
    }

    /// How old the last successful tick may be for `/healthz` to say ok: three intervals,
    /// but never under five seconds (a slow dump must not flap the health check).
    pub fn health_max_age(&self) -> Duration {
        (self.interval * 3).max(Duration::from_secs(5))
    }
}

/// Why the endpoint could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A server thread could not be started.
    #[error("cannot start a server thread: {0}")]
    Spawn(std::io::Error),
    /// A server thread panicked (a bug).
    #[error("a server thread panicked")]
    Panicked,
}

/// The data part of the exposition (no status lines, no `# EOF`) in both text formats,
/// shared by every response of its tick (a clone is a reference count).
#[derive(Debug, Default)]
pub(crate) struct Body {
    /// OpenMetrics text.
    pub(crate) openmetrics: Bytes,
    /// The same in the classic Prometheus text format.
    pub(crate) prometheus: Bytes,
    /// The gzip-compressed start of each, made by the first scrape that asks for gzip.
    pub(crate) gz: [OnceLock<gzip::Part>; 2],
}

/// State shared by the tick thread and the HTTP side.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The latest good data part of the exposition.
    pub(crate) data: RwLock<Arc<Body>>,
    /// Tick outcome and counters.
    pub(crate) tick: Mutex<TickState>,
    /// Nanoseconds the previous scrape took.
    pub(crate) last_scrape_ns: AtomicU64,
    /// Scrapes served.
    pub(crate) scrapes: AtomicU64,
    /// Set to stop every thread.
    pub(crate) stop: AtomicBool,
    /// Wakes the tick thread early on stop.
    pub(crate) wake: Condvar,
    /// Wakes the acceptor on stop.
    pub(crate) stop_accept: tokio::sync::Notify,
    /// `true` once the first tick has finished (well or not); scrapes wait for it.
    pub(crate) ready: tokio::sync::watch::Sender<bool>,
}

/// What the tick thread last reported.
#[derive(Debug, Default)]
pub(crate) struct TickState {
    /// When the latest tick succeeded.
    pub(crate) last_ok: Option<Instant>,
    /// Whether the latest tick succeeded.
    pub(crate) up: bool,
    /// Failed ticks.
    pub(crate) errors: u64,
    /// Seconds the latest tick took.
    pub(crate) duration_s: f64,
    /// The latest error, for logs and `/healthz`.
    pub(crate) last_error: Option<String>,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            data: RwLock::new(Arc::new(Body::default())),
            tick: Mutex::new(TickState::default()),
            last_scrape_ns: AtomicU64::new(0),
            scrapes: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            wake: Condvar::new(),
            stop_accept: tokio::sync::Notify::new(),
            ready: tokio::sync::watch::Sender::new(false),
        }
    }

    /// The current data part; a reader never waits for a tick, only for a pointer swap.
    pub(crate) fn data(&self) -> Arc<Body> {
        match self.data.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn tick_state<R>(&self, f: impl FnOnce(&mut TickState) -> R) -> R {
        match self.tick.lock() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Whether the first tick has finished.
    pub(crate) fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until the first tick has finished, at most `bound`: whether it has.
    pub(crate) async fn wait_ready(&self, bound: Duration) -> bool {
        let mut rx = self.ready.subscribe();
        let ready = matches!(
            tokio::time::timeout(bound, rx.wait_for(|&r| r)).await,
            Ok(Ok(_))
        );
        ready
    }
}

/// A running endpoint. Dropping it stops the server and the tick thread.
#[derive(Debug)]
pub struct ServeHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    accept: Option<conn::AcceptHandle>,
}

impl ServeHandle {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks for as long as the server runs, which is until the process ends unless a
    /// server thread panics.
    pub fn join(mut self) -> Result<(), ServeError> {
        let res = match self.accept.take() {
            Some(h) => h
                .join()
                .map_err(|_| ServeError::Panicked)
                .and_then(|r| r.map_err(ServeError::Spawn)),
            None => Ok(()),
        };
        self.stop_threads();
        res
    }

    /// Stops accepting, stops the tick thread and waits for them.
    pub fn shutdown(mut self) {
        self.stop_threads();
    }

    fn stop_threads(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
        self.shared.stop_accept.notify_one();
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        if self.accept.is_some() || !self.threads.is_empty() {
            self.stop_threads();
        }
    }
}

/// Starts the endpoint and returns at once: binds `opts.listen`, starts the tick thread
/// (which calls `make_tick` every `opts.interval`) and the HTTP side.
///
/// `make_tick` runs only on the tick thread. Open the collector lazily on its first call
/// so that the namespace it enters is the tick thread's:
///
/// ```no_run
/// # use sockscope::serve::{start, ServeOptions};
/// # use sockscope::collect::collector::{Collector, CollectConfig};
/// # use sockscope::analyze::engine::Analyzer;
/// let mut state: Option<(Collector, Analyzer)> = None;
/// let handle = start(ServeOptions::default(), move || {
///     if state.is_none() {
///         let cfg = CollectConfig { attribute: true, counters: true, sysctls: true, ..Default::default() };
///         state = Some((Collector::open(cfg).map_err(|e| e.to_string())?, Analyzer::new()));
///     }
///     let Some((collector, analyzer)) = state.as_mut() else { return Err("no collector".into()) };
///     let snap = collector.collect().map_err(|e| e.to_string())?;
///     let analysis = analyzer.observe(&snap);
///     Ok(vec![(snap, analysis)])
/// })?;
/// handle.join()?;
/// # Ok::<(), sockscope::serve::ServeError>(())
/// ```
pub fn start<F>(opts: ServeOptions, mut make_tick: F) -> Result<ServeHandle, ServeError>
where
    F: FnMut() -> TickResult + Send + 'static,
{
    start_collecting(opts, move || make_tick().map(|t| (t, None)))
}

/// [`start`] for `--all-netns`: the tick also says what its sweep found and left out,
/// exported as `sockscope_netns_unreadable`, `sockscope_netns_discovered` and
/// `sockscope_netns_skipped{reason}`.
pub fn start_fleet<F>(opts: ServeOptions, mut make_tick: F) -> Result<ServeHandle, ServeError>
where
    F: FnMut() -> FleetTickResult + Send + 'static,
{
    start_collecting(opts, move || make_tick().map(|(t, n)| (t, Some(n))))
}

fn start_collecting<F>(opts: ServeOptions, make_tick: F) -> Result<ServeHandle, ServeError>
where
    F: FnMut() -> Collected + Send + 'static,
{
    let listener = TcpListener::bind(opts.listen).map_err(|source| ServeError::Bind {
        addr: opts.listen,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: opts.listen,
        source,
    })?;
    let shared = Arc::new(Shared::new());
    let opts = Arc::new(opts);

    let tick = {
        let shared = Arc::clone(&shared);
        let opts = Arc::clone(&opts);
        std::thread::Builder::new()
            .name("sockscope-tick".into())
            .spawn(move || {
                // CAP_NET_ADMIN only for the first tick, which joins the destroy groups.
                caps::narrow(
                    caps::COLLECTION_CAPS | caps::EVENTS_CAPS,
                    "collection thread",
                );
                tick_loop(&shared, &opts, make_tick)
            })
            .map_err(ServeError::Spawn)?
    };
    let mut handle = ServeHandle {
        addr,
        shared: Arc::clone(&shared),
        threads: vec![tick],
        accept: None,
    };
    handle.accept = Some(conn::spawn(listener, shared, opts)?);
    Ok(handle)
}

/// Drops every capability of the calling thread: for the thread that started the endpoint
/// and from then on only waits in [`ServeHandle::join`] (the threads that work narrowed
/// their own sets as they started). Not done by [`start`] itself, whose caller may go on
/// to do privileged work on the same thread.
pub fn drop_caller_capabilities() {
    caps::narrow(0, "main thread");
}

fn tick_loop<F>(shared: &Shared, opts: &ServeOptions, mut make_tick: F)
where
    F: FnMut() -> Collected,
{
    let mut exposition = metrics::Exposition::default();
    let mut next = Instant::now();
    let mut first = true;
    while !shared.stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let result = make_tick();
        if first {
            // The first tick joined the destroy groups if it could; membership outlives
            // the capability, so it goes now.
            caps::narrow(caps::COLLECTION_CAPS, "collection thread");
        }
        match result {
            Ok((ticks, sweep)) => {
                let openmetrics = exposition.render(&ticks, sweep, &opts.exposition());
                let body = Arc::new(Body {
                    prometheus: metrics::to_prometheus_text(&openmetrics).into(),
                    openmetrics: openmetrics.into(),
                    gz: Default::default(),
                });
                match shared.data.write() {
                    Ok(mut g) => *g = body,
                    Err(poisoned) => *poisoned.into_inner() = body,
                }
                shared.tick_state(|t| {
                    t.up = true;
                    t.last_ok = Some(Instant::now());
                    t.last_error = None;
                    t.duration_s = started.elapsed().as_secs_f64();
                });
            }
            Err(e) => shared.tick_state(|t| {
                t.up = false;
                t.errors += 1;
                t.last_error = Some(e);
                t.duration_s = started.elapsed().as_secs_f64();
            }),
        }
        if std::mem::take(&mut first) {
            shared.ready.send_replace(true);
        }
        // Fixed-rate schedule; a tick that overran skips the missed slots instead of
        // bursting to catch up.
        next += opts.interval;
        let now = Instant::now();
        if next < now {
            next = now + opts.interval;
        }
        let guard = match shared.tick.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let wait = next.saturating_duration_since(Instant::now());
        let _ = shared
            .wake
            .wait_timeout_while(guard, wait, |_| !shared.stop.load(Ordering::SeqCst));
    }
}
