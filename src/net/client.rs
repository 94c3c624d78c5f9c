//! A loop-driven HTTP/1.1 client over non-blocking TCP and unix sockets,
//! with name resolution inside the loop (`resolver`).
//!
//! Contract (callers rely on it):
//! - `start` never blocks and never fails synchronously: an error that is
//!   known at once (bad endpoint, ENOENT on a unix socket) is pushed to
//!   `out` as `Reply::Done` with `Err`.
//! - Tokens and timer keys: a client owns `token_base..token_base +
//!   TOKEN_SPAN`; the owner routes any token/key for which `owns` is true
//!   to `on_ready`/`on_timer`.
//! - Every call ends with exactly one `Reply::Done` (unless cancelled).
//!   Streaming calls first get one `Reply::Head` and any number of
//!   `Reply::Data` (decoded body bytes, chunk boundaries not preserved).
//! - Idle keep-alive connections are reused per endpoint; a call whose
//!   headers say `Connection: close` never leaves its connection idle.
//! - A call with an empty `method` only connects (resolved, each address
//!   in turn, like any call): it ends with `Done(Ok)` and an empty head
//!   (status 0) once a connection is up, which it then closes. The TCP
//!   health checks.
//!
//! Decisions:
//! - The token span is split in three: connections at offset 0 (socket
//!   tokens and idle timers), calls at 2^30 (deadline timers), the
//!   resolver at 2^31. Each key holds the low 30 bits of an id that is
//!   never reused (`Slots`), so a stale event or timer finds nothing.
//! - A call is resolved (TCP), connected (non-blocking; a failed address
//!   moves to the next one the resolver gave, IPv4 first), written whole,
//!   then read: one read of at most 16 KiB per readiness event, fed to
//!   `ResponseParser`. `timeout_ns` is one loop timer over all of it;
//!   there is no separate connect timeout.
//! - `max_body` bounds what is held: the whole body, or for a stream the
//!   bytes of one feed (reads are fed in pieces of at most `max_body` and
//!   drained into `Reply::Data` after each), so neither a huge nor an
//!   endless response can grow memory.
//! - Pool: a connection whose response was complete, keep-alive and had
//!   nothing after it goes idle, at most 4 per endpoint. Idle connections
//!   stay registered READABLE: EOF, stray bytes or an error closes them,
//!   and so does the idle timeout (60 s by default). A call takes the most
//!   recently used one.
//! - Retry: a pooled connection that fails before any byte of the response
//!   arrives (a send error, EOF or a reset on read: the server closed it
//!   while idle) is retried once on a fresh connection, whatever the
//!   method. The server cannot have answered; it may, rarely, have acted
//!   on a request that raced its close, so non-idempotent calls should be
//!   safe to repeat (tug's are: register with replace, PUT of a value).
//! - Errors are one line, naming the peer: `connect 127.0.0.1:8500:
//!   connection refused`, `consul:8500: timed out after 10s`,
//!   `unix:///var/run/docker.sock: body exceeds 1048576 bytes`.

use crate::duration;
use crate::event_loop::{EventLoop, READABLE, TimerId, WRITABLE};
use crate::net::dns::parse_ip;
use crate::net::http::{Request, ResponseHead, ResponseParser, write_request};
use crate::net::interfaces::ip_text;
use crate::net::resolver::{Config, QueryId, Resolution, Resolver, Slots, errno_text, socket_text};
use crate::num::dec;
use crate::quote::q;
use crate::sys::Errno;
use crate::sys::fd::Fd;
use crate::sys::net::{self, Ip};
use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub const TOKEN_SPAN: u64 = 1 << 32;

const KEY_BITS: u32 = 30;
const KEY_MASK: u64 = (1 << KEY_BITS) - 1;
const CALLS: u64 = 1 << 30;
const RESOLVER: u64 = 1 << 31;
const READ_CHUNK: usize = 16 << 10;
const IDLE_PER_ENDPOINT: usize = 4;
const IDLE_NS: u64 = 60_000_000_000;

/// Where a server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A host name or IP literal (no brackets) and a port.
    Tcp { host: String, port: u16 },
    /// A unix socket path.
    Unix(String),
}

impl Endpoint {
    /// Parses `host:port`, `[v6]:port`, `http://host:port`, `host` (with
    /// `default_port`), `unix:///path` or `unix:/path`. `https://` is an
    /// error (no TLS in tug), said so.
    ///
    /// Also: a bare IPv6 literal (`::1`) takes `default_port`, `tcp://`
    /// (DOCKER_HOST's form) is `http://`, and one trailing `/` is allowed
    /// after a URL's authority; any other path, user info, an empty host
    /// or a port outside 1..=65535 is an error.
    pub fn parse(s: &str, default_port: u16) -> Result<Endpoint, String> {
        Endpoint::parse_why(s, default_port)
            .map_err(|why| format!("bad address {s}: {why}", s = q(&s)))
    }

    /// `parse`, with only the reason on error (the caller names the text).
    pub fn parse_why(s: &str, default_port: u16) -> Result<Endpoint, &'static str> {
        let t = s.trim();
        // `unix:/path`, but `unix:8500` is the host "unix".
        if let Some(path) = t.strip_prefix("unix://").or_else(|| {
            t.strip_prefix("unix:")
                .filter(|p| p.is_empty() || p.starts_with('/'))
        }) {
            if path.is_empty() {
                return Err("empty socket path");
            }
            if path.contains('\0') {
                return Err("NUL in socket path");
            }
            return Ok(Endpoint::Unix(path.into()));
        }
        // `get`, not slicing: the text may hold multi-byte characters.
        let has_scheme = |text: &str, scheme: &str| {
            text.get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        };
        if has_scheme(t, "https://") {
            return Err("https is not supported (tug has no TLS); use http://");
        }
        let mut rest = t;
        for scheme in ["http://", "tcp://"] {
            if has_scheme(rest, scheme) {
                rest = &rest[scheme.len()..];
                rest = rest.strip_suffix('/').unwrap_or(rest);
                break;
            }
        }
        if rest.contains("://") {
            return Err("unsupported scheme");
        }
        if rest.contains(['/', '?', '#']) {
            return Err("a path is not allowed here");
        }
        if rest.contains('@') {
            return Err("user info is not supported");
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or("missing ']'")?;
            if !matches!(parse_ip(host), Some(Ip::V6(_))) {
                return Err("not an IPv6 address in brackets");
            }
            match after {
                "" => (host, None),
                p => (host, Some(p.strip_prefix(':').ok_or("junk after ']'")?)),
            }
        } else if matches!(parse_ip(rest), Some(Ip::V6(_))) {
            (rest, None)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err("empty host");
        }
        if host.contains(':') && !matches!(parse_ip(host), Some(Ip::V6(_))) {
            return Err("too many colons; an IPv6 address goes in brackets: [::1]:8500");
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
        {
            return Err("invalid character in host");
        }
        let port = match port {
            None => default_port,
            Some(p) => dec::<u16>(p)
                .filter(|&n| n != 0 && p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or("port must be 1-65535")?,
        };
        if port == 0 {
            return Err("no port");
        }
        Ok(Endpoint::Tcp {
            host: host.into(),
            port,
        })
    }

    /// The Host header value for requests to this endpoint.
    pub fn host_header(&self) -> String {
        match self {
            Endpoint::Tcp { .. } => format!("{self}"),
            // Any name does; Docker's own client sends a constant too.
            Endpoint::Unix(_) => "localhost".into(),
        }
    }
}

/// `host:port`, `[v6]:port`, `unix:///path`.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix(path) => write!(f, "unix://{path}"),
        }
    }
}

