//! Tests for the conntrack readers: real files from this host and from a namespace that
//! tracks, hand-made full/dropping/extra-column/garbage fixtures, property tests.

use std::path::PathBuf;

use proptest::prelude::*;

use super::*;

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conntrack")
        .join(name)
}

fn read(name: &str) -> ConntrackRead {
    read_conntrack_from(&dir(name), &dir(name).join("stat"))
}

#[test]
fn host_files_parse_cleanly() {
    let r = read("host");
    assert_eq!(r.errors, 0);
    assert_eq!(r.absent, None);
    let c = r.conntrack.unwrap();
    assert_eq!(
        (c.count, c.max, c.buckets),
        (0, Some(262_144), Some(262_144))
    );
    assert_eq!(c.cpus, 2);
    assert_eq!(c.drops(), Some(0));
    assert!(
        !c.stats.contains_key("entries"),
        "entries is a gauge, not summed"
    );
    for name in [
        "found",
        "invalid",
        "insert_failed",
        "drop",
        "early_drop",
        "search_restart",
    ] {
        assert_eq!(c.stat(name), Some(0), "{name}");
    }
}

#[test]
fn netns_files_match_conntrack_s_taken_with_them() {
    let r = read("netns");
    assert_eq!(r.errors, 0);
    let c = r.conntrack.unwrap();
    assert_eq!(c.count, 30);
    // `conntrack -S` at the same moment, summed over its cpu= lines.
    let text = std::fs::read_to_string(dir("netns").join("conntrack-S.txt")).unwrap();
    let mut invalid = 0;
    for line in text.lines() {
        for kv in line.split_whitespace() {
            if let Some(v) = kv.strip_prefix("invalid=") {
                invalid += v.parse::<u64>().unwrap();
            }
        }
    }
    assert_eq!(invalid, 14);
    assert_eq!(c.stat("invalid"), Some(invalid));
    let p = parse_stat(std::fs::read(dir("netns").join("stat")).unwrap().as_slice());
    assert_eq!(p.entries, Some(30), "entries repeats nf_conntrack_count");
}

#[test]
fn full_and_dropping_fixtures_carry_their_figures() {
    let full = read("full").conntrack.unwrap();
    assert_eq!((full.count, full.max), (254_300, Some(262_144)));
    assert!(full.fill().unwrap() > 0.97);
    assert_eq!(full.drops(), Some(0));
    assert_eq!(full.stat("found"), Some(0x1a2b + 0xf00));
    let d = read("dropping").conntrack.unwrap();
    assert_eq!(d.stat("drop"), Some(1500));
    assert_eq!(d.stat("early_drop"), Some(384));
    assert_eq!(d.stat("insert_failed"), Some(8));
    assert_eq!(d.drops(), Some(1892));
}

#[test]
fn an_extra_column_is_summed_under_its_name() {
    let r = read("extra_column");
    assert_eq!(r.errors, 0);
    let c = r.conntrack.unwrap();
    assert_eq!(c.cpus, 3);
    assert_eq!(c.stat("future_thing"), Some(6));
    assert_eq!(c.stat("drop"), Some(6));
    assert_eq!(c.stat("found"), Some(30));
}

#[test]
fn garbage_lines_are_counted_and_the_good_line_kept() {
    let r = read("garbage");
    // Short line, non-hex value, binary junk: 3; nf_conntrack_max "lots": 1.
    assert_eq!(r.errors, 4);
    let c = r.conntrack.unwrap();
    assert_eq!(c.cpus, 1);
    assert_eq!(c.stat("drop"), Some(2));
    assert_eq!((c.count, c.max, c.buckets), (20, None, None));
}

#[test]
fn missing_module_is_absent_with_a_reason_and_no_error() {
    let empty = tempfile::tempdir().unwrap();
    let r = read_conntrack_from(empty.path(), &empty.path().join("stat"));
    assert_eq!(r.conntrack, None);
    assert_eq!(r.errors, 0);
    assert!(r.absent.unwrap().contains("not loaded"));
}

