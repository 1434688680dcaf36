#![no_main]
//! Fuzzes the recording reader (`record::Recording::from_reader`): any bytes, alone or after
//! a valid header, must read to a recording or a one-line error, never a panic.

use std::io::Cursor;

use sockscope::record::Recording;

const HEADER: &[u8] = br#"{"kind":"header","schema_version":1,"host":"h","kernel":"k","interval_ms":1000,"started_at":"1970-01-01T00:00:00Z","started_at_ms":0,"netns":"host","sockets":false,"sockscope_version":"0"}
"#;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = Recording::from_reader(Cursor::new(data), "fuzz") {
        assert!(!e.to_string().contains('\n'));
    }
    let mut with_header = HEADER.to_vec();
    with_header.extend_from_slice(data);
    match Recording::from_reader(Cursor::new(&with_header), "fuzz") {
        Ok(rec) => {
            let first = rec.ticks()[0].taken_at_ms;
            assert!(rec.tick_at(first).is_some());
            let _ = rec.ticks()[0].aggregate();
        }
        Err(e) => assert!(!e.to_string().contains('\n')),
    }
});
