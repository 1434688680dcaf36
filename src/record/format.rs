//! The recording's serde structs: the schema of the file, built from a [`Snapshot`] and its
//! [`Analysis`], and turned back into a [`Snapshot`] and an [`Aggregate`] on replay.
//!
//! Owns the on-disk shape only; no I/O. Internal types are copied field by field into
//! structs of their own, so the analysis can change without breaking old recordings. Only
//! types that are already a stable, serde-derived contract are embedded as they are:
//! [`SocketRecord`], [`ProcessInfo`], [`Alert`], [`KernelCounters`], [`Sysctls`] and
//! [`UnattributedReason`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::events::Events;
use super::proto::ProtoCounts;
use crate::analyze::aggregate::{aggregate, Aggregate, ListenerRow, ProcessRow, RemoteRow};
use crate::analyze::engine::Analysis;
use crate::analyze::events::Churn;
use crate::analyze::finding::Alert;
use crate::analyze::proto_counts::aggregate_proto;
use crate::analyze::rates::CounterRates;
use crate::model::{
    Attribution, Endpoint, KernelCounters, Name, ProcessInfo, Protocol, Protocols, SampleQuality,
    Snapshot, SocketRecord, SourceKind, StateCounts, Sysctls, TcpState, UnattributedReason,
    UnixRecord,
};

/// The schema version this build writes and the newest it reads. Version 2 added UDP and
/// UNIX (`protocols`, `udp`, `unix`, `udp_sockets`, `unix_sockets` on ticks); version 1
/// files read as TCP-only recordings. Version 3 added `events` (the destroy events of the
/// interval); older ticks read without them.
pub const SCHEMA_VERSION: u32 = 3;

/// The oldest schema version this build reads.
pub const OLDEST_SCHEMA_VERSION: u32 = 1;

/// How many remote addresses (most sockets first) a tick keeps.
pub const TOP_REMOTES: usize = 32;

/// The `kind` tag of the first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeaderKind {
    /// `"header"`.
    #[serde(rename = "header")]
    Header,
}

/// The `kind` tag of every line after the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TickKind {
    /// `"tick"`.
    #[serde(rename = "tick")]
    Tick,
}

/// The first line of a recording: what was recorded, where, how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always `"header"`.
    pub kind: HeaderKind,
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Host name of the recording machine.
    #[serde(deserialize_with = "crate::model::name::deserialize_line")]
    pub host: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Poll interval in milliseconds.
    pub interval_ms: u64,
    /// When recording started, RFC 3339 UTC (for humans and `jq`).
    pub started_at: String,
    /// The same instant in milliseconds since the epoch (for programs).
    pub started_at_ms: i64,
    /// Network namespace recorded (`host`, a name or a path).
    #[serde(deserialize_with = "crate::model::name::deserialize_line")]
    pub netns: String,
    /// Whether ticks carry the full socket list (`--sockets`).
    pub sockets: bool,
    /// Version of the sockscope that wrote the file.
    pub sockscope_version: String,
}

/// Socket counts per state, written as an object keyed by netstat name
/// (`{"ESTABLISHED":3,"CLOSE_WAIT":12}`). States absent from the object are 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct States(pub StateCounts);

/// Writes all eleven states, zeros included (the per-tick totals).
fn all_states<S: Serializer>(v: &States, ser: S) -> Result<S::Ok, S::Error> {
    write_states(v, ser, true)
}

fn write_states<S: Serializer>(v: &States, ser: S, zeros: bool) -> Result<S::Ok, S::Error> {
    let states = TcpState::ALL.iter().filter(|&&s| zeros || v.0.get(s) > 0);
    let mut m = ser.serialize_map(None)?;
    for &s in states {
        m.serialize_entry(s.netstat_name(), &v.0.get(s))?;
    }
    m.end()
}

impl Serialize for States {
    /// Rows write only their non-zero states, which keeps a tick small.
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        write_states(self, ser, false)
    }
}

