//! Output of `sockscope kill`: the plan shown before anything is touched (how many sockets,
//! per state, per process, the first rows) and the result afterwards (per outcome class,
//! and how many of the targeted sockets a re-dump still finds). Text only; names another
//! user chose (comm) are printed through [`crate::model::Name`]'s escaping `Display`.

use std::collections::BTreeMap;
use std::io::{self, Write};

use crate::collect::destroy::Outcome;
use crate::model::{Owner, ProcessInfo, Protocol, SocketRecord, TcpState};

/// One socket chosen for killing.
#[derive(Debug, Clone, Copy)]
pub struct KillTarget<'a> {
    /// Its table.
    pub protocol: Protocol,
    /// The socket as the dump listed it.
    pub socket: &'a SocketRecord,
}

/// What `kill` is about to do.
#[derive(Debug)]
pub struct KillPlan<'a> {
    /// The sockets, in the order they will be destroyed.
    pub targets: Vec<KillTarget<'a>>,
    /// Owners by pid.
    pub processes: &'a BTreeMap<u32, ProcessInfo>,
    /// LISTEN sockets the filter matched but `kill` leaves alone (no explicit
    /// `--state listen`).
    pub listeners_skipped: usize,
    /// The namespace label.
    pub netns: &'a str,
    /// Rows to show (0 = all).
    pub rows: usize,
}

/// How one socket's owner reads in the plan.
fn owner_label(s: &SocketRecord, procs: &BTreeMap<u32, ProcessInfo>) -> String {
    match s.owner {
        Owner::Process(pid) | Owner::ViaListener(pid) => match procs.get(&pid) {
            Some(p) => format!("{}[{pid}]", p.comm),
            None => format!("pid {pid}"),
        },
        Owner::Ownerless => "(no process: TIME_WAIT/request)".into(),
        Owner::Unattributed => "(unattributed)".into(),
        Owner::Unresolved => "(unresolved)".into(),
    }
}

/// Writes the plan: a header line with the count, counts per state and per process, and
/// the first rows.
pub fn write_plan(out: &mut impl Write, plan: &KillPlan<'_>) -> io::Result<()> {
    let n = plan.targets.len();
    writeln!(
        out,
        "{n} socket{} to kill in netns {}",
        if n == 1 { "" } else { "s" },
        plan.netns
    )?;
    if plan.listeners_skipped > 0 {
        writeln!(
            out,
            "  ({} LISTEN socket{} matched too and {} left alone: name --state listen to kill \
             listeners)",
            plan.listeners_skipped,
            if plan.listeners_skipped == 1 { "" } else { "s" },
            if plan.listeners_skipped == 1 {
                "is"
            } else {
                "are"
            },
        )?;
    }
    if n == 0 {
        return Ok(());
    }
    let mut states: BTreeMap<(Protocol, TcpState), usize> = BTreeMap::new();
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    for t in &plan.targets {
        *states.entry((t.protocol, t.socket.state)).or_default() += 1;
        *owners
            .entry(owner_label(t.socket, plan.processes))
            .or_default() += 1;
    }
    writeln!(out, "per state:")?;
    for ((proto, state), c) in &states {
        writeln!(
            out,
            "  {:<4} {:<12} {c}",
            proto.name(),
            proto.state_name(*state)
        )?;
    }
    writeln!(out, "per process:")?;
    let mut owners: Vec<(String, usize)> = owners.into_iter().collect();
    owners.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (who, c) in &owners {
        writeln!(out, "  {c:>6}  {who}")?;
    }
    let shown = if plan.rows == 0 { n } else { plan.rows.min(n) };
    writeln!(
        out,
        "{:<5} {:<12} {:>6} {:>6}  {:<40} {:<40} PROCESS",
        "PROTO", "STATE", "RECV-Q", "SEND-Q", "LOCAL", "PEER"
    )?;
    for t in plan.targets.iter().take(shown) {
        let s = t.socket;
        writeln!(
            out,
            "{:<5} {:<12} {:>6} {:>6}  {:<40} {:<40} {}",
            t.protocol.name(),
            t.protocol.state_name(s.state),
            s.recv_q,
            s.send_q,
            s.local.to_string(),
            s.remote.to_string(),
            owner_label(s, plan.processes)
        )?;
    }
    if shown < n {
        writeln!(out, "… and {} more (--rows 0 shows all)", n - shown)?;
    }
    Ok(())
}

/// What happened, per outcome class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KillResult {
    /// Sockets targeted.
    pub targeted: usize,
    /// Destroyed.
    pub killed: usize,
    /// Gone before the request reached them (closed, or replaced: the cookie differed).
    pub gone: usize,
    /// Refused by the kernel for this kind of socket: (protocol, state, errno) → count.
    pub refused: BTreeMap<(Protocol, TcpState, i32), usize>,
    /// Refused for lack of privilege (EPERM/EACCES).
    pub denied: usize,
    /// Other errors: errno → count.
    pub failed: BTreeMap<i32, usize>,
    /// Targeted sockets a dump after the run still lists (by cookie).
    pub remaining: usize,
    /// Of those, UDP sockets the kernel aborted but left bound (see [`write_result`]).
    pub remaining_udp: usize,
}

