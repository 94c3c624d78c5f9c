//! Installed as `telchap`: Chaperone's control client, over tug's own
//! control socket (found as `tug ctl` finds it: TUG_SOCKET, the config's
//! `control.socket`, the defaults), never Chaperone's unauthenticated
//! `/dev/chaperone.sock`.
//!
//! Chaperone's replies are `RESULT` (the text is printed) or
//! `COMMAND-ERROR` (printed as `Command error: ...`), and telchap always
//! exits 0. tug keeps the text and says the outcome in the exit code, as
//! `tug ctl` does: 0 RESULT, 1 COMMAND-ERROR (the message on stderr), 2 a
//! bad command line (the usage text), 3 tug not reachable (Chaperone's
//! `chaperone does not seem to be listening, is it running?` and why).
//! `start --enable` enables, then starts; `stop --disable` stops, then
//! disables; `stop --wait` returns when the runs are over (the answer
//! streams until then). `dependencies` prints each job's prerequisites in
//! tug's start order (not Chaperone's bar diagram); `loglevel L` reloads
//! the config with every selector widened to L (`--log-level`); `shutdown
//! N` shuts tug down in N seconds.

use crate::ctl::{self, Call, Show, columns, table, text};
use crate::json::{self, as_array};
use crate::sys::fd::write_all;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

pub const USAGE: &str = "Usage:
    telchap status
    telchap start [--force] [--wait] [--enable] SERVICE...
    telchap stop [--force] [--wait] [--disable] SERVICE...
    telchap reset [--force] [--wait] SERVICE...
    telchap enable SERVICE...
    telchap disable SERVICE...
    telchap dependencies
    telchap loglevel [LEVEL]
    telchap shutdown [SECONDS|now]
(tug's telchap, over tug's control socket: TUG_SOCKET, else tug ctl's
defaults. Exit codes: 0 done, 1 command error, 2 bad usage, 3 tug not
reachable.)";

fn post(path: String) -> Call {
    Call {
        method: "POST",
        path,
        body: String::new(),
        show: Show::Body,
    }
}

/// One call whose answer is 200 (its body), else the exit code with the
/// message written.
fn call_ok(t: &ctl::Target, call: &Call) -> Result<Vec<u8>, i32> {
    match ask(t, call)? {
        (200, body) => Ok(body),
        (_, body) => Err(command_error(String::from_utf8_lossy(&body).trim_end())),
    }
}

/// One exchange; Err: the exit code, its message already written.
fn ask(t: &ctl::Target, call: &Call) -> Result<(u16, Vec<u8>), i32> {
    ctl::connect(t)
        .and_then(|(fd, path)| ctl::exchange(&fd, path, call, false))
        .map_err(|e| unreachable(&e))
}

fn unreachable(e: &str) -> i32 {
    let msg = format!("chaperone does not seem to be listening, is it running?\n(telchap: {e})\n");
    write_all(2, msg.as_bytes());
    3
}

fn command_error(msg: &str) -> i32 {
    write_all(2, format!("Command error: {msg}\n").as_bytes());
    1
}

