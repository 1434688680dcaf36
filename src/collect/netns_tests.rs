//! Tests for entering network namespaces: a real throwaway namespace and bad specs.

use super::*;
use crate::collect::procnet::tests::live::inode_of;
use crate::collect::procnet::ProcNetSource;
use crate::collect::{DumpRequest, SocketSource};
use crate::model::TcpState;
use std::net::TcpListener;
use std::process::Command;

/// Deletes the namespace on drop, so a failing assertion still cleans up.
struct NsGuard(String);

impl NsGuard {
    fn create(name: String) -> NsGuard {
        let ok = |args: &[&str]| Command::new("ip").args(args).status().unwrap().success();
        assert!(ok(&["netns", "add", &name]), "ip netns add {name}");
        let g = NsGuard(name);
        assert!(ok(&["-n", &g.0, "link", "set", "lo", "up"]));
        g
    }
}

impl Drop for NsGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn reason(r: Result<(), CollectError>) -> String {
    match r {
        Err(CollectError::Netns { reason, .. }) => reason,
        other => panic!("expected a Netns error, got {other:?}"),
    }
}

#[test]
fn thread_in_namespace_sees_only_its_sockets() {
    let name = format!("sockscope-test-{}", std::process::id());
    let ns = NsGuard::create(name.clone());
    assert!(list_named().contains(&ns.0));
    assert_eq!(
        netns_inode(resolve(&name)).unwrap(),
        netns_inode(format!("/run/netns/{name}")).unwrap()
    );
    let inner = std::thread::spawn(move || {
        enter(&name).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let d = ProcNetSource::new().dump(&DumpRequest::default()).unwrap();
        (
            current_label(),
            l.local_addr().unwrap().port(),
            inode_of(&l),
            d,
        )
    })
    .join()
    .unwrap();
    let (label, port, inode, dump) = inner;
    assert_eq!(label, ns.0);
    assert_eq!(dump.sockets.len(), 1, "{:?}", dump.sockets);
    let s = &dump.sockets[0];
    assert_eq!(
        (s.state, s.local.port, s.inode),
        (TcpState::Listen, port, inode)
    );
    let host = ProcNetSource::new().dump(&DumpRequest::default()).unwrap();
    assert!(host.sockets.iter().all(|s| s.inode != inode));
    assert_ne!(current_label(), ns.0);
}

#[test]
fn bad_specs_give_typed_errors() {
    let r = reason(enter("sockscope-no-such-ns"));
    assert!(r.starts_with("no such namespace"), "{r}");
    let r = reason(enter("/nonexistent/sockscope"));
    assert!(r.contains("does not exist"), "{r}");
    let r = reason(enter("/etc/hostname"));
    assert!(r.contains("not a namespace file"), "{r}");
    let r = reason(enter(""));
    assert!(r.contains("not a namespace"), "{r}");
    // A mount namespace file: nsfs, but setns(CLONE_NEWNET) refuses it. On a spawned thread
    // so that nothing could move the test runner.
    let r = std::thread::spawn(|| reason(enter("/proc/thread-self/ns/mnt")))
        .join()
        .unwrap();
    assert!(r.contains("not a network namespace"), "{r}");
}

#[test]
fn host_label_and_inode() {
    assert_eq!(
        netns_inode("/proc/self/ns/net").unwrap(),
        netns_inode("/proc/thread-self/ns/net").unwrap()
    );
    assert_eq!(current_label(), "host");
    assert!(netns_inode("/nonexistent").is_err());
}
