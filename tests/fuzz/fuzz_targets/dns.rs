//! The resolver: any bytes as a DNS response, resolv.conf, /etc/hosts or
//! a name must give a result or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::net::dns::{self, QType};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let conf = dns::parse_resolv_conf(&text);
    // First byte: the question type and the mode; then the name up to a
    // NUL; then the message. Its first two bytes are taken as the ID.
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let qtype = if mode & 1 == 0 { QType::A } else { QType::AAAA };
    let (name, msg) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let name = String::from_utf8_lossy(name);
    let _ = dns::hosts_lookup(&text, &name);
    let mut query = Vec::new();
    for c in dns::candidates(&name, &conf) {
        assert!(!c.is_empty() && c.len() <= 253);
        let _ = dns::build_query(0, &c, qtype, &mut query);
    }
    let id = msg.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let _ = dns::parse_response(msg, id, &name, qtype);
    // A valid header start and question for `name`, the rest fuzzed: gets
    // past the question checks to the records.
    if mode & 2 != 0 && msg.len() >= 12 && dns::build_query(id, &name, qtype, &mut query).is_ok() {
        let mut m = msg[..12].to_vec();
        m[2] |= 0x80;
        m[4..6].copy_from_slice(&[0, 1]);
        m.extend_from_slice(&query[12..]);
        m.extend_from_slice(&msg[12..]);
        let check = |m: &[u8]| {
            if let Ok(a) = dns::parse_response(m, id, &name, qtype) {
                assert!(a.ips.len() <= m.len() / 15);
            }
        };
        check(&m);
        // Records from a short grammar: [owner pointer, type, RDATA length,
        // RDATA], so that answers for the name (0xc0 0x0c) and CNAME chains
        // are easy to reach.
        m.truncate(query.len());
        let mut tail = &msg[12..];
        let mut count = 0u16;
        while let [ptr, rtype, len, rest @ ..] = tail {
            let len = usize::from(*len).min(rest.len());
            m.extend_from_slice(&[0xc0, *ptr, 0, *rtype, 0, 1, 0, 0, 0, 60, 0, len as u8]);
            m.extend_from_slice(&rest[..len]);
            tail = &rest[len..];
            count += 1;
        }
        m[6..8].copy_from_slice(&count.to_be_bytes());
        m[8..12].fill(0);
        check(&m);
    }
});
