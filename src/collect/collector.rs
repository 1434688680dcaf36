//! Assembles one [`Snapshot`]: enters the namespace, picks the socket source (netlink, with a
//! fallback to /proc), dumps, attributes sockets to processes, applies the filter, and reads
//! counters and sysctls. It owns the sources, so it lives on exactly one thread: the one
//! that called [`Collector::open`] (namespaces are per thread).
//!
//! Fallback policy with `--source auto` (the netlink source has already restarted a broken
//! dump once before it reports an error):
//! - netlink cannot be opened, or the kernel refuses the dump (`PermissionDenied`,
//!   `Unsupported`): switch to /proc for good, with a one-line notice;
//! - any other dump failure (a dump broken twice on one tick): this tick is read from
//!   /proc (the snapshot says `source: proc`) and netlink is tried again next tick; after
//!   [`MAX_FAILED_TICKS`] such ticks in a row, switch for good.
//!
//! A partial netlink dump is never used. With `--source netlink` every failure is returned.
//!
//! The policy runs per table (TCP, UDP, UNIX), all dumped over the one netlink socket: a
//! kernel without unix_diag sends only UNIX to `/proc/net/unix`, each table with its own
//! notice. A snapshot says `source: proc` when any of its tables came from /proc. A TCP-only
//! run (the default) dumps nothing else.

mod stream;
mod sweep;
pub use sweep::sweep;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::collect::netlink::NetlinkSource;
use crate::collect::netns::NsHandle;
use crate::collect::netns_budget::DEFAULT_MAX_NETNS;
use crate::collect::netns_sweep::referenced;
use crate::collect::procmap::{ProcessResolver, SharedResolver, Tables};
use crate::collect::procnet::ProcNetSource;
use crate::collect::{counters, sysctl, CollectError, DumpRequest, InetProtocol, SocketSource};
use crate::collect::{SocketDump, UnixDump};
use crate::filter::Filter;
use crate::model::escape_controls;
use crate::model::{
    Attribution, Owner, Protocol, Protocols, SampleQuality, Snapshot, SourceKind, TcpState,
};

/// Consecutive ticks whose netlink dump failed (after its own restart) before `auto`
/// stops trying netlink.
pub const MAX_FAILED_TICKS: u32 = 3;

/// Which socket source to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourcePref {
    /// Netlink, falling back to /proc when netlink is unavailable or fails.
    #[default]
    Auto,
    /// Netlink only.
    Netlink,
    /// /proc/net only.
    Proc,
}

/// What to collect.
#[derive(Debug, Clone, Default)]
pub struct CollectConfig {
    /// Source choice.
    pub source: SourcePref,
    /// Network namespace to enter (name or path); `None` = the current one.
    pub netns: Option<String>,
    /// How snapshots name the namespace; default the `netns` spec, or `host`.
    pub netns_label: Option<String>,
    /// Which sockets to keep. The state part goes to the kernel as the state mask.
    pub filter: Filter,
    /// Resolve owners (costly on the first poll; cached afterwards).
    pub attribute: bool,
    /// Ask for tcp_info.
    pub tcp_info: bool,
    /// Skip UDP memory/drops and UNIX names/peers (see [`DumpRequest::lean`]): for counts
    /// by state only.
    pub lean: bool,
    /// Read /proc/net/netstat and snmp.
    pub counters: bool,
    /// Read the TCP sysctls.
    pub sysctls: bool,
    /// Which socket tables to dump (default TCP alone).
    pub protocols: Protocols,
    /// `--all-netns`: most namespaces collected at once (`None`:
    /// [`DEFAULT_MAX_NETNS`]).
    pub max_netns: Option<usize>,
}

impl CollectConfig {
    /// The namespace limit in force for `--all-netns`.
    pub fn netns_limit(&self) -> usize {
        self.max_netns.unwrap_or(DEFAULT_MAX_NETNS)
    }
}

