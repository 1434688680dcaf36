//! The UDP and UNIX parts of the versioned JSON documents (`summary -u/-x --format json`,
//! `sockets -u/-x --format json`): their own serde structs, built from
//! [`ProtoAggregate`]s and socket records, never serialised from internal types. Names
//! another user chose (comms, users, UNIX paths) are exact strings with a `_b64` sibling
//! holding the raw bytes when they are not UTF-8, as everywhere else.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::proto::{self, state_columns};
use super::truncate;
use crate::analyze::proto_counts::{ProtoAggregate, UnixListenerRow};
use crate::collect::fdnum::SocketFds;
use crate::model::{
    Family, Name, Owner, Protocol, Snapshot, SocketRecord, StateCounts, UnixName, UnixRecord,
};

/// A protocol's states by its `ss` spelling (`UNCONN`, `ESTAB`, `LISTEN`): the states it
/// always shows, zeros included, then any other non-zero one.
pub struct ProtoStatesJson {
    /// Whose spelling.
    pub protocol: Protocol,
    /// The counts.
    pub counts: StateCounts,
    /// Which states to write (see [`state_columns`]).
    pub columns: Vec<crate::model::TcpState>,
}

impl ProtoStatesJson {
    fn new(protocol: Protocol, counts: StateCounts, all: &StateCounts) -> ProtoStatesJson {
        ProtoStatesJson {
            protocol,
            counts,
            columns: state_columns(protocol, all),
        }
    }
}

impl Serialize for ProtoStatesJson {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(self.columns.len()))?;
        for s in &self.columns {
            m.serialize_entry(self.protocol.state_name(*s), &self.counts.get(*s))?;
        }
        m.end()
    }
}

/// A UNIX name as JSON fields: the exact text, its raw bytes when not UTF-8, and whether
/// it is abstract (so an `@` at the start of a path is never mistaken for one).
#[derive(Serialize)]
pub struct UnixNameJson {
    /// The path or abstract name without `@`; `null` for an unnamed socket.
    pub name: Option<String>,
    /// The raw bytes in base64, only when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_b64: Option<String>,
    /// Whether the name is abstract.
    #[serde(rename = "abstract")]
    pub is_abstract: bool,
}

impl UnixNameJson {
    /// The fields for `name`.
    pub fn of(name: Option<&UnixName>) -> UnixNameJson {
        let inner = name.map(|n| match n {
            UnixName::Path(x) | UnixName::Abstract(x) => x,
        });
        UnixNameJson {
            name: inner.map(Name::wire_text),
            name_b64: inner.and_then(Name::raw_b64),
            is_abstract: name.is_some_and(UnixName::is_abstract),
        }
    }
}

#[derive(Serialize)]
struct ProtoProcessJson<'a> {
    /// `process`, or what a row that is not a process stands for.
    kind: &'static str,
    pid: Option<u32>,
    comm: Option<&'a Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comm_b64: Option<String>,
    user: Option<&'a Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_b64: Option<String>,
    total: u64,
    states: ProtoStatesJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    drops: Option<u64>,
    recv_q: Option<u64>,
}

#[derive(Serialize)]
struct ListenerJson<'a> {
    #[serde(flatten)]
    name: UnixNameJson,
    #[serde(rename = "type")]
    kind: &'static str,
    inode: u64,
    pid: Option<u32>,
    comm: Option<&'a Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comm_b64: Option<String>,
    /// `null` when the source gives no queues (/proc/net/unix).
    pending: Option<u32>,
    backlog: Option<u32>,
}

/// One protocol's summary: `udp` or `unix` in the summary document.
#[derive(Serialize)]
pub struct ProtoSummaryJson<'a> {
    total: u64,
    states: ProtoStatesJson,
    /// Processes (capped by `--top`), then rows for the sockets no process holds.
    processes: Vec<ProtoProcessJson<'a>>,
    unattributed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    drops: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    types: Option<BTreeMap<&'static str, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    listeners: Option<Vec<ListenerJson<'a>>>,
}

