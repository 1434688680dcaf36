//! The dashboard's own short memory: per-state counts per tick for the sparklines and
//! growth rates, kernel-counter rates from consecutive ticks, and the socket identity used to
//! keep selections across ticks. Socket ages come from the analyzer ([`crate::analyze::ages`]),
//! not from here, so the dashboard and the findings agree. Bounded; fed only by [`crate::tui::state::app::App`] on each tick. It does not
//! depend on the analyzer's history so the dashboard works whatever the analyzer keeps.

use std::collections::{HashMap, VecDeque};

use crate::model::{Endpoint, Family, SocketRecord, StateCounts, TcpState};
use crate::tui::state::event::TickData;

/// How many ticks the sparklines keep (five minutes at the default 1 s interval).
pub const HISTORY_LEN: usize = 300;

/// Growth rates look back this far.
const GROWTH_WINDOW_MS: i64 = 60_000;

/// The TcpExt counters whose per-second rates the Listeners view shows.
pub const RATE_COUNTERS: [&str; 6] = [
    "ListenOverflows",
    "ListenDrops",
    "TCPReqQFullDrop",
    "TCPReqQFullDoCookies",
    "SyncookiesSent",
    "TCPTimeWaitOverflow",
];

/// Per-state counts over the last [`HISTORY_LEN`] ticks.
#[derive(Debug, Clone, Default)]
pub struct StateHistory {
    samples: VecDeque<(i64, StateCounts)>,
}

impl StateHistory {
    /// Appends one tick, dropping the oldest beyond [`HISTORY_LEN`].
    pub fn push(&mut self, at_ms: i64, counts: StateCounts) {
        if self.samples.len() == HISTORY_LEN {
            self.samples.pop_front();
        }
        self.samples.push_back((at_ms, counts));
    }

    /// The series for one state, oldest first.
    pub fn series(&self, state: TcpState) -> Vec<u64> {
        self.samples.iter().map(|(_, c)| c.get(state)).collect()
    }

    /// Change per minute of `state` over the last minute (or what history there is);
    /// `None` until two ticks at different times exist.
    pub fn growth_per_min(&self, state: TcpState) -> Option<f64> {
        let &(last_t, last) = self.samples.back()?;
        let &(first_t, first) = self
            .samples
            .iter()
            .find(|(t, _)| last_t - *t <= GROWTH_WINDOW_MS)?;
        let dt = last_t - first_t;
        if dt <= 0 {
            return None;
        }
        let delta = last.get(state) as f64 - first.get(state) as f64;
        Some(delta * 60_000.0 / dt as f64)
    }

    /// Number of ticks held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True before the first tick.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// CLOSE_WAIT count per process over the last minute, for "+N/min" next to the leakers.
/// Only pids with CLOSE_WAIT sockets in the latest tick are kept.
#[derive(Debug, Clone, Default)]
pub struct CloseWaitTrend {
    by_pid: HashMap<u32, VecDeque<(i64, u64)>>,
}

impl CloseWaitTrend {
    /// Folds in one tick's `(pid, CLOSE_WAIT count)` pairs.
    pub fn observe(&mut self, at_ms: i64, counts: impl IntoIterator<Item = (u32, u64)>) {
        let mut next = HashMap::new();
        for (pid, n) in counts.into_iter().filter(|&(_, n)| n > 0) {
            let mut q = self.by_pid.remove(&pid).unwrap_or_default();
            while q
                .front()
                .is_some_and(|&(t, _)| at_ms - t > GROWTH_WINDOW_MS)
            {
                q.pop_front();
            }
            q.push_back((at_ms, n));
            next.insert(pid, q);
        }
        self.by_pid = next;
    }

    /// Growth per minute of `pid`'s CLOSE_WAIT count, once two ticks exist.
    pub fn growth_per_min(&self, pid: u32) -> Option<f64> {
        let q = self.by_pid.get(&pid)?;
        let (&(t0, n0), &(t1, n1)) = (q.front()?, q.back()?);
        let dt = t1 - t0;
        (dt > 0).then(|| (n1 as f64 - n0 as f64) * 60_000.0 / dt as f64)
    }
}

/// Identity of a socket across ticks: the sock_diag cookie when there is one, otherwise
/// the family, 4-tuple and inode (what /proc offers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketKey {
    /// sock_diag cookie.
    Cookie(u64),
    /// Family, local, remote, inode.
    Tuple(Family, Endpoint, Endpoint, u64),
}

impl SocketKey {
    /// The key of `s`.
    pub fn of(s: &SocketRecord) -> SocketKey {
        match s.cookie {
            Some(c) => SocketKey::Cookie(c),
            None => SocketKey::Tuple(s.family, s.local, s.remote, s.inode),
        }
    }
}

/// Folds one tick into a namespace's trends (the shown one's or a parked one's).
pub fn observe(history: &mut StateHistory, cw_trend: &mut CloseWaitTrend, t: &TickData) {
    let snap = &t.snapshot;
    // The aggregate, not the socket list: a recording without sockets has counts only.
    history.push(snap.taken_at_ms, t.analysis.aggregate.states);
    cw_trend.observe(
        snap.taken_at_ms,
        t.analysis
            .aggregate
            .processes
            .iter()
            .map(|p| (p.process.pid, p.states.get(TcpState::CloseWait))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(state: TcpState, n: u64) -> StateCounts {
        let mut c = StateCounts::default();
        c.0[state.index()] = n;
        c
    }

    #[test]
    fn growth_over_the_last_minute() {
        let mut h = StateHistory::default();
        assert_eq!(h.growth_per_min(TcpState::CloseWait), None);
        for i in 0..=120 {
            h.push(i * 1000, counts(TcpState::CloseWait, (i * 2) as u64));
        }
        let g = h.growth_per_min(TcpState::CloseWait).unwrap();
        assert!((g - 120.0).abs() < 1e-9, "{g}");
        assert_eq!(h.series(TcpState::CloseWait).len(), 121);
    }

    #[test]
    fn history_is_bounded() {
        let mut h = StateHistory::default();
        for i in 0..(HISTORY_LEN as i64 + 50) {
            h.push(i, StateCounts::default());
        }
        assert_eq!(h.len(), HISTORY_LEN);
    }

    #[test]
    fn close_wait_growth_per_process() {
        let mut t = CloseWaitTrend::default();
        for i in 0..=90i64 {
            t.observe(i * 1000, [(42, 10 + i as u64), (7, 3)]);
        }
        assert_eq!(t.growth_per_min(42), Some(60.0));
        assert_eq!(t.growth_per_min(7), Some(0.0));
        t.observe(91_000, [(7, 3)]);
        assert_eq!(t.growth_per_min(42), None);
    }
}
