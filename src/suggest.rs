//! "Did you mean ...?": the closest of the allowed words to a typo. A
//! leaf, so every parser (config keys, the command line, log selectors)
//! can suggest without depending on the config module.

use alloc::vec::Vec;

/// The allowed key within edit distance 2 (or a case-insensitive match).
pub fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars, ASCII case ignored (compared char by
/// char rather than on lowercased copies: no allocation per candidate).
fn edit_distance(a: &str, b: &str) -> usize {
    let mut prev: Vec<usize> = (0..=b.chars().count()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = alloc::vec![i + 1];
        for (j, cb) in b.chars().enumerate() {
            let cost = usize::from(!ca.eq_ignore_ascii_case(&cb));
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[prev.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_for_typos() {
        assert_eq!(
            closest("tll", &["exec", "interval", "ttl", "timeout"]),
            Some("ttl")
        );
        assert_eq!(closest("restart", &["restarts", "exec"]), Some("restarts"));
        assert_eq!(closest("Restarts", &["restarts"]), Some("restarts"));
        assert_eq!(closest("zzzzzz", &["exec"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
