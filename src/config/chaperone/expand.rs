//! Chaperone's environments and their expansion language (its
//! `cutil/env.py`), sans-IO: backticks go to the caller's [`Shell`].
//!
//! An [`Env`] is a layer over its parent (process environment, then
//! `settings`, then a service or logging section): the parent's variables
//! that match an `env_inherit` glob, the user's HOME/USER/LOGNAME, then
//! `env_set`, minus the `env_unset` globs. Values stay unexpanded until
//! [`Env::expanded`], so a value is expanded in the innermost layer; a
//! variable whose own value refers to it (`PATH: /x:$(PATH)`) sees the value
//! of the layer it was set over ("" if that had none).
//!
//! The syntax: `$(…)` or `${…}` (`\$(` is a literal `$(`); the scanner nests
//! `() [] {}` and takes `"` and backticks as quotes, `'` not; an unclosed
//! `$(` and all after it stay as text. Inside, NAME runs to the first `:`,
//! then one operator char:
//! - `$(N)`: N's value; undefined, the text `$(N)` stays as written;
//! - `$(N:-w)` w if N is empty or undefined; `$(N:+w)` w if N is non-empty,
//!   else ""; `$(N:_w)` "" if non-empty, else w; `$(N:?msg)` an error msg
//!   if empty; `$(N:|a)` as `:+`, `$(N:|a|b)` a if non-empty else b,
//!   `$(N:|glob|a|b)` a if N matches glob (ASCII case ignored) else b (`\|`
//!   is a bar; after a 4th bar the text is dropped);
//! - `$(N:/re/repl/[i])`: every match of re replaced (`\1`, `\g<name>`,
//!   `\/` a slash), and the result expanded again;
//! - `$(`cmd`)`: the output of cmd.
//!
//! With an operator an undefined N is "". Branches are expanded only when
//! chosen. In a value being expanded (a variable's, a chosen branch), each
//! `` `cmd` `` then runs once its variables are expanded; in the top-level
//! text of a key (`command`, …) a backtick pair is left as it is, as
//! Chaperone left it. Output: trimmed, newlines made spaces.
//!
//! Where Chaperone silently stopped (circular references left partly
//! expanded), this reports an error naming the cycle.

use crate::regex::Regex;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

/// Nesting of expansions within expansions.
const MAX_DEPTH: u32 = 64;
/// The longest text an expansion may produce.
const MAX_LEN: usize = 1 << 20;
/// The work one expansion may do (bytes scanned, regex steps): a bound on
/// texts crafted to multiply (a `:/` replacement pasting a branch per
/// match, each expanded again).
const FUEL: u64 = 1 << 24;

/// Runs backtick commands for the evaluator.
pub trait Shell {
    /// `cmd` run by `/bin/sh -c` as `user` (uid, gid; None: tug's own),
    /// stdout and stderr together; "" after logging a failure. Chaperone
    /// ran each (user, command) once and reused the output.
    fn run(&mut self, cmd: &str, user: Option<(u32, u32)>) -> String;
}

/// The user a layer runs as: what Chaperone took from the passwd entry.
pub struct User<'a> {
    pub uid: u32,
    pub gid: u32,
    pub name: &'a str,
    pub home: &'a str,
}

/// One environment layer: unexpanded values, sorted by name.
#[derive(Default)]
pub struct Env {
    vars: Vec<(String, String)>,
    /// For each name an `env_set` gave (here or above): the layer it was
    /// set over, where a self-reference looks its value up.
    shadow: Vec<(String, Rc<Env>)>,
    pub user: Option<(u32, u32)>,
}

impl Env {
    /// The process environment.
    pub fn root(vars: Vec<(String, String)>) -> Env {
        let mut env = Env::default();
        for (k, v) in vars {
            env.set(k, v);
        }
        env
    }

