//! The one loop: an epoll set over a signalfd, ONE timerfd and whatever
//! descriptors the rest of tug registers (pidfds now; sockets later).
//!
//! The loop does not know what a source means: it hands back `Event`s and
//! the owner dispatches on them. Registering a new kind of source is a
//! `register` call with a token of the owner's choosing; the core never
//! changes. When nothing is due the loop blocks in epoll_wait with no
//! timeout, so an idle tug makes no wake-ups at all.

mod timers;

use crate::sys::epoll::{self, Epoll, Ready};
use crate::sys::fd::RawFd;
use crate::sys::signal::{SigInfo, SigSet, SignalFd};
use crate::sys::time::{TimerFd, now_ns};
use crate::sys::{Errno, Result};
use alloc::vec::Vec;
pub use timers::TimerId;
use timers::Timers;

pub use epoll::{READABLE, WRITABLE};

/// Tokens at the top of the range are the loop's own.
const TOKEN_SIGNALS: u64 = u64::MAX;
const TOKEN_TIMER: u64 = u64::MAX - 1;
/// Owners may use any token below this.
pub const TOKEN_LIMIT: u64 = u64::MAX - 1;

/// At most this many signals are taken per turn; the rest stay queued in
/// the kernel (the signalfd stays readable), so a signal storm is bounded.
const SIGNALS_PER_TURN: usize = 64;

#[derive(Debug, Clone, Copy)]
pub enum Event {
    Signal(SigInfo),
    /// A timer came due; the key given to `add_timer`.
    Timer(u64),
    /// A registered descriptor is ready.
    Io(Ready),
}

pub struct EventLoop {
    epoll: Epoll,
    signals: SignalFd,
    timerfd: TimerFd,
    timers: Timers,
    /// The deadline the timerfd is armed to, to skip redundant re-arming.
    armed: Option<u64>,
    /// Turns that returned from epoll_wait: tug's own wake-up count.
    wakeups: u64,
}

impl EventLoop {
    /// `signals` must already be blocked in the thread's mask.
    pub fn new(signals: &SigSet) -> Result<EventLoop> {
        let lp = EventLoop {
            epoll: Epoll::new()?,
            signals: SignalFd::new(signals)?,
            timerfd: TimerFd::new()?,
            timers: Timers::default(),
            armed: None,
            wakeups: 0,
        };
        lp.epoll
            .add(lp.signals.fd().raw(), TOKEN_SIGNALS, READABLE)?;
        lp.epoll.add(lp.timerfd.fd().raw(), TOKEN_TIMER, READABLE)?;
        Ok(lp)
    }

    pub fn register(&self, fd: RawFd, token: u64, interest: u32) -> Result<()> {
        debug_assert!(token < TOKEN_LIMIT);
        self.epoll.add(fd, token, interest)
    }

    pub fn reregister(&self, fd: RawFd, token: u64, interest: u32) -> Result<()> {
        self.epoll.modify(fd, token, interest)
    }

    pub fn deregister(&self, fd: RawFd) -> Result<()> {
        self.epoll.delete(fd)
    }

    pub fn now(&self) -> u64 {
        now_ns()
    }

    pub fn add_timer(&mut self, at_ns: u64, key: u64) -> TimerId {
        self.timers.add(at_ns, key)
    }

    pub fn cancel_timer(&mut self, id: TimerId) {
        self.timers.cancel(id);
    }

    /// Timers still pending.
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    pub fn wakeups(&self) -> u64 {
        self.wakeups
    }

    /// Blocks until at least one event is available and appends the events
    /// of this turn to `out`, in the order: signals, due timers, I/O.
    pub fn turn(&mut self, out: &mut Vec<Event>) -> Result<()> {
        let next = self.timers.next_deadline();
        if next != self.armed {
            self.timerfd.set(next)?;
            self.armed = next;
        }
        let mut ready = [Ready {
            token: 0,
            events: 0,
        }; 64];
        let n = match self.epoll.wait(&mut ready) {
            Err(Errno::EINTR) => 0,
            other => other?,
        };
        self.wakeups += 1;
        let mut io = Vec::new();
        for r in &ready[..n] {
            match r.token {
                TOKEN_SIGNALS => {
                    for _ in 0..SIGNALS_PER_TURN {
                        match self.signals.read()? {
                            Some(info) => out.push(Event::Signal(info)),
                            None => break,
                        }
                    }
                }
                TOKEN_TIMER => {
                    self.timerfd.drain();
                    // The kernel fired the one-shot timer: it is disarmed.
                    self.armed = None;
                    let now = now_ns();
                    while let Some(key) = self.timers.pop_due(now) {
                        out.push(Event::Timer(key));
                    }
                }
                _ => io.push(Event::Io(*r)),
            }
        }
        out.append(&mut io);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_through_the_timerfd_in_order() {
        let mut lp = EventLoop::new(&SigSet::empty()).unwrap();
        let now = lp.now();
        lp.add_timer(now + 30_000_000, 2);
        lp.add_timer(now, 1);
        let cancelled = lp.add_timer(now + 10_000_000, 99);
        lp.cancel_timer(cancelled);
        let mut got = Vec::new();
        while got.len() < 2 {
            let mut evs = Vec::new();
            lp.turn(&mut evs).unwrap();
            for e in evs {
                match e {
                    Event::Timer(k) => got.push((k, lp.now() - now)),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(got[0].0, 1);
        assert_eq!(got[1].0, 2);
        assert!(got[1].1 >= 30_000_000, "fired early: {} ns", got[1].1);
        assert_eq!(lp.pending_timers(), 0);
    }

    #[test]
    fn signals_arrive_as_events() {
        let mut set = SigSet::empty();
        set.add(libc::SIGUSR2);
        // Block on this thread only, then signal this thread only: other
        // test threads keep the default disposition.
        let old = crate::sys::signal::set_mask(&set).unwrap();
        let mut lp = EventLoop::new(&set).unwrap();
        crate::sys::signal::raise_in_this_thread(libc::SIGUSR2).unwrap();
        let mut evs = Vec::new();
        lp.turn(&mut evs).unwrap();
        crate::sys::signal::set_mask(&old).unwrap();
        assert!(
            matches!(
                evs[..],
                [Event::Signal(SigInfo {
                    signo: libc::SIGUSR2,
                    ..
                })]
            ),
            "{evs:?}"
        );
    }
}
