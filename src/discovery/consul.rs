//! The Consul backend, sans-IO: each service and each watch is a task that
//! builds its next `Call` and reads the `Response`; `mod.rs` moves them.
//!
//! Services (agent API, one TTL check `service:<ID>` per service):
//! - At most one request in flight per service. Check results that arrive
//!   meanwhile overwrite one pending slot, so only the newest is sent when
//!   the call completes (a slow agent never builds a queue).
//! - Registration carries the newest known status (initial_status, else
//!   passing) and replaces the check (`?replace-existing-checks`), so it is
//!   idempotent and doubles as "replay": it is sent whenever the agent may
//!   have lost the service — a 404 or old-style 500 "Unknown check" on a
//!   check update, or any failed request (refused, timeout, 5xx), since an
//!   agent restarted without its data dir forgets everything.
//! - A failing check is sent as critical at once (ContainerPilot let the
//!   TTL lapse). Maintenance deregisters and forgets the heartbeat; the
//!   next passing check after it registers again.
//!
//! Watches are blocking queries (`index` + `wait=60s`) with Consul's index
//! rules (backwards: reset to 0; 0: use 1) and the full instance set
//! compared on every return, since a return is not proof of change. After
//! an error the next read is without index, so an agent that came back
//! with a lower index (a -dev restart) is seen at once, not after `wait`.
//! An answer is reported as it arrives; only the next query is paced
//! (`retry::CONSUL_WATCH`: it waits at most 200 ms, none after a quiet
//! moment).

use super::retry::{CONSUL_WATCH, RateLimit, Retry, watch_gate};
use super::watch::{
    Reported, base64_member, kv_instance, normalize, string_list, string_map, worst_status,
};
use super::{
    CALL_TIMEOUT_NS, Health, Instance, Notice, Reg, Service, ServiceTask, Step, Task, WatchKind,
    clip, describe_status, health_word,
};
use crate::json::{self, Writer};
use crate::json5::{Node, Value};
use crate::log::info;
use crate::net::client::{Call, Response};
use crate::net::http::percent_encode;
use crate::num::dec;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The `wait` of blocking queries; the call deadline adds Consul's jitter
/// (wait/16) and a margin.
pub const WAIT_SECS: u64 = 60;
pub const BLOCKING_TIMEOUT_NS: u64 = (WAIT_SECS + WAIT_SECS / 16 + 5) * 1_000_000_000 + 1;
/// Consul keeps 4 KiB of check output; sending more is waste.
const MAX_OUTPUT: usize = 4096;
const SMALL_BODY: usize = 64 << 10;
const WATCH_BODY: usize = 8 << 20;

fn call(method: &'static str, path: String, body: Option<String>, token: Option<&str>) -> Call {
    let mut headers = Vec::new();
    if let Some(t) = token {
        headers.push((String::from("X-Consul-Token"), String::from(t)));
    }
    if body.is_some() {
        headers.push((
            String::from("Content-Type"),
            String::from("application/json"),
        ));
    }
    Call {
        method,
        path,
        headers,
        body: body.map(String::into_bytes).unwrap_or_default(),
        timeout_ns: Some(CALL_TIMEOUT_NS),
        stream: false,
        max_body: SMALL_BODY,
    }
}

fn encoded(s: &str, keep: &[u8]) -> String {
    let mut out = String::new();
    percent_encode(&mut out, s, keep);
    out
}

/// The TTL as Consul reads it: whole seconds, rounded up, at least 1.
fn ttl_text(ttl_ns: u64) -> String {
    format!("{}s", ttl_ns.div_ceil(1_000_000_000).max(1))
}

/// `PUT /v1/agent/service/register` with the service and its TTL check.
pub fn register_body(svc: &Service, status: Health) -> String {
    let mut w = Writer::new();
    w.begin_object();
    super::write_service(
        &mut w,
        svc,
        ["ID", "Name", "Address", "Port", "Tags", "Meta"],
    );
    w.key("EnableTagOverride")
        .bool(svc.enable_tag_override)
        .key("Check")
        .begin_object()
        .field("CheckID", &check_id(&svc.id))
        .field("Name", &format!("Service '{}' check", svc.name))
        .field("TTL", &ttl_text(svc.ttl_ns))
        .field("Status", health_word(status))
        .field("Notes", &format!("TTL for {} set by tug", svc.name));
    if let Some(after) = &svc.deregister_after {
        w.field("DeregisterCriticalServiceAfter", after);
    }
    w.end_object().end_object();
    w.finish()
}

pub fn check_id(service_id: &str) -> String {
    format!("service:{service_id}")
}

pub fn update_body(status: Health, output: &str) -> String {
    let mut w = Writer::new();
    w.begin_object()
        .field("Status", health_word(status))
        .field("Output", output)
        .end_object();
    w.finish()
}

#[derive(Debug)]
enum Op {
    Register(Health),
    Update(Health, String),
    Deregister,
}

pub struct ConsulService {
    svc: Service,
    token: Option<String>,
    reg: Reg,
    /// The status the agent last accepted.
    reg_status: Health,
    /// Registration is wanted: initial_status was given, or a check passed
    /// (since the service was added or maintenance ended).
    armed: bool,
    maint: bool,
    removed: bool,
    /// Shutdown: one deregistration attempt, then finish.
    shutting: bool,
    /// The newest check result not yet sent.
    pending: Option<(Health, String)>,
    latest: Option<Health>,
    op: Option<Op>,
    retry: Retry,
    /// Said once when registration starts, for the log.
    why: Option<&'static str>,
}

fn parse_health(s: &str) -> Health {
    match s {
        "warning" => Health::Warning,
        "critical" => Health::Critical,
        _ => Health::Passing,
    }
}

