//! The one place the dashboard filters sockets: the `/` prompt takes exactly the CLI's
//! filter syntax ([`crate::filter::Filter::parse_expr`]), so what works on the command line
//! works here. Every view goes through [`apply_filter`], for the shown protocol's list.

use crate::filter::Filter;
use crate::model::{Protocol, Snapshot};

/// Indices into the shown protocol's list (`snap.sockets`, `snap.udp` or `snap.unix`) that
/// match `expr` (all of them when `expr` is blank), or why the expression does not parse.
///
/// The CLI's matching, except that a term about another protocol's sockets passes nothing
/// here rather than leaving the shown protocol unfiltered: a `path:` term passes no TCP or
/// UDP socket, and a port, address or family term no UNIX socket. (The CLI scopes each term
/// to the protocols it describes, so `-tx --sport 22 --path P` lists both; the dashboard
/// shows one protocol, and `K` kills what its filter lists.)
pub fn apply_filter(expr: &str, snap: &Snapshot, proto: Protocol) -> Result<Vec<usize>, String> {
    let f = Filter::parse_expr(expr).map_err(|e| e.to_string())?;
    Ok(match proto {
        Protocol::Tcp => (0..snap.sockets.len())
            .filter(|&i| f.path.is_empty() && f.matches(&snap.sockets[i], &snap.processes))
            .collect(),
        Protocol::Udp => (0..snap.udp.len())
            .filter(|&i| f.path.is_empty() && f.matches(&snap.udp[i], &snap.processes))
            .collect(),
        Protocol::Unix => (0..snap.unix.len())
            .filter(|&i| !f.has_ip_terms() && f.matches_unix(&snap.unix[i], &snap.processes))
            .collect(),
    })
}

/// Whether `expr` parses, and if not, why (the prompt checks every keystroke).
pub fn check(expr: &str) -> Result<(), String> {
    Filter::parse_expr(expr)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::snapshot;
    use crate::model::{
        Name, Owner, Protocols, SocketRecord, TcpState, UnixKind, UnixName, UnixRecord,
    };

    fn snap() -> Snapshot {
        let mut s = snapshot(Vec::new());
        s.protocols = Protocols::ALL;
        s.udp = vec![SocketRecord::new(
            TcpState::Close,
            "127.0.0.1:53".parse().expect("addr"),
            "0.0.0.0:0".parse().expect("addr"),
            Owner::Process(7),
        )];
        let mut l = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 10);
        l.name = Some(UnixName::Path(Name::from("/run/php/fpm.sock")));
        l.owner = Owner::Process(7);
        let mut a = UnixRecord::new(UnixKind::Dgram, TcpState::Close, 11);
        a.name = Some(UnixName::Abstract(Name::from("journal")));
        a.owner = Owner::Unattributed;
        s.unix = vec![
            l,
            a,
            UnixRecord::new(UnixKind::Stream, TcpState::Established, 12),
        ];
        s
    }

    #[test]
    fn unix_filters_by_state_name_and_owner_and_refuses_ip_terms() {
        let s = snap();
        let f = |e: &str| apply_filter(e, &s, Protocol::Unix).expect("parses");
        assert_eq!(f(""), vec![0, 1, 2]);
        assert_eq!(f("state:listen"), vec![0]);
        assert_eq!(f("path:/run/php/*"), vec![0]);
        assert_eq!(f("path:@journal"), vec![1]);
        assert_eq!(f("owner:unattributed"), vec![1]);
        assert_eq!(f("process:7"), vec![0]);
        assert_eq!(f("sport:53"), Vec::<usize>::new());
    }

    #[test]
    fn udp_filters_as_the_cli_and_a_path_term_passes_none() {
        let s = snap();
        let f = |e: &str| apply_filter(e, &s, Protocol::Udp).expect("parses");
        assert_eq!(f("sport:53"), vec![0]);
        assert_eq!(f("state:established"), Vec::<usize>::new());
        assert_eq!(f("path:/run/*"), Vec::<usize>::new());
        assert!(apply_filter("bogus:1", &s, Protocol::Udp).is_err());
    }

    #[test]
    fn a_path_term_on_the_tcp_view_passes_nothing_so_k_never_widens() {
        let mut s = snap();
        s.sockets = vec![SocketRecord::new(
            TcpState::Established,
            "127.0.0.1:80".parse().expect("addr"),
            "127.0.0.1:5000".parse().expect("addr"),
            Owner::Process(7),
        )];
        let f = |e: &str| apply_filter(e, &s, Protocol::Tcp).expect("parses");
        assert_eq!(f(""), vec![0]);
        assert_eq!(f("path:/run/php/*"), Vec::<usize>::new());
    }
}
