//! The passwd name of a uid, as the exact bytes the name service returned: whoever manages
//! `/etc/passwd` (or LDAP) chose them, so they travel as a [`Name`] and are escaped on
//! print. nix's `User` decodes names lossily (invalid UTF-8 becomes U+FFFD), which would
//! lose the bytes JSON promises to keep, hence this small wrapper over `getpwuid_r`.

use crate::model::Name;

/// The largest buffer tried for one entry; glibc asks for more only on ERANGE.
const MAX_BUF: usize = 1 << 20;

/// `uid`'s name, or `None` when no entry exists or the lookup failed.
pub fn passwd_name(uid: u32) -> Option<Name> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: `passwd` is a plain C struct of integers and pointers; all-zero (null
        // pointers) is a valid value that getpwuid_r overwrites.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call: `pwd` and `result` are locals, and
        // `buf` is writable for `buf.len()` bytes.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < MAX_BUF {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success `pw_name` points to a NUL-terminated string inside `buf`,
        // which is alive and unchanged here.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Some(Name::from_bytes(name.to_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::passwd_name;

    #[test]
    fn root_is_root_and_a_missing_uid_is_none() {
        assert_eq!(passwd_name(0), Some("root".into()));
        assert_eq!(passwd_name(4_000_000_000), None);
    }
}
