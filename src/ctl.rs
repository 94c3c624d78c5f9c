//! `tug ctl`: the command-line client of a running tug's control socket.
//! It is a separate short-lived process, so it may block.
//!
//! Which socket (the first that applies): `--socket PATH`; TUG_SOCKET
//! (tug sets it for its jobs); `control.socket` of the config named by
//! TUG_CONFIG or CONTAINERPILOT (`docker exec` inherits the image's ENV);
//! else the defaults, tried in the server's order (`control` module docs:
//! `/var/run/tug.sock`, `/run/tug.sock`, `@tug.sock`). ctl loads the config
//! only for `control.socket`: one that does not load (ctl may lack the
//! server's environment, or its files) falls back to the defaults without a
//! word, as does a config that names no socket. Installed as
//! `containerpilot`, cli.rs passes TUG_SOCKET or ContainerPilot's
//! `/var/run/containerpilot.socket` as `--socket`; that path stands for
//! ContainerPilot's defaults (the config of CONTAINERPILOT, then the same
//! three places for `containerpilot.socket`). An abstract socket whose tug
//! is outside ctl's pid namespace (another container sharing the network)
//! is refused rather than talked to.
//!
//! Output on stdout: tug's answer (`ok` for ping; the job routes say what
//! they did: `stopping job web (pid 42)`); for ContainerPilot's routes,
//! whose 200 has no body, a confirmation: `reloaded the config`,
//! `maintenance on`, `set 2 variables for jobs started from now on`, `set 1
//! metric`, `shutting down`. `status` is a table read from the JSON,
//! `status JOB` the job in detail (`--json`: the JSON itself); `logs JOB`
//! the job's recent output as kept by tug (`-f`: then follows it until tug
//! ends the stream or ctl is stopped). Errors go to stderr as one line:
//! tug's own message (`no job named x`), why tug could not be reached, or
//! what is wrong with the command line (with a pointer to `--help` for an
//! unknown word).
//!
//! Exit codes: 0 done; 1 tug refused (its answer was not 2xx: unknown job,
//! bad value, config errors...); 2 bad command line; 3 tug could not be
//! reached (no socket, nobody listening, permission denied, a broken
//! answer).

use crate::json::{self, as_array, as_bool, as_str, as_u64};
use crate::json5;
use crate::net::http::{Request, ResponseParser, write_request};
use crate::quote::q;
use crate::sys::fd::{Fd, read_raw, write_all, write_raw};
use crate::sys::{Errno, listen, net};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;

pub const DEFAULT_SOCKET: &str = "/var/run/tug.sock";
/// ContainerPilot's default control socket, where its `-reload`, `-ping`...
/// look unless TUG_SOCKET says otherwise.
pub const CONTAINERPILOT_SOCKET: &str = "/var/run/containerpilot.socket";
/// Responses larger than this are an error (status output of many jobs
/// fits easily; a followed log is written out as it comes).
const MAX_RESPONSE: usize = 4 << 20;

pub const USAGE: &str = "usage: tug ctl [--socket PATH] COMMAND

  status [JOB] [--json]   every job and watch, or one job in detail
  logs JOB [-f]           the job's recent output (tug keeps 64 KiB per
                          job); -f: then follow it
  logs reopen             reopen the log files (as SIGUSR1)
  start|stop|restart JOB
  signal JOB SIGNAL       to the job's process group (HUP, SIGUSR1, 10...)
  reload                  re-read the config; unchanged jobs keep running
  maintenance on|off
  putenv K=V...           environment of jobs started from now on
  putmetric K=V...        values of the metrics in telemetry.metrics
  ping | shutdown | help
  poweroff | reboot | halt  the VM tug is the init of (a signal to PID 1:
                          SIGUSR2, SIGINT, SIGUSR1; busybox init too)

The socket: --socket, else TUG_SOCKET, else control.socket of the config
in TUG_CONFIG or CONTAINERPILOT, else the first of /var/run/tug.sock,
/run/tug.sock and @tug.sock (abstract) that answers.
Exit codes: 0 done, 1 tug refused, 2 bad usage, 3 tug not reachable.";

/// Every command and its arguments, for usage errors.
const COMMANDS: [(&str, &str); 13] = [
    ("status", "status [JOB] [--json]"),
    ("logs", "logs JOB [-f]"),
    ("start", "start JOB"),
    ("stop", "stop JOB"),
    ("restart", "restart JOB"),
    ("signal", "signal JOB SIGNAL"),
    ("reload", "reload"),
    ("maintenance", "maintenance on|off"),
    ("putenv", "putenv K=V..."),
    ("putmetric", "putmetric K=V..."),
    ("ping", "ping"),
    ("shutdown", "shutdown"),
    ("help", "help"),
];

/// Exit codes (see the module docs).
const REFUSED: i32 = 1;
const USAGE_ERROR: i32 = 2;
const UNREACHABLE: i32 = 3;

/// How the answer is shown.
#[derive(Debug, PartialEq, Eq)]
pub enum Show {
    /// tug's text (or JSON), with a newline at the end.
    Body,
    /// Exactly what tug sent (a log).
    Raw,
    /// Written out as it arrives (a followed log).
    Stream,
    /// The status as tables.
    Table,
    /// One job's JSON in detail.
    Job,
    /// This line when tug's 200 has no body.
    Confirm(String),
}

/// One control request: what to send, and how to show the answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub body: String,
    pub show: Show,
}

