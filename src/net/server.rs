//! A non-blocking HTTP/1.1 server driven by the one loop: the control
//! socket (AF_UNIX) and the telemetry endpoint (TCP) both sit on it.
//!
//! Two phases, so whoever answers (the engine, lending itself as
//! `control::Ops`) is not borrowed while the server is: `on_ready` collects
//! complete requests as `Pending { conn, req }`, and `respond(conn, ..)`
//! later queues each answer. Answers may come in the same turn or any
//! later one; an answer for a connection that closed meanwhile (a stale
//! token) is dropped.
//!
//! Decisions:
//! - Tokens: a server owns `token_base..token_base + 2^24`. Offset 0 is the
//!   listener; a connection is `gen << 8 | slot` (slot < 256, generation
//!   1..=0xffff, wrapping past 0 so no connection token is the listener's).
//!   A slot's generation changes each time it is freed, so a stale event,
//!   timer or answer for a closed connection never reaches the next one in
//!   that slot. Timer keys use the same numbers: a connection's deadline is
//!   keyed by its token, and `token_base` itself keys "resume accepting".
//! - At most `max_conns` connections (<= 256). Beyond that a new client is
//!   accepted and closed at once: the backlog keeps draining (a level-
//!   triggered listener that is not read would spin the loop) and the
//!   client sees EOF at once instead of hanging in the queue. If accept
//!   itself fails (EMFILE...), the listener is muted for 100 ms.
//! - One deadline per connection (`deadline_ns`, 10 s by default), armed
//!   at accept and re-armed whenever a request completes or response bytes
//!   move. So a request must arrive whole within it (a byte-at-a-time
//!   client gets no extension), an idle keep-alive connection is closed
//!   after it, and a reader that stops reading is closed after it. No
//!   response is sent; the connection just closes. The timer is cancelled
//!   when the connection closes.
//! - One request per connection is out at a time: while its answer is
//!   awaited the connection is not read (interest none), so requests are
//!   answered in order and a pipelining client waits in its own socket
//!   buffer. Only a hang-up or error can wake a connection with no
//!   interest: that closes it. After an answer, a request already buffered
//!   is parsed and handed out at the next readiness event (the connection
//!   asks for WRITABLE, which a socket with room reports at once).
//! - Reads happen only when no response bytes are pending; the next request
//!   is taken while under 64 KiB of output is pending. Pending output
//!   switches interest to WRITABLE (and only that), so a client that
//!   pipelines without reading cannot grow tug's memory beyond one read
//!   chunk, one head (8 KiB) or body (`max_body`) and one response.
//! - Each readiness event does at most one 16 KiB read and up to 32
//!   accepts: a busy client cannot starve the others or the loop.
//! - Parse errors are answered with their status (text/plain message) and
//!   the connection closes. Closing after a response (an error, or
//!   `Connection: close`) is a lingering close: shut down our side, then
//!   drain the client's bytes until EOF (at most 1 s), so unread input does
//!   not turn into an RST that destroys the response before it is read. A
//!   client that half-closes after its requests still gets every answer.
//! - `Expect: 100-continue` gets its interim response. HEAD responses
//!   carry the GET headers without the body.
//! - A streamed answer (`respond_stream`: a log follower) has no length:
//!   `Connection: close`, its bytes come with `stream` whenever the caller
//!   has some, and it ends when the caller ends it or the client closes.
//!   The client's input is read and dropped (a hang-up ends it). The
//!   deadline runs only while streamed bytes wait to be sent: an idle
//!   stream stays open, a client that stops reading is closed. `stream`
//!   refuses bytes beyond the caller's bound (`Stream::Full`) rather than
//!   buffer without limit.

use crate::event_loop::{EventLoop, READABLE, TimerId, WRITABLE};
use crate::net::http::{ParsedRequest, RequestParser, write_response};
use crate::sys::fd::Fd;
use crate::sys::{Errno, Result, listen, net};
use alloc::vec::Vec;
use core::ops::Deref;

/// Tokens (and timer keys) a server owns, from its `token_base`.
pub const TOKEN_SPAN: u64 = 1 << 24;
/// The most connections one server can hold (the slot is 8 bits).
pub const MAX_CONNS: usize = 256;

/// The next request is taken while less than this much output is pending.
const HIGH_WATER: usize = 64 << 10;
const READ_CHUNK: usize = 16 << 10;
const ACCEPT_BATCH: usize = 32;
const LINGER_NS: u64 = 1_000_000_000;
const ACCEPT_RETRY_NS: u64 = 100_000_000;
/// No readiness at all: a connection whose request awaits its answer.
const MUTED: u32 = 0;

/// What became of bytes handed to `Server::stream`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Queued,
    /// They would exceed the bound: nothing was queued.
    Full,
    /// The connection is closed, or it is no stream.
    Gone,
}

/// The process at the other end of an AF_UNIX connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// A complete request and who sent it (AF_UNIX only).
#[derive(Debug)]
pub struct Request {
    pub http: ParsedRequest,
    pub peer: Option<Peer>,
}

