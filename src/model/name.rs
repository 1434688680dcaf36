//! [`Name`]: text an untrusted party chose (process comm, user names, UNIX socket paths,
//! cgroup and unit names), kept as the exact bytes the kernel gave us.
//!
//! sockscope runs as root and prints these names, so every face (table, dashboard, JSON,
//! CSV, Prometheus) goes through this one rule. A `Name` derefs to nothing: `Display` writes
//! the escaped form, and the raw bytes are reachable only through [`Name::raw_bytes`] and
//! [`Name::as_utf8`], which are for exact comparisons, filters and serialisation, never for
//! printing. This module owns the escape rule and its width arithmetic; it does no I/O and
//! knows nothing of the presenters that use it.
//!
//! # The escape rule
//!
//! The raw bytes are split into UTF-8 characters and invalid bytes, then:
//! - `\` becomes `\\`;
//! - `\n` `\t` `\r` `\e` (ESC, 0x1b) `\a` (BEL) `\b` (BS) `\f` (FF) `\v` (VT) `\0` (NUL)
//!   are written as those two-character escapes;
//! - every other C0 control (0x01–0x1f) and DEL (0x7f) becomes `\xNN` (two lowercase hex
//!   digits);
//! - every byte that is not part of valid UTF-8 becomes `\xNN`, one escape per byte;
//! - the C1 controls U+0080–U+009F (valid UTF-8, two bytes each), the format characters
//!   (`Cf`: bidi marks, embeddings, overrides and isolates, zero-width space/joiners, word
//!   joiner, BOM, soft hyphen, tag characters, …) and U+2028/U+2029 (`Zl`/`Zp`) become
//!   `\u{X}`: the code point in lowercase hex, no padding, as Rust writes it (`\u{9b}`,
//!   `\u{202e}`). A code point escape always means the UTF-8 encoding of that code point;
//!   `\xNN` always means the one raw byte NN;
//! - a zero-width character (a combining mark, a variation selector) that has no printed
//!   character before it in the name (at the start, or right after an escape) becomes
//!   `\u{X}` too, so it cannot combine with the cell left of the name;
//! - every other character passes through, wide CJK and combining marks included.
//!
//! The result holds no byte below 0x20, no DEL, no C1, bidi or other format control. Every
//! `\` in it starts an escape, and each escape decodes to exactly the bytes it came from, so
//! two different names never escape to the same text. It is close to the kernel's
//! `string_escape_mem` and GNU `ls --quoting-style=escape`, plus code point escapes.
//!
//! Width: [`Name::width`] counts terminal columns with `unicode-width`. `format!("{:<10}")`
//! on a `&str` pads by chars, not columns, so tables use [`Name::pad_to`] or the width and
//! precision of `Name`'s own `Display`, which count columns.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::ops::ControlFlow;
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Untrusted text as raw bytes; `Display` writes the escaped, terminal-safe form.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<[u8]>);

/// A name could not be restored from a recording.
#[derive(Debug, thiserror::Error)]
#[error("bad base64 in a raw name field: {0}")]
pub struct NameDecodeError(#[from] base64::DecodeError);

/// One piece of the escaped form: a printed character with the zero-width characters that
/// follow it, or one escape. A cut happens only between units.
enum Unit<'a> {
    Text(&'a str),
    Escape(Escape),
}

/// An escape as ASCII; `\u{10ffff}` is the longest at 10 bytes.
struct Escape {
    buf: [u8; 10],
    len: usize,
}

impl Escape {
    fn new(args: fmt::Arguments<'_>) -> Escape {
        let mut e = Escape {
            buf: [0; 10],
            len: 0,
        };
        // Cannot fail: every escape the rule writes fits in 10 bytes.
        let _ = e.write_fmt(args);
        e
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("\\?")
    }
}

impl fmt::Write for Escape {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl Unit<'_> {
    fn as_str(&self) -> &str {
        match self {
            Unit::Text(s) => s,
            Unit::Escape(e) => e.as_str(),
        }
    }
}

/// Format characters (`Cf`), line and paragraph separators: they reorder, hide or break
/// the text around them. The full `Cf` list of Unicode 15, small enough to keep here, plus
/// the unassigned code points of the same invisible blocks (U+2065, U+FFF0–FFF8, the rest of
/// U+E0000–E0FFF), which a later Unicode may make format characters and a terminal already
/// draws as nothing: the fuzzer found U+2065 passing through.
fn is_format(c: char) -> bool {
    matches!(u32::from(c),
        0x00ad | 0x0600..=0x0605 | 0x061c | 0x06dd | 0x070f | 0x0890..=0x0891 | 0x08e2
        | 0x180e | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f
        | 0xfeff | 0xfff0..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f
        | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0000..=0xe0fff)
}

/// The escape for `c`, or `None` when it may pass through.
fn escape_char(c: char) -> Option<Escape> {
    let short = match c {
        '\\' => "\\\\",
        '\n' => "\\n",
        '\t' => "\\t",
        '\r' => "\\r",
        '\x1b' => "\\e",
        '\x07' => "\\a",
        '\x08' => "\\b",
        '\x0c' => "\\f",
        '\x0b' => "\\v",
        '\0' => "\\0",
        '\x01'..='\x1f' | '\x7f' => {
            return Some(Escape::new(format_args!("\\x{:02x}", u32::from(c))))
        }
        '\u{80}'..='\u{9f}' => return Some(code_point(c)),
        _ if is_format(c) => return Some(code_point(c)),
        _ => return None,
    };
    Some(Escape::new(format_args!("{short}")))
}

/// `s` with its control and format characters escaped as [`Name`] escapes them, and its
/// backslashes left alone. For a message line that quotes values already escaped (an error
/// naming a bad argument as `{:?}` does): the line cannot be split and carries no control
/// byte, and an escaped value is not escaped twice. Unlike [`Name`]'s `Display` it is not
/// injective, so it is for messages, never for names shown in tables or compared.
pub fn escape_controls(s: &str) -> String {
    escape_controls_but(s, &[])
}

/// [`escape_controls`], leaving the characters of `keep` (a multi-line text's `\n`) alone.
pub fn escape_controls_but(s: &str, keep: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match escape_char(c) {
            Some(e) if c != '\\' && !keep.contains(&c) => out.push_str(e.as_str()),
            _ => out.push(c),
        }
    }
    out
}

