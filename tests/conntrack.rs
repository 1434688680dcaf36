//! Conntrack pressure through the real binary: in a private namespace where an nftables rule
//! makes conntrack track loopback connections, sockscope's entry count equals `conntrack -C`
//! and its per-CPU sums equal `conntrack -S` taken at the same moment; `check` over saved
//! snapshots exits 0/1/2 on a table at 0.4%/85%/97% and on one that drops; `explain` and
//! `--threshold` know `conntrack_full`. The host's `nf_conntrack_max` is global and is never
//! written (checked before and after).
//!
//! Root required. Traffic only on the namespace's loopback.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Entries the namespace should hold: one per connection (both sockets are on loopback, the
/// pair is one connection to conntrack).
const PAIRS: u64 = 60;
/// TCP segments with SYN+FIN sent through a raw socket: conntrack counts each as invalid.
const INVALID_SEGMENTS: u64 = 9;

fn tool(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn host_max() -> String {
    std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_max").unwrap_or_default()
}

/// `conntrack -S` inside `ns`, summed over its `cpu=N` lines, by its key names.
fn conntrack_s(ns: &Netns) -> BTreeMap<String, u64> {
    let out = run_ok(&mut ns.cmd("conntrack", &["-S"]));
    let mut sums = BTreeMap::new();
    for line in out.lines() {
        for kv in line.split_whitespace() {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            if k == "cpu" {
                continue;
            }
            *sums.entry(k.to_string()).or_insert(0) += v.parse::<u64>().unwrap();
        }
    }
    assert!(sums.contains_key("found"), "conntrack -S printed: {out}");
    sums
}

/// `conntrack -C` inside `ns`.
fn conntrack_c(ns: &Netns) -> u64 {
    run_ok(&mut ns.cmd("conntrack", &["-C"]))
        .trim()
        .parse()
        .unwrap()
}

/// conntrack-tools' statistic names (netlink) and the kernel's /proc column names.
const NAMES: [(&str, &str); 10] = [
    ("found", "found"),
    ("invalid", "invalid"),
    ("insert", "insert"),
    ("insert_failed", "insert_failed"),
    ("drop", "drop"),
    ("early_drop", "early_drop"),
    ("error", "icmp_error"),
    ("search_restart", "search_restart"),
    ("clash_resolve", "clashres"),
    ("chaintoolong", "chainlength"),
];

fn sockscope_conntrack(ns: &Netns) -> Value {
    let v = sockscope_json(None, &["--netns", &ns.name, "summary"]);
    v["conntrack"].clone()
}

fn nft(ns: &Netns, args: &[&str]) {
    run_ok(&mut ns.cmd("nft", args));
}

/// Sends `n` TCP segments with SYN+FIN to 127.0.0.1:9 from a raw socket in `ns`.
fn send_invalid(ns: &Netns, n: u64) {
    let script = format!(
        "import socket,struct\n\
         s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_TCP)\n\
         for i in range({n}):\n    \
         s.sendto(struct.pack('!HHIIBBHHH',40000+i,9,1,0,5<<4,3,1024,0,0),('127.0.0.1',0))\n"
    );
    run_ok(&mut ns.cmd(&python(), &["-c", &script]));
}

#[test]
fn figures_equal_conntrack_c_and_s_in_a_tracking_namespace() {
    if !require_root(
        "figures_equal_conntrack_c_and_s_in_a_tracking_namespace",
        "it creates a network namespace with nftables rules",
    ) {
        return;
    }
    assert!(
        Path::new("/proc/sys/net/netfilter/nf_conntrack_count").exists(),
        "nf_conntrack is not loaded on this host: this test compares its figures"
    );
    assert!(
        tool("conntrack") && tool("nft"),
        "needs conntrack (Debian package conntrack) and nft (nftables): tests/run-all.sh \
         installs them"
    );
    let max_before = host_max();
    let ns = Netns::new("wt3ct");

    // Before any rule needs conntrack the namespace's table is empty.
    let ct = sockscope_conntrack(&ns);
    assert_eq!(ct["tracked"], true, "{ct}");
    assert_eq!(ct["entries"], 0, "{ct}");
    assert_eq!(conntrack_c(&ns), 0);

    nft(&ns, &["add", "table", "inet", "wt3"]);
    nft(
        &ns,
        &[
            "add",
            "chain",
            "inet",
            "wt3",
            "out",
            "{ type filter hook output priority 0; }",
        ],
    );
    nft(
        &ns,
        &[
            "add", "rule", "inet", "wt3", "out", "ct", "state", "new", "accept",
        ],
    );
    let pop = Population::spawn(ns.some(), &["established", "--count", &PAIRS.to_string()]);
    send_invalid(&ns, INVALID_SEGMENTS);

    // The count moves only if an entry expires or a connection starts between the reads
    // (nothing here starts one, and ESTABLISHED entries live 5 days): a reading is taken
    // when `conntrack` says the same before and after sockscope, at most 10 tries in 20 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tries = 0;
    let (ct, s_before) = loop {
        tries += 1;
        let c0 = conntrack_c(&ns);
        let s0 = conntrack_s(&ns);
        let ct = sockscope_conntrack(&ns);
        let c1 = conntrack_c(&ns);
        let s1 = conntrack_s(&ns);
        if c0 == c1 && s0 == s1 {
            assert_eq!(ct["entries"].as_u64(), Some(c0), "conntrack -C {c0}: {ct}");
            break (ct, s0);
        }
        assert!(
            tries < 10 && Instant::now() < deadline,
            "conntrack figures kept moving: -C {c0} then {c1}"
        );
    };
    assert!(
        ct["entries"].as_u64().unwrap() >= PAIRS,
        "one entry per loopback connection at least: {ct}"
    );
    let stats = &ct["stats"];
    let mut compared = 0;
    for (tools_name, proc_name) in NAMES {
        let (Some(want), Some(got)) = (s_before.get(tools_name), stats[proc_name].as_u64()) else {
            continue;
        };
        assert_eq!(got, *want, "{proc_name} (conntrack -S {tools_name})");
        compared += 1;
    }
    assert!(
        compared >= 8,
        "compared only {compared} statistics: {stats}"
    );
    assert!(
        stats["invalid"].as_u64().unwrap() >= INVALID_SEGMENTS,
        "each SYN+FIN segment counted invalid: {stats}"
    );
    assert_eq!(ct["cpus"].as_u64(), Some(cpu_lines()), "{ct}");
    assert_eq!(
        ct["max"].as_u64(),
        max_before.trim().parse::<u64>().ok(),
        "nf_conntrack_max is global"
    );

    // The table form shows the same line beside the socket counts.
    let table = sockscope_ok(None, &["--netns", &ns.name, "summary", "--format", "table"]);
    let line = table
        .lines()
        .find(|l| l.starts_with("conntrack: "))
        .unwrap_or_else(|| panic!("no conntrack line:\n{table}"));
    assert!(line.contains(&format!("/{}", max_before.trim())), "{line}");
    // The default text stays the netstat-awk lines only.
    let text = sockscope_ok(None, &["--netns", &ns.name, "summary"]);
    assert!(!text.contains("conntrack"), "{text}");

    // serve exports the same figures.
    let mut server = Server::start(
        "",
        &[
            "--netns",
            &ns.name,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "500ms",
        ],
    );
    let addr = server.addr();
    let series = |family: &str, extra: &str| format!("{family}{{netns=\"{}\"{extra}}}", ns.name);
    let entries = series("sockscope_conntrack_entries", "");
    let text = wait_for("conntrack series", Duration::from_secs(20), || {
        let t = scrape(&addr);
        metric(&t, &entries).is_some().then_some(t)
    });
    let c = conntrack_c(&ns);
    assert_eq!(
        metric(&text, &entries),
        Some(c as f64),
        "conntrack -C {c}:\n{text}"
    );
    assert_eq!(
        metric(&text, &series("sockscope_conntrack_max", "")),
        max_before.trim().parse::<f64>().ok()
    );
    assert_eq!(
        metric(
            &text,
            &series("sockscope_conntrack_stat_total", ",name=\"invalid\"")
        ),
        conntrack_s(&ns).get("invalid").map(|&v| v as f64)
    );
    for kind in ["drop", "early_drop", "insert_failed"] {
        let s = series(
            "sockscope_conntrack_drops_total",
            &format!(",kind=\"{kind}\""),
        );
        assert_eq!(metric(&text, &s), Some(0.0), "{s}\n{text}");
    }
    drop(server);

    // A recording keeps the table; `summary --from` shows it again.
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("ct.jsonl");
    let rec = rec.to_str().unwrap();
    sockscope_ok(
        None,
        &[
            "--netns",
            &ns.name,
            "record",
            "--output",
            rec,
            "--interval",
            "200ms",
            "--duration",
            "5s",
        ],
    );
    // Ticks after the first carry the refusal rates, so a replay judges drops as live did.
    let lines = std::fs::read_to_string(rec).unwrap();
    let ticks: Vec<Value> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["counters"]["conntrack"]["count"].is_u64())
        .collect();
    assert!(ticks.len() >= 2, "{lines}");
    assert!(
        ticks
            .iter()
            .any(|t| t["rates"]["conntrack"]["drop"].as_f64() == Some(0.0)),
        "{lines}"
    );
    let c = conntrack_c(&ns);
    let v = sockscope_json(None, &["summary", "--from", rec]);
    assert_eq!(v["conntrack"]["entries"].as_u64(), Some(c), "{v}");
    assert_eq!(
        v["conntrack"]["stats"]["invalid"], ct["stats"]["invalid"],
        "{v}"
    );

    // `check` over two live samples: nothing at the shipped thresholds; with the warning
    // fill lowered under this table's fill (60 of 262144 is 0.02%), a warning naming the
    // count `conntrack -C` gives.
    let (code, out, err) = parts(&run_sockscope(
        None,
        &["--netns", &ns.name, "check", "--interval", "300ms"],
    ));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = parts(&run_sockscope(
        None,
        &[
            "--netns",
            &ns.name,
            "--threshold",
            "conntrack_full.warn_fill=0.0001",
            "check",
            "--interval",
            "300ms",
        ],
    ));
    let c = conntrack_c(&ns);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "SOCKSCOPE WARNING - conntrack_full [netns {}]: conntrack {c}/{} (<0.1%), +0/s",
            ns.name,
            max_before.trim()
        )),
        "conntrack -C {c}: {out}"
    );

    drop(pop);
    assert_eq!(
        host_max(),
        max_before,
        "the host's nf_conntrack_max is untouched"
    );
}

