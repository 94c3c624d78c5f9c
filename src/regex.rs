//! Regular expressions for the `regexReplaceAll` template function: the
//! RE2/Go syntax subset configurations use, run by a Pike VM (a Thompson
//! NFA whose threads carry capture slots), so matching never backtracks and
//! takes time linear in the text times the program size. Semantics are Go's
//! leftmost-first ones; `replace_all` is Go's `ReplaceAllString`, empty
//! matches and `$1`/`${1}`/`${name}` expansion included.
//!
//! Syntax: literals, `.`, classes `[a-z]` `[^...]` with Perl (`\d`) and
//! ASCII POSIX (`[:alpha:]`) classes inside, `\d \D \w \W \s \S`, escapes
//! (`\n \t \x41 \x{263a} \123 \.`), `^ $ \A \z \b \B`, groups `(...)`,
//! `(?:...)`, `(?P<name>...)`, `(?<name>...)`, `|`, `* + ? {n} {n,} {n,m}`
//! and their lazy forms, flags `(?imsU)`, `(?i:...)`, `(?-i)`.
//! Not supported: `\p{...}` Unicode classes, `\Q...\E`, `\C`.
//! Case folding (`(?i)`) is ASCII-only; `\w`, `\b` and `\d` are ASCII as
//! in Go. At most 100 capture groups, 10 000 bytes of pattern and 10 000
//! instructions (counting the copies `{n,m}` makes).

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

const MAX_INSTS: usize = 10_000;
const MAX_PATTERN: usize = 10_000;
const MAX_REPEAT: u32 = 1000;
const MAX_DEPTH: u32 = 200;
const MAX_GROUPS: usize = 100;
const MAX_CHAR: u32 = 0x10_FFFF;
/// An unset capture slot.
const NONE: u32 = u32::MAX;

const FOLD: u8 = 1;
const MULTI_LINE: u8 = 2;
const DOT_NL: u8 = 4;
const UNGREEDY: u8 = 8;

/// Sorted, non-overlapping inclusive code point ranges.
type Set = Rc<[(u32, u32)]>;

#[derive(Clone, Copy)]
enum Look {
    Begin,
    End,
    BeginLine,
    EndLine,
    Word,
    NotWord,
}

enum Node {
    Set(Set),
    Look(Look),
    Cap(Box<Node>, usize),
    Cat(Vec<Node>),
    Alt(Vec<Node>),
    /// Node, min, max (None: unbounded), greedy.
    Rep(Box<Node>, u32, Option<u32>, bool),
}

enum Inst {
    Set(Set),
    Look(Look),
    /// Try the first target, then the second.
    Split(usize, usize),
    Jmp(usize),
    Save(usize),
    Match,
}

/// A compiled regular expression.
pub struct Regex {
    prog: Vec<Inst>,
    /// Capture group names by group index; index 0 is the whole match.
    names: Vec<Option<String>>,
}

/// Named classes, as pairs of range ends: Perl's `\d \s \w`, then POSIX's.
const CLASSES: [(&str, &str); 17] = [
    ("d", "09"),
    ("s", "\t\n\x0c\r  "),
    ("w", "09AZ__az"),
    ("alnum", "09AZaz"),
    ("alpha", "AZaz"),
    ("ascii", "\0\x7f"),
    ("blank", "\t\t  "),
    ("cntrl", "\0\x1f\x7f\x7f"),
    ("digit", "09"),
    ("graph", "!~"),
    ("lower", "az"),
    ("print", " ~"),
    ("punct", "!/:@[`{~"),
    ("space", "\t\r  "),
    ("upper", "AZ"),
    ("word", "09AZ__az"),
    ("xdigit", "09AFaf"),
];

fn class(name: &str) -> Option<Vec<(u32, u32)>> {
    let (_, ends) = CLASSES.iter().find(|(n, _)| *n == name)?;
    let b = ends.as_bytes();
    let mut v = Vec::with_capacity(b.len() / 2);
    for p in b.chunks(2) {
        v.push((p[0] as u32, p[1] as u32));
    }
    Some(v)
}

