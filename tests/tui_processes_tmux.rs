//! The dashboard's Processes view adds up on the real kernel: run as `nobody` in tmux next
//! to root's CLOSE_WAIT population (unattributed to nobody), nobody's own, and TIME_WAIT
//! (ownerless by design), the rows on screen, `(unattributed)` and `(ownerless)` included,
//! sum to the header's total and, state by state, to `ss`; the two rows equal the header's
//! counts; Enter on `(ownerless)` lists exactly its sockets; under a `/` filter the rows
//! count only the passing sockets.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::privilege::{NobodyPopulation, SETPRIV_NOBODY};
use common::{
    full, require_root, require_tmux, ss_counts, world_executable_copy, Counts, Netns, Population,
    Tmux,
};
use sockscope::model::TcpState;
use sockscope::tui::views::fmt::state_short;

/// The number in a cell: `1,001` → 1001, `·` → 0.
fn num(cell: &str) -> Option<u64> {
    match cell {
        "·" => Some(0),
        c => c.replace(',', "").parse().ok(),
    }
}

/// One parsed table row: comm and the count under each header.
struct Row {
    comm: String,
    cells: BTreeMap<String, u64>,
}

/// The Processes table on `screen` (every column shown: the pane is 160 wide). Headers lose
/// their sort marker; no cell here contains a space (comm and user included).
fn table(screen: &str) -> Vec<Row> {
    let inner = |l: &str| -> Vec<String> {
        l.trim()
            .trim_matches('│')
            .split_whitespace()
            .map(|w| w.trim_end_matches(['▼', '▲']).to_string())
            .collect()
    };
    let mut lines = screen.lines().skip_while(|l| !l.contains("PID COMMAND"));
    let header = inner(lines.next().unwrap_or_default());
    assert!(header.len() > 4, "no Processes header:\n{screen}");
    lines
        .take_while(|l| l.trim_start().starts_with('│'))
        .map(inner)
        .filter(|t| !t.is_empty())
        .map(|t| {
            assert_eq!(t.len(), header.len(), "row {t:?} vs {header:?}:\n{screen}");
            Row {
                comm: t[1].clone(),
                cells: header
                    .iter()
                    .zip(&t)
                    .filter_map(|(h, c)| Some((h.clone(), num(c)?)))
                    .collect(),
            }
        })
        .collect()
}

/// The header's `N sockets  O ownerless  U unattributed`.
fn header_counts(screen: &str) -> Option<(u64, u64, u64)> {
    let line = screen.lines().find(|l| l.contains(" unattributed"))?;
    let w: Vec<&str> = line.split_whitespace().collect();
    let at = |name: &str| {
        let i = w.iter().position(|x| *x == name)?;
        num(w.get(i.checked_sub(1)?)?)
    };
    Some((at("sockets")?, at("ownerless")?, at("unattributed")?))
}

/// Per-state sums of the table's rows, keyed by netstat spelling.
fn state_sums(rows: &[Row]) -> Counts {
    TcpState::ALL
        .iter()
        .map(|&s| {
            let short = state_short(s);
            let n = rows
                .iter()
                .map(|r| r.cells.get(short).copied().unwrap_or(0));
            (s.netstat_name().to_string(), n.sum())
        })
        .collect()
}

fn total_of<'a>(rows: &'a [Row], comm: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.comm == comm)
}

