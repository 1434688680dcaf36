//! Tests on the real filesystem. Planting another user's files needs root (chown); those
//! tests skip when not root, except under `CI`, where a skip is a failure.

use super::*;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

/// True when the test may run. Not root: says so on fd 2 and returns false, except under
/// `CI`, where it panics, as `tests/common::require_root` does.
fn require_root(test: &str) -> bool {
    if geteuid().is_root() {
        return true;
    }
    let msg = format!("SKIPPED: {test} needs root to plant files owned by another user");
    assert!(std::env::var_os("CI").is_none(), "{msg} (CI is set)");
    let _ = writeln!(io::stderr(), "{msg}");
    false
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn mode_of(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn mkdir(p: &Path, owner: u32, mode: u32) {
    fs::create_dir(p).unwrap();
    std::os::unix::fs::chown(p, Some(owner), Some(owner)).unwrap();
    chmod(p, mode);
}

fn force() -> WriteOpts {
    WriteOpts { force: true }
}

/// Entries of `dir`, sorted, to see that no temporary file was left behind.
fn ls(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// ------------------------------------------------------------------------------ writes

#[test]
fn create_new_makes_a_0600_file() {
    let d = tmp();
    let p = d.path().join("rec.jsonl");
    let mut f = create_new(&p, &WriteOpts::default()).unwrap();
    f.write_all(b"hello\n").unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"hello\n");
    assert_eq!(mode_of(&p), 0o600);
}

#[test]
fn create_new_refuses_existing_file_and_symlinks_and_leaves_them() {
    let d = tmp();
    let target = d.path().join("target");
    fs::write(&target, "precious").unwrap();
    chmod(&target, 0o644);
    let live = d.path().join("live");
    symlink(&target, &live).unwrap();
    let dangling = d.path().join("dangling");
    let dangling_target = d.path().join("nowhere");
    symlink(&dangling_target, &dangling).unwrap();

    for (p, what) in [
        (&target, "a regular file"),
        (&live, "a symbolic link"),
        (&dangling, "a symbolic link"),
    ] {
        let e = create_new(p, &force()).unwrap_err();
        assert!(
            matches!(e, SafeFsError::Exists { what: w, .. } if w == what),
            "{e}"
        );
        assert!(e.is_refusal());
        assert_eq!(
            e.to_string(),
            format!(
                "refusing to create {}: it already exists ({what})",
                p.display()
            )
        );
    }
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
    assert_eq!(mode_of(&target), 0o644);
    assert!(!dangling_target.exists(), "the dangling link was followed");
}

#[test]
fn replace_over_a_symlink_replaces_the_link_not_its_target() {
    let d = tmp();
    let target = d.path().join("target");
    fs::write(&target, "precious").unwrap();
    let p = d.path().join("snap.json");
    symlink(&target, &p).unwrap();
    let mut a = replace(&p, &WriteOpts::default()).unwrap();
    a.write_all(b"{}").unwrap();
    a.commit().unwrap();
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
    assert!(fs::symlink_metadata(&p).unwrap().file_type().is_file());
    assert_eq!(fs::read_to_string(&p).unwrap(), "{}");
    assert_eq!(mode_of(&p), 0o600);
    assert_eq!(ls(d.path()), ["snap.json", "target"]);
}

#[test]
fn replace_dropped_or_refused_leaves_no_temporary_file() {
    let d = tmp();
    let p = d.path().join("snap.json");
    let mut a = replace(&p, &WriteOpts::default()).unwrap();
    a.write_all(b"partial").unwrap();
    drop(a);
    assert!(ls(d.path()).is_empty());

    fs::write(&p, "old").unwrap();
    let mut a = replace(&p, &WriteOpts::default()).unwrap();
    a.write_all(b"new").unwrap();
    let e = a.commit_no_clobber().unwrap_err();
    assert!(matches!(e, SafeFsError::Exists { .. }), "{e}");
    assert_eq!(fs::read_to_string(&p).unwrap(), "old");
    assert_eq!(ls(d.path()), ["snap.json"]);

    let q = d.path().join("fresh.json");
    let mut a = replace(&q, &WriteOpts::default()).unwrap();
    a.write_all(b"new").unwrap();
    a.commit_no_clobber().unwrap();
    assert_eq!(fs::read_to_string(&q).unwrap(), "new");
}

#[test]
fn create_replacing_creates_replaces_or_declines() {
    let d = tmp();
    let p = d.path().join("rec.jsonl");
    let mut f = create_replacing(&p, &WriteOpts::default(), |_| panic!("nothing to ask")).unwrap();
    f.write_all(b"one\n").unwrap();
    assert_eq!(mode_of(&p), 0o600);

    // A second name for the old file (a hard link planted by someone else) keeps its
    // contents: the old inode is unlinked, never truncated.
    let other = d.path().join("other-name");
    fs::hard_link(&p, &other).unwrap();
    let mut seen = String::new();
    let mut f = create_replacing(&p, &WriteOpts::default(), |old| {
        old.read_to_string(&mut seen).unwrap();
        true
    })
    .unwrap();
    f.write_all(b"two\n").unwrap();
    assert_eq!(seen, "one\n");
    assert_eq!(fs::read_to_string(&p).unwrap(), "two\n");
    assert_eq!(fs::read_to_string(&other).unwrap(), "one\n");

    let e = create_replacing(&p, &WriteOpts::default(), |_| false).unwrap_err();
    assert!(matches!(e, SafeFsError::Declined { .. }), "{e}");
    assert_eq!(fs::read_to_string(&p).unwrap(), "two\n");
    assert_eq!(ls(d.path()), ["other-name", "rec.jsonl"]);
}

#[test]
fn create_replacing_refuses_symlinks_fifos_and_directories() {
    let d = tmp();
    let target = d.path().join("target");
    fs::write(&target, "precious").unwrap();
    let link = d.path().join("link");
    symlink(&target, &link).unwrap();
    let fifo = d.path().join("fifo");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
    let sub = d.path().join("sub");
    fs::create_dir(&sub).unwrap();
    for (p, what) in [
        (&link, "a symbolic link"),
        (&fifo, "a FIFO"),
        (&sub, "a directory"),
    ] {
        let e = create_replacing(p, &WriteOpts::default(), |_| true).unwrap_err();
        assert!(
            matches!(e, SafeFsError::NotReplaceable { what: w, .. } if w == what),
            "{e}"
        );
    }
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
}

#[test]
fn paths_that_name_no_file_are_refused() {
    for p in ["", ".", "..", "/", "dir/", "dir/.", "dir/.."] {
        let e = create_new(Path::new(p), &force()).unwrap_err();
        assert!(matches!(e, SafeFsError::NotAFileName { .. }), "{p:?}: {e}");
    }
}

/// Runs in a child process (umask is per process, and tests share one): creates files
/// under the umask in `SAFEFS_UMASK_CHILD`. A no-op in an ordinary run.
#[test]
fn umask_child() {
    let Some(spec) = std::env::var_os("SAFEFS_UMASK_CHILD") else {
        return;
    };
    let spec = spec.to_string_lossy().into_owned();
    let (mask, dir) = spec.split_once(':').unwrap();
    let mask = u32::from_str_radix(mask, 8).unwrap();
    nix::sys::stat::umask(Mode::from_bits_truncate(mask));
    let dir = Path::new(dir);
    create_new(&dir.join("new"), &WriteOpts::default()).unwrap();
    fs::write(dir.join("old"), "x").unwrap();
    create_replacing(&dir.join("old"), &WriteOpts::default(), |_| true).unwrap();
    let mut a = replace(&dir.join("atomic"), &WriteOpts::default()).unwrap();
    a.write_all(b"x").unwrap();
    a.commit().unwrap();
}

#[test]
fn files_are_0600_whatever_the_umask() {
    let exe = std::env::current_exe().unwrap();
    for mask in ["0", "022", "077", "0277"] {
        let d = tmp();
        let out = std::process::Command::new(&exe)
            .args(["--exact", "safefs::tests::umask_child", "--test-threads=1"])
            .env(
                "SAFEFS_UMASK_CHILD",
                format!("{mask}:{}", d.path().display()),
            )
            .output()
            .unwrap();
        assert!(out.status.success(), "umask {mask}: {out:?}");
        for name in ["new", "old", "atomic"] {
            assert_eq!(mode_of(&d.path().join(name)), 0o600, "umask {mask}: {name}");
        }
    }
}

// ------------------------------------------------------------------------------ directories

#[test]
fn directory_rules_as_pure_functions() {
    assert_eq!(unsafe_dir_reason(0, 0o40755, true), None);
    assert_eq!(unsafe_dir_reason(0, 0o40700, false), None);
    assert_eq!(
        unsafe_dir_reason(0, 0o41777, false),
        None,
        "/tmp on the way"
    );
    assert_eq!(
        unsafe_dir_reason(0, 0o41777, true).as_deref(),
        Some("is writable by group/others (mode 1777)")
    );
    assert!(
        unsafe_dir_reason(0, 0o40775, false).is_some(),
        "group-writable"
    );
    assert!(
        unsafe_dir_reason(0, 0o40757, true).is_some(),
        "other-writable"
    );
    assert_eq!(
        unsafe_dir_reason(1000, 0o40700, false).as_deref(),
        Some("is owned by uid 1000, not root")
    );
}

#[test]
fn as_root_directories_other_users_can_change_are_refused_unless_forced() {
    if !require_root("as_root_directories_other_users_can_change_are_refused_unless_forced") {
        return;
    }
    let d = tmp();
    let owned = d.path().join("owned");
    mkdir(&owned, NOBODY, 0o755);
    let sticky = d.path().join("sticky");
    mkdir(&sticky, 0, 0o1777);
    let group = d.path().join("group");
    mkdir(&group, 0, 0o775);
    for (dir, why) in [
        (&owned, "the directory is owned by uid 65534, not root"),
        (
            &sticky,
            "the directory is writable by group/others (mode 1777)",
        ),
        (
            &group,
            "the directory is writable by group/others (mode 0775)",
        ),
    ] {
        let p = dir.join("out.json");
        let e = create_new(&p, &WriteOpts::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "refusing to write into {}: {why} (use --force to write there anyway)",
                dir.display()
            )
        );
        assert!(e.is_refusal());
        assert!(replace(&p, &WriteOpts::default()).is_err());
        assert!(create_replacing(&p, &WriteOpts::default(), |_| true).is_err());
        assert!(!p.exists());
        create_new(&p, &force()).unwrap();
        assert_eq!(mode_of(&p), 0o600);
    }
}

#[test]
fn as_root_every_directory_on_the_way_is_checked() {
    if !require_root("as_root_every_directory_on_the_way_is_checked") {
        return;
    }
    let d = tmp();
    // nobody owns `u`, so nobody could rename `u/safe` and put a symlink in its place.
    let u = d.path().join("u");
    mkdir(&u, NOBODY, 0o755);
    let safe = u.join("safe");
    mkdir(&safe, 0, 0o755);
    let e = create_new(&safe.join("f"), &WriteOpts::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "refusing to write into {}: {} on the way there is owned by uid 65534, not root \
             (use --force to write there anyway)",
            safe.display(),
            u.display()
        )
    );

    // Through a root-owned symlink into a safe directory: fine.
    let real = d.path().join("real");
    mkdir(&real, 0, 0o755);
    let via = d.path().join("via");
    symlink("real", &via).unwrap();
    create_new(&via.join("f"), &WriteOpts::default()).unwrap();
    assert!(real.join("f").exists());
    // With `..` after a symlink, resolved as the kernel does (from the link's target).
    create_new(&via.join("../real/g"), &WriteOpts::default()).unwrap();
    assert!(real.join("g").exists());

    // Through a symlink into a directory nobody owns: refused.
    let to_u = d.path().join("to-u");
    symlink(&safe, &to_u).unwrap();
    assert!(matches!(
        create_new(&to_u.join("f"), &WriteOpts::default()),
        Err(SafeFsError::UnsafeDirectory { .. })
    ));

    // A symlink planted by nobody in a sticky directory: refused, even to a safe target.
    let sticky = d.path().join("sticky");
    mkdir(&sticky, 0, 0o1777);
    let planted = sticky.join("planted");
    symlink(&real, &planted).unwrap();
    std::os::unix::fs::lchown(&planted, Some(NOBODY), Some(NOBODY)).unwrap();
    let e = create_new(&planted.join("f"), &WriteOpts::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("planted on the way there is owned by uid 65534"),
        "{e}"
    );
    // A root-owned symlink there is followed.
    let ours = sticky.join("ours");
    symlink(&real, &ours).unwrap();
    create_new(&ours.join("h"), &WriteOpts::default()).unwrap();
    assert!(real.join("h").exists());
}

