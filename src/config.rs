//! Detection thresholds and the TOML config file that overrides them.
//!
//! Owns [`Thresholds`] (one section per rule plus `[alerts]` and `[history]`), their
//! production defaults, `RULE.KEY=VALUE` overrides and loading from a file. It must not read
//! sockets or know about presentation; `assets/sockscope.toml` mirrors [`Thresholds::default`]
//! key for key (a test keeps them equal).
//!
//! Search path for the config file (first existing wins), see [`default_search_path`]:
//! `$SOCKSCOPE_CONFIG`, `$XDG_CONFIG_HOME/sockscope/sockscope.toml`,
//! `~/.config/sockscope/sockscope.toml`, `/etc/sockscope/sockscope.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::RuleId;
use crate::safefs::{self, ReadKind, SafeFsError};

mod rules;
pub use rules::ConntrackFull;
pub mod web;
pub use rules::PortExhaustion;
pub use rules::{
    AcceptQueueOverflow, CloseWaitLeak, FinWait2Buildup, Orphans, SynFlood, TimeWaitStorm,
    UdpDrops, UnixAcceptOverflow,
};

/// Why a config file or an override was rejected. Display is one line naming the file, the
/// line and the key where known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read config: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was refused by a root-safety rule ([`crate::safefs`]): as root, a config
    /// another user could have written (not owned by root, or group/other-writable); a
    /// FIFO, a device or a directory instead of a file; a file over 1 MiB. Display is
    /// safefs' one line naming the path and the reason.
    #[error("{0}")]
    Refused(SafeFsError),
    /// A key or value in the file is wrong.
    #[error("{path}:{line}: {key}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value (0 when unknown).
        line: usize,
        /// Dotted key (`close_wait_leak.warn_count`), or `-` when the error is not about a key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A `RULE.KEY=VALUE` override is wrong.
    #[error("override `{spec}`: {key}: {message}")]
    Override {
        /// The override as given.
        spec: String,
        /// The dotted key, as far as it could be read.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Alert lifecycle settings shared by every rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// An active alert clears only below this fraction of its firing threshold (hysteresis).
    pub clear_ratio: f64,
    /// Consecutive ticks without the condition before a firing alert resolves.
    pub clear_ticks: u32,
    /// How long resolved alerts stay listed ("recently resolved"), in seconds.
    pub resolved_keep_s: u64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            clear_ratio: 0.8,
            clear_ticks: 3,
            resolved_keep_s: 900,
        }
    }
}

/// How much history the analyzer keeps for growth rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistorySettings {
    /// Window over which growth per minute is computed, in seconds.
    pub window_s: u64,
    /// Hard cap on samples kept, whatever the poll interval.
    pub max_samples: usize,
}

impl Default for HistorySettings {
    fn default() -> Self {
        HistorySettings {
            window_s: 600,
            max_samples: 600,
        }
    }
}

/// Every threshold the rules use. `Default` is the shipped production setting.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Alert lifecycle.
    pub alerts: AlertSettings,
    /// History window.
    pub history: HistorySettings,
    /// `close_wait_leak`.
    pub close_wait_leak: CloseWaitLeak,
    /// `syn_flood`.
    pub syn_flood: SynFlood,
    /// `accept_queue_overflow`.
    pub accept_queue_overflow: AcceptQueueOverflow,
    /// `time_wait_storm`.
    pub time_wait_storm: TimeWaitStorm,
    /// `fin_wait2_buildup`.
    pub fin_wait2_buildup: FinWait2Buildup,
    /// `orphans`.
    pub orphans: Orphans,
    /// `udp_drops`.
    pub udp_drops: UdpDrops,
    /// `unix_accept_overflow`.
    pub unix_accept_overflow: UnixAcceptOverflow,
    /// `conntrack_full`.
    pub conntrack_full: ConntrackFull,
    /// `port_exhaustion`.
    pub port_exhaustion: PortExhaustion,
}

