//! The dashboard's own short memory: per-state counts per tick (and the peak of each 10 s
//! over the last hour) for the trend charts and growth rates, kernel-counter rates from
//! consecutive ticks, and the socket identity used to keep selections across ticks. Socket
//! ages come from the analyzer ([`crate::analyze::ages`]), not from here, so the dashboard
//! and the findings agree. Bounded; fed only by [`crate::tui::state::app::App`] on each
//! tick. It does not depend on the analyzer's history, so the dashboard works whatever the
//! analyzer keeps.

use std::collections::{HashMap, VecDeque};

use crate::model::{Endpoint, Family, SocketRecord, StateCounts, TcpState};
use crate::tui::state::event::TickData;

/// How many ticks the fine history keeps (ten minutes at the default 1 s interval).
pub const HISTORY_LEN: usize = 600;

/// The coarse history's bucket: one point per 10 s, each the highest count seen in it, so a
/// spike between points is not lost.
pub const COARSE_BUCKET_MS: i64 = 10_000;

/// The coarse history's length: one hour of buckets. With the fine ring this bounds a
/// namespace's trend memory at about 90 KiB whatever the interval and however long it runs.
pub const COARSE_LEN: usize = 360;

/// The trend charts' time windows (`w` cycles them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrendWindow {
    /// The last minute.
    OneMinute,
    /// The last ten minutes.
    #[default]
    TenMinutes,
    /// The last hour.
    OneHour,
}

impl TrendWindow {
    /// The window's length in milliseconds.
    pub fn ms(self) -> i64 {
        match self {
            TrendWindow::OneMinute => 60_000,
            TrendWindow::TenMinutes => 600_000,
            TrendWindow::OneHour => 3_600_000,
        }
    }

    /// The next window, wrapping around.
    pub fn next(self) -> TrendWindow {
        match self {
            TrendWindow::OneMinute => TrendWindow::TenMinutes,
            TrendWindow::TenMinutes => TrendWindow::OneHour,
            TrendWindow::OneHour => TrendWindow::OneMinute,
        }
    }

    /// The window as the charts label it.
    pub fn label(self) -> &'static str {
        match self {
            TrendWindow::OneMinute => "1m",
            TrendWindow::TenMinutes => "10m",
            TrendWindow::OneHour => "1h",
        }
    }
}

/// One trend series: `(seconds before now, count)` points, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The points; x is ≤ 0.
    pub points: Vec<(f64, f64)>,
    /// True when the points are the coarse 10 s peaks rather than every tick.
    pub coarse: bool,
}

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

/// Per-state counts: every tick over the last [`HISTORY_LEN`] ticks, and the peak of each
/// [`COARSE_BUCKET_MS`] over the last hour, so any window up to an hour can be drawn at a
/// fixed memory cost.
#[derive(Debug, Clone, Default)]
pub struct StateHistory {
    samples: VecDeque<(i64, StateCounts)>,
    /// `(bucket start, element-wise max of the counts in it)`.
    coarse: VecDeque<(i64, StateCounts)>,
}

impl StateHistory {
    /// Appends one tick, dropping the oldest beyond [`HISTORY_LEN`] (and, for the coarse
    /// history, beyond [`COARSE_LEN`] buckets).
    pub fn push(&mut self, at_ms: i64, counts: StateCounts) {
        if self.samples.len() == HISTORY_LEN {
            self.samples.pop_front();
        }
        self.samples.push_back((at_ms, counts));
        let bucket = at_ms.saturating_sub(at_ms.rem_euclid(COARSE_BUCKET_MS));
        match self.coarse.back_mut() {
            Some((b, peak)) if *b == bucket => {
                for (p, c) in peak.0.iter_mut().zip(counts.0) {
                    *p = (*p).max(c);
                }
            }
            _ => {
                if self.coarse.len() == COARSE_LEN {
                    self.coarse.pop_front();
                }
                self.coarse.push_back((bucket, counts));
            }
        }
    }

    /// `state`'s points over the last `window` before `now_ms`: every tick when the fine
    /// history reaches back that far (within one tick: 600 ticks a second apart span 599 s,
    /// and that is ten minutes) or is all there is, else the coarse peaks.
    pub fn window(&self, state: TcpState, window: TrendWindow, now_ms: i64) -> Series {
        let from = now_ms.saturating_sub(window.ms());
        let tick = match (self.samples.len().checked_sub(2), self.samples.back()) {
            (Some(i), Some(&(last, _))) => last.saturating_sub(self.samples[i].0).max(0),
            _ => 0,
        };
        let fine_covers = self
            .samples
            .front()
            .is_some_and(|&(t, _)| t <= from.saturating_add(tick))
            || self.samples.len() < HISTORY_LEN;
        let (src, coarse) = if fine_covers {
            (&self.samples, false)
        } else {
            (&self.coarse, true)
        };
        let points = src
            .iter()
            .filter(|&&(t, _)| t >= from && t <= now_ms)
            .map(|(t, c)| {
                (
                    t.saturating_sub(now_ms) as f64 / 1000.0,
                    c.get(state) as f64,
                )
            })
            .collect();
        Series { points, coarse }
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
                .is_some_and(|&(t, _)| at_ms.saturating_sub(t) > GROWTH_WINDOW_MS)
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

    #[test]
    fn a_full_fine_ring_still_draws_ten_minutes_tick_by_tick() {
        let mut h = StateHistory::default();
        for k in 0..HISTORY_LEN as i64 * 2 {
            h.push(k * 1000, StateCounts::default());
        }
        let now = (HISTORY_LEN as i64 * 2 - 1) * 1000;
        let ten = h.window(TcpState::CloseWait, TrendWindow::TenMinutes, now);
        assert!(!ten.coarse);
        assert_eq!(ten.points.len(), HISTORY_LEN);
        let hour = h.window(TcpState::CloseWait, TrendWindow::OneHour, now);
        assert!(hour.coarse);
        assert_eq!(hour.points.len(), 120);
    }

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
        assert_eq!(h.len(), 121);
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
