//! Built-in health checks that need no program in the image (scratch
//! images have no curl or nc): `tcp` connects, `http` sends a GET and
//! judges the status line. One component in the loop for every job's
//! network check, on `net::client` (and its resolver: hosts file, then
//! DNS, so names such as Docker's service aliases work); exec checks are
//! processes, which the engine runs.
//!
//! Contract (the engine relies on it):
//! - `start` begins a job's check (at most one per job: a new one drops
//!   the old) and never blocks; every check ends with exactly one
//!   `(job, passed, detail)` pushed to `out`, by `start` itself (a bad
//!   target, an address that refuses at once) or by `on_io` / `on_timer`,
//!   unless `abort` or `expire` drops it first.
//! - Tokens and timer keys: the component owns `token_base..token_base +
//!   TOKEN_SPAN` (its client's); the owner routes any token or key for
//!   which `owns` is true to `on_io` / `on_timer`.
//! - The deadline is the caller's (one timer covers exec and network
//!   checks alike): when it fires, `expire` drops the check and says what
//!   to report, "timed out" or "timed out resolving its host".
//!
//! Decisions:
//! - `tcp` is a client call that only connects; `http` a GET with
//!   `User-Agent: tug-health` and `Connection: close`, so the client never
//!   pools the connection: each check connects afresh, as a new client of
//!   the service would. Either tries the resolved addresses in turn, IPv4
//!   first, and fails with the client's one-line reason (`connect
//!   127.0.0.1:5432: connection refused`).
//! - The `http` call streams, and the check is decided at the response
//!   head (the call is dropped there; the body is never read): 2xx and 3xx
//!   pass, or exactly `status` when the config gives one.

use crate::config::schema::Check;
use crate::event_loop::EventLoop;
use crate::net::client::{Call, CallId, Client, Endpoint, Reply};
use crate::net::resolver::Config;
use crate::num::dec;
use crate::quote::q;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

pub use crate::net::client::TOKEN_SPAN;

/// A finished check: the job, whether it passed, what to report.
pub type Outcome = (usize, bool, String);

struct Flight {
    job: usize,
    call: CallId,
    http: bool,
    /// `http`: the status the config wants (None: 2xx or 3xx).
    status: Option<u16>,
}

pub struct Checks {
    client: Client,
    /// One per job with a check in flight (a handful: a Vec).
    flights: Vec<Flight>,
}

impl Checks {
    pub fn new(token_base: u64) -> Checks {
        Checks::with_resolver(token_base, Config::System)
    }

    /// Checks whose names resolve with `config` (tests: fixed texts).
    pub fn with_resolver(token_base: u64, config: Config) -> Checks {
        Checks {
            client: Client::with_resolver(token_base, config),
            flights: Vec::new(),
        }
    }

    pub fn owns(&self, token: u64) -> bool {
        self.client.owns(token)
    }

    /// A check of `job` is in flight.
    pub fn busy(&self, job: usize) -> bool {
        self.flights.iter().any(|f| f.job == job)
    }

    /// Starts `check` (`tcp` or `http`) for `job`.
    pub fn start(&mut self, lp: &mut EventLoop, job: usize, check: &Check, out: &mut Vec<Outcome>) {
        self.abort(lp, job);
        let (host, port) = match target(check) {
            Ok(t) => t,
            Err(msg) => return out.push((job, false, msg)),
        };
        let mut call = Call {
            method: "",
            path: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ns: None,
            stream: true,
            max_body: 4096,
        };
        let (mut http, mut status) = (false, None);
        if let Check::Http { url, status: want } = check {
            http = true;
            call.method = "GET";
            call.path = split_url(url).map_or("/", |(_, path)| path).into();
            call.headers = vec![
                ("User-Agent".into(), "tug-health".into()),
                ("Connection".into(), "close".into()),
            ];
            status = *want;
        }
        let mut replies = Vec::new();
        let ep = Endpoint::Tcp { host, port };
        let call = self.client.start(lp, &ep, call, &mut replies);
        self.flights.push(Flight {
            job,
            call,
            http,
            status,
        });
        self.replies(lp, replies, out);
    }

