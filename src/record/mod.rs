//! Recordings: what `sockscope record` writes and `replay` / `summary --from` read, so that
//! after an incident the file tells what happened. Owns the file format, the writer, the
//! reader and `--at` time parsing. Must not touch the kernel (the caller collects), run
//! analysis (the caller's [`crate::analyze::engine::Analyzer`] does) or format reports.
//!
//! # File format (schema_version 3; version 1 and 2 files still read)
//!
//! [JSON Lines](https://jsonlines.org): one JSON object per line, `\n`-terminated, UTF-8.
//!
//! **Line 1, the header** ([`Header`]):
//!
//! ```text
//! {"kind":"header","schema_version":3,"host":"web-3","kernel":"6.8.0-45-generic",
//!  "interval_ms":1000,"started_at":"2026-11-22T04:31:07.25Z","started_at_ms":1795321867250,
//!  "netns":"host","sockets":false,"sockscope_version":"0.1.0"}
//! ```
//!
//! `kind` is always first, so `head -c 16` tells a recording. A reader rejects a newer
//! `schema_version`; fields added within a version are ignored by older readers.
//!
//! **Every further line, one tick per poll** ([`Tick`]):
//!
//! - `kind: "tick"`, `taken_at_ms` (ms since the epoch), `source` (`netlink`/`proc`),
//!   `collect_us`;
//! - `states`: all eleven states by netstat name, zeros included;
//! - `processes`: `[{pid, comm, uid, user, states}]`; `listeners`:
//!   `[{local:{ip,port}, pid, comm, backlog, accept_queue, states}]`; `remotes`: the
//!   [`TOP_REMOTES`] addresses with most sockets, `[{ip, states}]`. Row `states` list only
//!   non-zero states; a state missing is 0;
//! - `ownership`: `{attempted, ownerless, unattributed, reason, unreadable_pids}`;
//! - `quality`: `{parse_errors, duplicates, inconsistent}`;
//! - `alerts`: the analysis' alerts, serialised as [`crate::analyze::finding::Alert`];
//! - `rates`: counter rates per second `{interval_s, tcp_ext:{name:f64}, tcp:{…}, resets}`
//!   or `null` (first tick);
//! - `counters` ([`crate::model::KernelCounters`]) and `sysctls`
//!   ([`crate::model::Sysctls`]), raw, so a replay can recompute rates;
//! - with `--sockets` only: `sockets`, every [`crate::model::SocketRecord`], and
//!   `socket_processes`, the [`crate::model::ProcessInfo`]s they refer to;
//! - since schema 2: `protocols` (`["tcp","udp","unix"]`, which tables were collected; a
//!   version 1 tick reads as `["tcp"]`), and per collected protocol other than TCP an object
//!   `udp` / `unix` ([`proto::ProtoCounts`]): `states` keyed as ss spells them (`UNCONN`,
//!   `ESTAB`, `LISTEN`), `processes` `[{pid, comm, uid, user, states, drops, recv_q}]`,
//!   `unattributed`, `drops` (UDP), `types` and `listeners`
//!   `[{name, abstract, type, inode, pid, comm, pending, backlog}]` (UNIX); with `--sockets`
//!   also `udp_sockets` and `unix_sockets` (every [`crate::model::UnixRecord`]). When TCP
//!   was not collected (`-u`/`-x` without `-t`) its fields are zero and `protocols` says so;
//! - since schema 3, when the recorder could read the kernel's destroy events
//!   (CAP_NET_ADMIN; TCP and UDP): `events` ([`events::Events`]), the interval that ended
//!   with the tick: `seconds`, `closes`, `closes_per_s`, `tcp`, `udp`, `short_lived` (no
//!   poll saw them: they lived less than one interval), `lifetime_unknown`, `lost` (the
//!   kernel dropped them), `top_remotes` `[{remote:{ip,port}, closes, per_s}]`,
//!   `top_processes` `[{pid, comm, closes, per_s}]` ([`TOP_EVENT_ROWS`] each) and
//!   `owner_unknown`. No `events` means none were read, not that nothing closed.
//!
//! The file's own structs live in [`format`](mod@format). `SocketRecord`, `ProcessInfo`, `Alert`,
//! `KernelCounters`, `Sysctls` and `UnattributedReason` are embedded as the model
//! serialises them: they are serde contracts already; changing them means a new
//! `schema_version`. Aggregates and rates are copied into structs of their own.
//!
//! # Durability
//!
//! Each line is built in memory and written with one `write_all`, then flushed, so once
//! [`Recorder::append`] returns the tick is in the kernel: `kill -9` loses at most the line
//! being written, which the reader skips with a warning. [`Recorder::set_sync_every`] adds
//! `fdatasync` for machine crashes.
//!
//! # Reading
//!
//! [`Recording::open`] fails, with a one-line [`RecordError`] naming the file, on an empty
//! file, a first line that is not a header, a truncated header, a newer schema, or no
//! readable tick. Unreadable lines after the header (a torn last line, or garbage in the
//! middle) are skipped and listed in [`Recording::warnings`] by line number: an on-call
//! engineer wants the rest of the incident, and to be told what is missing.

