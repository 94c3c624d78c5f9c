//! Prometheus metrics. `Metrics` is the registry the engine updates as
//! things happen; `Telemetry` is the HTTP server (TCP, in the loop) that
//! serves `GET /metrics` (text format 0.0.4) and `GET /status` (JSON). Same
//! two-phase flow as the control socket (`net::server`).
//!
//! Decisions:
//! - Families, each with HELP and TYPE, series sorted by labels:
//!   `tug_events_total{code,source}`, `tug_job_restarts_total{job}`,
//!   `tug_job_state{job,state}` (1 for the current state, 0 for the other
//!   five, so `== 0` queries work), `tug_health_checks_total{job,result}`
//!   (`pass`/`fail`), `tug_health_check_duration_seconds{job}` (histogram,
//!   Prometheus' default buckets), `tug_watch_instances{watch}`,
//!   `tug_control_requests_total{path,code}` (`path` is the route pattern,
//!   `/v3/jobs/{job}/start`, so clients cannot grow the label set),
//!   `tug_loop_wakeups_total`, and the process collector's standard
//!   `process_resident_memory_bytes` and `process_open_fds` (the names
//!   ContainerPilot's Go client exposed and dashboards use).
//! - ContainerPilot's names are emitted too, so its dashboards keep
//!   working: `containerpilot_events{code,source}`,
//!   `containerpilot_watch_instances{service}` and
//!   `containerpilot_control_http_requests{code,path}`. The two counters
//!   lack `_total`, which `promtool check metrics` reports for a counter,
//!   so they are typed `untyped`: the stored series are the same.
//! - User metrics (`telemetry.metrics`) are named `namespace_subsystem_name`
//!   with empty parts skipped (what Prometheus' client exposed), and
//!   `POST /v3/metric` also accepts ContainerPilot's own spelling, the
//!   three parts joined even when empty. Their names are kept as declared
//!   (a counter without `_total` stays so). Counters add (never negative),
//!   gauges set, histograms observe into the default buckets, summaries
//!   observe into a window of the last 512 observations, from which the
//!   0.5, 0.9 and 0.99 quantiles are computed at scrape time (nearest
//!   rank; NaN while empty); `_sum` and `_count` cover every observation.
//! - Values: integers as integers; floats as the shortest round-trip
//!   digits (`crate::float`, what core's `{}` prints), `NaN`, `+Inf`,
//!   `-Inf` spelled as Go's ParseFloat reads them.

// The name rule is the config's: it rejects bad names when it loads.
use crate::config::schema::{Metric, metric_name};
use crate::log::error;
use crate::net::server::{Limits, Request, Response, Server};
use crate::num::dec;
use crate::quote::q;
use crate::sys::fd;
use crate::sys::listen;
use crate::sys::net::Ip;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// `/metrics`' content type (text format 0.0.4).
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the process itself looks like, sampled at scrape time.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessStats {
    pub rss_bytes: u64,
    pub open_fds: u64,
    pub wakeups: u64,
}

/// Reads RSS (VmRSS in /proc/self/status: no page size needed) and open
/// fds (/proc/self/fd, less the one listing it); `wakeups` is the loop's
/// count, filled by the caller. Unreadable values are 0.
pub fn process_stats(wakeups: u64) -> ProcessStats {
    let rss_kb = fd::read_file(c"/proc/self/status")
        .ok()
        .and_then(|s| {
            let text = core::str::from_utf8(&s).ok()?;
            let line = text.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
            dec::<u64>(line.trim().trim_end_matches("kB").trim())
        })
        .unwrap_or(0);
    let open_fds = fd::list_dir(c"/proc/self/fd").map_or(0, |names| names.len().saturating_sub(1));
    ProcessStats {
        rss_bytes: rss_kb * 1024,
        open_fds: open_fds as u64,
        wakeups,
    }
}