/// One request.
pub struct Call {
    /// "GET", "PUT"...; "" only connects (see the header).
    pub method: &'static str,
    /// Origin form, already percent-encoded: path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Overall deadline for the whole exchange, from `start` (connect,
    /// write, head and body). None: no deadline (streams).
    pub timeout_ns: Option<u64>,
    /// Deliver the body as it arrives (`Reply::Head`, `Reply::Data`)
    /// instead of whole in `Done`.
    pub stream: bool,
    /// Largest body held at once (whole body, or undrained stream bytes).
    pub max_body: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallId(pub u64);

#[derive(Debug)]
pub struct Response {
    pub head: ResponseHead,
    /// The whole body (empty for streams: it went out as `Data`).
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum Reply {
    Head(CallId, ResponseHead),
    Data(CallId, Vec<u8>),
    /// Err: a one-line reason (connect refused, timed out, bad response...).
    Done(CallId, Result<Response, String>),
}

enum Stage {
    /// Holding nothing: not dispatched yet, or resolved and not connected.
    New,
    /// Waiting for this lookup (the only record of who waits for it).
    Resolving(QueryId),
    /// Trying `addrs[next - 1]`, or past connecting, on this connection.
    Attached(u64),
}

struct CallState {
    ep: Endpoint,
    request: Vec<u8>,
    /// The request said `Connection: close`: its connection is not pooled.
    close: bool,
    no_body: bool,
    stream: bool,
    max_body: usize,
    timeout_ns: Option<u64>,
    timer: Option<TimerId>,
    stage: Stage,
    /// Resolved addresses; `addrs[next..]` are yet to be tried.
    addrs: Vec<Ip>,
    next: usize,
    /// Why the latest address failed.
    last_error: Option<String>,
    /// Already retried on a fresh connection.
    retried: bool,
    head_sent: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ConnState {
    Connecting,
    /// Request bytes sent so far.
    Sending(usize),
    Receiving,
    Idle,
}

struct Conn {
    fd: Fd,
    ep: Endpoint,
    /// The peer in messages: `127.0.0.1:8500`, `consul:8500 (10.0.0.5)`.
    peer: String,
    call: Option<u64>,
    state: ConnState,
    parser: ResponseParser,
    interest: u32,
    /// Taken from the pool for the current call.
    reused: bool,
    /// A byte of the current response arrived.
    got_bytes: bool,
    idle_timer: Option<TimerId>,
    /// When it last went idle (picks the most recent).
    idle_since: u64,
}

/// What a readiness event on a busy connection led to.
enum Outcome {
    Pending,
    /// Address failed while connecting: try the next.
    ConnectFailed(String),
    Failed(String),
    /// Pooled connection dead before any response byte.
    Retry,
    Complete,
}

pub struct Client {
    token_base: u64,
    resolver: Resolver,
    calls: Slots<CallState>,
    conns: Slots<Conn>,
    /// How long an idle pooled connection is kept (tests shorten it).
    idle_ns: u64,
}

impl Client {
    pub fn new(token_base: u64) -> Client {
        Client::with_resolver(token_base, Config::System)
    }

    /// A client whose resolver reads `config` (tests: fixed texts).
    pub fn with_resolver(token_base: u64, config: Config) -> Client {
        Client {
            token_base,
            resolver: Resolver::new(token_base + RESOLVER, config),
            calls: Slots::new(),
            conns: Slots::new(),
            idle_ns: IDLE_NS,
        }
    }

    pub fn owns(&self, token: u64) -> bool {
        token.wrapping_sub(self.token_base) < TOKEN_SPAN
    }

    pub fn start(
        &mut self,
        lp: &mut EventLoop,
        ep: &Endpoint,
        call: Call,
        out: &mut Vec<Reply>,
    ) -> CallId {
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(call.headers.len() + 1);
        for (n, v) in &call.headers {
            headers.push((n, v));
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
        {
            headers.push(("User-Agent", "tug"));
        }
        let close = headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close"));
        // No request bytes mark a call that only connects.
        let mut request = Vec::new();
        if !call.method.is_empty() {
            let req = Request {
                method: call.method,
                path: &call.path,
                headers: &headers,
                body: &call.body,
            };
            write_request(&mut request, &ep.host_header(), &req);
        }
        let state = CallState {
            ep: ep.clone(),
            request,
            close,
            no_body: call.method.eq_ignore_ascii_case("HEAD"),
            stream: call.stream,
            max_body: call.max_body,
            timeout_ns: call.timeout_ns,
            timer: None,
            stage: Stage::New,
            addrs: Vec::new(),
            next: 0,
            last_error: None,
            retried: false,
            head_sent: false,
        };
        let Some(id) = self.calls.insert(state) else {
            let id = CallId(self.calls.detached_id());
            out.push(Reply::Done(id, Err("too many HTTP calls in flight".into())));
            return id;
        };
        let key = call_key(self.token_base, id);
        let c = self.calls.get_mut(id).expect("just inserted");
        if let Some(ns) = c.timeout_ns {
            c.timer = Some(lp.add_timer(lp.now() + ns, key));
        }
        self.dispatch(lp, id, out);
        CallId(id)
    }

    /// A call that cannot start (say its endpoint does not parse): it
    /// ends at once with `reason`, as any call whose error is known when
    /// it starts.
    pub fn fail(&mut self, reason: &str, out: &mut Vec<Reply>) -> CallId {
        let id = CallId(self.calls.detached_id());
        out.push(Reply::Done(id, Err(reason.into())));
        id
    }

    /// Abandons a call: its connection is closed, no more replies.
    pub fn cancel(&mut self, lp: &mut EventLoop, id: CallId) {
        if let Some(c) = self.calls.remove(id.0) {
            self.drop_call(lp, c);
        }
    }

    pub fn on_ready(&mut self, lp: &mut EventLoop, token: u64, out: &mut Vec<Reply>) {
        if self.resolver.owns(token) {
            let mut res = Vec::new();
            self.resolver.on_ready(lp, token, &mut res);
            self.resolved(lp, res, out);
            return;
        }
        let Some(conn) = self.id_of(token, 0) else {
            return;
        };
        self.pump(lp, conn, out);
    }

    pub fn on_timer(&mut self, lp: &mut EventLoop, key: u64, out: &mut Vec<Reply>) {
        if self.resolver.owns(key) {
            let mut res = Vec::new();
            self.resolver.on_timer(lp, key, &mut res);
            self.resolved(lp, res, out);
        } else if let Some(id) = self.id_of(key, CALLS) {
            let Some(c) = self.calls.get_mut(id) else {
                return;
            };
            // It fired: nothing to cancel.
            c.timer = None;
            let ns = c.timeout_ns.unwrap_or_default();
            let msg = format!("{}: timed out after {}", c.ep, duration::display(ns));
            self.finish(lp, id, Err(msg), out);
        } else if let Some(conn) = self.id_of(key, 0)
            && let Some(k) = self.conns.get_mut(conn)
        {
            k.idle_timer = None;
            if k.state == ConnState::Idle {
                self.close(lp, conn);
            }
        }
    }

    /// The call is still resolving its endpoint's host.
    pub fn resolving(&self, id: CallId) -> bool {
        self.calls
            .iter()
            .any(|(i, c)| i == id.0 && matches!(c.stage, Stage::Resolving(_)))
    }

    /// Calls not yet done.
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.calls.len()
    }

