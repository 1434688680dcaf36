//! The bad-input sweep (issue 6, item 7): every flag of every subcommand, every filter form,
//! every threshold and config key, every namespace and file argument is tried with bad values
//! through the real binary. Each must give exactly one stderr line that names the offending
//! flag, key or file, exit 2 (the documented usage-error code), empty stdout, and no panic or
//! backtrace text.
//!
//! The flags come from clap itself (`Cli::command()`), so a new flag fails
//! `every_flag_has_a_bad_value_case` until it gets a case in `bad_input/cases.rs` (config and
//! threshold rows: `bad_input/config_cases.rs`) or an entry
//! in [`cases::ALLOWED`] with a reason. The config keys come from `Thresholds::default()`, so
//! a new key gets its bad-type and bad-value cases without anyone writing them.
#![allow(clippy::unwrap_used)]

#[path = "bad_input/cases.rs"]
mod cases;
mod common;
#[path = "bad_input/config_cases.rs"]
mod config_cases;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use clap::CommandFactory;
use sockscope::cli::Cli;

/// One bad invocation and what its one stderr line must name.
#[derive(Debug, Clone)]
pub struct Case {
    /// The clap argument it exercises: `SUBCOMMAND:ID`, `:ID` for the top level, `*:ID` for a
    /// global argument (the same parser under every subcommand).
    pub covers: String,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Text the stderr line must contain (the flag, key, value or file).
    pub needle: String,
    /// Run as nobody (uid 65534, no groups): for permission cases root would bypass.
    pub as_nobody: bool,
    /// Extra environment (e.g. `SOCKSCOPE_CONFIG`).
    pub env: Vec<(String, String)>,
}

impl Case {
    /// A case run as root.
    pub fn new(covers: &str, args: &[&str], needle: &str) -> Case {
        Case {
            covers: covers.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            needle: needle.to_string(),
            as_nobody: false,
            env: Vec::new(),
        }
    }

    /// The same case run as nobody.
    pub fn nobody(mut self) -> Case {
        self.as_nobody = true;
        self
    }

    /// The same case with `KEY=VALUE` in the environment.
    pub fn env(mut self, k: &str, v: &str) -> Case {
        self.env.push((k.to_string(), v.to_string()));
        self
    }
}

/// One argument as clap defines it, with the subcommand it is reached through.
#[derive(Debug, Clone)]
pub struct ClapArg {
    /// `SUBCOMMAND:ID`, `:ID` or `*:ID` (see [`Case::covers`]).
    pub key: String,
    /// The subcommand path to put before it (`["summary"]` for a global argument).
    pub prefix: Vec<String>,
    /// `--long`, when it has one.
    pub long: Option<String>,
    /// `<VALUE_NAME>` of a positional argument.
    pub positional: Option<String>,
    /// Whether it takes a value (else it is a switch).
    pub takes_value: bool,
}

/// Every argument of every subcommand (globals once), from clap.
pub fn clap_args() -> Vec<ClapArg> {
    let mut root = Cli::command();
    root.build();
    let mut out: Vec<ClapArg> = Vec::new();
    let mut seen = BTreeSet::new();
    let subs: Vec<(String, clap::Command)> = std::iter::once((String::new(), root.clone()))
        .chain(
            root.get_subcommands()
                .map(|s| (s.get_name().to_string(), s.clone())),
        )
        .collect();
    for (sub, cmd) in subs {
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let global = a.is_global_set();
            let key = if global {
                format!("*:{id}")
            } else {
                format!("{sub}:{id}")
            };
            if !seen.insert(key.clone()) {
                continue;
            }
            let prefix = match (global, sub.as_str()) {
                (true, _) => vec!["summary".to_string()],
                (false, "") => vec![],
                (false, s) => vec![s.to_string()],
            };
            let positional = a.is_positional().then(|| {
                let name = a
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map_or(id.to_uppercase(), |n| n.to_string());
                format!("<{name}>")
            });
            out.push(ClapArg {
                key,
                prefix,
                long: a.get_long().map(|l| format!("--{l}")),
                positional,
                takes_value: a.get_action().takes_values(),
            });
        }
    }
    out
}

