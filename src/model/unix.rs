//! [`UnixRecord`]: one UNIX domain socket as unix_diag (or `/proc/net/unix`) reports it, and
//! its name, a filesystem path or an abstract name, both chosen by whoever bound the socket
//! and so hostile text ([`Name`]). No I/O.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::name::{Name, NameDecodeError};
use super::{Owner, TcpState};

/// The socket type (`SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_SEQPACKET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnixKind {
    /// `SOCK_STREAM` (ss: `u_str`).
    Stream,
    /// `SOCK_DGRAM` (ss: `u_dgr`).
    Dgram,
    /// `SOCK_SEQPACKET` (ss: `u_seq`).
    SeqPacket,
}

impl UnixKind {
    /// Maps the kernel's `SOCK_*` number.
    pub fn from_kernel(t: u32) -> Option<UnixKind> {
        match t {
            1 => Some(UnixKind::Stream),
            2 => Some(UnixKind::Dgram),
            5 => Some(UnixKind::SeqPacket),
            _ => None,
        }
    }

    /// The `Netid` column `ss -x` prints.
    pub fn ss_name(self) -> &'static str {
        match self {
            UnixKind::Stream => "u_str",
            UnixKind::Dgram => "u_dgr",
            UnixKind::SeqPacket => "u_seq",
        }
    }

    /// Lower-case name for JSON, labels and the `--unix-type` style filters.
    pub fn name(self) -> &'static str {
        match self {
            UnixKind::Stream => "stream",
            UnixKind::Dgram => "dgram",
            UnixKind::SeqPacket => "seqpacket",
        }
    }
}

/// Where a UNIX socket is bound.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnixName {
    /// A filesystem path (`/run/php/php-fpm.sock`), exact bytes.
    Path(Name),
    /// An abstract name: the bytes after the leading NUL (they may hold more NULs).
    Abstract(Name),
}

impl UnixName {
    /// From the kernel's `sun_path` bytes as unix_diag's `UDIAG_SHOW_NAME` gives them: a
    /// leading NUL makes the name abstract; a path ends at its first NUL. `None` when empty.
    pub fn from_sun_path(bytes: &[u8]) -> Option<UnixName> {
        match bytes.split_first() {
            None => None,
            Some((0, rest)) => Some(UnixName::Abstract(Name::from_bytes(rest))),
            Some(_) => {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                Some(UnixName::Path(Name::from_bytes(&bytes[..end])))
            }
        }
    }

    /// The name's own bytes (without the `@` or leading NUL).
    pub fn bytes(&self) -> &[u8] {
        match self {
            UnixName::Path(n) | UnixName::Abstract(n) => n.raw_bytes(),
        }
    }

    /// Whether it is abstract.
    pub fn is_abstract(&self) -> bool {
        matches!(self, UnixName::Abstract(_))
    }
}

/// As `ss -x` prints it: the path, or `@` and the abstract name (NULs inside an abstract
/// name print as `@` too, as ss does), with control characters escaped.
impl fmt::Display for UnixName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixName::Path(n) => write!(f, "{n}"),
            UnixName::Abstract(n) => {
                let shown: Vec<u8> = n
                    .raw_bytes()
                    .iter()
                    .map(|&b| if b == 0 { b'@' } else { b })
                    .collect();
                write!(f, "@{}", Name::from_bytes(shown))
            }
        }
    }
}

/// The VFS identity of a socket bound to a path (`UDIAG_SHOW_VFS`): the inode of the socket
/// file and the device it lives on, so a path replaced since the bind can be told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UnixVfs {
    /// Device number of the filesystem holding the path.
    pub dev: u32,
    /// Inode of the socket file.
    pub ino: u32,
}

/// One UNIX domain socket.
///
/// States reuse the kernel's TCP numbers: `LISTEN` for a listening stream/seqpacket socket,
/// `ESTABLISHED` for a connected one, `SYN_SENT` while connecting, `CLOSE` (printed
/// `UNCONN`) for an unconnected one and every datagram socket without a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "UnixRecordWire", try_from = "UnixRecordWire")]
pub struct UnixRecord {
    /// Stream, datagram or seqpacket.
    pub kind: UnixKind,
    /// State (see the type's doc).
    pub state: TcpState,
    /// Bound name; `None` for unnamed sockets (socketpair, unbound clients).
    pub name: Option<UnixName>,
    /// Socket inode (what `/proc/PID/fd` links name).
    pub inode: u64,
    /// Inode of the peer socket; `None` when unconnected (or unknown from /proc).
    pub peer_inode: Option<u64>,
    /// For a listener: connections waiting in the accept queue; otherwise bytes (stream) or
    /// datagrams' bytes queued to read. `None` from /proc/net/unix, which has no queues.
    pub recv_q: Option<u32>,
    /// For a listener: its backlog (Linux admits backlog+1 before connect() must wait);
    /// otherwise the send queue. `None` from /proc/net/unix.
    pub send_q: Option<u32>,
    /// Owning uid (`UDIAG_SHOW_UID`); `None` from /proc/net/unix.
    pub uid: Option<u32>,
    /// The bound path's inode and device; `None` for abstract and unnamed sockets.
    pub vfs: Option<UnixVfs>,
    /// sock_diag cookie; `None` from /proc.
    pub cookie: Option<u64>,
    /// Owner, filled by attribution.
    pub owner: Owner,
}

