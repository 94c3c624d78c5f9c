//! One registration as a discovery task (sans-IO): what to send next for
//! a registrator service in its registry's layout, and what the answer
//! means. `discovery` moves the calls, paces the retries and bounds
//! shutdown; this only speaks the protocol.
//!
//! Layouts:
//! - consul: `PUT /v1/agent/service/register?replace-existing-checks`
//!   with `backend::consul_register_body`, `PUT …/deregister/ID`. A
//!   CHECK_TTL check is heartbeated (`PUT /v1/agent/check/update/
//!   service:ID`) every half TTL while the container's health says
//!   passing, and sent critical once when it turns unhealthy.
//! - consulkv: `PUT /v1/kv/KEY` with `ip:port`, `DELETE` to remove.
//! - etcd, skydns2 (etcd v3): with -ttl a lease of TTL seconds is granted,
//!   the key put under it and the lease kept alive every -ttl-refresh (a
//!   lease the server lost is granted and the key put again); without
//!   -ttl the key is put without a lease. Removal deletes the key.
//!
//! Decisions:
//! - A registration is retried with backoff until it lands, however long
//!   the registry is away; an answer to a call of the task this one
//!   replaced (same key) is ignored, and this one then starts over.
//! - A parked task (-deregister on-success, failed exit) sends nothing:
//!   no heartbeat, no keepalive, so a TTL ends it; removing it still
//!   deletes it.
//! - A removal is tried until it lands; at shutdown until discovery's
//!   deadline (5 s) passes.

use super::backend;
use super::options::Backend;
use super::service::{CheckKind, Service};
use crate::discovery::etcd::{
    delete_call, grant_call, keepalive_call, parse_grant, parse_keepalive, put_call,
};
use crate::discovery::retry::Retry;
use crate::discovery::{
    CALL_TIMEOUT_NS, Health, Notice, Reg, ServiceTask, Step, Task, describe_status, health_word,
};
use crate::log::info;
use crate::net::client::{Call, Response};
use crate::net::http::percent_encode;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

const SEC: u64 = 1_000_000_000;

#[derive(Debug)]
enum Layout {
    Consul {
        token: Option<String>,
        body: String,
        /// A CHECK_TTL check: heartbeat period (half the TTL).
        beat_ns: Option<u64>,
    },
    ConsulKv {
        token: Option<String>,
        key: String,
        value: String,
    },
    Etcd {
        key: String,
        value: String,
        ttl_s: u64,
        refresh_ns: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Register,
    Beat(Health),
    Grant,
    KeepAlive,
    Deregister,
}

pub struct RegTask {
    /// The service ID (for messages and Consul paths).
    id: String,
    layout: Layout,
    reg: Reg,
    removed: bool,
    parked: bool,
    /// CHECK_TTL: the status the container's health asks for, the one the
    /// agent has, and when the next passing heartbeat is due.
    want: Option<Health>,
    sent: Option<Health>,
    beat_at: u64,
    lease: u64,
    refresh_at: u64,
    op: Option<Op>,
    retry: Retry,
}

/// The discovery key of a registration: the Consul service ID, or the KV
/// key (which holds the name, so a rename is a removal and an addition).
pub fn unit_key(b: &Backend, name: &str, id: &str) -> String {
    backend::kv_key(b, name, id).unwrap_or_else(|| String::from(id))
}

fn consul_call(method: &'static str, path: String, body: String, token: &Option<String>) -> Call {
    let mut headers = Vec::new();
    if let Some(t) = token {
        headers.push((String::from("X-Consul-Token"), t.clone()));
    }
    Call {
        method,
        path,
        headers,
        body: body.into_bytes(),
        timeout_ns: Some(CALL_TIMEOUT_NS),
        stream: false,
        max_body: 64 << 10,
    }
}

fn encoded(prefix: &str, s: &str, keep: &[u8]) -> String {
    let mut out = String::from(prefix);
    percent_encode(&mut out, s, keep);
    out
}

impl RegTask {
    /// The task that registers `svc` (health: its CHECK_TTL status now).
    /// `ttl` is (-ttl, -ttl-refresh) in seconds; etcd only.
    pub fn new(b: &Backend, svc: &Service, ttl: (u32, u32), health: Option<Health>) -> RegTask {
        let (key, value) = backend::kv_entry(b, svc).unwrap_or_default();
        let layout = match b {
            Backend::Consul { token, .. } => {
                let beat_ns = svc.check.as_ref().and_then(|c| match &c.kind {
                    CheckKind::Ttl(t) => crate::duration::parse(t)
                        .ok()
                        .map(|ns| (ns / 2).max(SEC / 2)),
                    _ => None,
                });
                Layout::Consul {
                    token: token.clone(),
                    body: backend::consul_register_body(svc),
                    beat_ns,
                }
            }
            Backend::ConsulKv { token, .. } => Layout::ConsulKv {
                token: token.clone(),
                key,
                value,
            },
            Backend::Etcd { .. } | Backend::SkyDns2 { .. } => Layout::Etcd {
                key,
                value,
                ttl_s: u64::from(ttl.0),
                refresh_ns: u64::from(ttl.1) * SEC,
            },
        };
        RegTask {
            id: svc.id.clone(),
            layout,
            reg: Reg::Unknown,
            removed: false,
            parked: false,
            want: health,
            sent: None,
            beat_at: 0,
            lease: 0,
            refresh_at: 0,
            op: None,
            retry: Retry::new(svc.port.into()),
        }
    }

