//! From what tug has registered and what the containers are now, the
//! registry changes to make. One function serves the initial sync, every
//! -resync, the resync after the event stream comes back, and each event
//! (which observes one container).
//!
//! Contract:
//! - Only containers in `observed` are acted on: a registration of any
//!   other container is left as it is. A full resync observes every
//!   running container and every container tug holds a registration for
//!   (inspected: exited with its code, or gone on 404).
//! - `remote` (what the registry lists, as (ID, name)) is read only with
//!   `cleanup`, and must come with a full resync: an ID of this node's
//!   shape (`node:container:port[:udp]`) that nothing running wants is
//!   removed, whoever registered it (an earlier tug, a crashed one).
//! - Changes come deregistrations first, then parks, then registrations,
//!   each group in input order; a service whose name changed under the
//!   same ID is removed before it is added (KV keys hold the name).
//!
//! `-deregister on-success` (registrator's rule): a container that exited
//! 0, was killed by a signal (exit code with bit 128 set: docker stop's
//! 137), or is gone is deregistered; any other exit, or an inspect that
//! failed, keeps the registration, parked (no longer refreshed, so a TTL
//! ends it), until the container starts again or -cleanup's next resync
//! removes it.

use super::options::Deregister;
use super::service::Service;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// A registration tug holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub service: Service,
    /// Kept after a failed exit (on-success); not refreshed.
    pub parked: bool,
}

/// What a container is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Running, with the services the model gives it now.
    Running(Vec<Service>),
    Exited(i64),
    /// Removed (inspect answered 404).
    Gone,
    /// The inspect failed otherwise.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// Full container ID.
    pub container: String,
    pub state: State,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Register, or register again with new content.
    Register(Box<Service>),
    Deregister {
        id: String,
        name: String,
    },
    /// Keep it, stop refreshing it.
    Park {
        id: String,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    pub deregister: Deregister,
    /// -cleanup, on a full resync only.
    pub cleanup: bool,
    /// The node identity in IDs.
    pub node: &'a str,
}

/// Whether a container that exited with `code` loses its services.
pub fn removes_on_exit(deregister: Deregister, code: i64) -> bool {
    match deregister {
        Deregister::Always => true,
        Deregister::OnSuccess => code == 0 || code & 128 != 0,
    }
}

pub fn plan(
    registered: &[Registered],
    observed: &[Observed],
    remote: &[(String, String)],
    p: &Policy,
) -> Vec<Change> {
    plan_from(registered, &mut observed.to_vec(), remote, p)
}

/// `plan`, moving the observed services into the changes instead of
/// copying them: `observed`'s Running lists are left empty. `registered`
/// holds each ID once (as `run` keeps it).
pub fn plan_from(
    registered: &[Registered],
    observed: &mut [Observed],
    remote: &[(String, String)],
    p: &Policy,
) -> Vec<Change> {
    let mut desired: Vec<Service> = Vec::new();
    for o in observed.iter_mut() {
        if let State::Running(list) = &mut o.state {
            for s in core::mem::take(list) {
                if !desired.iter().any(|d| d.id == s.id) {
                    desired.push(s);
                }
            }
        }
    }
    let mut gone = Vec::new();
    let mut parks = Vec::new();
    // Indices into `desired`, each once.
    let mut adds = Vec::new();
    let drop = |s: &Service| Change::Deregister {
        id: s.id.clone(),
        name: s.name.clone(),
    };
    for r in registered {
        let s = &r.service;
        let Some(o) = observed.iter().find(|o| o.container == s.container) else {
            continue;
        };
        if let Some(k) = desired.iter().position(|d| d.id == s.id) {
            let d = &desired[k];
            if d.name != s.name {
                gone.push(drop(s));
            }
            if d != s || r.parked {
                adds.push(k);
            }
            continue;
        }
        let keep = match o.state {
            State::Running(_) | State::Gone => false,
            State::Exited(code) => !removes_on_exit(p.deregister, code) && !p.cleanup,
            State::Unknown => p.deregister == Deregister::OnSuccess,
        };
        match (keep, r.parked) {
            (false, _) => gone.push(drop(s)),
            (true, false) => parks.push(Change::Park { id: s.id.clone() }),
            (true, true) => {}
        }
    }
    for (k, d) in desired.iter().enumerate() {
        if !registered.iter().any(|r| r.service.id == d.id) {
            adds.push(k);
        }
    }
    if p.cleanup {
        for (id, name) in remote {
            let known = registered.iter().any(|r| r.service.id == *id)
                || desired.iter().any(|d| d.id == *id);
            if !known && ours(id, p.node) {
                gone.push(Change::Deregister {
                    id: id.clone(),
                    name: name.clone(),
                });
            }
        }
    }
    gone.extend(parks);
    for k in adds {
        let d = core::mem::take(&mut desired[k]);
        gone.push(Change::Register(Box::new(d)));
    }
    gone
}