/// A bad command line: the one-line message, and whether to point at
/// `--help` (for a word ctl does not know).
#[derive(Debug, PartialEq, Eq)]
pub struct Usage(pub String, pub bool);

/// The usage of `cmd` ("restart JOB"); "" for an unknown one.
fn usage_of(cmd: &str) -> &'static str {
    COMMANDS
        .iter()
        .find(|(c, _)| *c == cmd)
        .map_or("", |(_, u)| u)
}

/// "unknown command \"x\" (did you mean \"y\"?)"
// #[cold]: only on an error's path (callers keep it out of line).
#[cold]
fn unknown(what: &str, word: &str, known: &[&str]) -> Usage {
    let hint = crate::config::decode::closest(word, known).map_or(String::new(), |k| {
        format!(" (did you mean {k}?)", k = q(&k))
    });
    Usage(
        format!("unknown {what} {word}{hint}", word = q(&word)),
        true,
    )
}

/// Maps `tug ctl WORDS` (after `--socket`) to a request.
pub fn call_for(words: &[&str]) -> Result<Call, Usage> {
    let (&cmd, rest) = words
        .split_first()
        .ok_or_else(|| Usage("missing COMMAND".into(), true))?;
    let usage = usage_of(cmd);
    if usage.is_empty() {
        return Err(unknown("command", cmd, &COMMANDS.map(|(c, _)| c)));
    }
    // The errors from here on name the command first.
    command_call(cmd, usage, rest).map_err(|Usage(msg, help)| Usage(format!("{cmd}: {msg}"), help))
}

/// The request of `cmd`, whose usage line is `usage`, with words `rest`.
fn command_call(cmd: &str, usage: &str, rest: &[&str]) -> Result<Call, Usage> {
    // Options only where a command has them; K=V and signal words are
    // values, not options. Each command has one option (-f and --follow
    // are one), so `flagged` says which was given.
    let options: &[&str] = match cmd {
        "status" => &["--json"],
        "logs" => &["-f", "--follow"],
        _ => &[],
    };
    let mut flagged = false;
    let mut args = Vec::new();
    for &w in rest {
        if options.is_empty() || !w.starts_with('-') || w.len() < 2 {
            args.push(w);
        } else if options.contains(&w) {
            flagged = true;
        } else {
            return Err(unknown("option", w, options));
        }
    }
    let n = args.len();
    // The arguments the usage line names: required, `[optional]`, `...`
    // (the options, `[-...]`, come last).
    let (mut required, mut most, mut missing) = (0, 0, "");
    for w in usage.split(' ').skip(1) {
        if w.starts_with("[-") {
            break;
        }
        if most == n {
            missing = w.trim_end_matches("...");
        }
        most += 1;
        required += usize::from(!w.starts_with('['));
    }
    if n < required {
        return Err(Usage(format!("missing {missing} (tug ctl {usage})"), false));
    }
    if usage.ends_with("...") {
        most = usize::MAX;
    }
    if let Some(extra) = args.get(most) {
        return Err(Usage(
            format!("unexpected {extra} (tug ctl {usage})", extra = q(&extra)),
            false,
        ));
    }
    let bad = |msg: String| Usage(msg, false);
    let arg = |i: usize| args.get(i).copied().unwrap_or("");
    let confirm = |s: &str| Show::Confirm(s.into());
    let plural = if n == 1 { "" } else { "s" };
    let mut body = String::new();
    // (GET or POST, the path after /v3/ or after the job's
    // /v3/jobs/NAME/, whether it is a job's, how to show the answer)
    let (get, route, of_job, show) = match cmd {
        "ping" => (true, "ping", false, Show::Body),
        "reload" => (false, "reload", false, confirm("reloaded the config")),
        "shutdown" => (false, "shutdown", false, confirm("shutting down")),
        "status" => {
            let show = match (flagged, n) {
                (true, _) => Show::Body,
                (_, 0) => Show::Table,
                _ => Show::Job,
            };
            (true, if n == 0 { "status" } else { "" }, n > 0, show)
        }
        // A job named `reopen` is read with -f (or the API).
        "logs" if !flagged && arg(0) == "reopen" => (false, "logs/reopen", false, Show::Body),
        "logs" if !flagged => (true, "logs", true, Show::Raw),
        "logs" => (true, "logs?follow", true, Show::Stream),
        "signal" => {
            let sig = crate::signame::parse(arg(1))
                .ok_or_else(|| bad(format!("unknown signal {}", q(&arg(1)))))?;
            body = format!("{{\"signal\":{sig}}}");
            (false, "signal", true, Show::Body)
        }
        "maintenance" => match arg(0) {
            "on" | "enable" => (
                false,
                "maintenance/enable",
                false,
                confirm("maintenance on"),
            ),
            "off" | "disable" => (
                false,
                "maintenance/disable",
                false,
                confirm("maintenance off"),
            ),
            w => return Err(bad(format!("{w} is not on or off", w = q(&w)))),
        },
        "putenv" => {
            body = json_object(&args, false).map_err(bad)?;
            let done = format!("set {n} variable{plural} for jobs started from now on");
            (false, "environ", false, Show::Confirm(done))
        }
        "putmetric" => {
            body = json_object(&args, true).map_err(bad)?;
            let done = format!("set {n} metric{plural}");
            (false, "metric", false, Show::Confirm(done))
        }
        // start, stop, restart: tug says what it did.
        _ => (false, cmd, true, Show::Body),
    };
    let mut path = String::from("/v3/");
    if of_job {
        // Job names go into the URL path: keep them intact.
        path.push_str("jobs/");
        crate::net::http::percent_encode(&mut path, arg(0), b"");
        if !route.is_empty() {
            path.push('/');
        }
    }
    path.push_str(route);
    Ok(Call {
        method: if get { "GET" } else { "POST" },
        path,
        body,
        show,
    })
}

