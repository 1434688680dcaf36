//! Hostile clients: garbage, oversized heads, idle and slowloris connections, a full
//! connection table. Part of the `serve` test target (`tests/serve.rs` includes it).

use super::*;

#[test]
fn garbage_and_oversized_requests_are_rejected_and_the_server_stays_up() {
    let (h, _) = serve(opts(Duration::from_secs(2), Duration::from_millis(100)));
    let a = h.local_addr();
    wait_up(a);
    assert_eq!(send(a, b"\x00\x01\x02garbage\r\n\r\n").0, 400);
    assert_eq!(send(a, b"GET /metrics\r\n\r\n").0, 400);
    // A request line longer than the head limit: hyper counts it against the head, 431
    // (the hand-written parser said 400).
    let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(10_000));
    assert_eq!(send(a, long_line.as_bytes()).0, 431);
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
    let (h, _) = serve(opts(Duration::from_secs(5), Duration::from_millis(100)));
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
    let mut o = opts(Duration::from_secs(10), Duration::from_millis(100));
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
    let (h, _) = serve(opts(Duration::from_secs(5), Duration::from_millis(100)));
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
    let (h, _) = serve(opts(Duration::from_secs(5), Duration::from_millis(100)));
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
    let (h, _) = serve(opts(timeout, Duration::from_millis(100)));
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

/// A tick whose body is several MB: [`fixture`] plus `n` processes with one socket each and
/// distinct command names of about 55 bytes (each one a `sockscope_process_sockets` line of
/// about 130 bytes). Names stay under the 64-byte cap on label values, which would cut
/// longer ones to one shared `ppp…` series.
fn big_tick(n: u32) -> (Snapshot, Analysis) {
    let (mut snap, mut analysis) = fixture();
    for i in 0..n {
        let pid = 100_000 + i;
        snap.processes
            .insert(pid, process(pid, &format!("{}{i}", "p".repeat(50))));
        snap.sockets.push(sock(
            TcpState::Established,
            "10.0.0.1:41000",
            &format!("10.1.{}.{}:443", i / 250, i % 250),
            Owner::Process(pid),
        ));
    }
    analysis.aggregate = aggregate(&snap);
    (snap, analysis)
}

/// How many processes [`big_tick`] needs for a body well above what the kernel buffers for
/// one client that does not read: its send buffer grows to at most `tcp_wmem`'s maximum
/// (4 MiB by default; about 2.8 MB taken on loopback here), plus a 4 KiB receive buffer.
/// `None` (with the reason printed) above 16 MiB: bodies that big make these tests slow on
/// a debug build, and the several stuck responses they need would be too much memory.
fn big_population() -> Option<u32> {
    let wmem_max: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20);
    if wmem_max > 16 << 20 {
        eprintln!("skipped: tcp_wmem max {wmem_max} > 16 MiB would need bodies over 21 MB");
        return None;
    }
    // About 130 bytes of body per process (120 to err on the big side); a third more than
    // the maximum.
    Some((wmem_max / 120 * 4 / 3).max(20_000))
}

/// Test servers whose body need not change tick every 60 s, so no re-render of a
/// multi-megabyte body competes with the test for the CPU.
const SLOW_TICK: Duration = Duration::from_secs(60);

/// A server publishing [`big_tick`] (rendered once: the tick clones it) with every process
/// exported; returns it and the `Content-Length` of one scrape.
fn serve_big(mut o: ServeOptions, n: u32) -> (ServeHandle, usize) {
    o.top_processes = usize::MAX;
    let tick = big_tick(n);
    let h = start(o, move || -> TickResult { Ok(vec![tick.clone()]) }).unwrap();
    let a = h.local_addr();
    wait_up(a);
    let (code, text) = get(a, "/metrics");
    assert_eq!(code, 200);
    let len = text
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    (h, len)
}

/// Connects to `addr` (IPv4) from a socket whose receive buffer is set to `rcvbuf` bytes
/// before the handshake, so the window it advertises stays that small.
fn connect_small_rcvbuf(addr: SocketAddr, rcvbuf: i32) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only: {addr}")
    };
    // SAFETY: plain socket calls on a fd this function owns (wrapped at once so it is
    // closed on every path); the pointers are to locals that outlive the calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let rc = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const rcvbuf).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: v4.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*v4.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&raw const sin).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        stream
    }
}

