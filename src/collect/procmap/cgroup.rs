//! The systemd [`Unit`] and [`Container`] of a process, from the text of
//! `/proc/<pid>/cgroup`. Pure: the resolver reads the file once per pid (beside `status`)
//! and caches the answer with the rest of its [`crate::model::ProcessInfo`].
//!
//! Which line: on a v1/v2 hybrid host the unit lives in the v1 `name=systemd` hierarchy
//! (the v2 `0::` line there is `/` or a mirror); on a pure v2 host only `0::` exists. So
//! the `name=systemd` line wins when present, else `0::`.
//!
//! The kernel prints cgroup paths unescaped, and a user with a delegated subtree
//! (`user@UID.service`) may name a cgroup with a newline in it to forge a line. Only the
//! first line of each kind is taken: the kernel prints the real one before any text a
//! path can inject after it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::model::{Container, Name, QosClass, Runtime, Unit};
use crate::safefs::{read_capped, ReadKind};

/// Where docker keeps its per-container metadata by default.
pub const DOCKER_ROOT: &str = "/var/lib/docker";

/// Container names read from the runtimes' local metadata, once per container id.
#[derive(Debug)]
pub struct ContainerNames {
    docker_root: PathBuf,
    names: HashMap<Name, Option<Name>>,
}

impl Default for ContainerNames {
    fn default() -> Self {
        ContainerNames::new(PathBuf::from(DOCKER_ROOT))
    }
}

impl ContainerNames {
    /// Names read from docker's metadata under `docker_root`.
    pub fn new(docker_root: PathBuf) -> ContainerNames {
        ContainerNames {
            docker_root,
            names: HashMap::new(),
        }
    }

    /// Sets the name of a docker container where its metadata gives one.
    pub fn fill(&mut self, container: Option<&mut Container>) {
        let Some(c) = container.filter(|c| c.runtime == Runtime::Docker) else {
            return;
        };
        let root = &self.docker_root;
        c.name = self
            .names
            .entry(c.id.clone())
            .or_insert_with(|| docker_name(root, &c.id))
            .clone();
    }
}

/// Docker's name for container `id`, from its local metadata
/// (`<docker_root>/containers/<id>/config.v2.json`, `"Name": "/web"`); `None` when the file
/// is missing, unreadable, refused by `safefs` or has no name. Never a network call.
pub fn docker_name(docker_root: &Path, id: &Name) -> Option<Name> {
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(rename = "Name")]
        name: String,
    }
    // The id is hex (see `hex_id`), so it is one safe path component.
    let id = id.as_utf8()?;
    let path = docker_root
        .join("containers")
        .join(id)
        .join("config.v2.json");
    let bytes = read_capped(&path, ReadKind::Config).ok()?;
    let cfg: Config = serde_json::from_slice(&bytes).ok()?;
    let name = cfg.name.strip_prefix('/').unwrap_or(&cfg.name);
    (!name.is_empty()).then(|| Name::from(name))
}