#[test]
fn as_root_a_symlink_loop_on_the_way_ends() {
    if !require_root("as_root_a_symlink_loop_on_the_way_ends") {
        return;
    }
    let d = tmp();
    symlink("b", d.path().join("a")).unwrap();
    symlink("a", d.path().join("b")).unwrap();
    let e = create_new(&d.path().join("a/f"), &WriteOpts::default()).unwrap_err();
    assert!(
        matches!(&e, SafeFsError::Io { source, .. } if source.raw_os_error() == Some(libc::ELOOP)),
        "{e}"
    );
}

#[test]
fn as_nobody_the_directory_checks_do_not_apply() {
    if !require_root("as_nobody_the_directory_checks_do_not_apply") {
        return;
    }
    let d = tmp();
    chmod(d.path(), 0o755);
    let sticky = d.path().join("sticky");
    mkdir(&sticky, 0, 0o1777);
    let (dir, name) = open_parent(&sticky.join("f"), &WriteOpts::default(), NOBODY).unwrap();
    assert_eq!(name, "f");
    drop(create_in(&dir, &name, &sticky.join("f")).unwrap());
    assert_eq!(mode_of(&sticky.join("f")), 0o600);
}

// ------------------------------------------------------------------------------ reads

#[test]
fn a_fifo_is_refused_at_once() {
    let d = tmp();
    let fifo = d.path().join("fifo");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
    let (tx, rx) = mpsc::channel();
    let f2 = fifo.clone();
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(open_read(&f2, ReadKind::Config).map(|_| ()));
    });
    // A blocking open would hang here; the thread is left behind only if the test fails.
    let e = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("open_read blocked on a FIFO");
    let e = e.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(
        e.to_string(),
        format!(
            "refusing to read {}: it is a FIFO, not a regular file",
            fifo.display()
        )
    );
    assert!(e.is_refusal());
}

