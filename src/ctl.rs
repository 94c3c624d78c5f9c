//! `tug ctl`: the command-line client of a running tug's control socket.
//! It is a separate short-lived process, so it may block; it never loads
//! the config (ContainerPilot's CLI rendered the whole file just to find
//! the socket). The socket: `--socket PATH`, else TUG_SOCKET, else
//! `/var/run/tug.sock` (installed as `containerpilot`, cli.rs passes
//! TUG_SOCKET or ContainerPilot's `/var/run/containerpilot.socket`).
//!
//! Output: what tug answers, on stdout (nothing for a bare 200); `status`
//! as a table read from the JSON (`--json`: the JSON itself). Errors go to
//! stderr as one line: tug's own message (`no job named x`), or why tug
//! could not be reached.
//!
//! Exit codes: 0 done; 1 tug refused (its answer was not 2xx: unknown job,
//! bad value, config errors...); 2 bad command line; 3 tug could not be
//! reached (no socket, nobody listening, permission denied, a broken
//! answer).

use crate::config::json5;
use crate::json::{self, as_array, as_bool, as_u64};
use crate::net::http::{Request, ResponseParser, write_request};
use crate::sys::fd::{read_raw, write_all};
use crate::sys::{Errno, net};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

pub const DEFAULT_SOCKET: &str = "/var/run/tug.sock";
/// Responses larger than this are an error (status output of many jobs
/// fits easily).
const MAX_RESPONSE: usize = 4 << 20;

/// One control request: what to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub body: String,
}

/// Maps `tug ctl WORDS` to a request, or explains the usage.
pub fn call_for(words: &[&str]) -> Result<Call, String> {
    let get = |path: &str| {
        Ok(Call {
            method: "GET",
            path: path.into(),
            body: String::new(),
        })
    };
    let post = |path: String, body: String| {
        Ok(Call {
            method: "POST",
            path,
            body,
        })
    };
    match words {
        ["ping"] => get("/v3/ping"),
        ["status"] | ["status", "--json"] => get("/v3/status"),
        ["reload"] => post("/v3/reload".into(), String::new()),
        ["shutdown"] => post("/v3/shutdown".into(), String::new()),
        ["maintenance", "on" | "enable"] => post("/v3/maintenance/enable".into(), String::new()),
        ["maintenance", "off" | "disable"] => post("/v3/maintenance/disable".into(), String::new()),
        [verb @ ("start" | "stop" | "restart"), job] => post(
            format!("/v3/jobs/{}/{verb}", escape_path(job)),
            String::new(),
        ),
        ["signal", job, sig] => {
            let sig =
                crate::signame::parse(sig).ok_or_else(|| format!("unknown signal {sig:?}"))?;
            post(
                format!("/v3/jobs/{}/signal", escape_path(job)),
                format!("{{\"signal\":{sig}}}"),
            )
        }
        ["putenv", pairs @ ..] if !pairs.is_empty() => {
            post("/v3/environ".into(), json_object(pairs, false)?)
        }
        ["putmetric", pairs @ ..] if !pairs.is_empty() => {
            post("/v3/metric".into(), json_object(pairs, true)?)
        }
        _ => Err(String::from(USAGE)),
    }
}

pub const USAGE: &str = "usage: tug ctl [--socket PATH] status [--json] | ping | reload | shutdown | maintenance on|off\n\
    \x20      | start|stop|restart JOB | signal JOB SIGNAL | putenv K=V... | putmetric K=V...\n\
    exit codes: 0 done, 1 tug refused, 2 bad usage, 3 tug not reachable";

/// Exit codes (see the module docs).
const REFUSED: i32 = 1;
const USAGE_ERROR: i32 = 2;
const UNREACHABLE: i32 = 3;

/// `K=V` words as a JSON object; numbers stay numbers for metrics.
fn json_object(pairs: &[&str], numeric: bool) -> Result<String, String> {
    let mut w = json::Writer::new();
    w.begin_object();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("{p:?} is not KEY=VALUE"))?;
        if k.is_empty() {
            return Err(format!("{p:?} has an empty key"));
        }
        w.key(k);
        if !numeric {
            w.string(v);
        } else if is_json_number(v) {
            w.raw(v);
        } else {
            return Err(format!("{p:?}: the value must be a number"));
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

/// Job names go into the URL path: keep them intact.
fn escape_path(s: &str) -> String {
    let mut out = String::new();
    crate::net::http::percent_encode(&mut out, s, b"");
    out
}

/// Sends one request and returns (status, body).
pub fn send(socket: &str, call: &Call) -> Result<(u16, Vec<u8>), String> {
    let path = CString::new(socket).map_err(|_| format!("invalid socket path {socket:?}"))?;
    let fd = net::unix_connect(&path).map_err(|e| match e {
        Errno(libc::ENOENT) => {
            format!("is tug running? no control socket at {socket} (--socket or TUG_SOCKET)")
        }
        Errno(libc::ECONNREFUSED) => format!(
            "is tug running? nobody answers on {socket} (a stale socket file)"
        ),
        Errno(libc::EACCES | libc::EPERM) => format!(
            "permission denied on {socket}: run as root or as tug's user, or list your uid in control.allow"
        ),
        e => format!("cannot connect to {socket}: {e}"),
    })?;
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
        sent += net::send(&fd, &req[sent..]).map_err(|e| format!("sending to {socket}: {e}"))?;
    }
    let mut parser = ResponseParser::new(MAX_RESPONSE);
    let mut buf = [0u8; 8192];
    loop {
        let n = read_raw(fd.raw(), &mut buf).map_err(|e| format!("reading from {socket}: {e}"))?;
        if n == 0 {
            parser
                .eof()
                .map_err(|e| format!("bad response from tug: {e}"))?;
            break;
        }
        if parser
            .feed(&buf[..n])
            .map_err(|e| format!("bad response from tug: {e}"))?
        {
            break;
        }
    }
    let status = parser.head.as_ref().map_or(0, |h| h.status);
    Ok((status, core::mem::take(&mut parser.body)))
}

