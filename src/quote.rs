//! `q(s)`, `qc(c)`, `list(v)`: strings, chars and lists of strings in
//! quotes for messages, as `{:?}` writes them for the names, paths and
//! values tug quotes (`unknown option "x"`, `exec ["sh", "-c"]`).
//!
//! Why not `{:?}`: str's Debug decides for each char whether Unicode
//! calls it printable or a grapheme extender, which links ~2 KB of code
//! and tables. Here the quote mark and `\` are escaped, `\t` `\r` `\n`
//! `\0` written as Rust writes them, and the other control characters
//! (C0, DEL, C1) as `\u{1b}`; everything else as it is, so for what a
//! user types, the text is Debug's to the byte (it differs only for the
//! few invisible code points Debug escapes). `make lint` keeps `{:?}`
//! out of non-test code (scripts/check-imports.py).

use core::fmt::{self, Write};

pub struct Q<'a>(&'a str);

/// `s` quoted (Display).
pub fn q<T: AsRef<str> + ?Sized>(s: &T) -> Q<'_> {
    Q(s.as_ref())
}

/// A char as `{:?}` writes it: in single quotes, `'` escaped.
pub struct C(char);

pub fn qc(c: char) -> C {
    C(c)
}

/// A list of strings as `{:?}` writes a Vec of them: `["a", "b"]`.
pub struct List<'a, T>(&'a [T]);

pub fn list<T: AsRef<str>>(items: &[T]) -> List<'_, T> {
    List(items)
}

impl fmt::Display for Q<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        quoted(f, self.0, '"')
    }
}

impl fmt::Display for C {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        quoted(f, self.0.encode_utf8(&mut [0; 4]), '\'')
    }
}

impl<T: AsRef<str>> fmt::Display for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            quoted(f, s.as_ref(), '"')?;
        }
        f.write_str("]")
    }
}

/// `s` between two `mark`s, with `mark` and the characters above escaped.
fn quoted(f: &mut fmt::Formatter<'_>, s: &str, mark: char) -> fmt::Result {
    f.write_char(mark)?;
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let esc = match c {
            '\\' => "\\\\",
            '\t' => "\\t",
            '\r' => "\\r",
            '\n' => "\\n",
            '\0' => "\\0",
            c if c == mark => "",
            c if c < ' ' || ('\u{7f}'..='\u{9f}').contains(&c) => "",
            _ => continue,
        };
        f.write_str(&s[plain..i])?;
        if !esc.is_empty() {
            f.write_str(esc)?;
        } else if c == mark {
            f.write_char('\\')?;
            f.write_char(c)?;
        } else {
            write!(f, "\\u{{{:x}}}", c as u32)?;
        }
        plain = i + c.len_utf8();
    }
    f.write_str(&s[plain..])?;
    f.write_char(mark)
}

#[cfg(test)]
mod tests {
    use super::{list, q, qc};
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;

    #[test]
    fn as_debug_writes_it() {
        for s in [
            "",
            "plain",
            "a \"quoted\" \\ word",
            "tab\tcr\rnl\nnul\0",
            "esc\u{1b}del\u{7f}c1\u{85}",
            "émoji 🦀 日本",
            "it's",
        ] {
            assert_eq!(format!("{}", q(s)), format!("{s:?}"), "{s:?}");
            assert_eq!(format!("{}", q(&String::from(s))), format!("{s:?}"));
        }
        for c in ['a', '\'', '"', '\\', '\n', '\u{1b}', 'é'] {
            assert_eq!(format!("{}", qc(c)), format!("{c:?}"), "{c:?}");
        }
        let v = vec![String::from("a b"), String::from("\"c\"")];
        assert_eq!(format!("{}", list(&v)), format!("{v:?}"));
        assert_eq!(format!("{}", list::<&str>(&[])), "[]");
    }
}
