//! Plain data shared by every layer: TCP states, endpoints, socket records and the
//! [`Snapshot`] a collector produces. Nothing here performs I/O; collectors fill these
//! types, analysis reads them, presenters format them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

mod attribution;
mod conntrack;
#[cfg(test)]
pub(crate) mod fixtures;
mod listener;
pub mod name;
mod process;
mod proto;
mod rule;
mod sink;
mod skmem;
mod sysctls;
mod unix;
pub use attribution::{unattributed_note, Attribution, UnattributedReason, EXPLAIN_UNATTRIBUTED};
pub use conntrack::{Conntrack, CONNTRACK_DROP_STATS};
pub use listener::{listener_matches, ListenerIndex};
pub use name::{escape_controls, Name, NameDecodeError};
pub use process::{Container, ProcessInfo, QosClass, Runtime, Unit};
pub use proto::{Protocol, Protocols};
pub use rule::RuleId;
pub use sink::SocketSink;
pub use skmem::{udp_drops_between, SkMem};
pub use sysctls::{Sysctls, TCP_SYSCTLS};
pub use unix::{UnixKind, UnixName, UnixRecord, UnixVfs};

/// A TCP socket state, numbered as Linux numbers them (`/proc/net/tcp` `st` column and
/// sock_diag `idiag_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum TcpState {
    /// Open connection, data flows.
    Established = 1,
    /// Client sent SYN, waits for SYN+ACK.
    SynSent = 2,
    /// Server got SYN and answered; waits for the final ACK. Includes NEW_SYN_RECV.
    SynRecv = 3,
    /// Active closer sent FIN, waits for its ACK.
    FinWait1 = 4,
    /// Active closer's FIN was ACKed; waits for the peer's FIN.
    FinWait2 = 5,
    /// Active closer sent the last ACK; waits 2×MSL.
    TimeWait = 6,
    /// No connection.
    Close = 7,
    /// Peer closed; waits for the local application to call close().
    CloseWait = 8,
    /// Passive closer sent FIN, waits for its ACK.
    LastAck = 9,
    /// Listening socket.
    Listen = 10,
    /// Simultaneous close.
    Closing = 11,
}

/// Linux's state number for request sockets (half-open connections) in sock_diag.
pub const KERNEL_NEW_SYN_RECV: u8 = 12;

impl TcpState {
    /// The eleven states, in kernel order.
    pub const ALL: [TcpState; 11] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
    ];

    /// Maps a kernel state number to a state. NEW_SYN_RECV (12) is SYN_RECV to users.
    pub fn from_kernel(code: u8) -> Option<TcpState> {
        match code {
            1..=11 => Some(TcpState::ALL[usize::from(code) - 1]),
            KERNEL_NEW_SYN_RECV => Some(TcpState::SynRecv),
            _ => None,
        }
    }

    /// The kernel's number for this state.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Position in [`TcpState::ALL`], for dense per-state arrays.
    pub fn index(self) -> usize {
        usize::from(self.code()) - 1
    }

    /// The spelling `netstat` prints (and the classic awk one-liner counts).
    pub fn netstat_name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
        }
    }

    /// The spelling `ss` prints.
    pub fn ss_name(self) -> &'static str {
        match self {
            TcpState::Established => "estab",
            TcpState::SynSent => "syn-sent",
            TcpState::SynRecv => "syn-recv",
            TcpState::FinWait1 => "fin-wait-1",
            TcpState::FinWait2 => "fin-wait-2",
            TcpState::TimeWait => "time-wait",
            TcpState::Close => "unconn",
            TcpState::CloseWait => "close-wait",
            TcpState::LastAck => "last-ack",
            TcpState::Listen => "listen",
            TcpState::Closing => "closing",
        }
    }

    /// The bit for this state in a sock_diag `idiag_states` mask. SYN_RECV also sets the
    /// NEW_SYN_RECV bit so request sockets are never dropped.
    pub fn kernel_mask(self) -> u32 {
        let bit = 1u32 << self.code();
        if self == TcpState::SynRecv {
            bit | (1u32 << KERNEL_NEW_SYN_RECV)
        } else {
            bit
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.netstat_name())
    }
}

