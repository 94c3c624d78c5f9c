//! Logging's sources and outputs: tug's two top-level extensions to
//! ContainerPilot's schema (issue 11), decoded into [`SyslogConfig`] and
//! [`LogOutput`]s. Only the model: the supervisor opens the sockets and
//! files, the router (`crate::logs`) matches and formats.
//!
//! ```json5
//! syslog: { socket: "/dev/log", udp: "127.0.0.1:514", tcp: "[::1]:514" },
//! logs: [
//!   { name: "console", selector: "*.warn", stdout: true },
//!   { name: "syslog", file: "/var/log/syslog-%Y%m%d.log", rotate: { size: "10MB", keep: 5 } },
//!   { name: "central", forward: "tcp://logs.example.net:514", format: "rfc3164" },
//! ]
//! ```
//!
//! Decisions:
//! - `syslog: {}` (no source named) means the unix socket at /dev/log, the
//!   common case; once `udp` or `tcp` is named, /dev/log is opened only
//!   when `socket` is named too (nothing is bound that the config does not
//!   show). Without a `syslog` key nothing is opened (None).
//! - `socket` is an absolute path that fits a sockaddr_un (107 bytes).
//!   `udp`/`tcp` are `IP:PORT` or `[IPV6]:PORT` (a `udp://`/`tcp://` in
//!   front matching the key is accepted): IP literals only, since they are
//!   bound before the loop runs and tug resolves names only inside it (as
//!   `service::listen`). Port 0 is allowed (the kernel picks one; tests).
//! - An output writes to exactly one of `stdout: true`, `stderr: true`,
//!   `file: PATH`, `forward: URL`; none or two is an error. `stdout: false`
//!   counts as not given (what a template's conditional renders).
//! - `name` is required and unique: metrics (`tug_log_dropped_total
//!   {output}`) and messages name the output by it. Two outputs on the same
//!   `file` text are an error (they would interleave and rotate each
//!   other's files).
//! - `selector` defaults to `*.*` (as Chaperone's); one with no positive
//!   piece loads with a warning that the output will get nothing.
//! - `format`: `text` (tug's `time=… level=…` lines, today's) by default
//!   on stdout/stderr; `classic` (`Mmm dd hh:mm:ss host prog[pid]: msg`,
//!   what rsyslog and Chaperone write to files, and what tools reading
//!   /var/log expect) by default in a file; `json` and `rfc5424` on
//!   either. A forward sends `rfc5424` (default) or `rfc3164`, nothing
//!   else; `rfc3164` is for forward only. `Classic`'s offset is 0 here: the
//!   decoder has no clock, the runtime uses the offset in force at each
//!   record's time (calendar::timezone).
//! - `file`: an absolute path (tug's working directory is nobody's), not a
//!   directory, may hold strftime conversions (logs::strftime).
//! - `rotate: {size, keep}` only with `file`, both required (no hidden
//!   default for how much disk to keep). `size` is bytes, a number or a
//!   string with a unit `B`, `K`/`KB`/`KiB`, `M`/`MB`/`MiB`, `G`/`GB`/`GiB`
//!   (any case; powers of 1024, as logrotate's `size 10M`), whole, > 0.
//!   `keep` is 0 to 1000 (0: the file is started afresh).
//! - `forward`: `tcp://HOST[:PORT]`, `udp://HOST[:PORT]`, or `HOST[:PORT]`
//!   (TCP); the port defaults to 514 (RFC 5426's and the usual TCP one).
//!   HOST is a name or an IP literal (`[…]` for IPv6), kept as text and
//!   resolved by the loop later; only its characters are checked here.
//! - `logs: []` loads with a warning: it means the same as no `logs`
//!   (today's defaults), not "log nothing".

use super::decode::{self as d, Errors, Fields, Path};
use super::json5::{Node, Pos, Value};
use crate::logs::file::Rotate;
use crate::logs::format::Format;
use crate::logs::selector::Selector;
use crate::net::ip::parse_ip;
use crate::num::dec;
use crate::quote::q;
use crate::sys::net::Ip;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The built-in syslog's sources (each None: not opened).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SyslogConfig {
    /// The unix datagram socket, as /dev/log.
    pub socket: Option<String>,
    pub udp: Option<Addr>,
    pub tcp: Option<Addr>,
}

/// A bind address: an IP literal and a port.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Addr {
    pub ip: Ip,
    pub port: u16,
}

