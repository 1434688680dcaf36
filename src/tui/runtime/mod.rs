//! Live and replay mode: terminal setup and guaranteed restore, the collector (or player) /
//! input / signal threads, and the UI loop that owns [`App`]. The only file under `tui/`
//! that touches the terminal or spawns threads; it never reads the kernel itself (the
//! caller's tick closure does).
//!
//! Threads: the collector thread owns the caller's sources and sends owned [`crate::tui::TickData`]; in
//! replay the player thread owns the [`Recording`] instead and sends [`Event::Replay`]; the
//! input thread forwards keys and resizes; the signal thread turns SIGTERM/SIGHUP/SIGINT into
//! [`Event::Terminate`]. All three feed ONE `mpsc` channel; the UI loop alone owns `App` and
//! answers pause/interval (or player) changes over a second channel of [`Control`].
//!
//! Back-pressure: at most one collection is in flight. A tick of 20k sockets with its
//! analysis is megabytes, and the event channel is unbounded (it must be: keys and signals
//! may never wait), so a UI loop blocked on a terminal that does not drain (a stopped tmux
//! server, a frozen ssh session) let the collector queue one such tick per interval for as
//! long as it lasted (RELIABILITY.md: +180 MB in 20 s at 20k sockets). So after each tick
//! (or tick error) the collector waits until the UI loop has folded it in and drawn it
//! (`ToSource::Taken`) before it collects again; a tick due meanwhile is collected as
//! soon as that word comes, so a slow UI stretches the interval the way a slow tick does.
//! Keys and signals do not wait on any of this. Live memory is then the tick on screen plus
//! at most one being built or queued. The player holds its frames back the same way.
//!
//! Panics: the hook restores the terminal before the message is printed (once: see
//! `restore_terminal`); a panic on the collector or player thread also stops the drawing and
//! ends the UI loop with [`TuiError::Collector`], so the dashboard never freezes on a dead
//! collector. `SOCKSCOPE_TEST_PANIC` forces either panic for the terminal tests.

use std::io::{self, IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Mutex, MutexGuard, PoisonError};
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
use crate::tui::state::app::{App, TuiOptions};
use crate::tui::state::churn::Churn;
use crate::tui::state::event::{Control, Event};
use crate::tui::state::kill::{KillGate, KillRequest};
use crate::tui::state::replay::{self as player, Player};
use crate::tui::views;

mod source;

use source::{collector_loop, fleet_tick, tick_loop};
pub use source::{FleetCollection, LiveSource};

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
    /// A terminal that hung up (EIO) without its SIGHUP arriving first counts as SIGHUP.
    /// The CLI exits 128 + the signal number, as shells expect.
    #[error("terminated by signal {0}")]
    Signal(i32),
}

/// True when both stdin and stdout are terminals, so the dashboard can run.
pub fn is_tty() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Whether the terminal is set up (raw mode, alternate screen) and not yet restored.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back: raw mode off, main screen, cursor shown. Only the first call
/// after [`setup_terminal`] does anything: leaving the alternate screen a second time also
/// restores the cursor saved on entering it, which moved it back over the panic message.
fn restore_terminal() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
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
    ACTIVE.store(true, Ordering::SeqCst);
    let guard = TerminalGuard;
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
    let term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((guard, term))
}

/// Whether the terminal was handed back to a panic on another thread: the UI loop then stops
/// drawing (a frame drawn after the restore would land on the main screen, over the panic
/// message). Held by the UI loop for the whole of each draw, so the hook waits for a frame
/// in progress to finish before it restores.
static HANDED_BACK: Mutex<bool> = Mutex::new(false);

/// The UI loop's thread: its own panics restore at once (it holds [`HANDED_BACK`] while
/// drawing, so waiting for that lock would deadlock).
static UI_THREAD: Mutex<Option<thread::ThreadId>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Restores the terminal before the previous panic hook prints, so the message is readable.
fn install_panic_hook() {
    *lock(&HANDED_BACK) = false;
    *lock(&UI_THREAD) = Some(thread::current().id());
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if *lock(&UI_THREAD) == Some(thread::current().id()) {
            restore_terminal();
        } else {
            let mut handed_back = lock(&HANDED_BACK);
            *handed_back = true;
            restore_terminal();
        }
        prev(info);
    }));
}

/// Draws a frame unless the terminal was handed back to a panic (see [`HANDED_BACK`]).
fn draw(term: &mut Terminal<CrosstermBackend<Stdout>>, app: &App) -> Result<(), TuiError> {
    let handed_back = lock(&HANDED_BACK);
    if !*handed_back {
        term.draw(|f| views::draw(f, app))?;
    }
    Ok(())
}

