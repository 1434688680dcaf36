//! A bounded ring of per-tick summaries: per-state counts (growth), CLOSE_WAIT and
//! FIN_WAIT2 per owner, SYN_RECV per listener and TIME_WAIT per destination. Gives growth
//! per minute (least-squares slope, so one noisy sample moves it by 1/n rather than
//! deciding it) and "grew at every sample" checks. Owns no socket-level state (that is
//! [`crate::analyze::ages`]) and never reads the kernel.

use std::collections::{HashMap, VecDeque};

use crate::analyze::aggregate::Aggregate;
use crate::model::{Endpoint, Name, Owner, Runtime, Snapshot, StateCounts, TcpState, Unit};

/// Destinations kept per tick for TIME_WAIT growth: the busiest ones. Bounds memory when a
/// host talks to many peers; the quiet ones could not fire the rule anyway.
const MAX_DESTINATIONS: usize = 256;

/// Who a per-owner count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OwnerKey {
    /// A process.
    Pid(u32),
    /// Owned by a process procfs would not name.
    Unattributed,
    /// No process owns them (orphaned sockets, inode 0).
    Orphaned,
}

impl OwnerKey {
    /// The key a socket with `owner` and `inode` counts under; `None` when it belongs to
    /// no group (unresolved).
    pub fn of(owner: Owner, inode: u64) -> Option<OwnerKey> {
        match owner {
            Owner::Process(p) | Owner::ViaListener(p) => Some(OwnerKey::Pid(p)),
            Owner::Unattributed => Some(OwnerKey::Unattributed),
            Owner::Ownerless => Some(OwnerKey::Orphaned),
            Owner::Unresolved if inode == 0 => Some(OwnerKey::Orphaned),
            Owner::Unresolved => None,
        }
    }
}

/// Who a CLOSE_WAIT leak counts under: a container (by runtime and id) or a systemd
/// `.service` over all its pids, so that a leak that survives a restart stays one series;
/// any other owner (no unit, or a scope or slice, whose processes are unrelated programs)
/// by its [`OwnerKey`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LeakKey {
    /// A process, or no nameable process.
    Owner(OwnerKey),
    /// A systemd service.
    Service(Unit),
    /// A container: its runtime and id (its name may only be read later).
    Container(Runtime, Name),
}

impl LeakKey {
    /// The key a socket with `owner` and `inode` counts under in `snap`; `None` when it
    /// belongs to no group (unresolved).
    pub fn of(snap: &Snapshot, owner: Owner, inode: u64) -> Option<LeakKey> {
        let key = OwnerKey::of(owner, inode)?;
        let OwnerKey::Pid(pid) = key else {
            return Some(LeakKey::Owner(key));
        };
        let Some(p) = snap.processes.get(&pid) else {
            return Some(LeakKey::Owner(key));
        };
        if let Some(c) = &p.container {
            return Some(LeakKey::Container(c.runtime, c.id.clone()));
        }
        match &p.unit {
            Some(u) if u.name.raw_bytes().ends_with(b".service") => {
                Some(LeakKey::Service(u.clone()))
            }
            _ => Some(LeakKey::Owner(key)),
        }
    }
}

/// What one tick contributes to history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tick {
    /// When the snapshot was taken (ms since the epoch).
    pub t_ms: i64,
    /// Sockets per state.
    pub states: StateCounts,
    /// CLOSE_WAIT sockets per leak owner (a service or container summed over its pids).
    pub close_wait: HashMap<LeakKey, u64>,
    /// FIN_WAIT2 sockets per owner.
    pub fin_wait2: HashMap<OwnerKey, u64>,
    /// SYN_RECV sockets per listener (local endpoint).
    pub syn_recv: HashMap<Endpoint, u64>,
    /// TIME_WAIT sockets per remote destination (the busiest `MAX_DESTINATIONS`).
    pub time_wait: HashMap<Endpoint, u64>,
}

impl Tick {
    /// Summarises one snapshot and its aggregate.
    pub fn new(snap: &Snapshot, agg: &Aggregate) -> Tick {
        let mut t = Tick {
            t_ms: snap.taken_at_ms,
            states: agg.states,
            ..Tick::default()
        };
        let mut tw: HashMap<Endpoint, u64> = HashMap::new();
        for s in &snap.sockets {
            match s.state {
                TcpState::CloseWait => {
                    if let Some(k) = LeakKey::of(snap, s.owner, s.inode) {
                        *t.close_wait.entry(k).or_default() += 1;
                    }
                }
                TcpState::FinWait2 => {
                    if let Some(k) = OwnerKey::of(s.owner, s.inode) {
                        *t.fin_wait2.entry(k).or_default() += 1;
                    }
                }
                TcpState::TimeWait => *tw.entry(s.remote).or_default() += 1,
                _ => {}
            }
        }
        let mut tw: Vec<(Endpoint, u64)> = tw.into_iter().collect();
        tw.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        tw.truncate(MAX_DESTINATIONS);
        t.time_wait = tw.into_iter().collect();
        t.syn_recv = agg
            .listeners
            .iter()
            .filter(|l| l.syn_recv() > 0)
            .map(|l| (l.local, l.syn_recv()))
            .collect();
        t
    }
}

