//! Socket filters shared by every mode: states (netstat and ss spellings, ss groups), port
//! ranges, CIDRs, process name or pid, owner kind, address family.
//!
//! Pure: parsing and matching only. The collector turns the state part into the kernel's
//! state mask and applies the rest after attribution; the dashboard parses the same syntax
//! from its `/` prompt through [`Filter::parse_expr`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;

use crate::model::{normalize_ip, Family, Owner, ProcessInfo, SocketRecord, TcpState, UnixRecord};

mod owner_group;
mod unix_match;
mod unix_path;
pub use owner_group::{glob_match, ContainerMatch, UnitMatch};
pub use unix_path::UnixPathMatch;

/// A filter that could not be parsed. `Display` is one line naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Not a state name or group.
    #[error("unknown state '{0}' (expected a netstat or ss state name, or one of: all, connected, synchronized, bucket, big)")]
    State(String),
    /// Not a port or port range in 1-65535.
    #[error("invalid port '{0}' (expected 1-65535 or a range LO-HI)")]
    Port(String),
    /// Not an address or CIDR.
    #[error("invalid address or CIDR '{0}'")]
    Cidr(String),
    /// Empty process name or pid.
    #[error("invalid process '{0}' (expected a command name or a pid)")]
    Process(String),
    /// A command name no process can have: the kernel keeps 15 bytes of it.
    #[error(
        "process name '{0}' can never match: the kernel keeps only 15 bytes of a command \
         name (give its first 15, or a pid)"
    )]
    ProcessNameTooLong(String),
    /// Not an owner kind.
    #[error("unknown owner '{0}' (expected process, unattributed, ownerless or unresolved)")]
    Owner(String),
    /// Not a `key:value` term the prompt understands.
    #[error("invalid filter term '{0}' (expected state:, sport:, dport:, src:, dst:, process:, owner:, path:, unit:, container:, -4 or -6)")]
    Term(String),
    /// An empty unit glob, or one with a `/`, a space or a control character.
    #[error(
        "invalid unit '{0}' (expected a systemd unit name or glob such as nginx.service, 'php*' or pipewire.service@1000)"
    )]
    Unit(String),
    /// Not a container id prefix or name.
    #[error(
        "invalid container '{0}' (expected a container id or its prefix, or a container name)"
    )]
    Container(String),
    /// A UNIX path filter that is neither absolute nor abstract.
    #[error("invalid UNIX socket path '{0}' (expected an absolute path such as /run/x.sock, an abstract name such as @name, or a prefix ending in *)")]
    UnixPath(String),
}

/// Named groups of states, as `ss` defines them.
const GROUPS: &[(&str, &[TcpState])] = &[
    ("all", &TcpState::ALL),
    (
        "connected",
        &[
            TcpState::Established,
            TcpState::SynSent,
            TcpState::SynRecv,
            TcpState::FinWait1,
            TcpState::FinWait2,
            TcpState::TimeWait,
            TcpState::CloseWait,
            TcpState::LastAck,
            TcpState::Closing,
        ],
    ),
    (
        "synchronized",
        &[
            TcpState::Established,
            TcpState::SynRecv,
            TcpState::FinWait1,
            TcpState::FinWait2,
            TcpState::TimeWait,
            TcpState::CloseWait,
            TcpState::LastAck,
            TcpState::Closing,
        ],
    ),
    ("bucket", &[TcpState::SynRecv, TcpState::TimeWait]),
    (
        "big",
        &[
            TcpState::Established,
            TcpState::SynSent,
            TcpState::FinWait1,
            TcpState::FinWait2,
            TcpState::Close,
            TcpState::CloseWait,
            TcpState::LastAck,
            TcpState::Listen,
            TcpState::Closing,
        ],
    ),
];

/// Parses one state name in netstat (`CLOSE_WAIT`, `FIN_WAIT1`) or ss (`close-wait`,
/// `fin-wait-1`, `estab`, `unconn`, `listening`) spelling, case-insensitively.
pub fn parse_state(name: &str) -> Option<TcpState> {
    let key: String = name
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    let s = match key.as_str() {
        "established" | "estab" => TcpState::Established,
        "synsent" => TcpState::SynSent,
        "synrecv" | "synreceived" => TcpState::SynRecv,
        "finwait1" => TcpState::FinWait1,
        "finwait2" => TcpState::FinWait2,
        "timewait" => TcpState::TimeWait,
        "close" | "closed" | "unconn" => TcpState::Close,
        "closewait" => TcpState::CloseWait,
        "lastack" => TcpState::LastAck,
        "listen" | "listening" => TcpState::Listen,
        "closing" => TcpState::Closing,
        _ => return None,
    };
    Some(s)
}

