//! Registrator mode's foundation: `tug registrator [OPTIONS] URI` bridges
//! the host's Docker engine to Consul, Consul KV, etcd v3 or SkyDNS2
//! (issue 13; behaviour in shared/reference/registrator.md). Everything
//! here is sans-IO: it parses, decides and formats; the loop does the IO.
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
//! Left to wire (not referenced by the binary yet, so LTO drops it all):
//! - cli.rs: `tug registrator …` and the `registrator` argv0 flavor
//!   calling `options::parse` (its errors one per line, then USAGE hint;
//!   exit 2), `Command::Version` printing the version.
//! - The loop: a Docker client over `net::client` (unix or tcp endpoint,
//!   `Host: localhost`, an API version prefix from `GET /version`): `GET
//!   /info` for the Name unless -node; subscribe to `events::EVENTS_PATH`
//!   (streamed, no timeout) BEFORE `GET /containers/json`, inspect each
//!   (and each `container:X` peer), `reconcile::plan`, apply. Each event:
//!   inspect that container (start: Running; die: the event's exit code
//!   or an inspect; destroy: Gone) and plan for it alone; health_status
//!   drives CHECK_TTL services via `service::ttl_status`. Stream end or
//!   error, or a bad record: reconnect with backoff (discovery::retry),
//!   then a full resync. -resync N: a timer for a full resync; -cleanup
//!   passes what the registry lists (`backend::parse_agent_services`, or
//!   a KV range read back with `backend::parse_kv_key`).
//! - Backends via discovery: Consul's agent register with
//!   `backend::consul_register_body` (discovery's Consul task registers
//!   its own TTL check shape today: it needs a variant that sends a
//!   prepared body, with `?replace-existing-checks`), deregister by ID;
//!   consulkv PUT/DELETE of `backend::kv_entry`; etcd/skydns2 PUT with a
//!   lease of -ttl kept alive every -ttl-refresh (no lease without -ttl),
//!   parked services' leases left to expire. Registration retried with
//!   backoff until it lands; -retry-attempts/-retry-interval pace only the
//!   first reach of the registry. The node address for wildcard bindings
//!   from net::interfaces when -ip is not given.
//! - Control: `tug ctl status` one line per registered service (ID, name,
//!   address, container name and short ID), metrics as for jobs.
//! - Tests with the real Docker engine (images FROM scratch of the probe,
//!   tagged `registry.local:5000/team/redis:7`), the Consul emulator,
//!   etcd, an engine-socket proxy cut mid-run; the benchmark.

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
