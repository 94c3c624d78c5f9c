//! What the discovery backends read from the wire: Consul health and KV
//! answers, etcd service values, and base64. Never a panic; the instance
//! sets are sorted and hold only statuses tug knows; a value tug writes
//! reads back as the same instance.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::discovery::{Service, parse_health_service, parse_kv, parse_service_value, service_value};

fuzz_target!(|data: &[u8]| {
    for parse in [parse_health_service, parse_kv] {
        if let Ok(set) = parse(data) {
            for i in &set {
                assert!(
                    ["passing", "warning", "critical"].contains(&i.status.as_str()),
                    "{i:?}"
                );
            }
        }
    }
    let _ = parse_service_value(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(bytes) = tug::base64::decode(text) {
            assert_eq!(tug::base64::encode(&bytes), text, "base64 is canonical");
        }
        let mut words = text.split('\n');
        let svc = Service {
            id: words.next().unwrap_or("").into(),
            name: words.next().unwrap_or("").into(),
            address: words.next().unwrap_or("").into(),
            port: 8080,
            tags: words
                .next()
                .map(|t| t.split(',').map(String::from).collect())
                .unwrap_or_default(),
            meta: words
                .next()
                .map(|m| vec![("k".into(), m.into())])
                .unwrap_or_default(),
            ttl_ns: 10_000_000_000,
            enable_tag_override: false,
            deregister_after: None,
            initial_status: None,
        };
        let back = parse_service_value(service_value(&svc).as_bytes()).expect("tug's own value");
        assert_eq!(
            (back.id.as_str(), back.address.as_str(), back.port),
            (svc.id.as_str(), svc.address.as_str(), 8080)
        );
    }
});
