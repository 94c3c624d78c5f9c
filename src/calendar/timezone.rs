//! Time zones for cron schedules: UTC, a fixed offset, or rules from TZif
//! data (RFC 8536: /etc/localtime, /usr/share/zoneinfo/...) and POSIX TZ
//! strings ("CET-1CEST,M3.5.0,M10.5.0/3"). The date math is the parent's
//! (calendar).
//!
//! Nothing here reads files: the caller asks `local_source` which file (or
//! POSIX string) describes local time, reads it, and hands over the bytes.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{DAY, civil_from_days, days_from_civil, days_in_month, weekday};
use crate::quote::q;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Zone {
    Utc,
    /// Seconds east of UTC.
    Fixed(i32),
    Rules(Box<Rules>),
}

/// A zone's history (TZif transitions) and future (a POSIX rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Instants, ascending, and the UTC offset from each on.
    trans: Vec<(i64, i32)>,
    /// The offset before the first transition.
    before: i32,
    /// The rule from the last transition on (TZif footer, or a TZ string).
    tail: Option<Posix>,
}

/// A POSIX TZ rule; offsets in seconds east of UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Posix {
    std: i32,
    dst: Option<Dst>,
}

/// Daylight saving time: its offset, and when it starts and ends (a date
/// and a local time in seconds, -167h to 167h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Dst {
    off: i32,
    start: (Date, i32),
    end: (Date, i32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Date {
    /// "Jn": day 1-365, February 29 never counted.
    Julian(u16),
    /// "n": day 0-365, February 29 counted.
    Zero(u16),
    /// "Mm.w.d": weekday d (0 = Sunday) of week w (5 = last) of month m.
    Month(u8, u8, u8),
}

impl Zone {
    /// UTC offset in seconds at unix time `t`.
    pub fn offset_at(&self, t: i64) -> i32 {
        self.span(t).1
    }

    /// `(start, offset, end)`: the offset at `t` holds at least from
    /// `start` (inclusive) to `end` (exclusive); `start <= t < end`
    /// (i64::MIN and i64::MAX for "forever").
    pub fn span(&self, t: i64) -> (i64, i32, i64) {
        match self {
            Zone::Utc => (i64::MIN, 0, i64::MAX),
            Zone::Fixed(off) => (i64::MIN, *off, i64::MAX),
            Zone::Rules(r) => {
                let i = r.trans.partition_point(|&(at, _)| at <= t);
                if let (true, Some(p)) = (i == r.trans.len(), &r.tail) {
                    let (start, off, end) = p.span(t);
                    return (start.max(r.trans.last().map_or(start, |x| x.0)), off, end);
                }
                let (start, off) = i
                    .checked_sub(1)
                    .map_or((i64::MIN, r.before), |k| r.trans[k]);
                (start, off, r.trans.get(i).map_or(i64::MAX, |x| x.0))
            }
        }
    }

    /// Parses TZif data, versions 1 to 4: the 64-bit block when there is
    /// one, and its footer's POSIX rule for times after the last transition.
    /// Before the first transition, the first standard-time type holds (as
    /// in glibc and musl). Leap seconds are ignored.
    pub fn from_tzif(bytes: &[u8]) -> Result<Zone, String> {
        tzif(bytes).map_err(|e| format!("bad TZif data: {e}"))
    }

    /// Parses a POSIX TZ string like "EST5EDT,M3.2.0,M11.1.0",
    /// "<+0330>-3:30" or "UTC0". With a DST name but no rules, DST follows
    /// the US rules (M3.2.0,M11.1.0), as in glibc.
    pub fn from_posix(spec: &str) -> Result<Zone, String> {
        let p = posix(spec).ok_or_else(|| {
            format!(
                "{spec} is not a POSIX TZ string like \"CET-1CEST,M3.5.0,M10.5.0/3\"",
                spec = q(&spec)
            )
        })?;
        Ok(match p.dst {
            None => Zone::Fixed(p.std),
            Some(_) => Zone::Rules(Box::new(Rules {
                trans: Vec::new(),
                before: p.std,
                tail: Some(p),
            })),
        })
    }
}

impl Posix {
    fn span(&self, t: i64) -> (i64, i32, i64) {
        let Some(dst) = self.dst else {
            return (i64::MIN, self.std, i64::MAX);
        };
        // Past ±140 million years the offset is all that matters.
        let t = t.clamp(-(1 << 52), 1 << 52);
        let (y, _, _) = civil_from_days((t + i64::from(self.std)).div_euclid(DAY));
        // The transitions of the years around t, in time order (a stable
        // sort: DST all year long ends and restarts at the same instant).
        let mut v = [(0, 0); 10];
        for (k, y) in (y - 2..=y + 2).enumerate() {
            let at =
                |(date, time): (Date, i32), off: i32| date.day(y) * DAY + i64::from(time - off);
            v[2 * k] = (at(dst.start, self.std), dst.off);
            v[2 * k + 1] = (at(dst.end, dst.off), self.std);
        }
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && v[j - 1].0 > v[j].0 {
                v.swap(j - 1, j);
                j -= 1;
            }
        }
        // Rule times are within ±8 days of their date, so v[0] <= t < v[9].
        let i = v.partition_point(|&(at, _)| at <= t);
        let (start, off) = i.checked_sub(1).map_or((i64::MIN, self.std), |k| v[k]);
        (start, off, v.get(i).map_or(i64::MAX, |x| x.0))
    }
}

