//! The control plane and telemetry end to end: the real binary serving its
//! control socket and telemetry endpoint, driven by the real `tug ctl` (and
//! by raw HTTP over the unix socket for what the CLI cannot send: wrong
//! methods, malformed or oversized requests, slow clients). Telemetry is
//! scraped over TCP and the whole exposition is validated by `promtool
//! check metrics`.
//!
//! Every test has its own temp dir and socket. tug logs to stdout
//! (`logging.output`), so its own lines and its jobs' output can be waited
//! for; nothing sleeps for synchronisation.

mod common;

use common::json::{self, Node};
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

// ---- sandboxes: a temp dir, a config, a socket ----

/// The body of a job that runs until signalled (its sleeps are short so
/// a trapped signal is handled at once).
const LOOP: &str = "while :; do sleep 1 & wait $!; done";

struct Sandbox {
    dir: PathBuf,
    sock: PathBuf,
    config: PathBuf,
}

impl Sandbox {
    /// A fresh dir (mode 0755, so another uid may reach the socket in it).
    fn new(name: &str) -> Sandbox {
        let dir = fresh_dir(&format!("ctl-e2e-{name}"));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Sandbox {
            sock: dir.join("tug.sock"),
            config: dir.join("config.json5"),
            dir,
        }
    }

    fn sock(&self) -> &str {
        self.sock.to_str().unwrap()
    }

    fn config_path(&self) -> &str {
        self.config.to_str().unwrap()
    }

    fn write_config(&self, body: &str) {
        std::fs::write(&self.config, body).unwrap();
    }

    /// A shell script in the sandbox; returns its path.
    fn script(&self, name: &str, body: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.to_str().unwrap().to_string()
    }

    /// `tug --config CONFIG --socket SOCK`, with no socket in the env.
    fn supervise(&self) -> Command {
        let mut c = tug_cmd(&["--config", self.config_path(), "--socket", self.sock()]);
        c.env_remove("TUG_SOCKET");
        c
    }

    /// tug on `config`, once its control socket listens.
    fn start(&self, config: &str) -> Tug {
        self.write_config(config);
        let mut t = Tug::start(self.supervise());
        t.expect(&format!("control socket listening on {}", self.sock()));
        t
    }

