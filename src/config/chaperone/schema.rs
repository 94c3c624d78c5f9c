//! Chaperone's sections and keys with the types its schema (voluptuous, in
//! `cutil/config.py`) checked before any expansion: a wrong type or an
//! unknown key is an error naming the file, line, key path, and the key
//! meant. The values stay as written (expansion comes later, in the
//! environment each belongs to); each keeps where it was written.

use super::load::Spot;
use crate::config::yaml::{Entry, Node, Value};
use crate::signame;
use crate::suggest::closest;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// A value and where it was written.
#[derive(Clone, Default, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub struct Val<T> {
    pub v: T,
    pub at: Spot,
}

/// `str` or `int` (uid, gid, port), or `bool` or `str` (enabled).
#[derive(Clone, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub enum Scalar {
    Str(String),
    Int(i64),
    Bool(bool),
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(test, derive(Debug))]
pub enum Kind {
    #[default]
    Simple,
    Forking,
    Oneshot,
    Notify,
    Inetd,
    Cron,
}

type Opt<T> = Option<Val<T>>;

/// `env_inherit`, `env_set`, `env_unset`: settings and services alike.
#[derive(Clone, Default, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub struct EnvKeys {
    pub inherit: Opt<Vec<String>>,
    /// Merged key by key across files (the last file's value wins).
    pub set: Vec<Val<(String, String)>>,
    pub unset: Opt<Vec<String>>,
}

#[derive(Clone, Default, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub struct Settings {
    pub env: EnvKeys,
    pub uid: Opt<Scalar>,
    pub gid: Opt<Scalar>,
    pub debug: Opt<bool>,
    pub detect_exit: Opt<bool>,
    pub enable_syslog: Opt<bool>,
    pub ignore_failures: Opt<bool>,
    /// Seconds.
    pub idle_delay: Opt<f64>,
    pub process_timeout: Opt<f64>,
    pub startup_pause: Opt<f64>,
    pub shutdown_timeout: Opt<f64>,
    pub status_interval: Opt<f64>,
    pub logrec_hostname: Opt<String>,
}

#[derive(Clone, Default, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub struct Service {
    /// The full name, `x.service`.
    pub name: String,
    pub at: Spot,
    pub command: Val<String>,
    pub kind: Kind,
    pub env: EnvKeys,
    pub after: Opt<String>,
    pub before: Opt<String>,
    pub service_groups: Opt<String>,
    pub directory: Opt<String>,
    pub enabled: Opt<Scalar>,
    pub interval: Opt<String>,
    pub kill_signal: Opt<i32>,
    pub pidfile: Opt<String>,
    pub port: Opt<Scalar>,
    pub uid: Opt<Scalar>,
    pub gid: Opt<Scalar>,
    pub debug: Opt<bool>,
    pub exit_kills: Opt<bool>,
    pub ignore_failures: Opt<bool>,
    pub optional: Opt<bool>,
    pub restart: Opt<bool>,
    pub setpgrp: Opt<bool>,
    pub restart_limit: Opt<i64>,
    pub restart_delay: Opt<i64>,
    pub process_timeout: Opt<f64>,
    pub startup_pause: Opt<f64>,
    /// `inherit` (true) or `log`.
    pub stdout_inherit: Opt<bool>,
    pub stderr_inherit: Opt<bool>,
}

#[derive(Clone, Default, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub struct Logging {
    /// The full name, `x.logging`.
    pub name: String,
    pub at: Spot,
    pub enabled: Opt<Scalar>,
    pub selector: Opt<String>,
    pub file: Opt<String>,
    pub syslog_host: Opt<String>,
    pub logrec_hostname: Opt<String>,
    pub uid: Opt<Scalar>,
    pub gid: Opt<Scalar>,
    pub extended: Opt<bool>,
    pub overwrite: Opt<bool>,
    pub stdout: Opt<bool>,
    pub stderr: Opt<bool>,
}

