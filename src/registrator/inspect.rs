//! The parts of Docker's `GET /containers/{id}/json` that decide a
//! container's services, read into plain data once so the model is pure.
//!
//! Absent and `null` are the same (Docker writes `null` for empty maps);
//! a field of the wrong type is an error naming its path, so a broken
//! document is never read as "no ports".

use crate::json;
use crate::json5::{Node, Value};
use crate::quote::q;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspect {
    /// Full container ID (ASCII letters and digits).
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// `Config.Image`: the reference as given at create.
    pub image: String,
    /// `Config.Env`: `KEY=VALUE` entries in order.
    pub env: Vec<String>,
    /// `Config.Labels` in document order (Docker sorts them).
    pub labels: Vec<(String, String)>,
    /// `Config.ExposedPorts` keys: `80/tcp`.
    pub exposed: Vec<String>,
    /// `NetworkSettings.Ports`: key -> first binding (HostIp, HostPort),
    /// None when exposed but not published.
    pub ports: Vec<(String, Option<(String, String)>)>,
    /// `HostConfig.NetworkMode`.
    pub network_mode: String,
    /// The legacy top-level `NetworkSettings.IPAddress` (default bridge).
    pub ip: String,
    pub ip6: String,
    /// `NetworkSettings.Networks`, sorted by name.
    pub networks: Vec<Network>,
    pub state: State,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    pub ip: String,
    pub ip6: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// `created`, `running`, `paused`, `restarting`, `exited`, `dead`...
    pub status: String,
    pub running: bool,
    pub exit_code: i64,
    /// None: the container has no health check.
    pub health: Option<Health>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    /// Docker's words; `none` and anything unknown are None.
    pub fn parse(s: &str) -> Option<Health> {
        match s {
            "starting" => Some(Health::Starting),
            "healthy" => Some(Health::Healthy),
            "unhealthy" => Some(Health::Unhealthy),
            _ => None,
        }
    }
}

impl Inspect {
    /// `container:X` network mode: the container whose network this one
    /// shares, to be inspected for the address.
    pub fn network_container(&self) -> Option<&str> {
        self.network_mode
            .strip_prefix("container:")
            .filter(|x| !x.is_empty())
    }
}

/// A container ID is put into request paths: ASCII letters and digits only.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The first 12 characters, as Docker shows IDs.
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Parses an inspect document; the error is one line.
#[inline(never)]
pub fn parse(body: &[u8]) -> Result<Inspect, String> {
    let doc = json::parse(body).map_err(|e| format!("container inspect: {e}"))?;
    let id = match opt(&doc, "Id").and_then(json::as_str) {
        Some(id) if valid_id(id) => id,
        Some(id) => return Err(format!("container inspect: bad Id {id}", id = q(&id))),
        None => return Err("container inspect: no Id".into()),
    };
    let mut c = Inspect::default();
    match read(&doc, id, &mut c) {
        Ok(()) => Ok(c),
        Err(e) => Err(format!("container inspect {}: {e}", short(id))),
    }
}