/// A count per state, indexed by [`TcpState::index`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts(pub [u64; 11]);

impl StateCounts {
    /// Adds one socket in `state`.
    pub fn add(&mut self, state: TcpState) {
        self.0[state.index()] += 1;
    }

    /// The count for `state`.
    pub fn get(&self, state: TcpState) -> u64 {
        self.0[state.index()]
    }

    /// The sum over all states.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Non-zero states, most frequent first; ties in kernel order.
    pub fn ranked(&self) -> Vec<(TcpState, u64)> {
        let mut v: Vec<(TcpState, u64)> = TcpState::ALL
            .iter()
            .map(|&s| (s, self.get(s)))
            .filter(|&(_, n)| n > 0)
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// Address family of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Family {
    /// AF_INET.
    V4,
    /// AF_INET6.
    V6,
}

/// Turns `::ffff:a.b.c.d` into `a.b.c.d` for display and grouping; other addresses pass.
pub fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// An IP address and port. Addresses are stored normalised (see [`normalize_ip`]); the
/// socket's real family stays in [`SocketRecord::family`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Endpoint {
    /// The address, v4-mapped v6 already normalised to v4.
    pub ip: IpAddr,
    /// The port.
    pub port: u16,
}

impl Endpoint {
    /// Builds an endpoint, normalising v4-mapped addresses.
    pub fn new(ip: IpAddr, port: u16) -> Endpoint {
        Endpoint {
            ip: normalize_ip(ip),
            port,
        }
    }

    /// The unspecified v6 endpoint `[::]:0`, used where the kernel reports no peer.
    pub fn unspecified() -> Endpoint {
        Endpoint {
            ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            port: 0,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// Which kernel timer is pending on a socket (`/proc/net/tcp` `tr`, sock_diag `idiag_timer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TimerKind {
    /// No timer pending.
    Off,
    /// Retransmit (or SYN+ACK retransmit for request sockets).
    Retransmit,
    /// Keepalive.
    KeepAlive,
    /// TIME_WAIT expiry.
    TimeWait,
    /// Zero-window probe.
    Probe,
}

impl TimerKind {
    /// Maps the kernel's timer code; unknown codes read as [`TimerKind::Off`].
    pub fn from_kernel(code: u8) -> TimerKind {
        match code {
            1 => TimerKind::Retransmit,
            2 => TimerKind::KeepAlive,
            3 => TimerKind::TimeWait,
            4 => TimerKind::Probe,
            _ => TimerKind::Off,
        }
    }

    /// The short name `ss -o` prints.
    pub fn name(self) -> &'static str {
        match self {
            TimerKind::Off => "off",
            TimerKind::Retransmit => "on",
            TimerKind::KeepAlive => "keepalive",
            TimerKind::TimeWait => "timewait",
            TimerKind::Probe => "persist",
        }
    }
}

/// The few tcp_info fields the verdicts use (sock_diag INET_DIAG_INFO).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpInfoLite {
    /// Milliseconds since the last data was received (`tcpi_last_data_recv`).
    pub last_data_recv_ms: u32,
    /// Milliseconds since the last ACK was received (`tcpi_last_ack_recv`).
    pub last_ack_recv_ms: u32,
    /// Smoothed round-trip time in microseconds.
    pub rtt_us: u32,
    /// Total retransmitted segments over the connection's life.
    pub total_retrans: u32,
}

/// Who owns a socket, as far as procfs could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Owner {
    /// Not resolved yet (collectors emit this; attribution replaces it).
    Unresolved,
    /// Held open by this pid (the lowest pid when several share the socket).
    Process(u32),
    /// A request (SYN_RECV) socket, attributed to the pid owning its listener.
    ViaListener(u32),
    /// No process owns it by design: TIME_WAIT and request sockets (inode 0).
    Ownerless,
    /// A process owns it but procfs would not say which (see [`Attribution::reason`]).
    Unattributed,
}

impl Owner {
    /// The pid this socket counts towards, if any.
    pub fn pid(self) -> Option<u32> {
        match self {
            Owner::Process(p) | Owner::ViaListener(p) => Some(p),
            _ => None,
        }
    }
}

