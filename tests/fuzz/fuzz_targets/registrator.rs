//! Registrator mode's readers: the Docker event stream and the container
//! inspect -> services model. Never a panic; the events do not depend on
//! how the stream is split into reads; a registry's listing (-cleanup)
//! reads without a panic; the model is deterministic and its
//! services are registrable (address, port, name, ID, sorted attributes
//! without the control keys, a Consul body that is JSON); a plan from
//! nothing registers each ID once, and planning again changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::registrator::backend::{consul_register_body, kv_entry};
use tug::registrator::events::Decoder;
use tug::registrator::inspect;
use tug::registrator::reconcile::{Change, Observed, Policy, Registered, State, plan};
use tug::registrator::service::services;
use tug::registrator::{Backend, Deregister, Identity, Model};

fuzz_target!(|data: &[u8]| {
    events(data);
    model(data);
    listing(data);
});

/// -cleanup's reading of what a registry lists: never a panic, and only
/// (ID, name) pairs with both non-empty.
fn listing(data: &[u8]) {
    let ep = || tug::net::client::Endpoint::Unix("/e".into());
    let backends = [
        Backend::Consul { endpoint: ep(), token: None },
        Backend::ConsulKv { endpoint: ep(), token: None, prefix: "svc".into() },
        Backend::SkyDns2 { endpoint: ep(), domain: "skydns.local".into() },
    ];
    for b in &backends {
        if let Ok(list) = tug::registrator::backend::parse_listing(b, data) {
            if !matches!(b, Backend::Consul { .. }) {
                assert!(list.iter().all(|(id, name)| !id.is_empty() && !name.is_empty()), "{list:?}");
            }
        }
    }
}

fn events(data: &[u8]) {
    let mut whole = Vec::new();
    Decoder::new().feed(data, &mut whole);
    let cut = data.first().map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let mut split = Vec::new();
    let mut d = Decoder::new();
    d.feed(&data[..cut], &mut split);
    d.feed(&data[cut..], &mut split);
    assert_eq!(whole, split, "split at {cut}");
    if data.len() <= 2048 {
        let mut bytes = Vec::new();
        let mut d = Decoder::new();
        for b in data {
            d.feed(std::slice::from_ref(b), &mut bytes);
        }
        assert_eq!(whole, bytes, "byte by byte");
    }
}

fn model(data: &[u8]) {
    let Ok(c) = inspect::parse(data) else {
        return;
    };
    let me = Identity {
        node: "node".into(),
        host_ip: "192.0.2.1".into(),
    };
    let models = [
        Model::default(),
        Model {
            internal: true,
            ..Model::default()
        },
        Model {
            explicit: true,
            tags: vec!["t".into(), "u,v".into()],
            ..Model::default()
        },
        Model {
            ip: Some("2001:db8::1".into()),
            ip_from_label: Some("ip".into()),
            ..Model::default()
        },
    ];
    let kv = Backend::Etcd {
        endpoint: tug::net::client::Endpoint::Unix("/e".into()),
        prefix: "/services".into(),
    };
    for m in &models {
        // The container itself stands in for a `container:X` peer.
        let peer = c.network_container().map(|_| &c);
        let list = services(&c, m, &me, peer);
        assert_eq!(list, services(&c, m, &me, peer), "deterministic");
        for s in &list {
            assert!(!s.ip.is_empty() && s.port != 0 && !s.name.is_empty() && !s.id.is_empty(), "{s:?}");
            assert_eq!(s.container, c.id);
            assert!(s.attrs.windows(2).all(|w| w[0] <= w[1]), "{s:?}");
            assert!(
                s.attrs.iter().all(|(k, _)| !["id", "tags", "name", "network"].contains(&k.as_str())),
                "{s:?}"
            );
            assert!(s.tags.iter().all(|t| !t.is_empty()), "{s:?}");
            let body = consul_register_body(s);
            assert!(tug::json::parse(body.as_bytes()).is_ok(), "{body}");
            assert!(kv_entry(&kv, s).is_some());
        }
        let policy = Policy {
            deregister: Deregister::OnSuccess,
            cleanup: true,
            node: "node",
        };
        let seen = [Observed {
            container: c.id.clone(),
            state: State::Running(list.clone()),
        }];
        let fresh = plan(&[], &seen, &[], &policy);
        let mut ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(fresh.len(), ids.len());
        let held: Vec<Registered> = fresh
            .iter()
            .map(|ch| match ch {
                Change::Register(s) => Registered {
                    service: (**s).clone(),
                    parked: false,
                },
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(plan(&held, &seen, &[], &policy), []);
        // Gone: every held service goes, once.
        let gone = [Observed {
            container: c.id.clone(),
            state: State::Gone,
        }];
        assert_eq!(plan(&held, &gone, &[], &policy).len(), held.len());
    }
}
