//! tug's own diagnostics and the records of job output, and `LogRing`,
//! the recent lines of a job that `tug ctl logs` serves.
//!
//! As an init, lines look like tini's, `[WARN  tug (PID)] message`, on
//! stderr, so scripts that grep tini's output keep working. With a config,
//! lines are ContainerPilot's (logrus) `time="..." level=info msg="..."` or
//! one JSON object per line, on stderr, stdout or a file that SIGUSR1
//! reopens. Nothing goes to stdout unless asked: it belongs to the child.

use crate::sys::cell::Lock;
use crate::sys::fd::write_all;
use crate::sys::process::getpid;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, Ordering};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Fatal = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    /// `[WARN  tug (PID)] message`
    Tini = 0,
    /// `[WARN  tini (PID)] message`, when installed as tini.
    TiniNamed = 1,
    /// logrus text: `time="..." level=warning msg="..."`
    Text = 2,
    Json = 3,
}

/// Records up to this level are written (tini's default: warnings).
static THRESHOLD: AtomicU32 = AtomicU32::new(Level::Warn as u32);
static STYLE: AtomicU8 = AtomicU8::new(Style::Tini as u8);
/// Where lines go: 2 (stderr), 1 (stdout) or a log file tug opened.
static OUT: AtomicI32 = AtomicI32::new(2);

/// tini's -v count: 0 fatal only, 1 warnings (default), 2 info, 3 debug.
pub fn set_verbosity(v: u32) {
    let level = match v {
        0 => Level::Fatal,
        1 => Level::Warn,
        2 => Level::Info,
        _ => Level::Debug,
    };
    set_level(level);
}

pub fn set_level(level: Level) {
    THRESHOLD.store(level as u32, Ordering::Relaxed);
}

pub fn set_style(style: Style) {
    STYLE.store(style as u8, Ordering::Relaxed);
}

/// Sends log lines to `fd` from now on; returns the previous descriptor
/// (the caller closes it if it was a file it opened).
pub fn set_output(fd: i32) -> i32 {
    OUT.swap(fd, Ordering::Relaxed)
}

pub fn output() -> i32 {
    OUT.load(Ordering::Relaxed)
}

fn style() -> Style {
    match STYLE.load(Ordering::Relaxed) {
        0 => Style::Tini,
        1 => Style::TiniNamed,
        2 => Style::Text,
        _ => Style::Json,
    }
}

pub fn enabled(level: Level) -> bool {
    level as u32 <= THRESHOLD.load(Ordering::Relaxed)
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Fatal => "fatal",
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
    }
}

/// tug's own records, held for the loop's log router while it runs
/// (None: written at once, as before the loop and at exit).
static HELD: Lock<Option<Vec<(Level, String)>>> = Lock::new(None);

/// From now on (`on`) tug's own records are held for `take_held` instead
/// of written; off again: what was held is returned.
pub fn hold(on: bool) -> Vec<(Level, String)> {
    HELD.with(|h| core::mem::replace(h, on.then(Vec::new)))
        .flatten()
        .unwrap_or_default()
}

/// The records held since the last call.
pub fn take_held() -> Vec<(Level, String)> {
    HELD.with(|h| h.as_mut().map(core::mem::take))
        .flatten()
        .unwrap_or_default()
}

/// One of tug's own messages.
pub fn write(level: Level, args: core::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut msg = Some(String::new());
    if let Some(m) = &mut msg {
        let _ = m.write_fmt(args);
    }
    HELD.with(|h| {
        if let Some(h) = h
            && let Some(m) = msg.take()
        {
            h.push((level, m));
        }
    });
    if let Some(m) = msg {
        write_all(output(), line(level, &m).as_bytes());
    }
}

/// One of tug's own records as today's line.
pub fn line(level: Level, msg: &str) -> String {
    let mut line = String::with_capacity(msg.len() + 64);
    match style() {
        s @ (Style::Tini | Style::TiniNamed) => {
            let tag = match level {
                Level::Fatal => "FATAL",
                Level::Error => "ERROR",
                Level::Warn => "WARN ",
                Level::Info => "INFO ",
                Level::Debug => "DEBUG",
            };
            let name = if s == Style::TiniNamed { "tini" } else { "tug" };
            let _ = writeln!(line, "[{tag} {name} ({})] {msg}", getpid());
        }
        Style::Text | Style::Json => structured(&mut line, level, msg.as_bytes(), None),
    }
    line
}

/// Where a job's output line came from.
pub struct Source<'a> {
    pub job: &'a str,
    pub pid: i32,
    pub stream: &'a str,
}

/// One line (or 64 KiB piece of a longer line) a job wrote, as today's
/// line.
pub fn job_line(source: &Source<'_>, bytes: &[u8]) -> Vec<u8> {
    let mut line = String::with_capacity(bytes.len() + 96);
    match style() {
        Style::Tini | Style::TiniNamed => {
            // Init mode has no records: prefix the job and pass the bytes.
            let _ = write!(line, "{}[{}] ", source.job, source.pid);
            let mut out = line.into_bytes();
            out.extend_from_slice(bytes);
            out.push(b'\n');
            return out;
        }
        Style::Text | Style::Json => structured(&mut line, Level::Info, bytes, Some(source)),
    }
    line.into_bytes()
}

