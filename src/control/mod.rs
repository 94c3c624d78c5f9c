//! The control socket: an HTTP/1.1 server on a unix socket inside the
//! loop, ContainerPilot's `/v3/...` routes plus tug's own; the engine does
//! the work through `Ops`.
//!
//! Flow (two phases, so the engine can lend itself as `Ops` without
//! borrowing the server at the same time):
//!   control.register(lp)?;                            // once, after open
//!   control.on_ready(lp, token, &mut pending);        // parsed requests
//!   for p in pending { match control::answer(&p.req, self) {
//!       Reply::Now(r) => control.server().respond(lp, p.conn, r),
//!       Reply::Follow(job, name) => control.follow(lp, p.conn, job, &name, ring) } }
//!
//! Timers and answers go straight to the server (`server()`): only the
//! peer check on arrival and removing the socket file are the socket's own.
//!
//! Routes (every answer is `text/plain` unless it says JSON; errors carry a
//! one-line reason per problem):
//!
//! | method | path | body | answers |
//! | --- | --- | --- | --- |
//! | GET | /v3/ping | | 200 `ok` |
//! | GET | /v3/status | | 200 JSON (`status` module docs) |
//! | POST | /v3/environ | `{"K":"V",...}` (`null` = "") | 200; 422 not an object of strings, bad name |
//! | POST | /v3/reload | | 200; 422 the config's errors, the running set kept |
//! | POST | /v3/metric | `{"name":N,...}` (N a number or numeric string) | 200; 422 not numbers, unknown name, bad value |
//! | POST | /v3/maintenance/enable, /disable | | 200 |
//! | GET | /v3/jobs/NAME | | 200 JSON: the job's entry of the status; 404 |
//! | GET | /v3/jobs/NAME/logs | (`?follow`) | 200 the job's recent output (its ring), or a stream of it; 404; 409 a raw job |
//! | POST | /v3/jobs/NAME/start, stop, restart | | 200 what was done; 404 no such job; 409 (running, stopped, shutting down) |
//! | POST | /v3/jobs/NAME/signal | `{"signal":1}` or `{"signal":"SIGHUP"}` | as above; 422 bad signal |
//! | POST | /v3/shutdown | | 200, then tug shuts down |
//! | POST | /v3/logs/reopen | | 200 what was reopened (log files, as SIGUSR1) |
//!
//! The job routes are tug's own and say what they did in one line
//! (`stopping job web (pid 42)`, `sent SIGHUP to job web (pid 42)`); on
//! ContainerPilot's routes a 200 without a body says `\n`, as its did.
//! Other paths are 404, other methods 405 with `Allow`, JSON that does not
//! parse 422 with
//! the parse error, a body over 64 KiB 413, a job name that is not valid
//! percent-encoded UTF-8 400. Reload answers once the new config is applied
//! (ContainerPilot answered 200 first and reloaded later, so a broken
//! config went unnoticed). Where tug is stricter than ContainerPilot (which
//! answered 200 to anything parseable): unknown metric names and bad
//! environment names are 422.
//!
//! Who may connect: root, tug's own uid, and the uids in `control.allow`,
//! checked per request with SO_PEERCRED (others get 403). With no `allow`
//! list the socket file is mode 0600, so nobody else can even connect;
//! with one it is 0666 and the peer check is the gate.
//!
//! Where the socket is when nothing names it (`--socket`, TUG_SOCKET,
//! `control.socket`): the first of `default_sockets` that can be opened,
//! for `/var/run/tug.sock` (ContainerPilot's `/var/run/containerpilot.socket`):
//! 1. `/var/run/tug.sock`: where ContainerPilot and most images have it;
//! 2. `/run/tug.sock`, creating `/run` (0755) if it is missing: a FROM
//!    scratch image has neither directory, and its `/` is writable for
//!    root unless the container is read-only;
//! 3. `@tug.sock`, an abstract socket: no directory and no write access
//!    needed (a read-only scratch image, a non-root user). It is per
//!    network namespace, not per container: containers that share one
//!    (a Kubernetes pod, `--network container:X` or host) could reach each
//!    other's tug, so there it serves only peers inside tug's own pid
//!    namespace (SO_PEERCRED reports pid 0 for the others), `docker exec`
//!    included; and it has no file mode: the uid check is the only gate.
//!
//! A file socket is preferred because it is this container's alone. Not
//! /tmp: a scratch image has none either, and in a world-writable
//! directory another user could take the name first. A place that cannot
//! be used (no directory, no permission) passes to the next; another tug
//! listening stops the search (`tug ctl` would find that one first).
//! `tug ctl` tries the same list in the same order.
//!
//! Log followers (`GET /v3/jobs/NAME/logs?follow`): the answer streams
//! (`net::server` streams), first the job's ring, then each new line as
//! the engine hands it over (`line`, then `flush_followers` once per
//! batch). At most `MAX_FOLLOWERS` at once; one whose unsent output
//! would pass `FOLLOW_BUFFER` is dropped, its stream ending with a line
//! that says so, and a warning in tug's log. One that reads nothing for
//! the server's deadline (10 s) while output waits is closed.

pub mod status;

use crate::event_loop::EventLoop;
use crate::json;
use crate::json5::{Member, Value};
use crate::log::LogRing;
use crate::log::warning;
use crate::net::server::{Limits, Peer, Pending, Request, Response, Server, Stream};
use crate::quote::q;
use crate::sys::{Errno, listen, process};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

pub use status::{CheckReport, JobReport, Report, ServiceReport, WatchReport};

