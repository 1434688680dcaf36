//! Processes view snapshots beyond the plain list: the rows for sockets no process holds
//! under a `/` filter (counting only the passing sockets), and Enter on such a row, which
//! lists exactly its sockets.

use sockscope::tui::{Action, View};

use super::{render, snap_both, with};

/// Enter on `(ownerless)`: the Sockets view under `owner:ownerless`, exactly the 58 sockets
/// the row counted.
#[test]
fn processes_enter_on_ownerless() {
    let a = with(&[Action::GoView(1), Action::Bottom, Action::DrillDown]);
    assert_eq!(a.view(), View::Sockets);
    assert_eq!(a.filter(), "owner:ownerless");
    let text = format!("{}", render(&a, 160, 48).backend());
    assert!(
        text.contains("sockets (58 of 158) · filter `owner:ownerless`"),
        "{text}"
    );
    snap_both("processes_enter_ownerless", &a);
}

/// `state:established`: java 8, nginx 24 and the 3 unattributed sshd connections, 35 of 158.
#[test]
fn processes_filtered() {
    let mut a = with(&[Action::StartFilter]);
    for c in "state:established".chars() {
        a.apply(Action::FilterChar(c));
    }
    a.apply(Action::FilterCommit);
    a.apply(Action::GoView(1));
    let text = format!("{}", render(&a, 80, 24).backend());
    assert!(text.contains("35 of 158 sockets match"), "{text}");
    snap_both("processes_filtered", &a);
}
