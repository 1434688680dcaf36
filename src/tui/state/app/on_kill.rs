//! `K` on [`App`]: the selection's kill plan (a socket in Sockets, a Processes row, a
//! finding in Overview, or the whole list of an open drill-down), the confirmation, the
//! request handed to the runtime, and the answer folded back in; and the churn panel's
//! events. The kernel is never touched here: the runtime takes the request
//! ([`App::take_kill_request`]) to the collector thread.

use crate::analyze::finding::Subject;
use crate::model::{Protocol, RuleId, Snapshot, SocketRecord, TcpState};
use crate::tui::state::app::App;
use crate::tui::state::churn::Churn;
use crate::tui::state::filter;
use crate::tui::state::keys::{Mode, View};
use crate::tui::state::kill::{KillDone, KillGate, KillPlan, KillRequest};
use crate::tui::state::target::{in_detail, rule_state, DetailTarget};

/// The list of protocol `p`'s sockets in `snap` (TCP and UDP; UNIX has no destroy).
fn list(snap: &Snapshot, p: Protocol) -> &[SocketRecord] {
    match p {
        Protocol::Udp => &snap.udp,
        _ => &snap.sockets,
    }
}

/// Which sockets `K` may kill for a finding: its protocol and, when narrower than the
/// finding's own list, the one state to kill; or why none. `port_exhaustion` frees ports
/// by its TIME_WAIT sockets alone: its route's ESTABLISHED connections (a database pool)
/// are live traffic, never collateral. A finding about the whole host (without a state)
/// or about the conntrack table names no sockets worth killing.
fn kill_scope(rule: RuleId, subject: &Subject) -> Result<(Protocol, Option<TcpState>), String> {
    let p = match rule.protocol() {
        None => {
            return Err(format!(
                "{} is about a kernel table, not sockets: killing sockets frees no entries \
                 (e explains it)",
                rule.as_str()
            ))
        }
        Some(Protocol::Unix) => {
            return Err("UNIX sockets cannot be killed (no SOCK_DESTROY for them)".into())
        }
        Some(p) => p,
    };
    if rule == RuleId::PortExhaustion {
        return Ok((p, Some(TcpState::TimeWait)));
    }
    if *subject == Subject::Host && rule_state(rule).is_none() {
        return Err("this finding is about the whole host: narrow it with /".into());
    }
    Ok((p, None))
}

/// What the confirmation adds when [`kill_scope`] narrowed the list to one state.
fn scope_note(only: Option<TcpState>) -> String {
    match only {
        Some(TcpState::TimeWait) => {
            " — TIME_WAIT sockets only (they hold the ports; live connections are spared)".into()
        }
        Some(st) => format!(" — {} sockets only", st.netstat_name()),
        None => String::new(),
    }
}

impl App {
    /// Whether `K` may kill here, and if not why.
    pub fn kill_gate(&self) -> &KillGate {
        &self.kill.gate
    }

    /// Sets whether `K` may kill (the live runtime does, from what its source can do).
    pub fn set_kill_gate(&mut self, gate: KillGate) {
        self.kill.gate = gate;
    }

    /// The plan the open confirmation shows.
    pub fn kill_plan(&self) -> Option<&KillPlan> {
        self.kill.plan.as_ref()
    }

    /// The confirmed kill, handed over once: the runtime sends it to the collector thread.
    pub fn take_kill_request(&mut self) -> Option<KillRequest> {
        self.kill.request.take()
    }

    /// What the churn panel shows.
    pub fn churn(&self) -> &Churn {
        &self.churn
    }

    /// Folds in one interval of destroy events (held still while paused, like ticks).
    pub(crate) fn on_churn(&mut self, c: Churn) {
        if !self.paused || !matches!(c, Churn::Live(_)) {
            self.churn = c;
        }
    }

    /// `K`: opens the confirmation for the selection, or says in the footer why not.
    pub(crate) fn open_kill(&mut self) {
        let why_not = match &self.kill.gate {
            KillGate::ReadOnly => Some("K is off: this dashboard runs --read-only".to_string()),
            KillGate::Unavailable(why) => Some(format!("K: {why}")),
            _ if self.kill.in_flight => Some("K: the last kill is still running".into()),
            _ if self.proto == Protocol::Unix => Some(
                "K: UNIX sockets cannot be killed (the kernel has no SOCK_DESTROY for them)".into(),
            ),
            _ => None,
        };
        if let Some(why) = why_not {
            self.status = Some(why);
            return;
        }
        match self.selection_plan() {
            Ok(plan) => {
                self.kill.plan = Some(plan);
                self.mode = Mode::Confirm;
            }
            Err(why) => self.status = Some(format!("K: {why}")),
        }
    }

