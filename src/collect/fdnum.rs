//! Which file descriptor a process holds a socket under (`sockets --fd`, as ss -p's `fd=`).
//!
//! Owns reading the `/proc/PID/fd` links of the pids it is given; it must not decide
//! owners (that is `procmap`, which reads every pid's links but keeps only inode → pid, so
//! the attribution cache stays small). Asked only for the pids that own listed sockets, it
//! costs one readlink per descriptor of those pids.

use std::collections::HashMap;
use std::path::Path;

/// `(pid, socket inode)` → the lowest fd that pid holds the socket under.
pub type SocketFds = HashMap<(u32, u64), u32>;

/// Reads the fd links of `pids` under `proc_root` (normally `/proc`). A pid that exited
/// or whose links are refused adds nothing: its sockets show no fd.
pub fn socket_fds(proc_root: &Path, pids: impl IntoIterator<Item = u32>) -> SocketFds {
    let mut out = SocketFds::new();
    for pid in pids {
        let dir = proc_root.join(pid.to_string()).join("fd");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Some(fd) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(link) = std::fs::read_link(e.path()) else {
                continue;
            };
            let Some(inode) = super::procmap::socket_inode(link.as_os_str().as_encoded_bytes())
            else {
                continue;
            };
            out.entry((pid, inode))
                .and_modify(|f| *f = (*f).min(fd))
                .or_insert(fd);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_process_own_socket_fd() {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = l.as_raw_fd();
        let inode = std::fs::metadata(format!("/proc/self/fd/{fd}"))
            .unwrap()
            .ino();
        let me = std::process::id();
        let fds = socket_fds(Path::new("/proc"), [me]);
        assert_eq!(fds.get(&(me, inode)), Some(&u32::try_from(fd).unwrap()));
        assert!(socket_fds(Path::new("/nonexistent"), [me]).is_empty());
    }
}
