//! Pidfiles of forking daemons, watched with inotify.
//!
//! A `type: "forking"` job's start command forks a daemon and exits; the
//! daemon names itself in a pidfile. Three pieces, none of which knows
//! about jobs:
//! - `parse_pid`: the file's bytes to a pid (sans-IO, fuzzed).
//! - `PidfileWatch`: an inotify watch on the pidfile's directory, driven
//!   by the loop (`fd` readable → `on_readable`), that reports each change
//!   of the pid the file names.
//! - `adoptable`: whether a pid read from a pidfile may become a job's
//!   main process.
//!
//! Contract:
//! - `PidfileWatch::new` watches at once; `read_now` then reads the file.
//!   Every change after `new` returns makes the fd readable, so watch
//!   first and read second, and no write can slip between them.
//! - `read_now` and `on_readable` share one record of what was last seen,
//!   so `on_readable` reports a pid only when it differs from what either
//!   returned last: a rewrite with the same pid (`nginx -s reload`) is
//!   silent, a new pid is reported exactly once, however many events the
//!   rewrite made.
//! - `on_readable` drains the inotify fd (at most 64 reads per call; the
//!   level-triggered fd comes back for the rest) and reads the file at
//!   most once, so several rewrites that land in one turn report only the
//!   pid the file names now. No polling, no timers.
//!
//! Decisions:
//! - The directory is watched, not the file: the file may not exist yet,
//!   and daemons replace it (rename over it, delete and recreate, or
//!   nginx's USR2 upgrade: nginx.pid is renamed to nginx.pid.oldbin, the
//!   new master writes a new nginx.pid, and the old master deletes
//!   nginx.pid.oldbin when it exits). A watch on the file's inode would
//!   follow the renamed file, not the path. Events for other names in the
//!   directory are dropped after a name comparison.
//! - The mask: IN_CREATE, IN_MODIFY, IN_CLOSE_WRITE (a write in place),
//!   IN_MOVED_TO (renamed over the path), IN_MOVED_FROM and IN_DELETE (the
//!   path no longer names the file: `Change::Removed`, so the same pid
//!   written again later is reported again), IN_DELETE_SELF/IN_MOVE_SELF
//!   (the directory itself went: `Change::Error`, the watch is dropped).
//!   IN_MODIFY is there for daemons that keep their pidfile open (a lock
//!   held until exit: no IN_CLOSE_WRITE ever comes); its cost is a wakeup
//!   per write to any file in that directory, so a pidfile next to a busy
//!   log wakes tug on each log write (cheap: one name comparison).
//! - The directory must exist when the watch starts (an error otherwise):
//!   a start command that creates it could race the watch.
//! - An empty (or all-whitespace) file is "not written yet", never an
//!   error: daemons open it with O_TRUNC (IN_CREATE, or IN_MODIFY for the
//!   truncation) and write after, and tug can read in between. It changes
//!   nothing in the record: a daemon truncating and rewriting its pidfile
//!   is silent until the new content is there. Every non-empty prefix of
//!   a pid is digits, so a half-written pid reads as a (wrong) pid rather
//!   than as garbage; the daemons checked write it in one write(), so
//!   this is not guarded.
//! - What real daemons do (nginx 1.22, dnsmasq 2.90, observed): nginx
//!   writes with CREATE, MODIFY, CLOSE_WRITE; `nginx -s reload` does not
//!   touch the file; USR2 gives MOVED_FROM nginx.pid, MOVED_TO
//!   nginx.pid.oldbin, then the new master's CREATE, MODIFY, CLOSE_WRITE
//!   (reported: Removed, then the new pid); QUIT to the old master gives
//!   DELETE nginx.pid.oldbin (not ours: silent); nginx's exit deletes
//!   nginx.pid (Removed). A failed upgrade renames .oldbin back (the old
//!   pid again, after Removed). dnsmasq double-forks, deletes a stale
//!   pidfile, then CREATE, ATTRIB, MODIFY, CLOSE_WRITE; it leaves the
//!   file behind when it exits, so a stale pid is normal at a restart.
//! - Content that is not a pid is `Change::Error` once, until the file
//!   changes to something else. A file is read up to 128 bytes: a larger
//!   one is not a pidfile (and /dev/zero cannot make tug read forever).
//!   Not guarded: a FIFO at the path would block the open.
//! - A queue overflow (IN_Q_OVERFLOW) counts as a touch: the file is read.
//!
//! Adoption (`adoptable`): the pid must be running and not a zombie (a
//! zombie has exited; its parent reaps it at once, and adopting it would
//! only report that exit late), not tug itself and not a process tug
//! already owns for another job. Then either it is one of the job's own
//! processes or their descendant (the start command's daemon before the
//! start command exits; nginx's new master, a child of the old one, after
//! USR2), or tug's direct child (a daemon that double-forked and whose
//! parent exited was reparented to tug, the subreaper or PID 1). Process
//! groups and sessions cannot be used: nginx's master (like any daemon)
//! calls setsid, leaving the start command's group. Parent links are all
//! that is left, and they are read from /proc now, so the check is only
//! as good as the moment: a direct child of tug that no job owns yet (an
//! orphan another job's start command left) passes. Without a subreaper
//! (prctl failed, and tug is not PID 1) an orphaned daemon's parent is
//! PID 1 of the namespace and it is refused: tug could not reap it.

