//! Socket inode → process attribution through procfs, cached between polls.
//!
//! Owns: walking `/proc/<pid>/fd`, the inode → pid cache, the [`ProcessInfo`] of pids that
//! own sockets, and deciding why sockets stay unattributed ([`unattributed_reason`]). It
//! only sets [`SocketRecord::owner`]; it must not dump sockets, enter namespaces or count
//! anything (that is `netlink`/`procnet`, `netns` and `analyze`).
//!
//! Reading every `/proc/*/fd` costs about 450 ms at 100k sockets, while one `stat` of a
//! `/proc/<pid>/fd` directory (whose `st_size` is the fd count since Linux 6.2) costs
//! microseconds. So each poll probes every pid (fd count + start time) and re-reads the fd
//! links of only the pids that are new, were reused, or whose fd count changed. A full
//! rescan runs every [`RescanPolicy::full_every`], and, when sockets with unknown inodes
//! remain after the incremental pass, at most once per [`RescanPolicy::unknown_min_interval`]
//! and never more often than [`RescanPolicy::unknown_cost_factor`] × its own last cost, so a
//! user who cannot read other pids does not pay a full scan every tick.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::fasthash::{IdMap, IdSet};
use crate::model::{Attribution, Name, ProcessInfo, SocketRecord};

pub mod cgroup;
mod diagnosis;
mod passwd;
mod requests;
mod shared;
mod status;
mod stream;
mod tables;
mod walk;
pub use diagnosis::{
    classify_refusal, hidepid_in_mountinfo, unattributed_reason, AttributionFacts, Caps, Refusal,
};
pub use requests::attribute_requests;
pub use shared::SharedResolver;
pub use tables::{Attributable, Tables};

/// When the resolver falls back to reading every pid's fd links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RescanPolicy {
    /// A full rescan at least this often, to drop stale mappings the fd-count probe cannot
    /// see (an fd closed and another opened between two polls, fds passed over SCM_RIGHTS).
    pub full_every: Duration,
    /// Minimum time from the last full rescan (of either kind) before unknown inodes may
    /// trigger another.
    pub unknown_min_interval: Duration,
    /// An unknown-inode rescan also waits this many times the last full rescan's cost, which
    /// caps the time spent in them at about 1/factor of wall time.
    pub unknown_cost_factor: u32,
}

impl Default for RescanPolicy {
    fn default() -> Self {
        RescanPolicy {
            full_every: Duration::from_secs(60),
            unknown_min_interval: Duration::from_secs(2),
            unknown_cost_factor: 10,
        }
    }
}

/// Why the last poll read every pid's fd links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullRescan {
    /// The first poll, or [`RescanPolicy::full_every`] elapsed.
    Periodic,
    /// Sockets with unknown inodes remained after the incremental pass.
    UnknownInodes,
}

/// What the last [`ProcessResolver::attribute`] call did, for tests and `--debug` output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Pids found in the proc root.
    pub pids_listed: u64,
    /// Pids whose fd links were read (new, reused, fd count changed, or full rescan).
    pub pids_rescanned: u64,
    /// fd links read with readlinkat.
    pub fds_read: u64,
    /// Pids whose fd directory or links were refused (EACCES/EPERM).
    pub denied_pids: u64,
    /// Sockets with an inode that no readable pid holds, after all passes.
    pub unknown_inodes: u64,
    /// Set when this poll did a full rescan.
    pub full_rescan: Option<FullRescan>,
    /// Wall time of the whole call.
    pub elapsed: Duration,
}

