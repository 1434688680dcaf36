//! The written half of the bad-input table: for every value-taking argument at least one
//! bad value, with the text its error line must contain. The other half (no value, a value
//! given to a switch) is generated from clap in `bad_input.rs`.

use super::config_cases::{config_cases, threshold_cases};
use super::{Case, Env};

/// Arguments that need no written case, and why.
pub const ALLOWED: &[(&str, &str)] = &[];

/// The explicit bad-value cases.
pub fn cases(env: &Env) -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(filter_cases());
    v.extend(netns_cases(env));
    v.extend(config_cases(env));
    v.extend(threshold_cases(env));
    v.extend(snapshot_cases(env));
    v.extend(summary_cases(env));
    v.extend(mode_cases(env));
    v.extend(file_cases(env));
    v.extend(control_character_cases(env));
    v.extend(protocol_cases());
    v
}

/// `-t/-u/-x` and `--path`: an unknown protocol flag, a path that is not one, and the
/// combinations that can only be a mistake (over a snapshot holding all three protocols).
fn protocol_cases() -> Vec<Case> {
    let c = Case::new;
    let snap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/snapshots/udp_unix.json"
    );
    let tcp_only = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tui/closewait_leak.json"
    );
    let mut v = vec![
        c(
            "*:tcp",
            &["summary", "--sctp"],
            "unexpected argument '--sctp'",
        ),
        c("*:udp", &["sockets", "-w"], "unexpected argument '-w'"),
    ];
    for bad in ["run/x.sock", "", "x", "-1"] {
        v.push(c("*:path", &["sockets", "-x", "--path", bad], "--path"));
    }
    let from = |args: &[&'static str]| -> Vec<&'static str> {
        let mut a = vec!["--from-snapshot", snap];
        a.extend_from_slice(args);
        a
    };
    for (covers, args, needle) in [
        (
            "*:path",
            from(&["summary", "--path", "/run/x.sock"]),
            "add -x",
        ),
        ("*:path", from(&["sockets", "-u", "--path", "@x"]), "add -x"),
        (
            "*:unix",
            from(&["sockets", "-x", "--sport", "22"]),
            "--sport filters TCP and UDP",
        ),
        (
            "*:unix",
            from(&["summary", "-x", "--dst", "10.0.0.0/8"]),
            "--dst filters",
        ),
        ("*:unix", from(&["summary", "-x", "-4"]), "-4 filters"),
        (
            "*:path",
            from(&["summary", "-x", "--path", "/run/nothing.sock"]),
            "--path /run/nothing.sock: no UNIX socket is bound to it",
        ),
        (
            "*:path",
            from(&["sockets", "-x", "--path", "@nothing*"]),
            "--path @nothing*: no UNIX socket",
        ),
        (
            "summary:by",
            from(&["summary", "-u", "--by", "listener"]),
            "--by listener",
        ),
        (
            "summary:by",
            from(&["summary", "-x", "--by", "remote"]),
            "--by remote",
        ),
    ] {
        v.push(c(covers, &args, needle));
    }
    for mode in ["summary", "sockets"] {
        v.push(c(
            "*:udp",
            &["--from-snapshot", tcp_only, mode, "-u"],
            "holds no udp sockets (it has tcp): it was saved without -u",
        ));
    }
    v
}

/// A value with a newline, a tab and an escape sequence: still one line, nothing raw on the
/// terminal.
fn control_character_cases(env: &Env) -> Vec<Case> {
    const NASTY: &str = "bad\nvalue\tx\u{1b}[31mred";
    let rec = env.recording.to_string_lossy().into_owned();
    let c = Case::new;
    vec![
        c("*:state", &["summary", "--state", NASTY], "--state"),
        c("*:netns", &["summary", "--netns", NASTY], "namespace"),
        c(
            "*:config",
            &["summary", "--config", NASTY],
            "cannot read config",
        ),
        c(
            "*:thresholds",
            &["summary", "--threshold", NASTY],
            "override",
        ),
        c(
            "*:from_snapshot",
            &["summary", "--from-snapshot", NASTY],
            "snapshot",
        ),
        c("summary:from", &["summary", "--from", NASTY], "bad\\nvalue"),
        c(
            "summary:at",
            &["summary", "--from", &rec, "--at", NASTY],
            "bad\\nvalue",
        ),
        c("serve:listen", &["serve", "--listen", NASTY], "--listen"),
        c("explain:topic", &["explain", NASTY], "unknown topic"),
        c("replay:file", &["replay", NASTY], "bad\\nvalue"),
    ]
}