use crate::process::tree::{self, Proc};
use crate::sys::Errno;
use crate::sys::fd::{RawFd, open_read};
use crate::sys::inotify::{self, Inotify};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

/// A pidfile's content to a pid: ASCII decimal digits, optionally
/// surrounded by whitespace (a trailing newline, mostly). The error says
/// what is wrong, for a person ("not a pid: \"abc\"").
pub fn parse_pid(content: &[u8]) -> Result<i32, String> {
    let text = content.trim_ascii();
    if text.is_empty() {
        return Err(String::from("empty"));
    }
    let shown = || {
        let cut = &text[..text.len().min(32)];
        let more = if text.len() > cut.len() { "..." } else { "" };
        format!("\"{}{more}\"", cut.escape_ascii())
    };
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!("not a pid: {}", shown()));
    }
    if negative {
        return Err(format!("a negative pid: {}", shown()));
    }
    let mut pid: i32 = 0;
    for &d in digits {
        pid = pid
            .checked_mul(10)
            .and_then(|p| p.checked_add(i32::from(d - b'0')))
            .ok_or_else(|| format!("pid out of range: {}", shown()))?;
    }
    if pid == 0 {
        return Err(String::from("pid 0 is not a process"));
    }
    Ok(pid)
}

/// What `on_readable` saw change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The pidfile now names this pid (a different one from before).
    Pid(i32),
    /// The pidfile named a pid (or garbage) and is gone now: deleted or
    /// renamed away (nginx's USR2 upgrade, a daemon's exit). Not an exit.
    Removed,
    /// The pidfile holds something that is not a pid, cannot be read, or
    /// its directory is gone (then nothing more is reported). One line.
    Error(String),
}

/// What the file showed last (to report changes only).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    Nothing,
    Pid(i32),
    Bad,
}

/// One read of the file.
enum Reading {
    Missing,
    /// Exists but empty or all whitespace: not written yet.
    Empty,
    Pid(i32),
    Bad(String),
}

/// The largest file read: a pid and some whitespace fit many times over.
const MAX_LEN: usize = 128;

/// The events that may mean the path names different content now.
const TOUCH: u32 = inotify::IN_CREATE
    | inotify::IN_MODIFY
    | inotify::IN_CLOSE_WRITE
    | inotify::IN_MOVED_TO
    | inotify::IN_MOVED_FROM
    | inotify::IN_DELETE;
/// The events that mean the watched directory itself is gone or moved.
const LOST: u32 = inotify::IN_DELETE_SELF | inotify::IN_MOVE_SELF | inotify::IN_IGNORED;

