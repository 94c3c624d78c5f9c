//! inotify: a non-blocking, CLOEXEC descriptor that reports changes in
//! watched files and directories.
//!
//! The kernel packs events into one read as variable-length records
//! (`struct inotify_event` followed by `len` bytes of NUL-padded name).
//! `parse_events` decodes them from plain bytes without pointer casts, so
//! a short or odd buffer can only end the list early, never read past it.

use super::fd::Fd;
use super::{Errno, Result, check};
use alloc::vec::Vec;
use core::ffi::CStr;

pub const IN_MODIFY: u32 = libc::IN_MODIFY;
pub const IN_CLOSE_WRITE: u32 = libc::IN_CLOSE_WRITE;
pub const IN_MOVED_FROM: u32 = libc::IN_MOVED_FROM;
pub const IN_MOVED_TO: u32 = libc::IN_MOVED_TO;
pub const IN_CREATE: u32 = libc::IN_CREATE;
pub const IN_DELETE: u32 = libc::IN_DELETE;
pub const IN_DELETE_SELF: u32 = libc::IN_DELETE_SELF;
pub const IN_MOVE_SELF: u32 = libc::IN_MOVE_SELF;
/// Not asked for: the kernel dropped events (the queue was full). wd is -1.
pub const IN_Q_OVERFLOW: u32 = libc::IN_Q_OVERFLOW;
/// Not asked for: the watch is gone (rm_watch, or its inode was deleted).
pub const IN_IGNORED: u32 = libc::IN_IGNORED;
pub const IN_ONLYDIR: u32 = libc::IN_ONLYDIR;

/// Size of the fixed part of a record: wd, mask, cookie, len.
const HEADER: usize = 16;
/// Room for many records; one record is at most HEADER + NAME_MAX + 1
/// (rounded up), which this always fits, so a read never fails EINVAL.
const BUF: usize = 4096;

/// One event: the watch it came from, what happened, and for a watched
/// directory the name of the entry it happened to (empty otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub wd: i32,
    pub mask: u32,
    pub name: Vec<u8>,
}

pub struct Inotify(Fd);

impl Inotify {
    pub fn new() -> Result<Inotify> {
        // SAFETY: plain flags; the fd is owned by Fd from here on.
        let fd = check(unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) })?;
        Ok(Inotify(Fd::from_raw(fd)))
    }

    pub fn fd(&self) -> &Fd {
        &self.0
    }

    /// Watches `path` for `mask`; returns the watch descriptor. Watching
    /// the same inode again returns the same wd (and replaces its mask).
    pub fn add_watch(&self, path: &CStr, mask: u32) -> Result<i32> {
        // SAFETY: path is NUL-terminated and only read during the call.
        check(unsafe { libc::inotify_add_watch(self.0.raw(), path.as_ptr(), mask) })
    }

    pub fn rm_watch(&self, wd: i32) -> Result<()> {
        // SAFETY: plain integers; an unknown wd is EINVAL, not UB.
        check(unsafe { libc::inotify_rm_watch(self.0.raw(), wd) }).map(drop)
    }

    /// The events of one read; empty when none are queued (EAGAIN). A
    /// caller that wants them all reads until it gets an empty list.
    pub fn read(&self) -> Result<Vec<Event>> {
        let mut buf = [0u8; BUF];
        // Fd::read already retries EINTR.
        match self.0.read(&mut buf) {
            Ok(n) => Ok(parse_events(&buf[..n])),
            Err(Errno::EAGAIN) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

/// Decodes the records of one read. A record whose name would run past the
/// end of `buf` ends the list (the kernel never produces one).
pub fn parse_events(buf: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(head) = buf.get(at..at + HEADER) {
        let word = |k: usize| [head[k], head[k + 1], head[k + 2], head[k + 3]];
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let Some(raw) = buf.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        // The name is padded with NULs to an aligned length.
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        out.push(Event {
            wd,
            mask,
            name: raw[..end].to_vec(),
        });
        at += HEADER + len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(wd: i32, mask: u32, name: &[u8], padded: usize) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&wd.to_ne_bytes());
        r.extend_from_slice(&mask.to_ne_bytes());
        r.extend_from_slice(&0u32.to_ne_bytes());
        r.extend_from_slice(&(padded as u32).to_ne_bytes());
        r.extend_from_slice(name);
        r.resize(HEADER + padded, 0);
        r
    }

    #[test]
    fn parses_packed_records_and_stops_at_a_truncated_one() {
        let mut buf = record(1, IN_CREATE, b"nginx.pid", 16);
        buf.extend(record(1, IN_CLOSE_WRITE, b"", 0));
        buf.extend(record(-1, IN_Q_OVERFLOW, b"", 0));
        let evs = parse_events(&buf);
        assert_eq!(evs.len(), 3);
        assert_eq!(
            evs[0],
            Event {
                wd: 1,
                mask: IN_CREATE,
                name: b"nginx.pid".to_vec()
            }
        );
        assert_eq!((evs[1].mask, evs[1].name.len()), (IN_CLOSE_WRITE, 0));
        assert_eq!((evs[2].wd, evs[2].mask), (-1, IN_Q_OVERFLOW));

        // A name longer than the buffer, and a header cut short: no panic.
        let mut cut = record(2, IN_MOVED_TO, b"x.pid", 16);
        cut.truncate(HEADER + 4);
        assert_eq!(parse_events(&cut), []);
        assert_eq!(parse_events(&cut[..7]), []);
        let mut huge = record(3, IN_DELETE, b"", 0);
        huge[12..16].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(parse_events(&huge), []);
    }

    #[test]
    fn reports_a_file_created_in_a_watched_directory() {
        let dir = std::env::temp_dir().join(format!("tug-inotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ino = Inotify::new().unwrap();
        assert_eq!(ino.read().unwrap(), [], "nothing yet: EAGAIN, not a block");
        let cdir = alloc::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let wd = ino
            .add_watch(&cdir, IN_CREATE | IN_CLOSE_WRITE | IN_ONLYDIR)
            .unwrap();
        std::fs::write(dir.join("a.pid"), b"42\n").unwrap();
        let evs = ino.read().unwrap();
        let masks: Vec<u32> = evs.iter().map(|e| e.mask).collect();
        assert_eq!(masks, [IN_CREATE, IN_CLOSE_WRITE]);
        assert!(evs.iter().all(|e| e.wd == wd && e.name == b"a.pid"));
        ino.rm_watch(wd).unwrap();
        assert_eq!(ino.read().unwrap()[0].mask, IN_IGNORED);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
