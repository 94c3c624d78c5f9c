//! A thin epoll wrapper: descriptors in, (token, readiness) out.

use super::fd::{Fd, RawFd};
use super::{Result, check};

pub const READABLE: u32 = libc::EPOLLIN as u32;
pub const WRITABLE: u32 = libc::EPOLLOUT as u32;

pub struct Epoll(Fd);

/// One readiness report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    pub token: u64,
    pub events: u32,
}

impl Epoll {
    pub fn new() -> Result<Epoll> {
        // SAFETY: plain flags; the fd is owned by Fd from here on.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Epoll(Fd::from_raw(fd)))
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, interest: u32) -> Result<()> {
        let mut ev = libc::epoll_event {
            events: interest,
            u64: token,
        };
        // SAFETY: ev is a valid epoll_event (ignored for DEL on Linux >= 2.6.9).
        check(unsafe { libc::epoll_ctl(self.0.raw(), op, fd, &mut ev) }).map(drop)
    }

    pub fn add(&self, fd: RawFd, token: u64, interest: u32) -> Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, interest)
    }

    pub fn modify(&self, fd: RawFd, token: u64, interest: u32) -> Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, interest)
    }

    pub fn delete(&self, fd: RawFd) -> Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Blocks until something is ready (no timeout: deadlines live in the
    /// timerfd, which is itself in the set). Fills `out`, returns the count.
    pub fn wait(&self, out: &mut [Ready]) -> Result<usize> {
        const MAX: usize = 64;
        // SAFETY: epoll_event is plain data; all-zero is a valid value.
        let mut evs: [libc::epoll_event; MAX] = unsafe { core::mem::zeroed() };
        let cap = out.len().min(MAX) as libc::c_int;
        // SAFETY: evs has room for `cap` events; -1 = wait indefinitely.
        let n = check(unsafe { libc::epoll_wait(self.0.raw(), evs.as_mut_ptr(), cap, -1) })?;
        for (slot, ev) in out.iter_mut().zip(&evs[..n as usize]) {
            *slot = Ready {
                token: ev.u64,
                events: ev.events,
            };
        }
        Ok(n as usize)
    }
}
