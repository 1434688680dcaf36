//! The directory a file is written into: split from the path, and as root resolved one
//! component at a time from `/` and checked, so that no other user can redirect the
//! write. Returns a descriptor; never creates anything.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{readlinkat, OFlag};

use super::write::WriteOpts;
use super::{at, io_err, stat, SafeFsError, ShownPath};

/// Most symlinks followed while resolving one directory, as the kernel's own limit.
const MAX_LINKS: u32 = 40;

/// The directory descriptor and final name of `path`, the directory checked as root.
pub(crate) fn open_parent(
    path: &Path,
    opts: &WriteOpts,
    euid: u32,
) -> Result<(OwnedFd, OsString), SafeFsError> {
    let bytes = path.as_os_str().as_bytes();
    let (parent, name) = match bytes.iter().rposition(|&b| b == b'/') {
        Some(0) => (&b"/"[..], &bytes[1..]),
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (&b"."[..], bytes),
    };
    if matches!(name, b"" | b"." | b"..") {
        return Err(SafeFsError::NotAFileName {
            path: ShownPath::of(path),
        });
    }
    let parent = Path::new(OsStr::from_bytes(parent));
    let dir = if euid == 0 && !opts.force {
        open_dir_checked(parent)?
    } else {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
        at(None, parent.as_os_str(), flags, 0).map_err(|e| io_err("open directory", parent, e))?
    };
    Ok((dir, OsString::from_vec(name.to_vec())))
}

/// Resolves `dir` one component at a time from `/`, checking each directory reached
/// ([`unsafe_dir_reason`]) and each symlink followed, and returns an `O_PATH` descriptor
/// of the directory that passed. Because no directory on the way can be changed by
/// another user, the resolution cannot be raced; the descriptor pins the result.
fn open_dir_checked(dir: &Path) -> Result<OwnedFd, SafeFsError> {
    let refuse = |reason: String| SafeFsError::UnsafeDirectory {
        dir: ShownPath::of(dir),
        reason,
    };
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        let cwd = std::env::current_dir().map_err(|source| SafeFsError::Io {
            op: "find the current directory for",
            path: ShownPath::of(dir),
            source,
        })?;
        cwd.join(dir)
    };
    let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    let open_dir = |at_dir: Option<&OwnedFd>, name: &OsStr| {
        at(at_dir, name, dir_flags, 0).map_err(|e| io_err("open directory", dir, e))
    };
    let root = open_dir(None, OsStr::new("/"))?;
    let mut todo = parts(&abs);
    let mut cur = open_dir(Some(&root), OsStr::new("."))?;
    let mut cur_st = stat(&cur, dir)?;
    let mut here = PathBuf::from("/");
    if let Some(why) = unsafe_dir_reason(cur_st.st_uid, cur_st.st_mode, false) {
        return Err(refuse(format!("/ {why}")));
    }
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        if part == ".." {
            cur = open_dir(Some(&cur), &part)?;
            here.pop();
        } else {
            let next = at(Some(&cur), &part, OFlag::O_PATH | OFlag::O_NOFOLLOW, 0)
                .map_err(|e| io_err("open directory", dir, e))?;
            let st = stat(&next, dir)?;
            if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io_err("open directory", dir, Errno::ELOOP));
                }
                // Only the link's owner can change it; in a sticky directory others write
                // to, that must be root (the kernel's protected_symlinks rule, applied
                // here because this resolution is done outside the kernel).
                if cur_st.st_mode & 0o022 != 0 && st.st_uid != 0 {
                    here.push(&part);
                    return Err(refuse(format!(
                        "the symbolic link {} on the way there is owned by uid {}, not root",
                        ShownPath::of(&here),
                        st.st_uid
                    )));
                }
                let target = readlinkat(Some(next.as_raw_fd()), "")
                    .map_err(|e| io_err("read symbolic link in", dir, e))?;
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    cur = open_dir(Some(&root), OsStr::new("."))?;
                    cur_st = stat(&cur, dir)?;
                    here = PathBuf::from("/");
                }
                for p in parts(&target).into_iter().rev() {
                    todo.push_front(p);
                }
                continue;
            }
            if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                return Err(io_err("open directory", dir, Errno::ENOTDIR));
            }
            cur = next;
            here.push(&part);
        }
        cur_st = stat(&cur, dir)?;
        if todo.is_empty() {
            break; // the directory written into: checked below, by the stricter rule
        }
        if let Some(why) = unsafe_dir_reason(cur_st.st_uid, cur_st.st_mode, false) {
            return Err(refuse(format!(
                "{} on the way there {why}",
                ShownPath::of(&here)
            )));
        }
    }
    match unsafe_dir_reason(cur_st.st_uid, cur_st.st_mode, true) {
        Some(why) => Err(refuse(format!("the directory {why}"))),
        None => Ok(cur),
    }
}

/// The components of `p` as names and `..`; root and `.` dropped.
fn parts(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

/// Why a directory owned by `uid` with `mode` is unsafe for root to write into
/// (`last`) or to pass through (not `last`), or `None` when it is safe. Safe means only
/// root can change its entries: owned by root, not writable by group or others. A
/// world-writable sticky directory (`/tmp`) may be passed through, since others cannot
/// rename or remove the entries they do not own, but not written into.
pub fn unsafe_dir_reason(uid: u32, mode: u32, last: bool) -> Option<String> {
    if uid != 0 {
        return Some(format!("is owned by uid {uid}, not root"));
    }
    let perm = mode & 0o7777;
    let sticky = perm & 0o1000 != 0;
    if perm & 0o022 != 0 && (last || !sticky) {
        return Some(format!("is writable by group/others (mode {perm:04o})"));
    }
    None
}
