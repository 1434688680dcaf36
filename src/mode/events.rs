//! `sockscope watch --events`: the kernel's destroy notifications (as `ss -E`), one line
//! per closed socket or one aggregate line per interval, with the owner and lifetime that
//! a poll every interval can tell (see [`crate::collect::events::known`]).
//!
//! One thread: wait for notifications until the next poll is due, drain what is queued,
//! poll (the collector, with attribution), repeat. Losses are printed as they are found
//! and totalled on stderr when the run ends (after `--count` lines, a closed pipe, or
//! SIGINT/SIGTERM/SIGHUP, which end the run cleanly with 128+N).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::churn::{as_polled, passes};
use super::{collect_config, one_namespace, open_collector, RunError};
use crate::analyze::events::{EventRow, EventWindow};
use crate::cli::{GlobalArgs, WatchArgs, WatchFormat};
use crate::collect::events::decode::DestroyEvent;
use crate::collect::events::known::KnownSockets;
use crate::collect::events::{EventSocket, Groups, Received, DEFAULT_RCVBUF};
use crate::collect::CollectError;
use crate::filter::{Filter, StateSet};
use crate::model::{Family, Protocol, Protocols, TcpState};
use crate::report::events::{
    write_event_json, write_event_text, write_lost, write_window_json, write_window_text,
};

/// Datagrams read without waiting before a due poll runs anyway.
const MAX_DRAIN: usize = 100_000;
/// Longest single wait, so a signal is noticed quickly.
const MAX_WAIT: Duration = Duration::from_millis(200);
/// While notifications keep coming, how long to let them queue before the next read.
const COALESCE: Duration = Duration::from_millis(10);
/// The smallest receive buffer that absorbs a [`COALESCE`] pause at 20k connections/s
/// (400 notifications of ~1.5 KiB) many times over; below it every wakeup reads.
const COALESCE_MIN_RCVBUF: usize = 4 << 20;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Totals of one run.
#[derive(Default)]
struct Totals {
    seen: u64,
    lost: u64,
    malformed: u64,
    lines: u64,
}

/// `sockscope watch --events`.
pub fn watch_events(
    global: &GlobalArgs,
    args: &WatchArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    one_namespace(global, "watch --events")?;
    if global.unix {
        return Err(RunError::Usage(
            "watch --events: the kernel sends destroy events for TCP and UDP only (-t, -u)".into(),
        ));
    }
    let filter = global.filter.to_filter();
    if filter.states.is_some() {
        return Err(RunError::Usage(
            "watch --events: every destroyed socket is reported in state UNCONN, so --state \
             cannot select events; filter by port, address or process"
                .into(),
        ));
    }
    let (tcp, udp) = match (global.tcp, global.udp) {
        (false, false) => (true, true),
        pair => pair,
    };
    let mut protocols = Protocols::NONE;
    for (on, p) in [(tcp, Protocol::Tcp), (udp, Protocol::Udp)] {
        if on {
            protocols.insert(p);
        }
    }
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.protocols = protocols;
    // TIME_WAIT and request sockets are no full sockets: they send no notification of
    // their own (a TIME_WAIT's came when its full socket was replaced), so the polls skip
    // them, which under churn is most of the table.
    cfg.filter.add_states(
        TcpState::ALL
            .into_iter()
            .filter(|s| !matches!(s, TcpState::TimeWait | TcpState::SynRecv))
            .fold(StateSet::default(), |mut set, s| {
                set.insert(s);
                set
            }),
    );
    // Opening the collector enters --netns for this thread; the event socket joins the
    // groups of the namespace it is opened in, so it must come second.
    let mut collector = open_collector(cfg)?;
    let groups = Groups {
        tcp,
        udp,
        v4: filter.family != Some(Family::V6),
        v6: filter.family != Some(Family::V4),
    };
    let mut events =
        EventSocket::open(groups, args.rcvbuf.unwrap_or(DEFAULT_RCVBUF)).map_err(|e| match e {
            CollectError::PermissionDenied(_) => RunError::Usage(
                "watch --events: the kernel refused to let this process join sock_diag's \
                 destroy groups (Linux 6.18 lets any user join its own namespace's)"
                    .into(),
            ),
            other => RunError::Collect(other),
        })?;
    let signal = Arc::new(AtomicUsize::new(0));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize)
            .map_err(RunError::Output)?;
    }
    let names: Vec<&str> = protocols.iter().map(Protocol::name).collect();
    eprintln!(
        "sockscope: watching destroy events ({}) in netns {}; receive buffer {} KiB",
        names.join(", "),
        collector.netns_label(),
        events.rcvbuf() / 1024
    );
    let mut run = Run {
        args,
        filter,
        known: KnownSockets::default(),
        window: EventWindow::default(),
        totals: Totals::default(),
        batch: Vec::new(),
    };
    let result = run.ticks(&mut collector, &mut events, &signal, out);
    let t = &run.totals;
    eprintln!(
        "sockscope: {} destroy events seen, {} lost{}",
        t.seen,
        t.lost,
        if t.malformed > 0 {
            format!(", {} unreadable", t.malformed)
        } else {
            String::new()
        }
    );
    match signal.load(Ordering::Relaxed) {
        0 => result,
        sig => result.and(Err(RunError::Signal(i32::try_from(sig).unwrap_or(15)))),
    }
}