/// A set of states as a bit per [`TcpState::index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateSet(u16);

impl StateSet {
    /// Every state.
    pub fn all() -> StateSet {
        StateSet((1 << 11) - 1)
    }

    /// Adds a state.
    pub fn insert(&mut self, s: TcpState) {
        self.0 |= 1 << s.index();
    }

    /// Whether `s` is in the set.
    pub fn contains(self, s: TcpState) -> bool {
        self.0 & (1 << s.index()) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The states in the set, kernel order.
    pub fn iter(self) -> impl Iterator<Item = TcpState> {
        TcpState::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The sock_diag `idiag_states` mask for this set.
    pub fn kernel_mask(self) -> u32 {
        self.iter().fold(0, |m, s| m | s.kernel_mask())
    }
}

impl FromStr for StateSet {
    type Err = FilterError;

    /// Parses a comma-separated list of state names and ss group names.
    fn from_str(list: &str) -> Result<StateSet, FilterError> {
        let mut set = StateSet::default();
        for item in list.split(',').map(str::trim) {
            if let Some(s) = parse_state(item) {
                set.insert(s);
            } else if let Some((_, states)) =
                GROUPS.iter().find(|(g, _)| g.eq_ignore_ascii_case(item))
            {
                states.iter().for_each(|s| set.insert(*s));
            } else {
                return Err(FilterError::State(item.to_string()));
            }
        }
        Ok(set)
    }
}

/// An inclusive port range; a single port is `lo == hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// Lowest port.
    pub lo: u16,
    /// Highest port.
    pub hi: u16,
}

impl PortRange {
    /// Whether `port` is inside.
    pub fn contains(self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }
}

impl FromStr for PortRange {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<PortRange, FilterError> {
        let err = || FilterError::Port(s.to_string());
        let one = |p: &str| -> Result<u16, FilterError> {
            match p.trim().parse::<u16>() {
                Ok(0) | Err(_) => Err(err()),
                Ok(n) => Ok(n),
            }
        };
        let (lo, hi) = match s.split_once('-') {
            Some((a, b)) => (one(a)?, one(b)?),
            None => {
                let p = one(s)?;
                (p, p)
            }
        };
        if lo > hi {
            return Err(err());
        }
        Ok(PortRange { lo, hi })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// Parses an address or CIDR; a bare address is a host prefix.
pub fn parse_cidr(s: &str) -> Result<IpNet, FilterError> {
    let t = s.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    t.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .map(IpNet::from)
        .map_err(|_| FilterError::Cidr(s.to_string()))
}

/// A process selector: a pid, or a command name (exact, case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessMatch {
    /// A pid.
    Pid(u32),
    /// A command name as in /proc/PID/comm.
    Name(String),
}

impl FromStr for ProcessMatch {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<ProcessMatch, FilterError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(FilterError::Process(s.to_string()));
        }
        Ok(match t.parse::<u32>() {
            Ok(pid) => ProcessMatch::Pid(pid),
            // TASK_COMM_LEN is 16 with the NUL: a longer name silently matching nothing
            // would read as "this process has no sockets".
            Err(_) if t.len() > 15 => return Err(FilterError::ProcessNameTooLong(t.to_string())),
            Err(_) => ProcessMatch::Name(t.to_string()),
        })
    }
}

/// Who holds a socket, as `summary --by process` groups them: a process, or one of the
/// kinds of socket no process row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OwnerKind {
    /// Held by a process sockscope named (a request socket counts as its listener's).
    Process,
    /// Held by a process procfs would not name (not root, hidepid).
    Unattributed,
    /// Held by no process: TIME_WAIT, orphaned FIN_WAIT, a request without its listener.
    Ownerless,
    /// Attribution did not run.
    Unresolved,
}

impl OwnerKind {
    /// Every kind, in the order of `summary --by process`.
    pub const ALL: [OwnerKind; 4] = [
        OwnerKind::Process,
        OwnerKind::Unattributed,
        OwnerKind::Ownerless,
        OwnerKind::Unresolved,
    ];

    /// The filter spelling.
    pub fn name(self) -> &'static str {
        match self {
            OwnerKind::Process => "process",
            OwnerKind::Unattributed => "unattributed",
            OwnerKind::Ownerless => "ownerless",
            OwnerKind::Unresolved => "unresolved",
        }
    }

    /// The kind of an owner.
    pub fn of(owner: Owner) -> OwnerKind {
        match owner {
            Owner::Process(_) | Owner::ViaListener(_) => OwnerKind::Process,
            Owner::Unattributed => OwnerKind::Unattributed,
            Owner::Ownerless => OwnerKind::Ownerless,
            Owner::Unresolved => OwnerKind::Unresolved,
        }
    }
}

