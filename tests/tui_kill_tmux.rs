//! `K` in the real dashboard (root, tmux, a private namespace, loopback only): a CLOSE_WAIT
//! leak of 30 sockets (`pop.py closewait`) next to 20 healthy ESTABLISHED pairs; the
//! Processes row of the leaking process under `/state:close-wait` plans exactly the 30, `n`
//! cancels with nothing touched, `y` kills them on the collector thread and the footer
//! says so; `ss` then finds no CLOSE_WAIT, the listeners and the 40 healthy sockets
//! untouched; when the leaking process exits, the churn panel counts its sockets' destroy
//! events.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;

fn count(ns: &Netns, state: &str) -> u64 {
    ss_counts(ns.some(), "").get(state).copied().unwrap_or(0)
}

/// Every socket but the leak's CLOSE_WAIT and its clients' halves, as `ss` lists them.
fn untouched(ns: &Netns) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = ss_rows(ns.some(), "")
        .into_iter()
        .filter(|r| matches!(r.state.as_str(), "ESTABLISHED" | "LISTEN"))
        .map(|r| (r.state, r.local, r.peer))
        .collect();
    v.sort();
    v
}

#[test]
fn k_kills_a_close_wait_leak_from_the_dashboard_and_nothing_else() {
    if !require_root(
        "k_kills_a_close_wait_leak_from_the_dashboard_and_nothing_else",
        "it creates a namespace and destroys sockets",
    ) {
        return;
    }
    if !require_tmux() {
        return;
    }
    let ns = Netns::new("tkill");
    let leak = Population::spawn(ns.some(), &["closewait", "--count", "30"]);
    let _pairs = Population::spawn(ns.some(), &["established", "--count", "20"]);
    wait_for(
        "30 CLOSE_WAIT and 40 ESTABLISHED",
        Duration::from_secs(10),
        || (count(&ns, "CLOSE_WAIT") == 30 && count(&ns, "ESTABLISHED") == 40).then_some(()),
    );
    let before = untouched(&ns);
    assert_eq!(before.len(), 40 + 2, "pairs and two listeners: {before:?}");

    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let cmd = format!(
        "cd / && ip netns exec {} {} --interval 3s; echo \"exit=$?\" > {}; clear",
        ns.name,
        sockscope_path().display(),
        status.display()
    );
    let tmux = Tmux::start("tkill", 160, 50, &cmd);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(10), |s| s.contains("sockets  "));
    assert!(ok, "no first tick:\n{screen}");

    tmux.keys(&["/"]);
    tmux.keys(&["-l", "state:close-wait"]);
    tmux.keys(&["Enter", "2"]);
    let comm = leak.comm();
    let (ok, screen) = tmux.wait_for(Duration::from_secs(5), |s| {
        s.contains("30 of ") && s.contains(&comm)
    });
    assert!(ok, "the leak's row under the filter:\n{screen}");

    // K shows exactly the 30; any other key cancels and touches nothing.
    tmux.keys(&["K"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(5), |s| {
        s.contains("K: kill 30 sockets?") && s.contains("per state: tcp CLOSE_WAIT 30")
    });
    assert!(ok, "the confirmation:\n{screen}");
    assert!(
        screen.contains(&format!("per process: {comm}[{}] 30", leak.pid())),
        "{screen}"
    );
    tmux.keys(&["n"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(5), |s| {
        s.contains("K: cancelled; nothing was touched")
    });
    assert!(ok, "n cancels:\n{screen}");
    assert_eq!(count(&ns, "CLOSE_WAIT"), 30);

    // y kills them; the footer has the result of the collector thread's kill.
    tmux.keys(&["K"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(5), |s| s.contains("K: kill 30"));
    assert!(ok, "the confirmation again:\n{screen}");
    tmux.keys(&["y"]);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(10), |s| {
        s.contains("K: killed 30 of 30 · already gone 0 · remaining 0")
    });
    assert!(ok, "the result in the footer:\n{screen}");
    assert_eq!(count(&ns, "CLOSE_WAIT"), 0, "ss still lists CLOSE_WAIT");
    // The RST took the clients' FIN_WAIT2 halves too; the rest is untouched.
    assert_eq!(count(&ns, "FIN_WAIT2"), 0);
    assert_eq!(untouched(&ns), before, "the healthy sockets and listeners");

    // A killed socket whose owner still holds its fd is freed, and announced, when the
    // owner closes it (and the clients' halves were TIME_WAIT entries, which announce
    // nothing): end the leaking process and the churn panel under Remotes counts its
    // sockets' destroy events, owned by it (the polls before the kill knew them).
    tmux.keys(&["4"]);
    drop(leak);
    let (ok, screen) = tmux.wait_for(Duration::from_secs(10), |s| {
        let tcp = s
            .split("closes (tcp ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .and_then(|n| n.replace(',', "").parse::<u64>().ok());
        s.contains("churn from destroy events, last")
            && tcp.is_some_and(|n| n >= 30)
            && s.split("closes/s by process")
                .nth(1)
                .is_some_and(|t| t.contains(&comm))
    });
    assert!(
        ok,
        "the churn panel did not count the leak's closes:\n{screen}"
    );
    println!("--- churn ---\n{screen}");

    tmux.keys(&["q"]);
    tmux.assert_exited(&status, 0, "q after a kill");
}
