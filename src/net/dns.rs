//! A stub resolver, sans-IO: /etc/hosts and /etc/resolv.conf, the search
//! list (glibc order), and the DNS wire format (RFC 1035) for A and AAAA
//! questions over UDP. Pure functions over bytes and text; the event loop
//! owns the sockets, timers, retries and server rotation.

use crate::num::dec;
use crate::sys::net::Ip;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// IP literals ("10.0.0.1", "::1"): the old path of `net::ip::parse_ip`.
pub use super::ip::parse_ip;

// Response codes the caller acts on: NXDOMAIN ends the name (try the next
// candidate), SERVFAIL and others end the server (try the next one).
pub const NOERROR: u8 = 0;
pub const SERVFAIL: u8 = 2;
pub const NXDOMAIN: u8 = 3;

const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCH: usize = 32;
const MAX_CNAMES: usize = 8;
/// A name has at most 127 labels, so no honest name needs more pointers.
const MAX_POINTERS: usize = 127;

/// The addresses `hosts_file` (/etc/hosts text) gives `name`, in file
/// order: any field after the address (canonical name or alias) matches,
/// ignoring ASCII case and a trailing dot.
pub fn hosts_lookup(hosts_file: &str, name: &str) -> Vec<Ip> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut out = Vec::new();
    for line in hosts_file.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut f = line.split_ascii_whitespace();
        if let Some(ip) = f.next().and_then(parse_ip)
            && f.any(|n| n.eq_ignore_ascii_case(name))
        {
            out.push(ip);
        }
    }
    out
}

/// /etc/resolv.conf, the parts a stub resolver uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvConf {
    /// At most 3, port 53; 127.0.0.1 when the file names none.
    pub nameservers: Vec<(Ip, u16)>,
    /// Without trailing dots; at most 32 domains.
    pub search: Vec<String>,
    /// Names with at least this many dots are tried as-is first (0..=15).
    pub ndots: u32,
    /// Per-query timeout (1..=30).
    pub timeout_secs: u32,
    /// Rounds over all servers (1..=5).
    pub attempts: u32,
    /// Start each lookup at the next server rather than the first.
    pub rotate: bool,
}

/// Parses resolv.conf like glibc: `nameserver`, `search` and `domain` (the
/// last of either wins), `options ndots:N timeout:N attempts:N rotate`;
/// `#` and `;` start comments; unknown or malformed lines and options are
/// ignored, values are clamped. Unlike glibc, `timeout` and `attempts` are
/// at least 1 and an IPv6 server's `%scope` is dropped.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut c = ResolvConf {
        nameservers: Vec::new(),
        search: Vec::new(),
        ndots: 1,
        timeout_secs: 5,
        attempts: 2,
        rotate: false,
    };
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut words = line.split_ascii_whitespace();
        match words.next() {
            Some("nameserver") => {
                let ip = words.next().and_then(|a| parse_ip(a.split('%').next()?));
                if let Some(ip) = ip
                    && c.nameservers.len() < MAX_NAMESERVERS
                {
                    c.nameservers.push((ip, 53));
                }
            }
            Some(kw @ ("search" | "domain")) if words.clone().next().is_some() => {
                c.search.clear();
                for d in words.take(if kw == "domain" { 1 } else { MAX_SEARCH }) {
                    let d = d.strip_suffix('.').unwrap_or(d);
                    if !d.is_empty() && d.len() <= 253 {
                        c.search.push(d.into());
                    }
                }
            }
            Some("options") => {
                for opt in words {
                    let (key, val) = opt.split_once(':').unwrap_or((opt, ""));
                    match (key, dec::<u32>(val)) {
                        ("ndots", Some(n)) => c.ndots = n.min(15),
                        ("timeout", Some(n)) => c.timeout_secs = n.clamp(1, 30),
                        ("attempts", Some(n)) => c.attempts = n.clamp(1, 5),
                        ("rotate", _) => c.rotate = true,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if c.nameservers.is_empty() {
        c.nameservers.push((Ip::V4([127, 0, 0, 1]), 53));
    }
    c
}

/// The names to query for `name`, in glibc's order: a trailing dot makes it
/// absolute (only itself); with at least `ndots` dots it is tried as-is
/// first, then with each search domain; otherwise the search domains come
/// first. Names over 253 bytes are left out (glibc skips them too). The
/// caller checks for IP literals and /etc/hosts before.
pub fn candidates(name: &str, conf: &ResolvConf) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |s: String| {
        if !s.is_empty() && s.len() <= 253 {
            out.push(s);
        }
    };
    if let Some(abs) = name.strip_suffix('.') {
        add(abs.into());
        return out;
    }
    let as_is_first = name.bytes().filter(|&b| b == b'.').count() >= conf.ndots as usize;
    if as_is_first {
        add(name.into());
    }
    if !name.is_empty() {
        for domain in &conf.search {
            add(alloc::format!("{name}.{domain}"));
        }
    }
    if !as_is_first {
        add(name.into());
    }
    out
}

/// The question types tug asks.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QType {
    A = 1,
    AAAA = 28,
}

const CNAME: u16 = 5;
const SOA: u16 = 6;
const IN: u16 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    EmptyLabel,
    LabelTooLong,
    NameTooLong,
    IdMismatch,
    NotResponse,
    QuestionMismatch,
    Malformed,
    BadPointer,
    PointerLoop,
    CnameChain,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DnsError::EmptyLabel => "empty label in name",
            DnsError::LabelTooLong => "label longer than 63 bytes",
            DnsError::NameTooLong => "name longer than 253 bytes",
            DnsError::IdMismatch => "response ID does not match the query",
            DnsError::NotResponse => "not a DNS response (QR bit clear)",
            DnsError::QuestionMismatch => "response question does not match the query",
            DnsError::Malformed => "malformed DNS response",
            DnsError::BadPointer => "compression pointer out of bounds",
            DnsError::PointerLoop => "compression pointer loop",
            DnsError::CnameChain => "CNAME chain too long or looping",
        })
    }
}

