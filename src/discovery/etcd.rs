//! The etcd v3 backend (JSON gateway), sans-IO like `consul.rs`.
//!
//! Services: a key `<prefix>/<service>/<id>` holding
//! `{id,name,address,port,tags,meta}`, attached to a lease with the job's
//! TTL, exists only while the job is healthy.
//! - Healthy: grant, put, then one keepalive per ttl/3 (a one-request
//!   keepalive call answers one line and ends). A keepalive answer without
//!   TTL, or 404, means the lease is gone (etcd restarted, a partition
//!   outlived the TTL): grant and put again.
//! - Unhealthy, maintenance, stop: delete the key at once, then revoke the
//!   lease. A lost request leaves the state "unknown" and the same step is
//!   retried after a backoff; an unknown lease simply expires.
//!
//! Watches: `/v3/kv/range` reads the set and its revision, then a `/v3/watch`
//! stream from revision+1 applies PUT/DELETE events. A stream that ends or
//! breaks resumes from the last revision seen + 1; `canceled` with
//! `compact_revision` (history gone) or a store whose revision went
//! backwards (rebuilt) is re-read whole. Streams have no deadline: silence
//! is normal, death shows as EOF.

use super::retry::{ETCD_WATCH, RateLimit, Retry, watch_gate};
use super::watch::{Reported, base64_member, kv_instance, normalize, string_list, string_map};
use super::{
    CALL_TIMEOUT_NS, Health, Instance, Notice, Reg, Service, ServiceTask, Step, Task,
    describe_status,
};
use crate::base64;
use crate::json::{self, Writer};
use crate::json5::{Node, Value};
use crate::log::{info, warning};
use crate::net::client::{Call, Response};
use crate::net::http::ResponseHead;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

const SMALL_BODY: usize = 64 << 10;
const RANGE_BODY: usize = 8 << 20;
/// Undrained stream bytes the client may hold, and the longest line.
const STREAM_BODY: usize = 1 << 20;
const MAX_LINE: usize = 8 << 20;
const SEC: u64 = 1_000_000_000;

fn post(path: &str, body: String) -> Call {
    Call {
        method: "POST",
        path: String::from(path),
        headers: alloc::vec![(
            String::from("Content-Type"),
            String::from("application/json")
        )],
        body: body.into_bytes(),
        timeout_ns: Some(CALL_TIMEOUT_NS),
        stream: false,
        max_body: SMALL_BODY,
    }
}

/// The end of the half-open range holding every key that starts with
/// `prefix` (B.2): the prefix with its last non-0xff byte incremented; "\0"
/// (every key from `prefix` on) when there is none.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(&last) = end.last() {
        if last < 0xff {
            *end.last_mut().unwrap() += 1;
            return end;
        }
        end.pop();
    }
    alloc::vec![0]
}

/// An object member holding a base64 bytes field.
fn bytes_field(w: &mut Writer, k: &str, v: &[u8]) {
    w.field(k, &base64::encode(v));
}

fn lease_body(id: u64) -> String {
    let mut w = Writer::new();
    w.begin_object().field("ID", &format!("{id}")).end_object();
    w.finish()
}

pub fn grant_call(ttl_s: u64) -> Call {
    let mut w = Writer::new();
    w.begin_object()
        .field("TTL", &format!("{ttl_s}"))
        .field("ID", "0")
        .end_object();
    post("/v3/lease/grant", w.finish())
}

pub fn put_call(key: &[u8], value: &[u8], lease: u64) -> Call {
    let mut w = Writer::new();
    w.begin_object();
    bytes_field(&mut w, "key", key);
    bytes_field(&mut w, "value", value);
    w.field("lease", &format!("{lease}")).end_object();
    post("/v3/kv/put", w.finish())
}

pub fn keepalive_call(lease: u64, ttl_s: u64) -> Call {
    let mut c = post("/v3/lease/keepalive", lease_body(lease));
    // A keepalive stuck on a dead endpoint must give way to the next one
    // well before the lease runs out.
    c.timeout_ns = Some((ttl_s * SEC / 3).clamp(SEC, CALL_TIMEOUT_NS));
    c
}

pub fn delete_call(key: &[u8]) -> Call {
    let mut w = Writer::new();
    w.begin_object();
    bytes_field(&mut w, "key", key);
    w.end_object();
    post("/v3/kv/deleterange", w.finish())
}

pub fn revoke_call(lease: u64) -> Call {
    post("/v3/lease/revoke", lease_body(lease))
}

pub fn range_call(key: &[u8], range_end: Option<&[u8]>) -> Call {
    let mut w = Writer::new();
    w.begin_object();
    bytes_field(&mut w, "key", key);
    if let Some(end) = range_end {
        bytes_field(&mut w, "range_end", end);
    }
    w.end_object();
    let mut c = post("/v3/kv/range", w.finish());
    c.max_body = RANGE_BODY;
    c
}

pub fn watch_call(key: &[u8], range_end: Option<&[u8]>, start_revision: u64) -> Call {
    let mut w = Writer::new();
    w.begin_object().key("create_request").begin_object();
    bytes_field(&mut w, "key", key);
    if let Some(end) = range_end {
        bytes_field(&mut w, "range_end", end);
    }
    w.field("start_revision", &format!("{start_revision}"))
        .key("prev_kv")
        .bool(true)
        .end_object()
        .end_object();
    let mut c = post("/v3/watch", w.finish());
    c.timeout_ns = None;
    c.stream = true;
    c.max_body = STREAM_BODY;
    c
}

/// The value stored for a service: what a watcher needs to reach it.
pub fn service_value(svc: &Service) -> String {
    let mut w = Writer::new();
    w.begin_object();
    super::write_service(
        &mut w,
        svc,
        ["id", "name", "address", "port", "tags", "meta"],
    );
    w.end_object();
    w.finish()
}

