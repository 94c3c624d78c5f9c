//! The configuration tug runs: ContainerPilot v3's schema (seven top-level
//! keys, every job field) plus tug's extensions, decoded and validated.

use super::decode::{self as d, Errors, Fields, Path};
use super::words;
use crate::events::Code;
use crate::json5::{Node, Pos, Value};
use crate::num::dec;
use crate::quote::q;
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
    /// tug's extension: the built-in syslog's sources (None: not opened).
    pub syslog: Option<super::logs::SyslogConfig>,
    /// tug's extension: the log router's outputs (empty: no `logs`
    /// section, today's defaults).
    pub logs: Vec<super::logs::LogOutput>,
    /// What loads but will not do what it seems to (or what ContainerPilot
    /// would reject), as complete lines `FILE:LINE:COL: warning: FIELD:
    /// message`, in the order of their positions (filled in by
    /// `config::parse`). `tug check` prints them and
    /// `--strict` makes them errors; the supervisor logs them at start.
    pub warnings: Vec<String>,
    /// tug's extension: the job whose exit ends tug as the command after
    /// `--` does (and powers a VM off, boot.rs).
    pub main: Option<String>,
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
        code: Code,
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
    /// tug's service kinds: type, after, pidfile, listen, sockets, …
    pub service: super::kinds::Service,
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

/// The families telemetry exposes itself (src/telemetry), which user
/// metrics may not take. Here, not there, so the config can reject a
/// bad name when it loads without depending on the metrics server.
const BUILT_IN: [&str; 13] = [
    "tug_events_total",
    "containerpilot_events",
    "tug_job_restarts_total",
    "tug_job_state",
    "tug_health_checks_total",
    "tug_health_check_duration_seconds",
    "tug_watch_instances",
    "containerpilot_watch_instances",
    "tug_control_requests_total",
    "containerpilot_control_http_requests",
    "tug_loop_wakeups_total",
    "process_resident_memory_bytes",
    "process_open_fds",
];

/// A user metric's exposed name, `namespace_subsystem_name` without the
/// empty parts, or why it cannot be one.
pub fn metric_name(m: &Metric) -> Result<String, String> {
    let mut name = String::new();
    for p in [&m.namespace, &m.subsystem, &m.name] {
        if !p.is_empty() {
            if !name.is_empty() {
                name.push('_');
            }
            name.push_str(p);
        }
    }
    let valid = name.bytes().enumerate().all(|(i, b)| {
        b.is_ascii_alphabetic() || b == b'_' || b == b':' || (i > 0 && b.is_ascii_digit())
    });
    if name.is_empty() || !valid {
        return Err(format!(
            "metric name {name} must match [a-zA-Z_:][a-zA-Z0-9_:]*",
            name = q(&name)
        ));
    }
    if BUILT_IN.contains(&name.as_str()) {
        return Err(format!(
            "metric name {name} is one of tug's own",
            name = q(&name)
        ));
    }
    Ok(name)
}

const TOP: [&str; 11] = [
    "consul",
    "etcd",
    "logging",
    "jobs",
    "watches",
    "telemetry",
    "control",
    "stopTimeout",
    // tug's logging (logs.rs).
    "syslog",
    "logs",
    // tug's VM init (boot.rs).
    "main",
];
const JOB: [&str; 37] = [
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
    // tug's service kinds (kinds.rs).
    "type",
    "after",
    "pidfile",
    "listen",
    "max",
    "sockets",
    "readiness",
    "watchdog",
    "startTimeout",
    "startFailure",
    // Accepted and ignored by ContainerPilot's decoder too.
    "description",
    "id",
    "pid",
    "dependsOn",
    "comment",
];

/// ContainerPilot v2's top-level keys, which v3 replaced.
const V2: [&str; 7] = [
    "services",
    "backends",
    "preStart",
    "preStop",
    "postStop",
    "tasks",
    "coprocesses",
];

pub fn decode(root: &Node, e: &mut Errors) -> Option<Config> {
    // A v2 config gets one error that says so, not one per v2 key.
    let v2 = match &root.value {
        Value::Object(members) => members.iter().find(|m| V2.contains(&m.key.as_str())),
        _ => None,
    };
    if let Some(m) = v2 {
        e.at(
            m.key_pos,
            &Path::Name(&m.key),
            "this is a ContainerPilot v2 config; tug reads v3 configs, where services become \
             jobs with port and health, backends become watches, preStart/preStop/postStop \
             become jobs with when, tasks become jobs with when.interval and coprocesses \
             become jobs with restarts",
        );
    }
    let mut allowed = Vec::from(TOP);
    if v2.is_some() {
        allowed.extend(V2);
    }
    let top = d::object(e, root, &Path::Name(""), &allowed)?;
    let logging = top
        .get("logging")
        .map_or_else(Logging::default, |n| logging(e, n));
    let stop_timeout = top.duration(e, "stopTimeout").unwrap_or(5 * SECOND);
    let consul = top.get("consul").and_then(|n| consul(e, n));
    let etcd = top.get("etcd").and_then(|n| etcd(e, n));
    if let (Some(_), Some(n)) = (&consul, top.get("etcd")) {
        e.at(
            n.pos,
            &top.key("etcd"),
            "choose one discovery backend: consul or etcd",
        );
    }
    let (mut control_socket, mut control_allow) = (None, Vec::new());
    if let Some(f) = top
        .get("control")
        .and_then(|n| d::object(e, n, &top.key("control"), &["socket", "allow"]))
    {
        control_socket = f.string(e, "socket");
        let path = f.key("allow");
        if let Some(list) = f.get("allow").and_then(|a| d::array(e, a, &path)) {
            for (i, u) in list.iter().enumerate() {
                if let Some(uid) = d::integer(e, u, &path.index(i), 0, u32::MAX as i64) {
                    control_allow.push(uid as u32);
                }
            }
        }
    }
    let path = top.key("watches");
    let watch_nodes = top
        .get("watches")
        .and_then(|n| d::array(e, n, &path))
        .unwrap_or(&[]);
    let mut watches: Vec<WatchConfig> = Vec::new();
    for (i, w) in watch_nodes.iter().enumerate() {
        watches.extend(watch(e, w, &path.index(i)));
    }
    let telemetry = top.get("telemetry").and_then(|n| telemetry(e, n));
    let (syslog, logs) = super::logs::decode(e, &top);
    // Each job with the node it came from (a job that fails to decode
    // leaves a gap, so list positions and job indices differ).
    let mut jobs = Vec::new();
    let mut job_nodes = Vec::new();
    if let Some(n) = top.get("jobs") {
        let path = top.key("jobs");
        for (i, j) in d::array(e, n, &path).unwrap_or(&[]).iter().enumerate() {
            if let Some(job) = job(e, j, &path.index(i), stop_timeout) {
                jobs.push(job);
                job_nodes.push((i, j));
            }
        }
    }
    check_graph(e, &mut jobs, &job_nodes, &watches, watch_nodes);
    let main = top.string(e, "main");
    if let (Some(m), Some(n)) = (&main, top.get("main"))
        && !jobs.iter().any(|j| j.name == *m)
    {
        e.atf(
            n.pos,
            &top.key("main"),
            format_args!("no job is named {m}", m = q(&m)),
        );
    }
    Some(Config {
        consul,
        etcd,
        logging,
        jobs,
        watches,
        telemetry,
        control_socket,
        control_allow,
        stop_timeout,
        syslog,
        logs,
        warnings: Vec::new(),
        main,
    })
}

