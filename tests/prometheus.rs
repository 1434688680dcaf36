//! A real Prometheus scrapes sockscope: the Debian `prometheus` binary runs on loopback with a
//! temporary config and storage, scrapes `sockscope serve` every second while a real
//! CLOSE_WAIT population sits in a namespace the test created, and its query API must
//! return that population's size.
//!
//! Skipped (with a printed reason) when `/usr/bin/prometheus` is absent, except under
//! `CI=true`, where `.ci/run` installs it and its absence is a failure.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const CLOSE_WAIT: u16 = 37;

/// Kills Prometheus when the test ends, pass or fail.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn prometheus(target: SocketAddr) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: sockscope\n    static_configs:\n      \
             - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Prometheus {
        child,
        addr,
        _dir: dir,
    }
}

/// One plain HTTP/1.1 GET on loopback; returns the body, or `None` on any failure.
fn http_get(addr: SocketAddr, path_and_query: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(
        s,
        "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

fn percent_encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The instant-query value of `query`, when Prometheus has exactly one series for it.
fn query_value(prom: SocketAddr, query: &str) -> Option<f64> {
    let body = http_get(
        prom,
        &format!("/api/v1/query?query={}", percent_encode(query)),
    )?;
    // A chunked response carries size lines around the JSON; take the JSON object.
    let json = &body[body.find('{')?..=body.rfind('}')?];
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let result = v["data"]["result"].as_array()?;
    if result.len() != 1 {
        return None;
    }
    result[0]["value"][1].as_str()?.parse().ok()
}

/// The real binary, `sockscope --netns NS serve`, next to a real CLOSE_WAIT population in a
/// namespace the test created: the collector thread enters the namespace, the HTTP
/// listener stays on the host's loopback where Prometheus scrapes it. Both are killed on
/// drop.
struct Exporter {
    child: Child,
    addr: SocketAddr,
    pop: common::Population,
    _ns: common::Netns,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_exporter() -> Exporter {
    let ns = common::Netns::new("prom");
    let pop = common::Population::spawn(
        ns.some(),
        &[
            "closewait",
            "--count",
            &CLOSE_WAIT.to_string(),
            "--client-mode",
            "shutdown",
        ],
    );
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("sockscope"))
        .args([
            "--netns",
            ns.some().unwrap(),
            "serve",
            "--interval",
            "500ms",
        ])
        .args(["--listen", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Exporter {
        child,
        addr,
        pop,
        _ns: ns,
    }
}

#[test]
fn prometheus_scrapes_close_wait_count() {
    if !Path::new(PROMETHEUS).exists() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "{PROMETHEUS} is required under CI (apt-get install prometheus)"
        );
        eprintln!("skipped: {PROMETHEUS} absent (apt-get install prometheus)");
        return;
    }
    if !common::require_root(
        "prometheus_scrapes_close_wait_count",
        "it creates a network namespace",
    ) {
        return;
    }
    let exporter = start_exporter();
    let prom = prometheus(exporter.addr);
    let deadline = Instant::now() + Duration::from_secs(20);
    let query = "sockscope_sockets{state=\"CLOSE_WAIT\"}";
    let mut last = None;
    while Instant::now() < deadline {
        last = query_value(prom.addr, query);
        if last == Some(f64::from(CLOSE_WAIT)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        last,
        Some(f64::from(CLOSE_WAIT)),
        "Prometheus at {} never saw {query} == {CLOSE_WAIT}",
        prom.addr
    );
    // The scrape itself was healthy and the per-process series arrived too.
    assert_eq!(query_value(prom.addr, "up{job=\"sockscope\"}"), Some(1.0));
    assert_eq!(
        query_value(
            prom.addr,
            &format!(
                "sockscope_process_sockets{{comm=\"{}\",state=\"CLOSE_WAIT\"}}",
                exporter.pop.comm()
            )
        ),
        Some(f64::from(CLOSE_WAIT))
    );
    // Every dashboard query parses and evaluates against real sockscope series.
    for expr in dashboard_queries() {
        let q = expr
            .replace("$instance", ".*")
            .replace("$netns", ".*")
            .replace("$__rate_interval", "1m");
        let path = format!("/api/v1/query?query={}", percent_encode(&q));
        assert!(
            http_get(prom.addr, &path).is_some(),
            "Prometheus rejects dashboard query {q}"
        );
    }
}

/// The PromQL of every panel target in the Grafana dashboard.
fn dashboard_queries() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/grafana/sockscope.json");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exprs: Vec<String> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    assert!(exprs.len() >= 10, "dashboard has {} queries", exprs.len());
    exprs
}

#[test]
fn dashboard_is_valid_and_uses_a_datasource_variable() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/grafana/sockscope.json");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vars = dash["templating"]["list"].as_array().unwrap();
    assert!(vars
        .iter()
        .any(|v| v["type"] == "datasource" && v["query"] == "prometheus"));
    for p in dash["panels"].as_array().unwrap() {
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
    }
    for expr in dashboard_queries() {
        assert!(expr.contains("sockscope_"), "{expr}");
    }
}

#[test]
fn alert_rules_pass_promtool() {
    let promtool = Path::new("/usr/bin/promtool");
    if !promtool.exists() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "promtool is required under CI (apt-get install prometheus)"
        );
        eprintln!("skipped: /usr/bin/promtool absent (apt-get install prometheus)");
        return;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/prometheus");
    for args in [
        ["check", "rules", "sockscope-rules.yml"],
        ["test", "rules", "sockscope-rules.test.yml"],
    ] {
        let out = Command::new(promtool)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every detector rule has an alert.
    let rules = std::fs::read_to_string(format!("{dir}/sockscope-rules.yml")).unwrap();
    for rule in sockscope::model::RuleId::ALL {
        assert!(
            rules.contains(&format!("rule: {}", rule.as_str())),
            "no alert for {}",
            rule.as_str()
        );
    }
}
