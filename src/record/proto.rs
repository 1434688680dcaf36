//! The UDP and UNIX part of a recorded tick (schema 2): per-state counts, per-process rows
//! (with drops and queues), UNIX socket types and listeners, copied from a
//! [`ProtoAggregate`] into structs of their own and turned back into one on replay. States
//! are keyed as `ss` spells them for these protocols (`UNCONN`, `ESTAB`, `LISTEN`). No I/O.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::format::{restore, Tick};
use crate::analyze::proto_counts::{
    aggregate_proto, ProtoAggregate, ProtoProcessRow, UnixListenerRow,
};
use crate::model::{Name, ProcessInfo, Protocol, StateCounts, TcpState, UnixKind, UnixName};

/// Counts per state keyed by the UDP/UNIX spelling (`{"UNCONN":12,"ESTAB":3}`); only
/// non-zero states are written, a state missing is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SsStates(pub StateCounts);

impl Serialize for SsStates {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(None)?;
        for s in TcpState::ALL.into_iter().filter(|s| self.0.get(*s) > 0) {
            m.serialize_entry(Protocol::Udp.state_name(s), &self.0.get(s))?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for SsStates {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<SsStates, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SsStates;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of UDP/UNIX state name (UNCONN, ESTAB, ...) to count")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SsStates, A::Error> {
                let mut c = StateCounts::default();
                while let Some((name, n)) = map.next_entry::<String, u64>()? {
                    // UDP and UNIX spell states alike, and each spelling names one state.
                    let state = TcpState::ALL
                        .into_iter()
                        .find(|s| Protocol::Udp.state_name(*s) == name)
                        .ok_or_else(|| {
                            serde::de::Error::custom(format!(
                                "unknown state {}",
                                crate::model::escape_controls(&name)
                            ))
                        })?;
                    c.0[state.index()] = n;
                }
                Ok(SsStates(c))
            }
        }
        de.deserialize_map(V)
    }
}

/// One process's UDP or UNIX sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtoProcessCounts {
    /// Process id.
    pub pid: u32,
    /// Command name (lossy when not UTF-8; `comm_b64` then holds the exact bytes).
    pub comm: String,
    /// Raw bytes of `comm`, base64, only when not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm_b64: Option<String>,
    /// Real uid.
    pub uid: u32,
    /// User name (lossy when not UTF-8).
    pub user: String,
    /// Raw bytes of `user`, base64, only when not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_b64: Option<String>,
    /// Its sockets per state.
    pub states: SsStates,
    /// UDP drops summed over its sockets.
    #[serde(default)]
    pub drops: u64,
    /// Receive queues summed over its sockets.
    #[serde(default)]
    pub recv_q: u64,
}

/// A UNIX listener and its accept queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnixListenerCounts {
    /// The path or abstract name (lossy when not UTF-8); `None` when unnamed.
    pub name: Option<String>,
    /// Raw bytes of `name`, base64, only when not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_b64: Option<String>,
    /// Whether `name` is abstract (`@name`).
    #[serde(default, rename = "abstract")]
    pub is_abstract: bool,
    /// Stream or seqpacket.
    #[serde(rename = "type")]
    pub kind: UnixKind,
    /// Socket inode.
    pub inode: u64,
    /// Owning pid.
    pub pid: Option<u32>,
    /// Owning command (lossy when not UTF-8).
    pub comm: Option<String>,
    /// Raw bytes of `comm`, base64, only when not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm_b64: Option<String>,
    /// Pending connections; `None` when the source had no queues.
    pub pending: Option<u32>,
    /// Backlog; `None` when the source had no queues.
    pub backlog: Option<u32>,
}

/// UNIX sockets per type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnixTypes {
    /// `SOCK_STREAM`.
    pub stream: u64,
    /// `SOCK_DGRAM`.
    pub dgram: u64,
    /// `SOCK_SEQPACKET`.
    pub seqpacket: u64,
}

/// The counts of one protocol in one tick (`udp` or `unix`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtoCounts {
    /// Sockets per state (non-zero ones).
    pub states: SsStates,
    /// Per-process rows, most sockets first.
    pub processes: Vec<ProtoProcessCounts>,
    /// Sockets a process owns but procfs would not name.
    #[serde(default)]
    pub unattributed: u64,
    /// UDP: drops summed over every socket.
    #[serde(default)]
    pub drops: u64,
    /// UNIX: sockets per type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<UnixTypes>,
    /// UNIX: listeners, fullest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<UnixListenerCounts>,
}

fn unix_name(n: &UnixName) -> &Name {
    match n {
        UnixName::Path(x) | UnixName::Abstract(x) => x,
    }
}

impl ProtoCounts {
    /// The counts of `agg` as the file holds them.
    pub fn of(agg: &ProtoAggregate) -> ProtoCounts {
        let k = agg.unix_kinds;
        ProtoCounts {
            states: SsStates(agg.states),
            processes: agg
                .processes
                .iter()
                .map(|p| ProtoProcessCounts {
                    pid: p.process.pid,
                    comm: p.process.comm.wire_text(),
                    comm_b64: p.process.comm.raw_b64(),
                    uid: p.process.uid,
                    user: p.process.user.wire_text(),
                    user_b64: p.process.user.raw_b64(),
                    states: SsStates(p.states),
                    drops: p.drops,
                    recv_q: p.recv_q,
                })
                .collect(),
            unattributed: agg.unattributed,
            drops: agg.drops,
            types: (agg.protocol == Protocol::Unix).then_some(UnixTypes {
                stream: k[0],
                dgram: k[1],
                seqpacket: k[2],
            }),
            listeners: agg
                .unix_listeners
                .iter()
                .map(|l| UnixListenerCounts {
                    name: l.name.as_ref().map(|n| unix_name(n).wire_text()),
                    name_b64: l.name.as_ref().and_then(|n| unix_name(n).raw_b64()),
                    is_abstract: l.name.as_ref().is_some_and(UnixName::is_abstract),
                    kind: l.kind,
                    inode: l.inode,
                    pid: l.pid,
                    comm: l.comm.as_ref().map(Name::wire_text),
                    comm_b64: l.comm.as_ref().and_then(Name::raw_b64),
                    pending: l.pending,
                    backlog: l.backlog,
                })
                .collect(),
        }
    }

