//! `summary` and `sockets` for UDP and UNIX sockets (`-u`, `-x`) through the real binary
//! over a recorded snapshot (`--from-snapshot`): ss-style states and columns, the protocol
//! prefix when several are shown, JSON schema 2, filters, hostile names escaped, and TCP
//! alone unchanged. The fixture (`fixtures/snapshots/make_udp_unix.py`) holds a UDP receiver
//! dropping datagrams, connected and v6 UDP, UNIX listeners (one full: 5 pending on a backlog
//! of 4), an abstract name, a socketpair, a dgram socket, a /proc-style record with unknown
//! queues, and a path with an escape sequence and invalid UTF-8 owned by a hostile comm.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;

const FIXTURE: &str = "tests/fixtures/snapshots/udp_unix.json";

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

fn ok(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    assert!(
        !out.contains('\x1b') && !err.contains('\x1b'),
        "{args:?}: raw escape"
    );
    out
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(args)).unwrap()
}

#[test]
fn tcp_alone_is_unchanged_by_udp_and_unix_in_the_snapshot() {
    let out = ok(&["summary"]);
    assert_eq!(out, "ESTABLISHED\t1\nLISTEN\t1\n");
    assert_eq!(ok(&["summary", "-t"]), out);
    assert_eq!(ok(&["sockets"]), ok(&["sockets", "-t"]));
    let v = json(&["summary", "--format", "json"]);
    assert_eq!(v["totals"], serde_json::json!({"tcp": 2}));
    assert!(v.get("udp").is_none());
}

#[test]
fn summary_text_keeps_the_awk_shape_and_prefixes_the_protocol() {
    assert_eq!(ok(&["summary", "-u"]), "UNCONN\t4\nESTAB\t1\n");
    assert_eq!(ok(&["summary", "-x"]), "LISTEN\t5\nESTAB\t3\nUNCONN\t1\n");
    let all = ok(&["summary", "-tux"]);
    insta::assert_snapshot!("summary_tux_text", all);
    for line in all.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "{line}");
        assert!(["tcp", "udp", "unix"].contains(&cols[0]), "{line}");
        cols[2].parse::<u64>().unwrap();
    }
    // The order of the flags does not matter; the output order is tcp, udp, unix.
    assert_eq!(ok(&["summary", "-x", "-u", "-t"]), all);
    // Unattributed sockets and unknown queues are said on stderr, stdout stays parseable.
    let (_, _, err) = run(&["summary", "-x"]);
    assert!(
        err.contains("note: 1 of 9 unix sockets unattributed"),
        "{err}"
    );
    assert!(
        err.contains("queue lengths of 1 unix sockets are unknown"),
        "{err}"
    );
}

#[test]
fn summary_by_process_and_listener() {
    let udp = ok(&["summary", "-u", "--by", "process"]);
    insta::assert_snapshot!("summary_udp_process_text", udp);
    assert!(
        udp.contains("600\tstatsd\tstatsd\t1\t1\t0\t98765\t212992\n"),
        "{udp}"
    );
    // Rows add up to the total: the unattributed socket has its own row.
    assert!(
        udp.contains("-\t(unattributed)\t-\t1\t1\t0\t0\t0\n"),
        "{udp}"
    );
    insta::assert_snapshot!(
        "summary_unix_process_table",
        ok(&["summary", "-x", "--by", "process", "--format", "table"])
    );
    let l = ok(&["summary", "-x", "--by", "listener", "--format", "table"]);
    insta::assert_snapshot!("summary_unix_listener_table", l);
    // Fullest accept queue first: 5 pending on a backlog of 4.
    assert!(
        l.lines()
            .nth(1)
            .unwrap()
            .starts_with("/run/php/php-fpm.sock"),
        "{l}"
    );
    assert!(l.contains("/tmp/\\e[31mevil\\xff.sock"), "{l}");
    let top = ok(&[
        "summary", "-x", "--by", "listener", "-f", "table", "--top", "2",
    ]);
    assert!(top.contains("(3 more; --top 0 shows all)"), "{top}");
    // Several protocols in one process table: each section carries its protocol.
    let both = ok(&["summary", "-ux", "--by", "process"]);
    assert!(both.starts_with("udp\tPID\tCOMM\tUSER\tTOTAL\tUNCONN\tESTAB\tDROPS\tRECV_Q\n"));
    // RECV_Q is bytes (a listener's 5 pending connections are not), and this snapshot
    // holds a UNIX socket read from /proc/net/unix, whose queue is unknown: `-`, not 0.
    assert!(
        both.contains("unix\t800\tphp-fpm8.2\twww-data\t3\t1\t2\t0\t0\t-\n"),
        "{both}"
    );
}