    /// Idle connections in the pool.
    #[cfg(test)]
    fn pooled(&self) -> usize {
        self.conns
            .iter()
            .filter(|(_, c)| c.state == ConnState::Idle)
            .count()
    }

    /// The call (`range` CALLS) or connection (0) a token or key names.
    fn id_of(&self, token: u64, range: u64) -> Option<u64> {
        let off = token.checked_sub(self.token_base + range)?;
        if off > KEY_MASK {
            return None;
        }
        if range == CALLS {
            self.calls.id_of(off, KEY_BITS)
        } else {
            self.conns.id_of(off, KEY_BITS)
        }
    }

    /// Gets a call going: a pooled connection, else resolve and connect.
    fn dispatch(&mut self, lp: &mut EventLoop, id: u64, out: &mut Vec<Reply>) {
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        if !c.retried
            && !c.request.is_empty()
            && let Some(conn) = self
                .conns
                .iter()
                .filter(|(_, k)| k.state == ConnState::Idle && k.ep == c.ep)
                .max_by_key(|(_, k)| k.idle_since)
                .map(|(conn, _)| conn)
        {
            let k = self.conns.get_mut(conn).expect("listed");
            if let Some(t) = k.idle_timer.take() {
                lp.cancel_timer(t);
            }
            k.parser = parser_for(c);
            k.call = Some(id);
            k.state = ConnState::Sending(0);
            k.reused = true;
            k.got_bytes = false;
            c.stage = Stage::Attached(conn);
            self.pump(lp, conn, out);
            return;
        }
        match &c.ep {
            Endpoint::Unix(path) => {
                let path = path.clone();
                let peer = format!("{}", c.ep);
                let fd = CString::new(path)
                    .map_err(|_| Errno(libc::EINVAL))
                    .and_then(|p| net::unix_connect_nonblocking(&p));
                match fd {
                    Ok(fd) => self.attach(lp, id, fd, peer, ConnState::Sending(0), out),
                    Err(e) => {
                        let msg = format!("connect {peer}: {}", errno_text(e));
                        self.finish(lp, id, Err(msg), out);
                    }
                }
            }
            Endpoint::Tcp { host, .. } => {
                let host = host.clone();
                let mut res = Vec::new();
                let q = self.resolver.lookup(lp, &host, &mut res);
                c.stage = Stage::Resolving(q);
                self.resolved(lp, res, out);
            }
        }
    }

    /// Hands finished lookups to their calls.
    fn resolved(&mut self, lp: &mut EventLoop, res: Vec<Resolution>, out: &mut Vec<Reply>) {
        for (q, result) in res {
            let Some(id) = self
                .calls
                .iter()
                .find(|(_, c)| matches!(c.stage, Stage::Resolving(w) if w == q))
                .map(|(id, _)| id)
            else {
                continue;
            };
            let c = self.calls.get_mut(id).expect("listed");
            c.stage = Stage::New;
            match result {
                Ok(ips) => {
                    c.addrs = ips;
                    c.next = 0;
                    self.connect_next(lp, id, out);
                }
                Err(e) => self.finish(lp, id, Err(e), out),
            }
        }
    }

    /// Connects to the next resolved address, or fails the call with the
    /// last address's error.
    fn connect_next(&mut self, lp: &mut EventLoop, id: u64, out: &mut Vec<Reply>) {
        loop {
            let Some(c) = self.calls.get_mut(id) else {
                return;
            };
            let Endpoint::Tcp { host, port } = &c.ep else {
                return;
            };
            let port = *port;
            let Some(&ip) = c.addrs.get(c.next) else {
                let msg = c
                    .last_error
                    .take()
                    .unwrap_or_else(|| format!("connect {}: no address", c.ep));
                self.finish(lp, id, Err(msg), out);
                return;
            };
            c.next += 1;
            let peer = if parse_ip(host).is_some() {
                socket_text(&ip, port)
            } else {
                format!("{} ({})", c.ep, ip_text(&ip))
            };
            match net::connect(ip, port) {
                Ok(fd) => {
                    self.attach(lp, id, fd, peer, ConnState::Connecting, out);
                    return;
                }
                Err(e) => c.last_error = Some(format!("connect {peer}: {}", errno_text(e))),
            }
        }
    }

    /// Makes `fd` the call's new connection and drives it.
    fn attach(
        &mut self,
        lp: &mut EventLoop,
        id: u64,
        fd: Fd,
        peer: String,
        state: ConnState,
        out: &mut Vec<Reply>,
    ) {
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        let conn = Conn {
            fd,
            ep: c.ep.clone(),
            peer,
            call: Some(id),
            state,
            parser: parser_for(c),
            interest: WRITABLE,
            reused: false,
            got_bytes: false,
            idle_timer: None,
            idle_since: 0,
        };
        let Some(conn) = self.conns.insert(conn) else {
            self.finish(lp, id, Err("too many HTTP connections".into()), out);
            return;
        };
        let key = conn_key(self.token_base, conn);
        let k = self.conns.get_mut(conn).expect("just inserted");
        if let Err(e) = lp.register(k.fd.raw(), key, WRITABLE) {
            self.conns.remove(conn);
            let msg = format!("register socket: {}", errno_text(e));
            self.finish(lp, id, Err(msg), out);
            return;
        }
        c.stage = Stage::Attached(conn);
        if state != ConnState::Connecting {
            self.pump(lp, conn, out);
        }
    }

