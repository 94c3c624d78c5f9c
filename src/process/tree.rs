//! Every descendant of tug, found through /proc.
//!
//! At shutdown tug must reach processes that left the main child's process
//! group (daemons that called setsid, children of children), not only its
//! direct children. /proc lists every process with its parent; following
//! parent links down from tug finds them all. Only thread-group leaders
//! appear in /proc, which is what signals are sent to anyway.
//!
//! Each process comes with its name (the kernel's `comm`, from the same
//! read of /proc/PID/stat), so a SIGKILL can say whom it hit.

use crate::num::dec;
use crate::sys::Result;
use crate::sys::fd::{list_dir, read_file};
use alloc::ffi::CString;
use alloc::string::String;
use alloc::vec::Vec;

/// One process, as /proc/PID/stat shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    /// `comm`: the program's file name, at most 15 bytes.
    pub name: String,
}

/// Every process in /proc.
fn all() -> Result<Vec<Proc>> {
    let mut procs = Vec::new();
    for name in list_dir(c"/proc")? {
        let Some(pid) = name.to_str().ok().and_then(dec::<i32>) else {
            continue;
        };
        // A process that exits between the listing and the read is simply gone.
        if let Some(p) = read_stat(pid).as_deref().and_then(parse_stat) {
            procs.push(p);
        }
    }
    Ok(procs)
}

/// /proc/PID/stat, when there is such a process (and a /proc).
#[inline(never)]
fn read_stat(pid: i32) -> Option<Vec<u8>> {
    let path = CString::new(alloc::format!("/proc/{pid}/stat")).ok()?;
    read_file(&path).ok()
}

/// Keeps the processes `pick` says to (one copy of the loop for all).
#[inline(never)]
fn keep(procs: &mut Vec<Proc>, pick: &dyn Fn(&Proc) -> bool) {
    procs.retain(pick);
}

/// All processes below `root`, parents before children.
pub fn descendants(root: i32) -> Result<Vec<Proc>> {
    Ok(walk(root, all()?))
}

/// The members of process group `pgrp` (a job's process and what it forked).
pub fn group(pgrp: i32) -> Result<Vec<Proc>> {
    let mut procs = all()?;
    keep(&mut procs, &|p| p.pgrp == pgrp);
    Ok(procs)
}

/// Who a shutdown signal reached.
pub enum Signalled {
    /// These descendants (read from /proc).
    Procs(Vec<Proc>),
    /// No /proc, as PID 1: kill(-1) reached every other process of the
    /// namespace, which are all tug's descendants.
    Everyone,
    /// No /proc and not PID 1: nobody (the caller says what that costs).
    Nobody(crate::sys::Errno),
}

/// Sends `sig` to every descendant of tug but `spare` (0: none): the one
/// shutdown walk of `tug --` and `tug --config`.
pub fn signal_descendants(sig: i32, spare: i32) -> Signalled {
    use crate::sys::{process::getpid, signal::kill};
    match descendants(getpid()) {
        Ok(mut procs) => {
            keep(&mut procs, &|p| p.pid != spare);
            for p in &procs {
                let _ = kill(p.pid, sig);
            }
            Signalled::Procs(procs)
        }
        Err(_) if getpid() == 1 => {
            let _ = kill(-1, sig);
            Signalled::Everyone
        }
        Err(e) => Signalled::Nobody(e),
    }
}

/// The warning for the SIGKILL that ends a grace period, if it hit anyone:
/// said at the default verbosity, since a process killed mid-write is what
/// someone will be debugging later.
pub fn grace_kill_message(grace_ns: u64, hit: &Signalled) -> Option<String> {
    let grace = crate::duration::display(grace_ns);
    match hit {
        Signalled::Procs(p) if !p.is_empty() => Some(alloc::format!(
            "grace period ({grace}) over: SIGKILL to {}",
            describe(p)
        )),
        Signalled::Everyone => Some(alloc::format!(
            "grace period ({grace}) over: SIGKILL to every process left"
        )),
        _ => None,
    }
}

/// "2 processes: 41 (sleep), 42 (worker.sh)".
pub fn describe(procs: &[Proc]) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    let plural = if procs.len() == 1 { "" } else { "es" };
    let _ = write!(s, "{} process{plural}", procs.len());
    for (k, p) in procs.iter().enumerate() {
        let _ = write!(
            s,
            "{}{} ({})",
            if k == 0 { ": " } else { ", " },
            p.pid,
            p.name
        );
    }
    s
}