/// The unit and container a `/proc/<pid>/cgroup` text names; `(None, None)` for the root
/// cgroup or text with neither line.
pub fn parse_cgroup(text: &[u8]) -> (Option<Unit>, Option<Container>) {
    let mut systemd = None;
    let mut v2 = None;
    for line in text.split(|&b| b == b'\n') {
        let mut parts = line.splitn(3, |&b| b == b':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers == b"name=systemd" && systemd.is_none() {
            systemd = Some(path);
        } else if id == b"0" && controllers.is_empty() && v2.is_none() {
            v2 = Some(path);
        }
    }
    let Some(path) = systemd.or(v2) else {
        return (None, None);
    };
    // A container shows in whichever hierarchy its runtime placed it; on a hybrid host
    // with the cgroupfs driver that may be only the v2 line.
    let container = container_of(path).or_else(|| v2.and_then(container_of));
    (unit_of(path), container)
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

/// The deepest `.service` or `.scope` on the path, else the deepest `.slice`; a user unit
/// when it sits below `user@UID.service`.
pub fn unit_of(path: &[u8]) -> Option<Unit> {
    let parts: Vec<&[u8]> = components(path).collect();
    let leaf = parts
        .iter()
        .rposition(|c| c.ends_with(b".service") || c.ends_with(b".scope"))
        .or_else(|| parts.iter().rposition(|c| c.ends_with(b".slice")))?;
    let user = parts
        .get(..leaf)?
        .iter()
        .rev()
        .find_map(|c| user_manager_uid(c));
    Some(Unit {
        name: Name::from(*parts.get(leaf)?),
        user,
    })
}

/// `user@1000.service` → 1000.
fn user_manager_uid(component: &[u8]) -> Option<u32> {
    let digits = component
        .strip_prefix(b"user@")?
        .strip_suffix(b".service")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The container the path names: the deepest component shaped like a runtime's scope
/// (`docker-<id>.scope`, `libpod-<id>.scope`, `cri-containerd-<id>.scope`,
/// `crio-<id>.scope`) or a cgroupfs-driver directory (`/docker/<id>`, `/libpod_parent/<id>`, `/kubepods/…/<id>`).
pub fn container_of(path: &[u8]) -> Option<Container> {
    let parts: Vec<&[u8]> = components(path).collect();
    for (i, c) in parts.iter().enumerate().rev() {
        let found = scoped(c).or_else(|| {
            let parent = parts.get(i.checked_sub(1)?)?;
            let runtime = match *parent {
                b"docker" => Runtime::Docker,
                b"libpod_parent" => Runtime::Podman,
                _ if parts.first() == Some(&&b"kubepods"[..]) => Runtime::Containerd,
                _ => return None,
            };
            hex_id(c).map(|id| (runtime, id))
        });
        if let Some((runtime, id)) = found {
            let (pod_uid, qos) = pod_of(parts.get(..i).unwrap_or(&[]));
            return Some(Container {
                runtime,
                id: Name::from(id),
                name: None,
                pod_uid,
                qos,
            });
        }
    }
    None
}

/// `docker-<id>.scope` and its siblings → (runtime, id).
fn scoped(c: &[u8]) -> Option<(Runtime, &[u8])> {
    let body = c.strip_suffix(b".scope")?;
    let prefixes: [(&[u8], Runtime); 4] = [
        (b"docker-", Runtime::Docker),
        (b"libpod-", Runtime::Podman),
        (b"cri-containerd-", Runtime::Containerd),
        (b"crio-", Runtime::Crio),
    ];
    prefixes
        .iter()
        .find_map(|(p, rt)| Some((*rt, hex_id(body.strip_prefix(*p)?)?)))
}

/// A container id: 12 to 64 lowercase hex digits.
fn hex_id(s: &[u8]) -> Option<&[u8]> {
    let ok =
        (12..=64).contains(&s.len()) && s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then_some(s)
}

/// The pod UID and QoS class from the `kubepods` components above a container, for the
/// systemd driver (`kubepods-burstable-pod<uid>.slice`, uid with `_`) and the cgroupfs one
/// (`kubepods/burstable/pod<uid>`).
fn pod_of(above: &[&[u8]]) -> (Option<Name>, Option<QosClass>) {
    if !above.first().is_some_and(|c| c.starts_with(b"kubepods")) {
        return (None, None);
    }
    let mut qos = QosClass::Guaranteed;
    let mut uid = None;
    for c in above {
        let c = c.strip_suffix(b".slice").unwrap_or(c);
        let has = |needle: &[u8]| c.windows(needle.len()).any(|w| w == needle);
        if has(b"burstable") {
            qos = QosClass::Burstable;
        }
        if has(b"besteffort") {
            qos = QosClass::BestEffort;
        }
        // `pod<uid>` (cgroupfs, uid dashed) or `kubepods-<qos>-pod<uid>` (systemd, `_`).
        let tail = if c.starts_with(b"pod") {
            c
        } else {
            c.rsplit(|&b| b == b'-').next().unwrap_or(c)
        };
        if let Some(u) = tail.strip_prefix(b"pod") {
            let dashed: Vec<u8> = u
                .iter()
                .map(|&b| if b == b'_' { b'-' } else { b })
                .collect();
            if !dashed.is_empty() && dashed.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-') {
                uid = Some(Name::from(dashed));
            }
        }
    }
    (uid, Some(qos))
}

#[cfg(test)]
#[path = "cgroup_tests.rs"]
mod tests;
