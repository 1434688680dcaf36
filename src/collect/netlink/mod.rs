//! sock_diag (NETLINK_SOCK_DIAG) dumps of TCP, UDP and UNIX sockets: one persistent netlink
//! socket for all three, one request per address family (one for UNIX), every datagram
//! checked before a pure decoder turns it into records: [`decode`] for inet sockets
//! ([`SocketRecord`](crate::model::SocketRecord)), [`unix`] for UNIX ones, both over the
//! shared [`framing`].
//!
//! Owns the receive loop and its recovery policy, nothing else: the socket itself sits
//! behind [`transport::DiagTransport`] (whose module documents what each fault at the
//! socket does); this module does not resolve owners (records leave with
//! `Owner::Unresolved`), pick a fallback, or enter namespaces (the socket lives in the
//! namespace of the thread that opened it).
//!
//! Safety nets, each because a measured or plausible failure would otherwise be silent:
//! every datagram is sized with `MSG_PEEK | MSG_TRUNC` before it is read, so nothing is
//! ever cut (a reader with a small buffer lost 74% of sockets); each receive times out
//! (`SO_RCVTIMEO`) and each attempt at a dump has a deadline and a datagram budget (so a
//! dump that is restarted once can take two of each); a dump
//! without NLMSG_DONE is an error. Stale datagrams left by an abandoned dump are drained
//! before each request. A dump broken on the way (overrun, truncation, a foreign sequence
//! number, a transient kernel error) is thrown away and restarted once from scratch; a
//! partial dump is never returned.

pub mod decode;
#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod fault_transport;
pub mod framing;
#[cfg(test)]
mod live_tests;
pub mod stream;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
pub mod transport;
#[cfg(test)]
mod udp_unix_tests;
pub mod unix;

use std::time::{Duration, Instant};

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::{SockDiagMessage, AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};

use self::decode::{DecodeStats, DiagDecoder, DumpDecoder, Progress};
use self::stream::{DedupWindow, StreamDecoder};
use self::transport::{DiagTransport, KernelSocket};
use self::unix::UnixDecoder;
use super::{CollectError, DumpRequest, InetProtocol, SocketDump, SocketSource, UnixDump};
use crate::model::{Family, SampleQuality, SocketSink, SourceKind, KERNEL_NEW_SYN_RECV};

/// Initial user-space receive buffer. The kernel sizes dump datagrams from the reader's
/// buffer, capped near 32 KiB; anything larger is still read whole thanks to the peek.
const RECV_BUF: usize = 64 * 1024;
/// Longest wait for any single datagram.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest one dump attempt (all families) may take; 100k sockets take ~0.15 s.
const DUMP_DEADLINE: Duration = Duration::from_secs(30);
/// Datagrams per request before we give up; ~250 sockets each, so ~250M sockets.
const MAX_DATAGRAMS: u32 = 1_000_000;
/// Stale datagrams drained before a request at most.
const MAX_DRAIN: u32 = 4096;
/// Times one system call is repeated after EINTR before the attempt is abandoned.
const MAX_EINTR: u32 = 8;
/// Whole-dump restarts after a broken answer. One: a transient fault rarely strikes twice
/// in a row, and a persistent one should surface within one tick, not a loop.
const MAX_RESTARTS: u32 = 1;

/// A persistent NETLINK_SOCK_DIAG socket that dumps TCP, UDP and UNIX sockets. Generic
/// over the transport so tests can inject faults; production uses [`KernelSocket`]
/// (static dispatch, no cost).
pub struct NetlinkSource<T: DiagTransport = KernelSocket> {
    transport: T,
    buf: Vec<u8>,
    decoder: DumpDecoder,
    unix: UnixDecoder,
    /// The streaming path's duplicate window, kept between dumps for its allocation.
    window: DedupWindow,
    seq: u32,
    /// Sockets in the last dump of each table (TCP, UDP, UNIX): the next one's capacity.
    last_len: [usize; 3],
    last_stats: DumpStats,
}

