//! Root-safe files (issue 21, items 1 and 4) through the real binary, as root: every file
//! argument refuses what another user could have planted (a symlink in a directory they
//! can write to, a FIFO, `/dev/zero`, a config they own) with exit 2 and one stderr line
//! naming the reason, and leaves the target untouched. Files planted "by another user" are
//! made by uid 65534 through `setpriv`, or chowned to it.
//!
//! Each case prints one `case: … -> …` line (run with `--nocapture`); RELIABILITY.md's
//! Security section lists them.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::privilege::{NOBODY, SETPRIV_NOBODY};

/// The snapshot fixture: a CLOSE_WAIT leak that default thresholds call a warning.
fn fixture_snapshot() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tui/closewait_leak.json")
}

fn fixture_recording() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/record/leak-v1.jsonl")
}

/// A scratch tree under /tmp: `base` (root, 0755) holding `sticky` (root, 1777), `nobody`
/// (owned by 65534, 0755), `safe` (root, 0755, with the victim file) and `home` (root,
/// 0700, the `$HOME` of every run unless a case sets one).
struct Tree {
    base: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let base = tempfile::Builder::new()
            .prefix("ssc-rootsafe-")
            .tempdir_in("/tmp")
            .unwrap();
        let t = Tree { base };
        chmod(t.base.path(), 0o755);
        for (name, mode) in [("sticky", 0o1777), ("nobody", 0o755), ("safe", 0o755)] {
            fs::create_dir(t.p(name)).unwrap();
            chmod(&t.p(name), mode);
        }
        fs::create_dir(t.p("home")).unwrap();
        chmod(&t.p("home"), 0o700);
        chown(&t.p("nobody"), NOBODY);
        fs::write(t.p("safe/victim"), b"precious\n").unwrap();
        t
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.base.path().join(rel)
    }
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(p: &Path, uid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(uid)).unwrap();
}

/// `ln -s target link`, run as uid 65534.
fn plant_symlink(target: &Path, link: &Path) {
    let out = Command::new("setpriv")
        .args(SETPRIV_NOBODY)
        .arg("ln")
        .arg("-s")
        .arg(target)
        .arg(link)
        .output()
        .unwrap();
    assert!(out.status.success(), "plant {}: {out:?}", link.display());
    assert_eq!(fs::symlink_metadata(link).unwrap().uid(), NOBODY);
}

