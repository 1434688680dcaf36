//! The socket list (`sockscope sockets`), like `ss -tanp`: state, queues, endpoints, owner
//! and timer, one socket per line, streamed so `| head` stops early.

use std::io::{self, Write};

use crate::analyze::ages::Age;
use crate::model::{Owner, Snapshot, SocketRecord, TcpState, TimerKind};

/// How long the kernel keeps a socket in TIME_WAIT (`TCP_TIMEWAIT_LEN`, fixed at 60 s):
/// the timer's remaining time dates the state.
const TIME_WAIT_MS: u64 = 60_000;

/// What a one-shot list knows about a socket beyond its record: its age in its state and
/// the fd its owner holds it under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowExtra {
    /// Age in the current state, when the kernel dates it ([`one_shot_age`]).
    pub age: Option<Age>,
    /// The owning process's fd for it (`--fd`).
    pub fd: Option<u32>,
}

/// What the socket list shows besides the fixed columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListOpts {
    /// tcp_info's LastRecv and RTT columns (`-i`).
    pub info: bool,
    /// The Fd column (`--fd`).
    pub fd: bool,
    /// The Unit and Container columns (`--groups`).
    pub groups: bool,
}

/// A socket's age in its state from one snapshot, where the kernel dates it: CLOSE_WAIT
/// from tcp_info's last receive (`from_tcp_info`: the peer's FIN was the last data, the
/// same date `check` and the analysis use), TIME_WAIT from its timer (60 s less the time
/// left). Other states: `None` (the kernel keeps no creation time, and a one-shot run has
/// no earlier sample).
pub fn one_shot_age(s: &SocketRecord, from_tcp_info: Option<Age>) -> Option<Age> {
    match (s.state, s.timer) {
        (TcpState::CloseWait, _) => from_tcp_info,
        (TcpState::TimeWait, TimerKind::TimeWait) => Some(Age {
            secs: u32::try_from(TIME_WAIT_MS.saturating_sub(u64::from(s.expires_ms)) / 1000)
                .unwrap_or(u32::MAX),
            lower_bound: false,
        }),
        _ => None,
    }
}

/// An age cell: `4m43s`, `≥2m` for a lower bound, `-` when unknown.
pub fn age_cell(age: Option<Age>) -> String {
    match age {
        Some(a) if a.lower_bound => format!("≥{}", human_ms(u64::from(a.secs) * 1000)),
        Some(a) => human_ms(u64::from(a.secs) * 1000),
        None => "-".into(),
    }
}

