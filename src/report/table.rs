//! Aligned, human-readable tables for `summary --format table`. State columns show only the
//! states that occur among the rows, so a process table stays narrow.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::proto::{self, state_columns};
use super::{truncate, write_notes, Grouping, SummaryOpts, SummaryView};
use crate::analyze::process_rows;
use crate::analyze::proto_counts::ProtoAggregate;
use crate::model::{Protocol, Snapshot, StateCounts, TcpState};

/// A table of cells; the first row is the header. Numeric-looking cells align right.
///
/// Cells are terminal text: a name goes in as its escaped form (`Name`'s `Display`), never
/// its raw bytes. Widths count terminal columns, so a wide (CJK) name keeps the columns
/// right of it aligned.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with this header.
    pub fn new(header: Vec<String>) -> Table {
        Table { rows: vec![header] }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Writes the table with two spaces between columns.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let ncols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..ncols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                let w = widths[c];
                let numeric = !cell.is_empty()
                    && cell
                        .chars()
                        .all(|ch| ch.is_ascii_digit() || ch == '.' || ch == '%');
                if c > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(w.saturating_sub(cell.width()));
                if numeric {
                    line.push_str(&pad);
                    line.push_str(cell);
                } else if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

fn used_states<'a>(rows: impl Iterator<Item = &'a StateCounts>) -> Vec<TcpState> {
    let mut any = StateCounts::default();
    for r in rows {
        for s in TcpState::ALL {
            any.0[s.index()] += r.get(s);
        }
    }
    TcpState::ALL
        .into_iter()
        .filter(|s| any.get(*s) > 0)
        .collect()
}

fn with_states(mut head: Vec<String>, states: &[TcpState]) -> Vec<String> {
    head.extend(states.iter().map(|s| s.netstat_name().to_string()));
    head
}

fn state_cells<'a>(
    counts: &'a StateCounts,
    states: &'a [TcpState],
) -> impl Iterator<Item = String> + 'a {
    states.iter().map(move |s| counts.get(*s).to_string())
}

/// Writes the table summary followed by its notes. TCP alone is the table it always was;
/// with `-u`/`-x` each protocol gets its own table (under a `== udp ==` line when several
/// are shown), then one footer and the notes.
pub fn write(out: &mut impl Write, view: &SummaryView<'_>, opts: &SummaryOpts) -> io::Result<()> {
    if view.tcp_only() {
        return write_tcp(out, view, opts);
    }
    let snap = view.snapshot;
    for p in view.protocols.iter() {
        if view.several() {
            writeln!(out, "== {p} ==")?;
        }
        match view.other(p) {
            Some(agg) => write_proto(out, snap, agg, opts)?,
            None => tcp_table(out, view, opts)?,
        }
    }
    let counts: Vec<String> = view
        .protocols
        .iter()
        .map(|p| format!("{p} {}", view.total(p)))
        .collect();
    write!(
        out,
        "source: {}  netns: {}  sockets: {}",
        snap.source.name(),
        snap.netns,
        counts.join(", ")
    )?;
    if view.protocols.contains(Protocol::Tcp) {
        write!(out, "  ownerless: {}", view.aggregate.ownerless)?;
    }
    writeln!(out)?;
    super::conntrack::write_line(out, snap)?;
    if view.protocols.contains(Protocol::Tcp) {
        write_notes(out, snap, view.aggregate)?;
    } else {
        // Parse errors and an inconsistent sample concern every protocol.
        write_notes(out, snap, &crate::analyze::aggregate::Aggregate::default())?;
    }
    for agg in view.others {
        proto::write_notes(out, snap, agg)?;
    }
    Ok(())
}

