//! Hostile names (issue 19): processes an unprivileged user named to attack the operator's
//! terminal or scripts, each holding one CLOSE_WAIT on loopback, seen through the real
//! binary. Every face prints them escaped (`\e[7mEVIL`), byte for byte as the escape rule
//! says; no output holds a control byte but the format's own newline and tab; the line
//! counts equal those of the same population with plain names; `check`'s first line is
//! intact; JSON round-trips the exact bytes (`comm_b64` for invalid UTF-8); `--process`
//! matches the raw bytes; the dashboard shows the escapes and keeps its columns aligned
//! right of a wide (CJK) name.
//!
//! Each population lives in a namespace of its own (so the outputs hold nothing else) and
//! each holder is killed on drop; holders also exit on EOF of stdin, so nothing outlives a
//! crashed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Output};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use common::{
    python, require_root, require_tmux, run_sockscope, start_generator, stop_generator, Netns, Tmux,
};

/// Renames itself by writing `/proc/self/comm` (hex argv[1]), opens a loopback listener,
/// connects, lets the peer close (so its own end is CLOSE_WAIT), closes the listener, and
/// waits for that state before printing the ready line with the comm the kernel kept.
const HOLDER: &str = r#"
import binascii, json, os, socket, struct, sys, time
name = binascii.unhexlify(sys.argv[1])
with open('/proc/self/comm', 'wb') as f:
    f.write(name)
comm = open('/proc/self/comm', 'rb').read()[:-1]
lst = socket.socket()
lst.bind(('127.0.0.1', 0))
lst.listen(4)
c = socket.create_connection(lst.getsockname())
a, _ = lst.accept()
a.close()
lst.close()
deadline = time.time() + 10
while struct.unpack('B', c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[:1])[0] != 8:
    if time.time() > deadline:
        sys.exit('no CLOSE_WAIT')
    time.sleep(0.01)
print(json.dumps({'ready': True, 'pid': os.getpid(), 'comm': comm.hex()}), flush=True)
sys.stdin.read()
"#;

/// The hostile names, and how the escape rule must print each (`None`: check the comm the
/// kernel kept instead of the name written, whatever it is).
const HOSTILE: [(&[u8], &str); 5] = [
    (b"\x1b[7mEVIL \x1b[0m\x07", r"\e[7mEVIL \e[0m\a"),
    (b"back\\slash", r"back\\slash"),
    (b"\xff\xfe", r"\xff\xfe"),
    // Five CJK characters: 15 bytes (the most a comm holds), 10 columns.
    ("漢字漢字漢".as_bytes(), "漢字漢字漢"),
    (b"a\nb\tc", r"a\nb\tc"),
];

/// Plain names of the same lengths' kind, for the line-count comparison.
const PLAIN: [&[u8]; 5] = [
    b"plain-one",
    b"plain-two",
    b"plain-three",
    b"plain-four",
    b"plain-five",
];

/// One holder process; killed (its process group) on drop.
struct Holder {
    child: Option<Child>,
    pid: u32,
    comm: Vec<u8>,
}

impl Holder {
    fn spawn(ns: &Netns, name: &[u8]) -> Holder {
        let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let py = python();
        let mut cmd = ns.cmd(&py, &["-c", HOLDER, &hex]);
        let (child, rx, desc) = start_generator(&mut cmd);
        let mut h = Holder {
            child: Some(child),
            pid: 0,
            comm: Vec::new(),
        };
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let v: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
        assert_eq!(v["ready"], true, "holder {desc} not ready: {line:?}");
        h.pid = u32::try_from(v["pid"].as_u64().unwrap()).unwrap();
        let hex = v["comm"].as_str().unwrap();
        h.comm = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        h
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            stop_generator(c);
        }
    }
}

/// A namespace with one holder per name.
struct World {
    holders: Vec<Holder>,
    ns: Netns,
}

impl World {
    fn new(tag: &str, names: &[&[u8]]) -> World {
        let ns = Netns::new(tag);
        let holders = names.iter().map(|n| Holder::spawn(&ns, n)).collect();
        World { holders, ns }
    }

    fn run(&self, args: &[&str]) -> Output {
        run_sockscope(self.ns.some(), args)
    }

