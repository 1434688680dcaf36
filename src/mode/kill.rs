//! `sockscope kill`: destroy the TCP/UDP sockets a filter selects, safely (as `ss -K`, with
//! a plan shown first, a confirmation, limits, and a re-dump that says what remains).
//!
//! Order matters, so that a refusal never leaves anything half-done: every usage check
//! (a filter, a live netlink source, CAP_NET_ADMIN) comes before the dump; the plan is
//! printed before any confirmation; the confirmation (or `--yes`) comes before the first
//! destroy request. The sockets are destroyed by their cookie (see
//! [`crate::collect::destroy`]), so one that closed or was replaced after the listing is
//! counted "already gone", never hit by mistake.

use std::io::{self, BufRead, IsTerminal, Write};

use super::{collect_config, one_namespace, open_collector, RunError};
use crate::cli::{GlobalArgs, KillArgs, SourceArg};
use crate::collect::collector::SourcePref;
use crate::collect::destroy::{has_net_admin, Destroyer, Outcome, SockId};
use crate::filter::{Filter, StateSet};
use crate::model::{Protocol, Snapshot, TcpState};
use crate::report::kill::{write_plan, write_result, KillPlan, KillResult, KillTarget};

/// `sockscope kill`; `Ok` carries the exit code (0 all gone, 1 some not killed or left).
pub fn kill(global: &GlobalArgs, args: &KillArgs, out: &mut impl Write) -> Result<i32, RunError> {
    preflight(global, args)?;
    let filter = global.filter.to_filter();
    let protocols = global.protocols();
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.source = SourcePref::Netlink;
    // The re-dump only looks for the targets' cookies: no attribution, and only the
    // criteria the kernel applies (states, family), so it costs a bare dump.
    let mut recheck_cfg = cfg.clone();
    recheck_cfg.attribute = false;
    recheck_cfg.filter = Filter {
        states: filter.states,
        family: filter.family,
        ..Filter::default()
    };
    let mut collector = open_collector(cfg)?;
    let snap = collector.collect()?;
    if protocols.contains(Protocol::Udp) && !snap.protocols.contains(Protocol::Udp) {
        return Err(RunError::Usage(
            "kill -u: this build does not collect UDP sockets yet, so none can be listed or \
             killed (nothing was touched)"
                .into(),
        ));
    }
    let listen_ok = listen_named(&filter);
    let mut listeners_skipped = 0;
    let mut targets = Vec::new();
    for (proto, list) in [(Protocol::Tcp, &snap.sockets), (Protocol::Udp, &snap.udp)] {
        if !protocols.contains(proto) {
            continue;
        }
        for s in list.iter() {
            if proto == Protocol::Tcp && s.state == TcpState::Listen && !listen_ok {
                listeners_skipped += 1;
            } else {
                targets.push(KillTarget {
                    protocol: proto,
                    socket: s,
                });
            }
        }
    }
    let plan = KillPlan {
        targets,
        processes: &snap.processes,
        listeners_skipped,
        netns: &snap.netns,
        rows: args.rows,
    };
    write_plan(out, &plan)?;
    let n = plan.targets.len();
    if n == 0 {
        super::note_empty(global, 0);
        return Ok(0);
    }
    if n > args.max {
        let line = format!(
            "{n} sockets match, more than --max {}: raise --max to kill them all",
            args.max
        );
        if args.dry_run {
            writeln!(out, "dry run: {line}; nothing was touched")?;
            return Ok(0);
        }
        return Err(RunError::Usage(format!("{line} (nothing was touched)")));
    }
    if args.dry_run {
        writeln!(out, "dry run: would kill {n} sockets; nothing was touched")?;
        if has_net_admin() == Some(false) {
            writeln!(
                out,
                "note: killing them needs CAP_NET_ADMIN, which this process lacks"
            )?;
        }
        return Ok(0);
    }
    out.flush()?;
    if !args.yes {
        confirm(n)?;
    }
    let ids: Vec<SockId> = plan
        .targets
        .iter()
        .filter_map(|t| SockId::of(t.protocol, t.socket))
        .collect();
    if ids.len() != n {
        return Err(RunError::Usage(
            "some listed sockets carry no kernel cookie; nothing was touched".into(),
        ));
    }
    let outcomes = Destroyer::open()?.destroy_all(&ids)?;
    let mut result = KillResult {
        targeted: n,
        ..KillResult::default()
    };
    for (t, o) in plan.targets.iter().zip(&outcomes) {
        result.add(t, *o);
    }
    if result.killed == 0 && outcomes.first() == Some(&Outcome::Denied) {
        return Err(RunError::Usage(
            "kill: the kernel refused SOCK_DESTROY (EPERM): it needs CAP_NET_ADMIN in this \
             network namespace; nothing was killed"
                .into(),
        ));
    }
    let after = open_collector(recheck_cfg)?.collect()?;
    (result.remaining, result.remaining_udp) = remaining(&plan, &after);
    write_result(out, &result)?;
    Ok(if result.clean() { 0 } else { 1 })
}