impl UnixRecord {
    /// A socket of `kind` in `state` with this inode and every other field empty.
    pub fn new(kind: UnixKind, state: TcpState, inode: u64) -> UnixRecord {
        UnixRecord {
            kind,
            state,
            name: None,
            inode,
            peer_inode: None,
            recv_q: None,
            send_q: None,
            uid: None,
            vfs: None,
            cookie: None,
            owner: Owner::Unresolved,
        }
    }

    /// For a listener with known queues: pending connections and backlog.
    pub fn listen_queue(&self) -> Option<(u32, u32)> {
        match (self.state, self.recv_q, self.send_q) {
            (TcpState::Listen, Some(pending), Some(backlog)) => Some((pending, backlog)),
            _ => None,
        }
    }
}

/// [`UnixRecord`] as serialized: the name as text plus a raw-bytes sibling when it is not
/// valid UTF-8, and a flag for abstract names (so `@` in a path is never confused).
#[derive(Serialize, Deserialize)]
struct UnixRecordWire {
    kind: UnixKind,
    state: TcpState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name_b64: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    name_abstract: bool,
    inode: u64,
    #[serde(default)]
    peer_inode: Option<u64>,
    #[serde(default)]
    recv_q: Option<u32>,
    #[serde(default)]
    send_q: Option<u32>,
    #[serde(default)]
    uid: Option<u32>,
    #[serde(default)]
    vfs: Option<UnixVfs>,
    #[serde(default)]
    cookie: Option<u64>,
    owner: Owner,
}

impl From<UnixRecord> for UnixRecordWire {
    fn from(r: UnixRecord) -> UnixRecordWire {
        let (name, name_b64, name_abstract) = match &r.name {
            None => (None, None, false),
            Some(UnixName::Path(n)) => (Some(n.wire_text()), n.raw_b64(), false),
            Some(UnixName::Abstract(n)) => (Some(n.wire_text()), n.raw_b64(), true),
        };
        UnixRecordWire {
            kind: r.kind,
            state: r.state,
            name,
            name_b64,
            name_abstract,
            inode: r.inode,
            peer_inode: r.peer_inode,
            recv_q: r.recv_q,
            send_q: r.send_q,
            uid: r.uid,
            vfs: r.vfs,
            cookie: r.cookie,
            owner: r.owner,
        }
    }
}

impl TryFrom<UnixRecordWire> for UnixRecord {
    type Error = NameDecodeError;
    fn try_from(w: UnixRecordWire) -> Result<UnixRecord, NameDecodeError> {
        let name = match w.name {
            None => None,
            Some(text) => {
                let n = Name::from_parts(&text, w.name_b64.as_deref())?;
                Some(if w.name_abstract {
                    UnixName::Abstract(n)
                } else {
                    UnixName::Path(n)
                })
            }
        };
        Ok(UnixRecord {
            kind: w.kind,
            state: w.state,
            name,
            inode: w.inode,
            peer_inode: w.peer_inode,
            recv_q: w.recv_q,
            send_q: w.send_q,
            uid: w.uid,
            vfs: w.vfs,
            cookie: w.cookie,
            owner: w.owner,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_names_print_as_ss_prints_them() {
        let n = UnixName::from_sun_path(b"\0my\0sock").expect("name");
        assert!(n.is_abstract());
        assert_eq!(n.to_string(), "@my@sock");
        let p = UnixName::from_sun_path(b"/run/x.sock\0junk").expect("path");
        assert_eq!(p.to_string(), "/run/x.sock");
        assert_eq!(UnixName::from_sun_path(b""), None);
    }

    #[test]
    fn hostile_path_is_escaped_and_round_trips_exactly() {
        let mut r = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 9);
        r.name = Some(UnixName::Path(Name::from_bytes(b"/tmp/\x1b[31mx\xff")));
        let shown = r.name.as_ref().expect("name").to_string();
        assert!(!shown.contains('\x1b'), "{shown}");
        let json = serde_json::to_string(&r).expect("json");
        let back: UnixRecord = serde_json::from_str(&json).expect("back");
        assert_eq!(back, r);
    }

    #[test]
    fn listen_queue_needs_both_numbers() {
        let mut r = UnixRecord::new(UnixKind::Stream, TcpState::Listen, 1);
        assert_eq!(r.listen_queue(), None);
        r.recv_q = Some(5);
        r.send_q = Some(4);
        assert_eq!(r.listen_queue(), Some((5, 4)));
    }
}
