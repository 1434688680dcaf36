//! The destroy-event feed of `serve` and `record`: one [`EventSocket`] in the collected
//! namespace, the polls' [`KnownSockets`] (owners, short-lived) and the [`EventWindow`] of
//! the interval in progress. The mode calls [`EventFeed::read_until`] while it waits for the
//! next tick (so the kernel's queue stays short), [`EventFeed::take`] right before the poll
//! and [`EventFeed::observe`] right after it: an event read before poll k+1 is judged against
//! polls k and k-1, as `watch --events` does.
//!
//! [`as_polled`] and [`passes`] are the event-side rules `watch --events` shares.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::analyze::events::{Churn, EventRow, EventWindow};
use crate::collect::events::decode::DestroyEvent;
use crate::collect::events::known::{Known, KnownSockets};
use crate::collect::events::{EventSocket, Groups, Received, DEFAULT_RCVBUF};
use crate::collect::CollectError;
use crate::filter::Filter;
use crate::model::{Family, Owner, Protocol, Protocols, Snapshot, SocketRecord, SourceKind};

/// Batches read without waiting before a due tick runs anyway.
const MAX_DRAIN: usize = 10_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An aborted connection is announced with its addresses cleared; a poll that saw it still
/// knows them (a listener's remote port is 0 in the poll too: left alone).
pub(super) fn as_polled(e: &DestroyEvent, known: Option<&Known>) -> DestroyEvent {
    match known {
        Some(k) if e.remote.port == 0 && k.remote.port != 0 => DestroyEvent {
            local: k.local,
            remote: k.remote,
            ..*e
        },
        _ => *e,
    }
}

/// The filter, as far as an event can be judged: ports, addresses, family, and the
/// process (only when a poll knew the owner). Its states are not asked: every destroyed
/// socket is reported in one state.
pub(super) fn passes(filter: &Filter, e: &DestroyEvent, known: Option<&Known>) -> bool {
    let mut rec = SocketRecord::new(
        e.state,
        std::net::SocketAddr::new(e.local.ip, e.local.port),
        std::net::SocketAddr::new(e.remote.ip, e.remote.port),
        Owner::Unresolved,
    );
    rec.family = e.family;
    let mut procs = std::collections::BTreeMap::new();
    if let Some(p) = known.and_then(|k| k.process.as_ref()) {
        rec.owner = Owner::Process(p.pid);
        procs.insert(p.pid, p.clone());
    }
    filter.matches(&rec, &procs)
}

/// Destroy events of the calling thread's namespace, counted per interval.
pub(super) struct EventFeed {
    socket: EventSocket,
    known: KnownSockets,
    window: EventWindow,
    started: Instant,
    filter: Filter,
    /// The polls are state-filtered, so they do not list every live socket.
    partial_polls: bool,
    batch: Vec<DestroyEvent>,
}

impl EventFeed {
    /// Joins the destroy groups of `protocols` (TCP, UDP) in the calling thread's
    /// namespace; events are kept when they pass `filter` (its states aside). The error is
    /// one line saying why events are off.
    pub(super) fn open(protocols: Protocols, filter: &Filter) -> Result<EventFeed, String> {
        let (tcp, udp) = (
            protocols.contains(Protocol::Tcp),
            protocols.contains(Protocol::Udp),
        );
        if !tcp && !udp {
            return Err("the kernel sends destroy events for TCP and UDP only".into());
        }
        let groups = Groups {
            tcp,
            udp,
            v4: filter.family != Some(Family::V6),
            v6: filter.family != Some(Family::V4),
        };
        let socket = EventSocket::open(groups, DEFAULT_RCVBUF).map_err(|e| match e {
            CollectError::PermissionDenied(_) => {
                "the kernel refused to let this process join sock_diag's destroy groups".to_string()
            }
            other => other.to_string(),
        })?;
        let mut filter = filter.clone();
        let partial_polls = filter.states.take().is_some();
        Ok(EventFeed {
            socket,
            known: KnownSockets::default(),
            window: EventWindow::default(),
            started: Instant::now(),
            filter,
            partial_polls,
            batch: Vec::new(),
        })
    }

    /// The receive buffer the kernel granted, in bytes.
    pub(super) fn rcvbuf(&self) -> usize {
        self.socket.rcvbuf()
    }

    /// Reads events as they come until `deadline` (at once when it has passed).
    pub(super) fn read_until(&mut self, deadline: Instant) -> Result<(), CollectError> {
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return self.drain();
            }
            self.receive(wait.min(Duration::from_millis(200)))?;
        }
    }

    /// Ends the interval: reads what is queued, counts what the kernel dropped, and
    /// returns the interval's counts. Call it right before the poll.
    pub(super) fn take(&mut self) -> Result<Churn, CollectError> {
        self.drain()?;
        self.window.lost += self.socket.take_lost();
        let now = Instant::now();
        let seconds = now.duration_since(self.started).as_secs_f64();
        self.started = now;
        Ok(Churn {
            seconds,
            window: std::mem::take(&mut self.window),
        })
    }

    /// Takes in a poll. A poll without socket cookies (the `/proc` source) cannot tell
    /// short-lived from long-lived connections: those events then count as of unknown age.
    pub(super) fn observe(&mut self, snap: &Snapshot) {
        if snap.source == SourceKind::Netlink {
            self.known.observe(snap, now_ms());
            if self.partial_polls {
                self.known.forget_coverage();
            }
        }
    }

    fn drain(&mut self) -> Result<(), CollectError> {
        for _ in 0..MAX_DRAIN {
            if !self.receive(Duration::ZERO)? {
                break;
            }
        }
        Ok(())
    }

    /// One receive; `false` when nothing was queued.
    fn receive(&mut self, wait: Duration) -> Result<bool, CollectError> {
        self.batch.clear();
        match self.socket.recv(wait, &mut self.batch)? {
            Received::Idle => return Ok(false),
            Received::Lost(n) => self.window.lost += n,
            Received::Datagram(_) => {
                let at = now_ms();
                for e in &self.batch {
                    let known = self.known.lookup(e.protocol, e.cookie);
                    let e = as_polled(e, known);
                    if !passes(&self.filter, &e, known) {
                        continue;
                    }
                    self.window.add(&EventRow {
                        at_ms: at,
                        event: &e,
                        known,
                        short_lived: self.known.short_lived(e.protocol, e.cookie, at),
                    });
                }
            }
        }
        Ok(true)
    }
}
