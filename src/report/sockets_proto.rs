//! The UDP and UNIX socket lists of `sockscope sockets -u` / `-x`, like `ss -uanp` and
//! `ss -xanp`: one socket per line, aligned by terminal columns. UNIX queues the source does
//! not know (`/proc/net/unix`) print as `-`, never 0; names print escaped (`UnixName`'s
//! Display: a path, `@abstract`, or `*` for an unnamed socket, as ss prints them).

use std::fmt::Write as _;
use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::sockets::owner_cell;
use crate::collect::fdnum::SocketFds;
use crate::model::{Endpoint, Owner, Protocol, Snapshot, SocketRecord, UnixRecord};

/// `s` followed by spaces up to `cols` terminal columns.
fn pad_cols(s: &str, cols: usize) -> String {
    format!("{s}{}", " ".repeat(cols.saturating_sub(s.width())))
}

fn widest<'a>(cells: impl Iterator<Item = &'a String>, min: usize) -> usize {
    cells.map(|c| c.width()).max().unwrap_or(0).max(min)
}

/// A UDP peer as ss prints it: `*` for the port of an unconnected socket.
fn peer_text(e: &Endpoint) -> String {
    if e.port != 0 {
        return e.to_string();
    }
    match e.ip {
        std::net::IpAddr::V4(ip) => format!("{ip}:*"),
        std::net::IpAddr::V6(ip) => format!("[{ip}]:*"),
    }
}