impl Date {
    /// The day (since 1970-01-01) this date falls on in year `y`.
    fn day(self, y: i64) -> i64 {
        let jan1 = days_from_civil(y, 1, 1);
        match self {
            Date::Julian(n) => {
                let leap = n >= 60 && days_in_month(y, 2) == 29;
                jan1 + i64::from(n) - 1 + i64::from(leap)
            }
            Date::Zero(n) => jan1 + i64::from(n),
            Date::Month(m, w, d) => {
                let (m, w, d) = (u32::from(m), u32::from(w), u32::from(d));
                let first = days_from_civil(y, m, 1);
                let mut day = (d + 7 - weekday(first)) % 7 + 7 * (w - 1);
                if day >= days_in_month(y, m) {
                    day -= 7;
                }
                first + i64::from(day)
            }
        }
    }
}

/// A cursor over a POSIX TZ string.
struct Cur<'a>(&'a [u8]);

impl Cur<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.0 = &self.0[1..];
        }
        hit
    }

    /// Skips bytes while `ok`, returning how many.
    fn skip(&mut self, ok: impl Fn(u8) -> bool) -> usize {
        let n = self.0.iter().take_while(|&&c| ok(c)).count();
        self.0 = &self.0[n..];
        n
    }

    /// A zone abbreviation: three or more letters, or "<...>" with letters,
    /// digits, '+' and '-'.
    fn name(&mut self) -> Option<()> {
        if self.eat(b'<') {
            let n = self.skip(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'-');
            (n >= 3 && self.eat(b'>')).then_some(())
        } else {
            (self.skip(|c| c.is_ascii_alphabetic()) >= 3).then_some(())
        }
    }

    fn num(&mut self, max: u32) -> Option<u32> {
        let digits = &self.0[..self.0.iter().take_while(|c| c.is_ascii_digit()).count()];
        self.0 = &self.0[digits.len()..];
        let n = digits.iter().fold(0u32, |n, &c| {
            n.saturating_mul(10).saturating_add(u32::from(c - b'0'))
        });
        (!digits.is_empty() && n <= max).then_some(n)
    }

    /// [+-]hh[:mm[:ss]] in seconds, hh at most `max_h`.
    fn time(&mut self, max_h: u32) -> Option<i32> {
        let neg = !self.eat(b'+') && self.eat(b'-');
        let mut secs = self.num(max_h)? * 3600;
        if self.eat(b':') {
            secs += self.num(59)? * 60;
            if self.eat(b':') {
                secs += self.num(59)?;
            }
        }
        let secs = secs as i32;
        Some(if neg { -secs } else { secs })
    }

    fn starts_time(&self) -> bool {
        matches!(self.peek(), Some(b'+' | b'-' | b'0'..=b'9'))
    }

    /// ",date[/time]"
    fn rule(&mut self) -> Option<(Date, i32)> {
        if !self.eat(b',') {
            return None;
        }
        let date = if self.eat(b'J') {
            Date::Julian(self.num(365).filter(|&n| n >= 1)? as u16)
        } else if self.eat(b'M') {
            let m = self.num(12).filter(|&n| n >= 1)?;
            let w = self
                .eat(b'.')
                .then(|| self.num(5))
                .flatten()
                .filter(|&n| n >= 1)?;
            let d = self.eat(b'.').then(|| self.num(6)).flatten()?;
            Date::Month(m as u8, w as u8, d as u8)
        } else {
            Date::Zero(self.num(365)? as u16)
        };
        let time = if self.eat(b'/') {
            self.time(167)?
        } else {
            7200
        };
        Some((date, time))
    }
}

