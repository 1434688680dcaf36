//! `--format csv` through the real binary (issue 18, "Also"): in a namespace of its own, a
//! holder with a hostile comm (a comma, a quote, an escape sequence) owns TCP (a listener
//! and a CLOSE_WAIT), UDP and a UNIX listener at a hostile path. One snapshot is saved, and
//! every `summary --by` form and `sockets`, as CSV and as JSON from that same file, must
//! agree on the counts; the CSV parses back with the csv crate, the names come out as their
//! escaped text (no control byte anywhere), and `| head -1` on a long list exits 0.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use common::{
    python, require_root, run_bounded, sockscope_path, start_generator, stop_generator, Netns,
};

/// Names itself from hex argv[1], opens a listener, a CLOSE_WAIT (peer closed), argv[2] UDP
/// sockets and a UNIX listener at hex argv[3]; prints the ready line, holds until stdin EOF.
const HOLDER: &str = r#"
import binascii, json, os, socket, struct, sys, time
open('/proc/self/comm', 'wb').write(binascii.unhexlify(sys.argv[1]))
keep = []
lst = socket.socket()
lst.bind(('127.0.0.1', 0))
lst.listen(8)
c = socket.create_connection(lst.getsockname())
a, _ = lst.accept()
a.close()
keep += [lst, c]
for _ in range(int(sys.argv[2])):
    u = socket.socket(type=socket.SOCK_DGRAM)
    u.bind(('127.0.0.1', 0))
    keep.append(u)
path = binascii.unhexlify(sys.argv[3])
x = socket.socket(socket.AF_UNIX)
x.bind(path)
x.listen(4)
keep.append(x)
deadline = time.time() + 10
while struct.unpack('B', c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[:1])[0] != 8:
    if time.time() > deadline:
        sys.exit('no CLOSE_WAIT')
    time.sleep(0.01)
print(json.dumps({'ready': True, 'pid': os.getpid()}), flush=True)
sys.stdin.read()
"#;

/// Comma, quote, ESC and BEL: 14 bytes, under the comm's 15.
const COMM: &[u8] = b"ev,il\"\x1b[7mX\x07";
const COMM_ESCAPED: &str = r#"ev,il"\e[7mX\a"#;

struct Holder {
    child: Option<std::process::Child>,
    pid: u32,
    path: std::path::PathBuf,
}

impl Drop for Holder {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            stop_generator(c);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn spawn(ns: &Netns, udp: u32, path: &[u8]) -> Holder {
    let py = python();
    let mut cmd = ns.cmd(
        &py,
        &["-c", HOLDER, &hex(COMM), &udp.to_string(), &hex(path)],
    );
    let (child, rx, desc) = start_generator(&mut cmd);
    let mut h = Holder {
        child: Some(child),
        pid: 0,
        path: std::path::PathBuf::from(std::ffi::OsStr::from_bytes(path)),
    };
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
    let v: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
    assert_eq!(v["ready"], true, "holder {desc} not ready: {line:?}");
    h.pid = u32::try_from(v["pid"].as_u64().unwrap()).unwrap();
    h
}

fn run(args: &[&str]) -> Output {
    run_bounded(
        Command::new(sockscope_path()).args(args),
        Duration::from_secs(60),
    )
}

/// stdout of a run that must succeed and print no control byte but newlines.
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "sockscope {args:?}: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout).expect("utf-8 output");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "control byte in {args:?}:\n{text:?}"
    );
    text
}

/// The records of a CSV text, as maps of header → field; every record as wide as the
/// header.
fn records(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), head.len(), "{rec:?}");
            head.iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn sum_by(recs: &[BTreeMap<String, String>], key: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for r in recs {
        *m.entry(r[key].clone()).or_default() += r["count"].parse::<u64>().unwrap();
    }
    m
}

