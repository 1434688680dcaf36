//! Attribution for a streamed dump: the same `/proc` scan and the same owner rules as
//! [`ProcessResolver::attribute_tables`], but split so the collector can look owners up
//! one socket at a time while the dump streams, and conclude from the pids it saw.
//! Memory: the inode → pid cache (sockets that processes hold), never the socket list.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{FullRescan, ProcessResolver};
use crate::model::{Attribution, ProcessInfo};

impl ProcessResolver {
    /// Probes the pids before a stream, as [`ProcessResolver::attribute_tables`] does before
    /// it assigns: a full rescan when one is due (always on the first call), else the
    /// incremental pass. (Without the socket list, the extra rescan for unknown inodes is
    /// not decided here; the one-shot faces that stream always take the full one.)
    pub fn scan_for_stream(&mut self) {
        let started = Instant::now();
        self.probes += 1;
        self.stats = super::ScanStats::default();
        let listed = self.list_pids();
        self.stats.pids_listed = listed.len() as u64;
        let periodic = self
            .last_full
            .is_none_or(|t| t.elapsed() >= self.policy.full_every);
        if periodic {
            self.full_rescan(&listed, FullRescan::Periodic);
        } else {
            self.incremental(&listed);
        }
        self.stats.elapsed = started.elapsed();
    }

    /// The owning pid of socket `inode` after the last scan: the lowest of its holders.
    pub fn holder(&self, inode: u64) -> Option<u32> {
        self.holders.get(&inode).and_then(super::Holders::lowest)
    }

    /// Ends a stream: the processes `pids` name and why `unknown` sockets (with an inode no
    /// scanned pid held) stayed unattributed, as [`ProcessResolver::attribute_tables`]
    /// reports them.
    pub fn conclude_stream(
        &mut self,
        unknown: u64,
        pids: impl Iterator<Item = u32>,
    ) -> (BTreeMap<u32, ProcessInfo>, Attribution) {
        self.conclude(unknown, pids)
    }
}
