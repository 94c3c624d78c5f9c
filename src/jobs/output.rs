//! A job's stdout or stderr, read from a pipe in the loop and logged one
//! line per record. Lines longer than 64 KiB are cut into 64 KiB records
//! (never dropped), a last line without a newline is flushed at EOF, and
//! the pipe is read until EOF, not until the process exits: nothing a job
//! (or a grandchild holding the pipe) writes is lost.

use crate::log::{self, Source};
use crate::sys::Errno;
use crate::sys::fd::Fd;
use alloc::string::String;
use alloc::vec::Vec;

pub const MAX_RECORD: usize = 64 * 1024;

pub struct Output {
    pub fd: Fd,
    pub job: String,
    pub pid: i32,
    pub stream: &'static str,
    buf: Vec<u8>,
}

impl Output {
    pub fn new(fd: Fd, job: String, pid: i32, stream: &'static str) -> Output {
        Output {
            fd,
            job,
            pid,
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads what the pipe has; logs every complete line. Returns false at
    /// EOF (or on a read error), after flushing the rest.
    pub fn pump(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        // A bounded number of reads per wake-up keeps a chatty job from
        // starving the rest of the loop; epoll reports the pipe again.
        for _ in 0..16 {
            match self.fd.read(&mut chunk) {
                Ok(0) => {
                    self.flush_all();
                    return false;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.emit_lines();
                }
                Err(Errno::EAGAIN) => return true,
                Err(_) => {
                    self.flush_all();
                    return false;
                }
            }
        }
        true
    }

    fn emit_lines(&mut self) {
        let mut start = 0;
        while let Some(nl) = self.buf[start..].iter().position(|&b| b == b'\n') {
            self.emit(start, start + nl);
            start += nl + 1;
        }
        while self.buf.len() - start >= MAX_RECORD {
            self.emit(start, start + MAX_RECORD);
            start += MAX_RECORD;
        }
        self.buf.drain(..start);
    }

    fn emit(&self, from: usize, to: usize) {
        let mut line = &self.buf[from..to];
        // Long lines are cut in pieces of MAX_RECORD bytes.
        while line.len() > MAX_RECORD {
            self.record(&line[..MAX_RECORD]);
            line = &line[MAX_RECORD..];
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self.record(line);
    }

    fn record(&self, bytes: &[u8]) {
        log::job_line(
            &Source {
                job: &self.job,
                pid: self.pid,
                stream: self.stream,
            },
            bytes,
        );
    }

    /// Logs whatever is buffered, complete line or not.
    fn flush_all(&mut self) {
        self.emit_lines();
        if !self.buf.is_empty() {
            let len = self.buf.len();
            self.emit(0, len);
            self.buf.clear();
        }
    }
}

impl Drop for Output {
    /// A pipe closed before EOF (tug exiting) still logs its last bytes.
    fn drop(&mut self) {
        self.flush_all();
    }
}