#[test]
fn summary_tables() {
    insta::assert_snapshot!(
        "summary_tux_table",
        ok(&["summary", "-tux", "--format", "table"])
    );
}

#[test]
fn summary_json_has_totals_and_states_per_protocol() {
    let v = json(&["summary", "-tux", "--format", "json"]);
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["protocols"], serde_json::json!(["tcp", "udp", "unix"]));
    assert_eq!(
        v["totals"],
        serde_json::json!({"tcp": 2, "udp": 5, "unix": 9})
    );
    // TCP where version 1 had it.
    assert_eq!(v["total"], 2);
    assert_eq!(v["states"]["LISTEN"], 1);
    assert_eq!(
        v["udp"]["states"],
        serde_json::json!({"UNCONN": 4, "ESTAB": 1})
    );
    assert_eq!(v["udp"]["drops"], 98_765);
    assert_eq!(v["udp"]["unattributed"], 1);
    let statsd = &v["udp"]["processes"][1];
    assert_eq!(
        (&statsd["comm"], &statsd["drops"]),
        (&"statsd".into(), &98_765.into())
    );
    assert_eq!(
        v["unix"]["states"],
        serde_json::json!({"LISTEN": 5, "ESTAB": 3, "UNCONN": 1, "SYN_SENT": 0})
    );
    assert_eq!(
        v["unix"]["types"],
        serde_json::json!({"stream": 7, "dgram": 1, "seqpacket": 1})
    );
    let fpm = &v["unix"]["listeners"][0];
    assert_eq!(fpm["name"], "/run/php/php-fpm.sock");
    assert_eq!((&fpm["pending"], &fpm["backlog"]), (&5.into(), &4.into()));
    let evil = &v["unix"]["listeners"][1];
    assert_eq!(evil["name_b64"], "L3RtcC8bWzMxbWV2aWz/LnNvY2s=");
    assert_eq!(evil["comm_b64"], "ZXZpbBtbN23+");
    let x11 = v["unix"]["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["abstract"] == true)
        .unwrap();
    assert_eq!(x11["name"], "/tmp/.X11-unix/X0");
    // -u alone: no TCP fields rather than "0 TCP sockets".
    let v = json(&["summary", "-u", "--format", "json"]);
    assert_eq!(v["totals"], serde_json::json!({"udp": 5}));
    assert!(v.get("total").is_none() && v.get("states").is_none(), "{v}");
}

#[test]
fn socket_lists_are_ss_like() {
    let udp = ok(&["sockets", "-u"]);
    insta::assert_snapshot!("sockets_udp", udp);
    assert!(udp.starts_with("State  Recv-Q Send-Q Local"), "{udp}");
    let statsd = udp.lines().find(|l| l.contains("8125")).unwrap();
    assert!(statsd.contains(" 98765 statsd/600"), "{statsd}");
    // Drops unknown (no skmem) are '-', not 0.
    let mdns = udp.lines().find(|l| l.contains(":5353")).unwrap();
    assert!(mdns.ends_with("0.0.0.0:*               - -"), "{mdns:?}");
    let unix = ok(&["sockets", "-x"]);
    insta::assert_snapshot!("sockets_unix", unix);
    let dbus = unix.lines().find(|l| l.contains("dbus")).unwrap();
    assert!(
        dbus.starts_with("u_str ESTAB       -      - /run/dbus"),
        "{dbus}"
    );
    let pair: Vec<&str> = unix.lines().filter(|l| l.contains(" * ")).collect();
    assert_eq!(pair.len(), 2, "the socketpair is listed, unnamed: {unix}");
    assert!(unix.contains("@/tmp/.X11-unix/X0"));
    assert!(unix.contains("/tmp/\\e[31mevil\\xff.sock"));
    assert!(unix.contains("evil\\e[7m\\xfe/1337"));
    let all = ok(&["sockets", "-tux"]);
    assert!(all.starts_with("== tcp ==\nState       Recv-Q"), "{all}");
    assert!(all.contains("\n\n== udp ==\n") && all.contains("\n\n== unix ==\n"));
}

