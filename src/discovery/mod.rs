//! INTERFACE STUB (to be implemented): service discovery, Consul or etcd
//! v3, driven by the one loop. The engine tells it what its jobs are
//! doing; it keeps the catalog accurate (registering again after an agent
//! restart, a lost lease, maintenance) and reports what watches see.
//!
//! Contract (the engine relies on it):
//! - Nothing here blocks, and no call fails synchronously: failures are
//!   logged and retried with backoff and jitter, never in a hot loop.
//! - Tokens and timer keys: a Discovery owns `token_base..token_base +
//!   TOKEN_SPAN`; the engine routes every token/key for which `owns` is true.
//! - The engine calls `set_health` on every health-check result of an
//!   advertised job; Discovery decides what goes on the wire (first pass
//!   registers, passes heartbeat, a failure marks critical at once).

use crate::event_loop::EventLoop;
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

pub struct Discovery {}

impl Discovery {
    pub fn new(_cfg: &BackendConfig, _token_base: u64) -> Result<Discovery, String> {
        unimplemented!()
    }

    pub fn owns(&self, _token: u64) -> bool {
        unimplemented!()
    }

    /// An advertised job started. Registers at once when `initial_status`
    /// is set, otherwise remembers it until the first passing check.
    pub fn add_service(&mut self, _lp: &mut EventLoop, _svc: Service) {
        unimplemented!()
    }

    /// A health-check result for the service `id`.
    pub fn set_health(&mut self, _lp: &mut EventLoop, _id: &str, _h: Health, _output: &str) {
        unimplemented!()
    }

    /// The job stopped (or is stopping): deregister now, forget it.
    pub fn remove_service(&mut self, _lp: &mut EventLoop, _id: &str) {
        unimplemented!()
    }

    /// Maintenance on: every service leaves the catalog (kept in memory);
    /// off: each registers again on its next passing check.
    pub fn maintenance(&mut self, _lp: &mut EventLoop, _on: bool) {
        unimplemented!()
    }

    /// Starts a watch; its index in `Notice::WatchChanged` is the return.
    pub fn add_watch(&mut self, _lp: &mut EventLoop, _w: WatchSpec) -> usize {
        unimplemented!()
    }

    /// Stops a watch (reload removed it); its index is never reused.
    pub fn remove_watch(&mut self, _lp: &mut EventLoop, _watch: usize) {
        unimplemented!()
    }

    pub fn on_ready(&mut self, _lp: &mut EventLoop, _token: u64, _out: &mut Vec<Notice>) {
        unimplemented!()
    }

    pub fn on_timer(&mut self, _lp: &mut EventLoop, _key: u64, _out: &mut Vec<Notice>) {
        unimplemented!()
    }

    /// Shutdown: stop watches, deregister every service. Returns at once;
    /// `settled` tells when the deregistrations are done (or failed).
    pub fn shutdown(&mut self, _lp: &mut EventLoop) {
        unimplemented!()
    }

    pub fn settled(&self) -> bool {
        unimplemented!()
    }

    /// Registration state of a service, for status: "unregistered",
    /// "registering", "passing", "critical", "maintenance", "error: ...".
    pub fn service_state(&self, _id: &str) -> String {
        unimplemented!()
    }
}
