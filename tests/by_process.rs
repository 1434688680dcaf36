//! `summary --by process` adds up (issue 6, "nothing lies"): in every format (tab-separated
//! text, table, JSON) the rows sum to the total, state by state, and those sums are the
//! kernel's (`ss`). Sockets no process row holds get rows of their own with pid `-`:
//! `(ownerless)` (TIME_WAIT), `(unattributed)` (another user's, as `nobody`, equal to the
//! note's count), `(other)` (the processes beyond `--top`).
//!
//! Populations, in a namespace each test creates: CLOSE_WAIT held by root (their FIN_WAIT2
//! client halves held too), TIME_WAIT (ownerless) from root's short connections, and a few
//! CLOSE_WAIT held by `nobody`.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use common::privilege::{as_nobody, as_root, json, ok, NobodyPopulation, ProcMount};
use common::*;

const ROOT_CW: u64 = 40;
const TIME_WAIT: u64 = 30;
const NOBODY_CW: u64 = 5;

/// The markers of rows that are not processes.
const MARKERS: [&str; 4] = ["(other)", "(unattributed)", "(ownerless)", "(unresolved)"];

struct Setup {
    root_cw: Population,
    root_tw: Population,
    nobody: NobodyPopulation,
    ns: Netns,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let ns = Netns::new(tag);
        let count = ROOT_CW.to_string();
        let root_cw = Population::spawn(
            ns.some(),
            &["closewait", "--count", &count, "--client-mode", "shutdown"],
        );
        let count = TIME_WAIT.to_string();
        let root_tw = Population::spawn(ns.some(), &["timewait", "--count", &count]);
        let count = NOBODY_CW.to_string();
        let nobody = NobodyPopulation::spawn(
            &ns.name,
            &["closewait", "--count", &count, "--client-mode", "shutdown"],
        );
        Setup {
            root_cw,
            root_tw,
            nobody,
            ns,
        }
    }

    fn nobody_run(&self, proc: ProcMount, bin: &Path, args: &[&str]) -> Output {
        run_bounded(
            &mut as_nobody(&self.ns.name, proc, bin, args),
            Duration::from_secs(30),
        )
    }
}

/// One row of a `--by process` output.
#[derive(Debug)]
struct Row {
    pid: String,
    comm: String,
    total: u64,
    states: Counts,
}

/// Rows of the tab-separated output, each checked: its TOTAL is the sum of its states, and
/// a row with pid `-` carries one of [`MARKERS`].
fn tsv_rows(stdout: &str, what: &str) -> Vec<Row> {
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(&header[..4], ["PID", "COMM", "USER", "TOTAL"], "{what}");
    assert_eq!(&header[4..], STATES, "{what}: all eleven states");
    let rows: Vec<Row> = lines
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), header.len(), "{what}: {l:?}");
            let states: Counts = STATES
                .iter()
                .zip(&c[4..])
                .map(|(s, n)| (s.to_string(), n.parse().unwrap()))
                .collect();
            Row {
                pid: c[0].into(),
                comm: c[1].into(),
                total: c[3].parse().unwrap(),
                states,
            }
        })
        .collect();
    check_rows(&rows, what);
    rows
}

/// Rows of the table (between the header and its `TOTAL` line) and that line's counts.
fn table_rows(stdout: &str, what: &str) -> (Vec<Row>, Counts) {
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&header[..4], ["PID", "COMM", "USER", "TOTAL"], "{what}");
    let states = &header[4..];
    let mut rows = Vec::new();
    for l in lines.by_ref() {
        let c: Vec<&str> = l.split_whitespace().collect();
        if c[0] == "TOTAL" {
            // No comm or user: TOTAL, the total, the states.
            assert_eq!(c.len(), 2 + states.len(), "{what}: {l:?}");
            let mut total = full(&Counts::new());
            for (s, n) in states.iter().zip(&c[2..]) {
                total.insert(s.to_string(), n.parse().unwrap());
            }
            assert_eq!(
                c[1].parse::<u64>().unwrap(),
                total.values().sum::<u64>(),
                "{l}"
            );
            check_rows(&rows, what);
            return (rows, total);
        }
        assert_eq!(c.len(), header.len(), "{what}: {l:?}");
        let mut counts = full(&Counts::new());
        for (s, n) in states.iter().zip(&c[4..]) {
            counts.insert(s.to_string(), n.parse().unwrap());
        }
        rows.push(Row {
            pid: c[0].into(),
            comm: c[1].into(),
            total: c[3].parse().unwrap(),
            states: counts,
        });
    }
    panic!("{what}: no TOTAL line:\n{stdout}");
}