fn posix(spec: &str) -> Option<Posix> {
    let mut c = Cur(spec.as_bytes());
    c.name()?;
    // POSIX offsets count west: "EST5" is UTC-5.
    let std = -c.time(24)?;
    if c.0.is_empty() {
        return Some(Posix { std, dst: None });
    }
    c.name()?;
    let off = if c.starts_time() {
        -c.time(24)?
    } else {
        std + 3600
    };
    let (start, end) = if c.0.is_empty() {
        ((Date::Month(3, 2, 0), 7200), (Date::Month(11, 1, 0), 7200))
    } else {
        (c.rule()?, c.rule()?)
    };
    c.0.is_empty().then_some(Posix {
        std,
        dst: Some(Dst { off, start, end }),
    })
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0, |n, &c| n << 8 | u64::from(c))
}

/// A TZif header and the data block after it.
struct Block<'a> {
    version: u8,
    /// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    n: [usize; 6],
    /// The data from the block on.
    data: &'a [u8],
    /// The block's length.
    len: usize,
}

/// The header at the start of `b`, whose block has `t`-byte times.
fn block(b: &[u8], t: usize) -> Result<Block<'_>, &'static str> {
    if b.get(..4) != Some(b"TZif") || b.len() < 44 {
        return Err("no TZif header");
    }
    let mut n = [0; 6];
    for (k, x) in n.iter_mut().enumerate() {
        *x = be(&b[20 + 4 * k..24 + 4 * k]) as usize;
    }
    let [isut, isstd, leap, time, types, chars] = n;
    // u32 counts times at most 16 cannot overflow a 64-bit usize.
    let len = time * (t + 1) + types * 6 + chars + leap * (t + 4) + isstd + isut;
    if len > b.len() - 44 {
        return Err("truncated");
    }
    Ok(Block {
        version: b[4],
        n,
        data: &b[44..],
        len,
    })
}

fn tzif(b: &[u8]) -> Result<Zone, &'static str> {
    let v1 = block(b, 4)?;
    let (version, t) = (v1.version, if v1.version == 0 { 4 } else { 8 });
    let Block { n, data, len, .. } = if t == 4 {
        v1
    } else {
        block(&v1.data[v1.len..], 8)?
    };
    let (times, types) = (n[3], n[4]);
    if types == 0 {
        return Err("no local time types");
    }
    let (trans, rest) = data.split_at(times * t);
    let (idx, rest) = rest.split_at(times);
    let info = &rest[..types * 6];
    let utoff = |k: usize| be(&info[6 * k..6 * k + 4]) as u32 as i32;
    let mut v: Vec<(i64, i32)> = Vec::with_capacity(times);
    for (at, &k) in trans.chunks_exact(t).zip(idx) {
        let at = if t == 4 {
            i64::from(be(at) as u32 as i32)
        } else {
            be(at) as i64
        };
        let k = usize::from(k);
        if k >= types || v.last().is_some_and(|x| x.0 >= at) {
            return Err("bad transition");
        }
        v.push((at, utoff(k)));
    }
    let before = utoff((0..types).find(|&k| info[6 * k + 4] == 0).unwrap_or(0));
    // The footer, "\n<POSIX TZ string>\n", ignored when empty or bad (as
    // glibc does): the last transition's offset then holds.
    let footer = &data[len..];
    let tail = match footer.iter().skip(1).position(|&c| c == b'\n') {
        Some(end) if version != 0 && footer[0] == b'\n' => {
            core::str::from_utf8(&footer[1..=end]).ok().and_then(posix)
        }
        _ => None,
    };
    Ok(Zone::Rules(Box::new(Rules {
        trans: v,
        before,
        tail,
    })))
}

/// Where local time is described: a TZif file or a POSIX TZ string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalSource {
    File(String),
    Posix(String),
}

