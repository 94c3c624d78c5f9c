//! Addresses from configs and the environment: `interfaces` specs,
//! endpoints (`host:port`, `[v6]:port`, `unix:///path`) and IP literals.
//! Never a panic; a parsed IP prints back as text that parses to the same
//! address; a spec that validates is one `select` accepts without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::net::client::Endpoint;
use tug::net::dns::parse_ip;
use tug::net::interfaces::{self, IfAddr};
use tug::sys::net::Ip;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(ip) = parse_ip(s) {
        let text = interfaces::ip_text(&ip);
        assert_eq!(parse_ip(&text), Some(ip), "{s:?} printed as {text:?}");
    }
    if let Ok(ep) = Endpoint::parse(s, 8500) {
        let _ = ep.host_header();
        let shown = ep.to_string();
        assert_eq!(
            Endpoint::parse(&shown, 8500).as_ref(),
            Ok(&ep),
            "{s:?} shown as {shown:?}"
        );
    }
    if interfaces::validate(s).is_ok() {
        let ifaces = [
            IfAddr {
                name: "eth0".into(),
                ip: Ip::V4([10, 0, 0, 5]),
            },
            IfAddr {
                name: "eth0".into(),
                ip: Ip::V6([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]),
            },
            IfAddr {
                name: "br-1a.2".into(),
                ip: Ip::V4([172, 17, 0, 1]),
            },
            IfAddr {
                name: "lo".into(),
                ip: Ip::V4([127, 0, 0, 1]),
            },
        ];
        let _ = interfaces::select(&[s.to_string()], &ifaces);
    }
});