/// One request of a dump: an inet table in one family, or the UNIX table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagRequest {
    /// `AF_INET` / `AF_INET6` with `IPPROTO_TCP` / `IPPROTO_UDP`.
    Inet(Family, InetProtocol),
    /// `AF_UNIX`.
    Unix,
}

/// What the last dump saw besides sockets, for diagnostics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpStats {
    /// Decoder counters (messages, foreign sequence numbers, unknown states) of the
    /// attempt that produced the result.
    pub decode: DecodeStats,
    /// Datagrams received for the dump's requests, over all attempts.
    pub datagrams: u64,
    /// Stale datagrams discarded before the requests were sent, over all attempts.
    pub drained: u64,
    /// `recv`/`send` calls repeated after EINTR, over all attempts.
    pub eintr_retries: u64,
    /// Times the whole dump was thrown away and requested again (at most
    /// `MAX_RESTARTS`).
    pub restarts: u32,
    /// Why the last restart happened (the error of the abandoned attempt).
    pub restart_reason: Option<String>,
}

impl NetlinkSource<KernelSocket> {
    /// Opens the netlink socket in the calling thread's network namespace.
    pub fn open() -> Result<NetlinkSource<KernelSocket>, CollectError> {
        Ok(NetlinkSource::with_transport(KernelSocket::open(
            RECV_TIMEOUT,
        )?))
    }
}

impl<T: DiagTransport> NetlinkSource<T> {
    /// A source over any transport (tests use a scripted one).
    pub fn with_transport(transport: T) -> NetlinkSource<T> {
        NetlinkSource {
            transport,
            buf: Vec::with_capacity(RECV_BUF),
            decoder: DumpDecoder::default(),
            unix: UnixDecoder::default(),
            window: DedupWindow::default(),
            seq: 0,
            last_len: [0; 3],
            last_stats: DumpStats::default(),
        }
    }

    /// Counters from the most recent dump.
    pub fn last_stats(&self) -> &DumpStats {
        &self.last_stats
    }

    /// Sends one request for `family` (of `req.protocol`) and appends every datagram of
    /// the answer, raw, to `out`. Returns the request's sequence number. The concatenation
    /// is exactly what [`decode::decode_dump`] takes; this is how the fixtures were
    /// recorded. No restart: a fixture must be one clean answer.
    pub fn dump_raw(
        &mut self,
        family: Family,
        req: &DumpRequest,
        out: &mut Vec<u8>,
    ) -> Result<u32, CollectError> {
        let mut decoder = DumpDecoder::new(req.state_mask);
        self.raw(
            &mut decoder,
            DiagRequest::Inet(family, req.protocol),
            req,
            out,
        )
    }

    /// [`NetlinkSource::dump_raw`] for the UNIX table: what [`unix::decode_unix_dump`]
    /// takes.
    pub fn dump_raw_unix(
        &mut self,
        req: &DumpRequest,
        out: &mut Vec<u8>,
    ) -> Result<u32, CollectError> {
        let mut decoder = UnixDecoder::new(req.state_mask);
        self.raw(&mut decoder, DiagRequest::Unix, req, out)
    }

    fn raw<D: DiagDecoder>(
        &mut self,
        decoder: &mut D,
        what: DiagRequest,
        req: &DumpRequest,
        out: &mut Vec<u8>,
    ) -> Result<u32, CollectError> {
        let deadline = Instant::now() + DUMP_DEADLINE;
        self.last_stats = DumpStats::default();
        let seq = self.request(what, req)?;
        decoder.begin(seq);
        self.receive_until_done(decoder, deadline, |datagram| {
            out.extend_from_slice(datagram)
        })?;
        Ok(seq)
    }

    /// One complete dump attempt: every request, from the first to its DONE.
    fn dump_once<D: DiagDecoder>(
        &mut self,
        decoder: &mut D,
        requests: &[DiagRequest],
        req: &DumpRequest,
    ) -> Result<D::Dump, CollectError> {
        let deadline = Instant::now() + DUMP_DEADLINE;
        for what in requests {
            let seq = self.request(*what, req)?;
            decoder.begin(seq);
            self.receive_until_done(decoder, deadline, |_| {})?;
        }
        decoder.finish()
    }

