//! The one place the dashboard asks for explanations. `crate::explain` owns the texts; this
//! file only adds a short fallback so the popup is never empty while that module is being
//! written. It must not become a second source of domain prose.

use crate::analyze::finding::Finding;
use crate::model::{Sysctls, TcpState};

/// The explanation of a state.
///
/// Lead: once `crate::explain::explain(topic, sysctls) -> Option<String>` exists, make this
/// `crate::explain::explain(state.netstat_name(), sysctls).unwrap_or_else(|| fallback_state(state).into())`.
pub fn explain_state(state: TcpState, sysctls: Option<&Sysctls>) -> String {
    let _ = sysctls;
    fallback_state(state).to_string()
}

/// The explanation of a finding: its own detail text, then the rule's explanation.
///
/// Lead: append `crate::explain::explain(finding.rule.as_str(), sysctls)` here.
pub fn explain_finding(finding: &Finding, sysctls: Option<&Sysctls>) -> String {
    if !finding.detail.is_empty() {
        return finding.detail.clone();
    }
    match crate::tui::rows::rule_state(finding.rule) {
        Some(s) => format!("{} {}", finding.message, explain_state(s, sysctls)),
        None => finding.message.clone(),
    }
}

fn fallback_state(state: TcpState) -> &'static str {
    match state {
        TcpState::Established => "ESTABLISHED: an open connection; data flows both ways.",
        TcpState::SynSent => {
            "SYN_SENT: this host sent a SYN and waits for SYN+ACK. Many of them mean an \
             unreachable or slow destination."
        }
        TcpState::SynRecv => {
            "SYN_RECV: a SYN arrived and was answered; the final ACK is missing. Many on one \
             listener, near its backlog, from many sources, suggest a SYN flood; compare with \
             the listener's backlog and the syncookie and drop rates."
        }
        TcpState::FinWait1 => "FIN_WAIT1: this host sent FIN and waits for its ACK.",
        TcpState::FinWait2 => {
            "FIN_WAIT2: this host's FIN was acknowledged; it waits for the peer to close. \
             Orphaned ones time out after tcp_fin_timeout; a buildup means peers that never \
             close (when both ends are local, look for the matching CLOSE_WAIT)."
        }
        TcpState::TimeWait => {
            "TIME_WAIT: this host closed first and holds the 4-tuple for 60 s. A storm exhausts \
             ephemeral ports towards one destination. Remedies: keep-alive or pooling, \
             tcp_tw_reuse, let the client close first. Never tcp_tw_recycle."
        }
        TcpState::Close => "CLOSE: no connection (unconnected socket).",
        TcpState::CloseWait => {
            "CLOSE_WAIT: the peer closed and the local application has not called close(). \
             These never time out; a growing count per process is a leak in that program \
             (an error path that skips close, or a pool that keeps dead connections). The \
             fix is in the code."
        }
        TcpState::LastAck => {
            "LAST_ACK: the application closed after the peer; waits for the last ACK."
        }
        TcpState::Listen => {
            "LISTEN: a listening socket. Its Recv-Q is the accept queue and its Send-Q the \
             backlog; Recv-Q at the backlog with ListenOverflows growing means slow accept()."
        }
        TcpState::Closing => "CLOSING: both ends sent FIN at once (simultaneous close).",
    }
}
