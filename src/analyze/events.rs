//! Destroy events counted: [`EventRow`] (one destroyed socket with what the polls knew
//! of it) and [`EventWindow`] (the events of one interval: closes per protocol, per remote
//! endpoint and per owning process, connections that lived less than one poll interval,
//! events the kernel dropped). Pure counting; reading the events is `collect`'s, showing
//! them a presenter's.

use std::collections::HashMap;

use crate::collect::events::decode::DestroyEvent;
use crate::collect::events::known::Known;
use crate::model::{Endpoint, Name, Protocol};

/// One destroyed socket with what the polls knew of it.
#[derive(Debug, Clone, Copy)]
pub struct EventRow<'a> {
    /// When it was read (ms since the epoch).
    pub at_ms: i64,
    /// The kernel's notification.
    pub event: &'a DestroyEvent,
    /// What the last polls saw of it (owner, state, inode), if any saw it.
    pub known: Option<&'a Known>,
    /// Whether it lived less than one poll interval (`None`: cannot be known).
    pub short_lived: Option<bool>,
}

/// Destroy events counted over one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventWindow {
    /// Events per protocol: TCP, UDP.
    pub closes: [u64; 2],
    /// Events whose socket no poll saw (lived less than one interval).
    pub short_lived: u64,
    /// Events whose lifetime could not be judged (before the first poll, or a protocol
    /// the polls do not cover).
    pub lifetime_unknown: u64,
    /// Events lost by the kernel.
    pub lost: u64,
    /// Events per remote endpoint.
    pub remotes: HashMap<Endpoint, u64>,
    /// Events per owning process (pid → comm, count), when a poll knew the owner.
    pub processes: HashMap<u32, (Name, u64)>,
    /// Events without a known owner.
    pub unowned: u64,
}

impl EventWindow {
    /// Counts one event.
    pub fn add(&mut self, row: &EventRow<'_>) {
        let idx = usize::from(row.event.protocol != Protocol::Tcp);
        self.closes[idx] += 1;
        match row.short_lived {
            Some(true) => self.short_lived += 1,
            Some(false) => {}
            None => self.lifetime_unknown += 1,
        }
        *self.remotes.entry(row.event.remote).or_default() += 1;
        match row.known.and_then(|k| k.process.as_ref()) {
            Some(p) => {
                self.processes
                    .entry(p.pid)
                    .or_insert_with(|| (p.comm.clone(), 0))
                    .1 += 1;
            }
            None => self.unowned += 1,
        }
    }

    /// All events counted.
    pub fn total(&self) -> u64 {
        self.closes.iter().sum()
    }

    /// The `n` remote endpoints with most events, most first (ties by endpoint).
    pub fn top_remotes(&self, n: usize) -> Vec<(Endpoint, u64)> {
        let mut v: Vec<(Endpoint, u64)> = self.remotes.iter().map(|(e, n)| (*e, *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// The `n` owning processes with most events, most first (ties by pid).
    pub fn top_processes(&self, n: usize) -> Vec<(u32, &Name, u64)> {
        let mut v: Vec<(u32, &Name, u64)> = self
            .processes
            .iter()
            .map(|(p, (c, n))| (*p, c, *n))
            .collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// `n` events over `secs` seconds, per second (0 for an empty window).
pub fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// The destroy events of one poll interval, as analysis and the presenters take them:
/// what [`EventWindow`] counted and how long it counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Churn {
    /// Seconds the window covered.
    pub seconds: f64,
    /// The counts.
    pub window: EventWindow,
}

impl Churn {
    /// All closes per second.
    pub fn closes_per_s(&self) -> f64 {
        per_second(self.window.total(), self.seconds)
    }

    /// Closes per second of sockets whose remote end was `remote`: toward a destination,
    /// the connections this host opened to it (a server-side socket's remote is the
    /// client's port, not the destination).
    pub fn closes_per_s_to(&self, remote: &Endpoint) -> f64 {
        per_second(
            self.window.remotes.get(remote).copied().unwrap_or(0),
            self.seconds,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, ProcessInfo, TcpState};

    fn ep(s: &str) -> Endpoint {
        let a: std::net::SocketAddr = s.parse().unwrap();
        Endpoint::new(a.ip(), a.port())
    }

    fn ev(remote: &str, cookie: u64) -> DestroyEvent {
        DestroyEvent {
            protocol: Protocol::Tcp,
            family: Family::V4,
            state: TcpState::Close,
            local: ep("10.0.0.1:40000"),
            remote: ep(remote),
            recv_q: 0,
            send_q: None,
            cookie,
        }
    }

    #[test]
    fn churn_rates_per_destination() {
        let mut w = EventWindow::default();
        let k = Known {
            state: TcpState::Established,
            inode: 1,
            uid: 0,
            process: Some(ProcessInfo {
                pid: 3,
                comm: Name::from("curl"),
                uid: 0,
                user: Name::from("root"),
                unit: None,
                container: None,
            }),
            first_seen_ms: 0,
            local: Endpoint::unspecified(),
            remote: Endpoint::unspecified(),
        };
        for i in 0..6 {
            let e = ev(if i < 4 { "10.0.0.8:443" } else { "10.0.0.9:80" }, i);
            w.add(&EventRow {
                at_ms: 0,
                event: &e,
                known: (i == 0).then_some(&k),
                short_lived: Some(i != 0),
            });
        }
        let c = Churn {
            seconds: 2.0,
            window: w,
        };
        assert_eq!(c.closes_per_s(), 3.0);
        assert_eq!(c.closes_per_s_to(&ep("10.0.0.8:443")), 2.0);
        assert_eq!(c.closes_per_s_to(&Endpoint::unspecified()), 0.0);
        assert_eq!(c.window.short_lived, 5);
        assert_eq!(c.window.top_processes(5), vec![(3, &Name::from("curl"), 1)]);
        assert_eq!(c.window.unowned, 5);
        assert_eq!(per_second(5, 0.0), 0.0);
    }
}
