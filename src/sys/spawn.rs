//! fork + exec with the child's signal state put back.
//!
//! Why not posix_spawn: the child must make itself the terminal's foreground
//! process group *before* exec (doing it from the parent races the child's
//! first read of the tty), and later it drops privileges; posix_spawn can do
//! neither. tug is single-threaded and small, so fork is cheap and safe.
//!
//! Beyond stdio a child can get (the service kinds need both):
//! - Descriptors at fixed numbers (`ExecPlan::fds`, (source, target)
//!   pairs): socket activation's listeners at 3, 4, ..., a readiness pipe
//!   at the fd the config names. Targets are 3 or more and distinct
//!   (EINVAL before fork otherwise); sources may be anything, including a
//!   number that is another pair's target or a stdio fd. The child first
//!   copies every source above every number involved (`stash`), then
//!   installs the copies with dup2 after the CLOEXEC sweep, so no order of
//!   dup2 calls can overwrite a source before it is copied, and the sweep
//!   does not undo the install. The report pipe moves up too, as a
//!   target may be its number.
//! - Environment entries whose value is the child's own pid (`PidVar`:
//!   LISTEN_PID, WATCHDOG_PID). The pid exists only after fork, and the
//!   child may not allocate, so the parent prepares each entry as
//!   `NAME=` plus room for the digits, with its pointer already in the
//!   envp array, and the child writes the digits of getpid() into it.
//!   This relies on fork (not vfork): the write lands in the child's
//!   copy-on-write memory, never in the parent's. The child's pid is
//!   also the pid of the program it execs.
//!
//! Two ways to learn how the child's setup went, one child side: the
//! child writes an 8-byte report of a failed step to a CLOEXEC pipe, and
//! a successful exec closes it (EOF). `fork_exec` reads the report before
//! it returns, blocking until the exec; `fork_exec_detached` returns at
//! once with the pipe's read end, non-blocking, for the caller's epoll
//! loop, and `read_report` decodes it on readiness. The second is for
//! inetd connections, where a wait per spawn caps the accept rate.

use super::fd::{self, Fd, RawFd};
use super::signal::{Disposition, SigSet};
use super::{Errno, Result, check};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::Cell;
use core::ffi::{CStr, c_char};

/// The 32-bit-id calls (armv7's plain ones take 16-bit ids).
#[cfg(target_arch = "arm")]
const SYS_SETGROUPS: libc::c_long = libc::SYS_setgroups32;
#[cfg(target_arch = "arm")]
const SYS_SETGID: libc::c_long = libc::SYS_setgid32;
#[cfg(target_arch = "arm")]
const SYS_SETUID: libc::c_long = libc::SYS_setuid32;
#[cfg(not(target_arch = "arm"))]
const SYS_SETGROUPS: libc::c_long = libc::SYS_setgroups;
#[cfg(not(target_arch = "arm"))]
const SYS_SETGID: libc::c_long = libc::SYS_setgid;
#[cfg(not(target_arch = "arm"))]
const SYS_SETUID: libc::c_long = libc::SYS_setuid;

/// Everything the child needs, prepared by the parent: after fork the child
/// may not allocate (the allocator's lock state is undefined there), so
/// every pointer here already points at finished data.
pub struct ExecPlan<'a> {
    /// Full paths to try in order (the PATH search, done in the parent).
    pub candidates: &'a [&'a CStr],
    /// NULL-terminated argv and envp arrays.
    pub argv: &'a [*const c_char],
    pub envp: &'a [*const c_char],
    /// Put the child in a process group of its own.
    pub new_group: bool,
    /// Also make that group the terminal's foreground group.
    pub foreground: bool,
    /// The mask and dispositions tug itself was started with.
    pub mask: &'a SigSet,
    pub dispositions: &'a [(i32, Disposition)],
    /// Descriptors to install as the child's stdin, stdout, stderr (None:
    /// inherit tug's).
    pub stdio: [Option<RawFd>; 3],
    /// Working directory, entered after dropping privileges.
    pub workdir: Option<&'a CStr>,
    /// Identity to switch to.
    pub credentials: Option<Credentials<'a>>,
    /// (source, target) descriptors the child gets at fixed numbers, with
    /// CLOEXEC cleared (module docs). Empty: nothing changes.
    pub fds: &'a [(RawFd, RawFd)],
    /// Entries set to the child's pid; any entry of `envp` with the same
    /// name is left out (module docs).
    pub pid_env: &'a [PidVar],
}

