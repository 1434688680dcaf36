//! sockscope as `nobody` (issue 6, item 3): `summary` (per state, `--by process`, JSON),
//! `check` and the dashboard count exactly what root and `ss` count, leave root's sockets
//! unattributed, and say how many and how to fix it; under `hidepid=2` too; and with
//! CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH on the binary attribution is complete, while either
//! capability alone attributes nothing of root's and the notice names the missing one.
//!
//! Each test builds its own population in a namespace it creates: CLOSE_WAIT sockets held
//! by a root process (the client halves held too, in FIN_WAIT2, so nothing times out
//! mid-test) and a few held by a `nobody` process, which `nobody` can always attribute.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use common::privilege::{
    as_nobody, as_root, copy_with_caps, json, ok, perfdata, require_setcap, NobodyPopulation,
    ProcMount,
};
use common::*;

/// The fix every fixable notice must carry, verbatim.
const SETCAP: &str = "sudo setcap cap_sys_ptrace,cap_dac_read_search+ep $(command -v sockscope)";
const NOT_ROOT: &str = "not root: other users' /proc/<pid>/fd are unreadable";
const HIDEPID: &str = "/proc is mounted with hidepid: other users' processes are invisible";
const NO_DAC: &str = "CAP_SYS_PTRACE without CAP_DAC_READ_SEARCH";
const NO_PTRACE: &str = "CAP_DAC_READ_SEARCH without CAP_SYS_PTRACE";

/// Over close_wait_leak's default warning count (200), so `check` has a finding to agree on.
const ROOT_CW: u64 = 250;
const NOBODY_CW: u64 = 15;

/// A namespace with [`ROOT_CW`] CLOSE_WAIT held by root and [`NOBODY_CW`] held by nobody.
struct Setup {
    root_pop: Population,
    nobody_pop: NobodyPopulation,
    ns: Netns,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let ns = Netns::new(tag);
        let count = ROOT_CW.to_string();
        let root_pop = Population::spawn(
            ns.some(),
            &["closewait", "--count", &count, "--client-mode", "shutdown"],
        );
        let count = NOBODY_CW.to_string();
        let nobody_pop = NobodyPopulation::spawn(
            &ns.name,
            &["closewait", "--count", &count, "--client-mode", "shutdown"],
        );
        Setup {
            root_pop,
            nobody_pop,
            ns,
        }
    }

    /// Sockets root's process holds: its CLOSE_WAIT, their FIN_WAIT2 peers, its listener.
    fn root_owned(&self) -> u64 {
        2 * ROOT_CW + 1
    }

    /// Every socket in the namespace: root's and nobody's.
    fn total(&self) -> u64 {
        self.root_owned() + 2 * NOBODY_CW + 1
    }

    fn ns(&self) -> &str {
        &self.ns.name
    }
}

fn nobody(s: &Setup, proc: ProcMount, bin: &Path, args: &[&str]) -> Output {
    run_bounded(
        &mut as_nobody(s.ns(), proc, bin, args),
        Duration::from_secs(30),
    )
}

fn process_entry(v: &Value, pid: u32) -> Option<&Value> {
    v["processes"]
        .as_array()
        .unwrap_or_else(|| panic!("no processes array: {v}"))
        .iter()
        .find(|p| p["pid"].as_u64() == Some(u64::from(pid)))
}

/// `(pid, comm, user, total, states)` of every process, for comparing runs.
fn processes(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {} {}",
                p["pid"], p["comm"], p["user"], p["total"], p["states"]
            )
        })
        .collect();
    out.sort();
    out
}

