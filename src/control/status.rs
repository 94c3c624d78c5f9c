//! INTERFACE STUB: the status report (`GET /v3/status`, telemetry's
//! `GET /status`, `tug ctl status`). The engine fills it; this module
//! renders it as JSON.

use crate::discovery::Instance;
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub version: String,
    pub pid: i32,
    pub uptime_ns: u64,
    pub maintenance: bool,
    pub shutting_down: bool,
    pub jobs: Vec<JobReport>,
    pub watches: Vec<WatchReport>,
}

#[derive(Clone, Debug, Default)]
pub struct JobReport {
    pub name: String,
    /// "waiting", "running", "restarting", "stopping", "stopped", "completed".
    pub state: &'static str,
    pub pid: Option<i32>,
    pub restarts: u32,
    /// "exit 0", "exit 3", "signal 9"; None before the first exit.
    pub last_exit: Option<String>,
    /// "unknown", "healthy", "unhealthy", "maintenance"; None: no check.
    pub health: Option<&'static str>,
    /// Advertised jobs: service id, address, port, registration state.
    pub service: Option<ServiceReport>,
    /// Nanoseconds until the next scheduled run (interval, cron, restart).
    pub next_run_in_ns: Option<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct ServiceReport {
    pub id: String,
    pub address: String,
    pub port: u16,
    pub registration: String,
}

#[derive(Clone, Debug, Default)]
pub struct WatchReport {
    pub name: String,
    /// What is watched, e.g. "service web", "key config/app".
    pub target: String,
    /// None until the first result.
    pub healthy: Option<bool>,
    pub instances: Vec<Instance>,
}

impl Report {
    /// tug's own JSON shape (documented in the README).
    pub fn to_json(&self) -> String {
        unimplemented!()
    }

    /// ContainerPilot's `/status` shape plus tug's details.
    pub fn to_containerpilot_json(&self) -> String {
        unimplemented!()
    }
}
