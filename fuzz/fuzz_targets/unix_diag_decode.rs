#![no_main]
//! Fuzzes the pure unix_diag decoder (`collect::netlink::unix`): any bytes, split into any
//! two datagrams, must decode to a dump or a typed error, never a panic. A dump never holds
//! more sockets than messages were looked at, and no socket cookie appears twice.

use libfuzzer_sys::fuzz_target;
use sockscope::collect::netlink::decode::DiagDecoder;
use sockscope::collect::netlink::unix::{decode_unix_dump, parse_unix_diag, UnixDecoder};

const NLMSG_HDRLEN: u64 = 16;

fuzz_target!(|data: &[u8]| {
    let seq = data
        .get(8..12)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .unwrap_or(0);
    if let Ok(d) = decode_unix_dump(data, seq, 0xFFF) {
        assert!(d.sockets.len() as u64 * NLMSG_HDRLEN <= data.len() as u64);
    }
    let _ = parse_unix_diag(data);

    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let (a, b) = data.split_at(split);
    let mut decoder = UnixDecoder::new(u32::MAX);
    decoder.begin(seq);
    if decoder.feed(a).is_ok() {
        let _ = decoder.feed(b);
        let stats = decoder.stats();
        if let Ok(dump) = decoder.finish() {
            assert!(dump.sockets.len() as u64 + dump.quality.duplicates <= stats.messages);
            let mut cookies: Vec<u64> = dump.sockets.iter().filter_map(|s| s.cookie).collect();
            let n = cookies.len();
            cookies.sort_unstable();
            cookies.dedup();
            assert_eq!(cookies.len(), n, "a duplicate cookie was reported as a socket");
        }
    }
});
