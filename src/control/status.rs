//! The status report (`GET /v3/status`, telemetry's `GET /status`, `tug
//! ctl status`). The engine fills it; this module renders it as JSON.
//!
//! tug's shape (`to_json`); every key is always present, `null` when a
//! value does not apply, durations in whole milliseconds:
//!
//! ```text
//! {"version":"0.1.0","pid":1,"uptime_ms":5000,"maintenance":false,
//!  "shutting_down":false,
//!  "jobs":[{"name":"web","state":"running","pid":42,"restarts":1,
//!           "last_exit":"exit 3","health":"healthy",
//!           "service":{"id":"web-a1b2","address":"10.0.0.5","port":8080,
//!                      "registration":"registered"},
//!           "next_run_in_ms":null}],
//!  "watches":[{"name":"db","target":"service db","healthy":true,
//!              "instances":[{"id":"db-1","address":"10.0.0.7","port":5432,
//!                            "tags":["primary"],"meta":{"v":"1"},
//!                            "status":"passing"}]}]}
//! ```
//!
//! ContainerPilot's shape (`to_containerpilot_json`, its telemetry
//! `/status`): `Version`, `Jobs` (`Name`, `Status`) for jobs that are not
//! advertised, `Services` (`Name`, `Address`, `Port`, `Status`) for those
//! that are, and `Watches` (names). `Status` is ContainerPilot's: the
//! health (`unknown`, `healthy`, `unhealthy`, `maintenance`), or
//! `completed`. tug's whole report follows under the extra key `tug`,
//! which ContainerPilot's readers ignore.

use crate::discovery::Instance;
use crate::json::Writer;
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

const NS_PER_MS: u64 = 1_000_000;

impl Report {
    /// tug's own JSON shape (see the module docs).
    pub fn to_json(&self) -> String {
        let mut w = Writer::new();
        self.write(&mut w);
        w.finish()
    }

    /// ContainerPilot's `/status` shape plus tug's details under `tug`.
    pub fn to_containerpilot_json(&self) -> String {
        let mut w = Writer::new();
        w.begin_object().field("Version", &self.version);
        w.key("Jobs").begin_array();
        for j in self.jobs.iter().filter(|j| j.service.is_none()) {
            w.begin_object().field("Name", &j.name);
            w.field("Status", j.containerpilot_status()).end_object();
        }
        w.end_array().key("Services").begin_array();
        for j in &self.jobs {
            if let Some(s) = &j.service {
                w.begin_object().field("Name", &j.name);
                w.field("Address", &s.address)
                    .key("Port")
                    .uint(s.port.into());
                w.field("Status", j.containerpilot_status()).end_object();
            }
        }
        w.end_array().key("Watches").begin_array();
        for watch in &self.watches {
            w.string(&watch.name);
        }
        w.end_array().key("tug");
        self.write(&mut w);
        w.end_object();
        w.finish()
    }

    fn write(&self, w: &mut Writer) {
        w.begin_object().field("version", &self.version);
        w.key("pid").int(self.pid.into());
        w.key("uptime_ms").uint(self.uptime_ns / NS_PER_MS);
        w.key("maintenance").bool(self.maintenance);
        w.key("shutting_down").bool(self.shutting_down);
        w.key("jobs").begin_array();
        for j in &self.jobs {
            j.write(w);
        }
        w.end_array().key("watches").begin_array();
        for watch in &self.watches {
            watch.write(w);
        }
        w.end_array().end_object();
    }
}

impl JobReport {
    /// ContainerPilot's job status: its health, or `completed`.
    fn containerpilot_status(&self) -> &'static str {
        if self.state == "completed" {
            "completed"
        } else {
            self.health.unwrap_or("unknown")
        }
    }

    fn write(&self, w: &mut Writer) {
        w.begin_object().field("name", &self.name);
        w.field("state", self.state).key("pid");
        opt(w, self.pid, |w, p| w.int(p.into()));
        w.key("restarts").uint(self.restarts.into());
        w.key("last_exit");
        opt(w, self.last_exit.as_deref(), |w, e| w.string(e));
        w.key("health");
        opt(w, self.health, |w, h| w.string(h));
        w.key("service");
        opt(w, self.service.as_ref(), |w, s| {
            w.begin_object()
                .field("id", &s.id)
                .field("address", &s.address);
            w.key("port").uint(s.port.into());
            w.field("registration", &s.registration).end_object()
        });
        w.key("next_run_in_ms");
        opt(w, self.next_run_in_ns, |w, ns| w.uint(ns / NS_PER_MS));
        w.end_object();
    }
}