    /// A task that only removes what the registry holds for (name, id)
    /// (cleanup of an earlier run's registration, a renamed service).
    pub fn removal(b: &Backend, name: &str, id: &str) -> RegTask {
        let svc = Service {
            id: id.into(),
            name: name.into(),
            ip: String::new(),
            port: 0,
            tags: Vec::new(),
            attrs: Vec::new(),
            check: None,
            container: String::new(),
            container_name: String::new(),
        };
        let mut t = RegTask::new(b, &svc, (0, 0), None);
        t.removed = true;
        t
    }

    /// Kept as registered, never refreshed again (a failed exit).
    pub fn parked(mut self) -> RegTask {
        self.parked = true;
        self.reg = Reg::Yes;
        self
    }

    fn what(&self) -> String {
        let op = match self.op {
            Some(Op::Register) => "registration",
            Some(Op::Beat(_)) => "check update",
            Some(Op::Grant) => "lease grant",
            Some(Op::KeepAlive) => "lease keepalive",
            Some(Op::Deregister) | None => "deregistration",
        };
        format!("registry: {op} of {}", self.id)
    }

    fn send(&mut self, op: Op, call: Call) -> Step {
        self.op = Some(op);
        Step::Send(call)
    }

    fn register(&mut self) -> Step {
        let call = match &self.layout {
            Layout::Consul { token, body, .. } => consul_call(
                "PUT",
                "/v1/agent/service/register?replace-existing-checks".into(),
                body.clone(),
                token,
            ),
            Layout::ConsulKv { token, key, value } => {
                consul_call("PUT", encoded("/v1/kv/", key, b"/:"), value.clone(), token)
            }
            Layout::Etcd { key, value, .. } => {
                put_call(key.as_bytes(), value.as_bytes(), self.lease)
            }
        };
        self.send(Op::Register, call)
    }

    fn deregister(&mut self) -> Step {
        let call = match &self.layout {
            Layout::Consul { token, .. } => consul_call(
                "PUT",
                encoded("/v1/agent/service/deregister/", &self.id, b":"),
                String::new(),
                token,
            ),
            Layout::ConsulKv { token, key, .. } => consul_call(
                "DELETE",
                encoded("/v1/kv/", key, b"/:"),
                String::new(),
                token,
            ),
            Layout::Etcd { key, .. } => delete_call(key.as_bytes()),
        };
        self.send(Op::Deregister, call)
    }

    /// Next step while the registration is wanted.
    fn keep(&mut self, now: u64) -> Step {
        if let Layout::Etcd { ttl_s, .. } = self.layout
            && ttl_s > 0
            && self.lease == 0
        {
            return self.send(Op::Grant, grant_call(ttl_s));
        }
        if self.reg != Reg::Yes {
            return self.register();
        }
        match &self.layout {
            Layout::Etcd { ttl_s, .. } if *ttl_s > 0 => {
                if now < self.refresh_at {
                    return Step::Wait(self.refresh_at);
                }
                let (lease, ttl_s) = (self.lease, *ttl_s);
                self.send(Op::KeepAlive, keepalive_call(lease, ttl_s))
            }
            Layout::Consul {
                token,
                beat_ns: Some(_),
                ..
            } => {
                let Some(h) = self.want else {
                    return Step::Idle;
                };
                if self.sent == Some(h) && (h != Health::Passing || now < self.beat_at) {
                    return if h == Health::Passing {
                        Step::Wait(self.beat_at)
                    } else {
                        Step::Idle
                    };
                }
                let mut w = crate::json::Writer::new();
                w.begin_object()
                    .field("Status", health_word(h))
                    .field("Output", "container health, by tug registrator")
                    .end_object();
                let path = encoded("/v1/agent/check/update/service:", &self.id, b":");
                let call = consul_call("PUT", path, w.finish(), token);
                self.send(Op::Beat(h), call)
            }
            _ => Step::Idle,
        }
    }
}

impl Task for RegTask {
    fn next(&mut self, now: u64) -> Step {
        if let Some(t) = self.retry.waiting(now) {
            return Step::Wait(t);
        }
        if !self.removed {
            return if self.parked {
                Step::Idle
            } else {
                self.keep(now)
            };
        }
        if self.reg != Reg::No {
            return self.deregister();
        }
        Step::Finished
    }