pub struct PidfileWatch {
    ino: Inotify,
    /// The directory's watch; None once the directory went away.
    wd: Option<i32>,
    path: String,
    cpath: CString,
    dir: String,
    name: Vec<u8>,
    seen: Cell<Seen>,
}

impl PidfileWatch {
    /// Starts watching the directory of `path` (which must exist; the
    /// file need not). The error names the path and the reason.
    pub fn new(path: &str) -> Result<PidfileWatch, String> {
        let (dir, name) = match path.rfind('/') {
            Some(0) => ("/", &path[1..]),
            Some(k) => (&path[..k], &path[k + 1..]),
            None => (".", path),
        };
        if name.is_empty() || name == "." || name == ".." {
            return Err(format!("pidfile {path}: names a directory, not a file"));
        }
        let bad = |why: &str| format!("pidfile {path}: {why}");
        let cpath = CString::new(path).map_err(|_| bad("contains a NUL byte"))?;
        let cdir = CString::new(dir).map_err(|_| bad("contains a NUL byte"))?;
        let ino = Inotify::new().map_err(|e| bad(&format!("inotify: {e}")))?;
        let wd = ino
            .add_watch(
                &cdir,
                TOUCH | inotify::IN_DELETE_SELF | inotify::IN_MOVE_SELF | inotify::IN_ONLYDIR,
            )
            .map_err(|e| bad(&format!("cannot watch its directory {dir}: {e}")))?;
        Ok(PidfileWatch {
            ino,
            wd: Some(wd),
            path: String::from(path),
            cpath,
            dir: String::from(dir),
            name: name.as_bytes().to_vec(),
            seen: Cell::new(Seen::Nothing),
        })
    }

    /// The inotify descriptor, to register READABLE with the loop.
    pub fn fd(&self) -> RawFd {
        self.ino.fd().raw()
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Reads the file now: Ok(None) when it does not exist or is still
    /// empty, Err when it holds something else than a pid (or cannot be
    /// read). Recorded, so `on_readable` reports only later changes.
    pub fn read_now(&self) -> Result<Option<i32>, String> {
        match self.read() {
            Reading::Missing => {
                self.seen.set(Seen::Nothing);
                Ok(None)
            }
            Reading::Empty => Ok(None),
            Reading::Pid(p) => {
                self.seen.set(Seen::Pid(p));
                Ok(Some(p))
            }
            Reading::Bad(why) => {
                self.seen.set(Seen::Bad);
                Err(why)
            }
        }
    }

    /// Drains the inotify fd; when the pidfile's name was among the
    /// events, reads it and says what changed since it was last seen.
    pub fn on_readable(&mut self) -> Option<Change> {
        let mut touched = false;
        let mut lost = false;
        for _ in 0..64 {
            let events = match self.ino.read() {
                Ok(evs) if evs.is_empty() => break,
                Ok(evs) => evs,
                Err(e) => {
                    return Some(Change::Error(format!(
                        "pidfile {}: inotify: {e}",
                        self.path
                    )));
                }
            };
            for ev in events {
                if ev.mask & inotify::IN_Q_OVERFLOW != 0 {
                    touched = true;
                } else if Some(ev.wd) != self.wd {
                    // A watch already dropped.
                } else if ev.mask & LOST != 0 {
                    lost = true;
                } else if ev.mask & TOUCH != 0 && ev.name == self.name {
                    touched = true;
                }
            }
        }
        if lost && let Some(wd) = self.wd.take() {
            // The directory was deleted (the watch is gone already) or
            // renamed (the watch would follow it, not the path).
            let _ = self.ino.rm_watch(wd);
            return Some(Change::Error(format!(
                "pidfile {}: its directory {} was removed or renamed; no longer watched",
                self.path, self.dir
            )));
        }
        if !touched || self.wd.is_none() {
            return None;
        }
        let before = self.seen.get();
        let (now, change) = match self.read() {
            Reading::Empty => return None,
            Reading::Missing => (Seen::Nothing, Change::Removed),
            Reading::Pid(p) => (Seen::Pid(p), Change::Pid(p)),
            Reading::Bad(why) => (Seen::Bad, Change::Error(why)),
        };
        self.seen.set(now);
        (now != before).then_some(change)
    }

    fn read(&self) -> Reading {
        let fd = match open_read(&self.cpath) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Reading::Missing,
            Err(e) => return Reading::Bad(format!("pidfile {}: {e}", self.path)),
        };
        let mut buf = [0u8; MAX_LEN + 1];
        let mut len = 0;
        while len < buf.len() {
            match fd.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) => return Reading::Bad(format!("pidfile {}: {e}", self.path)),
            }
        }
        if len > MAX_LEN {
            return Reading::Bad(format!(
                "pidfile {}: longer than {MAX_LEN} bytes, not a pidfile",
                self.path
            ));
        }
        let content = &buf[..len];
        if content.trim_ascii().is_empty() {
            return Reading::Empty;
        }
        match parse_pid(content) {
            Ok(p) => Reading::Pid(p),
            Err(why) => Reading::Bad(format!("pidfile {}: {why}", self.path)),
        }
    }
}