impl Deref for Request {
    type Target = ParsedRequest;
    fn deref(&self) -> &ParsedRequest {
        &self.http
    }
}

/// A request awaiting its answer, and the connection (token) it came on.
#[derive(Debug)]
pub struct Pending {
    pub conn: u64,
    pub req: Request,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub status: u16,
    /// Empty: no Content-Type header.
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// More header lines, e.g. `Allow` on a 405.
    pub headers: &'static [(&'static str, &'static str)],
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

impl Response {
    /// A text answer; a newline is added if `msg` lacks one.
    pub fn text(status: u16, msg: &str) -> Response {
        let mut body = Vec::from(msg.as_bytes());
        if !body.ends_with(b"\n") {
            body.push(b'\n');
        }
        Response {
            status,
            content_type: TEXT,
            body,
            headers: &[],
        }
    }

    pub fn json(status: u16, doc: alloc::string::String) -> Response {
        Response {
            status,
            content_type: JSON,
            body: doc.into_bytes(),
            headers: &[],
        }
    }

    /// 405 naming the methods the path takes (`allow`: "GET, HEAD").
    pub fn method_not_allowed(allow: &'static [(&'static str, &'static str)]) -> Response {
        Response {
            headers: allow,
            ..Response::text(405, "method not allowed")
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body.
    pub max_body: usize,
    /// Open connections at most (capped at `MAX_CONNS`).
    pub max_conns: usize,
    /// See the module docs.
    pub deadline_ns: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body: 1 << 20,
            max_conns: 64,
            deadline_ns: 10_000_000_000,
        }
    }
}

struct Conn {
    fd: Fd,
    token: u64,
    parser: RequestParser,
    peer: Option<Peer>,
    /// Response bytes; `out[sent..]` are still to be sent.
    out: Vec<u8>,
    sent: usize,
    /// The request handed out and not answered yet: (keep-alive, HEAD).
    awaiting: Option<(bool, bool)>,
    /// A complete request parsed while answering the previous one, handed
    /// out at the next readiness event.
    next: Option<ParsedRequest>,
    /// No more requests: close once `out` is sent.
    closing: bool,
    /// The client closed its side.
    eof: bool,
    /// Our side is shut down; draining the client's input until EOF.
    lingering: bool,
    continue_sent: bool,
    interest: u32,
    timer: Option<TimerId>,
    /// A streamed answer is in progress (module docs).
    streaming: bool,
}

pub struct Server {
    listener: Fd,
    unix: bool,
    conns: Vec<Option<Conn>>,
    /// Each slot's current generation (kept while the slot is empty).
    gens: Vec<u16>,
    open: usize,
    token_base: u64,
    limits: Limits,
    accept_paused: bool,
    /// Times a connection had to wait for WRITABLE.
    stalls: u64,
    /// Clients closed at once because every slot was taken.
    rejected: u64,
}

impl Server {
    /// A server with default limits except `max_body`.
    pub fn new(listener: Fd, token_base: u64, max_body: usize) -> Server {
        let limits = Limits {
            max_body,
            ..Limits::default()
        };
        Server::with_limits(listener, token_base, limits)
    }

    pub fn with_limits(listener: Fd, token_base: u64, mut limits: Limits) -> Server {
        limits.max_conns = limits.max_conns.clamp(1, MAX_CONNS);
        Server {
            unix: listen::is_unix(&listener),
            listener,
            conns: Vec::new(),
            gens: Vec::new(),
            open: 0,
            token_base,
            limits,
            accept_paused: false,
            stalls: 0,
            rejected: 0,
        }
    }

    /// Registers the listener, READABLE, with `token_base`.
    pub fn register(&self, lp: &EventLoop) -> Result<()> {
        lp.register(self.listener.raw(), self.token_base, READABLE)
    }

    /// Whether a token or timer key is this server's.
    pub fn owns(&self, token: u64) -> bool {
        token.wrapping_sub(self.token_base) < TOKEN_SPAN
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.open
    }

    /// Handles readiness for any token in its range: accepts, reads,
    /// writes, and appends each complete request to `out` (at most one per
    /// connection until it is answered with `respond`).
    pub fn on_ready(&mut self, lp: &mut EventLoop, token: u64, out: &mut Vec<Pending>) {
        if token == self.token_base {
            self.accept_some(lp);
            return;
        }
        let Some(slot) = self.slot_of(token) else {
            return;
        };
        let Some(c) = self.conns[slot].as_mut() else {
            return;
        };
        let keep = c.pump(lp, out, self.limits.deadline_ns, &mut self.stalls);
        if !keep {
            self.close(lp, slot);
        }
    }

    /// Queues the answer to the request that came on `conn`. Ignored when
    /// that connection has closed since (or has no request out).
    pub fn respond(&mut self, lp: &mut EventLoop, conn: u64, resp: Response) {
        let Some(slot) = self.slot_of(conn) else {
            return;
        };
        let Some(c) = self.conns[slot].as_mut() else {
            return;
        };
        let Some((keep, head)) = c.awaiting.take() else {
            return;
        };
        c.write_response(&resp, keep, head);
        c.closing |= !keep;
        c.next = c.take_request(&[]);
        let alive =
            c.flush().is_ok() && c.settle(lp, true, self.limits.deadline_ns, &mut self.stalls);
        if !alive {
            self.close(lp, slot);
        }
    }

