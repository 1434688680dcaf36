//! Live and replay mode: terminal setup and guaranteed restore, the collector (or player) /
//! input / signal threads, and the UI loop that owns [`App`]. The only file under `tui/`
//! that touches the terminal or spawns threads; it never reads the kernel itself (the
//! caller's tick closure does).
//!
//! Threads: the collector thread owns the caller's sources and sends owned [`TickData`]; in
//! replay the player thread owns the [`Recording`] instead and sends [`Event::Replay`]; the
//! input thread forwards keys and resizes; the signal thread turns SIGTERM/SIGHUP/SIGINT into
//! [`Event::Terminate`]. All three feed ONE `mpsc` channel; the UI loop alone owns `App` and
//! answers pause/interval (or player) changes over a second channel of [`Control`].

use std::io::{self, IsTerminal, Stdout};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crossterm::event::{self as ct, Event as CtEvent, KeyEventKind};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

use crate::analyze::engine::Analysis;
use crate::model::Snapshot;
use crate::record::Recording;
use crate::tui::app::{App, TuiOptions};
use crate::tui::event::{Control, Event, FleetTick, NetnsFailure, TickData};
use crate::tui::replay::{self as player, Player};
use crate::tui::ui;

/// Why the dashboard could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// stdin or stdout is not a terminal. The CLI prints
    /// "stdout is not a terminal; use `sockscope summary`" and exits 2.
    #[error("stdout is not a terminal; use `sockscope summary`")]
    NotATerminal,
    /// The terminal could not be set up, drawn to or restored.
    #[error("terminal: {0}")]
    Io(#[from] io::Error),
    /// The tick closure panicked (the panic message was already printed).
    #[error("collector failed: {0}")]
    Collector(String),
    /// A signal (SIGTERM, SIGHUP, SIGINT) ended the dashboard; the terminal was restored.
    /// The CLI exits 128 + the signal number, as shells expect.
    #[error("terminated by signal {0}")]
    Signal(i32),
}

/// True when both stdin and stdout are terminals, so the dashboard can run.
pub fn is_tty() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Puts the terminal back: raw mode off, main screen, cursor shown. Safe to call twice.
fn restore_terminal() {
    // Errors are ignored: this runs on every exit path, including panics, where there is
    // nobody left to report them to.
    let _ = terminal::disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

/// Restores the terminal when dropped, whatever way `run` leaves.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn setup_terminal() -> Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>), TuiError> {
    terminal::enable_raw_mode()?;
    let guard = TerminalGuard;
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
    let term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((guard, term))
}

/// Restores the terminal before the previous panic hook prints, so the message is readable.
fn install_panic_hook() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        prev(info);
    }));
}

fn spawn_signals(tx: Sender<Event>) -> io::Result<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    // signal-hook's iterator is a self-pipe: the handler only writes a byte; this thread
    // does the rest outside signal context.
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    let handle = signals.handle();
    thread::Builder::new()
        .name("sockscope-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let _ = tx.send(Event::Terminate(sig));
            }
        })?;
    Ok(handle)
}

fn spawn_input(tx: Sender<Event>) -> io::Result<()> {
    thread::Builder::new()
        .name("sockscope-input".into())
        .spawn(move || loop {
            let ev = match ct::read() {
                Ok(CtEvent::Key(k)) if k.kind != KeyEventKind::Release => Event::Key(k),
                Ok(CtEvent::Resize(w, h)) => Event::Resize(w, h),
                Ok(_) => continue,
                Err(e) => {
                    let _ = tx.send(Event::InputLost(e.to_string()));
                    return;
                }
            };
            if tx.send(ev).is_err() {
                return;
            }
        })?;
    Ok(())
}

/// The collector loop: tick, send, wait out the rest of the interval while listening for
/// control messages. A tick slower than the interval is followed at once by the next one
/// (the interval stretches; the header reports it via `tick_ms`).
fn collector_loop<F>(make_tick: F, tx: Sender<Event>, ctl: Receiver<Control>, interval_ms: u64)
where
    F: FnMut() -> Result<(Snapshot, Analysis), String>,
{
    tick_loop(make_tick, one_tick, tx, ctl, interval_ms);
}

fn one_tick((snapshot, analysis): (Snapshot, Analysis), tick_ms: u64) -> Event {
    Event::Tick(Box::new(TickData {
        snapshot,
        analysis,
        tick_ms,
    }))
}

/// What an `--all-netns` tick closure returns: a collection per readable namespace and
/// the namespaces it could not read.
pub type FleetCollection = (Vec<(Snapshot, Analysis)>, Vec<NetnsFailure>);

fn fleet_tick((pairs, failures): FleetCollection, tick_ms: u64) -> Event {
    let ticks = pairs
        .into_iter()
        .map(|(snapshot, analysis)| TickData {
            snapshot,
            analysis,
            tick_ms,
        })
        .collect();
    Event::Fleet(Box::new(FleetTick { ticks, failures }))
}

