//! Splitting an `exec` string into words the way a POSIX shell would
//! (quotes and backslashes), without running one: scratch images have no
//! shell, and ContainerPilot's split-on-spaces broke quoted arguments.
//! Pipes, redirections and `$VAR` are not interpreted: "a | b" is three
//! words, as ContainerPilot passed them.

use alloc::string::String;
use alloc::vec::Vec;

pub fn split(s: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(core::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated single quote"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        // Inside double quotes a backslash only escapes these.
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => cur.push(ch),
                            Some('\n') => {}
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err("unterminated double quote"),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated double quote"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(ch) => cur.push(ch),
                    None => return Err("trailing backslash"),
                }
            }
            ch => {
                in_word = true;
                cur.push(ch);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split(s).unwrap()
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            w("/bin/to/preStart.sh arg1 arg2"),
            ["/bin/to/preStart.sh", "arg1", "arg2"]
        );
        assert_eq!(w("  a   b\t c "), ["a", "b", "c"]);
        assert_eq!(
            w(r#"echo "hello world" 'a b' c\ d"#),
            ["echo", "hello world", "a b", "c d"]
        );
        assert_eq!(w(r#"x"y"'z'"#), ["xyz"]);
        assert_eq!(w(r#""" ''"#), ["", ""]);
        assert_eq!(w(r#""a\"b\\c\n""#), ["a\"b\\c\\n"]);
        assert_eq!(w(r"'no \escape'"), ["no \\escape"]);
        assert_eq!(
            w("consul info | grep leader"),
            ["consul", "info", "|", "grep", "leader"]
        );
        assert!(w("").is_empty());
    }

    #[test]
    fn unbalanced_quotes_are_errors() {
        assert!(split("echo 'abc").is_err());
        assert!(split("echo \"abc").is_err());
        assert!(split("echo abc\\").is_err());
    }
}