/// `tug ctl ...`: prints the answer; returns the exit code (module docs).
pub fn run(args: &[&str], env: &crate::env::Environ) -> i32 {
    let (socket, words) = match args {
        ["--socket", path, rest @ ..] => (String::from(*path), rest),
        [flag, rest @ ..] if flag.starts_with("--socket=") => {
            (String::from(&flag["--socket=".len()..]), rest)
        }
        rest => (
            String::from(
                env.get("TUG_SOCKET")
                    .filter(|s| !s.is_empty())
                    .unwrap_or(DEFAULT_SOCKET),
            ),
            rest,
        ),
    };
    if matches!(words, ["help" | "--help" | "-h"]) {
        write_all(1, format!("{USAGE}\n").as_bytes());
        return 0;
    }
    let call = match call_for(words) {
        Ok(c) => c,
        Err(msg) => return fail(USAGE_ERROR, &msg),
    };
    let (status, body) = match send(&socket, &call) {
        Ok(answer) => answer,
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
    let out = if words == ["status"] {
        match status_table(&body) {
            Ok(table) => table.into_bytes(),
            Err(e) => return fail(UNREACHABLE, &format!("bad status from tug: {e}")),
        }
    } else {
        body
    };
    if !out.iter().all(u8::is_ascii_whitespace) {
        write_all(1, &out);
        if !out.ends_with(b"\n") {
            write_all(1, b"\n");
        }
    }
    0
}

fn fail(code: i32, msg: &str) -> i32 {
    write_all(2, format!("tug ctl: {msg}\n").as_bytes());
    code
}

/// `/v3/status` (control::status's JSON) as tables for people.
fn status_table(body: &[u8]) -> Result<String, String> {
    let doc = json::parse(body)?;
    let text = |n: Option<&json5::Node>| match n.map(|n| &n.value) {
        Some(json5::Value::String(s)) => s.clone(),
        Some(json5::Value::Number(_)) => format!("{}", n.and_then(as_u64).unwrap_or(0)),
        _ => String::from("-"),
    };
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
        "RESTARTS",
        "HEALTH",
        "LAST-EXIT",
        "NEXT",
    ])];
    for j in jobs {
        let next = json::get(j, "next_run_in_ms").and_then(as_u64);
        rows.push(vec![
            text(json::get(j, "name")),
            text(json::get(j, "state")),
            text(json::get(j, "pid")),
            text(json::get(j, "restarts")),
            text(json::get(j, "health")),
            text(json::get(j, "last_exit")),
            next.map_or(String::from("-"), |ms| format!("in {}", ms_text(ms))),
        ]);
    }
    out.push_str(&table(&rows));
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
            let list: Vec<String> = instances
                .iter()
                .map(|i| {
                    let addr = text(json::get(i, "address"));
                    let port = text(json::get(i, "port"));
                    let status = text(json::get(i, "status"));
                    let addr = if addr.contains(':') {
                        format!("[{addr}]")
                    } else {
                        addr
                    };
                    format!("{addr}:{port} ({status})")
                })
                .collect();
            rows.push(vec![
                text(json::get(w, "name")),
                text(json::get(w, "target")),
                String::from(healthy),
                if list.is_empty() {
                    String::from("-")
                } else {
                    list.join(", ")
                },
            ]);
        }
        out.push('\n');
        out.push_str(&table(&rows));
    }
    Ok(out)
}

fn columns(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| String::from(*n)).collect()
}

/// Rows as aligned columns, two spaces apart, the last one unpadded.
fn table(rows: &[Vec<String>]) -> String {
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
        for bad in [
            &["putmetric", "x=abc"][..],
            &["putmetric", "x=01"],
            &["putenv", "novalue"],
            &["signal", "j", "NOPE"],
            &["frobnicate"],
            &[],
        ] {
            assert!(call_for(bad).is_err(), "{bad:?}");
        }
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
    }

    #[test]
    fn status_as_tables() {
        let json = crate::control::status::tests::sample().to_json();
        let t = status_table(json.as_bytes()).unwrap();
        let want = "tug 0.1.0, pid 7, up 6s\n\
            \n\
            JOB      STATE      PID  RESTARTS  HEALTH   LAST-EXIT  NEXT\n\
            web \"x\"  running    42   2         healthy  exit 3     -\n\
            cron     waiting    -    0         -        -          in 1m30s\n\
            setup    completed  -    0         -        exit 0     -\n\
            \n\
            WATCH  TARGET      HEALTHY  INSTANCES\n\
            db     service db  yes      10.0.0.7:5432 (passing)\n";
        assert_eq!(t, want, "\n{t}");
        assert!(status_table(b"{}").is_err());
        assert_eq!(ms_text(250), "250ms");
        assert_eq!(ms_text(90_001), "1m31s");
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
        assert_eq!(run(&["help"], &env), 0);
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
            run(&["--socket", path, "status"], &env),
            UNREACHABLE,
            "not a status"
        );
        server.join().unwrap();
    }
}
