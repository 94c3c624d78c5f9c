//! The built-in syslog's sources as loop components: a unix datagram
//! socket (`/dev/log`), UDP and TCP. Each reads what the kernel has
//! queued, never blocking, and turns every message into a `Record` with
//! `syslog::parse` (TCP frames first through `framing::Decoder`). The
//! owner (the supervisor) registers the fds, calls in on readiness and
//! routes the records.
//!
//! Contract:
//! - `UnixSource::recv_all` / `UdpSource::recv_all` take at most `limit`
//!   datagrams per call and say whether more may be queued (true: the
//!   limit stopped them). `TcpSource::on_conn` likewise adds at most about
//!   `limit` records (one read's worth of frames more at worst: 64 KiB).
//! - Back-pressure is the owner's: when its outputs are full it stops
//!   calling and takes the fds out of epoll (epoll is level-triggered: a
//!   readable socket left in the set wakes every turn). Unix datagram
//!   senders then block in the kernel once the queue is full
//!   (net.unix.max_dgram_qlen datagrams, or their send buffer), or get
//!   EAGAIN if they are non-blocking: glibc, musl, util-linux `logger`
//!   and Python's handler all send blocking, so nothing is lost. A TCP
//!   sender blocks when the windows fill. UDP has no back-pressure: the
//!   kernel drops what the receive buffer cannot hold (that is UDP).
//!   `TcpSource` has `pause`/`resume` for its many fds.
//! - Never dropped: every datagram or frame gives one record (an empty
//!   datagram, which holds nothing, gives none). A datagram larger than
//!   the receive buffer is kept as far as it fits, counted in
//!   `Stats::truncated` and reported in a note; a TCP message longer than
//!   `framing::MAX_FRAME` arrives in pieces, each its own record.
//! - Notes (`take_notes`) are clear text for tug's own log ("syslog
//!   /dev/log: a 300000-byte datagram was cut to 262144 bytes"). At most
//!   `MAX_NOTES` wait; beyond that they are only counted, so a flood of
//!   bad senders cannot grow memory.
//!
//! Decisions:
//! - The unix socket file gets mode 0666: every process in the container
//!   may log, as with every syslogd. A stale file (a socket nobody
//!   receives on: a previous tug that died) is replaced; a live socket or
//!   a file that is not a socket is an error, never removed.
//! - SO_PASSCRED is on for the unix socket: the kernel attaches the
//!   sender's pid to each datagram, and a message that names no pid
//!   (`logger` without `-i`, Python's handler) gets it. A pid the message
//!   names is kept as sent (it is what the program meant to say); pid 0
//!   (a sender in a pid namespace tug cannot see) is not used.
//! - Receive buffers: 256 KiB for the unix socket (a datagram there is
//!   limited by the sender's SO_SNDBUF, 212992 bytes by default, so every
//!   default sender's message fits whole; MSG_TRUNC reports the real
//!   length of a larger one), 64 KiB for UDP (the largest UDP payload is
//!   65507 bytes). One buffer per source, allocated once. The socket's
//!   own buffer is asked for 1 MiB (`RCVBUF`).
//! - TCP: at most `MAX_CONNS` connections. At the cap the listener leaves
//!   the epoll set (as `service::listen::Acceptor` does), so new
//!   connections wait in the kernel's backlog instead of waking the loop
//!   every turn; it comes back when a connection closes. A resource error
//!   from accept (EMFILE...) also takes it out, until a connection closes
//!   or the owner calls `retry`. Idle connections are kept: a forwarder
//!   may stay connected for days between messages.
//! - TCP tokens: the owner gives one base token and reserves `TOKENS`
//!   from it. `base` is the listener, `base + 1 + i` connection slot `i`
//!   (`0..MAX_CONNS`); slots are reused after a connection closes.
//!   `owns(token)` tells the owner where to dispatch.

use super::Record;
use super::framing::{Decoder, Frame, MAX_FRAME};
use super::syslog::parse;
use crate::event_loop::{EventLoop, READABLE};
use crate::net::interfaces::ip_text;
use crate::quote::q;
use crate::sys::Errno;
use crate::sys::dgram;
use crate::sys::fd::{self, Fd};
use crate::sys::listen;
use crate::sys::net::Ip;
use crate::sys::notify;
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// The unix socket's datagram buffer (module docs).
pub const UNIX_BUF: usize = 256 * 1024;
/// UDP's: the largest UDP payload fits.
pub const UDP_BUF: usize = 64 * 1024;
/// The socket receive buffer asked for.
pub const RCVBUF: usize = 1 << 20;
/// TCP connections at once.
pub const MAX_CONNS: usize = 64;
/// Tokens a `TcpSource` uses from its base.
pub const TOKENS: u64 = 1 + MAX_CONNS as u64;
/// Notes kept until `take_notes`.
pub const MAX_NOTES: usize = 16;
/// One TCP read.
const READ: usize = 64 * 1024;
/// At most this many bytes from one connection per `on_conn`, so one
/// busy sender cannot hold the loop.
const READ_PER_CALL: usize = 1 << 20;