    /// `tug ctl --socket SOCK ARGS`: (exit code, stdout, stderr).
    fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let mut c = tug_cmd(&["ctl", "--socket", self.sock()]);
        c.args(args).env_remove("TUG_SOCKET");
        output(c)
    }

    /// `tug ctl ARGS` that must succeed; its stdout.
    fn ctl_ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.ctl(args);
        assert_eq!(code, 0, "tug ctl {args:?}: {out}{err}");
        assert!(err.is_empty(), "tug ctl {args:?}: {err}");
        out
    }

    /// `tug ctl ARGS` that tug must refuse (exit 1); its one-line error.
    fn ctl_refused(&self, args: &[&str]) -> String {
        let (code, out, err) = self.ctl(args);
        assert_eq!(code, 1, "tug ctl {args:?} should be refused: {out}{err}");
        assert!(out.is_empty(), "tug ctl {args:?}: {out}");
        err
    }

    /// `tug ctl status --json`, parsed.
    fn status(&self) -> Node {
        json::parse(&self.ctl_ok(&["status", "--json"]))
    }

    /// Every job's (name, pid) from `tug ctl status --json`.
    fn pids(&self) -> Vec<(String, Option<i64>)> {
        let doc = self.status();
        json::items(json::at(&doc, &["jobs"]).expect("jobs"))
            .into_iter()
            .map(|j| {
                let name = json::str_at(j, &["name"]).unwrap().to_string();
                (name, json::i64_at(j, &["pid"]))
            })
            .collect()
    }

    fn pid_of(&self, job: &str) -> Option<i64> {
        self.pids()
            .into_iter()
            .find(|(n, _)| n == job)
            .unwrap_or_else(|| panic!("no job {job} in the status"))
            .1
    }

    /// One raw request on a fresh connection to the socket.
    fn raw(&self, request: &[u8]) -> Reply {
        let mut s = self.connect();
        s.write_all(request).unwrap();
        read_reply(&mut BufReader::new(s), false)
    }

    /// One request built from its parts (Connection: close).
    fn call(&self, method: &str, path: &str, body: &str) -> Reply {
        self.raw(&request(method, path, body.as_bytes()))
    }

    fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(&self.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A job that echoes `say` and its pid, then runs until signalled.
fn looping_job(name: &str, say: &str, extra: &str) -> String {
    format!(r#"{{ name: "{name}", exec: ["sh", "-c", "echo {say} $$; {LOOP}"]{extra} }}"#)
}

/// A file's permission bits.
fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

// ---- a running tug that is stopped even when a test fails ----

struct Tug {
    run: Option<Running>,
}

impl Tug {
    fn start(cmd: Command) -> Tug {
        Tug {
            run: Some(Running::start(cmd)),
        }
    }

    fn r(&mut self) -> &mut Running {
        self.run.as_mut().unwrap()
    }

    fn expect(&mut self, needle: &str) -> String {
        self.r().expect_line(needle)
    }

    fn pid(&mut self) -> i32 {
        self.r().pid()
    }

    /// The telemetry address from tug's `telemetry listening on` line.
    fn telemetry_addr(&mut self) -> String {
        let line = self.expect("telemetry listening on ");
        let rest = line.split_once("telemetry listening on ").unwrap().1;
        rest.split(['"', ' ']).next().unwrap().to_string()
    }

    fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        self.run.take().unwrap().finish()
    }

    /// `tug ctl shutdown`, then the exit.
    fn finish_with_ctl_shutdown(self, sb: &Sandbox) -> (ExitStatus, Vec<String>, String) {
        assert_eq!(sb.ctl_ok(&["shutdown"]), "shutting down\n");
        self.finish()
    }
}

impl Drop for Tug {
    fn drop(&mut self) {
        let Some(mut r) = self.run.take() else { return };
        if r.child.try_wait().unwrap().is_none() {
            // SIGTERM first, so tug stops its jobs instead of orphaning them.
            send(r.pid(), libc::SIGTERM);
            let _ = wait_up_to(&mut r.child, Duration::from_secs(5));
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

// ---- raw HTTP over the unix socket ----

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.head, self.body)
    }
}

fn request(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: tug\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// One response: the head, then Content-Length bytes of body (none for a
/// HEAD request, whose response carries the GET's length).
fn read_reply(r: &mut impl BufRead, head_only: bool) -> Reply {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).expect("reading a response");
        assert!(n > 0, "connection closed mid-head: {head:?}");
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let mut reply = Reply {
        status,
        head,
        body: String::new(),
    };
    let len: usize = reply
        .header("Content-Length")
        .map_or(0, |v| v.parse().unwrap());
    if !head_only {
        let mut body = vec![0; len];
        r.read_exact(&mut body).expect("the body");
        reply.body = String::from_utf8(body).unwrap();
    }
    reply
}

// ---- telemetry ----

fn scrape(addr: &str) -> String {
    let r = http::call(addr, "GET", "/metrics", "");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    r.text()
}

/// The value of the sample `series` (name with its labels, as printed).
fn sample(text: &str, series: &str) -> Option<f64> {
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{series} = {v:?}")))
}

fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// `promtool check metrics` must accept the exposition with no finding.
fn promtool_accepts(text: &str) {
    let promtool = Path::new("/usr/bin/promtool");
    if !require(
        promtool.exists(),
        "/usr/bin/promtool is missing (Debian package prometheus, scripts/test-deps.sh)",
    ) {
        return;
    }
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "promtool check metrics: {}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const USER_METRICS: &str = r#"metrics: [
      { namespace: "app", name: "hits_total", help: "Hits.", type: "counter" },
      { namespace: "app", subsystem: "db", name: "connections", help: "Open connections.", type: "gauge" },
      { name: "latency_seconds", help: "Request latency.", type: "histogram" },
      { namespace: "app", name: "size_bytes", help: "Response sizes.", type: "summary" } ]"#;

// ---- the routes ----

#[test]
fn ctl_ping_status_and_its_exit_codes() {
    let sb = Sandbox::new("ping");
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [ {}, {} ] }}"#,
        looping_job("web", "web up", ""),
        looping_job("later", "later up", r#", when: { source: "SIGHUP" }"#),
    ));
    let web = i64::from(number_after(&t.expect("web up "), "web up "));

    assert_eq!(sb.ctl_ok(&["ping"]), "ok\n");

    // The table: tug's line, then one row per job.
    let table = sb.ctl_ok(&["status"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with(&format!("tug 0.1.0, pid {}, up ", t.pid())),
        "{table}"
    );
    let cols = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        cols(lines[2]),
        [
            "JOB",
            "STATE",
            "PID",
            "RUNS",
            "RESTARTS",
            "HEALTH",
            "LAST-EXIT",
            "NEXT"
        ],
        "{table}"
    );
    assert_eq!(
        cols(lines[3]),
        [
            "web",
            "running",
            &web.to_string(),
            "1",
            "0/0",
            "-",
            "-",
            "-"
        ],
        "{table}"
    );
    assert_eq!(
        cols(lines[4]),
        ["later", "waiting", "-", "0", "0/0", "-", "-", "-"],
        "{table}"
    );
    assert_eq!(lines.len(), 5, "{table}");

    // --json: the whole report.
    let doc = sb.status();
    assert_eq!(json::str_at(&doc, &["version"]), Some("0.1.0"));
    assert_eq!(json::i64_at(&doc, &["pid"]), Some(t.pid().into()));
    assert_eq!(json::bool_at(&doc, &["maintenance"]), Some(false));
    assert_eq!(json::bool_at(&doc, &["shutting_down"]), Some(false));
    assert_eq!(json::str_at(&doc, &["jobs", "0", "name"]), Some("web"));
    assert_eq!(json::str_at(&doc, &["jobs", "0", "state"]), Some("running"));
    assert_eq!(json::i64_at(&doc, &["jobs", "0", "pid"]), Some(web));
    assert_eq!(json::u64_at(&doc, &["jobs", "0", "restarts"]), Some(0));
    assert_eq!(json::u64_at(&doc, &["jobs", "0", "runs"]), Some(1));
    for key in ["last_exit", "health", "check", "service", "next_run_in_ms"] {
        assert!(
            json::is_null(json::at(&doc, &["jobs", "0", key]).unwrap()),
            "{key}"
        );
    }
    assert_eq!(json::str_at(&doc, &["jobs", "1", "state"]), Some("waiting"));
    assert!(json::is_null(
        json::at(&doc, &["jobs", "1", "pid"]).unwrap()
    ));
    assert!(json::items(json::at(&doc, &["watches"]).unwrap()).is_empty());
    // The pid is really tug's child.
    assert!(children_of(t.pid()).contains(&(web as i32)));

    // Usage errors: exit 2, nothing sent.
    for bad in [
        &["frobnicate"][..],
        &["start"],
        &["signal", "web", "SIGNOPE"],
        &["putenv", "novalue"],
        &["putmetric", "x=abc"],
        &["maintenance", "maybe"],
    ] {
        let (code, out, err) = sb.ctl(bad);
        assert_eq!(code, 2, "tug ctl {bad:?}: {out}{err}");
        assert!(err.starts_with("tug ctl: "), "{err}");
    }
    let (code, out, err) = sb.ctl(&[]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.starts_with("usage: tug ctl"), "{err}");
    let (code, out, _) = sb.ctl(&["help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("usage: tug ctl"), "{out}");

    // Unreachable: exit 3 with the path it looked at.
    let missing = sb.dir.join("missing.sock");
    let (code, _, err) = output({
        let mut c = tug_cmd(&["ctl", "--socket", missing.to_str().unwrap(), "ping"]);
        c.env_remove("TUG_SOCKET");
        c
    });
    assert_eq!(code, 3);
    assert_eq!(
        err,
        format!(
            "tug ctl: is tug running? no control socket at {} (--socket or TUG_SOCKET)\n",
            missing.display()
        )
    );
    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn every_route_answers_raw_http_with_its_status() {
    let sb = Sandbox::new("routes");
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [ {} ] }}"#,
        looping_job("web", "web up", "")
    ));
    t.expect("web up ");

    let r = sb.call("GET", "/v3/ping", "");
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"), "{r:?}");
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));

    // HEAD: the GET's headers and no body, so the next response on the
    // same connection follows the head at once.
    let mut s = BufReader::new(sb.connect());
    s.get_mut()
        .write_all(b"HEAD /v3/ping HTTP/1.1\r\nHost: tug\r\n\r\nGET /v3/status HTTP/1.1\r\nHost: tug\r\nConnection: close\r\n\r\n")
        .unwrap();
    let head = read_reply(&mut s, true);
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("Content-Length"), Some("3"));
    let next = read_reply(&mut s, false);
    assert_eq!(next.status, 200, "{next:?}");
    assert_eq!(next.header("Content-Type"), Some("application/json"));
    let doc = json::parse(&next.body);
    assert_eq!(json::str_at(&doc, &["jobs", "0", "name"]), Some("web"));

    // Wrong methods: 405 with Allow.
    for (method, path, allow) in [
        ("POST", "/v3/ping", "GET, HEAD"),
        ("DELETE", "/v3/status", "GET, HEAD"),
        ("GET", "/v3/reload", "POST"),
        ("GET", "/v3/environ", "POST"),
        ("GET", "/v3/metric", "POST"),
        ("GET", "/v3/maintenance/enable", "POST"),
        ("PUT", "/v3/maintenance/disable", "POST"),
        ("GET", "/v3/shutdown", "POST"),
        ("GET", "/v3/jobs/web/start", "POST"),
        ("GET", "/v3/jobs/web/signal", "POST"),
        ("POST", "/v3/jobs/web", "GET, HEAD"),
        ("DELETE", "/v3/jobs/web/logs", "GET, HEAD"),
    ] {
        let r = sb.call(method, path, "");
        assert_eq!(r.status, 405, "{method} {path}: {r:?}");
        assert_eq!(r.header("Allow"), Some(allow), "{method} {path}: {r:?}");
    }

    // Unknown paths: 404 saying which.
    for path in ["/", "/v3", "/v3/nope", "/v3/jobs/web/frob", "/metrics"] {
        let r = sb.call("GET", path, "");
        assert_eq!(r.status, 404, "{path}: {r:?}");
        assert_eq!(r.body, format!("no route {path}\n"));
    }

    // Environ: 200 with ContainerPilot's empty answer, 422 saying why.
    let r = sb.call("POST", "/v3/environ", r#"{"A":"1","B":null}"#);
    assert_eq!((r.status, r.body.as_str()), (200, "\n"), "{r:?}");
    let r = sb.call("POST", "/v3/environ", r#"{"A":1,"B=C":"x"}"#);
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(
        r.body,
        "the value of A must be a string, not a number\n\"B=C\" is not an environment variable name\n"
    );
    let r = sb.call("POST", "/v3/environ", "[1]");
    assert_eq!(
        (r.status, r.body.as_str()),
        (422, "the body must be a JSON object, not an array\n")
    );
    for bad_json in ["{\"A\": ", "", "{A:1}x"] {
        let r = sb.call("POST", "/v3/environ", bad_json);
        assert_eq!(r.status, 422, "{bad_json:?}: {r:?}");
        assert!(r.body.starts_with("bad JSON at 1:"), "{bad_json:?}: {r:?}");
    }

    // Metric: no user metric is declared, so any name is unknown.
    let r = sb.call("POST", "/v3/metric", r#"{"hits":1}"#);
    assert_eq!(
        (r.status, r.body.as_str()),
        (422, "unknown metric \"hits\"\n")
    );
    let r = sb.call("POST", "/v3/metric", r#"{"hits":"many"}"#);
    assert_eq!(
        (r.status, r.body.as_str()),
        (422, "the value of hits is not a number\n")
    );

    // Reload of the unchanged file.
    let r = sb.call("POST", "/v3/reload", "");
    assert_eq!((r.status, r.body.as_str()), (200, "\n"), "{r:?}");

    // Maintenance.
    let r = sb.call("POST", "/v3/maintenance/enable", "");
    assert_eq!((r.status, r.body.as_str()), (200, "\n"), "{r:?}");
    assert_eq!(json::bool_at(&sb.status(), &["maintenance"]), Some(true));
    let r = sb.call("POST", "/v3/maintenance/disable", "");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(json::bool_at(&sb.status(), &["maintenance"]), Some(false));

    // One job, and its recent output.
    let r = sb.call("GET", "/v3/jobs/web", "");
    assert_eq!(
        (r.status, r.header("Content-Type")),
        (200, Some("application/json")),
        "{r:?}"
    );
    let job = json::parse(&r.body);
    assert_eq!(json::str_at(&job, &["name"]), Some("web"));
    assert_eq!(json::str_at(&job, &["when"]), Some("at startup"));
    assert_eq!(json::str_at(&job, &["exec", "0"]), Some("sh"));
    let r = sb.call("GET", "/v3/jobs/web/logs", "");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.starts_with("web up "), "{r:?}");
    for path in ["/v3/jobs/ghost", "/v3/jobs/ghost/logs"] {
        let r = sb.call("GET", path, "");
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, "no job named ghost\n"),
            "{path}"
        );
    }

    // Jobs: 404 for an unknown one, 409 for a conflict, 422 for a bad
    // signal, 400 for a name that does not decode.
    for verb in ["start", "stop", "restart"] {
        let r = sb.call("POST", &format!("/v3/jobs/ghost/{verb}"), "");
        assert_eq!((r.status, r.body.as_str()), (404, "no job named ghost\n"));
    }
    let r = sb.call("POST", "/v3/jobs/ghost/signal", r#"{"signal":1}"#);
    assert_eq!((r.status, r.body.as_str()), (404, "no job named ghost\n"));
    let r = sb.call("POST", "/v3/jobs/gh%20ost/stop", "");
    assert_eq!((r.status, r.body.as_str()), (404, "no job named gh ost\n"));
    let r = sb.call("POST", "/v3/jobs/web/start", "");
    assert_eq!(
        (r.status, r.body.as_str()),
        (409, "job web is already running\n")
    );
    for (body, why) in [
        (r#"{"signal":0}"#, "a signal number must be 1 to "),
        (r#"{"signal":"SIGNOPE"}"#, "unknown signal \"SIGNOPE\""),
        (
            r#"{"sig":1}"#,
            "the body must be {\"signal\": NUMBER or NAME}",
        ),
        ("nope", "bad JSON at"),
    ] {
        let r = sb.call("POST", "/v3/jobs/web/signal", body);
        assert_eq!(r.status, 422, "{body}: {r:?}");
        assert!(r.body.starts_with(why), "{body}: {r:?}");
    }
    let r = sb.call("POST", "/v3/jobs/%FF/stop", "");
    assert_eq!(r.status, 400, "{r:?}");

    // Garbage is 400, and the next client is served.
    let r = sb.raw(b"\x16\x03\x01\x02\x00garbage\r\n\r\n");
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(sb.call("GET", "/v3/ping", "").status, 200);

    // Shutdown: 200, then tug exits 0 and removes its socket.
    let r = sb.call("POST", "/v3/shutdown", "");
    assert_eq!((r.status, r.body.as_str()), (200, "\n"), "{r:?}");
    let (status, _, err) = t.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!sb.sock.exists(), "the socket file is removed at exit");
}

#[test]
fn ctl_starts_stops_restarts_and_signals_a_job() {
    let sb = Sandbox::new("jobs");
    // The worker and a child of its own (same process group) both trap
    // USR1; a signal to the job reaches both.
    let worker = sb.script(
        "worker.sh",
        &format!(
            "trap 'echo worker $$ got USR1' USR1\n\
             trap 'echo worker $$ got USR2' USR2\n\
             sh -c 'trap \"echo child got USR1\" USR1; trap \"echo child got USR2\" USR2; echo child up; {LOOP}' &\n\
             echo worker up $$\n\
             {LOOP}\n"
        ),
    );
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [
            {{ name: "worker", exec: ["sh", {}] }}, {} ] }}"#,
        json::quote(&worker),
        looping_job("keep", "keep up", "")
    ));
    let first = i64::from(number_after(&t.expect("worker up "), "worker up "));
    t.expect("child up");
    assert_eq!(sb.pid_of("worker"), Some(first));

    // Signal, by name and by number: to the whole process group. (USR2
    // by number, not HUP: a test run under nohup starts tug with SIGHUP
    // ignored, which tug rightly passes on, and a shell cannot trap a
    // signal ignored at its start.)
    assert_eq!(
        sb.ctl_ok(&["signal", "worker", "USR1"]),
        format!("sent SIGUSR1 to job worker (pid {first})\n")
    );
    t.expect(&format!("worker {first} got USR1"));
    t.expect("child got USR1");
    assert_eq!(
        sb.ctl_ok(&["signal", "worker", "12"]),
        format!("sent SIGUSR2 to job worker (pid {first})\n")
    );
    t.expect(&format!("worker {first} got USR2"));
    t.expect("child got USR2");
    let r = sb.call("POST", "/v3/jobs/worker/signal", r#"{"signal":"SIGUSR1"}"#);
    assert_eq!(r.status, 200, "{r:?}");
    t.expect(&format!("worker {first} got USR1"));
    t.expect("child got USR1");

    // Restart: a new process, counted as a run (an operator's restart is
    // not one of the restart policy's).
    assert_eq!(
        sb.ctl_ok(&["restart", "worker"]),
        format!("restarting job worker (pid {first})\n")
    );
    // Taken here, so that the stop below waits for its own line and not
    // this one.
    t.expect("job worker was killed by signal 15");
    let second = i64::from(number_after(&t.expect("worker up "), "worker up "));
    t.expect("child up");
    assert_ne!(second, first);
    assert!(!alive(first as i32), "the old worker {first} is gone");
    let doc = sb.status();
    assert_eq!(json::i64_at(&doc, &["jobs", "0", "pid"]), Some(second));
    assert_eq!(json::u64_at(&doc, &["jobs", "0", "runs"]), Some(2));
    assert_eq!(json::u64_at(&doc, &["jobs", "0", "restarts"]), Some(0));
    assert_eq!(
        json::str_at(&doc, &["jobs", "0", "last_exit"]),
        Some("signal 15")
    );

    // Start while running: refused.
    let err = sb.ctl_refused(&["start", "worker"]);
    assert_eq!(err, "tug ctl: job worker is already running\n");

    // Stop: no process, no restart.
    assert_eq!(
        sb.ctl_ok(&["stop", "worker"]),
        format!("stopping job worker (pid {second})\n")
    );
    t.expect("job worker was killed by signal 15");
    let doc = sb.status();
    assert!(json::is_null(
        json::at(&doc, &["jobs", "0", "pid"]).unwrap()
    ));
    let state = json::str_at(&doc, &["jobs", "0", "state"]).unwrap();
    assert!(
        state == "stopped" || state == "completed",
        "a stopped job: {state}"
    );
    assert!(!alive(second as i32));
    let err = sb.ctl_refused(&["stop", "worker"]);
    assert_eq!(err, "tug ctl: job worker is already stopped\n");
    let err = sb.ctl_refused(&["signal", "worker", "USR1"]);
    assert_eq!(err, "tug ctl: job worker is not running\n");

    // Start again after a stop.
    let said = sb.ctl_ok(&["start", "worker"]);
    let third = i64::from(number_after(&t.expect("worker up "), "worker up "));
    assert_eq!(said, format!("started job worker (pid {third})\n"));
    t.expect("child up");
    assert_eq!(sb.pid_of("worker"), Some(third));
    assert!(third != first && third != second);

    // Unknown jobs, every verb.
    for args in [
        &["start", "ghost"][..],
        &["stop", "ghost"],
        &["restart", "ghost"],
        &["signal", "ghost", "HUP"],
    ] {
        assert_eq!(
            sb.ctl_refused(args),
            "tug ctl: no job named ghost\n",
            "{args:?}"
        );
    }
    // Names are escaped into the path and come back intact.
    assert_eq!(
        sb.ctl_refused(&["stop", "a/b c?"]),
        "tug ctl: no job named a/b c?\n"
    );

    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

/// Stopping the only job by hand does not end tug (ContainerPilot's "all
/// jobs complete" rule is about jobs that finished on their own): it shows
/// as stopped and can be started again.
#[test]
fn ctl_stop_of_the_last_job_keeps_tug_running() {
    let sb = Sandbox::new("held");
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [ {} ] }}"#,
        looping_job("only", "only up", "")
    ));
    let first = i64::from(number_after(&t.expect("only up "), "only up "));
    assert_eq!(
        sb.ctl_ok(&["stop", "only"]),
        format!("stopping job only (pid {first})\n")
    );
    t.expect("job only was killed by signal 15");
    let doc = sb.status();
    let job = &json::items(json::at(&doc, &["jobs"]).unwrap())[0];
    assert_eq!(json::str_at(job, &["state"]), Some("stopped"));
    assert!(
        sb.ctl_ok(&["start", "only"])
            .starts_with("started job only (pid ")
    );
    let second = i64::from(number_after(&t.expect("only up "), "only up "));
    assert_ne!(first, second);
    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn putenv_reaches_later_spawns_only() {
    let sb = Sandbox::new("putenv");
    let before = sb.script(
        "before.sh",
        &format!(
            "trap 'echo before sees [$FOO] [$GREETING]' USR1\n\
             echo before up $$\n\
             {LOOP}\n"
        ),
    );
    let show = "echo $0 sees [$FOO] [$GREETING] [$EMPTY]";
    let mut cmd_tug = Sandbox::supervise(&sb);
    sb.write_config(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [
            {{ name: "before", exec: ["sh", {}] }},
            {{ name: "on-hup", exec: ["sh", "-c", "{show}", "on-hup"], when: {{ source: "SIGHUP" }} }},
            {{ name: "manual", exec: ["sh", "-c", "{show}", "manual"], when: {{ source: "SIGUSR2" }} }} ] }}"#,
        json::quote(&before)
    ));
    cmd_tug.env("GREETING", "hello").env_remove("FOO");
    let mut t = Tug::start(cmd_tug);
    t.expect("control socket listening on");
    t.expect("before up ");

    assert_eq!(
        sb.ctl_ok(&["putenv", "FOO=bar baz", "GREETING=changed", "EMPTY="]),
        "set 3 variables for jobs started from now on\n"
    );
    // A job started afterwards by an event sees it...
    send(t.pid(), libc::SIGHUP);
    t.expect("on-hup sees [bar baz] [changed] []");
    // ...and one started by `tug ctl start`.
    assert!(
        sb.ctl_ok(&["start", "manual"])
            .starts_with("started job manual (pid ")
    );
    t.expect("manual sees [bar baz] [changed] []");
    // The later value of a name wins; null is empty (raw: the CLI always
    // sends strings).
    let r = sb.call("POST", "/v3/environ", r#"{"FOO":"second","EMPTY":null}"#);
    assert_eq!(r.status, 200, "{r:?}");
    send(t.pid(), libc::SIGHUP);
    t.expect("on-hup sees [second] [changed] []");

    // The job started before does not see it, nor does tug's own
    // environment change.
    assert!(
        sb.ctl_ok(&["signal", "before", "USR1"])
            .starts_with("sent SIGUSR1 to job before (pid ")
    );
    t.expect("before sees [] [hello]");
    let environ = std::fs::read(format!("/proc/{}/environ", t.pid())).unwrap();
    let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
    assert!(
        vars.contains(&&b"GREETING=hello"[..]),
        "tug's own environment"
    );
    assert!(!vars.iter().any(|v| v.starts_with(b"FOO=")));

    // Refused: nothing is applied.
    let r = sb.call("POST", "/v3/environ", r#"{"FOO":"third","X":1}"#);
    assert_eq!(r.status, 422, "{r:?}");
    send(t.pid(), libc::SIGHUP);
    t.expect("on-hup sees [second] [changed] []");
    let (code, _, err) = sb.ctl(&["putenv", "=x"]);
    assert_eq!(code, 2, "{err}");

    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn putmetric_sets_declared_metrics_seen_in_metrics() {
    let sb = Sandbox::new("putmetric");
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }},
            telemetry: {{ port: 0, interfaces: ["static:127.0.0.1"], {USER_METRICS} }},
            jobs: [ {} ] }}"#,
        looping_job("keep", "keep up", "")
    ));
    let addr = t.telemetry_addr();
    let text = scrape(&addr);
    assert_eq!(value(&text, "app_hits_total"), 0.0);
    assert_eq!(value(&text, "app_db_connections"), 0.0);

    // Counters add, gauges set, histograms and summaries observe.
    assert_eq!(
        sb.ctl_ok(&["putmetric", "app_hits_total=2"]),
        "set 1 metric\n"
    );
    assert_eq!(
        sb.ctl_ok(&[
            "putmetric",
            "app_hits_total=0.5",
            "app_db_connections=7",
            "latency_seconds=0.2",
            "app_size_bytes=10",
        ]),
        "set 4 metrics\n"
    );
    assert_eq!(
        sb.ctl_ok(&["putmetric", "app_db_connections=-4.25"]),
        "set 1 metric\n"
    );
    assert_eq!(
        sb.ctl_ok(&["putmetric", "app_size_bytes=30"]),
        "set 1 metric\n"
    );
    // ContainerPilot's client sent numeric strings, and its names join the
    // empty subsystem too.
    let r = sb.call("POST", "/v3/metric", r#"{"app__hits_total":"1.5"}"#);
    assert_eq!(r.status, 200, "{r:?}");

    let text = scrape(&addr);
    assert_eq!(value(&text, "app_hits_total"), 4.0);
    assert_eq!(value(&text, "app_db_connections"), -4.25);
    assert_eq!(value(&text, r#"latency_seconds_bucket{le="0.1"}"#), 0.0);
    assert_eq!(value(&text, r#"latency_seconds_bucket{le="0.25"}"#), 1.0);
    assert_eq!(value(&text, r#"latency_seconds_bucket{le="+Inf"}"#), 1.0);
    assert_eq!(value(&text, "latency_seconds_sum"), 0.2);
    assert_eq!(value(&text, "latency_seconds_count"), 1.0);
    assert_eq!(value(&text, r#"app_size_bytes{quantile="0.5"}"#), 10.0);
    assert_eq!(value(&text, r#"app_size_bytes{quantile="0.99"}"#), 30.0);
    assert_eq!(value(&text, "app_size_bytes_sum"), 40.0);
    assert_eq!(value(&text, "app_size_bytes_count"), 2.0);
    assert!(text.contains("# TYPE app_hits_total counter\n"), "{text}");
    assert!(text.contains("# HELP app_db_connections Open connections.\n"));
    assert!(text.contains("# TYPE app_size_bytes summary\n"));
    promtool_accepts(&text);

    // Refused, and nothing of the request is applied.
    let err = sb.ctl_refused(&["putmetric", "app_hits_total=1", "nope=1"]);
    assert_eq!(err, "tug ctl: unknown metric \"nope\"\n");
    let err = sb.ctl_refused(&["putmetric", "app_hits_total=-1"]);
    assert!(
        err.contains("a counter only adds finite amounts >= 0"),
        "{err}"
    );
    let r = sb.call("POST", "/v3/metric", r#"{"app_hits_total":true}"#);
    assert_eq!(
        (r.status, r.body.as_str()),
        (422, "the value of app_hits_total is not a number\n")
    );
    assert_eq!(sb.ctl(&["putmetric", "app_hits_total=abc"]).0, 2);
    assert_eq!(value(&scrape(&addr), "app_hits_total"), 4.0);

    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn maintenance_on_and_off() {
    let sb = Sandbox::new("maintenance");
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, telemetry: {{ port: 0, interfaces: ["static:127.0.0.1"] }},
            jobs: [ {} ] }}"#,
        looping_job("keep", "keep up", "")
    ));
    let addr = t.telemetry_addr();
    assert_eq!(sb.ctl_ok(&["maintenance", "on"]), "maintenance on\n");
    t.expect("maintenance mode on");
    assert_eq!(json::bool_at(&sb.status(), &["maintenance"]), Some(true));
    let table = sb.ctl_ok(&["status"]);
    assert!(
        table.lines().next().unwrap().ends_with(", maintenance"),
        "{table}"
    );
    // Entering twice is one event.
    assert_eq!(sb.ctl_ok(&["maintenance", "enable"]), "maintenance on\n");
    let text = scrape(&addr);
    assert_eq!(
        value(
            &text,
            r#"tug_events_total{code="enterMaintenance",source="global"}"#
        ),
        1.0
    );
    assert_eq!(sb.ctl_ok(&["maintenance", "off"]), "maintenance off\n");
    t.expect("maintenance mode off");
    assert_eq!(json::bool_at(&sb.status(), &["maintenance"]), Some(false));
    assert!(!sb.ctl_ok(&["status"]).contains("maintenance"));
    let text = scrape(&addr);
    assert_eq!(
        value(
            &text,
            r#"tug_events_total{code="exitMaintenance",source="global"}"#
        ),
        1.0
    );
    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn ctl_shutdown_stops_the_jobs_exits_0_and_removes_the_socket() {
    let sb = Sandbox::new("shutdown");
    let app = sb.script(
        "app.sh",
        &format!("trap 'echo app got TERM; exit 0' TERM\necho app up $$\n{LOOP}\n"),
    );
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [
            {{ name: "app", exec: ["sh", {}] }}, {} ] }}"#,
        json::quote(&app),
        looping_job("plain", "plain up", "")
    ));
    let app_pid = i64::from(number_after(&t.expect("app up "), "app up "));
    let plain = i64::from(number_after(&t.expect("plain up "), "plain up "));
    assert!(sb.sock.exists());
    assert_eq!(sb.ctl_ok(&["shutdown"]), "shutting down\n");
    t.expect("control: shutdown requested");
    t.expect("app got TERM");
    let (status, _, err) = t.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!sb.sock.exists(), "the socket file is removed at exit");
    assert!(!alive(app_pid as i32) && !alive(plain as i32));
    let (code, _, err) = sb.ctl(&["ping"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("is tug running?"), "{err}");
}

#[test]
fn shutdown_without_jobs_exits_0() {
    // With no jobs tug runs until told to stop: by tug ctl, or SIGTERM.
    let sb = Sandbox::new("nojobs");
    let mut t = sb.start(r#"{ logging: { output: "stdout" } }"#);
    assert_eq!(sb.ctl_ok(&["shutdown"]), "shutting down\n");
    t.expect("control: shutdown requested");
    let (status, _, err) = t.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!sb.sock.exists(), "the socket file is removed at exit");

    let mut t = sb.start(r#"{ logging: { output: "stdout" } }"#);
    let pid = t.pid();
    send(pid, libc::SIGTERM);
    t.expect("shutting down");
    let (status, _, err) = t.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!sb.sock.exists(), "the socket file is removed at exit");
}

// ---- reload ----

/// A config's `main` job is compared on reload like any other (not
/// started twice), and the reloaded config's `main` is the one whose end
/// ends tug, with its exit code.
#[test]
fn reload_keeps_the_configs_main_job_and_follows_a_new_main() {
    let sb = Sandbox::new("reload-main");
    let second = looping_job("second", "second up", "")
        .replace("echo second", "trap 'exit 7' USR1; echo second");
    let config = |main: &str| {
        format!(
            r#"{{ logging: {{ output: "stdout" }}, main: "{main}", jobs: [
               {}, {second} ] }}"#,
            looping_job("first", "first up", "")
        )
    };
    let mut t = sb.start(&config("first"));
    let first = number_after(&t.expect("first up "), "first up ");
    t.expect("second up ");
    sb.write_config(&config("second"));
    assert_eq!(sb.ctl_ok(&["reload"]), "reloaded the config\n");
    // `first` is unchanged: the same process, not a second one.
    let pids = sb.pids();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert_eq!(pids[0], ("first".to_string(), Some(i64::from(first))));
    // No longer main: its end does not end tug.
    send(first, libc::SIGKILL);
    t.expect("job first was killed by signal 9");
    // `second` is main now: tug ends with its exit code.
    sb.ctl_ok(&["signal", "second", "USR1"]);
    let (status, _, err) = t.finish();
    assert_eq!(status.code(), Some(7), "{err}");
}

#[test]
fn reload_keeps_unchanged_jobs_and_rejects_a_broken_config() {
    let sb = Sandbox::new("reload");
    let head = r#"{ logging: { output: "stdout" }, jobs: ["#;
    let v1 = [
        head.to_string(),
        looping_job("same", "same up", "") + ",",
        looping_job("moved", "moved up", "") + ",",
        looping_job("changed", "changed v1", "") + ",",
        looping_job("gone", "gone up", "") + ",",
        "] }".into(),
    ]
    .join("\n");
    let mut t = sb.start(&v1);
    let same = i64::from(number_after(&t.expect("same up "), "same up "));
    let moved = i64::from(number_after(&t.expect("moved up "), "moved up "));
    let changed = i64::from(number_after(&t.expect("changed v1 "), "changed v1 "));
    let gone = i64::from(number_after(&t.expect("gone up "), "gone up "));

    // `same` keeps its place, `moved` only moves, `changed` changes, `gone`
    // goes and `added` comes.
    let v2 = [
        head.to_string(),
        looping_job("same", "same up", "") + ",",
        looping_job("changed", "changed v2", "") + ",",
        looping_job("added", "added up", "") + ",",
        looping_job("moved", "moved up", "") + ",",
        "] }".into(),
    ]
    .join("\n");
    sb.write_config(&v2);
    assert_eq!(sb.ctl_ok(&["reload"]), "reloaded the config\n");
    let changed2 = i64::from(number_after(&t.expect("changed v2 "), "changed v2 "));
    let added = i64::from(number_after(&t.expect("added up "), "added up "));
    t.expect("job gone was killed by signal 15");
    assert_ne!(changed2, changed);
    assert!(!alive(changed as i32), "the changed job's old process");
    assert!(!alive(gone as i32), "the removed job's process");
    let after = sb.pids();
    assert_eq!(
        after,
        [
            ("same".to_string(), Some(same)),
            ("moved".to_string(), Some(moved)),
            ("changed".to_string(), Some(changed2)),
            ("added".to_string(), Some(added)),
        ],
        "same and moved untouched, changed restarted, gone removed, added started"
    );

    // A broken config: refused with its error, every job keeps its pid.
    let broken = v2.replace(r#"{ name: "added","#, r#"{ name: "added", restart: 2,"#);
    let (line, col) = broken
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("restart:").map(|c| (i + 1, c + 1)))
        .unwrap();
    sb.write_config(&broken);
    let err = sb.ctl_refused(&["reload"]);
    assert_eq!(
        err,
        format!(
            "tug ctl: {}:{line}:{col}: jobs[2].restart: unknown key \"restart\" (did you mean \"restarts\"?)\n",
            sb.config_path()
        )
    );
    t.expect("reload rejected, the running jobs are kept");
    // Several errors come one per line.
    sb.write_config(
        &v2.replace("logging:", "loging:")
            .replace(r#"{ name: "added","#, r#"{ name: "added", restart: 2,"#),
    );
    let r = sb.call("POST", "/v3/reload", "");
    assert_eq!(r.status, 422, "{r:?}");
    let lines: Vec<&str> = r.body.lines().collect();
    assert_eq!(lines.len(), 2, "{r:?}");
    assert!(
        lines.iter().any(|l| l.contains("unknown key \"loging\"")),
        "{r:?}"
    );
    assert!(
        lines.iter().all(|l| l.starts_with(sb.config_path())),
        "{r:?}"
    );
    // Not even JSON5.
    sb.write_config("{ jobs: [ ");
    let r = sb.call("POST", "/v3/reload", "");
    assert_eq!(r.status, 422, "{r:?}");
    assert!(
        r.body.starts_with(&format!("{}:1:", sb.config_path())),
        "{r:?}"
    );
    // A missing file.
    std::fs::remove_file(&sb.config).unwrap();
    let err = sb.ctl_refused(&["reload"]);
    assert!(err.contains(sb.config_path()), "{err}");
    assert_eq!(sb.pids(), after, "the running set is kept");

    // The same config again changes nothing.
    sb.write_config(&v2);
    assert_eq!(sb.ctl_ok(&["reload"]), "reloaded the config\n");
    assert_eq!(sb.pids(), after);
    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

// ---- the socket ----

#[test]
fn socket_mode_stale_files_and_a_second_tug() {
    let sb = Sandbox::new("socket");
    let config = &format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [ {} ] }}"#,
        looping_job("keep", "keep up", "")
    );

    // A bound-then-abandoned socket is replaced.
    drop(std::os::unix::net::UnixListener::bind(&sb.sock).unwrap());
    assert!(sb.sock.exists());
    assert_eq!(sb.ctl(&["ping"]).0, 3, "nobody answers on the stale file");
    let t = sb.start(config);
    assert_eq!(mode(&sb.sock), 0o600);
    assert_eq!(sb.ctl_ok(&["ping"]), "ok\n");

    // A second tug on the same socket fails at startup, and the first
    // keeps serving on the same file.
    sb.write_config(config);
    let (code, out, err) = output(sb.supervise());
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").contains(&format!(
            "control socket: another tug is listening on {}",
            sb.sock()
        )),
        "{out}{err}"
    );
    assert_eq!(sb.ctl_ok(&["ping"]), "ok\n");
    assert_eq!(mode(&sb.sock), 0o600);
    drop(t);
    assert!(!sb.sock.exists(), "SIGTERM: the socket file is removed too");

    // A file that is not a socket is never removed.
    std::fs::write(&sb.sock, "keep me").unwrap();
    let (code, out, err) = output(sb.supervise());
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").contains(&format!("{} exists and is not a socket", sb.sock())),
        "{out}{err}"
    );
    assert_eq!(std::fs::read(&sb.sock).unwrap(), b"keep me");

    // An explicit path in a missing directory is an error too.
    let mut c = tug_cmd(&[
        "--config",
        sb.config_path(),
        "--socket",
        sb.dir.join("no/such/tug.sock").to_str().unwrap(),
    ]);
    c.env_remove("TUG_SOCKET");
    let (code, out, err) = output(c);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("does not exist"),
        "{out}{err}"
    );
}

