//! Typed reading of a JSON5 tree with errors that name the field path and
//! the file:line:column. Errors are collected, not returned at the first
//! one, so a config with two typos reports both; warnings (what loads but
//! will not do what it seems to) are collected beside them.
//!
//! Size matters here (tug is one small static binary, and this code has a
//! call site per field): a field's path is a [`Path`] of borrowed parts,
//! written out only when an error names it; the typed readers and the
//! error calls are out of line, and messages are formatted inside them
//! (`atf`), not at each site.

use crate::duration;
use crate::num::dec;
// A leaf (logs' selectors suggest names too); the old path stays.
use crate::json5::{Member, Node, Pos, Value};
use crate::quote::q;
pub use crate::suggest::closest;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub pos: Pos,
    /// The field path, as `jobs[0].health.ttl` ("" for the whole file).
    pub path: String,
    pub msg: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.pos.line, self.pos.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.msg)
    }
}

/// A field path, written out only when an error or warning names it:
/// decoding a valid config builds no path strings.
#[derive(Clone, Copy)]
pub enum Path<'a> {
    /// A path given whole: "" for the file, "logging", "control.socket".
    Name(&'a str),
    /// `parent.key` (just `key` when the parent is "").
    Key(&'a Path<'a>, &'a str),
    /// `parent[i]`.
    Index(&'a Path<'a>, usize),
}

// The constructors are out of line: a call is shorter than the four
// stores of an inlined one, at each of many sites.
impl Path<'_> {
    #[inline(never)]
    pub fn key<'b>(&'b self, key: &'b str) -> Path<'b> {
        Path::Key(self, key)
    }

    #[inline(never)]
    pub fn index(&self, i: usize) -> Path<'_> {
        Path::Index(self, i)
    }

    fn write(&self, out: &mut String) {
        match *self {
            Path::Name(s) => out.push_str(s),
            Path::Key(parent, key) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Path::Index(parent, i) => {
                parent.write(out);
                let _ = write!(out, "[{i}]");
            }
        }
    }
}

/// Collects errors (`.0`) and warnings (`.1`) while decoding.
#[derive(Default)]
pub struct Errors(pub Vec<ConfigError>, pub Vec<ConfigError>);

impl Errors {
    pub fn at(&mut self, pos: Pos, path: &Path, msg: impl Into<String>) {
        self.push(false, pos, path, msg.into());
    }

    pub fn warn(&mut self, pos: Pos, path: &Path, msg: impl Into<String>) {
        self.push(true, pos, path, msg.into());
    }

    /// An error whose message is formatted (here, not at each call site).
    pub fn atf(&mut self, pos: Pos, path: &Path, msg: fmt::Arguments) {
        self.push(false, pos, path, alloc::fmt::format(msg));
    }

    pub fn warnf(&mut self, pos: Pos, path: &Path, msg: fmt::Arguments) {
        self.push(true, pos, path, alloc::fmt::format(msg));
    }

    // Out of line: the callers are many, the errors few.
    #[inline(never)]
    fn push(&mut self, warning: bool, pos: Pos, at: &Path, msg: String) {
        let mut path = String::new();
        at.write(&mut path);
        let e = ConfigError { pos, path, msg };
        if warning {
            self.1.push(e)
        } else {
            self.0.push(e)
        }
    }
}

/// An object's members, checked against the keys a schema allows.
pub struct Fields<'n> {
    members: &'n [Member],
    pub pos: Pos,
    /// Some key was unknown (a typo): checks for a missing key would only
    /// repeat that error in other words.
    pub typo: bool,
    /// The object's own path, which its fields' paths extend.
    pub path: Path<'n>,
}