/// One output of the log router.
#[derive(Clone, PartialEq, Debug)]
pub struct LogOutput {
    pub name: String,
    pub selector: Selector,
    pub target: Target,
}

/// Where an output writes, and in which format.
#[derive(Clone, PartialEq, Debug)]
pub enum Target {
    Stdout(Format),
    Stderr(Format),
    File {
        /// Absolute; may hold strftime conversions.
        path: String,
        format: Format,
        rotate: Option<Rotate>,
    },
    Forward(Forward),
}

/// A remote syslog.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Forward {
    pub proto: Proto,
    /// A name or an IP literal (IPv6 without brackets), not resolved yet.
    pub host: String,
    pub port: u16,
    pub wire: Wire,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Proto {
    Udp,
    Tcp,
}

/// A forwarded message's format.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wire {
    Rfc5424,
    Rfc3164,
}

/// The syslog port (RFC 5426; the usual one over TCP too).
pub const SYSLOG_PORT: u16 = 514;
/// /dev/log: the socket `syslog: {}` opens.
pub const DEV_LOG: &str = "/dev/log";

const TARGETS: [&str; 4] = ["stdout", "stderr", "file", "forward"];
const OUTPUT: [&str; 8] = [
    "name", "selector", "stdout", "stderr", "file", "forward", "format", "rotate",
];
const FORMATS: [&str; 5] = ["text", "json", "rfc5424", "classic", "rfc3164"];
/// FORMATS joined, as the message lists them (a test keeps them alike).
const FORMAT_LIST: &str = "text, json, rfc5424, classic, rfc3164";

/// Decodes `syslog` and `logs` from the top-level object.
#[inline(never)]
pub fn decode(e: &mut Errors, top: &Fields) -> (Option<SyslogConfig>, Vec<LogOutput>) {
    let syslog = top
        .get("syslog")
        .and_then(|n| syslog(e, n, &top.key("syslog")));
    let mut outputs: Vec<LogOutput> = Vec::new();
    let path = top.key("logs");
    if let Some(n) = top.get("logs")
        && let Some(items) = d::array(e, n, &path)
    {
        if items.is_empty() {
            e.warn(
                n.pos,
                &path,
                "an empty list is the same as no logs: the defaults stay (jobs' output and \
                 tug's own records to stderr)",
            );
        }
        // The list index of each decoded output (one that failed leaves a gap).
        let mut at: Vec<usize> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let here = path.index(i);
            let Some(out) = output(e, item, &here) else {
                continue;
            };
            for (k, o) in outputs.iter().enumerate() {
                let j = at[k];
                if o.name == out.name {
                    e.atf(
                        pos_of(item, "name"),
                        &here.key("name"),
                        format_args!(
                            "{} is taken by logs[{j}]: names must be unique",
                            q(&out.name)
                        ),
                    );
                }
                if let (Target::File { path: a, .. }, Target::File { path: b, .. }) =
                    (&o.target, &out.target)
                    && a == b
                {
                    e.atf(
                        pos_of(item, "file"),
                        &here.key("file"),
                        format_args!(
                            "logs[{j}] writes this file too: two outputs would interleave and \
                             rotate each other's files (one output with a wider selector does it)"
                        ),
                    );
                }
            }
            outputs.push(out);
            at.push(i);
        }
    }
    (syslog, outputs)
}

/// Where `key`'s value is in the object `n` (the object, if not there).
fn pos_of(n: &Node, key: &str) -> Pos {
    match &n.value {
        Value::Object(ms) => ms.iter().rfind(|m| m.key == key).map(|m| m.value.pos),
        _ => None,
    }
    .unwrap_or(n.pos)
}

fn syslog(e: &mut Errors, n: &Node, path: &Path) -> Option<SyslogConfig> {
    let f = d::object(e, n, path, &["socket", "udp", "tcp"])?;
    let mut s = SyslogConfig {
        socket: None,
        udp: None,
        tcp: None,
    };
    if let Some(x) = f.get("socket")
        && let Some(p) = f.string(e, "socket")
    {
        match socket_path(&p) {
            Ok(()) => s.socket = Some(p),
            Err(why) => bad(e, &f, x, "socket", &p, why),
        }
    }
    for (key, scheme) in [("udp", "udp://"), ("tcp", "tcp://")] {
        let Some(x) = f.get(key) else { continue };
        let Some(text) = f.str(e, key) else {
            continue;
        };
        let addr = bind_addr(text, scheme)
            .map_err(|why| bad(e, &f, x, key, text, &why))
            .ok();
        // (By the scheme's first byte: no string compare.)
        *if scheme.as_bytes()[0] == b'u' {
            &mut s.udp
        } else {
            &mut s.tcp
        } = addr;
    }
    if !f.has("socket") && !f.has("udp") && !f.has("tcp") && !f.typo {
        s.socket = Some(DEV_LOG.into());
    }
    Some(s)
}

