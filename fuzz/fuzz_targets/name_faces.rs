#![no_main]
//! Fuzzes the faces a hostile process name reaches: a process named by arbitrary bytes
//! holds one CLOSE_WAIT socket, and `summary --by process` (text and table) and the
//! dashboard's Processes view at 80×24 must show it with no control byte (text keeps only
//! its own newlines and tabs), the same number of lines as a plain name gives, a table
//! whose columns still line up, and a screen whose rows are all 80 columns wide. The same
//! bytes as a UNIX socket path must reach `summary -x --by listener` and `--by process`
//! with no control byte either.

use std::collections::BTreeMap;

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sockscope::analyze::aggregate::aggregate;
use sockscope::analyze::proto_counts::aggregate_proto;
use sockscope::analyze::engine::Analysis;
use sockscope::model::{
    Attribution, Name, Owner, ProcessInfo, Protocol, Protocols, SampleQuality, Snapshot,
    SocketRecord, SourceKind, TcpState, UnixKind, UnixName, UnixRecord,
};
use sockscope::report::{self, Grouping, SummaryOpts, SummaryView};
use sockscope::tui::{draw, Action, App, Event, TickData, TuiOptions};
use unicode_width::UnicodeWidthStr;

fn snapshot(comm: &Name) -> Snapshot {
    let mut s = SocketRecord::new(
        TcpState::CloseWait,
        "127.0.0.1:8080".parse().expect("fixed address"),
        "127.0.0.1:40000".parse().expect("fixed address"),
        Owner::Process(42),
    );
    s.inode = 1;
    let mut processes = BTreeMap::new();
    processes.insert(
        42,
        ProcessInfo {
            pid: 42,
            comm: comm.clone(),
            uid: 1000,
            user: comm.clone(),
            unit: None,
            container: None,
        },
    );
    Snapshot {
        taken_at_ms: 1_700_000_000_000,
        source: SourceKind::Netlink,
        netns: "host".into(),
        sockets: vec![s],
        protocols: Protocols::ALL,
        udp: Vec::new(),
        unix: vec![unix_listener(comm)],
        processes,
        attribution: Attribution::default(),
        quality: SampleQuality::default(),
        counters: None,
        sysctls: None,
        collect_us: 0,
    }
}

/// A UNIX listener bound to `/` and the fuzzed bytes, owned by the same process.
fn unix_listener(name: &Name) -> UnixRecord {
    let mut path = b"/".to_vec();
    path.extend_from_slice(name.raw_bytes());
    let mut l = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 2);
    l.name = Some(UnixName::Path(Name::from_bytes(path)));
    l.recv_q = Some(5);
    l.send_q = Some(4);
    l.owner = Owner::Process(42);
    l
}

/// `summary -x` text by listener and by process: no control byte may reach them.
fn unix_reports(comm: &Name) -> String {
    let snap = snapshot(comm);
    let agg = aggregate(&snap);
    let others = [aggregate_proto(&snap, Protocol::Unix)];
    let view = SummaryView {
        snapshot: &snap,
        aggregate: &agg,
        protocols: Protocols::only(Protocol::Unix),
        others: &others,
    };
    let mut text = Vec::new();
    for by in [Grouping::Listener, Grouping::Process] {
        let opts = SummaryOpts { by, top: None };
        report::text::write(&mut text, &view, &opts).expect("writes to a Vec");
        report::table::write(&mut text, &view, &opts).expect("writes to a Vec");
    }
    String::from_utf8(text).expect("reports are UTF-8")
}

/// The text and table summaries by process.
fn reports(comm: &Name) -> (String, String) {
    let snap = snapshot(comm);
    let agg = aggregate(&snap);
    let view = SummaryView {
        snapshot: &snap,
        aggregate: &agg,
        protocols: Protocols::TCP,
        others: &[],
    };
    let opts = SummaryOpts {
        by: Grouping::Process,
        top: None,
    };
    let mut text = Vec::new();
    report::text::write(&mut text, &view, &opts).expect("writes to a Vec");
    let mut table = Vec::new();
    report::table::write(&mut table, &view, &opts).expect("writes to a Vec");
    let utf8 = |b: Vec<u8>| String::from_utf8(b).expect("reports are UTF-8");
    (utf8(text), utf8(table))
}

fn dashboard(comm: &Name) -> Vec<String> {
    let snap = snapshot(comm);
    let analysis = Analysis {
        aggregate: aggregate(&snap),
        alerts: Vec::new(),
        findings: Vec::new(),
        rates: None,
        ages: Vec::new(),
        churn: None,
    };
    let mut app = App::new(&TuiOptions::new("fuzz", 1000));
    app.on_event(Event::Tick(Box::new(TickData {
        snapshot: snap,
        analysis,
        tick_ms: 1,
    })));
    app.apply(Action::GoView(1));
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("a test terminal");
    term.draw(|f| draw(f, &app)).expect("draws");
    let buf = term.backend().buffer();
    // A wide character fills its cell and the next, which holds a placeholder: read the
    // row as the terminal shows it, skipping what a wide character covers.
    (0..buf.area.height)
        .map(|y| {
            let mut row = String::new();
            let mut x = 0;
            while x < buf.area.width {
                let sym = buf[(x, y)].symbol();
                row.push_str(sym);
                x += u16::try_from(sym.width().max(1)).unwrap_or(1);
            }
            row
        })
        .collect()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let comm = Name::from_bytes(&data[..data.len().min(64)]);
    let (text, table) = reports(&comm);
    let (plain_text, plain_table) = reports(&Name::from("x"));
    assert!(!text.bytes().any(|b| b < 0x20 && b != b'\n' && b != b'\t') && !text.contains('\u{7f}'));
    assert!(!table.bytes().any(|b| b < 0x20 && b != b'\n'));
    assert_eq!(text.lines().count(), plain_text.lines().count(), "{text}");
    assert_eq!(table.lines().count(), plain_table.lines().count(), "{table}");
    // The counts are right-aligned under their headers, so the header and the process row
    // end in the same column whatever the name's width.
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].trim_end().width(),
        lines[1].trim_end().width(),
        "{table}"
    );
    let unix = unix_reports(&comm);
    assert!(!unix.bytes().any(|b| b < 0x20 && b != b'\n' && b != b'\t'), "{unix}");
    assert!(!unix.contains('\u{7f}'), "{unix}");
    for row in dashboard(&comm) {
        assert!(!row.chars().any(|c| c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c)), "{row:?}");
        assert_eq!(row.width(), 80, "{row:?}");
    }
});