/// `K=V` words as a JSON object; numbers stay numbers for metrics.
fn json_object(pairs: &[&str], numeric: bool) -> Result<String, String> {
    let mut w = json::Writer::new();
    w.begin_object();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("{p} is not KEY=VALUE", p = q(&p)))?;
        if k.is_empty() {
            return Err(format!("{p} has an empty key", p = q(&p)));
        }
        w.key(k);
        if !numeric {
            w.string(v);
        } else if is_json_number(v) {
            w.raw(v);
        } else {
            return Err(format!("{p}: the value must be a number", p = q(&p)));
        }
    }
    w.end_object();
    Ok(w.finish())
}

fn is_json_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, rest) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let frac_ok = match rest.strip_prefix('.') {
        Some(f) => !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()),
        None => rest.is_empty(),
    };
    // One digit, or several without a leading zero (JSON's rule).
    let int_ok = int.len() == 1 || (int.len() > 1 && !int.starts_with('0'));
    int_ok && frac_ok
}

/// Where tug's socket may be, in the order to try, and what named them
/// (for the error when none answers).
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub paths: Vec<String>,
    pub from: String,
}

/// The sockets to try (module docs): `flag` is `--socket`.
pub fn target(flag: Option<&str>, env: &crate::env::Environ) -> Target {
    let containerpilot = flag == Some(CONTAINERPILOT_SOCKET);
    let named = match flag {
        Some(p) if !containerpilot => Some(p),
        _ => env.get("TUG_SOCKET").filter(|s| !s.is_empty()),
    };
    let mut from = String::from("--socket or TUG_SOCKET");
    let paths = if let Some(p) = named {
        vec![String::from(p)]
    } else {
        let config = env
            .get("TUG_CONFIG")
            .or_else(|| env.get("CONTAINERPILOT"))
            .filter(|p| !p.is_empty());
        let socket = config.and_then(|path| {
            let sock = crate::config::load(path, env).ok()?.control_socket?;
            Some((path, sock))
        });
        match socket {
            Some((path, sock)) => {
                from = format!("control.socket in {path}");
                vec![sock]
            }
            None => crate::control::default_sockets(if containerpilot {
                CONTAINERPILOT_SOCKET
            } else {
                DEFAULT_SOCKET
            })
            .into(),
        }
    };
    Target { paths, from }
}

/// Connects to the first socket of `t` that answers; returns it and its
/// path.
pub fn connect(t: &Target) -> Result<(Fd, &str), String> {
    let mut absent = Vec::new();
    for path in &t.paths {
        let c = CString::new(path.as_str())
            .map_err(|_| format!("invalid socket path {path}", path = q(&path)))?;
        let abstract_name = listen::is_abstract(path.as_bytes());
        match net::unix_connect(&c) {
            Ok(fd) => {
                // A pid the kernel cannot show here: the listener is in
                // another pid namespace (control module docs).
                if abstract_name && listen::peer_credentials(&fd).is_ok_and(|(pid, ..)| pid == 0) {
                    return Err(format!(
                        "the tug on {path} is outside this pid namespace (another container?): name its socket with --socket or TUG_SOCKET"
                    ));
                }
                return Ok((fd, path));
            }
            Err(Errno(libc::ENOENT | libc::ENOTDIR)) => absent.push(path.as_str()),
            Err(Errno(libc::ECONNREFUSED)) if abstract_name || t.paths.len() > 1 => {
                absent.push(path.as_str())
            }
            Err(Errno(libc::ECONNREFUSED)) => {
                return Err(format!(
                    "is tug running? nobody answers on {path} (a stale socket file)"
                ));
            }
            Err(Errno(libc::EACCES | libc::EPERM)) => {
                return Err(format!(
                    "permission denied on {path}: run as root or as tug's user, or list your uid in control.allow"
                ));
            }
            Err(e) => return Err(format!("cannot connect to {path}: {e}")),
        }
    }
    let list = match absent.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => absent.join(""),
    };
    Err(format!(
        "is tug running? no control socket at {list} ({})",
        t.from
    ))
}