#[test]
fn devices_and_directories_are_refused() {
    let d = tmp();
    for (p, what) in [
        (Path::new("/dev/zero"), "a character device"),
        (Path::new("/dev/null"), "a character device"),
        (d.path(), "a directory"),
    ] {
        for kind in [ReadKind::Config, ReadKind::Snapshot, ReadKind::Recording] {
            let e = read_capped(p, kind).unwrap_err();
            assert!(
                matches!(e, SafeFsError::NotRegular { what: w, .. } if w == what),
                "{}: {e}",
                p.display()
            );
        }
    }
    // A symlink to a device is judged by what it points at.
    let link = d.path().join("cfg");
    symlink("/dev/zero", &link).unwrap();
    assert!(matches!(
        open_read(&link, ReadKind::Config),
        Err(SafeFsError::NotRegular { .. })
    ));
}

#[test]
fn a_missing_file_is_not_found() {
    let e = open_read(Path::new("/nonexistent/sockscope.toml"), ReadKind::Config).unwrap_err();
    assert!(e.is_not_found() && !e.is_refusal(), "{e}");
}

#[test]
fn reads_are_capped_by_kind() {
    let d = tmp();
    let p = d.path().join("big.toml");
    let cap = ReadKind::Config.cap();
    fs::write(&p, vec![b'#'; usize::try_from(cap).unwrap()]).unwrap();
    assert_eq!(read_capped(&p, ReadKind::Config).unwrap().len() as u64, cap);
    fs::write(&p, vec![b'#'; usize::try_from(cap).unwrap() + 1]).unwrap();
    let e = read_capped(&p, ReadKind::Config).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "refusing to read {}: it is larger than 1 MiB, the limit for a config file",
            p.display()
        )
    );
    // Larger kinds read the same file.
    assert_eq!(
        read_capped(&p, ReadKind::Snapshot).unwrap().len() as u64,
        cap + 1
    );
}