impl Thresholds {
    /// Parses a TOML document; `path` is only used in error messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Thresholds, ConfigError> {
        let th: Thresholds = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            ConfigError::File {
                path: path.to_path_buf(),
                line,
                key: key_at_line(text, line).unwrap_or_else(|| "-".into()),
                message: e.message().trim().to_string(),
            }
        })?;
        th.validate().map_err(|(key, message)| ConfigError::File {
            path: path.to_path_buf(),
            line: find_key_line(text, &key),
            key,
            message,
        })?;
        Ok(th)
    }

    /// Applies one `RULE.KEY=VALUE` override, e.g. `close_wait_leak.warn_count=300`.
    /// The value is read as TOML (`300`, `0.75`); anything else is taken as a string.
    pub fn apply_override(&mut self, s: &str) -> Result<(), ConfigError> {
        self.apply_overrides(&[s])
    }

    /// Applies every override, then checks relations between values once, so
    /// `warn_count=2000` followed by `crit_count=5000` is accepted although the first alone
    /// would sit above the default critical count. A broken relation names the last
    /// override that set its key, else the last one in its section, else the last one.
    pub fn apply_overrides<S: AsRef<str>>(&mut self, specs: &[S]) -> Result<(), ConfigError> {
        let mut root = toml::Value::try_from(&*self).map_err(|e| ConfigError::Override {
            spec: String::new(),
            key: "-".into(),
            message: e.to_string(),
        })?;
        let mut keys = Vec::with_capacity(specs.len());
        for spec in specs {
            keys.push((set_override(&mut root, spec.as_ref())?, spec.as_ref()));
        }
        let th: Thresholds = root.try_into().map_err(|e: toml::de::Error| {
            let (key, spec) = keys.last().cloned().unwrap_or_default();
            ConfigError::Override {
                spec: spec.to_string(),
                key,
                message: e.message().trim().to_string(),
            }
        })?;
        th.validate().map_err(|(key, message)| {
            let section = key.split('.').next().unwrap_or_default();
            let same_section = |k: &str| k.split('.').next() == Some(section);
            let spec = keys
                .iter()
                .rev()
                .find(|(k, _)| *k == key)
                .or_else(|| keys.iter().rev().find(|(k, _)| same_section(k)))
                .or_else(|| keys.last())
                .map_or_else(String::new, |(_, s)| s.to_string());
            ConfigError::Override { spec, key, message }
        })?;
        *self = th;
        Ok(())
    }

    /// The for-duration of `rule`, in milliseconds.
    pub fn for_ms(&self, rule: RuleId) -> i64 {
        let s = match rule {
            RuleId::CloseWaitLeak => self.close_wait_leak.for_s,
            RuleId::SynFlood => self.syn_flood.for_s,
            RuleId::AcceptQueueOverflow => self.accept_queue_overflow.for_s,
            RuleId::TimeWaitStorm => self.time_wait_storm.for_s,
            RuleId::FinWait2Buildup => self.fin_wait2_buildup.for_s,
            RuleId::Orphans => self.orphans.for_s,
            RuleId::UdpDrops => self.udp_drops.for_s,
            RuleId::UnixAcceptOverflow => self.unix_accept_overflow.for_s,
            RuleId::ConntrackFull => self.conntrack_full.for_s,
            RuleId::PortExhaustion => self.port_exhaustion.for_s,
        };
        i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// Checks relations between values; the error names the dotted key.
    fn validate(&self) -> Result<(), (String, String)> {
        let a = &self.alerts;
        if !(a.clear_ratio > 0.0 && a.clear_ratio <= 1.0) {
            return Err((
                "alerts.clear_ratio".into(),
                format!("must be in (0, 1], got {}", a.clear_ratio),
            ));
        }
        if self.history.max_samples < 2 {
            return Err(("history.max_samples".into(), "must be at least 2".into()));
        }
        let c = &self.close_wait_leak;
        if c.crit_count < c.warn_count {
            return Err((
                "close_wait_leak.crit_count".into(),
                format!("must be >= warn_count ({})", c.warn_count),
            ));
        }
        let t = &self.time_wait_storm;
        let positive = [
            ("syn_flood.warn_fill", self.syn_flood.warn_fill),
            ("syn_flood.crit_fill", self.syn_flood.crit_fill),
            ("syn_flood.warn_rate", self.syn_flood.warn_rate),
            ("syn_flood.crit_rate", self.syn_flood.crit_rate),
            (
                "accept_queue_overflow.warn_fill",
                self.accept_queue_overflow.warn_fill,
            ),
            (
                "accept_queue_overflow.crit_fill",
                self.accept_queue_overflow.crit_fill,
            ),
            ("time_wait_storm.warn_port_fill", t.warn_port_fill),
            ("time_wait_storm.crit_port_fill", t.crit_port_fill),
            ("time_wait_storm.warn_bucket_fill", t.warn_bucket_fill),
            ("time_wait_storm.crit_bucket_fill", t.crit_bucket_fill),
            ("orphans.warn_fill", self.orphans.warn_fill),
            ("orphans.crit_fill", self.orphans.crit_fill),
            ("udp_drops.crit_drop_rate", self.udp_drops.crit_drop_rate),
            ("udp_drops.warn_fill", self.udp_drops.warn_fill),
            (
                "unix_accept_overflow.warn_fill",
                self.unix_accept_overflow.warn_fill,
            ),
            (
                "unix_accept_overflow.crit_fill",
                self.unix_accept_overflow.crit_fill,
            ),
            ("conntrack_full.warn_fill", self.conntrack_full.warn_fill),
            ("conntrack_full.crit_fill", self.conntrack_full.crit_fill),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err((key.into(), format!("must be a positive number, got {v}")));
            }
        }
        let r = self.accept_queue_overflow.warn_overflow_rate;
        if r.is_nan() || r < 0.0 {
            return Err((
                "accept_queue_overflow.warn_overflow_rate".into(),
                "must be >= 0".into(),
            ));
        }
        let f = &self.fin_wait2_buildup;
        if f.crit_count < f.warn_count {
            return Err((
                "fin_wait2_buildup.crit_count".into(),
                format!("must be >= warn_count ({})", f.warn_count),
            ));
        }
        let u = &self.udp_drops;
        if !(u.warn_drop_rate.is_finite() && u.warn_drop_rate >= 0.0) {
            return Err((
                "udp_drops.warn_drop_rate".into(),
                format!("must be a number >= 0, got {}", u.warn_drop_rate),
            ));
        }
        if u.crit_drop_rate < u.warn_drop_rate {
            return Err((
                "udp_drops.crit_drop_rate".into(),
                format!("must be >= warn_drop_rate ({})", u.warn_drop_rate),
            ));
        }
        let ct = &self.conntrack_full;
        if ct.crit_fill < ct.warn_fill {
            return Err((
                "conntrack_full.crit_fill".into(),
                format!("must be >= warn_fill ({})", ct.warn_fill),
            ));
        }
        if !(ct.crit_drop_rate.is_finite() && ct.crit_drop_rate >= 0.0) {
            return Err((
                "conntrack_full.crit_drop_rate".into(),
                format!("must be a number >= 0, got {}", ct.crit_drop_rate),
            ));
        }
        let r = ct.warn_insert_failed_rate;
        if !(r.is_finite() && r >= 0.0) {
            return Err((
                "conntrack_full.warn_insert_failed_rate".into(),
                format!("must be a number >= 0, got {r}"),
            ));
        }
        self.port_exhaustion.validate()
    }
}

