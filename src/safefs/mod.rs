//! Root-safe files: how sockscope opens every file it writes or reads.
//!
//! sockscope runs as root, and users point it at paths in directories other users can
//! write to (`/tmp`, a home directory reached through `sudo`). A plain `File::create`
//! there follows a symlink planted by another user and truncates whatever it points at; a
//! plain read of a FIFO blocks forever and a read of `/dev/zero` never ends. This module
//! is the one place that knows how to do it safely:
//!
//! - **Writes** never follow a symlink at the final name and never check-then-open: a new
//!   file is created `O_CREAT|O_EXCL|O_NOFOLLOW` ([`create_new`]); a file that may be
//!   replaced is written as a fresh temporary file in the same directory and renamed over
//!   the name, which replaces a symlink or hard link itself and never writes through it
//!   ([`create_replacing`] for streaming writers, [`replace`] for write-then-publish). The
//!   file is created relative to a descriptor of its directory, so the directory checked
//!   is the directory written. Every file is mode 0600 whatever the umask (`fchmod`).
//! - **As root**, the directory written into, and every directory on the way to it, must
//!   not be changeable by another user: owned by root, and not writable by group or
//!   others. A world-writable sticky directory (`/tmp`) may be passed through but not
//!   written into. Symlinks on the way are followed by this module, one component at a
//!   time, and a symlink in a directory other users can write to must be owned by root.
//!   [`WriteOpts::force`] (`--force`) skips these directory checks, not the others.
//! - **Reads** look at the file through an `O_PATH` descriptor first, which opens nothing
//!   (a FIFO does not block, a device driver is not called), and refuse anything but a
//!   regular file. The real open is of that same inode. Reads are capped by kind
//!   ([`ReadKind::cap`]). As root, a config file must be owned by root and not writable by
//!   group or others ([`untrusted_config_reason`]), as sudo and sshd require.
//!
//! Every error is one line that names the path, with control characters escaped
//! ([`ShownPath`]). This module owns no format and no policy about *which* files
//! sockscope writes; it must not import any other sockscope module. `write` creates and
//! replaces files, `dirs` resolves and checks the directory written into, `read` opens
//! files for reading.

mod dirs;
mod read;
mod write;

pub use dirs::unsafe_dir_reason;
pub use read::{
    open_read, read_capped, read_to_string_capped, trusted_home_dir, untrusted_config_reason,
};
pub use write::{create_new, create_replacing, replace, AtomicFile, WriteOpts};

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, FileStat, Mode};
use thiserror::Error;

use crate::model::Name;

/// A path as messages print it: control characters (a newline, an escape sequence) and
/// bytes that are not UTF-8 are escaped, so a hostile file name cannot split or forge a
/// line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownPath(pub PathBuf);

impl ShownPath {
    pub(crate) fn of(path: &Path) -> ShownPath {
        ShownPath(path.to_path_buf())
    }
}

impl fmt::Display for ShownPath {
    /// The path by the one rule for untrusted text ([`Name`]'s escapes): whoever made a
    /// directory may have named it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Name::from_bytes(self.0.as_os_str().as_bytes()))
    }
}

/// What kind of file is read; it sets the size cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// A TOML config file: also checked for trust as root.
    Config,
    /// A JSON snapshot (`--from-snapshot`): one snapshot, as one recording line holds.
    Snapshot,
    /// A JSONL recording: read as a stream; its line cap lives with the reader.
    Recording,
}

impl ReadKind {
    /// The largest file of this kind that is read whole. A config is a page of thresholds:
    /// 1 MiB. A snapshot file holds what one recording line holds, so it shares the
    /// recording reader's line cap: 1 GiB (about 2 million sockets at roughly 500 bytes
    /// each). A recording is streamed line by line under that line cap, so the file as a
    /// whole has none.
    pub const fn cap(self) -> u64 {
        match self {
            ReadKind::Config => 1 << 20,
            ReadKind::Snapshot => 1 << 30,
            ReadKind::Recording => u64::MAX,
        }
    }
}

impl fmt::Display for ReadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadKind::Config => "a config file",
            ReadKind::Snapshot => "a snapshot file",
            ReadKind::Recording => "a recording",
        })
    }
}

