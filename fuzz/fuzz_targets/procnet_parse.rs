#![no_main]
//! Fuzzes the /proc/net/tcp{,6} parser: any bytes, as either family, must parse without
//! panicking, and every line read must be accounted for.

use sockscope::collect::procnet::{parse_row, Limits, Parser};
use sockscope::collect::DumpRequest;
use sockscope::model::Family;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for family in [Family::V4, Family::V6] {
        let _ = parse_row(data, family, 100);
        let mut p = Parser::new(Limits::default());
        if p.feed(data, family, &DumpRequest::default()).is_ok() {
            let rows = p.rows_read();
            let d = p.finish();
            assert!(
                d.sockets.len() as u64 + d.quality.parse_errors + d.quality.duplicates <= rows + 1
            );
        }
    }
});