/// In a netns owned by a user namespace (rootless podman, LXC) the files belong to that
/// namespace's root uid: read as root, they must still be read, as sysctl.rs reads them.
#[test]
fn files_owned_by_a_user_namespace_root_are_read() {
    let d = tempfile::tempdir().unwrap();
    let src = dir("host");
    for name in [
        "nf_conntrack_count",
        "nf_conntrack_max",
        "nf_conntrack_buckets",
        "stat",
    ] {
        let to = d.path().join(name);
        std::fs::copy(src.join(name), &to).unwrap();
        std::os::unix::fs::chown(&to, Some(100_000), Some(100_000)).unwrap();
    }
    let want = read("host");
    let r = read_conntrack_from(d.path(), &d.path().join("stat"));
    assert_eq!(r.absent, None);
    assert_eq!(r.errors, 0);
    let c = r.conntrack.unwrap();
    assert_eq!(Some(c.clone()), want.conntrack);
    assert!(c.max.is_some() && c.cpus > 0, "max and stat read: {c:?}");
}

#[test]
fn missing_statistics_leave_the_count() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("nf_conntrack_count"), "7\n").unwrap();
    let r = read_conntrack_from(d.path(), &d.path().join("stat"));
    let c = r.conntrack.unwrap();
    assert_eq!((c.count, c.max, c.cpus), (7, None, 0));
    assert_eq!(c.drops(), None);
}

#[test]
fn a_headerless_file_is_one_error_not_numbers_under_wrong_names() {
    let p = parse_stat(&b"0000001e  00000000 00000001\n0000001e  00000000 00000001\n"[..]);
    assert_eq!((p.errors, p.cpus), (1, 0));
    assert!(p.stats.is_empty());
    assert_eq!(parse_stat(&b""[..]).errors, 1);
    assert_eq!(parse_stat(&b"\n\n"[..]).errors, 1);
}

#[test]
fn sums_saturate_instead_of_wrapping() {
    let mut text = String::from("entries drop\n");
    for _ in 0..3 {
        text.push_str("00000001 ffffffffffffffff\n");
    }
    let p = parse_stat(text.as_bytes());
    assert_eq!(p.stats.get("drop"), Some(&u64::MAX));
}

#[test]
fn values_parse_trimmed() {
    assert_eq!(parse_value("262144\n"), Some(262_144));
    assert_eq!(parse_value(" 5 "), Some(5));
    assert_eq!(parse_value("-1"), None);
    assert_eq!(parse_value(""), None);
}

#[test]
fn live_read_of_this_namespace_agrees_with_the_count_file() {
    let r = read_conntrack();
    match std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_count") {
        Ok(_) => {
            let c = r.conntrack.expect("module loaded: a table");
            assert!(c.max.is_some());
            assert!(c.cpus >= 1, "per-CPU statistics read");
        }
        Err(_) => assert!(r.absent.is_some()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_never_panic_and_never_sum_more_lines_than_exist(
        data in proptest::collection::vec(any::<u8>(), 0..600)
    ) {
        let p = parse_stat(data.as_slice());
        let lines = data.split(|b| *b == b'\n').count() as u32;
        prop_assert!(p.cpus <= lines);
    }

    #[test]
    fn well_formed_lines_sum_exactly(rows in proptest::collection::vec(
        proptest::collection::vec(0u32.., 3), 1..8)
    ) {
        let mut text = String::from("entries  found drop early_drop\n");
        for r in &rows {
            text.push_str(&format!("00000010  {:08x} {:08x} {:08x}\n", r[0], r[1], r[2]));
        }
        let p = parse_stat(text.as_bytes());
        prop_assert_eq!(p.errors, 0);
        prop_assert_eq!(p.cpus as usize, rows.len());
        let sum = |i: usize| rows.iter().map(|r| u64::from(r[i])).sum::<u64>();
        prop_assert_eq!(p.stats.get("found").copied(), Some(sum(0)));
        prop_assert_eq!(p.stats.get("drop").copied(), Some(sum(1)));
        prop_assert_eq!(p.stats.get("early_drop").copied(), Some(sum(2)));
        prop_assert_eq!(p.entries, Some(16));
    }
}
