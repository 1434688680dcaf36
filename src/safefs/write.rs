//! Creating and replacing files: `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600 whatever the
//! umask, relative to a descriptor of the checked directory (see `dirs`); replacement by
//! a temporary file renamed over the name. Knows nothing of what is written.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;
use nix::fcntl::{renameat, renameat2, OFlag, RenameFlags};
use nix::sys::stat::{fchmod, fstat, Mode};
use nix::unistd::{geteuid, unlinkat, UnlinkatFlags};

use super::dirs::open_parent;
use super::read::reopen_read;
use super::{at, io_err, is_regular, kind_of, stat, SafeFsError, ShownPath};

/// How a write may proceed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOpts {
    /// `--force`: as root, write even into a directory other users can change. Symlinks
    /// are still never followed at the final name and files are still 0600.
    pub force: bool,
}

/// Creates `path`, which must not exist (not even as a dangling symlink), mode 0600.
///
/// Use for every file sockscope writes that is not meant to replace an older one.
pub fn create_new(path: &Path, opts: &WriteOpts) -> Result<File, SafeFsError> {
    let (dir, name) = open_parent(path, opts, geteuid().as_raw())?;
    create_in(&dir, &name, path)
}

/// Creates `path` for a writer that streams into it (a recording), replacing an existing
/// regular file only when `may_replace` says so after reading it.
///
/// No file: created as by [`create_new`]. A regular file: `may_replace` gets it opened
/// for reading (e.g. to see that it is an old recording); on `true` a fresh 0600 file is
/// renamed over the name at once and returned, so lines appear at `path` as they are
/// written and survive the process being killed. The old file is unlinked, never
/// truncated: a hard link to it elsewhere keeps its contents. A symlink, FIFO, device or
/// directory at `path` is refused, and its target is not touched.
pub fn create_replacing(
    path: &Path,
    opts: &WriteOpts,
    may_replace: impl FnOnce(&mut File) -> bool,
) -> Result<File, SafeFsError> {
    let (dir, name) = open_parent(path, opts, geteuid().as_raw())?;
    let existing = match at(Some(&dir), &name, OFlag::O_PATH | OFlag::O_NOFOLLOW, 0) {
        Err(Errno::ENOENT) => return create_in(&dir, &name, path),
        Err(e) => return Err(io_err("open", path, e)),
        Ok(fd) => fd,
    };
    let st = stat(&existing, path)?;
    if !is_regular(&st) {
        return Err(SafeFsError::NotReplaceable {
            path: ShownPath::of(path),
            what: kind_of(&st),
        });
    }
    if !may_replace(&mut reopen_read(&existing, path)?) {
        return Err(SafeFsError::Declined {
            path: ShownPath::of(path),
        });
    }
    let mut temp = Temp::create(dir, name, path)?;
    // rename(2) replaces the directory entry, whatever it is by now; it follows nothing.
    renameat(
        Some(temp.dir_fd()),
        &*temp.temp,
        Some(temp.dir_fd()),
        &*temp.name,
    )
    .map_err(|e| io_err("rename a new file over", path, e))?;
    temp.pending = false;
    temp.file
        .take()
        .ok_or_else(|| io_err("create", path, Errno::EBADF))
}

/// Starts writing `path` as a whole: the bytes go to a 0600 temporary file in the same
/// directory, and [`AtomicFile::commit`] renames it over `path` (replacing a symlink
/// itself, never its target). Readers see the old file or the complete new one, never a
/// partial one. Use for `--save-snapshot`.
pub fn replace(path: &Path, opts: &WriteOpts) -> Result<AtomicFile, SafeFsError> {
    let (dir, name) = open_parent(path, opts, geteuid().as_raw())?;
    Ok(AtomicFile(Temp::create(dir, name, path)?))
}

/// A file being written by [`replace`]; dropped without a commit, the temporary file is
/// removed and `path` is untouched.
#[derive(Debug)]
pub struct AtomicFile(Temp);

impl AtomicFile {
    /// Syncs the data and renames the file over `path`, replacing whatever is there.
    pub fn commit(self) -> Result<(), SafeFsError> {
        self.finish(RenameFlags::empty())
    }

    /// As [`AtomicFile::commit`], but fails with [`SafeFsError::Exists`] when `path`
    /// exists by then (`RENAME_NOREPLACE`): a complete file appears, or none.
    pub fn commit_no_clobber(self) -> Result<(), SafeFsError> {
        self.finish(RenameFlags::RENAME_NOREPLACE)
    }

    fn finish(mut self, flags: RenameFlags) -> Result<(), SafeFsError> {
        let t = &mut self.0;
        let path = t.path.clone();
        if let Some(f) = &t.file {
            f.sync_data().map_err(|source| SafeFsError::Io {
                op: "sync",
                path: ShownPath::of(&path),
                source,
            })?;
        }
        let fd = Some(t.dir_fd());
        renameat2(fd, &*t.temp, fd, &*t.name, flags).map_err(|e| match e {
            Errno::EEXIST => SafeFsError::Exists {
                path: ShownPath::of(&path),
                what: "created meanwhile",
            },
            e => io_err("rename a new file over", &path, e),
        })?;
        t.pending = false;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.file_mut()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.file_mut()?.flush()
    }
}

/// A temporary file in a checked directory, unlinked on drop unless renamed.
#[derive(Debug)]
struct Temp {
    dir: OwnedFd,
    name: OsString,
    temp: OsString,
    path: PathBuf,
    file: Option<File>,
    pending: bool,
}

impl Temp {
    fn create(dir: OwnedFd, name: OsString, path: &Path) -> Result<Temp, SafeFsError> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        // A fixed short name: NAME_MAX cannot be hit by appending to a long user name.
        // An attacker who plants the next name (only possible with --force) costs a retry.
        for _ in 0..64 {
            let seq = SEQ.fetch_add(1, Ordering::Relaxed);
            let temp = OsString::from(format!(".sockscope-{}-{seq}.tmp", std::process::id()));
            match create_in(&dir, &temp, path) {
                Ok(f) => {
                    return Ok(Temp {
                        dir,
                        name,
                        temp,
                        path: path.to_path_buf(),
                        file: Some(f),
                        pending: true,
                    })
                }
                Err(SafeFsError::Exists { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io_err("create a temporary file for", path, Errno::EEXIST))
    }

    fn dir_fd(&self) -> RawFd {
        self.dir.as_raw_fd()
    }

    fn file_mut(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("file already committed"))
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.pending {
            let _ = unlinkat(Some(self.dir_fd()), &*self.temp, UnlinkatFlags::NoRemoveDir);
        }
    }
}

/// Creates `name` in `dir`: `O_EXCL` (so `O_NOFOLLOW`), then `fchmod` 0600 against the umask.
pub(crate) fn create_in(dir: &OwnedFd, name: &OsStr, path: &Path) -> Result<File, SafeFsError> {
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
    let fd = at(Some(dir), name, flags | OFlag::O_NOCTTY, 0o600).map_err(|e| match e {
        Errno::EEXIST => SafeFsError::Exists {
            path: ShownPath::of(path),
            what: match at(Some(dir), name, OFlag::O_PATH | OFlag::O_NOFOLLOW, 0) {
                Ok(fd) => fstat(fd.as_raw_fd()).map_or("unknown", |st| kind_of(&st)),
                Err(_) => "unknown",
            },
        },
        e => io_err("create", path, e),
    })?;
    fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(0o600))
        .map_err(|e| io_err("chmod", path, e))?;
    Ok(File::from(fd))
}

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;