/// The checks that need no kernel access: each refusal is one line, exit 2, nothing done.
fn preflight(global: &GlobalArgs, args: &KillArgs) -> Result<(), RunError> {
    one_namespace(global, "kill")?;
    if global.from_snapshot.is_some() {
        return Err(RunError::Usage(
            "kill acts on the live kernel; --from-snapshot cannot be used with it".into(),
        ));
    }
    if global.unix {
        return Err(RunError::Usage(
            "kill destroys TCP and UDP sockets (sock_diag SOCK_DESTROY); UNIX sockets cannot \
             be destroyed that way (-x)"
                .into(),
        ));
    }
    if !has_criterion(&global.filter.to_filter()) {
        return Err(RunError::Usage(
            "kill needs a filter (--state, --sport, --dport, --src, --dst, --process or \
             --owner): it never kills every socket"
                .into(),
        ));
    }
    if global.source == SourceArg::Proc {
        return Err(RunError::Usage(
            "kill needs the netlink source: sockets are destroyed by their sock_diag cookie, \
             which /proc/net/tcp does not have"
                .into(),
        ));
    }
    if !args.dry_run && has_net_admin() == Some(false) {
        return Err(RunError::Usage(
            "kill needs CAP_NET_ADMIN (sock_diag SOCK_DESTROY) and this process does not have \
             it; nothing was touched (--dry-run shows what would be killed)"
                .into(),
        ));
    }
    Ok(())
}

/// Whether the filter restricts anything but the address family: `-4` alone would still
/// be "every IPv4 socket".
fn has_criterion(f: &Filter) -> bool {
    f.states.is_some()
        || !f.sport.is_empty()
        || !f.dport.is_empty()
        || !f.src.is_empty()
        || !f.dst.is_empty()
        || !f.process.is_empty()
        || !f.owner.is_empty()
}

/// Whether `--state` selects LISTEN by name rather than through a group: the groups that
/// hold LISTEN (`all`, `big`) do not count, so `--state all --sport 80` spares the listener.
fn listen_named(f: &Filter) -> bool {
    let Some(set) = f.states else {
        return false;
    };
    let big: StateSet = "big".parse().unwrap_or_default();
    set.contains(TcpState::Listen) && set != StateSet::all() && set != big
}

/// Asks on the terminal; no terminal (stdin not a tty) means no confirmation possible.
fn confirm(n: usize) -> Result<(), RunError> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Err(RunError::Usage(format!(
            "kill: {n} sockets match and there is no terminal to confirm on: add --yes to \
             kill them (nothing was touched)"
        )));
    }
    eprint!("Kill these {n} sockets? [y/N] ");
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(RunError::Usage(
            "kill: not confirmed; nothing was touched".into(),
        ))
    }
}

/// How many targeted sockets `after` still lists, by protocol and cookie, and how many of
/// those are UDP.
fn remaining(plan: &KillPlan<'_>, after: &Snapshot) -> (usize, usize) {
    let mut left = std::collections::HashSet::new();
    for (proto, list) in [(Protocol::Tcp, &after.sockets), (Protocol::Udp, &after.udp)] {
        left.extend(list.iter().filter_map(|s| s.cookie.map(|c| (proto, c))));
    }
    let left: Vec<Protocol> = plan
        .targets
        .iter()
        .filter(|t| {
            t.socket
                .cookie
                .is_some_and(|c| left.contains(&(t.protocol, c)))
        })
        .map(|t| t.protocol)
        .collect();
    let udp = left.iter().filter(|p| **p == Protocol::Udp).count();
    (left.len(), udp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(states: &str) -> Filter {
        let mut f = Filter::default();
        f.add_states(states.parse().unwrap());
        f
    }

    #[test]
    fn listen_only_by_name() {
        assert!(listen_named(&filter("listen")));
        assert!(listen_named(&filter("listen,close-wait")));
        assert!(!listen_named(&filter("all")));
        assert!(!listen_named(&filter("big")));
        assert!(!listen_named(&filter("close-wait")));
        assert!(!listen_named(&Filter::default()));
    }

    #[test]
    fn family_alone_is_no_filter() {
        let mut f = Filter {
            family: Some(crate::model::Family::V4),
            ..Filter::default()
        };
        assert!(!has_criterion(&f));
        f.sport.push("80".parse().unwrap());
        assert!(has_criterion(&f));
        assert!(has_criterion(&filter("close-wait")));
    }
}
