//! What detection reports: a [`Finding`] (one rule firing on one subject, with the numbers
//! behind it) and an [`Alert`] (a finding's lifecycle: pending → firing → resolved).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::{Container, Endpoint, Name, ProcessInfo, RuleId, Unit, UnixName};

mod wire;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Needs attention.
    Warning,
    /// Needs attention now.
    Critical,
}

/// What a finding is about.
///
/// Serialized (check and watch JSON, recordings) each name is its exact string plus a
/// `comm_b64` / `user_b64` sibling when the bytes are not UTF-8; files without the siblings
/// read as before.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "wire::SubjectWire", try_from = "wire::SubjectWire")]
pub enum Subject {
    /// A process.
    Process {
        /// Process id.
        pid: u32,
        /// Command name; printed only escaped (its `Display`).
        comm: Name,
        /// User name.
        user: Name,
        /// The systemd unit it runs in, when its cgroup names one (named beside the pid).
        unit: Option<Unit>,
        /// The container it runs in, when its cgroup names one.
        container: Option<Container>,
    },
    /// A listening TCP endpoint, or a bound UDP endpoint (`udp_drops`; `ss -ul` lists those
    /// as listening too), and its owner. The rule says which protocol.
    Listener {
        /// Local address and port.
        local: Endpoint,
        /// Owning pid, when attributed.
        pid: Option<u32>,
        /// Owning command, when attributed.
        comm: Option<Name>,
        /// The systemd unit the owner runs in, when its cgroup names one (named beside the
        /// pid; not part of the alert's identity).
        unit: Option<Unit>,
        /// The container the owner runs in, when its cgroup names one (printed in place of
        /// the unit; not part of the alert's identity).
        container: Option<Container>,
    },
    /// A remote destination ip:port.
    Destination {
        /// The destination.
        remote: Endpoint,
    },
    /// The whole host (namespace).
    Host,
    /// The sockets of the namespace no process is named for: held by processes procfs
    /// would not name (`orphaned` false), or by none at all (`orphaned` true). Two
    /// subjects, so per-owner rules (`close_wait_leak`, `fin_wait2_buildup`) keep one alert
    /// for each instead of one overwriting the other.
    Unowned {
        /// True for orphaned sockets (no process), false for unnamed processes.
        orphaned: bool,
    },
    /// Connections from one local source address to one destination ip:port: the unit of
    /// the kernel's 4-tuple rule (`port_exhaustion`).
    Route {
        /// The local source address.
        source: IpAddr,
        /// The destination.
        remote: Endpoint,
    },
    /// A listening UNIX stream or seqpacket socket and its owner.
    UnixListener {
        /// Where it is bound (hostile text: printed only through its escaping `Display`);
        /// `None` for an unnamed listener.
        name: Option<UnixName>,
        /// Its inode, which tells two listeners on one name apart (a restart rebinds).
        inode: u64,
        /// Owning pid, when attributed.
        pid: Option<u32>,
        /// Owning command, when attributed.
        comm: Option<Name>,
        /// The systemd unit the owner runs in, when its cgroup names one (named beside the
        /// pid; not part of the alert's identity).
        unit: Option<Unit>,
        /// The container the owner runs in, when its cgroup names one (printed in place of
        /// the unit; not part of the alert's identity).
        container: Option<Container>,
    },
    /// A systemd service or a container, over all its processes: a per-owner finding
    /// summed over its pids, so that a restart (new pids, same unit) continues the same
    /// finding and its history. Its identity ([`Subject::identity`]) is the unit or the
    /// container alone.
    Service {
        /// The service unit, when the finding is keyed by one.
        unit: Option<Unit>,
        /// The container, when the finding is keyed by one (then `unit` is `None`).
        container: Option<Container>,
        /// The pids holding the sockets now, ascending.
        pids: Vec<u32>,
        /// The command of the lowest of them (a service's processes usually share it).
        comm: Name,
    },
}