/// Digits of the largest pid (pid_max is at most 2^22 on Linux; a
/// 32-bit pid has at most 10 digits).
const PID_DIGITS: usize = 10;

/// An environment entry `NAME=<pid>` that the child fills in after fork
/// (module docs). Cells: the child writes through a shared reference
/// while envp holds a raw pointer to the same bytes.
pub struct PidVar {
    buf: Box<[Cell<u8>]>,
    name_len: usize,
}

impl PidVar {
    /// None if `name` is empty or holds `=` or NUL.
    pub fn new(name: &str) -> Option<PidVar> {
        if name.is_empty() || name.bytes().any(|b| b == b'=' || b == 0) {
            return None;
        }
        let mut bytes = Vec::with_capacity(name.len() + 2 + PID_DIGITS);
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(b'=');
        bytes.resize(name.len() + 2 + PID_DIGITS, 0);
        Some(PidVar {
            buf: bytes.into_iter().map(Cell::new).collect(),
            name_len: name.len(),
        })
    }

    /// Whether the C string `entry` ("NAME=value") sets this variable.
    fn names(&self, entry: &[u8]) -> bool {
        let name = self.name_len + 1;
        entry.len() >= name
            && self.buf[..name]
                .iter()
                .zip(entry)
                .all(|(c, &b)| c.get() == b)
    }

    fn as_ptr(&self) -> *const c_char {
        self.buf.as_ptr().cast()
    }

    /// Writes `pid`'s digits and the NUL after `NAME=`. No allocation:
    /// runs in the forked child.
    fn fill(&self, pid: i32) {
        let mut digits = [0u8; PID_DIGITS];
        let mut n = 0;
        let mut v = pid.unsigned_abs();
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 || n == PID_DIGITS {
                break;
            }
        }
        let at = self.name_len + 1;
        for k in 0..n {
            self.buf[at + k].set(digits[n - 1 - k]);
        }
        self.buf[at + n].set(0);
    }

    /// The entry as it stands (tests).
    #[cfg(test)]
    fn text(&self) -> alloc::string::String {
        let bytes: Vec<u8> = self
            .buf
            .iter()
            .map(Cell::get)
            .take_while(|&b| b != 0)
            .collect();
        alloc::string::String::from_utf8(bytes).unwrap()
    }
}

pub struct Credentials<'a> {
    pub uid: u32,
    pub gid: u32,
    pub groups: &'a [u32],
}

/// The step of the child's setup that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Exec,
    Stdio,
    Workdir,
    Groups,
    Gid,
    Uid,
    Fds,
}

impl Step {
    pub fn describe(self) -> &'static str {
        match self {
            Step::Exec => "exec",
            Step::Stdio => "setting up stdio",
            Step::Workdir => "chdir to workdir",
            Step::Groups => "setgroups",
            Step::Gid => "setgid",
            Step::Uid => "setuid",
            Step::Fds => "passing descriptors to",
        }
    }
}

/// A started child: its pid, and the errno of a failed exec. On failure the
/// child has already exited with 127 (not found) or 126 (not executable).
pub struct Started {
    pub pid: i32,
    pub exec_error: Option<(Step, Errno)>,
    /// The candidate whose execve gave that errno; None when every
    /// candidate said ENOENT (the parent then looks for one that exists:
    /// a file whose interpreter is missing also says ENOENT).
    pub culprit: Option<usize>,
}

/// Candidate index meaning "none" in the report.
const NO_CULPRIT: u16 = u16::MAX;