/// A socket source plus everything needed to turn its dumps into snapshots.
pub struct Collector {
    cfg: CollectConfig,
    source: Box<dyn SocketSource + Send>,
    resolver: Option<Resolver>,
    netns_label: String,
    notice: Option<String>,
    /// The latest fallback notice of each table (TCP, UDP, UNIX), replaced, not appended,
    /// so notices nobody takes stay bounded.
    table_notice: [Option<String>; 3],
    /// /proc source for single ticks whose netlink dump failed, and for tables that fell
    /// back for good (auto only).
    tick_fallback: Option<ProcNetSource>,
    /// Per table (TCP, UDP, UNIX): the fallback state.
    lanes: [Lane; 3],
    /// The namespace collected, held open since it was chosen; `None`: the thread's own.
    ns: Option<NsHandle>,
    /// Whether to watch the name it was chosen by (`--netns`), and whether its being
    /// re-pointed was already said.
    watch_name: bool,
    repoint_said: bool,
}

/// One table's fallback state under `auto`.
#[derive(Debug, Clone, Copy, Default)]
struct Lane {
    /// Ticks in a row whose netlink dump failed.
    failed_ticks: u32,
    /// Reads /proc for good (the kernel refused, or too many failed ticks).
    proc_for_good: bool,
}

fn lane(p: Protocol) -> usize {
    match p {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Unix => 2,
    }
}

/// The /proc file a table falls back to, as notices name it.
fn proc_file(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "/proc/net/tcp",
        Protocol::Udp => "/proc/net/udp",
        Protocol::Unix => "/proc/net/unix",
    }
}

/// Where a collector's attribution comes from.
enum Resolver {
    /// Its own: one collector, one namespace.
    Own(Box<ProcessResolver>),
    /// Shared with the other namespaces' collectors; `round` says which scan to use.
    Shared { shared: SharedResolver, round: u64 },
}

impl Collector {
    /// Opens the namespace `cfg.netns` names and holds it, enters it (for the calling
    /// thread) and opens the source. The name is looked at again every tick: if it comes to
    /// point elsewhere, collection stays in the namespace opened here while that lives, and
    /// a notice says so once.
    pub fn open(cfg: CollectConfig) -> Result<Collector, CollectError> {
        let ns = cfg.netns.as_deref().map(NsHandle::open).transpose()?;
        let watch = ns.is_some();
        let mut c = Collector::open_in(cfg, ns)?;
        c.watch_name = watch;
        Ok(c)
    }

    /// [`Collector::open`] in a namespace already held (`None`: the thread's own); the name
    /// it was found by is not watched (`--all-netns` rediscovers every tick).
    pub fn open_in(cfg: CollectConfig, ns: Option<NsHandle>) -> Result<Collector, CollectError> {
        if let Some(h) = &ns {
            h.enter()?;
        }
        let mut c = Collector::open_source(cfg)?;
        c.ns = ns;
        Ok(c)
    }

    fn open_source(cfg: CollectConfig) -> Result<Collector, CollectError> {
        let mut notice = None;
        let source: Box<dyn SocketSource + Send> = match cfg.source {
            SourcePref::Netlink => Box::new(NetlinkSource::open()?),
            SourcePref::Proc => Box::new(ProcNetSource::new()),
            SourcePref::Auto => match NetlinkSource::open() {
                Ok(s) => Box::new(s),
                Err(e) => {
                    let files: Vec<&str> = cfg.protocols.iter().map(proc_file).collect();
                    notice = Some(fallback_notice(&e, &files.join(", ")));
                    Box::new(ProcNetSource::new())
                }
            },
        };
        Ok(Collector::with_source(cfg, source, notice))
    }

    /// A collector over an already opened source (tests inject fault-scripted ones).
    pub(crate) fn with_source(
        cfg: CollectConfig,
        source: Box<dyn SocketSource + Send>,
        notice: Option<String>,
    ) -> Collector {
        Collector {
            resolver: cfg.attribute.then(|| Resolver::Own(Box::default())),
            // A `--netns` spec is root's, but a path may hold anything: labels are display
            // text, escaped once here (discovered labels already are: this keeps them).
            netns_label: escape_controls(
                cfg.netns_label
                    .as_deref()
                    .or(cfg.netns.as_deref())
                    .unwrap_or("host"),
            ),
            cfg,
            source,
            notice,
            table_notice: Default::default(),
            tick_fallback: None,
            lanes: [Lane::default(); 3],
            ns: None,
            watch_name: false,
            repoint_said: false,
        }
    }

