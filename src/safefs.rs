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
//! sockscope writes; it must not import any other sockscope module.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;
use nix::fcntl::{fcntl, openat, readlinkat, renameat, renameat2, FcntlArg, OFlag, RenameFlags};
use nix::sys::stat::{fchmod, fstat, FileStat, Mode};
use nix::unistd::{geteuid, unlinkat, UnlinkatFlags};
use thiserror::Error;

/// Most symlinks followed while resolving one directory, as the kernel's own limit.
const MAX_LINKS: u32 = 40;

/// A path as messages print it: control characters (a newline, an escape sequence) and
/// bytes that are not UTF-8 are escaped, so a hostile file name cannot split or forge a
/// line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownPath(pub PathBuf);

impl ShownPath {
    fn of(path: &Path) -> ShownPath {
        ShownPath(path.to_path_buf())
    }
}

impl fmt::Display for ShownPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.as_os_str().as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    f.write_char(c)?;
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
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

fn io_err(op: &'static str, path: &Path, e: Errno) -> SafeFsError {
    SafeFsError::Io {
        op,
        path: ShownPath::of(path),
        source: e.into(),
    }
}

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

    fn dir_fd(&self) -> std::os::fd::RawFd {
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

/// `openat` returning an owned descriptor; always `O_CLOEXEC`.
fn at(dir: Option<&OwnedFd>, name: &OsStr, flags: OFlag, mode: u32) -> nix::Result<OwnedFd> {
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

fn stat(fd: &OwnedFd, path: &Path) -> Result<FileStat, SafeFsError> {
    fstat(fd.as_raw_fd()).map_err(|e| io_err("stat", path, e))
}

/// Creates `name` in `dir`: `O_EXCL` (so `O_NOFOLLOW`), then `fchmod` 0600 against the umask.
fn create_in(dir: &OwnedFd, name: &OsStr, path: &Path) -> Result<File, SafeFsError> {
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

/// The directory descriptor and final name of `path`, the directory checked as root.
fn open_parent(
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
    std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.uid() == euid)
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
fn reopen_read(probe: &OwnedFd, path: &Path) -> Result<File, SafeFsError> {
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

fn is_regular(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// What `st` is, as a message names it.
fn kind_of(st: &FileStat) -> &'static str {
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
#[path = "safefs_tests.rs"]
mod tests;