impl<'de> Deserialize<'de> for States {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<States, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = States;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of TCP state name to count")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<States, A::Error> {
                let mut c = StateCounts::default();
                while let Some((name, n)) = map.next_entry::<String, u64>()? {
                    let state = TcpState::ALL
                        .into_iter()
                        .find(|s| s.netstat_name() == name)
                        .ok_or_else(|| serde::de::Error::custom(format!("unknown state {name}")))?;
                    c.0[state.index()] = n;
                }
                Ok(States(c))
            }
        }
        de.deserialize_map(V)
    }
}

/// One process's sockets per state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessCounts {
    /// Process id.
    pub pid: u32,
    /// Command name (lossy when not UTF-8; `comm_b64` then holds the exact bytes).
    pub comm: String,
    /// The raw bytes of `comm` in base64, only when they are not UTF-8 (absent in older
    /// recordings, which then read as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm_b64: Option<String>,
    /// Real uid.
    pub uid: u32,
    /// User name (lossy when not UTF-8; `user_b64` then holds the exact bytes).
    pub user: String,
    /// The raw bytes of `user` in base64, only when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_b64: Option<String>,
    /// Its sockets per state.
    pub states: States,
}

/// One listener and the connections on its endpoint, per state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerCounts {
    /// Local address and port it listens on.
    pub local: Endpoint,
    /// Owning pid, when attributed.
    pub pid: Option<u32>,
    /// Owning command, when attributed (lossy when not UTF-8).
    pub comm: Option<String>,
    /// The raw bytes of `comm` in base64, only when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm_b64: Option<String>,
    /// The backlog.
    pub backlog: u32,
    /// Connections waiting in the accept queue.
    pub accept_queue: u32,
    /// Sockets on this endpoint per state.
    pub states: States,
    /// Distinct SYN_RECV source prefixes (absent in recordings made before it existed).
    #[serde(default)]
    pub syn_sources: u64,
}

/// One remote address's sockets per state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCounts {
    /// The remote address.
    pub ip: IpAddr,
    /// Sockets to it per state.
    pub states: States,
}

/// Sockets that count towards no process, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ownership {
    /// Whether process attribution ran.
    pub attempted: bool,
    /// Sockets no process owns by design (TIME_WAIT, request sockets).
    pub ownerless: u64,
    /// Sockets a process owns but procfs would not name.
    pub unattributed: u64,
    /// Why some are unattributed.
    pub reason: Option<UnattributedReason>,
    /// Processes whose fd table was unreadable.
    pub unreadable_pids: u64,
}

/// How trustworthy the tick's sample was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Quality {
    /// Records that failed to parse.
    pub parse_errors: u64,
    /// Duplicate rows dropped.
    pub duplicates: u64,
    /// Why the sample is inconsistent, when it is.
    pub inconsistent: Option<String>,
}

/// Counter rates as plain numbers (the analysis' `CounterRates` is not a file format).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Seconds between the two samples.
    pub interval_s: f64,
    /// TcpExt rates per second by counter name.
    pub tcp_ext: BTreeMap<String, f64>,
    /// Tcp rates per second by counter name.
    pub tcp: BTreeMap<String, f64>,
    /// Counters that went down (reset, rate 0).
    pub resets: Vec<String>,
    /// Conntrack statistics rates by column name (`drop`, `early_drop`, …); absent in
    /// recordings made before conntrack was collected.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conntrack: BTreeMap<String, f64>,
    /// Growth of the conntrack entry count per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack_count_per_s: Option<f64>,
}

