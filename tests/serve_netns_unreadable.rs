//! `serve --all-netns` counts the namespaces it finds but cannot read in
//! `sockscope_netns_unreadable`, as well as naming them on stderr.
//!
//! The real binary runs in a private mount and pid namespace the test creates: `/run/netns`
//! there is a fresh tmpfs holding two stale entries (plain files, as `ip netns add` leaves
//! when its bind mount is gone), and `/proc` shows only sockscope itself, so the sweep finds
//! exactly the host namespace (readable) and the two stale ones, whatever else runs on the
//! machine. Removing an entry (through `/proc/PID/root`) must lower the gauge. It listens on
//! 127.0.0.1 only.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const STALE: [&str; 2] = ["ssc-stale-a", "ssc-stale-b"];

/// Starts the server in private mount and pid namespaces whose `/run/netns` holds stale
/// entries; the whole process group is killed on drop.
fn start_server() -> Server {
    let script = format!(
        "mkdir -p /run/netns && mount -t tmpfs ssc-test /run/netns && touch {} && exec \
         \"$0\" serve --all-netns --listen 127.0.0.1:0 --interval 100ms",
        STALE.map(|n| format!("/run/netns/{n}")).join(" ")
    );
    let mut c = Command::new("unshare");
    c.args([
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--mount-proc",
        "sh",
        "-c",
    ])
    .arg(script)
    .arg(sockscope_path());
    Server::spawn(c)
}

/// Deletes a stale entry inside the server's mount namespace.
fn remove(server: &Server, name: &str) {
    let path = format!("/proc/{}/root/run/netns/{name}", server.pid());
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("rm {path}: {e}"));
}

fn gauge(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("sockscope_netns_unreadable "))
        .map(|v| v.trim().parse().unwrap())
}

/// Scrapes until the gauge reads `want` (a tick runs every 100 ms), for at most 10 s;
/// returns that scrape.
fn until_gauge(addr: &str, want: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = scrape(addr);
        if gauge(&text) == Some(want) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "never saw sockscope_netns_unreadable {want}; last scrape:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn unreadable_namespaces_are_counted_in_a_gauge() {
    if !require_root(
        "unreadable_namespaces_are_counted_in_a_gauge",
        "it creates mount and pid namespaces and mounts a tmpfs",
    ) {
        return;
    }
    let mut server = start_server();
    let addr = server.addr();

    let text = until_gauge(&addr, 2);
    assert!(
        text.contains("# TYPE sockscope_netns_unreadable gauge"),
        "{text}"
    );
    assert!(
        text.contains("# HELP sockscope_netns_unreadable "),
        "{text}"
    );
    // The readable namespace is still served.
    assert!(
        text.contains("sockscope_sockets{netns=\"host\",state=\"LISTEN\"}"),
        "{text}"
    );
    // stderr names each one, once.
    let named = wait_for(
        "both stale entries named on stderr",
        Duration::from_secs(5),
        || {
            let err = server.stderr();
            STALE
                .iter()
                .all(|n| {
                    err.iter()
                        .any(|l| l.contains(&format!("netns {n} not collected")))
                })
                .then(|| err.to_vec())
        },
    );
    for n in STALE {
        let times = named.iter().filter(|l| l.contains(n)).count();
        assert_eq!(times, 1, "{n} named {times} times:\n{named:?}");
    }

    remove(&server, STALE[0]);
    until_gauge(&addr, 1);
    remove(&server, STALE[1]);
    until_gauge(&addr, 0);
}
