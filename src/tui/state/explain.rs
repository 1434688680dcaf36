//! The dashboard's explanation texts come from [`crate::explain`], the single source of
//! domain prose; this file only picks the topic for a state or a finding.

use crate::analyze::finding::Finding;
use crate::model::{Sysctls, TcpState};

/// The explanation of a state, with the namespace's relevant sysctls.
pub fn explain_state(state: TcpState, sysctls: Option<&Sysctls>) -> String {
    crate::explain::explain(state.netstat_name(), sysctls)
        .unwrap_or_else(|| format!("{state}: no explanation available."))
}

/// The explanation of a finding: its own detail (its numbers), then the rule's explanation
/// with its remedy. A finding's detail ends with that same rule text (see
/// `analyze::detect`), which is left out here so the remedy is said once.
pub fn explain_finding(finding: &Finding, sysctls: Option<&Sysctls>) -> String {
    let rule = crate::explain::explain(finding.rule.as_str(), sysctls).unwrap_or_default();
    let own = finding
        .detail
        .strip_suffix(crate::explain::remedy(finding.rule))
        .unwrap_or(&finding.detail)
        .trim_end();
    if own.is_empty() {
        format!("{}\n\n{rule}", finding.message)
    } else {
        format!("{own}\n\n{rule}")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::analyze::finding::{Severity, Subject};
    use crate::model::RuleId;

    #[test]
    fn the_remedy_is_said_once() {
        // A detector's detail: its own lines, then the rule's text (with the remedy).
        let f = Finding {
            rule: RuleId::CloseWaitLeak,
            severity: Severity::Warning,
            subject: Subject::Process {
                pid: 10055,
                comm: "python3".into(),
                user: "root".into(),
                unit: None,
                container: None,
            },
            netns: "host".into(),
            count: 300,
            growth_per_min: None,
            oldest_age_s: Some(283),
            threshold: 200.0,
            metrics: BTreeMap::new(),
            message: "pid 10055 (python3) holds 300 CLOSE_WAIT".into(),
            detail: format!(
                "peer pid 10013 (python3) holds 300 FIN_WAIT2\n\n{}",
                crate::explain::remedy(RuleId::CloseWaitLeak)
            ),
        };
        let text = explain_finding(&f, None);
        assert_eq!(text.matches("Remedy:").count(), 1, "{text}");
        assert!(text.starts_with("peer pid 10013 (python3) holds 300 FIN_WAIT2\n\nclose_wait_leak"));
        // A detail that is only the rule's text leaves the message to open the body.
        let bare = Finding {
            detail: crate::explain::remedy(RuleId::CloseWaitLeak).into(),
            ..f
        };
        let text = explain_finding(&bare, None);
        assert_eq!(text.matches("Remedy:").count(), 1, "{text}");
        assert!(
            text.starts_with("pid 10055 (python3) holds 300 CLOSE_WAIT"),
            "{text}"
        );
    }
}
