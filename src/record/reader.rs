//! Reading a recording back: [`Recording::from_reader`] stream-parses it line by line over
//! any `BufRead` (the fuzz target feeds it bytes), validating the header and keeping each
//! tick as a parsed [`Tick`].
//!
//! Owns parsing and lookup by time; no analysis and no presentation. Never panics on any
//! input.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::Deserialize;
use serde_json::error::Category;

use super::format::{Header, Tick, OLDEST_SCHEMA_VERSION, SCHEMA_VERSION};
use super::writer::is_header_start;
use super::RecordError;
use crate::safefs::{self, ReadKind};

/// Longest line read (a tick with ~4M sockets); longer is an error, not an allocation.
pub const MAX_LINE: u64 = 1 << 30;

/// At most this many warnings are listed one by one; the rest are counted in one more.
const MAX_WARNINGS: usize = 20;

/// A recording read into memory.
#[derive(Debug, Clone)]
pub struct Recording {
    name: String,
    header: Header,
    ticks: Vec<Tick>,
    // Whether ticks are in time order (the wall clock may step back during a recording).
    sorted: bool,
    /// What was skipped and why, one line each, e.g.
    /// `line 57: torn last record skipped (kill -9 while writing?)`.
    pub warnings: Vec<String>,
}

/// Just enough of the first line to tell what it is before reading all of it.
#[derive(Deserialize)]
struct Probe {
    kind: Option<String>,
    schema_version: Option<u64>,
}

/// Why a line after the header was not read, resolved once we know whether it was last.
struct Bad {
    line: u64,
    complete: bool,
    why: String,
}

impl Recording {
    /// Opens and reads the recording at `path`.
    pub fn open(path: &Path) -> Result<Recording, RecordError> {
        // Through safefs: a FIFO or a device (`/dev/zero`) is refused before it is opened,
        // so it can neither block nor feed an endless line; MAX_LINE caps each line.
        let file = safefs::open_read(path, ReadKind::Recording)
            .map_err(|e| RecordError::from_safefs(path, e))?;
        Recording::from_reader(BufReader::new(file), &path.display().to_string())
    }

    /// Reads a recording from `input`; `name` is the file name errors and warnings cite.
    ///
    /// Errors: an empty input, a first line that is not a sockscope header (not JSON,
    /// another kind, truncated), a newer `schema_version`, a line over [`MAX_LINE`], or no
    /// readable tick at all. Unreadable lines after the header are skipped with a warning
    /// naming the line: a torn last line is what `kill -9` leaves, and a bad line in the
    /// middle (a disk that filled up, then freed) should not hide the rest of an incident.
    pub fn from_reader(mut input: impl BufRead, name: &str) -> Result<Recording, RecordError> {
        let mut buf = Vec::new();
        let first = read_line(&mut input, &mut buf, name, 1)?;
        let header = match first {
            None => return Err(RecordError::Empty { file: name.into() }),
            Some(complete) => parse_header(&buf, complete, name)?,
        };
        let mut ticks: Vec<Tick> = Vec::new();
        let mut warnings = Vec::new();
        let mut skipped = 0usize;
        let mut pending: Option<Bad> = None;
        let mut line_no = 1u64;
        loop {
            line_no += 1;
            let got = read_line(&mut input, &mut buf, name, line_no)?;
            if let Some(bad) = pending.take() {
                skipped += 1;
                let what = match (got.is_none(), bad.complete) {
                    (true, false) => "torn last record skipped (kill -9 while writing?)".into(),
                    (true, true) => format!("unreadable last record skipped: {}", bad.why),
                    (false, _) => format!("unreadable record skipped: {}", bad.why),
                };
                if warnings.len() < MAX_WARNINGS {
                    warnings.push(format!("line {}: {what}", bad.line));
                }
            }
            let Some(complete) = got else { break };
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            match serde_json::from_slice::<Tick>(line) {
                Ok(t) => ticks.push(t),
                Err(e) => {
                    pending = Some(Bad {
                        line: line_no,
                        complete,
                        why: short(&e),
                    })
                }
            }
        }
        if skipped > warnings.len() {
            warnings.push(format!(
                "{} more unreadable lines skipped",
                skipped - warnings.len()
            ));
        }
        if ticks.is_empty() {
            return Err(RecordError::NoTicks {
                file: name.into(),
                skipped,
            });
        }
        let sorted = ticks
            .windows(2)
            .all(|w| w[0].taken_at_ms <= w[1].taken_at_ms);
        if !sorted {
            warnings.push(
                "the clock went backwards during the recording; ticks are kept in file order"
                    .into(),
            );
        }
        Ok(Recording {
            name: name.into(),
            header,
            ticks,
            sorted,
            warnings,
        })
    }

