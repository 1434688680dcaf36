//! [`Conntrack`]: the netfilter connection-tracking table of one network namespace, as the
//! kernel counts it (`nf_conntrack_count`, `nf_conntrack_max`, `nf_conntrack_buckets`) and its
//! per-CPU statistics (`/proc/net/stat/nf_conntrack`, summed over CPUs). Plain data: reading
//! it belongs to `collect::conntrack`, judging it to `analyze::detect`. No I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The statistics whose growth means the kernel refused to track a packet's connection: a
/// full table (`drop`: no room and nothing evictable; `early_drop`: an unconfirmed entry was
/// evicted to make room) or a failed insertion (`insert_failed`: a clash, or no room).
pub const CONNTRACK_DROP_STATS: [&str; 3] = ["drop", "early_drop", "insert_failed"];

/// The conntrack table of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ConntrackFile")]
pub struct Conntrack {
    /// Entries in this namespace's table (`nf_conntrack_count`): per namespace.
    pub count: u64,
    /// The table's limit (`nf_conntrack_max`): global, shared by every namespace, read-only
    /// inside a non-initial one. `None` when it could not be read.
    pub max: Option<u64>,
    /// Hash buckets (`nf_conntrack_buckets`; global): each holds a chain, so entries far
    /// above the bucket count make lookups slow before the table is full.
    pub buckets: Option<u64>,
    /// The per-CPU statistics summed over CPUs, by the kernel's column names (`found`,
    /// `insert`, `insert_failed`, `drop`, `early_drop`, `search_restart`, …; columns a newer
    /// kernel adds are kept under their names). `entries` is not here: it repeats the count
    /// on every CPU's line. Empty when the file could not be read.
    /// Keys read from a file (`--from-snapshot`, a recording) are checked: only the
    /// kernel's shape of name (`[a-z0-9_]`, 1–64 bytes) is kept, since each key becomes a
    /// Prometheus label and a table cell; the others are dropped and counted in
    /// [`Conntrack::dropped_stats`].
    #[serde(default)]
    pub stats: BTreeMap<String, u64>,
    /// CPU lines summed into [`Conntrack::stats`].
    #[serde(default)]
    pub cpus: u32,
    /// Statistics dropped on reading a file because their names were not the kernel's
    /// shape (0 for a live read; not written when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_stats: u64,
}

/// Whether `name` has the shape of a column of `/proc/net/stat/nf_conntrack`.
pub fn is_stat_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `name::deserialize_line` for an optional text (`conntrack_absent`).
pub(super) fn deserialize_opt_line<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d).map(|o| o.map(|s| super::name::escape_controls(&s)))
}

/// [`Conntrack`] as a file holds it, before its statistic names are checked.
#[derive(Deserialize)]
struct ConntrackFile {
    count: u64,
    max: Option<u64>,
    buckets: Option<u64>,
    #[serde(default)]
    stats: BTreeMap<String, u64>,
    #[serde(default)]
    cpus: u32,
    #[serde(default)]
    dropped_stats: u64,
}

impl From<ConntrackFile> for Conntrack {
    fn from(f: ConntrackFile) -> Self {
        let total = f.stats.len();
        let stats: BTreeMap<String, u64> = f
            .stats
            .into_iter()
            .filter(|(k, _)| is_stat_name(k))
            .collect();
        let dropped = (total - stats.len()) as u64;
        Conntrack {
            count: f.count,
            max: f.max,
            buckets: f.buckets,
            stats,
            cpus: f.cpus,
            dropped_stats: f.dropped_stats.saturating_add(dropped),
        }
    }
}

impl Conntrack {
    /// `count / max` (0.0–1.0, above when max was lowered under the count); `None`
    /// without a positive max.
    pub fn fill(&self) -> Option<f64> {
        let max = self.max.filter(|&m| m > 0)?;
        Some(self.count as f64 / max as f64)
    }

    /// The fill as the one-line forms print it (`97%`, `0.5%`, `<0.1%`).
    pub fn fill_text(&self) -> Option<String> {
        self.fill().map(percent)
    }

    /// One summed statistic, when the kernel has that column.
    pub fn stat(&self, name: &str) -> Option<u64> {
        self.stats.get(name).copied()
    }

