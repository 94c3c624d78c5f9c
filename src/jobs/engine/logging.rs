//! The built-in syslog and the log router in the loop (issue 11):
//! `syslog` sources (/dev/log, UDP, TCP), jobs' output and tug's own
//! records become records, and each goes to every `logs` output whose
//! selector matches, formatted for it, through a bounded non-blocking
//! sink, a file, or a forward's queue (logs::forward).
//!
//! Decisions:
//! - Never block, never drop (but a forward): an output whose buffer is past its bound
//!   makes the router stop reading its sources (they leave epoll; the
//!   kernel's queues then hold the senders back) until it has room again.
//! - Jobs' output lines and tug's own records go through the router too
//!   (facility daemon; program the job's name and its pid, info for
//!   stdout, warning for stderr unless the line starts with an
//!   sd-daemon(3) prefix, `<0>` to `<7>`, which sets the severity and is
//!   dropped; program `tug` for tug's own, severity
//!   from its level: fatal is crit). With no `logs`, the router has one
//!   output, where tug's log went (stderr, or stdout with
//!   `logging.output: stdout`), and writes there today's bytes: jobs'
//!   and tug's lines as src/log.rs shapes them, syslog messages as text
//!   lines. Only a `logging.output` file (no `logs`, no `syslog`) keeps
//!   the plain writes of before: a regular file never says EAGAIN.
//! - A full output pauses the job pipes as well as the syslog sockets
//!   (the engine takes them out of epoll); a job then blocks in write(2)
//!   while the loop goes on reaping, checking and ticking.
//! - A file's name is expanded (strftime) at each record's arrival, so a
//!   date in it rolls over; an outside move or delete is seen through the
//!   file's inotify watch and the next record goes to a fresh file.
//! - A forward never pauses the sources: its queue drops instead (a dead
//!   remote must not stop local logging), counted and said.
//! - At exit every buffered byte is written, waiting at most a second.

use super::*;
use crate::calendar::timezone::Zone;
use crate::config::logs::{LogOutput, Proto, SyslogConfig, Target, Wire};
use crate::event_loop::WRITABLE;
use crate::log::{Level, Source};
use crate::logs::file::LogFile;
use crate::logs::format::{self, Format};
use crate::logs::forward::Forward;
use crate::logs::selector::Selector;
use crate::logs::sink::{BOUND, Sink};
use crate::logs::source::{TcpSource, UdpSource, UnixSource, addr_text};
use crate::logs::{DAEMON, INFO, Record, WARNING, strftime};

/// Records taken from one source per wake-up: others get their turn.
const BATCH: usize = 512;

enum Writer {
    Sink(Sink),
    /// The file, and its name pattern.
    File(LogFile, String),
    Forward(alloc::boxed::Box<Forward>),
}

struct Output {
    name: String,
    selector: Selector,
    format: Format,
    writer: Writer,
    /// Registered for WRITABLE (data waits behind EAGAIN).
    watched: bool,
    /// Records and bytes handed to it.
    records: u64,
    bytes: u64,
}

/// The sources records are counted by (`tug_log_records_in_total`).
const SOURCES: [&str; 5] = ["unix", "udp", "tcp", "jobs", "tug"];

pub(super) struct Router {
    unix: Option<UnixSource>,
    udp: Option<UdpSource>,
    tcp: Option<TcpSource>,
    outputs: Vec<Output>,
    /// The sources are out of epoll: an output is full.
    pub(super) paused: bool,
    /// No `logs`: jobs' and tug's lines go to outputs[0] as today's bytes.
    legacy: bool,
    /// Records received, by `SOURCES`.
    ins: [u64; 5],
    zone: Zone,
    /// This host's name, for the formats that carry one (read once).
    host: String,
    line: Vec<u8>,
}

