//! The streaming collection behind the one-shot counting faces: the TCP table goes
//! socket by socket into a [`SocketSink`] (owner resolved on the way) instead of into
//! [`Snapshot::sockets`], so a million sockets cost the sink's counts, not a list.
//!
//! Same sources, fallback policy, owner rules and snapshot metadata as
//! [`Collector::collect`]; the snapshot it returns has an empty socket list. When the sink
//! or attribution needs them first, listeners come from a LISTEN-only dump (1.7 ms at 100k
//! sockets: the kernel does not walk the rest of the table), so the sink sees every
//! listener before any connection and request sockets find their listener's owner.
//! It never counts (the sink's job) and serves only what it can serve exactly
//! ([`Collector::can_stream`]).

use std::collections::BTreeSet;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::{merge_quality, Collector, Resolver};
use crate::collect::procmap::ProcessResolver;
use crate::collect::{sysctl, CollectError, DumpRequest, SocketSource};
use crate::model::{
    Attribution, ListenerIndex, Owner, Protocol, Protocols, SampleQuality, Snapshot, SocketRecord,
    SocketSink, SourceKind, TcpState,
};

/// Resolves each streamed socket's owner as [`Collector::collect`] would, remembers the pids
/// seen, and forwards the socket to the caller's sink. Its reset replays the listeners, so
/// a restarted dump still shows them first.
struct Attributing<'a> {
    sink: &'a mut dyn SocketSink,
    resolver: Option<&'a ProcessResolver>,
    /// Every listener (owners set), for request sockets.
    listeners: &'a [SocketRecord],
    index: ListenerIndex<'a>,
    /// Whether the listeners are part of the result (LISTEN passed the state filter).
    show_listeners: bool,
    pids: BTreeSet<u32>,
    unknown: u64,
}

impl Attributing<'_> {
    fn forward(&mut self, s: &SocketRecord) {
        if let Some(pid) = s.owner.pid() {
            self.pids.insert(pid);
        }
        self.sink.push(s);
    }
}

impl SocketSink for Attributing<'_> {
    fn reset(&mut self) {
        self.sink.reset();
        self.pids.clear();
        self.unknown = self
            .listeners
            .iter()
            .filter(|l| l.owner == Owner::Unattributed)
            .count() as u64;
        if self.show_listeners {
            for l in self.listeners {
                self.forward(l);
            }
        }
    }

    fn push(&mut self, s: &SocketRecord) {
        let mut s = s.clone();
        s.owner = owner_of(&s, self.resolver);
        if s.owner == Owner::Unattributed {
            self.unknown += 1;
        }
        if self.resolver.is_some() && s.inode == 0 && s.state == TcpState::SynRecv {
            s.owner = match self.index.find(&s.local).map(|l| l.owner) {
                Some(Owner::Process(pid)) => Owner::ViaListener(pid),
                _ => Owner::Ownerless,
            };
        }
        self.forward(&s);
    }
}

/// The owner [`Collector::collect`] gives a TCP socket before request sockets are matched
/// to their listeners: with a resolver, ownerless by design / its lowest holder /
/// unattributed; without one, ownerless when it has no inode, else unresolved.
fn owner_of(s: &SocketRecord, resolver: Option<&ProcessResolver>) -> Owner {
    match resolver {
        Some(_) if s.inode == 0 || s.state == TcpState::TimeWait => Owner::Ownerless,
        Some(r) => r
            .holder(s.inode)
            .map_or(Owner::Unattributed, Owner::Process),
        None if s.inode == 0 => Owner::Ownerless,
        None => Owner::Unresolved,
    }
}

impl Collector {
    /// Whether [`Collector::collect_stream`] gives exactly what [`Collector::collect`]
    /// would: TCP alone, a filter on states only (the kernel applies it), and attribution,
    /// if any, by this collector's own resolver.
    pub fn can_stream(&self) -> bool {
        self.cfg.protocols == Protocols::TCP
            && self.cfg.filter.is_state_only()
            && matches!(self.resolver, None | Some(Resolver::Own(_)))
    }

