//! A job's stdout or stderr, read from a pipe in the loop and logged one
//! line per record. Lines longer than 64 KiB are cut into 64 KiB records
//! (never dropped), a last line without a newline is flushed at EOF, and
//! the pipe is read until EOF, not until the process exits: nothing a job
//! (or a grandchild holding the pipe) writes is lost.
//!
//! Each record goes to a sink, with its source: the engine hands it to
//! the log router and, for a job's own output (not its health check's),
//! keeps it in the job's `LogRing` (for `tug ctl logs`) and hands it to
//! its followers. A raw job
//! (`logging: {raw: true}`) writes to tug's stdout and stderr directly,
//! so tug never sees its output and keeps none.

// The ring is the log's (the control socket serves it, below the jobs);
// its old path stays for the engine and the fuzz targets.
pub use crate::log::LogRing;
use crate::log::Source;
use crate::sys::Errno;
use crate::sys::fd::Fd;
use alloc::string::String;
use alloc::vec::Vec;

pub const MAX_RECORD: usize = 64 * 1024;

/// Bytes of recent output kept per job.
pub const LOG_RING: usize = 64 * 1024;

/// Where a job's records go, with where each came from.
pub type Sink<'a> = &'a mut dyn FnMut(&Source<'_>, &[u8]);

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

    /// Reads what the pipe has; hands every complete line to `sink`. Returns false at EOF (or on a read error), after flushing
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
        let source = Source {
            job: &self.job,
            pid: self.pid,
            stream: self.stream,
        };
        sink(&source, bytes);
    }

    /// Hands over whatever is buffered, complete line or not (before the
    /// pipe is closed early: tug exiting).
    pub fn flush_all(&mut self, sink: Sink<'_>) {
        self.emit_lines(sink);
        if !self.buf.is_empty() {
            let len = self.buf.len();
            self.emit(0, len, sink);
            self.buf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_reach_the_sink() {
        let (r, w) = crate::sys::fd::pipe().unwrap();
        crate::sys::fd::set_nonblocking(&r).unwrap();
        let mut out = Output::new(r, "t".into(), 1, "stdout");
        crate::sys::fd::write_all(w.raw(), b"a\r\nb\nc");
        let mut got: Vec<Vec<u8>> = Vec::new();
        assert!(out.pump(&mut |_, l| got.push(l.to_vec())));
        assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
        drop(w);
        assert!(!out.pump(&mut |_, l| got.push(l.to_vec())));
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], b"c");
    }
}
