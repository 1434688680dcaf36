//! Test transports for the fault table in [`super::transport`]: [`Recorder`] wraps the
//! real socket and keeps every datagram the kernel sent, per request; [`Scripted`] replays
//! such a recording (sequence numbers rewritten to match each new request) with faults
//! injected at chosen datagrams, modelling `MSG_PEEK`, `MSG_TRUNC` and `MSG_DONTWAIT` the
//! way the kernel does. Test-only; nothing here runs in production.

use std::collections::VecDeque;
use std::io;

use super::decode::NLMSG_HDR_LEN;
use super::transport::{DiagTransport, KernelSocket};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const NLM_F_DUMP_INTR: u16 = 16;

/// The datagrams of one clean answer per address family, as the kernel sent them.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// AF_INET answer.
    pub v4: Vec<Vec<u8>>,
    /// AF_INET6 answer.
    pub v6: Vec<Vec<u8>>,
}

/// Wraps the kernel socket and records every datagram read (not peeked, not drained).
pub struct Recorder {
    pub inner: KernelSocket,
    pub recording: Recording,
    family: u8,
}

impl Recorder {
    pub fn new(inner: KernelSocket) -> Recorder {
        Recorder {
            inner,
            recording: Recording::default(),
            family: 0,
        }
    }
}

impl DiagTransport for Recorder {
    fn send(&mut self, request: &[u8]) -> io::Result<usize> {
        self.family = request.get(NLMSG_HDR_LEN).copied().unwrap_or(0);
        let list = match i32::from(self.family) {
            libc::AF_INET => &mut self.recording.v4,
            _ => &mut self.recording.v6,
        };
        list.clear();
        self.inner.send(request)
    }

    fn recv(&mut self, buf: &mut Vec<u8>, flags: libc::c_int) -> io::Result<usize> {
        let start = buf.len();
        let n = self.inner.recv(buf, flags)?;
        if flags & (libc::MSG_PEEK | libc::MSG_DONTWAIT) == 0 {
            let list = match i32::from(self.family) {
                libc::AF_INET => &mut self.recording.v4,
                _ => &mut self.recording.v6,
            };
            list.push(buf[start..].to_vec());
        }
        Ok(n)
    }
}

/// One fault, applied to datagram `k` of a request's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The next `n` receive calls (peek or read) before datagram k fail with EINTR.
    Eintr(u32),
    /// The request's `send` fails `n` times with EINTR first.
    SendEintr(u32),
    /// The request's `send` fails with this errno.
    SendErrno(i32),
    /// Datagram k is dropped and the next receive fails with ENOBUFS.
    Enobufs,
    /// Datagram k and everything after it never arrive (receives time out: EAGAIN).
    Stall,
    /// The NLMSG_DONE message is removed from the answer (then receives time out).
    DropDone,
    /// The kernel refuses: datagram k is replaced by NLMSG_ERROR(-errno) and the
    /// answer ends there.
    NlmsgError(i32),
    /// NLMSG_DONE carries -errno.
    DoneError(i32),
    /// An NLMSG_OVERRUN message arrives before datagram k.
    Overrun,
    /// Every message of datagram k has NLM_F_DUMP_INTR set.
    DumpIntr,
    /// Datagram k is cut 10 bytes into its second message.
    CutMidMessage,
    /// The last message of datagram k claims 64 bytes more than the datagram holds.
    Overlong,
    /// Reading datagram k returns 100 more than was copied (MSG_TRUNC: it was larger).
    RecvClaimsMore,
    /// Datagram k carries sequence number `seq + delta` instead of ours (replaced).
    WrongSeq(i32),
    /// A copy of datagram k with the previous request's sequence number arrives first.
    StaleInserted,
    /// Datagram k arrives twice.
    Duplicate,
    /// An empty datagram arrives before datagram k.
    Empty,
}

/// Which requests (0-based count of `send` calls, failed ones included) a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Only the request with this index.
    Request(u32),
    /// Requests with index below this (for example 2: both families of the first attempt).
    Before(u32),
    /// Every request: the fault is persistent.
    Always,
}

impl When {
    fn applies(self, n: u32) -> bool {
        match self {
            When::Request(i) => n == i,
            When::Before(i) => n < i,
            When::Always => true,
        }
    }
}

#[derive(Debug, Clone)]
enum Item {
    Datagram(Vec<u8>),
    /// A datagram whose read reports `extra` more bytes than it holds.
    Lying(Vec<u8>, usize),
    Errno(i32),
}

