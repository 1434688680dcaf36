//! The config-file and `--threshold` rows of the bad-input table: broken files (syntax,
//! unknown keys, relations, unreadable, missing, a directory) and, for every threshold key
//! of the shipped defaults, a value of the wrong type and one out of range, in a file and
//! as an override.

use super::cases::{case_owned, check_snap};
use super::{Case, Env};

/// Every threshold key (`section.key`), from the shipped defaults.
pub fn threshold_keys() -> Vec<(String, toml::Value)> {
    let v = toml::Value::try_from(sockscope::config::Thresholds::default()).unwrap();
    let mut out = Vec::new();
    for (section, table) in v.as_table().unwrap() {
        for (key, value) in table.as_table().unwrap() {
            out.push((format!("{section}.{key}"), value.clone()));
        }
    }
    out
}

/// A value of the wrong type and a value out of range for a key whose default is `v`.
fn bad_values(v: &toml::Value) -> [&'static str; 2] {
    match v {
        toml::Value::Integer(_) => ["\"many\"", "-1"],
        toml::Value::Float(_) => ["\"half\"", "-1.0"],
        _ => ["[1, 2]", "{}"],
    }
}

pub fn config_cases(env: &Env) -> Vec<Case> {
    let mut v = Vec::new();
    let files: &[(&str, &str, &str)] = &[
        ("syntax.toml", "[close_wait_leak\nwarn_count = 1\n", ":1:"),
        (
            "unknown-key.toml",
            "[close_wait_leak]\nbogus = 1\n",
            "close_wait_leak.bogus",
        ),
        ("unknown-section.toml", "[nagios]\nwarn = 1\n", "nagios"),
        ("top-level-key.toml", "warn_count = 5\n", "warn_count"),
        (
            "not-a-table.toml",
            "close_wait_leak = 5\n",
            "close_wait_leak",
        ),
        (
            "duplicate.toml",
            "[orphans]\nfor_s = 1\nfor_s = 2\n",
            "orphans.for_s",
        ),
        (
            "crit-below-warn.toml",
            "[close_wait_leak]\nwarn_count = 10\ncrit_count = 5\n",
            "close_wait_leak.crit_count",
        ),
        (
            "fin-crit-below-warn.toml",
            "[fin_wait2_buildup]\nwarn_count = 10\ncrit_count = 5\n",
            "fin_wait2_buildup.crit_count",
        ),
        (
            "conntrack-crit-below-warn.toml",
            "[conntrack_full]\nwarn_fill = 0.9\ncrit_fill = 0.8\n",
            "conntrack_full.crit_fill",
        ),
        (
            "port-minutes-crit-above-warn.toml",
            "[port_exhaustion]\nwarn_minutes = 1.0\ncrit_minutes = 5.0\n",
            "port_exhaustion.crit_minutes",
        ),
        (
            "max-samples.toml",
            "[history]\nmax_samples = 1\n",
            "history.max_samples",
        ),
        (
            "clear-ratio.toml",
            "[alerts]\nclear_ratio = 1.5\n",
            "alerts.clear_ratio",
        ),
        (
            "clear-zero.toml",
            "[alerts]\nclear_ratio = 0.0\n",
            "alerts.clear_ratio",
        ),
        (
            "nan.toml",
            "[syn_flood]\nwarn_rate = nan\n",
            "syn_flood.warn_rate",
        ),
        (
            "inf.toml",
            "[orphans]\nwarn_fill = inf\n",
            "orphans.warn_fill",
        ),
        (
            "huge.toml",
            "[orphans]\nmin_count = 99999999999999999999\n",
            "huge.toml",
        ),
    ];
    for (name, text, needle) in files {
        let path = env.write(name, text.as_bytes());
        v.push(case_owned(
            "*:config",
            check_snap(env, &["--config", &path]),
            needle,
        ));
        v.push(case_owned(
            "*:config",
            check_snap(env, &["--config", &path]),
            name,
        ));
    }
    // Every key of every section: a value of the wrong type and one out of range. The
    // line names the file, the line and the key.
    for (key, default) in threshold_keys() {
        let (section, field) = key.split_once('.').unwrap();
        for (i, value) in bad_values(&default).into_iter().enumerate() {
            let name = format!("key-{key}-{i}.toml");
            let path = env.write(
                &name,
                format!("[{section}]\n{field} = {value}\n").as_bytes(),
            );
            let args = check_snap(env, &["--config", &path]);
            v.push(case_owned("*:config", args, &format!("{name}:2: {key}:")));
        }
    }
    let garbage = env.path("garbage.bin");
    for (path, needle) in [
        (env.path("missing.toml"), "missing.toml"),
        (env.path("a-dir"), "a-dir"),
        (garbage.clone(), "garbage.bin"),
        ("-1".to_string(), "-1"),
    ] {
        v.push(case_owned(
            "*:config",
            check_snap(env, &["--config", &path]),
            needle,
        ));
    }
    // Root reads a 0600 file anyway: nobody cannot.
    let unreadable = env.path("unreadable");
    v.push(
        case_owned(
            "*:config",
            check_snap(env, &["--config", &unreadable]),
            "unreadable",
        )
        .nobody(),
    );
    // The search path: a broken $SOCKSCOPE_CONFIG is the same one line.
    let bad = env.path("unknown-key.toml");
    v.push(
        case_owned("*:config", check_snap(env, &[]), "close_wait_leak.bogus")
            .env("SOCKSCOPE_CONFIG", &bad),
    );
    // Every mode checks a given config, also those that use no thresholds.
    let rec = env.path("config-record.jsonl");
    for mode in [
        &["summary"][..],
        &["sockets"][..],
        &["explain", "CLOSE_WAIT"][..],
        &["watch", "--count", "1"][..],
        &["serve", "--listen", "127.0.0.1:0"][..],
        &["record", "-o", &rec, "--duration", "1s"][..],
    ] {
        let mut args = mode.to_vec();
        args.extend(["--config", &bad]);
        v.push(Case::new("*:config", &args, "close_wait_leak.bogus"));
    }
    v
}

