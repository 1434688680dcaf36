//! The protocol selection (`-t`, `-u`, `-x`) checked against the other flags before anything
//! is collected, and against what a snapshot holds after: a combination that can only be a
//! mistake (`--path` without `-x`, a port filter on UNIX sockets alone, a `--path` nothing
//! is bound to) is one line and exit 2, never an empty answer that reads like "all is well".

use std::path::Path;

use super::RunError;
use crate::cli::{GlobalArgs, GroupBy};
use crate::filter::UnixPathMatch;
use crate::model::{Protocol, Protocols, Snapshot};

/// Refuses flags the selected protocols cannot use. Every mode calls it (through `main`).
pub fn check_flags(global: &GlobalArgs) -> Result<(), RunError> {
    let protocols = global.protocols();
    let f = &global.filter;
    if let Some(p) = f.path.first() {
        if !protocols.contains(Protocol::Unix) {
            return Err(RunError::Usage(format!(
                "--path {p} selects UNIX sockets, which only -x shows; add -x (e.g. \
                 sockscope sockets -x --path {p})"
            )));
        }
    }
    if protocols == Protocols::only(Protocol::Unix) {
        let ip_flag = [
            (!f.sport.is_empty(), "--sport"),
            (!f.dport.is_empty(), "--dport"),
            (!f.src.is_empty(), "--src"),
            (!f.dst.is_empty(), "--dst"),
            (f.ipv4, "-4"),
            (f.ipv6, "-6"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name));
        if let Some(flag) = ip_flag {
            return Err(RunError::Usage(format!(
                "{flag} filters TCP and UDP sockets; UNIX sockets (-x alone) have no ports or \
                 addresses: add -t or -u, or use --path for UNIX sockets"
            )));
        }
    }
    Ok(())
}

/// Refuses a `summary --by` grouping the selected protocols do not have.
pub fn check_grouping(protocols: Protocols, by: GroupBy) -> Result<(), RunError> {
    match by {
        GroupBy::Remote if protocols != Protocols::TCP => Err(RunError::Usage(
            "--by remote groups TCP sockets by peer address; give it without -u/-x (UDP and \
             UNIX sockets: --by state or --by process)"
                .into(),
        )),
        GroupBy::Listener
            if protocols != Protocols::TCP && protocols != Protocols::only(Protocol::Unix) =>
        {
            Err(RunError::Usage(
                "--by listener shows TCP listeners (-t) or UNIX listeners (-x), one protocol at \
                 a time; UDP sockets do not listen"
                    .into(),
            ))
        }
        _ => Ok(()),
    }
}

/// Refuses to present a protocol the snapshot did not collect: its empty list would read
/// as "no such socket". `file` names a `--from-snapshot` file.
pub fn require_collected(
    snap: &Snapshot,
    wanted: Protocols,
    file: Option<&Path>,
) -> Result<(), RunError> {
    let Some(missing) = wanted.iter().find(|p| !snap.protocols.contains(*p)) else {
        return Ok(());
    };
    Err(RunError::Usage(match file {
        Some(f) => format!(
            "{} holds no {} sockets (it has {}): it was saved without {}",
            f.display(),
            missing,
            snap.protocols,
            missing.flag()
        ),
        None => format!(
            "{missing} sockets were not collected (the {} source gave {} only)",
            snap.source.name(),
            snap.protocols
        ),
    }))
}

/// Refuses a `--path` that matched no UNIX socket, naming it (the filter has already been
/// applied, so a path bound only by sockets the other filters dropped counts as no match).
pub fn check_paths(
    paths: &[UnixPathMatch],
    snap: &Snapshot,
    filtered: bool,
) -> Result<(), RunError> {
    for p in paths {
        if !snap.unix.iter().any(|u| p.matches(u.name.as_ref())) {
            let also = if filtered {
                "bound to it passes the other filters"
            } else {
                "is bound to it"
            };
            return Err(RunError::Usage(format!(
                "--path {p}: no UNIX socket {also} (abstract names start with @; \
                 a trailing * matches a prefix)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn global(args: &[&str]) -> GlobalArgs {
        let mut v = vec!["sockscope", "summary"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).expect("parse").global
    }

    fn refused(args: &[&str]) -> String {
        match check_flags(&global(args)) {
            Err(e) => e.to_string(),
            Ok(()) => panic!("{args:?} passed"),
        }
    }

    #[test]
    fn mistakes_are_named() {
        assert!(refused(&["--path", "/run/x.sock"]).contains("add -x"));
        assert!(refused(&["-u", "--path", "@x"]).starts_with("--path @x"));
        assert!(refused(&["-x", "--sport", "80"]).starts_with("--sport"));
        assert!(refused(&["-x", "-6"]).starts_with("-6"));
        for ok in [
            &["-x", "--path", "/run/*"][..],
            &["-tx", "--sport", "80"],
            &["-u", "--sport", "53"],
            &["-x", "--process", "sshd", "--state", "listen"],
            &[],
        ] {
            assert!(check_flags(&global(ok)).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn groupings_need_their_protocol() {
        let udp = Protocols::only(Protocol::Udp);
        let unix = Protocols::only(Protocol::Unix);
        assert!(check_grouping(udp, GroupBy::Listener).is_err());
        assert!(check_grouping(unix, GroupBy::Listener).is_ok());
        assert!(check_grouping(unix, GroupBy::Remote).is_err());
        assert!(check_grouping(Protocols::ALL, GroupBy::Process).is_ok());
        assert!(check_grouping(Protocols::TCP, GroupBy::Remote).is_ok());
    }

    #[test]
    fn uncollected_protocols_and_unmatched_paths_are_refused() {
        let snap = crate::model::fixtures::snapshot(Vec::new());
        let e = require_collected(&snap, Protocols::ALL, Some(Path::new("s.json")))
            .expect_err("udp missing");
        assert_eq!(
            e.to_string(),
            "s.json holds no udp sockets (it has tcp): it was saved without -u"
        );
        let p: UnixPathMatch = "/run/none.sock".parse().expect("path");
        let e = check_paths(&[p], &snap, false).expect_err("no match");
        assert!(e
            .to_string()
            .starts_with("--path /run/none.sock: no UNIX socket"));
    }
}