    fn done(&mut self, now: u64, result: Result<Response, String>, _out: &mut Vec<Notice>) {
        let what = self.what();
        let Some(op) = self.op.take() else {
            // The answer to the task this one replaced.
            return;
        };
        let resp = match result {
            Ok(r) => r,
            Err(e) => return self.failed(now, op, &what, &e),
        };
        let status = resp.head.status;
        let ok = status == 200 || (op == Op::Deregister && status == 404);
        if !ok {
            if matches!(op, Op::Beat(_)) && status == 404 {
                // The agent lost the service: register again, no backoff.
                self.reg = Reg::No;
                return;
            }
            return self.failed(now, op, &what, &describe_status(&resp));
        }
        self.retry.succeeded(&what);
        match op {
            Op::Register => {
                self.reg = Reg::Yes;
                self.sent = None;
                if let Layout::Etcd { refresh_ns, .. } = self.layout {
                    self.refresh_at = now + refresh_ns;
                }
                info!("registered {}", self.id);
            }
            Op::Beat(h) => {
                self.sent = Some(h);
                if let Layout::Consul {
                    beat_ns: Some(ns), ..
                } = self.layout
                {
                    self.beat_at = now + ns;
                }
            }
            Op::Grant => match parse_grant(&resp.body) {
                Ok((id, _)) => {
                    self.lease = id;
                    self.reg = Reg::No;
                }
                Err(e) => self.failed(now, op, &what, &e),
            },
            Op::KeepAlive => match parse_keepalive(&resp.body) {
                Ok(0) => {
                    info!("registry: lease of {} was lost: putting it again", self.id);
                    self.lease = 0;
                    self.reg = Reg::No;
                }
                Ok(_) => {
                    if let Layout::Etcd { refresh_ns, .. } = self.layout {
                        self.refresh_at = now + refresh_ns;
                    }
                }
                Err(e) => self.failed(now, op, &what, &e),
            },
            Op::Deregister => {
                self.reg = Reg::No;
                info!("deregistered {}", self.id);
            }
        }
    }
}

impl RegTask {
    fn failed(&mut self, now: u64, op: Op, what: &str, reason: &str) {
        self.retry.failed(now, what, reason);
        match op {
            Op::Deregister | Op::Register => self.reg = Reg::Unknown,
            // The agent or the lease may be gone: put it all again.
            Op::Beat(_) | Op::KeepAlive => {
                self.reg = Reg::Unknown;
                self.sent = None;
            }
            Op::Grant => {}
        }
    }
}

impl ServiceTask for RegTask {
    fn set_health(&mut self, h: Health, _output: &str) {
        self.want = Some(h);
    }

    fn maintenance(&mut self, _on: bool) {}

    fn remove(&mut self) {
        self.removed = true;
        self.retry.skip_wait();
    }

    fn revive(&mut self, _svc: crate::discovery::Service) {}

    fn shutdown(&mut self) -> bool {
        self.remove();
        false
    }