/// What the control plane can ask of the engine.
pub trait Ops {
    fn status(&self) -> Report;
    /// Ok: what was done, one line for people ("stopping job web (pid 42)").
    fn job(&mut self, name: &str, action: JobAction) -> Result<String, OpError>;
    /// A job's index and its recent output; Conflict for a raw job.
    fn job_log(&self, name: &str) -> Result<(usize, &LogRing), OpError>;
    /// Re-reads and re-renders the config; Err: the load errors (the
    /// running set is kept).
    fn reload(&mut self) -> Result<(), Vec<String>>;
    /// Environment for future spawns only.
    fn putenv(&mut self, vars: Vec<(String, String)>);
    /// Unknown metric names are an error; nothing is applied then.
    fn putmetric(&mut self, values: Vec<(String, f64)>) -> Result<(), String>;
    fn maintenance(&mut self, on: bool);
    fn shutdown(&mut self);
    /// Shuts down once `delay_ns` has passed (`telchap shutdown 5`).
    fn shutdown_after(&mut self, _delay_ns: u64) -> Result<(), String> {
        Err(String::from("a delayed shutdown is not supported here"))
    }
    /// The job's index, for an answer that waits on it (None: no such
    /// job, or nothing to wait on).
    fn index_of(&self, _name: &str) -> Option<usize> {
        None
    }
    /// The forced log level of a Chaperone config (`telchap loglevel`):
    /// `Some(level)` sets it (`""` unsets it) and reloads with it; the
    /// level in force after. Err: not a Chaperone config, a bad level,
    /// the reload's errors.
    fn log_level(&mut self, _set: Option<&str>) -> Result<String, String> {
        Err(String::from(
            "only a Chaperone config has a forced log level",
        ))
    }
    /// Reopens the log files (SIGUSR1's work); what was reopened.
    fn logs_reopen(&mut self) -> String {
        String::new()
    }
    /// Counts a control request (telemetry).
    fn count_request(&mut self, path: &str, status: u16);
    /// Whether a new log follower would be refused (`MAX_FOLLOWERS`), so
    /// the refusal is answered, and counted, as the 503 it is.
    fn followers_full(&mut self) -> bool {
        false
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobAction {
    Start,
    Stop,
    Restart,
    Signal(i32),
    /// Chaperone's `telchap reset`: the restart budget back to its full
    /// limit, the failure forgotten.
    Reset,
    /// Chaperone's `telchap enable` / `disable`: whether the job may start
    /// (a disabled one keeps running but is not restarted; start refuses).
    Enable,
    Disable,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpError {
    /// 404
    UnknownJob,
    /// 409: e.g. starting a job that is running, during shutdown.
    Conflict(String),
}

/// Largest request body the socket takes.
const MAX_BODY: usize = 64 << 10;
/// Log followers at most at once.
pub const MAX_FOLLOWERS: usize = 16;
/// Unsent bytes a log follower may have before it is dropped.
pub const FOLLOW_BUFFER: usize = 128 << 10;
const TEXT: &str = "text/plain; charset=utf-8";
const DROPPED: &[u8] =
    b"\ntug: stopped following: more than 128 KiB of output went unread (tug ctl logs -f again)\n";

/// Where the control socket may go when nothing names it, in the order
/// tried (module docs): `default` (`/var/run/NAME`), `/run/NAME`, `@NAME`.
pub fn default_sockets(default: &str) -> [String; 3] {
    let name = default.rsplit('/').next().unwrap_or(default);
    [default.into(), format!("/run/{name}"), format!("@{name}")]
}

/// A log follower: the stream on `conn` gets job `job`'s new lines.
struct Follower {
    conn: u64,
    job: usize,
    name: String,
    /// `stop?wait`: no lines, only the end of the job's run.
    waiter: bool,
}

pub struct Control {
    server: Server,
    path: String,
    cpath: CString,
    own_uid: u32,
    allow: Vec<u32>,
    /// An abstract socket: peers must be in tug's pid namespace.
    abstract_name: bool,
    followers: Vec<Follower>,
}

impl Control {
    /// Listens on `path` (mode 0600, or 0666 when `allow` is not empty: see
    /// the module docs). A stale socket file is replaced; a live one
    /// (another tug answering) is an error. `allow`: uids besides root and
    /// tug's own uid that may connect. Call `register` before the loop runs.
    pub fn open(path: &str, allow: &[u32], token_base: u64) -> Result<Control, String> {
        Control::try_open(path, allow, token_base).map_err(|(_, msg)| msg)
    }

    /// The first of `default_sockets(default)` that opens (module docs);
    /// Err: why each failed, or that another tug listens on one.
    pub fn open_default(default: &str, allow: &[u32], token_base: u64) -> Result<Control, String> {
        let mut why = Vec::new();
        for path in default_sockets(default) {
            let mut r = Control::try_open(&path, allow, token_base);
            if matches!(r, Err((Errno::ENOENT, _)))
                && path.starts_with("/run/")
                && listen::mkdir(c"/run", 0o755).is_ok()
            {
                r = Control::try_open(&path, allow, token_base);
            }
            match r {
                Ok(c) => {
                    for w in &why {
                        crate::log::debug!("control: {w}");
                    }
                    return Ok(c);
                }
                Err((Errno(libc::EADDRINUSE), msg)) => return Err(msg),
                Err((_, msg)) => why.push(msg),
            }
        }
        Err(why.join("; "))
    }

    /// As `open`; Err carries the cause (EADDRINUSE: another tug).
    fn try_open(path: &str, allow: &[u32], token_base: u64) -> Result<Control, (Errno, String)> {
        let cpath = CString::new(path).map_err(|_| {
            (
                Errno(libc::EINVAL),
                format!("{path}: a NUL in the path", path = q(&path)),
            )
        })?;
        let abstract_name = listen::is_abstract(path.as_bytes());
        let mode = if allow.is_empty() { 0o600 } else { 0o666 };
        let fd = match listen::unix_listener(&cpath, mode) {
            Err(Errno(libc::EADDRINUSE)) if !abstract_name => {
                replace_stale(&cpath, path)?;
                listen::unix_listener(&cpath, mode)
            }
            r => r,
        }
        .map_err(|e| (e, listen_error(path, e)))?;
        let limits = Limits {
            max_body: MAX_BODY,
            ..Limits::default()
        };
        Ok(Control {
            server: Server::with_limits(fd, token_base, limits),
            path: path.into(),
            cpath,
            own_uid: process::getuid(),
            allow: allow.to_vec(),
            abstract_name,
            followers: Vec::new(),
        })
    }

    /// Adds the listener to the loop.
    pub fn register(&self, lp: &EventLoop) -> Result<(), String> {
        self.server
            .register(lp)
            .map_err(|e| format!("cannot watch the control socket {}: {e}", self.path))
    }

    /// The socket's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The HTTP server under the socket: answers, timers.
    pub fn server(&mut self) -> &mut Server {
        &mut self.server
    }

    /// Appends the requests that arrived; requests from a peer that may not
    /// use the socket are answered 403 here and not appended.
    pub fn on_ready(&mut self, lp: &mut EventLoop, token: u64, out: &mut Vec<Pending>) {
        let start = out.len();
        self.server.on_ready(lp, token, out);
        let mut i = start;
        while i < out.len() {
            let peer = out[i].req.peer;
            let outside = self.abstract_name && peer.is_some_and(|p| p.pid == 0);
            if peer_allowed(peer, self.own_uid, &self.allow) && !outside {
                i += 1;
                continue;
            }
            let p = out.remove(i);
            let who = peer.map_or(String::from("a peer without credentials"), |p| {
                format!("uid {} (pid {})", p.uid, p.pid)
            });
            warning!(
                "control: refused {} {} from {who}",
                p.req.method,
                p.req.path
            );
            let msg = if outside {
                format!(
                    "forbidden: {who} is outside tug's pid namespace (another container on {})",
                    self.path
                )
            } else {
                format!(
                    "forbidden: {who} is not root, tug's uid ({}) or in control.allow",
                    self.own_uid
                )
            };
            self.server.respond(lp, p.conn, Response::text(403, &msg));
        }
    }

    /// Answers the request on `conn` with a stream of job `job`'s output:
    /// what `ring` holds now, then each `line` (module docs).
    pub fn follow(
        &mut self,
        lp: &mut EventLoop,
        conn: u64,
        job: usize,
        name: &str,
        ring: &LogRing,
    ) {
        if self.followers_full() {
            return self.server.respond(lp, conn, too_many_followers());
        }
        if !self.server.respond_stream(lp, conn, TEXT) {
            return;
        }
        let (a, b) = ring.as_slices();
        self.server.stream(conn, &[a, b], FOLLOW_BUFFER);
        if self.server.flush_stream(lp, conn) {
            self.followers.push(Follower {
                conn,
                job,
                name: name.into(),
                waiter: false,
            });
        }
    }

    /// A new output line of job `job`, for its followers (sent by
    /// `flush_followers`). A follower it would put more than
    /// `FOLLOW_BUFFER` behind is dropped.
    pub fn line(&mut self, lp: &mut EventLoop, job: usize, line: &[u8]) {
        let mut i = 0;
        while i < self.followers.len() {
            let f = &self.followers[i];
            if f.job != job || f.waiter {
                i += 1;
                continue;
            }
            match self.server.stream(f.conn, &[line, b"\n"], FOLLOW_BUFFER) {
                Stream::Queued => i += 1,
                Stream::Gone => drop(self.followers.swap_remove(i)),
                Stream::Full => {
                    // A burst larger than the buffer (a job's pump reads
                    // up to 256 KiB at a time): hand the socket what it
                    // takes now and try again; only a reader that really
                    // lags behind is dropped.
                    let conn = f.conn;
                    if !self.server.flush_stream(lp, conn) {
                        drop(self.followers.swap_remove(i));
                        continue;
                    }
                    if matches!(
                        self.server.stream(conn, &[line, b"\n"], FOLLOW_BUFFER),
                        Stream::Queued
                    ) {
                        i += 1;
                        continue;
                    }
                    let f = self.followers.swap_remove(i);
                    warning!(
                        "control: dropped a follower of job {}'s output: it left {} KiB unread",
                        f.name,
                        FOLLOW_BUFFER >> 10
                    );
                    self.server.end_stream(lp, f.conn, DROPPED);
                }
            }
        }
    }

    /// Whether `MAX_FOLLOWERS` are following (those gone are forgotten).
    pub fn followers_full(&mut self) -> bool {
        self.keep_followers(&mut |server, f| {
            server.stream(f.conn, &[], usize::MAX) != Stream::Gone
        });
        self.followers.len() >= MAX_FOLLOWERS
    }

    /// Answers `stop?wait` on `conn` with a stream that ends, with
    /// `stopped`, when job `job`'s run does ([`Control::end_waiters`]):
    /// a stream, because an idle stream is not closed at the deadline
    /// however long the stop takes.
    pub fn wait_stop(&mut self, lp: &mut EventLoop, conn: u64, job: usize) {
        if self.followers_full() {
            return self.server.respond(lp, conn, too_many_followers());
        }
        if self.server.respond_stream(lp, conn, TEXT) {
            self.followers.push(Follower {
                conn,
                job,
                name: String::new(),
                waiter: true,
            });
        }
    }

    /// Job `job`'s run is over: the `stop?wait` streams end.
    pub fn end_waiters(&mut self, lp: &mut EventLoop, job: usize) {
        let server = &mut self.server;
        self.followers.retain(|f| {
            let done = f.job == job && f.waiter;
            if done {
                server.end_stream(lp, f.conn, b"stopped\n");
            }
            !done
        });
    }

    /// Ends the streams of job `job`'s followers (the job is gone).
    pub fn end_followers(&mut self, lp: &mut EventLoop, job: usize) {
        self.keep_followers(&mut |server, f| {
            if f.job == job {
                server.end_stream(lp, f.conn, b"");
            }
            f.job != job
        });
    }

    /// Sends what `line` queued.
    pub fn flush_followers(&mut self, lp: &mut EventLoop) {
        self.keep_followers(&mut |server, f| server.flush_stream(lp, f.conn));
    }

    /// Keeps the followers `keep` says to (one copy of the loop for all).
    #[inline(never)]
    fn keep_followers(&mut self, keep: &mut dyn FnMut(&mut Server, &Follower) -> bool) {
        let server = &mut self.server;
        self.followers.retain(|f| keep(server, f));
    }

    /// Stops listening and removes the socket file.
    pub fn close(&mut self, lp: &mut EventLoop) {
        self.server.shutdown(lp);
        self.followers.clear();
        if self.abstract_name {
            return;
        }
        if let Err(e) = listen::unlink(&self.cpath)
            && e != Errno::ENOENT
        {
            warning!("control: cannot remove {}: {e}", self.path);
        }
    }
}

/// An existing file at the socket's path: removed if it is a socket nobody
/// answers on; an error if another server answers (EADDRINUSE) or it is no
/// socket.
fn replace_stale(cpath: &CString, path: &str) -> Result<(), (Errno, String)> {
    let fail = |e: Errno, msg: String| Err((e, msg));
    match listen::is_socket(cpath) {
        Ok(true) => {}
        Ok(false) => {
            return fail(
                Errno(libc::EEXIST),
                format!("{path} exists and is not a socket"),
            );
        }
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return fail(e, format!("{path}: {e}")),
    }
    if listen::unix_is_live(cpath) {
        return fail(
            Errno(libc::EADDRINUSE),
            format!("another tug is listening on {path}"),
        );
    }
    match listen::unlink(cpath) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => fail(e, format!("cannot remove the stale socket {path}: {e}")),
    }
}

fn listen_error(path: &str, e: Errno) -> String {
    let dir = match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    };
    match e {
        Errno::ENOENT | Errno::ENOTDIR => {
            format!("cannot create {path}: directory {dir} does not exist")
        }
        Errno(libc::ENAMETOOLONG) => {
            format!(
                "{path}: a socket path must be 1 to 107 bytes long",
                path = q(&path)
            )
        }
        Errno(libc::EACCES | libc::EPERM) => {
            format!("cannot create {path}: permission denied in {dir}")
        }
        Errno(libc::EADDRINUSE) => format!("another tug is listening on {path}"),
        e => format!("cannot listen on {path}: {e}"),
    }
}

/// Whether a peer may use the control socket: root, tug's own uid, or a
/// uid in `allow`. No credentials: no.
fn peer_allowed(peer: Option<Peer>, own_uid: u32, allow: &[u32]) -> bool {
    peer.is_some_and(|p| p.uid == 0 || p.uid == own_uid || allow.contains(&p.uid))
}

/// What a route does: the table below maps paths to it, and one match
/// answers it (no second match on the path).
#[derive(Clone, Copy)]
enum Route {
    Ping,
    Status,
    Environ,
    Reload,
    Metric,
    /// On or off.
    Maintenance(bool),
    Shutdown,
    LogsReopen,
    LogLevel,
}

/// The routes; Ping and Status are GET's, the others POST's.
const ROUTES: [(&str, Route); 10] = [
    ("/v3/ping", Route::Ping),
    ("/v3/status", Route::Status),
    ("/v3/environ", Route::Environ),
    ("/v3/reload", Route::Reload),
    ("/v3/metric", Route::Metric),
    ("/v3/maintenance/enable", Route::Maintenance(true)),
    ("/v3/maintenance/disable", Route::Maintenance(false)),
    ("/v3/shutdown", Route::Shutdown),
    ("/v3/logs/reopen", Route::LogsReopen),
    ("/v3/loglevel", Route::LogLevel),
];
/// The job routes: the verb after `/v3/jobs/NAME/`, the pattern (the
/// request's label), and the action (a POST); None: a read (GET), the
/// job itself or its logs. Signal's number comes from the body.
const JOB_ROUTES: [(&str, &str, Option<JobAction>); 9] = [
    ("", "/v3/jobs/{job}", None),
    ("logs", "/v3/jobs/{job}/logs", None),
    ("start", "/v3/jobs/{job}/start", Some(JobAction::Start)),
    ("stop", "/v3/jobs/{job}/stop", Some(JobAction::Stop)),
    (
        "restart",
        "/v3/jobs/{job}/restart",
        Some(JobAction::Restart),
    ),
    (
        "signal",
        "/v3/jobs/{job}/signal",
        Some(JobAction::Signal(0)),
    ),
    ("reset", "/v3/jobs/{job}/reset", Some(JobAction::Reset)),
    ("enable", "/v3/jobs/{job}/enable", Some(JobAction::Enable)),
    (
        "disable",
        "/v3/jobs/{job}/disable",
        Some(JobAction::Disable),
    ),
];
/// The label of requests that match no route (bounded cardinality).
const UNMATCHED: &str = "other";
const ALLOW_GET: &[(&str, &str)] = &[("Allow", "GET, HEAD")];
const ALLOW_POST: &[(&str, &str)] = &[("Allow", "POST")];

/// An answer now, or a stream of a job's output (`Control::follow`).
#[derive(Debug)]
pub enum Reply {
    Now(Response),
    /// Follow job (index, name).
    Follow(usize, String),
    /// `POST /v3/jobs/NAME/stop?wait`: the stop is under way; the answer
    /// ends when job (index)'s run does.
    WaitStop(usize),
}

/// Answers one request (peer already checked by `Control`) and counts it
/// by route pattern and status.
pub fn answer(req: &Request, ops: &mut dyn Ops) -> Reply {
    let (pattern, mut reply) = dispatch(req, ops);
    if matches!(reply, Reply::Follow(..) | Reply::WaitStop(..)) && ops.followers_full() {
        reply = Reply::Now(too_many_followers());
    }
    let status = match &reply {
        Reply::Now(r) => r.status,
        Reply::Follow(..) | Reply::WaitStop(..) => 200,
    };
    ops.count_request(pattern, status);
    reply
}

fn too_many_followers() -> Response {
    let msg = format!("too many log followers ({MAX_FOLLOWERS}); try again later");
    Response::text(503, &msg)
}

fn dispatch(req: &Request, ops: &mut dyn Ops) -> (&'static str, Reply) {
    let path = req.path.as_str();
    let get = req.method == "GET" || req.method == "HEAD";
    let post = req.method == "POST";
    if let Some(rest) = path.strip_prefix("/v3/jobs/") {
        let (name, verb) = rest.rsplit_once('/').unwrap_or((rest, ""));
        let Some(&(_, pattern, action)) = JOB_ROUTES
            .iter()
            .find(|(v, ..)| *v == verb)
            .filter(|_| !name.is_empty())
        else {
            return (UNMATCHED, Reply::Now(not_found(path)));
        };
        let resp = match action {
            None if get => return (pattern, job_read(req, name, verb, ops)),
            Some(action) if post => {
                let name = match job_name(name) {
                    Ok(n) => n,
                    Err(r) => return (pattern, Reply::Now(r)),
                };
                let resp = job_route(req, &name, action, ops);
                let wait = action == JobAction::Stop && req.query.split('&').any(|q| q == "wait");
                match ops.index_of(&name) {
                    Some(i) if wait && resp.status == 200 => {
                        return (pattern, Reply::WaitStop(i));
                    }
                    _ => resp,
                }
            }
            None => Response::method_not_allowed(ALLOW_GET),
            Some(_) => Response::method_not_allowed(ALLOW_POST),
        };
        return (pattern, Reply::Now(resp));
    }
    let Some(&(pattern, route)) = ROUTES.iter().find(|(p, _)| *p == path) else {
        return (UNMATCHED, Reply::Now(not_found(path)));
    };
    let reads = matches!(route, Route::Ping | Route::Status);
    let resp = match route {
        _ if reads && !get => Response::method_not_allowed(ALLOW_GET),
        _ if !reads && !post => Response::method_not_allowed(ALLOW_POST),
        Route::Ping => Response::text(200, "ok"),
        Route::Status => Response::json(200, ops.status().to_json()),
        Route::Environ => match environ(&req.body) {
            Ok(vars) => {
                ops.putenv(vars);
                done()
            }
            Err(e) => unprocessable(&e),
        },
        Route::Reload => match ops.reload() {
            Ok(()) => done(),
            Err(errors) => unprocessable(&errors.join("\n")),
        },
        Route::Metric => match metrics(&req.body).and_then(|v| ops.putmetric(v)) {
            Ok(()) => done(),
            Err(e) => unprocessable(&e),
        },
        Route::Maintenance(on) => {
            ops.maintenance(on);
            done()
        }
        Route::Shutdown => {
            let delay = req.query.split('&').find_map(|q| q.strip_prefix("delay="));
            match delay.map(crate::duration::parse) {
                Some(Err(e)) => unprocessable(&format!("delay: {e}")),
                Some(Ok(ns)) if ns > 0 => match ops.shutdown_after(ns) {
                    Ok(()) => done(),
                    Err(e) => Response::text(409, &e),
                },
                _ => {
                    ops.shutdown();
                    done()
                }
            }
        }
        Route::LogLevel => {
            let body = String::from_utf8_lossy(&req.body);
            // An empty body reads the level.
            let set = (!body.trim().is_empty()).then(|| body.trim());
            match ops.log_level(set) {
                Ok(level) => Response::text(200, &level),
                Err(e) => Response::text(409, &e),
            }
        }
        Route::LogsReopen => Response::text(200, &ops.logs_reopen()),
    };
    (pattern, Reply::Now(resp))
}

/// A job name from the path, or the 400 answer.
fn job_name(name: &str) -> Result<String, Response> {
    crate::net::http::percent_decode(name).ok_or_else(|| {
        Response::text(
            400,
            "the job name in the path is not valid percent-encoded UTF-8",
        )
    })
}

// #[cold]: only on an error's path (callers keep it out of line).
#[cold]
fn unknown_job(name: &str) -> Response {
    Response::text(404, &format!("no job named {name}"))
}

/// `GET /v3/jobs/NAME` (the job's part of the status) and `.../logs`
/// (`?follow`: a stream).
fn job_read(req: &Request, name: &str, verb: &str, ops: &mut dyn Ops) -> Reply {
    let name = match job_name(name) {
        Ok(n) => n,
        Err(r) => return Reply::Now(r),
    };
    if verb.is_empty() {
        let report = ops.status();
        return Reply::Now(match report.jobs.iter().find(|j| j.name == name) {
            Some(j) => Response::json(200, j.to_json()),
            None => unknown_job(&name),
        });
    }
    // HEAD answers as a plain read: a stream would send a body.
    let follow = req.method != "HEAD"
        && req
            .query
            .split('&')
            .any(|q| matches!(q, "follow" | "follow=1" | "follow=true"));
    match ops.job_log(&name) {
        Ok((i, _)) if follow => Reply::Follow(i, name),
        Ok((_, ring)) => {
            let (a, b) = ring.as_slices();
            // By hand: concat's generic code costs more.
            let mut body = Vec::with_capacity(a.len() + b.len());
            body.extend_from_slice(a);
            body.extend_from_slice(b);
            Reply::Now(Response {
                status: 200,
                content_type: TEXT,
                body,
                headers: &[],
            })
        }
        Err(OpError::UnknownJob) => Reply::Now(unknown_job(&name)),
        Err(OpError::Conflict(why)) => Reply::Now(Response::text(409, &why)),
    }
}

/// A job's action (a POST) on job `name` (decoded); Signal's number is
/// read from the body.
fn job_route(req: &Request, name: &str, action: JobAction, ops: &mut dyn Ops) -> Response {
    let action = match action {
        JobAction::Signal(_) => match signal(&req.body) {
            Ok(sig) => JobAction::Signal(sig),
            Err(e) => return unprocessable(&e),
        },
        a => a,
    };
    match ops.job(name, action) {
        Ok(what) => Response::text(200, &what),
        Err(OpError::UnknownJob) => unknown_job(name),
        Err(OpError::Conflict(why)) => Response::text(409, &why),
    }
}

/// ContainerPilot's bodiless 200.
fn done() -> Response {
    Response::text(200, "")
}

// #[cold]: only on an error's path (callers keep it out of line).
#[cold]
fn unprocessable(msg: &str) -> Response {
    Response::text(422, msg)
}

// #[cold]: only on an error's path (callers keep it out of line).
#[cold]
fn not_found(path: &str) -> Response {
    Response::text(404, &format!("no route {path}"))
}

/// The body as a JSON object's members.
fn object(body: &[u8]) -> Result<Vec<Member>, String> {
    let doc = json::parse(body)?;
    match doc.value {
        Value::Object(members) => Ok(members),
        other => Err(format!(
            "the body must be a JSON object, not {} {}",
            article(other.kind()),
            other.kind()
        )),
    }
}

fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'o']) {
        "an"
    } else {
        "a"
    }
}

