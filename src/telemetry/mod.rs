//! INTERFACE STUB (to be implemented): Prometheus metrics. `Metrics` is the
//! registry the engine updates as things happen; `Telemetry` is the HTTP
//! server (TCP, in the loop) that serves `GET /metrics` (text format 0.0.4)
//! and `GET /status` (JSON). Same two-phase flow as the control socket.

use crate::config::schema::Metric;
use crate::control::Pending;
use crate::event_loop::EventLoop;
use crate::net::server::Response;
use crate::sys::net::Ip;
use alloc::string::String;
use alloc::vec::Vec;

/// What the process itself looks like, sampled at scrape time.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessStats {
    pub rss_bytes: u64,
    pub open_fds: u64,
    pub wakeups: u64,
}

/// Reads RSS (/proc/self/statm) and open fds (/proc/self/fd); `wakeups`
/// is the loop's count, filled by the caller.
pub fn process_stats(_wakeups: u64) -> ProcessStats {
    unimplemented!()
}

#[derive(Default)]
pub struct Metrics {}

impl Metrics {
    /// The user metrics declared in `telemetry.metrics`; their full name is
    /// `namespace_subsystem_name` (empty parts skipped), as ContainerPilot.
    pub fn new(_user: &[Metric]) -> Metrics {
        unimplemented!()
    }

    /// Every event published on the bus (`tug_events_total{code,source}`).
    pub fn event(&mut self, _code: &str, _source: &str) {
        unimplemented!()
    }

    pub fn job_restart(&mut self, _job: &str) {
        unimplemented!()
    }

    /// The job's current state (one of JobReport's states), as a gauge
    /// `tug_job_state{job,state}` = 1 for the current state.
    pub fn job_state(&mut self, _job: &str, _state: &'static str) {
        unimplemented!()
    }

    /// One health check: pass/fail counter and a duration histogram.
    pub fn check(&mut self, _job: &str, _passed: bool, _seconds: f64) {
        unimplemented!()
    }

    pub fn watch_instances(&mut self, _watch: &str, _n: usize) {
        unimplemented!()
    }

    pub fn control_request(&mut self, _path: &str, _status: u16) {
        unimplemented!()
    }

    /// `POST /v3/metric`: counter add, gauge set, histogram/summary
    /// observe. All names must be declared, else Err and nothing applied.
    pub fn put(&mut self, _values: &[(String, f64)]) -> Result<(), String> {
        unimplemented!()
    }

    /// A job removed by reload: forget its series.
    pub fn forget_job(&mut self, _job: &str) {
        unimplemented!()
    }

    /// The whole exposition, text format 0.0.4.
    pub fn render(&self, _process: &ProcessStats) -> String {
        unimplemented!()
    }
}

pub struct Telemetry {}

impl Telemetry {
    /// Listens on ip:port (TCP).
    pub fn open(_ip: Ip, _port: u16, _token_base: u64) -> Result<Telemetry, String> {
        unimplemented!()
    }

    /// The port actually bound (port 0 picks one).
    pub fn port(&self) -> u16 {
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

    pub fn close(&mut self, _lp: &mut EventLoop) {
        unimplemented!()
    }
}

/// Answers a telemetry request: `/metrics` from `metrics`, `/status` from
/// the report's ContainerPilot JSON; 404/405 otherwise.
pub fn route(
    _req: &crate::net::server::Request,
    _metrics: &Metrics,
    _process: &ProcessStats,
    _status_json: &dyn Fn() -> String,
) -> Response {
    unimplemented!()
}