/// Writes the wire form of `name` (a trailing dot allowed) to `out`.
fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), DnsError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() > 253 {
        return Err(DnsError::NameTooLong);
    }
    for label in name.split('.') {
        match label.len() {
            0 => return Err(DnsError::EmptyLabel),
            n @ 1..=63 => out.push(n as u8),
            _ => return Err(DnsError::LabelTooLong),
        }
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

/// Replaces `out` with a query for `name` (recursion desired, one question,
/// class IN, no EDNS: answers fit 512 bytes or come truncated). On error
/// `out` is empty. The caller picks a random `id` per query.
pub fn build_query(id: u16, name: &str, qtype: QType, out: &mut Vec<u8>) -> Result<(), DnsError> {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    // RD; QDCOUNT 1; no answer, authority or additional records.
    out.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    encode_name(name, out).inspect_err(|_| out.clear())?;
    out.extend_from_slice(&(qtype as u16).to_be_bytes());
    out.extend_from_slice(&IN.to_be_bytes());
    Ok(())
}

/// What a server said about one question.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// Addresses of the name (at the end of its CNAME chain), in order.
    pub ips: Vec<Ip>,
    /// Seconds the answer may be cached: the smallest TTL of the addresses
    /// and CNAMEs used or, without addresses, of the SOA in the authority
    /// section (negative caching, RFC 2308); 0 when there is neither.
    pub ttl: u32,
    /// NOERROR, SERVFAIL, NXDOMAIN, ... as the server sent it.
    pub rcode: u8,
    /// TC bit: the server had more to say than fits a UDP datagram; `ips`
    /// holds what arrived (TCP is not supported).
    pub truncated: bool,
}

/// A resource record's fixed fields; RDATA is `msg[rdata.0..rdata.1]`.
struct Rr {
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: (usize, usize),
}

/// Reads the name at `pos` in uncompressed wire form into `out`; returns
/// the position after it (after the first pointer if compressed).
fn read_name(msg: &[u8], mut pos: usize, out: &mut Vec<u8>) -> Result<usize, DnsError> {
    out.clear();
    let mut end = None;
    let mut pointers = 0;
    loop {
        let len = usize::from(*msg.get(pos).ok_or(DnsError::Malformed)?);
        match len >> 6 {
            0 => {
                let label = msg.get(pos..pos + 1 + len).ok_or(DnsError::Malformed)?;
                out.extend_from_slice(label);
                if out.len() > 255 {
                    return Err(DnsError::NameTooLong);
                }
                pos += 1 + len;
                if len == 0 {
                    return Ok(end.unwrap_or(pos));
                }
            }
            3 => {
                let low = usize::from(*msg.get(pos + 1).ok_or(DnsError::Malformed)?);
                end.get_or_insert(pos + 2);
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(DnsError::PointerLoop);
                }
                pos = ((len & 0x3f) << 8) | low;
                if pos >= msg.len() {
                    return Err(DnsError::BadPointer);
                }
            }
            // Extended (0x40) and reserved (0x80) label types.
            _ => return Err(DnsError::Malformed),
        }
    }
}

/// Reads the record at `pos` (its owner name into `owner`); returns it and
/// the position after it.
fn read_rr(msg: &[u8], pos: usize, owner: &mut Vec<u8>) -> Result<(Rr, usize), DnsError> {
    let pos = read_name(msg, pos, owner)?;
    let f: [u8; 10] = msg
        .get(pos..pos + 10)
        .and_then(|s| s.try_into().ok())
        .ok_or(DnsError::Malformed)?;
    let start = pos + 10;
    let end = start + usize::from(u16::from_be_bytes([f[8], f[9]]));
    if end > msg.len() {
        return Err(DnsError::Malformed);
    }
    let ttl = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
    let rr = Rr {
        rtype: u16::from_be_bytes([f[0], f[1]]),
        class: u16::from_be_bytes([f[2], f[3]]),
        // RFC 2181: a TTL with the top bit set means zero.
        ttl: if ttl > i32::MAX as u32 { 0 } else { ttl },
        rdata: (start, end),
    };
    Ok((rr, end))
}