impl ConsulService {
    pub fn new(svc: Service, token: Option<String>, seed: u64) -> ConsulService {
        let mut s = ConsulService {
            svc,
            token,
            reg: Reg::No,
            reg_status: Health::Critical,
            armed: false,
            maint: false,
            removed: false,
            shutting: false,
            pending: None,
            latest: None,
            op: None,
            retry: Retry::new(seed),
            why: None,
        };
        s.reset_desire();
        s
    }

    fn reset_desire(&mut self) {
        self.armed = self.svc.initial_status.is_some();
        self.latest = self.svc.initial_status.as_deref().map(parse_health);
        self.pending = None;
        self.removed = false;
    }

    fn wanted(&self) -> bool {
        self.armed && !self.maint && !self.removed
    }

    fn label(&self) -> String {
        format!("consul: {} for service {}", self.op_name(), self.svc.id)
    }

    fn op_name(&self) -> &'static str {
        match self.op {
            Some(Op::Register(_)) => "registration",
            Some(Op::Update(..)) => "check update",
            Some(Op::Deregister) | None => "deregistration",
        }
    }

    fn register_call(&mut self) -> Call {
        let status = self.latest.unwrap_or(Health::Passing);
        // The registration carries the newest status: a pending update of
        // it would repeat what the agent is about to hear.
        self.pending = None;
        if let Some(why) = self.why.take() {
            info!("consul: re-registering service {}: {why}", self.svc.id);
        }
        self.op = Some(Op::Register(status));
        call(
            "PUT",
            String::from("/v1/agent/service/register?replace-existing-checks"),
            Some(register_body(&self.svc, status)),
            self.token.as_deref(),
        )
    }
}

/// Whether a check-update answer means "the agent does not know this
/// check": 404 on current agents, 500 "Unknown check" on old ones.
fn unknown_check(resp: &Response) -> bool {
    resp.head.status == 404
        || (resp.head.status == 500 && {
            let body = String::from_utf8_lossy(&resp.body);
            body.contains("nknown check") || body.contains("nknown service")
        })
}

impl Task for ConsulService {
    fn next(&mut self, now: u64) -> Step {
        if self.wanted() {
            if let Some(t) = self.retry.waiting(now) {
                return Step::Wait(t);
            }
            if self.reg != Reg::Yes {
                return Step::Send(self.register_call());
            }
            if let Some((h, out)) = self.pending.take() {
                let path = format!(
                    "/v1/agent/check/update/{}",
                    encoded(&check_id(&self.svc.id), b":")
                );
                let body = update_body(h, &out);
                self.op = Some(Op::Update(h, out));
                return Step::Send(call("PUT", path, Some(body), self.token.as_deref()));
            }
            return Step::Idle;
        }
        if self.reg != Reg::No {
            if let Some(t) = self.retry.waiting(now) {
                return Step::Wait(t);
            }
            self.op = Some(Op::Deregister);
            let path = format!(
                "/v1/agent/service/deregister/{}",
                encoded(&self.svc.id, b":")
            );
            return Step::Send(call("PUT", path, None, self.token.as_deref()));
        }
        if self.removed {
            Step::Finished
        } else {
            Step::Idle
        }
    }

    fn done(&mut self, now: u64, result: Result<Response, String>, _out: &mut Vec<Notice>) {
        let label = self.label();
        let Some(op) = self.op.take() else {
            return;
        };
        let resp = match result {
            Ok(r) if r.head.status == 200 => Ok(r),
            Ok(r) => Err(r),
            Err(e) => {
                self.failed(now, &label, op, &e);
                return;
            }
        };
        match (op, resp) {
            (Op::Register(h), Ok(_)) => {
                self.retry.succeeded(&label);
                self.reg = Reg::Yes;
                self.reg_status = h;
                let s = &self.svc;
                info!(
                    "consul: registered service {} ({} at {}:{}, {})",
                    s.id,
                    s.name,
                    s.address,
                    s.port,
                    health_word(h)
                );
            }
            (Op::Update(h, output), Ok(_)) => {
                self.retry.succeeded(&label);
                if h != self.reg_status && h != Health::Passing {
                    info!(
                        "consul: marked service {} {}: {}",
                        self.svc.id,
                        health_word(h),
                        output.trim()
                    );
                } else if h != self.reg_status {
                    info!("consul: service {} is passing again", self.svc.id);
                }
                self.reg_status = h;
            }
            (Op::Update(..), Err(r)) if unknown_check(&r) => {
                // Not a failure: the agent lost the service (restart
                // without data, or someone deregistered it). Registering
                // again carries the newest status; no backoff.
                self.reg = Reg::No;
                self.why = Some("the agent does not know its check");
            }
            (Op::Deregister, Ok(_)) => {
                self.retry.succeeded(&label);
                self.reg = Reg::No;
                info!("consul: deregistered service {}", self.svc.id);
            }
            (Op::Deregister, Err(r)) if r.head.status == 404 => {
                self.retry.succeeded(&label);
                self.reg = Reg::No;
                info!(
                    "consul: deregistered service {} (the agent had already forgotten it)",
                    self.svc.id
                );
            }
            (op, Err(r)) => {
                let reason = describe_status(&r);
                self.failed(now, &label, op, &reason);
            }
        }
    }
}

impl ConsulService {
    fn failed(&mut self, now: u64, label: &str, op: Op, reason: &str) {
        self.retry.failed(now, label, reason);
        match op {
            Op::Register(_) => self.reg = Reg::Unknown,
            Op::Update(..) => {
                // The agent may be back without its state: replay by
                // registering, which carries the newest result.
                self.reg = Reg::Unknown;
                self.why = Some("the agent failed to take a check update");
            }
            Op::Deregister => {
                if self.shutting {
                    crate::log::warning!(
                        "consul: gave up deregistering service {} at shutdown",
                        self.svc.id
                    );
                    self.reg = Reg::No;
                } else {
                    self.reg.doubt();
                }
            }
        }
    }
}