fn check_rows(rows: &[Row], what: &str) {
    for r in rows {
        assert_eq!(r.total, r.states.values().sum::<u64>(), "{what}: {r:?}");
        if r.pid == "-" {
            assert!(MARKERS.contains(&r.comm.as_str()), "{what}: {r:?}");
        } else {
            r.pid.parse::<u32>().unwrap();
        }
    }
}

/// The rows' counts summed per state (all eleven).
fn summed(rows: &[Row]) -> Counts {
    let mut c = full(&Counts::new());
    for r in rows {
        for (s, n) in &r.states {
            *c.get_mut(s).unwrap() += n;
        }
    }
    c
}

fn synthetic<'a>(rows: &'a [Row], marker: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.pid == "-" && r.comm == marker)
}

/// JSON: `processes` plus `processes_remainder` give `total` and `states`; the remainder's
/// unattributed and ownerless entries are the document's counts.
fn check_json(v: &Value, ss: &Counts, what: &str) {
    assert_eq!(json_states(v), full(ss), "{what}: states vs ss");
    let mut sum = full(&Counts::new());
    let mut total = 0;
    let all = v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["processes_remainder"].as_array().unwrap());
    for r in all {
        total += r["total"].as_u64().unwrap();
        for (s, n) in json_states(r) {
            *sum.get_mut(&s).unwrap() += n;
        }
    }
    assert_eq!(Some(total), v["total"].as_u64(), "{what}: {v}");
    assert_eq!(sum, full(ss), "{what}: rows per state vs ss");
    let kind = |k: &str| {
        v["processes_remainder"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == k)
            .map_or(0, |r| r["total"].as_u64().unwrap())
    };
    assert_eq!(
        Some(kind("unattributed")),
        v["unattributed"]["count"].as_u64()
    );
    assert_eq!(Some(kind("ownerless")), v["ownerless"].as_u64());
}

