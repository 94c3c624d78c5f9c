//! The configuration tug runs: ContainerPilot v3's schema (seven top-level
//! keys, every job field) plus tug's extensions, decoded and validated.

use super::decode::{self as d, Errors, Fields, join};
use super::json5::{Node, Pos, Value};
use crate::jobs::engine::{CODES, Code};
use crate::jobs::words;
use crate::signame;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

const SECOND: u64 = 1_000_000_000;

pub struct Config {
    pub consul: Option<Consul>,
    /// tug's extension: etcd v3 as the discovery backend.
    pub etcd: Option<Etcd>,
    pub logging: Logging,
    pub jobs: Vec<JobConfig>,
    pub watches: Vec<WatchConfig>,
    pub telemetry: Option<Telemetry>,
    pub control_socket: Option<String>,
    /// uids besides root and tug's own that may use the control socket.
    pub control_allow: Vec<u32>,
    /// How long the whole shutdown may take before SIGKILL (default 5 s).
    pub stop_timeout: u64,
    /// What loads but will not do what it seems to (or what ContainerPilot
    /// would reject), as complete lines `FILE:LINE:COL: field: message`
    /// (filled in by `config::parse`). `tug check` prints them and
    /// `--strict` makes them errors; the supervisor logs them at start.
    pub warnings: Vec<String>,
}

pub struct Consul {
    pub address: String,
    pub scheme: Option<String>,
    pub token: Option<String>,
}