    /// Drops `job`'s check, if any: no outcome will come.
    pub fn abort(&mut self, lp: &mut EventLoop, job: usize) {
        self.expire(lp, job);
    }

    /// The deadline of `job`'s check passed: drops it and returns what to
    /// report (None: no check was in flight).
    pub fn expire(&mut self, lp: &mut EventLoop, job: usize) -> Option<&'static str> {
        let at = self.flights.iter().position(|f| f.job == job)?;
        let call = self.flights.swap_remove(at).call;
        let resolving = self.client.resolving(call);
        self.client.cancel(lp, call);
        Some(if resolving {
            "timed out resolving its host"
        } else {
            "timed out"
        })
    }

    pub fn on_io(&mut self, lp: &mut EventLoop, token: u64, out: &mut Vec<Outcome>) {
        let mut replies = Vec::new();
        self.client.on_ready(lp, token, &mut replies);
        self.replies(lp, replies, out);
    }

    pub fn on_timer(&mut self, lp: &mut EventLoop, key: u64, out: &mut Vec<Outcome>) {
        let mut replies = Vec::new();
        self.client.on_timer(lp, key, &mut replies);
        self.replies(lp, replies, out);
    }

    /// The client's news: a head decides an `http` check (its call is
    /// dropped there), the end of a `tcp` one passes, an error fails.
    fn replies(&mut self, lp: &mut EventLoop, replies: Vec<Reply>, out: &mut Vec<Outcome>) {
        for reply in replies {
            let (id, result) = match reply {
                Reply::Head(id, head) => (id, Ok(head.status)),
                Reply::Done(id, r) => (id, r.map(|resp| resp.head.status)),
                Reply::Data(..) => continue,
            };
            let Some(at) = self.flights.iter().position(|f| f.call == id) else {
                continue;
            };
            let f = self.flights.swap_remove(at);
            self.client.cancel(lp, id);
            // A `tcp` check's call ends when its connection is up.
            let verdict = result.and_then(|s| {
                if !f.http || status_passes(s, f.status) {
                    Ok(())
                } else {
                    Err(format!("HTTP status {s}"))
                }
            });
            out.push(match verdict {
                Ok(()) => (f.job, true, "ok".into()),
                Err(msg) => (f.job, false, msg),
            });
        }
    }
}

/// The status rule of `Check::Http`: 2xx and 3xx pass, or exactly `want`.
fn status_passes(status: u16, want: Option<u16>) -> bool {
    match want {
        Some(want) => status == want,
        None => (200..400).contains(&status),
    }
}

/// Where a `tcp` or `http` check connects: the host (a name or an IP
/// literal, without brackets) and the port.
fn target(check: &Check) -> Result<(String, u16), String> {
    let hostport = match check {
        Check::Tcp(addr) => addr.clone(),
        Check::Http { url, .. } => {
            let (hostport, _) = split_url(url)?;
            if hostport.ends_with(']') || !hostport.contains(':') {
                format!("{hostport}:80")
            } else {
                hostport.into()
            }
        }
        Check::Exec(_) => return Err("not a network check".into()),
    };
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| format!("{hostport} is not host:port", hostport = q(&hostport)))?;
    let port: u16 =
        dec(port).ok_or_else(|| format!("bad port in {hostport}", hostport = q(&hostport)))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.into(), port))
}