fn filter_cases() -> Vec<Case> {
    let c = Case::new;
    let mut v = vec![
        c("*:source", &["summary", "--source", "magic"], "--source"),
        c("*:source", &["summary", "--source", "-1"], "--source"),
        c("*:source", &["summary", "--source", "NETLINK"], "--source"),
        c("*:ipv4", &["summary", "-4", "-6"], "-4"),
        c("*:ipv6", &["summary", "-6", "-4"], "-6"),
        c(
            "*:all_netns",
            &["summary", "--all-netns", "--netns", "x"],
            "--all-netns",
        ),
        // A mode that shows one namespace refuses --all-netns rather than show the host
        // alone as if it were all of them.
        c(
            "*:all_netns",
            &["--all-netns", "watch", "--count", "1"],
            "--all-netns",
        ),
        c("*:all_netns", &["--all-netns", "sockets"], "--all-netns"),
        c(
            "*:all_netns",
            &["--all-netns", "record", "-o", "/nonexistent/x"],
            "--all-netns",
        ),
        c(
            "*:all_netns",
            &["--all-netns", "explain", "close-wait"],
            "--all-netns",
        ),
        c(
            "*:max_netns",
            &["summary", "--all-netns", "--max-netns", "0"],
            "--max-netns",
        ),
        c(
            "*:max_netns",
            &["summary", "--all-netns", "--max-netns", "-1"],
            "--max-netns",
        ),
        c(
            "*:max_netns",
            &["summary", "--all-netns", "--max-netns", "many"],
            "--max-netns",
        ),
    ];
    let bad: &[(&str, &[&str])] = &[
        (
            "state",
            &["bogus", "", ",", "close-wait,nope", "-1", "CLOSE WAIT"],
        ),
        (
            "sport",
            &[
                "0", "65536", "abc", "9-3", "1-", "-5", "", "80,443", "1-99999",
            ],
        ),
        ("dport", &["0", "-1", "x-y", "70000", "8080-80", " "]),
        (
            "src",
            &[
                "10.0.0.0/33",
                "not-an-ip",
                "",
                "::1/129",
                "1.2.3.4/-1",
                "-1",
            ],
        ),
        ("dst", &["300.0.0.1", "10.0.0.0/8/8", "fe80::1%", "-1"]),
        ("process", &["", "averyveryverylongname"]),
        ("owner", &["", "root", "process,"]),
        (
            "unit",
            &[
                "",
                "a b",
                "system.slice/x.service",
                "x\ty",
                "x.service@99999999999",
            ],
        ),
        ("container", &["", "-abc", "a b", "web/1", "*"]),
    ];
    for (id, values) in bad {
        for value in *values {
            let flag = format!("--{id}");
            v.push(c(&format!("*:{id}"), &["summary", &flag, value], &flag));
        }
    }
    v
}

fn netns_cases(env: &Env) -> Vec<Case> {
    let c = Case::new;
    let rec = env.path("netns-record.jsonl");
    let mut v = Vec::new();
    let bad = [
        ("sockscope-no-such-ns", "sockscope-no-such-ns"),
        ("/nonexistent/ns/net", "/nonexistent/ns/net"),
        ("/etc/passwd", "/etc/passwd"),
        ("/tmp", "/tmp"),
        ("/proc/self/ns/pid", "/proc/self/ns/pid"),
        ("-1", "-1"),
        ("", "namespace"),
    ];
    for (value, needle) in bad {
        v.push(c("*:netns", &["summary", "--netns", value], needle));
    }
    // Every mode refuses a bad namespace the same way, before it starts anything.
    let ns = "sockscope-no-such-ns";
    for mode in [
        &["sockets"][..],
        &["check"][..],
        &["watch", "--count", "1"][..],
        &["record", "-o", &rec, "--duration", "1s"][..],
        &["serve", "--listen", "127.0.0.1:0"][..],
        &["explain", "CLOSE_WAIT"][..],
    ] {
        let mut args = mode.to_vec();
        args.extend(["--netns", ns]);
        v.push(c("*:netns", &args, ns));
    }
    // Not root: entering another namespace is refused (EPERM), still one line.
    v.push(
        c(
            "*:netns",
            &["summary", "--netns", "/proc/1/ns/net"],
            "/proc/1/ns/net",
        )
        .nobody(),
    );
    v
}

