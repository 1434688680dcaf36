//! The UDP and UNIX part of the exposition: per-state gauges, the top processes, UDP drops
//! and the host's `Udp:`/`Udp6:` counters, UNIX listener queues. Pure, like
//! [`super::metrics`] (whose series, label and encoding helpers it uses); counting is
//! [`aggregate_proto`]'s, never redone here.
//!
//! A namespace whose snapshot did not collect a protocol gets none of its series: zeros
//! would claim "no UDP socket". Every family is prefixed `sockscope_udp_` or `sockscope_unix_`
//! (the host counters `sockscope_kernel_udp_total`, beside `sockscope_kernel_tcp_total`), so
//! they sit beside node_exporter's `node_sockstat_*` and `node_netstat_Udp_*` without
//! clashing, and a TCP-only run renders not one byte more than before.

use std::collections::{BTreeMap, HashSet};

use prometheus_client::registry::Registry;

use super::metrics::{encode, labels, Labels, Series, NAME_LABEL_MAX};
use super::Options;
use crate::analyze::engine::Analysis;
use crate::analyze::proto_counts::{aggregate_proto, ProtoAggregate, ProtoProcessRow};
use crate::model::{Name, Protocol, Snapshot, TcpState, UnixKind, UnixName};

/// The most bytes a UNIX socket path holds as a label value: `sun_path` is 108 bytes, but
/// escaped (`\xNN`) a hostile one quadruples; cut with `…` beyond this.
pub const PATH_LABEL_MAX: usize = 128;

/// The states always exported per protocol (as `ss` spells them), so a graph has a zero
/// rather than a gap; any other state is exported while it has sockets.
const UDP_STATES: [TcpState; 2] = [TcpState::Close, TcpState::Established];
const UNIX_STATES: [TcpState; 3] = [TcpState::Close, TcpState::Established, TcpState::Listen];

const UNIX_KINDS: [UnixKind; 3] = [UnixKind::Stream, UnixKind::Dgram, UnixKind::SeqPacket];

/// The label value of a UNIX socket name: the path, or `@` and the abstract name (NULs
/// inside it as `@`, as `ss` prints them), escaped and cut to `max` bytes.
pub fn unix_name_label(name: &UnixName, max: usize) -> String {
    match name {
        UnixName::Path(n) => n.label_value(max).into_owned(),
        UnixName::Abstract(n) => {
            let mut shown = Vec::with_capacity(n.raw_bytes().len() + 1);
            shown.push(b'@');
            shown.extend(n.raw_bytes().iter().map(|&b| if b == 0 { b'@' } else { b }));
            Name::from_bytes(shown).label_value(max).into_owned()
        }
    }
}

/// Every UDP and UNIX family, filled namespace by namespace.
struct Families {
    udp_sockets: Series<u64>,
    udp_process_sockets: Series<u64>,
    udp_process_drops: Series<u64>,
    udp_process_recv_q: Series<u64>,
    udp_drops: Series<u64>,
    udp_drops_observed: Series<u64>,
    udp_unattributed: Series<u64>,
    kernel_udp: Series<u64>,
    kernel_in_use: Series<u64>,
    unix_sockets: Series<u64>,
    unix_types: Series<u64>,
    unix_process_sockets: Series<u64>,
    unix_accept: Series<u64>,
    unix_backlog: Series<u64>,
    unix_unattributed: Series<u64>,
}

impl Families {
    fn new() -> Families {
        Families {
            udp_sockets: Series::gauge(),
            udp_process_sockets: Series::gauge(),
            udp_process_drops: Series::gauge(),
            udp_process_recv_q: Series::gauge(),
            udp_drops: Series::gauge(),
            udp_drops_observed: Series::counter(),
            udp_unattributed: Series::gauge(),
            kernel_udp: Series::counter(),
            kernel_in_use: Series::gauge(),
            unix_sockets: Series::gauge(),
            unix_types: Series::gauge(),
            unix_process_sockets: Series::gauge(),
            unix_accept: Series::gauge(),
            unix_backlog: Series::gauge(),
            unix_unattributed: Series::gauge(),
        }
    }
}

/// Renders the UDP and UNIX families of `ticks` (empty when no tick collected either).
/// `udp_drops_observed` is the cumulative [`crate::model::udp_drops_between`] per namespace,
/// kept by the tick thread (`None`: that counter is left out).
pub(super) fn render(
    ticks: &[(Snapshot, Analysis)],
    udp_drops_observed: Option<&BTreeMap<String, u64>>,
    opts: &Options,
) -> String {
    let mut f = Families::new();
    for (snap, _) in ticks {
        let ns = snap.netns.as_str();
        if snap.protocols.contains(Protocol::Udp) {
            let agg = aggregate_proto(snap, Protocol::Udp);
            udp(&mut f, snap, &agg, udp_drops_observed, opts);
        }
        if snap.protocols.contains(Protocol::Unix) {
            let agg = aggregate_proto(snap, Protocol::Unix);
            unix(&mut f, ns, &agg, opts);
        }
        in_use(&mut f, snap);
    }
    register(f)
}

