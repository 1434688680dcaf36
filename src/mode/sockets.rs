//! `sockscope sockets`: the sockets themselves, like `ss -tanp`, and with `-u` / `-x` like
//! `ss -uanp` / `ss -xanp`.

use std::io::{self, Write};

use super::snapshot::collect_once;
use super::{collect_config, one_namespace, select, RunError};
use crate::analyze::aggregate::{aggregate, Aggregate};
use crate::analyze::proto_counts::aggregate_proto;
use crate::cli::{Format, GlobalArgs, SocketsArgs};
use crate::filter::Filter;
use crate::model::{Protocol, Protocols, Snapshot, SocketRecord, UnixRecord};
use crate::report::json::SocketLists;
use crate::report::{self};

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
    cfg.tcp_info = args.info;
    let snap = collect_once(global, cfg)?;
    select::require_collected(&snap, protocols, global.from_snapshot.as_deref())?;
    let filter = global.filter.to_filter();
    let other_terms = Filter {
        path: Vec::new(),
        ..filter.clone()
    } != Filter::default();
    select::check_paths(&filter.path, &snap, other_terms)?;
    let lists = lists(&snap, protocols);
    let shown: usize = protocols.iter().map(|p| lists.len(p)).sum();
    super::note_empty(global, shown as u64);
    match args.format {
        Format::Json => report::json::write_sockets(out, &snap, &lists)?,
        Format::Text | Format::Table => {
            let several = protocols.iter().count() > 1;
            for (i, p) in protocols.iter().enumerate() {
                if several {
                    if i > 0 {
                        writeln!(out)?;
                    }
                    writeln!(out, "== {p} ==")?;
                }
                match p {
                    Protocol::Tcp => report::sockets::write(out, &snap, &lists.tcp, args.info)?,
                    Protocol::Udp => report::sockets_proto::write_udp(out, &snap, &lists.udp)?,
                    Protocol::Unix => {
                        report::sockets_proto::write_unix(out, &snap, &lists.unix)?;
                    }
                }
            }
            let mut err = io::stderr();
            if protocols.contains(Protocol::Tcp) {
                report::write_notes(&mut err, &snap, &aggregate(&snap))?;
            } else {
                report::write_notes(&mut err, &snap, &Aggregate::default())?;
            }
            for p in protocols.iter().filter(|p| *p != Protocol::Tcp) {
                report::proto::write_notes(&mut err, &snap, &aggregate_proto(&snap, p))?;
            }
        }
    }
    Ok(())
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
    }
}

fn ip_list(v: &[SocketRecord], shown: bool) -> Vec<&SocketRecord> {
    let mut list: Vec<&SocketRecord> = if shown {
        v.iter().collect()
    } else {
        Vec::new()
    };
    list.sort_by(|a, b| {
        a.state
            .cmp(&b.state)
            .then(a.local.cmp(&b.local))
            .then(a.remote.cmp(&b.remote))
    });
    list
}
