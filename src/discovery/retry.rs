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
//! - Watch requests are paced by GCRA (a token bucket without a clock
//!   thread): `burst` back to back, then one per `interval`. A request
//!   waits at most `interval` after the one before it started, so pacing
//!   bounds the load on the agent without ever holding a change back for
//!   long, and a request after a quiet `interval` does not wait at all.
//! - Consul's watch is a blocking query per result: `CONSUL_WATCH` (burst
//!   2, one per 200 ms) lets each change of a rolling deploy through at
//!   once while changes are 200 ms apart or more, coalesces closer ones,
//!   and reflects every change within 200 ms of it. It costs the agent at
//!   most 2 + 5·T queries in T seconds per watch (5 a second), and only
//!   when answers come back that fast: an agent that returns at once
//!   (index churning without change, or going backwards) gets no more.
//!   Consul asks clients to rate-limit blocking loops; 5 a second is the
//!   price of the 200 ms bound.
//! - etcd's watch is a stream that carries every change; its requests are
//!   the reads that (re)open it, so `ETCD_WATCH` (burst 3, one per 500
//!   ms) only has to stop a stream that keeps closing from spinning.

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

/// GCRA: `tat` is when the bucket would be empty of debt.
#[derive(Debug)]
pub struct RateLimit {
    tat: u64,
    /// Requests that may start back to back (at least 1).
    burst: u64,
    /// One request per this interval once the burst is spent; also the
    /// longest a request ever waits after the start of the one before.
    interval: u64,
}

/// A Consul watch: its blocking queries (see the module doc).
pub const CONSUL_WATCH: (u64, u64) = (2, 200_000_000);
/// An etcd watch: the range reads and stream (re)opens.
pub const ETCD_WATCH: (u64, u64) = (3, 500_000_000);

impl RateLimit {
    pub fn new((burst, interval): (u64, u64)) -> RateLimit {
        RateLimit {
            tat: 0,
            burst: burst.max(1),
            interval,
        }
    }

    /// The earliest time the next request may start.
    pub fn ready_at(&self) -> u64 {
        self.tat.saturating_sub((self.burst - 1) * self.interval)
    }

    /// Records a request started at `now` (which must be >= `ready_at`).
    /// Then `tat <= now + burst * interval`, so the next `ready_at` is at
    /// most `now + interval`: the bound on any wait.
    pub fn take(&mut self, now: u64) {
        self.tat = self.tat.max(now) + self.interval;
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

    /// Starts of a watch whose every answer is immediate, over 10 s.
    fn hot_loop(rl: &mut RateLimit, start: u64) -> Vec<u64> {
        let mut now = start;
        let mut starts = Vec::new();
        while now < start + 10_000_000_000 {
            now = now.max(rl.ready_at());
            rl.take(now);
            starts.push(now);
        }
        starts
    }

    #[test]
    fn etcd_pacing_allows_a_burst_then_two_per_second() {
        let mut rl = RateLimit::new(ETCD_WATCH);
        let start = 10_000_000_000u64;
        let starts = hot_loop(&mut rl, start);
        assert_eq!(&starts[..3], &[start, start, start]);
        assert!(starts.len() <= 3 + 20, "{}", starts.len());
        // An idle watch has its burst back.
        let later = starts[starts.len() - 1] + 60_000_000_000;
        assert!(rl.ready_at() <= later);
        rl.take(later);
        rl.take(later);
        assert!(rl.ready_at() <= later);
    }

    #[test]
    fn consul_pacing_is_at_most_five_queries_a_second() {
        let mut rl = RateLimit::new(CONSUL_WATCH);
        let start = 10_000_000_000u64;
        let starts = hot_loop(&mut rl, start);
        assert_eq!(&starts[..2], &[start, start]);
        // 2 + 5·T in T seconds, and the spacing once the burst is spent.
        assert!(starts.len() <= 2 + 50, "{}", starts.len());
        assert!(starts.len() >= 50, "{}", starts.len());
        for w in starts[2..].windows(2) {
            assert_eq!(w[1] - w[0], 200_000_000);
        }
    }

    /// Whatever the answers' timing: no request waits longer than the
    /// interval after the start of the one before, and none waits at all
    /// once an interval has passed since then.
    #[test]
    fn pacing_waits_at_most_one_interval_and_never_after_a_quiet_one() {
        for cfg in [CONSUL_WATCH, ETCD_WATCH] {
            let interval = cfg.1;
            let mut rl = RateLimit::new(cfg);
            let mut rng = Rng::new(99);
            let mut prev_start = 5_000_000_000u64;
            rl.take(prev_start);
            let mut waited = 0;
            for _ in 0..20_000 {
                // The answer comes 0..1.5 intervals after the request (an
                // agent answering at once, or a change arriving).
                let asked = prev_start + rng.next() % (interval * 3 / 2);
                let start = asked.max(rl.ready_at());
                rl.take(start);
                assert!(
                    start <= asked.max(prev_start + interval),
                    "waited past the interval"
                );
                if asked >= prev_start + interval {
                    assert_eq!(start, asked, "a quiet interval: no wait");
                }
                waited += u64::from(start > asked);
                prev_start = start;
            }
            assert!(waited > 1000, "{waited}: the pacing did pace");
        }
    }
}