/// Whether `pid` (read from a job's pidfile) may become the job's main
/// process; the refusal names the pid and its command. `tug_pid` is tug's
/// own pid, `known` every pid tug owns for other jobs, `job_pids` the
/// job's own live processes (its start command, its current main pid).
/// See the module header for the rules.
pub fn adoptable(pid: i32, tug_pid: i32, known: &[i32], job_pids: &[i32]) -> Result<(), String> {
    check_adoptable(pid, tug_pid, known, job_pids, tree::lookup)
}

/// `adoptable` over any process table: `lookup` gives a process and its
/// state letter (R, S, Z...), or None when there is no such process.
fn check_adoptable(
    pid: i32,
    tug_pid: i32,
    known: &[i32],
    job_pids: &[i32],
    lookup: impl Fn(i32) -> Option<(Proc, u8)>,
) -> Result<(), String> {
    let who = |p: &Proc| format!("{} ({})", p.pid, p.name);
    let Some((me, state)) = lookup(pid) else {
        return Err(format!("pid {pid} is not running"));
    };
    if pid == tug_pid {
        return Err(format!("pid {} is tug itself", who(&me)));
    }
    if state == b'Z' || state == b'X' {
        return Err(format!("pid {} has already exited", who(&me)));
    }
    if known.contains(&pid) {
        return Err(format!("pid {} belongs to another job", who(&me)));
    }
    if job_pids.contains(&pid) || me.ppid == tug_pid {
        return Ok(());
    }
    // Up the parent links. A bound, since links read one at a time from
    // /proc could, with pids reused mid-walk, form a loop.
    let mut up = me.ppid;
    for _ in 0..4096 {
        if job_pids.contains(&up) {
            return Ok(());
        }
        if up <= 1 || up == tug_pid {
            break;
        }
        match lookup(up) {
            Some((p, _)) => up = p.ppid,
            None => break,
        }
    }
    let parent = match lookup(me.ppid) {
        Some((p, _)) => who(&p),
        None => format!("{}", me.ppid),
    };
    Err(format!(
        "pid {} is neither tug's child nor a descendant of the job's processes (its parent is {parent})",
        who(&me)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_pids_with_surrounding_whitespace() {
        assert_eq!(parse_pid(b"1234\n"), Ok(1234));
        assert_eq!(parse_pid(b"1"), Ok(1));
        assert_eq!(parse_pid(b"  42 \r\n\n"), Ok(42));
        assert_eq!(parse_pid(b"0042\n"), Ok(42));
        assert_eq!(parse_pid(b"2147483647"), Ok(i32::MAX));
    }

    #[test]
    fn refuses_what_is_not_a_pid_and_says_why() {
        assert_eq!(parse_pid(b""), Err("empty".into()));
        assert_eq!(parse_pid(b" \n\t"), Err("empty".into()));
        assert_eq!(parse_pid(b"0\n"), Err("pid 0 is not a process".into()));
        assert_eq!(parse_pid(b"000"), Err("pid 0 is not a process".into()));
        assert_eq!(parse_pid(b"-5\n"), Err("a negative pid: \"-5\"".into()));
        assert_eq!(parse_pid(b"-"), Err("not a pid: \"-\"".into()));
        assert_eq!(parse_pid(b"+5"), Err("not a pid: \"+5\"".into()));
        assert_eq!(parse_pid(b"12 34"), Err("not a pid: \"12 34\"".into()));
        assert_eq!(
            parse_pid(b"123\n456\n"),
            Err("not a pid: \"123\\n456\"".into())
        );
        assert_eq!(
            parse_pid(b"nginx\xff"),
            Err("not a pid: \"nginx\\xff\"".into())
        );
        assert_eq!(
            parse_pid(b"2147483648"),
            Err("pid out of range: \"2147483648\"".into())
        );
        assert_eq!(
            parse_pid(&[b'9'; 40]),
            Err(format!("pid out of range: \"{}...\"", "9".repeat(32)))
        );
        // Non-ASCII digits are not digits.
        assert!(
            parse_pid("١٢".as_bytes())
                .unwrap_err()
                .starts_with("not a pid")
        );
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("tug-pidfile-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn watch(dir: &std::path::Path) -> PidfileWatch {
        PidfileWatch::new(dir.join("d.pid").to_str().unwrap()).unwrap()
    }

    #[test]
    fn reports_each_new_pid_once_and_rewrites_with_the_same_pid_never() {
        let dir = temp_dir("rewrite");
        let file = dir.join("d.pid");
        let mut w = watch(&dir);
        assert_eq!(w.read_now(), Ok(None));
        assert_eq!(w.on_readable(), None, "nothing happened");

        std::fs::write(&file, "100\n").unwrap();
        assert_eq!(w.on_readable(), Some(Change::Pid(100)));
        assert_eq!(w.on_readable(), None, "reported once");
        std::fs::write(&file, "100\n").unwrap();
        assert_eq!(w.on_readable(), None, "same pid: a reload");
        std::fs::write(&file, "200\n").unwrap();
        assert_eq!(w.on_readable(), Some(Change::Pid(200)));
        std::fs::write(&file, "300\n").unwrap();
        std::fs::write(&file, "400\n").unwrap();
        assert_eq!(w.on_readable(), Some(Change::Pid(400)), "only the pid now");
        assert_eq!(w.on_readable(), None);

        // Other files in the directory are none of its business.
        std::fs::write(dir.join("other.pid"), "7\n").unwrap();
        std::fs::write(dir.join("d.pid.tmp"), "7\n").unwrap();
        assert_eq!(w.on_readable(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn read_now_is_remembered_so_the_same_pid_is_not_reported_again() {
        let dir = temp_dir("readnow");
        std::fs::write(dir.join("d.pid"), "55").unwrap();
        let mut w = watch(&dir);
        assert_eq!(w.read_now(), Ok(Some(55)));
        std::fs::write(dir.join("d.pid"), "55\n").unwrap();
        assert_eq!(w.on_readable(), None);
        std::fs::write(dir.join("d.pid"), "garbage\n").unwrap();
        assert!(
            w.read_now()
                .unwrap_err()
                .ends_with("d.pid: not a pid: \"garbage\"")
        );
        assert_eq!(w.on_readable(), None, "the caller already got that error");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_written_in_two_steps_is_silent_until_the_pid_is_there() {
        use std::io::Write;
        let dir = temp_dir("twostep");
        let mut w = watch(&dir);
        let mut f = std::fs::File::create(dir.join("d.pid")).unwrap();
        assert_eq!(w.on_readable(), None, "created empty: not written yet");
        assert_eq!(w.read_now(), Ok(None));
        f.write_all(b"4242").unwrap();
        f.write_all(b"\n").unwrap();
        drop(f);
        assert_eq!(w.on_readable(), Some(Change::Pid(4242)));

        // Kept open, truncated and rewritten in place (a pidfile lock):
        // IN_MODIFY alone carries it, and the empty moment is silent.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("d.pid"))
            .unwrap();
        f.set_len(0).unwrap();
        assert_eq!(w.on_readable(), None);
        f.write_all(b"4343\n").unwrap();
        assert_eq!(w.on_readable(), Some(Change::Pid(4343)));
        drop(f);
        assert_eq!(w.on_readable(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn follows_renames_over_the_path_and_away_from_it() {
        let dir = temp_dir("rename");
        let file = dir.join("d.pid");
        let mut w = watch(&dir);
        std::fs::write(dir.join(".d.pid.new"), "10\n").unwrap();
        assert_eq!(w.on_readable(), None);
        std::fs::rename(dir.join(".d.pid.new"), &file).unwrap();
        assert_eq!(w.on_readable(), Some(Change::Pid(10)));
        std::fs::write(dir.join(".d.pid.new"), "11\n").unwrap();
        std::fs::rename(dir.join(".d.pid.new"), &file).unwrap();
        assert_eq!(w.on_readable(), Some(Change::Pid(11)), "renamed over");

        // nginx's USR2: the old pidfile moves aside, the new master writes
        // a new one, the old master removes the moved one as it exits.
        std::fs::rename(&file, dir.join("d.pid.oldbin")).unwrap();
        assert_eq!(w.on_readable(), Some(Change::Removed));
        std::fs::write(&file, "12\n").unwrap();
        assert_eq!(w.on_readable(), Some(Change::Pid(12)));
        std::fs::remove_file(dir.join("d.pid.oldbin")).unwrap();
        assert_eq!(w.on_readable(), None);
        // A failed upgrade renames it back.
        std::fs::rename(&file, dir.join("d.pid.oldbin")).unwrap();
        std::fs::write(dir.join("d.pid.oldbin"), "11\n").unwrap();
        std::fs::rename(dir.join("d.pid.oldbin"), &file).unwrap();
        assert_eq!(w.on_readable(), Some(Change::Pid(11)), "coalesced");

        std::fs::remove_file(&file).unwrap();
        assert_eq!(w.on_readable(), Some(Change::Removed));
        std::fs::write(&file, "11\n").unwrap();
        assert_eq!(
            w.on_readable(),
            Some(Change::Pid(11)),
            "the same pid after a removal"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn garbage_is_an_error_once_and_a_lost_directory_ends_the_watch() {
        let dir = temp_dir("garbage");
        let file = dir.join("d.pid");
        let mut w = watch(&dir);
        std::fs::write(&file, "-3\n").unwrap();
        let Some(Change::Error(e)) = w.on_readable() else {
            panic!("an error expected")
        };
        assert_eq!(
            e,
            format!("pidfile {}: a negative pid: \"-3\"", file.display())
        );
        std::fs::write(&file, "nope\n").unwrap();
        assert_eq!(w.on_readable(), None, "still bad: said once");
        std::fs::write(&file, vec![b'1'; 200]).unwrap();
        assert_eq!(w.on_readable(), None);
        assert!(
            w.read_now()
                .unwrap_err()
                .ends_with("longer than 128 bytes, not a pidfile")
        );
        std::fs::write(&file, "\n").unwrap();
        assert_eq!(w.on_readable(), None);
        std::fs::write(&file, "9\n").unwrap();
        assert_eq!(w.on_readable(), Some(Change::Pid(9)));

        std::fs::remove_dir_all(&dir).unwrap();
        let Some(Change::Error(e)) = w.on_readable() else {
            panic!("an error expected")
        };
        assert!(
            e.ends_with("was removed or renamed; no longer watched"),
            "{e}"
        );
        assert_eq!(w.on_readable(), None);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&file, "10\n").unwrap();
        assert_eq!(w.on_readable(), None, "not watched any more");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_or_a_directory_path_is_refused() {
        let e = PidfileWatch::new("/nonexistent-tug/x.pid").err().unwrap();
        assert_eq!(
            e,
            "pidfile /nonexistent-tug/x.pid: cannot watch its directory /nonexistent-tug: No such file or directory"
        );
        assert!(
            PidfileWatch::new("/tmp/")
                .err()
                .unwrap()
                .ends_with("names a directory, not a file")
        );
        assert!(PidfileWatch::new("/tmp/..").is_err());
        assert!(PidfileWatch::new("x.pid").is_ok(), "relative: the cwd");
        assert!(PidfileWatch::new("/x.pid").is_ok());
    }

    fn table(rows: &[(i32, i32, &str, u8)]) -> impl Fn(i32) -> Option<(Proc, u8)> {
        let rows: Vec<(Proc, u8)> = rows
            .iter()
            .map(|&(pid, ppid, name, st)| {
                let p = Proc {
                    pid,
                    ppid,
                    pgrp: pid,
                    name: name.into(),
                };
                (p, st)
            })
            .collect();
        move |pid| rows.iter().find(|(p, _)| p.pid == pid).cloned()
    }

    #[test]
    fn adopts_tugs_children_and_the_jobs_descendants_only() {
        const TUG: i32 = 10;
        let t = table(&[
            (1, 0, "init", b'S'),
            (TUG, 1, "tug", b'S'),
            (20, TUG, "nginx", b'S'),    // double-forked, reparented to tug
            (30, TUG, "start.sh", b'S'), // a job's start command
            (31, 30, "sh", b'S'),
            (32, 31, "daemon", b'S'), // its grandchild
            (40, TUG, "other", b'S'), // another job's
            (41, 40, "worker", b'S'),
            (50, 1, "stray", b'S'), // outside tug
            (60, TUG, "dead", b'Z'),
        ]);
        let ok = |pid, known: &[i32], job: &[i32]| check_adoptable(pid, TUG, known, job, &t);
        assert_eq!(ok(20, &[40], &[]), Ok(()));
        assert_eq!(ok(32, &[40], &[30]), Ok(()));
        assert_eq!(ok(32, &[40], &[31]), Ok(()));
        assert_eq!(ok(30, &[40], &[30]), Ok(()), "the job's own process");
        assert_eq!(
            ok(20, &[40], &[20]),
            Ok(()),
            "nginx's new master under the old"
        );

        assert_eq!(
            ok(40, &[40], &[30]),
            Err("pid 40 (other) belongs to another job".into())
        );
        assert_eq!(
            ok(41, &[40], &[30]),
            Err("pid 41 (worker) is neither tug's child nor a descendant of the job's processes (its parent is 40 (other))".into())
        );
        assert_eq!(
            ok(32, &[], &[]),
            Err("pid 32 (daemon) is neither tug's child nor a descendant of the job's processes (its parent is 31 (sh))".into())
        );
        assert_eq!(
            ok(50, &[], &[30]),
            Err("pid 50 (stray) is neither tug's child nor a descendant of the job's processes (its parent is 1 (init))".into())
        );
        assert_eq!(
            ok(60, &[], &[]),
            Err("pid 60 (dead) has already exited".into())
        );
        assert_eq!(ok(99, &[], &[]), Err("pid 99 is not running".into()));
        assert_eq!(ok(TUG, &[], &[]), Err("pid 10 (tug) is tug itself".into()));

        // As PID 1, an orphan's parent is tug.
        assert_eq!(check_adoptable(50, 1, &[], &[], &t), Ok(()));
        // A parent loop (pids reused mid-walk) ends.
        let looped = table(&[(5, 6, "a", b'S'), (6, 5, "b", b'S')]);
        assert!(check_adoptable(5, TUG, &[], &[7], looped).is_err());
    }

    /// A child that left its parent, as nginx does: `sh` forks `sleep` and
    /// exits. Not a subreaper here (that would change this whole test
    /// process), so while sh lives the sleep is its descendant, and once it
    /// is gone the sleep's parent is whoever reaps orphans above us.
    #[test]
    fn a_real_daemon_is_adoptable_while_its_start_command_lives() {
        let dir = temp_dir("real");
        let out = dir.join("d.pid");
        let mut sh = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("sleep 30 & echo $! > {}; read x", out.display()))
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut w = watch(&dir);
        // The pid arrives through the watch: block on the fd, not a sleep.
        let pid = loop {
            if let Ok(Some(p)) = w.read_now() {
                break p;
            }
            wait_readable(w.fd());
            if let Some(Change::Pid(p)) = w.on_readable() {
                break p;
            }
        };
        let _kill = Kill(pid);
        let me = std::process::id() as i32;
        let sh_pid = sh.id() as i32;
        assert_eq!(adoptable(pid, me, &[], &[sh_pid]), Ok(()));
        let e = adoptable(pid, me, &[pid], &[sh_pid]).unwrap_err();
        assert!(named(pid, &e, "belongs to another job"), "{e}");
        let e = adoptable(pid, me, &[], &[]).unwrap_err();
        assert!(named(pid, &e, "is neither tug's child nor"), "{e}");
        drop(sh.stdin.take());
        sh.wait().unwrap();
        let e = adoptable(pid, me, &[], &[sh_pid]).unwrap_err();
        assert!(named(pid, &e, "is neither tug's child nor"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The same as a subreaper, like tug: in a child test process, since
    /// PR_SET_CHILD_SUBREAPER is process-wide.
    #[test]
    fn a_double_forked_daemon_is_adoptable_by_a_subreaper() {
        let dir = temp_dir("subreaper");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "service::pidfile::tests::subreaper_helper",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("TUG_TEST_PIDFILE_DIR", &dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("SUBREAPER-OK"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[ignore = "run by a_double_forked_daemon_is_adoptable_by_a_subreaper"]
    fn subreaper_helper() {
        let Some(dir) = std::env::var_os("TUG_TEST_PIDFILE_DIR") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        crate::sys::process::set_child_subreaper().unwrap();
        let mut w = watch(&dir);
        let mut sh = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "sleep 30 & echo $! > {}",
                dir.join("d.pid").display()
            ))
            .spawn()
            .unwrap();
        let sh_gone = sh.id() as i32;
        assert!(sh.wait().unwrap().success());
        let Some(Change::Pid(pid)) = w.on_readable() else {
            panic!("sh wrote the pidfile before it exited")
        };
        let _kill = Kill(pid);
        let me = std::process::id() as i32;
        let (p, _) = tree::lookup(pid).unwrap();
        assert_eq!(p.ppid, me, "reparented to the subreaper");
        assert_eq!(adoptable(pid, me, &[], &[sh_gone]), Ok(()));
        let e = adoptable(pid, me, &[pid], &[]).unwrap_err();
        assert!(named(pid, &e, "belongs to another job"), "{e}");
        std::println!("SUBREAPER-OK");
    }

    /// Whether a refusal names the background child of `sh -c 'sleep 30 &'`
    /// (still "sh" until its exec of sleep) and says `what`.
    fn named(pid: i32, e: &str, what: &str) -> bool {
        ["sh", "sleep"]
            .iter()
            .any(|n| e.starts_with(&format!("pid {pid} ({n}) {what}")))
    }

    /// Kills a test's daemon however the test ends.
    struct Kill(i32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = crate::sys::signal::kill(self.0, libc::SIGKILL);
        }
    }

    fn wait_readable(fd: RawFd) {
        let ep = crate::sys::epoll::Epoll::new().unwrap();
        ep.add(fd, 0, crate::sys::epoll::READABLE).unwrap();
        let mut ready = [crate::sys::epoll::Ready {
            token: 0,
            events: 0,
        }];
        ep.wait(&mut ready).unwrap();
    }
}