/// pid, comm, ppid and pgrp of /proc/PID/stat. The command name (field 2)
/// may contain spaces and parentheses, so it ends at the last ')'.
fn parse_stat(stat: &[u8]) -> Option<Proc> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let pid = dec(core::str::from_utf8(stat.get(..open)?).ok()?.trim())?;
    let name = String::from_utf8_lossy(stat.get(open + 1..close)?).into_owned();
    let rest = core::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let _state = fields.next()?;
    let ppid = dec(fields.next()?)?;
    let pgrp = dec(fields.next()?)?;
    Some(Proc {
        pid,
        ppid,
        pgrp,
        name,
    })
}

/// One process and its state letter (R, S, D, Z for a zombie, ...), read
/// now from /proc/PID/stat; None when there is no such process (or no
/// /proc). The letter comes from the same read as the rest.
pub fn lookup(pid: i32) -> Option<(Proc, u8)> {
    if pid <= 0 {
        return None;
    }
    let stat = read_stat(pid)?;
    Some((parse_stat(&stat)?, parse_state(&stat)?))
}

/// The state letter of a /proc/PID/stat line: the first field after the
/// command name, which ends at the last ')'.
fn parse_state(stat: &[u8]) -> Option<u8> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(close + 1..)?
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

fn walk(root: i32, procs: Vec<Proc>) -> Vec<Proc> {
    let mut left = procs;
    let mut found: Vec<Proc> = Vec::new();
    let mut frontier = alloc::vec![root];
    while let Some(parent) = frontier.pop() {
        let mut k = 0;
        while k < left.len() {
            if left[k].ppid == parent && left[k].pid != root {
                let p = left.swap_remove(k);
                frontier.push(p.pid);
                found.push(p);
            } else {
                k += 1;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32) -> Proc {
        Proc {
            pid,
            ppid,
            pgrp: pid,
            name: "x".into(),
        }
    }

    #[test]
    fn parses_stat_with_hostile_names() {
        let s = parse_stat(b"42 (sleep) S 7 40 40 0 -1").unwrap();
        assert_eq!(
            (s.pid, s.ppid, s.pgrp, s.name.as_str()),
            (42, 7, 40, "sleep")
        );
        let s = parse_stat(b"42 (a) b) (c) R 9 1 1").unwrap();
        assert_eq!((s.ppid, s.name.as_str()), (9, "a) b) (c"));
        assert_eq!(parse_stat(b"42 (x"), None);
        assert_eq!(parse_stat(b"42 (x) S 1"), None);
        assert_eq!(parse_stat(b""), None);
    }

    #[test]
    fn reads_the_state_letter_after_the_last_paren() {
        assert_eq!(parse_state(b"42 (sleep) S 7 40 40 0 -1"), Some(b'S'));
        assert_eq!(parse_state(b"42 (a) Z (b) Z 9 1 1"), Some(b'Z'));
        assert_eq!(parse_state(b"42 (x)"), None);
        assert_eq!(parse_state(b"42 x"), None);
    }

    #[test]
    fn looks_up_one_process_and_its_state() {
        let (me, state) = lookup(std::process::id() as i32).unwrap();
        assert_eq!(me.pid, std::process::id() as i32);
        assert_eq!(me.ppid, crate::sys::process::getppid());
        assert!(state == b'R' || state == b'S', "{}", state as char);
        assert_eq!(lookup(0), None);
        assert_eq!(lookup(-5), None);
        assert_eq!(lookup(i32::MAX), None);
    }

    #[test]
    fn walks_the_whole_subtree() {
        let links = [(2, 1), (3, 2), (4, 3), (5, 1), (6, 99), (7, 6)];
        let mut d: Vec<i32> = walk(1, links.iter().map(|&(c, q)| p(c, q)).collect())
            .iter()
            .map(|p| p.pid)
            .collect();
        d.sort();
        assert_eq!(d, [2, 3, 4, 5]);
    }

    #[test]
    fn describes_processes_by_pid_and_name() {
        let mut a = p(41, 1);
        a.name = "sleep".into();
        let mut b = p(42, 1);
        b.name = "worker.sh".into();
        assert_eq!(describe(&[a.clone()]), "1 process: 41 (sleep)");
        assert_eq!(describe(&[a, b]), "2 processes: 41 (sleep), 42 (worker.sh)");
    }

    #[test]
    fn finds_our_own_children_with_their_names_and_group() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = descendants(std::process::id() as i32).unwrap();
        let ours = group(crate::sys::process::getpgrp()).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let me = found.iter().find(|p| p.pid == child.id() as i32).unwrap();
        assert_eq!(me.name, "sleep");
        assert!(ours.iter().any(|p| p.pid == child.id() as i32));
    }
}
