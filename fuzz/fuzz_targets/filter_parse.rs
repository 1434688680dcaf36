#![no_main]
//! Fuzzes the filter parsers: the dashboard prompt (`Filter::parse_expr`) and the CLI
//! pieces (state lists, port ranges, CIDRs, process selectors). Input is the text, then
//! after the first NUL byte the bytes of one socket to match against.
//!
//! Invariants: errors are one line; a filter that parses renders to an expression that
//! parses back to the same filter; every piece that parses displays back to itself; the
//! kernel state mask agrees with the state set, and a socket the filter matches passes
//! the kernel mask, the family and the port ranges.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use sockscope::filter::{parse_cidr, Filter, PortRange, ProcessMatch, StateSet};
use sockscope::model::{Owner, ProcessInfo, SocketRecord, TcpState};

fn take<const N: usize>(b: &mut &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = b.len().min(N);
    out[..n].copy_from_slice(&b[..n]);
    *b = &b[n..];
    out
}

/// A socket built from raw bytes (missing bytes are zero).
fn socket(mut b: &[u8]) -> SocketRecord {
    let [sel, fam] = take::<2>(&mut b);
    let state = TcpState::ALL[usize::from(sel) % TcpState::ALL.len()];
    let (lip, rip): (IpAddr, IpAddr) = if fam & 1 == 0 {
        (
            Ipv4Addr::from(take::<4>(&mut b)).into(),
            Ipv4Addr::from(take::<4>(&mut b)).into(),
        )
    } else {
        (
            Ipv6Addr::from(take::<16>(&mut b)).into(),
            Ipv6Addr::from(take::<16>(&mut b)).into(),
        )
    };
    let lport = u16::from_le_bytes(take::<2>(&mut b));
    let rport = u16::from_le_bytes(take::<2>(&mut b));
    let pid = u32::from_le_bytes(take::<4>(&mut b));
    SocketRecord::new(
        state,
        SocketAddr::new(lip, lport),
        SocketAddr::new(rip, rport),
        Owner::Process(pid),
    )
}

fn check_pieces(text: &str) {
    if let Ok(set) = text.parse::<StateSet>() {
        assert!(!set.is_empty(), "{text:?} parsed to no state");
        for s in TcpState::ALL {
            assert_eq!(set.contains(s), set.kernel_mask() & s.kernel_mask() != 0);
        }
        let names: Vec<&str> = set.iter().map(TcpState::netstat_name).collect();
        assert_eq!(names.join(",").parse::<StateSet>(), Ok(set));
    }
    if let Ok(r) = text.parse::<PortRange>() {
        assert!(r.lo >= 1 && r.lo <= r.hi, "{text:?} -> {r:?}");
        assert_eq!(r.to_string().parse::<PortRange>(), Ok(r));
    }
    if let Ok(net) = parse_cidr(text) {
        assert_eq!(net, net.trunc(), "{text:?} not truncated");
        assert_eq!(parse_cidr(&net.to_string()), Ok(net));
    }
    if let Ok(ProcessMatch::Name(n)) = text.parse::<ProcessMatch>() {
        assert!(!n.is_empty() && n.trim() == n && n.len() <= 15);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (text, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    check_pieces(text);
    let f = match Filter::parse_expr(text) {
        Ok(f) => f,
        Err(e) => {
            assert!(!e.to_string().contains('\n') || text.contains('\n'), "{e}");
            return;
        }
    };
    let shown = f.to_string();
    assert_eq!(
        Filter::parse_expr(&shown).as_ref(),
        Ok(&f),
        "{text:?} -> {shown:?}"
    );

    let s = socket(rest);
    let mut procs = BTreeMap::new();
    if let Some(pid) = s.owner.pid() {
        procs.insert(
            pid,
            ProcessInfo {
                pid,
                comm: "fuzz".into(),
                uid: 0,
                user: "root".into(),
                unit: None,
                container: None,
            },
        );
    }
    let m = f.matches(&s, &procs);
    if m {
        assert_ne!(f.kernel_state_mask() & s.state.kernel_mask(), 0);
        assert!(f.family.is_none_or(|fam| fam == s.family));
        assert!(
            f.sport.is_empty()
                || f.sport
                    .iter()
                    .any(|r| r.lo <= s.local.port && s.local.port <= r.hi)
        );
        assert!(
            f.dport.is_empty()
                || f.dport
                    .iter()
                    .any(|r| r.lo <= s.remote.port && s.remote.port <= r.hi)
        );
    }
    if f.is_state_only() {
        assert_eq!(m, f.kernel_state_mask() & s.state.kernel_mask() != 0);
    }
    assert!(Filter::default().matches(&s, &procs));
});