    /// `y`/Enter in the confirmation: hands the plan over when it may be carried out.
    pub(crate) fn confirm_kill(&mut self) {
        self.mode = Mode::Normal;
        let Some(plan) = self.kill.plan.take() else {
            return;
        };
        let refusal = match &self.kill.gate {
            KillGate::Ready => plan.refusal(),
            KillGate::Greyed(why) => Some(why.clone()),
            KillGate::ReadOnly => Some("--read-only".into()),
            KillGate::Unavailable(why) => Some(why.clone()),
        };
        if let Some(why) = refusal {
            self.status = Some(format!("K: nothing killed: {why}"));
            return;
        }
        self.status = Some(format!("K: killing {} sockets…", plan.targets.len()));
        self.kill.request = Some(plan.request());
        self.kill.in_flight = true;
    }

    /// Any other key in the confirmation.
    pub(crate) fn cancel_kill(&mut self) {
        self.mode = Mode::Normal;
        if self.kill.plan.take().is_some() {
            self.status = Some("K: cancelled; nothing was touched".into());
        }
    }

    /// The collector thread's answer.
    pub(crate) fn on_killed(&mut self, done: KillDone) {
        self.kill.in_flight = false;
        self.status = Some(done.line());
    }

    /// What `K` would kill from the current selection, or why nothing.
    fn selection_plan(&self) -> Result<KillPlan, String> {
        let (snap, an) = self.data().ok_or("no data yet")?;
        let proto = self.proto;
        let socks = list(snap, proto);
        let sel = self.selected();
        let procs = &snap.processes;
        let plan = |what: String, idx: &mut dyn Iterator<Item = usize>| {
            let chosen = idx.filter_map(|i| socks.get(i));
            KillPlan::new(what, proto, chosen, procs, false)
        };
        let pname = |pid: u32| match procs.get(&pid) {
            Some(p) => format!("{}[{pid}]", p.comm),
            None => format!("pid {pid}"),
        };
        match self.view {
            View::Sockets => {
                let i = *self.rows.sockets.get(sel).ok_or("no socket selected")?;
                let s = socks.get(i).ok_or("no socket selected")?;
                // A socket selected by itself is explicit, a listener too.
                let what = format!("the selected {} socket", proto.name());
                Ok(KillPlan::new(what, proto, [s], procs, true))
            }
            View::Processes if self.grouped() => {
                Err("K kills from one process (o back to processes) or the Sockets view".into())
            }
            View::Processes => {
                let row = self.rows.processes.get(sel).ok_or("no row selected")?;
                let pid = row
                    .pid
                    .ok_or("this row is no process: open it (Enter) and K on its sockets")?;
                let passing = filter::apply_filter(&self.filter, snap, proto)?;
                let mut what = format!("{}'s {} sockets", pname(pid), proto.name());
                if !self.filter.is_empty() {
                    what.push_str(&format!(" matching `{}`", self.filter));
                }
                let mut idx = passing
                    .into_iter()
                    .filter(|&i| socks.get(i).and_then(|s| s.owner.pid()) == Some(pid));
                Ok(plan(what, &mut idx))
            }
            View::Overview => {
                let a = self
                    .rows
                    .alerts
                    .get(sel)
                    .and_then(|&i| an.alerts.get(i))
                    .ok_or("select a finding of this namespace")?;
                let f = &a.finding;
                let (p, only) = kill_scope(f.rule, &f.subject)?;
                let target = DetailTarget::Finding(f.rule, f.subject.clone());
                let mut what = format!("{}: {}", f.rule.as_str(), f.message);
                what.push_str(&scope_note(only));
                let chosen = list(snap, p)
                    .iter()
                    .filter(|s| in_detail(&target, s) && only.is_none_or(|st| s.state == st));
                Ok(KillPlan::new(what, p, chosen, procs, false))
            }
            View::Detail => {
                let mut what = format!(
                    "the {} drill-down's {} sockets",
                    self.detail_name(),
                    proto.name()
                );
                // A finding's list obeys the same limits as K on the finding itself.
                let only = match &self.detail {
                    Some(DetailTarget::Finding(rule, subject)) => kill_scope(*rule, subject)?.1,
                    _ => None,
                };
                what.push_str(&scope_note(only));
                let mut idx =
                    self.rows.detail.iter().copied().filter(|&i| {
                        only.is_none_or(|st| socks.get(i).is_some_and(|s| s.state == st))
                    });
                Ok(plan(what, &mut idx))
            }
            View::Listeners | View::Remotes | View::StateMachine => {
                Err("open the row (Enter), then K kills its list".into())
            }
        }
    }

    /// A short name for the open drill-down.
    fn detail_name(&self) -> &'static str {
        match self.detail {
            Some(DetailTarget::Process(_)) => "process",
            Some(DetailTarget::Listener(_)) => "listener",
            Some(DetailTarget::Remote(_)) => "remote",
            Some(DetailTarget::State(_)) => "state",
            Some(DetailTarget::Finding(..)) => "finding",
            Some(DetailTarget::Socket(..) | DetailTarget::Unix(..)) => "socket",
            None => "open",
        }
    }
}