/// Prometheus' default histogram buckets (upper bounds, as printed).
const BUCKETS: [(f64, &str); 11] = [
    (0.005, "0.005"),
    (0.01, "0.01"),
    (0.025, "0.025"),
    (0.05, "0.05"),
    (0.1, "0.1"),
    (0.25, "0.25"),
    (0.5, "0.5"),
    (1.0, "1"),
    (2.5, "2.5"),
    (5.0, "5"),
    (10.0, "10"),
];
const QUANTILES: [(f64, &str); 3] = [(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99")];
/// Observations a summary's quantiles are computed from.
const SUMMARY_WINDOW: usize = 512;
/// Every state a job reports (control::JobReport::state).
const JOB_STATES: [&str; 6] = [
    "waiting",
    "running",
    "restarting",
    "stopping",
    "stopped",
    "completed",
];

#[derive(Clone, Debug, Default)]
struct Histogram {
    /// Cumulative: observations <= each bucket's bound.
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (n, (bound, _)) in self.buckets.iter_mut().zip(BUCKETS) {
            *n += u64::from(v <= bound);
        }
        self.sum += v;
        self.count += 1;
    }
}

#[derive(Clone, Debug, Default)]
struct Summary {
    /// The last SUMMARY_WINDOW observations, a ring once full.
    window: Vec<f64>,
    next: usize,
    sum: f64,
    count: u64,
}

impl Summary {
    fn observe(&mut self, v: f64) {
        if self.window.len() < SUMMARY_WINDOW {
            self.window.push(v);
        } else {
            self.window[self.next] = v;
            self.next = (self.next + 1) % SUMMARY_WINDOW;
        }
        self.sum += v;
        self.count += 1;
    }

    /// Nearest-rank quantiles of the window, in QUANTILES' order.
    fn quantiles(&self) -> [f64; QUANTILES.len()] {
        // Insertion sort: at most 512 values per scrape, and core's sort
        // would add 3 KB to the binary.
        let mut sorted = self.window.clone();
        for i in 1..sorted.len() {
            let mut j = i;
            while j > 0 && sorted[j - 1] > sorted[j] {
                sorted.swap(j - 1, j);
                j -= 1;
            }
        }
        QUANTILES.map(|(q, _)| {
            if sorted.is_empty() {
                return f64::NAN;
            }
            let rank = ceil(q * sorted.len() as f64) as usize;
            sorted[rank.clamp(1, sorted.len()) - 1]
        })
    }
}

/// ceil() for the small non-negative values a rank is (core's f64 has
/// none without std).
fn ceil(x: f64) -> f64 {
    let t = x as u64 as f64;
    if t < x { t + 1.0 } else { t }
}

/// Series of one family keyed by up to two label values, kept sorted.
/// The keys apart from the values: finding and adding a key is one
/// function for every family, whatever its values are.
struct Table<V> {
    keys: Vec<(String, String)>,
    vals: Vec<V>,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            keys: Vec::new(),
            vals: Vec::new(),
        }
    }
}

/// Where key (a, b) is in `keys`, added there if new (then true).
#[inline(never)]
fn slot(keys: &mut Vec<(String, String)>, a: &str, b: &str) -> (usize, bool) {
    match keys.binary_search_by(|(x, y)| (x.as_str(), y.as_str()).cmp(&(a, b))) {
        Ok(i) => (i, false),
        Err(i) => {
            keys.insert(i, (a.into(), b.into()));
            (i, true)
        }
    }
}

impl<V> Table<V> {
    fn entry(&mut self, a: &str, b: &str, new: V) -> &mut V {
        let (i, added) = slot(&mut self.keys, a, b);
        if added {
            self.vals.insert(i, new);
        }
        &mut self.vals[i]
    }

    fn forget(&mut self, a: &str) {
        while let Some(i) = self.keys.iter().position(|(x, _)| x == a) {
            self.keys.remove(i);
            self.vals.remove(i);
        }
    }
}

enum UserValue {
    Counter(f64),
    Gauge(f64),
    Histogram(Histogram),
    Summary(Summary),
}

struct UserMetric {
    name: String,
    /// ContainerPilot's spelling (parts joined even when empty).
    alias: String,
    help: String,
    value: UserValue,
}

#[derive(Default)]
pub struct Metrics {
    events: Table<u64>,
    restarts: Table<u64>,
    states: Table<&'static str>,
    checks: Table<u64>,
    check_seconds: Table<Histogram>,
    watches: Table<u64>,
    requests: Table<u64>,
    /// The log router's counters (`LOG_FAMILIES`), by source or output.
    logs: [Table<u64>; 5],
    user: Vec<UserMetric>,
}