    /// Does what the connection's socket allows, then acts on the outcome.
    fn pump(&mut self, lp: &mut EventLoop, conn: u64, out: &mut Vec<Reply>) {
        let Some(k) = self.conns.get_mut(conn) else {
            return;
        };
        let Some(id) = k.call else {
            // Idle: EOF, an error or bytes nobody asked for all end it.
            self.close(lp, conn);
            return;
        };
        let Some(c) = self.calls.get_mut(id) else {
            self.close(lp, conn);
            return;
        };
        let outcome = k.advance(c, CallId(id), out);
        let interest = match k.state {
            ConnState::Connecting | ConnState::Sending(_) => WRITABLE,
            _ => READABLE,
        };
        let outcome = match outcome {
            Outcome::Pending if k.interest != interest => {
                let key = conn_key(self.token_base, conn);
                match lp.reregister(k.fd.raw(), key, interest) {
                    Ok(()) => {
                        k.interest = interest;
                        Outcome::Pending
                    }
                    Err(e) => Outcome::Failed(format!("{}: {}", k.peer, errno_text(e))),
                }
            }
            o => o,
        };
        match outcome {
            Outcome::Pending => {}
            Outcome::ConnectFailed(msg) => {
                c.last_error = Some(msg);
                self.close(lp, conn);
                self.connect_next(lp, id, out);
            }
            Outcome::Retry => {
                c.retried = true;
                self.close(lp, conn);
                self.dispatch(lp, id, out);
            }
            Outcome::Failed(msg) => self.finish(lp, id, Err(msg), out),
            Outcome::Complete if c.request.is_empty() => {
                let head = ResponseHead {
                    status: 0,
                    reason: String::new(),
                    headers: Vec::new(),
                };
                let body = Vec::new();
                self.finish(lp, id, Ok(Response { head, body }), out);
            }
            Outcome::Complete => match k.parser.head.take() {
                Some(head) => {
                    let body = core::mem::take(&mut k.parser.body);
                    if !c.close && k.parser.reusable() && k.parser.pending() == 0 {
                        k.call = None;
                        self.pool(lp, conn);
                    }
                    self.finish(lp, id, Ok(Response { head, body }), out);
                }
                None => {
                    let msg = format!("{}: no response", k.peer);
                    self.finish(lp, id, Err(msg), out);
                }
            },
        }
    }

    /// Puts a connection whose exchange is over into the pool (or closes
    /// it if its endpoint has enough idle ones).
    fn pool(&mut self, lp: &mut EventLoop, conn: u64) {
        let Some(ep) = self.conns.get_mut(conn).map(|k| k.ep.clone()) else {
            return;
        };
        let idle = self
            .conns
            .iter()
            .filter(|(_, k)| k.state == ConnState::Idle && k.ep == ep)
            .count();
        if idle >= IDLE_PER_ENDPOINT {
            self.close(lp, conn);
            return;
        }
        let key = conn_key(self.token_base, conn);
        let at = lp.now() + self.idle_ns;
        let Some(k) = self.conns.get_mut(conn) else {
            return;
        };
        // Idle wants READABLE (EOF or stray bytes end it). A connection
        // still wants WRITABLE when the answer came in the same pump that
        // sent the request; left so, it would wake the loop at once and be
        // closed as if the server had hung up.
        if k.interest != READABLE {
            if lp.reregister(k.fd.raw(), key, READABLE).is_err() {
                self.close(lp, conn);
                return;
            }
            k.interest = READABLE;
        }
        k.state = ConnState::Idle;
        k.idle_since = lp.now();
        k.idle_timer = Some(lp.add_timer(at, key));
    }

    /// Ends a call with `result` (its connection, if still attached,
    /// closes) and reports it.
    fn finish(
        &mut self,
        lp: &mut EventLoop,
        id: u64,
        result: Result<Response, String>,
        out: &mut Vec<Reply>,
    ) {
        let Some(c) = self.calls.remove(id) else {
            return;
        };
        self.drop_call(lp, c);
        out.push(Reply::Done(CallId(id), result));
    }

    /// Releases what a removed call holds.
    fn drop_call(&mut self, lp: &mut EventLoop, c: CallState) {
        if let Some(t) = c.timer {
            lp.cancel_timer(t);
        }
        match c.stage {
            Stage::New => {}
            Stage::Resolving(q) => self.resolver.cancel(lp, q),
            Stage::Attached(conn) => {
                let busy = self.conns.get_mut(conn).is_some_and(|k| k.call.is_some());
                if busy {
                    self.close(lp, conn);
                }
            }
        }
    }

    fn close(&mut self, lp: &mut EventLoop, conn: u64) {
        if let Some(k) = self.conns.remove(conn) {
            let _ = lp.deregister(k.fd.raw());
            if let Some(t) = k.idle_timer {
                lp.cancel_timer(t);
            }
        }
    }
}

/// A connection's token and idle-timer key.
fn conn_key(base: u64, id: u64) -> u64 {
    base + (id & KEY_MASK)
}

/// A call's deadline-timer key.
fn call_key(base: u64, id: u64) -> u64 {
    base + CALLS + (id & KEY_MASK)
}

fn parser_for(c: &CallState) -> ResponseParser {
    let mut p = ResponseParser::new(c.max_body);
    p.reset(c.no_body);
    p
}

impl Conn {
    /// Moves the exchange along as far as the socket allows.
    fn advance(&mut self, c: &mut CallState, id: CallId, out: &mut Vec<Reply>) -> Outcome {
        loop {
            match self.state {
                ConnState::Connecting => {
                    if let Err(e) = net::take_error(&self.fd) {
                        return Outcome::ConnectFailed(format!(
                            "connect {}: {}",
                            self.peer,
                            errno_text(e)
                        ));
                    }
                    self.state = ConnState::Sending(0);
                }
                // Connected (TCP, or a unix socket at once): all it wanted.
                ConnState::Sending(_) if c.request.is_empty() => return Outcome::Complete,
                ConnState::Sending(done) => match net::send(&self.fd, &c.request[done..]) {
                    Ok(n) if done + n == c.request.len() => self.state = ConnState::Receiving,
                    Ok(n) => self.state = ConnState::Sending(done + n),
                    Err(Errno::EAGAIN) => return Outcome::Pending,
                    Err(Errno::EINTR) => {}
                    Err(e) => return self.broken("send", e, c),
                },
                ConnState::Receiving => return self.receive(c, id, out),
                ConnState::Idle => return Outcome::Pending,
            }
        }
    }

    /// A pooled connection that fails before the response began is retried.
    fn retries(&self, c: &CallState) -> bool {
        self.reused && !self.got_bytes && !c.retried
    }

    fn broken(&self, op: &str, e: Errno, c: &CallState) -> Outcome {
        if self.retries(c) {
            return Outcome::Retry;
        }
        Outcome::Failed(format!("{op} {}: {}", self.peer, errno_text(e)))
    }

