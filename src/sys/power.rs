//! The machine-wide calls of tug as a VM's init: reboot(2) and its
//! Ctrl-Alt-Del switch, sync, the host name, the loopback interface, and
//! the kernel's ACPI event socket (generic netlink).

use super::fd::Fd;
use super::{Errno, Result, check};

/// reboot(RB_DISABLE_CAD): Ctrl-Alt-Del then reaches PID 1 as SIGINT
/// instead of rebooting at once. It succeeds only in the root PID
/// namespace (in a child namespace the kernel answers EINVAL, or EPERM
/// without CAP_SYS_BOOT, and changes nothing), which is how tug tells a
/// VM's PID 1 from a container's before anything is mounted.
pub fn disable_ctrl_alt_del() -> Result<()> {
    // SAFETY: RB_DISABLE_CAD only flips a kernel flag.
    check(unsafe { libc::reboot(libc::RB_DISABLE_CAD) }).map(drop)
}

/// reboot(2) with RB_POWER_OFF, RB_AUTOBOOT or RB_HALT_SYSTEM; returns
/// only on failure.
pub fn reboot(how: i32) -> Errno {
    // SAFETY: no memory is passed; on success the call does not return.
    unsafe { libc::reboot(how) };
    Errno::last()
}

pub fn sync() {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() }
}

pub fn set_hostname(name: &[u8]) -> Result<()> {
    // SAFETY: the kernel reads exactly name.len() bytes.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// Sets IFF_UP on `lo` (SIOCGIFFLAGS then SIOCSIFFLAGS).
pub fn loopback_up() -> Result<()> {
    // SAFETY: a plain socket call; the fd is owned by Fd.
    let s = Fd::from_raw(check(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
    })?);
    // SAFETY: all-zero is a valid ifreq.
    let mut ifr: libc::ifreq = unsafe { core::mem::zeroed() };
    ifr.ifr_name[..2].copy_from_slice(&[b'l' as libc::c_char, b'o' as libc::c_char]);
    // SAFETY: ifr is a valid ifreq for both ioctls, which read and write
    // only inside it; the flags union member is the one they use.
    unsafe {
        check(libc::ioctl(s.raw(), libc::SIOCGIFFLAGS as _, &mut ifr))?;
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        check(libc::ioctl(s.raw(), libc::SIOCSIFFLAGS as _, &ifr)).map(drop)
    }
}

/// A blocking generic-netlink socket bound to the kernel.
pub fn genetlink() -> Result<Fd> {
    // SAFETY: a plain socket call; the fd is owned by Fd.
    let s = Fd::from_raw(check(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_GENERIC,
        )
    })?);
    // SAFETY: all-zero is a valid sockaddr_nl (the kernel picks the port).
    let mut sa: libc::sockaddr_nl = unsafe { core::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as _;
    // SAFETY: sa is a sockaddr_nl of the size given.
    check(unsafe {
        libc::bind(
            s.raw(),
            (&raw const sa).cast(),
            core::mem::size_of::<libc::sockaddr_nl>() as _,
        )
    })?;
    Ok(s)
}

/// Joins netlink multicast group `group`.
pub fn join_group(s: &Fd, group: u32) -> Result<()> {
    // SAFETY: the option value is a u32 of the size given.
    check(unsafe {
        libc::setsockopt(
            s.raw(),
            libc::SOL_NETLINK,
            libc::NETLINK_ADD_MEMBERSHIP,
            (&raw const group).cast(),
            4,
        )
    })
    .map(drop)
}

/// Forks; the child runs `child` and exits. Used once at boot, before
/// tug blocks any signal, for the power-button watcher. Returns the
/// child's pid in the parent.
pub fn fork_helper(child: impl FnOnce()) -> Result<i32> {
    // SAFETY: tug is single-threaded, so the child may run any code.
    let pid = check(unsafe { libc::fork() })?;
    if pid == 0 {
        child();
        // SAFETY: _exit skips atexit handlers, which the child must not run.
        unsafe { libc::_exit(0) }
    }
    Ok(pid)
}

/// Waits up to `ms` for a child to change state (SIGCHLD, which tug keeps
/// blocked); false on timeout. Used only after the loop has ended.
pub fn wait_sigchld(ms: i64) -> bool {
    let mut set = super::signal::SigSet::empty();
    set.add(libc::SIGCHLD);
    let ts = libc::timespec {
        tv_sec: (ms / 1000) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as _,
    };
    // SAFETY: set and ts are valid for the call; no siginfo is wanted.
    unsafe { libc::sigtimedwait(set.as_ptr(), core::ptr::null_mut(), &ts) >= 0 }
}

/// Opens /dev/console on each of descriptors 0, 1 and 2 that is closed
/// (the kernel could not open it before /dev was mounted): tug's log and
/// its children's output then reach the console.
pub fn console_stdio() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only inspects the descriptor.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            // SAFETY: open returns the lowest free descriptor, fd itself;
            // not CLOEXEC on purpose: children inherit it as their stdio.
            unsafe { libc::open(c"/dev/console".as_ptr(), libc::O_RDWR | libc::O_NOCTTY) };
        }
    }
}