/// One rule firing on one subject, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule.
    pub rule: RuleId,
    /// Its severity.
    pub severity: Severity,
    /// What it is about.
    pub subject: Subject,
    /// Network namespace the subject lives in.
    #[serde(deserialize_with = "crate::model::name::deserialize_line")]
    pub netns: String,
    /// The count the rule measured (sockets, or a rate for counter-only rules).
    pub count: u64,
    /// Growth of `count` per minute over the history window, when known.
    pub growth_per_min: Option<f64>,
    /// Age of the oldest socket involved, in seconds, when known.
    pub oldest_age_s: Option<u64>,
    /// The threshold that was crossed.
    pub threshold: f64,
    /// Further numbers: counter rates, sysctl values, peers (name → value).
    pub metrics: BTreeMap<String, f64>,
    /// A one-line message.
    #[serde(deserialize_with = "crate::model::name::deserialize_line")]
    pub message: String,
    /// A longer explanation with the remedy.
    #[serde(deserialize_with = "crate::model::name::deserialize_lines")]
    pub detail: String,
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertPhase {
    /// The condition holds but not yet for the for-duration.
    Pending,
    /// The condition has held for the for-duration.
    Firing,
    /// The condition cleared (past hysteresis).
    Resolved,
}

/// A finding's lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The latest finding for this rule and subject.
    pub finding: Finding,
    /// Current phase.
    pub phase: AlertPhase,
    /// When the condition was first seen (ms since the epoch).
    pub since_ms: i64,
    /// When the phase last changed (ms since the epoch).
    pub changed_ms: i64,
}

/// Pids a [`Subject::Service`] names in its one-line form; the rest are counted.
pub const SUBJECT_LISTED_PIDS: usize = 3;

impl std::fmt::Display for Subject {
    /// `pid 4242 (java) in payments.service`, `0.0.0.0:80 (pid 42 nginx in
    /// nginx.service)`, `10.0.0.8:443`, `host`, `/run/php/fpm.sock (pid 7 php-fpm in
    /// docker:web)`, `@abstract (pid 7)`, `unnamed UNIX listener inode 812`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Process {
                pid,
                comm,
                unit,
                container,
                ..
            } => {
                write!(f, "pid {pid} ({comm})")?;
                match (container, unit) {
                    (Some(c), _) => write!(f, " in {}", c.label()),
                    (None, Some(u)) => write!(f, " in {}", u.label()),
                    (None, None) => Ok(()),
                }
            }
            Subject::Service {
                unit,
                container,
                pids,
                comm,
            } => {
                match (container, unit) {
                    (Some(c), _) => f.write_str(&c.label())?,
                    (None, Some(u)) => f.write_str(&u.label())?,
                    (None, None) => f.write_str("?")?,
                }
                // A prefork service can have hundreds of workers: the one-line forms
                // (check, Nagios, messages) name the first few and count the rest.
                let list: Vec<String> = pids
                    .iter()
                    .take(SUBJECT_LISTED_PIDS)
                    .map(u32::to_string)
                    .collect();
                let more = match pids.len().saturating_sub(SUBJECT_LISTED_PIDS) {
                    0 => String::new(),
                    n => format!(" +{n}"),
                };
                match pids.len() {
                    0 => write!(f, " ({comm})"),
                    1 => write!(f, " (pid {} {comm})", list.join(",")),
                    _ => write!(f, " (pids {}{more} {comm})", list.join(",")),
                }
            }
            Subject::Listener {
                local,
                pid,
                comm,
                unit,
                container,
            } => {
                write!(f, "{local}")?;
                write_owner(f, *pid, comm.as_ref(), unit.as_ref(), container.as_ref())
            }
            Subject::Destination { remote } => write!(f, "{remote}"),
            Subject::Host => f.write_str("host"),
            Subject::Unowned { orphaned: true } => f.write_str("no process (orphaned)"),
            Subject::Unowned { orphaned: false } => f.write_str("unnamed processes"),
            Subject::Route { source, remote } => write!(f, "{source} -> {remote}"),
            Subject::UnixListener {
                name,
                inode,
                pid,
                comm,
                unit,
                container,
            } => {
                match name {
                    Some(n) => write!(f, "{n}")?,
                    None => write!(f, "unnamed UNIX listener inode {inode}")?,
                }
                write_owner(f, *pid, comm.as_ref(), unit.as_ref(), container.as_ref())
            }
        }
    }
}

