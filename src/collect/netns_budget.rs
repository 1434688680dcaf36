//! Resource bounds for collecting many network namespaces at once (`--all-netns`): how many
//! may be held, and how many descriptors they may take, so that discovery and the `/proc`
//! scans always keep theirs. Namespaces left out are counted by reason, never dropped
//! silently. This module only counts; it opens nothing but `/proc/self/fd` to count.

use std::sync::atomic::{AtomicU64, Ordering};

/// Namespaces collected at once unless `--max-netns` says otherwise.
pub const DEFAULT_MAX_NETNS: usize = 256;

/// Descriptors always left free for discovery (`/proc`, `/run/netns`), the attribution
/// scan (`/proc/PID/fd`), counters and sysctls, and the rest of the process.
pub const FD_RESERVE: u64 = 64;

/// Descriptors another part of the process may take at any time (the endpoint's
/// connections under `serve --all-netns`): set once by the mode, kept out of the namespaces'
/// share so the two budgets never add up past the limit.
static RESERVED_ELSEWHERE: AtomicU64 = AtomicU64::new(0);

/// Keeps `n` descriptors out of every later [`Admission`]: what another part of the process
/// may hold at most. Counted whole even while that part holds fewer (those are in the open
/// count too), so the namespaces' share errs small, never over.
pub fn reserve_elsewhere(n: u64) {
    RESERVED_ELSEWHERE.store(n, Ordering::Relaxed);
}

/// Descriptors a collected namespace holds between ticks: the namespace itself and its
/// sock_diag socket.
pub const FDS_PER_NETNS: u64 = 2;

/// Why a discovered namespace was not collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Over the namespace limit (`--max-netns`).
    Limit,
    /// Its descriptors would eat into [`FD_RESERVE`] under `RLIMIT_NOFILE`.
    Fds,
}

impl SkipReason {
    /// The `reason` label value: `limit` or `fds`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Limit => "limit",
            SkipReason::Fds => "fds",
        }
    }
}

/// Namespaces discovered but not collected, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Over `--max-netns`.
    pub limit: u64,
    /// Out of descriptors.
    pub fds: u64,
}

impl Skipped {
    /// Counts one more.
    pub fn add(&mut self, why: SkipReason) {
        match why {
            SkipReason::Limit => self.limit += 1,
            SkipReason::Fds => self.fds += 1,
        }
    }

    /// All skipped.
    pub fn total(&self) -> u64 {
        self.limit + self.fds
    }

    /// One line for every face: `300 namespaces not collected: 44 over --max-netns 256,
    /// 256 for lack of file descriptors (RLIMIT_NOFILE 256, 64 kept free)`; `None` when
    /// none was skipped.
    pub fn note(&self, max: usize) -> Option<String> {
        let (what, why) = self.failure(max)?;
        Some(format!("{what} not collected: {why}"))
    }

    /// The same as a failure entry: what (`300 namespaces`) and why (`skipped: …`).
    pub fn failure(&self, max: usize) -> Option<(String, String)> {
        if self.total() == 0 {
            return None;
        }
        let mut parts = Vec::new();
        if self.limit > 0 {
            parts.push(format!("{} over --max-netns {max}", self.limit));
        }
        if self.fds > 0 {
            parts.push(format!(
                "{} for lack of file descriptors (RLIMIT_NOFILE {}, {} kept free)",
                self.fds,
                nofile_soft(),
                FD_RESERVE + RESERVED_ELSEWHERE.load(Ordering::Relaxed)
            ));
        }
        Some((
            format!("{} namespaces", self.total()),
            format!("skipped: {}", parts.join(", ")),
        ))
    }
}

/// Admission of new namespaces for one tick: existing ones are kept, new ones enter in
/// order while both the limit and the descriptors allow; once one is refused every later
/// one is too, so the order (host, named, then first seen) decides who is left out.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    by_limit: usize,
    by_fds: u64,
}

impl Admission {
    /// Room for new namespaces given `held` already held, at most `max` in all. Counts the
    /// open descriptors once (one read of `/proc/self/fd`).
    pub fn new(max: usize, held: usize) -> Admission {
        let open = open_fds().unwrap_or(u64::MAX);
        let free = nofile_soft()
            .saturating_sub(open)
            .saturating_sub(FD_RESERVE)
            .saturating_sub(RESERVED_ELSEWHERE.load(Ordering::Relaxed));
        Admission {
            by_limit: max.saturating_sub(held),
            by_fds: free / FDS_PER_NETNS,
        }
    }

    /// Takes room for one more namespace, or says why there is none.
    pub fn admit(&mut self) -> Result<(), SkipReason> {
        if self.by_limit == 0 {
            return Err(SkipReason::Limit);
        }
        if self.by_fds == 0 {
            return Err(SkipReason::Fds);
        }
        self.by_limit -= 1;
        self.by_fds -= 1;
        Ok(())
    }
}

/// The soft `RLIMIT_NOFILE` (`u64::MAX` when unlimited or unreadable).
pub fn nofile_soft() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return u64::MAX;
    }
    lim.rlim_cur
}

/// Descriptors the process has open now (not counting the one used to count them).
pub fn open_fds() -> Option<u64> {
    let n = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(n.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_stops_at_the_limit_then_stays_stopped() {
        let mut a = Admission {
            by_limit: 2,
            by_fds: 10,
        };
        assert_eq!(a.admit(), Ok(()));
        assert_eq!(a.admit(), Ok(()));
        assert_eq!(a.admit(), Err(SkipReason::Limit));
        let mut b = Admission {
            by_limit: 10,
            by_fds: 1,
        };
        assert_eq!(b.admit(), Ok(()));
        assert_eq!(b.admit(), Err(SkipReason::Fds));
    }

    #[test]
    fn counts_descriptors_and_the_limit() {
        let open = open_fds().unwrap();
        assert!(open >= 3, "{open}");
        assert!(nofile_soft() > open);
        let a = Admission::new(5, 2);
        assert_eq!(a.by_limit, 3);
    }

    #[test]
    fn note_names_each_reason() {
        assert_eq!(Skipped::default().note(256), None);
        let s = Skipped { limit: 3, fds: 0 };
        assert_eq!(
            s.note(256).unwrap(),
            "3 namespaces not collected: skipped: 3 over --max-netns 256"
        );
    }
}
