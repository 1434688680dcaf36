//! `sockscope record`: every tick to a JSON-lines file, flushed each tick.

use std::time::Instant;

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
    let mut collector = open_collector(cfg)?;
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
        let Some(snap) = tolerant_collect(&mut collector, &mut failed)? else {
            std::thread::sleep(args.interval.saturating_sub(tick.elapsed()));
            continue;
        };
        let analysis = analyzer.observe(&snap);
        rec.append(&snap, &analysis).map_err(usage)?;
        if args
            .duration
            .is_some_and(|d| started.elapsed() + args.interval > d)
        {
            return Ok(());
        }
        std::thread::sleep(args.interval.saturating_sub(tick.elapsed()));
    }
}
