//! Receiving datagram sockets for the built-in syslog: an AF_UNIX socket
//! at a path (`/dev/log`) and UDP. Receiving itself is `notify::recv`
//! (recvmsg with MSG_TRUNC and credentials; any fds a sender attached are
//! closed at once), which works on both.
//!
//! Decisions:
//! - Every socket is non-blocking and CLOEXEC from `socket()` on.
//! - The unix socket gets SO_PASSCRED when asked: each datagram then
//!   carries the sender's pid as the kernel knows it (a sender cannot
//!   forge it without privileges), for messages that name none.
//! - Its mode is set with chmod on the path after bind (fchmod on a
//!   socket fd does not change the file); until then it has the umask's
//!   mode, which is only ever stricter. On failure after bind the file is
//!   removed again.
//! - No SO_REUSEADDR on UDP: for datagrams it would let a second process
//!   bind the same port and split the traffic silently.
//! - The receive buffer is asked for with SO_RCVBUFFORCE (CAP_NET_ADMIN:
//!   tug as root in a container), else SO_RCVBUF, which the kernel caps
//!   at net.core.rmem_max; `set_rcvbuf` returns what was granted. For a
//!   unix datagram socket the queue is bounded by net.unix.max_dgram_qlen
//!   datagrams as well (10 by default): a sender beyond that blocks, or
//!   gets EAGAIN if non-blocking; nothing is dropped by the kernel.

use super::fd::Fd;
use super::net::{InetAddr, Ip};
use super::{Errno, Result, check, retry};
use core::ffi::CStr;

fn socket(family: libc::c_int) -> Result<Fd> {
    let kind = libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain flags; the fd is owned by Fd from here on.
    let fd = check(unsafe { libc::socket(family, kind, 0) })?;
    Ok(Fd::from_raw(fd))
}

fn setsockopt_int(fd: &Fd, name: libc::c_int, value: libc::c_int) -> Result<()> {
    // SAFETY: value is a valid c_int of the length given.
    check(unsafe {
        libc::setsockopt(
            fd.raw(),
            libc::SOL_SOCKET,
            name,
            (&value as *const libc::c_int).cast(),
            core::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// An AF_UNIX datagram socket bound at `path` (a file; `@name`: abstract,
/// no file), with file mode `mode` and, if `passcred`, SO_PASSCRED. An
/// existing file makes bind fail with EADDRINUSE: see `unix_is_live`.
pub fn unix_bind(path: &CStr, mode: u32, passcred: bool) -> Result<Fd> {
    let (sa, len) = super::listen::sockaddr_un(path)?;
    let fd = socket(libc::AF_UNIX)?;
    if passcred {
        setsockopt_int(&fd, libc::SO_PASSCRED, 1)?;
    }
    // SAFETY: sa is a valid sockaddr_un of length len.
    check(unsafe { libc::bind(fd.raw(), (&sa as *const libc::sockaddr_un).cast(), len) })?;
    if super::listen::is_abstract(path.to_bytes()) {
        return Ok(fd);
    }
    // SAFETY: path is NUL-terminated.
    match retry(|| check(unsafe { libc::chmod(path.as_ptr(), mode as libc::mode_t) })) {
        Ok(_) => Ok(fd),
        Err(e) => {
            let _ = super::listen::unlink(path);
            Err(e)
        }
    }
}

/// Whether a process receives on the datagram socket file at `path`.
/// False means stale (ECONNREFUSED: bound by nobody; or gone) and the file
/// may be unlinked. A stream socket there answers EPROTOTYPE: live, as is
/// any other failure (EACCES...): never remove what is not proven stale.
pub fn unix_is_live(path: &CStr) -> bool {
    let Ok((sa, len)) = super::listen::sockaddr_un(path) else {
        return false;
    };
    let Ok(fd) = socket(libc::AF_UNIX) else {
        return true;
    };
    let r = retry(|| {
        // SAFETY: sa is a valid sockaddr_un of length len.
        check(unsafe { libc::connect(fd.raw(), (&sa as *const libc::sockaddr_un).cast(), len) })
    });
    !matches!(r, Err(Errno(libc::ECONNREFUSED | libc::ENOENT)))
}

/// A UDP socket bound to `ip:port` (port 0: the kernel picks one, see
/// `listen::local_port`).
pub fn udp_bind(ip: Ip, port: u16) -> Result<Fd> {
    let family = match ip {
        Ip::V4(_) => libc::AF_INET,
        Ip::V6(_) => libc::AF_INET6,
    };
    let fd = socket(family)?;
    let addr = InetAddr::new(ip, port);
    // SAFETY: addr yields a valid sockaddr of the length it reports.
    check(unsafe { libc::bind(fd.raw(), addr.ptr(), addr.len()) })?;
    Ok(fd)
}

/// Asks for a receive buffer of `bytes` (module docs); returns the size
/// the kernel granted (as SO_RCVBUF reports it: twice the usable bytes).
pub fn set_rcvbuf(fd: &Fd, bytes: usize) -> Result<usize> {
    let want = bytes.min(i32::MAX as usize) as libc::c_int;
    if setsockopt_int(fd, libc::SO_RCVBUFFORCE, want).is_err() {
        setsockopt_int(fd, libc::SO_RCVBUF, want)?;
    }
    let mut got: libc::c_int = 0;
    let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: got and len are valid for getsockopt to fill.
    check(unsafe {
        libc::getsockopt(
            fd.raw(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut got as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(got.max(0) as usize)
}

/// Test helper: a send buffer of `bytes` on a test's own socket
/// (SO_SNDBUFFORCE as root, else SO_SNDBUF), so it can send datagrams
/// larger than the default limit.
#[cfg(test)]
pub fn force_sndbuf(fd: super::fd::RawFd, bytes: usize) -> Result<()> {
    let v = bytes as libc::c_int;
    for name in [libc::SO_SNDBUFFORCE, libc::SO_SNDBUF] {
        // SAFETY: v is a valid c_int of the length given.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                name,
                (&v as *const libc::c_int).cast(),
                core::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            return Ok(());
        }
    }
    Err(Errno::last())
}
