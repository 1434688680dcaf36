//! The long-running modes: `watch` and `record` (collect every interval on the calling
//! thread, analyze, write one flushed line), `serve` and the dashboard (the collector lives
//! on one tick thread that owns it, because namespaces are per thread), and `replay`.
//! Intervals are measured from tick start so output does not drift; a tick slower than the
//! interval is followed immediately by the next. Glue only: the work is in `collect`,
//! `analyze` and the presenters.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::analyze::engine::{Analysis, Analyzer};
use crate::cli::{GlobalArgs, RecordArgs, ServeArgs, WatchArgs, WatchFormat};
use crate::collect::collector::{CollectConfig, Collector};
use crate::config::Thresholds;
use crate::model::Snapshot;
use crate::oneshot::{collect_config, open_collector, thresholds, RunError};
use crate::record::{HeaderInfo, RecordError, Recorder};
use crate::report::watch::{write_jsonl, write_text, WatchLine};
use crate::serve::{self, ServeOptions};
use crate::tui::{self, TuiError, TuiOptions};

/// `sockscope watch`: runs until `--count` lines were written or the pipe closes.
pub fn watch(global: &GlobalArgs, args: &WatchArgs, out: &mut impl Write) -> Result<(), RunError> {
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.counters = true;
    cfg.sysctls = true;
    let mut collector = open_collector(cfg)?;
    let mut analyzer = Analyzer::with_thresholds(thresholds(global)?);
    let mut previous = None;
    let mut line_no = 0usize;
    let mut failed = 0;
    loop {
        let started = Instant::now();
        let Some(snap) = tolerant_collect(&mut collector, &mut failed)? else {
            std::thread::sleep(args.interval.saturating_sub(started.elapsed()));
            continue;
        };
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
        std::thread::sleep(args.interval.saturating_sub(started.elapsed()));
    }
}

/// Failed ticks in a row after which `watch` and `record` give up (exit 2).
const MAX_FAILED_TICKS: u32 = 5;

/// One tick's collection for `watch` and `record`: a failed tick is reported on stderr and
/// skipped (no line, nothing recorded: a gap is honest, made-up numbers are not), and only
/// [`MAX_FAILED_TICKS`] failures in a row end the run. Fallback notices go to stderr.
fn tolerant_collect(
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

/// The live dashboard (no subcommand). Like `serve`, the collector lives on the tick
/// thread, and a probe open first turns a bad namespace into a usage error before the
/// terminal switches to the alternate screen. A panic on the collector thread is resumed
/// here once the terminal is restored, so it ends the process as any panic does (101).
pub fn dashboard(global: &GlobalArgs, interval: Duration) -> Result<(), RunError> {
    if !tui::is_tty() {
        return Err(RunError::Usage(TuiError::NotATerminal.to_string()));
    }
    let th = thresholds(global)?;
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.counters = true;
    cfg.sysctls = true;
    cfg.tcp_info = true;
    return_large_frees();
    probe(&cfg)?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(1000);
    let opts = TuiOptions::new(host.trim(), interval_ms);
    if global.all_netns {
        // Unreadable namespaces go to the header, not stderr (the alternate screen is up).
        let mut fleet = NamespaceFleet::new(cfg, th).quiet();
        let result = tui::run_fleet(opts, move || {
            let ticks = fleet.tick();
            let failures = fleet
                .failures()
                .iter()
                .map(|(netns, reason)| tui::NetnsFailure {
                    netns: netns.clone(),
                    reason: reason.clone(),
                })
                .collect();
            Ok((ticks, failures))
        });
        return tui_result(result);
    }
    let result = tui::run(opts, lazy_tick(cfg, th));
    tui_result(result)
}

/// Makes glibc hand every large block (a tick's socket vector is megabytes) back to the
/// kernel when it is freed, for the dashboard's lifetime. By default glibc raises its mmap
/// threshold to the size of the first such block freed (up to 32 MiB) and from then on
/// carves them from its heaps, which shrink only from the top; with the collector thread
/// allocating each tick and the UI thread freeing the previous one, RSS at rest then
/// wandered with the heaps' layout (31 to 45 MB at 20k sockets). A fixed threshold turns
/// that adjustment off: RSS at rest follows the live data (24 to 25 MB), plus one tick's
/// worth while the next is built. Measured in RELIABILITY.md section 4. Not needed for
/// correctness, so a refusal is ignored; other C libraries keep their defaults.
fn return_large_frees() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Blocks above this are mapped on their own and unmapped when freed; 128 KiB is
        // glibc's own starting value.
        const MMAP_THRESHOLD: i32 = 128 * 1024;
        // SAFETY: mallopt only sets a malloc tunable (under malloc's own lock).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        }
    }
}

