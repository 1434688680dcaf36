//! Snapshot tests for every dashboard view at 80×24 and 160×48, drawn with ratatui's
//! `TestBackend` from a hand-built fixture (a CLOSE_WAIT leak in `java`, a pending SYN
//! flood on :80, a resolved TIME_WAIT storm) and a fixed clock. Accept changes with
//! `INSTA_UPDATE=always cargo test --test tui_snapshots` and review the `.snap` diffs.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sockscope::analyze::ages::SocketAges;
use sockscope::analyze::aggregate::aggregate;
use sockscope::analyze::engine::Analysis;
use sockscope::analyze::finding::{Alert, AlertPhase, Finding, Severity, Subject};
use sockscope::model::RuleId;
use sockscope::model::*;
use sockscope::tui::{draw, Action, App, Event, TickData, TuiOptions};

#[path = "common/screen.rs"]
mod screen;

#[path = "tui_snapshots/layout.rs"]
mod layout;

#[path = "tui_snapshots/replay.rs"]
mod replay;

#[path = "tui_snapshots/fleet.rs"]
mod fleet;

#[path = "tui_snapshots/processes.rs"]
mod processes;

#[path = "tui_snapshots/protocols.rs"]
mod protocols;

#[path = "tui_snapshots/kill.rs"]
mod kill;

#[path = "tui_snapshots/issue20.rs"]
mod issue20;

#[path = "tui_snapshots/grouping.rs"]
mod grouping;

const T0: i64 = 1_700_000_000_000;

fn sock(state: TcpState, local: &str, remote: &str, owner: Owner) -> SocketRecord {
    let mut s = SocketRecord::new(
        state,
        local.parse().unwrap(),
        remote.parse().unwrap(),
        owner,
    );
    s.uid = 1000;
    s
}

fn process(pid: u32, comm: &str, user: &str) -> (u32, ProcessInfo) {
    (
        pid,
        ProcessInfo {
            pid,
            comm: comm.into(),
            uid: 1000,
            user: user.into(),
            unit: None,
            container: None,
        },
    )
}

