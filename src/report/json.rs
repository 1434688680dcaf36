//! Versioned JSON for scripts: `summary --format json` and `sockets --format json`. The
//! structs here are the schema (documented in the README); they are built from analysis
//! results and never serialised from internal types directly.

use std::io::{self, Write};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::{truncate, SummaryOpts, SummaryView};
use crate::analyze::process_rows::{self, RowKind};
use crate::model::{Name, Owner, Snapshot, SocketRecord, StateCounts, TcpState};
use crate::record::time::rfc3339;

/// The schema version of every JSON document sockscope writes.
pub const SCHEMA_VERSION: u32 = 1;

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
            schema_version: SCHEMA_VERSION,
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

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    header: Header<'a>,
    total: u64,
    states: StatesJson,
    processes: Vec<ProcessJson<'a>>,
    processes_remainder: Vec<RemainderJson>,
    listeners: Vec<ListenerJson<'a>>,
    remotes: Vec<RemoteJson>,
    unattributed: Unattributed,
    ownerless: u64,
    parse_errors: u64,
    duplicates: u64,
    inconsistent: Option<&'a str>,
    collect_ms: f64,
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
        schema_version: SCHEMA_VERSION,
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
    let (snap, agg) = (view.snapshot, view.aggregate);
    Summary {
        header: Header::of(snap),
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
        parse_errors: snap.quality.parse_errors,
        duplicates: snap.quality.duplicates,
        inconsistent: snap.quality.inconsistent.as_deref(),
        collect_ms: snap.collect_us as f64 / 1000.0,
    }
}

#[derive(Serialize)]
struct SocketsDoc<'a> {
    #[serde(flatten)]
    header: Header<'a>,
    total: usize,
    sockets: Vec<SocketJson<'a>>,
    unattributed: Unattributed,
    parse_errors: u64,
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
}

/// Writes the socket-list document.
pub fn write_sockets(
    out: &mut impl Write,
    snap: &Snapshot,
    sockets: &[&SocketRecord],
) -> io::Result<()> {
    let doc = SocketsDoc {
        header: Header::of(snap),
        total: sockets.len(),
        sockets: sockets
            .iter()
            .map(|s| {
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
                    owner: match s.owner {
                        Owner::Process(_) => "process",
                        Owner::ViaListener(_) => "via_listener",
                        Owner::Ownerless => "ownerless",
                        Owner::Unattributed | Owner::Unresolved => "unattributed",
                    },
                    pid,
                    comm,
                    comm_b64: comm.and_then(Name::raw_b64),
                    last_recv_ms: s.tcp_info.map(|i| i.last_data_recv_ms),
                    rtt_us: s.tcp_info.map(|i| i.rtt_us),
                }
            })
            .collect(),
        unattributed: Unattributed::of(snap, snap.unattributed()),
        parse_errors: snap.quality.parse_errors,
    };
    serde_json::to_writer(&mut *out, &doc).map_err(io::Error::other)?;
    writeln!(out)
}