/// The mode bits (type and permissions) of `path`, following symlinks as
/// execve does. Used after a failed exec, to say why it failed.
pub fn file_mode(path: &CStr) -> Result<u32> {
    // SAFETY: stat is plain old data; all-zeroes is a valid value.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated and st is a valid stat to fill.
    check(unsafe { libc::stat(path.as_ptr(), &mut st) })?;
    Ok(st.st_mode)
}

/// Exit code a shell uses for an exec that failed with `e`.
pub fn exec_failure_code(e: Errno) -> i32 {
    if e == Errno::ENOENT || e == Errno::ENOTDIR {
        127
    } else {
        126
    }
}

pub fn fork_exec(plan: &ExecPlan<'_>) -> Result<Started> {
    let (pid, report_rx) = fork_child(plan, false)?;
    let mut buf = [0u8; REPORT_LEN];
    let mut got = 0;
    while got < buf.len() {
        match report_rx.read(&mut buf[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let failure = decode_report(&buf, got);
    Ok(Started {
        pid,
        exec_error: failure.map(|f| (f.step, f.errno)),
        culprit: failure.and_then(|f| f.culprit),
    })
}

/// A failed setup step, as the child reported it (`Started` holds the
/// same facts, for the synchronous path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    pub step: Step,
    pub errno: Errno,
    /// As `Started::culprit`.
    pub culprit: Option<usize>,
}

/// `fork_exec` without the wait: forks the child and returns at once
/// with its pid and the parent's read end of the report pipe,
/// non-blocking and CLOEXEC. The caller waits for it to be readable
/// (epoll) and then calls `read_report`. The child does exactly what it
/// does under `fork_exec`; failures before fork (EINVAL, no pipe, no
/// fork) are still returned here.
///
/// Why: reading the report blocks until the child has exec'd (a fork,
/// page-table copy-on-write faults, the PATH search), and an inetd job
/// that spawns per connection must not stop the loop for that while
/// connections queue up.
pub fn fork_exec_detached(plan: &ExecPlan<'_>) -> Result<(i32, Fd)> {
    fork_child(plan, true)
}

/// Reads the report of a `fork_exec_detached` child without blocking:
/// Ok(None) on EOF (the exec succeeded: CLOEXEC closed the child's end),
/// Ok(Some) when the child reported a failed step, Err(EAGAIN) when
/// there is nothing yet (a spurious wake-up), any other Err as read(2)
/// says. Answers once: after Ok(None) or Ok(Some) the report is spent
/// (a second call would read EOF and say Ok(None)).
///
/// The child writes its 8 bytes with one write, below PIPE_BUF, so they
/// arrive at once: a read sees all of them or none. The report outlives
/// the child: once the child is gone (even reaped) the pipe still holds
/// its bytes and then EOF, so the order of reaping and reading does not
/// matter.
pub fn read_report(report: &Fd) -> Result<Option<Failure>> {
    let mut buf = [0u8; REPORT_LEN];
    let mut got = 0;
    while got < buf.len() {
        match report.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if got == 0 => return Err(e),
            // Cannot happen (the write is atomic); decoded as the
            // synchronous path would decode a short report: no failure.
            Err(_) => break,
        }
    }
    Ok(decode_report(&buf, got))
}

/// Bytes of the child's report: step, padding, culprit (u16), errno (i32).
const REPORT_LEN: usize = 8;

/// The report's meaning: a failure only if all of it arrived (`got`
/// bytes); anything shorter, EOF included, means the exec went through.
fn decode_report(buf: &[u8; REPORT_LEN], got: usize) -> Option<Failure> {
    if got != buf.len() {
        return None;
    }
    let step = match buf[0] {
        1 => Step::Stdio,
        2 => Step::Workdir,
        3 => Step::Groups,
        4 => Step::Gid,
        5 => Step::Uid,
        6 => Step::Fds,
        _ => Step::Exec,
    };
    let culprit = u16::from_ne_bytes([buf[2], buf[3]]);
    Some(Failure {
        step,
        errno: Errno(i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]])),
        culprit: (culprit != NO_CULPRIT).then_some(usize::from(culprit)),
    })
}