/// Builds the `udp` or `unix` object of the summary document.
pub fn summary<'a>(
    snap: &'a Snapshot,
    agg: &'a ProtoAggregate,
    top: Option<usize>,
) -> ProtoSummaryJson<'a> {
    let p = agg.protocol;
    let udp = p == Protocol::Udp;
    let unix = p == Protocol::Unix;
    let known = proto::recv_q_known(snap, p);
    let processes = proto::rows(snap, agg, top)
        .into_iter()
        .map(|r| {
            let is_proc = r.kind == proto::ProtoRowKind::Process;
            // A row that is not a process has no comm or user: its kind says what it is.
            let (comm, user) = match r.pid {
                Some(pid) => agg
                    .processes
                    .iter()
                    .find(|x| x.process.pid == pid)
                    .map_or((None, None), |x| {
                        (Some(&x.process.comm), Some(&x.process.user))
                    }),
                None => (None, None),
            };
            ProtoProcessJson {
                kind: r.kind.json_name(),
                pid: r.pid.filter(|_| is_proc),
                comm,
                comm_b64: comm.and_then(Name::raw_b64),
                user,
                user_b64: user.and_then(Name::raw_b64),
                total: r.states.total(),
                states: ProtoStatesJson::new(p, r.states, &agg.states),
                drops: udp.then_some(r.drops),
                recv_q: known.then_some(r.recv_q),
            }
        })
        .collect();
    let k = agg.unix_kinds;
    ProtoSummaryJson {
        total: agg.total(),
        states: ProtoStatesJson::new(p, agg.states, &agg.states),
        processes,
        unattributed: agg.unattributed,
        drops: udp.then_some(agg.drops),
        types: unix
            .then(|| BTreeMap::from([("stream", k[0]), ("dgram", k[1]), ("seqpacket", k[2])])),
        listeners: unix.then(|| {
            truncate(&agg.unix_listeners, top)
                .iter()
                .map(listener)
                .collect()
        }),
    }
}

fn listener(l: &UnixListenerRow) -> ListenerJson<'_> {
    ListenerJson {
        name: UnixNameJson::of(l.name.as_ref()),
        kind: l.kind.name(),
        inode: l.inode,
        pid: l.pid,
        comm: l.comm.as_ref(),
        comm_b64: l.comm.as_ref().and_then(Name::raw_b64),
        pending: l.pending,
        backlog: l.backlog,
    }
}

/// The owner as the socket documents spell it.
pub fn owner_name(o: Owner) -> &'static str {
    match o {
        Owner::Process(_) => "process",
        Owner::ViaListener(_) => "via_listener",
        Owner::Ownerless => "ownerless",
        Owner::Unattributed | Owner::Unresolved => "unattributed",
    }
}

fn comm_of(snap: &Snapshot, o: Owner) -> Option<&Name> {
    o.pid()
        .and_then(|p| snap.processes.get(&p))
        .map(|p| &p.comm)
}

/// One UDP socket in the socket document.
#[derive(Serialize)]
pub struct UdpJson<'a> {
    state: &'static str,
    family: &'static str,
    local: String,
    remote: String,
    recv_q: u32,
    send_q: u32,
    inode: u64,
    uid: u32,
    cookie: Option<u64>,
    /// Datagrams dropped on this socket since it was created; `null` when unknown.
    drops: Option<u32>,
    rmem_alloc: Option<u32>,
    /// `null` from /proc/net/udp, which has no buffer sizes.
    rcvbuf: Option<u32>,
    wmem_alloc: Option<u32>,
    sndbuf: Option<u32>,
    owner: &'static str,
    pid: Option<u32>,
    comm: Option<&'a Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comm_b64: Option<String>,
    /// The owning process's fd for it, with `--fd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    fd: Option<u32>,
}

