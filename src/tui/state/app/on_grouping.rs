//! `o`: the Processes view's grouping key (process → unit → container), and what Enter
//! does on a unit or container row (the Sockets view filtered to its sockets). The rows
//! are [`crate::tui::state::grouping`]'s.

use super::{view_slot, App};
use crate::filter::Filter;
use crate::tui::state::grouping::{self, Grouping};
use crate::tui::state::keys::View;
use crate::tui::state::rows::RowKey;

impl App {
    /// Shows the Processes view grouped by the next key.
    pub(crate) fn cycle_grouping(&mut self) {
        self.grouping = self.grouping.next();
        self.selected[view_slot(View::Processes)] = 0;
        self.saved_keys[view_slot(View::Processes)] = None;
        if self.view == View::Processes {
            self.refresh_keeping(None, None);
        } else {
            self.switch_to(View::Processes);
        }
        self.status = Some(format!("Processes grouped by {}", self.grouping.word()));
    }

    /// Whether the Processes view shows units or containers rather than processes.
    pub(crate) fn grouped(&self) -> bool {
        self.grouping != Grouping::Process
    }

    /// The unit or container rows of the Processes view, over the sockets `filtered`
    /// selects when a filter is set; empty when it shows processes.
    pub(crate) fn group_rows_now(
        &self,
        filtered: Option<&[usize]>,
    ) -> Vec<crate::analyze::group_rows::GroupCount> {
        let (Some(key), Some((snap, _))) = (self.grouping.key(), self.data()) else {
            return Vec::new();
        };
        let rows = grouping::rows_for(snap, self.proto, key, filtered);
        grouping::sorted(rows, key, self.proto, self.sort[0])
    }

    /// The key of a grouped Processes row.
    pub(crate) fn group_key_at(&self, pos: usize) -> Option<RowKey> {
        Some(RowKey::Group(self.rows.groups.get(pos)?.row.clone()))
    }

    /// Enter on a unit or container row: the current filter narrowed to its sockets, or why
    /// not. `None` when the view is not grouped.
    pub(crate) fn group_drill(&self) -> Option<Result<String, String>> {
        let key = self.grouping.key()?;
        let r = self.rows.groups.get(self.selected())?;
        let base = Filter::parse_expr(&self.filter).unwrap_or_default();
        Some(grouping::filter_for(&r.row, key, base))
    }
}

#[cfg(test)]
#[path = "on_grouping_tests.rs"]
mod tests;
