//! `sockscope sockets`: the sockets themselves, like `ss -tanp`, and with `-u` / `-x` like
//! `ss -uanp` / `ss -xanp`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;

use super::snapshot::collect_once;
use super::{collect_config, one_namespace, select, RunError};
use crate::analyze::ages::ages_from_snapshot;
use crate::analyze::aggregate::{aggregate, Aggregate};
use crate::analyze::proto_counts::aggregate_proto;
use crate::cli::{Format, GlobalArgs, SocketSort, SocketsArgs};
use crate::collect::fdnum::socket_fds;
use crate::filter::Filter;
use crate::model::{
    Owner, Protocol, Protocols, Snapshot, SocketRecord, TcpState, TimerKind, UnixRecord,
};
use crate::report::json::SocketLists;
use crate::report::sockets::{one_shot_age, ListOpts, RowExtra};
use crate::report::{self, json_proto};

/// `sockscope sockets`.
pub fn sockets(
    global: &GlobalArgs,
    args: &SocketsArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    one_namespace(global, "sockets")?;
    let protocols = global.protocols();
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    // CLOSE_WAIT's Age is tcp_info's last receive: ask for it (about 20% on the dump)
    // unless -i wants it anyway or the state filter leaves no CLOSE_WAIT to date.
    cfg.tcp_info = args.info
        || cfg
            .filter
            .states
            .is_none_or(|s| s.contains(TcpState::CloseWait));
    let snap = collect_once(global, cfg)?;
    if args.sort.is_some()
        && !protocols.contains(Protocol::Tcp)
        && !protocols.contains(Protocol::Udp)
    {
        return Err(RunError::Usage(
            "--sort orders TCP and UDP sockets; UNIX sockets (-x alone) keep ss's order \
             (--top still applies)"
                .into(),
        ));
    }
    select::require_collected(&snap, protocols, global.from_snapshot.as_deref())?;
    let filter = global.filter.to_filter();
    let other_terms = Filter {
        path: Vec::new(),
        ..filter.clone()
    } != Filter::default();
    select::check_paths(&filter.path, &snap, other_terms)?;
    let mut lists = lists(&snap, protocols);
    let shown: usize = protocols.iter().map(|p| lists.len(p)).sum();
    super::note_empty(global, shown as u64);
    // A recorded snapshot's pids are not this host's: its fds stay unknown.
    lists.fds = if args.fd && global.from_snapshot.is_none() {
        let pids: BTreeSet<u32> = (lists.tcp.iter().chain(&lists.udp))
            .map(|s| s.owner)
            .chain(lists.unix.iter().map(|u| u.owner))
            .filter_map(Owner::pid)
            .collect();
        Some(socket_fds(Path::new("/proc"), pids))
    } else {
        None
    };
    // Ages are index-aligned with snap.sockets: pair them before the list is reordered.
    let ages = ages_from_snapshot(&snap);
    let mut tcp: Vec<(&SocketRecord, RowExtra)> = snap
        .sockets
        .iter()
        .zip(ages)
        .filter(|_| protocols.contains(Protocol::Tcp))
        .map(|(s, age)| {
            let fd = json_proto::fd_of(lists.fds.as_ref(), s.owner, s.inode);
            let age = one_shot_age(s, age);
            (s, RowExtra { age, fd })
        })
        .collect();
    tcp.sort_by(|a, b| ss_order(a.0, b.0));
    let more = sort_and_cut(&snap, &mut tcp, &mut lists, args.sort, args.top);
    (lists.tcp, lists.tcp_extra) = tcp.into_iter().unzip();
    match args.format {
        Format::Json => report::json::write_sockets(out, &snap, &lists)?,
        Format::Csv => {
            report::csv::write_sockets(out, &snap, &lists)?;
            stderr_notes(&snap, protocols)?;
        }
        Format::Text | Format::Table => {
            let several = protocols.iter().count() > 1;
            for (i, p) in protocols.iter().enumerate() {
                if several {
                    if i > 0 {
                        writeln!(out)?;
                    }
                    writeln!(out, "== {p} ==")?;
                }
                let opts = ListOpts {
                    info: args.info,
                    fd: args.fd,
                    groups: args.groups,
                };
                match p {
                    Protocol::Tcp => {
                        let extra = &lists.tcp_extra;
                        report::sockets::write(out, &snap, &lists.tcp, extra, opts)?;
                    }
                    Protocol::Udp => {
                        report::sockets_proto::write_udp(
                            out,
                            &snap,
                            &lists.udp,
                            lists.fds.as_ref(),
                        )?;
                    }
                    Protocol::Unix => {
                        report::sockets_proto::write_unix(
                            out,
                            &snap,
                            &lists.unix,
                            lists.fds.as_ref(),
                        )?;
                    }
                }
                if let Some(n) = more.get(&p).filter(|n| **n > 0) {
                    writeln!(out, "({n} more; --top 0 shows all)")?;
                }
            }
            stderr_notes(&snap, protocols)?;
        }
    }
    Ok(())
}

