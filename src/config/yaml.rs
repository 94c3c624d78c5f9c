//! YAML as Chaperone's configs use it, read the way Chaperone's PyYAML
//! (YAML 1.1) read them, with the line:column of every node and error.
//!
//! Supported: block mappings and sequences (also a compact mapping in a
//! sequence item and a sequence indented like its key), flow mappings and
//! sequences over any number of lines with trailing commas, plain scalars
//! over several lines, single- and double-quoted scalars with YAML's
//! escapes and line folding, comments, one leading `---`. Before reading,
//! tabs are expanded to 8-column stops everywhere (Python's `expandtabs()`,
//! as Chaperone did, inside quotes too) and CR LF becomes LF; columns count
//! chars of that expanded text. Plain scalars are typed as PyYAML's
//! resolver types them: null (`~`, `null`, empty), booleans (`yes/no`,
//! `true/false`, `on/off` in lower, Capitalised or UPPER case), ints
//! (decimal, `0b`, `0x`, octal `0755`, base 60 `1:30`), floats (`1.5`,
//! `1.`, `.5`, `1.0e+3`, base 60, `.inf`, `.nan`; `1e3` stays a string, as
//! in PyYAML). Ints past i64 saturate. Dates are left as strings.
//! Duplicate keys are kept in order; [`Node::get`] takes the last one, as
//! PyYAML's dict does.
//!
//! Rejected with an error at their position (real configs do not use them;
//! PyYAML failed on an unquoted `*.info` selector too): anchors and aliases, tags, block scalars (`|`, `>`), explicit `?` keys,
//! collections as keys, `[a: b]` pairs, directives and a second document.
//! Deliberately lenient: a `:` inside a plain scalar of a flow collection
//! (`{url: http://x:80}`) is part of it, as in PyYAML 5.1 and later.
//!
//! Untrusted input is fine: linear time, nesting limited to 64 levels, no
//! panics.

use crate::json5::{self, ParseError, Pos};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

const MAX_DEPTH: u32 = 64;

#[derive(Clone, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

impl Value {
    /// The type's name as Python calls it (Chaperone's messages do).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Seq(_) => "list",
            Value::Map(_) => "dict",
        }
    }
}

#[derive(Clone, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

impl Node {
    /// A mapping's value for `key`; of duplicates the last (PyYAML's).
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(m) => m.iter().rfind(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq)]
#[cfg_attr(test, derive(Debug))]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// Python's `str.expandtabs()` (stops every 8 columns, counted in chars,
/// reset by a line break), with CR LF and a lone CR made LF.
pub fn expand_tabs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut col = 0;
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\t' => {
                let n = 8 - col % 8;
                (0..n).for_each(|_| out.push(' '));
                col += n;
            }
            '\r' | '\n' => {
                if c == '\r' && it.peek() == Some(&'\n') {
                    it.next();
                }
                out.push('\n');
                col = 0;
            }
            c => {
                out.push(c);
                col += 1;
            }
        }
    }
    out
}

/// Reads one document. Positions are in `expand_tabs(text)`, which has the
/// same lines as `text`. An empty document (or only comments) is `Null`.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let t = expand_tabs(text.strip_prefix('\u{feff}').unwrap_or(text));
    let mut lines = Vec::from([0]);
    lines.extend(t.match_indices('\n').map(|(i, _)| i + 1));
    let mut p = P {
        s: &t,
        b: t.as_bytes(),
        i: 0,
        lines,
        fresh: false,
        depth: 0,
        cache: Cell::new((0, 1, 1)),
    };
    if let Some((i, c)) = t.char_indices().find(|&(_, c)| !printable(c)) {
        return p.err(
            i,
            format_args!("character U+{:04X} is not allowed", c as u32),
        );
    }
    p.document()
}

/// PyYAML's printable set.
fn printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || c >= '\u{10000}'
}

/// A separator after `-`, `?` or `:`: space, line end, end of text.
fn sep(c: u8) -> bool {
    matches!(c, 0 | b' ' | b'\n')
}

fn flow_ind(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

struct P<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    /// Byte offsets of line starts.
    lines: Vec<usize>,
    /// A block collection ended: `i` is already at the next content line.
    fresh: bool,
    depth: u32,
    /// The last position computed: (offset, line, col), so that positions
    /// along one long line cost linear time.
    cache: Cell<(usize, u32, u32)>,
}

