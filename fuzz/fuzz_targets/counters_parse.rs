#![no_main]
//! Fuzzes the /proc/net/netstat + /proc/net/snmp parser, the /proc/net/snmp6 one and the
//! /proc/net/protocols one: any bytes, no panic, and never more counters stored than names
//! (or lines) seen.
use sockscope::collect::counters::{parse_counters, parse_protocols, parse_snmp6};
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
    let mut cp = KernelCounters::default();
    let _errors = parse_protocols(data, &mut cp);
    assert!(cp.sockets_in_use.len() <= lines);
});
