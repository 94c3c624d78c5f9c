//! A stub resolver driven by the loop: names to addresses without blocking.
//!
//! Order: an IP literal answers at once; then /etc/hosts (`localhost` is
//! loopback even without the file, RFC 6761); then the answer cache; then
//! DNS, A and AAAA over UDP to the resolv.conf nameservers (Docker's
//! embedded 127.0.0.11 is just one of them), over the search list in
//! glibc's order (`dns::candidates`). Results list IPv4 before IPv6, each
//! in the order found, so a client tries IPv4 first.
//!
//! Decisions:
//! - One try = one UDP socket connected to one server (the kernel then
//!   drops datagrams from anyone else and reports ICMP unreachable as
//!   ECONNREFUSED), both questions sent on it with random IDs, and one
//!   loop timer of resolv.conf's `timeout`. A timeout, a refused or failed
//!   send, SERVFAIL/REFUSED, a malformed reply or an empty truncated one
//!   (no TCP fallback) moves the unanswered questions to the next server;
//!   `attempts` rounds over all servers, starting at the next server for
//!   each lookup under `options rotate`.
//! - When a try times out and one family already has addresses, the
//!   lookup ends with them: a server that drops AAAA questions costs one
//!   timeout, not all of them.
//! - NXDOMAIN or no addresses moves to the next search candidate; servers
//!   that all failed do too (glibc's SERVFAIL rule); servers that all
//!   stayed silent end the lookup ("DNS timeout"), as in glibc.
//! - Positive answers are cached for their TTL (at most an hour, 32
//!   names, the one expiring first evicted); failures are not cached.
//! - `Config::System` reads /etc/hosts for every lookup that gets past the
//!   IP-literal check, and /etc/resolv.conf for every one that goes on to
//!   DNS, so edits (Docker rewrites both) apply at once, as in musl. No
//!   cache: a small local file costs a few syscalls, fewer than the check
//!   or connection the lookup is for, and an mtime test would cost a stat
//!   per file anyway.
//! - Tokens and timer keys: a lookup's socket and its timer share its key,
//!   `token_base + (id mod 2^30)`, where an id is a sequence number and a
//!   slot (`Slots`); a key whose id is gone (a stale event) is ignored.

use crate::event_loop::{EventLoop, READABLE, TimerId};
use crate::log::debug;
use crate::net::dns::{self, NOERROR, NXDOMAIN, QType, ResolvConf};
use crate::net::interfaces::{V6_LOOPBACK, ip_text};
use crate::quote::q;
use crate::sys::fd::{Fd, read_file};
use crate::sys::net::{self, Ip};
use crate::sys::{Errno, host};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Tokens (and timer keys) a resolver owns from its `token_base`.
pub const TOKEN_SPAN: u64 = 1 << 30;

const CACHE_MAX: usize = 32;
const CACHE_TTL_MAX_NS: u64 = 3600 * 1_000_000_000;
/// Datagrams read per readiness event.
const READS_PER_EVENT: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueryId(pub u64);

/// A finished lookup: the addresses (never empty), or a one-line reason.
pub type Resolution = (QueryId, Result<Vec<Ip>, String>);

/// Where the resolver reads resolv.conf and hosts.
#[derive(Clone, Debug)]
pub enum Config {
    /// /etc/resolv.conf and /etc/hosts, read for each lookup that needs them.
    System,
    /// Fixed (tests; a server port other than 53 goes in `nameservers`).
    Fixed { conf: ResolvConf, hosts: String },
}

/// Items keyed by ids that are never reused: `seq << 16 | slot`.
pub(crate) struct Slots<T> {
    items: Vec<Option<(u64, T)>>,
    free: Vec<usize>,
    seq: u64,
}

pub(crate) const SLOT_BITS: u32 = 16;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

impl<T> Slots<T> {
    pub(crate) fn new() -> Slots<T> {
        Slots {
            items: Vec::new(),
            free: Vec::new(),
            seq: 0,
        }
    }

    /// Stores `item`; None when all 65536 slots are taken.
    pub(crate) fn insert(&mut self, item: T) -> Option<u64> {
        let slot = match self.free.pop() {
            Some(s) => s,
            None if self.items.len() <= SLOT_MASK as usize => {
                self.items.push(None);
                self.items.len() - 1
            }
            None => return None,
        };
        self.seq += 1;
        let id = self.seq << SLOT_BITS | slot as u64;
        self.items[slot] = Some((id, item));
        Some(id)
    }

