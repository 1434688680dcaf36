//! [`App`]: everything the dashboard shows and where the user is. The UI loop is its only
//! owner: it feeds [`Event`]s through [`App::on_event`] and key actions through
//! [`App::apply`], then draws from `&App`. Drawing never writes here. The clock is the
//! latest snapshot's time (`now_ms`), so rendering is deterministic under test.

use crate::analyze::proto_counts::ProtoAggregate;
use crate::model::{Protocol, Protocols};
use crate::tui::state::churn::Churn;
use crate::tui::state::columns::{self, SortState};
use crate::tui::state::event::ReplayStatus;
use crate::tui::state::event::{Control, Event, TickData};
use crate::tui::state::filter;
use crate::tui::state::fleet::Fleet;
use crate::tui::state::grouping::Grouping;
use crate::tui::state::history::{observe, CloseWaitTrend, StateHistory, TrendWindow};
use crate::tui::state::keys::{lookup, Action, Mode, View};
use crate::tui::state::kill::KillUi;
use crate::tui::state::proto_rows;
use crate::tui::state::rows::{self, RowKey, Rows};
use crate::tui::state::target::{self, DetailTarget};

mod accessors;
mod drill;
mod explain_popup;
#[cfg(test)]
mod kill_tests;
mod on_fleet;
mod on_grouping;
mod on_kill;
mod on_proto;
mod on_replay;
mod options;
#[cfg(test)]
mod processes_tests;
#[cfg(test)]
mod service_tests;
mod sort_keys;

pub use options::{color_from_env, TrendLines, TuiOptions};

/// The intervals `+` and `-` step through, in milliseconds.
pub const INTERVALS_MS: [u64; 9] = [250, 500, 1000, 2000, 3000, 5000, 10_000, 30_000, 60_000];

/// Rows PgUp/PgDn move by.
const PAGE: usize = 10;

/// Lines J/U scroll the Detail view's explanation by.
const INFO_STEP: u16 = 3;

/// An open explanation popup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// What is explained.
    pub title: String,
    /// The text.
    pub text: String,
}

/// What an open explanation popup explains. Its text is made from every tick's data as it
/// is drawn ([`App::explanation`]), so its numbers are the ones the screen behind it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainTopic {
    /// The state, finding, process, listener, remote or socket a selection or drill-down is.
    Target(DetailTarget),
    /// Why sockets have no owning process, and the fix (`u`).
    Unattributed,
}

/// The dashboard's state.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) host: String,
    /// Draw in colour (not under `NO_COLOR`).
    pub(crate) color: bool,
    /// The trend charts' window (`w`).
    pub(crate) trend_window: TrendWindow,
    /// The thresholds the trend charts draw.
    pub(crate) lines: TrendLines,
    pub(crate) interval_ms: u64,
    pub(crate) paused: bool,
    pub(crate) view: View,
    pub(crate) back_to: View,
    pub(crate) mode: Mode,
    pub(crate) tick: Option<TickData>,
    pub(crate) now_ms: i64,
    pub(crate) history: StateHistory,
    pub(crate) cw_trend: CloseWaitTrend,
    pub(crate) collect_error: Option<String>,
    pub(crate) selected: [usize; 7],
    /// The selected row of each view not shown, by key (see `switch_to`).
    pub(crate) saved_keys: [Option<RowKey>; 7],
    pub(crate) sort: [SortState; 4],
    pub(crate) filter: String,
    pub(crate) filter_input: String,
    pub(crate) filter_saved: String,
    pub(crate) filter_error: Option<String>,
    pub(crate) rows: Rows,
    pub(crate) detail: Option<DetailTarget>,
    /// First line shown of the Detail view's explanation pane (drawing clamps it).
    pub(crate) info_scroll: u16,
    /// The open explanation popup's topic.
    pub(crate) explaining: Option<ExplainTopic>,
    /// First line shown of the explanation popup (drawing clamps it).
    pub(crate) explain_scroll: u16,
    pub(crate) quit: bool,
    pub(crate) fatal: Option<String>,
    /// The signal that ended the dashboard, if one did.
    pub(crate) signal: Option<i32>,
    /// Set when replaying a recording: where the player is.
    pub(crate) replay: Option<ReplayStatus>,
    /// Set under `--all-netns`: every namespace, and which one is shown.
    pub(crate) fleet: Option<Fleet>,
    /// The protocols asked for at start (`-t/-u/-x`; none in a replay).
    pub(crate) wanted: Protocols,
    /// The protocol the views show (`p` cycles).
    pub(crate) proto: Protocol,
    /// The shown protocol's counts when it is UDP or UNIX (see `on_proto`).
    pub(crate) proto_agg: Option<ProtoAggregate>,
    /// A one-line answer to the last key, shown in the footer until the next key (why
    /// Enter opened nothing).
    pub(crate) status: Option<String>,
    /// `K`: whether it may kill, the open confirmation, the request on its way.
    pub(crate) kill: KillUi,
    /// The churn panel's destroy events.
    pub(crate) churn: Churn,
    /// What a Processes row stands for (`o`).
    pub(crate) grouping: Grouping,
}

