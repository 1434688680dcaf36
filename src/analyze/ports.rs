//! Ephemeral ports toward a destination: how many local ports `connect()` may pick, which
//! sockets hold one, how fast new connections take them, and when they run out. The one
//! place that computes per-destination capacity and use, so `time_wait_storm` (TIME_WAIT's
//! share) and `port_exhaustion` (every holder) never disagree.
//!
//! Pure: reads no kernel state (the sysctls come in the snapshot) and formats nothing for a
//! presenter.
//!
//! # The kernel's rule, as this module models it (verified on this 6.x kernel)
//!
//! `connect()` without an explicit `bind()` picks a local port in `ip_local_port_range`,
//! skipping the ports in `ip_local_reserved_ports` and every port a `bind()` holds (a
//! listener on any address blocks its port for every autobind), and accepts a port only
//! when the resulting 4-tuple is unique. So toward one destination ip:port from one source
//! address the usable count is `range − reserved − bound`, and every source address has its
//! own set. It scans the even ports first, then the odd ones (`bind(0)` prefers odd), so
//! the parity only orders the picks: all usable ports are taken before `EADDRNOTAVAIL`
//! (measured: 200 of 200, 190 with 10 reserved, 188 with two listeners in the range, and
//! the first half of the picks all even).
//!
//! # Which sockets hold a port (the client-side rule)
//!
//! A socket holds an ephemeral port toward its remote end when it is in a state that keeps
//! its 4-tuple (SYN_SENT, ESTABLISHED, FIN_WAIT1/2, CLOSING, TIME_WAIT, CLOSE_WAIT,
//! LAST_ACK), its local port is inside the range, and that port is not a port some local
//! listener listens on: those sockets are accepted children (or TIME_WAIT remains of them)
//! of a server on this host, whose port is the listener's, not an ephemeral pick. SYN_RECV
//! is always server side. The rule is blind to one case: a server on a port inside the range
//! whose listener has closed leaves children that count as client sockets until they go.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use crate::model::{Endpoint, Snapshot, SocketRecord, TcpState};

/// Linux's default `ip_local_port_range`, used when the sysctl was not read.
pub const DEFAULT_RANGE: (u16, u16) = (32768, 60999);

/// TIME_WAIT lasts 60 s on Linux (`TCP_TIMEWAIT_LEN`, fixed at compile time).
pub const TIME_WAIT_S: f64 = 60.0;

/// How long a TIME_WAIT port stays unusable for a new connection to the same destination
/// when `tcp_tw_reuse` applies: the kernel reuses it once the last timestamp it saw is more
/// than one second old (seconds granularity, so up to 2 s).
pub const TW_REUSE_HOLD_S: f64 = 2.0;

/// Polls further apart than this cannot see every new connection: one that closed first
/// may have left TIME_WAIT before the next poll.
const MAX_RATE_INTERVAL_S: f64 = 50.0;

/// Parses `net.ipv4.ip_local_reserved_ports`: a comma-separated list of ports and
/// `low-high` ranges (`8080,9000-9010`; empty when none). Ranges come back merged
/// and sorted. The error names the first item that is not a port or a range.
pub fn parse_port_list(s: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut v: Vec<(u16, u16)> = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("`{item}` is not a port or a low-high range"))
        };
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => {
                let p = port(item)?;
                (p, p)
            }
        };
        if lo > hi {
            return Err(format!(
                "`{item}`: the range's low end is above its high end"
            ));
        }
        v.push((lo, hi));
    }
    v.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match merged.last_mut() {
            Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    Ok(merged)
}

/// The local ports `connect()` may pick in one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpace {
    /// `ip_local_port_range`'s low end.
    pub low: u16,
    /// Its high end.
    pub high: u16,
    /// Whether the range was read (else Linux's default is assumed).
    pub range_read: bool,
    /// Ports in the range: `high − low + 1`.
    pub range: u64,
    /// Ports of the range listed in `ip_local_reserved_ports`.
    pub reserved: u64,
    /// Further ports of the range a listener holds (a `bind()` blocks the port for every
    /// autobind, whatever address it is on). A client that binds a fixed port before
    /// connecting blocks it too, but a dump cannot tell that socket from an autobound one,
    /// so only listeners are subtracted.
    pub bound: u64,
    /// What is left for one source address toward one destination: `range − reserved −
    /// bound`.
    pub usable: u64,
    /// Why `ip_local_reserved_ports` could not be read as a port list, when it could not
    /// (then no port is taken as reserved).
    pub reserved_error: Option<String>,
}

