//! Selectors: which records an output takes, in syslog.conf's notation as
//! Chaperone extended it, so Chaperone configurations route the same way.
//!
//! A selector is pieces joined by `;`, each `[!]FAC.[!][=]PRI`:
//! - FAC is `*`, a comma-separated list of facility names
//!   (`super::FACILITIES`), `[prog]` (the record's program, compared
//!   case-insensitively) or `/regex/` (searched in the record's raw text,
//!   case-insensitively);
//! - PRI is `*` or a severity name (`emerg alert crit err error warn
//!   warning notice info debug`), meaning that severity or a more severe
//!   one; `=PRI` means exactly that severity.
//!
//! A piece with no `!` is positive: it holds when the record is FAC and
//! PRI. The record is selected when every negative piece holds and at
//! least one positive piece does, so a selector without a positive piece
//! selects nothing (`*.!emerg` alone: nothing; `*.*;*.!emerg`: all but
//! emerg). The negatives are Chaperone's compiled forms
//! (tests/syslog_spec.py there), which tug reproduces exactly:
//! - `FAC.!PRI` and `!FAC.PRI` both hold unless the record is FAC *and*
//!   PRI: they drop that pair. So `!kern.*` drops kern at every priority,
//!   and `!kern.crit` drops kern at crit and above only, the same as
//!   `kern.!crit` (chaperone.md's "at every priority" is the `.*` case);
//! - `!FAC.!PRI` holds only when the record is neither FAC nor PRI: it
//!   drops FAC at every priority and PRI from every facility, keeping
//!   only the pair of complements (`![cron].!err`: nothing from cron,
//!   nothing at err or above).
//!
//! Decisions:
//! - An empty selector is `*.*`, as Chaperone's `selector or '*.*'`.
//!   Spaces around pieces are ignored; an empty piece (`*.*;`) is an error.
//! - Names are accepted in any case (Chaperone wanted lower case); codes
//!   are RFC 5424's, and Chaperone 0.3.9's names map onto them one to one
//!   (9 `cron`, 13 `audit`, 14 `alert`, 15 `altcron`; older Chaperones
//!   called 9 `clock` and 15 `cron`, which tug does not accept).
//! - The piece is split at its last `.` (PRI has no dots), so a regex may
//!   contain dots and slashes (`/a.b\/c/.*`); it cannot contain a literal
//!   `;` (pieces are split first, as in Chaperone): write `\x3b`.
//! - Regexes are tug's own engine (crate::regex, linear time; RE2 syntax,
//!   not Python's: no lookaround or backreferences). Case folding is
//!   ASCII-only (`/ÉCHEC/` does not find "échec"), where Python folded
//!   Unicode; program names are folded ASCII-only too (Unicode lowercasing
//!   would link core's 12 KB case table, and program names are ASCII in
//!   practice: `[ÉTÉ]` matches "ÉTÉ" exactly, not "été").
//! - A record's program "" (unknown) never matches `[prog]`.
//! - Errors quote the piece, say what is wrong and suggest the nearest
//!   name for a typo; `none` (rsyslog's) gets a pointer to `FAC.!*`.
//!   `--log-level` widening is not done here.

use crate::regex::Regex;
use crate::suggest::closest;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::{FACILITIES, Record};
use crate::quote::q;

/// Priority names Chaperone accepts, with their severity codes.
const PRIORITIES: [(&str, u8); 10] = [
    ("emerg", 0),
    ("alert", 1),
    ("crit", 2),
    ("err", 3),
    ("error", 3),
    ("warn", 4),
    ("warning", 4),
    ("notice", 5),
    ("info", 6),
    ("debug", 7),
];

#[derive(Clone)]
enum Fac {
    Any,
    /// Facility codes as bits (1 << code).
    Set(u32),
    /// Lower-cased.
    Program(String),
    Regex(Rc<Regex>),
}

#[derive(Clone, Copy)]
enum Pri {
    Any,
    AtLeast(u8),
    Exactly(u8),
}