    /// stdout of a run that must exit with one of `codes`; asserts it is clean text.
    fn out(&self, args: &[&str], codes: &[i32]) -> Vec<u8> {
        let o = self.run(args);
        let code = o.status.code().unwrap_or(-1);
        assert!(
            codes.contains(&code),
            "sockscope {args:?} exited {code}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_clean(&o.stdout, args);
        assert_clean(&o.stderr, args);
        o.stdout
    }
}

/// No byte below 0x20 but newline and tab, no DEL, valid UTF-8 (so no raw `\xff` either,
/// and no C1 control: those are escaped to text).
fn assert_clean(bytes: &[u8], what: &[&str]) {
    let text = std::str::from_utf8(bytes)
        .unwrap_or_else(|e| panic!("{what:?}: output is not UTF-8 ({e}): {bytes:?}"));
    for (i, c) in text.char_indices() {
        let bad = (c < ' ' && c != '\n' && c != '\t') || ('\u{7f}'..='\u{9f}').contains(&c);
        assert!(!bad, "{what:?}: control {c:?} at byte {i}:\n{text}");
    }
}

fn lines(b: &[u8]) -> usize {
    String::from_utf8_lossy(b).lines().count()
}

fn decoded(v: &Value) -> Vec<u8> {
    match v["comm_b64"].as_str() {
        Some(b) => base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
        None => v["comm"].as_str().unwrap().as_bytes().to_vec(),
    }
}

#[test]
fn every_face_escapes_hostile_names_and_json_keeps_their_bytes() {
    if !require_root(
        "every_face_escapes_hostile_names_and_json_keeps_their_bytes",
        "it creates network namespaces",
    ) {
        return;
    }
    let names: Vec<&[u8]> = HOSTILE.iter().map(|(n, _)| *n).collect();
    let evil = World::new("hn", &names);
    let plain = World::new("hp", &PLAIN);
    // The kernel keeps every name as written (a newline and a tab included).
    for (h, (name, _)) in evil.holders.iter().zip(HOSTILE) {
        assert_eq!(h.comm, name, "the kernel changed the comm");
    }
    let th = [
        "--threshold",
        "close_wait_leak.warn_count=1",
        "--threshold",
        "close_wait_leak.crit_count=1",
    ];
    let runs: Vec<Vec<&str>> = vec![
        vec!["summary", "--by", "process"],
        vec!["summary", "--by", "process", "--format", "table"],
        vec!["summary", "--by", "process", "--format", "json"],
        vec!["summary", "--by", "listener"],
        vec!["sockets"],
        vec!["sockets", "--format", "json"],
        [&th[..], &["check", "--interval", "200ms"]].concat(),
        [
            &th[..],
            &["check", "--interval", "200ms", "--format", "json"],
        ]
        .concat(),
    ];
    let mut outs = Vec::new();
    for args in &runs {
        let codes: &[i32] = if args.contains(&"check") { &[2] } else { &[0] };
        let e = evil.out(args, codes);
        let p = plain.out(args, codes);
        if !args.contains(&"json") {
            assert_eq!(
                lines(&e),
                lines(&p),
                "{args:?} line count:\n{}",
                String::from_utf8_lossy(&e)
            );
        }
        outs.push(String::from_utf8(e).unwrap());
    }
    let [text, table, json, _listeners, sockets, sockets_json, check, check_json] = &outs[..]
    else {
        unreachable!()
    };

    for (h, (_, escaped)) in evil.holders.iter().zip(HOSTILE) {
        let pid = h.pid.to_string();
        // Tab-separated: the comm is exactly its escaped form, in the second field.
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{pid}\t")))
            .unwrap_or_else(|| panic!("no row for pid {pid}:\n{text}"));
        let fields: Vec<&str> = row.split('\t').collect();
        assert_eq!(fields[1], escaped, "text row {row:?}");
        assert_eq!(fields[2], "root", "text row {row:?}");
        // Table: the escaped form too.
        let row = table
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{pid} ")))
            .unwrap_or_else(|| panic!("no table row for pid {pid}:\n{table}"));
        assert!(row.contains(escaped), "table row {row:?} lacks {escaped:?}");
        // sockets: `comm/pid` in the Process column.
        assert!(
            sockets.contains(&format!("{escaped}/{pid}")),
            "sockets lacks {escaped}/{pid}:\n{sockets}"
        );
        // check: each finding line names the comm escaped.
        assert!(
            check.contains(&format!("pid {pid} ({escaped})")),
            "check lacks pid {pid} ({escaped}):\n{check}"
        );
    }

    // Table columns right of the comm line up by terminal columns (the CJK row included).
    let user_col: Vec<usize> = table
        .lines()
        .filter_map(|l| l.find(" root ").map(|at| l[..at].width()))
        .collect();
    assert_eq!(user_col.len(), HOSTILE.len(), "{table}");
    assert!(
        user_col.windows(2).all(|w| w[0] == w[1]),
        "USER column moves:\n{table}"
    );
    // And so does the sockets list's Timer column (right of the Process column).
    let timer_col: Vec<usize> = sockets
        .lines()
        .filter(|l| l.starts_with("CLOSE_WAIT"))
        .map(|l| {
            let at = l.rfind(" - ").or_else(|| l.rfind(" -")).unwrap();
            l[..at].width()
        })
        .collect();
    assert!(
        timer_col.windows(2).all(|w| w[0] == w[1]),
        "Timer column moves:\n{sockets}"
    );

    // check's first line: one line, the status, not forged by a name.
    let first = check.lines().next().unwrap();
    assert!(first.starts_with("SOCKSCOPE CRITICAL - "), "{check}");
    assert_eq!(check.matches("SOCKSCOPE").count(), 1, "{check}");

    // JSON: the exact bytes, through comm_b64 where they are not UTF-8.
    let by_pid = |doc: &str, list: &str| -> Vec<(u64, Vec<u8>, Value)> {
        let v: Value = serde_json::from_str(doc).unwrap();
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["pid"].is_u64())
            .map(|p| (p["pid"].as_u64().unwrap(), decoded(p), p.clone()))
            .collect()
    };
    let procs = by_pid(json, "processes");
    let socks = by_pid(sockets_json, "sockets");
    for h in &evil.holders {
        let pid = u64::from(h.pid);
        let (_, bytes, p) = procs.iter().find(|(p, ..)| *p == pid).unwrap();
        assert_eq!(*bytes, h.comm, "summary JSON for pid {pid}: {p}");
        assert_eq!(
            p["comm_b64"].is_string(),
            std::str::from_utf8(&h.comm).is_err(),
            "{p}"
        );
        let (_, bytes, s) = socks.iter().find(|(p, ..)| *p == pid).unwrap();
        assert_eq!(*bytes, h.comm, "sockets JSON for pid {pid}: {s}");
    }
    let v: Value = serde_json::from_str(check_json).unwrap();
    let subjects: Vec<Vec<u8>> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["subject"]["kind"] == "process")
        .map(|f| decoded(&f["subject"]))
        .collect();
    for h in &evil.holders {
        assert!(
            subjects.contains(&h.comm),
            "check JSON lacks {:?}: {v}",
            h.comm
        );
    }
}

