//! registrator's command line: Go `flag` syntax, options before the URI.
//!
//! Go's rules, kept: `-f` and `--f` are the same; a value is `-f=v` or the
//! next word (even one starting with `-`); a bool flag takes only `-f` or
//! `-f=BOOL`; options stop at `--`, `-` or the first other word. Then
//! exactly one word, the registry URI.
//!
//! tug decides: options after the URI are an error that says so (they
//! were silently ignored, #288), `-ip` and `-node` are checked, `-tags`
//! is a plain list (no Go template), integers are decimal, and a port left
//! out of an address is the registry's usual one (8500, 2379), not 80.

use crate::config::decode::closest;
use crate::net::client::Endpoint;
use crate::net::dns::parse_ip;
use crate::net::interfaces::ip_text;
use crate::num::dec;
use crate::quote::q;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

pub const USAGE: &str = "usage: tug registrator [OPTIONS] URI\n\
URI: consul://HOST:PORT  consul-unix:///PATH  consulkv://HOST:PORT/PREFIX\n\
     consulkv-unix:///PATH:/PREFIX  etcd://HOST:PORT/PREFIX  skydns2://HOST:PORT/DOMAIN\n\
options (before the URI):\n\
  -ip IP               address for published ports (default: the host's)\n\
  -internal            container address and exposed port, published or not\n\
  -explicit            only ports with SERVICE_NAME or SERVICE_<port>_NAME\n\
  -useIpFromLabel L    address from container label L (CIDR allowed)\n\
  -tags A,B            tags added to every service\n\
  -ttl N -ttl-refresh N  registration TTL and refresh period, seconds (etcd)\n\
  -resync N            re-inspect every container each N seconds (0: never)\n\
  -deregister M        always | on-success (exit 0 or killed by a signal)\n\
  -retry-attempts N    tries to reach the registry at start (-1: forever)\n\
  -retry-interval MS   pause between those tries (default 2000)\n\
  -cleanup             remove this node's services of containers gone\n\
  -node NAME           node identity in service IDs (default: the engine's Name)\n\
env: DOCKER_HOST (unix:// or tcp://), CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN\n";

pub const DEFAULT_DOCKER: &str = "unix:///var/run/docker.sock";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    Run(alloc::boxed::Box<Options>),
}

/// Everything `tug registrator` runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// What decides the services of a container.
    pub model: Model,
    /// -ttl / -ttl-refresh, seconds; both 0 or ttl > refresh > 0.
    pub ttl_s: u32,
    pub ttl_refresh_s: u32,
    /// -resync, seconds; 0 = never.
    pub resync_s: u32,
    pub deregister: Deregister,
    /// -retry-attempts: Some(n) is n + 1 tries, None forever (-1).
    pub retry_attempts: Option<u32>,
    /// -retry-interval, milliseconds, > 0.
    pub retry_interval_ms: u32,
    pub cleanup: bool,
    /// -node; None: the engine's Name (`GET /info`).
    pub node: Option<String>,
    pub backend: Backend,
    /// DOCKER_HOST, or the default socket.
    pub docker: Endpoint,
}

/// The options that shape a Service (the sans-IO model's input).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// -ip, canonical text.
    pub ip: Option<String>,
    pub internal: bool,
    pub explicit: bool,
    /// -useIpFromLabel: the label's name.
    pub ip_from_label: Option<String>,
    /// -tags, split like SERVICE_TAGS.
    pub tags: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deregister {
    Always,
    /// Only when the container exited 0 or was killed by a signal.
    OnSuccess,
}

/// The registry, from the URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The agent's service catalog.
    Consul {
        endpoint: Endpoint,
        token: Option<String>,
    },
    /// `ip:port` values under `prefix/name/id` (no leading `/`).
    ConsulKv {
        endpoint: Endpoint,
        token: Option<String>,
        prefix: String,
    },
    /// etcd v3, `ip:port` under `prefix/name/id`; prefix "" or `/…`.
    Etcd { endpoint: Endpoint, prefix: String },
    /// etcd v3 in SkyDNS's layout (which CoreDNS's etcd plugin reads).
    SkyDns2 { endpoint: Endpoint, domain: String },
}

