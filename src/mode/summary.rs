//! `sockscope summary`: counts per state (the `netstat | awk` lines), per process,
//! listener or remote, live, from a snapshot file, or at a moment of a recording; for TCP
//! (the default) and, with `-u` / `-x`, UDP and UNIX sockets.

use std::io::{self, Write};
use std::path::Path;

use super::select;
use super::snapshot::collect_once;
use super::{collect_config, RunError};
use crate::analyze::aggregate::{aggregate, Aggregate};
use crate::analyze::group_rows::GroupKey;
use crate::analyze::proto_counts::{aggregate_proto, ProtoAggregate};
use crate::cli::{Format, GlobalArgs, GroupBy, SummaryArgs};
use crate::collect::collector::sweep;
use crate::filter::Filter;
use crate::model::{Protocol, Protocols, Snapshot};
use crate::record::Recording;
use crate::report::{self, Grouping, SummaryOpts, SummaryView};

/// The owner grouping `--by unit` / `--by container` asks for.
fn group_key(by: GroupBy) -> Option<GroupKey> {
    match by {
        GroupBy::Unit => Some(GroupKey::Unit),
        GroupBy::Container => Some(GroupKey::Container),
        _ => None,
    }
}

/// `sockscope summary`.
pub fn summary(
    global: &GlobalArgs,
    args: &SummaryArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    let opts = summary_opts(args);
    let protocols = global.protocols();
    select::check_grouping(protocols, args.by)?;
    if let Some(key) = group_key(args.by) {
        return super::summary_groups::summary_groups(global, args, key, opts.top, out);
    }
    if global.all_netns {
        return summary_all(global, args, &opts, out);
    }
    let (snap, agg, others) = match &args.from {
        Some(path) => recorded(global, path, args.at.as_deref())?,
        None => {
            let mut cfg = collect_config(global);
            // Per-state text needs no owners; everything else shows them (a table's footer
            // counts ownerless sockets and notes unattributed ones: unattributed, it said 0).
            cfg.attribute |= args.by != GroupBy::State || args.format != Format::Text;
            // Text per state shows no drops, names or peers: do not make the kernel fill
            // them (UDP's memory info alone costs it as much again). `--path` needs names.
            cfg.lean = !cfg.attribute && cfg.filter.path.is_empty();
            // The table and JSON show the conntrack table beside the socket counts (read
            // with the kernel counters); the script-facing text stays the hot path.
            cfg.counters |= args.format != Format::Text;
            // A recorded snapshot already carries its owners: aggregating it costs nothing.
            let full = cfg.attribute || global.from_snapshot.is_some();
            // Counting needs no socket list: stream when nothing else needs one.
            if let Some((snap, agg)) = super::summary_stream::streamed(global, &cfg, full)? {
                (snap, agg, Vec::new())
            } else {
                let snap = collect_once(global, cfg)?;
                select::require_collected(&snap, protocols, global.from_snapshot.as_deref())?;
                // The default per-state count is the hot path scripts poll: skip the rest.
                let agg = if full && protocols.contains(Protocol::Tcp) {
                    aggregate(&snap)
                } else {
                    Aggregate {
                        states: snap.state_counts(),
                        ..Aggregate::default()
                    }
                };
                let others = others_of(&snap, protocols);
                (snap, agg, others)
            }
        }
    };
    let filter = global.filter.to_filter();
    let other_terms = Filter {
        path: Vec::new(),
        ..filter.clone()
    } != Filter::default();
    select::check_paths(&filter.path, &snap, other_terms)?;
    let view = SummaryView {
        snapshot: &snap,
        aggregate: &agg,
        protocols,
        others: &others,
    };
    let shown: u64 = protocols.iter().map(|p| view.total(p)).sum();
    super::note_empty(global, shown);
    if args.by == GroupBy::Listener
        && protocols == Protocols::TCP
        && agg.listeners.is_empty()
        && agg.states.total() > 0
    {
        // A state filter without LISTEN leaves the sockets but not the listeners they
        // belong to: say why the table is empty instead of printing a bare header.
        eprintln!(
            "sockscope: no LISTEN socket passed the filter, so there is no listener row; add \
             listen to --state (e.g. --state close-wait,listen)"
        );
    }
    match args.format {
        Format::Text => {
            report::text::write(out, &view, &opts)?;
            stderr_notes(&view)?;
        }
        Format::Table => report::table::write(out, &view, &opts)?,
        Format::Json => report::json::write_summary(out, &view, &opts)?,
        Format::Csv => {
            report::csv::write_summary(out, &view, &opts)?;
            stderr_notes(&view)?;
        }
    }
    Ok(())
}

/// The honesty notes of a script-facing format: on stderr, so stdout stays parseable.
fn stderr_notes(view: &SummaryView<'_>) -> io::Result<()> {
    let mut err = io::stderr();
    let snap = view.snapshot;
    if view.protocols.contains(Protocol::Tcp) {
        report::write_notes(&mut err, snap, view.aggregate)?;
    } else {
        report::write_notes(&mut err, snap, &Aggregate::default())?;
    }
    for a in view.others {
        report::proto::write_notes(&mut err, snap, a)?;
    }
    Ok(())
}

pub(super) fn summary_opts(args: &SummaryArgs) -> SummaryOpts {
    let by = match args.by {
        GroupBy::State => Grouping::State,
        GroupBy::Process => Grouping::Process,
        GroupBy::Listener => Grouping::Listener,
        GroupBy::Remote => Grouping::Remote,
        // Written by `summary_groups`, which never reads this.
        GroupBy::Unit | GroupBy::Container => Grouping::Process,
    };
    let top = match (args.format, args.top) {
        (_, Some(0)) | (Format::Json | Format::Csv, None) => None,
        (_, Some(n)) => Some(n),
        (_, None) => Some(20),
    };
    SummaryOpts { by, top }
}

