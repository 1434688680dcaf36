//! `--all-netns` on [`App`]: one namespace is shown at a time through the app's usual
//! fields (`tick`, `history`, `rates`, `cw_trend`), and every other namespace is *parked*
//! here with its own latest tick and its own bounded history, so switching (`n`/`N`, or
//! Enter on another namespace's alert) swaps state in and out instead of rebuilding it.
//! Memory stays bounded: one latest tick and fixed-size ring buffers per live namespace,
//! and namespaces that vanish are dropped. Reads and writes only the app's state.

use std::collections::BTreeMap;

use crate::analyze::finding::{Alert, AlertPhase};
use crate::tui::app::App;
use crate::tui::event::{FleetTick, NetnsFailure, TickData};
use crate::tui::history::{CloseWaitTrend, StateHistory};
use crate::tui::keys::View;
use crate::tui::rows::{self, RowKey};

/// The per-namespace state of a namespace that is not shown.
#[derive(Debug, Clone, Default)]
pub struct Parked {
    /// Its latest tick.
    pub(super) tick: Option<TickData>,
    pub(super) history: StateHistory,
    pub(super) cw_trend: CloseWaitTrend,
}

impl Parked {
    fn observe(&mut self, t: TickData) {
        super::app::observe(&mut self.history, &mut self.cw_trend, &t);
        self.tick = Some(t);
    }
}

/// Every namespace of the latest `--all-netns` tick.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    /// Namespace labels in discovery order (`host` first).
    pub(super) order: Vec<String>,
    /// The shown namespace; its state lives in the app's own fields.
    pub(super) active: String,
    /// Everything else, by label.
    pub(super) parked: BTreeMap<String, Parked>,
    /// Namespaces that could not be read on the latest tick.
    pub(super) failures: Vec<NetnsFailure>,
}

/// One namespace's line in the namespaces strip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsSummary {
    /// Its label.
    pub name: String,
    /// Whether it is the one shown.
    pub active: bool,
    /// Sockets in it (all states).
    pub sockets: u64,
    /// Alerts firing in it.
    pub firing: usize,
}

impl Fleet {
    /// The shown namespace's position (from 0) and the namespace count.
    pub fn position(&self) -> Option<(usize, usize)> {
        let i = self.order.iter().position(|n| *n == self.active)?;
        Some((i, self.order.len()))
    }

    /// The namespaces that could not be read on the latest tick.
    pub fn failures(&self) -> &[NetnsFailure] {
        &self.failures
    }
}

impl App {
    /// The `--all-netns` state, when the dashboard watches every namespace.
    pub fn fleet(&self) -> Option<&Fleet> {
        self.fleet.as_ref()
    }

    /// The shown namespace's label.
    pub fn active_netns(&self) -> Option<&str> {
        self.fleet.as_ref().map(|f| f.active.as_str())
    }

    /// Every namespace with its totals, in discovery order.
    pub fn netns_summaries(&self) -> Vec<NetnsSummary> {
        let Some(fleet) = &self.fleet else {
            return Vec::new();
        };
        fleet
            .order
            .iter()
            .map(|name| {
                let active = *name == fleet.active;
                let tick = if active {
                    self.tick.as_ref()
                } else {
                    fleet.parked.get(name).and_then(|p| p.tick.as_ref())
                };
                let (sockets, firing) = tick.map_or((0, 0), |t| {
                    let an = &t.analysis;
                    let firing = an
                        .alerts
                        .iter()
                        .filter(|a| a.phase == AlertPhase::Firing)
                        .count();
                    (an.aggregate.states.total(), firing)
                });
                NetnsSummary {
                    name: name.clone(),
                    active,
                    sockets,
                    firing,
                }
            })
            .collect()
    }

    /// Firing and pending alerts of the namespaces not shown, in namespace order, each with
    /// its namespace and that namespace's clock (its latest snapshot time, for ages): the
    /// Overview lists them after the shown namespace's own alerts.
    pub fn other_alerts(&self) -> Vec<(&str, i64, &Alert)> {
        let Some(fleet) = &self.fleet else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for name in fleet.order.iter().filter(|n| **n != fleet.active) {
            let Some(t) = fleet.parked.get(name).and_then(|p| p.tick.as_ref()) else {
                continue;
            };
            let alerts = &t.analysis.alerts;
            for i in rows::alert_order(alerts) {
                if alerts[i].phase != AlertPhase::Resolved {
                    out.push((name.as_str(), t.snapshot.taken_at_ms, &alerts[i]));
                }
            }
        }
        out
    }

