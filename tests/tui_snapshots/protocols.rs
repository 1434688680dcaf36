//! The dashboard over UDP and UNIX sockets: the same fixture with a UDP receiver that
//! drops (`statsd`, full buffer), a DNS server, a connected client, and UNIX sockets (a
//! php-fpm listener past its backlog, an abstract name holding a NUL, a socketpair, a
//! datagram socket from /proc without queues, and a hostile path: an escape sequence and
//! an invalid UTF-8 byte that must print escaped). `p` cycles TCP → UDP → UNIX.

use sockscope::analyze::aggregate::aggregate;
use sockscope::analyze::engine::Analysis;
use sockscope::model::*;
use sockscope::tui::{Action, App, Event, TickData, TuiOptions, View};

use super::{process, render, snap_sizes, snapshot};

fn udp(local: &str, remote: &str, owner: Owner, q: u32, mem: Option<SkMem>) -> SocketRecord {
    let state = if remote.ends_with(":0") {
        TcpState::Close
    } else {
        TcpState::Established
    };
    let mut s = SocketRecord::new(
        state,
        local.parse().unwrap(),
        remote.parse().unwrap(),
        owner,
    );
    s.recv_q = q;
    s.inode = 7000 + u64::from(s.local.port);
    s.skmem = mem;
    s
}

fn unix(kind: UnixKind, state: TcpState, inode: u64, name: Option<UnixName>) -> UnixRecord {
    let mut u = UnixRecord::new(kind, state, inode);
    u.name = name;
    u.recv_q = Some(0);
    u.send_q = Some(0);
    u.uid = Some(33);
    u
}

/// The hostile path: `ESC[31m` and a lone 0xff byte.
pub const HOSTILE: &[u8] = b"/tmp/\x1b[31mevil\xff.sock";

/// Tick `k` of the TCP fixture with UDP and UNIX sockets beside it.
fn proto_snapshot(k: u64) -> Snapshot {
    let mut s = snapshot(k);
    s.protocols = Protocols::ALL;
    s.processes.extend([
        process(2001, "statsd", "statsd"),
        process(53, "unbound", "unbound"),
        process(3001, "php-fpm", "www-data"),
        process(3002, "dbus-daemon", "messagebus"),
    ]);
    let full = SkMem {
        rmem_alloc: 213_760,
        rcvbuf: Some(212_992),
        wmem_alloc: 0,
        sndbuf: Some(212_992),
        drops: 1200 + 40 * k as u32,
    };
    let calm = SkMem {
        rmem_alloc: 0,
        rcvbuf: Some(212_992),
        wmem_alloc: 0,
        sndbuf: Some(212_992),
        drops: 0,
    };
    s.udp = vec![
        udp("0.0.0.0:53", "0.0.0.0:0", Owner::Process(53), 0, Some(calm)),
        udp("[::]:53", "[::]:0", Owner::Process(53), 0, Some(calm)),
        udp(
            "127.0.0.1:8125",
            "0.0.0.0:0",
            Owner::Process(2001),
            213_760,
            Some(full),
        ),
        udp(
            "10.0.0.5:41234",
            "10.0.0.53:53",
            Owner::Process(4242),
            0,
            Some(calm),
        ),
        udp("0.0.0.0:68", "0.0.0.0:0", Owner::Unattributed, 0, None),
    ];
    let mut fpm = unix(
        UnixKind::Stream,
        TcpState::Listen,
        40001,
        Some(UnixName::Path(Name::from("/run/php/php8.2-fpm.sock"))),
    );
    fpm.recv_q = Some(5);
    fpm.send_q = Some(4);
    fpm.owner = Owner::Process(3001);
    fpm.vfs = Some(UnixVfs { dev: 25, ino: 812 });
    let mut evil = unix(
        UnixKind::Stream,
        TcpState::Listen,
        40002,
        Some(UnixName::Path(Name::from_bytes(HOSTILE))),
    );
    evil.send_q = Some(128);
    evil.owner = Owner::Process(4242);
    let mut bus = unix(
        UnixKind::Stream,
        TcpState::Listen,
        40003,
        Some(UnixName::Abstract(Name::from_bytes(b"dbus\0session"))),
    );
    bus.send_q = Some(4096);
    bus.owner = Owner::Process(3002);
    let mut a = unix(UnixKind::Stream, TcpState::Established, 40010, None);
    a.peer_inode = Some(40011);
    a.recv_q = Some(4096);
    a.owner = Owner::Process(3001);
    let mut b = unix(UnixKind::Stream, TcpState::Established, 40011, None);
    b.peer_inode = Some(40010);
    b.owner = Owner::Process(3001);
    // From /proc/net/unix: no queues, no uid.
    let mut log = UnixRecord::new(UnixKind::Dgram, TcpState::Close, 40020);
    log.name = Some(UnixName::Path(Name::from("/dev/log")));
    log.owner = Owner::Unattributed;
    s.unix = vec![log, a, b, bus, evil, fpm];
    s
}

