//! [`App`]'s `--all-netns` actions: folding in a tick of every namespace, switching which
//! one is shown (its state swapped with a parked one), and the per-namespace summaries the
//! strip and the alerts panel show.

use crate::analyze::finding::{Alert, AlertPhase};
use crate::tui::state::app::App;
use crate::tui::state::event::FleetTick;
use crate::tui::state::fleet::{Fleet, NetnsSummary, Parked};
use crate::tui::state::keys::View;
use crate::tui::state::rows::{self, RowKey};

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
    pub(crate) fn switch_netns(&mut self, name: &str, select: Option<RowKey>) {
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
    pub(crate) fn step_netns(&mut self, forward: bool) {
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
    pub(crate) fn open_other_alert(&mut self) -> bool {
        let sel = self.selected();
        let Some(k) = sel.checked_sub(self.rows.alerts.len()) else {
            return false;
        };
        let target = self.other_alerts().get(k).map(|(ns, _, a)| {
            let f = &a.finding;
            (ns.to_string(), RowKey::Alert(f.rule, f.subject.identity()))
        });
        let Some((ns, key)) = target else {
            return false;
        };
        self.switch_netns(&ns, Some(key));
        true
    }
}

#[cfg(test)]
#[path = "on_fleet_tests.rs"]
mod tests;
