//! Loading a config: read the file, render it as a Go-style template with
//! the environment as data, parse the result as JSON5, decode and validate
//! it. Every error names the file and line:column (positions are in the
//! rendered text, which matches the file unless a template adds lines).

pub mod decode;
pub mod graph;
pub mod json5;
pub mod regex;
pub mod schema;
pub mod template;

use crate::env::Environ;
use crate::sys::fd::read_file;
use alloc::ffi::CString;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
pub use schema::Config;

/// Reads and renders the config file (`tug render`).
pub fn render(path: &str, env: &Environ) -> Result<String, Vec<String>> {
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
pub fn load(path: &str, env: &Environ) -> Result<Config, Vec<String>> {
    let text = render(path, env)?;
    parse(path, &text)
}

/// Parses and validates already-rendered text.
pub fn parse(path: &str, text: &str) -> Result<Config, Vec<String>> {
    let root = json5::parse(text).map_err(|e| Vec::from([format!("{path}:{e}")]))?;
    let mut errors = decode::Errors::default();
    let config = schema::decode(&root, &mut errors);
    match config {
        Some(c) if errors.0.is_empty() => Ok(c),
        _ => Err(errors.0.iter().map(|e| format!("{path}:{e}")).collect()),
    }
}
