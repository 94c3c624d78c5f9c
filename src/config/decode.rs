//! Typed reading of a JSON5 tree with errors that name the field path and
//! the file:line:column. Errors are collected, not returned at the first
//! one, so a config with two typos reports both; warnings (what loads but
//! will not do what it seems to) are collected beside them.

use crate::duration;
// A leaf (logs' selectors suggest names too); the old path stays.
use crate::json5::{Member, Node, Pos, Value};
pub use crate::suggest::closest;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

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

/// Collects errors (`.0`) and warnings (`.1`) while decoding.
#[derive(Default)]
pub struct Errors(pub Vec<ConfigError>, pub Vec<ConfigError>);

impl Errors {
    pub fn at(&mut self, pos: Pos, path: &str, msg: impl Into<String>) {
        self.0.push(ConfigError {
            pos,
            path: path.to_string(),
            msg: msg.into(),
        });
    }

    pub fn warn(&mut self, pos: Pos, path: &str, msg: impl Into<String>) {
        self.1.push(ConfigError {
            pos,
            path: path.to_string(),
            msg: msg.into(),
        });
    }
}

/// An object's members, checked against the keys a schema allows.
pub struct Fields<'n> {
    members: &'n [Member],
    pub pos: Pos,
    /// Some key was unknown (a typo): checks for a missing key would only
    /// repeat that error in other words.
    pub typo: bool,
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

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// `path.key`, for nested error paths.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Reads an object whose keys must all be in `allowed`. Unknown keys are
/// reported with the closest allowed key; a duplicate is a warning (the
/// last one wins, as in ContainerPilot).
pub fn object<'n>(
    e: &mut Errors,
    node: &'n Node,
    path: &str,
    allowed: &[&str],
) -> Option<Fields<'n>> {
    let members = members(e, node, path)?;
    let mut typo = false;
    for (i, m) in members.iter().enumerate() {
        let here = join(path, &m.key);
        if !allowed.contains(&m.key.as_str()) {
            let hint = match closest(&m.key, allowed) {
                Some(k) => format!(" (did you mean \"{k}\"?)"),
                None => String::new(),
            };
            e.at(m.key_pos, &here, format!("unknown key \"{}\"{hint}", m.key));
            typo = true;
        } else if let Some(p) = members[..i].iter().rfind(|p| p.key == m.key) {
            e.warn(
                m.key_pos,
                &here,
                format!(
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
    })
}

/// An object's members, or an error when the node is not an object.
fn members<'n>(e: &mut Errors, node: &'n Node, path: &str) -> Option<&'n [Member]> {
    match &node.value {
        Value::Object(members) => Some(members),
        other => {
            e.at(
                node.pos,
                path,
                format!("expected an object, found {}", other.kind()),
            );
            None
        }
    }
}

pub fn string(e: &mut Errors, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::String(s) => Some(s.clone()),
        other => {
            e.at(
                node.pos,
                path,
                format!("expected a string, found {}", other.kind()),
            );
            None
        }
    }
}

pub fn boolean(e: &mut Errors, node: &Node, path: &str) -> Option<bool> {
    match &node.value {
        Value::Bool(b) => Some(*b),
        other => {
            e.at(
                node.pos,
                path,
                format!("expected true or false, found {}", other.kind()),
            );
            None
        }
    }
}

/// A whole number in `min..=max`; a numeric string is accepted too, as
/// ContainerPilot's decoder does (`ttl: "103"`).
pub fn integer(e: &mut Errors, node: &Node, path: &str, min: i64, max: i64) -> Option<i64> {
    let n = match &node.value {
        // (f64::fract is std-only: compare with the truncated value.)
        Value::Number(n) if n.is_finite() && *n == (*n as i64) as f64 => *n as i64,
        Value::String(s) if s.trim().parse::<i64>().is_ok() => s.trim().parse::<i64>().ok()?,
        other => {
            e.at(
                node.pos,
                path,
                format!("expected a whole number, found {}", other.kind()),
            );
            return None;
        }
    };
    if n < min || n > max {
        e.at(node.pos, path, format!("{n} is out of range {min}..{max}"));
        return None;
    }
    Some(n)
}

/// A duration: a number of seconds, or a string in Go syntax ("1m30s") or
/// of whole seconds ("10"). Returns nanoseconds.
pub fn duration(e: &mut Errors, node: &Node, path: &str) -> Option<u64> {
    duration_in(e, node, path, "")
}

/// A duration the field needs above zero (the caller checks the minimum;
/// this only words the message for a negative one).
pub fn positive_duration(e: &mut Errors, node: &Node, path: &str) -> Option<u64> {
    duration_in(e, node, path, " > 0")
}

fn duration_in(e: &mut Errors, node: &Node, path: &str, above: &str) -> Option<u64> {
    let negative = |e: &mut Errors, what: &str| {
        e.at(
            node.pos,
            path,
            format!("{what} is negative: expected a duration{above} such as 30 or \"30s\""),
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
        Value::String(s) if s.trim().starts_with('-') => negative(e, &format!("{s:?}")),
        Value::String(s) => match duration::parse(s.trim()) {
            Ok(ns) => Some(ns),
            Err(err) => {
                e.at(node.pos, path, format!("invalid duration {s:?}: {err}"));
                None
            }
        },
        other => {
            e.at(
                node.pos,
                path,
                format!(
                    "expected a duration (\"5s\" or seconds), found {}",
                    other.kind()
                ),
            );
            None
        }
    }
}

/// A list of strings; a single string counts as a list of one.
pub fn strings(e: &mut Errors, node: &Node, path: &str) -> Option<Vec<String>> {
    match &node.value {
        Value::String(s) => Some(alloc::vec![s.clone()]),
        Value::Array(items) => {
            // Every element is checked, so two bad ones give two errors.
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match string(e, item, &format!("{path}[{i}]")) {
                    Some(s) => out.push(s),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        other => {
            e.at(
                node.pos,
                path,
                format!(
                    "expected a string or a list of strings, found {}",
                    other.kind()
                ),
            );
            None
        }
    }
}

/// An array's elements (any type).
pub fn array<'n>(e: &mut Errors, node: &'n Node, path: &str) -> Option<&'n [Node]> {
    match &node.value {
        Value::Array(items) => Some(items),
        other => {
            e.at(
                node.pos,
                path,
                format!("expected a list, found {}", other.kind()),
            );
            None
        }
    }
}

/// An object of string values (`meta`), in source order.
pub fn string_map(e: &mut Errors, node: &Node, path: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for m in members(e, node, path)? {
        let here = join(path, &m.key);
        if out.iter().any(|(k, _)| *k == m.key) {
            e.at(m.key_pos, &here, "duplicate key");
        }
        out.push((m.key.clone(), string(e, &m.value, &here)?));
    }
    Some(out)
}
