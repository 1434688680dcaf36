//! Tests of state names, ports, CIDRs, the prompt syntax and matching; property tests over
//! the same parsers (any text is safe, generated filters round-trip).

use super::*;
use crate::model::Owner;

fn rec(state: TcpState, local: &str, remote: &str) -> SocketRecord {
    let mut s = SocketRecord::new(
        state,
        local.parse().unwrap(),
        remote.parse().unwrap(),
        Owner::Process(9),
    );
    s.inode = 7;
    s
}

#[test]
fn both_spellings_and_groups() {
    for (a, b) in [
        ("CLOSE_WAIT", "close-wait"),
        ("FIN_WAIT1", "fin-wait-1"),
        ("ESTABLISHED", "estab"),
        ("LISTEN", "listening"),
        ("CLOSE", "unconn"),
    ] {
        assert_eq!(parse_state(a), parse_state(b), "{a} vs {b}");
        assert!(parse_state(a).is_some());
    }
    let set: StateSet = "bucket".parse().unwrap();
    assert_eq!(
        set.iter().collect::<Vec<_>>(),
        vec![TcpState::SynRecv, TcpState::TimeWait]
    );
    let set: StateSet = "connected".parse().unwrap();
    assert!(!set.contains(TcpState::Listen) && !set.contains(TcpState::Close));
    assert_eq!("all".parse::<StateSet>().unwrap(), StateSet::all());
    assert!(matches!("bogus".parse::<StateSet>(), Err(FilterError::State(s)) if s == "bogus"));
    let set: StateSet = "time-wait,SYN_RECV".parse().unwrap();
    assert_eq!(set.kernel_mask(), (1 << 6) | (1 << 3) | (1 << 12));
}

#[test]
fn ports() {
    assert_eq!(
        "80".parse::<PortRange>().unwrap(),
        PortRange { lo: 80, hi: 80 }
    );
    assert_eq!(
        "1000-2000".parse::<PortRange>().unwrap(),
        PortRange { lo: 1000, hi: 2000 }
    );
    for bad in ["0", "65536", "abc", "", "10-5", "-1", "1-"] {
        assert!(bad.parse::<PortRange>().is_err(), "{bad}");
    }
}