/// `http://HOST[:PORT]/PATH` as (HOST[:PORT], /PATH).
fn split_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::Event;
    use crate::net::dns::parse_resolv_conf;
    use crate::sys::net::Ip;
    use crate::sys::signal::SigSet;
    use std::io::{Read, Write};
    use std::net::{TcpListener, UdpSocket};
    use std::string::ToString;
    use std::sync::mpsc;
    use std::thread;

    const BASE: u64 = 2 << 56;
    const JOB: usize = 3;
    const GIVE_UP: u64 = 1;

    struct Fixture {
        lp: EventLoop,
        checks: Checks,
        /// Never answers: a lookup that reaches DNS stays in flight.
        _dns: UdpSocket,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dns = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut conf = parse_resolv_conf("");
            conf.nameservers = vec![(Ip::V4([127, 0, 0, 1]), dns.local_addr().unwrap().port())];
            let config = Config::Fixed {
                conf,
                hosts: "127.0.0.1 web\n".into(),
            };
            Fixture {
                lp: EventLoop::new(&SigSet::empty()).unwrap(),
                checks: Checks::with_resolver(BASE, config),
                _dns: dns,
            }
        }

        /// Runs `check` to its outcome (the loop turns until one comes).
        fn run(&mut self, check: &Check) -> (bool, String) {
            let mut out = Vec::new();
            self.checks.start(&mut self.lp, JOB, check, &mut out);
            let guard = self.lp.add_timer(self.lp.now() + 10_000_000_000, GIVE_UP);
            while out.is_empty() {
                let mut evs = Vec::new();
                self.lp.turn(&mut evs).unwrap();
                for e in evs {
                    match e {
                        Event::Timer(GIVE_UP) => panic!("no outcome"),
                        Event::Timer(k) if self.checks.owns(k) => {
                            self.checks.on_timer(&mut self.lp, k, &mut out)
                        }
                        Event::Io(r) if self.checks.owns(r.token) => {
                            self.checks.on_io(&mut self.lp, r.token, &mut out)
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
            self.lp.cancel_timer(guard);
            assert_eq!(out.len(), 1, "{out:?}");
            assert!(!self.checks.busy(JOB));
            let (job, passed, detail) = out.pop().unwrap();
            assert_eq!(job, JOB);
            (passed, detail)
        }
    }

    fn http(url: &str, status: Option<u16>) -> Check {
        Check::Http {
            url: url.into(),
            status,
        }
    }

    /// A server answering each connection with the next of `replies` (None:
    /// read the request, then hold the connection until the test ends);
    /// the requests it read come back on the channel.
    fn serve(replies: &'static [Option<&'static str>]) -> (u16, mpsc::Receiver<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut held = Vec::new();
            for reply in replies {
                let Ok((mut s, _)) = l.accept() else { return };
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).unwrap();
                let _ = tx.send(String::from_utf8_lossy(&buf[..n]).to_string());
                match reply {
                    Some(r) => s.write_all(r.as_bytes()).unwrap(),
                    None => held.push(s),
                }
            }
            // Hold the silent ones until the test ends (the next connect).
            if !held.is_empty() {
                let _ = l.accept();
            }
        });
        (port, rx)
    }

    #[test]
    fn targets_of_tcp_and_http_checks() {
        let tcp = |a: &str| target(&Check::Tcp(a.into()));
        let http = |u: &str| target(&http(u, None));
        assert_eq!(tcp("[::1]:80"), Ok(("::1".into(), 80)));
        assert_eq!(tcp("db.internal:5432"), Ok(("db.internal".into(), 5432)));
        assert!(tcp("nohost").is_err());
        assert!(tcp("host:99999").is_err());
        assert_eq!(http("http://web/health"), Ok(("web".into(), 80)));
        assert_eq!(http("http://[fd00::1]:8080"), Ok(("fd00::1".into(), 8080)));
        assert!(http("https://web/").is_err());
    }

    #[test]
    fn the_status_rule() {
        assert!(status_passes(200, None));
        assert!(status_passes(302, None));
        assert!(!status_passes(404, None));
        assert!(!status_passes(199, None));
        assert!(status_passes(503, Some(503)));
        assert!(!status_passes(200, Some(204)));
    }

    #[test]
    fn http_checks_against_a_real_listener() {
        let (port, requests) = serve(&[
            Some("HTTP/1.1 204 No Content\r\n\r\n"),
            Some("HTTP/1.0 503 Busy\r\n\r\n"),
            // The head decides: a body that never ends is not waited for.
            Some("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nstart"),
            Some("HTTP/1.1 200 OK\r\n\r\n"),
            Some("garbage\n"),
        ]);
        let mut f = Fixture::new();
        let url = format!("http://web:{port}/health");
        assert_eq!(f.run(&http(&url, None)), (true, "ok".into()));
        assert_eq!(
            requests.recv().unwrap(),
            format!(
                "GET /health HTTP/1.1\r\nHost: web:{port}\r\nUser-Agent: tug-health\r\nConnection: close\r\n\r\n"
            )
        );
        assert_eq!(f.run(&http(&url, None)), (false, "HTTP status 503".into()));
        assert_eq!(f.run(&http(&url, None)), (true, "ok".into()));
        assert_eq!(
            f.run(&http(&url, Some(204))),
            (false, "HTTP status 200".into())
        );
        let (passed, detail) = f.run(&http(&url, Some(200)));
        let peer = format!("web:{port} (127.0.0.1): ");
        assert!(!passed && detail.starts_with(&peer), "{detail}");
        // Nothing listens there.
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let gone = closed.local_addr().unwrap().port();
        drop(closed);
        let (passed, detail) = f.run(&http(&format!("http://web:{gone}/"), None));
        let refused = format!("connect web:{gone} (127.0.0.1): connection refused");
        assert_eq!((passed, detail), (false, refused));
        assert_eq!(f.lp.pending_timers(), 0, "no pooled connection");
    }

    #[test]
    fn tcp_checks_and_bad_targets() {
        let (port, _requests) = serve(&[Some("")]);
        let mut f = Fixture::new();
        let tcp = |a: String| Check::Tcp(a);
        assert_eq!(f.run(&tcp(format!("web:{port}"))), (true, "ok".into()));
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let gone = closed.local_addr().unwrap().port();
        drop(closed);
        let (passed, detail) = f.run(&tcp(format!("127.0.0.1:{gone}")));
        assert_eq!(
            (passed, detail),
            (
                false,
                format!("connect 127.0.0.1:{gone}: connection refused")
            )
        );
        let (passed, detail) = f.run(&http("https://web/", None));
        assert_eq!((passed, detail.as_str()), (false, "only http:// URLs"));
        let (passed, detail) = f.run(&tcp("nohost".into()));
        assert_eq!(
            (passed, detail.as_str()),
            (false, "\"nohost\" is not host:port")
        );
    }

    #[test]
    fn expiry_says_which_stage_it_stopped() {
        let (port, requests) = serve(&[None]);
        let mut f = Fixture::new();
        let mut out = Vec::new();
        // Not in the hosts file: the lookup waits on a silent server.
        f.checks.start(
            &mut f.lp,
            JOB,
            &Check::Tcp("db.example:5432".into()),
            &mut out,
        );
        assert!(out.is_empty() && f.checks.busy(JOB));
        assert_eq!(
            f.checks.expire(&mut f.lp, JOB),
            Some("timed out resolving its host")
        );
        assert!(!f.checks.busy(JOB));
        assert_eq!(f.lp.pending_timers(), 0, "the lookup's timer went with it");
        // A call the server never answers.
        let url = format!("http://127.0.0.1:{port}/");
        f.checks.start(&mut f.lp, JOB, &http(&url, None), &mut out);
        assert!(out.is_empty());
        // The connect completes, and the request goes in the same pump.
        let mut evs = Vec::new();
        f.lp.turn(&mut evs).unwrap();
        for e in evs {
            if let Event::Io(r) = e {
                f.checks.on_io(&mut f.lp, r.token, &mut out);
            }
        }
        assert!(requests.recv().unwrap().starts_with("GET / HTTP/1.1\r\n"));
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(f.checks.expire(&mut f.lp, JOB), Some("timed out"));
        assert_eq!(f.checks.expire(&mut f.lp, JOB), None);
        // Abort drops silently, and a new start replaces an old check.
        f.checks
            .start(&mut f.lp, JOB, &Check::Tcp("db.example:1".into()), &mut out);
        f.checks
            .start(&mut f.lp, JOB, &Check::Tcp("db.example:2".into()), &mut out);
        assert_eq!(f.checks.flights.len(), 1);
        f.checks.abort(&mut f.lp, JOB);
        assert!(!f.checks.busy(JOB) && out.is_empty());
    }
}