impl Router {
    /// The sources and outputs a config names; None when it names none.
    pub(super) fn open(
        lp: &mut EventLoop,
        syslog: Option<&SyslogConfig>,
        logs: &[LogOutput],
        zone: Zone,
        host: &str,
    ) -> core::result::Result<Option<Router>, String> {
        // Where tug's log goes without `logs`: stderr, stdout, or a file.
        let own = crate::log::output();
        if syslog.is_none() && logs.is_empty() && own > 2 {
            return Ok(None);
        }
        let mut outputs = Vec::new();
        for o in logs {
            let (writer, format) = match &o.target {
                Target::Stdout(f) => (Writer::Sink(Sink::stdio(1, "stdout", BOUND)), *f),
                Target::Stderr(f) => (Writer::Sink(Sink::stdio(2, "stderr", BOUND)), *f),
                Target::File {
                    path,
                    format,
                    rotate,
                } => {
                    let now = wall_clock();
                    let mut name = String::new();
                    strftime::expand(path, now, zone.offset_at(now.0), &mut name);
                    let f = LogFile::open(&name, *rotate, BOUND)
                        .map_err(|e| format!("logs {}: {e}", o.name))?;
                    (Writer::File(f, path.clone()), *format)
                }
                Target::Forward(t) => {
                    // Each forward's tokens: its resolver's span, then its own.
                    let base = route::LOG_FWD_BASE + outputs.len() as u64 * (2 << 30);
                    let tcp = t.proto == Proto::Tcp;
                    let mut f = Forward::new(&o.name, &t.host, t.port, tcp, base);
                    f.start(lp);
                    // The format field carries the wire format: RFC 5424 or
                    // (Classic) RFC 3164.
                    let wire = match t.wire {
                        Wire::Rfc5424 => Format::Rfc5424,
                        Wire::Rfc3164 => Format::Classic { utc_offset: 0 },
                    };
                    (Writer::Forward(alloc::boxed::Box::new(f)), wire)
                }
            };
            outputs.push(Output {
                name: o.name.clone(),
                selector: o.selector.clone(),
                format,
                writer,
                watched: false,
                records: 0,
                bytes: 0,
            });
        }
        let legacy = outputs.is_empty();
        if legacy {
            let (fd, name) = if own == 1 {
                (1, "stdout")
            } else {
                (2, "stderr")
            };
            outputs.push(Output {
                name: name.into(),
                selector: Selector::default(),
                format: Format::Text,
                writer: Writer::Sink(Sink::stdio(fd, name, BOUND)),
                watched: false,
                records: 0,
                bytes: 0,
            });
        }
        for (k, o) in outputs.iter().enumerate() {
            if let Writer::File(f, _) = &o.writer {
                let _ = lp.register(f.fd(), Token::LogWatch(k).raw(), READABLE);
            }
        }
        let mut r = Router {
            unix: None,
            udp: None,
            tcp: None,
            outputs,
            paused: true,
            legacy,
            ins: [0; 5],
            zone,
            host: host.into(),
            line: Vec::new(),
        };
        if let Some(s) = syslog {
            // One line once every source is bound: a sender that waits for
            // it finds all of them.
            let mut on = Vec::new();
            if let Some(path) = &s.socket {
                r.unix = Some(UnixSource::bind(path).map_err(|e| format!("syslog.socket: {e}"))?);
                on.push(path.clone());
            }
            if let Some(a) = s.udp {
                r.udp =
                    Some(UdpSource::bind(a.ip, a.port).map_err(|e| format!("syslog.udp: {e}"))?);
                on.push(format!("udp {}", addr_text(a.ip, a.port)));
            }
            if let Some(a) = s.tcp {
                let t = TcpSource::bind(a.ip, a.port, route::LOG_TCP_BASE)
                    .map_err(|e| format!("syslog.tcp: {e}"))?;
                r.tcp = Some(t);
                on.push(format!("tcp {}", addr_text(a.ip, a.port)));
            }
            if !on.is_empty() {
                info!("syslog listening on {}", on.join(", "));
            }
        }
        r.resume(lp);
        Ok(Some(r))
    }

    fn resume(&mut self, lp: &EventLoop) {
        if !self.paused {
            return;
        }
        self.paused = false;
        if let Some(u) = &self.unix {
            let _ = lp.register(u.fd().raw(), Token::Syslog(0).raw(), READABLE);
        }
        if let Some(u) = &self.udp {
            let _ = lp.register(u.fd().raw(), Token::Syslog(1).raw(), READABLE);
        }
        if let Some(t) = &mut self.tcp
            && let Err(e) = t.resume(lp)
        {
            error!("syslog.tcp: {e}");
        }
    }

    fn pause(&mut self, lp: &EventLoop) {
        if self.paused {
            return;
        }
        self.paused = true;
        if let Some(u) = &self.unix {
            let _ = lp.deregister(u.fd().raw());
        }
        if let Some(u) = &self.udp {
            let _ = lp.deregister(u.fd().raw());
        }
        if let Some(t) = &mut self.tcp {
            t.pause(lp);
        }
    }

    /// A unix (0) or UDP (1) source is readable, or (None) the TCP one.
    pub(super) fn on_source(&mut self, lp: &mut EventLoop, which: Option<usize>, token: u64) {
        self.read_batch(lp, which, token);
    }