/// Fills `c` in place: an error leaves it to the caller to drop, once.
#[inline(never)]
fn read(doc: &Node, id: &str, c: &mut Inspect) -> Result<(), String> {
    let name = string(doc, "Name", "Name")?;
    let config = object(doc, "Config", "Config")?.ok_or("no Config")?;
    let settings = object(doc, "NetworkSettings", "NetworkSettings")?;
    let host = object(doc, "HostConfig", "HostConfig")?;
    let state = object(doc, "State", "State")?;
    c.id = id.into();
    c.name = name.strip_prefix('/').unwrap_or(&name).into();
    c.image = string(config, "Image", "Config.Image")?;
    if let Some(h) = host {
        c.network_mode = string(h, "NetworkMode", "HostConfig.NetworkMode")?;
    }
    if let Some(env) = opt(config, "Env") {
        let items = json::as_array(env).ok_or("Config.Env: expected an array")?;
        for item in items {
            let s = json::as_str(item).ok_or("Config.Env: expected strings")?;
            c.env.push(s.into());
        }
    }
    for (k, v) in members(config, "Labels", "Config.Labels")? {
        let v = json::as_str(v).ok_or_else(|| format!("Config.Labels.{k}: expected a string"))?;
        c.labels.push((k.into(), v.into()));
    }
    for (k, _) in members(config, "ExposedPorts", "Config.ExposedPorts")? {
        c.exposed.push(k.into());
    }
    if let Some(ns) = settings {
        for (k, v) in members(ns, "Ports", "NetworkSettings.Ports")? {
            let first = match &v.value {
                Value::Null => None,
                Value::Array(b) => match b.first() {
                    None => None,
                    Some(b) => Some((
                        string(b, "HostIp", "NetworkSettings.Ports[].HostIp")?,
                        string(b, "HostPort", "NetworkSettings.Ports[].HostPort")?,
                    )),
                },
                _ => return Err(format!("NetworkSettings.Ports.{k}: expected an array")),
            };
            c.ports.push((k.into(), first));
        }
        c.ip = string(ns, "IPAddress", "NetworkSettings.IPAddress")?;
        c.ip6 = string(ns, "GlobalIPv6Address", "NetworkSettings.GlobalIPv6Address")?;
        for (k, v) in members(ns, "Networks", "NetworkSettings.Networks")? {
            if !matches!(v.value, Value::Object(_)) {
                return Err(format!("NetworkSettings.Networks.{k}: expected an object"));
            }
            c.networks.push(Network {
                name: k.into(),
                ip: string(v, "IPAddress", "NetworkSettings.Networks.IPAddress")?,
                ip6: string(
                    v,
                    "GlobalIPv6Address",
                    "NetworkSettings.Networks.GlobalIPv6Address",
                )?,
            });
        }
        crate::sort::small(&mut c.networks, |a, b| a.name < b.name);
    }
    if let Some(s) = state {
        c.state.status = string(s, "Status", "State.Status")?;
        c.state.running = match opt(s, "Running") {
            None => c.state.status == "running",
            Some(b) => json::as_bool(b).ok_or("State.Running: expected true or false")?,
        };
        if let Some(n) = opt(s, "ExitCode") {
            let code = json::as_f64(n).filter(|&x| x.abs() < 1e15 && x == (x as i64) as f64);
            c.state.exit_code = code.ok_or("State.ExitCode: expected an integer")? as i64;
        }
        if let Some(h) = object(s, "Health", "State.Health")? {
            c.state.health = Health::parse(&string(h, "Status", "State.Health.Status")?);
        }
    }
    Ok(())
}

/// The member, None when absent or null.
fn opt<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    json::get(node, key).filter(|n| !matches!(n.value, Value::Null))
}

/// A string member; absent or null is "".
fn string(node: &Node, key: &str, path: &str) -> Result<String, String> {
    match opt(node, key) {
        None => Ok(String::new()),
        Some(n) => json::as_str(n)
            .map(String::from)
            .ok_or_else(|| format!("{path}: expected a string")),
    }
}

fn object<'n>(node: &'n Node, key: &str, path: &str) -> Result<Option<&'n Node>, String> {
    match opt(node, key) {
        None => Ok(None),
        Some(n) if matches!(n.value, Value::Object(_)) => Ok(Some(n)),
        Some(_) => Err(format!("{path}: expected an object")),
    }
}

/// The members of an object member (none when absent or null).
fn members<'n>(node: &'n Node, key: &str, path: &str) -> Result<Vec<(&'n str, &'n Node)>, String> {
    Ok(match object(node, key, path)? {
        Some(Node {
            value: Value::Object(m),
            ..
        }) => m.iter().map(|m| (m.key.as_str(), &m.value)).collect(),
        _ => Vec::new(),
    })
}

