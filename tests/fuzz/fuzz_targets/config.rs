//! The whole config pipeline after rendering: JSON5, then the schema
//! (every field's decoding, the job graph checks). Any text must give a
//! config or a list of errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(errors) = tug::config::parse("fuzz.json5", text) {
            assert!(!errors.is_empty());
            assert!(errors.iter().all(|e| e.starts_with("fuzz.json5:")));
        }
    }
});