/// The summary JSON of a run that could not read root's fds: the counts `want`, root's
/// process absent, nobody's complete, and `unattributed` = root's sockets with `reason`.
fn assert_unattributed_json(v: &Value, want: &Counts, s: &Setup, reason: &str, what: &str) {
    assert_eq!(json_states(v), full(want), "{what}: counts differ from ss");
    assert_eq!(
        v["total"].as_u64(),
        Some(want.values().sum()),
        "{what}: {v}"
    );
    assert!(
        process_entry(v, s.root_pop.pid()).is_none(),
        "{what}: root's pid attributed: {v}"
    );
    let mine = process_entry(v, s.nobody_pop.pid())
        .unwrap_or_else(|| panic!("{what}: nobody's own pid missing: {v}"));
    assert_eq!(mine["total"].as_u64(), Some(2 * NOBODY_CW + 1), "{what}");
    let un = &v["unattributed"];
    assert_eq!(un["count"].as_u64(), Some(s.root_owned()), "{what}: {un}");
    let text = un["reason"].as_str().unwrap_or("");
    assert!(text.starts_with(reason), "{what}: reason {text:?}");
    assert!(text.contains(SETCAP), "{what}: no setcap fix in {text:?}");
}

/// The note of a text run: how many of how many, in one short line that points to
/// `explain unattributed` (which gives the reason and the fix: [`assert_explained`]).
fn assert_note(stderr: &str, unattributed: u64, total: u64, reason: &str, what: &str) {
    let want = format!(
        "note: {unattributed} of {total} sockets unattributed (why: sockscope explain unattributed)"
    );
    assert!(
        stderr.lines().any(|l| l == want),
        "{what} ({reason}): no line {want:?} in:\n{stderr}"
    );
}

/// `explain unattributed` as nobody: the count, the reason and the setcap fix.
fn assert_explained(out: &Output, unattributed: u64, reason: &str, what: &str) {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{what}: {text}");
    assert!(
        text.contains(&format!("{unattributed} of ")),
        "{what}: {text}"
    );
    assert!(text.contains(&format!("Cause: {reason}")), "{what}: {text}");
    assert!(text.contains(SETCAP), "{what}: no setcap fix in {text}");
}

