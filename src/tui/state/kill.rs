//! Killing from the dashboard (`K`), as plain data: whether this dashboard may kill at all
//! ([`KillGate`]), what a selection would kill ([`KillPlan`], by the rules of `sockscope
//! kill`: a LISTEN socket only when it is itself the selection, at most [`KILL_CAP`]
//! sockets, each with its kernel cookie), the request the UI loop hands to the collector
//! thread ([`KillRequest`]) and the answer that comes back ([`KillDone`]).
//!
//! Nothing here touches the kernel: the live source (in `mode/`) destroys the sockets on
//! the collector thread, which is in the collected namespace, and re-dumps to count what
//! remains.

use std::collections::BTreeMap;

use crate::model::{Owner, ProcessInfo, Protocol, SocketRecord, TcpState};

/// The most sockets one `K` kills: `sockscope kill --max`'s default. A larger selection is
/// shown and refused (narrow it with `/`, or use the CLI with a higher `--max`).
pub const KILL_CAP: usize = 100;

/// Rows of the plan the popup lists.
pub const PLAN_ROWS: usize = 8;

/// Whether `K` can kill in this dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillGate {
    /// It can (CAP_NET_ADMIN held, a live single-namespace netlink dashboard).
    Ready,
    /// The popup shows what would be killed, greyed out, with this reason (no
    /// CAP_NET_ADMIN); `y` kills nothing.
    Greyed(String),
    /// `--read-only`: `K` only says that it is off.
    ReadOnly,
    /// Not in this dashboard at all (a replay, `--all-netns`, the `/proc` source): why.
    Unavailable(String),
}

/// One socket chosen for killing, as the last tick listed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillTarget {
    /// Its table (TCP or UDP).
    pub protocol: Protocol,
    /// The socket (its cookie is what the kernel matches).
    pub socket: SocketRecord,
    /// Its owner as the plan prints it (`comm[pid]`, escaped through `Name`).
    pub owner: String,
}

/// What a `K` would kill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillPlan {
    /// What was selected, e.g. `java[4242] (process row, filter …)`.
    pub what: String,
    /// The sockets, in the order they will be destroyed.
    pub targets: Vec<KillTarget>,
    /// LISTEN sockets the selection held and the plan leaves alone.
    pub listeners_skipped: usize,
}