pub struct Etcd {
    pub endpoints: Vec<String>,
    /// Key prefix for services, without a trailing slash.
    pub prefix: String,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

pub struct Logging {
    pub level: Level,
    pub format: Format,
    /// None: stderr (ContainerPilot's default); Some("stdout"), or a path.
    pub output: Option<String>,
}

/// When a job starts.
#[derive(Clone, PartialEq, Debug)]
pub enum When {
    /// On the global startup event (no `when`).
    Startup,
    /// On `code` from `source`: once, or each time.
    Event {
        source: String,
        code: String,
        each: bool,
        timeout: Option<u64>,
    },
    /// Every `interval`.
    Interval(u64),
    /// On a cron schedule (the expression, validated), in UTC or local time.
    Cron { expr: String, local: bool },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Restarts {
    Limit(u32),
    Unlimited,
}

#[derive(Clone, PartialEq, Debug)]
pub enum Check {
    Exec(Vec<String>),
    /// GET this URL; pass on 2xx/3xx, or on exactly `status` when given.
    Http {
        url: String,
        status: Option<u16>,
    },
    /// Connect to host:port.
    Tcp(String),
}

#[derive(Clone, PartialEq, Debug)]
pub struct Health {
    pub check: Check,
    pub interval: u64,
    pub ttl: Option<u64>,
    pub timeout: u64,
    pub raw_output: bool,
}

#[derive(Clone, PartialEq, Debug)]
pub struct JobConfig {
    pub name: String,
    pub pos: Pos,
    pub exec: Option<Vec<String>>,
    pub when: When,
    pub restarts: Restarts,
    /// Run deadline: the process group gets SIGKILL when it is reached.
    pub timeout: Option<u64>,
    pub stop_timeout: u64,
    pub stop_signal: i32,
    pub health: Option<Health>,
    pub raw_output: bool,
    pub port: Option<u16>,
    pub interfaces: Vec<String>,
    pub tags: Vec<String>,
    pub meta: Vec<(String, String)>,
    pub initial_status: Option<String>,
    pub enable_tag_override: bool,
    pub deregister_after: Option<String>,
    pub restart_delay: u64,
    pub restart_max_delay: u64,
    pub restart_reset_after: u64,
    pub user: Option<String>,
    pub group: Option<String>,
    pub workdir: Option<String>,
    /// Per-job environment: Some(value) sets, None unsets.
    pub env: Vec<(String, Option<String>)>,
}

pub struct WatchConfig {
    pub name: String,
    pub interval: u64,
    pub tag: Option<String>,
    pub dc: Option<String>,
    /// tug's extension: watch a KV key, or every key under a prefix,
    /// instead of a service.
    pub key: Option<String>,
    pub prefix: Option<String>,
}

pub struct Telemetry {
    pub port: u16,
    pub interfaces: Vec<String>,
    pub tags: Vec<String>,
    pub metrics: Vec<Metric>,
}

pub struct Metric {
    pub namespace: String,
    pub subsystem: String,
    pub name: String,
    pub help: String,
    pub kind: String,
}

const TOP: [&str; 8] = [
    "consul",
    "etcd",
    "logging",
    "jobs",
    "watches",
    "telemetry",
    "control",
    "stopTimeout",
];
const JOB: [&str; 27] = [
    "name",
    "exec",
    "when",
    "restarts",
    "timeout",
    "stopTimeout",
    "stopSignal",
    "health",
    "logging",
    "port",
    "interfaces",
    "tags",
    "meta",
    "initial_status",
    "consul",
    "restartDelay",
    "restartMaxDelay",
    "restartResetAfter",
    "user",
    "group",
    "workdir",
    "env",
    // Accepted and ignored by ContainerPilot's decoder too.
    "description",
    "id",
    "pid",
    "dependsOn",
    "comment",
];

pub fn decode(root: &Node, e: &mut Errors) -> Option<Config> {
    let top = d::object(e, root, "", &TOP)?;
    let logging = top
        .get("logging")
        .map(|n| logging(e, n))
        .unwrap_or(Some(Logging {
            level: Level::Info,
            format: Format::Text,
            output: None,
        }));
    let stop_timeout = top
        .get("stopTimeout")
        .and_then(|n| d::duration(e, n, "stopTimeout"))
        .unwrap_or(5 * SECOND);
    let consul = top.get("consul").and_then(|n| consul(e, n));
    let etcd = top.get("etcd").and_then(|n| etcd(e, n));
    if let (Some(_), Some(n)) = (&consul, top.get("etcd")) {
        e.at(
            n.pos,
            "etcd",
            "choose one discovery backend: consul or etcd",
        );
    }
    let (mut control_socket, mut control_allow) = (None, Vec::new());
    if let Some(f) = top
        .get("control")
        .and_then(|n| d::object(e, n, "control", &["socket", "allow"]))
    {
        control_socket = f
            .get("socket")
            .and_then(|s| d::string(e, s, "control.socket"));
        if let Some(list) = f.get("allow").and_then(|a| d::array(e, a, "control.allow")) {
            for (i, u) in list.iter().enumerate() {
                let path = format!("control.allow[{i}]");
                if let Some(uid) = d::integer(e, u, &path, 0, u32::MAX as i64) {
                    control_allow.push(uid as u32);
                }
            }
        }
    }
    let watches = match top.get("watches") {
        Some(n) => d::array(e, n, "watches")?
            .iter()
            .enumerate()
            .filter_map(|(i, w)| watch(e, w, &format!("watches[{i}]")))
            .collect(),
        None => Vec::new(),
    };
    let telemetry = top.get("telemetry").and_then(|n| telemetry(e, n));
    let mut jobs = Vec::new();
    if let Some(n) = top.get("jobs") {
        for (i, j) in d::array(e, n, "jobs").unwrap_or(&[]).iter().enumerate() {
            if let Some(job) = job(e, j, &format!("jobs[{i}]"), stop_timeout) {
                jobs.push(job);
            }
        }
    }
    check_graph(e, &jobs, &watches, &top);
    Some(Config {
        consul,
        etcd,
        logging: logging?,
        jobs,
        watches,
        telemetry,
        control_socket,
        control_allow,
        stop_timeout,
        warnings: Vec::new(),
    })
}

fn logging(e: &mut Errors, n: &Node) -> Option<Logging> {
    let f = d::object(e, n, "logging", &["level", "format", "output"])?;
    let mut out = Logging {
        level: Level::Info,
        format: Format::Text,
        output: None,
    };
    if let Some(l) = f.get("level") {
        let s = d::string(e, l, "logging.level")?;
        out.level = match s.to_ascii_uppercase().as_str() {
            "DEBUG" => Level::Debug,
            "INFO" => Level::Info,
            "WARN" | "WARNING" => Level::Warn,
            "ERROR" => Level::Error,
            "FATAL" | "PANIC" => Level::Fatal,
            _ => {
                e.at(
                    l.pos,
                    "logging.level",
                    format!("unknown level {s:?} (DEBUG, INFO, WARN, ERROR, FATAL or PANIC)"),
                );
                return None;
            }
        };
    }
    if let Some(x) = f.get("format") {
        out.format = match d::string(e, x, "logging.format")?.as_str() {
            "default" | "text" => Format::Text,
            "json" => Format::Json,
            other => {
                e.at(
                    x.pos,
                    "logging.format",
                    format!("unknown format {other:?} (default, text or json)"),
                );
                return None;
            }
        };
    }
    if let Some(o) = f.get("output") {
        let s = d::string(e, o, "logging.output")?;
        out.output = (s != "stderr").then_some(s);
    }
    Some(out)
}

/// An agent or endpoint address tug can dial (`host:port`, `http://...`,
/// `unix:///path`; no TLS), checked when the config loads rather than
/// when tug starts.
fn check_address(e: &mut Errors, n: &Node, path: &str, addr: &str, default_port: u16) {
    if let Err(msg) = crate::net::client::Endpoint::parse(addr, default_port) {
        e.at(n.pos, path, msg);
    }
}

fn consul(e: &mut Errors, n: &Node) -> Option<Consul> {
    if let Value::String(s) = &n.value {
        check_address(e, n, "consul", s, 8500);
        return Some(Consul {
            address: s.clone(),
            scheme: None,
            token: None,
        });
    }
    let f = d::object(e, n, "consul", &["address", "scheme", "token", "tls"])?;
    if let Some(t) = f.get("tls") {
        d::object(
            e,
            t,
            "consul.tls",
            &[
                "cafile",
                "capath",
                "clientcert",
                "clientkey",
                "servername",
                "verify",
            ],
        );
    }
    let address = match f.get("address") {
        Some(a) => d::string(e, a, "consul.address")?,
        None => {
            e.at(n.pos, "consul.address", "missing (\"host:port\")");
            return None;
        }
    };
    if let Some(a) = f.get("address") {
        check_address(e, a, "consul.address", &address, 8500);
    }
    let scheme = f
        .get("scheme")
        .and_then(|s| d::string(e, s, "consul.scheme"));
    if let (Some(s), Some(node)) = (&scheme, f.get("scheme"))
        && s != "http"
    {
        e.at(
            node.pos,
            "consul.scheme",
            format!("{s:?}: tug speaks plain HTTP only (no TLS); use a local agent over http"),
        );
    }
    let token = f.get("token").and_then(|s| d::string(e, s, "consul.token"));
    Some(Consul {
        address,
        scheme,
        token,
    })
}

/// `etcd: { endpoints: ["http://127.0.0.1:2379"], prefix: "/services" }`
/// (or just the endpoint list, or one endpoint string).
fn etcd(e: &mut Errors, n: &Node) -> Option<Etcd> {
    let (endpoints, prefix) = match &n.value {
        Value::String(s) => (Vec::from([s.clone()]), None),
        Value::Array(_) => (d::strings(e, n, "etcd")?, None),
        _ => {
            let f = d::object(e, n, "etcd", &["endpoints", "prefix"])?;
            let endpoints = match f.get("endpoints") {
                Some(x) if matches!(x.value, Value::String(_)) => {
                    Vec::from([d::string(e, x, "etcd.endpoints")?])
                }
                Some(x) => d::strings(e, x, "etcd.endpoints")?,
                None => Vec::new(),
            };
            let prefix = f.get("prefix").and_then(|x| d::string(e, x, "etcd.prefix"));
            (endpoints, prefix)
        }
    };
    for (i, ep) in endpoints.iter().enumerate() {
        let at = match &n.value {
            Value::Array(items) => items.get(i).unwrap_or(n),
            _ => n,
        };
        check_address(e, at, &format!("etcd.endpoints[{i}]"), ep, 2379);
    }
    let prefix = prefix.unwrap_or_else(|| "/services".into());
    Some(Etcd {
        endpoints,
        prefix: prefix.trim_end_matches('/').into(),
    })
}

fn watch(e: &mut Errors, n: &Node, path: &str) -> Option<WatchConfig> {
    let f = d::object(
        e,
        n,
        path,
        &["name", "interval", "tag", "dc", "key", "prefix"],
    )?;
    let name = required(e, &f, path, "name").and_then(|x| d::string(e, x, &join(path, "name")))?;
    let interval = match f.get("interval") {
        Some(i) => d::duration(e, i, &join(path, "interval"))?,
        None => 10 * SECOND,
    };
    if interval == 0 {
        e.at(f.pos, &join(path, "interval"), "must be > 0");
    }
    let tag = f
        .get("tag")
        .and_then(|x| d::string(e, x, &join(path, "tag")));
    let dc = f.get("dc").and_then(|x| d::string(e, x, &join(path, "dc")));
    let key = f
        .get("key")
        .and_then(|x| d::string(e, x, &join(path, "key")));
    let prefix = f
        .get("prefix")
        .and_then(|x| d::string(e, x, &join(path, "prefix")));
    if key.is_some() && prefix.is_some() {
        e.at(f.pos, path, "a watch has a key or a prefix, not both");
    }
    if (key.is_some() || prefix.is_some()) && tag.is_some() {
        e.at(f.pos, &join(path, "tag"), "a KV watch has no tag");
    }
    Some(WatchConfig {
        name,
        interval,
        tag,
        dc,
        key,
        prefix,
    })
}

fn telemetry(e: &mut Errors, n: &Node) -> Option<Telemetry> {
    let f = d::object(
        e,
        n,
        "telemetry",
        &["port", "interfaces", "tags", "metrics"],
    )?;
    let port =
        f.get("port")
            .map_or(Some(9090), |p| d::integer(e, p, "telemetry.port", 0, 65535))? as u16;
    let interfaces = f
        .get("interfaces")
        .and_then(|x| d::strings(e, x, "telemetry.interfaces"))
        .unwrap_or_default();
    check_interfaces(e, f.get("interfaces"), "telemetry.interfaces", &interfaces);
    let tags = f
        .get("tags")
        .and_then(|x| d::strings(e, x, "telemetry.tags"))
        .unwrap_or_default();
    let mut metrics = Vec::new();
    if let Some(m) = f.get("metrics") {
        for (i, node) in d::array(e, m, "telemetry.metrics")?.iter().enumerate() {
            let path = format!("telemetry.metrics[{i}]");
            let Some(mf) = d::object(
                e,
                node,
                &path,
                &["namespace", "subsystem", "name", "help", "type"],
            ) else {
                continue;
            };
            let get = |e: &mut Errors, k: &str| {
                mf.get(k)
                    .and_then(|x| d::string(e, x, &join(&path, k)))
                    .unwrap_or_default()
            };
            let metric = Metric {
                namespace: get(e, "namespace"),
                subsystem: get(e, "subsystem"),
                name: get(e, "name"),
                help: get(e, "help"),
                kind: get(e, "type"),
            };
            if metric.name.is_empty() {
                e.at(node.pos, &join(&path, "name"), "missing");
            } else if let Err(msg) = crate::telemetry::metric_name(&metric) {
                e.at(node.pos, &path, msg);
            }
            if !["counter", "gauge", "histogram", "summary"].contains(&metric.kind.as_str()) {
                e.at(
                    node.pos,
                    &join(&path, "type"),
                    format!(
                        "{:?} is not counter, gauge, histogram or summary",
                        metric.kind
                    ),
                );
            }
            metrics.push(metric);
        }
    }
    Some(Telemetry {
        port,
        interfaces,
        tags,
        metrics,
    })
}

fn required<'n>(e: &mut Errors, f: &Fields<'n>, path: &str, key: &str) -> Option<&'n Node> {
    let n = f.get(key);
    if n.is_none() {
        e.at(f.pos, &join(path, key), "missing");
    }
    n
}

