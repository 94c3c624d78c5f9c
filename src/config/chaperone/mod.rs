//! Chaperone's configuration (garywiz/chaperone 0.3.9), read as Chaperone
//! read it: its YAML (`config::yaml`), the files of a config directory
//! merged ([`load`]), its sections and keys typed ([`schema`]), its
//! environment layers and expansion language ([`expand`]). All sans-IO:
//! the caller lists the directory, reads the files and runs backticks.
//!
//! The rest is [`map`] (the layers expanded per key, the start order, the
//! mapping onto tug's config text, checked by `config::parse` like any
//! other) and [`io`], the edge: detection by content, reading a file or a
//! directory, passwd, the PATH search and `/bin/sh` for backticks.
//! `config::load` and `config::render` pick this front-end by content.
//!
//! The `chaperone` personality's command line is parsed in `cli` into
//! [`Options`]; the mapping takes them (the default user, CONSOLE, the
//! logging switches), at start-up and on every reload alike.
//!
//! Not here: startup_pause / idle_delay (tug does not sleep to guess),
//! a logging section's `extended`, `overwrite`, uid and gid (warned),
//! `_CHAP_SERVICE_SERIAL`/`_CHAP_SERVICE_TIME` (per-spawn values: warned
//! where an env_set value names them).

pub mod expand;
pub mod io;
pub mod load;
pub mod map;
pub mod schema;

use crate::num::dec;
use alloc::string::String;
use alloc::vec::Vec;

/// The `chaperone` command line (and `_CHAP_OPTIONS`), as the mapping
/// needs it. `config` is as given: a relative path is joined to `/` or
/// to the home of `--user` when the config is read (io).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub config: String,
    /// From the `chaperone` command line: a relative `config` is joined
    /// to `/` or `--user`'s home, and a missing one is an empty config
    /// (for `tug --config`, `config` is a path as given, and must exist).
    pub command_line: bool,
    /// `--user`, or the name of `--create-user` (which wins, as in
    /// Chaperone when both are given).
    pub user: Option<String>,
    /// `--create-user SPEC`: `name[:/path][:uid][:gid]`, checked against
    /// /etc/passwd when the config is read (tug creates no users).
    pub create_user: Option<String>,
    pub default_home: Option<String>,
    pub exitkills: bool,
    pub no_exitkills: bool,
    pub ignore_failures: bool,
    /// `--log-level L` (`--debug`: `debug`).
    pub log_level: Option<String>,
    pub no_console_log: bool,
    pub no_syslog: bool,
    pub disable_services: bool,
    pub task: bool,
    /// The trailing command: service CONSOLE.
    pub command: Vec<String>,
}

/// A syslog priority's rank, 0 (emerg) to 7 (debug), any case; `err`
/// and `error`, `warn` and `warning` are one.
pub fn priority(p: &str) -> Option<usize> {
    const PRI: [&str; 10] = [
        "emerg", "alert", "crit", "err", "error", "warn", "warning", "notice", "info", "debug",
    ];
    let p = p.to_ascii_lowercase();
    let i = PRI.iter().position(|&x| x == p)?;
    Some(i - (i > 3) as usize - (i > 5) as usize)
}

/// A `--create-user` spec, `name[:/path][:uid][:gid]`: the uid and gid
/// may come from the owner of `path`.
#[derive(Debug, PartialEq, Eq)]
pub struct CreateSpec<'a> {
    pub name: &'a str,
    pub path: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<&'a str>,
}

/// Parses a `--create-user` spec (None: not that form). A `\\:` in the
/// path is a colon.
pub fn create_spec(spec: &str) -> Option<CreateSpec<'_>> {
    let (name, mut rest) = spec.split_once(':').unwrap_or((spec, ""));
    let mut out = CreateSpec {
        name,
        path: None,
        uid: None,
        gid: None,
    };
    let mut more = spec.contains(':');
    if rest.starts_with('/') {
        let mut path = String::new();
        let mut it = rest.char_indices();
        more = false;
        while let Some((i, c)) = it.next() {
            match c {
                '\\' if rest[i + 1..].starts_with(':') => {
                    path.push(':');
                    it.next();
                }
                ':' => {
                    more = true;
                    rest = &rest[i + 1..];
                    break;
                }
                c => path.push(c),
            }
        }
        if !more {
            rest = "";
        }
        out.path = Some(path);
    }
    if more {
        let (uid, gid) = rest
            .split_once(':')
            .map_or((rest, None), |(u, g)| (u, Some(g)));
        if !uid.is_empty() {
            out.uid = Some(dec(uid)?);
        }
        out.gid = gid.filter(|g| !g.is_empty());
        if let Some(g) = out.gid {
            let named = g
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && g.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !named && !g.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_user_specs() {
        let s = |spec| create_spec(spec).map(|c| (c.name, c.path, c.uid, c.gid));
        assert_eq!(s("me"), Some(("me", None, None, None)));
        assert_eq!(
            s("me:/home/me"),
            Some(("me", Some("/home/me".into()), None, None))
        );
        assert_eq!(s("me:1000"), Some(("me", None, Some(1000), None)));
        assert_eq!(
            s("me:1000:staff"),
            Some(("me", None, Some(1000), Some("staff")))
        );
        assert_eq!(s("me::50"), Some(("me", None, None, Some("50"))));
        assert_eq!(
            s("me:/a\\:b:7:8"),
            Some(("me", Some("/a:b".into()), Some(7), Some("8")))
        );
        assert_eq!(s("me:x1"), None);
        assert_eq!(s("me:1:2:3"), None);
    }
}