pub(crate) fn view_slot(v: View) -> usize {
    v.tab_index().unwrap_or(6)
}

impl App {
    /// A dashboard with no data yet.
    pub fn new(opts: &TuiOptions) -> App {
        let lo = INTERVALS_MS[0];
        let hi = INTERVALS_MS[INTERVALS_MS.len() - 1];
        App {
            host: opts.host.clone(),
            color: opts.color,
            trend_window: TrendWindow::default(),
            lines: opts.lines,
            interval_ms: opts.interval_ms.clamp(lo, hi),
            paused: false,
            view: View::Overview,
            back_to: View::Overview,
            mode: Mode::Normal,
            tick: None,
            now_ms: 0,
            history: StateHistory::default(),
            cw_trend: CloseWaitTrend::default(),
            collect_error: None,
            selected: [0; 7],
            saved_keys: Default::default(),
            sort: columns::default_sorts(),
            filter: String::new(),
            filter_input: String::new(),
            filter_saved: String::new(),
            filter_error: None,
            rows: Rows::default(),
            detail: None,
            info_scroll: 0,
            explaining: None,
            explain_scroll: 0,
            quit: false,
            fatal: None,
            signal: None,
            replay: None,
            fleet: None,
            wanted: opts.protocols,
            proto: opts.protocols.iter().next().unwrap_or(Protocol::Tcp),
            proto_agg: None,
            status: None,
            kill: KillUi::default(),
            churn: Churn::default(),
            grouping: Grouping::default(),
        }
    }

    /// Folds in one event; returns a request for the collector thread when the event
    /// changed the interval or pause state.
    pub fn on_event(&mut self, ev: Event) -> Option<Control> {
        match ev {
            Event::Tick(t) => {
                self.on_tick(*t);
                None
            }
            Event::Fleet(ft) => {
                self.on_fleet_tick(*ft);
                None
            }
            Event::CollectError(e) => {
                self.collect_error = Some(e);
                None
            }
            Event::Key(k) => {
                lookup(&k, self.mode, self.replay.is_some()).and_then(|a| self.apply(a))
            }
            Event::Replay(f) => {
                self.on_replay(*f);
                None
            }
            Event::Resize(..) => None,
            Event::InputLost(_) => {
                self.quit = true;
                Some(Control::Shutdown)
            }
            Event::Terminate(sig) => {
                self.signal = Some(sig);
                self.quit = true;
                Some(Control::Shutdown)
            }
            Event::Killed(done) => {
                self.on_killed(*done);
                None
            }
            Event::Churn(c) => {
                self.on_churn(*c);
                None
            }
            Event::CollectorGone(why) => {
                self.fatal = Some(why);
                self.quit = true;
                None
            }
        }
    }

