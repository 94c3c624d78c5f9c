//! INTERFACE STUB (to be implemented): the control socket. An HTTP/1.1
//! server on a unix socket inside the loop, ContainerPilot's `/v3/...`
//! routes plus tug's own; the engine does the work through `Ops`.
//!
//! Flow (two phases, so the engine can lend itself as `Ops` without
//! borrowing the server at the same time):
//!   control.on_ready(lp, token, &mut pending);       // parsed requests
//!   for p in pending { let r = control::route(&p.req, self); control.respond(lp, p.conn, r); }

pub mod status;

use crate::discovery::Instance;
use crate::event_loop::EventLoop;
use crate::net::server::{Request, Response};
use alloc::string::String;
use alloc::vec::Vec;

pub use status::{JobReport, Report, ServiceReport, WatchReport};

/// What the control plane can ask of the engine.
pub trait Ops {
    fn status(&self) -> Report;
    fn job(&mut self, name: &str, action: JobAction) -> Result<(), OpError>;
    /// Re-reads and re-renders the config; Err: the load errors (the
    /// running set is kept).
    fn reload(&mut self) -> Result<(), Vec<String>>;
    /// Environment for future spawns only.
    fn putenv(&mut self, vars: Vec<(String, String)>);
    /// Unknown metric names are an error; nothing is applied then.
    fn putmetric(&mut self, values: Vec<(String, f64)>) -> Result<(), String>;
    fn maintenance(&mut self, on: bool);
    fn shutdown(&mut self);
    /// Counts a control request (telemetry).
    fn count_request(&mut self, path: &str, status: u16);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobAction {
    Start,
    Stop,
    Restart,
    Signal(i32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpError {
    /// 404
    UnknownJob,
    /// 409: e.g. starting a job that is running, during shutdown.
    Conflict(String),
}

/// A parsed request waiting for its answer, and the connection it came on.
pub struct Pending {
    pub conn: u64,
    pub req: Request,
}

pub struct Control {}

impl Control {
    /// Listens on `path` (mode 0600). A stale socket file is replaced; a
    /// live one (another tug answering) is an error. `allow`: uids besides
    /// root and tug's own uid that may connect.
    pub fn open(_path: &str, _allow: &[u32], _token_base: u64) -> Result<Control, String> {
        unimplemented!()
    }

    pub fn owns(&self, _token: u64) -> bool {
        unimplemented!()
    }

    pub fn on_ready(&mut self, _lp: &mut EventLoop, _token: u64, _out: &mut Vec<Pending>) {
        unimplemented!()
    }

    pub fn on_timer(&mut self, _lp: &mut EventLoop, _key: u64) {
        unimplemented!()
    }

    pub fn respond(&mut self, _lp: &mut EventLoop, _conn: u64, _resp: Response) {
        unimplemented!()
    }

    /// Stops listening and removes the socket file.
    pub fn close(&mut self, _lp: &mut EventLoop) {
        unimplemented!()
    }
}

/// Answers one request (peer already checked by `Control`).
pub fn route(_req: &Request, _ops: &mut dyn Ops) -> Response {
    unimplemented!()
}

#[allow(dead_code)]
fn _uses(_: Instance) {}