/// The UDP socket list.
pub fn udp_sockets<'a>(
    snap: &'a Snapshot,
    list: &[&'a SocketRecord],
    fds: Option<&SocketFds>,
) -> Vec<UdpJson<'a>> {
    list.iter()
        .map(|s| {
            let comm = comm_of(snap, s.owner);
            UdpJson {
                state: Protocol::Udp.state_name(s.state),
                family: match s.family {
                    Family::V4 => "inet",
                    Family::V6 => "inet6",
                },
                local: s.local.to_string(),
                remote: s.remote.to_string(),
                recv_q: s.recv_q,
                send_q: s.send_q,
                inode: s.inode,
                uid: s.uid,
                cookie: s.cookie,
                drops: s.skmem.map(|m| m.drops),
                rmem_alloc: s.skmem.map(|m| m.rmem_alloc),
                rcvbuf: s.skmem.and_then(|m| m.rcvbuf),
                wmem_alloc: s.skmem.map(|m| m.wmem_alloc),
                sndbuf: s.skmem.and_then(|m| m.sndbuf),
                owner: owner_name(s.owner),
                pid: s.owner.pid(),
                comm,
                comm_b64: comm.and_then(Name::raw_b64),
                fd: fd_of(fds, s.owner, s.inode),
            }
        })
        .collect()
}

/// The fd `owner` holds socket `inode` under, when `--fd` read them.
pub fn fd_of(fds: Option<&SocketFds>, owner: Owner, inode: u64) -> Option<u32> {
    fds?.get(&(owner.pid()?, inode)).copied()
}

/// One UNIX socket in the socket document.
#[derive(Serialize)]
pub struct UnixJson<'a> {
    /// `u_str`, `u_dgr` or `u_seq`, as ss's Netid column.
    netid: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    state: &'static str,
    #[serde(flatten)]
    name: UnixNameJson,
    inode: u64,
    peer_inode: Option<u64>,
    /// `null` when the source gives no queues (/proc/net/unix), never 0 for unknown.
    recv_q: Option<u32>,
    send_q: Option<u32>,
    uid: Option<u32>,
    cookie: Option<u64>,
    owner: &'static str,
    pid: Option<u32>,
    comm: Option<&'a Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comm_b64: Option<String>,
    /// The owning process's fd for it, with `--fd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    fd: Option<u32>,
}

/// The UNIX socket list.
pub fn unix_sockets<'a>(
    snap: &'a Snapshot,
    list: &[&'a UnixRecord],
    fds: Option<&SocketFds>,
) -> Vec<UnixJson<'a>> {
    list.iter()
        .map(|s| {
            let comm = comm_of(snap, s.owner);
            UnixJson {
                netid: s.kind.ss_name(),
                kind: s.kind.name(),
                state: Protocol::Unix.state_name(s.state),
                name: UnixNameJson::of(s.name.as_ref()),
                inode: s.inode,
                peer_inode: s.peer_inode,
                recv_q: s.recv_q,
                send_q: s.send_q,
                uid: s.uid,
                cookie: s.cookie,
                owner: owner_name(s.owner),
                pid: s.owner.pid(),
                comm,
                comm_b64: comm.and_then(Name::raw_b64),
                fd: fd_of(fds, s.owner, s.inode),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_names_carry_raw_bytes_and_the_abstract_flag() {
        let hostile = UnixName::from_sun_path(b"/tmp/\x1b[31m\xff.sock").expect("name");
        let v = serde_json::to_value(UnixNameJson::of(Some(&hostile))).expect("json");
        assert_eq!(v["abstract"], false);
        assert_eq!(v["name_b64"], "L3RtcC8bWzMxbf8uc29jaw==");
        let abs = UnixName::from_sun_path(b"\0@x").expect("name");
        let v = serde_json::to_value(UnixNameJson::of(Some(&abs))).expect("json");
        assert_eq!(
            (v["name"].as_str(), &v["abstract"]),
            (Some("@x"), &true.into())
        );
        assert!(v.get("name_b64").is_none());
        let v = serde_json::to_value(UnixNameJson::of(None)).expect("json");
        assert!(v["name"].is_null());
    }
}
