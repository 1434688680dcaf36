//! `--format csv` for `summary` (every `--by`) and `sockets`: a header row, then one
//! record per line, RFC 4180 quoting through the `csv` crate. It owns only the column
//! choice and the writing; the rows come from the same analysis the table and JSON use
//! (`process_rows`, `proto::rows`, `group_rows`), and it never touches the kernel.
//!
//! Summaries are long ("tidy"): one record per group × state with a non-zero count, so
//! every grouping and protocol shares one header shape (`protocol`, the group's columns,
//! `state`, `count`) and summing `count` per group gives its total. Names other users
//! chose (comm, user, unit, container, UNIX paths) go out as their escaped, terminal-safe
//! text ([`crate::model::Name`]'s `Display`), never raw bytes: read JSON for exact bytes.
//! A cell a spreadsheet would take for a formula (`=`, `+`, `-`, `@` first) is prefixed
//! with `'` (`defuse`).

use std::borrow::Cow;
use std::io::{self, Write};

use super::groups::GroupView;
use super::json::SocketLists;
use super::json_proto::fd_of;
use super::proto;
use super::sockets::RowExtra;
use super::{truncate, Grouping, SummaryOpts, SummaryView};
use crate::analyze::process_rows;
use crate::model::{Owner, Protocol, Snapshot, SocketRecord, StateCounts, TcpState, TimerKind};

/// A CSV writer over `out` whose errors come back as `io::Error` (a closed pipe stays
/// `BrokenPipe`, so `| head` exits 0).
struct Csv<W: Write> {
    w: ::csv::Writer<W>,
}

