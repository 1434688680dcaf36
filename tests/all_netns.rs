//! `--all-netns` against namespaces the test creates: one holds a CLOSE_WAIT population,
//! the other a few listeners; `summary --all-netns --format json` must show each
//! population under its own namespace, and `check --all-netns` must name the leaking one.
#![allow(clippy::unwrap_used)]

mod common;

use common::{require_root, scrape, KillOnDrop, Netns, Population, Server};

#[test]
fn summary_and_check_keep_namespaces_apart() {
    if !require_root(
        "summary_and_check_keep_namespaces_apart",
        "it creates network namespaces",
    ) {
        return;
    }
    let leaky = Netns::new("allA");
    let quiet = Netns::new("allB");
    let leak = Population::spawn(
        leaky.some(),
        &["closewait", "--count", "250", "--client-mode", "shutdown"],
    );
    let l1 = Population::spawn(
        quiet.some(),
        &["listen", "--backlog", "16", "--port", "8081"],
    );
    let l2 = Population::spawn(
        quiet.some(),
        &["listen", "--backlog", "16", "--port", "8082"],
    );

    let out = common::sockscope()
        .args(["summary", "--all-netns", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 2);
    let nss = v["namespaces"].as_array().unwrap();
    let find = |name: &str| {
        nss.iter()
            .find(|n| n["netns"] == name)
            .unwrap_or_else(|| panic!("namespace {name} missing from {v}"))
    };
    let a = find(&leaky.name);
    assert_eq!(a["states"]["CLOSE_WAIT"], 250, "{a}");
    assert_eq!(a["states"]["LISTEN"], 1, "{a}");
    assert!(
        a["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"].as_u64() == Some(u64::from(leak.pid()))),
        "{a}"
    );
    let b = find(&quiet.name);
    assert_eq!(b["states"]["LISTEN"], 2, "{b}");
    assert_eq!(b["states"]["CLOSE_WAIT"], 0, "{b}");
    assert_eq!(b["total"], 2, "{b}");
    // One /proc scan serves every namespace: each still gets its own holders, and only them.
    let pids = |n: &serde_json::Value| -> Vec<u64> {
        let mut p: Vec<u64> = n["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pid"].as_u64().unwrap())
            .collect();
        p.sort_unstable();
        p
    };
    let mut want: Vec<u64> = [l1.pid(), l2.pid()].map(u64::from).to_vec();
    want.sort_unstable();
    assert_eq!(pids(b), want, "{b}");
    assert_eq!(pids(a), [u64::from(leak.pid())], "{a}");
    assert_eq!(b["unattributed"]["count"], 0, "{b}");
    assert!(
        nss.iter().any(|n| n["netns"] == "host"),
        "host namespace missing"
    );
    assert!(v["unreachable"].is_array());

    // Text keeps the awk shape, with the namespace as a third column.
    let out = common::sockscope()
        .args(["summary", "--all-netns"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l == format!("CLOSE_WAIT\t250\t{}", leaky.name)),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == format!("LISTEN\t2\t{}", quiet.name)),
        "{text}"
    );

    // check names the leak and where it is.
    let out = common::sockscope()
        .args(["check", "--all-netns", "--interval", "200ms"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.code().unwrap() >= 1, "{text}");
    let want = format!(
        "close_wait_leak [netns {}]: pid {} (sscpop-cw) holds 250 CLOSE_WAIT",
        leaky.name,
        leak.pid()
    );
    assert!(text.contains(&want), "missing `{want}` in:\n{text}");
}

