//! Cron schedules: "M H DoM Mon DoW", the same with seconds first, or a
//! macro (@hourly, @daily, @midnight, @weekly, @monthly, @yearly,
//! @annually; lowercase, as in Vixie cron). Fields take `*`, `N`, `A-B`,
//! `*/S`, `A-B/S`, `N/S` (N to the end, step S) and comma lists of those;
//! months and days of the week also take names (JAN, sun), Sunday is 0 or
//! 7, and `?` means `*` in the day fields. As in Vixie cron, when both day
//! fields are restricted (neither starts with `*` or `?`) a day matches
//! when either does: "0 0 1 * MON" is the 1st and every Monday, and
//! "0 0 */2 * MON" odd days that are Mondays.
//!
//! Times are wall-clock times in a zone. When the clock changes, every
//! wall-clock time the clock shows or jumps over runs once, at the first
//! instant it shows that time or a later one:
//! - skipped times (spring forward) run at the instant of the jump, once
//!   however many of them match: a job at 02:30 runs at 03:00 on the day
//!   clocks go from 02:00 to 03:00 (as in cronie, for jobs at set times);
//! - repeated times (fall back) run only the first time round: a job at
//!   02:30 runs at 02:30 summer time, and a job every 30 minutes runs at
//!   02:00 and 02:30 summer time, then at 03:00 winter time.

use super::timezone::Zone;
use super::{DAY, civil_from_days, days_from_civil, days_in_month, weekday};
use alloc::format;
use alloc::string::String;
use core::fmt;

#[derive(Debug, PartialEq, Eq)]
pub struct CronError(pub String);

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Bitsets of the matching values of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    secs: u64,
    mins: u64,
    hours: u64,
    /// Bits 1-31.
    doms: u32,
    /// Bits 1-12.
    months: u16,
    /// Bits 0-6, 0 = Sunday.
    dows: u8,
    /// Both day fields restricted: either matching is enough.
    either_day: bool,
}

/// Each field's name and range, seconds first.
const FIELDS: [(&str, u32, u32); 6] = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
];

/// How far `next_after` looks: 8 years, so that February 29 always comes.
const HORIZON: i64 = 8 * 366 * DAY;

/// The instants `next_after` accepts: about 34,000 years around 1970.
const LIMIT: i64 = 1 << 40;

