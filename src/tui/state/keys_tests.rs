//! Unit tests of the key table: live, filter, popup and replay bindings, and the help.

use super::*;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn normal_mode_keys() {
    let m = Mode::Normal;
    assert_eq!(action_for(&key(K::Char('q')), m), Some(Action::Quit));
    let ctrl_c = KeyEvent::new(K::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(action_for(&ctrl_c, m), Some(Action::Quit));
    assert_eq!(action_for(&key(K::Tab), m), Some(Action::NextView));
    assert_eq!(action_for(&key(K::BackTab), m), Some(Action::PrevView));
    for (i, c) in ['1', '2', '3', '4', '5', '6'].into_iter().enumerate() {
        assert_eq!(action_for(&key(K::Char(c)), m), Some(Action::GoView(i)));
    }
    assert_eq!(action_for(&key(K::Char('7')), m), None);
    assert_eq!(action_for(&key(K::Char('j')), m), Some(Action::Down));
    assert_eq!(action_for(&key(K::Up), m), Some(Action::Up));
    assert_eq!(action_for(&key(K::Enter), m), Some(Action::DrillDown));
    assert_eq!(action_for(&key(K::Esc), m), Some(Action::Back));
    assert_eq!(action_for(&key(K::Char('/')), m), Some(Action::StartFilter));
    assert_eq!(action_for(&key(K::Char('s')), m), Some(Action::SortNext));
    assert_eq!(action_for(&key(K::Char('S')), m), Some(Action::SortReverse));
    assert_eq!(action_for(&key(K::Char(' ')), m), Some(Action::TogglePause));
    assert_eq!(
        action_for(&key(K::Char('+')), m),
        Some(Action::SlowerInterval)
    );
    assert_eq!(
        action_for(&key(K::Char('-')), m),
        Some(Action::FasterInterval)
    );
    assert_eq!(action_for(&key(K::Char('e')), m), Some(Action::Explain));
    assert_eq!(action_for(&key(K::Char('?')), m), Some(Action::ToggleHelp));
    // Ctrl-j must not move: only plain keys map.
    let ctrl_j = KeyEvent::new(K::Char('j'), KeyModifiers::CONTROL);
    assert_eq!(action_for(&ctrl_j, m), None);
}

#[test]
fn filter_mode_types_everything() {
    let m = Mode::Filter;
    assert_eq!(
        action_for(&key(K::Char('q')), m),
        Some(Action::FilterChar('q'))
    );
    assert_eq!(
        action_for(&key(K::Char('1')), m),
        Some(Action::FilterChar('1'))
    );
    assert_eq!(
        action_for(&key(K::Char('/')), m),
        Some(Action::FilterChar('/'))
    );
    assert_eq!(action_for(&key(K::Enter), m), Some(Action::FilterCommit));
    assert_eq!(action_for(&key(K::Esc), m), Some(Action::Back));
    assert_eq!(
        action_for(&key(K::Backspace), m),
        Some(Action::FilterBackspace)
    );
    let ctrl_c = KeyEvent::new(K::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(action_for(&ctrl_c, m), Some(Action::Quit));
}

#[test]
fn popups_close_with_esc_and_question_mark() {
    for m in [Mode::Help, Mode::Explain] {
        assert_eq!(action_for(&key(K::Esc), m), Some(Action::Back));
        assert_eq!(action_for(&key(K::Char('?')), m), Some(Action::ToggleHelp));
        assert_eq!(action_for(&key(K::Char('q')), m), Some(Action::Quit));
    }
    assert_eq!(action_for(&key(K::Char('j')), Mode::Help), None);
}

#[test]
fn the_explanation_popup_scrolls_with_the_keys_help_names() {
    // Issue 20: J, j, Down and PgDn did nothing in the `e` popup although help said
    // "J scroll explanation".
    let m = Mode::Explain;
    let a = |c| action_for(&key(c), m);
    assert_eq!(a(K::Char('J')), Some(Action::InfoDown));
    assert_eq!(a(K::Char('U')), Some(Action::InfoUp));
    // K kills (in the views), never from inside the popup.
    assert_eq!(a(K::Char('K')), None);
    assert_eq!(a(K::Char('j')), Some(Action::Down));
    assert_eq!(a(K::Down), Some(Action::Down));
    assert_eq!(a(K::Char('k')), Some(Action::Up));
    assert_eq!(a(K::Up), Some(Action::Up));
    assert_eq!(a(K::PageDown), Some(Action::PageDown));
    assert_eq!(a(K::PageUp), Some(Action::PageUp));
    // Nothing else leaks into the popup: no view switch, no sort.
    assert_eq!(a(K::Char('2')), None);
    assert_eq!(a(K::Char('s')), None);
    let help = help_rows(false, false);
    let j = help.iter().find(|(k, _)| *k == "J").unwrap();
    assert!(j.1.contains("e popup"), "{j:?}");
}

#[test]
fn sort_keys_move_by_column_and_jump_to_the_busiest_state() {
    let m = Mode::Normal;
    assert_eq!(action_for(&key(K::Char('>')), m), Some(Action::SortNext));
    assert_eq!(action_for(&key(K::Char('<')), m), Some(Action::SortPrev));
    assert_eq!(action_for(&key(K::Char('b')), m), Some(Action::SortBusiest));
    assert_eq!(
        action_for(&key(K::Char('u')), m),
        Some(Action::ExplainUnattributed)
    );
    let help = help_rows(false, false);
    assert!(help.iter().any(|(k, _)| *k == "< >"), "{help:?}");
    assert!(help.iter().any(|(k, _)| *k == "b"), "{help:?}");
}

#[test]
fn help_lists_every_normal_action() {
    let rows = help_rows(false, true);
    let helped: Vec<Action> = BINDINGS
        .iter()
        .filter(|b| !b.label.is_empty())
        .map(|b| b.action)
        .collect();
    for b in BINDINGS.iter().filter(|b| b.modes.contains(&Mode::Normal)) {
        assert!(
            helped.contains(&b.action),
            "{:?} missing from help",
            b.action
        );
    }
    assert!(rows.iter().any(|(k, _)| *k == "q"));
    assert!(rows.iter().any(|(k, _)| *k == "Ctrl-C"));
}

#[test]
fn replay_keys_only_when_replaying() {
    let m = Mode::Normal;
    let r = |c| replay_action_for(&key(c), m);
    let l = |c| action_for(&key(c), m);
    assert_eq!(r(K::Char(' ')), Some(Action::TogglePause));
    assert_eq!(r(K::Left), Some(Action::StepBack));
    assert_eq!(r(K::Right), Some(Action::StepForward));
    assert_eq!(r(K::Char('[')), Some(Action::SeekBack));
    assert_eq!(r(K::Char(']')), Some(Action::SeekForward));
    assert_eq!(r(K::Home), Some(Action::FirstFrame));
    assert_eq!(r(K::End), Some(Action::LastFrame));
    assert_eq!(r(K::Char('-')), Some(Action::SlowerPlayback));
    assert_eq!(r(K::Char('+')), Some(Action::FasterPlayback));
    // `<`/`>` move the sort column in a replay as they do live.
    assert_eq!(r(K::Char('<')), Some(Action::SortPrev));
    assert_eq!(r(K::Char('>')), Some(Action::SortNext));
    // Rows keep g/G in replay; the shared keys still work.
    assert_eq!(r(K::Char('g')), Some(Action::Top));
    assert_eq!(r(K::Char('G')), Some(Action::Bottom));
    assert_eq!(r(K::Char('q')), Some(Action::Quit));
    assert_eq!(r(K::Tab), Some(Action::NextView));
    assert_eq!(r(K::Char('/')), Some(Action::StartFilter));
    // Live mode keeps its meanings and has no replay keys.
    assert_eq!(l(K::Home), Some(Action::Top));
    assert_eq!(l(K::End), Some(Action::Bottom));
    assert_eq!(l(K::Char('+')), Some(Action::SlowerInterval));
    assert_eq!(l(K::Left), None);
    assert_eq!(l(K::Char('[')), None);
    assert_eq!(l(K::Char(']')), None);
    // In the filter, replay keys are typed, not obeyed.
    assert_eq!(
        replay_action_for(&key(K::Char('[')), Mode::Filter),
        Some(Action::FilterChar('['))
    );
}

#[test]
fn help_shows_replay_keys_only_in_replay() {
    let live = help_rows(false, true);
    let replay = help_rows(true, false);
    assert!(!live.iter().any(|(_, h)| h.starts_with("(replay)")));
    assert!(live.iter().any(|(k, _)| *k == "Home g"));
    for k in ["Space", "←", "→", "[", "]", "Home", "End", "-", "+"] {
        assert!(
            replay.iter().any(|(kk, _)| *kk == k),
            "{k} not in replay help"
        );
    }
    assert!(!replay.iter().any(|(_, h)| h.contains("interval")));
    // Replay-only rows say so in help (g/G keep their row meaning).
    for b in BINDINGS.iter().filter(|b| b.scope == Scope::Replay) {
        assert!(
            b.label.is_empty() || b.help.starts_with("(replay)") || b.help.contains("row"),
            "{:?}",
            b.action
        );
    }
}

#[test]
fn n_and_shift_n_switch_namespaces_live_only_and_help_lists_them_only_then() {
    assert_eq!(
        action_for(&key(K::Char('n')), Mode::Normal),
        Some(Action::NextNetns)
    );
    assert_eq!(
        action_for(&key(K::Char('N')), Mode::Normal),
        Some(Action::PrevNetns)
    );
    assert_eq!(replay_action_for(&key(K::Char('n')), Mode::Normal), None);
    assert_eq!(
        action_for(&key(K::Char('n')), Mode::Filter),
        Some(Action::FilterChar('n'))
    );
    let with = help_rows(false, true);
    let without = help_rows(false, false);
    assert!(with.iter().any(|(k, _)| *k == "n"));
    assert!(with.iter().any(|(k, _)| *k == "N"));
    assert!(!without.iter().any(|(k, _)| *k == "n" || *k == "N"));
    assert_eq!(with.len(), without.len() + 2);
}

#[test]
fn p_cycles_the_protocol_live_and_in_replay_and_help_says_so() {
    let p = key(K::Char('p'));
    assert_eq!(action_for(&p, Mode::Normal), Some(Action::NextProtocol));
    assert_eq!(
        replay_action_for(&p, Mode::Normal),
        Some(Action::NextProtocol)
    );
    // Typed into a filter it is a letter, and popups ignore it.
    assert_eq!(action_for(&p, Mode::Filter), Some(Action::FilterChar('p')));
    assert_eq!(action_for(&p, Mode::Help), None);
    for replay in [false, true] {
        let rows = help_rows(replay, false);
        let row = rows.iter().find(|(k, _)| *k == "p");
        assert!(
            row.is_some_and(|(_, what)| what.contains("UDP") && what.contains("UNIX")),
            "{rows:?}"
        );
    }
    // No other binding claims `p` in the modes it applies to.
    let claims = BINDINGS
        .iter()
        .filter(|b| b.key == KeyMatch::Code(K::Char('p')))
        .count();
    assert_eq!(claims, 1);
}

#[test]
fn k_kills_live_only_and_the_confirmation_takes_y_or_enter_else_cancels() {
    let k = key(K::Char('K'));
    assert_eq!(action_for(&k, Mode::Normal), Some(Action::Kill));
    assert_eq!(
        replay_action_for(&k, Mode::Normal),
        None,
        "a recording kills nothing"
    );
    assert_eq!(action_for(&k, Mode::Filter), Some(Action::FilterChar('K')));
    assert_eq!(action_for(&k, Mode::Help), None);
    // The Detail explanation scrolls back with U now that K kills.
    assert_eq!(
        action_for(&key(K::Char('U')), Mode::Normal),
        Some(Action::InfoUp)
    );
    assert_eq!(
        action_for(&key(K::Char('J')), Mode::Normal),
        Some(Action::InfoDown)
    );
    let c = Mode::Confirm;
    assert_eq!(action_for(&key(K::Char('y')), c), Some(Action::ConfirmKill));
    assert_eq!(action_for(&key(K::Enter), c), Some(Action::ConfirmKill));
    for other in [
        K::Char('n'),
        K::Char('Y'),
        K::Char('q'),
        K::Esc,
        K::Up,
        K::Char(' '),
    ] {
        assert_eq!(
            action_for(&key(other), c),
            Some(Action::CancelKill),
            "{other:?}"
        );
    }
    let ctrl_c = KeyEvent::new(K::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(action_for(&ctrl_c, c), Some(Action::Quit));
    // y outside the confirmation does nothing.
    assert_eq!(action_for(&key(K::Char('y')), Mode::Normal), None);
    let live = help_rows(false, false);
    assert!(live.iter().any(|(k, h)| *k == "K" && h.contains("kill")));
    assert!(!help_rows(true, false).iter().any(|(k, _)| *k == "K"));
    let claims = BINDINGS
        .iter()
        .filter(|b| b.key == KeyMatch::Code(K::Char('K')))
        .count();
    assert_eq!(claims, 1);
}