impl ServiceTask for ConsulService {
    fn set_health(&mut self, h: Health, output: &str) {
        if self.maint || self.removed {
            return;
        }
        self.latest = Some(h);
        if h == Health::Passing && !self.armed {
            self.armed = true;
        }
        self.pending = Some((h, String::from(clip(output, MAX_OUTPUT))));
    }

    fn maintenance(&mut self, on: bool) {
        self.maint = on;
        self.pending = None;
        if !on {
            self.armed = false;
            self.why = None;
        }
    }

    fn remove(&mut self) {
        self.removed = true;
        self.pending = None;
        // Leaving the catalog is worth trying at once, even mid-backoff.
        self.retry.skip_wait();
    }

    fn revive(&mut self, svc: Service) {
        self.svc = svc;
        self.reset_desire();
        // The definition may have changed (a reload).
        self.reg.doubt();
    }

    fn shutdown(&mut self) -> bool {
        self.remove();
        self.shutting = true;
        // A check update may be abandoned; a registration may not (it could
        // land after the deregistration and leave the service behind).
        if matches!(self.op, Some(Op::Update(..))) {
            self.op = None;
            self.reg.doubt();
            return true;
        }
        false
    }

    fn state(&self) -> String {
        if self.maint {
            return String::from("maintenance");
        }
        if let Some(e) = &self.retry.error {
            return format!("error: {e}");
        }
        match self.reg {
            Reg::Yes if !self.removed => String::from(health_word(self.reg_status)),
            _ if self.wanted() => String::from("registering"),
            _ => String::from("unregistered"),
        }
    }
}

/// A blocking-query watch on a service's health or on KV.
pub struct ConsulWatch {
    pub watch: usize,
    name: String,
    kind: WatchKind,
    token: Option<String>,
    index: u64,
    reported: Reported,
    retry: Retry,
    rate: RateLimit,
    in_flight: bool,
}

/// The next index from the previous one and the response's: backwards
/// resets the loop (0: ask without index), 0 becomes 1 (A.6).
pub fn next_index(prev: u64, got: u64) -> u64 {
    if got < prev {
        0
    } else if got == 0 {
        1
    } else {
        got
    }
}

/// The request path of a watch (without blocking parameters).
pub fn watch_path(kind: &WatchKind) -> String {
    let mut p = String::new();
    match kind {
        WatchKind::Service { service, tag, dc } => {
            p.push_str("/v1/health/service/");
            percent_encode(&mut p, service, b"");
            let mut sep = '?';
            for (k, v) in [("tag", tag), ("dc", dc)] {
                if let Some(v) = v {
                    p.push(sep);
                    p.push_str(k);
                    p.push('=');
                    percent_encode(&mut p, v, b"");
                    sep = '&';
                }
            }
        }
        WatchKind::Key(key) => {
            p.push_str("/v1/kv/");
            percent_encode(&mut p, key.trim_start_matches('/'), b"/");
        }
        WatchKind::Prefix(prefix) => {
            p.push_str("/v1/kv/");
            percent_encode(&mut p, prefix.trim_start_matches('/'), b"/");
            p.push_str("?recurse");
        }
    }
    p
}

fn entries(body: &[u8]) -> Result<Vec<Node>, String> {
    let doc = json::parse(body)?;
    match doc.value {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        other => Err(format!("expected a JSON array, found {}", other.kind())),
    }
}

/// The instances in a `/v1/health/service/<name>` answer.
pub fn parse_health_service(body: &[u8]) -> Result<Vec<Instance>, String> {
    let mut set = Vec::new();
    for e in entries(body)? {
        let svc = json::get(&e, "Service").ok_or("an entry without Service")?;
        let id = json::get(svc, "ID")
            .and_then(json::as_str)
            .ok_or("a service without ID")?;
        let port = match json::get(svc, "Port") {
            None => 0,
            Some(p) => json::as_u64(p)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or("a service with a bad Port")?,
        };
        let own = json::get(svc, "Address")
            .and_then(json::as_str)
            .unwrap_or("");
        let node = json::get(&e, "Node")
            .and_then(|n| json::get(n, "Address"))
            .and_then(json::as_str)
            .unwrap_or("");
        let checks = json::get(&e, "Checks")
            .and_then(json::as_array)
            .unwrap_or(&[]);
        let status = worst_status(checks.iter().map(|c| {
            json::get(c, "Status")
                .and_then(json::as_str)
                .unwrap_or("critical")
        }));
        set.push(Instance {
            id: String::from(id),
            address: String::from(if own.is_empty() { node } else { own }),
            port,
            tags: string_list(json::get(svc, "Tags")),
            meta: string_map(json::get(svc, "Meta")),
            status: String::from(status),
        });
    }
    Ok(normalize(set))
}

/// The keys in a `/v1/kv/<key>` answer (Value is base64 or null).
pub fn parse_kv(body: &[u8]) -> Result<Vec<Instance>, String> {
    let mut set = Vec::new();
    for e in entries(body)? {
        let key = json::get(&e, "Key")
            .and_then(json::as_str)
            .ok_or("a KV entry without Key")?;
        let value = base64_member(&e, "Value")?;
        set.push(kv_instance(key.as_bytes(), &value));
    }
    Ok(normalize(set))
}

impl ConsulWatch {
    pub fn new(
        watch: usize,
        name: String,
        kind: WatchKind,
        token: Option<String>,
        seed: u64,
    ) -> Self {
        ConsulWatch {
            watch,
            name,
            kind,
            token,
            index: 0,
            reported: Reported::default(),
            retry: Retry::new(seed),
            rate: RateLimit::new(CONSUL_WATCH),
            in_flight: false,
        }
    }