    /// Stores a tick; ignored while paused so the screen holds still.
    pub fn on_tick(&mut self, t: TickData) {
        if self.paused {
            return;
        }
        self.show_tick(t);
    }

    /// Stores a tick whatever the pause state (replay steps while paused).
    pub(crate) fn show_tick(&mut self, t: TickData) {
        self.now_ms = t.snapshot.taken_at_ms;
        observe(&mut self.history, &mut self.cw_trend, &t);
        self.collect_error = None;
        let key = self.remember_selection();
        self.tick = Some(t);
        // A finding drill-down follows its alert: a service's pids change between ticks.
        if let Some(d) = self.detail.take() {
            self.detail = Some(match self.data() {
                Some((_, an)) => target::refreshed(d, &an.alerts),
                None => d,
            });
        }
        self.refresh_keeping(key, None);
    }

    /// Recomputes row orders after new data, a sort or a filter change.
    fn refresh(&mut self) {
        let key = self.remember_selection();
        self.refresh_keeping(key, None);
    }

    /// The key of the shown view's selected row, against the current data and rows.
    fn remember_selection(&self) -> Option<RowKey> {
        self.key_at(self.view, self.selected())
    }

    /// The key of the row at `pos` in view `v`, so a selection can follow its row.
    pub fn key_at(&self, v: View, pos: usize) -> Option<RowKey> {
        if v == View::Processes && self.grouped() {
            return self.group_key_at(pos);
        }
        let (snap, an) = self.data()?;
        if self.proto != Protocol::Tcp {
            return proto_rows::key_at(&self.rows, snap, an, self.proto, v, pos);
        }
        rows::key_at(&self.rows, snap, an, v, pos)
    }

    /// Where the row with `key` now is in view `v`.
    fn position(&self, v: View, key: &RowKey) -> Option<usize> {
        (0..self.row_count(v)).find(|&p| self.key_at(v, p).as_ref() == Some(key))
    }

    /// Recomputes the shown view's rows, then puts its selection back on the row it was on
    /// (or clamps it when that row is gone). Other views' rows are left empty until shown.
    /// `filtered` saves evaluating the filter again when the caller just did.
    pub(crate) fn refresh_keeping(&mut self, key: Option<RowKey>, filtered: Option<Vec<usize>>) {
        self.recount_protocol();
        let Some(t) = &self.tick else {
            return;
        };
        let v = self.view;
        // Processes counts only what passes a filter; unfiltered, it needs no index list.
        let filters = v == View::Sockets || (v == View::Processes && !self.filter.is_empty());
        let filtered = match (filters, filtered) {
            (true, Some(idx)) => Some(idx),
            (true, None) => match filter::apply_filter(&self.filter, &t.snapshot, self.proto) {
                Ok(idx) => Some(idx),
                Err(e) => {
                    self.filter_error = Some(e);
                    Some(Vec::new())
                }
            },
            _ => None,
        };
        let by_group = (v == View::Processes && self.grouped()).then(|| filtered.clone());
        self.rows = match &self.proto_agg {
            Some(agg) => proto_rows::compute(self.data(), agg, self.detail.as_ref(), v, filtered),
            None => rows::compute(self.data(), &self.sort, self.detail.as_ref(), v, filtered),
        };
        if let Some(f) = by_group {
            self.rows.groups = self.group_rows_now(f.as_deref());
        }
        let found = key.and_then(|k| self.position(v, &k));
        let n = self.row_count(v);
        let s = &mut self.selected[view_slot(v)];
        *s = found.unwrap_or(*s).min(n.saturating_sub(1));
    }

    /// Switches the shown view, remembering the old view's selected row so that coming back
    /// finds it again, and computes the new view's rows.
    pub(crate) fn switch_to(&mut self, v: View) {
        if v == self.view {
            return;
        }
        self.saved_keys[view_slot(self.view)] = self.remember_selection();
        self.view = v;
        let key = self.saved_keys[view_slot(v)].take();
        self.refresh_keeping(key, None);
    }