impl PortSpace {
    /// The port space of `snap`'s namespace: its sysctls and its listeners.
    pub fn of(snap: &Snapshot) -> PortSpace {
        let read = snap.sysctls.as_ref().and_then(|s| s.port_range());
        let (low, high) = read.unwrap_or(DEFAULT_RANGE);
        let in_range = |p: u16| (low..=high).contains(&p);
        let raw = snap
            .sysctls
            .as_ref()
            .and_then(|s| s.values.get("net.ipv4.ip_local_reserved_ports"));
        let (reserved_list, reserved_error) = match raw.map(|r| parse_port_list(r)) {
            Some(Ok(v)) => (v, None),
            Some(Err(e)) => (Vec::new(), Some(e)),
            None => (Vec::new(), None),
        };
        let is_reserved = |p: u16| reserved_list.iter().any(|&(a, b)| (a..=b).contains(&p));
        let reserved: u64 = reserved_list
            .iter()
            .map(|&(a, b)| {
                let (a, b) = (a.max(low), b.min(high));
                if a <= b {
                    u64::from(b - a) + 1
                } else {
                    0
                }
            })
            .sum();
        let bound = listening_ports(snap)
            .into_iter()
            .filter(|&p| in_range(p) && !is_reserved(p))
            .count() as u64;
        let range = u64::from(high - low) + 1;
        PortSpace {
            low,
            high,
            range_read: read.is_some(),
            range,
            reserved,
            bound,
            usable: range.saturating_sub(reserved + bound),
            reserved_error,
        }
    }

    /// Whether `port` is in the ephemeral range.
    pub fn contains(&self, port: u16) -> bool {
        (self.low..=self.high).contains(&port)
    }
}

/// The local ports TCP listeners of `snap` listen on.
fn listening_ports(snap: &Snapshot) -> BTreeSet<u16> {
    snap.sockets
        .iter()
        .filter(|s| s.state == TcpState::Listen)
        .map(|s| s.local.port)
        .collect()
}

/// Whether a socket in `state` keeps its 4-tuple (and so its local port).
pub fn holds_port(state: TcpState) -> bool {
    matches!(
        state,
        TcpState::SynSent
            | TcpState::Established
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::Closing
            | TcpState::TimeWait
            | TcpState::CloseWait
            | TcpState::LastAck
    )
}

/// Ports held toward one destination from one source address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// Sockets holding a port, every state.
    pub total: u64,
    /// Of those, in TIME_WAIT.
    pub time_wait: u64,
}

impl Held {
    /// The holders that are not TIME_WAIT (open or closing connections).
    pub fn active(&self) -> u64 {
        self.total - self.time_wait
    }
}

/// A (destination, source address) pair: the unit the kernel's 4-tuple rule works on.
pub type Route = (Endpoint, IpAddr);

/// One destination's use summed over its source addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestUse {
    /// Ports held toward it.
    pub held: Held,
    /// Source addresses that hold at least one.
    pub sources: u64,
    /// Usable ports: the per-source count times `sources` (at least one source).
    pub capacity: u64,
}

/// Client-side port use of one snapshot, per route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortUse {
    /// The namespace's port space.
    pub space: PortSpace,
    /// Ports held per (destination, source address).
    pub routes: BTreeMap<Route, Held>,
    listening: BTreeSet<u16>,
    /// Each route's local ports, sorted (what [`NewConnTracker`] compares).
    local_ports: HashMap<Route, Vec<u16>>,
}

impl PortUse {
    /// Counts the client-side holders of `snap` (see the module doc for the rule).
    pub fn of(snap: &Snapshot) -> PortUse {
        let mut u = PortUse {
            space: PortSpace::of(snap),
            routes: BTreeMap::new(),
            listening: listening_ports(snap),
            local_ports: HashMap::new(),
        };
        let mut routes: HashMap<Route, (Held, Vec<u16>)> = HashMap::new();
        for s in snap.sockets.iter().filter(|s| u.is_client(s)) {
            let (h, ports) = routes.entry((s.remote, s.local.ip)).or_default();
            h.total += 1;
            if s.state == TcpState::TimeWait {
                h.time_wait += 1;
            }
            ports.push(s.local.port);
        }
        for (route, (held, mut ports)) in routes {
            ports.sort_unstable();
            u.routes.insert(route, held);
            u.local_ports.insert(route, ports);
        }
        u
    }

    /// Whether `s` holds an ephemeral port toward its remote end.
    pub fn is_client(&self, s: &SocketRecord) -> bool {
        holds_port(s.state)
            && self.space.contains(s.local.port)
            && !self.listening.contains(&s.local.port)
    }