/// Cases generated from clap for every argument: a value-taking flag given no value, a
/// positional left out, a switch given a value.
fn generated_cases(args: &[ClapArg]) -> Vec<Case> {
    let mut out = Vec::new();
    for a in args {
        let mut argv = a.prefix.clone();
        let needle = match (&a.long, &a.positional) {
            (Some(long), _) if a.takes_value => {
                argv.push(long.clone());
                long.clone()
            }
            (Some(long), _) => {
                argv.push(format!("{long}=x"));
                long.clone()
            }
            (None, Some(name)) => name.clone(),
            // Short-only switches (-4, -6) are covered by the explicit conflict case.
            (None, None) => continue,
        };
        out.push(Case {
            covers: a.key.clone(),
            args: argv,
            needle,
            as_nobody: false,
            env: Vec::new(),
        });
    }
    out
}

/// Files the cases point at, in a directory nobody can traverse, removed on drop.
pub struct Env {
    /// The directory (mode 0755).
    pub dir: tempfile::TempDir,
    /// A good snapshot fixture (`--from-snapshot`).
    pub snapshot: PathBuf,
    /// A good recording fixture (`--from`).
    pub recording: PathBuf,
    /// A copy of the binary nobody can execute.
    bin_copy: (tempfile::TempDir, PathBuf),
    /// A loopback port held open, so `serve --listen` on it cannot bind.
    pub busy: std::net::TcpListener,
}

