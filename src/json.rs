//! JSON for the wire (Consul, etcd, Docker, the control socket): reading
//! goes through the config's JSON5 reader, `crate::json5` (JSON is a
//! subset, so tug carries one parser), writing through this small builder.

use crate::json5::{self, Node, Value};
use crate::num::dec;
use alloc::format;
use alloc::string::String;
use core::fmt::Write;

/// Parses a JSON document (a response body); the error names line:column.
pub fn parse(bytes: &[u8]) -> Result<Node, String> {
    let text = core::str::from_utf8(bytes).map_err(|_| String::from("invalid UTF-8 in JSON"))?;
    json5::parse(text).map_err(|e| format!("bad JSON at {e}"))
}

/// The member `key` of an object node (the first, if repeated).
pub fn get<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Object(members) => members.iter().find(|m| m.key == key).map(|m| &m.value),
        _ => None,
    }
}

pub fn as_str(node: &Node) -> Option<&str> {
    match &node.value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

pub fn as_f64(node: &Node) -> Option<f64> {
    match node.value {
        Value::Number(n) => Some(n),
        _ => None,
    }
}

/// A non-negative integer given as a number or, as etcd writes 64-bit
/// values, as a decimal string.
pub fn as_u64(node: &Node) -> Option<u64> {
    match &node.value {
        Value::Number(n)
            if *n >= 0.0 && *n <= 9.007_199_254_740_992e15 && *n == (*n as u64) as f64 =>
        {
            Some(*n as u64)
        }
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => dec(s),
        _ => None,
    }
}

pub fn as_bool(node: &Node) -> Option<bool> {
    match node.value {
        Value::Bool(b) => Some(b),
        _ => None,
    }
}

pub fn as_array(node: &Node) -> Option<&[Node]> {
    match &node.value {
        Value::Array(items) => Some(items),
        _ => None,
    }
}

/// Builds one JSON document left to right. Commas are placed by the
/// builder: callers only open, write keys and values, and close.
#[derive(Default)]
pub struct Writer {
    pub out: String,
    /// Whether the next value in the current container needs a comma.
    comma: bool,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    fn sep(&mut self) {
        if self.comma {
            self.out.push(',');
        }
        self.comma = true;
    }

    pub fn begin_object(&mut self) -> &mut Self {
        self.sep();
        self.out.push('{');
        self.comma = false;
        self
    }

    pub fn end_object(&mut self) -> &mut Self {
        self.out.push('}');
        self.comma = true;
        self
    }

    pub fn begin_array(&mut self) -> &mut Self {
        self.sep();
        self.out.push('[');
        self.comma = false;
        self
    }

    pub fn end_array(&mut self) -> &mut Self {
        self.out.push(']');
        self.comma = true;
        self
    }

    /// An object key; the next call writes its value.
    pub fn key(&mut self, k: &str) -> &mut Self {
        self.sep();
        quote(&mut self.out, k);
        self.out.push(':');
        self.comma = false;
        self
    }

    pub fn string(&mut self, s: &str) -> &mut Self {
        self.sep();
        quote(&mut self.out, s);
        self
    }

    pub fn uint(&mut self, n: u64) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{n}");
        self
    }

    pub fn int(&mut self, n: i64) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{n}");
        self
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.sep();
        self.out.push_str(if b { "true" } else { "false" });
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.out.push_str("null");
        self
    }

    /// Text that is already valid JSON (a number formatted elsewhere).
    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.sep();
        self.out.push_str(json);
        self
    }

    /// `"k":"v"`, the common case.
    pub fn field(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k).string(v)
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Appends `s` as a JSON string literal.
pub fn quote(out: &mut String, s: &str) {
    out.push('"');
    escape_into(out, s);
    out.push('"');
}

/// Appends `s` with JSON string escapes, without the quotes. DEL and the
/// line separators are escaped too, so the text is safe in a log line and
/// in JavaScript.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_places_commas() {
        let mut w = Writer::new();
        w.begin_object().field("a", "x\"y\n").key("b").begin_array();
        w.uint(1).int(-2).bool(true).null().end_array();
        w.key("c").begin_object().end_object().end_object();
        assert_eq!(w.finish(), r#"{"a":"x\"y\n","b":[1,-2,true,null],"c":{}}"#);
    }

    #[test]
    fn reads_back_what_it_writes() {
        let mut w = Writer::new();
        w.begin_object()
            .field("k", "\u{1}é")
            .key("n")
            .uint(42)
            .end_object();
        let doc = parse(w.finish().as_bytes()).unwrap();
        assert_eq!(as_str(get(&doc, "k").unwrap()), Some("\u{1}é"));
        assert_eq!(as_u64(get(&doc, "n").unwrap()), Some(42));
    }

    #[test]
    fn integers_as_numbers_or_strings() {
        let doc = parse(br#"{"a":"7587862271","b":3,"c":-1,"d":1.5,"e":""}"#).unwrap();
        assert_eq!(as_u64(get(&doc, "a").unwrap()), Some(7_587_862_271));
        assert_eq!(as_u64(get(&doc, "b").unwrap()), Some(3));
        assert_eq!(as_u64(get(&doc, "c").unwrap()), None);
        assert_eq!(as_u64(get(&doc, "d").unwrap()), None);
        assert_eq!(as_u64(get(&doc, "e").unwrap()), None);
    }

    #[test]
    fn malformed_json_is_an_error_with_a_position() {
        let e = parse(b"{\"a\": [1, 2}").unwrap_err();
        assert!(e.contains("1:"), "{e}");
        assert!(parse(b"\xff").is_err());
    }
}
