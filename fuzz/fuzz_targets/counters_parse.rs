#![no_main]
//! Fuzzes the /proc/net/netstat + /proc/net/snmp parser and the /proc/net/snmp6 one: any
//! bytes, no panic, and never more counters stored than names seen.
use sockscope::collect::counters::{parse_counters, parse_snmp6};
use sockscope::model::KernelCounters;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut c = KernelCounters::default();
    let _errors = parse_counters(data, &mut c);
    let words = data.split(|b| b.is_ascii_whitespace()).count();
    assert!(c.tcp.len() + c.tcp_ext.len() + c.udp.len() <= words);
    let mut c6 = KernelCounters::default();
    let _errors = parse_snmp6(data, &mut c6);
    let lines = data.split(|b| *b == b'\n').count();
    assert!(c6.udp6.len() <= lines);
});
