//! `tug registrator`: the IO driver. One loop moves bytes between the
//! Docker engine (the loop's HTTP client), the registry (discovery, with
//! `task::RegTask` per registration) and the control socket; everything
//! it decides comes from the sans-IO modules.
//!
//! Order of work:
//! 1. Reach the registry (-retry-attempts tries, -retry-interval apart;
//!    failing that is fatal, as registrator's Ping was).
//! 2. `GET /info` for the node name (unless -node), then subscribe to
//!    `/events` and, once its head is in, list the running containers:
//!    no change between the listing and the subscription can be missed.
//! 3. Inspect each listed container and each container tug holds
//!    registrations for, and plan each alone (`reconcile::plan`).
//! 4. Each event queues its container for an inspect; a container queued
//!    again while its inspect is in flight is inspected again after it,
//!    so an event is never dropped and the last inspect is the newest
//!    state. Inspects run a few at a time, one per container.
//! 5. The stream ends or breaks, the engine is away: reconnect with
//!    backoff, then the full resync of 2-3. Never exit.
//! 6. -resync N: a full resync every N seconds (fresh inspects). With
//!    -cleanup, once a full resync's inspects are done, the registry's
//!    listing is read back and this node's IDs nobody wants are removed.
//!
//! Size: the handlers are `#[inline(never)]`, one copy each, not inlined
//! into every caller (2 KB less text).
//!
//! Decisions:
//! - Engine paths are unversioned (served at the engine's own version):
//!   no negotiation round trip, and inspect reads the fields of old and
//!   new versions alike.
//! - An inspect that fails on the transport (engine away) plans nothing:
//!   a full resync after the backoff observes the container again.
//! - SIGTERM/SIGINT: with `-deregister always` every registration is
//!   removed (retried with backoff for 5 s at most), with `on-success` they are
//!   left in place (the containers still run; a restarted tug takes them
//!   over by their stable IDs). Exit 0 either way.

use super::events::{Action, Decoder, EVENTS_PATH, MAX_RECORD};
use super::inspect::{self, Inspect};
use super::options::{Backend, Deregister, Options};
use super::reconcile::{self, Change, Observed, Policy, Registered, State};
use super::service::{self, Identity};
use super::task::{RegTask, unit_key};
use crate::control::status::{JobReport, Report, ServiceReport};
use crate::control::{self, Control, JobAction, OpError, Ops};
use crate::discovery::retry::Retry;
use crate::discovery::{BackendConfig, Discovery};
use crate::env::Environ;
use crate::event_loop::{Event, EventLoop, TimerId};
use crate::log::{error, info, warning};
use crate::net::client::{Call, CallId, Client, Endpoint, Reply, Response};
use crate::net::interfaces;
use crate::sys::signal::SigSet;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

const DISCOVERY_BASE: u64 = 1 << 48;
const CONTROL_BASE: u64 = 1 << 56;
const KEY_RETRY: u64 = 1 << 60;
const KEY_RESYNC: u64 = KEY_RETRY + 1;
const SEC: u64 = 1_000_000_000;
const INSPECTS: usize = 4;

enum Phase {
    /// Reaching the registry: tries so far.
    Ping(u32),
    /// `GET /info` / the stream.
    Docker,
}

struct Inflight {
    call: CallId,
    id: String,
    /// A `container:X` container waiting for X's inspect.
    waiting: Option<Box<Inspect>>,
}

struct Registrator<'o> {
    lp: EventLoop,
    o: &'o Options,
    client: Client,
    disc: Discovery,
    control: Option<Control>,
    me: Identity,
    phase: Phase,
    info: Option<CallId>,
    stream: Option<CallId>,
    live: bool,
    dec: Decoder,
    list: Option<CallId>,
    remote: Option<CallId>,
    ping: Option<CallId>,
    cleanup_due: bool,
    queue: Vec<String>,
    /// Containers of the latest full resync not inspected yet: their
    /// unchanged registrations are sent again (a registry that lost them
    /// gets them back, as registrator's resync did).
    resyncing: Vec<String>,
    inflight: Vec<Inflight>,
    registered: Vec<Registered>,
    /// Containers' last health (CHECK_TTL), by container ID.
    health: Vec<(String, Option<inspect::Health>)>,
    retry: Retry,
    timer: Option<TimerId>,
    replies: Vec<Reply>,
    started: u64,
    stopping: bool,
    exit: Option<i32>,
}