/// `KEY: "TEXT": WHY` (one copy of the formatting for every field).
#[inline(never)]
fn bad(e: &mut Errors, f: &Fields, x: &Node, key: &str, text: &str, why: &str) {
    f.atf(
        e,
        x.pos,
        key,
        format_args!("{text}: {why}", text = q(&text)),
    );
}

fn socket_path(p: &str) -> Result<(), &'static str> {
    if !p.starts_with('/') {
        Err("the socket path must be absolute, as /dev/log")
    } else if p.ends_with('/') {
        Err("the socket path names a directory")
    } else if p.contains('\0') {
        Err("NUL in the socket path")
    } else if p.len() > 107 {
        Err("too long for a unix socket path (at most 107 bytes)")
    } else {
        Ok(())
    }
}

/// `IP:PORT` or `[IPV6]:PORT`, with `scheme` optionally in front.
fn bind_addr(text: &str, scheme: &str) -> Result<Addr, String> {
    let rest = text.strip_prefix(scheme).unwrap_or(text);
    if let Some((other, _)) = rest.split_once("://") {
        return Err(format!(
            "{other}:// does not belong here: write IP:PORT (the key says {})",
            &scheme[..3]
        ));
    }
    let (host, port) = split_port(rest)?;
    let port = port.ok_or("missing port: write IP:PORT, as 127.0.0.1:514")?;
    let ip = parse_ip(host).ok_or_else(|| {
        format!(
            "{host} is not an IP address; tug binds before it can resolve names, so write \
             an address (0.0.0.0, 127.0.0.1, [::], [::1])",
            host = q(&host)
        )
    })?;
    Ok(Addr { ip, port })
}

/// Splits `HOST[:PORT]` (`[IPV6][:PORT]`): the host without brackets.
fn split_port(rest: &str) -> Result<(&str, Option<u16>), String> {
    if rest.contains(['/', '?', '#', ' ']) {
        return Err("a path or spaces are not allowed here".into());
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("missing ']'")?;
        if !matches!(parse_ip(host), Some(Ip::V6(_))) {
            return Err(format!(
                "{host} in brackets is not an IPv6 address",
                host = q(&host)
            ));
        }
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err("junk after ']'".into()),
        }
    } else if matches!(parse_ip(rest), Some(Ip::V6(_))) {
        return Err("an IPv6 address goes in brackets: [::1]:514".into());
    } else {
        match rest.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err("an IPv6 address goes in brackets: [::1]:514".into());
            }
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err("missing address".into());
    }
    let Some(port) = port else {
        return Ok((host, None));
    };
    let n = (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .then(|| dec::<u16>(port))
        .flatten()
        .ok_or_else(|| format!("port {port} is not a number 0-65535", port = q(&port)))?;
    Ok((host, Some(n)))
}

/// `[udp://|tcp://]HOST[:PORT]`.
fn forward_target(text: &str) -> Result<(Proto, String, u16), String> {
    let (proto, rest) = if let Some(r) = text.strip_prefix("tcp://") {
        (Proto::Tcp, r)
    } else if let Some(r) = text.strip_prefix("udp://") {
        (Proto::Udp, r)
    } else if let Some((scheme, _)) = text.split_once("://") {
        let why = if matches!(scheme.to_ascii_lowercase().as_str(), "tcp" | "udp") {
            "the scheme must be lowercase"
        } else if scheme.eq_ignore_ascii_case("tls") || scheme.eq_ignore_ascii_case("syslog") {
            "not supported (plain syslog over tcp:// or udp:// only)"
        } else {
            "unsupported scheme"
        };
        return Err(format!(
            "{scheme}://: {why}; a forward target is tcp://HOST:PORT or udp://HOST:PORT"
        ));
    } else {
        (Proto::Tcp, text)
    };
    let (host, port) = split_port(rest)?;
    if parse_ip(host).is_none() && !host_name(host) {
        return Err(format!(
            "{host} is neither an IP address nor a host name",
            host = q(&host)
        ));
    }
    let port = port.unwrap_or(SYSLOG_PORT);
    if port == 0 {
        return Err("port 0: a remote syslog needs a real port (514 is the usual one)".into());
    }
    Ok((proto, host.into(), port))
}

