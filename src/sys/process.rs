//! Process identity, reaping, pidfds and process-wide attributes.

use super::fd::{Fd, RawFd};
use super::{Errno, Result, check, check_long, retry};

pub fn getpid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

pub fn getppid() -> i32 {
    // SAFETY: getppid cannot fail.
    unsafe { libc::getppid() }
}

pub fn getuid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

pub fn getpgrp() -> i32 {
    // SAFETY: getpgrp cannot fail.
    unsafe { libc::getpgrp() }
}

/// Makes orphaned descendants reparent to us instead of to the namespace's
/// PID 1, so we can reap them and wait for them at shutdown (Linux 3.4).
pub fn set_child_subreaper() -> Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes a plain integer argument.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong) }).map(drop)
}

/// Asks the kernel to send us `sig` when our parent thread dies.
pub fn set_parent_death_signal(sig: i32) -> Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a plain integer argument.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong) }).map(drop)
}

/// A pidfd (Linux 5.3): readable once the process has exited, and a handle
/// that cannot be confused with a recycled pid when signalling.
pub fn pidfd_open(pid: i32) -> Result<Fd> {
    // SAFETY: pidfd_open takes a pid and flags; PIDFD_NONBLOCK is not needed
    // because we only poll it. Since 5.10 the fd is always CLOEXEC.
    let fd = check_long(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    Ok(Fd::from_raw(fd as RawFd))
}

pub fn pidfd_send_signal(pidfd: &Fd, sig: i32) -> Result<()> {
    // SAFETY: a null siginfo makes the kernel fill in a SI_USER record.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.raw(),
            sig,
            core::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
    .map(drop)
}

/// How a reaped child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    /// The code a shell would report: the exit code, or 128+N for signal N.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

/// Reaps one exited child, if any: Ok(Some) for a reaped child, Ok(None)
/// when children remain but none has exited, Err(ECHILD) when none remain.
pub fn reap_one() -> Result<Option<(i32, ExitStatus)>> {
    let mut status: libc::c_int = 0;
    let pid = retry(|| {
        // SAFETY: status is a valid int for waitpid to fill.
        check(unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) })
    })?;
    if pid == 0 {
        return Ok(None);
    }
    let how = if libc::WIFSIGNALED(status) {
        ExitStatus::Signaled(libc::WTERMSIG(status))
    } else {
        ExitStatus::Exited(libc::WEXITSTATUS(status))
    };
    Ok(Some((pid, how)))
}

/// Waits for child `pid` to exit and reaps it (blocking: for tests and
/// tools, never the loop).
pub fn wait_for(pid: i32) -> Result<ExitStatus> {
    let mut status: libc::c_int = 0;
    retry(|| {
        // SAFETY: status is a valid int for waitpid to fill.
        check(unsafe { libc::waitpid(pid, &mut status, 0) })
    })?;
    Ok(if libc::WIFSIGNALED(status) {
        ExitStatus::Signaled(libc::WTERMSIG(status))
    } else {
        ExitStatus::Exited(libc::WEXITSTATUS(status))
    })
}

/// Whether our process group owns the terminal on fd 0. A child is only
/// handed the foreground when we had it: stealing it from a shell that ran
/// us in the background would be rude.
pub fn owns_foreground() -> bool {
    if !super::fd::is_tty(0) {
        return false;
    }
    // SAFETY: tcgetpgrp only inspects fd 0.
    let fg = unsafe { libc::tcgetpgrp(0) };
    fg > 0 && fg == getpgrp()
}

/// True when errno says the process is gone (or not ours to signal).
pub fn is_gone(e: Errno) -> bool {
    e == Errno::ESRCH
}
