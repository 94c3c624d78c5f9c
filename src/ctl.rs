//! `tug ctl`: the command-line client of a running tug's control socket.
//! It is a separate short-lived process, so it may block; it never loads
//! the config (ContainerPilot's CLI rendered the whole file just to find
//! the socket).

use crate::net::http::{Request, ResponseParser, write_request};
use crate::sys::fd::{read_raw, write_all};
use crate::sys::{Errno, net};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
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
        _ => Err(String::from(
            "usage: tug ctl [--socket PATH] status [--json] | ping | reload | shutdown | maintenance on|off\n\
             \x20      | start|stop|restart JOB | signal JOB SIGNAL | putenv K=V... | putmetric K=V...",
        )),
    }
}

/// `K=V` words as a JSON object; numbers stay numbers for metrics.
fn json_object(pairs: &[&str], numeric: bool) -> Result<String, String> {
    let mut out = String::from("{");
    for (i, p) in pairs.iter().enumerate() {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("{p:?} is not KEY=VALUE"))?;
        if k.is_empty() {
            return Err(format!("{p:?} has an empty key"));
        }
        if i > 0 {
            out.push(',');
        }
        json_string(&mut out, k);
        out.push(':');
        if numeric {
            if !is_json_number(v) {
                return Err(format!("{p:?}: the value must be a number"));
            }
            out.push_str(v);
        } else {
            json_string(&mut out, v);
        }
    }
    out.push('}');
    Ok(out)
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

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Job names go into the URL path: keep them intact.
fn escape_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends one request and returns (status, body).
pub fn send(socket: &str, call: &Call) -> Result<(u16, Vec<u8>), String> {
    let path = CString::new(socket).map_err(|_| format!("invalid socket path {socket:?}"))?;
    let fd = net::unix_connect(&path).map_err(|e| match e {
        Errno(libc::ENOENT | libc::ECONNREFUSED) => format!(
            "cannot reach tug at {socket}: {e} (is tug running? set --socket or TUG_SOCKET)"
        ),
        Errno(libc::EACCES | libc::EPERM) => {
            format!("permission denied on {socket}: run as root or as tug's user")
        }
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

/// `tug ctl ...`: prints the body (to stderr on failure); exit code 0 for
/// 2xx, 1 otherwise, 2 for a usage error.
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
    let call = match call_for(words) {
        Ok(c) => c,
        Err(msg) => {
            write_all(2, format!("tug ctl: {msg}\n").as_bytes());
            return 2;
        }
    };
    match send(&socket, &call) {
        Ok((status, body)) => {
            let ok = (200..300).contains(&status);
            let mut out = body;
            if !out.is_empty() && !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            if ok {
                write_all(1, &out);
                0
            } else {
                write_all(2, format!("tug ctl: tug answered {status}: ").as_bytes());
                write_all(
                    2,
                    if out.is_empty() {
                        b"(no details)\n"
                    } else {
                        &out
                    },
                );
                1
            }
        }
        Err(msg) => {
            write_all(2, format!("tug ctl: {msg}\n").as_bytes());
            1
        }
    }
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

    #[test]
    fn talks_http_over_a_unix_socket() {
        use std::io::{Read, Write};
        let dir = std::env::temp_dir().join(format!("tug-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("tug.sock");
        let _ = std::fs::remove_file(&sock);
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong")
                .unwrap();
            String::from_utf8(req).unwrap()
        });
        let (status, body) = send(sock.to_str().unwrap(), &call_for(&["ping"]).unwrap()).unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"pong"[..]));
        assert!(
            server
                .join()
                .unwrap()
                .starts_with("GET /v3/ping HTTP/1.1\r\n")
        );
        let err = send(
            dir.join("missing.sock").to_str().unwrap(),
            &call_for(&["ping"]).unwrap(),
        )
        .unwrap_err();
        assert!(err.contains("is tug running?"), "{err}");
    }
}