#[derive(Clone, Copy)]
enum Sense {
    /// `FAC.PRI`: selects the pair.
    Take,
    /// `!FAC.PRI` or `FAC.!PRI`: drops the pair.
    Drop,
    /// `!FAC.!PRI`: drops FAC and drops PRI.
    DropEach,
}

#[derive(Clone)]
struct Piece {
    fac: Fac,
    pri: Pri,
    sense: Sense,
}

/// A parsed selector. Equal when written the same (reload compares
/// configurations as they are).
#[derive(Clone)]
pub struct Selector {
    text: String,
    pieces: Vec<Piece>,
}

impl PartialEq for Selector {
    fn eq(&self, other: &Selector) -> bool {
        self.text == other.text
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Selector({})", q(&self.text))
    }
}

impl Default for Selector {
    /// `*.*`: every record.
    fn default() -> Selector {
        Selector {
            text: "*.*".into(),
            pieces: alloc::vec![Piece {
                fac: Fac::Any,
                pri: Pri::Any,
                sense: Sense::Take,
            }],
        }
    }
}

impl Selector {
    /// Parses a selector; the error names the piece and what is wrong.
    pub fn parse(text: &str) -> Result<Selector, String> {
        if text.trim().is_empty() {
            return Ok(Selector::default());
        }
        let mut pieces = Vec::new();
        for p in text.split(';') {
            let p = p.trim();
            match piece(p) {
                Ok(x) => pieces.push(x),
                Err(e) => return Err(format!("selector piece \"{p}\": {e}")),
            }
        }
        Ok(Selector {
            text: text.into(),
            pieces,
        })
    }

    /// The selector as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True when no piece is positive: the selector takes no record (worth
    /// a warning: `*.!debug` alone is a likely mistake for `*.*;*.!debug`).
    pub fn selects_nothing(&self) -> bool {
        !self.pieces.iter().any(|p| matches!(p.sense, Sense::Take))
    }

    /// Whether the output takes `rec`. Severity is tested before the
    /// (dearer) facility part, and a regex runs only when it can decide.
    pub fn matches(&self, rec: &Record) -> bool {
        let mut taken = false;
        for p in &self.pieces {
            let pri = match p.pri {
                Pri::Any => true,
                Pri::AtLeast(s) => rec.severity <= s,
                Pri::Exactly(s) => rec.severity == s,
            };
            match p.sense {
                Sense::Take => taken = taken || (pri && p.fac.matches(rec)),
                Sense::Drop if pri && p.fac.matches(rec) => return false,
                Sense::DropEach if pri || p.fac.matches(rec) => return false,
                _ => {}
            }
        }
        taken
    }
}

impl Fac {
    fn matches(&self, rec: &Record) -> bool {
        match self {
            Fac::Any => true,
            Fac::Set(bits) => rec.facility < 32 && bits & (1 << rec.facility) != 0,
            Fac::Program(p) => rec
                .program
                .chars()
                .map(|c| c.to_ascii_lowercase())
                .eq(p.chars()),
            Fac::Regex(re) => re.is_match(&rec.raw),
        }
    }
}

fn piece(p: &str) -> Result<Piece, String> {
    if p.is_empty() {
        return Err("empty (a stray \";\"?)".into());
    }
    let Some((fac, pri)) = p.rsplit_once('.') else {
        return Err("expected FACILITY.PRIORITY (\"*.info\", \"kern,mail.!err\", \"[prog].*\", \"/regex/.=debug\")".into());
    };
    let (not_fac, fac) = strip(fac, '!');
    let (not_pri, pri) = strip(pri, '!');
    let (exact, pri) = strip(pri, '=');
    let sense = match (not_fac, not_pri) {
        (false, false) => Sense::Take,
        (true, true) => Sense::DropEach,
        _ => Sense::Drop,
    };
    Ok(Piece {
        fac: facility(fac)?,
        pri: priority(pri, exact)?,
        sense,
    })
}

fn strip(s: &str, c: char) -> (bool, &str) {
    match s.strip_prefix(c) {
        Some(rest) => (true, rest),
        None => (false, s),
    }
}