    /// Collects one snapshot whose TCP sockets go to `sink` instead of its list (see the
    /// module doc). On an error the sink holds part of an abandoned attempt: reset it
    /// before reuse. Refuses (`Unsupported`) what [`Collector::can_stream`] does not cover.
    pub fn collect_stream(&mut self, sink: &mut dyn SocketSink) -> Result<Snapshot, CollectError> {
        if !self.can_stream() {
            return Err(CollectError::Unsupported(
                "streaming collects TCP alone with a state-only filter".into(),
            ));
        }
        // Out of the collector while the dump borrows it; put back whatever happens.
        let mut own = match self.resolver.take() {
            Some(Resolver::Own(r)) => Some(r),
            other => {
                self.resolver = other;
                None
            }
        };
        let out = self.stream_with(own.as_deref_mut(), sink);
        if let Some(r) = own {
            self.resolver = Some(Resolver::Own(r));
        }
        out
    }

    fn stream_with(
        &mut self,
        mut own: Option<&mut ProcessResolver>,
        sink: &mut dyn SocketSink,
    ) -> Result<Snapshot, CollectError> {
        if let Some(ns) = &self.ns {
            ns.enter()?;
        }
        self.check_name()?;
        let started = Instant::now();
        let taken_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let req = self.request();
        let listen = TcpState::Listen.kernel_mask();
        let attribute = own.is_some();
        // Request sockets need their listeners' owners even when LISTEN is filtered out.
        let for_requests = attribute && req.state_mask & TcpState::SynRecv.kernel_mask() != 0;
        // Listeners in a dump of their own, pushed first, when the sink or attribution
        // needs them first; otherwise they stream with the rest.
        let split = sink.listeners_first() || for_requests;
        let show_listeners = split && req.state_mask & listen != 0;
        let need_listeners = show_listeners || for_requests;

        if let Some(r) = own.as_deref_mut() {
            r.scan_for_stream();
        }
        let (mut listeners, listen_quality, listen_kind) = if need_listeners {
            let lreq = DumpRequest {
                state_mask: listen,
                tcp_info: req.tcp_info && show_listeners,
                ..req
            };
            let (d, kind) = self.dump_table(Protocol::Tcp, |s| s.dump(&lreq))?;
            (d.sockets, d.quality, kind)
        } else {
            (Vec::new(), SampleQuality::default(), None)
        };
        let resolver = own.as_deref();
        for l in &mut listeners {
            l.owner = owner_of(l, resolver);
        }

        let rest = DumpRequest {
            state_mask: if split {
                req.state_mask & !listen
            } else {
                req.state_mask
            },
            ..req
        };
        let (quality, unknown, pids, rest_kind) = {
            let mut adapter = Attributing {
                sink,
                resolver,
                listeners: &listeners,
                index: ListenerIndex::new(&listeners),
                show_listeners,
                pids: BTreeSet::new(),
                unknown: 0,
            };
            let (quality, kind) = if rest.state_mask == 0 {
                adapter.reset();
                (SampleQuality::default(), None)
            } else {
                // `dump_table` borrows the whole collector: hand it the source alone.
                let (q, k) = dump_stream_table(self, &rest, &mut adapter)?;
                (q, k)
            };
            (quality, adapter.unknown, adapter.pids, kind)
        };
        let (processes, attribution) = match own {
            Some(r) => r.conclude_stream(unknown, pids.into_iter()),
            None => (Default::default(), Attribution::default()),
        };

        let listen_part = if show_listeners {
            listen_quality
        } else {
            SampleQuality::default()
        };
        let mut quality = merge_quality([listen_part, quality, SampleQuality::default()]);
        let counters = if self.cfg.counters {
            let (c, errors) = super::read_kernel_counters(Protocols::TCP)?;
            quality.parse_errors += errors;
            Some(c)
        } else {
            None
        };
        let sysctls = self.cfg.sysctls.then(sysctl::read_sysctls);
        let kinds = [listen_kind, rest_kind];
        let source = if kinds.contains(&Some(SourceKind::Proc)) {
            SourceKind::Proc
        } else {
            self.source.kind()
        };
        Ok(Snapshot {
            taken_at_ms,
            source,
            netns: self.netns_label.clone(),
            sockets: Vec::new(),
            protocols: Protocols::TCP,
            udp: Vec::new(),
            unix: Vec::new(),
            processes,
            attribution,
            quality,
            counters,
            sysctls,
            collect_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        })
    }
}

/// The TCP table streamed through the collector's fallback policy (`dump_table`).
fn dump_stream_table(
    c: &mut Collector,
    req: &DumpRequest,
    sink: &mut dyn SocketSink,
) -> Result<(SampleQuality, Option<SourceKind>), CollectError> {
    c.dump_table(Protocol::Tcp, |s: &mut dyn SocketSource| {
        s.dump_stream(req, sink)
    })
}