/// Reads thresholds from `path`. Missing keys keep their defaults; unknown keys are errors.
///
/// Read through [`safefs::read_to_string_capped`]: only a regular file of at most 1 MiB
/// (a FIFO or `/dev/zero` is refused unopened), and as root only one owned by root and
/// not writable by group or others ([`safefs::untrusted_config_reason`]), as sudo and
/// sshd require of theirs.
pub fn load(path: &Path) -> Result<Thresholds, ConfigError> {
    let text = safefs::read_to_string_capped(path, ReadKind::Config).map_err(|e| match e {
        SafeFsError::Io { source, .. } => ConfigError::Io {
            path: path.to_path_buf(),
            source,
        },
        refusal => ConfigError::Refused(refusal),
    })?;
    Thresholds::from_toml(&text, path)
}

/// Where sockscope looks for its config, in order: `$SOCKSCOPE_CONFIG`,
/// `$XDG_CONFIG_HOME/sockscope/sockscope.toml`, `~/.config/sockscope/sockscope.toml`,
/// `/etc/sockscope/sockscope.toml`. Unset variables are skipped, and so are
/// `$XDG_CONFIG_HOME` and `$HOME` when the directory is not owned by the effective user
/// ([`safefs::trusted_home_dir`]): under `sudo` with `$HOME` kept, a file in the invoking
/// user's home is not root's config.
pub fn default_search_path() -> Vec<PathBuf> {
    search_path_with(|k| std::env::var_os(k), safefs::trusted_home_dir)
}

