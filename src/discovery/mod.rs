//! Service discovery, Consul or etcd v3, driven by the one loop. The
//! engine tells it what its jobs are doing; it keeps the catalog accurate
//! (registering again after an agent restart, a lost lease, maintenance)
//! and reports what watches see.
//!
//! Contract (the engine relies on it):
//! - Nothing here blocks, and no call fails synchronously: failures are
//!   logged and retried with backoff and jitter, never in a hot loop.
//! - Tokens and timer keys: a Discovery owns `token_base..token_base +
//!   TOKEN_SPAN`; the engine routes every token/key for which `owns` is true.
//! - The engine calls `set_health` on every health-check result of an
//!   advertised job; Discovery decides what goes on the wire (first pass
//!   registers, passes heartbeat, a failure marks critical at once).
//!
//! Layout: `consul` and `etcd` hold the protocols as sans-IO tasks (one per
//! service, one per watch) that say what to send next and read what came
//! back; `retry` paces them, `watch` compares what watches see. This file
//! only moves calls between the tasks and the HTTP client.
//!
//! Decisions:
//! - A task has at most one call in flight; it is asked for its next step
//!   only when that call is done, so requests never pile up.
//! - Notices come only from watches, and a watch is driven only from
//!   `on_ready`/`on_timer` (a new one's first read waits for a timer due
//!   now): the API calls drive services, which produce none, so they need
//!   no `out` (the client may answer inside `start`).
//! - Token layout: the client owns `token_base..+2^32`; above that, timer
//!   key `CLIENT_SPAN + n` wakes task n (n = 0 is the shutdown deadline).
//!   Task numbers are never reused, so a stale timer cannot wake another.
//! - etcd endpoints: every call goes to the current one; a transport error
//!   (refused, timeout, broken response) moves to the next, and the current
//!   one stays as long as it answers.
//! - Shutdown gives each service one deregistration attempt (after any
//!   registration still in flight) and gives up after `SHUTDOWN_NS`.

use crate::quote::q;
mod consul;
pub(crate) mod etcd;
#[cfg(test)]
mod live_tests;
pub(crate) mod retry;
mod watch;

// For the fuzz targets.
pub use consul::{parse_health_service, parse_kv};
pub use etcd::{parse_service_value, service_value};

use crate::event_loop::{EventLoop, TimerId};
use crate::log::{debug, info, warning};
use crate::net::client::{self, Call, CallId, Client, Endpoint, Reply, Response};
use crate::net::http::ResponseHead;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

pub const TOKEN_SPAN: u64 = 1 << 48;

/// Which backend, and how to reach it (from the config and environment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendConfig {
    Consul {
        /// As written: `host:port`, `http://host:port`, `unix:///path`.
        address: String,
        token: Option<String>,
    },
    Etcd {
        endpoints: Vec<String>,
        /// Key prefix, default "/services" (no trailing slash).
        prefix: String,
    },
}

/// An advertised job's service instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// Unique per container, stable across restarts of tug: `name-hostname`.
    pub id: String,
    pub name: String,
    /// IP text chosen by `interfaces` (v4 dotted, v6 without brackets).
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub meta: Vec<(String, String)>,
    pub ttl_ns: u64,
    pub enable_tag_override: bool,
    /// Go duration text for Consul's DeregisterCriticalServiceAfter.
    pub deregister_after: Option<String>,
    /// "passing" | "warning" | "critical": register at once with it,
    /// before the first check; None: register on the first passing check.
    pub initial_status: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Passing,
    Warning,
    Critical,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchKind {
    Service {
        service: String,
        tag: Option<String>,
        dc: Option<String>,
    },
    /// One KV key.
    Key(String),
    /// Every key under a prefix.
    Prefix(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchSpec {
    /// The watch's name: events come from `watch.<name>`.
    pub name: String,
    pub kind: WatchKind,
}

/// One instance a service watch sees (sorted sets are compared whole).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instance {
    pub id: String,
    pub address: String,
    pub port: u16,
    pub tags: Vec<String>,
    pub meta: Vec<(String, String)>,
    /// Aggregate: "passing", "warning" or "critical".
    pub status: String,
}

/// What the engine hears from discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A watch's result differs from the previous one (or is the first).
    /// `healthy`: at least one passing instance (service) / the key or
    /// prefix exists (KV).
    WatchChanged {
        watch: usize,
        healthy: bool,
        instances: Vec<Instance>,
    },
}