/// Sends one request on `fd` and returns (status, body). With `stream`, a
/// 200's body is written to stdout as it arrives instead (until tug ends
/// it or stdout is gone).
pub fn exchange(
    fd: &Fd,
    socket: &str,
    call: &Call,
    stream: bool,
) -> Result<(u16, Vec<u8>), String> {
    let mut req = Vec::new();
    let headers: &[(&str, &str)] = if call.body.is_empty() {
        &[]
    } else {
        &[("Content-Type", "application/json")]
    };
    write_request(
        &mut req,
        "tug",
        &Request {
            method: call.method,
            path: &call.path,
            headers,
            body: call.body.as_bytes(),
        },
    );
    let mut sent = 0;
    while sent < req.len() {
        sent += net::send(fd, &req[sent..]).map_err(|e| format!("sending to {socket}: {e}"))?;
    }
    let mut parser = ResponseParser::new(MAX_RESPONSE);
    let mut buf = [0u8; 8192];
    let bad = |e| format!("bad response from tug: {e}");
    loop {
        let n = read_raw(fd.raw(), &mut buf).map_err(|e| format!("reading from {socket}: {e}"))?;
        let done = if n == 0 {
            parser.eof().map_err(bad)?;
            true
        } else {
            parser.feed(&buf[..n]).map_err(bad)?
        };
        if stream && parser.head.as_ref().is_some_and(|h| h.status == 200) {
            let mut out = &parser.body[..];
            while !out.is_empty() {
                match write_raw(1, out) {
                    Ok(k) if k > 0 => out = &out[k..],
                    // stdout is gone (a closed pipe): nobody reads on.
                    _ => return Ok((200, Vec::new())),
                }
            }
            parser.body.clear();
        }
        if done {
            break;
        }
    }
    let status = parser.head.as_ref().map_or(0, |h| h.status);
    Ok((status, core::mem::take(&mut parser.body)))
}

/// Connects (one socket) and exchanges one call.
pub fn send(socket: &str, call: &Call) -> Result<(u16, Vec<u8>), String> {
    let t = Target {
        paths: vec![socket.into()],
        from: String::from("--socket or TUG_SOCKET"),
    };
    let (fd, path) = connect(&t)?;
    exchange(&fd, path, call, false)
}

/// `tug ctl ...`: prints the answer; returns the exit code (module docs).
pub fn run(args: &[&str], env: &crate::env::Environ) -> i32 {
    let mut socket = None;
    let mut words = Vec::new();
    let mut it = args.iter();
    while let Some(&w) = it.next() {
        match w {
            "--socket" => match it.next() {
                Some(p) => socket = Some(*p),
                None => return usage_error(&Usage("--socket needs a PATH".into(), false)),
            },
            _ if w.starts_with("--socket=") => socket = Some(&w["--socket=".len()..]),
            _ => words.push(w),
        }
    }
    if words.is_empty() {
        return usage(2, USAGE_ERROR);
    }
    if matches!(words[0], "help" | "--help" | "-h") || words.contains(&"--help") {
        return usage(1, 0);
    }
    if let [w @ ("poweroff" | "reboot" | "halt")] = words[..] {
        let sig = match w {
            "reboot" => libc::SIGINT,
            "halt" => libc::SIGUSR1,
            _ => libc::SIGUSR2,
        };
        return match crate::sys::signal::kill(1, sig) {
            Ok(()) => 0,
            Err(e) => fail(REFUSED, &format!("cannot signal PID 1: {e}")),
        };
    }
    let call = match call_for(&words) {
        Ok(c) => c,
        Err(u) => return usage_error(&u),
    };
    let t = target(socket, env);
    let answer =
        connect(&t).and_then(|(fd, path)| exchange(&fd, path, &call, call.show == Show::Stream));
    let (status, body) = match answer {
        Ok(a) => a,
        Err(msg) => return fail(UNREACHABLE, &msg),
    };
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(&body);
        let text = text.trim_end();
        return if text.is_empty() {
            fail(REFUSED, &format!("tug answered {status}"))
        } else {
            fail(REFUSED, text)
        };
    }
    let blank = body.iter().all(u8::is_ascii_whitespace);
    let out = match &call.show {
        Show::Raw | Show::Stream => {
            write_all(1, &body);
            return 0;
        }
        Show::Table => status_table(&body),
        Show::Job => job_detail(&body),
        Show::Confirm(line) if blank => Ok(line.clone()),
        Show::Confirm(_) | Show::Body => Ok(String::from_utf8_lossy(&body).into_owned()),
    };
    match out {
        Ok(text) => {
            let text = text.trim_end();
            if !text.is_empty() {
                write_all(1, format!("{text}\n").as_bytes());
            }
            0
        }
        Err(e) => fail(UNREACHABLE, &format!("bad status from tug: {e}")),
    }
}

/// The usage text and a newline on `fd`; returns `code`.
fn usage(fd: i32, code: i32) -> i32 {
    let mut text = String::from(USAGE);
    text.push('\n');
    write_all(fd, text.as_bytes());
    code
}

// #[cold]: only on an error's path (callers keep it out of line).
#[cold]
fn fail(code: i32, msg: &str) -> i32 {
    write_all(2, format!("tug ctl: {msg}\n").as_bytes());
    code
}

// #[cold]: only on an error's path (callers keep it out of line).
#[cold]
fn usage_error(u: &Usage) -> i32 {
    let more = if u.1 {
        "\n(tug ctl --help lists the commands)"
    } else {
        ""
    };
    fail(USAGE_ERROR, &format!("{}{more}", u.0))
}

/// A JSON value as text for a table cell: "-" for null or missing.
pub(crate) fn text(n: Option<&json5::Node>) -> String {
    match n.map(|n| &n.value) {
        Some(json5::Value::String(s)) => s.clone(),
        Some(json5::Value::Number(_)) => format!("{}", n.and_then(as_u64).unwrap_or(0)),
        _ => String::from("-"),
    }
}

/// "2/5" (restarts and their limit), "2" when unlimited.
fn restarts_cell(j: &json5::Node) -> String {
    let n = text(json::get(j, "restarts"));
    match json::get(j, "restart_limit").and_then(as_u64) {
        Some(limit) => format!("{n}/{limit}"),
        None => n,
    }
}

