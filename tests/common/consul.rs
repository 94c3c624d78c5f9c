//! The Consul emulator (tests/consul/emulator.py) as a test fixture: one
//! process per test, on free loopback ports, killed on Drop (and gone by
//! itself when the test process dies: it exits at EOF on stdin). Its
//! stderr is kept and printed when the test panics.
//!
//! Assertions wait on the emulator's `/_emulator/wait` (one blocking call
//! per condition, no polling); see the emulator's module doc for the
//! query language.

use super::capture::drain;
use super::http::{self, Response};
use super::json::{self, Node};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/consul/emulator.py");

pub struct Emulator {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: String,
    admin: String,
    log: Arc<Mutex<String>>,
}

impl Emulator {
    /// An emulator with Consul's defaults.
    pub fn start() -> Emulator {
        Emulator::start_with(&[])
    }

    /// With extra emulator flags, e.g. `["--token", "s3cret"]`,
    /// `["--deregister-min", "0s"]`, `["--check-update-interval", "0s"]`.
    pub fn start_with(args: &[&str]) -> Emulator {
        let mut cmd = Command::new("python3");
        cmd.arg(SCRIPT)
            .args(["--port", "0", "--bind", "127.0.0.1"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("python3 {SCRIPT}: {e} (scripts/test-deps.sh installs python3)")
        });
        let log = Arc::new(Mutex::new(String::new()));
        drain(child.stderr.take().unwrap(), log.clone(), None);
        let (tx, rx) = mpsc::channel();
        drain(
            child.stdout.take().unwrap(),
            Arc::new(Mutex::new(String::new())),
            Some(tx),
        );
        let stdin = child.stdin.take();
        let mut admin = None;
        let addr = loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(line) => {
                    if let Some(a) = line.strip_prefix("admin ") {
                        admin = Some(a.to_string());
                    } else if let Some(a) = line.strip_prefix("listening ") {
                        break a.to_string();
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "the Consul emulator did not get ready ({e}); stderr:\n{}",
                        log.lock().unwrap()
                    );
                }
            }
        };
        Emulator {
            child,
            stdin,
            addr,
            admin: admin.expect("the emulator printed no admin line"),
            log,
        }
    }

    /// `127.0.0.1:PORT`: what `consul:` or CONSUL_HTTP_ADDR takes.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The admin listener: reachable while the agent port refuses.
    pub fn admin_addr(&self) -> &str {
        &self.admin
    }

    /// Everything the emulator logged on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// One request to the Consul API; panics on I/O errors.
    pub fn api(&self, method: &str, path: &str, body: &str) -> Response {
        http::call(&self.addr, method, path, body)
    }

    /// One request to the Consul API, I/O errors returned (for faults).
    pub fn try_api(
        &self,
        method: &str,
        path: &str,
        body: &str,
        timeout: Duration,
    ) -> std::io::Result<Response> {
        http::request(&self.addr, method, path, &[], body.as_bytes(), timeout)
    }

    fn admin_call(&self, method: &str, path: &str, body: &str, timeout: Duration) -> Response {
        http::request(&self.admin, method, path, &[], body.as_bytes(), timeout).unwrap_or_else(
            |e| {
                panic!(
                    "emulator admin {method} {path}: {e}\nemulator log:\n{}",
                    self.log()
                )
            },
        )
    }

    fn admin_ok(&self, method: &str, path: &str, body: &str) -> Node {
        let r = self.admin_call(method, path, body, http::TIMEOUT);
        assert_eq!(r.status, 200, "emulator admin {method} {path}: {r:?}");
        r.json()
    }

    /// The emulator's whole state: `index`, `services` and `checks` (the
    /// agent's, by ID; checks carry `Status`, `Output`, `last_update`,
    /// `expires`, `critical_since`), `nodes`, `kv`, `fault`, `requests`
    /// (`seq`, `method`, `path`, `body`, `status`, `time`), `next_seq`.
    pub fn state(&self) -> Node {
        self.admin_ok("GET", "/_emulator/state", "")
    }

    /// The state with only the requests numbered `since` or later.
    pub fn state_since(&self, since: u64) -> Node {
        self.admin_ok("GET", &format!("/_emulator/state?since={since}"), "")
    }

    pub fn index(&self) -> u64 {
        json::u64_at(&self.state(), &["index"]).unwrap()
    }

    /// The number the next request will get: `since=` for `wait`.
    pub fn request_seq(&self) -> u64 {
        json::u64_at(&self.state(), &["next_seq"]).unwrap()
    }

    /// Blocks until the condition holds (200), times out (408) or, with
    /// `hold=`, stops holding (412); returns the status and the answer
    /// (`{"met":..,"value":..}`). `query` is the emulator's wait query,
    /// e.g. `check=service:web-1&status=passing&timeout=5s`.
    pub fn wait_value(&self, query: &str) -> (u16, Node) {
        let timeout = query
            .split('&')
            .filter_map(|kv| {
                kv.strip_prefix("timeout=")
                    .or_else(|| kv.strip_prefix("hold="))
            })
            .filter_map(|d| tug::duration::parse(d).ok())
            .map(|ns: u64| Duration::from_nanos(ns))
            .sum::<Duration>();
        let limit = timeout.max(Duration::from_secs(10)) + Duration::from_secs(10);
        let r = self.admin_call("GET", &format!("/_emulator/wait?{query}"), "", limit);
        assert!(
            matches!(r.status, 200 | 408 | 412),
            "emulator wait?{query}: {r:?}"
        );
        (r.status, r.json())
    }

    /// Whether the condition came true (see `wait_value`).
    pub fn wait(&self, query: &str) -> bool {
        self.wait_value(query).0 == 200
    }

    /// Waits for the condition or panics with what the emulator saw and
    /// its log; returns the matched value.
    pub fn expect(&self, query: &str) -> Node {
        let (status, answer) = self.wait_value(query);
        if status != 200 {
            let value = json::at(&answer, &["value"])
                .map(|v| format!("{v:?}"))
                .unwrap_or_default();
            panic!(
                "emulator condition {query:?} not met (HTTP {status}); value: {value}\nemulator log:\n{}",
                self.log()
            );
        }
        json::at(&answer, &["value"]).cloned().unwrap()
    }

    /// Sets a fault on the agent port: "refuse", "stall", "500",
    /// "malformed", "drop_mid_body" or "none".
    pub fn fault(&self, mode: &str) {
        self.fault_with(&format!("{{\"mode\":{}}}", json::quote(mode)));
    }

    /// The full spec: `{"mode":"500","paths":["/v1/health/"],"count":2,"for":"1s"}`.
    pub fn fault_with(&self, spec_json: &str) {
        self.admin_ok("POST", "/_emulator/fault", spec_json);
    }

    pub fn clear_fault(&self) {
        self.fault("none");
    }

    /// An agent restart: `keep` = with its data dir (registrations come
    /// back), else they are forgotten (and leave the catalog).
    pub fn restart(&self, keep: bool) {
        let q = if keep { "?keep=1" } else { "" };
        self.admin_ok("POST", &format!("/_emulator/restart{q}"), "");
    }

    /// A `-dev` agent restarting: registrations and KV lost, and the index
    /// starts again from 1 (it goes backwards).
    pub fn restart_reset(&self) {
        self.admin_ok("POST", "/_emulator/restart?reset=1", "");
    }

    pub fn kv_put(&self, key: &str, value: &str) {
        let r = self.api("PUT", &format!("/v1/kv/{}", http::encode(key, true)), value);
        assert!(r.status == 200 && r.text() == "true", "kv put {key}: {r:?}");
    }

    pub fn kv_get(&self, key: &str) -> Option<String> {
        let r = self.api(
            "GET",
            &format!("/v1/kv/{}?raw", http::encode(key, true)),
            "",
        );
        match r.status {
            200 => Some(r.text()),
            404 => None,
            _ => panic!("kv get {key}: {r:?}"),
        }
    }

    pub fn kv_delete(&self, key: &str) {
        let r = self.api("DELETE", &format!("/v1/kv/{}", http::encode(key, true)), "");
        assert_eq!(r.status, 200, "kv delete {key}: {r:?}");
    }

    /// Registers a service (an agent service definition, JSON) on another
    /// node, "other-node" at 127.0.0.2: another container's service. It is
    /// not forgotten when the agent restarts.
    pub fn register_other(&self, service_json: &str) {
        self.register_other_on("other-node", "127.0.0.2", service_json);
    }

    pub fn register_other_on(&self, node: &str, address: &str, service_json: &str) {
        let path = format!(
            "/_emulator/register?node={}&address={}",
            http::encode(node, false),
            http::encode(address, false)
        );
        self.admin_ok("POST", &path, service_json);
    }

    pub fn deregister_other(&self, id: &str) {
        self.deregister_other_on("other-node", id);
    }

    pub fn deregister_other_on(&self, node: &str, id: &str) {
        let path = format!(
            "/_emulator/deregister?node={}&id={}",
            http::encode(node, false),
            http::encode(id, false)
        );
        self.admin_ok("POST", &path, "");
    }

    /// Sets a check's status directly, on the agent's node or `node`.
    pub fn set_check(&self, id: &str, status: &str) {
        self.set_check_on(None, id, status);
    }

    pub fn set_check_on(&self, node: Option<&str>, id: &str, status: &str) {
        let mut path = format!(
            "/_emulator/check?id={}&status={status}",
            http::encode(id, false)
        );
        if let Some(n) = node {
            path.push_str(&format!("&node={}", http::encode(n, false)));
        }
        self.admin_ok("POST", &path, "");
    }

    /// Drops KV tombstones (Consul reaps them after tombstone_ttl): a
    /// prefix's index can then go backwards.
    pub fn reap_tombstones(&self) {
        self.admin_ok("POST", "/_emulator/kv/reap", "");
    }

    /// Closes the emulator's stdin: it must exit by itself.
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- Consul emulator log ---\n{}--- end ---", self.log());
        }
    }
}