/// Tick `k` of the fixture: CLOSE_WAIT in java grows by one per tick from 30.
fn snapshot(k: u64) -> Snapshot {
    // No cookies: sockets are keyed by 4-tuple, so they keep their identity (and age)
    // across ticks as real sockets do.
    let mut s = Vec::new();
    let mut push = |r: SocketRecord| s.push(r);
    let listen = |addr: &str, pid: u32, backlog: u32, queue: u32| {
        let mut l = sock(TcpState::Listen, addr, "0.0.0.0:0", Owner::Process(pid));
        l.send_q = backlog;
        l.recv_q = queue;
        l
    };
    push(listen("0.0.0.0:8080", 4242, 128, 3));
    push(listen("0.0.0.0:80", 812, 16, 0));
    push(listen("127.0.0.1:5432", 1337, 244, 0));
    push(listen("0.0.0.0:22", 901, 128, 0));
    for i in 0..(30 + k) {
        let mut r = sock(
            TcpState::CloseWait,
            "10.0.0.5:8080",
            &format!("10.0.0.9:{}", 41000 + i),
            Owner::Process(4242),
        );
        r.recv_q = if i % 5 == 0 { 517 } else { 0 };
        r.tcp_info = Some(TcpInfoLite {
            last_data_recv_ms: 900_000 - i as u32 * 1000,
            ..TcpInfoLite::default()
        });
        push(r);
    }
    for i in 0..24u16 {
        let mut r = sock(
            TcpState::Established,
            "10.0.0.5:80",
            &format!("203.0.113.{}:{}", 10 + i % 6, 50000 + i),
            Owner::Process(812),
        );
        r.timer = TimerKind::KeepAlive;
        r.expires_ms = 7_000_000;
        push(r);
    }
    for i in 0..8u16 {
        push(sock(
            TcpState::Established,
            &format!("10.0.0.5:{}", 33000 + i),
            "127.0.0.1:5432",
            Owner::Process(4242),
        ));
    }
    for i in 0..3u16 {
        push(sock(
            TcpState::Established,
            "10.0.0.5:22",
            &format!("192.0.2.7:{}", 60000 + i),
            Owner::Unattributed,
        ));
    }
    for i in 0..(40 + k * 2) {
        let mut r = sock(
            TcpState::TimeWait,
            &format!("10.0.0.5:{}", 35000 + i),
            "10.0.0.20:5432",
            Owner::Ownerless,
        );
        r.timer = TimerKind::TimeWait;
        r.expires_ms = (60_000 - (i as u32 * 1000) % 60_000).max(500);
        push(r);
    }
    for i in 0..12u16 {
        let mut r = sock(
            TcpState::SynRecv,
            "10.0.0.5:80",
            &format!("198.51.100.{}:{}", 1 + i, 40000 + i),
            Owner::ViaListener(812),
        );
        r.timer = TimerKind::Retransmit;
        r.expires_ms = 3000;
        r.retransmits = 2;
        push(r);
    }
    for i in 0..5u16 {
        push(sock(
            TcpState::FinWait2,
            &format!("10.0.0.5:{}", 36000 + i),
            "10.0.0.30:443",
            Owner::Process(4242),
        ));
    }
    push(sock(
        TcpState::SynSent,
        "10.0.0.5:37000",
        "10.0.0.40:9200",
        Owner::Process(4242),
    ));
    push(sock(
        TcpState::FinWait1,
        "10.0.0.5:37001",
        "10.0.0.41:443",
        Owner::Process(812),
    ));
    push(sock(
        TcpState::LastAck,
        "10.0.0.5:80",
        "203.0.113.99:50999",
        Owner::Process(812),
    ));
    push(sock(
        TcpState::Closing,
        "10.0.0.5:37002",
        "10.0.0.42:443",
        Owner::Process(812),
    ));
    push(sock(
        TcpState::Close,
        "[::]:0",
        "[::]:0",
        Owner::Process(1337),
    ));

    let mut counters = KernelCounters::default();
    for (name, base, per_tick) in [
        ("ListenOverflows", 1000u64, 0u64),
        ("ListenDrops", 1000, 0),
        ("TCPReqQFullDrop", 0, 0),
        ("TCPReqQFullDoCookies", 50, 3),
        ("SyncookiesSent", 50, 3),
        ("TCPTimeWaitOverflow", 0, 0),
    ] {
        counters.tcp_ext.insert(name.into(), base + per_tick * k);
    }
    let mut sysctls = Sysctls::default();
    for (k, v) in [
        ("net.ipv4.ip_local_port_range", "32768\t60999"),
        ("net.core.somaxconn", "4096"),
        ("net.ipv4.tcp_max_syn_backlog", "512"),
        ("net.ipv4.tcp_syncookies", "1"),
    ] {
        sysctls.values.insert(k.into(), v.into());
    }
    Snapshot {
        taken_at_ms: T0 + k as i64 * 1000,
        source: SourceKind::Netlink,
        netns: "host".into(),
        sockets: s,
        protocols: Default::default(),
        udp: Vec::new(),
        unix: Vec::new(),
        processes: BTreeMap::from([
            process(4242, "java", "app"),
            process(812, "nginx", "www-data"),
            process(1337, "postgres", "postgres"),
            process(901, "sshd", "root"),
        ]),
        attribution: Attribution {
            attempted: true,
            unreadable_pids: 1,
            reason: Some(UnattributedReason::NotRoot),
        },
        quality: SampleQuality::default(),
        counters: Some(counters),
        sysctls: Some(sysctls),
        collect_us: 12_000,
    }
}

