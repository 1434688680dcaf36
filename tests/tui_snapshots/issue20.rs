//! Issue 20's dashboard scene: a 300-socket CLOSE_WAIT leak in `python3` pid 10055 whose
//! peer, `python3` pid 10013, holds the other ends in FIN_WAIT2, a flat count, and 3 of 604
//! sockets unattributed. Each test checks the screen text for what the issue saw go wrong
//! (a pid cut into another pid, the listener row lost at 80×24, a frozen and unscrollable
//! explain popup, a remedy said twice, two lines of unattributed note, the remote opening on
//! FIN_WAIT2), then snapshots 80×24 and 120×40.

use std::collections::BTreeMap;

use sockscope::analyze::ages::SocketAges;
use sockscope::analyze::aggregate::aggregate;
use sockscope::analyze::engine::Analysis;
use sockscope::analyze::finding::{Alert, AlertPhase, Finding, Severity, Subject};
use sockscope::model::*;
use sockscope::tui::{Action, App, Event, TickData, TuiOptions};

use super::{render, snap_sizes, sock};

const T0: i64 = 1_700_000_000_000;
const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn process(pid: u32) -> (u32, ProcessInfo) {
    let info = ProcessInfo {
        pid,
        comm: "python3".into(),
        uid: 0,
        user: "root".into(),
        unit: None,
        container: None,
    };
    (pid, info)
}

/// The scene at second `k` (the leak was 4m43s old at k = 0).
fn snapshot(k: i64) -> Snapshot {
    let mut s = Vec::new();
    let mut l = sock(
        TcpState::Listen,
        "127.0.0.1:8080",
        "0.0.0.0:0",
        Owner::Process(10055),
    );
    l.send_q = 300;
    s.push(l);
    for i in 0..300u16 {
        let peer = format!("127.0.0.1:{}", 40000 + i);
        let mut cw = sock(
            TcpState::CloseWait,
            "127.0.0.1:8080",
            &peer,
            Owner::Process(10055),
        );
        cw.recv_q = 1;
        s.push(cw);
        s.push(sock(
            TcpState::FinWait2,
            &peer,
            "127.0.0.1:8080",
            Owner::Process(10013),
        ));
    }
    for i in 0..2u16 {
        s.push(sock(
            TcpState::Established,
            "10.0.0.5:22",
            &format!("192.0.2.7:{}", 60000 + i),
            Owner::Unattributed,
        ));
    }
    s.push(sock(
        TcpState::Listen,
        "0.0.0.0:22",
        "0.0.0.0:0",
        Owner::Unattributed,
    ));
    Snapshot {
        taken_at_ms: T0 + k * 1000,
        source: SourceKind::Netlink,
        netns: "host".into(),
        sockets: s,
        protocols: Default::default(),
        udp: Vec::new(),
        unix: Vec::new(),
        processes: BTreeMap::from([process(10055), process(10013)]),
        attribution: Attribution {
            attempted: true,
            unreadable_pids: 1,
            reason: Some(UnattributedReason::NotRoot),
        },
        quality: SampleQuality::default(),
        counters: None,
        sysctls: None,
        collect_us: 9_000,
    }
}

/// The leak's alert at second `k`, worded as the detector words it (its detail ends with
/// the rule's text, remedy included).
fn leak(k: i64) -> Alert {
    let oldest = 283 + k;
    let message = format!(
        "pid 10055 (python3) holds 300 CLOSE_WAIT (+0/min, oldest {}m{:02}s); peer pid 10013 \
         (python3) holds 300 FIN_WAIT2",
        oldest / 60,
        oldest % 60
    );
    let detail = format!(
        "peer pid 10013 (python3) holds 300 FIN_WAIT2 to 127.0.0.1:8080\n\n{}",
        sockscope::explain::remedy(RuleId::CloseWaitLeak)
    );
    Alert {
        finding: Finding {
            rule: RuleId::CloseWaitLeak,
            severity: Severity::Warning,
            subject: Subject::Process {
                pid: 10055,
                comm: "python3".into(),
                user: "root".into(),
                unit: None,
                container: None,
            },
            netns: "host".into(),
            count: 300,
            growth_per_min: Some(0.0),
            oldest_age_s: Some(oldest as u64),
            threshold: 200.0,
            metrics: BTreeMap::new(),
            message,
            detail,
        },
        phase: AlertPhase::Firing,
        since_ms: T0 - 20_000,
        changed_ms: T0 - 20_000,
    }
}

fn tick(ages: &mut SocketAges, k: i64) -> Event {
    let snapshot = snapshot(k);
    let analysis = Analysis {
        aggregate: aggregate(&snapshot),
        alerts: vec![leak(k)],
        findings: Vec::new(),
        rates: None,
        ages: ages.observe(&snapshot),
        churn: None,
    };
    Event::Tick(Box::new(TickData {
        snapshot,
        analysis,
        tick_ms: 12,
    }))
}

/// The dashboard after ticks 0..n, then `actions`.
fn scene(n: i64, actions: &[Action]) -> App {
    let mut app = App::new(&TuiOptions {
        host: "web-1".into(),
        interval_ms: 1000,
        color: true,
        lines: Default::default(),
        protocols: Default::default(),
    });
    let mut ages = SocketAges::new();
    for k in 0..n {
        app.on_event(tick(&mut ages, k));
    }
    for &a in actions {
        app.apply(a);
    }
    app
}

fn screen(app: &App, w: u16, h: u16) -> String {
    format!("{}", render(app, w, h).backend())
}

