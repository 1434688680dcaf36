#![no_main]
//! Fuzzes the /proc/net/stat/nf_conntrack parser and the sysctl value parser: any bytes, no
//! panic; never more CPU lines summed than lines seen, never a column stored that the
//! header did not name, and `entries` never summed into the statistics.
use sockscope::collect::conntrack::{parse_stat, parse_value};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let p = parse_stat(data);
    let lines = data.split(|b| *b == b'\n').count();
    assert!(p.cpus as usize <= lines);
    assert!(!p.stats.contains_key("entries"));
    let words = data.split(|b| b.is_ascii_whitespace()).count();
    assert!(p.stats.len() <= words);
    if p.cpus == 0 {
        assert!(p.stats.is_empty() && p.entries.is_none());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_value(text);
    }
});