    /// Answers the request on `conn` with the head of a stream of
    /// `content_type` (200, no length, `Connection: close`); its body
    /// follows with `stream`. False when the connection is gone.
    pub fn respond_stream(&mut self, lp: &mut EventLoop, conn: u64, content_type: &str) -> bool {
        let Some(slot) = self.slot_of(conn) else {
            return false;
        };
        let Some(c) = self.conns[slot].as_mut() else {
            return false;
        };
        if c.awaiting.take().is_none() {
            return false;
        }
        for part in [
            "HTTP/1.1 200 OK\r\nContent-Type: ",
            content_type,
            "\r\nConnection: close\r\n\r\n",
        ] {
            c.out.extend_from_slice(part.as_bytes());
        }
        c.streaming = true;
        c.next = None;
        self.flush_stream(lp, conn)
    }

    /// Queues `parts` on a stream unless its unsent bytes would exceed
    /// `max_pending`; `flush_stream` sends them.
    pub fn stream(&mut self, conn: u64, parts: &[&[u8]], max_pending: usize) -> Stream {
        let Some(c) = self.slot_of(conn).and_then(|s| self.conns[s].as_mut()) else {
            return Stream::Gone;
        };
        if !c.streaming || c.closing {
            return Stream::Gone;
        }
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if c.pending() + len > max_pending {
            return Stream::Full;
        }
        if c.sent > 0 && c.sent >= c.pending() {
            c.out.drain(..c.sent);
            c.sent = 0;
        }
        for p in parts {
            c.out.extend_from_slice(p);
        }
        Stream::Queued
    }

    /// Sends what a stream has queued (as much as the socket takes). False
    /// when the connection is gone or had to be closed.
    pub fn flush_stream(&mut self, lp: &mut EventLoop, conn: u64) -> bool {
        let Some(slot) = self.slot_of(conn) else {
            return false;
        };
        let Some(c) = self.conns[slot].as_mut() else {
            return false;
        };
        let alive = match c.flush() {
            Ok(moved) => c.settle(lp, moved, self.limits.deadline_ns, &mut self.stalls),
            Err(_) => false,
        };
        if !alive {
            self.close(lp, slot);
        }
        alive
    }

    /// Ends a stream: unsent bytes are dropped, `last` is sent instead,
    /// then the connection closes.
    pub fn end_stream(&mut self, lp: &mut EventLoop, conn: u64, last: &[u8]) {
        let Some(c) = self.slot_of(conn).and_then(|s| self.conns[s].as_mut()) else {
            return;
        };
        if !c.streaming {
            return;
        }
        c.out.truncate(c.sent);
        c.out.extend_from_slice(last);
        c.closing = true;
        self.flush_stream(lp, conn);
    }

    /// Handles a timer key in its range: a connection's deadline (closes
    /// it) or the end of an accept pause.
    pub fn on_timer(&mut self, lp: &mut EventLoop, key: u64) {
        if key == self.token_base {
            if self.accept_paused {
                self.accept_paused = false;
                let _ = lp.reregister(self.listener.raw(), self.token_base, READABLE);
            }
            return;
        }
        if let Some(slot) = self.slot_of(key) {
            if let Some(c) = self.conns[slot].as_mut() {
                // It fired: nothing to cancel.
                c.timer = None;
            }
            self.close(lp, slot);
        }
    }

    /// Closes every connection and stops listening (the listener fd stays
    /// open until the server is dropped).
    pub fn shutdown(&mut self, lp: &mut EventLoop) {
        let _ = lp.deregister(self.listener.raw());
        for slot in 0..self.conns.len() {
            self.close(lp, slot);
        }
    }

    /// The slot of a live connection's token.
    fn slot_of(&self, token: u64) -> Option<usize> {
        if !self.owns(token) || token == self.token_base {
            return None;
        }
        let slot = ((token - self.token_base) & 0xff) as usize;
        let c = self.conns.get(slot)?.as_ref()?;
        (c.token == token).then_some(slot)
    }

    fn accept_some(&mut self, lp: &mut EventLoop) {
        for _ in 0..ACCEPT_BATCH {
            match listen::accept(&self.listener) {
                Ok(None) => return,
                Ok(Some(fd)) => self.adopt(lp, fd),
                // The client gave up before we took it.
                Err(Errno(libc::ECONNABORTED)) => {}
                Err(_) => {
                    // Out of descriptors or memory: a level-triggered
                    // listener would spin, so mute it for a while.
                    if lp
                        .reregister(self.listener.raw(), self.token_base, MUTED)
                        .is_ok()
                    {
                        self.accept_paused = true;
                        lp.add_timer(lp.now() + ACCEPT_RETRY_NS, self.token_base);
                    }
                    return;
                }
            }
        }
    }