/// `/v3/status` (control::status's JSON) as tables for people.
fn status_table(body: &[u8]) -> Result<String, String> {
    let doc = json::parse(body)?;
    let mut out = format!(
        "tug {}, pid {}, up {}",
        text(json::get(&doc, "version")),
        text(json::get(&doc, "pid")),
        ms_text(json::get(&doc, "uptime_ms").and_then(as_u64).unwrap_or(0)),
    );
    for flag in ["maintenance", "shutting_down"] {
        if json::get(&doc, flag).and_then(as_bool) == Some(true) {
            out.push_str(", ");
            out.push_str(&flag.replace('_', " "));
        }
    }
    out.push_str("\n\n");
    let jobs = json::get(&doc, "jobs")
        .and_then(as_array)
        .ok_or("no jobs list")?;
    let mut rows = vec![columns(&[
        "JOB",
        "STATE",
        "PID",
        "RUNS",
        "RESTARTS",
        "HEALTH",
        "LAST-EXIT",
        "NEXT",
    ])];
    let mut said = Vec::new();
    for j in jobs {
        let next = json::get(j, "next_run_in_ms").and_then(as_u64);
        if let Some(status) = json::get(j, "status") {
            said.push(vec![text(json::get(j, "name")), text(Some(status))]);
        }
        // An inetd job has no one pid: its live connections instead.
        let pid = match json::get(j, "instances").and_then(as_u64) {
            Some(n) => format!("{n} conn"),
            None => text(json::get(j, "pid")),
        };
        rows.push(vec![
            text(json::get(j, "name")),
            text(json::get(j, "state")),
            pid,
            text(json::get(j, "runs")),
            restarts_cell(j),
            text(json::get(j, "health")),
            text(json::get(j, "last_exit")),
            next.map_or(String::from("-"), |ms| format!("in {}", ms_text(ms))),
        ]);
    }
    out.push_str(&table(&rows));
    if !said.is_empty() {
        said.insert(0, columns(&["JOB", "STATUS"]));
        out.push('\n');
        out.push_str(&table(&said));
    }
    let watches = json::get(&doc, "watches").and_then(as_array).unwrap_or(&[]);
    if !watches.is_empty() {
        let mut rows = vec![columns(&["WATCH", "TARGET", "HEALTHY", "INSTANCES"])];
        for w in watches {
            let healthy = match json::get(w, "healthy").and_then(as_bool) {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            let instances = json::get(w, "instances").and_then(as_array).unwrap_or(&[]);
            // By hand: map/collect/join cost more than this loop.
            let mut list = String::new();
            for i in instances {
                if !list.is_empty() {
                    list.push_str(", ");
                }
                let addr = text(json::get(i, "address"));
                let v6 = addr.contains(':');
                if v6 {
                    list.push('[');
                }
                list.push_str(&addr);
                list.push_str(if v6 { "]:" } else { ":" });
                list.push_str(&text(json::get(i, "port")));
                list.push_str(" (");
                list.push_str(&text(json::get(i, "status")));
                list.push(')');
            }
            rows.push(vec![
                text(json::get(w, "name")),
                text(json::get(w, "target")),
                String::from(healthy),
                if list.is_empty() {
                    String::from("-")
                } else {
                    list
                },
            ]);
        }
        out.push('\n');
        out.push_str(&table(&rows));
    }
    Ok(out)
}

/// `/v3/jobs/NAME` (one job of the status) as "key  value" lines; keys
/// without a value are left out.
fn job_detail(body: &[u8]) -> Result<String, String> {
    let j = json::parse(body)?;
    let get = |k| json::get(&j, k);
    let ms = |k| get(k).and_then(as_u64);
    let name = get("name").and_then(as_str).ok_or("no job name")?;
    let mut state = text(get("state"));
    if let Some(pid) = ms("pid") {
        let _ = write!(state, ", pid {pid}");
        if let Some(ago) = ms("started_ms_ago") {
            let _ = write!(state, ", started {} ago", ms_text(ago));
        }
    }
    let mut exec = String::new();
    for w in get("exec").and_then(as_array).unwrap_or(&[]) {
        let Some(w) = as_str(w) else { continue };
        if !exec.is_empty() {
            exec.push(' ');
        }
        if w.is_empty() || w.contains(char::is_whitespace) {
            let _ = write!(exec, "{w}", w = q(&w));
        } else {
            exec.push_str(w);
        }
    }
    let mut rows: Vec<(&str, String)> = vec![
        ("job", name.into()),
        ("state", state),
        ("exec", exec),
        ("when", text(get("when"))),
        ("runs", text(get("runs"))),
        ("restarts", {
            let n = text(get("restarts"));
            match ms("restart_limit") {
                Some(limit) => format!("{n} of {limit}"),
                None => format!("{n} (unlimited)"),
            }
        }),
    ];
    if let Some(exit) = get("last_exit").and_then(as_str) {
        let ago = ms("last_exit_ms_ago").unwrap_or(0);
        rows.push(("last exit", format!("{exit}, {} ago", ms_text(ago))));
    }
    if let Some(h) = get("health").and_then(as_str) {
        rows.push(("health", h.into()));
    }
    if let Some(c) = get("check").filter(|c| json::get(c, "kind").is_some()) {
        let dur = |k| ms_text(json::get(c, k).and_then(as_u64).unwrap_or(0));
        let mut line = format!(
            "{} {}, every {}, timeout {}",
            text(json::get(c, "kind")),
            text(json::get(c, "target")),
            dur("interval_ms"),
            dur("timeout_ms"),
        );
        if let Some(result) = json::get(c, "last_result").and_then(as_str) {
            let _ = write!(line, "; last: {result}, {} ago", dur("last_ms_ago"));
        }
        rows.push(("check", line));
    }
    if let Some(s) = get("service").filter(|s| json::get(s, "id").is_some()) {
        let field = |k| text(json::get(s, k));
        rows.push((
            "service",
            format!(
                "{} at {}:{} ({})",
                field("id"),
                field("address"),
                field("port"),
                field("registration")
            ),
        ));
    }
    if let Some(next) = ms("next_run_in_ms") {
        rows.push(("next run", format!("in {}", ms_text(next))));
    }
    let log = match get("log").filter(|l| json::get(l, "lines").is_some()) {
        Some(l) => {
            let lines = text(json::get(l, "lines"));
            let s = if lines == "1" { "" } else { "s" };
            let bytes = text(json::get(l, "bytes"));
            format!("{lines} line{s}, {bytes} bytes kept (tug ctl logs {name})")
        }
        None => String::from("none kept: raw output"),
    };
    rows.push(("log", log));
    let mut cells = Vec::with_capacity(rows.len());
    for (k, v) in rows {
        cells.push(vec![String::from(k), v]);
    }
    Ok(table(&cells))
}

pub(crate) fn columns(names: &[&str]) -> Vec<String> {
    let mut row = Vec::with_capacity(names.len());
    for n in names {
        row.push(String::from(*n));
    }
    row
}

/// Rows as aligned columns, two spaces apart, the last one unpadded.
pub(crate) fn table(rows: &[Vec<String>]) -> String {
    let mut widths = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(m) => *m = w.max(*m),
                None => widths.push(w),
            }
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                out.extend(core::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// Milliseconds as a duration for people, rounded up to whole seconds
/// from one second on ("1m30s", "250ms", "0s").
fn ms_text(ms: u64) -> String {
    let ns = if ms >= 1000 {
        ms.div_ceil(1000) * 1_000_000_000
    } else {
        ms * 1_000_000
    };
    crate::duration::display(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_to_requests() {
        let c = |w: &[&str]| call_for(w).unwrap();
        assert_eq!(c(&["ping"]).path, "/v3/ping");
        assert_eq!(
            c(&["restart", "web app"]).path,
            "/v3/jobs/web%20app/restart"
        );
        assert_eq!(c(&["signal", "nginx", "HUP"]).body, "{\"signal\":1}");
        assert_eq!(c(&["maintenance", "on"]).path, "/v3/maintenance/enable");
        assert_eq!(
            c(&["putenv", "A=b=c", "Q=\"x\""]).body,
            r#"{"A":"b=c","Q":"\"x\""}"#
        );
        assert_eq!(
            c(&["putmetric", "hits=3", "lat=-0.5"]).body,
            r#"{"hits":3,"lat":-0.5}"#
        );
        // status: all, one job, JSON either way; options anywhere.
        let status = c(&["status"]);
        assert_eq!(
            (status.path.as_str(), status.show),
            ("/v3/status", Show::Table)
        );
        let one = c(&["status", "a/b"]);
        assert_eq!((one.path.as_str(), one.show), ("/v3/jobs/a%2Fb", Show::Job));
        assert_eq!(c(&["status", "--json", "web"]).show, Show::Body);
        assert_eq!(c(&["status", "--json"]).path, "/v3/status");
        // logs, followed or not.
        let logs = c(&["logs", "web"]);
        assert_eq!(
            (logs.method, logs.path.as_str(), logs.show),
            ("GET", "/v3/jobs/web/logs", Show::Raw)
        );
        // logs reopen: the router's files (a job named reopen: with -f).
        let r = c(&["logs", "reopen"]);
        assert_eq!(
            (r.method, r.path.as_str(), r.show),
            ("POST", "/v3/logs/reopen", Show::Body)
        );
        assert_eq!(
            c(&["logs", "-f", "reopen"]).path,
            "/v3/jobs/reopen/logs?follow"
        );
        for follow in [&["logs", "-f", "web"][..], &["logs", "web", "--follow"]] {
            let f = c(follow);
            assert_eq!(
                (f.path.as_str(), f.show),
                ("/v3/jobs/web/logs?follow", Show::Stream)
            );
        }
        // What a bodiless 200 prints.
        let said = |w: &[&str]| match c(w).show {
            Show::Confirm(s) => s,
            other => panic!("{w:?}: {other:?}"),
        };
        assert_eq!(said(&["reload"]), "reloaded the config");
        assert_eq!(said(&["shutdown"]), "shutting down");
        assert_eq!(said(&["maintenance", "disable"]), "maintenance off");
        assert_eq!(
            said(&["putenv", "A=1", "B=2"]),
            "set 2 variables for jobs started from now on"
        );
        assert_eq!(said(&["putmetric", "x=1"]), "set 1 metric");
        assert_eq!(c(&["stop", "web"]).show, Show::Body, "tug says what it did");
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        let err = |w: &[&str]| call_for(w).unwrap_err();
        let line = |m: &str| Usage(m.into(), false);
        let pointed = |m: &str| Usage(m.into(), true);
        assert_eq!(
            err(&["stauts"]),
            pointed("unknown command \"stauts\" (did you mean \"status\"?)")
        );
        assert_eq!(
            err(&["frobnicate"]),
            pointed("unknown command \"frobnicate\"")
        );
        assert_eq!(err(&[]), pointed("missing COMMAND"));
        assert_eq!(
            err(&["restart"]),
            line("restart: missing JOB (tug ctl restart JOB)")
        );
        assert_eq!(
            err(&["signal", "web"]),
            line("signal: missing SIGNAL (tug ctl signal JOB SIGNAL)")
        );
        assert_eq!(
            err(&["logs"]),
            line("logs: missing JOB (tug ctl logs JOB [-f])")
        );
        assert_eq!(
            err(&["ping", "x"]),
            line("ping: unexpected \"x\" (tug ctl ping)")
        );
        assert_eq!(
            err(&["status", "a", "b"]),
            line("status: unexpected \"b\" (tug ctl status [JOB] [--json])")
        );
        assert_eq!(
            err(&["status", "--jsn"]),
            pointed("status: unknown option \"--jsn\" (did you mean \"--json\"?)")
        );
        assert_eq!(
            err(&["logs", "web", "-x"]),
            pointed("logs: unknown option \"-x\" (did you mean \"-f\"?)")
        );
        assert_eq!(
            err(&["logs", "web", "--tail"]),
            pointed("logs: unknown option \"--tail\"")
        );
        assert_eq!(
            err(&["putenv"]),
            line("putenv: missing K=V (tug ctl putenv K=V...)")
        );
        assert_eq!(
            err(&["maintenance", "maybe"]),
            line("maintenance: \"maybe\" is not on or off")
        );
        assert_eq!(
            err(&["signal", "j", "NOPE"]),
            line("signal: unknown signal \"NOPE\"")
        );
        assert_eq!(
            err(&["putmetric", "x=abc"]),
            line("putmetric: \"x=abc\": the value must be a number")
        );
        for bad in [
            &["putmetric", "x=01"][..],
            &["putenv", "novalue"],
            &["putenv", "=v"],
        ] {
            assert!(call_for(bad).is_err(), "{bad:?}");
        }
        // Values that look like options are values where there are none.
        assert_eq!(c_body(&["putmetric", "lat=-1"]), r#"{"lat":-1}"#);
    }

    fn c_body(w: &[&str]) -> String {
        call_for(w).unwrap().body
    }

    #[test]
    fn the_socket_to_try() {
        use crate::env::Environ;
        let env = |vars: &[&'static core::ffi::CStr]| Environ::new(vars.to_vec());
        let paths = |t: Target| t.paths;
        let none = env(&[]);
        assert_eq!(paths(target(Some("/s"), &none)), ["/s"]);
        assert_eq!(
            paths(target(None, &none)),
            ["/var/run/tug.sock", "/run/tug.sock", "@tug.sock"]
        );
        assert_eq!(
            paths(target(Some(CONTAINERPILOT_SOCKET), &none)),
            [
                "/var/run/containerpilot.socket",
                "/run/containerpilot.socket",
                "@containerpilot.socket"
            ]
        );
        assert_eq!(paths(target(None, &env(&[c"TUG_SOCKET=/e"]))), ["/e"]);
        assert_eq!(paths(target(Some("/s"), &env(&[c"TUG_SOCKET=/e"]))), ["/s"]);
        // The config's control.socket, when it loads; else the defaults.
        let dir = std::env::temp_dir().join(format!("tug-ctl-target-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json5");
        std::fs::write(&good, r#"{ control: { socket: "/from/config.sock" } }"#).unwrap();
        let bad = dir.join("bad.json5");
        std::fs::write(&bad, r#"{ control: { socket: 7 } }"#).unwrap();
        let leak = |p: &std::path::Path, var: &str| -> &'static core::ffi::CStr {
            let s = format!("{var}={}", p.display());
            Box::leak(std::ffi::CString::new(s).unwrap().into_boxed_c_str())
        };
        let t = target(None, &env(&[leak(&good, "TUG_CONFIG")]));
        assert_eq!(t.paths, ["/from/config.sock"]);
        assert_eq!(t.from, format!("control.socket in {}", good.display()));
        assert_eq!(
            paths(target(None, &env(&[leak(&good, "CONTAINERPILOT")]))),
            ["/from/config.sock"]
        );
        assert_eq!(
            paths(target(None, &env(&[leak(&bad, "TUG_CONFIG")]))).len(),
            3
        );
        assert_eq!(
            paths(target(
                None,
                &env(&[leak(&dir.join("missing"), "TUG_CONFIG")])
            ))
            .len(),
            3
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A tug stand-in on `sock`: one connection per answer, each answered
    /// once its request head is in; returns the request heads.
    fn fake_tug(
        sock: &std::path::Path,
        answers: &[&'static str],
    ) -> std::thread::JoinHandle<Vec<String>> {
        use std::io::{Read, Write};
        let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
        let answers = answers.to_vec();
        std::thread::spawn(move || {
            let mut heads = Vec::new();
            for answer in answers {
                let (mut s, _) = listener.accept().unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    req.extend_from_slice(&buf[..n]);
                }
                s.write_all(answer.as_bytes()).unwrap();
                heads.push(String::from_utf8(req).unwrap());
            }
            heads
        })
    }

    #[test]
    fn talks_http_over_a_unix_socket() {
        let dir = std::env::temp_dir().join(format!("tug-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("tug.sock");
        let _ = std::fs::remove_file(&sock);
        let server = fake_tug(&sock, &["HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong"]);
        let (status, body) = send(sock.to_str().unwrap(), &call_for(&["ping"]).unwrap()).unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"pong"[..]));
        assert!(server.join().unwrap()[0].starts_with("GET /v3/ping HTTP/1.1\r\n"));
        let err = send(
            dir.join("missing.sock").to_str().unwrap(),
            &call_for(&["ping"]).unwrap(),
        )
        .unwrap_err();
        assert!(err.contains("is tug running?"), "{err}");
        // Several places: the first that answers; the error names all.
        let abs = format!("@tug-ctl-test-{}", std::process::id());
        let t = Target {
            paths: vec![
                dir.join("none.sock").to_str().unwrap().into(),
                abs.clone(),
                sock.to_str().unwrap().into(),
            ],
            from: "here".into(),
        };
        std::fs::remove_file(&sock).unwrap();
        let server = fake_tug(&sock, &["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]);
        let (fd, path) = connect(&t).unwrap();
        assert_eq!(path, sock.to_str().unwrap());
        exchange(&fd, path, &call_for(&["ping"]).unwrap(), false).unwrap();
        server.join().unwrap();
        let _ = std::fs::remove_file(&sock);
        let err = connect(&t).err().unwrap();
        assert_eq!(
            err,
            format!(
                "is tug running? no control socket at {}, {abs} or {} (here)",
                dir.join("none.sock").display(),
                sock.display()
            )
        );
    }

    /// The table is shown as tug's status JSON says: RUNS and RESTARTS
    /// apart, the restart limit after the count.
    #[test]
    fn status_as_tables() {
        let json = crate::control::status::tests::sample().to_json();
        let t = status_table(json.as_bytes()).unwrap();
        let want = "tug 0.1.0, pid 7, up 6s\n\
            \n\
            JOB      STATE      PID  RUNS  RESTARTS  HEALTH   LAST-EXIT  NEXT\n\
            web \"x\"  running    42   3     2/5       healthy  exit 3     -\n\
            cron     waiting    -    0     0         -        -          in 1m30s\n\
            setup    completed  -    1     0/0       -        exit 0     -\n\
            \n\
            WATCH  TARGET      HEALTHY  INSTANCES\n\
            db     service db  yes      10.0.0.7:5432 (passing)\n";
        assert_eq!(t, want, "\n{t}");
        assert!(status_table(b"{}").is_err());
        assert_eq!(ms_text(250), "250ms");
        assert_eq!(ms_text(90_001), "1m31s");
    }

    #[test]
    fn one_job_in_detail() {
        let jobs = crate::control::status::tests::sample().jobs;
        let t = job_detail(jobs[0].to_json().as_bytes()).unwrap();
        let want = "job        web \"x\"\n\
            state      running, pid 42, started 4s ago\n\
            exec       web --port 8080\n\
            when       at startup\n\
            runs       3\n\
            restarts   2 of 5\n\
            last exit  exit 3, 5s ago\n\
            health     healthy\n\
            check      http http://localhost:8080/, every 5s, timeout 1s; last: ok, 2s ago\n\
            service    web-abc at 10.0.0.5:8080 (registered)\n\
            log        12 lines, 960 bytes kept (tug ctl logs web \"x\")\n";
        assert_eq!(t, want, "\n{t}");
        let t = job_detail(jobs[1].to_json().as_bytes()).unwrap();
        assert!(t.contains("\nrestarts  0 (unlimited)\n"), "{t}");
        assert!(t.contains("\nnext run  in 1m30s\n"), "{t}");
        assert!(!t.contains("check") && !t.contains("last exit"), "{t}");
        let t = job_detail(jobs[2].to_json().as_bytes()).unwrap();
        assert!(t.ends_with("\nlog        none kept: raw output\n"), "{t}");
        assert!(job_detail(b"[]").is_err());
    }

    #[test]
    fn exit_codes() {
        let env = crate::env::Environ::new(vec![]);
        let dir = std::env::temp_dir().join(format!("tug-ctl-codes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("tug.sock");
        let _ = std::fs::remove_file(&sock);
        let path = sock.to_str().unwrap();
        assert_eq!(run(&["--socket", path, "ping"], &env), UNREACHABLE);
        assert_eq!(run(&["--socket", path, "frobnicate"], &env), USAGE_ERROR);
        assert_eq!(run(&["--socket"], &env), USAGE_ERROR);
        assert_eq!(run(&[], &env), USAGE_ERROR);
        assert_eq!(run(&["help"], &env), 0);
        assert_eq!(run(&["--help"], &env), 0);
        assert_eq!(run(&["restart", "--help"], &env), 0);
        let server = fake_tug(
            &sock,
            &[
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n\n",
                "HTTP/1.1 404 Not Found\r\nContent-Length: 18\r\n\r\nno job named ghost\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n[1,2]",
            ],
        );
        assert_eq!(run(&["--socket", path, "reload"], &env), 0);
        assert_eq!(
            run(&[&format!("--socket={path}"), "stop", "ghost"], &env),
            REFUSED
        );
        assert_eq!(
            run(&["status", "--socket", path], &env),
            UNREACHABLE,
            "not a status"
        );
        server.join().unwrap();
    }
}
