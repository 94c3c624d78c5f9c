//! AF_UNIX datagram sockets for sd_notify: the per-job receiving socket
//! and the sending side of tug's own upward notifications.
//!
//! Decisions:
//! - The receiving socket binds by kernel autobind (bind with only
//!   `sun_family`): the kernel picks an unused abstract name (5 hex digits
//!   on Linux), so tug has no names to invent, no collisions to retry and
//!   no file to create, chmod or unlink; the name lives as long as the fd.
//!   An abstract name is not a secret (/proc/net/unix lists every one in
//!   the network namespace); the caller checks senders by credentials.
//! - SO_PASSCRED is on, so every datagram carries the sender's
//!   SCM_CREDENTIALS filled in by the kernel (a sender can only claim other
//!   ids with CAP_SYS_ADMIN / CAP_SETUID).
//! - Received fds (SCM_RIGHTS: BARRIER=1, FDSTORE=1) are taken CLOEXEC and
//!   closed at once: tug keeps no fd store, and a barrier's sender waits
//!   exactly until every copy of its fd is closed. Fds that do not fit the
//!   control buffer are never installed: the kernel drops them itself and
//!   sets MSG_CTRUNC, so a barrier is released in that case too.
//! - A datagram larger than the caller's buffer is reported with its real
//!   length (MSG_TRUNC), for the caller to drop with a reason.

use super::fd::Fd;
use super::{Errno, Result, check, retry};
use alloc::vec::Vec;
use core::ffi::CStr;

/// Room for the credentials and up to 52 fds: more is MSG_CTRUNC.
const CONTROL_WORDS: usize = 32;

/// One received datagram.
#[derive(Debug)]
pub struct Received {
    /// The datagram's real length; `truncated` when it exceeded the buffer
    /// (only the buffer's length was stored).
    pub len: usize,
    pub truncated: bool,
    /// (pid, uid, gid) from SCM_CREDENTIALS; None if absent (cannot happen
    /// with SO_PASSCRED on, but the kernel's word is checked, not assumed).
    pub cred: Option<(i32, u32, u32)>,
    /// How many fds came with it (all already closed).
    pub fds: usize,
    /// The control data did not fit (more fds than the buffer holds).
    pub control_truncated: bool,
}

fn dgram_socket() -> Result<Fd> {
    let kind = libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain flags; the fd is owned by Fd from here on.
    let fd = check(unsafe { libc::socket(libc::AF_UNIX, kind, 0) })?;
    Ok(Fd::from_raw(fd))
}

/// A non-blocking datagram socket for `send_to` (tug's upward channel).
pub fn sender() -> Result<Fd> {
    dgram_socket()
}