#[test]
fn cidrs() {
    assert!(parse_cidr("10.0.0.0/8")
        .unwrap()
        .contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
    assert_eq!(parse_cidr("::1").unwrap().to_string(), "::1/128");
    assert_eq!(parse_cidr("[::1]").unwrap().to_string(), "::1/128");
    assert_eq!(parse_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
    for bad in ["10.0.0.0/33", "nope", "1.2.3"] {
        assert!(parse_cidr(bad).is_err(), "{bad}");
    }
}

#[test]
fn matching() {
    let mut procs = BTreeMap::new();
    procs.insert(
        9,
        ProcessInfo {
            pid: 9,
            comm: "java".into(),
            uid: 0,
            user: "root".into(),
            unit: None,
            container: None,
        },
    );
    let s = rec(
        TcpState::CloseWait,
        "127.0.0.1:8080",
        "[::ffff:127.0.0.2]:5000",
    );
    let f = Filter::parse_expr("state:close-wait sport:8000-9000 dst:127.0.0.0/8 process:java")
        .unwrap();
    assert!(f.matches(&s, &procs));
    assert!(!Filter::parse_expr("process:nginx")
        .unwrap()
        .matches(&s, &procs));
    assert!(Filter::parse_expr("process:9").unwrap().matches(&s, &procs));
    assert!(!Filter::parse_expr("listen").unwrap().matches(&s, &procs));
    assert!(!Filter::parse_expr("-6").unwrap().matches(&s, &procs));
    assert!(Filter::default().matches(&s, &procs));
    assert!(Filter::parse_expr("sport:abc").is_err());
    assert!(Filter::parse_expr("colour:red").is_err());
}

#[test]
fn process_names_match_the_raw_bytes_not_the_escaped_form() {
    let mut procs = BTreeMap::new();
    procs.insert(
        9,
        ProcessInfo {
            pid: 9,
            comm: crate::model::Name::from("a\x1bb"),
            uid: 0,
            user: "root".into(),
            unit: None,
            container: None,
        },
    );
    let s = rec(TcpState::CloseWait, "127.0.0.1:8080", "127.0.0.1:5000");
    let by = |name: &str| Filter {
        process: vec![ProcessMatch::Name(name.to_string())],
        ..Filter::default()
    };
    assert!(by("a\x1bb").matches(&s, &procs));
    assert!(
        !by("a\\eb").matches(&s, &procs),
        "the escaped form is not the name"
    );
    assert!(!by("ab").matches(&s, &procs));
}

#[test]
fn owner_kinds() {
    let procs = BTreeMap::new();
    let with = |owner| SocketRecord {
        owner,
        ..rec(TcpState::CloseWait, "127.0.0.1:80", "127.0.0.1:5000")
    };
    let cases = [
        (Owner::Process(9), "process"),
        (Owner::ViaListener(9), "process"),
        (Owner::Unattributed, "unattributed"),
        (Owner::Ownerless, "ownerless"),
        (Owner::Unresolved, "unresolved"),
    ];
    for (owner, kind) in cases {
        let s = with(owner);
        for other in OwnerKind::ALL {
            let f = Filter::parse_expr(&format!("owner:{}", other.name())).unwrap();
            assert_eq!(
                f.matches(&s, &procs),
                other.name() == kind,
                "{owner:?} {other:?}"
            );
        }
    }
    let f = Filter::parse_expr("owner:Ownerless,unattributed owner:ownerless").unwrap();
    assert_eq!(f.owner, [OwnerKind::Ownerless, OwnerKind::Unattributed]);
    assert!(f.needs_attribution() && !f.is_state_only());
    assert_eq!(f.to_string(), "owner:ownerless owner:unattributed");
    assert!(f.matches(&with(Owner::Unattributed), &procs));
    assert!(!f.matches(&with(Owner::Process(9)), &procs));
    for bad in ["owner:", "owner:root", "owner:ownerless,"] {
        let e = Filter::parse_expr(bad).unwrap_err().to_string();
        assert!(e.starts_with("unknown owner"), "{bad}: {e}");
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    fn state_set() -> impl Strategy<Value = StateSet> {
        (1u16..(1 << 11)).prop_map(|bits| {
            let mut set = StateSet::default();
            TcpState::ALL
                .into_iter()
                .filter(|s| bits & (1 << s.index()) != 0)
                .for_each(|s| set.insert(s));
            set
        })
    }

    fn port_range() -> impl Strategy<Value = PortRange> {
        (1u16.., 1u16..).prop_map(|(a, b)| PortRange {
            lo: a.min(b),
            hi: a.max(b),
        })
    }

    fn net() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (any::<u32>(), 0u8..=32).prop_map(|(ip, len)| {
                IpNet::new(Ipv4Addr::from(ip).into(), len).unwrap().trunc()
            }),
            (any::<u128>(), 0u8..=128).prop_map(|(ip, len)| {
                IpNet::new(Ipv6Addr::from(ip).into(), len).unwrap().trunc()
            }),
        ]
    }

    fn process() -> impl Strategy<Value = ProcessMatch> {
        prop_oneof![
            any::<u32>().prop_map(ProcessMatch::Pid),
            "[a-z][a-z0-9._:/-]{0,14}".prop_map(ProcessMatch::Name),
        ]
    }

    prop_compose! {
        fn filter()(
            states in proptest::option::of(state_set()),
            sport in proptest::collection::vec(port_range(), 0..3),
            dport in proptest::collection::vec(port_range(), 0..3),
            src in proptest::collection::vec(net(), 0..3),
            dst in proptest::collection::vec(net(), 0..3),
            process in proptest::collection::vec(process(), 0..3),
            owner in proptest::sample::subsequence(OwnerKind::ALL.to_vec(), 0..=4),
            family in proptest::option::of(prop_oneof![Just(Family::V4), Just(Family::V6)]),
            path in proptest::collection::vec("(/|@)[a-z0-9/._-]{1,12}[*]?", 0..3),
            unit in proptest::collection::vec("[a-z*?][a-z0-9@._*?-]{0,12}", 0..2),
            container in proptest::collection::vec("[a-z0-9][a-z0-9_.-]{0,12}", 0..2),
        ) -> Filter {
            let path = path.iter().map(|p| p.parse().expect("generated path")).collect();
            let unit = unit.iter().map(|u| u.parse().expect("generated unit")).collect();
            let container =
                container.iter().map(|c| c.parse().expect("generated container")).collect();
            Filter { states, sport, dport, src, dst, process, owner, family, path, unit, container }
        }
    }

    /// Every way a user may spell `s`: netstat, ss, and case or separator variants.
    fn spelling(s: TcpState, pick: u8) -> String {
        match pick % 4 {
            0 => s.netstat_name().to_string(),
            1 => s.ss_name().to_string(),
            2 => s.netstat_name().to_lowercase(),
            _ => s.ss_name().to_uppercase().replace('-', "_"),
        }
    }

    const WORDS: &[&str] = &[
        "state:",
        "sport:",
        "dport:",
        "src:",
        "dst:",
        "process:",
        "-4",
        "-6",
        " ",
        ",",
        "-",
        "/",
        ":",
        "::",
        "[",
        "]",
        "estab",
        "CLOSE_WAIT",
        "bucket",
        "all",
        "65535",
        "0",
        "127.0.0.1",
        "::ffff:",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_text_is_safe(text in "\\PC{0,80}") {
            let one_line = !text.contains(['\n', '\r']);
            for e in [
                Filter::parse_expr(&text).err(),
                text.parse::<StateSet>().err(),
                text.parse::<PortRange>().err(),
                parse_cidr(&text).err(),
                text.parse::<ProcessMatch>().err(),
            ]
            .into_iter()
            .flatten()
            {
                prop_assert!(!one_line || !e.to_string().contains('\n'), "{}", e);
            }
        }

        #[test]
        fn filter_shaped_text_round_trips(parts in proptest::collection::vec(
            prop_oneof![proptest::sample::select(WORDS).prop_map(str::to_string), "[!-~]{0,6}"],
            0..16,
        )) {
            let text = parts.concat();
            if let Ok(f) = Filter::parse_expr(&text) {
                let shown = f.to_string();
                prop_assert_eq!(Filter::parse_expr(&shown), Ok(f), "{} -> {}", text, shown);
            }
        }

        #[test]
        fn generated_filter_round_trips(f in filter()) {
            let shown = f.to_string();
            prop_assert_eq!(Filter::parse_expr(&shown), Ok(f), "{}", shown);
        }

        #[test]
        fn state_lists_in_any_spelling(set in state_set(), picks in any::<[u8; 11]>()) {
            let list: Vec<String> = set.iter().zip(picks).map(|(s, p)| spelling(s, p)).collect();
            let parsed: StateSet = list.join(",").parse().unwrap();
            prop_assert_eq!(parsed, set);
            for s in TcpState::ALL {
                prop_assert_eq!(set.contains(s), parsed.kernel_mask() & s.kernel_mask() != 0);
            }
        }

        #[test]
        fn ports_and_cidrs_display_back(r in port_range(), n in net()) {
            prop_assert_eq!(r.to_string().parse::<PortRange>(), Ok(r));
            prop_assert_eq!(parse_cidr(&n.to_string()), Ok(n));
        }

        #[test]
        fn matching_follows_each_criterion(
            f in filter(),
            state in proptest::sample::select(TcpState::ALL.to_vec()),
            v4 in any::<bool>(),
            ips in any::<(u128, u128)>(),
            ports in any::<(u16, u16)>(),
            pid in 0u32..4,
            pick in 0u8..5,
        ) {
            let (owner, kind) = match pick {
                0 => (Owner::Process(pid), OwnerKind::Process),
                1 => (Owner::ViaListener(pid), OwnerKind::Process),
                2 => (Owner::Unattributed, OwnerKind::Unattributed),
                3 => (Owner::Ownerless, OwnerKind::Ownerless),
                _ => (Owner::Unresolved, OwnerKind::Unresolved),
            };
            let ip = |x: u128| -> IpAddr {
                if v4 { Ipv4Addr::from(x as u32).into() } else { Ipv6Addr::from(x).into() }
            };
            let s = SocketRecord::new(
                state,
                SocketAddr::new(ip(ips.0), ports.0),
                SocketAddr::new(ip(ips.1), ports.1),
                owner,
            );
            let procs: BTreeMap<u32, ProcessInfo> = BTreeMap::new();
            let port_ok = |v: &[PortRange], p: u16| v.is_empty() || v.iter().any(|r| r.lo <= p && p <= r.hi);
            let net_ok = |v: &[IpNet], a: IpAddr| v.is_empty() || v.iter().any(|n| n.contains(&a));
            let want = f.kernel_state_mask() & state.kernel_mask() != 0
                && f.family.is_none_or(|fam| fam == s.family)
                && port_ok(&f.sport, ports.0)
                && port_ok(&f.dport, ports.1)
                && net_ok(&f.src, ip(ips.0))
                && net_ok(&f.dst, ip(ips.1))
                && (f.process.is_empty() || (pick < 2 && f.process.contains(&ProcessMatch::Pid(pid))))
                && (f.owner.is_empty() || f.owner.contains(&kind))
                // No process is known here, so a unit or container term rejects.
                && f.unit.is_empty()
                && f.container.is_empty();
            prop_assert_eq!(f.matches(&s, &procs), want);
        }
    }
}

/// Every committed fuzz seed (fuzz/seeds/filter_parse: a prompt line, then after a NUL the
/// bytes of a socket) parses or fails in one line; the seeds that parse are known good.
#[test]
fn fuzz_seeds_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/filter_parse");
    let mut parsed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let text = bytes.split(|&b| b == 0).next().unwrap();
        let text = std::str::from_utf8(text).unwrap();
        match Filter::parse_expr(text) {
            Ok(_) => parsed += 1,
            Err(e) => assert!(!e.to_string().contains('\n'), "{}: {e}", path.display()),
        }
    }
    assert!(
        parsed >= 8,
        "only {parsed} seeds parse in {}",
        dir.display()
    );
}