    /// Rows the selection can move over in `v`.
    pub(crate) fn row_count(&self, v: View) -> usize {
        match v {
            // Under --all-netns the other namespaces' alerts follow the shown one's.
            View::Overview => self.rows.alerts.len() + self.other_alerts().len(),
            View::Processes if self.grouped() => self.rows.groups.len(),
            View::Processes => self.rows.processes.len(),
            View::Listeners => self.rows.listeners.len(),
            View::Remotes => self.rows.remotes.len(),
            View::Sockets => self.rows.sockets.len(),
            // The state diagram is TCP's; other protocols show a note there.
            View::StateMachine if self.proto != Protocol::Tcp => 0,
            View::StateMachine => columns::DIAGRAM_STATES.len(),
            View::Detail => self.rows.detail.len(),
        }
    }

    pub(crate) fn sort_slot(&self) -> Option<usize> {
        match self.view {
            View::Processes => Some(0),
            View::Listeners => Some(1),
            View::Remotes => Some(2),
            View::Sockets => Some(3),
            _ => None,
        }
    }

    fn go(&mut self, v: View) {
        self.switch_to(v);
        self.mode = Mode::Normal;
    }

    fn step_view(&mut self, forward: bool) {
        let n = View::TABS.len();
        let cur = self
            .view
            .tab_index()
            .or(self.back_to.tab_index())
            .unwrap_or(0);
        let next = if forward {
            (cur + 1) % n
        } else {
            (cur + n - 1) % n
        };
        self.go(View::TABS[next]);
    }

    fn move_sel(&mut self, f: impl FnOnce(usize, usize) -> usize) {
        let n = self.row_count(self.view);
        let s = &mut self.selected[view_slot(self.view)];
        *s = if n == 0 { 0 } else { f(*s, n).min(n - 1) };
    }

    /// Previews the typed filter while it parses; while it does not, the table shows the
    /// last committed filter (never a shortened prefix of what is being typed) and the
    /// prompt says why.
    fn set_filter_input(&mut self) {
        match filter::check(&self.filter_input) {
            Ok(()) => {
                self.filter = self.filter_input.clone();
                self.filter_error = None;
            }
            Err(e) => {
                self.filter = self.filter_saved.clone();
                self.filter_error = Some(e);
            }
        }
        self.refresh();
    }

    fn step_interval(&mut self, slower: bool) -> Option<Control> {
        let next = if slower {
            INTERVALS_MS.iter().find(|&&i| i > self.interval_ms)
        } else {
            INTERVALS_MS.iter().rev().find(|&&i| i < self.interval_ms)
        };
        let &next = next?;
        self.interval_ms = next;
        Some(Control::SetInterval(next))
    }