impl Env {
    fn new() -> Env {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("ssc-badinput-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let snap = std::fs::read(root.join("tui/closewait_leak.json")).unwrap();
        let rec = std::fs::read(root.join("record/leak-v1.jsonl")).unwrap();
        // Copies in this world-readable directory: the checkout may sit in a 0700 directory
        // (mktemp -d) that the cases run as nobody could not enter.
        let e = Env {
            snapshot: dir.path().join("closewait_leak.json"),
            recording: dir.path().join("leak-v1.jsonl"),
            dir,
            bin_copy: common::world_executable_copy(),
            busy: std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        };
        std::fs::write(&e.snapshot, &snap).unwrap();
        std::fs::write(&e.recording, &rec).unwrap();
        let header_len = rec.iter().position(|&b| b == b'\n').unwrap() + 1;
        e.write("empty", b"");
        e.write(
            "garbage.bin",
            b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00garbage\n\x00\x01",
        );
        e.write("snap-truncated.json", &snap[..snap.len() / 2]);
        e.write("snap-wrong-shape.json", b"[1, 2, 3]\n");
        e.write("rec-truncated-header.jsonl", &rec[..header_len / 2]);
        e.write("rec-header-only.jsonl", &rec[..header_len]);
        e.write("rec-wrong-schema.jsonl", &schema_99(&rec[..header_len]));
        e.write("not-a-recording.txt", b"State Recv-Q Send-Q\n");
        e.write("unreadable", b"[alerts]\n");
        e.write("unreadable.jsonl", &rec);
        for f in ["unreadable", "unreadable.jsonl"] {
            std::fs::set_permissions(e.path(f), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::create_dir(e.path("a-dir")).unwrap();
        std::fs::create_dir(e.path("read-only")).unwrap();
        std::fs::set_permissions(e.path("read-only"), std::fs::Permissions::from_mode(0o555))
            .unwrap();
        e
    }

    /// A path in the directory, as a string.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// Writes a file into the directory (world-readable) and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn run(&self, c: &Case) -> Output {
        let mut cmd = if c.as_nobody {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&self.bin_copy.1);
            cmd
        } else {
            Command::new(common::sockscope_path())
        };
        cmd.args(&c.args)
            .current_dir(self.dir.path())
            // A panic would print its backtrace: the assertions below must see it.
            .env("RUST_BACKTRACE", "1")
            // No user or system config may change the outcome.
            .env("HOME", self.dir.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SOCKSCOPE_CONFIG");
        for (k, v) in &c.env {
            cmd.env(k, v);
        }
        common::run_bounded(&mut cmd, Duration::from_secs(20))
    }
}

/// The header line with `schema_version` 99.
fn schema_99(header: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(header)
        .replace("\"schema_version\":1", "\"schema_version\":99")
        .into_bytes()
}

/// What is wrong with a case's outcome, if anything.
fn judge(c: &Case, out: &Output) -> Option<String> {
    let err = String::from_utf8_lossy(&out.stderr);
    let mut why = Vec::new();
    if out.status.code() != Some(2) {
        why.push(format!("exit {:?}, expected 2", out.status.code()));
    }
    if !out.stdout.is_empty() {
        why.push(format!(
            "stdout not empty: {:?}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    if err.lines().count() != 1 || !err.ends_with('\n') {
        why.push(format!("stderr is not exactly one line: {err:?}"));
    }
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "stack backtrace",
        "Error: ",
        "Caused by",
    ] {
        if err.contains(bad) {
            why.push(format!("stderr contains {bad:?}"));
        }
    }
    if err.trim_end_matches('\n').chars().any(char::is_control) {
        why.push("stderr has a raw control character (tab, newline or escape)".into());
    }
    if !err.starts_with("sockscope: ") {
        why.push("stderr does not start with `sockscope: `".into());
    }
    if !err.contains(&c.needle) {
        why.push(format!("stderr does not name {:?}", c.needle));
    }
    (!why.is_empty()).then(|| {
        format!(
            "{:?}: {}\n    stderr: {}",
            c.args,
            why.join("; "),
            err.trim_end()
        )
    })
}

#[test]
fn every_flag_has_a_bad_value_case() {
    let env = Env::new();
    let args = clap_args();
    let explicit = cases::cases(&env);
    let keys: BTreeSet<&str> = args.iter().map(|a| a.key.as_str()).collect();
    let allowed: BTreeSet<&str> = cases::ALLOWED.iter().map(|(k, _)| *k).collect();
    let covered: BTreeSet<&str> = explicit.iter().map(|c| c.covers.as_str()).collect();
    let missing: Vec<&str> = args
        .iter()
        .filter(|a| a.takes_value || a.long.is_none())
        .map(|a| a.key.as_str())
        .filter(|k| !covered.contains(k) && !allowed.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "value-taking arguments without a bad-value case in tests/bad_input/cases.rs \
         (add one, or an ALLOWED entry with a reason): {missing:?}"
    );
    let stale: Vec<&str> = covered
        .iter()
        .chain(&allowed)
        .filter(|k| !keys.contains(*k))
        .copied()
        .collect();
    assert!(
        stale.is_empty(),
        "cases for arguments clap does not have: {stale:?}"
    );
}

#[test]
fn every_bad_input_is_one_line_naming_it_and_exit_2() {
    let env = Env::new();
    let args = clap_args();
    let mut all = generated_cases(&args);
    let generated = all.len();
    all.extend(cases::cases(&env));
    let root = common::require_root(
        "the nobody cases of the bad-input sweep",
        "they drop to uid 65534",
    );
    let (mut failures, mut ran, mut slowest) = (Vec::new(), 0, (Duration::ZERO, String::new()));
    for c in &all {
        if c.as_nobody && !root {
            continue;
        }
        let t = Instant::now();
        let out = env.run(c);
        let took = t.elapsed();
        if took > slowest.0 {
            slowest = (took, format!("{:?}", c.args));
        }
        ran += 1;
        failures.extend(judge(c, &out));
    }
    let flags = args.len();
    println!(
        "bad-input sweep: {ran} cases ({generated} generated from clap, {} written) over \
         {flags} clap arguments; slowest {:?} ({})",
        all.len() - generated,
        slowest.0,
        slowest.1
    );
    let mut per_arg = std::collections::BTreeMap::<&str, usize>::new();
    for c in &all {
        *per_arg.entry(c.covers.as_str()).or_default() += 1;
    }
    println!("cases per argument: {per_arg:?}");
    assert!(
        failures.is_empty(),
        "{} of {ran} bad-input cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