/// Sorts and merges ranges.
fn normalize(mut v: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    // An insertion sort: classes are short (patterns are capped), and it
    // keeps a general sort routine out of the binary.
    for i in 1..v.len() {
        let at = v[..i].partition_point(|r| *r <= v[i]);
        v[at..=i].rotate_right(1);
    }
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn negate(v: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut next = 0;
    for (lo, hi) in normalize(v) {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi + 1;
    }
    if next <= MAX_CHAR {
        out.push((next, MAX_CHAR));
    }
    out
}

/// Adds the other ASCII case of every letter in the ranges.
fn fold(v: &mut Vec<(u32, u32)>) {
    for i in 0..v.len() {
        let (lo, hi) = v[i];
        for (a, z) in [(b'a', b'z'), (b'A', b'Z')] {
            let (l, h) = (lo.max(a as u32), hi.min(z as u32));
            if l <= h {
                v.push((l ^ 0x20, h ^ 0x20));
            }
        }
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

enum Esc {
    Char(u32),
    Set(Vec<(u32, u32)>),
    Look(Look),
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    flags: u8,
    names: Vec<Option<String>>,
}

type PResult<T> = Result<T, &'static str>;

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, p: &str) -> bool {
        let ok = self.rest().starts_with(p);
        if ok {
            self.pos += p.len();
        }
        ok
    }

    /// The set of one range.
    #[inline(never)]
    fn range(&self, lo: u32, hi: u32) -> Node {
        self.set(vec![(lo, hi)])
    }

    fn set(&self, mut v: Vec<(u32, u32)>) -> Node {
        if self.flags & FOLD != 0 {
            fold(&mut v);
        }
        Node::Set(normalize(v).into())
    }

    fn alt(&mut self, depth: u32) -> PResult<Node> {
        if depth > MAX_DEPTH {
            return Err("expression nests too deeply");
        }
        let mut alts = vec![self.cat(depth)?];
        while self.eat("|") {
            alts.push(self.cat(depth)?);
        }
        Ok(if alts.len() == 1 {
            alts.swap_remove(0)
        } else {
            Node::Alt(alts)
        })
    }

    fn cat(&mut self, depth: u32) -> PResult<Node> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            if c == '*' || c == '+' || c == '?' || (c == '{' && self.repeat_op()?.is_some()) {
                return Err("missing argument to repetition operator");
            }
            self.pos += c.len_utf8();
            let atom = match c {
                '(' => match self.group(depth)? {
                    Some(n) => n,
                    None => continue,
                },
                '[' => self.class()?,
                '.' if self.flags & DOT_NL != 0 => self.range(0, MAX_CHAR),
                '.' => self.set(vec![(0, 9), (11, MAX_CHAR)]),
                '^' | '$' => Node::Look(match (c == '^', self.flags & MULTI_LINE != 0) {
                    (true, false) => Look::Begin,
                    (true, true) => Look::BeginLine,
                    (false, false) => Look::End,
                    (false, true) => Look::EndLine,
                }),
                '\\' => match self.escape(false)? {
                    Esc::Char(c) => self.range(c, c),
                    Esc::Set(v) => self.set(v),
                    Esc::Look(l) => Node::Look(l),
                },
                c => self.range(c as u32, c as u32),
            };
            items.push(self.quantified(atom)?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Node::Cat(items)
        })
    }

    fn quantified(&mut self, atom: Node) -> PResult<Node> {
        let Some((min, max)) = self.repeat_op()? else {
            return Ok(atom);
        };
        let greedy = self.eat("?") == (self.flags & UNGREEDY != 0);
        if self.repeat_op()?.is_some() {
            return Err("invalid nested repetition operator");
        }
        Ok(Node::Rep(Box::new(atom), min, max, greedy))
    }

    /// Consumes a repetition operator, if one is at the cursor. A `{` that
    /// does not start `{n}`, `{n,}` or `{n,m}` is a literal.
    fn repeat_op(&mut self) -> PResult<Option<(u32, Option<u32>)>> {
        let op = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => {
                let body = &self.rest()[1..];
                let Some(end) = body.find('}') else {
                    return Ok(None);
                };
                let num = |t: &str| {
                    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| {
                        t.bytes().fold(0u32, |n, b| {
                            n.saturating_mul(10).saturating_add((b - b'0') as u32)
                        })
                    })
                };
                let body = &body[..end];
                let (a, b) = match body.split_once(',') {
                    None => (body, Some(body)),
                    Some((a, b)) => (a, (!b.is_empty()).then_some(b)),
                };
                let Some(min) = num(a) else {
                    return Ok(None);
                };
                let max = match b.map(num) {
                    None => None,
                    Some(Some(m)) => Some(m),
                    Some(None) => return Ok(None),
                };
                if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
                    return Err("invalid repeat count");
                }
                self.pos += end + 2;
                return Ok(Some((min, max)));
            }
            _ => return Ok(None),
        };
        self.pos += 1;
        Ok(Some(op))
    }

    /// After `(`: a group, or None for a flag setting such as `(?i)`.
    fn group(&mut self, depth: u32) -> PResult<Option<Node>> {
        let saved = self.flags;
        let (mut name, mut cap) = (None, true);
        if self.eat("?P<") || self.eat("?<") {
            let end = self.rest().find('>').ok_or("invalid named capture")?;
            let n = &self.rest()[..end];
            if n.is_empty() || !n.bytes().all(is_word) {
                return Err("invalid named capture");
            }
            if self.names.iter().any(|x| x.as_deref() == Some(n)) {
                return Err("duplicate capture group name");
            }
            name = Some(n.to_owned());
            self.pos += end + 1;
        } else if self.eat("?") {
            let (mut flags, mut neg, mut saw) = (self.flags, false, false);
            loop {
                let c = self.bump().ok_or("missing closing )")?;
                let bit = match c {
                    'i' => FOLD,
                    'm' => MULTI_LINE,
                    's' => DOT_NL,
                    'U' => UNGREEDY,
                    '-' if !neg => {
                        (neg, saw) = (true, false);
                        continue;
                    }
                    ':' | ')' if saw || !neg => {
                        self.flags = flags;
                        if c == ')' {
                            return Ok(None);
                        }
                        break;
                    }
                    _ => return Err("invalid or unsupported Perl syntax"),
                };
                saw = true;
                flags = if neg { flags & !bit } else { flags | bit };
            }
            cap = false;
        }
        if cap {
            if self.names.len() > MAX_GROUPS {
                return Err("too many capture groups");
            }
            self.names.push(name);
        }
        let index = self.names.len() - 1;
        let node = self.alt(depth + 1)?;
        if !self.eat(")") {
            return Err("missing closing )");
        }
        self.flags = saved;
        Ok(Some(if cap {
            Node::Cap(Box::new(node), index)
        } else {
            node
        }))
    }

    /// After `[`: a character class.
    fn class(&mut self) -> PResult<Node> {
        let neg = self.eat("^");
        let mut v = Vec::new();
        let mut first = true;
        loop {
            let c = self.peek().ok_or("missing closing ]")?;
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if self.rest().starts_with("[:")
                && let Some(end) = self.rest()[2..].find(":]").map(|i| i + 2)
            {
                // [:alpha:] and [:^alpha:]; the one-letter names are Perl's.
                let name = &self.rest()[2..end];
                let (not, name) = match name.strip_prefix('^') {
                    Some(n) => (true, n),
                    None => (false, name),
                };
                let set = class(name)
                    .filter(|_| name.len() > 1)
                    .ok_or("invalid character class range")?;
                v.extend(if not { negate(set) } else { set });
                self.pos += end + 2;
                continue;
            }
            let lo = match self.class_char()? {
                Esc::Char(c) => c,
                Esc::Set(s) => {
                    v.extend(s);
                    continue;
                }
                Esc::Look(_) => return Err("invalid escape sequence"),
            };
            let mut hi = lo;
            if self.rest().starts_with('-') && !self.rest().starts_with("-]") {
                self.pos += 1;
                match self.class_char()? {
                    Esc::Char(c) if c >= lo => hi = c,
                    _ => return Err("invalid character class range"),
                }
            }
            v.push((lo, hi));
        }
        if self.flags & FOLD != 0 {
            fold(&mut v);
        }
        Ok(Node::Set(if neg { negate(v) } else { normalize(v) }.into()))
    }

    fn class_char(&mut self) -> PResult<Esc> {
        match self.bump().ok_or("missing closing ]")? {
            '\\' => self.escape(true),
            c => Ok(Esc::Char(c as u32)),
        }
    }

    /// After a backslash.
    fn escape(&mut self, in_class: bool) -> PResult<Esc> {
        let c = self
            .bump()
            .ok_or("trailing backslash at end of expression")?;
        let digit = |c: Option<char>, radix| c.and_then(|c| c.to_digit(radix));
        Ok(Esc::Char(match c {
            'd' | 's' | 'w' | 'D' | 'S' | 'W' => {
                let name = match c.to_ascii_lowercase() {
                    'd' => "d",
                    's' => "s",
                    _ => "w",
                };
                let set = class(name).unwrap_or_default();
                return Ok(Esc::Set(if c.is_ascii_uppercase() {
                    negate(set)
                } else {
                    set
                }));
            }
            'A' | 'z' | 'b' | 'B' if !in_class => {
                return Ok(Esc::Look(match c {
                    'A' => Look::Begin,
                    'z' => Look::End,
                    'b' => Look::Word,
                    _ => Look::NotWord,
                }));
            }
            'a' => 7,
            'f' => 12,
            't' => 9,
            'n' => 10,
            'r' => 13,
            'v' => 11,
            '0'..='7' => {
                // "\1" alone would be a backreference, which RE2 lacks.
                if c != '0' && digit(self.peek(), 8).is_none() {
                    return Err("invalid escape sequence");
                }
                let mut r = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match digit(self.peek(), 8) {
                        Some(d) => r = r * 8 + d,
                        None => break,
                    }
                    self.pos += 1;
                }
                r
            }
            'x' => {
                let (mut r, mut n) = (0u32, 0);
                let brace = self.eat("{");
                while let Some(d) = digit(self.peek(), 16).filter(|_| brace || n < 2) {
                    r = r.saturating_mul(16).saturating_add(d);
                    n += 1;
                    self.pos += 1;
                }
                if n == 0 || (!brace && n < 2) || (brace && !self.eat("}")) || r > MAX_CHAR {
                    return Err("invalid escape sequence");
                }
                r
            }
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => c as u32,
            _ => return Err("invalid escape sequence"),
        }))
    }
}