/// A DNS name's shape: labels of letters, digits, `-` and `_`, none empty
/// or over 63 bytes, 253 bytes in all.
fn host_name(h: &str) -> bool {
    let h = h.strip_suffix('.').unwrap_or(h);
    h.len() <= 253
        && h.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Bytes with an optional binary unit: 10MB, "512 KiB", 4096.
fn size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = t.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ if num.is_empty() => return Err("expected a size such as 10MB, 512KB or 4096".into()),
        u => {
            return Err(format!(
                "unknown unit {u}: B, KB, MB or GB (whole numbers; powers of 1024)",
                u = q(&u)
            ));
        }
    };
    let n: u64 =
        dec(num).ok_or_else(|| String::from("expected a size such as 10MB, 512KB or 4096"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| String::from("too large"))?;
    if bytes == 0 {
        return Err("must be above 0".into());
    }
    Ok(bytes)
}

fn rotate(e: &mut Errors, n: &Node, path: &Path) -> Option<Rotate> {
    let f = d::object(e, n, path, &["size", "keep"])?;
    let size = match f.get("size") {
        Some(x) => match &x.value {
            Value::String(t) => size(t).map_err(|why| bad(e, &f, x, "size", t, &why)).ok(),
            _ => match f.integer(e, "size", 0, i64::MAX) {
                Some(0) => {
                    f.at(e, x.pos, "size", "must be above 0");
                    None
                }
                v => v.map(|v| v as u64),
            },
        },
        None => {
            f.missing(
                e,
                "size",
                "missing: the size a file is rotated at, as \"10MB\"",
            );
            None
        }
    };
    let keep = match f.get("keep") {
        Some(_) => f.integer(e, "keep", 0, 1000).map(|k| k as u32),
        None => {
            f.missing(
                e,
                "keep",
                "missing: how many rotated files to keep (0 starts the file afresh)",
            );
            None
        }
    };
    Some(Rotate {
        size: size?,
        keep: keep?,
    })
}

