//! [`ProcessInfo`]: the pid, comm and user of a socket's owner, the systemd [`Unit`] and
//! [`Container`] it runs in, and its serialized form.
//!
//! The comm, user, unit and container names are [`Name`]s (chosen by unprivileged users, or
//! by whoever may create a cgroup); this module only pairs each with its raw-byte sibling
//! on the wire. No I/O.

use serde::{Deserialize, Serialize};

use super::name::{Name, NameDecodeError};

/// A process that owns at least one socket.
///
/// `comm` and `user` are chosen by unprivileged users, so they are [`Name`]s: printed only
/// escaped. Serialized, each is the exact string plus a `comm_b64` / `user_b64` sibling
/// holding the raw bytes when they are not valid UTF-8 (recordings restore them exactly;
/// older recordings without the siblings read as before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ProcessInfoWire", try_from = "ProcessInfoWire")]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Command name (`/proc/PID/comm`), exact bytes.
    pub comm: Name,
    /// Real uid.
    pub uid: u32,
    /// User name for `uid`, or the number when the name is unknown.
    pub user: Name,
    /// The systemd unit whose cgroup holds it, when it runs in one.
    pub unit: Option<Unit>,
    /// The container it runs in, when its cgroup names one.
    pub container: Option<Container>,
}

/// A systemd unit (`nginx.service`, `session-3.scope`, `machine.slice`), read from the
/// process's cgroup path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Unit {
    /// The unit name as the cgroup directory spells it (any bytes: a delegated user may
    /// create cgroups).
    pub name: Name,
    /// For a unit of a user's own manager (under `user@UID.service`), that uid; `None` for
    /// a system unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<u32>,
}

impl Unit {
    /// The name with the user manager's uid when it is a user unit: `app.service` or
    /// `app.service (user 1000)`; control bytes escaped.
    pub fn label(&self) -> String {
        match self.user {
            Some(uid) => format!("{} (user {uid})", self.name),
            None => self.name.to_string(),
        }
    }
}

/// The container runtime a cgroup path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Docker (`docker-<id>.scope` or `/docker/<id>`).
    Docker,
    /// Podman (`libpod-<id>.scope`).
    Podman,
    /// containerd under Kubernetes (`cri-containerd-<id>.scope`).
    Containerd,
    /// CRI-O under Kubernetes (`crio-<id>.scope`).
    Crio,
}

impl Runtime {
    /// The lowercase name shown and serialized.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "crio",
        }
    }
}

/// A Kubernetes pod's quality-of-service class (its `kubepods` slice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QosClass {
    /// Directly under `kubepods`.
    Guaranteed,
    /// Under `kubepods-burstable`.
    Burstable,
    /// Under `kubepods-besteffort`.
    BestEffort,
}

/// A container, as its cgroup path names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Container {
    /// Which runtime made it.
    pub runtime: Runtime,
    /// The container id (lowercase hex; the parser accepts nothing else).
    pub id: Name,
    /// The container's name where the runtime's local metadata gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// The Kubernetes pod UID (dashed form) when it runs in a pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<Name>,
    /// The pod's QoS class when it runs in a pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<QosClass>,
}

impl Container {
    /// The id's first 12 characters, as `docker ps` shows it.
    pub fn short_id(&self) -> String {
        self.id.to_string().chars().take(12).collect()
    }

    /// `runtime:shortid` or `runtime:name`, the label tables show; control bytes escaped.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{}:{n}", self.runtime.name()),
            None => format!("{}:{}", self.runtime.name(), self.short_id()),
        }
    }
}

/// [`ProcessInfo`] as serialized: names as strings with their raw-byte siblings.
#[derive(Serialize, Deserialize)]
struct ProcessInfoWire {
    pid: u32,
    comm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comm_b64: Option<String>,
    uid: u32,
    user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit: Option<Unit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container: Option<Container>,
}

impl From<ProcessInfo> for ProcessInfoWire {
    fn from(p: ProcessInfo) -> ProcessInfoWire {
        ProcessInfoWire {
            pid: p.pid,
            comm: p.comm.wire_text(),
            comm_b64: p.comm.raw_b64(),
            uid: p.uid,
            user: p.user.wire_text(),
            user_b64: p.user.raw_b64(),
            unit: p.unit,
            container: p.container,
        }
    }
}