fn search_path_with(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
    trusted: impl Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    let env = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let mut v = Vec::new();
    if let Some(p) = env("SOCKSCOPE_CONFIG") {
        v.push(p);
    }
    if let Some(x) = env("XDG_CONFIG_HOME").filter(|d| trusted(d)) {
        v.push(x.join("sockscope/sockscope.toml"));
    }
    if let Some(h) = env("HOME").filter(|d| trusted(d)) {
        v.push(h.join(".config/sockscope/sockscope.toml"));
    }
    v.push(PathBuf::from("/etc/sockscope/sockscope.toml"));
    v
}

/// Loads the first existing file of [`default_search_path`]; defaults when none exists.
/// Returns the file used, if any. A candidate is skipped only when it does not exist; one
/// that exists but is refused (a FIFO, an untrusted file as root) or unreadable is an
/// error, not a silent fall-through to the next.
pub fn load_default() -> Result<(Thresholds, Option<PathBuf>), ConfigError> {
    for p in default_search_path() {
        match load(&p) {
            Ok(t) => return Ok((t, Some(p))),
            Err(ConfigError::Io { source, .. }) if absent(&source) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((Thresholds::default(), None))
}

/// Whether an open failed because the file, or a directory on its path, is not there.
fn absent(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// 1-based line holding byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The dotted key defined on `line` (`section.key`), from the text itself: toml's errors
/// give a span, not the key path.
fn key_at_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line.checked_sub(1)?)?;
    let key = here.split_once('=').map(|(k, _)| k.trim())?;
    if key.is_empty() || key.starts_with('#') {
        return None;
    }
    let section = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    Some(match section {
        Some(s) => format!("{s}.{key}"),
        None => key.to_string(),
    })
}

/// Sets one `RULE.KEY=VALUE` in the TOML form of the thresholds; returns the dotted key.
/// Types are checked here (a typed round trip of that one value), relations by the caller.
fn set_override(root: &mut toml::Value, s: &str) -> Result<String, ConfigError> {
    let err = |key: &str, message: String| ConfigError::Override {
        spec: s.to_string(),
        key: key.to_string(),
        message,
    };
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| err("-", "expected RULE.KEY=VALUE".into()))?;
    let key = key.trim();
    let (section, field) = key
        .split_once('.')
        .ok_or_else(|| err(key, "expected RULE.KEY (a section and a key)".into()))?;
    let value = value.trim();
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let table = root
        .get_mut(section)
        .and_then(toml::Value::as_table_mut)
        .ok_or_else(|| err(key, format!("unknown section `{section}`")))?;
    if !table.contains_key(field) {
        return Err(err(key, format!("unknown key `{field}` in [{section}]")));
    }
    table.insert(field.to_string(), parsed);
    // The type of this one value, checked now so the error names its own override.
    let probe: Result<Thresholds, _> = root.clone().try_into();
    probe.map_err(|e: toml::de::Error| err(key, e.message().trim().to_string()))?;
    Ok(key.to_string())
}

/// The line where dotted `key` is set, or 0 when the file does not set it.
fn find_key_line(text: &str, key: &str) -> usize {
    (1..=text.lines().count())
        .find(|&n| key_at_line(text, n).as_deref() == Some(key))
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
