//! Which address a service advertises: ContainerPilot's `interfaces` specs
//! over this host's interface addresses.
//!
//! Specs: `NAME` (= `NAME:inet`), `NAME:inet6`, `NAME[N]`, an IPv4 or IPv6
//! CIDR (`10.0.0.0/8`, `fd00::/8`), `inet` / `inet6` (any non-loopback
//! address of that family), `static:IP`. The first spec that matches wins;
//! within a spec, candidates go in order of interface name, then address
//! (IPv4 as `::ffff:a.b.c.d`), as ContainerPilot sorts them.
//!
//! Decisions:
//! - Interface names follow Linux's rules (1..=15 bytes, no `/`, `:` or
//!   whitespace), so dots and dashes work (`br-1a2b`, `eth0.100`), unlike
//!   ContainerPilot's `\w+`. That also disambiguates: a spec with `/` is a
//!   CIDR, and `NAME:inet6` splits at its only colon, since a name cannot
//!   hold one; bare IPv6 text (`fd00::1`) is rejected with a hint to write
//!   `static:fd00::1` or `fd00::1/128`.
//! - `NAME[N]` is the N-th (from 0) IPv4 address of NAME. ContainerPilot
//!   counts IPv6 addresses too, after the IPv4 ones, so the two agree
//!   whenever NAME has more than N IPv4 addresses.
//! - `inet6` skips link-local `fe80::/10` as well as loopback: such an
//!   address means nothing without its zone and cannot be advertised.
//!   `NAME:inet6` takes it (global addresses sort first anyway).
//! - An address with a label (`eth0:1`, an alias) belongs to its interface
//!   (`eth0`), as in ContainerPilot, which reads interfaces, not labels.
//! - Nothing matching is an error naming the specs and every address seen;
//!   there is no silent fallback to loopback.

use crate::net::dns::parse_ip;
use crate::num::dec;
use crate::quote::{list, q};
use crate::sys::host;
use crate::sys::net::Ip;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// One address of one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub name: String,
    pub ip: Ip,
}

/// What `select` uses when the config gives no specs.
const DEFAULT_SPECS: [&str; 2] = ["eth0:inet", "inet"];

#[derive(Debug, PartialEq, Eq)]
enum Spec<'a> {
    /// `inet` / `inet6`.
    Any {
        v6: bool,
    },
    /// `NAME`, `NAME:inet`, `NAME:inet6`.
    Named {
        name: &'a str,
        v6: bool,
    },
    /// `NAME[N]`.
    Indexed {
        name: &'a str,
        index: usize,
    },
    Cidr {
        net: Ip,
        bits: u8,
    },
    Static(Ip),
}

/// Checks one spec (for config validation).
pub fn validate(spec: &str) -> Result<(), String> {
    parse(spec).map(drop)
}

fn parse(spec: &str) -> Result<Spec<'_>, String> {
    match spec {
        "inet" => return Ok(Spec::Any { v6: false }),
        "inet6" => return Ok(Spec::Any { v6: true }),
        _ => {}
    }
    if let Some(ip) = spec.strip_prefix("static:") {
        return parse_ip(ip).map(Spec::Static).ok_or_else(|| {
            format!(
                "interfaces: {spec}: {ip} is not an IP address",
                spec = q(&spec),
                ip = q(&ip)
            )
        });
    }
    if let Some((ip, bits)) = spec.split_once('/') {
        return parse_cidr(ip, bits)
            .ok_or_else(|| format!("interfaces: {spec} is not a valid CIDR", spec = q(&spec)));
    }
    if let Some(open) = spec.strip_suffix(']') {
        let (name, index) = open.split_once('[').unwrap_or((open, ""));
        let digits = !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit());
        return match dec::<usize>(index) {
            Some(index) if digits && valid_name(name) => Ok(Spec::Indexed { name, index }),
            _ => Err(format!(
                "interfaces: {spec}: want NAME[N] with a number N",
                spec = q(&spec)
            )),
        };
    }
    if parse_ip(spec).is_some() {
        return Err(format!(
            "interfaces: {} is an address, not a spec: write \"static:{spec}\" or a CIDR",
            q(spec)
        ));
    }
    let (name, v6) = match spec.rsplit_once(':') {
        Some((name, "inet")) => (name, false),
        Some((name, "inet6")) => (name, true),
        _ => (spec, false),
    };
    if valid_name(name) {
        return Ok(Spec::Named { name, v6 });
    }
    Err(format!(
        "interfaces: unknown spec {spec} (want NAME, NAME:inet, NAME:inet6, NAME[N], a CIDR, inet, inet6 or static:IP)",
        spec = q(&spec)
    ))
}

/// Linux's rules for interface names (dev_valid_name), minus brackets.
fn valid_name(name: &str) -> bool {
    (1..16).contains(&name.len())
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == b'[' || b == b']' || b.is_ascii_whitespace())
}

