//! The streaming seam between collection and analysis: a [`SocketSink`] receives each
//! decoded socket as the dump produces it, so a face that only counts never holds the
//! socket list. Plain trait, no I/O; `collect` calls it, `analyze` implements it.

use super::SocketRecord;

/// Receives the TCP sockets of one dump, one at a time, owner already resolved and filter
/// already applied.
///
/// The collector's contract, which folds rely on:
/// - [`SocketSink::reset`] comes before every attempt at a dump (a dump broken on the way
///   is thrown away and restarted from scratch, so what was pushed before the reset
///   must be forgotten);
/// - every LISTEN socket of an attempt is pushed before any socket in another state (a
///   connection can then be matched to its listener as it arrives), unless the sink says
///   it does not care ([`SocketSink::listeners_first`]).
pub trait SocketSink {
    /// Whether the sink needs the listeners before the connections. Saying no spares the
    /// collector a separate LISTEN-only dump when it needs none for attribution.
    fn listeners_first(&self) -> bool {
        true
    }
    /// Forgets everything pushed so far: a new attempt starts.
    fn reset(&mut self);
    /// One socket.
    fn push(&mut self, socket: &SocketRecord);
}

/// Materialises: the list the non-streaming path builds (tests compare the two).
impl SocketSink for Vec<SocketRecord> {
    fn reset(&mut self) {
        self.clear();
    }
    fn push(&mut self, socket: &SocketRecord) {
        Vec::push(self, socket.clone());
    }
}