#[test]
fn nobody_counts_as_root_and_says_how_many_are_unattributed_and_why() {
    if !require_root(
        "nobody_counts_as_root",
        "it switches to uid 65534 with setpriv",
    ) {
        return;
    }
    let s = Setup::new("lp-nobody");
    let (_dir, bin) = world_executable_copy();
    let check = ["check", "--interval", "100ms"];
    let (ss, runs) = stable_against_ss(Some(s.ns()), "", || {
        let root_json = json(
            &as_root(s.ns(), &bin, &["summary", "--format", "json"]),
            "root",
        );
        let root_text = as_root(s.ns(), &bin, &["summary"]);
        let root_check = as_root(s.ns(), &bin, &check);
        let h = ProcMount::Host;
        let text = nobody(&s, h, &bin, &["summary"]);
        let by_process = nobody(&s, h, &bin, &["summary", "--by", "process"]);
        let js = json(
            &nobody(&s, h, &bin, &["summary", "--format", "json"]),
            "json",
        );
        let chk = nobody(&s, h, &bin, &check);
        let chk_json = nobody(
            &s,
            h,
            &bin,
            &["check", "--interval", "100ms", "--format", "json"],
        );
        (
            root_json, root_text, root_check, text, by_process, js, chk, chk_json,
        )
    });
    let (root_json, root_text, root_check, text, by_process, js, chk, chk_json) = runs;
    let total: u64 = ss.values().sum();
    assert_eq!(
        total,
        s.total(),
        "the namespace holds exactly the population: {ss:?}"
    );

    // Root: the same counts, everything attributed.
    assert_eq!(json_states(&root_json), full(&ss), "root vs ss");
    assert_eq!(
        root_json["unattributed"]["count"].as_u64(),
        Some(0),
        "{root_json}"
    );
    let root_pid = process_entry(&root_json, s.root_pop.pid()).unwrap();
    assert_eq!(root_pid["total"].as_u64(), Some(s.root_owned()));

    // Per-state text: the same lines as root, and no note (it attributes nothing, so it
    // has nothing to say about owners).
    let (root_lines, _) = ok(&root_text, "root summary");
    let (lines, stderr) = ok(&text, "nobody summary");
    assert_eq!(lines, root_lines, "nobody vs root per-state text");
    let counted = parse_state_lines(&lines.lines().map(str::to_string).collect::<Vec<_>>());
    assert_eq!(full(&counted), full(&ss), "nobody per-state text vs ss");
    assert!(stderr.is_empty(), "per-state summary printed: {stderr}");

    // --by process: nobody's own row, no root row, the note with the count and the fix.
    let (stdout, stderr) = ok(&by_process, "nobody --by process");
    let root_pid_s = s.root_pop.pid().to_string();
    let nobody_pid_s = s.nobody_pop.pid().to_string();
    let first = |l: &str| l.split('\t').next().unwrap_or("").to_string();
    assert!(stdout.lines().any(|l| first(l) == nobody_pid_s), "{stdout}");
    assert!(!stdout.lines().any(|l| first(l) == root_pid_s), "{stdout}");
    assert_note(&stderr, s.root_owned(), total, NOT_ROOT, "--by process");
    let explained = nobody(&s, ProcMount::Host, &bin, &["explain", "unattributed"]);
    assert_explained(&explained, s.root_owned(), NOT_ROOT, "explain unattributed");

    // JSON: counts as root and ss, unattributed count and reason with the fix.
    assert_unattributed_json(&js, &ss, &s, NOT_ROOT, "nobody json");
    let nobody_row = process_entry(&js, s.nobody_pop.pid()).unwrap();
    let same_row = process_entry(&root_json, s.nobody_pop.pid()).unwrap();
    assert_eq!(nobody_row, same_row, "nobody's own process as root sees it");

    // check: the same status, the same perfdata as root, and the note on stderr. Root names
    // the leaking pid; nobody cannot, but still warns about the same 250 CLOSE_WAIT.
    let root_out = parts(&root_check).1;
    assert_eq!(root_check.status.code(), Some(1), "root check:\n{root_out}");
    let leak = format!(
        "pid {} (sscpop-cw) holds {ROOT_CW} CLOSE_WAIT",
        s.root_pop.pid()
    );
    assert!(root_out.contains(&leak), "root check:\n{root_out}");
    let (code, out, err) = parts(&chk);
    let unnamed = format!("{ROOT_CW} CLOSE_WAIT held by processes sockscope could not name");
    assert!(out.contains(&unnamed), "nobody check:\n{out}");
    assert_eq!(
        code,
        root_check.status.code().unwrap(),
        "check exit:\n{out}\n{err}"
    );
    assert_eq!(perfdata(&out), perfdata(&root_out), "check perfdata");
    assert_note(&err, s.root_owned(), total, NOT_ROOT, "check");
    let (code, out, err) = parts(&chk_json);
    assert_eq!(code, root_check.status.code().unwrap(), "check json exit");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(json_states(&v), full(&ss), "check json states");
    assert_eq!(
        v["unattributed"]["count"].as_u64(),
        Some(s.root_owned()),
        "{v}"
    );
    let reason = v["unattributed"]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with(NOT_ROOT), "check json reason: {reason}");
    assert_note(&err, s.root_owned(), total, NOT_ROOT, "check --format json");

    // A table, even per state, attributes: its footer counts ownerless sockets and its
    // notes (on stdout) carry the count and the fix.
    let o = nobody(&s, ProcMount::Host, &bin, &["summary", "--format", "table"]);
    let (stdout, _) = ok(&o, "nobody table");
    assert_note(&stdout, s.root_owned(), total, NOT_ROOT, "table");

    // sockets: root's rows show `-` for the process, nobody's its own name, and the note.
    let o = nobody(&s, ProcMount::Host, &bin, &["sockets"]);
    let (stdout, stderr) = ok(&o, "nobody sockets");
    let (root_port, own) = (
        format!(":{} ", s.root_pop.port()),
        format!("sscpop-cw/{}", s.nobody_pop.pid()),
    );
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len() as u64, total, "one row per socket:\n{stdout}");
    let root_rows = rows.iter().filter(|l| l.contains(&root_port)).count() as u64;
    assert_eq!(root_rows, s.root_owned(), "root's rows:\n{stdout}");
    for l in rows.iter().filter(|l| l.contains(&root_port)) {
        let cols: Vec<&str> = l.split_whitespace().collect();
        assert_eq!(
            cols.get(5),
            Some(&"-"),
            "root's socket not shown as `-`: {l}"
        );
    }
    let own_rows = rows.iter().filter(|l| l.contains(&own)).count() as u64;
    assert_eq!(own_rows, 2 * NOBODY_CW + 1, "nobody's own rows:\n{stdout}");
    assert_note(&stderr, s.root_owned(), total, NOT_ROOT, "sockets");
}