/// A service's id, name, address, port, tags and meta as members of the
/// object `w` is in, under the names a backend spells them with.
pub(crate) fn write_service(w: &mut crate::json::Writer, svc: &Service, names: [&str; 6]) {
    w.field(names[0], &svc.id)
        .field(names[1], &svc.name)
        .field(names[2], &svc.address)
        .key(names[3])
        .uint(u64::from(svc.port))
        .key(names[4])
        .begin_array();
    for t in &svc.tags {
        w.string(t);
    }
    w.end_array().key(names[5]).begin_object();
    for (k, v) in &svc.meta {
        w.field(k, v);
    }
    w.end_object();
}

/// Deadline of every call that is neither a blocking query nor a stream.
pub const CALL_TIMEOUT_NS: u64 = 5_000_000_000;
/// How long shutdown waits for deregistrations.
pub const SHUTDOWN_NS: u64 = 5_000_000_000;
const CLIENT_SPAN: u64 = client::TOKEN_SPAN;
const KEY_SHUTDOWN: u64 = 0;

/// What the backend is believed to hold for a service (its registration,
/// or its etcd key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reg {
    No,
    Yes,
    /// A request failed: it may be there, or may have been forgotten.
    Unknown,
}

impl Reg {
    /// What the backend holds may no longer be what was written (a request
    /// was abandoned, or the definition changed): write it again.
    pub(crate) fn doubt(&mut self) {
        if *self == Reg::Yes {
            *self = Reg::Unknown;
        }
    }
}

/// What a task wants next.
pub(crate) enum Step {
    Send(Call),
    /// Ask again at this time (backoff, keepalive, rate limit).
    Wait(u64),
    /// Nothing until something changes.
    Idle,
    /// Done for good: forget the task.
    Finished,
}

/// One service or one watch, as a protocol state machine.
pub(crate) trait Task {
    /// Called only while none of the task's calls is in flight.
    fn next(&mut self, now: u64) -> Step;
    /// A stream's head; false: the task gave up on the call (it recorded
    /// why), which is then cancelled.
    fn head(&mut self, _now: u64, _head: &ResponseHead) -> bool {
        true
    }
    /// Stream bytes; false as for `head`.
    fn data(&mut self, _now: u64, _bytes: &[u8], _out: &mut Vec<Notice>) -> bool {
        true
    }
    fn done(&mut self, now: u64, result: Result<Response, String>, out: &mut Vec<Notice>);
}

pub(crate) trait ServiceTask: Task {
    fn set_health(&mut self, h: Health, output: &str);
    fn maintenance(&mut self, on: bool);
    fn remove(&mut self);
    /// The same id was added again before its removal finished.
    fn revive(&mut self, svc: Service);
    /// Deregister now, once. True if the task dropped its call in flight
    /// (which the caller then cancels).
    fn shutdown(&mut self) -> bool;
    fn state(&self) -> String;
}

pub(crate) fn health_word(h: Health) -> &'static str {
    match h {
        Health::Passing => "passing",
        Health::Warning => "warning",
        Health::Critical => "critical",
    }
}

/// A one-line reason for an unexpected status: the status and the first
/// line of the body (Consul errors are plain text, etcd's JSON).
pub(crate) fn describe_status(resp: &Response) -> String {
    let text = String::from_utf8_lossy(&resp.body);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.is_empty() {
        format!("HTTP {} {}", resp.head.status, resp.head.reason)
    } else {
        format!("HTTP {}: {}", resp.head.status, clip(line, 200))
    }
}

/// `s` cut to at most `max` bytes, on a character boundary.
pub(crate) fn clip(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

enum Backend {
    Consul {
        /// Err: the address does not parse, and every request fails with
        /// this reason, as if the agent could not be reached: the config
        /// loaded it (as ContainerPilot would), so the jobs run, and the
        /// services and watches retry with backoff until a reload.
        ep: Result<Endpoint, String>,
        token: Option<String>,
    },
    Etcd {
        eps: Vec<Endpoint>,
        current: usize,
        /// The endpoint that answered last, while it keeps answering.
        good: Option<usize>,
        prefix: String,
    },
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Consul { .. } => "consul",
            Backend::Etcd { .. } => "etcd",
        }
    }
}

