//! Tests of the escape rule, widths, cuts and the serialised forms of [`Name`].

use super::*;
use proptest::prelude::*;

fn esc(bytes: &[u8]) -> String {
    Name::from_bytes(bytes).escaped().into_owned()
}

/// The inverse of the escape rule, so that injectivity is checked by decoding.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            continue;
        }
        let byte = match it.next().unwrap() {
            '\\' => b'\\',
            'n' => b'\n',
            't' => b'\t',
            'r' => b'\r',
            'e' => 0x1b,
            'a' => 0x07,
            'b' => 0x08,
            'f' => 0x0c,
            'v' => 0x0b,
            '0' => 0,
            'x' => {
                let hex: String = it.by_ref().take(2).collect();
                u8::from_str_radix(&hex, 16).unwrap()
            }
            'u' => {
                assert_eq!(it.next(), Some('{'));
                let hex: String = it.by_ref().take_while(|&c| c != '}').collect();
                let c = char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap();
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                continue;
            }
            other => panic!("unknown escape \\{other} in {s:?}"),
        };
        out.push(byte);
    }
    out
}

#[test]
fn terminal_attacks_are_visible() {
    assert_eq!(esc(b"\x1b[7mEVIL \x1b[0m \x07"), r"\e[7mEVIL \e[0m \a");
    assert_eq!(esc(b"a\\b"), r"a\\b");
    assert_eq!(esc(b"a\nb\tc\r\x08\x0c\x0b\0"), r"a\nb\tc\r\b\f\v\0");
    assert_eq!(esc(b"\x01\x1f\x7f"), r"\x01\x1f\x7f");
    assert_eq!(esc(b"\xff\xfe"), r"\xff\xfe");
    assert_eq!(esc(b"ok\xe2\x82"), r"ok\xe2\x82");
    assert_eq!(esc("\u{9b}31m".as_bytes()), r"\u{9b}31m");
    assert_eq!(esc("a\u{85}b".as_bytes()), r"a\u{85}b");
    assert_eq!(
        esc("evil\u{202e}fdp.exe".as_bytes()),
        r"evil\u{202e}fdp.exe"
    );
    assert_eq!(
        esc("x\u{2066}\u{feff}\u{200b}\u{2028}".as_bytes()),
        r"x\u{2066}\u{feff}\u{200b}\u{2028}"
    );
    // A lone C1 byte and the UTF-8 C1 character stay distinct.
    assert_ne!(esc(b"\x9b"), esc("\u{9b}".as_bytes()));
}

#[test]
fn printable_text_passes_through_borrowed() {
    let n = Name::from("java");
    assert!(matches!(n.escaped(), Cow::Borrowed("java")));
    assert_eq!(n.to_string(), "java");
    assert_eq!(format!("{n:?}"), "\"java\"");
}

#[test]
fn wide_and_combining_characters() {
    let cjk = Name::from("数据库服务");
    assert_eq!(cjk.raw_bytes().len(), 15);
    assert_eq!(cjk.width(), 10);
    assert_eq!(cjk.fit(10), "数据库服务");
    assert_eq!(cjk.fit(9), "数据库服…");
    assert_eq!(cjk.fit(8), "数据库…");
    assert_eq!(cjk.pad_to(8), "数据库… ");
    assert_eq!(cjk.pad_to(12), "数据库服务  ");
    assert_eq!(format!("[{cjk:<12}]"), "[数据库服务  ]");
    assert_eq!(format!("[{cjk:>11.7}]"), "[    数据库…]");

    let e = Name::from("cafe\u{301}s");
    assert_eq!(e.escaped(), "cafe\u{301}s");
    assert_eq!(e.width(), 5);
    // The accent stays with its "e".
    assert_eq!(e.fit(4), "caf…");
    assert_eq!(Name::from("cafe\u{301}s!").fit(5), "cafe\u{301}…");
    // Nothing to combine with: escaped.
    assert_eq!(esc("\u{301}x".as_bytes()), r"\u{301}x");
    assert_eq!(esc("\x1b\u{301}".as_bytes()), r"\e\u{301}");
}

#[test]
fn cuts_never_split_escapes() {
    let n = Name::from_bytes(b"ab\x1bcd");
    assert_eq!(n.escaped(), r"ab\ecd");
    assert_eq!(n.fit(5), r"ab\e…");
    assert_eq!(n.fit(4), "ab…");
    assert_eq!(n.fit(1), "…");
    assert_eq!(n.fit(0), "");
    assert_eq!(Name::from_bytes(b"\xff").fit(3), "…");
    assert_eq!(n.label_value(100), r"ab\ecd");
    assert_eq!(n.label_value(5), "ab…");
    assert_eq!(n.label_value(2), "");
}