    /// Drains stale datagrams, then sends one request.
    fn request(&mut self, what: DiagRequest, req: &DumpRequest) -> Result<u32, CollectError> {
        self.last_stats.drained += self.drain();
        self.seq = self.seq.wrapping_add(1);
        let msg = match what {
            DiagRequest::Inet(family, protocol) => request_message(self.seq, family, protocol, req),
            DiagRequest::Unix => unix::request_message(self.seq, req.state_mask, req.lean),
        };
        let mut bytes = [0u8; 128];
        let len = msg.buffer_len();
        let out = bytes
            .get_mut(..len)
            .ok_or_else(|| CollectError::Protocol("request larger than expected".into()))?;
        msg.serialize(out);
        let transport = &mut self.transport;
        let sent = retry_eintr(&mut self.last_stats, || transport.send(out))
            .map_err(|e| CollectError::io("sending sock_diag request", e))?;
        if sent != out.len() {
            return Err(CollectError::Protocol(format!(
                "sock_diag request sent short: {sent} of {} bytes",
                out.len()
            )));
        }
        Ok(self.seq)
    }

    /// Reads datagrams into `decoder` until the current request's DONE.
    fn receive_until_done<D: DiagDecoder>(
        &mut self,
        decoder: &mut D,
        deadline: Instant,
        mut tap: impl FnMut(&[u8]),
    ) -> Result<(), CollectError> {
        for _ in 0..MAX_DATAGRAMS {
            if Instant::now() > deadline {
                return Err(CollectError::Protocol(format!(
                    "dump did not finish within {DUMP_DEADLINE:?}"
                )));
            }
            self.receive_one()?;
            self.last_stats.datagrams += 1;
            tap(&self.buf);
            if decoder.feed(&self.buf)? == Progress::Done {
                return Ok(());
            }
        }
        Err(CollectError::Protocol(format!(
            "no NLMSG_DONE after {MAX_DATAGRAMS} datagrams"
        )))
    }

    /// Receives exactly one whole datagram into `self.buf`.
    fn receive_one(&mut self) -> Result<(), CollectError> {
        let transport = &mut self.transport;
        let stats = &mut self.last_stats;
        let buf = &mut self.buf;
        buf.clear();
        // A zero-capacity read: MSG_TRUNC makes the kernel report the datagram's size.
        let mut empty = Vec::new();
        let size = retry_eintr(stats, || {
            transport.recv(&mut empty, libc::MSG_PEEK | libc::MSG_TRUNC)
        })
        .map_err(recv_error)?;
        buf.reserve(size.max(RECV_BUF));
        let got =
            retry_eintr(stats, || transport.recv(buf, libc::MSG_TRUNC)).map_err(recv_error)?;
        if got > buf.len() || got != size {
            return Err(CollectError::Protocol(format!(
                "datagram truncated: {got} bytes sent, {} read ({size} announced)",
                buf.len()
            )));
        }
        Ok(())
    }

    /// Discards datagrams already queued (left by an abandoned dump); returns how many.
    fn drain(&mut self) -> u64 {
        let mut drained = 0;
        let mut empty = Vec::new();
        for _ in 0..MAX_DRAIN {
            match self
                .transport
                .recv(&mut empty, libc::MSG_DONTWAIT | libc::MSG_TRUNC)
            {
                Ok(_) => drained += 1,
                // An overflow reported now says nothing about the queue behind it.
                Err(e)
                    if e.kind() == std::io::ErrorKind::Interrupted
                        || e.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(_) => break,
            }
        }
        drained
    }
}