fn emit(p: &mut Vec<Inst>, i: Inst) -> PResult<usize> {
    if p.len() >= MAX_INSTS {
        return Err("regex too large");
    }
    p.push(i);
    Ok(p.len() - 1)
}

fn compile(n: &Node, p: &mut Vec<Inst>) -> PResult<()> {
    match n {
        Node::Set(s) => _ = emit(p, Inst::Set(s.clone()))?,
        Node::Look(l) => _ = emit(p, Inst::Look(*l))?,
        Node::Cap(n, i) => {
            emit(p, Inst::Save(2 * i))?;
            compile(n, p)?;
            emit(p, Inst::Save(2 * i + 1))?;
        }
        Node::Cat(v) => {
            for n in v {
                compile(n, p)?;
            }
        }
        Node::Alt(v) => {
            let mut jumps = Vec::new();
            for (k, n) in v.iter().enumerate() {
                if k + 1 == v.len() {
                    compile(n, p)?;
                    break;
                }
                let s = emit(p, Inst::Split(0, 0))?;
                compile(n, p)?;
                jumps.push(emit(p, Inst::Jmp(0))?);
                p[s] = Inst::Split(s + 1, p.len());
            }
            for j in jumps {
                p[j] = Inst::Jmp(p.len());
            }
        }
        &Node::Rep(ref n, min, max, greedy) => {
            let split = |body, out| {
                if greedy {
                    Inst::Split(body, out)
                } else {
                    Inst::Split(out, body)
                }
            };
            for _ in 1..min {
                compile(n, p)?;
            }
            match max {
                // x{n,}: n-1 copies, then x+ as "L: x; split L, out".
                None if min > 0 => {
                    let l = p.len();
                    compile(n, p)?;
                    emit(p, split(l, p.len() + 1))?;
                }
                None => {
                    let s = emit(p, Inst::Split(0, 0))?;
                    compile(n, p)?;
                    emit(p, Inst::Jmp(s))?;
                    p[s] = split(s + 1, p.len());
                }
                // x{n,m}: n copies, then m-n optional ones.
                Some(max) => {
                    if min > 0 {
                        compile(n, p)?;
                    }
                    let mut splits = Vec::new();
                    for _ in min..max {
                        splits.push(emit(p, Inst::Split(0, 0))?);
                        compile(n, p)?;
                    }
                    let end = p.len();
                    for s in splits {
                        p[s] = split(s + 1, end);
                    }
                }
            }
        }
    }
    Ok(())
}

