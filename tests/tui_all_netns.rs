//! `sockscope --all-netns` in a real terminal: two namespaces the test creates, one holding
//! a CLOSE_WAIT leak; tmux runs the dashboard, the test reads the screen with
//! `capture-pane` and checks that the leak's alert is on screen naming its namespace
//! whichever namespace is shown, that `n` reaches the leaking namespace (header
//! `netns <name> (i/n)`, its CLOSE_WAIT count), and that `q` exits 0 with the terminal
//! restored. tmux is driven with plain commands on a private server, killed on drop (the
//! `Tmux` helper of `tests/tui_tmux.rs` is not shared: it lives in that test file).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{require_root, Netns, Population, Tmux};

/// `(i, n)` from the header's `netns NAME (i/n)`.
fn position(screen: &str, name: &str) -> Option<(usize, usize)> {
    let head = screen.lines().next()?;
    let rest = head.split(&format!("netns {name} (")).nth(1)?;
    let (i, rest) = rest.split_once('/')?;
    let (n, _) = rest.split_once(')')?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// The shown namespace's name from the header.
fn shown(screen: &str) -> Option<String> {
    let head = screen.lines().next()?;
    let rest = head.split("netns ").nth(1)?;
    Some(rest.split(" (").next()?.to_string())
}

#[test]
fn all_netns_dashboard_names_the_leaking_namespace_and_switches_to_it() {
    if !require_root(
        "all_netns_dashboard_names_the_leaking_namespace_and_switches_to_it",
        "it creates network namespaces",
    ) {
        return;
    }
    if !common::require_tmux() {
        return;
    }
    let leaky = Netns::new("nA");
    let quiet = Netns::new("nB");
    // 250 CLOSE_WAIT in one process is over the default warning count: it fires at once.
    let leak = Population::spawn(
        leaky.some(),
        &["closewait", "--count", "250", "--client-mode", "shutdown"],
    );
    let _listener = Population::spawn(
        quiet.some(),
        &["listen", "--backlog", "16", "--port", "8081"],
    );
    let pid = leak.pid().to_string();
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let bin = assert_cmd::cargo::cargo_bin("sockscope");
    let cmd = format!(
        "{} --all-netns --interval 500ms; echo \"exit=$?\" > {}; clear",
        bin.display(),
        status.display()
    );
    let tmux = Tmux::start("allns", 160, 48, &cmd);

    // 1. Whatever namespace is shown first, the leak's alert is listed under its namespace,
    //    and the strip lists both test namespaces.
    let alert = format!("CLOSE_WAIT leak sscpop-cw[{pid}] holds 250 CLOSE_WAIT");
    let tagged = format!("[{}]", leaky.name);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(5), |s| {
        s.lines().any(|l| l.contains(&tagged) && l.contains(&alert))
            && s.contains(&quiet.name)
            && position(s, shown(s).as_deref().unwrap_or("")).is_some()
    });
    assert!(
        ok,
        "no alert naming {} and pid {pid} within 5 s:\n{screen}",
        leaky.name
    );
    println!("--- first namespace ---\n{screen}");

    // 2. n until the header shows the leaking namespace (at most once round).
    let (_, n) = shown(&screen)
        .and_then(|name| position(&screen, &name))
        .unwrap();
    assert!(
        n >= 3,
        "host and two test namespaces expected, header says {n}"
    );
    let mut screen = screen;
    for _ in 0..n {
        if shown(&screen).as_deref() == Some(leaky.name.as_str()) {
            break;
        }
        let before = shown(&screen);
        tmux.keys(&["n"]);
        let (ok, s) = tmux.wait_for(Duration::from_secs(3), |s| shown(s) != before);
        assert!(ok, "n did not switch namespace:\n{s}");
        screen = s;
    }
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        shown(s).as_deref() == Some(leaky.name.as_str())
            && s.contains("CLOSE_WAIT  250")
            && s.contains(&format!("sscpop-cw[{pid}]"))
    });
    assert!(
        ok,
        "n never showed {} with its 250 CLOSE_WAIT:\n{screen}",
        leaky.name
    );
    println!("--- leaking namespace ---\n{screen}");

    // 3. q: exit 0, alternate screen left, cursor visible.
    tmux.keys(&["q"]);
    tmux.assert_exited(&status, 0, "q");
}
