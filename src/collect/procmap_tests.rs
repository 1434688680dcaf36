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
use crate::analyze::aggregate::tests::sock;
use crate::model::UnattributedReason;

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
fn finds_hidepid_in_mountinfo() {
    let plain = "22 27 0:21 / /proc rw,relatime - proc proc rw\n";
    let hidden = "22 27 0:21 / /proc rw,relatime - proc proc rw,hidepid=invisible\n";
    let hidden_old = "22 27 0:21 / /proc rw,relatime,hidepid=2 - proc proc rw\n";
    let off = "22 27 0:21 / /proc rw - proc proc rw,hidepid=off\n";
    let other = "30 27 0:40 / /mnt/proc rw - proc proc rw,hidepid=noaccess\n";
    let proc = Path::new("/proc");
    assert!(!hidepid_in_mountinfo(plain, proc));
    assert!(hidepid_in_mountinfo(hidden, proc));
    assert!(hidepid_in_mountinfo(hidden_old, proc));
    assert!(!hidepid_in_mountinfo(off, proc));
    assert!(!hidepid_in_mountinfo(other, proc));
    assert!(hidepid_in_mountinfo(other, Path::new("/mnt/proc")));
    assert!(!hidepid_in_mountinfo(&format!("{hidden}{plain}"), proc));
}

#[test]
fn reason_follows_the_facts() {
    const NONE: Caps = Caps {
        sys_ptrace: false,
        dac_read_search: false,
    };
    const PTRACE: Caps = Caps {
        sys_ptrace: true,
        dac_read_search: false,
    };
    const DAC: Caps = Caps {
        sys_ptrace: false,
        dac_read_search: true,
    };
    let f = |unattributed, denied_pids, hidepid, caps| AttributionFacts {
        unattributed,
        denied_pids,
        denied_other_users: denied_pids,
        hidepid,
        caps,
    };
    use UnattributedReason::*;
    assert_eq!(unattributed_reason(&f(0, 5, true, NONE)), None);
    // hidepid with nothing denied: the other pids are absent.
    assert_eq!(unattributed_reason(&f(3, 0, true, NONE)), Some(HidePid));
    // Only own non-dumpable pids refused (a CI run saw one during exec of a setcap binary):
    // still hidepid, not "not root".
    let own_only = AttributionFacts {
        denied_other_users: 0,
        ..f(3, 1, true, NONE)
    };
    assert_eq!(unattributed_reason(&own_only), Some(HidePid));
    assert_eq!(
        unattributed_reason(&AttributionFacts {
            hidepid: false,
            ..own_only
        }),
        Some(NotRoot)
    );
    // hidepid's gid= exemption: pids visible, fds still closed.
    assert_eq!(unattributed_reason(&f(3, 5, true, NONE)), Some(NotRoot));
    assert_eq!(unattributed_reason(&f(3, 5, false, NONE)), Some(NotRoot));
    assert_eq!(
        unattributed_reason(&f(3, 5, false, PTRACE)),
        Some(MissingDacReadSearch)
    );
    assert_eq!(
        unattributed_reason(&f(3, 5, true, PTRACE)),
        Some(MissingDacReadSearch)
    );
    assert_eq!(
        unattributed_reason(&f(3, 5, false, DAC)),
        Some(MissingSysPtrace)
    );
    // DAC alone under hidepid: the pids stay invisible, nothing is denied.
    assert_eq!(
        unattributed_reason(&f(3, 0, true, DAC)),
        Some(MissingSysPtrace)
    );
    assert_eq!(
        unattributed_reason(&f(3, 5, true, Caps::BOTH)),
        Some(Restricted)
    );
    assert_eq!(
        unattributed_reason(&f(3, 5, false, Caps::BOTH)),
        Some(Restricted)
    );
    assert_eq!(unattributed_reason(&f(3, 0, true, Caps::BOTH)), Some(Raced));
    for caps in [NONE, PTRACE, DAC, Caps::BOTH] {
        assert_eq!(unattributed_reason(&f(3, 0, false, caps)), Some(Raced));
    }
}

