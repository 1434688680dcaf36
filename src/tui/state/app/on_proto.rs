//! [`App`]'s protocol switch: which socket table (TCP, UDP, UNIX) the views show, the set
//! `p` cycles through (what was asked for with `-t/-u/-x` and what the data carries), and
//! the UDP/UNIX counts the views read. TCP keeps its own aggregate (in the analysis); the
//! others are counted once per refresh by [`aggregate_proto`], never by a view.

use crate::analyze::proto_counts::{aggregate_proto, ProtoAggregate};
use crate::model::{Protocol, Protocols};
use crate::tui::state::app::{view_slot, App};
use crate::tui::state::keys::View;

impl App {
    /// The protocol the views show.
    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    /// The protocols `p` cycles through: those asked for and those the latest snapshot
    /// carries (a replay asks for none and follows its recording); TCP when neither says.
    pub fn protocols(&self) -> Protocols {
        let mut set = self.wanted;
        if let Some((snap, _)) = self.data() {
            for p in snap.protocols.iter() {
                set.insert(p);
            }
        }
        if set.is_empty() {
            Protocols::TCP
        } else {
            set
        }
    }

    /// The shown protocol's counts when it is UDP or UNIX (`None` for TCP, whose counts
    /// are the analysis's aggregate, and before the first snapshot).
    pub fn proto_aggregate(&self) -> Option<&ProtoAggregate> {
        self.proto_agg.as_ref()
    }

    /// Recounts the shown UDP/UNIX protocol from the latest snapshot, first moving to the
    /// first offered protocol if the shown one is no longer offered.
    pub(crate) fn recount_protocol(&mut self) {
        let offered = self.protocols();
        if !offered.contains(self.proto) {
            self.proto = offered.iter().next().unwrap_or(Protocol::Tcp);
        }
        self.proto_agg = match (self.proto, self.data()) {
            (Protocol::Tcp, _) | (_, None) => None,
            (p, Some((snap, _))) => Some(aggregate_proto(snap, p)),
        };
    }

    /// `p`: shows the next offered protocol. A drill-down belongs to the protocol it was
    /// opened in, so it closes; each table starts again at its top. With one protocol
    /// offered the footer says how to get the others.
    pub(crate) fn next_protocol(&mut self) {
        let offered: Vec<Protocol> = self.protocols().iter().collect();
        if offered.len() < 2 {
            self.status = Some(format!(
                "only {} is collected: start sockscope with -t, -u and/or -x (e.g. -tux)",
                self.proto.name().to_uppercase()
            ));
            return;
        }
        let at = offered.iter().position(|&p| p == self.proto).unwrap_or(0);
        self.show_protocol(offered[(at + 1) % offered.len()]);
    }

    /// Shows `p`'s tables (the caller checked it is offered).
    pub(crate) fn show_protocol(&mut self, p: Protocol) {
        if self.view == View::Detail {
            self.detail = None;
            self.view = self.back_to;
        }
        self.proto = p;
        for v in [
            View::Processes,
            View::Listeners,
            View::Sockets,
            View::Detail,
        ] {
            self.selected[view_slot(v)] = 0;
            self.saved_keys[view_slot(v)] = None;
        }
        self.refresh_keeping(None, None);
    }

    /// Why a sort key does nothing on a UDP/UNIX table (their rows keep one order, worst
    /// first); `None` where sorting applies.
    pub(crate) fn proto_sort_refusal(&self) -> Option<String> {
        if self.proto == Protocol::Tcp {
            return None;
        }
        matches!(self.view, View::Processes | View::Sockets).then(|| {
            format!(
                "{} rows keep one order: worst first (drops, queues)",
                self.proto.name().to_uppercase()
            )
        })
    }
}
