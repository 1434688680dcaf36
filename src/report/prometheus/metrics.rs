//! The exposition: pure functions from snapshots and their analysis to Prometheus text.
//!
//! It owns metric names, label sets and cardinality caps. It must not touch the kernel, the
//! network or the clock: everything it prints comes from its arguments, so a hand-built
//! [`Snapshot`] renders the same bytes every time (see the golden test).
//!
//! The output is split in two parts so scrapes never redo the expensive one:
//! [`render_data`] (per tick, cached by the server) and [`render_status`] (per scrape, a
//! dozen lines). [`assemble`] joins them in OpenMetrics; [`to_prometheus_text`] turns that
//! into the classic `text/plain; version=0.0.4` format for scrapers that do not ask for
//! OpenMetrics.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::encoding::{
    EncodeCounterValue, EncodeGaugeValue, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::Options;
use crate::analyze::engine::Analysis;
use crate::analyze::finding::{AlertPhase, Subject};
use crate::model::{Protocol, Snapshot, TcpState};

/// A label set: (name, value) pairs, in a fixed order.
pub(super) type Labels = Vec<(&'static str, String)>;

/// A float gauge (prometheus-client's default gauge is integer).
type FGauge = Gauge<f64, AtomicU64>;

/// Tcp (`/proc/net/snmp`) fields that are levels or constants, not monotonic counters:
/// `rate()` over them is meaningless, so they go to `sockscope_kernel_tcp_level`.
const TCP_GAUGES: [&str; 5] = ["CurrEstab", "RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn"];

/// Exporter health, as the tick thread and the HTTP server know it at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// Whether the latest tick succeeded.
    pub up: bool,
    /// Failed ticks since start.
    pub collect_errors_total: u64,
    /// Wall time of the latest tick (collection plus analysis plus rendering), seconds.
    pub collect_duration_s: f64,
    /// Wall time of the previous `/metrics` scrape, seconds.
    pub scrape_duration_s: f64,
    /// `/metrics` scrapes served since start.
    pub scrapes_total: u64,
    /// True when an HTTP thread could not drop its capabilities.
    pub http_privileged: bool,
}

/// Renders the per-tick part: every metric about sockets, listeners, processes, findings
/// and kernel counters, one `netns` label value per tick entry. `parse_errors_total` holds
/// the cumulative parse errors per namespace (the tick thread sums them).
pub fn render_data(
    ticks: &[(Snapshot, Analysis)],
    parse_errors_total: &BTreeMap<String, u64>,
    opts: &Options,
) -> String {
    render_fleet_data(ticks, parse_errors_total, None, opts)
}

/// [`render_data`] for `--all-netns`: also `sockscope_netns_unreadable`, the namespaces the
/// tick's sweep found but could not read (`None`: one namespace is served, no sweep ran,
/// and the gauge is left out rather than claiming 0). A count without a label: the
/// unreadable ones are named on stderr, and a label per namespace would churn series.
pub fn render_fleet_data(
    ticks: &[(Snapshot, Analysis)],
    parse_errors_total: &BTreeMap<String, u64>,
    netns_unreadable: Option<u64>,
    opts: &Options,
) -> String {
    render_tick(ticks, parse_errors_total, None, netns_unreadable, opts)
}

