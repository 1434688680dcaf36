//! Drill-downs and explanations on [`App`]: what Enter opens from the current selection,
//! which alert concerns a detail target, and what `e` says about one. Reads the app's data and
//! rows; changes only the view, the detail target and its scroll, and (Enter on a
//! Processes row no process holds) the filter.

use crate::analyze::finding::{Alert, AlertPhase, Subject};
use crate::analyze::process_rows::RowKind;
use crate::filter::{Filter, OwnerKind};
use crate::model::RuleId;
use crate::model::{listener_matches, Owner, Protocol, SocketRecord, TcpState};
use crate::tui::state::app::{view_slot, App, ExplainTopic, Explanation};
use crate::tui::state::columns::DIAGRAM_STATES;
use crate::tui::state::explain;
use crate::tui::state::history::SocketKey;
use crate::tui::state::keys::View;
use crate::tui::state::rows::RowKey;
use crate::tui::state::target::DetailTarget;
use crate::tui::state::{process_table, proto_rows, target};

impl App {
    /// What Enter would open from the current selection.
    pub(crate) fn selected_target(&self) -> Option<DetailTarget> {
        let (snap, _) = self.data()?;
        let sel = self.selected();
        if self.proto != Protocol::Tcp {
            return match self.view {
                View::Sockets => {
                    proto_rows::socket_target(snap, self.proto, *self.rows.sockets.get(sel)?)
                }
                View::Overview | View::Processes => self.tcp_target(sel),
                _ => None,
            };
        }
        self.tcp_target(sel)
    }

    /// What Enter opens on row `sel` of the shown TCP view (also an alert or a process
    /// row, which every protocol opens alike).
    fn tcp_target(&self, sel: usize) -> Option<DetailTarget> {
        let (snap, an) = self.data()?;
        let agg = &an.aggregate;
        Some(match self.view {
            View::Overview => {
                let a = &an.alerts[*self.rows.alerts.get(sel)?];
                DetailTarget::Finding(a.finding.rule, a.finding.subject.clone())
            }
            // Rows that are not processes open the Sockets view instead: see `unlisted_drill`.
            View::Processes if self.grouped() => return None,
            View::Processes => DetailTarget::Process(self.rows.processes.get(sel)?.pid?),
            View::Listeners => {
                DetailTarget::Listener(agg.listeners[*self.rows.listeners.get(sel)?].local)
            }
            View::Remotes => DetailTarget::Remote(agg.remotes[*self.rows.remotes.get(sel)?].ip),
            View::Sockets => {
                let s = &snap.sockets[*self.rows.sockets.get(sel)?];
                DetailTarget::Socket(SocketKey::of(s), s.owner.pid())
            }
            View::StateMachine => DetailTarget::State(*DIAGRAM_STATES.get(sel)?),
            View::Detail => return None,
        })
    }

    /// What Enter does on a Processes row that is not a process: the filter that selects
    /// exactly its sockets (the current filter with its owner term set to the row's kind),
    /// or, when the snapshot kept no socket list (a recording without `--sockets`), why
    /// nothing opens. `None` on a process row.
    pub(crate) fn unlisted_drill(&self) -> Option<Result<String, String>> {
        if self.view != View::Processes {
            return None;
        }
        if self.grouped() {
            // A unit or container row opens the Sockets view filtered to its sockets.
            return self.group_drill();
        }
        let (snap, an) = self.data()?;
        let r = self.rows.processes.get(self.selected())?;
        let marker = r.kind.marker()?;
        let kinds: &[OwnerKind] = match r.kind {
            RowKind::Unattributed => &[OwnerKind::Unattributed],
            RowKind::Ownerless => &[OwnerKind::Ownerless],
            RowKind::Unresolved => &[OwnerKind::Unresolved],
            RowKind::OwnerlessOrUnattributed => &[OwnerKind::Ownerless, OwnerKind::Unattributed],
            RowKind::Process | RowKind::Other => {
                return Some(Err(format!("{marker}: several processes; nothing to open")))
            }
        };
        if self.proto == Protocol::Tcp && !process_table::can_filter(snap, &an.aggregate) {
            return Some(Err(format!(
                "{marker}: no process to open; this recording kept counts only"
            )));
        }
        // The row counts through the current filter, so its sockets are that filter's too.
        let mut f = Filter::parse_expr(&self.filter).unwrap_or_default();
        f.owner = kinds.to_vec();
        Some(Ok(f.to_string()))
    }

