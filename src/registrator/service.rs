//! The service model: an inspected container, the options and the node's
//! identity in, the container's services out. Pure; every rule is
//! registrator's (shared/reference/registrator.md) unless marked "tug".
//!
//! tug's rules where registrator's were wrong:
//! - IDs carry the node identity (`-node` or the engine's Name), not a
//!   hostname that changes with the container registrator runs in.
//! - A published port is reached at the host: the binding's HostIp, or
//!   the node's address for a wildcard (0.0.0.0, ::) — never the
//!   container's IP on a user network paired with the host's port, which
//!   broke every Compose service (its network mode is `project_default`).
//! - The container's address (-internal, `container:X`) comes from a
//!   deterministic network: SERVICE_NETWORK (or SERVICE_<port>_NETWORK) if
//!   set, else the network of NetworkMode, else the legacy bridge address,
//!   else the first network by name; IPv4 first, else its global IPv6.
//!   With `--net=host` it is the node's address.
//! - `--net=none` and non-running containers have no services; so has a
//!   service whose address is unknown (nothing reachable to advertise).
//! - Names: a digest is dropped (`redis@sha256:…` -> redis), and an image
//!   ID (Compose v2) gives the Compose service label or the container name.
//! - Tags keep their written order; any non-tcp protocol gets the `:udp`
//!   treatment (`:sctp` ID suffix and tag) so 80/tcp and 80/sctp differ.
//! - A script check runs `/bin/sh -c SCRIPT` (Consul execs Args without a
//!   shell); URLs and addresses bracket IPv6.

use super::inspect::{Health, Inspect, short};
use super::options::{Model, split_tags};
use crate::net::dns::parse_ip;
use crate::net::interfaces::ip_text;
use crate::num::dec;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

/// Who registers: the node identity in IDs, and the address a wildcard
/// binding means (from -ip's absence: the host's chosen interface).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub node: String,
    pub host_ip: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub name: String,
    /// IP text (v6 without brackets).
    pub ip: String,
    pub port: u16,
    pub tags: Vec<String>,
    /// Every other SERVICE_* key, lower-cased, sorted by key.
    pub attrs: Vec<(String, String)>,
    pub check: Option<Check>,
    /// Full ID and name of the container it belongs to.
    pub container: String,
    pub container_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub kind: CheckKind,
    /// Absent for TTL checks (Consul refuses one there), else 10s default.
    pub interval: Option<String>,
    pub timeout: Option<String>,
    /// check_initial_status (Consul's default is critical).
    pub status: Option<String>,
    pub deregister_after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckKind {
    Http {
        url: String,
        method: Option<String>,
    },
    /// Consul's `Args`: cmd and script checks.
    Args(Vec<String>),
    Ttl(String),
    Tcp(String),
    Grpc {
        addr: String,
        tls: bool,
        skip_verify: bool,
    },
}

impl Service {
    /// A non-empty attribute.
    pub fn attr(&self, key: &str) -> Option<&str> {
        find(&self.attrs, key).filter(|v| !v.is_empty())
    }

    /// `ip:port`, IPv6 in brackets.
    pub fn addr(&self) -> String {
        host_port(&self.ip, self.port)
    }
}

pub fn host_port(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The status a CHECK_TTL check is given for the container's health:
/// passing while healthy (or with no health check: running is all there
/// is), critical at once when unhealthy, nothing yet while starting.
pub fn ttl_status(health: Option<Health>) -> Option<crate::discovery::Health> {
    use crate::discovery::Health as H;
    match health {
        None | Some(Health::Healthy) => Some(H::Passing),
        Some(Health::Unhealthy) => Some(H::Critical),
        Some(Health::Starting) => None,
    }
}

/// One exposed port of the container and how it is published.
struct Port<'a> {
    number: u16,
    proto: &'a str,
    /// (HostIp, HostPort); None: exposed, not published.
    binding: Option<(&'a str, &'a str)>,
}

/// The services of a container. `peer` is the inspected container of a
/// `container:X` network mode (`c.network_container()`); without it that
/// container's services are not made (their address is unknown).
#[inline(never)]
pub fn services(c: &Inspect, m: &Model, me: &Identity, peer: Option<&Inspect>) -> Vec<Service> {
    if !c.state.running || c.network_mode == "none" {
        return Vec::new();
    }
    // A peer means something only for a `container:X` network mode.
    let peer = peer.filter(|_| c.network_container().is_some());
    if c.network_container().is_some() && peer.is_none() {
        return Vec::new();
    }
    let mut ports: Vec<Port> = Vec::new();
    for key in &c.exposed {
        if let Some((number, proto)) = port_key(key) {
            let same = key.split('/').next().unwrap_or("");
            set_port(
                &mut ports,
                Port {
                    number,
                    proto,
                    binding: Some(("", same)),
                },
            );
        }
    }
    for (key, binding) in &c.ports {
        if let Some((number, proto)) = port_key(key) {
            let binding = binding
                .as_ref()
                .map(|(ip, port)| (ip.as_str(), port.as_str()));
            set_port(
                &mut ports,
                Port {
                    number,
                    proto,
                    binding,
                },
            );
        }
    }
    crate::sort::small(&mut ports, |a, b| (a.number, a.proto) < (b.number, b.proto));
    // Unpublished ports count only with -internal; the group is counted
    // here, before IGNORE and -explicit (registrator's order).
    ports.retain(|p| m.internal || p.binding.is_some_and(|(_, hp)| !hp.is_empty()));
    let group = ports.len() > 1;
    ports
        .iter()
        .filter_map(|p| service(c, m, me, peer, p, group))
        .collect()
}