impl<'n> Fields<'n> {
    /// The key's value; of duplicates the last, as ContainerPilot's
    /// reader keeps it.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.members
            .iter()
            .rfind(|m| m.key == key)
            .map(|m| &m.value)
    }

    /// Where the key's value is; the object's own position when absent.
    #[inline(never)]
    pub fn pos_of(&self, key: &str) -> Pos {
        self.get(key).map_or(self.pos, |x| x.pos)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The path of the field `key`.
    #[inline(never)]
    pub fn key<'b>(&'b self, key: &'b str) -> Path<'b> {
        Path::Key(&self.path, key)
    }

    /// An error at the field `key` (one call at each site, which builds
    /// no path).
    pub fn at(&self, e: &mut Errors, pos: Pos, key: &str, msg: impl Into<String>) {
        e.push(false, pos, &self.key(key), msg.into());
    }

    /// `key` is missing (an error at the object), unless a typo may be it.
    #[inline(never)]
    pub fn missing(&self, e: &mut Errors, key: &str, msg: &str) {
        if !self.typo {
            self.at(e, self.pos, key, msg);
        }
    }

    pub fn warn(&self, e: &mut Errors, pos: Pos, key: &str, msg: impl Into<String>) {
        e.push(true, pos, &self.key(key), msg.into());
    }

    pub fn atf(&self, e: &mut Errors, pos: Pos, key: &str, msg: fmt::Arguments) {
        e.atf(pos, &self.key(key), msg);
    }

    pub fn warnf(&self, e: &mut Errors, pos: Pos, key: &str, msg: fmt::Arguments) {
        e.warnf(pos, &self.key(key), msg);
    }

    // The typed fields: None when absent or (with an error) invalid.

    pub fn string(&self, e: &mut Errors, key: &str) -> Option<String> {
        string(e, self.get(key)?, &self.key(key))
    }

    /// A string field borrowed from the tree, for a value that is only
    /// compared or parsed (no copy to make and drop).
    pub fn str(&self, e: &mut Errors, key: &str) -> Option<&'n str> {
        text(e, self.get(key)?, &self.key(key))
    }

    pub fn strings(&self, e: &mut Errors, key: &str) -> Option<Vec<String>> {
        strings(e, self.get(key)?, &self.key(key))
    }

    pub fn boolean(&self, e: &mut Errors, key: &str) -> Option<bool> {
        boolean(e, self.get(key)?, &self.key(key))
    }

    pub fn integer(&self, e: &mut Errors, key: &str, min: i64, max: i64) -> Option<i64> {
        integer(e, self.get(key)?, &self.key(key), min, max)
    }

    pub fn duration(&self, e: &mut Errors, key: &str) -> Option<u64> {
        duration_in(e, self.get(key)?, &self.key(key), "")
    }

    pub fn positive_duration(&self, e: &mut Errors, key: &str) -> Option<u64> {
        duration_in(e, self.get(key)?, &self.key(key), " > 0")
    }
}

/// Reads an object whose keys must all be in `allowed`. Unknown keys are
/// reported with the closest allowed key; a duplicate is a warning (the
/// last one wins, as in ContainerPilot).
pub fn object<'n>(
    e: &mut Errors,
    node: &'n Node,
    path: &Path<'n>,
    allowed: &[&str],
) -> Option<Fields<'n>> {
    let members = members(e, node, path)?;
    let mut typo = false;
    for (i, m) in members.iter().enumerate() {
        let here = path.key(&m.key);
        if !allowed.contains(&m.key.as_str()) {
            let hint = hint(closest(&m.key, allowed));
            e.atf(
                m.key_pos,
                &here,
                format_args!("unknown key \"{}\"{hint}", m.key),
            );
            typo = true;
        } else if let Some(p) = members[..i].iter().rfind(|p| p.key == m.key) {
            e.warnf(
                m.key_pos,
                &here,
                format_args!(
                    "duplicate key: this value replaces the one at {} (the last one wins, as in ContainerPilot)",
                    p.key_pos
                ),
            );
        }
    }
    Some(Fields {
        members,
        pos: node.pos,
        typo,
        path: *path,
    })
}

/// An object's members, or an error when the node is not an object.
fn members<'n>(e: &mut Errors, node: &'n Node, path: &Path) -> Option<&'n [Member]> {
    match &node.value {
        Value::Object(members) => Some(members),
        other => {
            e.atf(
                node.pos,
                path,
                format_args!("expected an object, found {}", other.kind()),
            );
            None
        }
    }
}

/// ` (did you mean "KEY"?)` for a key [`closest`] found, or "".
#[inline(never)]
pub fn hint(found: Option<&str>) -> String {
    found
        .map(|k| format!(" (did you mean {k}?)", k = q(&k)))
        .unwrap_or_default()
}

pub fn string(e: &mut Errors, node: &Node, path: &Path) -> Option<String> {
    text(e, node, path).map(String::from)
}

/// A string value, borrowed.
pub fn text<'n>(e: &mut Errors, node: &'n Node, path: &Path) -> Option<&'n str> {
    match &node.value {
        Value::String(s) => Some(s),
        other => {
            e.atf(
                node.pos,
                path,
                format_args!("expected a string, found {}", other.kind()),
            );
            None
        }
    }
}

