//! Every descendant of tug, found through /proc.
//!
//! At shutdown tug must reach processes that left the main child's process
//! group (daemons that called setsid, children of children), not only its
//! direct children. /proc lists every process with its parent; following
//! parent links down from tug finds them all. Only thread-group leaders
//! appear in /proc, which is what signals are sent to anyway.

use crate::sys::Result;
use crate::sys::fd::{list_dir, read_file};
use alloc::ffi::CString;
use alloc::vec::Vec;

/// Pids of all processes below `root`, parents before children.
pub fn descendants(root: i32) -> Result<Vec<i32>> {
    let mut links = Vec::new();
    for name in list_dir(c"/proc")? {
        let Some(pid) = name.to_str().ok().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(path) = CString::new(alloc::format!("/proc/{pid}/stat")) else {
            continue;
        };
        // A process that exits between the listing and the read is simply gone.
        if let Some(ppid) = read_file(&path).ok().as_deref().and_then(parent_of) {
            links.push((pid, ppid));
        }
    }
    Ok(walk(root, &links))
}

/// The ppid field of /proc/PID/stat. The command name (field 2) may contain
/// spaces and parentheses, so parse from the last ')'.
fn parent_of(stat: &[u8]) -> Option<i32> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = core::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

fn walk(root: i32, links: &[(i32, i32)]) -> Vec<i32> {
    let mut found = Vec::new();
    let mut frontier = alloc::vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in links {
            if ppid == parent && pid != root && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_hostile_names() {
        assert_eq!(parent_of(b"42 (sleep) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parent_of(b"42 (a) b) (c) R 9 1 1"), Some(9));
        assert_eq!(parent_of(b"42 (x"), None);
        assert_eq!(parent_of(b""), None);
    }

    #[test]
    fn walks_the_whole_subtree() {
        let links = [(2, 1), (3, 2), (4, 3), (5, 1), (6, 99), (7, 6)];
        let mut d = walk(1, &links);
        d.sort();
        assert_eq!(d, [2, 3, 4, 5]);
    }

    #[test]
    fn finds_our_own_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = descendants(std::process::id() as i32).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found.contains(&(child.id() as i32)));
    }
}
