//! Which filter terms describe IP sockets only ([`Filter::has_ip_terms`]): the modes refuse
//! them when UNIX is the only protocol shown, so they never pass silently
//! ([`Filter::matches_unix`] ignores them).

use super::Filter;

impl Filter {
    /// Whether any criterion only IP sockets have is set (ports, addresses, family).
    pub fn has_ip_terms(&self) -> bool {
        !(self.sport.is_empty()
            && self.dport.is_empty()
            && self.src.is_empty()
            && self.dst.is_empty()
            && self.family.is_none())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{Name, Owner, ProcessInfo, TcpState, UnixKind, UnixName, UnixRecord};

    fn listener(path: &[u8], pid: u32) -> UnixRecord {
        let mut r = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 10);
        r.name = UnixName::from_sun_path(path);
        r.owner = Owner::Process(pid);
        r
    }

    fn procs() -> BTreeMap<u32, ProcessInfo> {
        let mut m = BTreeMap::new();
        m.insert(
            7,
            ProcessInfo {
                pid: 7,
                comm: Name::from("php-fpm"),
                uid: 0,
                user: Name::from("root"),
                unit: None,
                container: None,
            },
        );
        m
    }

    #[test]
    fn path_state_process_and_owner_apply_to_unix() {
        let fpm = listener(b"/run/php/fpm.sock", 7);
        let abs = listener(b"\0dbus", 8);
        let p = procs();
        let f = Filter::parse_expr("path:/run/php/*").expect("parse");
        assert!(f.matches_unix(&fpm, &p));
        assert!(!f.matches_unix(&abs, &p));
        let f = Filter::parse_expr("path:@dbus").expect("parse");
        assert!(f.matches_unix(&abs, &p) && !f.matches_unix(&fpm, &p));
        let f = Filter::parse_expr("process:php-fpm state:listen").expect("parse");
        assert!(f.matches_unix(&fpm, &p) && !f.matches_unix(&abs, &p));
        let f = Filter::parse_expr("state:estab").expect("parse");
        assert!(!f.matches_unix(&fpm, &p));
        let f = Filter::parse_expr("owner:unattributed").expect("parse");
        assert!(!f.matches_unix(&fpm, &p));
        let mut unnamed = UnixRecord::new(UnixKind::Stream, TcpState::Established, 3);
        unnamed.owner = Owner::Unattributed;
        assert!(f.matches_unix(&unnamed, &p));
        assert!(Filter::default().matches_unix(&unnamed, &p));
    }

    #[test]
    fn ip_terms_are_recognised() {
        assert!(!Filter::parse_expr("state:listen process:x path:@a")
            .expect("parse")
            .has_ip_terms());
        for t in [
            "sport:80",
            "dport:80",
            "src:10.0.0.0/8",
            "dst:::1",
            "-4",
            "-6",
        ] {
            assert!(Filter::parse_expr(t).expect("parse").has_ip_terms(), "{t}");
        }
    }
}
