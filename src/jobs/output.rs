//! A job's stdout or stderr, read from a pipe in the loop and logged one
//! line per record. Lines longer than 64 KiB are cut into 64 KiB records
//! (never dropped), a last line without a newline is flushed at EOF, and
//! the pipe is read until EOF, not until the process exits: nothing a job
//! (or a grandchild holding the pipe) writes is lost.
//!
//! Each record of a job's own output (not its health check's) also goes
//! to a sink: the engine keeps the job's recent lines in a `LogRing` (for
//! `tug ctl logs`) and hands them to its followers. A raw job
//! (`logging: {raw: true}`) writes to tug's stdout and stderr directly,
//! so tug never sees its output and keeps none.

use crate::log::{self, Source};
use crate::sys::Errno;
use crate::sys::fd::Fd;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

pub const MAX_RECORD: usize = 64 * 1024;

/// Bytes of recent output kept per job.
pub const LOG_RING: usize = 64 * 1024;

/// Where a job's records go besides tug's log.
pub type Sink<'a> = &'a mut dyn FnMut(&[u8]);

pub struct Output {
    pub fd: Fd,
    pub job: String,
    pub pid: i32,
    pub stream: &'static str,
    /// The job (index) whose ring these records feed; None: a check's.
    pub ring: Option<usize>,
    buf: Vec<u8>,
}

impl Output {
    pub fn new(fd: Fd, job: String, pid: i32, stream: &'static str) -> Output {
        Output {
            fd,
            job,
            pid,
            stream,
            ring: None,
            buf: Vec::new(),
        }
    }

    /// Reads what the pipe has; logs every complete line (and hands it to
    /// `sink`). Returns false at EOF (or on a read error), after flushing
    /// the rest.
    pub fn pump(&mut self, sink: Sink<'_>) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        // A bounded number of reads per wake-up keeps a chatty job from
        // starving the rest of the loop; epoll reports the pipe again.
        for _ in 0..16 {
            match self.fd.read(&mut chunk) {
                Ok(0) => {
                    self.flush_all(sink);
                    return false;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.emit_lines(sink);
                }
                Err(Errno::EAGAIN) => return true,
                Err(_) => {
                    self.flush_all(sink);
                    return false;
                }
            }
        }
        true
    }

    fn emit_lines(&mut self, sink: Sink<'_>) {
        let mut start = 0;
        while let Some(nl) = self.buf[start..].iter().position(|&b| b == b'\n') {
            self.emit(start, start + nl, sink);
            start += nl + 1;
        }
        while self.buf.len() - start >= MAX_RECORD {
            self.emit(start, start + MAX_RECORD, sink);
            start += MAX_RECORD;
        }
        self.buf.drain(..start);
    }

    fn emit(&self, from: usize, to: usize, sink: Sink<'_>) {
        let mut line = &self.buf[from..to];
        // Long lines are cut in pieces of MAX_RECORD bytes.
        while line.len() > MAX_RECORD {
            self.record(&line[..MAX_RECORD], sink);
            line = &line[MAX_RECORD..];
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.record(line, sink);
    }

    fn record(&self, bytes: &[u8], sink: Sink<'_>) {
        log::job_line(
            &Source {
                job: &self.job,
                pid: self.pid,
                stream: self.stream,
            },
            bytes,
        );
        sink(bytes);
    }

    /// Logs whatever is buffered, complete line or not.
    fn flush_all(&mut self, sink: Sink<'_>) {
        self.emit_lines(sink);
        if !self.buf.is_empty() {
            let len = self.buf.len();
            self.emit(0, len, sink);
            self.buf.clear();
        }
    }
}

impl Drop for Output {
    /// A pipe closed before EOF (tug exiting) still logs its last bytes.
    fn drop(&mut self) {
        self.flush_all(&mut |_| {});
    }
}

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
    fn records_reach_the_sink() {
        let (r, w) = crate::sys::fd::pipe().unwrap();
        crate::sys::fd::set_nonblocking(&r).unwrap();
        let mut out = Output::new(r, "t".into(), 1, "stdout");
        crate::sys::fd::write_all(w.raw(), b"a\r\nb\nc");
        let mut got: Vec<Vec<u8>> = Vec::new();
        assert!(out.pump(&mut |l| got.push(l.to_vec())));
        assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
        drop(w);
        assert!(!out.pump(&mut |l| got.push(l.to_vec())));
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], b"c");
    }
}