impl WatchReport {
    fn write(&self, w: &mut Writer) {
        w.begin_object().field("name", &self.name);
        w.field("target", &self.target).key("healthy");
        opt(w, self.healthy, |w, h| w.bool(h));
        w.key("instances").begin_array();
        for i in &self.instances {
            w.begin_object()
                .field("id", &i.id)
                .field("address", &i.address);
            w.key("port").uint(i.port.into()).key("tags").begin_array();
            for t in &i.tags {
                w.string(t);
            }
            w.end_array().key("meta").begin_object();
            for (k, v) in &i.meta {
                w.field(k, v);
            }
            w.end_object().field("status", &i.status).end_object();
        }
        w.end_array().end_object();
    }
}

/// A value, or `null`.
fn opt<T>(w: &mut Writer, v: Option<T>, f: impl FnOnce(&mut Writer, T) -> &mut Writer) {
    match v {
        Some(v) => {
            f(w, v);
        }
        None => {
            w.null();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::json::{as_array, as_bool, as_str, as_u64, get, parse};
    use std::vec;

    /// A report with one of everything (also used by the route tests).
    pub(crate) fn sample() -> Report {
        Report {
            version: "0.1.0".into(),
            pid: 7,
            uptime_ns: 5_250_000_000,
            maintenance: false,
            shutting_down: false,
            jobs: vec![
                JobReport {
                    name: "web \"x\"".into(),
                    state: "running",
                    pid: Some(42),
                    restarts: 2,
                    last_exit: Some("exit 3".into()),
                    health: Some("healthy"),
                    service: Some(ServiceReport {
                        id: "web-abc".into(),
                        address: "10.0.0.5".into(),
                        port: 8080,
                        registration: "registered".into(),
                    }),
                    next_run_in_ns: None,
                },
                JobReport {
                    name: "cron".into(),
                    state: "waiting",
                    next_run_in_ns: Some(90_000_000_000),
                    ..JobReport::default()
                },
                JobReport {
                    name: "setup".into(),
                    state: "completed",
                    last_exit: Some("exit 0".into()),
                    ..JobReport::default()
                },
            ],
            watches: vec![WatchReport {
                name: "db".into(),
                target: "service db".into(),
                healthy: Some(true),
                instances: vec![Instance {
                    id: "db-1".into(),
                    address: "10.0.0.7".into(),
                    port: 5432,
                    tags: vec!["primary".into()],
                    meta: vec![("v".into(), "1".into())],
                    status: "passing".into(),
                }],
            }],
        }
    }

    #[test]
    fn tug_shape() {
        let doc = parse(sample().to_json().as_bytes()).unwrap();
        let k = |n, key| get(n, key).unwrap();
        assert_eq!(as_u64(k(&doc, "uptime_ms")), Some(5250));
        assert_eq!(as_bool(k(&doc, "maintenance")), Some(false));
        let jobs = as_array(k(&doc, "jobs")).unwrap();
        assert_eq!(as_str(k(&jobs[0], "name")), Some("web \"x\""));
        assert_eq!(as_u64(k(&jobs[0], "pid")), Some(42));
        assert_eq!(as_u64(k(&jobs[0], "restarts")), Some(2));
        assert_eq!(as_str(k(&jobs[0], "last_exit")), Some("exit 3"));
        assert_eq!(as_u64(k(k(&jobs[0], "service"), "port")), Some(8080));
        assert_eq!(as_u64(k(&jobs[1], "next_run_in_ms")), Some(90_000));
        for key in ["pid", "last_exit", "health", "service"] {
            assert_eq!(k(&jobs[1], key).value, crate::config::json5::Value::Null);
        }
        let watch = &as_array(k(&doc, "watches")).unwrap()[0];
        assert_eq!(as_bool(k(watch, "healthy")), Some(true));
        let inst = &as_array(k(watch, "instances")).unwrap()[0];
        assert_eq!(as_str(k(inst, "status")), Some("passing"));
        assert_eq!(as_str(k(k(inst, "meta"), "v")), Some("1"));
    }

    #[test]
    fn containerpilot_shape() {
        let text = sample().to_containerpilot_json();
        assert!(
            text.starts_with(
                r#"{"Version":"0.1.0","Jobs":[{"Name":"cron","Status":"unknown"},{"Name":"setup","Status":"completed"}],"Services":[{"Name":"web \"x\"","Address":"10.0.0.5","Port":8080,"Status":"healthy"}],"Watches":["db"],"tug":{"version""#
            ),
            "{text}"
        );
        let doc = parse(text.as_bytes()).unwrap();
        let tug = get(&doc, "tug").unwrap();
        assert_eq!(as_array(get(tug, "jobs").unwrap()).unwrap().len(), 3);
        let empty = Report::default().to_containerpilot_json();
        assert!(empty.starts_with(r#"{"Version":"","Jobs":[],"Services":[],"Watches":[],"#));
    }
}
