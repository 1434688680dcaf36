//! Everything that reads the kernel, and nothing else: sock_diag and /proc/net socket
//! sources (TCP, UDP, UNIX), process attribution, kernel counters, sysctls and network
//! namespaces.
//!
//! This layer never imports `analyze`, `report`, `serve` or `tui`. Its output is a
//! [`crate::model::Snapshot`]; see [`collector`] for the piece that assembles one.

pub mod collector;
pub mod conntrack;
pub mod counters;
pub mod destroy;
pub mod events;
pub mod fdnum;
pub mod netlink;
pub mod netns;
pub mod netns_budget;
pub mod netns_sweep;
pub mod procmap;
pub mod procnet;
pub mod procnet_udp;
pub mod procnet_unix;
pub mod sysctl;

use crate::model::{SampleQuality, SocketRecord, SocketSink, SourceKind, UnixRecord};

/// Which inet socket table a [`DumpRequest`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InetProtocol {
    /// TCP (`IPPROTO_TCP`, `/proc/net/tcp{,6}`).
    #[default]
    Tcp,
    /// UDP (`IPPROTO_UDP`, `/proc/net/udp{,6}`); sock_diag is asked for
    /// `INET_DIAG_SKMEMINFO`, so every record carries its buffers and drop counter.
    Udp,
}

/// What a socket source is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpRequest {
    /// sock_diag state mask: bit N set = state N wanted (see `TcpState::kernel_mask`).
    pub state_mask: u32,
    /// Dump AF_INET sockets.
    pub ipv4: bool,
    /// Dump AF_INET6 sockets.
    pub ipv6: bool,
    /// Ask the kernel for tcp_info (costs about 20% more; TCP only).
    pub tcp_info: bool,
    /// The table to dump. [`SocketSource::dump_unix`] reads only `state_mask` and `lean`.
    pub protocol: InetProtocol,
    /// Skip the per-socket details a count by state does not need: UDP's
    /// `INET_DIAG_SKMEMINFO` (measured: it makes the kernel's UDP dump about 1.7× as costly)
    /// and UNIX names, VFS, peers and uids. Records then carry `None` for them.
    pub lean: bool,
}

impl Default for DumpRequest {
    fn default() -> Self {
        DumpRequest {
            state_mask: 0xFFF,
            ipv4: true,
            ipv6: true,
            tcp_info: false,
            protocol: InetProtocol::Tcp,
            lean: false,
        }
    }
}

impl DumpRequest {
    /// Whether a kernel state code passes the mask (NEW_SYN_RECV rides on SYN_RECV's bit).
    pub fn wants_state(&self, code: u8) -> bool {
        let code = if code == crate::model::KERNEL_NEW_SYN_RECV {
            crate::model::TcpState::SynRecv.code()
        } else {
            code
        };
        code < 32 && self.state_mask & (1u32 << code) != 0
    }
}

/// The sockets one dump returned, with what went wrong on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketDump {
    /// Deduplicated sockets, `owner` still [`crate::model::Owner::Unresolved`].
    pub sockets: Vec<SocketRecord>,
    /// Parse errors, duplicates dropped, and consistency.
    pub quality: SampleQuality,
}

/// The UNIX sockets one dump returned, with what went wrong on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnixDump {
    /// Deduplicated sockets, `owner` still [`crate::model::Owner::Unresolved`].
    pub sockets: Vec<UnixRecord>,
    /// Parse errors, duplicates dropped, and consistency.
    pub quality: SampleQuality,
}

/// Errors a socket source can raise. The fallback logic matches on the variant.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The kernel or the filesystem refused access.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The facility does not exist here (no sock_diag module, no /proc/net/tcp).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The kernel answered a dump with NLMSG_ERROR.
    #[error("netlink error {errno} ({msg})")]
    Netlink {
        /// Positive errno.
        errno: i32,
        /// strerror text.
        msg: String,
    },
    /// The dump broke the netlink protocol (truncated, wrong sequence, no DONE).
    #[error("netlink protocol: {0}")]
    Protocol(String),
    /// Entering a network namespace failed.
    #[error("network namespace {name}: {reason}")]
    Netns {
        /// The name or path given.
        name: String,
        /// Why it failed.
        reason: String,
    },
    /// Any other I/O failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl CollectError {
    /// Wraps an I/O error, mapping EACCES/EPERM and ENOENT/EPROTONOSUPPORT to the typed
    /// variants the fallback matches on.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> CollectError {
        let context = context.into();
        match source.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => {
                CollectError::PermissionDenied(format!("{context}: {source}"))
            }
            Some(libc::EPROTONOSUPPORT) | Some(libc::EAFNOSUPPORT) | Some(libc::ENOENT) => {
                CollectError::Unsupported(format!("{context}: {source}"))
            }
            _ => CollectError::Io { context, source },
        }
    }
}

/// A producer of socket lists: sock_diag, /proc/net, or a fixture.
pub trait SocketSource {
    /// Which kind of source this is, for reporting.
    fn kind(&self) -> SourceKind;
    /// Dumps the TCP or UDP sockets (`req.protocol`) matching `req`.
    fn dump(&mut self, req: &DumpRequest) -> Result<SocketDump, CollectError>;
    /// Dumps the UNIX sockets whose state is in `req.state_mask` (families, tcp_info and
    /// protocol do not apply).
    fn dump_unix(&mut self, req: &DumpRequest) -> Result<UnixDump, CollectError>;
    /// [`SocketSource::dump`] into `sink`, socket by socket, `owner` unresolved; returns the
    /// dump's quality. Calls [`SocketSink::reset`] before each attempt, so after an error
    /// the sink may hold part of an abandoned attempt and must be reset before reuse. No
    /// order is promised (listeners may follow connections: one request per family).
    ///
    /// The default materialises the dump and replays it (memory as [`SocketSource::dump`]);
    /// the netlink source streams.
    fn dump_stream(
        &mut self,
        req: &DumpRequest,
        sink: &mut dyn SocketSink,
    ) -> Result<SampleQuality, CollectError> {
        sink.reset();
        let dump = self.dump(req)?;
        for s in &dump.sockets {
            sink.push(s);
        }
        Ok(dump.quality)
    }
}
