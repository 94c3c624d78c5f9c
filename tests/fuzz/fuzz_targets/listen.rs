//! Listen addresses (`tcp://IP:PORT`, `tcp://[V6]:PORT`, `unix:///path`,
//! `unix://@name`): never a panic; an error names the text; a parsed
//! address prints back as text that parses to the same address, and that
//! text is a fixed point (Display is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::quote::q;
use tug::service::listen::Listen;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Listen::parse(s) {
        Ok(l) => {
            let shown = l.to_string();
            assert_eq!(
                Listen::parse(&shown).as_ref(),
                Ok(&l),
                "{s:?} shown as {shown:?}"
            );
            assert_eq!(Listen::parse(&shown).unwrap().to_string(), shown);
        }
        Err(e) => assert!(e.starts_with(&format!("{}: ", q(s))), "{s:?}: {e:?}"),
    }
});
