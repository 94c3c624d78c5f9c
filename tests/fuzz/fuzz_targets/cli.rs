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
    let flavor = if first & 1 == 0 {
        Flavor::Tug
    } else {
        Flavor::Tini
    };
    let _ = cli::parse(flavor, &words, &Environ::new(Vec::new()));
});
