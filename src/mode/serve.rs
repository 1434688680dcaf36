//! `sockscope serve`: the Prometheus endpoint, fed by a tick thread that owns the collector.

use std::path::Path;

use super::churn::EventFeed;
use super::fleet::NamespaceFleet;
use super::snapshot::load_snapshot;
use super::{collect_config, probe, thresholds, RunError};
use crate::analyze::engine::{Analysis, Analyzer};
use crate::cli::{GlobalArgs, ServeArgs};
use crate::collect::collector::{CollectConfig, Collector};
use crate::config::web;
use crate::config::Thresholds;
use crate::filter::Filter;
use crate::model::{Protocol, Protocols, Snapshot};
use crate::serve::tls::Web;
use crate::serve::{self as metrics, ServeOptions};

/// `sockscope serve`: the tick thread owns the collector (namespaces are per thread), so it
/// is opened there; a throwaway open on another thread first turns a bad namespace or
/// source into a usage error before the port is bound.
pub fn serve(global: &GlobalArgs, args: &ServeArgs) -> Result<(), RunError> {
    let th = thresholds(global)?;
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.counters = true;
    cfg.sysctls = true;
    if global.from_snapshot.is_none() {
        probe(&cfg)?;
    }
    // Read before the port is bound: a bad file is one line and exit 2, never a half-open
    // endpoint.
    let web = match &args.web_config {
        Some(path) => {
            let cfg = web::load(path).map_err(|e| RunError::Usage(e.to_string()))?;
            let web = Web::build(&cfg, path).map_err(|e| RunError::Usage(e.to_string()))?;
            Some(std::sync::Arc::new(web))
        }
        None => None,
    };
    let scheme = if web.as_ref().is_some_and(|w| w.is_tls()) {
        "https"
    } else {
        "http"
    };
    let opts = ServeOptions {
        listen: args.listen,
        interval: args.interval,
        top_processes: args.top_processes,
        pid_labels: args.pid_labels,
        top_units: args.top_units,
        web,
        ..ServeOptions::default()
    };
    let usage = |e: metrics::ServeError| RunError::Usage(e.to_string());
    // Announced only once bound: a bind failure is then the one line on stderr, and the
    // address shown is the real one (`--listen 127.0.0.1:0` picks a port).
    let announce = |h: metrics::ServeHandle| {
        eprintln!(
            "sockscope: serving metrics on {scheme}://{}/metrics",
            h.local_addr()
        );
        metrics::drop_caller_capabilities();
        h.join().map_err(usage)
    };
    if let Some(path) = global.from_snapshot.clone() {
        if global.all_netns {
            return Err(RunError::Usage(
                "--from-snapshot serves one recorded namespace; drop --all-netns".into(),
            ));
        }
        // Read once now so a bad file is a usage error before the port is bound, then on
        // every tick, so a test (or a bug report) can change it under a running server.
        load_for(&path, &cfg.filter, cfg.protocols)?;
        let mut analyzer = Analyzer::with_thresholds(th);
        let tick = move || {
            let snap = load_for(&path, &cfg.filter, cfg.protocols).map_err(|e| e.to_string())?;
            let analysis = analyzer.observe(&snap);
            Ok(vec![(snap, analysis)])
        };
        eprintln!("{}", events_off("a recorded snapshot has none"));
        return announce(metrics::start(opts, tick).map_err(usage)?);
    }
    if global.all_netns {
        eprintln!("{}", events_off("not read with --all-netns"));
        // The endpoint's connections and the namespaces share one descriptor limit.
        crate::collect::netns_budget::reserve_elsewhere(metrics::http_fd_budget(opts.max_pending));
        let mut fleet = NamespaceFleet::new(cfg, th);
        let tick = move || {
            let ticks = fleet.tick();
            let skipped = fleet.skipped();
            let counts = metrics::SweepCounts {
                discovered: fleet.discovered(),
                unreadable: fleet.failures().len() as u64,
                skipped_limit: skipped.limit,
                skipped_fds: skipped.fds,
            };
            Ok((ticks, counts))
        };
        return announce(metrics::start_fleet(opts, tick).map_err(usage)?);
    }
    let mut tick = events_tick(cfg, th);
    let handle = metrics::start(opts, move || tick().map(|t| vec![t])).map_err(usage)?;
    announce(handle)
}

/// The one-line notice that destroy events are not exported, and why.
fn events_off(why: &str) -> String {
    format!("sockscope: destroy events off ({why}): sockscope_socket_events_up is 0")
}

/// `serve`'s tick for one namespace: a collector and analyzer opened on the first call (on
/// the tick thread: namespaces are per thread), and the kernel's destroy events, whose groups are joined on the first call (after the collector
/// entered the namespace; the tick thread holds CAP_NET_ADMIN for that first tick only).
/// Events queue in the kernel between ticks and are read right before each poll: the
/// receive buffer ([`crate::collect::events::DEFAULT_RCVBUF`]) holds about 20,000 per
/// interval; beyond that they are counted lost, never silently missing.
fn events_tick(
    cfg: CollectConfig,
    th: Thresholds,
) -> impl FnMut() -> Result<(Snapshot, Analysis), String> {
    let mut state: Option<(Collector, Analyzer)> = None;
    let mut feed: Option<EventFeed> = None;
    let mut joined = false;
    move || {
        if state.is_none() {
            let c = Collector::open(cfg.clone()).map_err(|e| e.to_string())?;
            state = Some((c, Analyzer::with_thresholds(th.clone())));
        }
        if !std::mem::replace(&mut joined, true) {
            match EventFeed::open(cfg.protocols, &cfg.filter) {
                Ok(f) => {
                    eprintln!(
                        "sockscope: reading destroy events; receive buffer {} KiB",
                        f.rcvbuf() / 1024
                    );
                    feed = Some(f);
                }
                Err(why) => eprintln!("{}", events_off(&why)),
            }
        }
        let Some((collector, analyzer)) = state.as_mut() else {
            return Err("collector unavailable".into());
        };
        let churn = match feed.as_mut().map(EventFeed::take) {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                eprintln!("{}", events_off(&e.to_string()));
                feed = None;
                None
            }
            None => None,
        };
        let snap = collector.collect();
        if let Some(n) = collector.take_notice() {
            eprintln!("{n}");
        }
        let snap = snap.map_err(|e| e.to_string())?;
        if let Some(f) = feed.as_mut() {
            f.observe(&snap);
        }
        let analysis = analyzer.observe_with_events(&snap, churn);
        Ok((snap, analysis))
    }
}

/// A `--from-snapshot` file as `watch` and `serve` tick on it: loaded and filtered as
/// [`load_snapshot`] does, then cut to the protocols `-t/-u/-x` ask for, as a collector
/// would have collected them (a file saved with `-tux` served without flags is TCP alone).
pub(super) fn load_for(
    path: &Path,
    filter: &Filter,
    asked: Protocols,
) -> Result<Snapshot, RunError> {
    let mut snap = load_snapshot(path, filter)?;
    keep_protocols(&mut snap, asked);
    Ok(snap)
}

fn keep_protocols(snap: &mut Snapshot, asked: Protocols) {
    let mut kept = Protocols::NONE;
    for p in snap.protocols.iter().filter(|&p| asked.contains(p)) {
        kept.insert(p);
    }
    if !kept.contains(Protocol::Tcp) {
        snap.sockets.clear();
    }
    if !kept.contains(Protocol::Udp) {
        snap.udp.clear();
    }
    if !kept.contains(Protocol::Unix) {
        snap.unix.clear();
    }
    snap.protocols = kept;
}
