//! Calendar math, pure and shared: the proleptic Gregorian date math
//! (Howard Hinnant's days_from_civil and civil_from_days, right for
//! negative unix times too), time zones (`timezone`) and cron schedules
//! (`cron`). A leaf: the log stamps its lines with it, the config checks
//! cron expressions with it and the jobs engine arms timers with it, so
//! it lives below all three and depends on none of them.

pub mod cron;
pub mod timezone;

pub const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (`m` 1-12, `d` 1-31).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = i64::from((153 * ((m + 9) % 12) + 2) / 5 + d) - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// The date (year, month 1-12, day 1-31) `z` days after 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day of the week of a day since 1970-01-01 (0 = Sunday).
pub fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        _ => 30 + ((m + m / 8) & 1),
    }
}
