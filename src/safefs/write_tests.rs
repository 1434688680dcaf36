//! Tests of creating and replacing files and of the directory checks, on the real
//! filesystem. Planting another user's files needs root (chown).

use super::*;
use crate::safefs::dirs::{open_parent, unsafe_dir_reason};
use crate::safefs::testutil::*;
use crate::safefs::SafeFsError;
use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;

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
    // Relative to the working directory, which the parent set to `dir`.
    create_new(Path::new("rel"), &WriteOpts::default()).unwrap();
}

#[test]
fn files_are_0600_whatever_the_umask() {
    let exe = std::env::current_exe().unwrap();
    for mask in ["0", "022", "077", "0277"] {
        let d = tmp();
        let out = std::process::Command::new(&exe)
            .args([
                "--exact",
                "safefs::write::tests::umask_child",
                "--test-threads=1",
            ])
            .env(
                "SAFEFS_UMASK_CHILD",
                format!("{mask}:{}", d.path().display()),
            )
            .current_dir(d.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "umask {mask}: {out:?}");
        for name in ["new", "old", "atomic", "rel"] {
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
    if !require_root(
        "as_root_directories_other_users_can_change_are_refused_unless_forced",
        "to plant files owned by another user",
    ) {
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
    if !require_root(
        "as_root_every_directory_on_the_way_is_checked",
        "to plant files owned by another user",
    ) {
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
    if !require_root(
        "as_root_a_symlink_loop_on_the_way_ends",
        "(the directory checks run only as root)",
    ) {
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
    if !require_root(
        "as_nobody_the_directory_checks_do_not_apply",
        "to make a root-owned directory",
    ) {
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
