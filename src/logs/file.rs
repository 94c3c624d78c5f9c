//! `LogFile`: a log output to a file, with strftime names, size rotation,
//! reopening on demand, and an inotify watch that notices at once when an
//! outside logrotate moves or deletes the file.
//!
//! Contract:
//! - `open(path, rotate, bound)` opens `path` O_WRONLY|O_APPEND|O_CREAT|
//!   O_CLOEXEC (0644), creating missing directories (0755), and watches
//!   its directory. `path` is the name already expanded: the caller owns
//!   the pattern and the clock (`logs::strftime::expand` with the record's
//!   time) and hands each record's expanded name to `set_path`, which
//!   reopens only when the name changed (a date rollover). The caller may
//!   cache the expansion per second; nothing here reads a clock.
//! - `push`, `has_room`, `flush`, `drain_blocking` are `Sink`'s (writes to
//!   a regular file are blocking and complete: a file is never "pending"
//!   and never needs WRITABLE).
//! - Rotation `{ size, keep }`: before a record that would take the file
//!   past `size` (and the file is not empty, so one huge record still
//!   lands somewhere), file.keep-1 → file.keep, …, file → file.1 (renames
//!   only: no copies, and rename over file.keep drops the oldest), then a
//!   fresh file. keep 0: the file is removed and started again.
//! - `reopen()`: SIGUSR1 and `tug ctl logs reopen` (after an outside
//!   logrotate that signals).
//! - `fd()` is the inotify fd: register it READABLE for good and call
//!   `on_watch()` when it fires. It reopens when the path no longer names
//!   the file tug writes (moved away, deleted, something renamed over it,
//!   the directory itself moved or removed) and says so (`Ok(true)`), so
//!   the next record goes to a fresh file. No polling.
//!
//! Decisions:
//! - The directory is watched, not the file (as `service::pidfile`): a
//!   watch on the file's inode would follow the moved file. The mask is
//!   IN_MOVED_FROM, IN_DELETE and IN_MOVED_TO (each can make the path stop
//!   naming our file) plus the directory's own DELETE_SELF/MOVE_SELF;
//!   not IN_CREATE or IN_MODIFY, which would wake tug for every file
//!   written in /var/log.
//! - Whether to reopen is decided by comparing (dev, inode) of the path
//!   with the open fd's, not by the event alone: tug's own rotation makes
//!   the same MOVED_FROM events as logrotate's, and logrotate's `create`
//!   may already have made the new file before tug looks. The comparison
//!   is idempotent, so a burst of events costs one stat.
//! - The size counted for rotation starts from the file's size at open
//!   (appending to yesterday's file keeps its count) plus what tug wrote;
//!   other writers to the same file are not counted.

use super::sink::{Flushed, Sink};
use crate::sys::Errno;
use crate::sys::fd::{Fd, RawFd, open_append};
use crate::sys::file::{self, EEXIST};
use crate::sys::inotify::{
    Event, IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_MOVE_SELF, IN_MOVED_FROM, IN_MOVED_TO,
    IN_ONLYDIR, IN_Q_OVERFLOW, Inotify,
};
use crate::sys::listen::{mkdir, unlink};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

const MASK: u32 = IN_MOVED_FROM | IN_DELETE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotate {
    /// Bytes; a file is rotated before it would grow past this.
    pub size: u64,
    /// Old files kept: file.1 (newest) … file.keep.
    pub keep: u32,
}

pub struct LogFile {
    path: String,
    rotate: Option<Rotate>,
    bound: usize,
    sink: Sink,
    /// (dev, inode) of the open file.
    id: (u64, u64),
    /// Bytes in the open file, written or buffered.
    size: u64,
    watch: Inotify,
    /// The watch on the directory `dir`, while there is one.
    wd: Option<i32>,
    dir: String,
    rotations: u64,
}

fn cpath(path: &str) -> Result<CString, String> {
    CString::new(path).map_err(|_| format!("{path}: a file name cannot contain NUL"))
}

