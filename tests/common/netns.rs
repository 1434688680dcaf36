//! Namespace guards for live tests: a private namespace, or a pair joined by veth; each is
//! deleted on drop.

use std::process::Command;
use std::time::Duration;

use super::*;

/// A private network namespace with `lo` up; deleted on drop.
pub struct Netns {
    /// Name as `ip netns` knows it.
    pub name: String,
}

impl Netns {
    /// Creates `ssc-<tag>-<pid>` (plus a per-process sequence number), `lo` up.
    pub fn new(tag: &str) -> Netns {
        let name = format!("ssc-{tag}{}-{}", next_seq(), std::process::id());
        Self::create(name)
    }

    /// Creates a namespace with exactly this name (a helper's own prefix), `lo` up.
    pub fn named(name: String) -> Netns {
        Self::create(name)
    }

    fn create(name: String) -> Netns {
        // A stale namespace of the same name can only be ours (same pid reused): drop it.
        let _ = run_bounded(
            Command::new("ip").args(["netns", "del", &name]),
            Duration::from_secs(10),
        );
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> args…`
    pub fn ip(&self, args: &[&str]) {
        run_ok(Command::new("ip").args(["-n", &self.name]).args(args));
    }

    /// `sysctl -w key=value` inside the namespace.
    pub fn sysctl(&self, key: &str, value: &str) {
        run_ok(&mut self.cmd("sysctl", &["-qw", &format!("{key}={value}")]));
        let got = self.read_sysctl(key);
        let want: Vec<&str> = value.split_whitespace().collect();
        let got_v: Vec<&str> = got.split_whitespace().collect();
        assert_eq!(got_v, want, "sysctl {key} in {}", self.name);
    }

    /// Reads a sysctl inside the namespace.
    pub fn read_sysctl(&self, key: &str) -> String {
        run_ok(&mut self.cmd("sysctl", &["-n", key]))
            .trim()
            .to_string()
    }

    /// A command that runs inside the namespace.
    pub fn cmd(&self, program: &str, args: &[&str]) -> Command {
        in_netns(Some(&self.name), program, args)
    }

    /// Name for `Some(&str)` parameters.
    pub fn some(&self) -> Option<&str> {
        Some(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run_bounded(
            Command::new("ip").args(["netns", "del", &self.name]),
            Duration::from_secs(10),
        );
    }
}

/// Two namespaces `ssc-<tag>-<pid>-a` (client) and `-b` (server) joined by a veth pair:
/// `a` has 10.201.X.1/24 on `veth0`, `b` has 10.201.X.2/24 on `veth1`. The subnet exists only
/// inside the pair. Both deleted on drop (which removes the veth pair with them).
pub struct NetnsPair {
    /// Client side (sends the SYNs).
    pub a: Netns,
    /// Server side (runs the listener, and sockscope).
    pub b: Netns,
    /// X in 10.201.X.0/24.
    pub subnet: u8,
}

impl NetnsPair {
    /// Creates the pair and the link; `b`'s sysctls are left at the namespace defaults.
    pub fn new(tag: &str) -> NetnsPair {
        let seq = next_seq();
        let pid = std::process::id();
        let a = Netns::create(format!("ssc-{tag}{seq}-{pid}-a"));
        let b = Netns::create(format!("ssc-{tag}{seq}-{pid}-b"));
        let subnet = u8::try_from(seq % 250 + 1).unwrap();
        let pair = NetnsPair { a, b, subnet };
        // The veth is created inside `a` with its peer moved straight into `b`: it never
        // appears in the host namespace.
        pair.a.ip(&[
            "link",
            "add",
            "veth0",
            "type",
            "veth",
            "peer",
            "name",
            "veth1",
            "netns",
            &pair.b.name,
        ]);
        pair.a.ip(&[
            "addr",
            "add",
            &format!("{}/24", pair.a_addr()),
            "dev",
            "veth0",
        ]);
        pair.b.ip(&[
            "addr",
            "add",
            &format!("{}/24", pair.b_addr()),
            "dev",
            "veth1",
        ]);
        pair.a.ip(&["link", "set", "veth0", "up"]);
        pair.b.ip(&["link", "set", "veth1", "up"]);
        pair
    }

    /// 10.201.X.0/24
    pub fn net(&self) -> String {
        format!("10.201.{}.0/24", self.subnet)
    }

    /// Client address.
    pub fn a_addr(&self) -> String {
        format!("10.201.{}.1", self.subnet)
    }

    /// Server address.
    pub fn b_addr(&self) -> String {
        format!("10.201.{}.2", self.subnet)
    }
}
