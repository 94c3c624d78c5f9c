//! Pacing for everything discovery sends: backoff with jitter after
//! failures, one warning per failure streak, and a request-rate limit for
//! watches.
//!
//! Decisions:
//! - Backoff: 250 ms doubling to 30 s, each delay drawn from [d/2, d]
//!   ("equal jitter"): never below 125 ms, so no failure can spin the loop,
//!   and many tugs restarted together by one agent restart spread out.
//! - Jitter comes from xorshift64, seeded per Discovery from getpid and the
//!   wall clock; each task gets its own stream so tests are deterministic.
//! - A watch may start at most `BURST` requests at once and 2 per second
//!   after that (GCRA): a blocking query whose index churns without the
//!   data changing cannot turn into a busy loop against the agent.

use crate::log::{info, warning};
use alloc::string::String;

pub const BACKOFF_MIN_NS: u64 = 250_000_000;
pub const BACKOFF_MAX_NS: u64 = 30_000_000_000;

/// xorshift64: tiny, and good enough to decorrelate retries.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // The all-zero state is xorshift's one fixed point.
        Rng(seed | 1 << 63)
    }

    /// A seed that differs between processes and between runs.
    pub fn from_environment() -> Rng {
        let (secs, nanos) = crate::sys::time::wall_clock();
        let pid = crate::sys::process::getpid() as u64;
        Rng::new(pid << 32 ^ (secs as u64).rotate_left(20) ^ u64::from(nanos))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The delay before retry number `failures` (1 = the first retry).
pub fn backoff_delay(failures: u32, rng: &mut Rng) -> u64 {
    let exp = failures.saturating_sub(1).min(16);
    let ceiling = (BACKOFF_MIN_NS << exp).min(BACKOFF_MAX_NS);
    let half = ceiling / 2;
    half + rng.next() % (half + 1)
}

/// A task's failure streak: when it may try again and what went wrong.
#[derive(Debug)]
pub struct Retry {
    rng: Rng,
    failures: u32,
    /// No request before this time (a backoff is running).
    until: Option<u64>,
    /// The reason of the latest failure while the streak lasts.
    pub error: Option<String>,
}

impl Retry {
    pub fn new(seed: u64) -> Retry {
        Retry {
            rng: Rng::new(seed),
            failures: 0,
            until: None,
            error: None,
        }
    }

    /// Records a failure of `what` and starts a backoff. Only the first
    /// failure of a streak is a warning: a dead agent must not flood the
    /// log with one line per retry.
    pub fn failed(&mut self, now: u64, what: &str, reason: &str) {
        self.failures += 1;
        if self.failures == 1 {
            warning!("{what} failed: {reason} (retrying with backoff)");
        }
        let delay = backoff_delay(self.failures, &mut self.rng);
        crate::log::debug!(
            "{what} failed ({} in a row): {reason}; next try in {}",
            self.failures,
            crate::duration::display(delay / 1_000_000 * 1_000_000)
        );
        self.until = Some(now + delay);
        self.error = Some(String::from(reason));
    }

    /// Ends a streak (logging the recovery if there was one).
    pub fn succeeded(&mut self, what: &str) {
        if self.failures > 0 {
            info!("{what} succeeded after {} failed attempts", self.failures);
        }
        self.failures = 0;
        self.until = None;
        self.error = None;
    }

    /// The end of the running backoff, if it is still running at `now`.
    pub fn waiting(&self, now: u64) -> Option<u64> {
        self.until.filter(|&t| t > now)
    }

    /// Drops the running backoff (shutdown: one last attempt, now).
    pub fn skip_wait(&mut self) {
        self.until = None;
    }

    #[cfg(test)]
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Requests a watch may start back to back before the rate applies.
pub const BURST: u64 = 3;
/// One request per this interval once the burst is spent.
pub const RATE_INTERVAL_NS: u64 = 500_000_000;

/// GCRA: `tat` is when the bucket would be empty of debt.
#[derive(Debug, Default)]
pub struct RateLimit {
    tat: u64,
}

impl RateLimit {
    /// The earliest time the next request may start.
    pub fn ready_at(&self) -> u64 {
        self.tat.saturating_sub((BURST - 1) * RATE_INTERVAL_NS)
    }

    /// Records a request started at `now` (which must be >= `ready_at`).
    pub fn take(&mut self, now: u64) {
        self.tat = self.tat.max(now) + RATE_INTERVAL_NS;
    }
}

/// A watch's gate before each request: its backoff, then its rate. None:
/// send now (the request is counted); Some: ask again at that time.
pub fn watch_gate(retry: &Retry, rate: &mut RateLimit, now: u64) -> Option<u64> {
    if let Some(t) = retry.waiting(now) {
        return Some(t);
    }
    let ready = rate.ready_at();
    if ready > now {
        return Some(ready);
    }
    rate.take(now);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn backoff_doubles_within_jittered_bounds_up_to_the_cap() {
        let mut rng = Rng::new(42);
        for failures in 1..40 {
            let ceiling = (BACKOFF_MIN_NS << (failures - 1).min(16)).min(BACKOFF_MAX_NS);
            let mut seen = Vec::new();
            for _ in 0..200 {
                let d = backoff_delay(failures, &mut rng);
                assert!(d >= ceiling / 2 && d <= ceiling, "{failures}: {d}");
                seen.push(d);
            }
            seen.sort_unstable();
            seen.dedup();
            assert!(seen.len() > 150, "jitter must spread the delays");
        }
        assert!(backoff_delay(1, &mut rng) >= 125_000_000);
        assert!(backoff_delay(u32::MAX, &mut rng) <= BACKOFF_MAX_NS);
    }

    #[test]
    fn seeds_give_different_streams() {
        let (mut a, mut b) = (Rng::new(1), Rng::new(2));
        assert_ne!(a.next(), b.next());
        let mut z = Rng::new(0);
        assert_ne!(z.next(), 0);
        let mut e = Rng::from_environment();
        assert_ne!(e.next(), e.next());
    }

    #[test]
    fn retry_streaks() {
        let mut r = Retry::new(7);
        assert_eq!(r.waiting(0), None);
        r.failed(1000, "test op", "refused");
        let until = r.waiting(1000).unwrap();
        assert!(until >= 1000 + BACKOFF_MIN_NS / 2);
        assert_eq!(r.waiting(until), None);
        r.failed(until, "test op", "refused again");
        assert_eq!(r.failures(), 2);
        assert_eq!(r.error.as_deref(), Some("refused again"));
        r.skip_wait();
        assert_eq!(r.waiting(until), None);
        r.succeeded("test op");
        assert_eq!((r.failures(), r.error.is_none()), (0, true));
    }

    #[test]
    fn rate_limit_allows_a_burst_then_two_per_second() {
        let mut rl = RateLimit::default();
        let start = 10_000_000_000u64;
        let mut now = start;
        let mut starts = Vec::new();
        while now < start + 10_000_000_000 {
            now = now.max(rl.ready_at());
            rl.take(now);
            starts.push(now);
        }
        assert_eq!(&starts[..3], &[start, start, start]);
        // 10 s of a watch whose every answer is immediate.
        assert!(starts.len() <= 3 + 20, "{}", starts.len());
        // An idle watch has its burst back.
        let later = now + 60_000_000_000;
        assert!(rl.ready_at() <= later);
        rl.take(later);
        rl.take(later);
        assert!(rl.ready_at() <= later);
    }
}