/// (directory, file name) of a path.
fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (".", path),
    }
}

/// Opens for appending, creating missing directories (0755).
fn open_creating(path: &str) -> Result<(Fd, file::Stat), String> {
    let c = cpath(path)?;
    let fd = match open_append(&c) {
        Err(Errno::ENOENT) => {
            let dir = split(path).0;
            let ends = dir.match_indices('/').map(|(i, _)| i).filter(|&i| i > 0);
            for i in ends.chain([dir.len()]) {
                match mkdir(&cpath(&dir[..i])?, 0o755) {
                    Ok(()) | Err(EEXIST) => {}
                    Err(e) => return Err(format!("{}: cannot create it: {e}", &dir[..i])),
                }
            }
            open_append(&c)
        }
        other => other,
    }
    .map_err(|e| format!("{path}: cannot open it: {e}"))?;
    let st = file::fstat(fd.raw()).map_err(|e| format!("{path}: {e}"))?;
    Ok((fd, st))
}

impl LogFile {
    pub fn open(path: &str, rotate: Option<Rotate>, bound: usize) -> Result<LogFile, String> {
        let watch = Inotify::new().map_err(|e| format!("inotify: {e}"))?;
        let (fd, st) = open_creating(path)?;
        let mut f = LogFile {
            path: path.into(),
            rotate,
            bound,
            sink: Sink::file(fd, path, bound),
            id: (st.dev, st.ino),
            size: st.size,
            watch,
            wd: None,
            dir: String::new(),
            rotations: 0,
        };
        f.watch_dir()?;
        Ok(f)
    }

    /// The file's name as open now.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Rotations done (for metrics).
    pub fn rotations(&self) -> u64 {
        self.rotations
    }

    /// The inotify fd, to register READABLE.
    pub fn fd(&self) -> RawFd {
        self.watch.fd().raw()
    }

    fn watch_dir(&mut self) -> Result<(), String> {
        let dir = split(&self.path).0;
        if self.wd.is_some() && self.dir == dir {
            return Ok(());
        }
        if let Some(wd) = self.wd.take() {
            let _ = self.watch.rm_watch(wd);
        }
        let wd = self
            .watch
            .add_watch(&cpath(dir)?, MASK | IN_ONLYDIR)
            .map_err(|e| format!("{dir}: cannot watch it: {e}"))?;
        self.wd = Some(wd);
        self.dir = dir.into();
        Ok(())
    }

    /// Follows a change of the expanded name: Ok(true) when a new file
    /// was opened. On Err the old file stays open and the next call with
    /// the new name tries again.
    pub fn set_path(&mut self, path: &str) -> Result<bool, String> {
        if path == self.path {
            return Ok(false);
        }
        let old = core::mem::replace(&mut self.path, path.into());
        match open_creating(&self.path) {
            Ok(opened) => self.switch(opened).map(|()| true),
            Err(e) => {
                self.path = old;
                Err(e)
            }
        }
    }

    /// Opens the path afresh (it may name another file by now). On Err
    /// before the open, the file open now stays in use.
    pub fn reopen(&mut self) -> Result<(), String> {
        let opened = open_creating(&self.path)?;
        self.switch(opened)
    }

    /// Writes what is buffered to the old file, then uses the new one.
    fn switch(&mut self, (fd, st): (Fd, file::Stat)) -> Result<(), String> {
        let flushed = self.sink.flush();
        self.sink = Sink::file(fd, &self.path, self.bound);
        self.id = (st.dev, st.ino);
        self.size = st.size;
        let watched = self.watch_dir();
        flushed.and(watched).map(drop)
    }

