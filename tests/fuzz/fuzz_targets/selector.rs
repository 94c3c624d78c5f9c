//! Log selectors: any text must parse or give an error naming the piece,
//! never panic; a parsed selector must match any record (any facility and
//! severity byte, any program and raw text) without panicking, and keep
//! the laws of its combination: no positive piece takes nothing, a
//! repeated selector takes what it took, an added `*.!*` takes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::logs::Record;
use tug::logs::selector::Selector;

fuzz_target!(|data: &[u8]| {
    // "<selector>\0<facility><severity><program>\0<raw>"
    let (text, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let sel = match Selector::parse(text) {
        Ok(s) => s,
        Err(e) => {
            assert!(e.starts_with("selector piece \""), "{e}");
            return;
        }
    };
    let byte = |i: usize| rest.get(i).copied().unwrap_or(0);
    let tail = String::from_utf8_lossy(rest.get(2..).unwrap_or(&[]));
    let (program, raw) = tail.split_once('\0').unwrap_or((&tail, ""));
    let rec = Record {
        time: (0, 0),
        facility: byte(0),
        severity: byte(1),
        host: None,
        program: program.into(),
        pid: None,
        msgid: None,
        structured: None,
        text: raw.into(),
        raw: raw.into(),
    };
    let took = sel.matches(&rec);
    assert!(!(took && sel.selects_nothing()), "{text:?}");
    if !text.trim().is_empty() {
        let twice = Selector::parse(&format!("{text};{text}")).expect("twice parses");
        assert_eq!(twice.matches(&rec), took, "{text:?} twice");
        let none = Selector::parse(&format!("{text};*.!*")).expect("plus *.!* parses");
        assert!(!none.matches(&rec), "{text:?};*.!*");
    }
});