fn alerts(now: i64, cw: u64) -> Vec<Alert> {
    let finding = |rule, severity, subject, count, message: &str| Finding {
        rule,
        severity,
        subject,
        netns: "host".into(),
        count,
        growth_per_min: None,
        oldest_age_s: None,
        threshold: 10.0,
        metrics: BTreeMap::new(),
        message: message.into(),
        detail: String::new(),
    };
    let mut leak = finding(
        RuleId::CloseWaitLeak,
        Severity::Critical,
        Subject::Process {
            pid: 4242,
            comm: "java".into(),
            user: "app".into(),
            unit: None,
            container: None,
        },
        cw,
        &format!("java[4242] holds {cw} CLOSE_WAIT sockets, +60/min, oldest 15m"),
    );
    leak.growth_per_min = Some(60.0);
    leak.oldest_age_s = Some(900);
    leak.metrics.insert("recv_q_nonzero".into(), 7.0);
    leak.detail = "java[4242] does not call close() after its peers hang up: 10.0.0.5:8080 \
                   ← 10.0.0.9. CLOSE_WAIT never times out; the fix is in the application."
        .into();
    let mut flood = finding(
        RuleId::SynFlood,
        Severity::Warning,
        Subject::Listener {
            local: Endpoint::new("0.0.0.0".parse().unwrap(), 80),
            pid: Some(812),
            comm: Some("nginx".into()),
            unit: None,
            container: None,
        },
        12,
        "0.0.0.0:80 (nginx) has 12 SYN_RECV of backlog 16; syncookies 3/s",
    );
    flood.metrics.insert("SyncookiesSent_per_s".into(), 3.0);
    let storm = finding(
        RuleId::TimeWaitStorm,
        Severity::Warning,
        Subject::Destination {
            remote: Endpoint::new("10.0.0.20".parse().unwrap(), 5432),
        },
        40,
        "TIME_WAIT to 10.0.0.20:5432 used 60% of the port range",
    );
    vec![
        Alert {
            finding: storm,
            phase: AlertPhase::Resolved,
            since_ms: now - 600_000,
            changed_ms: now - 120_000,
        },
        Alert {
            finding: flood,
            phase: AlertPhase::Pending,
            since_ms: now - 20_000,
            changed_ms: now - 20_000,
        },
        Alert {
            finding: leak,
            phase: AlertPhase::Firing,
            since_ms: now - 423_000,
            changed_ms: now - 300_000,
        },
    ]
}

thread_local! {
    static AGES: std::cell::RefCell<SocketAges> = std::cell::RefCell::new(SocketAges::new());
}

fn tick(k: u64) -> Event {
    tick_took(k, 14)
}

fn tick_took(k: u64, tick_ms: u64) -> Event {
    let prev = k.checked_sub(1).map(snapshot);
    let snapshot = snapshot(k);
    let cw = snapshot.state_counts().get(TcpState::CloseWait);
    // Ages as the live analyzer computes them over the ticks so far (tick 0 starts over).
    let ages = AGES.with(|a| {
        let mut a = a.borrow_mut();
        if k == 0 {
            *a = SocketAges::new();
        }
        a.observe(&snapshot)
    });
    // Counter rates as the analyzer computes them, from the previous tick's counters.
    let rates = prev.and_then(|prev| {
        sockscope::analyze::rates::rates(
            prev.counters.as_ref()?,
            prev.taken_at_ms,
            snapshot.counters.as_ref()?,
            snapshot.taken_at_ms,
        )
    });
    let analysis = Analysis {
        aggregate: aggregate(&snapshot),
        alerts: alerts(snapshot.taken_at_ms, cw),
        findings: Vec::new(),
        rates,
        ages,
        churn: None,
    };
    Event::Tick(Box::new(TickData {
        snapshot,
        analysis,
        tick_ms,
    }))
}

/// An app that has seen ten ticks, one second apart.
fn app() -> App {
    let mut app = App::new(&TuiOptions {
        host: "web-1".into(),
        interval_ms: 1000,
        color: true,
        lines: Default::default(),
        protocols: Default::default(),
    });
    for k in 0..10 {
        app.on_event(tick(k));
    }
    app
}

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, app)).unwrap();
    term
}

fn snap_both(name: &str, app: &App) {
    snap_sizes(name, app, &[(80, 24), (120, 40), (200, 60)]);
}

/// Snapshots `app` at each size, named `{name}_{w}x{h}` (all in `tests/snapshots/`).
fn snap_sizes(name: &str, app: &App, sizes: &[(u16, u16)]) {
    for &(w, h) in sizes {
        let term = render(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), term.backend());
    }
}

fn with(actions: &[Action]) -> App {
    let mut a = app();
    for &x in actions {
        a.apply(x);
    }
    a
}

#[test]
fn overview() {
    snap_both("overview", &app());
}

#[test]
fn processes() {
    snap_both("processes", &with(&[Action::GoView(1)]));
}

#[test]
fn processes_sorted_by_pid_ascending() {
    snap_both(
        "processes_by_pid",
        &with(&[
            Action::GoView(1),
            Action::SortNext,
            Action::SortNext,
            Action::SortNext,
            Action::SortNext,
            Action::SortReverse,
        ]),
    );
}

#[test]
fn listeners() {
    snap_both("listeners", &with(&[Action::GoView(2)]));
}

#[test]
fn remotes() {
    snap_both("remotes", &with(&[Action::GoView(3)]));
}

#[test]
fn sockets() {
    snap_both("sockets", &with(&[Action::GoView(4)]));
}

