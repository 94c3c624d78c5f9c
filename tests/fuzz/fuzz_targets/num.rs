//! The integer reader and the quoting of messages: `num::dec` must read
//! any text as core's FromStr does, for every type, and `quote::q` must
//! write what `{:?}` writes for every string but the few invisible code
//! points Debug also escapes (src/quote.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::num::dec;
use tug::quote::q;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    assert_eq!(dec::<u8>(s), s.parse::<u8>().ok());
    assert_eq!(dec::<u16>(s), s.parse::<u16>().ok());
    assert_eq!(dec::<u32>(s), s.parse::<u32>().ok());
    assert_eq!(dec::<u64>(s), s.parse::<u64>().ok());
    assert_eq!(dec::<usize>(s), s.parse::<usize>().ok());
    assert_eq!(dec::<i32>(s), s.parse::<i32>().ok());
    assert_eq!(dec::<i64>(s), s.parse::<i64>().ok());
    // ASCII and CJK: code points Debug writes as they are when printable.
    if s.chars()
        .all(|c| c.is_ascii() || ('\u{4e00}'..='\u{9fff}').contains(&c))
    {
        assert_eq!(q(s).to_string(), format!("{s:?}"));
    }
});