fn proto_tick(k: u64) -> Event {
    let snapshot = proto_snapshot(k);
    let cw = snapshot.state_counts().get(TcpState::CloseWait);
    let analysis = Analysis {
        aggregate: aggregate(&snapshot),
        alerts: super::alerts(snapshot.taken_at_ms, cw),
        findings: Vec::new(),
        rates: None,
        ages: Vec::new(),
        churn: None,
    };
    Event::Tick(Box::new(TickData {
        snapshot,
        analysis,
        tick_ms: 14,
    }))
}

/// An app started with `-tux` that has seen three ticks, then `actions`.
fn proto_app(actions: &[Action]) -> App {
    let mut app = App::new(&TuiOptions {
        host: "web-1".into(),
        interval_ms: 1000,
        color: true,
        lines: Default::default(),
        protocols: Protocols::ALL,
    });
    for k in 0..3 {
        app.on_event(proto_tick(k));
    }
    for &a in actions {
        app.apply(a);
    }
    app
}

fn text(app: &App, w: u16, h: u16) -> String {
    format!("{}", render(app, w, h).backend())
}

fn snap_two(name: &str, app: &App) {
    for (w, h) in [(80, 24), (120, 40)] {
        let shown = text(app, w, h);
        assert!(
            !shown.contains('\x1b'),
            "{name} {w}x{h}: a raw ESC reached the screen"
        );
    }
    snap_sizes(name, app, &[(80, 24), (120, 40)]);
}

const P: Action = Action::NextProtocol;

#[test]
fn p_cycles_tcp_udp_unix_and_the_header_says_which() {
    let mut a = proto_app(&[]);
    assert_eq!(a.protocol(), Protocol::Tcp);
    assert!(text(&a, 120, 40).contains(" TCP "));
    a.apply(P);
    assert_eq!(a.protocol(), Protocol::Udp);
    let t = text(&a, 120, 40);
    assert!(t.contains(" UDP ") && t.contains("5 udp sockets"), "{t}");
    assert!(t.contains("charts: TCP"), "{t}");
    a.apply(P);
    assert_eq!(a.protocol(), Protocol::Unix);
    a.apply(P);
    assert_eq!(a.protocol(), Protocol::Tcp);
    // Trends and alerts stay (the trend box says it is TCP's).
    a.apply(P);
    let t = text(&a, 120, 40);
    assert!(t.contains("trends, last 10m (w) TCP"), "{t}");
    assert!(t.contains("CLOSE_WAIT leak java[4242]"), "{t}");
}

#[test]
fn started_with_u_shows_udp_first() {
    let mut app = App::new(&TuiOptions {
        host: "web-1".into(),
        interval_ms: 1000,
        color: true,
        lines: Default::default(),
        protocols: Protocols::from_flags(false, true, true),
    });
    app.on_event(proto_tick(0));
    assert_eq!(app.protocol(), Protocol::Udp);
}

#[test]
fn udp_overview() {
    snap_two("udp_overview", &proto_app(&[P]));
}

#[test]
fn udp_processes() {
    let a = proto_app(&[P, Action::GoView(1)]);
    let t = text(&a, 80, 24);
    assert!(
        t.contains("statsd") && t.contains("DROPS") && t.contains("UNCONN"),
        "{t}"
    );
    snap_two("udp_processes", &a);
}