    /// Names the namespace differently from the next snapshot on (`--all-netns`: the pid
    /// that named it exited while others keep it alive).
    pub fn set_netns_label(&mut self, label: &str) {
        let label = escape_controls(label);
        if self.netns_label != label {
            self.netns_label = label;
        }
    }

    /// The namespace label snapshots carry.
    pub fn netns_label(&self) -> &str {
        &self.netns_label
    }

    /// Attributes through `shared` from now on (when attribution is on), with the
    /// collectors of the other namespaces collected together: one `/proc` scan per round
    /// for all of them. The round starts at 0; see [`Collector::set_round`].
    pub fn share_resolver(&mut self, shared: &SharedResolver) {
        if self.resolver.is_some() {
            self.resolver = Some(Resolver::Shared {
                shared: shared.clone(),
                round: 0,
            });
        }
    }

    /// The round the next [`Collector::collect`] belongs to: collectors that share a
    /// resolver and collect in the same round share its `/proc` scan.
    pub fn set_round(&mut self, round: u64) {
        if let Some(Resolver::Shared { round: r, .. }) = &mut self.resolver {
            *r = round;
        }
    }

    /// The source in use: `Proc` when the source is /proc or any collected table reads
    /// /proc for good.
    pub fn source_kind(&self) -> SourceKind {
        let any_proc = self
            .cfg
            .protocols
            .iter()
            .any(|p| self.lanes[lane(p)].proc_for_good);
        if any_proc {
            SourceKind::Proc
        } else {
            self.source.kind()
        }
    }

    /// Notices about fallbacks (one line each), taken once (the caller prints them on
    /// stderr).
    pub fn take_notice(&mut self) -> Option<String> {
        let lines: Vec<String> = self
            .notice
            .take()
            .into_iter()
            .chain(self.table_notice.iter_mut().filter_map(Option::take))
            .collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    }

    fn request(&self) -> DumpRequest {
        let f = &self.cfg.filter;
        DumpRequest {
            state_mask: f.kernel_state_mask(),
            ipv4: f.family != Some(crate::model::Family::V6),
            ipv6: f.family != Some(crate::model::Family::V4),
            tcp_info: self.cfg.tcp_info,
            protocol: InetProtocol::Tcp,
            lean: self.cfg.lean,
        }
    }

