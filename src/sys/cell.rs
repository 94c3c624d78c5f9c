//! `Lock`: a global value behind a try-lock, for the few statics the loop
//! shares with code that has no handle on it (tug's own log records).
//! tug is one thread; unit tests are not, so the lock is a real one, but
//! it never waits: a busy lock (a re-entrant call, another test thread)
//! says None and the caller takes its fallback.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

pub struct Lock<T> {
    busy: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `with`, which holds the
// `busy` flag (acquire/release) for the whole access: one accessor at a
// time, whichever thread.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    pub const fn new(value: T) -> Lock<T> {
        Lock {
            busy: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` on the value, or None when the lock is held.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: `busy` was false and is now ours: no other reference to
        // the value exists until it is released below.
        let r = f(unsafe { &mut *self.value.get() });
        self.busy.store(false, Ordering::Release);
        Some(r)
    }
}