    /// Carries out one action; returns a request for the collector thread, if any.
    pub fn apply(&mut self, action: Action) -> Option<Control> {
        self.status = None;
        match action {
            Action::Quit => {
                self.quit = true;
                return Some(Control::Shutdown);
            }
            Action::ToggleHelp => {
                self.mode = if self.mode == Mode::Help {
                    Mode::Normal
                } else {
                    Mode::Help
                };
            }
            Action::NextView => self.step_view(true),
            Action::PrevView => self.step_view(false),
            Action::GoView(i) => {
                if let Some(&v) = View::TABS.get(i) {
                    self.go(v);
                }
            }
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::InfoUp
            | Action::InfoDown
                if self.mode == Mode::Explain =>
            {
                self.scroll_explanation(action);
            }
            Action::Up => self.move_sel(|s, _| s.saturating_sub(1)),
            Action::Down => self.move_sel(|s, _| s + 1),
            Action::PageUp => self.move_sel(|s, _| s.saturating_sub(PAGE)),
            Action::PageDown => self.move_sel(|s, _| s + PAGE),
            Action::Top => self.move_sel(|_, _| 0),
            Action::Bottom => self.move_sel(|_, n| n - 1),
            Action::DrillDown => {
                if !(self.view == View::Overview && self.open_other_alert()) {
                    self.drill_down();
                }
            }
            Action::NextNetns => self.step_netns(true),
            Action::PrevNetns => self.step_netns(false),
            Action::Back => self.back(),
            Action::StartFilter => {
                if self.view != View::Sockets {
                    self.go(View::Sockets);
                }
                self.filter_input = self.filter.clone();
                self.filter_saved = self.filter.clone();
                self.mode = Mode::Filter;
            }
            Action::FilterChar(c) => {
                self.filter_input.push(c);
                self.set_filter_input();
            }
            Action::FilterBackspace => {
                self.filter_input.pop();
                self.set_filter_input();
            }
            // Enter refuses an expression that does not parse: the prompt stays, with the error.
            Action::FilterCommit if self.filter_error.is_some() => {}
            Action::FilterCommit => {
                self.filter_saved = self.filter.clone();
                self.mode = Mode::Normal;
            }
            Action::SortNext | Action::SortPrev | Action::SortReverse | Action::SortBusiest
                if self.proto_sort_refusal().is_some() =>
            {
                self.status = self.proto_sort_refusal();
            }
            Action::SortNext | Action::SortPrev | Action::SortReverse | Action::SortBusiest => {
                self.sort_by(action);
            }
            Action::TogglePause if self.replay.is_some() => {
                return self.replay_control(action);
            }
            Action::TogglePause => {
                self.paused = !self.paused;
                return Some(Control::Pause(self.paused));
            }
            Action::SlowerInterval => return self.step_interval(true),
            Action::FasterInterval => return self.step_interval(false),
            Action::StepBack
            | Action::StepForward
            | Action::SeekBack
            | Action::SeekForward
            | Action::FirstFrame
            | Action::LastFrame
            | Action::SlowerPlayback
            | Action::FasterPlayback => return self.replay_control(action),
            Action::InfoDown if self.view == View::Detail => {
                self.info_scroll = self.info_scroll.saturating_add(INFO_STEP);
            }
            Action::InfoUp if self.view == View::Detail => {
                self.info_scroll = self.info_scroll.saturating_sub(INFO_STEP);
            }
            Action::InfoDown | Action::InfoUp => {}
            Action::Kill => self.open_kill(),
            Action::ConfirmKill => self.confirm_kill(),
            Action::CancelKill => self.cancel_kill(),
            Action::CycleTrendWindow => self.trend_window = self.trend_window.next(),
            Action::NextProtocol => self.next_protocol(),
            Action::CycleGrouping => self.cycle_grouping(),
            Action::Explain => self.open_explanation(self.selected_topic()),
            Action::ExplainUnattributed => self.open_explanation(Some(ExplainTopic::Unattributed)),
        }
        None
    }

    fn back(&mut self) {
        match self.mode {
            Mode::Filter => {
                // Esc undoes the whole edit, not just the unparsable tail.
                self.filter = std::mem::take(&mut self.filter_saved);
                self.filter_input = self.filter.clone();
                self.filter_error = None;
                self.mode = Mode::Normal;
                self.refresh();
            }
            Mode::Help | Mode::Explain => self.mode = Mode::Normal,
            Mode::Confirm => self.cancel_kill(),
            Mode::Normal if self.view == View::Detail => {
                self.detail = None;
                self.switch_to(self.back_to);
            }
            // Esc clears the filter where it applies (the Processes rows count through it).
            Mode::Normal
                if matches!(self.view, View::Sockets | View::Processes)
                    && !self.filter.is_empty() =>
            {
                self.filter.clear();
                self.filter_input.clear();
                self.filter_error = None;
                self.refresh();
            }
            Mode::Normal => {}
        }
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
pub(crate) mod tests;