fn parse_cidr(ip: &str, bits: &str) -> Option<Spec<'static>> {
    let net = parse_ip(ip)?;
    let max = match net {
        Ip::V4(_) => 32,
        Ip::V6(_) => 128,
    };
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) || bits.len() > 3 {
        return None;
    }
    let bits: u8 = dec(bits).filter(|&b| b <= max)?;
    Some(Spec::Cidr { net, bits })
}

/// Whether the first `bits` bits of `a` and `b` agree.
fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

fn is_v6(ip: &Ip) -> bool {
    matches!(ip, Ip::V6(_))
}

fn is_loopback(ip: &Ip) -> bool {
    match ip {
        Ip::V4(a) => a[0] == 127,
        Ip::V6(a) => *a == V6_LOOPBACK,
    }
}

fn is_link_local_v6(ip: &Ip) -> bool {
    matches!(ip, Ip::V6([0xfe, b, ..]) if b & 0xc0 == 0x80)
}

pub(crate) const V6_LOOPBACK: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// The 16-byte form ContainerPilot sorts by.
fn sort_key(ip: &Ip) -> [u8; 16] {
    match ip {
        Ip::V4([a, b, c, d]) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, *a, *b, *c, *d],
        Ip::V6(a) => *a,
    }
}

impl Spec<'_> {
    /// The first of the (sorted) candidates this spec takes.
    fn pick(&self, sorted: &[&IfAddr]) -> Option<Ip> {
        let first = |want: &dyn Fn(&IfAddr) -> bool| sorted.iter().find(|a| want(a)).map(|a| a.ip);
        match *self {
            Spec::Static(ip) => Some(ip),
            Spec::Indexed { name, index } => sorted
                .iter()
                .filter(|a| a.name == name && !is_v6(&a.ip))
                .nth(index)
                .map(|a| a.ip),
            Spec::Named { name, v6 } => first(&|a| a.name == name && is_v6(&a.ip) == v6),
            Spec::Any { v6 } => {
                first(&|a| is_v6(&a.ip) == v6 && !is_loopback(&a.ip) && !is_link_local_v6(&a.ip))
            }
            Spec::Cidr { net, bits } => first(&|a| match (net, a.ip) {
                (Ip::V4(n), Ip::V4(ip)) => prefix_eq(&n, &ip, bits),
                (Ip::V6(n), Ip::V6(ip)) => prefix_eq(&n, &ip, bits),
                _ => false,
            }),
        }
    }
}

/// The address the first matching spec picks from `ifaces` (any order).
/// No specs: `DEFAULT_SPECS`. A bad spec is an error even if an earlier
/// one would match, so a typo never hides until an interface goes away.
pub fn select(specs: &[String], ifaces: &[IfAddr]) -> Result<Ip, String> {
    let mut defaults: Vec<String> = Vec::new();
    for s in DEFAULT_SPECS {
        defaults.push(String::from(s));
    }
    let specs = if specs.is_empty() { &defaults } else { specs };
    let mut parsed = Vec::with_capacity(specs.len());
    for s in specs {
        parsed.push(parse(s)?);
    }
    // By name, then address; stable (each goes after its equals). Inserted
    // one by one: a host has a few addresses, and core's sort adds 3 KB.
    fn key(a: &IfAddr) -> (&str, [u8; 16]) {
        (&a.name, sort_key(&a.ip))
    }
    let mut sorted: Vec<&IfAddr> = Vec::with_capacity(ifaces.len());
    for a in ifaces {
        let at = sorted.partition_point(|b| key(b) <= key(a));
        sorted.insert(at, a);
    }
    if let Some(ip) = parsed.iter().find_map(|spec| spec.pick(&sorted)) {
        return Ok(ip);
    }
    let mut msg = format!(
        "no interface address matches interfaces {}; addresses seen:",
        list(specs)
    );
    if sorted.is_empty() {
        msg.push_str(" none");
    }
    for (i, a) in sorted.iter().enumerate() {
        let sep = if i == 0 { " " } else { ", " };
        let _ = write!(msg, "{sep}{} {}", a.name, ip_text(&a.ip));
    }
    Err(msg)
}

/// This host's interface addresses, aliases (`eth0:1`) under their
/// interface's name.
pub fn local_addresses() -> Result<Vec<IfAddr>, String> {
    let all = host::interface_addresses().map_err(|e| format!("getifaddrs: {e}"))?;
    let mut out = Vec::with_capacity(all.len());
    for (name, ip) in all {
        let name = match name.split_once(':') {
            Some((base, _)) => base.into(),
            None => name,
        };
        out.push(IfAddr { name, ip });
    }
    Ok(out)
}

