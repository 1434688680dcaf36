//! The live dashboard's source, run on the collector thread (which is in the collected
//! namespace): each tick drains the kernel's destroy events queued since the last one
//! into the churn window (owners and lifetimes from the polls, as `watch --events` does),
//! then collects and analyses; a confirmed `K` is destroyed here by cookie, then
//! re-dumped to count what remains. The UI loop only sends the request and gets the
//! answer back as an event.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::analyze::engine::{Analysis, Analyzer};
use crate::analyze::events::{EventRow, EventWindow};
use crate::collect::collector::{CollectConfig, Collector};
use crate::collect::destroy::{Destroyer, Outcome, SockId};
use crate::collect::events::decode::DestroyEvent;
use crate::collect::events::known::{Known, KnownSockets};
use crate::collect::events::{EventSocket, Groups, Received, DEFAULT_RCVBUF};
use crate::collect::CollectError;
use crate::config::Thresholds;
use crate::filter::Filter;
use crate::model::{Family, Protocol, Snapshot};
use crate::tui::state::churn::{Churn, ChurnWindow};
use crate::tui::state::kill::{KillDone, KillGate, KillRequest};
use crate::tui::LiveSource;

/// Receives per tick before the rest waits for the next one (64 notifications each).
const MAX_DRAIN: usize = 2_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The destroy-event subscription and what it counted since the last tick.
struct Events {
    socket: EventSocket,
    known: KnownSockets,
    window: EventWindow,
    since: Instant,
    polls: u64,
    seen_total: u64,
    lost_total: u64,
    batch: Vec<DestroyEvent>,
}

/// The collector thread's state for the live dashboard.
pub(super) struct LiveDashboard {
    cfg: CollectConfig,
    th: Thresholds,
    gate: KillGate,
    state: Option<(Collector, Analyzer)>,
    /// `None` until the first tick tries to subscribe; then the subscription or why not.
    events: Option<Result<Events, String>>,
    churn: Option<Churn>,
    destroyer: Option<Destroyer>,
    recheck: Option<Collector>,
}

impl LiveDashboard {
    pub(super) fn new(cfg: CollectConfig, th: Thresholds, gate: KillGate) -> LiveDashboard {
        LiveDashboard {
            cfg,
            th,
            gate,
            state: None,
            events: None,
            churn: None,
            destroyer: None,
            recheck: None,
        }
    }

    /// Joins the destroy groups of the namespace the collector entered (so after it).
    fn subscribe(&self) -> Result<Events, String> {
        let p = self.cfg.protocols;
        let (tcp, udp) = (p.contains(Protocol::Tcp), p.contains(Protocol::Udp));
        if !tcp && !udp {
            return Err("the kernel sends destroy events for TCP and UDP only (-t, -u)".into());
        }
        // No capability check: any user may join its own namespace's destroy groups
        // (measured as nobody on Linux 6.18); a kernel that refuses says so below.
        let family = self.cfg.filter.family;
        let groups = Groups {
            tcp,
            udp,
            v4: family != Some(Family::V6),
            v6: family != Some(Family::V4),
        };
        let socket = EventSocket::open(groups, DEFAULT_RCVBUF).map_err(|e| match e {
            CollectError::PermissionDenied(_) => {
                "the kernel refused to let this process join sock_diag's destroy groups".to_string()
            }
            other => format!("joining the destroy groups failed: {other}"),
        })?;
        Ok(Events {
            socket,
            known: KnownSockets::default(),
            window: EventWindow::default(),
            since: Instant::now(),
            polls: 0,
            seen_total: 0,
            lost_total: 0,
            batch: Vec::new(),
        })
    }
}

