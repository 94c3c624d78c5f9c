//! `Sink`: the bounded, non-blocking writer behind one log output (stdout,
//! stderr, or a file — `logs::file::LogFile` wraps one), driven by the
//! supervisor's loop.
//!
//! Contract:
//! - `push` appends one whole record to the buffer, always: a record is
//!   never split and never refused, so no output can lose what the router
//!   handed it. It returns false once the buffer holds `bound` bytes or
//!   more: the caller then stops reading the sources that feed this output
//!   (job pipes, the syslog socket), so their writers block in the kernel
//!   instead of tug dropping lines, and resumes them when `has_room(n)`
//!   says the next record fits. The bound is overshot by one record at
//!   most.
//! - `flush` writes what the fd takes now, never waiting: it returns how
//!   much went out and how much is left. Call it after a round of pushes
//!   and when the fd reports WRITABLE.
//! - `wants_writable`: data waits (only after the fd said EAGAIN, since
//!   `flush` writes until then). The caller registers `fd()` for WRITABLE
//!   only while this is true, so an idle tug makes no wake-ups. Regular
//!   files never want it (epoll refuses them, and they never say EAGAIN).
//! - A write error other than EAGAIN (EPIPE: the reader is gone; ENOSPC,
//!   EIO) discards what is buffered and says how many bytes were lost:
//!   keeping it would hold back-pressure on the sources for ever, since
//!   nothing would ever drain it. Later records are tried again.
//! - `drain_blocking(deadline)` is for shutdown, after the loop: it waits
//!   (poll, bounded by the deadline on `sys::time::now_ns`'s clock) until
//!   everything is written or the deadline passes.
//!
//! Decisions: how to write without blocking to an fd tug inherited.
//! Setting O_NONBLOCK on stdout with fcntl changes the *open file
//! description*, which every process holding it shares: the container
//! runtime's other holders and, above all, tug's own children that
//! inherit stdout (`logging.raw` jobs) would start getting EAGAIN, which
//! most programs treat as a fatal write error (the well-known Node.js
//! stdio problem). So, by what fstat says the fd is:
//! - a socket (journald's stdout stream, a socketpair): `send` with
//!   MSG_DONTWAIT, non-blocking per call, no flag changed;
//! - a regular file or block device: plain blocking `write`. Files never
//!   return EAGAIN (O_NONBLOCK has no effect on them) and epoll refuses
//!   them; a slow disk costs the loop the time of the write, which no
//!   flag can avoid short of threads or io_uring;
//! - a pipe, FIFO or tty (docker and containerd hand FIFOs or a pty):
//!   open it again through /proc/self/fd/N with O_NONBLOCK. That makes a
//!   new open file description of the same pipe or tty, so the flag is
//!   tug's alone and the inherited fd stays blocking for everyone else.
//!   libuv does the same for ttys (uv_tty_init reopens them so it can set
//!   O_NONBLOCK without affecting other processes); runc
//!   (fixStdioPermissions) and LXC chown PID 1's stdio to the container's
//!   user, so a non-root tug can open it again too;
//!   Not for a pty master (reopening it would open /dev/ptmx: a new pty).
//! - if that open fails (no /proc, EACCES, a FIFO with no reader): for a
//!   FIFO, `pwritev2(RWF_NOWAIT)`, non-blocking per call (pipes support it
//!   from Linux 6.4); where that says EOPNOTSUPP (older kernels, and for
//!   anything else), the last resort is O_NONBLOCK on the shared
//!   description, because a loop blocked on a stalled `docker logs`
//!   reader (no reaping, no signals, no health checks) is worse than a
//!   raw job seeing EAGAIN. The flag is cleared again when the sink is
//!   dropped (the terminal is left as found). `how()` names the choice
//!   for a debug line.
//!
//! (tini and dumb-init never write their children's output: the children
//! inherit stdout and tug's problem does not arise for them; s6-log and
//! svlogd write files only, blocking.)

use crate::sys::Errno;
use crate::sys::fd::{Fd, RawFd, write_raw};
use crate::sys::file;
use crate::sys::time::now_ns;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// A good default bound: a few seconds of a busy output, small next to
/// tug's footprint.
pub const BOUND: usize = 1 << 20;

