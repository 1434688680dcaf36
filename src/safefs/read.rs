//! Opening files for reading: look through an `O_PATH` descriptor first (a FIFO does not
//! block, a device is not opened), accept only a regular file, apply the config trust
//! rule as root, then open that same inode and read it under a cap.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::unistd::geteuid;

use super::{at, io_err, is_regular, kind_of, stat, Bytes, ReadKind, SafeFsError, ShownPath};

/// Why a config file owned by `uid` with `mode` is not trusted by a process running as
/// `euid`, or `None`. As root it must be owned by root and not writable by group or
/// others (sudo's and sshd's rule). Other users are not checked: a config only sets
/// thresholds, and their own process is all it can affect.
pub fn untrusted_config_reason(uid: u32, mode: u32, euid: u32) -> Option<String> {
    if euid != 0 {
        return None;
    }
    if uid != 0 {
        return Some(format!("owned by uid {uid}, not root"));
    }
    let perm = mode & 0o7777;
    (perm & 0o022 != 0).then(|| format!("writable by group/others (mode {perm:04o})"))
}

/// True when `dir` (the value of `$HOME` or `$XDG_CONFIG_HOME`) may be searched for a
/// config: it is a directory owned by the effective user. Under `sudo` with `$HOME` kept,
/// `/home/user` is owned by the user, not root, so a config there (or a symlink there to
/// a root-owned file such as `/etc/shadow`) is not read.
pub fn trusted_home_dir(dir: &Path) -> bool {
    trusted_home_dir_as(dir, geteuid().as_raw())
}

pub(crate) fn trusted_home_dir_as(dir: &Path, euid: u32) -> bool {
    // Group- or world-writable (a `$XDG_CONFIG_HOME` of `/tmp`, owned by root but open to
    // all) is not a home: anyone could plant `sockscope/` in it.
    std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == euid && m.mode() & 0o022 == 0)
}

/// Opens `path` for reading as `kind`: a regular file (symlinks to one are followed),
/// and as root a trusted one when `kind` is [`ReadKind::Config`].
pub fn open_read(path: &Path, kind: ReadKind) -> Result<File, SafeFsError> {
    open_read_as(path, kind, geteuid().as_raw())
}

pub(crate) fn open_read_as(path: &Path, kind: ReadKind, euid: u32) -> Result<File, SafeFsError> {
    let probe =
        at(None, path.as_os_str(), OFlag::O_PATH, 0).map_err(|e| io_err("open", path, e))?;
    let st = stat(&probe, path)?;
    if !is_regular(&st) {
        return Err(SafeFsError::NotRegular {
            path: ShownPath::of(path),
            what: kind_of(&st),
        });
    }
    if kind == ReadKind::Config {
        if let Some(reason) = untrusted_config_reason(st.st_uid, st.st_mode, euid) {
            return Err(SafeFsError::UntrustedConfig {
                path: ShownPath::of(path),
                reason,
            });
        }
    }
    reopen_read(&probe, path)
}

/// Reads all of `path` as `kind`, refusing more than [`ReadKind::cap`] bytes.
pub fn read_capped(path: &Path, kind: ReadKind) -> Result<Vec<u8>, SafeFsError> {
    let mut f = open_read(path, kind)?;
    read_all_capped(&mut f, path, kind, kind.cap())
}

/// As [`read_capped`], as UTF-8 text.
pub fn read_to_string_capped(path: &Path, kind: ReadKind) -> Result<String, SafeFsError> {
    String::from_utf8(read_capped(path, kind)?).map_err(|_| SafeFsError::Io {
        op: "read",
        path: ShownPath::of(path),
        source: io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

/// Reads at most `cap` bytes, by the size `fstat` reports and by what a read returns
/// (files in /proc and /sys report size 0, a growing file grows).
pub(crate) fn read_all_capped(
    f: &mut File,
    path: &Path,
    kind: ReadKind,
    cap: u64,
) -> Result<Vec<u8>, SafeFsError> {
    let io = |source| SafeFsError::Io {
        op: "read",
        path: ShownPath::of(path),
        source,
    };
    let too_large = || SafeFsError::TooLarge {
        path: ShownPath::of(path),
        kind,
        cap: Bytes(cap),
    };
    let size = f.metadata().map_err(io)?.len();
    if size > cap {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    f.take(cap.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(buf)
}

/// Opens for reading the regular file `probe` (an `O_PATH` descriptor) refers to: through
/// `/proc/self/fd`, which reopens that inode and not whatever the path names by now.
/// Without /proc, opens the path non-blocking and checks it is still the same inode.
pub(crate) fn reopen_read(probe: &OwnedFd, path: &Path) -> Result<File, SafeFsError> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOCTTY;
    let magic = format!("/proc/self/fd/{}", probe.as_raw_fd());
    match at(None, OsStr::new(&magic), flags, 0) {
        Ok(fd) => return Ok(File::from(fd)),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(io_err("open", path, e)),
    }
    let fd = at(None, path.as_os_str(), flags | OFlag::O_NONBLOCK, 0)
        .map_err(|e| io_err("open", path, e))?;
    let (was, now) = (stat(probe, path)?, stat(&fd, path)?);
    if (was.st_dev, was.st_ino) != (now.st_dev, now.st_ino) {
        return Err(SafeFsError::Io {
            op: "open",
            path: ShownPath::of(path),
            source: io::Error::other("it was replaced while being opened"),
        });
    }
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::empty()))
        .map_err(|e| io_err("open", path, e))?;
    Ok(File::from(fd))
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