#[test]
fn unix_matching_uses_states_process_owner_and_path_and_ignores_inet_criteria() {
    use crate::model::{Name, UnixKind, UnixName, UnixRecord};
    let mut r = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 7);
    r.name = Some(UnixName::Path(Name::from("/run/php/fpm.sock")));
    r.owner = Owner::Process(42);
    let mut procs = BTreeMap::new();
    procs.insert(
        42,
        ProcessInfo {
            pid: 42,
            comm: Name::from("php-fpm"),
            uid: 0,
            user: Name::from("root"),
            unit: None,
            container: None,
        },
    );
    let f = |e: &str| Filter::parse_expr(e).unwrap();
    assert!(f("").matches_unix(&r, &procs));
    assert!(
        f("state:listen path:/run/php/* process:php-fpm owner:process").matches_unix(&r, &procs)
    );
    assert!(!f("state:estab").matches_unix(&r, &procs));
    assert!(!f("path:@fpm").matches_unix(&r, &procs));
    assert!(!f("process:nginx").matches_unix(&r, &procs));
    assert!(!f("owner:unattributed").matches_unix(&r, &procs));
    // Ports, addresses and family do not apply to UNIX sockets.
    assert!(f("sport:80 src:10.0.0.0/8 -6").matches_unix(&r, &procs));
    assert!(f("sport:80").is_state_only_unix());
    assert!(!f("path:/x").is_state_only_unix());
    // The path criterion does not change TCP/UDP matching.
    let s = rec(TcpState::Established, "127.0.0.1:80", "127.0.0.1:5000");
    assert!(f("path:/nothing").matches(&s, &procs));
    assert!(f("path:/nothing").is_state_only());
}
