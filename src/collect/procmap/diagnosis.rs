//! Why sockets stay unattributed: the observed facts and the decision on them.
//!
//! Kept apart from the scan in `procmap` so the decision is a pure function of facts a test
//! can state directly.

use std::path::Path;

use crate::model::UnattributedReason;

/// The facts [`unattributed_reason`] decides on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttributionFacts {
    /// Sockets with an inode that no pid was seen holding.
    pub unattributed: u64,
    /// Pids whose `/proc/<pid>/fd` (the directory or its links) gave EACCES or EPERM.
    pub denied_pids: u64,
    /// Those of them that run as another user ([`Refusal::OtherUser`]). A refused pid of
    /// the caller's own uid is non-dumpable (a file-capability binary, a setuid transition):
    /// hidepid shows it only in the moment before that flag is set, so it says nothing about
    /// whether other users' pids are hidden or merely closed.
    pub denied_other_users: u64,
    /// The proc mount has `hidepid=1/2/noaccess/invisible/ptraceable`.
    pub hidepid: bool,
    /// The capabilities the caller holds (root normally holds both).
    pub caps: Caps,
}

/// The two capabilities that together open other users' `/proc/<pid>/fd`: CAP_DAC_READ_SEARCH
/// opens the directory (mode 0500, owned by the process's user), CAP_SYS_PTRACE passes the
/// ptrace check on every link in it and makes hidepid'd pids visible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps {
    /// CAP_SYS_PTRACE is effective.
    pub sys_ptrace: bool,
    /// CAP_DAC_READ_SEARCH is effective.
    pub dac_read_search: bool,
}

impl Caps {
    /// Both capabilities.
    pub const BOTH: Caps = Caps {
        sys_ptrace: true,
        dac_read_search: true,
    };

    /// The effective set of this process, from `/proc/self/status` (`CapEff`); when that is
    /// unreadable, euid 0 counts as both.
    pub fn effective() -> Caps {
        match procfs::process::Process::myself().and_then(|p| p.status()) {
            Ok(st) => Caps::from_capeff(st.capeff),
            Err(_) if nix::unistd::geteuid().is_root() => Caps::BOTH,
            Err(_) => Caps::default(),
        }
    }

    /// From a `CapEff` bitmask. CAP_DAC_OVERRIDE opens directories as well, so root in a
    /// container without CAP_SYS_PTRACE (Docker's default set) is told that one is missing.
    pub fn from_capeff(capeff: u64) -> Caps {
        const CAP_DAC_OVERRIDE: u64 = 1 << 1;
        const CAP_DAC_READ_SEARCH: u64 = 1 << 2;
        const CAP_SYS_PTRACE: u64 = 1 << 19;
        Caps {
            sys_ptrace: capeff & CAP_SYS_PTRACE != 0,
            dac_read_search: capeff & (CAP_DAC_READ_SEARCH | CAP_DAC_OVERRIDE) != 0,
        }
    }
}

/// Why sockets stayed unattributed, from observed facts. `None` when all were attributed.
///
/// Nothing denied and no hidepid means every pid was readable: the socket or its owner
/// changed between the dump and the scan. Otherwise the capabilities decide: with both,
/// something beyond them refused; with one, the other is missing (measured: either alone
/// attributes nothing of other users'); with none, hidepid when no other user's pid was even
/// visible to be denied (their pids are absent, so a zero EACCES count proves nothing), else
/// not root.
pub fn unattributed_reason(f: &AttributionFacts) -> Option<UnattributedReason> {
    if f.unattributed == 0 {
        return None;
    }
    if f.denied_pids == 0 && !f.hidepid {
        return Some(UnattributedReason::Raced);
    }
    Some(match (f.caps.sys_ptrace, f.caps.dac_read_search) {
        (true, true) if f.denied_pids == 0 => UnattributedReason::Raced,
        (true, true) => UnattributedReason::Restricted,
        (true, false) => UnattributedReason::MissingDacReadSearch,
        (false, true) => UnattributedReason::MissingSysPtrace,
        (false, false) if f.hidepid && f.denied_other_users == 0 => UnattributedReason::HidePid,
        (false, false) => UnattributedReason::NotRoot,
    })
}

/// Whether the proc mount at `mount_point` in a `/proc/self/mountinfo` text hides other
/// users' pids (`hidepid=` other than `0`/`off`, in the mount or the superblock options).
pub fn hidepid_in_mountinfo(mountinfo: &str, mount_point: &Path) -> bool {
    let mut hidden = false;
    for line in mountinfo.lines() {
        let mut fields = line.split(' ');
        let Some(mp) = fields.nth(4) else { continue };
        if Path::new(mp) != mount_point {
            continue;
        }
        // Later mounts on the same point shadow earlier ones: the last line wins.
        hidden = line.split([' ', ',']).any(|opt| {
            opt.strip_prefix("hidepid=")
                .is_some_and(|v| !matches!(v, "0" | "off"))
        });
    }
    hidden
}

/// What a refused pid's `/proc/<pid>/status` says about the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Exiting (zombie or dead) or already gone: with its memory released, its fd directory
    /// belongs to no uid and refuses even root. Not a permission problem.
    Exiting,
    /// Alive and running as the caller's own uid, but non-dumpable.
    OwnUser,
    /// Alive and running as another user: any of its real, effective or saved uids differs
    /// (the comparison the kernel's ptrace check makes).
    OtherUser,
}

/// Classifies a refused pid from its status text (`None` when unreadable) and the caller's
/// effective uid.
pub fn classify_refusal(status: Option<&str>, uid: u32) -> Refusal {
    let Some(status) = status else {
        return Refusal::Exiting;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim_start)
    };
    if field("State:").is_none_or(|s| s.starts_with(['Z', 'X'])) {
        return Refusal::Exiting;
    }
    let other = field("Uid:").is_some_and(|ids| {
        ids.split_whitespace()
            .take(3)
            .any(|id| id.parse::<u32>().is_ok_and(|id| id != uid))
    });
    if other {
        Refusal::OtherUser
    } else {
        Refusal::OwnUser
    }
}

#[cfg(test)]
#[path = "diagnosis_tests.rs"]
mod tests;
