//! Script-friendly text. `--by state` prints exactly what the classic
//! `netstat -n | awk '/^tcp/{++state[$NF]} …'` one-liner prints: one `STATE<TAB>count` line
//! per non-zero state, netstat spellings, most frequent first. Other groupings are
//! tab-separated with a header line; `--by process` rows add up to the total (see
//! [`crate::analyze::process_rows`]: rows with pid `-` are not processes).
//!
//! UDP and UNIX (`-u`, `-x`) keep the same shapes with their states spelled as `ss` spells
//! them (`UNCONN`, `ESTAB`, `LISTEN`). When more than one protocol is shown, every line
//! starts with the protocol and a tab (`udp<TAB>UNCONN<TAB>12`), so `$1` tells them apart;
//! TCP alone prints exactly what it always printed.

use std::io::{self, Write};

use super::proto::{self, state_columns};
use super::{truncate, Grouping, SummaryOpts, SummaryView};
use crate::analyze::process_rows;
use crate::analyze::proto_counts::ProtoAggregate;
use crate::model::{Protocol, Snapshot, StateCounts, TcpState};

/// Writes the text summary.
pub fn write(out: &mut impl Write, view: &SummaryView<'_>, opts: &SummaryOpts) -> io::Result<()> {
    if view.tcp_only() {
        return write_tcp(out, view, opts);
    }
    for p in view.protocols.iter() {
        let mut section = Vec::new();
        match view.other(p) {
            Some(agg) => write_proto(&mut section, view.snapshot, agg, opts)?,
            None => write_tcp(&mut section, view, opts)?,
        }
        if !view.several() {
            out.write_all(&section)?;
            continue;
        }
        for line in section.split_inclusive(|&b| b == b'\n') {
            write!(out, "{p}\t")?;
            out.write_all(line)?;
        }
    }
    Ok(())
}

/// One UDP or UNIX section. `--by listener` exists for UNIX only and `--by remote` for TCP
/// only; the mode refuses the other combinations before collecting.
fn write_proto(
    out: &mut impl Write,
    snap: &Snapshot,
    agg: &ProtoAggregate,
    opts: &SummaryOpts,
) -> io::Result<()> {
    let p = agg.protocol;
    match opts.by {
        Grouping::State | Grouping::Remote => {
            for &(state, n) in truncate(&agg.states.ranked(), opts.top) {
                writeln!(out, "{}\t{n}", p.state_name(state))?;
            }
        }
        Grouping::Process => {
            let rows = proto::rows(snap, agg, opts.top);
            let cols = state_columns(p, &agg.states);
            let mut head = vec!["PID", "COMM", "USER", "TOTAL"];
            head.extend(cols.iter().map(|s| p.state_name(*s)));
            if p == Protocol::Udp {
                head.push("DROPS");
            }
            head.push("RECV_Q");
            writeln!(out, "{}", head.join("\t"))?;
            for r in rows {
                write!(
                    out,
                    "{}\t{}\t{}\t{}",
                    r.pid_text(),
                    r.comm,
                    r.user,
                    r.states.total()
                )?;
                write_cols(out, &r.states, &cols)?;
                if p == Protocol::Udp {
                    write!(out, "\t{}", r.drops)?;
                }
                if super::proto::recv_q_known(snap, p) {
                    writeln!(out, "\t{}", r.recv_q)?;
                } else {
                    writeln!(out, "\t-")?;
                }
            }
        }
        Grouping::Listener => {
            writeln!(out, "NAME\tTYPE\tINODE\tPID\tCOMM\tPENDING\tBACKLOG")?;
            let dash = || "-".to_string();
            for l in truncate(&agg.unix_listeners, opts.top) {
                // Escaped (UnixName's and Name's Display): a tab or newline in a path or a
                // comm cannot add a column or a row.
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    l.name
                        .as_ref()
                        .map_or_else(|| "*".into(), ToString::to_string),
                    l.kind.ss_name(),
                    l.inode,
                    l.pid.map_or_else(dash, |p| p.to_string()),
                    l.comm.as_ref().map_or_else(dash, ToString::to_string),
                    l.pending.map_or_else(dash, |n| n.to_string()),
                    l.backlog.map_or_else(dash, |n| n.to_string()),
                )?;
            }
        }
    }
    Ok(())
}

fn write_cols(out: &mut impl Write, states: &StateCounts, cols: &[TcpState]) -> io::Result<()> {
    for s in cols {
        write!(out, "\t{}", states.get(*s))?;
    }
    Ok(())
}

/// The TCP summary, as it always was.
fn write_tcp(out: &mut impl Write, view: &SummaryView<'_>, opts: &SummaryOpts) -> io::Result<()> {
    let agg = view.aggregate;
    match opts.by {
        Grouping::State => {
            for &(state, n) in truncate(&agg.states.ranked(), opts.top) {
                writeln!(out, "{state}\t{n}")?;
            }
        }
        Grouping::Process => {
            write_header(out, &["PID", "COMM", "USER", "TOTAL"])?;
            for r in process_rows::rows(view.snapshot, view.aggregate, opts.top) {
                write!(
                    out,
                    "{}\t{}\t{}\t{}",
                    r.pid_text(),
                    r.comm,
                    r.user,
                    r.states.total()
                )?;
                write_states(out, &r.states)?;
            }
        }
        Grouping::Listener => {
            write_header(
                out,
                &["LOCAL", "PID", "COMM", "BACKLOG", "ACCEPT_QUEUE", "TOTAL"],
            )?;
            for l in truncate(&agg.listeners, opts.top) {
                let pid = l.pid.map_or("-".to_string(), |p| p.to_string());
                // Escaped (Name's Display): a tab or newline in a comm cannot add a column or
                // a row.
                let comm = l
                    .comm
                    .as_ref()
                    .map_or_else(|| "-".into(), ToString::to_string);
                write!(
                    out,
                    "{}\t{pid}\t{comm}\t{}\t{}\t{}",
                    l.local,
                    l.backlog,
                    l.accept_queue,
                    l.states.total()
                )?;
                write_states(out, &l.states)?;
            }
        }
        Grouping::Remote => {
            write_header(out, &["REMOTE", "TOTAL"])?;
            for r in truncate(&agg.remotes, opts.top) {
                write!(out, "{}\t{}", r.ip, r.states.total())?;
                write_states(out, &r.states)?;
            }
        }
    }
    Ok(())
}

fn write_header(out: &mut impl Write, cols: &[&str]) -> io::Result<()> {
    write!(out, "{}", cols.join("\t"))?;
    for s in TcpState::ALL {
        write!(out, "\t{s}")?;
    }
    writeln!(out)
}

fn write_states(out: &mut impl Write, states: &crate::model::StateCounts) -> io::Result<()> {
    for s in TcpState::ALL {
        write!(out, "\t{}", states.get(s))?;
    }
    writeln!(out)
}
