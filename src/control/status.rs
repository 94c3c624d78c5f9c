//! The status report (`GET /v3/status`, telemetry's `GET /status`, `tug
//! ctl status`). The engine fills it; this module renders it as JSON.
//!
//! tug's shape (`to_json`); every key is always present, `null` when a
//! value does not apply, durations in whole milliseconds:
//!
//! ```text
//! {"version":"0.1.0","pid":1,"uptime_ms":5000,"maintenance":false,
//!  "shutting_down":false,
//!  "jobs":[{"name":"web","state":"running","pid":42,
//!           "exec":["web","--port","8080"],"when":"at startup",
//!           "runs":2,"restarts":1,"restart_limit":null,
//!           "started_ms_ago":4000,"last_exit":"exit 3",
//!           "last_exit_ms_ago":4000,"health":"healthy",
//!           "check":{"kind":"http","target":"http://localhost:8080/",
//!                    "interval_ms":5000,"timeout_ms":1000,
//!                    "last_passed":true,"last_result":"ok",
//!                    "last_ms_ago":1200},
//!           "service":{"id":"web-a1b2","address":"10.0.0.5","port":8080,
//!                      "registration":"registered"},
//!           "next_run_in_ms":null,"log":{"lines":12,"bytes":960}}],
//!  "watches":[{"name":"db","target":"service db","healthy":true,
//!              "instances":[{"id":"db-1","address":"10.0.0.7","port":5432,
//!                            "tags":["primary"],"meta":{"v":"1"},
//!                            "status":"passing"}]}]}
//! ```
//!
//! `runs` counts the job's starts, `restarts` those of them that its
//! `restarts` setting made after an exit (`restart_limit`: that setting,
//! `null` for unlimited); interval and cron runs and the operator's starts
//! are runs, not restarts. `*_ms_ago`: since the last start, exit, check.
//! `check` is `null` without a health check, `last_*` before its first
//! result; `log` is `null` for a raw job (tug never sees its output).
//! `GET /v3/jobs/NAME` answers one job's object alone.
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
    pub exec: Vec<String>,
    /// What starts it: "at startup", "every 10s", "once db healthy"...
    pub when: String,
    /// The jobs it starts after (`after`; JSON only when there are any).
    pub after: Vec<String>,
    /// Starts (module docs).
    pub runs: u32,
    /// Starts by the restart policy after an exit.
    pub restarts: u32,
    /// None: unlimited.
    pub restart_limit: Option<u32>,
    pub started_ago_ns: Option<u64>,
    /// "exit 0", "exit 3", "signal 9"; None before the first exit.
    pub last_exit: Option<String>,
    pub last_exit_ago_ns: Option<u64>,
    /// "unknown", "healthy", "unhealthy", "maintenance"; None: no check.
    pub health: Option<&'static str>,
    pub check: Option<CheckReport>,
    /// Advertised jobs: service id, address, port, registration state.
    pub service: Option<ServiceReport>,
    /// Nanoseconds until the next scheduled run (interval, cron, restart).
    pub next_run_in_ns: Option<u64>,
    /// Lines and bytes of recent output kept; None: a raw job.
    pub log: Option<(usize, usize)>,
    /// A notify job's last STATUS=.
    pub status: Option<String>,
    /// An inetd job's live connections.
    pub instances: Option<usize>,
    /// `POST .../disable`: it may not start (JSON `"disabled": true`).
    pub disabled: bool,
}