/// The kernel's own socket totals (`/proc/net/protocols`) for the collected UDP and UNIX
/// tables, beside the dump's counts: `UNIX` is datagram, `UNIX-STREAM` stream and
/// seqpacket.
fn in_use(f: &mut Families, snap: &Snapshot) {
    let Some(c) = &snap.counters else {
        return;
    };
    let names: &[(Protocol, &str)] = &[
        (Protocol::Udp, "UDP"),
        (Protocol::Udp, "UDPv6"),
        (Protocol::Unix, "UNIX"),
        (Protocol::Unix, "UNIX-STREAM"),
    ];
    for &(p, name) in names {
        if let Some(&n) = c
            .sockets_in_use
            .get(name)
            .filter(|_| snap.protocols.contains(p))
        {
            f.kernel_in_use
                .slot(labels(&snap.netns, &[("protocol", name)]))
                .set(n);
        }
    }
}

fn states(series: &mut Series<u64>, ns: &str, agg: &ProtoAggregate, always: &[TcpState]) {
    for state in TcpState::ALL {
        let n = agg.states.get(state);
        if n > 0 || always.contains(&state) {
            series
                .slot(labels(ns, &[("state", agg.protocol.state_name(state))]))
                .set(n);
        }
    }
}

/// The per-process key: `comm`, and `pid` with `--pid-labels`.
fn process_labels(ns: &str, row: &ProtoProcessRow, pid_labels: bool) -> Labels {
    let comm = row.process.comm.label_value(NAME_LABEL_MAX);
    let mut l = labels(ns, &[("comm", &comm)]);
    if pid_labels {
        l.push(("pid", row.process.pid.to_string()));
    }
    l
}

fn process_states(series: &mut Series<u64>, key: &Labels, row: &ProtoProcessRow, p: Protocol) {
    for (state, n) in row.states.ranked() {
        let mut l = key.clone();
        l.push(("state", p.state_name(state).to_string()));
        // Without pid labels two processes with one comm share a series: add.
        series.slot(l).inc_by(n);
    }
}

fn udp(
    f: &mut Families,
    snap: &Snapshot,
    agg: &ProtoAggregate,
    observed: Option<&BTreeMap<String, u64>>,
    opts: &Options,
) {
    let ns = snap.netns.as_str();
    states(&mut f.udp_sockets, ns, agg, &UDP_STATES);
    // Recordings from before UDP carried no memory info: their drops are unknown, not 0.
    let drops_known = snap.udp.is_empty() || snap.udp.iter().any(|s| s.skmem.is_some());
    for row in agg.processes.iter().take(opts.top_processes) {
        let key = process_labels(ns, row, opts.pid_labels);
        process_states(&mut f.udp_process_sockets, &key, row, Protocol::Udp);
        if drops_known {
            f.udp_process_drops.slot(key.clone()).inc_by(row.drops);
        }
        f.udp_process_recv_q.slot(key).inc_by(row.recv_q);
    }
    let only_ns = labels(ns, &[]);
    if drops_known {
        f.udp_drops.slot(only_ns.clone()).set(agg.drops);
    }
    if let Some(&n) = observed.and_then(|m| m.get(ns)) {
        f.udp_drops_observed.slot(only_ns.clone()).inc_by(n);
    }
    f.udp_unattributed.slot(only_ns).set(agg.unattributed);
    if let Some(c) = &snap.counters {
        for (group, map) in [("Udp", &c.udp), ("Udp6", &c.udp6)] {
            for (name, &v) in map {
                f.kernel_udp
                    .slot(labels(ns, &[("group", group), ("name", name)]))
                    .inc_by(v);
            }
        }
    }
}

fn unix(f: &mut Families, ns: &str, agg: &ProtoAggregate, opts: &Options) {
    states(&mut f.unix_sockets, ns, agg, &UNIX_STATES);
    for (kind, n) in UNIX_KINDS.into_iter().zip(agg.unix_kinds) {
        f.unix_types
            .slot(labels(ns, &[("type", kind.name())]))
            .set(n);
    }
    for row in agg.processes.iter().take(opts.top_processes) {
        let key = process_labels(ns, row, opts.pid_labels);
        process_states(&mut f.unix_process_sockets, &key, row, Protocol::Unix);
    }
    // Fullest first; a path bound twice (the old listener outlives an unlink and re-bind),
    // or two unnamed listeners, share a label set: the fullest one speaks for it.
    let mut seen: HashSet<Labels> = HashSet::new();
    for row in agg.unix_listeners.iter().take(opts.top_listeners) {
        // /proc/net/unix has no queues: unknown is left out, never exported as 0.
        let (Some(pending), Some(backlog)) = (row.pending, row.backlog) else {
            continue;
        };
        let path = row
            .name
            .as_ref()
            .map(|n| unix_name_label(n, PATH_LABEL_MAX))
            .unwrap_or_default();
        let key = labels(ns, &[("path", &path), ("type", row.kind.name())]);
        if !seen.insert(key.clone()) {
            continue;
        }
        f.unix_accept.slot(key.clone()).set(u64::from(pending));
        f.unix_backlog.slot(key).set(u64::from(backlog));
    }
    f.unix_unattributed
        .slot(labels(ns, &[]))
        .set(agg.unattributed);
}

