#![no_main]
//! Fuzzes the thresholds config (`config::Thresholds::from_toml`) and `RULE.KEY=VALUE`
//! overrides: any text must parse to thresholds or a one-line error, never a panic. A
//! config that parses must serialise back to TOML that parses to the same thresholds, and
//! a failed override must leave the thresholds unchanged.

use std::path::Path;

use sockscope::config::Thresholds;

fn round_trips(th: &Thresholds) {
    let text = toml::to_string(th).expect("valid thresholds serialise");
    let back = Thresholds::from_toml(&text, Path::new("rt.toml"))
        .unwrap_or_else(|e| panic!("re-parse of {text:?} failed: {e}"));
    assert_eq!(&back, th, "{text}");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Thresholds::from_toml(text, Path::new("fuzz.toml")) {
        Ok(th) => round_trips(&th),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
            assert!(msg.starts_with("fuzz.toml:"), "{msg}");
        }
    }

    // The first lines as overrides on top of the defaults (each costs a full TOML round
    // trip of the thresholds, so only a few).
    let mut th = Thresholds::default();
    for line in text.lines().take(3) {
        let before = th.clone();
        match th.apply_override(line) {
            Ok(()) => round_trips(&th),
            Err(e) => {
                assert_eq!(th, before, "a failed override changed the thresholds");
                assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
            }
        }
    }
});