enum Kind {
    Service(String, Box<dyn ServiceTask>),
    Watch(Box<dyn Task>),
}

impl Kind {
    fn task(&mut self) -> &mut dyn Task {
        match self {
            Kind::Service(_, t) => t.as_mut(),
            Kind::Watch(t) => t.as_mut(),
        }
    }
}

struct Unit {
    uid: u64,
    kind: Kind,
    /// The call in flight and the endpoint it went to.
    call: Option<(CallId, usize)>,
    timer: Option<(u64, TimerId)>,
}

impl Unit {
    fn service_id(&self) -> Option<&str> {
        match &self.kind {
            Kind::Service(id, _) => Some(id),
            Kind::Watch(_) => None,
        }
    }
}

/// Units are few (advertised jobs and watches), so they live in a Vec and
/// are found by scanning: cheaper in code than a map per key type.
fn find(units: &mut [Unit], uid: u64) -> Option<&mut Unit> {
    units.iter_mut().find(|u| u.uid == uid)
}

pub struct Discovery {
    base: u64,
    client: Client,
    backend: Backend,
    units: Vec<Unit>,
    /// Watch index -> task, None once removed (indices are never reused).
    watches: Vec<Option<u64>>,
    next_unit: u64,
    seeds: retry::Rng,
    maint: bool,
    shutting: bool,
    deadline: Option<TimerId>,
    replies: Vec<Reply>,
}

impl Discovery {
    pub fn new(cfg: &BackendConfig, token_base: u64) -> Result<Discovery, String> {
        let backend = match cfg {
            BackendConfig::Consul { address, token } => Backend::Consul {
                ep: Endpoint::parse_why(address, 8500)
                    .map_err(|why| format!("{address} is not a valid address: {why}")),
                token: token.clone().filter(|t| !t.is_empty()),
            },
            BackendConfig::Etcd { endpoints, prefix } => {
                if endpoints.is_empty() {
                    return Err(String::from("etcd: no endpoints given"));
                }
                let mut eps = Vec::new();
                for e in endpoints {
                    eps.push(
                        Endpoint::parse(e, 2379)
                            .map_err(|err| format!("etcd endpoint {e}: {err}", e = q(&e)))?,
                    );
                }
                Backend::Etcd {
                    eps,
                    current: 0,
                    good: None,
                    prefix: String::from(prefix.trim_end_matches('/')),
                }
            }
        };
        Ok(Discovery {
            base: token_base,
            client: Client::new(token_base),
            backend,
            units: Vec::new(),
            watches: Vec::new(),
            next_unit: 1,
            seeds: retry::Rng::from_environment(),
            maint: false,
            shutting: false,
            deadline: None,
            replies: Vec::new(),
        })
    }

    pub fn owns(&self, token: u64) -> bool {
        token.wrapping_sub(self.base) < TOKEN_SPAN
    }

    /// An advertised job started. Registers at once when `initial_status`
    /// is set, otherwise remembers it until the first passing check.
    pub fn add_service(&mut self, lp: &mut EventLoop, svc: Service) {
        if self.shutting {
            debug!(
                "{}: not adding service {} during shutdown",
                self.backend.name(),
                svc.id
            );
            return;
        }
        let id = svc.id.clone();
        if let Some(uid) = self.with_service(&id, |t| t.revive(svc.clone())) {
            return self.drive_and_pump(lp, uid);
        }
        let seed = self.seeds.next();
        let mut task: Box<dyn ServiceTask> = match &self.backend {
            Backend::Consul { token, .. } => {
                Box::new(consul::ConsulService::new(svc, token.clone(), seed))
            }
            Backend::Etcd { prefix, .. } => Box::new(etcd::EtcdService::new(svc, prefix, seed)),
        };
        if self.maint {
            task.maintenance(true);
        }
        let uid = self.insert(Kind::Service(id, task));
        self.drive_and_pump(lp, uid);
    }

