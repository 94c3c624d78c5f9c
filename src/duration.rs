//! Durations as ContainerPilot writes them: Go's time.ParseDuration syntax
//! ("1m30s", "1.5s", "250ms", "10us", "-" not allowed) or a bare integer,
//! which means seconds.

use crate::num::dec;
use core::fmt;

#[derive(Debug, PartialEq, Eq)]
pub struct DurationError(pub &'static str);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

const UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a duration into nanoseconds.
pub fn parse(s: &str) -> Result<u64, DurationError> {
    if s.is_empty() {
        return Err(DurationError("empty duration"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = dec(s).ok_or(DurationError("duration out of range"))?;
        return secs
            .checked_mul(1_000_000_000)
            .ok_or(DurationError("duration out of range"));
    }
    let mut rest = s;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return Err(DurationError(
                "expected a number, as in \"5s\" or \"1m30s\"",
            ));
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|&(_, n)| n)
            .ok_or(DurationError(
                "unknown or missing unit (use ns, us, ms, s, m or h)",
            ))?;
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if frac.contains('.') {
            return Err(DurationError("malformed number"));
        }
        let mut part = if int.is_empty() {
            0
        } else {
            dec::<u64>(int)
                .and_then(|i| i.checked_mul(scale))
                .ok_or(DurationError("duration out of range"))?
        };
        // Fractions to nanosecond precision; further digits are dropped.
        let mut div = 1u64;
        for d in frac.bytes().take(18) {
            div *= 10;
            part = part.saturating_add(u64::from(d - b'0') * scale / div);
        }
        total = total
            .checked_add(part)
            .ok_or(DurationError("duration out of range"))?;
        rest = tail;
    }
    Ok(total)
}

/// A duration for people: "5s", "1m30s", "250ms".
pub fn display(ns: u64) -> alloc::string::String {
    use core::fmt::Write;
    let mut s = alloc::string::String::new();
    if !ns.is_multiple_of(1_000_000_000) || ns == 0 {
        let _ = if ns.is_multiple_of(1_000_000) {
            write!(s, "{}ms", ns / 1_000_000)
        } else {
            write!(s, "{ns}ns")
        };
        return s;
    }
    let secs = ns / 1_000_000_000;
    let (h, m, sec) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        let _ = write!(s, "{h}h");
    }
    if m > 0 {
        let _ = write!(s, "{m}m");
    }
    if sec > 0 {
        let _ = write!(s, "{sec}s");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_syntax_and_bare_seconds() {
        assert_eq!(parse("5"), Ok(5_000_000_000));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("5s"), Ok(5_000_000_000));
        assert_eq!(parse("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse(".5s"), Ok(500_000_000));
        assert_eq!(parse("250ms"), Ok(250_000_000));
        assert_eq!(parse("10us"), Ok(10_000));
        assert_eq!(parse("10µs"), Ok(10_000));
        assert_eq!(parse("7ns"), Ok(7));
        assert_eq!(parse("2h"), Ok(7_200_000_000_000));
    }

    #[test]
    fn display_round_trips() {
        for s in ["5s", "1m30s", "2h", "250ms", "7ns", "1h0m1s"] {
            let ns = parse(s).unwrap();
            assert_eq!(parse(&display(ns)), Ok(ns), "{s}");
        }
        assert_eq!(display(90_000_000_000), "1m30s");
        assert_eq!(display(0), "0ms");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "s",
            "5x",
            "1.2.3s",
            "-5s",
            "5 s",
            ".s",
            "99999999999999999999",
            "1e3s",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