#[inline(never)]
fn output(e: &mut Errors, n: &Node, path: &Path) -> Option<LogOutput> {
    let f = d::object(e, n, path, &OUTPUT)?;
    let mut ok = true;
    let name = match f.get("name") {
        Some(x) => match f.string(e, "name") {
            Some(s) if s.trim().is_empty() => {
                f.at(e, x.pos, "name", "empty: an output needs a name");
                None
            }
            s => s,
        },
        None => {
            f.at(
                e,
                n.pos,
                "name",
                "missing: an output needs a name (metrics and messages name it)",
            );
            None
        }
    };
    let selector = match f.get("selector") {
        Some(x) => f.str(e, "selector").and_then(|s| match Selector::parse(s) {
            Ok(sel) => {
                if sel.selects_nothing() {
                    f.warnf(
                        e,
                        x.pos,
                        "selector",
                        format_args!(
                            "{s} has no positive piece, so this output will get nothing \
                             (to take all but some, start with \"*.*;\")",
                            s = q(&s)
                        ),
                    );
                }
                Some(sel)
            }
            Err(why) => {
                f.at(e, x.pos, "selector", why);
                None
            }
        }),
        None => Some(Selector::default()),
    };
    // The target: exactly one of the four, by its index in TARGETS
    // (0, 1: the streams, a boolean; 2, 3: file and forward, a string).
    let mut given: Option<usize> = None;
    for (t, key) in TARGETS.iter().enumerate() {
        let Some(x) = f.get(key) else { continue };
        let on = match &x.value {
            Value::String(_) if t >= 2 => true,
            Value::Bool(b) if t < 2 => *b,
            other => {
                let want = if t >= 2 { "a string" } else { "true" };
                f.atf(
                    e,
                    x.pos,
                    key,
                    format_args!("expected {want}, found {}", other.kind()),
                );
                ok = false;
                continue;
            }
        };
        if !on {
            continue;
        }
        match given {
            Some(first) => {
                f.atf(
                    e,
                    x.pos,
                    key,
                    format_args!(
                        "an output writes to one place, and {} is given too: make two \
                         outputs",
                        TARGETS[first]
                    ),
                );
                ok = false;
            }
            None => given = Some(t),
        }
    }
    if given.is_none() && ok && !f.typo {
        e.at(
            n.pos,
            path,
            "an output needs one of stdout: true, stderr: true, file: PATH or forward: URL",
        );
    }
    // The format, checked against the target, by its index in FORMATS.
    let forward = given == Some(3);
    let mut format = None;
    let mut wire = Wire::Rfc5424;
    if let Some(x) = f.get("format")
        && let Some(word) = f.str(e, "format")
    {
        match word {
            "text" if !forward => format = Some(Format::Text),
            "json" if !forward => format = Some(Format::Json),
            "rfc5424" => format = Some(Format::Rfc5424),
            "classic" if !forward => format = Some(Format::Classic { utc_offset: 0 }),
            "rfc3164" if forward => wire = Wire::Rfc3164,
            "rfc3164" => f.at(
                e,
                x.pos,
                "format",
                "\"rfc3164\" is for forward; in a file or on a stream, \"classic\" is the same \
                 line without its <PRI>",
            ),
            w if forward && FORMATS.contains(&w) => f.atf(
                e,
                x.pos,
                "format",
                format_args!(
                    "a forward sends \"rfc5424\" or \"rfc3164\", not {w}",
                    w = q(&w)
                ),
            ),
            _ => {
                let hint = d::hint(d::closest(word, &FORMATS));
                f.atf(
                    e,
                    x.pos,
                    "format",
                    format_args!(
                        "unknown format {word}: one of {FORMAT_LIST}{hint}",
                        word = q(&word)
                    ),
                );
            }
        }
    }
    let rotate = match f.get("rotate") {
        Some(x) if given == Some(2) => {
            let r = rotate(e, x, &f.key("rotate"));
            ok &= r.is_some();
            r
        }
        Some(x) => {
            f.at(
                e,
                x.pos,
                "rotate",
                "only with file (stdout, stderr and forward are not rotated)",
            );
            None
        }
        None => None,
    };
    let target = match given? {
        0 => Target::Stdout(format.unwrap_or(Format::Text)),
        1 => Target::Stderr(format.unwrap_or(Format::Text)),
        2 => {
            let x = f.get("file")?;
            let p = f.str(e, "file")?;
            if let Err(why) = file_path(p) {
                bad(e, &f, x, "file", p, why);
                return None;
            }
            Target::File {
                path: p.into(),
                format: format.unwrap_or(Format::Classic { utc_offset: 0 }),
                rotate,
            }
        }
        _ => {
            let x = f.get("forward")?;
            let text = f.str(e, "forward")?;
            let (proto, host, port) = forward_target(text)
                .map_err(|why| bad(e, &f, x, "forward", text, &why))
                .ok()?;
            Target::Forward(Forward {
                proto,
                host,
                port,
                wire,
            })
        }
    };
    if !ok {
        return None;
    }
    Some(LogOutput {
        name: name?,
        selector: selector?,
        target,
    })
}

