//! Non-blocking TCP client sockets (built-in health checks; the HTTP
//! client of later stages builds on the same calls).

use super::fd::Fd;
use super::{Errno, Result, check};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
}

/// Starts a non-blocking connect. Ok(socket) means "in progress or done":
/// wait for writability, then ask `take_error`.
pub fn connect(ip: Ip, port: u16) -> Result<Fd> {
    let fd = stream_socket(&ip)?;
    let addr = InetAddr::new(ip, port);
    // SAFETY: addr yields a valid sockaddr of the length it reports.
    let ret = unsafe { libc::connect(fd.raw(), addr.ptr(), addr.len()) };
    if ret < 0 && Errno::last() != Errno(libc::EINPROGRESS) {
        return Err(Errno::last());
    }
    Ok(fd)
}

/// A non-blocking, CLOEXEC TCP socket of the address's family.
pub(super) fn stream_socket(ip: &Ip) -> Result<Fd> {
    socket(family(ip))
}

/// A non-blocking, CLOEXEC stream socket of any family (TCP or unix).
pub(super) fn socket(family: libc::c_int) -> Result<Fd> {
    new_socket(family, libc::SOCK_STREAM | libc::SOCK_NONBLOCK)
}

fn family(ip: &Ip) -> libc::c_int {
    match ip {
        Ip::V4(_) => libc::AF_INET,
        Ip::V6(_) => libc::AF_INET6,
    }
}

/// A CLOEXEC socket; `kind` is the type with any SOCK_NONBLOCK.
fn new_socket(family: libc::c_int, kind: libc::c_int) -> Result<Fd> {
    // SAFETY: plain flags; the fd is owned by Fd from here on.
    let fd = check(unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, 0) })?;
    Ok(Fd::from_raw(fd))
}

/// Connects `fd` (an AF_UNIX stream socket) to `path`.
fn connect_unix(fd: &Fd, path: &core::ffi::CStr) -> Result<()> {
    let (sa, len) = super::listen::sockaddr_un(path)?;
    super::retry(|| {
        // SAFETY: sa is a valid sockaddr_un of the length given.
        check(unsafe { libc::connect(fd.raw(), (&sa as *const libc::sockaddr_un).cast(), len) })
    })
    .map(drop)
}

/// An IPv4 or IPv6 socket address, for connect and bind.
pub(super) enum InetAddr {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

impl InetAddr {
    pub(super) fn new(ip: Ip, port: u16) -> InetAddr {
        match ip {
            Ip::V4(a) => {
                // SAFETY: all-zero is a valid sockaddr_in.
                let mut sa: libc::sockaddr_in = unsafe { core::mem::zeroed() };
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = port.to_be();
                sa.sin_addr.s_addr = u32::from_ne_bytes(a);
                InetAddr::V4(sa)
            }
            Ip::V6(a) => {
                // SAFETY: all-zero is a valid sockaddr_in6.
                let mut sa: libc::sockaddr_in6 = unsafe { core::mem::zeroed() };
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_port = port.to_be();
                sa.sin6_addr.s6_addr = a;
                InetAddr::V6(sa)
            }
        }
    }

    pub(super) fn ptr(&self) -> *const libc::sockaddr {
        match self {
            InetAddr::V4(sa) => (sa as *const libc::sockaddr_in).cast(),
            InetAddr::V6(sa) => (sa as *const libc::sockaddr_in6).cast(),
        }
    }

    pub(super) fn len(&self) -> libc::socklen_t {
        (match self {
            InetAddr::V4(sa) => core::mem::size_of_val(sa),
            InetAddr::V6(sa) => core::mem::size_of_val(sa),
        }) as libc::socklen_t
    }
}

/// A blocking connection to a unix socket (for `tug ctl`, a short-lived
/// client process, never the loop).
pub fn unix_connect(path: &core::ffi::CStr) -> Result<Fd> {
    let fd = new_socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
    connect_unix(&fd, path)?;
    Ok(fd)
}

/// The pending error of a socket (the result of a non-blocking connect).
pub fn take_error(fd: &Fd) -> Result<()> {
    let mut err: libc::c_int = 0;
    let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are valid for getsockopt to fill.
    check(unsafe {
        libc::getsockopt(
            fd.raw(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    if err == 0 { Ok(()) } else { Err(Errno(err)) }
}

/// send() without SIGPIPE.
pub fn send(fd: &Fd, buf: &[u8]) -> Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    let n = unsafe { libc::send(fd.raw(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// A non-blocking connect to a unix socket for the loop. AF_UNIX never
/// answers EINPROGRESS: the socket is connected when this returns, or
/// the error is final (EAGAIN: the server's backlog is full).
pub fn unix_connect_nonblocking(path: &core::ffi::CStr) -> Result<Fd> {
    let fd = socket(libc::AF_UNIX)?;
    connect_unix(&fd, path)?;
    Ok(fd)
}

/// A non-blocking, CLOEXEC UDP socket connected to `ip:port`: `send` and
/// `Fd::read` move one datagram each, the kernel drops datagrams from any
/// other source, and an ICMP port unreachable comes back as ECONNREFUSED.
pub fn udp_connect(ip: Ip, port: u16) -> Result<Fd> {
    let fd = new_socket(family(&ip), libc::SOCK_DGRAM | libc::SOCK_NONBLOCK)?;
    let addr = InetAddr::new(ip, port);
    // SAFETY: addr yields a valid sockaddr of the length it reports.
    check(unsafe { libc::connect(fd.raw(), addr.ptr(), addr.len()) })?;
    Ok(fd)
}