#[test]
fn a_file_that_lies_about_its_size_is_still_capped() {
    // /proc files report size 0.
    let p = Path::new("/proc/self/status");
    assert_eq!(fs::metadata(p).unwrap().len(), 0);
    let mut f = open_read(p, ReadKind::Snapshot).unwrap();
    let e = read_all_capped(&mut f, p, ReadKind::Snapshot, 16).unwrap_err();
    assert!(matches!(e, SafeFsError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("larger than 16 bytes"), "{e}");
}

#[test]
fn snapshot_cap_matches_the_recording_line_cap() {
    assert_eq!(ReadKind::Snapshot.cap(), crate::record::reader::MAX_LINE);
}

#[test]
fn text_reads_and_non_utf8() {
    let d = tmp();
    let p = d.path().join("c.toml");
    fs::write(&p, "[a]\nb = 1\n").unwrap();
    assert_eq!(
        read_to_string_capped(&p, ReadKind::Config).unwrap(),
        "[a]\nb = 1\n"
    );
    fs::write(&p, b"\xff\xfe").unwrap();
    let e = read_to_string_capped(&p, ReadKind::Config).unwrap_err();
    assert!(e.to_string().ends_with("not UTF-8 text"), "{e}");
}

// ------------------------------------------------------------------------------ config trust

#[test]
fn config_rules_as_pure_functions() {
    assert_eq!(untrusted_config_reason(0, 0o100644, 0), None);
    assert_eq!(untrusted_config_reason(0, 0o100600, 0), None);
    assert_eq!(
        untrusted_config_reason(1000, 0o100644, 0).as_deref(),
        Some("owned by uid 1000, not root")
    );
    assert_eq!(
        untrusted_config_reason(0, 0o100664, 0).as_deref(),
        Some("writable by group/others (mode 0664)")
    );
    assert!(untrusted_config_reason(0, 0o100646, 0).is_some());
    // Not root: a user's own process is all a config can affect.
    assert_eq!(untrusted_config_reason(1000, 0o100666, 1000), None);
}

#[test]
fn as_root_configs_another_user_could_write_are_refused() {
    if !require_root("as_root_configs_another_user_could_write_are_refused") {
        return;
    }
    let d = tmp();
    let p = d.path().join("sockscope.toml");
    fs::write(&p, "").unwrap();
    chmod(&p, 0o644);
    open_read(&p, ReadKind::Config).unwrap();

    chmod(&p, 0o664);
    let e = open_read(&p, ReadKind::Config).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "refusing {} as config: writable by group/others (mode 0664)",
            p.display()
        )
    );
    assert!(e.is_refusal());
    // The same file is fine as a snapshot: the trust rule is for configs.
    open_read(&p, ReadKind::Snapshot).unwrap();

    chmod(&p, 0o644);
    std::os::unix::fs::chown(&p, Some(NOBODY), Some(NOBODY)).unwrap();
    let e = open_read(&p, ReadKind::Config).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "refusing {} as config: owned by uid 65534, not root",
            p.display()
        )
    );
    // The same file read by nobody's process is nobody's business.
    open_read_as(&p, ReadKind::Config, NOBODY).unwrap();
}