/// [`collector_loop`] over any tick result: `wrap` turns a result and the tick's duration
/// into the event sent (one namespace's [`Event::Tick`] or every namespace's
/// [`Event::Fleet`]).
fn tick_loop<F, T>(
    mut make_tick: F,
    wrap: fn(T, u64) -> Event,
    tx: Sender<Event>,
    ctl: Receiver<Control>,
    interval_ms: u64,
) where
    F: FnMut() -> Result<T, String>,
{
    let mut interval = Duration::from_millis(interval_ms);
    let mut paused = false;
    loop {
        let started = Instant::now();
        if !paused {
            // A panic in the caller's closure must end the dashboard, not leave it frozen
            // on a terminal the panic hook has already restored.
            let tick = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut make_tick));
            let Ok(tick) = tick else {
                let _ = tx.send(Event::CollectorGone("the collector panicked".into()));
                return;
            };
            let ev = match tick {
                Ok(t) => wrap(t, started.elapsed().as_millis() as u64),
                Err(e) => Event::CollectError(e),
            };
            if tx.send(ev).is_err() {
                return;
            }
        }
        loop {
            let wait = if paused {
                Duration::from_secs(3600)
            } else {
                interval.saturating_sub(started.elapsed())
            };
            match ctl.recv_timeout(wait) {
                Ok(Control::SetInterval(ms)) => interval = Duration::from_millis(ms),
                Ok(Control::Pause(p)) => {
                    let resumed = paused && !p;
                    paused = p;
                    if resumed {
                        break;
                    }
                }
                Ok(Control::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Control::Replay(_)) => {}
                Err(RecvTimeoutError::Timeout) if paused => {}
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
    }
}

/// The player loop: send the current frame (and the status after every change), then wait
/// until the next frame is due by the recording's clock ([`Player::due_in_ms`]) or a
/// control arrives. Paused, or at the last frame, it only waits for controls.
fn player_loop(rec: Recording, tx: Sender<Event>, ctl: Receiver<Control>) {
    let times = rec.ticks().iter().map(|t| t.taken_at_ms).collect();
    let mut p = Player::new(times);
    let mut shown: Option<usize> = None;
    let mut sent_state: Option<Player> = None;
    loop {
        if sent_state.as_ref() != Some(&p) {
            let frame = player::frame(&rec, &p, shown);
            if tx.send(Event::Replay(Box::new(frame))).is_err() {
                return;
            }
            shown = Some(p.pos());
            sent_state = Some(p.clone());
        }
        let wait = p
            .due_in_ms()
            .map_or(Duration::from_secs(3600), Duration::from_millis);
        match ctl.recv_timeout(wait) {
            Ok(Control::Replay(c)) => p.apply(c),
            Ok(Control::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Control::SetInterval(_) | Control::Pause(_)) => {}
            Err(RecvTimeoutError::Timeout) => p.advance(),
        }
    }
}

/// Runs the live dashboard until the user quits, a signal arrives or the tty goes away.
///
/// `make_tick` is called on one collector thread (which owns whatever it captures, e.g. a
/// `Collector` and an `Analyzer`) once per interval; its error text is shown in the header
/// and the dashboard keeps the last good data. Returns [`TuiError::NotATerminal`] without
/// touching the terminal when stdin/stdout is not a tty.
pub fn run<F>(opts: TuiOptions, make_tick: F) -> Result<(), TuiError>
where
    F: FnMut() -> Result<(Snapshot, Analysis), String> + Send + 'static,
{
    if !is_tty() {
        return Err(TuiError::NotATerminal);
    }
    let app = App::new(&opts);
    let interval = app.interval_ms();
    ui_loop(app, "sockscope-collector", move |tx, ctl| {
        collector_loop(make_tick, tx, ctl, interval)
    })
}

/// Runs the live dashboard over every network namespace (`--all-netns`): like [`run`],
/// but `make_ticks` collects every namespace per tick (on the one collector thread) and
/// reports the ones it could not read; the dashboard shows one namespace at a time with
/// `n`/`N` to switch and a strip of all of them.
pub fn run_fleet<F>(opts: TuiOptions, make_ticks: F) -> Result<(), TuiError>
where
    F: FnMut() -> Result<FleetCollection, String> + Send + 'static,
{
    if !is_tty() {
        return Err(TuiError::NotATerminal);
    }
    let app = App::new(&opts);
    let interval = app.interval_ms();
    ui_loop(app, "sockscope-collector", move |tx, ctl| {
        tick_loop(make_ticks, fleet_tick, tx, ctl, interval)
    })
}

/// Runs the dashboard over a recording until the user quits, a signal arrives or the tty
/// goes away: the same views and keys as [`run`] plus the replay keys, with a player thread
/// (owning `rec`) in place of the collector. It starts paused at the first frame.
/// Returns [`TuiError::NotATerminal`] without touching the terminal when stdin/stdout is
/// not a tty.
pub fn replay(opts: TuiOptions, rec: Recording) -> Result<(), TuiError> {
    if !is_tty() {
        return Err(TuiError::NotATerminal);
    }
    let app = App::new_replay(&opts);
    ui_loop(app, "sockscope-player", move |tx, ctl| {
        player_loop(rec, tx, ctl)
    })
}