    /// One read, fed to the parser; stream bytes go out as `Data`.
    fn receive(&mut self, c: &mut CallState, id: CallId, out: &mut Vec<Reply>) -> Outcome {
        let mut buf = [0u8; READ_CHUNK];
        let n = match self.fd.read(&mut buf) {
            Ok(n) => n,
            Err(Errno::EAGAIN) => return Outcome::Pending,
            Err(e) => return self.broken("read", e, c),
        };
        if n == 0 {
            if self.retries(c) {
                return Outcome::Retry;
            }
            return match self.parser.eof() {
                Ok(()) => {
                    self.deliver(c, id, out);
                    Outcome::Complete
                }
                Err(e) => Outcome::Failed(format!("{}: {e}", self.peer)),
            };
        }
        self.got_bytes = true;
        // A stream is drained after every piece, so it holds at most
        // max_body undelivered bytes.
        let piece = if c.stream { c.max_body.max(1) } else { n };
        for part in buf[..n].chunks(piece) {
            let done = match self.parser.feed(part) {
                Ok(done) => done,
                Err(e) => return Outcome::Failed(format!("{}: {e}", self.peer)),
            };
            self.deliver(c, id, out);
            if done {
                return Outcome::Complete;
            }
        }
        Outcome::Pending
    }

    /// For a stream: the head once, then whatever body bytes are decoded.
    fn deliver(&mut self, c: &mut CallState, id: CallId, out: &mut Vec<Reply>) {
        if !c.stream {
            return;
        }
        if let Some(head) = &self.parser.head {
            if !c.head_sent {
                c.head_sent = true;
                out.push(Reply::Head(id, head.clone()));
            }
            if !self.parser.body.is_empty() {
                out.push(Reply::Data(id, core::mem::take(&mut self.parser.body)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::Event;
    use crate::net::dns::parse_resolv_conf;
    use crate::sys::signal::SigSet;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::net::UnixListener;
    use std::string::ToString;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};
    use std::vec;

    const BASE: u64 = 7 << 40;
    const TICK: u64 = 1;
    const GIVE_UP: u64 = 2;
    /// Closed on 127.0.0.1 (below the ephemeral range tests bind in).
    const DNS_PORT: u16 = 9;

    /// Reads one request head (and its Content-Length body); None at EOF.
    fn read_request(r: &mut impl BufRead) -> Option<String> {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(String::from)
            })
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut body = vec![0; len];
        r.read_exact(&mut body).ok()?;
        Some(head)
    }

    /// What a test server does with one request: (connection number from
    /// 1, request head, the socket). False closes the connection.
    type Handler = dyn Fn(usize, &str, &mut TcpStream) -> bool + Send + Sync;

    struct TestServer {
        port: u16,
        accepted: Arc<AtomicUsize>,
        heads: Arc<Mutex<Vec<String>>>,
    }

    /// A server on 127.0.0.1, a thread per connection.
    fn serve(handler: Box<Handler>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (n, h) = (accepted.clone(), heads.clone());
        let handler: Arc<Handler> = handler.into();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                let conn = n.fetch_add(1, Ordering::SeqCst) + 1;
                let (h, handler) = (h.clone(), handler.clone());
                thread::spawn(move || {
                    let mut r = BufReader::new(s.try_clone().unwrap());
                    while let Some(head) = read_request(&mut r) {
                        h.lock().unwrap().push(head.clone());
                        if !handler(conn, &head, &mut s) {
                            break;
                        }
                    }
                });
            }
        });
        TestServer {
            port,
            accepted,
            heads,
        }
    }

    fn answer(body: &str) -> Box<Handler> {
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        Box::new(move |_, _, s| s.write_all(resp.as_bytes()).is_ok())
    }

    fn get(path: &str) -> Call {
        Call {
            method: "GET",
            path: path.into(),
            headers: vec![],
            body: vec![],
            timeout_ns: Some(5_000_000_000),
            stream: false,
            max_body: 1 << 20,
        }
    }

    fn tcp(port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port,
        }
    }

    struct Fixture {
        lp: EventLoop,
        client: Client,
        ticks: usize,
        ticking: Option<TimerId>,
    }

    impl Fixture {
        /// Names from a hosts text; DNS goes to a port nobody serves.
        fn new() -> Fixture {
            let hosts = "127.0.0.2 multi\n127.0.0.1 multi\n127.0.0.3 refused\n";
            let mut conf = parse_resolv_conf("");
            conf.nameservers = vec![(Ip::V4([127, 0, 0, 1]), DNS_PORT)];
            let config = Config::Fixed {
                conf,
                hosts: hosts.into(),
            };
            Fixture {
                lp: EventLoop::new(&SigSet::empty()).unwrap(),
                client: Client::with_resolver(BASE, config),
                ticks: 0,
                ticking: None,
            }
        }

        fn start(&mut self, ep: &Endpoint, call: Call, out: &mut Vec<Reply>) -> CallId {
            self.client.start(&mut self.lp, ep, call, out)
        }

        /// Another timer in the same loop, every 10 ms.
        fn tick(&mut self) {
            self.ticking = Some(self.lp.add_timer(self.lp.now() + 10_000_000, TICK));
        }

