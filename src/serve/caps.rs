//! Least privilege for `serve` (Linux capabilities are per thread): the acceptor and worker
//! threads drop every capability of their own thread as they start, so the code that parses
//! requests from the network holds none; the tick thread keeps only what collection needs
//! ([`COLLECTION_CAPS`]: CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH for attribution,
//! CAP_SYS_ADMIN to enter namespaces), plus CAP_NET_ADMIN ([`EVENTS_CAPS`]) for its first
//! tick only, which joins the destroy-event groups; the main thread, which only waits, drops all once
//! the others are started. With an empty effective set uid 0 loses its file-permission
//! override (CAP_DAC_OVERRIDE), though it still passes owner-bit checks on files root owns.
//! The permitted set is narrowed too, so a thread cannot take them back. A drop that fails
//! (a sandbox that forbids `capset`) is said once on stderr and exported as
//! `sockscope_http_threads_privileged 1`, never hidden.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

/// CAP_DAC_READ_SEARCH (2), CAP_SYS_PTRACE (19), CAP_SYS_ADMIN (21): what the tick thread
/// keeps. Reading other users' `/proc/PID/fd` takes the first two together; entering a
/// network namespace takes the third.
pub const COLLECTION_CAPS: u64 = (1 << 2) | (1 << 19) | (1 << 21);

/// CAP_NET_ADMIN (12): what the tick thread holds during its first tick only, which opens
/// the destroy-event socket: `SO_RCVBUFFORCE` needs it for a burst buffer past
/// `net.core.rmem_max` (6.18 lets any user join sock_diag's destroy groups, measured; a
/// kernel that checks does so at join time, not per message).
pub const EVENTS_CAPS: u64 = 1 << 12;

/// Set when an HTTP thread could not drop its capabilities.
static HTTP_PRIVILEGED: AtomicBool = AtomicBool::new(false);

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

/// The calling thread's capability sets.
fn get() -> io::Result<[CapData; 2]> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes one header and two data structs of the v3 layout, both valid
    // and exclusively borrowed for the duration of the call; pid 0 is the calling thread.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            std::ptr::from_mut(&mut header),
            data.as_mut_ptr(),
        )
    };
    if rc == 0 {
        Ok(data)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets the calling thread's capability sets.
fn set(data: &[CapData; 2]) -> io::Result<()> {
    let header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    // SAFETY: capset reads one header and two data structs of the v3 layout, both valid
    // for the duration of the call; pid 0 means the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_capset, std::ptr::from_ref(&header), data.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Narrows the calling thread's effective and permitted sets to those of `keep` it holds,
/// and empties its inheritable set. Other threads keep theirs. Lowering is always allowed,
/// so this fails only where a sandbox forbids `capset` (or `capget`) itself.
pub(crate) fn keep_only(keep: u64) -> io::Result<()> {
    let mut data = get()?;
    for (word, d) in data.iter_mut().enumerate() {
        // Word 0 holds capabilities 0-31, word 1 holds 32-63: the truncation is the split.
        #[allow(clippy::cast_possible_truncation)]
        let mask = (keep >> (32 * word)) as u32;
        d.effective &= mask;
        d.permitted &= mask;
        d.inheritable = 0;
    }
    set(&data)
}

/// Empties the calling thread's effective, permitted and inheritable capability sets.
pub(crate) fn drop_thread_capabilities() -> io::Result<()> {
    set(&[CapData::default(); 2])
}

/// Whether an HTTP thread still holds what the process holds (its drop failed).
pub fn http_threads_privileged() -> bool {
    HTTP_PRIVILEGED.load(Ordering::Relaxed)
}

/// [`keep_only`] for the tick thread, or [`drop_thread_capabilities`] for the main thread
/// once it only waits: a failure is said on stderr (the thread works on with what it has).
pub(crate) fn narrow(keep: u64, what: &str) {
    let result = if keep == 0 {
        drop_thread_capabilities()
    } else {
        keep_only(keep)
    };
    if let Err(e) = result {
        eprintln!("sockscope: could not narrow the capabilities of the {what}: {e}");
    }
}

/// [`drop_thread_capabilities`] for a server thread: a failure is said once on stderr (the
/// thread still serves; it then holds what the process holds).
pub(crate) fn drop_for_server_thread() {
    static SAID: Once = Once::new();
    if let Err(e) = drop_thread_capabilities() {
        HTTP_PRIVILEGED.store(true, Ordering::Relaxed);
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