/// The inet requests `req` asks for: one per selected family.
fn inet_requests(req: &DumpRequest) -> ([DiagRequest; 2], usize) {
    let wanted = [(req.ipv4, Family::V4), (req.ipv6, Family::V6)];
    let mut requests = [DiagRequest::Unix; 2];
    let mut n = 0;
    for (_, family) in wanted.iter().filter(|(on, _)| *on) {
        requests[n] = DiagRequest::Inet(*family, req.protocol);
        n += 1;
    }
    (requests, n)
}

impl<T: DiagTransport> SocketSource for NetlinkSource<T> {
    fn kind(&self) -> SourceKind {
        SourceKind::Netlink
    }

    /// Dumps, restarting once from scratch when the answer broke on the way (see
    /// [`transport`] for the table). What is returned is always one complete attempt.
    fn dump(&mut self, req: &DumpRequest) -> Result<SocketDump, CollectError> {
        let (requests, n) = inet_requests(req);
        if n == 0 {
            return Ok(SocketDump::default());
        }
        let slot = match req.protocol {
            InetProtocol::Tcp => 0,
            InetProtocol::Udp => 1,
        };
        let hint = self.last_len[slot] + self.last_len[slot] / 8;
        let mut decoder = std::mem::take(&mut self.decoder);
        let out = self.dump_restarting(&mut decoder, &requests[..n], req, |d| {
            d.reset(req.state_mask, hint);
        });
        self.decoder = decoder;
        let dump = out?;
        self.last_len[slot] = dump.sockets.len();
        Ok(dump)
    }

    /// Streams: each socket goes to `sink` as its datagram is decoded, with the same
    /// restart policy as [`SocketSource::dump`] (the sink is reset before each attempt).
    /// Memory: one datagram plus the [`stream::DEDUP_WINDOW`] cookies.
    fn dump_stream(
        &mut self,
        req: &DumpRequest,
        sink: &mut dyn SocketSink,
    ) -> Result<SampleQuality, CollectError> {
        let (requests, n) = inet_requests(req);
        if n == 0 {
            sink.reset();
            return Ok(SampleQuality::default());
        }
        let mut window = std::mem::take(&mut self.window);
        let out = {
            let mut decoder = StreamDecoder::new(sink, &mut window, req.state_mask);
            self.dump_restarting(&mut decoder, &requests[..n], req, StreamDecoder::reset)
        };
        window.clear();
        self.window = window;
        out
    }

    /// The UNIX table, with the same restart policy as [`SocketSource::dump`].
    fn dump_unix(&mut self, req: &DumpRequest) -> Result<UnixDump, CollectError> {
        let hint = self.last_len[2] + self.last_len[2] / 8;
        let mut decoder = std::mem::take(&mut self.unix);
        let out = self.dump_restarting(&mut decoder, &[DiagRequest::Unix], req, |d| {
            d.reset(req.state_mask, hint);
        });
        self.unix = decoder;
        let dump = out?;
        self.last_len[2] = dump.sockets.len();
        Ok(dump)
    }
}

impl<T: DiagTransport> NetlinkSource<T> {
    /// Runs `requests` as one dump, restarting once from scratch when the answer broke on
    /// the way; `prepare` empties the decoder before each attempt.
    fn dump_restarting<D: DiagDecoder>(
        &mut self,
        decoder: &mut D,
        requests: &[DiagRequest],
        req: &DumpRequest,
        prepare: impl Fn(&mut D),
    ) -> Result<D::Dump, CollectError> {
        self.last_stats = DumpStats::default();
        let mut restarts = 0;
        loop {
            let again = restarts < MAX_RESTARTS;
            prepare(decoder);
            let attempt = self.dump_once(decoder, requests, req);
            self.last_stats.decode = decoder.stats();
            match attempt {
                // The kernel says the table changed under the dump: one fresh try may be
                // consistent; if not, the sample goes out marked inconsistent.
                Ok(_) if again && self.last_stats.decode.dump_intr > 0 => {
                    self.note_restart("kernel flagged the dump as interrupted (NLM_F_DUMP_INTR)");
                }
                Ok(dump) => return Ok(dump),
                Err(e) if again && restartable(&e) => self.note_restart(&e.to_string()),
                Err(e) if restarts > 0 && restartable(&e) => {
                    return Err(gave_up(e, restarts));
                }
                Err(e) => return Err(e),
            }
            restarts += 1;
        }
    }
}