        /// Turns the loop, collecting replies, until `done` says so.
        fn drive(&mut self, out: &mut Vec<Reply>, mut done: impl FnMut(&Client, &[Reply]) -> bool) {
            let lp = &mut self.lp;
            let guard = lp.add_timer(lp.now() + 10_000_000_000, GIVE_UP);
            while !done(&self.client, out) {
                let mut evs = Vec::new();
                lp.turn(&mut evs).unwrap();
                for e in evs {
                    match e {
                        Event::Timer(GIVE_UP) => panic!("gave up; replies so far: {out:?}"),
                        Event::Timer(TICK) => {
                            self.ticks += 1;
                            self.ticking = Some(lp.add_timer(lp.now() + 10_000_000, TICK));
                        }
                        Event::Timer(k) if self.client.owns(k) => self.client.on_timer(lp, k, out),
                        Event::Io(r) if self.client.owns(r.token) => {
                            self.client.on_ready(lp, r.token, out)
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
            lp.cancel_timer(guard);
            if let Some(t) = self.ticking.take() {
                lp.cancel_timer(t);
            }
        }

        /// Runs one call to its end.
        fn call(&mut self, ep: &Endpoint, call: Call) -> Result<Response, String> {
            let mut out = Vec::new();
            let id = self.start(ep, call, &mut out);
            self.drive(&mut out, |_, o| {
                o.iter().any(|r| matches!(r, Reply::Done(..)))
            });
            assert_eq!(out.len(), 1, "{out:?}");
            match out.pop() {
                Some(Reply::Done(got, res)) if got == id => res,
                other => panic!("{other:?}"),
            }
        }

        fn body(&mut self, ep: &Endpoint, call: Call) -> String {
            let r = self.call(ep, call).unwrap();
            assert_eq!(r.head.status, 200);
            String::from_utf8(r.body).unwrap()
        }
    }

    #[test]
    fn content_length_over_one_kept_alive_connection() {
        let srv = serve(answer("hello"));
        let mut f = Fixture::new();
        let ep = tcp(srv.port);
        assert_eq!(f.body(&ep, get("/a")), "hello");
        assert_eq!(f.client.pooled(), 1);
        let mut call = get("/b?x=1");
        call.headers = vec![("X-Consul-Token".into(), "t".into())];
        assert_eq!(f.body(&ep, call), "hello");
        assert_eq!(srv.accepted.load(Ordering::SeqCst), 1);
        let heads = srv.heads.lock().unwrap().clone();
        assert_eq!(
            heads[0],
            format!(
                "GET /a HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUser-Agent: tug\r\nConnection: keep-alive\r\n\r\n",
                srv.port
            )
        );
        assert!(
            heads[1].starts_with("GET /b?x=1 HTTP/1.1\r\n"),
            "{}",
            heads[1]
        );
        assert!(heads[1].contains("X-Consul-Token: t\r\n"));
        assert_eq!(f.client.in_flight(), 0);
        // Only the idle connection's timer is left.
        assert_eq!(f.lp.pending_timers(), 1);
    }

    #[test]
    fn connection_close_is_never_pooled() {
        // The server keeps the connection open whatever the request says:
        // the client still must not reuse it.
        let srv = serve(answer("hello"));
        let mut f = Fixture::new();
        let ep = tcp(srv.port);
        let mut call = get("/h");
        call.headers = vec![("Connection".into(), "close".into())];
        assert_eq!(f.body(&ep, call), "hello");
        assert_eq!(f.client.pooled(), 0);
        assert_eq!(f.lp.pending_timers(), 0);
        assert_eq!(
            srv.heads.lock().unwrap()[0],
            format!(
                "GET /h HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nUser-Agent: tug\r\n\r\n",
                srv.port
            )
        );
        assert_eq!(f.body(&ep, get("/h")), "hello");
        assert_eq!(srv.accepted.load(Ordering::SeqCst), 2, "a fresh connection");
    }

    #[test]
    fn a_call_without_a_method_only_connects() {
        let srv = serve(answer("hello"));
        let mut f = Fixture::new();
        // The pool holds a connection to the endpoint: not taken.
        assert_eq!(f.body(&tcp(srv.port), get("/")), "hello");
        assert_eq!(f.client.pooled(), 1);
        let mut call = get("");
        call.method = "";
        let r = f.call(&tcp(srv.port), call).unwrap();
        assert_eq!((r.head.status, r.body.len()), (0, 0));
        // (The server may not have accepted it yet: the kernel did.)
        assert_eq!(
            f.client.pooled(),
            1,
            "the idle one untouched, the new one closed"
        );
        assert_eq!(srv.heads.lock().unwrap().len(), 1, "nothing sent");
        // Each address in turn: "multi" is 127.0.0.2 (nothing there), then .1.
        let mut call = get("");
        call.method = "";
        let ep = Endpoint::Tcp {
            host: "multi".into(),
            port: srv.port,
        };
        assert!(f.call(&ep, call).is_ok());
    }

    #[test]
    fn the_pool_keeps_four_per_endpoint() {
        let srv = serve(answer("x"));
        let mut f = Fixture::new();
        let ep = tcp(srv.port);
        let mut out = Vec::new();
        for _ in 0..6 {
            f.start(&ep, get("/"), &mut out);
        }
        f.drive(&mut out, |_, o| {
            o.iter()
                .filter(|r| matches!(r, Reply::Done(_, Ok(_))))
                .count()
                == 6
        });
        assert_eq!(srv.accepted.load(Ordering::SeqCst), 6);
        assert_eq!(f.client.pooled(), 4);
        // Another endpoint (same server, other name) has a pool of its own.
        let other = Endpoint::parse(&format!("localhost:{}", srv.port), 80).unwrap();
        assert_eq!(f.body(&other, get("/")), "x");
        assert_eq!(f.body(&ep, get("/")), "x");
        assert_eq!(srv.accepted.load(Ordering::SeqCst), 7);
        assert_eq!(f.client.pooled(), 5);
    }

    #[test]
    fn an_answer_read_in_the_pump_that_sent_the_request_is_pooled() {
        // The server answers before it reads the request, so the client's
        // one pump sends the request and reads the whole answer: the
        // connection goes idle still wanting WRITABLE unless pool() fixes
        // it, and the next turn would close it as a hang-up.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
                .unwrap();
            let _ = done_rx.recv();
        });
        let mut f = Fixture::new();
        assert_eq!(f.call(&tcp(port), get("/")).unwrap().body, b"x");
        assert_eq!(f.client.pooled(), 1);
        // A few more turns of the loop: the idle connection must stay.
        f.tick();
        let mut out = Vec::new();
        let mut turns = 0;
        f.drive(&mut out, |_, _| {
            turns += 1;
            turns > 4
        });
        assert_eq!(f.client.pooled(), 1, "the idle connection was closed");
        drop(done_tx);
    }

    #[test]
    fn chunked_bodies_and_put() {
        let srv = serve(Box::new(|_, head, s| {
            let echo = head.lines().next().unwrap().to_string();
            let resp = format!(
                "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n{:x}\r\n{echo}\r\n0\r\n\r\n",
                echo.len()
            );
            s.write_all(resp.as_bytes()).is_ok()
        }));
        let mut f = Fixture::new();
        let mut put = get("/v1/kv/x");
        put.method = "PUT";
        put.body = b"value".to_vec();
        let r = f.call(&tcp(srv.port), put).unwrap();
        assert_eq!(r.head.status, 201);
        assert_eq!(r.body, b"abcPUT /v1/kv/x HTTP/1.1");
        assert!(srv.heads.lock().unwrap()[0].contains("Content-Length: 5\r\n"));
        assert_eq!(f.client.pooled(), 1);
    }

    #[test]
    fn a_stream_is_delivered_as_it_arrives() {
        let (ack_tx, ack_rx) = mpsc::channel::<()>();
        let ack_rx = Mutex::new(ack_rx);
        let srv = serve(Box::new(move |_, _, s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for i in 0..5 {
                let line = format!("event {i}\n");
                let _ = s.write_all(format!("{:x}\r\n{line}\r\n", line.len()).as_bytes());
                // The next one only once the client has this one.
                ack_rx.lock().unwrap().recv().unwrap();
            }
            let _ = s.write_all(b"0\r\n\r\n");
            true
        }));
        let mut f = Fixture::new();
        let mut call = get("/v1/watch");
        call.stream = true;
        call.timeout_ns = None;
        let mut out = Vec::new();
        let id = f.start(&tcp(srv.port), call, &mut out);
        let mut got = String::new();
        let mut seen = 0;
        f.drive(&mut out, |_, o| {
            for r in &o[seen..] {
                if let Reply::Data(_, d) = r {
                    got.push_str(std::str::from_utf8(d).unwrap());
                    if got.ends_with('\n') {
                        ack_tx.send(()).unwrap();
                    }
                }
            }
            seen = o.len();
            o.iter().any(|r| matches!(r, Reply::Done(..)))
        });
        assert!(
            matches!(&out[0], Reply::Head(i, h) if *i == id && h.status == 200),
            "{out:?}"
        );
        assert_eq!(
            got,
            (0..5).map(|i| format!("event {i}\n")).collect::<String>()
        );
        match out.last() {
            Some(Reply::Done(i, Ok(r))) => assert!(*i == id && r.body.is_empty()),
            other => panic!("{other:?}"),
        }
        assert!(out.iter().filter(|r| matches!(r, Reply::Data(..))).count() >= 5);
    }