/// `telchap ...`: returns the exit code (module docs).
pub fn run(args: &[&str], env: &crate::env::Environ) -> i32 {
    let Some((&cmd, rest)) = args.split_first() else {
        return usage();
    };
    let mut services = Vec::new();
    let mut wait = false;
    let mut first = "";
    let mut then = "";
    for &w in rest {
        match w {
            "--force" => {}
            "--wait" => wait = true,
            "--enable" if cmd == "start" => first = "enable",
            "--disable" if cmd == "stop" => then = "disable",
            _ if w.starts_with('-') => return usage(),
            _ => services.push(w.strip_suffix(".service").unwrap_or(w)),
        }
    }
    let t = ctl::target(None, env);
    let done = match (cmd, services.len()) {
        ("status", 0) => return status(&t),
        ("dependencies", 0) => return dependencies(&t),
        ("loglevel", 0 | 1) => {
            let mut call = post("/v3/loglevel".into());
            call.body = services.first().map_or(String::new(), |l| String::from(*l));
            let level = match call_ok(&t, &call) {
                Ok(b) => String::from_utf8_lossy(&b).trim().to_ascii_lowercase(),
                Err(code) => return code,
            };
            let out = match (services.is_empty(), level.is_empty()) {
                (true, true) => String::from("Forced Logging Level: NOT SET\n"),
                (true, false) => format!("Forced Logging Level: *.{level}\n"),
                _ => format!("All logging set to include priorities >= *.{level}\n"),
            };
            write_all(1, out.as_bytes());
            return 0;
        }
        ("shutdown", 1) if !matches!(services[0], "now" | "0") => {
            let secs = services[0];
            // tug's own duration syntax checks it (core's float parsing
            // would bring 15 KB of tables).
            let ok = secs.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && crate::duration::parse(&format!("{secs}s")).is_ok_and(|ns| ns > 0);
            if !ok {
                return command_error(&format!("shutdown: {secs} is not a number of seconds"));
            }
            if let Err(code) = call_ok(&t, &post(format!("/v3/shutdown?delay={secs}s"))) {
                return code;
            }
            write_all(1, format!("Shutting down in {secs} seconds\n").as_bytes());
            return 0;
        }
        ("shutdown", _) if matches!(services[..], [] | ["now"] | ["0"]) => {
            // tug may be gone before its answer is read: once connected,
            // a broken answer is the shutdown done.
            match ctl::connect(&t) {
                Ok((fd, path)) => drop(ctl::exchange(
                    &fd,
                    path,
                    &post("/v3/shutdown".into()),
                    false,
                )),
                Err(e) => return unreachable(&e),
            }
            write_all(1, b"Shutting down now\n");
            return 0;
        }
        ("enable", 1..) => "services enabled.",
        ("disable", 1..) => "services disabled.",
        ("start", 1..) if wait => "services started.",
        ("start", 1..) => "service start-up queued.",
        ("stop", 1..) if wait => "services stopped.",
        ("stop", 1..) => "services stopping.",
        ("reset", 1..) => "services reset.",
        _ => return usage(),
    };
    for s in &services {
        for verb in [first, cmd, then] {
            if verb.is_empty() {
                continue;
            }
            let q = if verb == "stop" && wait { "?wait" } else { "" };
            let (code, body) = match ask(&t, &post(format!("/v3/jobs/{s}/{verb}{q}"))) {
                Ok(a) => a,
                Err(code) => return code,
            };
            if code == 404 {
                return command_error(&format!("no such service: {s}"));
            }
            if !(200..300).contains(&code) {
                return command_error(String::from_utf8_lossy(&body).trim_end());
            }
        }
    }
    write_all(1, format!("{done}\n").as_bytes());
    0
}

fn usage() -> i32 {
    write_all(2, format!("{USAGE}\n").as_bytes());
    2
}

/// tug's status document, else the exit code with the message written.
fn status_doc(t: &ctl::Target) -> Result<crate::json5::Node, i32> {
    let call = Call {
        method: "GET",
        path: "/v3/status".into(),
        body: String::new(),
        show: Show::Body,
    };
    let body = call_ok(t, &call)?;
    json::parse(&body).map_err(|_| command_error("bad status from tug"))
}

/// Each job (in tug's order, which is its start order) and the jobs it
/// starts after.
fn dependencies(t: &ctl::Target) -> i32 {
    let doc = match status_doc(t) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let mut out = String::new();
    for j in json::get(&doc, "jobs").and_then(as_array).unwrap_or(&[]) {
        out.push_str(&text(json::get(j, "name")));
        let after = json::get(j, "after").and_then(as_array).unwrap_or(&[]);
        for (k, a) in after.iter().enumerate() {
            out.push_str(if k == 0 { " ----> depends on: " } else { ", " });
            out.push_str(&text(Some(a)));
        }
        out.push('\n');
    }
    write_all(1, out.as_bytes());
    0
}

/// Chaperone's columns: pid name enabled status note, sorted by name.
fn status(t: &ctl::Target) -> i32 {
    let doc = match status_doc(t) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let jobs = json::get(&doc, "jobs").and_then(as_array).unwrap_or(&[]);
    let mut rows = Vec::new();
    let mut enabled = 0;
    for j in jobs {
        let note = text(json::get(j, "last_exit"));
        let on = json::get(j, "disabled").and_then(json::as_bool) != Some(true);
        enabled += on as usize;
        rows.push(Vec::from([
            text(json::get(j, "pid")),
            text(json::get(j, "name")),
            String::from(if on { "true" } else { "false" }),
            text(json::get(j, "state")),
            note,
        ]));
    }
    crate::sort::small(&mut rows, |a, b| a[1] < b[1]);
    rows.insert(0, columns(&["pid", "name", "enabled", "status", "note"]));
    let out = format!(
        "tug {} (telchap)\nManaged processes: {} ({enabled} enabled)\n\n{}",
        text(json::get(&doc, "version")),
        jobs.len(),
        table(&rows),
    );
    write_all(1, out.as_bytes());
    0
}
