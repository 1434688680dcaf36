#![no_main]
//! Fuzzes the /proc/<pid>/cgroup parser: any bytes, no panic; a unit name is one path
//! component (no `/`, no newline) of the input, and a container id is 12 to 64 hex digits.
use sockscope::collect::procmap::cgroup::parse_cgroup;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (unit, container) = parse_cgroup(data);
    if let Some(u) = unit {
        let name = u.name.raw_bytes();
        assert!(!name.is_empty() && !name.contains(&b'/') && !name.contains(&b'\n'));
        assert!(data.windows(name.len()).any(|w| w == name));
        assert!(!u.label().contains('\n'));
    }
    if let Some(c) = container {
        let id = c.id.raw_bytes();
        assert!((12..=64).contains(&id.len()));
        assert!(id.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)));
        assert!(!c.label().contains('\n'));
    }
});
