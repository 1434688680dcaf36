//! The dashboard's `o` grouping on the real kernel, in tmux (issue 18): the test makes a
//! `sscunit-<pid>.service` cgroup and a `docker-<64 hex>.scope` cgroup under the writable
//! systemd hierarchy, and in a namespace of its own a holder moved into each *before* it
//! opens its sockets (3 listeners and 2 listeners). `o` shows the units with those counts
//! (equal to `summary --by unit`), `o` again the container, Enter on it lists exactly its
//! sockets, and a third `o` is back to processes; `q` exits 0. Holders are moved back to the
//! root cgroup, killed and the cgroups removed on drop.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    python, require_root, require_tmux, sockscope_json, sockscope_path, Cgroups, Netns, Tmux,
};

/// Waits for `go`, then opens argv[1] TCP listeners on loopback, says `ready`, holds them
/// until stdin closes.
const HOLDER: &str = r#"
import socket, sys
assert sys.stdin.readline().strip() == 'go'
k = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); k.append(s)
print('ready', flush=True)
sys.stdin.read()
"#;

/// A holder of `tcp` listeners in `ns`, made inside `dir`.
fn holder(g: &mut Cgroups, ns: &Netns, dir: &Path, tcp: u32) -> u32 {
    g.start_in(
        dir,
        &mut ns.cmd(&python(), &["-c", HOLDER, &tcp.to_string()]),
        "ready",
    )
}

/// The row of the table on `screen` that starts with `label`, as its whitespace-split cells.
fn row<'a>(screen: &'a str, label: &str) -> Option<Vec<&'a str>> {
    screen.lines().find_map(|l| {
        let cells: Vec<&str> = l.trim().trim_matches('│').split_whitespace().collect();
        cells
            .iter()
            .position(|c| c.starts_with(label))
            .map(|_| cells)
    })
}

#[test]
fn o_groups_the_processes_view_by_unit_and_container_on_the_real_kernel() {
    if !require_root(
        "o_groups_the_processes_view_by_unit_and_container_on_the_real_kernel",
        "it creates cgroups and a network namespace",
    ) {
        return;
    }
    if !require_tmux() {
        return;
    }
    let me = std::process::id();
    let id: String = (0..4)
        .map(|i| format!("{:016x}", u64::from(me) * 15_485_863 + i))
        .collect();
    let unit = format!("sscunit-{me}.service");
    let scope = format!("docker-{id}.scope");
    let mut g = Cgroups::new();
    let ns = Netns::new("w4tu");
    let (d_unit, d_scope) = (
        g.make(&format!("system.slice/{unit}")),
        g.make(&format!("system.slice/{scope}")),
    );
    let svc_pid = holder(&mut g, &ns, &d_unit, 3);
    let ctr_pid = holder(&mut g, &ns, &d_scope, 2);

    // The truth as `summary --by unit` has it.
    let truth = sockscope_json(Some(&ns.name), &["summary", "--by", "unit"]);
    let rows = truth["rows"].as_array().unwrap();
    let svc = rows
        .iter()
        .find(|r| r["unit"]["name"] == unit.as_str())
        .unwrap();
    assert_eq!(svc["sockets"], 3, "{truth:#}");

    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let cmd = format!(
        "{} --netns {} --interval 300ms; echo \"exit=$?\" > {}; clear",
        sockscope_path().display(),
        ns.name,
        status.display()
    );
    let tmux = Tmux::start("w4tu", 160, 40, &cmd);
    let (seen, screen) = tmux.wait_for(Duration::from_secs(10), |s| s.contains("Overview"));
    assert!(seen, "dashboard did not start:\n{screen}");

    tmux.keys(&["o"]);
    let (seen, screen) = tmux.wait_for(Duration::from_secs(5), |s| {
        s.contains(" units (2) · ") && s.contains(&unit)
    });
    assert!(seen, "o did not group by unit:\n{screen}");
    let cells = row(&screen, &unit).unwrap();
    // UNIT TOTAL LISTEN … PIDS: the total right after the label, the pid last.
    let at = cells.iter().position(|c| *c == unit).unwrap();
    assert_eq!(cells[at + 1], "3", "{screen}");
    assert!(cells.contains(&svc_pid.to_string().as_str()), "{screen}");
    let scope_cells = row(&screen, "docker-").unwrap();
    let at = scope_cells
        .iter()
        .position(|c| c.starts_with("docker-"))
        .unwrap();
    assert_eq!(scope_cells[at + 1], "2", "{screen}");

    tmux.keys(&["o"]);
    let short = &id[..12];
    let (seen, screen) = tmux.wait_for(Duration::from_secs(5), |s| {
        s.contains(" containers (1) · ") && s.contains(&format!("docker:{short}"))
    });
    assert!(seen, "second o did not group by container:\n{screen}");
    let cells = row(&screen, "docker:").unwrap();
    assert!(cells.contains(&ctr_pid.to_string().as_str()), "{screen}");

    // The container row is the biggest group, first: Enter lists its two sockets.
    tmux.keys(&["Home", "Enter"]);
    let want = format!("sockets (2 of 5) · filter `container:{id}`");
    let (seen, screen) = tmux.wait_for(Duration::from_secs(5), |s| s.contains(&want));
    assert!(
        seen,
        "Enter did not list the container's sockets ({want}):\n{screen}"
    );

    tmux.keys(&["Escape", "2", "o"]);
    let (seen, screen) = tmux.wait_for(Duration::from_secs(5), |s| s.contains(" processes ("));
    assert!(seen, "third o did not come back to processes:\n{screen}");

    tmux.keys(&["q"]);
    tmux.assert_exited(&status, 0, "q after grouping");
}