/// Deserializes a one-line display text (a namespace label, a host name, a finding's
/// message) from a file another user may have written, with its control characters
/// escaped: what was escaped when written reads back unchanged, and nothing raw gets in.
pub fn deserialize_line<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d).map(|s| escape_controls(&s))
}

/// [`deserialize_line`] for a multi-line text: its newlines stay.
pub fn deserialize_lines<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    String::deserialize(d).map(|s| escape_controls_but(&s, &['\n']))
}

fn code_point(c: char) -> Escape {
    Escape::new(format_args!("\\u{{{:x}}}", u32::from(c)))
}

/// Walks the escaped form of `bytes` unit by unit until `emit` breaks.
fn walk<B>(bytes: &[u8], mut emit: impl FnMut(Unit<'_>) -> ControlFlow<B>) -> ControlFlow<B> {
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        // Start of the unit being built: a printed character and its zero-width followers.
        let mut open: Option<usize> = None;
        for (i, c) in valid.char_indices() {
            let esc = match escape_char(c) {
                Some(e) => Some(e),
                None if c.width().unwrap_or(0) > 0 => {
                    if let Some(start) = open.replace(i) {
                        emit(Unit::Text(&valid[start..i]))?;
                    }
                    None
                }
                None if open.is_some() => None,
                None => Some(code_point(c)),
            };
            if let Some(e) = esc {
                if let Some(start) = open.take() {
                    emit(Unit::Text(&valid[start..i]))?;
                }
                emit(Unit::Escape(e))?;
            }
        }
        if let Some(start) = open {
            emit(Unit::Text(&valid[start..]))?;
        }
        for b in chunk.invalid() {
            emit(Unit::Escape(Escape::new(format_args!("\\x{b:02x}"))))?;
        }
    }
    ControlFlow::Continue(())
}

impl Name {
    /// A name from raw bytes, as read from the kernel.
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Name {
        Name(Arc::from(bytes.as_ref()))
    }

    /// Restores the exact bytes from a recording: `raw_b64` (the sibling field written from
    /// [`Name::raw_b64`]) wins when present, otherwise the name is `text`.
    pub fn from_parts(text: &str, raw_b64: Option<&str>) -> Result<Name, NameDecodeError> {
        match raw_b64 {
            Some(b64) => Ok(Name::from(
                base64::engine::general_purpose::STANDARD.decode(b64)?,
            )),
            None => Ok(Name::from(text)),
        }
    }