/// A byte count as messages print it: `1 MiB`, `1 GiB`, else bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n >= 1 << 30 && n % (1 << 30) == 0 => write!(f, "{} GiB", n >> 30),
            n if n >= 1 << 20 && n % (1 << 20) == 0 => write!(f, "{} MiB", n >> 20),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// Why a file was not opened. Display is one line naming the path.
#[derive(Debug, Error)]
pub enum SafeFsError {
    /// As root: the directory written into, or one on the way to it, can be changed by
    /// another user.
    #[error("refusing to write into {dir}: {reason} (use --force to write there anyway)")]
    UnsafeDirectory {
        /// The directory as the caller named it.
        dir: ShownPath,
        /// Which directory and why, e.g. `the directory is writable by group/others`.
        reason: String,
    },
    /// [`create_new`]: something already has this name (a file, or a symlink, dangling or
    /// not, which is left as it is).
    #[error("refusing to create {path}: it already exists ({what})")]
    Exists {
        /// The file.
        path: ShownPath,
        /// What is there, e.g. `a symbolic link`.
        what: &'static str,
    },
    /// [`create_replacing`]: the name holds something other than a regular file.
    #[error("refusing to replace {path}: it is {what}, not a regular file")]
    NotReplaceable {
        /// The file.
        path: ShownPath,
        /// What is there.
        what: &'static str,
    },
    /// [`create_replacing`]: the caller's check said the existing file must be kept.
    #[error("refusing to overwrite {path}: it exists and is not a file sockscope wrote")]
    Declined {
        /// The file.
        path: ShownPath,
    },
    /// A read of something other than a regular file (a FIFO, a device, a directory).
    #[error("refusing to read {path}: it is {what}, not a regular file")]
    NotRegular {
        /// The file.
        path: ShownPath,
        /// What it is, e.g. `a FIFO`.
        what: &'static str,
    },
    /// A read of a file over the cap for its kind.
    #[error("refusing to read {path}: it is larger than {cap}, the limit for {kind}")]
    TooLarge {
        /// The file.
        path: ShownPath,
        /// What it was read as.
        kind: ReadKind,
        /// The cap.
        cap: Bytes,
    },
    /// As root: a config file another user could have written.
    #[error("refusing {path} as config: {reason}")]
    UntrustedConfig {
        /// The file.
        path: ShownPath,
        /// Why, e.g. `owned by uid 1000, not root`.
        reason: String,
    },
    /// The path does not name a file (empty, or ends in `/`, `.` or `..`).
    #[error("cannot write {path}: it does not name a file")]
    NotAFileName {
        /// The path.
        path: ShownPath,
    },
    /// The OS refused or failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done, e.g. `create`.
        op: &'static str,
        /// The file or directory.
        path: ShownPath,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl SafeFsError {
    /// True when a safety rule refused (every variant but [`SafeFsError::Io`]): the user
    /// named a path sockscope will not use. Callers map this to exit 2 (usage).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, SafeFsError::Io { .. })
    }

    /// True for an I/O error saying the file or a directory on its path does not exist:
    /// a config search moves on to the next candidate.
    pub fn is_not_found(&self) -> bool {
        matches!(self, SafeFsError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

pub(crate) fn io_err(op: &'static str, path: &Path, e: Errno) -> SafeFsError {
    SafeFsError::Io {
        op,
        path: ShownPath::of(path),
        source: e.into(),
    }
}

/// `openat` returning an owned descriptor; always `O_CLOEXEC`.
pub(crate) fn at(
    dir: Option<&OwnedFd>,
    name: &OsStr,
    flags: OFlag,
    mode: u32,
) -> nix::Result<OwnedFd> {
    let mode = Mode::from_bits_truncate(mode);
    let fd = openat(
        dir.map(AsRawFd::as_raw_fd),
        name,
        flags | OFlag::O_CLOEXEC,
        mode,
    )?;
    // SAFETY: openat just returned this descriptor, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn stat(fd: &OwnedFd, path: &Path) -> Result<FileStat, SafeFsError> {
    fstat(fd.as_raw_fd()).map_err(|e| io_err("stat", path, e))
}

pub(crate) fn is_regular(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// What `st` is, as a message names it (`a FIFO`, `a directory`, …).
pub fn kind_of(st: &FileStat) -> &'static str {
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => "a regular file",
        libc::S_IFDIR => "a directory",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFSOCK => "a socket",
        libc::S_IFLNK => "a symbolic link",
        _ => "of an unknown type",
    }
}

#[cfg(test)]
mod testutil;
