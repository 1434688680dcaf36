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
fn udp_and_unix_sections_parse_override_and_validate() {
    let d = Thresholds::default();
    assert_eq!(d.udp_drops.warn_drop_rate, 0.0, "any growth warns");
    assert_eq!(d.unix_accept_overflow.crit_fill, 1.0);
    assert_eq!(d.for_ms(RuleId::UdpDrops), 10_000);
    assert_eq!(d.for_ms(RuleId::UnixAcceptOverflow), 15_000);

    let p = Path::new("t.toml");
    let th = Thresholds::from_toml(
        "[udp_drops]\nwarn_drop_rate = 5\ncrit_drop_rate = 50.5\nwarn_fill = 0.75\n\n\
         [unix_accept_overflow]\nfor_s = 0\nwarn_fill = 0.5\n",
        p,
    )
    .unwrap();
    assert_eq!(th.udp_drops.warn_drop_rate, 5.0);
    assert_eq!(th.udp_drops.crit_drop_rate, 50.5);
    assert_eq!(th.udp_drops.warn_fill, 0.75);
    assert_eq!(th.udp_drops.for_s, 10, "unset keys keep their defaults");
    assert_eq!(th.unix_accept_overflow.warn_fill, 0.5);
    assert_eq!(th.for_ms(RuleId::UnixAcceptOverflow), 0);

    let e = Thresholds::from_toml("[udp_drops]\nwarn_drop_rate = 200\n", p)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "t.toml:0: udp_drops.crit_drop_rate: must be >= warn_drop_rate (200)"
    );
    let e = Thresholds::from_toml("[udp_drops]\nwarn_drop_rate = -1\n", p)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(":2: udp_drops.warn_drop_rate: must be a number >= 0"),
        "{e}"
    );
    let e = Thresholds::from_toml("[unix_accept_overflow]\nwarn_fill = 0\n", p)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(":2: unix_accept_overflow.warn_fill: must be a positive"),
        "{e}"
    );
    let e = Thresholds::from_toml("[unix_accept_overflow]\nbacklog = 3\n", p)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(":2: unix_accept_overflow.backlog: unknown field"),
        "{e}"
    );

    let mut th = Thresholds::default();
    th.apply_overrides(&[
        "udp_drops.warn_drop_rate=1000",
        "udp_drops.crit_drop_rate=5000",
    ])
    .unwrap();
    assert_eq!(th.udp_drops.crit_drop_rate, 5000.0);
    th.apply_override("unix_accept_overflow.crit_fill=2")
        .unwrap();
    assert_eq!(th.unix_accept_overflow.crit_fill, 2.0);
    let e = th
        .apply_override("udp_drops.crit_drop_rate=10")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "override `udp_drops.crit_drop_rate=10`: udp_drops.crit_drop_rate: must be >= \
         warn_drop_rate (1000)"
    );
    let e = th
        .apply_override("udp_drops.warn_fill=full")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("override `udp_drops.warn_fill=full`: udp_drops.warn_fill:"),
        "{e}"
    );
    assert_eq!(
        th.udp_drops.crit_drop_rate, 5000.0,
        "a refused override changes nothing"
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

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A TOML float literal that reads back as exactly `v`.
    fn lit(v: f64) -> String {
        format!("{v:?}")
    }

    prop_compose! {
        /// Thresholds with random values inside every documented bound.
        fn valid_thresholds()(
            clear_ratio in 0.001f64..=1.0,
            ints in proptest::array::uniform16(0u64..1_000_000),
            max_samples in 2usize..100_000,
            top_peers in 0usize..100,
            fills in proptest::array::uniform12(1e-6f64..1e6),
            overflow_rate in 0.0f64..1e6,
            udp in (0u64..1_000_000, 0.0f64..1e6, 0.0f64..1e6, 1e-6f64..1e6),
            unix in (0u64..1_000_000, 1e-6f64..1e6, 1e-6f64..1e6),
        ) -> Thresholds {
            let (ud_for, ud_warn, ud_extra, ud_fill) = udp;
            let (ux_for, ux_warn, ux_crit) = unix;
            let [clear_ticks, keep, window, cw_for, cw_warn, cw_extra, cw_min, cw_growth,
                 cw_age, sf_for, sf_min, sf_sources, aq_for, tw_for, tw_min, fw_for] = ints;
            Thresholds {
                alerts: AlertSettings {
                    clear_ratio,
                    clear_ticks: u32::try_from(clear_ticks % 1000).unwrap(),
                    resolved_keep_s: keep,
                },
                history: HistorySettings { window_s: window, max_samples },
                close_wait_leak: CloseWaitLeak {
                    for_s: cw_for,
                    warn_count: cw_warn,
                    crit_count: cw_warn + cw_extra,
                    min_count: cw_min,
                    growth_window_s: cw_growth,
                    warn_age_s: cw_age,
                    top_peers,
                },
                syn_flood: SynFlood {
                    for_s: sf_for,
                    min_syn_recv: sf_min,
                    warn_fill: fills[0],
                    crit_fill: fills[1],
                    warn_rate: fills[2],
                    crit_rate: fills[3],
                    flood_sources: sf_sources,
                },
                accept_queue_overflow: AcceptQueueOverflow {
                    for_s: aq_for,
                    warn_fill: fills[4],
                    crit_fill: fills[5],
                    warn_overflow_rate: overflow_rate,
                },
                time_wait_storm: TimeWaitStorm {
                    for_s: tw_for,
                    min_count: tw_min,
                    warn_port_fill: fills[6],
                    crit_port_fill: fills[7],
                    warn_bucket_fill: fills[8],
                    crit_bucket_fill: fills[9],
                },
                fin_wait2_buildup: FinWait2Buildup {
                    for_s: fw_for,
                    warn_count: cw_min,
                    crit_count: cw_min + cw_extra,
                },
                orphans: Orphans {
                    for_s: fw_for,
                    min_count: tw_min,
                    warn_fill: fills[10],
                    crit_fill: fills[11],
                },
                udp_drops: UdpDrops {
                    for_s: ud_for,
                    warn_drop_rate: ud_warn,
                    // Strictly positive and never below the warning rate.
                    crit_drop_rate: ud_warn + ud_extra + 1e-3,
                    warn_fill: ud_fill,
                },
                unix_accept_overflow: UnixAcceptOverflow {
                    for_s: ux_for,
                    warn_fill: ux_warn,
                    crit_fill: ux_crit,
                },
                conntrack_full: Default::default(),
                port_exhaustion: PortExhaustion::default(),
            }
        }
    }

    /// The config file a user would write for `th`, by hand rather than through serde, so
    /// the test does not check the parser against its own serialiser.
    fn hand_written(th: &Thresholds) -> String {
        let a = &th.alerts;
        let c = &th.close_wait_leak;
        let s = &th.syn_flood;
        let q = &th.accept_queue_overflow;
        let t = &th.time_wait_storm;
        let f = &th.fin_wait2_buildup;
        let o = &th.orphans;
        let u = &th.udp_drops;
        let x = &th.unix_accept_overflow;
        format!(
            "# generated\n[alerts]\nclear_ratio = {}\nclear_ticks = {}\nresolved_keep_s = {}\n\n\
             [history]\nwindow_s = {}\nmax_samples = {}\n\n\
             [close_wait_leak]\nfor_s = {}\nwarn_count = {}\ncrit_count = {}\nmin_count = {}\n\
             growth_window_s = {}\nwarn_age_s = {}\ntop_peers = {}\n\n\
             [syn_flood]\nfor_s = {}\nmin_syn_recv = {}\nwarn_fill = {}\ncrit_fill = {}\n\
             warn_rate = {}\ncrit_rate = {}\nflood_sources = {}\n\n\
             [accept_queue_overflow]\nfor_s = {}\nwarn_fill = {}\ncrit_fill = {}\n\
             warn_overflow_rate = {}\n\n\
             [time_wait_storm]\nfor_s = {}\nmin_count = {}\nwarn_port_fill = {}\n\
             crit_port_fill = {}\nwarn_bucket_fill = {}\ncrit_bucket_fill = {}\n\n\
             [fin_wait2_buildup]\nfor_s = {}\nwarn_count = {}\ncrit_count = {}\n\n\
             [orphans]\nfor_s = {}\nmin_count = {}\nwarn_fill = {}\ncrit_fill = {}\n\n\
             [udp_drops]\nfor_s = {}\nwarn_drop_rate = {}\ncrit_drop_rate = {}\nwarn_fill = {}\n\n\
             [unix_accept_overflow]\nfor_s = {}\nwarn_fill = {}\ncrit_fill = {}\n",
            lit(a.clear_ratio),
            a.clear_ticks,
            a.resolved_keep_s,
            th.history.window_s,
            th.history.max_samples,
            c.for_s,
            c.warn_count,
            c.crit_count,
            c.min_count,
            c.growth_window_s,
            c.warn_age_s,
            c.top_peers,
            s.for_s,
            s.min_syn_recv,
            lit(s.warn_fill),
            lit(s.crit_fill),
            lit(s.warn_rate),
            lit(s.crit_rate),
            s.flood_sources,
            q.for_s,
            lit(q.warn_fill),
            lit(q.crit_fill),
            lit(q.warn_overflow_rate),
            t.for_s,
            t.min_count,
            lit(t.warn_port_fill),
            lit(t.crit_port_fill),
            lit(t.warn_bucket_fill),
            lit(t.crit_bucket_fill),
            f.for_s,
            f.warn_count,
            f.crit_count,
            o.for_s,
            o.min_count,
            lit(o.warn_fill),
            lit(o.crit_fill),
            u.for_s,
            lit(u.warn_drop_rate),
            lit(u.crit_drop_rate),
            lit(u.warn_fill),
            x.for_s,
            lit(x.warn_fill),
            lit(x.crit_fill),
        )
    }

    const SECTIONS: &[&str] = &[
        "alerts",
        "history",
        "close_wait_leak",
        "syn_flood",
        "orphans",
        "udp_drops",
        "unix_accept_overflow",
    ];
    const FIELDS: &[&str] = &[
        "clear_ratio",
        "clear_ticks",
        "max_samples",
        "warn_count",
        "crit_count",
        "warn_fill",
        "crit_fill",
        "for_s",
    ];

    const KEYS: &[&str] = &[
        "[alerts]",
        "[history]",
        "[close_wait_leak]",
        "[syn_flood]",
        "[orphans]",
        "clear_ratio",
        "max_samples",
        "warn_count",
        "crit_count",
        "warn_fill",
        "warn_overflow_rate",
        "[udp_drops]",
        "[unix_accept_overflow]",
        "warn_drop_rate",
        "crit_drop_rate",
        " = ",
        "=",
        "\n",
        "0.5",
        "-1",
        "inf",
        "nan",
        "\"",
        "18446744073709551616",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_text_parses_or_gives_one_line(text in ".{0,300}") {
            if let Err(e) = Thresholds::from_toml(&text, Path::new("p.toml")) {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("p.toml:"), "{}", msg);
                prop_assert!(!msg.contains('\n'), "{:?}", msg);
            }
        }

        #[test]
        fn config_shaped_text_never_panics(parts in proptest::collection::vec(
            prop_oneof![proptest::sample::select(KEYS).prop_map(str::to_string), "[ -~]{0,8}"],
            0..40,
        )) {
            let text = parts.concat();
            match Thresholds::from_toml(&text, Path::new("p.toml")) {
                Ok(th) => prop_assert!(th.validate().is_ok()),
                Err(e) => prop_assert!(!e.to_string().contains('\n'), "{}", e),
            }
        }

        #[test]
        fn generated_config_parses_to_its_values(th in valid_thresholds()) {
            let text = hand_written(&th);
            let parsed = Thresholds::from_toml(&text, Path::new("g.toml"));
            prop_assert_eq!(parsed.ok(), Some(th), "{}", text);
        }

        #[test]
        fn overrides_set_exactly_one_value(
            th in valid_thresholds(),
            n in 0u64..1_000_000,
            r in 0.001f64..=1.0,
        ) {
            let mut got = th.clone();
            got.apply_override(&format!("orphans.min_count={n}")).unwrap();
            got.apply_override(&format!("alerts.clear_ratio = {}", lit(r))).unwrap();
            let mut want = th;
            want.orphans.min_count = n;
            want.alerts.clear_ratio = r;
            prop_assert_eq!(got, want);
        }

        #[test]
        fn any_override_applies_whole_or_not_at_all(
            spec in prop_oneof![
                "[ -~]{0,40}",
                (
                    proptest::sample::select(SECTIONS),
                    proptest::sample::select(FIELDS),
                    prop_oneof!["-?[0-9]{1,21}(\\.[0-9]{0,4})?", "[ -~]{0,10}"],
                )
                    .prop_map(|(s, f, v)| format!("{s}.{f}={v}")),
            ],
            th in valid_thresholds(),
        ) {
            let mut got = th.clone();
            match got.apply_override(&spec) {
                Ok(()) => prop_assert!(got.validate().is_ok()),
                Err(e) => {
                    prop_assert_eq!(&got, &th);
                    prop_assert!(!e.to_string().contains('\n'), "{}", e);
                }
            }
        }
    }
}