    /// Appends a record (rotating first when it would cross the size);
    /// Ok(false): at the bound, stop the sources. An Err is a failed
    /// rotation: the record was still appended to the file open now.
    pub fn push(&mut self, record: &[u8]) -> Result<bool, String> {
        let n = record.len() as u64;
        let rotated = match self.rotate {
            Some(r) if self.size > 0 && self.size + n > r.size => self.rotate_now(r.keep),
            _ => Ok(()),
        };
        self.size += n;
        let room = self.sink.push(record);
        rotated.map(|()| room)
    }

    fn rotate_now(&mut self, keep: u32) -> Result<(), String> {
        let flushed = self.sink.flush();
        let name = |i: u32| cpath(&format!("{}.{i}", self.path));
        let moved = if keep == 0 {
            unlink(&cpath(&self.path)?)
        } else {
            for i in (1..keep).rev() {
                match file::rename(&name(i)?, &name(i + 1)?) {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(e) => return Err(format!("{}.{i}: cannot rotate it: {e}", self.path)),
                }
            }
            file::rename(&cpath(&self.path)?, &name(1)?)
        };
        moved.map_err(|e| format!("{}: cannot rotate it: {e}", self.path))?;
        self.rotations += 1;
        self.reopen()?;
        flushed.map(drop)
    }

    pub fn has_room(&self, n: usize) -> bool {
        self.sink.has_room(n)
    }

    pub fn flush(&mut self) -> Result<Flushed, String> {
        self.sink.flush()
    }

    pub fn drain_blocking(&mut self, deadline_ns: u64) -> Result<(), String> {
        self.sink.drain_blocking(deadline_ns)
    }

    /// Whether the path still names the file open now.
    fn still_ours(&self) -> bool {
        let Ok(c) = CString::new(self.path.as_str()) else {
            return false;
        };
        file::stat(&c).is_ok_and(|st| (st.dev, st.ino) == self.id)
    }

    /// The watch fd is readable: Ok(true) when the file was reopened
    /// because the path no longer named it.
    pub fn on_watch(&mut self) -> Result<bool, String> {
        let mut touched = false;
        // The fd is level-triggered: what is left comes back next turn.
        for _ in 0..64 {
            let events = self.read_events()?;
            if events.is_empty() {
                break;
            }
            let base = split(&self.path).1.as_bytes();
            for e in events {
                if e.mask & IN_Q_OVERFLOW != 0 {
                    touched = true;
                } else if Some(e.wd) != self.wd {
                    // A watch dropped earlier (IN_IGNORED of it, late events).
                } else if e.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 {
                    // The directory went: the watch (following a moved
                    // directory's inode) is useless; reopen recreates it.
                    if let Some(wd) = self.wd.take() {
                        let _ = self.watch.rm_watch(wd);
                    }
                    touched = true;
                } else if e.name == base {
                    touched = true;
                }
            }
        }
        if !touched || (self.wd.is_some() && self.still_ours()) {
            return Ok(false);
        }
        self.reopen().map(|()| true)
    }

