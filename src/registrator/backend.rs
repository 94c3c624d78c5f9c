//! What each registry stores for a Service (sans-IO): Consul's agent
//! registration body, and the key and value of the KV layouts.

use super::options::Backend;
use super::service::{CheckKind, Service};
use crate::json::Writer;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// `PUT /v1/agent/service/register` for a registrator service: ID, Name,
/// Tags, Port, Address, Meta (the attributes), and its one Check.
///
/// tug decides: attributes Consul would refuse as Meta (a key outside
/// `[A-Za-z0-9_-]` or over 128 bytes, a `consul-` prefix, a value over 512
/// bytes, past the 64th) are left out, not sent to fail the whole
/// registration; the check's ID is `service:<ID>` so a TTL can be updated.
#[inline(never)]
pub fn consul_register_body(svc: &Service) -> String {
    let mut w = Writer::new();
    w.begin_object()
        .field("ID", &svc.id)
        .field("Name", &svc.name)
        .key("Tags")
        .begin_array();
    for t in &svc.tags {
        w.string(t);
    }
    w.end_array()
        .key("Port")
        .uint(u64::from(svc.port))
        .field("Address", &svc.ip)
        .key("Meta")
        .begin_object();
    for (k, v) in consul_meta(&svc.attrs) {
        w.field(k, v);
    }
    w.end_object();
    if let Some(c) = &svc.check {
        w.key("Check")
            .begin_object()
            .field("CheckID", &format!("service:{}", svc.id));
        match &c.kind {
            CheckKind::Http { url, method } => {
                w.field("HTTP", url);
                if let Some(m) = method {
                    w.field("Method", m);
                }
            }
            CheckKind::Args(args) => {
                w.key("Args").begin_array();
                for a in args {
                    w.string(a);
                }
                w.end_array();
            }
            CheckKind::Ttl(ttl) => {
                w.field("TTL", ttl);
            }
            CheckKind::Tcp(addr) => {
                w.field("TCP", addr);
            }
            CheckKind::Grpc {
                addr,
                tls,
                skip_verify,
            } => {
                w.field("GRPC", addr);
                if *tls {
                    w.key("GRPCUseTLS").bool(true);
                }
                if *skip_verify {
                    w.key("TLSSkipVerify").bool(true);
                }
            }
        }
        for (k, v) in [
            ("Interval", &c.interval),
            ("Timeout", &c.timeout),
            ("Status", &c.status),
            ("DeregisterCriticalServiceAfter", &c.deregister_after),
        ] {
            if let Some(v) = v {
                w.field(k, v);
            }
        }
        w.end_object();
    }
    w.end_object();
    w.finish()
}