/// A panic forced by `SOCKSCOPE_TEST_PANIC` (read once per dashboard), so the terminal
/// tests can prove a panic restores the terminal and exits 101. Undocumented in `--help`:
/// it exists for tests/tui_tmux.rs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TestPanic {
    /// `after-first-frame`: the UI loop panics on its first event after the first frame.
    AfterFirstFrame,
    /// `collector`: the collector (or player) thread panics before its first tick.
    Collector,
}

fn test_panic() -> Option<TestPanic> {
    match std::env::var("SOCKSCOPE_TEST_PANIC").ok()?.as_str() {
        "after-first-frame" => Some(TestPanic::AfterFirstFrame),
        "collector" => Some(TestPanic::Collector),
        _ => None,
    }
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

/// Whether an I/O error on the terminal means it hung up: reads and writes on a tty whose
/// other end is gone fail with EIO (ENXIO once the device itself is gone).
fn hung_up(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EIO | libc::ENXIO))
}

/// A failed draw. A hung-up terminal ends the dashboard as SIGHUP would (exit 129, nothing
/// printed), and the terminal is dropped without being touched again: ratatui's `Drop`
/// would try to show the cursor on it and print that failure on stderr.
fn draw_failed(e: TuiError, term: Terminal<CrosstermBackend<Stdout>>) -> TuiError {
    match e {
        TuiError::Io(io) if hung_up(&io) => {
            std::mem::forget(term);
            TuiError::Signal(libc::SIGHUP)
        }
        e => {
            drop(term);
            e
        }
    }
}

/// How often the UI loop checks that the terminal is still there.
const HANGUP_CHECK: Duration = Duration::from_millis(200);

/// Whether the terminal is still there. A hung-up tty fails every ioctl with EIO, so
/// `isatty` turns false.
fn tty_alive() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
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
                    let _ = tx.send(lost_input(&e));
                    return;
                }
            };
            if tx.send(ev).is_err() {
                return;
            }
        })?;
    Ok(())
}

/// The event for a failed terminal read: a hang-up ends the dashboard as SIGHUP would.
fn lost_input(e: &io::Error) -> Event {
    if hung_up(e) {
        Event::Terminate(libc::SIGHUP)
    } else {
        Event::InputLost(e.to_string())
    }
}

/// What the UI loop sends its source (collector or player) thread.
#[derive(Debug)]
enum ToSource {
    /// The app's request: interval, pause, shutdown, or (replay) a player move.
    Control(Control),
    /// The source's last event was folded in and drawn: it may collect (or send a frame)
    /// again (see the module doc on back-pressure).
    Taken,
    /// (live) A confirmed `K`: destroy these sockets (see [`source`]).
    Kill(KillRequest),
}

/// Whether the UI loop must answer `ev` with [`ToSource::Taken`]: it is what the collector
/// (or player) sent last and is waiting on.
fn from_source(ev: &Event) -> bool {
    matches!(
        ev,
        Event::Tick(_) | Event::Fleet(_) | Event::CollectError(_) | Event::Replay(_)
    )
}

