//! Tests of the runtime's threads (collector, fleet and player loops) without a terminal.

use super::*;
use crate::analyze::aggregate::Aggregate;
use crate::model::{Attribution, SampleQuality, SourceKind};
use crate::tui::state::event::{NetnsFailure, TickData};

fn empty() -> (Snapshot, Analysis) {
    let snap = Snapshot {
        taken_at_ms: 0,
        source: SourceKind::File,
        netns: "host".into(),
        sockets: Vec::new(),
        protocols: Default::default(),
        udp: Vec::new(),
        unix: Vec::new(),
        processes: Default::default(),
        attribution: Attribution::default(),
        quality: SampleQuality::default(),
        counters: None,
        sysctls: None,
        collect_us: 0,
    };
    let an = Analysis {
        aggregate: Aggregate::default(),
        alerts: Vec::new(),
        findings: Vec::new(),
        rates: None,
        ages: Vec::new(),
        churn: None,
    };
    (snap, an)
}

const WAIT: Duration = Duration::from_secs(10);

fn ctl(c: Control) -> ToSource {
    ToSource::Control(c)
}

#[test]
fn collector_ticks_reports_errors_pauses_and_stops() {
    let (tx, rx) = mpsc::channel();
    let (ctl_tx, ctl_rx) = mpsc::channel();
    let mut n = 0;
    let make = move || {
        n += 1;
        if n == 2 {
            Err("boom".to_string())
        } else {
            Ok(empty())
        }
    };
    // A long first interval: the test would wait it out if shortening did not take effect.
    let h = thread::spawn(move || collector_loop(make, tx, ctl_rx, 60_000));
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::Tick(_))));
    // Shortening the interval takes effect without waiting out the old one.
    ctl_tx.send(ctl(Control::SetInterval(1))).unwrap();
    ctl_tx.send(ToSource::Taken).unwrap();
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::CollectError(e)) if e == "boom"));
    ctl_tx.send(ToSource::Taken).unwrap();
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::Tick(_))));
    // Paused before the tick is taken: no tick may follow, at a 1 ms interval.
    ctl_tx.send(ctl(Control::Pause(true))).unwrap();
    ctl_tx.send(ToSource::Taken).unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    ctl_tx.send(ctl(Control::Pause(false))).unwrap();
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::Tick(_))));
    ctl_tx.send(ctl(Control::Shutdown)).unwrap();
    h.join().unwrap();
}

/// How long the tests below give a collector at a 1 ms interval to overrun a UI that does
/// not take its ticks: 200 intervals.
const UNTAKEN: Duration = Duration::from_millis(200);

#[test]
fn a_ui_that_does_not_take_ticks_holds_the_collector_at_one() {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    let (tx, rx) = mpsc::channel();
    let (ctl_tx, ctl_rx) = mpsc::channel();
    let built = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&built);
    let make = move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(empty())
    };
    let h = thread::spawn(move || collector_loop(make, tx, ctl_rx, 1));
    let deadline = Instant::now() + WAIT;
    while built.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no first tick");
        thread::yield_now();
    }
    // The UI reads nothing for 200 intervals: one tick was built and sits in the channel.
    thread::sleep(UNTAKEN);
    assert_eq!(built.load(Ordering::SeqCst), 1);
    assert!(matches!(rx.try_recv(), Ok(Event::Tick(_))));
    assert!(rx.try_recv().is_err());
    // Taken off the channel but not yet drawn: still nothing new.
    thread::sleep(UNTAKEN);
    assert_eq!(built.load(Ordering::SeqCst), 1);
    // Drawn: the next tick, overdue by now, comes at once, and again only one.
    ctl_tx.send(ToSource::Taken).unwrap();
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::Tick(_))));
    thread::sleep(UNTAKEN);
    assert_eq!(built.load(Ordering::SeqCst), 2);
    assert!(rx.try_recv().is_err());
    ctl_tx.send(ctl(Control::Shutdown)).unwrap();
    h.join().unwrap();
}

#[test]
fn collect_errors_are_held_at_one_too() {
    let (tx, rx) = mpsc::channel();
    let (ctl_tx, ctl_rx) = mpsc::channel();
    let make = || -> Result<(Snapshot, Analysis), String> { Err("down".into()) };
    let h = thread::spawn(move || collector_loop(make, tx, ctl_rx, 1));
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::CollectError(_))));
    thread::sleep(UNTAKEN);
    assert!(rx.try_recv().is_err());
    ctl_tx.send(ctl(Control::Shutdown)).unwrap();
    h.join().unwrap();
}

/// A UI loop without a terminal: `handle` with a draw that counts frames.
fn ui_step(app: &mut App, ev: Event, to_source: &Sender<ToSource>, frames: &mut u32) -> bool {
    let draw = |_: &App| {
        *frames += 1;
        Ok(())
    };
    handle(app, ev, to_source, draw).unwrap()
}