/// A listener's owner after its address: ` (pid 42 nginx in nginx.service)`; the
/// container wins over the unit, as for a process. Nothing without a pid.
fn write_owner(
    f: &mut std::fmt::Formatter<'_>,
    pid: Option<u32>,
    comm: Option<&Name>,
    unit: Option<&Unit>,
    container: Option<&Container>,
) -> std::fmt::Result {
    let Some(p) = pid else { return Ok(()) };
    write!(f, " (pid {p}")?;
    if let Some(c) = comm {
        write!(f, " {c}")?;
    }
    match (container, unit) {
        (Some(c), _) => write!(f, " in {}", c.label())?,
        (None, Some(u)) => write!(f, " in {}", u.label())?,
        (None, None) => {}
    }
    f.write_str(")")
}

impl Subject {
    /// A process subject for `pid`, with the comm, user, unit and container `info` gives
    /// (`?` for names when the process is unknown).
    pub fn of_process(pid: u32, info: Option<&ProcessInfo>) -> Subject {
        Subject::Process {
            pid,
            comm: info.map_or_else(|| Name::from("?"), |p| p.comm.clone()),
            user: info.map_or_else(|| Name::from("?"), |p| p.user.clone()),
            unit: info.and_then(|p| p.unit.clone()),
            container: info.and_then(|p| p.container.clone()),
        }
    }

    /// What tells two alerts apart: the subject itself, except a [`Subject::Service`],
    /// which is its unit or container alone (its runtime and id), so that new pids after a
    /// restart, a changed comm or a container name read later continue the same alert; and
    /// a listener, whose unit and container only annotate it (a cgroup read late must not
    /// restart its alert).
    pub fn identity(&self) -> Subject {
        match self {
            Subject::Listener {
                local, pid, comm, ..
            } => Subject::Listener {
                local: *local,
                pid: *pid,
                comm: comm.clone(),
                unit: None,
                container: None,
            },
            Subject::UnixListener {
                name,
                inode,
                pid,
                comm,
                ..
            } => Subject::UnixListener {
                name: name.clone(),
                inode: *inode,
                pid: *pid,
                comm: comm.clone(),
                unit: None,
                container: None,
            },
            Subject::Service {
                unit, container, ..
            } => Subject::Service {
                unit: unit.clone(),
                container: container.as_ref().map(|c| Container {
                    runtime: c.runtime,
                    id: c.id.clone(),
                    name: None,
                    pod_uid: None,
                    qos: None,
                }),
                pids: Vec::new(),
                comm: Name::from(""),
            },
            other => other.clone(),
        }
    }

    /// The label a subject's owner is known by beside its pid: its container's, else its
    /// unit's (`docker:web`, `nginx.service`); `None` when its cgroup names neither.
    pub fn group_label(&self) -> Option<String> {
        match (self.container(), self.unit()) {
            (Some(c), _) => Some(c.label()),
            (None, Some(u)) => Some(u.label()),
            (None, None) => None,
        }
    }

    /// The unit named by a process, service or listener subject.
    pub fn unit(&self) -> Option<&Unit> {
        match self {
            Subject::Process { unit, .. }
            | Subject::Service { unit, .. }
            | Subject::Listener { unit, .. }
            | Subject::UnixListener { unit, .. } => unit.as_ref(),
            _ => None,
        }
    }

    /// The container named by a process, service or listener subject.
    pub fn container(&self) -> Option<&Container> {
        match self {
            Subject::Process { container, .. }
            | Subject::Service { container, .. }
            | Subject::Listener { container, .. }
            | Subject::UnixListener { container, .. } => container.as_ref(),
            _ => None,
        }
    }
}

impl Severity {
    /// Upper-case name as Nagios prints it.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// A human duration: `45s`, `12m5s`, `3h12m`, `2d3h`.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

/// A growth rate as messages print it: `+40/min`, `-3/min`, `+0.5/min`.
pub fn human_growth(per_min: f64) -> String {
    let r = if per_min.abs() >= 10.0 {
        format!("{:+.0}", per_min)
    } else {
        format!("{:+.1}", per_min)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    };
    let r = if r == "-0" { "+0".to_string() } else { r };
    format!("{r}/min")
}

#[cfg(test)]
#[path = "finding_tests.rs"]
mod tests;