/// The flags by name, in the order `closest` prefers them; an index is
/// the flag's slot in `parse`. `BOOLS`: the flags that take no value.
const FLAGS: &[&str] = &[
    "ip",
    "internal",
    "explicit",
    "useIpFromLabel",
    "tags",
    "ttl",
    "ttl-refresh",
    "resync",
    "deregister",
    "retry-attempts",
    "retry-interval",
    "cleanup",
    "node",
    "version",
    "help",
    "h",
];
const IP: usize = 0;
const INTERNAL: usize = 1;
const EXPLICIT: usize = 2;
const LABEL: usize = 3;
const TAGS: usize = 4;
const TTL: usize = 5;
const REFRESH: usize = 6;
const RESYNC: usize = 7;
const DEREGISTER: usize = 8;
const ATTEMPTS: usize = 9;
const INTERVAL: usize = 10;
const CLEANUP: usize = 11;
const NODE: usize = 12;
const VERSION: usize = 13;
const BOOLS: u16 = 1 << INTERNAL | 1 << EXPLICIT | 1 << CLEANUP | 0b111 << VERSION;

const SCHEMES: &[&str] = &[
    "consul",
    "consul-unix",
    "consulkv",
    "consulkv-unix",
    "etcd",
    "skydns2",
];

/// Reads the words after `registrator`. Each error is one line; every
/// value error is reported, but parsing stops at a syntax error (after an
/// unknown flag, nothing says whether the next word is its value).
#[inline(never)]
pub fn parse(
    args: &[&str],
    env: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<Command, Vec<String>> {
    let mut errors = Vec::new();
    // The last value of each flag, by its index in FLAGS.
    let mut set: [Option<&str>; 16] = [None; 16];
    let mut i = 0;
    while let Some(&word) = args.get(i) {
        if word == "--" {
            i += 1;
            break;
        }
        if word.len() < 2 || !word.starts_with('-') {
            break;
        }
        i += 1;
        let body = word.strip_prefix("--").unwrap_or(&word[1..]);
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
            return Err(alloc::vec![format!("bad option syntax: {word}")]);
        }
        let Some(f) = FLAGS.iter().position(|f| *f == name) else {
            return Err(alloc::vec![match closest(name, FLAGS) {
                Some(f) => format!("unknown option: {word} (did you mean -{f}?)"),
                None => format!("unknown option: {word}"),
            }]);
        };
        let flag = FLAGS[f];
        let value = match inline {
            Some(v) => v,
            None if BOOLS >> f & 1 != 0 => "true",
            None => match args.get(i) {
                Some(v) => {
                    i += 1;
                    v
                }
                None => return Err(alloc::vec![format!("option -{flag} needs a value")]),
            },
        };
        if BOOLS >> f & 1 != 0 {
            match go_bool(value) {
                None => errors.push(format!(
                    "-{flag}: {value} is not true or false",
                    value = q(&value)
                )),
                // Go stops at -h and registrator at --version: what
                // follows is moot.
                Some(true) if f >= VERSION => {
                    return Ok(if f == VERSION {
                        Command::Version
                    } else {
                        Command::Help
                    });
                }
                Some(_) => {}
            }
        }
        set[f] = Some(value);
    }
    let on = |f: usize| set[f].and_then(go_bool).unwrap_or(false);
    let rest = &args[i..];
    let uri = match rest {
        [] => {
            errors.push("missing registry URI (e.g. consul://127.0.0.1:8500)".into());
            None
        }
        [uri] => Some(*uri),
        [uri, next, ..] => {
            errors.push(format!(
                "unexpected {next} after the URI {uri}: options go before the URI",
                next = q(&next),
                uri = q(&uri)
            ));
            None
        }
    };

    let mut int = |f: usize, default: i64, min: i64| -> i64 {
        let Some(v) = set[f] else { return default };
        match parse_int(v) {
            Some(n) if n >= min && n <= i64::from(u32::MAX) => n,
            _ => {
                let what = if min < 0 {
                    "a whole number, -1 or more"
                } else {
                    "a whole number"
                };
                errors.push(format!("-{}: {v} is not {what}", FLAGS[f], v = q(&v)));
                default
            }
        }
    };
    let ttl = int(TTL, 0, 0) as u32;
    let refresh = int(REFRESH, 0, 0) as u32;
    let resync = int(RESYNC, 0, 0) as u32;
    let attempts = int(ATTEMPTS, 0, -1);
    let interval = int(INTERVAL, 2000, 0) as u32;
    if (ttl == 0) != (refresh == 0) {
        errors.push("-ttl and -ttl-refresh go together: give both or neither".into());
    } else if ttl != 0 && ttl <= refresh {
        errors.push(format!(
            "-ttl ({ttl}) must be greater than -ttl-refresh ({refresh})"
        ));
    }
    if interval == 0 {
        errors.push("-retry-interval must be greater than 0".into());
    }
    let deregister = match set[DEREGISTER].unwrap_or("always") {
        "always" => Deregister::Always,
        "on-success" => Deregister::OnSuccess,
        other => {
            errors.push(format!(
                "-deregister: {other} is not always or on-success",
                other = q(&other)
            ));
            Deregister::Always
        }
    };
    let ip = set[IP]
        .filter(|v| !v.is_empty())
        .and_then(|v| match parse_ip(v) {
            Some(a) => Some(ip_text(&a)),
            None => {
                errors.push(format!("-ip: {v} is not an IP address", v = q(&v)));
                None
            }
        });
    let node = set[NODE].map(String::from);
    if let Some(n) = &node
        && !valid_node(n)
    {
        errors.push(format!(
            "-node: {n} must be letters, digits, '.', '-' or '_' (it goes into service IDs)",
            n = q(&n)
        ));
    }
    let tags = set[TAGS].unwrap_or("");
    if tags.contains("{{") {
        errors.push("-tags: Go templates are not supported; give a comma-separated list".into());
    }
    let label = set[LABEL].filter(|v| !v.is_empty()).map(String::from);

    let docker = docker_endpoint(env).map_err(|e| errors.push(e)).ok();
    let backend = uri.and_then(|u| backend(u, env).map_err(|e| errors.push(e)).ok());
    match (backend, docker) {
        (Some(backend), Some(docker)) if errors.is_empty() => {
            Ok(Command::Run(alloc::boxed::Box::new(Options {
                model: Model {
                    ip,
                    internal: on(INTERNAL),
                    explicit: on(EXPLICIT),
                    ip_from_label: label,
                    tags: split_tags(tags),
                },
                ttl_s: ttl,
                ttl_refresh_s: refresh,
                resync_s: resync,
                deregister,
                retry_attempts: u32::try_from(attempts).ok(),
                retry_interval_ms: interval,
                cleanup: on(CLEANUP),
                node,
                backend,
                docker,
            })))
        }
        _ => Err(errors),
    }
}