    #[test]
    fn huge_and_endless_bodies_stop_at_max_body() {
        let srv = serve(Box::new(|_, head, s| {
            let endless = head.starts_with("GET /endless");
            let start: &[u8] = if endless {
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n"
            };
            let _ = s.write_all(start);
            let chunk = format!("1000\r\n{}\r\n", "x".repeat(4096));
            while s.write_all(chunk.as_bytes()).is_ok() {}
            false
        }));
        let mut f = Fixture::new();
        let ep = tcp(srv.port);
        for path in ["/huge", "/endless"] {
            let mut call = get(path);
            call.max_body = 64 << 10;
            let err = f.call(&ep, call).unwrap_err();
            assert_eq!(
                err,
                format!("127.0.0.1:{}: body exceeds 65536 bytes", srv.port)
            );
        }
        // A stream drains: the same cap holds back nothing.
        let mut call = get("/endless");
        call.stream = true;
        call.max_body = 1000;
        let mut out = Vec::new();
        let id = f.start(&ep, call, &mut out);
        let mut total = 0;
        f.drive(&mut out, |_, o| {
            for r in o {
                if let Reply::Data(_, d) = r {
                    assert!(d.len() <= 1000);
                    total += d.len();
                }
            }
            total > 1 << 20
        });
        f.client.cancel(&mut f.lp, id);
        assert_eq!((f.client.in_flight(), f.client.pooled()), (0, 0));
        assert_eq!(f.lp.pending_timers(), 0);
    }

    #[test]
    fn a_stalled_server_meets_the_deadline_while_the_loop_runs_on() {
        let srv = serve(Box::new(|_, _, _| true));
        let mut f = Fixture::new();
        let mut call = get("/slow");
        call.timeout_ns = Some(300_000_000);
        f.tick();
        let start = Instant::now();
        let err = f.call(&tcp(srv.port), call).unwrap_err();
        assert_eq!(
            err,
            format!("127.0.0.1:{}: timed out after 300ms", srv.port)
        );
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(f.ticks >= 10, "only {} ticks", f.ticks);
        assert_eq!((f.client.in_flight(), f.client.pooled()), (0, 0));
        assert_eq!(f.lp.pending_timers(), 0);
    }

    fn closed_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn multi_byte_text_is_an_error_not_a_panic() {
        // Found by the netaddr fuzz target: slicing at a byte offset.
        assert!(Endpoint::parse("0:(:2:\u{47b}", 80).is_err());
        assert!(Endpoint::parse("htt\u{e9}://x", 80).is_err());
        // Also found by it: the host "unix" shown as "unix:8500".
        let unix_host = Endpoint::parse("unix", 8500).unwrap();
        assert_eq!(Endpoint::parse(&unix_host.to_string(), 1), Ok(unix_host));
        assert!(Endpoint::parse("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}", 80).is_err());
    }

