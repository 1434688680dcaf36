//! The collector thread of the live dashboard: [`LiveSource`] (what the caller hands over:
//! a tick, and optionally the kill and the destroy events only the collecting thread can
//! serve, since it is in the collected namespace) and the loop that runs it, with the
//! back-pressure described in the parent module.
//!
//! A kill arrives as [`ToSource::Kill`] from the UI loop, which never waits for it: the
//! source destroys and re-dumps here, the answer goes back as [`Event::Killed`], and the
//! next tick is collected as soon as the UI took the last one, so the screen shows the
//! sockets gone. Churn ([`Event::Churn`]) is sent just before each tick it belongs to.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::{ToSource, IDLE_WAIT};
use crate::analyze::engine::Analysis;
use crate::model::Snapshot;
use crate::tui::state::churn::Churn;
use crate::tui::state::event::{Control, Event, FleetTick, NetnsFailure, TickData};
use crate::tui::state::kill::{KillDone, KillGate, KillRequest};

/// What the collector thread runs. A closure returning a tick is one (it kills nothing
/// and watches no events).
pub trait LiveSource: Send + 'static {
    /// What one tick produces.
    type Output;

    /// One collection (with its analysis); the error text is shown in the header.
    fn tick(&mut self) -> Result<Self::Output, String>;

    /// Destroys the requested sockets and says what happened.
    fn kill(&mut self, req: KillRequest) -> KillDone {
        KillDone::failed_with(req.targets.len(), "this dashboard cannot kill")
    }

    /// The destroy events since the last call, called after each good tick.
    fn churn(&mut self) -> Option<Churn> {
        None
    }

    /// Whether `K` can kill with this source (asked once, before the thread starts).
    fn kill_gate(&self) -> KillGate {
        KillGate::default()
    }
}

impl<F, T> LiveSource for F
where
    F: FnMut() -> Result<T, String> + Send + 'static,
{
    type Output = T;

    fn tick(&mut self) -> Result<T, String> {
        self()
    }
}

/// The collector loop: tick, send, wait out the rest of the interval (and until the UI
/// loop took the tick) while listening for control messages. A tick slower than the
/// interval is followed at once by the next one (the interval stretches; the header
/// reports it via `tick_ms`).
pub(super) fn collector_loop<S>(
    source: S,
    tx: Sender<Event>,
    ctl: Receiver<ToSource>,
    interval_ms: u64,
) where
    S: LiveSource<Output = (Snapshot, Analysis)>,
{
    tick_loop(source, one_tick, tx, ctl, interval_ms);
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

pub(super) fn fleet_tick((pairs, failures): FleetCollection, tick_ms: u64) -> Event {
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
pub(super) fn tick_loop<S, T>(
    mut source: S,
    wrap: fn(T, u64) -> Event,
    tx: Sender<Event>,
    ctl: Receiver<ToSource>,
    interval_ms: u64,
) where
    S: LiveSource<Output = T>,
{
    let mut interval = Duration::from_millis(interval_ms);
    let mut paused = false;
    // Sent and not yet taken by the UI loop: no collecting until it is.
    let mut in_flight = false;
    // When the last tick started; `None` makes the next one due at once.
    let mut last: Option<Instant> = None;
    loop {
        let due = last.is_none_or(|t| t.elapsed() >= interval);
        if due && !paused && !in_flight {
            let started = Instant::now();
            last = Some(started);
            // A panic in the caller's closure must end the dashboard, not leave it frozen
            // on a terminal the panic hook has already restored.
            let tick = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| source.tick()));
            let Ok(tick) = tick else {
                let _ = tx.send(Event::CollectorGone("the collector panicked".into()));
                return;
            };
            let ev = match tick {
                Ok(t) => {
                    let ms = started.elapsed().as_millis() as u64;
                    if let Some(c) = source.churn() {
                        if tx.send(Event::Churn(Box::new(c))).is_err() {
                            return;
                        }
                    }
                    wrap(t, ms)
                }
                Err(e) => Event::CollectError(e),
            };
            if tx.send(ev).is_err() {
                return;
            }
            in_flight = true;
            continue;
        }
        let wait = match last {
            Some(t) if !paused && !in_flight => interval.saturating_sub(t.elapsed()),
            _ => IDLE_WAIT,
        };
        match ctl.recv_timeout(wait) {
            Ok(ToSource::Taken) => in_flight = false,
            Ok(ToSource::Kill(req)) => {
                let done = source.kill(req);
                if tx.send(Event::Killed(Box::new(done))).is_err() {
                    return;
                }
                // Show the result at once: the next tick is due as soon as the UI took
                // the last one.
                last = None;
            }
            Ok(ToSource::Control(Control::SetInterval(ms))) => {
                interval = Duration::from_millis(ms);
            }
            Ok(ToSource::Control(Control::Pause(p))) => {
                // Resuming collects at once rather than waiting out an old interval.
                if paused && !p {
                    last = None;
                }
                paused = p;
            }
            Ok(ToSource::Control(Control::Shutdown)) | Err(RecvTimeoutError::Disconnected) => {
                return
            }
            Ok(ToSource::Control(Control::Replay(_))) | Err(RecvTimeoutError::Timeout) => {}
        }
    }
}