/// The fork itself, shared by both paths: checks the plan, builds the
/// envp with the pid entries, forks; returns the pid and the parent's
/// read end of the report pipe (non-blocking if `nonblocking`).
fn fork_child(plan: &ExecPlan<'_>, nonblocking: bool) -> Result<(i32, Fd)> {
    debug_assert!(plan.argv.last().is_some_and(|p| p.is_null()));
    debug_assert!(plan.envp.last().is_some_and(|p| p.is_null()));
    for (k, &(source, target)) in plan.fds.iter().enumerate() {
        if source < 0 || target < 3 || plan.fds[..k].iter().any(|f| f.1 == target) {
            return Err(Errno(libc::EINVAL));
        }
    }
    // The envp with the pid entries, built here: the child cannot. It may
    // be dropped as soon as fork returns: the child has its own copy.
    let with_pids: Vec<*const c_char>;
    let envp = if plan.pid_env.is_empty() {
        plan.envp
    } else {
        let mut v: Vec<*const c_char> = Vec::with_capacity(plan.envp.len() + plan.pid_env.len());
        for &p in plan.envp.iter().take_while(|p| !p.is_null()) {
            // SAFETY: envp entries are NUL-terminated strings (the
            // ExecPlan contract) that outlive this call.
            let entry = unsafe { CStr::from_ptr(p) }.to_bytes();
            if !plan.pid_env.iter().any(|var| var.names(entry)) {
                v.push(p);
            }
        }
        v.extend(plan.pid_env.iter().map(PidVar::as_ptr));
        v.push(core::ptr::null());
        with_pids = v;
        &with_pids
    };
    // The child reports a failed exec through this CLOEXEC pipe: a
    // successful exec closes it, so EOF means "running".
    let (report_rx, report_tx) = fd::pipe()?;
    if nonblocking {
        // Before fork, so a failure here leaves no child behind. Only the
        // read end's file description changes: the child's write end
        // stays blocking (its one small write fits an empty pipe anyway).
        fd::set_nonblocking(&report_rx)?;
    }
    // SAFETY: tug is single-threaded, so the child is a full copy of a
    // consistent process; it only runs `child_after_fork`, which makes
    // async-signal-safe calls and never returns.
    let pid = check(unsafe { libc::fork() })?;
    if pid == 0 {
        child_after_fork(plan, envp, report_tx.raw());
    }
    // Ours must go, or EOF would never come: only the child's copy may
    // hold the pipe open.
    drop(report_tx);
    Ok((pid, report_rx))
}

/// Tells the parent which setup step failed (and for exec, which
/// candidate), and exits as a shell would.
///
/// # Safety
/// Only called in the forked child, with `report` the report pipe.
unsafe fn child_fail(report: RawFd, step: u8, err: i32, culprit: u16) -> ! {
    let mut msg = [0u8; REPORT_LEN];
    msg[0] = step;
    msg[2..4].copy_from_slice(&culprit.to_ne_bytes());
    msg[4..].copy_from_slice(&err.to_ne_bytes());
    // SAFETY: writing our own buffer to our pipe, then exiting.
    unsafe {
        libc::write(report, msg.as_ptr().cast(), msg.len());
        libc::_exit(if step == 0 {
            exec_failure_code(Errno(err))
        } else {
            126
        });
    }
}

