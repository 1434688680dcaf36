//! Streaming modes (`watch`): collect every interval on the calling thread, analyze, write
//! one line, flush. The interval is measured from tick start so lines do not drift; a tick
//! slower than the interval is followed immediately by the next.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::analyze::engine::Analyzer;
use crate::cli::{GlobalArgs, WatchArgs, WatchFormat};
use crate::oneshot::{collect_config, open_collector, RunError};
use crate::report::watch::{write_jsonl, write_text, WatchLine};

/// `sockscope watch`: runs until `--count` lines were written or the pipe closes.
pub fn watch(global: &GlobalArgs, args: &WatchArgs, out: &mut impl Write) -> Result<(), RunError> {
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.counters = true;
    cfg.sysctls = true;
    let mut collector = open_collector(cfg)?;
    let mut analyzer = Analyzer::new();
    let mut previous = None;
    let mut line_no = 0usize;
    loop {
        let started = Instant::now();
        let snap = collector.collect()?;
        if let Some(n) = collector.take_notice() {
            eprintln!("{n}");
        }
        let analysis = analyzer.observe(&snap);
        let states = analysis.aggregate.states;
        let line = WatchLine {
            snapshot: &snap,
            states,
            previous,
            alerts: &analysis.alerts,
            line_no,
        };
        match args.format {
            WatchFormat::Text => write_text(out, &line)?,
            WatchFormat::Jsonl => write_jsonl(out, &line)?,
        }
        out.flush()?;
        previous = Some(states);
        line_no += 1;
        if args.count.is_some_and(|n| line_no as u64 >= n) {
            return Ok(());
        }
        std::thread::sleep(
            args.interval
                .saturating_sub(started.elapsed())
                .max(Duration::ZERO),
        );
    }
}
