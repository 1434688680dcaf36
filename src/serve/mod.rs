//! The Prometheus endpoint: `sockscope serve`.
//!
//! One background *tick thread* calls the caller's tick closure every
//! [`ServeOptions::interval`], renders the exposition once ([`metrics::render_data`]), in
//! both text formats, and publishes it behind an `Arc`. Scrapes only clone that `Arc` and add
//! a few status lines, so any number of concurrent scrapes costs one kernel dump per interval. When a tick
//! fails, the last good data stays published, `sockscope_up` drops to 0 and
//! `sockscope_collect_errors_total` grows.
//!
//! This module owns the threads, the shared state, the acceptor (the `accept` module) and the HTTP
//! surface ([`http`]). It must
//! not open collectors itself: the caller's closure does, on the tick thread, because
//! network namespaces are per thread. It never imports `report` or `tui`.

mod accept;
pub use accept::http_fd_budget;
mod caps;
pub mod http;
/// The exposition this endpoint publishes (it lives with the other output formats).
pub use crate::report::prometheus as metrics;
pub use crate::report::prometheus::proto_metrics;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// What an `--all-netns` sweep found besides the snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    /// Namespaces found (collected, skipped or unreadable).
    pub discovered: u64,
    /// Found but not readable (`sockscope_netns_unreadable`).
    pub unreadable: u64,
    /// Left out over `--max-netns`.
    pub skipped_limit: u64,
    /// Left out for lack of file descriptors.
    pub skipped_fds: u64,
}

/// A tick as the tick thread sees it: the sweep's counts are `None` for one namespace.
type Collected = Result<(Vec<(Snapshot, Analysis)>, Option<SweepCounts>), String>;

/// How the endpoint runs.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Threads that render the responses to requests whose head is complete. Connections
    /// still sending their head, or slow to read their response, take no thread.
    pub workers: usize,
    /// Time a client has from connect to send its whole request head; then `408` and close.
    pub header_timeout: Duration,
    /// Most connections held open at once (heads arriving, responses being sent, answered
    /// ones draining); when full, one is closed to let a new one in: the oldest still
    /// sending its head, else the oldest draining, else the most stalled response.
    pub max_pending: usize,
    /// Time from a worker taking a request up to the last byte of its response being
    /// delivered (acknowledged by the client); a client that reads slower is disconnected
    /// (reset), its response cut short. A response written whole at once is first given
    /// the 1 s lingering close, so it is reset no sooner than that.
    pub write_timeout: Duration,
    /// Most bytes of responses not yet taken by their clients' sockets, together. When a new
    /// one would exceed it, connections whose clients do not read (not at all first, then
    /// longest without reading) are reset, their responses cut short, until it fits. A
    /// single response larger than the whole cap resets only clients that have read
    /// nothing, and is then sent over the cap. The per-tick data part is
    /// shared, not copied, but it is counted in full for each response (it is what fills
    /// each client's kernel buffers).
    pub max_unsent: usize,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            interval: Duration::from_secs(1),
            top_processes: 20,
            top_listeners: 50,
            pid_labels: false,
            workers: 32,
            header_timeout: Duration::from_secs(5),
            max_pending: 1024,
            write_timeout: http::WRITE_TIMEOUT,
            max_unsent: http::MAX_UNSENT,
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

/// The data part of the exposition (no status lines, no `# EOF`) in both text formats.
#[derive(Debug, Default)]
pub(crate) struct Body {
    /// OpenMetrics text.
    pub(crate) openmetrics: String,
    /// The same in the classic Prometheus text format.
    pub(crate) prometheus: String,
}

/// State shared by the tick thread and the HTTP workers.
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
}

/// A running endpoint. Dropping it stops the server and the tick thread.
#[derive(Debug)]
pub struct ServeHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    accept: Option<http::AcceptHandle>,
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
        // The acceptor waits in poll() up to half a second; a connection to ourselves wakes
        // it at once.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                SocketAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
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
/// (which calls `make_tick` every `opts.interval`) and the HTTP workers.
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
    let (workers, accept) = http::spawn(listener, shared, opts)?;
    handle.threads.extend(workers);
    handle.accept = Some(accept);
    Ok(handle)
}

/// Drops every capability of the calling thread: for the thread that started the endpoint
/// and from then on only waits in [`ServeHandle::join`] (the threads that work narrowed
/// their own sets as they started). Not done by [`start`] itself, whose caller may go on
/// to do privileged work on the same thread.
pub fn drop_caller_capabilities() {
    caps::narrow(0, "main thread");
}

/// Runs the endpoint until a fatal error: [`start`] then [`ServeHandle::join`].
pub fn run<F>(opts: ServeOptions, make_tick: F) -> Result<(), ServeError>
where
    F: FnMut() -> TickResult + Send + 'static,
{
    start(opts, make_tick)?.join()
}

fn tick_loop<F>(shared: &Shared, opts: &ServeOptions, mut make_tick: F)
where
    F: FnMut() -> Collected,
{
    let mut parse_errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut udp_drops = metrics::DropLedger::default();
    let mut churn = metrics::ChurnLedger::default();
    let mut next = Instant::now();
    let mut first = true;
    while !shared.stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let result = make_tick();
        if std::mem::take(&mut first) {
            // The first tick joined the destroy groups if it could; membership outlives
            // the capability, so it goes now.
            caps::narrow(caps::COLLECTION_CAPS, "collection thread");
        }
        match result {
            Ok((ticks, sweep)) => {
                for (snap, _) in &ticks {
                    *parse_errors.entry(snap.netns.clone()).or_default() +=
                        snap.quality.parse_errors;
                }
                udp_drops.observe(&ticks);
                churn.observe(&ticks);
                let mut openmetrics = metrics::render_tick(
                    &ticks,
                    &parse_errors,
                    Some(udp_drops.totals()),
                    sweep.map(|c| c.unreadable),
                    &opts.exposition(),
                );
                openmetrics.push_str(&metrics::render_churn(&ticks, &churn));
                if let Some(c) = sweep {
                    openmetrics.push_str(&metrics::render_sweep(
                        c.discovered,
                        &[("limit", c.skipped_limit), ("fds", c.skipped_fds)],
                    ));
                }
                let body = Arc::new(Body {
                    prometheus: metrics::to_prometheus_text(&openmetrics),
                    openmetrics,
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
