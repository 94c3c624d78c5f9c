//! Any number of one-shot deadlines behind the loop's single timerfd.
//!
//! A binary heap ordered by deadline; cancelling only forgets the id, and
//! stale heap entries are skipped when they surface (and swept when they
//! outnumber the live ones, so re-arming a timer forever cannot grow memory).
//! Ids only grow, so the live set is a Vec sorted by id for free: binary
//! search finds one, and it costs far less code than a BTreeMap.

use alloc::collections::BinaryHeap;
use alloc::vec::Vec;
use core::cmp::Reverse;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerId(u64);

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(u64, TimerId)>>,
    /// Live timers: (id, the caller's key), sorted by id.
    live: Vec<(TimerId, u64)>,
    next_id: u64,
}

impl Timers {
    /// Schedules `key` to come due at `at_ns`.
    pub fn add(&mut self, at_ns: u64, key: u64) -> TimerId {
        let id = TimerId(self.next_id);
        self.next_id += 1;
        self.heap.push(Reverse((at_ns, id)));
        self.live.push((id, key));
        id
    }

    pub fn cancel(&mut self, id: TimerId) {
        self.take(id);
        if self.heap.len() > 64 && self.heap.len() > 2 * self.live.len() {
            let live = &self.live;
            self.heap.retain(|Reverse((_, id))| find(live, *id).is_ok());
        }
    }

    /// Forgets live timer `id`; its key, if it was live.
    fn take(&mut self, id: TimerId) -> Option<u64> {
        let at = find(&self.live, id).ok()?;
        Some(self.live.remove(at).1)
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// The earliest live deadline.
    pub fn next_deadline(&mut self) -> Option<u64> {
        while let Some(Reverse((at, id))) = self.heap.peek() {
            if find(&self.live, *id).is_ok() {
                return Some(*at);
            }
            self.heap.pop();
        }
        None
    }

    /// Removes and returns one timer due at or before `now_ns`, earliest first.
    pub fn pop_due(&mut self, now_ns: u64) -> Option<u64> {
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if at > now_ns {
                return None;
            }
            self.heap.pop();
            if let Some(key) = self.take(id) {
                return Some(key);
            }
        }
        None
    }
}

/// Where `id` is (or would be) in the sorted live set.
fn find(live: &[(TimerId, u64)], id: TimerId) -> Result<usize, usize> {
    live.binary_search_by_key(&id, |e| e.0)
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
    fn rearming_forever_keeps_the_heap_bounded() {
        let mut t = Timers::default();
        let mut id = t.add(1, 0);
        for i in 0..100_000 {
            t.cancel(id);
            id = t.add(i, 0);
        }
        assert!(t.heap.len() <= 130, "heap grew to {}", t.heap.len());
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
