#![no_main]
//! Fuzzes the pure destroy-event decoder (`collect::events::decode`) and the SOCK_DESTROY
//! ack parser (`collect::destroy::parse_acks`): any bytes decode to events and counts, never
//! a panic; every event took a whole message (header + inet_diag_msg + the protocol
//! attribute), and every ack at least a netlink header and its error code.

use libfuzzer_sys::fuzz_target;
use sockscope::collect::destroy::parse_acks;
use sockscope::collect::events::decode::decode_events;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let c = decode_events(data, &mut out);
    assert_eq!(c.events as usize, out.len());
    assert!(out.len() * (16 + 72 + 8) <= data.len(), "{c:?}");
    assert!(parse_acks(data).len() * 20 <= data.len());
});