#[test]
fn the_ui_loop_answers_each_collector_event_once_drawn_and_nothing_else() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let (ctl_tx, ctl_rx) = mpsc::channel();
    let mut app = App::new(&TuiOptions::new("h", 1000));
    let mut frames = 0;
    let (snapshot, analysis) = empty();
    let tick = Event::Tick(Box::new(TickData {
        snapshot,
        analysis,
        tick_ms: 1,
    }));
    assert!(ui_step(&mut app, tick, &ctl_tx, &mut frames));
    assert_eq!(frames, 1);
    assert!(matches!(ctl_rx.try_recv(), Ok(ToSource::Taken)));
    let err = Event::CollectError("x".into());
    assert!(ui_step(&mut app, err, &ctl_tx, &mut frames));
    assert!(matches!(ctl_rx.try_recv(), Ok(ToSource::Taken)));
    // A key is drawn but answers nothing, unless it asks for a control (Space pauses).
    let key = |c| Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    assert!(ui_step(
        &mut app,
        Event::Resize(80, 24),
        &ctl_tx,
        &mut frames
    ));
    assert!(ctl_rx.try_recv().is_err());
    assert!(ui_step(&mut app, key(' '), &ctl_tx, &mut frames));
    assert!(matches!(
        ctl_rx.try_recv(),
        Ok(ToSource::Control(Control::Pause(true)))
    ));
    assert!(ctl_rx.try_recv().is_err());
    assert_eq!(frames, 4);
    // Quitting draws nothing more and tells the collector to stop.
    assert!(!ui_step(
        &mut app,
        Event::Terminate(15),
        &ctl_tx,
        &mut frames
    ));
    assert_eq!(frames, 4);
    assert!(matches!(
        ctl_rx.try_recv(),
        Ok(ToSource::Control(Control::Shutdown))
    ));
}

#[test]
fn a_collector_and_a_ui_loop_keep_ticking_together() {
    let (tx, rx) = mpsc::channel();
    let (ctl_tx, ctl_rx) = mpsc::channel();
    let h = thread::spawn(move || collector_loop(|| Ok(empty()), tx, ctl_rx, 1));
    let mut app = App::new(&TuiOptions::new("h", 1000));
    let mut frames = 0;
    while frames < 20 {
        let ev = rx.recv_timeout(WAIT).expect("the collector stalled");
        assert!(ui_step(&mut app, ev, &ctl_tx, &mut frames));
    }
    assert!(!ui_step(
        &mut app,
        Event::Terminate(15),
        &ctl_tx,
        &mut frames
    ));
    h.join().unwrap();
}

#[test]
fn fleet_ticks_carry_every_namespace_and_the_failures() {
    let (tx, rx) = mpsc::channel();
    let (ctl_tx, ctl_rx) = mpsc::channel();
    let make = || -> Result<FleetCollection, String> {
        let fail = NetnsFailure {
            netns: "x".into(),
            reason: "gone".into(),
        };
        Ok((vec![empty(), empty()], vec![fail]))
    };
    let h = thread::spawn(move || tick_loop(make, fleet_tick, tx, ctl_rx, 1));
    match rx.recv_timeout(WAIT) {
        Ok(Event::Fleet(f)) => {
            assert_eq!(f.ticks.len(), 2);
            assert_eq!(f.failures[0].netns, "x");
        }
        other => panic!("{other:?}"),
    }
    ctl_tx.send(ctl(Control::Shutdown)).unwrap();
    h.join().unwrap();
}

#[test]
fn a_panicking_collector_is_reported() {
    let (tx, rx) = mpsc::channel();
    let (_ctl_tx, ctl_rx) = mpsc::channel();
    let make = || -> Result<(Snapshot, Analysis), String> { panic!("boom") };
    let h = thread::spawn(move || collector_loop(make, tx, ctl_rx, 1));
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::CollectorGone(_))));
    h.join().unwrap();
}

#[test]
fn slow_ticks_report_their_duration() {
    let (tx, rx) = mpsc::channel();
    let (ctl_tx, ctl_rx) = mpsc::channel();
    let make = || {
        thread::sleep(Duration::from_millis(30));
        Ok(empty())
    };
    let h = thread::spawn(move || collector_loop(make, tx, ctl_rx, 1));
    match rx.recv_timeout(WAIT) {
        Ok(Event::Tick(t)) => assert!(t.tick_ms >= 30, "{}", t.tick_ms),
        other => panic!("{other:?}"),
    }
    ctl_tx.send(ctl(Control::Shutdown)).unwrap();
    h.join().unwrap();
}

