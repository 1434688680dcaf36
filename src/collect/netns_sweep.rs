//! Finding every network namespace on the host for `--all-netns`: the named ones under
//! /run/netns and the distinct `/proc/*/ns/net` of running processes, each labelled by its
//! name, or else by the container or systemd unit of a process inside it (from
//! /proc/PID/cgroup). Namespaces that cannot be inspected are reported, never skipped
//! silently. This module only looks; entering is [`super::netns`]'s job.
//!
//! Identity is the namespace's [`NsId`] (nsfs device and inode), never its path or label:
//! a label follows whichever process names it this time (the naming pid may exit while
//! siblings keep the namespace alive), and [`referenced`] tells whether a namespace held
//! open by descriptor still has a process or a `/run/netns` mount referring to it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::netns::{list_named, netns_id, resolve, NsId};
use crate::model::Name;

/// A namespace to collect from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsEntry {
    /// What users see: `host`, a /run/netns name, a container or unit, or `pid N (comm)`.
    /// Already escaped ([`Name`]'s `Display`): a comm or cgroup name is chosen by whoever
    /// runs the process, and the label is only ever shown (a Prometheus `netns` label, a
    /// dashboard tab, an error line), never matched, so it is kept as printable text.
    pub label: String,
    /// The file to enter (`/run/netns/NAME` or `/proc/PID/ns/net`).
    pub path: PathBuf,
    /// The namespace's identity.
    pub id: NsId,
}

/// A namespace (or a group of processes) that could not be inspected or entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsFailure {
    /// Which namespace or processes.
    pub what: String,
    /// Why.
    pub reason: String,
}

/// What one discovery found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Every namespace found: `host` first, then named ones, then the rest by label.
    pub entries: Vec<NetnsEntry>,
    /// What could not be inspected.
    pub failures: Vec<NetnsFailure>,
    /// Whether `/proc` itself could be listed: when not (no descriptor left, say), a
    /// namespace missing from `entries` may still be alive.
    pub proc_listed: bool,
}

/// Lists every network namespace: `host` first, then named ones, then the rest by label.
pub fn discover() -> (Vec<NetnsEntry>, Vec<NetnsFailure>) {
    let d = discover_all();
    (d.entries, d.failures)
}

/// [`discover`], also saying whether `/proc` could be listed.
pub fn discover_all() -> Discovery {
    let mut found: BTreeMap<NsId, NetnsEntry> = BTreeMap::new();
    let mut failures = Vec::new();
    let host = netns_id("/proc/self/ns/net").ok();
    if let Some(id) = host {
        found.insert(
            id,
            NetnsEntry {
                label: "host".into(),
                path: "/proc/self/ns/net".into(),
                id,
            },
        );
    }
    for name in list_named() {
        let path = resolve(&name);
        match netns_id(&path) {
            Ok(id) => {
                found.entry(id).or_insert(NetnsEntry {
                    label: Name::from(name.as_str()).to_string(),
                    path,
                    id,
                });
            }
            Err(e) => failures.push(NetnsFailure {
                what: Name::from(name.as_str()).to_string(),
                reason: e.to_string(),
            }),
        }
    }
    let mut unreadable = 0u64;
    let mut first_err = None;
    let pids = proc_pids();
    let proc_listed = pids.is_ok();
    if let Err(e) = &pids {
        failures.push(NetnsFailure {
            what: "/proc".into(),
            reason: format!("cannot list processes: {e}"),
        });
    }
    for pid in pids.unwrap_or_default() {
        let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
        match netns_id(&path) {
            Ok(id) => {
                found.entry(id).or_insert_with(|| NetnsEntry {
                    label: label_for_pid(pid),
                    path,
                    id,
                });
            }
            // The process exited between listing and looking: nothing to report.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => {
                unreadable += 1;
                first_err.get_or_insert(e.to_string());
            }
        }
    }
    if unreadable > 0 {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let fix = if root {
            "a sandbox or security module denies it"
        } else {
            "run as root"
        };
        failures.push(NetnsFailure {
            what: format!("{unreadable} processes"),
            reason: format!(
                "their network namespace could not be read ({}); {fix}",
                first_err.unwrap_or_default()
            ),
        });
    }
    let mut entries: Vec<NetnsEntry> = found.into_values().collect();
    entries.sort_by_key(|e| {
        (
            Some(e.id) != host,
            !e.path.starts_with("/run/netns"),
            e.label.clone(),
        )
    });
    Discovery {
        entries,
        failures,
        proc_listed,
    }
}

