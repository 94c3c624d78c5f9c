//! The only place tug calls into libc. Every wrapper here is thin and typed
//! (rustix-style): raw integers stay inside, failures come back as `Errno`,
//! and each `unsafe` block says why it is sound. Nothing outside `sys` uses
//! `unsafe`.

pub mod cell;
pub mod dgram;
pub mod epoll;
pub mod fd;
pub mod file;
pub mod heap;
pub mod host;
pub mod inotify;
pub mod listen;
pub mod mount;
pub mod net;
pub mod notify;
pub mod power;
pub mod process;
pub mod rt;
pub mod signal;
pub mod spawn;
pub mod time;

use core::fmt;

/// A failed system call's errno.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

pub type Result<T> = core::result::Result<T, Errno>;

impl Errno {
    pub const EINTR: Errno = Errno(libc::EINTR);
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const ECHILD: Errno = Errno(libc::ECHILD);
    pub const ESRCH: Errno = Errno(libc::ESRCH);
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    pub const ENOTDIR: Errno = Errno(libc::ENOTDIR);

    /// The calling thread's errno right after a failed call.
    pub fn last() -> Errno {
        // SAFETY: __errno_location always returns a valid pointer to this
        // thread's errno.
        Errno(unsafe { *libc::__errno_location() })
    }

    /// musl's message for this errno ("No such file or directory").
    pub fn message(self) -> &'static str {
        // SAFETY: musl's strerror returns a pointer into a static,
        // NUL-terminated, read-only table for every input value.
        let msg = unsafe { core::ffi::CStr::from_ptr(libc::strerror(self.0)) };
        msg.to_str().unwrap_or("unknown error")
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({}: {})", self.0, self.message())
    }
}

/// Turns a libc-style `-1 means errno` return into a `Result`.
fn check(ret: libc::c_int) -> Result<libc::c_int> {
    if ret < 0 { Err(Errno::last()) } else { Ok(ret) }
}

fn check_long(ret: libc::c_long) -> Result<libc::c_long> {
    if ret < 0 { Err(Errno::last()) } else { Ok(ret) }
}

/// Retries a call that failed with EINTR. tug blocks its signals, so EINTR is
/// rare, but SIGSTOP/SIGCONT and ptrace can still interrupt a syscall.
fn retry<T>(mut f: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match f() {
            Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}