#[test]
fn csv_quotes_per_rfc4180() {
    assert_eq!(Name::from("nginx").csv_field(), "nginx");
    assert_eq!(Name::from("a,b").csv_field(), "\"a,b\"");
    assert_eq!(Name::from("say \"hi\"").csv_field(), "\"say \"\"hi\"\"\"");
    assert_eq!(Name::from("a\nb").csv_field(), r"a\nb");
}

#[test]
fn json_keeps_the_exact_name() {
    let n = Name::from("tab\there");
    assert_eq!(serde_json::to_string(&n).unwrap(), r#""tab\there""#);
    assert_eq!(n.raw_b64(), None);
    let bad = Name::from_bytes(b"x\xffy");
    assert_eq!(serde_json::to_string(&bad).unwrap(), "\"x\u{fffd}y\"");
    let b64 = bad.raw_b64().unwrap();
    assert_eq!(Name::from_parts("x\u{fffd}y", Some(&b64)).unwrap(), bad);
    assert!(Name::from_parts("", Some("!!")).is_err());
    let back: Name = serde_json::from_str(r#""tab\there""#).unwrap();
    assert_eq!(back, n);
}

#[test]
fn comparisons_are_exact() {
    let n = Name::from("java");
    assert!(n == "java" && n != "Java");
    let (a, b) = (Name::from("a"), Name::from_bytes(b"b"));
    assert!(a < b);
    assert_eq!(Name::from(String::from("x")), Name::from(vec![b'x']));
}

/// Code points no escaped form may hold.
fn forbidden(c: char) -> bool {
    c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c) || is_format(c)
}

proptest! {
    #[test]
    fn escaped_is_safe_and_decodes_back(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        let s = esc(&bytes);
        prop_assert!(!s.chars().any(forbidden), "{s:?}");
        prop_assert!(!s.starts_with(|c: char| c.width() == Some(0)), "{s:?}");
        prop_assert_eq!(unescape(&s), bytes);
    }

    #[test]
    fn unicode_escapes_decode_back(text in "\\PC{0,12}|[\\u{0}-\\u{3ff}\\u{2000}-\\u{2070}]{0,12}") {
        let s = esc(text.as_bytes());
        prop_assert!(!s.chars().any(forbidden), "{s:?}");
        prop_assert_eq!(unescape(&s), text.as_bytes());
    }

    #[test]
    fn fit_stays_within_width(
        bytes in proptest::collection::vec(any::<u8>(), 0..48),
        text in "\\PC{0,16}",
    ) {
        for n in [Name::from_bytes(&bytes), Name::from(text)] {
            for cols in 0..40 {
                let fitted = n.fit(cols);
                prop_assert!(fitted.width() <= cols, "{fitted:?} > {cols}");
                prop_assert_eq!(n.pad_to(cols).width(), cols);
                prop_assert_eq!(format!("{n:>cols$}").width(), cols.max(n.width()));
                let cut = format!("{n:.cols$}");
                prop_assert!(cut.width() <= cols);
                prop_assert!(n.label_value(cols).len() <= cols);
                if n.width() <= cols {
                    prop_assert_eq!(&*fitted, &*n.escaped());
                }
            }
        }
    }

    #[test]
    fn json_and_b64_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        let n = Name::from_bytes(&bytes);
        let json = serde_json::to_string(&n).unwrap();
        let text: String = serde_json::from_str(&json).unwrap();
        let back = Name::from_parts(&text, n.raw_b64().as_deref()).unwrap();
        prop_assert_eq!(back.raw_bytes(), &bytes[..]);
    }
}

#[test]
fn escape_controls_keeps_backslashes_and_escapes_the_rest() {
    use super::escape_controls;
    assert_eq!(escape_controls("bad \"a\\nb\" x"), "bad \"a\\nb\" x");
    assert_eq!(
        escape_controls("a\nb\x1b[31m\u{202e}"),
        "a\\nb\\e[31m\\u{202e}"
    );
}

#[test]
fn unassigned_invisible_code_points_are_escaped_too() {
    for (c, want) in [
        ('\u{2065}', "\\u{2065}"),
        ('\u{fff0}', "\\u{fff0}"),
        ('\u{e0100}', "\\u{e0100}"),
    ] {
        assert_eq!(
            Name::from(format!("a{c}b")).to_string(),
            format!("a{want}b")
        );
    }
}
