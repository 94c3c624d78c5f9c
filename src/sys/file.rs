//! The file operations of log outputs: what an fd is (fstat), whether a
//! path still names the file tug holds open (stat), renames for rotation,
//! and the three ways to write without blocking an fd tug does not own
//! (see `logs::sink` for which one is used when, and why).

use super::fd::{Fd, RawFd};
use super::{Errno, Result, check, retry};
use core::ffi::CStr;

/// What an fd or path is, as far as log outputs care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// `S_IFMT` bits: compare with the `S_IF*` constants below.
    pub kind: u32,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub uid: u32,
    pub gid: u32,
}

pub const S_IFREG: u32 = libc::S_IFREG;
pub const S_IFBLK: u32 = libc::S_IFBLK;
pub const S_IFIFO: u32 = libc::S_IFIFO;
pub const S_IFCHR: u32 = libc::S_IFCHR;
pub const S_IFSOCK: u32 = libc::S_IFSOCK;

fn to_stat(st: &libc::stat) -> Stat {
    Stat {
        kind: st.st_mode & libc::S_IFMT,
        dev: st.st_dev,
        ino: st.st_ino,
        size: st.st_size as u64,
        uid: st.st_uid,
        gid: st.st_gid,
    }
}

pub fn fstat(fd: RawFd) -> Result<Stat> {
    // SAFETY: all-zero is a valid stat buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: st has room for the result; a bad fd is EBADF, not UB.
    check(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(to_stat(&st))
}

/// stat (follows symlinks: a log path that is a symlink names its target).
pub fn stat(path: &CStr) -> Result<Stat> {
    // SAFETY: all-zero is a valid stat buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated; st has room for the result.
    check(unsafe { libc::stat(path.as_ptr(), &mut st) })?;
    Ok(to_stat(&st))
}

pub fn rename(from: &CStr, to: &CStr) -> Result<()> {
    // SAFETY: both paths are NUL-terminated and only read.
    check(unsafe { libc::rename(from.as_ptr(), to.as_ptr()) }).map(drop)
}

/// Opens the file behind `fd` again, through /proc/self/fd, for writing
/// with O_NONBLOCK: for a pipe, FIFO or tty this is a new open file
/// description of the same object, so its O_NONBLOCK is tug's alone.
/// O_NOCTTY: tug (often a session leader as PID 1) must not acquire a
/// tty it reopens as its controlling terminal.
pub fn reopen_nonblocking(fd: RawFd) -> Result<Fd> {
    let mut path = *b"/proc/self/fd/\0\0\0\0\0\0\0\0\0\0\0\0";
    let mut digits = [0u8; 10];
    let (mut n, mut len) = (fd.max(0) as u32, 0);
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        path[14 + i] = digits[len - 1 - i];
    }
    let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    retry(|| {
        // SAFETY: path is NUL-terminated (at most 10 digits in 12 bytes of
        // zeros); the returned fd is owned by Fd.
        let r = unsafe { libc::open(path.as_ptr().cast(), flags) };
        check(r).map(Fd::from_raw)
    })
}

/// Sets or clears O_NONBLOCK on an fd tug does not own (the last resort
/// for stdout: this changes the open file description every holder
/// shares). Ok(true) when the flag changed.
pub fn set_nonblocking_raw(fd: RawFd, on: bool) -> Result<bool> {
    // SAFETY: F_GETFL only reads the descriptor's flags.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new == flags {
        return Ok(false);
    }
    // SAFETY: F_SETFL with the flags just read, one bit changed.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, new) }).map(|_| true)
}

fn len_result(n: isize) -> Result<usize> {
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// send() that cannot block or raise SIGPIPE, whatever the socket's
/// O_NONBLOCK says.
pub fn send_nowait(fd: RawFd, buf: &[u8]) -> Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    retry(|| {
        // SAFETY: buf is valid for buf.len() bytes.
        len_result(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) })
    })
}

/// pwritev2(offset -1, RWF_NOWAIT): a write at the current position that
/// returns EAGAIN instead of waiting, with no flag on the file. EOPNOTSUPP
/// where the kernel or the file type does not support it (pipes: Linux
/// 6.4+). A raw syscall: musl only recently gained the wrapper.
pub fn write_nowait(fd: RawFd, buf: &[u8]) -> Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    retry(|| {
        // SAFETY: iov points to one valid iovec describing buf, which the
        // kernel only reads. pos_l = -1, pos_h = 0: "current position" on
        // 64-bit (the high half is shifted out).
        let n = unsafe {
            libc::syscall(
                libc::SYS_pwritev2,
                fd,
                &iov as *const libc::iovec,
                1,
                -1 as libc::c_long,
                0 as libc::c_long,
                libc::RWF_NOWAIT,
            )
        };
        len_result(n as isize)
    })
}

/// Waits until `fd` is writable, at most `timeout_ms`: for the shutdown
/// drain only, never in the loop. Ok(false) on timeout.
pub fn wait_writable(fd: RawFd, timeout_ms: i32) -> Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: p is one valid pollfd.
    let n = retry(|| check(unsafe { libc::poll(&mut p, 1, timeout_ms) }))?;
    Ok(n > 0)
}

/// `write_nowait` on a kernel or file type without RWF_NOWAIT support.
pub const EOPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);
pub const EEXIST: Errno = Errno(libc::EEXIST);

/// Whether fd is the master side of a pseudo-terminal (TIOCGPTN answers
/// only there). Reopening one through /proc would open /dev/ptmx: a new
/// pty pair, not this one.
pub fn is_pty_master(fd: RawFd) -> bool {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int into n; on anything else
    // the call fails (ENOTTY) and writes nothing.
    unsafe { libc::ioctl(fd, libc::TIOCGPTN, &mut n) == 0 }
}

/// Test helper: a pseudo-terminal, (master, slave), both CLOEXEC.
#[cfg(test)]
pub fn open_pty() -> Result<(Fd, Fd)> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: a static NUL-terminated path; the fd is owned by Fd.
    let master = Fd::from_raw(check(unsafe { libc::open(c"/dev/ptmx".as_ptr(), flags) })?);
    let mut n: libc::c_uint = 0;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int (0: unlock the slave).
    check(unsafe { libc::ioctl(master.raw(), libc::TIOCSPTLCK, &unlock) })?;
    // SAFETY: TIOCGPTN writes one unsigned int.
    check(unsafe { libc::ioctl(master.raw(), libc::TIOCGPTN, &mut n) })?;
    let path = alloc::ffi::CString::new(alloc::format!("/dev/pts/{n}")).unwrap();
    // SAFETY: path is NUL-terminated; the fd is owned by Fd.
    let slave = Fd::from_raw(check(unsafe { libc::open(path.as_ptr(), flags) })?);
    Ok((master, slave))
}