impl FromStr for OwnerKind {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<OwnerKind, FilterError> {
        let t = s.trim().to_ascii_lowercase();
        OwnerKind::ALL
            .into_iter()
            .find(|k| k.name() == t)
            .ok_or_else(|| FilterError::Owner(s.to_string()))
    }
}

/// A conjunction of criteria; an empty filter matches every socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Allowed states; `None` = all.
    pub states: Option<StateSet>,
    /// Allowed local ports (any of).
    pub sport: Vec<PortRange>,
    /// Allowed remote ports (any of).
    pub dport: Vec<PortRange>,
    /// Allowed local addresses (any of).
    pub src: Vec<IpNet>,
    /// Allowed remote addresses (any of).
    pub dst: Vec<IpNet>,
    /// Allowed owning processes (any of).
    pub process: Vec<ProcessMatch>,
    /// Allowed owner kinds (any of).
    pub owner: Vec<OwnerKind>,
    /// Only this family.
    pub family: Option<Family>,
    /// Allowed UNIX socket names (any of); UNIX sockets only.
    pub path: Vec<UnixPathMatch>,
    /// Allowed systemd units of the owner (any of).
    pub unit: Vec<UnitMatch>,
    /// Allowed containers of the owner (any of).
    pub container: Vec<ContainerMatch>,
}

/// The prompt syntax (`state:close-wait sport:8080 -4`), terms in a fixed order; it parses
/// back to an equal filter with [`Filter::parse_expr`].
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut terms = Vec::new();
        if let Some(set) = self.states {
            let names: Vec<&str> = set.iter().map(TcpState::ss_name).collect();
            terms.push(format!("state:{}", names.join(",")));
        }
        terms.extend(self.sport.iter().map(|r| format!("sport:{r}")));
        terms.extend(self.dport.iter().map(|r| format!("dport:{r}")));
        terms.extend(self.src.iter().map(|n| format!("src:{n}")));
        terms.extend(self.dst.iter().map(|n| format!("dst:{n}")));
        terms.extend(self.process.iter().map(|p| match p {
            ProcessMatch::Pid(pid) => format!("process:{pid}"),
            ProcessMatch::Name(n) => format!("process:{n}"),
        }));
        terms.extend(self.owner.iter().map(|k| format!("owner:{}", k.name())));
        terms.extend(self.path.iter().map(|p| format!("path:{p}")));
        terms.extend(self.unit.iter().map(|u| format!("unit:{u}")));
        terms.extend(self.container.iter().map(|c| format!("container:{c}")));
        match self.family {
            Some(Family::V4) => terms.push("-4".into()),
            Some(Family::V6) => terms.push("-6".into()),
            None => {}
        }
        f.write_str(&terms.join(" "))
    }
}

impl Filter {
    /// The sock_diag state mask implementing the state part (0xFFF when unrestricted).
    pub fn kernel_state_mask(&self) -> u32 {
        self.states.map_or(0xFFF, StateSet::kernel_mask)
    }

    /// Whether matching needs process attribution.
    pub fn needs_attribution(&self) -> bool {
        !self.process.is_empty()
            || !self.owner.is_empty()
            || !self.unit.is_empty()
            || !self.container.is_empty()
    }

    /// Whether anything beyond states is restricted (so the kernel mask alone is not enough).
    pub fn is_state_only(&self) -> bool {
        self.sport.is_empty()
            && self.dport.is_empty()
            && self.src.is_empty()
            && self.dst.is_empty()
            && self.process.is_empty()
            && self.owner.is_empty()
            && self.family.is_none()
            && self.unit.is_empty()
            && self.container.is_empty()
    }

    /// Whether, for UNIX sockets, anything beyond states is restricted: process, owner or
    /// path (ports, addresses and family do not apply to them).
    pub fn is_state_only_unix(&self) -> bool {
        self.process.is_empty()
            && self.owner.is_empty()
            && self.path.is_empty()
            && self.unit.is_empty()
            && self.container.is_empty()
    }

    /// Whether the UNIX socket `s` passes: states, process, owner kind and path. Ports,
    /// CIDRs and family do not apply to UNIX sockets and are ignored.
    pub fn matches_unix(&self, s: &UnixRecord, procs: &BTreeMap<u32, ProcessInfo>) -> bool {
        self.states.is_none_or(|set| set.contains(s.state))
            && (self.process.is_empty() || self.process_matches(s.owner, procs))
            && (self.owner.is_empty() || self.owner.contains(&OwnerKind::of(s.owner)))
            && (self.path.is_empty() || self.path.iter().any(|p| p.matches(s.name.as_ref())))
            && self.group_matches(s.owner, procs)
    }

