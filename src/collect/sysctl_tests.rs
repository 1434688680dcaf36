//! Tests for the sysctl reader: this host's values against `sysctl`, absent keys, and the
//! namespace of the calling thread.

use std::process::Command;

use super::*;

#[test]
fn reads_host_values_and_port_range() {
    let s = read_sysctls();
    // The netfilter ones exist only while nf_conntrack is loaded.
    let conntrack = std::path::Path::new("/proc/sys/net/netfilter/nf_conntrack_max").exists();
    let expected = TCP_SYSCTLS
        .iter()
        .filter(|n| conntrack || !n.starts_with("net.netfilter."))
        .count();
    assert_eq!(s.values.len(), expected, "{s:?}");
    let (lo, hi) = s.port_range().expect("port range parses");
    assert!(lo <= hi);
    assert!(!s.values["net.ipv4.ip_local_port_range"].contains('\t'));
    assert!(s.int("net.ipv4.tcp_fin_timeout").is_some());
    assert!(s.int("net.core.somaxconn").is_some());
}

#[test]
fn missing_ones_are_absent() {
    let dir = tempfile::tempdir().unwrap();
    let ipv4 = dir.path().join("net/ipv4");
    std::fs::create_dir_all(&ipv4).unwrap();
    std::fs::write(ipv4.join("ip_local_port_range"), "1024\t\t65000\n").unwrap();
    std::fs::write(ipv4.join("tcp_fin_timeout"), " 30 \n").unwrap();
    let s = read_sysctls_from(dir.path());
    assert_eq!(s.values.len(), 2);
    assert_eq!(s.values["net.ipv4.ip_local_port_range"], "1024 65000");
    assert_eq!(s.port_range(), Some((1024, 65000)));
    assert_eq!(s.int("net.ipv4.tcp_fin_timeout"), Some(30));
}

/// Deletes the namespace even when the test fails.
struct NetnsGuard(String);

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

#[test]
fn reads_the_namespace_of_the_calling_thread() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("needs root to create a namespace: skipped");
        return;
    }
    let name = format!("sockscope-sysctl-{}", std::process::id());
    let added = Command::new("ip").args(["netns", "add", &name]).status();
    if !added.is_ok_and(|s| s.success()) {
        eprintln!("ip netns add failed: skipped");
        return;
    }
    let _guard = NetnsGuard(name.clone());
    let host = read_sysctls().int("net.ipv4.tcp_fin_timeout").unwrap();
    let want = if host == 17 { 18 } else { 17 };
    let ok = Command::new("ip")
        .args(["netns", "exec", &name, "sysctl", "-q", "-w"])
        .arg(format!("net.ipv4.tcp_fin_timeout={want}"))
        .status()
        .unwrap();
    assert!(ok.success());
    let path = format!("/run/netns/{name}");
    let (inside, counters) = std::thread::spawn(move || {
        let f = std::fs::File::open(path).unwrap();
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        (
            read_sysctls(),
            crate::collect::counters::read_counters().unwrap(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(inside.int("net.ipv4.tcp_fin_timeout"), Some(want));
    assert!(inside.port_range().is_some());
    // /proc/thread-self/net follows the thread too: a fresh namespace opened nothing.
    assert_eq!(counters.tcp.get("ActiveOpens"), Some(&0));
    // The calling thread never moved.
    assert_eq!(read_sysctls().int("net.ipv4.tcp_fin_timeout"), Some(host));
}
