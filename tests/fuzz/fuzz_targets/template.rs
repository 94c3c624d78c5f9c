//! Config templates and their regular expressions: any UTF-8 must render
//! or give an error, never panic, exhaust the stack or run away. The first
//! line is also compiled as a regex and, when it compiles, run on the
//! rest (text, then a replacement on the third line), with literal
//! patterns checked against the standard library's search and replace.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::config::regex::Regex;
use tug::config::template;

fn env(name: &str) -> Option<String> {
    let v = match name {
        "A" => "1",
        "HOSTS" => "h1,h2, h3",
        "EQ" => "a=b=c",
        "EMPTY" => "",
        "N" => "3",
        _ => return None,
    };
    Some(v.to_string())
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match template::render(s, &env) {
        Ok(out) if !s.contains("{{") => assert_eq!(out, s),
        Ok(out) => assert!(out.len() <= 16 << 20),
        Err(e) => assert!(e.line >= 1 && e.col >= 1 && !e.msg.is_empty()),
    }

    let (pattern, rest) = s.split_once('\n').unwrap_or((s, ""));
    let Ok(re) = Regex::new(pattern) else {
        return;
    };
    let (text, rep) = rest.split_once('\n').unwrap_or((rest, "<$1>"));
    let found = re.is_match(text);
    // Replacing can take quadratic time (as in Go); the templates run it
    // with a work budget, and so does this.
    let mut fuel = 20_000_000;
    let replaced = re.replace_all_within(text, rep, &mut fuel);
    let literal = !pattern.is_empty() && !pattern.contains(|c: char| r"\.+*?()|[]{}^$".contains(c));
    if literal {
        assert_eq!(found, text.contains(pattern), "{pattern:?} in {text:?}");
        if !rep.contains('$')
            && let Some(out) = replaced
        {
            assert_eq!(out, text.replace(pattern, rep), "{pattern:?} in {text:?}");
        }
    }
});
