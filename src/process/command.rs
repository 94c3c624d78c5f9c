//! Starting a child: PATH search, argv/envp arrays, then sys::spawn.

use super::signals::Inherited;
use crate::sys::Result;
use crate::sys::fd::RawFd;
use crate::sys::spawn::{Credentials, ExecPlan, Started, fork_exec};
use alloc::ffi::CString;
use alloc::vec::Vec;
use core::ffi::{CStr, c_char};

/// The default PATH when the environment has none (as musl's execvp).
const DEFAULT_PATH: &str = "/usr/local/bin:/bin:/usr/bin";

pub struct Command<'a> {
    pub argv: &'a [&'a CStr],
    /// NULL-terminated "NAME=value" pointers for the child.
    pub envp: &'a [*const c_char],
    /// PATH used to find argv[0] (the child's, not necessarily tug's).
    pub path: Option<&'a str>,
    pub new_group: bool,
    pub foreground: bool,
    pub stdio: [Option<RawFd>; 3],
    pub workdir: Option<&'a CStr>,
    pub credentials: Option<Credentials<'a>>,
}

impl Command<'_> {
    pub fn spawn(self, inherited: &Inherited) -> Result<Started> {
        let candidates = search_path(self.argv[0], self.path.unwrap_or(DEFAULT_PATH));
        let candidate_refs: Vec<&CStr> = candidates.iter().map(CString::as_c_str).collect();
        let mut argv: Vec<*const c_char> = self.argv.iter().map(|a| a.as_ptr()).collect();
        argv.push(core::ptr::null());
        fork_exec(&ExecPlan {
            candidates: &candidate_refs,
            argv: &argv,
            envp: self.envp,
            new_group: self.new_group,
            foreground: self.foreground,
            mask: &inherited.mask,
            dispositions: &inherited.dispositions,
            stdio: self.stdio,
            workdir: self.workdir,
            credentials: self.credentials,
        })
    }
}

/// execvp's rule: a name with a slash is used as is; otherwise every PATH
/// entry is tried in order (an empty entry means the current directory).
pub fn search_path(name: &CStr, path: &str) -> Vec<CString> {
    let bytes = name.to_bytes();
    if bytes.contains(&b'/') || bytes.is_empty() {
        return alloc::vec![CString::from(name)];
    }
    path.split(':')
        .filter_map(|dir| {
            let mut full = Vec::with_capacity(dir.len() + 1 + bytes.len());
            if !dir.is_empty() {
                full.extend_from_slice(dir.as_bytes());
                full.push(b'/');
            }
            full.extend_from_slice(bytes);
            CString::new(full).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_search_follows_execvp() {
        let names = |v: Vec<CString>| {
            v.into_iter()
                .map(|c| c.into_string().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(search_path(c"./run", "/bin")), ["./run"]);
        assert_eq!(names(search_path(c"/x/y", "/bin")), ["/x/y"]);
        assert_eq!(
            names(search_path(c"ls", "/a:/b::/c")),
            ["/a/ls", "/b/ls", "ls", "/c/ls"]
        );
    }
}
