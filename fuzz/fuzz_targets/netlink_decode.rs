#![no_main]
//! Fuzzes the pure sock_diag decoder (`collect::netlink::decode`): any bytes, split into
//! any two datagrams, must decode to a dump or a typed error, never a panic.

use libfuzzer_sys::fuzz_target;
use sockscope::collect::netlink::decode::{decode_dump, parse_inet_diag, DumpDecoder};

fuzz_target!(|data: &[u8]| {
    // Use the first message's own sequence number so the fuzzer gets past the seq check.
    let seq = data
        .get(8..12)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0);
    let _ = decode_dump(data, seq, 0xFFF);
    let _ = parse_inet_diag(data);

    // The same bytes as two datagrams, split where the first byte says.
    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let (a, b) = data.split_at(split);
    let mut decoder = DumpDecoder::new(u32::MAX);
    decoder.begin(seq);
    if decoder.feed(a).is_ok() {
        let _ = decoder.feed(b);
    }
    let _ = decoder.finish();
});
