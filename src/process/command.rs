//! Starting a child: PATH search, argv/envp arrays, then sys::spawn; and
//! when exec fails, saying why in words.
//!
//! "No such file or directory" for a file that exists is the kernel's way
//! of saying its `#!` interpreter (or an ELF binary's dynamic loader) is
//! missing. After the child reports its errno, the parent reads the
//! file's first bytes and names the real culprit. Only on failure, so it
//! costs a normal start nothing.
//!
//! `spawn_with` adds what the service kinds need (`Extras`: descriptors
//! at fixed numbers, environment entries holding the child's pid); plain
//! `spawn` is `spawn_with` with none, and then the child is set up
//! exactly as before they existed.
//!
//! `spawn_detached` is `spawn_with` without the wait for the exec: it
//! returns a `Pending` (pid, report pipe) as soon as the child is forked,
//! and `Pending::poll`, called when the pipe is readable, gives the same
//! answer `spawn` would have put in `Spawned.error`. For inetd
//! connections, where waiting per spawn stops the loop from accepting.
//! Both share the plan building and the failure text, so they cannot
//! drift apart.

use super::signals::Inherited;
use crate::sys::fd::{Fd, RawFd, open_read};
use crate::sys::spawn::{
    Credentials, ExecPlan, PidVar, Step, file_mode, fork_exec, fork_exec_detached, read_report,
};
use crate::sys::{Errno, Result};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{CStr, c_char};

/// The default PATH when the environment has none (as musl's execvp).
const DEFAULT_PATH: &str = "/usr/local/bin:/bin:/usr/bin";

pub struct Command<'a> {
    pub argv: &'a [&'a CStr],
    /// NULL-terminated "NAME=value" pointers for the child.
    pub envp: &'a [*const c_char],
    /// PATH used to find argv[0] (the child's, not necessarily tug's).
    pub path: Option<&'a str>,
    pub new_group: bool,
    pub foreground: bool,
    pub stdio: [Option<RawFd>; 3],
    pub workdir: Option<&'a CStr>,
    pub credentials: Option<Credentials<'a>>,
}

/// What a child gets beyond `Command` (service kinds).
#[derive(Default)]
pub struct Extras<'a> {
    /// (source, target): the child gets a copy of `source` as fd
    /// `target`, not CLOEXEC, so it survives exec. Targets must be 3 or
    /// more and distinct (else spawn fails with EINVAL, before fork);
    /// sources may be any open fd, stdio's included. Socket activation:
    /// `[(l1, 3), (l2, 4)]`; a readiness pipe: `[(w, N)]`.
    pub fds: &'a [(RawFd, RawFd)],
    /// Names of environment variables to set to the child's own pid
    /// (`LISTEN_PID`, `WATCHDOG_PID`); an entry of `envp` with such a name
    /// is replaced. Names must not hold `=` (else EINVAL).
    pub pid_env: &'a [&'a str],
}

/// A started child. On a failed setup it has already exited, with 127 (not
/// found) or 126 (found but not runnable), as a shell would.
pub struct Spawned {
    pub pid: i32,
    /// Why the child could not run its program, as one sentence.
    pub error: Option<String>,
}

/// A child started by `spawn_detached` whose report is not read yet.
///
/// The caller registers `report` in its epoll set for READABLE and calls
/// `poll` on readiness, until it answers Some; then deletes `report`
/// from the epoll set and drops the Pending. Delete first: closing alone
/// does not take it out of the set while another child, forked since and
/// not yet exec'd, holds a copy of it (until its exec closes that). The
/// child's exit may be reaped (SIGCHLD, `reap_one`) before the report is
/// read; that is fine: the pipe stays readable, with the failure's bytes
/// or EOF, after the child is gone, so `poll` still answers the same.
pub struct Pending {
    pub pid: i32,
    /// The report pipe's read end, non-blocking, CLOEXEC.
    pub report: Fd,
    // What explaining a failure needs (the Command's borrows are gone by
    // then). Copies per spawn, a few small allocations: only the text of
    // a failure uses them, but they are only known now.
    candidates: Vec<CString>,
    workdir: Option<CString>,
    program: CString,
}

