//! Durations on the command line: intervals (`500ms`, `2m`, a bare number of seconds up
//! to 60) and run lengths (also `h`, `d`).

use std::time::Duration;

/// Parses an interval: `500ms`, `1s`, `1.5s`, `2m` or a bare number of seconds; 10 ms to
/// 1 h.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    // A bare number is seconds, but `--interval 500` waited 500 seconds for someone who
    // meant milliseconds: above a minute, make the user say which.
    if let Ok(v) = t.parse::<f64>() {
        if v > 60.0 {
            return Err(format!(
                "ambiguous duration '{s}': a bare number is seconds only up to 60; write {t}s or {t}ms"
            ));
        }
    }
    parse_span(s, 0.01, 3600.0, "from 10ms to 1h")
}

/// Parses a run length: like [`parse_duration`] plus `h` and `d`; 1 s to 30 days.
pub fn parse_length(s: &str) -> Result<Duration, String> {
    parse_span(s, 1.0, 30.0 * 86_400.0, "from 1s to 30d")
}

fn parse_span(s: &str, min: f64, max: f64, range: &str) -> Result<Duration, String> {
    let t = s.trim();
    let units = [
        ("ms", 0.001),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
        ("d", 86_400.0),
    ];
    let (num, scale) = units
        .iter()
        .find_map(|(u, k)| t.strip_suffix(u).map(|n| (n, *k)))
        .unwrap_or((t, 1.0));
    let bad = || format!("invalid duration '{s}' (expected e.g. 500ms, 1s, 2m, {range})");
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    let secs = v * scale;
    if !secs.is_finite() || !(min..=max).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        for bad in ["0", "-1s", "abc", "2h", "1ms", "NaN", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
