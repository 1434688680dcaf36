//! Tests of reads, caps and config trust, on the real filesystem. Planting another
//! user's files needs root (chown).

use super::*;
use crate::safefs::testutil::*;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::stat::Mode;

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
    if !require_root(
        "as_root_configs_another_user_could_write_are_refused",
        "to plant files owned by another user",
    ) {
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
    if !require_root(
        "as_root_a_home_owned_by_another_user_is_not_trusted",
        "to plant files owned by another user",
    ) {
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
    // Root's own but open to all (`/tmp`): not a home.
    let open = d.path().join("open");
    mkdir(&open, 0, 0o1777);
    assert!(!trusted_home_dir(&open));
    assert!(!trusted_home_dir(Path::new("/tmp")));
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
        "refusing to read /tmp/a\\nb\\e[31m\\xff\\u{2028}c: it is a FIFO, not a regular file"
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