fn facility(f: &str) -> Result<Fac, String> {
    let inner = |open, close, what| match f.strip_prefix(open).map(|s| s.strip_suffix(close)) {
        Some(Some("")) => Err(format!("empty {what}")),
        Some(Some(s)) => Ok(Some(s)),
        Some(None) => Err(format!("{what} has no closing \"{close}\"")),
        None => Ok(None),
    };
    if let Some(re) = inner('/', '/', "regex")? {
        return Regex::new_ignore_case(re)
            .map(|re| Fac::Regex(Rc::new(re)))
            .map_err(|e| format!("bad regex: {e}"));
    }
    if let Some(prog) = inner('[', ']', "program name")? {
        // Lowered as `matches` lowers the record's (char by char: no
        // final-sigma rule), so the two always agree.
        let mut lower = String::with_capacity(prog.len());
        for c in prog.chars() {
            lower.push(c.to_ascii_lowercase());
        }
        return Ok(Fac::Program(lower));
    }
    if f == "*" {
        return Ok(Fac::Any);
    }
    if f.is_empty() {
        return Err("missing facility before \".\" (\"*\" for all)".into());
    }
    let mut bits = 0;
    for name in f.split(',') {
        match FACILITIES.iter().position(|k| k.eq_ignore_ascii_case(name)) {
            Some(code) => bits |= 1 << code,
            None => return Err(unknown("facility", name, &FACILITIES)),
        }
    }
    Ok(Fac::Set(bits))
}

fn priority(p: &str, exact: bool) -> Result<Pri, String> {
    if p == "*" {
        return Ok(Pri::Any);
    }
    if p.is_empty() {
        return Err("missing priority after \".\" (\"*\" for all)".into());
    }
    if p.starts_with(['!', '=']) {
        return Err("write the priority as [!][=]NAME (\"!\" first)".into());
    }
    if p.eq_ignore_ascii_case("none") {
        return Err("unknown priority \"none\" (to exclude a facility, add \"FAC.!*\")".into());
    }
    let names = PRIORITIES.map(|(n, _)| n);
    match PRIORITIES.iter().find(|(n, _)| n.eq_ignore_ascii_case(p)) {
        Some(&(_, s)) if exact => Ok(Pri::Exactly(s)),
        Some(&(_, s)) => Ok(Pri::AtLeast(s)),
        None => Err(unknown("priority", p, &names)),
    }
}

fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    match closest(name, known) {
        Some(k) => format!("unknown {what} \"{name}\" (did you mean \"{k}\"?)"),
        None => format!(
            "unknown {what} \"{name}\" (known: {}, or *)",
            known.join(" ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn rec(facility: u8, severity: u8, program: &str, raw: &str) -> Record {
        Record {
            time: (0, 0),
            facility,
            severity,
            host: None,
            program: program.to_string(),
            pid: None,
            msgid: None,
            structured: None,
            text: raw.to_string(),
            raw: raw.to_string(),
        }
    }

    /// Records covering every facility and severity, with programs and
    /// texts the cases below look for.
    fn grid() -> Vec<Record> {
        let progs = [
            "",
            "crond",
            "CronD",
            "cron",
            "chaperone",
            "Chaperone",
            "daemon-tools",
            "logrotate",
            "tug",
            "My.App",
            "été",
        ];
        let texts = [
            "hello",
            "a PANIC here",
            "segfault at 0",
            "bad Password",
            "not and/or able",
            "Über ärger",
            "über alles",
        ];
        let mut v = Vec::new();
        for f in 0..26u8 {
            for s in 0..8u8 {
                for (i, p) in progs.iter().enumerate() {
                    // Not the full product: each program meets two texts.
                    for t in [
                        texts[i % texts.len()],
                        texts[(i + f as usize) % texts.len()],
                    ] {
                        v.push(rec(f, s, p, t));
                    }
                }
            }
        }
        v
    }

    type Want = fn(u8, u8, &str, &str) -> bool;

    fn is(g: &str, name: &str) -> bool {
        !g.is_empty() && g.to_lowercase() == name
    }
    fn has(buf: &str, needle: &str) -> bool {
        buf.to_lowercase().contains(needle)
    }

    /// Every case of Chaperone's tests/syslog_spec.py (its compiled
    /// forms, restated over f = facility, p = severity, g = program,
    /// buf = raw text), then tug's own: exclusions, `=`, programs,
    /// regexes, case, spaces, the empty selector.
    // The first cases keep the shape of Chaperone's compiled forms.
    #[rustfmt::skip]
    #[allow(clippy::nonminimal_bool)]
    const CASES: &[(&str, Want)] = &[
        // Chaperone's tests/syslog_spec.py.
        ("*.*", |_, _, _, _| true),
        ("[crond].*", |_, _, g, _| is(g, "crond")),
        ("kern.*;kern.!=crit", |f, p, _, _| (f != 0 || p != 2) && f == 0),
        ("kern.*;kern.!crit", |f, p, _, _| (f != 0 || p > 2) && f == 0),
        ("kern.crit", |f, p, _, _| f == 0 && p <= 2),
        ("*.=emerg;*.=crit", |_, p, _, _| p == 0 || p == 2),
        ("/not and\\/or able/.*", |_, _, _, b| has(b, "not and/or able")),
        ("kern.*", |f, _, _, _| f == 0),
        ("*.*;*.!*", |_, _, _, _| false),
        ("*.*;![chaperone].*", |_, _, g, _| !is(g, "chaperone")),
        ("kern.*;!auth,authpriv.*", |f, _, _, _| f != 4 && f != 10 && f == 0),
        ("[cron].*;[daemon-tools].crit;/password/.!err", |_, p, g, b| {
            (!has(b, "password") || p > 3) && (is(g, "cron") || (is(g, "daemon-tools") && p <= 2))
        }),
        ("kern.*;![cron].!err", |f, p, g, _| !is(g, "cron") && p > 3 && f == 0),
        ("[chaperone].err;[logrotate].err;!kern.*", |f, p, g, _| {
            f != 0 && ((is(g, "chaperone") && p <= 3) || (is(g, "logrotate") && p <= 3))
        }),
        ("/panic/.*;/segfault/.*;*.!=debug", |_, p, _, b| p != 7 && (has(b, "panic") || has(b, "segfault"))),
        // The examples in Chaperone's _syslog_spec_matcher docstring.
        ("*.!emerg", |_, _, _, _| false),
        ("*.*;*.!emerg", |_, p, _, _| p != 0),
        ("*.info;![cron].*", |_, p, g, _| p <= 6 && !is(g, "cron")),
        ("*.*;![cron].!=info", |_, p, g, _| !is(g, "cron") && p != 6),
        ("[cron].*;*.!info", |_, p, g, _| is(g, "cron") && p > 6),
        ("*.=info", |_, p, _, _| p == 6),
        // The examples.
        ("*.warn;authpriv,auth.!*", |f, p, _, _| p <= 4 && f != 10 && f != 4),
        ("*.info;![tug].*", |_, p, g, _| p <= 6 && !is(g, "tug")),
        // `!` before the facility with a priority: drops the pair only.
        ("*.*;!kern.crit", |f, p, _, _| !(f == 0 && p <= 2)),
        ("*.*;!kern.=err", |f, p, _, _| !(f == 0 && p == 3)),
        ("*.*;!kern.!=err", |f, p, _, _| f != 0 && p != 3),
        // Lists, the new names, codes above 23 (no name: only `*`).
        ("mail,news,uucp.notice", |f, p, _, _| matches!(f, 2 | 7 | 8) && p <= 5),
        ("audit,alert,altcron.debug", |f, _, _, _| matches!(f, 13..=15)),
        ("cron.*", |f, _, _, _| f == 9),
        ("local0,local7.*", |f, _, _, _| f == 16 || f == 23),
        ("*.debug", |_, _, _, _| true),
        ("*.=debug", |_, p, _, _| p == 7),
        ("*.error;*.!=warning", |_, p, _, _| p <= 3),
        ("*.warning;*.!=warn", |_, p, _, _| p < 4),
        // Case: names, programs, regexes (ASCII folding only).
        ("KERN.Crit", |f, p, _, _| f == 0 && p <= 2),
        ("[CROND].*", |_, _, g, _| is(g, "crond")),
        ("[éTé].*", |_, _, g, _| g == "été"), // ASCII folded: the T
        ("/pAnIc/.*", |_, _, _, b| has(b, "panic")),
        ("/über/.*", |_, _, _, b| b.contains("über")),
        ("/^a .*here$/.=alert", |_, p, _, b| p == 1 && has(b, "a panic here")),
        ("/a.b|segf/.*", |_, _, _, b| has(b, "segf")),
        // Program names may hold dots; the last `.` splits.
        ("[my.app].*", |_, _, g, _| is(g, "my.app")),
        ("[daemon-tools].!*;*.*", |_, _, g, _| !is(g, "daemon-tools")),
        // Spaces around pieces; the empty selector is `*.*`.
        ("  kern.* ;  mail.* ", |f, _, _, _| f == 0 || f == 2),
        ("", |_, _, _, _| true),
        ("   ", |_, _, _, _| true),
    ];

    #[test]
    fn the_table() {
        let grid = grid();
        for (text, want) in CASES {
            let sel = Selector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let mut hits = 0;
            for r in &grid {
                let w = want(r.facility, r.severity, &r.program, &r.raw);
                assert_eq!(sel.matches(r), w, "{text:?} on {r:?}");
                hits += usize::from(w);
            }
            // Each case takes some of the grid (so it tests something),
            // but the two meant to take nothing.
            let none = ["*.*;*.!*", "*.!emerg"].contains(text);
            assert_eq!(hits == 0, none, "{text:?} takes {hits}");
            assert!(!sel.selects_nothing() || none, "{text:?}");
        }
    }

    #[test]
    fn errors_name_the_piece_and_suggest() {
        let cases = [
            (
                ".*",
                "selector piece \".*\": missing facility before \".\" (\"*\" for all)",
            ),
            (
                "kern",
                "selector piece \"kern\": expected FACILITY.PRIORITY",
            ),
            ("*.*;", "selector piece \"\": empty (a stray \";\"?)"),
            (
                "kenr.info",
                "selector piece \"kenr.info\": unknown facility \"kenr\" (did you mean \"kern\"?)",
            ),
            (
                "kern,mial.info",
                "unknown facility \"mial\" (did you mean \"mail\"?)",
            ),
            (
                "clock.info",
                "unknown facility \"clock\" (known: kern user mail",
            ),
            ("kern,*.info", "unknown facility \"*\""),
            ("kern,.info", "unknown facility \"\""),
            (
                "kern.crti",
                "unknown priority \"crti\" (did you mean \"crit\"?)",
            ),
            (
                "kern.warnign",
                "unknown priority \"warnign\" (did you mean \"warning\"?)",
            ),
            (
                "kern.none",
                "unknown priority \"none\" (to exclude a facility, add \"FAC.!*\")",
            ),
            ("kern.=!crit", "write the priority as [!][=]NAME"),
            ("kern.!!crit", "write the priority as [!][=]NAME"),
            ("kern.", "missing priority after \".\""),
            (
                "kern.zzzzzz",
                "unknown priority \"zzzzzz\" (known: emerg alert crit err error warn warning notice info debug, or *)",
            ),
            ("/abc.*", "regex has no closing \"/\""),
            ("//.*", "empty regex"),
            (
                "/a(/.*",
                "bad regex: error parsing regexp: missing closing ): `a(`",
            ),
            ("[cron.*", "program name has no closing \"]\""),
            ("[].*", "empty program name"),
            ("!!kern.*", "unknown facility \"!kern\""),
        ];
        for (text, want) in cases {
            let e = Selector::parse(text)
                .err()
                .unwrap_or_else(|| panic!("{text} parsed"));
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn equality_is_the_text_and_default_is_everything() {
        let a = Selector::parse("kern.*").unwrap();
        assert_eq!(a, a.clone());
        assert_ne!(a, Selector::parse("kern.* ").unwrap());
        assert_eq!(alloc::format!("{a:?}"), "Selector(\"kern.*\")");
        assert!(Selector::default().matches(&rec(23, 7, "", "")));
        assert_eq!(Selector::default().text(), "*.*");
        assert!(Selector::parse("*.!emerg").unwrap().selects_nothing());
    }
}