/// The log router's series: name, label, help.
const LOG_FAMILIES: [(&str, &str, &str); 5] = [
    (
        "tug_log_records_in_total",
        "source",
        "Log records received, by source (unix, udp, tcp, jobs, tug).",
    ),
    (
        "tug_log_records_out_total",
        "output",
        "Log records handed to each log output.",
    ),
    (
        "tug_log_bytes_total",
        "output",
        "Bytes of log records handed to each log output.",
    ),
    (
        "tug_log_rotations_total",
        "output",
        "Size rotations of each log file output.",
    ),
    (
        "tug_log_dropped_total",
        "output",
        "Records a forward's full queue dropped.",
    ),
];

impl Metrics {
    /// The user metrics declared in `telemetry.metrics`; their full name is
    /// `namespace_subsystem_name` (empty parts skipped), as ContainerPilot.
    /// A metric with an invalid or repeated name is logged and left out
    /// (one bad name would make the whole exposition unreadable).
    pub fn new(user: &[Metric]) -> Metrics {
        let mut m = Metrics::default();
        for decl in user {
            let name = match metric_name(decl) {
                Ok(n) => n,
                Err(e) => {
                    error!("telemetry: {e}; metric left out");
                    continue;
                }
            };
            if m.user.iter().any(|u| u.name == name) {
                error!("telemetry: metric {name} is declared twice; the second is left out");
                continue;
            }
            let value = match decl.kind.as_str() {
                "counter" => UserValue::Counter(0.0),
                "gauge" => UserValue::Gauge(0.0),
                "histogram" => UserValue::Histogram(Histogram::default()),
                "summary" => UserValue::Summary(Summary::default()),
                other => {
                    error!(
                        "telemetry: metric {name} has unknown type {other}; left out",
                        other = q(&other)
                    );
                    continue;
                }
            };
            let alias = format!("{}_{}_{}", decl.namespace, decl.subsystem, decl.name);
            m.user.push(UserMetric {
                name,
                alias,
                help: decl.help.clone(),
                value,
            });
        }
        m
    }

    /// Every event published on the bus (`tug_events_total{code,source}`).
    pub fn event(&mut self, code: &str, source: &str) {
        *self.events.entry(code, source, 0) += 1;
    }

    pub fn job_restart(&mut self, job: &str) {
        *self.restarts.entry(job, "", 0) += 1;
    }

    /// The job's current state (one of JobReport's states), as a gauge
    /// `tug_job_state{job,state}` = 1 for the current state.
    pub fn job_state(&mut self, job: &str, state: &'static str) {
        *self.states.entry(job, "", state) = state;
    }

    /// One health check: pass/fail counter and a duration histogram.
    pub fn check(&mut self, job: &str, passed: bool, seconds: f64) {
        let result = if passed { "pass" } else { "fail" };
        *self.checks.entry(job, result, 0) += 1;
        self.check_seconds
            .entry(job, "", Histogram::default())
            .observe(seconds);
    }

    pub fn watch_instances(&mut self, watch: &str, n: usize) {
        *self.watches.entry(watch, "", 0) = n as u64;
    }

    pub fn control_request(&mut self, path: &str, status: u16) {
        let code = format!("{status}");
        *self.requests.entry(path, &code, 0) += 1;
    }

    /// Sets log series `family` (`LOG_FAMILIES`) of `label` to `v`.
    pub fn log_count(&mut self, family: usize, label: &str, v: u64) {
        if let Some(t) = self.logs.get_mut(family) {
            *t.entry(label, "", 0) = v;
        }
    }

    /// `POST /v3/metric`: counter add, gauge set, histogram/summary
    /// observe. All names must be declared and every value fit its metric,
    /// else Err (one line per problem) and nothing is applied.
    pub fn put(&mut self, values: &[(String, f64)]) -> Result<(), String> {
        let mut problems = Vec::new();
        let mut targets = Vec::with_capacity(values.len());
        for (name, v) in values {
            let Some(i) = self
                .user
                .iter()
                .position(|u| u.name == *name || u.alias == *name)
            else {
                problems.push(format!("unknown metric {name}", name = q(&name)));
                continue;
            };
            let bad = match self.user[i].value {
                UserValue::Counter(_) if !(v.is_finite() && *v >= 0.0) => {
                    "a counter only adds finite amounts >= 0"
                }
                UserValue::Histogram(_) | UserValue::Summary(_) if v.is_nan() => {
                    "cannot observe NaN"
                }
                _ => "",
            };
            if bad.is_empty() {
                targets.push((i, *v));
            } else {
                problems.push(format!("{name}: {bad} (got {})", float(*v)));
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("\n"));
        }
        for (i, v) in targets {
            match &mut self.user[i].value {
                UserValue::Counter(c) => *c += v,
                UserValue::Gauge(g) => *g = v,
                UserValue::Histogram(h) => h.observe(v),
                UserValue::Summary(s) => s.observe(v),
            }
        }
        Ok(())
    }