/// The attributes Consul accepts as Meta, in order, at most 64.
pub fn consul_meta(attrs: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    attrs
        .iter()
        .filter(|(k, v)| {
            !k.is_empty()
                && k.len() <= 128
                && v.len() <= 512
                && !k.starts_with("consul-")
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .take(64)
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The key and value a KV layout stores for a service; None for Consul's
/// catalog. consulkv and etcd: `prefix/name/id` = `ip:port`; skydns2:
/// `/skydns/<domain labels reversed>/name/id` = `{"host":IP,"port":N}`.
#[inline(never)]
pub fn kv_entry(backend: &Backend, svc: &Service) -> Option<(String, String)> {
    kv_key(backend, &svc.name, &svc.id).map(|key| {
        let value = match backend {
            Backend::SkyDns2 { .. } => {
                let mut w = Writer::new();
                w.begin_object()
                    .field("host", &svc.ip)
                    .key("port")
                    .uint(u64::from(svc.port))
                    .end_object();
                w.finish()
            }
            _ => svc.addr(),
        };
        (key, value)
    })
}

/// The key of a service by name and ID (what deregistration deletes).
pub fn kv_key(backend: &Backend, name: &str, id: &str) -> Option<String> {
    match backend {
        Backend::Consul { .. } => None,
        Backend::ConsulKv { prefix, .. } | Backend::Etcd { prefix, .. } => {
            Some(format!("{prefix}/{name}/{id}"))
        }
        Backend::SkyDns2 { domain, .. } => Some(format!("{}/{name}/{id}", skydns_prefix(domain))),
    }
}

/// `skydns.local` -> `/skydns/local/skydns`.
pub fn skydns_prefix(domain: &str) -> String {
    let mut out = String::from("/skydns");
    for label in domain.rsplit('.').filter(|l| !l.is_empty()) {
        out.push('/');
        out.push_str(label);
    }
    out
}

/// A KV key under `prefix` back to (name, id), for -cleanup's listing of
/// what the registry holds; None for keys of another shape.
pub fn parse_kv_key<'k>(prefix: &str, key: &'k str) -> Option<(&'k str, &'k str)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix('/')?;
    let (name, id) = rest.split_once('/')?;
    (!name.is_empty() && !id.is_empty() && !id.contains('/')).then_some((name, id))
}

/// The key prefix a backend lists for -cleanup (None for Consul).
pub fn kv_prefix(backend: &Backend) -> Option<String> {
    match backend {
        Backend::Consul { .. } => None,
        Backend::ConsulKv { prefix, .. } | Backend::Etcd { prefix, .. } => Some(prefix.clone()),
        Backend::SkyDns2 { domain, .. } => Some(skydns_prefix(domain)),
    }
}

/// Consul's `GET /v1/agent/services` as (ID, name) pairs, for -cleanup.
#[inline(never)]
pub fn parse_agent_services(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let doc = crate::json::parse(body).map_err(|e| format!("agent services: {e}"))?;
    let crate::json5::Value::Object(members) = &doc.value else {
        return Err("agent services: expected an object".into());
    };
    let mut out = Vec::new();
    for m in members {
        let name = crate::json::get(&m.value, "Service").and_then(crate::json::as_str);
        let Some(name) = name else {
            return Err(format!("agent services: {}: no Service name", m.key));
        };
        out.push((m.key.clone(), name.into()));
    }
    Ok(out)
}

/// The request that lists what the registry holds, for -cleanup: the
/// agent's services, or the keys under the layout's prefix.
pub fn listing_call(backend: &Backend) -> crate::net::client::Call {
    let prefix = kv_prefix(backend).unwrap_or_default();
    let mut call = match backend {
        Backend::Consul { .. } => get("/v1/agent/services".into()),
        Backend::ConsulKv { .. } => {
            let mut path = String::from("/v1/kv/");
            crate::net::http::percent_encode(&mut path, &prefix, b"/:");
            path.push_str("/?keys");
            get(path)
        }
        Backend::Etcd { .. } | Backend::SkyDns2 { .. } => {
            let from = format!("{prefix}/").into_bytes();
            let end = crate::discovery::etcd::prefix_end(&from);
            crate::discovery::etcd::range_call(&from, Some(&end))
        }
    };
    if let Backend::Consul { token: Some(t), .. } | Backend::ConsulKv { token: Some(t), .. } =
        backend
    {
        call.headers.push(("X-Consul-Token".into(), t.clone()));
    }
    call
}

fn get(path: String) -> crate::net::client::Call {
    crate::net::client::Call {
        method: "GET",
        path,
        headers: Vec::new(),
        body: Vec::new(),
        timeout_ns: Some(crate::discovery::CALL_TIMEOUT_NS),
        stream: false,
        max_body: 8 << 20,
    }
}

/// The answer to `listing_call` as (ID, name) pairs. Consul KV answers
/// 404 for no keys, which the caller sees as an error and skips a turn.
#[inline(never)]
pub fn parse_listing(backend: &Backend, body: &[u8]) -> Result<Vec<(String, String)>, String> {
    use crate::json;
    if let Backend::Consul { .. } = backend {
        return parse_agent_services(body);
    }
    let prefix = kv_prefix(backend).unwrap_or_default();
    let doc = json::parse(body).map_err(|e| format!("registry listing: {e}"))?;
    let mut keys = Vec::new();
    match backend {
        Backend::ConsulKv { .. } => {
            for k in json::as_array(&doc).unwrap_or(&[]) {
                keys.push(String::from(json::as_str(k).unwrap_or("")));
            }
        }
        _ => {
            for kv in json::get(&doc, "kvs")
                .and_then(json::as_array)
                .unwrap_or(&[])
            {
                let k = json::get(kv, "key").and_then(json::as_str).unwrap_or("");
                let k = crate::base64::decode(k)?;
                keys.push(String::from_utf8_lossy(&k).into_owned());
            }
        }
    }
    let mut out = Vec::new();
    for k in &keys {
        if let Some((name, id)) = parse_kv_key(&prefix, k) {
            out.push((String::from(id), String::from(name)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::service::Check;
    use super::*;
    use crate::net::client::Endpoint;
    use alloc::vec;

    fn svc() -> Service {
        Service {
            id: "host:web.1:80".into(),
            name: "web".into(),
            ip: "10.0.0.5".into(),
            port: 8080,
            tags: vec!["www".into(), "a\"b".into()],
            attrs: vec![("region".into(), "us2".into())],
            check: None,
            container: "abc".into(),
            container_name: "web.1".into(),
        }
    }

    fn ep() -> Endpoint {
        Endpoint::Unix("/s".into())
    }

    #[test]
    fn listings_read_back_as_ids_and_names() {
        let ep = || Endpoint::Unix("/x".into());
        let kv = Backend::ConsulKv {
            endpoint: ep(),
            token: Some("t".into()),
            prefix: "svc".into(),
        };
        let call = listing_call(&kv);
        assert_eq!(call.path, "/v1/kv/svc/?keys");
        assert_eq!(call.headers, [("X-Consul-Token".into(), "t".into())]);
        let got = parse_listing(&kv, br#"["svc/web/n:web:80","svc/odd","other/x/y"]"#).unwrap();
        assert_eq!(got, [("n:web:80".into(), "web".into())]);
        let sky = Backend::SkyDns2 {
            endpoint: ep(),
            domain: "skydns.local".into(),
        };
        assert_eq!(listing_call(&sky).path, "/v3/kv/range");
        // "/skydns/local/skydns/web/n:web:80" in base64.
        let key = crate::base64::encode(b"/skydns/local/skydns/web/n:web:80");
        let body = format!(r#"{{"kvs":[{{"key":"{key}","value":""}}]}}"#);
        assert_eq!(
            parse_listing(&sky, body.as_bytes()).unwrap(),
            [("n:web:80".into(), "web".into())]
        );
        assert!(parse_listing(&sky, br#"{"kvs":[{"key":"%%"}]}"#).is_err());
    }

    #[test]
    fn consul_body_without_check() {
        assert_eq!(
            consul_register_body(&svc()),
            r#"{"ID":"host:web.1:80","Name":"web","Tags":["www","a\"b"],"Port":8080,"Address":"10.0.0.5","Meta":{"region":"us2"}}"#
        );
    }

    #[test]
    fn consul_body_with_each_check_kind() {
        let with = |kind, interval: Option<&str>| {
            let mut s = svc();
            s.tags.clear();
            s.attrs.clear();
            s.check = Some(Check {
                kind,
                interval: interval.map(String::from),
                timeout: Some("1s".into()),
                status: Some("passing".into()),
                deregister_after: Some("5m".into()),
            });
            consul_register_body(&s)
        };
        let head = r#"{"ID":"host:web.1:80","Name":"web","Tags":[],"Port":8080,"Address":"10.0.0.5","Meta":{},"Check":{"CheckID":"service:host:web.1:80","#;
        let tail = r#""Timeout":"1s","Status":"passing","DeregisterCriticalServiceAfter":"5m"}}"#;
        assert_eq!(
            with(
                CheckKind::Http {
                    url: "http://10.0.0.5:8080/h".into(),
                    method: Some("HEAD".into())
                },
                Some("15s")
            ),
            format!(
                r#"{head}"HTTP":"http://10.0.0.5:8080/h","Method":"HEAD","Interval":"15s",{tail}"#
            )
        );
        assert_eq!(
            with(
                CheckKind::Args(vec!["/bin/sh".into(), "-c".into(), "x".into()]),
                Some("10s")
            ),
            format!(r#"{head}"Args":["/bin/sh","-c","x"],"Interval":"10s",{tail}"#)
        );
        assert_eq!(
            with(CheckKind::Ttl("30s".into()), None),
            format!(r#"{head}"TTL":"30s",{tail}"#)
        );
        assert_eq!(
            with(CheckKind::Tcp("10.0.0.5:8080".into()), Some("10s")),
            format!(r#"{head}"TCP":"10.0.0.5:8080","Interval":"10s",{tail}"#)
        );
        assert_eq!(
            with(
                CheckKind::Grpc {
                    addr: "10.0.0.5:8080".into(),
                    tls: true,
                    skip_verify: true
                },
                Some("10s")
            ),
            format!(
                r#"{head}"GRPC":"10.0.0.5:8080","GRPCUseTLS":true,"TLSSkipVerify":true,"Interval":"10s",{tail}"#
            )
        );
        // The body is JSON tug itself reads back.
        assert!(crate::json::parse(with(CheckKind::Ttl("1s".into()), None).as_bytes()).is_ok());
    }

    #[test]
    fn meta_consul_would_refuse_is_left_out() {
        let mut attrs: Vec<(String, String)> = vec![
            ("x.y".into(), "1".into()),
            ("consul-x".into(), "1".into()),
            ("big".into(), "v".repeat(513)),
            ("k".repeat(129), "1".into()),
            ("ok_key-1".into(), "v".repeat(512)),
        ];
        let kept: Vec<&str> = consul_meta(&attrs).map(|(k, _)| k).collect();
        assert_eq!(kept, ["ok_key-1"]);
        attrs = (0..70).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(consul_meta(&attrs).count(), 64);
    }

    #[test]
    fn kv_layouts() {
        let kv = Backend::ConsulKv {
            endpoint: ep(),
            token: None,
            prefix: "services".into(),
        };
        assert_eq!(
            kv_entry(&kv, &svc()),
            Some(("services/web/host:web.1:80".into(), "10.0.0.5:8080".into()))
        );
        let etcd = Backend::Etcd {
            endpoint: ep(),
            prefix: "/services".into(),
        };
        let mut v6 = svc();
        v6.ip = "fd00::5".into();
        assert_eq!(
            kv_entry(&etcd, &v6),
            Some((
                "/services/web/host:web.1:80".into(),
                "[fd00::5]:8080".into()
            ))
        );
        let sky = Backend::SkyDns2 {
            endpoint: ep(),
            domain: "skydns.local".into(),
        };
        let mut s = svc();
        s.id = "web-1".into();
        assert_eq!(
            kv_entry(&sky, &s),
            Some((
                "/skydns/local/skydns/web/web-1".into(),
                r#"{"host":"10.0.0.5","port":8080}"#.into()
            ))
        );
        assert_eq!(
            kv_entry(
                &Backend::Consul {
                    endpoint: ep(),
                    token: None
                },
                &s
            ),
            None
        );
        assert_eq!(kv_prefix(&sky).as_deref(), Some("/skydns/local/skydns"));
    }

    #[test]
    fn kv_keys_read_back() {
        assert_eq!(
            parse_kv_key("/services", "/services/web/host:web.1:80"),
            Some(("web", "host:web.1:80"))
        );
        assert_eq!(
            parse_kv_key("services", "services/web/x"),
            Some(("web", "x"))
        );
        assert_eq!(parse_kv_key("/services", "/services/web"), None);
        assert_eq!(parse_kv_key("/services", "/services/a/b/c"), None);
        assert_eq!(parse_kv_key("/services", "/servicesx/a/b"), None);
        assert_eq!(parse_kv_key("", "/a/b"), Some(("a", "b")));
    }

    #[test]
    fn agent_services() {
        let body = br#"{"host:web.1:80":{"ID":"host:web.1:80","Service":"web","Port":8080},"consul":{"ID":"consul","Service":"consul"}}"#;
        assert_eq!(
            parse_agent_services(body),
            Ok(vec![
                ("host:web.1:80".into(), "web".into()),
                ("consul".into(), "consul".into())
            ])
        );
        assert_eq!(
            parse_agent_services(b"[]"),
            Err("agent services: expected an object".into())
        );
        assert_eq!(
            parse_agent_services(br#"{"x":{}}"#),
            Err("agent services: x: no Service name".into())
        );
        assert!(
            parse_agent_services(b"{")
                .unwrap_err()
                .starts_with("agent services: bad JSON")
        );
    }
}
