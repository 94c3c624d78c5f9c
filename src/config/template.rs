//! ContainerPilot renders its configuration file as a Go text/template,
//! with the environment as data, before reading it as JSON5. This is the
//! subset of text/template that configurations use, with ContainerPilot's
//! functions (`default env split join replaceAll regexReplaceAll loop`,
//! with the semantics of its source), Go's builtins (`and or not len index
//! print printf println eq ne lt le gt ge`) and its `missingkey=zero`
//! option: `.NAME` of an unset variable is "". The whole template is
//! parsed before anything runs, so syntax errors are reported even in
//! branches that would not execute. Errors carry the 1-based line and
//! column (in characters) of the offending token or call.
//!
//! Deviations from Go: no `define`/`template`/`block`, no `html`, `js`,
//! `urlquery`, `slice`, `call`; `.` (the environment map) can be indexed
//! and its fields read, but not printed, ranged over or measured; floats
//! are kept as the decimals they were written as (see [`Dec`]); hex
//! floats, complex numbers and string escapes making invalid UTF-8 are
//! rejected; non-ASCII characters count as letters in names; `%q` treats
//! every non-ASCII character but the C1 controls as printable. Untrusted
//! input is bounded: nesting depth, output size, string and list sizes,
//! and the total work (a template looping for too long fails).
//!
//! Size: the `#[inline(never)]` marks without a comment of their own are
//! where a function kept out of line measured smaller in the release
//! build (which otherwise inlines functions called once, or small ones
//! called a few times, growing their callers more than they save).

use super::regex::Regex;
use crate::num::dec;
use crate::quote::{q, qc};
use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// Control structures and parentheses nested deeper than this are refused.
const MAX_DEPTH: u32 = 100;
/// The largest output, and the largest string a function may build.
const MAX_OUTPUT: usize = 16 << 20;
/// The longest list `loop` or `split` may build.
const MAX_LIST: usize = 1_000_000;
/// Units of work (nodes run, bytes scanned and built, regex steps).
const FUEL: u64 = 50_000_000;
/// The most variables in scope at once.
const MAX_VARS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub line: u32,
    pub col: u32,
    pub msg: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.msg)
    }
}

/// An error at a byte offset of the template.
type R<T> = Result<T, (usize, String)>;

fn fail<T>(pos: usize, msg: impl Into<String>) -> R<T> {
    Err((pos, msg.into()))
}

/// Renders `text`. `lookup(name)` returns an environment variable's value
/// (None when unset). `.NAME` with NAME unset renders as the empty string
/// (ContainerPilot's behaviour: missing key -> "").
pub fn render(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let run = || {
        let (toks, lits) = lex(text)?;
        let mut p = Parser {
            toks,
            lits,
            i: 0,
            vars: vec!["$"],
            ranges: 0,
            depth: 0,
        };
        let nodes = p.parse()?;
        let mut ex = Exec {
            lookup,
            out: String::new(),
            vars: vec![("$", Value::Map)],
            fuel: FUEL,
        };
        ex.walk(&nodes, &Value::Map)?;
        Ok(ex.out)
    };
    run().map_err(|(pos, msg)| {
        let (line, col) = line_col(text, pos);
        TemplateError { line, col, msg }
    })
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, mut pos: usize) -> (u32, u32) {
    pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() as u32 + 1,
        before[line_start..].chars().count() as u32 + 1,
    )
}

// ---------------------------------------------------------------- values

#[derive(Clone, Debug)]
enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(Dec),
    Str(Rc<str>),
    Strs(Rc<[Rc<str>]>),
    Ints(Rc<[i64]>),
    /// The data: the environment.
    Map,
}
use Value::*;

fn string(s: impl Into<Rc<str>>) -> Value {
    Str(s.into())
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Nil => "<nil>",
            Bool(_) => "bool",
            Int(_) => "int",
            Float(_) => "float64",
            Str(_) => "string",
            Strs(_) => "[]string",
            Ints(_) => "[]int",
            Map => "map[string]string",
        }
    }

    fn truth(&self) -> bool {
        match self {
            Nil => false,
            Bool(b) => *b,
            Int(n) => *n != 0,
            Float(f) => f.m != 0,
            Str(s) => !s.is_empty(),
            Strs(l) => !l.is_empty(),
            Ints(l) => !l.is_empty(),
            Map => true,
        }
    }

    /// The kind for comparisons; None for lists and the map.
    fn basic(&self) -> Option<u8> {
        match self {
            Bool(_) => Some(0),
            Int(_) => Some(1),
            Float(_) => Some(2),
            Str(_) => Some(3),
            _ => None,
        }
    }
}

// ----------------------------------------------------------------- lexer

/// A token; `Copy` (a literal's value is kept aside, by its index), so
/// that the parser reads and re-reads tokens without drop glue.
#[derive(Clone, Copy, Debug)]
enum Tok<'a> {
    Text(&'a str),
    Open,
    Close,
    Space,
    Pipe,
    Assign,
    Declare,
    Char(char),
    LParen,
    RParen,
    /// A literal, by its index in the lexer's values.
    Lit(u32),
    Nil,
    Dot,
    Field(&'a str),
    Var(&'a str),
    Ident(&'a str),
    /// A keyword, by its index in [`KEYWORDS`].
    Keyword(u8),
    Eof,
}

/// `unexpected TOKEN in WHAT` at `pos`: one copy for the parser's sites.
/// A token is told as a fixed word, or a word and its text (`field .X`),
/// formatted with the rest of the message rather than on its own first.
#[inline(never)]
fn unexpected(t: &Tok, pos: usize, what: &str) -> (usize, String) {
    let (word, text, end) = match *t {
        Tok::Char(c) => return (pos, format!("unexpected {} in {what}", qc(c))),
        Tok::Field(f) => ("field .", f, ""),
        Tok::Var(v) => ("variable ", v, ""),
        Tok::Ident(i) => ("identifier ", i, ""),
        Tok::Keyword(k) => ("<", KEYWORDS[k as usize], ">"),
        Tok::Text(_) => ("text", "", ""),
        Tok::Open => ("\"{{\"", "", ""),
        Tok::Close => ("\"}}\"", "", ""),
        Tok::Space => ("space", "", ""),
        Tok::Pipe => ("\"|\"", "", ""),
        Tok::Assign => ("\"=\"", "", ""),
        Tok::Declare => ("\":=\"", "", ""),
        Tok::LParen => ("\"(\"", "", ""),
        Tok::RParen => ("\")\"", "", ""),
        Tok::Lit(_) => ("literal", "", ""),
        Tok::Nil => ("nil", "", ""),
        Tok::Dot => ("\".\"", "", ""),
        Tok::Eof => ("EOF", "", ""),
    };
    (pos, format!("unexpected {word}{text}{end} in {what}"))
}

#[inline(never)]
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric() || !c.is_ascii()
}

/// A closing delimiter at the start of `s`: its length, and whether it
/// trims the following space (" -}}").
fn close_at(s: &str) -> Option<(usize, bool)> {
    if s.starts_with("}}") {
        Some((2, false))
    } else if s.starts_with(is_space) && s[1..].starts_with("-}}") {
        Some((4, true))
    } else {
        None
    }
}

/// Whether a name or number may end at the start of `s` (a lone "}" too,
/// so that `{{ .X}` is reported as the unclosed action it is).
fn at_terminator(s: &str) -> bool {
    s.is_empty() || s.starts_with(|c| is_space(c) || ".,|:()}".contains(c))
}

/// The tokens with their offsets, and the literals' values.
type Lexed<'a> = (Vec<(Tok<'a>, usize)>, Vec<Value>);

#[inline(never)]
fn lex(s: &str) -> R<Lexed<'_>> {
    let mut toks = Vec::new();
    let mut lits = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &s[pos..];
        let Some(x) = rest.find("{{") else {
            if !rest.is_empty() {
                toks.push((Tok::Text(rest), pos));
            }
            toks.push((Tok::Eof, s.len()));
            return Ok((toks, lits));
        };
        let open = pos + x;
        let trim = rest[x + 2..].starts_with('-') && rest[x + 3..].starts_with(is_space);
        let text = &rest[..x];
        let text = if trim {
            text.trim_end_matches(is_space)
        } else {
            text
        };
        if !text.is_empty() {
            toks.push((Tok::Text(text), pos));
        }
        pos = open + if trim { 4 } else { 2 };
        let trim_after;
        if s[pos..].starts_with("/*") {
            let Some(end) = s[pos + 2..].find("*/") else {
                return fail(open, "unclosed comment");
            };
            pos += end + 4;
            let Some((n, t)) = close_at(&s[pos..]) else {
                return fail(open, "comment ends before closing delimiter");
            };
            pos += n;
            trim_after = t;
        } else {
            toks.push((Tok::Open, open));
            let mut parens = 0u32;
            loop {
                let rest = &s[pos..];
                if let Some((n, t)) = close_at(rest) {
                    if parens > 0 {
                        return fail(pos, "unclosed left paren");
                    }
                    toks.push((Tok::Close, pos));
                    pos += n;
                    trim_after = t;
                    break;
                }
                let Some(c) = rest.chars().next() else {
                    return fail(open, "unclosed action: this \"{{\" has no \"}}\"");
                };
                // `{{ .X }`: a typo, which would otherwise surface later as
                // some confusing error (the next quote opening a string).
                if c == '}' {
                    let (line, col) = line_col(s, open);
                    return fail(
                        pos,
                        format!(
                            "unclosed action: the \"{{{{\" at {line}:{col} ends with a single \"}}\" (expected \"}}}}\")"
                        ),
                    );
                }
                let (tok, len) =
                    lex_token(rest, c, &mut parens, &mut lits).map_err(|m| (pos, m))?;
                toks.push((tok, pos));
                pos += len;
            }
        }
        if trim_after {
            pos = s.len() - s[pos..].trim_start_matches(is_space).len();
        }
    }
}

