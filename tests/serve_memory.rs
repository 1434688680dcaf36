//! What a held connection costs `serve` in memory: partial request heads (slowloris) held
//! open against the real binary, whose collector reads a private empty namespace so that
//! only the connections move its RSS. Hyper allocates two 8 KiB buffers per connection from
//! its first read; a connection that has not sent a whole head must not pay them.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// A `/proc/PID/status` field in kB.
fn status_kb(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn scrape(addr: &str) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn a_held_partial_head_costs_a_few_kib_not_hypers_buffers() {
    const N: usize = 300;
    let ns = Netns::new("mem");
    let mut s = Server::start(
        "ulimit -n 4096;",
        &["--netns", &ns.name, "serve", "--listen", "127.0.0.1:0"],
    );
    let addr = s.addr();
    let pid = s.pid();
    // Warm the allocator (first scrapes, first ticks) before the baseline.
    wait_for("a ready scrape", Duration::from_secs(20), || {
        scrape(&addr).starts_with("HTTP/1.1 200").then_some(())
    });
    for _ in 0..20 {
        scrape(&addr);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let (fds0, rss0) = (open_fds(pid), status_kb(pid, "VmRSS"));

    let mut held = Vec::new();
    for _ in 0..N {
        let mut c = TcpStream::connect(&addr).unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        held.push(c);
    }
    // Two descriptors per held connection once the server has taken them all (the head
    // timeout, 5 s, is far off).
    wait_for("the server to hold them", Duration::from_secs(4), || {
        (open_fds(pid) >= fds0 + 2 * N).then_some(())
    });
    std::thread::sleep(Duration::from_millis(200));
    let rss = status_kb(pid, "VmRSS");
    let per_conn = rss.saturating_sub(rss0) * 1024 / N as u64;
    eprintln!("rss {rss0} kB -> {rss} kB with {N} held heads: {per_conn} bytes each");
    assert!(
        per_conn < 10 * 1024,
        "a held head costs {per_conn} bytes (rss {rss0} -> {rss} kB for {N})"
    );
    // The server still answers with all of them held.
    assert!(scrape(&addr).starts_with("HTTP/1.1 200"));
    drop(held);
}
