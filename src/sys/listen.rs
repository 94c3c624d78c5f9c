//! Listening sockets for tug's servers: the control socket (AF_UNIX) and
//! the telemetry endpoint (TCP); and the jobs' sockets (inetd-style
//! accept, socket activation: `crate::service::listen`). Every listening
//! socket is non-blocking and CLOEXEC.
//!
//! The jobs' listeners differ in two ways (`job_tcp_listener`,
//! `job_unix_listener`): a real backlog (`JOB_BACKLOG`), since a job at its
//! `max` leaves connections waiting there; and `accept_conn` hands back a
//! *blocking* connection with its peer, because the connection becomes a
//! child's stdin and stdout and a program like `cat` treats EAGAIN as an
//! error. On Linux accept4 never copies O_NONBLOCK from the listener (the
//! new socket's file status flags come only from accept4's own flags;
//! accept(2), NOTES, and the test below), so leaving out SOCK_NONBLOCK is
//! all it takes.
//!
//! A unix socket "path" that starts with `@` names a socket in Linux's
//! abstract namespace (`@tug.sock` is `\0tug.sock`, as `ss` prints it):
//! no file, so no directory, mode or unlink; it lives as long as its fd.

use super::fd::Fd;
use super::net::Ip;
use super::{Errno, Result, check, retry};
use core::ffi::CStr;

use super::net::socket;

/// Length of the accept queue of tug's own servers.
const BACKLOG: libc::c_int = 128;

/// Length of the accept queue of a job's listener: Linux's SOMAXCONN
/// since 5.4 (libc's constant says 128 on musl, 4096 on glibc). The
/// kernel caps it at net.core.somaxconn, so a host that allows less gets
/// its own maximum, never an error.
pub const JOB_BACKLOG: libc::c_int = 4096;

/// Whether a unix socket path names an abstract socket (module docs).
pub fn is_abstract(path: &[u8]) -> bool {
    path.first() == Some(&b'@')
}

/// A `sockaddr_un` for `path`; ENAMETOOLONG if it does not fit (108 bytes
/// with the NUL). An abstract name (`@...`) has its NUL first and none at
/// the end: the address length delimits it.
pub(super) fn sockaddr_un(path: &CStr) -> Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut sa: libc::sockaddr_un = unsafe { core::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.to_bytes();
    if bytes.len() < 1 + usize::from(is_abstract(bytes)) || bytes.len() >= sa.sun_path.len() {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    for (d, &s) in sa.sun_path.iter_mut().zip(bytes) {
        *d = s as libc::c_char;
    }
    let mut len = core::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    if is_abstract(bytes) {
        sa.sun_path[0] = 0;
        len -= 1;
    }
    Ok((sa, len as libc::socklen_t))
}

/// A listening AF_UNIX stream socket at `path`, with permissions `mode`
/// (0600 for the control socket). The file mode does not depend on the
/// umask: `chmod` runs on the path after `bind` (fchmod on a socket fd does
/// not change the file) and before `listen`, so until the mode is right
/// every connect is refused. On failure after bind the file is removed.
/// An existing file at `path` makes bind fail with EADDRINUSE: see
/// `unix_is_live`. An abstract name has no file: no mode, nothing to
/// remove (EADDRINUSE: someone holds the name).
pub fn unix_listener(path: &CStr, mode: u32) -> Result<Fd> {
    unix_listener_backlog(path, mode, BACKLOG)
}

/// `unix_listener` for a job (`JOB_BACKLOG`).
pub fn job_unix_listener(path: &CStr, mode: u32) -> Result<Fd> {
    unix_listener_backlog(path, mode, JOB_BACKLOG)
}

fn unix_listener_backlog(path: &CStr, mode: u32, backlog: libc::c_int) -> Result<Fd> {
    let (sa, len) = sockaddr_un(path)?;
    let fd = socket(libc::AF_UNIX)?;
    // SAFETY: sa is a valid sockaddr_un of length len.
    check(unsafe { libc::bind(fd.raw(), (&sa as *const libc::sockaddr_un).cast(), len) })?;
    let file = !is_abstract(path.to_bytes());
    let ready = retry(|| {
        if !file {
            return Ok(0);
        }
        // SAFETY: path is NUL-terminated.
        check(unsafe { libc::chmod(path.as_ptr(), mode as libc::mode_t) })
    })
    .and_then(|_| {
        // SAFETY: a bound socket we own.
        check(unsafe { libc::listen(fd.raw(), backlog) })
    });
    match ready {
        Ok(_) => Ok(fd),
        Err(e) => {
            if file {
                let _ = unlink(path);
            }
            Err(e)
        }
    }
}

/// Creates a directory (the control socket's `/run` in an image without
/// one).
pub fn mkdir(path: &CStr, mode: u32) -> Result<()> {
    // SAFETY: path is NUL-terminated.
    check(unsafe { libc::mkdir(path.as_ptr(), mode as libc::mode_t) }).map(drop)
}

/// Whether a server accepts connections on the socket file at `path`.
/// False means the file is stale (ECONNREFUSED: nobody listens; or it is
/// gone) and may be unlinked. The connect is non-blocking, which for
/// AF_UNIX never returns EINPROGRESS: it succeeds, or fails with EAGAIN
/// when a live server's backlog is full (still live). Any other failure
/// (EACCES...) also counts as live: never remove what is not proven stale.
/// A path too long for a socket address (ENAMETOOLONG) cannot be live.
pub fn unix_is_live(path: &CStr) -> bool {
    let r = super::net::unix_connect_nonblocking(path);
    !matches!(
        r,
        Err(Errno(
            libc::ECONNREFUSED | libc::ENOENT | libc::ENAMETOOLONG
        ))
    )
}

/// Whether the file at `path` is a socket (lstat: a symlink is not).
/// Before a stale socket file is unlinked, so nothing else ever is.
pub fn is_socket(path: &CStr) -> Result<bool> {
    // SAFETY: all-zero is a valid stat buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated; st has room for the result.
    check(unsafe { libc::lstat(path.as_ptr(), &mut st) })?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFSOCK)
}