    /// A service task of the caller's own (registrator's layouts) under
    /// `id`. A task already there under that id is replaced, its call in
    /// flight kept: the new task sees that call's answer with no request
    /// of its own outstanding (and ignores it), and sends its first only
    /// after it, so nothing of the old one can land after the new one.
    pub(crate) fn add_task(&mut self, lp: &mut EventLoop, id: &str, task: Box<dyn ServiceTask>) {
        if self.shutting {
            return;
        }
        let uid = match self.units.iter_mut().find(|u| u.service_id() == Some(id)) {
            Some(u) => {
                u.kind = Kind::Service(id.into(), task);
                u.uid
            }
            None => self.insert(Kind::Service(id.into(), task)),
        };
        self.drive_and_pump(lp, uid);
    }

    /// A health-check result for the service `id`.
    pub fn set_health(&mut self, lp: &mut EventLoop, id: &str, h: Health, output: &str) {
        if let Some(uid) = self.with_service(id, |t| t.set_health(h, output)) {
            self.drive_and_pump(lp, uid);
        }
    }

    /// The job stopped (or is stopping): deregister now, forget it.
    pub fn remove_service(&mut self, lp: &mut EventLoop, id: &str) {
        if let Some(uid) = self.with_service(id, |t| t.remove()) {
            self.drive_and_pump(lp, uid);
        }
    }

    /// Maintenance on: every service leaves the catalog (kept in memory);
    /// off: each registers again on its next passing check.
    pub fn maintenance(&mut self, lp: &mut EventLoop, on: bool) {
        if self.maint == on {
            return;
        }
        self.maint = on;
        info!(
            "{}: maintenance {}",
            self.backend.name(),
            if on {
                "on: leaving the catalog"
            } else {
                "off: registering on the next passing check"
            }
        );
        let mut uids = Vec::new();
        for u in &mut self.units {
            if let Kind::Service(_, t) = &mut u.kind {
                t.maintenance(on);
                uids.push(u.uid);
            }
        }
        for uid in uids {
            self.drive(lp, uid);
        }
        self.pump_services(lp);
    }

    /// Starts a watch; its index in `Notice::WatchChanged` is the return.
    pub fn add_watch(&mut self, lp: &mut EventLoop, w: WatchSpec) -> usize {
        let index = self.watches.len();
        if self.shutting {
            self.watches.push(None);
            return index;
        }
        let seed = self.seeds.next();
        let task: Box<dyn Task> = match &self.backend {
            Backend::Consul { token, .. } => Box::new(consul::ConsulWatch::new(
                index,
                w.name,
                w.kind,
                token.clone(),
                seed,
            )),
            Backend::Etcd { prefix, .. } => {
                let kind = match &w.kind {
                    WatchKind::Service { service, tag, dc } => {
                        if let Some(dc) = dc {
                            warning!(
                                "etcd: watch {}: dc {dc} is ignored (etcd has no datacenters)",
                                w.name,
                                dc = q(&dc)
                            );
                        }
                        etcd::EtcdWatchKind::Service {
                            prefix,
                            service,
                            tag: tag.clone(),
                        }
                    }
                    WatchKind::Key(k) => etcd::EtcdWatchKind::Key(k),
                    WatchKind::Prefix(p) => etcd::EtcdWatchKind::Prefix(p),
                };
                Box::new(etcd::EtcdWatch::new(index, w.name.clone(), kind, seed))
            }
        };
        let uid = self.insert(Kind::Watch(task));
        self.watches.push(Some(uid));
        // Its first read starts on the loop's next turn, so whatever the
        // answer reports is handed out by on_ready/on_timer.
        let now = lp.now();
        if let Some(u) = find(&mut self.units, uid) {
            u.timer = Some((now, lp.add_timer(now, self.base + CLIENT_SPAN + uid)));
        }
        index
    }

    /// Stops a watch (reload removed it); its index is never reused.
    pub fn remove_watch(&mut self, lp: &mut EventLoop, watch: usize) {
        if let Some(uid) = self.watches.get_mut(watch).and_then(Option::take) {
            self.drop_unit(lp, uid);
        }
    }