impl P<'_> {
    // Not inlined: measured smaller (opt-level z, LTO; ~30 call sites).
    #[inline(never)]
    fn at(&self, k: usize) -> u8 {
        *self.b.get(self.i + k).unwrap_or(&0)
    }

    fn line_start(&self, off: usize) -> usize {
        self.lines[self.lines.partition_point(|&s| s <= off) - 1]
    }

    fn pos(&self, off: usize) -> Pos {
        let (o, line, col) = self.cache.get();
        let start = self.line_start(off);
        let (line, col) = if o <= off && start <= o {
            (line, col + self.s[o..off].chars().count() as u32)
        } else {
            let line = self.lines.partition_point(|&s| s <= off) as u32;
            (line, 1 + self.s[start..off].chars().count() as u32)
        };
        self.cache.set((off, line, col));
        Pos { line, col }
    }

    fn err<T>(&self, off: usize, msg: core::fmt::Arguments) -> Result<T, ParseError> {
        Err(ParseError {
            pos: self.pos(off),
            msg: alloc::fmt::format(msg),
        })
    }

    /// The byte column of `i` (indentation is ASCII spaces).
    fn col(&self) -> usize {
        self.i - self.line_start(self.i)
    }

    fn node(&self, off: usize, value: Value) -> Node {
        Node {
            pos: self.pos(off),
            value,
        }
    }

    fn spaces(&mut self) {
        while self.at(0) == b' ' {
            self.i += 1;
        }
    }

    /// Past spaces and a comment; whether the line (or text) ends here.
    fn rest_blank(&mut self) -> bool {
        self.spaces();
        if self.at(0) == b'#' {
            while !matches!(self.at(0), 0 | b'\n') {
                self.i += 1;
            }
        }
        matches!(self.at(0), 0 | b'\n')
    }

    /// From a line's end to the first char of the next line with content;
    /// false at the end of the text.
    fn next_content(&mut self) -> bool {
        while self.rest_blank() {
            if self.at(0) == 0 {
                return false;
            }
            self.i += 1;
        }
        true
    }

    /// `---` or `...` at a line's start.
    fn doc_marker(&self) -> bool {
        let m = self.b.get(self.i..self.i + 3);
        (m == Some(b"---") || m == Some(b"...")) && self.col() == 0 && sep(self.at(3))
    }

    /// After a node: to the next content line; false at the end.
    fn finish(&mut self) -> Result<bool, ParseError> {
        if core::mem::take(&mut self.fresh) {
            return Ok(self.at(0) != 0);
        }
        if !self.rest_blank() {
            return if self.at(0) == b':' {
                self.err(self.i, format_args!("mapping values are not allowed here"))
            } else {
                self.err(self.i, format_args!("expected the end of the line"))
            };
        }
        Ok(self.next_content())
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(self.i, format_args!("nested too deeply"));
        }
        Ok(())
    }

    fn document(&mut self) -> Result<Node, ParseError> {
        if !self.next_content() {
            return Ok(self.node(0, Value::Null));
        }
        if self.at(0) == b'%' && self.col() == 0 {
            return self.err(self.i, format_args!("directives (%) are not supported"));
        }
        if self.doc_marker() && self.at(0) == b'-' {
            self.i += 3;
            if self.rest_blank() && !self.next_content() {
                return Ok(self.node(0, Value::Null));
            }
        }
        let node = self.block_node(-1)?;
        if self.finish()? {
            if !self.doc_marker() {
                return self.err(
                    self.i,
                    format_args!("unexpected text after the top-level value (indentation?)"),
                );
            }
            let (end, at) = (self.at(0) == b'.', self.i);
            self.i += 3;
            if !end || !self.rest_blank() || self.next_content() {
                return self.err(at, format_args!("multiple documents are not supported"));
            }
        }
        Ok(node)
    }

    /// A node in block context starting at `i`, whose column is more than
    /// `parent`'s (the enclosing block collection's column).
    fn block_node(&mut self, parent: isize) -> Result<Node, ParseError> {
        self.enter()?;
        let n = self.col();
        let start = self.i;
        let r = if self.at(0) == b'-' && sep(self.at(1)) {
            self.block_seq(n)
        } else if matches!(self.at(0), b'{' | b'[') {
            let node = self.flow()?;
            self.spaces();
            if self.at(0) == b':' && sep(self.at(1)) {
                self.err(start, format_args!("collections as keys are not supported"))
            } else {
                Ok(node)
            }
        } else {
            let (text, quoted) = self.scalar(parent, false)?;
            self.spaces();
            if self.at(0) == b':' && sep(self.at(1)) {
                if self.b[start..self.i].contains(&b'\n') {
                    self.err(start, format_args!("a mapping key must be on one line"))
                } else {
                    self.block_map(n, text, start)
                }
            } else {
                Ok(self.scalar_node(start, text, quoted))
            }
        };
        self.depth -= 1;
        r
    }

    fn scalar_node(&self, start: usize, text: String, quoted: bool) -> Node {
        let value = if quoted {
            Value::Str(text)
        } else {
            resolve(text)
        };
        self.node(start, value)
    }

    /// A block mapping at column `n`; `i` is at the first key's `:`.
    fn block_map(&mut self, n: usize, key: String, start: usize) -> Result<Node, ParseError> {
        let pos = self.pos(start);
        let (mut key, mut key_pos) = (key, pos);
        let mut entries = Vec::new();
        loop {
            self.i += 1;
            let value = self.map_value(n)?;
            entries.push(Entry {
                key,
                key_pos,
                value,
            });
            if !self.finish()? || self.doc_marker() || self.col() < n {
                break;
            }
            if self.col() > n {
                return self.err(self.i, format_args!("bad indentation of a mapping entry"));
            }
            if self.at(0) == b'-' && sep(self.at(1)) {
                return self.err(self.i, format_args!("expected a mapping key, found '-'"));
            }
            if matches!(self.at(0), b'{' | b'[') {
                return self.err(
                    self.i,
                    format_args!("collections as keys are not supported"),
                );
            }
            let k = self.i;
            key_pos = self.pos(k);
            key = self.scalar(n as isize, false)?.0;
            self.spaces();
            if self.b[k..self.i].contains(&b'\n') || self.at(0) != b':' || !sep(self.at(1)) {
                return self.err(k, format_args!("could not find the ':' after this key"));
            }
        }
        self.fresh = true;
        Ok(Node {
            pos,
            value: Value::Map(entries),
        })
    }

    /// The value after a block mapping's `key:` (the mapping is at `n`).
    // Not inlined: measured smaller (opt-level z, LTO).
    #[inline(never)]
    fn map_value(&mut self, n: usize) -> Result<Node, ParseError> {
        self.spaces();
        let here = self.i;
        if self.rest_blank() {
            if self.next_content() && !self.doc_marker() {
                if self.col() > n {
                    return self.block_node(n as isize);
                }
                if self.col() == n && self.at(0) == b'-' && sep(self.at(1)) {
                    return self.block_seq(n);
                }
            }
            self.fresh = true;
            return Ok(self.node(here, Value::Null));
        }
        if matches!(self.at(0), b'{' | b'[') {
            return self.flow();
        }
        let (text, quoted) = self.scalar(n as isize, false)?;
        Ok(self.scalar_node(here, text, quoted))
    }

    /// A block sequence at column `n`; `i` is at its first `-`.
    fn block_seq(&mut self, n: usize) -> Result<Node, ParseError> {
        let pos = self.pos(self.i);
        let mut items = Vec::new();
        loop {
            self.i += 1;
            self.spaces();
            let here = self.i;
            let inline = !self.rest_blank();
            let item = if inline || self.next_content() && !self.doc_marker() && self.col() > n {
                self.block_node(n as isize)?
            } else {
                self.fresh = true;
                self.node(here, Value::Null)
            };
            items.push(item);
            if !self.finish()? || self.doc_marker() || self.col() < n {
                break;
            }
            if self.col() > n {
                return self.err(self.i, format_args!("bad indentation of a sequence item"));
            }
            if self.at(0) != b'-' || !sep(self.at(1)) {
                break;
            }
        }
        self.fresh = true;
        Ok(Node {
            pos,
            value: Value::Seq(items),
        })
    }

    /// A scalar's text, and whether it was quoted.
    fn scalar(&mut self, parent: isize, flow: bool) -> Result<(String, bool), ParseError> {
        let (c, next) = (self.at(0), self.at(1));
        let ind = sep(next) || flow && flow_ind(next);
        let what = match c {
            b'"' | b'\'' => return self.quoted().map(|s| (s, true)),
            b'&' => "'&' starts an anchor, which is not supported: quote the value",
            b'*' => "'*' starts an alias, which is not supported: quote the value",
            b'!' => "'!' starts a tag, which is not supported: quote the value",
            b'|' | b'>' => "block scalars (| and >) are not supported: quote the value",
            b'-' if ind => "a sequence item cannot start here",
            b'?' if ind => "'?' keys are not supported",
            b':' if ind => "a mapping key is missing",
            0 => "unexpected end of text",
            b'\n' => "a value is missing",
            b'%' | b'@' | b'`' | b',' | b']' | b'}' | b'[' | b'{' | b'#' => {
                let c = c as char;
                return self.err(
                    self.i,
                    format_args!("unexpected '{c}' (a value starting with it must be quoted)"),
                );
            }
            _ => return Ok((self.plain(parent, flow), false)),
        };
        self.err(self.i, format_args!("{what}"))
    }

    /// A plain scalar: lines folded, continuation lines indented past
    /// `parent` (any indentation inside a flow collection).
    fn plain(&mut self, parent: isize, flow: bool) -> String {
        let mut out = String::new();
        loop {
            let start = self.i;
            let mut end = start;
            loop {
                let c = self.at(0);
                if c == b' ' {
                    self.i += 1;
                    if self.at(0) == b'#' {
                        break;
                    }
                    continue;
                }
                if c == 0 || c == b'\n' || flow && flow_ind(c) {
                    break;
                }
                if c == b':' && (sep(self.at(1)) || flow && flow_ind(self.at(1))) {
                    break;
                }
                self.i += 1;
                end = self.i;
            }
            out.push_str(&self.s[start..end]);
            self.i = end;
            // A continuation line?
            let mut j = end;
            while self.b.get(j) == Some(&b' ') {
                j += 1;
            }
            let mut breaks = 0;
            while self.b.get(j) == Some(&b'\n') {
                breaks += 1;
                j += 1;
                while self.b.get(j) == Some(&b' ') {
                    j += 1;
                }
            }
            let saved = self.i;
            self.i = j;
            let c = self.at(0);
            let go_on = breaks > 0
                && !matches!(c, 0 | b'#')
                && !self.doc_marker()
                && (flow || self.col() as isize > parent)
                && !(flow && flow_ind(c))
                && !(c == b':' && (sep(self.at(1)) || flow && flow_ind(self.at(1))));
            if !go_on {
                self.i = saved;
                return out;
            }
            fold(&mut out, breaks);
        }
    }

    /// A single- or double-quoted scalar.
    fn quoted(&mut self) -> Result<String, ParseError> {
        let open = self.i;
        let q = self.at(0);
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.at(0) {
                0 => return self.err(open, format_args!("unterminated quoted string")),
                c if c == q => {
                    self.i += 1;
                    if q == b'\'' && self.at(0) == b'\'' {
                        self.i += 1;
                        out.push('\'');
                        continue;
                    }
                    return Ok(out);
                }
                b' ' => {
                    let j = self.i;
                    self.spaces();
                    if self.at(0) != b'\n' {
                        out.push_str(&self.s[j..self.i]);
                    }
                }
                b'\n' => {
                    let n = self.breaks();
                    fold(&mut out, n);
                }
                b'\\' if q == b'"' => {
                    self.i += 1;
                    if self.at(0) == b'\n' {
                        let n = self.breaks() - 1;
                        (0..n).for_each(|_| out.push('\n'));
                    } else {
                        self.escape(&mut out)?;
                    }
                }
                _ => {
                    let c = self.s[self.i..].chars().next().unwrap_or(' ');
                    out.push(c);
                    self.i += c.len_utf8();
                }
            }
        }
    }

    /// At a line break inside quotes: past it, any empty lines and the
    /// next line's indentation; the number of breaks.
    fn breaks(&mut self) -> usize {
        let mut n = 0;
        while self.at(0) == b'\n' {
            n += 1;
            self.i += 1;
            self.spaces();
        }
        n
    }

    /// After a `\` in double quotes.
    fn escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        let at = self.i - 1;
        let c = self.at(0);
        self.i += 1;
        let simple = match c {
            b'0' => '\0',
            b'a' => '\x07',
            b'b' => '\x08',
            b't' => '\t',
            b'n' => '\n',
            b'v' => '\x0b',
            b'f' => '\x0c',
            b'r' => '\r',
            b'e' => '\x1b',
            b' ' | b'"' | b'\\' | b'/' => c as char,
            b'N' => '\u{85}',
            b'_' => '\u{a0}',
            b'L' => '\u{2028}',
            b'P' => '\u{2029}',
            b'x' | b'u' | b'U' => {
                let len = match c {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let hex = self.s.get(self.i..self.i + len).unwrap_or("");
                let v = (hex.len() == len && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| u32::from_str_radix(hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32);
                let Some(v) = v else {
                    return self.err(at, format_args!("invalid escape \\{}{hex}", c as char));
                };
                self.i += len;
                v
            }
            _ => {
                let shown = self.s[at..].chars().nth(1).unwrap_or(' ');
                return self.err(at, format_args!("unknown escape \\{shown}"));
            }
        };
        out.push(simple);
        Ok(())
    }

    /// Inside a flow collection: past spaces, line breaks and comments.
    fn skip_flow_space(&mut self) {
        self.next_content();
    }

    /// A flow mapping or sequence at `i` (`{` or `[`).
    fn flow(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let open = self.i;
        let map = self.at(0) == b'{';
        let close = if map { b'}' } else { b']' };
        self.i += 1;
        let (mut entries, mut items) = (Vec::new(), Vec::new());
        loop {
            self.skip_flow_space();
            let c = self.at(0);
            if c == 0 {
                let what = if map {
                    "'{' without '}'"
                } else {
                    "'[' without ']'"
                };
                return self.err(open, format_args!("{what}"));
            }
            if c == close {
                self.i += 1;
                break;
            }
            if map {
                if matches!(c, b'{' | b'[') {
                    return self.err(
                        self.i,
                        format_args!("collections as keys are not supported"),
                    );
                }
                let k = self.i;
                let key = self.scalar(-1, true)?.0;
                self.skip_flow_space();
                let here = self.i;
                let value = if self.at(0) == b':' {
                    self.i += 1;
                    self.skip_flow_space();
                    if matches!(self.at(0), b',' | b'}') {
                        self.node(here + 1, Value::Null)
                    } else {
                        self.flow_node()?
                    }
                } else {
                    self.node(here, Value::Null)
                };
                entries.push(Entry {
                    key,
                    key_pos: self.pos(k),
                    value,
                });
            } else {
                items.push(self.flow_node()?);
                self.skip_flow_space();
                if self.at(0) == b':' {
                    return self.err(self.i, format_args!("[a: b] pairs are not supported"));
                }
            }
            self.skip_flow_space();
            match self.at(0) {
                b',' => self.i += 1,
                c if c == close => {}
                0 => {}
                c => {
                    let want = if map { "',' or '}'" } else { "',' or ']'" };
                    let hint = if c == b':' {
                        " (a comma missing before?)"
                    } else {
                        ""
                    };
                    return self.err(self.i, format_args!("expected {want}{hint}"));
                }
            }
        }
        self.depth -= 1;
        let value = if map {
            Value::Map(entries)
        } else {
            Value::Seq(items)
        };
        Ok(self.node(open, value))
    }

    fn flow_node(&mut self) -> Result<Node, ParseError> {
        if matches!(self.at(0), b'{' | b'[') {
            return self.flow();
        }
        let start = self.i;
        let (text, quoted) = self.scalar(-1, true)?;
        Ok(self.scalar_node(start, text, quoted))
    }
}