#[test]
fn processes_view_as_nobody_adds_up_to_the_header_and_to_ss() {
    if !require_root(
        "processes_view_as_nobody_adds_up_to_the_header_and_to_ss",
        "it creates a network namespace and switches to uid 65534 with setpriv",
    ) {
        return;
    }
    if !require_tmux() {
        return;
    }
    let ns = Netns::new("tpr");
    let _root = Population::spawn(
        ns.some(),
        &["closewait", "--count", "20", "--client-mode", "shutdown"],
    );
    let _mine = NobodyPopulation::spawn(
        &ns.name,
        &["closewait", "--count", "5", "--client-mode", "shutdown"],
    );
    // TIME_WAIT lasts 60 s: the test is over long before the first expires.
    let _tw = Population::spawn(ns.some(), &["timewait", "--count", "30"]);
    let (_bin_dir, bin) = world_executable_copy();
    let dir = tempfile::tempdir().unwrap();
    let status = dir.path().join("status");
    let cmd = format!(
        "cd / && ip netns exec {} setpriv {} {} --interval 300ms; echo \"exit=$?\" > {}; clear",
        ns.name,
        SETPRIV_NOBODY.join(" "),
        bin.display(),
        status.display()
    );
    let tmux = Tmux::start("tpr", 160, 50, &cmd);

    let before = full(&ss_counts(ns.some(), ""));
    tmux.keys(&["2"]);
    let ready = |scr: &str| {
        scr.contains("processes (") && scr.contains("(unattributed)") && scr.contains("(ownerless)")
    };
    let (seen, screen) = tmux.wait_for(Duration::from_secs(5), ready);
    let after = full(&ss_counts(ns.some(), ""));
    assert!(seen, "Processes view lacks the unheld rows:\n{screen}");
    assert_eq!(before, after, "ss moved during the test");
    println!("--- processes ---\n{screen}");

    let rows = table(&screen);
    let (total, ownerless, unattributed) = header_counts(&screen).unwrap();
    let sum: u64 = rows.iter().map(|r| r.cells["TOTAL"]).sum();
    assert_eq!(sum, total, "rows do not add up to the header:\n{screen}");
    assert_eq!(
        total,
        before.values().sum::<u64>(),
        "header vs ss {before:?}"
    );
    assert_eq!(state_sums(&rows), before, "rows per state vs ss:\n{screen}");
    let un = total_of(&rows, "(unattributed)").unwrap();
    let own = total_of(&rows, "(ownerless)").unwrap();
    assert_eq!(un.cells["TOTAL"], unattributed, "{screen}");
    assert_eq!(own.cells["TOTAL"], ownerless, "{screen}");
    // Root's 20 CLOSE_WAIT are among the unattributed; the 30 TIME_WAIT are all ownerless.
    assert_eq!(un.cells["CLOSE_W"], 20, "{screen}");
    assert_eq!(own.cells["TIME_W"], 30, "{screen}");
    assert_eq!(ownerless, before["TIME_WAIT"], "{screen}");
    // The unheld rows are the last two, whatever the sort.
    let tail: Vec<&str> = rows[rows.len() - 2..]
        .iter()
        .map(|r| r.comm.as_str())
        .collect();
    assert_eq!(tail, ["(unattributed)", "(ownerless)"], "{screen}");

    // Enter on (ownerless): the Sockets view lists exactly those sockets.
    tmux.keys(&["End", "Enter"]);
    let want = format!("sockets ({ownerless} of {total}) · filter `owner:ownerless`");
    let (seen, screen) = tmux.wait_for(Duration::from_secs(3), |s| s.contains(&want));
    assert!(
        seen,
        "Enter on (ownerless) did not list {want:?}:\n{screen}"
    );
    // Esc drops that filter again.
    tmux.keys(&["Escape"]);
    let (seen, screen) = tmux.wait_for(Duration::from_secs(3), |s| !s.contains("owner:ownerless"));
    assert!(seen, "Esc kept the owner filter:\n{screen}");

    // A filter: only TIME_WAIT passes, all of it in (ownerless).
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "state:time-wait"]);
    tmux.keys(&["Enter", "2"]);
    let want = format!("{ownerless} of {total} sockets match");
    let (seen, screen) = tmux.wait_for(Duration::from_secs(3), |s| {
        s.contains(&want) && s.contains("PID COMMAND")
    });
    assert!(seen, "filtered title {want:?} missing:\n{screen}");
    let rows = table(&screen);
    let kinds: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r.comm.as_str(), r.cells["TOTAL"]))
        .collect();
    assert_eq!(kinds, [("(ownerless)", ownerless)], "{screen}");

    tmux.keys(&["q"]);
    tmux.assert_exited(&status, 0, "q as nobody");
}