    fn state(&self) -> String {
        if let Some(e) = &self.retry.error {
            return format!("error: {e}");
        }
        String::from(match (self.reg, self.parked) {
            (Reg::Yes, true) => "parked",
            (Reg::Yes, false) => "registered",
            _ => "registering",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::client::Endpoint;
    use crate::net::http::ResponseHead;

    fn resp(status: u16, body: &str) -> Result<Response, String> {
        Ok(Response {
            head: ResponseHead {
                status,
                reason: String::new(),
                headers: Vec::new(),
            },
            body: body.as_bytes().to_vec(),
        })
    }

    fn svc(check: Option<CheckKind>) -> Service {
        Service {
            id: "n:web:80".into(),
            name: "web".into(),
            ip: "10.0.0.1".into(),
            port: 8080,
            tags: Vec::new(),
            attrs: Vec::new(),
            check: check.map(|kind| super::super::service::Check {
                kind,
                interval: None,
                timeout: None,
                status: None,
                deregister_after: None,
            }),
            container: "c".into(),
            container_name: "web".into(),
        }
    }

    fn sent(s: Step) -> Call {
        match s {
            Step::Send(c) => c,
            _ => panic!("expected a call"),
        }
    }

    fn consul() -> Backend {
        Backend::Consul {
            endpoint: Endpoint::Unix("/x".into()),
            token: None,
        }
    }

    #[test]
    fn consul_registers_retries_then_heartbeats_ttl() {
        let mut t = RegTask::new(
            &consul(),
            &svc(Some(CheckKind::Ttl("10s".into()))),
            (0, 0),
            Some(Health::Passing),
        );
        let mut out = Vec::new();
        let c = sent(t.next(0));
        assert_eq!(c.path, "/v1/agent/service/register?replace-existing-checks");
        t.done(0, Err("refused".into()), &mut out);
        let Step::Wait(at) = t.next(1) else { panic!() };
        let c = sent(t.next(at));
        assert_eq!(c.method, "PUT");
        t.done(at, resp(200, ""), &mut out);
        let c = sent(t.next(at));
        assert_eq!(c.path, "/v1/agent/check/update/service:n:web:80");
        assert!(String::from_utf8_lossy(&c.body).contains("passing"));
        t.done(at, resp(200, ""), &mut out);
        assert!(matches!(t.next(at + 1), Step::Wait(w) if w == at + 5 * SEC));
        t.set_health(Health::Critical, "");
        let c = sent(t.next(at + 2));
        assert!(String::from_utf8_lossy(&c.body).contains("critical"));
        t.done(at + 2, resp(200, ""), &mut out);
        assert!(matches!(t.next(at + 3), Step::Idle));
        // Parked: nothing; removed: deregistered, then finished.
        t.remove();
        let c = sent(t.next(at + 4));
        assert_eq!(c.path, "/v1/agent/service/deregister/n:web:80");
        t.done(at + 4, resp(404, ""), &mut out);
        assert!(matches!(t.next(at + 4), Step::Finished));
    }

    #[test]
    fn etcd_grants_puts_and_keeps_alive() {
        let b = Backend::Etcd {
            endpoint: Endpoint::Unix("/x".into()),
            prefix: "/services".into(),
        };
        let mut t = RegTask::new(&b, &svc(None), (30, 10), None);
        let mut out = Vec::new();
        assert_eq!(sent(t.next(0)).path, "/v3/lease/grant");
        t.done(0, resp(200, r#"{"ID":"7","TTL":"30"}"#), &mut out);
        let c = sent(t.next(0));
        assert_eq!(c.path, "/v3/kv/put");
        assert!(String::from_utf8_lossy(&c.body).contains(r#""lease":"7""#));
        t.done(0, resp(200, "{}"), &mut out);
        assert!(matches!(t.next(1), Step::Wait(w) if w == 10 * SEC));
        assert_eq!(sent(t.next(10 * SEC)).path, "/v3/lease/keepalive");
        t.done(10 * SEC, resp(200, r#"{"result":{"ID":"7"}}"#), &mut out);
        // The lease was lost: granted and put again.
        assert_eq!(sent(t.next(10 * SEC)).path, "/v3/lease/grant");
        let mut p = RegTask::new(&b, &svc(None), (30, 10), None).parked();
        assert!(matches!(p.next(0), Step::Idle));
        p.remove();
        assert_eq!(sent(p.next(0)).path, "/v3/kv/deleterange");
    }

    #[test]
    fn a_replaced_tasks_answer_is_ignored() {
        let b = Backend::ConsulKv {
            endpoint: Endpoint::Unix("/x".into()),
            token: Some("t".into()),
            prefix: "svc".into(),
        };
        let mut t = RegTask::removal(&b, "web", "n:web:80");
        let mut out = Vec::new();
        t.done(0, resp(200, ""), &mut out);
        let c = sent(t.next(0));
        assert_eq!(
            (c.method, c.path.as_str()),
            ("DELETE", "/v1/kv/svc/web/n:web:80")
        );
        assert_eq!(c.headers[0].1, "t");
    }
}