/// How long a source thread with nothing due waits for a message before looking again.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// The player loop: send the current frame (and the status after every change) once the UI
/// loop took the last one, then wait until the next frame is due by the recording's clock
/// ([`Player::due_in_ms`]) or a message arrives. Paused, or at the last frame, it only
/// waits for messages.
fn player_loop(rec: Recording, tx: Sender<Event>, ctl: Receiver<ToSource>) {
    let times = rec.ticks().iter().map(|t| t.taken_at_ms).collect();
    let mut p = Player::new(times);
    let mut shown: Option<usize> = None;
    let mut sent_state: Option<Player> = None;
    // As in `tick_loop`: nothing more is sent until the UI loop took the last frame, and the
    // clock waits too (a slow UI slows playing down rather than skipping frames).
    let mut in_flight = false;
    loop {
        if !in_flight && sent_state.as_ref() != Some(&p) {
            let frame = player::frame(&rec, &p, shown);
            if tx.send(Event::Replay(Box::new(frame))).is_err() {
                return;
            }
            shown = Some(p.pos());
            sent_state = Some(p.clone());
            in_flight = true;
        }
        let due = p.due_in_ms().filter(|_| !in_flight);
        match ctl.recv_timeout(due.map_or(IDLE_WAIT, Duration::from_millis)) {
            Ok(ToSource::Control(Control::Replay(c))) => p.apply(c),
            Ok(ToSource::Control(Control::Shutdown)) | Err(RecvTimeoutError::Disconnected) => {
                return
            }
            Ok(ToSource::Taken) => in_flight = false,
            Ok(
                ToSource::Kill(_) | ToSource::Control(Control::SetInterval(_) | Control::Pause(_)),
            ) => {}
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
pub fn run<S>(opts: TuiOptions, source: S) -> Result<(), TuiError>
where
    S: LiveSource<Output = (Snapshot, Analysis)>,
{
    if !is_tty() {
        return Err(TuiError::NotATerminal);
    }
    let mut app = App::new(&opts);
    app.set_kill_gate(source.kill_gate());
    let interval = app.interval_ms();
    ui_loop(app, "sockscope-collector", move |tx, ctl| {
        collector_loop(source, tx, ctl, interval)
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
    let mut app = App::new(&opts);
    app.set_kill_gate(KillGate::Unavailable(
        "not with --all-netns: a kill acts on one namespace (use --netns)".into(),
    ));
    app.on_event(Event::Churn(Box::new(Churn::Off(
        "not with --all-netns (run with --netns for one namespace)".into(),
    ))));
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
    S: FnOnce(Sender<Event>, Receiver<ToSource>) + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Event>();
    let (ctl_tx, ctl_rx) = mpsc::channel::<ToSource>();

    let forced = test_panic();
    install_panic_hook();
    // Signals first: one arriving while the terminal is being set up is then queued for
    // the UI loop (which restores and exits 128+N) instead of killing a raw-mode terminal.
    let signals = spawn_signals(tx.clone())?;
    let (_guard, mut term) = setup_terminal()?;
    spawn_input(tx.clone())?;
    let gone = tx.clone();
    let thread_name = name.to_string();
    let collector = thread::Builder::new().name(name.into()).spawn(move || {
        let run = std::panic::AssertUnwindSafe(move || {
            if forced == Some(TestPanic::Collector) {
                panic!("forced panic in the collector thread (SOCKSCOPE_TEST_PANIC=collector)");
            }
            source(tx, ctl_rx)
        });
        // Whatever panics on this thread (the tick closure's own panics are caught closer,
        // in tick_loop) must end the dashboard: the UI would otherwise wait forever on a
        // channel the input and signal threads keep open.
        if std::panic::catch_unwind(run).is_err() {
            let _ = gone.send(Event::CollectorGone(format!(
                "the {thread_name} thread panicked"
            )));
        }
    })?;

    if let Err(e) = draw(&mut term, &app) {
        return Err(draw_failed(e, term));
    }
    let mut checked = Instant::now();
    loop {
        // A hung-up tty reads as an endless end-of-file that crossterm's read retries
        // without returning (the input thread spins a core), and when the shell that owned
        // the tty survives (nohup, `trap '' HUP`) no SIGHUP comes either. So the UI loop
        // looks at the tty itself at least every HANGUP_CHECK and ends as SIGHUP would.
        let ev = match rx.recv_timeout(HANGUP_CHECK) {
            Ok(ev) => Some(ev),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if checked.elapsed() >= HANGUP_CHECK {
            checked = Instant::now();
            if !tty_alive() {
                app.on_event(Event::Terminate(libc::SIGHUP));
                break;
            }
        }
        let Some(ev) = ev else { continue };
        if forced == Some(TestPanic::AfterFirstFrame) {
            panic!("forced panic in the UI loop (SOCKSCOPE_TEST_PANIC=after-first-frame)");
        }
        match handle(&mut app, ev, &ctl_tx, |app| draw(&mut term, app)) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(draw_failed(e, term)),
        }
    }
    if tty_alive() {
        drop(term);
    } else {
        // Its Drop would show the cursor on the dead tty and print that failure.
        std::mem::forget(term);
    }
    let _ = ctl_tx.send(ToSource::Control(Control::Shutdown));
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

/// One event through the UI loop: fold it into `app`, pass on the control it asks for, draw,
/// and tell the source once its tick (or frame) is on screen. Returns false when the app is
/// quitting (nothing drawn).
fn handle<D>(
    app: &mut App,
    ev: Event,
    to_source: &Sender<ToSource>,
    draw: D,
) -> Result<bool, TuiError>
where
    D: FnOnce(&App) -> Result<(), TuiError>,
{
    let taken = from_source(&ev);
    // The source may already be gone (it only exits on Shutdown), hence the ignored sends.
    if let Some(c) = app.on_event(ev) {
        let _ = to_source.send(ToSource::Control(c));
    }
    // The UI loop never waits on a kill: the collector thread answers with an event.
    if let Some(req) = app.take_kill_request() {
        let _ = to_source.send(ToSource::Kill(req));
    }
    if app.should_quit() {
        return Ok(false);
    }
    draw(app)?;
    if taken {
        let _ = to_source.send(ToSource::Taken);
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