/// What the tick thread renders: [`render_fleet_data`] plus
/// `sockscope_udp_drops_observed_total` from `udp_drops_observed` (per namespace, kept by
/// `DropLedger` across ticks; `None` leaves that counter out). The UDP and
/// UNIX families ([`super::proto_metrics`]) follow the TCP ones, for the namespaces that
/// collected them; a TCP-only tick renders exactly what it always did.
pub fn render_tick(
    ticks: &[(Snapshot, Analysis)],
    parse_errors_total: &BTreeMap<String, u64>,
    udp_drops_observed: Option<&BTreeMap<String, u64>>,
    netns_unreadable: Option<u64>,
    opts: &Options,
) -> String {
    let mut sockets = Series::gauge();
    let mut l_sockets = Series::gauge();
    let mut l_backlog = Series::gauge();
    let mut l_accept = Series::gauge();
    let mut l_synrecv = Series::gauge();
    let mut p_sockets = Series::gauge();
    let mut finding = Series::<u64>::gauge();
    let mut k_counter = Series::counter();
    let mut k_gauge = Series::gauge();
    let mut unattributed = Series::gauge();
    let mut ownerless = Series::gauge();
    let mut parse_errors = Series::counter();
    let mut snap_duration = Series::<f64>::gauge();

    for (snap, analysis) in ticks {
        let ns = snap.netns.as_str();
        let agg = &analysis.aggregate;
        // A run with -u or -x alone collected no TCP: zeros would claim "no TCP socket".
        let tcp = snap.protocols.contains(Protocol::Tcp);
        for state in TcpState::ALL.into_iter().filter(|_| tcp) {
            sockets
                .slot(labels(ns, &[("state", state.netstat_name())]))
                .set(agg.states.get(state));
        }
        for row in agg.listeners.iter().take(opts.top_listeners) {
            let local = row.local.to_string();
            for (state, n) in row.states.ranked() {
                l_sockets
                    .slot(labels(
                        ns,
                        &[("local", &local), ("state", state.netstat_name())],
                    ))
                    .set(n);
            }
            let key = labels(ns, &[("local", &local)]);
            l_backlog.slot(key.clone()).set(u64::from(row.backlog));
            l_accept.slot(key.clone()).set(u64::from(row.accept_queue));
            l_synrecv.slot(key).set(row.syn_recv());
        }
        for row in agg.processes.iter().take(opts.top_processes) {
            let pid = row.process.pid.to_string();
            for (state, n) in row.states.ranked() {
                let comm = row.process.comm.label_value(NAME_LABEL_MAX);
                let mut l = labels(ns, &[("comm", &comm)]);
                if opts.pid_labels {
                    l.push(("pid", pid.clone()));
                }
                l.push(("state", state.netstat_name().to_string()));
                // Without pid labels two processes with one comm share a series: add, do
                // not overwrite.
                p_sockets.slot(l).inc_by(n);
            }
        }
        for alert in &analysis.alerts {
            let phase = match alert.phase {
                AlertPhase::Pending => "pending",
                AlertPhase::Firing => "firing",
                AlertPhase::Resolved => continue,
            };
            let f = &alert.finding;
            let severity = match f.severity {
                crate::analyze::finding::Severity::Warning => "warning",
                crate::analyze::finding::Severity::Critical => "critical",
            };
            let subject = subject_label(&f.subject, opts.pid_labels);
            finding
                .slot(labels(
                    &f.netns,
                    &[
                        ("rule", f.rule.as_str()),
                        ("subject", &subject),
                        ("severity", severity),
                        ("phase", phase),
                    ],
                ))
                .set(1);
        }
        if let Some(c) = &snap.counters {
            for (group, map) in [("TcpExt", &c.tcp_ext), ("Tcp", &c.tcp)] {
                for (name, &v) in map {
                    let l = labels(ns, &[("group", group), ("name", name)]);
                    if group == "Tcp" && TCP_GAUGES.contains(&name.as_str()) {
                        k_gauge.slot(l.clone()).set(v);
                    } else {
                        k_counter.slot(l).inc_by(v);
                    }
                }
            }
        }
        let only_ns = labels(ns, &[]);
        if tcp {
            unattributed.slot(only_ns.clone()).set(agg.unattributed);
            ownerless.slot(only_ns.clone()).set(agg.ownerless);
        }
        parse_errors
            .slot(only_ns.clone())
            .inc_by(parse_errors_total.get(ns).copied().unwrap_or(0));
        snap_duration
            .slot(only_ns)
            .set(micros_to_seconds(snap.collect_us));
    }

    let mut r = Registry::with_prefix("sockscope");
    r.register(
        "sockets",
        "TCP sockets per state (netstat spelling; NEW_SYN_RECV counts as SYN_RECV)",
        sockets,
    );
    r.register(
        "listener_sockets",
        "Sockets on a listener's address and port, per state; non-zero states only",
        l_sockets,
    );
    r.register(
        "listener_backlog",
        "Listener backlog (Send-Q of the LISTEN socket)",
        l_backlog,
    );
    r.register(
        "listener_accept_queue",
        "Connections waiting in the listener's accept queue (Recv-Q)",
        l_accept,
    );
    r.register(
        "listener_syn_recv",
        "Half-open (SYN_RECV) connections on the listener",
        l_synrecv,
    );
    r.register(
        "process_sockets",
        "Sockets per process command and state, top processes by socket count",
        p_sockets,
    );
    r.register(
        "finding",
        "Active sockscope findings (1 while pending or firing); see `sockscope explain RULE`",
        finding,
    );
    r.register(
        "kernel_tcp",
        "Kernel TCP counters from /proc/net/netstat (TcpExt) and /proc/net/snmp (Tcp)",
        k_counter,
    );
    r.register(
        "kernel_tcp_level",
        "Kernel TCP levels from /proc/net/snmp (CurrEstab and constants)",
        k_gauge,
    );
    r.register(
        "unattributed_sockets",
        "Sockets owned by a process procfs would not name (permissions)",
        unattributed,
    );
    r.register(
        "ownerless_sockets",
        "Sockets no process owns by design (TIME_WAIT, orphaned request sockets)",
        ownerless,
    );
    r.register(
        "parse_errors",
        "Socket records the collector could not parse",
        parse_errors,
    );
    r.register(
        "snapshot_duration_seconds",
        "Time the latest socket snapshot of this namespace took",
        snap_duration,
    );
    if let Some(n) = netns_unreadable {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(n).unwrap_or(i64::MAX));
        r.register(
            "netns_unreadable",
            "Network namespaces the latest --all-netns sweep found but could not read (a \
             group of processes whose namespace could not be identified counts once)",
            g,
        );
    }
    let mut out = encode(&r);
    out.push_str(&super::proto_metrics::render(
        ticks,
        udp_drops_observed,
        opts,
    ));
    out.push_str(&super::unit_metrics::render(ticks, opts.top_units));
    out.push_str(&super::conntrack_metrics::render(ticks));
    out
}