pub fn threshold_cases(env: &Env) -> Vec<Case> {
    let mut v = Vec::new();
    let specs: &[(&str, &str)] = &[
        ("foo", "`foo`"),
        ("", "RULE.KEY=VALUE"),
        ("=5", "RULE.KEY"),
        ("warn_count=5", "warn_count"),
        ("nosuch.warn_count=5", "nosuch"),
        ("close_wait_leak.nosuch=5", "nosuch"),
        ("close_wait_leak.warn_count=", "close_wait_leak.warn_count"),
        (
            "close_wait_leak.warn_count=1e3",
            "close_wait_leak.warn_count",
        ),
        (
            "close_wait_leak.warn_count=99999999999999999999999",
            "close_wait_leak.warn_count",
        ),
        ("close_wait_leak.crit_count=1", "close_wait_leak.crit_count"),
        ("alerts.clear_ratio=nan", "alerts.clear_ratio"),
        ("alerts.clear_ratio=inf", "alerts.clear_ratio"),
        ("history.max_samples=0", "history.max_samples"),
        ("history=5", "history"),
        ("-1", "-1"),
    ];
    for (spec, needle) in specs {
        v.push(case_owned(
            "*:thresholds",
            check_snap(env, &["--threshold", spec]),
            needle,
        ));
    }
    for (key, default) in threshold_keys() {
        for value in bad_values(&default) {
            let spec = format!("{key}={value}");
            let args = check_snap(env, &["--threshold", &spec]);
            v.push(case_owned("*:thresholds", args, &format!("{key}:")));
        }
    }
    for mode in [
        &["summary"][..],
        &["sockets"][..],
        &["explain", "listen"][..],
    ] {
        let mut args = mode.to_vec();
        args.extend(["--threshold", "orphans.min_count=x"]);
        v.push(Case::new("*:thresholds", &args, "orphans.min_count"));
    }
    // A later override cannot repair an earlier bad one.
    let args = check_snap(
        env,
        &[
            "--threshold",
            "orphans.min_count=x",
            "--threshold",
            "orphans.min_count=5",
        ],
    );
    v.push(case_owned("*:thresholds", args, "orphans.min_count=x"));
    v
}