/// Line folding: one break is a space, n breaks are n-1 newlines.
fn fold(out: &mut String, breaks: usize) {
    if breaks == 1 {
        out.push(' ');
    }
    (1..breaks).for_each(|_| out.push('\n'));
}

/// A plain scalar's type, as PyYAML's YAML 1.1 resolver decides it.
fn resolve(text: String) -> Value {
    if text.is_empty() || text == "~" || word(&text, &["null"]) {
        return Value::Null;
    }
    if word(&text, &["yes", "true", "on"]) {
        return Value::Bool(true);
    }
    if word(&text, &["no", "false", "off"]) {
        return Value::Bool(false);
    }
    if let Some(v) = int(&text) {
        return Value::Int(v);
    }
    if let Some(v) = float(&text) {
        return Value::Float(v);
    }
    Value::Str(text)
}

/// Whether `text` is one of `words` (lower case) as YAML 1.1 spells
/// them: `true`, `True` or `TRUE`, not `tRUE` (a loop over the words
/// rather than a match over each spelling).
fn word(text: &str, words: &[&str]) -> bool {
    let rest = text.get(1..).unwrap_or("");
    let lower = !rest.bytes().any(|b| b.is_ascii_uppercase());
    let upper = !text.bytes().any(|b| b.is_ascii_lowercase());
    words.iter().any(|w| text.eq_ignore_ascii_case(w)) && (lower || upper)
}

