//! The protocol switch in a real terminal: tmux runs `sockscope -ux` (the binary), the
//! header shows UDP first, `p` switches it to UNIX, and the UNIX Sockets view, filtered to
//! a temporary directory with `/path:DIR/*`, lists the stream listener this test binds
//! there (its pending/backlog `0 … 128` as ss -xl prints them). Needs the UDP/UNIX
//! collection of issue 13 (collect/) to list the listener; `q` then exits 0.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::net::UnixListener;
use std::time::Duration;

use common::Tmux;

#[test]
fn ux_starts_on_udp_and_p_shows_the_unix_listener_we_bound() {
    if !common::require_tmux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("sockscope-tui.sock");
    let _listener = UnixListener::bind(&sock_path).unwrap();
    let status = dir.path().join("status");
    let bin = assert_cmd::cargo::cargo_bin("sockscope");
    let cmd = format!(
        "{} -ux --interval 500ms; echo \"exit=$?\" > {}; clear",
        bin.display(),
        status.display()
    );
    let tmux = Tmux::start("proto", 120, 40, &cmd);

    // -u before -x: UDP is shown first, and the header says so.
    let (ok, screen) = tmux.wait_for(Duration::from_secs(5), |s| {
        let head = s.lines().next().unwrap_or("");
        head.contains(" UDP ") && s.contains("udp states")
    });
    assert!(ok, "`sockscope -ux` does not start on UDP:\n{screen}");
    println!("--- udp ---\n{screen}");

    tmux.keys(&["p"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        let head = s.lines().next().unwrap_or("");
        head.contains(" UNIX ") && s.contains("unix states")
    });
    assert!(ok, "`p` does not switch the header to UNIX:\n{screen}");
    println!("--- unix ---\n{screen}");

    // The listener we bound, found by its directory: type, state, queues and path.
    let filter = format!("path:{}/*", dir.path().display());
    tmux.keys(&["/"]);
    tmux.keys(&[&filter]);
    tmux.keys(&["Enter"]);
    // Its backlog as ss reports it (std's listen() asks for more than somaxconn, so the
    // kernel's cap is what shows).
    let ss = std::process::Command::new("ss")
        .args(["-xlH"])
        .output()
        .expect("ss");
    let ss = String::from_utf8_lossy(&ss.stdout).into_owned();
    let backlog = ss
        .lines()
        .find(|l| l.contains("sockscope-tui.sock"))
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap_or_else(|| panic!("ss -xl does not list our listener:\n{ss}"))
        .to_string();
    let (ok, screen) = tmux.wait_for(Duration::from_secs(5), |s| {
        s.lines().any(|l| {
            l.contains("sockscope-tui.sock")
                && l.contains("u_str")
                && l.contains("LISTEN")
                && l.split_whitespace().any(|w| w == backlog)
        })
    });
    assert!(
        ok,
        "the UNIX Sockets view does not list the listener at {} (needs UNIX collection):\n{screen}",
        sock_path.display()
    );
    println!("--- unix sockets ---\n{screen}");

    tmux.keys(&["q"]);
    tmux.assert_exited(&status, 0, "q");
}
