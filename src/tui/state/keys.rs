//! The key table: every binding lives in [`BINDINGS`], [`action_for`] looks keys up in it
//! and the help screen is generated from it, so help can never drift from behaviour.
//! Nothing here changes state; [`crate::tui::state::app::App::apply`] does.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub use super::view::View;

/// What keys mean depends on what the user is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Browsing the views.
    Normal,
    /// Typing a filter expression after `/`.
    Filter,
    /// The help screen is open.
    Help,
    /// An explanation is open.
    Explain,
    /// The kill confirmation is open: `y`/Enter kills, any other key cancels.
    Confirm,
}

/// Everything a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Leave the dashboard.
    Quit,
    /// Open or close the help screen.
    ToggleHelp,
    /// Next view.
    NextView,
    /// Previous view.
    PrevView,
    /// Jump to the view at this index of [`View::TABS`].
    GoView(usize),
    /// Selection up one row.
    Up,
    /// Selection down one row.
    Down,
    /// Selection up one page.
    PageUp,
    /// Selection down one page.
    PageDown,
    /// Selection to the first row.
    Top,
    /// Selection to the last row.
    Bottom,
    /// Open the detail of the selected row.
    DrillDown,
    /// Close the detail, popup or filter; back to where the user was.
    Back,
    /// Start typing a filter.
    StartFilter,
    /// Type a character into the filter.
    FilterChar(char),
    /// Delete the filter's last character.
    FilterBackspace,
    /// Keep the typed filter and stop editing.
    FilterCommit,
    /// Sort by the next column.
    SortNext,
    /// Sort by the previous column.
    SortPrev,
    /// Sort by the busiest state's column: the firing alert's state, else the state with
    /// the most sockets.
    SortBusiest,
    /// Reverse the sort order.
    SortReverse,
    /// Pause or resume collection.
    TogglePause,
    /// Collect less often.
    SlowerInterval,
    /// Collect more often.
    FasterInterval,
    /// Explain the selected state or finding.
    Explain,
    /// Explain why sockets are unattributed, and the fix.
    ExplainUnattributed,
    /// Show the trend charts over the next window (1m, 10m, 1h).
    CycleTrendWindow,
    /// Show the next collected protocol (TCP, UDP, UNIX).
    NextProtocol,
    /// Group the Processes view by the next key: process, systemd unit, container.
    CycleGrouping,
    /// (`--all-netns`) Show the next namespace.
    NextNetns,
    /// (`--all-netns`) Show the previous namespace.
    PrevNetns,
    /// (Detail, explanation popup) Scroll the explanation down.
    InfoDown,
    /// (Detail, explanation popup) Scroll the explanation up.
    InfoUp,
    /// (replay) One frame back; pauses.
    StepBack,
    /// (replay) One frame forward; pauses.
    StepForward,
    /// (replay) Back a tenth of the recording.
    SeekBack,
    /// (replay) Forward a tenth of the recording.
    SeekForward,
    /// (replay) The first frame.
    FirstFrame,
    /// (replay) The last frame.
    LastFrame,
    /// (replay) Halve the playback speed.
    SlowerPlayback,
    /// (replay) Double the playback speed.
    FasterPlayback,
    /// Show what `K` would kill from the selection and ask (see `state::kill`).
    Kill,
    /// (kill confirmation) Kill them.
    ConfirmKill,
    /// (kill confirmation) Do not.
    CancelKill,
}

/// Whether a binding applies to the live dashboard, to a replay, or to both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Live and replay.
    Both,
    /// Only the live dashboard (`sockscope top`).
    Live,
    /// Only `sockscope replay`.
    Replay,
    /// Only the live dashboard over several namespaces (`--all-netns`); help lists it only
    /// then, and elsewhere its keys do nothing.
    Netns,
}

impl Scope {
    fn applies(self, replay: bool) -> bool {
        match self {
            Scope::Both => true,
            Scope::Live | Scope::Netns => !replay,
            Scope::Replay => replay,
        }
    }
}

