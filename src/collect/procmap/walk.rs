//! Reading `/proc/<pid>/fd`: the socket inodes one pid holds ([`read_fd_links`]), and the
//! whole walk of a full rescan spread over the machine's cores ([`read_all`]).
//!
//! Measured at 100k sockets over 7 processes (`perf record`, `summary --by process`): the
//! `readlinkat` calls were 54% of the run and `getdents64` 14%, all of it kernel time spent
//! per fd. Nothing here can make one readlink cheaper, beyond not allocating for its
//! answer (a socket link is `socket:[N]`, under 24 bytes: a stack buffer holds it); so a
//! full rescan splits the pids, balanced by their fd counts, over up to two threads,
//! which only read. The cache is updated afterwards, on the caller's thread, in pid order.
//! Pure reads: no cache, no counting of sockets.

use std::collections::HashMap;
use std::ffi::CStr;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::socket_inode;

/// Below this many fds in total a full rescan stays on one thread: a thread costs more
/// than it saves (about 2 µs per fd link read on this machine kind).
const PARALLEL_MIN_FDS: u64 = 4096;
/// Threads a full rescan uses at most (the machine kind has two cores).
const MAX_THREADS: usize = 2;

/// What reading one pid's fd directory found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdLinks {
    /// The directory was opened (or refused).
    Read {
        /// Socket inodes, sorted, without repeats.
        inodes: Vec<u64>,
        /// fd links read.
        fds_read: u64,
        /// The directory or its links were refused (EACCES/EPERM).
        denied: bool,
    },
    /// The pid exited before its directory could be opened.
    Gone,
}

/// Reads the socket inodes `pid` holds under `proc_root`.
pub fn read_fd_links(proc_root: &Path, pid: u32) -> FdLinks {
    let path = proc_root.join(pid.to_string()).join("fd");
    let (mut inodes, mut fds_read, mut denied) = (Vec::new(), 0, false);
    match Dir::open(
        &path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(mut dir) => {
            let dirfd = dir.as_raw_fd();
            for ent in dir.iter().flatten() {
                let name = ent.file_name();
                if name.to_bytes().first().is_none_or(|b| !b.is_ascii_digit()) {
                    continue;
                }
                fds_read += 1;
                match read_link(dirfd, name) {
                    Ok(Some(ino)) => inodes.push(ino),
                    Ok(None) => {}
                    // CAP_DAC_READ_SEARCH alone opens the directory, but the ptrace check
                    // refuses every link: one refusal means all, stop reading.
                    Err(Errno::EACCES | Errno::EPERM) => {
                        denied = true;
                        break;
                    }
                    // An fd closed since getdents gives ENOENT: skip it.
                    Err(_) => {}
                }
            }
        }
        Err(Errno::EACCES | Errno::EPERM) => denied = true,
        Err(_) => return FdLinks::Gone,
    }
    inodes.sort_unstable();
    inodes.dedup();
    FdLinks::Read {
        inodes,
        fds_read,
        denied,
    }
}

/// The socket inode an fd link names, read into a stack buffer; `None` for anything that
/// is not a socket (a link that fills the buffer is longer than any `socket:[N]`).
fn read_link(dirfd: std::os::fd::RawFd, name: &CStr) -> Result<Option<u64>, Errno> {
    let mut buf = [0u8; 64];
    // SAFETY: `dirfd` is an open directory for the duration of the call, `name` is a
    // NUL-terminated string, and the kernel writes at most `buf.len()` bytes into `buf`.
    let n = unsafe {
        libc::readlinkat(
            dirfd,
            name.as_ptr(),
            buf.as_mut_ptr().cast::<libc::c_char>(),
            buf.len(),
        )
    };
    let n = usize::try_from(n).map_err(|_| Errno::last())?;
    Ok(buf
        .get(..n)
        .filter(|_| n < buf.len())
        .and_then(socket_inode))
}

/// Reads the fd links of every pid that `probed` found alive (its `Some((start time, fd
/// count))`), over up to [`MAX_THREADS`] threads when there are enough fds to pay for
/// them, each thread given about the same number of fds.
pub fn read_all(proc_root: &Path, probed: &[(u32, Option<(u64, u64)>)]) -> HashMap<u32, FdLinks> {
    let mut alive: Vec<(u32, u64)> = probed
        .iter()
        .filter_map(|&(pid, p)| p.map(|(_, fds)| (pid, fds)))
        .collect();
    let total: u64 = alive.iter().map(|&(_, fds)| fds).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS);
    if threads < 2 || total < PARALLEL_MIN_FDS {
        return alive
            .iter()
            .map(|&(pid, _)| (pid, read_fd_links(proc_root, pid)))
            .collect();
    }
    // Largest first, each to the lighter share: the shares differ by at most one pid's fds.
    alive.sort_unstable_by_key(|&(_, fds)| std::cmp::Reverse(fds));
    let mut shares: Vec<(u64, Vec<u32>)> = vec![(0, Vec::new()); threads];
    for (pid, fds) in alive {
        if let Some(share) = shares.iter_mut().min_by_key(|s| s.0) {
            share.0 += fds;
            share.1.push(pid);
        }
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .iter()
            .map(|(_, pids)| {
                scope.spawn(move || {
                    pids.iter()
                        .map(|&pid| (pid, read_fd_links(proc_root, pid)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = HashMap::new();
        for (h, (_, pids)) in handles.into_iter().zip(&shares) {
            match h.join() {
                Ok(read) => out.extend(read),
                // A reader that panicked read nothing usable: read its share here.
                Err(_) => out.extend(pids.iter().map(|&p| (p, read_fd_links(proc_root, p)))),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn reads_this_process_sockets_the_same_on_one_thread_or_two() {
        let held: Vec<TcpListener> = (0..50)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let me = std::process::id();
        let root = Path::new("/proc");
        let FdLinks::Read { inodes, .. } = read_fd_links(root, me) else {
            panic!("this process is alive");
        };
        assert!(inodes.len() >= held.len(), "{} inodes", inodes.len());
        // Enough fds (claimed) to take the threaded path; one pid still goes to one thread.
        let probed = [(me, Some((0, PARALLEL_MIN_FDS))), (u32::MAX, None)];
        let all = read_all(root, &probed);
        assert_eq!(all.len(), 1, "exited pids are not read");
        let Some(FdLinks::Read { inodes: again, .. }) = all.get(&me) else {
            panic!("read");
        };
        let mine: Vec<u64> = held
            .iter()
            .map(|l| {
                use std::os::fd::AsRawFd;
                nix::sys::stat::fstat(l.as_raw_fd()).unwrap().st_ino
            })
            .collect();
        for ino in mine {
            assert!(inodes.binary_search(&ino).is_ok(), "one thread: {ino}");
            assert!(again.binary_search(&ino).is_ok(), "two threads: {ino}");
        }
        assert_eq!(read_fd_links(root, u32::MAX), FdLinks::Gone);
    }
}