    /// Reads one batch from a source and routes it; how many records.
    fn read_batch(&mut self, lp: &mut EventLoop, which: Option<usize>, token: u64) -> usize {
        let now = wall_clock();
        let offset = self.zone.offset_at(now.0);
        let mut records = Vec::new();
        let dgram = match which {
            Some(0) => self.unix.as_deref_mut(),
            Some(_) => self.udp.as_deref_mut(),
            None => None,
        };
        // What a source has to say (a receive error, a datagram cut to
        // the buffer, a TCP message split at the frame limit, an accept
        // error) goes to tug's log.
        let notes = if let Some(d) = dgram {
            d.recv_all(now, offset, &mut records, BATCH);
            d.take_notes()
        } else if let Some(t) = self.tcp.as_mut().filter(|_| which.is_none()) {
            if t.is_listener(token) {
                t.on_listener(lp);
            } else {
                t.on_conn(lp, token, now, offset, &mut records, BATCH);
            }
            t.take_notes()
        } else {
            Vec::new()
        };
        for note in notes {
            warning!("{note}");
        }
        self.ins[which.unwrap_or(2).min(2)] += records.len() as u64;
        for rec in &records {
            self.route(rec);
        }
        self.flush_all(lp);
        records.len()
    }

    /// A job's output line.
    pub(super) fn job_line(&mut self, src: &Source<'_>, line: &[u8]) {
        self.ins[3] += 1;
        if self.legacy {
            return self.push_legacy(&crate::log::job_line(src, line));
        }
        let (severity, line) = match line {
            // A job sets its own severity as sd-daemon(3)'s prefixes do
            // (systemd's SyslogLevelPrefix): `<3>disk full` is an error.
            [b'<', d @ b'0'..=b'7', b'>', rest @ ..] => (d - b'0', rest),
            _ if src.stream == "stderr" => (WARNING, line),
            _ => (INFO, line),
        };
        let text = String::from_utf8_lossy(line).into_owned();
        self.route(&own_record(severity, src.job, src.pid, text));
    }

    /// One of tug's own records.
    pub(super) fn own(&mut self, level: Level, msg: String) {
        self.ins[4] += 1;
        if self.legacy {
            return self.push_legacy(crate::log::line(level, &msg).as_bytes());
        }
        let severity = [2, 3, 4, 6, 7][level as usize];
        let pid = crate::sys::process::getpid();
        self.route(&own_record(severity, "tug", pid, msg));
    }

    fn push_legacy(&mut self, line: &[u8]) {
        if let Some(o) = self.outputs.first_mut()
            && let Writer::Sink(s) = &mut o.writer
        {
            o.records += 1;
            o.bytes += line.len() as u64;
            s.push(line);
        }
    }

    /// Every counter: `f(family, label, value)` in telemetry's
    /// `LOG_FAMILIES` order (in, out, bytes, rotations, dropped).
    pub(super) fn counts(&self, f: &mut dyn FnMut(usize, &str, u64)) {
        for (src, n) in SOURCES.iter().zip(self.ins) {
            f(0, src, n);
        }
        for o in &self.outputs {
            f(1, &o.name, o.records);
            f(2, &o.name, o.bytes);
            match &o.writer {
                Writer::File(file, _) => f(3, &o.name, file.rotations()),
                Writer::Forward(fw) => f(4, &o.name, fw.dropped),
                Writer::Sink(_) => {}
            }
        }
    }

    /// One record to every output that selects it.
    fn route(&mut self, rec: &Record) {
        for o in &mut self.outputs {
            if !o.selector.matches(rec) {
                continue;
            }
            o.records += 1;
            let line = &mut self.line;
            line.clear();
            let offset = self.zone.offset_at(rec.time.0);
            match &mut o.writer {
                Writer::Forward(f) => {
                    let mut msg = Vec::new();
                    if o.format == Format::Rfc5424 {
                        format::rfc5424(rec, &self.host, &mut msg);
                    } else {
                        format::rfc3164(rec, &self.host, offset, &mut msg);
                    }
                    if f.tcp {
                        format::octet_frame(&msg, line);
                        msg.clone_from(line);
                    }
                    o.bytes += msg.len() as u64;
                    f.push(msg);
                }
                Writer::Sink(s) => {
                    format::write(o.format, rec, &self.host, line);
                    o.bytes += line.len() as u64;
                    s.push(line);
                }
                Writer::File(f, pattern) => {
                    format::write(o.format, rec, &self.host, line);
                    o.bytes += line.len() as u64;
                    // A name without conversions is the file's own.
                    let pushed = if pattern.contains('%') {
                        let mut name = String::new();
                        strftime::expand(pattern, rec.time, offset, &mut name);
                        f.set_path(&name).map(drop)
                    } else {
                        Ok(())
                    };
                    let pushed = pushed.and_then(|_| f.push(line));
                    if let Err(e) = pushed {
                        error!("logs {}: {e}", o.name);
                    }
                }
            }
        }
    }