/// Whether anything besides sockscope itself still refers to namespace `id`: a
/// `/run/netns` entry or another process inside it (our own threads enter it to collect,
/// and our descriptor holds it: neither counts). `None` when `/proc` cannot be listed.
pub fn referenced(id: NsId) -> Option<bool> {
    if list_named()
        .iter()
        .any(|n| netns_id(resolve(n)).is_ok_and(|i| i == id))
    {
        return Some(true);
    }
    let me = std::process::id();
    let pids = proc_pids().ok()?;
    Some(
        pids.into_iter()
            .filter(|&pid| pid != me)
            .any(|pid| netns_id(format!("/proc/{pid}/ns/net")).is_ok_and(|i| i == id)),
    )
}

fn proc_pids() -> std::io::Result<Vec<u32>> {
    std::fs::read_dir("/proc").map(|rd| {
        rd.filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect()
    })
}

/// The escaped label of a namespace found through `pid`: its container or unit, else
/// `pid N (comm)` with the comm's exact bytes (only the kernel's trailing newline dropped)
/// escaped.
fn label_for_pid(pid: u32) -> String {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    match label_from_cgroup(&cgroup) {
        Some(unit) => Name::from(unit).to_string(),
        None => {
            let comm = std::fs::read(format!("/proc/{pid}/comm")).unwrap_or_default();
            let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
            format!("pid {pid} ({})", Name::from(comm))
        }
    }
}

/// Names the container or systemd unit a /proc/PID/cgroup text places a process in:
/// `docker:0123456789ab`, `containerd:…`, `podman:…`, `k8s:pod…`, `nginx.service`; `None`
/// for the root cgroup or a plain session.
pub fn label_from_cgroup(text: &str) -> Option<String> {
    // cgroup v2 has one `0::/path` line; v1 has many, any of which carries the path.
    let path = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .find(|p| *p != "/")?;
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for part in parts.iter().rev() {
        let scope = part.strip_suffix(".scope").unwrap_or(part);
        for (prefix, kind) in [
            ("docker-", "docker"),
            ("cri-containerd-", "containerd"),
            ("crio-", "crio"),
            ("libpod-", "podman"),
        ] {
            if let Some(id) = scope.strip_prefix(prefix) {
                return Some(format!("{kind}:{}", id.get(..12).unwrap_or(id)));
            }
        }
    }
    if let Some(pod) = parts
        .iter()
        .find(|p| p.contains("-pod") || p.starts_with("pod"))
    {
        return Some(format!("k8s:{}", pod.trim_end_matches(".slice")));
    }
    if parts.first() == Some(&"docker") {
        return parts
            .get(1)
            .map(|id| format!("docker:{}", id.get(..12).unwrap_or(id)));
    }
    parts
        .iter()
        .rev()
        .find(|p| p.ends_with(".service") || (p.ends_with(".scope") && !p.starts_with("session-")))
        .map(|p| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_labels() {
        let docker = "0::/system.slice/docker-3f2a9c1b7d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4.scope\n";
        assert_eq!(
            label_from_cgroup(docker).as_deref(),
            Some("docker:3f2a9c1b7d4e")
        );
        let unit = "0::/system.slice/nginx.service\n";
        assert_eq!(label_from_cgroup(unit).as_deref(), Some("nginx.service"));
        let v1 = "12:pids:/docker/abcdef0123456789\n1:name=systemd:/docker/abcdef0123456789\n";
        assert_eq!(
            label_from_cgroup(v1).as_deref(),
            Some("docker:abcdef012345")
        );
        let k8s = "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/cri-containerd-feedbeef00112233.scope\n";
        assert_eq!(
            label_from_cgroup(k8s).as_deref(),
            Some("containerd:feedbeef0011")
        );
        let pod = "0::/kubepods/burstable/pod0f3c-77/\n";
        assert_eq!(label_from_cgroup(pod).as_deref(), Some("k8s:pod0f3c-77"));
        assert_eq!(label_from_cgroup("0::/\n"), None);
        assert_eq!(
            label_from_cgroup("0::/user.slice/user-0.slice/session-3.scope\n"),
            None
        );
        assert_eq!(label_from_cgroup(""), None);
    }

    #[test]
    fn host_comes_first_and_is_unique() {
        let (entries, _) = discover();
        assert_eq!(entries.first().map(|e| e.label.as_str()), Some("host"));
        let mut inodes: Vec<NsId> = entries.iter().map(|e| e.id).collect();
        inodes.sort_unstable();
        inodes.dedup();
        assert_eq!(inodes.len(), entries.len());
    }
}