/// A UDP or UNIX table.
fn write_proto(
    out: &mut impl Write,
    snap: &Snapshot,
    agg: &ProtoAggregate,
    opts: &SummaryOpts,
) -> io::Result<()> {
    let p = agg.protocol;
    let head = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (table, all) = match opts.by {
        Grouping::State | Grouping::Remote => {
            let total = agg.total();
            let mut t = Table::new(head(&["STATE", "COUNT", "%"]));
            let ranked = agg.states.ranked();
            for &(s, n) in truncate(&ranked, opts.top) {
                let pct = 100.0 * n as f64 / total.max(1) as f64;
                t.push(vec![
                    p.state_name(s).to_string(),
                    n.to_string(),
                    format!("{pct:.1}"),
                ]);
            }
            t.push(vec!["TOTAL".into(), total.to_string()]);
            (t, Some(ranked.len()))
        }
        Grouping::Process => {
            let rows = proto::rows(snap, agg, opts.top);
            let cols = state_columns(p, &agg.states);
            let mut h = head(&["PID", "COMM", "USER", "TOTAL"]);
            h.extend(cols.iter().map(|s| p.state_name(*s).to_string()));
            if p == Protocol::Udp {
                h.push("DROPS".into());
            }
            h.push("RECV-Q".into());
            let mut t = Table::new(h);
            for r in &rows {
                let mut cells = vec![
                    r.pid_text(),
                    r.comm.to_string(),
                    r.user.to_string(),
                    r.states.total().to_string(),
                ];
                cells.extend(cols.iter().map(|s| r.states.get(*s).to_string()));
                if p == Protocol::Udp {
                    cells.push(r.drops.to_string());
                }
                cells.push(if super::proto::recv_q_known(snap, p) {
                    r.recv_q.to_string()
                } else {
                    "-".into()
                });
                t.push(cells);
            }
            let mut cells = vec![
                "TOTAL".into(),
                String::new(),
                String::new(),
                agg.total().to_string(),
            ];
            cells.extend(cols.iter().map(|s| agg.states.get(*s).to_string()));
            if p == Protocol::Udp {
                cells.push(agg.drops.to_string());
            }
            t.push(cells);
            (t, Some(agg.processes.len()))
        }
        Grouping::Listener => {
            let dash = || "-".to_string();
            let mut t = Table::new(head(&[
                "NAME", "TYPE", "INODE", "PID", "COMM", "PENDING", "BACKLOG",
            ]));
            for l in truncate(&agg.unix_listeners, opts.top) {
                t.push(vec![
                    l.name
                        .as_ref()
                        .map_or_else(|| "*".into(), ToString::to_string),
                    l.kind.ss_name().into(),
                    l.inode.to_string(),
                    l.pid.map_or_else(dash, |n| n.to_string()),
                    l.comm.as_ref().map_or_else(dash, ToString::to_string),
                    l.pending.map_or_else(dash, |n| n.to_string()),
                    l.backlog.map_or_else(dash, |n| n.to_string()),
                ]);
            }
            (t, Some(agg.unix_listeners.len()))
        }
    };
    table.write(out)?;
    if p == Protocol::Unix && matches!(opts.by, Grouping::State | Grouping::Remote) {
        let k = agg.unix_kinds;
        writeln!(out, "types: u_str {}  u_dgr {}  u_seq {}", k[0], k[1], k[2])?;
    }
    more_line(out, all, opts.top)
}

fn more_line(out: &mut impl Write, all: Option<usize>, top: Option<usize>) -> io::Result<()> {
    if let (Some(all), Some(top)) = (all, top) {
        if top > 0 && all > top {
            writeln!(out, "({} more; --top 0 shows all)", all - top)?;
        }
    }
    Ok(())
}

/// The TCP table, footer and notes, as they always were.
fn write_tcp(out: &mut impl Write, view: &SummaryView<'_>, opts: &SummaryOpts) -> io::Result<()> {
    tcp_table(out, view, opts)?;
    let (snap, agg) = (view.snapshot, view.aggregate);
    writeln!(
        out,
        "source: {}  netns: {}  sockets: {}  ownerless: {}",
        snap.source.name(),
        snap.netns,
        agg.states.total(),
        agg.ownerless
    )?;
    super::conntrack::write_line(out, snap)?;
    write_notes(out, snap, agg)
}

