//! Writing a recording: [`Recorder`] appends one JSON line per tick and hands it to the
//! kernel before returning, so a `kill -9` loses at most the line being written.
//!
//! Owns the output file only; it never reads the kernel's sockets or runs analysis.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::time::rfc3339;
use crate::analyze::engine::Analysis;
use crate::model::Snapshot;
use crate::safefs::{self, SafeFsError, WriteOpts};

use super::format::{Header, HeaderKind, Tick, SCHEMA_VERSION};
use super::RecordError;

/// What the header says about a recording, supplied by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Host name.
    pub host: String,
    /// Kernel release.
    pub kernel: String,
    /// Poll interval in milliseconds.
    pub interval_ms: u64,
    /// Start of the recording, ms since the epoch.
    pub started_at_ms: i64,
    /// Network namespace recorded.
    pub netns: String,
    /// Whether every tick carries the full socket list.
    pub sockets: bool,
}

impl HeaderInfo {
    /// Header info for this machine now: host name and kernel release from
    /// `/proc/sys/kernel/{hostname,osrelease}` (`unknown` when unreadable).
    pub fn detect(netns: &str, interval_ms: u64, sockets: bool) -> HeaderInfo {
        let read = |name: &str| {
            std::fs::read_to_string(Path::new("/proc/sys/kernel").join(name))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".to_string())
        };
        let started_at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        HeaderInfo {
            host: read("hostname"),
            kernel: read("osrelease"),
            interval_ms,
            started_at_ms,
            netns: netns.to_string(),
            sockets,
        }
    }

    fn header(&self) -> Header {
        Header {
            kind: HeaderKind::Header,
            schema_version: SCHEMA_VERSION,
            host: self.host.clone(),
            kernel: self.kernel.clone(),
            interval_ms: self.interval_ms,
            started_at: rfc3339(self.started_at_ms),
            started_at_ms: self.started_at_ms,
            netns: self.netns.clone(),
            sockets: self.sockets,
            sockscope_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Appends ticks to a recording file.
#[derive(Debug)]
pub struct Recorder {
    file: File,
    path: PathBuf,
    sockets: bool,
    // Length of the file up to the last complete line: a failed write is cut back to it,
    // so a full disk leaves no torn line in the middle of the recording.
    len: u64,
    sync_every: u32,
    ticks: u64,
    buf: Vec<u8>,
}

impl Recorder {
    /// Creates `path` (mode 0600) and writes the header line, as root only in a directory
    /// no other user can change; see [`Recorder::create_with`].
    pub fn create(path: &Path, info: &HeaderInfo) -> Result<Recorder, RecordError> {
        Recorder::create_with(path, info, &WriteOpts::default())
    }

    /// Creates `path` through [`safefs::create_replacing`]: mode 0600 whatever the umask,
    /// never through a symlink, and as root only in a directory no other user can change
    /// (unless `opts.force`). An existing file is replaced (a new file renamed over it, not
    /// truncated) only when it is empty or starts like a sockscope recording; anything else
    /// is [`RecordError::WouldClobber`], so a log file or a config typed by mistake after
    /// `-o` survives. A symlink, FIFO, device or directory at `path` is refused
    /// ([`RecordError::Refused`]) and its target is not touched.
    pub fn create_with(
        path: &Path,
        info: &HeaderInfo,
        opts: &WriteOpts,
    ) -> Result<Recorder, RecordError> {
        let file =
            safefs::create_replacing(path, opts, looks_like_recording).map_err(|e| match e {
                SafeFsError::Declined { .. } => RecordError::WouldClobber {
                    file: path.display().to_string(),
                },
                e => RecordError::from_safefs(path, e),
            })?;
        let mut rec = Recorder {
            file,
            path: path.to_path_buf(),
            sockets: info.sockets,
            len: 0,
            sync_every: 0,
            ticks: 0,
            buf: Vec::new(),
        };
        let header = info.header();
        rec.write_line(&header)?;
        Ok(rec)
    }

    /// Also `fdatasync` the file every `n` ticks (0, the default: never). Each line is
    /// already in the kernel when [`Recorder::append`] returns, which survives the process
    /// being killed; syncing only adds survival of a machine crash or power loss.
    pub fn set_sync_every(&mut self, n: u32) {
        self.sync_every = n;
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far (complete lines only).
    pub fn bytes_written(&self) -> u64 {
        self.len
    }

    /// Appends one tick for `snap` and its analysis, written whole and flushed.
    pub fn append(&mut self, snap: &Snapshot, analysis: &Analysis) -> Result<(), RecordError> {
        let tick = Tick::new(snap, analysis, self.sockets);
        self.write_line(&tick)?;
        self.ticks += 1;
        if self.sync_every > 0 && self.ticks % u64::from(self.sync_every) == 0 {
            self.file
                .sync_data()
                .map_err(|e| RecordError::io(&self.path, e))?;
        }
        Ok(())
    }

    fn write_line<T: serde::Serialize>(&mut self, value: &T) -> Result<(), RecordError> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, value).map_err(|e| RecordError::Encode {
            file: self.path.display().to_string(),
            source: e,
        })?;
        self.buf.push(b'\n');
        // One write_all of the whole line: readers and a kill -9 see either nothing of it,
        // or (rarely, for a huge line) a torn tail that the reader skips.
        let written = self
            .file
            .write_all(&self.buf)
            .and_then(|()| self.file.flush());
        if let Err(e) = written {
            // Best effort: the write error is what the caller needs to see.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(RecordError::io(&self.path, e));
        }
        self.len += self.buf.len() as u64;
        Ok(())
    }
}

/// Whether the file at the name `-o` gives may be replaced: empty, or its first line
/// (read up to 4 KiB) starts like a recording header.
fn looks_like_recording(existing: &mut File) -> bool {
    let mut first = Vec::new();
    BufReader::new(existing)
        .take(4096)
        .read_until(b'\n', &mut first)
        .map(|_| first.is_empty() || is_header_start(&first))
        .unwrap_or(false)
}

/// Whether `line` starts like a recording header (`{"kind":"header"`), as this writer
/// spells it.
pub(crate) fn is_header_start(line: &[u8]) -> bool {
    line.starts_with(br#"{"kind":"header""#)
}
