//! The UDP and UNIX families of the exposition, rendered in-process from the snapshot
//! fixture `serve/udp_unix.json`: a DNS server dropping datagrams, a connected statsd
//! client, a full php-fpm listener, a listener bound to a hostile path (escape sequences,
//! quotes, a backslash, a newline and control bytes past any sane length), an abstract
//! name with a NUL inside, a listener read from /proc (queues unknown), socketpairs.

use std::collections::BTreeMap;

use sockscope::analyze::engine::{Analysis, Analyzer};
use sockscope::model::{Protocols, Snapshot, TcpState, UnixKind, UnixName, UnixRecord};
use sockscope::report::prometheus::proto_metrics::PATH_LABEL_MAX;
use sockscope::report::prometheus::{
    assemble, render_data, render_status, to_prometheus_text, Options,
};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/serve/udp_unix.json");

pub(crate) fn fixture_snapshot() -> Snapshot {
    serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap()
}

fn tick(snap: Snapshot) -> (Snapshot, Analysis) {
    let analysis = Analyzer::new().observe(&snap);
    (snap, analysis)
}

fn render(snap: Snapshot, opts: &Options) -> String {
    render_data(&[tick(snap)], &BTreeMap::new(), opts)
}

/// The sample lines of family `name` (`name{` or `name ` at the start).
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .collect()
}