/// Which key a binding matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMatch {
    /// This key code with no Ctrl/Alt.
    Code(KeyCode),
    /// This character with Ctrl held.
    Ctrl(char),
    /// Any printable character (filter typing).
    AnyChar,
    /// Any key at all (the kill confirmation's "anything else cancels").
    Any,
}

/// One row of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Live, replay or both.
    pub scope: Scope,
    /// Modes where the binding applies.
    pub modes: &'static [Mode],
    /// The key.
    pub key: KeyMatch,
    /// What it does.
    pub action: Action,
    /// How help spells the key; empty hides the row from help (an alias shown elsewhere).
    pub label: &'static str,
    /// What help says it does.
    pub help: &'static str,
}

const N: &[Mode] = &[Mode::Normal];
const BROWSE: &[Mode] = &[Mode::Normal, Mode::Help, Mode::Explain];
const F: &[Mode] = &[Mode::Filter];
const ALL: &[Mode] = &[
    Mode::Normal,
    Mode::Filter,
    Mode::Help,
    Mode::Explain,
    Mode::Confirm,
];
const CONFIRM: &[Mode] = &[Mode::Confirm];
const POPUP: &[Mode] = &[Mode::Help, Mode::Explain];
/// Browsing, and the explanation popup (where moving keys scroll it).
const NE: &[Mode] = &[Mode::Normal, Mode::Explain];

const fn b(
    modes: &'static [Mode],
    key: KeyMatch,
    action: Action,
    label: &'static str,
    help: &'static str,
) -> Binding {
    scoped(Scope::Both, modes, key, action, label, help)
}

const fn live(
    modes: &'static [Mode],
    key: KeyMatch,
    action: Action,
    label: &'static str,
    help: &'static str,
) -> Binding {
    scoped(Scope::Live, modes, key, action, label, help)
}

const fn netns(key: KeyMatch, action: Action, label: &'static str, help: &'static str) -> Binding {
    scoped(Scope::Netns, N, key, action, label, help)
}

const fn rp(key: KeyMatch, action: Action, label: &'static str, help: &'static str) -> Binding {
    scoped(Scope::Replay, N, key, action, label, help)
}

const fn scoped(
    scope: Scope,
    modes: &'static [Mode],
    key: KeyMatch,
    action: Action,
    label: &'static str,
    help: &'static str,
) -> Binding {
    Binding {
        scope,
        modes,
        key,
        action,
        label,
        help,
    }
}

use KeyCode as K;
use KeyMatch::{Any, AnyChar, Code, Ctrl};