/// Every committed fuzz seed (fuzz/seeds/config_parse) parses or fails in one line, and
/// one that parses survives a serialise/parse round trip, as the fuzz target asserts.
#[test]
fn fuzz_seeds_hold_the_fuzz_invariants() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/config_parse");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        match Thresholds::from_toml(&text, &path) {
            Ok(th) => {
                let back = toml::to_string(&th).unwrap();
                assert_eq!(Thresholds::from_toml(&back, &path).unwrap(), th);
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "{}: {e}", path.display()),
        }
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} seeds in {}", dir.display());
}

#[test]
fn home_and_xdg_are_searched_only_when_trusted() {
    let env = |k: &str| match k {
        "HOME" => Some("/home/u".into()),
        "XDG_CONFIG_HOME" => Some("/home/u/.cfg".into()),
        _ => None,
    };
    assert_eq!(
        search_path_with(env, |_| false),
        vec![PathBuf::from("/etc/sockscope/sockscope.toml")]
    );
    assert_eq!(
        search_path_with(env, |_| true),
        vec![
            PathBuf::from("/home/u/.cfg/sockscope/sockscope.toml"),
            PathBuf::from("/home/u/.config/sockscope/sockscope.toml"),
            PathBuf::from("/etc/sockscope/sockscope.toml"),
        ]
    );
}
