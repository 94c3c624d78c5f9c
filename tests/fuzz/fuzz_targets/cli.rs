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
    // The chaperone flavor also reads _CHAP_OPTIONS: one of a few values
    // (the words themselves go through the same parser as argv), picked
    // by the first word's length. Environ wants &'static: each is made
    // once, not leaked per run (LeakSanitizer would flag that).
    static OPTIONS: std::sync::OnceLock<Vec<&'static CStr>> = std::sync::OnceLock::new();
    let options = OPTIONS.get_or_init(|| {
        [
            "",
            "--debug",
            "--task",
            "--no-defaults --debug",
            "--log-level=warn",
            "--bogus",
            "--user nobody",
            "--exitkills --config /x",
        ]
        .iter()
        .map(|o| {
            &*Box::leak(
                CString::new(format!("_CHAP_OPTIONS={o}"))
                    .unwrap()
                    .into_boxed_c_str(),
            )
        })
        .collect()
    });
    let env: Vec<&'static CStr> = if first & 3 == 3 {
        vec![options[owned[0].as_bytes().len() % options.len()]]
    } else {
        Vec::new()
    };
    let _ = cli::parse(flavor, &words, &Environ::new(env));
});