/// CPU lines of the host's statistics file (the namespace's has as many).
fn cpu_lines() -> u64 {
    let text = std::fs::read_to_string("/proc/net/stat/nf_conntrack").unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count() as u64
}

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/conntrack/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn check(snapshot: &str, extra: &[&str]) -> (i32, String, String) {
    let path = fixture(snapshot);
    let mut args = vec!["--from-snapshot", path.as_str()];
    args.extend_from_slice(extra);
    args.push("check");
    parts(&run_sockscope(None, &args))
}

#[test]
fn check_exit_codes_follow_the_table_fill_and_drops() {
    let (code, out, err) = check("snapshot_ok.json", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("conntrack_full"), "{out}");

    let (code, out, _) = check("snapshot_warn.json", &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("SOCKSCOPE WARNING - conntrack_full: conntrack 222822/262144 (85%)"),
        "{out}"
    );

    let (code, out, _) = check("snapshot_full.json", &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with("SOCKSCOPE CRITICAL - conntrack_full: conntrack 254279/262144 (97%)"),
        "{out}"
    );

    let (code, out, _) = check("snapshot_dropping.json", &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("new connections are being dropped"), "{out}");

    // Module absent: no finding, no error.
    let (code, out, err) = check("snapshot_absent.json", &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");

    // The thresholds move the verdicts.
    let (code, out, _) = check(
        "snapshot_warn.json",
        &["--threshold", "conntrack_full.warn_fill=0.9"],
    );
    assert_eq!(code, 0, "85% < 90%: {out}");
    let (code, out, _) = check(
        "snapshot_warn.json",
        &[
            "--threshold",
            "conntrack_full.warn_fill=0.5",
            "--threshold",
            "conntrack_full.crit_fill=0.8",
        ],
    );
    assert_eq!(code, 2, "85% ≥ 80%: {out}");
}

#[test]
fn check_json_carries_the_evidence() {
    let path = fixture("snapshot_full.json");
    let (code, out, _) = parts(&run_sockscope(
        None,
        &["--from-snapshot", &path, "check", "--format", "json"],
    ));
    assert_eq!(code, 2, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let text = v.to_string();
    assert!(text.contains("conntrack_full"), "{text}");
    assert!(text.contains("\"max\":262144"), "{text}");
    assert!(text.contains("\"entries\":254279"), "{text}");
}

#[test]
fn summary_says_an_absent_module_once_and_shows_a_full_table() {
    let absent = fixture("snapshot_absent.json");
    let table = sockscope_ok(
        None,
        &["--from-snapshot", &absent, "summary", "--format", "table"],
    );
    let lines: Vec<&str> = table.lines().filter(|l| l.contains("conntrack")).collect();
    assert_eq!(
        lines,
        ["conntrack: none (nf_conntrack is not loaded (no connection tracking))"],
        "{table}"
    );
    let v = sockscope_json(None, &["--from-snapshot", &absent, "summary"]);
    assert_eq!(v["conntrack"]["tracked"], false, "{v}");
    assert_eq!(v["schema_version"], 2);

    let full = fixture("snapshot_dropping.json");
    let v = sockscope_json(None, &["--from-snapshot", &full, "summary"]);
    let ct = &v["conntrack"];
    assert_eq!(
        (ct["entries"].as_u64(), ct["max"].as_u64()),
        (Some(262_144), Some(262_144))
    );
    assert_eq!(ct["fill"].as_f64(), Some(1.0));
    assert_eq!(ct["drops"].as_u64(), Some(1892));
}

#[test]
fn explain_and_bad_thresholds() {
    let out = sockscope_ok(None, &["explain", "conntrack_full"]);
    // The text is wrapped to the terminal: compare with the line breaks as spaces.
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "table full, dropping packet",
        "nf_conntrack_max",
        "TIME_WAIT",
        "SYN_RECV",
        "notrack",
        "nf_conntrack_tcp_timeout_time_wait",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    let path = fixture("snapshot_ok.json");
    for bad in [
        "conntrack_full.crit_fill=0.5",
        "conntrack_full.warn_fill=0",
        "conntrack_full.crit_drop_rate=-1",
        "conntrack_full.warn_insert_failed_rate=-1",
        "conntrack_full.warn_insert_failed_rate=NaN",
        "conntrack_full.size=3",
    ] {
        let (code, out, err) = parts(&run_sockscope(
            None,
            &["--from-snapshot", &path, "--threshold", bad, "check"],
        ));
        assert_eq!(code, 2, "{bad}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{bad}: {err}");
        assert!(err.contains("conntrack_full."), "{bad}: {err}");
    }
}

/// A snapshot file is another user's text: `conntrack_absent` reaches the table with its
/// control characters escaped, and a statistic whose name is not the kernel's shape (it
/// would become a Prometheus label) is dropped and counted.
#[test]
fn a_hostile_snapshot_cannot_inject_through_conntrack_fields() {
    let dir = tempfile::tempdir().unwrap();
    let load = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
    };
    let mut absent = load("snapshot_absent.json");
    absent["counters"]["conntrack_absent"] = Value::from("\u{1b}]0;pwned\u{7}\u{1b}[2Jgone");
    let absent_path = dir.path().join("absent.json");
    std::fs::write(&absent_path, absent.to_string()).unwrap();
    let table = sockscope_ok(
        None,
        &[
            "--from-snapshot",
            absent_path.to_str().unwrap(),
            "summary",
            "--format",
            "table",
        ],
    );
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{7}'),
        "{table:?}"
    );
    assert!(table.contains("conntrack: none (\\e]0;pwned"), "{table}");

    let mut dropping = load("snapshot_dropping.json");
    let stats = &mut dropping["counters"]["conntrack"]["stats"];
    stats["evil\"} 1\nsockscope_up 0\n#"] = Value::from(7);
    stats["Drop"] = Value::from(7);
    let path = dir.path().join("dropping.json");
    std::fs::write(&path, dropping.to_string()).unwrap();
    let p = path.to_str().unwrap();
    let v = sockscope_json(None, &["--from-snapshot", p, "summary"]);
    let keys: Vec<&str> = v["conntrack"]["stats"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "drop",
            "early_drop",
            "found",
            "insert_failed",
            "invalid",
            "search_restart"
        ],
        "{v}"
    );
    let table = sockscope_ok(
        None,
        &["--from-snapshot", p, "summary", "--format", "table"],
    );
    assert!(
        table.contains(
            "drop 1892, early_drop 0, insert_failed 0, 2 statistics with invalid names dropped"
        ),
        "{table}"
    );
}
