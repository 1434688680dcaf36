//! The per-rule threshold sections of [`super::Thresholds`], each with its production
//! default. Owns only the values and their meaning; loading, overrides and the checks of
//! relations between values live in the parent module.

use serde::{Deserialize, Serialize};

/// `close_wait_leak`: a process accumulates CLOSE_WAIT sockets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloseWaitLeak {
    /// Seconds a condition must hold before the alert fires (0: at once).
    pub for_s: u64,
    /// CLOSE_WAIT sockets in one process that make a warning on their own.
    pub warn_count: u64,
    /// CLOSE_WAIT sockets in one process that make it critical.
    pub crit_count: u64,
    /// Smallest count the growth and age conditions consider.
    pub min_count: u64,
    /// A count that grew at every sample over this many seconds is a warning.
    pub growth_window_s: u64,
    /// A CLOSE_WAIT socket older than this many seconds is a warning.
    pub warn_age_s: u64,
    /// How many remote peers and local endpoints a finding lists.
    pub top_peers: usize,
}

impl Default for CloseWaitLeak {
    fn default() -> Self {
        CloseWaitLeak {
            for_s: 0,
            warn_count: 200,
            crit_count: 1000,
            min_count: 1,
            growth_window_s: 60,
            warn_age_s: 300,
            top_peers: 5,
        }
    }
}

/// `syn_flood`: a listener receives more SYNs than it completes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynFlood {
    /// Seconds a condition must hold before the alert fires.
    pub for_s: u64,
    /// Fewer SYN_RECV sockets than this never fire on the count alone.
    pub min_syn_recv: u64,
    /// SYN_RECV as a fraction of the SYN queue limit that makes a warning.
    pub warn_fill: f64,
    /// SYN_RECV as a fraction of the SYN queue limit that makes it critical.
    pub crit_fill: f64,
    /// SYN-side pressure (cookies sent + SYNs dropped) per second that makes a warning.
    pub warn_rate: f64,
    /// SYN-side pressure per second that makes it critical.
    pub crit_rate: f64,
    /// Distinct source prefixes (/24, /64) from which on a verdict says "flood".
    pub flood_sources: u64,
}

impl Default for SynFlood {
    fn default() -> Self {
        SynFlood {
            for_s: 10,
            min_syn_recv: 16,
            warn_fill: 0.5,
            crit_fill: 0.9,
            warn_rate: 1.0,
            crit_rate: 100.0,
            flood_sources: 16,
        }
    }
}

/// `accept_queue_overflow`: the application accepts too slowly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcceptQueueOverflow {
    /// Seconds a condition must hold before the alert fires.
    pub for_s: u64,
    /// Accept queue (Recv-Q) as a fraction of the backlog that makes a warning.
    pub warn_fill: f64,
    /// Accept queue as a fraction of the backlog that makes it critical.
    pub crit_fill: f64,
    /// ListenOverflows per second above which the rule fires (default: any).
    pub warn_overflow_rate: f64,
}

impl Default for AcceptQueueOverflow {
    fn default() -> Self {
        AcceptQueueOverflow {
            for_s: 15,
            warn_fill: 0.9,
            crit_fill: 1.0,
            warn_overflow_rate: 0.0,
        }
    }
}

/// `time_wait_storm`: TIME_WAIT eats the ephemeral ports to one destination, or the global
/// bucket cap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeWaitStorm {
    /// Seconds a condition must hold before the alert fires.
    pub for_s: u64,
    /// Fewer TIME_WAIT sockets to one destination than this never fire.
    pub min_count: u64,
    /// Ephemeral ports in use toward one destination, as a fraction of the range, for a
    /// warning.
    pub warn_port_fill: f64,
    /// The same fraction for critical.
    pub crit_port_fill: f64,
    /// TIME_WAIT sockets as a fraction of `tcp_max_tw_buckets` for a warning.
    pub warn_bucket_fill: f64,
    /// The same fraction for critical.
    pub crit_bucket_fill: f64,
}

impl Default for TimeWaitStorm {
    fn default() -> Self {
        TimeWaitStorm {
            for_s: 30,
            min_count: 50,
            warn_port_fill: 0.5,
            crit_port_fill: 0.8,
            warn_bucket_fill: 0.5,
            crit_bucket_fill: 0.9,
        }
    }
}

/// `fin_wait2_buildup`: FIN_WAIT2 sockets pile up (peers that never close).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinWait2Buildup {
    /// Seconds a condition must hold before the alert fires.
    pub for_s: u64,
    /// FIN_WAIT2 sockets of one process (or orphaned ones host-wide) for a warning.
    pub warn_count: u64,
    /// The same count for critical.
    pub crit_count: u64,
}

impl Default for FinWait2Buildup {
    fn default() -> Self {
        FinWait2Buildup {
            for_s: 60,
            warn_count: 500,
            crit_count: 5000,
        }
    }
}

/// `orphans`: orphaned sockets approach `tcp_max_orphans`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Orphans {
    /// Seconds a condition must hold before the alert fires.
    pub for_s: u64,
    /// Fewer orphans than this never fire.
    pub min_count: u64,
    /// Orphans as a fraction of `tcp_max_orphans` for a warning.
    pub warn_fill: f64,
    /// The same fraction for critical.
    pub crit_fill: f64,
}

impl Default for Orphans {
    fn default() -> Self {
        Orphans {
            for_s: 30,
            min_count: 100,
            warn_fill: 0.5,
            crit_fill: 0.8,
        }
    }
}