#[test]
fn socket_path_from_flag_env_or_config_and_jobs_get_tug_socket() {
    let sb = Sandbox::new("paths");
    let from_env = sb.dir.join("env.sock");
    let from_config = sb.dir.join("config.sock");
    let tug_path = tug();
    let config = format!(
        r#"{{ logging: {{ output: "stdout" }}, control: {{ socket: {} }}, jobs: [
            {{ name: "show", exec: ["sh", "-c", "echo socket is [$TUG_SOCKET]"] }},
            {{ name: "hook", exec: [{}, "ctl", "ping"] }},
            {} ] }}"#,
        json::quote(from_config.to_str().unwrap()),
        json::quote(tug_path.to_str().unwrap()),
        looping_job("keep", "keep up", "")
    );
    sb.write_config(&config);
    let run = |flag: Option<&Path>, env: Option<&Path>, want: &Path| {
        let mut c = tug_cmd(&["--config", sb.config_path()]);
        if let Some(f) = flag {
            c.args(["--socket", f.to_str().unwrap()]);
        }
        match env {
            Some(e) => c.env("TUG_SOCKET", e),
            None => c.env_remove("TUG_SOCKET"),
        };
        let mut t = Tug::start(c);
        t.expect(&format!("control socket listening on {}", want.display()));
        // Jobs find the socket in their environment, and `tug ctl` there
        // needs nothing else.
        t.expect(&format!("socket is [{}]", want.display()));
        t.expect(r#"msg="ok" job="hook""#);
        // tug ctl finds it through TUG_SOCKET too.
        let mut ctl = tug_cmd(&["ctl", "ping"]);
        ctl.env("TUG_SOCKET", want);
        let (code, out, err) = output(ctl);
        assert_eq!((code, out.as_str()), (0, "ok\n"), "{err}");
        drop(t);
        assert!(!want.exists());
    };
    run(Some(&sb.sock), Some(&from_env), &sb.sock);
    run(None, Some(&from_env), &from_env);
    run(None, None, &from_config);
}