    fn adopt(&mut self, lp: &mut EventLoop, fd: Fd) {
        if self.open >= self.limits.max_conns {
            self.rejected += 1;
            return;
        }
        let slot = match self.conns.iter().position(Option::is_none) {
            Some(s) => s,
            None => {
                self.conns.push(None);
                self.gens.push(1);
                self.conns.len() - 1
            }
        };
        let token = self.token_base + ((self.gens[slot] as u64) << 8 | slot as u64);
        let peer = if self.unix {
            listen::peer_credentials(&fd)
                .ok()
                .map(|(pid, uid, gid)| Peer { pid, uid, gid })
        } else {
            None
        };
        if lp.register(fd.raw(), token, READABLE).is_err() {
            return;
        }
        let timer = Some(lp.add_timer(lp.now() + self.limits.deadline_ns, token));
        self.conns[slot] = Some(Conn {
            fd,
            token,
            parser: RequestParser::new(self.limits.max_body),
            peer,
            out: Vec::new(),
            sent: 0,
            awaiting: None,
            next: None,
            closing: false,
            eof: false,
            lingering: false,
            continue_sent: false,
            interest: READABLE,
            timer,
            streaming: false,
        });
        self.open += 1;
    }

    fn close(&mut self, lp: &mut EventLoop, slot: usize) {
        let Some(c) = self.conns[slot].take() else {
            return;
        };
        let _ = lp.deregister(c.fd.raw());
        if let Some(t) = c.timer {
            lp.cancel_timer(t);
        }
        let g = &mut self.gens[slot];
        *g = g.checked_add(1).unwrap_or(1);
        self.open -= 1;
        // Dropping c closes the socket.
    }
}

impl Conn {
    fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Does whatever the socket allows now. False: close the connection.
    fn pump(
        &mut self,
        lp: &mut EventLoop,
        out: &mut Vec<Pending>,
        deadline_ns: u64,
        stalls: &mut u64,
    ) -> bool {
        let mut buf = [0u8; READ_CHUNK];
        if self.lingering {
            return match self.fd.read(&mut buf) {
                Ok(0) => false,
                Ok(_) | Err(Errno::EAGAIN) => true,
                Err(_) => false,
            };
        }
        if self.interest == MUTED {
            // Only a hang-up or an error reports on a muted socket: the
            // client is gone, and a level-triggered report would repeat.
            return false;
        }
        if self.streaming {
            // Input is dropped; at its EOF (a half-close) the stream goes
            // on, and the full hang-up reports on the muted socket.
            if self.interest == READABLE {
                match self.fd.read(&mut buf) {
                    Ok(0) => self.eof = true,
                    Ok(_) | Err(Errno::EAGAIN) => {}
                    Err(_) => return false,
                }
            }
            return match self.flush() {
                Ok(moved) => self.settle(lp, moved, deadline_ns, stalls),
                Err(_) => false,
            };
        }
        let mut rearm = false;
        if self.awaiting.is_none() {
            let mut req = self.next.take();
            if req.is_none() {
                let mut input: &[u8] = &[];
                if self.pending() == 0 && !self.eof && !self.closing {
                    match self.fd.read(&mut buf) {
                        Ok(0) => self.eof = true,
                        Ok(n) => input = &buf[..n],
                        Err(Errno::EAGAIN) => {}
                        Err(_) => return false,
                    }
                }
                req = self.take_request(input);
            }
            if let Some(http) = req {
                rearm = true;
                self.continue_sent = false;
                self.awaiting = Some((http.keep_alive, http.method == "HEAD"));
                let req = Request {
                    http,
                    peer: self.peer,
                };
                out.push(Pending {
                    conn: self.token,
                    req,
                });
            }
        }
        match self.flush() {
            Ok(moved) => rearm |= moved,
            Err(_) => return false,
        }
        self.settle(lp, rearm, deadline_ns, stalls)
    }

    /// Parses `input` (and what is buffered) up to the next complete
    /// request, unless the connection is closing or too much output waits.
    /// Sends the interim 100 Continue, answers a parse error (closing),
    /// and marks the connection closing once the client's EOF leaves
    /// nothing more to answer.
    fn take_request(&mut self, input: &[u8]) -> Option<ParsedRequest> {
        if self.closing || self.pending() >= HIGH_WATER {
            return None;
        }
        match self.parser.feed(input) {
            Ok(Some(http)) => return Some(http),
            Ok(None) => {
                if !self.continue_sent && self.parser.expects_continue() {
                    self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    self.continue_sent = true;
                }
                // A partial request at EOF will never complete.
                self.closing = self.eof;
            }
            Err(e) => {
                let resp = Response::text(e.status, &e.msg);
                self.write_response(&resp, false, false);
                self.closing = true;
            }
        }
        None
    }