/// One TCP or UDP socket as the kernel reported it (which one is the [`Snapshot`] list it
/// sits in: [`Snapshot::sockets`] or [`Snapshot::udp`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketRecord {
    /// The socket's own family (a v4-mapped peer still has [`Family::V6`]).
    pub family: Family,
    /// State, NEW_SYN_RECV folded into SYN_RECV.
    pub state: TcpState,
    /// Local endpoint.
    pub local: Endpoint,
    /// Remote endpoint (`0.0.0.0:0` / `[::]:0` for listeners).
    pub remote: Endpoint,
    /// Socket inode; 0 for TIME_WAIT and request sockets.
    pub inode: u64,
    /// Owning uid as the kernel records it.
    pub uid: u32,
    /// Recv-Q (for LISTEN: current accept queue).
    pub recv_q: u32,
    /// Send-Q (for LISTEN: the backlog).
    pub send_q: u32,
    /// Pending timer.
    pub timer: TimerKind,
    /// Milliseconds until the timer fires (0 when off).
    pub expires_ms: u32,
    /// Retransmits of the pending timer (or SYN+ACK retries for request sockets).
    pub retransmits: u8,
    /// sock_diag cookie; `None` from /proc, which has none.
    pub cookie: Option<u64>,
    /// tcp_info, when the caller asked for it and the kernel gave it.
    pub tcp_info: Option<TcpInfoLite>,
    /// Memory and drops (UDP always asks for them; absent in older recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skmem: Option<SkMem>,
    /// Owner, filled by attribution.
    pub owner: Owner,
}

impl SocketRecord {
    /// A socket with these endpoints, state and owner, and every other field empty (no
    /// inode, queues, timer, cookie or tcp_info). The family follows `local`.
    pub fn new(
        state: TcpState,
        local: SocketAddr,
        remote: SocketAddr,
        owner: Owner,
    ) -> SocketRecord {
        SocketRecord {
            family: if local.is_ipv4() {
                Family::V4
            } else {
                Family::V6
            },
            state,
            local: Endpoint::new(local.ip(), local.port()),
            remote: Endpoint::new(remote.ip(), remote.port()),
            inode: 0,
            uid: 0,
            recv_q: 0,
            send_q: 0,
            timer: TimerKind::Off,
            expires_ms: 0,
            retransmits: 0,
            cookie: None,
            tcp_info: None,
            skmem: None,
            owner,
        }
    }
}

/// Which collector produced a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// sock_diag netlink dump.
    Netlink,
    /// /proc/net/tcp{,6}.
    Proc,
    /// A recorded snapshot file.
    File,
}

impl SourceKind {
    /// Lower-case name used in output.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Netlink => "netlink",
            SourceKind::Proc => "proc",
            SourceKind::File => "file",
        }
    }
}

/// How trustworthy a sample is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleQuality {
    /// Lines or messages that failed to parse (the socket may still be counted).
    pub parse_errors: u64,
    /// Duplicate rows the source dropped.
    pub duplicates: u64,
    /// Set when the source could not read a consistent sample, saying why.
    pub inconsistent: Option<String>,
}

/// Kernel TCP counters: TcpExt from /proc/net/netstat and Tcp from /proc/net/snmp.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelCounters {
    /// TcpExt counters by name.
    pub tcp_ext: BTreeMap<String, u64>,
    /// Tcp counters by name (CurrEstab is a gauge; the rest are counters).
    pub tcp: BTreeMap<String, u64>,
    /// `Udp:` counters from /proc/net/snmp (InErrors, RcvbufErrors, NoPorts, …); empty in
    /// recordings made before UDP was collected.
    #[serde(default)]
    pub udp: BTreeMap<String, u64>,
    /// `Udp6:` counters from /proc/net/snmp6, named as in `Udp:` (`Udp6InErrors` is
    /// `InErrors` here).
    #[serde(default)]
    pub udp6: BTreeMap<String, u64>,
    /// Sockets in use per kernel protocol in this namespace, from `/proc/net/protocols`
    /// (`UNIX` is datagram, `UNIX-STREAM` stream and seqpacket, `UDP`, `UDPv6`, …): the
    /// kernel's own totals beside what a dump listed. Read when UDP or UNIX is collected.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sockets_in_use: BTreeMap<String, u64>,
    /// The namespace's conntrack table, when `nf_conntrack` is loaded there; absent in
    /// recordings made before it was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<Conntrack>,
    /// Why [`KernelCounters::conntrack`] is `None` although counters were read (the module
    /// is not loaded: not an error, said once where the table would be shown).
    /// Control characters are escaped when read from a file: it is printed in tables.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "conntrack::deserialize_opt_line"
    )]
    pub conntrack_absent: Option<String>,
}