struct Run<'a> {
    args: &'a WatchArgs,
    filter: Filter,
    known: KnownSockets,
    window: EventWindow,
    totals: Totals,
    batch: Vec<DestroyEvent>,
}

impl Run<'_> {
    fn json(&self) -> bool {
        self.args.format == WatchFormat::Jsonl
    }

    fn done(&self) -> bool {
        self.args.count.is_some_and(|n| self.totals.lines >= n)
    }

    fn ticks(
        &mut self,
        collector: &mut crate::collect::collector::Collector,
        events: &mut EventSocket,
        signal: &AtomicUsize,
        out: &mut impl Write,
    ) -> Result<(), RunError> {
        let interval = self.args.interval;
        let mut window_start = Instant::now();
        let mut next_poll = Instant::now();
        let coalesce = events.rcvbuf() >= COALESCE_MIN_RCVBUF;
        let mut busy = false;
        loop {
            if self.done() {
                return Ok(());
            }
            if signal.load(Ordering::Relaxed) != 0 {
                // What the kernel already queued was delivered: report it, and count what
                // it dropped, before the totals say what was seen and lost.
                self.drain(events, out)?;
                let lost = events.take_lost();
                return self.lost(lost, out);
            }
            let now = Instant::now();
            if now >= next_poll {
                self.drain(events, out)?;
                self.poll(collector);
                let lost = events.take_lost();
                self.lost(lost, out)?;
                // The first poll runs at once: no window of (nearly) zero seconds.
                if self.args.aggregate && now.duration_since(window_start) >= interval / 2 {
                    let secs = now.duration_since(window_start).as_secs_f64();
                    if self.json() {
                        write_window_json(out, &self.window, now_ms(), secs)?;
                    } else {
                        write_window_text(out, &self.window, now_ms(), secs)?;
                    }
                    out.flush()?;
                    self.totals.lines += 1;
                    self.window = EventWindow::default();
                    window_start = now;
                }
                next_poll += interval;
                if next_poll < Instant::now() {
                    next_poll = Instant::now() + interval;
                }
                continue;
            }
            // Output is written in batches while notifications keep coming, and flushed
            // as soon as the queue is empty (before any wait).
            if self.receive(events, Duration::ZERO, out)? {
                busy = true;
                continue;
            }
            out.flush()?;
            let until_poll = next_poll.saturating_duration_since(now);
            if busy && coalesce {
                // Under load, waking on each notification cost more than reading them
                // (a context switch per handful of events, and a write per wakeup): let
                // a few milliseconds of them queue and read them in full batches. The
                // first notification after a quiet spell still wakes the reader at once.
                busy = false;
                std::thread::sleep(COALESCE.min(until_poll));
                continue;
            }
            busy = self.receive(events, until_poll.min(MAX_WAIT), out)?;
        }
    }

    /// Reads whatever is queued, without waiting, before a poll replaces the cache.
    fn drain(&mut self, events: &mut EventSocket, out: &mut impl Write) -> Result<(), RunError> {
        for _ in 0..MAX_DRAIN {
            if !self.receive(events, Duration::ZERO, out)? || self.done() {
                break;
            }
        }
        Ok(())
    }

    /// One receive; `false` when nothing was queued.
    fn receive(
        &mut self,
        events: &mut EventSocket,
        wait: Duration,
        out: &mut impl Write,
    ) -> Result<bool, RunError> {
        self.batch.clear();
        match events.recv(wait, &mut self.batch)? {
            Received::Idle => return Ok(false),
            Received::Lost(n) => self.lost(n, out)?,
            Received::Datagram(c) => {
                self.totals.malformed += c.malformed;
                let at = now_ms();
                let batch = std::mem::take(&mut self.batch);
                for e in &batch {
                    self.totals.seen += 1;
                    self.event(e, at, out)?;
                }
                self.batch = batch;
            }
        }
        Ok(true)
    }

    fn event(&mut self, e: &DestroyEvent, at: i64, out: &mut impl Write) -> Result<(), RunError> {
        let known = self.known.lookup(e.protocol, e.cookie);
        let polled = as_polled(e, known);
        let e = &polled;
        if !passes(&self.filter, e, known) || self.done() {
            return Ok(());
        }
        let row = EventRow {
            at_ms: at,
            event: e,
            known,
            short_lived: self.known.short_lived(e.protocol, e.cookie, at),
        };
        if self.args.aggregate {
            self.window.add(&row);
            return Ok(());
        }
        if self.json() {
            write_event_json(out, &row)?;
        } else {
            write_event_text(out, &row)?;
        }
        self.totals.lines += 1;
        Ok(())
    }

    fn poll(&mut self, collector: &mut crate::collect::collector::Collector) {
        match collector.collect() {
            Ok(snap) => self.known.observe(&snap, now_ms()),
            // A failed poll costs owners and lifetimes for a while, not events.
            Err(e) => eprintln!("sockscope: poll skipped: {e}"),
        }
        if let Some(n) = collector.take_notice() {
            eprintln!("{n}");
        }
    }

    fn lost(&mut self, n: u64, out: &mut impl Write) -> Result<(), RunError> {
        if n == 0 {
            return Ok(());
        }
        self.totals.lost += n;
        self.window.lost += n;
        if !self.args.aggregate {
            write_lost(out, self.json(), now_ms(), n, self.totals.lost)?;
        }
        Ok(())
    }
}