fn recording(n: i64) -> Recording {
    let header = r#"{"kind":"header","schema_version":1,"host":"h","kernel":"k","interval_ms":1000,"started_at":"1970-01-01T00:00:00Z","started_at_ms":0,"netns":"host","sockets":false,"sockscope_version":"0"}"#;
    let ticks = (0..n).map(|i| {
        format!(
            r#"{{"kind":"tick","taken_at_ms":{},"source":"proc","collect_us":1,"states":{{"CLOSE_WAIT":{i}}},"processes":[],"listeners":[],"remotes":[],"ownership":{{}},"quality":{{}},"alerts":[],"rates":null,"counters":null,"sysctls":null}}"#,
            // 5 ms apart: at 16× the player's waits round to zero.
            i * 5
        )
    });
    let text: Vec<String> = std::iter::once(header.to_string()).chain(ticks).collect();
    Recording::from_reader(std::io::Cursor::new(text.join("\n") + "\n"), "r.jsonl").unwrap()
}

/// The next frame, taken as the UI loop takes it (answered with [`ToSource::Taken`]).
fn next_frame(
    rx: &Receiver<Event>,
    ctl_tx: &Sender<ToSource>,
) -> crate::tui::state::event::ReplayFrame {
    match rx.recv_timeout(WAIT) {
        Ok(Event::Replay(f)) => {
            ctl_tx.send(ToSource::Taken).unwrap();
            *f
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn player_sends_frames_on_controls_and_plays_to_the_end() {
    use crate::tui::state::event::ReplayControl as R;
    let (tx, rx) = mpsc::channel();
    let (ctl_tx, ctl_rx) = mpsc::channel();
    let h = thread::spawn(move || player_loop(recording(4), tx, ctl_rx));
    let f = next_frame(&rx, &ctl_tx);
    assert_eq!((f.status.frame, f.status.frames, f.jumped), (0, 4, true));
    assert!(f.data.is_some() && !f.status.playing);
    ctl_tx.send(ctl(Control::Replay(R::Step(1)))).unwrap();
    let f = next_frame(&rx, &ctl_tx);
    assert_eq!((f.status.frame, f.jumped, f.lead_in.len()), (1, false, 0));
    ctl_tx.send(ctl(Control::Replay(R::Faster))).unwrap();
    let f = next_frame(&rx, &ctl_tx);
    assert!(f.data.is_none(), "a speed change resends only the status");
    assert_eq!(f.status.speed, 2.0);
    ctl_tx.send(ctl(Control::Replay(R::First))).unwrap();
    let f = next_frame(&rx, &ctl_tx);
    assert_eq!((f.status.frame, f.jumped), (0, true));
    for _ in 0..3 {
        ctl_tx.send(ctl(Control::Replay(R::Faster))).unwrap();
        next_frame(&rx, &ctl_tx);
    }
    // Play: frames 1, 2, 3 arrive by themselves, then it pauses at the end.
    ctl_tx.send(ctl(Control::Replay(R::TogglePlay))).unwrap();
    assert!(next_frame(&rx, &ctl_tx).status.playing);
    let frames: Vec<_> = (0..3).map(|_| next_frame(&rx, &ctl_tx).status).collect();
    assert_eq!(
        frames.iter().map(|s| s.frame).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(!frames[2].playing);
    ctl_tx.send(ctl(Control::Replay(R::Last))).unwrap();
    ctl_tx.send(ctl(Control::Shutdown)).unwrap();
    h.join().unwrap();
}

#[test]
fn a_ui_that_does_not_take_frames_holds_the_player_at_one() {
    use crate::tui::state::event::ReplayControl as R;
    let (tx, rx) = mpsc::channel();
    let (ctl_tx, ctl_rx) = mpsc::channel();
    let h = thread::spawn(move || player_loop(recording(50), tx, ctl_rx));
    assert_eq!(next_frame(&rx, &ctl_tx).status.frame, 0);
    for _ in 0..4 {
        ctl_tx.send(ctl(Control::Replay(R::Faster))).unwrap();
        next_frame(&rx, &ctl_tx);
    }
    // Playing at 16x (waits of zero), with nothing taken for 200 ms: one frame is queued.
    ctl_tx.send(ctl(Control::Replay(R::TogglePlay))).unwrap();
    thread::sleep(UNTAKEN);
    assert!(matches!(rx.try_recv(), Ok(Event::Replay(f)) if f.status.playing));
    assert!(rx.try_recv().is_err());
    // Taken: playing goes on frame by frame, none skipped.
    ctl_tx.send(ToSource::Taken).unwrap();
    let frames: Vec<_> = (0..3)
        .map(|_| next_frame(&rx, &ctl_tx).status.frame)
        .collect();
    assert_eq!(frames, [1, 2, 3]);
    ctl_tx.send(ctl(Control::Shutdown)).unwrap();
    h.join().unwrap();
}

#[test]
fn without_a_tty_run_refuses_before_touching_the_terminal() {
    if is_tty() {
        return;
    }
    let r = run(TuiOptions::new("h", 1000), || Ok(empty()));
    assert!(matches!(r, Err(TuiError::NotATerminal)));
    let r = replay(TuiOptions::new("h", 1000), recording(1));
    assert!(matches!(r, Err(TuiError::NotATerminal)));
    assert_eq!(
        TuiError::NotATerminal.to_string(),
        "stdout is not a terminal; use `sockscope summary`"
    );
}