/// Digits in `radix`, `_` ignored; None if any other char or none at all.
fn digits(s: &str, radix: u32) -> Option<i64> {
    let mut v: i64 = 0;
    let mut any = false;
    for c in s.chars().filter(|&c| c != '_') {
        let d = c.to_digit(radix)?;
        v = v
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
        any = true;
    }
    (any || !s.is_empty()).then_some(v)
}

fn sign(s: &str) -> (i64, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (-1, &s[1..]),
        Some(b'+') => (1, &s[1..]),
        _ => (1, s),
    }
}

/// A base-60 value's parts after the first (`:[0-5]?[0-9]` each).
fn sexagesimal(first: i64, rest: &str) -> Option<i64> {
    let mut v = first;
    for part in rest.split(':') {
        let ok = matches!(part.len(), 1 | 2)
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part.len() == 1 || part.as_bytes()[0] <= b'5');
        if !ok {
            return None;
        }
        v = v.saturating_mul(60).saturating_add(digits(part, 10)?);
    }
    Some(v)
}

fn int(text: &str) -> Option<i64> {
    let (sg, r) = sign(text);
    let v = if let Some(b) = r.strip_prefix("0b") {
        digits(b, 2).filter(|_| !b.is_empty())?
    } else if let Some(x) = r.strip_prefix("0x") {
        digits(x, 16).filter(|_| !x.is_empty())?
    } else if r == "0" {
        0
    } else if let Some(o) = r.strip_prefix('0') {
        digits(o, 8)?
    } else if r.starts_with(|c: char| c.is_ascii_digit()) {
        match r.split_once(':') {
            None => digits(r, 10)?,
            Some((head, rest)) => sexagesimal(digits(head, 10)?, rest)?,
        }
    } else {
        return None;
    };
    Some(sg * v)
}

