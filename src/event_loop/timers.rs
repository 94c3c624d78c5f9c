//! Any number of one-shot deadlines behind the loop's single timerfd.
//!
//! One unsorted Vec of (deadline, id, key): the earliest is found by a
//! scan. tug holds a few timers a job (a health check, a restart delay, a
//! stop's grace), so a scan of even a thousand entries costs less than a
//! heap's bookkeeping, and it is far less code (no heap, no stale entries
//! to skip or sweep: a cancelled timer is simply removed).

use alloc::vec::Vec;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerId(u64);

#[derive(Default)]
pub struct Timers {
    /// Live timers: (deadline, id, the caller's key).
    live: Vec<(u64, TimerId, u64)>,
    next_id: u64,
}

impl Timers {
    /// Schedules `key` to come due at `at_ns`.
    pub fn add(&mut self, at_ns: u64, key: u64) -> TimerId {
        let id = TimerId(self.next_id);
        self.next_id += 1;
        self.live.push((at_ns, id, key));
        id
    }

    pub fn cancel(&mut self, id: TimerId) {
        if let Some(i) = self.live.iter().position(|t| t.1 == id) {
            self.live.swap_remove(i);
        }
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Where the earliest live timer is (ties: the first added).
    fn earliest(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, t) in self.live.iter().enumerate() {
            if best.is_none_or(|b| (t.0, t.1) < (self.live[b].0, self.live[b].1)) {
                best = Some(i);
            }
        }
        best
    }

    /// The earliest live deadline.
    pub fn next_deadline(&mut self) -> Option<u64> {
        self.earliest().map(|i| self.live[i].0)
    }

    /// Removes and returns one timer due at or before `now_ns`, earliest first.
    pub fn pop_due(&mut self, now_ns: u64) -> Option<u64> {
        let i = self.earliest().filter(|&i| self.live[i].0 <= now_ns)?;
        Some(self.live.swap_remove(i).2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_in_deadline_order() {
        let mut t = Timers::default();
        t.add(30, 3);
        t.add(10, 1);
        t.add(20, 2);
        assert_eq!(t.next_deadline(), Some(10));
        assert_eq!(t.pop_due(25), Some(1));
        assert_eq!(t.pop_due(25), Some(2));
        assert_eq!(t.pop_due(25), None);
        assert_eq!(t.next_deadline(), Some(30));
    }

    #[test]
    fn cancelled_timers_never_fire() {
        let mut t = Timers::default();
        let a = t.add(10, 1);
        t.add(20, 2);
        t.cancel(a);
        assert_eq!(t.next_deadline(), Some(20));
        assert_eq!(t.pop_due(100), Some(2));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn rearming_forever_keeps_memory_bounded() {
        let mut t = Timers::default();
        let mut id = t.add(1, 0);
        for i in 0..100_000 {
            t.cancel(id);
            id = t.add(i, 0);
        }
        assert_eq!(t.live.len(), 1);
    }

    #[test]
    fn thousands_of_timers() {
        let mut t = Timers::default();
        for i in (0..5000u64).rev() {
            t.add(i * 7 % 5000, i);
        }
        let mut last = 0;
        let mut n = 0;
        while let Some(at) = t.next_deadline() {
            assert!(at >= last);
            last = at;
            t.pop_due(at).unwrap();
            n += 1;
        }
        assert_eq!(n, 5000);
    }
}