/// The key table. Earlier rows win, so filter typing comes after the filter's own keys.
pub const BINDINGS: &[Binding] = &[
    b(ALL, Ctrl('c'), Action::Quit, "Ctrl-C", "quit"),
    b(BROWSE, Code(K::Char('q')), Action::Quit, "q", "quit"),
    b(N, Code(K::Char('?')), Action::ToggleHelp, "?", "this help"),
    b(POPUP, Code(K::Char('?')), Action::ToggleHelp, "", ""),
    b(POPUP, Code(K::Esc), Action::Back, "", ""),
    b(N, Code(K::Tab), Action::NextView, "Tab", "next view"),
    b(
        N,
        Code(K::BackTab),
        Action::PrevView,
        "Shift-Tab",
        "previous view",
    ),
    b(N, Code(K::Char('1')), Action::GoView(0), "1", "Overview"),
    b(
        N,
        Code(K::Char('2')),
        Action::GoView(1),
        "2",
        "Processes (process × state)",
    ),
    b(
        N,
        Code(K::Char('3')),
        Action::GoView(2),
        "3",
        "Listeners (backlog, drops)",
    ),
    b(
        N,
        Code(K::Char('4')),
        Action::GoView(3),
        "4",
        "Remotes (address × state)",
    ),
    b(
        N,
        Code(K::Char('5')),
        Action::GoView(4),
        "5",
        "Sockets (filter with /)",
    ),
    b(
        N,
        Code(K::Char('6')),
        Action::GoView(5),
        "6",
        "State machine",
    ),
    b(
        N,
        Code(K::Char('p')),
        Action::NextProtocol,
        "p",
        "next protocol: TCP/UDP/UNIX",
    ),
    b(
        N,
        Code(K::Char('o')),
        Action::CycleGrouping,
        "o",
        "Processes by unit/container",
    ),
    netns(
        Code(K::Char('n')),
        Action::NextNetns,
        "n",
        "next network namespace",
    ),
    netns(
        Code(K::Char('N')),
        Action::PrevNetns,
        "N",
        "previous network namespace",
    ),
    b(NE, Code(K::Up), Action::Up, "↑ k", "move up (e: scroll)"),
    b(NE, Code(K::Char('k')), Action::Up, "", ""),
    b(
        NE,
        Code(K::Down),
        Action::Down,
        "↓ j",
        "move down (e: scroll)",
    ),
    b(NE, Code(K::Char('j')), Action::Down, "", ""),
    b(NE, Code(K::PageUp), Action::PageUp, "PgUp", "page up"),
    b(NE, Code(K::PageDown), Action::PageDown, "PgDn", "page down"),
    live(N, Code(K::Home), Action::Top, "Home g", "first row"),
    live(N, Code(K::Char('g')), Action::Top, "", ""),
    live(N, Code(K::End), Action::Bottom, "End G", "last row"),
    live(N, Code(K::Char('G')), Action::Bottom, "", ""),
    rp(Code(K::Char('g')), Action::Top, "g", "first row"),
    rp(Code(K::Char('G')), Action::Bottom, "G", "last row"),
    b(
        N,
        Code(K::Enter),
        Action::DrillDown,
        "Enter",
        "drill down (sockets, numbers)",
    ),
    b(
        N,
        Code(K::Esc),
        Action::Back,
        "Esc",
        "back / close / clear filter",
    ),
    b(
        N,
        Code(K::Char('/')),
        Action::StartFilter,
        "/",
        "filter sockets (CLI syntax)",
    ),
    b(
        N,
        Code(K::Char('s')),
        Action::SortNext,
        "s",
        "next sort column (to top)",
    ),
    b(
        N,
        Code(K::Char('S')),
        Action::SortReverse,
        "S",
        "reverse the sort (to top)",
    ),
    b(
        N,
        Code(K::Char('<')),
        Action::SortPrev,
        "< >",
        "sort column left / right",
    ),
    b(N, Code(K::Char('>')), Action::SortNext, "", ""),
    b(
        N,
        Code(K::Char('b')),
        Action::SortBusiest,
        "b",
        "sort by the busiest state",
    ),
    live(
        N,
        Code(K::Char(' ')),
        Action::TogglePause,
        "Space",
        "pause / resume collection",
    ),
    live(
        N,
        Code(K::Char('+')),
        Action::SlowerInterval,
        "+",
        "longer interval (slower)",
    ),
    live(
        N,
        Code(K::Char('-')),
        Action::FasterInterval,
        "-",
        "shorter interval (faster)",
    ),
    rp(
        Code(K::Char(' ')),
        Action::TogglePause,
        "Space",
        "(replay) play / pause",
    ),
    rp(
        Code(K::Left),
        Action::StepBack,
        "←",
        "(replay) frame back, pause",
    ),
    rp(
        Code(K::Right),
        Action::StepForward,
        "→",
        "(replay) frame forward, pause",
    ),
    rp(
        Code(K::Char('[')),
        Action::SeekBack,
        "[",
        "(replay) back 10% of frames",
    ),
    rp(
        Code(K::Char(']')),
        Action::SeekForward,
        "]",
        "(replay) forward 10% of frames",
    ),
    rp(
        Code(K::Home),
        Action::FirstFrame,
        "Home",
        "(replay) first frame",
    ),
    rp(
        Code(K::End),
        Action::LastFrame,
        "End",
        "(replay) last frame",
    ),
    rp(
        Code(K::Char('-')),
        Action::SlowerPlayback,
        "-",
        "(replay) half speed (≥0.25×)",
    ),
    rp(
        Code(K::Char('+')),
        Action::FasterPlayback,
        "+",
        "(replay) double speed (≤16×)",
    ),
    b(
        N,
        Code(K::Char('w')),
        Action::CycleTrendWindow,
        "w",
        "trend window: 1m, 10m, 1h",
    ),
    b(
        N,
        Code(K::Char('e')),
        Action::Explain,
        "e",
        "explain state or finding",
    ),
    b(
        N,
        Code(K::Char('u')),
        Action::ExplainUnattributed,
        "u",
        "why sockets are unattributed",
    ),
    b(
        NE,
        Code(K::Char('J')),
        Action::InfoDown,
        "J",
        "scroll down (Detail, e popup)",
    ),
    b(
        NE,
        Code(K::Char('U')),
        Action::InfoUp,
        "U",
        "scroll up (Detail, e popup)",
    ),
    live(
        N,
        Code(K::Char('K')),
        Action::Kill,
        "K",
        "kill the selection (asks)",
    ),
    live(CONFIRM, Code(K::Char('y')), Action::ConfirmKill, "", ""),
    live(CONFIRM, Code(K::Enter), Action::ConfirmKill, "", ""),
    live(CONFIRM, Any, Action::CancelKill, "", ""),
    b(
        F,
        Code(K::Enter),
        Action::FilterCommit,
        "Enter",
        "keep the filter (in /)",
    ),
    b(
        F,
        Code(K::Esc),
        Action::Back,
        "Esc",
        "cancel the edit (in /)",
    ),
    b(
        F,
        Code(K::Backspace),
        Action::FilterBackspace,
        "Backspace",
        "delete a char (in /)",
    ),
    b(F, AnyChar, Action::FilterChar(' '), "", ""),
];

