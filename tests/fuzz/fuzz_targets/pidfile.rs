//! Pidfile contents: any bytes give a pid or a one-line reason, never a
//! panic. A pid is positive, and exactly what its digits say: printing it
//! back (with the whitespace a daemon adds) parses to the same pid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::service::pidfile::parse_pid;

fuzz_target!(|data: &[u8]| {
    match parse_pid(data) {
        Ok(pid) => {
            assert!(pid > 0, "{data:?} gave {pid}");
            let text = data.trim_ascii();
            assert!(text.iter().all(u8::is_ascii_digit), "{data:?} gave {pid}");
            assert_eq!(parse_pid(format!("{pid}\n").as_bytes()), Ok(pid));
            let digits = text.iter().skip_while(|&&b| b == b'0');
            assert!(digits.copied().eq(pid.to_string().bytes()), "{data:?} gave {pid}");
        }
        Err(why) => assert!(!why.is_empty() && !why.contains('\n'), "{why:?}"),
    }
});