/// One poll: the counts, the alerts and the raw inputs, and with `--sockets` every socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Always `"tick"`.
    pub kind: TickKind,
    /// When the dump started, ms since the epoch.
    pub taken_at_ms: i64,
    /// Collector that produced it.
    pub source: SourceKind,
    /// Collection time in microseconds.
    pub collect_us: u64,
    /// Sockets per state, all eleven.
    #[serde(serialize_with = "all_states")]
    pub states: States,
    /// Per-process counts, most sockets first.
    pub processes: Vec<ProcessCounts>,
    /// Per-listener counts.
    pub listeners: Vec<ListenerCounts>,
    /// The [`TOP_REMOTES`] remote addresses with most sockets.
    pub remotes: Vec<RemoteCounts>,
    /// Ownerless and unattributed sockets.
    pub ownership: Ownership,
    /// Sample quality.
    pub quality: Quality,
    /// Alerts (pending, firing, recently resolved) after this tick.
    pub alerts: Vec<Alert>,
    /// Counter rates since the previous tick, when known.
    pub rates: Option<Rates>,
    /// Raw kernel counters, so a replay can recompute rates.
    pub counters: Option<KernelCounters>,
    /// Sysctls the verdicts cite.
    pub sysctls: Option<Sysctls>,
    /// Every socket (only with `--sockets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sockets: Option<Vec<SocketRecord>>,
    /// The processes the sockets refer to (only with `--sockets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_processes: Option<Vec<ProcessInfo>>,
    /// Which protocols were collected (schema 2; a version 1 tick is TCP alone).
    #[serde(default)]
    pub protocols: Protocols,
    /// UDP counts, when UDP was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp: Option<ProtoCounts>,
    /// UNIX counts, when UNIX sockets were collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix: Option<ProtoCounts>,
    /// Every UDP socket (only with `--sockets` and UDP collected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_sockets: Option<Vec<SocketRecord>>,
    /// Every UNIX socket (only with `--sockets` and UNIX collected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix_sockets: Option<Vec<UnixRecord>>,
    /// The destroy events of the interval that ended with this tick (schema 3), when the
    /// recorder read them; absent otherwise (and in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Events>,
}

impl Tick {
    /// Builds the tick for `snap`, keeping its sockets when `with_sockets`.
    pub fn new(snap: &Snapshot, analysis: &Analysis, with_sockets: bool) -> Tick {
        let agg = &analysis.aggregate;
        let has = |p| snap.protocols.contains(p);
        let counts = |p| has(p).then(|| ProtoCounts::of(&aggregate_proto(snap, p)));
        Tick {
            kind: TickKind::Tick,
            taken_at_ms: snap.taken_at_ms,
            source: snap.source,
            collect_us: snap.collect_us,
            states: States(agg.states),
            processes: agg.processes.iter().map(ProcessCounts::from).collect(),
            listeners: agg.listeners.iter().map(ListenerCounts::from).collect(),
            remotes: agg
                .remotes
                .iter()
                .take(TOP_REMOTES)
                .map(|r| RemoteCounts {
                    ip: r.ip,
                    states: States(r.states),
                })
                .collect(),
            ownership: Ownership {
                attempted: snap.attribution.attempted,
                ownerless: agg.ownerless,
                unattributed: agg.unattributed,
                reason: snap.attribution.reason,
                unreadable_pids: snap.attribution.unreadable_pids,
            },
            quality: Quality {
                parse_errors: snap.quality.parse_errors,
                duplicates: snap.quality.duplicates,
                inconsistent: snap.quality.inconsistent.clone(),
            },
            alerts: analysis.alerts.iter().map(finite_alert).collect(),
            rates: analysis.rates.as_ref().map(Rates::from),
            counters: snap.counters.clone(),
            sysctls: snap.sysctls.clone(),
            sockets: with_sockets.then(|| snap.sockets.clone()),
            socket_processes: with_sockets.then(|| snap.processes.values().cloned().collect()),
            protocols: snap.protocols,
            udp: counts(Protocol::Udp),
            unix: counts(Protocol::Unix),
            udp_sockets: (with_sockets && has(Protocol::Udp)).then(|| snap.udp.clone()),
            unix_sockets: (with_sockets && has(Protocol::Unix)).then(|| snap.unix.clone()),
            events: analysis.churn.as_ref().map(Events::of),
        }
    }

