//! Least privilege for the HTTP side of `serve`: the acceptor and worker threads drop
//! every capability of their own thread as they start (Linux capabilities are per thread),
//! so the code that parses requests from the network holds none, while the tick thread keeps
//! what collection needs (CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH for attribution,
//! CAP_SYS_ADMIN to enter namespaces). With an empty effective set even uid 0 loses its
//! file-permission override (CAP_DAC_OVERRIDE): root's access checks are capability checks.
//! The permitted set is emptied too, so the thread cannot take them back.

use std::io;
use std::sync::Once;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Empties the calling thread's effective, permitted and inheritable capability sets. Other
/// threads keep theirs. Lowering is always allowed, so this fails only where a sandbox
/// forbids `capset` itself.
pub(crate) fn drop_thread_capabilities() -> io::Result<()> {
    let header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: capset reads one header and two data structs of the v3 layout, both valid
    // for the duration of the call; pid 0 means the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_capset, std::ptr::from_ref(&header), data.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// [`drop_thread_capabilities`] for a server thread: a failure is said once on stderr (the
/// thread still serves; it then holds what the process holds).
pub(crate) fn drop_for_server_thread() {
    static SAID: Once = Once::new();
    if let Err(e) = drop_thread_capabilities() {
        SAID.call_once(|| {
            eprintln!("sockscope: could not drop capabilities in the HTTP threads: {e}");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_field(tid: i32, field: &str) -> String {
        let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(field))
            .unwrap()
            .trim()
            .to_string()
    }

    #[test]
    fn a_thread_drops_its_own_capabilities_only() {
        // SAFETY: gettid has no preconditions.
        let main_tid = unsafe { libc::gettid() };
        let before = status_field(main_tid, "CapEff:");
        let (eff, prm) = std::thread::spawn(|| {
            drop_thread_capabilities().unwrap();
            // SAFETY: as above.
            let tid = unsafe { libc::gettid() };
            (status_field(tid, "CapEff:"), status_field(tid, "CapPrm:"))
        })
        .join()
        .unwrap();
        assert_eq!(eff, "0000000000000000");
        assert_eq!(prm, "0000000000000000");
        assert_eq!(status_field(main_tid, "CapEff:"), before);
    }
}
