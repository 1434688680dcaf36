//! Number and duration formatting shared by the panels: compact counts, ages and rates that
//! keep columns narrow, and names cut to a column. Pure functions; no styling here.
//!
//! A name an unprivileged user chose (comm, user, netns label) reaches a panel only through
//! [`name`] (or `Name`'s own `Display`): escaped, so `\e[7m` shows as text instead of being
//! dropped or obeyed, and cut by terminal columns, so a wide name keeps the columns right
//! of it aligned. [`clip`] is for our own text.

use crate::model::{Name, UnixName};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// A count in at most five characters: `812`, `12.3k`, `4.1M`.
pub fn count(n: u64) -> String {
    match n {
        0..=99_999 => n.to_string(),
        100_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{:.1}M", n as f64 / 1_000_000.0),
    }
}

/// A duration in milliseconds as `850ms`, `42s`, `7m03s`, `2h10m` or `3d04h`.
pub fn age_ms(ms: i64) -> String {
    if ms < 0 {
        return "-".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// A signed growth rate per minute, written exactly as findings' messages write it
/// ([`crate::analyze::finding::human_growth`]: `+12/min`, `-3/min`, `+0/min`, `+1.5/min`), so
/// one screen never shows two styles.
pub fn per_min(rate: f64) -> String {
    crate::analyze::finding::human_growth(rate)
}

/// A non-negative rate per second: `0/s`, `0.5/s`, `120/s`.
pub fn per_sec(rate: f64) -> String {
    if rate < 0.05 {
        "0/s".into()
    } else if rate >= 10.0 {
        format!("{rate:.0}/s")
    } else {
        format!("{rate:.1}/s")
    }
}

/// `n` escaped and cut to at most `width` terminal columns, marking a cut with `…`.
pub fn name(n: &Name, width: usize) -> String {
    n.fit(width).into_owned()
}

/// A UNIX socket's name as `ss -x` prints it (the path, or `@` and the abstract name with
/// its NULs as `@`), escaped exactly as [`UnixName`]'s `Display` escapes it, and cut to at
/// most `width` terminal columns with `…` (never mid-escape).
pub fn unix_name(n: &UnixName, width: usize) -> String {
    match n {
        UnixName::Path(p) => name(p, width),
        UnixName::Abstract(a) => {
            let mut shown = Vec::with_capacity(a.raw_bytes().len() + 1);
            shown.push(b'@');
            shown.extend(a.raw_bytes().iter().map(|&b| if b == 0 { b'@' } else { b }));
            name(&Name::from_bytes(shown), width)
        }
    }
}

/// A count the kernel may not have given: [`count`], or `-` when unknown (never 0).
pub fn maybe(n: Option<impl Into<u64>>) -> String {
    n.map_or_else(|| "-".into(), |n| count(n.into()))
}

/// Cuts `s` (our own text, or a name already escaped: see [`name`]) to at most `width`
/// terminal columns, marking the cut with `…`: wide characters count twice.
pub fn clip(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// Cuts `s` to at most `width` columns like [`clip`], but never through a number: a
/// trailing `[pid]` or `:port` stays whole and the text before it is cut instead (`pyth…[10055]`,
/// `[2001:db8:…]:8080`); a bare number that does not fit shows as `…` alone, never as
/// a shorter number that reads as another one.
pub fn fit(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if let Some(at) = number_tail(s) {
        let (head, tail) = s.split_at(at);
        let tail_w = tail.width();
        if tail_w < width {
            return format!("{}{tail}", clip(head, width - tail_w));
        }
    }
    if number_tail(s).is_some() || is_number(s) {
        return if width > 0 {
            "…".into()
        } else {
            String::new()
        };
    }
    clip(s, width)
}

/// Where the number `s` ends with starts: its `[digits]` or `:digits` suffix.
fn number_tail(s: &str) -> Option<usize> {
    let digits_before = |end: usize| {
        let body = &s[..end];
        let start = body.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        (start < end).then_some(start)
    };
    if let Some(inner) = s.strip_suffix(']') {
        let start = digits_before(inner.len())?;
        return s[..start].ends_with('[').then(|| start - 1);
    }
    let start = digits_before(s.len())?;
    s[..start].ends_with(':').then(|| start - 1)
}

/// Whether `s` is a count, rate or ratio (`12.3k`, `0/300`, `45%`) rather than words.
fn is_number(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || ".,%/kMG+- ".contains(c))
}

/// Cuts `s` to at most `width` columns at a space, marking the cut with `…`, so no word
/// (and no number: `0.0.0.0:80`, `300`) is shown in part; a first word wider than `width`
/// is cut by [`fit`].
pub fn clip_words(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if c == ' ' && s[..i].width() + 2 <= width {
            end = i;
        }
    }
    if end > 0 {
        return format!("{}…", &s[..=end]);
    }
    // Not even the first word and a space: that word whole and the mark, else the word
    // fitted (a number's tail kept).
    let lead = s.len() - s.trim_start().len();
    let first_end = lead + s[lead..].split(' ').next().unwrap_or("").len();
    if s[..first_end].width() < width {
        format!("{}…", &s[..first_end])
    } else if lead > 0 && s[..lead].width() < width {
        format!("{}…", &s[..lead])
    } else {
        fit(&s[lead..first_end], width)
    }
}

/// `flat at 300` when every value of a series is the same (and there are at least two):
/// a flat trend drawn as a line or `▁▁▁` says nothing of its level, these words do.
pub fn flat(values: impl IntoIterator<Item = f64>) -> Option<String> {
    let mut it = values.into_iter();
    let first = it.next()?;
    let mut n = 1;
    for v in it {
        if v != first {
            return None;
        }
        n += 1;
    }
    (n >= 2 && first >= 0.0).then(|| format!("flat at {}", count(first as u64)))
}

/// A state name short enough for a column header, in one style: a two-part name keeps its
/// first part and the second's initial (`SYN_R`, `FIN_W2`, `CLOSE_W`), a one-word name at
/// most six letters (`ESTAB`, as ss writes it).
pub fn state_short(s: crate::model::TcpState) -> &'static str {
    use crate::model::TcpState as S;
    match s {
        S::Established => "ESTAB",
        S::SynSent => "SYN_S",
        S::SynRecv => "SYN_R",
        S::FinWait1 => "FIN_W1",
        S::FinWait2 => "FIN_W2",
        S::TimeWait => "TIME_W",
        S::Close => "CLOSE",
        S::CloseWait => "CLOSE_W",
        S::LastAck => "LAST_A",
        S::Listen => "LISTEN",
        S::Closing => "CLOSING",
    }
}