pub fn check_snap(env: &Env, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "check".to_string(),
        "--from-snapshot".to_string(),
        env.snapshot.to_string_lossy().into_owned(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

pub fn case_owned(covers: &str, args: Vec<String>, needle: &str) -> Case {
    let mut c = Case::new(covers, &[], needle);
    c.args = args;
    c
}

fn snapshot_cases(env: &Env) -> Vec<Case> {
    let mut v = Vec::new();
    for (name, needle) in [
        ("missing.json", "missing.json"),
        ("empty", "empty"),
        ("garbage.bin", "garbage.bin"),
        ("snap-truncated.json", "snap-truncated.json"),
        ("snap-wrong-shape.json", "snap-wrong-shape.json"),
        ("a-dir", "a-dir"),
    ] {
        for mode in ["summary", "sockets", "check"] {
            let p = env.path(name);
            v.push(Case::new(
                "*:from_snapshot",
                &[mode, "--from-snapshot", &p],
                needle,
            ));
        }
    }
    let snap = env.snapshot.to_string_lossy().into_owned();
    for (target, needle) in [
        (env.path("no-such-dir/out.json"), "no-such-dir/out.json"),
        (env.path("a-dir"), "a-dir"),
    ] {
        let args = [
            "summary",
            "--from-snapshot",
            &snap,
            "--save-snapshot",
            &target,
        ];
        v.push(Case::new("*:save_snapshot", &args, needle));
    }
    let target = env.path("read-only/out.json");
    let args = [
        "summary",
        "--from-snapshot",
        &snap,
        "--save-snapshot",
        &target,
    ];
    v.push(Case::new("*:save_snapshot", &args, "read-only/out.json").nobody());
    v
}

fn summary_cases(env: &Env) -> Vec<Case> {
    let c = Case::new;
    let rec = env.recording.to_string_lossy().into_owned();
    let mut v = vec![
        c(
            "summary:format",
            &["summary", "--format", "xml"],
            "--format",
        ),
        c("summary:format", &["summary", "-f", "-1"], "--format"),
        c("summary:format", &["summary", "-f", "tsv"], "--format"),
        c("summary:by", &["summary", "--by", "colour"], "--by"),
        c("summary:by", &["summary", "--by", ""], "--by"),
        c("summary:top", &["summary", "--top", "-1"], "--top"),
        c("summary:top", &["summary", "--top", "abc"], "--top"),
        c("summary:top", &["summary", "--top", "1e3"], "--top"),
        c(
            "summary:top",
            &["summary", "--top", "99999999999999999999999"],
            "--top",
        ),
        c("summary:at", &["summary", "--at", "12:00"], "--from"),
        c(
            "summary:from",
            &["summary", "--all-netns", "--from", &rec],
            "--all-netns",
        ),
    ];
    for at in [
        "garbage",
        "25:99",
        "99:99:99",
        "-5m",
        "",
        "+abc",
        "+-5s",
        "+99999999999d",
        "+",
        "2026-13-40T00:00:00Z",
        "12:00:00:00",
    ] {
        v.push(c(
            "summary:at",
            &["summary", "--from", &rec, "--at", at],
            "bad time",
        ));
    }
    // A valid time outside the recording: nothing was seen then, so no tick is shown.
    for at in ["1970-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "+24h"] {
        v.push(c(
            "summary:at",
            &["summary", "--from", &rec, "--at", at],
            "outside the recording",
        ));
    }
    // Filters over a recording made without --sockets are refused, naming the file.
    v.push(c(
        "summary:from",
        &["summary", "--from", &rec, "--state", "listen"],
        "without --sockets",
    ));
    v
}

fn mode_cases(env: &Env) -> Vec<Case> {
    let c = Case::new;
    let rec = env.path("mode-record.jsonl");
    let busy = env.busy.local_addr().unwrap().to_string();
    let mut v = vec![
        c(
            "sockets:format",
            &["sockets", "--format", "xml"],
            "--format",
        ),
        c(
            "sockets:format",
            &["sockets", "--format", "csv,json"],
            "--format",
        ),
        c(
            "*:state",
            &["explain", "close-wait", "--state", "estab"],
            "--state",
        ),
        c(
            "*:netns",
            &["replay", "/nonexistent.jsonl", "--netns", "x"],
            "--netns",
        ),
        // Filters added after the scope list was written are refused there too.
        c(
            "*:unit",
            &["explain", "close-wait", "--unit", "nginx"],
            "--unit",
        ),
        c("sockets:sort", &["sockets", "--sort", "pid"], "--sort"),
        c("sockets:sort", &["sockets", "--sort", ""], "--sort"),
        c("sockets:top", &["sockets", "--top", "-1"], "--top"),
        c("sockets:top", &["sockets", "--top", "ten"], "--top"),
        c(
            "sockets:sort",
            &["sockets", "-x", "--sort", "age"],
            "--sort",
        ),
        c("check:format", &["check", "--format", "table"], "--format"),
        c("completions:shell", &["completions", "tcsh"], "tcsh"),
        c("watch:format", &["watch", "--format", "xml"], "--format"),
        c(
            "kill:max",
            &["kill", "--state", "close-wait", "--max", "x"],
            "--max",
        ),
        c(
            "kill:max",
            &["kill", "--state", "close-wait", "--max", "0"],
            "--max",
        ),
        c(
            "kill:max",
            &["kill", "--state", "close-wait", "--max", "-1"],
            "--max",
        ),
        c(
            "kill:rows",
            &["kill", "--state", "close-wait", "--rows", "x"],
            "--rows",
        ),
        c(
            "watch:rcvbuf",
            &["watch", "--events", "--rcvbuf", "lots"],
            "--rcvbuf",
        ),
        c(
            "explain:topic",
            &["explain", "tcp_tw_recycle"],
            "tcp_tw_recycle",
        ),
        c("explain:topic", &["explain", ""], "valid topics"),
        c(
            "explain:topic",
            &["explain", "CLOSE_WAIT", "extra"],
            "extra",
        ),
        c("watch:count", &["watch", "--count", "0"], "--count"),
        c("watch:count", &["watch", "--count", "-1"], "--count"),
        c("watch:count", &["watch", "-c", "x"], "--count"),
        c("watch:count", &["watch", "-c", "1.5"], "--count"),
        c(
            "watch:count",
            &["watch", "-c", "99999999999999999999999"],
            "--count",
        ),
        // `-n` is the interval, as in watch(1); a bare number over a minute is ambiguous.
        c("watch:interval", &["watch", "-n", "x"], "--interval"),
        c("watch:interval", &["watch", "-n", "500"], "500s or 500ms"),
        c(
            "check:interval",
            &["check", "--interval", "500"],
            "500s or 500ms",
        ),
        c(
            "serve:top_processes",
            &["serve", "--top-processes", "-1"],
            "--top-processes",
        ),
        c(
            "serve:top_processes",
            &["serve", "--top-processes", "x"],
            "--top-processes",
        ),
        c(
            "serve:top_processes",
            &["serve", "--top-processes", "99999999999999999999999"],
            "--top-processes",
        ),
        c(
            "serve:top_units",
            &["serve", "--top-units", "-1"],
            "--top-units",
        ),
        c(
            "serve:top_units",
            &["serve", "--top-units", "all"],
            "--top-units",
        ),
    ];
    for listen in [
        "garbage",
        "127.0.0.1:99999",
        "127.0.0.1:-1",
        "",
        "1.2.3.4.5",
        "[::1",
        "127.0.0.1:abc",
        "localhost:9847",
        "-1",
    ] {
        v.push(c(
            "serve:listen",
            &["serve", "--listen", listen],
            "--listen",
        ));
    }
    // Well-formed but unbindable: an address not on this host, a port in use.
    v.push(c(
        "serve:listen",
        &["serve", "--listen", "192.0.2.1:9847"],
        "192.0.2.1:9847",
    ));
    v.push(c("serve:listen", &["serve", "--listen", &busy], &busy));
    // Not root: a privileged port.
    v.push(
        c(
            "serve:listen",
            &["serve", "--listen", "127.0.0.1:80"],
            "127.0.0.1:80",
        )
        .nobody(),
    );
    // --web-config: a file that is not there or not a file, bad YAML, an unknown key, a
    // value rustls cannot honour, a certificate file that is not there.
    let web = |name: &str, text: &str| env.write(name, text.as_bytes());
    for (path, needle) in [
        (env.path("no-such-web.yml"), "no-such-web.yml".to_string()),
        (env.path("a-dir"), "a-dir".to_string()),
        (web("web-bad.yml", "tls_server_config: [\n"), "--web-config".to_string()),
        (web("web-key.yml", "basic_auth_user: {}\n"), "unknown field `basic_auth_user`".to_string()),
        (
            web("web-suite.yml", "tls_server_config:\n  cert_file: c\n  key_file: k\n  cipher_suites: [TLS_RSA_WITH_3DES_EDE_CBC_SHA]\n"),
            "tls_server_config.cipher_suites".to_string(),
        ),
        (
            web("web-nocert.yml", "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n"),
            "tls_server_config.cert_file".to_string(),
        ),
    ] {
        v.push(c("serve:web_config", &["serve", "--web-config", &path], &needle));
    }
    let intervals = [
        "0", "-1", "-1s", "abc", "2h", "1ms", "0.001", "", "nan", "inf", "1e400", "1s2",
    ];
    let modes: [(&str, &[&str]); 5] = [
        (":interval", &[]),
        ("check:interval", &["check"]),
        ("watch:interval", &["watch", "--count", "1"]),
        ("record:interval", &["record", "-o", &rec]),
        ("serve:interval", &["serve"]),
    ];
    for (key, prefix) in modes {
        for i in intervals {
            let mut args = prefix.to_vec();
            args.extend(["--interval", i]);
            v.push(c(key, &args, "--interval"));
        }
    }
    for d in ["0s", "-1s", "31d", "abc", "", "500ms", "1e400"] {
        let args = ["record", "-o", &rec, "--duration", d];
        v.push(c("record:duration", &args, "--duration"));
    }
    v
}

fn file_cases(env: &Env) -> Vec<Case> {
    let c = Case::new;
    let mut v = Vec::new();
    let bad_recordings = [
        "missing.jsonl",
        "empty",
        "garbage.bin",
        "rec-truncated-header.jsonl",
        "rec-header-only.jsonl",
        "rec-wrong-schema.jsonl",
        "not-a-recording.txt",
        "a-dir",
    ];
    for name in bad_recordings {
        let p = env.path(name);
        v.push(c("summary:from", &["summary", "--from", &p], name));
        v.push(c("replay:file", &["replay", &p], name));
    }
    let unreadable = env.path("unreadable.jsonl");
    v.push(
        c(
            "summary:from",
            &["summary", "--from", &unreadable],
            "unreadable.jsonl",
        )
        .nobody(),
    );
    v.push(c("replay:file", &["replay", &unreadable], "unreadable.jsonl").nobody());
    v.push(c("replay:file", &["replay", "-1"], "-1"));
    // A good recording still needs a terminal to replay on.
    let rec = env.recording.to_string_lossy().into_owned();
    v.push(c("replay:file", &["replay", &rec], "not a terminal"));
    // record -o: a missing directory, a read-only one (as nobody: root writes anyway), an
    // existing file that is not a recording, a directory.
    let not_rec = env.path("not-a-recording.txt");
    for (target, needle, nobody) in [
        (
            env.path("no-such-dir/r.jsonl"),
            "no-such-dir/r.jsonl",
            false,
        ),
        (env.path("read-only/r.jsonl"), "read-only/r.jsonl", true),
        (not_rec.clone(), "not-a-recording.txt", false),
        (env.path("garbage.bin"), "garbage.bin", false),
        (env.path("a-dir"), "a-dir", false),
    ] {
        let case = c(
            "record:output",
            &["record", "-o", &target, "--duration", "1s"],
            needle,
        );
        v.push(if nobody { case.nobody() } else { case });
    }
    v
}
