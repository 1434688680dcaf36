//! Least privilege in `serve` (issue 21, item 5): the threads that accept and parse HTTP
//! hold no capability (Linux capabilities are per thread); the tick thread, which collects,
//! keeps its own. Checked from outside through /proc/PID/task/TID/status of a real server
//! started as root.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;

/// (thread name, CapEff, CapPrm) of every thread of `pid`.
fn thread_caps(pid: u32) -> Vec<(String, u64, u64)> {
    let hex = |status: &str, field: &str| -> u64 {
        let v = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .unwrap()
            .trim();
        u64::from_str_radix(v, 16).unwrap()
    };
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            let status = std::fs::read_to_string(t.path().join("status")).ok()?;
            Some((
                comm.trim().to_string(),
                hex(&status, "CapEff:"),
                hex(&status, "CapPrm:"),
            ))
        })
        .collect()
}

#[test]
fn http_threads_hold_no_capability() {
    if !require_root(
        "http_threads_hold_no_capability",
        "root's capabilities are what the HTTP threads must drop",
    ) {
        return;
    }
    let mut server = Server::start(
        "",
        &["serve", "--listen", "127.0.0.1:0", "--interval", "100ms"],
    );
    let addr = server.addr();
    // A scrape answered with a tick's data: the acceptor, a worker and the tick have run.
    let text = wait_for("a first tick", Duration::from_secs(10), || {
        let t = scrape(&addr);
        t.contains("sockscope_sockets{netns=\"host\"").then_some(t)
    });
    assert!(text.contains("sockscope_up 1"), "{text}");
    let threads = thread_caps(server.pid());
    eprintln!("threads (name, CapEff, CapPrm): {threads:x?}");
    // Thread names are cut to 15 bytes: `sockscope-http-` and `sockscope-accep`.
    let http: Vec<_> = threads
        .iter()
        .filter(|(n, _, _)| n.starts_with("sockscope-http") || n.starts_with("sockscope-accep"))
        .collect();
    assert!(http.len() >= 2, "no HTTP threads among {threads:?}");
    for (name, eff, prm) in &http {
        assert_eq!((*eff, *prm), (0, 0), "{name} holds capabilities");
    }
    let tick = threads
        .iter()
        .find(|(n, _, _)| n == "sockscope-tick")
        .unwrap_or_else(|| panic!("no tick thread among {threads:?}"));
    // CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19): what attribution needs; CAP_SYS_ADMIN
    // (21) to enter namespaces. Exactly those, in both sets: nothing else is kept.
    let need = (1u64 << 2) | (1u64 << 19) | (1u64 << 21);
    assert_eq!(
        (tick.1, tick.2),
        (need, need),
        "the tick thread holds {:x}",
        tick.1
    );
    // The main thread only waits once the others run: it holds nothing either.
    let main = threads
        .iter()
        .find(|(n, _, _)| n == "sockscope")
        .unwrap_or_else(|| panic!("no main thread among {threads:?}"));
    assert_eq!(
        (main.1, main.2),
        (0, 0),
        "the main thread holds capabilities"
    );
    assert!(
        text.contains("sockscope_http_threads_privileged 0"),
        "{text}"
    );
    // Scrapes keep working from the capability-less threads.
    for _ in 0..5 {
        assert!(scrape(&addr).contains("sockscope_up 1"));
    }
}