    /// The exact bytes, for exact comparisons, filters and serialisation, never for printing.
    pub fn raw_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The exact text when it is valid UTF-8, for exact comparisons, filters and
    /// serialisation, never for printing.
    pub fn as_utf8(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The raw bytes in standard base64, only when they are not valid UTF-8 (the JSON string
    /// is then lossy). Meant for a sibling field such as `comm_b64`, skipped when `None`.
    pub fn raw_b64(&self) -> Option<String> {
        match self.as_utf8() {
            Some(_) => None,
            None => Some(base64::engine::general_purpose::STANDARD.encode(&self.0)),
        }
    }

    /// The text field of a wire format (JSON, a recording): the exact text when the bytes
    /// are UTF-8, lossy otherwise, with [`Name::raw_b64`] as its sibling. Never for printing.
    pub fn wire_text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    /// The escaped, terminal-safe form (see the module docs); borrowed when nothing needed
    /// escaping.
    pub fn escaped(&self) -> Cow<'_, str> {
        if let Some(s) = self.as_utf8() {
            if walk(&self.0, |u| match u {
                Unit::Text(_) => ControlFlow::Continue(()),
                Unit::Escape(_) => ControlFlow::Break(()),
            })
            .is_continue()
            {
                return Cow::Borrowed(s);
            }
        }
        let mut out = String::with_capacity(self.0.len());
        let _ = walk::<()>(&self.0, |u| {
            out.push_str(u.as_str());
            ControlFlow::Continue(())
        });
        Cow::Owned(out)
    }

    /// Terminal columns of the escaped form.
    pub fn width(&self) -> usize {
        self.escaped().width()
    }

    /// The escaped form cut to at most `max_cols` columns. A cut falls between characters
    /// (a combining mark stays with its base) and between escapes, and ends in `…`.
    pub fn fit(&self, max_cols: usize) -> Cow<'_, str> {
        self.cut(max_cols, UnicodeWidthStr::width)
    }

    /// Exactly `cols` columns: [`Name::fit`], then spaces on the right. Use this (or
    /// `{:<N}` on the `Name` itself), not `{:<N}` on a string, which pads by chars.
    pub fn pad_to(&self, cols: usize) -> String {
        let fitted = self.fit(cols);
        let pad = cols.saturating_sub(fitted.width());
        let mut out = String::with_capacity(fitted.len() + pad);
        out.push_str(&fitted);
        out.extend(std::iter::repeat_n(' ', pad));
        out
    }

    /// The escaped form as one CSV field, quoted per RFC 4180 when it holds `,` `"` CR or
    /// LF (quotes doubled). The escaped form, not the raw bytes, so a spreadsheet or pager
    /// never sees a control byte; read the exact bytes from JSON instead.
    pub fn csv_field(&self) -> Cow<'_, str> {
        let text = self.escaped();
        if !text.contains([',', '"', '\r', '\n']) {
            return text;
        }
        Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    }

    /// The escaped form as a Prometheus label value of at most `max_len` bytes, cut like
    /// [`Name::fit`]. The exposition crate still escapes `\` `"` and newlines itself.
    pub fn label_value(&self, max_len: usize) -> Cow<'_, str> {
        self.cut(max_len, str::len)
    }

    /// The escaped form, whole when `measure` of it is at most `max`, otherwise the longest
    /// run of whole units that still fits with a trailing `…` (empty when not even `…` fits).
    fn cut(&self, max: usize, measure: impl Fn(&str) -> usize) -> Cow<'_, str> {
        let whole = self.escaped();
        if measure(&whole) <= max {
            return whole;
        }
        let mut out = String::new();
        let mut candidate = String::new();
        let _ = walk(&self.0, |u| {
            candidate.clear();
            candidate.push_str(&out);
            candidate.push_str(u.as_str());
            candidate.push('…');
            if measure(&candidate) > max {
                return ControlFlow::Break(());
            }
            out.push_str(u.as_str());
            ControlFlow::Continue(())
        });
        out.push('…');
        if measure(&out) > max {
            out.clear();
        }
        Cow::Owned(out)
    }
}

impl fmt::Display for Name {
    /// The escaped form. A precision cuts it to that many columns ([`Name::fit`]); a width
    /// pads it to that many columns (default left-aligned), counting a fill char as one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match f.precision() {
            Some(p) => self.fit(p),
            None => self.escaped(),
        };
        let pad = f.width().unwrap_or(0).saturating_sub(text.width());
        let (before, after) = match f.align() {
            Some(fmt::Alignment::Right) => (pad, 0),
            Some(fmt::Alignment::Center) => (pad / 2, pad - pad / 2),
            Some(fmt::Alignment::Left) | None => (0, pad),
        };
        let fill = f.fill();
        for _ in 0..before {
            f.write_char(fill)?;
        }
        f.write_str(&text)?;
        for _ in 0..after {
            f.write_char(fill)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.escaped())
    }
}

impl From<&[u8]> for Name {
    fn from(bytes: &[u8]) -> Name {
        Name::from_bytes(bytes)
    }
}

impl From<Vec<u8>> for Name {
    fn from(bytes: Vec<u8>) -> Name {
        Name(Arc::from(bytes))
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Name {
        Name::from_bytes(text)
    }
}

impl From<String> for Name {
    fn from(text: String) -> Name {
        Name::from(text.into_bytes())
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other.as_bytes()
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl Serialize for Name {
    /// The exact text when valid UTF-8, else the lossy text (U+FFFD); pair it with
    /// [`Name::raw_b64`] to keep the bytes.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(&self.0))
    }
}

impl<'de> Deserialize<'de> for Name {
    /// From a JSON string; restore non-UTF-8 bytes with [`Name::from_parts`].
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

#[cfg(test)]
#[path = "name_tests.rs"]
mod tests;