#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    /// "exec", "http", "tcp".
    pub kind: &'static str,
    /// The command, URL or host:port.
    pub target: String,
    pub interval_ns: u64,
    pub timeout_ns: u64,
    /// The last result: passed, what it said, how long ago.
    pub last: Option<(bool, String, u64)>,
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
    /// The job's object of the status JSON, alone.
    pub fn to_json(&self) -> String {
        let mut w = Writer::new();
        self.write(&mut w);
        w.finish()
    }

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
        match self.pid {
            Some(p) => w.int(p.into()),
            None => w.null(),
        };
        w.key("exec").begin_array();
        for word in &self.exec {
            w.string(word);
        }
        w.end_array().field("when", &self.when);
        if !self.after.is_empty() {
            w.key("after").begin_array();
            for a in &self.after {
                w.string(a);
            }
            w.end_array();
        }
        w.key("runs").uint(self.runs.into());
        w.key("restarts").uint(self.restarts.into());
        if self.disabled {
            w.key("disabled").bool(true);
        }
        w.key("restart_limit");
        uint_or_null(w, self.restart_limit.map(u64::from));
        w.key("started_ms_ago");
        ms_or_null(w, self.started_ago_ns);
        w.key("last_exit");
        str_or_null(w, self.last_exit.as_deref());
        w.key("last_exit_ms_ago");
        ms_or_null(w, self.last_exit_ago_ns);
        w.key("health");
        str_or_null(w, self.health);
        w.key("check");
        opt(w, self.check.as_ref(), |w, c| {
            w.begin_object()
                .field("kind", c.kind)
                .field("target", &c.target);
            w.key("interval_ms").uint(c.interval_ns / NS_PER_MS);
            w.key("timeout_ms").uint(c.timeout_ns / NS_PER_MS);
            let last = c.last.as_ref();
            w.key("last_passed");
            opt(w, last, |w, l| w.bool(l.0));
            w.key("last_result");
            str_or_null(w, last.map(|l| l.1.as_str()));
            w.key("last_ms_ago");
            ms_or_null(w, last.map(|l| l.2));
            w.end_object()
        });
        w.key("service");
        opt(w, self.service.as_ref(), |w, s| {
            w.begin_object()
                .field("id", &s.id)
                .field("address", &s.address);
            w.key("port").uint(s.port.into());
            w.field("registration", &s.registration).end_object()
        });
        w.key("next_run_in_ms");
        ms_or_null(w, self.next_run_in_ns);
        w.key("log");
        opt(w, self.log, |w, (lines, bytes)| {
            w.begin_object().key("lines").uint(lines as u64);
            w.key("bytes").uint(bytes as u64).end_object()
        });
        if let Some(text) = &self.status {
            w.field("status", text);
        }
        if let Some(n) = self.instances {
            w.key("instances").uint(n as u64);
        }
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

/// Nanoseconds as whole milliseconds, or `null`.
fn ms_or_null(w: &mut Writer, ns: Option<u64>) {
    uint_or_null(w, ns.map(|ns| ns / NS_PER_MS));
}

/// A number, or `null`.
#[inline(never)]
fn uint_or_null(w: &mut Writer, v: Option<u64>) {
    match v {
        Some(v) => w.uint(v),
        None => w.null(),
    };
}

/// A string, or `null`.
#[inline(never)]
fn str_or_null(w: &mut Writer, v: Option<&str>) {
    match v {
        Some(v) => w.string(v),
        None => w.null(),
    };
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
                    exec: vec!["web".into(), "--port".into(), "8080".into()],
                    when: "at startup".into(),
                    after: vec!["db".into()],
                    runs: 3,
                    restarts: 2,
                    restart_limit: Some(5),
                    started_ago_ns: Some(4_000_000_000),
                    last_exit: Some("exit 3".into()),
                    last_exit_ago_ns: Some(4_100_000_000),
                    health: Some("healthy"),
                    check: Some(CheckReport {
                        kind: "http",
                        target: "http://localhost:8080/".into(),
                        interval_ns: 5_000_000_000,
                        timeout_ns: 1_000_000_000,
                        last: Some((true, "ok".into(), 1_200_000_000)),
                    }),
                    log: Some((12, 960)),
                    status: None,
                    instances: None,
                    disabled: false,
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
                    when: "cron \"*/5 * * * *\" (UTC)".into(),
                    next_run_in_ns: Some(90_000_000_000),
                    log: Some((0, 0)),
                    status: None,
                    instances: None,
                    ..JobReport::default()
                },
                JobReport {
                    name: "setup".into(),
                    state: "completed",
                    runs: 1,
                    restart_limit: Some(0),
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
        for key in [
            "pid",
            "last_exit",
            "health",
            "service",
            "check",
            "restart_limit",
            "started_ms_ago",
            "last_exit_ms_ago",
        ] {
            assert_eq!(k(&jobs[1], key).value, crate::json5::Value::Null);
        }
        assert_eq!(k(&jobs[2], "log").value, crate::json5::Value::Null);
        assert_eq!(as_u64(k(&jobs[0], "runs")), Some(3));
        assert_eq!(as_u64(k(&jobs[0], "restart_limit")), Some(5));
        assert_eq!(as_u64(k(&jobs[0], "last_exit_ms_ago")), Some(4100));
        assert_eq!(
            as_str(&as_array(k(&jobs[0], "exec")).unwrap()[1]),
            Some("--port")
        );
        let check = k(&jobs[0], "check");
        assert_eq!(as_str(k(check, "kind")), Some("http"));
        assert_eq!(as_u64(k(check, "interval_ms")), Some(5000));
        assert_eq!(as_bool(k(check, "last_passed")), Some(true));
        assert_eq!(as_u64(k(check, "last_ms_ago")), Some(1200));
        assert_eq!(as_u64(k(k(&jobs[0], "log"), "bytes")), Some(960));
        // One job alone: the same object.
        let one = parse(sample().jobs[1].to_json().as_bytes()).unwrap();
        assert_eq!(as_str(k(&one, "when")), Some("cron \"*/5 * * * *\" (UTC)"));
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