pub fn boolean(e: &mut Errors, node: &Node, path: &Path) -> Option<bool> {
    match &node.value {
        Value::Bool(b) => Some(*b),
        other => {
            e.atf(
                node.pos,
                path,
                format_args!("expected true or false, found {}", other.kind()),
            );
            None
        }
    }
}

/// A whole number in `min..=max`; a numeric string is accepted too, as
/// ContainerPilot's decoder does (`ttl: "103"`).
pub fn integer(e: &mut Errors, node: &Node, path: &Path, min: i64, max: i64) -> Option<i64> {
    let whole = match &node.value {
        // (f64::fract is std-only: compare with the truncated value.)
        Value::Number(n) if n.is_finite() && *n == (*n as i64) as f64 => Some(*n as i64),
        Value::String(s) => dec::<i64>(s.trim()),
        _ => None,
    };
    let Some(n) = whole else {
        e.atf(
            node.pos,
            path,
            format_args!("expected a whole number, found {}", node.value.kind()),
        );
        return None;
    };
    if n < min || n > max {
        e.atf(
            node.pos,
            path,
            format_args!("{n} is out of range {min}..{max}"),
        );
        return None;
    }
    Some(n)
}

/// A duration: a number of seconds, or a string in Go syntax ("1m30s") or
/// of whole seconds ("10"). Returns nanoseconds.
pub fn duration(e: &mut Errors, node: &Node, path: &Path) -> Option<u64> {
    duration_in(e, node, path, "")
}

/// A duration the field needs above zero (the caller checks the minimum;
/// this only words the message for a negative one).
pub fn positive_duration(e: &mut Errors, node: &Node, path: &Path) -> Option<u64> {
    duration_in(e, node, path, " > 0")
}

fn duration_in(e: &mut Errors, node: &Node, path: &Path, above: &str) -> Option<u64> {
    let negative = |e: &mut Errors, what: &str| {
        e.atf(
            node.pos,
            path,
            format_args!("{what} is negative: expected a duration{above} such as 30 or \"30s\""),
        );
        None
    };
    match &node.value {
        Value::Number(n) if *n >= 0.0 && n.is_finite() && *n < 1e10 => Some((*n * 1e9) as u64),
        // Whole numbers print without float formatting (its code is big).
        Value::Number(n) if *n < 0.0 && *n > -1e18 && *n == (*n as i64) as f64 => {
            negative(e, &format!("{}", *n as i64))
        }
        Value::Number(n) if *n < 0.0 => negative(e, "the number"),
        Value::Number(_) => {
            e.at(
                node.pos,
                path,
                "duration out of range: expected seconds below 10000000000",
            );
            None
        }
        Value::String(s) if s.trim().starts_with('-') => negative(e, &format!("{s}", s = q(&s))),
        Value::String(s) => match duration::parse(s.trim()) {
            Ok(ns) => Some(ns),
            Err(err) => {
                e.atf(
                    node.pos,
                    path,
                    format_args!("invalid duration {s}: {err}", s = q(&s)),
                );
                None
            }
        },
        other => {
            e.atf(
                node.pos,
                path,
                format_args!(
                    "expected a duration (\"5s\" or seconds), found {}",
                    other.kind()
                ),
            );
            None
        }
    }
}

/// A list of strings; a single string counts as a list of one.
pub fn strings(e: &mut Errors, node: &Node, path: &Path) -> Option<Vec<String>> {
    match &node.value {
        Value::String(s) => Some(alloc::vec![s.clone()]),
        Value::Array(items) => {
            // Every element is checked, so two bad ones give two errors.
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match string(e, item, &path.index(i)) {
                    Some(s) => out.push(s),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        other => {
            e.atf(
                node.pos,
                path,
                format_args!(
                    "expected a string or a list of strings, found {}",
                    other.kind()
                ),
            );
            None
        }
    }
}

/// An array's elements (any type).
pub fn array<'n>(e: &mut Errors, node: &'n Node, path: &Path) -> Option<&'n [Node]> {
    match &node.value {
        Value::Array(items) => Some(items),
        other => {
            e.atf(
                node.pos,
                path,
                format_args!("expected a list, found {}", other.kind()),
            );
            None
        }
    }
}

/// An object of string values (`meta`), in source order.
pub fn string_map(e: &mut Errors, node: &Node, path: &Path) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for m in members(e, node, path)? {
        let here = path.key(&m.key);
        if out.iter().any(|(k, _)| *k == m.key) {
            e.at(m.key_pos, &here, "duplicate key");
        }
        out.push((m.key.clone(), string(e, &m.value, &here)?));
    }
    Some(out)
}
