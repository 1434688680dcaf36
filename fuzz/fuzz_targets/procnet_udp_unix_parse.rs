#![no_main]
//! Fuzzes the /proc/net/udp{,6} rows and the /proc/net/unix parser: any bytes, no panic,
//! every line read accounted for, and a UNIX name never holds a newline (a newline ends a
//! row, so a name holding one would mean a row was read across two lines).

use sockscope::collect::procnet::{Limits, Parser};
use sockscope::collect::procnet_udp::parse_udp_row;
use sockscope::collect::procnet_unix::{parse_unix_row, UnixParser};
use sockscope::collect::{DumpRequest, InetProtocol};
use sockscope::model::Family;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let req = DumpRequest {
        protocol: InetProtocol::Udp,
        ..DumpRequest::default()
    };
    for family in [Family::V4, Family::V6] {
        let _ = parse_udp_row(data, family);
        let mut p = Parser::for_protocol(Limits::default(), InetProtocol::Udp);
        if p.feed(data, family, &req).is_ok() {
            let rows = p.rows_read();
            let d = p.finish();
            assert!(
                d.sockets.len() as u64 + d.quality.parse_errors + d.quality.duplicates <= rows + 1
            );
            assert!(d.sockets.iter().all(|s| s.skmem.is_some()));
        }
    }
    let _ = parse_unix_row(data);
    let mut u = UnixParser::new(Limits::default(), 0xFFF);
    if u.feed(data).is_ok() {
        let rows = u.rows_read();
        let skipped = u.skipped_unaccepted();
        let d = u.finish();
        assert!(
            d.sockets.len() as u64 + d.quality.parse_errors + d.quality.duplicates + skipped
                <= rows + 1
        );
        assert!(d
            .sockets
            .iter()
            .all(|s| s.name.as_ref().is_none_or(|n| !n.bytes().contains(&b'\n'))));
    }
});