/// The ring of recent ticks.
#[derive(Debug, Clone)]
pub struct History {
    ticks: VecDeque<Tick>,
    window_ms: i64,
    max_samples: usize,
}

impl History {
    /// Keeps ticks up to `window_s` old, and at most `max_samples` of them.
    pub fn new(window_s: u64, max_samples: usize) -> History {
        History {
            ticks: VecDeque::new(),
            window_ms: i64::try_from(window_s.saturating_mul(1000)).unwrap_or(i64::MAX),
            max_samples: max_samples.max(2),
        }
    }

    /// Appends a tick and evicts what fell out of the window. A tick older than the last
    /// one (clock stepped back) restarts history rather than corrupting slopes.
    pub fn push(&mut self, tick: Tick) {
        if self.ticks.back().is_some_and(|b| b.t_ms >= tick.t_ms) {
            self.ticks.clear();
        }
        let now = tick.t_ms;
        self.ticks.push_back(tick);
        while self.ticks.len() > self.max_samples
            || self
                .ticks
                .front()
                .is_some_and(|f| now - f.t_ms > self.window_ms)
        {
            self.ticks.pop_front();
        }
    }

    /// The ticks, oldest first.
    pub fn ticks(&self) -> impl Iterator<Item = &Tick> {
        self.ticks.iter()
    }

    /// Number of ticks held.
    pub fn len(&self) -> usize {
        self.ticks.len()
    }

    /// Whether no tick is held.
    pub fn is_empty(&self) -> bool {
        self.ticks.is_empty()
    }

    /// The counts of `state` over the window, oldest first.
    pub fn series(&self, state: TcpState) -> Vec<u64> {
        self.ticks.iter().map(|t| t.states.get(state)).collect()
    }

    /// Growth per minute of `value` over the window: the least-squares slope. `None` with
    /// fewer than two ticks.
    pub fn growth_per_min(&self, value: impl Fn(&Tick) -> u64) -> Option<f64> {
        let n = self.ticks.len();
        if n < 2 {
            return None;
        }
        let t0 = self.ticks.front()?.t_ms;
        let pts: Vec<(f64, f64)> = self
            .ticks
            .iter()
            .map(|t| ((t.t_ms - t0) as f64 / 60_000.0, value(t) as f64))
            .collect();
        let nf = n as f64;
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / nf;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / nf;
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        if sxx <= 0.0 {
            return None;
        }
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        Some(sxy / sxx)
    }

    /// Whether `value` rose at every tick over at least the last `window_ms` (at least three
    /// ticks: two rises).
    pub fn grew_every_sample(&self, window_ms: i64, value: impl Fn(&Tick) -> u64) -> bool {
        let Some(last) = self.ticks.back() else {
            return false;
        };
        let cutoff = last.t_ms - window_ms;
        // Start at the newest tick at or before the cutoff, so the rises span the window.
        let Some(start) = self.ticks.iter().rposition(|t| t.t_ms <= cutoff) else {
            return false;
        };
        let vals: Vec<u64> = self.ticks.iter().skip(start).map(&value).collect();
        vals.len() >= 3 && vals.windows(2).all(|w| w[1] > w[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(t_ms: i64, cw: u64) -> Tick {
        let mut t = Tick {
            t_ms,
            ..Tick::default()
        };
        t.states.0[TcpState::CloseWait.index()] = cw;
        t.close_wait.insert(LeakKey::Owner(OwnerKey::Pid(1)), cw);
        t
    }

    fn cw(t: &Tick) -> u64 {
        t.close_wait
            .get(&LeakKey::Owner(OwnerKey::Pid(1)))
            .copied()
            .unwrap_or(0)
    }

    #[test]
    fn slope_per_minute_and_robust_to_one_spike() {
        let mut h = History::new(600, 600);
        for i in 0..11 {
            h.push(tick(i * 6_000, 100 + 4 * i as u64));
        }
        let g = h.growth_per_min(cw).unwrap();
        assert!((g - 40.0).abs() < 1e-9, "{g}");
        // One spike in the middle barely moves a least-squares slope.
        let mut h = History::new(600, 600);
        for i in 0..11 {
            let v = if i == 5 { 500 } else { 100 };
            h.push(tick(i * 6_000, v));
        }
        assert!(h.growth_per_min(cw).unwrap().abs() < 1e-9);
        assert_eq!(h.series(TcpState::CloseWait).len(), 11);
    }

    #[test]
    fn window_and_cap_bound_the_ring() {
        let mut h = History::new(60, 5);
        for i in 0..100 {
            h.push(tick(i * 1_000, i as u64));
        }
        assert_eq!(h.len(), 5);
        let mut h = History::new(10, 600);
        for i in 0..100 {
            h.push(tick(i * 1_000, i as u64));
        }
        assert_eq!(h.len(), 11);
        // Clock stepping back restarts history.
        h.push(tick(5, 1));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn grew_every_sample_needs_the_whole_window() {
        let mut h = History::new(600, 600);
        for i in 0..7 {
            h.push(tick(i * 10_000, 1 + i as u64));
        }
        assert!(h.grew_every_sample(60_000, cw));
        assert!(
            !h.grew_every_sample(120_000, cw),
            "history shorter than window"
        );
        h.push(tick(70_000, 7)); // flat once
        assert!(!h.grew_every_sample(60_000, cw));
    }
}