/// One list of threads, deduplicated by program counter (a sparse set);
/// its order is the threads' priority.
struct Threads {
    sparse: Vec<usize>,
    dense: Vec<(usize, Vec<u32>)>,
}

impl Threads {
    fn new(n: usize) -> Threads {
        Threads {
            sparse: vec![0; n],
            dense: Vec::new(),
        }
    }

    fn has(&self, pc: usize) -> bool {
        let i = self.sparse[pc];
        i < self.dense.len() && self.dense[i].0 == pc
    }
}

/// Characters before and after a position, for the assertions.
type Around = (Option<char>, Option<char>);

fn looks(l: Look, (prev, next): Around) -> bool {
    let w = |c: Option<char>| c.is_some_and(|c| c.is_ascii() && is_word(c as u8));
    match l {
        Look::Begin => prev.is_none(),
        Look::End => next.is_none(),
        Look::BeginLine => prev.is_none_or(|c| c == '\n'),
        Look::EndLine => next.is_none_or(|c| c == '\n'),
        Look::Word => w(prev) != w(next),
        Look::NotWord => w(prev) == w(next),
    }
}

enum Frame {
    Go(usize),
    Restore(usize, u32),
}

/// The matcher's working memory, reused across the searches of a replace.
struct Vm<'r> {
    re: &'r Regex,
    clist: Threads,
    nlist: Threads,
    stack: Vec<Frame>,
    /// Work left; a search stops (failing) when it runs out.
    fuel: u64,
}

