//! The one reaper and the one leftover sweep of `tug --` and
//! `tug --config`.
//!
//! Contract: `reap` collects every exited child (SIGCHLD coalesces: a
//! thousand exits can arrive as one record, so it loops until the kernel
//! has nothing left) and says whether any child is left. `Sweep` ends the
//! leftovers: SIGTERM to every descendant (but one spared pid), SIGKILL to
//! whatever is left when the grace period ends, and SIGKILL again to
//! anything found after that (descendants may fork after the last walk).
//! The caller owns the timer's key and tells `Sweep` when it fired.

use super::tree::{self, Signalled};
use crate::event_loop::{EventLoop, TimerId};
use crate::log::warning;
use crate::sys::Errno;
use crate::sys::process::{self as proc, ExitStatus};

/// Whether children are left after a `reap`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Left {
    /// Some still run.
    Some,
    /// None at all (ECHILD).
    None,
    /// waitpid failed otherwise: the error is the caller's to report.
    Failed(Errno),
}

/// Reaps every exited child, calling `on` for each, until none has exited.
pub fn reap(on: &mut dyn FnMut(i32, ExitStatus)) -> Left {
    loop {
        match proc::reap_one() {
            Ok(Some((pid, status))) => on(pid, status),
            Ok(None) => return Left::Some,
            Err(Errno::ECHILD) => return Left::None,
            Err(e) => return Left::Failed(e),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Idle,
    /// SIGTERM sent; the grace timer is armed.
    Terminating,
    /// The grace period is over: whatever is found gets SIGKILL.
    Killing,
}

/// The leftover sweep.
pub struct Sweep {
    grace_ns: u64,
    key: u64,
    timer: Option<TimerId>,
    phase: Phase,
    /// What a failed /proc walk costs, for its warning.
    unreached: &'static str,
}

impl Sweep {
    /// `key` is the grace timer's key; `unreached` ends the warning when
    /// /proc cannot be read ("leftover processes are not stopped").
    pub fn new(grace_ns: u64, key: u64, unreached: &'static str) -> Sweep {
        Sweep {
            grace_ns,
            key,
            timer: None,
            phase: Phase::Idle,
            unreached,
        }
    }

    pub fn started(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// SIGTERM to every descendant but `spare` (0: none), and the grace
    /// timer. Once only.
    pub fn begin(&mut self, lp: &mut EventLoop, spare: i32) {
        if self.phase != Phase::Idle {
            return;
        }
        self.phase = Phase::Terminating;
        let deadline = lp.now().saturating_add(self.grace_ns);
        self.timer = Some(lp.add_timer(deadline, self.key));
        self.signal(libc::SIGTERM, spare);
    }

    /// The grace timer fired: SIGKILL to everything left, said out loud.
    pub fn expired(&mut self) {
        self.timer = None;
        self.phase = Phase::Killing;
        let hit = self.signal(libc::SIGKILL, 0);
        if let Some(msg) = tree::grace_kill_message(self.grace_ns, &hit) {
            warning!("{msg}");
        }
    }

    /// After a reap that left children: past the grace period, kill again
    /// (they may have forked since the last walk).
    pub fn children_left(&mut self) {
        if self.phase == Phase::Killing {
            self.signal(libc::SIGKILL, 0);
        }
    }

    /// Nothing is left: the timer has nothing to wait for.
    pub fn finish(&mut self, lp: &mut EventLoop) {
        if let Some(id) = self.timer.take() {
            lp.cancel_timer(id);
        }
    }

    fn signal(&self, sig: i32, spare: i32) -> Signalled {
        let hit = tree::signal_descendants(sig, spare);
        if let Signalled::Nobody(e) = &hit {
            warning!("cannot read /proc ({e}): {}", self.unreached);
        }
        hit
    }
}