#[test]
fn socket_json_has_every_field() {
    let v = json(&["sockets", "-ux", "--format", "json"]);
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["totals"], serde_json::json!({"udp": 5, "unix": 9}));
    assert!(v.get("sockets").is_none(), "TCP not shown: {v}");
    let statsd = v["udp"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["local"] == "127.0.0.1:8125")
        .unwrap();
    assert_eq!(statsd["state"], "UNCONN");
    assert_eq!(
        (&statsd["drops"], &statsd["rcvbuf"]),
        (&98_765.into(), &212_992.into())
    );
    assert_eq!(statsd["comm"], "statsd");
    let unix = v["unix"].as_array().unwrap();
    let dbus = unix.iter().find(|s| s["inode"] == 308).unwrap();
    assert!(
        dbus["recv_q"].is_null() && dbus["send_q"].is_null(),
        "{dbus}"
    );
    assert_eq!(
        (&dbus["netid"], &dbus["type"]),
        (&"u_str".into(), &"stream".into())
    );
    let pair = unix.iter().find(|s| s["inode"] == 303).unwrap();
    assert!(pair["name"].is_null());
    assert_eq!(pair["peer_inode"], 304);
    let evil = unix.iter().find(|s| s["inode"] == 307).unwrap();
    assert_eq!(evil["name_b64"], "L3RtcC8bWzMxbWV2aWz/LnNvY2s=");
    assert_eq!(evil["abstract"], false);
    let x11 = unix.iter().find(|s| s["inode"] == 302).unwrap();
    assert_eq!(x11["abstract"], true);
}

#[test]
fn filters_apply_where_they_make_sense() {
    let dns = ok(&["sockets", "-u", "--sport", "53"]);
    assert_eq!(dns.lines().count(), 3, "{dns}");
    assert_eq!(
        ok(&["sockets", "-u", "--sport", "53", "-4"])
            .lines()
            .count(),
        2
    );
    assert_eq!(ok(&["summary", "-u", "--state", "estab"]), "ESTAB\t1\n");
    assert_eq!(
        ok(&["summary", "-x", "--path", "/run/php/*"]),
        "LISTEN\t1\n"
    );
    assert_eq!(
        ok(&["summary", "-x", "--path", "@/tmp/.X11-unix/X0"]),
        "LISTEN\t1\n"
    );
    assert_eq!(
        ok(&["summary", "-x", "--process", "php-fpm8.2"]),
        "ESTAB\t2\nLISTEN\t1\n"
    );
    assert_eq!(
        ok(&["summary", "-x", "--owner", "unattributed"]),
        "ESTAB\t1\n"
    );
    // --path narrows UNIX only; ports narrow TCP and UDP only.
    let mixed = ok(&[
        "summary",
        "-tx",
        "--sport",
        "22",
        "--path",
        "/run/docker.sock",
    ]);
    assert_eq!(
        mixed,
        "tcp\tESTABLISHED\t1\ntcp\tLISTEN\t1\nunix\tLISTEN\t1\n"
    );
    // A hostile path is matched by its exact bytes; a prefix reaches it.
    let evil = ok(&["sockets", "-x", "--path", "/tmp/*"]);
    assert_eq!(evil.lines().count(), 2, "{evil}");
}

#[test]
fn mistakes_are_one_line_and_exit_2() {
    for (args, needle) in [
        (&["summary", "--path", "/run/x.sock"][..], "add -x"),
        (
            &["sockets", "-x", "--sport", "22"],
            "--sport filters TCP and UDP",
        ),
        (
            &["sockets", "-x", "--path", "/run/nothing.sock"],
            "--path /run/nothing.sock: no UNIX socket is bound to it",
        ),
        (
            &["summary", "-x", "--path", "/run/php/*", "--state", "estab"],
            "no UNIX socket bound to it passes the other filters",
        ),
        (
            &["summary", "-u", "--by", "listener"],
            "UDP sockets do not listen",
        ),
        (
            &["summary", "--udp-lite"],
            "unexpected argument '--udp-lite'",
        ),
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
