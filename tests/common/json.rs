//! JSON in tests: tug's own reader (`tug::json`), plus lookups by path.
//! A path is a slice of keys; a segment that is a number indexes an array.

pub use tug::config::json5::{Node, Value};

/// Parses `text`; panics with the text when it is not JSON.
pub fn parse(text: &str) -> Node {
    tug::json::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e} in {text:?}"))
}

pub fn at<'n>(node: &'n Node, path: &[&str]) -> Option<&'n Node> {
    let mut n = node;
    for seg in path {
        n = match &n.value {
            Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
            _ => tug::json::get(n, seg)?,
        };
    }
    Some(n)
}

pub fn str_at<'n>(node: &'n Node, path: &[&str]) -> Option<&'n str> {
    at(node, path).and_then(tug::json::as_str)
}

/// A number, or a decimal string (etcd writes 64-bit values so).
pub fn u64_at(node: &Node, path: &[&str]) -> Option<u64> {
    at(node, path).and_then(tug::json::as_u64)
}

pub fn i64_at(node: &Node, path: &[&str]) -> Option<i64> {
    match &at(node, path)?.value {
        Value::Number(n) => Some(*n as i64),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub fn bool_at(node: &Node, path: &[&str]) -> Option<bool> {
    at(node, path).and_then(tug::json::as_bool)
}

pub fn is_null(node: &Node) -> bool {
    matches!(node.value, Value::Null)
}

/// Elements of an array, or members' values of an object (empty otherwise).
pub fn items(node: &Node) -> Vec<&Node> {
    match &node.value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(members) => members.iter().map(|m| &m.value).collect(),
        _ => Vec::new(),
    }
}

/// The keys of an object, in order (empty otherwise).
pub fn keys(node: &Node) -> Vec<&str> {
    match &node.value {
        Value::Object(members) => members.iter().map(|m| m.key.as_str()).collect(),
        _ => Vec::new(),
    }
}

/// `s` as a JSON string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::new();
    tug::json::quote(&mut out, s);
    out
}