    /// Collects one snapshot. The netlink socket stays bound to the namespace it was opened
    /// in, but /proc/thread-self/net and /proc/sys follow the calling thread, so the thread
    /// re-enters the namespace first: one thread can then serve collectors of several.
    pub fn collect(&mut self) -> Result<Snapshot, CollectError> {
        if let Some(ns) = &self.ns {
            ns.enter()?;
        }
        self.check_name()?;
        let started = Instant::now();
        let taken_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let req = self.request();
        let protocols = self.cfg.protocols;
        let (mut dump, tcp_kind) = match protocols.contains(Protocol::Tcp) {
            true => self.dump_table(Protocol::Tcp, |s| s.dump(&req))?,
            false => (SocketDump::default(), None),
        };
        let (mut udp, udp_kind) = match protocols.contains(Protocol::Udp) {
            true => {
                let ureq = DumpRequest {
                    protocol: InetProtocol::Udp,
                    tcp_info: false,
                    ..req
                };
                self.dump_table(Protocol::Udp, |s| s.dump(&ureq))?
            }
            false => (SocketDump::default(), None),
        };
        let (mut unix, unix_kind) = match protocols.contains(Protocol::Unix) {
            true => self.dump_table(Protocol::Unix, |s| s.dump_unix(&req))?,
            false => (UnixDump::default(), None),
        };

        let (processes, attribution) = match self.resolver.as_mut() {
            Some(resolver) => {
                // Request sockets are attributed to their listener's owner; when the state
                // filter hid the listeners, fetch them (a LISTEN-only dump costs ~2 ms).
                let extra = if tcp_kind.is_some()
                    && req.state_mask & TcpState::SynRecv.kernel_mask() != 0
                    && req.state_mask & TcpState::Listen.kernel_mask() == 0
                {
                    let lreq = DumpRequest {
                        state_mask: TcpState::Listen.kernel_mask(),
                        tcp_info: false,
                        ..req
                    };
                    let listeners = match self.tick_fallback.as_mut() {
                        Some(proc) if tcp_kind == Some(SourceKind::Proc) => proc.dump(&lreq),
                        _ => self.source.dump(&lreq),
                    };
                    listeners.map(|d| d.sockets).unwrap_or_default()
                } else {
                    Vec::new()
                };
                let keep = dump.sockets.len();
                dump.sockets.extend(extra);
                let tables = Tables {
                    tcp: &mut dump.sockets,
                    udp: &mut udp.sockets,
                    unix: &mut unix.sockets,
                };
                let out = match resolver {
                    Resolver::Own(r) => r.attribute_tables(tables),
                    Resolver::Shared { shared, round } => shared.attribute_tables(*round, tables),
                };
                dump.sockets.truncate(keep);
                out
            }
            None => {
                for s in dump.sockets.iter_mut().chain(udp.sockets.iter_mut()) {
                    if s.inode == 0 {
                        s.owner = Owner::Ownerless;
                    }
                }
                for s in unix.sockets.iter_mut().filter(|s| s.inode == 0) {
                    s.owner = Owner::Ownerless;
                }
                (Default::default(), Attribution::default())
            }
        };

        let filter = &self.cfg.filter;
        // Both sources already applied the state mask; only the other criteria remain.
        if !filter.is_state_only() {
            dump.sockets.retain(|s| filter.matches(s, &processes));
            udp.sockets.retain(|s| filter.matches(s, &processes));
        }
        if !filter.is_state_only_unix() {
            unix.sockets.retain(|s| filter.matches_unix(s, &processes));
        }
        let mut processes = processes;
        let referenced: std::collections::HashSet<u32> = Tables {
            tcp: &mut dump.sockets,
            udp: &mut udp.sockets,
            unix: &mut unix.sockets,
        }
        .pids()
        .collect();
        processes.retain(|pid, _| referenced.contains(pid));

        let mut quality = merge_quality([dump.quality, udp.quality, unix.quality]);
        let counters = if self.cfg.counters {
            let (c, errors) = read_kernel_counters(protocols)?;
            quality.parse_errors += errors;
            Some(c)
        } else {
            None
        };
        let sysctls = self.cfg.sysctls.then(sysctl::read_sysctls);

        let kinds = [tcp_kind, udp_kind, unix_kind];
        let source = if kinds.contains(&Some(SourceKind::Proc)) {
            SourceKind::Proc
        } else {
            kinds
                .into_iter()
                .flatten()
                .next()
                .unwrap_or(self.source.kind())
        };
        Ok(Snapshot {
            taken_at_ms,
            source,
            netns: self.netns_label.clone(),
            sockets: dump.sockets,
            protocols,
            udp: udp.sockets,
            unix: unix.sockets,
            processes,
            attribution,
            quality,
            counters,
            sysctls,
            collect_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        })
    }
}

impl Collector {
    /// `--netns NAME`: when the name points elsewhere now, says so once and keeps
    /// collecting the namespace held since the start, until nothing but our descriptor
    /// refers to it (no process inside, no /run/netns entry): then each tick fails, saying
    /// why, rather than reporting a namespace only sockscope keeps alive. The check while
    /// re-pointed costs one look at every /proc/PID/ns/net per tick.
    fn check_name(&mut self) -> Result<(), CollectError> {
        let Some(h) = self.ns.as_ref().filter(|_| self.watch_name) else {
            return Ok(());
        };
        let Some(now) = h.repointed() else {
            return Ok(());
        };
        let now = match now {
            Ok(id) => format!("now points to another namespace ({id})"),
            Err(e) => format!("no longer names a namespace ({e})"),
        };
        if !self.repoint_said {
            self.repoint_said = true;
            let line = format!(
                "sockscope: netns {}: the name {now}; still collecting the namespace it named \
                 at start ({}) while that lives (restart to follow the name)",
                h.spec(),
                h.id()
            );
            self.notice = Some(match self.notice.take() {
                Some(n) => format!("{n}\n{line}"),
                None => line,
            });
        }
        if referenced(h.id()) == Some(false) {
            return Err(CollectError::Netns {
                name: h.spec().to_string(),
                reason: format!(
                    "the namespace it named at start ({}) has no process or /run/netns entry \
                     left, and the name {now}",
                    h.id()
                ),
            });
        }
        Ok(())
    }