/// Reads the response `msg` to the query (`id`, `name`, `qtype`): checks
/// the ID, the QR bit and that the question is ours (ignoring case), then
/// collects the addresses of `name`, following CNAMEs in the answer section
/// in any order (up to 8). A header-only reply is accepted for errors
/// (rcode != 0). Records of other names, types and classes are skipped;
/// the additional section is not read. With the TC bit set, records cut
/// off mid-way end the parse instead of failing it.
pub fn parse_response(msg: &[u8], id: u16, name: &str, qtype: QType) -> Result<Answer, DnsError> {
    let h: [u8; 12] = msg
        .get(..12)
        .and_then(|s| s.try_into().ok())
        .ok_or(DnsError::Malformed)?;
    if h[..2] != id.to_be_bytes() {
        return Err(DnsError::IdMismatch);
    }
    if h[2] & 0x80 == 0 {
        return Err(DnsError::NotResponse);
    }
    let count = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let truncated = h[2] & 2 != 0;
    let rcode = h[3] & 0xf;
    let mut target = Vec::new();
    encode_name(name, &mut target)?;
    let mut owner = Vec::with_capacity(256);
    let mut pos = 12;
    if count(4) != 0 || rcode == NOERROR {
        if count(4) != 1 {
            return Err(DnsError::QuestionMismatch);
        }
        pos = read_name(msg, pos, &mut owner)?;
        let q = msg.get(pos..pos + 4).ok_or(DnsError::Malformed)?;
        pos += 4;
        let [t0, t1] = (qtype as u16).to_be_bytes();
        if !owner.eq_ignore_ascii_case(&target) || q != [t0, t1, 0, 1] {
            return Err(DnsError::QuestionMismatch);
        }
    }
    // One pass per CNAME hop: servers list the chain in order, but need not.
    let mut chain_ttl = u32::MAX;
    let mut hops = 0;
    let (ips, mut ttl, mut pos) = loop {
        let mut ips = Vec::new();
        let mut ttl = chain_ttl;
        let mut cname = None;
        let mut p = pos;
        for _ in 0..count(6) {
            let (rr, next) = match read_rr(msg, p, &mut owner) {
                Ok(r) => r,
                Err(_) if truncated => break,
                Err(e) => return Err(e),
            };
            p = next;
            if rr.class != IN || !owner.eq_ignore_ascii_case(&target) {
                continue;
            }
            let data = msg.get(rr.rdata.0..rr.rdata.1).unwrap_or_default();
            let ip = match qtype {
                QType::A => data.try_into().ok().map(Ip::V4),
                QType::AAAA => data.try_into().ok().map(Ip::V6),
            };
            if rr.rtype == qtype as u16
                && let Some(ip) = ip
            {
                ips.push(ip);
                ttl = ttl.min(rr.ttl);
            } else if rr.rtype == CNAME {
                cname = Some(rr);
            }
        }
        match cname {
            Some(rr) if ips.is_empty() => {
                hops += 1;
                if hops > MAX_CNAMES {
                    return Err(DnsError::CnameChain);
                }
                if read_name(msg, rr.rdata.0, &mut target)? != rr.rdata.1 {
                    return Err(DnsError::Malformed);
                }
                chain_ttl = chain_ttl.min(rr.ttl);
            }
            _ => break (ips, ttl, p),
        }
    };
    for _ in 0..count(8) {
        let (rr, next) = match read_rr(msg, pos, &mut owner) {
            Ok(r) => r,
            Err(_) if truncated => break,
            Err(e) => return Err(e),
        };
        pos = next;
        // SOA RDATA ends with its MINIMUM field: the negative-caching TTL.
        let (start, end) = rr.rdata;
        if ips.is_empty() && rr.rtype == SOA && end - start >= 22 {
            let min = msg.get(end - 4..end).and_then(|m| m.try_into().ok());
            ttl = ttl.min(rr.ttl.min(min.map_or(0, u32::from_be_bytes)));
        }
    }
    Ok(Answer {
        ips,
        ttl: if ttl == u32::MAX { 0 } else { ttl },
        rcode,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Ip {
        Ip::V4([a, b, c, d])
    }

    #[test]
    fn hosts() {
        let hosts = "127.0.0.1\tlocalhost\n\
            ::1     localhost ip6-localhost ip6-loopback\r\n\
            # 10.0.0.9 commented\n\
            10.0.0.5   consul.service  Consul # the agent\n\
            \n   \n\
            garbage consul\n\
            10.0.0.6 consul#tight comment\n\
            2001:db8::5 CONSUL.service\n\
            10.0.0.7\n\
            fe80::1%eth0 consul\n";
        let six = |last| {
            let mut a = [0u8; 16];
            a[15] = last;
            a
        };
        assert_eq!(
            hosts_lookup(hosts, "consul"),
            vec![v4(10, 0, 0, 5), v4(10, 0, 0, 6)]
        );
        assert_eq!(
            hosts_lookup(hosts, "consul."),
            hosts_lookup(hosts, "consul")
        );
        let mut db8 = six(5);
        db8[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(
            hosts_lookup(hosts, "Consul.Service"),
            vec![v4(10, 0, 0, 5), Ip::V6(db8)]
        );
        assert_eq!(
            hosts_lookup(hosts, "localhost"),
            vec![v4(127, 0, 0, 1), Ip::V6(six(1))]
        );
        assert_eq!(hosts_lookup(hosts, "ip6-loopback"), vec![Ip::V6(six(1))]);
        for none in [
            "commented",
            "10.0.0.5",
            "10.0.0.7",
            "garbage",
            "",
            ".",
            "the",
        ] {
            assert_eq!(hosts_lookup(hosts, none), vec![], "{none}");
        }
    }

    #[test]
    fn resolv_conf_docker() {
        let c = parse_resolv_conf(
            "# Generated by Docker Engine.\n\
             # This file can be edited; Docker Engine will not make further changes once it\n\
             # has been modified.\n\
             \n\
             nameserver 127.0.0.11\n\
             search example.internal\n\
             options ndots:0\n\
             \n\
             # Based on host file: '/etc/resolv.conf' (internal resolver)\n\
             # ExtServers: [host(127.0.0.53)]\n\
             # Overrides: []\n\
             # Option ndots from: internal\n",
        );
        assert_eq!(
            c,
            ResolvConf {
                nameservers: vec![(v4(127, 0, 0, 11), 53)],
                search: vec!["example.internal".into()],
                ndots: 0,
                timeout_secs: 5,
                attempts: 2,
                rotate: false,
            }
        );
    }

    #[test]
    fn resolv_conf_kubernetes_and_defaults() {
        let c = parse_resolv_conf(
            "search ns.svc.cluster.local svc.cluster.local cluster.local\n\
             nameserver 10.96.0.10\n\
             options ndots:5\n",
        );
        assert_eq!(c.nameservers, vec![(v4(10, 96, 0, 10), 53)]);
        assert_eq!(
            c.search,
            vec!["ns.svc.cluster.local", "svc.cluster.local", "cluster.local"]
        );
        assert_eq!(
            (c.ndots, c.timeout_secs, c.attempts, c.rotate),
            (5, 5, 2, false)
        );

        let d = parse_resolv_conf("");
        assert_eq!(d.nameservers, vec![(v4(127, 0, 0, 1), 53)]);
        assert_eq!(
            (d.ndots, d.timeout_secs, d.attempts, d.rotate),
            (1, 5, 2, false)
        );
        assert!(d.search.is_empty());
    }

    #[test]
    fn resolv_conf_garbage() {
        let c = parse_resolv_conf(
            "nameserver\n\
             nameserver not-an-ip\n\
             \tnameserver\t1.1.1.1   # trailing comment\r\n\
             ; comment nameserver 9.9.9.9\n\
             #nameserver 9.9.9.9\n\
             nameserver;9.9.9.9\n\
             Nameserver 9.9.9.9\n\
             nameserver 2001:db8::1\n\
             nameserver fe80::1%eth0\n\
             nameserver 8.8.8.8\n\
             search a.example. b.example . \n\
             search\n\
             domain\n\
             options ndots:x timeout:99 attempts:0 rotate edns0 ndots: ndots:-1\n\
             options ndots:99999999999999999999 ndots:16 bogus:1\n\
             \u{0}\u{ffff} nameserver 1.2.3.4\n",
        );
        let mut db8 = [0u8; 16];
        db8[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        db8[15] = 1;
        let mut fe80 = [0u8; 16];
        fe80[..2].copy_from_slice(&[0xfe, 0x80]);
        fe80[15] = 1;
        assert_eq!(
            c.nameservers,
            vec![(v4(1, 1, 1, 1), 53), (Ip::V6(db8), 53), (Ip::V6(fe80), 53)]
        );
        assert_eq!(c.search, vec!["a.example", "b.example"]);
        assert_eq!(
            (c.ndots, c.timeout_secs, c.attempts, c.rotate),
            (15, 30, 1, true)
        );
        // The last of search and domain wins; domain gives one.
        let d = parse_resolv_conf("domain x.example\nsearch a b\n");
        assert_eq!(d.search, vec!["a", "b"]);
        let d = parse_resolv_conf("search a b\ndomain x.example y\n");
        assert_eq!(d.search, vec!["x.example"]);
        let d = parse_resolv_conf("options timeout:0 attempts:9 ndots:3");
        assert_eq!((d.ndots, d.timeout_secs, d.attempts), (3, 1, 5));
    }

    #[test]
    fn candidate_order() {
        let k8s = parse_resolv_conf(
            "search ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5",
        );
        assert_eq!(
            candidates("consul", &k8s),
            vec![
                "consul.ns.svc.cluster.local",
                "consul.svc.cluster.local",
                "consul.cluster.local",
                "consul"
            ]
        );
        assert_eq!(
            candidates("a.b.c.d.e.f", &k8s),
            vec![
                "a.b.c.d.e.f",
                "a.b.c.d.e.f.ns.svc.cluster.local",
                "a.b.c.d.e.f.svc.cluster.local",
                "a.b.c.d.e.f.cluster.local"
            ]
        );
        assert_eq!(candidates("a.b.c.d.e", &k8s)[3], "a.b.c.d.e");
        assert_eq!(
            candidates("consul.example.com.", &k8s),
            vec!["consul.example.com"]
        );
        let one = parse_resolv_conf("search corp.example");
        assert_eq!(candidates("db", &one), vec!["db.corp.example", "db"]);
        assert_eq!(
            candidates("db.prod", &one),
            vec!["db.prod", "db.prod.corp.example"]
        );
        let zero = parse_resolv_conf("search corp.example\noptions ndots:0");
        assert_eq!(candidates("db", &zero), vec!["db", "db.corp.example"]);
        let none = parse_resolv_conf("");
        assert_eq!(candidates("db", &none), vec!["db"]);
        assert!(candidates("", &k8s).is_empty());
        assert!(candidates(".", &k8s).is_empty());
        // Too long with a domain: left out.
        let long = "x".repeat(240);
        assert_eq!(candidates(&long, &k8s), vec![long.clone()]);
    }

    const QUERY: &[u8] = &[
        0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, //
        0x00, 0x01, 0x00, 0x01,
    ];

    #[test]
    fn query_bytes() {
        let mut q = vec![0xff; 3];
        build_query(0x1234, "example.com", QType::A, &mut q).unwrap();
        assert_eq!(q, QUERY);
        build_query(0x1234, "example.com.", QType::A, &mut q).unwrap();
        assert_eq!(q, QUERY);
        build_query(0xbeef, "a.b", QType::AAAA, &mut q).unwrap();
        assert_eq!(
            q,
            [
                0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 1, b'b', 0, 0, 28, 0, 1
            ]
        );

        let l63 = "x".repeat(63);
        let n253 = [&*l63, &*l63, &*l63, &*"y".repeat(61)].join(".");
        assert_eq!(n253.len(), 253);
        build_query(1, &n253, QType::A, &mut q).unwrap();
        assert_eq!(q.len(), 12 + 255 + 4);
        for (bad, err) in [
            ("", DnsError::EmptyLabel),
            (".", DnsError::EmptyLabel),
            ("a..b", DnsError::EmptyLabel),
            (".a", DnsError::EmptyLabel),
            ("a..", DnsError::EmptyLabel),
            (&*alloc::format!("{l63}x.com"), DnsError::LabelTooLong),
            (&*alloc::format!("{n253}z"), DnsError::NameTooLong),
        ] {
            assert_eq!(build_query(1, bad, QType::A, &mut q), Err(err), "{bad}");
            assert!(q.is_empty());
        }
        assert_eq!(
            alloc::string::ToString::to_string(&DnsError::PointerLoop),
            "compression pointer loop"
        );
    }

    /// Header for ID 0x1234 with `flags` and the four counts.
    fn header(flags: u16, counts: [u16; 4]) -> Vec<u8> {
        let mut h = vec![0x12, 0x34];
        h.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            h.extend_from_slice(&c.to_be_bytes());
        }
        h
    }

    /// A record: owner (wire bytes), type, TTL and RDATA; class IN.
    fn rr(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut r = owner.to_vec();
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&[0, 1]);
        r.extend_from_slice(&ttl.to_be_bytes());
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(rdata);
        r
    }

    fn question(name: &str, qtype: QType) -> Vec<u8> {
        let mut q = Vec::new();
        build_query(0x1234, name, qtype, &mut q).unwrap();
        q.split_off(12)
    }

    fn message(flags: u16, qname: &str, qtype: QType, sections: [&[Vec<u8>]; 2]) -> Vec<u8> {
        let mut m = header(
            flags,
            [1, sections[0].len() as u16, sections[1].len() as u16, 0],
        );
        m.extend(question(qname, qtype));
        for r in sections.iter().flat_map(|s| s.iter()) {
            m.extend_from_slice(r);
        }
        m
    }

    /// The response of `dig example.com` (by hand): one compressed A.
    const RESPONSE: &[u8] = &[
        0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, //
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, //
        0x00, 0x01, 0x00, 0x01, //
        0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, //
        93, 184, 216, 34,
    ];

    fn ok(ips: Vec<Ip>, ttl: u32) -> Result<Answer, DnsError> {
        Ok(Answer {
            ips,
            ttl,
            rcode: 0,
            truncated: false,
        })
    }

    #[test]
    fn a_response() {
        let a = parse_response(RESPONSE, 0x1234, "example.com", QType::A);
        assert_eq!(a, ok(vec![v4(93, 184, 216, 34)], 300));
        // Case-insensitive question (0x20 randomization), trailing dot.
        assert_eq!(
            parse_response(RESPONSE, 0x1234, "EXAMPLE.com.", QType::A),
            a
        );
        assert_eq!(
            parse_response(RESPONSE, 0x1235, "example.com", QType::A),
            Err(DnsError::IdMismatch)
        );
        assert_eq!(
            parse_response(RESPONSE, 0x1234, "example.org", QType::A),
            Err(DnsError::QuestionMismatch)
        );
        assert_eq!(
            parse_response(RESPONSE, 0x1234, "example.com", QType::AAAA),
            Err(DnsError::QuestionMismatch)
        );
        assert_eq!(
            parse_response(QUERY, 0x1234, "example.com", QType::A),
            Err(DnsError::NotResponse)
        );
        assert_eq!(
            parse_response(RESPONSE, 0x1234, "a..b", QType::A),
            Err(DnsError::EmptyLabel)
        );
        let mut two = RESPONSE.to_vec();
        two[5] = 2;
        assert_eq!(
            parse_response(&two, 0x1234, "example.com", QType::A),
            Err(DnsError::QuestionMismatch)
        );
        let mut other_class = RESPONSE.to_vec();
        other_class[34] = 3; // answer class CH
        assert_eq!(
            parse_response(&other_class, 0x1234, "example.com", QType::A),
            ok(vec![], 0)
        );
    }

    #[test]
    fn aaaa_response_skips_unrelated_records() {
        let own: &[u8] = &[0xc0, 12];
        let mut six = [0u8; 16];
        six[0] = 0x20;
        six[15] = 7;
        let m = message(
            0x8180,
            "Host.Example",
            QType::AAAA,
            [
                &[
                    rr(own, 16, 5, b"\x05hello"),              // TXT
                    rr(own, 1, 5, &[1, 2, 3, 4]),              // A: not asked
                    rr(own, 28, 60, &six),                     //
                    rr(b"\x05other\x00", 28, 1, &[9; 16]),     // other owner
                    rr(own, 28, 30, &[1; 4]),                  // bad length
                    rr(b"\x04host\xc0\x11", 28, 40, &[3; 16]), // compressed
                ],
                &[],
            ],
        );
        assert_eq!(
            parse_response(&m, 0x1234, "host.example", QType::AAAA),
            ok(vec![Ip::V6(six), Ip::V6([3; 16])], 40)
        );
    }

    #[test]
    fn cname_chains() {
        // www.example.com -> a.example.net -> b.example.net (compressed)
        let www: &[u8] = &[0xc0, 12];
        let a_net = b"\x01a\x07example\x03net\x00";
        // Offset of "a.example.net" inside the first CNAME's RDATA.
        let q_end = 12 + 17 + 4;
        let a_at = q_end + 2 + 10;
        let a_ptr = [0xc0, a_at as u8];
        let b_rdata = [1, b'b', 0xc0, (a_at + 2) as u8];
        let chain = [
            rr(www, 5, 300, a_net),
            rr(&a_ptr, 5, 100, &b_rdata),
            rr(&[1, b'b', 0xc0, (a_at + 2) as u8], 1, 200, &[10, 0, 0, 1]),
            rr(&[1, b'b', 0xc0, (a_at + 2) as u8], 1, 250, &[10, 0, 0, 2]),
        ];
        let m = message(0x8180, "www.example.com", QType::A, [&chain, &[]]);
        let want = ok(vec![v4(10, 0, 0, 1), v4(10, 0, 0, 2)], 100);
        assert_eq!(
            parse_response(&m, 0x1234, "www.example.com", QType::A),
            want
        );

        // Out of order: addresses first, the chain backwards.
        let mut rev = header(0x8180, [1, 4, 0, 0]);
        rev.extend(question("www.example.com", QType::A));
        let b = b"\x01b\x07example\x03net\x00";
        rev.extend(rr(b, 1, 250, &[10, 0, 0, 1]));
        rev.extend(rr(&[0xc0, q_end as u8], 1, 200, &[10, 0, 0, 2]));
        rev.extend(rr(
            b"\x01a\x07example\x03net\x00",
            5,
            100,
            &[0xc0, q_end as u8],
        ));
        rev.extend(rr(www, 5, 300, &[1, b'a', 0xc0, (q_end + 2) as u8]));
        assert_eq!(
            parse_response(&rev, 0x1234, "www.example.com", QType::A),
            ok(vec![v4(10, 0, 0, 1), v4(10, 0, 0, 2)], 100)
        );

        // A chain that ends without addresses: NODATA, the CNAME's TTL.
        let m = message(0x8180, "www.example.com", QType::A, [&chain[..2], &[]]);
        assert_eq!(
            parse_response(&m, 0x1234, "www.example.com", QType::A),
            ok(vec![], 100)
        );

        // A loop, and a chain longer than 8.
        let lp = [rr(www, 5, 1, a_net), rr(&a_ptr, 5, 1, &[0xc0, 12])];
        let m = message(0x8180, "www.example.com", QType::A, [&lp, &[]]);
        assert_eq!(
            parse_response(&m, 0x1234, "www.example.com", QType::A),
            Err(DnsError::CnameChain)
        );
        let hop = |i: u8| vec![1, b'0' + i, 0];
        let mut long: Vec<Vec<u8>> = (0..9).map(|i| rr(&hop(i), 5, 1, &hop(i + 1))).collect();
        long.push(rr(&hop(9), 1, 1, &[1, 1, 1, 1]));
        let m = message(0x8180, "0", QType::A, [&long, &[]]);
        assert_eq!(
            parse_response(&m, 0x1234, "0", QType::A),
            Err(DnsError::CnameChain)
        );
        let m = message(0x8180, "1", QType::A, [&long, &[]]);
        assert_eq!(
            parse_response(&m, 0x1234, "1", QType::A),
            ok(vec![v4(1, 1, 1, 1)], 1)
        );
        // CNAME RDATA must be exactly one name.
        let m = message(
            0x8180,
            "0",
            QType::A,
            [&[rr(&hop(0), 5, 1, b"\x01x\x00\x00")], &[]],
        );
        assert_eq!(
            parse_response(&m, 0x1234, "0", QType::A),
            Err(DnsError::Malformed)
        );
    }

    #[test]
    fn compression_pointers() {
        let resp = |owner: &[u8]| {
            let mut m = RESPONSE[..29].to_vec();
            m.extend(rr(owner, 1, 1, &[1, 2, 3, 4]));
            m
        };
        let parse = |m: &[u8]| parse_response(m, 0x1234, "example.com", QType::A);
        // Pointer to itself, two pointers pointing at each other.
        assert_eq!(parse(&resp(&[0xc0, 29])), Err(DnsError::PointerLoop));
        assert_eq!(
            parse(&resp(&[0xc0, 31, 0xc0, 29])),
            Err(DnsError::PointerLoop)
        );
        // A label then a pointer back to it.
        assert_eq!(
            parse(&resp(&[1, b'x', 0xc0, 29])),
            Err(DnsError::NameTooLong)
        );
        // Past the end, and cut in half.
        assert_eq!(parse(&resp(&[0xc0, 200])), Err(DnsError::BadPointer));
        assert_eq!(parse(&resp(&[0xff, 0xff])), Err(DnsError::BadPointer));
        let mut cut = RESPONSE[..29].to_vec();
        cut.push(0xc0);
        assert_eq!(parse(&cut), Err(DnsError::Malformed));
        // Reserved label types.
        assert_eq!(parse(&resp(&[0x40, 0])), Err(DnsError::Malformed));
        assert_eq!(parse(&resp(&[0x80, 0])), Err(DnsError::Malformed));
        // Pointer to "com" inside the question: not our name.
        assert_eq!(parse(&resp(&[0xc0, 20])), ok(vec![], 0));
        // Owner "example" + pointer to "com".
        assert_eq!(
            parse(&resp(&[
                7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0xc0, 20
            ])),
            ok(vec![v4(1, 2, 3, 4)], 1)
        );
        // Pointer chains within the limit work.
        // (a TXT record's RDATA at 41 holds 41 -> 12, 43 -> 41, 45 -> 43).
        let mut m = RESPONSE[..29].to_vec();
        m[7] = 2;
        m.extend(rr(&[0xc0, 12], 16, 1, &[0xc0, 12, 0xc0, 41, 0xc0, 43]));
        m.extend(rr(&[0xc0, 45], 1, 1, &[5, 5, 5, 5]));
        assert_eq!(parse(&m), ok(vec![v4(5, 5, 5, 5)], 1));
    }

    #[test]
    fn errors_and_negative_answers() {
        // NXDOMAIN with an SOA: TTL = min(SOA TTL, MINIMUM).
        let mut soa = b"\x02ns\xc0\x0c\x04host\xc0\x0c".to_vec();
        for v in [2024u32, 7200, 900, 1209600, 60] {
            soa.extend_from_slice(&v.to_be_bytes());
        }
        let auth = [rr(&[0xc0, 17], 6, 3600, &soa)];
        let m = message(0x8183, "nope.example.com", QType::A, [&[], &auth]);
        let want = Answer {
            ips: vec![],
            ttl: 60,
            rcode: NXDOMAIN,
            truncated: false,
        };
        assert_eq!(
            parse_response(&m, 0x1234, "nope.example.com", QType::A),
            Ok(want)
        );
        // NODATA (NOERROR, no addresses): the SOA TTL when smaller.
        let auth = [rr(&[0xc0, 17], 6, 30, &soa)];
        let m = message(0x8180, "nope.example.com", QType::A, [&[], &auth]);
        assert_eq!(
            parse_response(&m, 0x1234, "nope.example.com", QType::A),
            ok(vec![], 30)
        );
        // SERVFAIL with the question, and header-only.
        let m = message(0x8182, "x.example", QType::A, [&[], &[]]);
        let servfail = Answer {
            rcode: SERVFAIL,
            ..Answer::default()
        };
        assert_eq!(
            parse_response(&m, 0x1234, "x.example", QType::A),
            Ok(servfail.clone())
        );
        let h = header(0x8182, [0; 4]);
        assert_eq!(
            parse_response(&h, 0x1234, "x.example", QType::A),
            Ok(servfail)
        );
        // ...but a NOERROR without the question is not ours.
        let h = header(0x8180, [0; 4]);
        assert_eq!(
            parse_response(&h, 0x1234, "x.example", QType::A),
            Err(DnsError::QuestionMismatch)
        );
        // TTLs with the top bit set count as 0.
        let mut m = RESPONSE.to_vec();
        m[35] = 0x80;
        assert_eq!(
            parse_response(&m, 0x1234, "example.com", QType::A),
            ok(vec![v4(93, 184, 216, 34)], 0)
        );
    }

    #[test]
    fn truncated_responses() {
        // TC set, the second record cut off: what arrived, flagged.
        let mut m = RESPONSE.to_vec();
        m[2] |= 2;
        m[7] = 3;
        m.extend_from_slice(&RESPONSE[29..36]);
        let a = parse_response(&m, 0x1234, "example.com", QType::A).unwrap();
        assert_eq!(a.ips, vec![v4(93, 184, 216, 34)]);
        assert!(a.truncated);
        // TC with only the header and question.
        let m = message(0x8380, "example.com", QType::A, [&[], &[]]);
        let a = parse_response(&m, 0x1234, "example.com", QType::A).unwrap();
        assert!(a.truncated && a.ips.is_empty());
    }

    #[test]
    fn every_prefix_fails_without_panicking() {
        let mut soa = b"\x02ns\xc0\x0c\x04host\xc0\x0c".to_vec();
        soa.extend_from_slice(&[0; 20]);
        let www: &[u8] = &[0xc0, 12];
        let with_soa = message(
            0x8180,
            "www.example.com",
            QType::A,
            [
                &[
                    rr(www, 5, 300, b"\x01a\x07example\x03net\x00"),
                    rr(b"\x01a\x07example\x03net\x00", 1, 1, &[1, 1, 1, 1]),
                ],
                &[rr(&[0xc0, 16], 6, 3600, &soa)],
            ],
        );
        for (full, name) in [(RESPONSE, "example.com"), (&with_soa, "www.example.com")] {
            assert!(parse_response(full, 0x1234, name, QType::A).is_ok());
            for n in 0..full.len() {
                let r = parse_response(&full[..n], 0x1234, name, QType::A);
                assert!(r.is_err(), "prefix {n}: {r:?}");
                // With TC set nothing fails past the question.
                let mut tc = full[..n].to_vec();
                if n > 2 {
                    tc[2] |= 2;
                    let _ = parse_response(&tc, 0x1234, name, QType::A);
                }
            }
        }
    }

    #[test]
    fn mutations_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut m = RESPONSE.to_vec();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
            }
            if next() % 4 == 0 {
                m.truncate(next() as usize % m.len());
            }
            let _ = parse_response(&m, 0x1234, "example.com", QType::A);
            let _ = parse_response(&m, 0x1234, "example.com", QType::AAAA);
        }
    }

    #[test]
    fn counts_that_lie_and_oversized_messages() {
        // The header claims 65535 records of each kind; none follow.
        let mut m = RESPONSE[..29].to_vec();
        m[6..12].copy_from_slice(&[0xff; 6]);
        assert_eq!(
            parse_response(&m, 0x1234, "example.com", QType::A),
            Err(DnsError::Malformed)
        );
        // ... with TC set, what arrived (nothing) is the answer.
        m[2] |= 2;
        let a = parse_response(&m, 0x1234, "example.com", QType::A).unwrap();
        assert!(a.truncated && a.ips.is_empty());
        // A 64 KiB answer (far past 512 bytes) is read whole.
        let records: Vec<Vec<u8>> = (0..4000u32)
            .map(|i| rr(&[0xc0, 12], 1, 600 - i % 7, &i.to_be_bytes()))
            .collect();
        let m = message(0x8180, "example.com", QType::A, [&records, &[]]);
        assert!(m.len() > 60_000);
        let a = parse_response(&m, 0x1234, "example.com", QType::A).unwrap();
        assert_eq!((a.ips.len(), a.ttl), (4000, 594));
        // A record whose RDATA length runs past the end.
        let mut m = RESPONSE.to_vec();
        m[39] = 0xff;
        assert_eq!(
            parse_response(&m, 0x1234, "example.com", QType::A),
            Err(DnsError::Malformed)
        );
        // Too short for a header, and all zeros.
        for junk in [&[][..], &[0x12], &[0x12, 0x34, 0x81], &[0u8; 512]] {
            assert!(parse_response(junk, 0x1234, "example.com", QType::A).is_err());
        }
    }
}
