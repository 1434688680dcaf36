//! What detection reports: a [`Finding`] (one rule firing on one subject, with the numbers
//! behind it) and an [`Alert`] (a finding's lifecycle: pending → firing → resolved).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::{Endpoint, Name, NameDecodeError, RuleId, UnixName};

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
#[serde(into = "SubjectWire", try_from = "SubjectWire")]
pub enum Subject {
    /// A process.
    Process {
        /// Process id.
        pid: u32,
        /// Command name; printed only escaped (its `Display`).
        comm: Name,
        /// User name.
        user: Name,
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
    },
    /// A remote destination ip:port.
    Destination {
        /// The destination.
        remote: Endpoint,
    },
    /// The whole host (namespace).
    Host,
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
    },
}

/// [`Subject`] as serialized: names as text with their raw-byte siblings.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum SubjectWire {
    Process {
        pid: u32,
        comm: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comm_b64: Option<String>,
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_b64: Option<String>,
    },
    Listener {
        local: Endpoint,
        pid: Option<u32>,
        comm: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comm_b64: Option<String>,
    },
    Destination {
        remote: Endpoint,
    },
    Host,
    Route {
        source: IpAddr,
        remote: Endpoint,
    },
    UnixListener {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name_b64: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        name_abstract: bool,
        inode: u64,
        pid: Option<u32>,
        comm: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comm_b64: Option<String>,
    },
}

impl From<Subject> for SubjectWire {
    fn from(s: Subject) -> SubjectWire {
        match s {
            Subject::Process { pid, comm, user } => SubjectWire::Process {
                pid,
                comm: comm.wire_text(),
                comm_b64: comm.raw_b64(),
                user: user.wire_text(),
                user_b64: user.raw_b64(),
            },
            Subject::Listener { local, pid, comm } => SubjectWire::Listener {
                local,
                pid,
                comm: comm.as_ref().map(Name::wire_text),
                comm_b64: comm.as_ref().and_then(Name::raw_b64),
            },
            Subject::Destination { remote } => SubjectWire::Destination { remote },
            Subject::Host => SubjectWire::Host,
            Subject::Route { source, remote } => SubjectWire::Route { source, remote },
            Subject::UnixListener {
                name,
                inode,
                pid,
                comm,
            } => {
                let (text, b64, is_abstract) = match &name {
                    None => (None, None, false),
                    Some(UnixName::Path(n)) => (Some(n.wire_text()), n.raw_b64(), false),
                    Some(UnixName::Abstract(n)) => (Some(n.wire_text()), n.raw_b64(), true),
                };
                SubjectWire::UnixListener {
                    name: text,
                    name_b64: b64,
                    name_abstract: is_abstract,
                    inode,
                    pid,
                    comm: comm.as_ref().map(Name::wire_text),
                    comm_b64: comm.as_ref().and_then(Name::raw_b64),
                }
            }
        }
    }
}