/// The notes beside the list, on stderr so stdout stays parseable.
fn stderr_notes(snap: &Snapshot, protocols: Protocols) -> io::Result<()> {
    let mut err = io::stderr();
    if protocols.contains(Protocol::Tcp) {
        report::write_notes(&mut err, snap, &aggregate(snap))?;
    } else {
        report::write_notes(&mut err, snap, &Aggregate::default())?;
    }
    for p in protocols.iter().filter(|p| *p != Protocol::Tcp) {
        report::proto::write_notes(&mut err, snap, &aggregate_proto(snap, p))?;
    }
    Ok(())
}

/// Orders the TCP rows and the UDP list by `sort` (numbers and ages largest first, text A
/// to Z, unknown last; ties keep ss's order) and keeps the first `top` of every protocol.
/// Returns how many each protocol left out.
fn sort_and_cut<'a>(
    snap: &Snapshot,
    tcp: &mut Vec<(&'a SocketRecord, RowExtra)>,
    lists: &mut SocketLists<'a>,
    sort: Option<SocketSort>,
    top: Option<usize>,
) -> BTreeMap<Protocol, usize> {
    if let Some(col) = sort {
        let comm = |s: &SocketRecord| {
            s.owner
                .pid()
                .and_then(|p| snap.processes.get(&p))
                .map(|p| p.comm.to_string())
        };
        let key = |s: &SocketRecord, e: &RowExtra| -> (Option<u64>, Option<String>) {
            match col {
                SocketSort::State => (None, None),
                SocketSort::Local => (None, Some(String::new())),
                SocketSort::Peer => (None, Some(String::new())),
                SocketSort::Process => (None, comm(s)),
                SocketSort::RecvQ => (Some(u64::from(s.recv_q)), None),
                SocketSort::SendQ => (Some(u64::from(s.send_q)), None),
                SocketSort::Timer => (
                    (s.timer != TimerKind::Off).then_some(u64::from(s.expires_ms)),
                    None,
                ),
                SocketSort::Age => (e.age.map(|a| u64::from(a.secs)), None),
            }
        };
        let order = |a: (&SocketRecord, &RowExtra), b: (&SocketRecord, &RowExtra)| {
            match col {
                SocketSort::State => a.0.state.cmp(&b.0.state),
                SocketSort::Local => a.0.local.cmp(&b.0.local),
                SocketSort::Peer => a.0.remote.cmp(&b.0.remote),
                _ => {
                    let (ka, kb) = (key(a.0, a.1), key(b.0, b.1));
                    match (ka, kb) {
                        ((Some(x), _), (Some(y), _)) => y.cmp(&x),
                        ((Some(_), _), (None, _)) => std::cmp::Ordering::Less,
                        ((None, _), (Some(_), _)) => std::cmp::Ordering::Greater,
                        ((None, x), (None, y)) => match (x, y) {
                            (Some(x), Some(y)) => x.cmp(&y),
                            (Some(_), None) => std::cmp::Ordering::Less,
                            (None, Some(_)) => std::cmp::Ordering::Greater,
                            (None, None) => std::cmp::Ordering::Equal,
                        },
                    }
                }
            }
            .then_with(|| a.0.owner.pid().cmp(&b.0.owner.pid()))
        };
        tcp.sort_by(|a, b| order((a.0, &a.1), (b.0, &b.1)));
        let none = RowExtra::default();
        lists.udp.sort_by(|a, b| order((a, &none), (b, &none)));
    }
    let mut more = BTreeMap::new();
    if let Some(n) = top.filter(|&n| n > 0) {
        more.insert(Protocol::Tcp, tcp.len().saturating_sub(n));
        more.insert(Protocol::Udp, lists.udp.len().saturating_sub(n));
        more.insert(Protocol::Unix, lists.unix.len().saturating_sub(n));
        tcp.truncate(n);
        lists.udp.truncate(n);
        lists.unix.truncate(n);
    }
    more
}

/// The shown protocols' sockets, sorted as ss sorts them closely enough to read: TCP and
/// UDP by state, local then peer endpoint; UNIX by type, state, name, then inode.
fn lists(snap: &Snapshot, protocols: Protocols) -> SocketLists<'_> {
    let mut unix: Vec<&UnixRecord> = if protocols.contains(Protocol::Unix) {
        snap.unix.iter().collect()
    } else {
        Vec::new()
    };
    unix.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then(a.state.cmp(&b.state))
            .then(a.name.cmp(&b.name))
            .then(a.inode.cmp(&b.inode))
    });
    SocketLists {
        protocols,
        tcp: ip_list(&snap.sockets, protocols.contains(Protocol::Tcp)),
        udp: ip_list(&snap.udp, protocols.contains(Protocol::Udp)),
        unix,
        tcp_extra: Vec::new(),
        fds: None,
    }
}

fn ip_list(v: &[SocketRecord], shown: bool) -> Vec<&SocketRecord> {
    let mut list: Vec<&SocketRecord> = if shown {
        v.iter().collect()
    } else {
        Vec::new()
    };
    list.sort_by(|a, b| ss_order(a, b));
    list
}

/// ss's order, closely enough to read: state, then local, then peer endpoint.
fn ss_order(a: &SocketRecord, b: &SocketRecord) -> std::cmp::Ordering {
    a.state
        .cmp(&b.state)
        .then(a.local.cmp(&b.local))
        .then(a.remote.cmp(&b.remote))
}
