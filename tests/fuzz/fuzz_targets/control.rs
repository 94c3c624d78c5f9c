//! The control socket's routes: any request bytes the parser accepts are
//! answered with a status, never a panic; what reaches the engine passed
//! the route's checks (a known job name, a signal number in range, numbers
//! for metrics, strings without '=' or NUL for the environment).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::control::{JobAction, OpError, Ops, Reply, Report, answer};
use tug::jobs::output::LogRing;
use tug::net::http::RequestParser;
use tug::net::server::Request;

struct Fake {
    ring: LogRing,
}

impl Ops for Fake {
    fn status(&self) -> Report {
        Report::default()
    }
    fn job(&mut self, name: &str, action: JobAction) -> Result<String, OpError> {
        if let JobAction::Signal(s) = action {
            assert!((1..=64).contains(&s), "signal {s} reached the engine");
        }
        match name {
            "web" => Ok("done".into()),
            "busy" => Err(OpError::Conflict("busy".into())),
            _ => Err(OpError::UnknownJob),
        }
    }
    fn job_log(&self, name: &str) -> Result<(usize, &LogRing), OpError> {
        match name {
            "web" => Ok((0, &self.ring)),
            "raw" => Err(OpError::Conflict("raw output".into())),
            _ => Err(OpError::UnknownJob),
        }
    }
    fn reload(&mut self) -> Result<(), Vec<String>> {
        Err(vec!["x.json5:1:1: no".into()])
    }
    fn putenv(&mut self, vars: Vec<(String, String)>) {
        for (k, v) in vars {
            assert!(!k.is_empty() && !k.contains('=') && !k.contains('\0'));
            assert!(!v.contains('\0'));
        }
    }
    fn putmetric(&mut self, _values: Vec<(String, f64)>) -> Result<(), String> {
        Ok(())
    }
    fn maintenance(&mut self, _on: bool) {}
    fn shutdown(&mut self) {}
    fn count_request(&mut self, _path: &str, status: u16) {
        assert!((100..600).contains(&status));
    }
}

fuzz_target!(|data: &[u8]| {
    let mut fake = Fake {
        ring: LogRing::new(256),
    };
    fake.ring.push(b"a line");
    let mut parser = RequestParser::new(64 << 10);
    let mut rest = data;
    // Pipelined requests: answer each one the parser completes.
    for _ in 0..8 {
        let Ok(Some(http)) = parser.feed(rest) else {
            return;
        };
        rest = &[];
        match answer(&Request { http, peer: None }, &mut fake) {
            Reply::Now(resp) => assert!((200..600).contains(&resp.status), "{}", resp.status),
            // Only a GET of a known job's logs with ?follow streams.
            Reply::Follow(job, name) => assert!(job == 0 && name == "web"),
            // Only a POST to stop a known job with ?wait waits for it.
            Reply::WaitStop(job) => assert_eq!(job, 0),
        }
    }
});