/// Writes the UDP list, header first: State, Recv-Q, Send-Q, Local, Peer, Drops (the
/// socket's drop counter since it was created; `-` when the source gave none), Process.
pub fn write_udp(
    out: &mut impl Write,
    snap: &Snapshot,
    sockets: &[&SocketRecord],
    fds: Option<&SocketFds>,
) -> io::Result<()> {
    let locals: Vec<String> = sockets.iter().map(|s| s.local.to_string()).collect();
    let peers: Vec<String> = sockets.iter().map(|s| peer_text(&s.remote)).collect();
    let lw = widest(locals.iter(), 18);
    let rw = widest(peers.iter(), 18);
    let mut line = String::with_capacity(160);
    let _ = write!(
        line,
        "{:<6} {:>6} {:>6} {:<lw$} {:<rw$} {:>6} {}Process",
        "State",
        "Recv-Q",
        "Send-Q",
        "Local",
        "Peer",
        "Drops",
        fd_head(fds)
    );
    writeln!(out, "{line}")?;
    for (i, s) in sockets.iter().enumerate() {
        line.clear();
        let drops = s
            .skmem
            .map_or_else(|| "-".to_string(), |m| m.drops.to_string());
        let _ = write!(
            line,
            "{:<6} {:>6} {:>6} {} {} {:>6} {}{}",
            Protocol::Udp.state_name(s.state),
            s.recv_q,
            s.send_q,
            pad_cols(&locals[i], lw),
            pad_cols(&peers[i], rw),
            drops,
            fd_cell(fds, s.owner, s.inode),
            owner_cell(s, snap)
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The Fd column's heading (with its separator), empty without `--fd`.
fn fd_head(fds: Option<&SocketFds>) -> &'static str {
    if fds.is_some() {
        "   Fd "
    } else {
        ""
    }
}

/// The fd `owner` holds socket `inode` under (`-` when unknown), empty without `--fd`.
pub fn fd_cell(fds: Option<&SocketFds>, owner: Owner, inode: u64) -> String {
    let Some(fds) = fds else {
        return String::new();
    };
    let fd = owner
        .pid()
        .and_then(|p| fds.get(&(p, inode)))
        .map_or_else(|| "-".to_string(), ToString::to_string);
    format!("{fd:>5} ")
}

/// The owner column for a UNIX socket, as [`owner_cell`] writes it for IP sockets.
fn unix_owner(s: &UnixRecord, snap: &Snapshot) -> String {
    let named = |pid: u32| {
        snap.processes
            .get(&pid)
            .map_or_else(|| format!("?/{pid}"), |p| format!("{}/{pid}", p.comm))
    };
    match s.owner {
        Owner::Process(pid) | Owner::ViaListener(pid) => named(pid),
        Owner::Ownerless => String::new(),
        Owner::Unattributed | Owner::Unresolved => "-".into(),
    }
}

fn opt(n: Option<impl ToString>) -> String {
    n.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Writes the UNIX list, header first: Netid (`u_str`, `u_dgr`, `u_seq`), State, Recv-Q,
/// Send-Q (for a listener: pending connections and backlog, as `ss -xl`), Local (path,
/// `@abstract` or `*`), Inode, Peer (the peer's inode, `-` when none or unknown), Process.
pub fn write_unix(
    out: &mut impl Write,
    snap: &Snapshot,
    sockets: &[&UnixRecord],
    fds: Option<&SocketFds>,
) -> io::Result<()> {
    let names: Vec<String> = sockets
        .iter()
        .map(|s| {
            s.name
                .as_ref()
                .map_or_else(|| "*".into(), ToString::to_string)
        })
        .collect();
    let nw = widest(names.iter(), 5);
    let inodes: Vec<String> = sockets.iter().map(|s| s.inode.to_string()).collect();
    let iw = widest(inodes.iter(), 5);
    let peers: Vec<String> = sockets.iter().map(|s| opt(s.peer_inode)).collect();
    let pw = widest(peers.iter(), 5);
    let mut line = String::with_capacity(160);
    let _ = write!(
        line,
        "{:<5} {:<6} {:>6} {:>6} {} {:>iw$} {:>pw$} {}Process",
        "Netid",
        "State",
        "Recv-Q",
        "Send-Q",
        pad_cols("Local", nw),
        "Inode",
        "Peer",
        fd_head(fds)
    );
    writeln!(out, "{line}")?;
    for (i, s) in sockets.iter().enumerate() {
        line.clear();
        let _ = write!(
            line,
            "{:<5} {:<6} {:>6} {:>6} {} {:>iw$} {:>pw$} {}{}",
            s.kind.ss_name(),
            Protocol::Unix.state_name(s.state),
            opt(s.recv_q),
            opt(s.send_q),
            // Padded by terminal columns: a wide or escaped name keeps the columns after it
            // in line.
            pad_cols(&names[i], nw),
            inodes[i],
            peers[i],
            fd_cell(fds, s.owner, s.inode),
            unix_owner(s, snap)
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::snapshot;
    use crate::model::{TcpState, UnixKind, UnixName};

    #[test]
    fn unknown_queues_are_dashes_and_names_escaped() {
        let snap = snapshot(Vec::new());
        let mut a = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 77);
        a.name = UnixName::from_sun_path(b"/tmp/\x1b[2Jx\xff");
        a.owner = Owner::Process(42);
        let mut b = UnixRecord::new(UnixKind::Dgram, TcpState::Established, 78);
        b.recv_q = Some(0);
        b.send_q = Some(0);
        b.peer_inode = Some(77);
        let mut out = Vec::new();
        write_unix(&mut out, &snap, &[&a, &b], None).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(!text.contains('\x1b'), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("u_str LISTEN      -      - /tmp/\\e[2Jx\\xff"));
        assert!(lines[1].ends_with("java/42"), "{text}");
        assert!(
            lines[2].starts_with("u_dgr ESTAB       0      0 *"),
            "{text}"
        );
        // Columns after the name line up whatever the name's width.
        assert_eq!(lines[1].find("77"), lines[2].find("78"), "{text}");
    }

    #[test]
    fn unconnected_udp_peers_print_a_star_port() {
        let e = Endpoint::new("0.0.0.0".parse().expect("ip"), 0);
        assert_eq!(peer_text(&e), "0.0.0.0:*");
        let e = Endpoint::new("::".parse().expect("ip"), 0);
        assert_eq!(peer_text(&e), "[::]:*");
    }
}