    /// A fresh id that no item has, for work finished without a slot.
    pub(crate) fn detached_id(&mut self) -> u64 {
        self.seq += 1;
        self.seq << SLOT_BITS | SLOT_MASK
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        match self.items.get_mut((id & SLOT_MASK) as usize)? {
            Some((i, t)) if *i == id => Some(t),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<T> {
        let slot = (id & SLOT_MASK) as usize;
        match self.items.get(slot)? {
            Some((i, _)) if *i == id => {}
            _ => return None,
        }
        self.free.push(slot);
        self.items[slot].take().map(|(_, t)| t)
    }

    /// The id whose low `bits` bits are `key` (a token or timer key).
    pub(crate) fn id_of(&self, key: u64, bits: u32) -> Option<u64> {
        let mask = (1u64 << bits) - 1;
        match self.items.get((key & SLOT_MASK) as usize)? {
            Some((id, _)) if id & mask == key => Some(*id),
            _ => None,
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.items.iter().flatten().map(|(id, t)| (*id, t))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.items.len() - self.free.len()
    }
}

/// An errno as a message in the usual lower-case style.
pub(crate) fn errno_text(e: Errno) -> String {
    let msg = e.message();
    let mut s = String::with_capacity(msg.len());
    let mut chars = msg.chars();
    if let Some(c) = chars.next() {
        s.push(c.to_ascii_lowercase());
    }
    s.push_str(chars.as_str());
    s
}

/// `ip:port`, `[v6]:port`.
pub(crate) fn socket_text(ip: &Ip, port: u16) -> String {
    match ip {
        Ip::V4(_) => format!("{}:{port}", ip_text(ip)),
        Ip::V6(_) => format!("[{}]:{port}", ip_text(ip)),
    }
}

/// One question's state in the current candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Question {
    /// To be asked (of the next server).
    Unasked,
    /// Sent with this ID to the current server.
    Asked(u16),
    /// Answered: addresses (maybe none) and their TTL.
    Answered(Vec<Ip>, u32),
}

struct Lookup {
    /// As asked, for messages and the cache.
    name: String,
    candidates: Vec<String>,
    /// Index of the candidate being asked.
    current: usize,
    conf: ResolvConf,
    /// Server index of the first try (rotation).
    first_server: usize,
    /// Tries made for the current candidate.
    tries: u32,
    /// The current try's socket and server index.
    sock: Option<(Fd, usize)>,
    timer: Option<TimerId>,
    /// The socket token and timer key (`Resolver::key`).
    key: u64,
    /// How long one try waits.
    try_ns: u64,
    a: Question,
    aaaa: Question,
    /// Why the latest server failed; `timed_out` if it was silence.
    failure: Option<String>,
    timed_out: bool,
}

struct CacheEntry {
    name: String,
    ips: Vec<Ip>,
    expires: u64,
}

pub struct Resolver {
    token_base: u64,
    config: Config,
    lookups: Slots<Lookup>,
    /// Lookups started, for `options rotate`.
    started: usize,
    cache: Vec<CacheEntry>,
    /// Per-try timeout; None: resolv.conf's (tests set milliseconds).
    try_ns: Option<u64>,
}

enum Step {
    Wait,
    Done(Result<Vec<Ip>, String>),
}

impl Resolver {
    pub fn new(token_base: u64, config: Config) -> Resolver {
        Resolver {
            token_base,
            config,
            lookups: Slots::new(),
            started: 0,
            cache: Vec::new(),
            try_ns: None,
        }
    }

    pub fn owns(&self, token: u64) -> bool {
        token.wrapping_sub(self.token_base) < TOKEN_SPAN
    }

    /// Lookups not finished.
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.lookups.len()
    }

    /// Starts resolving `name`. Answers known at once (IP literal, hosts,
    /// cache, bad name) are pushed to `out` before this returns.
    pub fn lookup(&mut self, lp: &mut EventLoop, name: &str, out: &mut Vec<Resolution>) -> QueryId {
        if let Some(ip) = dns::parse_ip(name) {
            return self.answer_now(out, Ok(alloc::vec![ip]));
        }
        let mut ips = match &self.config {
            Config::System => dns::hosts_lookup(&read_text(c"/etc/hosts"), name),
            Config::Fixed { hosts, .. } => dns::hosts_lookup(hosts, name),
        };
        let bare = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        if ips.is_empty() && (bare == "localhost" || bare.ends_with(".localhost")) {
            ips = alloc::vec![Ip::V4([127, 0, 0, 1]), Ip::V6(V6_LOOPBACK)];
        }
        if !ips.is_empty() {
            return self.answer_now(out, Ok(v4_first(ips)));
        }
        let now = lp.now();
        self.cache.retain(|e| e.expires > now);
        if let Some(e) = self.cache.iter().find(|e| e.name == bare) {
            let ips = e.ips.clone();
            return self.answer_now(out, Ok(ips));
        }
        let conf = match &self.config {
            Config::System => dns::parse_resolv_conf(&read_text(c"/etc/resolv.conf")),
            Config::Fixed { conf, .. } => conf.clone(),
        };
        let candidates = dns::candidates(name, &conf);
        if candidates.is_empty() {
            return self.answer_now(out, Err(format!("no such host {name}", name = q(&name))));
        }
        let first_server = if conf.rotate {
            self.started % conf.nameservers.len()
        } else {
            0
        };
        self.started = self.started.wrapping_add(1);
        let try_ns = self
            .try_ns
            .unwrap_or(u64::from(conf.timeout_secs) * 1_000_000_000);
        let lookup = Lookup {
            name: name.into(),
            candidates,
            current: 0,
            conf,
            first_server,
            tries: 0,
            sock: None,
            timer: None,
            key: 0,
            try_ns,
            a: Question::Unasked,
            aaaa: Question::Unasked,
            failure: None,
            timed_out: false,
        };
        let Some(id) = self.lookups.insert(lookup) else {
            return self.answer_now(out, Err("too many DNS lookups in flight".into()));
        };
        let key = self.key(id);
        let l = self.lookups.get_mut(id).expect("just inserted");
        l.key = key;
        let step = l.begin_candidate(lp);
        self.conclude(lp, id, step, out);
        QueryId(id)
    }

    /// An answer known without asking: pushed to `out` under a fresh id.
    fn answer_now(&mut self, out: &mut Vec<Resolution>, res: Result<Vec<Ip>, String>) -> QueryId {
        let id = QueryId(self.lookups.detached_id());
        out.push((id, res));
        id
    }

    /// Abandons a lookup: no answer will come.
    pub fn cancel(&mut self, lp: &mut EventLoop, id: QueryId) {
        if let Some(mut l) = self.lookups.remove(id.0) {
            l.end_try(lp);
        }
    }

    pub fn on_ready(&mut self, lp: &mut EventLoop, token: u64, out: &mut Vec<Resolution>) {
        self.drive(lp, token, out, Lookup::receive);
    }

    pub fn on_timer(&mut self, lp: &mut EventLoop, key: u64, out: &mut Vec<Resolution>) {
        self.drive(lp, key, out, |l, lp| {
            // It fired: nothing to cancel.
            l.timer = None;
            l.timeout(lp)
        });
    }

    /// Moves the lookup that `key` (a token or timer key) names with `f`.
    fn drive(
        &mut self,
        lp: &mut EventLoop,
        key: u64,
        out: &mut Vec<Resolution>,
        f: impl FnOnce(&mut Lookup, &mut EventLoop) -> Step,
    ) {
        let Some(id) = self.id_of(key) else {
            return;
        };
        let Some(l) = self.lookups.get_mut(id) else {
            return;
        };
        let step = f(l, lp);
        self.conclude(lp, id, step, out);
    }

    fn key(&self, id: u64) -> u64 {
        self.token_base + (id & (TOKEN_SPAN - 1))
    }

    fn id_of(&self, token: u64) -> Option<u64> {
        if !self.owns(token) {
            return None;
        }
        self.lookups
            .id_of(token - self.token_base, TOKEN_SPAN.trailing_zeros())
    }

    fn conclude(&mut self, lp: &mut EventLoop, id: u64, step: Step, out: &mut Vec<Resolution>) {
        let Step::Done(result) = step else {
            return;
        };
        let Some(mut l) = self.lookups.remove(id) else {
            return;
        };
        l.end_try(lp);
        match &result {
            Ok(ips) => {
                debug!("resolved {}: {} addresses", l.name, ips.len());
                let ttl = [&l.a, &l.aaaa]
                    .iter()
                    .filter_map(|q| match q {
                        Question::Answered(ips, ttl) if !ips.is_empty() => Some(*ttl),
                        _ => None,
                    })
                    .min()
                    .unwrap_or(0);
                self.remember(lp.now(), &l.name, ips, ttl);
            }
            Err(e) => debug!("resolving {}: {e}", l.name),
        }
        out.push((QueryId(id), result));
    }

    fn remember(&mut self, now: u64, name: &str, ips: &[Ip], ttl: u32) {
        if ttl == 0 {
            return;
        }
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        self.cache.retain(|e| e.name != name);
        if self.cache.len() >= CACHE_MAX
            && let Some(i) = (0..self.cache.len()).min_by_key(|&i| self.cache[i].expires)
        {
            self.cache.swap_remove(i);
        }
        let ttl_ns = (u64::from(ttl) * 1_000_000_000).min(CACHE_TTL_MAX_NS);
        self.cache.push(CacheEntry {
            name,
            ips: ips.into(),
            expires: now + ttl_ns,
        });
    }
}

/// A file's text; empty if it cannot be read (no hosts file, no
/// resolv.conf: the defaults apply).
fn read_text(path: &core::ffi::CStr) -> String {
    let bytes = read_file(path).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// IPv4 addresses, then IPv6, each in the order given.
fn v4_first(ips: Vec<Ip>) -> Vec<Ip> {
    // A partition, not a sort: core's stable sort would add 3 KB.
    let (mut v4, v6): (Vec<Ip>, Vec<Ip>) = ips.into_iter().partition(|ip| matches!(ip, Ip::V4(_)));
    v4.extend(v6);
    v4
}

impl Lookup {
    fn servers(&self) -> usize {
        self.conf.nameservers.len()
    }

    fn server_text(&self, server: usize) -> String {
        let (ip, port) = self.conf.nameservers[server];
        socket_text(&ip, port)
    }

    /// Starts on `candidates[current]` (skipping names DNS cannot carry).
    fn begin_candidate(&mut self, lp: &mut EventLoop) -> Step {
        let mut scratch = Vec::new();
        while let Some(name) = self.candidates.get(self.current) {
            if let Err(e) = dns::build_query(0, name, QType::A, &mut scratch) {
                self.failure = Some(format!("invalid host name {name}: {e}", name = q(&name)));
                self.current += 1;
                continue;
            }
            self.tries = 0;
            self.a = Question::Unasked;
            self.aaaa = Question::Unasked;
            self.timed_out = false;
            return self.next_try(lp);
        }
        Step::Done(Err(self
            .failure
            .take()
            .unwrap_or_else(|| format!("no such host {}", q(&self.name)))))
    }

    /// Asks the unanswered questions of the next server; servers that fail
    /// at once (no route, refused send) are skipped in the same call.
    fn next_try(&mut self, lp: &mut EventLoop) -> Step {
        self.end_try(lp);
        let total = self.servers() as u32 * self.conf.attempts;
        while self.tries < total {
            let server = (self.first_server + self.tries as usize) % self.servers();
            self.tries += 1;
            match self.ask(lp, server) {
                Ok(()) => {
                    self.timer = Some(lp.add_timer(lp.now() + self.try_ns, self.key));
                    return Step::Wait;
                }
                Err(e) => {
                    self.end_try(lp);
                    self.server_failed(server, &e);
                }
            }
        }
        self.exhausted(lp)
    }

    /// Opens the try's socket and sends the questions.
    fn ask(&mut self, lp: &mut EventLoop, server: usize) -> Result<(), String> {
        let (ip, port) = self.conf.nameservers[server];
        let fd = net::udp_connect(ip, port).map_err(errno_text)?;
        lp.register(fd.raw(), self.key, READABLE)
            .map_err(errno_text)?;
        self.sock = Some((fd, server));
        let name = &self.candidates[self.current];
        let mut query = Vec::new();
        let mut used = None;
        for (q, qtype) in [(&mut self.a, QType::A), (&mut self.aaaa, QType::AAAA)] {
            if *q != Question::Unasked {
                continue;
            }
            // Two different IDs, so each reply finds its question.
            let mut id = host::random_u64() as u16;
            if used == Some(id) {
                id = id.wrapping_add(1);
            }
            used = Some(id);
            dns::build_query(id, name, qtype, &mut query).map_err(|e| format!("{e}"))?;
            let fd = &self.sock.as_ref().expect("just set").0;
            match net::send(fd, &query) {
                Ok(n) if n == query.len() => *q = Question::Asked(id),
                Ok(_) => return Err("short send".into()),
                Err(e) => return Err(errno_text(e)),
            }
        }
        Ok(())
    }

    /// Closes the try's socket and cancels its timer; asked questions
    /// become unasked.
    fn end_try(&mut self, lp: &mut EventLoop) {
        if let Some((fd, _)) = self.sock.take() {
            let _ = lp.deregister(fd.raw());
        }
        if let Some(t) = self.timer.take() {
            lp.cancel_timer(t);
        }
        for q in [&mut self.a, &mut self.aaaa] {
            if matches!(q, Question::Asked(_)) {
                *q = Question::Unasked;
            }
        }
    }

    /// Reads what the current server sent.
    fn receive(&mut self, lp: &mut EventLoop) -> Step {
        let mut buf = [0u8; 4096];
        for _ in 0..READS_PER_EVENT {
            let Some((fd, server)) = &self.sock else {
                break;
            };
            let server = *server;
            let n = match fd.read(&mut buf) {
                Ok(n) => n,
                Err(Errno::EAGAIN) => break,
                Err(e) => {
                    self.server_failed(server, &errno_text(e));
                    return self.next_try(lp);
                }
            };
            self.answer(&buf[..n], server);
        }
        self.progress(lp)
    }

    /// Takes one datagram from `server`.
    fn answer(&mut self, msg: &[u8], server: usize) {
        let [hi, lo, ..] = *msg else {
            return;
        };
        let id = u16::from_be_bytes([hi, lo]);
        let name = &self.candidates[self.current];
        let (q, qtype) = match (&self.a, &self.aaaa) {
            (Question::Asked(a), _) if *a == id => (&mut self.a, QType::A),
            (_, Question::Asked(b)) if *b == id => (&mut self.aaaa, QType::AAAA),
            // A late or forged reply: not for a question in flight.
            _ => return,
        };
        let problem = match dns::parse_response(msg, id, name, qtype) {
            Ok(ans) if ans.rcode == NOERROR && ans.truncated && ans.ips.is_empty() => {
                "truncated answer (no TCP fallback)".into()
            }
            Ok(ans) if ans.rcode == NOERROR || ans.rcode == NXDOMAIN => {
                *q = Question::Answered(ans.ips, ans.ttl);
                return;
            }
            Ok(ans) => format!("answered {}", rcode_name(ans.rcode)),
            Err(e) => format!("{e}"),
        };
        // This question goes to the next server.
        *q = Question::Unasked;
        self.server_failed(server, &problem);
    }

    fn server_failed(&mut self, server: usize, why: &str) {
        let text = self.server_text(server);
        self.failure = Some(format!(
            "lookup {}: DNS server {text}: {why}",
            q(&self.name)
        ));
        self.timed_out = false;
    }

    /// After replies: wait for more, try the next server or candidate, or
    /// finish.
    fn progress(&mut self, lp: &mut EventLoop) -> Step {
        let asked = |q: &Question| matches!(q, Question::Asked(_));
        if asked(&self.a) || asked(&self.aaaa) {
            return Step::Wait;
        }
        if self.a == Question::Unasked || self.aaaa == Question::Unasked {
            return self.next_try(lp);
        }
        self.end_try(lp);
        match self.found() {
            Some(ips) => Step::Done(Ok(ips)),
            None => {
                self.current += 1;
                self.begin_candidate(lp)
            }
        }
    }

    /// The addresses answered so far, IPv4 first; None if none.
    fn found(&self) -> Option<Vec<Ip>> {
        let mut ips = Vec::new();
        for q in [&self.a, &self.aaaa] {
            if let Question::Answered(got, _) = q {
                ips.extend_from_slice(got);
            }
        }
        (!ips.is_empty()).then_some(ips)
    }

    fn timeout(&mut self, lp: &mut EventLoop) -> Step {
        if let Some((_, server)) = &self.sock {
            self.failure = Some(format!(
                "DNS timeout resolving {} (no answer from {})",
                q(&self.name),
                self.server_text(*server)
            ));
            self.timed_out = true;
        }
        self.end_try(lp);
        if let Some(ips) = self.found() {
            return Step::Done(Ok(ips));
        }
        self.next_try(lp)
    }

    /// Every try of the current candidate is spent.
    fn exhausted(&mut self, lp: &mut EventLoop) -> Step {
        if let Some(ips) = self.found() {
            return Step::Done(Ok(ips));
        }
        if self.timed_out {
            return Step::Done(Err(self.failure.take().unwrap_or_default()));
        }
        self.current += 1;
        self.begin_candidate(lp)
    }
}

fn rcode_name(rcode: u8) -> String {
    match rcode {
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("rcode {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::Event;
    use crate::sys::signal::SigSet;
    use std::net::UdpSocket;
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::thread;
    use std::time::{Duration, Instant};
    use std::{string::ToString, vec};

    const BASE: u64 = 3 << 40;
    const GIVE_UP: u64 = u64::MAX - 10;

    /// A DNS server on 127.0.0.1 for names under `test.`, answering by
    /// the first label: `svc` A 10.0.0.1, 10.0.0.2 and AAAA fd00::1; `v4` A
    /// only (AAAA NODATA); `noaaaa` A, and AAAA questions dropped; `gone`
    /// NXDOMAIN; `fail` SERVFAIL; `trunc` TC without records; `garbage`
    /// junk with the right ID; `silent` nothing; other names NXDOMAIN. A
    /// silent server ignores everything. It logs every question as (name, qtype).
    struct FakeDns {
        port: u16,
        log: Arc<Mutex<Vec<(String, u16)>>>,
    }

    impl FakeDns {
        fn start(silent: bool) -> FakeDns {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = sock.local_addr().unwrap().port();
            let log = Arc::new(Mutex::new(Vec::new()));
            let seen = log.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 1500];
                loop {
                    let Ok((n, from)) = sock.recv_from(&mut buf) else {
                        return;
                    };
                    if &buf[..n] == b"stop" {
                        return;
                    }
                    let Some((name, qtype, qend)) = question(&buf[..n]) else {
                        continue;
                    };
                    seen.lock().unwrap().push((name.clone(), qtype));
                    if silent {
                        continue;
                    }
                    if let Some(reply) = reply(&buf[..qend], &name, qtype) {
                        let _ = sock.send_to(&reply, from);
                    }
                }
            });
            FakeDns { port, log }
        }

        fn asked(&self) -> Vec<(String, u16)> {
            self.log.lock().unwrap().clone()
        }
    }

    impl Drop for FakeDns {
        fn drop(&mut self) {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let _ = s.send_to(b"stop", ("127.0.0.1", self.port));
        }
    }

    /// The question of a query: (name, qtype, end of the question).
    fn question(q: &[u8]) -> Option<(String, u16, usize)> {
        let mut labels = Vec::new();
        let mut p = 12;
        loop {
            let len = *q.get(p)? as usize;
            p += 1;
            if len == 0 {
                break;
            }
            labels.push(String::from_utf8_lossy(q.get(p..p + len)?).into_owned());
            p += len;
        }
        let qtype = u16::from_be_bytes([*q.get(p)?, *q.get(p + 1)?]);
        Some((labels.join("."), qtype, p + 4))
    }

    fn reply(query: &[u8], name: &str, qtype: u16) -> Option<Vec<u8>> {
        let first = match name.strip_suffix(".test") {
            Some(n) => n.split('.').next().unwrap_or_default(),
            None => "",
        };
        let six = {
            let mut a = [0u8; 16];
            a[0] = 0xfd;
            a[15] = 1;
            a
        };
        let (rcode, tc, records): (u8, bool, Vec<Vec<u8>>) = match (first, qtype) {
            ("svc", 1) => (0, false, vec![vec![10, 0, 0, 1], vec![10, 0, 0, 2]]),
            ("svc", 28) => (0, false, vec![six.to_vec()]),
            ("v4" | "noaaaa", 1) => (0, false, vec![vec![10, 0, 0, 3]]),
            ("v4", _) => (0, false, vec![]),
            ("noaaaa" | "silent", _) => return None,
            ("fail", _) => (2, false, vec![]),
            ("trunc", _) => (0, true, vec![]),
            ("garbage", _) => {
                let mut junk = query[..2].to_vec();
                junk.extend_from_slice(&[0x81, 0x80, 0xff, 0xff, 1, 2, 3]);
                return Some(junk);
            }
            _ => (3, false, vec![]),
        };
        let mut m = query[..2].to_vec();
        m.push(0x81 | if tc { 2 } else { 0 });
        m.push(0x80 | rcode);
        m.extend_from_slice(&[0, 1, 0, records.len() as u8, 0, 0, 0, 0]);
        m.extend_from_slice(&query[12..]);
        for r in records {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&qtype.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60, 0, r.len() as u8]);
            m.extend_from_slice(&r);
        }
        Some(m)
    }

    fn conf(servers: &[u16], extra: &str) -> ResolvConf {
        let mut c = dns::parse_resolv_conf(&format!("search test\n{extra}"));
        c.nameservers = servers
            .iter()
            .map(|&p| (Ip::V4([127, 0, 0, 1]), p))
            .collect();
        c
    }

    fn resolver(servers: &[u16], extra: &str, hosts: &str) -> Resolver {
        let mut r = Resolver::new(
            BASE,
            Config::Fixed {
                conf: conf(servers, extra),
                hosts: hosts.into(),
            },
        );
        r.try_ns = Some(150_000_000);
        r
    }

    /// Drives the loop until `id` is answered.
    fn wait(lp: &mut EventLoop, r: &mut Resolver, id: QueryId) -> Result<Vec<Ip>, String> {
        let guard = lp.add_timer(lp.now() + 10_000_000_000, GIVE_UP);
        let mut out = Vec::new();
        loop {
            if let Some(i) = out.iter().position(|(q, _)| *q == id) {
                lp.cancel_timer(guard);
                return out.swap_remove(i).1;
            }
            let mut evs = Vec::new();
            lp.turn(&mut evs).unwrap();
            for e in evs {
                match e {
                    Event::Timer(GIVE_UP) => panic!("lookup never finished"),
                    Event::Timer(k) if r.owns(k) => r.on_timer(lp, k, &mut out),
                    Event::Io(ready) if r.owns(ready.token) => {
                        r.on_ready(lp, ready.token, &mut out)
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }

    fn resolve(lp: &mut EventLoop, r: &mut Resolver, name: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let id = r.lookup(lp, name, &mut out);
        let res = match out.pop() {
            Some((q, res)) if q == id => res,
            Some(other) => panic!("answer for another lookup: {other:?}"),
            None => wait(lp, r, id),
        };
        assert_eq!(r.in_flight(), 0);
        assert_eq!(lp.pending_timers(), 0);
        res.map(|ips| ips.iter().map(ip_text).collect())
    }

    fn lp() -> EventLoop {
        EventLoop::new(&SigSet::empty()).unwrap()
    }

    fn texts(v: &[&str]) -> Result<Vec<String>, String> {
        Ok(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn literals_hosts_and_localhost_answer_at_once() {
        let mut lp = lp();
        // No server at all: none of these may need one.
        let mut r = resolver(&[9], "", "10.1.1.1 db db.test\n::5 db\n10.1.1.2 other\n");
        for (name, want) in [
            ("10.0.0.9", &["10.0.0.9"][..]),
            ("::1", &["::1"]),
            ("db", &["10.1.1.1", "::5"]),
            ("DB.test.", &["10.1.1.1"]),
            ("localhost", &["127.0.0.1", "::1"]),
            ("x.localhost", &["127.0.0.1", "::1"]),
        ] {
            let mut out = Vec::new();
            let id = r.lookup(&mut lp, name, &mut out);
            let ips: Vec<String> = match out.pop() {
                Some((q, Ok(ips))) if q == id => ips.iter().map(ip_text).collect(),
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(ips, want, "{name}");
        }
        let mut out = Vec::new();
        r.lookup(&mut lp, "", &mut out);
        assert_eq!(out.pop().unwrap().1, Err("no such host \"\"".into()));
        let long = "x".repeat(70);
        assert!(
            resolve(&mut lp, &mut r, &long)
                .unwrap_err()
                .contains("label longer than 63")
        );
        assert_eq!(lp.pending_timers(), 0);
    }

    #[test]
    fn a_then_aaaa_over_the_search_list_then_cached() {
        let dns = FakeDns::start(false);
        let mut lp = lp();
        let mut r = resolver(&[dns.port], "", "");
        let want = texts(&["10.0.0.1", "10.0.0.2", "fd00::1"]);
        assert_eq!(resolve(&mut lp, &mut r, "svc"), want);
        // "svc" has fewer dots than ndots (1): the search domain first.
        assert_eq!(
            dns.asked(),
            vec![("svc.test".to_string(), 1), ("svc.test".to_string(), 28)]
        );
        // The TTL (60 s) keeps it: no more questions.
        assert_eq!(resolve(&mut lp, &mut r, "SVC."), want);
        assert_eq!(dns.asked().len(), 2);
        assert_eq!(resolve(&mut lp, &mut r, "v4"), texts(&["10.0.0.3"]));
    }

    #[test]
    fn nxdomain_goes_through_every_candidate() {
        let dns = FakeDns::start(false);
        let mut lp = lp();
        let mut r = resolver(&[dns.port], "options ndots:0", "");
        assert_eq!(
            resolve(&mut lp, &mut r, "gone"),
            Err("no such host \"gone\"".into())
        );
        let names: Vec<String> = dns.asked().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["gone", "gone", "gone.test", "gone.test"]);
        // Found under the second candidate.
        let want = texts(&["10.0.0.1", "10.0.0.2", "fd00::1"]);
        assert_eq!(resolve(&mut lp, &mut r, "svc"), want);
        assert_eq!(
            dns.asked()[4..],
            [
                ("svc".into(), 1),
                ("svc".into(), 28),
                ("svc.test".into(), 1),
                ("svc.test".into(), 28)
            ]
        );
    }

    #[test]
    fn a_silent_server_is_skipped_after_its_timeout() {
        let silent = FakeDns::start(true);
        let good = FakeDns::start(false);
        let mut lp = lp();
        let mut r = resolver(&[silent.port, good.port], "options attempts:1", "");
        let start = Instant::now();
        assert_eq!(resolve(&mut lp, &mut r, "v4.test"), texts(&["10.0.0.3"]));
        assert!(start.elapsed() >= Duration::from_millis(140));
        assert_eq!(silent.asked().len(), 2);
        assert_eq!(good.asked().len(), 2);
    }

    #[test]
    fn silence_everywhere_is_a_timeout() {
        let silent = FakeDns::start(true);
        let mut lp = lp();
        let mut r = resolver(&[silent.port, silent.port], "options attempts:2", "");
        let err = resolve(&mut lp, &mut r, "svc.test").unwrap_err();
        assert_eq!(
            err,
            format!(
                "DNS timeout resolving \"svc.test\" (no answer from 127.0.0.1:{})",
                silent.port
            )
        );
        // 2 servers x 2 attempts, A and AAAA each; the search list is not
        // tried after a timeout.
        assert_eq!(silent.asked().len(), 8);
        assert!(silent.asked().iter().all(|(n, _)| n == "svc.test"));
    }

    #[test]
    fn a_dropped_aaaa_costs_one_timeout() {
        let dns = FakeDns::start(false);
        let mut lp = lp();
        let mut r = resolver(&[dns.port, dns.port], "options attempts:3", "");
        assert_eq!(
            resolve(&mut lp, &mut r, "noaaaa.test"),
            texts(&["10.0.0.3"])
        );
        assert_eq!(dns.asked().len(), 2);
    }

    #[test]
    fn broken_answers_move_to_the_next_server() {
        for bad in ["fail", "trunc", "garbage"] {
            let dns = FakeDns::start(false);
            let mut lp = lp();
            // The only server: the failure is the message.
            let mut r = resolver(&[dns.port], "options attempts:1", "");
            let err = resolve(&mut lp, &mut r, &format!("{bad}.test.")).unwrap_err();
            let why = match bad {
                "fail" => "answered SERVFAIL",
                "trunc" => "truncated answer (no TCP fallback)",
                _ => "malformed DNS response",
            };
            assert_eq!(
                err,
                format!(
                    "lookup \"{bad}.test.\": DNS server 127.0.0.1:{}: {why}",
                    dns.port
                ),
                "{bad}"
            );
        }
        // SERVFAIL from every server: on to the next candidate, as glibc.
        let dns = FakeDns::start(false);
        let mut lp = lp();
        let mut r = resolver(&[dns.port], "options attempts:1", "");
        let err = resolve(&mut lp, &mut r, "fail").unwrap_err();
        assert_eq!(
            err,
            format!(
                "lookup \"fail\": DNS server 127.0.0.1:{}: answered SERVFAIL",
                dns.port
            )
        );
        let names: Vec<String> = dns.asked().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["fail.test", "fail.test", "fail", "fail"]);
    }

    #[test]
    fn a_refused_server_is_skipped_at_once() {
        // A port nobody listens on: ICMP port unreachable, ECONNREFUSED.
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let good = FakeDns::start(false);
        let mut lp = lp();
        let mut r = resolver(&[closed_port, good.port], "", "");
        r.try_ns = Some(5_000_000_000);
        let start = Instant::now();
        assert_eq!(resolve(&mut lp, &mut r, "v4.test"), texts(&["10.0.0.3"]));
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn rotate_spreads_lookups_over_servers() {
        let one = FakeDns::start(false);
        let two = FakeDns::start(false);
        let mut lp = lp();
        let mut r = resolver(&[one.port, two.port], "options rotate", "");
        for i in 0..4 {
            // v4 answers are cached: ask a new name each time.
            assert!(resolve(&mut lp, &mut r, &format!("v4.n{i}.test.")).is_ok());
        }
        assert_eq!((one.asked().len(), two.asked().len()), (4, 4));
        let mut r = resolver(&[one.port, two.port], "", "");
        for i in 0..2 {
            assert!(resolve(&mut lp, &mut r, &format!("v4.m{i}.test.")).is_ok());
        }
        assert_eq!((one.asked().len(), two.asked().len()), (8, 4));
    }

    #[test]
    fn cancel_leaves_nothing_behind() {
        let silent = FakeDns::start(true);
        let mut lp = lp();
        let mut r = resolver(&[silent.port], "", "");
        let mut out = Vec::new();
        let id = r.lookup(&mut lp, "svc.test", &mut out);
        assert!(out.is_empty());
        assert_eq!((r.in_flight(), lp.pending_timers()), (1, 1));
        r.cancel(&mut lp, id);
        assert_eq!((r.in_flight(), lp.pending_timers()), (0, 0));
        // A stale key does nothing.
        r.on_timer(&mut lp, r.key(id.0), &mut out);
        r.on_ready(&mut lp, r.key(id.0), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn slots_never_reuse_ids() {
        let mut s: Slots<u32> = Slots::new();
        let a = s.insert(1).unwrap();
        assert_eq!(s.remove(a), Some(1));
        let b = s.insert(2).unwrap();
        assert_ne!(a, b);
        assert_eq!(a & SLOT_MASK, b & SLOT_MASK);
        assert!(s.get_mut(a).is_none() && s.remove(a).is_none());
        assert_eq!(s.id_of(b & 0xff_ffff, 24), Some(b));
        assert_eq!(s.id_of(a & 0xff_ffff, 24), None);
        assert_eq!((s.len(), s.iter().count()), (1, 1));
        let d = s.detached_id();
        assert!(d != b && s.get_mut(d).is_none());
    }
}