#[test]
fn a_peer_with_another_uid_needs_control_allow() {
    if !require(is_root(), "connecting as another uid needs root") {
        return;
    }
    const NOBODY: u32 = 65534;
    let sb = Sandbox::new("peer");
    let as_nobody = |args: &[&str]| {
        use std::os::unix::process::CommandExt;
        let mut c = tug_cmd(&["ctl", "--socket", sb.sock()]);
        c.args(args)
            .env_remove("TUG_SOCKET")
            .uid(NOBODY)
            .gid(NOBODY);
        output(c)
    };
    let config = |allow: &str| {
        format!(r#"{{ logging: {{ output: "stdout" }}, control: {{ allow: [{allow}] }} }}"#)
    };

    // No allow list: mode 0600, so another uid cannot even connect.
    let t = sb.start(&config(""));
    assert_eq!(mode(&sb.sock), 0o600);
    let (code, _, err) = as_nobody(&["ping"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(&format!("permission denied on {}", sb.sock())),
        "{err}"
    );
    drop(t);

    // An allow list without this uid: it connects (0666) and gets 403.
    let mut t = sb.start(&config("1234"));
    assert_eq!(mode(&sb.sock), 0o666);
    let (code, out, err) = as_nobody(&["shutdown"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.starts_with("tug ctl: forbidden: uid 65534 (pid "),
        "{err}"
    );
    t.expect("control: refused POST /v3/shutdown from uid 65534");
    assert_eq!(sb.ctl_ok(&["ping"]), "ok\n", "refused, so still running");
    drop(t);

    // Listed: served.
    let t = sb.start(&config(&NOBODY.to_string()));
    let (code, out, err) = as_nobody(&["ping"]);
    assert_eq!((code, out.as_str()), (0, "ok\n"), "{err}");
    let (code, out, err) = as_nobody(&["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        json::str_at(&json::parse(&out), &["version"]),
        Some("0.1.0")
    );
    drop(t);
}

// ---- many, slow and malformed clients ----

#[test]
fn many_clients_at_once() {
    let sb = Sandbox::new("many");
    let t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [ {} ] }}"#,
        looping_job("web", "web up", "")
    ));
    let barrier = std::sync::Barrier::new(64);
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..64)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    sb.ctl(&["ping"])
                })
            })
            .collect();
        for r in runs {
            let (code, out, err) = r.join().unwrap();
            assert_eq!((code, out.as_str(), err.as_str()), (0, "ok\n", ""));
        }
    });

    // Connections held open together, each then asking in turn, answered
    // in full.
    let mut conns: Vec<_> = (0..32).map(|_| sb.connect()).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        let body = format!("{{\"N{i}\":\"{i}\"}}");
        c.write_all(&request("POST", "/v3/environ", body.as_bytes()))
            .unwrap();
    }
    for c in conns {
        let r = read_reply(&mut BufReader::new(c), false);
        assert_eq!((r.status, r.body.as_str()), (200, "\n"), "{r:?}");
    }
    let doc = sb.status();
    assert_eq!(json::str_at(&doc, &["jobs", "0", "state"]), Some("running"));
    drop(t);
}