impl Schedule {
    /// "M H DoM Mon DoW" (5 fields), or 6 fields with seconds first, or
    /// @hourly @daily @midnight @weekly @monthly @yearly @annually.
    pub fn parse(expr: &str) -> Result<Schedule, CronError> {
        let mut expr = expr.trim();
        if let Some(name) = expr.strip_prefix('@') {
            expr = match name {
                "hourly" => "0 * * * *",
                "daily" | "midnight" => "0 0 * * *",
                "weekly" => "0 0 * * 0",
                "monthly" => "0 0 1 * *",
                "yearly" | "annually" => "0 0 1 1 *",
                _ => {
                    return Err(CronError(format!(
                        "unknown macro \"@{name}\" (use @hourly, @daily, @midnight, \
                         @weekly, @monthly, @yearly or @annually)"
                    )));
                }
            };
        }
        let mut words = [""; 6];
        let mut n = 0;
        for w in expr.split_ascii_whitespace() {
            if let Some(slot) = words.get_mut(n) {
                *slot = w;
            }
            n += 1;
        }
        let first = match n {
            5 => 1,
            6 => 0,
            _ => {
                return Err(CronError(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week) \
                     or 6 (with seconds first), not {n}"
                )));
            }
        };
        let mut bits = [1; 6];
        let mut star = [false; 6];
        for (k, w) in (first..).zip(&words[..n]) {
            let (name, lo, hi) = FIELDS[k];
            bits[k] = field(k, w).map_err(|(what, x)| {
                CronError(if what.is_empty() {
                    format!("{name} field: {x} is out of range {lo}-{hi}")
                } else {
                    format!("{name} field: {what} \"{x}\"")
                })
            })?;
            star[k] = w.starts_with(['*', '?']);
        }
        Ok(Schedule {
            secs: bits[0],
            mins: bits[1],
            hours: bits[2],
            doms: bits[3] as u32,
            months: bits[4] as u16,
            // Sunday is 0 and 7.
            dows: (bits[5] & 0x7f | bits[5] >> 7) as u8,
            either_day: !star[3] && !star[5],
        })
    }

    /// The first instant strictly after `after` (unix seconds) that matches
    /// in `zone`; None if there is none within 8 years (or `after` is more
    /// than 34,000 years from 1970).
    pub fn next_after(&self, after: i64, zone: &Zone) -> Option<i64> {
        if !(-LIMIT..=LIMIT).contains(&after) {
            return None;
        }
        let stop = after + HORIZON;
        // `seen` is the first wall-clock time the clock has not shown by
        // `after` (if it was set back, it showed later times before).
        let (start, off, _) = zone.span(after);
        let mut seen = after + i64::from(off) + 1;
        if start != i64::MIN {
            seen = seen.max(start.saturating_add(zone.offset_at(start - 1).into()));
        }
        // Walk the spans of constant UTC offset from t on.
        let mut t = after + 1;
        let (_, mut off, mut end) = zone.span(t);
        loop {
            let o = i64::from(off);
            let top = end.min(stop + 1) + o;
            if seen < top {
                if let Some(local) = self.next_local(seen, top - 1) {
                    // Before t + o only after a jump forward: run at the jump.
                    return Some((local - o).max(t));
                }
                seen = top;
            }
            if end > stop {
                return None;
            }
            t = end;
            (_, off, end) = zone.span(t);
        }
    }

    /// The first matching wall-clock time in `lo..=hi` (seconds since
    /// 1970-01-01 00:00 local time).
    fn next_local(&self, lo: i64, hi: i64) -> Option<i64> {
        let mut day = lo.div_euclid(DAY);
        let mut sod = lo.rem_euclid(DAY) as u32;
        let (mut y, mut m, mut d) = civil_from_days(day);
        while day * DAY <= hi {
            let days = self.month_days(y, m) & u32::MAX.checked_shl(d).unwrap_or(0);
            if days == 0 {
                // On to the first of next month.
                day += i64::from(days_in_month(y, m) + 1 - d);
                (y, m, d, sod) = if m == 12 {
                    (y + 1, 1, 1, 0)
                } else {
                    (y, m + 1, 1, 0)
                };
                continue;
            }
            let d2 = days.trailing_zeros();
            if d2 != d {
                day += i64::from(d2 - d);
                (d, sod) = (d2, 0);
                continue;
            }
            if let Some(s) = self.time_from(sod) {
                let local = day * DAY + i64::from(s);
                return (local <= hi).then_some(local);
            }
            (day, d, sod) = (day + 1, d + 1, 0);
        }
        None
    }

    /// The days of month `m` of year `y` that match, as bits 1-31.
    fn month_days(&self, y: i64, m: u32) -> u32 {
        if self.months >> m & 1 == 0 {
            return 0;
        }
        // The weekdays rotated so that bit 0 is the 1st's, then repeated
        // every 7 bits and shifted so that day d is bit d.
        let wd = weekday(days_from_civil(y, m, 1));
        let dows = u64::from(self.dows);
        let week = (dows >> wd | dows << (7 - wd)) & 0x7f;
        let by_dow = ((week * 0x1020_4081) << 1) as u32;
        let days = if self.either_day {
            self.doms | by_dow
        } else {
            self.doms & by_dow
        };
        days & ((2u64 << days_in_month(y, m)) - 2) as u32
    }

    /// The first matching time of day at or after second `sod`.
    fn time_from(&self, sod: u32) -> Option<u32> {
        let (h, m, s) = (sod / 3600, sod / 60 % 60, sod % 60);
        let first = |bits: u64| bits.trailing_zeros();
        if self.hours >> h & 1 != 0 {
            if self.mins >> m & 1 != 0
                && let Some(s) = next_bit(self.secs, s)
            {
                return Some(h * 3600 + m * 60 + s);
            }
            if let Some(m) = next_bit(self.mins, m + 1) {
                return Some(h * 3600 + m * 60 + first(self.secs));
            }
        }
        let h = next_bit(self.hours, h + 1)?;
        Some(h * 3600 + first(self.mins) * 60 + first(self.secs))
    }
}

