//! Replay snapshots: the fixture's ten ticks written through the real `Recorder` (analysed by
//! `Analyzer::new().observe`), read back with `Recording::open` and fed to the app the way
//! the player thread does, once recorded with `--sockets` and once without. The socketless
//! replay must show the same counts everywhere counts are shown.

use sockscope::analyze::engine::Analyzer;
use sockscope::record::{HeaderInfo, Recorder, Recording};
use sockscope::tui::state::event::ReplayControl;
use sockscope::tui::state::replay::{frame, Player};
use sockscope::tui::{Action, App, Event, TuiOptions};

use super::{render, snap_both, snapshot, T0};

/// Records the fixture's ticks 0..10 and opens the recording.
fn recording(sockets: bool) -> Recording {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(if sockets {
        "full.jsonl"
    } else {
        "counts.jsonl"
    });
    let info = HeaderInfo {
        host: "web-1".into(),
        kernel: "6.8.0-test".into(),
        interval_ms: 1000,
        started_at_ms: T0,
        netns: "host".into(),
        sockets,
    };
    let mut rec = Recorder::create(&path, &info).unwrap();
    let mut an = Analyzer::new();
    for k in 0..10 {
        let snap = snapshot(k);
        let a = an.observe(&snap);
        rec.append(&snap, &a).unwrap();
    }
    drop(rec);
    Recording::open(&path).unwrap()
}

/// An app that replayed `rec` through `controls`, every message as the player sends it.
fn replayed(rec: &Recording, controls: &[ReplayControl]) -> App {
    let mut app = App::new_replay(&TuiOptions {
        host: rec.header().host.clone(),
        interval_ms: rec.header().interval_ms,
        color: true,
        lines: Default::default(),
        protocols: Default::default(),
    });
    let times = rec.ticks().iter().map(|t| t.taken_at_ms).collect();
    let mut p = Player::new(times);
    let mut shown = None;
    let mut send = |app: &mut App, p: &Player| {
        app.on_event(Event::Replay(Box::new(frame(rec, p, shown))));
        shown = Some(p.pos());
    };
    send(&mut app, &p);
    for &c in controls {
        p.apply(c);
        send(&mut app, &p);
    }
    app
}

/// Frames 1..=8 one by one, then doubled speed: a paused replay at frame 8 of 10.
fn stepped(rec: &Recording) -> App {
    let mut c = vec![ReplayControl::Step(1); 7];
    c.push(ReplayControl::Faster);
    replayed(rec, &c)
}

fn text(app: &App, w: u16, h: u16) -> Vec<String> {
    let term = render(app, w, h);
    let buf = term.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

#[test]
fn replay_overview_with_sockets() {
    let app = stepped(&recording(true));
    let screen = text(&app, 80, 24).join("\n");
    assert!(
        screen.contains("REPLAY full.jsonl · frame 8/10 · 22:13:27 UTC · 2× · ⏸"),
        "{screen}"
    );
    snap_both("replay_overview_sockets", &app);
}

#[test]
fn replay_overview_without_sockets_shows_the_same_counts() {
    let full = stepped(&recording(true));
    let counts = stepped(&recording(false));
    snap_both("replay_overview_socketless", &counts);
    for view in [0, 1, 2, 3, 5] {
        let (mut a, mut b) = (full.clone(), counts.clone());
        a.apply(Action::GoView(view));
        b.apply(Action::GoView(view));
        for (w, h) in [(80, 24), (160, 48)] {
            // Below the header (file name, "no socket list"), every number is the same.
            let (ta, tb) = (text(&a, w, h), text(&b, w, h));
            assert_eq!(ta[2..], tb[2..], "view {view} at {w}×{h}");
            let total = |t: &[String]| t[1].split_whitespace().next().map(str::to_string);
            assert_eq!(total(&ta), total(&tb), "header total");
        }
    }
    snap_both("replay_processes_socketless", &{
        let mut b = counts.clone();
        b.apply(Action::GoView(1));
        b
    });
}

#[test]
fn socketless_sockets_view_says_why_it_is_empty() {
    let mut app = stepped(&recording(false));
    app.apply(Action::GoView(4));
    let screen = text(&app, 80, 24).join("\n");
    assert!(
        screen.contains("recorded without --sockets: no socket list"),
        "{screen}"
    );
}

#[test]
fn jumping_restarts_trends_from_the_lead_in() {
    let rec = recording(true);
    // Step one by one to the end, or jump there: the same screen (trends from the lead-in).
    let walked = replayed(&rec, &[ReplayControl::Step(1); 9]);
    let jumped = replayed(&rec, &[ReplayControl::Last]);
    let (a, b) = (text(&walked, 160, 48), text(&jumped, 160, 48));
    assert!(a[0].contains("frame 10/10"), "{}", a[0]);
    // Socket ages differ (first seen restarts on a jump); the overview shows none.
    assert_eq!(a, b);
    // Back to the start and forward one: frame 2, paused.
    let back = replayed(
        &rec,
        &[
            ReplayControl::Last,
            ReplayControl::First,
            ReplayControl::Step(1),
        ],
    );
    assert!(text(&back, 80, 24)[0].contains("frame 2/10"));
}

#[test]
fn replay_help_lists_the_replay_keys() {
    let mut app = stepped(&recording(true));
    app.apply(Action::ToggleHelp);
    let screen = text(&app, 160, 48).join("\n");
    for k in [
        "(replay) play / pause",
        "(replay) frame back",
        "(replay) double speed",
    ] {
        assert!(screen.contains(k), "{k}:\n{screen}");
    }
    assert!(!screen.contains("interval"), "{screen}");
}

#[test]
fn socketless_detail_counts_from_the_recorded_rows() {
    for sockets in [true, false] {
        let mut app = stepped(&recording(sockets));
        app.apply(Action::GoView(1));
        app.apply(Action::DrillDown);
        let screen = text(&app, 160, 48).join("\n");
        assert!(screen.contains("process java[4242]"), "{screen}");
        assert!(screen.contains("52 sockets: CLOSE_WAIT 37"), "{screen}");
        assert_eq!(
            screen.contains("recorded without --sockets: no socket list"),
            !sockets,
            "{screen}"
        );
    }
}
