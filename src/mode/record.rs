//! `sockscope record`: every tick to a JSON-lines file, flushed each tick, with the
//! kernel's destroy events of each interval when it may read them (CAP_NET_ADMIN).

use std::time::Instant;

use super::churn::EventFeed;
use super::watch::tolerant_collect;
use super::{collect_config, one_namespace, open_collector, thresholds, write_opts, RunError};
use crate::analyze::engine::Analyzer;
use crate::cli::{GlobalArgs, RecordArgs};
use crate::record::{HeaderInfo, RecordError, Recorder};

/// `sockscope record`: one flushed line per tick, so a `kill -9` loses at most the tick
/// being written.
pub fn record(global: &GlobalArgs, args: &RecordArgs) -> Result<(), RunError> {
    one_namespace(global, "record")?;
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.counters = true;
    cfg.sysctls = true;
    cfg.tcp_info = true;
    let (protocols, filter) = (cfg.protocols, cfg.filter.clone());
    let mut collector = open_collector(cfg)?;
    // After the collector: it entered --netns, and the groups joined are this namespace's.
    let mut feed = match EventFeed::open(protocols, &filter) {
        Ok(f) => Some(f),
        Err(why) => {
            eprintln!("sockscope: destroy events off ({why}): ticks carry no `events`");
            None
        }
    };
    let mut analyzer = Analyzer::with_thresholds(thresholds(global)?);
    let netns = global.netns.clone().unwrap_or_else(|| "host".into());
    let interval_ms = u64::try_from(args.interval.as_millis()).unwrap_or(u64::MAX);
    let info = HeaderInfo::detect(&netns, interval_ms, args.sockets);
    let usage = |e: RecordError| RunError::Usage(e.to_string());
    let mut rec = Recorder::create_with(&args.output, &info, &write_opts(global)).map_err(usage)?;
    eprintln!(
        "sockscope: recording to {} every {:?}",
        args.output.display(),
        args.interval
    );
    let started = Instant::now();
    let mut failed = 0;
    loop {
        let tick = Instant::now();
        // The interval's events end where its poll starts (see `churn`).
        let churn = feed.as_mut().and_then(|f| match f.take() {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("sockscope: destroy events off ({e}): later ticks carry no `events`");
                None
            }
        });
        if churn.is_none() {
            feed = None;
        }
        let Some(snap) = tolerant_collect(&mut collector, &mut failed)? else {
            wait(&mut feed, tick + args.interval);
            continue;
        };
        if let Some(f) = feed.as_mut() {
            f.observe(&snap);
        }
        let analysis = analyzer.observe_with_events(&snap, churn);
        rec.append(&snap, &analysis).map_err(usage)?;
        if args
            .duration
            .is_some_and(|d| started.elapsed() + args.interval > d)
        {
            return Ok(());
        }
        wait(&mut feed, tick + args.interval);
    }
}

/// Until `deadline`: reading destroy events as they come, so the kernel's queue never
/// holds more than a moment's worth; or asleep, without events.
fn wait(feed: &mut Option<EventFeed>, deadline: Instant) {
    if let Some(f) = feed.as_mut() {
        match f.read_until(deadline) {
            Ok(()) => return,
            Err(e) => {
                eprintln!("sockscope: destroy events off ({e}): later ticks carry no `events`");
                *feed = None;
            }
        }
    }
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
}