/// One way of running as nobody and what attribution it must achieve.
struct Case {
    what: &'static str,
    bin: PathBuf,
    proc: ProcMount,
    /// The reason's opening words, or `None` for complete attribution.
    reason: Option<&'static str>,
}

/// Runs every case's JSON summary next to root's within one stable `ss` moment and checks
/// it: the same counts always; either root's exact processes and 0 unattributed, or root's
/// sockets unattributed with the expected reason and the setcap fix.
fn check_cases(s: &Setup, root_bin: &Path, cases: &[Case]) {
    let (ss, (root, runs)) = stable_against_ss(Some(s.ns()), "", || {
        let root = json(
            &as_root(s.ns(), root_bin, &["summary", "--format", "json"]),
            "root",
        );
        let runs: Vec<Value> = cases
            .iter()
            .map(|c| {
                json(
                    &nobody(s, c.proc, &c.bin, &["summary", "--format", "json"]),
                    c.what,
                )
            })
            .collect();
        (root, runs)
    });
    assert_eq!(ss.values().sum::<u64>(), s.total(), "population: {ss:?}");
    assert_eq!(json_states(&root), full(&ss), "root vs ss");
    for (c, v) in cases.iter().zip(&runs) {
        match c.reason {
            Some(reason) => assert_unattributed_json(v, &ss, s, reason, c.what),
            None => {
                assert_eq!(json_states(v), full(&ss), "{}: counts", c.what);
                assert_eq!(
                    v["unattributed"]["count"].as_u64(),
                    Some(0),
                    "{}: {v}",
                    c.what
                );
                assert!(v["unattributed"]["reason"].is_null(), "{}: {v}", c.what);
                assert_eq!(processes(v), processes(&root), "{}: owners as root", c.what);
            }
        }
    }
}

/// Whether `/proc/<pid>` exists for nobody under `proc`.
fn visible(s: &Setup, proc: ProcMount, pid: u32) -> bool {
    let script = format!("[ -e /proc/{pid}/fd ] && echo visible || echo absent");
    let o = nobody(s, proc, Path::new("/bin/sh"), &["-c", &script]);
    match ok(&o, "sh").0.trim() {
        "visible" => true,
        "absent" => false,
        other => panic!("sh printed {other:?}"),
    }
}