#[test]
fn refusals_are_classified_from_status() {
    let status = |state: &str, uids: &str| format!("Name:\tx\nState:\t{state}\nUid:\t{uids}\n");
    let c = |st: &str, uid| classify_refusal(Some(st), uid);
    assert_eq!(classify_refusal(None, 0), Refusal::Exiting);
    assert_eq!(c("", 0), Refusal::Exiting);
    assert_eq!(c(&status("Z (zombie)", "0\t0\t0\t0"), 7), Refusal::Exiting);
    assert_eq!(c(&status("X (dead)", "0\t0\t0\t0"), 7), Refusal::Exiting);
    assert_eq!(
        c(&status("S (sleeping)", "7\t7\t7\t7"), 7),
        Refusal::OwnUser
    );
    assert_eq!(
        c(&status("R (running)", "0\t0\t0\t0"), 7),
        Refusal::OtherUser
    );
    // A setuid binary run by uid 7: effective root is another user's process.
    assert_eq!(
        c(&status("S (sleeping)", "7\t0\t0\t0"), 7),
        Refusal::OtherUser
    );
    // The fs uid alone is not part of the check.
    assert_eq!(
        c(&status("S (sleeping)", "7\t7\t7\t0"), 7),
        Refusal::OwnUser
    );
    // The real file of this test process: alive, ours.
    let me = std::fs::read_to_string("/proc/self/status").expect("status");
    let uid = nix::unistd::geteuid().as_raw();
    assert_eq!(c(&me, uid), Refusal::OwnUser);
    assert_eq!(c(&me, uid.wrapping_add(1)), Refusal::OtherUser);
}

#[test]
fn capeff_bits() {
    assert_eq!(Caps::from_capeff(0), Caps::default());
    assert_eq!(Caps::from_capeff(0x0000_01ff_ffff_ffff), Caps::BOTH);
    let ptrace = Caps::from_capeff(1 << 19);
    assert!(ptrace.sys_ptrace && !ptrace.dac_read_search);
    let dac = Caps::from_capeff(1 << 2);
    assert!(!dac.sys_ptrace && dac.dac_read_search);
    // Docker's default set: CAP_DAC_OVERRIDE opens the directories, CAP_SYS_PTRACE is absent,
    // so a containerised root is told that one is missing, not that it is not root.
    let docker = Caps::from_capeff(0x0000_0000_a804_25fb);
    assert!(!docker.sys_ptrace && docker.dac_read_search);
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
    assert_eq!((procs[&200].uid, procs[&200].user.as_str()), (0, "root"));
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

#[test]
fn a_shared_resolver_scans_once_per_round() {
    let live = |l: &TcpListener| {
        vec![with_inode(
            sock(
                TcpState::Listen,
                "127.0.0.1:1",
                "0.0.0.0:0",
                Owner::Unresolved,
            ),
            inode_of(l),
        )]
    };
    // No unknown-inode rescan within the test: only a new round may scan again.
    let shared = SharedResolver::with_resolver(ProcessResolver::new().with_policy(RescanPolicy {
        unknown_min_interval: Duration::from_secs(3600),
        ..RescanPolicy::default()
    }));
    let me = Owner::Process(std::process::id());
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut a = live(&first);
    shared.attribute(0, &mut a);
    assert_eq!(a[0].owner, me);
    // Another namespace's sockets in the same round: the first scan's maps, no new probe.
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut b = live(&second);
    let (_, why) = shared.attribute(0, &mut b);
    assert_eq!(b[0].owner, Owner::Unattributed, "round 0 scanned again");
    assert!(
        why.reason.is_some(),
        "an unattributed socket without a reason"
    );
    let mut a = live(&first);
    shared.attribute(0, &mut a);
    assert_eq!(a[0].owner, me);
    // The next round scans.
    let mut b = live(&second);
    shared.attribute(1, &mut b);
    assert_eq!(b[0].owner, me);
    assert!(shared.last_scan_stats().pids_rescanned > 0);
}

#[test]
fn live_child_is_attributed_with_its_comm() {
    let script = "import socket,os,sys\n\
                  s=socket.socket()\n\
                  s.bind(('127.0.0.1',0))\n\
                  s.listen()\n\
                  print(os.fstat(s.fileno()).st_ino, flush=True)\n\
                  sys.stdin.read()\n";
    let Ok(mut child) = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    else {
        eprintln!("python3 missing: skipped");
        return;
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let inode: u64 = line.trim().parse().unwrap();
    let mut socks = vec![with_inode(
        sock(
            TcpState::Listen,
            "127.0.0.1:1",
            "0.0.0.0:0",
            Owner::Unresolved,
        ),
        inode,
    )];
    let mut r = ProcessResolver::new();
    let (procs, _) = r.attribute(&mut socks);
    let pid = child.id();
    let _ = child.stdin.take().map(|mut s| s.write_all(b""));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(socks[0].owner, Owner::Process(pid));
    // pyenv shims exec the real interpreter, whose comm is python3.x.
    assert!(procs[&pid].comm.starts_with("python"), "{:?}", procs[&pid]);
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
    r.assign_owners(&mut socks);
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