#[inline(never)]
fn get(path: String, stream: bool) -> Call {
    Call {
        method: "GET",
        path,
        headers: Vec::new(),
        body: Vec::new(),
        timeout_ns: (!stream).then_some(10 * SEC),
        stream,
        max_body: if stream { 2 * MAX_RECORD } else { 8 << 20 },
    }
}

fn registry(b: &Backend) -> &Endpoint {
    match b {
        Backend::Consul { endpoint, .. }
        | Backend::ConsulKv { endpoint, .. }
        | Backend::Etcd { endpoint, .. }
        | Backend::SkyDns2 { endpoint, .. } => endpoint,
    }
}

fn body_of(r: Result<Response, String>) -> Result<Vec<u8>, String> {
    match r {
        Ok(r) if r.head.status == 200 => Ok(r.body),
        Ok(r) => Err(crate::discovery::describe_status(&r)),
        Err(e) => Err(e),
    }
}

/// `default_socket`: the control socket's place when TUG_SOCKET names none
/// (`ctl::DEFAULT_SOCKET`, from the caller: ctl is a layer above).
pub fn run(o: &Options, env: &Environ, default_socket: &str) -> i32 {
    crate::log::set_level(crate::log::Level::Info);
    let mut set = SigSet::empty();
    set.add(libc::SIGTERM);
    set.add(libc::SIGINT);
    let lp = crate::process::signals::take_over(&set)
        .and_then(|_| EventLoop::new(&set))
        .map_err(|e| format!("cannot set up signal handling: {e}"));
    let cfg = match &o.backend {
        Backend::Consul { endpoint, .. } | Backend::ConsulKv { endpoint, .. } => {
            BackendConfig::Consul {
                address: format!("{endpoint}"),
                token: None,
            }
        }
        Backend::Etcd { endpoint, .. } | Backend::SkyDns2 { endpoint, .. } => BackendConfig::Etcd {
            endpoints: alloc::vec![format!("{endpoint}")],
            prefix: String::new(),
        },
    };
    let (lp, disc) = match lp.and_then(|lp| Discovery::new(&cfg, DISCOVERY_BASE).map(|d| (lp, d))) {
        Ok(x) => x,
        Err(e) => {
            error!("{e}");
            return 1;
        }
    };
    let host_ip = match &o.model.ip {
        Some(ip) => ip.clone(),
        None => match interfaces::local_addresses().and_then(|a| interfaces::select(&[], &a)) {
            Ok(ip) => interfaces::ip_text(&ip),
            Err(e) => {
                warning!("no host address for wildcard bindings (give -ip): {e}");
                String::new()
            }
        },
    };
    let socket = env.get("TUG_SOCKET");
    let control = match socket {
        Some(p) => Control::open(p, &[], CONTROL_BASE),
        None => Control::open_default(default_socket, &[], CONTROL_BASE),
    }
    .and_then(|c| c.register(&lp).map(|()| c));
    let control = match control {
        Ok(c) => {
            info!("control socket listening on {}", c.path());
            Some(c)
        }
        Err(e) if socket.is_some() => {
            error!("control socket: {e}");
            return 1;
        }
        Err(e) => {
            warning!("no control socket: {e}");
            None
        }
    };
    let started = lp.now();
    let mut r = Registrator {
        lp,
        o,
        client: Client::new(0),
        disc,
        control,
        me: Identity {
            node: o.node.clone().unwrap_or_default(),
            host_ip,
        },
        phase: Phase::Ping(0),
        info: None,
        stream: None,
        live: false,
        dec: Decoder::new(),
        list: None,
        remote: None,
        ping: None,
        cleanup_due: false,
        queue: Vec::new(),
        resyncing: Vec::new(),
        inflight: Vec::new(),
        registered: Vec::new(),
        health: Vec::new(),
        retry: Retry::new(started),
        timer: None,
        replies: Vec::new(),
        started,
        stopping: false,
        exit: None,
    };
    r.ping();
    r.arm_resync();
    r.run_loop()
}

