//! The explanation popup on [`App`]: `e` opens it on the selection (or the open
//! drill-down), `u` on why sockets are unattributed; moving keys scroll it. It keeps only
//! its topic and scroll: the text is made from the current tick each time it is drawn
//! ([`App::explanation`]), so its ages and counts are the ones the screen behind it shows.

use crate::model::Protocol;
use crate::tui::state::app::{App, ExplainTopic, Explanation};
use crate::tui::state::keys::{Action, Mode, View};

/// Lines `J`/`K` scroll the popup by (as in the Detail view); arrows scroll one, pages ten.
const STEP: u16 = 3;
const PAGE: u16 = 10;

impl App {
    /// What `e` explains here: the open drill-down in the Detail view, else the selection.
    pub(crate) fn selected_topic(&self) -> Option<ExplainTopic> {
        let target = match self.view {
            View::Detail => self.detail.clone()?,
            _ => self.selected_target()?,
        };
        Some(ExplainTopic::Target(target))
    }

    /// Opens the popup on `topic`, at its top, when there is something to say about it.
    pub(crate) fn open_explanation(&mut self, topic: Option<ExplainTopic>) {
        let Some(topic) = topic else {
            return;
        };
        if topic == ExplainTopic::Unattributed && self.unattributed_counts().0 == 0 {
            self.status = Some("u: every socket has an owning process".into());
            return;
        }
        let before = self.explaining.replace(topic);
        if self.explanation().is_none() {
            self.explaining = before;
            return;
        }
        self.explain_scroll = 0;
        self.mode = Mode::Explain;
    }

    /// The open popup's title and text, made from the current data.
    pub fn explanation(&self) -> Option<Explanation> {
        match self.explaining.as_ref()? {
            ExplainTopic::Target(t) => self.explanation_of(t),
            ExplainTopic::Unattributed => self.unattributed_explanation(),
        }
    }

    /// Scrolls the popup for a moving key; never past the text's last line.
    pub(crate) fn scroll_explanation(&mut self, action: Action) {
        let s = self.explain_scroll;
        let s = match action {
            Action::Down => s.saturating_add(1),
            Action::Up => s.saturating_sub(1),
            Action::InfoDown => s.saturating_add(STEP),
            Action::InfoUp => s.saturating_sub(STEP),
            Action::PageDown => s.saturating_add(PAGE),
            Action::PageUp => s.saturating_sub(PAGE),
            _ => s,
        };
        let lines = self
            .explanation()
            .map_or(0, |e| e.text.lines().count().saturating_sub(1));
        self.explain_scroll = s.min(u16::try_from(lines).unwrap_or(u16::MAX));
    }

    /// Unattributed and all sockets of the shown protocol, as the notice counts them, and
    /// what they are called (`sockets`, `UDP sockets`).
    pub(crate) fn unattributed_counts(&self) -> (u64, u64, String) {
        if let Some(a) = self.proto_aggregate() {
            return (
                a.unattributed,
                a.total(),
                format!("{} sockets", a.protocol.name()),
            );
        }
        self.data().map_or((0, 0, String::new()), |(_, an)| {
            (
                an.aggregate.unattributed,
                an.aggregate.states.total(),
                "sockets".into(),
            )
        })
    }

    /// Why sockets have no owner and how to fix it: the long form of the one-line notice.
    fn unattributed_explanation(&self) -> Option<Explanation> {
        let (snap, _) = self.data()?;
        let (un, total, what) = self.unattributed_counts();
        let title = "unattributed sockets".to_string();
        if un == 0 {
            return Some(Explanation {
                title,
                text: format!("Every one of the {total} {what} has an owning process now."),
            });
        }
        let mut text = format!("{un} of {total} {what} have no owning process.\n\n");
        match snap.attribution.reason {
            Some(r) => {
                text.push_str(&format!("Why: {}.\n\n", r.cause()));
                match r.fix() {
                    Some(fix) => text.push_str(&format!("Fix: {fix}.\n")),
                    None => text.push_str("Nothing to fix: the next sample tries again.\n"),
                }
            }
            None => text.push_str("Why: no process that sockscope can see holds them.\n"),
        }
        if self.proto == Protocol::Tcp {
            text.push_str("\nThe Processes view (2) lists them as one row; Enter opens them.\n");
        }
        text.push_str("\nFrom a shell: sockscope explain unattributed");
        Some(Explanation { title, text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::finding::Subject;
    use crate::model::{Attribution, Owner, UnattributedReason};
    use crate::tui::state::app::tests::{app, tick};
    use crate::tui::state::target::DetailTarget;

    #[test]
    fn the_popup_scrolls_and_stops_at_its_end() {
        let mut a = app();
        a.apply(Action::Explain);
        assert_eq!(a.mode(), Mode::Explain);
        let last = u16::try_from(a.explanation().unwrap().text.lines().count() - 1).unwrap();
        assert!(last > 10, "{last}");
        // The keys help names all scroll, and none moves the selection behind.
        for (k, want) in [
            (Action::InfoDown, 3),
            (Action::Down, 4),
            (Action::Up, 3),
            (Action::InfoUp, 0),
            (Action::PageDown, 10),
            (Action::PageDown, last),
            (Action::Down, last),
            (Action::PageUp, last - 10),
        ] {
            a.apply(k);
            assert_eq!(a.explain_scroll, want, "{k:?}");
        }
        assert_eq!(a.selected(), 0);
        // Reopening starts at the top.
        a.apply(Action::Back);
        a.apply(Action::Explain);
        assert_eq!(a.explain_scroll, 0);
    }

    #[test]
    fn the_popup_numbers_follow_the_ticks() {
        let mut a = app();
        a.apply(Action::Explain);
        assert!(a.explanation().unwrap().text.contains("holds 2 CLOSE_WAIT"));
        let mut t = tick(1_008_000);
        t.analysis.alerts[0].finding.message = "java[42] holds 9 CLOSE_WAIT".into();
        a.on_tick(t);
        let e = a.explanation().unwrap();
        assert!(e.text.contains("holds 9 CLOSE_WAIT"), "{}", e.text);
        assert!(!e.text.contains("holds 2 CLOSE_WAIT"), "{}", e.text);
        assert_eq!(
            a.explaining,
            Some(ExplainTopic::Target(DetailTarget::Finding(
                crate::model::RuleId::CloseWaitLeak,
                Subject::Process {
                    pid: 42,
                    comm: "java".into(),
                    user: "root".into(),
                    unit: None,
                    container: None,
                }
            )))
        );
    }

    #[test]
    fn u_explains_unattributed_sockets_with_the_fix() {
        let mut a = app();
        a.apply(Action::ExplainUnattributed);
        assert_eq!(a.mode(), Mode::Normal);
        assert!(a.status().is_some_and(|s| s.contains("every socket")));
        let mut t = tick(1_001_000);
        t.snapshot.sockets[4].owner = Owner::Unattributed;
        t.snapshot.attribution = Attribution {
            attempted: true,
            unreadable_pids: 1,
            reason: Some(UnattributedReason::NotRoot),
        };
        t.analysis.aggregate = crate::analyze::aggregate::aggregate(&t.snapshot);
        a.on_tick(t);
        a.apply(Action::ExplainUnattributed);
        assert_eq!(a.mode(), Mode::Explain);
        let e = a.explanation().unwrap();
        assert!(
            e.text.starts_with("1 of 5 sockets have no owning process"),
            "{}",
            e.text
        );
        assert!(
            e.text.contains(UnattributedReason::NotRoot.cause()),
            "{}",
            e.text
        );
        assert!(e.text.contains(UnattributedReason::SETCAP), "{}", e.text);
    }
}