/// One token inside an action, and its length; a literal's value goes to
/// `lits`.
#[inline(never)]
fn lex_token<'a>(
    rest: &'a str,
    c: char,
    parens: &mut u32,
    lits: &mut Vec<Value>,
) -> Result<(Tok<'a>, usize), String> {
    let mut lit = |v: Value| {
        lits.push(v);
        Tok::Lit(lits.len() as u32 - 1)
    };
    let word = |from: usize| {
        from + rest[from..]
            .find(|c| !is_alnum(c))
            .unwrap_or(rest.len() - from)
    };
    let bad = |at: usize| match rest[at..].chars().next() {
        Some(c) => format!("bad character {}", qc(c)),
        None => "unclosed action".into(),
    };
    Ok(match c {
        c if is_space(c) => {
            // A run of spaces; the one before "-}}" belongs to the delimiter.
            let mut n = 0;
            while rest[n..].starts_with(is_space) && close_at(&rest[n..]).is_none() {
                n += 1;
            }
            (Tok::Space, n)
        }
        '=' => (Tok::Assign, 1),
        ':' if rest[1..].starts_with('=') => (Tok::Declare, 2),
        ':' => return Err("expected :=".into()),
        '|' => (Tok::Pipe, 1),
        '(' => {
            *parens += 1;
            (Tok::LParen, 1)
        }
        ')' if *parens == 0 => return Err("unexpected right paren".into()),
        ')' => {
            *parens -= 1;
            (Tok::RParen, 1)
        }
        '"' | '\'' => {
            let mut it = rest.char_indices().skip(1);
            let end = loop {
                match it.next() {
                    Some((_, '\\')) if !matches!(it.next(), None | Some((_, '\n'))) => {}
                    Some((i, q)) if q == c => break i,
                    None | Some((_, '\n' | '\\')) => {
                        return Err(if c == '"' {
                            "unterminated quoted string".into()
                        } else {
                            "unterminated character constant".into()
                        });
                    }
                    _ => {}
                }
            };
            let body = &rest[1..end];
            let bytes =
                unquote(body, c).ok_or_else(|| format!("invalid syntax: {}", &rest[..=end]))?;
            let value = if c == '"' {
                string(String::from_utf8(bytes).map_err(|_| "invalid UTF-8 in string")?)
            } else {
                Int(bytes
                    .first()
                    .map(|&b| b as i64)
                    .filter(|_| bytes.len() == 1)
                    .or_else(|| {
                        let s = core::str::from_utf8(&bytes).ok()?;
                        let mut cs = s.chars();
                        let c = cs.next()?;
                        cs.next().is_none().then_some(c as i64)
                    })
                    .ok_or_else(|| format!("malformed character constant: {}", &rest[..=end]))?)
            };
            (lit(value), end + 1)
        }
        '`' => {
            let end = rest[1..]
                .find('`')
                .ok_or("unterminated raw quoted string")?;
            (lit(string(rest[1..=end].replace('\r', ""))), end + 2)
        }
        '$' | '.' if !(c == '.' && rest[1..].starts_with(|c: char| c.is_ascii_digit())) => {
            let end = word(1);
            if !at_terminator(&rest[end..]) {
                return Err(bad(end));
            }
            let tok = match (c, end) {
                ('.', 1) => Tok::Dot,
                ('.', _) => Tok::Field(&rest[1..end]),
                _ => Tok::Var(&rest[..end]),
            };
            (tok, end)
        }
        '.' | '+' | '-' | '0'..='9' => {
            let b = rest.as_bytes();
            let mut i = 0;
            let accept = |i: &mut usize, set: &str| {
                let ok = *i < b.len() && set.as_bytes().contains(&b[*i]);
                *i += ok as usize;
                ok
            };
            let run = |i: &mut usize, set: &str| while accept(i, set) {};
            accept(&mut i, "+-");
            let mut digits = "0123456789_";
            if accept(&mut i, "0") {
                if accept(&mut i, "xX") {
                    digits = "0123456789abcdefABCDEF_";
                } else if accept(&mut i, "oO") {
                    digits = "01234567_";
                } else if accept(&mut i, "bB") {
                    digits = "01_";
                }
            }
            run(&mut i, digits);
            if accept(&mut i, ".") {
                run(&mut i, digits);
            }
            if digits.len() == 11 && accept(&mut i, "eE") {
                accept(&mut i, "+-");
                run(&mut i, "0123456789_");
            }
            if digits.len() == 23 && accept(&mut i, "pP") {
                accept(&mut i, "+-");
                run(&mut i, "0123456789_");
            }
            accept(&mut i, "i");
            let text = &rest[..i];
            if rest[i..].starts_with(is_alnum) {
                return Err(format!("bad number syntax: {}", q(&rest[..word(i)])));
            }
            let v = number(text)
                .ok_or_else(|| format!("illegal number syntax: {text}", text = q(&text)))?;
            (lit(v), i)
        }
        c if is_alnum(c) => {
            let end = word(0);
            if !at_terminator(&rest[end..]) {
                return Err(bad(end));
            }
            let w = &rest[..end];
            let tok = match KEYWORDS.iter().position(|k| *k == w) {
                Some(k) => Tok::Keyword(k as u8),
                None if w == "true" || w == "false" => lit(Bool(w == "true")),
                None if w == "nil" => Tok::Nil,
                None => Tok::Ident(w),
            };
            (tok, end)
        }
        c if c.is_ascii_graphic() => (Tok::Char(c), 1),
        c => {
            return Err(format!(
                "unrecognized character in action: U+{:04X}",
                c as u32
            ));
        }
    })
}

/// A number literal as Go's text/template sees it: an int when it reads as
/// one, else a float ("1.5", "1e3").
#[inline(never)]
fn number(text: &str) -> Option<Value> {
    // Without the underscores, in lower case (the lexer took only ASCII).
    let mut t = String::with_capacity(text.len());
    for c in text.chars() {
        if c != '_' {
            t.push(c.to_ascii_lowercase());
        }
    }
    let (neg, lower) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, &t[..]),
    };
    let (radix, digits) = match lower.get(..2) {
        Some("0x") => (16, &lower[2..]),
        Some("0o") => (8, &lower[2..]),
        Some("0b") => (2, &lower[2..]),
        _ if lower.len() > 1
            && lower.starts_with('0')
            && lower.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (8, &lower[1..])
        }
        _ => (10, lower),
    };
    if digits.bytes().all(|b| b.is_ascii_alphanumeric())
        && let Ok(u) = u64::from_str_radix(digits, radix)
    {
        return Some(Int(if neg {
            0i64.checked_sub_unsigned(u)?
        } else {
            i64::try_from(u).ok()?
        }));
    }
    if radix != 10 || !lower.contains(['.', 'e']) {
        return None;
    }
    Some(Float(Dec::parse(lower, neg)?))
}

/// A float literal kept as the decimal it was written as: m × 10^exp, m
/// without trailing zeros. Templates do no arithmetic, and Go prints a
/// float in its shortest form, which for literals of up to 15 significant
/// digits is this decimal; parsing and printing binary floats would cost
/// about 25 KB of code and tables. Rounding (`%.2f`) is on this decimal,
/// so it differs from Go's at ties the binary value does not hold exactly
/// (Go prints 2.675 with `%.2f` as 2.67, the nearest double being below).
#[derive(Clone, Copy, Debug)]
struct Dec {
    neg: bool,
    m: u64,
    exp: i32,
}

impl Dec {
    /// Parses "1.5", ".5", "1e-3", "2." (sign and underscores removed).
    /// Digits past the 18th are dropped; values beyond f64's range are
    /// refused and tiny ones become 0, as Go's ParseFloat does.
    fn parse(t: &str, neg: bool) -> Option<Dec> {
        let (mant, e) = t.split_once('e').unwrap_or((t, "0"));
        let e = e.strip_prefix('+').unwrap_or(e);
        let (eneg, e) = e.strip_prefix('-').map_or((false, e), |e| (true, e));
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let e = e
            .bytes()
            .fold(0i32, |n, b| (n * 10 + (b - b'0') as i32).min(100_000));
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        let digits = int.bytes().chain(frac.bytes());
        if int.len() + frac.len() == 0 || !digits.clone().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut d = Dec {
            neg,
            m: 0,
            exp: if eneg { -e } else { e } - frac.len() as i32,
        };
        for b in digits {
            if d.m < 100_000_000_000_000_000 {
                d.m = d.m * 10 + (b - b'0') as u64;
            } else {
                d.exp += 1;
            }
        }
        while d.m != 0 && d.m.is_multiple_of(10) {
            d.m /= 10;
            d.exp += 1;
        }
        let (digits, point) = d.digits();
        if d.m == 0 || point < -323 {
            d.m = 0;
        } else if point > 309 || (point == 309 && digits.as_slice() > &b"17976931348623157"[..]) {
            return None;
        }
        Some(d)
    }

    /// The significant digits (ASCII; "0" for zero), and the position of
    /// the decimal point relative to the first.
    fn digits(&self) -> (Vec<u8>, i32) {
        let d = self.m.to_string().into_bytes();
        let point = if self.m == 0 {
            1
        } else {
            d.len() as i32 + self.exp
        };
        (d, point)
    }

    fn cmp(&self, o: &Dec) -> core::cmp::Ordering {
        let key = |d: &Dec| {
            let (digits, point) = d.digits();
            let sign = if d.m == 0 {
                1
            } else if d.neg {
                0
            } else {
                2
            };
            (sign, point, digits)
        };
        let (a, b) = (key(self), key(o));
        let ord = (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| {
            // Same sign and magnitude: compare the digits, padded alike.
            let n = a.2.len().max(b.2.len());
            for i in 0..n {
                let x = a.2.get(i).copied().unwrap_or(b'0');
                let y = b.2.get(i).copied().unwrap_or(b'0');
                if x != y {
                    return x.cmp(&y);
                }
            }
            core::cmp::Ordering::Equal
        });
        if self.neg && o.neg {
            ord.reverse()
        } else {
            ord
        }
    }
}

/// Go's unquoting of the body of a "string" or 'c' literal, as bytes.
#[inline(never)]
fn unquote(body: &str, quote: char) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut it = body.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            let mut b = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        let hex = |it: &mut core::str::Chars, n: usize, radix: u32| {
            let mut v = 0u32;
            for _ in 0..n {
                v = v.checked_mul(radix)? + it.next()?.to_digit(radix)?;
            }
            Some(v)
        };
        if it.clone().next()?.is_digit(8) {
            out.push(u8::try_from(hex(&mut it, 3, 8)?).ok()?);
            continue;
        }
        let c = it.next()?;
        let ch = match c {
            'a' => '\x07',
            'b' => '\x08',
            'f' => '\x0c',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\x0b',
            '\\' => '\\',
            c if c == quote => c,
            'x' => {
                out.push(hex(&mut it, 2, 16)? as u8);
                continue;
            }
            'u' => char::from_u32(hex(&mut it, 4, 16)?)?,
            'U' => char::from_u32(hex(&mut it, 8, 16)?)?,
            _ => return None,
        };
        let mut b = [0; 4];
        out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
    }
    Some(out)
}

// ---------------------------------------------------------------- parser

#[derive(Clone, Copy, Debug, PartialEq)]
enum Func {
    And,
    Or,
    Not,
    Len,
    Index,
    Print,
    Printf,
    Println,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Default,
    Env,
    Split,
    Join,
    ReplaceAll,
    RegexReplaceAll,
    Loop,
}

/// Parameter kinds, as Go's reflection-driven calls check them.
#[derive(Clone, Copy, PartialEq)]
enum P {
    /// `interface{}`: anything, nil included.
    Any,
    /// `reflect.Value` (the builtins): anything but a nil literal.
    Val,
    Str,
    /// `[]string`.
    List,
}

/// Name, function, parameters, and whether the last one repeats.
const FUNCS: [(&str, Func, &[P], bool); 21] = {
    use P::*;
    [
        ("and", Func::And, &[Val, Val], true),
        ("or", Func::Or, &[Val, Val], true),
        ("not", Func::Not, &[Val], false),
        ("len", Func::Len, &[Val], false),
        ("index", Func::Index, &[Val, Val], true),
        ("print", Func::Print, &[Any], true),
        ("printf", Func::Printf, &[Str, Any], true),
        ("println", Func::Println, &[Any], true),
        ("eq", Func::Eq, &[Val, Val], true),
        ("ne", Func::Ne, &[Val, Val], false),
        ("lt", Func::Lt, &[Val, Val], false),
        ("le", Func::Le, &[Val, Val], false),
        ("gt", Func::Gt, &[Val, Val], false),
        ("ge", Func::Ge, &[Val, Val], false),
        ("default", Func::Default, &[Any, Any], false),
        ("env", Func::Env, &[Str], false),
        ("split", Func::Split, &[Str, Str], false),
        ("join", Func::Join, &[Str, List], false),
        ("replaceAll", Func::ReplaceAll, &[Str, Str, Str], false),
        (
            "regexReplaceAll",
            Func::RegexReplaceAll,
            &[Str, Str, Str],
            false,
        ),
        ("loop", Func::Loop, &[Any], true),
    ]
};

