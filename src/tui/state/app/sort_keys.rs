//! Sorting on [`App`]: `s`/`>` and `<` step the sort column right and left, `S` reverses
//! it, and `b` jumps straight to the busiest state's column (sorting Processes by CLOSE_WAIT
//! took `s` eight times). Changes only the shown table's sort and selection.

use crate::analyze::finding::AlertPhase;
use crate::model::TcpState;
use crate::tui::state::app::{view_slot, App};
use crate::tui::state::columns::{self, SortState, STATE_COLUMNS};
use crate::tui::state::keys::Action;
use crate::tui::state::target::rule_state;

/// The column of sort slot `slot` that counts `state`, if it has one.
pub(crate) fn state_column(slot: usize, state: TcpState) -> Option<usize> {
    let in_states = || STATE_COLUMNS.iter().position(|&s| s == state);
    match slot {
        0 => in_states().map(|i| columns::PROCESS_COLUMNS.len() + i),
        2 => in_states().map(|i| columns::REMOTE_COLUMNS.len() + i),
        1 => match state {
            TcpState::SynRecv => Some(2),
            TcpState::Established => Some(6),
            TcpState::CloseWait => Some(7),
            _ => None,
        },
        _ => None,
    }
}

impl App {
    /// The state `b` sorts by in sort slot `slot`: that of the firing (else pending) alert
    /// about a state this table counts, else the counted state with the most sockets.
    pub(crate) fn busiest_state(&self, slot: usize) -> Option<TcpState> {
        let (_, an) = self.data()?;
        let alerted = [AlertPhase::Firing, AlertPhase::Pending]
            .iter()
            .flat_map(|&phase| an.alerts.iter().filter(move |a| a.phase == phase))
            .filter_map(|a| rule_state(a.finding.rule))
            .find(|&s| state_column(slot, s).is_some());
        alerted.or_else(|| {
            STATE_COLUMNS
                .iter()
                .copied()
                .filter(|&s| state_column(slot, s).is_some())
                .filter(|&s| an.aggregate.states.get(s) > 0)
                .max_by_key(|&s| an.aggregate.states.get(s))
        })
    }

    /// Carries out a sort key in the shown table; the new order starts at its top (the
    /// user sorted to see what comes first).
    pub(crate) fn sort_by(&mut self, action: Action) {
        let Some(slot) = self.sort_slot() else {
            return;
        };
        let ncols = columns::column_count(slot);
        let busiest = self
            .busiest_state(slot)
            .and_then(|st| Some((st, state_column(slot, st)?)));
        let s = &mut self.sort[slot];
        match action {
            Action::SortNext => s.column = (s.column + 1) % ncols,
            Action::SortPrev => s.column = (s.column + ncols - 1) % ncols,
            Action::SortBusiest => match busiest {
                Some((_, column)) => {
                    *s = SortState {
                        column,
                        descending: true,
                    }
                }
                None => {
                    self.status = Some("b: this table has no state column to sort by".into());
                    return;
                }
            },
            _ => s.descending = !s.descending,
        }
        self.selected[view_slot(self.view)] = 0;
        self.refresh_keeping(None, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::state::app::tests::app;
    use crate::tui::state::keys::View;

    #[test]
    fn b_sorts_processes_by_the_alerting_state_in_one_key() {
        let mut a = app();
        a.apply(Action::GoView(1));
        a.apply(Action::SortBusiest);
        let s = a.sort[0];
        assert!(s.descending);
        assert_eq!(columns::column_name(0, s.column), "CLOSE_WAIT");
        assert_eq!(a.selected(), 0);
        // `<` and `>` step one column either way.
        a.apply(Action::SortPrev);
        assert_eq!(columns::column_name(0, a.sort[0].column), "TIME_WAIT");
        a.apply(Action::SortNext);
        a.apply(Action::SortNext);
        assert_eq!(columns::column_name(0, a.sort[0].column), "LAST_ACK");
        // From the first column, `<` wraps to the last.
        a.sort[0].column = 0;
        a.apply(Action::SortPrev);
        assert_eq!(a.sort[0].column, columns::column_count(0) - 1);
    }

    #[test]
    fn b_in_other_tables() {
        let mut a = app();
        a.apply(Action::GoView(2));
        a.apply(Action::SortBusiest);
        assert_eq!(columns::column_name(1, a.sort[1].column), "CLOSE_WAIT");
        a.apply(Action::GoView(4));
        let before = a.sort[3];
        a.apply(Action::SortBusiest);
        assert_eq!(a.sort[3], before);
        assert!(a.status().is_some_and(|m| m.contains("no state column")));
        assert_eq!(a.view(), View::Sockets);
    }
}
