#![no_main]
//! Fuzzes the /proc/net/netstat + /proc/net/snmp parser: any bytes, no panic, and never
//! more counters stored than names seen.
use sockscope::collect::counters::parse_counters;
use sockscope::model::KernelCounters;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut c = KernelCounters::default();
    let _errors = parse_counters(data, &mut c);
    let words = data.split(|b| b.is_ascii_whitespace()).count();
    assert!(c.tcp.len() + c.tcp_ext.len() <= words);
});