/// The keywords: the three controls first, in [`Ctl`]'s order.
const KEYWORDS: [&str; 10] = [
    "if", "range", "with", "end", "else", "break", "continue", "define", "template", "block",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ctl {
    If,
    Range,
    With,
}

/// The controls by their keyword's index.
const CTLS: [Ctl; 3] = [Ctl::If, Ctl::Range, Ctl::With];

#[derive(Debug)]
enum Node<'a> {
    Text(&'a str, usize),
    Action(Pipe<'a>),
    /// The control, its pipeline, the body and the else branch.
    Ctl(Ctl, Pipe<'a>, Vec<Node<'a>>, Vec<Node<'a>>),
    Break,
    Continue,
}

#[derive(Debug)]
struct Pipe<'a> {
    pos: usize,
    decl: Vec<&'a str>,
    /// `=` rather than `:=`.
    assign: bool,
    cmds: Vec<Vec<Arg<'a>>>,
}

/// An operand: a term and the fields chained to it (`.A.B` is the dot
/// with fields A and B, `$x.A` a variable with field A).
#[derive(Debug)]
struct Arg<'a> {
    pos: usize,
    term: Term<'a>,
    fields: Vec<&'a str>,
}

#[derive(Debug)]
enum Term<'a> {
    Dot,
    Nil,
    Lit(Value),
    Var(&'a str),
    Func(Func),
    Pipe(Box<Pipe<'a>>),
}

/// What ended a list of nodes.
enum Stop {
    Eof,
    End,
    /// `{{else}}`, or `{{else if ...}}` / `{{else with ...}}`.
    Else(Option<Ctl>),
}

struct Parser<'a> {
    toks: Vec<(Tok<'a>, usize)>,
    /// The literals' values, by `Tok::Lit`'s index.
    lits: Vec<Value>,
    i: usize,
    /// Variables in scope.
    vars: Vec<&'a str>,
    /// Enclosing `range`s, for break and continue.
    ranges: u32,
    depth: u32,
}

impl<'a> Parser<'a> {
    /// The token at the cursor; past the end, the final EOF.
    fn at(&self) -> &(Tok<'a>, usize) {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn peek(&self) -> &Tok<'a> {
        &self.at().0
    }

    fn next(&mut self) -> (Tok<'a>, usize) {
        let t = *self.at();
        self.i += 1;
        t
    }

    fn skip_space(&mut self) -> usize {
        while matches!(self.peek(), Tok::Space) {
            self.i += 1;
        }
        self.at().1
    }

    fn next_ns(&mut self) -> (Tok<'a>, usize) {
        self.skip_space();
        self.next()
    }

    fn peek_ns(&mut self) -> &Tok<'a> {
        self.skip_space();
        self.peek()
    }

    fn parse(&mut self) -> R<Vec<Node<'a>>> {
        let (nodes, stop, pos) = self.list()?;
        match stop {
            Stop::Eof => Ok(nodes),
            Stop::End => fail(pos, "unexpected {{end}}"),
            Stop::Else(_) => fail(pos, "unexpected {{else}}"),
        }
    }

    /// Nodes up to EOF, `{{end}}` or `{{else}}` (at the returned offset).
    fn list(&mut self) -> R<(Vec<Node<'a>>, Stop, usize)> {
        let mut nodes = Vec::new();
        loop {
            let (tok, pos) = self.next();
            match tok {
                Tok::Text(s) => nodes.push(Node::Text(s, pos)),
                Tok::Open => match self.action(pos)? {
                    Ok(n) => nodes.push(n),
                    Err(stop) => return Ok((nodes, stop, pos)),
                },
                _ => return Ok((nodes, Stop::Eof, pos)),
            }
        }
    }

    fn close(&mut self, what: &str) -> R<()> {
        match self.next_ns() {
            (Tok::Close, _) => Ok(()),
            (t, pos) => Err(unexpected(&t, pos, what)),
        }
    }

    #[inline(never)]
    fn action(&mut self, open: usize) -> R<Result<Node<'a>, Stop>> {
        let (tok, pos) = self.next_ns();
        let Tok::Keyword(i) = tok else {
            self.i -= 1;
            return Ok(Ok(Node::Action(self.pipeline("command", false)?)));
        };
        let k = KEYWORDS[i as usize];
        Ok(match i {
            0..=2 => Ok(self.control(CTLS[i as usize], open)?),
            3 => {
                self.close(k)?;
                Err(Stop::End)
            }
            4 => match *self.peek_ns() {
                Tok::Keyword(c @ (0 | 2)) => Err(Stop::Else(Some(CTLS[c as usize]))),
                _ => {
                    self.close(k)?;
                    Err(Stop::Else(None))
                }
            },
            5 | 6 => {
                self.close(k)?;
                if self.ranges == 0 {
                    return fail(pos, format!("{{{{{k}}}}} outside {{{{range}}}}"));
                }
                Ok(if i == 5 { Node::Break } else { Node::Continue })
            }
            _ => return fail(pos, format!("{{{{{k}}}}} is not supported")),
        })
    }

    fn enter(&mut self, pos: usize) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return fail(pos, "template nesting too deep");
        }
        Ok(())
    }

    fn control(&mut self, ctl: Ctl, open: usize) -> R<Node<'a>> {
        self.enter(open)?;
        let vars = self.vars.len();
        let name = KEYWORDS[ctl as usize];
        let pipe = self.pipeline(name, false)?;
        self.ranges += (ctl == Ctl::Range) as u32;
        let (body, stop, pos) = self.list()?;
        self.ranges -= (ctl == Ctl::Range) as u32;
        let els = match stop {
            Stop::End => Vec::new(),
            Stop::Eof => return fail(pos, "unexpected EOF"),
            // "{{else if x}}" is "{{else}}{{if x}}...{{end}}" sharing one end.
            Stop::Else(Some(c)) if c == ctl && c != Ctl::Range => {
                let (_, at) = self.next_ns();
                vec![self.control(c, at)?]
            }
            Stop::Else(Some(_)) => {
                let (t, at) = self.next_ns();
                return Err(unexpected(&t, at, "else"));
            }
            Stop::Else(None) => match self.list()? {
                (els, Stop::End, _) => els,
                (_, Stop::Eof, at) => return fail(at, "unexpected EOF"),
                (_, Stop::Else(_), at) => return fail(at, "expected end; found {{else}}"),
            },
        };
        self.vars.truncate(vars);
        self.depth -= 1;
        Ok(Node::Ctl(ctl, pipe, body, els))
    }

    fn declare(&mut self, v: &'a str, decl: &mut Vec<&'a str>) -> R<()> {
        if self.vars.len() >= MAX_VARS {
            return fail(self.at().1, "too many variables");
        }
        decl.push(v);
        self.vars.push(v);
        Ok(())
    }

    /// A pipeline, up to `}}` (or `)` when `paren`).
    fn pipeline(&mut self, ctx: &str, paren: bool) -> R<Pipe<'a>> {
        let pos = self.skip_space();
        let (mut decl, mut assign) = (Vec::new(), false);
        while let &Tok::Var(v) = self.peek_ns() {
            let save = self.i;
            self.i += 1;
            match self.peek_ns() {
                Tok::Declare | Tok::Assign => {
                    assign = matches!(self.peek(), Tok::Assign);
                    self.i += 1;
                    self.declare(v, &mut decl)?;
                    break;
                }
                Tok::Char(',') => {
                    self.i += 1;
                    self.declare(v, &mut decl)?;
                    if ctx == "range" && decl.len() < 2 {
                        if matches!(self.peek_ns(), Tok::Var(_) | Tok::Close | Tok::RParen) {
                            continue;
                        }
                        return fail(pos, "range can only initialize variables");
                    }
                    return fail(pos, format!("too many declarations in {ctx}"));
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            match self.peek_ns() {
                Tok::Close if !paren => break,
                Tok::RParen if paren => break,
                Tok::Lit(_)
                | Tok::Nil
                | Tok::Dot
                | Tok::Field(_)
                | Tok::Var(_)
                | Tok::Ident(_)
                | Tok::LParen => cmds.push(self.command()?),
                _ => {
                    let (t, at) = self.next();
                    return Err(unexpected(&t, at, ctx));
                }
            }
        }
        self.i += 1;
        if cmds.is_empty() {
            return fail(pos, format!("missing value for {ctx}"));
        }
        for (k, cmd) in cmds.iter().enumerate().skip(1) {
            let a: &Arg = &cmd[0];
            if matches!(a.term, Term::Lit(_) | Term::Nil | Term::Dot) && a.fields.is_empty() {
                return fail(
                    a.pos,
                    format!("non executable command in pipeline stage {}", k + 1),
                );
            }
        }
        Ok(Pipe {
            pos,
            decl,
            assign,
            cmds,
        })
    }

    #[inline(never)]
    fn command(&mut self) -> R<Vec<Arg<'a>>> {
        let mut args = Vec::new();
        loop {
            self.skip_space();
            if let Some(a) = self.operand()? {
                args.push(a);
            }
            match self.next() {
                (Tok::Space, _) => continue,
                (Tok::Close | Tok::RParen, _) => self.i -= 1,
                (Tok::Pipe, _) => {}
                (t, at) => return Err(unexpected(&t, at, "operand")),
            }
            return if args.is_empty() {
                fail(self.at().1, "empty command")
            } else {
                Ok(args)
            };
        }
    }

    #[inline(never)]
    fn operand(&mut self) -> R<Option<Arg<'a>>> {
        let (tok, pos) = self.next();
        let bare = matches!(tok, Tok::Lit(_) | Tok::Nil | Tok::Dot);
        let mut fields = Vec::new();
        let term = match tok {
            Tok::Ident(name) => match FUNCS.iter().find(|f| f.0 == name) {
                Some(f) => Term::Func(f.1),
                None => return fail(pos, format!("function {name} not defined", name = q(&name))),
            },
            Tok::Dot => Term::Dot,
            Tok::Nil => Term::Nil,
            Tok::Lit(i) => Term::Lit(self.lits[i as usize].clone()),
            Tok::Var(v) if self.vars.contains(&v) => Term::Var(v),
            Tok::Var(v) => return fail(pos, format!("undefined variable {v}", v = q(&v))),
            Tok::Field(f) => {
                fields.push(f);
                Term::Dot
            }
            Tok::LParen => {
                self.enter(pos)?;
                let p = self.pipeline("parenthesized pipeline", true)?;
                self.depth -= 1;
                Term::Pipe(Box::new(p))
            }
            _ => {
                self.i -= 1;
                return Ok(None);
            }
        };
        let chained = matches!(self.peek(), Tok::Field(_));
        while let &Tok::Field(f) = self.peek() {
            fields.push(f);
            self.i += 1;
        }
        if chained && bare {
            return fail(pos, "unexpected . after term");
        }
        Ok(Some(Arg { pos, term, fields }))
    }
}

// ------------------------------------------------------------- execution

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a, 'l> {
    lookup: &'l dyn Fn(&str) -> Option<String>,
    out: String,
    /// Variables in scope, innermost last.
    vars: Vec<(&'a str, Value)>,
    fuel: u64,
}