#[test]
fn slow_and_oversized_requests_do_not_block_others() {
    let sb = Sandbox::new("slow");
    let t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [ {} ] }}"#,
        looping_job("keep", "keep up", "")
    ));

    // Half a head, a head with half its body, and a silent connection.
    let mut half_head = sb.connect();
    half_head.write_all(b"GET /v3/ping HTTP/1.1\r\nHo").unwrap();
    let body = format!("{{\"SLOW\":\"{}\"}}", "x".repeat(80));
    let mut half_body = sb.connect();
    half_body
        .write_all(&request("POST", "/v3/environ", body.as_bytes())[..100])
        .unwrap();
    let _silent = sb.connect();

    // Others are answered at once meanwhile.
    for _ in 0..10 {
        let start = Instant::now();
        assert_eq!(sb.ctl_ok(&["ping"]), "ok\n");
        let took = start.elapsed();
        assert!(took < Duration::from_secs(2), "a ping took {took:?}");
    }
    assert_eq!(sb.call("GET", "/v3/ping", "").status, 200);

    // The slow ones finish and are answered too.
    half_body
        .write_all(&request("POST", "/v3/environ", body.as_bytes())[100..])
        .unwrap();
    let r = read_reply(&mut BufReader::new(half_body), false);
    assert_eq!(r.status, 200, "{r:?}");
    half_head
        .write_all(b"st: tug\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_reply(&mut BufReader::new(half_head), false);
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));

    // 64 KiB of body is taken; one byte more is 413.
    let exactly = |len: usize| {
        let pad = len - "{\"BIG\":\"\"}".len();
        format!("{{\"BIG\":\"{}\"}}", "y".repeat(pad))
    };
    let r = sb.call("POST", "/v3/environ", &exactly(64 << 10));
    assert_eq!(r.status, 200, "{r:?}");
    let r = sb.call("POST", "/v3/environ", &exactly((64 << 10) + 1));
    assert_eq!(r.status, 413, "{r:?}");

    // A 1 MiB body: 413 (read while the body is still being written), and
    // tug keeps serving.
    let mut big = sb.connect();
    let writer = {
        let mut w = big.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = w.write_all(&request("POST", "/v3/environ", &vec![b'z'; 1 << 20]));
        })
    };
    let r = read_reply(&mut BufReader::new(&mut big), false);
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(r.body, "body exceeds 65536 bytes\n");
    drop(big);
    writer.join().unwrap();
    assert_eq!(sb.ctl_ok(&["ping"]), "ok\n");

    // Malformed requests: 400, and the next one is fine.
    for garbage in [
        &b"\x00\x01\x02\x03\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"POST /v3/environ HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
    ] {
        let r = sb.raw(garbage);
        assert_eq!(
            r.status,
            400,
            "{:?}: {r:?}",
            String::from_utf8_lossy(garbage)
        );
        assert_eq!(r.header("Connection"), Some("close"));
    }
    let r = sb.raw(b"GET /v3/ping HTTP/9.9\r\n\r\n");
    assert_eq!(r.status, 505, "{r:?}");
    assert_eq!(sb.ctl_ok(&["ping"]), "ok\n");
    drop(t);
}

// ---- installed as containerpilot ----

#[test]
fn containerpilot_flags_drive_the_control_socket() {
    let sb = Sandbox::new("containerpilot");
    let cp = sb.dir.join("containerpilot");
    std::os::unix::fs::symlink(tug(), &cp).unwrap();
    sb.write_config(&format!(
        r#"{{ logging: {{ output: "stdout" }},
            telemetry: {{ port: 0, interfaces: ["static:127.0.0.1"], {USER_METRICS} }},
            jobs: [ {{ name: "on-hup", exec: ["sh", "-c", "echo on-hup sees [$FOO]"], when: {{ source: "SIGHUP" }} }} ] }}"#
    ));
    let cp_cmd = |args: &[&str]| {
        let mut c = Command::new(&cp);
        c.args(args).env("TUG_SOCKET", &sb.sock);
        c
    };
    let cp_ok = |args: &[&str]| {
        let (code, out, err) = output(cp_cmd(args));
        assert_eq!(code, 0, "containerpilot {args:?}: {err}");
        out
    };
    let mut t = Tug::start(cp_cmd(&["-config", sb.config_path()]));
    t.expect(&format!("control socket listening on {}", sb.sock()));
    let addr = t.telemetry_addr();

    assert_eq!(cp_ok(&["-ping"]), "ok\n");

    cp_ok(&["-putmetric", "app_hits_total=3"]);
    assert_eq!(value(&scrape(&addr), "app_hits_total"), 3.0);

    cp_ok(&["-putenv", "FOO=from containerpilot"]);
    send(t.pid(), libc::SIGHUP);
    t.expect("on-hup sees [from containerpilot]");

    cp_ok(&["-maintenance", "enable"]);
    assert_eq!(json::bool_at(&sb.status(), &["maintenance"]), Some(true));
    cp_ok(&["-maintenance=disable"]);
    assert_eq!(json::bool_at(&sb.status(), &["maintenance"]), Some(false));

    cp_ok(&["-reload"]);
    t.expect(&format!("reloading {}", sb.config_path()));

    // Refusals and unreachable sockets keep tug ctl's exit codes.
    let (code, _, err) = output(cp_cmd(&["-putmetric", "nope=1"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unknown metric \"nope\""), "{err}");
    let mut ping = cp_cmd(&["-ping"]);
    ping.env("TUG_SOCKET", sb.dir.join("missing.sock"));
    let (code, _, err) = output(ping);
    assert_eq!(code, 3, "{err}");
    // Without TUG_SOCKET: ContainerPilot's own default socket.
    let default = Path::new("/var/run/containerpilot.socket");
    if !default.exists() {
        let mut ping = cp_cmd(&["-ping"]);
        ping.env_remove("TUG_SOCKET");
        let (code, _, err) = output(ping);
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("/var/run/containerpilot.socket"), "{err}");
    }

    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

// ---- telemetry ----