    /// Writes what each output can take now; pauses the sources while one
    /// is past its bound, resumes them once all have room.
    pub(super) fn flush_all(&mut self, lp: &mut EventLoop) {
        let mut full = false;
        for (k, o) in self.outputs.iter_mut().enumerate() {
            let (result, room, waits, fd) = match &mut o.writer {
                Writer::Sink(s) => {
                    let r = s.flush();
                    (r, s.has_room(0), s.wants_writable(), s.fd())
                }
                Writer::File(f, _) => {
                    let r = f.flush();
                    (r, f.has_room(0), false, -1)
                }
                // A forward never holds the sources back: its queue drops.
                Writer::Forward(f) => {
                    f.flush(lp);
                    continue;
                }
            };
            if let Err(e) = result {
                error!("logs {}: {e}", o.name);
            }
            full |= !room;
            if waits != o.watched && fd >= 0 {
                let token = Token::LogOut(k).raw();
                let _ = if waits {
                    lp.register(fd, token, WRITABLE)
                } else {
                    lp.deregister(fd)
                };
                o.watched = waits;
            }
        }
        if full {
            self.pause(lp);
        } else {
            self.resume(lp);
        }
    }

    /// An output can take more.
    pub(super) fn on_output(&mut self, lp: &mut EventLoop) {
        self.flush_all(lp);
    }

    /// A forward's socket, lookup or timer.
    pub(super) fn on_forward(&mut self, lp: &mut EventLoop, raw: u64, timer: bool) {
        for o in &mut self.outputs {
            if let Writer::Forward(f) = &mut o.writer
                && f.owns(raw)
            {
                if timer {
                    f.on_timer(lp, raw);
                } else {
                    f.on_ready(lp, raw);
                }
            }
        }
    }

    /// A file output's directory changed (logrotate moved the file).
    pub(super) fn on_watch(&mut self, k: usize) {
        if let Some(Output {
            name,
            writer: Writer::File(f, _),
            ..
        }) = self.outputs.get_mut(k)
        {
            match f.on_watch() {
                Ok(true) => info!("logs {name}: {} reopened", f.path()),
                Ok(false) => {}
                Err(e) => error!("logs {name}: {e}"),
            }
        }
    }

    /// SIGUSR1, `tug ctl logs reopen`: every file output reopens its
    /// file; how many did.
    pub(super) fn reopen(&mut self) -> usize {
        let mut n = 0;
        for o in &mut self.outputs {
            if let Writer::File(f, _) = &mut o.writer {
                match f.reopen() {
                    Ok(_) => {
                        info!("logs {}: {} reopened", o.name, f.path());
                        n += 1;
                    }
                    Err(e) => error!("logs {}: {e}", o.name),
                }
            }
        }
        n
    }

    /// Before exit: what the sources still hold is read (a message sent
    /// before tug's SIGTERM is not lost), then what was buffered is
    /// written, within a second.
    pub(super) fn drain(&mut self, lp: &mut EventLoop) {
        // A file moved away since the last turn is reopened first.
        for k in 0..self.outputs.len() {
            self.on_watch(k);
        }
        for which in [0, 1] {
            // Bounded: a sender that never stops cannot hold tug up.
            for _ in 0..64 {
                if self.read_batch(lp, Some(which), 0) == 0 {
                    break;
                }
            }
        }
        let deadline = crate::sys::time::now_ns() + 1_000_000_000;
        for o in &mut self.outputs {
            let r = match &mut o.writer {
                Writer::Sink(s) => s.drain_blocking(deadline),
                Writer::File(f, _) => f.drain_blocking(deadline),
                Writer::Forward(f) => {
                    f.drain_blocking(lp, deadline);
                    Ok(())
                }
            };
            if let Err(e) = r {
                error!("logs {}: {e}", o.name);
            }
        }
    }
}

/// A record of a job's line or of tug's own, received now.
fn own_record(severity: u8, program: &str, pid: i32, text: String) -> Record {
    Record {
        time: wall_clock(),
        facility: DAEMON,
        severity,
        host: None,
        program: program.into(),
        pid: Some(pid),
        msgid: None,
        structured: None,
        raw: text.clone(),
        text,
    }
}
