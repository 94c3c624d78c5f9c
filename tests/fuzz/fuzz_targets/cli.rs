//! The command line and the duration syntax: any bytes must give an
//! action or a usage error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::{CStr, CString};
use tug::cli::{self, Flavor};
use tug::env::Environ;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = tug::duration::parse(s);
        let _ = tug::signame::parse(s);
    }
    // NUL-separated words; the first byte picks the flavor.
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let owned: Vec<CString> = rest
        .split(|&b| b == 0)
        .map(|w| CString::new(w).unwrap())
        .collect();
    let words: Vec<&CStr> = owned.iter().map(CString::as_c_str).collect();
    let flavor = match first & 3 {
        0 => Flavor::Tug,
        1 => Flavor::Tini,
        _ => Flavor::Chaperone,
    };
    // The chaperone flavor also reads _CHAP_OPTIONS: the first word.
    let var = CString::new([b"_CHAP_OPTIONS=", owned[0].as_bytes()].concat()).unwrap();
    let env: Vec<&'static CStr> = if first & 3 == 3 {
        vec![Box::leak(var.into_boxed_c_str())]
    } else {
        Vec::new()
    };
    let _ = cli::parse(flavor, &words, &Environ::new(env));
});