    /// Whether the TCP or UDP socket `s` passes (`path` applies only to UNIX sockets and
    /// is ignored). `procs` resolves owner pids for the process criterion.
    pub fn matches(&self, s: &SocketRecord, procs: &BTreeMap<u32, ProcessInfo>) -> bool {
        let any_port = |v: &[PortRange], p: u16| v.is_empty() || v.iter().any(|r| r.contains(p));
        let any_net =
            |v: &[IpNet], ip| v.is_empty() || v.iter().any(|n| n.contains(&normalize_ip(ip)));
        self.states.is_none_or(|set| set.contains(s.state))
            && self.family.is_none_or(|f| f == s.family)
            && any_port(&self.sport, s.local.port)
            && any_port(&self.dport, s.remote.port)
            && any_net(&self.src, s.local.ip)
            && any_net(&self.dst, s.remote.ip)
            && (self.process.is_empty() || self.process_matches(s.owner, procs))
            && (self.owner.is_empty() || self.owner.contains(&OwnerKind::of(s.owner)))
            && self.group_matches(s.owner, procs)
    }

    /// The unit and container terms: each list, when given, must name the owner's.
    fn group_matches(&self, owner: Owner, procs: &BTreeMap<u32, ProcessInfo>) -> bool {
        if self.unit.is_empty() && self.container.is_empty() {
            return true;
        }
        let Some(p) = owner.pid().and_then(|pid| procs.get(&pid)) else {
            return false;
        };
        (self.unit.is_empty() || self.unit.iter().any(|u| u.matches(p)))
            && (self.container.is_empty() || self.container.iter().any(|c| c.matches(p)))
    }

    fn process_matches(&self, owner: Owner, procs: &BTreeMap<u32, ProcessInfo>) -> bool {
        let Some(pid) = owner.pid() else {
            return false;
        };
        self.process.iter().any(|m| match m {
            ProcessMatch::Pid(p) => *p == pid,
            // The raw bytes, not the escaped form: `process:a\nb` does not match a comm
            // holding a newline, and a comm of `\e[7m` is matched by its exact bytes.
            ProcessMatch::Name(n) => procs.get(&pid).is_some_and(|p| p.comm == *n.as_str()),
        })
    }

    /// Parses the prompt syntax: whitespace-separated `state:LIST`, `sport:PORTS`,
    /// `dport:PORTS`, `src:CIDR`, `dst:CIDR`, `process:NAME|PID`, `owner:KIND[,KIND]`, `-4`,
    /// `-6`. A bare word is a state list.
    pub fn parse_expr(expr: &str) -> Result<Filter, FilterError> {
        let mut f = Filter::default();
        for term in expr.split_whitespace() {
            match term.split_once(':') {
                _ if term == "-4" => f.family = Some(Family::V4),
                _ if term == "-6" => f.family = Some(Family::V6),
                Some(("state", v)) => f.add_states(v.parse()?),
                Some(("sport", v)) => f.sport.push(v.parse()?),
                Some(("dport", v)) => f.dport.push(v.parse()?),
                Some(("src", v)) => f.src.push(parse_cidr(v)?),
                Some(("dst", v)) => f.dst.push(parse_cidr(v)?),
                Some(("process", v)) => f.process.push(v.parse()?),
                Some(("path", v)) => f.path.push(v.parse()?),
                Some(("unit", v)) => f.unit.push(v.parse()?),
                Some(("container", v)) => f.container.push(v.parse()?),
                Some(("owner", v)) => {
                    for k in v.split(',') {
                        f.add_owner(k.parse()?);
                    }
                }
                Some(_) => return Err(FilterError::Term(term.to_string())),
                None => f.add_states(
                    term.parse()
                        .map_err(|_| FilterError::Term(term.to_string()))?,
                ),
            }
        }
        Ok(f)
    }

    /// Adds an owner kind to the allowed ones (once).
    pub fn add_owner(&mut self, kind: OwnerKind) {
        if !self.owner.contains(&kind) {
            self.owner.push(kind);
        }
    }

    /// Adds states to the allowed set (union with earlier ones).
    pub fn add_states(&mut self, set: StateSet) {
        let cur = self.states.get_or_insert_with(StateSet::default);
        set.iter().for_each(|s| cur.insert(s));
    }
}

#[cfg(test)]
mod tests;
