//! Log file names: strftime patterns (`/var/log/syslog-%Y%m%d.log`, as
//! Chaperone's `file:` took them) and the names size rotation moves a file
//! through. Pure: the file output expands the name for each record's time
//! (a new name opens a new file) and carries out the renames itself.
//!
//! Conversions (C/glibc meaning, "C" locale): `%Y` year, `%y` its last two
//! digits, `%m` month 01-12, `%d` day 01-31, `%e` day space-padded, `%j`
//! day of the year 001-366, `%H` 00-23, `%I` 01-12, `%p` AM/PM, `%M`, `%S`,
//! `%a`/`%A` weekday name, `%b`/`%h`/`%B` month name, `%u` weekday 1-7
//! (Monday 1), `%w` 0-6 (Sunday 0), `%F` = `%Y-%m-%d`, `%T` = `%H:%M:%S`,
//! `%s` seconds since the epoch, `%z` the offset (+hhmm), `%%` a `%`.
//! Decisions:
//! - An unknown conversion is kept as written (`%q` stays `%q`, a final
//!   lone `%` stays `%`), as glibc does, so a name never loses characters.
//! - Time is the caller's: seconds since the epoch plus the UTC offset in
//!   force then (calendar::timezone); nanoseconds are not used (no `%f`
//!   in C's strftime either).
//!
//! Rotation (size, `keep: N`): the numbered names of logrotate's default
//! and Python's RotatingFileHandler, `file.1` (newest) ... `file.N`.
//! `rotation_plan` lists the renames, oldest first: `file.N-1` → `file.N`
//! (replacing, so dropping, the oldest), ..., `file` → `file.1`. After
//! the plan the output opens `file` with O_CREAT|O_TRUNC, which also
//! makes `keep: 0` mean "start the file afresh" (no renames). A rename
//! whose source does not exist (ENOENT: the first rotations) is skipped.
//! Files numbered above N left by an earlier, larger `keep` are left
//! alone: the plan is the names, not a directory listing.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::calendar::{DAY, civil_from_days, days_from_civil, weekday};

/// Day and month names, "C" locale (also the classic syslog line's).
pub const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Appends `pattern` expanded for time `t` (seconds since the epoch,
/// nanoseconds) at UTC offset `offset_s` to `out`.
pub fn expand(pattern: &str, t: (i64, u32), offset_s: i32, out: &mut String) {
    let local = t.0.saturating_add(i64::from(offset_s));
    let days = local.div_euclid(DAY);
    let secs = local.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let wd = weekday(days) as usize;
    let month = MONTHS[m as usize - 1];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(k) = chars.next() else {
            out.push('%');
            break;
        };
        // Writing to a String cannot fail.
        let _ = match k {
            'Y' => write!(out, "{y}"),
            'y' => write!(out, "{:02}", y.rem_euclid(100)),
            'm' => write!(out, "{m:02}"),
            'd' => write!(out, "{d:02}"),
            'e' => write!(out, "{d:2}"),
            'j' => write!(out, "{:03}", days - days_from_civil(y, 1, 1) + 1),
            'H' => write!(out, "{hh:02}"),
            'I' => write!(out, "{:02}", (hh + 11) % 12 + 1),
            'p' => write!(out, "{}", if hh < 12 { "AM" } else { "PM" }),
            'M' => write!(out, "{mm:02}"),
            'S' => write!(out, "{ss:02}"),
            'a' => write!(out, "{}", &WEEKDAYS[wd][..3]),
            'A' => write!(out, "{}", WEEKDAYS[wd]),
            'b' | 'h' => write!(out, "{}", &month[..3]),
            'B' => write!(out, "{month}"),
            'u' => write!(out, "{}", (wd + 6) % 7 + 1),
            'w' => write!(out, "{wd}"),
            'F' => write!(out, "{y}-{m:02}-{d:02}"),
            'T' => write!(out, "{hh:02}:{mm:02}:{ss:02}"),
            's' => write!(out, "{}", t.0),
            'z' => {
                let a = offset_s.unsigned_abs() / 60;
                let sign = if offset_s < 0 { '-' } else { '+' };
                write!(out, "{sign}{:02}{:02}", a / 60, a % 60)
            }
            '%' => write!(out, "%"),
            other => write!(out, "%{other}"),
        };
    }
}

/// The name of the `n`th rotated copy of `path` (`path` itself for 0).
pub fn rotated(path: &str, n: u32) -> String {
    if n == 0 {
        path.into()
    } else {
        format!("{path}.{n}")
    }
}

