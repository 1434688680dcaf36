//! Tests of thresholds, the TOML config and overrides.

use super::*;

#[test]
fn shipped_file_equals_defaults() {
    let text = include_str!("../assets/sockscope.toml");
    let th = Thresholds::from_toml(text, Path::new("assets/sockscope.toml")).unwrap();
    assert_eq!(th, Thresholds::default());
    // Every key is shipped: the file names as many keys as the defaults serialise to.
    let keys = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .count();
    let root = toml::Value::try_from(Thresholds::default()).unwrap();
    let n: usize = root
        .as_table()
        .unwrap()
        .values()
        .map(|t| t.as_table().map_or(0, |t| t.len()))
        .sum();
    assert_eq!(keys, n);
}

#[test]
fn overrides_apply_and_reject() {
    let mut th = Thresholds::default();
    th.apply_override("close_wait_leak.warn_count=300").unwrap();
    assert_eq!(th.close_wait_leak.warn_count, 300);
    th.apply_override("syn_flood.warn_fill = 0.25").unwrap();
    assert_eq!(th.syn_flood.warn_fill, 0.25);
    // Integers are accepted for fractional keys.
    th.apply_override("accept_queue_overflow.crit_fill=1")
        .unwrap();
    assert_eq!(th.accept_queue_overflow.crit_fill, 1.0);

    let e = th.apply_override("close_wait_leak.warn_cnt=3").unwrap_err();
    assert!(e.to_string().contains("warn_cnt"), "{e}");
    let e = th.apply_override("nosuch.warn_count=3").unwrap_err();
    assert!(e.to_string().contains("nosuch"), "{e}");
    let e = th
        .apply_override("close_wait_leak.warn_count=lots")
        .unwrap_err();
    assert!(e.to_string().contains("close_wait_leak.warn_count"), "{e}");
    let e = th.apply_override("close_wait_leak.warn_count").unwrap_err();
    assert!(e.to_string().contains("RULE.KEY=VALUE"), "{e}");
    let e = th.apply_override("alerts.clear_ratio=2").unwrap_err();
    assert!(e.to_string().contains("alerts.clear_ratio"), "{e}");
    assert_eq!(
        th.close_wait_leak.warn_count, 300,
        "failed overrides change nothing"
    );
}

#[test]
fn file_errors_name_file_line_and_key() {
    let p = Path::new("/etc/sockscope/sockscope.toml");
    let text = "[alerts]\nclear_ticks = 2\n\n[close_wait_leak]\nwarn_count = \"many\"\n";
    let e = Thresholds::from_toml(text, p).unwrap_err().to_string();
    assert!(
        e.starts_with("/etc/sockscope/sockscope.toml:5: close_wait_leak.warn_count: "),
        "{e}"
    );
    assert!(!e.contains('\n'), "one line: {e}");

    let text = "[syn_flood]\nwarn_fill = 0.5\nwarn_fil = 0.5\n";
    let e = Thresholds::from_toml(text, p).unwrap_err().to_string();
    assert!(e.contains("sockscope.toml:3: syn_flood.warn_fil: "), "{e}");
    assert!(e.contains("unknown field"), "{e}");

    let text = "[close_wait_leak]\nwarn_count = 10\ncrit_count = 5\n";
    let e = Thresholds::from_toml(text, p).unwrap_err().to_string();
    assert!(
        e.contains(":3: close_wait_leak.crit_count: must be >="),
        "{e}"
    );

    let text = "[bogus]\nx = 1\n";
    let e = Thresholds::from_toml(text, p).unwrap_err().to_string();
    assert!(
        e.contains("sockscope.toml:1:") && e.contains("bogus"),
        "{e}"
    );
}

#[test]
fn partial_file_keeps_defaults_and_load_reads_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.toml");
    std::fs::write(&p, "[orphans]\nmin_count = 7\n").unwrap();
    let th = load(&p).unwrap();
    assert_eq!(th.orphans.min_count, 7);
    assert_eq!(th.syn_flood, SynFlood::default());
    let e = load(&dir.path().join("missing.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.toml: cannot read config"), "{e}");
}

#[test]
fn search_path_ends_in_etc() {
    let v = default_search_path();
    assert_eq!(
        v.last().map(PathBuf::as_path),
        Some(Path::new("/etc/sockscope/sockscope.toml"))
    );
}