impl TryFrom<ProcessInfoWire> for ProcessInfo {
    type Error = NameDecodeError;
    fn try_from(w: ProcessInfoWire) -> Result<ProcessInfo, NameDecodeError> {
        Ok(ProcessInfo {
            pid: w.pid,
            comm: Name::from_parts(&w.comm, w.comm_b64.as_deref())?,
            uid: w.uid,
            user: Name::from_parts(&w.user, w.user_b64.as_deref())?,
            unit: w.unit,
            container: w.container,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_round_trips_through_the_b64_sibling() {
        let p = ProcessInfo {
            pid: 7,
            comm: Name::from(&b"\xff\xfe"[..]),
            uid: 0,
            user: Name::from("root"),
            unit: None,
            container: None,
        };
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json["comm"], "\u{fffd}\u{fffd}");
        assert_eq!(json["comm_b64"], "//4=");
        assert!(json.get("user_b64").is_none(), "{json}");
        let back: ProcessInfo = serde_json::from_value(json).expect("back");
        assert_eq!(back, p);
    }

    #[test]
    fn control_bytes_stay_exact_in_the_string_and_old_files_still_read() {
        let p = ProcessInfo {
            pid: 7,
            comm: Name::from("\x1b[7mEVIL\n"),
            uid: 0,
            user: Name::from("root"),
            unit: None,
            container: None,
        };
        let text = serde_json::to_string(&p).expect("json");
        assert!(!text.contains("comm_b64"), "{text}");
        let back: ProcessInfo = serde_json::from_str(&text).expect("back");
        assert_eq!(back.comm.raw_bytes(), b"\x1b[7mEVIL\n");
        // A recording written before the siblings existed.
        let old = r#"{"pid":1,"comm":"java","uid":0,"user":"root"}"#;
        let back: ProcessInfo = serde_json::from_str(old).expect("old");
        assert_eq!(back.comm, "java");
        // A sibling that is not base64 is an error, not a silent wrong name.
        let bad = r#"{"pid":1,"comm":"x","comm_b64":"!!","uid":0,"user":"root"}"#;
        assert!(serde_json::from_str::<ProcessInfo>(bad).is_err());
    }

    #[test]
    fn unit_and_container_round_trip_and_are_absent_from_old_files() {
        let p = ProcessInfo {
            pid: 9,
            comm: Name::from("nginx"),
            uid: 0,
            user: Name::from("root"),
            unit: Some(Unit {
                name: Name::from("app.service"),
                user: Some(1000),
            }),
            container: Some(Container {
                runtime: Runtime::Containerd,
                id: Name::from("ab12"),
                name: None,
                pod_uid: Some(Name::from("1-2")),
                qos: Some(QosClass::Burstable),
            }),
        };
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json["unit"]["name"], "app.service");
        assert_eq!(json["container"]["runtime"], "containerd");
        assert_eq!(json["container"]["qos"], "burstable");
        let back: ProcessInfo = serde_json::from_value(json).expect("back");
        assert_eq!(back, p);
        let old: ProcessInfo =
            serde_json::from_str(r#"{"pid":1,"comm":"x","uid":0,"user":"root"}"#).expect("old");
        assert_eq!((&old.unit, &old.container), (&None, &None));
        let plain = serde_json::to_string(&old).expect("json");
        assert!(
            !plain.contains("unit") && !plain.contains("container"),
            "{plain}"
        );
    }

    #[test]
    fn labels_escape_hostile_unit_and_container_names() {
        let u = Unit {
            name: Name::from("a\x1b[7m.service"),
            user: Some(5),
        };
        assert!(!u.label().contains('\x1b'), "{}", u.label());
        assert!(u.label().ends_with("(user 5)"));
        let c = Container {
            runtime: Runtime::Docker,
            id: Name::from("0123456789abcdef"),
            name: Some(Name::from("web\n1")),
            pod_uid: None,
            qos: None,
        };
        assert!(!c.label().contains('\n'), "{}", c.label());
        assert_eq!(Container { name: None, ..c }.label(), "docker:0123456789ab");
    }
}