#[test]
fn as_root_a_home_owned_by_another_user_is_not_trusted() {
    if !require_root("as_root_a_home_owned_by_another_user_is_not_trusted") {
        return;
    }
    let d = tmp();
    assert!(trusted_home_dir(d.path()), "root's own directory");
    let home = d.path().join("home");
    mkdir(&home, NOBODY, 0o755);
    assert!(!trusted_home_dir(&home));
    assert!(trusted_home_dir_as(&home, NOBODY));
    // A symlink to it is judged by the directory.
    let link = d.path().join("link");
    symlink(&home, &link).unwrap();
    assert!(!trusted_home_dir(&link));
    assert!(!trusted_home_dir(&d.path().join("missing")));
    let file = d.path().join("file");
    fs::write(&file, "").unwrap();
    assert!(!trusted_home_dir(&file));
}

// ------------------------------------------------------------------------------ messages

#[test]
fn paths_in_messages_stay_on_one_line() {
    let p = PathBuf::from(OsString::from_vec(
        b"/tmp/a\nb\x1b[31m\xff\xe2\x80\xa8c".to_vec(),
    ));
    let e = SafeFsError::NotRegular {
        path: ShownPath::of(&p),
        what: "a FIFO",
    };
    let s = e.to_string();
    assert_eq!(
        s,
        "refusing to read /tmp/a\\nb\\u{1b}[31m\\xff\\u{2028}c: it is a FIFO, not a regular file"
    );
    assert_eq!(s.lines().count(), 1);
    assert_eq!(ShownPath::of(Path::new("/tmp/ü x")).to_string(), "/tmp/ü x");
}

#[test]
fn a_newline_in_a_real_file_name_is_escaped() {
    let d = tmp();
    let p = d.path().join("x\ny");
    nix::unistd::mkfifo(&p, Mode::from_bits_truncate(0o600)).unwrap();
    let e = open_read(&p, ReadKind::Snapshot).unwrap_err();
    assert_eq!(e.to_string().lines().count(), 1, "{e}");
    assert!(e.to_string().contains("x\\ny"), "{e}");
}