    /// The recorded destroy events as the analysis type (`None`: none were read).
    pub fn churn(&self) -> Option<Churn> {
        self.events.as_ref().map(Events::churn)
    }

    /// Whether this tick carries the full socket list.
    pub fn has_sockets(&self) -> bool {
        self.sockets.is_some()
    }

    /// The snapshot this tick was recorded from, for `netns` (from the header).
    ///
    /// With recorded sockets it is exact (sockets and processes). Without them `sockets` is
    /// empty and `processes` holds the recorded per-process rows' processes: everything but
    /// the socket list (attribution, quality, counters, sysctls, times) is still there, so
    /// a replayed [`crate::analyze::engine::Analyzer`] recomputes counter rates; use
    /// [`Tick::aggregate`] for the counts.
    pub fn to_snapshot(&self, netns: &str) -> Snapshot {
        let processes = match &self.socket_processes {
            Some(p) => p.iter().map(|p| (p.pid, p.clone())).collect(),
            None => {
                let mut m: std::collections::BTreeMap<u32, ProcessInfo> =
                    self.processes.iter().map(|p| (p.pid, p.info())).collect();
                for c in self.udp.iter().chain(&self.unix) {
                    for p in &c.processes {
                        m.entry(p.pid).or_insert_with(|| p.info());
                    }
                }
                m
            }
        };
        Snapshot {
            taken_at_ms: self.taken_at_ms,
            source: self.source,
            netns: netns.to_string(),
            sockets: self.sockets.clone().unwrap_or_default(),
            protocols: self.protocols,
            udp: self.udp_sockets.clone().unwrap_or_default(),
            unix: self.unix_sockets.clone().unwrap_or_default(),
            processes,
            attribution: Attribution {
                attempted: self.ownership.attempted,
                unreadable_pids: self.ownership.unreadable_pids,
                reason: self.ownership.reason,
            },
            quality: SampleQuality {
                parse_errors: self.quality.parse_errors,
                duplicates: self.quality.duplicates,
                inconsistent: self.quality.inconsistent.clone(),
            },
            counters: self.counters.clone(),
            sysctls: self.sysctls.clone(),
            collect_us: self.collect_us,
        }
    }

    /// The tick's [`Aggregate`], ready for the report writers.
    ///
    /// With recorded sockets it is recomputed from them (complete: every remote). Without,
    /// it is rebuilt from the recorded rows, which hold the top [`TOP_REMOTES`] remotes only.
    pub fn aggregate(&self) -> Aggregate {
        if self.sockets.is_some() {
            return aggregate(&self.to_snapshot(""));
        }
        Aggregate {
            states: self.states.0,
            processes: self
                .processes
                .iter()
                .map(|p| ProcessRow {
                    process: p.info(),
                    states: p.states.0,
                })
                .collect(),
            listeners: self
                .listeners
                .iter()
                .map(|l| ListenerRow {
                    local: l.local,
                    pid: l.pid,
                    comm: l.comm.as_ref().map(|c| restore(c, l.comm_b64.as_deref())),
                    backlog: l.backlog,
                    accept_queue: l.accept_queue,
                    states: l.states.0,
                    syn_sources: l.syn_sources,
                })
                .collect(),
            remotes: self
                .remotes
                .iter()
                .map(|r| RemoteRow {
                    ip: r.ip,
                    states: r.states.0,
                })
                .collect(),
            ownerless: self.ownership.ownerless,
            unattributed: self.ownership.unattributed,
        }
    }

    /// The recorded counter rates as the analysis type.
    pub fn rates(&self) -> Option<CounterRates> {
        self.rates.as_ref().map(|r| CounterRates {
            interval_s: r.interval_s,
            tcp_ext: r.tcp_ext.clone(),
            tcp: r.tcp.clone(),
            resets: r.resets.clone(),
            conntrack: r.conntrack.clone(),
            conntrack_count_per_s: r.conntrack_count_per_s,
            ..CounterRates::default()
        })
    }
}

impl ProcessCounts {
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
}

