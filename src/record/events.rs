//! The destroy-event part of a recorded tick (schema 3): what the kernel's destroy
//! notifications said about the interval that ended with the tick, when the recorder read
//! them. Copied from a [`Churn`] into structs of their own (the top [`TOP_EVENT_ROWS`]
//! remotes and processes; the totals exact) and turned back into one on replay. A tick
//! without the object had no events read (schema 1 and 2 files, or a recorder without
//! CAP_NET_ADMIN): that is "unknown", never "no closes". No I/O.

use serde::{Deserialize, Serialize};

use super::format::restore;
use crate::analyze::events::{per_second, Churn, EventWindow};
use crate::model::{Endpoint, Name};

/// Remote endpoints and processes a tick keeps, most closes first.
pub const TOP_EVENT_ROWS: usize = 10;

/// Closes toward one remote endpoint over the interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteCloses {
    /// The remote endpoint.
    pub remote: Endpoint,
    /// Sockets closed.
    pub closes: u64,
    /// The same per second (for readers of the file; `closes` is what a replay uses).
    pub per_s: f64,
}

/// Closes of one owning process's sockets over the interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessCloses {
    /// Process id.
    pub pid: u32,
    /// Command name (lossy when not UTF-8; `comm_b64` then holds the exact bytes).
    pub comm: String,
    /// The raw bytes of `comm` in base64, only when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm_b64: Option<String>,
    /// Sockets closed.
    pub closes: u64,
    /// The same per second.
    pub per_s: f64,
}

/// The destroy events of the interval before a tick.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Events {
    /// Seconds the interval covered.
    pub seconds: f64,
    /// Sockets closed (events seen), all protocols.
    pub closes: u64,
    /// The same per second.
    pub closes_per_s: f64,
    /// TCP sockets closed.
    pub tcp: u64,
    /// UDP sockets closed.
    pub udp: u64,
    /// Connections no poll saw: they lived less than one poll interval.
    pub short_lived: u64,
    /// Closes whose lifetime could not be judged.
    pub lifetime_unknown: u64,
    /// Events the kernel dropped (its receive queue was full).
    pub lost: u64,
    /// The [`TOP_EVENT_ROWS`] remote endpoints with most closes.
    pub top_remotes: Vec<RemoteCloses>,
    /// The [`TOP_EVENT_ROWS`] processes with most closes.
    pub top_processes: Vec<ProcessCloses>,
    /// Closes whose owner no poll knew.
    pub owner_unknown: u64,
}

impl Events {
    /// The file's shape of `churn`.
    pub fn of(churn: &Churn) -> Events {
        let w = &churn.window;
        let secs = finite(churn.seconds);
        Events {
            seconds: secs,
            closes: w.total(),
            closes_per_s: per_second(w.total(), secs),
            tcp: w.closes[0],
            udp: w.closes[1],
            short_lived: w.short_lived,
            lifetime_unknown: w.lifetime_unknown,
            lost: w.lost,
            top_remotes: w
                .top_remotes(TOP_EVENT_ROWS)
                .into_iter()
                .map(|(remote, closes)| RemoteCloses {
                    remote,
                    closes,
                    per_s: per_second(closes, secs),
                })
                .collect(),
            top_processes: w
                .top_processes(TOP_EVENT_ROWS)
                .into_iter()
                .map(|(pid, comm, closes)| ProcessCloses {
                    pid,
                    comm: comm.wire_text(),
                    comm_b64: comm.raw_b64(),
                    closes,
                    per_s: per_second(closes, secs),
                })
                .collect(),
            owner_unknown: w.unowned,
        }
    }

    /// The recorded interval as the analysis type: totals exact, the per-remote and
    /// per-process counts limited to the rows kept.
    pub fn churn(&self) -> Churn {
        let window = EventWindow {
            closes: [self.tcp, self.udp],
            short_lived: self.short_lived,
            lifetime_unknown: self.lifetime_unknown,
            lost: self.lost,
            remotes: self
                .top_remotes
                .iter()
                .map(|r| (r.remote, r.closes))
                .collect(),
            processes: self
                .top_processes
                .iter()
                .map(|p| {
                    let comm: Name = restore(&p.comm, p.comm_b64.as_deref());
                    (p.pid, (comm, p.closes))
                })
                .collect(),
            unowned: self.owner_unknown,
        };
        Churn {
            seconds: self.seconds,
            window,
        }
    }
}

// serde_json writes a non-finite number as `null`, which would not read back.
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}