    /// The use summed per destination: what `time_wait_storm` judges. Its capacity is the
    /// sum of the per-route capacities `port_exhaustion` judges.
    pub fn destinations(&self) -> BTreeMap<Endpoint, DestUse> {
        let mut out: BTreeMap<Endpoint, DestUse> = BTreeMap::new();
        for ((remote, _), h) in &self.routes {
            let d = out.entry(*remote).or_default();
            d.held.total += h.total;
            d.held.time_wait += h.time_wait;
            d.sources += 1;
            d.capacity += self.space.usable;
        }
        out
    }
}

/// New connections per route over the last polls (up to [`RATE_WINDOW_S`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewConns {
    /// Seconds since the previous snapshot; `None` without a usable previous one.
    pub interval_s: Option<f64>,
    /// Per route: connections whose 4-tuple the poll before did not hold, summed over the
    /// intervals of the window in which the route was tracked, and those intervals' seconds.
    pub per_route: HashMap<Route, (u64, f64)>,
}

impl NewConns {
    /// New connections per second on `route`, when the latest interval was measured and
    /// the route was tracked in some interval of the window.
    pub fn per_s(&self, route: &Route) -> Option<f64> {
        self.interval_s?;
        let (n, secs) = self.per_route.get(route)?;
        (*secs > 0.0).then(|| *n as f64 / secs)
    }

    /// The seconds `route`'s rate covers.
    pub fn window_s(&self, route: &Route) -> Option<f64> {
        self.interval_s?;
        self.per_route.get(route).map(|r| r.1)
    }
}

/// How far back a rate of new connections looks: long enough that one slow poll or a
/// client's pause does not swing the forecast, short enough to follow a new burst.
pub const RATE_WINDOW_S: f64 = 10.0;

/// One interval's new connections per tracked route.
#[derive(Debug)]
struct Interval {
    end_ms: i64,
    secs: f64,
    counts: HashMap<Route, u64>,
}

/// Remembers the client-side 4-tuples of the previous snapshot to count new ones.
///
/// A connection opened and closed between two polls still holds its port at the second one
/// (in TIME_WAIT for 60 s when this host closed first), so the 4-tuples the second poll has
/// and the first had not are the connections opened in between that hold a port, the very
/// quantity that fills the range; ones that left no TIME_WAIT (the peer closed first) take
/// no port and are rightly not counted. Blind spots: polls over 50 s apart (a TIME_WAIT may
/// have expired), and a 4-tuple reused through `tcp_tw_reuse` (it looks old).
///
/// The rate sums the intervals of the last [`RATE_WINDOW_S`]; a namespace change or a gap
/// over 50 s starts it afresh.
///
/// Only routes holding at least `floor` ports keep their port lists (the rule never judges
/// the others), as sorted `u16`s: two bytes a socket, compared by one merge walk.
#[derive(Debug, Default)]
pub struct NewConnTracker {
    prev: Option<Seen>,
    recent: VecDeque<Interval>,
}

/// What one snapshot left for the next: its namespace, time, every route it had, and the
/// sorted local ports of the routes at or above the floor.
#[derive(Debug)]
struct Seen {
    netns: String,
    t_ms: i64,
    routes: HashSet<Route>,
    ports: HashMap<Route, Vec<u16>>,
}

impl NewConnTracker {
    /// A tracker with nothing seen.
    pub fn new() -> NewConnTracker {
        NewConnTracker::default()
    }

    /// Counts the new client connections of `ports` (from `snap`) on every route holding at
    /// least `floor` ports, against the previous snapshot of the same namespace, then
    /// remembers this one. A route the previous snapshot did not have at all is all new;
    /// one it had below the floor is left unknown.
    pub fn observe(&mut self, snap: &Snapshot, ports: &PortUse, floor: u64) -> NewConns {
        let tracked: HashMap<Route, Vec<u16>> = ports
            .routes
            .iter()
            .filter(|(_, h)| h.total >= floor)
            .filter_map(|(r, _)| Some((*r, ports.local_ports.get(r)?.clone())))
            .collect();
        let mut out = NewConns::default();
        let interval = self.prev.as_ref().and_then(|prev| {
            let secs = (snap.taken_at_ms - prev.t_ms) as f64 / 1000.0;
            if prev.netns != snap.netns || secs <= 0.0 || secs > MAX_RATE_INTERVAL_S {
                return None;
            }
            let mut counts = HashMap::new();
            for (route, now) in &tracked {
                let new = match prev.ports.get(route) {
                    Some(before) => Some(not_in(now, before)),
                    None if !prev.routes.contains(route) => Some(now.len() as u64),
                    None => None,
                };
                if let Some(n) = new {
                    counts.insert(*route, n);
                }
            }
            Some(Interval {
                end_ms: snap.taken_at_ms,
                secs,
                counts,
            })
        });
        match interval {
            Some(i) => {
                out.interval_s = Some(i.secs);
                self.recent.push_back(i);
                let start = snap.taken_at_ms - (RATE_WINDOW_S * 1000.0) as i64;
                // Drop the intervals that ended before the window began (the newest stays).
                while self.recent.len() > 1
                    && self.recent.front().is_some_and(|f| f.end_ms <= start)
                {
                    self.recent.pop_front();
                }
                for i in &self.recent {
                    for (route, n) in &i.counts {
                        let e = out.per_route.entry(*route).or_insert((0, 0.0));
                        e.0 += n;
                        e.1 += i.secs;
                    }
                }
            }
            None => self.recent.clear(),
        }
        self.prev = Some(Seen {
            netns: snap.netns.clone(),
            t_ms: snap.taken_at_ms,
            routes: ports.routes.keys().copied().collect(),
            ports: tracked,
        });
        out
    }
}