const SETTINGS_KEYS: &[&str] = &[
    "debug",
    "detect_exit",
    "enable_syslog",
    "env_inherit",
    "env_set",
    "env_unset",
    "gid",
    "idle_delay",
    "ignore_failures",
    "logrec_hostname",
    "process_timeout",
    "shutdown_timeout",
    "startup_pause",
    "status_interval",
    "uid",
];

const SERVICE_KEYS: &[&str] = &[
    "after",
    "before",
    "command",
    "debug",
    "directory",
    "enabled",
    "env_inherit",
    "env_set",
    "env_unset",
    "exit_kills",
    "gid",
    "ignore_failures",
    "interval",
    "kill_signal",
    "optional",
    "pidfile",
    "port",
    "process_timeout",
    "restart",
    "restart_delay",
    "restart_limit",
    "service_groups",
    "setpgrp",
    "startup_pause",
    "stderr",
    "stdout",
    "type",
    "uid",
];

const LOGGING_KEYS: &[&str] = &[
    "enabled",
    "extended",
    "file",
    "gid",
    "logrec_hostname",
    "overwrite",
    "selector",
    "stderr",
    "stdout",
    "syslog_host",
    "uid",
];

const KINDS: &[(&str, Kind)] = &[
    ("simple", Kind::Simple),
    ("forking", Kind::Forking),
    ("oneshot", Kind::Oneshot),
    ("notify", Kind::Notify),
    ("inetd", Kind::Inetd),
    ("cron", Kind::Cron),
];

/// Chaperone's `enabled` after expansion: `y|yes|true|on` or
/// `n|no|false|off|` (ASCII case and surrounding blanks ignored).
pub fn boolean(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "on" => Some(true),
        "n" | "no" | "false" | "off" | "" => Some(false),
        _ => None,
    }
}

/// Decodes one section body; errors go to `errs` as complete lines.
pub(super) struct Dec<'a> {
    pub file: usize,
    pub name: &'a str,
    pub errs: &'a mut Vec<String>,
    pub files: &'a [&'a str],
}