impl Registrator<'_> {
    fn run_loop(&mut self) -> i32 {
        let mut events = Vec::new();
        loop {
            self.pump();
            if let Some(code) = self.exit {
                return code;
            }
            if self.stopping && self.disc.settled() {
                info!("registrator stopped");
                return 0;
            }
            if let Err(e) = self.lp.turn(&mut events) {
                error!("event loop failed: {e}");
                return 1;
            }
            for ev in core::mem::take(&mut events) {
                match ev {
                    Event::Signal(s) => {
                        self.stop(crate::signame::name(s.signo).unwrap_or("signal"))
                    }
                    Event::Timer(k) => self.on_timer(k),
                    Event::Io(r) => self.on_io(r.token),
                }
                self.pump();
            }
        }
    }

    fn on_io(&mut self, t: u64) {
        let mut none = Vec::new();
        if self.client.owns(t) {
            self.client.on_ready(&mut self.lp, t, &mut self.replies);
        } else if self.disc.owns(t) {
            self.disc.on_ready(&mut self.lp, t, &mut none);
        } else if t.wrapping_sub(CONTROL_BASE) < crate::net::server::TOKEN_SPAN {
            self.on_request(t);
        }
    }

    fn on_timer(&mut self, k: u64) {
        let mut none = Vec::new();
        if self.client.owns(k) {
            self.client.on_timer(&mut self.lp, k, &mut self.replies);
        } else if self.disc.owns(k) {
            self.disc.on_timer(&mut self.lp, k, &mut none);
        } else if k == KEY_RETRY {
            self.timer = None;
            match self.phase {
                Phase::Ping(_) => self.ping(),
                Phase::Docker if self.live => self.resync(),
                Phase::Docker => self.connect(),
            }
        } else if k == KEY_RESYNC {
            self.resync();
            self.arm_resync();
        } else if let Some(c) = &mut self.control {
            c.server().on_timer(&mut self.lp, k);
        }
    }

    fn arm_resync(&mut self) {
        if self.o.resync_s > 0 {
            let at = self.lp.now() + u64::from(self.o.resync_s) * SEC;
            self.lp.add_timer(at, KEY_RESYNC);
        }
    }

    /// Tries again after the backoff of `retry` (or `at_ns` from now).
    fn later(&mut self, delay_ns: Option<u64>) {
        if self.timer.is_some() || self.stopping {
            return;
        }
        let now = self.lp.now();
        let at = delay_ns.map_or_else(|| self.retry.waiting(now).unwrap_or(now), |d| now + d);
        self.timer = Some(self.lp.add_timer(at, KEY_RETRY));
    }

    fn start(&mut self, ep: &Endpoint, call: Call) -> CallId {
        let ep = ep.clone();
        self.client
            .start(&mut self.lp, &ep, call, &mut self.replies)
    }

    fn ping(&mut self) {
        let path = match self.o.backend {
            Backend::Consul { .. } | Backend::ConsulKv { .. } => "/v1/status/leader",
            _ => "/version",
        };
        let ep = registry(&self.o.backend);
        self.ping = Some(self.start(ep, get(path.into(), false)));
    }

    /// `GET /info` for the node name, or straight to the stream.
    fn connect(&mut self) {
        self.phase = Phase::Docker;
        self.dec.reset();
        let ep = &self.o.docker;
        if self.me.node.is_empty() {
            self.info = Some(self.start(ep, get("/info".into(), false)));
        } else {
            self.stream = Some(self.start(ep, get(EVENTS_PATH.into(), true)));
        }
    }

    /// Lists the running containers (then inspects them and ours).
    fn resync(&mut self) {
        if self.list.is_none() && self.live {
            let path = String::from("/containers/json");
            self.list = Some(self.start(&self.o.docker, get(path, false)));
        }
    }

    fn docker_failed(&mut self, what: &str, e: &str) {
        let now = self.lp.now();
        self.retry.failed(now, what, e);
        self.later(None);
    }

    /// Hands the client's replies out until none are left.
    fn pump(&mut self) {
        while !self.replies.is_empty() {
            for r in core::mem::take(&mut self.replies) {
                self.reply(r);
            }
        }
        self.inspect_next();
    }

    #[inline(never)]
    fn reply(&mut self, r: Reply) {
        match r {
            Reply::Head(c, head) if Some(c) == self.stream => {
                if head.status == 200 {
                    info!("docker: following events at {}", self.o.docker);
                    self.live = true;
                    self.retry.succeeded("docker: event stream");
                    self.resync();
                } else {
                    self.client.cancel(&mut self.lp, c);
                    self.stream = None;
                    let why = format!("HTTP {} {}", head.status, head.reason);
                    self.docker_failed("docker: event stream", &why);
                }
            }
            Reply::Data(c, bytes) if Some(c) == self.stream => {
                let mut evs = Vec::new();
                self.dec.feed(&bytes, &mut evs);
                for e in evs {
                    match e {
                        Ok(ev) => {
                            if let Action::Health(h) = ev.action {
                                self.set_health(&ev.id, Some(h));
                            }
                            if !self.queue.contains(&ev.id) {
                                self.queue.push(ev.id);
                            }
                        }
                        Err(e) => {
                            warning!("{e}: resyncing");
                            self.resync();
                        }
                    }
                }
            }
            Reply::Done(c, res) => self.done(c, res),
            _ => {}
        }
    }

    #[inline(never)]
    fn done(&mut self, c: CallId, res: Result<Response, String>) {
        if Some(c) == self.ping {
            self.ping = None;
            let Phase::Ping(tries) = self.phase else {
                return;
            };
            match body_of(res) {
                Ok(_) => self.connect(),
                Err(e) => {
                    let ep = registry(&self.o.backend);
                    if self.o.retry_attempts.is_some_and(|n| tries >= n) {
                        error!("cannot reach the registry at {ep}: {e}");
                        self.exit = Some(1);
                        return;
                    }
                    warning!("cannot reach the registry at {ep}: {e}; retrying");
                    self.phase = Phase::Ping(tries + 1);
                    self.later(Some(u64::from(self.o.retry_interval_ms) * 1_000_000));
                }
            }
        } else if Some(c) == self.info {
            self.info = None;
            match body_of(res).and_then(|b| inspect::engine_name(&b)) {
                Ok(name) => {
                    info!("node identity in service IDs: {name}");
                    self.me.node = name;
                    self.connect();
                }
                Err(e) => self.docker_failed("docker: GET /info", &e),
            }
        } else if Some(c) == self.stream {
            self.stream = None;
            self.live = false;
            let why = res.err().unwrap_or_else(|| "the engine ended it".into());
            self.docker_failed("docker: event stream", &why);
        } else if Some(c) == self.list {
            self.list = None;
            match body_of(res).and_then(|b| running_ids(&b)) {
                Ok(mut all) => {
                    for r in &self.registered {
                        all.push(r.service.container.clone());
                    }
                    self.resyncing = all.clone();
                    for id in all {
                        if !self.queue.contains(&id) {
                            self.queue.push(id);
                        }
                    }
                    self.cleanup_due = self.o.cleanup;
                }
                Err(e) => self.docker_failed("docker: GET /containers/json", &e),
            }
        } else if Some(c) == self.remote {
            self.remote = None;
            // Consul KV answers 404 for a prefix without keys.
            let none = matches!(&res, Ok(r) if r.head.status == 404);
            let listed = match none {
                true => Ok(Vec::new()),
                false => {
                    body_of(res).and_then(|b| super::backend::parse_listing(&self.o.backend, &b))
                }
            };
            match listed {
                Ok(remote) => {
                    let changes = reconcile::plan_from(
                        &self.registered,
                        &mut [],
                        &remote,
                        &self.policy(true),
                    );
                    self.apply(changes);
                }
                Err(e) => warning!("-cleanup: cannot list the registry: {e}"),
            }
        } else if let Some(i) = self.inflight.iter().position(|f| f.call == c) {
            let f = self.inflight.remove(i);
            self.inspected(f, res);
        }
    }

    fn policy(&self, cleanup: bool) -> Policy<'_> {
        Policy {
            deregister: self.o.deregister,
            cleanup,
            node: &self.me.node,
        }
    }

    /// Starts the queued inspects, one per container, a few at a time.
    #[inline(never)]
    fn inspect_next(&mut self) {
        while self.inflight.len() < INSPECTS && !self.stopping {
            let busy = &self.inflight;
            let Some(i) = self
                .queue
                .iter()
                .position(|id| !busy.iter().any(|f| f.id == *id))
            else {
                break;
            };
            let id = self.queue.remove(i);
            self.start_inspect(id, None);
        }
        if self.queue.is_empty()
            && self.inflight.is_empty()
            && self.list.is_none()
            && self.remote.is_none()
            && core::mem::take(&mut self.cleanup_due)
        {
            let call = super::backend::listing_call(&self.o.backend);
            self.remote = Some(self.start(registry(&self.o.backend), call));
        }
    }

    fn start_inspect(&mut self, id: String, waiting: Option<Box<Inspect>>) {
        let path = format!("/containers/{id}/json");
        let call = self.start(&self.o.docker, get(path, false));
        self.inflight.push(Inflight { call, id, waiting });
    }

    #[inline(never)]
    fn inspected(&mut self, f: Inflight, res: Result<Response, String>) {
        let (peer, waiting) = match f.waiting {
            Some(w) => (true, Some(*w)),
            None => (false, None),
        };
        let mut container = waiting
            .as_ref()
            .map_or_else(|| f.id.clone(), |w| w.id.clone());
        let parsed = match res {
            Err(e) => {
                // The resync after the backoff observes it again.
                let what = format!("docker: inspect {}", inspect::short(&f.id));
                return self.docker_failed(&what, &e);
            }
            Ok(r) if r.head.status == 404 => Err(State::Gone),
            Ok(r) if r.head.status != 200 => Err(State::Unknown),
            Ok(r) => inspect::parse(&r.body).map_err(|e| {
                warning!("{e}");
                State::Unknown
            }),
        };
        let state = match (waiting, parsed) {
            // The peer of a `container:X` container: its address.
            (Some(c), p) => self.observe(&c, p.ok().as_ref()),
            (None, Ok(c)) => {
                if let Some(x) = c.network_container().filter(|_| !peer) {
                    let x = String::from(x);
                    return self.start_inspect(x, Some(Box::new(c)));
                }
                container = c.id.clone();
                self.observe(&c, None)
            }
            (None, Err(state)) => state,
        };
        let full = self.resyncing.iter().position(|r| *r == container);
        // A full resync with -cleanup also drops what a failed exit kept.
        let policy = self.policy(full.is_some() && self.o.cleanup);
        let mut obs = [Observed { container, state }];
        let changes = reconcile::plan_from(&self.registered, &mut obs, &[], &policy);
        let c = &obs[0].container;
        if let Some(i) = full {
            self.resyncing.swap_remove(i);
            self.refresh(c, &changes);
        }
        self.apply(changes);
        self.beat(c);
    }

    /// Sends `container`'s registrations that `changes` leaves alone again.
    #[inline(never)]
    fn refresh(&mut self, container: &str, changes: &[Change]) {
        let b = &self.o.backend;
        for r in &self.registered {
            let s = &r.service;
            let touched = changes.iter().any(|c| match c {
                Change::Register(n) => n.id == s.id,
                Change::Deregister { id, .. } | Change::Park { id } => *id == s.id,
            });
            if s.container == container && !r.parked && !touched {
                let task = RegTask::new(b, s, (self.o.ttl_s, self.o.ttl_refresh_s), None);
                submit(&mut self.disc, &mut self.lp, b, &s.name, &s.id, task);
            }
        }
    }

    fn observe(&mut self, c: &Inspect, peer: Option<&Inspect>) -> State {
        self.set_health(&c.id, c.state.health);
        if c.state.running {
            State::Running(service::services(c, &self.o.model, &self.me, peer))
        } else {
            State::Exited(c.state.exit_code)
        }
    }

    fn set_health(&mut self, id: &str, h: Option<inspect::Health>) {
        match self.health.iter_mut().find(|(c, _)| c == id) {
            Some(e) => e.1 = h,
            None => self.health.push((id.into(), h)),
        }
    }

    /// CHECK_TTL: tells each of the container's registrations its health.
    #[inline(never)]
    fn beat(&mut self, container: &str) {
        let h = self
            .health
            .iter()
            .find(|(c, _)| c == container)
            .and_then(|e| e.1);
        let Some(status) = service::ttl_status(h) else {
            return;
        };
        for r in &self.registered {
            if r.service.container == container && !r.parked {
                let key = unit_key(&self.o.backend, &r.service.name, &r.service.id);
                self.disc.set_health(&mut self.lp, &key, status, "");
            }
        }
    }

    #[inline(never)]
    fn apply(&mut self, changes: Vec<Change>) {
        let b = &self.o.backend;
        for ch in changes {
            match ch {
                Change::Register(svc) => {
                    info!(
                        "registering {} ({} at {}) for container {}",
                        svc.id,
                        svc.name,
                        svc.addr(),
                        svc.container_name
                    );
                    let ttl = (self.o.ttl_s, self.o.ttl_refresh_s);
                    let task = RegTask::new(b, &svc, ttl, None);
                    submit(&mut self.disc, &mut self.lp, b, &svc.name, &svc.id, task);
                    self.registered.retain(|r| r.service.id != svc.id);
                    self.registered.push(Registered {
                        service: *svc,
                        parked: false,
                    });
                }
                Change::Deregister { id, name } => {
                    info!("deregistering {id}");
                    let task = RegTask::removal(b, &name, &id);
                    submit(&mut self.disc, &mut self.lp, b, &name, &id, task);
                    self.registered
                        .retain(|r| r.service.id != id || r.service.name != name);
                }
                Change::Park { id } => {
                    if let Some(r) = self.registered.iter_mut().find(|r| r.service.id == id) {
                        info!("keeping {id} (parked: the container failed)");
                        r.parked = true;
                        let task = RegTask::new(b, &r.service, (0, 0), None).parked();
                        submit(&mut self.disc, &mut self.lp, b, &r.service.name, &id, task);
                    }
                }
            }
        }
        let reg = &self.registered;
        self.health
            .retain(|(c, _)| reg.iter().any(|r| r.service.container == *c));
    }

    #[inline(never)]
    fn stop(&mut self, why: &str) {
        if self.stopping {
            return;
        }
        info!("{why}: stopping");
        self.stopping = true;
        if self.o.deregister == Deregister::Always {
            self.disc.shutdown(&mut self.lp);
        } else {
            self.exit = Some(0);
        }
    }

    #[inline(never)]
    fn on_request(&mut self, t: u64) {
        let mut pending = Vec::new();
        if let Some(c) = &mut self.control {
            c.on_ready(&mut self.lp, t, &mut pending);
        }
        for p in pending {
            let reply = control::answer(&p.req, self);
            if let (Some(c), control::Reply::Now(resp)) = (&mut self.control, reply) {
                c.server().respond(&mut self.lp, p.conn, resp);
            }
        }
    }
}

