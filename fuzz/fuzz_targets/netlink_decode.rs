#![no_main]
//! Fuzzes the pure sock_diag decoder (`collect::netlink::decode`): any bytes, split into
//! any two datagrams, must decode to a dump or a typed error, never a panic. A dump never
//! holds more sockets than messages were looked at, every message took at least a netlink
//! header (16 bytes), and no socket cookie appears twice.

use libfuzzer_sys::fuzz_target;
use sockscope::collect::netlink::decode::{decode_dump, parse_inet_diag, DumpDecoder};

const NLMSG_HDRLEN: u64 = 16;

fn check(decoder: &mut DumpDecoder, bytes: u64) {
    let stats = decoder.stats();
    assert!(
        stats.messages * NLMSG_HDRLEN <= bytes,
        "{stats:?} from {bytes} bytes"
    );
    if let Ok(dump) = decoder.finish() {
        let q = &dump.quality;
        let accounted = dump.sockets.len() as u64
            + q.duplicates
            + stats.filtered
            + stats.unknown_state
            + stats.foreign_seq;
        assert!(
            accounted <= stats.messages,
            "{stats:?} {q:?} {}",
            dump.sockets.len()
        );
        let mut cookies: Vec<u64> = dump.sockets.iter().filter_map(|s| s.cookie).collect();
        let n = cookies.len();
        cookies.sort_unstable();
        cookies.dedup();
        assert_eq!(
            cookies.len(),
            n,
            "a duplicate cookie was reported as a socket"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // Use the first message's own sequence number so the fuzzer gets past the seq check.
    let seq = data
        .get(8..12)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0);
    if let Ok(d) = decode_dump(data, seq, 0xFFF) {
        assert!(d.sockets.len() as u64 * NLMSG_HDRLEN <= data.len() as u64);
    }
    let _ = parse_inet_diag(data);

    // The same bytes as two datagrams, split where the first byte says.
    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let (a, b) = data.split_at(split);
    let mut decoder = DumpDecoder::new(u32::MAX);
    decoder.begin(seq);
    if decoder.feed(a).is_ok() {
        let _ = decoder.feed(b);
        check(&mut decoder, data.len() as u64);
    }
});