/// The lowest set bit at or above `from`.
fn next_bit(bits: u64, from: u32) -> Option<u32> {
    let bits = bits & u64::MAX.checked_shl(from)?;
    (bits != 0).then(|| bits.trailing_zeros())
}

/// What is wrong in a field, and the text at fault ("" for out of range).
type Bad<'a> = (&'static str, &'a str);

/// One field's bitset (field `k` of FIELDS).
fn field(k: usize, text: &str) -> Result<u64, Bad<'_>> {
    let (_, lo, hi) = FIELDS[k];
    let names: &[u8] = match k {
        4 => b"JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC",
        5 => b"SUNMONTUEWEDTHUFRISAT",
        _ => b"",
    };
    let value = |x| {
        let name = names
            .chunks(3)
            .position(|n| n.eq_ignore_ascii_case(str::as_bytes(x)));
        // Month names count from 1, day names from 0.
        let v = number(x)
            .or(name.map(|i| i as u32 + lo))
            .ok_or(("invalid value", x))?;
        if v < lo || v > hi {
            return Err(("", x));
        }
        Ok(v)
    };
    let mut bits = 0;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(("empty item in", text));
        }
        let (range, step) = match item.split_once('/') {
            Some((range, s)) => match number(s) {
                Some(0) => return Err(("step 0 in", item)),
                Some(step) => (range, Some(step)),
                None => return Err(("invalid step", s)),
            },
            None => (item, None),
        };
        // Open ends stop at Saturday: 7 is only another name for Sunday.
        let end = if k == 5 { 6 } else { hi };
        let (mut a, b) = if range == "*" || (range == "?" && (k == 3 || k == 5)) {
            (lo, end)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(("reversed range", range));
            }
            (a, b)
        } else {
            let a = value(range)?;
            (a, if step.is_some() { end.max(a) } else { a })
        };
        while a <= b {
            bits |= 1 << a;
            a = a.saturating_add(step.unwrap_or(1));
        }
    }
    Ok(bits)
}