impl<'a> Exec<'a, '_> {
    fn burn(&mut self, pos: usize, n: u64) -> R<()> {
        match self.fuel.checked_sub(n) {
            Some(f) => self.fuel = f,
            None => return fail(pos, "template execution too expensive"),
        }
        Ok(())
    }

    fn emit(&mut self, pos: usize, s: &str) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return fail(pos, "template output too large");
        }
        self.out.push_str(s);
        Ok(())
    }

    fn env(&self, name: &str) -> Value {
        string((self.lookup)(name).unwrap_or_default())
    }

    /// The innermost variable `name` (a lookup costs its depth).
    fn slot(&mut self, name: &str, pos: usize) -> R<&mut Value> {
        let Some(i) = self.vars.iter().rposition(|v| v.0 == name) else {
            return fail(pos, format!("undefined variable: {name}"));
        };
        self.burn(pos, (self.vars.len() - i) as u64)?;
        Ok(&mut self.vars[i].1)
    }

    fn set(&mut self, name: &str, value: Value, pos: usize) -> R<()> {
        *self.slot(name, pos)? = value;
        Ok(())
    }

    /// Gives a range variable its value: `name` by name for `=`, the one
    /// declared at `slot` for `:=`.
    fn put(&mut self, name: &str, value: Value, slot: usize, p: &Pipe) -> R<()> {
        if p.assign {
            self.set(name, value, p.pos)
        } else {
            self.vars[slot].1 = value;
            Ok(())
        }
    }

    fn walk(&mut self, nodes: &[Node<'a>], dot: &Value) -> R<Flow> {
        for node in nodes {
            match node {
                Node::Text(s, pos) => {
                    self.burn(*pos, 1)?;
                    self.emit(*pos, s)?;
                }
                Node::Action(p) => {
                    self.burn(p.pos, 1)?;
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        let s = match v {
                            Nil => "<no value>".into(),
                            v => show(&v).map_err(|m| (p.pos, m))?,
                        };
                        self.emit(p.pos, &s)?;
                    }
                }
                Node::Ctl(ctl, p, body, els) => {
                    self.burn(p.pos, 1)?;
                    let mark = self.vars.len();
                    let flow = self.control(*ctl, p, body, els, dot);
                    self.vars.truncate(mark);
                    if let f @ (Flow::Break | Flow::Continue) = flow? {
                        return Ok(f);
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    #[inline(never)]
    fn control(
        &mut self,
        ctl: Ctl,
        p: &Pipe<'a>,
        body: &[Node<'a>],
        els: &[Node<'a>],
        dot: &Value,
    ) -> R<Flow> {
        let v = self.pipe(p, dot)?;
        if ctl != Ctl::Range {
            return match (v.truth(), ctl) {
                (false, _) => self.walk(els, dot),
                (true, Ctl::With) => self.walk(body, &v),
                _ => self.walk(body, dot),
            };
        }
        let n = match &v {
            Strs(l) => l.len(),
            Ints(l) => l.len(),
            Int(n) => (*n).max(0) as usize,
            Nil => 0,
            Map => return fail(p.pos, "range over the environment is not supported"),
            v => {
                let s = show(v).map_err(|m| (p.pos, m))?;
                return fail(p.pos, format!("range can't iterate over {s}"));
            }
        };
        if n == 0 {
            return self.walk(els, dot);
        }
        let mark = self.vars.len();
        for i in 0..n {
            self.burn(p.pos, 1)?;
            let elem = match &v {
                Strs(l) => Str(l[i].clone()),
                Ints(l) => Int(l[i]),
                _ => Int(i as i64),
            };
            let index = Int(i as i64);
            // With one variable it gets the element; with two, the index
            // and the element.
            // (The parser allows two variables at most.)
            let d = &p.decl;
            if d.len() > 1 {
                self.put(d[0], index, mark - 2, p)?;
            }
            if let Some(e) = d.last() {
                self.put(e, elem.clone(), mark - 1, p)?;
            }
            let flow = self.walk(body, &elem);
            self.vars.truncate(mark);
            if let Flow::Break = flow? {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn pipe(&mut self, p: &Pipe<'a>, dot: &Value) -> R<Value> {
        let mut v = None;
        for cmd in &p.cmds {
            v = Some(self.command(cmd, dot, v)?);
        }
        let v = v.unwrap_or(Nil);
        for name in &p.decl {
            if p.assign {
                self.set(name, v.clone(), p.pos)?;
            } else {
                self.vars.push((name, v.clone()));
            }
        }
        Ok(v)
    }

    /// A command; `fin` is the previous stage's value, its last argument.
    #[inline(never)]
    fn command(&mut self, args: &[Arg<'a>], dot: &Value, fin: Option<Value>) -> R<Value> {
        let a = &args[0];
        self.burn(a.pos, 1)?;
        if let Term::Func(f) = a.term
            && a.fields.is_empty()
        {
            return self.call(f, a.pos, &args[1..], dot, fin);
        }
        let extra = args.len() > 1 || fin.is_some();
        if a.fields.is_empty() {
            if let Term::Nil = a.term {
                return fail(a.pos, "nil is not a command");
            }
            if extra {
                return fail(a.pos, "can't give argument to non-function");
            }
        }
        let v = self.term(a, dot)?;
        self.fields(v, a, extra)
    }

    fn term(&mut self, a: &Arg<'a>, dot: &Value) -> R<Value> {
        Ok(match &a.term {
            Term::Dot => dot.clone(),
            Term::Nil => Nil,
            Term::Lit(v) => v.clone(),
            Term::Var(name) => self.slot(name, a.pos)?.clone(),
            Term::Func(f) => self.call(*f, a.pos, &[], dot, None)?,
            Term::Pipe(p) => self.pipe(p, dot)?,
        })
    }

    /// Follows the fields chained to a term's value `v`; `extra`: the last
    /// one was given arguments.
    fn fields(&mut self, mut v: Value, a: &Arg<'a>, extra: bool) -> R<Value> {
        for (k, f) in a.fields.iter().enumerate() {
            v = match v {
                Map if extra && k + 1 == a.fields.len() => {
                    return fail(a.pos, format!("{f} is not a method but has arguments"));
                }
                Map => self.env(f),
                v => {
                    let t = v.type_name();
                    return fail(a.pos, format!("can't evaluate field {f} in type {t}"));
                }
            };
            if let Str(s) = &v {
                self.burn(a.pos, s.len() as u64)?;
            }
        }
        Ok(v)
    }

    /// An argument of kind `kind`.
    fn typed(&mut self, a: &Arg<'a>, dot: &Value, kind: P) -> R<Value> {
        let v = self.term(a, dot)?;
        let v = self.fields(v, a, false)?;
        check(v, kind).map_err(|m| (a.pos, m))
    }

    fn call(
        &mut self,
        f: Func,
        pos: usize,
        args: &[Arg<'a>],
        dot: &Value,
        fin: Option<Value>,
    ) -> R<Value> {
        let (name, _, params, variadic) = FUNCS[f as usize];
        let n = args.len() + fin.is_some() as usize;
        let fixed = params.len() - variadic as usize;
        if n < fixed || (!variadic && n != fixed) {
            let least = if variadic { "at least " } else { "" };
            return fail(
                pos,
                format!("wrong number of args for {name}: want {least}{fixed} got {n}"),
            );
        }
        let kind = |k: usize| params[k.min(params.len() - 1)];
        if let Func::And | Func::Or = f {
            // Short-circuit: the first falsy (and) or truthy (or) value.
            let mut v = Nil;
            for a in args {
                v = self.typed(a, dot, P::Val)?;
                if v.truth() == (f == Func::Or) {
                    return Ok(v);
                }
            }
            return Ok(fin.unwrap_or(v));
        }
        let mut vals = Vec::with_capacity(n);
        for (k, a) in args.iter().enumerate() {
            vals.push(self.typed(a, dot, kind(k))?);
        }
        if let Some(v) = fin {
            vals.push(check(v, kind(n - 1)).map_err(|m| (pos, m))?);
        }
        // Functions that read their strings through cost their length.
        if !matches!(f, Func::Len | Func::Index | Func::Not | Func::Default) {
            let size = |v: &Value| match v {
                Str(s) => s.len(),
                Strs(l) => l.len(),
                _ => 0,
            };
            self.burn(pos, vals.iter().map(size).sum::<usize>() as u64)?;
        }
        let v = self
            .run(f, vals)
            .map_err(|m| (pos, format!("error calling {name}: {m}")))?;
        let size = match &v {
            Str(s) => s.len(),
            Strs(l) => l.len(),
            Ints(l) => l.len(),
            _ => 0,
        };
        if size > MAX_OUTPUT {
            return fail(pos, format!("error calling {name}: result too large"));
        }
        self.burn(pos, size as u64 + 1)?;
        Ok(v)
    }

    #[inline(never)]
    fn run(&mut self, f: Func, a: Vec<Value>) -> Result<Value, String> {
        // `call` checked the arity, so the fixed arguments are all there;
        // reading them through `get` spares a bounds panic per use.
        let nil = Nil;
        let arg = |i: usize| a.get(i).unwrap_or(&nil);
        // Borrowed: a clone of the Rc would be a count to drop at each use.
        let s = |i: usize| match arg(i) {
            Str(s) => &**s,
            _ => "",
        };
        Ok(match f {
            Func::Not => Bool(!arg(0).truth()),
            Func::Len => Int(match arg(0) {
                Str(s) => s.len(),
                Strs(l) => l.len(),
                Ints(l) => l.len(),
                Map => return Err("len of the environment is not supported".into()),
                v => return Err(format!("len of type {}", v.type_name())),
            } as i64),
            Func::Index => {
                let mut v = arg(0).clone();
                for i in &a[1..] {
                    v = self.index(&v, i)?;
                }
                v
            }
            Func::Print | Func::Println => string(sprint(&a, f == Func::Println)?),
            Func::Printf => string(sprintf(s(0), &a[1..])?),
            // ne takes exactly two: eq's loop with one operand, negated.
            Func::Eq | Func::Ne => {
                if a.len() < 2 {
                    return Err("missing argument for comparison".into());
                }
                let mut t = false;
                for b in &a[1..] {
                    t = t || eq(arg(0), b)?;
                }
                Bool(t == (f == Func::Eq))
            }
            // ge is not lt, gt not le.
            Func::Lt | Func::Ge => Bool(lt(arg(0), arg(1))? == (f == Func::Lt)),
            Func::Le | Func::Gt => {
                let le = lt(arg(0), arg(1))? || eq(arg(0), arg(1))?;
                Bool(le == (f == Func::Le))
            }
            // ContainerPilot: the value if it is a non-empty string, else
            // the default (formatted with %v when not a string).
            Func::Default => match (arg(0), arg(1)) {
                (_, Str(v)) if !v.is_empty() => arg(1).clone(),
                (Str(_), _) => arg(0).clone(),
                (d, _) => string(show(d)?),
            },
            Func::Env => self.env(s(0)),
            // ContainerPilot trims the string, and splits "" into [].
            Func::Split => {
                let (sep, x) = (s(0), s(1));
                let x = x.trim();
                // The pieces between the separator's matches (with "", one
                // per character).
                let mut parts: Vec<Rc<str>> = Vec::new();
                let mut start = 0;
                while !x.is_empty() {
                    if parts.len() >= MAX_LIST {
                        return Err("too many parts".into());
                    }
                    let next = if sep.is_empty() {
                        Some(after_char(x, start)).filter(|&k| k < x.len())
                    } else {
                        find_at(x, sep, start)
                    };
                    let Some(i) = next else {
                        parts.push(x[start..].into());
                        break;
                    };
                    parts.push(x[start..i].into());
                    start = i + sep.len();
                }
                Strs(parts.into())
            }
            Func::Join => {
                let (sep, Strs(l)) = (s(0), arg(1)) else {
                    return Err("expected []string".into());
                };
                let size = l.iter().map(|x| x.len()).sum::<usize>()
                    + sep.len().saturating_mul(l.len().saturating_sub(1));
                if size > MAX_OUTPUT {
                    return Err("result too large".into());
                }
                // By hand: `[Rc<str>]::join` inlines 1.2 KB of code.
                let mut out = String::with_capacity(size);
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    out.push_str(x);
                }
                string(out)
            }
            Func::ReplaceAll => {
                let (from, to, x) = (s(0), s(1), s(2));
                let mut out = String::new();
                let (mut last, mut at) = (0, 0);
                while let Some(i) = find_at(x, from, at) {
                    out.push_str(&x[last..i]);
                    out.push_str(to);
                    if out.len() > MAX_OUTPUT {
                        return Err("result too large".into());
                    }
                    last = i + from.len();
                    // "" matches at every character boundary, the end too.
                    at = if from.is_empty() {
                        after_char(x, i)
                    } else {
                        last
                    };
                }
                out.push_str(&x[last..]);
                if out.len() > MAX_OUTPUT {
                    return Err("result too large".into());
                }
                string(out)
            }
            Func::RegexReplaceAll => {
                let re = Regex::new(s(0))?;
                let out = re.replace_all_within(s(2), s(1), &mut self.fuel);
                string(out.ok_or("regular expression replacement too expensive")?)
            }
            // ContainerPilot: [0, n) with one argument, else counting from
            // the first towards the second; numbers or numeric strings.
            Func::Loop => {
                let int = |v: &Value| match v {
                    Int(n) => Ok(*n),
                    Str(s) => dec(s).ok_or_else(|| {
                        format!("strconv.Atoi: parsing {}: invalid syntax", q(&**s))
                    }),
                    v => Err(format!(
                        "interface conversion: interface {{}} is {}, not int",
                        v.type_name()
                    )),
                };
                let (from, to) = match &a[..] {
                    [n] => (0, int(n)?),
                    [m, n] => (int(m)?, int(n)?),
                    _ => {
                        let n = a.len();
                        return Err(format!(
                            "loop: wrong number of arguments, expected 1 or 2, but got {n}"
                        ));
                    }
                };
                if (to as i128 - from as i128).unsigned_abs() > MAX_LIST as u128 {
                    return Err(format!("loop: more than {MAX_LIST} iterations"));
                }
                // from down to to + 1, or from up to to - 1.
                let mut list = Vec::with_capacity(from.abs_diff(to) as usize);
                let mut k = from;
                while k != to {
                    if to < from {
                        list.push(k);
                        k -= 1;
                    } else {
                        list.push(k);
                        k += 1;
                    }
                }
                Ints(list.into())
            }
            Func::And | Func::Or => Nil,
        })
    }

    fn index(&self, v: &Value, i: &Value) -> Result<Value, String> {
        let len = match v {
            Strs(l) => l.len(),
            Ints(l) => l.len(),
            Str(s) => s.len(),
            Map => {
                return match i {
                    Str(k) => Ok(self.env(k)),
                    i => Err(format!(
                        "value has type {}; should be string",
                        i.type_name()
                    )),
                };
            }
            v => return Err(format!("can't index item of type {}", v.type_name())),
        };
        let Int(n) = *i else {
            return Err(format!(
                "cannot index slice/array with type {}",
                i.type_name()
            ));
        };
        if n < 0 || n as u64 >= len as u64 {
            return Err(format!("index out of range: {n}"));
        }
        let k = n as usize;
        Ok(match v {
            Strs(l) => Str(l[k].clone()),
            Ints(l) => Int(l[k]),
            Str(s) => Int(s.as_bytes()[k] as i64),
            _ => Nil,
        })
    }
}

/// The first match of `pat` in `x` at or after `from` (None past the
/// end). One searcher for split and replaceAll: each `matches`, `split`
/// and `replace` on a `&str` pattern inlines its own.
#[inline(never)]
fn find_at(x: &str, pat: &str, from: usize) -> Option<usize> {
    Some(from + x.get(from..)?.find(pat)?)
}

/// The offset after the character at `i` (`i + 1` at the end).
fn after_char(x: &str, i: usize) -> usize {
    i + x[i..].chars().next().map_or(1, char::len_utf8)
}

/// Checks an argument against a parameter kind, as Go's calls do.
fn check(v: Value, kind: P) -> Result<Value, String> {
    match (kind, v) {
        (P::Any, v) | (P::Str, v @ Str(_)) | (P::List, v @ Strs(_)) => Ok(v),
        (P::Val, Nil) => Err("cannot assign nil to reflect.Value".into()),
        (P::Val, v) => Ok(v),
        (P::List, Nil) => Ok(Strs(Rc::from([]))),
        (k, v) => {
            let want = if k == P::Str { "string" } else { "[]string" };
            Err(format!(
                "wrong type for value; expected {want}; got {}",
                v.type_name()
            ))
        }
    }
}

fn eq(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(match (a, b) {
        (Bool(x), Bool(y)) => x == y,
        (Int(x), Int(y)) => x == y,
        (Float(x), Float(y)) => x.cmp(y).is_eq(),
        (Str(x), Str(y)) => x == y,
        _ if a.basic().is_some() || b.basic().is_some() => {
            return Err("incompatible types for comparison".into());
        }
        _ => return Err("non-comparable types".into()),
    })
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(match (a, b) {
        (Int(x), Int(y)) => x < y,
        (Float(x), Float(y)) => x.cmp(y).is_lt(),
        (Str(x), Str(y)) => x < y,
        _ if a.basic().is_some() && b.basic().is_some() && a.basic() != b.basic() => {
            return Err("incompatible types for comparison".into());
        }
        _ => return Err("invalid type for comparison".into()),
    })
}

// ------------------------------------------------------------ formatting

/// A parsed fmt verb with its flags.
#[derive(Clone, Copy, Default)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: usize,
    prec: Option<usize>,
    verb: char,
}

const V: Spec = Spec {
    minus: false,
    plus: false,
    sharp: false,
    zero: false,
    space: false,
    width: 0,
    prec: None,
    verb: 'v',
};

/// A value as Go's `%v` prints it.
fn show(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    format_value(&mut out, v, &V)?;
    Ok(out)
}

/// fmt.Sprint (operands not both strings get a space between them) or
/// fmt.Sprintln (always spaces, and a newline).
fn sprint(args: &[Value], ln: bool) -> Result<String, String> {
    let mut out = String::new();
    for (k, a) in args.iter().enumerate() {
        let string = |v: &Value| matches!(v, Str(_));
        if k > 0 && (ln || !string(a) && !string(&args[k - 1])) {
            out.push(' ');
        }
        format_value(&mut out, a, &V)?;
    }
    if ln {
        out.push('\n');
    }
    Ok(out)
}

/// fmt.Sprintf, including its in-band complaints (`%!d(string=x)`).
fn sprintf(f: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut next = args.iter();
    let mut rest = f;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let mut s = Spec::default();
        while let Some(c) = rest.chars().next() {
            match c {
                '-' => (s.minus, s.zero) = (true, false),
                '+' => s.plus = true,
                '#' => s.sharp = true,
                '0' => s.zero = !s.minus,
                ' ' => s.space = true,
                _ => break,
            }
            rest = &rest[1..];
        }
        // A width or precision: digits, or `*` taking an int argument.
        let mut num = |rest: &mut &str, out: &mut String, bad: &str| {
            let n = if let Some(r) = rest.strip_prefix('*') {
                *rest = r;
                match next.next() {
                    Some(Int(n)) => Some(*n),
                    _ => None,
                }
            } else {
                let d = rest.bytes().take_while(u8::is_ascii_digit).count();
                let n = rest[..d].bytes().fold(0i64, |n, b| {
                    n.saturating_mul(10).saturating_add((b - b'0') as i64)
                });
                *rest = &rest[d..];
                Some(n)
            };
            let n = n.filter(|n| n.unsigned_abs() <= 1_000_000);
            if n.is_none() {
                out.push_str(bad);
            }
            n
        };
        if rest.starts_with(|c: char| c == '*' || c.is_ascii_digit()) {
            let w = num(&mut rest, &mut out, "%!(BADWIDTH)").unwrap_or(0);
            if w < 0 {
                (s.minus, s.zero) = (true, false);
            }
            s.width = w.unsigned_abs() as usize;
        }
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
            s.prec = num(&mut rest, &mut out, "%!(BADPREC)")
                .filter(|&p| p >= 0)
                .map(|p| p as usize);
        }
        let Some(verb) = rest.chars().next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        rest = &rest[verb.len_utf8()..];
        s.verb = verb;
        if verb == '%' {
            out.push('%');
            continue;
        }
        match next.next() {
            None => _ = write!(out, "%!{verb}(MISSING)"),
            Some(a) => format_value(&mut out, a, &s)?,
        }
    }
    out.push_str(rest);
    if next.len() > 0 {
        out.push_str("%!(EXTRA ");
        for (k, a) in next.enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            if !matches!(a, Nil) {
                out.push_str(a.type_name());
                out.push('=');
            }
            format_value(&mut out, a, &V)?;
        }
        out.push(')');
    }
    Ok(out)
}

/// Appends `v` formatted by `s`, the way Go's fmt does for these types.
fn format_value(out: &mut String, v: &Value, s: &Spec) -> Result<(), String> {
    if out.len() > MAX_OUTPUT {
        return Err("result too large".into());
    }
    let verb = s.verb;
    let text: String = match (v, verb) {
        (Map, _) => return Err("printing the environment is not supported".into()),
        (Strs(_) | Ints(_), _) => {
            // Lists format element by element.
            out.push('[');
            let n = match v {
                Strs(l) => l.len(),
                Ints(l) => l.len(),
                _ => 0,
            };
            for i in 0..n {
                if i > 0 {
                    out.push(' ');
                }
                let e = match v {
                    Strs(l) => Str(l[i].clone()),
                    Ints(l) => Int(l[i]),
                    _ => Nil,
                };
                format_value(out, &e, s)?;
            }
            out.push(']');
            return Ok(());
        }
        // The first `prec` characters.
        (Str(x), 'v' | 's') => {
            let end = s.prec.and_then(|p| x.char_indices().nth(p));
            x[..end.map_or(x.len(), |(i, _)| i)].into()
        }
        (Str(x), 'q') => quote(x, '"'),
        (Str(x), 'x' | 'X') => {
            let mut h = String::new();
            for b in x.bytes() {
                h.push(digit(b >> 4, verb == 'X') as char);
                h.push(digit(b & 15, verb == 'X') as char);
            }
            h
        }
        (Bool(b), 'v' | 't') => b.to_string(),
        (Int(n), 'v' | 'd' | 'x' | 'X' | 'o' | 'b') => {
            format_int(out, *n, s);
            return Ok(());
        }
        (Int(n), 'c' | 'q') => {
            let c = char::from_u32(*n as u32)
                .filter(|_| (0..=0x10_FFFF).contains(n))
                .unwrap_or('\u{FFFD}');
            let mut b = [0; 4];
            let c = &*c.encode_utf8(&mut b);
            if verb == 'q' {
                quote(c, '\'')
            } else {
                c.into()
            }
        }
        (Float(f), 'v' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G') => {
            format_float(out, *f, s);
            return Ok(());
        }
        (Nil, 'v') => "<nil>".into(),
        (Nil, _) => format!("%!{verb}(<nil>)"),
        (v, _) => {
            let _ = write!(out, "%!{verb}({}=", v.type_name());
            format_value(out, v, &V)?;
            out.push(')');
            return Ok(());
        }
    };
    pad(out, "", &text, s);
    Ok(())
}

/// Appends `sign` and `body` padded to the width: with spaces (on the
/// right for `-`), or zeros after the sign for the `0` flag.
fn pad(out: &mut String, sign: &str, body: &str, s: &Spec) {
    let fill = s
        .width
        .saturating_sub(sign.chars().count() + body.chars().count());
    let spaces = |out: &mut String| out.extend(core::iter::repeat_n(' ', fill));
    if s.minus {
        out.push_str(sign);
        out.push_str(body);
        spaces(out);
    } else if s.zero {
        out.push_str(sign);
        out.extend(core::iter::repeat_n('0', fill));
        out.push_str(body);
    } else {
        spaces(out);
        out.push_str(sign);
        out.push_str(body);
    }
}

fn sign(negative: bool, s: &Spec) -> &'static str {
    match (negative, s.plus, s.space) {
        (true, _, _) => "-",
        (_, true, _) => "+",
        (_, _, true) => " ",
        _ => "",
    }
}

fn format_int(out: &mut String, n: i64, s: &Spec) {
    let u = n.unsigned_abs();
    // One digit loop for the five bases (each `{:x}`-style format is its
    // own code in core).
    let base = match s.verb {
        'x' | 'X' => 16,
        'o' => 8,
        'b' => 2,
        _ => 10,
    };
    let mut buf = [0u8; 64];
    let (mut i, mut v) = (buf.len(), u);
    loop {
        i -= 1;
        buf[i] = digit((v % base) as u8, s.verb == 'X');
        v /= base;
        if v == 0 {
            break;
        }
    }
    // ASCII digits: borrowed from the buffer, not copied to a String.
    let mut digits = core::str::from_utf8(&buf[i..]).unwrap_or_default();
    let sign = sign(n < 0, s);
    // A precision is a minimum digit count (".0" prints 0 as nothing);
    // without one the 0 flag pads to the width.
    let min = match s.prec {
        Some(0) if u == 0 => {
            digits = "";
            0
        }
        Some(p) => p,
        None if s.zero && !s.minus => s.width.saturating_sub(sign.len()),
        None => 0,
    };
    let zeros = min.saturating_sub(digits.len());
    let prefix = match (s.sharp, s.verb) {
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        (true, 'b') => "0b",
        (true, 'o') if zeros == 0 && !digits.starts_with('0') => "0",
        _ => "",
    };
    let mut body = String::with_capacity(prefix.len() + zeros + digits.len());
    body.push_str(prefix);
    body.extend(core::iter::repeat_n('0', zeros));
    body.push_str(digits);
    pad(out, sign, &body, &Spec { zero: false, ..*s });
}

/// The ASCII digit for `d` (below 16), upper-case letters if `upper`.
fn digit(d: u8, upper: bool) -> u8 {
    match d {
        0..=9 => b'0' + d,
        _ if upper => b'A' + d - 10,
        _ => b'a' + d - 10,
    }
}

fn format_float(out: &mut String, f: Dec, s: &Spec) {
    let (d, point) = f.digits();
    let body = match s.verb {
        'f' | 'F' => {
            let p = s.prec.unwrap_or(6);
            let (d, point) = round(&d, point, point.saturating_add(p as i32));
            positional(&d, point, p)
        }
        'e' | 'E' => {
            let p = s.prec.unwrap_or(6);
            let (d, point) = round(&d, point, p as i32 + 1);
            scientific(&d, point - 1, p)
        }
        _ => general(&d, point, s.prec),
    };
    let body = if s.verb.is_ascii_uppercase() {
        let mut body = body;
        body.make_ascii_uppercase();
        body
    } else {
        body
    };
    pad(out, sign(f.neg, s), &body, s);
}

/// Digits `d` (point after `point` of them) rounded to their first `n`,
/// half to even; the new digits and point.
fn round(d: &[u8], point: i32, n: i32) -> (Vec<u8>, i32) {
    if n < 0 {
        return (Vec::new(), point);
    }
    let n = n as usize;
    if n >= d.len() {
        return (d.to_vec(), point);
    }
    let odd = n > 0 && d[n - 1] % 2 == 1;
    let up = d[n] > b'5' || (d[n] == b'5' && (n + 1 < d.len() || odd));
    let mut r = d[..n].to_vec();
    if up {
        for i in (0..n).rev() {
            if r[i] < b'9' {
                r[i] += 1;
                return (r, point);
            }
            r[i] = b'0';
        }
        r.insert(0, b'1');
        return (r, point + 1);
    }
    (r, point)
}

/// d.ddde±XX with `decimals` digits after the point.
fn scientific(d: &[u8], exp: i32, decimals: usize) -> String {
    let mut s = String::new();
    for i in 0..=decimals {
        if i == 1 {
            s.push('.');
        }
        s.push(*d.get(i).unwrap_or(&b'0') as char);
    }
    let _ = write!(
        s,
        "e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    );
    s
}

/// Digits `d` with the point after `point` of them, `decimals` shown.
fn positional(d: &[u8], point: i32, decimals: usize) -> String {
    let digit = |i: i32| match usize::try_from(i).ok().and_then(|i| d.get(i)) {
        Some(&c) => c as char,
        None => '0',
    };
    let mut s = String::new();
    if point <= 0 {
        s.push('0');
    }
    for i in 0..point {
        s.push(digit(i));
    }
    if decimals > 0 {
        s.push('.');
        for i in 0..decimals as i32 {
            s.push(digit(point + i));
        }
    }
    s
}

/// Go's %g: the shortest digits when `prec` is None (as %v prints), the
/// exponent form for exponents below -4 or from the precision (6 when
/// shortest) up.
fn general(d: &[u8], point: i32, prec: Option<usize>) -> String {
    let (mut d, point) = match prec {
        None => (d.to_vec(), point),
        Some(p) => round(d, point, p.max(1) as i32),
    };
    while d.len() > 1 && d.last() == Some(&b'0') {
        d.pop();
    }
    let (nd, exp) = (d.len() as i32, point - 1);
    let p = prec.map_or(nd, |p| p.max(1) as i32);
    let eprec = match prec {
        None => 6,
        Some(_) if p > nd && nd >= point => nd,
        Some(_) => p,
    };
    if exp < -4 || exp >= eprec {
        scientific(&d, exp, (p.min(nd) - 1) as usize)
    } else {
        let p = if p > point { nd } else { p };
        positional(&d, point, (p - point).max(0) as usize)
    }
}

/// Go's strconv.Quote (printable non-ASCII kept; approximated as all
/// but the C1 controls).
fn quote(x: &str, q: char) -> String {
    let mut s = String::new();
    s.push(q);
    for c in x.chars() {
        let esc = match c {
            '\x07' => "\\a",
            '\x08' => "\\b",
            '\x0c' => "\\f",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\x0b' => "\\v",
            '\\' => "\\\\",
            c if c == q => "\\",
            // Both below 0x100: two hex digits after the escape's zeros.
            c if c < ' ' || ('\x7f'..'\u{a0}').contains(&c) => {
                s.push_str(if c <= '\x7f' { "\\x" } else { "\\u00" });
                s.push(digit(c as u8 >> 4, false) as char);
                s.push(digit(c as u8 & 15, false) as char);
                continue;
            }
            c => {
                s.push(c);
                continue;
            }
        };
        s.push_str(esc);
        if c == q {
            s.push(c);
        }
    }
    s.push(q);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn env(name: &str) -> Option<String> {
        let v = match name {
            "NAME" => "Template",
            "USER" => "pilot",
            "PARTS" => "a:b:c",
            "COUNT" => "3",
            "HOSTS" => "h1,h2,h3",
            "EQ" => "a=b=c",
            "EMPTY" => "",
            "SPACES" => "  x y  ",
            "CONSUL_AGENT" => "1",
            "PORT" => "8080",
            _ => return None,
        };
        Some(v.to_string())
    }

    fn r(t: &str) -> String {
        match render(t, &env) {
            Ok(s) => s,
            Err(e) => panic!("{t:?}: {e}"),
        }
    }

    fn e(t: &str) -> String {
        match render(t, &env) {
            Ok(s) => panic!("{t:?} rendered {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn containerpilot_tests() {
        // ContainerPilot's own template tests.
        assert_eq!(r("Hello, {{.NAME}}!"), "Hello, Template!");
        assert_eq!(r("Hello, {{.NONAME}}!"), "Hello, !");
        assert_eq!(r("{{ loop 2 5 }}"), "[2 3 4]");
        assert_eq!(r("{{ loop 10 1 }}"), "[10 9 8 7 6 5 4 3 2]");
        assert_eq!(r("{{ loop 5 }}"), "[0 1 2 3 4]");
        assert_eq!(r("{{ loop .COUNT }}"), "[0 1 2]");
        assert_eq!(r("{{ loop 1 .COUNT }}"), "[1 2]");
        assert_eq!(
            r("{{ range $i := loop 2 5 -}}i={{$i}},{{ end }}"),
            "i=2,i=3,i=4,"
        );
        assert_eq!(
            r(r#"Hello, {{ env (printf "NA%s" "ME") }}!"#),
            "Hello, Template!"
        );
        assert_eq!(
            r(r#"Hello, {{.NONAME | default "World" }}!"#),
            "Hello, World!"
        );
        assert_eq!(r("Hello, {{.NONAME | default 100 }}!"), "Hello, 100!");
        assert_eq!(r("Hello, {{.NONAME | default 10.1 }}!"), "Hello, 10.1!");
        assert_eq!(
            r(r#"Hello, {{.PARTS | split ":" | join "." }}!"#),
            "Hello, a.b.c!"
        );
        assert_eq!(
            r(r#"Hello, {{.NAME | replaceAll "e" "_" }}!"#),
            "Hello, T_mplat_!"
        );
        assert_eq!(
            r(r#"Hello, {{.NAME | regexReplaceAll "[epa]+" "_" }}!"#),
            "Hello, T_m_l_t_!"
        );
    }

    #[test]
    fn config_idioms() {
        assert_eq!(r(r#"{"consul": "{{ .CONSUL }}"}"#), r#"{"consul": ""}"#);
        assert_eq!(r("{{ if .CONSUL_AGENT }}agent{{ end }}"), "agent");
        assert_eq!(r("{{ if .CONSUL }}agent{{ end }}"), "");
        assert_eq!(
            r(r#"{{ .X | default "y" }} {{ .PORT | default "80" }}"#),
            "y 8080"
        );
        assert_eq!(r("{{ range $i := loop 3 }}{{ $i }},{{ end }}"), "0,1,2,");
        assert_eq!(r(r#"{{ .HOSTS | split "," | join "\n" }}"#), "h1\nh2\nh3");
        assert_eq!(r("{{ .EQ }}"), "a=b=c");
        assert_eq!(r("a  {{- .USER -}}  b"), "apilotb");
        assert_eq!(r("a \n\t{{- .USER }} \n b"), "apilot \n b");
        assert_eq!(r("{{ .USER }} \r\n {{- /* c */ -}} \n x"), "pilotx");
        assert_eq!(r("{{-3}} {{ 3 -}} 4"), "-3 34");
        assert_eq!(r("{{/* a comment */}}x{{- /* another */ -}} y"), "xy");
        assert_eq!(
            r(
                r#"{{ range $i, $h := .HOSTS | split "," }}{{ if $i }},{{ end }}"{{ $h }}:{{ $i }}"{{ end }}"#
            ),
            r#""h1:0","h2:1","h3:2""#
        );
        assert_eq!(
            r("{{ range .HOSTS | split \",\" }}[{{ . }}]{{ end }}"),
            "[h1][h2][h3]"
        );
        assert_eq!(
            r(r#"{{ range split "," .EMPTY }}x{{ else }}none{{ end }}"#),
            "none"
        );
        assert_eq!(
            r(r#"{{ .SPACES | split " " }} {{ len (split "," .SPACES) }}"#),
            "[x y] 1"
        );
        assert_eq!(r(r#"{{ split "" "héllo" }}"#), "[h é l l o]");
        assert_eq!(r(r#"{{ replaceAll "" "-" "abc" }}"#), "-a-b-c-");
    }

    #[test]
    fn render_compat_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/containerpilot/");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|x| x.to_str()) != Some("json5") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let lookup = |k: &str| (k == "CONSUL").then(|| "consul.svc:8500".to_string());
            let out = render(&text, &lookup).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            assert_eq!(
                out,
                text.replace("{{ .CONSUL }}", "consul.svc:8500"),
                "{path:?}"
            );
            n += 1;
        }
        assert!(n >= 7, "only {n} files in {dir}");
    }

    #[test]
    fn literals() {
        assert_eq!(r(r#"{{ "a\tb\x41\u00e9\101\"" }}"#), "a\tbAéA\"");
        assert_eq!(r(r#"{{ "\xc3\xa9" }}"#), "é");
        assert_eq!(r("{{ `raw \\n {{ }}` }}"), "raw \\n {{ }}");
        assert_eq!(r("{{ `a\r\nb` }}"), "a\nb");
        assert_eq!(
            r("{{ 42 }} {{ -7 }} {{ +7 }} {{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}"),
            "42 -7 7 31 15 15 5 1000"
        );
        assert_eq!(
            r(
                "{{ 1.5 }} {{ -0.25 }} {{ 1e3 }} {{ 1e6 }} {{ 1.0 }} {{ .5 }} {{ 1e21 }} {{ 1e-5 }} {{ 0.0001 }}"
            ),
            "1.5 -0.25 1000 1e+06 1 0.5 1e+21 1e-05 0.0001"
        );
        assert_eq!(
            r("{{ 123456.0 }} {{ 1234567.0 }} {{ 0.1 }} {{ 3.14159 }}"),
            "123456 1.234567e+06 0.1 3.14159"
        );
        assert_eq!(
            r("{{ true }} {{ false }} {{ 'a' }} {{ '\\n' }} {{ 'é' }}"),
            "true false 97 10 233"
        );
        assert_eq!(
            r("{{ 9223372036854775807 }} {{ -9223372036854775808 }}"),
            "9223372036854775807 -9223372036854775808"
        );
        assert!(e("{{ 9223372036854775808 }}").contains("illegal number syntax"));
        assert!(e("{{ 1x }}").contains("bad number syntax"));
        assert!(e("{{ 08 }}").contains("illegal number syntax"));
        assert!(e("{{ 1i }}").contains("illegal number syntax"));
        assert!(e("{{ - }}").contains("illegal number syntax"));
        assert!(e(r#"{{ "a }}"#).contains("unterminated quoted string"));
        assert!(e("{{ \"a\nb\" }}").contains("unterminated quoted string"));
        assert!(e("{{ `a }}").contains("unterminated raw quoted string"));
        assert!(e(r#"{{ "\q" }}"#).contains("invalid syntax"));
        assert!(e(r#"{{ "\xff" }}"#).contains("invalid UTF-8"));
        assert!(e("{{ 'ab' }}").contains("malformed character constant"));
        assert!(e("{{ nil }}").contains("nil is not a command"));
        assert_eq!(e("{{ 1 2 }}"), "1:4: can't give argument to non-function");
    }

    #[test]
    fn floats() {
        assert_eq!(
            r("{{ 1.50 }} {{ 001.5e1 }} {{ 0.0 }} {{ -0.0 }} {{ 1e-400 }} {{ 2. }}"),
            "1.5 15 0 -0 0 2"
        );
        assert_eq!(r("{{ 1.7976931348623157e308 }}"), "1.7976931348623157e+308");
        assert!(e("{{ 1e309 }}").contains("illegal number syntax"));
        assert!(e("{{ 1.5e }}").contains("illegal number syntax"));
        assert_eq!(
            r(
                "{{ eq 1.50 1.5 }} {{ lt 1.25 1.5 }} {{ lt -2.5 -1.5 }} {{ lt 0.5 -1.0 }} {{ ge 0.0 -0.0 }} {{ lt 9.5 10.0 }} {{ gt 1e3 999.9 }}"
            ),
            "true true true false true true true"
        );
        assert_eq!(
            r("{{ if 0.0 }}t{{ else }}f{{ end }}{{ if 0.1 }}t{{ end }}"),
            "ft"
        );
        // Rounding is half to even on the decimal (Go rounds the double).
        assert_eq!(
            r(r#"{{ printf "%.0f %.0f %.1f %.2f %.1e" 0.5 1.5 0.96 0.995 9.96 }}"#),
            "0 2 1.0 1.00 1.0e+01"
        );
        assert_eq!(
            r(r#"{{ printf "%.3f|%8.2e|%g|%.1g" 0.0004 12345.678 1e100 0.05 }}"#),
            "0.000|1.23e+04|1e+100|0.05"
        );
        assert_eq!(
            r(r#"{{ printf "%05.1f|%+g|% .2f|%x" -1.25 1.0 2.0 1.5 }}"#),
            "-01.2|+1| 2.00|%!x(float64=1.5)"
        );
    }

    #[test]
    fn control() {
        assert_eq!(
            r("{{ if 0 }}a{{ else if .EMPTY }}b{{ else if 1.5 }}c{{ else }}d{{ end }}"),
            "c"
        );
        assert_eq!(r("{{ if false }}a{{ else }}b{{ end }}"), "b");
        assert_eq!(r(r#"{{ if "" }}a{{ else if "x" }}b{{ end }}"#), "b");
        assert_eq!(r("{{ if loop 0 }}a{{ else }}empty{{ end }}"), "empty");
        assert_eq!(
            r("{{ with .USER }}<{{ . }}>{{ end }}{{ with .NOPE }}x{{ else }}y{{ end }}"),
            "<pilot>y"
        );
        assert_eq!(
            r("{{ with $x := .USER }}{{ $x }}{{ . }}{{ end }}"),
            "pilotpilot"
        );
        assert_eq!(
            r("{{ with .NOPE }}a{{ else with .USER }}{{ . }}{{ end }}"),
            "pilot"
        );
        assert_eq!(r("{{ range 3 }}{{ . }}{{ end }}"), "012");
        assert_eq!(r("{{ range $e := loop 3 }}{{ $e }}{{ end }}"), "012");
        assert_eq!(
            r("{{ range $i, $e := loop 5 8 }}{{ $i }}={{ $e }} {{ end }}"),
            "0=5 1=6 2=7 "
        );
        assert_eq!(
            r(
                "{{ range loop 10 }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}"
            ),
            "013"
        );
        assert_eq!(
            r(
                "{{ range loop 2 }}{{ range loop 3 }}{{ if eq . 1 }}{{ break }}{{ end }}{{ . }}{{ end }};{{ end }}"
            ),
            "0;0;"
        );
        assert_eq!(
            r("{{ range loop 0 }}x{{ else }}{{ .USER }}{{ end }}"),
            "pilot"
        );
    }

    #[test]
    fn variables() {
        assert_eq!(r("{{ $x := 1 }}{{ $x }}{{ $x = 2 }}{{ $x }}"), "12");
        assert_eq!(
            r("{{ $x := 0 }}{{ range loop 4 }}{{ $x = . }}{{ end }}{{ $x }}"),
            "3"
        );
        assert_eq!(
            r("{{ $x := \"out\" }}{{ if 1 }}{{ $x := \"in\" }}{{ $x }}{{ end }}{{ $x }}"),
            "inout"
        );
        assert_eq!(
            r("{{ $.USER }} {{ range loop 1 }}{{ $.USER }}{{ end }}"),
            "pilot pilot"
        );
        assert_eq!(
            r("{{ $i := 5 }}{{ range $i := loop 2 }}{{ $i }}{{ end }}{{ $i }}"),
            "015"
        );
        assert_eq!(
            r("{{ $i := 9 }}{{ $e := 9 }}{{ range $i, $e = loop 3 5 }}{{ end }}{{ $i }}{{ $e }}"),
            "14"
        );
        assert_eq!(
            r("{{ if $v := .USER }}{{ $v }}{{ else }}{{ $v }}!{{ end }}"),
            "pilot"
        );
        assert!(e("{{ $x }}").contains("undefined variable \"$x\""));
        assert!(e("{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}").contains("undefined variable"));
        assert!(e("{{ $x = 1 }}").contains("undefined variable: $x"));
        assert!(e("{{ $x, $y := 1 }}").contains("too many declarations in command"));
        assert!(
            e("{{ range $a, $b, $c := loop 1 }}{{ end }}")
                .contains("too many declarations in range")
        );
        assert!(e("{{ range $a, 1 }}{{ end }}").contains("range can only initialize variables"));
    }

    #[test]
    fn fields_and_dot() {
        assert_eq!(r("{{ .USER }}{{ .NAME }}"), "pilotTemplate");
        assert_eq!(r("{{ index . \"USER\" }}{{ index . \"NOPE\" }}"), "pilot");
        assert_eq!(
            r("{{ (index . \"USER\") }} {{ (index $ \"NAME\") }}"),
            "pilot Template"
        );
        assert_eq!(
            r("{{ with .USER }}{{ $.NAME }}{{ end }} {{ .NAME | print }}"),
            "Template Template"
        );
        assert!(e("{{ .USER.X }}").contains("can't evaluate field X in type string"));
        assert!(e("{{ . }}").contains("printing the environment is not supported"));
        assert!(e("{{ .USER 1 }}").contains("USER is not a method but has arguments"));
        assert!(e("{{ 1 | .USER }}").contains("USER is not a method but has arguments"));
        assert!(e("{{ range . }}{{ end }}").contains("not supported"));
        assert!(e("{{ len . }}").contains("not supported"));
        assert!(e("{{ \"a\".X }}").contains("unexpected . after term"));
        assert!(e("{{ ..X }}").contains("unexpected . after term"));
        assert!(e("{{ (print .USER).X }}").contains("can't evaluate field X in type string"));
    }

    #[test]
    fn builtins() {
        assert_eq!(
            r(
                "{{ eq 1 1 }} {{ eq 1 2 3 1 }} {{ eq \"a\" \"b\" }} {{ eq .USER \"pilot\" }} {{ eq true true }} {{ eq 1.5 1.5 }}"
            ),
            "true true false true true true"
        );
        assert_eq!(
            r("{{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}"),
            "true true true true false"
        );
        assert!(
            e("{{ eq 1 1.0 }}").ends_with("error calling eq: incompatible types for comparison")
        );
        assert!(e("{{ eq .COUNT 3 }}").contains("incompatible types for comparison"));
        assert!(e("{{ lt true false }}").contains("invalid type for comparison"));
        assert!(e("{{ eq (loop 1) (loop 1) }}").contains("non-comparable"));
        assert!(e("{{ eq 1 }}").contains("missing argument for comparison"));
        assert!(e("{{ eq 1 nil }}").contains("cannot assign nil"));
        assert_eq!(
            r(
                "{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" }} {{ or 0 \"x\" 1 }} {{ not 0 }} {{ not .USER }}"
            ),
            "0 2  x true false"
        );
        // and/or stop at the deciding argument.
        assert_eq!(
            r("{{ or 1 (index (loop 1) 5) }} {{ and 0 (index (loop 1) 5) }}"),
            "1 0"
        );
        assert_eq!(r("{{ 0 | and 1 }} {{ 0 | or 2 }}"), "0 2");
        assert_eq!(
            r("{{ len \"héllo\" }} {{ len (loop 4) }} {{ len (split \",\" .HOSTS) }}"),
            "6 4 3"
        );
        assert!(e("{{ len 3 }}").contains("error calling len: len of type int"));
        assert_eq!(
            r(
                "{{ index (loop 5 9) 2 }} {{ index (split \",\" .HOSTS) 0 }} {{ index \"abc\" 1 }} {{ index (loop 3) }}"
            ),
            "7 h1 98 [0 1 2]"
        );
        assert!(
            e("{{ index (loop 3) 3 }}").ends_with("error calling index: index out of range: 3")
        );
        assert!(e("{{ index (loop 3) -1 }}").contains("index out of range: -1"));
        assert!(
            e("{{ index (loop 3) \"1\" }}").contains("cannot index slice/array with type string")
        );
        assert!(e("{{ index 3 1 }}").contains("can't index item of type int"));
        assert_eq!(r("{{ print 1 2 \"a\" \"b\" 3 true }}"), "1 2ab3 true");
        assert_eq!(r("{{ println 1 \"a\" }}"), "1 a\n");
        assert_eq!(
            r("{{ print }}{{ print nil }}{{ print (loop 2) 1.5 }}"),
            "<nil>[0 1] 1.5"
        );
        assert_eq!(r("{{ print \"x\" | printf \"%s-%s\" \"y\" }}"), "y-x");
    }

    #[test]
    fn printf() {
        let p = |f: &str| r(&format!("{{{{ printf {f} }}}}"));
        assert_eq!(
            p(r#""%s|%d|%v|%t|%%|%q" "a" 42 1.5 true "h\"i""#),
            r#"a|42|1.5|true|%|"h\"i""#
        );
        assert_eq!(
            p(
                r#""%5s|%-5s|%.2s|%05d|%-4d|%+d|% d|%x|%X|%#x|%o|%b|%c" "ab" "ab" "abc" -42 7 3 3 255 255 255 8 5 65"#
            ),
            "   ab|ab   |ab|-0042|7   |+3| 3|ff|FF|0xff|10|101|A"
        );
        assert_eq!(
            p(
                r#""%f|%.2f|%5.2f|%-8.3f|%e|%.2e|%g|%.3g|%08.3f|%+.1f|%E|%G" 3.14159 3.14159 3.14159 3.14159 1234.5678 1234.5678 1234.5678 1234.5678 -3.14159 2.25 1e-7 1e-7"#
            ),
            "3.141590|3.14| 3.14|3.142   |1.234568e+03|1.23e+03|1234.5678|1.23e+03|-003.142|+2.2|1.000000E-07|1E-07"
        );
        assert_eq!(
            p(r#""%.0f %.1f %.2f %g %g %v" 2.5 0.25 0.125 100000.0 1000000.0 0.000012"#),
            "2 0.2 0.12 100000 1e+06 1.2e-05"
        );
        assert_eq!(
            p(r#""%.3g %.3g %.10g %g" 1.0 0.0001234 1.0 0.0"#),
            "1 0.000123 1 0"
        );
        assert_eq!(
            p(r#""%v %s %d" (loop 3) (split "," "a,b") (loop 2)"#),
            "[0 1 2] [a b] [0 1]"
        );
        assert_eq!(
            p(r#""%q %x %X % x" (split "," "a,b") "hi" "hi" 10"#),
            r#"["a" "b"] 6869 6869  a"#
        );
        assert_eq!(
            p(r#""%d %s %t" "x" 5 1"#),
            "%!d(string=x) %!s(int=5) %!t(int=1)"
        );
        assert_eq!(p(r#""%d %d" 1"#), "1 %!d(MISSING)");
        assert_eq!(p(r#""%d%%%d" 1 2"#), "1%2");
        assert_eq!(p(r#""%d" 1 "a" 2"#), "1%!(EXTRA string=a, int=2)");
        assert_eq!(p(r#""%z" "s""#), "%!z(string=s)");
        assert_eq!(p(r#""%" 1"#), "%!(NOVERB)%!(EXTRA int=1)");
        assert_eq!(p(r#""%*d|%-*d|%.*f" 5 1 3 2 1 3.14159"#), "    1|2  |3.1");
        assert_eq!(
            p(r#""%.3d|%.0d|%08.3d|%3c|%-3q|%q" 5 0 5 65 66 "é\n\x01""#),
            "005||     005|  A|'B'|\"é\\n\\x01\""
        );
        assert_eq!(p(r#""%v %d" nil nil"#), "<nil> %!d(<nil>)");
        assert_eq!(p(r#""%s" (printf "%d" 3)"#), "3");
        assert_eq!(p(r#""%x" -255"#), "-ff");
        assert_eq!(
            p(r#""%6.2f|%-8v|%8v" 1e9 1.5 "x""#),
            "1000000000.00|1.5     |       x"
        );
        assert!(e(r#"{{ printf 1 }}"#).contains("wrong type for value; expected string; got int"));
    }

    #[test]
    fn containerpilot_functions() {
        assert_eq!(
            r(
                r#"{{ default "d" "" }} {{ default "d" "v" }} {{ default "d" 5 }} {{ default 5 nil }} {{ default (loop 2) "" }}"#
            ),
            "d v d 5 [0 1]"
        );
        assert_eq!(
            r(r#"{{ env "USER" }}{{ env "NOPE" }}{{ "NAME" | env }}"#),
            "pilotTemplate"
        );
        assert_eq!(
            r(r#"{{ split "," "a,,b," }} {{ len (split "," "") }} {{ split "" "" }}"#),
            "[a  b ] 0 []"
        );
        assert_eq!(
            r(r#"{{ join "-" (split "," "a,b") }} {{ join "-" nil }}"#),
            "a-b "
        );
        assert!(
            e(r#"{{ join "," (loop 3) }}"#)
                .contains("wrong type for value; expected []string; got []int")
        );
        assert!(e(r#"{{ split 1 "a" }}"#).contains("expected string; got int"));
        assert_eq!(
            r(r#"{{ replaceAll "a" "bb" "banana" }} {{ "x.y" | replaceAll "." "" }}"#),
            "bbbnbbnbb xy"
        );
        assert_eq!(
            r(
                r#"{{ regexReplaceAll "a(x*)b" "${1}W" "-ab-axxb-" }} {{ "baaac" | regexReplaceAll "a*" "-" }}"#
            ),
            "-W-xxW- -b-c-"
        );
        assert_eq!(
            r(r#"{{ .HOSTS | regexReplaceAll "h(\\d)" "host-$1" }}"#),
            "host-1,host-2,host-3"
        );
        assert_eq!(
            r(r#"{{ .HOSTS | regexReplaceAll `h(?P<n>\d)` "${n}" }}"#),
            "1,2,3"
        );
        let err = e(r#"x {{ regexReplaceAll "(" "" "" }}"#);
        assert_eq!(
            err,
            "1:6: error calling regexReplaceAll: error parsing regexp: missing closing ): `(`"
        );
        // As ContainerPilot's code does, "loop -2" counts down from 0.
        assert_eq!(
            r("{{ loop 3 3 }} {{ loop 0 }} {{ loop -2 }} {{ loop -2 1 }} {{ loop \"-1\" \"+1\" }}"),
            "[] [] [0 -1] [-2 -1 0] [-1 0]"
        );
        assert!(
            e("{{ loop }}").contains("loop: wrong number of arguments, expected 1 or 2, but got 0")
        );
        assert!(e("{{ loop 1 2 3 }}").contains("but got 3"));
        assert!(e("{{ loop \"x\" }}").contains("strconv.Atoi: parsing \"x\": invalid syntax"));
        assert!(e("{{ loop 1.5 }}").contains("interface {} is float64, not int"));
        assert!(e("{{ loop 2000000 }}").contains("iterations"));
        assert!(e("{{ loop -9223372036854775808 9223372036854775807 }}").contains("iterations"));
    }

    #[test]
    fn errors_and_positions() {
        assert_eq!(e("abc\n  {{ nope }}"), "2:6: function \"nope\" not defined");
        assert_eq!(e("é{{ if 1 }}"), "1:12: unexpected EOF");
        assert_eq!(e("{{ end }}"), "1:1: unexpected {{end}}");
        assert_eq!(e("{{ else }}"), "1:1: unexpected {{else}}");
        assert_eq!(
            e("x\n{{ if 1 }}{{ else }}{{ else }}{{ end }}"),
            "2:21: expected end; found {{else}}"
        );
        assert_eq!(
            e("{{ .USER"),
            "1:1: unclosed action: this \"{{\" has no \"}}\""
        );
        // A single closing brace: said as such, not as the string that the
        // next quote would open.
        let single =
            "1:4: unclosed action: the \"{{\" at 1:1 ends with a single \"}\" (expected \"}}\")";
        assert_eq!(e("{{ }\n"), single);
        let text = "{\n  \"a\": \"{{ .A }\",\n  \"b\": \"{{ .B }}\"\n}";
        assert_eq!(
            e(text),
            "2:15: unclosed action: the \"{{\" at 2:9 ends with a single \"}\" (expected \"}}\")"
        );
        assert_eq!(
            e("x {{ .A} y }}"),
            "1:8: unclosed action: the \"{{\" at 1:3 ends with a single \"}\" (expected \"}}\")"
        );
        assert_eq!(
            e("{{ 12} }}"),
            "1:6: unclosed action: the \"{{\" at 1:1 ends with a single \"}\" (expected \"}}\")"
        );
        assert_eq!(e("{{ (1 }}"), "1:7: unclosed left paren");
        assert_eq!(e("{{ 1) }}"), "1:5: unexpected right paren");
        assert_eq!(e("{{ }}"), "1:4: missing value for command");
        assert_eq!(e("{{ if }}{{ end }}"), "1:7: missing value for if");
        assert_eq!(
            e("{{ 1 | 2 }}"),
            "1:8: non executable command in pipeline stage 2"
        );
        assert_eq!(e("{{ break }}"), "1:4: {{break}} outside {{range}}");
        assert_eq!(
            e("{{ range 1 }}{{ else }}{{ continue }}{{ end }}"),
            "1:27: {{continue}} outside {{range}}"
        );
        assert_eq!(
            e("{{ define \"x\" }}{{ end }}"),
            "1:4: {{define}} is not supported"
        );
        assert_eq!(e("{{ /* x */ }}"), "1:4: unexpected '/' in command");
        assert_eq!(
            e("{{/* x */ 1 }}"),
            "1:1: comment ends before closing delimiter"
        );
        assert_eq!(e("{{/* x "), "1:1: unclosed comment");
        assert_eq!(e("{{ .A@ }}"), "1:4: bad character '@'");
        assert_eq!(e("{{ a:b }}"), "1:5: expected :=");
        assert_eq!(
            e("{{ \u{1} }}"),
            "1:4: unrecognized character in action: U+0001"
        );
        assert_eq!(e("{{ end x }}"), "1:8: unexpected identifier x in end");
        assert_eq!(
            e("{{ if 1 }}{{ else if }}{{ end }}"),
            "1:22: missing value for if"
        );
        assert_eq!(
            e("{{ range 1 }}{{ else if 1 }}{{ end }}"),
            "1:22: unexpected <if> in else"
        );
        assert_eq!(
            e("{{ len }}"),
            "1:4: wrong number of args for len: want 1 got 0"
        );
        assert_eq!(
            e("{{ and }}"),
            "1:4: wrong number of args for and: want at least 1 got 0"
        );
        assert_eq!(
            e("{{ 1 | not 2 }}"),
            "1:8: wrong number of args for not: want 1 got 2"
        );
        assert_eq!(e("{{ 1 | | 2 }}"), "1:8: unexpected \"|\" in command");
        assert_eq!(r("{{ 1 | }}"), "1", "Go accepts a trailing pipe");
        assert_eq!(e("{{ | 1 }}"), "1:4: unexpected \"|\" in command");
        assert_eq!(
            e("{{ range \"ab\" }}{{ end }}"),
            "1:10: range can't iterate over ab"
        );
        // Unexecuted branches are parsed but not run.
        assert_eq!(r("{{ if 0 }}{{ index (loop 1) 9 }}{{ end }}"), "");
        assert!(e("{{ if 0 }}{{ nope }}{{ end }}").contains("not defined"));
        let err = render("{{ x }}", &env).unwrap_err();
        assert_eq!((err.line, err.col), (1, 4));
    }

    #[test]
    fn hostile_input() {
        // Every prefix of a rich template errors or renders, never panics.
        let t = r#"a {{- /* c */ -}} {{ $x := .HOSTS | split "," }}{{ range $i, $e := $x }}{{ if and (gt $i 0) (ne $e "") }},{{ else if eq $i 0 }}[{{ end }}{{ printf "%-5s%q%5.2f" $e 'x' 1.5 | replaceAll " " "_" }}{{ else }}{{ `raw` }}{{ end }}{{ regexReplaceAll "(?i)H(\\d)" "${1}" .HOSTS }}{{ with $y := loop 3 1 }}{{ index $y 1 }}{{ end }} é"#;
        assert!(render(t, &env).is_ok());
        for i in 0..=t.len() {
            if t.is_char_boundary(i) {
                let _ = render(&t[..i], &env);
            }
        }
        let deep = "{{ if 1 }}".repeat(150) + &"{{ end }}".repeat(150);
        assert!(e(&deep).contains("nesting too deep"));
        // The deepest nesting allowed runs without exhausting a test
        // thread's stack in a debug build.
        let ok = "{{ range loop 1 }}{{ with 1 }}".repeat(49) + "x" + &"{{ end }}".repeat(98);
        assert_eq!(r(&ok), "x");
        let ok = "{{ ".to_string() + &"(print ".repeat(99) + "1" + &")".repeat(99) + " }}";
        assert_eq!(r(&ok), "1");
        let parens = "{{ ".to_string() + &"(".repeat(150) + "1" + &")".repeat(150) + " }}";
        assert!(e(&parens).contains("nesting too deep"));
        // Runaway loops run out of fuel (a costly body makes it quick).
        let t = r#"{{ $s := printf "%01000d" 0 }}{{ range loop 1000000 }}{{ range loop 1000000 }}{{ $t := print $s }}{{ end }}{{ end }}"#;
        assert!(e(t).contains("too expensive"));
        assert!(
            e("{{ range loop 1000000 }}{{ printf \"%1000000d\" 1 }}{{ end }}")
                .contains("output too large")
        );
        assert!(e(r#"{{ $x := "xxxxxxxxxxxxxxxx" }}{{ range loop 40 }}{{ $x = printf "%s%s" $x $x }}{{ end }}"#).contains("too"));
        assert!(
            e(r#"{{ $x := printf "%1000000d" 1 }}{{ replaceAll "" $x $x }}"#)
                .contains("result too large")
        );
        assert!(
            e(r#"{{ $x := printf "%01000000d" 1 }}{{ join $x (split "" $x) }}"#)
                .contains("result too large")
        );
        assert!(r(r#"{{ printf "%1000001d" 1 }}"#).starts_with("%!(BADWIDTH)"));
        // Work on inputs counts too: rescanning a big string, looking a
        // variable up through many, compiling a big regex.
        let t = r#"{{ $x := printf "%01000000d" 0 }}{{ range loop 1000000 }}{{ len (split "," $x) }}{{ end }}"#;
        assert!(e(t).contains("too expensive"));
        let vars = "{{ $v := 0 }}".to_string() + &"{{ $w := 0 }}".repeat(5000);
        let t = vars.clone() + "{{ range loop 1000000 }}{{ $v }}{{ end }}";
        assert!(e(&t).contains("too expensive"));
        let t = r#"{{ range loop 1000000 }}{{ regexReplaceAll "a{1000}b{1000}c{1000}d{1000}" "" "" }}{{ end }}"#;
        assert!(e(t).contains("too expensive"));
        let t = vars + &"{{ $w := 0 }}".repeat(5000);
        assert!(e(&t).contains("too many variables"));
    }
}
