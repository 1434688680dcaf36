//! Versioned JSON for scripts: `summary --format json` and `sockets --format json`. The
//! structs here are the schema (documented in the README); they are built from analysis
//! results and never serialised from internal types directly.
//!
//! Version 2 (UDP and UNIX) is additive: a document gains `protocols` (what it covers) and
//! `totals` (sockets per protocol), and `udp` / `unix` objects or lists when `-u` / `-x`
//! asked for them. The TCP fields stay where version 1 had them, present whenever TCP is
//! shown (always, without `-u`/`-x`); with `-u` or `-x` alone they are left out rather than
//! reported as zero sockets.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::json_proto::{self, ProtoSummaryJson, UdpJson, UnixJson};
use super::{truncate, SummaryOpts, SummaryView};
use crate::analyze::process_rows::{self, RowKind};
use crate::analyze::proto_counts::ProtoAggregate;
use crate::model::{
    Name, Owner, Protocol, Protocols, Snapshot, SocketRecord, StateCounts, TcpState, UnixRecord,
};
use crate::record::time::rfc3339;

/// The schema version of the JSON documents whose shape did not change with UDP and UNIX
/// (`watch` lines).
pub const SCHEMA_VERSION: u32 = 1;

/// The schema version of the `summary` and `sockets` documents: 2 since UDP and UNIX
/// (additive to 1; see the module docs).
pub const SUMMARY_SCHEMA_VERSION: u32 = 2;

/// All eleven states by netstat name, zeros included, in kernel order.
pub struct StatesJson(pub StateCounts);

impl Serialize for StatesJson {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(TcpState::ALL.len()))?;
        for s in TcpState::ALL {
            m.serialize_entry(s.netstat_name(), &self.0.get(s))?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    schema_version: u32,
    source: &'a str,
    taken_at: String,
    netns: &'a str,
}

impl<'a> Header<'a> {
    fn of(snap: &'a Snapshot) -> Header<'a> {
        Header {
            schema_version: SUMMARY_SCHEMA_VERSION,
            source: snap.source.name(),
            taken_at: rfc3339(snap.taken_at_ms),
            netns: &snap.netns,
        }
    }
}

#[derive(Serialize)]
struct Unattributed {
    count: u64,
    reason: Option<&'static str>,
}

impl Unattributed {
    fn of(snap: &Snapshot, count: u64) -> Unattributed {
        Unattributed {
            count,
            reason: snap
                .attribution
                .reason
                .filter(|_| count > 0)
                .map(|r| r.explain()),
        }
    }
}

/// What a document covers: the protocols shown and their socket counts.
#[derive(Serialize)]
struct Coverage {
    protocols: Protocols,
    totals: BTreeMap<&'static str, u64>,
}

impl Coverage {
    fn of(protocols: Protocols, total: impl Fn(Protocol) -> u64) -> Coverage {
        Coverage {
            protocols,
            totals: protocols.iter().map(|p| (p.name(), total(p))).collect(),
        }
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    header: Header<'a>,
    #[serde(flatten)]
    coverage: Coverage,
    #[serde(flatten)]
    tcp: Option<TcpSummary<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    udp: Option<ProtoSummaryJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unix: Option<ProtoSummaryJson<'a>>,
    parse_errors: u64,
    duplicates: u64,
    inconsistent: Option<&'a str>,
    collect_ms: f64,
    /// The namespace's conntrack table, when counters were read (additive).
    #[serde(skip_serializing_if = "Option::is_none")]
    conntrack: Option<super::conntrack::ConntrackJson<'a>>,
}

/// The TCP fields, where version 1 had them.
#[derive(Serialize)]
struct TcpSummary<'a> {
    total: u64,
    states: StatesJson,
    processes: Vec<ProcessJson<'a>>,
    processes_remainder: Vec<RemainderJson>,
    listeners: Vec<ListenerJson<'a>>,
    remotes: Vec<RemoteJson>,
    unattributed: Unattributed,
    ownerless: u64,
}

#[derive(Serialize)]
struct ProcessJson<'a> {
    pid: u32,
    /// The exact name (lossy only when not UTF-8; then `comm_b64` holds the bytes).
    comm: &'a Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    comm_b64: Option<String>,
    user: &'a Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_b64: Option<String>,
    total: u64,
    states: StatesJson,
}

/// Sockets `processes` does not list (see [`crate::analyze::process_rows`]), so that `processes`
/// and these add up to `total` and `states`.
#[derive(Serialize)]
struct RemainderJson {
    /// `other`, `unattributed`, `ownerless`, `unresolved` or `ownerless_or_unattributed`.
    kind: &'static str,
    total: u64,
    states: StatesJson,
}

#[derive(Serialize)]
struct ListenerJson<'a> {
    local: String,
    pid: Option<u32>,
    comm: Option<&'a Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comm_b64: Option<String>,
    backlog: u32,
    accept_queue: u32,
    syn_recv: u64,
    states: StatesJson,
}