    /// Folds in one `--all-netns` tick; ignored while paused so the screen holds still.
    pub fn on_fleet_tick(&mut self, ft: FleetTick) {
        if self.paused {
            return;
        }
        let mut fleet = self.fleet.take().unwrap_or_default();
        fleet.failures = ft.failures;
        fleet.order = ft.ticks.iter().map(|t| t.snapshot.netns.clone()).collect();
        let order = &fleet.order;
        fleet.parked.retain(|name, _| order.contains(name));
        if !fleet.order.contains(&fleet.active) {
            if let Some(first) = fleet.order.first() {
                // The shown namespace vanished (or this is the first tick): show the first,
                // with its parked history when it has one.
                fleet.active = first.clone();
                let p = fleet.parked.remove(first).unwrap_or_default();
                self.unpark(p);
            }
        }
        let mut shown = None;
        for t in ft.ticks {
            if t.snapshot.netns == fleet.active {
                shown = Some(t);
            } else {
                fleet
                    .parked
                    .entry(t.snapshot.netns.clone())
                    .or_default()
                    .observe(t);
            }
        }
        // Put the fleet back before the shown tick: its rows count the other alerts.
        self.fleet = Some(fleet);
        if let Some(t) = shown {
            self.show_tick(t);
        }
    }

    /// Replaces the shown namespace's state with `p`, returning the old one.
    fn unpark(&mut self, p: Parked) -> Parked {
        let old = Parked {
            tick: self.tick.take(),
            history: std::mem::replace(&mut self.history, p.history),
            cw_trend: std::mem::replace(&mut self.cw_trend, p.cw_trend),
        };
        self.tick = p.tick;
        if let Some(t) = &self.tick {
            self.now_ms = t.snapshot.taken_at_ms;
        }
        old
    }

    /// Shows namespace `name`; `select` is the row to select there (an alert). A drill-down
    /// belongs to the namespace it was opened in, so it closes.
    pub(super) fn switch_netns(&mut self, name: &str, select: Option<RowKey>) {
        let Some(fleet) = self.fleet.as_mut() else {
            return;
        };
        if fleet.active == name {
            return;
        }
        let Some(incoming) = fleet.parked.remove(name) else {
            return;
        };
        let old_name = std::mem::replace(&mut fleet.active, name.to_string());
        let old = self.unpark(incoming);
        if let Some(f) = self.fleet.as_mut() {
            f.parked.insert(old_name, old);
        }
        if self.view == View::Detail {
            self.detail = None;
            self.view = self.back_to;
        }
        self.saved_keys = Default::default();
        self.collect_error = None;
        self.refresh_keeping(select, None);
    }

    /// `n` / `N`: the next or previous namespace, wrapping; nothing with fewer than two.
    pub(super) fn step_netns(&mut self, forward: bool) {
        let Some((i, n)) = self.fleet.as_ref().and_then(Fleet::position) else {
            return;
        };
        if n < 2 {
            return;
        }
        let next = if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        };
        let name = self.fleet.as_ref().and_then(|f| f.order.get(next).cloned());
        if let Some(name) = name {
            self.switch_netns(&name, None);
        }
    }

    /// Enter on another namespace's alert in the Overview: show that namespace with the
    /// alert selected. Returns false when the selection is not such a row.
    pub(super) fn open_other_alert(&mut self) -> bool {
        let sel = self.selected();
        let Some(k) = sel.checked_sub(self.rows.alerts.len()) else {
            return false;
        };
        let target = self.other_alerts().get(k).map(|(ns, _, a)| {
            let f = &a.finding;
            (ns.to_string(), RowKey::Alert(f.rule, f.subject.clone()))
        });
        let Some((ns, key)) = target else {
            return false;
        };
        self.switch_netns(&ns, Some(key));
        true
    }
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;