/// Jobs with known histories: `twice` exits 0 twice (one restart), `sick`
/// fails its health check, `keeper` runs until restarted by a test.
fn telemetry_config() -> String {
    format!(
        r#"{{ logging: {{ output: "stdout" }},
            telemetry: {{ port: 0, interfaces: ["static:127.0.0.1"], {USER_METRICS} }},
            jobs: [
              {{ name: "twice", exec: "echo twice ran", restarts: 1 }},
              {{ name: "sick", exec: ["sh", "-c", "{LOOP}"], health: {{ exec: "false", interval: "300ms" }} }},
              {} ] }}"#,
        looping_job("keeper", "keeper up", "")
    )
}

/// Waits for the known events of `telemetry_config`.
fn await_known_events(t: &mut Tug) {
    t.expect("job twice exited with 0");
    t.expect("job twice exited with 0");
    t.expect("job sick is unhealthy: exited with 1");
    t.expect("keeper up ");
}

#[test]
fn metrics_after_known_events_pass_promtool() {
    let sb = Sandbox::new("metrics");
    let mut t = sb.start(&telemetry_config());
    let addr = t.telemetry_addr();
    await_known_events(&mut t);
    let keeper = sb.pid_of("keeper").unwrap();
    assert!(
        sb.ctl_ok(&["restart", "keeper"])
            .starts_with("restarting job keeper (pid ")
    );
    let keeper2 = i64::from(number_after(&t.expect("keeper up "), "keeper up "));
    assert_ne!(keeper, keeper2);
    sb.ctl_refused(&["stop", "ghost"]);
    assert_eq!(sb.call("GET", "/v3/nope", "").status, 404);
    assert_eq!(
        sb.ctl_ok(&["putmetric", "app_hits_total=5", "latency_seconds=0.01"]),
        "set 2 metrics\n"
    );

    let text = scrape(&addr);
    let v = |s: &str| value(&text, s);
    // Events by code and source, under both names.
    assert_eq!(
        v(r#"tug_events_total{code="exitSuccess",source="twice"}"#),
        2.0
    );
    assert_eq!(
        v(r#"containerpilot_events{code="exitSuccess",source="twice"}"#),
        2.0
    );
    assert_eq!(
        v(r#"tug_events_total{code="startup",source="global"}"#),
        1.0
    );
    assert_eq!(
        v(r#"tug_events_total{code="exitFailed",source="keeper"}"#),
        1.0
    );
    assert!(v(r#"tug_events_total{code="unhealthy",source="sick"}"#) >= 1.0);
    // Restarts: twice's own, keeper's by ctl.
    assert_eq!(v(r#"tug_job_restarts_total{job="twice"}"#), 1.0);
    assert_eq!(v(r#"tug_job_restarts_total{job="keeper"}"#), 1.0);
    assert_eq!(sample(&text, r#"tug_job_restarts_total{job="sick"}"#), None);
    // Health checks: failures only, and the histogram counts each check.
    let fails = v(r#"tug_health_checks_total{job="sick",result="fail"}"#);
    assert!(fails >= 1.0, "{text}");
    assert_eq!(
        sample(
            &text,
            r#"tug_health_checks_total{job="sick",result="pass"}"#
        ),
        None
    );
    assert_eq!(
        v(r#"tug_health_check_duration_seconds_count{job="sick"}"#),
        fails
    );
    assert_eq!(
        v(r#"tug_health_check_duration_seconds_bucket{job="sick",le="+Inf"}"#),
        fails
    );
    let sum = v(r#"tug_health_check_duration_seconds_sum{job="sick"}"#);
    assert!(sum > 0.0 && sum < 10.0 * fails, "{sum}");
    // Control requests by route pattern and status.
    assert_eq!(
        v(r#"tug_control_requests_total{path="/v3/jobs/{job}/restart",code="200"}"#),
        1.0
    );
    assert_eq!(
        v(r#"tug_control_requests_total{path="/v3/jobs/{job}/stop",code="404"}"#),
        1.0
    );
    assert_eq!(
        v(r#"tug_control_requests_total{path="other",code="404"}"#),
        1.0
    );
    assert_eq!(
        v(r#"containerpilot_control_http_requests{code="200",path="/v3/metric"}"#),
        1.0
    );
    // tug itself.
    assert!(v("process_resident_memory_bytes") > 100_000.0);
    assert!(v("process_open_fds") >= 3.0);
    assert!(v("tug_loop_wakeups_total") > 0.0);
    // User metrics.
    assert_eq!(v("app_hits_total"), 5.0);
    assert_eq!(v(r#"latency_seconds_bucket{le="0.01"}"#), 1.0);
    assert_eq!(v(r#"latency_seconds_bucket{le="0.005"}"#), 0.0);
    promtool_accepts(&text);

    // The counters move with what happens next.
    assert!(
        sb.ctl_ok(&["restart", "keeper"])
            .starts_with("restarting job keeper (pid ")
    );
    t.expect("keeper up ");
    let text = scrape(&addr);
    assert_eq!(value(&text, r#"tug_job_restarts_total{job="keeper"}"#), 2.0);
    assert_eq!(
        value(
            &text,
            r#"tug_control_requests_total{path="/v3/jobs/{job}/restart",code="200"}"#
        ),
        2.0
    );
    promtool_accepts(&text);
    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn job_state_gauge_agrees_with_the_status() {
    // Every state a job can be in outside shutdown: completed (`twice`),
    // running (`sick`), stopped by ctl (`keeper`), waiting again after a
    // run (`on-hup`), waiting for a restart (`flaky`).
    let sb = Sandbox::new("state");
    let config = telemetry_config().replacen(
        "jobs: [",
        r#"jobs: [
              { name: "on-hup", exec: "echo on-hup ran", when: { source: "SIGHUP" } },
              { name: "flaky", exec: "sh -c 'exit 3'", restarts: 1, restartDelay: "1h" },"#,
        1,
    );
    let mut t = sb.start(&config);
    let addr = t.telemetry_addr();
    await_known_events(&mut t);
    t.expect("job flaky exited with 3");
    send(t.pid(), libc::SIGHUP);
    t.expect("job on-hup exited with 0");
    assert!(
        sb.ctl_ok(&["stop", "keeper"])
            .starts_with("stopping job keeper (pid ")
    );
    t.expect("job keeper was killed by signal 15");
    let doc = sb.status();
    let text = scrape(&addr);
    let mut states = Vec::new();
    let mut wrong = Vec::new();
    for j in json::items(json::at(&doc, &["jobs"]).unwrap()) {
        let name = json::str_at(j, &["name"]).unwrap();
        let state = json::str_at(j, &["state"]).unwrap();
        states.push(format!("{name}={state}"));
        let current: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.starts_with(&format!("tug_job_state{{job=\"{name}\",")) && l.ends_with(" 1")
            })
            .collect();
        if current
            != [format!(
                "tug_job_state{{job=\"{name}\",state=\"{state}\"}} 1"
            )]
        {
            wrong.push(format!(
                "{name} is {state} in /v3/status, /metrics has {current:?}"
            ));
        }
    }
    assert_eq!(states.len(), 5, "{states:?}");
    assert!(
        wrong.is_empty(),
        "tug_job_state disagrees:\n{}",
        wrong.join("\n")
    );
    // `flaky`'s last run failed and shutdown took its last restart: with
    // no main job, that makes tug's exit code 1 (README, "exit code").
    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(1), "{err}");
}

#[test]
fn telemetry_status_and_other_paths() {
    let sb = Sandbox::new("tstatus");
    let mut t = sb.start(&telemetry_config());
    let addr = t.telemetry_addr();
    await_known_events(&mut t);

    // ContainerPilot's shape, tug's report under `tug`.
    let r = http::call(&addr, "GET", "/status", "");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let doc = r.json();
    assert_eq!(
        json::keys(&doc),
        ["Version", "Jobs", "Services", "Watches", "tug"],
        "{r:?}"
    );
    assert_eq!(json::str_at(&doc, &["Version"]), Some("0.1.0"));
    let jobs: Vec<(String, String)> = json::items(json::at(&doc, &["Jobs"]).unwrap())
        .into_iter()
        .map(|j| {
            assert_eq!(json::keys(j), ["Name", "Status"]);
            (
                json::str_at(j, &["Name"]).unwrap().to_string(),
                json::str_at(j, &["Status"]).unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("twice", "completed"),
        ("sick", "unhealthy"),
        ("keeper", "unknown"),
    ];
    assert_eq!(
        jobs,
        want.map(|(a, b)| (a.to_string(), b.to_string())),
        "{r:?}"
    );
    assert!(json::items(json::at(&doc, &["Services"]).unwrap()).is_empty());
    assert!(json::items(json::at(&doc, &["Watches"]).unwrap()).is_empty());
    assert_eq!(
        json::i64_at(&doc, &["tug", "jobs", "2", "pid"]),
        sb.pid_of("keeper")
    );

    // HEAD: headers only; the next response on the connection follows.
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\nGET /status HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut s = BufReader::new(s);
    let head = read_reply(&mut s, true);
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        head.header("Content-Length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 100
    );
    let next = read_reply(&mut s, false);
    assert_eq!(next.status, 200, "{next:?}");
    assert!(next.body.starts_with("{\"Version\":"), "{next:?}");

    // Other paths and methods.
    for path in ["/", "/metrics/", "/v3/ping", "/favicon.ico"] {
        let r = http::call(&addr, "GET", path, "");
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    for path in ["/metrics", "/status"] {
        let r = http::call(&addr, "POST", path, "");
        assert_eq!(r.status, 405, "{path}: {r:?}");
        assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    }
    // Still scraping after all that.
    promtool_accepts(&scrape(&addr));
    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

// ---- finding the socket, usage, one job, logs ----

/// A root of its own for tug, like a FROM scratch image: a copy of the
/// static binary and a config, no /var/run, /run or /tmp. Commands run
/// chrooted into it, in a network namespace of their own (abstract
/// sockets are per network namespace) or in tug's.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let root = fresh_dir(&format!("ctl-scratch-{name}"));
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(tug(), root.join("tug")).unwrap();
        std::fs::write(
            root.join("cfg.json5"),
            r#"{ logging: { output: "stdout" } }"#,
        )
        .unwrap();
        Scratch { root }
    }

    /// `/tug ARGS` inside the root, with an empty environment: in a new
    /// network namespace (`join`: None) or in the one of process `join`;
    /// as `uid` (and its gid) when given.
    fn cmd(&self, args: &[&str], join: Option<i32>, uid: Option<u32>) -> Command {
        use std::os::unix::process::CommandExt;
        // The path resolves after pre_exec's chroot: the copy in the root.
        let mut c = Command::new("/tug");
        c.args(args).env_clear();
        let root = std::ffi::CString::new(self.root.to_str().unwrap()).unwrap();
        let netns = join.map(|pid| std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            c.pre_exec(move || {
                use std::os::fd::AsRawFd;
                let ok = |r: libc::c_int| {
                    if r == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                };
                match &netns {
                    Some(f) => ok(libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET))?,
                    None => ok(libc::unshare(libc::CLONE_NEWNET))?,
                }
                ok(libc::chroot(root.as_ptr()))?;
                ok(libc::chdir(c"/".as_ptr()))?;
                if let Some(id) = uid {
                    ok(libc::setgid(id))?;
                    ok(libc::setuid(id))?;
                }
                Ok(())
            });
        }
        c
    }

    /// tug supervising /cfg.json5 in the root; the socket it chose.
    fn start(&self, uid: Option<u32>) -> (Tug, String) {
        let mut t = Tug::start(self.cmd(&["--config", "/cfg.json5"], None, uid));
        let line = t.expect("control socket listening on ");
        let path = line
            .split_once("listening on ")
            .unwrap()
            .1
            .split('"')
            .next()
            .unwrap()
            .to_string();
        (t, path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// With nothing configured, tug and `tug ctl` agree on the socket without
/// being told, in a root without /var/run or /run (a FROM scratch image):
/// /var/run/tug.sock where /var/run exists, else /run/tug.sock (tug
/// creates /run), else the abstract @tug.sock (not root: / is not
/// writable). When nothing answers, ctl names every place it looked.
#[test]
fn ctl_finds_the_default_socket_in_a_scratch_root() {
    if !require(is_root(), "chroot and network namespaces need root") {
        return;
    }
    let sc = Scratch::new("defaults");
    let ctl = |join: i32, uid: Option<u32>, args: &[&str]| {
        let mut all = vec!["ctl"];
        all.extend_from_slice(args);
        output(sc.cmd(&all, Some(join), uid))
    };

    // Nothing runs yet: every default is named.
    let (code, out, err) = output(sc.cmd(&["ctl", "ping"], None, None));
    assert_eq!((code, out.as_str()), (3, ""), "{err}");
    assert_eq!(
        err,
        "tug ctl: is tug running? no control socket at /var/run/tug.sock, /run/tug.sock or @tug.sock (--socket or TUG_SOCKET)\n"
    );

    // Root, no /run: tug makes it.
    assert!(!sc.root.join("run").exists());
    let (mut t, path) = sc.start(None);
    assert_eq!(path, "/run/tug.sock");
    assert!(sc.root.join("run/tug.sock").exists());
    let (code, out, err) = ctl(t.pid(), None, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("tug 0.1.0, pid {}, up ", t.pid())),
        "{out}"
    );
    drop(t);
    assert!(!sc.root.join("run/tug.sock").exists());

    // /var/run exists: there.
    std::fs::create_dir_all(sc.root.join("var/run")).unwrap();
    let (mut t, path) = sc.start(None);
    assert_eq!(path, "/var/run/tug.sock");
    assert_eq!(ctl(t.pid(), None, &["ping"]).1, "ok\n");
    drop(t);

    // Not root: neither directory is writable, so the abstract name; ctl
    // in tug's network namespace finds it, ctl outside does not.
    std::fs::remove_dir_all(sc.root.join("var")).unwrap();
    std::fs::remove_dir_all(sc.root.join("run")).unwrap();
    const NOBODY: u32 = 65534;
    let (mut t, path) = sc.start(Some(NOBODY));
    assert_eq!(path, "@tug.sock");
    assert!(!sc.root.join("run").exists());
    let (code, out, err) = ctl(t.pid(), Some(NOBODY), &["ping"]);
    assert_eq!((code, out.as_str()), (0, "ok\n"), "{err}");
    assert_eq!(ctl(t.pid(), None, &["ping"]).1, "ok\n", "root may too");
    let (code, _, err) = output(sc.cmd(&["ctl", "ping"], None, None));
    assert_eq!(code, 3, "another network namespace: {err}");
    drop(t);
}

/// `tug ctl` without --socket or TUG_SOCKET reads control.socket from the
/// config in TUG_CONFIG (or CONTAINERPILOT), as `docker exec` passes the
/// image's ENV; installed as `containerpilot` too.
#[test]
fn ctl_finds_control_socket_through_the_config_in_the_environment() {
    let sb = Sandbox::new("via-config");
    sb.write_config(&format!(
        r#"{{ logging: {{ output: "stdout" }}, control: {{ socket: {} }} }}"#,
        json::quote(sb.sock())
    ));
    let mut server = tug_cmd(&["--config", sb.config_path()]);
    server.env_remove("TUG_SOCKET");
    let mut t = Tug::start(server);
    t.expect(&format!("control socket listening on {}", sb.sock()));
    for var in ["TUG_CONFIG", "CONTAINERPILOT"] {
        let mut c = tug_cmd(&["ctl", "ping"]);
        c.env_remove("TUG_SOCKET")
            .env_remove("TUG_CONFIG")
            .env_remove("CONTAINERPILOT")
            .env(var, sb.config_path());
        let (code, out, err) = output(c);
        assert_eq!((code, out.as_str()), (0, "ok\n"), "{var}: {err}");
    }
    let cp = sb.dir.join("containerpilot");
    std::os::unix::fs::symlink(tug(), &cp).unwrap();
    let mut c = Command::new(&cp);
    c.arg("-ping")
        .env_remove("TUG_SOCKET")
        .env("CONTAINERPILOT", sb.config_path());
    let (code, out, err) = output(c);
    assert_eq!(
        (code, out.as_str()),
        (0, "ok\n"),
        "containerpilot -ping: {err}"
    );
    // A socket that does not answer is named with where it came from.
    drop(t);
    let mut c = tug_cmd(&["ctl", "ping"]);
    c.env_remove("TUG_SOCKET")
        .env("TUG_CONFIG", sb.config_path());
    let (code, _, err) = output(c);
    assert_eq!(code, 3);
    assert_eq!(
        err,
        format!(
            "tug ctl: is tug running? no control socket at {} (control.socket in {})\n",
            sb.sock(),
            sb.config_path()
        )
    );
}

#[test]
fn ctl_help_and_usage_errors() {
    let ctl = |args: &[&str]| {
        let mut c = tug_cmd(&["ctl"]);
        c.args(args).env_remove("TUG_SOCKET");
        output(c)
    };
    for help in [&["--help"][..], &["help"], &["-h"], &["status", "--help"]] {
        let (code, out, err) = ctl(help);
        assert_eq!((code, err.as_str()), (0, ""), "{help:?}");
        assert!(
            out.starts_with("usage: tug ctl [--socket PATH] COMMAND\n"),
            "{out}"
        );
        assert!(
            out.contains("logs JOB [-f]") && out.contains("64 KiB"),
            "{out}"
        );
    }
    for (args, want) in [
        (
            &["stauts"][..],
            "tug ctl: unknown command \"stauts\" (did you mean \"status\"?)\n(tug ctl --help lists the commands)\n",
        ),
        (
            &["restart"],
            "tug ctl: restart: missing JOB (tug ctl restart JOB)\n",
        ),
        (
            &["signal", "web"],
            "tug ctl: signal: missing SIGNAL (tug ctl signal JOB SIGNAL)\n",
        ),
        (
            &["status", "web", "--jsno"],
            "tug ctl: status: unknown option \"--jsno\" (did you mean \"--json\"?)\n(tug ctl --help lists the commands)\n",
        ),
        (
            &["ping", "now"],
            "tug ctl: ping: unexpected \"now\" (tug ctl ping)\n",
        ),
        (&["--socket"], "tug ctl: --socket needs a PATH\n"),
    ] {
        let (code, out, err) = ctl(args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (2, "", want),
            "{args:?}"
        );
    }
}

/// `status JOB`: one job in detail; the table's RUNS and RESTARTS count
/// different things.
#[test]
fn ctl_status_of_one_job_in_detail() {
    let sb = Sandbox::new("detail");
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [
            {{ name: "flaky", exec: ["sh", "-c", "echo flaky ran; exit 3"], restarts: 2 }},
            {} ] }}"#,
        looping_job(
            "checked",
            "checked up",
            r#", health: { exec: ["true"], interval: 1, ttl: 5 }"#
        ),
    ));
    for _ in 0..3 {
        t.expect("job flaky exited with 3");
    }
    t.expect("job checked is healthy");
    let checked = sb.pid_of("checked").unwrap();

    // "key  value" lines, keys padded to one width.
    let rows = |args: &[&str]| -> Vec<(String, String)> {
        let text = sb.ctl_ok(args);
        let gap = text.find("  ").unwrap();
        let width = gap + text[gap..].find(|c| c != ' ').unwrap();
        text.lines()
            .map(|l| {
                let (k, v) = l.split_at(width);
                assert!(!v.starts_with(' '), "aligned: {text}");
                (k.trim_end().to_string(), v.to_string())
            })
            .collect()
    };
    let flaky = rows(&["status", "flaky"]);
    let keys: Vec<&str> = flaky.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "job",
            "state",
            "exec",
            "when",
            "runs",
            "restarts",
            "last exit",
            "log"
        ],
        "{flaky:?}"
    );
    let v = |rows: &[(String, String)], key: &str| {
        rows.iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no {key} in {rows:?}"))
            .1
            .clone()
    };
    assert_eq!(v(&flaky, "job"), "flaky");
    assert_eq!(v(&flaky, "state"), "completed");
    assert_eq!(v(&flaky, "exec"), r#"sh -c "echo flaky ran; exit 3""#);
    assert_eq!(v(&flaky, "when"), "at startup");
    assert_eq!(v(&flaky, "runs"), "3");
    assert_eq!(v(&flaky, "restarts"), "2 of 2");
    let exit = v(&flaky, "last exit");
    assert!(
        exit.starts_with("exit 3, ") && exit.ends_with(" ago"),
        "{exit}"
    );
    assert_eq!(
        v(&flaky, "log"),
        "3 lines, 30 bytes kept (tug ctl logs flaky)"
    );

    let checked_rows = rows(&["status", "checked"]);
    let state = v(&checked_rows, "state");
    assert!(
        state.starts_with(&format!("running, pid {checked}, started ")),
        "{state}"
    );
    assert_eq!(v(&checked_rows, "health"), "healthy");
    let check = v(&checked_rows, "check");
    assert!(
        check.starts_with("exec true, every 1s, timeout 1s; last: exited with 0, "),
        "{check}"
    );
    assert_eq!(v(&checked_rows, "restarts"), "0 of 0");

    let doc = json::parse(&sb.ctl_ok(&["status", "flaky", "--json"]));
    assert_eq!(json::u64_at(&doc, &["runs"]), Some(3));
    assert_eq!(json::u64_at(&doc, &["restarts"]), Some(2));
    assert_eq!(json::u64_at(&doc, &["restart_limit"]), Some(2));
    assert!(json::u64_at(&doc, &["last_exit_ms_ago"]).is_some());
    let doc = json::parse(&sb.ctl_ok(&["status", "--json", "checked"]));
    assert_eq!(json::str_at(&doc, &["check", "kind"]), Some("exec"));
    assert_eq!(json::u64_at(&doc, &["check", "interval_ms"]), Some(1000));
    assert_eq!(json::bool_at(&doc, &["check", "last_passed"]), Some(true));

    let table = sb.ctl_ok(&["status"]);
    let row = |job: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{job} ")))
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        row("flaky")[1..],
        ["completed", "-", "3", "2/2", "-", "exit", "3", "-"],
        "{table}"
    );
    assert_eq!(row("checked")[3..5], ["1", "0/0"], "{table}");

    assert_eq!(
        sb.ctl_refused(&["status", "ghost"]),
        "tug ctl: no job named ghost\n"
    );
    // flaky's last run failed with no restarts left: tug exits 1.
    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(1), "{err}");
}

/// `logs JOB`: the job's recent output, stdout and stderr, at most 64 KiB
/// of whole lines; `-f` follows it until tug ends the stream; raw jobs
/// keep none.
#[test]
fn ctl_logs_shows_and_follows_a_jobs_output() {
    let sb = Sandbox::new("logs");
    let talker = sb.script(
        "talker.sh",
        &format!(
            "trap 'echo got USR1' USR1\n\
             echo hello out\n\
             echo hello err >&2\n\
             {LOOP}\n"
        ),
    );
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [
            {{ name: "talker", exec: ["sh", {}] }},
            {{ name: "big", exec: ["sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo \"line $i of the big job, padded to about fifty\"; i=$((i+1)); done; echo big done"] }},
            {} ] }}"#,
        json::quote(&talker),
        looping_job("raw", "raw up", r#", logging: { raw: true }"#),
    ));
    t.expect("hello out");
    t.expect("hello err");
    t.expect("big done");

    let logs = sb.ctl_ok(&["logs", "talker"]);
    let mut lines: Vec<&str> = logs.lines().collect();
    lines.sort();
    assert_eq!(lines, ["hello err", "hello out"], "{logs}");

    // The ring keeps the newest whole lines, 64 KiB at most.
    let big = sb.ctl_ok(&["logs", "big"]);
    assert!(
        big.len() <= 64 << 10 && big.len() > 60 << 10,
        "{}",
        big.len()
    );
    assert!(big.ends_with("line 1999 of the big job, padded to about fifty\nbig done\n"));
    assert!(
        big.starts_with("line "),
        "whole lines only: {:?}",
        &big[..60]
    );
    assert!(!big.contains("line 0 of"));

    assert_eq!(
        sb.ctl_refused(&["logs", "raw"]),
        "tug ctl: job raw writes to tug's stdout and stderr itself (raw output): tug keeps none of it\n"
    );
    assert_eq!(
        sb.ctl_refused(&["logs", "ghost"]),
        "tug ctl: no job named ghost\n"
    );

    // -f: what is kept, then each new line as it comes.
    let mut follow = {
        let mut c = tug_cmd(&["ctl", "--socket", sb.sock(), "logs", "-f", "talker"]);
        c.env_remove("TUG_SOCKET");
        Running::start(c)
    };
    follow.expect_line("hello out");
    follow.expect_line("hello err");
    sb.ctl_ok(&["signal", "talker", "USR1"]);
    follow.expect_line("got USR1");
    sb.ctl_ok(&["signal", "talker", "USR1"]);
    follow.expect_line("got USR1");
    // Another job's lines are not this stream's.
    sb.ctl_ok(&["restart", "big"]);
    t.expect("big done");
    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
    // tug is gone: the stream ended, and ctl with it.
    let (status, lines, err) = follow.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!lines.iter().any(|l| l.contains("big")), "{lines:?}");
}

/// A follower that stops reading is dropped once it is 128 KiB behind,
/// told so at the end of its stream, and tug serves everyone else
/// meanwhile.
#[test]
fn a_follower_that_does_not_read_is_dropped_and_the_loop_goes_on() {
    let sb = Sandbox::new("slow-follower");
    let flood = sb.script(
        "flood.sh",
        &format!(
            "trap 'i=0; while [ $i -lt 20000 ]; do echo \"flood $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); done; echo flood done' USR1\n\
             echo flood ready\n\
             {LOOP}\n"
        ),
    );
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [ {{ name: "flood", exec: ["sh", {}] }} ] }}"#,
        json::quote(&flood)
    ));
    t.expect("flood ready");
    let mut slow = BufReader::new(sb.connect());
    slow.get_mut()
        .write_all(b"GET /v3/jobs/flood/logs?follow HTTP/1.1\r\nHost: tug\r\n\r\n")
        .unwrap();
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(slow.read_line(&mut head).unwrap() > 0, "{head}");
    }
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    // The follower is registered once its head is out; now it reads no more.
    sb.ctl_ok(&["signal", "flood", "USR1"]);
    t.expect("control: dropped a follower of job flood's output: it left 128 KiB unread");
    let start = Instant::now();
    assert_eq!(sb.ctl_ok(&["ping"]), "ok\n");
    assert!(start.elapsed() < Duration::from_secs(2));
    t.expect("flood done");
    let mut all = String::new();
    std::io::Read::read_to_string(&mut slow, &mut all).unwrap();
    assert!(all.starts_with("flood ready\n"), "{}", &all[..40]);
    assert!(
        all.ends_with("\ntug: stopped following: more than 128 KiB of output went unread (tug ctl logs -f again)\n"),
        "{}",
        &all[all.len() - 200..]
    );
    assert!(
        all.len() < 1 << 20,
        "the rest was never buffered: {}",
        all.len()
    );
    let (status, _, err) = t.finish_with_ctl_shutdown(&sb);
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn reload_logs_the_new_configs_warnings() {
    let sb = Sandbox::new("reload-warn");
    let head = r#"{ logging: { output: "stdout" }, jobs: ["#;
    let v1 = [head.to_string(), looping_job("a", "a up", ""), "] }".into()].join("\n");
    let mut t = sb.start(&v1);
    t.expect("a up ");
    // initial_status without port loads (as in ContainerPilot), with a warning.
    let v2 = v1.replace(
        r#"{ name: "a","#,
        r#"{ name: "a", initial_status: "passing","#,
    );
    assert_ne!(v1, v2, "the job's definition must change");
    sb.write_config(&v2);
    assert_eq!(sb.ctl_ok(&["reload"]), "reloaded the config\n");
    let line = t.expect("jobs[0].initial_status: has no effect without 'port'");
    assert!(line.contains("warning"), "{line}");
    assert!(line.contains(sb.config_path()), "{line}");
}

/// `tug ctl start` gives a job that used up its restarts a new budget, and
/// the RESTARTS count starts again with it (never "2/1").
#[test]
fn a_new_start_resets_the_restart_count_with_the_budget() {
    let sb = Sandbox::new("rebudget");
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [
            {{ name: "flop", exec: ["sh", "-c", "echo flop ran; exit 3"], restarts: 1, restartDelay: "10ms" }},
            {} ] }}"#,
        looping_job("keep", "keep up", "")
    ));
    t.expect("keep up ");
    for _ in 0..2 {
        t.expect("job flop exited with 3");
    }
    let restarts = |sb: &Sandbox| json::u64_at(&sb.status(), &["jobs", "0", "restarts"]);
    assert_eq!(restarts(&sb), Some(1));
    sb.ctl_ok(&["start", "flop"]);
    for _ in 0..2 {
        t.expect("job flop exited with 3");
    }
    assert_eq!(restarts(&sb), Some(1), "one restart of the new budget");
}

/// `tug ctl start` of a job that cannot run says so (exit 1, the reason),
/// not "started".
#[test]
fn ctl_start_of_a_job_that_cannot_run_is_refused_with_the_reason() {
    let sb = Sandbox::new("cannot-run");
    let missing = sb.dir.join("no-such-program");
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [
            {{ name: "ghostly", exec: [{}], when: {{ source: "keep", once: "exitSuccess" }} }},
            {} ] }}"#,
        json::quote(missing.to_str().unwrap()),
        looping_job("keep", "keep up", "")
    ));
    t.expect("keep up ");
    let err = sb.ctl_refused(&["start", "ghostly"]);
    assert!(
        err.starts_with("tug ctl: job ghostly could not start: exec ")
            && err.contains("No such file or directory"),
        "{err}"
    );
}

/// A job signalled for `tug ctl restart` that has not exited yet shows as
/// stopping (its checks are off), not running.
#[test]
fn a_job_being_restarted_shows_as_stopping() {
    let sb = Sandbox::new("restarting");
    let mut t = sb.start(&format!(
        r#"{{ logging: {{ output: "stdout" }}, jobs: [
            {{ name: "stubborn", exec: ["sh", "-c", "trap 'echo got TERM' TERM; echo stubborn up; {LOOP}"], stopTimeout: "3s" }} ] }}"#
    ));
    t.expect("stubborn up");
    sb.ctl_ok(&["restart", "stubborn"]);
    t.expect("got TERM");
    let doc = sb.status();
    assert_eq!(
        json::str_at(&doc, &["jobs", "0", "state"]),
        Some("stopping")
    );
    // The stopTimeout ends it and the restart follows.
    t.expect("stubborn up");
}

/// A reload that removes a job ends its followers' streams (they would
/// otherwise hang until tug exits), and tug keeps running.
#[test]
fn a_reload_that_removes_a_job_ends_its_followers() {
    let sb = Sandbox::new("follow-removed");
    let head = r#"{ logging: { output: "stdout" }, jobs: ["#;
    let both = [
        head.to_string(),
        looping_job("gone", "gone up", "") + ",",
        looping_job("keep", "keep up", ""),
        "] }".into(),
    ]
    .join("\n");
    let mut t = sb.start(&both);
    t.expect("gone up ");
    t.expect("keep up ");
    let mut follow = {
        let mut c = tug_cmd(&["ctl", "--socket", sb.sock(), "logs", "-f", "gone"]);
        c.env_remove("TUG_SOCKET");
        Running::start(c)
    };
    follow.expect_line("gone up ");
    sb.write_config(
        &[
            head.to_string(),
            looping_job("keep", "keep up", ""),
            "] }".into(),
        ]
        .join("\n"),
    );
    assert_eq!(sb.ctl_ok(&["reload"]), "reloaded the config\n");
    // The stream ends while tug runs on.
    let (status, _, err) = follow.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(sb.ctl_ok(&["ping"]), "ok\n");
}
