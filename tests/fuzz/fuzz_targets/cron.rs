//! Cron expressions, POSIX TZ strings and TZif data: any bytes must give a
//! schedule, a zone or an error, never a panic or a hang; next_after must
//! move forward and stop at the instant it found.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::jobs::cron::Schedule;
use tug::jobs::timezone::Zone;

/// Checks next_after from `t` and from what it finds, a few times.
fn walk(s: &Schedule, mut t: i64, zone: &Zone) {
    for _ in 0..3 {
        let Some(next) = s.next_after(t, zone) else {
            return;
        };
        assert!(next > t, "{next} after {t}");
        // Nothing runs between t and next (within next_after's reach).
        if next <= 1 << 40 {
            assert_eq!(s.next_after(next - 1, zone), Some(next), "from {t}");
        }
        t = next;
    }
}

fuzz_target!(|data: &[u8]| {
    // "<expression>\0<TZif data>"; an instant from the last 8 bytes, most
    // often within 270 years of 1970.
    let (text, tzif) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut raw = [0; 8];
    let tail = &data[data.len().saturating_sub(8)..];
    raw[..tail.len()].copy_from_slice(tail);
    let raw = i64::from_le_bytes(raw);
    let t = if raw & 1 == 0 { raw >> 30 } else { raw };

    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let schedule = Schedule::parse(text).ok();
    if let Some(s) = &schedule {
        walk(s, t, &Zone::Utc);
    }
    if let Ok(zone) = Zone::from_posix(text) {
        zone.offset_at(t);
        let s = Schedule::parse("*/7 * * * *").unwrap();
        walk(&s, t, &zone);
    }
    if let Ok(zone) = Zone::from_tzif(tzif) {
        for at in [t, i64::MIN, -1, 0, i64::MAX] {
            zone.offset_at(at);
        }
        let s = schedule.unwrap_or_else(|| Schedule::parse("30 2 * * *").unwrap());
        walk(&s, t, &zone);
    }
});