/// A command: a string split as shell words, or an array of strings.
fn command(e: &mut Errors, n: &Node, path: &str) -> Option<Vec<String>> {
    let argv = match &n.value {
        Value::String(s) => match words::split(s) {
            Ok(w) => w,
            Err(msg) => {
                e.at(n.pos, path, msg);
                return None;
            }
        },
        _ => d::strings(e, n, path)?,
    };
    if argv.is_empty() || argv[0].is_empty() {
        e.at(n.pos, path, "empty command");
        return None;
    }
    Some(argv)
}

fn job(e: &mut Errors, n: &Node, path: &str, default_stop: u64) -> Option<JobConfig> {
    let f = d::object(e, n, path, &JOB)?;
    let p = |k: &str| join(path, k);
    let exec = f.get("exec").and_then(|x| command(e, x, &p("exec")));
    let name = match f.get("name") {
        Some(x) => d::string(e, x, &p("name"))?,
        // ContainerPilot names an unnamed job after its executable.
        None => match &exec {
            Some(argv) => argv[0].clone(),
            None => {
                e.at(n.pos, &p("name"), "missing (a job needs a name or an exec)");
                return None;
            }
        },
    };
    if name.is_empty() {
        e.at(n.pos, &p("name"), "must not be empty");
    }
    let when = match f.get("when") {
        Some(w) => when(e, w, &p("when"))?,
        None => When::Startup,
    };
    let restarts = match f.get("restarts") {
        Some(r) => restarts(e, r, &p("restarts"))?,
        // Periodic jobs run again on every tick.
        None if matches!(when, When::Interval(_) | When::Cron { .. }) => Restarts::Unlimited,
        None => Restarts::Limit(0),
    };
    if restarts == Restarts::Unlimited && matches!(when, When::Event { each: true, .. }) {
        e.at(
            f.get("restarts").map_or(n.pos, |r| r.pos),
            &p("restarts"),
            "\"unlimited\" may not be used with when.each: it could start processes without bound",
        );
    }
    let dur = |e: &mut Errors, k: &str| f.get(k).and_then(|x| d::duration(e, x, &p(k)));
    let mut timeout = dur(e, "timeout");
    if timeout == Some(0) {
        e.at(n.pos, &p("timeout"), "must be at least 1ms");
    }
    if let (None, When::Interval(every)) = (timeout, &when) {
        // ContainerPilot: a periodic task may not outlive its period.
        timeout = Some(*every);
    }
    let stop_signal = match f.get("stopSignal") {
        Some(s) => {
            let name = d::string(e, s, &p("stopSignal"))?;
            signame::parse(&name).or_else(|| {
                e.at(s.pos, &p("stopSignal"), format!("unknown signal {name:?}"));
                None
            })?
        }
        None => libc::SIGTERM,
    };
    let port = f
        .get("port")
        .and_then(|x| d::integer(e, x, &p("port"), 1, 65535))
        .map(|v| v as u16);
    let health = f
        .get("health")
        .and_then(|h| health(e, h, &p("health"), timeout));
    if port.is_some() {
        if health.is_none() && !f.has("health") {
            e.at(n.pos, &p("health"), "must be set when 'port' is set");
        }
        if let Some(h) = &health
            && h.ttl.is_none()
        {
            e.at(
                f.get("health").map_or(n.pos, |x| x.pos),
                &p("health.ttl"),
                "must be set when 'port' is set (the TTL given to the discovery backend)",
            );
        }
        if !valid_service_name(&name) {
            e.at(
                f.get("name").map_or(n.pos, |x| x.pos),
                &p("name"),
                format!("{name:?} cannot be advertised: it must match ^[a-z][a-zA-Z0-9-]+$"),
            );
        }
    }
    let raw_output = f
        .get("logging")
        .and_then(|l| raw_flag(e, l, &p("logging")))
        .unwrap_or(false);
    let strings = |e: &mut Errors, k: &str| {
        f.get(k)
            .and_then(|x| d::strings(e, x, &p(k)))
            .unwrap_or_default()
    };
    let interfaces = strings(e, "interfaces");
    check_interfaces(e, f.get("interfaces"), &p("interfaces"), &interfaces);
    let tags = strings(e, "tags");
    let meta = f
        .get("meta")
        .and_then(|x| d::string_map(e, x, &p("meta")))
        .unwrap_or_default();
    for (k, _) in &meta {
        if k.is_empty()
            || k.len() > 128
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            e.at(
                f.get("meta").map_or(n.pos, |x| x.pos),
                &join(&p("meta"), k),
                "meta keys may only use letters, digits, '_' and '-' (at most 128)",
            );
        }
    }
    let initial_status = f.get("initial_status").and_then(|x| {
        let s = d::string(e, x, &p("initial_status"))?;
        if ["passing", "warning", "critical"].contains(&s.as_str()) {
            Some(s)
        } else {
            e.at(
                x.pos,
                &p("initial_status"),
                format!("{s:?} is not passing, warning or critical"),
            );
            None
        }
    });
    let (mut enable_tag_override, mut deregister_after) = (false, None);
    if let Some(c) = f.get("consul")
        && let Some(cf) = d::object(
            e,
            c,
            &p("consul"),
            &["enableTagOverride", "deregisterCriticalServiceAfter"],
        )
    {
        enable_tag_override = cf
            .get("enableTagOverride")
            .and_then(|x| d::boolean(e, x, &p("consul.enableTagOverride")))
            .unwrap_or(false);
        deregister_after = cf.get("deregisterCriticalServiceAfter").and_then(|x| {
            let path = p("consul.deregisterCriticalServiceAfter");
            let s = d::string(e, x, &path)?;
            d::duration(e, x, &path).map(|_| s)
        });
    }
    let restart_delay = dur(e, "restartDelay").unwrap_or(0);
    let restart_max_delay =
        dur(e, "restartMaxDelay").unwrap_or_else(|| restart_delay.max(30 * SECOND));
    let restart_reset_after = dur(e, "restartResetAfter").unwrap_or(10 * SECOND);
    let opt_string = |e: &mut Errors, k: &str| f.get(k).and_then(|x| d::string(e, x, &p(k)));
    let user = opt_string(e, "user");
    let group = opt_string(e, "group");
    let workdir = opt_string(e, "workdir");
    let env = f
        .get("env")
        .map(|x| job_env(e, x, &p("env")))
        .unwrap_or_default();
    Some(JobConfig {
        name,
        pos: n.pos,
        exec,
        when,
        restarts,
        timeout,
        stop_timeout: dur(e, "stopTimeout").unwrap_or(default_stop),
        stop_signal,
        health,
        raw_output,
        port,
        interfaces,
        tags,
        meta,
        initial_status,
        enable_tag_override,
        deregister_after,
        restart_delay,
        restart_max_delay,
        restart_reset_after,
        user,
        group,
        workdir,
        env,
    })
}

