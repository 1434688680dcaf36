//! Namespaces are held by identity, not re-resolved by path (issue 21, item 2):
//! `serve --netns NAME` keeps the namespace it opened when NAME is re-pointed, and
//! `serve --all-netns` keeps collecting a namespace whose naming pid exited while a sibling
//! keeps it alive. Real kernel, namespaces the test creates, all removed on drop.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// A `pop.py listen` started with `nsenter --net=PATH` (no /run/netns name needed).
fn listener_in(ns_path: &str) -> (Child, u32, u16) {
    let py = python();
    let script = pop_script();
    let mut c = Command::new("nsenter");
    c.arg(format!("--net={ns_path}"))
        .arg(&py)
        .arg(&script)
        .args(["--hold", "90", "listen", "--backlog", "8"])
        .stderr(Stdio::inherit());
    let (child, rx, desc) = start_generator(&mut c);
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("{desc}: bad ready line {line:?}: {e}"));
    let pid = u32::try_from(v["pid"].as_u64().unwrap()).unwrap();
    let port = u16::try_from(v["port"].as_u64().unwrap()).unwrap();
    (child, pid, port)
}

/// The `netns` label of the listener series on `port`, if the scrape has one.
fn listener_netns(text: &str, port: u16) -> Option<String> {
    let tail = format!(":{port}\"");
    text.lines()
        .filter(|l| l.starts_with("sockscope_listener_backlog{"))
        .find(|l| l.contains(&tail))
        .and_then(|l| {
            l.split("netns=\"")
                .nth(1)?
                .split('"')
                .next()
                .map(String::from)
        })
}

#[test]
fn a_renamed_namespace_is_not_followed_silently() {
    if !require_root(
        "a_renamed_namespace_is_not_followed_silently",
        "it creates network namespaces",
    ) {
        return;
    }
    let ns = Netns::new("idren");
    let old = Population::spawn(ns.some(), &["listen", "--backlog", "8"]);
    let mut server = Server::start(
        "",
        &[
            "--netns",
            &ns.name,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "100ms",
        ],
    );
    let addr = server.addr();
    // Five handshakes in the old namespace: its PassiveOpens counter is 5, the new one's 0,
    // so counters read from the wrong namespace show.
    let connect = format!(
        "import socket\nfor _ in range(5): socket.create_connection(('127.0.0.1', {})).close()",
        old.port()
    );
    run_ok(&mut ns.cmd(&python(), &["-c", &connect]));
    let opens = "sockscope_kernel_tcp_total{netns=\"NAME\",group=\"Tcp\",name=\"PassiveOpens\"}"
        .replace("NAME", &ns.name);
    wait_for(
        "the old listener and its handshakes",
        Duration::from_secs(10),
        || {
            let t = scrape(&addr);
            listener_netns(&t, old.port())?;
            (metric(&t, &opens)? >= 5.0).then_some(())
        },
    );

    // Same name, another namespace, another listener.
    run_ok(Command::new("ip").args(["netns", "del", &ns.name]));
    run_ok(Command::new("ip").args(["netns", "add", &ns.name]));
    ns.ip(&["link", "set", "lo", "up"]);
    let new = Population::spawn(ns.some(), &["listen", "--backlog", "8"]);

    // 30 scrapes over 3 s (30 ticks): the old listener every time, the new one never.
    for i in 0..30 {
        let text = scrape(&addr);
        assert!(
            listener_netns(&text, old.port()).is_some(),
            "scrape {i}: the old namespace's listener is gone:\n{text}"
        );
        assert!(
            listener_netns(&text, new.port()).is_none(),
            "scrape {i}: the new namespace's listener appeared:\n{text}"
        );
        assert!(text.contains("sockscope_up 1"), "scrape {i}:\n{text}");
        assert!(
            metric(&text, &opens).is_some_and(|n| n >= 5.0),
            "scrape {i}: counters from another namespace:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let said = wait_for("the re-pointed notice", Duration::from_secs(5), || {
        server
            .stderr()
            .iter()
            .find(|l| l.contains("now points to another namespace"))
            .cloned()
    });
    assert!(said.contains(&ns.name), "{said}");
    let times = server
        .stderr()
        .iter()
        .filter(|l| l.contains("now points to another namespace"))
        .count();
    assert_eq!(times, 1, "said {times} times: {:?}", server.stderr());

    // The old namespace's last process exits and no mount names it: nothing but our
    // descriptor keeps it, so it is dead and collection says so instead of reporting it.
    drop(old);
    let text = wait_for("sockscope_up 0", Duration::from_secs(10), || {
        let t = scrape(&addr);
        t.contains("sockscope_up 0").then_some(t)
    });
    assert!(
        listener_netns(&text, new.port()).is_none(),
        "switched silently to the new namespace:\n{text}"
    );
}

#[test]
fn a_namespace_outlives_its_naming_pid() {
    if !require_root(
        "a_namespace_outlives_its_naming_pid",
        "it creates network namespaces",
    ) {
        return;
    }
    // The naming process: the first pid in the new namespace.
    let first = KillOnDrop(
        Command::new("unshare")
            .args(["--net", "sleep", "120"])
            .spawn()
            .unwrap(),
    );
    let first_pid = first.0.id();
    let ns_path = format!("/proc/{first_pid}/ns/net");
    wait_for("the new namespace", Duration::from_secs(5), || {
        let host = std::fs::read_link("/proc/self/ns/net").ok()?;
        let theirs = std::fs::read_link(&ns_path).ok()?;
        (host != theirs).then_some(())
    });
    run_ok(Command::new("nsenter").args([
        &format!("--net={ns_path}"),
        "ip",
        "link",
        "set",
        "lo",
        "up",
    ]));
    // A sibling that keeps it alive, with a listener.
    let (sibling, sibling_pid, port) = listener_in(&ns_path);
    let _sibling = KillGroup(Some(sibling));
    assert!(sibling_pid > first_pid, "{sibling_pid} <= {first_pid}");

    let mut server = Server::start(
        "",
        &[
            "--all-netns",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "100ms",
        ],
    );
    let addr = server.addr();
    let before = wait_for("the listener", Duration::from_secs(10), || {
        listener_netns(&scrape(&addr), port)
    });
    assert!(
        before.contains(&first_pid.to_string()),
        "labelled {before:?}, not by the first pid {first_pid}"
    );

    drop(first);
    // Every scrape from now on still has the listener; within a few ticks it is
    // relabelled by the sibling.
    let mut after = String::new();
    for i in 0..30 {
        let text = scrape(&addr);
        after = listener_netns(&text, port).unwrap_or_else(|| {
            panic!(
                "scrape {i}: the listener vanished after its naming pid exited:\n{text}\n\
                 stderr: {:?}",
                server.stderr()
            )
        });
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(after, before, "never relabelled");
    assert!(
        after.contains(&sibling_pid.to_string()),
        "relabelled {after:?}, not by the sibling {sibling_pid}"
    );
}

/// Stops a generator's process group on drop.
struct KillGroup(Option<Child>);

impl Drop for KillGroup {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            stop_generator(c);
        }
    }
}
