//! The conntrack table as the one-shot reports show it: one line under the table summary's
//! footer, and the `conntrack` object of the JSON summary. Formats what the snapshot carries;
//! never reads the kernel, never judges (that is `conntrack_full`'s job).

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::model::Snapshot;

/// Writes `conntrack: COUNT/MAX (FILL), buckets B, drop D, …`, or why there is no table,
/// when the snapshot's counters were read; nothing otherwise (a snapshot or recording made
/// without counters says nothing about conntrack).
pub fn write_line(out: &mut impl Write, snap: &Snapshot) -> io::Result<()> {
    let Some(c) = snap.counters.as_ref() else {
        return Ok(());
    };
    match (&c.conntrack, &c.conntrack_absent) {
        (Some(ct), _) => writeln!(out, "{}", ct.line()),
        (None, Some(why)) => writeln!(out, "conntrack: none ({why})"),
        (None, None) => Ok(()),
    }
}

/// The `conntrack` object of the JSON summary (additive to schema version 2).
#[derive(Debug, Serialize)]
pub struct ConntrackJson<'a> {
    /// Whether the namespace has a conntrack table (the module is loaded).
    pub tracked: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// `nf_conntrack_count`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// `nf_conntrack_max` (global), `null` when unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// `entries / max`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill: Option<f64>,
    /// `nf_conntrack_buckets` (global).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buckets: Option<u64>,
    /// `drop + early_drop + insert_failed`, summed over CPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drops: Option<u64>,
    /// CPU lines of `/proc/net/stat/nf_conntrack` summed (0: not readable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// Every per-CPU statistic summed, by the kernel's column name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<&'a BTreeMap<String, u64>>,
}

/// The JSON object for `snap`, when its counters were read.
pub fn json(snap: &Snapshot) -> Option<ConntrackJson<'_>> {
    let c = snap.counters.as_ref()?;
    let empty = ConntrackJson {
        tracked: false,
        reason: None,
        entries: None,
        max: None,
        fill: None,
        buckets: None,
        drops: None,
        cpus: None,
        stats: None,
    };
    match (&c.conntrack, &c.conntrack_absent) {
        (Some(ct), _) => Some(ConntrackJson {
            tracked: true,
            entries: Some(ct.count),
            max: ct.max,
            fill: ct.fill(),
            buckets: ct.buckets,
            drops: ct.drops(),
            cpus: Some(ct.cpus),
            stats: Some(&ct.stats),
            ..empty
        }),
        (None, Some(why)) => Some(ConntrackJson {
            reason: Some(why),
            ..empty
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::snapshot;
    use crate::model::{Conntrack, KernelCounters};

    fn with(ct: Option<Conntrack>, absent: Option<&str>) -> Snapshot {
        let mut s = snapshot(vec![]);
        s.counters = Some(KernelCounters {
            conntrack: ct,
            conntrack_absent: absent.map(str::to_string),
            ..KernelCounters::default()
        });
        s
    }

    fn line(s: &Snapshot) -> String {
        let mut v = Vec::new();
        write_line(&mut v, s).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn a_table_is_one_line_and_json_carries_its_figures() {
        let ct = Conntrack {
            count: 97,
            max: Some(100),
            buckets: Some(25),
            stats: [("drop".to_string(), 3)].into(),
            cpus: 2,
            dropped_stats: 0,
        };
        let s = with(Some(ct), None);
        assert_eq!(line(&s), "conntrack: 97/100 (97%), buckets 25, drop 3\n");
        let j = serde_json::to_value(json(&s).unwrap()).unwrap();
        assert_eq!(j["tracked"], true);
        assert_eq!(j["entries"], 97);
        assert_eq!(j["max"], 100);
        assert_eq!(j["fill"], 0.97);
        assert_eq!(j["drops"], 3);
        assert_eq!(j["stats"]["drop"], 3);
    }

    #[test]
    fn an_absent_module_is_said_once_and_no_counters_say_nothing() {
        let s = with(None, Some("nf_conntrack is not loaded"));
        assert_eq!(line(&s), "conntrack: none (nf_conntrack is not loaded)\n");
        let j = serde_json::to_value(json(&s).unwrap()).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"tracked": false, "reason": "nf_conntrack is not loaded"})
        );
        let bare = snapshot(vec![]);
        assert_eq!(line(&bare), "");
        assert!(json(&bare).is_none());
    }
}
