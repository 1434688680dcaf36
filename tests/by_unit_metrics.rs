//! `serve`'s per-unit and per-container gauges against the truth (issue 18), through the
//! real binary scraping `/metrics`. The test makes three cgroups under the writable systemd
//! hierarchy: a `.service` with a hostile name (an escape sequence), a plain `.service` and a
//! `docker-<64 hex>.scope`; a holder in a namespace of its own is moved into each *before*
//! it opens its sockets (so attribution never sees it outside). With `--top-units 2` the two
//! biggest units get series, the third is `(other)`; the container family names the
//! docker container; both families add up to the socket totals; `--top-units 0` exports
//! neither. Holders are moved back to the root cgroup, killed and the cgroups removed on
//! drop, failure included.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{python, require_root, scrape, wait_for, Cgroups, Netns, Server};

/// Waits for `go`, then opens argv[1] TCP listeners and argv[2] UDP sockets on loopback,
/// says `ready` and holds them until stdin closes.
const HOLDER: &str = r#"
import socket, sys
assert sys.stdin.readline().strip() == 'go'
k = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); k.append(s)
for _ in range(int(sys.argv[2])):
    s = socket.socket(type=socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0)); k.append(s)
print('ready', flush=True)
sys.stdin.read()
"#;

/// A holder of `tcp` listeners and `udp` bound sockets in `ns`, made inside `dir`.
fn holder(g: &mut Cgroups, ns: &Netns, dir: &Path, tcp: u32, udp: u32) -> u32 {
    let (tcp, udp) = (tcp.to_string(), udp.to_string());
    g.start_in(
        dir,
        &mut ns.cmd(&python(), &["-c", HOLDER, &tcp, &udp]),
        "ready",
    )
}

/// The samples of `family` as (label text, value).
fn samples(body: &str, family: &str) -> Vec<(String, u64)> {
    let prefix = format!("sockscope_{family}{{");
    body.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (labels, value) = rest.rsplit_once("} ")?;
            Some((labels.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Sum of the samples whose labels contain every `parts`.
fn sum(s: &[(String, u64)], parts: &[&str]) -> u64 {
    s.iter()
        .filter(|(l, _)| parts.iter().all(|p| l.contains(p)))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn unit_and_container_gauges_equal_the_truth_and_add_up() {
    if !require_root(
        "unit_and_container_gauges_equal_the_truth_and_add_up",
        "it creates cgroups and a network namespace",
    ) {
        return;
    }
    let me = std::process::id();
    let id: String = (0..4)
        .map(|i| format!("{:016x}", u64::from(me) * 104_729 + i))
        .collect();
    let evil = format!("ssc\x1b[2Jevil-{me}.service");
    let plain = format!("sscplain-{me}.service");
    let scope = format!("docker-{id}.scope");
    let mut g = Cgroups::new();
    let ns = Netns::new("w4um");
    let (d_evil, d_plain, d_scope) = (
        g.make(&format!("system.slice/{evil}")),
        g.make(&format!("system.slice/{plain}")),
        g.make(&format!("system.slice/{scope}")),
    );
    holder(&mut g, &ns, &d_evil, 3, 2);
    holder(&mut g, &ns, &d_plain, 1, 0);
    holder(&mut g, &ns, &d_scope, 2, 0);

    let mut srv = Server::start(
        "",
        &[
            "--netns",
            &ns.name,
            "-t",
            "-u",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "200ms",
            "--top-units",
            "2",
        ],
    );
    let addr = srv.addr();
    let body = wait_for("unit series", Duration::from_secs(20), || {
        let b = scrape(&addr);
        (sum(&samples(&b, "unit_sockets"), &[]) == 8).then_some(b)
    });
    assert!(!body.contains('\x1b'), "raw escape in the exposition");
    let units = samples(&body, "unit_sockets");
    // The exposition escapes the backslash of the escaped name once more.
    let evil_label = format!(r#"unit="ssc\\e[2Jevil-{me}.service""#);
    assert_eq!(
        sum(
            &units,
            &[&evil_label, "protocol=\"tcp\"", "state=\"LISTEN\""]
        ),
        3,
        "{units:#?}"
    );
    assert_eq!(
        sum(
            &units,
            &[&evil_label, "protocol=\"udp\"", "state=\"UNCONN\""]
        ),
        2
    );
    assert_eq!(
        sum(
            &units,
            &[&format!("unit=\"{}", &scope[..40]), "state=\"LISTEN\""]
        ),
        2
    );
    // A name longer than the label cap (64 bytes) is cut, marked with `…`.
    assert!(
        units.iter().any(|(l, _)| l.contains("…\",protocol=")),
        "{units:#?}"
    );
    // The third unit is beyond --top-units 2: summed as (other), never named.
    assert!(!body.contains(&plain), "{units:#?}");
    assert_eq!(sum(&units, &["unit=\"(other)\"", "protocol=\"tcp\""]), 1);
    // Sums equal the per-protocol totals.
    let tcp_total = sum(&samples(&body, "sockets"), &[]);
    assert_eq!(sum(&units, &["protocol=\"tcp\""]), tcp_total);
    assert_eq!(tcp_total, 6);
    assert_eq!(sum(&units, &["protocol=\"udp\""]), 2);

    let ctrs = samples(&body, "container_sockets");
    let short = &id[..12];
    let want = format!(r#"runtime="docker",container="{short}",name="""#);
    assert_eq!(
        sum(&ctrs, &[&want, "protocol=\"tcp\"", "state=\"LISTEN\""]),
        2,
        "{ctrs:#?}"
    );
    assert_eq!(sum(&ctrs, &["container=\"(none)\"", "protocol=\"tcp\""]), 4);
    assert_eq!(sum(&ctrs, &["container=\"(none)\"", "protocol=\"udp\""]), 2);
    assert_eq!(sum(&ctrs, &[]), 8);
    drop(srv);

    // The off-switch.
    let mut off = Server::start(
        "",
        &[
            "--netns",
            &ns.name,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "200ms",
            "--top-units",
            "0",
        ],
    );
    let addr = off.addr();
    let body = wait_for("a tick", Duration::from_secs(20), || {
        let b = scrape(&addr);
        (sum(&samples(&b, "sockets"), &[]) == 6).then_some(b)
    });
    assert!(!body.contains("sockscope_unit_sockets"), "{body}");
    assert!(!body.contains("sockscope_container_sockets"), "{body}");
    let counts: BTreeMap<String, u64> = samples(&body, "sockets").into_iter().collect();
    assert_eq!(counts.values().sum::<u64>(), 6);
}