/// An address as text: IPv4 dotted, IPv6 in RFC 5952's canonical form
/// (lower case, no leading zeros, the longest run of two or more zero
/// groups as `::`, the first if tied; `::ffff:a.b.c.d` for IPv4-mapped).
pub fn ip_text(ip: &Ip) -> String {
    let mut s = String::new();
    match ip {
        Ip::V4([a, b, c, d]) => {
            let _ = write!(s, "{a}.{b}.{c}.{d}");
        }
        Ip::V6(a) => {
            if a[..10] == [0; 10] && a[10..12] == [0xff, 0xff] {
                let _ = write!(s, "::ffff:{}.{}.{}.{}", a[12], a[13], a[14], a[15]);
                return s;
            }
            let mut g = [0u16; 8];
            for (i, v) in g.iter_mut().enumerate() {
                *v = u16::from_be_bytes([a[2 * i], a[2 * i + 1]]);
            }
            // The longest run of zero groups: (start, len).
            let (mut best, mut run) = ((0, 0), (0, 0));
            for (i, &v) in g.iter().enumerate() {
                if v == 0 {
                    run = if run.1 == 0 {
                        (i, 1)
                    } else {
                        (run.0, run.1 + 1)
                    };
                    if run.1 > best.1 {
                        best = run;
                    }
                } else {
                    run = (0, 0);
                }
            }
            let mut i = 0;
            while i < 8 {
                if best.1 >= 2 && i == best.0 {
                    s.push_str("::");
                    i += best.1;
                    continue;
                }
                if !s.is_empty() && !s.ends_with(':') {
                    s.push(':');
                }
                let _ = write!(s, "{:x}", g[i]);
                i += 1;
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec;

    fn ip(s: &str) -> Ip {
        parse_ip(s).unwrap()
    }

    fn iface(name: &str, addr: &str) -> IfAddr {
        IfAddr {
            name: name.into(),
            ip: ip(addr),
        }
    }

    /// A container with docker's usual interfaces, listed out of order.
    fn host() -> Vec<IfAddr> {
        vec![
            iface("lo", "::1"),
            iface("eth0", "fe80::42:acff:fe11:2"),
            iface("eth0", "172.17.0.2"),
            iface("lo", "127.0.0.1"),
            iface("eth1", "10.0.1.7"),
            iface("eth0", "2001:db8::2"),
            iface("eth0", "172.17.0.9"),
            iface("br-1a2b", "192.168.50.1"),
            iface("eth0.100", "10.100.0.3"),
            iface("eth0.100", "fd00::3"),
        ]
    }

    fn pick(specs: &[&str], ifaces: &[IfAddr]) -> Result<String, String> {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        select(&specs, ifaces).map(|ip| ip_text(&ip))
    }

    #[test]
    fn specs_pick_addresses() {
        let h = host();
        for (specs, want) in [
            (&[][..], "172.17.0.2"),
            (&["eth0"][..], "172.17.0.2"),
            (&["eth0:inet"], "172.17.0.2"),
            (&["eth0:inet6"], "2001:db8::2"),
            (&["eth0[0]"], "172.17.0.2"),
            (&["eth0[1]"], "172.17.0.9"),
            (&["eth1"], "10.0.1.7"),
            (&["br-1a2b"], "192.168.50.1"),
            (&["eth0.100"], "10.100.0.3"),
            (&["eth0.100:inet6"], "fd00::3"),
            // "eth0.100" sorts before "eth1".
            (&["10.0.0.0/8"], "10.100.0.3"),
            (&["10.0.0.0/16"], "10.0.1.7"),
            (&["10.100.0.0/16"], "10.100.0.3"),
            (&["172.17.0.8/31"], "172.17.0.9"),
            (&["fd00::/8"], "fd00::3"),
            (&["0.0.0.0/0"], "192.168.50.1"),
            (&["inet"], "192.168.50.1"),
            (&["inet6"], "2001:db8::2"),
            (&["lo"], "127.0.0.1"),
            (&["lo:inet6"], "::1"),
            (&["static:10.9.9.9"], "10.9.9.9"),
            (&["static:FD00::0001"], "fd00::1"),
            // First match wins, in spec order.
            (&["eth9", "eth0[5]", "eth1", "eth0"], "10.0.1.7"),
            (&["static:1.2.3.4", "eth0"], "1.2.3.4"),
            (&["eth0", "static:1.2.3.4"], "172.17.0.2"),
        ] {
            assert_eq!(pick(specs, &h).as_deref(), Ok(want), "{specs:?}");
        }
    }

    #[test]
    fn wildcards_skip_loopback_and_link_local() {
        let h = vec![
            iface("lo", "127.0.0.1"),
            iface("lo", "::1"),
            iface("eth0", "fe80::1"),
        ];
        let e = pick(&["inet", "inet6"], &h).unwrap_err();
        assert_eq!(
            e,
            "no interface address matches interfaces [\"inet\", \"inet6\"]; \
             addresses seen: eth0 fe80::1, lo ::1, lo 127.0.0.1"
        );
        assert_eq!(pick(&["eth0:inet6"], &h).as_deref(), Ok("fe80::1"));
        let e = pick(&[], &[]).unwrap_err();
        assert_eq!(
            e,
            "no interface address matches interfaces [\"eth0:inet\", \"inet\"]; addresses seen: none"
        );
        // The default falls back from eth0 to any IPv4 address.
        let h = vec![iface("ens5", "10.1.2.3"), iface("lo", "127.0.0.1")];
        assert_eq!(pick(&[], &h).as_deref(), Ok("10.1.2.3"));
    }

    #[test]
    fn bad_specs() {
        for (spec, msg) in [
            ("", "interfaces: unknown spec \"\""),
            (
                "static:",
                "interfaces: \"static:\": \"\" is not an IP address",
            ),
            (
                "static:eth0",
                "interfaces: \"static:eth0\": \"eth0\" is not an IP address",
            ),
            (
                "10.0.0.0/33",
                "interfaces: \"10.0.0.0/33\" is not a valid CIDR",
            ),
            ("10.0.0.0/", "interfaces: \"10.0.0.0/\" is not a valid CIDR"),
            ("10.0.0/8", "interfaces: \"10.0.0/8\" is not a valid CIDR"),
            (
                "fd00::/129",
                "interfaces: \"fd00::/129\" is not a valid CIDR",
            ),
            ("fd00::/+8", "interfaces: \"fd00::/+8\" is not a valid CIDR"),
            ("eth0/24", "interfaces: \"eth0/24\" is not a valid CIDR"),
            (
                "eth0[]",
                "interfaces: \"eth0[]\": want NAME[N] with a number N",
            ),
            (
                "eth0[-1]",
                "interfaces: \"eth0[-1]\": want NAME[N] with a number N",
            ),
            (
                "eth0[+1]",
                "interfaces: \"eth0[+1]\": want NAME[N] with a number N",
            ),
            ("[1]", "interfaces: \"[1]\": want NAME[N] with a number N"),
            ("eth0:inet4", "interfaces: unknown spec \"eth0:inet4\""),
            ("eth0:1", "interfaces: unknown spec \"eth0:1\""),
            (
                "a very long name",
                "interfaces: unknown spec \"a very long name\"",
            ),
            (
                "abcdefghijklmnop",
                "interfaces: unknown spec \"abcdefghijklmnop\"",
            ),
            (
                "fd00::1",
                "interfaces: \"fd00::1\" is an address, not a spec: write \"static:fd00::1\" or a CIDR",
            ),
            (
                "10.0.0.1",
                "interfaces: \"10.0.0.1\" is an address, not a spec: write \"static:10.0.0.1\" or a CIDR",
            ),
        ] {
            let e = validate(spec).unwrap_err();
            assert!(e.starts_with(msg), "{spec:?}: {e}");
            // select reports a bad spec even after one that matches.
            let specs = [String::from("static:1.1.1.1"), spec.into()];
            assert_eq!(select(&specs, &host()).unwrap_err(), e);
        }
        // Dotted names work unless they read as an address.
        assert_eq!(validate("abcdefghijklmno"), Ok(()));
        assert_eq!(validate("vlan.10"), Ok(()));
        assert_eq!(validate("inet:inet6"), Ok(()));
    }

    #[test]
    fn canonical_ipv6_text() {
        for (input, want) in [
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            (
                "2001:0db8:0000:0000:0000:ff00:0042:8329",
                "2001:db8::ff00:42:8329",
            ),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:db8:0:0:1:1:0:0", "2001:db8::1:1:0:0"),
            ("0:0:1:0:0:0:1:0", "0:0:1::1:0"),
            ("FE80::ABCD", "fe80::abcd"),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
            ("10.1.2.3", "10.1.2.3"),
        ] {
            assert_eq!(ip_text(&ip(input)), want, "{input}");
            assert_eq!(ip(&ip_text(&ip(input))), ip(input));
        }
        let mut mapped = [0u8; 16];
        mapped[10..].copy_from_slice(&[0xff, 0xff, 10, 1, 2, 3]);
        assert_eq!(ip_text(&Ip::V6(mapped)), "::ffff:10.1.2.3");
    }

    #[test]
    fn this_hosts_addresses() {
        let all = local_addresses().unwrap();
        assert!(all.iter().any(|a| a.ip == Ip::V4([127, 0, 0, 1])));
        assert!(all.iter().all(|a| !a.name.contains(':')));
        let specs = ["lo".to_string()];
        let picked = select(&specs, &all).map(|ip| ip_text(&ip));
        assert_eq!(picked.as_deref(), Ok("127.0.0.1"));
    }
}
