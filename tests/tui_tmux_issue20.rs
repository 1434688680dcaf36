//! Issue 20 in a real terminal: tmux runs `sockscope` at 80×24 next to a real CLOSE_WAIT
//! leak (`pop.py closewait`, 300 sockets, in a private namespace) and checks, on the
//! captured screen, that the alert and the Sockets view show the pid whole, that the `e`
//! popup scrolls to its remedy with `j`/PgDn, that the leak's peer address opens on the
//! leak, that `b` sorts Processes by CLOSE_WAIT in one key, and that `q` exits 0.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{require_root, Netns, Population, Tmux};

/// A `[` followed by digits that do not run on to a `]`: a pid cut into another number.
fn cut_pid(screen: &str) -> Option<String> {
    let mut rest = screen;
    while let Some(i) = rest.find('[') {
        let after = &rest[i + 1..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && !after[digits.len()..].starts_with(']') {
            return Some(after.chars().take(12).collect());
        }
        rest = after;
    }
    None
}

#[test]
fn issue20_dashboard_on_a_real_leak_at_80x24() {
    if !require_root(
        "issue20_dashboard_on_a_real_leak_at_80x24",
        "it creates a network namespace",
    ) {
        return;
    }
    if !common::require_tmux() {
        return;
    }
    let ns = Netns::new("i20");
    let leak = Population::spawn(
        ns.some(),
        &["closewait", "--count", "300", "--client-mode", "shutdown"],
    );
    let tag = format!("[{}]", leak.pid());
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let bin = assert_cmd::cargo::cargo_bin("sockscope");
    let cmd = format!(
        "{} --netns {} --interval 500ms; echo \"exit=$?\" > {}; clear",
        bin.display(),
        ns.name,
        status.display()
    );
    let tmux = Tmux::start("i20", 80, 24, &cmd);

    // The alert row: the pid whole (the name gives way), never `sscpop-cw[10`.
    let (ok, screen) = tmux.wait_for(Duration::from_secs(10), |s| {
        s.contains("FIRING") && s.contains("CLOSE_WAIT leak")
    });
    assert!(ok, "no firing leak within 10 s:\n{screen}");
    let row = screen
        .lines()
        .find(|l| l.contains("FIRING"))
        .unwrap()
        .to_string();
    assert!(
        row.contains(&tag),
        "alert row without {tag}: {row}\n{screen}"
    );
    assert_eq!(cut_pid(&screen), None, "a cut pid:\n{screen}");
    println!("--- overview ---\n{screen}");

    // The Sockets view's PROCESS column.
    tmux.keys(&["5"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        s.contains("sockets (") && s.contains(&tag)
    });
    assert!(ok, "Sockets view without {tag}:\n{screen}");
    assert_eq!(cut_pid(&screen), None, "a cut pid:\n{screen}");

    // The `e` popup on the leak scrolls down to its remedy with j and PgDn.
    tmux.keys(&["1", "e"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        s.contains("close_wait_leak — Esc closes") && s.contains("↓ more")
    });
    assert!(ok, "no scrollable explain popup:\n{screen}");
    assert!(
        !screen.contains("Remedy:"),
        "the remedy already shows:\n{screen}"
    );
    tmux.keys(&["j", "j", "PageDown", "PageDown"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| s.contains("Remedy:"));
    assert!(ok, "j/PgDn did not scroll to the remedy:\n{screen}");
    println!("--- explain, scrolled ---\n{screen}");
    tmux.keys(&["Escape"]);
    // Wait for the popup to close, or the next key reads as Alt-4.
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| !s.contains("Esc closes"));
    assert!(ok, "Esc did not close the popup:\n{screen}");

    // The peer's address (127.0.0.1) opens on the leak, not the FIN_WAIT2 text.
    tmux.keys(&["4"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| s.contains("remotes ("));
    assert!(ok, "no Remotes view:\n{screen}");
    tmux.keys(&["Enter"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        s.contains("remote 127.0.0.1") && s.contains("FIRING") && s.contains("holds 300 CLOSE_WAIT")
    });
    assert!(ok, "the peer's remote does not open on the leak:\n{screen}");
    assert!(!screen.contains("This side closed first"), "{screen}");
    println!("--- remote ---\n{screen}");

    // One key sorts Processes by CLOSE_WAIT.
    tmux.keys(&["2", "b"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| s.contains("sort CLOSE_WAIT"));
    assert!(ok, "b did not sort by CLOSE_WAIT:\n{screen}");

    tmux.keys(&["q"]);
    tmux.assert_exited(&status, 0, "q");
}
