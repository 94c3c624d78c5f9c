//! Forwarding to a remote syslog (`forward: "tcp://host:514"`), as a loop
//! component: a bounded queue of framed messages, one socket, the name
//! resolved by the loop's resolver, and a reconnect timer with backoff.
//!
//! Contract:
//! - `push` queues one message (RFC 5424 or 3164, TCP: octet-counted,
//!   RFC 6587). The queue holds at most `BOUND` bytes: past it new
//!   messages are dropped and counted (`dropped`) — the only place in the
//!   router that drops, since a dead remote must not hold back the local
//!   outputs. The first drop of a run says so in a log line, and how many
//!   were dropped is said once messages flow again.
//! - `flush` sends what the socket takes now; the owner calls it after a
//!   round of pushes and `on_ready` calls it on WRITABLE.
//! - Tokens and timer keys: `base .. base + TOKEN_SPAN` are the
//!   resolver's, `base + TOKEN_SPAN` is the socket's and the retry
//!   timer's (`owns` says whether a value is this forward's).
//!
//! Decisions:
//! - The name is resolved again before every connection (a moved
//!   receiver is found); the first address is used.
//! - TCP: a message partly sent when the connection fails is sent again
//!   whole on the next one (the receiver drops a partial frame at the
//!   close). The socket is kept readable while connected, so a receiver
//!   that closes is noticed at once, not by a later message written into a
//!   dead connection.
//! - UDP: one datagram per message on a connected socket. ECONNREFUSED
//!   (an earlier datagram met a closed port) is the receiver being down:
//!   the message is kept and retried after the backoff, like TCP's.
//! - Backoff: 100 ms, doubling to 30 s, back to 100 ms once connected.
//! - At exit `drain_blocking` sends what it can until the deadline; what is
//!   left is counted as dropped and said.

use crate::event_loop::{EventLoop, READABLE, TimerId, WRITABLE};
use crate::log::{info, warning};
use crate::logs::sink::BOUND;
use crate::net::interfaces::ip_text;
use crate::net::resolver::{Config, QueryId, Resolution, Resolver, TOKEN_SPAN};
use crate::sys::Errno;
use crate::sys::fd::Fd;
use crate::sys::net;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

const FIRST_BACKOFF: u64 = 100_000_000;
const MAX_BACKOFF: u64 = 30_000_000_000;

pub struct Forward {
    name: String,
    host: String,
    port: u16,
    /// TCP (octet-counted frames), else UDP.
    pub tcp: bool,
    resolver: Resolver,
    own: u64,
    fd: Option<Fd>,
    /// Connected (TCP: the connect finished).
    up: bool,
    /// The socket is registered for WRITABLE too.
    writable: bool,
    queue: VecDeque<Vec<u8>>,
    bytes: usize,
    /// Bytes of the front message already sent (TCP).
    sent: usize,
    pub dropped: u64,
    said: u64,
    backoff: u64,
    timer: Option<TimerId>,
    query: Option<QueryId>,
    /// Messages and bytes sent.
    pub out: (u64, u64),
}

impl Forward {
    pub fn new(name: &str, host: &str, port: u16, tcp: bool, base: u64) -> Forward {
        Forward {
            name: name.into(),
            host: host.into(),
            port,
            tcp,
            resolver: Resolver::new(base, Config::System),
            own: base + TOKEN_SPAN,
            fd: None,
            up: false,
            writable: false,
            queue: VecDeque::new(),
            bytes: 0,
            sent: 0,
            dropped: 0,
            said: 0,
            backoff: FIRST_BACKOFF,
            timer: None,
            query: None,
            out: (0, 0),
        }
    }

    pub fn owns(&self, raw: u64) -> bool {
        self.resolver.owns(raw) || raw == self.own
    }

    /// Resolves the name and connects.
    pub fn start(&mut self, lp: &mut EventLoop) {
        let mut answers = Vec::new();
        self.query = Some(self.resolver.lookup(lp, &self.host, &mut answers));
        self.answers(lp, answers);
    }

    fn answers(&mut self, lp: &mut EventLoop, answers: Vec<Resolution>) {
        for (id, res) in answers {
            if Some(id) != self.query {
                continue;
            }
            self.query = None;
            match res {
                Ok(ips) => match ips.first() {
                    Some(&ip) => self.connect(lp, ip),
                    None => self.fail(lp, "no address"),
                },
                Err(why) => self.fail(lp, &why),
            }
        }
    }

    fn connect(&mut self, lp: &mut EventLoop, ip: net::Ip) {
        let (port, tcp) = (self.port, self.tcp);
        let fd = if tcp {
            net::connect(ip, port)
        } else {
            net::udp_connect(ip, port)
        };
        match fd {
            Ok(fd) => {
                let _ = lp.register(fd.raw(), self.own, READABLE | WRITABLE);
                self.writable = true;
                self.fd = Some(fd);
                if !tcp {
                    self.connected(lp);
                }
            }
            Err(e) => self.fail(lp, &format!("{}:{port}: {e}", ip_text(&ip))),
        }
    }