/// The exact name from a text field and its base64 sibling. A sibling that is not base64
/// (a hand-edited file) leaves the text, which is what an older recording would hold.
pub(super) fn restore(text: &str, b64: Option<&str>) -> Name {
    Name::from_parts(text, b64).unwrap_or_else(|_| Name::from(text))
}

impl From<&ProcessRow> for ProcessCounts {
    fn from(p: &ProcessRow) -> ProcessCounts {
        ProcessCounts {
            pid: p.process.pid,
            comm: p.process.comm.wire_text(),
            comm_b64: p.process.comm.raw_b64(),
            uid: p.process.uid,
            user: p.process.user.wire_text(),
            user_b64: p.process.user.raw_b64(),
            states: States(p.states),
        }
    }
}

impl From<&ListenerRow> for ListenerCounts {
    fn from(l: &ListenerRow) -> ListenerCounts {
        ListenerCounts {
            local: l.local,
            pid: l.pid,
            comm: l.comm.as_ref().map(Name::wire_text),
            comm_b64: l.comm.as_ref().and_then(Name::raw_b64),
            backlog: l.backlog,
            accept_queue: l.accept_queue,
            states: States(l.states),
            syn_sources: l.syn_sources,
        }
    }
}

impl From<&CounterRates> for Rates {
    fn from(r: &CounterRates) -> Rates {
        Rates {
            interval_s: finite(r.interval_s),
            tcp_ext: finite_map(&r.tcp_ext),
            tcp: finite_map(&r.tcp),
            resets: r.resets.clone(),
            conntrack: finite_map(&r.conntrack),
            conntrack_count_per_s: r.conntrack_count_per_s.map(finite),
        }
    }
}

// serde_json writes NaN and infinities as `null`, which then fails to read back as f64 and
// would cost the whole tick; so non-finite numbers never reach the file.
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

fn finite_map(m: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    m.iter()
        .filter(|(_, v)| v.is_finite())
        .map(|(k, &v)| (k.clone(), v))
        .collect()
}

fn finite_alert(a: &Alert) -> Alert {
    let mut a = a.clone();
    let f = &mut a.finding;
    f.threshold = finite(f.threshold);
    f.growth_per_min = f.growth_per_min.filter(|g| g.is_finite());
    f.metrics = finite_map(&f.metrics);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_and_listener_names_replay_to_the_exact_bytes() {
        let row = ProcessRow {
            process: ProcessInfo {
                pid: 7,
                comm: Name::from(&b"\x1b[7m\xff"[..]),
                uid: 0,
                user: Name::from("root"),
                unit: None,
                container: None,
            },
            states: StateCounts::default(),
        };
        let counts = ProcessCounts::from(&row);
        let text = serde_json::to_string(&counts).expect("json");
        assert!(text.contains("\"comm_b64\":\"G1s3bf8=\""), "{text}");
        assert!(!text.contains("user_b64"), "{text}");
        let back: ProcessCounts = serde_json::from_str(&text).expect("back");
        assert_eq!(back.info(), row.process);

        let l = ListenerRow {
            local: Endpoint::unspecified(),
            pid: Some(7),
            comm: Some(Name::from(&b"\xfe"[..])),
            backlog: 1,
            accept_queue: 0,
            states: StateCounts::default(),
            syn_sources: 0,
        };
        let text = serde_json::to_string(&ListenerCounts::from(&l)).expect("json");
        let back: ListenerCounts = serde_json::from_str(&text).expect("back");
        assert_eq!(back.comm_b64.as_deref(), Some("/g=="));
        assert_eq!(
            restore(back.comm.as_deref().unwrap_or(""), back.comm_b64.as_deref()),
            Name::from(&b"\xfe"[..])
        );
        // A recording written before the siblings existed.
        let old = r#"{"pid":1,"comm":"java","uid":0,"user":"root","states":{}}"#;
        let back: ProcessCounts = serde_json::from_str(old).expect("old");
        assert_eq!(back.info().comm, "java");
    }
}