    /// A layer over `parent`. An empty `inherit` inherits every name (as
    /// Chaperone's `or ['*']` did).
    pub fn layer(
        parent: &Rc<Env>,
        inherit: &[String],
        user: Option<User>,
        set: &[(String, String)],
        unset: &[String],
    ) -> Env {
        let mut env = Env {
            vars: Vec::new(),
            shadow: parent.shadow.clone(),
            user: parent.user,
        };
        for (k, v) in &parent.vars {
            if inherit.is_empty() || inherit.iter().any(|p| glob(p, k, false)) {
                env.vars.push((k.clone(), v.clone()));
            }
        }
        if let Some(u) = user {
            env.user = Some((u.uid, u.gid));
            env.set("HOME".into(), u.home.into());
            env.set("USER".into(), u.name.into());
            env.set("LOGNAME".into(), u.name.into());
        }
        for (k, v) in set {
            if parent.find(k).is_ok() {
                match env.shadow.binary_search_by(|(n, _)| n.as_str().cmp(k)) {
                    Ok(i) => env.shadow[i].1 = parent.clone(),
                    Err(i) => env.shadow.insert(i, (k.clone(), parent.clone())),
                }
            }
            env.set(k.clone(), v.clone());
        }
        let gone = |k: &str| unset.iter().any(|p| glob(p, k, false));
        env.vars.retain(|(k, _)| !gone(k));
        env.shadow.retain(|(k, _)| !gone(k));
        env
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.vars.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    /// Sets a raw (unexpanded) value.
    pub fn set(&mut self, name: String, value: String) {
        match self.find(&name) {
            Ok(i) => self.vars[i].1 = value,
            Err(i) => self.vars.insert(i, (name, value)),
        }
    }

    /// The raw value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).ok().map(|i| self.vars[i].1.as_str())
    }

    /// Every variable expanded, sorted by name.
    pub fn expanded(&self, sh: &mut dyn Shell) -> Result<Vec<(String, String)>, String> {
        let mut ex = Ex::new(&self.vars, &self.shadow, false, self.user, sh);
        for i in 0..self.vars.len() {
            ex.var_at(i)?;
        }
        Ok(self
            .vars
            .iter()
            .zip(ex.done)
            .map(|((k, _), v)| (k.clone(), v.unwrap_or_default()))
            .collect())
    }

    /// One variable expanded (None if undefined).
    fn expand_one(&self, name: &str, sh: &mut dyn Shell) -> Result<Option<String>, String> {
        let Ok(i) = self.find(name) else {
            return Ok(None);
        };
        Ex::new(&self.vars, &self.shadow, false, self.user, sh)
            .var_at(i)
            .map(Some)
    }
}

/// What a child process gets: no name starting with `_`, no empty value.
pub fn public(expanded: &[(String, String)]) -> Vec<(String, String)> {
    expanded
        .iter()
        .filter(|(k, v)| !k.starts_with('_') && !v.is_empty())
        .cloned()
        .collect()
}

/// Expands a config value (`command`, `directory`, …) against an
/// expanded environment (sorted by name, as [`Env::expanded`] gives it).
/// Backticks in `text` itself stay literal; `$(`cmd`)` and backticks in a
/// chosen branch run as `user`.
pub fn expand(
    text: &str,
    expanded: &[(String, String)],
    user: Option<(u32, u32)>,
    sh: &mut dyn Shell,
) -> Result<String, String> {
    Ex::new(expanded, &[], true, user, sh).scan(text, None)
}

struct Ex<'a> {
    vars: &'a [(String, String)],
    shadow: &'a [(String, Rc<Env>)],
    /// Values already expanded (by index in `vars`).
    done: Vec<Option<String>>,
    /// The variables being expanded, innermost last (for cycles).
    busy: Vec<usize>,
    /// Self-references looked up (by index in `shadow`).
    below: Vec<Option<String>>,
    fuel: u64,
    user: Option<(u32, u32)>,
    sh: &'a mut dyn Shell,
    depth: u32,
}