    /// Timers and interest after any progress. False: close now.
    fn settle(
        &mut self,
        lp: &mut EventLoop,
        rearm: bool,
        deadline_ns: u64,
        stalls: &mut u64,
    ) -> bool {
        let now = lp.now();
        if self.closing && self.pending() == 0 && self.awaiting.is_none() {
            if self.eof || listen::shutdown_write(&self.fd).is_err() {
                return false;
            }
            self.lingering = true;
            self.set_timer(lp, now + deadline_ns.min(LINGER_NS));
            return self.want(lp, READABLE);
        }
        if self.streaming {
            // The deadline runs only while bytes wait (module docs).
            return if self.pending() > 0 {
                if rearm || self.timer.is_none() {
                    self.set_timer(lp, now + deadline_ns);
                }
                self.want(lp, WRITABLE)
            } else {
                if let Some(t) = self.timer.take() {
                    lp.cancel_timer(t);
                }
                self.want(lp, if self.eof { MUTED } else { READABLE })
            };
        }
        if rearm {
            self.set_timer(lp, now + deadline_ns);
        }
        if self.pending() > 0 {
            if self.interest != WRITABLE {
                *stalls += 1;
            }
            self.want(lp, WRITABLE)
        } else if self.next.is_some() {
            self.want(lp, WRITABLE)
        } else if self.awaiting.is_some() {
            self.want(lp, MUTED)
        } else {
            self.want(lp, READABLE)
        }
    }

    fn want(&mut self, lp: &EventLoop, interest: u32) -> bool {
        if self.interest != interest {
            if lp.reregister(self.fd.raw(), self.token, interest).is_err() {
                return false;
            }
            self.interest = interest;
        }
        true
    }

    fn set_timer(&mut self, lp: &mut EventLoop, at: u64) {
        if let Some(old) = self.timer.take() {
            lp.cancel_timer(old);
        }
        self.timer = Some(lp.add_timer(at, self.token));
    }