#[test]
fn hidepid2_counts_as_root_and_says_hidepid() {
    if !require_root(
        "hidepid2",
        "it mounts a private /proc and switches to uid 65534",
    ) {
        return;
    }
    let s = Setup::new("lp-hidepid");
    let (_dir, bin) = world_executable_copy();
    let hidden = ProcMount::Private("hidepid=2");
    let gid = ProcMount::Private("hidepid=2,gid=65534");
    // The premise: under hidepid=2 root's pid is absent for nobody (its own is not); the
    // gid= exemption shows it again.
    assert!(
        !visible(&s, hidden, s.root_pop.pid()),
        "hidepid=2 shows root's pid"
    );
    assert!(
        visible(&s, hidden, s.nobody_pop.pid()),
        "hidepid=2 hides nobody's own pid"
    );
    assert!(
        visible(&s, gid, s.root_pop.pid()),
        "gid=65534 does not exempt nobody"
    );

    let mut cases = vec![
        Case {
            what: "hidepid=2",
            bin: bin.clone(),
            proc: hidden,
            reason: Some(HIDEPID),
        },
        // Pids visible, fd directories still closed: not a hidepid problem any more.
        Case {
            what: "hidepid=2,gid=65534",
            bin: bin.clone(),
            proc: gid,
            reason: Some(NOT_ROOT),
        },
    ];
    let mut guards = Vec::new();
    if require_setcap() {
        for (caps, reason) in [
            ("cap_sys_ptrace,cap_dac_read_search+ep", None),
            ("cap_sys_ptrace+ep", Some(NO_DAC)),
            ("cap_dac_read_search+ep", Some(NO_PTRACE)),
        ] {
            let (dir, capped) = copy_with_caps(caps);
            guards.push(dir);
            cases.push(Case {
                what: caps,
                bin: capped,
                proc: hidden,
                reason,
            });
        }
    }
    check_cases(&s, &bin, &cases);

    // Text and check carry the same notice.
    let total = s.total();
    let o = nobody(&s, hidden, &bin, &["summary", "--by", "process"]);
    assert_note(
        &ok(&o, "--by process").1,
        s.root_owned(),
        total,
        HIDEPID,
        "hidepid text",
    );
    let o = nobody(&s, hidden, &bin, &["check", "--interval", "100ms"]);
    let (_, out, err) = parts(&o);
    assert!(
        out.starts_with("SOCKSCOPE "),
        "check under hidepid: {out}\n{err}"
    );
    assert_note(&err, s.root_owned(), total, HIDEPID, "hidepid check");

    // A zombie of nobody's own is visible under hidepid=2 and its fd directory refuses even
    // its own user. CI once saw a concurrent test's exiting process flip the diagnosis to
    // "not root"; here sockscope inherits an unreaped child that exits before it starts.
    let zombie = r#"import os, sys, time
pid = os.fork()
if pid == 0:
    os._exit(0)
for _ in range(500):
    if open(f"/proc/{pid}/status").read().count("State:\tZ"):
        break
    time.sleep(0.01)
else:
    sys.exit("the child never became a zombie")
os.execv(sys.argv[1], sys.argv[1:])"#;
    let bin_s = bin.to_str().unwrap();
    let args = ["-c", zombie, bin_s, "summary", "--by", "process"];
    let o = nobody(&s, hidden, Path::new("/usr/bin/python3"), &args);
    let err = ok(&o, "with a zombie").1;
    assert_note(
        &err,
        s.root_owned(),
        total,
        HIDEPID,
        "hidepid with a zombie",
    );
}

#[test]
fn capabilities_on_the_binary_attribute_everything_and_one_is_not_enough() {
    if !require_root(
        "capabilities",
        "it sets file capabilities and switches to uid 65534",
    ) {
        return;
    }
    if !require_setcap() {
        return;
    }
    let s = Setup::new("lp-caps");
    let (_dir, bin) = world_executable_copy();
    let (_both_dir, both) = copy_with_caps("cap_sys_ptrace,cap_dac_read_search+ep");
    let (_p_dir, ptrace) = copy_with_caps("cap_sys_ptrace+ep");
    let (_d_dir, dac) = copy_with_caps("cap_dac_read_search+ep");
    let h = ProcMount::Host;
    let cases = [
        Case {
            what: "no capability",
            bin: bin.clone(),
            proc: h,
            reason: Some(NOT_ROOT),
        },
        Case {
            what: "both capabilities",
            bin: both.clone(),
            proc: h,
            reason: None,
        },
        Case {
            what: "CAP_SYS_PTRACE alone",
            bin: ptrace.clone(),
            proc: h,
            reason: Some(NO_DAC),
        },
        Case {
            what: "CAP_DAC_READ_SEARCH alone",
            bin: dac.clone(),
            proc: h,
            reason: Some(NO_PTRACE),
        },
    ];
    check_cases(&s, &bin, &cases);

    // With both, the text outputs have nothing to note; with one, they name the other.
    let o = nobody(&s, h, &both, &["summary", "--by", "process"]);
    let (stdout, stderr) = ok(&o, "both --by process");
    assert!(stderr.is_empty(), "both capabilities: {stderr}");
    assert!(stdout.contains(&s.root_pop.pid().to_string()), "{stdout}");
    let o = nobody(&s, h, &both, &["check", "--interval", "100ms"]);
    assert!(
        parts(&o).2.is_empty(),
        "both capabilities, check: {}",
        parts(&o).2
    );
    for (capped, reason) in [(&ptrace, NO_DAC), (&dac, NO_PTRACE)] {
        let o = nobody(&s, h, capped, &["check", "--interval", "100ms"]);
        assert_note(&parts(&o).2, s.root_owned(), s.total(), reason, reason);
    }
}