/// `note: N of M sockets unattributed (why: …)` on stderr (text) or stdout (table): N.
fn note_count(text: &str, what: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with("note: ") && l.contains(" sockets unattributed (why: "))
        .unwrap_or_else(|| panic!("{what}: no unattributed note in:\n{text}"));
    line["note: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn rows_add_up_to_the_kernels_counts_as_root_and_as_nobody() {
    if !require_root(
        "rows_add_up_as_root_and_as_nobody",
        "it creates a namespace and switches to uid 65534 with setpriv",
    ) {
        return;
    }
    let s = Setup::new("byproc");
    let (_dir, bin) = world_executable_copy();
    let ns = s.ns.name.clone();
    let all = ["summary", "--by", "process", "--top", "0"];
    let table = ["summary", "--by", "process", "--top", "0", "-f", "table"];
    let top1 = ["summary", "--by", "process", "--top", "1"];
    let js = ["summary", "--format", "json"];
    let hidepid = ProcMount::Private("hidepid=2");
    let (ss, runs) = stable_against_ss(Some(&ns), "", || {
        (
            as_root(&ns, &bin, &all),
            as_root(&ns, &bin, &table),
            as_root(&ns, &bin, &top1),
            json(&as_root(&ns, &bin, &js), "root json"),
            s.nobody_run(ProcMount::Host, &bin, &all),
            s.nobody_run(ProcMount::Host, &bin, &table),
            json(&s.nobody_run(ProcMount::Host, &bin, &js), "nobody json"),
            s.nobody_run(hidepid, &bin, &all),
            (
                as_root(&ns, &bin, &["summary", "--owner", "process"]),
                as_root(&ns, &bin, &["summary", "--owner", "ownerless"]),
                s.nobody_run(
                    ProcMount::Host,
                    &bin,
                    &["summary", "--owner", "unattributed"],
                ),
            ),
        )
    });
    let (root_tsv, root_table, root_top1, root_json, tsv, tab, nobody_json, hidden, owner) = runs;
    let total: u64 = ss.values().sum();
    assert_eq!(ss.get("TIME_WAIT"), Some(&TIME_WAIT), "{ss:?}");

    // Root: every process row, plus one (ownerless) row for exactly the TIME_WAIT.
    let (out, _) = ok(&root_tsv, "root tsv");
    let rows = tsv_rows(&out, "root tsv");
    assert_eq!(summed(&rows), full(&ss), "root tsv rows vs ss:\n{out}");
    let ownerless = synthetic(&rows, "(ownerless)").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(ownerless.total, TIME_WAIT, "{out}");
    assert_eq!(ownerless.states["TIME_WAIT"], TIME_WAIT, "{out}");
    assert!(synthetic(&rows, "(unattributed)").is_none(), "{out}");
    let root_pids = [s.root_cw.pid(), s.root_tw.pid()].map(|p| p.to_string());
    let root_owned: u64 = rows
        .iter()
        .filter(|r| root_pids.contains(&r.pid))
        .map(|r| r.total)
        .sum();
    assert_eq!(root_owned, 2 * ROOT_CW + 2, "both root listeners:\n{out}");

    let (out, _) = ok(&root_table, "root table");
    let (rows, totals) = table_rows(&out, "root table");
    assert_eq!(summed(&rows), full(&ss), "root table rows vs ss:\n{out}");
    assert_eq!(totals, full(&ss), "root table TOTAL line:\n{out}");
    assert!(out.contains(&format!("sockets: {total} ")), "{out}");

    // --top 1: the other processes fold into one (other) row; still the kernel's counts.
    let (out, _) = ok(&root_top1, "root --top 1");
    let rows = tsv_rows(&out, "root --top 1");
    assert_eq!(summed(&rows), full(&ss), "--top 1 rows vs ss:\n{out}");
    assert_eq!(rows.iter().filter(|r| r.pid != "-").count(), 1, "{out}");
    let other = synthetic(&rows, "(other)").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(other.total + rows[0].total + TIME_WAIT, total, "{out}");

    check_json(&root_json, &ss, "root json");

    // nobody: root's sockets in one (unattributed) row, the note's count; the rest as root.
    for (o, what) in [(&tsv, "nobody tsv"), (&hidden, "nobody hidepid=2 tsv")] {
        let (out, err) = ok(o, what);
        let rows = tsv_rows(&out, what);
        assert_eq!(summed(&rows), full(&ss), "{what} rows vs ss:\n{out}");
        let un = synthetic(&rows, "(unattributed)").unwrap_or_else(|| panic!("{what}:\n{out}"));
        assert_eq!(un.total, note_count(&err, what), "{what}:\n{out}\n{err}");
        assert_eq!(un.total, root_owned, "{what}: root's sockets:\n{out}");
        let own = s.nobody.pid().to_string();
        let mine = rows.iter().find(|r| r.pid == own);
        assert_eq!(
            mine.map(|r| r.total),
            Some(2 * NOBODY_CW + 1),
            "{what}:\n{out}"
        );
        let ownerless = synthetic(&rows, "(ownerless)").map(|r| r.total);
        assert_eq!(ownerless, Some(TIME_WAIT), "{what}:\n{out}");
    }
    let (out, _) = ok(&tab, "nobody table");
    let (rows, totals) = table_rows(&out, "nobody table");
    assert_eq!(summed(&rows), full(&ss), "nobody table rows vs ss:\n{out}");
    assert_eq!(totals, full(&ss), "nobody table TOTAL line:\n{out}");
    let un = synthetic(&rows, "(unattributed)").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(un.total, note_count(&out, "nobody table"), "{out}");

    // --owner selects exactly a row's sockets: root's processes and (ownerless) make up
    // the kernel's counts; nobody's --owner unattributed is its (unattributed) row.
    let states = |o: &Output, what: &str| -> Counts {
        let lines: Vec<String> = ok(o, what).0.lines().map(str::to_string).collect();
        full(&parse_state_lines(&lines))
    };
    let (procs, ownerless) = (states(&owner.0, "process"), states(&owner.1, "ownerless"));
    assert_eq!(
        ownerless,
        full(&Counts::from([("TIME_WAIT".into(), TIME_WAIT)]))
    );
    let mut both = procs.clone();
    for (st, n) in &ownerless {
        *both.get_mut(st).unwrap() += n;
    }
    assert_eq!(both, full(&ss), "--owner process + --owner ownerless vs ss");
    let un = synthetic(&tsv_rows(&ok(&tsv, "nobody").0, "nobody"), "(unattributed)")
        .map(|r| r.states.clone());
    assert_eq!(
        Some(states(&owner.2, "unattributed")),
        un,
        "--owner unattributed"
    );

    check_json(&nobody_json, &ss, "nobody json");
    assert_eq!(
        nobody_json["unattributed"]["count"].as_u64(),
        Some(root_owned),
        "{nobody_json}"
    );
}

#[test]
fn default_summary_keeps_the_awk_shape() {
    if !require_root(
        "default_summary_keeps_the_awk_shape",
        "it creates a namespace",
    ) {
        return;
    }
    let ns = Netns::new("byproc-awk");
    let _tw = Population::spawn(ns.some(), &["timewait", "--count", "5"]);
    let (ss, out) = stable_against_ss(ns.some(), "", || sockscope_ok(ns.some(), &["summary"]));
    // STATE<TAB>count per non-zero state and nothing else: no synthetic rows here.
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    assert!(lines.iter().all(|l| l.split('\t').count() == 2), "{out}");
    assert_eq!(parse_state_lines(&lines), nonzero(&ss), "{out}");
}