#[derive(Serialize)]
struct RemoteJson {
    ip: String,
    total: u64,
    states: StatesJson,
}

/// Writes the summary document (every grouping; `opts.top` caps each list).
pub fn write_summary(
    out: &mut impl Write,
    view: &SummaryView<'_>,
    opts: &SummaryOpts,
) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &summary_doc(view, opts)).map_err(io::Error::other)?;
    writeln!(out)
}

#[derive(Serialize)]
struct AllNetns<'a> {
    schema_version: u32,
    total: u64,
    namespaces: Vec<Summary<'a>>,
    unreachable: Vec<Unreachable<'a>>,
}

#[derive(Serialize)]
struct Unreachable<'a> {
    netns: &'a str,
    reason: &'a str,
}

/// Writes the `--all-netns` document: one summary per namespace (each as
/// [`write_summary`] writes it) and the namespaces that could not be read, with why.
pub fn write_summary_all(
    out: &mut impl Write,
    views: &[SummaryView<'_>],
    opts: &SummaryOpts,
    unreachable: &[(String, String)],
) -> io::Result<()> {
    let doc = AllNetns {
        schema_version: SUMMARY_SCHEMA_VERSION,
        total: views.iter().map(|v| v.aggregate.states.total()).sum(),
        namespaces: views.iter().map(|v| summary_doc(v, opts)).collect(),
        unreachable: unreachable
            .iter()
            .map(|(n, r)| Unreachable {
                netns: n,
                reason: r,
            })
            .collect(),
    };
    serde_json::to_writer(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

fn summary_doc<'a>(view: &SummaryView<'a>, opts: &SummaryOpts) -> Summary<'a> {
    let snap = view.snapshot;
    let others: &'a [ProtoAggregate] = view.others;
    let proto = |p: Protocol| {
        others
            .iter()
            .find(|a| a.protocol == p)
            .map(|agg| json_proto::summary(snap, agg, opts.top))
    };
    Summary {
        header: Header::of(snap),
        coverage: Coverage::of(view.protocols, |p| view.total(p)),
        tcp: view
            .protocols
            .contains(Protocol::Tcp)
            .then(|| tcp_summary(view, opts)),
        udp: proto(Protocol::Udp),
        unix: proto(Protocol::Unix),
        parse_errors: snap.quality.parse_errors,
        duplicates: snap.quality.duplicates,
        inconsistent: snap.quality.inconsistent.as_deref(),
        collect_ms: snap.collect_us as f64 / 1000.0,
        conntrack: super::conntrack::json(snap),
    }
}

fn tcp_summary<'a>(view: &SummaryView<'a>, opts: &SummaryOpts) -> TcpSummary<'a> {
    let (snap, agg) = (view.snapshot, view.aggregate);
    TcpSummary {
        total: agg.states.total(),
        states: StatesJson(agg.states),
        processes: truncate(&agg.processes, opts.top)
            .iter()
            .map(|p| ProcessJson {
                pid: p.process.pid,
                comm: &p.process.comm,
                comm_b64: p.process.comm.raw_b64(),
                user: &p.process.user,
                user_b64: p.process.user.raw_b64(),
                total: p.states.total(),
                states: StatesJson(p.states),
            })
            .collect(),
        processes_remainder: process_rows::rows(view.snapshot, view.aggregate, opts.top)
            .into_iter()
            .filter(|r| r.kind != RowKind::Process)
            .map(|r| RemainderJson {
                kind: r.kind.json_name(),
                total: r.states.total(),
                states: StatesJson(r.states),
            })
            .collect(),
        listeners: truncate(&agg.listeners, opts.top)
            .iter()
            .map(|l| ListenerJson {
                local: l.local.to_string(),
                pid: l.pid,
                comm: l.comm.as_ref(),
                comm_b64: l.comm.as_ref().and_then(Name::raw_b64),
                backlog: l.backlog,
                accept_queue: l.accept_queue,
                syn_recv: l.syn_recv(),
                states: StatesJson(l.states),
            })
            .collect(),
        remotes: truncate(&agg.remotes, opts.top)
            .iter()
            .map(|r| RemoteJson {
                ip: r.ip.to_string(),
                total: r.states.total(),
                states: StatesJson(r.states),
            })
            .collect(),
        unattributed: Unattributed::of(snap, agg.unattributed),
        ownerless: agg.ownerless,
    }
}

#[derive(Serialize)]
struct SocketsDoc<'a> {
    #[serde(flatten)]
    header: Header<'a>,
    #[serde(flatten)]
    coverage: Coverage,
    #[serde(flatten)]
    tcp: Option<TcpSockets<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    udp: Option<Vec<UdpJson<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unix: Option<Vec<UnixJson<'a>>>,
    unattributed: Unattributed,
    parse_errors: u64,
}