    /// A job removed by reload: forget its series.
    pub fn forget_job(&mut self, job: &str) {
        self.restarts.forget(job);
        self.states.forget(job);
        self.checks.forget(job);
        self.check_seconds.forget(job);
    }

    /// The whole exposition, text format 0.0.4.
    pub fn render(&self, process: &ProcessStats) -> String {
        let mut out = Out(String::with_capacity(4096));
        let events = "Events published on tug's bus, by code and source.";
        out.table(
            "tug_events_total",
            events,
            "counter",
            ["code", "source"],
            &self.events,
        );
        out.table(
            "containerpilot_events",
            "ContainerPilot's name for tug_events_total.",
            "untyped",
            ["code", "source"],
            &self.events,
        );
        out.table(
            "tug_job_restarts_total",
            "Restarts of each job.",
            "counter",
            ["job", ""],
            &self.restarts,
        );
        if !self.states.keys.is_empty() {
            out.family(
                "tug_job_state",
                "1 for the state each job is in, 0 for the others.",
                "gauge",
            );
            for ((job, _), current) in self.states.keys.iter().zip(&self.states.vals) {
                let extra = (!JOB_STATES.contains(current)).then_some(*current);
                for state in JOB_STATES.iter().copied().chain(extra) {
                    out.sample("tug_job_state", &[("job", job), ("state", state)]);
                    out.uint(u64::from(state == *current));
                }
            }
        }
        out.table(
            "tug_health_checks_total",
            "Health check results of each job.",
            "counter",
            ["job", "result"],
            &self.checks,
        );
        if !self.check_seconds.keys.is_empty() {
            let name = "tug_health_check_duration_seconds";
            out.family(name, "How long each job's health checks took.", "histogram");
            for ((job, _), h) in self.check_seconds.keys.iter().zip(&self.check_seconds.vals) {
                out.histogram(name, &[("job", job)], h);
            }
        }
        out.table(
            "tug_watch_instances",
            "Instances each watch sees.",
            "gauge",
            ["watch", ""],
            &self.watches,
        );
        out.table(
            "containerpilot_watch_instances",
            "ContainerPilot's name for tug_watch_instances.",
            "gauge",
            ["service", ""],
            &self.watches,
        );
        out.table(
            "tug_control_requests_total",
            "Control socket requests, by route and status code.",
            "counter",
            ["path", "code"],
            &self.requests,
        );
        if !self.requests.keys.is_empty() {
            let name = "containerpilot_control_http_requests";
            out.family(
                name,
                "ContainerPilot's name for tug_control_requests_total.",
                "untyped",
            );
            for ((path, code), n) in self.requests.keys.iter().zip(&self.requests.vals) {
                out.sample(name, &[("code", code), ("path", path)]);
                out.uint(*n);
            }
        }
        let scalars = [
            (
                "tug_loop_wakeups_total",
                "Times tug's event loop woke up.",
                "counter",
                process.wakeups,
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                "gauge",
                process.rss_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                "gauge",
                process.open_fds,
            ),
        ];
        for (name, help, kind, v) in scalars {
            out.family(name, help, kind);
            out.sample(name, &[]);
            out.uint(v);
        }
        for (t, (name, label, help)) in self.logs.iter().zip(LOG_FAMILIES) {
            out.table(name, help, "counter", [label, ""], t);
        }
        for u in &self.user {
            out.user(u);
        }
        out.0
    }
}

