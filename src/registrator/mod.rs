//! Registrator mode: `tug registrator [OPTIONS] URI` bridges
//! the host's Docker engine to Consul, Consul KV, etcd v3 or SkyDNS2
//! (issue 13; behaviour in shared/reference/registrator.md). Everything
//! but `run` is sans-IO: it parses, decides and formats; `run` does the IO.
//!
//! Layout (front-end -> model -> actions):
//! - `options`: the command line (Go flag syntax, registrator's flags and
//!   tug's `-node`), the URI, DOCKER_HOST -> `Options`.
//! - `inspect`: `GET /containers/{id}/json` -> `Inspect` (only the fields
//!   the model reads); `GET /info` -> the engine's Name.
//! - `service`: `Inspect` + `Model` + `Identity` -> the container's
//!   `Service`s, with their Consul check.
//! - `events`: the `/events` byte stream -> `Event`s, in order.
//! - `reconcile`: registered + observed -> `Change`s (register,
//!   deregister, park), for syncs, resyncs and single events alike.
//! - `backend`: what each registry stores for a Service (Consul's
//!   register body, the KV layouts' keys and values) and reading back
//!   what a registry lists, for -cleanup.
//!
//! Contract:
//! - Nothing panics on any input: malformed JSON, missing or mistyped
//!   fields, broken streams give one-line errors (`container inspect
//!   4fa6e0f0c678: Config.Env: expected an array`, `docker event: no
//!   container ID`), and the fuzz target `registrator` holds it to that.
//! - The model is a function: the same container, options and identity
//!   give the same services in the same order (ports by number, then
//!   protocol; attributes by key), so a resync compares by equality.
//!
//! Decisions (the reasons are where each is made):
//! - The node identity in IDs is `-node` or the engine's Name, never a
//!   container hostname, so IDs survive tug's restarts (#181, #312).
//! - Addresses: published ports at the host (binding HostIp, else the
//!   node's address for a wildcard), a container's own address only with
//!   -internal/`container:X`, by a deterministic network choice that
//!   SERVICE_NETWORK overrides; IPv6 everywhere. See `service`.
//! - The event stream is followed in order and never dropped; a bad
//!   record is an error in place, which should trigger a resync.
//! - -resync re-inspects (fresh addresses); the reconciler compares what
//!   is registered with what is observed now, never with a cache.
//! - The default engine is `unix:///var/run/docker.sock` (registrator's
//!   `/tmp/docker.sock` was its container's mount point).
//! - `-tags` is a plain comma list (no Go templates); no TLS anywhere
//!   (consul-tls://, DOCKER_TLS_VERIFY are errors that say so).
//!
//! The IO side:
//! - `task`: one registration as a `discovery` service task in its
//!   registry's layout (Consul agent with its check, Consul KV, etcd v3
//!   with leases, SkyDNS2), retried with discovery's backoff until it
//!   lands; `Discovery::add_task` runs it.
//! - `run`: the driver in the one loop (`tug registrator`): the registry
//!   ping of -retry-attempts, `GET /info`, the `/events` stream BEFORE the
//!   container list, inspects, `reconcile::plan` per container, resyncs,
//!   -cleanup's listing, CHECK_TTL health, signals, and the control
//!   socket's `Ops` (`tug ctl status`: one line per registration).

pub mod backend;
pub mod events;
pub mod inspect;
pub mod options;
pub mod reconcile;
pub mod run;
pub mod service;
pub mod task;

pub use options::{Backend, Command, Deregister, Model, Options};
pub use service::{Identity, Service};
