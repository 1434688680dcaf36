#![no_main]
//! Fuzz target placeholder.
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
