//! The comm and real uid of a pid from one read of `/proc/<pid>/status`, as exact bytes.
//!
//! Why `status` and not `/proc/<pid>/comm`: the real uid is needed too and lives only in
//! `status` (or a `stat()` of the pid directory, which gives the *effective* owner), so one
//! read serves both; reading `comm` as well would add a second open per new pid. The kernel
//! writes the `Name:` field with `seq_escape_str(.., ESCAPE_SPACE | ESCAPE_SPECIAL, "\n\\")`
//! (fs/proc/array.c, `proc_task_name`): only a newline (as `\n`) and a backslash (as `\\`)
//! are escaped, every other byte, invalid UTF-8 included, is written raw. So the inverse
//! below is exact: it gives back the bytes `/proc/<pid>/comm` holds. The text is read as
//! bytes, never as a lossy `String`, so a comm of `\xff\xfe` survives.

use crate::model::Name;

/// `Name:` and the real uid (first field of `Uid:`) of a status file; `None` when either is
/// missing or the uid is not a number.
pub(super) fn name_and_ruid(status: &[u8]) -> Option<(Name, u32)> {
    let mut name = None;
    let mut ruid = None;
    for line in status.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"Name:\t") {
            name = Some(unescape_comm(rest));
        } else if let Some(rest) = line.strip_prefix(b"Uid:\t") {
            let first = rest.split(|&b| b == b'\t').next()?;
            ruid = std::str::from_utf8(first).ok()?.parse().ok();
        }
        if name.is_some() && ruid.is_some() {
            break;
        }
    }
    Some((name?, ruid?))
}

/// Undoes the kernel's escaping of the `Name:` field: `\n` → newline, `\\` → backslash;
/// any other byte, a lone trailing `\` included, is kept as it is.
fn unescape_comm(field: &[u8]) -> Name {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if b == b'\\' {
            match bytes.peek() {
                Some(b'n') => {
                    out.push(b'\n');
                    bytes.next();
                    continue;
                }
                Some(b'\\') => {
                    out.push(b'\\');
                    bytes.next();
                    continue;
                }
                _ => {}
            }
        }
        out.push(b);
    }
    Name::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(name: &[u8], uid: &str) -> Vec<u8> {
        let mut s = b"Name:\t".to_vec();
        s.extend_from_slice(name);
        s.extend_from_slice(
            format!("\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t{uid}\n").as_bytes(),
        );
        s
    }

    #[test]
    fn plain_and_hostile_names_come_back_exact() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"java", b"java"),
            (b"a\\nb", b"a\nb"),
            (b"back\\\\slash", b"back\\slash"),
            (b"\x1b[7mEVIL\x07", b"\x1b[7mEVIL\x07"),
            (b"\xff\xfe", b"\xff\xfe"),
            (b"tab\there", b"tab\there"),
            (b"lone\\", b"lone\\"),
            // A backslash followed by `n` in the comm itself is written `\\n`.
            (b"\\\\n", b"\\n"),
        ];
        for (field, want) in cases {
            let (name, uid) = name_and_ruid(&status(field, "1000\t0\t0\t0")).expect("parsed");
            assert_eq!(name.raw_bytes(), *want, "field {:?}", Name::from(*field));
            assert_eq!(uid, 1000);
        }
    }

    #[test]
    fn missing_fields_give_none() {
        assert!(name_and_ruid(b"Name:\tx\nState:\tR\n").is_none());
        assert!(name_and_ruid(b"Uid:\t0\t0\t0\t0\n").is_none());
        assert!(name_and_ruid(b"Name:\tx\nUid:\tzz\t0\n").is_none());
    }

    #[test]
    fn own_status_matches_own_comm() {
        let status = std::fs::read("/proc/self/status").expect("status");
        let comm = std::fs::read("/proc/self/comm").expect("comm");
        let (name, uid) = name_and_ruid(&status).expect("parsed");
        assert_eq!(name.raw_bytes(), comm.strip_suffix(b"\n").unwrap_or(&comm));
        assert_eq!(uid, nix::unistd::getuid().as_raw());
    }
}
