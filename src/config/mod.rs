//! Loading a config: read the file, render it as a Go-style template with
//! the environment as data, parse the result as JSON5, decode and validate
//! it. Every error names the file and line:column (positions are in the
//! rendered text, which matches the file unless a template adds lines).

pub mod chaperone;
pub mod decode;
pub mod graph;
pub mod kinds;
pub mod logs;
pub mod schema;
pub mod template;
pub mod words;
pub mod yaml;

// JSON5 is a leaf (the wire's JSON reader is the same parser); its old
// path stays for the tests and fuzz targets.
pub use crate::json5;
// The regex engine is a leaf too (logs' `/regex/` selectors use it and
// config uses logs); `config::regex` stays for the template and fuzz targets.
pub use crate::regex;

use crate::env::Environ;
use crate::sys::fd::read_file;
use alloc::ffi::CString;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
pub use schema::Config;

/// Reads and renders the config file (`tug render`); a Chaperone config
/// renders as the tug config it maps onto.
pub fn render(path: &str, env: &Environ) -> Result<String, Vec<String>> {
    if Frontend::of(path) == Frontend::Chaperone {
        return chaperone::io::to_tug(path, env).map(|m| m.text);
    }
    let one = |msg: String| Vec::from([msg]);
    let c = CString::new(path).map_err(|_| one(format!("{path}: invalid path")))?;
    let bytes = read_file(&c).map_err(|e| one(format!("{path}: cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        one(format!(
            "{path}: not UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    template::render(&text, &|name| env.get(name).map(ToString::to_string))
        .map_err(|e| one(format!("{path}:{e}")))
}

/// Loads, renders, parses and validates; errors are complete lines.
/// The config front-ends: each reads its own format into the one model
/// (`Config`: jobs, checks, watches, logging, telemetry), which the core
/// runs; source positions stay in the front-end, for its messages.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Frontend {
    /// ContainerPilot v3: a JSON5 file, rendered first as a Go template.
    ContainerPilot,
    /// Chaperone: a directory of `*.conf`/`*.yaml` files, or a YAML file
    /// with `settings` or `NAME.service` at its top level.
    Chaperone,
}

impl Frontend {
    /// The front-end that reads `path`, by its content. Chaperone's is
    /// not in the default build yet (it does not fit the size budget):
    /// `--features chaperone` (`make chaperone`).
    pub fn of(path: &str) -> Frontend {
        if cfg!(feature = "chaperone") && chaperone::io::is_chaperone(path) {
            Frontend::Chaperone
        } else {
            Frontend::ContainerPilot
        }
    }
}

/// Loads a config with the front-end its path calls for: at start-up and
/// on every reload alike.
pub fn load(path: &str, env: &Environ) -> Result<Config, Vec<String>> {
    load_with(path, None, env)
}

/// [`load`], or for tug as `chaperone` (`chap`: its command line) the
/// Chaperone front-end whatever the path holds.
pub fn load_with(
    path: &str,
    chap: Option<&chaperone::Options>,
    env: &Environ,
) -> Result<Config, Vec<String>> {
    let front = match chap {
        Some(_) if cfg!(feature = "chaperone") => Frontend::Chaperone,
        _ => Frontend::of(path),
    };
    match front {
        Frontend::ContainerPilot => {
            let text = render(path, env)?;
            parse(path, &text)
        }
        Frontend::Chaperone => {
            let m = match chap {
                Some(o) => chaperone::io::map_with(o, env)?,
                None => chaperone::io::to_tug(path, env)?,
            };
            let at = |line: u32| {
                let i = m.spots.iter().rposition(|s| s.0 <= line)?;
                Some(&m.spots[i])
            };
            // An error the mapping did not catch is tug's, at a line of
            // the generated text: told at the section it came from.
            let (config, lines) = check(None, &m.text);
            let mut out = m.warnings;
            let mut at_line = Vec::new();
            let lines = sorted(lines, Some(&mut at_line));
            for (line, msg) in at_line.into_iter().zip(lines) {
                out.push(match at(line) {
                    Some((_, _, here)) => {
                        // `jobs[3].after: …` is the section's `after`.
                        let msg = msg.trim_start();
                        let msg = match msg.split_once("].") {
                            Some((p, m)) if p.starts_with("jobs[") || p.starts_with("logs[") => m,
                            _ => msg,
                        };
                        format!("{here}{msg}")
                    }
                    None => format!("{path}: {msg}"),
                });
            }
            match config {
                Some(mut c) => {
                    c.warnings = out;
                    Ok(c)
                }
                None => Err(out),
            }
        }
    }
}

/// Parses and validates already-rendered text. Warnings go to
/// `Config.warnings`, or with the errors when there are any; either way
/// each is a complete line, and the lines are in the order of their
/// positions.
pub fn parse(path: &str, text: &str) -> Result<Config, Vec<String>> {
    let (config, lines) = check(Some(path), text);
    let lines = sorted(lines, None);
    match config {
        Some(mut c) => {
            c.warnings = lines;
            Ok(c)
        }
        None => Err(lines),
    }
}

/// A message line and its position (line, column), for sorting.
type Line = ((u32, u32), String);

/// Parses and validates: the config if it has no errors, and every error
/// and warning with its position, in the order found. Each line starts
/// `FILE:LINE:COL: ` when `file` is given.
fn check(file: Option<&str>, text: &str) -> (Option<Config>, Vec<Line>) {
    let mut notes = Vec::new();
    let parsed = json5::parse_noting(text, &mut notes);
    let mut lines: Vec<Line> = Vec::new();
    for n in &notes {
        lines.push(line(file, n.pos, true, "", &n.msg));
    }
    let root = match parsed {
        Ok(root) => root,
        Err(e) => {
            lines.push(line(file, e.pos, false, "", &e.msg));
            return (None, lines);
        }
    };
    let mut found = decode::Errors::default();
    let config = schema::decode(&root, &mut found);
    for w in &found.1 {
        lines.push(line(file, w.pos, true, &w.path, &w.msg));
    }
    for e in &found.0 {
        lines.push(line(file, e.pos, false, &e.path, &e.msg));
    }
    (config.filter(|_| found.0.is_empty()), lines)
}

/// `FILE:LINE:COL: [warning: ][FIELD: ]MESSAGE` and its position (to sort
/// by): one copy of the formatting for every line `parse` gives.
#[inline(never)]
fn line(file: Option<&str>, pos: json5::Pos, warning: bool, field: &str, msg: &str) -> Line {
    let mut s = match file {
        Some(file) => format!("{file}:{pos}: "),
        None => String::new(),
    };
    if warning {
        s.push_str("warning: ");
    }
    if !field.is_empty() {
        s.push_str(field);
        s.push_str(": ");
    }
    s.push_str(msg);
    ((pos.line, pos.col), s)
}

/// The lines in the order of their positions; at one position, in the
/// order the checks found them in.
/// With `at_line`, each one's line number is pushed there too.
fn sorted(lines: Vec<Line>, mut at_line: Option<&mut Vec<u32>>) -> Vec<String> {
    let mut keys: Vec<u128> = lines
        .iter()
        .enumerate()
        .map(|(i, ((line, col), _))| {
            (u128::from(*line) << 96) | (u128::from(*col) << 64) | i as u128
        })
        .collect();
    crate::sort::heap(&mut keys);
    // Each line is taken out once (the keys' indices are unique).
    let mut lines = lines;
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        if let Some(l) = lines.get_mut(k as u64 as usize) {
            if let Some(v) = at_line.as_deref_mut() {
                v.push(l.0.0);
            }
            out.push(core::mem::take(&mut l.1));
        }
    }
    out
}

/// A config's errors and warnings as text (none when it loads), for the
/// schema's tests.
#[cfg(test)]
pub(crate) fn test_errors(text: &str) -> Vec<String> {
    match parse("t.json5", text) {
        Ok(_) => Vec::new(),
        Err(e) => e.into_iter().collect(),
    }
}