/// Copies every `fds` source (and the report pipe) to numbers above all
/// the descriptors involved, CLOEXEC: returns the first copy's number
/// (copy k is at base + k, the report pipe at base + fds.len()).
///
/// # Safety
/// Only called in the forked child.
unsafe fn stash(plan: &ExecPlan<'_>, report: RawFd) -> core::result::Result<RawFd, i32> {
    let mut top = report.max(2);
    for &(source, target) in plan.fds {
        top = top.max(source).max(target);
    }
    for fd in plan.stdio.iter().flatten() {
        top = top.max(*fd);
    }
    let base = top + 1;
    let sources = plan.fds.iter().map(|f| f.0).chain([report]);
    for (k, source) in sources.enumerate() {
        // dup3, not dup2: the copies must not survive exec. The sweep
        // marks them CLOEXEC too, but its fallback loop only skips them.
        // SAFETY: base + k is above every fd we still need, so this
        // only replaces tug descriptors the child has no use for.
        if unsafe { libc::dup3(source, base + k as RawFd, libc::O_CLOEXEC) } < 0 {
            // SAFETY: reading this thread's errno.
            return Err(unsafe { *libc::__errno_location() });
        }
    }
    Ok(base)
}

fn child_after_fork(plan: &ExecPlan<'_>, envp: &[*const c_char], report: RawFd) -> ! {
    // SAFETY (whole function): only async-signal-safe syscalls on data the
    // parent prepared before fork; no allocation, no locks, no unwinding.
    unsafe {
        if plan.new_group {
            libc::setpgid(0, 0);
        }
        if plan.foreground {
            // SIGTTOU is still ignored here (inherited from tug), so a
            // background caller cannot be stopped by this. ENOTTY/ENXIO
            // just mean there is no terminal to hand over.
            libc::tcsetpgrp(0, libc::getpid());
        }
        // Before stdio's dup2 calls, which may overwrite a source.
        let mut report = report;
        let mut stashed = 0..0;
        if !plan.fds.is_empty() {
            match stash(plan, report) {
                Ok(base) => {
                    let n = plan.fds.len() as RawFd;
                    report = base + n;
                    stashed = base..base + n + 1;
                }
                Err(e) => child_fail(report, 6, e, NO_CULPRIT),
            }
        }
        for (target, fd) in plan.stdio.iter().enumerate() {
            // dup2 clears CLOEXEC on the copy, which is what we want.
            if let Some(fd) = fd
                && libc::dup2(*fd, target as RawFd) < 0
            {
                child_fail(report, 1, *libc::__errno_location(), NO_CULPRIT);
            }
        }
        if let Some(c) = &plan.credentials {
            // Groups first: after setuid we could no longer change them.
            // The syscalls themselves: musl's wrappers would signal every
            // other thread to change its ids too (~1.2 KB of code), and the
            // child of fork has none.
            if libc::syscall(SYS_SETGROUPS, c.groups.len(), c.groups.as_ptr()) != 0 {
                child_fail(report, 3, *libc::__errno_location(), NO_CULPRIT);
            }
            if libc::syscall(SYS_SETGID, c.gid as libc::c_long) != 0 {
                child_fail(report, 4, *libc::__errno_location(), NO_CULPRIT);
            }
            if libc::syscall(SYS_SETUID, c.uid as libc::c_long) != 0 {
                child_fail(report, 5, *libc::__errno_location(), NO_CULPRIT);
            }
        }
        if let Some(dir) = plan.workdir
            && libc::chdir(dir.as_ptr()) != 0
        {
            child_fail(report, 2, *libc::__errno_location(), NO_CULPRIT);
        }
        for (sig, disp) in plan.dispositions {
            libc::sigaction(*sig, disp.as_ptr(), core::ptr::null_mut());
        }
        // Nothing tug inherited or opened may leak into the child. Marking
        // them CLOEXEC (rather than closing) keeps `report` usable until
        // exec. CLOSE_RANGE_CLOEXEC needs Linux 5.11; fall back to a loop.
        let flags = libc::CLOSE_RANGE_CLOEXEC as libc::c_long;
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, flags) != 0 {
            for fd in 3..1024 {
                if fd != report && !stashed.contains(&fd) {
                    libc::close(fd);
                }
            }
        }
        // After the sweep, so the installed fds stay open across exec:
        // dup2 clears CLOEXEC on the copy (the stashed ones keep theirs).
        for (k, &(_, target)) in plan.fds.iter().enumerate() {
            if libc::dup2(stashed.start + k as RawFd, target) < 0 {
                child_fail(report, 6, *libc::__errno_location(), NO_CULPRIT);
            }
        }
        if !plan.pid_env.is_empty() {
            let pid = libc::getpid();
            for var in plan.pid_env {
                var.fill(pid);
            }
        }
        // Last: from here on the child can be interrupted by signals again,
        // exactly as tug's own parent arranged.
        libc::sigprocmask(libc::SIG_SETMASK, plan.mask.as_ptr(), core::ptr::null_mut());

        // Only the errno and the candidate's index go back: working out
        // *why* (reading the file's #! line) is the parent's job, as it
        // needs allocation and is not async-signal-safe.
        let mut err = libc::ENOENT;
        let mut culprit = NO_CULPRIT;
        let mut first_eacces = NO_CULPRIT;
        for (k, path) in plan.candidates.iter().enumerate() {
            libc::execve(path.as_ptr(), plan.argv.as_ptr(), envp.as_ptr());
            err = *libc::__errno_location();
            match err {
                // Not here: try the next PATH entry, as execvp does.
                libc::ENOENT | libc::ENOTDIR => {}
                libc::EACCES if first_eacces == NO_CULPRIT => first_eacces = k as u16,
                libc::EACCES => {}
                _ => {
                    culprit = k as u16;
                    break;
                }
            }
        }
        if first_eacces != NO_CULPRIT && (err == libc::ENOENT || err == libc::ENOTDIR) {
            err = libc::EACCES;
            culprit = first_eacces;
        }
        child_fail(report, 0, err, culprit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_var_is_filled_in_place() {
        let v = PidVar::new("LISTEN_PID").unwrap();
        assert_eq!(v.text(), "LISTEN_PID=");
        v.fill(4_194_304);
        assert_eq!(v.text(), "LISTEN_PID=4194304");
        v.fill(7);
        assert_eq!(v.text(), "LISTEN_PID=7", "a shorter pid is NUL-terminated");
        v.fill(i32::MAX);
        assert_eq!(v.text(), "LISTEN_PID=2147483647");
        assert!(v.names(b"LISTEN_PID=1"));
        assert!(v.names(b"LISTEN_PID="));
        assert!(!v.names(b"LISTEN_PIDS=1"));
        assert!(!v.names(b"LISTEN_PI"));
        assert!(PidVar::new("").is_none());
        assert!(PidVar::new("A=B").is_none());
        assert!(PidVar::new("A\0").is_none());
    }

    #[test]
    fn report_read_without_blocking() {
        let (rx, tx) = fd::pipe().unwrap();
        fd::set_nonblocking(&rx).unwrap();
        assert_eq!(read_report(&rx), Err(Errno::EAGAIN), "nothing written yet");
        // As child_fail writes it: setgid (4), no culprit, EPERM.
        let mut msg = [0u8; REPORT_LEN];
        msg[0] = 4;
        msg[2..4].copy_from_slice(&NO_CULPRIT.to_ne_bytes());
        msg[4..].copy_from_slice(&libc::EPERM.to_ne_bytes());
        assert_eq!(fd::write_raw(tx.raw(), &msg), Ok(REPORT_LEN));
        let want = Failure {
            step: Step::Gid,
            errno: Errno(libc::EPERM),
            culprit: None,
        };
        assert_eq!(read_report(&rx), Ok(Some(want)));
        // An exec failure names its candidate.
        msg[0] = 0;
        msg[2..4].copy_from_slice(&3u16.to_ne_bytes());
        fd::write_raw(tx.raw(), &msg).unwrap();
        let got = read_report(&rx).unwrap().unwrap();
        assert_eq!((got.step, got.culprit), (Step::Exec, Some(3)));
        assert_eq!(read_report(&rx), Err(Errno::EAGAIN));
        drop(tx);
        assert_eq!(read_report(&rx), Ok(None), "EOF: the exec went through");
    }
}
