//! IP literals ("10.0.0.1", "::1", "::ffff:1.2.3.4"), strict: no leading
//! zeros in IPv4 octets (they mean octal to some parsers), no signs in
//! IPv6 groups. Pure; the resolver, the client, the interfaces, the health
//! checks and the registrator all parse with this one function.

use crate::num::dec;
use crate::sys::net::Ip;
use alloc::format;
use alloc::vec::Vec;

pub fn parse_ip(s: &str) -> Option<Ip> {
    if let Some(v4) = parse_v4(s) {
        return Some(Ip::V4(v4));
    }
    parse_v6(s).map(Ip::V6)
}

fn parse_v4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        *o = dec(p)?;
    }
    parts.next().is_none().then_some(out)
}

fn parse_v6(s: &str) -> Option<[u8; 16]> {
    // Mixed notation (`::ffff:1.2.3.4`): the last 32 bits as IPv4.
    if let Some(colon) = s.rfind(':')
        && s[colon + 1..].contains('.')
    {
        let v4 = parse_v4(&s[colon + 1..])?;
        // Parse it with two zero groups in place of the IPv4 part.
        let mut out = parse_v6(&format!("{}0:0", &s[..=colon]))?;
        out[12..].copy_from_slice(&v4);
        return Some(out);
    }
    let (head, tail) = match s.split_once("::") {
        Some((h, t)) => (h, Some(t)),
        None => (s, None),
    };
    let groups = |part: &str| -> Option<Vec<u16>> {
        if part.is_empty() {
            return Some(Vec::new());
        }
        let mut out = Vec::new();
        for g in part.split(':') {
            // from_str_radix would take a sign: `::+1` is not an address.
            if g.is_empty() || g.len() > 4 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u16::from_str_radix(g, 16).ok()?);
        }
        Some(out)
    };
    let h = groups(head)?;
    let t = match tail {
        Some(t) => groups(t)?,
        None => Vec::new(),
    };
    let total = h.len() + t.len();
    if (tail.is_none() && total != 8) || (tail.is_some() && total > 7) {
        return None;
    }
    let mut words = [0u16; 8];
    words[..h.len()].copy_from_slice(&h);
    words[8 - t.len()..].copy_from_slice(&t);
    let mut out = [0u8; 16];
    for (i, w) in words.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_signs_and_mixed_notation() {
        assert_eq!(parse_ip("::+1"), None);
        assert_eq!(parse_ip("::-1"), None);
        let mapped = parse_ip("::ffff:10.1.2.3").unwrap();
        let mut want = [0u8; 16];
        want[10..12].copy_from_slice(&[0xff, 0xff]);
        want[12..].copy_from_slice(&[10, 1, 2, 3]);
        assert_eq!(mapped, Ip::V6(want));
        assert!(parse_ip("1:2:3:4:5:6:1.2.3.4").is_some());
        assert_eq!(parse_ip("1:2:3:4:5:6:7:1.2.3.4"), None);
        assert_eq!(parse_ip("::ffff:1.2.3"), None);
        assert_eq!(
            crate::net::interfaces::ip_text(&mapped),
            "::ffff:10.1.2.3",
            "round trip"
        );
    }

    #[test]
    fn ip_literals() {
        assert_eq!(parse_ip("127.0.0.1"), Some(Ip::V4([127, 0, 0, 1])));
        assert_eq!(
            parse_ip("::1"),
            Some(Ip::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))
        );
        assert!(matches!(parse_ip("fe80::1:2"), Some(Ip::V6(_))));
        for bad in [
            "256.0.0.1",
            "1.2.3",
            "01.2.3.4",
            "1::2::3",
            "abcde::",
            "example.com",
            "",
        ] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
    }
}
