//! The one-shot modes: collect once (twice for rates), analyze, write a report. No threads.
//! This is the glue between the CLI and the layers; it owns no logic of its own beyond
//! choosing what to collect for what to show.

use std::io::{self, Write};

use crate::analyze::aggregate::{aggregate, Aggregate};
use crate::analyze::engine::check as analyze_check;
use crate::cli::SourceArg;
use crate::cli::{CheckArgs, CheckFormat, ExplainArgs};
use crate::cli::{Format, GlobalArgs, GroupBy, SocketsArgs, SummaryArgs};
use crate::collect::collector::{sweep, CollectConfig, Collector, SourcePref};
use crate::collect::CollectError;
use crate::config::{self, ConfigError, Thresholds};
use crate::filter::Filter;
use crate::model::{Snapshot, SourceKind};
use crate::record::Recording;
use crate::report::check::{self as check_report, CheckSummary};
use crate::report::{self, Grouping, SummaryOpts, SummaryView};
use std::path::Path;

/// Why a one-shot mode failed; `main` maps it to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input detected after parsing (config, namespace, topic): exit 2.
    #[error("{0}")]
    Usage(String),
    /// Collection failed.
    #[error("{0}")]
    Collect(#[from] CollectError),
    /// A signal ended a long-running mode after it cleaned up: exit 128 + the signal.
    #[error("terminated by signal {0}")]
    Signal(i32),
    /// Writing output failed (a closed pipe is not an error: see [`is_broken_pipe`]).
    #[error("writing output: {0}")]
    Output(#[from] io::Error),
}

/// Whether an error is a write into a closed pipe (`| head`), which exits 0.
pub fn is_broken_pipe(e: &RunError) -> bool {
    matches!(e, RunError::Output(io) if io.kind() == io::ErrorKind::BrokenPipe)
}

/// Builds the collector configuration shared by every mode.
pub fn collect_config(global: &GlobalArgs) -> CollectConfig {
    let filter = global.filter.to_filter();
    CollectConfig {
        source: match global.source {
            SourceArg::Auto => SourcePref::Auto,
            SourceArg::Netlink => SourcePref::Netlink,
            SourceArg::Proc => SourcePref::Proc,
        },
        netns: global.netns.clone(),
        netns_label: None,
        attribute: filter.needs_attribution(),
        filter,
        tcp_info: false,
        counters: false,
        sysctls: false,
    }
}

/// Opens a collector, mapping a bad namespace to a usage error and printing any fallback
/// notice on stderr.
pub fn open_collector(cfg: CollectConfig) -> Result<Collector, RunError> {
    let mut c = Collector::open(cfg).map_err(|e| match e {
        CollectError::Netns { .. } => RunError::Usage(e.to_string()),
        other => RunError::Collect(other),
    })?;
    if let Some(n) = c.take_notice() {
        eprintln!("{n}");
    }
    Ok(c)
}

/// Collects one snapshot (or loads `--from-snapshot`), saving it when `--save-snapshot`
/// asks.
pub fn collect_once(global: &GlobalArgs, cfg: CollectConfig) -> Result<Snapshot, RunError> {
    let snap = match &global.from_snapshot {
        Some(path) => load_snapshot(path, &cfg.filter)?,
        None => {
            let mut c = open_collector(cfg)?;
            let snap = c.collect()?;
            if let Some(n) = c.take_notice() {
                eprintln!("{n}");
            }
            snap
        }
    };
    if let Some(path) = &global.save_snapshot {
        let text = serde_json::to_string(&snap).map_err(io::Error::other)?;
        std::fs::write(path, text)
            .map_err(|e| RunError::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(snap)
}

/// Loads a snapshot file and applies the filter, as a collector would have.
fn load_snapshot(path: &Path, filter: &Filter) -> Result<Snapshot, RunError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RunError::Usage(format!("cannot read snapshot {}: {e}", path.display())))?;
    let mut snap: Snapshot = serde_json::from_str(&text).map_err(|e| {
        RunError::Usage(format!(
            "{} is not a sockscope snapshot: {e}",
            path.display()
        ))
    })?;
    let procs = snap.processes.clone();
    snap.sockets.retain(|s| filter.matches(s, &procs));
    snap.source = SourceKind::File;
    Ok(snap)
}

/// `sockscope summary`.
pub fn summary(
    global: &GlobalArgs,
    args: &SummaryArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    let opts = summary_opts(args);
    if global.all_netns {
        return summary_all(global, args, &opts, out);
    }
    let (snap, agg) = match &args.from {
        Some(path) => recorded(global, path, args.at.as_deref())?,
        None => {
            let mut cfg = collect_config(global);
            // Per-state text needs no owners; everything else shows them (a table's footer
            // counts ownerless sockets and notes unattributed ones: unattributed, it said 0).
            cfg.attribute |= args.by != GroupBy::State || args.format != Format::Text;
            // A recorded snapshot already carries its owners: aggregating it costs nothing.
            let full = cfg.attribute || global.from_snapshot.is_some();
            let snap = collect_once(global, cfg)?;
            // The default per-state count is the hot path scripts poll: skip the rest.
            let agg = if full {
                aggregate(&snap)
            } else {
                Aggregate {
                    states: snap.state_counts(),
                    ..Aggregate::default()
                }
            };
            (snap, agg)
        }
    };
    let view = SummaryView {
        snapshot: &snap,
        aggregate: &agg,
    };
    match args.format {
        Format::Text => {
            report::text::write(out, &view, &opts)?;
            // stdout stays parseable; the honesty notes go to stderr.
            report::write_notes(&mut io::stderr(), &snap, &agg)?;
        }
        Format::Table => report::table::write(out, &view, &opts)?,
        Format::Json => report::json::write_summary(out, &view, &opts)?,
    }
    Ok(())
}

fn summary_opts(args: &SummaryArgs) -> SummaryOpts {
    let by = match args.by {
        GroupBy::State => Grouping::State,
        GroupBy::Process => Grouping::Process,
        GroupBy::Listener => Grouping::Listener,
        GroupBy::Remote => Grouping::Remote,
    };
    let top = match (args.format, args.top) {
        (_, Some(0)) | (Format::Json, None) => None,
        (_, Some(n)) => Some(n),
        (_, None) => Some(20),
    };
    SummaryOpts { by, top }
}

/// `summary --all-netns`: one summary per namespace. Text keeps the awk shape with the
/// namespace as a third column (`STATE<TAB>count<TAB>netns`), so `$1`/`$2` parsers still
/// work; tables get a section per namespace; JSON a `namespaces` array. Namespaces that
/// could not be read are listed (stderr, or `unreachable` in JSON), never skipped silently.
fn summary_all(
    global: &GlobalArgs,
    args: &SummaryArgs,
    opts: &SummaryOpts,
    out: &mut impl Write,
) -> Result<(), RunError> {
    if args.from.is_some() {
        return Err(RunError::Usage(
            "--all-netns cannot be combined with --from".into(),
        ));
    }
    let mut cfg = collect_config(global);
    cfg.attribute |= args.by != GroupBy::State || args.format != Format::Text;
    let (per_ns, failures) = sweep(&cfg, 1, std::time::Duration::ZERO);
    let snaps: Vec<Snapshot> = per_ns.into_iter().flatten().collect();
    let aggs: Vec<Aggregate> = snaps.iter().map(aggregate).collect();
    let views: Vec<SummaryView<'_>> = snaps
        .iter()
        .zip(&aggs)
        .map(|(snapshot, aggregate)| SummaryView {
            snapshot,
            aggregate,
        })
        .collect();
    let failures: Vec<(String, String)> =
        failures.into_iter().map(|f| (f.what, f.reason)).collect();
    match args.format {
        Format::Json => report::json::write_summary_all(out, &views, opts, &failures)?,
        Format::Text if opts.by == Grouping::State => {
            for v in &views {
                for (state, n) in v.aggregate.states.ranked() {
                    writeln!(out, "{state}\t{n}\t{}", v.snapshot.netns)?;
                }
            }
        }
        Format::Text | Format::Table => {
            for v in &views {
                writeln!(out, "== netns {} ==", v.snapshot.netns)?;
                if args.format == Format::Table {
                    report::table::write(out, v, opts)?;
                } else {
                    report::text::write(out, v, opts)?;
                }
            }
        }
    }
    if args.format != Format::Json {
        let mut err = io::stderr();
        for (what, why) in &failures {
            writeln!(err, "note: netns {what} not collected: {why}")?;
        }
    }
    Ok(())
}

/// `--at` must fall inside the recording: before its first tick nothing was seen, and more
/// than one interval after its last the recorder was no longer looking.
fn within_recording(spec: &str, t: i64, rec: &Recording) -> Result<(), RunError> {
    let slack = i64::try_from(rec.header().interval_ms).unwrap_or(i64::MAX);
    let (first, last) = (rec.first_ms(), rec.last_ms());
    if t < first || t > last.saturating_add(slack) {
        return Err(RunError::Usage(format!(
            "--at {spec}: {} is outside the recording ({} to {})",
            report::rfc3339(t),
            report::rfc3339(first),
            report::rfc3339(last)
        )));
    }
    Ok(())
}

/// One recorded moment as a snapshot and its aggregate. Filters need the socket list, so
/// they are refused for a recording made without `--sockets`.
fn recorded(
    global: &GlobalArgs,
    path: &Path,
    at: Option<&str>,
) -> Result<(Snapshot, Aggregate), RunError> {
    let usage = |e: crate::record::RecordError| RunError::Usage(e.to_string());
    let rec = Recording::open(path).map_err(usage)?;
    for w in &rec.warnings {
        eprintln!("sockscope: {}: {w}", path.display());
    }
    let t = match at {
        Some(s) => {
            let t = crate::record::parse_time(s, &rec).map_err(usage)?;
            within_recording(s, t, &rec)?;
            t
        }
        None => rec.last_ms(),
    };
    let tick = rec
        .tick_at(t)
        .ok_or_else(|| RunError::Usage(format!("{}: no tick at or before {t}", path.display())))?;
    let mut snap = tick.to_snapshot(&rec.header().netns);
    let filter = global.filter.to_filter();
    if filter == Filter::default() {
        return Ok((snap, tick.aggregate()));
    }
    if !tick.has_sockets() {
        return Err(RunError::Usage(format!(
            "{} was recorded without --sockets: filters need the socket list",
            path.display()
        )));
    }
    let procs = snap.processes.clone();
    snap.sockets.retain(|s| filter.matches(s, &procs));
    let agg = aggregate(&snap);
    Ok((snap, agg))
}

/// `sockscope sockets`.
pub fn sockets(
    global: &GlobalArgs,
    args: &SocketsArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.tcp_info = args.info;
    let snap = collect_once(global, cfg)?;
    let mut list: Vec<&crate::model::SocketRecord> = snap.sockets.iter().collect();
    list.sort_by(|a, b| {
        a.state
            .cmp(&b.state)
            .then(a.local.cmp(&b.local))
            .then(a.remote.cmp(&b.remote))
    });
    match args.format {
        Format::Json => report::json::write_sockets(out, &snap, &list)?,
        Format::Text | Format::Table => {
            report::sockets::write(out, &snap, &list, args.info)?;
            let agg = aggregate(&snap);
            report::write_notes(&mut io::stderr(), &snap, &agg)?;
        }
    }
    Ok(())
}

/// The benchmark floor: one bare sock_diag dump, no attribution, no aggregation beyond a
/// count. Prints the socket count and the dump time in microseconds.
pub fn dump_floor(out: &mut impl Write) -> Result<(), RunError> {
    use crate::collect::{netlink::NetlinkSource, DumpRequest, SocketSource};
    let mut src = NetlinkSource::open()?;
    let t = std::time::Instant::now();
    let dump = src.dump(&DumpRequest::default())?;
    writeln!(out, "{}\t{}us", dump.sockets.len(), t.elapsed().as_micros())?;
    Ok(())
}

/// Loads thresholds: `--config FILE`, else the first file on the default search path, else
/// the defaults; then every `--threshold` override, relations checked once all are set.
pub fn thresholds(global: &GlobalArgs) -> Result<Thresholds, RunError> {
    let usage = |e: ConfigError| RunError::Usage(e.to_string());
    let mut t = match &global.config {
        Some(path) => config::load(path).map_err(usage)?,
        None => config::load_default().map_err(usage)?.0,
    };
    t.apply_overrides(&global.thresholds).map_err(usage)?;
    Ok(t)
}

/// `sockscope check`: two samples `--interval` apart, findings of the second, Nagios exit
/// code. A check that cannot collect prints `SOCKSCOPE UNKNOWN - why` and returns 3.
pub fn check(global: &GlobalArgs, args: &CheckArgs, out: &mut impl Write) -> Result<i32, RunError> {
    let th = thresholds(global)?;
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.counters = true;
    cfg.sysctls = true;
    cfg.tcp_info = true;
    if global.all_netns {
        return check_all(&th, cfg, args, out);
    }
    let samples = match global.from_snapshot {
        Some(_) => collect_once(global, cfg).map(|s| vec![s]),
        None => two_samples(cfg, args.interval),
    };
    let samples = match samples {
        Ok(s) => s,
        Err(RunError::Collect(e)) => {
            writeln!(out, "SOCKSCOPE UNKNOWN - cannot collect sockets: {e}")?;
            return Ok(3);
        }
        Err(e) => return Err(e),
    };
    let findings = analyze_check(&th, &samples);
    let Some(last) = samples.last() else {
        writeln!(out, "SOCKSCOPE UNKNOWN - no sample")?;
        return Ok(3);
    };
    let agg = aggregate(last);
    let summary = CheckSummary {
        states: last.state_counts(),
        netns: last.netns.clone(),
        perfdata: true,
        unattributed: agg.unattributed,
        unattributed_reason: last.attribution.reason.map(|r| r.explain()),
    };
    match args.format {
        CheckFormat::Text => check_report::write_text(out, &findings, &summary)?,
        CheckFormat::Json => check_report::write_json(out, &findings, &summary)?,
    }
    // Both formats: stdout stays one status line or one JSON document, and a monitoring
    // agent's log still shows how many owners are missing and how to fix it.
    report::write_notes(&mut io::stderr(), last, &agg)?;
    Ok(check_report::exit_code(&findings))
}

/// `check --all-netns`: two samples in every namespace at once (one thread each), findings
/// of all of them (each names its namespace), the worst decides the exit code. Namespaces
/// that could not be checked are listed on stderr.
fn check_all(
    th: &Thresholds,
    cfg: CollectConfig,
    args: &CheckArgs,
    out: &mut impl Write,
) -> Result<i32, RunError> {
    let (per_ns, failures) = sweep(&cfg, 2, args.interval);
    if per_ns.is_empty() {
        writeln!(
            out,
            "SOCKSCOPE UNKNOWN - no network namespace could be collected"
        )?;
        return Ok(3);
    }
    let mut findings = Vec::new();
    let mut states = crate::model::StateCounts::default();
    let (mut unattributed, mut unattributed_reason) = (0, None);
    for samples in &per_ns {
        findings.extend(analyze_check(th, samples));
        if let Some(last) = samples.last() {
            let c = last.state_counts();
            for s in crate::model::TcpState::ALL {
                states.0[s.index()] += c.get(s);
            }
            let un = aggregate(last).unattributed;
            if un > 0 {
                unattributed += un;
                let why = last.attribution.reason.map(|r| r.explain());
                // One reason for the sum only when every namespace gives the same one.
                unattributed_reason = match unattributed_reason {
                    None => why,
                    Some(r) if Some(r) == why => Some(r),
                    Some(_) => Some("several causes; summary --all-netns gives each namespace's"),
                };
            }
        }
    }
    let summary = CheckSummary {
        states,
        netns: format!("all ({} namespaces)", per_ns.len()),
        perfdata: true,
        unattributed,
        unattributed_reason,
    };
    match args.format {
        CheckFormat::Text => check_report::write_text(out, &findings, &summary)?,
        CheckFormat::Json => check_report::write_json(out, &findings, &summary)?,
    }
    let mut err = io::stderr();
    for f in &failures {
        writeln!(err, "note: netns {} not checked: {}", f.what, f.reason)?;
    }
    Ok(check_report::exit_code(&findings))
}

fn two_samples(
    cfg: CollectConfig,
    interval: std::time::Duration,
) -> Result<Vec<Snapshot>, RunError> {
    let mut c = open_collector(cfg)?;
    let first = c.collect()?;
    std::thread::sleep(interval);
    let second = c.collect()?;
    if let Some(n) = c.take_notice() {
        eprintln!("{n}");
    }
    Ok(vec![first, second])
}

/// `sockscope explain TOPIC`, with the sysctls of the selected namespace.
pub fn explain(
    global: &GlobalArgs,
    args: &ExplainArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    if let Some(ns) = &global.netns {
        crate::collect::netns::enter(ns).map_err(|e| RunError::Usage(e.to_string()))?;
    }
    let sysctls = crate::collect::sysctl::read_sysctls();
    match crate::explain::explain(&args.topic, Some(&sysctls)) {
        Some(text) => {
            for line in text.lines() {
                writeln!(out, "{}", wrap(line, 78))?;
            }
            Ok(())
        }
        None => Err(RunError::Usage(format!(
            "unknown topic '{}'; valid topics: {}",
            args.topic,
            crate::explain::topics().join(", ")
        ))),
    }
}

/// Wraps one line at `width` columns on spaces, keeping its leading indentation on every
/// continuation line.
pub fn wrap(line: &str, width: usize) -> String {
    let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
    let mut out = String::with_capacity(line.len() + 8);
    let mut col = 0;
    for word in line.split_whitespace() {
        let w = word.chars().count();
        if col == 0 {
            out.push_str(&indent);
            col = indent.chars().count();
        } else if col + 1 + w > width {
            out.push('\n');
            out.push_str(&indent);
            col = indent.chars().count();
        } else {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrap_keeps_indent_and_width() {
        let text = format!("  {}", "word ".repeat(40));
        let wrapped = super::wrap(&text, 30);
        assert!(wrapped
            .lines()
            .all(|l| l.len() <= 30 && l.starts_with("  word")));
        assert_eq!(wrapped.split_whitespace().count(), 40);
        assert_eq!(super::wrap("", 30), "");
    }
}