/// `socket:[12345]` → 12345.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Field 22 (start time in clock ticks) of a `/proc/<pid>/stat` line. The comm field may
/// hold spaces and parentheses, so fields are counted after the last `)`.
pub fn stat_start_time(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// Pids holding one socket inode; usually one, several after fork or fd passing.
#[derive(Debug, Clone)]
enum Holders {
    One(u32),
    Many(Vec<u32>),
}

impl Holders {
    fn lowest(&self) -> Option<u32> {
        match self {
            Holders::One(p) => Some(*p),
            Holders::Many(v) => v.iter().copied().min(),
        }
    }
}

/// What the cache remembers about one pid.
#[derive(Debug, Clone, Default)]
struct PidEntry {
    start_time: u64,
    fd_count: u64,
    /// Socket inodes it held at its last scan.
    inodes: Vec<u64>,
    /// Its fd directory was unreadable at its last scan.
    denied: bool,
    /// Denied, and it runs as another user (read only for denied pids).
    denied_other_user: bool,
    /// Read lazily the first time one of its sockets is reported.
    info: Option<ProcessInfo>,
}

/// Maps socket inodes to processes, cached between polls. One per proc root: pids and
/// socket inodes are host-wide, so namespaces collected together share one
/// ([`SharedResolver`]).
pub struct ProcessResolver {
    proc_root: PathBuf,
    policy: RescanPolicy,
    pids: IdMap<u32, PidEntry>,
    holders: IdMap<u64, Holders>,
    users: HashMap<u32, Name>,
    container_names: cgroup::ContainerNames,
    last_full: Option<Instant>,
    last_full_cost: Duration,
    stats: ScanStats,
    stat_buf: Vec<u8>,
    probes: u64,
    /// Inodes a probe left unknown since the last full rescan.
    unresolved: IdSet<u64>,
}

impl Default for ProcessResolver {
    fn default() -> Self {
        ProcessResolver::new()
    }
}

impl ProcessResolver {
    /// A resolver over the host's /proc.
    pub fn new() -> ProcessResolver {
        ProcessResolver::with_proc_root("/proc")
    }

    /// A resolver over another proc root (a fixture tree in tests, or a second procfs mount).
    pub fn with_proc_root(root: impl Into<PathBuf>) -> ProcessResolver {
        ProcessResolver {
            proc_root: root.into(),
            policy: RescanPolicy::default(),
            pids: IdMap::default(),
            holders: IdMap::default(),
            users: HashMap::new(),
            container_names: cgroup::ContainerNames::default(),
            last_full: None,
            last_full_cost: Duration::ZERO,
            stats: ScanStats::default(),
            stat_buf: Vec::with_capacity(512),
            probes: 0,
            unresolved: IdSet::default(),
        }
    }

    /// Reads docker's container names from another directory (tests).
    pub fn with_docker_root(mut self, root: impl Into<PathBuf>) -> ProcessResolver {
        self.container_names = cgroup::ContainerNames::new(root.into());
        self
    }

    /// Replaces the rescan policy.
    pub fn with_policy(mut self, policy: RescanPolicy) -> ProcessResolver {
        self.policy = policy;
        self
    }

    /// What the last [`ProcessResolver::attribute`] call did; a reuse of its scan
    /// ([`ProcessResolver::attribute_from_last_scan`]) updates only the unknown and denied
    /// counts.
    pub fn last_scan_stats(&self) -> &ScanStats {
        &self.stats
    }

    /// Sets `owner` on every TCP socket and returns the processes referenced.
    pub fn attribute(
        &mut self,
        sockets: &mut [SocketRecord],
    ) -> (BTreeMap<u32, ProcessInfo>, Attribution) {
        self.attribute_tables(Tables::tcp(sockets))
    }

    /// Sets `owner` on every socket of every table, with one probe of the pids for all of
    /// them, and returns the processes referenced.
    pub fn attribute_tables(
        &mut self,
        mut t: Tables<'_>,
    ) -> (BTreeMap<u32, ProcessInfo>, Attribution) {
        let started = Instant::now();
        self.probes += 1;
        self.stats = ScanStats::default();
        let listed = self.list_pids();
        self.stats.pids_listed = listed.len() as u64;

        let periodic = self
            .last_full
            .is_none_or(|t| t.elapsed() >= self.policy.full_every);
        if periodic {
            self.full_rescan(&listed, FullRescan::Periodic);
        } else {
            self.incremental(&listed);
            if self.count_unknown(&t) > 0 && self.unknown_rescan_due() {
                self.full_rescan(&listed, FullRescan::UnknownInodes);
            }
        }
        let out = self.assign(&mut t);
        self.stats.elapsed = started.elapsed();
        out
    }

    /// [`ProcessResolver::attribute_tables`] without probing the pids when the last scan
    /// already mapped every inode in `t`: for more sockets of the same moment (another
    /// namespace's; sockfs inodes are host-wide). An unknown inode (a socket opened since)
    /// takes the full path, probe and rate limits included, so a later namespace is
    /// attributed as well as the first; one that a probe already failed to name (another
    /// user's, without the capabilities) does not probe again until the next full rescan,
    /// or a fleet of namespaces would probe once each per tick.
    pub fn attribute_from_last_scan(
        &mut self,
        mut t: Tables<'_>,
    ) -> (BTreeMap<u32, ProcessInfo>, Attribution) {
        let (holders, unresolved) = (&self.holders, &self.unresolved);
        let fresh = t.any_inode(|i| !holders.contains_key(&i) && !unresolved.contains(&i));
        if self.last_full.is_none() || fresh {
            return self.attribute_noting_unresolved(t);
        }
        self.assign(&mut t)
    }

    /// [`ProcessResolver::attribute_tables`], then remembers the inodes it left unknown for
    /// [`ProcessResolver::attribute_from_last_scan`] (only the shared path reads them, so a
    /// single namespace's tick does not pay for the set).
    pub fn attribute_noting_unresolved(
        &mut self,
        t: Tables<'_>,
    ) -> (BTreeMap<u32, ProcessInfo>, Attribution) {
        let (tcp, udp, unix) = (t.tcp, t.udp, t.unix);
        let out = self.attribute_tables(Tables {
            tcp: &mut *tcp,
            udp: &mut *udp,
            unix: &mut *unix,
        });
        let t = Tables { tcp, udp, unix };
        let (holders, unresolved) = (&self.holders, &mut self.unresolved);
        t.each_inode(|i| {
            if !holders.contains_key(&i) {
                unresolved.insert(i);
            }
        });
        out
    }

    /// How many times the pids were probed ([`ProcessResolver::attribute`] calls), ever.
    pub fn probes(&self) -> u64 {
        self.probes
    }

    /// Sets owners from the maps the last scan left and explains what stayed unattributed.
    fn assign(&mut self, t: &mut Tables<'_>) -> (BTreeMap<u32, ProcessInfo>, Attribution) {
        let unknown = self.assign_owners(t);
        self.conclude(unknown, t.pids())
    }

    /// The processes `pids` name and why `unknown` sockets stayed unattributed.
    fn conclude(
        &mut self,
        unknown: u64,
        pids: impl Iterator<Item = u32>,
    ) -> (BTreeMap<u32, ProcessInfo>, Attribution) {
        self.stats.unknown_inodes = unknown;
        self.stats.denied_pids = self.pids.values().filter(|e| e.denied).count() as u64;

        let processes = self.referenced_processes(pids);
        let facts = AttributionFacts {
            unattributed: unknown,
            denied_pids: self.stats.denied_pids,
            denied_other_users: self.pids.values().filter(|e| e.denied_other_user).count() as u64,
            hidepid: unknown > 0 && self.hidepid(),
            caps: if unknown > 0 {
                Caps::effective()
            } else {
                Caps::default()
            },
        };
        let attribution = Attribution {
            attempted: true,
            unreadable_pids: self.stats.denied_pids,
            reason: unattributed_reason(&facts),
        };
        (processes, attribution)
    }

    fn list_pids(&self) -> Vec<u32> {
        let Ok(rd) = std::fs::read_dir(&self.proc_root) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// Probes every listed pid and rescans the changed ones; forgets exited pids.
    fn incremental(&mut self, listed: &[u32]) {
        let live: IdSet<u32> = listed.iter().copied().collect();
        self.forget_unlisted(&live);
        for &pid in listed {
            let Some((start_time, fd_count)) = self.probe(pid) else {
                self.forget(pid);
                continue;
            };
            let unchanged = self
                .pids
                .get(&pid)
                .is_some_and(|e| e.start_time == start_time && e.fd_count == fd_count);
            if !unchanged {
                self.rescan(pid, start_time, fd_count);
            }
        }
    }

    fn full_rescan(&mut self, listed: &[u32], why: FullRescan) {
        let t = Instant::now();
        self.unresolved.clear();
        let live: IdSet<u32> = listed.iter().copied().collect();
        self.forget_unlisted(&live);
        let probed: Vec<(u32, Option<(u64, u64)>)> =
            listed.iter().map(|&pid| (pid, self.probe(pid))).collect();
        let mut links = walk::read_all(&self.proc_root, &probed);
        for (pid, probe) in probed {
            match (probe, links.remove(&pid)) {
                (Some((start_time, fd_count)), Some(l)) => {
                    self.apply_rescan(pid, start_time, fd_count, l);
                }
                _ => self.forget(pid),
            }
        }
        let now = Instant::now();
        self.last_full_cost = now.duration_since(t);
        self.last_full = Some(now);
        self.stats.full_rescan = Some(why);
    }

    fn unknown_rescan_due(&self) -> bool {
        let wait = self.policy.unknown_min_interval.max(
            self.last_full_cost
                .saturating_mul(self.policy.unknown_cost_factor),
        );
        // Measured from any full rescan: a periodic one just read everything too.
        self.last_full.is_none_or(|t| t.elapsed() >= wait)
    }

    /// Start time and fd count of `pid`; `None` when it exited.
    fn probe(&mut self, pid: u32) -> Option<(u64, u64)> {
        let dir = self.proc_root.join(pid.to_string());
        self.stat_buf.clear();
        let mut f = std::fs::File::open(dir.join("stat")).ok()?;
        std::io::Read::read_to_end(&mut f, &mut self.stat_buf).ok()?;
        let start_time = stat_start_time(&self.stat_buf)?;
        // st_size of /proc/<pid>/fd is the fd count (Linux ≥ 6.2), readable even where the
        // directory itself is not; on older kernels it is 0 and a change goes unseen until
        // the periodic rescan.
        let fd_count = nix::sys::stat::stat(&dir.join("fd")).ok()?.st_size;
        Some((start_time, u64::try_from(fd_count).unwrap_or(0)))
    }

    /// Re-reads the fd links of `pid`, replacing what the cache knew about it.
    fn rescan(&mut self, pid: u32, start_time: u64, fd_count: u64) {
        let links = walk::read_fd_links(&self.proc_root, pid);
        self.apply_rescan(pid, start_time, fd_count, links);
    }

    /// Replaces what the cache knew about `pid` with what [`walk::read_fd_links`] read.
    fn apply_rescan(&mut self, pid: u32, start_time: u64, fd_count: u64, links: walk::FdLinks) {
        let old_info = self
            .pids
            .get(&pid)
            .filter(|e| e.start_time == start_time)
            .and_then(|e| e.info.clone());
        self.forget(pid);
        self.stats.pids_rescanned += 1;
        let mut entry = PidEntry {
            start_time,
            fd_count,
            info: old_info,
            ..PidEntry::default()
        };
        match links {
            walk::FdLinks::Read {
                inodes,
                fds_read,
                denied,
            } => {
                self.stats.fds_read += fds_read;
                entry.inodes = inodes;
                entry.denied = denied;
            }
            // Exited between the probe and the open.
            walk::FdLinks::Gone => return,
        }
        if entry.denied {
            let status =
                std::fs::read_to_string(self.proc_root.join(pid.to_string()).join("status"));
            let refusal = match &status {
                Ok(text) => classify_refusal(Some(text), nix::unistd::geteuid().as_raw()),
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        || e.raw_os_error() == Some(libc::ESRCH) =>
                {
                    Refusal::Exiting
                }
                // Refused too (a security module, hidepid=1): a live process we may not
                // look at, not a vanished one.
                Err(_) => Refusal::OtherUser,
            };
            match refusal {
                // Cached with no inodes, so an unreaped zombie is not re-read every poll.
                Refusal::Exiting => entry.denied = false,
                Refusal::OwnUser => {}
                Refusal::OtherUser => entry.denied_other_user = true,
            }
        }
        entry.inodes.sort_unstable();
        entry.inodes.dedup();
        for &ino in &entry.inodes {
            match self.holders.get_mut(&ino) {
                None => {
                    self.holders.insert(ino, Holders::One(pid));
                }
                Some(Holders::One(p)) => {
                    let first = *p;
                    self.holders.insert(ino, Holders::Many(vec![first, pid]));
                }
                Some(Holders::Many(v)) => v.push(pid),
            }
        }
        self.pids.insert(pid, entry);
    }

    fn forget_unlisted(&mut self, live: &IdSet<u32>) {
        let gone: Vec<u32> = self
            .pids
            .keys()
            .copied()
            .filter(|p| !live.contains(p))
            .collect();
        for pid in gone {
            self.forget(pid);
        }
    }

    /// Drops `pid` and its inodes from the cache.
    fn forget(&mut self, pid: u32) {
        let Some(entry) = self.pids.remove(&pid) else {
            return;
        };
        for ino in entry.inodes {
            let drop_it = match self.holders.get_mut(&ino) {
                Some(Holders::One(p)) => *p == pid,
                Some(Holders::Many(v)) => {
                    v.retain(|&p| p != pid);
                    v.is_empty()
                }
                None => false,
            };
            if drop_it {
                self.holders.remove(&ino);
            }
        }
    }

    fn count_unknown(&self, t: &Tables<'_>) -> u64 {
        t.count_where(|i| !self.holders.contains_key(&i))
    }

    /// Sets every owner; returns how many sockets stayed [`Owner::Unattributed`].
    fn assign_owners(&self, t: &mut Tables<'_>) -> u64 {
        let unknown = t.assign(|i| self.holders.get(&i).and_then(Holders::lowest));
        attribute_requests(t.tcp);
        unknown
    }

    fn referenced_processes(
        &mut self,
        pids: impl Iterator<Item = u32>,
    ) -> BTreeMap<u32, ProcessInfo> {
        let mut out = BTreeMap::new();
        for pid in pids {
            if out.contains_key(&pid) {
                continue;
            }
            let cached = self.pids.get(&pid).and_then(|e| e.info.clone());
            let info = match cached {
                Some(i) => i,
                None => {
                    let i = self.read_info(pid);
                    if let Some(e) = self.pids.get_mut(&pid) {
                        e.info = Some(i.clone());
                    }
                    i
                }
            };
            out.insert(pid, info);
        }
        out
    }

    /// comm (exact bytes, see [`status`]) and real uid from one read of
    /// `/proc/<pid>/status`, `?` when the process just exited; unit and container from one
    /// read of `/proc/<pid>/cgroup` ([`cgroup`]). Cached for the pid's life, so a process
    /// moved to another cgroup keeps its first answer until it exits.
    fn read_info(&mut self, pid: u32) -> ProcessInfo {
        let dir = self.proc_root.join(pid.to_string());
        let (unit, mut container) = std::fs::read(dir.join("cgroup"))
            .map(|t| cgroup::parse_cgroup(&t))
            .unwrap_or((None, None));
        self.container_names.fill(container.as_mut());
        let status = std::fs::read(dir.join("status"));
        let (comm, user, uid) = match status.ok().and_then(|s| status::name_and_ruid(&s)) {
            Some((comm, uid)) => (comm, self.user_name(uid), uid),
            None => (Name::from("?"), Name::from("?"), u32::MAX),
        };
        ProcessInfo {
            pid,
            comm,
            uid,
            user,
            unit,
            container,
        }
    }

    /// The passwd name of `uid` as its exact bytes (text whoever manages /etc/passwd
    /// chose, so a [`Name`]), or the number.
    fn user_name(&mut self, uid: u32) -> Name {
        self.users
            .entry(uid)
            .or_insert_with(|| passwd::passwd_name(uid).unwrap_or_else(|| uid.to_string().into()))
            .clone()
    }

    fn hidepid(&self) -> bool {
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|m| hidepid_in_mountinfo(&m, &self.proc_root))
            .unwrap_or(false)
    }
}

#[cfg(test)]
#[path = "procmap_tests.rs"]
mod tests;
