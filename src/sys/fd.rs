//! Owned file descriptors and the few file operations tug needs.

use super::{Errno, Result, check, retry};
use alloc::ffi::CString;
use alloc::vec::Vec;
use core::ffi::CStr;

pub type RawFd = libc::c_int;

/// A file descriptor closed on drop. Every one tug creates is CLOEXEC, so a
/// child never inherits tug's own descriptors.
#[derive(Debug)]
pub struct Fd(RawFd);

impl Fd {
    /// Takes ownership of a descriptor a syscall just returned.
    pub(super) fn from_raw(fd: RawFd) -> Fd {
        Fd(fd)
    }

    pub fn raw(&self) -> RawFd {
        self.0
    }

    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        read_raw(self.0, buf)
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor and nobody uses it after drop. The
        // result is ignored on purpose: after close() the fd is gone even on
        // EINTR (Linux), so retrying could close somebody else's fd.
        unsafe { libc::close(self.0) };
    }
}

pub fn read_raw(fd: RawFd, buf: &mut [u8]) -> Result<usize> {
    retry(|| {
        // SAFETY: buf is a valid, writable region of buf.len() bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(Errno::last())
        } else {
            Ok(n as usize)
        }
    })
}

pub fn write_raw(fd: RawFd, buf: &[u8]) -> Result<usize> {
    retry(|| {
        // SAFETY: buf is a valid, readable region of buf.len() bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(Errno::last())
        } else {
            Ok(n as usize)
        }
    })
}

/// Writes the whole buffer to a descriptor tug does not own (stdout, stderr).
/// A full pipe on a non-blocking inherited stderr drops the rest rather than
/// spinning: tug's own diagnostics must never stall the loop.
pub fn write_all(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        match write_raw(fd, buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf = &buf[n..],
        }
    }
}

/// A pipe whose both ends are CLOEXEC: (read end, write end).
pub fn pipe() -> Result<(Fd, Fd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

/// Makes reads on this end return EAGAIN instead of blocking. Only this
/// open file description changes: the other end of a pipe, handed to a
/// child, stays blocking.
pub fn set_nonblocking(fd: &Fd) -> Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    let flags = check(unsafe { libc::fcntl(fd.0, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd.0, libc::F_SETFL, flags | libc::O_NONBLOCK) }).map(drop)
}

/// Clears O_NONBLOCK: for a socket a child gets as its own (systemd passes
/// activation sockets blocking).
pub fn set_blocking(fd: &Fd) -> Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    let flags = check(unsafe { libc::fcntl(fd.0, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd.0, libc::F_SETFL, flags & !libc::O_NONBLOCK) }).map(drop)
}

/// Opens a file for appending (creating it 0644), for tug's log output.
pub fn open_append(path: &CStr) -> Result<Fd> {
    retry(|| {
        // SAFETY: path is NUL-terminated; the returned fd is owned by Fd.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
                0o644,
            )
        };
        check(fd).map(Fd)
    })
}

/// Creates or truncates a file (0644) for writing.
pub fn create(path: &CStr) -> Result<Fd> {
    retry(|| {
        // SAFETY: path is NUL-terminated; the returned fd is owned by Fd.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_WRONLY | libc::O_TRUNC | libc::O_CREAT | libc::O_CLOEXEC,
                0o644,
            )
        };
        check(fd).map(Fd)
    })
}

/// Makes sure descriptors 0, 1 and 2 are open (on /dev/null if they were
/// closed), so no pipe or socket tug creates can land on them and be
/// mistaken for a child's stdio.
pub fn ensure_stdio() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only inspects the descriptor.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            // SAFETY: open returns the lowest free descriptor, which is fd
            // itself since the ones below it are open; not CLOEXEC on
            // purpose: children inherit it as their stdio.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// Opens /dev/null read-write (stdin of jobs).
pub fn dev_null() -> Result<Fd> {
    retry(|| {
        // SAFETY: a static NUL-terminated path.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        check(fd).map(Fd)
    })
}

/// Gives up ownership without closing (for descriptors handed to the log).
pub fn into_raw(fd: Fd) -> RawFd {
    let raw = fd.0;
    core::mem::forget(fd);
    raw
}

/// Closes a raw descriptor obtained from `into_raw`.
pub fn close_raw(fd: RawFd) {
    drop(Fd(fd));
}

/// Opens a file read-only (CLOEXEC).
pub fn open_read(path: &CStr) -> Result<Fd> {
    retry(|| {
        // SAFETY: path is NUL-terminated; the returned fd is owned by Fd.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        check(fd).map(Fd)
    })
}

/// Reads a whole (small) file, such as /proc/PID/stat.
pub fn read_file(path: &CStr) -> Result<Vec<u8>> {
    let fd = open_read(path)?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = fd.read(&mut chunk)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// The names in a directory, without "." and "..". getdents64 itself,
/// not opendir: musl's DIR comes from its malloc, which tug does not link
/// (sys::heap).
pub fn list_dir(path: &CStr) -> Result<Vec<CString>> {
    let dir = retry(|| {
        // SAFETY: path is NUL-terminated; the returned fd is owned by Fd.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        check(fd).map(Fd)
    })?;
    let mut names = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        // SAFETY: buf is valid for buf.len() writable bytes.
        let n =
            unsafe { libc::syscall(libc::SYS_getdents64, dir.raw(), buf.as_mut_ptr(), buf.len()) };
        let n = super::check_long(n)? as usize;
        if n == 0 {
            return Ok(names);
        }
        // Each record: d_ino (8), d_off (8), d_reclen (2), d_type (1),
        // then the NUL-terminated name, padded to d_reclen.
        let mut at = 0;
        while at + 19 < n {
            let len = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
            let rec = &buf[at..n.min(at + len.max(19))];
            at += len.max(19);
            let Ok(name) = CStr::from_bytes_until_nul(&rec[19..]) else {
                continue;
            };
            let bytes = name.to_bytes();
            if bytes != b"." && bytes != b".." {
                names.push(CString::from(name));
            }
        }
    }
}

/// Whether `fd` has input (or EOF, or an error to read) within
/// `timeout_ms`: for the few blocking reads done before the loop runs or
/// bounded in it (a config's backticks).
pub fn poll_in(fd: RawFd, timeout_ms: i32) -> Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: p is one valid pollfd, for the length given.
    retry(|| check(unsafe { libc::poll(&mut p, 1, timeout_ms) })).map(|n| n > 0)
}

/// Whether fd refers to a terminal.
pub fn is_tty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}