#[test]
fn sockets_filtered() {
    let mut a = with(&[Action::StartFilter]);
    for c in "state:syn-recv".chars() {
        a.apply(Action::FilterChar(c));
    }
    snap_both("sockets_filter_editing", &a);
    a.apply(Action::FilterCommit);
    snap_both("sockets_filtered", &a);
}

#[test]
fn state_machine() {
    snap_both(
        "state_machine",
        &with(&[Action::GoView(5), Action::Down, Action::Down]),
    );
}

#[test]
fn detail_of_the_leak() {
    // The firing leak sorts first in the alerts panel.
    snap_both("detail_finding", &with(&[Action::DrillDown]));
}

#[test]
fn detail_of_a_socket() {
    // The third-oldest socket: its fields on top, selected among its owner's sockets.
    snap_both(
        "detail_socket",
        &with(&[
            Action::GoView(4),
            Action::Down,
            Action::Down,
            Action::DrillDown,
        ]),
    );
}

#[test]
fn detail_scrolled() {
    let a = with(&[Action::DrillDown, Action::InfoDown]);
    let term = render(&a, 80, 24);
    insta::assert_snapshot!("detail_finding_scrolled_80x24", term.backend());
}

#[test]
fn detail_of_a_listener() {
    snap_both(
        "detail_listener",
        &with(&[Action::GoView(2), Action::DrillDown]),
    );
}

#[test]
fn help() {
    snap_both("help", &with(&[Action::ToggleHelp]));
}

#[test]
fn explain_finding() {
    snap_both("explain", &with(&[Action::Explain]));
}

#[test]
fn paused_and_stretched_header() {
    let mut a = App::new(&TuiOptions {
        host: "web-1".into(),
        interval_ms: 250,
        color: true,
        lines: Default::default(),
        protocols: Default::default(),
    });
    a.on_event(tick_took(0, 1530));
    a.apply(Action::TogglePause);
    let term = render(&a, 80, 24);
    insta::assert_snapshot!("header_paused_stretched", term.backend());
}

#[test]
fn before_the_first_tick() {
    let a = App::new(&TuiOptions {
        host: "web-1".into(),
        interval_ms: 1000,
        color: true,
        lines: Default::default(),
        protocols: Default::default(),
    });
    let term = render(&a, 80, 24);
    insta::assert_snapshot!("no_data_yet", term.backend());
}

#[test]
fn too_small() {
    let term = render(&app(), 40, 10);
    insta::assert_snapshot!("too_small_40x10", term.backend());
    let text = format!("{}", term.backend());
    assert!(text.contains("terminal too small"));
    assert!(text.contains("need 80×24"));
    assert!(text.contains("40×10)"));
}

#[test]
fn no_color_means_no_colours() {
    let mut a = App::new(&TuiOptions {
        host: "web-1".into(),
        interval_ms: 1000,
        color: false,
        lines: Default::default(),
        protocols: Default::default(),
    });
    for k in 0..10 {
        a.on_event(tick(k));
    }
    for view in 0..6 {
        a.apply(Action::GoView(view));
        let term = render(&a, 160, 48);
        for cell in term.backend().buffer().content() {
            assert_eq!(
                cell.fg,
                ratatui::style::Color::Reset,
                "view {view}: {cell:?}"
            );
            assert_eq!(
                cell.bg,
                ratatui::style::Color::Reset,
                "view {view}: {cell:?}"
            );
        }
    }
}

#[test]
fn colour_never_hardcodes_black_or_white_text() {
    let a = app();
    let term = render(&a, 160, 48);
    for cell in term.backend().buffer().content() {
        assert!(
            !matches!(
                cell.fg,
                ratatui::style::Color::White | ratatui::style::Color::Black
            ),
            "{cell:?}"
        );
    }
}

/// The fixture's last tick as JSON, for replaying the same scene through the real binary
/// (e.g. a tmux end-to-end test). Regenerate with `UPDATE_FIXTURES=1`.
#[test]
fn json_fixture_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tui/closewait_leak.json"
    );
    let json = serde_json::to_string_pretty(&snapshot(9)).unwrap() + "\n";
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(path, &json).unwrap();
    }
    let stored = std::fs::read_to_string(path).unwrap();
    let back: Snapshot = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        back,
        snapshot(9),
        "run with UPDATE_FIXTURES=1 to refresh {path}"
    );
}