/// The TCP fields of the socket document, where version 1 had them.
#[derive(Serialize)]
struct TcpSockets<'a> {
    total: usize,
    sockets: Vec<SocketJson<'a>>,
}

/// The sockets a `sockets` run shows, per protocol, already filtered and sorted.
pub struct SocketLists<'a> {
    /// The protocols shown.
    pub protocols: Protocols,
    /// TCP sockets.
    pub tcp: Vec<&'a SocketRecord>,
    /// UDP sockets.
    pub udp: Vec<&'a SocketRecord>,
    /// UNIX sockets.
    pub unix: Vec<&'a UnixRecord>,
    /// Age and fd of each TCP socket, index-aligned with `tcp` (empty: unknown).
    pub tcp_extra: Vec<super::sockets::RowExtra>,
    /// Each listed socket's fd in its owner (`--fd`), keyed by (pid, inode).
    pub fds: Option<crate::collect::fdnum::SocketFds>,
}

impl SocketLists<'_> {
    /// How many sockets of `p` are listed.
    pub fn len(&self, p: Protocol) -> usize {
        match p {
            Protocol::Tcp => self.tcp.len(),
            Protocol::Udp => self.udp.len(),
            Protocol::Unix => self.unix.len(),
        }
    }

    /// Listed sockets a process owns but procfs would not name, over every protocol shown.
    pub fn unattributed(&self) -> u64 {
        let un = |o: Owner| o == Owner::Unattributed;
        (self.tcp.iter().filter(|s| un(s.owner)).count()
            + self.udp.iter().filter(|s| un(s.owner)).count()
            + self.unix.iter().filter(|s| un(s.owner)).count()) as u64
    }
}

#[derive(Serialize)]
struct SocketJson<'a> {
    state: &'static str,
    family: &'static str,
    local: String,
    remote: String,
    recv_q: u32,
    send_q: u32,
    inode: u64,
    uid: u32,
    timer: &'static str,
    expires_ms: u32,
    retransmits: u8,
    cookie: Option<u64>,
    /// `process`, `via_listener`, `ownerless` or `unattributed`.
    owner: &'static str,
    pid: Option<u32>,
    comm: Option<&'a Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comm_b64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_recv_ms: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt_us: Option<u32>,
    /// Seconds in its state where the kernel dates it (CLOSE_WAIT, TIME_WAIT), else null.
    age_s: Option<u32>,
    /// The owning process's fd for it, with `--fd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    fd: Option<u32>,
}

/// Writes the socket-list document.
pub fn write_sockets(
    out: &mut impl Write,
    snap: &Snapshot,
    lists: &SocketLists<'_>,
) -> io::Result<()> {
    let shown = |p| lists.protocols.contains(p);
    let doc = SocketsDoc {
        header: Header::of(snap),
        coverage: Coverage::of(lists.protocols, |p| lists.len(p) as u64),
        tcp: shown(Protocol::Tcp).then(|| tcp_sockets(snap, &lists.tcp, &lists.tcp_extra)),
        udp: shown(Protocol::Udp)
            .then(|| json_proto::udp_sockets(snap, &lists.udp, lists.fds.as_ref())),
        unix: shown(Protocol::Unix)
            .then(|| json_proto::unix_sockets(snap, &lists.unix, lists.fds.as_ref())),
        unattributed: Unattributed::of(snap, lists.unattributed()),
        parse_errors: snap.quality.parse_errors,
    };
    serde_json::to_writer(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}

fn tcp_sockets<'a>(
    snap: &'a Snapshot,
    sockets: &[&'a SocketRecord],
    extras: &[super::sockets::RowExtra],
) -> TcpSockets<'a> {
    TcpSockets {
        total: sockets.len(),
        sockets: sockets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let extra = extras.get(i).copied().unwrap_or_default();
                let pid = s.owner.pid();
                let comm = pid.and_then(|p| snap.processes.get(&p)).map(|p| &p.comm);
                SocketJson {
                    state: s.state.netstat_name(),
                    family: match s.family {
                        crate::model::Family::V4 => "inet",
                        crate::model::Family::V6 => "inet6",
                    },
                    local: s.local.to_string(),
                    remote: s.remote.to_string(),
                    recv_q: s.recv_q,
                    send_q: s.send_q,
                    inode: s.inode,
                    uid: s.uid,
                    timer: s.timer.name(),
                    expires_ms: s.expires_ms,
                    retransmits: s.retransmits,
                    cookie: s.cookie,
                    owner: json_proto::owner_name(s.owner),
                    pid,
                    comm,
                    comm_b64: comm.and_then(Name::raw_b64),
                    last_recv_ms: s.tcp_info.map(|i| i.last_data_recv_ms),
                    rtt_us: s.tcp_info.map(|i| i.rtt_us),
                    age_s: extra.age.map(|a| a.secs),
                    fd: extra.fd,
                }
            })
            .collect(),
    }
}
