//! The JSON5 reader: any text must give a value or an error, never a
//! panic. A value's positions must lie inside the text in document order,
//! and writing the value back out as JSON5 must read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::fmt::Write;
use tug::config::json5::{Node, Pos, Value, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(node) = parse(text) else {
        return;
    };
    let lines = 1 + text
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}'))
        .count();
    let mut seen = Vec::new();
    positions(&node, &mut seen);
    let mut last = Pos { line: 0, col: 0 };
    for p in seen {
        assert!(
            p.line >= 1 && p.col >= 1 && p.line as usize <= lines,
            "{p:?}"
        );
        assert!(
            (p.line, p.col) > (last.line, last.col),
            "{p:?} after {last:?}"
        );
        last = p;
    }
    let mut out = String::new();
    write(&node.value, &mut out);
    match parse(&out) {
        Ok(again) => assert!(same(&node.value, &again.value), "{out}"),
        Err(e) => panic!("{out}: {e}"),
    }
});

/// Every position in document order.
fn positions(node: &Node, out: &mut Vec<Pos>) {
    out.push(node.pos);
    match &node.value {
        Value::Array(items) => items.iter().for_each(|n| positions(n, out)),
        Value::Object(members) => {
            for m in members {
                out.push(m.key_pos);
                positions(&m.value, out);
            }
        }
        _ => {}
    }
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => write!(out, "{b}").unwrap(),
        Value::Number(n) if n.is_nan() => out.push_str("NaN"),
        Value::Number(n) if n.is_infinite() => {
            out.push_str(if *n < 0.0 { "-Infinity" } else { "Infinity" })
        }
        Value::Number(n) => write!(out, "{n:?}").unwrap(),
        Value::String(s) => quote(s, out),
        Value::Array(items) => {
            out.push('[');
            for n in items {
                write(&n.value, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for m in members {
                quote(&m.key, out);
                out.push(':');
                write(&m.value.value, out);
                out.push(',');
            }
            out.push('}');
        }
    }
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                write!(out, "\\u{:04x}", c as u32).unwrap()
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Equal values, positions aside; numbers to within rounding (the reader
/// is exact only in Clinger's fast path).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-14 * x.abs().max(1e-300)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(&p.value, &q.value))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p.key == q.key && same(&p.value.value, &q.value.value))
        }
        _ => a == b,
    }
}
