//! Deterministic output of the real binary over a recorded snapshot (`--from-snapshot`, the
//! fixture-backed source): every summary grouping and format, the socket list, and `check`,
//! pinned with insta. The fixture is the dashboard's CLOSE_WAIT-leak scene: java leaking on
//! :8080, nginx with half-open connections on :80, TIME_WAIT, unattributed sockets.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;

const FIXTURE: &str = "tests/fixtures/tui/closewait_leak.json";

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("sockscope")
        .unwrap()
        .args(["--from-snapshot", FIXTURE])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn summary_text_is_the_awk_shape() {
    let (code, out, err) = run(&["summary"]);
    assert_eq!(code, 0, "{err}");
    for line in out.lines() {
        let (state, n) = line.split_once('\t').unwrap();
        assert!(state
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
        n.parse::<u64>().unwrap();
    }
    insta::assert_snapshot!("summary_text", out);
    // The honesty note goes to stderr, so scripts keep parsing stdout.
    assert!(err.contains("3 of 158 sockets unattributed"), "{err}");
}

#[test]
fn summary_tables() {
    for by in ["state", "process", "listener", "remote"] {
        let (code, out, _) = run(&["summary", "--format", "table", "--by", by]);
        assert_eq!(code, 0);
        insta::assert_snapshot!(format!("summary_table_{by}"), out);
    }
}

#[test]
fn summary_tsv_by_process() {
    let (code, out, _) = run(&["summary", "--by", "process"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("summary_tsv_process", out);
}

#[test]
fn summary_json_schema() {
    let (code, out, _) = run(&["summary", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Version 2 (UDP and UNIX) is additive: the TCP fields stay where version 1 had them.
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["protocols"], serde_json::json!(["tcp"]));
    assert_eq!(v["totals"], serde_json::json!({"tcp": 158}));
    assert!(v.get("udp").is_none() && v.get("unix").is_none(), "{v}");
    assert_eq!(v["states"].as_object().unwrap().len(), 11);
    assert_eq!(v["total"], 158);
    assert_eq!(v["unattributed"]["count"], 3);
    assert!(v["unattributed"]["reason"]
        .as_str()
        .unwrap()
        .contains("not root"));
    insta::assert_snapshot!("summary_json", serde_json::to_string_pretty(&v).unwrap());
}

#[test]
fn filters_apply_to_recorded_snapshots() {
    let (code, out, _) = run(&["summary", "--state", "close-wait,SYN_RECV"]);
    assert_eq!(code, 0);
    assert_eq!(out, "CLOSE_WAIT\t39\nSYN_RECV\t12\n");
    let (_, out, _) = run(&["summary", "--sport", "80", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["states"]["SYN_RECV"], 12);
    assert_eq!(v["states"]["CLOSE_WAIT"], 0);
    let (_, out, _) = run(&["summary", "--process", "java", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["processes"].as_array().unwrap().len(), 1);
    assert_eq!(v["processes"][0]["comm"], "java");
}

#[test]
fn socket_list() {
    let (code, out, _) = run(&[
        "sockets",
        "--state",
        "close-wait,syn-recv",
        "--dport",
        "41000-41002",
    ]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("sockets_table", out);
    let (_, out, _) = run(&["sockets", "--format", "json", "--state", "syn-recv"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["total"], 12);
    for s in v["sockets"].as_array().unwrap() {
        // Request sockets count to their listener's owner.
        assert_eq!(s["owner"], "via_listener", "{s}");
        assert_eq!(s["comm"], "nginx", "{s}");
    }
}

#[test]
fn check_names_the_leak() {
    let (code, out, _) = run(&["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("SOCKSCOPE WARNING - close_wait_leak: pid 4242 (java) holds 39 CLOSE_WAIT"),
        "{out}"
    );
    insta::assert_snapshot!("check_text", out);
    let (code, out, _) = run(&["check", "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    // A threshold override turns it critical, and a high one makes it OK.
    let (code, out, _) = run(&[
        "--threshold",
        "close_wait_leak.warn_count=20",
        "--threshold",
        "close_wait_leak.crit_count=30",
        "check",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with("SOCKSCOPE CRITICAL"), "{out}");
    let (code, out, _) = run(&[
        "--threshold",
        "close_wait_leak.warn_count=1000",
        "--threshold",
        "close_wait_leak.crit_count=2000",
        "--threshold",
        "close_wait_leak.warn_age_s=100000",
        "check",
    ]);
    assert_eq!(code, 0, "raised thresholds still fire: {out}");
    assert!(
        out.starts_with("SOCKSCOPE OK - 158 sockets, no findings"),
        "{out}"
    );
}
