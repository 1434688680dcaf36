//! The churn panel's data: what the kernel's destroy events said over the last interval
//! ([`ChurnWindow`]: an [`EventWindow`] and how long it covered), or why there are none
//! ([`Churn::Off`]). Sent by the live source after each tick; plain data.

use crate::analyze::events::EventWindow;

/// One interval of destroy events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChurnWindow {
    /// The events counted over the interval.
    pub window: EventWindow,
    /// How long the interval was, in seconds.
    pub secs: f64,
    /// Events seen since the dashboard started.
    pub seen_total: u64,
    /// Events the kernel dropped since the dashboard started.
    pub lost_total: u64,
}

/// What the churn panel can show.
#[derive(Debug, Clone, PartialEq)]
pub enum Churn {
    /// No events: why (no CAP_NET_ADMIN, a recording, `--all-netns`, …).
    Off(String),
    /// Subscribed; the first interval is not over yet.
    Waiting,
    /// The last interval.
    Live(Box<ChurnWindow>),
}

impl Default for Churn {
    fn default() -> Churn {
        Churn::Off("no destroy events in this dashboard".into())
    }
}