/// Replays a [`Recording`] with faults. Receives on an empty queue time out (EAGAIN), as
/// a real socket with SO_RCVTIMEO does.
pub struct Scripted {
    recording: Recording,
    faults: Vec<(When, usize, Fault)>,
    queue: VecDeque<Item>,
    sends: u32,
    send_errors: VecDeque<i32>,
}

impl Scripted {
    pub fn new(recording: Recording) -> Scripted {
        Scripted {
            recording,
            faults: Vec::new(),
            queue: VecDeque::new(),
            sends: 0,
            send_errors: VecDeque::new(),
        }
    }

    /// Adds a fault on datagram `k` of the requests `when` selects.
    pub fn fault(mut self, when: When, k: usize, fault: Fault) -> Scripted {
        self.faults.push((when, k, fault));
        self
    }

    /// How many `send` calls were made (failed ones included); request indices in
    /// [`When`] count the same way.
    pub fn sends(&self) -> u32 {
        self.sends
    }

    fn answer(&self, request: &[u8], n: u32) -> Vec<Item> {
        let seq = read_u32(request, 8);
        let recorded = match request.get(NLMSG_HDR_LEN).map(|f| i32::from(*f)) {
            Some(libc::AF_INET) => &self.recording.v4,
            _ => &self.recording.v6,
        };
        let mut items: Vec<Item> = recorded
            .iter()
            .map(|d| Item::Datagram(with_seq(d, seq)))
            .collect();
        for &(when, k, fault) in &self.faults {
            if when.applies(n) {
                apply(&mut items, k, fault, seq, request);
            }
        }
        items
    }
}

fn apply(items: &mut Vec<Item>, k: usize, fault: Fault, seq: u32, request: &[u8]) {
    let k = k.min(items.len());
    match fault {
        Fault::Eintr(times) => {
            for _ in 0..times {
                items.insert(k, Item::Errno(libc::EINTR));
            }
        }
        Fault::SendEintr(_) | Fault::SendErrno(_) => {}
        Fault::Enobufs => {
            items.remove(k);
            items.insert(k, Item::Errno(libc::ENOBUFS));
        }
        Fault::Stall => items.truncate(k),
        Fault::DropDone => {
            for item in items.iter_mut() {
                if let Item::Datagram(d) = item {
                    *d = without_done(d);
                }
            }
            items.retain(|i| !matches!(i, Item::Datagram(d) if d.is_empty()));
        }
        Fault::NlmsgError(errno) => {
            items.truncate(k);
            let mut payload = (-errno).to_ne_bytes().to_vec();
            payload.extend_from_slice(request.get(..NLMSG_HDR_LEN).unwrap_or_default());
            items.push(Item::Datagram(message(NLMSG_ERROR, 0, seq, &payload)));
        }
        Fault::DoneError(errno) => {
            for item in items.iter_mut() {
                if let Item::Datagram(d) = item {
                    set_done_error(d, -errno);
                }
            }
        }
        Fault::Overrun => {
            items.insert(k, Item::Datagram(message(NLMSG_OVERRUN, 0, seq, &[])));
        }
        Fault::DumpIntr => {
            if let Some(Item::Datagram(d)) = items.get_mut(k) {
                for_each_header(d, |h| {
                    let flags = u16::from_ne_bytes([h[6], h[7]]) | NLM_F_DUMP_INTR;
                    h[6..8].copy_from_slice(&flags.to_ne_bytes());
                });
            }
        }
        Fault::CutMidMessage => {
            if let Some(Item::Datagram(d)) = items.get_mut(k) {
                let first = nlmsg_align(read_u32(d, 0) as usize);
                d.truncate((first + 10).min(d.len().saturating_sub(1)));
            }
        }
        Fault::Overlong => {
            if let Some(Item::Datagram(d)) = items.get_mut(k) {
                let mut off = 0;
                let mut last = 0;
                while off + NLMSG_HDR_LEN <= d.len() {
                    last = off;
                    off += nlmsg_align(read_u32(d, off) as usize).max(NLMSG_HDR_LEN);
                }
                let len = read_u32(d, last) + 64;
                d[last..last + 4].copy_from_slice(&len.to_ne_bytes());
            }
        }
        Fault::RecvClaimsMore => {
            if let Some(Item::Datagram(d)) = items.get(k) {
                items[k] = Item::Lying(d.clone(), 100);
            }
        }
        Fault::WrongSeq(delta) => {
            if let Some(Item::Datagram(d)) = items.get_mut(k) {
                *d = with_seq(d, seq.wrapping_add_signed(delta));
            }
        }
        Fault::StaleInserted => {
            if let Some(Item::Datagram(d)) = items.get(k) {
                let stale = with_seq(d, seq.wrapping_sub(1));
                items.insert(k, Item::Datagram(stale));
            }
        }
        Fault::Duplicate => {
            if let Some(Item::Datagram(d)) = items.get(k) {
                let copy = d.clone();
                items.insert(k, Item::Datagram(copy));
            }
        }
        Fault::Empty => items.insert(k, Item::Datagram(Vec::new())),
    }
}

