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

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::collect::netlink::NetlinkSource;
use crate::collect::netns::NsHandle;
use crate::collect::netns_budget::{Admission, Skipped, DEFAULT_MAX_NETNS};
use crate::collect::netns_sweep::{discover, referenced, NetnsFailure};
use crate::collect::procmap::{ProcessResolver, SharedResolver};
use crate::collect::procnet::ProcNetSource;
use crate::collect::SocketDump;
use crate::collect::{counters, sysctl, CollectError, DumpRequest, SocketSource};
use crate::filter::Filter;
use crate::model::escape_controls;
use crate::model::{Attribution, Owner, Protocols, Snapshot, SourceKind, TcpState};

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
    /// /proc/net/tcp only.
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
    /// /proc source for single ticks whose netlink dump failed (auto only).
    tick_fallback: Option<ProcNetSource>,
    /// Ticks in a row whose netlink dump failed.
    failed_ticks: u32,
    /// The namespace collected, held open since it was chosen; `None`: the thread's own.
    ns: Option<NsHandle>,
    /// Whether to watch the name it was chosen by (`--netns`), and whether its being
    /// re-pointed was already said.
    watch_name: bool,
    repoint_said: bool,
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
                    notice = Some(fallback_notice(&e));
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
            tick_fallback: None,
            failed_ticks: 0,
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

    /// The source in use.
    pub fn source_kind(&self) -> SourceKind {
        self.source.kind()
    }

    /// A one-line notice about a fallback, taken once (the caller prints it on stderr).
    pub fn take_notice(&mut self) -> Option<String> {
        self.notice.take()
    }

    fn request(&self) -> DumpRequest {
        let f = &self.cfg.filter;
        DumpRequest {
            state_mask: f.kernel_state_mask(),
            ipv4: f.family != Some(crate::model::Family::V6),
            ipv6: f.family != Some(crate::model::Family::V4),
            tcp_info: self.cfg.tcp_info,
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
        let (mut dump, source_kind) = self.dump_sockets(&req)?;

        let (processes, attribution) = match self.resolver.as_mut() {
            Some(resolver) => {
                // Request sockets are attributed to their listener's owner; when the state
                // filter hid the listeners, fetch them (a LISTEN-only dump costs ~2 ms).
                let extra = if req.state_mask & TcpState::SynRecv.kernel_mask() != 0
                    && req.state_mask & TcpState::Listen.kernel_mask() == 0
                {
                    let lreq = DumpRequest {
                        state_mask: TcpState::Listen.kernel_mask(),
                        tcp_info: false,
                        ..req
                    };
                    let listeners = match self.tick_fallback.as_mut() {
                        Some(proc) if source_kind == SourceKind::Proc => proc.dump(&lreq),
                        _ => self.source.dump(&lreq),
                    };
                    listeners.map(|d| d.sockets).unwrap_or_default()
                } else {
                    Vec::new()
                };
                let keep = dump.sockets.len();
                dump.sockets.extend(extra);
                let out = match resolver {
                    Resolver::Own(r) => r.attribute(&mut dump.sockets),
                    Resolver::Shared { shared, round } => {
                        shared.attribute(*round, &mut dump.sockets)
                    }
                };
                dump.sockets.truncate(keep);
                out
            }
            None => {
                for s in &mut dump.sockets {
                    if s.inode == 0 {
                        s.owner = Owner::Ownerless;
                    }
                }
                (Default::default(), Attribution::default())
            }
        };

        let filter = &self.cfg.filter;
        // Both sources already applied the state mask; only the other criteria remain.
        if !filter.is_state_only() {
            dump.sockets.retain(|s| filter.matches(s, &processes));
        }
        let mut processes = processes;
        let referenced: std::collections::HashSet<u32> =
            dump.sockets.iter().filter_map(|s| s.owner.pid()).collect();
        processes.retain(|pid, _| referenced.contains(pid));

        let counters = if self.cfg.counters {
            let parsed = counters::read_counters_checked()?;
            dump.quality.parse_errors += parsed.errors;
            Some(parsed.counters)
        } else {
            None
        };
        let sysctls = self.cfg.sysctls.then(sysctl::read_sysctls);

        Ok(Snapshot {
            taken_at_ms,
            source: source_kind,
            netns: self.netns_label.clone(),
            sockets: dump.sockets,
            protocols: Default::default(),
            udp: Vec::new(),
            unix: Vec::new(),
            processes,
            attribution,
            quality: dump.quality,
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

    /// Dumps from the source, applying the fallback policy in the module doc. Returns the
    /// dump and the kind of source that produced it.
    fn dump_sockets(
        &mut self,
        req: &DumpRequest,
    ) -> Result<(SocketDump, SourceKind), CollectError> {
        let err = match self.source.dump(req) {
            Ok(d) => {
                self.failed_ticks = 0;
                return Ok((d, self.source.kind()));
            }
            Err(e) => e,
        };
        if self.cfg.source != SourcePref::Auto || self.source.kind() != SourceKind::Netlink {
            return Err(err);
        }
        self.failed_ticks += 1;
        let refused = matches!(
            err,
            CollectError::PermissionDenied(_) | CollectError::Unsupported(_)
        );
        if refused || self.failed_ticks >= MAX_FAILED_TICKS {
            self.notice = Some(fallback_notice(&err));
            self.source = Box::new(self.tick_fallback.take().unwrap_or_default());
            return Ok((self.source.dump(req)?, self.source.kind()));
        }
        self.notice = Some(format!(
            "sockscope: netlink sock_diag dump failed ({err}); this sample is from /proc/net/tcp"
        ));
        let proc = self.tick_fallback.get_or_insert_with(ProcNetSource::new);
        Ok((proc.dump(req)?, proc.kind()))
    }
}

fn fallback_notice(e: &CollectError) -> String {
    format!("sockscope: netlink sock_diag unavailable ({e}); falling back to /proc/net/tcp")
}

/// Collects `samples` snapshots `interval` apart in every network namespace, one thread per
/// namespace (namespaces are per thread), all in parallel so the sweep takes one interval,
/// attributing through one [`SharedResolver`] (one `/proc` scan per sample). At most
/// [`CollectConfig::netns_limit`] namespaces, and only as many as the descriptors allow
/// (see [`crate::collect::netns_budget`]); the rest are one failure entry that counts them.
/// Each namespace is opened once and entered through that descriptor.
/// Returns the samples per namespace, in discovery order.
pub fn sweep(
    cfg: &CollectConfig,
    samples: usize,
    interval: std::time::Duration,
) -> (Vec<Vec<Snapshot>>, Vec<NetnsFailure>) {
    let (entries, mut failures) = discover();
    let mut room = Admission::new(cfg.netns_limit(), 0);
    let mut skipped = Skipped::default();
    let mut chosen = Vec::new();
    for e in entries {
        match room.admit() {
            Ok(()) => match NsHandle::open(&e.path.to_string_lossy()) {
                Ok(h) if h.id() == e.id => chosen.push((e.label, h)),
                Ok(h) => failures.push(NetnsFailure {
                    what: e.label,
                    reason: format!(
                        "{} changed from {} to {} between discovery and open",
                        e.path.display(),
                        e.id,
                        h.id()
                    ),
                }),
                Err(err) => failures.push(NetnsFailure {
                    what: e.label,
                    reason: err.to_string(),
                }),
            },
            Err(why) => skipped.add(why),
        }
    }
    if let Some((what, reason)) = skipped.failure(cfg.netns_limit()) {
        failures.push(NetnsFailure { what, reason });
    }
    let shared = SharedResolver::new();
    let results: Vec<(String, Result<Vec<Snapshot>, CollectError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = chosen
            .into_iter()
            .map(|(label, h)| {
                let mut c = cfg.clone();
                c.netns = None;
                c.netns_label = Some(label.clone());
                let shared = &shared;
                scope.spawn(move || {
                    let run = || -> Result<Vec<Snapshot>, CollectError> {
                        let mut col = Collector::open_in(c, Some(h))?;
                        col.share_resolver(shared);
                        let mut out = Vec::with_capacity(samples);
                        for i in 0..samples {
                            if i > 0 {
                                std::thread::sleep(interval);
                            }
                            col.set_round(i as u64);
                            out.push(col.collect()?);
                        }
                        Ok(out)
                    };
                    (label, run())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    (
                        "?".into(),
                        Err(CollectError::Unsupported(
                            "collector thread panicked".into(),
                        )),
                    )
                })
            })
            .collect()
    });
    let mut ok = Vec::new();
    for (label, r) in results {
        match r {
            Ok(s) => ok.push(s),
            Err(e) => failures.push(NetnsFailure {
                what: label,
                reason: e.to_string(),
            }),
        }
    }
    (ok, failures)
}