/// Capacity kept by an empty buffer: a burst that filled the bound does
/// not stay resident once it is written.
const KEEP: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// write(2), blocking: regular files and block devices.
    File,
    /// write(2) on an fd with O_NONBLOCK (tug's own reopened one, or the
    /// shared one as the last resort).
    Nonblocking,
    /// send(MSG_DONTWAIT | MSG_NOSIGNAL).
    Send,
    /// pwritev2(RWF_NOWAIT).
    NoWait,
}

/// What one `flush` did: bytes written now, bytes still buffered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flushed {
    pub written: usize,
    pub left: usize,
}

pub struct Sink {
    fd: RawFd,
    /// The fd tug opened (a file, or stdout reopened); None for a
    /// borrowed stdout/stderr, which is never closed.
    own: Option<Fd>,
    way: Way,
    /// tug set O_NONBLOCK on a shared fd: cleared again on drop, so the
    /// terminal or pipe is left as it was found.
    restore: bool,
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    head: usize,
    bound: usize,
    name: String,
}

impl Sink {
    /// A sink for an fd tug inherited (1 or 2), chosen as the header says.
    /// `name` ("stdout") prefixes error messages.
    pub fn stdio(fd: RawFd, name: &str, bound: usize) -> Sink {
        let mut restore = false;
        let (own, way) = match file::fstat(fd).map(|s| s.kind) {
            Ok(file::S_IFSOCK) => (None, Way::Send),
            Ok(file::S_IFREG | file::S_IFBLK) | Err(_) => (None, Way::File),
            Ok(kind) => {
                let master = file::is_pty_master(fd);
                let own = if master {
                    None
                } else {
                    file::reopen_nonblocking(fd).ok()
                };
                match own {
                    Some(own) => (Some(own), Way::Nonblocking),
                    None if kind == file::S_IFIFO => (None, Way::NoWait),
                    None => {
                        // Nothing better is left (see the header); if even
                        // this fails, writes block as they did before.
                        restore = file::set_nonblocking_raw(fd, true).unwrap_or(false);
                        (None, Way::Nonblocking)
                    }
                }
            }
        };
        let fd = own.as_ref().map_or(fd, Fd::raw);
        let mut sink = Sink::with(fd, own, way, name, bound);
        sink.restore = restore;
        sink
    }

    /// A sink for a regular file tug opened (O_APPEND): blocking writes.
    pub fn file(fd: Fd, name: &str, bound: usize) -> Sink {
        Sink::with(fd.raw(), Some(fd), Way::File, name, bound)
    }

    fn with(fd: RawFd, own: Option<Fd>, way: Way, name: &str, bound: usize) -> Sink {
        Sink {
            fd,
            own,
            way,
            restore: false,
            buf: Vec::new(),
            head: 0,
            bound,
            name: name.into(),
        }
    }

