//! Network namespaces: entering one by name (`/run/netns/NAME`, as `ip netns` makes them)
//! or by path (`/proc/PID/ns/net`), listing the named ones, and telling them apart by inode.
//!
//! This module only moves the *calling thread* (setns affects one thread); readers that
//! must follow it use `/proc/thread-self/...`, never `/proc/self/...`, which follows the
//! thread-group leader. It must not read sockets or create or delete namespaces.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::{fstat, Mode};
use nix::sys::statfs::{fstatfs, NSFS_MAGIC};

use crate::collect::CollectError;

/// Where `ip netns add NAME` bind-mounts named namespaces.
pub const NAMED_DIR: &str = "/run/netns";

/// The file a spec names: a path when it contains `/`, else `/run/netns/NAME`.
pub fn resolve(spec: &str) -> PathBuf {
    if spec.contains('/') {
        PathBuf::from(spec)
    } else {
        Path::new(NAMED_DIR).join(spec)
    }
}

/// Moves the calling thread into the network namespace `spec` (a name under /run/netns
/// or a path such as /proc/PID/ns/net). Other threads stay where they are.
pub fn enter(spec: &str) -> Result<(), CollectError> {
    NsHandle::open(spec)?.enter()
}

/// A network namespace's identity: the nsfs device and inode of its namespace file. Two
/// files with the same `NsId` are the same namespace; a name or pid that now shows another
/// `NsId` points to a different namespace, whatever its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NsId {
    /// Device of the nsfs mount (one per host).
    pub dev: u64,
    /// Inode: what `net:[INODE]` shows.
    pub ino: u64,
}

impl std::fmt::Display for NsId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "net:[{}]", self.ino)
    }
}

/// An open network namespace: held by a descriptor from the moment it was chosen or
/// discovered, entered through that descriptor, so a name or pid reused meanwhile cannot
/// move collection into another namespace. Holding it keeps the namespace alive even when
/// no process is left in it; callers decide when it is dead (see `netns_sweep::referenced`).
#[derive(Debug)]
pub struct NsHandle {
    file: File,
    id: NsId,
    spec: String,
}

impl NsHandle {
    /// Opens the namespace `spec` names (a name under /run/netns or a path) without
    /// entering it; refuses anything not on nsfs.
    pub fn open(spec: &str) -> Result<NsHandle, CollectError> {
        let fail = |reason: String| CollectError::Netns {
            name: spec.to_string(),
            reason,
        };
        if spec.is_empty() || spec == "." || spec == ".." {
            return Err(fail("not a namespace name or path".into()));
        }
        let path = resolve(spec);
        let file = open_ns_file(&path).map_err(|e| match e {
            NsOpen::Os(Errno::ENOENT) if !spec.contains('/') => {
                let names = list_named();
                if names.is_empty() {
                    fail(format!(
                        "no such namespace: {NAMED_DIR} has no named namespaces"
                    ))
                } else {
                    fail(format!(
                        "no such namespace; named namespaces: {}",
                        names.join(", ")
                    ))
                }
            }
            NsOpen::Os(Errno::ENOENT) => fail(format!("{} does not exist", path.display())),
            NsOpen::Os(Errno::EACCES | Errno::EPERM) => fail(format!(
                "permission denied opening {} (entering a namespace needs root or \
                 CAP_SYS_ADMIN)",
                path.display()
            )),
            NsOpen::Os(e) => fail(format!("cannot open {}: {}", path.display(), e.desc())),
            // A /run/netns entry whose bind mount is gone is an ordinary empty file: say so
            // instead of letting setns report a bare EINVAL.
            NsOpen::NotNsfs("a regular file") => fail(format!(
                "{} is not a namespace file (a stale /run/netns entry whose mount is gone?)",
                path.display()
            )),
            NsOpen::NotNsfs(what) => fail(format!(
                "{} is {what}, not a namespace file",
                path.display()
            )),
        })?;
        let st = fstat(file.as_raw_fd())
            .map_err(|e| fail(format!("cannot stat {}: {}", path.display(), e.desc())))?;
        Ok(NsHandle {
            file,
            id: NsId {
                dev: st.st_dev,
                ino: st.st_ino,
            },
            spec: spec.to_string(),
        })
    }

    /// The namespace's identity.
    pub fn id(&self) -> NsId {
        self.id
    }

    /// The name or path it was opened by.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Moves the calling thread into this namespace (through the held descriptor).
    pub fn enter(&self) -> Result<(), CollectError> {
        let fail = |reason: String| CollectError::Netns {
            name: self.spec.clone(),
            reason,
        };
        setns(&self.file, CloneFlags::CLONE_NEWNET).map_err(|e| match e {
            Errno::EINVAL => fail(format!(
                "{} is a namespace but not a network namespace",
                resolve(&self.spec).display()
            )),
            Errno::EPERM => fail(
                "permission denied: entering a network namespace needs \
                 CAP_SYS_ADMIN (run as root)"
                    .into(),
            ),
            e => fail(format!("setns failed: {}", e.desc())),
        })
    }

