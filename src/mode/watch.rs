//! `sockscope watch`: one line per interval, text or JSON lines, like vmstat.

use std::io::Write;
use std::time::Instant;

use super::serve::load_for;
use super::{collect_config, one_namespace, open_collector, thresholds, RunError};
use crate::analyze::engine::Analyzer;
use crate::analyze::proto_counts::{aggregate_proto, ProtoAggregate};
use crate::cli::{GlobalArgs, WatchArgs, WatchFormat};
use crate::collect::collector::Collector;
use crate::model::{Protocol, Snapshot};
use crate::report::watch::{write_jsonl, write_text, ProtoLine, WatchLine};

/// `sockscope watch`: runs until `--count` lines were written or the pipe closes.
pub fn watch(global: &GlobalArgs, args: &WatchArgs, out: &mut impl Write) -> Result<(), RunError> {
    if args.events {
        return super::events::watch_events(global, args, out);
    }
    one_namespace(global, "watch")?;
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    // tcp_info dates a CLOSE_WAIT from before sockscope started (its last receive): without
    // it `watch` counted ages from its own start and called a three-hour leak new.
    cfg.tcp_info = true;
    cfg.counters = true;
    cfg.sysctls = true;
    // --from-snapshot: the file is read on every tick (a test can change it in between).
    let mut collector = match &global.from_snapshot {
        Some(path) => {
            load_for(path, &cfg.filter, cfg.protocols)?;
            None
        }
        None => Some(open_collector(cfg.clone())?),
    };
    let mut analyzer = Analyzer::with_thresholds(thresholds(global)?);
    let mut previous = None;
    let mut previous_snap: Option<Snapshot> = None;
    let mut previous_proto: [Option<ProtoAggregate>; 2] = [None, None];
    let mut line_no = 0usize;
    let mut failed = 0;
    loop {
        let started = Instant::now();
        let snap = match (&mut collector, &global.from_snapshot) {
            (Some(c), _) => tolerant_collect(c, &mut failed)?,
            (None, Some(path)) => Some(load_for(path, &cfg.filter, cfg.protocols)?),
            (None, None) => None,
        };
        let Some(snap) = snap else {
            std::thread::sleep(args.interval.saturating_sub(started.elapsed()));
            continue;
        };
        let analysis = analyzer.observe(&snap);
        let states = analysis.aggregate.states;
        let proto = [Protocol::Udp, Protocol::Unix].map(|p| {
            snap.protocols
                .contains(p)
                .then(|| aggregate_proto(&snap, p))
        });
        let proto_line = |i: usize| {
            proto[i].as_ref().map(|now| ProtoLine {
                now,
                previous: previous_proto[i].as_ref(),
            })
        };
        let line = WatchLine {
            snapshot: &snap,
            states,
            previous,
            alerts: &analysis.alerts,
            line_no,
            previous_snapshot: previous_snap.as_ref(),
            udp: proto_line(0),
            unix: proto_line(1),
        };
        match args.format {
            WatchFormat::Text => write_text(out, &line)?,
            WatchFormat::Jsonl => write_jsonl(out, &line)?,
        }
        out.flush()?;
        previous = Some(states);
        previous_proto = proto;
        // Only UDP reads the previous snapshot (drops in the interval); a TCP run keeps none.
        previous_snap = snap.protocols.contains(Protocol::Udp).then_some(snap);
        line_no += 1;
        if args.count.is_some_and(|n| line_no as u64 >= n) {
            return Ok(());
        }
        std::thread::sleep(args.interval.saturating_sub(started.elapsed()));
    }
}

/// Failed ticks in a row after which `watch` and `record` give up (exit 2).
pub(super) const MAX_FAILED_TICKS: u32 = 5;

/// One tick's collection for `watch` and `record`: a failed tick is reported on stderr and
/// skipped (no line, nothing recorded: a gap is honest, made-up numbers are not), and only
/// [`MAX_FAILED_TICKS`] failures in a row end the run. Fallback notices go to stderr.
pub(super) fn tolerant_collect(
    collector: &mut Collector,
    failed: &mut u32,
) -> Result<Option<Snapshot>, RunError> {
    let result = collector.collect();
    if let Some(n) = collector.take_notice() {
        eprintln!("{n}");
    }
    match result {
        Ok(snap) => {
            *failed = 0;
            Ok(Some(snap))
        }
        Err(e) => {
            *failed += 1;
            if *failed >= MAX_FAILED_TICKS {
                return Err(RunError::Collect(e));
            }
            eprintln!("sockscope: tick skipped ({failed} in a row): {e}");
            Ok(None)
        }
    }
}