/// Whether `id` has the shape of this node's default IDs:
/// `node:container:port`, `:udp` or `:sctp` after, a Docker container name
/// (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`) in the middle.
pub fn ours(id: &str, node: &str) -> bool {
    let Some(rest) = id.strip_prefix(node).and_then(|r| r.strip_prefix(':')) else {
        return false;
    };
    let rest = rest
        .strip_suffix(":udp")
        .or_else(|| rest.strip_suffix(":sctp"))
        .unwrap_or(rest);
    let Some((name, port)) = rest.rsplit_once(':') else {
        return false;
    };
    let nb = name.as_bytes();
    nb.len() >= 2
        && nb[0].is_ascii_alphanumeric()
        && nb
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(b))
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec;

    fn svc(container: &str, port: u16) -> Service {
        Service {
            id: format!("node:{container}:{port}"),
            name: container.into(),
            ip: "10.0.0.1".into(),
            port,
            tags: Vec::new(),
            attrs: Vec::new(),
            check: None,
            container: container.into(),
            container_name: container.into(),
        }
    }

    fn add(s: Service) -> Change {
        Change::Register(Box::new(s))
    }

    fn reg(s: Service) -> Registered {
        Registered {
            service: s,
            parked: false,
        }
    }

    fn running(container: &str, list: Vec<Service>) -> Observed {
        Observed {
            container: container.into(),
            state: State::Running(list),
        }
    }

    fn state(container: &str, state: State) -> Observed {
        Observed {
            container: container.into(),
            state,
        }
    }

    fn dereg(s: &Service) -> Change {
        Change::Deregister {
            id: s.id.clone(),
            name: s.name.clone(),
        }
    }

    fn policy(deregister: Deregister) -> Policy<'static> {
        Policy {
            deregister,
            cleanup: false,
            node: "node",
        }
    }

    const ALWAYS: Policy = Policy {
        deregister: Deregister::Always,
        cleanup: false,
        node: "node",
    };

    #[test]
    fn initial_sync_registers_everything_running() {
        let (a, b, c) = (svc("a", 80), svc("a", 443), svc("b", 53));
        let seen = [
            running("a", vec![a.clone(), b.clone()]),
            running("b", vec![c.clone()]),
        ];
        assert_eq!(plan(&[], &seen, &[], &ALWAYS), [add(a), add(b), add(c)]);
    }

    #[test]
    fn unchanged_is_nothing_and_a_change_registers_again() {
        let a = svc("a", 80);
        assert_eq!(
            plan(
                &[reg(a.clone())],
                &[running("a", vec![a.clone()])],
                &[],
                &ALWAYS
            ),
            []
        );
        let mut moved = a.clone();
        moved.ip = "10.0.0.2".into();
        assert_eq!(
            plan(
                &[reg(a)],
                &[running("a", vec![moved.clone()])],
                &[],
                &ALWAYS
            ),
            [add(moved)]
        );
    }

    #[test]
    fn a_resync_after_the_stream_returns_reconciles_what_happened_meanwhile() {
        // Registered: a and b. While the stream was down, a was removed,
        // b was recreated with a new address, and c started.
        let (a, b, c) = (svc("a", 80), svc("b", 80), svc("c", 80));
        let mut b2 = b.clone();
        b2.ip = "10.0.0.9".into();
        let seen = [
            state("a", State::Gone),
            running("b", vec![b2.clone()]),
            running("c", vec![c.clone()]),
        ];
        assert_eq!(
            plan(&[reg(a.clone()), reg(b)], &seen, &[], &ALWAYS),
            [dereg(&a), add(b2), add(c)]
        );
    }

    #[test]
    fn containers_not_observed_are_left_alone() {
        let (a, b) = (svc("a", 80), svc("b", 80));
        let event = [state("b", State::Exited(0))];
        assert_eq!(
            plan(&[reg(a), reg(b.clone())], &event, &[], &ALWAYS),
            [dereg(&b)]
        );
    }

    #[test]
    fn deregister_always() {
        let a = svc("a", 80);
        for s in [
            State::Exited(0),
            State::Exited(1),
            State::Exited(137),
            State::Gone,
            State::Unknown,
        ] {
            assert_eq!(
                plan(&[reg(a.clone())], &[state("a", s)], &[], &ALWAYS),
                [dereg(&a)]
            );
        }
    }

    #[test]
    fn deregister_on_success() {
        let a = svc("a", 80);
        let p = policy(Deregister::OnSuccess);
        let go = |s: State| plan(&[reg(a.clone())], &[state("a", s)], &[], &p);
        for s in [
            State::Exited(0),
            State::Exited(137),
            State::Exited(143),
            State::Gone,
        ] {
            assert_eq!(go(s.clone()), [dereg(&a)], "{s:?}");
        }
        let park = [Change::Park { id: a.id.clone() }];
        for s in [
            State::Exited(1),
            State::Exited(2),
            State::Exited(127),
            State::Unknown,
        ] {
            assert_eq!(go(s.clone()), park, "{s:?}");
        }
        // Parked once; then kept quietly; restored when it runs again;
        // removed when it is gone.
        let parked = Registered {
            service: a.clone(),
            parked: true,
        };
        assert_eq!(
            plan(
                core::slice::from_ref(&parked),
                &[state("a", State::Exited(1))],
                &[],
                &p
            ),
            []
        );
        assert_eq!(
            plan(
                core::slice::from_ref(&parked),
                &[running("a", vec![a.clone()])],
                &[],
                &p
            ),
            [add(a.clone())]
        );
        assert_eq!(
            plan(
                core::slice::from_ref(&parked),
                &[state("a", State::Gone)],
                &[],
                &p
            ),
            [dereg(&a)]
        );
        // -cleanup's resync removes a failed container's services.
        let cleanup = Policy { cleanup: true, ..p };
        assert_eq!(
            plan(&[parked], &[state("a", State::Exited(1))], &[], &cleanup),
            [dereg(&a)]
        );
        // ... but not on an inspect that failed.
        assert_eq!(
            plan(
                &[reg(a.clone())],
                &[state("a", State::Unknown)],
                &[],
                &cleanup
            ),
            park
        );
    }

    #[test]
    fn exit_codes() {
        assert!(removes_on_exit(Deregister::OnSuccess, 0));
        assert!(removes_on_exit(Deregister::OnSuccess, 130));
        assert!(!removes_on_exit(Deregister::OnSuccess, 1));
        assert!(!removes_on_exit(Deregister::OnSuccess, 127));
        assert!(removes_on_exit(Deregister::Always, 1));
    }

    #[test]
    fn a_running_container_that_no_longer_yields_a_service_loses_it() {
        let a = svc("a", 80);
        let mut renamed = a.clone();
        renamed.id = "custom".into();
        assert_eq!(
            plan(
                &[reg(a.clone())],
                &[running("a", vec![renamed.clone()])],
                &[],
                &ALWAYS
            ),
            [dereg(&a), add(renamed)]
        );
        assert_eq!(
            plan(&[reg(a.clone())], &[running("a", vec![])], &[], &ALWAYS),
            [dereg(&a)]
        );
    }

    #[test]
    fn a_new_name_under_the_same_id_removes_the_old_key_first() {
        let a = svc("a", 80);
        let mut b = a.clone();
        b.name = "web".into();
        assert_eq!(
            plan(
                &[reg(a.clone())],
                &[running("a", vec![b.clone()])],
                &[],
                &ALWAYS
            ),
            [dereg(&a), add(b)]
        );
    }

    #[test]
    fn a_duplicate_id_goes_to_the_first_container() {
        let mut a = svc("a", 80);
        a.id = "same".into();
        let mut b = svc("b", 80);
        b.id = "same".into();
        assert_eq!(
            plan(
                &[],
                &[running("a", vec![a.clone()]), running("b", vec![b])],
                &[],
                &ALWAYS
            ),
            [add(a)]
        );
    }

    #[test]
    fn cleanup_removes_this_nodes_dangling_ids_only() {
        let (a, b) = (svc("a", 80), svc("b", 80));
        let remote: Vec<(String, String)> = [
            ("node:a:80", "a"),       // wanted
            ("node:b:80", "b"),       // registered by tug, handled as such
            ("node:old.1:8080", "x"), // dangling
            ("node:dns:53:udp", "dns"),
            ("other:old:80", "x"), // another node's
            ("custom-id", "x"),    // not of our shape
            ("node:x:80", "x"),    // container names have 2+ characters
            ("node:a:http", "x"),
            ("consul", "consul"),
        ]
        .iter()
        .map(|(i, n)| (String::from(*i), String::from(*n)))
        .collect();
        let seen = [running("a", vec![a.clone()]), running("b", vec![b.clone()])];
        let cleanup = Policy {
            cleanup: true,
            ..ALWAYS
        };
        let d = |id: &str, name: &str| Change::Deregister {
            id: id.into(),
            name: name.into(),
        };
        assert_eq!(
            plan(&[reg(b.clone())], &seen, &remote, &cleanup),
            [
                d("node:old.1:8080", "x"),
                d("node:dns:53:udp", "dns"),
                add(a.clone())
            ]
        );
        // Without -cleanup the registry's listing is not read.
        assert_eq!(plan(&[reg(b)], &seen, &remote, &ALWAYS), [add(a)]);
    }

    #[test]
    fn id_shapes() {
        assert!(ours("node:web.1:80", "node"));
        assert!(ours("node:web_1-x:80:udp", "node"));
        assert!(ours("node:sctp-1:9:sctp", "node"));
        assert!(!ours("node2:web:80", "node"));
        assert!(!ours("node:web:80:tcp", "node"));
        assert!(!ours("node:-web:80", "node"));
        assert!(!ours("node:web:", "node"));
        assert!(!ours("node:80", "node"));
        assert!(!ours("node", "node"));
    }
}