/// `udp_drops`: a UDP socket (or a process's sockets) drops datagrams, or its receive queue
/// sits at its buffer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UdpDrops {
    /// Seconds a condition must hold before the alert fires.
    pub for_s: u64,
    /// Drops per second, on one socket or one process's sockets, above which a warning
    /// fires (default: any growth of the counter).
    pub warn_drop_rate: f64,
    /// Drops per second from which it is critical.
    pub crit_drop_rate: f64,
    /// Receive queue (bytes charged, `rmem_alloc`) as a fraction of the socket's `rcvbuf`
    /// that makes a warning on its own: the next datagrams will be dropped.
    pub warn_fill: f64,
}

impl Default for UdpDrops {
    fn default() -> Self {
        UdpDrops {
            for_s: 10,
            warn_drop_rate: 0.0,
            crit_drop_rate: 100.0,
            warn_fill: 0.9,
        }
    }
}

/// `unix_accept_overflow`: a UNIX stream/seqpacket listener whose application accepts too
/// slowly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnixAcceptOverflow {
    /// Seconds a condition must hold before the alert fires.
    pub for_s: u64,
    /// Pending connections (Recv-Q) as a fraction of the backlog (Send-Q) that makes a
    /// warning.
    pub warn_fill: f64,
    /// The same fraction for critical (1.0: the backlog is reached; Linux admits one more,
    /// then connect() gets EAGAIN or blocks).
    pub crit_fill: f64,
}

impl Default for UnixAcceptOverflow {
    fn default() -> Self {
        UnixAcceptOverflow {
            for_s: 15,
            warn_fill: 0.9,
            crit_fill: 1.0,
        }
    }
}

/// `conntrack_full`: the namespace's conntrack table nears `nf_conntrack_max`, or the kernel
/// refuses entries (`drop`, `early_drop`, `insert_failed` grow). Past the max every new
/// connection's packets are dropped ("nf_conntrack: table full, dropping packet").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConntrackFull {
    /// Seconds a condition must hold before the alert fires (0: at once; a full table drops
    /// packets now).
    pub for_s: u64,
    /// `nf_conntrack_count / nf_conntrack_max` that makes a warning.
    pub warn_fill: f64,
    /// The same fraction for critical.
    pub crit_fill: f64,
    /// Refusals per second (`drop`, summed over CPUs: no room, nothing evictable, the
    /// packet is dropped) above which it is critical (default 0: any growth since the
    /// previous sample). `early_drop` growth (an unassured entry evicted to admit the new
    /// one) is a warning at any rate.
    pub crit_drop_rate: f64,
    /// `insert_failed` per second above which it is a warning (default 10). Below it, it
    /// is mostly the benign race of two UDP packets of one flow (DNS A and AAAA queries)
    /// clashing on insertion.
    pub warn_insert_failed_rate: f64,
}

impl Default for ConntrackFull {
    fn default() -> Self {
        ConntrackFull {
            for_s: 0,
            warn_fill: 0.8,
            crit_fill: 0.95,
            crit_drop_rate: 0.0,
            warn_insert_failed_rate: 10.0,
        }
    }
}

/// `port_exhaustion`: the ephemeral ports toward one destination from one source address
/// run out (every state that holds a port, against the usable range), or will at the
/// current rate of new connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortExhaustion {
    /// Seconds a condition must hold before the alert fires.
    pub for_s: u64,
    /// Fewer held ports toward one route than this never fire (tiny ranges, test hosts).
    pub min_held: u64,
    /// Held ports as a fraction of the usable ones for a warning. The default equals
    /// `time_wait_storm.warn_port_fill`, so for one source address the two rules judge the
    /// same numbers against the same level (the forecast can only raise this one).
    pub warn_fill: f64,
    /// The same fraction for critical (default: `time_wait_storm.crit_port_fill`).
    pub crit_fill: f64,
    /// Forecast exhaustion within this many minutes is a warning.
    pub warn_minutes: f64,
    /// Forecast exhaustion within this many minutes is critical.
    pub crit_minutes: f64,
}

impl Default for PortExhaustion {
    fn default() -> Self {
        PortExhaustion {
            for_s: 10,
            min_held: 50,
            warn_fill: 0.5,
            crit_fill: 0.8,
            warn_minutes: 30.0,
            crit_minutes: 5.0,
        }
    }
}

impl PortExhaustion {
    /// Checks its values; the error names the dotted key.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        for (key, v) in [
            ("port_exhaustion.warn_fill", self.warn_fill),
            ("port_exhaustion.crit_fill", self.crit_fill),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err((key.into(), format!("must be a positive number, got {v}")));
            }
        }
        for (key, v) in [
            ("port_exhaustion.warn_minutes", self.warn_minutes),
            ("port_exhaustion.crit_minutes", self.crit_minutes),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err((key.into(), format!("must be a number >= 0, got {v}")));
            }
        }
        if self.crit_fill < self.warn_fill {
            return Err((
                "port_exhaustion.crit_fill".into(),
                format!("must be >= warn_fill ({})", self.warn_fill),
            ));
        }
        if self.crit_minutes > self.warn_minutes {
            return Err((
                "port_exhaustion.crit_minutes".into(),
                format!("must be <= warn_minutes ({})", self.warn_minutes),
            ));
        }
        Ok(())
    }
}