    /// `drop + early_drop + insert_failed`, over the columns this kernel has; `None` when
    /// it has none of them (the statistics were not read).
    pub fn drops(&self) -> Option<u64> {
        let mut any = false;
        let mut sum = 0u64;
        for name in CONNTRACK_DROP_STATS {
            if let Some(v) = self.stat(name) {
                any = true;
                sum = sum.saturating_add(v);
            }
        }
        any.then_some(sum)
    }

    /// The one-line human form, `conntrack: 1234/262144 (0.5%), buckets 65536, drop 0, …`.
    pub fn line(&self) -> String {
        let mut s = format!("conntrack: {}", self.count);
        match (self.max, self.fill()) {
            (Some(m), Some(f)) => s.push_str(&format!("/{m} ({})", percent(f))),
            (Some(m), None) => s.push_str(&format!("/{m}")),
            _ => s.push_str("/? (nf_conntrack_max unreadable)"),
        }
        if let Some(b) = self.buckets {
            s.push_str(&format!(", buckets {b}"));
        }
        for name in CONNTRACK_DROP_STATS {
            if let Some(v) = self.stat(name) {
                s.push_str(&format!(", {name} {v}"));
            }
        }
        if self.dropped_stats > 0 {
            s.push_str(&format!(
                ", {} statistics with invalid names dropped",
                self.dropped_stats
            ));
        }
        s
    }
}

/// `97%`, `0.5%`, `<0.1%`: a fill as the one-line form prints it.
fn percent(f: f64) -> String {
    let p = f * 100.0;
    if p >= 10.0 {
        format!("{p:.0}%")
    } else if p > 0.0 && p < 0.1 {
        "<0.1%".into()
    } else {
        format!("{p:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(count: u64, max: Option<u64>, stats: &[(&str, u64)]) -> Conntrack {
        Conntrack {
            count,
            max,
            buckets: Some(65536),
            stats: stats.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
            cpus: 2,
            dropped_stats: 0,
        }
    }

    #[test]
    fn fill_needs_a_positive_max() {
        assert_eq!(ct(97, Some(100), &[]).fill(), Some(0.97));
        assert_eq!(ct(97, Some(0), &[]).fill(), None);
        assert_eq!(ct(97, None, &[]).fill(), None);
    }

    #[test]
    fn drops_sum_the_columns_present_and_say_when_none_are() {
        let c = ct(
            1,
            Some(10),
            &[("drop", 3), ("early_drop", 4), ("found", 100)],
        );
        assert_eq!(c.drops(), Some(7));
        assert_eq!(ct(1, Some(10), &[("found", 1)]).drops(), None);
    }

    #[test]
    fn line_names_count_max_fill_and_drop_columns() {
        let c = ct(
            254_000,
            Some(262_144),
            &[("drop", 3), ("early_drop", 0), ("insert_failed", 1)],
        );
        assert_eq!(
            c.line(),
            "conntrack: 254000/262144 (97%), buckets 65536, drop 3, early_drop 0, insert_failed 1"
        );
        let small = ct(20, Some(262_144), &[]);
        assert_eq!(small.line(), "conntrack: 20/262144 (<0.1%), buckets 65536");
        let unknown = Conntrack {
            count: 5,
            ..Conntrack::default()
        };
        assert_eq!(
            unknown.line(),
            "conntrack: 5/? (nf_conntrack_max unreadable)"
        );
    }

    /// Statistic names from a file become Prometheus labels and table cells: only the
    /// kernel's shape is kept, the rest dropped and counted (and the count survives a
    /// round trip).
    #[test]
    fn names_from_a_file_are_checked_and_the_dropped_counted() {
        let text = r#"{"count":3,"max":10,"buckets":null,"cpus":1,"stats":{
            "drop":1,"early_drop":2,"evil\"} 9\nx":3,"Drop":4,"":5,"a\u001b[2J":6}}"#;
        let c: Conntrack = serde_json::from_str(text).unwrap();
        let keys: Vec<&str> = c.stats.keys().map(String::as_str).collect();
        assert_eq!(keys, ["drop", "early_drop"]);
        assert_eq!(c.dropped_stats, 4);
        assert!(c
            .line()
            .ends_with(", 4 statistics with invalid names dropped"));
        let back: Conntrack = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let clean = serde_json::to_value(ct(1, Some(2), &[("drop", 0)])).unwrap();
        assert!(clean.get("dropped_stats").is_none(), "{clean}");
        assert!(is_stat_name("search_restart") && is_stat_name("clash_resolve"));
        assert!(!is_stat_name(&"a".repeat(65)));
    }
}