#[test]
fn process_filter_matches_raw_bytes_and_errors_escape_the_bad_value() {
    if !require_root(
        "process_filter_matches_raw_bytes_and_errors_escape_the_bad_value",
        "it creates a network namespace",
    ) {
        return;
    }
    let w = World::new("hf", &[HOSTILE[0].0, HOSTILE[1].0]);
    for (i, h) in w.holders.iter().enumerate() {
        let raw = std::str::from_utf8(HOSTILE[i].0).unwrap();
        let hit = String::from_utf8(w.out(&["sockets", "--process", raw], &[0])).unwrap();
        assert!(
            hit.contains(&format!("{}/{}", HOSTILE[i].1, h.pid)),
            "{hit}"
        );
        assert_eq!(lines(hit.as_bytes()), 2, "{hit}");
    }
    // `back\\slash`, the escaped form (11 bytes), is not the name `back\slash`.
    let miss = String::from_utf8(w.out(&["sockets", "--process", HOSTILE[1].1], &[0])).unwrap();
    assert_eq!(
        lines(miss.as_bytes()),
        1,
        "the escaped form matched:\n{miss}"
    );
    // The 17-byte escaped form of the first can never be a comm: refused, and the refusal
    // echoes it escaped once more, on one line.
    let o = w.run(&["sockets", "--process", HOSTILE[0].1]);
    assert_eq!(o.status.code(), Some(2));
    assert_clean(&o.stderr, &["--process"]);
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    // A bad value echoed in an error goes through the same rule.
    let o = w.run(&["--threshold", "\x1b[7mx=1", "summary"]);
    assert_eq!(o.status.code(), Some(2));
    assert_clean(&o.stderr, &["--threshold"]);
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains(r"\e[7mx"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_recording_replays_the_exact_bytes() {
    if !require_root(
        "a_recording_replays_the_exact_bytes",
        "it creates a network namespace",
    ) {
        return;
    }
    let names: Vec<&[u8]> = HOSTILE.iter().map(|(n, _)| *n).collect();
    let w = World::new("hr", &names);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rec.jsonl");
    let file_s = file.to_str().unwrap();
    let args = [
        "record",
        "--interval",
        "200ms",
        "--duration",
        "1s",
        "--sockets",
        "-o",
        file_s,
    ];
    w.out(&args, &[0]);
    let rec = std::fs::read(&file).unwrap();
    assert_clean(&rec, &["recording"]);
    // The file itself: per-process counts and the socket list's processes.
    let last = String::from_utf8_lossy(&rec)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|v| v["socket_processes"].is_array())
        .unwrap_or_else(|| panic!("no tick with socket_processes"));
    // And what a replay makes of it.
    let from = [
        "summary", "--by", "process", "--format", "json", "--from", file_s,
    ];
    let o = run_sockscope(None, &from);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let replayed: Value = serde_json::from_slice(&o.stdout).unwrap();
    for (doc, list) in [
        (&last, "processes"),
        (&last, "socket_processes"),
        (&replayed, "processes"),
    ] {
        for h in &w.holders {
            let row = doc[list]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["pid"] == u64::from(h.pid))
                .unwrap_or_else(|| panic!("{list}: no pid {}: {doc}", h.pid));
            assert_eq!(decoded(row), h.comm, "{list}: {row}");
        }
    }
    let text = run_sockscope(None, &["summary", "--by", "process", "--from", file_s]);
    assert_clean(&text.stdout, &["summary --from"]);
    let text = String::from_utf8(text.stdout).unwrap();
    for (h, (_, escaped)) in w.holders.iter().zip(HOSTILE) {
        assert!(text.contains(&format!("{}\t{escaped}\t", h.pid)), "{text}");
    }
}