/// The `--all-netns` sweep's bounds, appended after [`render_fleet_data`]:
/// `sockscope_netns_discovered` and `sockscope_netns_skipped{reason="limit"|"fds"}`, so that
/// collected + skipped + unreadable namespaces add up to the discovered ones.
pub fn render_sweep(discovered: u64, skipped: &[(&'static str, u64)]) -> String {
    let mut r = Registry::with_prefix("sockscope");
    let d = Gauge::<i64>::default();
    d.set(i64::try_from(discovered).unwrap_or(i64::MAX));
    r.register(
        "netns_discovered",
        "Network namespaces the latest --all-netns sweep found (collected, skipped or \
         unreadable)",
        d,
    );
    let mut s = Series::<u64>::gauge();
    for &(reason, n) in skipped {
        s.slot(vec![("reason", reason.to_string())]).set(n);
    }
    r.register(
        "netns_skipped",
        "Network namespaces found but not collected by the latest --all-netns sweep: over \
         --max-netns (limit) or for lack of file descriptors (fds)",
        s,
    );
    encode(&r)
}

/// Renders the per-scrape part: exporter health and build information.
pub fn render_status(status: &Status) -> String {
    let up = Gauge::<i64>::default();
    up.set(i64::from(status.up));
    let errors = Counter::<u64>::default();
    errors.inc_by(status.collect_errors_total);
    let collect = FGauge::default();
    collect.set(status.collect_duration_s);
    let scrape = FGauge::default();
    scrape.set(status.scrape_duration_s);
    let scrapes = Counter::<u64>::default();
    scrapes.inc_by(status.scrapes_total);
    let build = Family::<Labels, Gauge>::default();
    build
        .get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_string())])
        .set(1);

    let mut r = Registry::with_prefix("sockscope");
    r.register(
        "up",
        "1 if the latest collection succeeded, 0 if it failed (older data is served)",
        up,
    );
    r.register("collect_errors", "Collections that failed", errors);
    r.register(
        "collect_duration_seconds",
        "Wall time of the latest collection tick",
        collect,
    );
    r.register(
        "scrape_duration_seconds",
        "Wall time of the previous /metrics scrape",
        scrape,
    );
    r.register("scrapes", "/metrics scrapes served", scrapes);
    let privileged = Gauge::<i64>::default();
    privileged.set(i64::from(status.http_privileged));
    r.register(
        "http_threads_privileged",
        "1 when the threads that parse HTTP could not drop their capabilities (a sandbox \
         forbids capset), 0 when they hold none",
        privileged,
    );
    r.register(
        "build_info",
        "sockscope build information (always 1)",
        build,
    );
    encode(&r)
}

/// Joins the cached data part and the status part into one OpenMetrics exposition.
pub fn assemble(data: &str, status: &str) -> String {
    let mut out = String::with_capacity(data.len() + status.len() + 8);
    out.push_str(data);
    out.push_str(status);
    out.push_str("# EOF\n");
    out
}