fn set_port<'a>(ports: &mut Vec<Port<'a>>, p: Port<'a>) {
    match ports
        .iter_mut()
        .find(|q| q.number == p.number && q.proto == p.proto)
    {
        Some(q) => *q = p,
        None => ports.push(p),
    }
}

/// `80/tcp` -> (80, "tcp"); a key without a protocol is tcp; None for a
/// key Docker would not write (the protocol goes into IDs and tags).
fn port_key(key: &str) -> Option<(u16, &str)> {
    let (number, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let n = dec::<u16>(number).filter(|&n| n != 0)?;
    let word = !proto.is_empty() && proto.bytes().all(|b| b.is_ascii_alphanumeric());
    (number.bytes().all(|b| b.is_ascii_digit()) && word).then_some((n, proto))
}

#[inline(never)]
fn service(
    c: &Inspect,
    m: &Model,
    me: &Identity,
    peer: Option<&Inspect>,
    p: &Port,
    group: bool,
) -> Option<Service> {
    let exposed = p.number.to_string();
    let (mut meta, from_port) = metadata(c, &exposed);
    let get = |k: &str| find(&meta, k).filter(|v| !v.is_empty()).map(String::from);
    if get("ignore").is_some() {
        return None;
    }
    let mut name = match get("name") {
        Some(n) => n,
        None if m.explicit => return None,
        None => default_name(c),
    };
    // Consul requires a name; only a broken document leaves none.
    if name.is_empty() {
        return None;
    }
    if group && !from_port.iter().any(|k| k == "name") {
        name = format!("{name}-{exposed}");
    }
    let udp_like = p.proto != "tcp";
    let id = get("id").unwrap_or_else(|| {
        let mut id = format!("{}:{}:{exposed}", me.node, c.name);
        if udp_like {
            id.push(':');
            id.push_str(p.proto);
        }
        id
    });
    let network = get("network");
    let (mut ip, port) = if m.internal {
        let ip = if c.network_mode == "host" {
            me.host_ip.clone()
        } else {
            container_ip(c, network.as_deref())
        };
        (ip, p.number)
    } else {
        let (hip, hp) = p.binding?;
        let hip = if wildcard(hip) {
            me.host_ip.clone()
        } else {
            hip.into()
        };
        (
            m.ip.clone().unwrap_or(hip),
            dec::<u16>(hp).filter(|&n| n != 0)?,
        )
    };
    if let Some(label) = &m.ip_from_label {
        let v = find(&c.labels, label).unwrap_or("");
        let v = v.rsplit_once('/').map_or(v, |(ip, _)| ip);
        if let Some(a) = parse_ip(v) {
            ip = ip_text(&a);
        }
    }
    if let Some(peer) = peer {
        ip = container_ip(peer, network.as_deref());
    }
    if ip.is_empty() {
        return None;
    }
    let mut tags = split_tags(&get("tags").unwrap_or_default());
    tags.extend(m.tags.iter().cloned());
    if udp_like {
        tags.push(p.proto.into());
    }
    meta.retain(|(k, _)| !matches!(k.as_str(), "id" | "tags" | "name" | "network"));
    crate::sort::small(&mut meta, |a, b| a < b);
    let mut svc = Service {
        id,
        name,
        ip,
        port,
        tags,
        attrs: meta,
        check: None,
        container: c.id.clone(),
        container_name: c.name.clone(),
    };
    svc.check = check(&svc, &exposed);
    Some(svc)
}

fn wildcard(ip: &str) -> bool {
    matches!(ip, "" | "0.0.0.0" | "::")
}

fn find<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn insert(pairs: &mut Vec<(String, String)>, key: &str, value: &str) {
    match pairs.iter_mut().find(|(k, _)| k == key) {
        Some(kv) => kv.1 = value.into(),
        None => pairs.push((key.into(), value.into())),
    }
}

/// SERVICE_* of env then labels, for one exposed port: later entries win
/// (a label beats env), a port-specific key beats the generic one whatever
/// the order. Also returns the keys that came from port-specific entries.
#[inline(never)]
fn metadata(c: &Inspect, port: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut meta = Vec::new();
    let mut from_port: Vec<String> = Vec::new();
    let env = c.env.iter().filter_map(|e| e.split_once('='));
    let labels = c.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    for (k, v) in env.chain(labels) {
        let Some(rest) = k.strip_prefix("SERVICE_") else {
            continue;
        };
        // ASCII only: Unicode case tables cost 2 KB, and env names are ASCII.
        let key = rest.to_ascii_lowercase();
        if from_port.contains(&key) {
            continue;
        }
        match key.split_once('_') {
            Some((n, sub)) if go_int(n) => {
                if n == port {
                    insert(&mut meta, sub, v);
                    if !from_port.iter().any(|k| k == sub) {
                        from_port.push(sub.into());
                    }
                }
            }
            _ => insert(&mut meta, &key, v),
        }
    }
    (meta, from_port)
}

/// Whether Go's strconv.Atoi accepts `s` (a port-specific key's prefix).
fn go_int(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && dec::<i64>(s).is_some()
}

/// The image's base name: `registry.local:5000/team/redis:7` -> redis.
#[inline(never)]
fn default_name(c: &Inspect) -> String {
    let image = c.image.split('@').next().unwrap_or("");
    let base = image.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let name = base.split(':').next().unwrap_or("");
    if name.is_empty() || is_image_id(&c.image) {
        return find(&c.labels, "com.docker.compose.service")
            .filter(|s| !s.is_empty())
            .unwrap_or(&c.name)
            .into();
    }
    name.into()
}

/// `sha256:<hex>` or 64 bare hex digits: an image ID, not a name.
fn is_image_id(image: &str) -> bool {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    match image.strip_prefix("sha256:") {
        Some(h) => hex(h),
        None => image.len() == 64 && hex(image),
    }
}

/// The container's own address, by tug's deterministic network choice.
fn container_ip(c: &Inspect, network: Option<&str>) -> String {
    let pick = |ip: &str, ip6: &str| {
        if ip.is_empty() {
            ip6.to_string()
        } else {
            ip.to_string()
        }
    };
    if let Some(want) = network {
        return c
            .networks
            .iter()
            .find(|n| n.name == want)
            .map_or(String::new(), |n| pick(&n.ip, &n.ip6));
    }
    let mode = if c.network_mode == "default" {
        "bridge"
    } else {
        &c.network_mode
    };
    let own = c.networks.iter().find(|n| n.name == mode);
    if let Some(n) = own.filter(|n| !n.ip.is_empty() || !n.ip6.is_empty()) {
        return pick(&n.ip, &n.ip6);
    }
    if !c.ip.is_empty() || !c.ip6.is_empty() {
        return pick(&c.ip, &c.ip6);
    }
    c.networks
        .iter()
        .find(|n| !n.ip.is_empty() || !n.ip6.is_empty())
        .map_or(String::new(), |n| pick(&n.ip, &n.ip6))
}

/// The Consul check from SERVICE_CHECK_*: the first kind present wins.
#[inline(never)]
fn check(svc: &Service, exposed: &str) -> Option<Check> {
    let a = |k: &str| svc.attr(k).map(String::from);
    let addr = svc.addr();
    let mut timed = true;
    let kind = if let Some(path) = a("check_http") {
        CheckKind::Http {
            url: format!("http://{addr}{path}"),
            method: a("check_http_method"),
        }
    } else if let Some(path) = a("check_https") {
        CheckKind::Http {
            url: format!("https://{addr}{path}"),
            method: a("check_https_method"),
        }
    } else if let Some(cmd) = a("check_cmd") {
        timed = false;
        let id = short(&svc.container).into();
        CheckKind::Args(vec!["check-cmd".into(), id, exposed.into(), cmd])
    } else if let Some(script) = a("check_script") {
        timed = false;
        let script = script
            .replace("$SERVICE_IP", &svc.ip)
            .replace("$SERVICE_PORT", &svc.port.to_string());
        CheckKind::Args(vec!["/bin/sh".into(), "-c".into(), script])
    } else if let Some(ttl) = a("check_ttl") {
        timed = false;
        CheckKind::Ttl(ttl)
    } else if a("check_tcp").is_some() {
        CheckKind::Tcp(addr)
    } else if a("check_grpc").is_some() {
        CheckKind::Grpc {
            addr,
            tls: a("check_grpc_use_tls").is_some(),
            skip_verify: a("check_tls_skip_verify").is_some(),
        }
    } else {
        return None;
    };
    let interval = match kind {
        CheckKind::Ttl(_) => None,
        _ => Some(a("check_interval").unwrap_or_else(|| "10s".into())),
    };
    Some(Check {
        kind,
        interval,
        timeout: if timed { a("check_timeout") } else { None },
        status: a("check_initial_status"),
        deregister_after: a("check_deregister_after"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::inspect::{Network, State};
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn me() -> Identity {
        Identity {
            node: "host".into(),
            host_ip: "192.168.1.102".into(),
        }
    }

    /// `docker run -d --name NAME IMAGE` on the default bridge.
    fn run(name: &str, image: &str) -> Inspect {
        Inspect {
            id: ID.into(),
            name: name.into(),
            image: image.into(),
            network_mode: "default".into(),
            ip: "172.17.0.5".into(),
            networks: vec![net("bridge", "172.17.0.5", "")],
            state: State {
                status: "running".into(),
                running: true,
                ..State::default()
            },
            ..Inspect::default()
        }
    }

    fn net(name: &str, ip: &str, ip6: &str) -> Network {
        Network {
            name: name.into(),
            ip: ip.into(),
            ip6: ip6.into(),
        }
    }

    /// `-p HOST:KEY`
    fn publish(mut c: Inspect, key: &str, host_port: &str) -> Inspect {
        c.exposed.push(key.into());
        c.ports
            .push((key.into(), Some(("0.0.0.0".into(), host_port.into()))));
        c
    }

    /// EXPOSE without -p.
    fn expose(mut c: Inspect, key: &str) -> Inspect {
        c.exposed.push(key.into());
        c.ports.push((key.into(), None));
        c
    }

    fn env(mut c: Inspect, kv: &[&str]) -> Inspect {
        c.env.extend(kv.iter().map(|s| s.to_string()));
        c
    }

    fn label(mut c: Inspect, kv: &[(&str, &str)]) -> Inspect {
        c.labels
            .extend(kv.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        c
    }

    fn svc(id: &str, name: &str, port: u16, tags: &[&str], attrs: &[(&str, &str)]) -> Service {
        Service {
            id: id.into(),
            name: name.into(),
            ip: "192.168.1.102".into(),
            port,
            tags: tags.iter().map(|s| s.to_string()).collect(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            check: None,
            container: ID.into(),
            container_name: String::new(),
        }
    }

    fn of(c: &Inspect, s: Service) -> Service {
        Service {
            container_name: c.name.clone(),
            ..s
        }
    }

    fn model() -> Model {
        Model::default()
    }

    fn names(list: &[Service]) -> Vec<(&str, &str, u16)> {
        list.iter()
            .map(|s| (s.id.as_str(), s.name.as_str(), s.port))
            .collect()
    }

    // The README's examples, each giving exactly the Service it documents.

    #[test]
    fn readme_single_port_redis() {
        // docker run -d --name redis.0 -p 10000:6379 progrium/redis
        let c = publish(run("redis.0", "progrium/redis"), "6379/tcp", "10000");
        assert_eq!(
            services(&c, &model(), &me(), None),
            [of(&c, svc("host:redis.0:6379", "redis", 10000, &[], &[]))]
        );
    }

    #[test]
    fn readme_redis_with_metadata_from_env_or_labels() {
        let meta = [
            ("SERVICE_NAME", "db"),
            ("SERVICE_TAGS", "master,backups"),
            ("SERVICE_REGION", "us2"),
        ];
        let want = svc(
            "host:redis.0:6379",
            "db",
            10000,
            &["master", "backups"],
            &[("region", "us2")],
        );
        let base = publish(run("redis.0", "progrium/redis"), "6379/tcp", "10000");
        let envs: Vec<String> = meta.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let by_env = env(
            base.clone(),
            &envs.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        let by_label = label(base, &meta);
        for c in [by_env, by_label] {
            assert_eq!(services(&c, &model(), &me(), None), [of(&c, want.clone())]);
        }
    }

    #[test]
    fn readme_two_ports_nginx() {
        // docker run -d --name nginx.0 -p 4443:443 -p 8000:80 progrium/nginx
        let c = publish(
            publish(run("nginx.0", "progrium/nginx"), "443/tcp", "4443"),
            "80/tcp",
            "8000",
        );
        assert_eq!(
            services(&c, &model(), &me(), None),
            [
                of(&c, svc("host:nginx.0:80", "nginx-80", 8000, &[], &[])),
                of(&c, svc("host:nginx.0:443", "nginx-443", 4443, &[], &[])),
            ]
        );
    }

    #[test]
    fn readme_two_ports_with_port_specific_metadata() {
        let c = publish(
            publish(run("nginx.0", "progrium/nginx"), "443/tcp", "4443"),
            "80/tcp",
            "8000",
        );
        let c = env(
            c,
            &[
                "SERVICE_443_NAME=https",
                "SERVICE_443_ID=https.12345",
                "SERVICE_443_SNI=enabled",
                "SERVICE_80_NAME=http",
                "SERVICE_TAGS=www",
            ],
        );
        assert_eq!(
            services(&c, &model(), &me(), None),
            [
                of(&c, svc("host:nginx.0:80", "http", 8000, &["www"], &[])),
                of(
                    &c,
                    svc(
                        "https.12345",
                        "https",
                        4443,
                        &["www"],
                        &[("sni", "enabled")]
                    )
                ),
            ]
        );
    }

    #[test]
    fn a_generic_name_in_a_group_gets_the_port_appended() {
        let c = publish(publish(run("w", "x"), "443/tcp", "4443"), "80/tcp", "8000");
        let c = env(c, &["SERVICE_NAME=web"]);
        assert_eq!(
            names(&services(&c, &model(), &me(), None)),
            [
                ("host:w:80", "web-80", 8000),
                ("host:w:443", "web-443", 4443)
            ]
        );
    }

    #[test]
    fn name_derivation() {
        let name = |image: &str, labels: &[(&str, &str)]| {
            let c = label(publish(run("proj-web-1", image), "80/tcp", "80"), labels);
            services(&c, &model(), &me(), None)[0].name.clone()
        };
        assert_eq!(name("registry.local:5000/team/redis:7", &[]), "redis");
        assert_eq!(name("progrium/nginx", &[]), "nginx");
        assert_eq!(name("redis", &[]), "redis");
        assert_eq!(name("redis@sha256:0a1b", &[]), "redis");
        assert_eq!(
            name("registry.local:5000/redis:7@sha256:0a1b", &[]),
            "redis"
        );
        let id = "sha256:6b9a1b8b0c7d2f3e4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f";
        assert_eq!(name(id, &[("com.docker.compose.service", "web")]), "web");
        assert_eq!(name(id, &[]), "proj-web-1");
        assert_eq!(name(&id[7..], &[]), "proj-web-1");
        assert_eq!(name("", &[]), "proj-web-1");
    }

    #[test]
    fn labels_beat_env_and_port_keys_beat_generic_ones() {
        let c = publish(run("x", "img"), "80/tcp", "8080");
        let c = env(
            c,
            &[
                "SERVICE_NAME=from-env",
                "SERVICE_80_REGION=port",
                "SERVICE_ZONE=env",
            ],
        );
        let c = label(
            c,
            &[
                ("SERVICE_NAME", "from-label"),
                ("SERVICE_REGION", "generic"),
                ("SERVICE_ZONE", "label"),
            ],
        );
        let s = &services(&c, &model(), &me(), None)[0];
        assert_eq!(s.name, "from-label");
        assert_eq!(
            s.attrs,
            [
                ("region".into(), "port".into()),
                ("zone".into(), "label".into())
            ]
        );
        // A later port-specific entry replaces an earlier one.
        let c = label(
            env(
                publish(run("x", "img"), "80/tcp", "1"),
                &["SERVICE_80_NAME=a"],
            ),
            &[("SERVICE_80_NAME", "b")],
        );
        assert_eq!(services(&c, &model(), &me(), None)[0].name, "b");
    }

    #[test]
    fn other_ports_keys_are_dropped_and_keys_are_lower_cased() {
        let c = publish(run("x", "img"), "80/tcp", "8080");
        let c = env(
            c,
            &[
                "SERVICE_443_SNI=on",
                "SERVICE_Region=eu",
                "SERVICE_080_NAME=z",
                "SERVICE_80=v",
                "NOT_SERVICE_A=1",
                "SERVICE_NOVALUE",
                "service_x=1",
            ],
        );
        let s = &services(&c, &model(), &me(), None)[0];
        assert_eq!(s.name, "img");
        assert_eq!(
            s.attrs,
            [("80".into(), "v".into()), ("region".into(), "eu".into())]
        );
    }

    #[test]
    fn empty_values_are_attributes_but_unset_for_name_id_tags_ignore() {
        let c = publish(run("x", "img"), "80/tcp", "8080");
        let c = env(
            c,
            &[
                "SERVICE_NAME=",
                "SERVICE_ID=",
                "SERVICE_TAGS=",
                "SERVICE_IGNORE=",
                "SERVICE_REGION=",
            ],
        );
        assert_eq!(
            services(&c, &model(), &me(), None),
            [of(
                &c,
                svc(
                    "host:x:80",
                    "img",
                    8080,
                    &[],
                    &[("ignore", ""), ("region", "")]
                )
            )]
        );
    }

    #[test]
    fn ignore() {
        let c = publish(
            publish(run("x", "img"), "443/tcp", "4443"),
            "80/tcp",
            "8000",
        );
        // Any non-empty value, even "false", skips the whole container.
        assert!(
            services(
                &env(c.clone(), &["SERVICE_IGNORE=false"]),
                &model(),
                &me(),
                None
            )
            .is_empty()
        );
        // A port's own IGNORE skips that port; the group was counted before.
        let s = services(
            &env(c.clone(), &["SERVICE_80_IGNORE=1"]),
            &model(),
            &me(),
            None,
        );
        assert_eq!(names(&s), [("host:x:443", "img-443", 4443)]);
        // An empty port-specific IGNORE overrides the generic one.
        let s = services(
            &env(c, &["SERVICE_IGNORE=1", "SERVICE_80_IGNORE="]),
            &model(),
            &me(),
            None,
        );
        assert_eq!(names(&s), [("host:x:80", "img-80", 8000)]);
    }

    #[test]
    fn udp_and_tcp_of_one_port_are_separate_services() {
        let c = publish(
            publish(run("dns", "coredns/coredns"), "53/udp", "53"),
            "53/tcp",
            "53",
        );
        let c = env(c, &["SERVICE_TAGS=a"]);
        let s = services(
            &c,
            &Model {
                tags: vec!["forced".into()],
                ..model()
            },
            &me(),
            None,
        );
        assert_eq!(
            names(&s),
            [
                ("host:dns:53", "coredns-53", 53),
                ("host:dns:53:udp", "coredns-53", 53)
            ]
        );
        assert_eq!(s[0].tags, ["a", "forced"]);
        assert_eq!(s[1].tags, ["a", "forced", "udp"]);
        // SERVICE_ID replaces the whole ID, :udp included.
        let c = env(
            publish(run("dns", "d"), "53/udp", "53"),
            &["SERVICE_ID=dns-1"],
        );
        assert_eq!(services(&c, &model(), &me(), None)[0].id, "dns-1");
        // A key without /proto is tcp; sctp is told apart like udp.
        let c = publish(publish(run("s", "s"), "9", "9"), "9/sctp", "9");
        let s = services(&c, &model(), &me(), None);
        assert_eq!(
            names(&s),
            [("host:s:9:sctp", "s-9", 9), ("host:s:9", "s-9", 9)]
        );
        assert_eq!(s[0].tags, ["sctp"]);
    }

    #[test]
    fn unpublished_ports_only_with_internal() {
        let c = publish(expose(run("x", "img"), "9000/tcp"), "80/tcp", "8080");
        assert_eq!(
            names(&services(&c, &model(), &me(), None)),
            [("host:x:80", "img", 8080)]
        );
        let internal = Model {
            internal: true,
            ..model()
        };
        let s = services(&c, &internal, &me(), None);
        assert_eq!(
            names(&s),
            [
                ("host:x:80", "img-80", 80),
                ("host:x:9000", "img-9000", 9000)
            ]
        );
        assert!(s.iter().all(|s| s.ip == "172.17.0.5"));
    }

    #[test]
    fn explicit_needs_a_name() {
        let c = publish(
            publish(run("x", "img"), "443/tcp", "4443"),
            "80/tcp",
            "8000",
        );
        let m = Model {
            explicit: true,
            ..model()
        };
        assert!(services(&c, &m, &me(), None).is_empty());
        let s = services(&env(c.clone(), &["SERVICE_80_NAME=http"]), &m, &me(), None);
        assert_eq!(names(&s), [("host:x:80", "http", 8000)]);
        let s = services(&env(c, &["SERVICE_NAME=web"]), &m, &me(), None);
        assert_eq!(
            names(&s),
            [
                ("host:x:80", "web-80", 8000),
                ("host:x:443", "web-443", 4443)
            ]
        );
    }

    #[test]
    fn address_rules() {
        let c = publish(run("x", "img"), "80/tcp", "8080");
        let ip = |c: &Inspect, m: &Model| services(c, m, &me(), None).first().map(|s| s.ip.clone());
        // A wildcard binding is the node's address; -ip replaces it.
        assert_eq!(ip(&c, &model()).as_deref(), Some("192.168.1.102"));
        let forced = Model {
            ip: Some("10.0.0.9".into()),
            ..model()
        };
        assert_eq!(ip(&c, &forced).as_deref(), Some("10.0.0.9"));
        // -internal ignores -ip.
        let internal = Model {
            internal: true,
            ..forced.clone()
        };
        assert_eq!(ip(&c, &internal).as_deref(), Some("172.17.0.5"));
        // A specific HostIp stays (IPv6 too), unless -ip.
        let mut v6 = c.clone();
        v6.ports[0].1 = Some(("2001:db8::5".into(), "8080".into()));
        let s = &services(&v6, &model(), &me(), None)[0];
        assert_eq!(
            (s.ip.as_str(), s.addr()),
            ("2001:db8::5", "[2001:db8::5]:8080".into())
        );
        assert_eq!(ip(&v6, &forced).as_deref(), Some("10.0.0.9"));
        // -useIpFromLabel beats -ip and -internal; CIDR is cut; a bad or
        // missing label leaves the address as it was.
        let l = |v: &str| label(c.clone(), &[("ip", v)]);
        let from = |m: &Model| Model {
            ip_from_label: Some("ip".into()),
            ..m.clone()
        };
        assert_eq!(
            ip(&l("10.1.2.3/24"), &from(&forced)).as_deref(),
            Some("10.1.2.3")
        );
        assert_eq!(
            ip(&l("10.1.2.3"), &from(&internal)).as_deref(),
            Some("10.1.2.3")
        );
        assert_eq!(
            ip(&l("fd00::7/64"), &from(&model())).as_deref(),
            Some("fd00::7")
        );
        assert_eq!(ip(&l("nope"), &from(&forced)).as_deref(), Some("10.0.0.9"));
        assert_eq!(ip(&c, &from(&model())).as_deref(), Some("192.168.1.102"));
        // No known address: no service.
        let unknown = Identity {
            node: "host".into(),
            host_ip: String::new(),
        };
        assert!(services(&c, &model(), &unknown, None).is_empty());
    }

    #[test]
    fn user_networks_published_ports_use_the_host() {
        // A Compose container: network mode is the project network.
        let mut c = publish(run("proj-web-1", "web"), "80/tcp", "8080");
        c.network_mode = "proj_default".into();
        c.ip = String::new();
        c.networks = vec![net("proj_default", "172.20.0.3", "")];
        assert_eq!(
            services(&c, &model(), &me(), None)[0].addr(),
            "192.168.1.102:8080"
        );
        let internal = Model {
            internal: true,
            ..model()
        };
        assert_eq!(
            services(&c, &internal, &me(), None)[0].addr(),
            "172.20.0.3:80"
        );
    }

    #[test]
    fn deterministic_network_and_service_network() {
        let mut c = expose(run("x", "img"), "80/tcp");
        c.network_mode = "front".into();
        c.ip = String::new();
        c.networks = vec![
            net("back", "10.2.0.2", ""),
            net("front", "10.1.0.2", ""),
            net("v6", "", "fd00::2"),
        ];
        let internal = Model {
            internal: true,
            ..model()
        };
        let ip = |c: &Inspect| {
            services(c, &internal, &me(), None)
                .first()
                .map(|s| s.ip.clone())
        };
        assert_eq!(ip(&c).as_deref(), Some("10.1.0.2"));
        assert_eq!(
            ip(&env(c.clone(), &["SERVICE_NETWORK=back"])).as_deref(),
            Some("10.2.0.2")
        );
        assert_eq!(
            ip(&env(c.clone(), &["SERVICE_80_NETWORK=v6"])).as_deref(),
            Some("fd00::2")
        );
        // A network the container is not on: no address, no service.
        assert_eq!(ip(&env(c.clone(), &["SERVICE_NETWORK=other"])), None);
        // Not the mode's network: the legacy address, else by name.
        c.network_mode = "bridge".into();
        assert_eq!(ip(&c).as_deref(), Some("10.2.0.2"));
        c.ip = "172.17.0.9".into();
        assert_eq!(ip(&c).as_deref(), Some("172.17.0.9"));
        // SERVICE_NETWORK is a control key, not an attribute.
        let s = services(&env(c, &["SERVICE_NETWORK=back"]), &internal, &me(), None);
        assert!(s[0].attrs.is_empty());
    }

    #[test]
    fn host_none_and_container_network_modes() {
        // --net=host: ExposedPorts only, registered at the node.
        let mut h = run("h", "img");
        h.network_mode = "host".into();
        h.exposed = vec!["8080/tcp".into()];
        h.networks = vec![net("host", "", "")];
        h.ip = String::new();
        let s = services(&h, &model(), &me(), None);
        assert_eq!(
            (names(&s), s[0].ip.as_str()),
            (vec![("host:h:8080", "img", 8080)], "192.168.1.102")
        );
        let internal = Model {
            internal: true,
            ..model()
        };
        assert_eq!(
            services(&h, &internal, &me(), None)[0].addr(),
            "192.168.1.102:8080"
        );
        // --net=none: nothing reachable.
        let mut n = h.clone();
        n.network_mode = "none".into();
        assert!(services(&n, &model(), &me(), None).is_empty());
        // container:X: X's address, the exposed port; nothing without X.
        let mut k = h.clone();
        k.network_mode = "container:abc".into();
        k.networks.clear();
        assert!(services(&k, &model(), &me(), None).is_empty());
        let peer = run("pause", "pause");
        let s = services(
            &k,
            &Model {
                ip: Some("10.0.0.9".into()),
                ..model()
            },
            &me(),
            Some(&peer),
        );
        assert_eq!(s[0].addr(), "172.17.0.5:8080");
        // A peer given for any other mode changes nothing.
        assert_eq!(
            services(&h, &model(), &me(), Some(&peer))[0].addr(),
            "192.168.1.102:8080"
        );
    }

    #[test]
    fn not_running_means_no_services() {
        let mut c = publish(run("x", "img"), "80/tcp", "8080");
        c.state.running = false;
        assert!(services(&c, &model(), &me(), None).is_empty());
    }

    #[test]
    fn bad_ports_are_skipped() {
        let mut c = run("x", "img");
        c.exposed = vec![
            "http/tcp".into(),
            "0/tcp".into(),
            "80/".into(),
            "+80/tcp".into(),
            "80/tcp9000/tcp".into(),
        ];
        c.ports = vec![("81/tcp".into(), Some(("0.0.0.0".into(), "x".into())))];
        assert!(services(&c, &model(), &me(), None).is_empty());
        let internal = Model {
            internal: true,
            ..model()
        };
        assert!(
            services(&c, &internal, &me(), None)
                .iter()
                .all(|s| s.port == 81)
        );
    }

    #[test]
    fn no_name_no_service() {
        // An image ID, no Compose label, no container name: nothing to call it.
        let c = publish(run("", "sha256:00ff"), "80/tcp", "8080");
        assert!(services(&c, &model(), &me(), None).is_empty());
        let c = env(c, &["SERVICE_NAME=web"]);
        assert_eq!(
            names(&services(&c, &model(), &me(), None)),
            [("host::80", "web", 8080)]
        );
    }

    #[test]
    fn node_identity_goes_into_ids() {
        let c = publish(run("redis.0", "redis"), "6379/tcp", "10000");
        let other = Identity {
            node: "node-7".into(),
            host_ip: "10.0.0.7".into(),
        };
        assert_eq!(
            services(&c, &model(), &other, None)[0].id,
            "node-7:redis.0:6379"
        );
    }

    #[test]
    fn tags_escaped_commas_and_force_tags() {
        let c = env(
            publish(run("x", "img"), "80/tcp", "1"),
            &["SERVICE_TAGS=a\\,b,,c"],
        );
        let m = Model {
            tags: vec!["z".into()],
            ..model()
        };
        assert_eq!(services(&c, &m, &me(), None)[0].tags, ["a,b", "c", "z"]);
    }

    fn check_of(kv: &[&str]) -> Option<Check> {
        let c = env(publish(run("web.1", "img"), "80/tcp", "8080"), kv);
        services(&c, &model(), &me(), None).remove(0).check
    }

    fn chk(kind: CheckKind, interval: Option<&str>) -> Check {
        Check {
            kind,
            interval: interval.map(String::from),
            timeout: None,
            status: None,
            deregister_after: None,
        }
    }

    #[test]
    fn checks_of_each_kind() {
        assert_eq!(check_of(&[]), None);
        assert_eq!(
            check_of(&[
                "SERVICE_80_CHECK_HTTP=/health/endpoint/path",
                "SERVICE_80_CHECK_INTERVAL=15s",
                "SERVICE_80_CHECK_TIMEOUT=1s"
            ]),
            Some(Check {
                timeout: Some("1s".into()),
                ..chk(
                    CheckKind::Http {
                        url: "http://192.168.1.102:8080/health/endpoint/path".into(),
                        method: None
                    },
                    Some("15s")
                )
            })
        );
        assert_eq!(
            check_of(&[
                "SERVICE_CHECK_HTTPS=/h",
                "SERVICE_CHECK_HTTPS_METHOD=HEAD",
                "SERVICE_CHECK_HTTP_METHOD=POST"
            ]),
            Some(chk(
                CheckKind::Http {
                    url: "https://192.168.1.102:8080/h".into(),
                    method: Some("HEAD".into())
                },
                Some("10s")
            ))
        );
        assert_eq!(
            check_of(&[
                "SERVICE_CHECK_CMD=/bin/health.sh",
                "SERVICE_CHECK_TIMEOUT=1s"
            ]),
            Some(chk(
                CheckKind::Args(vec![
                    "check-cmd".into(),
                    "0123456789ab".into(),
                    "80".into(),
                    "/bin/health.sh".into()
                ]),
                Some("10s")
            ))
        );
        assert_eq!(
            check_of(&["SERVICE_CHECK_SCRIPT=nc $SERVICE_IP $SERVICE_PORT | grep OK"]),
            Some(chk(
                CheckKind::Args(vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    "nc 192.168.1.102 8080 | grep OK".into()
                ]),
                Some("10s")
            ))
        );
        assert_eq!(
            check_of(&[
                "SERVICE_CHECK_TTL=30s",
                "SERVICE_CHECK_INTERVAL=5s",
                "SERVICE_CHECK_INITIAL_STATUS=passing"
            ]),
            Some(Check {
                status: Some("passing".into()),
                ..chk(CheckKind::Ttl("30s".into()), None)
            })
        );
        assert_eq!(
            check_of(&[
                "SERVICE_CHECK_TCP=true",
                "SERVICE_CHECK_TIMEOUT=2s",
                "SERVICE_CHECK_DEREGISTER_AFTER=10m"
            ]),
            Some(Check {
                timeout: Some("2s".into()),
                deregister_after: Some("10m".into()),
                ..chk(CheckKind::Tcp("192.168.1.102:8080".into()), Some("10s"))
            })
        );
        assert_eq!(
            check_of(&[
                "SERVICE_CHECK_GRPC=1",
                "SERVICE_CHECK_GRPC_USE_TLS=false",
                "SERVICE_CHECK_TLS_SKIP_VERIFY=1"
            ]),
            Some(chk(
                CheckKind::Grpc {
                    addr: "192.168.1.102:8080".into(),
                    tls: true,
                    skip_verify: true
                },
                Some("10s")
            ))
        );
        assert_eq!(
            check_of(&["SERVICE_CHECK_GRPC=1"]),
            Some(chk(
                CheckKind::Grpc {
                    addr: "192.168.1.102:8080".into(),
                    tls: false,
                    skip_verify: false
                },
                Some("10s")
            ))
        );
    }

    #[test]
    fn the_first_check_kind_present_wins_and_stays_an_attribute() {
        let all = [
            "SERVICE_CHECK_GRPC=1",
            "SERVICE_CHECK_TCP=1",
            "SERVICE_CHECK_TTL=9s",
            "SERVICE_CHECK_SCRIPT=s",
            "SERVICE_CHECK_CMD=c",
            "SERVICE_CHECK_HTTPS=/s",
            "SERVICE_CHECK_HTTP=/h",
        ];
        let order: Vec<CheckKind> = (0..all.len())
            .map(|i| check_of(&all[..=i]).unwrap().kind)
            .collect();
        assert!(matches!(order[0], CheckKind::Grpc { .. }));
        assert!(matches!(order[1], CheckKind::Tcp(_)));
        assert!(matches!(order[2], CheckKind::Ttl(_)));
        assert!(matches!(order[3], CheckKind::Args(ref a) if a[0] == "/bin/sh"));
        assert!(matches!(order[4], CheckKind::Args(ref a) if a[0] == "check-cmd"));
        assert!(matches!(order[5], CheckKind::Http { ref url, .. } if url.starts_with("https://")));
        assert!(matches!(order[6], CheckKind::Http { ref url, .. } if url.starts_with("http://")));
        // An empty value is no check; the keys stay attributes (Meta).
        assert_eq!(check_of(&["SERVICE_CHECK_HTTP="]), None);
        let c = env(
            publish(run("w", "img"), "80/tcp", "1"),
            &["SERVICE_CHECK_TCP=1"],
        );
        assert_eq!(
            services(&c, &model(), &me(), None)[0].attrs,
            [("check_tcp".into(), "1".into())]
        );
    }

    #[test]
    fn ipv6_check_addresses_are_bracketed() {
        let mut c = env(
            publish(run("w", "img"), "80/tcp", "8080"),
            &["SERVICE_CHECK_HTTP=/h"],
        );
        c.ports[0].1 = Some(("fd00::1".into(), "8080".into()));
        let s = &services(&c, &model(), &me(), None)[0];
        assert!(
            matches!(&s.check.as_ref().unwrap().kind, CheckKind::Http { url, .. } if url == "http://[fd00::1]:8080/h")
        );
    }

    #[test]
    fn ttl_status_follows_docker_health() {
        use crate::discovery::Health as H;
        assert_eq!(ttl_status(None), Some(H::Passing));
        assert_eq!(ttl_status(Some(Health::Healthy)), Some(H::Passing));
        assert_eq!(ttl_status(Some(Health::Unhealthy)), Some(H::Critical));
        assert_eq!(ttl_status(Some(Health::Starting)), None);
    }

    #[test]
    fn from_inspect_json_end_to_end() {
        let doc = br#"{"Id":"0123456789abcdef","Name":"/redis.0",
            "State":{"Status":"running","Running":true},
            "Config":{"Image":"registry.local:5000/team/redis:7","Env":["SERVICE_TAGS=master,backups"],
                      "Labels":{"SERVICE_NAME":"db","SERVICE_REGION":"us2"},"ExposedPorts":{"6379/tcp":{}}},
            "HostConfig":{"NetworkMode":"bridge"},
            "NetworkSettings":{"Ports":{"6379/tcp":[{"HostIp":"0.0.0.0","HostPort":"10000"},{"HostIp":"::","HostPort":"10000"}]},
                               "Networks":{"bridge":{"IPAddress":"172.17.0.2"}}}}"#;
        let c = super::super::inspect::parse(doc).unwrap();
        let s = services(&c, &model(), &me(), None);
        assert_eq!(
            s,
            [Service {
                container: "0123456789abcdef".into(),
                container_name: "redis.0".into(),
                ..svc(
                    "host:redis.0:6379",
                    "db",
                    10000,
                    &["master", "backups"],
                    &[("region", "us2")]
                )
            }]
        );
    }
}