/// A `[` followed by digits that stop before 10055 or 10013 end: a cut pid.
fn cut_pid(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(i) = rest.find('[') {
        let after = &rest[i + 1..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && !after[digits.len()..].starts_with(']') {
            return Some(after.chars().take(12).collect());
        }
        rest = after;
    }
    None
}

#[test]
fn issue20_overview_keeps_pids_whole_and_the_listener_row() {
    let a = scene(10, &[]);
    for (w, h) in SIZES {
        let text = screen(&a, w, h);
        assert_eq!(cut_pid(&text), None, "{w}x{h}: a cut pid\n{text}");
        assert!(text.contains("[10055]"), "{w}x{h}\n{text}");
        // The listener row under the offenders, and their header uncut.
        assert!(
            text.contains("127.0.0.1:8080"),
            "{w}x{h}: no listener row\n{text}"
        );
        assert!(
            text.contains("listeners: SYN_RECV/backlog accept q")
                || text.contains("listeners SYN_R/backlog accept q"),
            "{w}x{h}: offenders header cut\n{text}"
        );
        // One short unattributed line, and where the reason is.
        assert!(
            text.contains("3 of 604 sockets unattributed (why: "),
            "{w}x{h}\n{text}"
        );
        assert!(!text.contains("fix: sudo setcap"), "{w}x{h}\n{text}");
        // The flat leak in words.
        assert!(text.contains("flat at 300"), "{w}x{h}\n{text}");
    }
    snap_sizes("issue20_overview", &a, &SIZES);
}

#[test]
fn issue20_sockets_view_keeps_pids_whole() {
    let a = scene(10, &[Action::GoView(4)]);
    for (w, h) in SIZES {
        let text = screen(&a, w, h);
        assert_eq!(cut_pid(&text), None, "{w}x{h}: a cut pid\n{text}");
        assert!(text.contains("[10055]"), "{w}x{h}\n{text}");
    }
    snap_sizes("issue20_sockets", &a, &SIZES);
}

#[test]
fn issue20_explain_popup_scrolls_to_one_remedy_with_live_numbers() {
    let mut ages = SocketAges::new();
    let mut a = scene(0, &[]);
    for k in 0..3 {
        a.on_event(tick(&mut ages, k));
    }
    a.apply(Action::Explain);
    // Eight seconds later the popup says what the alert row behind it says.
    for k in 3..11 {
        a.on_event(tick(&mut ages, k));
    }
    for (w, h) in SIZES {
        let text = screen(&a, w, h);
        assert!(
            text.contains("oldest 4m53s"),
            "{w}x{h}: frozen numbers\n{text}"
        );
        assert!(
            !text.contains("oldest 4m45s"),
            "{w}x{h}: frozen numbers\n{text}"
        );
        // What does not fit says so; 120×40 holds it all.
        let hint = text.contains("↓ more");
        assert!(hint || text.contains("Remedy:"), "{w}x{h}\n{text}");
        assert_eq!(hint, w == 80, "{w}x{h}\n{text}");
    }
    snap_sizes("issue20_explain_top", &a, &SIZES);
    // j, Down, J and PgDn all scroll; at the end is the remedy, said once.
    for k in [
        Action::Down,
        Action::Down,
        Action::InfoDown,
        Action::PageDown,
    ] {
        a.apply(k);
    }
    for _ in 0..5 {
        a.apply(Action::PageDown);
    }
    for (w, h) in SIZES {
        let text = screen(&a, w, h);
        assert!(
            text.contains("Remedy:"),
            "{w}x{h}: remedy unreachable\n{text}"
        );
    }
    let whole = a.explanation().unwrap().text;
    assert_eq!(whole.matches("Remedy:").count(), 1, "{whole}");
    snap_sizes("issue20_explain_end", &a, &SIZES);
}

#[test]
fn issue20_detail_says_the_remedy_once() {
    let a = scene(10, &[Action::DrillDown]);
    // Tall enough for the whole pane.
    let text = screen(&a, 120, 100);
    assert_eq!(text.matches("Remedy:").count(), 1, "{text}");
    snap_sizes("issue20_detail", &a, &SIZES);
}

#[test]
fn issue20_remote_of_the_peer_opens_on_the_leak() {
    let a = scene(10, &[Action::GoView(3), Action::DrillDown]);
    for (w, h) in SIZES {
        let text = screen(&a, w, h);
        assert!(text.contains("remote 127.0.0.1"), "{w}x{h}\n{text}");
        assert!(text.contains("FIRING"), "{w}x{h}: not on the leak\n{text}");
        assert!(text.contains("close_wait_leak"), "{w}x{h}\n{text}");
        assert!(
            !text.contains("This side closed first"),
            "{w}x{h}: opens on the FIN_WAIT2 text\n{text}"
        );
    }
    snap_sizes("issue20_remote_detail", &a, &SIZES);
}

#[test]
fn issue20_b_sorts_processes_by_close_wait() {
    let a = scene(10, &[Action::GoView(1), Action::SortBusiest]);
    let text = screen(&a, 80, 24);
    assert!(text.contains("sort CLOSE_WAIT"), "{text}");
    snap_sizes("issue20_processes_by_close_wait", &a, &SIZES);
}

#[test]
fn issue20_u_gives_the_unattributed_reason_and_fix() {
    let a = scene(10, &[Action::ExplainUnattributed]);
    let text = screen(&a, 80, 24);
    assert!(
        text.contains("3 of 604 sockets have no owning process"),
        "{text}"
    );
    assert!(text.contains("Fix: sudo setcap"), "{text}");
    snap_sizes("issue20_unattributed", &a, &SIZES);
}