    pub fn on_ready(&mut self, lp: &mut EventLoop, token: u64, out: &mut Vec<Notice>) {
        self.client.on_ready(lp, token, &mut self.replies);
        self.pump(lp, out);
    }

    pub fn on_timer(&mut self, lp: &mut EventLoop, key: u64, out: &mut Vec<Notice>) {
        if self.client.owns(key) {
            self.client.on_timer(lp, key, &mut self.replies);
        } else {
            let n = key.wrapping_sub(self.base).wrapping_sub(CLIENT_SPAN);
            if n == KEY_SHUTDOWN {
                self.deadline = None;
                self.give_up(lp);
            } else if let Some(u) = find(&mut self.units, n) {
                if u.timer.is_some_and(|(at, _)| at <= lp.now()) {
                    u.timer = None;
                }
                self.drive(lp, n);
            }
        }
        self.pump(lp, out);
    }

    /// Shutdown: stop watches, deregister every service. Returns at once;
    /// `settled` tells when the deregistrations are done (or failed).
    pub fn shutdown(&mut self, lp: &mut EventLoop) {
        if self.shutting {
            return;
        }
        self.shutting = true;
        for uid in self
            .watches
            .iter_mut()
            .filter_map(Option::take)
            .collect::<Vec<_>>()
        {
            self.drop_unit(lp, uid);
        }
        let mut uids = Vec::new();
        for u in &mut self.units {
            if let Kind::Service(_, t) = &mut u.kind
                && t.shutdown()
                && let Some((cid, _)) = u.call.take()
            {
                self.client.cancel(lp, cid);
            }
            uids.push(u.uid);
        }
        for uid in uids {
            self.drive(lp, uid);
        }
        self.pump_services(lp);
        if !self.units.is_empty() {
            let key = self.base + CLIENT_SPAN + KEY_SHUTDOWN;
            self.deadline = Some(lp.add_timer(lp.now() + SHUTDOWN_NS, key));
        }
    }

    pub fn settled(&self) -> bool {
        !self.units.iter().any(|u| u.service_id().is_some())
    }