    /// The file name errors and warnings cite.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Every readable tick, in file order (never empty).
    pub fn ticks(&self) -> &[Tick] {
        &self.ticks
    }

    /// The last tick taken at or before `t_ms`; for a `t_ms` before the first tick, the
    /// first. `None` only for a recording without ticks, which [`Recording::open`] never
    /// returns.
    pub fn tick_at(&self, t_ms: i64) -> Option<&Tick> {
        if self.sorted {
            let i = self.ticks.partition_point(|t| t.taken_at_ms <= t_ms);
            return self.ticks.get(i.saturating_sub(1));
        }
        // The latest tick not after t; ties go to the later line.
        let at_or_before =
            self.ticks
                .iter()
                .filter(|t| t.taken_at_ms <= t_ms)
                .fold(None::<&Tick>, |best, t| match best {
                    Some(b) if b.taken_at_ms > t.taken_at_ms => Some(b),
                    _ => Some(t),
                });
        at_or_before.or_else(|| self.ticks.iter().min_by_key(|t| t.taken_at_ms))
    }

    /// Time of the first tick (ms since the epoch).
    pub fn first_ms(&self) -> i64 {
        self.ticks.iter().map(|t| t.taken_at_ms).min().unwrap_or(0)
    }

    /// Time of the last tick (ms since the epoch).
    pub fn last_ms(&self) -> i64 {
        self.ticks.iter().map(|t| t.taken_at_ms).max().unwrap_or(0)
    }
}

/// Reads one line into `buf`: `None` at the end of input, else whether it ended in `\n`.
fn read_line(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    name: &str,
    line: u64,
) -> Result<Option<bool>, RecordError> {
    buf.clear();
    let n = input
        .by_ref()
        .take(MAX_LINE + 1)
        .read_until(b'\n', buf)
        .map_err(|e| RecordError::io(Path::new(name), e))?;
    if n as u64 > MAX_LINE {
        return Err(RecordError::LineTooLong {
            file: name.into(),
            line,
        });
    }
    Ok((n > 0).then(|| buf.last() == Some(&b'\n')))
}

fn parse_header(buf: &[u8], complete: bool, name: &str) -> Result<Header, RecordError> {
    let line = buf.strip_suffix(b"\n").unwrap_or(buf);
    let not = |why: String| RecordError::NotRecording {
        file: name.into(),
        why,
    };
    let probe: Probe = match serde_json::from_slice(line) {
        Ok(p) => p,
        Err(e) if !complete && e.classify() == Category::Eof && is_header_start(line) => {
            return Err(RecordError::TruncatedHeader { file: name.into() })
        }
        Err(e) if matches!(e.classify(), Category::Syntax | Category::Eof) => {
            return Err(not("line 1 is not JSON".into()))
        }
        Err(_) => return Err(not("line 1 is not a JSON object".into())),
    };
    match (probe.kind.as_deref(), probe.schema_version) {
        (Some("header"), Some(v)) if v > u64::from(SCHEMA_VERSION) => {
            Err(RecordError::FutureSchema {
                file: name.into(),
                found: v,
                supported: SCHEMA_VERSION,
            })
        }
        (Some("header"), Some(v))
            if (u64::from(OLDEST_SCHEMA_VERSION)..=u64::from(SCHEMA_VERSION)).contains(&v) =>
        {
            serde_json::from_slice(line).map_err(|e| not(format!("bad header: {}", short(&e))))
        }
        (Some("header"), Some(v)) => Err(not(format!("unknown schema_version {v}"))),
        (Some("header"), None) => Err(not("header has no schema_version".into())),
        (Some(k), _) => {
            let k: String = k.chars().take(40).collect();
            Err(not(format!("line 1 is a {k:?} record, not a header")))
        }
        (None, _) => Err(not("line 1 has no \"kind\"".into())),
    }
}