    fn connected(&mut self, lp: &mut EventLoop) {
        self.up = true;
        self.backoff = FIRST_BACKOFF;
        info!("logs {}: forwarding to {}", self.name, self.where_());
        self.flush(lp);
    }

    fn where_(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The connection failed or was lost: close, retry after the backoff.
    fn fail(&mut self, lp: &mut EventLoop, why: &str) {
        self.close(lp);
        self.sent = 0;
        warning!(
            "logs {}: {}: {why}; retrying in {} ms",
            self.name,
            self.where_(),
            self.backoff / 1_000_000
        );
        self.timer = Some(lp.add_timer(lp.now() + self.backoff, self.own));
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    fn close(&mut self, lp: &mut EventLoop) {
        if let Some(fd) = self.fd.take() {
            let _ = lp.deregister(fd.raw());
        }
        self.up = false;
        self.writable = false;
    }

    /// Queues one framed message; false when it was dropped.
    pub fn push(&mut self, msg: Vec<u8>) -> bool {
        if self.bytes + msg.len() > BOUND {
            if self.dropped == self.said {
                warning!(
                    "logs {}: {} does not take messages; the queue is full: dropping",
                    self.name,
                    self.where_()
                );
            }
            self.dropped += 1;
            return false;
        }
        self.bytes += msg.len();
        self.queue.push_back(msg);
        true
    }

    /// Sends what the socket takes now.
    pub fn flush(&mut self, lp: &mut EventLoop) {
        if !self.up {
            return;
        }
        let Some(fd) = &self.fd else { return };
        let mut wait = false;
        let mut failed = None;
        while let Some(front) = self.queue.front() {
            match net::send(fd, &front[self.sent..]) {
                Ok(n) => {
                    self.sent += n;
                    if self.sent < front.len() {
                        continue;
                    }
                    self.out.0 += 1;
                    self.out.1 += front.len() as u64;
                    self.bytes -= front.len();
                    self.sent = 0;
                    self.queue.pop_front();
                }
                Err(Errno::EAGAIN) => {
                    wait = true;
                    break;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            return self.fail(lp, &format!("{e}"));
        }
        if wait != self.writable {
            let interest = if wait { READABLE | WRITABLE } else { READABLE };
            let _ = lp.reregister(fd.raw(), self.own, interest);
            self.writable = wait;
        }
        if self.queue.is_empty() && self.dropped > self.said {
            warning!(
                "logs {}: {} messages were dropped while {} did not take them",
                self.name,
                self.dropped - self.said,
                self.where_()
            );
            self.said = self.dropped;
        }
    }

    /// A readiness event of this forward's (its socket or a lookup's).
    pub fn on_ready(&mut self, lp: &mut EventLoop, raw: u64) {
        if raw != self.own {
            let mut answers = Vec::new();
            self.resolver.on_ready(lp, raw, &mut answers);
            return self.answers(lp, answers);
        }
        let Some(fd) = &self.fd else { return };
        if !self.up {
            // The TCP connect finished, one way or the other.
            return match net::take_error(fd) {
                Ok(()) => self.connected(lp),
                Err(e) => self.fail(lp, &format!("{e}")),
            };
        }
        let mut buf = [0u8; 512];
        match fd.read(&mut buf) {
            Ok(0) => return self.fail(lp, "the receiver closed the connection"),
            Err(Errno::EAGAIN) | Ok(_) => {}
            Err(e) => return self.fail(lp, &format!("{e}")),
        }
        self.flush(lp);
    }

    /// A timer of this forward's: a lookup's, or the retry.
    pub fn on_timer(&mut self, lp: &mut EventLoop, raw: u64) {
        if raw != self.own {
            let mut answers = Vec::new();
            self.resolver.on_timer(lp, raw, &mut answers);
            return self.answers(lp, answers);
        }
        self.timer = None;
        self.start(lp);
    }

    /// Before exit: sends what it can until `deadline_ns`; the rest is
    /// counted as dropped and said.
    pub fn drain_blocking(&mut self, lp: &mut EventLoop, deadline_ns: u64) {
        while !self.queue.is_empty() && self.up {
            let now = crate::sys::time::now_ns();
            if now >= deadline_ns {
                break;
            }
            self.flush(lp);
            if let (Some(fd), false) = (&self.fd, self.queue.is_empty()) {
                let ms = (deadline_ns - now).div_ceil(1_000_000).min(1000) as i32;
                let _ = crate::sys::file::wait_writable(fd.raw(), ms);
            }
        }
        if !self.queue.is_empty() {
            self.dropped += self.queue.len() as u64;
            warning!(
                "logs {}: {} messages not forwarded to {} before exit",
                self.name,
                self.queue.len(),
                self.where_()
            );
        }
    }
}