    /// Registration state of a service, for status: "unregistered",
    /// "registering", "passing", "warning", "critical", "maintenance",
    /// "error: ...".
    pub fn service_state(&self, id: &str) -> String {
        for u in &self.units {
            if let Kind::Service(i, t) = &u.kind
                && i == id
            {
                return t.state();
            }
        }
        String::from("unregistered")
    }

    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.units.iter().filter(|u| u.call.is_some()).count()
    }

    fn insert(&mut self, kind: Kind) -> u64 {
        let uid = self.next_unit;
        self.next_unit += 1;
        self.units.push(Unit {
            uid,
            kind,
            call: None,
            timer: None,
        });
        uid
    }

    fn with_service(&mut self, id: &str, f: impl FnOnce(&mut dyn ServiceTask)) -> Option<u64> {
        for u in &mut self.units {
            if let Kind::Service(i, t) = &mut u.kind
                && i == id
            {
                f(t.as_mut());
                return Some(u.uid);
            }
        }
        None
    }

    fn drive_and_pump(&mut self, lp: &mut EventLoop, uid: u64) {
        self.drive(lp, uid);
        self.pump_services(lp);
    }

    /// `pump` for the API calls, which drive services only.
    fn pump_services(&mut self, lp: &mut EventLoop) {
        let mut none = Vec::new();
        self.pump(lp, &mut none);
        debug_assert!(none.is_empty(), "a watch was driven by an API call");
    }

    /// Asks an idle task for its next step and carries it out.
    fn drive(&mut self, lp: &mut EventLoop, uid: u64) {
        let now = lp.now();
        let Some(unit) = find(&mut self.units, uid) else {
            return;
        };
        if unit.call.is_some() {
            return;
        }
        let step = unit.kind.task().next(now);
        if let Step::Wait(at) = step
            && unit.timer.is_some_and(|(t, _)| t == at)
        {
            return;
        }
        if let Some((_, id)) = unit.timer.take() {
            lp.cancel_timer(id);
        }
        match step {
            Step::Send(call) => {
                let (ep, ep_index) = match &self.backend {
                    Backend::Consul { ep, .. } => (ep.as_ref(), 0),
                    Backend::Etcd { eps, current, .. } => (Ok(&eps[*current]), *current),
                };
                let cid = match ep {
                    Ok(ep) => {
                        debug!(
                            "{}: {} {} to {ep}",
                            self.backend.name(),
                            call.method,
                            call.path
                        );
                        self.client.start(lp, ep, call, &mut self.replies)
                    }
                    Err(why) => self.client.fail(why, &mut self.replies),
                };
                unit.call = Some((cid, ep_index));
            }
            Step::Wait(at) => {
                unit.timer = Some((at, lp.add_timer(at, self.base + CLIENT_SPAN + uid)))
            }
            Step::Idle => {}
            Step::Finished => self.forget(lp, uid),
        }
    }

    /// Hands the client's replies to their tasks until none are left
    /// (starting a call can produce a reply at once).
    fn pump(&mut self, lp: &mut EventLoop, out: &mut Vec<Notice>) {
        while !self.replies.is_empty() {
            for reply in core::mem::take(&mut self.replies) {
                self.dispatch(lp, reply, out);
            }
        }
    }

    fn dispatch(&mut self, lp: &mut EventLoop, reply: Reply, out: &mut Vec<Notice>) {
        let cid = match &reply {
            Reply::Head(c, _) | Reply::Data(c, _) | Reply::Done(c, _) => *c,
        };
        let Some(unit) = self
            .units
            .iter_mut()
            .find(|u| u.call.is_some_and(|c| c.0 == cid))
        else {
            return;
        };
        let uid = unit.uid;
        let now = lp.now();
        let keep = match reply {
            Reply::Head(_, head) => unit.kind.task().head(now, &head),
            Reply::Data(_, bytes) => unit.kind.task().data(now, &bytes, out),
            Reply::Done(_, result) => {
                let ep = unit.call.take().map_or(0, |c| c.1);
                note_endpoint(&mut self.backend, ep, &result);
                unit.kind.task().done(now, result, out);
                return self.drive(lp, uid);
            }
        };
        if !keep {
            self.client.cancel(lp, cid);
            unit.call = None;
            self.drive(lp, uid);
        }
    }

    /// Cancels a task's call and timer and forgets it.
    fn drop_unit(&mut self, lp: &mut EventLoop, uid: u64) {
        if let Some(unit) = find(&mut self.units, uid) {
            if let Some((cid, _)) = unit.call.take() {
                self.client.cancel(lp, cid);
            }
            if let Some((_, id)) = unit.timer.take() {
                lp.cancel_timer(id);
            }
        }
        self.forget(lp, uid);
    }

    fn forget(&mut self, lp: &mut EventLoop, uid: u64) {
        self.units.retain(|u| u.uid != uid);
        if self.shutting
            && self.settled()
            && let Some(t) = self.deadline.take()
        {
            lp.cancel_timer(t);
        }
    }

    /// The shutdown deadline passed: whatever is still registered stays
    /// (Consul's TTL check goes critical, etcd's lease expires).
    fn give_up(&mut self, lp: &mut EventLoop) {
        let left: Vec<&str> = self.units.iter().filter_map(Unit::service_id).collect();
        if !left.is_empty() {
            warning!(
                "{}: shutdown deadline passed; not deregistered: {}",
                self.backend.name(),
                left.join(", ")
            );
        }
        for uid in self.units.iter().map(|u| u.uid).collect::<Vec<_>>() {
            self.drop_unit(lp, uid);
        }
    }
}

/// Endpoint bookkeeping after a call: a transport error on the current
/// etcd endpoint moves to the next one.
fn note_endpoint(backend: &mut Backend, ep: usize, result: &Result<Response, String>) {
    let Backend::Etcd {
        eps, current, good, ..
    } = backend
    else {
        return;
    };
    match result {
        Ok(_) => *good = Some(ep),
        Err(e) if ep == *current && eps.len() > 1 => {
            let next = (ep + 1) % eps.len();
            if *good == Some(ep) {
                info!("etcd: switching to endpoint {} after: {e}", eps[next]);
            } else {
                debug!("etcd: trying endpoint {} after: {e}", eps[next]);
            }
            *good = None;
            *current = next;
        }
        Err(_) => {}
    }
}