    pub(crate) fn drill_down(&mut self) {
        match self.unlisted_drill() {
            Some(Ok(filter)) => {
                self.filter_input = filter.clone();
                self.filter_saved = filter.clone();
                self.filter = filter;
                self.filter_error = None;
                self.selected[view_slot(View::Sockets)] = 0;
                self.saved_keys[view_slot(View::Sockets)] = None;
                self.switch_to(View::Sockets);
            }
            Some(Err(answer)) => self.status = Some(answer),
            None => self.open_detail(),
        }
    }

    fn open_detail(&mut self) {
        if let Some(t) = self.selected_target() {
            if let DetailTarget::Finding(rule, _) = &t {
                if target::rule_protocol(*rule).is_none() {
                    // A finding about a kernel table (conntrack_full) has no sockets to
                    // list: Enter explains it, with its numbers, instead.
                    self.open_explanation(Some(ExplainTopic::Target(t)));
                    return;
                }
            }
            self.back_to = self.view;
            // A socket's detail opens with that socket selected among its owner's.
            self.saved_keys[view_slot(View::Detail)] = match &t {
                DetailTarget::Socket(k, _) => Some(RowKey::Socket(*k)),
                DetailTarget::Unix(inode, _) => Some(RowKey::Unix(*inode)),
                _ => None,
            };
            // A finding about UDP or UNIX sockets lists that protocol's sockets.
            if let DetailTarget::Finding(rule, _) = &t {
                if let Some(p) = target::rule_protocol(*rule) {
                    if p != self.proto && self.protocols().contains(p) {
                        self.proto = p;
                    }
                }
            }
            self.detail = Some(t);
            self.info_scroll = 0;
            self.selected[view_slot(View::Detail)] = 0;
            self.switch_to(View::Detail);
        }
    }

    /// The alert a detail target refers to, if it is still present: matched by the
    /// subject's identity, so a service that gained or lost a pid is still the same alert.
    pub(crate) fn alert_for(&self, rule: RuleId, subject: &Subject) -> Option<&Alert> {
        let (_, an) = self.data()?;
        target::current_alert(&an.alerts, rule, subject)
    }

    /// The alert that concerns a drill-down target, if any: the finding itself, or one
    /// about the same process, listener or remote, or about the state.
    pub(crate) fn alert_about(&self, target: &DetailTarget) -> Option<&Alert> {
        match target {
            DetailTarget::Finding(rule, subject) => return self.alert_for(*rule, subject),
            DetailTarget::Socket(_, Some(pid)) | DetailTarget::Unix(_, Some(pid)) => {
                return self.alert_about(&DetailTarget::Process(*pid))
            }
            _ => {}
        }
        let (_, an) = self.data()?;
        an.alerts
            .iter()
            .find(|a| match (&a.finding.subject, target) {
                (Subject::Process { pid, .. }, DetailTarget::Process(p)) => pid == p,
                (Subject::Service { pids, .. }, DetailTarget::Process(p)) => pids.contains(p),
                (Subject::Listener { local, .. }, DetailTarget::Listener(ep)) => local == ep,
                (Subject::Destination { remote }, DetailTarget::Remote(ip)) => remote.ip == *ip,
                (Subject::Route { remote, .. }, DetailTarget::Remote(ip)) => remote.ip == *ip,
                (_, DetailTarget::State(s)) => target::rule_state(a.finding.rule) == Some(*s),
                _ => false,
            })
            .or_else(|| self.alert_via_sockets(target))
    }