/// Which file describes local time, given the TZ variable (None if
/// unset), as glibc and musl decide: unset means /etc/localtime, empty
/// means UTC, ":/path" and "/path" name a file, ":Area/City" and
/// "Area/City" a file under /usr/share/zoneinfo, and a POSIX string (a
/// zone name followed by an offset, "CET-1CEST,...") is used as is. A name
/// with a ".." component is refused by handing it back as a POSIX string,
/// which `Zone::from_posix` then rejects with an error to report.
pub fn local_source(tz_env: Option<&str>) -> LocalSource {
    let tz = match tz_env {
        None => return LocalSource::File("/etc/localtime".to_string()),
        Some("") => return LocalSource::Posix("UTC0".to_string()),
        Some(tz) => tz,
    };
    let name = match tz.strip_prefix(':') {
        Some("") => "/etc/localtime",
        Some(name) => name,
        None => {
            let mut c = Cur(tz.as_bytes());
            if c.name().is_some() && c.starts_time() {
                return LocalSource::Posix(tz.to_string());
            }
            tz
        }
    };
    if name.starts_with('/') {
        LocalSource::File(name.to_string())
    } else if name.split('/').any(|part| part == "..") {
        LocalSource::Posix(tz.to_string())
    } else {
        LocalSource::File(format!("/usr/share/zoneinfo/{name}"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn ts(y: i64, m: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, m, d) * DAY + h * 3600 + mi * 60 + s
    }

    fn posix_zone(spec: &str) -> Zone {
        Zone::from_posix(spec).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A zone from /usr/share/zoneinfo, or None (with a note) without tzdata.
    pub(crate) fn system_zone(name: &str) -> Option<Zone> {
        let path = format!("/usr/share/zoneinfo/{name}");
        match std::fs::read(&path) {
            Ok(b) => Some(Zone::from_tzif(&b).unwrap_or_else(|e| panic!("{path}: {e}"))),
            Err(e) => {
                std::eprintln!("skipping {path}: {e} (install tzdata)");
                None
            }
        }
    }

    /// Checks offsets at instants: (unix time, expected offset).
    fn check(zone: &Zone, cases: &[(i64, i32)]) {
        for &(t, off) in cases {
            assert_eq!(
                zone.offset_at(t),
                off,
                "at {t} ({:?})",
                civil_from_days(t.div_euclid(DAY))
            );
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1900, 3, 1), -25_508);
        assert_eq!(days_from_civil(-1, 12, 31), -719_529);
        assert_eq!(ts(2026, 3, 29, 1, 0, 0), 1_774_746_000);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(-719_528), (0, 1, 1));
        assert_eq!(weekday(0), 4);
        assert_eq!(weekday(-1), 3);
        assert_eq!(weekday(days_from_civil(2026, 3, 29)), 0);
        assert_eq!(weekday(days_from_civil(1900, 1, 1)), 1);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(-4, 2), 29);
        let lens = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        assert!((1..=12).all(|m| days_in_month(2025, m) == lens[m as usize - 1]));
        // Walk a calendar day by day from 1600 to 2400 and check both ways.
        let (mut y, mut m, mut d) = (1600, 1, 1);
        let mut z = days_from_civil(1600, 1, 1);
        while y < 2400 {
            assert_eq!(civil_from_days(z), (y, m, d));
            assert_eq!(days_from_civil(y, m, d), z);
            z += 1;
            d += 1;
            if d > days_in_month(y, m) {
                (m, d) = (m % 12 + 1, 1);
                y += i64::from(m == 1);
            }
        }
        for z in [-10_000_000_000, -1_000_000, 1_000_000, 10_000_000_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn posix_fixed() {
        assert_eq!(posix_zone("UTC0"), Zone::Fixed(0));
        assert_eq!(posix_zone("<+0330>-3:30"), Zone::Fixed(12_600));
        assert_eq!(posix_zone("<-0230>2:30"), Zone::Fixed(-9_000));
        assert_eq!(posix_zone("IST-5:30"), Zone::Fixed(19_800));
        assert_eq!(posix_zone("XXX+1:02:03"), Zone::Fixed(-3_723));
        assert_eq!(posix_zone("<UTC+14>-14"), Zone::Fixed(50_400));
    }

    #[test]
    fn posix_errors() {
        for bad in [
            "",
            "EST",
            "ES5",
            "EST5 ",
            "EST25",
            "EST5:60",
            "EST-",
            "<AB>5",
            "<ABC5",
            "<A.C>5",
            "EST5ED",
            "EST5EDT,M3.2.0",
            "EST5EDT,M3.2.0,",
            "EST5EDT,M13.1.0,M11.1.0",
            "EST5EDT,M0.1.0,M11.1.0",
            "EST5EDT,M3.0.0,M11.1.0",
            "EST5EDT,M3.6.0,M11.1.0",
            "EST5EDT,M3.2.7,M11.1.0",
            "EST5EDT,M3.2,M11.1.0",
            "EST5EDT,J0,J365",
            "EST5EDT,J1,J366",
            "EST5EDT,366,0",
            "EST5EDT,M3.2.0/168,M11.1.0",
            "EST5EDT,M3.2.0,M11.1.0,",
            "EST5EDT,M3.2.0,M11.1.0x",
            "Europe/Paris",
            ":Europe/Paris",
            "../../etc/passwd",
        ] {
            let err = Zone::from_posix(bad).unwrap_err();
            assert!(err.contains("is not a POSIX TZ string"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn posix_rules() {
        let ny = posix_zone("EST5EDT,M3.2.0,M11.1.0");
        let (on, off) = (ts(2026, 3, 8, 7, 0, 0), ts(2026, 11, 1, 6, 0, 0));
        check(
            &ny,
            &[
                (on - 1, -18_000),
                (on, -14_400),
                (off - 1, -14_400),
                (off, -18_000),
            ],
        );
        // Without rules: the US ones.
        assert_eq!(posix_zone("EST5EDT"), ny);
        // Rules apply before 1970 too (1960: March 13, November 6).
        check(
            &ny,
            &[
                (ts(1960, 3, 13, 6, 59, 59), -18_000),
                (ts(1960, 3, 13, 7, 0, 0), -14_400),
            ],
        );
        check(
            &ny,
            &[
                (ts(1960, 11, 6, 5, 59, 59), -14_400),
                (ts(1960, 11, 6, 6, 0, 0), -18_000),
            ],
        );

        // Southern hemisphere: DST across the new year.
        let syd = posix_zone("AEST-10AEDT,M10.1.0,M4.1.0/3");
        let (off, on) = (ts(2026, 4, 4, 16, 0, 0), ts(2026, 10, 3, 16, 0, 0));
        check(
            &syd,
            &[
                (off - 1, 39_600),
                (off, 36_000),
                (on - 1, 36_000),
                (on, 39_600),
            ],
        );
        check(
            &syd,
            &[
                (ts(2026, 12, 31, 23, 0, 0), 39_600),
                (ts(2027, 1, 1, 0, 0, 0), 39_600),
            ],
        );

        // Half-hour DST (Lord Howe).
        let lh = posix_zone("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
        let (off, on) = (ts(2026, 4, 4, 15, 0, 0), ts(2026, 10, 3, 15, 30, 0));
        check(
            &lh,
            &[
                (off - 1, 39_600),
                (off, 37_800),
                (on - 1, 37_800),
                (on, 39_600),
            ],
        );

        // Negative rule times (Nuuk), and times past 24h (Israel).
        let nuuk = posix_zone("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
        let (on, off) = (ts(2026, 3, 29, 1, 0, 0), ts(2026, 10, 25, 1, 0, 0));
        check(
            &nuuk,
            &[
                (on - 1, -7_200),
                (on, -3_600),
                (off - 1, -3_600),
                (off, -7_200),
            ],
        );
        let il = posix_zone("IST-2IDT,M3.4.4/26,M10.5.0");
        let (on, off) = (ts(2026, 3, 27, 0, 0, 0), ts(2026, 10, 24, 23, 0, 0));
        check(
            &il,
            &[
                (on - 1, 7_200),
                (on, 10_800),
                (off - 1, 10_800),
                (off, 7_200),
            ],
        );

        // "Jn" never counts February 29; "n" does.
        let j = posix_zone("AAA0BBB,J60/0,J300/0");
        check(
            &j,
            &[
                (ts(2024, 3, 1, 0, 0, 0) - 1, 0),
                (ts(2024, 3, 1, 0, 0, 0), 3_600),
            ],
        );
        check(
            &j,
            &[
                (ts(2025, 3, 1, 0, 0, 0) - 1, 0),
                (ts(2025, 3, 1, 0, 0, 0), 3_600),
            ],
        );
        let n = posix_zone("AAA0BBB,59/0,300/0");
        check(
            &n,
            &[
                (ts(2024, 2, 29, 0, 0, 0) - 1, 0),
                (ts(2024, 2, 29, 0, 0, 0), 3_600),
            ],
        );
        check(
            &n,
            &[
                (ts(2025, 3, 1, 0, 0, 0) - 1, 0),
                (ts(2025, 3, 1, 0, 0, 0), 3_600),
            ],
        );
        // Week 5 is the last one: in February 2026 (4 Sundays), the 22nd.
        let w5 = posix_zone("AAA0BBB,M2.5.0/0,M11.1.0");
        check(
            &w5,
            &[
                (ts(2026, 2, 22, 0, 0, 0) - 1, 0),
                (ts(2026, 2, 22, 0, 0, 0), 3_600),
            ],
        );

        // DST all year (RFC 8536 3.3.1): it ends as it starts again.
        let always = posix_zone("EST5EDT,0/0,J365/25");
        for y in [1969, 2000, 2024, 2026, 2100] {
            for t in [
                ts(y, 1, 1, 0, 0, 0),
                ts(y, 1, 1, 5, 0, 0),
                ts(y, 6, 1, 0, 0, 0),
                ts(y, 12, 31, 23, 59, 59),
            ] {
                assert_eq!(always.offset_at(t), -14_400, "{y}");
            }
        }
        // Far away instants do not overflow.
        for t in [i64::MIN, i64::MIN + 1, -(1 << 52), 1 << 52, i64::MAX] {
            ny.offset_at(t);
            always.offset_at(t);
        }
    }

    /// TZif data: a v1 block from `times` (truncated to 32 bits) and, for
    /// version 2+, a v2 block and the footer. Types are (utoff, isdst).
    pub(crate) fn tzif_bytes(
        version: u8,
        trans: &[(i64, u8)],
        types: &[(i32, bool)],
        footer: &str,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        for wide in [false, true] {
            out.extend_from_slice(b"TZif");
            out.push(version);
            out.extend_from_slice(&[0; 15]);
            // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
            let leaps = 1;
            for n in [types.len(), types.len(), leaps, trans.len(), types.len(), 4] {
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            for &(t, _) in trans {
                if wide {
                    out.extend_from_slice(&t.to_be_bytes());
                } else {
                    out.extend_from_slice(&(t as i32).to_be_bytes());
                }
            }
            out.extend(trans.iter().map(|x| x.1));
            for &(off, dst) in types {
                out.extend_from_slice(&off.to_be_bytes());
                out.extend_from_slice(&[u8::from(dst), 0]);
            }
            out.extend_from_slice(b"ABC\0");
            // One leap second, ignored.
            out.extend_from_slice(if wide {
                &[0, 0, 0, 0, 4, 0x57, 0x70, 0x80][..]
            } else {
                &[4, 0x57, 0x70, 0x80]
            });
            out.extend_from_slice(&1u32.to_be_bytes());
            out.extend(types.iter().map(|_| 0));
            out.extend(types.iter().map(|_| 0));
            if version == 0 {
                return out;
            }
        }
        out.push(b'\n');
        out.extend_from_slice(footer.as_bytes());
        out.push(b'\n');
        out
    }

    #[test]
    fn tzif_v1() {
        // Before the first transition: the first standard-time type, even
        // though type 0 is DST. Times may be negative.
        let b = tzif_bytes(
            0,
            &[(-1_000_000, 1), (0, 0), (1_000, 2)],
            &[(7_200, true), (3_600, false), (-1_800, false)],
            "",
        );
        let z = Zone::from_tzif(&b).unwrap();
        check(
            &z,
            &[
                (i64::MIN, 3_600),
                (-1_000_001, 3_600),
                (-1_000_000, 3_600),
                (-1, 3_600),
                (0, 7_200),
            ],
        );
        check(&z, &[(999, 7_200), (1_000, -1_800), (i64::MAX, -1_800)]);
        // All types DST: type 0.
        let b = tzif_bytes(0, &[(0, 1)], &[(7_200, true), (3_600, true)], "");
        check(&Zone::from_tzif(&b).unwrap(), &[(-1, 7_200), (0, 3_600)]);
        // No transitions at all.
        let b = tzif_bytes(0, &[], &[(19_800, false)], "");
        check(
            &Zone::from_tzif(&b).unwrap(),
            &[(i64::MIN, 19_800), (0, 19_800), (i64::MAX, 19_800)],
        );
    }

    #[test]
    fn tzif_v2_footer() {
        let paris = "CET-1CEST,M3.5.0,M10.5.0/3";
        let (a, b) = (ts(2000, 3, 26, 1, 0, 0), ts(2000, 10, 29, 1, 0, 0));
        // Times past 2038 need the 64-bit block (the v1 one gets them wrong).
        let far = ts(2100, 1, 1, 0, 0, 0);
        let data = tzif_bytes(
            b'2',
            &[(a, 1), (b, 0), (far, 2)],
            &[(3_600, false), (7_200, true), (0, false)],
            "",
        );
        let z = Zone::from_tzif(&data).unwrap();
        check(
            &z,
            &[
                (a - 1, 3_600),
                (a, 7_200),
                (b, 3_600),
                (far - 1, 3_600),
                (far, 0),
                (i64::MAX, 0),
            ],
        );

        for v in [b'2', b'3', b'4'] {
            let data = tzif_bytes(
                v,
                &[(a, 1), (b, 0)],
                &[(3_600, false), (7_200, true)],
                paris,
            );
            let z = Zone::from_tzif(&data).unwrap();
            check(
                &z,
                &[(a - 1, 3_600), (a, 7_200), (b - 1, 7_200), (b, 3_600)],
            );
            // After the last transition: the footer's rule.
            let (on, off) = (ts(2026, 3, 29, 1, 0, 0), ts(2026, 10, 25, 1, 0, 0));
            check(
                &z,
                &[(on - 1, 3_600), (on, 7_200), (off - 1, 7_200), (off, 3_600)],
            );
            check(&z, &[(ts(2200, 7, 1, 0, 0, 0), 7_200)]);
            // The span right after the last transition starts there.
            assert_eq!(z.span(b + 10), (b, 3_600, ts(2001, 3, 25, 1, 0, 0)));
        }
        // Only a footer (as in slim files for fixed zones).
        let data = tzif_bytes(b'2', &[], &[(3_600, false)], paris);
        check(
            &Zone::from_tzif(&data).unwrap(),
            &[
                (ts(2026, 7, 1, 0, 0, 0), 7_200),
                (ts(2026, 1, 1, 0, 0, 0), 3_600),
            ],
        );
        // A footer that does not parse is ignored, as glibc does.
        for bad in ["CET-1CEST,M3.5.0", "\u{e9}", "CET-1CEST,M3.5.0,M10.5.0/3 "] {
            let data = tzif_bytes(
                b'2',
                &[(a, 1), (b, 0)],
                &[(3_600, false), (7_200, true)],
                bad,
            );
            check(
                &Zone::from_tzif(&data).unwrap(),
                &[(ts(2026, 7, 1, 0, 0, 0), 3_600)],
            );
        }
    }

    #[test]
    fn tzif_errors() {
        let good = tzif_bytes(
            b'2',
            &[(0, 1), (100, 0)],
            &[(3_600, false), (7_200, true)],
            "CET-1CEST,M3.5.0,M10.5.0/3",
        );
        assert!(Zone::from_tzif(&good).is_ok());
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "no TZif header"),
            (b"TZjf2".to_vec(), "no TZif header"),
            (
                tzif_bytes(b'2', &[(100, 1), (100, 0)], &[(0, false), (1, true)], ""),
                "bad transition",
            ),
            (
                tzif_bytes(b'2', &[(100, 1), (0, 0)], &[(0, false), (1, true)], ""),
                "bad transition",
            ),
            (
                tzif_bytes(b'2', &[(100, 2)], &[(0, false), (1, true)], ""),
                "bad transition",
            ),
            (tzif_bytes(b'2', &[], &[], ""), "no local time types"),
        ];
        // Huge counts: refused without allocating.
        let mut huge = good.clone();
        huge[32..36].copy_from_slice(&u32::MAX.to_be_bytes());
        cases.push((huge, "truncated"));
        for (data, msg) in cases {
            assert_eq!(Zone::from_tzif(&data), Err(format!("bad TZif data: {msg}")));
        }
        // Any prefix of good data: an error, or (footer cut) a zone.
        for n in 0..good.len() {
            let _ = Zone::from_tzif(&good[..n]);
        }
    }

    #[test]
    fn system_zones() {
        if let Some(z) = system_zone("Europe/Paris") {
            let (on, off) = (ts(2026, 3, 29, 1, 0, 0), ts(2026, 10, 25, 1, 0, 0));
            check(
                &z,
                &[(on - 1, 3_600), (on, 7_200), (off - 1, 7_200), (off, 3_600)],
            );
            // Paris Mean Time before 1911, the footer's rule in 2100.
            check(
                &z,
                &[
                    (ts(1900, 1, 1, 0, 0, 0), 561),
                    (ts(2100, 7, 1, 0, 0, 0), 7_200),
                ],
            );
            check(&z, &[(ts(2100, 1, 1, 0, 0, 0), 3_600), (-(1 << 59), 561)]);
            let Zone::Rules(r) = &z else { panic!() };
            assert_eq!(r.tail, posix("CET-1CEST,M3.5.0,M10.5.0/3"));
        }
        if let Some(z) = system_zone("America/New_York") {
            let (on, off) = (ts(2026, 3, 8, 7, 0, 0), ts(2026, 11, 1, 6, 0, 0));
            check(
                &z,
                &[
                    (on - 1, -18_000),
                    (on, -14_400),
                    (off - 1, -14_400),
                    (off, -18_000),
                ],
            );
            // Local mean time until 1883, then EST; 1943: war time.
            check(
                &z,
                &[
                    (ts(1883, 1, 1, 0, 0, 0), -17_762),
                    (ts(1900, 1, 1, 0, 0, 0), -18_000),
                ],
            );
            check(
                &z,
                &[
                    (ts(1943, 1, 1, 0, 0, 0), -14_400),
                    (ts(2200, 7, 1, 0, 0, 0), -14_400),
                ],
            );
        }
        if let Some(z) = system_zone("Australia/Lord_Howe") {
            check(
                &z,
                &[
                    (ts(2026, 1, 1, 0, 0, 0), 39_600),
                    (ts(2026, 7, 1, 0, 0, 0), 37_800),
                ],
            );
            let (off, on) = (ts(2026, 4, 4, 15, 0, 0), ts(2026, 10, 3, 15, 30, 0));
            check(
                &z,
                &[
                    (off - 1, 39_600),
                    (off, 37_800),
                    (on - 1, 37_800),
                    (on, 39_600),
                ],
            );
        }
        if let Some(z) = system_zone("Asia/Kolkata") {
            check(
                &z,
                &[
                    (ts(2026, 1, 1, 0, 0, 0), 19_800),
                    (ts(2200, 7, 1, 0, 0, 0), 19_800),
                ],
            );
            check(
                &z,
                &[
                    (ts(1943, 1, 1, 0, 0, 0), 23_400),
                    (ts(1850, 1, 1, 0, 0, 0), 21_208),
                ],
            );
        }
        if let Some(z) = system_zone("UTC") {
            check(&z, &[(i64::MIN, 0), (0, 0), (i64::MAX, 0)]);
        }
    }

    /// Every zone file parses, and so does every footer.
    #[test]
    fn all_system_zones() {
        fn walk(dir: &std::path::Path, n: &mut usize) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, n);
                    continue;
                }
                let data = std::fs::read(&path).unwrap();
                if !data.starts_with(b"TZif") {
                    continue;
                }
                let zone = Zone::from_tzif(&data).unwrap_or_else(|e| panic!("{path:?}: {e}"));
                let footer = data.rsplit(|&c| c == b'\n').nth(1).unwrap();
                if data[4] != 0 && !footer.is_empty() {
                    let s = core::str::from_utf8(footer).unwrap();
                    posix(s).unwrap_or_else(|| panic!("{path:?}: footer {s:?}"));
                    let Zone::Rules(r) = &zone else { panic!() };
                    assert!(r.tail.is_some(), "{path:?}");
                }
                *n += 1;
            }
        }
        let mut n = 0;
        walk(std::path::Path::new("/usr/share/zoneinfo"), &mut n);
        std::eprintln!("{n} zone files");
    }

    #[test]
    fn local_sources() {
        use LocalSource::{File, Posix};
        let f = |s: &str| File(s.to_string());
        let p = |s: &str| Posix(s.to_string());
        assert_eq!(local_source(None), f("/etc/localtime"));
        assert_eq!(local_source(Some("")), p("UTC0"));
        assert_eq!(local_source(Some(":")), f("/etc/localtime"));
        assert_eq!(local_source(Some(":/etc/zones/x")), f("/etc/zones/x"));
        assert_eq!(local_source(Some("/etc/zones/x")), f("/etc/zones/x"));
        assert_eq!(
            local_source(Some("Europe/Paris")),
            f("/usr/share/zoneinfo/Europe/Paris")
        );
        assert_eq!(
            local_source(Some(":Europe/Paris")),
            f("/usr/share/zoneinfo/Europe/Paris")
        );
        assert_eq!(local_source(Some("UTC")), f("/usr/share/zoneinfo/UTC"));
        assert_eq!(
            local_source(Some("Etc/GMT+5")),
            f("/usr/share/zoneinfo/Etc/GMT+5")
        );
        assert_eq!(
            local_source(Some("America/Port-au-Prince")),
            f("/usr/share/zoneinfo/America/Port-au-Prince")
        );
        for posix in [
            "CET-1CEST,M3.5.0,M10.5.0/3",
            "UTC0",
            "EST5EDT",
            "<+0330>-3:30",
            "GMT+5",
            "JST-9",
        ] {
            assert_eq!(local_source(Some(posix)), p(posix));
        }
        // ".." could leave the zoneinfo directory: handed back as a POSIX
        // string, which does not parse.
        for bad in ["../../etc/passwd", "Europe/../../x", ":..", "a/.."] {
            let LocalSource::Posix(s) = local_source(Some(bad)) else {
                panic!("{bad}")
            };
            assert!(Zone::from_posix(&s).is_err());
        }
        assert_eq!(local_source(Some("a/..b")), f("/usr/share/zoneinfo/a/..b"));
    }
}