/// How many of the sorted `now` are not in the sorted `before`.
fn not_in(now: &[u16], before: &[u16]) -> u64 {
    let (mut i, mut n) = (0, 0);
    for p in now {
        while i < before.len() && before[i] < *p {
            i += 1;
        }
        if before.get(i) != Some(p) {
            n += 1;
        }
    }
    n
}

/// Where the ports of one route are heading at a constant rate of new connections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outlook {
    /// Every usable port is held: `connect()` fails with EADDRNOTAVAIL now.
    Exhausted,
    /// The held ports reach the capacity in this many seconds.
    ExhaustsIn(f64),
    /// The held ports level off at this many (below the capacity).
    Steady(f64),
    /// No rate was measured.
    Unknown,
}

/// Forecasts one route: `capacity` usable ports, `held` of them held now, `time_wait` of
/// those in TIME_WAIT, `rate` new connections per second that each keep their port
/// `hold_s` seconds after closing ([`TIME_WAIT_S`], or [`TW_REUSE_HOLD_S`] where
/// `tcp_tw_reuse` lets a new connection take a TIME_WAIT 4-tuple).
///
/// The model. Let `A = held − time_wait` (open and closing connections: their number is
/// taken as steady) and `r` the rate. Each new connection adds one TIME_WAIT that leaves
/// `hold_s` later, so the TIME_WAIT population tends to `r·hold_s` (Little's law) and the
/// held ports to the steady level `L = A + r·hold_s`.
/// - `L < capacity`: the ports never run out: [`Outlook::Steady`]`(L)`.
/// - `L ≥ capacity`: the TIME_WAIT population is still below `r·hold_s`, i.e. it is
///   younger than `hold_s` and none of it leaves before the ports are gone, so the held
///   count grows by `r` a second: exhaustion in `(capacity − held) / r` seconds.
/// - `held ≥ capacity`: [`Outlook::Exhausted`], whatever the rate.
pub fn forecast(capacity: u64, held: Held, rate: Option<f64>, hold_s: f64) -> Outlook {
    if held.total >= capacity {
        return Outlook::Exhausted;
    }
    let Some(r) = rate.filter(|r| r.is_finite() && *r >= 0.0) else {
        return Outlook::Unknown;
    };
    let steady = held.active() as f64 + r * hold_s;
    if r > 0.0 && steady >= capacity as f64 {
        Outlook::ExhaustsIn((capacity - held.total) as f64 / r)
    } else {
        Outlook::Steady(steady)
    }
}

/// Whether `tcp_tw_reuse` lets a new connection from `source` to `remote` take a
/// TIME_WAIT 4-tuple: mode 1 always, mode 2 (the kernel's default) only when either end is
/// loopback, and never without TCP timestamps (`tcp_timestamps` 0), which the reuse relies
/// on. Unread sysctls count as the kernel's defaults (2 and 1).
pub fn tw_reuse_applies(
    tw_reuse: Option<i64>,
    timestamps: Option<i64>,
    source: IpAddr,
    remote: &Endpoint,
) -> bool {
    let loopback = remote.ip.is_loopback() || source.is_loopback();
    timestamps.unwrap_or(1) != 0
        && match tw_reuse.unwrap_or(2) {
            1 => true,
            2 => loopback,
            _ => false,
        }
}

/// The most new connections per second a route sustains: the ports the open connections
/// leave free, each held `hold_s` after closing.
pub fn max_rate(capacity: u64, held: Held, hold_s: f64) -> f64 {
    capacity.saturating_sub(held.active()) as f64 / hold_s
}

#[cfg(test)]
#[path = "ports_tests.rs"]
mod tests;