impl Default for Logging {
    fn default() -> Logging {
        Logging {
            level: Level::Info,
            format: Format::Text,
            output: None,
        }
    }
}

/// An empty value, as a template renders an unset variable: ContainerPilot
/// takes it as unset.
fn empty_is_default(e: &mut Errors, n: &Node, path: &Path, s: &str, default: &str) -> bool {
    if s.is_empty() {
        e.warnf(
            n.pos,
            path,
            format_args!("empty (a template variable that is not set?): using the default, {default}, as ContainerPilot does"),
        );
    }
    s.is_empty()
}

/// `logging.level`'s words (any case).
const LEVELS: [(&str, Level); 7] = [
    ("DEBUG", Level::Debug),
    ("INFO", Level::Info),
    ("WARN", Level::Warn),
    ("WARNING", Level::Warn),
    ("ERROR", Level::Error),
    ("FATAL", Level::Fatal),
    ("PANIC", Level::Fatal),
];

#[inline(never)]
fn logging(e: &mut Errors, n: &Node) -> Logging {
    let mut out = Logging::default();
    let Some(f) = d::object(e, n, &Path::Name("logging"), &["level", "format", "output"]) else {
        return out;
    };
    let field = |e: &mut Errors, k: &str, default: &str| {
        let x = f.get(k)?;
        let s = f.str(e, k)?;
        (!empty_is_default(e, x, &f.key(k), s, default)).then_some((x, s))
    };
    if let Some((l, s)) = field(e, "level", "INFO") {
        match LEVELS.iter().find(|(w, _)| w.eq_ignore_ascii_case(s)) {
            Some((_, level)) => out.level = *level,
            None => f.atf(
                e,
                l.pos,
                "level",
                format_args!(
                    "unknown level {s} (DEBUG, INFO, WARN, ERROR, FATAL or PANIC)",
                    s = q(&s)
                ),
            ),
        }
    }
    if let Some((x, s)) = field(e, "format", "text") {
        match s {
            "default" | "text" => out.format = Format::Text,
            "json" => out.format = Format::Json,
            other => f.atf(
                e,
                x.pos,
                "format",
                format_args!(
                    "unknown format {other} (default, text or json)",
                    other = q(&other)
                ),
            ),
        }
    }
    if let Some((_, s)) = field(e, "output", "stderr") {
        out.output = (s != "stderr").then(|| s.into());
    }
    out
}

/// An agent or endpoint address tug can dial (`host:port`, `http://...`,
/// `unix:///path`; no TLS), checked when the config loads rather than
/// when tug starts.
fn check_address(e: &mut Errors, n: &Node, path: &Path, addr: &str, default_port: u16) {
    if let Err(msg) = crate::net::client::Endpoint::parse(addr, default_port) {
        e.at(n.pos, path, msg);
    }
}

/// The Consul agent's address. ContainerPilot hands any string to Consul's
/// client, which takes "" as 127.0.0.1:8500 and whose dialer takes a
/// missing host as the local one; anything else that is not an address
/// loads too, and every request then fails. tug does the same, with a
/// warning. Only https is an error: tug has no TLS, so it could never work
/// as the config means it to.
fn agent_address(e: &mut Errors, n: &Node, path: &Path, given: &str) -> String {
    let t = given.trim();
    let bare = t.strip_prefix("http://").unwrap_or(t);
    let address = if t.is_empty() {
        e.warn(
            n.pos,
            path,
            "empty (a template variable that is not set?): tug uses 127.0.0.1:8500, as ContainerPilot does",
        );
        String::from("127.0.0.1:8500")
    } else if bare.starts_with(':') {
        let local = format!("127.0.0.1{bare}");
        e.warnf(
            n.pos,
            path,
            format_args!(
                "{given} has no host: tug uses {local}, as ContainerPilot does",
                given = q(&given)
            ),
        );
        local
    } else {
        String::from(given)
    };
    if t.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        check_address(e, n, path, &address, 8500);
    } else if let Err(why) = crate::net::client::Endpoint::parse_why(&address, 8500) {
        e.warnf(
            n.pos,
            path,
            format_args!("{address} is not a valid host:port ({why}): every request to the agent will fail; tug keeps retrying with backoff", address = q(&address)),
        );
    }
    address
}

#[inline(never)]
fn consul(e: &mut Errors, n: &Node) -> Option<Consul> {
    let path = Path::Name("consul");
    if let Value::String(s) = &n.value {
        return Some(Consul {
            address: agent_address(e, n, &path, s),
            scheme: None,
            token: None,
        });
    }
    let f = d::object(e, n, &path, &["address", "scheme", "token", "tls"])?;
    if let Some(t) = f.get("tls") {
        d::object(
            e,
            t,
            &f.key("tls"),
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
        Some(a) => {
            let given = f.string(e, "address")?;
            agent_address(e, a, &f.key("address"), &given)
        }
        // Consul's client defaults an unset address as it does "".
        None => agent_address(e, n, &f.key("address"), ""),
    };
    let scheme = f.string(e, "scheme");
    if let (Some(s), Some(node)) = (&scheme, f.get("scheme"))
        && s != "http"
        && !empty_is_default(e, node, &f.key("scheme"), s, "http")
    {
        f.atf(
            e,
            node.pos,
            "scheme",
            format_args!(
                "{s}: tug speaks plain HTTP only (no TLS); use a local agent over http",
                s = q(&s)
            ),
        );
    }
    let token = f.string(e, "token");
    Some(Consul {
        address,
        scheme,
        token,
    })
}

/// `etcd: { endpoints: ["http://127.0.0.1:2379"], prefix: "/services" }`
/// (or just the endpoint list, or one endpoint string).
#[inline(never)]
fn etcd(e: &mut Errors, n: &Node) -> Option<Etcd> {
    let path = Path::Name("etcd");
    let (endpoints, prefix) = match &n.value {
        // (A string is a list of one to `strings`.)
        Value::String(_) | Value::Array(_) => (d::strings(e, n, &path)?, None),
        _ => {
            let f = d::object(e, n, &path, &["endpoints", "prefix"])?;
            let endpoints = match f.get("endpoints") {
                Some(_) => f.strings(e, "endpoints")?,
                None => Vec::new(),
            };
            let prefix = f.string(e, "prefix");
            (endpoints, prefix)
        }
    };
    let list = path.key("endpoints");
    for (i, ep) in endpoints.iter().enumerate() {
        let at = match &n.value {
            Value::Array(items) => items.get(i).unwrap_or(n),
            _ => n,
        };
        check_address(e, at, &list.index(i), ep, 2379);
    }
    let prefix = prefix.unwrap_or_else(|| "/services".into());
    Some(Etcd {
        endpoints,
        prefix: prefix.trim_end_matches('/').into(),
    })
}

/// A watch's or a check's `interval` (`default` when absent); below `min`
/// it is an error, and returned as given.
#[inline(never)]
fn interval(e: &mut Errors, f: &Fields, default: u64, min: u64) -> Option<u64> {
    let interval = match f.get("interval") {
        Some(_) => f.positive_duration(e, "interval"),
        None => Some(default),
    };
    if interval.is_some_and(|i| i < min) {
        f.at(e, f.pos_of("interval"), "interval", "must be > 0");
    }
    interval
}

#[inline(never)]
fn watch(e: &mut Errors, n: &Node, path: &Path) -> Option<WatchConfig> {
    let f = d::object(
        e,
        n,
        path,
        &["name", "interval", "tag", "dc", "key", "prefix"],
    )?;
    let name = required(e, &f, "name").and_then(|_| f.string(e, "name"));
    let interval = interval(e, &f, 10 * SECOND, 1);
    let tag = f.string(e, "tag");
    let dc = f.string(e, "dc");
    let key = f.string(e, "key");
    let prefix = f.string(e, "prefix");
    if key.is_some() && prefix.is_some() {
        e.at(f.pos, path, "a watch has a key or a prefix, not both");
    }
    if (key.is_some() || prefix.is_some()) && tag.is_some() {
        f.at(e, f.pos, "tag", "a KV watch has no tag");
    }
    Some(WatchConfig {
        name: name?,
        interval: interval?,
        tag,
        dc,
        key,
        prefix,
    })
}

#[inline(never)]
fn telemetry(e: &mut Errors, n: &Node) -> Option<Telemetry> {
    let f = d::object(
        e,
        n,
        &Path::Name("telemetry"),
        &["port", "interfaces", "tags", "metrics"],
    )?;
    let port = match f.get("port") {
        Some(_) => f.integer(e, "port", 0, 65535),
        None => Some(9090),
    };
    let interfaces = interfaces(e, &f);
    let tags = f.strings(e, "tags").unwrap_or_default();
    let mut metrics = Vec::new();
    if let Some(m) = f.get("metrics") {
        let list_path = f.key("metrics");
        let list = d::array(e, m, &list_path).unwrap_or(&[]);
        for (i, node) in list.iter().enumerate() {
            let path = list_path.index(i);
            let Some(mf) = d::object(
                e,
                node,
                &path,
                &["namespace", "subsystem", "name", "help", "type"],
            ) else {
                continue;
            };
            let get = |e: &mut Errors, k: &str| mf.string(e, k).unwrap_or_default();
            let metric = Metric {
                namespace: get(e, "namespace"),
                subsystem: get(e, "subsystem"),
                name: get(e, "name"),
                help: get(e, "help"),
                kind: get(e, "type"),
            };
            if metric.name.is_empty() {
                mf.at(e, node.pos, "name", "missing");
            } else if let Err(msg) = metric_name(&metric) {
                e.at(node.pos, &path, msg);
            }
            if !["counter", "gauge", "histogram", "summary"].contains(&metric.kind.as_str()) {
                mf.atf(
                    e,
                    node.pos,
                    "type",
                    format_args!(
                        "{} is not counter, gauge, histogram or summary",
                        q(&metric.kind)
                    ),
                );
            }
            metrics.push(metric);
        }
    }
    Some(Telemetry {
        port: port? as u16,
        interfaces,
        tags,
        metrics,
    })
}

fn required<'n>(e: &mut Errors, f: &Fields<'n>, key: &str) -> Option<&'n Node> {
    let n = f.get(key);
    if n.is_none() {
        f.at(e, f.pos, key, "missing");
    }
    n
}