/// Counters for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records produced and the bytes they came from.
    pub records: u64,
    pub bytes: u64,
    /// Datagrams cut at the buffer, TCP messages split at `MAX_FRAME`.
    pub truncated: u64,
    /// Receive, accept and connection errors.
    pub errors: u64,
    /// Notes not kept because `MAX_NOTES` were waiting.
    pub notes_dropped: u64,
    /// TCP: connections accepted.
    pub connections: u64,
}

/// Bounded notes for tug's own log (module docs).
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    fn add(&mut self, stats: &mut Stats, note: String) {
        if self.0.len() < MAX_NOTES {
            self.0.push(note);
        } else {
            stats.notes_dropped += 1;
        }
    }
}

/// What the datagram sources share: the socket, its buffer, the counters.
pub struct Dgram {
    fd: Fd,
    buf: Vec<u8>,
    name: String,
    /// What the kernel granted for `RCVBUF` (0: it refused).
    rcvbuf: usize,
    stats: Stats,
    notes: Notes,
}

impl Dgram {
    fn new(fd: Fd, buf: usize, name: String) -> Dgram {
        // A smaller buffer than asked is still a working source: the
        // kernel caps it at rmem_max without CAP_NET_ADMIN.
        let rcvbuf = dgram::set_rcvbuf(&fd, RCVBUF).unwrap_or(0);
        Dgram {
            fd,
            rcvbuf,
            buf: vec![0; buf],
            name,
            stats: Stats::default(),
            notes: Notes::default(),
        }
    }