/// The engine's `Name` from `GET /info`: the node identity by default.
#[inline(never)]
pub fn engine_name(body: &[u8]) -> Result<String, String> {
    let doc = json::parse(body).map_err(|e| format!("docker info: {e}"))?;
    match opt(&doc, "Name").and_then(json::as_str) {
        Some(n) if super::options::valid_node(n) => Ok(n.into()),
        Some(n) => Err(format!(
            "docker info: engine Name {n} cannot go into service IDs; give -node NAME",
            n = q(&n)
        )),
        None => Err("docker info: no Name; give -node NAME".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{
        "Id": "8dfafdbc3a40e0f5b4ef7b3f2d0a5b7e1c9d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
        "Name": "/web.1",
        "Image": "sha256:1111",
        "State": {"Status": "running", "Running": true, "ExitCode": 0,
                  "Health": {"Status": "healthy", "FailingStreak": 0, "Log": []}},
        "Config": {"Hostname": "8dfafdbc3a40", "Image": "nginx:1.25",
                   "Env": ["PATH=/bin", "SERVICE_NAME=web"],
                   "Labels": {"a": "1", "SERVICE_TAGS": "x"},
                   "ExposedPorts": {"80/tcp": {}, "53/udp": {}}},
        "HostConfig": {"NetworkMode": "bridge"},
        "NetworkSettings": {
            "Ports": {"53/udp": null, "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"},
                                                 {"HostIp": "::", "HostPort": "8080"}]},
            "IPAddress": "172.17.0.2", "GlobalIPv6Address": "",
            "Networks": {"zeta": {"IPAddress": "10.9.0.2"},
                         "bridge": {"IPAddress": "172.17.0.2", "GlobalIPv6Address": "fd00::2"}}
        }
    }"#;

    #[test]
    fn reads_what_the_model_needs() {
        let c = parse(FULL.as_bytes()).unwrap();
        assert_eq!(short(&c.id), "8dfafdbc3a40");
        assert_eq!(c.name, "web.1");
        assert_eq!(c.image, "nginx:1.25");
        assert_eq!(c.env, ["PATH=/bin", "SERVICE_NAME=web"]);
        assert_eq!(
            c.labels,
            [
                ("a".into(), "1".into()),
                ("SERVICE_TAGS".into(), "x".into())
            ]
        );
        assert_eq!(c.exposed, ["80/tcp", "53/udp"]);
        assert_eq!(
            c.ports,
            [
                ("53/udp".into(), None),
                ("80/tcp".into(), Some(("0.0.0.0".into(), "8080".into())))
            ]
        );
        assert_eq!(c.network_mode, "bridge");
        assert_eq!(c.ip, "172.17.0.2");
        let names: Vec<&str> = c.networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["bridge", "zeta"]);
        assert_eq!(c.networks[0].ip6, "fd00::2");
        assert_eq!(
            c.state,
            State {
                status: "running".into(),
                running: true,
                exit_code: 0,
                health: Some(Health::Healthy)
            }
        );
        assert_eq!(c.network_container(), None);
    }

    #[test]
    fn nulls_and_absent_fields_are_empty() {
        let c = parse(br#"{"Id":"abc","Name":"/x","Config":{"Image":"x","Env":null,"Labels":null,"ExposedPorts":null},"NetworkSettings":{"Ports":null,"Networks":null},"HostConfig":{"NetworkMode":"container:def"}}"#).unwrap();
        assert!(c.env.is_empty() && c.labels.is_empty() && c.exposed.is_empty());
        assert!(c.ports.is_empty() && c.networks.is_empty());
        assert_eq!(c.network_container(), Some("def"));
        assert_eq!(c.state, State::default());
    }

    #[test]
    fn malformed_documents_are_one_line_errors() {
        let e = |s: &str| parse(s.as_bytes()).unwrap_err();
        assert!(
            e("{").starts_with("container inspect: bad JSON at 1:"),
            "{}",
            e("{")
        );
        assert_eq!(
            parse(b"\xff").unwrap_err(),
            "container inspect: invalid UTF-8 in JSON"
        );
        assert_eq!(e("[]"), "container inspect: no Id");
        assert_eq!(e(r#"{"Id":"../x"}"#), "container inspect: bad Id \"../x\"");
        assert_eq!(e(r#"{"Id":"abc"}"#), "container inspect abc: no Config");
        assert_eq!(
            e(r#"{"Id":"abc","Config":[]}"#),
            "container inspect abc: Config: expected an object"
        );
        assert_eq!(
            e(r#"{"Id":"abc","Config":{"Env":"A=1"}}"#),
            "container inspect abc: Config.Env: expected an array"
        );
        assert_eq!(
            e(r#"{"Id":"abc","Config":{"Env":[1]}}"#),
            "container inspect abc: Config.Env: expected strings"
        );
        assert_eq!(
            e(r#"{"Id":"abc","Config":{"Labels":{"k":2}}}"#),
            "container inspect abc: Config.Labels.k: expected a string"
        );
        assert_eq!(
            e(r#"{"Id":"abc","Config":{},"NetworkSettings":{"Ports":{"80/tcp":{}}}}"#),
            "container inspect abc: NetworkSettings.Ports.80/tcp: expected an array"
        );
        assert_eq!(
            e(
                r#"{"Id":"abc","Config":{},"NetworkSettings":{"Ports":{"80/tcp":[{"HostPort":80}]}}}"#
            ),
            "container inspect abc: NetworkSettings.Ports[].HostPort: expected a string"
        );
        assert_eq!(
            e(r#"{"Id":"abc","Config":{},"State":{"ExitCode":1.5}}"#),
            "container inspect abc: State.ExitCode: expected an integer"
        );
        assert_eq!(
            e(r#"{"Id":"abc","Config":{},"NetworkSettings":{"Networks":{"n":1}}}"#),
            "container inspect abc: NetworkSettings.Networks.n: expected an object"
        );
    }

    #[test]
    fn engine_name_from_info() {
        assert_eq!(
            engine_name(br#"{"ID":"x","Name":"node-1"}"#),
            Ok("node-1".into())
        );
        assert_eq!(
            engine_name(br#"{"Name":"a b"}"#),
            Err(
                "docker info: engine Name \"a b\" cannot go into service IDs; give -node NAME"
                    .into()
            )
        );
        assert_eq!(
            engine_name(b"{}"),
            Err("docker info: no Name; give -node NAME".into())
        );
        assert!(
            engine_name(b"nope")
                .unwrap_err()
                .starts_with("docker info: bad JSON")
        );
    }
}