    /// Dumps one table with `dump`, applying the fallback policy in the module doc to it.
    /// Returns the dump and the kind of source that produced it (always `Some`).
    fn dump_table<D>(
        &mut self,
        p: Protocol,
        mut dump: impl FnMut(&mut dyn SocketSource) -> Result<D, CollectError>,
    ) -> Result<(D, Option<SourceKind>), CollectError> {
        let i = lane(p);
        if self.lanes[i].proc_for_good {
            let proc = self.tick_fallback.get_or_insert_with(ProcNetSource::new);
            return Ok((dump(proc)?, Some(SourceKind::Proc)));
        }
        let err = match dump(self.source.as_mut()) {
            Ok(d) => {
                self.lanes[i].failed_ticks = 0;
                return Ok((d, Some(self.source.kind())));
            }
            Err(e) => e,
        };
        if self.cfg.source != SourcePref::Auto || self.source.kind() != SourceKind::Netlink {
            return Err(err);
        }
        let lane = &mut self.lanes[i];
        lane.failed_ticks += 1;
        let refused = matches!(
            err,
            CollectError::PermissionDenied(_) | CollectError::Unsupported(_)
        );
        self.table_notice[i] = Some(if refused || lane.failed_ticks >= MAX_FAILED_TICKS {
            lane.proc_for_good = true;
            fallback_notice(&err, proc_file(p))
        } else {
            format!(
                "sockscope: netlink sock_diag dump failed ({err}); this sample is from {}",
                proc_file(p)
            )
        });
        let proc = self.tick_fallback.get_or_insert_with(ProcNetSource::new);
        Ok((dump(proc)?, Some(SourceKind::Proc)))
    }
}

/// One quality for the whole snapshot: counts add up, reasons are joined.
fn merge_quality(parts: [SampleQuality; 3]) -> SampleQuality {
    let mut q = SampleQuality::default();
    let mut reasons = Vec::new();
    for p in parts {
        q.parse_errors += p.parse_errors;
        q.duplicates += p.duplicates;
        reasons.extend(p.inconsistent);
    }
    q.inconsistent = (!reasons.is_empty()).then(|| reasons.join("; "));
    q
}

fn fallback_notice(e: &CollectError, files: &str) -> String {
    format!("sockscope: netlink sock_diag unavailable ({e}); falling back to {files}")
}

#[cfg(test)]
mod tests;

/// The namespace's kernel counters for a collection of `protocols` (the UDP and in-use
/// tables only when those are collected) with its conntrack table, and how many of their
/// lines failed to parse. The listed and the streamed collections both read them here.
pub(crate) fn read_kernel_counters(
    protocols: Protocols,
) -> Result<(crate::model::KernelCounters, u64), CollectError> {
    let mut parsed = if protocols.contains(Protocol::Udp) {
        counters::read_counters_with_udp6()?
    } else {
        counters::read_counters_checked()?
    };
    if protocols.contains(Protocol::Udp) || protocols.contains(Protocol::Unix) {
        counters::read_protocols_from(
            std::path::Path::new("/proc/thread-self/net/protocols"),
            &mut parsed,
        )?;
    }
    let ct = crate::collect::conntrack::read_conntrack();
    parsed.counters.conntrack = ct.conntrack;
    parsed.counters.conntrack_absent = ct.absent;
    Ok((parsed.counters, parsed.errors + ct.errors))
}