#[test]
fn dashboard_shows_escapes_and_keeps_columns_right_of_a_wide_name() {
    if !require_root(
        "dashboard_shows_escapes_and_keeps_columns_right_of_a_wide_name",
        "it creates a network namespace",
    ) {
        return;
    }
    if !require_tmux() {
        return;
    }
    let w = World::new("ht", &[HOSTILE[0].0, HOSTILE[3].0, b"plainname"]);
    let bin = common::sockscope_path();
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let cmd = format!(
        "cd / && ip netns exec {} {} --interval 300ms; echo \"exit=$?\" > {}; clear",
        w.ns.name,
        bin.display(),
        status.display()
    );
    let tmux = Tmux::start("hn", 160, 40, &cmd);
    tmux.keys(&["2"]);
    let (seen, screen) = tmux.wait_for(Duration::from_secs(10), |s| {
        s.contains("processes (") && s.contains("漢字漢字漢") && s.contains("plainname")
    });
    assert!(seen, "Processes view lacks the names:\n{screen}");
    println!("--- processes ---\n{screen}");
    // The escape is shown as text, not obeyed or dropped.
    assert!(
        screen.contains(r"\e[7mEVIL"),
        "no visible escape:\n{screen}"
    );
    // Everything right of the name starts in the same column on every holder's row.
    let pids: Vec<String> = w.holders.iter().map(|h| h.pid.to_string()).collect();
    let starts: Vec<usize> = screen
        .lines()
        .filter(|l| pids.iter().any(|p| l.contains(&format!(" {p} "))))
        .map(|l| {
            let at = l
                .find(" root")
                .unwrap_or_else(|| panic!("no user in {l:?}"));
            l[..at].width()
        })
        .collect();
    assert_eq!(starts.len(), 3, "rows not found:\n{screen}");
    assert!(
        starts.windows(2).all(|x| x[0] == x[1]),
        "columns move:\n{screen}"
    );
    tmux.keys(&["q"]);
    tmux.assert_exited(&status, 0, "q");
}

/// A snapshot file whose namespace label holds a newline, a forged status line and an
/// escape sequence: every face that prints the label shows it escaped, `check`'s first line
/// stays its own, and no face gains a line.
#[test]
fn a_hostile_namespace_label_in_a_file_cannot_forge_a_line() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tui/closewait_leak.json");
    let mut snap: Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut write = |label: &str| {
        snap["netns"] = Value::from(label);
        let p = dir.path().join(format!("{}.json", label.len()));
        std::fs::write(&p, serde_json::to_vec(&snap).unwrap()).unwrap();
        p
    };
    let plain = write("web");
    let hostile = write("web\nSOCKSCOPE OK - all fine\tx\x1b[2J");
    let bin = assert_cmd::cargo::cargo_bin("sockscope");
    let run = |file: &std::path::Path, args: &[&str]| -> Vec<u8> {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--from-snapshot", file.to_str().unwrap()]);
        std::process::Command::new(&bin)
            .args(&all)
            .output()
            .unwrap()
            .stdout
    };
    for args in [
        &["check"][..],
        &["check", "--format", "json"][..],
        &["summary", "--format", "table"][..],
        &["summary", "--format", "json"][..],
        &["sockets"][..],
    ] {
        let (p, h) = (run(&plain, args), run(&hostile, args));
        assert_clean(&h, args);
        assert_eq!(
            lines(&p),
            lines(&h),
            "{args:?}:\n{}",
            String::from_utf8_lossy(&h)
        );
    }
    let check = run(&hostile, &["check"]);
    let first = String::from_utf8_lossy(&check)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    assert!(
        first.starts_with("SOCKSCOPE WARNING") || first.starts_with("SOCKSCOPE CRITICAL"),
        "{first}"
    );
    let json: Value =
        serde_json::from_slice(&run(&hostile, &["summary", "--format", "json"])).unwrap();
    assert_eq!(
        json["netns"], "web\\nSOCKSCOPE OK - all fine\\tx\\e[2J",
        "{json}"
    );
}