    /// The fd to register for WRITABLE while `wants_writable`.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// How this sink writes, for a debug line.
    pub fn how(&self) -> &'static str {
        match self.way {
            Way::File => "blocking write (a regular file)",
            Way::Nonblocking if self.own.is_some() => "its own non-blocking open",
            Way::Nonblocking => "O_NONBLOCK on the shared fd",
            Way::Send => "send(MSG_DONTWAIT)",
            Way::NoWait => "pwritev2(RWF_NOWAIT)",
        }
    }

    /// Bytes buffered, not yet written.
    pub fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one whole record; false when the buffer is at its bound
    /// (stop reading the sources feeding this output).
    pub fn push(&mut self, record: &[u8]) -> bool {
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        }
        self.buf.extend_from_slice(record);
        self.len() < self.bound
    }

    /// Whether `n` more bytes fit under the bound.
    pub fn has_room(&self, n: usize) -> bool {
        self.len() + n <= self.bound
    }

    pub fn wants_writable(&self) -> bool {
        self.way != Way::File && !self.is_empty()
    }

    fn write_some(&mut self) -> Result<usize, Errno> {
        let data = &self.buf[self.head..];
        match self.way {
            Way::File | Way::Nonblocking => write_raw(self.fd, data),
            Way::Send => file::send_nowait(self.fd, data),
            Way::NoWait => match file::write_nowait(self.fd, data) {
                Err(file::EOPNOTSUPP) => {
                    self.restore = file::set_nonblocking_raw(self.fd, true).unwrap_or(false);
                    self.way = Way::Nonblocking;
                    write_raw(self.fd, data)
                }
                other => other,
            },
        }
    }

    /// Writes what the fd takes without waiting (a file: everything).
    pub fn flush(&mut self) -> Result<Flushed, String> {
        let mut written = 0;
        while !self.is_empty() {
            match self.write_some() {
                Ok(0) => return Err(self.lose("the write returned 0".into())),
                Ok(n) => {
                    self.head += n;
                    written += n;
                }
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(self.lose(format!("{e}"))),
            }
        }
        // Keep the buffer from growing behind a slow reader: move the
        // unwritten tail down once the written part dominates.
        if self.head > 0 && self.head >= self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        if self.buf.is_empty() && self.buf.capacity() > KEEP {
            self.buf.shrink_to(KEEP);
        }
        Ok(Flushed {
            written,
            left: self.len(),
        })
    }

    fn lose(&mut self, why: String) -> String {
        let lost = self.len();
        self.buf.clear();
        self.head = 0;
        format!("{}: {why}; {lost} buffered bytes lost", self.name)
    }

    /// Writes everything before exit, waiting at most until `deadline_ns`
    /// (`sys::time::now_ns`). Err says what was left unwritten.
    pub fn drain_blocking(&mut self, deadline_ns: u64) -> Result<(), String> {
        loop {
            if self.flush()?.left == 0 {
                return Ok(());
            }
            let now = now_ns();
            if now >= deadline_ns {
                return Err(format!(
                    "{}: {} bytes not written before the deadline",
                    self.name,
                    self.len()
                ));
            }
            let ms = ((deadline_ns - now).div_ceil(1_000_000)).min(i32::MAX as u64) as i32;
            file::wait_writable(self.fd, ms).map_err(|e| self.lose(format!("poll: {e}")))?;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if self.restore {
            let _ = file::set_nonblocking_raw(self.fd, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fd::{pipe, read_raw};
    use crate::sys::listen::is_nonblocking;

    fn records() -> Vec<Vec<u8>> {
        (0..)
            .map(|i| format!("line {i:06} {}\n", "x".repeat(90)).into_bytes())
            .take(4000)
            .collect()
    }

    #[test]
    fn a_pipe_nobody_reads_fills_to_the_bound_then_drains_in_order() {
        let (r, w) = pipe().unwrap();
        let mut sink = Sink::stdio(w.raw(), "stdout", 64 * 1024);
        assert_eq!(sink.how(), "its own non-blocking open");
        assert!(
            !is_nonblocking(&w).unwrap(),
            "the inherited fd stays blocking"
        );
        assert!(!sink.wants_writable(), "idle: no WRITABLE registration");

        let mut sent = Vec::new();
        let mut pushed = 0;
        for rec in records() {
            sent.extend_from_slice(&rec);
            pushed += 1;
            if !sink.push(&rec) {
                break;
            }
            // As the loop does after each round; must come back at once
            // once the pipe (64 KiB) is full.
            sink.flush().unwrap();
        }
        assert!(
            pushed < 4000,
            "the bound said no before the records ran out"
        );
        // The pipe may still take a few bytes into its last page.
        sink.flush().unwrap();
        let f = sink.flush().unwrap();
        assert_eq!(f.written, 0, "the pipe is full");
        assert!(f.left >= 64 * 1024 && sink.wants_writable());
        assert!(!sink.has_room(1));

        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                match read_raw(r.raw(), &mut chunk).unwrap() {
                    0 => return got,
                    n => got.extend_from_slice(&chunk[..n]),
                }
            }
        });
        sink.drain_blocking(now_ns() + 10_000_000_000).unwrap();
        assert!(!sink.wants_writable());
        drop(sink);
        drop(w);
        let got = reader.join().unwrap();
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "everything arrived, in order");
    }

    #[test]
    fn drain_blocking_gives_up_at_the_deadline() {
        let (_r, w) = pipe().unwrap();
        let mut sink = Sink::stdio(w.raw(), "stdout", BOUND);
        sink.push(&[b'x'; 200 * 1024]);
        let t0 = now_ns();
        let err = sink.drain_blocking(t0 + 50_000_000).unwrap_err();
        let took = now_ns() - t0;
        assert!((50_000_000..2_000_000_000).contains(&took), "{took} ns");
        assert!(err.starts_with("stdout: ") && err.contains("not written before the deadline"));
        assert_eq!(sink.len(), 200 * 1024 - 65536, "{err}");
    }

    #[test]
    fn rwf_nowait_and_send_do_not_block_either() {
        // pwritev2(RWF_NOWAIT) on a pipe (or the fallback it takes on an
        // older kernel), without reopening.
        let (_r, w) = pipe().unwrap();
        let mut sink = Sink::with(w.raw(), None, Way::NoWait, "fifo", BOUND);
        sink.push(&[b'y'; 100 * 1024]);
        let f = sink.flush().unwrap();
        assert_eq!((f.written, f.left), (65536, 100 * 1024 - 65536));
        // Linux 6.4+: no flag was changed on the pipe (older: the fallback).
        let nowait = sink.how() == "pwritev2(RWF_NOWAIT)";
        assert_eq!(is_nonblocking(&w).unwrap(), !nowait);
        std::println!("pipe written with {}", sink.how());
        drop(sink);
        assert!(!is_nonblocking(&w).unwrap());

        // A socket: send(MSG_DONTWAIT) on a blocking socketpair.
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut sink = Sink::stdio(std::os::fd::AsRawFd::as_raw_fd(&a), "sock", BOUND);
        assert_eq!(sink.how(), "send(MSG_DONTWAIT)");
        sink.push(&[b'z'; 4 << 20]);
        let f = sink.flush().unwrap();
        assert!(f.written > 0 && f.left > 0, "{f:?}");
    }

    #[test]
    fn a_gone_reader_loses_the_buffer_and_says_so() {
        let (r, w) = pipe().unwrap();
        let mut sink = Sink::stdio(w.raw(), "stdout", BOUND);
        drop(r);
        sink.push(b"hello\n");
        let err = sink.flush().unwrap_err();
        assert_eq!(err, "stdout: Broken pipe; 6 buffered bytes lost");
        assert!(sink.is_empty() && sink.push(b"again\n"));
    }

    #[test]
    fn a_tty_nobody_reads_is_reopened_not_flagged_and_a_pty_master_is_not_reopened() {
        let (master, slave) = file::open_pty().unwrap();
        assert!(file::is_pty_master(master.raw()) && !file::is_pty_master(slave.raw()));
        let mut sink = Sink::stdio(slave.raw(), "stdout", BOUND);
        assert_eq!(sink.how(), "its own non-blocking open");
        assert!(
            !is_nonblocking(&slave).unwrap(),
            "the inherited tty stays blocking"
        );
        sink.push(&[b'a'; 512 * 1024]);
        let f = sink.flush().unwrap();
        assert!(
            f.written > 0 && f.left > 0 && sink.wants_writable(),
            "{f:?}"
        );

        // Reading the master lets it all through (no \n: no ONLCR change).
        let total = 512 * 1024;
        let reader = std::thread::spawn(move || {
            let (mut got, mut chunk) = (0, [0u8; 8192]);
            while got < total {
                let n = read_raw(master.raw(), &mut chunk).unwrap();
                assert!(chunk[..n].iter().all(|&b| b == b'a'));
                got += n;
            }
            (got, master)
        });
        sink.drain_blocking(now_ns() + 10_000_000_000).unwrap();
        let (got, master) = reader.join().unwrap();
        assert_eq!(got, total);

        // The master side: never reopened (that would be a new pty). The
        // shared flag it must set is cleared again when the sink goes.
        let sink = Sink::stdio(master.raw(), "stdout", BOUND);
        assert_eq!(sink.how(), "O_NONBLOCK on the shared fd");
        assert!(is_nonblocking(&master).unwrap());
        drop(sink);
        assert!(!is_nonblocking(&master).unwrap(), "left as found");
    }
}