    /// The aggregate these counts were made from (names restored to their exact bytes).
    pub fn to_aggregate(&self, protocol: Protocol) -> ProtoAggregate {
        let t = self.types.unwrap_or_default();
        ProtoAggregate {
            protocol,
            collected: true,
            states: self.states.0,
            processes: self.processes.iter().map(ProtoProcessCounts::row).collect(),
            ownerless: 0,
            unattributed: self.unattributed,
            drops: self.drops,
            unix_kinds: [t.stream, t.dgram, t.seqpacket],
            unix_listeners: self
                .listeners
                .iter()
                .map(|l| UnixListenerRow {
                    name: l.name.as_ref().map(|n| {
                        let name = restore(n, l.name_b64.as_deref());
                        if l.is_abstract {
                            UnixName::Abstract(name)
                        } else {
                            UnixName::Path(name)
                        }
                    }),
                    kind: l.kind,
                    inode: l.inode,
                    pid: l.pid,
                    comm: l.comm.as_ref().map(|c| restore(c, l.comm_b64.as_deref())),
                    pending: l.pending,
                    backlog: l.backlog,
                })
                .collect(),
            unheld: Vec::new(),
        }
    }
}

impl ProtoProcessCounts {
    /// The process as the model names it.
    pub fn info(&self) -> ProcessInfo {
        ProcessInfo {
            pid: self.pid,
            comm: restore(&self.comm, self.comm_b64.as_deref()),
            uid: self.uid,
            user: restore(&self.user, self.user_b64.as_deref()),
            unit: None,
            container: None,
        }
    }

    fn row(&self) -> ProtoProcessRow {
        ProtoProcessRow {
            process: self.info(),
            states: self.states.0,
            drops: self.drops,
            recv_q: self.recv_q,
        }
    }
}

impl Tick {
    /// The counts of one protocol, as [`aggregate_proto`] gives them live: recomputed from
    /// the recorded sockets when the tick has them, else rebuilt from the recorded rows. A
    /// protocol the tick did not collect comes back with `collected: false` and zeros.
    pub fn proto_aggregate(&self, p: Protocol) -> ProtoAggregate {
        let listed = match p {
            Protocol::Tcp => self.sockets.is_some(),
            Protocol::Udp => self.udp_sockets.is_some(),
            Protocol::Unix => self.unix_sockets.is_some(),
        };
        if listed || !self.protocols.contains(p) {
            return aggregate_proto(&self.to_snapshot(""), p);
        }
        match (p, &self.udp, &self.unix) {
            (Protocol::Udp, Some(c), _) | (Protocol::Unix, _, Some(c)) => c.to_aggregate(p),
            (Protocol::Tcp, _, _) => {
                let a = self.aggregate();
                ProtoAggregate {
                    protocol: p,
                    collected: true,
                    states: a.states,
                    processes: a
                        .processes
                        .into_iter()
                        .map(|r| ProtoProcessRow {
                            process: r.process,
                            states: r.states,
                            drops: 0,
                            recv_q: 0,
                        })
                        .collect(),
                    ownerless: a.ownerless,
                    unattributed: a.unattributed,
                    drops: 0,
                    unix_kinds: [0; 3],
                    unix_listeners: Vec::new(),
                    unheld: Vec::new(),
                }
            }
            // Collected, yet no counts: a hand-edited line. Say "not collected" rather
            // than zero sockets.
            _ => {
                let mut a = aggregate_proto(&self.to_snapshot(""), p);
                a.collected = false;
                a
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::proto_counts::aggregate_proto;
    use crate::model::fixtures::snapshot;
    use crate::model::{Owner, Protocols, UnixRecord};

    #[test]
    fn unix_counts_round_trip_with_hostile_names() {
        let mut snap = snapshot(Vec::new());
        snap.protocols = Protocols::ALL;
        let mut l = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 5);
        l.name = UnixName::from_sun_path(b"/tmp/\x1b[7m\xfe.sock");
        l.recv_q = Some(5);
        l.send_q = Some(4);
        l.owner = Owner::Process(42);
        let mut a = UnixRecord::new(UnixKind::Dgram, TcpState::Close, 6);
        a.name = UnixName::from_sun_path(b"\0abs");
        snap.unix = vec![l, a];
        let agg = aggregate_proto(&snap, Protocol::Unix);
        let text = serde_json::to_string(&ProtoCounts::of(&agg)).expect("json");
        assert!(
            text.contains(r#""states":{"UNCONN":1,"LISTEN":1}"#),
            "{text}"
        );
        let back: ProtoCounts = serde_json::from_str(&text).expect("back");
        // Counts without the socket list do not split the unheld sockets by kind.
        let agg = ProtoAggregate {
            unheld: Vec::new(),
            ..agg
        };
        assert_eq!(back.to_aggregate(Protocol::Unix), agg);
    }

    #[test]
    fn unknown_state_names_are_refused() {
        assert!(serde_json::from_str::<SsStates>(r#"{"UNCON":1}"#).is_err());
        let s: SsStates = serde_json::from_str(r#"{"ESTAB":2}"#).expect("states");
        assert_eq!(s.0.get(TcpState::Established), 2);
    }
}