    fn write_response(&mut self, resp: &Response, keep: bool, head: bool) {
        if self.sent > 0 {
            // Less than HIGH_WATER is pending here: a short move.
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(resp.headers.len() + 1);
        if !resp.content_type.is_empty() {
            headers.push(("Content-Type", resp.content_type));
        }
        headers.extend_from_slice(resp.headers);
        let status = resp.status;
        write_response(
            &mut self.out,
            status,
            reason(status),
            &headers,
            &resp.body,
            keep,
        );
        if head && status >= 200 && status != 204 && status != 304 {
            self.out.truncate(self.out.len() - resp.body.len());
        }
    }

    /// Sends what the socket takes. Ok(true) if any byte moved.
    fn flush(&mut self) -> Result<bool> {
        let mut moved = false;
        while self.sent < self.out.len() {
            match net::send(&self.fd, &self.out[self.sent..]) {
                Ok(n) => {
                    self.sent += n;
                    moved = true;
                }
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
        if self.sent == self.out.len() {
            if self.out.capacity() > HIGH_WATER {
                self.out = Vec::new();
            } else {
                self.out.clear();
            }
            self.sent = 0;
        }
        Ok(moved)
    }
}

/// The reason phrase of the statuses tug answers with (may be empty).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::Event;
    use crate::sys::net::Ip;
    use crate::sys::signal::SigSet;
    use std::ffi::CString;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    use std::thread::{self, JoinHandle};
    use std::time::{Duration, Instant};
    use std::{format, string::String, vec};

    const BASE: u64 = 5 << 56;
    const TICK: u64 = 7;

    fn temp_dir() -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "tug-server-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn cpath(p: &std::path::Path) -> CString {
        CString::new(p.to_str().unwrap()).unwrap()
    }

    fn big_body() -> Vec<u8> {
        (0..1usize << 20).map(|i| (i % 251) as u8).collect()
    }

    fn handler(req: &Request) -> Response {
        let text = |s: String| Response {
            status: 200,
            content_type: "text/plain",
            body: s.into_bytes(),
            headers: &[],
        };
        match req.path.as_str() {
            "/big" => Response {
                status: 200,
                content_type: "application/octet-stream",
                body: big_body(),
                headers: &[("X-Big", "yes")],
            },
            "/peer" => {
                let p = req.peer.unwrap();
                text(format!("{} {} {}", p.pid, p.uid, p.gid))
            }
            "/echo" => Response {
                status: 200,
                body: req.body.clone(),
                ..Response::default()
            },
            p => text(format!("hello {p}")),
        }
    }

    struct Fixture {
        lp: EventLoop,
        server: Server,
        port: u16,
        dir: PathBuf,
    }

    fn unix_fixture(limits: Limits) -> Fixture {
        let dir = temp_dir();
        let fd = listen::unix_listener(&cpath(&dir.join("ctl.sock")), 0o600).unwrap();
        fixture(fd, limits, 0, dir)
    }

    fn tcp_fixture(limits: Limits) -> Fixture {
        let fd = listen::tcp_listener(Ip::V4([127, 0, 0, 1]), 0).unwrap();
        let port = listen::local_port(&fd).unwrap();
        fixture(fd, limits, port, PathBuf::new())
    }

    fn fixture(fd: Fd, limits: Limits, port: u16, dir: PathBuf) -> Fixture {
        let lp = EventLoop::new(&SigSet::empty()).unwrap();
        let server = Server::with_limits(fd, BASE, limits);
        server.register(&lp).unwrap();
        Fixture {
            lp,
            server,
            port,
            dir,
        }
    }

    fn limits(deadline_ms: u64) -> Limits {
        Limits {
            max_body: 100,
            max_conns: 64,
            deadline_ns: deadline_ms * 1_000_000,
        }
    }

    impl Fixture {
        fn sock(&self) -> PathBuf {
            self.dir.join("ctl.sock")
        }

        /// Drives the loop until the client thread is done, answering each
        /// request in the turn it arrives.
        fn run<T>(&mut self, client: JoinHandle<T>) -> T {
            self.drive(client, false)
        }

        /// As `run`, but answers each request one turn later (the engine
        /// may answer whenever it likes).
        fn run_deferred<T>(&mut self, client: JoinHandle<T>) -> T {
            self.drive(client, true)
        }

        /// One turn of the loop (at most 10 ms), requests left unanswered.
        fn step(&mut self, out: &mut Vec<Pending>) {
            let lp = &mut self.lp;
            let tick = lp.add_timer(lp.now() + 10_000_000, TICK);
            let mut evs = Vec::new();
            lp.turn(&mut evs).unwrap();
            for e in evs {
                match e {
                    Event::Timer(TICK) => {}
                    Event::Timer(k) if self.server.owns(k) => self.server.on_timer(lp, k),
                    Event::Io(r) if self.server.owns(r.token) => {
                        self.server.on_ready(lp, r.token, out)
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            lp.cancel_timer(tick);
        }

        fn drive<T>(&mut self, client: JoinHandle<T>, defer: bool) -> T {
            let give_up = Instant::now() + Duration::from_secs(20);
            let lp = &mut self.lp;
            let mut tick = lp.add_timer(lp.now() + 10_000_000, TICK);
            let mut waiting: Vec<Pending> = Vec::new();
            while !client.is_finished() {
                assert!(Instant::now() < give_up, "test timed out");
                let mut evs = Vec::new();
                lp.turn(&mut evs).unwrap();
                let mut due = core::mem::take(&mut waiting);
                for e in evs {
                    match e {
                        Event::Timer(TICK) => tick = lp.add_timer(lp.now() + 10_000_000, TICK),
                        Event::Timer(k) if self.server.owns(k) => self.server.on_timer(lp, k),
                        Event::Io(r) if self.server.owns(r.token) => {
                            let out = if defer { &mut waiting } else { &mut due };
                            self.server.on_ready(lp, r.token, out)
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
                for p in due {
                    let resp = handler(&p.req);
                    self.server.respond(lp, p.conn, resp);
                }
            }
            lp.cancel_timer(tick);
            client.join().unwrap()
        }
    }

    /// Reads one response: (status, head, body); None at EOF.
    fn read_response(r: &mut impl BufRead) -> Option<(u16, String, Vec<u8>)> {
        let mut head = String::new();
        let mut len = 0;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
                len = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let status = head[9..12].parse().unwrap();
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        Some((status, head, body))
    }

    fn get(path: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: tug\r\n\r\n")
    }

    fn at_eof(r: &mut impl Read) -> bool {
        let mut rest = Vec::new();
        matches!(r.read_to_end(&mut rest), Ok(0))
    }

    #[test]
    fn simple_get_and_peer_credentials_over_unix() {
        let mut f = unix_fixture(limits(5000));
        let path = f.sock();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let uid = std::fs::metadata(&f.dir).unwrap().uid();
        let (status, body, peer) = f.run(thread::spawn(move || {
            let mut s = BufReader::new(UnixStream::connect(path).unwrap());
            s.get_mut().write_all(get("/hi").as_bytes()).unwrap();
            let (status, _, body) = read_response(&mut s).unwrap();
            s.get_mut().write_all(get("/peer").as_bytes()).unwrap();
            let (_, _, peer) = read_response(&mut s).unwrap();
            (status, body, String::from_utf8(peer).unwrap())
        }));
        assert_eq!((status, &body[..]), (200, &b"hello /hi"[..]));
        let peer: Vec<u32> = peer.split(' ').map(|x| x.parse().unwrap()).collect();
        assert_eq!(peer[0], std::process::id());
        assert_eq!(peer[1], uid);
    }

    #[test]
    fn fifty_concurrent_clients() {
        let mut f = tcp_fixture(limits(5000));
        let port = f.port;
        let ok = f.run(thread::spawn(move || {
            let barrier = Arc::new(Barrier::new(50));
            let clients: Vec<_> = (0..50)
                .map(|i| {
                    let barrier = barrier.clone();
                    thread::spawn(move || {
                        let mut s =
                            BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
                        barrier.wait();
                        s.get_mut()
                            .write_all(get(&format!("/{i}")).as_bytes())
                            .unwrap();
                        let (status, _, body) = read_response(&mut s).unwrap();
                        status == 200 && body == format!("hello /{i}").as_bytes()
                    })
                })
                .collect();
            clients
                .into_iter()
                .map(|c| c.join().unwrap())
                .filter(|&ok| ok)
                .count()
        }));
        assert_eq!(ok, 50);
        assert_eq!(f.server.rejected, 0);
    }

    #[test]
    fn pipelined_requests_are_answered_in_order() {
        let mut f = tcp_fixture(limits(5000));
        let port = f.port;
        let got = f.run(thread::spawn(move || {
            let mut s = BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
            let reqs = format!(
                "{}{}GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                get("/a"),
                get("/b")
            );
            s.get_mut().write_all(reqs.as_bytes()).unwrap();
            let mut got = Vec::new();
            while let Some((_, head, body)) = read_response(&mut s) {
                got.push((head.contains("Connection: close"), body));
            }
            got
        }));
        let want = [(false, "hello /a"), (false, "hello /b"), (true, "hello /c")];
        assert_eq!(got.len(), 3);
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0, &g.1[..]), (w.0, w.1.as_bytes()));
        }
    }

    #[test]
    fn a_slow_client_does_not_hold_up_others() {
        let mut f = unix_fixture(limits(5000));
        let path = f.sock();
        let (slow_done, fast_done) = f.run(thread::spawn(move || {
            let p = path.clone();
            let slow = thread::spawn(move || {
                let mut s = BufReader::new(UnixStream::connect(p).unwrap());
                for b in get("/slow").bytes() {
                    s.get_mut().write_all(&[b]).unwrap();
                    thread::sleep(Duration::from_millis(5));
                }
                let (_, _, body) = read_response(&mut s).unwrap();
                assert_eq!(body, b"hello /slow");
                Instant::now()
            });
            thread::sleep(Duration::from_millis(30));
            let mut s = BufReader::new(UnixStream::connect(path).unwrap());
            s.get_mut().write_all(get("/fast").as_bytes()).unwrap();
            let (_, _, body) = read_response(&mut s).unwrap();
            assert_eq!(body, b"hello /fast");
            let fast = Instant::now();
            (slow.join().unwrap(), fast)
        }));
        assert!(fast_done < slow_done);
    }

    #[test]
    fn a_malformed_request_gets_400_and_close() {
        let mut f = tcp_fixture(limits(5000));
        let port = f.port;
        let (status, head, closed) = f.run(thread::spawn(move || {
            let mut s = BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
            s.get_mut().write_all(b"GARBAGE\r\n\r\nmore junk").unwrap();
            let (status, head, _) = read_response(&mut s).unwrap();
            (status, head, at_eof(&mut s))
        }));
        assert_eq!(status, 400);
        assert!(head.contains("Connection: close"), "{head}");
        assert!(closed);
    }

    #[test]
    fn bodies_are_bounded() {
        let mut f = tcp_fixture(limits(5000));
        let port = f.port;
        let (small, big, closed) = f.run(thread::spawn(move || {
            let mut s = BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
            let body = "x".repeat(50);
            let req = format!("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{body}");
            s.get_mut().write_all(req.as_bytes()).unwrap();
            let small = read_response(&mut s).unwrap();
            let req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
            s.get_mut().write_all(req.as_bytes()).unwrap();
            let big = read_response(&mut s).unwrap();
            (small, big.0, at_eof(&mut s))
        }));
        assert_eq!((small.0, small.2), (200, "x".repeat(50).into_bytes()));
        assert_eq!(big, 413);
        assert!(closed);
    }

    #[test]
    fn a_silent_client_is_closed_at_the_deadline() {
        let mut f = tcp_fixture(limits(200));
        let port = f.port;
        let (closed, took) = f.run(thread::spawn(move || {
            let start = Instant::now();
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            (at_eof(&mut s), start.elapsed())
        }));
        assert!(closed);
        assert!(took >= Duration::from_millis(190), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert_eq!(f.server.connections(), 0);
        // The connection's deadline fired; nothing is left in the loop.
        assert_eq!(f.lp.pending_timers(), 0);
    }

    #[test]
    fn a_big_response_to_a_slow_reader_waits_for_writable() {
        let mut f = unix_fixture(limits(5000));
        let path = f.sock();
        let (head, body, next) = f.run(thread::spawn(move || {
            let mut s = BufReader::new(UnixStream::connect(path).unwrap());
            s.get_mut().write_all(get("/big").as_bytes()).unwrap();
            // Read the head, then the body in small sips.
            let mut head = String::new();
            while !head.ends_with("\r\n\r\n") {
                s.read_line(&mut head).unwrap();
            }
            let mut body = Vec::new();
            let mut chunk = [0u8; 8192];
            while body.len() < 1 << 20 {
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0);
                body.extend_from_slice(&chunk[..n]);
                thread::sleep(Duration::from_micros(500));
            }
            // The connection is still good for another request.
            s.get_mut().write_all(get("/after").as_bytes()).unwrap();
            let next = read_response(&mut s).unwrap().2;
            (head, body, next)
        }));
        let status: u16 = head[9..12].parse().unwrap();
        assert_eq!(status, 200);
        assert!(head.contains("X-Big: yes\r\n"), "{head}");
        assert!(body == big_body());
        assert_eq!(next, b"hello /after");
        assert!(f.server.stalls > 0);
    }

    #[test]
    fn connections_beyond_the_limit_are_closed_and_slots_reused() {
        let mut f = unix_fixture(Limits {
            max_conns: 2,
            ..limits(5000)
        });
        let path = f.sock();
        let old_token = f.run({
            let path = path.clone();
            thread::spawn(move || {
                let mut a = BufReader::new(UnixStream::connect(&path).unwrap());
                let mut b = BufReader::new(UnixStream::connect(&path).unwrap());
                for s in [&mut a, &mut b] {
                    s.get_mut().write_all(get("/x").as_bytes()).unwrap();
                    assert_eq!(read_response(s).unwrap().0, 200);
                }
                let mut c = UnixStream::connect(&path).unwrap();
                let _ = c.write_all(get("/x").as_bytes());
                let mut buf = [0u8; 64];
                assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)));
                (a, b)
            })
        });
        assert_eq!(f.server.rejected, 1);
        let first = f.server.conns[0].as_ref().unwrap().token;
        drop(old_token);
        // The server sees both EOFs, frees the slots, then serves a new one.
        f.run(thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            let mut d = BufReader::new(UnixStream::connect(&path).unwrap());
            d.get_mut().write_all(get("/d").as_bytes()).unwrap();
            assert_eq!(read_response(&mut d).unwrap().2, b"hello /d");
        }));
        let now = f.server.conns[0].as_ref().map(|c| c.token);
        assert!(now.is_none() || now != Some(first));
        assert!(f.server.gens[0] >= 2);
    }

