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

/// Where a key's value goes, and so the type it must have: the
/// sections' keys as data, so that one function ([`Dec::fill`]) checks
/// and stores every key's value (not one inlined copy per key).
enum Slot<'a> {
    Str(&'a mut Opt<String>),
    Bool(&'a mut Opt<bool>),
    Int(&'a mut Opt<i64>),
    Num(&'a mut Opt<f64>),
    /// `str` or `int`; with `true` (`enabled`), `bool` or `str`.
    Scalar(&'a mut Opt<Scalar>, bool),
    /// `env_inherit`, `env_set`, `env_unset`.
    Env(&'a mut EnvKeys),
    Kind(&'a mut Kind),
    Signal(&'a mut Opt<i32>),
    /// A service's stdout/stderr: `log` or `inherit` (true).
    Out(&'a mut Opt<bool>),
}

/// The section a [`Dec`] fills.
enum Target<'a> {
    Settings(&'a mut Settings),
    Logging(&'a mut Logging),
    /// The service, and its `command` until it is known to be there.
    Service(&'a mut Service, &'a mut Opt<String>),
}

/// The slot of key `k` in `t` (None: not a key of the section).
// Not inlined: measured smaller (opt-level z, LTO).
#[inline(never)]
fn slot<'t>(t: &'t mut Target, k: &str) -> Option<Slot<'t>> {
    use Slot::*;
    Some(match t {
        Target::Settings(s) => match k {
            "env_inherit" | "env_set" | "env_unset" => Env(&mut s.env),
            "uid" => Scalar(&mut s.uid, false),
            "gid" => Scalar(&mut s.gid, false),
            "debug" => Bool(&mut s.debug),
            "detect_exit" => Bool(&mut s.detect_exit),
            "enable_syslog" => Bool(&mut s.enable_syslog),
            "ignore_failures" => Bool(&mut s.ignore_failures),
            "idle_delay" => Num(&mut s.idle_delay),
            "process_timeout" => Num(&mut s.process_timeout),
            "startup_pause" => Num(&mut s.startup_pause),
            "shutdown_timeout" => Num(&mut s.shutdown_timeout),
            "status_interval" => Num(&mut s.status_interval),
            "logrec_hostname" => Str(&mut s.logrec_hostname),
            _ => return None,
        },
        Target::Logging(l) => match k {
            "extended" => Bool(&mut l.extended),
            "overwrite" => Bool(&mut l.overwrite),
            "stdout" => Bool(&mut l.stdout),
            "stderr" => Bool(&mut l.stderr),
            "selector" => Str(&mut l.selector),
            "file" => Str(&mut l.file),
            "syslog_host" => Str(&mut l.syslog_host),
            "logrec_hostname" => Str(&mut l.logrec_hostname),
            "enabled" => Scalar(&mut l.enabled, true),
            "uid" => Scalar(&mut l.uid, false),
            "gid" => Scalar(&mut l.gid, false),
            _ => return None,
        },
        Target::Service(s, command) => match k {
            "env_inherit" | "env_set" | "env_unset" => Env(&mut s.env),
            "command" => Str(command),
            "after" => Str(&mut s.after),
            "before" => Str(&mut s.before),
            "service_groups" => Str(&mut s.service_groups),
            "directory" => Str(&mut s.directory),
            "interval" => Str(&mut s.interval),
            "pidfile" => Str(&mut s.pidfile),
            "enabled" => Scalar(&mut s.enabled, true),
            "port" => Scalar(&mut s.port, false),
            "uid" => Scalar(&mut s.uid, false),
            "gid" => Scalar(&mut s.gid, false),
            "debug" => Bool(&mut s.debug),
            "exit_kills" => Bool(&mut s.exit_kills),
            "ignore_failures" => Bool(&mut s.ignore_failures),
            "optional" => Bool(&mut s.optional),
            "restart" => Bool(&mut s.restart),
            "setpgrp" => Bool(&mut s.setpgrp),
            "restart_limit" => Int(&mut s.restart_limit),
            "restart_delay" => Int(&mut s.restart_delay),
            "process_timeout" => Num(&mut s.process_timeout),
            "startup_pause" => Num(&mut s.startup_pause),
            "type" => Kind(&mut s.kind),
            "kill_signal" => Signal(&mut s.kill_signal),
            "stdout" => Out(&mut s.stdout_inherit),
            "stderr" => Out(&mut s.stderr_inherit),
            _ => return None,
        },
    })
}

/// Stores `v` written at `at` in `slot`.
fn set<T>(slot: &mut Opt<T>, v: T, at: Spot) {
    *slot = Some(Val { v, at });
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

    /// A `str`, or an "expected str" error.
    fn str(&mut self, n: &Node, key: &str) -> Option<String> {
        match &n.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.expected(n, key, "str");
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
            out.push(self.str(item, key)?);
        }
        Some(Val {
            v: out,
            at: self.spot(n),
        })
    }

    fn env(&mut self, env: &mut EnvKeys, e: &Entry) {
        let (n, key) = (&e.value, e.key.as_str());
        match key {
            "env_inherit" => env.inherit = self.list(n, key),
            "env_unset" => env.unset = self.list(n, key),
            _ => {
                let Value::Map(vars) = &n.value else {
                    return self.expected(n, key, "a dictionary of str: str");
                };
                for var in last_of_each(vars) {
                    let path = format!("env_set.{}", var.key);
                    if let Some(v) = self.str(&var.value, &path) {
                        let at = self.spot(&var.value);
                        set_var(&mut env.set, var.key.clone(), Val { v, at });
                    }
                }
            }
        }
    }

    /// Checks `e`'s value against its slot's type and stores it there; a
    /// wrong one is an error and leaves the slot as it was.
    // Not inlined: measured smaller (opt-level z, LTO).
    #[inline(never)]
    fn fill(&mut self, e: &Entry, slot: Slot) {
        let (n, key) = (&e.value, e.key.as_str());
        let at = self.spot(n);
        let want = match (slot, &n.value) {
            (Slot::Str(s), Value::Str(v)) => return set(s, v.clone(), at),
            (Slot::Str(_), _) => "str",
            (Slot::Bool(s), Value::Bool(v)) => return set(s, *v, at),
            (Slot::Bool(_), _) => "bool",
            (Slot::Int(s), Value::Int(v)) => return set(s, *v, at),
            (Slot::Int(_), _) => "int",
            (Slot::Num(s), Value::Int(v)) => return set(s, *v as f64, at),
            (Slot::Num(s), Value::Float(v)) => return set(s, *v, at),
            (Slot::Num(_), _) => "int or float",
            (Slot::Scalar(s, _), Value::Str(v)) => return set(s, Scalar::Str(v.clone()), at),
            (Slot::Scalar(s, false), Value::Int(v)) => return set(s, Scalar::Int(*v), at),
            (Slot::Scalar(s, true), Value::Bool(v)) => return set(s, Scalar::Bool(*v), at),
            (Slot::Scalar(_, true), _) => "bool or str",
            (Slot::Scalar(_, false), _) => "str or int",
            (Slot::Env(env), _) => return self.env(env, e),
            (Slot::Kind(k), v) => {
                match KINDS
                    .iter()
                    .find(|(name, _)| matches!(v, Value::Str(s) if s == name))
                {
                    Some(&(_, kind)) => *k = kind,
                    None => self.err(
                        n,
                        key,
                        format_args!(
                            "expected one of simple, forking, oneshot, notify, inetd, cron"
                        ),
                    ),
                }
                return;
            }
            (Slot::Signal(s), Value::Str(v)) => {
                let num = v.bytes().all(|b| b.is_ascii_digit());
                match (num || v.starts_with("SIG"))
                    .then(|| signame::parse(v))
                    .flatten()
                {
                    Some(sig) => set(s, sig, at),
                    None => self.err(
                        n,
                        key,
                        format_args!("'{v}' is not a signal (SIGTERM, \"15\")"),
                    ),
                }
                return;
            }
            (Slot::Signal(_), _) => "str",
            (Slot::Out(s), Value::Str(v)) if v == "log" || v == "inherit" => {
                return set(s, v == "inherit", at);
            }
            (Slot::Out(_), _) => {
                return self.err(n, key, format_args!("expected 'log' or 'inherit'"));
            }
        };
        self.expected(n, key, want);
    }

    /// The key is not one of `allowed`.
    // Not inlined: measured smaller (opt-level z, LTO).
    #[inline(never)]
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

    /// A section's entries into `t`; of a key given twice only the last,
    /// which is all PyYAML kept. A later value replaces an earlier one (a
    /// wrong one keeps the earlier).
    fn section(&mut self, body: Option<&Node>, mut t: Target, allowed: &[&str]) {
        let entries = match body.map(|n| (n, &n.value)) {
            None => Vec::new(),
            Some((_, Value::Map(m))) => last_of_each(m),
            Some((n, _)) => {
                self.expected(n, "", "a dictionary");
                Vec::new()
            }
        };
        for e in entries {
            match slot(&mut t, &e.key) {
                Some(s) => self.fill(e, s),
                None => self.unknown(e, allowed),
            }
        }
    }

    /// A `settings` section over what earlier ones gave.
    // Not inlined: measured smaller (opt-level z, LTO).
    #[inline(never)]
    pub fn settings(&mut self, body: Option<&Node>, s: &mut Settings) {
        self.section(body, Target::Settings(s), SETTINGS_KEYS);
    }

    /// A logging section over what earlier ones of the name gave.
    pub fn logging(&mut self, body: Option<&Node>, l: &mut Logging) {
        self.section(body, Target::Logging(l), LOGGING_KEYS);
    }

    /// A whole service (its sections never merge across files).
    // Not inlined: measured smaller (opt-level z, LTO).
    #[inline(never)]
    pub fn service(&mut self, at: &Node, body: Option<&Node>) -> Option<Service> {
        let mut s = Service {
            name: self.name.into(),
            at: self.spot(at),
            ..Service::default()
        };
        let mut command = None;
        let before = self.errs.len();
        self.section(body, Target::Service(&mut s, &mut command), SERVICE_KEYS);
        if s.gid.is_some() && s.uid.is_none() {
            self.err(
                at,
                "gid",
                format_args!("cannot specify 'gid' without 'uid'"),
            );
        }
        for (list, what) in [(&s.after, "after"), (&s.before, "before")] {
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
                    self.err(
                        at,
                        what,
                        format_args!("cannot start {what} the service group {name}"),
                    );
                }
            }
        }
        for name in s.service_groups.iter().flat_map(|l| names(&l.v)) {
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
        s.command = command;
        Some(s)
    }
}

fn last_of_each(m: &[Entry]) -> Vec<&Entry> {
    let later = |i: usize| m[i + 1..].iter().any(|l| l.key == m[i].key);
    (0..m.len()).filter(|&i| !later(i)).map(|i| &m[i]).collect()
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