/// A decimal number (saturating: too big is out of any range anyway).
fn number(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| {
        s.bytes().fold(0u32, |n, c| {
            n.saturating_mul(10).saturating_add(u32::from(c - b'0'))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::timezone::Zone;
    use crate::calendar::{civil_from_days, days_from_civil};
    use std::string::ToString;
    use std::vec::Vec;

    fn ts(y: i64, m: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, m, d) * DAY + h * 3600 + mi * 60 + s
    }

    fn sched(expr: &str) -> Schedule {
        Schedule::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn err(expr: &str) -> String {
        Schedule::parse(expr).unwrap_err().to_string()
    }

    fn bits(list: &[u32]) -> u64 {
        list.iter().fold(0, |b, &v| b | 1 << v)
    }

    const PARIS: &str = "CET-1CEST,M3.5.0,M10.5.0/3";

    fn paris() -> Zone {
        Zone::from_posix(PARIS).unwrap()
    }

    /// The POSIX rule for Paris and, when tzdata is installed, the file.
    fn parises() -> Vec<Zone> {
        let mut v = std::vec![paris()];
        v.extend(crate::calendar::timezone::tests::system_zone(
            "Europe/Paris",
        ));
        v
    }

    /// Runs of `expr` after `from`, `n` of them.
    fn runs(expr: &str, zone: &Zone, from: i64, n: usize) -> Vec<i64> {
        let s = sched(expr);
        let mut out = Vec::new();
        let mut t = from;
        while out.len() < n {
            t = s.next_after(t, zone).unwrap();
            out.push(t);
        }
        out
    }

    #[test]
    fn parse_fields() {
        let s = sched("*/15 0-6/2,23 1,15 JAN-mar,dec mon-FRI");
        assert_eq!(s.secs, 1);
        assert_eq!(s.mins, bits(&[0, 15, 30, 45]));
        assert_eq!(s.hours, bits(&[0, 2, 4, 6, 23]));
        assert_eq!(s.doms, bits(&[1, 15]) as u32);
        assert_eq!(s.months, bits(&[1, 2, 3, 12]) as u16);
        assert_eq!(s.dows, bits(&[1, 2, 3, 4, 5]) as u8);
        assert!(s.either_day);
        let s = sched("  30 5/20 * 2/5 7  ");
        assert_eq!((s.mins, s.hours), (bits(&[30]), bits(&[5])));
        assert_eq!(s.months, bits(&[2, 7, 12]) as u16);
        assert_eq!(s.dows, 1);
        assert!(!s.either_day);
        let s = sched("0/20 * * * * SUN,sat");
        assert_eq!(s.secs, bits(&[0, 20, 40]));
        assert_eq!(s.mins, u64::MAX >> 4);
        assert_eq!(s.dows, bits(&[0, 6]) as u8);
        // Sunday is 0 and 7; open ends stop at Saturday.
        assert_eq!(sched("0 0 * * 5-7").dows, bits(&[0, 5, 6]) as u8);
        assert_eq!(sched("0 0 * * 0-7").dows, 0x7f);
        assert_eq!(sched("0 0 * * */2").dows, bits(&[0, 2, 4, 6]) as u8);
        assert_eq!(sched("0 0 * * 1/2").dows, bits(&[1, 3, 5]) as u8);
        assert_eq!(sched("0 0 * * 7/2").dows, 1);
        // Steps larger than the range, and `?`.
        assert_eq!(sched("*/100 * ? * ?").mins, 1);
        assert_eq!(sched("0 0 ? * 1"), sched("0 0 * * 1"));
        // Vixie cron: a day field starting with `*` counts as unrestricted.
        assert!(!sched("0 0 */2 * 1").either_day);
        assert!(sched("0 0 1-31 * 1").either_day);
        assert!(!sched("0 0 13 * *").either_day);
    }

    #[test]
    fn macros() {
        assert_eq!(sched("@hourly"), sched("0 * * * *"));
        assert_eq!(sched("@daily"), sched("0 0 * * *"));
        assert_eq!(sched("@midnight"), sched("0 0 * * *"));
        assert_eq!(sched("@weekly"), sched("0 0 * * 0"));
        assert_eq!(sched("@monthly"), sched("0 0 1 * *"));
        assert_eq!(sched("@yearly"), sched("0 0 1 1 *"));
        assert_eq!(sched(" @annually "), sched("0 0 1 1 *"));
        assert!(err("@Daily").starts_with("unknown macro \"@Daily\""));
        assert!(err("@reboot").starts_with("unknown macro \"@reboot\" (use @hourly"));
        assert!(err("@daily 5").starts_with("unknown macro \"@daily 5\""));
    }

    #[test]
    fn parse_errors() {
        let count = "expected 5 fields (minute hour day-of-month month day-of-week) \
                     or 6 (with seconds first)";
        for (expr, n) in [
            ("", 0),
            ("* * * *", 4),
            ("* * * * * * *", 7),
            ("1 2 3 4 5\t6\n7", 7),
        ] {
            assert_eq!(err(expr), format!("{count}, not {n}"));
        }
        let cases = [
            ("60 * * * *", "minute field: 60 is out of range 0-59"),
            ("* 24 * * *", "hour field: 24 is out of range 0-23"),
            ("* * 0 * *", "day-of-month field: 0 is out of range 1-31"),
            ("* * 32 * *", "day-of-month field: 32 is out of range 1-31"),
            ("* * * 13 *", "month field: 13 is out of range 1-12"),
            ("* * * 0 *", "month field: 0 is out of range 1-12"),
            ("* * * * 8", "day-of-week field: 8 is out of range 0-7"),
            ("60 * * * * *", "second field: 60 is out of range 0-59"),
            (
                "99999999999 * * * *",
                "minute field: 99999999999 is out of range 0-59",
            ),
            ("1,,2 * * * *", "minute field: empty item in \"1,,2\""),
            ("1, * * * *", "minute field: empty item in \"1,\""),
            ("*/0 * * * *", "minute field: step 0 in \"*/0\""),
            ("5/0 * * * *", "minute field: step 0 in \"5/0\""),
            ("*/ * * * *", "minute field: invalid step \"\""),
            ("*/x * * * *", "minute field: invalid step \"x\""),
            ("1/2/3 * * * *", "minute field: invalid step \"2/3\""),
            ("5-2 * * * *", "minute field: reversed range \"5-2\""),
            (
                "* * * * FRI-SUN",
                "day-of-week field: reversed range \"FRI-SUN\"",
            ),
            ("1- * * * *", "minute field: invalid value \"\""),
            ("-1 * * * *", "minute field: invalid value \"\""),
            ("1-2-3 * * * *", "minute field: invalid value \"2-3\""),
            ("x * * * *", "minute field: invalid value \"x\""),
            ("? * * * *", "minute field: invalid value \"?\""),
            ("* * * ? *", "month field: invalid value \"?\""),
            ("* * * JANUARY *", "month field: invalid value \"JANUARY\""),
            (
                "* * * * MON-FRX",
                "day-of-week field: invalid value \"FRX\"",
            ),
            ("* JAN * * *", "hour field: invalid value \"JAN\""),
            ("* * * SUN *", "month field: invalid value \"SUN\""),
            ("* * * * +1", "day-of-week field: invalid value \"+1\""),
            ("** * * * *", "minute field: invalid value \"**\""),
        ];
        for (expr, msg) in cases {
            assert_eq!(err(expr), msg, "{expr:?}");
        }
    }

    #[test]
    fn next_utc() {
        let u = &Zone::Utc;
        let t = ts(2026, 5, 17, 12, 3, 10);
        assert_eq!(
            sched("*/5 * * * *").next_after(t, u),
            Some(ts(2026, 5, 17, 12, 5, 0))
        );
        // Strictly after: from a match, the next one.
        assert_eq!(
            sched("*/5 * * * *").next_after(ts(2026, 5, 17, 12, 5, 0), u),
            Some(ts(2026, 5, 17, 12, 10, 0))
        );
        assert_eq!(
            sched("*/5 * * * * *").next_after(t, u),
            Some(ts(2026, 5, 17, 12, 3, 15))
        );
        assert_eq!(
            sched("59 59 23 31 12 *").next_after(t, u),
            Some(ts(2026, 12, 31, 23, 59, 59))
        );
        assert_eq!(
            sched("0 0 29 2 *").next_after(t, u),
            Some(ts(2028, 2, 29, 0, 0, 0))
        );
        // February 29 of 2104, 8 years after that of 2096.
        assert_eq!(
            sched("0 0 29 2 *").next_after(ts(2096, 3, 1, 0, 0, 0), u),
            Some(ts(2104, 2, 29, 0, 0, 0))
        );
        assert_eq!(
            sched("0 0 31 * *").next_after(ts(2026, 4, 1, 0, 0, 0), u),
            Some(ts(2026, 5, 31, 0, 0, 0))
        );
        assert_eq!(sched("0 0 30 2 *").next_after(t, u), None);
        assert_eq!(sched("0 0 31 4,6,9,11 *").next_after(t, u), None);
        // The 13th, or a Friday (both restricted).
        assert_eq!(
            runs("0 0 13 * 5", u, t, 3),
            [
                ts(2026, 5, 22, 0, 0, 0),
                ts(2026, 5, 29, 0, 0, 0),
                ts(2026, 6, 5, 0, 0, 0)
            ]
        );
        assert_eq!(
            runs("0 0 13 * 5", u, ts(2026, 6, 5, 0, 0, 0), 2),
            [ts(2026, 6, 12, 0, 0, 0), ts(2026, 6, 13, 0, 0, 0)]
        );
        // Sundays the 1st: "*/7" (Sundays) starts with `*`, so both match.
        assert_eq!(
            runs("0 0 1 * */7", u, t, 2),
            [ts(2026, 11, 1, 0, 0, 0), ts(2027, 8, 1, 0, 0, 0)]
        );
        assert_eq!(
            runs("0 9 * * MON-FRI", u, ts(2026, 5, 15, 10, 0, 0), 2),
            [ts(2026, 5, 18, 9, 0, 0), ts(2026, 5, 19, 9, 0, 0)]
        );
        assert_eq!(runs("@weekly", u, t, 1), [ts(2026, 5, 24, 0, 0, 0)]);
        assert_eq!(
            runs("@monthly", u, t, 2),
            [ts(2026, 6, 1, 0, 0, 0), ts(2026, 7, 1, 0, 0, 0)]
        );
        assert_eq!(
            runs("30 23 * * *", u, ts(2026, 12, 31, 23, 30, 0), 1),
            [ts(2027, 1, 1, 23, 30, 0)]
        );
        // Before 1970, and across it.
        assert_eq!(sched("0 0 1 1 *").next_after(-1, u), Some(0));
        assert_eq!(
            sched("0 12 * * *").next_after(ts(1900, 1, 1, 0, 0, 0), u),
            Some(ts(1900, 1, 1, 12, 0, 0))
        );
        assert_eq!(
            sched("0 0 29 2 *").next_after(ts(1896, 3, 1, 0, 0, 0), u),
            Some(ts(1904, 2, 29, 0, 0, 0))
        );
        assert_eq!(sched("* * * * * *").next_after(-2, u), Some(-1));
        // Fixed offsets: Kolkata at +5:30.
        let ist = &Zone::Fixed(19_800);
        assert_eq!(
            sched("0 9 * * *").next_after(t, ist),
            Some(ts(2026, 5, 18, 3, 30, 0))
        );
        assert_eq!(
            sched("0 0 1 1 *").next_after(t, ist),
            Some(ts(2026, 12, 31, 18, 30, 0))
        );
        // Out of reach.
        for t in [i64::MIN, -(1 << 40) - 1, (1 << 40) + 1, i64::MAX] {
            assert_eq!(sched("* * * * *").next_after(t, u), None);
        }
        assert!(sched("* * * * *").next_after(1 << 40, u).is_some());
        assert!(
            sched("* * * * *")
                .next_after(-(1 << 40), &paris())
                .is_some()
        );
    }

    #[test]
    fn spring_forward() {
        // Paris, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC.
        let jump = ts(2026, 3, 29, 1, 0, 0);
        for z in &parises() {
            // 02:30 does not exist: the job runs at the jump, once.
            assert_eq!(
                runs("30 2 * * *", z, jump - DAY, 3),
                [jump - DAY + 1800, jump, jump + DAY - 1800]
            );
            assert_eq!(runs("0 3 * * *", z, jump - 7200, 1), [jump]);
            // Every 15 minutes: 01:45 CET, then 02:00, 02:15, 02:30, 02:45
            // and 03:00 all at once at the jump, then 03:15 CEST.
            assert_eq!(
                runs("*/15 * * * *", z, jump - 1000, 3),
                [jump - 900, jump, jump + 900]
            );
            assert_eq!(
                runs("*/15 * * * * *", z, jump - 16, 3),
                [jump - 15, jump, jump + 15]
            );
            // A job at 02:30 started after the jump waits for the next day.
            assert_eq!(runs("30 2 * * *", z, jump, 1), [jump + DAY - 1800]);
            assert_eq!(runs("30 2 * * *", z, jump - 1, 1), [jump]);
        }
        // New York, 2026-03-08 at 07:00 UTC; Lord Howe (half an hour),
        // 2026-10-04 at 02:00 local.
        let ny = Zone::from_posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
        let jump = ts(2026, 3, 8, 7, 0, 0);
        assert_eq!(
            runs("30 2 * * *", &ny, jump - 3600, 2),
            [jump, jump + DAY - 1800]
        );
        let lh = Zone::from_posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0").unwrap();
        let jump = ts(2026, 10, 3, 15, 30, 0);
        assert_eq!(
            runs("15 2 * * *", &lh, jump - 3600, 2),
            [jump, jump + DAY - 15 * 60]
        );
        assert_eq!(runs("30 2 * * *", &lh, jump - 3600, 1), [jump]);
    }

    #[test]
    fn fall_back() {
        // Paris, 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC.
        let back = ts(2026, 10, 25, 1, 0, 0);
        for z in &parises() {
            // 02:30 happens twice: the job runs the first time only.
            assert_eq!(
                runs("30 2 * * *", z, back - 3 * 3600, 3),
                [back - 1800, back + DAY + 1800, back + 2 * DAY + 1800]
            );
            // Also when started during the second 02:00-03:00.
            assert_eq!(runs("30 2 * * *", z, back + 600, 1), [back + DAY + 1800]);
            assert_eq!(runs("30 2 * * *", z, back, 1), [back + DAY + 1800]);
            // Every 30 minutes: 02:00 and 02:30 CEST, then 03:00 CET.
            assert_eq!(
                runs("*/30 * * * *", z, back - 3601, 4),
                [back - 3600, back - 1800, back + 3600, back + 5400]
            );
            assert_eq!(runs("0 * * * *", z, back + 1, 1), [back + 3600]);
            // 01:59:59 CET... 03:00 runs at 03:00 CET.
            assert_eq!(runs("0 3 * * *", z, back - 3600, 1), [back + 3600]);
        }
        let lh = Zone::from_posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0").unwrap();
        // 2026-04-05 02:00 (+11) becomes 01:30 (+10:30) at 15:00 UTC.
        let back = ts(2026, 4, 4, 15, 0, 0);
        assert_eq!(
            runs("45 1 * * *", &lh, back - 3600, 2),
            [back - 900, back + DAY + 900]
        );
    }

    #[test]
    fn odd_zones() {
        use crate::calendar::timezone::tests::tzif_bytes;
        let every = sched("* * * * * *");
        let check = |zone: &Zone, from: i64| {
            let mut t = from;
            for _ in 0..50 {
                let Some(next) = every.next_after(t, zone) else {
                    return;
                };
                assert!(next > t);
                assert_eq!(every.next_after(next - 1, zone), Some(next));
                t = next;
            }
        };
        // Transitions at the ends of time, to extreme offsets.
        let types = [(i32::MIN, false), (0, false), (i32::MAX, true)];
        let b = tzif_bytes(
            b'2',
            &[(i64::MIN + 1, 1), (-5, 2), (1 << 41, 0)],
            &types,
            "",
        );
        let z = Zone::from_tzif(&b).unwrap();
        for from in [-(1 << 40), -100, -6, -5, 0, 1 << 40] {
            check(&z, from);
        }
        // An offset that changes every second, back and forth by an hour.
        let trans: Vec<(i64, u8)> = (0..2000).map(|k| (k, (k & 1) as u8)).collect();
        let b = tzif_bytes(b'2', &trans, &[(0, false), (3600, true)], "");
        let z = Zone::from_tzif(&b).unwrap();
        for from in [-10, 0, 999, 1500, 1999] {
            check(&z, from);
        }
        assert!(sched("0 0 30 2 *").next_after(0, &z).is_none());
    }

    /// Steps a PRNG (xorshift64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u32) -> u32 {
            (self.next() % u64::from(n)) as u32
        }
    }

    /// A random field for values lo..=hi; `*` one time in `star`.
    fn random_field(r: &mut Rng, lo: u32, hi: u32, star: u32) -> String {
        if r.below(star) == 0 {
            return "*".into();
        }
        let items: Vec<String> = (0..1 + r.below(3))
            .map(|_| {
                let a = lo + r.below(hi - lo + 1);
                let b = a + r.below(hi - a + 1);
                let s = 1 + r.below((hi - lo) / 2 + 1);
                match r.below(6) {
                    0 => format!("*/{s}"),
                    1 => format!("{a}-{b}"),
                    2 => format!("{a}-{b}/{s}"),
                    3 => format!("{a}/{s}"),
                    _ => format!("{a}"),
                }
            })
            .collect();
        items.join(",")
    }

    fn random_expr(r: &mut Rng, seconds: bool) -> String {
        let mut f = Vec::new();
        if seconds {
            f.push(random_field(r, 0, 59, 3));
        }
        f.push(random_field(r, 0, 59, 3));
        f.push(random_field(r, 0, 23, 2));
        f.push(random_field(r, 1, 31, 2));
        f.push(random_field(r, 1, 12, 2));
        f.push(random_field(r, 0, 7, 2));
        f.join(" ")
    }

    /// Whether local time `l` matches, computed the slow way.
    fn matches(s: &Schedule, l: i64) -> bool {
        let (y, m, d) = civil_from_days(l.div_euclid(DAY));
        // Sakamoto's day of the week, independent of `weekday`.
        let t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
        let yy = if m < 3 { y - 1 } else { y };
        let wd = (yy + yy.div_euclid(4) - yy.div_euclid(100)
            + yy.div_euclid(400)
            + t[m as usize - 1]
            + i64::from(d))
        .rem_euclid(7);
        let (dom, dow) = (s.doms >> d & 1 == 1, s.dows >> wd & 1 == 1);
        let day = if s.either_day { dom || dow } else { dom && dow };
        let sod = l.rem_euclid(DAY);
        let bit = |b: u64, v: i64| b >> v & 1 == 1;
        day && s.months >> m & 1 == 1
            && bit(s.hours, sod / 3600)
            && bit(s.mins, sod / 60 % 60)
            && bit(s.secs, sod % 60)
    }

    /// The reference: step through instants `step` seconds apart (zone
    /// offsets and transitions must be multiples of it); instant u runs
    /// when a wall-clock time that matches is in (hw, local(u)], hw being
    /// the latest wall-clock time shown before u. Gives up after `limit`
    /// instants, returning None.
    fn brute(s: &Schedule, after: i64, zone: &Zone, step: i64, limit: u32) -> Option<i64> {
        // The offset, from the span (checked against Python's zoneinfo).
        let mut span = (0, 0, 0);
        let mut local = |u: i64| {
            if !(span.0..span.2).contains(&u) {
                span = zone.span(u);
            }
            u + i64::from(span.1)
        };
        let mut u = after.div_euclid(step) * step;
        let mut hw = local(after);
        for k in 0..3000 {
            hw = hw.max(local(u - step * k - 1));
        }
        for _ in 0..limit {
            u += step;
            hw = hw.max(local(u - 1));
            let mut l = local(u);
            while l > hw {
                if matches(s, l) {
                    return Some(u);
                }
                l -= step;
            }
        }
        None
    }

    /// next_after against the reference, on random expressions and times
    /// (half of them within two days of a Paris DST change).
    fn property(zone: &Zone, seconds: bool, trials: u32, seed: u64) {
        let mut r = Rng(seed);
        let (step, limit) = if seconds { (1, 200_000) } else { (60, 100_000) };
        let mut found = 0;
        for _ in 0..trials {
            let expr = random_expr(&mut r, seconds);
            let s = sched(&expr);
            let y = 1972 + i64::from(r.below(125));
            // Last Sunday of March or October, 01:00 UTC (Paris changes).
            let m = if r.below(2) == 0 { 3 } else { 10 };
            let last = days_from_civil(y, m, 31);
            let change = (last - i64::from(crate::calendar::weekday(last))) * DAY + 3600;
            let after = match r.below(4) {
                0 | 1 => ts(y, 1, 1, 0, 0, 0) + i64::from(r.below(366 * 86_400)),
                // Within two days of a change.
                2 => change + i64::from(r.below(4 * 86_400)) - 2 * 86_400,
                // Close to a change, or to a minute or an hour from it.
                _ => change + i64::from(r.below(9)) - 4 + 60 * i64::from(r.below(121)) - 3600,
            };
            let want = brute(&s, after, zone, step, limit);
            let got = s.next_after(after, zone);
            match want {
                Some(_) => assert_eq!(got, want, "{expr:?} after {after}"),
                // Beyond the reference's reach: only check the direction.
                None => assert!(
                    got.is_none_or(|g| g > after + step * i64::from(limit)),
                    "{expr:?} after {after}: {got:?}"
                ),
            }
            found += usize::from(want.is_some());
        }
        assert!(found > trials as usize / 2, "only {found} found");
    }

    #[test]
    fn property_utc() {
        property(&Zone::Utc, false, 400, 0x9e37_79b9_7f4a_7c15);
    }

    #[test]
    fn property_utc_seconds() {
        property(&Zone::Utc, true, 200, 0x2545_f491_4f6c_dd1d);
    }

    #[test]
    fn property_paris() {
        for (k, z) in parises().iter().enumerate() {
            property(z, false, 400, 0xdead_beef_1234_5678 + k as u64);
        }
    }

    #[test]
    fn property_paris_seconds() {
        property(&paris(), true, 200, 0x1234_5678_9abc_def1);
    }

    #[test]
    fn far_searches() {
        // Nothing within 8 years: quick all the same.
        let never = sched("0 0 30 2 *");
        let rare = sched("0 0 29 2 *");
        let start = std::time::Instant::now();
        for z in parises() {
            for k in 0..200 {
                let t = ts(2000, 1, 1, 0, 0, 0) + k * 7_777_777;
                assert_eq!(never.next_after(t, &z), None);
                let next = rare.next_after(t, &z).unwrap();
                let (y, m, d) = civil_from_days((next + 3600).div_euclid(DAY));
                assert_eq!((m, d, y % 4), (2, 29, 0));
            }
        }
        std::eprintln!("{:?}", start.elapsed());
    }
}
