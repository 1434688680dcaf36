//! The Overview in a real terminal at 80×24, 120×40 and 200×60: tmux runs `sockscope` next
//! to a CLOSE_WAIT leak, and the captured screen must hold the trend charts with their time
//! axis, every alert, no mostly empty panel, and (from 120 columns) the firing alert's
//! message in full; `w` switches the charts to the last minute, and `q` exits 0.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::screen::{boxes, mostly_empty};
use common::{require_root, Netns, Population, Tmux};

#[test]
fn overview_fits_each_terminal_size() {
    if !require_root(
        "overview_fits_each_terminal_size",
        "it creates a network namespace",
    ) {
        return;
    }
    if !common::require_tmux() {
        return;
    }
    let ns = Netns::new("sizes");
    let leak = Population::spawn(
        ns.some(),
        &["closewait", "--count", "250", "--client-mode", "shutdown"],
    );
    let pid = leak.pid().to_string();
    let bin = assert_cmd::cargo::cargo_bin("sockscope");
    for (w, h) in [(80u16, 24u16), (120, 40), (200, 60)] {
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("status");
        let cmd = format!(
            "{} --netns {} --interval 500ms; echo \"exit=$?\" > {}; clear",
            bin.display(),
            ns.name,
            status.display()
        );
        let tmux = Tmux::start(&format!("size{w}"), w, h, &cmd);
        let (ok, screen) = tmux.wait_for(Duration::from_secs(15), |s| {
            s.contains("FIRING") && s.contains("now") && s.contains("-10m")
        });
        assert!(
            ok,
            "{w}x{h}: no firing alert and chart axis within 15 s:\n{screen}"
        );
        let rows: Vec<String> = screen.lines().map(str::to_string).collect();
        let found = boxes(&rows);
        assert!(found.len() >= 4, "{w}x{h}: panels {found:?}\n{screen}");
        let empty = mostly_empty(&found);
        assert!(empty.is_empty(), "{w}x{h}: {empty:?}\n{screen}");
        if w >= 120 {
            let full = format!("▸ pid {pid} (sscpop-cw) holds 250 CLOSE_WAIT");
            assert!(
                screen.contains(&full),
                "{w}x{h}: no full alert line {full:?}\n{screen}"
            );
        }
        println!("--- {w}x{h} ---\n{screen}");
        // The window cycles 10m → 1h → 1m.
        tmux.keys(&["w", "w"]);
        let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
            s.contains("trends, last 1m") && s.contains("-30s")
        });
        assert!(ok, "{w}x{h}: `w w` did not show the 1m window:\n{screen}");
        tmux.keys(&["q"]);
        tmux.assert_exited(&status, 0, "q");
    }
}