    #[test]
    fn connection_errors_are_one_line() {
        let mut f = Fixture::new();
        let port = closed_port();
        assert_eq!(
            f.call(&tcp(port), get("/")).unwrap_err(),
            format!("connect 127.0.0.1:{port}: connection refused")
        );
        let named = Endpoint::parse(&format!("refused:{port}"), 80).unwrap();
        assert_eq!(
            f.call(&named, get("/")).unwrap_err(),
            format!("connect refused:{port} (127.0.0.3): connection refused")
        );
        let unknown = Endpoint::parse("nowhere.invalid.:80", 80).unwrap();
        assert_eq!(
            f.call(&unknown, get("/")).unwrap_err(),
            "lookup \"nowhere.invalid.\": DNS server 127.0.0.1:9: connection refused"
        );
        // Known at once: pushed by start itself.
        let mut out = Vec::new();
        let ep = Endpoint::Unix("/nonexistent/tug.sock".into());
        let id = f.start(&ep, get("/"), &mut out);
        match &out[..] {
            [Reply::Done(i, Err(e))] => {
                assert_eq!(*i, id);
                assert_eq!(
                    e,
                    "connect unix:///nonexistent/tug.sock: no such file or directory"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!((f.client.in_flight(), f.lp.pending_timers()), (0, 0));
    }

    #[test]
    fn the_next_address_is_tried_when_one_refuses() {
        // multi is 127.0.0.2 (nobody listens there) then 127.0.0.1.
        let srv = serve(answer("second"));
        let mut f = Fixture::new();
        let ep = Endpoint::parse(&format!("http://multi:{}/", srv.port), 80).unwrap();
        assert_eq!(f.body(&ep, get("/")), "second");
        assert_eq!(
            srv.heads.lock().unwrap()[0].lines().nth(1),
            Some(&*format!("Host: multi:{}", srv.port))
        );
    }

    #[test]
    fn unix_socket_server() {
        let dir = std::env::temp_dir().join(format!("tug-client-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("docker.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        thread::spawn(move || {
            for s in listener.incoming() {
                let mut s = s.unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                while let Some(head) = read_request(&mut r) {
                    let host = head.lines().nth(1).unwrap_or_default().to_string();
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{host}",
                        host.len()
                    );
                    s.write_all(resp.as_bytes()).unwrap();
                }
            }
        });
        let mut f = Fixture::new();
        let ep = Endpoint::parse(&format!("unix://{}", path.display()), 0).unwrap();
        assert_eq!(f.body(&ep, get("/_ping")), "Host: localhost");
        assert_eq!(f.body(&ep, get("/_ping")), "Host: localhost");
        assert_eq!(f.client.pooled(), 1);
        // A call that only connects ends at once on a unix socket.
        let mut call = get("");
        call.method = "";
        assert_eq!(f.call(&ep, call).unwrap().head.status, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_pooled_connection_the_server_closed_is_dropped() {
        let srv = serve(Box::new(|_, _, s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            false
        }));
        let mut f = Fixture::new();
        let ep = tcp(srv.port);
        assert_eq!(f.body(&ep, get("/")), "ok");
        assert_eq!(f.client.pooled(), 1);
        // The loop notices the EOF and closes it.
        f.drive(&mut Vec::new(), |c, _| c.pooled() == 0);
        assert_eq!(f.lp.pending_timers(), 0);
        assert_eq!(f.body(&ep, get("/")), "ok");
        assert_eq!(srv.accepted.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_dead_pooled_connection_is_retried_once_on_a_fresh_one() {
        let (closed_tx, closed_rx) = mpsc::channel::<()>();
        let closed_tx = Mutex::new(closed_tx);
        let srv = serve(Box::new(move |conn, _, s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            if conn == 1 {
                let _ = s.shutdown(std::net::Shutdown::Both);
                closed_tx.lock().unwrap().send(()).unwrap();
                return false;
            }
            true
        }));
        let mut f = Fixture::new();
        let ep = tcp(srv.port);
        assert_eq!(f.body(&ep, get("/one")), "ok");
        // The server has closed; the loop has not seen it yet.
        closed_rx.recv().unwrap();
        assert_eq!(f.client.pooled(), 1);
        assert_eq!(f.body(&ep, get("/two")), "ok");
        assert_eq!(srv.accepted.load(Ordering::SeqCst), 2);
        assert_eq!(f.client.pooled(), 1);
    }

    #[test]
    fn idle_connections_time_out() {
        let srv = serve(answer("x"));
        let mut f = Fixture::new();
        f.client.idle_ns = 50_000_000;
        assert_eq!(f.body(&tcp(srv.port), get("/")), "x");
        assert_eq!((f.client.pooled(), f.lp.pending_timers()), (1, 1));
        f.drive(&mut Vec::new(), |c, _| c.pooled() == 0);
        assert_eq!(f.lp.pending_timers(), 0);
    }

    #[test]
    fn head_close_and_garbage() {
        let srv = serve(Box::new(|_, head, s| {
            let resp: &[u8] = if head.starts_with("HEAD") {
                b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
            } else if head.starts_with("GET /close") {
                b"HTTP/1.1 503 Unavailable\r\nConnection: close\r\nContent-Length: 4\r\n\r\ndown"
            } else {
                b"SSH-2.0-OpenSSH_9.6\r\n\r\n"
            };
            let _ = s.write_all(resp);
            head.starts_with("HEAD")
        }));
        let mut f = Fixture::new();
        let ep = tcp(srv.port);
        let mut head = get("/_ping");
        head.method = "HEAD";
        let r = f.call(&ep, head).unwrap();
        assert_eq!(
            (r.head.header("content-length"), r.body.len()),
            (Some("1234"), 0)
        );
        assert_eq!(f.client.pooled(), 1);
        let r = f.call(&ep, get("/close")).unwrap();
        assert_eq!((r.head.status, &r.body[..]), (503, &b"down"[..]));
        assert_eq!(f.client.pooled(), 0);
        assert_eq!(
            f.call(&ep, get("/junk")).unwrap_err(),
            format!(
                "127.0.0.1:{}: malformed status line: \"SSH-2.0-OpenSSH_9.6\"",
                srv.port
            )
        );
    }

    #[test]
    fn cancel_closes_and_forgets() {
        let srv = serve(Box::new(|_, _, _| true));
        let mut f = Fixture::new();
        let mut out = Vec::new();
        let id = f.start(&tcp(srv.port), get("/"), &mut out);
        assert_eq!(f.client.in_flight(), 1);
        f.client.cancel(&mut f.lp, id);
        f.client.cancel(&mut f.lp, id);
        assert_eq!((f.client.in_flight(), f.lp.pending_timers()), (0, 0));
        assert!(out.is_empty());
    }

    #[test]
    fn endpoints() {
        let tcp = |h: &str, port| {
            Ok(Endpoint::Tcp {
                host: h.into(),
                port,
            })
        };
        for (input, want) in [
            ("127.0.0.1:8500", tcp("127.0.0.1", 8500)),
            ("consul:8500", tcp("consul", 8500)),
            ("consul", tcp("consul", 80)),
            (
                " http://consul.service.consul:8500/ ",
                tcp("consul.service.consul", 8500),
            ),
            ("HTTP://Consul", tcp("Consul", 80)),
            ("tcp://10.0.0.1:2375", tcp("10.0.0.1", 2375)),
            ("[::1]:8500", tcp("::1", 8500)),
            ("http://[::1]:8500", tcp("::1", 8500)),
            ("[fd00::1]", tcp("fd00::1", 80)),
            ("::1", tcp("::1", 80)),
            ("my_host-1:1", tcp("my_host-1", 1)),
            (
                "unix:///var/run/docker.sock",
                Ok(Endpoint::Unix("/var/run/docker.sock".into())),
            ),
            ("unix:/tmp/x.sock", Ok(Endpoint::Unix("/tmp/x.sock".into()))),
        ] {
            assert_eq!(Endpoint::parse(input, 80), want, "{input}");
        }
        for (input, why) in [
            (
                "https://consul:8501",
                "https is not supported (tug has no TLS); use http://",
            ),
            (
                "HTTPS://x",
                "https is not supported (tug has no TLS); use http://",
            ),
            ("", "empty host"),
            ("http://", "empty host"),
            (":8500", "empty host"),
            ("[]:80", "not an IPv6 address in brackets"),
            ("[::1", "missing ']'"),
            ("[::1]8500", "junk after ']'"),
            ("[10.0.0.1]:80", "not an IPv6 address in brackets"),
            ("consul:", "port must be 1-65535"),
            ("consul:0", "port must be 1-65535"),
            ("consul:65536", "port must be 1-65535"),
            ("consul:+80", "port must be 1-65535"),
            ("consul:http", "port must be 1-65535"),
            (
                "a:b:80",
                "too many colons; an IPv6 address goes in brackets: [::1]:8500",
            ),
            ("http://consul:8500/v1", "a path is not allowed here"),
            ("consul:8500?x", "a path is not allowed here"),
            ("user:pw@consul:8500", "user info is not supported"),
            ("ftp://x", "unsupported scheme"),
            ("bad host:1", "invalid character in host"),
            ("unix://", "empty socket path"),
            ("unix:", "empty socket path"),
            ("unix:/a\0b", "NUL in socket path"),
        ] {
            let e = Endpoint::parse(input, 80).unwrap_err();
            assert_eq!(e, format!("bad address {input:?}: {why}"));
            assert_eq!(Endpoint::parse_why(input, 80), Err(why));
        }
        assert_eq!(
            Endpoint::parse("consul", 0).unwrap_err(),
            "bad address \"consul\": no port"
        );
        let v6 = Endpoint::parse("[::1]:8500", 0).unwrap();
        assert_eq!(
            (v6.host_header(), v6.to_string()),
            ("[::1]:8500".into(), "[::1]:8500".into())
        );
        let u = Endpoint::parse("unix:///run/x.sock", 0).unwrap();
        assert_eq!(
            (u.host_header(), u.to_string()),
            ("localhost".into(), "unix:///run/x.sock".into())
        );
        assert_eq!(Endpoint::parse(&u.to_string(), 0), Ok(u));
    }
}