/// An instance from a stored service value; None if it is not one of
/// ours (someone else's data under the prefix is skipped, not fatal).
pub fn parse_service_value(value: &[u8]) -> Option<Instance> {
    let doc = json::parse(value).ok()?;
    let id = json::as_str(json::get(&doc, "id")?)?;
    let port = match json::get(&doc, "port") {
        None => 0,
        Some(p) => u16::try_from(json::as_u64(p)?).ok()?,
    };
    let address = json::get(&doc, "address")
        .and_then(json::as_str)
        .unwrap_or("");
    Some(Instance {
        id: String::from(id),
        address: String::from(address),
        port,
        tags: string_list(json::get(&doc, "tags")),
        meta: string_map(json::get(&doc, "meta")),
        status: String::from("passing"),
    })
}

/// A JSON answer's document, or the error it carries (gateway v1 has an
/// `error` string, v2 a `code` and `message`, streams `{"error":{...}}`).
fn document(body: &[u8]) -> Result<Node, String> {
    let doc = json::parse(body)?;
    if let Some(e) = json::get(&doc, "error") {
        let msg = json::as_str(e)
            .or_else(|| json::get(e, "message").and_then(json::as_str))
            .unwrap_or("an error");
        return Err(String::from(msg));
    }
    if !matches!(doc.value, Value::Object(_)) {
        return Err(String::from("expected a JSON object"));
    }
    Ok(doc)
}

fn u64_field(node: &Node, key: &str) -> u64 {
    json::get(node, key).and_then(json::as_u64).unwrap_or(0)
}

/// A lease grant answer: (ID, TTL).
pub fn parse_grant(body: &[u8]) -> Result<(u64, u64), String> {
    let doc = document(body)?;
    let id = u64_field(&doc, "ID");
    if id == 0 {
        return Err(String::from("lease grant without an ID"));
    }
    Ok((id, u64_field(&doc, "TTL")))
}