/// A non-blocking, CLOEXEC datagram socket with SO_PASSCRED, autobound to
/// an abstract name: (socket, name without the leading NUL).
pub fn autobound() -> Result<(Fd, Vec<u8>)> {
    let fd = dgram_socket()?;
    let on: libc::c_int = 1;
    // SAFETY: on is a valid c_int of the length given.
    check(unsafe {
        libc::setsockopt(
            fd.raw(),
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&on as *const libc::c_int).cast(),
            core::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut sa: libc::sockaddr_un = unsafe { core::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let family_len = core::mem::size_of::<libc::sa_family_t>();
    // SAFETY: sa is valid for the family-only length given (autobind).
    check(unsafe {
        libc::bind(
            fd.raw(),
            (&sa as *const libc::sockaddr_un).cast(),
            family_len as libc::socklen_t,
        )
    })?;
    let mut len = core::mem::size_of_val(&sa) as libc::socklen_t;
    // SAFETY: sa has room for len bytes; getsockname writes at most that.
    check(unsafe {
        libc::getsockname(
            fd.raw(),
            (&mut sa as *mut libc::sockaddr_un).cast(),
            &mut len,
        )
    })?;
    let n = (len as usize)
        .saturating_sub(family_len)
        .min(sa.sun_path.len());
    let path = &sa.sun_path[..n];
    if path.len() < 2 || path[0] != 0 {
        return Err(Errno(libc::EAFNOSUPPORT));
    }
    Ok((fd, path[1..].iter().map(|&c| c as u8).collect()))
}

/// Receives one datagram into `buf` without blocking (None: queue empty),
/// with the sender's credentials; closes every fd that came with it.
pub fn recv(fd: &Fd, buf: &mut [u8]) -> Result<Option<Received>> {
    let mut control = [0u64; CONTROL_WORDS];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: all-zero is a valid msghdr (no name, no buffers yet).
    let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = core::mem::size_of_val(&control) as _;
    let flags = libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC | libc::MSG_TRUNC;
    let r = retry(|| {
        // SAFETY: msg points at iov, buf and control, all live and of the
        // lengths given, for recvmsg to fill.
        let n = unsafe { libc::recvmsg(fd.raw(), &mut msg, flags) };
        if n < 0 {
            Err(Errno::last())
        } else {
            Ok(n as usize)
        }
    });
    let len = match r {
        Ok(n) => n,
        Err(Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut got = Received {
        len,
        truncated: len > buf.len() || msg.msg_flags & libc::MSG_TRUNC != 0,
        cred: None,
        fds: 0,
        control_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    };
    // SAFETY: msg.msg_control/msg_controllen describe the control buffer
    // the kernel just filled; CMSG_FIRSTHDR/NXTHDR stay within it.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: cmsg is non-null and points at a complete header inside
        // the control buffer (CMSG_NXTHDR checks the bounds).
        let (level, kind, clen) =
            unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type, (*cmsg).cmsg_len) };
        // SAFETY: as above; CMSG_DATA points just past the header.
        let data = unsafe { libc::CMSG_DATA(cmsg) };
        // SAFETY: CMSG_LEN(0) is pure arithmetic.
        let header = unsafe { libc::CMSG_LEN(0) } as usize;
        // cmsg_len is usize on glibc but socklen_t on musl.
        #[allow(clippy::unnecessary_cast)]
        let payload = (clen as usize).saturating_sub(header);
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            for i in 0..payload / core::mem::size_of::<libc::c_int>() {
                // SAFETY: the kernel wrote `payload` bytes of c_int fds at
                // data (unaligned read: the buffer is only 8-aligned).
                let raw = unsafe { data.cast::<libc::c_int>().add(i).read_unaligned() };
                // Closed here, at once: the fd was just installed for us.
                drop(Fd::from_raw(raw));
                got.fds += 1;
            }
        } else if level == libc::SOL_SOCKET
            && kind == libc::SCM_CREDENTIALS
            && payload >= core::mem::size_of::<libc::ucred>()
        {
            // SAFETY: the kernel wrote a whole ucred at data.
            let c = unsafe { data.cast::<libc::ucred>().read_unaligned() };
            got.cred = Some((c.pid, c.uid, c.gid));
        }
        // SAFETY: msg and cmsg are as above.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok(Some(got))
}

/// Sends one datagram to the unix socket `path` (`@name`: abstract) from
/// an unconnected socket, never blocking (EAGAIN: the receiver's queue is
/// full) and without SIGPIPE.
pub fn send_to(fd: &Fd, path: &CStr, msg: &[u8]) -> Result<usize> {
    let (sa, len) = super::listen::sockaddr_un(path)?;
    retry(|| {
        // SAFETY: msg is valid for msg.len() bytes; sa is a valid
        // sockaddr_un of length len.
        let n = unsafe {
            libc::sendto(
                fd.raw(),
                msg.as_ptr().cast(),
                msg.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                (&sa as *const libc::sockaddr_un).cast(),
                len,
            )
        };
        if n < 0 {
            Err(Errno::last())
        } else {
            Ok(n as usize)
        }
    })
}

/// Test helper: sends `msg` with `fds` attached (SCM_RIGHTS), as a
/// barrier or fd-store sender would.
#[cfg(test)]
pub fn send_with_fds(fd: &Fd, path: &CStr, msg: &[u8], fds: &[super::fd::RawFd]) -> Result<usize> {
    let (mut sa, len) = super::listen::sockaddr_un(path)?;
    let mut control = std::vec![0u64; fds.len() / 2 + 4];
    let mut iov = libc::iovec {
        iov_base: msg.as_ptr() as *mut libc::c_void,
        iov_len: msg.len(),
    };
    // SAFETY: all-zero is a valid msghdr.
    let mut hdr: libc::msghdr = unsafe { core::mem::zeroed() };
    hdr.msg_name = (&mut sa as *mut libc::sockaddr_un).cast();
    hdr.msg_namelen = len;
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    let bytes = core::mem::size_of_val(fds) as u32;
    hdr.msg_control = control.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is pure arithmetic.
    hdr.msg_controllen = unsafe { libc::CMSG_SPACE(bytes) } as _;
    // SAFETY: the control buffer holds CMSG_SPACE(bytes) (fds.len()/2 + 4
    // words is at least that); the header and fds are written inside it.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&hdr);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(bytes) as _;
        core::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast(), fds.len());
    }
    // SAFETY: hdr points at live buffers of the lengths given.
    let n = unsafe { libc::sendmsg(fd.raw(), &hdr, libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// Test helper: forks a child that sends `msg` to `path` from its own
/// socket and exits; returns its pid once it has been reaped.
#[cfg(test)]
pub fn fork_send(path: &CStr, msg: &[u8]) -> Result<i32> {
    let (sa, len) = super::listen::sockaddr_un(path)?;
    // SAFETY: the child only makes async-signal-safe calls (socket,
    // sendto, _exit) before it exits; the parent just waits for it.
    let pid = check(unsafe { libc::fork() })?;
    if pid == 0 {
        // SAFETY: as above; sa is a valid sockaddr_un of length len.
        unsafe {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0);
            let n = libc::sendto(
                fd,
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&sa as *const libc::sockaddr_un).cast(),
                len,
            );
            libc::_exit(if n < 0 { 1 } else { 0 });
        }
    }
    let mut status = 0;
    // SAFETY: status is a valid int for waitpid to fill.
    retry(|| check(unsafe { libc::waitpid(pid, &mut status, 0) }))?;
    if status != 0 {
        return Err(Errno(libc::EIO));
    }
    Ok(pid)
}

/// Test helper: whether `fd` becomes readable within `timeout_ms`.
#[cfg(test)]
pub fn wait_readable(fd: super::fd::RawFd, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: p is one valid pollfd.
    retry(|| check(unsafe { libc::poll(&mut p, 1, timeout_ms) })).unwrap_or(0) > 0
}