/// Runs the binary with `args` in a clean environment (`$HOME` root's own, no config
/// variables, plus `env`), killed and failed after `limit`.
fn run_env(t: &Tree, args: &[&str], env: &[(&str, &Path)], limit: Duration) -> (Output, Duration) {
    let mut cmd = Command::new(common::sockscope_path());
    cmd.args(args)
        .current_dir(t.base.path())
        .env("HOME", t.p("home"))
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("SOCKSCOPE_CONFIG")
        .env("RUST_BACKTRACE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = common::run_bounded(&mut cmd, limit);
    (out, start.elapsed())
}

fn run(t: &Tree, args: &[&str]) -> Output {
    run_env(t, args, &[], Duration::from_secs(20)).0
}

/// Exit 2, empty stdout, exactly one stderr line `sockscope: …` containing `reason`.
fn assert_refused(case: &str, out: &Output, reason: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{case}: {err}");
    assert!(out.stdout.is_empty(), "{case}: stdout {:?}", out.stdout);
    assert_eq!(err.lines().count(), 1, "{case}: not one line: {err:?}");
    assert!(err.starts_with("sockscope: "), "{case}: {err}");
    assert!(
        err.contains(reason),
        "{case}: {err:?} does not say {reason:?}"
    );
    println!("case: {case} -> exit 2: {}", err.trim_end());
}

/// The victim's content and mtime, to show it untouched.
fn victim_state(t: &Tree) -> (Vec<u8>, i64, i64) {
    let m = fs::metadata(t.p("safe/victim")).unwrap();
    (
        fs::read(t.p("safe/victim")).unwrap(),
        m.mtime(),
        m.mtime_nsec(),
    )
}

fn need_root(test: &str) -> bool {
    common::require_root(
        test,
        "it plants files as uid 65534 and checks root's refusals",
    )
}

/// The writers' argument lists for an output path: `record -o` and `--save-snapshot`.
fn writers(out: &str) -> [(&'static str, Vec<String>); 2] {
    let snap = fixture_snapshot().to_string_lossy().into_owned();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    [
        (
            "record -o",
            v(&[
                "record",
                "-o",
                out,
                "--duration",
                "1s",
                "--interval",
                "200ms",
            ]),
        ),
        (
            "summary --save-snapshot",
            v(&["summary", "--from-snapshot", &snap, "--save-snapshot", out]),
        ),
    ]
}

#[test]
fn writers_refuse_symlinks_planted_by_another_user() {
    if !need_root("writers_refuse_symlinks_planted_by_another_user") {
        return;
    }
    let t = Tree::new();
    let before = victim_state(&t);
    let dangling = t.p("safe/not-there");
    for (dir, reason) in [
        ("sticky", "writable by group/others (mode 1777)"),
        ("nobody", "owned by uid 65534, not root"),
    ] {
        for (kind, target) in [("live", t.p("safe/victim")), ("dangling", dangling.clone())] {
            let link = t.p(&format!("{dir}/{kind}-link"));
            plant_symlink(&target, &link);
            let link_s = link.to_string_lossy().into_owned();
            for (what, args) in writers(&link_s) {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let case = format!("{what} onto a {kind} symlink by uid 65534 in a {dir} dir");
                assert_refused(&case, &run(&t, &args), reason);
                assert_eq!(victim_state(&t), before, "{case}: victim changed");
                assert!(!dangling.exists(), "{case}: dangling target created");
                assert!(fs::symlink_metadata(&link).unwrap().is_symlink(), "{case}");
            }
        }
    }
}

#[test]
fn force_writes_a_new_0600_file_and_never_through_a_link() {
    if !need_root("force_writes_a_new_0600_file_and_never_through_a_link") {
        return;
    }
    let t = Tree::new();
    let before = victim_state(&t);
    // --save-snapshot: the link itself is replaced by a new file.
    let link = t.p("nobody/snap-link");
    plant_symlink(&t.p("safe/victim"), &link);
    let snap = fixture_snapshot().to_string_lossy().into_owned();
    let link_s = link.to_string_lossy().into_owned();
    let args = [
        "--force",
        "summary",
        "--from-snapshot",
        &snap,
        "--save-snapshot",
        &link_s,
    ];
    let out = run(&t, &args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let m = fs::symlink_metadata(&link).unwrap();
    assert!(m.is_file(), "the link was not replaced by a file");
    assert_eq!((m.mode() & 0o7777, m.uid()), (0o600, 0));
    assert!(fs::read_to_string(&link).unwrap().starts_with('{'));
    assert_eq!(victim_state(&t), before, "victim changed");
    println!("case: --force summary --save-snapshot onto a symlink in a uid-65534 dir -> exit 0, link replaced by a new 0600 file, target untouched");

    // record -o: a symlink is refused even with --force (a stream is never redirected);
    // a fresh name in the same directory is created 0600.
    let link = t.p("nobody/rec-link");
    plant_symlink(&t.p("safe/victim"), &link);
    let link_s = link.to_string_lossy().into_owned();
    let rec_args = |out: &str| {
        let v = [
            "--force",
            "record",
            "-o",
            out,
            "--duration",
            "1s",
            "--interval",
            "200ms",
        ];
        v.map(str::to_string)
    };
    let a = rec_args(&link_s);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    assert_refused(
        "--force record -o onto a symlink in a uid-65534 dir",
        &run(&t, &a),
        "it is a symbolic link, not a regular file",
    );
    assert_eq!(victim_state(&t), before, "victim changed");
    let fresh = t.p("nobody/r.jsonl").to_string_lossy().into_owned();
    let a = rec_args(&fresh);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let out = run(&t, &a);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let m = fs::symlink_metadata(&fresh).unwrap();
    assert!(m.is_file());
    assert_eq!((m.mode() & 0o7777, m.uid()), (0o600, 0));
    println!("case: --force record -o a new name in a uid-65534 dir -> exit 0, new 0600 file");
}

/// The file arguments that are read, as argument lists around `f`.
fn readers(f: &str) -> Vec<(&'static str, Vec<String>)> {
    let snap = fixture_snapshot().to_string_lossy().into_owned();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (
            "--config",
            v(&["summary", "--from-snapshot", &snap, "--config", f]),
        ),
        ("summary --from", v(&["summary", "--from", f])),
        ("replay", v(&["replay", f])),
        (
            "summary --from-snapshot",
            v(&["summary", "--from-snapshot", f]),
        ),
    ]
}

#[test]
fn fifos_and_dev_zero_are_refused_within_a_second() {
    if !need_root("fifos_and_dev_zero_are_refused_within_a_second") {
        return;
    }
    let t = Tree::new();
    let fifo = t.p("safe/fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let fifo_s = fifo.to_string_lossy().into_owned();
    let limit = Duration::from_secs(1);
    let mut cases: Vec<(String, Vec<String>, &str)> = Vec::new();
    for (file, name, reason) in [
        (
            fifo_s.as_str(),
            "a FIFO",
            "it is a FIFO, not a regular file",
        ),
        (
            "/dev/zero",
            "/dev/zero",
            "it is a character device, not a regular file",
        ),
    ] {
        for (what, args) in readers(file) {
            cases.push((format!("{what} {name}"), args, reason));
        }
        let ns = ["summary", "--netns", file].map(str::to_string).to_vec();
        let why = if file == "/dev/zero" {
            "is a character device, not a namespace file"
        } else {
            "is a FIFO, not a namespace file"
        };
        cases.push((format!("--netns {name}"), ns, why));
    }
    let rec = ["record", "-o", &fifo_s, "--duration", "1s"].map(str::to_string);
    cases.push((
        "record -o a FIFO".into(),
        rec.to_vec(),
        "it is a FIFO, not a regular file",
    ));
    for (case, args, reason) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // run_bounded kills the process group and fails the test past the limit.
        let (out, took) = run_env(&t, &args, &[], limit);
        assert_refused(&format!("{case} (in {took:.0?})"), &out, reason);
        assert!(took < limit, "{case}: {took:?}");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }
}

const ABSURD: &str = "[close_wait_leak]\nwarn_count = 1000000\ncrit_count = 2000000\n\
                      warn_age_s = 1000000\n";

#[test]
fn untrusted_configs_are_refused_as_root() {
    if !need_root("untrusted_configs_are_refused_as_root") {
        return;
    }
    let t = Tree::new();
    let snap = fixture_snapshot().to_string_lossy().into_owned();
    let owned = t.p("safe/owned-by-nobody.toml");
    fs::write(&owned, ABSURD).unwrap();
    chown(&owned, NOBODY);
    let group_w = t.p("safe/group-writable.toml");
    fs::write(&group_w, ABSURD).unwrap();
    chmod(&group_w, 0o664);
    for (case, file, reason) in [
        (
            "--config owned by uid 65534",
            &owned,
            "owned by uid 65534, not root",
        ),
        (
            "--config mode 0664",
            &group_w,
            "writable by group/others (mode 0664)",
        ),
    ] {
        let f = file.to_string_lossy().into_owned();
        let out = run(&t, &["check", "--from-snapshot", &snap, "--config", &f]);
        assert_refused(&format!("--config {case}"), &out, reason);
        let env = [("SOCKSCOPE_CONFIG", file.as_path())];
        let args = ["check", "--from-snapshot", &snap];
        let (out, _) = run_env(&t, &args, &env, Duration::from_secs(20));
        assert_refused(&format!("$SOCKSCOPE_CONFIG {case}"), &out, reason);
    }
}

/// A config in `$HOME` or `$XDG_CONFIG_HOME` owned by another user is not read: `check`
/// keeps the default thresholds (a warning on the fixture), where the same config in
/// root's own home silences it.
#[test]
fn a_config_in_another_users_home_is_ignored() {
    if !need_root("a_config_in_another_users_home_is_ignored") {
        return;
    }
    let t = Tree::new();
    let snap = fixture_snapshot().to_string_lossy().into_owned();
    for home in ["home", "nobody"] {
        let dir = t.p(home).join(".config/sockscope");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("sockscope.toml"), ABSURD).unwrap();
    }
    let args = ["check", "--from-snapshot", &snap];
    let limit = Duration::from_secs(20);
    let (out, _) = run_env(&t, &args, &[], limit);
    assert_eq!(
        out.status.code(),
        Some(0),
        "control: root's own config is used: {out:?}"
    );
    for (case, var, dir) in [
        ("$HOME", "HOME", t.p("nobody")),
        ("$XDG_CONFIG_HOME", "XDG_CONFIG_HOME", t.p("nobody/.config")),
    ] {
        chown(&dir, NOBODY);
        let env = [(var, dir.as_path()), ("HOME", &*t.p("nobody"))];
        let (out, _) = run_env(&t, &args, &env, limit);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{case}: {out:?}");
        assert!(
            text.starts_with("SOCKSCOPE WARNING - close_wait_leak"),
            "{text}"
        );
        println!("case: {case} owned by uid 65534 with a config inside -> ignored, defaults apply (check exit 1, WARNING)");
    }
}

#[test]
fn record_creates_0600_under_umask_000() {
    if !need_root("record_creates_0600_under_umask_000") {
        return;
    }
    let t = Tree::new();
    let out_file = t.p("safe/r.jsonl");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(common::sockscope_path())
        .args(["record", "--duration", "1s", "--interval", "200ms", "-o"])
        .arg(&out_file)
        .env("HOME", t.p("home"));
    let out = common::run_bounded(&mut cmd, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let m = fs::metadata(&out_file).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600);
    // Replacing an old recording keeps 0600 too, and the result reads back.
    fs::copy(fixture_recording(), &out_file).unwrap();
    chmod(&out_file, 0o644);
    let out = common::run_bounded(&mut cmd, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(fs::metadata(&out_file).unwrap().mode() & 0o7777, 0o600);
    let f = out_file.to_string_lossy().into_owned();
    assert_eq!(run(&t, &["summary", "--from", &f]).status.code(), Some(0));
    println!("case: record -o under umask 000 (new, and over an old 0644 recording) -> 0600");
}