/// `/v3/environ`: names to string values (`null`: empty, as Go decoded
/// it). Names must be non-empty and hold no `=` or NUL.
fn environ(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    let mut problems = String::new();
    for m in object(body)? {
        if m.key.is_empty() || m.key.contains(['=', '\0']) {
            problem(
                &mut problems,
                format_args!("{} is not an environment variable name", q(&m.key)),
            );
            continue;
        }
        match m.value.value {
            Value::String(v) if !v.contains('\0') => vars.push((m.key, v)),
            Value::Null => vars.push((m.key, String::new())),
            Value::String(_) => problem(
                &mut problems,
                format_args!("the value of {} holds a NUL", m.key),
            ),
            other => problem(
                &mut problems,
                format_args!(
                    "the value of {} must be a string, not {} {}",
                    m.key,
                    article(other.kind()),
                    other.kind()
                ),
            ),
        }
    }
    if problems.is_empty() {
        Ok(vars)
    } else {
        Err(problems)
    }
}

/// `/v3/metric`: names to numbers, or to numeric strings (ContainerPilot's
/// own client sent strings).
fn metrics(body: &[u8]) -> Result<Vec<(String, f64)>, String> {
    let mut values = Vec::new();
    let mut problems = String::new();
    for m in object(body)? {
        let number = match &m.value.value {
            Value::Number(n) => Some(*n),
            Value::String(s) => json::parse(s.trim().as_bytes())
                .ok()
                .and_then(|n| json::as_f64(&n)),
            _ => None,
        };
        match number {
            Some(n) => values.push((m.key, n)),
            None => problem(
                &mut problems,
                format_args!("the value of {} is not a number", m.key),
            ),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

/// One more line of `problems` (one per problem, no Vec of them to join).
#[inline(never)]
fn problem(problems: &mut String, line: core::fmt::Arguments) {
    if !problems.is_empty() {
        problems.push('\n');
    }
    let _ = core::fmt::Write::write_fmt(problems, line);
}

/// `/v3/jobs/NAME/signal`: `{"signal": 15}` or `{"signal": "SIGTERM"}`.
fn signal(body: &[u8]) -> Result<i32, String> {
    let usage = "the body must be {\"signal\": NUMBER or NAME}";
    let doc = json::parse(body)?;
    let sig = json::get(&doc, "signal").ok_or(usage)?;
    let parsed = match &sig.value {
        Value::String(s) => crate::signame::parse(s),
        Value::Number(n) if *n == (*n as i32) as f64 => {
            crate::signame::parse(&format!("{}", *n as i32))
        }
        _ => return Err(usage.into()),
    };
    parsed.ok_or_else(|| match &sig.value {
        Value::String(s) => format!("unknown signal {s}", s = q(&s)),
        _ => format!(
            "a signal number must be 1 to {}",
            crate::sys::signal::MAX_SIGNAL
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::Event;
    use crate::net::http::ParsedRequest;
    use crate::sys::signal::SigSet;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;
    use std::string::ToString;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};
    use std::{thread, vec};

    const BASE: u64 = 4 << 56;
    const TICK: u64 = 9;

    /// Records what the routes ask for; a few names misbehave on purpose.
    #[derive(Default)]
    struct Fake {
        calls: Vec<String>,
        counted: Vec<(String, u16)>,
        broken_config: bool,
        ring: Option<LogRing>,
        full: bool,
    }

    /// An answer that is not a stream.
    fn route(req: &Request, ops: &mut dyn Ops) -> Response {
        match answer(req, ops) {
            Reply::Now(r) => r,
            other => panic!("{other:?}"),
        }
    }

    impl Ops for Fake {
        fn status(&self) -> Report {
            status::tests::sample()
        }
        fn job(&mut self, name: &str, action: JobAction) -> Result<String, OpError> {
            self.calls.push(format!("job {name} {action:?}"));
            match name {
                "busy" => Err(OpError::Conflict("job busy is already running".into())),
                "web" | "a/b c" | "ünï" => Ok(format!("did {action:?} to {name}")),
                _ => Err(OpError::UnknownJob),
            }
        }
        fn job_log(&self, name: &str) -> Result<(usize, &LogRing), OpError> {
            match (name, &self.ring) {
                ("web", Some(r)) => Ok((7, r)),
                ("raw", _) => Err(OpError::Conflict("job raw logs raw".into())),
                _ => Err(OpError::UnknownJob),
            }
        }
        fn reload(&mut self) -> Result<(), Vec<String>> {
            self.calls.push("reload".into());
            if self.broken_config {
                return Err(vec!["a.json5:1:2: bad".into(), "a.json5:3:4: worse".into()]);
            }
            Ok(())
        }
        fn putenv(&mut self, vars: Vec<(String, String)>) {
            self.calls.push(format!("putenv {vars:?}"));
        }
        fn putmetric(&mut self, values: Vec<(String, f64)>) -> Result<(), String> {
            if let Some((n, _)) = values.iter().find(|(n, _)| n == "nope") {
                return Err(format!("unknown metric {n:?}"));
            }
            self.calls.push(format!("putmetric {values:?}"));
            Ok(())
        }
        fn maintenance(&mut self, on: bool) {
            self.calls.push(format!("maintenance {on}"));
        }
        fn shutdown(&mut self) {
            self.calls.push("shutdown 0".into());
        }
        fn shutdown_after(&mut self, delay_ns: u64) -> Result<(), String> {
            self.calls.push(format!("shutdown {delay_ns}"));
            Ok(())
        }
        fn index_of(&self, name: &str) -> Option<usize> {
            (name == "web").then_some(7)
        }
        fn count_request(&mut self, path: &str, status: u16) {
            self.counted.push((path.into(), status));
        }
        fn followers_full(&mut self) -> bool {
            self.full
        }
    }

    fn req(method: &str, path: &str, body: &str) -> Request {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        Request {
            http: ParsedRequest {
                method: method.into(),
                path: path.into(),
                query: query.into(),
                headers: Vec::new(),
                body: body.as_bytes().to_vec(),
                keep_alive: true,
            },
            peer: None,
        }
    }

    /// (status, body) of one request, and the calls it made.
    fn call(method: &str, path: &str, body: &str) -> (u16, String, Vec<String>) {
        let mut ops = Fake::default();
        let r = route(&req(method, path, body), &mut ops);
        assert_eq!(ops.counted.len(), 1, "every request is counted once");
        assert_eq!(ops.counted[0].1, r.status);
        let text = String::from_utf8(r.body).unwrap();
        (r.status, text, ops.calls)
    }

    #[test]
    fn ping_and_status() {
        assert_eq!(call("GET", "/v3/ping", "").0, 200);
        assert_eq!(call("GET", "/v3/ping", "").1, "ok\n");
        let mut ops = Fake::default();
        let r = route(&req("GET", "/v3/status", ""), &mut ops);
        assert_eq!((r.status, r.content_type), (200, "application/json"));
        let doc = json::parse(&r.body).unwrap();
        assert_eq!(
            json::as_array(json::get(&doc, "jobs").unwrap())
                .unwrap()
                .len(),
            3
        );
        assert_eq!(ops.counted, [("/v3/status".to_string(), 200)]);
        assert_eq!(call("HEAD", "/v3/ping", "").0, 200);
    }

    #[test]
    fn wrong_methods_and_unknown_paths() {
        let mut ops = Fake::default();
        let r = route(&req("POST", "/v3/ping", ""), &mut ops);
        assert_eq!((r.status, r.headers), (405, ALLOW_GET));
        let r = route(&req("GET", "/v3/reload", ""), &mut ops);
        assert_eq!((r.status, r.headers), (405, ALLOW_POST));
        let r = route(&req("GET", "/v3/jobs/web/start", ""), &mut ops);
        assert_eq!((r.status, r.headers), (405, ALLOW_POST));
        for path in ["/v3/jobs/web", "/v3/jobs/web/logs"] {
            let r = route(&req("POST", path, ""), &mut ops);
            assert_eq!((r.status, r.headers), (405, ALLOW_GET), "{path}");
        }
        assert!(ops.calls.is_empty(), "{:?}", ops.calls);
        for path in [
            "/",
            "/v3",
            "/v3/ping/",
            "/v3/jobs/",
            "/v3/jobs//start",
            "/v3/jobs/web/logs/x",
            "/v3/jobs/web/frob",
            "/metrics",
        ] {
            assert_eq!(call("POST", path, "").0, 404, "{path}");
        }
        let mut ops = Fake::default();
        route(&req("GET", "/v3/secret/path", ""), &mut ops);
        route(&req("GET", "/v3/jobs/web/start", ""), &mut ops);
        assert_eq!(
            ops.counted,
            [
                ("other".to_string(), 404),
                ("/v3/jobs/{job}/start".to_string(), 405)
            ]
        );
    }

    #[test]
    fn environ() {
        let (status, body, calls) = call("POST", "/v3/environ", r#"{"A":"1","B":null,"C":"x=y"}"#);
        assert_eq!((status, body.as_str()), (200, "\n"));
        assert_eq!(calls, [r#"putenv [("A", "1"), ("B", ""), ("C", "x=y")]"#]);
        let (status, body, calls) = call(
            "POST",
            "/v3/environ",
            r#"{"A":1,"B=C":"x","":"y","D":"ok"}"#,
        );
        assert_eq!(status, 422);
        assert!(calls.is_empty(), "nothing applied: {calls:?}");
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(
            lines,
            [
                "the value of A must be a string, not a number",
                "\"B=C\" is not an environment variable name",
                "\"\" is not an environment variable name"
            ]
        );
        let (status, body, _) = call("POST", "/v3/environ", "[1]");
        assert_eq!(
            (status, body.as_str()),
            (422, "the body must be a JSON object, not an array\n")
        );
        let (status, body, _) = call("POST", "/v3/environ", "{\"A\": ");
        assert_eq!(status, 422);
        assert!(body.starts_with("bad JSON at 1:"), "{body}");
        assert_eq!(call("POST", "/v3/environ", "").0, 422);
    }

    #[test]
    fn logs_reopen_is_a_post() {
        // The fake's default answer; the engine says how many reopened.
        let (status, body, _) = call("POST", "/v3/logs/reopen", "");
        assert_eq!((status, body.as_str()), (200, "\n"));
        assert_eq!(call("GET", "/v3/logs/reopen", "").0, 405);
    }

    #[test]
    fn reload() {
        assert_eq!(call("POST", "/v3/reload", "").0, 200);
        let mut ops = Fake {
            broken_config: true,
            ..Fake::default()
        };
        let r = route(&req("POST", "/v3/reload", ""), &mut ops);
        assert_eq!(r.status, 422);
        assert_eq!(r.body, b"a.json5:1:2: bad\na.json5:3:4: worse\n");
    }

    #[test]
    fn metric() {
        let (status, _, calls) = call("POST", "/v3/metric", r#"{"hits":3,"lat":"-0.5","big":1e3}"#);
        assert_eq!(status, 200);
        assert_eq!(
            calls,
            [r#"putmetric [("hits", 3.0), ("lat", -0.5), ("big", 1000.0)]"#]
        );
        let (status, body, calls) = call("POST", "/v3/metric", r#"{"a":"x","b":true,"c":1}"#);
        assert_eq!(status, 422);
        assert_eq!(
            body,
            "the value of a is not a number\nthe value of b is not a number\n"
        );
        assert!(calls.is_empty());
        let (status, body, _) = call("POST", "/v3/metric", r#"{"nope":1}"#);
        assert_eq!((status, body.as_str()), (422, "unknown metric \"nope\"\n"));
    }

    #[test]
    fn maintenance_and_shutdown() {
        assert_eq!(
            call("POST", "/v3/maintenance/enable", "").2,
            ["maintenance true"]
        );
        assert_eq!(
            call("POST", "/v3/maintenance/disable", "").2,
            ["maintenance false"]
        );
        let (status, body, calls) = call("POST", "/v3/shutdown", "");
        assert_eq!(
            (status, body.as_str(), &calls[..]),
            (200, "\n", &["shutdown 0".to_string()][..])
        );
        let (status, _, calls) = call("POST", "/v3/shutdown?delay=1500ms", "");
        assert_eq!(
            (status, &calls[..]),
            (200, &["shutdown 1500000000".to_string()][..])
        );
        let (status, body, calls) = call("POST", "/v3/shutdown?delay=soon", "");
        assert_eq!((status, calls.len()), (422, 0), "{body}");
    }

    #[test]
    fn stop_wait_and_loglevel() {
        let mut ops = Fake::default();
        let r = answer(&req("POST", "/v3/jobs/web/stop?wait", ""), &mut ops);
        assert!(matches!(r, Reply::WaitStop(7)), "{r:?}");
        assert_eq!(ops.calls, ["job web Stop"]);
        // A refused stop is answered now.
        let r = answer(&req("POST", "/v3/jobs/busy/stop?wait", ""), &mut ops);
        assert!(matches!(r, Reply::Now(ref x) if x.status == 409), "{r:?}");
        // The default Ops has no forced log level: 409.
        let (status, body, _) = call("POST", "/v3/loglevel", "info");
        assert_eq!(
            (status, body.as_str()),
            (409, "only a Chaperone config has a forced log level\n")
        );
    }

    #[test]
    fn jobs() {
        for verb in ["start", "stop", "restart", "reset", "enable", "disable"] {
            let (status, body, calls) = call("POST", &format!("/v3/jobs/web/{verb}"), "");
            let action = match verb {
                "start" => "Start",
                "stop" => "Stop",
                "reset" => "Reset",
                "enable" => "Enable",
                "disable" => "Disable",
                _ => "Restart",
            };
            assert_eq!((status, body), (200, format!("did {action} to web\n")));
            assert_eq!(calls, [format!("job web {action}")]);
        }
        let (status, _, calls) = call("POST", "/v3/jobs/a%2Fb%20c/restart", "");
        assert_eq!(
            (status, &calls[..]),
            (200, &["job a/b c Restart".to_string()][..])
        );
        assert_eq!(call("POST", "/v3/jobs/%C3%BCn%C3%AF/stop", "").0, 200);
        let (status, body, _) = call("POST", "/v3/jobs/ghost/start", "");
        assert_eq!((status, body.as_str()), (404, "no job named ghost\n"));
        let (status, body, _) = call("POST", "/v3/jobs/busy/start", "");
        assert_eq!(
            (status, body.as_str()),
            (409, "job busy is already running\n")
        );
        for bad in [
            "/v3/jobs/a%2/start",
            "/v3/jobs/a%zz/start",
            "/v3/jobs/%FF/start",
        ] {
            assert_eq!(call("POST", bad, "").0, 400, "{bad}");
        }
    }

    #[test]
    fn one_job_and_its_logs() {
        let (status, body, _) = call("GET", "/v3/jobs/cron", "");
        assert_eq!(status, 200);
        let doc = json::parse(body.as_bytes()).unwrap();
        assert_eq!(json::get(&doc, "name").and_then(json::as_str), Some("cron"));
        assert_eq!(
            json::get(&doc, "when").and_then(json::as_str),
            Some("cron \"*/5 * * * *\" (UTC)")
        );
        assert_eq!(call("GET", "/v3/jobs/web%20%22x%22", "").0, 200);
        let (status, body, _) = call("GET", "/v3/jobs/ghost", "");
        assert_eq!((status, body.as_str()), (404, "no job named ghost\n"));
        assert_eq!(call("GET", "/v3/jobs/%FF", "").0, 400);

        let mut ring = LogRing::new(64);
        ring.push(b"one");
        ring.push(b"  ");
        let mut ops = Fake {
            ring: Some(ring),
            ..Fake::default()
        };
        let r = route(&req("GET", "/v3/jobs/web/logs", ""), &mut ops);
        assert_eq!(
            (r.status, r.content_type, &r.body[..]),
            (200, TEXT, &b"one\n  \n"[..])
        );
        let r = route(&req("GET", "/v3/jobs/raw/logs", ""), &mut ops);
        assert_eq!((r.status, &r.body[..]), (409, &b"job raw logs raw\n"[..]));
        let r = route(&req("GET", "/v3/jobs/ghost/logs", ""), &mut ops);
        assert_eq!(r.status, 404);
        let mut follow = req("GET", "/v3/jobs/web/logs", "");
        follow.http.query = "follow".into();
        assert!(matches!(answer(&follow, &mut ops), Reply::Follow(7, n) if n == "web"));
        // With MAX_FOLLOWERS following, a refusal, counted as one.
        ops.full = true;
        assert!(matches!(answer(&follow, &mut ops), Reply::Now(r) if r.status == 503));
        assert_eq!(
            ops.counted.last(),
            Some(&("/v3/jobs/{job}/logs".to_string(), 503))
        );
        ops.full = false;
        // HEAD never streams (a body after a HEAD answer breaks HTTP).
        follow.http.method = "HEAD".into();
        assert!(matches!(answer(&follow, &mut ops), Reply::Now(r) if r.status == 200));
        follow.http.method = "GET".into();
        assert_eq!(
            ops.counted.last(),
            Some(&("/v3/jobs/{job}/logs".to_string(), 200))
        );
        // An empty ring: an empty 200.
        ops.ring = Some(LogRing::new(64));
        let r = route(&req("GET", "/v3/jobs/web/logs", ""), &mut ops);
        assert_eq!((r.status, r.body.len()), (200, 0));
    }

    #[test]
    fn signals() {
        let sig = |body: &str| call("POST", "/v3/jobs/web/signal", body);
        assert_eq!(sig(r#"{"signal":1}"#).2, ["job web Signal(1)"]);
        assert_eq!(sig(r#"{"signal":"SIGUSR1"}"#).2, ["job web Signal(10)"]);
        assert_eq!(sig(r#"{"signal":"term"}"#).2, ["job web Signal(15)"]);
        for (body, msg) in [
            (r#"{"signal":0}"#, "a signal number must be 1 to 64"),
            (
                r#"{"signal":1.5}"#,
                "the body must be {\"signal\": NUMBER or NAME}",
            ),
            (r#"{"signal":"SIGNOPE"}"#, "unknown signal \"SIGNOPE\""),
            (
                r#"{"sig":1}"#,
                "the body must be {\"signal\": NUMBER or NAME}",
            ),
            ("", "bad JSON at"),
        ] {
            let (status, text, calls) = sig(body);
            assert_eq!(status, 422, "{body}");
            assert!(text.starts_with(msg), "{body}: {text}");
            assert!(calls.is_empty());
        }
        assert_eq!(
            call("POST", "/v3/jobs/ghost/signal", r#"{"signal":1}"#).0,
            404
        );
    }

    #[test]
    fn who_may_connect() {
        let peer = |uid| {
            Some(Peer {
                pid: 1,
                uid,
                gid: 0,
            })
        };
        assert!(peer_allowed(peer(0), 1000, &[]), "root");
        assert!(peer_allowed(peer(1000), 1000, &[]), "tug's own uid");
        assert!(!peer_allowed(peer(1001), 1000, &[]));
        assert!(peer_allowed(peer(1001), 1000, &[5, 1001]));
        assert!(!peer_allowed(None, 0, &[0]), "no credentials");
    }

    /// A control socket in a fresh directory, registered with a new loop.
    fn listening() -> (PathBuf, EventLoop, Control) {
        let sock = temp_dir().join("tug.sock");
        let lp = EventLoop::new(&SigSet::empty()).unwrap();
        let c = Control::open(sock.to_str().unwrap(), &[], BASE).unwrap();
        c.register(&lp).unwrap();
        (sock, lp, c)
    }

    fn temp_dir() -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "tug-control-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn opening_the_socket() {
        let dir = temp_dir();
        let sock = dir.join("tug.sock");
        let path = sock.to_str().unwrap();
        let mut lp = EventLoop::new(&SigSet::empty()).unwrap();
        let mut c = Control::open(path, &[], BASE).unwrap();
        c.register(&lp).unwrap();
        assert_eq!(mode(&sock), 0o600);
        let e = Control::open(path, &[], BASE).err().unwrap();
        assert_eq!(e, format!("another tug is listening on {path}"));
        c.close(&mut lp);
        assert!(!sock.exists(), "close removes the socket file");
        // A stale socket file (its server gone) is replaced.
        let stale = listen::unix_listener(&CString::new(path).unwrap(), 0o600).unwrap();
        drop(stale);
        let deadline = Instant::now() + Duration::from_secs(2);
        // A concurrent fork elsewhere in the tests may hold the listener
        // until its child execs (CLOEXEC).
        while listen::unix_is_live(&CString::new(path).unwrap()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let c = Control::open(path, &[1234], BASE).unwrap();
        assert_eq!(mode(&sock), 0o666, "others may connect when allow is set");
        assert_eq!(c.path(), path);
        drop(c);
        // Not a socket: never removed.
        let file = dir.join("file");
        std::fs::write(&file, "keep me").unwrap();
        let e = Control::open(file.to_str().unwrap(), &[], BASE)
            .err()
            .unwrap();
        assert!(e.ends_with("exists and is not a socket"), "{e}");
        assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
        let missing = dir.join("no/such/dir/tug.sock");
        let e = Control::open(missing.to_str().unwrap(), &[], BASE)
            .err()
            .unwrap();
        assert!(
            e.ends_with(&format!(
                "directory {} does not exist",
                dir.join("no/such/dir").display()
            )),
            "{e}"
        );
        let long = format!("/tmp/{}", "x".repeat(120));
        let e = Control::open(&long, &[], BASE).err().unwrap();
        assert!(e.contains("1 to 107 bytes"), "{e}");
    }

    #[test]
    fn abstract_sockets_and_the_defaults() {
        assert_eq!(
            default_sockets("/var/run/tug.sock"),
            ["/var/run/tug.sock", "/run/tug.sock", "@tug.sock"]
        );
        assert_eq!(
            default_sockets("/var/run/containerpilot.socket")[2],
            "@containerpilot.socket"
        );
        // An abstract name: no file anywhere (not even one named like it
        // in the working directory), a second tug is refused, and closing
        // frees the name.
        let name = format!("@tug-control-test-{}", std::process::id());
        let mut lp = EventLoop::new(&SigSet::empty()).unwrap();
        let mut c = Control::open(&name, &[], BASE).unwrap();
        c.register(&lp).unwrap();
        assert!(c.abstract_name);
        assert!(!std::path::Path::new(&name).exists());
        let e = Control::open(&name, &[], BASE).err().unwrap();
        assert_eq!(e, format!("another tug is listening on {name}"));
        let client = {
            let name = name.clone();
            thread::spawn(move || {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name[1..]).unwrap();
                let mut s = BufReader::new(UnixStream::connect_addr(&addr).unwrap());
                exchange(&mut s, "GET /v3/ping HTTP/1.1\r\nHost: x\r\n\r\n")
            })
        };
        let mut ops = Fake::default();
        drive(&mut lp, &mut c, &mut ops, &mut || client.is_finished());
        assert_eq!(
            client.join().unwrap().1,
            "ok\n",
            "same pid namespace: served"
        );
        c.close(&mut lp);
        drop(c);
        // Freed at once in tug; here a child another test thread forks
        // holds a copy of every fd until it execs (CLOEXEC acts at exec),
        // and nothing signals that moment: retry within a bound.
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Err(e) = Control::open(&name, &[], BASE) {
            assert!(Instant::now() < deadline, "the name stayed taken: {e}");
            thread::yield_now();
        }
        assert_eq!(
            Control::open("@", &[], BASE).err().unwrap(),
            "\"@\": a socket path must be 1 to 107 bytes long"
        );
    }

    /// Runs the loop with `c` answering through `ops` until `done`.
    fn drive(lp: &mut EventLoop, c: &mut Control, ops: &mut Fake, done: &mut dyn FnMut() -> bool) {
        drive_with(lp, c, ops, done, &mut |_, _| {});
    }

    /// As `drive`; follow requests stream `ops.ring`, and `each` runs once
    /// a turn (to hand followers new lines).
    fn drive_with(
        lp: &mut EventLoop,
        c: &mut Control,
        ops: &mut Fake,
        done: &mut dyn FnMut() -> bool,
        each: &mut dyn FnMut(&mut EventLoop, &mut Control),
    ) {
        let give_up = Instant::now() + Duration::from_secs(20);
        while !done() {
            each(lp, c);
            assert!(Instant::now() < give_up, "test timed out");
            let tick = lp.add_timer(lp.now() + 10_000_000, TICK);
            let mut evs = Vec::new();
            lp.turn(&mut evs).unwrap();
            let mut pending = Vec::new();
            for e in evs {
                match e {
                    Event::Timer(TICK) => {}
                    Event::Timer(k) if c.server().owns(k) => c.server().on_timer(lp, k),
                    Event::Io(r) if c.server().owns(r.token) => {
                        c.on_ready(lp, r.token, &mut pending)
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            for p in pending {
                match answer(&p.req, ops) {
                    Reply::Now(resp) => c.server().respond(lp, p.conn, resp),
                    Reply::Follow(job, name) => {
                        c.follow(lp, p.conn, job, &name, ops.ring.as_ref().unwrap())
                    }
                    Reply::WaitStop(job) => c.wait_stop(lp, p.conn, job),
                }
            }
            lp.cancel_timer(tick);
        }
    }

    /// A `GET .../logs?follow` on `sock`: the stream's head, once read.
    fn follower(sock: &std::path::Path) -> (BufReader<UnixStream>, String) {
        let mut s = BufReader::new(UnixStream::connect(sock).unwrap());
        s.get_mut()
            .write_all(b"GET /v3/jobs/web/logs?follow HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut head = String::new();
        while !head.ends_with("\r\n\r\n") {
            assert!(s.read_line(&mut head).unwrap() > 0, "{head}");
        }
        (s, head)
    }

    #[test]
    fn followers_get_the_ring_then_each_new_line() {
        use std::sync::mpsc;
        let (sock, mut lp, mut c) = listening();
        let mut ring = LogRing::new(1024);
        ring.push(b"before 1");
        ring.push(b"before 2");
        let mut ops = Fake {
            ring: Some(ring),
            ..Fake::default()
        };
        let (ready_tx, ready) = mpsc::channel();
        let client = {
            let sock = sock.clone();
            thread::spawn(move || {
                let (mut s, head) = follower(&sock);
                let mut lines = Vec::new();
                for _ in 0..2 {
                    let mut l = String::new();
                    s.read_line(&mut l).unwrap();
                    lines.push(l);
                }
                ready_tx.send(()).unwrap();
                let mut rest = String::new();
                s.read_to_string(&mut rest).unwrap();
                (head, lines, rest)
            })
        };
        let mut sent = false;
        drive_with(
            &mut lp,
            &mut c,
            &mut ops,
            &mut || client.is_finished(),
            &mut |lp, c| {
                if !sent && ready.try_recv().is_ok() {
                    sent = true;
                    c.line(lp, 7, b"new 1");
                    c.line(lp, 8, b"another job's");
                    c.line(lp, 7, b"");
                    c.flush_followers(lp);
                    // The stream ends when tug closes the socket.
                    c.close(lp);
                }
            },
        );
        let (head, lines, rest) = client.join().unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("content-length"),
            "{head}"
        );
        assert_eq!(lines, ["before 1\n", "before 2\n"]);
        assert_eq!(rest, "new 1\n\n");
    }

    #[test]
    fn a_follower_that_falls_behind_is_dropped_and_told() {
        use std::sync::mpsc;
        let (sock, mut lp, mut c) = listening();
        let mut ops = Fake {
            ring: Some(LogRing::new(64)),
            ..Fake::default()
        };
        let (go_tx, go) = mpsc::channel::<()>();
        let (ready_tx, ready) = mpsc::channel();
        let client = {
            let sock = sock.clone();
            thread::spawn(move || {
                let (mut s, _) = follower(&sock);
                ready_tx.send(()).unwrap();
                // Reads nothing until tug has given up on it.
                go.recv().unwrap();
                let mut all = String::new();
                s.read_to_string(&mut all).unwrap();
                all
            })
        };
        let line = [b'x'; 1023];
        let mut pushed = 0usize;
        let mut dropped = false;
        drive_with(
            &mut lp,
            &mut c,
            &mut ops,
            &mut || client.is_finished(),
            &mut |lp, c| {
                if dropped || ready.try_recv().is_err() && pushed == 0 {
                    return;
                }
                // Far more than the socket and FOLLOW_BUFFER hold, unread.
                while !dropped {
                    c.line(lp, 7, &line);
                    c.flush_followers(lp);
                    pushed += 1;
                    dropped = c.followers.is_empty();
                    assert!(pushed < 100_000, "never dropped");
                }
                go_tx.send(()).unwrap();
            },
        );
        let all = client.join().unwrap();
        assert!(pushed * 1024 > FOLLOW_BUFFER, "{pushed}");
        let last = all.lines().last().unwrap();
        assert_eq!(format!("\n{last}\n").as_bytes(), DROPPED);
        assert!(all.len() < pushed * 1024, "the unsent rest is dropped");
        assert!(all.starts_with(&format!("{}\n", "x".repeat(1023))));
    }

    #[test]
    fn a_burst_larger_than_the_buffer_keeps_a_follower() {
        use std::sync::mpsc;
        let (sock, mut lp, mut c) = listening();
        let mut ops = Fake {
            ring: Some(LogRing::new(64)),
            ..Fake::default()
        };
        let (ready_tx, ready) = mpsc::channel();
        let (go_tx, go) = mpsc::channel::<()>();
        let client = thread::spawn(move || {
            let (s, _) = follower(&sock);
            ready_tx.send(()).unwrap();
            go.recv().unwrap();
            drop(s);
        });
        let line = [b'y'; 1023];
        let burst = std::cell::Cell::new(false);
        drive_with(
            &mut lp,
            &mut c,
            &mut ops,
            &mut || burst.get(),
            &mut |lp, c| {
                if c.followers.is_empty() || ready.try_recv().is_err() {
                    return;
                }
                // 160 KiB from one pump, before any flush: more than
                // FOLLOW_BUFFER, less than it and the socket hold.
                for _ in 0..160 {
                    c.line(lp, 7, &line);
                }
                c.flush_followers(lp);
                assert_eq!(c.followers.len(), 1, "a reader dropped for a burst");
                burst.set(true);
            },
        );
        go_tx.send(()).unwrap();
        client.join().unwrap();
    }

    #[test]
    fn followers_are_bounded() {
        let (sock, mut lp, mut c) = listening();
        let mut ops = Fake {
            ring: Some(LogRing::new(64)),
            ..Fake::default()
        };
        let client = {
            let sock = sock.clone();
            thread::spawn(move || {
                let held: Vec<_> = (0..MAX_FOLLOWERS).map(|_| follower(&sock)).collect();
                let (_, head) = follower(&sock);
                drop(held);
                // Their slots free up once tug sees them go.
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    let (_, again) = follower(&sock);
                    if again.starts_with("HTTP/1.1 200") || Instant::now() > deadline {
                        return (head, again);
                    }
                    thread::sleep(Duration::from_millis(10));
                }
            })
        };
        drive(&mut lp, &mut c, &mut ops, &mut || client.is_finished());
        let (head, again) = client.join().unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(again.starts_with("HTTP/1.1 200 "), "{again}");
    }

    fn exchange(s: &mut BufReader<UnixStream>, request: &str) -> (String, String) {
        s.get_mut().write_all(request.as_bytes()).unwrap();
        let mut head = String::new();
        let mut len = 0;
        loop {
            let mut line = String::new();
            s.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
                len = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; len];
        s.read_exact(&mut body).unwrap();
        (head, String::from_utf8(body).unwrap())
    }

    #[test]
    fn requests_over_the_socket() {
        let (sock, mut lp, mut c) = listening();
        let mut ops = Fake::default();
        let clients: Vec<_> = (0..8)
            .map(|i| {
                let sock = sock.clone();
                thread::spawn(move || {
                    let mut s = BufReader::new(UnixStream::connect(sock).unwrap());
                    let post = |path: &str, body: &str| {
                        format!(
                            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let env = format!("{{\"N\":\"{i}\"}}");
                    let a = exchange(&mut s, &post("/v3/environ", &env));
                    let b = exchange(&mut s, "GET /v3/reload HTTP/1.1\r\nHost: x\r\n\r\n");
                    let c = exchange(&mut s, &post("/v3/jobs/ghost/stop", ""));
                    [a, b, c]
                })
            })
            .collect();
        drive(&mut lp, &mut c, &mut ops, &mut || {
            clients.iter().all(|c| c.is_finished())
        });
        for client in clients {
            let [(h1, b1), (h2, _), (h3, b3)] = client.join().unwrap();
            assert!(h1.starts_with("HTTP/1.1 200 OK\r\n") && b1 == "\n", "{h1}");
            assert!(h2.starts_with("HTTP/1.1 405 "), "{h2}");
            assert!(h2.contains("\r\nAllow: POST\r\n"), "{h2}");
            assert!(
                h3.starts_with("HTTP/1.1 404 ") && b3 == "no job named ghost\n",
                "{h3}"
            );
            assert!(
                h3.contains("Content-Type: text/plain; charset=utf-8\r\n"),
                "{h3}"
            );
        }
        assert_eq!(
            ops.calls.iter().filter(|c| c.starts_with("putenv")).count(),
            8
        );
        assert_eq!(ops.counted.len(), 24);
        c.close(&mut lp);
    }

    /// The other end of `a_peer_outside_the_allow_list_gets_403`: run as a
    /// child process under another uid.
    #[test]
    #[ignore]
    fn peer_helper() {
        let Ok(path) = std::env::var("TUG_TEST_PEER_SOCKET") else {
            return;
        };
        let line = match UnixStream::connect(path) {
            Ok(s) => {
                let mut s = BufReader::new(s);
                let (head, body) = exchange(&mut s, "GET /v3/ping HTTP/1.1\r\nHost: x\r\n\r\n");
                format!("{} {}", &head[9..12], body.trim())
            }
            Err(e) => format!("connect: {:?}", e.kind()),
        };
        std::println!("PEER-RESULT {line}");
    }

    #[test]
    fn a_peer_outside_the_allow_list_gets_403() {
        if process::getuid() != 0 {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the unit tests as root"
            );
            std::eprintln!("skipped: needs root to connect as another uid");
            return;
        }
        const NOBODY: u32 = 65534;
        let outcome = |allow: &[u32]| {
            let dir = temp_dir();
            let sock = dir.join("tug.sock");
            let mut lp = EventLoop::new(&SigSet::empty()).unwrap();
            let mut c = Control::open(sock.to_str().unwrap(), allow, BASE).unwrap();
            c.register(&lp).unwrap();
            use std::os::unix::process::CommandExt;
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "control::tests::peer_helper",
                    "--ignored",
                    "--nocapture",
                ])
                .env("TUG_TEST_PEER_SOCKET", &sock)
                .uid(NOBODY)
                .gid(NOBODY)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let mut ops = Fake::default();
            drive(&mut lp, &mut c, &mut ops, &mut || {
                child.try_wait().unwrap().is_some()
            });
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            c.close(&mut lp);
            let line = out
                .lines()
                .find_map(|l| l.strip_prefix("PEER-RESULT "))
                .map(String::from);
            (line.unwrap_or(out), ops.counted)
        };
        let (line, counted) = outcome(&[1234]);
        assert!(line.starts_with("403 forbidden: uid 65534 (pid "), "{line}");
        assert!(counted.is_empty(), "refused before routing");
        assert_eq!(outcome(&[NOBODY]).0, "200 ok");
        assert_eq!(outcome(&[]).0, "connect: PermissionDenied", "mode 0600");
    }
}