fn file_path(p: &str) -> Result<(), &'static str> {
    if !p.starts_with('/') {
        Err("must be an absolute path (tug's working directory is nobody's)")
    } else if p.ends_with('/') {
        Err("names a directory; write the file's name")
    } else if p.contains('\0') {
        Err("NUL in the path")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    use crate::config::test_errors as errors;

    /// The one error `text` gives, which must contain `want`.
    #[track_caller]
    fn error(text: &str, want: &str) {
        let e = errors(text);
        assert!(
            e.len() == 1 && e[0].contains(want),
            "{text}\nwant {want:?}\ngot {e:?}"
        );
    }

    fn outputs(text: &str) -> Vec<LogOutput> {
        parse("t.json5", text)
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
            .logs
    }

    fn one(body: &str) -> LogOutput {
        outputs(&format!("{{logs: [{{name: \"o\", {body}}}]}}"))
            .pop()
            .unwrap()
    }

    fn syslog_of(text: &str) -> Option<SyslogConfig> {
        parse("t.json5", text)
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
            .syslog
    }

    fn v4(a: [u8; 4], port: u16) -> Option<Addr> {
        Some(Addr {
            ip: Ip::V4(a),
            port,
        })
    }

    #[test]
    fn no_sections_no_model() {
        let c = parse("t.json5", "{}").unwrap();
        assert!(c.logs.is_empty() && c.syslog.is_none());
        let c = parse("t.json5", "{logs: []}").unwrap();
        assert!(c.logs.is_empty());
        assert!(
            c.warnings[0]
                .contains("t.json5:1:8: warning: logs: an empty list is the same as no logs"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn syslog_sources() {
        let s = syslog_of("{syslog: {}}").unwrap();
        assert_eq!(s.socket.as_deref(), Some("/dev/log"));
        assert_eq!((s.udp, s.tcp), (None, None));
        let s = syslog_of(r#"{syslog: {udp: "127.0.0.1:514"}}"#).unwrap();
        assert_eq!((s.socket, s.udp), (None, v4([127, 0, 0, 1], 514)));
        let s = syslog_of(
            r#"{syslog: {socket: "/run/log", udp: "udp://0.0.0.0:0", tcp: "[::1]:1514"}}"#,
        )
        .unwrap();
        assert_eq!(s.socket.as_deref(), Some("/run/log"));
        assert_eq!(s.udp, v4([0, 0, 0, 0], 0));
        let mut one = [0u8; 16];
        one[15] = 1;
        assert_eq!(
            s.tcp,
            Some(Addr {
                ip: Ip::V6(one),
                port: 1514
            })
        );
    }

    #[test]
    fn syslog_errors() {
        error(
            "{syslog: {sokcet: '/dev/log'}}",
            "t.json5:1:11: syslog.sokcet: unknown key \"sokcet\" (did you mean \"socket\"?)",
        );
        error(
            "{syslog: {socket: 'dev/log'}}",
            "1:19: syslog.socket: \"dev/log\": the socket path must be absolute",
        );
        error("{syslog: {socket: '/run/'}}", "names a directory");
        error(
            &format!("{{syslog: {{socket: '/{}'}}}}", "a".repeat(107)),
            "at most 107 bytes",
        );
        error(
            "{syslog: {udp: 'localhost:514'}}",
            "syslog.udp: \"localhost:514\": \"localhost\" is not an IP address; tug binds before",
        );
        error("{syslog: {udp: '127.0.0.1'}}", "missing port");
        error(
            "{syslog: {tcp: '127.0.0.1:99999'}}",
            "port \"99999\" is not a number 0-65535",
        );
        error(
            "{syslog: {tcp: 'udp://127.0.0.1:514'}}",
            "udp:// does not belong here: write IP:PORT (the key says tcp)",
        );
        error(
            "{syslog: {tcp: '::1:514'}}",
            "an IPv6 address goes in brackets",
        );
        error("{syslog: {tcp: '[::1]x'}}", "junk after ']'");
        error(
            "{syslog: {tcp: 514}}",
            "syslog.tcp: expected a string, found number",
        );
        error(
            "{syslog: true}",
            "syslog: expected an object, found boolean",
        );
    }

    #[test]
    fn targets_and_default_formats() {
        let o = one("stdout: true");
        assert_eq!(o.target, Target::Stdout(Format::Text));
        assert_eq!(o.selector.text(), "*.*");
        assert_eq!(
            one("stderr: true, format: 'json'").target,
            Target::Stderr(Format::Json)
        );
        assert_eq!(
            one("stdout: false, file: '/var/log/x-%Y%m%d.log'").target,
            Target::File {
                path: "/var/log/x-%Y%m%d.log".into(),
                format: Format::Classic { utc_offset: 0 },
                rotate: None
            }
        );
        assert_eq!(
            one("file: '/l', format: 'rfc5424', rotate: {size: '10MB', keep: 5}").target,
            Target::File {
                path: "/l".into(),
                format: Format::Rfc5424,
                rotate: Some(Rotate {
                    size: 10 << 20,
                    keep: 5
                })
            }
        );
        let fw = |text: &str| match one(text).target {
            Target::Forward(f) => f,
            t => panic!("{t:?}"),
        };
        assert_eq!(
            fw("forward: 'tcp://logs.example.net:514'"),
            Forward {
                proto: Proto::Tcp,
                host: "logs.example.net".into(),
                port: 514,
                wire: Wire::Rfc5424
            }
        );
        assert_eq!(
            fw("forward: 'udp://[2001:db8::1]', format: 'rfc3164'"),
            Forward {
                proto: Proto::Udp,
                host: "2001:db8::1".into(),
                port: 514,
                wire: Wire::Rfc3164
            }
        );
        let f = fw("forward: '10.0.0.9:1514', format: 'rfc5424'");
        assert_eq!(
            (f.proto, f.port, f.host.as_str()),
            (Proto::Tcp, 1514, "10.0.0.9")
        );
    }

    #[test]
    fn the_issue_example_loads() {
        let o = outputs(
            r#"{logs: [
              { name: "console", selector: "*.warn;authpriv,auth.!*", stdout: true },
              { name: "syslog", selector: "*.info;![tug].*", file: "/var/log/syslog-%Y%m%d.log",
                rotate: { size: "10MB", keep: 5 } },
              { name: "central", selector: "*.*", forward: "tcp://logs.example.net:514", format: "rfc5424" },
            ]}"#,
        );
        let names: Vec<&str> = o.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["console", "syslog", "central"]);
        assert_eq!(o[1].selector.text(), "*.info;![tug].*");
    }

    #[test]
    fn exactly_one_target() {
        error(
            "{logs: [{name: 'o'}]}",
            "t.json5:1:9: logs[0]: an output needs one of stdout: true, stderr: true, file: PATH or forward: URL",
        );
        error(
            "{logs: [{name: 'o', stdout: true, file: '/x'}]}",
            "logs[0].file: an output writes to one place, and stdout is given too: make two outputs",
        );
        error(
            "{logs: [{name: 'o', stdout: 'yes'}]}",
            "logs[0].stdout: expected true, found string",
        );
        error(
            "{logs: [{name: 'o', file: true}]}",
            "logs[0].file: expected a string, found boolean",
        );
    }

    #[test]
    fn names() {
        error(
            "{logs: [{stdout: true}]}",
            "logs[0].name: missing: an output needs a name",
        );
        error("{logs: [{name: ' ', stdout: true}]}", "logs[0].name: empty");
        error(
            "{logs: [{name: 'a', stdout: true}, {name: 'a', stderr: true}]}",
            "t.json5:1:43: logs[1].name: \"a\" is taken by logs[0]: names must be unique",
        );
        error(
            "{logs: [{name: 'a', file: '/l'}, {name: 'b', file: '/l'}]}",
            "logs[1].file: logs[0] writes this file too",
        );
    }

    #[test]
    fn typos_are_errors() {
        let e = errors("{logs: [{name: 'o', stdout: true, fromat: 'json'}]}");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].contains("logs[0].fromat: unknown key \"fromat\" (did you mean \"format\"?)"),
            "{e:?}"
        );
        // A typo'd target is one error, not also "needs one of".
        error(
            "{logs: [{name: 'o', stdot: true}]}",
            "unknown key \"stdot\" (did you mean \"stdout\"?)",
        );
        error(
            "{logs: [{name: 'o', stdout: true, format: 'jsno'}]}",
            "logs[0].format: unknown format \"jsno\": one of text, json, rfc5424, classic, rfc3164 (did you mean \"json\"?)",
        );
        error(
            "{logz: []}",
            "unknown key \"logz\" (did you mean \"logs\"?)",
        );
        error(
            "{logs: [{name: 'o', file: '/l', rotate: {size: 1, kep: 1}}]}",
            "logs[0].rotate.kep: unknown key \"kep\" (did you mean \"keep\"?)",
        );
        error("{logs: {name: 'o'}}", "logs: expected a list, found object");
    }

    #[test]
    fn formats_fit_the_target() {
        error(
            "{logs: [{name: 'o', stdout: true, format: 'rfc3164'}]}",
            "logs[0].format: \"rfc3164\" is for forward",
        );
        error(
            "{logs: [{name: 'o', forward: 'h', format: 'json'}]}",
            "logs[0].format: a forward sends \"rfc5424\" or \"rfc3164\", not \"json\"",
        );
        assert_eq!(
            one("stdout: true, format: 'classic'").target,
            Target::Stdout(Format::Classic { utc_offset: 0 })
        );
    }

    #[test]
    fn selectors() {
        error(
            "{logs: [{name: 'o', stdout: true, selector: '*.inf'}]}",
            "logs[0].selector: selector piece \"*.inf\"",
        );
        let c = parse(
            "t.json5",
            "{logs: [{name: 'o', stdout: true, selector: '*.!debug'}]}",
        )
        .unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(
            c.warnings[0].contains(
                "warning: logs[0].selector: \"*.!debug\" has no positive piece, so this output will get nothing"
            ),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn files_and_rotation() {
        error(
            "{logs: [{name: 'o', file: 'log/x'}]}",
            "logs[0].file: \"log/x\": must be an absolute path",
        );
        error(
            "{logs: [{name: 'o', file: '/var/log/'}]}",
            "names a directory",
        );
        error(
            "{logs: [{name: 'o', stdout: true, rotate: {size: 1, keep: 1}}]}",
            "logs[0].rotate: only with file",
        );
        let rot = |r: &str| match one(&format!("file: '/l', rotate: {r}")).target {
            Target::File { rotate, .. } => rotate.unwrap(),
            t => panic!("{t:?}"),
        };
        assert_eq!(
            rot("{size: 4096, keep: 0}"),
            Rotate {
                size: 4096,
                keep: 0
            }
        );
        assert_eq!(rot("{size: '512KB', keep: 1}").size, 512 << 10);
        assert_eq!(rot("{size: '512 kib', keep: 1}").size, 512 << 10);
        assert_eq!(rot("{size: '2G', keep: 1}").size, 2 << 30);
        assert_eq!(rot("{size: '100', keep: 1}").size, 100);
        let bad = |r: &str, want: &str| {
            error(
                &format!("{{logs: [{{name: 'o', file: '/l', rotate: {r}}}]}}"),
                want,
            )
        };
        bad("{size: 0, keep: 1}", "logs[0].rotate.size: must be above 0");
        bad("{size: '0MB', keep: 1}", "must be above 0");
        bad(
            "{size: '10TB', keep: 1}",
            "unknown unit \"tb\": B, KB, MB or GB",
        );
        bad("{size: '1.5MB', keep: 1}", "unknown unit \".5mb\"");
        bad("{size: 'big', keep: 1}", "expected a size such as 10MB");
        bad(
            "{size: -1, keep: 1}",
            "logs[0].rotate.size: -1 is out of range",
        );
        bad(
            "{size: 1.5, keep: 1}",
            "expected a whole number, found number",
        );
        bad(
            "{size: true, keep: 1}",
            "expected a whole number, found boolean",
        );
        bad("{size: '99999999999G', keep: 1}", "too large");
        bad(
            "{size: '1MB', keep: -1}",
            "logs[0].rotate.keep: -1 is out of range 0..1000",
        );
        bad(
            "{size: '1MB'}",
            "logs[0].rotate.keep: missing: how many rotated files to keep",
        );
        bad("{keep: 1}", "logs[0].rotate.size: missing");
        bad("'10MB'", "logs[0].rotate: expected an object, found string");
    }

    #[test]
    fn forward_targets() {
        let bad = |t: &str, want: &str| {
            error(&format!("{{logs: [{{name: 'o', forward: '{t}'}}]}}"), want)
        };
        bad(
            "http://h:514",
            "logs[0].forward: \"http://h:514\": http://: unsupported scheme; a forward target is tcp://HOST:PORT or udp://HOST:PORT",
        );
        bad("TCP://h", "the scheme must be lowercase");
        bad("tls://h:6514", "not supported");
        bad("tcp://h:0", "port 0: a remote syslog needs a real port");
        bad("tcp://h:x", "port \"x\" is not a number");
        bad(
            "tcp://bad_host!:514",
            "\"bad_host!\" is neither an IP address nor a host name",
        );
        bad("tcp://-h", "neither an IP address nor a host name");
        bad("tcp://h:514/path", "a path or spaces are not allowed here");
        bad("tcp://:514", "missing address");
        bad(
            "tcp://[nope]:514",
            "\"nope\" in brackets is not an IPv6 address",
        );
    }

    #[test]
    fn the_format_list_is_the_formats() {
        assert_eq!(FORMAT_LIST, FORMATS.join(", "));
    }

    #[test]
    fn sizes() {
        assert_eq!(size("10MB"), Ok(10 << 20));
        assert_eq!(size("1 b"), Ok(1));
        assert!(size("").is_err());
        assert!(size("MB").is_err());
    }

    #[test]
    fn host_names() {
        assert!(host_name("logs.example.net") && host_name("a.") && host_name("_x.y"));
        assert!(!host_name("a..b") && !host_name(&"a".repeat(64)) && !host_name("a b"));
    }
}
