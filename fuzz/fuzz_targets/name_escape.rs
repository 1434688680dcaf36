#![no_main]
//! Fuzzes `model::Name`: any bytes (the first byte is a column budget) must escape to
//! printable text with no control, C1 or format character, whose width claims hold:
//! `fit(n)` is at most `n` columns, `pad_to(n)` exactly `n`, `label_value(n)` at most `n`
//! bytes, and the JSON string plus `raw_b64` restore the exact bytes.

use sockscope::model::Name;
use unicode_width::UnicodeWidthStr;

fn forbidden(c: char) -> bool {
    c < ' '
        || ('\u{7f}'..='\u{9f}').contains(&c)
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&cols, bytes)) = data.split_first() else {
        return;
    };
    let cols = usize::from(cols % 64);
    let name = Name::from_bytes(bytes);

    let escaped = name.escaped();
    assert!(!escaped.chars().any(forbidden), "{escaped:?}");
    assert_eq!(name.width(), escaped.width());
    assert_eq!(name.to_string(), *escaped);

    let fitted = name.fit(cols);
    assert!(fitted.width() <= cols, "{fitted:?} wider than {cols}");
    if name.width() <= cols {
        assert_eq!(fitted, escaped);
    }
    assert_eq!(name.pad_to(cols).width(), cols);
    assert_eq!(format!("{name:cols$}").width(), cols.max(name.width()));
    assert!(name.label_value(cols).len() <= cols);
    assert!(!name.csv_field().contains(['\r', '\n']));

    let json = serde_json::to_string(&name).expect("a name serialises");
    let text: String = serde_json::from_str(&json).expect("a JSON string parses back");
    let back = Name::from_parts(&text, name.raw_b64().as_deref()).expect("own base64 decodes");
    assert_eq!(back.raw_bytes(), bytes);
});
