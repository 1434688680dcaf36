//! `summary --by unit` and `--by container` in text, table and JSON, over the rows of
//! [`crate::analyze::group_rows`]. Unit and container names are hostile text: they reach
//! the output only through `Name`'s `Display` (the labels) or as JSON strings.

use std::io::{self, Write};

use serde::Serialize;

use super::json::{StatesJson, SUMMARY_SCHEMA_VERSION};
use super::table::Table;
use super::truncate;
use crate::analyze::group_rows::{GroupCount, GroupKey, GroupRow};
use crate::model::{Container, Protocol, Protocols, Snapshot, TcpState, Unit};
use crate::record::time::rfc3339;

/// What a grouped summary shows.
pub struct GroupView<'a> {
    /// The snapshot the rows come from.
    pub snapshot: &'a Snapshot,
    /// The rows, as [`crate::analyze::group_rows::group_rows`] ordered them.
    pub rows: &'a [GroupCount],
    /// Unit or container.
    pub key: GroupKey,
    /// The protocols counted.
    pub protocols: Protocols,
    /// At most this many group rows (the marker rows always show); `None` = all.
    pub top: Option<usize>,
}

impl GroupView<'_> {
    /// The group rows `--top` keeps, then the marker rows.
    pub(super) fn shown(&self) -> Vec<&GroupCount> {
        let groups: Vec<&GroupCount> = self
            .rows
            .iter()
            .filter(|r| !matches!(r.row, GroupRow::None | GroupRow::NoProcess))
            .collect();
        let mut out: Vec<&GroupCount> = truncate(&groups, self.top).to_vec();
        out.extend(
            self.rows
                .iter()
                .filter(|r| matches!(r.row, GroupRow::None | GroupRow::NoProcess)),
        );
        out
    }

    fn proto_cols(&self) -> Vec<Protocol> {
        self.protocols.iter().collect()
    }
}

fn pids_text(pids: &[u32]) -> String {
    if pids.is_empty() {
        return "-".into();
    }
    let v: Vec<String> = pids.iter().map(u32::to_string).collect();
    v.join(",")
}

fn proto_count(r: &GroupCount, p: Protocol) -> u64 {
    match p {
        Protocol::Tcp => r.tcp.total(),
        Protocol::Udp => r.udp,
        Protocol::Unix => r.unix,
    }
}

/// Tab-separated: a header `UNIT<TAB>SOCKETS<TAB>TCP…<TAB>PIDS`, one line per row.
pub fn write_text(out: &mut impl Write, view: &GroupView<'_>) -> io::Result<()> {
    let mut head = vec![view.key.word().to_ascii_uppercase(), "SOCKETS".into()];
    head.extend(
        view.proto_cols()
            .iter()
            .map(|p| p.name().to_ascii_uppercase()),
    );
    head.push("PIDS".into());
    writeln!(out, "{}", head.join("\t"))?;
    for r in view.shown() {
        let mut cells = vec![r.row.label(view.key), r.total().to_string()];
        cells.extend(
            view.proto_cols()
                .iter()
                .map(|&p| proto_count(r, p).to_string()),
        );
        cells.push(pids_text(&r.pids));
        writeln!(out, "{}", cells.join("\t"))?;
    }
    Ok(())
}

/// An aligned table: the label, the socket counts, the TCP states that occur, the pids.
pub fn write_table(out: &mut impl Write, view: &GroupView<'_>) -> io::Result<()> {
    let shown = view.shown();
    let states: Vec<TcpState> = if view.protocols.contains(Protocol::Tcp) {
        TcpState::ALL
            .into_iter()
            .filter(|&s| shown.iter().any(|r| r.tcp.get(s) > 0))
            .collect()
    } else {
        Vec::new()
    };
    let mut head = vec![view.key.word().to_ascii_uppercase(), "SOCKETS".into()];
    if view.protocols != Protocols::TCP {
        head.extend(
            view.proto_cols()
                .iter()
                .map(|p| p.name().to_ascii_uppercase()),
        );
    }
    head.extend(states.iter().map(|s| s.netstat_name().to_string()));
    head.push("PIDS".into());
    let mut t = Table::new(head);
    for r in &shown {
        let mut cells = vec![r.row.label(view.key), r.total().to_string()];
        if view.protocols != Protocols::TCP {
            cells.extend(
                view.proto_cols()
                    .iter()
                    .map(|&p| proto_count(r, p).to_string()),
            );
        }
        cells.extend(states.iter().map(|&s| r.tcp.get(s).to_string()));
        cells.push(pids_text(&r.pids));
        t.push(cells);
    }
    t.write(out)?;
    let groups = view
        .rows
        .iter()
        .filter(|r| !matches!(r.row, GroupRow::None | GroupRow::NoProcess))
        .count();
    let listed = shown
        .iter()
        .filter(|r| !matches!(r.row, GroupRow::None | GroupRow::NoProcess))
        .count();
    if listed < groups {
        writeln!(
            out,
            "({} more {}s; --top 0 shows all)",
            groups - listed,
            view.key.word()
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct GroupDoc<'a> {
    schema_version: u32,
    source: &'a str,
    taken_at: String,
    netns: &'a str,
    by: &'static str,
    protocols: Vec<&'static str>,
    rows: Vec<RowJson<'a>>,
}

#[derive(Serialize)]
struct RowJson<'a> {
    /// `unit`, `container`, `none` or `no_process`.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a Unit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<&'a Container>,
    label: String,
    pids: &'a [u32],
    sockets: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp: Option<StatesJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    udp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unix: Option<u64>,
}

/// One JSON document: the header, `by`, and every row (its unit or container object, its
/// pids and counts per protocol shown; TCP per state).
pub fn write_json(out: &mut impl Write, view: &GroupView<'_>) -> io::Result<()> {
    let has = |p| view.protocols.contains(p);
    let rows = view
        .shown()
        .into_iter()
        .map(|r| {
            let (kind, unit, container) = match &r.row {
                GroupRow::Unit(u) => ("unit", Some(u), None),
                GroupRow::Container(c) => ("container", None, Some(c)),
                GroupRow::None => ("none", None, None),
                GroupRow::NoProcess => ("no_process", None, None),
            };
            RowJson {
                kind,
                unit,
                container,
                label: r.row.label(view.key),
                pids: &r.pids,
                sockets: r.total(),
                tcp: has(Protocol::Tcp).then_some(StatesJson(r.tcp)),
                udp: has(Protocol::Udp).then_some(r.udp),
                unix: has(Protocol::Unix).then_some(r.unix),
            }
        })
        .collect();
    let snap = view.snapshot;
    let doc = GroupDoc {
        schema_version: SUMMARY_SCHEMA_VERSION,
        source: snap.source.name(),
        taken_at: rfc3339(snap.taken_at_ms),
        netns: &snap.netns,
        by: view.key.word(),
        protocols: view.protocols.iter().map(Protocol::name).collect(),
        rows,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

#[cfg(test)]
#[path = "groups_tests.rs"]
mod tests;