/// Hands `task` for `s` to discovery, under the registration's key.
#[inline(never)]
fn submit(
    disc: &mut Discovery,
    lp: &mut EventLoop,
    b: &Backend,
    name: &str,
    id: &str,
    task: RegTask,
) {
    let key = unit_key(b, name, id);
    disc.add_task(lp, &key, Box::new(task));
}

/// The IDs in `GET /containers/json`.
#[inline(never)]
fn running_ids(body: &[u8]) -> Result<Vec<String>, String> {
    let doc = crate::json::parse(body).map_err(|e| format!("container list: {e}"))?;
    let list = crate::json::as_array(&doc).ok_or("container list: expected an array")?;
    let mut ids = Vec::new();
    for c in list {
        if let Some(id) = crate::json::get(c, "Id").and_then(crate::json::as_str)
            && inspect::valid_id(id)
        {
            ids.push(String::from(id));
        }
    }
    Ok(ids)
}

/// The control socket: `status` lists the registrations; there are no
/// jobs, config or metrics to act on.
impl Ops for Registrator<'_> {
    fn status(&self) -> Report {
        let now = self.lp.now();
        let jobs = self
            .registered
            .iter()
            .map(|r| {
                let s = &r.service;
                let key = unit_key(&self.o.backend, &s.name, &s.id);
                let reg = self.disc.service_state(&key);
                let container = format!("{} ({})", s.container_name, inspect::short(&s.container));
                JobReport {
                    name: s.id.clone(),
                    state: if r.parked { "parked" } else { "running" },
                    when: format!("container {container}"),
                    status: Some(format!(
                        "{} {} container {container} {reg}",
                        s.name,
                        s.addr()
                    )),
                    service: Some(ServiceReport {
                        id: s.id.clone(),
                        address: s.ip.clone(),
                        port: s.port,
                        registration: reg,
                    }),
                    ..JobReport::default()
                }
            })
            .collect();
        Report {
            version: env!("CARGO_PKG_VERSION").into(),
            pid: crate::sys::process::getpid(),
            uptime_ns: now - self.started,
            shutting_down: self.stopping,
            jobs,
            ..Report::default()
        }
    }

    fn job(&mut self, _: &str, _: JobAction) -> Result<String, OpError> {
        Err(OpError::UnknownJob)
    }

    fn job_log(&self, _: &str) -> Result<(usize, &crate::log::LogRing), OpError> {
        Err(OpError::UnknownJob)
    }

    fn reload(&mut self) -> Result<(), Vec<String>> {
        Err(alloc::vec![
            "registrator mode has no config to reload".into()
        ])
    }

    fn putenv(&mut self, _: Vec<(String, String)>) {}

    fn putmetric(&mut self, _: Vec<(String, f64)>) -> Result<(), String> {
        Err("registrator mode has no metrics to set".into())
    }

    fn maintenance(&mut self, _: bool) {}

    fn shutdown(&mut self) {
        self.stop("shutdown requested");
    }

    fn count_request(&mut self, _: &str, _: u16) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_container_list_gives_the_ids_safe_in_paths() {
        let id = "8dfafdbc3a40e0f5b4ef7b3f2d0a5b7e1c9d2e3f4a5b6c7d8e9f0a1b2c3d4e5f";
        let body = format!(r#"[{{"Id":"{id}","Names":["/a"]}},{{"Id":"a/../b"}},{{"Names":[]}}]"#);
        assert_eq!(running_ids(body.as_bytes()).unwrap(), [id]);
        assert!(running_ids(b"{}").is_err());
    }
}
