//! What process attribution achieved for a snapshot, and why sockets stayed unattributed:
//! each reason's cause and its fix, the text every output (notes, JSON, check, dashboard)
//! shows.

use serde::{Deserialize, Serialize};

/// Why some sockets could not be attributed to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnattributedReason {
    /// Not root and no capability: other users' /proc/PID/fd are unreadable.
    NotRoot,
    /// /proc is mounted with hidepid: other users' processes are invisible.
    HidePid,
    /// No visible process holds it: the owner exited or the socket closed between the dump
    /// and the fd scan, or the owner lives in another pid namespace.
    Raced,
    /// CAP_SYS_PTRACE without CAP_DAC_READ_SEARCH: other users' fd directories stay closed.
    MissingDacReadSearch,
    /// CAP_DAC_READ_SEARCH without CAP_SYS_PTRACE: the fd directories open, but the kernel's
    /// ptrace check refuses every link in them (and hidepid still hides the pids).
    MissingSysPtrace,
    /// Denied although root or both capabilities are effective: the kernel's ptrace check
    /// refused (seen here as root on pid 1, whose capabilities are a superset of its own).
    Restricted,
}

/// The command that grants the two capabilities attribution needs to the installed binary.
macro_rules! setcap_cmd {
    () => {
        "sudo setcap cap_sys_ptrace,cap_dac_read_search+ep $(command -v sockscope)"
    };
}

impl UnattributedReason {
    /// The command that grants both capabilities to the binary on `PATH`.
    pub const SETCAP: &'static str = setcap_cmd!();

    /// What stopped attribution, one clause.
    pub fn cause(self) -> &'static str {
        match self {
            UnattributedReason::NotRoot => "not root: other users' /proc/<pid>/fd are unreadable",
            UnattributedReason::HidePid => {
                "/proc is mounted with hidepid: other users' processes are invisible"
            }
            UnattributedReason::Raced => {
                "no visible process holds them: the owner exited between the socket dump and \
                 the process scan, or lives in another pid namespace"
            }
            UnattributedReason::MissingDacReadSearch => {
                "CAP_SYS_PTRACE without CAP_DAC_READ_SEARCH: other users' /proc/<pid>/fd stay \
                 unreadable"
            }
            UnattributedReason::MissingSysPtrace => {
                "CAP_DAC_READ_SEARCH without CAP_SYS_PTRACE: the kernel refuses other users' \
                 fd links"
            }
            UnattributedReason::Restricted => {
                "/proc/<pid>/fd refused despite root or both capabilities: the kernel's ptrace \
                 check said no (a security module, or an owner more privileged than this \
                 process)"
            }
        }
    }

    /// How to fix it, starting with the command where there is one; `None` when nothing
    /// needs fixing (a race resolves itself at the next sample).
    pub fn fix(self) -> Option<&'static str> {
        match self {
            UnattributedReason::NotRoot => Some(concat!(setcap_cmd!(), " (both), or run as root")),
            // Measured: both capabilities make hidepid=2 pids visible and readable; the
            // mount's gid= exemption shows the pids but leaves their fd directories closed.
            UnattributedReason::HidePid => Some(concat!(
                setcap_cmd!(),
                " (both see through hidepid; its gid= exemption alone does not), or run as root"
            )),
            UnattributedReason::MissingDacReadSearch | UnattributedReason::MissingSysPtrace => {
                Some(concat!(setcap_cmd!(), " (both are needed)"))
            }
            UnattributedReason::Restricted => Some(
                "run sockscope where the kernel lets it inspect those processes (their \
                     user namespace, or a policy that allows it)",
            ),
            UnattributedReason::Raced => None,
        }
    }

    /// One line saying why, and how to fix it where a fix exists: [`Self::cause`], then
    /// `; fix: ` and [`Self::fix`].
    pub fn explain(self) -> &'static str {
        match self {
            UnattributedReason::NotRoot => concat!(
                "not root: other users' /proc/<pid>/fd are unreadable; fix: ",
                setcap_cmd!(),
                " (both), or run as root"
            ),
            UnattributedReason::HidePid => concat!(
                "/proc is mounted with hidepid: other users' processes are invisible; fix: ",
                setcap_cmd!(),
                " (both see through hidepid; its gid= exemption alone does not), or run as root"
            ),
            UnattributedReason::Raced => {
                "no visible process holds them: the owner exited between the socket dump and \
                 the process scan, or lives in another pid namespace"
            }
            UnattributedReason::MissingDacReadSearch => concat!(
                "CAP_SYS_PTRACE without CAP_DAC_READ_SEARCH: other users' /proc/<pid>/fd stay \
                 unreadable; fix: ",
                setcap_cmd!(),
                " (both are needed)"
            ),
            UnattributedReason::MissingSysPtrace => concat!(
                "CAP_DAC_READ_SEARCH without CAP_SYS_PTRACE: the kernel refuses other users' \
                 fd links; fix: ",
                setcap_cmd!(),
                " (both are needed)"
            ),
            UnattributedReason::Restricted => {
                "/proc/<pid>/fd refused despite root or both capabilities: the kernel's ptrace \
                 check said no (a security module, or an owner more privileged than this \
                 process); fix: run sockscope where the kernel lets it inspect those \
                 processes (their user namespace, or a policy that allows it)"
            }
        }
    }
}

/// Where the full reason and fix are printed: the topic every short note points to.
pub const EXPLAIN_UNATTRIBUTED: &str = "sockscope explain unattributed";

/// The one short line every human-readable face prints about unattributed sockets (the
/// reason and the fix are [`EXPLAIN_UNATTRIBUTED`]'s, or [`UnattributedReason::explain`]
/// where a face has room): `3 of 158 sockets unattributed (why: sockscope explain
/// unattributed)`. `protocol` names the sockets counted (`udp`), `None` for TCP alone.
pub fn unattributed_note(count: u64, total: u64, protocol: Option<&str>) -> String {
    let what = protocol.map_or_else(|| "sockets".to_string(), |p| format!("{p} sockets"));
    format!("{count} of {total} {what} unattributed (why: {EXPLAIN_UNATTRIBUTED})")
}

/// What process attribution achieved for a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// Whether attribution ran at all.
    pub attempted: bool,
    /// Processes whose /proc/PID/fd could not be read.
    pub unreadable_pids: u64,
    /// Why sockets are unattributed, when some are.
    pub reason: Option<UnattributedReason>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_is_short_and_points_to_the_reason() {
        assert_eq!(
            unattributed_note(1, 603, None),
            "1 of 603 sockets unattributed (why: sockscope explain unattributed)"
        );
        assert_eq!(
            unattributed_note(2, 9, Some("udp")),
            "2 of 9 udp sockets unattributed (why: sockscope explain unattributed)"
        );
    }

    #[test]
    fn explain_is_cause_then_fix() {
        use UnattributedReason::*;
        for r in [
            NotRoot,
            HidePid,
            Raced,
            MissingDacReadSearch,
            MissingSysPtrace,
            Restricted,
        ] {
            let want = match r.fix() {
                Some(fix) => format!("{}; fix: {fix}", r.cause()),
                None => r.cause().to_string(),
            };
            assert_eq!(r.explain(), want, "{r:?}");
            // close_wait's detail appends a period.
            assert!(!r.explain().ends_with('.'), "{r:?}");
        }
        for r in [NotRoot, HidePid, MissingDacReadSearch, MissingSysPtrace] {
            assert!(r.explain().contains(UnattributedReason::SETCAP), "{r:?}");
        }
    }
}