fn json_totals(v: &Value) -> BTreeMap<String, u64> {
    v["totals"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect()
}

#[test]
fn csv_counts_equal_json_of_the_same_snapshot_and_names_stay_escaped() {
    if !require_root(
        "csv_counts_equal_json_of_the_same_snapshot_and_names_stay_escaped",
        "it creates a network namespace",
    ) {
        return;
    }
    let ns = Netns::new("w4csv");
    let path = format!("/tmp/w4csv-{}-a,b\"\x1b[2J.sock", std::process::id());
    let h = spawn(&ns, 3, path.as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap.json");
    let snap = snap.to_str().unwrap();
    ok(&[
        "--netns",
        &ns.name,
        "-tux",
        "--save-snapshot",
        snap,
        "summary",
        "--format",
        "json",
    ]);
    let from = |args: &[&str]| -> String {
        let mut a = vec!["--from-snapshot", snap, "-tux"];
        a.extend_from_slice(args);
        ok(&a)
    };
    let json = |args: &[&str]| -> Value { serde_json::from_str(&from(args)).unwrap() };
    let totals = json_totals(&json(&["summary", "--format", "json"]));
    assert_eq!(totals["tcp"], 3, "{totals:?}");
    assert_eq!(totals["udp"], 3, "{totals:?}");
    assert!(totals["unix"] >= 1, "{totals:?}");

    // Every grouping adds up to the JSON totals, per protocol.
    for by in ["state", "process", "unit", "container"] {
        let recs = records(&from(&["summary", "--by", by, "--format", "csv"]));
        assert_eq!(sum_by(&recs, "protocol"), totals, "--by {by}: {recs:?}");
    }
    // TCP alone for the groupings that are TCP's.
    let tcp_from = |args: &[&str]| -> String {
        let mut a = vec!["--from-snapshot", snap];
        a.extend_from_slice(args);
        ok(&a)
    };
    let tcp_json: Value =
        serde_json::from_str(&tcp_from(&["summary", "--format", "json"])).unwrap();
    let recs = records(&tcp_from(&["summary", "--by", "remote", "--format", "csv"]));
    let remotes: u64 = tcp_json["remotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["total"].as_u64().unwrap())
        .sum();
    // The peers of the two connected sockets (a listener has none).
    assert_eq!(remotes, 2);
    assert_eq!(sum_by(&recs, "protocol")["tcp"], remotes);
    let states = sum_by(
        &records(&tcp_from(&["summary", "--format", "csv"])),
        "state",
    );
    for (s, n) in tcp_json["states"].as_object().unwrap() {
        let n = n.as_u64().unwrap();
        assert_eq!(
            states.get(s).copied().unwrap_or(0),
            n,
            "state {s}: {states:?}"
        );
    }
    let listeners = records(&tcp_from(&[
        "summary", "--by", "listener", "--format", "csv",
    ]));
    assert_eq!(
        listeners.len(),
        tcp_json["listeners"].as_array().unwrap().len()
    );
    assert_eq!(listeners[0]["comm"], COMM_ESCAPED, "{listeners:?}");

    // Per process: the holder's row carries its escaped comm and all its sockets.
    let recs = records(&from(&["summary", "--by", "process", "--format", "csv"]));
    let pid = h.pid.to_string();
    let mine: Vec<_> = recs.iter().filter(|r| r["pid"] == pid).collect();
    assert!(mine.iter().all(|r| r["comm"] == COMM_ESCAPED), "{mine:?}");
    let n: u64 = mine
        .iter()
        .map(|r| r["count"].parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        n,
        2 + 3 + 1,
        "listener, CLOSE_WAIT, 3 UDP, 1 UNIX: {mine:?}"
    );
    assert!(mine
        .iter()
        .any(|r| r["protocol"] == "tcp" && r["state"] == "CLOSE_WAIT" && r["count"] == "1"));

    // sockets: one record per socket, as many per protocol as the JSON lists.
    let sj = json(&["sockets", "--format", "json"]);
    let recs = records(&from(&["sockets", "--format", "csv"]));
    for (p, key) in [("tcp", "sockets"), ("udp", "udp"), ("unix", "unix")] {
        let n = recs.iter().filter(|r| r["protocol"] == p).count();
        assert_eq!(n, sj[key].as_array().unwrap().len(), "{p}");
    }
    let unix: Vec<_> = recs
        .iter()
        .filter(|r| r["protocol"] == "unix" && r["pid"] == pid)
        .collect();
    let escaped_path = path.replace('\x1b', r"\e");
    assert_eq!(unix.len(), 1, "{recs:?}");
    assert_eq!(unix[0]["local"], escaped_path);
    assert_eq!(unix[0]["state"], "LISTEN");
    assert_eq!(unix[0]["comm"], COMM_ESCAPED);
    let cw: Vec<_> = recs.iter().filter(|r| r["state"] == "CLOSE_WAIT").collect();
    assert_eq!(cw.len(), 1);
    assert_eq!(cw[0]["owner"], "process");
    assert_eq!(cw[0]["pid"], pid);
    // The raw text quotes the fields holding a comma or a quote (RFC 4180).
    let raw = from(&["sockets", "--format", "csv"]);
    assert!(raw.contains(r#","ev,il""\e[7mX\a","#), "{raw}");
}

#[test]
fn a_csv_list_piped_into_head_exits_zero() {
    if !require_root(
        "a_csv_list_piped_into_head_exits_zero",
        "it creates a network namespace",
    ) {
        return;
    }
    let ns = Netns::new("w4csvh");
    let path = format!("/tmp/w4csvh-{}.sock", std::process::id());
    // About 100 bytes a record: 2,000 sockets are well past a 64 KiB pipe buffer.
    let _h = spawn(&ns, 2000, path.as_bytes());
    let script = format!(
        "set -o pipefail; '{}' --netns '{}' -u sockets --format csv | head -n 1",
        sockscope_path().display(),
        ns.name
    );
    let o = run_bounded(
        Command::new("bash").args(["-c", &script]),
        Duration::from_secs(60),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("protocol,netid,state,"));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A comm set with `prctl` to a formula, and an abstract UNIX name (always `@…`), reach
/// the CSV with a leading `'` (OWASP's advice against CSV injection); counts stay numbers.
#[test]
fn formula_looking_names_are_defused_in_csv() {
    if !require_root(
        "formula_looking_names_are_defused_in_csv",
        "it creates a network namespace",
    ) {
        return;
    }
    let ns = Netns::new("w8csvf");
    let comm = b"=HYPERLINK(1)";
    let abstract_name = format!("\0w8csvf-{}", std::process::id());
    let py = python();
    let mut cmd = ns.cmd(
        &py,
        &[
            "-c",
            HOLDER,
            &hex(comm),
            "0",
            &hex(abstract_name.as_bytes()),
        ],
    );
    let (child, rx, desc) = start_generator(&mut cmd);
    let h = Holder {
        child: Some(child),
        pid: 0,
        path: std::path::PathBuf::from("/nonexistent-w8csvf"),
    };
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
    let v: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
    assert_eq!(v["ready"], true, "holder {desc} not ready: {line:?}");
    let pid = v["pid"].as_u64().unwrap().to_string();

    let recs = records(&ok(&[
        "--netns", &ns.name, "-tx", "sockets", "--format", "csv",
    ]));
    let mine: Vec<_> = recs.iter().filter(|r| r["pid"] == pid).collect();
    assert!(mine.len() >= 3, "listener, CLOSE_WAIT, UNIX: {recs:?}");
    assert!(
        mine.iter().all(|r| r["comm"] == "'=HYPERLINK(1)"),
        "{mine:?}"
    );
    let unix: Vec<_> = mine.iter().filter(|r| r["protocol"] == "unix").collect();
    assert_eq!(unix.len(), 1, "{mine:?}");
    assert_eq!(unix[0]["local"], format!("'@w8csvf-{}", std::process::id()));
    let recs = records(&ok(&[
        "--netns", &ns.name, "-tx", "summary", "--by", "process", "--format", "csv",
    ]));
    let row: Vec<_> = recs.iter().filter(|r| r["pid"] == pid).collect();
    assert!(!row.is_empty() && row.iter().all(|r| r["comm"] == "'=HYPERLINK(1)"));
    assert!(
        row.iter().all(|r| r["count"].parse::<u64>().is_ok()),
        "{row:?}"
    );
    drop(h);
}