pub fn unlink(path: &CStr) -> Result<()> {
    // SAFETY: path is NUL-terminated.
    check(unsafe { libc::unlink(path.as_ptr()) }).map(drop)
}

fn setsockopt_int(
    fd: &Fd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> Result<()> {
    // SAFETY: value is a valid c_int of the length given.
    check(unsafe {
        libc::setsockopt(
            fd.raw(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            core::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// A listening TCP socket on `ip:port` (port 0: the kernel picks one, see
/// `local_port`), with SO_REUSEADDR so a restart can rebind at once. An
/// IPv6 socket keeps the kernel's IPV6_V6ONLY default (dual-stack on `::`
/// unless the sysctl says otherwise).
pub fn tcp_listener(ip: Ip, port: u16) -> Result<Fd> {
    tcp_listener_backlog(ip, port, BACKLOG)
}

/// `tcp_listener` for a job (`JOB_BACKLOG`). IPV6_V6ONLY is left to the
/// kernel on purpose, as systemd's `BindIPv6Only=default` does: with the
/// usual `net.ipv6.bindv6only = 0`, `[::]` takes IPv4 connections too
/// (peers show as `::ffff:a.b.c.d`), and binding `0.0.0.0` on the same
/// port as well then fails with EADDRINUSE.
pub fn job_tcp_listener(ip: Ip, port: u16) -> Result<Fd> {
    tcp_listener_backlog(ip, port, JOB_BACKLOG)
}

fn tcp_listener_backlog(ip: Ip, port: u16, backlog: libc::c_int) -> Result<Fd> {
    let fd = super::net::stream_socket(&ip)?;
    setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    let addr = super::net::InetAddr::new(ip, port);
    // SAFETY: addr yields a valid sockaddr of the length it reports.
    let ret = unsafe { libc::bind(fd.raw(), addr.ptr(), addr.len()) };
    check(ret)?;
    // SAFETY: a bound socket we own.
    check(unsafe { libc::listen(fd.raw(), backlog) })?;
    Ok(fd)
}

/// The local port of a bound TCP socket.
pub fn local_port(fd: &Fd) -> Result<u16> {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
    let mut len = core::mem::size_of_val(&ss) as libc::socklen_t;
    // SAFETY: ss has room for len bytes; getsockname fills at most that.
    check(unsafe {
        libc::getsockname(
            fd.raw(),
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    })?;
    match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET), and
            // sockaddr_storage is large and aligned enough for one.
            let sa =
                unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Ok(u16::from_be(sa.sin_port))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sa =
                unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Ok(u16::from_be(sa.sin6_port))
        }
        _ => Err(Errno(libc::EAFNOSUPPORT)),
    }
}

/// Whether a socket is AF_UNIX (its peer has credentials).
pub fn is_unix(fd: &Fd) -> bool {
    let mut domain: libc::c_int = 0;
    let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: domain and len are valid for getsockopt to fill.
    let r = check(unsafe {
        libc::getsockopt(
            fd.raw(),
            libc::SOL_SOCKET,
            libc::SO_DOMAIN,
            (&mut domain as *mut libc::c_int).cast(),
            &mut len,
        )
    });
    r.is_ok() && domain == libc::AF_UNIX
}

/// Accepts one connection, non-blocking and CLOEXEC; None when the queue
/// is empty.
pub fn accept(listener: &Fd) -> Result<Option<Fd>> {
    let r = retry(|| {
        // SAFETY: null address pointers are allowed; the fd is owned by Fd.
        check(unsafe {
            libc::accept4(
                listener.raw(),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        })
    });
    match r {
        Ok(fd) => Ok(Some(Fd::from_raw(fd))),
        Err(Errno::EAGAIN) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Who connected: the peer of an accepted connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Inet(Ip, u16),
    /// A unix socket peer (its address is nearly always unnamed).
    Unix,
}

/// Accepts one connection for a child: CLOEXEC (the child gets it through
/// dup2, which clears the flag on the copy) and *blocking* (module docs).
/// None when the queue is empty. Errors are accept4's: the caller decides
/// which are transient (`service::listen::Acceptor`).
pub fn accept_conn(listener: &Fd) -> Result<Option<(Fd, Peer)>> {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
    let mut len = core::mem::size_of_val(&ss) as libc::socklen_t;
    let r = retry(|| {
        len = core::mem::size_of_val(&ss) as libc::socklen_t;
        // SAFETY: ss has room for len bytes, accept4 writes at most that;
        // the new fd is owned by Fd below.
        check(unsafe {
            libc::accept4(
                listener.raw(),
                (&mut ss as *mut libc::sockaddr_storage).cast(),
                &mut len,
                libc::SOCK_CLOEXEC,
            )
        })
    });
    let fd = match r {
        Ok(fd) => Fd::from_raw(fd),
        Err(Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(e),
    };
    let peer = match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET), and
            // sockaddr_storage is large and aligned enough for one.
            let sa =
                unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Peer::Inet(
                Ip::V4(sa.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sa.sin_port),
            )
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sa =
                unsafe { &*(&ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Peer::Inet(Ip::V6(sa.sin6_addr.s6_addr), u16::from_be(sa.sin6_port))
        }
        _ => Peer::Unix,
    };
    Ok(Some((fd, peer)))
}

/// Whether O_NONBLOCK is set on the fd's open file description.
pub fn is_nonblocking(fd: &Fd) -> Result<bool> {
    // SAFETY: F_GETFL only reads the descriptor's flags.
    let flags = check(unsafe { libc::fcntl(fd.raw(), libc::F_GETFL) })?;
    Ok(flags & libc::O_NONBLOCK != 0)
}

/// (pid, uid, gid) of the process that connected an AF_UNIX socket, as of
/// its connect().
pub fn peer_credentials(fd: &Fd) -> Result<(i32, u32, u32)> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = core::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid for getsockopt to fill.
    check(unsafe {
        libc::getsockopt(
            fd.raw(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    })?;
    Ok((cred.pid, cred.uid, cred.gid))
}

/// Ends our sending side (the peer reads EOF) while still reading.
pub fn shutdown_write(fd: &Fd) -> Result<()> {
    // SAFETY: a socket we own.
    check(unsafe { libc::shutdown(fd.raw(), libc::SHUT_WR) }).map(drop)
}

/// Whether accept(2) failed for one connection that died in the queue
/// (accept(2)'s list of errors to retry on Linux), not for the listener.
pub fn lost_in_queue(e: Errno) -> bool {
    matches!(
        e.0,
        libc::ECONNABORTED
            | libc::EPROTO
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH
            | libc::EPERM
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};

    const LOOPBACK6: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

    /// Accepts the one connection `client` made, and checks what a child
    /// would get.
    fn accept_from(listener: &Fd, client: &mut TcpStream) -> (Fd, Peer) {
        assert!(is_nonblocking(listener).unwrap(), "the loop's listener");
        // The connect returned, so the connection is in the queue.
        let (conn, peer) = accept_conn(listener).unwrap().expect("a queued connection");
        assert!(
            !is_nonblocking(&conn).unwrap(),
            "accept4 without SOCK_NONBLOCK: blocking, whatever the listener"
        );
        // SAFETY: F_GETFD only reads the descriptor's flags.
        let fd_flags = unsafe { libc::fcntl(conn.raw(), libc::F_GETFD) };
        assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        client.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(conn.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf, b"ping");
        assert!(
            accept_conn(listener).unwrap().is_none(),
            "queue empty: None, not a block"
        );
        (conn, peer)
    }

    #[test]
    fn tcp_v4_listener_accepts_with_the_peer() {
        let l = job_tcp_listener(Ip::V4([127, 0, 0, 1]), 0).unwrap();
        let port = local_port(&l).unwrap();
        assert_ne!(port, 0);
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (conn, peer) = accept_from(&l, &mut client);
        let SocketAddr::V4(me) = client.local_addr().unwrap() else {
            panic!()
        };
        assert_eq!(peer, Peer::Inet(Ip::V4([127, 0, 0, 1]), me.port()));
        drop(conn);
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }

    #[test]
    fn tcp_v6_listener_accepts_with_the_peer() {
        let l = match job_tcp_listener(Ip::V6(LOOPBACK6), 0) {
            Ok(l) => l,
            Err(e) => {
                std::println!("SKIPPED: no IPv6 loopback here ({e})");
                return;
            }
        };
        let port = local_port(&l).unwrap();
        let mut client = TcpStream::connect(("::1", port)).unwrap();
        let (_, peer) = accept_from(&l, &mut client);
        let SocketAddr::V6(me) = client.local_addr().unwrap() else {
            panic!()
        };
        assert_eq!(peer, Peer::Inet(Ip::V6(LOOPBACK6), me.port()));
    }

    #[test]
    fn v6_any_is_dual_stack_as_the_kernel_says() {
        let only = std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only");
        let (Ok(only), Ok(l)) = (only, job_tcp_listener(Ip::V6([0; 16]), 0)) else {
            std::println!("SKIPPED: no IPv6 here");
            return;
        };
        let port = local_port(&l).unwrap();
        let v4 = TcpStream::connect(("127.0.0.1", port));
        if only.trim() == "1" {
            assert!(v4.is_err(), "bindv6only=1: [::] is IPv6 only");
            return;
        }
        let mut client = v4.expect("bindv6only=0: [::] takes IPv4 too");
        let (_, peer) = accept_from(&l, &mut client);
        let mut mapped = [0u8; 16];
        mapped[10..12].copy_from_slice(&[0xff, 0xff]);
        mapped[12..].copy_from_slice(&[127, 0, 0, 1]);
        assert!(
            matches!(peer, Peer::Inet(Ip::V6(a), _) if a == mapped),
            "{peer:?}"
        );
    }

    #[test]
    fn unix_job_listener_peer() {
        let path =
            std::env::temp_dir().join(std::format!("tug-sys-listen-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let cpath = alloc::ffi::CString::new(path.to_str().unwrap()).unwrap();
        let l = job_unix_listener(&cpath, 0o666).unwrap();
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let (conn, peer) = accept_conn(&l).unwrap().unwrap();
        assert_eq!(peer, Peer::Unix);
        assert!(!is_nonblocking(&conn).unwrap());
        unlink(&cpath).unwrap();
    }
}