impl Vm<'_> {
    /// Adds the thread at `pc` and everything reachable from it without
    /// consuming a character to `list` (depth first, so in priority order).
    fn add(&mut self, next: bool, pc: usize, caps: &mut [u32], pos: u32, at: Around) {
        let list = if next {
            &mut self.nlist
        } else {
            &mut self.clist
        };
        self.stack.push(Frame::Go(pc));
        while let Some(f) = self.stack.pop() {
            let pc = match f {
                Frame::Restore(slot, v) => {
                    caps[slot] = v;
                    continue;
                }
                Frame::Go(pc) => pc,
            };
            if list.has(pc) {
                continue;
            }
            self.fuel = self.fuel.saturating_sub(1);
            list.sparse[pc] = list.dense.len();
            let mut keep = Vec::new();
            match self.re.prog[pc] {
                Inst::Jmp(t) => self.stack.push(Frame::Go(t)),
                Inst::Split(a, b) => {
                    self.stack.push(Frame::Go(b));
                    self.stack.push(Frame::Go(a));
                }
                Inst::Save(slot) => {
                    self.stack.push(Frame::Restore(slot, caps[slot]));
                    caps[slot] = pos;
                    self.stack.push(Frame::Go(pc + 1));
                }
                Inst::Look(l) => {
                    if looks(l, at) {
                        self.stack.push(Frame::Go(pc + 1));
                    }
                }
                Inst::Set(_) | Inst::Match => {
                    self.fuel = self.fuel.saturating_sub(caps.len() as u64 / 16);
                    keep = caps.to_vec();
                }
            }
            list.dense.push((pc, keep));
        }
    }

    /// The leftmost-first match starting at or after `start`: capture
    /// slots, or None (also when out of fuel).
    fn search(&mut self, text: &str, start: usize) -> Option<Vec<u32>> {
        let nslots = self.re.names.len() * 2;
        let mut matched = None;
        let mut pos = start;
        let mut prev = text[..start].chars().next_back();
        self.clist.dense.clear();
        loop {
            let cur = text[pos..].chars().next();
            if matched.is_none() {
                let mut caps = vec![NONE; nslots];
                self.add(false, 0, &mut caps, pos as u32, (prev, cur));
            }
            if self.clist.dense.is_empty() || self.fuel == 0 {
                break;
            }
            let npos = pos + cur.map_or(0, char::len_utf8);
            let at = (cur, text[npos..].chars().next());
            self.nlist.dense.clear();
            let mut list = core::mem::take(&mut self.clist.dense);
            for (pc, caps) in list.iter_mut() {
                match &self.re.prog[*pc] {
                    Inst::Match => {
                        matched = Some(core::mem::take(caps));
                        break;
                    }
                    Inst::Set(s) => {
                        if let Some(c) = cur.map(|c| c as u32)
                            && s.iter().any(|&(lo, hi)| lo <= c && c <= hi)
                        {
                            self.add(true, *pc + 1, caps, npos as u32, at);
                        }
                    }
                    _ => {}
                }
            }
            self.clist.dense = list;
            if cur.is_none() {
                break;
            }
            core::mem::swap(&mut self.clist, &mut self.nlist);
            (pos, prev) = (npos, cur);
        }
        matched.filter(|_| self.fuel > 0)
    }

    fn new(re: &Regex, fuel: u64) -> Vm<'_> {
        Vm {
            re,
            clist: Threads::new(re.prog.len()),
            nlist: Threads::new(re.prog.len()),
            stack: Vec::new(),
            fuel,
        }
    }
}

impl Regex {
    /// Compiles `pattern`; errors read like Go's ("error parsing regexp: ...").
    pub fn new(pattern: &str) -> Result<Regex, String> {
        Regex::with_flags(pattern, 0)
    }

    /// `new` as if the pattern began with `(?i)` (ASCII case folding),
    /// with errors that quote the pattern as written: logs' `/regex/`.
    pub fn new_ignore_case(pattern: &str) -> Result<Regex, String> {
        Regex::with_flags(pattern, FOLD)
    }