    fn read_events(&self) -> Result<Vec<Event>, String> {
        self.watch
            .read()
            .map_err(|e| format!("{}: inotify: {e}", self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::notify::wait_readable;
    use std::fs;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tug-logfile-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn write(f: &mut LogFile, s: &str) {
        assert!(f.push(s.as_bytes()).unwrap());
        assert_eq!(f.flush().unwrap().left, 0);
    }

    #[test]
    fn rotates_by_size_keeping_two() {
        let dir = temp_dir("rotate");
        let path = dir.join("sub/app.log");
        let p = path.to_str().unwrap();
        let rot = Rotate { size: 10, keep: 2 };
        let mut f = LogFile::open(p, Some(rot), 1024).unwrap();
        assert!(
            fs::metadata(dir.join("sub")).unwrap().is_dir(),
            "directories made"
        );
        for line in [
            "aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n",
        ] {
            write(&mut f, line);
        }
        // 10 bytes a file: ab | cd | ef | g; keep 2 drops "ab".
        assert_eq!(f.rotations(), 3);
        let read = |s: &str| fs::read_to_string(dir.join(s)).unwrap();
        assert_eq!(read("sub/app.log"), "gggg\n");
        assert_eq!(read("sub/app.log.1"), "eeee\nffff\n");
        assert_eq!(read("sub/app.log.2"), "cccc\ndddd\n");
        assert!(!dir.join("sub/app.log.3").exists());
        // Our own renames made MOVED_FROM events: no reopen for those.
        assert!(wait_readable(f.fd(), 0));
        assert_eq!(f.on_watch(), Ok(false));
        assert!(!wait_readable(f.fd(), 0), "drained");

        // A record bigger than the size still lands (in a fresh file).
        write(&mut f, &"h".repeat(30));
        assert_eq!(read("sub/app.log"), "h".repeat(30));
        assert_eq!(read("sub/app.log.1"), "gggg\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_outside_mv_or_rm_is_seen_at_once_and_the_next_write_goes_to_a_fresh_file() {
        let dir = temp_dir("mv");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.log");
        let mut f = LogFile::open(path.to_str().unwrap(), None, 1024).unwrap();
        write(&mut f, "before\n");
        assert!(!wait_readable(f.fd(), 0), "idle: nothing to read");
        // Another file in the directory: a wake-up, no reopen.
        fs::write(dir.join("other.log"), "x").unwrap();
        fs::rename(dir.join("other.log"), dir.join("other.log.1")).unwrap();
        assert!(wait_readable(f.fd(), 0));
        assert_eq!(f.on_watch(), Ok(false));

        fs::rename(&path, dir.join("app.log.1")).unwrap();
        assert!(wait_readable(f.fd(), 1000), "inotify, not polling");
        assert_eq!(f.on_watch(), Ok(true));
        write(&mut f, "after\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "after\n");
        assert_eq!(
            fs::read_to_string(dir.join("app.log.1")).unwrap(),
            "before\n"
        );

        fs::remove_file(&path).unwrap();
        assert!(wait_readable(f.fd(), 1000));
        assert_eq!(f.on_watch(), Ok(true));
        write(&mut f, "recreated\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "recreated\n");

        // The directory itself moved away: recreated, watched again.
        fs::rename(&dir, dir.with_extension("old")).unwrap();
        assert!(wait_readable(f.fd(), 1000));
        assert_eq!(f.on_watch(), Ok(true));
        write(&mut f, "new dir\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "new dir\n");
        fs::remove_file(&path).unwrap();
        assert!(wait_readable(f.fd(), 1000), "the new directory is watched");
        assert_eq!(f.on_watch(), Ok(true));
        fs::remove_dir_all(&dir).unwrap();
        fs::remove_dir_all(dir.with_extension("old")).unwrap();
    }

    #[test]
    fn a_new_name_or_a_reopen_opens_afresh() {
        let dir = temp_dir("name");
        let day = |d: &str| {
            dir.join(format!("{d}/syslog.log"))
                .to_str()
                .unwrap()
                .to_string()
        };
        let mut f = LogFile::open(&day("20261206"), None, 1024).unwrap();
        write(&mut f, "sat\n");
        assert_eq!(f.set_path(&day("20261206")), Ok(false));
        assert_eq!(f.set_path(&day("20261207")), Ok(true));
        write(&mut f, "sun\n");
        assert_eq!(f.path(), day("20261207"));
        assert_eq!(fs::read_to_string(day("20261206")).unwrap(), "sat\n");
        assert_eq!(fs::read_to_string(day("20261207")).unwrap(), "sun\n");

        // SIGUSR1 after an outside rotation (no event needed).
        let old = dir.join("20261207/syslog.log.1");
        fs::rename(day("20261207"), &old).unwrap();
        f.reopen().unwrap();
        write(&mut f, "mon\n");
        assert_eq!(fs::read_to_string(day("20261207")).unwrap(), "mon\n");
        assert_eq!(fs::read_to_string(&old).unwrap(), "sun\n");
        assert!(LogFile::open("/proc/nope/x.log", None, 1).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