impl Events {
    /// Reads what is queued, without waiting, into the window.
    fn drain(&mut self, filter: &Filter) -> Result<(), String> {
        for _ in 0..MAX_DRAIN {
            self.batch.clear();
            match self.socket.recv(Duration::ZERO, &mut self.batch) {
                Ok(Received::Idle) => break,
                Ok(Received::Lost(n)) => self.lost(n),
                Ok(Received::Datagram(_)) => {
                    let at = now_ms();
                    let batch = std::mem::take(&mut self.batch);
                    for e in &batch {
                        self.seen_total += 1;
                        self.count(e, at, filter);
                    }
                    self.batch = batch;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        let n = self.socket.take_lost();
        self.lost(n);
        Ok(())
    }

    fn lost(&mut self, n: u64) {
        self.window.lost += n;
        self.lost_total += n;
    }

    fn count(&mut self, e: &DestroyEvent, at: i64, filter: &Filter) {
        let known = self.known.lookup(e.protocol, e.cookie);
        // An aborted connection arrives with its addresses cleared; the poll knew them.
        let restored;
        let e = match known {
            Some(k) if e.remote.port == 0 && k.remote.port != 0 => {
                restored = DestroyEvent {
                    local: k.local,
                    remote: k.remote,
                    ..*e
                };
                &restored
            }
            _ => e,
        };
        if !passes(filter, e, known) {
            return;
        }
        let row = EventRow {
            at_ms: at,
            event: e,
            known,
            short_lived: self.known.short_lived(e.protocol, e.cookie, at),
        };
        self.window.add(&row);
    }

    /// The churn of the interval ending now (none for the first, which starts the count).
    fn close_window(&mut self) -> Churn {
        self.polls += 1;
        let secs = self.since.elapsed().as_secs_f64();
        self.since = Instant::now();
        let window = std::mem::take(&mut self.window);
        if self.polls == 1 {
            return Churn::Waiting;
        }
        Churn::Live(Box::new(ChurnWindow {
            window,
            secs,
            seen_total: self.seen_total,
            lost_total: self.lost_total,
        }))
    }
}

/// The dashboard's filter as far as an event can be judged (as `watch --events`): ports,
/// addresses, family, and the process when a poll knew the owner. States are not judged:
/// every destroyed socket is UNCONN.
fn passes(filter: &Filter, e: &DestroyEvent, known: Option<&Known>) -> bool {
    let f = Filter {
        states: None,
        ..filter.clone()
    };
    crate::mode::churn::passes(&f, e, known)
}

impl LiveSource for LiveDashboard {
    type Output = (Snapshot, Analysis);

    fn tick(&mut self) -> Result<(Snapshot, Analysis), String> {
        if self.state.is_none() {
            let c = Collector::open(self.cfg.clone()).map_err(|e| e.to_string())?;
            self.state = Some((c, Analyzer::with_thresholds(self.th.clone())));
        }
        if self.events.is_none() {
            self.events = Some(self.subscribe());
        }
        // Events first: looked up against the polls before this one, so a socket born
        // and gone since the last poll counts as short-lived.
        if let Some(Ok(ev)) = &mut self.events {
            if let Err(e) = ev.drain(&self.cfg.filter) {
                self.events = Some(Err(format!("reading destroy events failed: {e}")));
            }
        }
        let Some((collector, analyzer)) = self.state.as_mut() else {
            return Err("collector unavailable".into());
        };
        let snap = collector.collect().map_err(|e| e.to_string())?;
        let _ = collector.take_notice();
        self.churn = match &mut self.events {
            Some(Ok(ev)) => {
                ev.known.observe(&snap, now_ms());
                if self.cfg.filter.states.is_some() {
                    // A state-filtered poll does not list every live socket.
                    ev.known.forget_coverage();
                }
                Some(ev.close_window())
            }
            Some(Err(why)) => Some(Churn::Off(why.clone())),
            None => None,
        };
        // The rules read the same interval the churn panel shows (time_wait_storm takes
        // its "how fast" from it), so the alert and the panel beside it agree.
        let events = match &self.churn {
            Some(Churn::Live(w)) => Some(crate::analyze::events::Churn {
                seconds: w.secs,
                window: w.window.clone(),
            }),
            _ => None,
        };
        let analysis = analyzer.observe_with_events(&snap, events);
        Ok((snap, analysis))
    }

    fn churn(&mut self) -> Option<Churn> {
        self.churn.take()
    }

    fn kill_gate(&self) -> KillGate {
        self.gate.clone()
    }

    fn kill(&mut self, req: KillRequest) -> KillDone {
        let n = req.targets.len();
        if self.gate != KillGate::Ready {
            return KillDone::failed_with(n, "this dashboard may not kill");
        }
        let ids: Vec<SockId> = req
            .targets
            .iter()
            .filter_map(|t| SockId::of(t.protocol, &t.socket))
            .collect();
        if ids.len() != n {
            return KillDone::failed_with(n, "some sockets carry no kernel cookie");
        }
        if self.destroyer.is_none() {
            match Destroyer::open() {
                Ok(d) => self.destroyer = Some(d),
                Err(e) => return KillDone::failed_with(n, e.to_string()),
            }
        }
        let Some(d) = self.destroyer.as_mut() else {
            return KillDone::failed_with(n, "no sock_diag socket");
        };
        let outcomes = match d.destroy_all(&ids) {
            Ok(o) => o,
            Err(e) => return KillDone::failed_with(n, e.to_string()),
        };
        let mut done = KillDone {
            targeted: n,
            ..KillDone::default()
        };
        for o in &outcomes {
            match o {
                Outcome::Killed => done.killed += 1,
                Outcome::Gone => done.gone += 1,
                Outcome::Refused(_) => done.refused += 1,
                Outcome::Denied => done.denied += 1,
                Outcome::Failed(_) => done.failed += 1,
            }
        }
        if done.killed == 0 && outcomes.first() == Some(&Outcome::Denied) {
            return KillDone::failed_with(
                n,
                "the kernel refused SOCK_DESTROY (EPERM): CAP_NET_ADMIN in this namespace",
            );
        }
        done.remaining = self.remaining(&req);
        done
    }
}

impl LiveDashboard {
    /// How many of the targets a bare re-dump still lists, by protocol and cookie.
    fn remaining(&mut self, req: &KillRequest) -> Option<usize> {
        if self.recheck.is_none() {
            let mut cfg = self.cfg.clone();
            cfg.attribute = false;
            cfg.counters = false;
            cfg.sysctls = false;
            cfg.tcp_info = false;
            cfg.filter = Filter {
                states: cfg.filter.states,
                family: cfg.filter.family,
                ..Filter::default()
            };
            self.recheck = Collector::open(cfg).ok();
        }
        let after = self.recheck.as_mut()?.collect().ok()?;
        let mut left = std::collections::HashSet::new();
        for (p, list) in [(Protocol::Tcp, &after.sockets), (Protocol::Udp, &after.udp)] {
            left.extend(list.iter().filter_map(|s| s.cookie.map(|c| (p, c))));
        }
        Some(
            req.targets
                .iter()
                .filter(|t| {
                    t.socket
                        .cookie
                        .is_some_and(|c| left.contains(&(t.protocol, c)))
                })
                .count(),
        )
    }
}
