//! The dashboard's explanation texts come from [`crate::explain`], the single source of
//! domain prose; this file only picks the topic for a state or a finding.

use crate::analyze::finding::Finding;
use crate::model::{Sysctls, TcpState};

/// The explanation of a state, with the namespace's relevant sysctls.
pub fn explain_state(state: TcpState, sysctls: Option<&Sysctls>) -> String {
    crate::explain::explain(state.netstat_name(), sysctls)
        .unwrap_or_else(|| format!("{state}: no explanation available."))
}

/// The explanation of a finding: its own detail (numbers and remedy), then the rule's
/// explanation.
pub fn explain_finding(finding: &Finding, sysctls: Option<&Sysctls>) -> String {
    let rule = crate::explain::explain(finding.rule.as_str(), sysctls).unwrap_or_default();
    if finding.detail.is_empty() {
        format!("{}\n\n{rule}", finding.message)
    } else {
        format!("{}\n\n{rule}", finding.detail)
    }
}