impl Pending {
    /// None: nothing to read yet (a spurious wake-up; wait again).
    /// Some(Ok): the program runs. Some(Err(why)): the child could not run
    /// it and has exited (127 or 126) or will exit at once; `why` is the
    /// sentence `spawn` gives in `Spawned.error`. Answers once: after
    /// Some the report is spent (asking again says Some(Ok)).
    pub fn poll(&self) -> Option<core::result::Result<(), String>> {
        match read_report(&self.report) {
            Err(Errno::EAGAIN) => None,
            Ok(Some(f)) => Some(Err(failure_text(
                f.step,
                f.errno,
                f.culprit,
                &self.candidates,
                self.workdir.as_deref(),
                &self.program,
            ))),
            // Any other read error counts as "no report", as in `spawn`
            // (which stops reading on any error): there is no failure to
            // tell, and the child's exit will still be reaped.
            Ok(None) | Err(_) => Some(Ok(())),
        }
    }
}

/// What `fork_with` forked: a child whose exec was waited for, or one
/// whose report comes later.
enum Forked {
    Started(crate::sys::spawn::Started),
    Detached(i32, Fd),
}

impl Command<'_> {
    pub fn spawn(self, inherited: &Inherited) -> Result<Spawned> {
        self.spawn_with(inherited, &Extras::default())
    }

    pub fn spawn_with(self, inherited: &Inherited, extras: &Extras<'_>) -> Result<Spawned> {
        let (workdir, program) = (self.workdir, self.argv[0]);
        let (Forked::Started(started), candidates) = self.fork_with(inherited, extras, false)?
        else {
            unreachable!()
        };
        let error = started
            .exec_error
            .map(|(step, e)| failure_text(step, e, started.culprit, &candidates, workdir, program));
        Ok(Spawned {
            pid: started.pid,
            error,
        })
    }

    /// `spawn_with` that does not wait for the child to exec: returns as
    /// soon as it is forked, and the report of its setup comes later
    /// through `Pending` (for inetd connections: the loop keeps
    /// accepting meanwhile). Errors before fork are returned here, as by
    /// `spawn_with`; the child itself is set up identically.
    pub fn spawn_detached(self, inherited: &Inherited, extras: &Extras<'_>) -> Result<Pending> {
        let workdir = self.workdir.map(CString::from);
        let program = CString::from(self.argv[0]);
        let (Forked::Detached(pid, report), candidates) =
            self.fork_with(inherited, extras, true)?
        else {
            unreachable!()
        };
        Ok(Pending {
            pid,
            report,
            candidates,
            workdir,
            program,
        })
    }

    /// Builds the child's plan (PATH candidates, argv, pid entries) and
    /// hands it to `fork`; returns what `fork` gave and the candidates,
    /// which explaining a failed exec needs. One copy for both kinds of
    /// spawn (`detached`: `fork_exec_detached`).
    fn fork_with(
        self,
        inherited: &Inherited,
        extras: &Extras<'_>,
        detached: bool,
    ) -> Result<(Forked, Vec<CString>)> {
        let mut pid_env = Vec::with_capacity(extras.pid_env.len());
        for name in extras.pid_env {
            pid_env.push(PidVar::new(name).ok_or(Errno(libc::EINVAL))?);
        }
        let candidates = search_path(self.argv[0], self.path.unwrap_or(DEFAULT_PATH));
        let candidate_refs: Vec<&CStr> = candidates.iter().map(CString::as_c_str).collect();
        let mut argv: Vec<*const c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(core::ptr::null());
        let plan = ExecPlan {
            candidates: &candidate_refs,
            argv: &argv,
            envp: self.envp,
            new_group: self.new_group,
            foreground: self.foreground,
            mask: &inherited.mask,
            dispositions: &inherited.dispositions,
            stdio: self.stdio,
            workdir: self.workdir,
            credentials: self.credentials,
            fds: extras.fds,
            pid_env: &pid_env,
        };
        let forked = if detached {
            fork_exec_detached(&plan).map(|(pid, fd)| Forked::Detached(pid, fd))?
        } else {
            Forked::Started(fork_exec(&plan)?)
        };
        Ok((forked, candidates))
    }
}

