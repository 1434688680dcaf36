//! `summary --by unit` and `--by container` against the truth (issue 18): the test makes a
//! `sscdemo-<pid>.service` cgroup and a `docker-<64 hex>.scope` cgroup under the writable
//! systemd hierarchy (v1 `name=systemd` on this hybrid host, else the v2 root), moves a
//! child holding a known number of TCP and UDP sockets into each, and checks the rows equal
//! those numbers and pids; `--unit` and `--container` keep exactly those sockets. The
//! children are moved back to the root's `cgroup.procs`, killed and the cgroups removed on
//! every exit, failure included (a guard's `Drop`).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use common::*;

/// A child holding `tcp` TCP listeners and `udp` UDP sockets on loopback until its stdin
/// closes.
fn holder(tcp: u32, udp: u32) -> Child {
    let script = format!(
        "import socket,sys\n\
         k=[]\n\
         for _ in range({tcp}):\n s=socket.socket();s.bind(('127.0.0.1',0));s.listen();k.append(s)\n\
         for _ in range({udp}):\n s=socket.socket(type=socket.SOCK_DGRAM);s.bind(('127.0.0.1',0));k.append(s)\n\
         print('ready',flush=True)\n\
         sys.stdin.read()\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

fn rows(v: &Value) -> &Vec<Value> {
    v["rows"].as_array().expect("rows")
}

fn row(v: &Value, pred: impl Fn(&Value) -> bool) -> &Value {
    rows(v)
        .iter()
        .find(|r| pred(r))
        .unwrap_or_else(|| panic!("no such row in {v:#}"))
}

fn pids(r: &Value) -> Vec<u64> {
    r["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect()
}

#[test]
fn by_unit_and_by_container_equal_the_truth() {
    if !require_root(
        "by_unit_and_by_container_equal_the_truth",
        "it creates cgroups and moves processes into them",
    ) {
        return;
    }
    let me = std::process::id();
    let id: String = (0..4)
        .map(|i| format!("{:016x}", u64::from(me) * 7919 + i))
        .collect();
    assert_eq!(id.len(), 64);
    let unit = format!("sscdemo-{me}.service");
    let scope = format!("docker-{id}.scope");

    let mut g = Cgroups::new();
    let svc_dir = g.make(&format!("system.slice/{unit}"));
    let ctr_dir = g.make(&format!("system.slice/{scope}"));
    g.children.push(holder(3, 2));
    g.children.push(holder(2, 1));
    let (svc_pid, ctr_pid) = (g.children[0].id(), g.children[1].id());
    g.move_into(&svc_dir, svc_pid);
    g.move_into(&ctr_dir, ctr_pid);

    let by_unit = sockscope_json(None, &["summary", "--by", "unit", "-t", "-u"]);
    let svc = row(&by_unit, |r| r["unit"]["name"] == unit.as_str());
    assert_eq!(pids(svc), [u64::from(svc_pid)], "{svc:#}");
    assert_eq!(svc["sockets"], 5, "{svc:#}");
    assert_eq!(svc["tcp"]["LISTEN"], 3, "{svc:#}");
    assert_eq!(svc["udp"], 2, "{svc:#}");
    let ctr_unit = row(&by_unit, |r| r["unit"]["name"] == scope.as_str());
    assert_eq!(pids(ctr_unit), [u64::from(ctr_pid)]);
    assert_eq!(ctr_unit["sockets"], 3);

    let by_ctr = sockscope_json(None, &["summary", "--by", "container", "-t", "-u"]);
    let ctr = row(&by_ctr, |r| r["container"]["id"] == id.as_str());
    assert_eq!(ctr["container"]["runtime"], "docker");
    assert_eq!(pids(ctr), [u64::from(ctr_pid)], "{ctr:#}");
    assert_eq!(
        (ctr["tcp"]["LISTEN"].clone(), ctr["udp"].clone()),
        (2.into(), 1.into())
    );
    // The service's process is in no container.
    let none = row(&by_ctr, |r| r["kind"] == "none");
    assert!(pids(none).contains(&u64::from(svc_pid)), "{none:#}");

    // The filters keep exactly those sockets.
    let glob = format!("sscdemo-{me}");
    let only = sockscope_json(
        None,
        &["summary", "--by", "unit", "-t", "-u", "--unit", &glob],
    );
    assert_eq!(rows(&only).len(), 1, "{only:#}");
    assert_eq!(rows(&only)[0]["sockets"], 5);
    let short = &id[..12];
    let only = sockscope_json(
        None,
        &[
            "summary",
            "--by",
            "container",
            "-t",
            "-u",
            "--container",
            short,
        ],
    );
    assert_eq!(rows(&only).len(), 1, "{only:#}");
    assert_eq!(rows(&only)[0]["sockets"], 3);

    // The text face names the unit with its pid.
    let text = sockscope_ok(None, &["summary", "--by", "unit", "-t", "-u"]);
    let line = text
        .lines()
        .find(|l| l.starts_with(&unit))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(line, format!("{unit}\t5\t3\t2\t{svc_pid}"));

    // The socket list: the filter keeps the service's three listeners, each naming it.
    let list = sockscope_ok(None, &["sockets", "--groups", "--unit", &glob]);
    let body: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(body.len(), 3, "{list}");
    assert!(
        body.iter().all(|l| l.contains(&unit) && l.contains(" - ")),
        "{list}"
    );
    let list = sockscope_ok(None, &["sockets", "--groups", "--container", short]);
    let body: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(body.len(), 2, "{list}");
    assert!(
        body.iter().all(|l| l.contains(&format!("docker:{short}"))),
        "{list}"
    );

    for c in &mut g.children {
        let _ = c.stdin.take().map(|mut s| s.flush());
    }
}

/// A listener whose accept queue overflows, owned by a process in a `.service` cgroup:
/// `check`'s JSON finding names the unit in its subject, and its text line beside the pid.
#[test]
fn an_overflowing_listener_finding_names_its_unit() {
    if !require_root(
        "an_overflowing_listener_finding_names_its_unit",
        "it creates a cgroup and moves a process into it",
    ) {
        return;
    }
    let me = std::process::id();
    let unit = format!("sscaq-{me}.service");
    let mut g = Cgroups::new();
    let dir = g.make(&format!("system.slice/{unit}"));
    // Backlog 1, never accepts: the queue holds backlog + 1 = 2 and the other connects
    // stay in SYN_SENT, retrying into ListenOverflows.
    let script = "import socket,sys\n\
         l=socket.socket();l.bind(('127.0.0.1',0));l.listen(1)\n\
         k=[]\n\
         for _ in range(4):\n c=socket.socket();c.setblocking(False);c.connect_ex(l.getsockname());k.append(c)\n\
         print(l.getsockname()[1],flush=True)\n\
         sys.stdin.read()\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid = child.id();
    g.children.push(child);
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("port: {line:?}"));
    g.move_into(&dir, pid);

    let pid_s = pid.to_string();
    let local = format!("127.0.0.1:{port}");
    let found = wait_for(
        "the overflow finding",
        std::time::Duration::from_secs(20),
        || {
            let o = run_sockscope(
                None,
                &["check", "-t", "--process", &pid_s, "--format", "json"],
            );
            let v: Value = serde_json::from_slice(&o.stdout).ok()?;
            v["findings"]
                .as_array()?
                .iter()
                .find(|f| {
                    f["rule"] == "accept_queue_overflow"
                        && f["subject"]["local"]["port"] == u64::from(port)
                })
                .cloned()
        },
    );
    let subject = &found["subject"];
    assert_eq!(subject["kind"], "listener", "{found:#}");
    assert_eq!(subject["pid"], u64::from(pid), "{found:#}");
    assert_eq!(subject["unit"]["name"], unit.as_str(), "{found:#}");
    assert!(subject.get("container").is_none(), "{found:#}");

    let o = run_sockscope(None, &["check", "-t", "--process", &pid_s]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines().any(|l| l.contains("accept_queue_overflow")
            && l.contains(&format!("{local}: accept queue"))
            && l.contains(&format!("pid {pid} (python3) in {unit}"))),
        "want the listener and its owner in {unit}:\n{text}"
    );
}