/// Formats a duration in milliseconds compactly: `850ms`, `42s`, `3m05s`, `3h12m`, `2d4h`.
pub fn human_ms(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        _ if ms < 1000 => format!("{ms}ms"),
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Formats microseconds: `85us`, `1.2ms`, `340ms`.
pub fn human_us(us: u32) -> String {
    match us {
        0..=999 => format!("{us}us"),
        1000..=99_999 => format!("{:.1}ms", f64::from(us) / 1000.0),
        _ => format!("{}ms", us / 1000),
    }
}

/// The owner column: `comm/pid` (the comm escaped, [`crate::model::Name`]'s `Display`),
/// `comm/pid*` for a request socket counted to its listener's owner, `-` when unattributed,
/// empty when no process owns it by design.
pub fn owner_cell(s: &SocketRecord, snap: &Snapshot) -> String {
    let named = |pid: u32| {
        snap.processes
            .get(&pid)
            .map_or_else(|| format!("?/{pid}"), |p| format!("{}/{pid}", p.comm))
    };
    match s.owner {
        Owner::Process(pid) => named(pid),
        Owner::ViaListener(pid) => format!("{}*", named(pid)),
        Owner::Ownerless => String::new(),
        Owner::Unattributed | Owner::Unresolved => "-".into(),
    }
}

/// The owner's systemd unit ([`crate::model::Unit::label`], escaped), `-` when it has
/// none or no process owns the socket.
pub fn unit_cell(s: &SocketRecord, snap: &Snapshot) -> String {
    s.owner
        .pid()
        .and_then(|pid| snap.processes.get(&pid)?.unit.as_ref())
        .map_or_else(|| "-".into(), crate::model::Unit::label)
}

/// The owner's container ([`crate::model::Container::label`], escaped), `-` when none.
pub fn container_cell(s: &SocketRecord, snap: &Snapshot) -> String {
    s.owner
        .pid()
        .and_then(|pid| snap.processes.get(&pid)?.container.as_ref())
        .map_or_else(|| "-".into(), crate::model::Container::label)
}

/// Cells and their width in terminal columns (at least `min`).
fn column(cells: Vec<String>, min: usize) -> (Vec<String>, usize) {
    let w = cells
        .iter()
        .map(|c| unicode_width::UnicodeWidthStr::width(c.as_str()))
        .max()
        .unwrap_or(0)
        .max(min);
    (cells, w)
}

/// `s` (terminal-safe text) followed by spaces up to `cols` terminal columns.
fn pad_cols(s: &str, cols: usize) -> String {
    let pad = cols.saturating_sub(unicode_width::UnicodeWidthStr::width(s));
    format!("{s}{}", " ".repeat(pad))
}

/// Writes the aligned socket list, header first; `extras` is index-aligned with `sockets`
/// (missing entries read as unknown).
pub fn write(
    out: &mut impl Write,
    snap: &Snapshot,
    sockets: &[&SocketRecord],
    extras: &[RowExtra],
    opts: ListOpts,
) -> io::Result<()> {
    let show_info = opts.info;
    use std::fmt::Write as _;
    let lw = sockets
        .iter()
        .map(|s| s.local.to_string().len())
        .max()
        .unwrap_or(0)
        .max(18);
    let rw = sockets
        .iter()
        .map(|s| s.remote.to_string().len())
        .max()
        .unwrap_or(0)
        .max(18);
    // The Process column is as wide as its widest cell (in terminal columns), so a long or
    // wide comm does not push the Timer column out of line.
    let owners: Vec<String> = sockets.iter().map(|s| owner_cell(s, snap)).collect();
    let ow = owners
        .iter()
        .map(|o| unicode_width::UnicodeWidthStr::width(o.as_str()))
        .max()
        .unwrap_or(0)
        .max(16);
    let (units, uw) = if opts.groups {
        column(sockets.iter().map(|s| unit_cell(s, snap)).collect(), 4)
    } else {
        (Vec::new(), 0)
    };
    let (ctrs, cw) = if opts.groups {
        column(sockets.iter().map(|s| container_cell(s, snap)).collect(), 9)
    } else {
        (Vec::new(), 0)
    };
    let mut line = String::with_capacity(160);
    let _ = write!(
        line,
        "{:<11} {:>6} {:>6} {:<lw$} {:<rw$} {}",
        "State",
        "Recv-Q",
        "Send-Q",
        "Local",
        "Peer",
        pad_cols("Process", ow),
    );
    if opts.fd {
        let _ = write!(line, " {:>5}", "Fd");
    }
    if opts.groups {
        let _ = write!(
            line,
            " {} {}",
            pad_cols("Unit", uw),
            pad_cols("Container", cw)
        );
    }
    let _ = write!(line, " {:<16} {:>7}", "Timer", "Age");
    if show_info {
        let _ = write!(line, " {:>9} {:>9}", "LastRecv", "RTT");
    }
    writeln!(out, "{}", line.trim_end())?;
    for (i, (s, owner)) in sockets.iter().zip(&owners).enumerate() {
        line.clear();
        let extra = extras.get(i).copied().unwrap_or_default();
        let timer = match s.timer {
            crate::model::TimerKind::Off => "-".to_string(),
            t => format!(
                "{}({},{})",
                t.name(),
                human_ms(u64::from(s.expires_ms)),
                s.retransmits
            ),
        };
        let _ = write!(
            line,
            "{:<11} {:>6} {:>6} {:<lw$} {:<rw$} {}",
            s.state.netstat_name(),
            s.recv_q,
            s.send_q,
            s.local.to_string(),
            s.remote.to_string(),
            // Padded by terminal columns, not chars: a wide (CJK) comm keeps the Timer
            // column in place.
            pad_cols(owner, ow),
        );
        if opts.fd {
            let fd = extra.fd.map_or_else(|| "-".to_string(), |f| f.to_string());
            let _ = write!(line, " {fd:>5}");
        }
        if opts.groups {
            let unit = units.get(i).map_or("-", String::as_str);
            let ctr = ctrs.get(i).map_or("-", String::as_str);
            let _ = write!(line, " {} {}", pad_cols(unit, uw), pad_cols(ctr, cw));
        }
        let _ = write!(line, " {:<16} {:>7}", timer, age_cell(extra.age));
        if show_info {
            // A listener has no peer: its tcp_info timings mean nothing.
            let _ = match s
                .tcp_info
                .filter(|_| s.state != crate::model::TcpState::Listen)
            {
                Some(i) => write!(
                    line,
                    " {:>9} {:>9}",
                    human_ms(u64::from(i.last_data_recv_ms)),
                    human_us(i.rtt_us)
                ),
                None => write!(line, " {:>9} {:>9}", "-", "-"),
            };
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::human_ms;

    #[test]
    fn one_shot_ages_come_from_the_kernel_or_are_unknown() {
        use super::*;
        let mut s = crate::model::fixtures::sock(
            TcpState::TimeWait,
            "127.0.0.1:80",
            "127.0.0.1:9",
            Owner::Ownerless,
        );
        s.timer = TimerKind::TimeWait;
        s.expires_ms = 15_000;
        let tw = one_shot_age(&s, None);
        assert_eq!(age_cell(tw), "45s");
        s.state = TcpState::Established;
        s.timer = TimerKind::KeepAlive;
        assert_eq!(one_shot_age(&s, None), None);
        assert_eq!(age_cell(None), "-");
        s.state = TcpState::CloseWait;
        let cw = Age {
            secs: 283,
            lower_bound: false,
        };
        assert_eq!(age_cell(one_shot_age(&s, Some(cw))), "4m43s");
        let bound = Age {
            secs: 120,
            lower_bound: true,
        };
        assert_eq!(age_cell(Some(bound)), "≥2m00s");
    }

    #[test]
    fn unit_and_container_columns_are_escaped_and_aligned() {
        use super::*;
        use crate::model::{Container, Name, Runtime, Unit};
        let a = crate::model::fixtures::sock(
            TcpState::Listen,
            "127.0.0.1:80",
            "0.0.0.0:0",
            Owner::Process(42),
        );
        let b = crate::model::fixtures::sock(
            TcpState::TimeWait,
            "127.0.0.1:80",
            "127.0.0.1:9",
            Owner::Ownerless,
        );
        let mut snap = crate::model::fixtures::snapshot(vec![a.clone(), b.clone()]);
        if let Some(p) = snap.processes.get_mut(&42) {
            p.unit = Some(Unit {
                name: Name::from("\x1b[7mweb.service"),
                user: None,
            });
            p.container = Some(Container {
                runtime: Runtime::Docker,
                id: Name::from("0123456789abcdef"),
                name: None,
                pod_uid: None,
                qos: None,
            });
        }
        let opts = ListOpts {
            groups: true,
            ..ListOpts::default()
        };
        let mut out = Vec::new();
        write(&mut out, &snap, &[&a, &b], &[], opts).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(!text.contains('\x1b'), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let col = |l: &str, w: &str| l.find(w).unwrap_or_else(|| panic!("{w} in {l}"));
        assert_eq!(
            col(lines[0], "Container"),
            col(lines[1], "docker:0123456789ab")
        );
        assert_eq!(col(lines[0], "Unit"), col(lines[1], "\\e[7mweb.service"));
        assert!(lines[2].contains(" - "), "{text}");
        // Without the flag the columns are absent.
        let mut out = Vec::new();
        write(&mut out, &snap, &[&a], &[], ListOpts::default()).expect("write");
        assert!(!String::from_utf8(out).expect("utf8").contains("Unit"));
    }

    #[test]
    fn durations() {
        assert_eq!(human_ms(850), "850ms");
        assert_eq!(human_ms(42_000), "42s");
        assert_eq!(human_ms(185_000), "3m05s");
        assert_eq!(human_ms(11_520_000), "3h12m");
        assert_eq!(human_ms(187_200_000), "2d4h");
        assert_eq!(super::human_us(85), "85us");
        assert_eq!(super::human_us(1234), "1.2ms");
        assert_eq!(super::human_us(340_000), "340ms");
    }
}
