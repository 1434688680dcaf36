//! The options the dashboard starts with ([`TuiOptions`]): host, interval, colour, the
//! protocols asked for and the threshold lines the trend charts draw ([`TrendLines`]).
//! Plain data; the caller (a mode) fills it, [`super::App::new`] reads it once.

use crate::config::Thresholds;
use crate::model::Protocols;

/// Whether to draw in colour: yes unless `NO_COLOR` is set to anything non-empty.
pub fn color_from_env() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Settings the caller chooses when starting the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct TuiOptions {
    /// Host name shown in the header.
    pub host: String,
    /// Initial collection interval in milliseconds (clamped to [`super::INTERVALS_MS`]'s range).
    pub interval_ms: u64,
    /// Use colour. [`TuiOptions::new`] sets it from `NO_COLOR`.
    pub color: bool,
    /// The rule thresholds the trend charts draw as lines.
    pub lines: TrendLines,
    /// The protocols asked for (`-t/-u/-x`): the first one (TCP, UDP, UNIX order) is shown
    /// first, and `p` cycles through them and any other a snapshot carries.
    /// [`Protocols::NONE`] (a replay) offers what the data carries.
    pub protocols: Protocols,
}

/// The host-level lines the trend charts draw beside the series, from the rule thresholds
/// in force (a replay uses the defaults: recordings do not carry thresholds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendLines {
    /// `close_wait_leak.warn_count`: CLOSE_WAIT sockets in *one process* that warn.
    pub close_wait_per_process: u64,
    /// `time_wait_storm.warn_bucket_fill`: TIME_WAIT as a share of `tcp_max_tw_buckets`
    /// that warns (the line is drawn where the namespace's cap is known).
    pub time_wait_bucket_fill: f64,
}

impl TrendLines {
    /// The lines of `th`.
    pub fn from_thresholds(th: &Thresholds) -> TrendLines {
        TrendLines {
            close_wait_per_process: th.close_wait_leak.warn_count,
            time_wait_bucket_fill: th.time_wait_storm.warn_bucket_fill,
        }
    }
}

impl Default for TrendLines {
    fn default() -> TrendLines {
        TrendLines::from_thresholds(&Thresholds::default())
    }
}

impl TuiOptions {
    /// Options for `host` at `interval_ms`, with colour unless `NO_COLOR` is set, showing
    /// the protocols the data carries.
    pub fn new(host: impl Into<String>, interval_ms: u64) -> TuiOptions {
        TuiOptions {
            host: host.into(),
            interval_ms,
            color: color_from_env(),
            lines: TrendLines::default(),
            protocols: Protocols::NONE,
        }
    }
}