fn tui_result(result: Result<(), TuiError>) -> Result<(), RunError> {
    result.map_err(tui_error)
}

fn tui_error(e: TuiError) -> RunError {
    match e {
        TuiError::Io(e) => RunError::Output(e),
        TuiError::Signal(sig) => RunError::Signal(sig),
        // A panic on the collector thread is a bug like any other panic: the terminal is
        // restored by now and the panic message printed, so end as a panic does (exit 101),
        // not as a usage error.
        TuiError::Collector(why) => {
            eprintln!("sockscope: dashboard stopped: {why} (a bug: please report it)");
            std::panic::resume_unwind(Box::new(why))
        }
        e => RunError::Usage(e.to_string()),
    }
}

/// Opens (and drops) a collector on a throwaway thread, so configuration errors surface
/// before a long-running mode starts.
fn probe(cfg: &CollectConfig) -> Result<(), RunError> {
    let probe = cfg.clone();
    std::thread::spawn(move || open_collector(probe).map(drop))
        .join()
        .map_err(|_| RunError::Usage("collector probe panicked".into()))?
}

/// `sockscope serve`: the tick thread owns the collector (namespaces are per thread), so it
/// is opened there; a throwaway open on another thread first turns a bad namespace or
/// source into a usage error before the port is bound.
pub fn serve(global: &GlobalArgs, args: &ServeArgs) -> Result<(), RunError> {
    let th = thresholds(global)?;
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.counters = true;
    cfg.sysctls = true;
    probe(&cfg)?;
    let opts = ServeOptions {
        listen: args.listen,
        interval: args.interval,
        top_processes: args.top_processes,
        pid_labels: args.pid_labels,
        ..ServeOptions::default()
    };
    let usage = |e: serve::ServeError| RunError::Usage(e.to_string());
    // Announced only once bound: a bind failure is then the one line on stderr, and the
    // address shown is the real one (`--listen 127.0.0.1:0` picks a port).
    let announce = |h: serve::ServeHandle| {
        eprintln!(
            "sockscope: serving metrics on http://{}/metrics",
            h.local_addr()
        );
        h.join().map_err(usage)
    };
    if global.all_netns {
        let mut fleet = NamespaceFleet::new(cfg, th);
        let tick = move || {
            let ticks = fleet.tick();
            Ok((ticks, fleet.failures().len() as u64))
        };
        return announce(serve::start_fleet(opts, tick).map_err(usage)?);
    }
    let mut tick = lazy_tick(cfg, th);
    let handle = serve::start(opts, move || tick().map(|t| vec![t])).map_err(usage)?;
    announce(handle)
}

/// One collector and analyzer for the dashboard and `serve` ticks, opened on the first call,
/// on the tick thread: namespaces are per thread, so it must not be opened here.
fn lazy_tick(
    cfg: CollectConfig,
    th: Thresholds,
) -> impl FnMut() -> Result<(Snapshot, Analysis), String> {
    let mut state: Option<(Collector, Analyzer)> = None;
    move || {
        if state.is_none() {
            let c = Collector::open(cfg.clone()).map_err(|e| e.to_string())?;
            state = Some((c, Analyzer::with_thresholds(th.clone())));
        }
        let Some((collector, analyzer)) = state.as_mut() else {
            return Err("collector unavailable".into());
        };
        let snap = collector.collect().map_err(|e| e.to_string())?;
        let analysis = analyzer.observe(&snap);
        Ok((snap, analysis))
    }
}