impl TryFrom<SubjectWire> for Subject {
    type Error = NameDecodeError;
    fn try_from(w: SubjectWire) -> Result<Subject, NameDecodeError> {
        Ok(match w {
            SubjectWire::Process {
                pid,
                comm,
                comm_b64,
                user,
                user_b64,
            } => Subject::Process {
                pid,
                comm: Name::from_parts(&comm, comm_b64.as_deref())?,
                user: Name::from_parts(&user, user_b64.as_deref())?,
            },
            SubjectWire::Listener {
                local,
                pid,
                comm,
                comm_b64,
            } => Subject::Listener {
                local,
                pid,
                comm: comm
                    .map(|c| Name::from_parts(&c, comm_b64.as_deref()))
                    .transpose()?,
            },
            SubjectWire::Destination { remote } => Subject::Destination { remote },
            SubjectWire::Host => Subject::Host,
            SubjectWire::Route { source, remote } => Subject::Route { source, remote },
            SubjectWire::UnixListener {
                name,
                name_b64,
                name_abstract,
                inode,
                pid,
                comm,
                comm_b64,
            } => Subject::UnixListener {
                name: name
                    .map(|t| Name::from_parts(&t, name_b64.as_deref()))
                    .transpose()?
                    .map(|n| {
                        if name_abstract {
                            UnixName::Abstract(n)
                        } else {
                            UnixName::Path(n)
                        }
                    }),
                inode,
                pid,
                comm: comm
                    .map(|c| Name::from_parts(&c, comm_b64.as_deref()))
                    .transpose()?,
            },
        })
    }
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

impl std::fmt::Display for Subject {
    /// `pid 4242 (java)`, `0.0.0.0:80 (pid 42 nginx)`, `10.0.0.8:443`, `host`,
    /// `/run/php/fpm.sock (pid 7 php-fpm)`, `@abstract (pid 7)`, `unnamed UNIX listener
    /// inode 812`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Process { pid, comm, .. } => write!(f, "pid {pid} ({comm})"),
            Subject::Listener { local, pid, comm } => match (pid, comm) {
                (Some(p), Some(c)) => write!(f, "{local} (pid {p} {c})"),
                (Some(p), None) => write!(f, "{local} (pid {p})"),
                _ => write!(f, "{local}"),
            },
            Subject::Destination { remote } => write!(f, "{remote}"),
            Subject::Host => f.write_str("host"),
            Subject::Route { source, remote } => write!(f, "{source} -> {remote}"),
            Subject::UnixListener {
                name,
                inode,
                pid,
                comm,
            } => {
                match name {
                    Some(n) => write!(f, "{n}")?,
                    None => write!(f, "unnamed UNIX listener inode {inode}")?,
                }
                match (pid, comm) {
                    (Some(p), Some(c)) => write!(f, " (pid {p} {c})"),
                    (Some(p), None) => write!(f, " (pid {p})"),
                    _ => Ok(()),
                }
            }
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
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_humans_write_them() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(300), "5m");
        assert_eq!(human_duration(725), "12m5s");
        assert_eq!(human_duration(3 * 3600 + 12 * 60 + 7), "3h12m");
        assert_eq!(human_duration(2 * 86_400 + 3 * 3600), "2d3h");
    }

    #[test]
    fn subjects_keep_exact_names_on_the_wire() {
        let s = Subject::Process {
            pid: 9,
            comm: Name::from(&b"\x1b[7m\xff"[..]),
            user: Name::from("r\noot"),
        };
        assert_eq!(s.to_string(), "pid 9 (\\e[7m\\xff)");
        let v = serde_json::to_value(&s).expect("json");
        assert_eq!(v["kind"], "process");
        assert_eq!(v["comm_b64"], "G1s3bf8=");
        assert_eq!(v["user"], "r\noot");
        assert!(v.get("user_b64").is_none(), "{v}");
        assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), s);
        let l = Subject::Listener {
            local: Endpoint::unspecified(),
            pid: Some(1),
            comm: Some(Name::from(&b"\xfe"[..])),
        };
        let v = serde_json::to_value(&l).expect("json");
        assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), l);
        // Written before the siblings existed.
        let old = r#"{"kind":"process","pid":1,"comm":"java","user":"root"}"#;
        let back: Subject = serde_json::from_str(old).expect("old");
        assert_eq!(back.to_string(), "pid 1 (java)");
    }

    #[test]
    fn unix_listener_subjects_escape_and_round_trip_exactly() {
        let hostile = Subject::UnixListener {
            name: Some(UnixName::Path(Name::from(&b"/run/\x1b[2Jx\n\xff.sock"[..]))),
            inode: 812,
            pid: Some(7),
            comm: Some(Name::from("php\rfpm")),
        };
        let shown = hostile.to_string();
        assert_eq!(shown, "/run/\\e[2Jx\\n\\xff.sock (pid 7 php\\rfpm)");
        let v = serde_json::to_value(&hostile).expect("json");
        assert_eq!(v["kind"], "unix_listener");
        assert!(v.get("name_b64").is_some(), "{v}");
        assert!(v.get("name_abstract").is_none(), "{v}");
        assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), hostile);

        let abs = Subject::UnixListener {
            name: UnixName::from_sun_path(b"\0dbus"),
            inode: 9,
            pid: None,
            comm: None,
        };
        assert_eq!(abs.to_string(), "@dbus");
        let v = serde_json::to_value(&abs).expect("json");
        assert_eq!(v["name_abstract"], true);
        assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), abs);

        let unnamed = Subject::UnixListener {
            name: None,
            inode: 3,
            pid: Some(1),
            comm: None,
        };
        assert_eq!(unnamed.to_string(), "unnamed UNIX listener inode 3 (pid 1)");
        let v = serde_json::to_value(&unnamed).expect("json");
        assert_eq!(serde_json::from_value::<Subject>(v).expect("back"), unnamed);
    }

    #[test]
    fn growth_has_a_sign() {
        assert_eq!(human_growth(40.2), "+40/min");
        assert_eq!(human_growth(-3.0), "-3/min");
        assert_eq!(human_growth(0.5), "+0.5/min");
        assert_eq!(human_growth(0.0), "+0/min");
        assert_eq!(human_growth(-0.01), "+0/min");
    }
}
