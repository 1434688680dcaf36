//! `summary --by unit` and `--by container`: one live collection (or a `--from-snapshot`
//! file) with attribution, the sockets summed per systemd unit or container, written as
//! text, table or JSON. Recordings and `--all-netns` are refused for now: recordings do
//! not carry units, and a fleet view per unit is a later step.

use std::io::Write;

use super::select;
use super::snapshot::collect_once;
use super::{collect_config, RunError};
use crate::analyze::group_rows::{group_rows, GroupKey};
use crate::cli::{Format, GlobalArgs, SummaryArgs};
use crate::report::groups::{self, GroupView};

/// Collects once and writes the per-unit or per-container summary.
pub(super) fn summary_groups(
    global: &GlobalArgs,
    args: &SummaryArgs,
    key: GroupKey,
    top: Option<usize>,
    out: &mut impl Write,
) -> Result<(), RunError> {
    let word = key.word();
    if args.from.is_some() {
        return Err(RunError::Usage(format!(
            "--by {word} cannot be combined with --from: recordings do not keep units and \
             containers yet (use --from-snapshot, or a live summary)"
        )));
    }
    if global.all_netns {
        return Err(RunError::Usage(format!(
            "--by {word} cannot be combined with --all-netns yet; give one --netns at a time"
        )));
    }
    let protocols = global.protocols();
    let mut cfg = collect_config(global);
    cfg.attribute = true;
    let snap = collect_once(global, cfg)?;
    select::require_collected(&snap, protocols, global.from_snapshot.as_deref())?;
    let rows = group_rows(&snap, protocols, key);
    let shown: u64 = rows.iter().map(|r| r.total()).sum();
    super::note_empty(global, shown);
    let view = GroupView {
        snapshot: &snap,
        rows: &rows,
        key,
        protocols,
        top,
    };
    match args.format {
        Format::Text => groups::write_text(out, &view)?,
        Format::Table => groups::write_table(out, &view)?,
        Format::Json => groups::write_json(out, &view)?,
        Format::Csv => crate::report::csv::write_groups(out, &view)?,
    }
    Ok(())
}