/// Kernel queues of the connections between the server on `server_port` and its clients,
/// by client port, from one read of `/proc/net/tcp` (one read per client is too slow to
/// poll with on a busy host): (bytes the server wrote that are not acknowledged, bytes the
/// client received and did not read). A connection missing either side is left out.
fn queue_table(server_port: u16) -> std::collections::BTreeMap<u16, (u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let mut sides: std::collections::BTreeMap<u16, (Option<u64>, Option<u64>)> =
        std::collections::BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let port = |field: &str| u16::from_str_radix(field.rsplit(':').next().unwrap(), 16);
        let (local, remote) = (port(f[1]).unwrap(), port(f[2]).unwrap());
        let (tx, rx) = f[4].split_once(':').unwrap();
        if local == server_port && f[3] != "0A" {
            sides.entry(remote).or_default().0 = Some(u64::from_str_radix(tx, 16).unwrap());
        } else if remote == server_port {
            sides.entry(local).or_default().1 = Some(u64::from_str_radix(rx, 16).unwrap());
        }
    }
    sides
        .into_iter()
        .filter_map(|(client, (tx, rx))| Some((client, (tx?, rx?))))
        .collect()
}

/// Opens `n` clients with a 4 KiB receive buffer that each send `GET /metrics` and never
/// read.
fn slow_readers(a: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut s = connect_small_rcvbuf(a, 4096);
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s
        })
        .collect()
}

/// How many of `clients` have a response stuck in the server: the server has started it
/// (bytes in its send queue) but the kernel holds less than all of it, on both sides, so the
/// rest is still in the server process, whose write could not complete.
fn stuck(server_port: u16, clients: &[TcpStream], body: usize) -> usize {
    let table = queue_table(server_port);
    clients
        .iter()
        .filter_map(|c| table.get(&c.local_addr().unwrap().port()).copied())
        .filter(|&(tx, rx)| tx > 0 && usize::try_from(tx + rx).unwrap() < body)
        .count()
}

#[test]
fn clients_that_do_not_read_their_response_do_not_stall_other_scrapes() {
    let Some(n) = big_population() else { return };
    // As many stuck responses as the two runtime threads and then some: none pins one.
    let workers = 4;
    let o = opts(Duration::from_secs(5), SLOW_TICK);
    let (h, body) = serve_big(o, n);
    let a = h.local_addr();
    let port = a.port();
    let slow = slow_readers(a, 2 * workers);
    // At least a pool's worth of responses must really be stuck, or this proves nothing.
    wait_for(
        "slow readers' responses stuck",
        Duration::from_secs(5),
        || stuck(port, &slow, body) >= workers,
    );
    let t0 = Instant::now();
    let (code, text) = get(a, "/metrics");
    let took = t0.elapsed();
    assert_eq!(code, 200);
    assert!(text.len() > body, "short response: {} bytes", text.len());
    // Generous: a blocked runtime would make this wait for the 10 s write deadline.
    assert!(took < Duration::from_secs(5), "scrape took {took:?}");
    assert!(
        stuck(port, &slow, body) >= workers,
        "slow readers were released before the scrape"
    );
    drop(slow);
    h.shutdown();
}

/// How many of `clients` the server has closed completely: its side of the connection is
/// gone from `/proc/net/tcp`, so neither a thread nor the kernel holds their response.
fn gone(server_port: u16, clients: &[TcpStream]) -> usize {
    let table = queue_table(server_port);
    clients
        .iter()
        .filter(|c| !table.contains_key(&c.local_addr().unwrap().port()))
        .count()
}

