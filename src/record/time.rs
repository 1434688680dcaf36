//! Time as recordings and reports spell it: [`rfc3339`] for writing, and `--at TIME` for
//! reading a recording back (RFC 3339, a UTC time of day on the recording's day, or an
//! offset from its start; the `time` crate is built without its parser, and these three
//! forms are small).

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

use super::{RecordError, Recording};

const DAY_MS: i64 = 86_400_000;

/// Parses `s` into ms since the epoch, for [`Recording::tick_at`].
///
/// Accepted: RFC 3339 (`2026-11-22T04:40:00Z`, `…T06:40:00.5+02:00`; no offset means
/// UTC); a time of day `HH:MM[:SS]` in UTC on the day of the first tick (the next day when
/// that is earlier than the first tick and the recording runs past midnight); or an offset
/// from the first tick, `+90s`, `+5m`, `+1h30m`, `+250ms`.
pub fn parse_time(s: &str, rec: &Recording) -> Result<i64, RecordError> {
    let bad = |why: &str| RecordError::BadTime {
        file: rec.name().to_string(),
        input: s.to_string(),
        why: why.to_string(),
    };
    let t = s.trim();
    let start = rec.first_ms();
    if let Some(rest) = t.strip_prefix('+') {
        let off = parse_offset(rest)
            .ok_or_else(|| bad("an offset is digits and units, like +90s, +5m, +1h30m, +250ms"))?;
        return start
            .checked_add(off)
            .ok_or_else(|| bad("offset too large"));
    }
    if t.len() <= 8 && t.contains(':') {
        let tod = parse_clock(t).ok_or_else(|| bad("a time of day is HH:MM or HH:MM:SS"))?;
        let day = start.div_euclid(DAY_MS) * DAY_MS;
        let at = day + tod;
        if at < start && at + DAY_MS <= rec.last_ms() {
            return Ok(at + DAY_MS);
        }
        return Ok(at);
    }
    parse_rfc3339(t).ok_or_else(|| {
        bad("expected RFC 3339 (2026-11-22T04:40:00Z), HH:MM[:SS] (UTC) or +OFFSET (+5m)")
    })
}

/// `1h30m` → 5 400 000 ms. Units: `ms`, `s`, `m`, `h`; at least one part.
fn parse_offset(s: &str) -> Option<i64> {
    let mut rest = s;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = rest.get(..digits)?.parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            match rest.bytes().next()? {
                b's' => (1000, 1),
                b'm' => (60_000, 1),
                b'h' => (3_600_000, 1),
                _ => return None,
            }
        };
        rest = &rest[len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

/// `HH:MM[:SS]` → ms since midnight.
fn parse_clock(s: &str) -> Option<i64> {
    let mut parts = s.split(':');
    let h = two_digits(parts.next()?)?;
    let m = two_digits(parts.next()?)?;
    let sec = match parts.next() {
        Some(p) => two_digits(p)?,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000)
}

fn two_digits(s: &str) -> Option<i64> {
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM]` → ms since the epoch.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let p = s.get(r)?;
        p.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| p.parse().ok())?
    };
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut milli = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let ms3: String = frac[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        milli = ms3.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_s: i64 = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest[1..].split_once(':')?;
            sign * (two_digits(oh)? * 3600 + two_digits(om)? * 60)
        }
    };
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    // A leap second reads as the last millisecond of its minute.
    let (sec, milli) = if sec == 60 { (59, 999) } else { (sec, milli) };
    let tod = Time::from_hms_milli(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(sec).ok()?,
        u16::try_from(milli).ok()?,
    )
    .ok()?;
    let offset = UtcOffset::from_whole_seconds(i32::try_from(offset_s).ok()?).ok()?;
    let at = PrimitiveDateTime::new(date, tod).assume_offset(offset);
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats milliseconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_forms() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_rfc3339("1970-01-01T02:00:00+02:00"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-22T04:40:00Z"),
            Some(1_795_322_400_000)
        );
        for bad in [
            "",
            "2026-11-22",
            "2026-13-22T04:40:00Z",
            "2026-11-22T25:40:00Z",
            "2026-11-22T04:40:00+2",
            "2026-11-22T04:40:00.Z",
            "2026-11-22T04:40:00Q",
            "２０２６-11-22T04:40:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn offsets_and_clocks() {
        assert_eq!(parse_offset("90s"), Some(90_000));
        assert_eq!(parse_offset("1h30m"), Some(5_400_000));
        assert_eq!(parse_offset("250ms"), Some(250));
        for bad in ["", "5", "m", "5x", "99999999999999999999h"] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
        assert_eq!(parse_clock("04:40"), Some((4 * 60 + 40) * 60_000));
        assert_eq!(
            parse_clock("04:40:05"),
            Some(((4 * 60 + 40) * 60 + 5) * 1000)
        );
        for bad in ["4:40", "24:00", "04:60", "04:40:05:01", "aa:bb"] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
    }
}