fn matches(key: &KeyMatch, ev: &KeyEvent) -> bool {
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let alt = ev.modifiers.contains(KeyModifiers::ALT);
    match *key {
        KeyMatch::Ctrl(c) => ctrl && ev.code == KeyCode::Char(c),
        KeyMatch::Code(code) => !ctrl && !alt && ev.code == code,
        KeyMatch::AnyChar => !ctrl && !alt && matches!(ev.code, KeyCode::Char(_)),
        KeyMatch::Any => true,
    }
}

/// What `key` means in `mode` on the live dashboard, if anything.
pub fn action_for(key: &KeyEvent, mode: Mode) -> Option<Action> {
    lookup(key, mode, false)
}

/// What `key` means in `mode` while replaying a recording, if anything.
pub fn replay_action_for(key: &KeyEvent, mode: Mode) -> Option<Action> {
    lookup(key, mode, true)
}

/// What `key` means in `mode`, live (`replay` false) or replaying.
pub fn lookup(key: &KeyEvent, mode: Mode, replay: bool) -> Option<Action> {
    let binding = BINDINGS
        .iter()
        .find(|b| b.scope.applies(replay) && b.modes.contains(&mode) && matches(&b.key, key))?;
    match (binding.action, key.code) {
        (Action::FilterChar(_), KeyCode::Char(c)) => Some(Action::FilterChar(c)),
        (a, _) => Some(a),
    }
}

/// The help screen's rows, `(key, what it does)`, in table order: the live dashboard's
/// (`replay` false) or a replay's; the namespace keys only when `netns` (`--all-netns` with
/// more than one namespace).
pub fn help_rows(replay: bool, netns: bool) -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| b.scope.applies(replay) && !b.label.is_empty())
        .filter(|b| netns || b.scope != Scope::Netns)
        .map(|b| (b.label, b.help))
        .collect()
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