impl Dec<'_> {
    fn spot(&self, n: &Node) -> Spot {
        Spot {
            file: self.file,
            pos: n.pos,
        }
    }

    fn err(&mut self, n: &Node, key: &str, msg: core::fmt::Arguments) {
        let sep = if key.is_empty() { "" } else { "." };
        self.errs.push(format!(
            "{}:{}: {}{sep}{key}: {msg}",
            self.files[self.file], n.pos, self.name
        ));
    }

    fn expected(&mut self, n: &Node, key: &str, want: &str) {
        let hint = match (&n.value, want) {
            (Value::Int(_) | Value::Float(_) | Value::Bool(_), "str") => " (quote the value)",
            _ => "",
        };
        let found = n.value.kind();
        self.err(n, key, format_args!("expected {want}, found {found}{hint}"));
    }

    fn val<T>(&self, n: &Node, v: T) -> Opt<T> {
        Some(Val {
            v,
            at: self.spot(n),
        })
    }

    /// The value `get` takes from `n`, or an "expected WANT" error.
    fn typed<T>(
        &mut self,
        n: &Node,
        key: &str,
        want: &str,
        get: impl FnOnce(&Value) -> Option<T>,
    ) -> Opt<T> {
        match get(&n.value) {
            Some(v) => self.val(n, v),
            None => {
                self.expected(n, key, want);
                None
            }
        }
    }

    fn str(&mut self, n: &Node, key: &str) -> Opt<String> {
        self.typed(n, key, "str", |v| match v {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        })
    }

    fn bool(&mut self, n: &Node, key: &str) -> Opt<bool> {
        self.typed(n, key, "bool", |v| match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        })
    }

    fn int(&mut self, n: &Node, key: &str) -> Opt<i64> {
        self.typed(n, key, "int", |v| match v {
            Value::Int(i) => Some(*i),
            _ => None,
        })
    }

    fn num(&mut self, n: &Node, key: &str) -> Opt<f64> {
        self.typed(n, key, "int or float", |v| match v {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        })
    }

    /// `str` or `int`; with `bool_ok`, `bool` or `str` instead.
    fn scalar(&mut self, n: &Node, key: &str, bool_ok: bool) -> Opt<Scalar> {
        match &n.value {
            Value::Str(s) => self.val(n, Scalar::Str(s.clone())),
            Value::Int(i) if !bool_ok => self.val(n, Scalar::Int(*i)),
            Value::Bool(b) if bool_ok => self.val(n, Scalar::Bool(*b)),
            _ => {
                self.expected(n, key, if bool_ok { "bool or str" } else { "str or int" });
                None
            }
        }
    }

    fn list(&mut self, n: &Node, key: &str) -> Opt<Vec<String>> {
        let Value::Seq(items) = &n.value else {
            self.expected(n, key, "a list of str");
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            out.push(self.str(item, key)?.v);
        }
        self.val(n, out)
    }

    fn env(&mut self, env: &mut EnvKeys, e: &Entry) -> bool {
        let (n, key) = (&e.value, e.key.as_str());
        match key {
            "env_inherit" => env.inherit = self.list(n, key),
            "env_unset" => env.unset = self.list(n, key),
            "env_set" => {
                let Value::Map(vars) = &n.value else {
                    self.expected(n, key, "a dictionary of str: str");
                    return true;
                };
                for var in last_of_each(vars) {
                    let path = format!("env_set.{}", var.key);
                    if let Some(v) = self.str(&var.value, &path) {
                        set_var(&mut env.set, var.key.clone(), v);
                    }
                }
            }
            _ => return false,
        }
        true
    }

    /// The key is not one of `allowed`.
    fn unknown(&mut self, e: &Entry, allowed: &[&str]) {
        let renamed = match e.key.as_str() {
            "filter" => Some("selector"),
            "bin" | "args" => Some("command"),
            _ => closest(&e.key, allowed),
        };
        let hint = renamed.map_or(String::new(), |k| format!(" (did you mean '{k}'?)"));
        let node = Node {
            pos: e.key_pos,
            value: Value::Null,
        };
        self.err(&node, "", format_args!("unknown key '{}'{hint}", e.key));
    }

    /// A section's entries; of a key given twice only the last, which is
    /// all PyYAML kept.
    fn entries<'n>(&mut self, body: Option<&'n Node>) -> Vec<&'n Entry> {
        match body.map(|n| (n, &n.value)) {
            None => Vec::new(),
            Some((_, Value::Map(m))) => last_of_each(m),
            Some((n, _)) => {
                self.expected(n, "", "a dictionary");
                Vec::new()
            }
        }
    }

    /// A `settings` section over what earlier ones gave.
    pub fn settings(&mut self, body: Option<&Node>, s: &mut Settings) {
        for e in self.entries(body) {
            let (n, k) = (&e.value, e.key.as_str());
            if self.env(&mut s.env, e) {
                continue;
            }
            match k {
                "uid" => put(&mut s.uid, self.scalar(n, k, false)),
                "gid" => put(&mut s.gid, self.scalar(n, k, false)),
                "debug" => put(&mut s.debug, self.bool(n, k)),
                "detect_exit" => put(&mut s.detect_exit, self.bool(n, k)),
                "enable_syslog" => put(&mut s.enable_syslog, self.bool(n, k)),
                "ignore_failures" => put(&mut s.ignore_failures, self.bool(n, k)),
                "idle_delay" => put(&mut s.idle_delay, self.num(n, k)),
                "process_timeout" => put(&mut s.process_timeout, self.num(n, k)),
                "startup_pause" => put(&mut s.startup_pause, self.num(n, k)),
                "shutdown_timeout" => put(&mut s.shutdown_timeout, self.num(n, k)),
                "status_interval" => put(&mut s.status_interval, self.num(n, k)),
                "logrec_hostname" => put(&mut s.logrec_hostname, self.str(n, k)),
                _ => self.unknown(e, SETTINGS_KEYS),
            }
        }
    }

    /// A logging section over what earlier ones of the name gave.
    pub fn logging(&mut self, body: Option<&Node>, l: &mut Logging) {
        for e in self.entries(body) {
            let (n, k) = (&e.value, e.key.as_str());
            match k {
                "extended" => put(&mut l.extended, self.bool(n, k)),
                "overwrite" => put(&mut l.overwrite, self.bool(n, k)),
                "stdout" => put(&mut l.stdout, self.bool(n, k)),
                "stderr" => put(&mut l.stderr, self.bool(n, k)),
                "selector" => put(&mut l.selector, self.str(n, k)),
                "file" => put(&mut l.file, self.str(n, k)),
                "syslog_host" => put(&mut l.syslog_host, self.str(n, k)),
                "logrec_hostname" => put(&mut l.logrec_hostname, self.str(n, k)),
                "enabled" => put(&mut l.enabled, self.scalar(n, k, true)),
                "uid" => put(&mut l.uid, self.scalar(n, k, false)),
                "gid" => put(&mut l.gid, self.scalar(n, k, false)),
                _ => self.unknown(e, LOGGING_KEYS),
            }
        }
    }

    /// A whole service (its sections never merge across files).
    pub fn service(&mut self, at: &Node, body: Option<&Node>) -> Option<Service> {
        let mut command = None;
        let mut kind = Kind::Simple;
        let mut env = EnvKeys::default();
        let (mut strs, mut scalars, mut bools, mut ints, mut nums) = (
            [const { None }; 6],
            [const { None }; 4],
            [const { None }; 6],
            [None, None],
            [None, None],
        );
        let (mut kill, mut out, mut err) = (None, None, None);
        let before = self.errs.len();
        for e in self.entries(body) {
            let (n, k) = (&e.value, e.key.as_str());
            if self.env(&mut env, e) {
                continue;
            }
            const STRS: [&str; 6] = [
                "after",
                "before",
                "service_groups",
                "directory",
                "interval",
                "pidfile",
            ];
            const SCALARS: [&str; 4] = ["enabled", "port", "uid", "gid"];
            const BOOLS: [&str; 6] = [
                "debug",
                "exit_kills",
                "ignore_failures",
                "optional",
                "restart",
                "setpgrp",
            ];
            if let Some(i) = STRS.iter().position(|s| *s == k) {
                strs[i] = self.str(n, k);
            } else if let Some(i) = SCALARS.iter().position(|s| *s == k) {
                scalars[i] = self.scalar(n, k, i == 0);
            } else if let Some(i) = BOOLS.iter().position(|s| *s == k) {
                bools[i] = self.bool(n, k);
            } else {
                match k {
                    "command" => command = self.str(n, k),
                    "restart_limit" => ints[0] = self.int(n, k),
                    "restart_delay" => ints[1] = self.int(n, k),
                    "process_timeout" => nums[0] = self.num(n, k),
                    "startup_pause" => nums[1] = self.num(n, k),
                    "type" => match KINDS.iter().find(|(name, _)| n.value == str_value(name)) {
                        Some(&(_, k)) => kind = k,
                        None => self.err(
                            n,
                            k,
                            format_args!(
                                "expected one of simple, forking, oneshot, notify, inetd, cron"
                            ),
                        ),
                    },
                    "kill_signal" => {
                        kill = self.str(n, k).and_then(|s| {
                            let num = s.v.bytes().all(|b| b.is_ascii_digit());
                            let sig = (num || s.v.starts_with("SIG"))
                                .then(|| signame::parse(&s.v))
                                .flatten();
                            if sig.is_none() {
                                self.err(
                                    n,
                                    k,
                                    format_args!("'{}' is not a signal (SIGTERM, \"15\")", s.v),
                                );
                            }
                            Some(Val { v: sig?, at: s.at })
                        })
                    }
                    "stdout" | "stderr" => {
                        let v = match &n.value {
                            Value::Str(s) if s == "log" || s == "inherit" => {
                                self.val(n, s == "inherit")
                            }
                            _ => {
                                self.err(n, k, format_args!("expected 'log' or 'inherit'"));
                                None
                            }
                        };
                        *(if k == "stdout" { &mut out } else { &mut err }) = v;
                    }
                    _ => self.unknown(e, SERVICE_KEYS),
                }
            }
        }
        let [after, before_, groups, directory, interval, pidfile] = strs;
        let [enabled, port, uid, gid] = scalars;
        let [
            debug,
            exit_kills,
            ignore_failures,
            optional,
            restart,
            setpgrp,
        ] = bools;
        if gid.is_some() && uid.is_none() {
            self.err(
                at,
                "gid",
                format_args!("cannot specify 'gid' without 'uid'"),
            );
        }
        for (list, what) in [(&after, "after"), (&before_, "before")] {
            for name in list.iter().flat_map(|l| names(&l.v)) {
                let system = matches!(name, "IDLE" | "INIT" | "CONSOLE" | "MAIN");
                if !system && is_upper(name) {
                    self.err(
                        at,
                        what,
                        format_args!("'{name}' is not a recognized system name"),
                    );
                }
                if (what, name) == ("after", "IDLE") || (what, name) == ("before", "INIT") {
                    let when = if what == "after" { "after" } else { "before" };
                    self.err(
                        at,
                        what,
                        format_args!("cannot start {when} the service group {name}"),
                    );
                }
            }
        }
        for name in groups.iter().flat_map(|l| names(&l.v)) {
            if is_upper(name) && !matches!(name, "IDLE" | "INIT") {
                self.err(
                    at,
                    "service_groups",
                    format_args!("unrecognized system group name '{name}'"),
                );
            }
        }
        let Some(command) = command else {
            if self.errs.len() == before {
                self.err(at, "command", format_args!("a service needs a command"));
            }
            return None;
        };
        Some(Service {
            name: self.name.into(),
            at: self.spot(at),
            command,
            kind,
            env,
            after,
            before: before_,
            service_groups: groups,
            directory,
            enabled,
            interval,
            kill_signal: kill,
            pidfile,
            port,
            uid,
            gid,
            debug,
            exit_kills,
            ignore_failures,
            optional,
            restart,
            setpgrp,
            restart_limit: ints[0].take(),
            restart_delay: ints[1].take(),
            process_timeout: nums[0].take(),
            startup_pause: nums[1].take(),
            stdout_inherit: out,
            stderr_inherit: err,
        })
    }
}

fn last_of_each(m: &[Entry]) -> Vec<&Entry> {
    let later = |i: usize| m[i + 1..].iter().any(|l| l.key == m[i].key);
    (0..m.len()).filter(|&i| !later(i)).map(|i| &m[i]).collect()
}

fn str_value(s: &str) -> Value {
    Value::Str(s.into())
}

fn set_var(set: &mut Vec<Val<(String, String)>>, name: String, v: Val<String>) {
    let at = v.at;
    let item = Val { v: (name, v.v), at };
    match set.iter_mut().find(|x| x.v.0 == item.v.0) {
        Some(old) => *old = item,
        None => set.push(item),
    }
}

/// The names of `after`, `before` and `service_groups`: split at commas
/// (blanks around them dropped).
pub fn names(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim)
}

/// All upper case as Python's `s.upper() == s` (ASCII): reserved names.
pub fn is_upper(s: &str) -> bool {
    !s.bytes().any(|b| b.is_ascii_lowercase())
}

/// A later value over an earlier one (a wrong one keeps the earlier).
fn put<T>(slot: &mut Opt<T>, v: Opt<T>) {
    if v.is_some() {
        *slot = v;
    }
}