fn io_err(e: ::csv::Error) -> io::Error {
    match e.into_kind() {
        ::csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

impl<W: Write> Csv<W> {
    fn new(out: W) -> Csv<W> {
        Csv {
            // LF, not RFC 4180's CRLF: the lines go to awk, cut and sort first; every CSV
            // reader takes either.
            w: ::csv::Writer::from_writer(out),
        }
    }

    fn row<I, S>(&mut self, cells: I) -> io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.w
            .write_record(cells.into_iter().map(|c| defuse(c.as_ref()).into_owned()))
            .map_err(io_err)
    }

    fn finish(mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// A cell a spreadsheet would evaluate as a formula (it starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return) gets a leading `'`, OWASP's advice against CSV injection: a
/// comm is set freely with `prctl`, and an abstract UNIX name always starts with `@`.
/// A plain number (`-1`) is left alone: evaluated, it is itself.
fn defuse(cell: &[u8]) -> Cow<'_, [u8]> {
    let risky = matches!(
        cell.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    let number =
        std::str::from_utf8(cell).is_ok_and(|t| t.parse::<f64>().is_ok_and(f64::is_finite));
    // A lone `-` (no value) is no formula.
    if risky && !number && cell != b"-" {
        let mut v = Vec::with_capacity(cell.len() + 1);
        v.push(b'\'');
        v.extend_from_slice(cell);
        Cow::Owned(v)
    } else {
        Cow::Borrowed(cell)
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The header of a summary grouping (without the `netns` column `--all-netns` adds).
fn summary_header(by: Grouping) -> &'static [&'static str] {
    match by {
        Grouping::State => &["protocol", "state", "count"],
        Grouping::Process => &["protocol", "pid", "comm", "user", "state", "count"],
        Grouping::Listener => &[
            "protocol", "local", "type", "pid", "comm", "backlog", "queued", "syn_recv",
        ],
        Grouping::Remote => &["protocol", "remote", "state", "count"],
    }
}

/// One record per non-zero state of `counts`: `prefix`, then the state, then the count.
fn state_records(p: Protocol, prefix: &[String], counts: &StateCounts) -> Vec<Vec<String>> {
    TcpState::ALL
        .into_iter()
        .filter(|s| counts.get(*s) > 0)
        .map(|s| {
            let mut r = Vec::with_capacity(prefix.len() + 3);
            r.push(p.name().to_string());
            r.extend(prefix.iter().cloned());
            r.push(p.state_name(s).to_string());
            r.push(counts.get(s).to_string());
            r
        })
        .collect()
}

/// The records of one summary view, in protocol order.
fn summary_records(view: &SummaryView<'_>, opts: &SummaryOpts) -> Vec<Vec<String>> {
    let snap = view.snapshot;
    let mut out = Vec::new();
    for p in view.protocols.iter() {
        let other = view.other(p);
        match (opts.by, other) {
            (Grouping::State, _) => {
                let ranked = match other {
                    Some(a) => a.states.ranked(),
                    None => view.aggregate.states.ranked(),
                };
                for &(s, n) in truncate(&ranked, opts.top) {
                    out.push(vec![p.name().into(), p.state_name(s).into(), n.to_string()]);
                }
            }
            (Grouping::Process, None) => {
                for r in process_rows::rows(snap, view.aggregate, opts.top) {
                    let prefix = [opt(r.pid), r.comm.to_string(), r.user.to_string()];
                    out.extend(state_records(p, &prefix, &r.states));
                }
            }
            (Grouping::Process, Some(agg)) => {
                for r in proto::rows(snap, agg, opts.top) {
                    let prefix = [opt(r.pid), r.comm.to_string(), r.user.to_string()];
                    out.extend(state_records(p, &prefix, &r.states));
                }
            }
            (Grouping::Listener, None) => {
                for l in truncate(&view.aggregate.listeners, opts.top) {
                    out.push(vec![
                        p.name().into(),
                        l.local.to_string(),
                        "stream".into(),
                        opt(l.pid),
                        opt(l.comm.as_ref()),
                        l.backlog.to_string(),
                        l.accept_queue.to_string(),
                        l.syn_recv().to_string(),
                    ]);
                }
            }
            (Grouping::Listener, Some(agg)) => {
                for l in truncate(&agg.unix_listeners, opts.top) {
                    out.push(vec![
                        p.name().into(),
                        opt(l.name.as_ref()),
                        l.kind.name().into(),
                        opt(l.pid),
                        opt(l.comm.as_ref()),
                        opt(l.backlog),
                        opt(l.pending),
                        String::new(),
                    ]);
                }
            }
            (Grouping::Remote, None) => {
                for r in truncate(&view.aggregate.remotes, opts.top) {
                    out.extend(state_records(p, &[r.ip.to_string()], &r.states));
                }
            }
            // `select::check_grouping` refuses --by remote with -u/-x.
            (Grouping::Remote, Some(agg)) => {
                out.extend(state_records(p, &[String::new()], &agg.states));
            }
        }
    }
    out
}

/// Writes a summary as CSV (see the module docs for the columns of each grouping).
pub fn write_summary(
    out: &mut impl Write,
    view: &SummaryView<'_>,
    opts: &SummaryOpts,
) -> io::Result<()> {
    let mut w = Csv::new(out);
    w.row(summary_header(opts.by))?;
    for r in summary_records(view, opts) {
        w.row(&r)?;
    }
    w.finish()
}

/// Writes the `--all-netns` summaries as one CSV: the same columns after a leading
/// `netns`.
pub fn write_summary_all(
    out: &mut impl Write,
    views: &[SummaryView<'_>],
    opts: &SummaryOpts,
) -> io::Result<()> {
    let mut w = Csv::new(out);
    let mut head = vec!["netns"];
    head.extend(summary_header(opts.by));
    w.row(&head)?;
    for v in views {
        for r in summary_records(v, opts) {
            w.row(std::iter::once(v.snapshot.netns.as_str()).chain(r.iter().map(String::as_str)))?;
        }
    }
    w.finish()
}

/// Writes `summary --by unit|container` as CSV: `protocol`, the group's label, its pids
/// (space-separated), `state` (TCP only: UDP and UNIX are counted per group, not per
/// state, so their state is empty) and `count`. The `(no unit)` / `(no process)` rows keep
/// the sums equal to the socket total.
pub fn write_groups(out: &mut impl Write, view: &GroupView<'_>) -> io::Result<()> {
    let (rows, key, protocols) = (view.shown(), view.key, view.protocols);
    let mut w = Csv::new(out);
    w.row(["protocol", key.word(), "pids", "state", "count"])?;
    for p in protocols.iter() {
        for r in &rows {
            let label = r.row.label(key);
            let pids: Vec<String> = r.pids.iter().map(u32::to_string).collect();
            let prefix = [label, pids.join(" ")];
            match p {
                Protocol::Tcp => {
                    for rec in state_records(p, &prefix, &r.tcp) {
                        w.row(&rec)?;
                    }
                }
                Protocol::Udp | Protocol::Unix => {
                    let n = if p == Protocol::Udp { r.udp } else { r.unix };
                    if n > 0 {
                        let (label, pids) = (&prefix[0], &prefix[1]);
                        w.row([p.name(), label, pids, "", &n.to_string()])?;
                    }
                }
            }
        }
    }
    w.finish()
}

/// The `sockets --format csv` columns, the same for every protocol.
pub const SOCKET_HEADER: [&str; 19] = [
    "protocol",
    "netid",
    "state",
    "recv_q",
    "send_q",
    "local",
    "peer",
    "inode",
    "owner",
    "pid",
    "comm",
    "fd",
    "unit",
    "container",
    "timer",
    "timer_ms",
    "retransmits",
    "age_s",
    "age_is_lower_bound",
];

/// The `owner` column: how the socket's owner is known.
fn owner_kind(o: Owner) -> &'static str {
    match o {
        Owner::Process(_) => "process",
        Owner::ViaListener(_) => "listener",
        Owner::Ownerless => "ownerless",
        Owner::Unattributed => "unattributed",
        Owner::Unresolved => "unresolved",
    }
}

/// comm, unit and container of a socket's owning process (empty when none).
fn owner_cells(snap: &Snapshot, o: Owner) -> [String; 3] {
    let Some(p) = o.pid().and_then(|pid| snap.processes.get(&pid)) else {
        return Default::default();
    };
    [
        p.comm.to_string(),
        opt(p.unit.as_ref().map(crate::model::Unit::label)),
        opt(p.container.as_ref().map(crate::model::Container::label)),
    ]
}

/// Writes the socket list as CSV: one record per socket, TCP then UDP then UNIX, with the
/// columns of [`SOCKET_HEADER`]. Unknown values are empty. For UNIX, `local` is the bound
/// name (escaped; `@` for abstract), `peer` the peer's inode.
pub fn write_sockets(
    out: &mut impl Write,
    snap: &Snapshot,
    rows: &SocketLists<'_>,
) -> io::Result<()> {
    let mut w = Csv::new(out);
    w.row(SOCKET_HEADER)?;
    let fd = |o: Owner, inode: u64| opt(fd_of(rows.fds.as_ref(), o, inode));
    let ip = |p: Protocol, s: &SocketRecord, extra: RowExtra| -> Vec<String> {
        let [comm, unit, container] = owner_cells(snap, s.owner);
        let (timer, timer_ms, retrans) = match s.timer {
            TimerKind::Off => (String::new(), String::new(), String::new()),
            t => (
                t.name().to_string(),
                s.expires_ms.to_string(),
                s.retransmits.to_string(),
            ),
        };
        vec![
            p.name().into(),
            p.name().into(),
            p.state_name(s.state).into(),
            s.recv_q.to_string(),
            s.send_q.to_string(),
            s.local.to_string(),
            s.remote.to_string(),
            s.inode.to_string(),
            owner_kind(s.owner).into(),
            opt(s.owner.pid()),
            comm,
            extra
                .fd
                .map_or_else(|| fd(s.owner, s.inode), |f| f.to_string()),
            unit,
            container,
            timer,
            timer_ms,
            retrans,
            opt(extra.age.map(|a| a.secs)),
            opt(extra.age.map(|a| a.lower_bound)),
        ]
    };
    for (i, s) in rows.tcp.iter().enumerate() {
        let extra = rows.tcp_extra.get(i).copied().unwrap_or_default();
        w.row(ip(Protocol::Tcp, s, extra))?;
    }
    for s in &rows.udp {
        w.row(ip(Protocol::Udp, s, RowExtra::default()))?;
    }
    for s in &rows.unix {
        let [comm, unit, container] = owner_cells(snap, s.owner);
        w.row([
            Protocol::Unix.name().into(),
            s.kind.ss_name().into(),
            Protocol::Unix.state_name(s.state).into(),
            opt(s.recv_q),
            opt(s.send_q),
            opt(s.name.as_ref()),
            opt(s.peer_inode),
            s.inode.to_string(),
            owner_kind(s.owner).into(),
            opt(s.owner.pid()),
            comm,
            fd(s.owner, s.inode),
            unit,
            container,
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ])?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::aggregate::aggregate;
    use crate::model::fixtures::{snapshot, sock};
    use crate::model::{Owner, Protocols};

    fn parse(bytes: &[u8]) -> Vec<Vec<String>> {
        ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|r| r.expect("record").iter().map(String::from).collect())
            .collect()
    }

    #[test]
    fn formula_cells_are_defused_and_numbers_kept() {
        let d = |s: &str| String::from_utf8(defuse(s.as_bytes()).into_owned()).unwrap();
        assert_eq!(d("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(d("+cmd"), "'+cmd");
        assert_eq!(d("-2+3"), "'-2+3");
        assert_eq!(d("@abstract"), "'@abstract");
        assert_eq!(d("\tx"), "'\tx");
        assert_eq!(d("-1"), "-1");
        assert_eq!(d("+1.5"), "+1.5");
        assert_eq!(d("-inf"), "'-inf");
        assert_eq!(d("nginx"), "nginx");
        assert_eq!(d("'quoted"), "'quoted");
        assert_eq!(d(""), "");
        assert_eq!(d("-"), "-");
    }

    #[test]
    fn a_hostile_comm_is_one_escaped_quoted_field_and_rows_add_up() {
        let mut snap = snapshot(vec![
            sock(
                TcpState::CloseWait,
                "10.0.0.1:80",
                "10.0.0.2:1",
                Owner::Process(42),
            ),
            sock(
                TcpState::CloseWait,
                "10.0.0.1:80",
                "10.0.0.2:2",
                Owner::Process(42),
            ),
            sock(
                TcpState::TimeWait,
                "10.0.0.1:81",
                "10.0.0.2:3",
                Owner::Ownerless,
            ),
        ]);
        if let Some(p) = snap.processes.get_mut(&42) {
            p.comm = crate::model::Name::from(&b"a,\"b\"\n\x1b[2J"[..]);
        }
        let agg = aggregate(&snap);
        let view = SummaryView {
            snapshot: &snap,
            aggregate: &agg,
            protocols: Protocols::TCP,
            others: &[],
        };
        let opts = SummaryOpts {
            by: Grouping::Process,
            top: None,
        };
        let mut out = Vec::new();
        write_summary(&mut out, &view, &opts).expect("write");
        assert!(!out.iter().any(|&b| b < 0x20 && b != b'\n'), "{out:?}");
        let rows = parse(&out);
        assert_eq!(
            rows[0],
            ["protocol", "pid", "comm", "user", "state", "count"]
        );
        assert_eq!(
            rows[1],
            ["tcp", "42", r#"a,"b"\n\e[2J"#, "app", "CLOSE_WAIT", "2"]
        );
        assert_eq!(rows[2][2], "(ownerless)");
        let sum: u64 = rows[1..]
            .iter()
            .map(|r| r[5].parse::<u64>().expect("n"))
            .sum();
        assert_eq!(sum, 3);
        assert!(String::from_utf8_lossy(&out).contains(r#""a,""b""\n\e[2J""#));
    }
}