    fn with_flags(pattern: &str, flags: u8) -> Result<Regex, String> {
        let err = |m: &str| format!("error parsing regexp: {m}: `{pattern}`");
        if pattern.len() > MAX_PATTERN {
            return Err(err("regex too large"));
        }
        let mut p = Parser {
            s: pattern,
            pos: 0,
            flags,
            names: vec![None],
        };
        let node = p.alt(0).map_err(err)?;
        if p.pos < pattern.len() {
            return Err(err("unexpected )"));
        }
        let mut prog = vec![Inst::Save(0)];
        compile(&node, &mut prog).map_err(err)?;
        prog.push(Inst::Save(1));
        prog.push(Inst::Match);
        Ok(Regex {
            prog,
            names: p.names,
        })
    }

    /// Whether the regex matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        Vm::new(self, u64::MAX).search(text, 0).is_some()
    }

    /// The byte ranges of the first match and its groups (None for a group
    /// that did not take part).
    pub fn captures(&self, text: &str) -> Option<Vec<Option<(usize, usize)>>> {
        let m = Vm::new(self, u64::MAX).search(text, 0)?;
        Some(
            m.chunks(2)
                .map(|p| (p[0] != NONE && p[1] != NONE).then(|| (p[0] as usize, p[1] as usize)))
                .collect(),
        )
    }

    /// Go's `ReplaceAllString`: every match replaced by `rep`, in which
    /// `$1`, `${1}`, `$name`, `${name}` stand for groups and `$$` for `$`.
    pub fn replace_all(&self, text: &str, rep: &str) -> String {
        let mut fuel = u64::MAX;
        self.replace_all_within(text, rep, &mut fuel)
            .unwrap_or_default()
    }

    /// `replace_all` spending `fuel`, a unit per thread step or byte of
    /// output, and giving up (None) when it runs out.
    pub fn replace_all_within(&self, text: &str, rep: &str, fuel: &mut u64) -> Option<String> {
        // Compiling and setting up cost a few units per instruction.
        let mut vm = Vm::new(self, fuel.saturating_sub(4 * self.prog.len() as u64));
        let out = self.replace(&mut vm, text, rep);
        *fuel = vm.fuel;
        out
    }

    fn replace(&self, vm: &mut Vm, text: &str, rep: &str) -> Option<String> {
        let mut out = String::new();
        let (mut last, mut search) = (0, 0);
        while search <= text.len() {
            let Some(m) = vm.search(text, search) else {
                break;
            };
            let (a, b) = (m[0] as usize, m[1] as usize);
            let len = out.len();
            out.push_str(&text[last..a]);
            // No replacement for an empty match right after a match.
            if b > last || a == 0 {
                self.expand(&mut out, rep, text, &m);
            }
            vm.fuel = vm.fuel.checked_sub((out.len() - len) as u64)?;
            last = b;
            let width = text[search..].chars().next().map_or(1, char::len_utf8);
            search = if search + width > b {
                search + width
            } else {
                b
            };
        }
        if vm.fuel == 0 {
            return None;
        }
        out.push_str(&text[last..]);
        Some(out)
    }

    /// Appends `rep` with its `$` references expanded (Go's Regexp.Expand).
    fn expand(&self, out: &mut String, mut rep: &str, text: &str, m: &[u32]) {
        while let Some(i) = rep.find('$') {
            out.push_str(&rep[..i]);
            rep = &rep[i + 1..];
            if let Some(r) = rep.strip_prefix('$') {
                out.push('$');
                rep = r;
                continue;
            }
            let brace = rep.starts_with('{');
            let body = &rep[brace as usize..];
            let n = body.bytes().take_while(|&b| is_word(b)).count();
            let name = &body[..n];
            if n == 0 || (brace && !body[n..].starts_with('}')) {
                out.push('$');
                continue;
            }
            rep = &body[n + brace as usize..];
            let number = name.bytes().all(|b| b.is_ascii_digit())
                && n <= 9
                && (n == 1 || !name.starts_with('0'));
            let group = if number {
                Some(name.bytes().fold(0, |g, b| g * 10 + (b - b'0') as usize))
            } else {
                self.names.iter().position(|x| x.as_deref() == Some(name))
            };
            if let Some(g) = group.filter(|&g| 2 * g + 1 < m.len()) {
                let span = m[2 * g] as usize..m[2 * g + 1] as usize;
                out.push_str(text.get(span).unwrap_or_default());
            }
        }
        out.push_str(rep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn rep(re: &str, text: &str, with: &str) -> String {
        Regex::new(re).unwrap().replace_all(text, with)
    }

    fn err(re: &str) -> String {
        match Regex::new(re) {
            Ok(_) => panic!("{re:?} compiled"),
            Err(e) => e,
        }
    }

    fn caps(re: &str, text: &str) -> Option<Vec<Option<(usize, usize)>>> {
        Regex::new(re).unwrap().captures(text)
    }

    #[test]
    fn replace_like_go() {
        // Go's regexp package documentation examples.
        assert_eq!(rep("a(x*)b", "-ab-axxb-", "T"), "-T-T-");
        assert_eq!(rep("a(x*)b", "-ab-axxb-", "$1"), "--xx-");
        assert_eq!(rep("a(x*)b", "-ab-axxb-", "$1W"), "---");
        assert_eq!(rep("a(x*)b", "-ab-axxb-", "${1}W"), "-W-xxW-");
        assert_eq!(rep("a(?P<1W>x*)b", "-ab-axxb-", "$1W"), "--xx-");
        assert_eq!(rep("a(?P<1W>x*)b", "-ab-axxb-", "${1}W"), "-W-xxW-");
        // Empty matches: none right after a match, one at the very end.
        assert_eq!(rep("a*", "baaac", "-"), "-b-c-");
        assert_eq!(rep("a*", "", "-"), "-");
        assert_eq!(rep("", "abc", "-"), "-a-b-c-");
        assert_eq!(rep("x*", "é", "-"), "-é-");
        assert_eq!(rep("a*?", "aaa", "-"), "-a-a-a-");
        assert_eq!(rep("a+?", "aaa", "-"), "---");
        assert_eq!(rep("b*", "abc", "X"), "XaXcX");
        // ContainerPilot's own test.
        assert_eq!(rep("[epa]+", "Template", "_"), "T_m_l_t_");
    }

    #[test]
    fn expansion() {
        let date = r"(?P<year>\d{4})-(?P<month>\d\d)";
        assert_eq!(rep(date, "on 2024-05.", "${month}/$year"), "on 05/2024.");
        assert_eq!(
            rep(date, "2024-05", "$$1 $ ${ ${year $2x ${2}x"),
            "$1 $ ${ ${year  05x"
        );
        assert_eq!(rep("(a)", "a", "$0$1$2$01$100"), "aa");
        assert_eq!(rep("(a)|(b)", "ab", "[$1|$2]"), "[a|][|b]");
        assert_eq!(rep("a", "a", "$"), "$");
        assert_eq!(rep("(?<x>a)", "a", "<$x>"), "<a>");
    }

    #[test]
    fn leftmost_first() {
        assert_eq!(caps("a|ab", "ab"), Some(vec![Some((0, 1))]));
        assert_eq!(caps("ab|a", "ab"), Some(vec![Some((0, 2))]));
        assert_eq!(caps("a*?b", "xaab"), Some(vec![Some((1, 4))]));
        assert_eq!(
            caps("(a+)(a*)", "aaa"),
            Some(vec![Some((0, 3)), Some((0, 3)), Some((3, 3))])
        );
        assert_eq!(
            caps("(a+?)(a*)", "aaa"),
            Some(vec![Some((0, 3)), Some((0, 1)), Some((1, 3))])
        );
        assert_eq!(caps("(a)|b", "b"), Some(vec![Some((0, 1)), None]));
        assert_eq!(caps("x{2,3}", "xxxxx"), Some(vec![Some((0, 3))]));
        assert_eq!(caps("x{2,3}?", "xxxxx"), Some(vec![Some((0, 2))]));
        assert_eq!(caps("(?U)x{2,3}", "xxxxx"), Some(vec![Some((0, 2))]));
        assert_eq!(caps("(?U)x+?", "xxx"), Some(vec![Some((0, 3))]));
        assert_eq!(caps("x{2}", "x"), None);
        assert_eq!(caps("x{2,}", "xxxx"), Some(vec![Some((0, 4))]));
        assert_eq!(caps("(x){0}y", "xy"), Some(vec![Some((1, 2)), None]));
        assert_eq!(rep("x{2,3}", "xxxxx", "-"), "--");
        assert_eq!(rep("(a|ab)(c|bcd)(d*)", "abcd", "[$1,$2,$3]"), "[a,bcd,]");
    }

    #[test]
    fn syntax() {
        let m = |re: &str, text: &str| Regex::new(re).unwrap().is_match(text);
        assert!(m("(?i)hello", "say HeLLo"));
        assert!(!m("hello", "HELLO"));
        assert!(m("(?i)[a-c]+x", "ABCX"));
        assert!(m("(?i:b)c", "Bc") && !m("(?i:b)c", "BC"));
        assert!(m("a(?i)b|c", "aC") && !m("(?i)a(?-i)b", "AB"));
        assert!(m("^abc$", "abc") && !m("^abc$", "abc\n") && !m("^b", "ab"));
        assert!(m("(?m)^b$", "a\nb\nc") && m(r"\Aa", "ab") && !m(r"a\z", "a\n"));
        assert!(m(r"\bfoo\b", "a foo.") && !m(r"\bfoo\b", "afoo") && m(r"\Boo", "foo"));
        assert!(!m("a.c", "a\nc") && m("(?s)a.c", "a\nc") && m("a.c", "aéc"));
        assert!(m("[^a]", "\n") && m(r"\D", "\n") && !m("[^\n]", "\n"));
        assert!(m(r"^\d+\.\d+$", "10.25") && !m(r"^\d+$", "1a"));
        assert!(m(r"^\w+\s\W$", "a_1 -") && m(r"^\S\s$", "x\t"));
        assert!(m(r"^[\d.]+$", "1.2") && m(r"^[^\d\s]+$", "ab") && !m(r"^[^\d\s]+$", "a b"));
        assert!(m("^[[:alpha:]]+[[:^alpha:]]$", "abc1") && m("^[[:punct:]]$", "@"));
        assert!(m("^[[:]+$", "[:") && m("^[a[:]$", ":"));
        assert!(m("^[]a]+$", "]a]") && m("^[^]]$", "x") && m("^[a-]+$", "-a"));
        assert!(m(r"^\x41\x{263a}\101\0\.\*\ $", "A☺A\0.* "));
        assert!(m("^a{$", "a{") && m("^a{,2}$", "a{,2}") && m("^a{1,x}$", "a{1,x}"));
        assert!(m("^(?:ab)+$", "abab") && m("^(a|)+$", "aa") && m("^()$", ""));
        assert!(m("^[é-ü]$", "ö") && m("^.$", "日"));
        assert!(m("^(a*)*$", "aaa") && m("^(a*)+b", "b") && m("(|a)*", "x"));
        assert!(m("(?s:.)(?m:$)", "a\n"));
    }

    #[test]
    fn errors() {
        assert_eq!(err("(a"), "error parsing regexp: missing closing ): `(a`");
        assert!(err("a)").contains("unexpected )"));
        assert!(err("a**").contains("invalid nested repetition operator"));
        assert!(err("*a").contains("missing argument to repetition operator"));
        assert!(err("(?i)*").contains("missing argument"));
        assert!(err("{2}").contains("missing argument"));
        assert!(err("[a").contains("missing closing ]"));
        assert!(err("[z-a]").contains("invalid character class range"));
        assert!(err("[[:foo:]]").contains("invalid character class range"));
        assert!(err("[[:]:]]").contains("invalid character class range"));
        assert!(err("x{1001}").contains("invalid repeat count"));
        assert!(err("x{3,2}").contains("invalid repeat count"));
        assert!(err(r"\1").contains("invalid escape"));
        assert!(err(r"\pL").contains("invalid escape"));
        assert!(err(r"\x{110000}").contains("invalid escape"));
        assert!(err(r"a\").contains("trailing backslash"));
        assert!(err("(?P<n>a)(?P<n>b)").contains("duplicate"));
        assert!(err("(?P<>a)").contains("invalid named capture"));
        assert!(err("(?z)").contains("invalid or unsupported Perl syntax"));
        assert!(err("(?i-)").contains("invalid or unsupported Perl syntax"));
        assert!(Regex::new("(?)").is_ok() && Regex::new("(?i-s:a)").is_ok());
        assert!(err("(a{1000}){1000}").contains("regex too large"));
        assert!(err(&"(?:".repeat(300)).contains("nests too deeply"));
        assert!(err(&"()".repeat(101)).contains("too many capture groups"));
        assert!(err(&"a".repeat(10_001)).contains("regex too large"));
        let big: String = (0..3000u32).rev().filter_map(char::from_u32).collect();
        assert!(
            Regex::new(&format!(
                "(?i)[{}]",
                big.replace(['\\', ']', '[', '^', '-'], "")
            ))
            .is_ok()
        );
    }

    #[test]
    fn linear_time() {
        // Catastrophic for a backtracker; quick here.
        let text = "x".repeat(5000);
        let re = Regex::new("(x+x+)+y").unwrap();
        assert!(!re.is_match(&text));
        assert_eq!(re.replace_all(&text, "-"), text);
        let re = Regex::new("(a?){30}a{30}").unwrap();
        assert!(re.is_match(&"a".repeat(30)));
        // The fuel bound gives up rather than run on.
        let re = Regex::new("x*y|x").unwrap();
        assert_eq!(re.replace_all_within(&text, "-", &mut 10_000), None);
        let mut fuel = 10_000;
        assert_eq!(
            re.replace_all_within("xx", "-", &mut fuel).as_deref(),
            Some("--")
        );
        assert!(fuel < 10_000);
        assert_eq!(re.replace_all(&text[..500], "").to_string(), "");
    }
}