pub mod events;
pub mod format;
pub mod proto;
pub mod reader;
pub mod time;
pub mod writer;

use std::path::Path;

use crate::safefs::SafeFsError;

pub use events::{Events, TOP_EVENT_ROWS};
pub use format::{Header, Tick, OLDEST_SCHEMA_VERSION, SCHEMA_VERSION, TOP_REMOTES};
pub use proto::ProtoCounts;
pub use reader::Recording;
pub use time::parse_time;
pub use writer::{HeaderInfo, Recorder};

/// What can go wrong writing or reading a recording. Display is one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Reading or writing the file failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("{file}: empty file, not a sockscope recording")]
    Empty {
        /// The file.
        file: String,
    },
    /// The first line is not a recording header.
    #[error("{file}: not a sockscope recording: {why}")]
    NotRecording {
        /// The file.
        file: String,
        /// What line 1 is instead.
        why: String,
    },
    /// The header line was cut short.
    #[error("{file}: line 1: truncated header (recorder killed while starting?)")]
    TruncatedHeader {
        /// The file.
        file: String,
    },
    /// Written by a newer sockscope.
    #[error("{file}: schema_version {found} is newer than this sockscope reads ({supported}); upgrade sockscope")]
    FutureSchema {
        /// The file.
        file: String,
        /// The file's schema version.
        found: u64,
        /// The newest this build reads.
        supported: u32,
    },
    /// A header but no readable tick.
    #[error("{file}: no readable tick after the header ({skipped} unreadable lines; recorder stopped before its first tick?)")]
    NoTicks {
        /// The file.
        file: String,
        /// Lines skipped as unreadable.
        skipped: usize,
    },
    /// A line longer than [`reader::MAX_LINE`].
    #[error("{file}: line {line}: longer than 1 GiB, not a sockscope recording")]
    LineTooLong {
        /// The file.
        file: String,
        /// The line number.
        line: u64,
    },
    /// `Recorder::create` would overwrite a file that is not a recording.
    #[error("{file}: exists and is not a sockscope recording; refusing to overwrite it")]
    WouldClobber {
        /// The file.
        file: String,
    },
    /// The file was refused by a root-safety rule ([`crate::safefs`]): a symlink, FIFO or
    /// device where a file was expected, a directory other users can change, a file over
    /// the size cap. Display is safefs' one line, which names the path and the reason.
    #[error("{0}")]
    Refused(SafeFsError),
    /// A tick could not be serialised.
    #[error("{file}: cannot encode tick: {source}")]
    Encode {
        /// The file.
        file: String,
        /// The serde error.
        source: serde_json::Error,
    },
    /// An `--at` time that is not understood.
    #[error("{file}: bad time {input:?}: {why}")]
    BadTime {
        /// The recording it was meant for.
        file: String,
        /// What the user typed.
        input: String,
        /// What is wrong, and what is accepted.
        why: String,
    },
}

impl RecordError {
    /// A safefs error as a record error: an OS error keeps the old `FILE: ERROR` shape.
    pub(crate) fn from_safefs(path: &Path, e: SafeFsError) -> RecordError {
        match e {
            SafeFsError::Io { source, .. } => RecordError::io(path, source),
            refusal => RecordError::Refused(refusal),
        }
    }

    fn io(path: &Path, source: std::io::Error) -> RecordError {
        RecordError::Io {
            file: path.display().to_string(),
            source,
        }
    }
}