/// The renames that rotate `path` keeping `keep` old copies, in the order
/// to do them (see the module header).
pub fn rotation_plan(path: &str, keep: u32) -> Vec<(String, String)> {
    let mut plan = Vec::with_capacity(keep as usize);
    for n in (0..keep).rev() {
        plan.push((rotated(path, n), rotated(path, n + 1)));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn x(pattern: &str, t: i64, offset: i32) -> String {
        let mut s = String::from(">");
        expand(pattern, (t, 999_999_999), offset, &mut s);
        s[1..].into()
    }

    #[test]
    fn conversions() {
        // 2026-12-06 22:13:26 UTC, a Sunday (`date -u -d @1796595206`).
        let t = 1_796_595_206;
        assert_eq!(
            x("/var/log/syslog-%Y%m%d.log", t, 0),
            "/var/log/syslog-20261206.log"
        );
        assert_eq!(
            x("%F %T %j %a %A %b %h %B %e %y", t, 0),
            "2026-12-06 22:13:26 340 Sun Sunday Dec Dec December  6 26"
        );
        assert_eq!(
            x("%H:%M:%S %I %p %u %w %s %z", t, 0),
            "22:13:26 10 PM 7 0 1796595206 +0000"
        );
        // The offset moves the wall clock (and the date) but not %s.
        assert_eq!(
            x("%F %T %a %u %z %s", t, 3 * 3600),
            "2026-12-07 01:13:26 Mon 1 +0300 1796595206"
        );
        assert_eq!(
            x("%F %T %z", t, -(9 * 3600 + 30 * 60)),
            "2026-12-06 12:43:26 -0930"
        );
        assert_eq!(x("%I %p", t - 22 * 3600 - 13 * 60, 0), "12 AM");
        assert_eq!(x("%I %p", t - 10 * 3600 - 13 * 60, 0), "12 PM");
    }

    #[test]
    fn calendar_edges() {
        assert_eq!(x("%F %T %j %a", 0, 0), "1970-01-01 00:00:00 001 Thu");
        assert_eq!(x("%F %T %j", -1, 0), "1969-12-31 23:59:59 365");
        // A leap year's last day; 2000 (a leap century) and 2100 (not).
        assert_eq!(x("%F %j", 1_735_603_200, 0), "2024-12-31 366");
        assert_eq!(x("%F %j %a", 951_782_400, 0), "2000-02-29 060 Tue");
        assert_eq!(x("%F %j", 4_107_542_400, 0), "2100-03-01 060");
        assert_eq!(x("%y %e", 946_684_800 - DAY * 365, 0), "99  1");
        // Extreme times neither panic nor overflow.
        let _ = x("%Y%m%d%j%a%b%H%I%p%u%z%s", i64::MAX, i32::MAX);
        let _ = x("%Y%m%d%j%a%b%H%I%p%u%z%s", i64::MIN, i32::MIN);
    }

    #[test]
    fn unknown_conversions_are_kept() {
        assert_eq!(x("100%% %q %E %", 0, 0), "100% %q %E %");
        assert_eq!(x("%é%", 0, 0), "%é%");
        assert_eq!(x("plain/ünïcode.log", 0, 0), "plain/ünïcode.log");
        assert_eq!(x("", 0, 0), "");
        // Appends, as the caller reuses its buffer.
        let mut s = String::from("a");
        expand("%Y", (0, 0), 0, &mut s);
        assert_eq!(s, "a1970");
    }

    #[test]
    fn rotation_names_and_plan() {
        assert_eq!(rotated("/l/f.log", 0), "/l/f.log");
        assert_eq!(rotated("/l/f.log", 3), "/l/f.log.3");
        let own = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| ((*a).into(), (*b).into()))
                .collect::<Vec<(String, String)>>()
        };
        assert_eq!(
            rotation_plan("f", 3),
            own(&[("f.2", "f.3"), ("f.1", "f.2"), ("f", "f.1")])
        );
        assert_eq!(rotation_plan("f", 1), own(&[("f", "f.1")]));
        assert_eq!(rotation_plan("f", 0), vec![]);
    }

    /// Carrying out the plan on a simulated directory keeps the newest
    /// `keep` copies, in order, whatever existed before.
    #[test]
    fn the_plan_keeps_the_newest() {
        for keep in 0..5 {
            let mut dir: Vec<(String, u32)> = Vec::new();
            for generation in 1..=7 {
                for (from, to) in rotation_plan("f", keep) {
                    dir.retain(|(n, _)| *n != to);
                    if let Some(e) = dir.iter_mut().find(|(n, _)| *n == from) {
                        e.0 = to;
                    }
                }
                // O_TRUNC: the live file holds only the new generation.
                dir.retain(|(n, _)| n != "f");
                dir.push(("f".into(), generation));
                for n in 0..=keep {
                    let want = (generation > n).then(|| generation - n);
                    let got = dir.iter().find(|(f, _)| *f == rotated("f", n)).map(|e| e.1);
                    assert_eq!(got, want, "keep {keep}, generation {generation}, copy {n}");
                }
                assert!(dir.len() as u32 <= keep + 1);
            }
        }
    }
}