impl<T: DiagTransport> NetlinkSource<T> {
    fn note_restart(&mut self, why: &str) {
        self.last_stats.restarts += 1;
        self.last_stats.restart_reason = Some(why.to_string());
    }
}

/// Whether an error means "this answer broke on the way" (a fresh dump may succeed)
/// rather than "the kernel refuses" (it will refuse again).
fn restartable(e: &CollectError) -> bool {
    let transient = |errno: i32| {
        matches!(
            errno,
            libc::EINTR | libc::EAGAIN | libc::EBUSY | libc::ENOBUFS
        )
    };
    match e {
        CollectError::Protocol(_) => true,
        CollectError::Netlink { errno, .. } => transient(*errno),
        CollectError::Io { source, .. } => source.raw_os_error().is_some_and(transient),
        CollectError::PermissionDenied(_)
        | CollectError::Unsupported(_)
        | CollectError::Netns { .. } => false,
    }
}

/// The final error after the restart failed too, saying so.
fn gave_up(e: CollectError, restarts: u32) -> CollectError {
    match e {
        CollectError::Protocol(m) => CollectError::Protocol(format!(
            "{m} (dump restarted {restarts} time(s), failed again; no partial result used)"
        )),
        other => other,
    }
}

/// The inet dump request for one family. For TCP, SYN_RECV's mask bit also asks for
/// NEW_SYN_RECV (12) so request sockets are never dropped, whatever the kernel version does
/// on its own; UDP always asks for `INET_DIAG_SKMEMINFO` (buffers and drops).
fn request_message(
    seq: u32,
    family: Family,
    protocol: InetProtocol,
    req: &DumpRequest,
) -> NetlinkMessage<SockDiagMessage> {
    let mut states = req.state_mask;
    if protocol == InetProtocol::Tcp && states & (1 << 3) != 0 {
        states |= 1 << KERNEL_NEW_SYN_RECV;
    }
    let (af, socket_id) = match family {
        Family::V4 => (AF_INET, SocketId::new_v4()),
        Family::V6 => (AF_INET6, SocketId::new_v6()),
    };
    let (ipproto, extensions) = match protocol {
        InetProtocol::Tcp if req.tcp_info => (IPPROTO_TCP, ExtensionFlags::INFO),
        InetProtocol::Tcp => (IPPROTO_TCP, ExtensionFlags::empty()),
        InetProtocol::Udp if req.lean => (IPPROTO_UDP, ExtensionFlags::empty()),
        InetProtocol::Udp => (IPPROTO_UDP, ExtensionFlags::SKMEMINFO),
    };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family: af,
            protocol: ipproto,
            extensions,
            states: StateFlags::from_bits_retain(states),
            socket_id,
        })
        .into(),
    );
    msg.finalize();
    msg
}

/// Runs a system call, repeating it a bounded number of times when a signal interrupts
/// it (counted in `stats`).
fn retry_eintr(
    stats: &mut DumpStats,
    mut call: impl FnMut() -> std::io::Result<usize>,
) -> std::io::Result<usize> {
    for _ in 0..MAX_EINTR {
        match call() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => stats.eintr_retries += 1,
            other => return other,
        }
    }
    call()
}

fn recv_error(e: std::io::Error) -> CollectError {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => CollectError::Protocol(
            format!("no answer from sock_diag within {RECV_TIMEOUT:?} (dump has no DONE)"),
        ),
        std::io::ErrorKind::Interrupted => {
            CollectError::Protocol(format!("recv interrupted {} times in a row", MAX_EINTR + 1))
        }
        _ if e.raw_os_error() == Some(libc::ENOBUFS) => CollectError::Protocol(
            "netlink receive buffer overrun (ENOBUFS): a datagram was dropped".into(),
        ),
        _ => CollectError::io("receiving sock_diag answer", e),
    }
}