/// Everything one collection produced, owned, ready to send to analysis and presenters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Wall-clock time the dump started, in milliseconds since the Unix epoch.
    pub taken_at_ms: i64,
    /// The source that produced it.
    pub source: SourceKind,
    /// The network namespace collected: a name, a path, or `host` (control characters
    /// escaped, also when read from a file).
    #[serde(deserialize_with = "name::deserialize_line")]
    pub netns: String,
    /// Which socket tables were collected: an empty [`Snapshot::udp`] means "no UDP
    /// socket" only when UDP is in here. Recordings from before UDP and UNIX read as TCP.
    #[serde(default)]
    pub protocols: Protocols,
    /// The TCP sockets, deduplicated.
    pub sockets: Vec<SocketRecord>,
    /// The UDP sockets (states ESTABLISHED = connected, CLOSE = unconnected), when collected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub udp: Vec<SocketRecord>,
    /// The UNIX domain sockets, when collected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unix: Vec<UnixRecord>,
    /// Processes referenced by [`Owner::Process`] / [`Owner::ViaListener`], by pid.
    pub processes: BTreeMap<u32, ProcessInfo>,
    /// What attribution achieved.
    pub attribution: Attribution,
    /// Parse errors, duplicates, consistency.
    pub quality: SampleQuality,
    /// Kernel counters, when collected.
    pub counters: Option<KernelCounters>,
    /// Sysctls, when collected.
    pub sysctls: Option<Sysctls>,
    /// How long the collection took, in microseconds.
    pub collect_us: u64,
}

impl Snapshot {
    /// Counts of sockets per state.
    pub fn state_counts(&self) -> StateCounts {
        let mut c = StateCounts::default();
        for s in &self.sockets {
            c.add(s.state);
        }
        c
    }

    /// Sockets a process owns but procfs could not name.
    pub fn unattributed(&self) -> u64 {
        self.sockets
            .iter()
            .filter(|s| s.owner == Owner::Unattributed)
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_syn_recv_is_syn_recv() {
        assert_eq!(TcpState::from_kernel(12), Some(TcpState::SynRecv));
        assert_eq!(TcpState::from_kernel(0), None);
        assert_eq!(TcpState::from_kernel(13), None);
        for s in TcpState::ALL {
            assert_eq!(TcpState::from_kernel(s.code()), Some(s));
        }
    }

    #[test]
    fn syn_recv_mask_includes_request_sockets() {
        let m = TcpState::SynRecv.kernel_mask();
        assert_eq!(m, (1 << 3) | (1 << 12));
        let all: u32 = TcpState::ALL
            .iter()
            .map(|s| s.kernel_mask())
            .fold(0, |a, b| a | b);
        assert_eq!(all, 0xFFE | (1 << 12));
    }

    #[test]
    fn v4_mapped_is_normalised() {
        let e = Endpoint::new("::ffff:127.0.0.1".parse().unwrap(), 80);
        assert_eq!(e.to_string(), "127.0.0.1:80");
        let e = Endpoint::new("::1".parse().unwrap(), 80);
        assert_eq!(e.to_string(), "[::1]:80");
    }

    #[test]
    fn ranked_is_most_frequent_first() {
        let mut c = StateCounts::default();
        c.add(TcpState::Listen);
        c.add(TcpState::TimeWait);
        c.add(TcpState::TimeWait);
        assert_eq!(
            c.ranked(),
            vec![(TcpState::TimeWait, 2), (TcpState::Listen, 1)]
        );
    }
}