/// Converts OpenMetrics text (as [`assemble`] produces it) to the classic Prometheus text
/// format 0.0.4: counter families take their `_total` sample name in HELP/TYPE, `# UNIT`
/// and `# EOF` lines go, and `info` families become gauges.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut counters = Vec::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.strip_suffix(" counter") {
                counters.push(name.to_string());
            }
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let rewritten = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            if counters.iter().any(|c| c == name) {
                Some(format!("{prefix}{name}_total {tail}"))
            } else if *prefix == "# TYPE " && tail == "info" {
                Some(format!("{prefix}{name}_info gauge"))
            } else {
                None
            }
        });
        out.push_str(rewritten.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The most bytes a label value made from a name holds ([`crate::model::Name::label_value`]:
/// escaped, cut with `…`). A comm is at most 15 bytes raw, but escaped `\xNN` quadruples it.
pub const NAME_LABEL_MAX: usize = 64;

/// The short string a finding's subject is labelled with: a command (escaped and capped,
/// with `[pid]` when pid labels are on), a listener or destination `ip:port`, or `host`.
pub fn subject_label(subject: &Subject, pid_labels: bool) -> String {
    match subject {
        Subject::Process { pid, comm, .. } if pid_labels => {
            format!("{}[{pid}]", comm.label_value(NAME_LABEL_MAX))
        }
        Subject::Process { comm, .. } => comm.label_value(NAME_LABEL_MAX).into_owned(),
        Subject::Listener { local, .. } => local.to_string(),
        Subject::Destination { remote } => remote.to_string(),
        Subject::Host => "host".to_string(),
        Subject::Unowned { orphaned: true } => "(orphaned)".to_string(),
        Subject::Unowned { orphaned: false } => "(unnamed)".to_string(),
        // The unit or container, never the pids: a restart keeps the series.
        Subject::Service {
            unit, container, ..
        } => match (container, unit) {
            (Some(c), _) => match &c.name {
                Some(n) => format!("{}:{}", c.runtime.name(), n.label_value(NAME_LABEL_MAX)),
                None => format!("{}:{}", c.runtime.name(), c.short_id()),
            },
            (None, Some(u)) => u.name.label_value(NAME_LABEL_MAX).into_owned(),
            (None, None) => "?".to_string(),
        },
        Subject::Route { source, remote } => format!("{source}->{remote}"),
        Subject::UnixListener { name, inode, .. } => match name {
            Some(crate::model::UnixName::Path(n)) => n.label_value(NAME_LABEL_MAX).into_owned(),
            Some(crate::model::UnixName::Abstract(n)) => {
                format!("@{}", n.label_value(NAME_LABEL_MAX))
            }
            None => format!("inode {inode}"),
        },
    }
}

pub(super) fn labels(netns: &str, rest: &[(&'static str, &str)]) -> Labels {
    let mut v: Labels = Vec::with_capacity(rest.len() + 1);
    v.push(("netns", netns.to_string()));
    v.extend(rest.iter().map(|&(k, val)| (k, val.to_string())));
    v
}

#[allow(clippy::cast_precision_loss)] // microseconds fit f64's 53 bits for 285 years
fn micros_to_seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

/// One metric family whose series keep the order they were first set in (prometheus-client's
/// `Family` iterates a `HashMap`, which would make the exposition's order random).
#[derive(Debug)]
pub(super) struct Series<V> {
    kind: MetricType,
    rows: Vec<(Labels, V)>,
    index: HashMap<Labels, usize>,
}

impl<V: Copy + Default + std::ops::AddAssign> Series<V> {
    pub(super) fn gauge() -> Series<V> {
        Series {
            kind: MetricType::Gauge,
            rows: Vec::new(),
            index: HashMap::new(),
        }
    }

    pub(super) fn counter() -> Series<V> {
        Series {
            kind: MetricType::Counter,
            ..Series::gauge()
        }
    }

    pub(super) fn slot(&mut self, labels: Labels) -> Slot<'_, V> {
        let i = match self.index.get(&labels) {
            Some(&i) => i,
            None => {
                self.rows.push((labels.clone(), V::default()));
                self.index.insert(labels, self.rows.len() - 1);
                self.rows.len() - 1
            }
        };
        Slot(&mut self.rows[i].1)
    }
}

/// The value of one series, being set.
pub(super) struct Slot<'a, V>(&'a mut V);

impl<V: std::ops::AddAssign> Slot<'_, V> {
    pub(super) fn set(self, v: V) {
        *self.0 = v;
    }

    pub(super) fn inc_by(self, v: V) {
        *self.0 += v;
    }
}

impl<V> EncodeMetric for Series<V>
where
    V: EncodeGaugeValue + EncodeCounterValue + std::fmt::Debug + Send + Sync,
{
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, v) in &self.rows {
            let mut e = encoder.encode_family(labels)?;
            match self.kind {
                MetricType::Counter => e.encode_counter::<NoLabelSet, V, u64>(v, None)?,
                _ => e.encode_gauge(v)?,
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        self.kind
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

pub(super) fn encode(r: &Registry) -> String {
    let mut s = String::new();
    // Writing into a String cannot fail; an encoder error would be a bug in a metric's
    // label set, and an empty part is the safest thing to serve then.
    if encode_registry(&mut s, r).is_err() {
        s.clear();
        let _ = writeln!(s, "# sockscope: encoding failed");
    }
    s
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