#[test]
fn udp_sockets_and_the_dropping_socket_detail() {
    let a = proto_app(&[P, Action::GoView(4)]);
    let t = text(&a, 120, 40);
    // Most drops first: statsd's full receiver tops the list.
    let first = t
        .lines()
        .find(|l| l.contains("UNCONN") || l.contains("ESTAB"));
    assert!(first.is_some_and(|l| l.contains("8125")), "{t}");
    snap_two("udp_sockets", &a);
    let d = proto_app(&[P, Action::GoView(4), Action::DrillDown]);
    assert_eq!(d.view(), View::Detail);
    let t = text(&d, 120, 40);
    assert!(
        t.contains("rmem 213760 of rcvbuf 212992 (100% full)") && t.contains("drops 1280"),
        "{t}"
    );
    snap_two("udp_detail_socket", &d);
}

#[test]
fn unix_sockets_escape_the_hostile_path() {
    let a = proto_app(&[P, P, Action::GoView(4)]);
    let t = text(&a, 120, 40);
    assert!(t.contains(r"/tmp/\e[31mevil\xff.sock"), "{t}");
    assert!(t.contains("@dbus@session"), "{t}");
    // /proc gave no queues: `-`, never 0.
    let log = t.lines().find(|l| l.contains("/dev/log")).unwrap();
    assert!(log.contains(" - "), "{log}");
    snap_two("unix_sockets", &a);
}

#[test]
fn unix_listener_detail_shows_pending_against_backlog() {
    // Fullest first: php-fpm's 5 pending of backlog 4 is the first row.
    let a = proto_app(&[P, P, Action::GoView(4), Action::DrillDown]);
    let t = text(&a, 120, 40);
    assert!(t.contains("listener: 5 pending of backlog 4 · FULL"), "{t}");
    assert!(t.contains("file dev 25 ino 812"), "{t}");
    snap_two("unix_detail_listener", &a);
}

#[test]
fn unix_overview_lists_listeners_fullest_first() {
    let a = proto_app(&[P, P]);
    let t = text(&a, 120, 40);
    let fpm = t.find("/run/php/php8.2-fpm.sock").unwrap();
    let evil = t.find(r"\e[31m").unwrap();
    assert!(fpm < evil, "{t}");
    snap_two("unix_overview", &a);
}

#[test]
fn unix_filter_by_path_and_tcp_only_views_say_so() {
    let mut a = proto_app(&[P, P, Action::StartFilter]);
    for c in "path:/run/*".chars() {
        a.apply(Action::FilterChar(c));
    }
    a.apply(Action::FilterCommit);
    let t = text(&a, 120, 40);
    assert!(t.contains("unix sockets (1 of 6)"), "{t}");
    a.apply(Action::GoView(2));
    let t = text(&a, 80, 24);
    assert!(
        t.contains("TCP only") && t.contains("p switches protocol"),
        "{t}"
    );
    // Sorting a UDP/UNIX table says why it does nothing.
    a.apply(Action::GoView(4));
    a.apply(Action::SortNext);
    assert!(a.status().is_some_and(|s| s.contains("worst first")));
}

#[test]
fn p_on_a_tcp_only_dashboard_says_how_to_get_the_others() {
    let mut a = super::app();
    a.apply(P);
    assert_eq!(a.protocol(), Protocol::Tcp);
    assert!(
        a.status()
            .is_some_and(|s| s.contains("only TCP") && s.contains("-tux")),
        "{:?}",
        a.status()
    );
    // A TCP-only header is unchanged: no protocol tag.
    assert!(!text(&a, 120, 40).lines().next().unwrap().contains(" TCP "));
}

#[test]
fn p_closes_a_drill_down_and_its_rows_follow_the_new_protocol() {
    let mut a = proto_app(&[P, Action::GoView(4), Action::DrillDown]);
    assert_eq!(a.view(), View::Detail);
    a.apply(P);
    assert_eq!(a.protocol(), Protocol::Unix);
    assert_eq!(a.view(), View::Sockets);
    assert!(a.detail().is_none());
    assert!(text(&a, 120, 40).contains("unix sockets (6 of 6)"));
}