/// A command: a string split as shell words, or an array of strings.
#[inline(never)]
fn command(e: &mut Errors, n: &Node, path: &Path) -> Option<Vec<String>> {
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

#[inline(never)]
fn job(e: &mut Errors, n: &Node, path: &Path, default_stop: u64) -> Option<JobConfig> {
    let f = d::object(e, n, path, &JOB)?;
    let f = &f;
    let exec = f.get("exec").and_then(|x| command(e, x, &f.key("exec")));
    // Every field is decoded even when an earlier one fails, so that each
    // error is reported; the job itself then needs only a name.
    let name = match f.get("name") {
        Some(_) => f.string(e, "name"),
        // ContainerPilot names an unnamed job after its executable.
        None => match &exec {
            Some(argv) => Some(argv[0].clone()),
            None if f.has("exec") => None,
            None => {
                f.at(e, n.pos, "name", "missing (a job needs a name or an exec)");
                None
            }
        },
    };
    if name.as_deref() == Some("") {
        f.at(e, n.pos, "name", "must not be empty");
    }
    let when = f
        .get("when")
        .and_then(|w| when(e, w, &f.key("when")))
        .unwrap_or(When::Startup);
    let restarts = match f.get("restarts") {
        Some(r) => restarts(e, r, &f.key("restarts")).unwrap_or(Restarts::Limit(0)),
        // Periodic jobs run again on every tick.
        None if matches!(when, When::Interval(_) | When::Cron { .. }) => Restarts::Unlimited,
        None => Restarts::Limit(0),
    };
    if restarts == Restarts::Unlimited && matches!(when, When::Event { each: true, .. }) {
        f.at(
            e,
            f.pos_of("restarts"),
            "restarts",
            "\"unlimited\" may not be used with when.each: it could start processes without bound",
        );
    }
    let mut timeout = f.positive_duration(e, "timeout");
    if timeout == Some(0) {
        f.at(e, n.pos, "timeout", "must be at least 1ms");
    }
    if let (None, When::Interval(every)) = (timeout, &when) {
        // ContainerPilot: a periodic task may not outlive its period.
        timeout = Some(*every);
    }
    let stop_signal = f
        .get("stopSignal")
        .and_then(|s| {
            let name = f.str(e, "stopSignal")?;
            signame::parse(name).or_else(|| {
                f.atf(
                    e,
                    s.pos,
                    "stopSignal",
                    format_args!("unknown signal {name}", name = q(&name)),
                );
                None
            })
        })
        .unwrap_or(libc::SIGTERM);
    let port = f.integer(e, "port", 1, 65535).map(|v| v as u16);
    let health = f
        .get("health")
        .and_then(|h| health(e, h, &f.key("health"), timeout, port.is_some()));
    if port.is_some() {
        if health.is_none() && !f.has("health") {
            f.at(e, n.pos, "health", "must be set when 'port' is set");
        }
        // (Not when the check has a typo, which may be the ttl's.)
        if let Some(Value::Object(members)) = f.get("health").map(|h| &h.value)
            && members
                .iter()
                .all(|m| m.key != "ttl" && HEALTH.contains(&m.key.as_str()))
        {
            f.at(
                e,
                f.pos_of("health"),
                "health.ttl",
                "must be set when 'port' is set (the TTL given to the discovery backend)",
            );
        }
        if let Some(name) = &name
            && !valid_service_name(name)
        {
            f.atf(
                e,
                f.pos_of("name"),
                "name",
                format_args!(
                    "{name} cannot be advertised: it must match ^[a-z][a-zA-Z0-9-]+$",
                    name = q(&name)
                ),
            );
        }
    }
    let raw_output = raw_flag(e, f);
    let interfaces = interfaces(e, f);
    let tags = f.strings(e, "tags").unwrap_or_default();
    let meta_path = f.key("meta");
    let meta = f
        .get("meta")
        .and_then(|x| d::string_map(e, x, &meta_path))
        .unwrap_or_default();
    for (k, _) in &meta {
        if k.is_empty()
            || k.len() > 128
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            e.at(
                f.pos_of("meta"),
                &meta_path.key(k),
                "meta keys may only use letters, digits, '_' and '-' (at most 128)",
            );
        }
    }
    let initial_status = f.get("initial_status").and_then(|x| {
        let s = f.str(e, "initial_status")?;
        let valid = ["passing", "warning", "critical"].contains(&s);
        if port.is_none() {
            // ContainerPilot validates it only for a registered service.
            let also = if valid {
                String::new()
            } else {
                format!(" (and {s} is not passing, warning or critical)", s = q(&s))
            };
            f.warnf(
                e,
                x.pos,
                "initial_status",
                format_args!("has no effect without 'port': the job is not registered{also}"),
            );
            None
        } else if valid {
            Some(s.into())
        } else {
            f.atf(
                e,
                x.pos,
                "initial_status",
                format_args!("{s} is not passing, warning or critical", s = q(&s)),
            );
            None
        }
    });
    let (mut enable_tag_override, mut deregister_after) = (false, None);
    if let Some(c) = f.get("consul")
        && let Some(cf) = d::object(
            e,
            c,
            &f.key("consul"),
            &["enableTagOverride", "deregisterCriticalServiceAfter"],
        )
    {
        enable_tag_override = cf.boolean(e, "enableTagOverride").unwrap_or(false);
        deregister_after = cf.get("deregisterCriticalServiceAfter").and_then(|x| {
            let path = cf.key("deregisterCriticalServiceAfter");
            let s = d::string(e, x, &path)?;
            d::duration(e, x, &path).map(|_| s)
        });
    }
    let restart_delay = f.duration(e, "restartDelay").unwrap_or(0);
    let restart_max_delay = f
        .duration(e, "restartMaxDelay")
        .unwrap_or_else(|| restart_delay.max(30 * SECOND));
    let restart_reset_after = f.duration(e, "restartResetAfter").unwrap_or(10 * SECOND);
    let user = f.string(e, "user");
    let group = f.string(e, "group");
    let workdir = f.string(e, "workdir");
    let env = f
        .get("env")
        .map(|x| job_env(e, x, &f.key("env")))
        .unwrap_or_default();
    let service = super::kinds::decode(e, f, n.pos, f.has("exec"));
    Some(JobConfig {
        name: name?,
        exec,
        when,
        restarts,
        timeout,
        stop_timeout: f.duration(e, "stopTimeout").unwrap_or(default_stop),
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
        service,
    })
}