fn float(text: &str) -> Option<f64> {
    let (sg, r) = sign(text);
    let (sg, signed) = (sg as f64, r.len() != text.len());
    match r {
        ".inf" | ".Inf" | ".INF" => return Some(sg * f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" if !signed => return Some(f64::NAN),
        _ => {}
    }
    let num = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let lead = |s: &str| s.as_bytes().first().is_some_and(u8::is_ascii_digit) && num(s);
    let (int, frac) = r.split_once('.')?;
    if let Some((head, rest)) = int.split_once(':') {
        // [0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
        if !lead(head) || !num(frac) {
            return None;
        }
        let v = sexagesimal(digits(head, 10)?, rest)? as f64;
        let f = decimal(&alloc::format!("0.{}0", frac.replace('_', "")))?;
        return Some(sg * (v + f));
    }
    let (f, exp) = match frac.find(['e', 'E']) {
        Some(e) => (&frac[..e], &frac[e + 1..]),
        None => (frac, "+0"),
    };
    let exp_ok = exp.len() > 1
        && matches!(exp.as_bytes()[0], b'+' | b'-')
        && exp[1..].bytes().all(|b| b.is_ascii_digit());
    // [0-9][0-9_]*\.[0-9_]*(e..)? or, unsigned, \.[0-9_]+(e..)?
    let ok = if int.is_empty() {
        !signed && !f.is_empty() && num(f)
    } else {
        lead(int) && num(f)
    };
    if !ok || !exp_ok {
        return None;
    }
    let int = int.replace('_', "");
    let int = match int.trim_start_matches('0') {
        "" => "0",
        i => i,
    };
    let lit = alloc::format!("{int}.{}0e{exp}", f.replace('_', ""));
    Some(sg * decimal(&lit)?)
}

/// A checked decimal literal's value, by the JSON5 reader (no second
/// float parser in the binary).
fn decimal(lit: &str) -> Option<f64> {
    match json5::parse(lit).ok()?.value {
        json5::Value::Number(v) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    /// A compact rendering: `{k: v}`, `[a]`, strings quoted, `~` null,
    /// `f1.5` floats.
    fn show(v: &Value) -> String {
        match v {
            Value::Null => "~".into(),
            Value::Bool(b) => format!("{b}"),
            Value::Int(i) => format!("{i}"),
            Value::Float(f) => format!("f{f}"),
            Value::Str(s) => format!("{s:?}"),
            Value::Seq(items) => {
                let parts: Vec<String> = items.iter().map(|n| show(&n.value)).collect();
                format!("[{}]", parts.join(", "))
            }
            Value::Map(entries) => {
                let parts: Vec<String> = entries
                    .iter()
                    .map(|e| format!("{}: {}", e.key, show(&e.value.value)))
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
        }
    }

    fn read(text: &str) -> String {
        match parse(text) {
            Ok(n) => show(&n.value),
            Err(e) => format!("error {e}"),
        }
    }

    /// YAML 1.1's words in their three spellings only.
    #[test]
    fn word_spellings() {
        let cases = [
            ("true", "true"),
            ("True", "true"),
            ("TRUE", "true"),
            ("tRUE", "\"tRUE\""),
            ("TRue", "\"TRue\""),
            ("Off", "false"),
            ("oFF", "\"oFF\""),
            ("NULL", "~"),
            ("nULL", "\"nULL\""),
            ("~", "~"),
            ("yess", "\"yess\""),
            ("é", "\"é\""),
        ];
        for (text, want) in cases {
            assert_eq!(read(text), want, "{text}");
        }
    }

    #[test]
    fn values() {
        let cases: &[(&str, &str)] = &[
            ("", "~"),
            ("# only a comment\n\n", "~"),
            ("---\n", "~"),
            ("a: 1", "{a: 1}"),
            (
                "a.service: { command: /bin/x, type: oneshot, }",
                r#"{a.service: {command: "/bin/x", type: "oneshot"}}"#,
            ),
            // The brace on column 0 and comments inside (the usual layout).
            (
                "x.service: {\n  command: \"echo hi\",   # say\n  restart: true,\n}\n# end\n",
                r#"{x.service: {command: "echo hi", restart: true}}"#,
            ),
            (
                "a: {b: {c: [1, 2,], d: []}, e: {}}",
                "{a: {b: {c: [1, 2], d: []}, e: {}}}",
            ),
            ("a: [ 'PHPRC' ]", r#"{a: ["PHPRC"]}"#),
            ("{a, b: }", "{a: ~, b: ~}"),
            ("{\"a\":1, 'b':x}", r#"{a: 1, b: "x"}"#),
            // Block style, nested, with a plain scalar holding quotes.
            (
                "s.service:\n  command: /bin/bash -c \"[ -z \\\"$P\\\" ] || x\"\n  enabled: $(CM)\n  pidfile: /run/x.pid\n",
                r#"{s.service: {command: "/bin/bash -c \"[ -z \\\"$P\\\" ] || x\"", enabled: "$(CM)", pidfile: "/run/x.pid"}}"#,
            ),
            (
                "a:\n  - x\n  - y: 1\n    z: 2\n  -\n  - - n\nb: 2",
                r#"{a: ["x", {y: 1, z: 2}, ~, ["n"]], b: 2}"#,
            ),
            ("a:\n- x\n- y\nb:", r#"{a: ["x", "y"], b: ~}"#),
            ("- a\n- b # c\n", r#"["a", "b"]"#),
            // Plain scalars over lines; `#` and `:` inside them.
            (
                "a: one\n  two\n\n  three\nb: x#y",
                r#"{a: "one two\nthree", b: "x#y"}"#,
            ),
            ("a: b:c", r#"{a: "b:c"}"#),
            (
                "{u: http://x:80/p, v: 'it''s'}",
                r#"{u: "http://x:80/p", v: "it's"}"#,
            ),
            ("{a: one\n   two, b: x}", r#"{a: "one two", b: "x"}"#),
            // Quoted scalars: escapes and folding.
            (
                r#"a: "x\ty\\1\"\x41\u00e9\U0001F600\/\ \0""#,
                "{a: \"x\\ty\\\\1\\\"Aé😀/ \\0\"}",
            ),
            (
                "a: \"one\n    two  \n\n  three\\\n   four\"",
                r#"{a: "one two\nthreefour"}"#,
            ),
            ("a: 'one\n  two'", r#"{a: "one two"}"#),
            // Tabs are expanded first, also inside quotes.
            ("a: {\n\tb: 1,\t# c\n}", "{a: {b: 1}}"),
            ("a: \"x\ty\"", r#"{a: "x   y"}"#),
            ("a:\r\n  b: 1\r\n", "{a: {b: 1}}"),
            // Duplicate keys are kept (get takes the last).
            ("a: 1\na: 2", "{a: 1, a: 2}"),
            // YAML 1.1 types.
            (
                "[yes, No, ON, off, True, FALSE, y, n, ~, null, Null, '', \"yes\"]",
                r#"[true, false, true, false, true, false, "y", "n", ~, ~, ~, "", "yes"]"#,
            ),
            (
                "[15, -3, +7, 0, 0755, 0b101, 0x1F, 1_000, 1:30, 09, 0o7, 1e3, 190:20:30]",
                r#"[15, -3, 7, 0, 493, 5, 31, 1000, 90, "09", "0o7", "1e3", 685230]"#,
            ),
            (
                "[1.5, -0.25, 1., .5, 1.0e+3, 1.0e3, 6.8523015e+5, 1:30.5, .inf, -.Inf, +.5, 1_0.0_1]",
                r#"[f1.5, f-0.25, f1, f0.5, f1000, "1.0e3", f685230.15, f90.5, finf, f-inf, "+.5", f10.01]"#,
            ),
            ("a: 2001-12-14", r#"{a: "2001-12-14"}"#),
            ("--- \na: 1\n...\n", "{a: 1}"),
            ("plain top", r#""plain top""#),
        ];
        let bad: Vec<String> = cases
            .iter()
            .filter(|(t, w)| read(t) != *w)
            .map(|(t, w)| format!("{t:?}: got {} want {w}", read(t)))
            .collect();
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        assert!(
            matches!(parse("[.nan]").unwrap().value, Value::Seq(v) if matches!(v[0].value, Value::Float(f) if f.is_nan()))
        );
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            (
                "a: &x 1",
                "1:4: '&' starts an anchor, which is not supported: quote the value",
            ),
            (
                "selector: *.info",
                "1:11: '*' starts an alias, which is not supported: quote the value",
            ),
            (
                "a: !!str 1",
                "1:4: '!' starts a tag, which is not supported: quote the value",
            ),
            (
                "a: |\n  x",
                "1:4: block scalars (| and >) are not supported: quote the value",
            ),
            (
                "a: >\n  x",
                "1:4: block scalars (| and >) are not supported: quote the value",
            ),
            ("? a\n: b", "1:1: '?' keys are not supported"),
            (
                "a: 1\n---\nb: 2",
                "2:1: multiple documents are not supported",
            ),
            (
                "%YAML 1.1\n---\na: 1",
                "1:1: directives (%) are not supported",
            ),
            ("a: b: c", "1:5: mapping values are not allowed here"),
            ("a: 1\n  b: 2", "2:4: mapping values are not allowed here"),
            ("a: [x]\n  b: 1", "2:3: bad indentation of a mapping entry"),
            (
                "a:\n  - x\n   - y: 1",
                "2:5: a mapping key must be on one line",
            ),
            ("- [x]\n - y", "2:2: bad indentation of a sequence item"),
            ("a: 1\n- b", "2:1: expected a mapping key, found '-'"),
            ("a: 1\nb", "2:1: could not find the ':' after this key"),
            ("a: {b: 1", "1:4: '{' without '}'"),
            ("a: [1, 2\n", "1:4: '[' without ']'"),
            (
                "a: {b: 1 c: 2}",
                "1:11: expected ',' or '}' (a comma missing before?)",
            ),
            ("a: [1, 2}", "1:9: expected ',' or ']'"),
            ("{a: 1]", "1:6: expected ',' or '}'"),
            ("[a: 1]", "1:3: [a: b] pairs are not supported"),
            ("{[a]: 1}", "1:2: collections as keys are not supported"),
            ("[1]: 2", "1:1: collections as keys are not supported"),
            ("a: \"x", "1:4: unterminated quoted string"),
            ("a: 'x\n\n", "1:4: unterminated quoted string"),
            (r#"a: "\q""#, "1:5: unknown escape \\q"),
            (r#"a: "\x4""#, "1:5: invalid escape \\x4\""),
            (r#"a: "\ud800""#, "1:5: invalid escape \\ud800"),
            (
                "a: `date`",
                "1:4: unexpected '`' (a value starting with it must be quoted)",
            ),
            (
                "a: @x",
                "1:4: unexpected '@' (a value starting with it must be quoted)",
            ),
            ("a: x\u{1}", "1:5: character U+0001 is not allowed"),
            ("a: - b", "1:4: a sequence item cannot start here"),
            (
                "{a: 1,, }",
                "1:7: unexpected ',' (a value starting with it must be quoted)",
            ),
            (": x", "1:1: a mapping key is missing"),
            ("a\n  b: 1", "1:1: a mapping key must be on one line"),
            (
                "  a: 1\nb: 2",
                "2:1: unexpected text after the top-level value (indentation?)",
            ),
            ("\"x\" y", "1:5: expected the end of the line"),
        ];
        let bad: Vec<String> = cases
            .iter()
            .filter(|(t, w)| read(t) != format!("error {w}"))
            .map(|(t, w)| format!("{t:?}: got {} want {w}", read(t)))
            .collect();
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        let deep = "[".repeat(100);
        assert_eq!(read(&deep), "error 1:64: nested too deeply");
        let deep = "- ".repeat(100);
        assert!(read(&deep).contains("nested too deeply"));
    }

    #[test]
    fn positions() {
        let text =
            "# c\na.service: {\n  command: \"x\",  after: [b,\n c]\n}\nl:\n  - é: 1\n    f: ~\n";
        let root = parse(text).unwrap();
        let mut seen = Vec::new();
        fn walk(n: &Node, out: &mut Vec<String>) {
            out.push(format!("{}", n.pos));
            match &n.value {
                Value::Seq(items) => items.iter().for_each(|i| walk(i, out)),
                Value::Map(m) => {
                    for e in m {
                        out.push(format!("{}@{}", e.key, e.key_pos));
                        walk(&e.value, out);
                    }
                }
                _ => {}
            }
        }
        walk(&root, &mut seen);
        assert_eq!(
            seen.join(" "),
            "2:1 a.service@2:1 2:12 command@3:3 3:12 after@3:18 3:25 3:26 4:2 \
             l@6:1 7:3 7:5 é@7:5 7:8 f@8:5 8:8"
        );
        // Tabs count as the columns they expand to.
        let root = parse("a: {\tb: x}").unwrap();
        assert_eq!(
            root.get("a").unwrap().get("b").unwrap().pos,
            Pos { line: 1, col: 12 }
        );
        assert_eq!(
            parse("a: 1\na: 2").unwrap().get("a").unwrap().value,
            Value::Int(2)
        );
    }

    #[test]
    fn tabs() {
        assert_eq!(
            expand_tabs("a\tb\n\tc\r\nab\r"),
            "a       b\n        c\nab\n"
        );
        assert_eq!(expand_tabs("é\t|"), "é       |");
    }
}