impl KillPlan {
    /// Builds the plan for `sockets` of `protocol`: LISTEN sockets are skipped unless
    /// `listen_ok` (a listener selected by itself).
    pub fn new<'a>(
        what: String,
        protocol: Protocol,
        sockets: impl IntoIterator<Item = &'a SocketRecord>,
        processes: &BTreeMap<u32, ProcessInfo>,
        listen_ok: bool,
    ) -> KillPlan {
        let mut plan = KillPlan {
            what,
            targets: Vec::new(),
            listeners_skipped: 0,
        };
        for s in sockets {
            if protocol == Protocol::Tcp && s.state == TcpState::Listen && !listen_ok {
                plan.listeners_skipped += 1;
                continue;
            }
            plan.targets.push(KillTarget {
                protocol,
                socket: s.clone(),
                owner: owner_label(s, processes),
            });
        }
        plan
    }

    /// Sockets per (protocol, state), in state order.
    pub fn per_state(&self) -> Vec<(Protocol, TcpState, usize)> {
        let mut m: BTreeMap<(Protocol, TcpState), usize> = BTreeMap::new();
        for t in &self.targets {
            *m.entry((t.protocol, t.socket.state)).or_default() += 1;
        }
        m.into_iter().map(|((p, s), n)| (p, s, n)).collect()
    }

    /// Sockets per owner, most first.
    pub fn per_owner(&self) -> Vec<(String, usize)> {
        let mut m: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &self.targets {
            *m.entry(t.owner.as_str()).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = m.into_iter().map(|(o, n)| (o.to_string(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Why this plan cannot be carried out whatever the gate says, if it cannot.
    pub fn refusal(&self) -> Option<String> {
        let n = self.targets.len();
        if n == 0 {
            return Some(if self.listeners_skipped > 0 {
                "nothing to kill but listeners: select the LISTEN socket itself (Sockets view)"
                    .into()
            } else {
                "nothing to kill".into()
            });
        }
        if n > KILL_CAP {
            return Some(format!(
                "{n} sockets, more than the cap of {KILL_CAP}: narrow it with / or use \
                 `sockscope kill --max`"
            ));
        }
        let bare = self.targets.iter().filter(|t| t.socket.cookie.is_none());
        match bare.count() {
            0 => None,
            k => Some(format!(
                "{k} of them carry no kernel cookie (the /proc source): none can be killed safely"
            )),
        }
    }

    /// The request that carries this plan out.
    pub fn request(&self) -> KillRequest {
        KillRequest {
            targets: self.targets.clone(),
        }
    }
}

/// How a socket's owner reads in the plan (as `sockscope kill` prints it).
fn owner_label(s: &SocketRecord, procs: &BTreeMap<u32, ProcessInfo>) -> String {
    match s.owner {
        Owner::Process(pid) | Owner::ViaListener(pid) => match procs.get(&pid) {
            Some(p) => format!("{}[{pid}]", p.comm),
            None => format!("pid {pid}"),
        },
        Owner::Ownerless => "(ownerless)".into(),
        Owner::Unattributed => "(unattributed)".into(),
        Owner::Unresolved => "(unresolved)".into(),
    }
}

/// What the UI loop asks the collector thread to destroy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillRequest {
    /// The sockets, by cookie.
    pub targets: Vec<KillTarget>,
}

/// What a kill did, per outcome class (as `sockscope kill` counts them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KillDone {
    /// Sockets asked for.
    pub targeted: usize,
    /// Destroyed.
    pub killed: usize,
    /// Gone before the request reached them (closed or replaced: the cookie differed).
    pub gone: usize,
    /// Refused by the kernel in their state (`EOPNOTSUPP`, `EINVAL`).
    pub refused: usize,
    /// Denied (`EPERM`: CAP_NET_ADMIN in this namespace, or a security module).
    pub denied: usize,
    /// Any other error.
    pub failed: usize,
    /// Targeted sockets a dump after the kill still lists (`None`: it could not run).
    pub remaining: Option<usize>,
    /// Why nothing was done, when the kill could not run at all.
    pub error: Option<String>,
}

impl KillDone {
    /// A kill that could not run.
    pub fn failed_with(targeted: usize, why: impl Into<String>) -> KillDone {
        KillDone {
            targeted,
            error: Some(why.into()),
            ..KillDone::default()
        }
    }

    /// The footer line: what happened, in `sockscope kill`'s words.
    pub fn line(&self) -> String {
        if let Some(e) = &self.error {
            return format!("K: nothing killed: {e}");
        }
        let mut parts = vec![
            format!("killed {} of {}", self.killed, self.targeted),
            format!("already gone {}", self.gone),
        ];
        for (n, what) in [
            (self.refused, "refused"),
            (self.denied, "denied (EPERM)"),
            (self.failed, "failed"),
        ] {
            if n > 0 {
                parts.push(format!("{what} {n}"));
            }
        }
        parts.push(match self.remaining {
            Some(r) => format!("remaining {r}"),
            None => "remaining unknown (re-dump failed)".into(),
        });
        format!("K: {}", parts.join(" · "))
    }
}

impl Default for KillGate {
    fn default() -> KillGate {
        KillGate::Unavailable("this dashboard has no live collector to kill with".into())
    }
}

/// The dashboard's kill state: the gate, the open confirmation and the request on its way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KillUi {
    /// Whether `K` may kill.
    pub gate: KillGate,
    /// The plan the confirmation shows (open while the mode is `Confirm`).
    pub plan: Option<KillPlan>,
    /// Confirmed and not yet handed to the collector thread.
    pub request: Option<KillRequest>,
    /// Handed over; its [`KillDone`] has not come back yet.
    pub in_flight: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Name;

    fn sock(state: TcpState, port: u16, pid: u32, cookie: Option<u64>) -> SocketRecord {
        let mut s = SocketRecord::new(
            state,
            format!("127.0.0.1:{port}").parse().unwrap(),
            "127.0.0.1:9000".parse().unwrap(),
            Owner::Process(pid),
        );
        s.cookie = cookie;
        s
    }

    fn procs() -> BTreeMap<u32, ProcessInfo> {
        BTreeMap::from([(
            7,
            ProcessInfo {
                pid: 7,
                comm: Name::from("ev\x1bil"),
                uid: 0,
                user: Name::from("root"),
                unit: None,
                container: None,
            },
        )])
    }

    #[test]
    fn listeners_only_when_selected_by_themselves() {
        let socks = [
            sock(TcpState::Listen, 80, 7, Some(1)),
            sock(TcpState::CloseWait, 80, 7, Some(2)),
        ];
        let p = KillPlan::new("x".into(), Protocol::Tcp, &socks, &procs(), false);
        assert_eq!(p.targets.len(), 1);
        assert_eq!(p.listeners_skipped, 1);
        assert_eq!(p.per_state(), [(Protocol::Tcp, TcpState::CloseWait, 1)]);
        assert_eq!(p.per_owner(), [("ev\\eil[7]".to_string(), 1)]);
        assert!(p.refusal().is_none());
        let p = KillPlan::new("x".into(), Protocol::Tcp, &socks[..1], &procs(), true);
        assert_eq!((p.targets.len(), p.listeners_skipped), (1, 0));
        let p = KillPlan::new("x".into(), Protocol::Tcp, &socks[..1], &procs(), false);
        assert!(p.refusal().unwrap().contains("listeners"));
        // UDP has no LISTEN of its own: its UNCONN sockets are fair game.
        let udp = [sock(TcpState::Close, 53, 7, Some(3))];
        let p = KillPlan::new("x".into(), Protocol::Udp, &udp, &procs(), false);
        assert_eq!(p.targets.len(), 1);
    }

    #[test]
    fn cap_and_cookies_refuse() {
        let many: Vec<SocketRecord> = (0..=KILL_CAP as u16)
            .map(|i| sock(TcpState::CloseWait, 1000 + i, 7, Some(u64::from(i))))
            .collect();
        let p = KillPlan::new("x".into(), Protocol::Tcp, &many, &procs(), false);
        assert!(p.refusal().unwrap().contains("more than the cap of 100"));
        let p = KillPlan::new(
            "x".into(),
            Protocol::Tcp,
            &many[..KILL_CAP],
            &procs(),
            false,
        );
        assert!(p.refusal().is_none());
        let bare = [sock(TcpState::CloseWait, 1, 7, None)];
        let p = KillPlan::new("x".into(), Protocol::Tcp, &bare, &procs(), false);
        assert!(p.refusal().unwrap().contains("no kernel cookie"));
    }

    #[test]
    fn done_lines() {
        let d = KillDone {
            targeted: 3,
            killed: 2,
            gone: 1,
            remaining: Some(0),
            ..KillDone::default()
        };
        assert_eq!(d.line(), "K: killed 2 of 3 · already gone 1 · remaining 0");
        let d = KillDone {
            denied: 3,
            targeted: 3,
            remaining: None,
            ..KillDone::default()
        };
        assert!(d.line().contains("denied (EPERM) 3"), "{}", d.line());
        assert!(KillDone::failed_with(3, "no socket")
            .line()
            .starts_with("K: nothing killed: no socket"));
    }
}
