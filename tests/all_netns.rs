//! `--all-netns` against namespaces the test creates: one holds a CLOSE_WAIT population,
//! the other a few listeners; `summary --all-netns --format json` must show each
//! population under its own namespace, and `check --all-netns` must name the leaking one.
#![allow(clippy::unwrap_used)]

mod common;

use common::{require_root, Netns, Population};

#[test]
fn summary_and_check_keep_namespaces_apart() {
    if !require_root(
        "summary_and_check_keep_namespaces_apart",
        "it creates network namespaces",
    ) {
        return;
    }
    let leaky = Netns::new("allA");
    let quiet = Netns::new("allB");
    let leak = Population::spawn(
        leaky.some(),
        &["closewait", "--count", "250", "--client-mode", "shutdown"],
    );
    let l1 = Population::spawn(
        quiet.some(),
        &["listen", "--backlog", "16", "--port", "8081"],
    );
    let l2 = Population::spawn(
        quiet.some(),
        &["listen", "--backlog", "16", "--port", "8082"],
    );

    let out = common::sockscope()
        .args(["summary", "--all-netns", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    let nss = v["namespaces"].as_array().unwrap();
    let find = |name: &str| {
        nss.iter()
            .find(|n| n["netns"] == name)
            .unwrap_or_else(|| panic!("namespace {name} missing from {v}"))
    };
    let a = find(&leaky.name);
    assert_eq!(a["states"]["CLOSE_WAIT"], 250, "{a}");
    assert_eq!(a["states"]["LISTEN"], 1, "{a}");
    assert!(
        a["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"].as_u64() == Some(u64::from(leak.pid()))),
        "{a}"
    );
    let b = find(&quiet.name);
    assert_eq!(b["states"]["LISTEN"], 2, "{b}");
    assert_eq!(b["states"]["CLOSE_WAIT"], 0, "{b}");
    assert_eq!(b["total"], 2, "{b}");
    // One /proc scan serves every namespace: each still gets its own holders, and only them.
    let pids = |n: &serde_json::Value| -> Vec<u64> {
        let mut p: Vec<u64> = n["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pid"].as_u64().unwrap())
            .collect();
        p.sort_unstable();
        p
    };
    let mut want: Vec<u64> = [l1.pid(), l2.pid()].map(u64::from).to_vec();
    want.sort_unstable();
    assert_eq!(pids(b), want, "{b}");
    assert_eq!(pids(a), [u64::from(leak.pid())], "{a}");
    assert_eq!(b["unattributed"]["count"], 0, "{b}");
    assert!(
        nss.iter().any(|n| n["netns"] == "host"),
        "host namespace missing"
    );
    assert!(v["unreachable"].is_array());

    // Text keeps the awk shape, with the namespace as a third column.
    let out = common::sockscope()
        .args(["summary", "--all-netns"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l == format!("CLOSE_WAIT\t250\t{}", leaky.name)),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == format!("LISTEN\t2\t{}", quiet.name)),
        "{text}"
    );

    // check names the leak and where it is.
    let out = common::sockscope()
        .args(["check", "--all-netns", "--interval", "200ms"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.code().unwrap() >= 1, "{text}");
    let want = format!(
        "close_wait_leak [netns {}]: pid {} (sscpop-cw) holds 250 CLOSE_WAIT",
        leaky.name,
        leak.pid()
    );
    assert!(text.contains(&want), "missing `{want}` in:\n{text}");
}