/// A keepalive answer: the remaining TTL, 0 if the lease is gone (a
/// result without TTL, or a stream error with gRPC code 5, NotFound).
pub fn parse_keepalive(body: &[u8]) -> Result<u64, String> {
    let line = body
        .split(|&b| b == b'\n')
        .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .ok_or("an empty keepalive answer")?;
    let not_found = json::parse(line).ok().is_some_and(|d| {
        let e = json::get(&d, "error").unwrap_or(&d);
        [json::get(e, "grpc_code"), json::get(e, "code")]
            .into_iter()
            .flatten()
            .any(|c| json::as_u64(c) == Some(5))
    });
    if not_found {
        return Ok(0);
    }
    let doc = document(line)?;
    let result = json::get(&doc, "result").unwrap_or(&doc);
    Ok(u64_field(result, "TTL"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Grant,
    Put,
    KeepAlive,
    Delete,
    Revoke,
}

pub struct EtcdService {
    svc: Service,
    key: Vec<u8>,
    healthy: bool,
    /// The newest check result was a failure (for status).
    failing: bool,
    maint: bool,
    removed: bool,
    shutting: bool,
    lease: Option<u64>,
    ttl_s: u64,
    key_state: Reg,
    keepalive_at: u64,
    op: Option<Op>,
    retry: Retry,
}

impl EtcdService {
    pub fn new(svc: Service, prefix: &str, seed: u64) -> EtcdService {
        let key = format!("{}/{}/{}", prefix.trim_end_matches('/'), svc.name, svc.id).into_bytes();
        let mut s = EtcdService {
            svc,
            key,
            healthy: false,
            failing: false,
            maint: false,
            removed: false,
            shutting: false,
            lease: None,
            ttl_s: 0,
            key_state: Reg::No,
            keepalive_at: 0,
            op: None,
            retry: Retry::new(seed),
        };
        s.reset_desire();
        s
    }

    fn reset_desire(&mut self) {
        self.healthy = self.svc.initial_status.as_deref() == Some("passing");
        self.failing = false;
        self.removed = false;
    }

    fn wanted(&self) -> bool {
        self.healthy && !self.maint && !self.removed
    }

    #[cfg(test)]
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    #[cfg(test)]
    pub fn lease(&self) -> Option<u64> {
        self.lease
    }

    fn ttl_wanted(&self) -> u64 {
        self.svc.ttl_ns.div_ceil(SEC).max(1)
    }

    fn why_gone(&self) -> &'static str {
        if self.removed {
            "stopped"
        } else if self.maint {
            "maintenance"
        } else {
            "unhealthy"
        }
    }

    fn label(&self, op: Op) -> String {
        let what = match op {
            Op::Grant => "lease grant",
            Op::Put => "registration",
            Op::KeepAlive => "lease keepalive",
            Op::Delete => "deregistration",
            Op::Revoke => "lease revocation",
        };
        format!("etcd: {what} for service {}", self.svc.id)
    }

    fn send(&mut self, op: Op) -> Step {
        self.op = Some(op);
        let lease = self.lease.unwrap_or(0);
        Step::Send(match op {
            Op::Grant => grant_call(self.ttl_wanted()),
            Op::Put => put_call(&self.key, service_value(&self.svc).as_bytes(), lease),
            Op::KeepAlive => keepalive_call(lease, self.ttl_s),
            Op::Delete => delete_call(&self.key),
            Op::Revoke => revoke_call(lease),
        })
    }

    fn lease_lost(&mut self) {
        if let Some(l) = self.lease.take() {
            info!(
                "etcd: re-registering service {}: lease {l} expired or unknown to etcd",
                self.svc.id
            );
        }
        self.key_state = Reg::No;
    }

    fn schedule_keepalive(&mut self, now: u64) {
        self.keepalive_at = now + (self.ttl_s * SEC / 3).max(SEC / 2);
    }

    fn handle(&mut self, now: u64, op: Op, resp: &Response) -> Result<(), String> {
        let status = resp.head.status;
        match op {
            Op::Grant if status == 200 => {
                let (id, ttl) = parse_grant(&resp.body)?;
                self.lease = Some(id);
                self.ttl_s = if ttl > 0 { ttl } else { self.ttl_wanted() };
            }
            Op::Put if status == 200 => {
                document(&resp.body)?;
                self.key_state = Reg::Yes;
                self.schedule_keepalive(now);
                info!(
                    "etcd: registered service {} at {} (lease {}, ttl {}s)",
                    self.svc.id,
                    String::from_utf8_lossy(&self.key),
                    self.lease.unwrap_or(0),
                    self.ttl_s
                );
            }
            Op::Put | Op::KeepAlive if status == 404 => self.lease_lost(),
            Op::KeepAlive if status == 200 => {
                if parse_keepalive(&resp.body)? == 0 {
                    self.lease_lost();
                } else {
                    self.schedule_keepalive(now);
                }
            }
            Op::Delete if status == 200 => {
                document(&resp.body)?;
                if self.key_state != Reg::No {
                    info!(
                        "etcd: deregistered service {} ({})",
                        self.svc.id,
                        self.why_gone()
                    );
                }
                self.key_state = Reg::No;
            }
            Op::Revoke if status == 200 || status == 404 => self.lease = None,
            _ => return Err(describe_status(resp)),
        }
        Ok(())
    }
}

impl Task for EtcdService {
    fn next(&mut self, now: u64) -> Step {
        let wanted = self.wanted();
        let leftover = self.key_state != Reg::No || self.lease.is_some();
        if !wanted && !leftover {
            return if self.removed {
                Step::Finished
            } else {
                Step::Idle
            };
        }
        if let Some(t) = self.retry.waiting(now) {
            return Step::Wait(t);
        }
        if !wanted {
            return self.send(if self.key_state != Reg::No {
                Op::Delete
            } else {
                Op::Revoke
            });
        }
        if self.lease.is_none() {
            return self.send(Op::Grant);
        }
        if self.key_state != Reg::Yes {
            return self.send(Op::Put);
        }
        if now >= self.keepalive_at {
            return self.send(Op::KeepAlive);
        }
        Step::Wait(self.keepalive_at)
    }

    fn done(&mut self, now: u64, result: Result<Response, String>, _out: &mut Vec<Notice>) {
        let Some(op) = self.op.take() else {
            return;
        };
        let label = self.label(op);
        let outcome = result.and_then(|r| self.handle(now, op, &r));
        match outcome {
            Ok(()) => self.retry.succeeded(&label),
            Err(e) => {
                self.retry.failed(now, &label, &e);
                match op {
                    Op::Put => self.key_state = Reg::Unknown,
                    Op::Delete | Op::Revoke if self.shutting => {
                        // Leases expire by themselves: giving up is safe.
                        warning!(
                            "etcd: gave up deregistering service {} at shutdown",
                            self.svc.id
                        );
                        self.key_state = Reg::No;
                        self.lease = None;
                    }
                    _ => {}
                }
            }
        }
    }
}

impl ServiceTask for EtcdService {
    fn set_health(&mut self, h: Health, _output: &str) {
        if self.maint || self.removed {
            return;
        }
        let healthy = h == Health::Passing;
        if self.healthy && !healthy {
            // The key must go now, not after a running backoff.
            self.retry.skip_wait();
        }
        self.healthy = healthy;
        self.failing = !healthy;
    }

    fn maintenance(&mut self, on: bool) {
        self.maint = on;
        self.retry.skip_wait();
        if !on {
            self.healthy = false;
        }
    }

    fn remove(&mut self) {
        self.removed = true;
        self.retry.skip_wait();
    }

    fn revive(&mut self, svc: Service) {
        self.svc = svc;
        self.reset_desire();
        // The definition may have changed (a reload).
        self.key_state.doubt();
    }

    fn shutdown(&mut self) -> bool {
        self.remove();
        self.shutting = true;
        // A grant, put or keepalive may be dropped: the revocation that
        // follows removes whatever they did.
        match self.op {
            Some(Op::Grant) => {
                self.op = None;
                true
            }
            Some(Op::Put | Op::KeepAlive) => {
                self.op = None;
                self.key_state = Reg::Unknown;
                true
            }
            _ => false,
        }
    }

    fn state(&self) -> String {
        if self.maint {
            return String::from("maintenance");
        }
        if let Some(e) = &self.retry.error {
            return format!("error: {e}");
        }
        if self.removed {
            return String::from("unregistered");
        }
        match self.key_state {
            Reg::Yes if self.wanted() => String::from("passing"),
            _ if self.wanted() => String::from("registering"),
            _ if self.failing => String::from("critical"),
            _ => String::from("unregistered"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Range,
    Watch,
}

/// What one watch-stream message asks for.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Continue,
    /// History is gone or the store was rebuilt: read the set again.
    Reread(String),
}

pub struct EtcdWatch {
    pub watch: usize,
    name: String,
    key: Vec<u8>,
    range_end: Option<Vec<u8>>,
    tag: Option<String>,
    kv: bool,
    /// The store revision everything applied so far is current to.
    revision: u64,
    /// Key -> instance, in no order (`set` sorts what it reports).
    entries: Vec<(Vec<u8>, Instance)>,
    reported: Reported,
    phase: Phase,
    in_flight: Option<Phase>,
    /// Stream bytes after the last newline.
    line: Vec<u8>,
    retry: Retry,
    rate: RateLimit,
}

pub enum EtcdWatchKind<'a> {
    Service {
        prefix: &'a str,
        service: &'a str,
        tag: Option<String>,
    },
    Key(&'a str),
    Prefix(&'a str),
}

impl EtcdWatch {
    pub fn new(watch: usize, name: String, kind: EtcdWatchKind<'_>, seed: u64) -> EtcdWatch {
        let (key, range_end, tag, kv) = match kind {
            EtcdWatchKind::Service {
                prefix,
                service,
                tag,
            } => {
                let k = format!("{}/{service}/", prefix.trim_end_matches('/')).into_bytes();
                let end = prefix_end(&k);
                (k, Some(end), tag, false)
            }
            EtcdWatchKind::Key(k) => (k.as_bytes().to_vec(), None, None, true),
            // Every key: etcd wants a non-empty key, "\0".."\0" is all.
            EtcdWatchKind::Prefix("") => (alloc::vec![0], Some(alloc::vec![0]), None, true),
            EtcdWatchKind::Prefix(p) => (
                p.as_bytes().to_vec(),
                Some(prefix_end(p.as_bytes())),
                None,
                true,
            ),
        };
        EtcdWatch {
            watch,
            name,
            key,
            range_end,
            tag,
            kv,
            revision: 0,
            entries: Vec::new(),
            reported: Reported::default(),
            phase: Phase::Range,
            in_flight: None,
            line: Vec::new(),
            retry: Retry::new(seed),
            rate: RateLimit::new(ETCD_WATCH),
        }
    }

    #[cfg(test)]
    pub fn revision(&self) -> u64 {
        self.revision
    }

    fn label(&self) -> String {
        format!("etcd: watch {}", self.name)
    }

    /// A PUT (`Some` value) or DELETE of `key`.
    fn apply(&mut self, key: Vec<u8>, value: Option<&[u8]>) {
        self.entries.retain(|(k, _)| *k != key);
        let Some(value) = value else { return };
        let inst = if self.kv {
            Some(kv_instance(&key, value))
        } else {
            parse_service_value(value)
        };
        match inst {
            Some(i) => self.entries.push((key, i)),
            None => crate::log::debug!(
                "etcd: watch {}: skipping {} (not a service record)",
                self.name,
                String::from_utf8_lossy(&key)
            ),
        }
    }

    /// The set as reported: tag-filtered and normalised.
    fn set(&self) -> Vec<Instance> {
        let tag = self.tag.as_deref();
        normalize(
            self.entries
                .iter()
                .map(|(_, i)| i)
                .filter(|i| tag.is_none_or(|t| i.tags.iter().any(|x| x == t)))
                .cloned()
                .collect(),
        )
    }

    fn report(&mut self, out: &mut Vec<Notice>) {
        let set = self.set();
        self.reported.offer(self.watch, self.kv, set, out);
    }

    fn apply_range(&mut self, body: &[u8]) -> Result<(), String> {
        let doc = document(body)?;
        let revision = json::get(&doc, "header").map_or(0, |h| u64_field(h, "revision"));
        if revision == 0 {
            return Err(String::from("range answer without a revision"));
        }
        let kvs = json::get(&doc, "kvs")
            .and_then(json::as_array)
            .unwrap_or(&[]);
        let mut read = Vec::with_capacity(kvs.len());
        for kv in kvs {
            read.push((base64_member(kv, "key")?, base64_member(kv, "value")?));
        }
        self.entries.clear();
        for (k, v) in read {
            self.apply(k, Some(&v));
        }
        self.revision = revision;
        Ok(())
    }

    /// Applies one stream message (one line).
    fn message(&mut self, line: &[u8]) -> Result<Verdict, String> {
        let doc = document(line)?;
        let result = json::get(&doc, "result").ok_or("a watch message without result")?;
        let revision = json::get(result, "header").map_or(0, |h| u64_field(h, "revision"));
        if json::get(result, "canceled").and_then(json::as_bool) == Some(true) {
            let compacted = u64_field(result, "compact_revision");
            if compacted > 0 {
                return Ok(Verdict::Reread(format!(
                    "history compacted at revision {compacted}"
                )));
            }
            let why = json::get(result, "cancel_reason")
                .and_then(json::as_str)
                .unwrap_or("no reason given");
            return Err(format!("watch canceled by etcd: {why}"));
        }
        if json::get(result, "created").and_then(json::as_bool) == Some(true) {
            if revision < self.revision {
                return Ok(Verdict::Reread(format!(
                    "etcd's revision went back from {} to {revision} (store rebuilt)",
                    self.revision
                )));
            }
            self.retry.succeeded(&self.label());
        }
        let events = json::get(result, "events")
            .and_then(json::as_array)
            .unwrap_or(&[]);
        let mut batch = Vec::with_capacity(events.len());
        for ev in events {
            let kv = json::get(ev, "kv").ok_or("a watch event without kv")?;
            let delete = json::get(ev, "type").and_then(json::as_str) == Some("DELETE");
            let key = base64_member(kv, "key")?;
            let value = if delete {
                None
            } else {
                Some(base64_member(kv, "value")?)
            };
            batch.push((key, value));
        }
        for (key, value) in batch {
            self.apply(key, value.as_deref());
        }
        if revision > self.revision {
            self.revision = revision;
        }
        Ok(Verdict::Continue)
    }

    fn reread(&mut self, why: &str) {
        info!("etcd: watch {}: {why}; reading it again", self.name);
        self.phase = Phase::Range;
        self.line.clear();
    }
}

impl Task for EtcdWatch {
    fn next(&mut self, now: u64) -> Step {
        if let Some(t) = watch_gate(&self.retry, &mut self.rate, now) {
            return Step::Wait(t);
        }
        self.in_flight = Some(self.phase);
        self.line.clear();
        Step::Send(match self.phase {
            Phase::Range => range_call(&self.key, self.range_end.as_deref()),
            Phase::Watch => watch_call(&self.key, self.range_end.as_deref(), self.revision + 1),
        })
    }

    fn head(&mut self, now: u64, head: &ResponseHead) -> bool {
        if head.status == 200 {
            return true;
        }
        self.in_flight = None;
        self.retry.failed(
            now,
            &self.label(),
            &format!("HTTP {} {}", head.status, head.reason),
        );
        false
    }

    fn data(&mut self, now: u64, bytes: &[u8], out: &mut Vec<Notice>) -> bool {
        self.line.extend_from_slice(bytes);
        let mut verdict = Ok(Verdict::Continue);
        let mut start = 0;
        while let Some(n) = self.line[start..].iter().position(|&b| b == b'\n') {
            let line = self.line[start..start + n].to_vec();
            start += n + 1;
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            verdict = self.message(&line);
            if verdict != Ok(Verdict::Continue) {
                break;
            }
        }
        self.line.drain(..start);
        match verdict {
            Ok(Verdict::Continue) if self.line.len() <= MAX_LINE => {
                self.report(out);
                true
            }
            Ok(Verdict::Continue) => {
                self.in_flight = None;
                self.retry
                    .failed(now, &self.label(), "a watch message over 8 MiB");
                false
            }
            Ok(Verdict::Reread(why)) => {
                self.in_flight = None;
                self.report(out);
                self.reread(&why);
                false
            }
            Err(e) => {
                self.in_flight = None;
                self.report(out);
                self.retry.failed(now, &self.label(), &e);
                false
            }
        }
    }

    fn done(&mut self, now: u64, result: Result<Response, String>, out: &mut Vec<Notice>) {
        let Some(phase) = self.in_flight.take() else {
            return;
        };
        let label = self.label();
        match (phase, result) {
            (Phase::Range, Ok(r)) if r.head.status == 200 => match self.apply_range(&r.body) {
                Ok(()) => {
                    self.retry.succeeded(&label);
                    self.phase = Phase::Watch;
                    self.report(out);
                }
                Err(e) => self.retry.failed(now, &label, &e),
            },
            (_, Ok(r)) if r.head.status != 200 => {
                self.retry.failed(now, &label, &describe_status(&r))
            }
            (Phase::Watch, Ok(_)) => self.retry.failed(now, &label, "the watch stream ended"),
            (_, Err(e)) => self.retry.failed(now, &label, &e),
            (Phase::Range, Ok(_)) => unreachable!("status 200 handled above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::http::ResponseHead;
    use alloc::string::ToString;
    use alloc::vec;

    fn resp(status: u16, body: &str) -> Response {
        Response {
            head: ResponseHead {
                status,
                reason: String::new(),
                headers: Vec::new(),
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
            tags: vec!["v1".to_string()],
            meta: vec![("version".to_string(), "1.2".to_string())],
            ttl_ns: 6_000_000_000,
            enable_tag_override: false,
            deregister_after: None,
            initial_status: None,
        }
    }

    fn send(t: &mut impl Task, now: u64) -> Call {
        match t.next(now) {
            Step::Send(c) => c,
            Step::Wait(at) => panic!("expected a call, got Wait({at})"),
            Step::Idle => panic!("expected a call, got Idle"),
            Step::Finished => panic!("expected a call, got Finished"),
        }
    }

    fn body_doc(c: &Call) -> Node {
        json::parse(&c.body).unwrap()
    }

    fn field<'a>(n: &'a Node, k: &str) -> &'a str {
        json::as_str(json::get(n, k).unwrap()).unwrap()
    }

    /// Where a watch call's stream starts.
    fn start_revision(c: &Call) -> String {
        let doc = body_doc(c);
        field(json::get(&doc, "create_request").unwrap(), "start_revision").to_string()
    }

    #[test]
    fn range_end_of_prefixes() {
        assert_eq!(prefix_end(b"svc/"), b"svc0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"a\xfe\xff\xff"), b"a\xff");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
        assert_eq!(prefix_end(b""), b"\0");
        assert_eq!(base64::encode(&prefix_end(b"svc/")), "c3ZjMA==");
    }

    #[test]
    fn calls_have_the_gateway_shapes() {
        let g = grant_call(6);
        assert_eq!((g.method, g.path.as_str()), ("POST", "/v3/lease/grant"));
        assert_eq!(g.body, br#"{"TTL":"6","ID":"0"}"#);
        let p = put_call(b"/services/web/web-h1", b"{}", 7_587_862_271);
        let d = body_doc(&p);
        assert_eq!(
            base64::decode(field(&d, "key")).unwrap(),
            b"/services/web/web-h1"
        );
        assert_eq!(field(&d, "value"), "e30=");
        assert_eq!(field(&d, "lease"), "7587862271");
        assert_eq!(keepalive_call(42, 6).body, br#"{"ID":"42"}"#);
        assert_eq!(keepalive_call(42, 6).timeout_ns, Some(2 * SEC));
        assert_eq!(keepalive_call(42, 600).timeout_ns, Some(CALL_TIMEOUT_NS));
        assert_eq!(revoke_call(42).path, "/v3/lease/revoke");
        assert_eq!(delete_call(b"k").body, br#"{"key":"aw=="}"#);
        let w = watch_call(b"svc/", Some(b"svc0"), 43);
        assert_eq!(
            core::str::from_utf8(&w.body).unwrap(),
            r#"{"create_request":{"key":"c3ZjLw==","range_end":"c3ZjMA==","start_revision":"43","prev_kv":true}}"#
        );
        assert!(w.stream && w.timeout_ns.is_none());
        assert_eq!(range_call(b"k", None).body, br#"{"key":"aw=="}"#);
    }

    #[test]
    fn service_values_round_trip() {
        let v = service_value(&service());
        assert_eq!(
            v,
            r#"{"id":"web-h1","name":"web","address":"10.0.0.5","port":8080,"tags":["v1"],"meta":{"version":"1.2"}}"#
        );
        let i = parse_service_value(v.as_bytes()).unwrap();
        assert_eq!(
            (i.id.as_str(), i.port, i.status.as_str()),
            ("web-h1", 8080, "passing")
        );
        assert_eq!(i.meta, vec![("version".to_string(), "1.2".to_string())]);
        for bad in [
            &b"nope"[..],
            b"{}",
            b"{\"id\":1}",
            b"{\"id\":\"x\",\"port\":99999}",
            b"[1]",
        ] {
            assert!(parse_service_value(bad).is_none());
        }
    }

    #[test]
    fn answers_parse_or_fail_cleanly() {
        assert_eq!(
            parse_grant(br#"{"header":{},"ID":"7587862271","TTL":"6"}"#),
            Ok((7_587_862_271, 6))
        );
        assert!(parse_grant(br#"{"ID":"0"}"#).is_err());
        assert!(
            parse_grant(br#"{"error":"etcdserver: too many requests","code":8}"#)
                .unwrap_err()
                .contains("too many")
        );
        assert!(parse_grant(br#"{"ID":"7"#).is_err());
        assert_eq!(
            parse_keepalive(b"{\"result\":{\"ID\":\"7\",\"TTL\":\"6\"}}\n"),
            Ok(6)
        );
        assert_eq!(
            parse_keepalive(b"{\"result\":{\"ID\":\"7\"}}\n"),
            Ok(0),
            "lease gone"
        );
        let gone = b"{\"error\":{\"grpc_code\":5,\"message\":\"lease not found\"}}";
        assert_eq!(parse_keepalive(gone), Ok(0), "NotFound is a lost lease");
        let down = b"{\"error\":{\"grpc_code\":14,\"message\":\"no leader\"}}";
        assert!(parse_keepalive(down).is_err());
        assert!(parse_keepalive(b"").is_err());
        assert!(parse_keepalive(b"{\"result\":").is_err());
    }

    fn ok(t: &mut impl Task, now: u64, body: &str) {
        t.done(now, Ok(resp(200, body)), &mut Vec::new());
    }

    const GRANT: &str = r#"{"ID":"77","TTL":"6"}"#;
    const PUT: &str = r#"{"header":{"revision":"5"}}"#;

    fn registered(now: u64) -> EtcdService {
        let mut t = EtcdService::new(service(), "/services", 3);
        t.set_health(Health::Passing, "ok");
        assert_eq!(send(&mut t, now).path, "/v3/lease/grant");
        ok(&mut t, now, GRANT);
        let c = send(&mut t, now);
        assert_eq!(c.path, "/v3/kv/put");
        assert_eq!(field(&body_doc(&c), "lease"), "77");
        ok(&mut t, now, PUT);
        assert_eq!(t.state(), "passing");
        t
    }

    #[test]
    fn healthy_grants_puts_and_keeps_alive_at_a_third_of_the_ttl() {
        let mut t = EtcdService::new(service(), "/services/", 3);
        assert!(matches!(t.next(0), Step::Idle));
        t.set_health(Health::Critical, "no");
        assert!(
            matches!(t.next(0), Step::Idle),
            "unhealthy first: nothing in etcd"
        );
        assert_eq!(t.state(), "critical");
        let mut t = registered(0);
        assert_eq!(t.key(), b"/services/web/web-h1");
        assert!(matches!(t.next(0), Step::Wait(at) if at == 2 * SEC));
        t.set_health(Health::Passing, "ok");
        assert!(
            matches!(t.next(SEC), Step::Wait(at) if at == 2 * SEC),
            "checks do not add keepalives"
        );
        let c = send(&mut t, 2 * SEC);
        assert_eq!(
            (c.path.as_str(), c.body.as_slice()),
            ("/v3/lease/keepalive", &br#"{"ID":"77"}"#[..])
        );
        ok(
            &mut t,
            2 * SEC,
            "{\"result\":{\"ID\":\"77\",\"TTL\":\"6\"}}\n",
        );
        assert!(matches!(t.next(2 * SEC), Step::Wait(at) if at == 4 * SEC));
    }

    #[test]
    fn initial_status_passing_registers_at_once() {
        let mut s = service();
        s.initial_status = Some("passing".to_string());
        let mut t = EtcdService::new(s, "/services", 3);
        assert_eq!(send(&mut t, 0).path, "/v3/lease/grant");
        let mut s = service();
        s.initial_status = Some("critical".to_string());
        let mut t = EtcdService::new(s, "/services", 3);
        assert!(matches!(t.next(0), Step::Idle));
    }

    #[test]
    fn keepalive_without_ttl_grants_and_puts_again() {
        for lost in [
            resp(200, "{\"result\":{\"header\":{},\"ID\":\"77\"}}\n"),
            resp(404, "{\"code\":5}"),
        ] {
            let mut t = registered(0);
            send(&mut t, 2 * SEC);
            t.done(2 * SEC, Ok(lost), &mut Vec::new());
            assert_eq!(t.lease(), None);
            assert_eq!(
                send(&mut t, 2 * SEC).path,
                "/v3/lease/grant",
                "at once, no backoff"
            );
            ok(&mut t, 2 * SEC, r#"{"ID":"78","TTL":"6"}"#);
            let c = send(&mut t, 2 * SEC);
            assert_eq!(field(&body_doc(&c), "lease"), "78");
            ok(&mut t, 2 * SEC, PUT);
            assert_eq!(t.state(), "passing");
        }
        // A put on a lease that expired meanwhile: grant again.
        let mut t = EtcdService::new(service(), "/services", 3);
        t.set_health(Health::Passing, "ok");
        send(&mut t, 0);
        ok(&mut t, 0, GRANT);
        send(&mut t, 0);
        t.done(
            0,
            Ok(resp(
                404,
                r#"{"error":"etcdserver: requested lease not found","code":5}"#,
            )),
            &mut Vec::new(),
        );
        assert_eq!(send(&mut t, 0).path, "/v3/lease/grant");
    }

    #[test]
    fn unhealthy_deletes_then_revokes_and_healthy_registers_again() {
        let mut t = registered(0);
        t.set_health(Health::Critical, "down");
        let c = send(&mut t, SEC);
        assert_eq!(c.path, "/v3/kv/deleterange");
        assert_eq!(
            base64::decode(field(&body_doc(&c), "key")).unwrap(),
            b"/services/web/web-h1"
        );
        ok(&mut t, SEC, r#"{"header":{"revision":"6"},"deleted":"1"}"#);
        let c = send(&mut t, SEC);
        assert_eq!(
            (c.path.as_str(), c.body.as_slice()),
            ("/v3/lease/revoke", &br#"{"ID":"77"}"#[..])
        );
        ok(&mut t, SEC, r#"{"header":{}}"#);
        assert!(matches!(t.next(SEC), Step::Idle));
        assert_eq!(t.state(), "critical");
        t.set_health(Health::Passing, "ok");
        assert_eq!(send(&mut t, 2 * SEC).path, "/v3/lease/grant");
    }

    #[test]
    fn failures_back_off_and_unhealthy_cuts_the_backoff_short() {
        let mut t = registered(0);
        send(&mut t, 2 * SEC);
        t.done(
            2 * SEC,
            Err("connection refused".to_string()),
            &mut Vec::new(),
        );
        assert!(t.state().starts_with("error: "));
        let Step::Wait(at) = t.next(2 * SEC) else {
            panic!()
        };
        assert!(at > 2 * SEC && at <= 2 * SEC + 250_000_000);
        t.set_health(Health::Critical, "down");
        assert_eq!(send(&mut t, 2 * SEC).path, "/v3/kv/deleterange");
    }

    #[test]
    fn remove_and_shutdown() {
        let mut t = registered(0);
        t.remove();
        assert_eq!(send(&mut t, 0).path, "/v3/kv/deleterange");
        ok(&mut t, 0, "{}");
        assert_eq!(send(&mut t, 0).path, "/v3/lease/revoke");
        t.done(0, Ok(resp(404, r#"{"code":5}"#)), &mut Vec::new());
        assert!(matches!(t.next(0), Step::Finished));

        let mut t = registered(0);
        send(&mut t, 2 * SEC); // a keepalive in flight
        assert!(t.shutdown());
        assert_eq!(send(&mut t, 2 * SEC).path, "/v3/kv/deleterange");
        t.done(2 * SEC, Err("timed out".to_string()), &mut Vec::new());
        assert!(
            matches!(t.next(2 * SEC), Step::Finished),
            "one attempt at shutdown"
        );
    }

    #[test]
    fn maintenance_leaves_and_waits_for_a_pass() {
        let mut t = registered(0);
        t.maintenance(true);
        assert_eq!(t.state(), "maintenance");
        assert_eq!(send(&mut t, 0).path, "/v3/kv/deleterange");
        ok(&mut t, 0, "{}");
        assert_eq!(send(&mut t, 0).path, "/v3/lease/revoke");
        ok(&mut t, 0, "{}");
        t.set_health(Health::Passing, "ignored");
        assert!(matches!(t.next(0), Step::Idle));
        t.maintenance(false);
        assert!(matches!(t.next(0), Step::Idle));
        t.set_health(Health::Passing, "ok");
        assert_eq!(send(&mut t, 0).path, "/v3/lease/grant");
    }

    fn kv(key: &str, value: &str) -> String {
        format!(
            r#"{{"key":"{}","value":"{}","mod_revision":"3"}}"#,
            base64::encode(key.as_bytes()),
            base64::encode(value.as_bytes())
        )
    }

    fn svc_json(id: &str, tags: &[&str]) -> String {
        let mut s = service();
        s.id = id.to_string();
        s.tags = tags.iter().map(|t| t.to_string()).collect();
        service_value(&s)
    }

    fn watch(tag: Option<&str>) -> EtcdWatch {
        let kind = EtcdWatchKind::Service {
            prefix: "/services",
            service: "web",
            tag: tag.map(String::from),
        };
        EtcdWatch::new(2, "web".to_string(), kind, 5)
    }

    fn put_event(key: &str, value: &str, rev: u64) -> String {
        format!(
            r#"{{"result":{{"header":{{"revision":"{rev}"}},"events":[{{"kv":{}}}]}}}}"#,
            kv(key, value)
        ) + "\n"
    }

    fn del_event(key: &str, rev: u64) -> String {
        format!(
            r#"{{"result":{{"header":{{"revision":"{rev}"}},"events":[{{"type":"DELETE","kv":{{"key":"{}","mod_revision":"{rev}"}}}}]}}}}"#,
            base64::encode(key.as_bytes())
        ) + "\n"
    }

    fn ids(n: &Notice) -> Vec<String> {
        let Notice::WatchChanged { instances, .. } = n;
        instances.iter().map(|i| i.id.clone()).collect()
    }

    #[test]
    fn watch_reads_then_streams_events() {
        let mut w = watch(None);
        let mut out = Vec::new();
        let c = send(&mut w, 0);
        assert_eq!(c.path, "/v3/kv/range");
        let d = body_doc(&c);
        assert_eq!(base64::decode(field(&d, "key")).unwrap(), b"/services/web/");
        assert_eq!(
            base64::decode(field(&d, "range_end")).unwrap(),
            b"/services/web0"
        );
        let range = format!(
            r#"{{"header":{{"revision":"10"}},"kvs":[{}],"count":"1"}}"#,
            kv("/services/web/a", &svc_json("a", &[]))
        );
        w.done(0, Ok(resp(200, &range)), &mut out);
        assert_eq!(out.len(), 1);
        assert!(matches!(
            &out[0],
            Notice::WatchChanged {
                watch: 2,
                healthy: true,
                ..
            }
        ));
        let c = send(&mut w, 1);
        assert_eq!(c.path, "/v3/watch");
        assert_eq!(start_revision(&c), "11");
        let head = ResponseHead {
            status: 200,
            reason: "OK".to_string(),
            headers: Vec::new(),
        };
        assert!(w.head(1, &head));
        assert!(w.data(
            1,
            b"{\"result\":{\"header\":{\"revision\":\"10\"},\"created\":true}}\n",
            &mut out
        ));
        assert_eq!(out.len(), 1);
        // An event split across reads, then a second in the same read.
        let ev = put_event("/services/web/b", &svc_json("b", &[]), 11);
        let (a, b) = ev.split_at(20);
        assert!(w.data(1, a.as_bytes(), &mut out));
        assert_eq!(out.len(), 1);
        let both = format!("{b}{}", del_event("/services/web/a", 12));
        assert!(w.data(1, both.as_bytes(), &mut out));
        assert_eq!(
            out.len(),
            2,
            "one notice per read, with both events applied"
        );
        assert_eq!(ids(&out[1]), vec!["b".to_string()]);
        assert_eq!(w.revision(), 12);
        // A put that changes nothing visible: no notice.
        assert!(w.data(
            1,
            put_event("/services/web/b", &svc_json("b", &[]), 13).as_bytes(),
            &mut out
        ));
        assert_eq!(out.len(), 2);
        // The stream ends: resume from the last revision + 1 after a backoff.
        w.done(1, Ok(resp(200, "")), &mut out);
        let Step::Wait(at) = w.next(1) else { panic!() };
        let c = send(&mut w, at);
        assert_eq!(start_revision(&c), "14");
        // Deleting the last instance: unhealthy.
        assert!(w.data(at, del_event("/services/web/b", 14).as_bytes(), &mut out));
        assert!(
            matches!(&out[2], Notice::WatchChanged { healthy: false, instances, .. } if instances.is_empty())
        );
    }

    #[test]
    fn compaction_and_rebuilt_stores_are_read_again() {
        let mut w = watch(None);
        let mut out = Vec::new();
        send(&mut w, 0);
        ok(&mut w, 0, r#"{"header":{"revision":"10"}}"#);
        send(&mut w, 0);
        let cancel = "{\"result\":{\"canceled\":true,\"compact_revision\":\"20\"}}\n";
        assert!(
            !w.data(0, cancel.as_bytes(), &mut out),
            "the stream is dropped"
        );
        assert_eq!(
            send(&mut w, 0).path,
            "/v3/kv/range",
            "no backoff for a compaction"
        );
        let range = format!(
            r#"{{"header":{{"revision":"30"}},"kvs":[{}]}}"#,
            kv("/services/web/a", &svc_json("a", &[]))
        );
        ok(&mut w, 0, &range);
        // The rate limit (not a backoff) spaces the fourth call.
        let Step::Wait(at) = w.next(0) else {
            panic!("rate limited after three calls")
        };
        assert!(at <= SEC);
        let c = send(&mut w, at);
        assert_eq!(start_revision(&c), "31");
        // etcd came back empty (data dir lost): its revision is behind ours.
        assert!(!w.data(
            at,
            b"{\"result\":{\"header\":{\"revision\":\"2\"},\"created\":true}}\n",
            &mut out
        ));
        let now = 10 * SEC;
        assert_eq!(send(&mut w, now).path, "/v3/kv/range");
        ok(&mut w, now, r#"{"header":{"revision":"2"}}"#);
        assert_eq!(w.revision(), 2);
        assert_eq!(start_revision(&send(&mut w, now)), "3");
    }

    #[test]
    fn stream_errors_back_off_and_keep_the_set() {
        let bad: &[&[u8]] = &[
            b"{\"result\":{\"events\":[{\"kv\":{\"key\":\"!!!\"}}]}}\n",
            b"not json\n",
            b"{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: no leader\"}}\n",
            b"{\"result\":{\"canceled\":true,\"cancel_reason\":\"permission denied\"}}\n",
            b"{\"result\":{\"events\":[{}]}}\n",
        ];
        for b in bad {
            let mut w = watch(None);
            let mut out = Vec::new();
            send(&mut w, 0);
            send(&mut w, 0);
            w.done(
                0,
                Ok(resp(200, r#"{"header":{"revision":"10"}}"#)),
                &mut out,
            );
            send(&mut w, 0);
            assert!(!w.data(0, b, &mut out), "{}", String::from_utf8_lossy(b));
            assert!(w.state_error().is_some());
            assert!(matches!(w.next(0), Step::Wait(_)));
            assert_eq!(out.len(), 1, "only the first result");
        }
        // Non-200 heads are failures too.
        let mut w = watch(None);
        send(&mut w, 0);
        ok(&mut w, 0, r#"{"header":{"revision":"10"}}"#);
        send(&mut w, 0);
        assert!(!w.head(
            0,
            &ResponseHead {
                status: 503,
                reason: "Service Unavailable".to_string(),
                headers: Vec::new()
            }
        ));
        assert!(matches!(w.next(0), Step::Wait(_)));
        // Truncated or erroneous range answers.
        for body in [
            r#"{"header":{"revision":"1"},"kvs":[{"key":"#,
            "{}",
            r#"{"error":"etcdserver: mvcc: required revision has been compacted","code":11}"#,
        ] {
            let mut w = watch(None);
            let mut out = Vec::new();
            send(&mut w, 0);
            ok(&mut w, 0, body);
            assert!(out.is_empty());
            assert!(matches!(w.next(0), Step::Wait(_)));
            w.done(0, Ok(resp(200, body)), &mut out);
        }
    }

    #[test]
    fn tag_filters_and_kv_watches() {
        let mut w = watch(Some("v2"));
        let mut out = Vec::new();
        send(&mut w, 0);
        let range = format!(
            r#"{{"header":{{"revision":"10"}},"kvs":[{},{},{}]}}"#,
            kv("/services/web/a", &svc_json("a", &["v1"])),
            kv("/services/web/b", &svc_json("b", &["v2", "v1"])),
            kv("/services/web/junk", "not a record")
        );
        w.done(0, Ok(resp(200, &range)), &mut out);
        assert_eq!(ids(&out[0]), vec!["b".to_string()]);
        send(&mut w, 0);
        // A change to an instance the tag hides: no notice.
        assert!(w.data(
            0,
            put_event("/services/web/a", &svc_json("a", &["v3"]), 11).as_bytes(),
            &mut out
        ));
        assert_eq!(out.len(), 1);

        let mut k = EtcdWatch::new(0, "cfg".to_string(), EtcdWatchKind::Prefix("config/"), 1);
        let c = send(&mut k, 0);
        assert_eq!(
            base64::decode(field(&body_doc(&c), "range_end")).unwrap(),
            b"config0"
        );
        k.done(
            0,
            Ok(resp(
                200,
                &format!(
                    r#"{{"header":{{"revision":"4"}},"kvs":[{}]}}"#,
                    kv("config/a", "1")
                ),
            )),
            &mut out,
        );
        let Notice::WatchChanged {
            healthy, instances, ..
        } = out.last().unwrap();
        assert!(*healthy);
        assert_eq!(instances[0].meta[0].1, "1");
        let mut one = EtcdWatch::new(1, "one".to_string(), EtcdWatchKind::Key("config/a"), 1);
        let c = send(&mut one, 0);
        assert!(json::get(&body_doc(&c), "range_end").is_none());
        one.done(0, Ok(resp(200, r#"{"header":{"revision":"4"}}"#)), &mut out);
        assert!(matches!(
            out.last().unwrap(),
            Notice::WatchChanged {
                watch: 1,
                healthy: false,
                ..
            }
        ));
        let all = EtcdWatch::new(1, "all".to_string(), EtcdWatchKind::Prefix(""), 1);
        assert_eq!(
            (all.key.as_slice(), all.range_end.as_deref()),
            (&b"\0"[..], Some(&b"\0"[..]))
        );
    }

    impl EtcdWatch {
        fn state_error(&self) -> Option<&str> {
            self.retry.error.as_deref()
        }
    }
}