    fn is_kv(&self) -> bool {
        !matches!(self.kind, WatchKind::Service { .. })
    }

    #[cfg(test)]
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Reads a response: the new index and set, or why it is unusable.
    fn interpret(&self, resp: &Response) -> Result<(u64, Vec<Instance>), String> {
        let absent_key = self.is_kv() && resp.head.status == 404;
        if resp.head.status != 200 && !absent_key {
            return Err(describe_status(resp));
        }
        let index = resp
            .head
            .header("X-Consul-Index")
            .and_then(|v| dec::<u64>(v.trim()))
            .unwrap_or(0);
        let set = if absent_key {
            Vec::new()
        } else if self.is_kv() {
            parse_kv(&resp.body)?
        } else {
            parse_health_service(&resp.body)?
        };
        Ok((index, set))
    }
}

impl Task for ConsulWatch {
    fn next(&mut self, now: u64) -> Step {
        if let Some(t) = watch_gate(&self.retry, &mut self.rate, now) {
            return Step::Wait(t);
        }
        let mut path = watch_path(&self.kind);
        let mut c = call("GET", String::new(), None, self.token.as_deref());
        if self.index > 0 {
            let sep = if path.contains('?') { '&' } else { '?' };
            path.push_str(&format!("{sep}index={}&wait={WAIT_SECS}s", self.index));
            c.timeout_ns = Some(BLOCKING_TIMEOUT_NS);
        }
        c.path = path;
        c.max_body = WATCH_BODY;
        self.in_flight = true;
        Step::Send(c)
    }