/// Sets up the terminal and the threads, starts `source` (collector or player) on its own
/// thread, and runs the UI loop: receive, `app.on_event`, draw.
fn ui_loop<S>(mut app: App, name: &str, source: S) -> Result<(), TuiError>
where
    S: FnOnce(Sender<Event>, Receiver<Control>) + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Event>();
    let (ctl_tx, ctl_rx) = mpsc::channel::<Control>();

    install_panic_hook();
    let (_guard, mut term) = setup_terminal()?;
    let signals = spawn_signals(tx.clone())?;
    spawn_input(tx.clone())?;
    let collector = thread::Builder::new()
        .name(name.into())
        .spawn(move || source(tx, ctl_rx))?;

    term.draw(|f| ui::draw(f, &app))?;
    while let Ok(ev) = rx.recv() {
        if let Some(c) = app.on_event(ev) {
            // The collector may already be gone (it only exits on Shutdown).
            let _ = ctl_tx.send(c);
        }
        if app.should_quit() {
            break;
        }
        term.draw(|f| ui::draw(f, &app))?;
    }
    let _ = ctl_tx.send(Control::Shutdown);
    if let Some(why) = app.fatal() {
        signals.close();
        return Err(TuiError::Collector(why.to_string()));
    }
    // Unregisters the handlers (default signal behaviour returns) and ends that thread.
    signals.close();
    drop(rx);
    // A tick in progress finishes first; do not wait on it (it may take seconds under
    // load): the thread ends on its next send or control check.
    drop(collector);
    match app.signal() {
        Some(sig) => Err(TuiError::Signal(sig)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::aggregate::Aggregate;
    use crate::model::{Attribution, SampleQuality, SourceKind};

    fn empty() -> (Snapshot, Analysis) {
        let snap = Snapshot {
            taken_at_ms: 0,
            source: SourceKind::File,
            netns: "host".into(),
            sockets: Vec::new(),
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
        };
        (snap, an)
    }

    const WAIT: Duration = Duration::from_secs(10);

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
        let h = thread::spawn(move || collector_loop(make, tx, ctl_rx, 250));
        assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::Tick(_))));
        // Shortening the interval takes effect without waiting out the old one.
        ctl_tx.send(Control::SetInterval(1)).unwrap();
        assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::CollectError(e)) if e == "boom"));
        assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::Tick(_))));
        ctl_tx.send(Control::Pause(true)).unwrap();
        // Drain what was sent before the pause landed; then nothing more arrives.
        while rx.recv_timeout(Duration::from_millis(100)).is_ok() {}
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        ctl_tx.send(Control::Pause(false)).unwrap();
        assert!(matches!(rx.recv_timeout(WAIT), Ok(Event::Tick(_))));
        ctl_tx.send(Control::Shutdown).unwrap();
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
        ctl_tx.send(Control::Shutdown).unwrap();
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
        ctl_tx.send(Control::Shutdown).unwrap();
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

    fn next_frame(rx: &Receiver<Event>) -> crate::tui::replay::ReplayFrame {
        match rx.recv_timeout(WAIT) {
            Ok(Event::Replay(f)) => *f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn player_sends_frames_on_controls_and_plays_to_the_end() {
        use crate::tui::replay::ReplayControl as R;
        let (tx, rx) = mpsc::channel();
        let (ctl_tx, ctl_rx) = mpsc::channel();
        let h = thread::spawn(move || player_loop(recording(4), tx, ctl_rx));
        let f = next_frame(&rx);
        assert_eq!((f.status.frame, f.status.frames, f.jumped), (0, 4, true));
        assert!(f.data.is_some() && !f.status.playing);
        ctl_tx.send(Control::Replay(R::Step(1))).unwrap();
        let f = next_frame(&rx);
        assert_eq!((f.status.frame, f.jumped, f.lead_in.len()), (1, false, 0));
        ctl_tx.send(Control::Replay(R::Faster)).unwrap();
        let f = next_frame(&rx);
        assert!(f.data.is_none(), "a speed change resends only the status");
        assert_eq!(f.status.speed, 2.0);
        ctl_tx.send(Control::Replay(R::First)).unwrap();
        let f = next_frame(&rx);
        assert_eq!((f.status.frame, f.jumped), (0, true));
        for _ in 0..3 {
            ctl_tx.send(Control::Replay(R::Faster)).unwrap();
            next_frame(&rx);
        }
        // Play: frames 1, 2, 3 arrive by themselves, then it pauses at the end.
        ctl_tx.send(Control::Replay(R::TogglePlay)).unwrap();
        assert!(next_frame(&rx).status.playing);
        let frames: Vec<_> = (0..3).map(|_| next_frame(&rx).status).collect();
        assert_eq!(
            frames.iter().map(|s| s.frame).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(!frames[2].playing);
        ctl_tx.send(Control::Replay(R::Last)).unwrap();
        ctl_tx.send(Control::Shutdown).unwrap();
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
}