/// The exposition being written.
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, help: &str, kind: &str) {
        let o = &mut self.0;
        o.push_str("# HELP ");
        o.push_str(name);
        o.push(' ');
        escape(o, help, false);
        o.push_str("\n# TYPE ");
        o.push_str(name);
        o.push(' ');
        o.push_str(kind);
        o.push('\n');
    }

    /// `name{l="v",...} ` (labels with an empty name are skipped); the
    /// caller writes the value.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)]) {
        let o = &mut self.0;
        o.push_str(name);
        let mut first = true;
        for (l, v) in labels.iter().filter(|(l, _)| !l.is_empty()) {
            o.push(if first { '{' } else { ',' });
            first = false;
            o.push_str(l);
            o.push_str("=\"");
            escape(o, v, true);
            o.push('"');
        }
        if !first {
            o.push('}');
        }
        o.push(' ');
    }

    fn uint(&mut self, v: u64) {
        let _ = writeln!(self.0, "{v}");
    }

    fn float(&mut self, v: f64) {
        self.0.push_str(&float(v));
        self.0.push('\n');
    }

    /// A family of integer series keyed by one or two labels.
    fn table(&mut self, name: &str, help: &str, kind: &str, labels: [&str; 2], t: &Table<u64>) {
        if t.keys.is_empty() {
            return;
        }
        self.family(name, help, kind);
        for ((a, b), n) in t.keys.iter().zip(&t.vals) {
            self.sample(name, &[(labels[0], a), (labels[1], b)]);
            self.uint(*n);
        }
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let bucket = format!("{name}_bucket");
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        with_le.push(("le", ""));
        for (n, (_, le)) in h.buckets.iter().zip(BUCKETS) {
            *with_le.last_mut().unwrap() = ("le", le);
            self.sample(&bucket, &with_le);
            self.uint(*n);
        }
        *with_le.last_mut().unwrap() = ("le", "+Inf");
        self.sample(&bucket, &with_le);
        self.uint(h.count);
        self.sums(name, labels, h.sum, h.count);
    }

    fn sums(&mut self, name: &str, labels: &[(&str, &str)], sum: f64, count: u64) {
        self.sample(&format!("{name}_sum"), labels);
        self.float(sum);
        self.sample(&format!("{name}_count"), labels);
        self.uint(count);
    }

    fn user(&mut self, u: &UserMetric) {
        let name = u.name.as_str();
        let kind = match u.value {
            UserValue::Counter(_) => "counter",
            UserValue::Gauge(_) => "gauge",
            UserValue::Histogram(_) => "histogram",
            UserValue::Summary(_) => "summary",
        };
        self.family(name, &u.help, kind);
        match &u.value {
            UserValue::Counter(v) | UserValue::Gauge(v) => {
                self.sample(name, &[]);
                self.float(*v);
            }
            UserValue::Histogram(h) => self.histogram(name, &[], h),
            UserValue::Summary(s) => {
                for ((_, q), v) in QUANTILES.iter().zip(s.quantiles()) {
                    self.sample(name, &[("quantile", q)]);
                    self.float(v);
                }
                self.sums(name, &[], s.sum, s.count);
            }
        }
    }
}

/// The text format's escapes: `\` and newline in HELP, also `"` in a
/// label value.
fn escape(o: &mut String, s: &str, label: bool) {
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '"' if label => o.push_str("\\\""),
            c => o.push(c),
        }
    }
}

/// A float as Go's ParseFloat reads it.
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        crate::float::display(v)
    }
}

/// Listens on ip:port (TCP) for scrapes; returns the server (register it
/// with the loop) and the port actually bound (port 0 picks one). The
/// server is the plain loop-driven one: telemetry adds only `route`.
pub fn listen(ip: Ip, port: u16, token_base: u64) -> Result<(Server, u16), String> {
    let addr = crate::net::interfaces::ip_text(&ip);
    let fd = listen::tcp_listener(ip, port)
        .map_err(|e| format!("cannot listen on {addr} port {port}: {e}"))?;
    let port = listen::local_port(&fd).map_err(|e| format!("cannot read the bound port: {e}"))?;
    let limits = Limits {
        // Scrapes have no body.
        max_body: 4 << 10,
        max_conns: 32,
        ..Limits::default()
    };
    Ok((Server::with_limits(fd, token_base, limits), port))
}

const GET_HEAD: &[(&str, &str)] = &[("Allow", "GET, HEAD")];

/// The pages telemetry serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// Prometheus text.
    Metrics,
    /// ContainerPilot's status JSON.
    Status,
}

