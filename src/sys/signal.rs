//! Signal sets, masks, dispositions and the signalfd.

use super::fd::Fd;
use super::{Errno, Result, check, retry};
use core::mem::MaybeUninit;

/// The highest signal number on Linux (SIGRTMAX).
pub const MAX_SIGNAL: i32 = 64;

#[derive(Clone, Copy)]
pub struct SigSet(libc::sigset_t);

impl SigSet {
    pub fn empty() -> SigSet {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset fully initialises the set it is given.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            SigSet(set.assume_init())
        }
    }

    pub fn add(&mut self, sig: i32) {
        // SAFETY: self.0 is an initialised set; an out-of-range signal only
        // makes sigaddset return EINVAL, which we ignore on purpose.
        unsafe { libc::sigaddset(&mut self.0, sig) };
    }

    pub(super) fn as_ptr(&self) -> *const libc::sigset_t {
        &self.0
    }
}

/// Replaces the thread's signal mask, returning the previous one.
pub fn set_mask(mask: &SigSet) -> Result<SigSet> {
    let mut old = SigSet::empty();
    // SAFETY: both pointers refer to valid sigset_t values.
    check(unsafe { libc::sigprocmask(libc::SIG_SETMASK, mask.as_ptr(), &mut old.0) })?;
    Ok(old)
}

/// A saved signal disposition, to be put back in a child before exec.
#[derive(Clone, Copy)]
pub struct Disposition(libc::sigaction);

impl Disposition {
    pub fn is_ignore(&self) -> bool {
        self.0.sa_sigaction == libc::SIG_IGN
    }

    pub(super) fn as_ptr(&self) -> *const libc::sigaction {
        &self.0
    }
}

/// Sets `sig` to SIG_IGN and returns what it was.
pub fn ignore(sig: i32) -> Result<Disposition> {
    // SAFETY: an all-zero sigaction is valid (SIG_DFL, empty mask, no flags).
    let mut act: libc::sigaction = unsafe { core::mem::zeroed() };
    act.sa_sigaction = libc::SIG_IGN;
    // SAFETY: as above; sigaction fills `old` completely on success.
    let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: both pointers are valid sigaction structs.
    check(unsafe { libc::sigaction(sig, &act, &mut old) })?;
    Ok(Disposition(old))
}

/// Reads `sig`'s current disposition without changing it.
pub fn disposition(sig: i32) -> Result<Disposition> {
    // SAFETY: an all-zero sigaction is a valid output buffer.
    let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: a null new action only queries; `old` is valid.
    check(unsafe { libc::sigaction(sig, core::ptr::null(), &mut old) })?;
    Ok(Disposition(old))
}

/// Sends `sig` to a process (pid > 0) or a process group (pid < 0).
pub fn kill(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    check(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// Sends `sig` to the calling thread only (tests run on many threads).
#[cfg(test)]
pub fn raise_in_this_thread(sig: i32) -> Result<()> {
    // SAFETY: tgkill with our own pid and tid has no memory preconditions.
    check(
        unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), libc::gettid(), sig) }
            as libc::c_int,
    )
    .map(drop)
}

/// What a signal record from the signalfd says.
#[derive(Clone, Copy, Debug)]
pub struct SigInfo {
    pub signo: i32,
    /// The sender's pid (0 for the kernel).
    pub pid: u32,
}

/// A non-blocking, CLOEXEC signalfd. The signals must be blocked first.
pub struct SignalFd(Fd);

impl SignalFd {
    pub fn new(set: &SigSet) -> Result<SignalFd> {
        // SAFETY: set points to a valid sigset_t; -1 asks for a new fd.
        let fd = check(unsafe {
            libc::signalfd(-1, set.as_ptr(), libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
        })?;
        Ok(SignalFd(Fd::from_raw(fd)))
    }

    pub fn fd(&self) -> &Fd {
        &self.0
    }

    /// The next pending signal, or None when there is none.
    pub fn read(&self) -> Result<Option<SigInfo>> {
        let mut info = MaybeUninit::<libc::signalfd_siginfo>::uninit();
        let size = core::mem::size_of::<libc::signalfd_siginfo>();
        let n = retry(|| {
            // SAFETY: info is a writable buffer of exactly `size` bytes.
            let n = unsafe { libc::read(self.0.raw(), info.as_mut_ptr().cast(), size) };
            if n < 0 {
                Err(Errno::last())
            } else {
                Ok(n as usize)
            }
        });
        match n {
            Err(Errno::EAGAIN) => Ok(None),
            Err(e) => Err(e),
            // The kernel only ever returns whole records.
            Ok(n) if n == size => {
                // SAFETY: the kernel filled the whole record.
                let info = unsafe { info.assume_init() };
                Ok(Some(SigInfo {
                    signo: info.ssi_signo as i32,
                    pid: info.ssi_pid,
                }))
            }
            Ok(_) => Err(Errno(libc::EIO)),
        }
    }
}