    #[test]
    fn stale_socket_files_are_detected() {
        let dir = temp_dir();
        let path = cpath(&dir.join("s"));
        let fd = listen::unix_listener(&path, 0o600).unwrap();
        assert!(listen::unix_is_live(&path));
        drop(fd);
        assert!(dir.join("s").exists());
        // Another test thread forking right now holds a copy of the
        // listener until its child execs (CLOEXEC): wait that out.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while listen::unix_is_live(&path) && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert!(!listen::unix_is_live(&path));
        assert_eq!(
            listen::unix_listener(&path, 0o600).unwrap_err(),
            Errno(libc::EADDRINUSE)
        );
        listen::unlink(&path).unwrap();
        let _fd = listen::unix_listener(&path, 0o600).unwrap();
        assert!(listen::unix_is_live(&path));
        assert!(!listen::unix_is_live(&cpath(&dir.join("none"))));
    }

    #[test]
    fn answers_may_come_in_a_later_turn() {
        let mut f = tcp_fixture(limits(5000));
        let port = f.port;
        let got = f.run_deferred(thread::spawn(move || {
            let mut s = BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
            let two = format!("{}{}", get("/a"), get("/b"));
            s.get_mut().write_all(two.as_bytes()).unwrap();
            let a = read_response(&mut s).unwrap().2;
            let b = read_response(&mut s).unwrap().2;
            s.get_mut().write_all(get("/c").as_bytes()).unwrap();
            let c = read_response(&mut s).unwrap().2;
            [a, b, c]
        }));
        assert_eq!(got, [&b"hello /a"[..], b"hello /b", b"hello /c"]);
    }