/// The TCP table and its `(N more)` line.
fn tcp_table(out: &mut impl Write, view: &SummaryView<'_>, opts: &SummaryOpts) -> io::Result<()> {
    let agg = view.aggregate;
    let head = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let table = match opts.by {
        Grouping::State => {
            let total = agg.states.total();
            let mut t = Table::new(head(&["STATE", "COUNT", "%"]));
            for &(s, n) in truncate(&agg.states.ranked(), opts.top) {
                let pct = if total > 0 {
                    100.0 * n as f64 / total as f64
                } else {
                    0.0
                };
                t.push(vec![s.to_string(), n.to_string(), format!("{pct:.1}")]);
            }
            t.push(vec!["TOTAL".into(), total.to_string()]);
            t
        }
        Grouping::Process => {
            let rows = process_rows::rows(view.snapshot, view.aggregate, opts.top);
            let states = used_states(rows.iter().map(|r| &r.states));
            let mut t = Table::new(with_states(
                head(&["PID", "COMM", "USER", "TOTAL"]),
                &states,
            ));
            for p in &rows {
                let mut r = vec![
                    p.pid_text(),
                    p.comm.to_string(),
                    p.user.to_string(),
                    p.states.total().to_string(),
                ];
                r.extend(state_cells(&p.states, &states));
                t.push(r);
            }
            // The rows add up to this line, state by state.
            let mut r = vec![
                "TOTAL".into(),
                String::new(),
                String::new(),
                agg.states.total().to_string(),
            ];
            r.extend(state_cells(&agg.states, &states));
            t.push(r);
            t
        }
        Grouping::Listener => {
            let rows = truncate(&agg.listeners, opts.top);
            let states = used_states(rows.iter().map(|r| &r.states));
            let states: Vec<TcpState> = states
                .into_iter()
                .filter(|s| *s != TcpState::Listen && *s != TcpState::SynRecv)
                .collect();
            let mut t = Table::new(with_states(
                head(&["LOCAL", "PID", "COMM", "BACKLOG", "ACCEPTQ", "SYN_RECV"]),
                &states,
            ));
            for l in rows {
                let mut r = vec![
                    l.local.to_string(),
                    l.pid.map_or("-".into(), |p| p.to_string()),
                    l.comm
                        .as_ref()
                        .map_or_else(|| "-".into(), ToString::to_string),
                    l.backlog.to_string(),
                    l.accept_queue.to_string(),
                    l.syn_recv().to_string(),
                ];
                r.extend(state_cells(&l.states, &states));
                t.push(r);
            }
            t
        }
        Grouping::Remote => {
            let rows = truncate(&agg.remotes, opts.top);
            let states = used_states(rows.iter().map(|r| &r.states));
            let mut t = Table::new(with_states(head(&["REMOTE", "TOTAL"]), &states));
            for rr in rows {
                let mut r = vec![rr.ip.to_string(), rr.states.total().to_string()];
                r.extend(state_cells(&rr.states, &states));
                t.push(r);
            }
            t
        }
    };
    table.write(out)?;
    let shown = match opts.by {
        Grouping::State => Some(agg.states.ranked().len()),
        Grouping::Process => Some(agg.processes.len()),
        Grouping::Listener => Some(agg.listeners.len()),
        Grouping::Remote => Some(agg.remotes.len()),
    };
    more_line(out, shown, opts.top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Name;

    #[test]
    fn wide_names_keep_the_columns_right_of_them_aligned() {
        let mut t = Table::new(vec!["COMM".into(), "USER".into(), "TOTAL".into()]);
        for comm in ["漢字漢字漢", "abcdefghij", "\x1b[7m"] {
            t.push(vec![
                Name::from(comm).to_string(),
                "root".into(),
                "1".into(),
            ]);
        }
        let mut out = Vec::new();
        t.write(&mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        let cols: Vec<usize> = text
            .lines()
            .map(|l| {
                let at = l
                    .find("root")
                    .or_else(|| l.find("USER"))
                    .expect("user column");
                l[..at].width()
            })
            .collect();
        assert!(cols.windows(2).all(|w| w[0] == w[1]), "{text}");
        assert!(text.contains("\\e[7m"), "{text}");
    }
}
