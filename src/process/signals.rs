//! Taking over signal handling, and remembering what to give back to
//! children.
//!
//! tug blocks every signal it handles and reads them from a signalfd. A
//! blocked mask is inherited across fork and exec, so each child must get
//! back the mask and dispositions tug itself was started with, or services
//! would start with SIGTERM blocked (the trap Rust's std falls into).

use crate::sys::Result;
use crate::sys::signal::{self, Disposition, MAX_SIGNAL, SigSet};
use alloc::vec::Vec;

/// Signals tug leaves alone: faults must kill tug with a core, not be
/// forwarded; SIGKILL/SIGSTOP cannot be caught; SIGTTIN/SIGTTOU/SIGPIPE are
/// ignored instead (tug must not stop on terminal I/O once its child owns
/// the terminal, nor die writing to a closed pipe).
const NOT_HANDLED: [i32; 12] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGPIPE,
];
const IGNORED_BY_TUG: [i32; 3] = [libc::SIGTTIN, libc::SIGTTOU, libc::SIGPIPE];

/// The signal state tug was started with.
pub struct Inherited {
    pub mask: SigSet,
    /// Dispositions tug changed, with their original values.
    pub dispositions: Vec<(i32, Disposition)>,
}

/// The set tug reads from its signalfd: every catchable signal except the
/// ones above. musl reserves 32..=34 for itself; sigaddset refuses them.
pub fn handled_set() -> SigSet {
    let mut set = SigSet::empty();
    for sig in 1..=MAX_SIGNAL {
        if !NOT_HANDLED.contains(&sig) {
            set.add(sig);
        }
    }
    set
}

/// Blocks `handled`, ignores the terminal-stop and pipe signals, and returns
/// the original state for children.
pub fn take_over(handled: &SigSet) -> Result<Inherited> {
    let mask = signal::set_mask(handled)?;
    let mut dispositions = Vec::with_capacity(IGNORED_BY_TUG.len());
    for sig in IGNORED_BY_TUG {
        dispositions.push((sig, signal::ignore(sig)?));
    }
    Ok(Inherited { mask, dispositions })
}

/// What every tug that runs processes does first: take over the signals,
/// open the loop over them, and (when not PID 1) become a subreaper so
/// orphans come back to tug to be reaped and waited for at shutdown.
pub fn become_init() -> Result<(Inherited, crate::event_loop::EventLoop)> {
    let handled = handled_set();
    let inherited = take_over(&handled)?;
    let lp = crate::event_loop::EventLoop::new(&handled)?;
    if crate::sys::process::getpid() != 1
        && let Err(e) = crate::sys::process::set_child_subreaper()
    {
        crate::log::warning!(
            "cannot become a child subreaper ({e}): orphans will not be reaped by tug"
        );
    }
    Ok((inherited, lp))
}

/// Whether a forwarded signal would reach nobody: signals that tug's own
/// parent ignored were ignored for tug too, so the kernel drops them
/// before they are queued. Used only to tell the user.
pub fn was_ignored(sig: i32) -> bool {
    signal::disposition(sig).is_ok_and(|d| d.is_ignore())
}