    /// For a remote or a listener no alert names: the alert about sockets it lists, most
    /// urgent phase first. The leak's peer address opens on the leak (whose CLOSE_WAIT
    /// sockets are to it), not on the text of whichever state it holds most of.
    fn alert_via_sockets(&self, target: &DetailTarget) -> Option<&Alert> {
        if !matches!(target, DetailTarget::Remote(_) | DetailTarget::Listener(_)) {
            return None;
        }
        let (snap, an) = self.data()?;
        let concerns = |a: &Alert, s: &SocketRecord| {
            let state = target::rule_state(a.finding.rule);
            state.is_none_or(|st| st == s.state)
                && match &a.finding.subject {
                    Subject::Process { pid, .. } => s.owner.pid() == Some(*pid),
                    Subject::Service { pids, .. } => {
                        s.owner.pid().is_some_and(|p| pids.contains(&p))
                    }
                    Subject::Listener { local, .. } => listener_matches(local, &s.local),
                    Subject::Destination { remote } => s.remote == *remote,
                    Subject::Route { source, remote } => {
                        s.remote == *remote && s.local.ip == *source
                    }
                    Subject::Unowned { orphaned } => {
                        s.owner
                            == if *orphaned {
                                Owner::Ownerless
                            } else {
                                Owner::Unattributed
                            }
                    }
                    // Whole-host findings concern every socket: they would shadow the
                    // alert the target really is about. UNIX listeners hold no TCP socket.
                    Subject::Host | Subject::UnixListener { .. } => false,
                }
        };
        let tcp: Vec<&Alert> = an
            .alerts
            .iter()
            .filter(|a| a.finding.rule.protocol() == Some(Protocol::Tcp))
            .collect();
        if tcp.is_empty() {
            return None;
        }
        let listed: Vec<&SocketRecord> = snap
            .sockets
            .iter()
            .filter(|s| target::in_detail(target, s))
            .collect();
        [
            AlertPhase::Firing,
            AlertPhase::Pending,
            AlertPhase::Resolved,
        ]
        .into_iter()
        .find_map(|phase| {
            tcp.iter()
                .filter(|a| a.phase == phase)
                .find(|a| listed.iter().any(|s| concerns(a, s)))
                .copied()
        })
    }

    /// The explanation of `target` from the current data (the popup's numbers are the
    /// screen's); `None` when there is nothing to explain (a finding that has gone).
    pub(crate) fn explanation_of(&self, target: &DetailTarget) -> Option<Explanation> {
        let (snap, _) = self.data()?;
        let sysctls = snap.sysctls.as_ref();
        let target = target.clone();
        let state_text = |s: TcpState| Explanation {
            title: s.netstat_name().to_string(),
            text: explain::explain_state(s, sysctls),
        };
        if let DetailTarget::State(s) = target {
            return Some(state_text(s));
        }
        // The state texts are TCP's: a UDP or UNIX socket or process is explained only
        // through an alert about it.
        if self.proto != Protocol::Tcp {
            let a = self.alert_about(&target)?;
            return Some(Explanation {
                title: a.finding.rule.as_str().to_string(),
                text: explain::explain_finding(&a.finding, sysctls),
            });
        }
        if let DetailTarget::Socket(k, _) = target {
            // A socket: its state, whatever its owner's alerts say.
            let s = snap.sockets.iter().find(|s| SocketKey::of(s) == k)?;
            return Some(state_text(s.state));
        }
        if let Some(a) = self.alert_about(&target) {
            // The title names the rule only (a long message would be cut); the message
            // opens the body.
            return Some(Explanation {
                title: a.finding.rule.as_str().to_string(),
                text: match explain::explain_finding(&a.finding, sysctls) {
                    body if body.starts_with(&a.finding.message) => body,
                    body => format!("{}\n\n{body}", a.finding.message),
                },
            });
        }
        Some(match target {
            DetailTarget::Finding(..) => return None,
            DetailTarget::State(s) => state_text(s),
            DetailTarget::Process(_) => state_text(TcpState::CloseWait),
            DetailTarget::Listener(_) => state_text(TcpState::SynRecv),
            DetailTarget::Remote(_) => state_text(TcpState::TimeWait),
            DetailTarget::Socket(..) | DetailTarget::Unix(..) => return None,
        })
    }
}