/// ` in nginx.service` (or the container) for a subject whose owner's cgroup names one.
pub(super) fn owner_in(s: &crate::analyze::finding::Subject) -> String {
    s.group_label()
        .map(|l| format!(" in {l}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_cut_by_columns() {
        assert_eq!(name(&Name::from("\x1b[7mEVIL"), 15), "\\e[7mEVIL");
        // Five wide chars are ten columns: cut at 7 columns keeps three and the mark.
        assert_eq!(name(&Name::from("漢字漢字漢"), 7), "漢字漢…");
        assert_eq!(name(&Name::from("漢字漢字漢"), 10), "漢字漢字漢");
    }

    #[test]
    fn unix_names_print_as_their_display_and_cut_with_a_mark() {
        let hostile = UnixName::Path(Name::from_bytes(b"/tmp/\x1b[31mred\xff.sock"));
        assert_eq!(unix_name(&hostile, 80), hostile.to_string());
        assert!(!unix_name(&hostile, 80).contains('\x1b'));
        let abs = UnixName::Abstract(Name::from_bytes(b"dbus\0x"));
        assert_eq!(unix_name(&abs, 80), "@dbus@x");
        assert_eq!(unix_name(&abs, 80), abs.to_string());
        let cut = unix_name(&UnixName::Path(Name::from("/run/very/long/path.sock")), 10);
        assert!(cut.ends_with('…') && cut.chars().count() <= 10, "{cut}");
        assert_eq!(maybe(None::<u32>), "-");
        assert_eq!(maybe(Some(0u32)), "0");
    }

    #[test]
    fn fitting_never_cuts_a_number() {
        // The cut: `python3[1005` read as another pid.
        assert_eq!(fit("python3[10055]", 12), "pyth…[10055]");
        assert_eq!(fit("python3[10055]", 14), "python3[10055]");
        assert_eq!(fit("→python3[10055]", 11), "→py…[10055]");
        assert_eq!(fit("python3[10055]", 7), "…");
        assert_eq!(fit("python3[10055]", 8), "…[10055]");
        assert_eq!(fit("127.0.0.1:41313", 12), "127.0…:41313");
        assert_eq!(fit("[2001:db8::17]:8080", 14), "[2001:db…:8080");
        assert_eq!(fit("123456", 4), "…");
        assert_eq!(fit("0/300 0", 5), "…");
        assert_eq!(fit("(unattributed)", 8), "(unattr…");
        assert_eq!(fit("数据库[42]", 7), "数…[42]");
    }

    #[test]
    fn word_clipping_never_shows_part_of_a_number() {
        assert_eq!(
            clip_words("SYN flood 0.0.0.0:80 (nginx)", 20),
            "SYN flood …"
        );
        assert_eq!(clip_words(" holds 300 CLOSE_WAIT", 9), " holds …");
        assert_eq!(clip_words(" holds 300 CLOSE_WAIT", 12), " holds 300 …");
        assert_eq!(clip_words("0.0.0.0:80 (nginx) has", 11), "0.0.0.0:80…");
        assert_eq!(clip_words("0.0.0.0:80 (nginx) has", 8), "0.0.…:80");
        assert_eq!(clip_words("abc", 3), "abc");
        assert_eq!(clip_words("python3[10055]", 12), "pyth…[10055]");
    }

    #[test]
    fn a_flat_series_says_its_level() {
        assert_eq!(flat([300.0, 300.0, 300.0]), Some("flat at 300".into()));
        assert_eq!(flat([0.0, 0.0]), Some("flat at 0".into()));
        assert_eq!(flat([300.0, 301.0]), None);
        assert_eq!(flat([300.0]), None);
        assert_eq!(flat(Vec::new()), None);
    }

    #[test]
    fn formats_are_compact() {
        assert_eq!(count(812), "812");
        assert_eq!(count(123_456), "123k");
        assert_eq!(count(4_100_000), "4.1M");
        assert_eq!(age_ms(850), "850ms");
        assert_eq!(age_ms(423_000), "7m03s");
        assert_eq!(age_ms(7_800_000), "2h10m");
        assert_eq!(per_min(12.4), "+12/min");
        assert_eq!(per_min(-1.25), "-1.2/min");
        assert_eq!(per_min(0.0), "+0/min");
        assert_eq!(per_sec(0.0), "0/s");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
