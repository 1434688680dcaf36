//! Tests for process attribution: fd-link parsing, hidepid detection, the unattributed
//! reason from observed facts, capabilities, the cached rescans, and live sockets of this
//! process.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};

use super::*;
use crate::model::fixtures::sock;
use crate::model::{Owner, TcpState, UnattributedReason};

fn with_inode(mut s: SocketRecord, inode: u64) -> SocketRecord {
    s.inode = inode;
    s
}

fn estab(inode: u64) -> SocketRecord {
    with_inode(
        sock(
            TcpState::Established,
            "10.0.0.1:80",
            "10.0.0.9:5",
            Owner::Unresolved,
        ),
        inode,
    )
}

/// A fake proc root on tmpfs, where a directory's st_size grows with its entries the way
/// /proc/<pid>/fd's fd count does (ext4 directories stay at 4096).
struct FakeProc {
    dir: tempfile::TempDir,
}

impl FakeProc {
    fn new() -> FakeProc {
        let base = if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        };
        FakeProc {
            dir: tempfile::Builder::new()
                .prefix("sockscope-proc")
                .tempdir_in(base)
                .unwrap(),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn add_pid(&self, pid: u32, comm: &str, start: u64, inodes: &[u64]) {
        let p = self.root().join(pid.to_string());
        std::fs::create_dir_all(p.join("fd")).unwrap();
        self.set_start(pid, comm, start);
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let status: String = status
            .lines()
            .map(|l| {
                if l.starts_with("Name:") {
                    format!("Name:\t{comm}\n")
                } else if l.starts_with("Uid:") {
                    "Uid:\t0\t0\t0\t0\n".to_string()
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(p.join("status"), status).unwrap();
        for (i, ino) in inodes.iter().enumerate() {
            self.add_fd(pid, i as u32 + 3, &format!("socket:[{ino}]"));
        }
    }

    fn set_start(&self, pid: u32, comm: &str, start: u64) {
        let mut fields = vec!["0".to_string(); 50];
        fields[0] = "S".into();
        fields[19] = start.to_string();
        let line = format!("{pid} ({comm}) {}\n", fields.join(" "));
        std::fs::write(self.root().join(pid.to_string()).join("stat"), line).unwrap();
    }

    fn add_fd(&self, pid: u32, fd: u32, target: &str) {
        let link = self.root().join(format!("{pid}/fd/{fd}"));
        symlink(target, link).unwrap();
    }

    fn remove_pid(&self, pid: u32) {
        std::fs::remove_dir_all(self.root().join(pid.to_string())).unwrap();
    }
}

#[test]
fn parses_socket_links_and_start_time() {
    assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
    assert_eq!(socket_inode(b"pipe:[12345]"), None);
    assert_eq!(socket_inode(b"socket:[]"), None);
    assert_eq!(socket_inode(b"/dev/null"), None);
    let mut fields = vec!["0"; 50];
    fields[19] = "987654";
    let line = format!("42 (evil) (name 1 2) {}", fields.join(" "));
    assert_eq!(stat_start_time(line.as_bytes()), Some(987654));
    assert_eq!(stat_start_time(b"42 (x) S 1"), None);
    assert_eq!(stat_start_time(b""), None);
}

#[test]
fn request_sockets_follow_their_listener() {
    let mut socks = vec![
        sock(
            TcpState::Listen,
            "0.0.0.0:80",
            "0.0.0.0:0",
            Owner::Process(7),
        ),
        sock(
            TcpState::Listen,
            "127.0.0.1:81",
            "0.0.0.0:0",
            Owner::Unattributed,
        ),
        with_inode(
            sock(
                TcpState::SynRecv,
                "10.0.0.1:80",
                "10.0.0.9:1",
                Owner::Unresolved,
            ),
            0,
        ),
        with_inode(
            sock(
                TcpState::SynRecv,
                "127.0.0.1:81",
                "10.0.0.9:2",
                Owner::Unresolved,
            ),
            0,
        ),
        with_inode(
            sock(
                TcpState::SynRecv,
                "10.0.0.1:82",
                "10.0.0.9:3",
                Owner::Unresolved,
            ),
            0,
        ),
    ];
    attribute_requests(&mut socks);
    let owners: Vec<Owner> = socks.iter().map(|s| s.owner).collect();
    assert_eq!(
        owners[2..],
        [Owner::ViaListener(7), Owner::Ownerless, Owner::Ownerless]
    );
}

#[test]
fn fake_root_attribution_and_ownerless() {
    let fake = FakeProc::new();
    fake.add_pid(100, "srv", 1000, &[11, 12]);
    fake.add_pid(200, "worker", 2000, &[12, 13]);
    fake.add_fd(200, 9, "/dev/null");
    let mut socks = vec![
        with_inode(
            sock(
                TcpState::Listen,
                "0.0.0.0:80",
                "0.0.0.0:0",
                Owner::Unresolved,
            ),
            12,
        ),
        estab(13),
        with_inode(
            sock(
                TcpState::SynRecv,
                "10.0.0.1:80",
                "10.0.0.9:6",
                Owner::Unresolved,
            ),
            0,
        ),
        with_inode(
            sock(
                TcpState::TimeWait,
                "10.0.0.1:80",
                "10.0.0.9:7",
                Owner::Unresolved,
            ),
            0,
        ),
        with_inode(
            sock(
                TcpState::CloseWait,
                "10.0.0.1:80",
                "10.0.0.9:8",
                Owner::Unresolved,
            ),
            99,
        ),
    ];
    let mut r = ProcessResolver::with_proc_root(fake.root());
    let (procs, attr) = r.attribute(&mut socks);
    let owners: Vec<Owner> = socks.iter().map(|s| s.owner).collect();
    assert_eq!(
        owners,
        [
            Owner::Process(100), // shared by 100 and 200: the lowest pid
            Owner::Process(200),
            Owner::ViaListener(100),
            Owner::Ownerless,
            Owner::Unattributed,
        ]
    );
    assert_eq!(procs.keys().copied().collect::<Vec<_>>(), [100, 200]);
    assert_eq!(procs[&200].comm, "worker");
    assert_eq!(
        (procs[&200].uid, procs[&200].user.as_utf8()),
        (0, Some("root"))
    );
    assert!(attr.attempted);
    assert_eq!(attr.unreadable_pids, 0);
    // Root, everything readable, inode 99 held by nobody: it raced.
    assert_eq!(attr.reason, Some(UnattributedReason::Raced));
    let st = r.last_scan_stats();
    assert_eq!(st.full_rescan, Some(FullRescan::Periodic));
    assert_eq!(
        (st.pids_rescanned, st.fds_read, st.unknown_inodes),
        (2, 5, 1)
    );
}

#[test]
fn cached_poll_rescans_only_what_changed() {
    let fake = FakeProc::new();
    fake.add_pid(100, "a", 1000, &[11]);
    fake.add_pid(200, "b", 2000, &[21]);
    fake.add_pid(300, "c", 3000, &[31]);
    let mk = |inodes: &[u64]| -> Vec<SocketRecord> { inodes.iter().map(|&i| estab(i)).collect() };
    // Unknown inodes never trigger a full rescan here, so each pass is purely incremental.
    let mut r = ProcessResolver::with_proc_root(fake.root()).with_policy(RescanPolicy {
        full_every: Duration::from_secs(3600),
        unknown_min_interval: Duration::from_secs(3600),
        unknown_cost_factor: 1,
    });
    let mut socks = mk(&[11, 21, 31]);
    r.attribute(&mut socks);
    assert_eq!(r.last_scan_stats().pids_rescanned, 3);

    // Nothing changed: nothing rescanned, owners and process info from the cache.
    let (procs, _) = r.attribute(&mut socks);
    let st = r.last_scan_stats().clone();
    assert_eq!((st.pids_listed, st.pids_rescanned, st.fds_read), (3, 0, 0));
    assert_eq!(st.full_rescan, None);
    assert_eq!(procs[&300].comm, "c");

    // A new fd in 200, a reused pid 300, a new pid 400, an exited pid 100.
    fake.add_fd(200, 10, "socket:[22]");
    fake.remove_pid(300);
    fake.add_pid(300, "c2", 3500, &[32]);
    fake.add_pid(400, "d", 4000, &[41]);
    fake.remove_pid(100);
    let mut socks = mk(&[11, 22, 31, 32, 41]);
    let (procs, attr) = r.attribute(&mut socks);
    let st = r.last_scan_stats().clone();
    assert_eq!((st.pids_listed, st.pids_rescanned), (3, 3));
    let owners: Vec<Owner> = socks.iter().map(|s| s.owner).collect();
    assert_eq!(
        owners,
        [
            Owner::Unattributed,
            Owner::Process(200),
            Owner::Unattributed,
            Owner::Process(300),
            Owner::Process(400),
        ]
    );
    assert_eq!(procs[&300].comm, "c2");
    assert_eq!(attr.reason, Some(UnattributedReason::Raced));
}

#[test]
fn unknown_inodes_trigger_a_rate_limited_full_rescan() {
    let fake = FakeProc::new();
    fake.add_pid(100, "a", 1000, &[11]);
    let policy = |min_secs| RescanPolicy {
        full_every: Duration::from_secs(3600),
        unknown_min_interval: Duration::from_secs(min_secs),
        unknown_cost_factor: 0,
    };
    let mut eager = ProcessResolver::with_proc_root(fake.root()).with_policy(policy(0));
    let mut limited = ProcessResolver::with_proc_root(fake.root()).with_policy(policy(3600));
    let mut socks = vec![estab(11)];
    eager.attribute(&mut socks);
    limited.attribute(&mut socks);
    // Socket 11 replaced by 12 in the same fd slot: the fd count does not change.
    std::fs::remove_file(fake.root().join("100/fd/3")).unwrap();
    fake.add_fd(100, 3, "socket:[12]");
    socks[0].inode = 12;

    limited.attribute(&mut socks);
    assert_eq!(limited.last_scan_stats().full_rescan, None);
    assert_eq!(limited.last_scan_stats().pids_rescanned, 0);
    assert_eq!(socks[0].owner, Owner::Unattributed);

    eager.attribute(&mut socks);
    assert_eq!(
        eager.last_scan_stats().full_rescan,
        Some(FullRescan::UnknownInodes)
    );
    assert_eq!(socks[0].owner, Owner::Process(100));
}

fn inode_of(fd: &impl AsRawFd) -> u64 {
    nix::sys::stat::fstat(fd.as_raw_fd()).unwrap().st_ino
}

#[test]
fn live_sockets_of_this_process() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (a, _) = l.accept().unwrap();
    let mut socks: Vec<SocketRecord> = [inode_of(&l), inode_of(&c), inode_of(&a)]
        .iter()
        .map(|&i| {
            with_inode(
                sock(
                    TcpState::Established,
                    "127.0.0.1:1",
                    "127.0.0.1:2",
                    Owner::Unresolved,
                ),
                i,
            )
        })
        .collect();
    let mut r = ProcessResolver::new();
    let (procs, _) = r.attribute(&mut socks);
    let me = std::process::id();
    for s in &socks {
        assert_eq!(s.owner, Owner::Process(me));
    }
    assert_eq!(procs[&me].uid, nix::unistd::getuid().as_raw());
}

/// A python3 child holding one listener, and that listener's inode; `None` without python3.
fn listener_child() -> Option<(std::process::Child, u64)> {
    let script = "import socket,os,sys\n\
                  s=socket.socket()\n\
                  s.bind(('127.0.0.1',0))\n\
                  s.listen()\n\
                  print(os.fstat(s.fileno()).st_ino, flush=True)\n\
                  sys.stdin.read()\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Some((child, line.trim().parse().unwrap()))
}

fn listener_record(inode: u64) -> Vec<SocketRecord> {
    vec![with_inode(
        sock(
            TcpState::Listen,
            "127.0.0.1:1",
            "0.0.0.0:0",
            Owner::Unresolved,
        ),
        inode,
    )]
}

#[test]
fn a_shared_resolver_scans_once_per_round() {
    let shared = SharedResolver::new();
    let me = Owner::Process(std::process::id());
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut a = listener_record(inode_of(&first));
    shared.attribute(0, &mut a);
    assert_eq!((a[0].owner, shared.probes()), (me, 1));
    // Another namespace's sockets in the same round, all mapped: no new probe.
    let mut again = listener_record(inode_of(&first));
    shared.attribute(0, &mut again);
    assert_eq!((again[0].owner, shared.probes()), (me, 1));
    // A socket opened since the scan, by a new process: probed at once, named this round.
    let Some((mut child, inode)) = listener_child() else {
        panic!("python3 is required (tests/run-all.sh installs it)");
    };
    let mut b = listener_record(inode);
    shared.attribute(0, &mut b);
    let pid = child.id();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!((b[0].owner, shared.probes()), (Owner::Process(pid), 2));
    // An inode no probe can name (another user's, say) probes once, not in every namespace.
    let nobodys = u64::from(u32::MAX) + 7;
    for _ in 0..3 {
        let mut c = listener_record(nobodys);
        shared.attribute(0, &mut c);
        assert_eq!((c[0].owner, shared.probes()), (Owner::Unattributed, 3));
    }
    // The next round probes again; a straggler of an older round reuses the newer scan.
    shared.attribute(1, &mut listener_record(inode_of(&first)));
    assert_eq!(shared.probes(), 4);
    shared.attribute(0, &mut listener_record(inode_of(&first)));
    assert_eq!(shared.probes(), 4);
}

#[test]
fn live_child_is_attributed_with_its_comm() {
    let Some((mut child, inode)) = listener_child() else {
        eprintln!("python3 missing: skipped");
        return;
    };
    let mut socks = listener_record(inode);
    let mut r = ProcessResolver::new();
    let (procs, _) = r.attribute(&mut socks);
    let pid = child.id();
    let _ = child.stdin.take().map(|mut s| s.write_all(b""));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(socks[0].owner, Owner::Process(pid));
    // pyenv shims exec the real interpreter, whose comm is python3.x.
    assert!(
        procs[&pid].comm.raw_bytes().starts_with(b"python"),
        "{:?}",
        procs[&pid]
    );
}

/// Attribution is complete at a few thousand sockets over several holder processes, on
/// the first (full) poll, on cached polls and on forced full rescans. Prints the scan cost
/// (`-- --nocapture`).
#[test]
fn attributes_thousands_across_holders() {
    const HOLDERS: usize = 4;
    const PAIRS: usize = 500;
    let script = "import socket,os,sys\n\
                  n=int(sys.argv[1])\n\
                  l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen(n+10)\n\
                  ss=[l]\n\
                  for i in range(n):\n\
                  \x20 c=socket.create_connection(l.getsockname()); a,_=l.accept(); ss+=[c,a]\n\
                  print(' '.join(str(os.fstat(s.fileno()).st_ino) for s in ss), flush=True)\n\
                  sys.stdin.read()\n";
    let mut children = Vec::new();
    let mut socks = Vec::new();
    for _ in 0..HOLDERS {
        let mut child = Command::new("python3")
            .args(["-c", script, &PAIRS.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        for ino in line.split_whitespace() {
            socks.push(with_inode(
                sock(
                    TcpState::Established,
                    "127.0.0.1:1",
                    "127.0.0.1:2",
                    Owner::Unresolved,
                ),
                ino.parse().unwrap(),
            ));
        }
        children.push(child);
    }
    let time = |r: &mut ProcessResolver, socks: &mut Vec<SocketRecord>| {
        r.attribute(socks);
        r.last_scan_stats().clone()
    };
    let mut r = ProcessResolver::new();
    let first = time(&mut r, &mut socks);
    let mut cached = Vec::new();
    for _ in 0..5 {
        cached.push(time(&mut r, &mut socks));
    }
    // Where a cached poll's time goes.
    let t = std::time::Instant::now();
    let listed = r.list_pids();
    let t_list = t.elapsed();
    let t = std::time::Instant::now();
    r.incremental(&listed);
    let t_probe = t.elapsed();
    let t = std::time::Instant::now();
    r.assign_owners(&mut Tables::tcp(&mut socks));
    let t_assign = t.elapsed();
    println!("cached breakdown: list {t_list:?} probe+rescan {t_probe:?} assign {t_assign:?}");
    let mut always_full = ProcessResolver::new().with_policy(RescanPolicy {
        full_every: Duration::ZERO,
        ..RescanPolicy::default()
    });
    let mut full = Vec::new();
    for _ in 0..5 {
        full.push(time(&mut always_full, &mut socks));
    }
    for mut c in children {
        drop(c.stdin.take());
        let _ = c.kill();
        let _ = c.wait();
    }
    let attributed = socks
        .iter()
        .filter(|s| matches!(s.owner, Owner::Process(_)))
        .count();
    println!("sockets {} attributed {attributed}", socks.len());
    println!("first poll: {first:?}");
    for c in &cached {
        println!("cached poll: {c:?}");
    }
    for f in &full {
        println!("full poll: {f:?}");
    }
    assert_eq!(attributed, socks.len());
}

#[path = "procmap_tables_tests.rs"]
mod tables;