    /// What the name or path it was opened by points to now, when that is no longer this
    /// namespace: `Some(Ok(other))`, or `Some(Err(why))` when it points nowhere.
    pub fn repointed(&self) -> Option<Result<NsId, String>> {
        match netns_id(resolve(&self.spec)) {
            Ok(id) if id == self.id => None,
            Ok(id) => Some(Ok(id)),
            Err(e) => Some(Err(e.to_string())),
        }
    }
}

/// Why a namespace file was not opened.
enum NsOpen {
    /// The OS refused.
    Os(Errno),
    /// It is not on nsfs; what it is instead (`a FIFO`, `a character device`).
    NotNsfs(&'static str),
}

/// Opens a namespace file without blocking and without calling a device driver: an
/// `O_PATH` look first (opens nothing: a FIFO cannot block, `/dev/zero` is not opened)
/// that must be on nsfs, then the real open `O_RDONLY|O_NONBLOCK|O_NOCTTY|O_CLOEXEC`
/// (setns needs a real descriptor), checked again, since the name may have changed
/// between the two.
fn open_ns_file(path: &Path) -> Result<File, NsOpen> {
    fn check(fd: &OwnedFd) -> Result<(), NsOpen> {
        match fstatfs(fd) {
            Ok(fs) if fs.filesystem_type() == NSFS_MAGIC => Ok(()),
            Ok(_) => Err(NsOpen::NotNsfs(
                fstat(fd.as_raw_fd()).map_or("not a namespace", |st| crate::safefs::kind_of(&st)),
            )),
            Err(e) => Err(NsOpen::Os(e)),
        }
    }
    let open = |flags: OFlag| -> Result<OwnedFd, NsOpen> {
        let fd = open(path, flags | OFlag::O_CLOEXEC, Mode::empty()).map_err(NsOpen::Os)?;
        // SAFETY: open just returned this descriptor, and nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    check(&open(OFlag::O_PATH)?)?;
    let fd = open(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY)?;
    check(&fd)?;
    Ok(File::from(fd))
}

/// Names of the namespaces under `/run/netns`, sorted; empty when there are none.
pub fn list_named() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(NAMED_DIR)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The inode identifying the namespace behind a namespace file or link (`/proc/PID/ns/net`,
/// `/run/netns/NAME`): equal inodes are the same namespace.
pub fn netns_inode(path: impl AsRef<Path>) -> io::Result<u64> {
    let path = path.as_ref();
    match std::fs::metadata(path) {
        Ok(m) => Ok(m.ino()),
        // Following another process's ns link needs ptrace access (EACCES even for root
        // under some sandboxes and LSMs), but reading the link text `net:[INODE]` does not.
        Err(e) => std::fs::read_link(path)
            .ok()
            .and_then(|l| {
                let l = l.to_str()?;
                l.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
            })
            .ok_or(e),
    }
}

/// The identity of the namespace behind a namespace file or link. When the link cannot be
/// followed (see [`netns_inode`]) the device is taken from the process's own namespace
/// file: every network namespace lives on the one nsfs mount.
pub fn netns_id(path: impl AsRef<Path>) -> io::Result<NsId> {
    let path = path.as_ref();
    match std::fs::metadata(path) {
        Ok(m) => Ok(NsId {
            dev: m.dev(),
            ino: m.ino(),
        }),
        Err(_) => Ok(NsId {
            dev: nsfs_dev(),
            ino: netns_inode(path)?,
        }),
    }
}

/// The nsfs device, from the process's own network namespace file (0 when unreadable).
fn nsfs_dev() -> u64 {
    static DEV: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *DEV.get_or_init(|| std::fs::metadata("/proc/self/ns/net").map_or(0, |m| m.dev()))
}

/// A label for the calling thread's network namespace: its `/run/netns` name when one
/// matches, `host` when it is pid 1's (or, where pid 1's is unreadable as in sandboxes,
/// the process's own starting one), else `net:[INODE]`.
pub fn current_label() -> String {
    let Ok(me) = netns_inode("/proc/thread-self/ns/net") else {
        return "unknown".into();
    };
    if let Some(name) = list_named()
        .into_iter()
        .find(|n| netns_inode(resolve(n)).is_ok_and(|i| i == me))
    {
        return name;
    }
    let host = netns_inode("/proc/1/ns/net").or_else(|_| netns_inode("/proc/self/ns/net"));
    if host.is_ok_and(|h| h == me) {
        "host".into()
    } else {
        format!("net:[{me}]")
    }
}

#[cfg(test)]
#[path = "netns_tests.rs"]
mod tests;