    #[test]
    fn a_half_closed_client_gets_every_answer() {
        for defer in [false, true] {
            let mut f = unix_fixture(limits(5000));
            let path = f.sock();
            let client = thread::spawn(move || {
                let mut s = BufReader::new(UnixStream::connect(path).unwrap());
                let two = format!("{}{}", get("/a"), get("/b"));
                s.get_mut().write_all(two.as_bytes()).unwrap();
                s.get_mut().shutdown(std::net::Shutdown::Write).unwrap();
                let a = read_response(&mut s).unwrap().2;
                let b = read_response(&mut s).unwrap().2;
                (a, b, at_eof(&mut s))
            });
            let (a, b, eof) = f.drive(client, defer);
            assert_eq!(
                (&a[..], &b[..], eof),
                (&b"hello /a"[..], &b"hello /b"[..], true)
            );
        }
    }

    #[test]
    fn a_client_gone_while_awaiting_is_closed_and_the_late_answer_dropped() {
        let mut f = unix_fixture(limits(5000));
        let path = f.sock();
        let client = thread::spawn(move || {
            let mut s = UnixStream::connect(path).unwrap();
            s.write_all(get("/x").as_bytes()).unwrap();
            s
        });
        let mut pending = Vec::new();
        let give_up = Instant::now() + Duration::from_secs(20);
        while pending.is_empty() {
            assert!(Instant::now() < give_up, "no request arrived");
            f.step(&mut pending);
        }
        drop(client.join().unwrap());
        // The hang-up is the only thing a muted connection can report.
        while f.server.connections() > 0 {
            assert!(Instant::now() < give_up, "the connection stayed open");
            f.step(&mut pending);
        }
        assert_eq!(pending.len(), 1);
        let p = pending.pop().unwrap();
        f.server.respond(&mut f.lp, p.conn, handler(&p.req));
        assert_eq!(f.server.connections(), 0);
        assert_eq!(f.lp.pending_timers(), 0);
    }
}
