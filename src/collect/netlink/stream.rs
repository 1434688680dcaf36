//! The streaming inet decoder: each socket of a sock_diag answer goes to a
//! [`SocketSink`] as its message is decoded, so a dump of a million sockets needs memory
//! for one datagram and a bounded duplicate window, not for the list. The framing,
//! sequence and error policy are [`Framing`]'s, exactly as for [`super::decode::DumpDecoder`].
//!
//! Owns decoding into the sink and nothing else: no owner resolution, no counting (the
//! sink's business), no I/O.

use std::collections::VecDeque;

use super::decode::{parse_inet_diag, DecodeStats, Parsed, Progress};
use super::framing::{DiagDecoder, Framing};
use crate::collect::{CollectError, DumpRequest};
use crate::fasthash::IdSet;
use crate::model::{SampleQuality, SocketSink};

/// Cookies remembered for duplicate detection. The kernel repeats a socket only when its
/// hash bucket changed between two datagrams of a dump (the dump resumes by position in
/// the bucket), so the repeat follows the first report within the rest of that bucket:
/// far inside this many sockets. Measured: summary peak RSS grows about 1.8 MB from 20k to
/// 200k sockets (the window filling), then stays flat, whatever the table size.
pub const DEDUP_WINDOW: usize = 1 << 16;

/// The last [`DEDUP_WINDOW`] cookies seen in a dump, oldest forgotten first.
#[derive(Debug, Default)]
pub struct DedupWindow {
    order: VecDeque<u64>,
    seen: IdSet<u64>,
}

impl DedupWindow {
    /// Forgets every cookie, keeping the allocations.
    pub fn clear(&mut self) {
        self.order.clear();
        self.seen.clear();
    }

    /// Whether `cookie` is new within the window (then it is remembered).
    pub fn insert(&mut self, cookie: u64) -> bool {
        if !self.seen.insert(cookie) {
            return false;
        }
        self.order.push_back(cookie);
        if self.order.len() > DEDUP_WINDOW {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }
}

/// Incremental decoder for one inet dump (one or more requests, one per family) that
/// hands each socket to a sink instead of keeping it.
pub struct StreamDecoder<'a> {
    sink: &'a mut dyn SocketSink,
    window: &'a mut DedupWindow,
    state_mask: u32,
    frame: Framing,
}

impl<'a> StreamDecoder<'a> {
    /// A decoder feeding `sink`, re-applying `state_mask` on decode.
    pub fn new(
        sink: &'a mut dyn SocketSink,
        window: &'a mut DedupWindow,
        state_mask: u32,
    ) -> StreamDecoder<'a> {
        StreamDecoder {
            sink,
            window,
            state_mask,
            frame: Framing::default(),
        }
    }

    /// Starts a fresh attempt: the sink forgets what it got, the window its cookies.
    pub fn reset(&mut self) {
        self.frame.reset();
        self.window.clear();
        self.sink.reset();
    }
}

impl DiagDecoder for StreamDecoder<'_> {
    type Dump = SampleQuality;

    fn begin(&mut self, seq: u32) {
        self.frame.begin(seq);
    }

    fn feed(&mut self, datagram: &[u8]) -> Result<Progress, CollectError> {
        let (sink, window, mask) = (&mut *self.sink, &mut *self.window, self.state_mask);
        self.frame.feed(datagram, |payload, quality, stats| {
            one_socket(payload, mask, quality, stats, sink, window);
        })
    }

    fn finish(&mut self) -> Result<SampleQuality, CollectError> {
        self.frame.finish()
    }

    fn stats(&self) -> DecodeStats {
        self.frame.stats()
    }
}

/// One decoded socket: the same state re-check, duplicate and error counts as the
/// materialising decoder, then the sink.
fn one_socket(
    payload: &[u8],
    state_mask: u32,
    quality: &mut SampleQuality,
    stats: &mut DecodeStats,
    sink: &mut dyn SocketSink,
    window: &mut DedupWindow,
) {
    match parse_inet_diag(payload) {
        Parsed::Socket { record, nla_error } => {
            if nla_error {
                quality.parse_errors += 1;
            }
            if state_mask & record.state.kernel_mask() == 0 {
                stats.filtered += 1;
            } else if record.cookie.is_some_and(|c| !window.insert(c)) {
                quality.duplicates += 1;
            } else {
                sink.push(&record);
            }
        }
        Parsed::UnknownState(code) => {
            let req = DumpRequest {
                state_mask,
                ..DumpRequest::default()
            };
            if req.wants_state(code) {
                stats.unknown_state += 1;
            } else {
                stats.filtered += 1;
            }
        }
        Parsed::Malformed => quality.parse_errors += 1,
    }
}