/// The sentence for a failed setup step: for exec, what the file itself
/// tells (`explain`), else the step, the program and the errno.
fn failure_text(
    step: Step,
    e: Errno,
    culprit: Option<usize>,
    candidates: &[CString],
    workdir: Option<&CStr>,
    program: &CStr,
) -> String {
    let explained = (step == Step::Exec)
        .then(|| {
            // Without a culprit every candidate said ENOENT: the
            // first one that exists is the one execvp ran.
            let path = match culprit {
                Some(k) => candidates.get(k)?,
                None => candidates
                    .iter()
                    .find(|c| file_mode(&at(workdir, c)).is_ok())?,
            };
            let why = explain(&at(workdir, path), e, workdir)?;
            Some(format!("cannot run {}: {why}", path.to_string_lossy()))
        })
        .flatten();
    explained.unwrap_or_else(|| {
        format!(
            "{} {} failed: {e}",
            step.describe(),
            program.to_string_lossy()
        )
    })
}

/// `path` as the child saw it: relative to its working directory.
fn at(workdir: Option<&CStr>, path: &CStr) -> CString {
    match workdir {
        Some(dir) if !path.to_bytes().starts_with(b"/") => {
            let mut full = dir.to_bytes().to_vec();
            full.push(b'/');
            full.extend_from_slice(path.to_bytes());
            CString::new(full).unwrap_or_default()
        }
        _ => CString::from(path),
    }
}

const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;

/// Why execve of the existing file `path` failed with `e`, when the file
/// itself tells (None: the errno says it all).
fn explain(path: &CStr, e: Errno, workdir: Option<&CStr>) -> Option<String> {
    let mode = file_mode(path).ok()?;
    let denied = e == Errno(libc::EACCES);
    if denied && mode & S_IFMT == S_IFDIR {
        return Some(format!("it is a directory ({e})"));
    }
    if denied && mode & 0o111 == 0 {
        return Some(format!("it is not executable ({e}: no x permission bit)"));
    }
    // Opening a FIFO or a device to read its head could block the loop.
    if mode & S_IFMT != S_IFREG {
        return denied.then(|| format!("it is not a regular file ({e})"));
    }
    // The kernel reads at most 256 bytes of a #! line; an ELF header and
    // its program headers sit in the first few hundred bytes.
    let mut head = [0u8; 1024];
    let n = open_read(path).and_then(|f| f.read(&mut head)).ok()?;
    let head = &head[..n];
    if let Some(interp) = shebang(head) {
        let interp = CString::new(interp).ok()?;
        let shown = interp.to_string_lossy();
        let imode = file_mode(&at(workdir, &interp));
        return match imode {
            Err(_) if e == Errno::ENOENT => {
                Some(format!("its interpreter {shown} (#! line) was not found"))
            }
            Ok(m) if denied && (m & S_IFMT == S_IFDIR || m & 0o111 == 0) => Some(format!(
                "its interpreter {shown} (#! line) is not executable ({e})"
            )),
            _ => None,
        };
    }
    if head.starts_with(b"\x7fELF") {
        return match e {
            Errno::ENOENT => {
                let interp = String::from_utf8_lossy(elf_interp(head)?);
                Some(format!(
                    "its ELF interpreter {interp} was not found (a binary built for another libc?)"
                ))
            }
            Errno(libc::ENOEXEC) => Some(format!(
                "it is a binary for another CPU architecture or OS ({e})"
            )),
            _ => None,
        };
    }
    (e == Errno(libc::ENOEXEC))
        .then(|| format!("it is neither a binary nor a script with a #! line ({e})"))
}