/// Undoes the exposition's label escaping (`\\`, `\"`, `\n`).
fn unescape_label(v: &str) -> String {
    let mut out = String::new();
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn udp_and_unix_families_names_labels_and_values() {
    let text = render(fixture_snapshot(), &Options::default());
    for line in [
        "sockscope_udp_sockets{netns=\"host\",state=\"ESTAB\"} 1",
        "sockscope_udp_sockets{netns=\"host\",state=\"UNCONN\"} 3",
        "sockscope_udp_process_sockets{netns=\"host\",comm=\"dnsmasq\",state=\"UNCONN\"} 2",
        "sockscope_udp_process_sockets{netns=\"host\",comm=\"statsd\",state=\"ESTAB\"} 1",
        "sockscope_udp_process_drops{netns=\"host\",comm=\"dnsmasq\"} 1520",
        "sockscope_udp_process_receive_queue_bytes{netns=\"host\",comm=\"dnsmasq\"} 212992",
        "sockscope_udp_socket_drops{netns=\"host\"} 1523",
        "sockscope_udp_unattributed_sockets{netns=\"host\"} 1",
        "sockscope_kernel_udp_total{netns=\"host\",group=\"Udp\",name=\"RcvbufErrors\"} 1520",
        "sockscope_kernel_udp_total{netns=\"host\",group=\"Udp6\",name=\"InErrors\"} 20",
        "sockscope_unix_sockets{netns=\"host\",state=\"LISTEN\"} 4",
        "sockscope_unix_sockets{netns=\"host\",state=\"ESTAB\"} 2",
        "sockscope_unix_sockets{netns=\"host\",state=\"UNCONN\"} 2",
        "sockscope_unix_type_sockets{netns=\"host\",type=\"seqpacket\"} 1",
        "sockscope_unix_process_sockets{netns=\"host\",comm=\"php-fpm\",state=\"ESTAB\"} 2",
        "sockscope_unix_listener_accept_queue{netns=\"host\",path=\"/run/php/php-fpm.sock\",type=\"stream\"} 5",
        "sockscope_unix_listener_backlog{netns=\"host\",path=\"/run/php/php-fpm.sock\",type=\"stream\"} 4",
        "sockscope_unix_listener_backlog{netns=\"host\",path=\"@dbus@x\",type=\"seqpacket\"} 4096",
        "sockscope_unix_unattributed_sockets{netns=\"host\"} 1",
        "# TYPE sockscope_kernel_udp counter",
        "# TYPE sockscope_udp_socket_drops gauge",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
    }
    // The fullest listener first (5 waiting on a backlog of 4 is over it: Linux admits
    // backlog+1).
    let accept = samples(&text, "sockscope_unix_listener_accept_queue");
    assert!(accept[0].contains("php-fpm.sock"), "{accept:?}");
    // A listener read from /proc has no queue numbers: no series, never a 0.
    assert!(!text.contains("proc-only.sock"), "{text}");
    // Without the tick thread's ledger the observed-drops counter is not guessed.
    assert!(
        !text.contains("# TYPE sockscope_udp_drops_observed counter"),
        "{text}"
    );
    // The TCP families are still there (-t was collected too).
    assert!(text.contains("sockscope_sockets{netns=\"host\",state=\"LISTEN\"} 1"));
}

#[test]
fn hostile_paths_and_commands_are_escaped_and_capped() {
    let text = render(fixture_snapshot(), &Options::default());
    assert!(
        !text.contains('\x1b') && !text.contains('\x01'),
        "raw control bytes"
    );
    let hostile: Vec<&str> = samples(&text, "sockscope_unix_listener_backlog")
        .into_iter()
        .filter(|l| l.contains("path=\"/tmp/"))
        .collect();
    assert_eq!(hostile.len(), 1, "{text}");
    let label = hostile[0]
        .split_once("path=\"")
        .and_then(|(_, r)| r.rsplit_once("\",type="))
        .map(|(v, _)| unescape_label(v))
        .unwrap();
    // The label holds the name's escaped text (\e, \n, \x01 as text), cut with an ellipsis.
    assert!(
        label.starts_with("/tmp/\\e[31mred\"q\\\\b\\nline\\x01"),
        "{label:?}"
    );
    assert!(label.len() <= PATH_LABEL_MAX, "{} bytes", label.len());
    assert!(label.ends_with('…'), "{label:?}");
    assert!(!label.contains('\n'), "{label:?}");
    assert!(
        text.contains("comm=\"ev\\\"il\\\\e[7m\""),
        "the command is escaped the same way: {text}"
    );
    super::promtool_lints_clean(&to_prometheus_text(&assemble(
        &text,
        &render_status(&Default::default()),
    )));
}

#[test]
fn udp_and_unix_exposition_golden() {
    insta::assert_snapshot!(render(fixture_snapshot(), &Options::default()));
}

#[test]
fn caps_and_pid_labels_apply_to_udp_and_unix() {
    let capped = Options {
        top_processes: 1,
        top_listeners: 1,
        ..Options::default()
    };
    let text = render(fixture_snapshot(), &capped);
    assert!(text.contains("comm=\"dnsmasq\""), "{text}");
    assert!(!text.contains("comm=\"statsd\""), "{text}");
    let listeners = samples(&text, "sockscope_unix_listener_backlog");
    assert_eq!(listeners.len(), 1, "{listeners:?}");
    assert!(listeners[0].contains("php-fpm.sock"));
    let with_pids = Options {
        pid_labels: true,
        ..Options::default()
    };
    let text = render(fixture_snapshot(), &with_pids);
    assert!(text
        .contains("sockscope_udp_process_drops{netns=\"host\",comm=\"dnsmasq\",pid=\"53\"} 1520"));
    assert!(text.contains(
        "sockscope_unix_process_sockets{netns=\"host\",comm=\"php-fpm\",pid=\"900\",state=\"LISTEN\"} 1"
    ));
}

#[test]
fn a_protocol_not_collected_exports_nothing() {
    let mut tcp_only = fixture_snapshot();
    tcp_only.protocols = Protocols::TCP;
    let text = render(tcp_only, &Options::default());
    for absent in ["sockscope_udp_", "sockscope_unix_", "sockscope_kernel_udp"] {
        assert!(!text.contains(absent), "{absent} in\n{text}");
    }
    // -u alone: no TCP per-state zeros that would claim "no TCP socket".
    let mut udp_only = fixture_snapshot();
    udp_only.protocols = Protocols::from_flags(false, true, false);
    udp_only.sockets.clear();
    let text = render(udp_only, &Options::default());
    for absent in [
        "sockscope_sockets{",
        "sockscope_unattributed_sockets{",
        "sockscope_ownerless_sockets{",
        "sockscope_unix_",
    ] {
        assert!(!text.contains(absent), "{absent} in\n{text}");
    }
    assert!(text.contains("sockscope_udp_sockets{"));
}

#[test]
fn unknown_drops_are_left_out_not_zero() {
    // A recording from before UDP memory info: sockets without skmem.
    let mut snap = fixture_snapshot();
    for s in &mut snap.udp {
        s.skmem = None;
    }
    let text = render(snap, &Options::default());
    assert!(!text.contains("sockscope_udp_socket_drops"), "{text}");
    assert!(!text.contains("sockscope_udp_process_drops"), "{text}");
    assert!(text.contains("sockscope_udp_sockets{netns=\"host\",state=\"UNCONN\"} 3"));
}

#[test]
fn one_path_bound_twice_exports_its_fullest_listener_once() {
    let mut snap = fixture_snapshot();
    snap.protocols = Protocols::from_flags(false, false, true);
    let listener = |inode, pending, backlog| {
        let mut l = UnixRecord::new(UnixKind::Stream, TcpState::Listen, inode);
        l.name = Some(UnixName::Path("/run/app.sock".into()));
        l.recv_q = Some(pending);
        l.send_q = Some(backlog);
        l
    };
    // The old listener outlived an unlink and a new bind to the same path.
    snap.unix = vec![listener(1, 0, 128), listener(2, 9, 16)];
    let text = render(snap, &Options::default());
    let backlog = samples(&text, "sockscope_unix_listener_backlog");
    assert_eq!(
        backlog,
        ["sockscope_unix_listener_backlog{netns=\"host\",path=\"/run/app.sock\",type=\"stream\"} 16"]
    );
}
