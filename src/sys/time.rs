//! The loop's clock and its single timerfd.
//!
//! CLOCK_BOOTTIME, not MONOTONIC: it keeps counting while an edge box is
//! suspended, so a 30 s health-check interval is 30 s of real time.

use super::fd::Fd;
use super::{Result, check};

const CLOCK: libc::clockid_t = libc::CLOCK_BOOTTIME;

/// Nanoseconds on the loop's clock.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec; BOOTTIME exists since Linux 2.6.39.
    unsafe { libc::clock_gettime(CLOCK, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall-clock time (CLOCK_REALTIME): seconds since the epoch and nanoseconds,
/// for log timestamps and cron, never for deadlines.
// time_t is i32 on 32-bit musl targets (armv7), where `from` is needed.
#[allow(clippy::useless_conversion)]
pub fn wall_clock() -> (i64, u32) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec; CLOCK_REALTIME always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (i64::from(ts.tv_sec), ts.tv_nsec as u32)
}

pub struct TimerFd(Fd);

impl TimerFd {
    pub fn new() -> Result<TimerFd> {
        // SAFETY: plain flags; the fd is owned by Fd from here on.
        let fd =
            check(unsafe { libc::timerfd_create(CLOCK, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) })?;
        Ok(TimerFd(Fd::from_raw(fd)))
    }

    pub fn fd(&self) -> &Fd {
        &self.0
    }

    /// Arms the timer to fire once at the absolute time `at_ns`, or disarms
    /// it with None. A deadline already past fires at once.
    pub fn set(&self, at_ns: Option<u64>) -> Result<()> {
        let value = match at_ns {
            Some(at) => {
                // An all-zero it_value would disarm: clamp to 1 ns.
                let at = at.max(1);
                libc::timespec {
                    tv_sec: (at / 1_000_000_000) as _,
                    tv_nsec: (at % 1_000_000_000) as libc::c_long,
                }
            }
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: spec is a valid itimerspec; old value not requested.
        check(unsafe {
            libc::timerfd_settime(
                self.0.raw(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                core::ptr::null_mut(),
            )
        })
        .map(drop)
    }

    /// Consumes the expiry count so the fd stops being readable.
    pub fn drain(&self) {
        // EAGAIN (a spurious wake-up) needs nothing either.
        let mut buf = [0u8; 8];
        let _ = self.0.read(&mut buf);
    }
}
