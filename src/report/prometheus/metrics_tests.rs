//! Tests for `metrics`.

use super::*;
use crate::model::{Endpoint, Name};

#[test]
fn classic_text_renames_counters_and_drops_openmetrics_lines() {
    let om = "# HELP x_errors Errors.\n# TYPE x_errors counter\n# UNIT x_errors errors\n\
              x_errors_total 3\n# HELP x_up Up.\n# TYPE x_up gauge\nx_up 1\n# EOF\n";
    assert_eq!(
        to_prometheus_text(om),
        "# HELP x_errors_total Errors.\n# TYPE x_errors_total counter\nx_errors_total 3\n\
         # HELP x_up Up.\n# TYPE x_up gauge\nx_up 1\n"
    );
}

#[test]
fn subjects_are_short() {
    let p = Subject::Process {
        pid: 7,
        comm: "java".into(),
        user: "app".into(),
        unit: None,
        container: None,
    };
    assert_eq!(subject_label(&p, false), "java");
    assert_eq!(subject_label(&p, true), "java[7]");
    let remote = Endpoint::new("::1".parse().unwrap(), 443);
    assert_eq!(
        subject_label(&Subject::Destination { remote }, false),
        "[::1]:443"
    );
    assert_eq!(subject_label(&Subject::Host, false), "host");
    let route = Subject::Route {
        source: "127.0.0.1".parse().unwrap(),
        remote,
    };
    assert_eq!(subject_label(&route, false), "127.0.0.1->[::1]:443");
}

#[test]
fn hostile_command_names_are_escaped() {
    use crate::model::fixtures::{snapshot, sock};
    use crate::model::{Owner, ProcessInfo, TcpState};
    let mut snap = snapshot(vec![sock(
        TcpState::CloseWait,
        "127.0.0.1:80",
        "127.0.0.1:5000",
        Owner::Process(9),
    )]);
    snap.processes.insert(
        9,
        ProcessInfo {
            pid: 9,
            comm: Name::from("a\"b\nc\x1b[7m"),
            uid: 0,
            user: "root".into(),
            unit: None,
            container: None,
        },
    );
    let analysis = Analysis {
        aggregate: crate::analyze::aggregate::aggregate(&snap),
        alerts: Vec::new(),
        findings: Vec::new(),
        rates: None,
        ages: Vec::new(),
        churn: None,
    };
    let text = render_data(&[(snap, analysis)], &BTreeMap::new(), &Options::default());
    // The label holds the name's escaped form (`\n` and `\e` as text, so a scraper or
    // a `curl` in a terminal sees no control byte); the exposition then escapes `"` and
    // each `\` of that text once more.
    assert!(text.contains(r#"comm="a\"b\\nc\\e[7m""#), "{text}");
    assert!(!text.contains('\x1b'));
}

#[test]
fn status_part_is_valid_without_data() {
    let text = assemble("", &render_status(&Status::default()));
    assert!(text.contains("sockscope_up 0\n"));
    assert!(text.contains("sockscope_collect_errors_total 0\n"));
    assert!(text.ends_with("# EOF\n"));
}