/// `serve --all-netns` attributes every namespace's sockets from one `/proc` scan per tick:
/// over several ticks each population stays with its own process and namespace, and nothing
/// is unattributed.
#[test]
fn serve_attributes_each_namespace_tick_after_tick() {
    if !require_root(
        "serve_attributes_each_namespace_tick_after_tick",
        "it creates network namespaces",
    ) {
        return;
    }
    let leaky = Netns::new("allsA");
    let quiet = Netns::new("allsB");
    let leak = Population::spawn(
        leaky.some(),
        &["closewait", "--count", "120", "--client-mode", "shutdown"],
    );
    let l1 = Population::spawn(
        quiet.some(),
        &["listen", "--backlog", "16", "--port", "8081"],
    );
    let mut server = KillOnDrop(
        std::process::Command::new(common::sockscope_path())
            .args(["--all-netns", "serve", "--listen", "127.0.0.1:0"])
            .args(["--interval", "200ms"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // stderr is read to the end on a thread: a full pipe would stall the server, and
    // concurrent tests' namespaces may be named there.
    let err = server.0.stderr.take().unwrap();
    let (line_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(err)).map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    let addr = loop {
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("no serving line within 30 s");
        if let Some(rest) = line.split("serving metrics on http://").nth(1) {
            break rest.trim().trim_end_matches("/metrics").to_string();
        }
    };
    let series = |text: &str, netns: &str, name: &str, labels: &str| -> Option<u64> {
        let head = format!("{name}{{netns=\"{netns}\"{labels}}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&head))
            .map(|v| v.trim().parse().unwrap())
    };
    let cw = format!(",comm=\"{}\",state=\"CLOSE_WAIT\"", leak.comm());
    let ls = format!(",comm=\"{}\",state=\"LISTEN\"", l1.comm());
    // Three scrapes at least one interval apart: three ticks, three scan rounds.
    for round in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let text = common::wait_for(
            "both namespaces",
            std::time::Duration::from_secs(10),
            || {
                let text = scrape(&addr);
                (series(&text, &leaky.name, "sockscope_process_sockets", &cw) == Some(120)
                    && series(&text, &quiet.name, "sockscope_process_sockets", &ls) == Some(1))
                .then_some(text)
            },
        );
        for ns in [&leaky.name, &quiet.name] {
            let un = series(&text, ns, "sockscope_unattributed_sockets", "");
            assert_eq!(un, Some(0), "round {round}, {ns}:\n{text}");
        }
        // Each population only under its own namespace.
        assert_eq!(
            series(&text, &quiet.name, "sockscope_process_sockets", &cw),
            None
        );
        assert_eq!(
            series(&text, &leaky.name, "sockscope_process_sockets", &ls),
            None
        );
    }
    // New listeners in both namespaces between ticks: one of them is not the first of its
    // round, so its socket is newer than the round's scan. Both are named within a few ticks
    // (a pid whose fd count did not move waits for the rate-limited rescan, as with one
    // namespace), and then stay named: ten scrapes in a row with nothing unattributed.
    let _n1 = Population::spawn(
        leaky.some(),
        &["listen", "--backlog", "16", "--port", "8083"],
    );
    let _n2 = Population::spawn(
        quiet.some(),
        &["listen", "--backlog", "16", "--port", "8083"],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut in_a_row = 0;
    while in_a_row < 10 {
        let text = scrape(&addr);
        assert!(
            std::time::Instant::now() < deadline,
            "new listeners not named for good within 15 s:\n{text}"
        );
        let named = series(&text, &quiet.name, "sockscope_process_sockets", &ls) == Some(2)
            && series(&text, &leaky.name, "sockscope_process_sockets", &ls) == Some(1)
            && [&leaky.name, &quiet.name]
                .iter()
                .all(|ns| series(&text, ns, "sockscope_unattributed_sockets", "") == Some(0));
        in_a_row = if named { in_a_row + 1 } else { 0 };
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `serve --all-netns` takes a whole sweep before its first data: until then every scrape is
/// 503 with `Retry-After`, never `sockscope_up 0` (which would fire an alert on every
/// restart); the first 200 says `up 1`.
#[test]
fn serve_all_netns_never_says_up_0_before_its_first_sweep() {
    if !require_root(
        "serve_all_netns_never_says_up_0_before_its_first_sweep",
        "it enters every network namespace",
    ) {
        return;
    }
    let mut server = Server::start(
        "",
        &[
            "--all-netns",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1s",
        ],
    );
    let addr = server.addr();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut not_yet = 0;
    let first = loop {
        let text = scrape(&addr);
        assert!(
            !text.contains("sockscope_up 0"),
            "up 0 before the first sweep:\n{text}"
        );
        if text.starts_with("HTTP/1.1 200") {
            break text;
        }
        assert!(text.starts_with("HTTP/1.1 503"), "{text}");
        assert!(text.contains("Retry-After: 1"), "{text}");
        not_yet += 1;
        assert!(
            std::time::Instant::now() < deadline,
            "no data after 20 s:\n{text}"
        );
    };
    println!("{not_yet} scrapes answered 503 before the first sweep");
    assert!(first.contains("sockscope_up 1"), "{first}");
}
