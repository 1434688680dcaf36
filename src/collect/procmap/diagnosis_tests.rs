//! Tests for why sockets stay unattributed: hidepid in mountinfo, the reason decided from
//! the facts, refused pids classified from their status, and capability bits.

use std::path::Path;

use super::*;
use crate::model::UnattributedReason;

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