#[test]
fn a_client_that_does_not_read_is_reset_after_the_write_timeout() {
    let Some(n) = big_population() else { return };
    let mut o = opts(Duration::from_secs(5), SLOW_TICK);
    o.write_timeout = Duration::from_millis(800);
    let (h, body) = serve_big(o, n);
    let a = h.local_addr();
    let port = a.port();
    let t0 = Instant::now();
    let mut slow = slow_readers(a, 4);
    // Each reader's response is seen started (the server's send queue holds part of it),
    // whether or not the kernel has taken all of it; a loaded test run may reset the first
    // before the last is seen, so each is remembered.
    let mut seen = std::collections::BTreeSet::new();
    wait_for(
        "slow readers' responses started",
        Duration::from_secs(5),
        || {
            let table = queue_table(port);
            for (i, c) in slow.iter().enumerate() {
                let client = c.local_addr().unwrap().port();
                if table.get(&client).is_some_and(|&(tx, _)| tx > 0) {
                    seen.insert(i);
                }
            }
            seen.len() == slow.len()
        },
    );
    wait_for("slow readers reset", Duration::from_secs(5), || {
        gone(port, &slow) == slow.len()
    });
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(800),
        "reset before the deadline: {took:?}"
    );
    // The client sees its response cut short: what its buffer held, then the reset.
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut out = Vec::new();
        let res = s.read_to_end(&mut out);
        assert!(out.len() < body, "whole response arrived: {res:?}");
    }
    assert_eq!(get(a, "/metrics").0, 200);
    h.shutdown();
}

#[test]
fn a_full_table_evicts_idle_connections_before_a_response_being_written() {
    let Some(n) = big_population() else { return };
    let mut o = opts(Duration::from_secs(10), SLOW_TICK);
    o.max_pending = 16;
    let (h, body) = serve_big(o, n);
    let a = h.local_addr();
    let port = a.port();
    // A scrape that has not started reading yet: its response waits in the acceptor, the
    // oldest connection there.
    let mut scrape = slow_readers(a, 1);
    wait_for(
        "the scrape's response stuck",
        Duration::from_secs(5),
        || stuck(port, &scrape, body) == 1,
    );
    // Then a flood of idle connections, more than twice the table.
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(a).unwrap());
    }
    // The flood was taken in: the oldest idle connection was evicted (503, or reset).
    let first = &mut idle[0];
    first
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut out = Vec::new();
    let res = first.read_to_end(&mut out);
    assert!(
        res.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset)
            || out.starts_with(b"HTTP/1.1 503"),
        "oldest idle connection still open: {:?}",
        String::from_utf8_lossy(&out)
    );
    // The scrape now reads: it gets its whole response, well within the write timeout.
    let s = &mut scrape[0];
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let res = s.read_to_end(&mut got);
    assert!(
        res.is_ok() && got.len() > body,
        "scrape cut short: {} of more than {body} bytes, {res:?}",
        got.len()
    );
    drop(idle);
    h.shutdown();
}

#[test]
fn a_non_reader_whose_response_fits_in_the_kernel_buffers_leaves_no_socket_behind() {
    let mut o = opts(Duration::from_secs(5), SLOW_TICK);
    o.write_timeout = Duration::from_millis(800);
    // About 10 KB: the socket takes all of it at once, so the worker hands the connection
    // straight to the lingering close, but a 4 KiB receive window does not.
    let (h, body) = serve_big(o, 30);
    let a = h.local_addr();
    let port = a.port();
    let t0 = Instant::now();
    let slow = slow_readers(a, 3);
    wait_for("responses in the kernel", Duration::from_secs(5), || {
        let table = queue_table(port);
        slow.iter()
            .filter_map(|c| table.get(&c.local_addr().unwrap().port()).copied())
            .filter(|&(tx, rx)| tx > 0 && usize::try_from(tx + rx).unwrap() >= body)
            .count()
            == 3
    });
    // A plain close at the end of the linger would leave each as an orphaned FIN_WAIT1
    // socket holding the undelivered bytes until the kernel gives up probing (minutes).
    wait_for("server sockets gone", Duration::from_secs(5), || {
        gone(port, &slow) == slow.len()
    });
    eprintln!(
        "{body}-byte body: non-readers' server sockets gone after {:?}",
        t0.elapsed()
    );
    assert_eq!(get(a, "/metrics").0, 200);
    drop(slow);
    h.shutdown();
}