fn structured(out: &mut String, level: Level, msg: &[u8], source: Option<&Source<'_>>) {
    let time = timestamp();
    if style() == Style::Json {
        let _ = write!(
            out,
            "{{\"time\":\"{time}\",\"level\":\"{}\",\"msg\":",
            level_word(level)
        );
        quote(out, msg);
        if let Some(s) = source {
            let _ = write!(out, ",\"job\":");
            quote(out, s.job.as_bytes());
            let _ = write!(out, ",\"pid\":{},\"stream\":\"{}\"", s.pid, s.stream);
        }
        out.push_str("}\n");
    } else {
        let _ = write!(out, "time=\"{time}\" level={} msg=", level_word(level));
        quote(out, msg);
        if let Some(s) = source {
            out.push_str(" job=");
            quote(out, s.job.as_bytes());
            let _ = write!(out, " pid={} stream={}", s.pid, s.stream);
        }
        out.push('\n');
    }
}

/// A double-quoted string with JSON escapes (also valid logfmt). Invalid
/// UTF-8 becomes U+FFFD: the record stays parseable and the line is kept.
fn quote(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        crate::json::escape_into(out, chunk.valid());
        if !chunk.invalid().is_empty() {
            out.push('\u{fffd}');
        }
    }
    out.push('"');
}

/// RFC 3339 UTC time with milliseconds.
fn timestamp() -> String {
    let (secs, nanos) = crate::sys::time::wall_clock();
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::calendar::civil_from_days(days);
    alloc::format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        nanos / 1_000_000
    )
}

macro_rules! fatal { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Fatal, format_args!($($t)*)) } }
macro_rules! error { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($t)*)) } }
macro_rules! warning { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($t)*)) } }
macro_rules! info { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($t)*)) } }
macro_rules! debug { ($($t:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($t)*)) } }
#[allow(unused_imports)]
pub(crate) use {debug, error, fatal, info, warning};

/// A job's most recent output lines, at most `cap` bytes with their
/// newlines: a new line pushes out whole oldest lines; a line longer than
/// the ring keeps its first `cap - 1` bytes. Memory is taken as lines
/// come (none for a job that prints nothing).
pub struct LogRing {
    buf: VecDeque<u8>,
    cap: usize,
    lines: usize,
}

impl LogRing {
    pub fn new(cap: usize) -> LogRing {
        LogRing {
            buf: VecDeque::new(),
            cap: cap.max(1),
            lines: 0,
        }
    }

    pub fn push(&mut self, line: &[u8]) {
        let line = &line[..line.len().min(self.cap - 1)];
        while self.buf.len() + line.len() + 1 > self.cap {
            let end = self.buf.iter().position(|&b| b == b'\n');
            self.buf.drain(..=end.unwrap_or(self.buf.len() - 1));
            self.lines -= 1;
        }
        // Grow by doubling, but never past the cap (a deque left to itself
        // may take twice what it holds).
        let need = self.buf.len() + line.len() + 1;
        if need > self.buf.capacity() {
            let want = (self.buf.capacity() * 2).clamp(need, self.cap);
            self.buf.reserve_exact(want - self.buf.len());
        }
        self.buf.extend(line);
        self.buf.push_back(b'\n');
        self.lines += 1;
    }

    /// Lines held.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Bytes held, newlines included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The held bytes, oldest first, in (at most) two pieces.
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        self.buf.as_slices()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &LogRing) -> String {
        let (a, b) = r.as_slices();
        String::from_utf8([a, b].concat()).unwrap()
    }

    #[test]
    fn the_ring_drops_whole_oldest_lines() {
        let mut r = LogRing::new(16);
        assert!(r.is_empty());
        r.push(b"one");
        r.push(b"two");
        r.push(b"three");
        assert_eq!(
            (text(&r).as_str(), r.lines(), r.len()),
            ("one\ntwo\nthree\n", 3, 14)
        );
        // 14 + 5 > 16: "one" goes, whole.
        r.push(b"four");
        assert_eq!((text(&r).as_str(), r.lines()), ("two\nthree\nfour\n", 3));
        r.push(b"");
        assert_eq!(text(&r), "two\nthree\nfour\n\n");
        // A line as long as the ring: everything else goes, it is cut.
        r.push(b"0123456789abcdefXYZ");
        assert_eq!((text(&r).as_str(), r.lines()), ("0123456789abcde\n", 1));
        r.push(b"x");
        assert_eq!((text(&r).as_str(), r.lines()), ("x\n", 1));
        // Many pushes wrap the deque; it never holds more than its cap.
        // The size the engine gives each job (jobs::output::LOG_RING).
        const LOG_RING: usize = 64 * 1024;
        let mut r = LogRing::new(LOG_RING);
        r.push(&[b'y'; 40_000]);
        for i in 0..20_000 {
            r.push(alloc::format!("line {i}").as_bytes());
            assert!(r.len() <= LOG_RING);
            assert!(r.buf.capacity() <= LOG_RING, "{}", r.buf.capacity());
        }
        let t = text(&r);
        assert!(
            t.ends_with("line 19999\n") && t.starts_with("line "),
            "{}",
            &t[..20]
        );
        assert_eq!(t.lines().count(), r.lines());
        assert!(r.len() > LOG_RING - 12, "only whole lines are dropped");
    }

    #[test]
    fn quoting_keeps_every_line_parseable() {
        let mut s = String::new();
        quote(&mut s, b"a \"b\" \\ \t\x01 \xff\xfe end");
        assert_eq!(s, "\"a \\\"b\\\" \\\\ \\t\\u0001 \u{fffd}\u{fffd} end\"");
    }
}
