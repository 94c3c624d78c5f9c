//! Typed reading of a JSON5 tree with errors that name the field path and
//! the file:line:column. Errors are collected, not returned at the first
//! one, so a config with two typos reports both.

use super::json5::{Member, Node, Pos, Value};
use crate::duration;
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

/// Collects errors while decoding.
#[derive(Default)]
pub struct Errors(pub Vec<ConfigError>);

impl Errors {
    pub fn at(&mut self, pos: Pos, path: &str, msg: impl Into<String>) {
        self.0.push(ConfigError {
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
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.members.iter().find(|m| m.key == key).map(|m| &m.value)
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
/// reported with the closest allowed key, duplicates as errors.
pub fn object<'n>(
    e: &mut Errors,
    node: &'n Node,
    path: &str,
    allowed: &[&str],
) -> Option<Fields<'n>> {
    let members = members(e, node, path)?;
    for (i, m) in members.iter().enumerate() {
        let here = join(path, &m.key);
        if !allowed.contains(&m.key.as_str()) {
            let hint = match closest(&m.key, allowed) {
                Some(k) => format!(" (did you mean \"{k}\"?)"),
                None => String::new(),
            };
            e.at(m.key_pos, &here, format!("unknown key \"{}\"{hint}", m.key));
        } else if members[..i].iter().any(|p| p.key == m.key) {
            e.at(m.key_pos, &here, "duplicate key");
        }
    }
    Some(Fields {
        members,
        pos: node.pos,
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

/// The allowed key within edit distance 2 (or a case-insensitive match).
pub fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|k| {
            (
                edit_distance(&key.to_ascii_lowercase(), &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = alloc::vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
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
    match &node.value {
        Value::Number(n) if *n >= 0.0 && n.is_finite() && *n < 1e10 => Some((*n * 1e9) as u64),
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
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(string(e, item, &format!("{path}[{i}]"))?);
            }
            Some(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_for_typos() {
        assert_eq!(
            closest("tll", &["exec", "interval", "ttl", "timeout"]),
            Some("ttl")
        );
        assert_eq!(closest("restart", &["restarts", "exec"]), Some("restarts"));
        assert_eq!(closest("Restarts", &["restarts"]), Some("restarts"));
        assert_eq!(closest("zzzzzz", &["exec"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