impl DiagTransport for Scripted {
    fn send(&mut self, request: &[u8]) -> io::Result<usize> {
        let n = self.sends;
        self.sends += 1;
        if self.send_errors.is_empty() {
            for &(when, _, fault) in &self.faults {
                if when.applies(n) {
                    match fault {
                        Fault::SendEintr(times) => {
                            self.send_errors.extend((0..times).map(|_| libc::EINTR));
                        }
                        Fault::SendErrno(errno) => self.send_errors.push_back(errno),
                        _ => {}
                    }
                }
            }
        }
        if let Some(errno) = self.send_errors.pop_front() {
            return Err(io::Error::from_raw_os_error(errno));
        }
        let answer = self.answer(request, n);
        self.queue.extend(answer);
        Ok(request.len())
    }

    fn recv(&mut self, buf: &mut Vec<u8>, flags: libc::c_int) -> io::Result<usize> {
        let peek = flags & libc::MSG_PEEK != 0;
        let (bytes, extra) = match self.queue.front() {
            None => return Err(io::Error::from_raw_os_error(libc::EAGAIN)),
            Some(Item::Errno(e)) => {
                let e = *e;
                self.queue.pop_front();
                return Err(io::Error::from_raw_os_error(e));
            }
            Some(Item::Datagram(d)) => (d.clone(), 0),
            Some(Item::Lying(d, extra)) => (d.clone(), if peek { 0 } else { *extra }),
        };
        let room = buf.capacity() - buf.len();
        buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        if !peek {
            self.queue.pop_front();
        }
        Ok(if flags & libc::MSG_TRUNC != 0 {
            bytes.len() + extra
        } else {
            bytes.len().min(room)
        })
    }
}

fn read_u32(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
}

fn nlmsg_align(len: usize) -> usize {
    (len + 3) & !3
}

/// Calls `f` on each message header (16 bytes) of a well-formed datagram.
fn for_each_header(d: &mut [u8], mut f: impl FnMut(&mut [u8])) {
    let mut off = 0;
    while off + NLMSG_HDR_LEN <= d.len() {
        let len = read_u32(d, off) as usize;
        f(&mut d[off..off + NLMSG_HDR_LEN]);
        off += nlmsg_align(len).max(NLMSG_HDR_LEN);
    }
}

/// The datagram with every message's sequence number set to `seq`.
pub fn with_seq(d: &[u8], seq: u32) -> Vec<u8> {
    let mut d = d.to_vec();
    for_each_header(&mut d, |h| h[8..12].copy_from_slice(&seq.to_ne_bytes()));
    d
}

fn without_done(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDR_LEN <= d.len() {
        let len = read_u32(d, off) as usize;
        let end = (off + nlmsg_align(len)).min(d.len());
        if u16::from_ne_bytes([d[off + 4], d[off + 5]]) != NLMSG_DONE {
            out.extend_from_slice(&d[off..end]);
        }
        off += nlmsg_align(len).max(NLMSG_HDR_LEN);
    }
    out
}

fn set_done_error(d: &mut [u8], code: i32) {
    let mut off = 0;
    while off + NLMSG_HDR_LEN + 4 <= d.len() {
        let len = read_u32(d, off) as usize;
        if u16::from_ne_bytes([d[off + 4], d[off + 5]]) == NLMSG_DONE {
            let at = off + NLMSG_HDR_LEN;
            d[at..at + 4].copy_from_slice(&code.to_ne_bytes());
        }
        off += nlmsg_align(len).max(NLMSG_HDR_LEN);
    }
}

/// A netlink message (header + payload, padded).
pub fn message(msg_type: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(NLMSG_HDR_LEN + payload.len()).unwrap();
    let mut m = Vec::new();
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&msg_type.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    while m.len() % 4 != 0 {
        m.push(0);
    }
    m
}