    fn done(&mut self, now: u64, result: Result<Response, String>, out: &mut Vec<Notice>) {
        self.in_flight = false;
        let label = format!("consul: watch {}", self.name);
        match result.and_then(|r| self.interpret(&r)) {
            Ok((index, set)) => {
                self.retry.succeeded(&label);
                self.index = next_index(self.index, index);
                let kv = self.is_kv();
                self.reported.offer(self.watch, kv, set, out);
            }
            // The last known set stands: no notice on errors. The next
            // request reads afresh: an agent that came back with a lower
            // index would hold a blocking query for the whole wait.
            Err(e) => {
                self.retry.failed(now, &label, &e);
                self.index = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::http::ResponseHead;
    use alloc::string::ToString;
    use alloc::vec;

    pub fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            head: ResponseHead {
                status,
                reason: String::new(),
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            body: body.as_bytes().to_vec(),
        }
    }

    fn service() -> Service {
        Service {
            id: "web-h1".to_string(),
            name: "web".to_string(),
            address: "10.0.0.5".to_string(),
            port: 8080,
            tags: vec!["v1".to_string(), "x\"y".to_string()],
            meta: vec![("version".to_string(), "1.2".to_string())],
            ttl_ns: 15_000_000_000,
            enable_tag_override: true,
            deregister_after: Some("5m".to_string()),
            initial_status: None,
        }
    }

    fn send(t: &mut impl Task, now: u64) -> Call {
        match t.next(now) {
            Step::Send(c) => c,
            other => panic!("expected a call, got {}", step_name(&other)),
        }
    }

    fn step_name(s: &Step) -> String {
        match s {
            Step::Send(c) => format!("Send({} {})", c.method, c.path),
            Step::Wait(t) => format!("Wait({t})"),
            Step::Idle => "Idle".to_string(),
            Step::Finished => "Finished".to_string(),
        }
    }

    /// A 200 answer to a watch at `index`.
    fn indexed(index: &str, body: &str) -> Result<Response, String> {
        Ok(resp(200, &[("X-Consul-Index", index)], body))
    }

    fn ok(t: &mut impl Task, now: u64) {
        t.done(now, Ok(resp(200, &[], "")), &mut Vec::new());
    }

    fn body(c: &Call) -> &str {
        core::str::from_utf8(&c.body).unwrap()
    }

    #[test]
    fn register_body_golden() {
        let got = register_body(&service(), Health::Passing);
        assert_eq!(
            got,
            concat!(
                r#"{"ID":"web-h1","Name":"web","Address":"10.0.0.5","Port":8080,"#,
                r#""Tags":["v1","x\"y"],"Meta":{"version":"1.2"},"EnableTagOverride":true,"#,
                r#""Check":{"CheckID":"service:web-h1","Name":"Service 'web' check","TTL":"15s","#,
                r#""Status":"passing","Notes":"TTL for web set by tug","#,
                r#""DeregisterCriticalServiceAfter":"5m"}}"#
            )
        );
        let mut s = service();
        s.deregister_after = None;
        s.ttl_ns = 1_500_000_000;
        s.tags.clear();
        s.meta.clear();
        let got = register_body(&s, Health::Warning);
        assert!(got.contains(r#""Tags":[],"Meta":{}"#), "{got}");
        assert!(got.contains(r#""TTL":"2s","Status":"warning","#), "{got}");
        assert!(!got.contains("Deregister"), "{got}");
        json::parse(got.as_bytes()).unwrap();
    }

    #[test]
    fn registers_on_the_first_passing_check_without_initial_status() {
        let mut t = ConsulService::new(service(), Some("secret".to_string()), 1);
        assert!(matches!(t.next(0), Step::Idle));
        assert_eq!(t.state(), "unregistered");
        t.set_health(Health::Critical, "down");
        assert!(
            matches!(t.next(0), Step::Idle),
            "a failing first check registers nothing"
        );
        t.set_health(Health::Passing, "ok");
        let c = send(&mut t, 0);
        assert_eq!(
            (c.method, c.path.as_str()),
            ("PUT", "/v1/agent/service/register?replace-existing-checks")
        );
        assert!(
            c.headers
                .contains(&("X-Consul-Token".to_string(), "secret".to_string()))
        );
        assert!(body(&c).contains(r#""Status":"passing""#));
        assert_eq!(c.timeout_ns, Some(CALL_TIMEOUT_NS));
        assert_eq!(t.state(), "registering");
        ok(&mut t, 1);
        assert_eq!(t.state(), "passing");
        // The registration carried the result: nothing more to send.
        assert!(matches!(t.next(1), Step::Idle));
    }

    #[test]
    fn initial_status_registers_at_once_with_it() {
        let mut s = service();
        s.initial_status = Some("warning".to_string());
        let mut t = ConsulService::new(s, None, 1);
        let c = send(&mut t, 0);
        assert!(body(&c).contains(r#""Status":"warning""#));
        assert!(!c.headers.iter().any(|(k, _)| k == "X-Consul-Token"));
        ok(&mut t, 1);
        assert_eq!(t.state(), "warning");
    }

    #[test]
    fn failing_check_is_critical_at_once_and_updates_coalesce() {
        let mut t = ConsulService::new(service(), None, 1);
        t.set_health(Health::Passing, "ok");
        send(&mut t, 0);
        ok(&mut t, 0);
        t.set_health(Health::Critical, "HTTP 500");
        let c = send(&mut t, 1);
        assert_eq!(c.path, "/v1/agent/check/update/service:web-h1");
        assert_eq!(body(&c), r#"{"Status":"critical","Output":"HTTP 500"}"#);
        // While that is in flight, three more results: only the newest goes.
        t.set_health(Health::Passing, "a");
        t.set_health(Health::Critical, "b");
        t.set_health(Health::Passing, "c");
        ok(&mut t, 2);
        assert_eq!(t.state(), "critical");
        let c = send(&mut t, 2);
        assert_eq!(body(&c), r#"{"Status":"passing","Output":"c"}"#);
        ok(&mut t, 3);
        assert!(matches!(t.next(3), Step::Idle));
        assert_eq!(t.state(), "passing");
    }

    #[test]
    fn unknown_check_registers_again_without_backoff() {
        for answer in [
            resp(
                404,
                &[],
                "CheckID \"service:web-h1\" does not have associated TTL",
            ),
            resp(500, &[], "Unknown check \"service:web-h1\""),
            resp(500, &[], "unknown check ID \"service:web-h1\""),
        ] {
            let mut t = ConsulService::new(service(), None, 1);
            t.set_health(Health::Passing, "ok");
            send(&mut t, 0);
            ok(&mut t, 0);
            t.set_health(Health::Critical, "bad");
            send(&mut t, 10);
            t.done(10, Ok(answer), &mut Vec::new());
            let c = send(&mut t, 10);
            assert!(
                c.path.starts_with("/v1/agent/service/register"),
                "{}",
                c.path
            );
            assert!(
                body(&c).contains(r#""Status":"critical""#),
                "replays the newest status"
            );
            ok(&mut t, 11);
            assert!(matches!(t.next(11), Step::Idle));
            assert_eq!(t.state(), "critical");
        }
    }

    #[test]
    fn agent_failures_back_off_then_replay_the_registration() {
        let mut t = ConsulService::new(service(), None, 1);
        t.set_health(Health::Passing, "ok");
        send(&mut t, 0);
        ok(&mut t, 0);
        t.set_health(Health::Passing, "ok2");
        send(&mut t, 100);
        t.done(100, Err("connection refused".to_string()), &mut Vec::new());
        assert_eq!(t.state(), "error: connection refused");
        let Step::Wait(at) = t.next(100) else {
            panic!()
        };
        assert!(
            (100 + 125_000_000..=100 + 250_000_000).contains(&at),
            "{at}"
        );
        // New results during the backoff do not cut it short.
        t.set_health(Health::Passing, "ok3");
        assert!(matches!(t.next(at - 1), Step::Wait(a) if a == at));
        let c = send(&mut t, at);
        assert!(c.path.starts_with("/v1/agent/service/register"));
        t.done(at, Ok(resp(503, &[], "rpc error")), &mut Vec::new());
        let Step::Wait(at2) = t.next(at) else {
            panic!()
        };
        assert!(
            at2 - at >= 250_000_000 && at2 - at <= 500_000_000,
            "doubles"
        );
        send(&mut t, at2);
        ok(&mut t, at2);
        assert_eq!(t.state(), "passing");
        assert!(matches!(t.next(at2), Step::Idle));
    }

    #[test]
    fn remove_deregisters_and_finishes() {
        let mut t = ConsulService::new(service(), None, 1);
        t.remove();
        assert!(
            matches!(t.next(0), Step::Finished),
            "never registered: nothing to do"
        );
        let mut t = ConsulService::new(service(), None, 1);
        t.set_health(Health::Passing, "ok");
        send(&mut t, 0);
        // Removed while the registration is in flight: deregister after it.
        t.remove();
        ok(&mut t, 1);
        let c = send(&mut t, 1);
        assert_eq!(
            (c.method, c.path.as_str()),
            ("PUT", "/v1/agent/service/deregister/web-h1")
        );
        assert!(c.body.is_empty());
        t.done(1, Ok(resp(404, &[], "Unknown service ID")), &mut Vec::new());
        assert!(matches!(t.next(1), Step::Finished));
        assert_eq!(t.state(), "unregistered");
    }

    #[test]
    fn revive_before_the_removal_finished_keeps_one_task() {
        let mut t = ConsulService::new(service(), None, 1);
        t.set_health(Health::Passing, "ok");
        send(&mut t, 0);
        ok(&mut t, 0);
        t.remove();
        t.revive(service());
        // The new run has not passed a check: the old registration goes.
        let c = send(&mut t, 1);
        assert!(c.path.starts_with("/v1/agent/service/deregister/"));
        ok(&mut t, 1);
        assert!(matches!(t.next(1), Step::Idle));
        t.set_health(Health::Passing, "ok");
        assert!(
            send(&mut t, 2)
                .path
                .starts_with("/v1/agent/service/register")
        );
    }

    #[test]
    fn revive_with_initial_status_writes_the_new_definition() {
        let mut s = service();
        s.initial_status = Some("passing".to_string());
        let mut t = ConsulService::new(s.clone(), None, 1);
        send(&mut t, 0);
        ok(&mut t, 0);
        t.remove();
        s.tags = vec!["v2".to_string()];
        t.revive(s);
        let c = send(&mut t, 1);
        assert!(c.path.starts_with("/v1/agent/service/register"));
        assert!(body(&c).contains(r#""Tags":["v2"]"#));
    }

    #[test]
    fn maintenance_deregisters_and_the_next_pass_registers() {
        let mut t = ConsulService::new(service(), None, 1);
        t.set_health(Health::Passing, "ok");
        send(&mut t, 0);
        ok(&mut t, 0);
        t.maintenance(true);
        assert_eq!(t.state(), "maintenance");
        assert!(
            send(&mut t, 1)
                .path
                .starts_with("/v1/agent/service/deregister/")
        );
        ok(&mut t, 1);
        t.set_health(Health::Passing, "ignored");
        assert!(
            matches!(t.next(2), Step::Idle),
            "no heartbeats in maintenance"
        );
        t.maintenance(false);
        assert!(matches!(t.next(3), Step::Idle));
        t.set_health(Health::Passing, "back");
        assert!(
            send(&mut t, 4)
                .path
                .starts_with("/v1/agent/service/register")
        );
    }

    #[test]
    fn shutdown_abandons_updates_and_tries_one_deregistration() {
        let mut t = ConsulService::new(service(), None, 1);
        t.set_health(Health::Passing, "ok");
        send(&mut t, 0);
        ok(&mut t, 0);
        t.set_health(Health::Passing, "ok");
        send(&mut t, 1);
        assert!(t.shutdown(), "an update in flight may be dropped");
        let c = send(&mut t, 1);
        assert!(c.path.starts_with("/v1/agent/service/deregister/"));
        t.done(1, Err("timed out".to_string()), &mut Vec::new());
        assert!(
            matches!(t.next(1), Step::Finished),
            "no retries at shutdown"
        );

        let mut t = ConsulService::new(service(), None, 1);
        t.set_health(Health::Passing, "ok");
        send(&mut t, 0);
        assert!(!t.shutdown(), "a registration in flight is waited for");
        ok(&mut t, 1);
        assert!(
            send(&mut t, 1)
                .path
                .starts_with("/v1/agent/service/deregister/")
        );
        ok(&mut t, 2);
        assert!(matches!(t.next(2), Step::Finished));
    }

    #[test]
    fn output_is_clipped_on_a_char_boundary() {
        let long = "é".repeat(3000);
        let c = clip(&long, MAX_OUTPUT);
        assert!(c.len() <= MAX_OUTPUT && c.len() >= MAX_OUTPUT - 1);
        assert_eq!(clip("short", MAX_OUTPUT), "short");
    }

    #[test]
    fn index_rules() {
        assert_eq!(next_index(0, 7), 7);
        assert_eq!(next_index(7, 7), 7);
        assert_eq!(next_index(7, 9), 9);
        assert_eq!(next_index(9, 3), 0, "backwards resets");
        assert_eq!(next_index(0, 0), 1, "0 becomes 1");
        assert_eq!(next_index(5, 0), 0, "0 after 5 is backwards");
    }

    #[test]
    fn watch_paths_encode_and_key_by_tag_and_dc() {
        let svc = |tag: Option<&str>, dc: Option<&str>| WatchKind::Service {
            service: "web app".to_string(),
            tag: tag.map(String::from),
            dc: dc.map(String::from),
        };
        assert_eq!(watch_path(&svc(None, None)), "/v1/health/service/web%20app");
        assert_eq!(
            watch_path(&svc(Some("v1&x"), Some("dc2"))),
            "/v1/health/service/web%20app?tag=v1%26x&dc=dc2"
        );
        assert_eq!(
            watch_path(&svc(None, Some("dc2"))),
            "/v1/health/service/web%20app?dc=dc2"
        );
        assert_eq!(
            watch_path(&WatchKind::Key("/config/app x".to_string())),
            "/v1/kv/config/app%20x"
        );
        assert_eq!(
            watch_path(&WatchKind::Prefix("config/".to_string())),
            "/v1/kv/config/?recurse"
        );
    }

    const HEALTH: &str = r#"[
      {"Node":{"Node":"n1","Address":"10.1.10.12"},
       "Service":{"ID":"web-1","Service":"web","Tags":["b","a"],"Address":"","Port":8080,"Meta":{"v":"1"}},
       "Checks":[{"CheckID":"service:web-1","Status":"passing"},{"CheckID":"serfHealth","Status":"warning"}]},
      {"Node":{"Node":"n2","Address":"10.1.10.13"},
       "Service":{"ID":"web-2","Service":"web","Tags":null,"Address":"10.0.0.7","Port":8081,"Meta":null},
       "Checks":[{"CheckID":"service:web-2","Status":"passing"}]}
    ]"#;

    #[test]
    fn health_answers_become_instance_sets() {
        let set = parse_health_service(HEALTH.as_bytes()).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set[0].id, "web-1");
        assert_eq!(
            set[0].address, "10.1.10.12",
            "node address when the service has none"
        );
        assert_eq!(set[0].tags, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(set[0].meta, vec![("v".to_string(), "1".to_string())]);
        assert_eq!(set[0].status, "warning");
        assert_eq!((set[1].address.as_str(), set[1].port), ("10.0.0.7", 8081));
        assert_eq!(set[1].status, "passing");
        assert!(parse_health_service(b"[]").unwrap().is_empty());
    }

    #[test]
    fn malformed_answers_are_errors_not_panics() {
        let bad: &[&[u8]] = &[
            b"",
            b"[",
            b"{\"a\":1}",
            b"[{\"Service\":{}}]",
            b"[{\"Service\":{\"ID\":\"x\",\"Port\":70000}}]",
            b"[{\"Service\":{\"ID\":\"x\",\"Port\":-1}}]",
            b"[1]",
            b"\xff\xfe",
            &HEALTH.as_bytes()[..HEALTH.len() / 2],
        ];
        for b in bad {
            assert!(
                parse_health_service(b).is_err(),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        for b in [
            &b"[{\"Key\":\"k\",\"Value\":\"!!\"}]"[..],
            b"[{\"Value\":null}]",
            b"[{\"Key\":\"k\",\"Value\":3}]",
        ] {
            assert!(parse_kv(b).is_err());
        }
    }

    #[test]
    fn kv_answers() {
        let set =
            parse_kv(br#"[{"Key":"config/b","Value":null},{"Key":"config/a","Value":"dmFsdWU="}]"#)
                .unwrap();
        assert_eq!(set[0].id, "config/a");
        assert_eq!(
            set[0].meta,
            vec![("value".to_string(), "value".to_string())]
        );
        assert_eq!(set[1].meta[0].1, "");
    }

    const SEC: u64 = 1_000_000_000;

    fn watch(kind: WatchKind) -> ConsulWatch {
        ConsulWatch::new(4, "backend".to_string(), kind, Some("tok".to_string()), 9)
    }

    fn web() -> WatchKind {
        WatchKind::Service {
            service: "web".to_string(),
            tag: None,
            dc: None,
        }
    }

    #[test]
    fn watch_blocks_on_the_index_and_reports_only_changes() {
        let mut w = watch(web());
        let c = send(&mut w, 0);
        assert_eq!(
            (c.method, c.path.as_str()),
            ("GET", "/v1/health/service/web")
        );
        assert_eq!(c.timeout_ns, Some(CALL_TIMEOUT_NS));
        let mut out = Vec::new();
        w.done(0, indexed("10", "[]"), &mut out);
        assert_eq!(
            out,
            vec![Notice::WatchChanged {
                watch: 4,
                healthy: false,
                instances: vec![]
            }]
        );
        let c = send(&mut w, SEC);
        assert_eq!(c.path, "/v1/health/service/web?index=10&wait=60s");
        assert!(c.timeout_ns.unwrap() > (60 + 60 / 16) * 1_000_000_000);
        // A timeout return with the same content: no notice.
        w.done(SEC, indexed("10", "[]"), &mut out);
        assert_eq!(out.len(), 1);
        send(&mut w, 2 * SEC);
        w.done(
            2 * SEC,
            Ok(resp(200, &[("x-consul-index", "12")], HEALTH)),
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert!(
            matches!(&out[1], Notice::WatchChanged { watch: 4, healthy: true, instances } if instances.len() == 2)
        );
        // Index went backwards (snapshot restore): ask without index.
        send(&mut w, 3 * SEC);
        w.done(3 * SEC, indexed("5", HEALTH), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(w.index(), 0);
        assert_eq!(send(&mut w, 4_000_000_000).path, "/v1/health/service/web");
    }

    #[test]
    fn watch_errors_back_off_silently_and_keep_the_last_set() {
        let mut w = watch(web());
        let mut out = Vec::new();
        send(&mut w, 0);
        w.done(0, indexed("3", HEALTH), &mut out);
        let failures = [
            Err("connection refused".to_string()),
            Ok(resp(500, &[("X-Consul-Index", "3")], "No cluster leader")),
            indexed("4", "[{\"Service\":"),
            indexed("4", "not json"),
            Err("connection closed before the response was complete".to_string()),
        ];
        let mut now = 1_000_000_000;
        let mut last_delay = 0;
        for (n, f) in failures.into_iter().enumerate() {
            let c = send(&mut w, now);
            let blocking = c.path.contains("index=3");
            assert_eq!(
                blocking,
                n == 0,
                "after a failure the read is fresh: {}",
                c.path
            );
            w.done(now, f, &mut out);
            let Step::Wait(at) = w.next(now) else {
                panic!()
            };
            assert!(at - now >= last_delay / 2 && at - now >= 125_000_000);
            last_delay = at - now;
            now = at;
        }
        assert_eq!(out.len(), 1, "errors emit nothing");
        send(&mut w, now);
        w.done(now, indexed("4", HEALTH), &mut out);
        assert_eq!(out.len(), 1, "same set after recovery: still nothing");
    }

    #[test]
    fn churning_index_is_rate_limited() {
        let mut w = watch(web());
        let mut out = Vec::new();
        let mut now = 0u64;
        let mut sent = 0;
        let mut index = 1;
        while now < 10_000_000_000 {
            match w.next(now) {
                Step::Send(_) => {
                    sent += 1;
                    index += 1;
                    let i = index.to_string();
                    w.done(now, indexed(&i, "[]"), &mut out);
                }
                Step::Wait(at) => now = at,
                _ => panic!(),
            }
        }
        // The pacing's bound: 2 + 5·T, a busy agent's five a second.
        assert!(sent <= 2 + 50, "{sent} requests in 10 s");
        assert_eq!(out.len(), 1);
    }

    const MS: u64 = 1_000_000;

    /// A Consul agent in virtual time for one service watch: change k (at
    /// `changes[k]`) moves the index to k + 2 and the one instance to port
    /// 9000 + k. A query without index, or with one the catalog has passed,
    /// answers at once; else it blocks until the next change (or `end`).
    /// Returns (when each change was first reported, queries sent, the
    /// notices as (time, port) with the port the catalog had then).
    struct Sim {
        reported: Vec<Option<u64>>,
        queries: usize,
        notices: Vec<(u64, u16, u16)>,
    }

    fn simulate(changes: &[u64], end: u64) -> Sim {
        let state_at = |t: u64| changes.iter().take_while(|&&c| c <= t).count();
        let body = |n: usize| match n {
            0 => String::from("[]"),
            n => format!(
                r#"[{{"Node":{{"Address":"10.0.0.7"}},"Service":{{"ID":"b1","Port":{}}},"Checks":[]}}]"#,
                9000 + n - 1
            ),
        };
        let mut w = watch(web());
        let mut sim = Sim {
            reported: vec![None; changes.len()],
            queries: 0,
            notices: Vec::new(),
        };
        let mut now = 0;
        while now < end {
            let c = match w.next(now) {
                Step::Send(c) => c,
                Step::Wait(at) => {
                    now = at;
                    continue;
                }
                _ => panic!("a watch always has a next step"),
            };
            sim.queries += 1;
            let given = c
                .path
                .split_once("index=")
                .map(|(_, rest)| rest.split('&').next().unwrap().parse::<usize>().unwrap());
            // The index is the state + 1: the catalog has not passed `i`.
            if let Some(i) = given
                && state_at(now) < i
            {
                // Blocks until the next change.
                now = changes.iter().copied().find(|&c| c > now).unwrap_or(end);
                if now >= end {
                    break;
                }
            }
            let n = state_at(now);
            let mut out = Vec::new();
            w.done(now, indexed(&(n + 1).to_string(), &body(n)), &mut out);
            for notice in out {
                let Notice::WatchChanged { instances, .. } = notice;
                let port = instances.first().map_or(0, |i| i.port);
                let latest = if n == 0 { 0 } else { 9000 + n as u16 - 1 };
                sim.notices.push((now, port, latest));
                for k in 0..n {
                    sim.reported[k].get_or_insert(now);
                }
            }
        }
        sim
    }

    fn delays(changes: &[u64], sim: &Sim) -> Vec<u64> {
        changes
            .iter()
            .zip(&sim.reported)
            .map(|(c, r)| r.expect("every change is reported") - c)
            .collect()
    }

    /// A rolling deploy: a change every 150 ms, faster than the pacing.
    /// Each is reported within 200 ms, each notice holds the state the
    /// agent had when it answered, and the agent sees at most 5 queries a
    /// second (plus the burst).
    #[test]
    fn churn_every_150ms_is_coalesced_and_each_change_reported_within_200ms() {
        let changes: Vec<u64> = (0..60).map(|k| SEC + k * 150 * MS).collect();
        let end = changes[59] + SEC;
        let sim = simulate(&changes, end);
        let d = delays(&changes, &sim);
        assert!(d.iter().all(|&d| d <= 200 * MS), "{d:?}");
        assert!(d.iter().filter(|&&d| d == 0).count() > 10, "{d:?}");
        for &(_, port, latest) in &sim.notices {
            assert_eq!(port, latest, "a notice reports what the agent had");
        }
        assert!(sim.notices.len() < 1 + changes.len(), "coalesced");
        // From the first query at 0 to `end`: 2 + 5·T.
        assert!(
            sim.queries as u64 <= 2 + end / (200 * MS),
            "{} queries",
            sim.queries
        );
    }

    /// Changes with quiet moments between them (250 ms, longer than the
    /// 200 ms pacing), and one change 400 ms after a burst: none waits.
    #[test]
    fn a_change_after_a_quiet_moment_is_reported_at_once() {
        let mut changes: Vec<u64> = (0..20).map(|k| SEC + k * 250 * MS).collect();
        let last = changes[19];
        // A burst (a change every 50 ms), then 400 ms of quiet.
        changes.extend((1..=8).map(|k| last + k * 50 * MS));
        let quiet = changes[changes.len() - 1] + 400 * MS;
        changes.push(quiet);
        let sim = simulate(&changes, quiet + SEC);
        let d = delays(&changes, &sim);
        assert!(d[..20].iter().all(|&d| d == 0), "{:?}", &d[..20]);
        assert_eq!(d[d.len() - 1], 0, "after the quiet moment");
        // The burst itself coalesces, within the bound.
        assert!(d.iter().all(|&d| d <= 200 * MS), "{d:?}");
        // One query per change while they are quiet ones: nothing extra.
        assert!(sim.queries <= changes.len() + 2, "{}", sim.queries);
    }

    #[test]
    fn kv_watch_treats_404_as_absent() {
        let mut w = watch(WatchKind::Key("config/app".to_string()));
        let mut out = Vec::new();
        let c = send(&mut w, 0);
        assert_eq!(c.path, "/v1/kv/config/app");
        w.done(0, Ok(resp(404, &[("X-Consul-Index", "0")], "")), &mut out);
        assert_eq!(
            out,
            vec![Notice::WatchChanged {
                watch: 4,
                healthy: false,
                instances: vec![]
            }]
        );
        assert_eq!(w.index(), 1, "index 0 becomes 1");
        let c = send(&mut w, 1);
        assert_eq!(c.path, "/v1/kv/config/app?index=1&wait=60s");
        w.done(
            1,
            Ok(resp(
                200,
                &[("X-Consul-Index", "20")],
                r#"[{"Key":"config/app","Value":"eA=="}]"#,
            )),
            &mut out,
        );
        assert!(
            matches!(&out[1], Notice::WatchChanged { healthy: true, instances, .. } if instances[0].meta[0].1 == "x")
        );
        let mut p = watch(WatchKind::Prefix("config".to_string()));
        assert_eq!(send(&mut p, 0).path, "/v1/kv/config?recurse");
        p.done(0, indexed("20", "[]"), &mut out);
        assert_eq!(
            send(&mut p, 1).path,
            "/v1/kv/config?recurse&index=20&wait=60s"
        );
    }
}
