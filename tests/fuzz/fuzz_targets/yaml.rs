//! The YAML reader of Chaperone configs: any text must give a value or an
//! error, never a panic. Positions must lie inside the text, in document
//! order, and the value written back as flow YAML must read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::fmt::Write;
use tug::config::json5::Pos;
use tug::config::yaml::{Node, Value, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = 1 + text.matches('\n').count() + text.matches('\r').count();
    let node = match parse(text) {
        Ok(node) => node,
        Err(e) => {
            assert!(
                e.pos.line >= 1 && e.pos.col >= 1 && e.pos.line as usize <= lines,
                "{e}"
            );
            return;
        }
    };
    let mut seen = Vec::new();
    positions(&node, &mut seen);
    let mut last = Pos { line: 0, col: 0 };
    for p in seen {
        assert!(
            p.line >= 1 && p.col >= 1 && p.line as usize <= lines,
            "{p:?}"
        );
        assert!(
            (p.line, p.col) >= (last.line, last.col),
            "{p:?} after {last:?}"
        );
        last = p;
    }
    let mut out = String::new();
    write(&node.value, &mut out);
    match parse(&out) {
        Ok(again) => assert!(same(&node.value, &again.value), "{out}"),
        // Flow nesting counts one level more than block nesting.
        Err(e) if e.msg == "nested too deeply" => {}
        Err(e) => panic!("{out}: {e}"),
    }
});

fn positions(node: &Node, out: &mut Vec<Pos>) {
    out.push(node.pos);
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|n| positions(n, out)),
        Value::Map(entries) => {
            for e in entries {
                out.push(e.key_pos);
                positions(&e.value, out);
            }
        }
        _ => {}
    }
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push('~'),
        Value::Bool(b) => write!(out, "{b}").unwrap(),
        Value::Int(i) => write!(out, "{i}").unwrap(),
        Value::Float(f) if f.is_nan() => out.push_str(".nan"),
        Value::Float(f) if f.is_infinite() => out.push_str(if *f < 0.0 { "-.inf" } else { ".inf" }),
        Value::Float(f) => {
            // YAML 1.1 wants a point and a signed exponent.
            let s = format!("{f:e}");
            let (m, e) = s.split_once('e').unwrap();
            let point = if m.contains('.') { "" } else { ".0" };
            let sign = if e.starts_with('-') { "" } else { "+" };
            write!(out, "{m}{point}e{sign}{e}").unwrap()
        }
        Value::Str(s) => quote(s, out),
        Value::Seq(items) => {
            out.push('[');
            for n in items {
                write(&n.value, out);
                out.push_str(", ");
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for e in entries {
                quote(&e.key, out);
                out.push_str(": ");
                write(&e.value.value, out);
                out.push_str(", ");
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
            c if c.is_control() || c == ' ' || !c.is_ascii() => {
                write!(out, "\\U{:08x}", c as u32).unwrap()
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Equal values, positions aside; floats to within rounding.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-12 * x.abs().max(1e-300)
        }
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(&p.value, &q.value))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| p.key == q.key && same(&p.value.value, &q.value.value))
        }
        _ => a == b,
    }
}
