//! sd_notify datagrams: any bytes give notices, never a panic; one notice
//! per non-empty line; a reason for every invalid line; what parses is
//! what the line said (a STATUS= line keeps its text, a number is the
//! value of its digits); tug's own formatted messages parse back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::service::notify::{Notice, format, parse};

fuzz_target!(|data: &[u8]| {
    let notices = parse(data);
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(notices.len(), lines.len(), "{data:?}");
    for (n, line) in notices.iter().zip(&lines) {
        let text = std::str::from_utf8(line).ok();
        let value = text.and_then(|t| t.split_once('=')).map(|(_, v)| v);
        // A number is the value std reads from the same digits (leading
        // zeros allowed); parse is stricter (no sign), never different.
        let num = value.and_then(|v| v.parse::<u64>().ok());
        match n {
            Notice::Invalid(why) => assert!(!why.is_empty()),
            Notice::Status(s) => assert_eq!(Some(s.as_str()), value),
            Notice::MainPid(p) => assert_eq!(num, Some(*p as u64)),
            Notice::Errno(e) => assert_eq!(num, Some(*e as u64)),
            Notice::WatchdogUsec(u) | Notice::ExtendTimeoutUsec(u) => assert_eq!(num, Some(*u)),
            Notice::Unknown(key) => assert!(text.unwrap().starts_with(&format!("{key}="))),
            _ => assert_eq!(
                value,
                Some(if n == &Notice::WatchdogTrigger {
                    "trigger"
                } else {
                    "1"
                })
            ),
        }
    }
    // Whatever status text tug reports upwards stays one STATUS= line:
    // the text's first 200 bytes at most, newlines as spaces.
    if let Ok(s) = std::str::from_utf8(data) {
        let back = parse(format(true, true, s).as_bytes());
        assert_eq!(&back[..2], [Notice::Ready, Notice::Stopping]);
        let mut cut = s.len().min(200);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        let status = (!s.is_empty()).then(|| Notice::Status(s[..cut].replace('\n', " ")));
        assert_eq!(back.get(2), status.as_ref(), "{s:?}");
        assert!(back.len() <= 3);
    }
});