/// Go's strconv.ParseBool.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn parse_int(v: &str) -> Option<i64> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    dec(v)
}

/// A node name goes into `node:container:port` IDs, which -cleanup reads
/// back, so it has no `:` (nor anything a DNS name could not hold).
pub fn valid_node(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 253
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// Splits at commas not preceded by a backslash (`\,` is a literal comma),
/// dropping empty items, trimming nothing.
pub fn split_tags(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                cur.push(',');
                chars.next();
            }
            ',' => {
                if !cur.is_empty() {
                    out.push(core::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// DOCKER_HOST (unix:// or tcp://), else the engine's usual socket.
#[inline(never)]
pub fn docker_endpoint(env: &dyn Fn(&str) -> Option<&'static str>) -> Result<Endpoint, String> {
    let Some(host) = env("DOCKER_HOST").filter(|h| !h.is_empty()) else {
        return Endpoint::parse(DEFAULT_DOCKER, 2375);
    };
    let tls = env("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
    let ep = Endpoint::parse(host, 2375).map_err(|e| format!("DOCKER_HOST: {e}"))?;
    if tls && matches!(ep, Endpoint::Tcp { .. }) {
        return Err(
            "DOCKER_TLS_VERIFY is set, but tug has no TLS: use a unix socket or plain tcp://"
                .into(),
        );
    }
    Ok(ep)
}

/// Reads a registry URI.
#[inline(never)]
pub fn backend(uri: &str, env: &dyn Fn(&str) -> Option<&'static str>) -> Result<Backend, String> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(format!(
            "{uri} is not a registry URI (e.g. consul://127.0.0.1:8500, etcd://127.0.0.1:2379/services)",
            uri = q(&uri)
        ));
    };
    let token = || {
        env("CONSUL_HTTP_TOKEN")
            .filter(|t| !t.is_empty())
            .map(String::from)
    };
    // The authority, then the path without its slashes at either end.
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, p.trim_matches('/')),
        None => (rest, ""),
    };
    let tcp = |default: &str, port: u16| {
        let addr = if host.is_empty() { default } else { host };
        Endpoint::parse(addr, port).map_err(|e| format!("{uri}: {e}"))
    };
    // The Consul API client's own default, as registrator got it.
    let consul_default = env("CONSUL_HTTP_ADDR")
        .filter(|a| !a.is_empty())
        .unwrap_or("127.0.0.1:8500");
    let unix = |path: &str| match path {
        p if p.starts_with('/') && p.len() > 1 => Ok(Endpoint::Unix(p.into())),
        _ => Err(format!("{uri}: expected {scheme}:///path/to/socket")),
    };
    match scheme {
        "consul" => {
            if !path.is_empty() {
                return Err(format!(
                    "{uri}: consul:// takes no path (for keys use consulkv://)"
                ));
            }
            Ok(Backend::Consul {
                endpoint: tcp(consul_default, 8500)?,
                token: token(),
            })
        }
        "consul-unix" => Ok(Backend::Consul {
            endpoint: unix(rest)?,
            token: token(),
        }),
        "consulkv" | "consulkv-unix" => {
            let (endpoint, prefix) = if scheme == "consulkv" {
                (tcp(consul_default, 8500)?, path)
            } else {
                let (sock, prefix) = rest.split_once(":/").unwrap_or((rest, ""));
                (unix(sock)?, prefix.trim_matches('/'))
            };
            if prefix.is_empty() {
                let form = if scheme == "consulkv" {
                    "//HOST:PORT/PREFIX"
                } else {
                    "///PATH:/PREFIX"
                };
                return Err(format!("{uri}: a key prefix is required: {scheme}:{form}"));
            }
            Ok(Backend::ConsulKv {
                endpoint,
                token: token(),
                prefix: prefix.into(),
            })
        }
        "etcd" => Ok(Backend::Etcd {
            endpoint: tcp("127.0.0.1:2379", 2379)?,
            prefix: if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            },
        }),
        "skydns2" => {
            let domain = path.trim_matches('.');
            let ok = !domain.is_empty()
                && domain.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !ok {
                return Err(format!(
                    "{uri}: a DNS domain is required: skydns2://HOST:PORT/DOMAIN"
                ));
            }
            Ok(Backend::SkyDns2 {
                endpoint: tcp("127.0.0.1:2379", 2379)?,
                domain: domain.to_ascii_lowercase(),
            })
        }
        "consul-tls" => Err(format!(
            "{uri}: tug has no TLS; use consul:// or consul-unix:// (a local agent)"
        )),
        "zookeeper" => Err(format!("{uri}: zookeeper is not supported by tug")),
        other => Err(match closest(other, SCHEMES) {
            Some(s) => format!("unknown registry scheme {other}:// (did you mean {s}://?)"),
            None => format!(
                "unknown registry scheme {other}:// (tug knows {})",
                SCHEMES.join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<&'static str> {
        None
    }

    fn run(args: &[&str]) -> Options {
        match parse(args, &no_env) {
            Ok(Command::Run(o)) => *o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn errs(args: &[&str]) -> Vec<String> {
        parse(args, &no_env).unwrap_err()
    }

    fn consul(host: &str, port: u16) -> Backend {
        Backend::Consul {
            endpoint: Endpoint::Tcp {
                host: host.into(),
                port,
            },
            token: None,
        }
    }

    #[test]
    fn defaults_are_registrators() {
        let o = run(&["consul://localhost:8500"]);
        assert_eq!(o.model, Model::default());
        assert_eq!(
            (
                o.ttl_s,
                o.ttl_refresh_s,
                o.resync_s,
                o.retry_attempts,
                o.retry_interval_ms
            ),
            (0, 0, 0, Some(0), 2000)
        );
        assert_eq!(o.deregister, Deregister::Always);
        assert!(!o.cleanup);
        assert_eq!(o.node, None);
        assert_eq!(o.backend, consul("localhost", 8500));
        assert_eq!(o.docker, Endpoint::Unix("/var/run/docker.sock".into()));
    }

    #[test]
    fn every_option_in_go_flag_forms() {
        let o = run(&[
            "-ip",
            "10.0.0.7",
            "--internal",
            "-explicit=true",
            "-useIpFromLabel=ip.label",
            "-tags",
            "a,b\\,c,,d",
            "-ttl=30",
            "-ttl-refresh",
            "10",
            "--resync=60",
            "-deregister",
            "on-success",
            "-retry-attempts",
            "-1",
            "-retry-interval=500",
            "-cleanup",
            "-node",
            "host-1",
            "consul://10.0.0.1:8500",
        ]);
        assert_eq!(
            o.model,
            Model {
                ip: Some("10.0.0.7".into()),
                internal: true,
                explicit: true,
                ip_from_label: Some("ip.label".into()),
                tags: alloc::vec!["a".into(), "b,c".into(), "d".into()],
            }
        );
        assert_eq!((o.ttl_s, o.ttl_refresh_s, o.resync_s), (30, 10, 60));
        assert_eq!(o.deregister, Deregister::OnSuccess);
        assert_eq!((o.retry_attempts, o.retry_interval_ms), (None, 500));
        assert!(o.cleanup);
        assert_eq!(o.node.as_deref(), Some("host-1"));
    }

    #[test]
    fn bool_flags_take_only_the_inline_form() {
        // `-internal false` is the flag, then the URI "false": Go's rule.
        let e = errs(&["-internal", "false", "consul://"]);
        assert_eq!(
            e,
            ["unexpected \"consul://\" after the URI \"false\": options go before the URI"]
        );
        assert!(!run(&["-internal=false", "consul://"]).model.internal);
        assert!(run(&["-internal=T", "consul://"]).model.internal);
        assert_eq!(
            errs(&["-cleanup=yes", "consul://"]),
            ["-cleanup: \"yes\" is not true or false"]
        );
        // The last of a repeated flag wins.
        assert!(!run(&["-cleanup", "-cleanup=0", "consul://"]).cleanup);
    }

    #[test]
    fn a_value_may_start_with_a_dash_and_options_stop_at_double_dash() {
        assert_eq!(run(&["-tags", "-x", "consul://"]).model.tags, ["-x"]);
        assert_eq!(run(&["--", "consul://"]).backend, consul("127.0.0.1", 8500));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&["-h"], &no_env), Ok(Command::Help));
        assert_eq!(parse(&["--help"], &no_env), Ok(Command::Help));
        assert_eq!(parse(&["--version"], &no_env), Ok(Command::Version));
        // Anything after them is moot, as in Go.
        assert_eq!(parse(&["-h", "-bogus"], &no_env), Ok(Command::Help));
        assert_eq!(
            parse(&["-version", "x", "y"], &no_env),
            Ok(Command::Version)
        );
        assert_eq!(
            errs(&["-help=false"]),
            ["missing registry URI (e.g. consul://127.0.0.1:8500)"]
        );
    }

    #[test]
    fn syntax_errors_are_one_line_with_a_hint() {
        assert_eq!(
            errs(&["-interal", "consul://"]),
            ["unknown option: -interal (did you mean -internal?)"]
        );
        assert_eq!(
            errs(&["--useipfromlabel=x", "consul://"]),
            ["unknown option: --useipfromlabel=x (did you mean -useIpFromLabel?)"]
        );
        assert_eq!(errs(&["-zzzzzz", "consul://"]), ["unknown option: -zzzzzz"]);
        assert_eq!(errs(&["-ttl"]), ["option -ttl needs a value"]);
        assert_eq!(errs(&["---ip", "consul://"]), ["bad option syntax: ---ip"]);
        assert_eq!(errs(&["-=x", "consul://"]), ["bad option syntax: -=x"]);
    }

    #[test]
    fn uri_missing_or_followed_by_options() {
        assert_eq!(
            errs(&[]),
            ["missing registry URI (e.g. consul://127.0.0.1:8500)"]
        );
        assert_eq!(
            errs(&["-internal"]),
            ["missing registry URI (e.g. consul://127.0.0.1:8500)"]
        );
        assert_eq!(
            errs(&["consul://", "-ip", "1.2.3.4"]),
            ["unexpected \"-ip\" after the URI \"consul://\": options go before the URI"]
        );
    }

    #[test]
    fn every_value_error_is_reported() {
        let e = errs(&[
            "-ttl",
            "10",
            "-deregister",
            "never",
            "-ip",
            "10.0.0.300",
            "-retry-interval",
            "0",
            "-resync",
            "x",
            "-retry-attempts",
            "-2",
            "-node",
            "a:b",
            "-tags",
            "{{.Name}}",
            "consul://",
        ]);
        assert_eq!(
            e,
            [
                "-resync: \"x\" is not a whole number",
                "-retry-attempts: \"-2\" is not a whole number, -1 or more",
                "-ttl and -ttl-refresh go together: give both or neither",
                "-retry-interval must be greater than 0",
                "-deregister: \"never\" is not always or on-success",
                "-ip: \"10.0.0.300\" is not an IP address",
                "-node: \"a:b\" must be letters, digits, '.', '-' or '_' (it goes into service IDs)",
                "-tags: Go templates are not supported; give a comma-separated list",
            ]
        );
        assert_eq!(
            errs(&["-ttl", "10", "-ttl-refresh", "10", "consul://"]),
            ["-ttl (10) must be greater than -ttl-refresh (10)"]
        );
        assert_eq!(
            errs(&["-ttl", "-5", "-ttl-refresh", "1", "consul://"])[0],
            "-ttl: \"-5\" is not a whole number"
        );
    }

    #[test]
    fn ipv6_ip_is_canonical() {
        assert_eq!(
            run(&["-ip", "2001:DB8:0::1", "consul://"])
                .model
                .ip
                .as_deref(),
            Some("2001:db8::1")
        );
    }

    #[test]
    fn uris() {
        let b = |u: &str| backend(u, &no_env);
        let tcp = |h: &str, port| Endpoint::Tcp {
            host: h.into(),
            port,
        };
        assert_eq!(b("consul://consul"), Ok(consul("consul", 8500)));
        assert_eq!(b("consul://[::1]:18500/"), Ok(consul("::1", 18500)));
        assert_eq!(
            b("consul-unix:///run/consul.sock"),
            Ok(Backend::Consul {
                endpoint: Endpoint::Unix("/run/consul.sock".into()),
                token: None
            })
        );
        assert_eq!(
            b("consulkv://kv:8501/services/web/"),
            Ok(Backend::ConsulKv {
                endpoint: tcp("kv", 8501),
                token: None,
                prefix: "services/web".into()
            })
        );
        assert_eq!(
            b("consulkv-unix:///tmp/c.sock:/svc"),
            Ok(Backend::ConsulKv {
                endpoint: Endpoint::Unix("/tmp/c.sock".into()),
                token: None,
                prefix: "svc".into()
            })
        );
        assert_eq!(
            b("etcd://etcd/services"),
            Ok(Backend::Etcd {
                endpoint: tcp("etcd", 2379),
                prefix: "/services".into()
            })
        );
        assert_eq!(
            b("etcd://"),
            Ok(Backend::Etcd {
                endpoint: tcp("127.0.0.1", 2379),
                prefix: "".into()
            })
        );
        assert_eq!(
            b("skydns2://10.0.0.2:4001/Skydns.Local."),
            Ok(Backend::SkyDns2 {
                endpoint: tcp("10.0.0.2", 4001),
                domain: "skydns.local".into()
            })
        );
    }

    #[test]
    fn uri_errors_are_clear() {
        let b = |u: &str| backend(u, &no_env).unwrap_err();
        assert_eq!(
            b("consul:8500"),
            "\"consul:8500\" is not a registry URI (e.g. consul://127.0.0.1:8500, etcd://127.0.0.1:2379/services)"
        );
        assert_eq!(
            b("consol://x"),
            "unknown registry scheme consol:// (did you mean consul://?)"
        );
        assert_eq!(
            b("redis://x"),
            "unknown registry scheme redis:// (tug knows consul, consul-unix, consulkv, consulkv-unix, etcd, skydns2)"
        );
        assert_eq!(
            b("consulkv://kv:8500"),
            "consulkv://kv:8500: a key prefix is required: consulkv://HOST:PORT/PREFIX"
        );
        assert_eq!(
            b("consulkv-unix:///s"),
            "consulkv-unix:///s: a key prefix is required: consulkv-unix:///PATH:/PREFIX"
        );
        assert_eq!(
            b("skydns2://etcd:2379"),
            "skydns2://etcd:2379: a DNS domain is required: skydns2://HOST:PORT/DOMAIN"
        );
        assert_eq!(
            b("skydns2://etcd/a..b"),
            "skydns2://etcd/a..b: a DNS domain is required: skydns2://HOST:PORT/DOMAIN"
        );
        assert_eq!(
            b("consul://h:8500/x"),
            "consul://h:8500/x: consul:// takes no path (for keys use consulkv://)"
        );
        assert_eq!(
            b("consul://h:99999"),
            "consul://h:99999: bad address \"h:99999\": port must be 1-65535"
        );
        assert_eq!(
            b("consul-unix://"),
            "consul-unix://: expected consul-unix:///path/to/socket"
        );
        assert_eq!(
            b("consul-tls://h:8501"),
            "consul-tls://h:8501: tug has no TLS; use consul:// or consul-unix:// (a local agent)"
        );
        assert_eq!(
            b("zookeeper://zk/x"),
            "zookeeper://zk/x: zookeeper is not supported by tug"
        );
    }

    #[test]
    fn environment() {
        let env = |k: &str| match k {
            "CONSUL_HTTP_ADDR" => Some("http://agent:8600"),
            "CONSUL_HTTP_TOKEN" => Some("secret"),
            "DOCKER_HOST" => Some("tcp://dockerd:2375"),
            _ => None,
        };
        let Ok(Command::Run(o)) = parse(&["consul://"], &env) else {
            panic!()
        };
        assert_eq!(
            o.backend,
            Backend::Consul {
                endpoint: Endpoint::Tcp {
                    host: "agent".into(),
                    port: 8600
                },
                token: Some("secret".into())
            }
        );
        assert_eq!(
            o.docker,
            Endpoint::Tcp {
                host: "dockerd".into(),
                port: 2375
            }
        );
        assert_eq!(
            backend("consulkv:///svc", &env),
            Ok(Backend::ConsulKv {
                endpoint: Endpoint::Tcp {
                    host: "agent".into(),
                    port: 8600
                },
                token: Some("secret".into()),
                prefix: "svc".into()
            })
        );
        let unix = |k: &str| (k == "DOCKER_HOST").then_some("unix:///run/docker.sock");
        assert_eq!(
            docker_endpoint(&unix),
            Ok(Endpoint::Unix("/run/docker.sock".into()))
        );
        let ssh = |k: &str| (k == "DOCKER_HOST").then_some("ssh://me@host");
        assert_eq!(
            docker_endpoint(&ssh),
            Err("DOCKER_HOST: bad address \"ssh://me@host\": unsupported scheme".into())
        );
        let tls = |k: &str| match k {
            "DOCKER_HOST" => Some("tcp://h:2376"),
            "DOCKER_TLS_VERIFY" => Some("1"),
            _ => None,
        };
        assert_eq!(
            docker_endpoint(&tls),
            Err(
                "DOCKER_TLS_VERIFY is set, but tug has no TLS: use a unix socket or plain tcp://"
                    .into()
            )
        );
        // Both errors at once: the URI's and DOCKER_HOST's.
        let e = parse(&["nope"], &ssh).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
    }

    #[test]
    fn tags_split_like_service_tags() {
        assert_eq!(split_tags("master,backups"), ["master", "backups"]);
        assert_eq!(split_tags(",a\\,b,, c ,"), ["a,b", " c "]);
        assert_eq!(split_tags("a\\b"), ["a\\b"]);
        assert!(split_tags("").is_empty());
    }
}