/// Each `interfaces` spec must be one the address selection understands.
fn check_interfaces(e: &mut Errors, n: Option<&Node>, path: &str, specs: &[String]) {
    let Some(n) = n else { return };
    for (i, spec) in specs.iter().enumerate() {
        if let Err(msg) = crate::net::interfaces::validate(spec) {
            let pos = match &n.value {
                Value::Array(items) => items.get(i).map_or(n.pos, |x| x.pos),
                _ => n.pos,
            };
            e.at(pos, &format!("{path}[{i}]"), msg);
        }
    }
}

/// `logging: { raw: true }`
fn raw_flag(e: &mut Errors, n: &Node, path: &str) -> Option<bool> {
    let f = d::object(e, n, path, &["raw"])?;
    f.get("raw")
        .and_then(|x| d::boolean(e, x, &join(path, "raw")))
}

fn job_env(e: &mut Errors, n: &Node, path: &str) -> Vec<(String, Option<String>)> {
    let Value::Object(members) = &n.value else {
        e.at(
            n.pos,
            path,
            format!(
                "expected an object of NAME: \"value\" (or null to unset), found {}",
                n.value.kind()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in members {
        let here = join(path, &m.key);
        if m.key.is_empty() || m.key.contains('=') {
            e.at(m.key_pos, &here, "invalid variable name");
        }
        match &m.value.value {
            Value::Null => out.push((m.key.clone(), None)),
            Value::String(s) => out.push((m.key.clone(), Some(s.clone()))),
            Value::Number(x) => out.push((m.key.clone(), Some(format!("{x}")))),
            Value::Bool(b) => out.push((m.key.clone(), Some(b.to_string()))),
            other => e.at(
                m.value.pos,
                &here,
                format!("expected a string or null, found {}", other.kind()),
            ),
        }
    }
    out
}

fn valid_service_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_lowercase()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn when(e: &mut Errors, n: &Node, path: &str) -> Option<When> {
    let f = d::object(
        e,
        n,
        path,
        &[
            "source", "once", "each", "interval", "timeout", "cron", "timezone",
        ],
    )?;
    let p = |k: &str| join(path, k);
    let kinds = ["interval", "once", "each", "cron"]
        .iter()
        .filter(|k| f.has(k))
        .count();
    if kinds > 1 {
        e.at(
            n.pos,
            path,
            "can have only one of 'interval', 'once', 'each' or 'cron'",
        );
        return None;
    }
    if let Some(i) = f.get("interval") {
        let every = d::duration(e, i, &p("interval"))?;
        if every < 1_000_000 {
            e.at(i.pos, &p("interval"), "cannot be less than 1ms");
            return None;
        }
        return Some(When::Interval(every));
    }
    if let Some(c) = f.get("cron") {
        let expr = d::string(e, c, &p("cron"))?;
        if let Err(err) = crate::jobs::cron::Schedule::parse(&expr) {
            e.at(c.pos, &p("cron"), format!("{err}"));
            return None;
        }
        let local = match f.get("timezone") {
            None => false,
            Some(z) => match d::string(e, z, &p("timezone"))?.as_str() {
                "UTC" | "utc" => false,
                "local" => true,
                other => {
                    e.at(
                        z.pos,
                        &p("timezone"),
                        format!("{other:?}: use \"UTC\" or \"local\" (set TZ for another zone)"),
                    );
                    return None;
                }
            },
        };
        return Some(When::Cron { expr, local });
    }
    let timeout = f
        .get("timeout")
        .and_then(|t| d::duration(e, t, &p("timeout")));
    let source = f.get("source").and_then(|s| d::string(e, s, &p("source")));
    let (code_node, each) = match (f.get("once"), f.get("each")) {
        (Some(c), _) => (Some(c), false),
        (_, Some(c)) => (Some(c), true),
        _ => (None, true),
    };
    let code = match code_node {
        Some(c) => d::string(e, c, &p(if each { "each" } else { "once" }))?,
        // `when: { source: "SIGHUP" }` runs the job on each signal.
        None if source.as_deref().is_some_and(is_signal_source) => "signal".to_string(),
        None => {
            e.at(
                n.pos,
                path,
                "needs 'once' or 'each' with 'source', or 'interval' or 'cron'",
            );
            return None;
        }
    };
    if Code::from_name(&code).is_none() {
        let pos = code_node.map_or(n.pos, |c| c.pos);
        e.at(
            pos,
            &p(if each { "each" } else { "once" }),
            format!(
                "unknown event {code:?} (one of {})",
                CODES.map(|(n, _)| n).join(", ")
            ),
        );
        return None;
    }
    let Some(source) = source else {
        e.at(n.pos, &p("source"), "missing");
        return None;
    };
    Some(When::Event {
        source,
        code,
        each,
        timeout,
    })
}

pub fn is_signal_source(s: &str) -> bool {
    s == "SIGHUP" || s == "SIGUSR2"
}

fn restarts(e: &mut Errors, n: &Node, path: &str) -> Option<Restarts> {
    match &n.value {
        Value::String(s) if s == "unlimited" => Some(Restarts::Unlimited),
        Value::String(s) if s == "never" => Some(Restarts::Limit(0)),
        Value::Number(_) | Value::String(_) => match &n.value {
            Value::String(s) if s.trim().parse::<u32>().is_err() => {
                e.at(
                    n.pos,
                    path,
                    format!("{s:?}: accepts a whole number, \"unlimited\" or \"never\""),
                );
                None
            }
            _ => d::integer(e, n, path, 0, i64::from(u32::MAX)).map(|v| Restarts::Limit(v as u32)),
        },
        other => {
            e.at(
                n.pos,
                path,
                format!(
                    "expected a whole number, \"unlimited\" or \"never\", found {}",
                    other.kind()
                ),
            );
            None
        }
    }
}

fn health(e: &mut Errors, n: &Node, path: &str, job_timeout: Option<u64>) -> Option<Health> {
    let f = d::object(
        e,
        n,
        path,
        &[
            "exec", "http", "tcp", "status", "interval", "ttl", "timeout", "logging",
        ],
    )?;
    let p = |k: &str| join(path, k);
    let kinds = ["exec", "http", "tcp"].iter().filter(|k| f.has(k)).count();
    if kinds != 1 {
        e.at(n.pos, path, "needs exactly one of 'exec', 'http' or 'tcp'");
        return None;
    }
    let check = if let Some(x) = f.get("exec") {
        Check::Exec(command(e, x, &p("exec"))?)
    } else if let Some(x) = f.get("http") {
        let url = d::string(e, x, &p("http"))?;
        if !url.starts_with("http://") {
            e.at(x.pos, &p("http"), "only http:// URLs can be checked");
            return None;
        }
        let status = f
            .get("status")
            .and_then(|s| d::integer(e, s, &p("status"), 100, 599))
            .map(|s| s as u16);
        Check::Http { url, status }
    } else {
        let x = f.get("tcp")?;
        let addr = d::string(e, x, &p("tcp"))?;
        if !addr
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok_and(|p| p > 0))
        {
            e.at(x.pos, &p("tcp"), format!("{addr:?} is not host:port"));
            return None;
        }
        Check::Tcp(addr)
    };
    if f.has("status") && !f.has("http") {
        e.at(n.pos, &p("status"), "only applies to 'http' checks");
    }
    // ContainerPilot requires an interval; tug defaults it so that a check
    // used only for `healthy` events (no port) can be written bare.
    let interval = match f.get("interval") {
        Some(i) => d::duration(e, i, &p("interval"))?,
        None => 5 * SECOND,
    };
    if interval < 1_000_000 {
        e.at(
            f.get("interval").map_or(n.pos, |x| x.pos),
            &p("interval"),
            "must be > 0",
        );
        return None;
    }
    let ttl = f.get("ttl").and_then(|t| d::duration(e, t, &p("ttl")));
    let timeout = f
        .get("timeout")
        .and_then(|t| d::duration(e, t, &p("timeout")))
        .or(job_timeout)
        .unwrap_or(interval);
    let raw_output = f
        .get("logging")
        .and_then(|l| raw_flag(e, l, &p("logging")))
        .unwrap_or(false);
    Some(Health {
        check,
        interval,
        ttl,
        timeout,
        raw_output,
    })
}

/// Cross-job rules: unique names, `when` sources that exist, and no group
/// of jobs that only wait on each other (they could never start).
fn check_graph(e: &mut Errors, jobs: &[JobConfig], watches: &[WatchConfig], top: &Fields<'_>) {
    let at = |i: usize| jobs[i].pos;
    for (i, j) in jobs.iter().enumerate() {
        if jobs[..i].iter().any(|o| o.name == j.name) {
            e.at(
                at(i),
                &format!("jobs[{i}].name"),
                format!("duplicate job name {:?}", j.name),
            );
        }
    }
    for (i, w) in watches.iter().enumerate() {
        if watches[..i].iter().any(|o| o.name == w.name) {
            let pos = top.get("watches").map_or(Pos::default(), |n| n.pos);
            e.at(
                pos,
                &format!("watches[{i}].name"),
                format!("duplicate watch name {:?}", w.name),
            );
        }
    }
    for (i, j) in jobs.iter().enumerate() {
        let When::Event { source, .. } = &j.when else {
            continue;
        };
        let known = source == "global"
            || is_signal_source(source)
            || jobs.iter().any(|o| o.name == *source)
            || source
                .strip_prefix("watch.")
                .is_some_and(|w| watches.iter().any(|x| x.name == w));
        if !known {
            e.at(at(i), &format!("jobs[{i}].when.source"), format!("{source:?} names no job, watch (watch.NAME), signal (SIGHUP, SIGUSR2) or 'global'"));
        }
    }
    // A job can start if its source is not a job, or is a job that can.
    let mut can_start: Vec<bool> = jobs.iter().map(|j| !matches!(&j.when, When::Event { source, .. } if jobs.iter().any(|o| o.name == *source))).collect();
    loop {
        let mut changed = false;
        for (i, j) in jobs.iter().enumerate() {
            if let When::Event { source, .. } = &j.when
                && !can_start[i]
                && jobs
                    .iter()
                    .zip(&can_start)
                    .any(|(o, ok)| *ok && o.name == *source)
            {
                can_start[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (i, ok) in can_start.iter().enumerate() {
        if !ok {
            e.at(
                at(i),
                &format!("jobs[{i}].when"),
                format!(
                    "job {:?} waits on a cycle of jobs that wait on each other: it can never start",
                    jobs[i].name
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn one_job(text: &str) -> JobConfig {
        let mut c = parse("t.json5", text).unwrap_or_else(|e| panic!("{e:?}"));
        c.jobs.remove(0)
    }

    fn errors(text: &str) -> Vec<String> {
        match parse("t.json5", text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn containerpilot_defaults() {
        let j = one_job(r#"{ jobs: [ { exec: "/bin/app --flag" } ] }"#);
        assert_eq!(
            j.name, "/bin/app",
            "unnamed jobs take the executable's name"
        );
        assert_eq!(j.when, When::Startup);
        assert_eq!(j.restarts, Restarts::Limit(0));
        assert_eq!(j.stop_timeout, 5 * SECOND);
        assert_eq!(j.stop_signal, libc::SIGTERM);
        let j = one_job(
            r#"{ stopTimeout: 9, jobs: [ { name: "p", exec: "x", when: { interval: "2s" } } ] }"#,
        );
        assert_eq!(j.restarts, Restarts::Unlimited, "periodic jobs repeat");
        assert_eq!(
            j.timeout,
            Some(2 * SECOND),
            "and may not outlive their period"
        );
        assert_eq!(
            j.stop_timeout,
            9 * SECOND,
            "the top-level stopTimeout is the default"
        );
        let j = one_job(
            r#"{ jobs: [ { name: "web", exec: "x", port: 80, health: { exec: "true", interval: 3, ttl: "10" } } ] }"#,
        );
        let h = j.health.unwrap();
        assert_eq!(
            (h.interval, h.ttl, h.timeout),
            (3 * SECOND, Some(10 * SECOND), 3 * SECOND)
        );
    }

    #[test]
    fn when_forms() {
        let w = |s: &str| {
            one_job(&alloc::format!(r#"{{ jobs: [ {{ name: "a", exec: "x", when: {s} }}, {{ name: "b", exec: "y" }} ] }}"#)).when
        };
        assert_eq!(
            w(r#"{ source: "b", once: "exitSuccess", timeout: "2s" }"#),
            When::Event {
                source: "b".into(),
                code: "exitSuccess".into(),
                each: false,
                timeout: Some(2 * SECOND)
            }
        );
        assert_eq!(
            w(r#"{ source: "SIGHUP" }"#),
            When::Event {
                source: "SIGHUP".into(),
                code: "signal".into(),
                each: true,
                timeout: None
            }
        );
        assert_eq!(
            w(r#"{ cron: "@hourly", timezone: "local" }"#),
            When::Cron {
                expr: "@hourly".into(),
                local: true
            }
        );
    }

    #[test]
    fn backend_addresses_are_checked_when_the_config_loads() {
        for (text, want) in [
            (r#"{ consul: "https://c:8500" }"#, "consul: bad address"),
            (
                r#"{ consul: { address: "c:99999" } }"#,
                "consul.address: bad address",
            ),
            (
                r#"{ consul: { address: "c:8500", scheme: "https" } }"#,
                "consul.scheme: \"https\": tug speaks plain HTTP only",
            ),
            (
                r#"{ etcd: { endpoints: ["http://e:2379", "e:"] } }"#,
                "etcd.endpoints[1]: bad address",
            ),
            (
                r#"{ consul: "c:8500", etcd: "e:2379" }"#,
                "choose one discovery backend",
            ),
        ] {
            let e = errors(text);
            assert!(e.iter().any(|m| m.contains(want)), "{text}: {e:?}");
        }
        let c = parse(
            "t.json5",
            r#"{ etcd: ["http://[::1]:2379", "unix:///run/etcd.sock"] }"#,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.etcd.unwrap().endpoints.len(), 2);
    }

    #[test]
    fn errors_carry_positions_paths_and_hints() {
        let e = errors(
            "{\n  jobs: [\n    { name: \"a\", exec: \"x\", health: { exec: \"y\", tll: 3 } }\n  ]\n}",
        );
        assert_eq!(
            e,
            ["t.json5:3:50: jobs[0].health.tll: unknown key \"tll\" (did you mean \"ttl\"?)"]
        );
        let e = errors(
            r#"{ jobs: [ { name: "a", exec: "x", restarts: "unlimited", when: { source: "b", each: "changed" } }, { name: "b", exec: "y" } ] }"#,
        );
        assert!(
            e[0].contains("jobs[0].restarts") && e[0].contains("without bound"),
            "{e:?}"
        );
        let e = errors(
            r#"{ jobs: [ { name: "Bad_Name", exec: "x", port: 80, health: { exec: "y", ttl: 5 } } ] }"#,
        );
        assert!(e[0].contains("cannot be advertised"), "{e:?}");
        let e = errors(
            r#"{ logging: { level: "LOUD" }, jobs: [ { name: "a", exec: "x", health: { http: "https://x" } } ] }"#,
        );
        assert_eq!(e.len(), 2, "both errors are reported: {e:?}");
    }
}