/// A serde error in one line, without the `at line 1` that means nothing here.
fn short(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => format!("{} (column {})", &msg[..i], e.column()),
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    /// A snapshot file holds what one recorded line may: the same cap.
    #[test]
    fn snapshot_cap_matches_the_recording_line_cap() {
        assert_eq!(crate::safefs::ReadKind::Snapshot.cap(), super::MAX_LINE);
    }

    use super::*;
    use std::io::Cursor;

    const HEADER: &str = r#"{"kind":"header","schema_version":1,"host":"h","kernel":"k","interval_ms":1000,"started_at":"1970-01-01T00:00:00Z","started_at_ms":0,"netns":"host","sockets":false,"sockscope_version":"0"}"#;

    fn tick(ms: i64, close_wait: u64) -> String {
        format!(
            r#"{{"kind":"tick","taken_at_ms":{ms},"source":"proc","collect_us":1,"states":{{"CLOSE_WAIT":{close_wait}}},"processes":[],"listeners":[],"remotes":[],"ownership":{{}},"quality":{{}},"alerts":[],"rates":null,"counters":null,"sysctls":null}}"#
        )
    }

    fn read(lines: &[String]) -> Result<Recording, RecordError> {
        Recording::from_reader(Cursor::new(lines.join("\n") + "\n"), "t.jsonl")
    }

    #[test]
    fn clock_stepping_back_keeps_file_order_and_warns() {
        let rec = read(&[HEADER.into(), tick(1000, 1), tick(3000, 3), tick(2000, 2)]).unwrap();
        let cw = |t: &Tick| t.states.0.get(crate::model::TcpState::CloseWait);
        assert_eq!(rec.ticks().iter().map(cw).collect::<Vec<_>>(), [1, 3, 2]);
        assert!(rec.warnings[0].contains("clock went backwards"));
        assert_eq!(rec.tick_at(2500).map(cw), Some(2));
        assert_eq!(rec.tick_at(0).map(cw), Some(1));
        assert_eq!(rec.tick_at(9999).map(cw), Some(3));
        assert_eq!((rec.first_ms(), rec.last_ms()), (1000, 3000));
    }

    #[test]
    fn many_bad_lines_make_a_bounded_list_of_warnings() {
        let mut lines = vec![HEADER.to_string(), tick(1000, 1)];
        lines.extend((0..100).map(|i| format!("garbage {i}")));
        lines.push(tick(2000, 2));
        let rec = read(&lines).unwrap();
        assert_eq!(rec.ticks().len(), 2);
        assert_eq!(rec.warnings.len(), MAX_WARNINGS + 1);
        assert!(rec.warnings[0].starts_with("line 3: unreadable record skipped"));
        assert_eq!(
            rec.warnings[MAX_WARNINGS],
            "80 more unreadable lines skipped"
        );
    }

    #[test]
    fn unknown_state_names_make_a_line_unreadable() {
        let bad = tick(2000, 2).replace("CLOSE_WAIT", "CLOSE_WIAT");
        let rec = read(&[HEADER.into(), tick(1000, 1), bad]).unwrap();
        assert_eq!(rec.ticks().len(), 1);
        assert!(
            rec.warnings[0].contains("unknown state CLOSE_WIAT"),
            "{:?}",
            rec.warnings
        );
        assert!(rec.warnings[0].starts_with("line 3: unreadable last record skipped"));
    }

    #[test]
    fn a_long_foreign_kind_is_cut_short() {
        let line = format!(r#"{{"kind":"{}"}}"#, "x".repeat(10_000));
        let e = read(&[line]).unwrap_err().to_string();
        assert!(e.len() < 200, "{e}");
    }
}