    pub fn fd(&self) -> &Fd {
        &self.fd
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The socket receive buffer the kernel granted (SO_RCVBUF's figure).
    pub fn rcvbuf(&self) -> usize {
        self.rcvbuf
    }

    pub fn take_notes(&mut self) -> Vec<String> {
        core::mem::take(&mut self.notes.0)
    }

    /// Reads up to `limit` datagrams into `out` (module docs); true: more
    /// may be queued.
    pub fn recv_all(
        &mut self,
        now: (i64, u32),
        offset: i32,
        out: &mut Vec<Record>,
        limit: usize,
    ) -> bool {
        for _ in 0..limit {
            let got = match notify::recv(&self.fd, &mut self.buf) {
                Ok(Some(got)) => got,
                Ok(None) => return false,
                Err(e) => {
                    // Nothing a datagram socket reports is about one
                    // message; the next readiness tries again.
                    self.stats.errors += 1;
                    let note = format!("syslog {}: receive: {e}", self.name);
                    self.notes.add(&mut self.stats, note);
                    return false;
                }
            };
            if got.len == 0 {
                continue;
            }
            let n = got.len.min(self.buf.len());
            let mut rec = parse(&self.buf[..n], now, offset);
            if rec.pid.is_none()
                && let Some((pid, _, _)) = got.cred
                && pid > 0
            {
                rec.pid = Some(pid);
            }
            if got.truncated {
                self.stats.truncated += 1;
                let from = match got.cred {
                    Some((pid, _, _)) if pid > 0 => format!(" from pid {pid}"),
                    _ => String::new(),
                };
                let note = format!(
                    "syslog {}: a {}-byte datagram{from} was cut to {n} bytes",
                    self.name, got.len
                );
                self.notes.add(&mut self.stats, note);
            }
            self.stats.records += 1;
            self.stats.bytes += n as u64;
            out.push(rec);
        }
        true
    }
}

/// The unix datagram socket (`/dev/log`).
pub struct UnixSource {
    d: Dgram,
    path: String,
}

impl UnixSource {
    /// Binds `path` (module docs: mode 0666, a stale file replaced). The
    /// error names the path and says what is wrong.
    pub fn bind(path: &str) -> Result<UnixSource, String> {
        let cpath = CString::new(path)
            .map_err(|_| format!("syslog socket {path}: NUL in path", path = q(&path)))?;
        let fail = |e: Errno| format!("cannot bind the syslog socket {path}: {e}");
        let fd = match dgram::unix_bind(&cpath, 0o666, true) {
            Err(Errno(libc::EADDRINUSE)) if !listen::is_abstract(path.as_bytes()) => {
                replace_stale(&cpath, path)?;
                dgram::unix_bind(&cpath, 0o666, true).map_err(fail)?
            }
            r => r.map_err(fail)?,
        };
        Ok(UnixSource {
            d: Dgram::new(fd, UNIX_BUF, path.into()),
            path: path.into(),
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Closes the socket and removes its file (when the config no longer
    /// names it, or at exit). Only a socket is ever removed.
    pub fn remove(self) {
        let UnixSource { d, path } = self;
        drop(d);
        if !listen::is_abstract(path.as_bytes())
            && let Ok(cpath) = CString::new(path.as_bytes())
            && listen::is_socket(&cpath) == Ok(true)
        {
            let _ = listen::unlink(&cpath);
        }
    }
}

/// Removes the socket file at `cpath` if nobody receives on it.
fn replace_stale(cpath: &CString, path: &str) -> Result<(), String> {
    let what = format!("cannot bind the syslog socket {path}");
    match listen::is_socket(cpath) {
        Ok(true) => {}
        Ok(false) => return Err(format!("{what}: the file exists and is not a socket")),
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(format!("{what}: {e}")),
    }
    if dgram::unix_is_live(cpath) {
        return Err(format!("{what}: another process receives there"));
    }
    match listen::unlink(cpath) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(format!("{what}: cannot remove the stale socket: {e}")),
    }
}

/// A UDP socket (`udp: "127.0.0.1:514"`).
pub struct UdpSource {
    d: Dgram,
}

impl UdpSource {
    pub fn bind(ip: Ip, port: u16) -> Result<UdpSource, String> {
        let name = addr_text(ip, port);
        let fd = dgram::udp_bind(ip, port)
            .map_err(|e| format!("cannot bind the syslog UDP socket {name}: {e}"))?;
        Ok(UdpSource {
            d: Dgram::new(fd, UDP_BUF, format!("udp {name}")),
        })
    }

    /// The bound port (the kernel's choice for port 0).
    pub fn local_port(&self) -> Option<u16> {
        listen::local_port(&self.d.fd).ok()
    }
}

/// Both datagram sources are a `Dgram` (the socket, its buffer, the
/// counters and notes) plus what is their own.
macro_rules! dgram_source {
    ($t:ty) => {
        impl core::ops::Deref for $t {
            type Target = Dgram;
            fn deref(&self) -> &Dgram {
                &self.d
            }
        }
        impl core::ops::DerefMut for $t {
            fn deref_mut(&mut self) -> &mut Dgram {
                &mut self.d
            }
        }
    };
}
dgram_source!(UnixSource);
dgram_source!(UdpSource);

/// `1.2.3.4:514`, `[::1]:514` (the shortest IPv6 form, as elsewhere).
pub fn addr_text(ip: Ip, port: u16) -> String {
    match ip {
        Ip::V4(_) => format!("{}:{port}", ip_text(&ip)),
        Ip::V6(_) => format!("[{}]:{port}", ip_text(&ip)),
    }
}

fn peer_text(peer: &listen::Peer) -> String {
    match *peer {
        listen::Peer::Inet(ip, port) => addr_text(ip, port),
        listen::Peer::Unix => "unix".into(),
    }
}

struct Conn {
    fd: Fd,
    dec: Decoder,
    peer: String,
}

/// The TCP listener and its connections (module docs).
pub struct TcpSource {
    listener: Fd,
    base: u64,
    conns: Vec<Option<Conn>>,
    /// The listener is in the epoll set.
    listening: bool,
    /// Connections' fds are in the set (false: paused, or not yet
    /// watched).
    active: bool,
    /// accept hit a resource error: the listener stays out until a
    /// connection closes or `retry`.
    failed: bool,
    buf: Vec<u8>,
    name: String,
    stats: Stats,
    notes: Notes,
}

impl TcpSource {
    /// Listens on `ip:port`; `base` is the first of the `TOKENS` tokens
    /// (module docs). Not yet in the loop: call `resume`.
    pub fn bind(ip: Ip, port: u16, base: u64) -> Result<TcpSource, String> {
        let name = addr_text(ip, port);
        let listener = listen::tcp_listener(ip, port)
            .map_err(|e| format!("cannot listen for syslog on tcp {name}: {e}"))?;
        Ok(TcpSource {
            listener,
            base,
            conns: core::iter::repeat_with(|| None).take(MAX_CONNS).collect(),
            listening: false,
            active: false,
            failed: false,
            buf: vec![0; READ],
            name: format!("tcp {name}"),
            stats: Stats::default(),
            notes: Notes::default(),
        })
    }

    pub fn local_port(&self) -> Option<u16> {
        listen::local_port(&self.listener).ok()
    }

    /// Whether `token` is one of this source's.
    pub fn owns(&self, token: u64) -> bool {
        token.wrapping_sub(self.base) < TOKENS
    }

    pub fn is_listener(&self, token: u64) -> bool {
        token == self.base
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.conns.iter().filter(|c| c.is_some()).count()
    }

    /// Whether the listener is in the epoll set now.
    pub fn listening(&self) -> bool {
        self.listening
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn take_notes(&mut self) -> Vec<String> {
        core::mem::take(&mut self.notes.0)
    }

    /// Puts the listener (below the cap) and every connection in the
    /// epoll set: at start, and when the outputs have room again.
    pub fn resume(&mut self, lp: &EventLoop) -> Result<(), String> {
        if !self.active {
            for (i, c) in self.conns.iter().enumerate() {
                if let Some(c) = c {
                    lp.register(c.fd.raw(), self.base + 1 + i as u64, READABLE)
                        .map_err(|e| format!("syslog {}: watching a connection: {e}", self.name))?;
                }
            }
            self.active = true;
        }
        self.sync_listener(lp)
    }

    /// Takes every fd out of the epoll set (the outputs are full): the
    /// senders block once the kernel's buffers fill.
    pub fn pause(&mut self, lp: &EventLoop) {
        if self.active {
            for c in self.conns.iter().flatten() {
                let _ = lp.deregister(c.fd.raw());
            }
            self.active = false;
        }
        let _ = self.sync_listener(lp);
    }

    /// Ends the pause after an accept resource error (the owner's
    /// back-off timer).
    pub fn retry(&mut self, lp: &EventLoop) -> Result<(), String> {
        self.failed = false;
        self.sync_listener(lp)
    }

    /// The listener is watched exactly when active, below the cap and not
    /// failed.
    fn sync_listener(&mut self, lp: &EventLoop) -> Result<(), String> {
        let want = self.active && !self.failed && self.connections() < MAX_CONNS;
        if want != self.listening {
            let r = if want {
                lp.register(self.listener.raw(), self.base, READABLE)
            } else {
                lp.deregister(self.listener.raw())
            };
            r.map_err(|e| format!("syslog {}: watching the listener: {e}", self.name))?;
            self.listening = want;
        }
        Ok(())
    }

    /// The listener is readable: accepts what is queued, up to the cap.
    pub fn on_listener(&mut self, lp: &EventLoop) {
        while !self.failed {
            let Some(slot) = self.conns.iter().position(|c| c.is_none()) else {
                break;
            };
            match listen::accept_conn(&self.listener) {
                Ok(Some((fd, peer))) => {
                    // accept_conn gives a blocking socket (for children);
                    // the loop reads this one.
                    if let Err(e) = fd::set_nonblocking(&fd) {
                        self.error(format!("syslog {}: accept: {e}", self.name));
                        continue;
                    }
                    let token = self.base + 1 + slot as u64;
                    if self.active
                        && let Err(e) = lp.register(fd.raw(), token, READABLE)
                    {
                        self.error(format!("syslog {}: watching a connection: {e}", self.name));
                        continue;
                    }
                    self.stats.connections += 1;
                    self.conns[slot] = Some(Conn {
                        fd,
                        dec: Decoder::new(MAX_FRAME),
                        peer: peer_text(&peer),
                    });
                }
                Ok(None) => break,
                // A connection that died in the queue: only it is lost.
                Err(e) if crate::sys::listen::lost_in_queue(e) => {}
                Err(e) => {
                    self.failed = true;
                    self.error(format!("syslog {}: accept: {e}", self.name));
                }
            }
        }
        let _ = self.sync_listener(lp);
    }

    fn error(&mut self, note: String) {
        self.stats.errors += 1;
        self.notes.add(&mut self.stats, note);
    }

    /// A connection is readable: reads what is there into records (at
    /// most about `limit`, module docs); true: more may be waiting. At EOF
    /// or on an error the rest is decoded and the connection closed.
    pub fn on_conn(
        &mut self,
        lp: &EventLoop,
        token: u64,
        now: (i64, u32),
        offset: i32,
        out: &mut Vec<Record>,
        limit: usize,
    ) -> bool {
        let Some(slot) = token
            .checked_sub(self.base + 1)
            .map(|s| s as usize)
            .filter(|&s| s < MAX_CONNS)
        else {
            return false;
        };
        let start = out.len();
        let mut read = 0;
        loop {
            let Some(c) = self.conns[slot].as_mut() else {
                return false;
            };
            if out.len() - start >= limit || read >= READ_PER_CALL {
                return true;
            }
            match c.fd.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => {
                    read += n;
                    for f in c.dec.feed(&self.buf[..n]) {
                        let (stats, notes) = (&mut self.stats, &mut self.notes);
                        let at = (self.name.as_str(), c.peer.as_str());
                        tcp_record(stats, notes, at, &f, (now, offset), out);
                    }
                }
                Err(Errno::EAGAIN) => return false,
                Err(e) => {
                    let note = format!("syslog {} from {}: {e}", self.name, c.peer);
                    self.error(note);
                    break;
                }
            }
        }
        // EOF or a dead connection: what is left is still a message.
        if let Some(mut c) = self.conns[slot].take() {
            if let Some(f) = c.dec.finish() {
                let at = (self.name.as_str(), c.peer.as_str());
                tcp_record(&mut self.stats, &mut self.notes, at, &f, (now, offset), out);
            }
            if self.active {
                let _ = lp.deregister(c.fd.raw());
            }
        }
        // A closed connection frees an fd: a resource error may be over.
        self.failed = false;
        let _ = self.sync_listener(lp);
        false
    }

    /// Leaves the loop and closes every connection (what their decoders
    /// hold is decoded into `out` first).
    pub fn close(mut self, lp: &EventLoop, now: (i64, u32), offset: i32, out: &mut Vec<Record>) {
        self.pause(lp);
        for slot in 0..MAX_CONNS {
            if let Some(mut c) = self.conns[slot].take()
                && let Some(f) = c.dec.finish()
            {
                let at = (self.name.as_str(), c.peer.as_str());
                tcp_record(&mut self.stats, &mut self.notes, at, &f, (now, offset), out);
            }
        }
    }
}

/// One TCP frame as a record; `at` is (source name, peer) for the note
/// about a split message, `time` (received, local offset).
fn tcp_record(
    stats: &mut Stats,
    notes: &mut Notes,
    at: (&str, &str),
    f: &Frame,
    time: ((i64, u32), i32),
    out: &mut Vec<Record>,
) {
    if f.cut {
        stats.truncated += 1;
        let note = format!(
            "syslog {} from {}: a message longer than {MAX_FRAME} bytes was split",
            at.0, at.1
        );
        notes.add(stats, note);
    }
    stats.records += 1;
    stats.bytes += f.bytes.len() as u64;
    out.push(parse(&f.bytes, time.0, time.1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::Event;
    use crate::sys::signal::SigSet;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixDatagram;
    use std::path::PathBuf;
    use std::process::Command;
    use std::string::ToString;

    const NOW: (i64, u32) = (1_700_000_000, 0);
    const LOOPBACK: Ip = Ip::V4([127, 0, 0, 1]);
    /// The timer key that fails a test that waits too long.
    const DEADLINE: u64 = 0xdead;

    /// A fresh directory for one test's socket.
    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(std::format!("tug-source-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn unix(name: &str) -> (UnixSource, PathBuf) {
        let path = dir(name).join("log");
        let src = UnixSource::bind(path.to_str().unwrap()).unwrap();
        (src, path)
    }

    /// Turns the loop, handing every I/O token to `on_io`, until it says
    /// done; fails after `secs`.
    fn pump(lp: &mut EventLoop, secs: u64, mut on_io: impl FnMut(&EventLoop, u64) -> bool) {
        let id = lp.add_timer(lp.now() + secs * 1_000_000_000, DEADLINE);
        let mut evs = Vec::new();
        loop {
            evs.clear();
            lp.turn(&mut evs).unwrap();
            for e in &evs {
                match *e {
                    Event::Timer(DEADLINE) => panic!("timed out after {secs} s"),
                    Event::Io(r) => {
                        if on_io(lp, r.token) {
                            lp.cancel_timer(id);
                            return;
                        }
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }

    /// Runs `logger` with `args`, which must succeed.
    fn logger(args: &[&str]) {
        let out = Command::new("logger").args(args).output().expect("logger");
        assert!(out.status.success(), "logger {args:?}: {out:?}");
    }

    fn recv(src: &mut UnixSource) -> Vec<Record> {
        let mut out = Vec::new();
        assert!(!src.recv_all(NOW, 0, &mut out, 1000));
        out
    }

    #[test]
    fn unix_socket_mode_and_pid_from_credentials() {
        let (mut src, path) = unix("cred");
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o666);
        let tx = UnixDatagram::unbound().unwrap();
        tx.send_to(b"<13>hello\0", &path).unwrap();
        tx.send_to(b"<30>prog[42]: named\n", &path).unwrap();
        tx.send_to(b"", &path).unwrap();
        let got = recv(&mut src);
        assert_eq!(got.len(), 2, "the empty datagram gives nothing: {got:?}");
        assert_eq!(got[0].text, "hello");
        assert_eq!((got[0].facility, got[0].severity), (1, 5));
        assert_eq!(
            got[0].pid,
            Some(std::process::id() as i32),
            "from SCM_CREDENTIALS"
        );
        assert_eq!(got[1].program, "prog");
        assert_eq!(got[1].pid, Some(42), "the message's own pid is kept");
        assert_eq!(got[1].raw, "<30>prog[42]: named");
        assert_eq!(src.stats().records, 2);
        assert!(src.rcvbuf() >= 2 * 212_992, "{}", src.rcvbuf());
        src.remove();
        assert!(!path.exists(), "remove() unlinks the socket");
    }

    #[test]
    fn stale_socket_replaced_live_or_foreign_refused() {
        let (src, path) = unix("stale");
        let p = path.to_str().unwrap();
        let e = UnixSource::bind(p).err().unwrap();
        assert!(e.contains("another process receives there"), "{e}");
        drop(src);
        assert!(path.exists(), "a dropped source leaves its file");
        let src = UnixSource::bind(p).expect("a stale socket is replaced");
        drop(src);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "keep me").unwrap();
        let e = UnixSource::bind(p).err().unwrap();
        assert!(e.contains("not a socket"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
        // A stream socket someone listens on is live too.
        std::fs::remove_file(&path).unwrap();
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let e = UnixSource::bind(p).err().unwrap();
        assert!(e.contains("another process receives there"), "{e}");
    }

    #[test]
    fn limit_leaves_the_rest_queued() {
        let (mut src, path) = unix("limit");
        let tx = UnixDatagram::unbound().unwrap();
        for i in 0..5 {
            tx.send_to(std::format!("<13>m{i}").as_bytes(), &path)
                .unwrap();
        }
        let mut out = Vec::new();
        assert!(src.recv_all(NOW, 0, &mut out, 2), "the limit stopped it");
        assert_eq!(out.len(), 2);
        assert!(!src.recv_all(NOW, 0, &mut out, 10), "drained");
        let texts: Vec<&str> = out.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"]);
    }

    #[test]
    fn big_datagrams_whole_utf8_intact_larger_cut_and_reported() {
        let (mut src, path) = unix("big");
        let unit = "ünïcödé ✓ 🦀 ";
        let body: String = unit.repeat(60 * 1024 / unit.len() + 1);
        assert!(body.len() > 60 * 1024);
        let tx = UnixDatagram::unbound().unwrap();
        tx.send_to(std::format!("<13>prog: {body}").as_bytes(), &path)
            .unwrap();
        // Near the default sender's limit (SO_SNDBUF 212992).
        let large = "x".repeat(200_000);
        tx.send_to(std::format!("<13>{large}").as_bytes(), &path)
            .unwrap();
        let got = recv(&mut src);
        assert_eq!(got[0].text, body, "60 KiB, multi-byte, whole");
        assert_eq!(got[1].text, large);
        assert!(src.take_notes().is_empty());
        if dgram::force_sndbuf(tx.as_raw_fd(), 1 << 20).is_err() {
            std::println!("SKIPPED the oversized datagram: no larger send buffer");
            return;
        }
        let huge = "y".repeat(300_000);
        tx.send_to(huge.as_bytes(), &path).unwrap();
        let got = recv(&mut src);
        assert_eq!(got[0].text.len(), UNIX_BUF, "kept as far as it fits");
        assert_eq!(src.stats().truncated, 1);
        let notes = src.take_notes();
        assert!(
            notes[0].contains("a 300000-byte datagram from pid")
                && notes[0].ends_with("cut to 262144 bytes"),
            "{notes:?}"
        );
    }

    #[test]
    fn util_linux_logger_on_the_unix_socket() {
        let (mut src, path) = unix("logger");
        let p = path.to_str().unwrap();
        logger(&["-u", p, "--rfc3164", "-t", "app", "hello 3164"]);
        logger(&[
            "-u",
            p,
            "--rfc5424",
            "-t",
            "app",
            "--msgid",
            "ID7",
            "héllo 5424",
        ]);
        logger(&["-u", p, "-i", "-t", "app", "-p", "local3.err", "plain"]);
        let big = "é".repeat(30 * 1024);
        logger(&["-u", p, "--size", "70000", "-t", "big", &big]);
        let got = recv(&mut src);
        assert_eq!(got.len(), 4, "{got:?}");
        let host = |r: &Record| r.host.clone();
        assert_eq!(got[0].program, "app");
        assert_eq!(got[0].text, "hello 3164");
        assert!(host(&got[0]).is_some(), "--rfc3164 names the host");
        assert_eq!(got[1].program, "app");
        assert_eq!(got[1].msgid.as_deref(), Some("ID7"));
        assert_eq!(got[1].text, "héllo 5424");
        assert_eq!((got[2].facility, got[2].severity), (19, 3));
        assert_eq!(got[2].text, "plain");
        assert!(got[2].pid.is_some_and(|p| p > 0), "-i: logger's pid");
        assert_eq!(got[3].program, "big");
        assert_eq!(got[3].text, big, "60 KiB through logger, whole");
        for r in &got {
            assert!(r.pid.is_some(), "every record has a pid: {r:?}");
        }
    }

    #[test]
    fn ten_thousand_from_four_threads_none_lost() {
        const THREADS: usize = 4;
        const EACH: usize = 2500;
        let (mut src, path) = unix("many");
        let mut lp = EventLoop::new(&SigSet::empty()).unwrap();
        lp.register(src.fd().raw(), 1, READABLE).unwrap();
        let senders: Vec<_> = (0..THREADS)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    // Blocking, as glibc's syslog(3): a full queue waits.
                    let tx = UnixDatagram::unbound().unwrap();
                    for i in 0..EACH {
                        let m = std::format!("<14>t{t}: {i}");
                        tx.send_to(m.as_bytes(), &path).unwrap();
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        pump(&mut lp, 30, |_, token| {
            assert_eq!(token, 1);
            src.recv_all(NOW, 0, &mut got, 64);
            got.len() >= THREADS * EACH
        });
        for s in senders {
            s.join().unwrap();
        }
        assert!(!src.recv_all(NOW, 0, &mut got, 64), "nothing extra");
        assert_eq!(got.len(), THREADS * EACH);
        let mut next = [0usize; THREADS];
        for r in &got {
            let t: usize = r.program[1..].parse().unwrap();
            assert_eq!(r.text, next[t].to_string(), "each sender in order");
            next[t] += 1;
        }
        assert_eq!(next, [EACH; THREADS]);
    }

    #[test]
    fn udp_datagrams_and_logger() {
        let mut src = UdpSource::bind(LOOPBACK, 0).unwrap();
        let port = src.local_port().unwrap();
        assert!(src.rcvbuf() > 0);
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let body = "ü🦀".repeat(60 * 1024 / 6);
        tx.send_to(
            std::format!("<13>udp: {body}").as_bytes(),
            ("127.0.0.1", port),
        )
        .unwrap();
        let port_s = port.to_string();
        logger(&[
            "-d",
            "-n",
            "127.0.0.1",
            "-P",
            &port_s,
            "-t",
            "lg",
            "over udp",
        ]);
        let mut got = Vec::new();
        // Loopback delivers synchronously: both are queued by now.
        assert!(!src.recv_all(NOW, 0, &mut got, 10));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].text, body, "60 KiB over UDP, whole");
        assert_eq!(got[1].program, "lg");
        assert_eq!(got[1].text, "over udp");
        assert!(
            got[1].host.is_some(),
            "logger's remote format names the host"
        );
        assert_eq!(got[1].pid, None, "no credentials over UDP");
    }

    /// Drives a TCP source until `done(records, source)`.
    fn pump_tcp(
        lp: &mut EventLoop,
        src: &mut TcpSource,
        got: &mut Vec<Record>,
        mut done: impl FnMut(&[Record], &TcpSource) -> bool,
    ) {
        pump(lp, 30, |lp, token| {
            assert!(src.owns(token), "{token}");
            if src.is_listener(token) {
                src.on_listener(lp);
            } else {
                src.on_conn(lp, token, NOW, 0, got, 100);
            }
            done(got, src)
        });
    }

    #[test]
    fn tcp_octet_counting_and_lines() {
        let mut lp = EventLoop::new(&SigSet::empty()).unwrap();
        let mut src = TcpSource::bind(LOOPBACK, 0, 100).unwrap();
        src.resume(&lp).unwrap();
        let port = src.local_port().unwrap();
        let mut a = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        a.write_all(b"11 <13>a: one\n").unwrap();
        let big = "é".repeat(30 * 1024);
        let msg = std::format!("<13>b: {big}");
        a.write_all(std::format!("{} {msg}", msg.len()).as_bytes())
            .unwrap();
        let mut b = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        b.write_all(b"<13>c: line one\r\n<13>c: line two\n<13>c: no newline")
            .unwrap();
        drop(b);
        let mut got = Vec::new();
        pump_tcp(&mut lp, &mut src, &mut got, |g, s| {
            g.len() == 5 && s.connections() == 1
        });
        drop(a);
        pump_tcp(&mut lp, &mut src, &mut got, |_, s| s.connections() == 0);
        let mut texts: Vec<(&str, &str)> = got
            .iter()
            .map(|r| (r.program.as_str(), r.text.as_str()))
            .collect();
        texts.sort();
        assert_eq!(
            texts,
            [
                ("a", "one"),
                ("b", big.as_str()),
                ("c", "line one"),
                ("c", "line two"),
                ("c", "no newline"),
            ]
        );
        assert_eq!(src.stats().connections, 2);
        assert!(src.take_notes().is_empty());
    }

    #[test]
    fn tcp_logger_octet_counted_and_not() {
        let mut lp = EventLoop::new(&SigSet::empty()).unwrap();
        let mut src = TcpSource::bind(LOOPBACK, 0, 7).unwrap();
        src.resume(&lp).unwrap();
        let port = src.local_port().unwrap().to_string();
        let mut got = Vec::new();
        for (i, octets) in [false, true].into_iter().enumerate() {
            let mut args = std::vec!["-T", "-n", "127.0.0.1", "-P", &port, "-t", "lg"];
            if octets {
                args.push("--octet-count");
            }
            args.push("via tcp");
            // logger only sends once connected: the loop must run while
            // it does, so it is a child and the loop waits for its EOF.
            let mut child = Command::new("logger").args(&args).spawn().unwrap();
            pump_tcp(&mut lp, &mut src, &mut got, |g, s| {
                g.len() == i + 1 && s.connections() == 0
            });
            assert!(child.wait().unwrap().success());
        }
        for r in &got {
            assert_eq!((r.program.as_str(), r.text.as_str()), ("lg", "via tcp"));
        }
    }

    #[test]
    fn tcp_connection_cap_takes_the_listener_out() {
        let mut lp = EventLoop::new(&SigSet::empty()).unwrap();
        let mut src = TcpSource::bind(LOOPBACK, 0, 1000).unwrap();
        src.resume(&lp).unwrap();
        let port = src.local_port().unwrap();
        let mut conns: Vec<_> = (0..MAX_CONNS + 1)
            .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        let mut got = Vec::new();
        pump_tcp(&mut lp, &mut src, &mut got, |_, s| {
            s.connections() == MAX_CONNS
        });
        assert!(!src.listening(), "at the cap the listener leaves epoll");
        // The 65th waits in the backlog; its message arrives once a slot
        // frees.
        conns[MAX_CONNS].write_all(b"<13>late: waited\n").unwrap();
        drop(conns.remove(0));
        pump_tcp(&mut lp, &mut src, &mut got, |g, _| g.len() == 1);
        assert_eq!(got[0].text, "waited");
        assert!(!src.listening(), "full again with the 65th");
        src.pause(&lp);
        src.close(&lp, NOW, 0, &mut got);
    }

    #[test]
    fn tcp_pause_leaves_epoll_resume_reads_on() {
        let mut lp = EventLoop::new(&SigSet::empty()).unwrap();
        let mut src = TcpSource::bind(LOOPBACK, 0, 50).unwrap();
        src.resume(&lp).unwrap();
        let port = src.local_port().unwrap();
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut got = Vec::new();
        pump_tcp(&mut lp, &mut src, &mut got, |_, s| s.connections() == 1);
        src.pause(&lp);
        assert!(!src.listening());
        c.write_all(b"<13>p: held\n").unwrap();
        let _other = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        // Paused: a readable connection and a waiting accept must not
        // wake the loop; only the timer does.
        lp.add_timer(lp.now() + 20_000_000, 1);
        let mut evs = Vec::new();
        lp.turn(&mut evs).unwrap();
        assert!(matches!(evs[..], [Event::Timer(1)]), "{evs:?}");
        src.resume(&lp).unwrap();
        pump_tcp(&mut lp, &mut src, &mut got, |g, s| {
            g.len() == 1 && s.connections() == 2
        });
        assert_eq!(got[0].text, "held");
    }
}