/// The dashboard as nobody in tmux: the header counts what `ss` counts, the notice (count,
/// cause, fix) is on the Overview and the Processes view, root's process is absent and its
/// sockets show as unattributed, and `q` restores the terminal.
fn dashboard(tag: &str, proc: ProcMount, reason: &str) {
    if !require_tmux() {
        return;
    }
    let s = Setup::new(tag);
    let (_dir, bin) = world_executable_copy();
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let setpriv = format!("setpriv {}", common::privilege::SETPRIV_NOBODY.join(" "));
    let launch = match proc {
        ProcMount::Host => setpriv,
        ProcMount::Private(opts) => format!(
            "unshare --mount --propagation private sh -c 'mount -t proc -o {opts} proc /proc \
             && exec {setpriv} \"$0\" \"$@\"'"
        ),
    };
    let cmd = format!(
        "cd / && ip netns exec {} {launch} {} --interval 300ms; echo \"exit=$?\" > {}; clear",
        s.ns(),
        bin.display(),
        status.display()
    );
    let tmux = Tmux::start(tag, 120, 40, &cmd);
    let total = s.total();
    let header = format!(
        "{total} sockets  0 ownerless  {} unattributed",
        s.root_owned()
    );
    // One short line on every screen (issue 20, item 7); `u` gives the cause and the fix.
    let notice = format!(
        "{} of {total} sockets unattributed (why: u, or sockscope explain unattributed)",
        s.root_owned()
    );
    let cw = format!("CLOSE_WAIT  {}", ROOT_CW + NOBODY_CW);
    let has_notice = |scr: &str| scr.contains(&notice);

    let before = ss_counts(Some(s.ns()), "");
    let (seen, screen) = tmux.wait_for(Duration::from_secs(5), |scr| {
        scr.contains(&header) && scr.contains(&cw) && has_notice(scr)
    });
    let after = ss_counts(Some(s.ns()), "");
    assert!(
        seen,
        "Overview lacks {header:?}, {cw:?} or the notice:\n{screen}"
    );
    assert_eq!(before, after, "ss moved during the test");
    assert_eq!(before.values().sum::<u64>(), total, "ss: {before:?}");

    tmux.keys(&["2"]);
    let mine = s.nobody_pop.pid().to_string();
    let (seen, screen) = tmux.wait_for(Duration::from_secs(3), |scr| {
        scr.contains("processes (1)") && scr.contains(&mine) && has_notice(scr)
    });
    assert!(
        seen,
        "Processes view lacks pid {mine} or the notice:\n{screen}"
    );
    assert!(
        !screen
            .split(|c: char| !c.is_ascii_digit())
            .any(|w| w == s.root_pop.pid().to_string()),
        "root's pid shown to nobody:\n{screen}"
    );

    tmux.keys(&["5"]);
    let (seen, screen) =
        tmux.wait_for(Duration::from_secs(3), |scr| scr.contains("(unattributed)"));
    assert!(seen, "Sockets view shows no unattributed owner:\n{screen}");

    // The full reason on request: its cause and the setcap fix (the command may wrap, so
    // look for its first words).
    tmux.keys(&["u"]);
    let cause: String = reason.chars().take(30).collect();
    let (seen, screen) = tmux.wait_for(Duration::from_secs(3), |scr| {
        scr.contains(&cause) && scr.contains("setcap cap_sys_ptrace")
    });
    assert!(
        seen,
        "`u` does not give the cause ({cause:?}) and the fix:\n{screen}"
    );
    tmux.keys(&["Escape"]);

    tmux.keys(&["q"]);
    tmux.assert_exited(&status, 0, "q as nobody");
}

#[test]
fn dashboard_as_nobody_shows_the_counts_and_the_notice() {
    if !require_root(
        "dashboard_as_nobody",
        "it switches to uid 65534 with setpriv",
    ) {
        return;
    }
    dashboard("lp-tui", ProcMount::Host, NOT_ROOT);
}

#[test]
fn dashboard_under_hidepid2_shows_the_counts_and_the_notice() {
    if !require_root("dashboard_hidepid2", "it mounts a private /proc as root") {
        return;
    }
    dashboard("lp-tui-hide", ProcMount::Private("hidepid=2"), HIDEPID);
}