impl KillResult {
    /// Counts one socket's outcome.
    pub fn add(&mut self, t: &KillTarget<'_>, o: Outcome) {
        match o {
            Outcome::Killed => self.killed += 1,
            Outcome::Gone => self.gone += 1,
            Outcome::Refused(e) => {
                *self
                    .refused
                    .entry((t.protocol, t.socket.state, e))
                    .or_default() += 1;
            }
            Outcome::Denied => self.denied += 1,
            Outcome::Failed(e) => *self.failed.entry(e).or_default() += 1,
        }
    }

    /// Whether everything targeted is gone and nothing was refused.
    pub fn clean(&self) -> bool {
        self.remaining == 0 && self.refused.is_empty() && self.denied == 0 && self.failed.is_empty()
    }
}

fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EINVAL => "EINVAL",
        libc::ETIMEDOUT => "no answer",
        libc::ENOENT => "ENOENT",
        _ => "",
    };
    let text = io::Error::from_raw_os_error(e).to_string();
    if name.is_empty() {
        text
    } else {
        format!("{name}: {text}")
    }
}

/// Writes the result lines.
pub fn write_result(out: &mut impl Write, r: &KillResult) -> io::Result<()> {
    writeln!(out, "killed          {}", r.killed)?;
    writeln!(
        out,
        "already gone    {} (closed, or replaced by another socket: the cookie differed)",
        r.gone
    )?;
    for ((proto, state, e), c) in &r.refused {
        writeln!(
            out,
            "refused         {c} in {} {} ({})",
            proto.name(),
            proto.state_name(*state),
            errno_name(*e)
        )?;
    }
    if r.denied > 0 {
        writeln!(
            out,
            "denied          {} (EPERM: CAP_NET_ADMIN in this namespace, or a security module)",
            r.denied
        )?;
    }
    for (e, c) in &r.failed {
        writeln!(out, "failed          {c} ({})", errno_name(*e))?;
    }
    writeln!(
        out,
        "remaining       {} of the {} targeted socket{} (re-dumped after the run)",
        r.remaining,
        r.targeted,
        if r.targeted == 1 { "" } else { "s" }
    )?;
    if r.remaining_udp > 0 {
        // Measured (Linux 6.18, as with ss -K): udp_abort() sets ECONNABORTED on the socket
        // and disconnects it, but unhashes it only when its port was not bound explicitly.
        writeln!(
            out,
            "                {} of them UDP: the kernel aborted them (the owner gets \
             ECONNABORTED on its next call; a connected one is disconnected) but a UDP socket \
             bound to a port keeps it until its owner closes it",
            r.remaining_udp
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Name;

    fn sock(state: TcpState, port: u16, owner: Owner) -> SocketRecord {
        SocketRecord::new(
            state,
            format!("127.0.0.1:{port}").parse().unwrap(),
            "127.0.0.1:9000".parse().unwrap(),
            owner,
        )
    }

    #[test]
    fn plan_counts_states_processes_and_escapes_names() {
        let socks = [
            sock(TcpState::CloseWait, 1, Owner::Process(7)),
            sock(TcpState::CloseWait, 2, Owner::Process(7)),
            sock(TcpState::TimeWait, 3, Owner::Ownerless),
        ];
        let mut procs = BTreeMap::new();
        procs.insert(
            7,
            ProcessInfo {
                pid: 7,
                comm: Name::from("ev\x1b[7mil"),
                uid: 0,
                user: Name::from("root"),
                unit: None,
                container: None,
            },
        );
        let plan = KillPlan {
            targets: socks
                .iter()
                .map(|s| KillTarget {
                    protocol: Protocol::Tcp,
                    socket: s,
                })
                .collect(),
            processes: &procs,
            listeners_skipped: 1,
            netns: "host",
            rows: 2,
        };
        let mut v = Vec::new();
        write_plan(&mut v, &plan).unwrap();
        let text = String::from_utf8(v).unwrap();
        assert!(
            text.starts_with("3 sockets to kill in netns host\n"),
            "{text}"
        );
        assert!(text.contains("tcp  CLOSE_WAIT   2"), "{text}");
        assert!(text.contains("tcp  TIME_WAIT    1"), "{text}");
        assert!(text.contains("     2  ev\\e[7mil[7]"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
        assert!(text.contains("1 LISTEN socket matched too"), "{text}");
        assert!(text.contains("… and 1 more"), "{text}");
    }

    #[test]
    fn result_classes() {
        let s = sock(TcpState::SynRecv, 1, Owner::Ownerless);
        let t = KillTarget {
            protocol: Protocol::Tcp,
            socket: &s,
        };
        let mut r = KillResult {
            targeted: 4,
            ..Default::default()
        };
        for o in [
            Outcome::Killed,
            Outcome::Gone,
            Outcome::Refused(libc::EOPNOTSUPP),
            Outcome::Denied,
        ] {
            r.add(&t, o);
        }
        r.remaining = 1;
        assert!(!r.clean());
        let mut v = Vec::new();
        write_result(&mut v, &r).unwrap();
        let text = String::from_utf8(v).unwrap();
        assert!(text.contains("killed          1\n"), "{text}");
        assert!(
            text.contains("refused         1 in tcp SYN_RECV (EOPNOTSUPP"),
            "{text}"
        );
        assert!(text.contains("denied          1"), "{text}");
        assert!(
            text.contains("remaining       1 of the 4 targeted sockets"),
            "{text}"
        );
    }
}