/// `sockscope record`: one flushed line per tick, so a `kill -9` loses at most the tick
/// being written.
pub fn record(global: &GlobalArgs, args: &RecordArgs) -> Result<(), RunError> {
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
    let mut rec = Recorder::create(&args.output, &info).map_err(usage)?;
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

/// `sockscope replay FILE`: the dashboard over a recording, with the recording's host and
/// interval in the header.
pub fn replay(file: &std::path::Path) -> Result<(), RunError> {
    let rec = crate::record::Recording::open(file).map_err(|e| RunError::Usage(e.to_string()))?;
    let h = rec.header();
    let opts = TuiOptions::new(h.host.clone(), h.interval_ms);
    tui::replay(opts, rec).map_err(tui_error)
}

/// A collector and an analyzer per network namespace, kept across ticks for `serve
/// --all-netns` and the `--all-netns` dashboard (all on the one tick thread: collectors
/// re-enter their namespace on each collect). Namespaces are re-discovered every tick; new
/// ones get a collector, vanished ones are dropped, and each one that cannot be entered or
/// collected is listed in [`NamespaceFleet::failures`] for that tick and (unless
/// [`NamespaceFleet::quiet`]) reported on stderr once: never skipped silently.
struct NamespaceFleet {
    cfg: CollectConfig,
    thresholds: Thresholds,
    members: std::collections::BTreeMap<u64, (Collector, Analyzer)>,
    /// One `/proc` scan per tick attributes every member's sockets.
    resolver: crate::collect::procmap::SharedResolver,
    tick: u64,
    reported: std::collections::BTreeSet<String>,
    /// The latest tick's unreadable namespaces: (label or path, why).
    failures: Vec<(String, String)>,
    stderr: bool,
}

impl NamespaceFleet {
    fn new(cfg: CollectConfig, thresholds: Thresholds) -> Self {
        NamespaceFleet {
            cfg,
            thresholds,
            members: Default::default(),
            resolver: Default::default(),
            tick: 0,
            reported: Default::default(),
            failures: Vec::new(),
            stderr: true,
        }
    }

    /// No stderr reports (the dashboard shows [`NamespaceFleet::failures`] instead).
    fn quiet(mut self) -> Self {
        self.stderr = false;
        self
    }

    /// The namespaces the latest [`NamespaceFleet::tick`] could not read, and why.
    fn failures(&self) -> &[(String, String)] {
        &self.failures
    }

    fn report(&mut self, what: &str, why: &str) {
        self.failures.push((what.to_string(), why.to_string()));
        if self.stderr && self.reported.insert(what.to_string()) {
            eprintln!("sockscope: netns {what} not collected: {why}");
        }
    }

    fn tick(&mut self) -> Vec<(crate::model::Snapshot, crate::analyze::engine::Analysis)> {
        self.failures.clear();
        self.tick += 1;
        let (entries, failures) = crate::collect::netns_sweep::discover();
        for f in failures {
            self.report(&f.what, &f.reason);
        }
        let live: std::collections::BTreeSet<u64> = entries.iter().map(|e| e.inode).collect();
        self.members.retain(|inode, _| live.contains(inode));
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            if !self.members.contains_key(&e.inode) {
                let mut c = self.cfg.clone();
                c.netns = Some(e.path.to_string_lossy().into_owned());
                c.netns_label = Some(e.label.clone());
                match Collector::open(c) {
                    Ok(mut col) => {
                        col.share_resolver(&self.resolver);
                        self.members.insert(
                            e.inode,
                            (col, Analyzer::with_thresholds(self.thresholds.clone())),
                        );
                    }
                    Err(err) => {
                        self.report(&e.label, &err.to_string());
                        continue;
                    }
                }
            }
            let collected = self.members.get_mut(&e.inode).map(|(col, an)| {
                col.set_round(self.tick);
                col.collect().map(|snap| {
                    let a = an.observe(&snap);
                    (snap, a)
                })
            });
            match collected {
                Some(Ok(pair)) => out.push(pair),
                Some(Err(err)) => self.report(&e.label, &err.to_string()),
                None => {}
            }
        }
        out
    }
}