/// The interpreter of a `#!` line, as the kernel finds it: after optional
/// blanks, up to the next blank or the end of the line.
fn shebang(head: &[u8]) -> Option<&[u8]> {
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let start = line.iter().position(|&b| b != b' ' && b != b'\t')?;
    let rest = &line[start..];
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\t' || b == 0)
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// PT_INTERP of a 64-bit little-endian ELF file's first bytes (the
/// dynamic loader the kernel looks for), if it lies within them.
fn elf_interp(head: &[u8]) -> Option<&[u8]> {
    // ELFCLASS64, ELFDATA2LSB: the only layout tug is built for.
    if head.get(4..6)? != [2, 1] {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(head.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| {
        let v = u64::from_le_bytes(head.get(o..o + 8)?.try_into().ok()?);
        usize::try_from(v).ok()
    };
    let (phoff, phentsize, phnum) = (u64_at(0x20)?, u16_at(0x36)?, u16_at(0x38)?);
    for k in 0..usize::from(phnum) {
        let ph = phoff.checked_add(k.checked_mul(usize::from(phentsize))?)?;
        // The fields read below end at +40: bound them once, so the sums
        // cannot overflow whatever e_phoff says.
        if ph.checked_add(40)? > head.len() {
            return None;
        }
        // p_type 3 = PT_INTERP; p_offset at +8, p_filesz at +32.
        if head.get(ph..ph + 4)? == 3u32.to_le_bytes() {
            let (off, len) = (u64_at(ph + 8)?, u64_at(ph + 32)?);
            let name = head.get(off..off.checked_add(len)?)?;
            return Some(name.strip_suffix(&[0]).unwrap_or(name));
        }
    }
    None
}

/// execvp's rule: a name with a slash is used as is; otherwise every PATH
/// entry is tried in order (an empty entry means the current directory).
pub fn search_path(name: &CStr, path: &str) -> Vec<CString> {
    let bytes = name.to_bytes();
    if bytes.contains(&b'/') || bytes.is_empty() {
        return alloc::vec![CString::from(name)];
    }
    let mut out = Vec::new();
    for dir in path.split(':') {
        let mut full = Vec::with_capacity(dir.len() + 1 + bytes.len());
        if !dir.is_empty() {
            full.extend_from_slice(dir.as_bytes());
            full.push(b'/');
        }
        full.extend_from_slice(bytes);
        if let Ok(c) = CString::new(full) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_search_follows_execvp() {
        let names = |v: Vec<CString>| {
            v.into_iter()
                .map(|c| c.into_string().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(search_path(c"./run", "/bin")), ["./run"]);
        assert_eq!(names(search_path(c"/x/y", "/bin")), ["/x/y"]);
        assert_eq!(
            names(search_path(c"ls", "/a:/b::/c")),
            ["/a/ls", "/b/ls", "ls", "/c/ls"]
        );
    }

    #[test]
    fn shebang_lines_as_the_kernel_reads_them() {
        assert_eq!(shebang(b"#!/bin/bash\necho"), Some(&b"/bin/bash"[..]));
        assert_eq!(
            shebang(b"#! /usr/bin/env python3 -u\n"),
            Some(&b"/usr/bin/env"[..])
        );
        assert_eq!(shebang(b"#!\t/bin/sh"), Some(&b"/bin/sh"[..]));
        assert_eq!(shebang(b"#!\n/bin/sh"), None);
        assert_eq!(shebang(b"echo hi"), None);
    }

    #[test]
    fn elf_program_interpreter() {
        // Header (64 bytes), one program header (56) at 64, the name at 120.
        let mut elf = alloc::vec![0u8; 120];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20] = 64; // e_phoff
        elf[0x36] = 56; // e_phentsize
        elf[0x38] = 1; // e_phnum
        elf[64] = 3; // PT_INTERP
        elf[64 + 8] = 120; // p_offset
        elf[64 + 32] = 11; // p_filesz
        elf.extend_from_slice(b"/lib/ld.so\0");
        assert_eq!(elf_interp(&elf), Some(&b"/lib/ld.so"[..]));
        assert_eq!(elf_interp(&elf[..100]), None, "cut short");
        elf[64] = 1; // PT_LOAD only: statically linked
        assert_eq!(elf_interp(&elf), None);
        // An e_phoff near the end of the address space reads nothing (and
        // does not overflow).
        elf[0x20..0x28].copy_from_slice(&(u64::MAX - 1).to_le_bytes());
        assert_eq!(elf_interp(&elf), None);
    }
}

/// `spawn_with`'s descriptors and pid variables, through real children.
#[cfg(test)]
mod spawn_tests {
    use super::{Command, Extras, Spawned};
    use crate::process::signals::Inherited;
    use crate::sys::fd::Fd;
    use crate::sys::fd::{self, RawFd};
    use crate::sys::listen::{accept_conn, job_tcp_listener, job_unix_listener, local_port};
    use crate::sys::net::Ip;
    use crate::sys::signal::SigSet;
    use crate::sys::{Errno, Result};
    use alloc::ffi::CString;
    use alloc::string::String;
    use core::ffi::c_char;
    use std::io::{Read, Write};

    /// Runs `sh -c SCRIPT` with `pid_env` and the environment `env`,
    /// stdout a pipe; `setup` gets the pipe's write end number (so a test
    /// can aim a passed fd at it) and gives the fds and the script.
    /// Returns the spawn and what the child wrote.
    fn run(
        setup: impl FnOnce(RawFd) -> (Vec<(RawFd, RawFd)>, String),
        pid_env: &[&str],
        env: &[&str],
    ) -> (Result<Spawned>, String) {
        let (r, w) = fd::pipe().unwrap();
        let (fds, script) = setup(w.raw());
        let script = CString::new(script).unwrap();
        let argv = [c"sh", c"-c", script.as_c_str()];
        let env: Vec<CString> = env.iter().map(|e| CString::new(*e).unwrap()).collect();
        let mut envp: Vec<*const c_char> = env.iter().map(|e| e.as_ptr()).collect();
        envp.push(core::ptr::null());
        let inherited = Inherited {
            mask: SigSet::empty(),
            dispositions: Vec::new(),
        };
        let spawned = Command {
            argv: &argv,
            envp: &envp,
            path: Some("/usr/bin:/bin"),
            new_group: false,
            foreground: false,
            stdio: [None, Some(w.raw()), None],
            workdir: None,
            credentials: None,
        }
        .spawn_with(&inherited, &Extras { fds: &fds, pid_env });
        drop(w);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // EOF once the child and any concurrent fork's copy are gone.
        while let Ok(n @ 1..) = r.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        if let Ok(s) = &spawned {
            // Another test's reaper may have taken it first: ECHILD is fine.
            let _ = crate::sys::process::wait_for(s.pid);
        }
        (spawned, String::from_utf8(out).unwrap())
    }

    /// What /proc says fd `fd` of this process is ("socket:[1234]").
    fn link(fd: RawFd) -> String {
        std::fs::read_link(std::format!("/proc/self/fd/{fd}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// Shell text that prints the shell's open fds below 256 on one line,
    /// with builtins only (a child or a pipeline would open fds of its
    /// own).
    const OPEN_FDS: &str = "n=0; while [ $n -lt 256 ]; do [ -e /proc/$$/fd/$n ] && printf '%s ' $n; \
         n=$((n+1)); done; echo";

    fn tcp() -> Fd {
        job_tcp_listener(Ip::V4([127, 0, 0, 1]), 0).unwrap()
    }

    #[test]
    fn socket_activation_shape() {
        let l1 = tcp();
        let name = CString::new(std::format!("@tug-spawn-{}", std::process::id())).unwrap();
        let l2 = job_unix_listener(&name, 0o600).unwrap();
        let script = &std::format!(
            "echo \"$LISTEN_PID $$ $LISTEN_FDS\"; env | grep -c ^LISTEN_PID=; \
             readlink /proc/$$/fd/3 /proc/$$/fd/4; {OPEN_FDS}"
        );
        let (spawned, out) = run(
            |_| (alloc::vec![(l1.raw(), 3), (l2.raw(), 4)], script.into()),
            &["LISTEN_PID"],
            &["LISTEN_PID=stale", "LISTEN_FDS=2", "PATH=/usr/bin:/bin"],
        );
        let spawned = spawned.unwrap();
        assert!(spawned.error.is_none(), "{:?}", spawned.error);
        let lines: Vec<&str> = out.lines().collect();
        let pid = spawned.pid;
        assert_eq!(
            lines[0],
            std::format!("{pid} {pid} 2"),
            "LISTEN_PID is the child's own pid"
        );
        assert_eq!(
            lines[1], "1",
            "the stale LISTEN_PID is replaced, not doubled"
        );
        assert_eq!(lines[2], link(l1.raw()), "fd 3 is the first listener");
        assert_eq!(lines[3], link(l2.raw()), "fd 4 is the second");
        assert_eq!(
            lines[4], "0 1 2 3 4 ",
            "nothing else leaks (stash copies, report pipe)"
        );
    }

    #[test]
    fn passed_fds_may_collide_with_sources_and_stdio() {
        let (a, b, c) = (tcp(), tcp(), tcp());
        let (an, bn) = (a.raw(), b.raw());
        let mut wn = 0;
        // a and b swap numbers; c lands on the number of the stdout pipe,
        // which must still be stdout.
        let (spawned, out) = run(
            |w| {
                wn = w;
                let script = std::format!(
                    "readlink /proc/$$/fd/{an} /proc/$$/fd/{bn} /proc/$$/fd/{w}; \
                     {OPEN_FDS}"
                );
                (alloc::vec![(an, bn), (bn, an), (c.raw(), w)], script)
            },
            &[],
            &["PATH=/usr/bin:/bin"],
        );
        assert!(spawned.unwrap().error.is_none());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], link(bn), "fd {an} is b");
        assert_eq!(lines[1], link(an), "fd {bn} is a");
        assert_eq!(
            lines[2],
            link(c.raw()),
            "fd {wn} is c, stdout still the pipe"
        );
        let mut want: Vec<RawFd> = alloc::vec![0, 1, 2, an, bn, wn];
        want.sort();
        let want: String = want.iter().map(|n| std::format!("{n} ")).collect();
        assert_eq!(lines[3], want);
    }

    #[test]
    fn bad_fd_pairs() {
        let l = tcp();
        let bad = [
            alloc::vec![(l.raw(), 2)],
            alloc::vec![(l.raw(), 3), (l.raw(), 3)],
            alloc::vec![(-1, 3)],
        ];
        for fds in bad {
            let (spawned, _) = run(|_| (fds.clone(), "true".into()), &[], &[]);
            assert_eq!(spawned.err(), Some(Errno(libc::EINVAL)), "{fds:?}");
        }
        let (spawned, _) = run(|_| (alloc::vec![], "true".into()), &["A=B"], &[]);
        assert_eq!(spawned.err(), Some(Errno(libc::EINVAL)));
        // A source that is not open: the child says so and exits 126.
        let (spawned, out) = run(|_| (alloc::vec![(1 << 20, 3)], "echo ran".into()), &[], &[]);
        let why = spawned.unwrap().error.unwrap();
        assert_eq!(why, "passing descriptors to sh failed: Bad file descriptor");
        assert_eq!(out, "");
    }

    #[test]
    fn inetd_shape_cat_echoes_through_the_socket() {
        let l = tcp();
        let port = local_port(&l).unwrap();
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (conn, _) = accept_conn(&l).unwrap().unwrap();
        let inherited = Inherited {
            mask: SigSet::empty(),
            dispositions: Vec::new(),
        };
        let envp = [core::ptr::null()];
        let spawned = Command {
            argv: &[c"cat"],
            envp: &envp,
            path: Some("/usr/bin:/bin"),
            new_group: false,
            foreground: false,
            stdio: [Some(conn.raw()), Some(conn.raw()), None],
            workdir: None,
            credentials: None,
        }
        .spawn(&inherited)
        .unwrap();
        assert!(spawned.error.is_none(), "{:?}", spawned.error);
        drop(conn);
        client.write_all(b"hello\nworld\n").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut echoed = String::new();
        client.read_to_string(&mut echoed).unwrap();
        assert_eq!(echoed, "hello\nworld\n");
        // ECHILD if a reaper took it first.
        let _ = crate::sys::process::wait_for(spawned.pid);
    }
}

/// `spawn_detached` through real children: the same answers as `spawn`,
/// learnt later through the report pipe.
#[cfg(test)]
mod detached_tests {
    use super::{Command, Extras, Pending};
    use crate::process::signals::Inherited;
    use crate::sys::Errno;
    use crate::sys::epoll::{Epoll, READABLE, Ready};
    use crate::sys::fd::{self, RawFd};
    use crate::sys::process::wait_for;
    use crate::sys::signal::SigSet;
    use alloc::string::String;
    use core::ffi::{CStr, c_char};

    fn inherited() -> Inherited {
        Inherited {
            mask: SigSet::empty(),
            dispositions: Vec::new(),
        }
    }

    fn command<'a>(
        argv: &'a [&'a CStr],
        envp: &'a [*const c_char],
        workdir: Option<&'a CStr>,
    ) -> Command<'a> {
        Command {
            argv,
            envp,
            path: Some("/usr/bin:/bin"),
            new_group: false,
            foreground: false,
            stdio: [None, None, None],
            workdir,
            credentials: None,
        }
    }

    /// As the loop does it: waits for the report to be readable, polls,
    /// and waits again on a None.
    fn settle(pending: &Pending) -> Result<(), String> {
        let ep = Epoll::new().unwrap();
        ep.add(pending.report.raw(), 1, READABLE).unwrap();
        let mut ready = [Ready {
            token: 0,
            events: 0,
        }];
        loop {
            assert_eq!(ep.wait(&mut ready), Ok(1));
            if let Some(answer) = pending.poll() {
                return answer;
            }
        }
    }

    /// Exit code, or None if another test's reaper took the child first.
    fn reap(pid: i32) -> Option<i32> {
        wait_for(pid).ok().map(|s| s.code())
    }

    #[test]
    fn true_runs() {
        let envp = [core::ptr::null()];
        let pending = command(&[c"true"], &envp, None)
            .spawn_detached(&inherited(), &Extras::default())
            .unwrap();
        assert_eq!(settle(&pending), Ok(()));
        assert!(matches!(reap(pending.pid), Some(0) | None));
    }

    #[test]
    fn failures_read_as_spawn_says_them() {
        let envp = [core::ptr::null()];
        let cases: [(&CStr, Option<&CStr>, &str); 4] = [
            (
                c"tug-no-such-program",
                None,
                "exec tug-no-such-program failed",
            ),
            (c"/etc/passwd", None, "it is not executable"),
            (c"/", None, "it is a directory"),
            // A relative name with a slash, found through the workdir.
            (c"./etc", Some(c"/"), "cannot run ./etc: it is a directory"),
        ];
        for (program, workdir, part) in cases {
            let argv = [program];
            let sync = command(&argv, &envp, workdir).spawn(&inherited()).unwrap();
            let want = sync.error.expect("spawn reports the failure");
            let sync_code = reap(sync.pid);
            assert!(want.contains(part), "{want:?}");
            let pending = command(&argv, &envp, workdir)
                .spawn_detached(&inherited(), &Extras::default())
                .unwrap();
            // Reaped before the report is read: the report is still there.
            let code = reap(pending.pid);
            assert_eq!(settle(&pending), Err(want.clone()), "{program:?}");
            if let (Some(a), Some(b)) = (code, sync_code) {
                assert_eq!(a, b, "{want}: the same exit code");
                assert!(a == 126 || a == 127, "{want}: {a}");
            }
        }
    }

    #[test]
    fn passed_fds_and_pid_entries() {
        let (r, w) = fd::pipe().unwrap();
        let envp = [core::ptr::null()];
        let argv = [c"sh", c"-c", c"echo $LISTEN_PID >&3"];
        let fds: [(RawFd, RawFd); 1] = [(w.raw(), 3)];
        let extras = Extras {
            fds: &fds,
            pid_env: &["LISTEN_PID"],
        };
        let pending = command(&argv, &envp, None)
            .spawn_detached(&inherited(), &extras)
            .unwrap();
        drop(w);
        assert_eq!(settle(&pending), Ok(()));
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        // EOF once the child and any concurrent fork's copy are gone.
        while let Ok(n @ 1..) = r.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, std::format!("{}\n", pending.pid).into_bytes());
        reap(pending.pid);

        // A source that is not open: the child's own failure, later.
        let fds: [(RawFd, RawFd); 1] = [(1 << 20, 3)];
        let extras = Extras {
            fds: &fds,
            pid_env: &[],
        };
        let pending = command(&argv, &envp, None)
            .spawn_detached(&inherited(), &extras)
            .unwrap();
        assert_eq!(
            settle(&pending).unwrap_err(),
            "passing descriptors to sh failed: Bad file descriptor"
        );
        assert!(matches!(reap(pending.pid), Some(126) | None));

        // A bad plan fails before fork, at once.
        let fds: [(RawFd, RawFd); 1] = [(0, 2)];
        let extras = Extras {
            fds: &fds,
            pid_env: &[],
        };
        let err = command(&argv, &envp, None)
            .spawn_detached(&inherited(), &extras)
            .err();
        assert_eq!(err, Some(Errno(libc::EINVAL)));
    }
}
