//! Script-friendly text. `--by state` prints exactly what the classic
//! `netstat -n | awk '/^tcp/{++state[$NF]} …'` one-liner prints: one `STATE<TAB>count` line
//! per non-zero state, netstat spellings, most frequent first. Other groupings are
//! tab-separated with a header line; `--by process` rows add up to the total (see
//! [`crate::analyze::process_rows`]: rows with pid `-` are not processes).

use std::io::{self, Write};

use super::{truncate, Grouping, SummaryOpts, SummaryView};
use crate::analyze::process_rows;
use crate::model::TcpState;

/// Writes the text summary.
pub fn write(out: &mut impl Write, view: &SummaryView<'_>, opts: &SummaryOpts) -> io::Result<()> {
    let agg = view.aggregate;
    match opts.by {
        Grouping::State => {
            for (state, n) in agg.states.ranked() {
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
                &[
                    "LOCAL",
                    "PID",
                    "COMM",
                    "BACKLOG",
                    "ACCEPT_QUEUE",
                    "SYN_RECV",
                    "TOTAL",
                ],
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
                    "{}\t{pid}\t{comm}\t{}\t{}\t{}\t{}",
                    l.local,
                    l.backlog,
                    l.accept_queue,
                    l.syn_recv(),
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
