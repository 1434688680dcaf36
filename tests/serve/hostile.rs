//! Hostile clients: garbage, oversized heads, idle and slowloris connections, a full
//! connection table. Part of the `serve` test target (`tests/serve.rs` includes it).

use super::*;

#[test]
fn garbage_and_oversized_requests_are_rejected_and_the_server_stays_up() {
    let (h, _) = serve(opts(4, Duration::from_secs(2), Duration::from_millis(100)));
    let a = h.local_addr();
    wait_up(a);
    assert_eq!(send(a, b"\x00\x01\x02garbage\r\n\r\n").0, 400);
    assert_eq!(send(a, b"GET /metrics\r\n\r\n").0, 400);
    let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(10_000));
    assert_eq!(send(a, long_line.as_bytes()).0, 400);
    let big_header = format!(
        "GET /metrics HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "b".repeat(9_000)
    );
    assert_eq!(send(a, big_header.as_bytes()).0, 431);
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_eq!(
        send(a, format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()).0,
        431
    );
    // A request cut short: the server times it out (408) instead of waiting forever.
    // (Covered again with many clients by `idle_and_dripping_connections_are_closed_...`.)
    assert_eq!(send(a, b"GET /metrics HTTP/1.1\r\nHost").0, 408);
    assert_eq!(get(a, "/metrics").0, 200);
    h.shutdown();
}

#[test]
fn idle_connections_do_not_block_a_scrape() {
    let (h, _) = serve(opts(32, Duration::from_secs(5), Duration::from_millis(100)));
    let a = h.local_addr();
    wait_up(a);
    let idle: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(a).unwrap()).collect();
    let mut half = TcpStream::connect(a).unwrap();
    half.write_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    assert_eq!(get(a, "/metrics").0, 200);
    // Well under the 5 s header timeout: the scrape did not wait for the idle clients.
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    drop(idle);
    h.shutdown();
}

#[test]
fn a_full_connection_table_evicts_the_oldest_so_new_clients_get_in() {
    let mut o = opts(4, Duration::from_secs(10), Duration::from_millis(100));
    o.max_pending = 16;
    let (h, _) = serve(o);
    let a = h.local_addr();
    wait_up(a);
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(a).unwrap());
        // One at a time, so "oldest" is well defined.
        std::thread::sleep(Duration::from_millis(5));
    }
    let t0 = Instant::now();
    assert_eq!(get(a, "/metrics").0, 200);
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    // The oldest were closed (told 503, or reset) long before their 10 s head timeout...
    let mut first = idle.remove(0);
    first
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut out = Vec::new();
    let res = first.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(
        res.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset)
            || text.starts_with("HTTP/1.1 503"),
        "oldest idle connection still open: {text:?}"
    );
    // ...while the newest is still held, waiting for its head.
    let mut last = idle.pop().unwrap();
    last.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let err = last.read(&mut [0u8; 16]).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    drop(idle);
    h.shutdown();
}

/// Opens `n` connections that each send a partial request head and then hold it.
fn slowloris(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ");
            Some(s)
        })
        .collect()
}

#[test]
fn slowloris_connections_do_not_stop_other_scrapes() {
    // Default pool and header timeout: 300 held partial heads are far more than the pool.
    let (h, _) = serve(opts(32, Duration::from_secs(5), Duration::from_millis(100)));
    let a = h.local_addr();
    wait_up(a);
    let held = slowloris(a, 300);
    assert!(
        held.len() >= 290,
        "only {} slow clients connected",
        held.len()
    );
    let t0 = Instant::now();
    for i in 0..20 {
        let t = Instant::now();
        let (code, _) = get(a, "/metrics");
        assert_eq!(code, 200, "scrape {i} under slowloris");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "scrape {i} took {:?}",
            t.elapsed()
        );
    }
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    drop(held);
    h.shutdown();
}

/// Sends `raw` and reads until the server closes, within 3 s: (status, closed by the server).
fn send_until_closed(addr: SocketAddr, raw: &[u8]) -> (u16, bool) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = s.write_all(raw);
    let mut out = Vec::new();
    let closed = s.read_to_end(&mut out).is_ok();
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, closed)
}

#[test]
fn oversized_heads_get_431_and_are_closed() {
    let (h, _) = serve(opts(4, Duration::from_secs(5), Duration::from_millis(100)));
    let a = h.local_addr();
    wait_up(a);
    // 64 KiB of ordinary-looking headers: refused at 8 KiB, not read to the end first.
    let mut many = String::from("GET /metrics HTTP/1.1\r\nHost: x\r\n");
    let mut i = 0;
    while many.len() < 64 * 1024 {
        many.push_str(&format!("X-Pad-{i}: {}\r\n", "p".repeat(100)));
        i += 1;
    }
    many.push_str("\r\n");
    assert_eq!(send_until_closed(a, many.as_bytes()), (431, true));
    // One 16 KiB header line.
    let line = format!(
        "GET /metrics HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "b".repeat(16 * 1024)
    );
    assert_eq!(send_until_closed(a, line.as_bytes()), (431, true));
    // Many at once do not take the server down either.
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let many = many.clone();
            std::thread::spawn(move || send_until_closed(a, many.as_bytes()))
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), (431, true));
    }
    assert_eq!(get(a, "/metrics").0, 200);
    h.shutdown();
}

/// The inodes of TCP sockets whose local port is `port` and that are not listening: the
/// server's side of its connections (a client's side has `port` as its remote port).
fn server_side_inodes(port: u16) -> std::collections::BTreeSet<u64> {
    let mut out = std::collections::BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f[1].rsplit(':').next().unwrap();
            if u16::from_str_radix(local_port, 16).unwrap() == port && f[3] != "0A" {
                out.insert(f[9].parse().unwrap());
            }
        }
    }
    out
}

/// Open file descriptors of this process (which is the server) that are the server's side
/// of a connection on `port`. Other tests in this binary open fds concurrently, so the
/// process total is not a usable baseline; these are exactly the server's.
fn server_fds(port: u16) -> usize {
    let inodes = server_side_inodes(port);
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .filter(|inode: &u64| inodes.contains(inode))
        .count()
}

fn wait_for(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn idle_and_dripping_connections_are_closed_after_the_head_timeout() {
    let timeout = Duration::from_millis(700);
    let (h, _) = serve(opts(4, timeout, Duration::from_millis(100)));
    let a = h.local_addr();
    wait_up(a);
    let port = a.port();
    wait_for("no server connections", Duration::from_secs(3), || {
        server_fds(port) == 0
    });
    let t0 = Instant::now();
    let mut idle: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(a).unwrap()).collect();
    // Dripping clients send a byte every 100 ms: activity does not extend the deadline.
    let mut drip: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(a).unwrap()).collect();
    wait_for("210 accepted", Duration::from_secs(3), || {
        server_fds(port) >= 210
    });
    let head = b"GET /metrics HTTP/1.1\r\nX-Drip: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for b in head.iter().take(6) {
        for d in &mut drip {
            let _ = d.write_all(&[*b]);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for("server connections closed", Duration::from_secs(5), || {
        server_fds(port) == 0
    });
    let took = t0.elapsed();
    assert!(took >= timeout, "closed before the head timeout: {took:?}");
    for s in idle.iter_mut().take(5).chain(drip.iter_mut()) {
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        assert!(
            out.starts_with(b"HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
    }
    assert_eq!(get(a, "/metrics").0, 200);
    drop((idle, drip));
    h.shutdown();
}
