//! [`View`]: the dashboard's views, their tab order and titles.

/// The dashboard's views, in Tab order (digits 1-6 select them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// Header, histogram, trends, alerts, top offenders.
    Overview,
    /// Process × state table.
    Processes,
    /// Listeners: SYN_RECV against backlog, accept queue, drop and cookie rates.
    Listeners,
    /// Remote address × state table.
    Remotes,
    /// Every socket, filterable and sortable.
    Sockets,
    /// The TCP state diagram with live counts.
    StateMachine,
    /// The sockets and numbers behind one process, listener, remote, state or finding.
    Detail,
}

impl View {
    /// The views reachable with Tab and digits, in order.
    pub const TABS: [View; 6] = [
        View::Overview,
        View::Processes,
        View::Listeners,
        View::Remotes,
        View::Sockets,
        View::StateMachine,
    ];

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Processes => "Processes",
            View::Listeners => "Listeners",
            View::Remotes => "Remotes",
            View::Sockets => "Sockets",
            View::StateMachine => "States",
            View::Detail => "Detail",
        }
    }

    /// Position in [`View::TABS`]; Detail has none.
    pub fn tab_index(self) -> Option<usize> {
        View::TABS.iter().position(|&v| v == self)
    }
}
