//! `sockscope explain TOPIC`: what a state or rule means, with this namespace's sysctls;
//! `explain unattributed`: why this host's sockets have no owner, and the fix.

use std::io::Write;

use super::snapshot::collect_once;
use super::{collect_config, one_namespace, RunError};
use crate::analyze::aggregate::aggregate;
use crate::analyze::proto_counts::aggregate_proto;
use crate::cli::{ExplainArgs, GlobalArgs};
use crate::model::{Protocol, Protocols, Snapshot};

/// The topic the short unattributed notes point to (not a state or a rule: it needs a
/// snapshot, so it lives here rather than in `explain`'s static texts).
const UNATTRIBUTED: &str = "unattributed";

/// `sockscope explain TOPIC`, with the sysctls of the selected namespace.
pub fn explain(
    global: &GlobalArgs,
    args: &ExplainArgs,
    out: &mut impl Write,
) -> Result<(), RunError> {
    one_namespace(global, "explain")?;
    if args.topic.trim().eq_ignore_ascii_case(UNATTRIBUTED) {
        return unattributed(global, out);
    }
    if let Some(ns) = &global.netns {
        crate::collect::netns::enter(ns).map_err(|e| RunError::Usage(e.to_string()))?;
    }
    let sysctls = crate::collect::sysctl::read_sysctls();
    match crate::explain::explain(&args.topic, Some(&sysctls)) {
        Some(text) => write_wrapped(out, &text),
        None => {
            let mut topics = crate::explain::topics();
            topics.push(UNATTRIBUTED);
            Err(RunError::Usage(format!(
                "unknown topic '{}'; valid topics: {}",
                args.topic,
                topics.join(", ")
            )))
        }
    }
}

fn write_wrapped(out: &mut impl Write, text: &str) -> Result<(), RunError> {
    for line in text.lines() {
        writeln!(out, "{}", wrap(line, 78))?;
    }
    Ok(())
}

/// `explain unattributed`: collects every protocol once, with attribution, and says how
/// many sockets have no owner, why (the cause the resolver diagnosed on this host) and the
/// fix: what the one-line notes leave out.
fn unattributed(global: &GlobalArgs, out: &mut impl Write) -> Result<(), RunError> {
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    cfg.protocols = Protocols::ALL;
    let snap = collect_once(global, cfg)?;
    write_wrapped(out, &unattributed_text(&snap))
}

/// The `explain unattributed` text for one snapshot.
fn unattributed_text(snap: &Snapshot) -> String {
    let mut counts = Vec::new();
    let (mut none, mut all) = (0, 0);
    for p in Protocol::ALL {
        if !snap.protocols.contains(p) {
            continue;
        }
        let (n, total) = match p {
            Protocol::Tcp => {
                let a = aggregate(snap);
                (a.unattributed, a.states.total())
            }
            _ => {
                let a = aggregate_proto(snap, p);
                (a.unattributed, a.total())
            }
        };
        counts.push(format!("{p} {n} of {total}"));
        none += n;
        all += total;
    }
    let mut t = format!(
        "unattributed\n\nA socket is unattributed when a process holds it but sockscope could \
         not read which one: the owner is found by reading every /proc/PID/fd link, and some \
         of them were closed to it.\n\nIn {}: {none} of {all} sockets unattributed ({}).\n",
        snap.netns,
        counts.join(", ")
    );
    if none == 0 {
        t.push_str("\nEvery socket is attributed: nothing to fix.\n");
        return t;
    }
    match snap.attribution.reason {
        Some(r) => {
            t.push_str(&format!("\nCause: {}.\n", r.cause()));
            match r.fix() {
                // On a line of its own so the command is not wrapped mid-way.
                Some(fix) => t.push_str(&format!("Fix:\n  {fix}.\n")),
                None => t.push_str("Fix: none needed; the next sample attributes them.\n"),
            }
        }
        None => t.push_str("\nCause: not diagnosed (the resolver gave no reason).\n"),
    }
    t.push_str("\nThe sockets: sockscope sockets -tux --owner unattributed\n");
    t
}

/// Wraps one line at `width` columns on spaces, keeping its leading indentation on every
/// continuation line.
pub fn wrap(line: &str, width: usize) -> String {
    let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
    let mut out = String::with_capacity(line.len() + 8);
    let mut col = 0;
    for word in line.split_whitespace() {
        let w = word.chars().count();
        if col == 0 {
            out.push_str(&indent);
            col = indent.chars().count();
        } else if col + 1 + w > width {
            out.push('\n');
            out.push_str(&indent);
            col = indent.chars().count();
        } else {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrap_keeps_indent_and_width() {
        let text = format!("  {}", "word ".repeat(40));
        let wrapped = super::wrap(&text, 30);
        assert!(wrapped
            .lines()
            .all(|l| l.len() <= 30 && l.starts_with("  word")));
        assert_eq!(wrapped.split_whitespace().count(), 40);
        assert_eq!(super::wrap("", 30), "");
    }
}