/// Answers a telemetry request; `body` makes the page asked for, and only
/// that one (a 404 or 405 costs no rendering, no /proc read).
pub fn route(req: &Request, body: &mut dyn FnMut(Page) -> String) -> Response {
    let path = req.path.as_str();
    let page = match path {
        "/metrics" => Page::Metrics,
        "/status" => Page::Status,
        _ => return Response::text(404, &format!("not found: {path} (try /metrics or /status)")),
    };
    if req.method != "GET" && req.method != "HEAD" {
        return Response::method_not_allowed(GET_HEAD);
    }
    match page {
        Page::Status => Response::json(200, body(page)),
        Page::Metrics => Response {
            status: 200,
            content_type: CONTENT_TYPE,
            body: body(page).into_bytes(),
            headers: &[],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::http::ParsedRequest;
    use std::io::Write as _;
    use std::string::ToString;
    use std::vec;

    fn decl(namespace: &str, subsystem: &str, name: &str, kind: &str) -> Metric {
        Metric {
            namespace: namespace.into(),
            subsystem: subsystem.into(),
            name: name.into(),
            help: format!("A {kind}.\nWith a \\ and a newline."),
            kind: kind.into(),
        }
    }

    fn user_metrics() -> Vec<Metric> {
        vec![
            decl("app", "", "hits_total", "counter"),
            decl("app", "db", "connections", "gauge"),
            decl("", "", "latency_seconds", "histogram"),
            decl("app", "", "size_bytes", "summary"),
        ]
    }

    /// Metrics after a little of everything.
    fn busy() -> Metrics {
        let mut m = Metrics::new(&user_metrics());
        m.event("startup", "global");
        m.event("exitFailed", "web");
        m.event("exitFailed", "web");
        m.event("changed", "odd \"quoted\" \\ source\nwith a newline");
        m.job_restart("web");
        m.job_state("web", "running");
        m.job_state("cron", "waiting");
        m.check("web", true, 0.003);
        m.check("web", false, 0.7);
        m.check("web", true, 12.0);
        m.watch_instances("db", 3);
        m.control_request("/v3/ping", 200);
        m.control_request("/v3/jobs/{job}/start", 404);
        let puts = [
            ("app_hits_total", 2.0),
            ("app_hits_total", 0.5),
            ("app_db_connections", -4.25),
            ("latency_seconds", 0.2),
            ("app_size_bytes", 10.0),
            ("app_size_bytes", 30.0),
        ];
        for (n, v) in puts {
            m.put(&[(n.to_string(), v)]).unwrap();
        }
        m
    }

    fn stats() -> ProcessStats {
        ProcessStats {
            rss_bytes: 1 << 20,
            open_fds: 9,
            wakeups: 42,
        }
    }

    /// The value of the sample line starting with `series `.
    fn value(text: &str, series: &str) -> String {
        let prefix = format!("{series} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .to_string()
    }

    #[test]
    fn promtool_accepts_the_exposition() {
        let text = busy().render(&stats());
        let promtool = std::path::Path::new("/usr/bin/promtool");
        if !promtool.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is missing (Debian package prometheus)"
            );
            std::eprintln!("skipped: /usr/bin/promtool is missing (Debian package prometheus)");
            return;
        }
        let mut child = std::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {:?}\n{}{}\n{text}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn families_and_values() {
        let text = busy().render(&stats());
        assert_eq!(
            value(&text, r#"tug_events_total{code="exitFailed",source="web"}"#),
            "2"
        );
        assert_eq!(
            value(
                &text,
                r#"containerpilot_events{code="startup",source="global"}"#
            ),
            "1"
        );
        assert_eq!(
            value(&text, r#"tug_job_state{job="web",state="running"}"#),
            "1"
        );
        assert_eq!(
            value(&text, r#"tug_job_state{job="web",state="waiting"}"#),
            "0"
        );
        assert_eq!(
            value(&text, r#"tug_health_checks_total{job="web",result="pass"}"#),
            "2"
        );
        assert_eq!(value(&text, r#"tug_watch_instances{watch="db"}"#), "3");
        assert_eq!(
            value(&text, r#"containerpilot_watch_instances{service="db"}"#),
            "3"
        );
        assert_eq!(
            value(
                &text,
                r#"containerpilot_control_http_requests{code="404",path="/v3/jobs/{job}/start"}"#
            ),
            "1"
        );
        assert_eq!(value(&text, "tug_loop_wakeups_total"), "42");
        assert_eq!(value(&text, "process_resident_memory_bytes"), "1048576");
        assert_eq!(value(&text, "app_hits_total"), "2.5");
        assert_eq!(value(&text, "app_db_connections"), "-4.25");
        assert_eq!(value(&text, r#"app_size_bytes{quantile="0.5"}"#), "10");
        assert_eq!(value(&text, r#"app_size_bytes{quantile="0.99"}"#), "30");
        assert_eq!(value(&text, "app_size_bytes_sum"), "40");
        assert!(text.contains("# TYPE containerpilot_events untyped\n"));
        assert!(text.contains("# HELP app_hits_total A counter.\\nWith a \\\\ and a newline.\n"));
        // Every family has HELP and TYPE, once, before its samples.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let series = line.split([' ', '{']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| series.strip_suffix(s))
                .filter(|f| text.contains(&format!("# TYPE {f} ")))
                .unwrap_or(series);
            let help = text.find(&format!("# HELP {family} ")).unwrap();
            assert!(help < text.find(line).unwrap(), "{line}");
            assert_eq!(text.matches(&format!("# TYPE {family} ")).count(), 1);
            let v = line.rsplit(' ').next().unwrap();
            assert!(v.parse::<f64>().is_ok() || v == "+Inf", "{line}");
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative_up_to_inf() {
        let text = busy().render(&stats());
        let name = "tug_health_check_duration_seconds_bucket";
        let counts: Vec<u64> = text
            .lines()
            .filter(|l| l.starts_with(name))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(counts.len(), BUCKETS.len() + 1);
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
        assert_eq!(counts[0], 1, "0.003 <= 0.005");
        assert_eq!(counts[counts.len() - 2], 2, "12 s is only in +Inf");
        let inf = value(
            &text,
            r#"tug_health_check_duration_seconds_bucket{job="web",le="+Inf"}"#,
        );
        let count = value(
            &text,
            r#"tug_health_check_duration_seconds_count{job="web"}"#,
        );
        assert_eq!((inf.as_str(), count.as_str()), ("3", "3"));
        assert_eq!(
            value(&text, r#"tug_health_check_duration_seconds_sum{job="web"}"#),
            "12.703"
        );
        assert_eq!(value(&text, r#"latency_seconds_bucket{le="0.25"}"#), "1");
        assert_eq!(value(&text, r#"latency_seconds_bucket{le="0.1"}"#), "0");
        assert_eq!(value(&text, r#"latency_seconds_bucket{le="+Inf"}"#), "1");
    }

    #[test]
    fn label_values_are_escaped() {
        let text = busy().render(&stats());
        assert!(
            text.contains(
                "tug_events_total{code=\"changed\",source=\"odd \\\"quoted\\\" \\\\ source\\nwith a newline\"} 1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn puts_are_checked_before_any_is_applied() {
        let mut m = Metrics::new(&user_metrics());
        let e = m
            .put(&[
                ("app_hits_total".into(), 1.0),
                ("nope".into(), 1.0),
                ("app_hits_total".into(), -1.0),
                ("latency_seconds".into(), f64::NAN),
            ])
            .unwrap_err();
        assert_eq!(
            e,
            "unknown metric \"nope\"\n\
             app_hits_total: a counter only adds finite amounts >= 0 (got -1)\n\
             latency_seconds: cannot observe NaN (got NaN)"
        );
        let text = m.render(&stats());
        assert_eq!(value(&text, "app_hits_total"), "0");
        // ContainerPilot's spelling joins empty parts too.
        m.put(&[("app__hits_total".into(), 3.0)]).unwrap();
        m.put(&[("app_db_connections".into(), f64::INFINITY)])
            .unwrap();
        let text = m.render(&stats());
        assert_eq!(value(&text, "app_hits_total"), "3");
        assert_eq!(value(&text, "app_db_connections"), "+Inf");
        // An empty summary's quantiles are NaN.
        assert_eq!(value(&text, r#"app_size_bytes{quantile="0.9"}"#), "NaN");
        assert_eq!(value(&text, "app_size_bytes_count"), "0");
    }

    #[test]
    fn summary_window_is_bounded() {
        let mut s = Summary::default();
        for i in 1..=2000 {
            s.observe(f64::from(i));
        }
        assert_eq!(s.window.len(), SUMMARY_WINDOW);
        // The window holds 1489..=2000.
        assert_eq!(s.quantiles(), [1744.0, 1949.0, 1995.0]);
        assert_eq!((s.count, s.sum), (2000, 2_001_000.0));
    }

    #[test]
    fn bad_user_metric_names_are_left_out() {
        let m = Metrics::new(&[
            decl("my-app", "", "x", "gauge"),
            decl("", "", "9lives", "gauge"),
            decl("", "", "tug_job_state", "gauge"),
            decl("", "", "ok", "gauge"),
            decl("", "", "ok", "counter"),
        ]);
        assert_eq!(m.user.len(), 1);
        assert!(metric_name(&decl("a", "", "b:c_1", "gauge")).is_ok());
        assert_eq!(metric_name(&decl("a", "", "b", "gauge")).unwrap(), "a_b");
    }

    #[test]
    fn floats_as_go_reads_them() {
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(3.0), "3");
        assert_eq!(float(1e21).parse::<f64>().unwrap(), 1e21);
        assert_eq!(float(1e-7).parse::<f64>().unwrap(), 1e-7);
    }

    #[test]
    fn forgetting_a_job() {
        let mut m = busy();
        m.forget_job("web");
        let text = m.render(&stats());
        assert!(!text.contains("job=\"web\""), "{text}");
        assert!(text.contains("tug_job_state{job=\"cron\""));
        assert!(
            !text.contains("tug_health_check_duration_seconds"),
            "empty families are left out"
        );
    }

    fn req(method: &str, path: &str) -> Request {
        Request {
            http: ParsedRequest {
                method: method.into(),
                path: path.into(),
                query: String::new(),
                headers: Vec::new(),
                body: Vec::new(),
                keep_alive: true,
            },
            peer: None,
        }
    }

    #[test]
    fn routes() {
        let m = busy();
        let mut asked = Vec::new();
        let mut page = |p: Page| {
            asked.push(p);
            match p {
                Page::Metrics => m.render(&stats()),
                Page::Status => String::from("{\"Version\":\"x\"}"),
            }
        };
        let r = route(&req("GET", "/metrics"), &mut page);
        assert_eq!((r.status, r.content_type), (200, CONTENT_TYPE));
        assert!(r.body.starts_with(b"# HELP tug_events_total "));
        let r = route(&req("GET", "/status"), &mut page);
        assert_eq!(
            (r.status, r.content_type, &r.body[..]),
            (200, "application/json", &b"{\"Version\":\"x\"}"[..])
        );
        let r = route(&req("POST", "/status"), &mut page);
        assert_eq!((r.status, r.headers), (405, GET_HEAD));
        assert_eq!(route(&req("GET", "/"), &mut page).status, 404);
        assert_eq!(route(&req("HEAD", "/metrics"), &mut page).status, 200);
        // Only what a 200 shows is made.
        assert_eq!(
            asked,
            [Page::Metrics, Page::Status, Page::Metrics],
            "404 and 405 render nothing"
        );
    }

    #[test]
    fn process_stats_are_read() {
        let s = process_stats(5);
        assert!(s.rss_bytes > 1 << 20, "{s:?}");
        assert!(s.open_fds >= 3, "{s:?}");
        assert_eq!(s.wakeups, 5);
    }

    #[test]
    fn scrape_over_tcp() {
        use crate::event_loop::{Event, EventLoop};
        use crate::sys::signal::SigSet;
        use std::io::Read;
        let mut lp = EventLoop::new(&SigSet::empty()).unwrap();
        let (mut t, port) = listen(Ip::V4([127, 0, 0, 1]), 0, 5 << 56).unwrap();
        t.register(&lp).unwrap();
        assert_ne!(port, 0);
        let client = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut all = String::new();
            s.read_to_string(&mut all).unwrap();
            all
        });
        let m = busy();
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !client.is_finished() {
            assert!(std::time::Instant::now() < give_up);
            let tick = lp.add_timer(lp.now() + 10_000_000, 1);
            let mut evs = Vec::new();
            lp.turn(&mut evs).unwrap();
            let mut pending = Vec::new();
            for e in evs {
                match e {
                    Event::Io(r) if t.owns(r.token) => t.on_ready(&mut lp, r.token, &mut pending),
                    Event::Timer(k) if t.owns(k) => t.on_timer(&mut lp, k),
                    _ => {}
                }
            }
            for p in pending {
                let stats = process_stats(lp.wakeups());
                let resp = route(&p.req, &mut |_| m.render(&stats));
                t.respond(&mut lp, p.conn, resp);
            }
            lp.cancel_timer(tick);
        }
        let all = client.join().unwrap();
        assert!(all.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
        assert!(all.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")));
        assert!(all.contains("\r\n\r\n# HELP tug_events_total"));
        t.shutdown(&mut lp);
    }
}