/// `summary --all-netns`: one summary per namespace. Text keeps the awk shape with the
/// namespace as a third column (`STATE<TAB>count<TAB>netns`), so `$1`/`$2` parsers still
/// work; tables get a section per namespace; JSON a `namespaces` array. Namespaces that
/// could not be read are listed (stderr, or `unreachable` in JSON), never skipped silently.
pub(super) fn summary_all(
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
    cfg.counters |= args.format != Format::Text;
    let (per_ns, failures) = sweep(&cfg, 1, std::time::Duration::ZERO);
    let snaps: Vec<Snapshot> = per_ns.into_iter().flatten().collect();
    let protocols = global.protocols();
    for s in &snaps {
        select::require_collected(s, protocols, None)?;
    }
    let aggs: Vec<Aggregate> = snaps.iter().map(aggregate).collect();
    let others: Vec<Vec<ProtoAggregate>> = snaps.iter().map(|s| others_of(s, protocols)).collect();
    let views: Vec<SummaryView<'_>> = snaps
        .iter()
        .zip(&aggs)
        .zip(&others)
        .map(|((snapshot, aggregate), others)| SummaryView {
            snapshot,
            aggregate,
            protocols,
            others,
        })
        .collect();
    let failures: Vec<(String, String)> =
        failures.into_iter().map(|f| (f.what, f.reason)).collect();
    match args.format {
        Format::Json => report::json::write_summary_all(out, &views, opts, &failures)?,
        Format::Csv => report::csv::write_summary_all(out, &views, opts)?,
        Format::Text if opts.by == Grouping::State && protocols == Protocols::TCP => {
            for v in &views {
                let ranked = v.aggregate.states.ranked();
                let shown = opts.top.filter(|&n| n > 0).unwrap_or(ranked.len());
                for (state, n) in ranked.into_iter().take(shown) {
                    writeln!(out, "{state}\t{n}\t{}", v.snapshot.netns)?;
                }
            }
        }
        Format::Text if opts.by == Grouping::State => {
            // The same third column: each line as the one-namespace text prints it.
            for v in &views {
                let mut lines = Vec::new();
                report::text::write(&mut lines, v, opts)?;
                for line in String::from_utf8_lossy(&lines).lines() {
                    writeln!(out, "{line}\t{}", v.snapshot.netns)?;
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
pub(super) fn within_recording(spec: &str, t: i64, rec: &Recording) -> Result<(), RunError> {
    let slack = i64::try_from(rec.header().interval_ms).unwrap_or(i64::MAX);
    let (first, last) = (rec.first_ms(), rec.last_ms());
    if t < first || t > last.saturating_add(slack) {
        return Err(RunError::Usage(format!(
            "--at {spec}: {} is outside the recording ({} to {})",
            crate::record::time::rfc3339(t),
            crate::record::time::rfc3339(first),
            crate::record::time::rfc3339(last)
        )));
    }
    Ok(())
}

/// The UDP and UNIX counts of the shown protocols, in protocol order.
fn others_of(snap: &Snapshot, protocols: Protocols) -> Vec<ProtoAggregate> {
    protocols
        .iter()
        .filter(|p| *p != Protocol::Tcp)
        .map(|p| aggregate_proto(snap, p))
        .collect()
}

/// One recorded moment as a snapshot, its TCP aggregate and the UDP/UNIX counts asked for.
/// Filters need the socket list, so they are refused for a recording made without
/// `--sockets`; a protocol the recording did not collect is refused by name.
pub(super) fn recorded(
    global: &GlobalArgs,
    path: &Path,
    at: Option<&str>,
) -> Result<(Snapshot, Aggregate, Vec<ProtoAggregate>), RunError> {
    let usage = |e: crate::record::RecordError| RunError::Usage(e.to_string());
    let rec = Recording::open(path).map_err(usage)?;
    for w in &rec.warnings {
        // A warning quotes the file (serde names the bad value raw): escape what it holds.
        let line = format!("{}: {w}", path.display());
        eprintln!("sockscope: {}", crate::model::escape_controls(&line));
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
    let protocols = global.protocols();
    if let Some(p) = protocols.iter().find(|p| !tick.protocols.contains(*p)) {
        return Err(RunError::Usage(format!(
            "{}: recorded without {} (the recording has {})",
            path.display(),
            p.flag(),
            tick.protocols
        )));
    }
    let mut snap = tick.to_snapshot(&rec.header().netns);
    let filter = global.filter.to_filter();
    if filter == Filter::default() {
        let others = protocols
            .iter()
            .filter(|p| *p != Protocol::Tcp)
            .map(|p| tick.proto_aggregate(p))
            .collect();
        return Ok((snap, tick.aggregate(), others));
    }
    if !tick.has_sockets() {
        return Err(RunError::Usage(format!(
            "{} was recorded without --sockets: filters need the socket list",
            path.display()
        )));
    }
    let procs = snap.processes.clone();
    snap.sockets.retain(|s| filter.matches(s, &procs));
    snap.udp.retain(|s| filter.matches(s, &procs));
    snap.unix.retain(|s| filter.matches_unix(s, &procs));
    let agg = aggregate(&snap);
    let others = others_of(&snap, protocols);
    Ok((snap, agg, others))
}