fn register(f: Families) -> String {
    let mut r = Registry::with_prefix("sockscope");
    r.register(
        "udp_sockets",
        "UDP sockets per state, as ss -u spells them (UNCONN: unconnected, ESTAB: connected)",
        f.udp_sockets,
    );
    r.register(
        "udp_process_sockets",
        "UDP sockets per process command and state, top processes by socket count",
        f.udp_process_sockets,
    );
    r.register(
        "udp_process_drops",
        "Datagrams dropped on the process's open UDP sockets, each counted since the socket \
         was created (falls when a socket closes; see sockscope_udp_drops_observed_total)",
        f.udp_process_drops,
    );
    r.register(
        "udp_process_receive_queue_bytes",
        "Bytes waiting to be read on the process's UDP sockets (Recv-Q summed)",
        f.udp_process_recv_q,
    );
    r.register(
        "udp_socket_drops",
        "Drop counters of the open UDP sockets summed (each since its socket was created; \
         falls when a socket closes, so not a counter)",
        f.udp_drops,
    );
    r.register(
        "udp_drops_observed",
        "Growth of UDP sockets' drop counters seen between this exporter's ticks (drops on a \
         socket that closed within its last tick are missed); the host's view is \
         sockscope_kernel_udp_total{name=\"RcvbufErrors\"}",
        f.udp_drops_observed,
    );
    r.register(
        "udp_unattributed_sockets",
        "UDP sockets owned by a process procfs would not name (permissions)",
        f.udp_unattributed,
    );
    r.register(
        "kernel_udp",
        "Kernel UDP counters from /proc/net/snmp (Udp) and /proc/net/snmp6 (Udp6)",
        f.kernel_udp,
    );
    r.register(
        "kernel_sockets_in_use",
        "Sockets in use per kernel protocol, from /proc/net/protocols (UNIX is datagram, \
         UNIX-STREAM stream and seqpacket): the kernel's total beside the dump's counts",
        f.kernel_in_use,
    );
    r.register(
        "unix_sockets",
        "UNIX domain sockets per state, as ss -x spells them",
        f.unix_sockets,
    );
    r.register(
        "unix_type_sockets",
        "UNIX domain sockets per type (stream, dgram, seqpacket)",
        f.unix_types,
    );
    r.register(
        "unix_process_sockets",
        "UNIX domain sockets per process command and state, top processes by socket count",
        f.unix_process_sockets,
    );
    r.register(
        "unix_listener_accept_queue",
        "Connections waiting in a UNIX listener's accept queue (ss -xl Recv-Q), fullest \
         listeners first; Linux admits backlog+1 before connect() waits or fails",
        f.unix_accept,
    );
    r.register(
        "unix_listener_backlog",
        "A UNIX listener's backlog (ss -xl Send-Q)",
        f.unix_backlog,
    );
    r.register(
        "unix_unattributed_sockets",
        "UNIX domain sockets owned by a process procfs would not name (permissions)",
        f.unix_unattributed,
    );
    encode(&r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::snapshot;
    use crate::model::{KernelCounters, Protocols};

    fn analysis(snap: &Snapshot) -> Analysis {
        Analysis {
            aggregate: crate::analyze::aggregate::aggregate(snap),
            alerts: Vec::new(),
            findings: Vec::new(),
            rates: None,
            ages: Vec::new(),
            churn: None,
        }
    }

    #[test]
    fn the_kernels_totals_follow_the_collected_tables() {
        let mut snap = snapshot(Vec::new());
        snap.protocols = Protocols::only(Protocol::Unix);
        let mut c = KernelCounters::default();
        for (name, n) in [("UNIX", 3), ("UNIX-STREAM", 40), ("UDP", 7), ("TCP", 9)] {
            c.sockets_in_use.insert(name.to_string(), n);
        }
        snap.counters = Some(c);
        let a = analysis(&snap);
        let text = render(&[(snap, a)], None, &Options::default());
        assert!(
            text.contains(
                r#"sockscope_kernel_sockets_in_use{netns="host",protocol="UNIX-STREAM"} 40"#
            ),
            "{text}"
        );
        assert!(
            !text.contains(r#"protocol="UDP""#),
            "UDP was not collected: {text}"
        );
    }
}
