//! Test helpers for `safefs`: temporary directories, modes, planting files owned by
//! another user. Tests that plant need root; not root, they skip, except under `CI`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nix::unistd::geteuid;

use super::WriteOpts;

pub const NOBODY: u32 = 65534;

/// True when the test may run. Not root: says so on fd 2 and returns false, except under
/// `CI`, where it panics, as `tests/common::require_root` does.
pub fn require_root(test: &str, why: &str) -> bool {
    if geteuid().is_root() {
        return true;
    }
    let msg = format!("SKIPPED: {test} needs root {why}");
    assert!(std::env::var_os("CI").is_none(), "{msg} (CI is set)");
    let _ = writeln!(std::io::stderr(), "{msg}");
    false
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn mode_of(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

pub fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

pub fn mkdir(p: &Path, owner: u32, mode: u32) {
    fs::create_dir(p).unwrap();
    std::os::unix::fs::chown(p, Some(owner), Some(owner)).unwrap();
    chmod(p, mode);
}

pub fn force() -> WriteOpts {
    WriteOpts { force: true }
}

/// Entries of `dir`, sorted, to see that no temporary file was left behind.
pub fn ls(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