impl<'a> Ex<'a> {
    fn new(
        vars: &'a [(String, String)],
        shadow: &'a [(String, Rc<Env>)],
        done: bool,
        user: Option<(u32, u32)>,
        sh: &'a mut dyn Shell,
    ) -> Ex<'a> {
        Ex {
            vars,
            shadow,
            done: vars.iter().map(|(_, v)| done.then(|| v.clone())).collect(),
            busy: Vec::new(),
            below: alloc::vec![None; shadow.len()],
            fuel: FUEL,
            user,
            sh,
            depth: 0,
        }
    }

    /// The expanded value of `vars[i]`.
    fn var_at(&mut self, i: usize) -> Result<String, String> {
        if let Some(v) = &self.done[i] {
            return Ok(v.clone());
        }
        if let Some(at) = self.busy.iter().position(|&b| b == i) {
            let mut names: Vec<&str> = self.busy[at..]
                .iter()
                .map(|&b| self.vars[b].0.as_str())
                .collect();
            names.push(&self.vars[i].0);
            return Err(format!(
                "circular variable reference: {}",
                names.join(" -> ")
            ));
        }
        self.busy.push(i);
        let vars = self.vars;
        let (name, raw) = (&vars[i].0, &vars[i].1);
        let v = self.recurse(raw, Some(name))?;
        self.busy.pop();
        self.done[i] = Some(v.clone());
        Ok(v)
    }

    /// Variables, then backticks.
    fn recurse(&mut self, text: &str, parent: Option<&str>) -> Result<String, String> {
        let s = self.scan(text, parent)?;
        self.backticks(&s)
    }

    /// Every `$(…)`/`${…}` of `text` replaced; `parent` is the variable
    /// whose value `text` is.
    fn scan(&mut self, text: &str, parent: Option<&str>) -> Result<String, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(String::from("expansion nested too deeply"));
        }
        self.fuel = (self.fuel.checked_sub(text.len() as u64 + 1))
            .ok_or_else(|| String::from("expansion too long"))?;
        let b = text.as_bytes();
        let mut out = String::new();
        let (mut start, mut i) = (0, 0);
        while let Some(j) = (i..b.len().saturating_sub(1))
            .find(|&j| b[j] == b'$' && matches!(b[j + 1], b'(' | b'{'))
        {
            if j > start && b[j - 1] == b'\\' {
                out.push_str(&text[start..j - 1]);
                out.push('$');
                (start, i) = (j + 1, j + 1);
                continue;
            }
            out.push_str(&text[start..j]);
            let Some(end) = closing(b, j + 1) else {
                start = j;
                break;
            };
            let v = self.var(&text[j + 2..end], &text[j..=end], parent)?;
            out.push_str(&v);
            if out.len() > MAX_LEN {
                return Err(String::from("expansion too long"));
            }
            (start, i) = (end + 1, end + 1);
        }
        out.push_str(&text[start..]);
        self.depth -= 1;
        Ok(out)
    }

    /// One expansion: `body` inside `whole` (`$(body)`).
    // Not inlined: measured smaller (opt-level z, LTO).
    #[inline(never)]
    fn var(&mut self, body: &str, whole: &str, parent: Option<&str>) -> Result<String, String> {
        let op = body
            .split_once(':')
            .filter(|(n, r)| !n.is_empty() && r.starts_with(['-', '|', '?', '+', '_', '/']));
        let Some((name, rest)) = op else {
            if body.len() > 2 && body.starts_with('`') && body.ends_with('`') {
                return self.recurse(body, parent);
            }
            return Ok(self.value(body, parent)?.unwrap_or_else(|| whole.into()));
        };
        let val = self.value(name, parent)?.unwrap_or_default();
        let (oper, arg) = (rest.as_bytes()[0], &rest[1..]);
        let set = !val.is_empty();
        match oper {
            b'-' if !set => self.recurse(arg, None),
            b'+' if set => self.recurse(arg, None),
            b'_' if !set => self.recurse(arg, None),
            b'?' if !set => Err(self.recurse(arg, None)?),
            b'|' => {
                let parts = bars(arg);
                let pick = match parts.len() {
                    1 => set.then_some(arg),
                    2 => Some(if set { parts[0] } else { parts[1] }),
                    _ => {
                        let hit = glob(parts[0], &val.replace("\\|", "|"), true);
                        Some(if hit { parts[1] } else { parts[2] })
                    }
                };
                match pick {
                    Some(p) if parts.len() > 2 => self.recurse(&p.replace("\\|", "|"), None),
                    Some(p) => self.recurse(p, None),
                    None => Ok(String::new()),
                }
            }
            b'/' => {
                let Some((re, rep, fold)) = slash_op(arg) else {
                    return Err(format!("invalid regex replacement syntax in '{body}'"));
                };
                let re = if fold {
                    Regex::new_ignore_case(re)
                } else {
                    Regex::new(re)
                }
                .map_err(|e| format!("in '{body}': {e}"))?;
                let out = re
                    .replace_all_within(
                        &val,
                        &go_template(&rep.replace("\\/", "/")),
                        &mut self.fuel,
                    )
                    .ok_or_else(|| String::from("expansion too long"))?;
                self.recurse(&out, None)
            }
            b'-' | b'?' => Ok(val),
            _ => Ok(String::new()),
        }
    }

    /// A name's expanded value; a self-reference (`parent`) is the value
    /// the name had in the layer it was set over.
    fn value(&mut self, name: &str, parent: Option<&str>) -> Result<Option<String>, String> {
        if parent == Some(name) {
            let Ok(i) = self.shadow.binary_search_by(|(n, _)| n.as_str().cmp(name)) else {
                return Ok(Some(String::new()));
            };
            if self.below[i].is_none() {
                let env = self.shadow[i].1.clone();
                self.below[i] = Some(env.expand_one(name, self.sh)?.unwrap_or_default());
            }
            return Ok(self.below[i].clone());
        }
        match self.vars.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            Ok(i) => self.var_at(i).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Each `` `cmd` `` (non-empty) replaced by its output.
    fn backticks(&mut self, s: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(a) = rest.find('`') {
            let Some(len) = rest[a + 1..].find('`') else {
                break;
            };
            out.push_str(&rest[..a]);
            if len == 0 {
                out.push('`');
                rest = &rest[a + 1..];
                continue;
            }
            let got = self.sh.run(&rest[a + 1..a + 1 + len], self.user);
            out.push_str(&got.trim().replace('\n', " "));
            if out.len() > MAX_LEN {
                return Err(String::from("expansion too long"));
            }
            rest = &rest[a + 2 + len..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The index of the delimiter closing the one at `open`: `() [] {}` nest,
/// inside `"` or a backtick nothing but the closing quote counts.
fn closing(b: &[u8], open: usize) -> Option<usize> {
    const DELIMS: &[u8] = b")]}([{\"`";
    let mut stack: Vec<usize> = Vec::new();
    for (p, c) in b.iter().enumerate().skip(open) {
        let Some(ci) = DELIMS.iter().position(|d| d == c) else {
            continue;
        };
        let top = stack.last().copied();
        if top == Some(ci) {
            stack.pop();
            if stack.is_empty() {
                return Some(p);
            }
        } else if ci >= 3 && top.is_none_or(|t| t < 6) {
            stack.push(if ci < 6 { ci - 3 } else { ci });
        }
    }
    None
}

/// Splits at bars not preceded by `\`, into at most 4 parts.
fn bars(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let b = s.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'|' && (i == 0 || b[i - 1] != b'\\') && parts.len() < 3 {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// `re/repl/` plus `i` flags: Python's `^(.+)(?<!\\)/(.*)(?<!\\)/([i]*)$`.
// Not inlined: measured smaller (opt-level z, LTO).
#[inline(never)]
fn slash_op(s: &str) -> Option<(&str, &str, bool)> {
    let body = s.trim_end_matches('i');
    let fold = body.len() < s.len();
    let b = body.as_bytes();
    let p2 = b.len().checked_sub(1).filter(|&p| b[p] == b'/')?;
    if p2 > 0 && b[p2 - 1] == b'\\' {
        return None;
    }
    let p1 = (1..p2).rev().find(|&p| b[p] == b'/' && b[p - 1] != b'\\')?;
    Some((&body[..p1], &body[p1 + 1..p2], fold))
}

/// A Python `re.sub` replacement as the regex engine's Go-style template:
/// `\1` `\g<1>` `\g<name>` groups, `\n` `\t` `\\` escapes, `$` literal.
// Not inlined: measured smaller (opt-level z, LTO).
#[inline(never)]
fn go_template(rep: &str) -> String {
    let mut out = String::new();
    let mut it = rep.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match it.peek().copied() {
                Some(d @ '0'..='9') => {
                    it.next();
                    let mut n = String::from(d);
                    if let Some(e) = it.next_if(char::is_ascii_digit) {
                        n.push(e);
                    }
                    out.push_str(&format!("${{{n}}}"));
                }
                Some('g') => {
                    it.next();
                    if it.next_if_eq(&'<').is_some() {
                        let name: String = it.by_ref().take_while(|&c| c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some(e @ ('n' | 't' | 'r' | 'f' | 'v' | 'a' | '\\')) => {
                    it.next();
                    out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'f' => '\x0c',
                        'v' => '\x0b',
                        'a' => '\x07',
                        _ => '\\',
                    });
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// Python's `fnmatch` pattern: `*`, `?`, `[set]`, `[!set]` (a `[` without
/// its `]` is literal); `fold` ignores ASCII case.
pub fn glob(pat: &str, s: &str, fold: bool) -> bool {
    let low = |s: &str| -> Vec<char> {
        s.chars()
            .map(|c| if fold { c.to_ascii_lowercase() } else { c })
            .collect()
    };
    let (p, t) = (low(pat), low(s));
    // One element at p[i] against c: Some((matched, next i)).
    let one = |i: usize, c: char| -> (bool, usize) {
        match p[i] {
            '?' => (true, i + 1),
            '[' => match set(&p, i, c) {
                Some(r) => r,
                None => (c == '[', i + 1),
            },
            x => (x == c, i + 1),
        }
    };
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            pi += 1;
            star = Some((pi, ti));
            continue;
        }
        if pi < p.len() {
            let (ok, next) = one(pi, t[ti]);
            if ok {
                pi = next;
                ti += 1;
                continue;
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A `[...]` set at p[i] against c: (matched, index after it), or None if
/// it has no closing `]`.
fn set(p: &[char], i: usize, c: char) -> Option<(bool, usize)> {
    let mut j = i + 1;
    let neg = p.get(j) == Some(&'!');
    j += usize::from(neg);
    let first = j;
    let mut hit = false;
    while j < p.len() && (p[j] != ']' || j == first) {
        if p.get(j + 1) == Some(&'-') && p.get(j + 2).is_some_and(|&e| e != ']') {
            hit |= (p[j]..=p[j + 2]).contains(&c);
            j += 3;
        } else {
            hit |= p[j] == c;
            j += 1;
        }
    }
    (j < p.len()).then_some((hit != neg, j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// `echo ARGS` prints ARGS with `"` removed; anything else fails.
    #[derive(Default)]
    struct Echo(Vec<(String, Option<(u32, u32)>)>);

    impl Shell for Echo {
        fn run(&mut self, cmd: &str, user: Option<(u32, u32)>) -> String {
            self.0.push((cmd.to_string(), user));
            match cmd.strip_prefix("echo ") {
                Some(args) => args.replace('"', "") + "\n",
                None => String::new(),
            }
        }
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn show(expanded: &[(String, String)]) -> String {
        let parts: Vec<String> = expanded.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.join("\n")
    }

    fn expand_all(list: &[(&str, &str)]) -> Result<String, String> {
        Env::root(vars(list))
            .expanded(&mut Echo::default())
            .map(|e| show(&e))
    }

    // Chaperone's tests/env_expand.py, ENV1 and ENV4 (without the circular
    // entries, which tug reports) and ENV8.
    const ENV4: &[(&str, &str)] = &[
        ("HOME", "/usr/garyw"),
        ("APPS-DIR", "$(HOME)/apps"),
        ("ANOTHER", "$(APPS-DIR)/theap"),
        ("TWO", "$(HOME) and $(APPS-DIR)"),
        ("MAYBE1", "$(HOAX)/foo"),
        ("MAYBE2", "$(HOAX:-blach)/footwo"),
        ("MAYBE3", "$(HOAX:+blach)/foo"),
        ("MAYBE4", "$(HOME:-blach)/foo"),
        ("MAYBE4B", "$(HOME:_blach)/foo and $(HUME:_bleech)"),
        ("MAYBE5", "$(HOME:+blach)/foo"),
        ("MAYBE6", "$(HOAX:-$(MAYBE2))/foo"),
        (
            "UBERNEST",
            "nest:$(HOME:+$(HOAX:-inside${TWO})) and:$(ANOTHER)",
        ),
        (
            "UBERNEST-DEEP",
            "nest:$(HOME:+$(HOAX:-inside$(TWO))) and:$(ANOTHER)",
        ),
    ];

    #[test]
    fn chaperone_env_expand() {
        let env1 = [
            ("HOME", "/usr/garyw"),
            ("APPS-DIR", "$(HOME)/apps"),
            ("ANOTHER", "$(APPS-DIR)/theap"),
            ("RECUR2", "$(RECUR1)..$(APPS-DIR)"),
            ("RECUR1", "two-$(RECUR3)-$(HOME)"),
            ("REF-RECUR", "$(ANOTHER) BUT NOT $(RECUR1)"),
            ("RECUR3", "three:$(RECUR9)"),
            ("BTEST1", "$(`echo \"12\" \"34${HOME}\"`)"),
            ("BTEST2", "$(`echo \"12\" \"34${HOME}\"` x)"),
            ("BTEST3", "$(`echo HO`ME)"),
        ];
        assert_eq!(
            expand_all(&env1).unwrap(),
            "ANOTHER=/usr/garyw/apps/theap\nAPPS-DIR=/usr/garyw/apps\n\
             BTEST1=12 34/usr/garyw\nBTEST2=$(12 34${HOME} x)\nBTEST3=$(HOME)\n\
             HOME=/usr/garyw\nRECUR1=two-three:$(RECUR9)-/usr/garyw\n\
             RECUR2=two-three:$(RECUR9)-/usr/garyw../usr/garyw/apps\n\
             RECUR3=three:$(RECUR9)\n\
             REF-RECUR=/usr/garyw/apps/theap BUT NOT two-three:$(RECUR9)-/usr/garyw"
        );
        assert_eq!(
            expand_all(ENV4).unwrap(),
            "ANOTHER=/usr/garyw/apps/theap\nAPPS-DIR=/usr/garyw/apps\nHOME=/usr/garyw\n\
             MAYBE1=$(HOAX)/foo\nMAYBE2=blach/footwo\nMAYBE3=/foo\nMAYBE4=/usr/garyw/foo\n\
             MAYBE4B=/foo and bleech\nMAYBE5=blach/foo\nMAYBE6=blach/footwo/foo\n\
             TWO=/usr/garyw and /usr/garyw/apps\n\
             UBERNEST=nest:inside/usr/garyw and /usr/garyw/apps and:/usr/garyw/apps/theap\n\
             UBERNEST-DEEP=nest:inside/usr/garyw and /usr/garyw/apps and:/usr/garyw/apps/theap"
        );
        let env8 = [
            ("ONE", "number-1"),
            ("TWO", "number-2"),
            ("IFONE", "set $(ONE:|onlyifone)"),
            ("IFNOTONE", "ONE: $(ONE:|is_set|not_set)"),
            ("IFNOTXXX", "XXX: $(XXX:|is_set|not_set)"),
            ("IFNOTZZZ", "XXX: $(XXX:|is_set|$(IFNOTXXX))"),
            (
                "TRIO1",
                "T1-ONE: $(ONE:|number-1|It^s ^number-1^|It is not ^number-1^)",
            ),
            (
                "TRIO2",
                "T2-ONE: $(ONE:|number-2|It^s ^number-2^|It is not ^number-2^)",
            ),
            (
                "TRIO3c",
                "T3c-IFONE: $(IFNOTZZZ:|XXX: XXX: not_set|matches ^$(IFNOTXXX)^ correctly|Does not match correctly)",
            ),
            (
                "TRIO3d",
                "T3d-IFONE: $(IFNOTZZZ:|XXX: XXY: not_set|matches ^$(IFNOTXXX)^ correctly|Does not match correctly with $(IFNOTZZZ))",
            ),
            ("MUSTBE", "$(ONE:?Variable ONE is required)"),
            ("SUB1", "$(ONE:/umb/oob/)"),
            ("SUB2", "$(ONE:/umb/oob-$(TWO)-/)"),
            ("SUB3", r"$(ONE:/umb/oob\/meyer/)"),
            ("SUB4", r"$(SUB3:/\//\/(slash)/)"),
            ("SUB5", r"$(ONE:/umB/oob\/meyer/i)"),
            ("SUB6", r"$(ONE:/umB/oob\/meyer/)"),
            ("SUB7", r"$(IFNOTONE:/ONE: (.+)/MODONE: \1/)"),
        ];
        assert_eq!(
            expand_all(&env8).unwrap(),
            "IFNOTONE=ONE: is_set\nIFNOTXXX=XXX: not_set\nIFNOTZZZ=XXX: XXX: not_set\n\
             IFONE=set onlyifone\nMUSTBE=number-1\nONE=number-1\nSUB1=noober-1\n\
             SUB2=noob-number-2-er-1\nSUB3=noob/meyerer-1\nSUB4=noob/(slash)meyerer-1\n\
             SUB5=noob/meyerer-1\nSUB6=number-1\nSUB7=MODONE: is_set\n\
             TRIO1=T1-ONE: It^s ^number-1^\nTRIO2=T2-ONE: It is not ^number-2^\n\
             TRIO3c=T3c-IFONE: matches ^XXX: not_set^ correctly\n\
             TRIO3d=T3d-IFONE: Does not match correctly with XXX: XXX: not_set\nTWO=number-2"
        );
    }

    #[test]
    fn cycles_are_errors() {
        let env2 = [
            ("HOME", "/usr/garyw"),
            ("RECUR2", "$(RECUR1)..$(HOME)"),
            ("RECUR1", "two-$(RECUR3)-$(HOME)"),
            ("RECUR3", "three:$(RECUR2)"),
        ];
        assert_eq!(
            expand_all(&env2).unwrap_err(),
            "circular variable reference: RECUR1 -> RECUR3 -> RECUR2 -> RECUR1"
        );
        let loop1 = [("A", "x$(B:-$(A))"), ("B", "")];
        assert_eq!(
            expand_all(&loop1).unwrap_err(),
            "circular variable reference: A -> A"
        );
    }

    #[test]
    fn config_values() {
        let mut sh = Echo::default();
        let env = Env::root(vars(ENV4)).expanded(&mut sh).unwrap();
        let mut x = |t: &str| expand(t, &env, Some((5, 6)), &mut sh);
        let cases = [
            (
                "hello $(UBERNEST)",
                "hello nest:inside/usr/garyw and /usr/garyw/apps and:/usr/garyw/apps/theap",
            ),
            (
                "hello $(MAYBE5) and $(MAYBE4)",
                "hello blach/foo and /usr/garyw/foo",
            ),
            (
                "hello $(MAYBE5:+$(MAYBE5)b) and $(MAYBE41)",
                "hello blach/foob and $(MAYBE41)",
            ),
            (
                "hello $(MAYBE5:+$(MAYBE5)b) and $(MAYBE41:-gone$(MAYBE4))",
                "hello blach/foob and gone/usr/garyw/foo",
            ),
            (r"\$(HOME) $(HOME)", "$(HOME) /usr/garyw"),
            ("${HOME} ${X//a/b} $(X:y)", "/usr/garyw ${X//a/b} $(X:y)"),
            ("$(HOME) $(HOME", "/usr/garyw $(HOME"),
            ("$(HOME:-a) $(A $(HOME)", "/usr/garyw $(A $(HOME)"),
            ("a$(HOAX:-\"(\")b", "a\"(\"b"),
            (
                "$(HOAX:-(x)) [$(HOAX:-[y])] {${HOAX:-{z}}}",
                "(x) [[y]] {{z}}",
            ),
            // Backticks: literal in the value itself, run in a branch.
            ("echo `date` $(`echo hi`)", "echo `date` hi"),
            ("$(HOME:+`echo a  b  `)", "a  b"),
            ("$(HOME:|*GARY*|yes|no) $(HOME:|/x*|yes|no)", "yes no"),
            ("$(HOME:|a\\|b) $(HOAX:|a|b|c|dropped)", "a\\|b c"),
            ("$(HOME:/(u)sr/\\1\\1-$$-\\g<1>/)", "/uu-$$-u/garyw"),
        ];
        for (text, want) in cases {
            assert_eq!(x(text).unwrap(), want, "{text}");
        }
        assert_eq!(x("$(HOAX:?HOAX is needed)").unwrap_err(), "HOAX is needed");
        assert_eq!(
            x("$(HOME:/a)").unwrap_err(),
            "invalid regex replacement syntax in 'HOME:/a'"
        );
        assert!(
            x("$(HOME:/+/x/)")
                .unwrap_err()
                .starts_with("in 'HOME:/+/x/': error parsing regexp")
        );
        let deep = "$(HOAX:-".repeat(100);
        assert_eq!(x(&deep).unwrap(), deep);
        let deep = format!("{}{}", "$(HOAX:-".repeat(100), ")".repeat(100));
        assert_eq!(x(&deep).unwrap_err(), "expansion nested too deeply");
        assert_eq!(
            sh.0.last().unwrap(),
            &("echo a  b  ".to_string(), Some((5, 6)))
        );
        // A replacement pasting a branch per match, nested: bounded work.
        let many = vars(&[("A", &"a".repeat(200))]);
        let mut bomb = String::from("x");
        for _ in 0..4 {
            let esc = bomb.replace('\\', "\\\\").replace('/', "\\/");
            bomb = format!("$(A:/a/{esc}/)");
        }
        let two = "$(A:/a/$(A:\\/a\\/x\\/)/)";
        assert_eq!(expand(two, &many, None, &mut sh).unwrap().len(), 40_000);
        assert_eq!(
            expand(&bomb, &many, None, &mut sh).unwrap_err(),
            "expansion too long"
        );
    }

    #[test]
    fn layers() {
        // env_expand.py's test_expand6 and test_expand7.
        let mut sh = Echo::default();
        let root = Rc::new(Env::root(vars(&[
            ("PATH", "/bin"),
            ("THEREPATH", "/there"),
        ])));
        let set = |l: &[(&str, &str)]| vars(l);
        let a = Rc::new(Env::layer(
            &root,
            &[],
            None,
            &set(&[("PATH", "/usr/local/bin:$(PATH)")]),
            &[],
        ));
        assert_eq!(
            show(&a.expanded(&mut sh).unwrap()),
            "PATH=/usr/local/bin:/bin\nTHEREPATH=/there"
        );
        let b = Rc::new(Env::layer(&a, &[], None, &[], &[]));
        assert_eq!(
            show(&b.expanded(&mut sh).unwrap()),
            "PATH=/usr/local/bin:/bin\nTHEREPATH=/there"
        );
        let c4 = set(&[
            ("PATH", "/usr/python/bin:$(PATH)"),
            ("PYPATH", "/pythonlibs:$(PYPATH)"),
            ("MISCPATH", "/mislibs$(MISCPATH:+:)$(MISCPATH)"),
            ("PYAGAIN", "/mislibs$(PYPATH:+:)$(PYPATH)"),
            ("THEREPATH", "/mislibs$(THEREPATH:+:)$(THEREPATH)"),
        ]);
        let c = Env::layer(&b, &[], None, &c4, &[]);
        assert_eq!(
            show(&c.expanded(&mut sh).unwrap()),
            "MISCPATH=/mislibs\nPATH=/usr/python/bin:/usr/local/bin:/bin\n\
             PYAGAIN=/mislibs:/pythonlibs:\nPYPATH=/pythonlibs:\nTHEREPATH=/mislibs:/there"
        );
        let root = Rc::new(Env::root(vars(&[("FIRSTPORT", "999"), ("ALTPORT", "777")])));
        let c7 = set(&[
            ("FIRSTPORT", "$(FIRSTPORT:-443)"),
            ("SECONDPORT", "$(SECONDPORT:-443)"),
            ("THIRDPORT", "$(FIRSTPORT:-443)"),
            ("FOURTHPORT", "$(ALTPORT:-443)"),
        ]);
        let e = Env::layer(&root, &[], None, &c7, &[]);
        assert_eq!(
            show(&e.expanded(&mut sh).unwrap()),
            "ALTPORT=777\nFIRSTPORT=999\nFOURTHPORT=777\nSECONDPORT=443\nTHIRDPORT=999"
        );
    }

    #[test]
    fn inherit_user_unset_public() {
        let mut sh = Echo::default();
        let root = Rc::new(Env::root(vars(&[
            ("PATH", "/bin"),
            ("HOME", "/root"),
            ("_CHAP_CONFIG_DIR", "/etc"),
            ("LANG", "C"),
            ("TERM", "xterm"),
        ])));
        let globs = |l: &[&str]| -> Vec<String> { l.iter().map(|s| s.to_string()).collect() };
        let user = User {
            uid: 1000,
            gid: 100,
            name: "app",
            home: "/home/app",
        };
        let set = vars(&[
            ("APP", "$(HOME)/x"),
            ("EMPTY", ""),
            ("CFG", "$(_CHAP_CONFIG_DIR)"),
            ("WHO", "`echo $(USER)`"),
        ]);
        let s = Env::layer(
            &root,
            &globs(&["PATH", "_*", "T?RM"]),
            Some(user),
            &set,
            &globs(&["TE*"]),
        );
        assert_eq!(s.user, Some((1000, 100)));
        let all = s.expanded(&mut sh).unwrap();
        assert_eq!(
            show(&all),
            "APP=/home/app/x\nCFG=/etc\nEMPTY=\nHOME=/home/app\nLOGNAME=app\nPATH=/bin\n\
             USER=app\nWHO=app\n_CHAP_CONFIG_DIR=/etc"
        );
        assert_eq!(sh.0, [("echo app".to_string(), Some((1000, 100)))]);
        assert_eq!(
            show(&public(&all)),
            "APP=/home/app/x\nCFG=/etc\nHOME=/home/app\nLOGNAME=app\nPATH=/bin\nUSER=app\nWHO=app"
        );
        // Lazy: a child's HOME changes what the parent's APP means.
        let s = Rc::new(s);
        let child = Env::layer(&s, &[], None, &vars(&[("HOME", "/srv")]), &[]);
        let all = child.expanded(&mut sh).unwrap();
        assert!(show(&all).contains("APP=/srv/x"));
    }

    #[test]
    fn globs() {
        let cases = [
            ("*", "", true),
            ("*", "abc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbb", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("[ab]x", "bx", true),
            ("[!ab]x", "bx", false),
            ("[!ab]x", "cx", true),
            ("[a-c]", "b", true),
            ("[a-]", "-", true),
            ("[]]", "]", true),
            ("[x", "[x", true),
            ("*a*b", "xaxxb", true),
            ("_*", "_CHAP", true),
            ("_*", "X_", false),
        ];
        for (p, s, want) in cases {
            assert_eq!(glob(p, s, false), want, "{p} {s}");
        }
        assert!(glob("*GARY*", "/usr/garyw", true));
        assert!(!glob("*GARY*", "/usr/garyw", false));
        assert_eq!(slash_op("a/b/"), Some(("a", "b", false)));
        assert_eq!(slash_op(r"a\/b/c/ii"), Some((r"a\/b", "c", true)));
        assert_eq!(slash_op(r"a/b\/"), None);
        assert_eq!(slash_op("/b/"), None);
        assert_eq!(go_template(r"$1\2\\\n\g<x>\."), "$$1${2}\\\n${x}\\.");
    }
}