/// `interfaces` (a job's or telemetry's): each spec must be one the
/// address selection understands.
#[inline(never)]
fn interfaces(e: &mut Errors, f: &Fields) -> Vec<String> {
    let specs = f.strings(e, "interfaces").unwrap_or_default();
    let Some(n) = f.get("interfaces") else {
        return specs;
    };
    let path = f.key("interfaces");
    for (i, spec) in specs.iter().enumerate() {
        if let Err(msg) = crate::net::interfaces::validate(spec) {
            let pos = match &n.value {
                Value::Array(items) => items.get(i).map_or(n.pos, |x| x.pos),
                _ => n.pos,
            };
            e.at(pos, &path.index(i), msg);
        }
    }
    specs
}

/// `logging: { raw: true }` (a job's or a health check's); false if absent.
#[inline(never)]
fn raw_flag(e: &mut Errors, f: &Fields) -> bool {
    let raw = |e: &mut Errors, n| d::object(e, n, &f.key("logging"), &["raw"])?.boolean(e, "raw");
    f.get("logging").and_then(|n| raw(e, n)).unwrap_or(false)
}

#[inline(never)]
fn job_env(e: &mut Errors, n: &Node, path: &Path) -> Vec<(String, Option<String>)> {
    let Value::Object(members) = &n.value else {
        e.atf(
            n.pos,
            path,
            format_args!(
                "expected an object of NAME: \"value\" (or null to unset), found {}",
                n.value.kind()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in members {
        let here = path.key(&m.key);
        if m.key.is_empty() || m.key.contains('=') {
            e.at(m.key_pos, &here, "invalid variable name");
        }
        match &m.value.value {
            Value::Null => out.push((m.key.clone(), None)),
            Value::String(s) => out.push((m.key.clone(), Some(s.clone()))),
            Value::Number(x) => out.push((m.key.clone(), Some(crate::float::display(*x)))),
            Value::Bool(b) => out.push((m.key.clone(), Some(b.to_string()))),
            other => e.atf(
                m.value.pos,
                &here,
                format_args!("expected a string or null, found {}", other.kind()),
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

/// The event codes' names as messages list them: `CODES`' names, joined
/// (a test keeps the two alike; joining at run time costs its code).
const CODE_LIST: &str = "startup, shutdown, exitSuccess, exitFailed, stopping, stopped, healthy, \
                         unhealthy, changed, enterMaintenance, exitMaintenance, signal";

#[inline(never)]
fn when(e: &mut Errors, n: &Node, path: &Path) -> Option<When> {
    let f = d::object(
        e,
        n,
        path,
        &[
            "source", "once", "each", "interval", "timeout", "cron", "timezone",
        ],
    )?;
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
        let every = f.positive_duration(e, "interval")?;
        if every < 1_000_000 {
            f.at(e, i.pos, "interval", "cannot be less than 1ms");
            return None;
        }
        return Some(When::Interval(every));
    }
    if let Some(c) = f.get("cron") {
        let expr = f.str(e, "cron")?;
        if let Err(err) = crate::calendar::cron::Schedule::parse(expr) {
            f.atf(e, c.pos, "cron", format_args!("{err}"));
            return None;
        }
        let local = match f.get("timezone") {
            None => false,
            Some(z) => match f.str(e, "timezone")? {
                "UTC" | "utc" => false,
                "local" => true,
                other => {
                    f.atf(
                        e,
                        z.pos,
                        "timezone",
                        format_args!(
                            "{other}: use \"UTC\" or \"local\" (set TZ for another zone)",
                            other = q(&other)
                        ),
                    );
                    return None;
                }
            },
        };
        return Some(When::Cron {
            expr: expr.into(),
            local,
        });
    }
    let timeout = f.duration(e, "timeout");
    let source = f.string(e, "source");
    let (code_node, each) = match (f.get("once"), f.get("each")) {
        (Some(c), _) => (Some(c), false),
        (_, Some(c)) => (Some(c), true),
        _ => (None, true),
    };
    let word = if each { "each" } else { "once" };
    let code = match code_node {
        Some(_) => f.str(e, word)?,
        // `when: { source: "SIGHUP" }` runs the job on each signal.
        None if source.as_deref().is_some_and(is_signal_source) => "signal",
        None => {
            if !f.typo {
                e.at(
                    n.pos,
                    path,
                    "needs 'once' or 'each' with 'source', or 'interval' or 'cron'",
                );
            }
            return None;
        }
    };
    let Some(typed) = Code::from_name(code) else {
        let pos = code_node.map_or(n.pos, |c| c.pos);
        f.atf(
            e,
            pos,
            word,
            format_args!("unknown event {code} (one of {CODE_LIST})", code = q(&code)),
        );
        return None;
    };
    let Some(source) = source else {
        if f.has("source") || f.typo {
            return None;
        }
        // ContainerPilot loads this and waits for the event from source
        // "", which nothing publishes.
        let advice = if code == "startup" {
            "ContainerPilot's startup event comes from source \"global\"; without 'when' a job starts at startup"
        } else {
            "add the source: a job, watch.NAME or \"global\""
        };
        f.warnf(e, n.pos, "source",
            format_args!("missing: no event matches {word} {code} without a source, so this job will never start ({advice})", code = q(&code)),
        );
        return Some(never(timeout));
    };
    Some(When::Event {
        source,
        code: typed,
        each,
        timeout,
    })
}

/// The `when` of a job that can never start: source "" publishes nothing,
/// and a start event that is not `stopping` or `stopped` lets the job stop
/// at shutdown like any other (no preStop wait that could never end).
fn never(timeout: Option<u64>) -> When {
    When::Event {
        source: String::new(),
        code: Code::Startup,
        each: false,
        timeout,
    }
}

/// Whether `when` can never start the job (see [`never`]).
pub fn never_starts(when: &When) -> bool {
    matches!(when, When::Event { source, .. } if source.is_empty())
}

pub fn is_signal_source(s: &str) -> bool {
    s == "SIGHUP" || s == "SIGUSR2"
}

#[inline(never)]
fn restarts(e: &mut Errors, n: &Node, path: &Path) -> Option<Restarts> {
    match &n.value {
        Value::String(s) if s == "unlimited" => Some(Restarts::Unlimited),
        Value::String(s) if s == "never" => Some(Restarts::Limit(0)),
        Value::Number(_) | Value::String(_) => match &n.value {
            Value::String(s) if dec::<u32>(s.trim()).is_none() => {
                e.atf(
                    n.pos,
                    path,
                    format_args!(
                        "{s}: accepts a whole number, \"unlimited\" or \"never\"",
                        s = q(&s)
                    ),
                );
                None
            }
            _ => d::integer(e, n, path, 0, i64::from(u32::MAX)).map(|v| Restarts::Limit(v as u32)),
        },
        other => {
            e.atf(
                n.pos,
                path,
                format_args!(
                    "expected a whole number, \"unlimited\" or \"never\", found {}",
                    other.kind()
                ),
            );
            None
        }
    }
}

const HEALTH: [&str; 8] = [
    "exec", "http", "tcp", "status", "interval", "ttl", "timeout", "logging",
];

#[inline(never)]
fn health(
    e: &mut Errors,
    n: &Node,
    path: &Path,
    job_timeout: Option<u64>,
    advertised: bool,
) -> Option<Health> {
    let f = d::object(e, n, path, &HEALTH)?;
    let kinds = ["exec", "http", "tcp"].iter().filter(|k| f.has(k)).count();
    let check = if kinds != 1 {
        if kinds > 1 || !f.typo {
            e.at(n.pos, path, "needs exactly one of 'exec', 'http' or 'tcp'");
        }
        None
    } else if let Some(x) = f.get("exec") {
        command(e, x, &f.key("exec")).map(Check::Exec)
    } else if let Some(x) = f.get("http") {
        let url = f.string(e, "http").filter(|url| {
            let ok = url.starts_with("http://");
            if !ok {
                f.at(e, x.pos, "http", "only http:// URLs can be checked");
            }
            ok
        });
        let status = f.integer(e, "status", 100, 599).map(|s| s as u16);
        url.map(|url| Check::Http { url, status })
    } else {
        f.get("tcp")
            .and_then(|x| Some((x, f.string(e, "tcp")?)))
            .and_then(|(x, addr)| {
                let ok = addr
                    .rsplit_once(':')
                    .is_some_and(|(_, port)| dec::<u16>(port).is_some_and(|p| p > 0));
                if !ok {
                    f.atf(
                        e,
                        x.pos,
                        "tcp",
                        format_args!("{addr} is not host:port", addr = q(&addr)),
                    );
                }
                ok.then_some(Check::Tcp(addr))
            })
    };
    if f.has("status") && !f.has("http") {
        f.at(e, n.pos, "status", "only applies to 'http' checks");
    }
    // ContainerPilot 3.8 requires interval and ttl (> 0); tug defaults the
    // interval so that a check used only for `healthy` events (no port)
    // can be written bare, and needs a ttl only to advertise.
    let interval = interval(e, &f, 5 * SECOND, 1_000_000);
    let ttl = f.get("ttl").and_then(|t| {
        let ttl = f.positive_duration(e, "ttl")?;
        if ttl < SECOND {
            f.at(
                e,
                t.pos,
                "ttl",
                "must be at least 1s (Consul's TTL is in seconds)",
            );
        }
        Some(ttl)
    });
    let rejects = "ContainerPilot 3.8 rejects a health check without it";
    match (f.has("interval") || f.typo, f.has("ttl") || advertised || f.typo) {
        (false, false) => e.warn(
            n.pos,
            path,
            "no 'interval' or 'ttl': tug checks every 5s (ContainerPilot 3.8 rejects a health check without them)",
        ),
        (false, true) => f.warnf(e, n.pos, "interval",
            format_args!("missing: tug checks every 5s ({rejects})"),
        ),
        (true, false) => f.warnf(e, n.pos, "ttl",
            format_args!("missing: tug needs it only with 'port' ({rejects})"),
        ),
        (true, true) => {}
    }
    let timeout = f.duration(e, "timeout").or(job_timeout).or(interval);
    let raw_output = raw_flag(e, &f);
    Some(Health {
        check: check?,
        interval: interval.filter(|i| *i >= 1_000_000)?,
        ttl,
        timeout: timeout?,
        raw_output,
    })
}

/// The path of the job list, for errors that name a job.
const JOBS: Path = Path::Name("jobs");

/// A node inside a job by path (`["when", "source"]`), for positions.
fn node_in<'n>(job: &'n Node, keys: &[&str]) -> Option<&'n Node> {
    keys.iter().try_fold(job, |n, k| match &n.value {
        Value::Object(members) => members.iter().rfind(|m| m.key == *k).map(|m| &m.value),
        _ => None,
    })
}

/// Where [`node_in`] is, or the job's own position.
#[inline(never)]
fn pos_in(job: &Node, keys: &[&str]) -> Pos {
    node_in(job, keys).map_or(job.pos, |x| x.pos)
}

/// Cross-job rules: unique names, and `when` events that can come. A
/// source that names nothing, or a group of jobs that only wait on each
/// other, loads in ContainerPilot and the job never starts: tug warns and
/// gives the job a `when` that never fires ([`never`]).
#[inline(never)]
fn check_graph(
    e: &mut Errors,
    jobs: &mut [JobConfig],
    nodes: &[(usize, &Node)],
    watches: &[WatchConfig],
    watch_nodes: &[Node],
) {
    for (i, j) in jobs.iter().enumerate() {
        if jobs[..i].iter().any(|o| o.name == j.name) {
            let (k, node) = nodes[i];
            let at = pos_in(node, &["name"]);
            e.atf(
                at,
                &JOBS.index(k).key("name"),
                format_args!("duplicate job name {}", q(&j.name)),
            );
        }
    }
    for (i, w) in watches.iter().enumerate() {
        if watches[..i].iter().any(|o| o.name == w.name) {
            // The second node of that name.
            let mut at = Pos::default();
            let mut seen = 0;
            for n in watch_nodes {
                if let Some(n) = node_in(n, &["name"])
                    && matches!(&n.value, Value::String(s) if *s == w.name)
                {
                    seen += 1;
                    if seen == 2 {
                        at = n.pos;
                        break;
                    }
                }
            }
            e.atf(
                at,
                &Path::Name("watches").index(i).key("name"),
                format_args!("duplicate watch name {}", q(&w.name)),
            );
        }
    }
    let job_index = |jobs: &[JobConfig], name: &str| jobs.iter().position(|o| o.name == name);
    // One loop for the per-job lists (each map/collect is its own code).
    // dep: the job each waits on, and whether for a stop event.
    let n = jobs.len();
    let mut names: Vec<&str> = Vec::with_capacity(n);
    let mut after: Vec<&[String]> = Vec::with_capacity(n);
    let mut at: Vec<(Pos, usize)> = Vec::with_capacity(n);
    let mut when: Vec<Option<usize>> = Vec::with_capacity(n);
    let mut dep: Vec<Option<(usize, bool)>> = Vec::with_capacity(n);
    for (j, (k, node)) in jobs.iter().zip(nodes) {
        names.push(j.name.as_str());
        after.push(&j.service.after[..]);
        at.push((pos_in(node, &["after"]), *k));
        let d = match &j.when {
            When::Event { source, code, .. } => {
                job_index(jobs, source).map(|s| (s, matches!(code, Code::Stopping | Code::Stopped)))
            }
            _ => None,
        };
        when.push(d.filter(|d| !d.1).map(|d| d.0));
        dep.push(d);
    }
    super::kinds::check_after(e, &names, &after, &when, &at);
    let mut watch_names: Vec<String> = Vec::with_capacity(watches.len());
    for w in watches {
        let mut name = String::from("watch.");
        name.push_str(&w.name);
        watch_names.push(name);
    }
    for i in 0..jobs.len() {
        let When::Event {
            source, timeout, ..
        } = &jobs[i].when
        else {
            continue;
        };
        let known = source.is_empty()
            || source == "global"
            || is_signal_source(source)
            || job_index(jobs, source).is_some()
            || watch_names.contains(source);
        if known {
            continue;
        }
        let mut names: Vec<&str> = Vec::new();
        for j in jobs.iter() {
            names.push(&j.name);
        }
        let mut watch_strs: Vec<&str> = Vec::new();
        for w in &watch_names {
            watch_strs.push(w);
        }
        names.extend_from_slice(&watch_strs);
        names.extend_from_slice(&["global", "SIGHUP", "SIGUSR2"]);
        let hint = d::hint(
            d::closest(source, &names)
                .or_else(|| d::closest(&format!("watch.{source}"), &watch_strs)),
        );
        let (k, node) = nodes[i];
        let at = pos_in(node, &["when", "source"]);
        e.warnf(
            at,
            &JOBS.index(k).key("when.source"),
            format_args!(
                "{source} names no job or watch: this job will never start{hint}",
                source = q(&source)
            ),
        );
        jobs[i].when = never(*timeout);
        // As if dep were read now (a job named "", itself an error).
        dep[i] = job_index(jobs, "").map(|s| (s, false));
    }
    // Which jobs can start: those waiting on no job, or on a job that can
    // start; and on a job's stopping/stopped, which also comes when the
    // job stops at shutdown without having run (unless it waits for a
    // stop event itself and has no when.timeout to give up on it).
    // (dep, above: for each job the job it waits on, and whether for a
    // stop event.)
    let stops_anyway = |j: &JobConfig| match &j.when {
        When::Event { code, timeout, .. } => {
            timeout.is_some() || !matches!(code, Code::Stopping | Code::Stopped)
        }
        _ => true,
    };
    let mut can_start: Vec<bool> = Vec::with_capacity(jobs.len());
    for (j, d) in jobs.iter().zip(&dep) {
        can_start.push(!never_starts(&j.when) && d.is_none());
    }
    loop {
        let mut changed = false;
        for i in 0..jobs.len() {
            if let Some((s, on_stop)) = dep[i]
                && !can_start[i]
                && (can_start[s] || (on_stop && stops_anyway(&jobs[s])))
            {
                can_start[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for i in 0..jobs.len() {
        let Some((s, _)) = dep[i].filter(|_| !can_start[i]) else {
            continue;
        };
        // In a ring if the chain of sources leads back here.
        let mut on = s;
        for _ in 0..jobs.len() {
            match dep[on] {
                Some((next, _)) if on != i => on = next,
                _ => break,
            }
        }
        let why = if on == i {
            " (the jobs wait on each other)"
        } else {
            ""
        };
        let (k, node) = nodes[i];
        let at = pos_in(node, &["when"]);
        let path = JOBS.index(k);
        let path = path.key("when");
        if s == i {
            e.warn(
                at,
                &path,
                "waits on its own event: this job will never start",
            );
        } else {
            e.warnf(
                at,
                &path,
                format_args!(
                    "waits on job {}, which never starts{why}: this job will never start either",
                    q(&jobs[s].name)
                ),
            );
        }
    }
    for i in 0..jobs.len() {
        if !can_start[i]
            && let When::Event { timeout, .. } = jobs[i].when
        {
            jobs[i].when = never(timeout);
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
    fn the_code_list_is_the_codes() {
        assert_eq!(CODE_LIST, crate::events::CODES.map(|(n, _)| n).join(", "));
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
                code: Code::ExitSuccess,
                each: false,
                timeout: Some(2 * SECOND)
            }
        );
        assert_eq!(
            w(r#"{ source: "SIGHUP" }"#),
            When::Event {
                source: "SIGHUP".into(),
                code: Code::Signal,
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
        // (No warning that 'ttl' is missing: the typo says it.)
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
        let e: Vec<&String> = e.iter().filter(|l| !l.contains(": warning: ")).collect();
        assert_eq!(e.len(), 2, "both errors are reported: {e:?}");
    }

    #[test]
    fn main_names_the_job_whose_exit_ends_tug() {
        let c = loaded(r#"{ main: "app", jobs: [ { name: "app", exec: "x" } ] }"#);
        assert_eq!(c.main.as_deref(), Some("app"));
        let e = errors(r#"{ main: "ghost", jobs: [ { name: "app", exec: "x" } ] }"#);
        assert!(e[0].contains("main: no job is named \"ghost\""), "{e:?}");
    }

    fn loaded(text: &str) -> Config {
        parse("t.json5", text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    fn never_fires(w: &When) -> bool {
        let When::Event { source, code, .. } = w else {
            return false;
        };
        // Nothing publishes from source ""; and not a stop event, which
        // would hold the job back at shutdown.
        source.is_empty() && *code == Code::Startup && never_starts(w)
    }

    #[test]
    fn a_source_that_names_nothing_loads_warns_and_never_fires() {
        let c = loaded(
            r#"{
  jobs: [
    { name: "backend-config", exec: "x" },
    { name: "app", exec: "x", when: { source: "backend-confg", once: "exitSuccess" } },
    { name: "reload", exec: "x", when: { source: "watch.bakend", each: "changed", timeout: "9s" } },
    { name: "other", exec: "x", when: { source: "db-from-another-image", once: "stopping" } },
    { name: "no-prefix", exec: "x", when: { source: "backend", each: "changed" } },
    { name: "hup", exec: "x", when: { source: "SIGHUP" } },
    { name: "usr2", exec: "x", when: { source: "SIGUSR2", each: "signal" } },
    { name: "glob", exec: "x", when: { source: "global", once: "startup" } },
    { name: "on-watch", exec: "x", when: { source: "watch.backend", once: "healthy" } },
  ],
  watches: [ { name: "backend" } ],
}"#,
        );
        assert_eq!(
            c.warnings,
            [
                "t.json5:4:47: warning: jobs[1].when.source: \"backend-confg\" names no job or watch: this job will never start (did you mean \"backend-config\"?)",
                "t.json5:5:50: warning: jobs[2].when.source: \"watch.bakend\" names no job or watch: this job will never start (did you mean \"watch.backend\"?)",
                "t.json5:6:49: warning: jobs[3].when.source: \"db-from-another-image\" names no job or watch: this job will never start",
                "t.json5:7:53: warning: jobs[4].when.source: \"backend\" names no job or watch: this job will never start (did you mean \"watch.backend\"?)",
            ]
        );
        let w: Vec<&When> = c.jobs.iter().map(|j| &j.when).collect();
        assert!(never_fires(w[1]) && never_fires(w[2]) && never_fires(w[3]) && never_fires(w[4]));
        assert!(
            matches!(w[2], When::Event { timeout: Some(t), .. } if *t == 9 * SECOND),
            "when.timeout still gives up: {:?}",
            w[2]
        );
        for (i, source) in [
            (5, "SIGHUP"),
            (6, "SIGUSR2"),
            (7, "global"),
            (8, "watch.backend"),
        ] {
            assert!(
                matches!(w[i], When::Event { source: s, .. } if s == source),
                "{:?}",
                w[i]
            );
        }
    }

    #[test]
    fn once_or_each_without_a_source_loads_warns_and_never_fires() {
        let c = loaded(
            r#"{ jobs: [
  { name: "setup", exec: "x", when: { once: "startup" } },
  { name: "bye", exec: "x", when: { once: "shutdown", timeout: "3s" } },
  { name: "later", exec: "x", when: { each: "stopping" } },
] }"#,
        );
        assert_eq!(
            c.warnings,
            [
                "t.json5:2:37: warning: jobs[0].when.source: missing: no event matches once \"startup\" without a source, so this job will never start (ContainerPilot's startup event comes from source \"global\"; without 'when' a job starts at startup)",
                "t.json5:3:35: warning: jobs[1].when.source: missing: no event matches once \"shutdown\" without a source, so this job will never start (add the source: a job, watch.NAME or \"global\")",
                "t.json5:4:37: warning: jobs[2].when.source: missing: no event matches each \"stopping\" without a source, so this job will never start (add the source: a job, watch.NAME or \"global\")",
            ]
        );
        assert!(
            c.jobs.iter().all(|j| never_fires(&j.when)),
            "{:?}",
            c.jobs[2].when
        );
        assert!(matches!(c.jobs[1].when, When::Event { timeout: Some(t), .. } if t == 3 * SECOND));
        // Still errors, as in ContainerPilot: no event at all, or one that
        // does not exist.
        assert!(
            errors(r#"{ jobs: [ { name: "a", exec: "x", when: { timeout: "1s" } } ] }"#)[0]
                .contains("needs 'once' or 'each'")
        );
        assert!(
            errors(r#"{ jobs: [ { name: "a", exec: "x", when: { once: "started" } } ] }"#)[0]
                .contains("unknown event \"started\"")
        );
    }

    #[test]
    fn jobs_that_wait_on_each_other_load_warn_and_never_fire() {
        let c = loaded(
            r#"{ jobs: [
  { name: "a", exec: "x", when: { source: "b", once: "healthy" } },
  { name: "b", exec: "x", when: { source: "a", once: "exitSuccess" } },
  { name: "c", exec: "x", when: { source: "b", each: "exitFailed" } },
  { name: "pre-stop-a", exec: "x", when: { source: "a", once: "stopping" } },
  { name: "p", exec: "x", when: { source: "q", once: "stopped" } },
  { name: "q", exec: "x", when: { source: "p", once: "stopping" } },
  { name: "self", exec: "x", when: { source: "self", once: "exitFailed" } },
] }"#,
        );
        let at = |l: u32, k: usize, on: &str, why: &str| {
            format!(
                "t.json5:{l}:33: warning: jobs[{k}].when: waits on job \"{on}\", which never starts{why}: this job will never start either"
            )
        };
        let ring = " (the jobs wait on each other)";
        assert_eq!(
            c.warnings,
            [
                at(2, 0, "b", ring),
                at(3, 1, "a", ring),
                at(4, 2, "b", ""),
                at(6, 4, "q", ring),
                at(7, 5, "p", ring),
                "t.json5:8:36: warning: jobs[6].when: waits on its own event: this job will never start".into()
            ]
        );
        let w: Vec<&When> = c.jobs.iter().map(|j| &j.when).collect();
        assert!(never_fires(w[0]) && never_fires(w[1]) && never_fires(w[2]));
        // `a` never runs, but it stops at shutdown: its preStop runs then.
        assert!(matches!(w[3], When::Event { source, .. } if source == "a"));
        // Two jobs that each wait for the other to stop: neither ever does.
        assert!(never_fires(w[4]) && never_fires(w[5]));
    }

    #[test]
    fn an_empty_logging_value_is_the_default() {
        let c = loaded(r#"{ logging: { level: "", format: "", output: "" } }"#);
        assert_eq!(
            (c.logging.level, c.logging.format, c.logging.output),
            (Level::Info, Format::Text, None)
        );
        assert_eq!(
            c.warnings,
            [
                "t.json5:1:21: warning: logging.level: empty (a template variable that is not set?): using the default, INFO, as ContainerPilot does",
                "t.json5:1:33: warning: logging.format: empty (a template variable that is not set?): using the default, text, as ContainerPilot does",
                "t.json5:1:45: warning: logging.output: empty (a template variable that is not set?): using the default, stderr, as ContainerPilot does",
            ]
        );
        let c = loaded(r#"{ logging: { level: "debug", format: "json", output: "stdout" } }"#);
        assert_eq!(
            (c.logging.level, c.logging.format),
            (Level::Debug, Format::Json)
        );
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn agent_addresses_containerpilot_loads_load_with_a_warning() {
        let agent = |text: &str| {
            let c = loaded(text);
            (c.consul.unwrap().address, c.warnings)
        };
        let empty = "empty (a template variable that is not set?): tug uses 127.0.0.1:8500, as ContainerPilot does";
        assert_eq!(
            agent(r#"{ consul: "" }"#),
            (
                "127.0.0.1:8500".into(),
                Vec::from([std::format!("t.json5:1:11: warning: consul: {empty}")])
            )
        );
        assert_eq!(
            agent(r#"{ consul: { address: "" } }"#),
            (
                "127.0.0.1:8500".into(),
                Vec::from([std::format!(
                    "t.json5:1:22: warning: consul.address: {empty}"
                )])
            )
        );
        assert_eq!(
            agent(r#"{ consul: {} }"#),
            (
                "127.0.0.1:8500".into(),
                Vec::from([std::format!(
                    "t.json5:1:11: warning: consul.address: {empty}"
                )])
            )
        );
        assert_eq!(
            agent(r#"{ consul: ":8500" }"#),
            ("127.0.0.1:8500".into(), Vec::from(["t.json5:1:11: warning: consul: \":8500\" has no host: tug uses 127.0.0.1:8500, as ContainerPilot does".to_string()]))
        );
        assert_eq!(agent(r#"{ consul: "http://:8501" }"#).0, "127.0.0.1:8501");
        assert_eq!(
            agent(r#"{ consul: "localhost:8500:8500" }"#),
            ("localhost:8500:8500".into(), Vec::from(["t.json5:1:11: warning: consul: \"localhost:8500:8500\" is not a valid host:port (too many colons; an IPv6 address goes in brackets: [::1]:8500): every request to the agent will fail; tug keeps retrying with backoff".to_string()]))
        );
        let (address, w) = agent(r#"{ consul: { address: "c:99999", scheme: "" } }"#);
        assert_eq!(address, "c:99999");
        assert!(
            w[0].contains("consul.address: \"c:99999\" is not a valid host:port"),
            "{w:?}"
        );
        assert!(w[1].contains("consul.scheme: empty"), "{w:?}");
        let (_, w) = agent(r#"{ consul: "consul:8500" }"#);
        assert!(w.is_empty(), "{w:?}");
        // What could never work as meant (TLS) stays an error.
        assert!(
            errors(r#"{ consul: "https://c:8500" }"#)[0]
                .contains("consul: bad address \"https://c:8500\": https is not supported")
        );
    }

    #[test]
    fn a_duplicate_key_warns_and_the_last_one_wins() {
        let c = loaded(
            "{ jobs: [ {\n  name: \"app\", exec: \"x\",\n  when: { source: \"nope\", once: \"exitSuccess\" },\n  when: { source: \"setup\", once: \"exitSuccess\" },\n}, { name: \"setup\", exec: \"y\", name: \"setup\" } ] }",
        );
        assert_eq!(
            c.warnings,
            [
                "t.json5:4:3: warning: jobs[0].when: duplicate key: this value replaces the one at 3:3 (the last one wins, as in ContainerPilot)",
                "t.json5:5:32: warning: jobs[1].name: duplicate key: this value replaces the one at 5:6 (the last one wins, as in ContainerPilot)",
            ]
        );
        assert_eq!(
            c.jobs[0].when,
            When::Event {
                source: "setup".into(),
                code: Code::ExitSuccess,
                each: false,
                timeout: None
            }
        );
    }

    #[test]
    fn initial_status_without_a_port_has_no_effect_and_says_so() {
        let c = loaded(
            r#"{ jobs: [
  { name: "a", exec: "x", initial_status: "passing" },
  { name: "b", exec: "x", initial_status: "bogus" },
  { name: "web", exec: "x", port: 80, initial_status: "warning", health: { exec: "y", interval: 5, ttl: 10 } },
] }"#,
        );
        assert_eq!(
            c.warnings,
            [
                "t.json5:2:43: warning: jobs[0].initial_status: has no effect without 'port': the job is not registered",
                "t.json5:3:43: warning: jobs[1].initial_status: has no effect without 'port': the job is not registered (and \"bogus\" is not passing, warning or critical)",
            ]
        );
        assert_eq!(
            (
                c.jobs[0].initial_status.as_deref(),
                c.jobs[2].initial_status.as_deref()
            ),
            (None, Some("warning"))
        );
        let e = errors(
            r#"{ jobs: [ { name: "web", exec: "x", port: 80, initial_status: "bogus", health: { exec: "y", interval: 5, ttl: 10 } } ] }"#,
        );
        assert!(
            e[0].contains("jobs[0].initial_status: \"bogus\" is not passing, warning or critical"),
            "{e:?}"
        );
    }

    #[test]
    fn a_health_check_containerpilot_rejects_loads_with_a_warning() {
        let w = loaded(
            r#"{ jobs: [
  { name: "a", exec: "x", health: { exec: "y" } },
  { name: "b", exec: "x", health: { exec: "y", ttl: 10 } },
  { name: "c", exec: "x", health: { exec: "y", interval: 5 } },
  { name: "web", exec: "x", port: 80, health: { exec: "y", ttl: 10 } },
  { name: "e", exec: "x", health: { exec: "y", interval: 5, ttl: 10 } },
] }"#,
        )
        .warnings;
        assert_eq!(
            w,
            [
                "t.json5:2:35: warning: jobs[0].health: no 'interval' or 'ttl': tug checks every 5s (ContainerPilot 3.8 rejects a health check without them)",
                "t.json5:3:35: warning: jobs[1].health.interval: missing: tug checks every 5s (ContainerPilot 3.8 rejects a health check without it)",
                "t.json5:4:35: warning: jobs[2].health.ttl: missing: tug needs it only with 'port' (ContainerPilot 3.8 rejects a health check without it)",
                "t.json5:5:47: warning: jobs[3].health.interval: missing: tug checks every 5s (ContainerPilot 3.8 rejects a health check without it)",
            ]
        );
        // ttl > 0, as in ContainerPilot; and the messages say what is wrong.
        let e = errors(
            r#"{ jobs: [ { name: "a", exec: "x", health: { exec: "y", interval: 5, ttl: 0 } } ] }"#,
        );
        assert_eq!(
            e,
            ["t.json5:1:74: jobs[0].health.ttl: must be at least 1s (Consul's TTL is in seconds)"]
        );
    }

    #[test]
    fn a_v2_config_gets_one_error_that_says_so() {
        let e = errors(
            r#"{
  consul: "consul:8500",
  preStart: "/bin/setup.sh",
  services: [ { name: "app", port: 80, health: "/bin/check", poll: 10, ttl: 25 } ],
  backends: [ { name: "db", poll: 7, onChange: "/bin/reload.sh" } ],
  coprocesses: [], tasks: [], preStop: "x", postStop: "y",
  bogusKey: 1,
}"#,
        );
        assert_eq!(
            e,
            [
                "t.json5:3:3: preStart: this is a ContainerPilot v2 config; tug reads v3 configs, where services become jobs with port and health, backends become watches, preStart/preStop/postStop become jobs with when, tasks become jobs with when.interval and coprocesses become jobs with restarts",
                "t.json5:7:3: bogusKey: unknown key \"bogusKey\"",
            ]
        );
    }

    #[test]
    fn every_error_is_reported_in_the_order_of_positions() {
        let e = errors(
            r#"{
  jobs: [
    { name: "a", exec: "x", restarts: "forever", stopTimeout: "soon" },
    { name: "b", exec: "x", stopSignal: "SIGNOPE", restartDelay: "later" },
    { name: "c", exec: "x", when: { source: "a", onse: "exitSuccess" },
      health: { exec: "y", intreval: 5, tll: 10 } },
  ],
  watches: "none", stopTimeout: -1,
}"#,
        );
        assert_eq!(
            e,
            [
                "t.json5:3:39: jobs[0].restarts: \"forever\": accepts a whole number, \"unlimited\" or \"never\"",
                "t.json5:3:63: jobs[0].stopTimeout: invalid duration \"soon\": expected a number, as in \"5s\" or \"1m30s\"",
                "t.json5:4:41: jobs[1].stopSignal: unknown signal \"SIGNOPE\"",
                "t.json5:4:66: jobs[1].restartDelay: invalid duration \"later\": expected a number, as in \"5s\" or \"1m30s\"",
                "t.json5:5:50: jobs[2].when.onse: unknown key \"onse\" (did you mean \"once\"?)",
                "t.json5:6:28: jobs[2].health.intreval: unknown key \"intreval\" (did you mean \"interval\"?)",
                "t.json5:6:41: jobs[2].health.tll: unknown key \"tll\" (did you mean \"ttl\"?)",
                "t.json5:8:12: watches: expected a list, found string",
                "t.json5:8:33: stopTimeout: -1 is negative: expected a duration such as 30 or \"30s\"",
            ]
        );
    }

    #[test]
    fn negative_durations_say_so() {
        let e = errors(
            r#"{ jobs: [
  { name: "web", exec: "x", port: 80, health: { exec: "y", interval: -5, ttl: -1 } },
  { name: "b", exec: "x", stopTimeout: "-5s", timeout: -2.5, when: { interval: -1 } },
], watches: [ { name: "w", interval: "-1m" } ] }"#,
        );
        assert_eq!(
            e,
            [
                "t.json5:2:70: jobs[0].health.interval: -5 is negative: expected a duration > 0 such as 30 or \"30s\"",
                "t.json5:2:79: jobs[0].health.ttl: -1 is negative: expected a duration > 0 such as 30 or \"30s\"",
                "t.json5:3:40: jobs[1].stopTimeout: \"-5s\" is negative: expected a duration such as 30 or \"30s\"",
                "t.json5:3:56: jobs[1].timeout: the number is negative: expected a duration > 0 such as 30 or \"30s\"",
                "t.json5:3:80: jobs[1].when.interval: -1 is negative: expected a duration > 0 such as 30 or \"30s\"",
                "t.json5:4:38: watches[0].interval: \"-1m\" is negative: expected a duration > 0 such as 30 or \"30s\"",
            ]
        );
    }
}
