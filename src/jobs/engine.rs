//! The supervisor: every job of a config (plus an optional main command)
//! driven by events inside the one loop.
//!
//! Events go through a plain queue that is drained after every turn of
//! the loop, so they are delivered in order and none is lost. A queue
//! cannot grow without bound: an event only makes jobs change state or
//! start processes, and new events come from processes exiting, timers
//! and signals, all of which arrive one turn at a time. Reaping, signals
//! and health checks are never behind a lock or a full channel.

mod advertise;
mod ops;

use super::output::{LOG_RING, LogRing, Output};
use crate::config::schema::{Check, Config, JobConfig, Restarts, When};
use crate::control::Control;
use crate::discovery::Discovery;
use crate::env::Environ;
use crate::event_loop::{Event, EventLoop, READABLE, TimerId};
use crate::health::Checks;
use crate::log::{debug, error, info, warning};
use crate::process::command::Command;
use crate::process::signals::{self, Inherited};
use crate::process::{tree, users};
use crate::sys::Errno;
use crate::sys::fd::{self, Fd};
use crate::sys::process::{self as proc, ExitStatus};
use crate::sys::signal::kill;
use crate::sys::spawn::Credentials;
use crate::sys::time::wall_clock;
use crate::telemetry::Metrics;
use alloc::collections::VecDeque;
use alloc::ffi::CString;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::ffi::{CStr, c_char};

pub use crate::events::{CODES, Code, Ev, GLOBAL};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Unknown,
    Healthy,
    Unhealthy,
    Maintenance,
}

/// Per-job timers; the timer key is `job << 8 | kind`.
#[derive(Clone, Copy)]
enum T {
    /// when.timeout: the start event did not come.
    WhenTimeout = 0,
    /// `timeout`: the run took too long.
    RunTimeout,
    /// stopTimeout after the stop signal: SIGKILL.
    StopKill,
    /// stopTimeout while waiting for a preStop-style job to finish.
    StopWait,
    /// A delayed restart (restartDelay / backoff).
    Restart,
    /// when.interval tick.
    Interval,
    /// when.cron tick.
    Cron,
    /// Next health check.
    Health,
    /// The running health check took too long.
    HealthTimeout,
}
const T_COUNT: usize = 9;
/// Timer key of the leftover-process grace deadline (not a job's).
const GRACE_KEY: u64 = u64::MAX >> 1;

/// Token kinds (top byte) for the loop.
const TOK_OUTPUT: u64 = 1 << 56;
/// The network health checks (`health::Checks`, with their resolver).
const TOK_NET: u64 = 2 << 56;
const TOK_PIDFD: u64 = 3 << 56;
/// The control socket, telemetry and discovery own whole ranges of tokens
/// and timer keys (their top byte), so one mask routes their I/O and
/// their timers alike.
const TOK_CONTROL: u64 = 4 << 56;
const TOK_TELEMETRY: u64 = 5 << 56;
const TOK_DISCOVERY: u64 = 6 << 56;
const TOK_MASK: u64 = 0xff << 56;
/// Timer key of the telemetry service's heartbeat.
const TELEMETRY_BEAT_KEY: u64 = GRACE_KEY - 1;

struct Job {
    cfg: JobConfig,
    argv: Vec<CString>,
    /// The `when` event (None: started by startup, interval or cron only).
    start_on: Option<Ev>,
    /// Whether the start event still starts the job.
    listening: bool,
    /// Starts left (None: unlimited).
    starts_remain: Option<u32>,
    restarts_remain: Option<u32>,
    pid: Option<i32>,
    started_at: u64,
    /// Start again as soon as the current run exits.
    pending_start: bool,
    /// No more runs: stopping (or stopped) for good.
    halting: bool,
    /// Shutdown asked this job to stop; it waits for its dependents first.
    quit_requested: bool,
    stopping_sent: bool,
    complete: bool,
    /// Job whose `stopped` we wait for before stopping (ContainerPilot's
    /// preStop pattern: `when: {source: THIS, once: "stopping"}`).
    wait_for_stopped: Option<String>,
    status: Status,
    last_failed: bool,
    quick_failures: u32,
    timers: [Option<TimerId>; T_COUNT],
    check_pid: Option<i32>,
    /// When the running health check started (for its duration metric).
    check_started: u64,
    is_main: bool,
    /// Deadline of each armed timer, for status ("next run in").
    timer_at: [u64; T_COUNT],
    /// Starts, and those the restart policy made after an exit (status).
    runs: u32,
    restarts: u32,
    last_exit: Option<ExitStatus>,
    exited_at: u64,
    /// The last health check: passed, what it said, when.
    last_check: Option<(bool, String, u64)>,
    /// Recent output, for `tug ctl logs`.
    log: LogRing,
    /// Advertised jobs: the service instance, once its address is known.
    service: Option<crate::discovery::Service>,
    /// `add_service` was called and no `remove_service` since.
    advertised: bool,
    /// Dropped by a reload: complete for good, kept so indices stay valid.
    removed: bool,
    /// Stopped by the operator (`tug ctl stop`): it does not count as done,
    /// so tug keeps running until it is started again or shut down.
    held: bool,
    /// Why the last start failed (no fork, or the exec failed), for the
    /// control socket's answer.
    start_error: Option<String>,
}

impl Job {
    /// Runnable again, as configured: not stopping or stopped, the restart
    /// budget and backoff reset, health unknown (maintenance persists).
    fn rearm(&mut self) {
        self.complete = false;
        self.halting = false;
        self.held = false;
        self.stopping_sent = false;
        self.quit_requested = false;
        self.restarts_remain = restart_budget(self.cfg.restarts);
        // The count shown against the budget starts again with it.
        self.restarts = 0;
        self.quick_failures = 0;
        self.forget_health();
    }

    /// A new run's health is unknown, unless maintenance holds it.
    fn forget_health(&mut self) {
        if self.status != Status::Maintenance {
            self.status = Status::Unknown;
        }
    }
}

enum Owner {
    Job(usize),
    Check(usize),
}

struct ProcEntry {
    pid: i32,
    owner: Owner,
    _pidfd: Option<Fd>,
}

pub struct Supervisor<'e> {
    lp: EventLoop,
    inherited: Inherited,
    env: &'e Environ,
    jobs: Vec<Job>,
    /// Live children, a handful: a Vec costs far less code than a map.
    procs: Vec<ProcEntry>,
    outputs: Vec<Option<Output>>,
    bus: VecDeque<Ev>,
    shutting_down: bool,
    /// Exit code of the main command, once it exited.
    main_code: Option<i32>,
    has_main: bool,
    /// All jobs complete: only leftover processes remain to be reaped.
    draining: bool,
    no_children: bool,
    stop_timeout: u64,
    log_path: Option<CString>,
    dev_null: Option<Fd>,
    /// Every job's network health check in flight.
    checks: Checks,
    discovery: Option<Discovery>,
    control: Option<Control>,
    /// The telemetry endpoint: a plain server; `telemetry::route` answers.
    telemetry: Option<crate::net::server::Server>,
    /// The telemetry endpoint's own service, when discovery is configured.
    telemetry_service: Option<String>,
    metrics: Metrics,
    watches: Vec<advertise::WatchState>,
    /// `/v3/environ`: variables for future spawns (never tug's own).
    extra_env: Vec<(String, String)>,
    maintenance: bool,
    /// Deregistration at exit has begun.
    discovery_closing: bool,
    /// Where the config came from, for reload.
    config_path: String,
    started_ns: u64,
    hostname: String,
    /// This host's interface addresses, read when something needs to
    /// choose one (discovery, telemetry) and again on reload.
    ifaces: core::result::Result<Vec<crate::net::interfaces::IfAddr>, String>,
}

/// How `run` was invoked, beyond the config itself.
pub struct Options<'a> {
    pub config_path: &'a str,
    /// `--socket`: the control socket path (else TUG_SOCKET, control.socket,
    /// the default).
    pub socket: Option<&'a str>,
    /// Where the socket goes when nothing names it (ContainerPilot's path
    /// when tug runs under its name).
    pub default_socket: &'a str,
}

/// Runs `config` (and `main`, the command after `--`) until everything
/// has stopped; returns tug's exit code.
pub fn run(config: Config, main: &[&CStr], env: &Environ, opts: &Options<'_>) -> i32 {
    let (inherited, lp) = match signals::become_init() {
        Ok(x) => x,
        Err(e) => {
            error!("cannot set up signal handling: {e}");
            return 1;
        }
    };
    let started_ns = lp.now();
    let mut s = Supervisor {
        lp,
        inherited,
        env,
        jobs: Vec::new(),
        procs: Vec::new(),
        outputs: Vec::new(),
        bus: VecDeque::new(),
        shutting_down: false,
        main_code: None,
        has_main: !main.is_empty(),
        draining: false,
        no_children: false,
        stop_timeout: config.stop_timeout,
        log_path: None,
        dev_null: fd::dev_null().ok(),
        checks: Checks::new(TOK_NET),
        discovery: None,
        control: None,
        telemetry: None,
        telemetry_service: None,
        metrics: Metrics::new(config.telemetry.as_ref().map_or(&[], |t| &t.metrics[..])),
        watches: Vec::new(),
        extra_env: Vec::new(),
        maintenance: false,
        discovery_closing: false,
        config_path: opts.config_path.into(),
        started_ns,
        hostname: crate::sys::host::hostname(),
        ifaces: Ok(Vec::new()),
    };
    if let Err(e) = s.open_log(&config) {
        error!("{e}");
        return 1;
    }
    // The config's warnings, once, where its own logging says.
    for w in &config.warnings {
        warning!("{w}");
    }
    if let Err(e) = s.open_services(&config, opts) {
        error!("{e}");
        return 1;
    }
    let mut cfgs = config.jobs;
    if !main.is_empty() {
        cfgs.push(main_job(main, &cfgs, config.stop_timeout));
    }
    for cfg in cfgs {
        s.add_job(cfg);
    }
    if let Some(last) = s.jobs.last_mut().filter(|_| !main.is_empty()) {
        last.is_main = true;
    }
    s.link_stop_waits();
    s.add_watches(&config.watches);
    s.start();
    s.run_loop()
}

/// The command after `--` as a job: starts at startup, never restarts, and
/// its output goes straight to tug's stdout/stderr.
fn main_job(argv: &[&CStr], others: &[JobConfig], stop_timeout: u64) -> JobConfig {
    let words: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let base = words[0].rsplit('/').next().unwrap_or("main").to_string();
    let name = if others.iter().any(|j| j.name == base) {
        format!("{base}-main")
    } else {
        base
    };
    JobConfig {
        name,
        pos: Default::default(),
        exec: Some(words),
        when: When::Startup,
        restarts: Restarts::Limit(0),
        timeout: None,
        stop_timeout,
        stop_signal: libc::SIGTERM,
        health: None,
        raw_output: true,
        port: None,
        interfaces: Vec::new(),
        tags: Vec::new(),
        meta: Vec::new(),
        initial_status: None,
        enable_tag_override: false,
        deregister_after: None,
        restart_delay: 0,
        restart_max_delay: 0,
        restart_reset_after: 0,
        user: None,
        group: None,
        workdir: None,
        env: Vec::new(),
    }
}

/// Parses the `exec` words into C strings for execve.
fn argv_of(cfg: &JobConfig) -> Vec<CString> {
    cfg.exec
        .iter()
        .flatten()
        .filter_map(|w| CString::new(w.as_str()).ok())
        .collect()
}

/// The event that starts a job and how many starts it has (None: any).
fn start_rule(when: &When) -> (Option<Ev>, Option<u32>) {
    match when {
        When::Startup | When::Interval(_) => (
            Some(Ev {
                code: Code::Startup,
                source: GLOBAL.into(),
            }),
            Some(1),
        ),
        When::Cron { .. } => (None, None),
        When::Event {
            source, code, each, ..
        } => (
            Some(Ev {
                code: *code,
                source: source.clone(),
            }),
            if *each { None } else { Some(1) },
        ),
    }
}

fn restart_budget(r: Restarts) -> Option<u32> {
    match r {
        Restarts::Unlimited => None,
        Restarts::Limit(n) => Some(n),
    }
}

impl Supervisor<'_> {
    /// Job `i` (indices come from the engine itself). One accessor is one
    /// bounds-check panic site instead of one per use (~48 bytes each).
    fn job_at(&self, i: usize) -> &Job {
        &self.jobs[i]
    }

    fn job_at_mut(&mut self, i: usize) -> &mut Job {
        &mut self.jobs[i]
    }

    fn open_log(&mut self, config: &Config) -> core::result::Result<(), String> {
        use crate::config::schema::{Format, Level as L};
        use crate::log::{Level, Style};
        crate::log::set_style(if config.logging.format == Format::Json {
            Style::Json
        } else {
            Style::Text
        });
        crate::log::set_level(match config.logging.level {
            L::Debug => Level::Debug,
            L::Info => Level::Info,
            L::Warn => Level::Warn,
            L::Error => Level::Error,
            L::Fatal => Level::Fatal,
        });
        match config.logging.output.as_deref() {
            None => {}
            Some("stdout") => {
                crate::log::set_output(1);
            }
            Some(path) => {
                let c = CString::new(path)
                    .map_err(|_| format!("logging.output: invalid path {path:?}"))?;
                let f = fd::open_append(&c)
                    .map_err(|e| format!("logging.output: cannot open {path}: {e}"))?;
                crate::log::set_output(fd::into_raw(f));
                self.log_path = Some(c);
            }
        }
        Ok(())
    }

    /// SIGUSR1: reopen the log file (after logrotate moved it).
    fn reopen_log(&mut self) {
        let Some(path) = &self.log_path else { return };
        match fd::open_append(path) {
            Ok(f) => {
                let old = crate::log::set_output(fd::into_raw(f));
                if old > 2 {
                    fd::close_raw(old);
                }
                info!("log file reopened");
            }
            Err(e) => error!("cannot reopen the log file: {e}"),
        }
    }

    fn add_job(&mut self, cfg: JobConfig) {
        let argv = argv_of(&cfg);
        let (start_on, starts_remain) = start_rule(&cfg.when);
        let restarts_remain = restart_budget(cfg.restarts);
        let service = self.service_of(&cfg);
        self.jobs.push(Job {
            cfg,
            argv,
            start_on,
            listening: true,
            starts_remain,
            restarts_remain,
            pid: None,
            started_at: 0,
            pending_start: false,
            halting: false,
            quit_requested: false,
            stopping_sent: false,
            complete: false,
            wait_for_stopped: None,
            status: Status::Unknown,
            last_failed: false,
            quick_failures: 0,
            timers: [None; T_COUNT],
            check_pid: None,
            check_started: 0,
            is_main: false,
            timer_at: [0; T_COUNT],
            runs: 0,
            restarts: 0,
            last_exit: None,
            exited_at: 0,
            last_check: None,
            log: LogRing::new(LOG_RING),
            service,
            advertised: false,
            removed: false,
            held: false,
            start_error: None,
        });
    }

    /// A job that starts on another's `stopping` delays that job's stop
    /// until it has itself stopped.
    fn link_stop_waits(&mut self) {
        for i in 0..self.jobs.len() {
            if let Some(Ev {
                code: Code::Stopping,
                source,
            }) = self.job_at(i).start_on.clone()
            {
                let dependent = self.job_at(i).cfg.name.clone();
                if let Some(j) = self.jobs.iter_mut().find(|j| j.cfg.name == source) {
                    j.wait_for_stopped = Some(dependent);
                }
            }
        }
    }

    fn start(&mut self) {
        for i in 0..self.jobs.len() {
            self.arm(i);
        }
        self.publish(Code::Startup, GLOBAL);
        self.dispatch();
    }

    /// A job's own clocks: health checks, interval, cron, when.timeout.
    fn arm(&mut self, i: usize) {
        let now = self.lp.now();
        if let Some(interval) = self.job_at(i).cfg.health.as_ref().map(|h| h.interval) {
            self.set_timer(i, T::Health, now + interval);
        }
        match self.job_at(i).cfg.when.clone() {
            When::Interval(every) => self.set_timer(i, T::Interval, now + every),
            When::Cron { .. } => self.arm_cron(i),
            When::Event {
                timeout: Some(t), ..
            } => self.set_timer(i, T::WhenTimeout, now + t),
            _ => {}
        }
    }

    fn run_loop(&mut self) -> i32 {
        let mut events = Vec::with_capacity(16);
        loop {
            if let Err(e) = self.lp.turn(&mut events) {
                error!("event loop failed: {e}");
                return 1;
            }
            for ev in events.drain(..) {
                match ev {
                    Event::Signal(s) => self.on_signal(s.signo),
                    Event::Timer(key) => match key & TOK_MASK {
                        TOK_CONTROL | TOK_TELEMETRY => self.on_server_timer(key),
                        TOK_DISCOVERY => self.on_discovery(key, true),
                        TOK_NET => self.on_net(key, true),
                        _ => self.on_timer(key),
                    },
                    Event::Io(r) => match r.token & TOK_MASK {
                        TOK_OUTPUT => self.on_output((r.token & !TOK_MASK) as usize),
                        TOK_NET => self.on_net(r.token, false),
                        TOK_CONTROL | TOK_TELEMETRY => self.on_request(r.token),
                        TOK_DISCOVERY => self.on_discovery(r.token, false),
                        _ => self.reap(),
                    },
                }
                self.dispatch();
            }
            if let Some(code) = self.finished() {
                debug!("exiting after {} loop wake-ups", self.lp.wakeups());
                return code;
            }
        }
    }

    // ---- events ----

    fn publish(&mut self, code: Code, source: &str) {
        self.bus.push_back(Ev {
            code,
            source: source.to_string(),
        });
    }

    fn dispatch(&mut self) {
        loop {
            while let Some(ev) = self.bus.pop_front() {
                debug!("event: {} {}", ev.source, ev.code.name());
                self.metrics.event(ev.code.name(), &ev.source);
                for i in 0..self.jobs.len() {
                    self.on_event(i, &ev);
                }
            }
            if self.shutting_down {
                self.advance_shutdown();
            }
            // Stopping jobs publish events of their own: deliver them now.
            if self.bus.is_empty() {
                break;
            }
        }
        // With no jobs at all tug runs until it is told to stop.
        let done = self
            .jobs
            .iter()
            .all(|j| j.complete && (!j.held || self.shutting_down));
        if !self.draining && (self.shutting_down || !self.jobs.is_empty()) && done {
            self.begin_drain();
        }
    }

    fn on_event(&mut self, i: usize, ev: &Ev) {
        if self.job_at(i).complete {
            return;
        }
        match (ev.code, ev.source.as_str()) {
            (Code::Shutdown, GLOBAL) => return self.on_quit(i),
            (Code::EnterMaintenance, GLOBAL) => self.job_at_mut(i).status = Status::Maintenance,
            (Code::ExitMaintenance, GLOBAL) => self.job_at_mut(i).status = Status::Unknown,
            (Code::Stopped, src)
                if self.job_at(i).wait_for_stopped.as_deref() == Some(src)
                    && self.job_at(i).halting =>
            {
                self.cancel_timer(i, T::StopWait);
                self.job_at_mut(i).wait_for_stopped = None;
                self.stop_process(i);
            }
            _ => {}
        }
        let job = self.job_at(i);
        if job.listening && job.start_on.as_ref() == Some(ev) {
            return self.on_start_event(i);
        }
        // Its source job stopped for good: an event this job waits for
        // from it can never come, so it will never start (or run again).
        if ev.code == Code::Stopped
            && job.listening
            && job.pid.is_none()
            && let Some(on) = &job.start_on
            && on.source == ev.source
            && on.code != Code::Stopped
        {
            info!(
                "job {} will not start: {} has stopped",
                job.cfg.name, ev.source
            );
            self.job_at_mut(i).listening = false;
            self.halt(i);
        }
    }

    fn on_start_event(&mut self, i: usize) {
        let job = self.job_at_mut(i);
        if job.starts_remain == Some(0) {
            job.listening = false;
            return self.halt(i);
        }
        if let Some(n) = &mut job.starts_remain {
            *n -= 1;
            if *n == 0 {
                job.listening = false;
            }
        }
        self.cancel_timer(i, T::WhenTimeout);
        self.start_exec(i);
    }

    fn on_quit(&mut self, i: usize) {
        let job = self.job_at_mut(i);
        job.restarts_remain = Some(0);
        job.pending_start = false;
        self.cancel_timer(i, T::Restart);
        self.cancel_timer(i, T::Interval);
        self.cancel_timer(i, T::Cron);
        let job = self.job_at_mut(i);
        let stop_triggered = matches!(
            job.start_on,
            Some(Ev {
                code: Code::Stopping | Code::Stopped,
                ..
            })
        );
        if stop_triggered && !job.argv.is_empty() && job.listening {
            // preStop/postStop jobs still run once, on their event.
            if job.starts_remain.is_none() {
                job.starts_remain = Some(1);
            }
            return;
        }
        job.listening = false;
        job.starts_remain = Some(0);
        job.quit_requested = true;
    }

    /// Stops jobs in reverse order of their `when` dependencies: a job goes
    /// once every job that started from its events has stopped.
    fn advance_shutdown(&mut self) {
        loop {
            let mut progressed = false;
            for i in 0..self.jobs.len() {
                let job = self.job_at(i);
                if !job.quit_requested || job.halting || job.complete {
                    continue;
                }
                let name = job.cfg.name.as_str();
                let blocked = self.jobs.iter().any(|d| {
                    !d.complete && matches!(&d.start_on, Some(Ev { code, source }) if source == name && !matches!(code, Code::Stopping | Code::Stopped))
                });
                if !blocked {
                    self.halt(i);
                    progressed = true;
                }
            }
            if !progressed {
                return;
            }
        }
    }

    // ---- running ----

    fn start_exec(&mut self, i: usize) {
        if self.job_at(i).pid.is_some() {
            // One process per job: start again when this run exits.
            self.job_at_mut(i).pending_start = true;
            return;
        }
        if self.job_at(i).argv.is_empty() {
            return;
        }
        let job = self.job_at_mut(i);
        job.forget_health();
        job.start_error = None;
        match self.spawn_argv(i, false) {
            Ok(pid) => {
                let now = self.lp.now();
                let job = self.job_at_mut(i);
                job.runs += 1;
                if job.last_exit.is_some() {
                    let name = job.cfg.name.clone();
                    self.metrics.job_restart(&name);
                }
                let job = self.job_at_mut(i);
                job.pid = Some(pid);
                job.started_at = now;
                self.advertise(i);
                let job = self.job_at_mut(i);
                if let Some(t) = job.cfg.timeout {
                    self.set_timer(i, T::RunTimeout, now + t);
                }
            }
            Err(msg) => {
                error!("job {}: {msg}", self.job_at(i).cfg.name);
                let job = self.job_at_mut(i);
                job.last_failed = true;
                job.start_error = Some(msg);
                let name = self.job_at(i).cfg.name.clone();
                self.publish(Code::ExitFailed, &name);
                // Never retry a failed spawn synchronously: it would fail
                // again at once (unknown user, no pipes left), in a loop.
                self.after_exit(i, 1_000_000_000);
            }
        }
    }

    /// Forks and execs a job's command or its health check.
    fn spawn_argv(&mut self, i: usize, check: bool) -> core::result::Result<i32, String> {
        let job = self.job_at(i);
        let cfg = &job.cfg;
        let (argv, raw, label) = match (&cfg.health, check) {
            (Some(h), true) => match &h.check {
                Check::Exec(words) => (
                    words
                        .iter()
                        .filter_map(|w| CString::new(w.as_str()).ok())
                        .collect::<Vec<_>>(),
                    h.raw_output,
                    format!("check.{}", cfg.name),
                ),
                _ => return Err("not an exec check".into()),
            },
            _ => (job.argv.clone(), cfg.raw_output, cfg.name.clone()),
        };
        let identity = match (&cfg.user, &cfg.group) {
            (None, None) => None,
            (u, g) => Some(users::resolve(u.as_deref(), g.as_deref())?),
        };
        let env = self.child_env(cfg, identity.as_ref());
        let mut envp: Vec<*const c_char> = env.iter().map(|c| c.as_ptr()).collect();
        envp.push(core::ptr::null());
        let path = env
            .iter()
            .find_map(|v| v.to_str().ok()?.strip_prefix("PATH="))
            .map(String::from);
        let workdir = cfg.workdir.as_deref().and_then(|w| CString::new(w).ok());
        // Wrapped output goes through pipes; raw output is tug's own.
        let mut pipes: [Option<(Fd, Fd)>; 2] = [None, None];
        if !raw {
            for p in &mut pipes {
                let (r, w) = fd::pipe().map_err(|e| format!("pipe: {e}"))?;
                fd::set_nonblocking(&r).map_err(|e| format!("pipe: {e}"))?;
                *p = Some((r, w));
            }
        }
        let stdin = if job.is_main {
            None
        } else {
            self.dev_null.as_ref().map(Fd::raw)
        };
        let argv_refs: Vec<&CStr> = argv.iter().map(CString::as_c_str).collect();
        let groups = identity
            .as_ref()
            .map(|id| id.groups.clone())
            .unwrap_or_default();
        let started = Command {
            argv: &argv_refs,
            envp: &envp,
            path: path.as_deref(),
            new_group: true,
            foreground: job.is_main && proc::owns_foreground(),
            stdio: [
                stdin,
                pipes[0].as_ref().map(|p| p.1.raw()),
                pipes[1].as_ref().map(|p| p.1.raw()),
            ],
            workdir: workdir.as_deref(),
            credentials: identity.as_ref().map(|id| Credentials {
                uid: id.uid,
                gid: id.gid,
                groups: &groups,
            }),
        }
        .spawn(&self.inherited)
        .map_err(|e| format!("fork failed: {e}"))?;
        let pid = started.pid;
        match &started.error {
            Some(why) if check => error!("{label}: {why}"),
            Some(why) => {
                error!("job {label}: {why}");
                self.jobs[i].start_error = Some(why.clone());
            }
            None if !check => info!("job {label} started (pid {pid})"),
            None => {}
        }
        for (k, p) in pipes.into_iter().enumerate() {
            if let Some((r, w)) = p {
                drop(w);
                let mut out = Output::new(
                    r,
                    label.clone(),
                    pid,
                    if k == 0 { "stdout" } else { "stderr" },
                );
                out.ring = (!check).then_some(i);
                self.add_output(out);
            }
        }
        let pidfd = proc::pidfd_open(pid).ok().filter(|f| {
            self.lp
                .register(f.raw(), TOK_PIDFD | pid as u64, READABLE)
                .is_ok()
        });
        // A pid is unique among unreaped children.
        self.procs.push(ProcEntry {
            pid,
            owner: if check {
                Owner::Check(i)
            } else {
                Owner::Job(i)
            },
            _pidfd: pidfd,
        });
        Ok(pid)
    }

    /// tug's environment, plus CONTAINERPILOT_PID, the identity's HOME/USER/
    /// LOGNAME and the job's own `env` (applied last: set or unset).
    fn child_env(&self, cfg: &JobConfig, identity: Option<&users::Identity>) -> Vec<CString> {
        let mut vars: Vec<(String, String)> = self
            .env
            .pairs()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut set = |k: &str, v: Option<String>| {
            vars.retain(|(name, _)| name != k);
            if let Some(v) = v {
                vars.push((k.to_string(), v));
            }
        };
        set("CONTAINERPILOT_PID", Some(format!("{}", proc::getpid())));
        // Hooks find the socket with `tug ctl` and no config.
        if let Some(c) = &self.control {
            set("TUG_SOCKET", Some(c.path().into()));
        }
        for (k, v) in &self.extra_env {
            set(k, Some(v.clone()));
        }
        for (k, v) in self.discovery_env() {
            set(&k, Some(v));
        }
        if let Some(id) = identity.filter(|id| !id.name.is_empty()) {
            set("HOME", Some(id.home.clone()));
            set("USER", Some(id.name.clone()));
            set("LOGNAME", Some(id.name.clone()));
        }
        for (k, v) in &cfg.env {
            set(k, v.clone());
        }
        vars.into_iter()
            .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
            .collect()
    }

    fn add_output(&mut self, out: Output) {
        let slot = self
            .outputs
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.outputs.push(None);
                self.outputs.len() - 1
            });
        if self
            .lp
            .register(out.fd.raw(), TOK_OUTPUT | slot as u64, READABLE)
            .is_ok()
        {
            self.outputs[slot] = Some(out);
        }
    }

    fn on_output(&mut self, slot: usize) {
        let Some(out) = self.outputs.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        // A job's lines also go to its ring and its followers.
        let mut ring = out
            .ring
            .and_then(|i| Some((i, &mut self.jobs.get_mut(i)?.log)));
        let (lp, control) = (&mut self.lp, &mut self.control);
        let open = out.pump(&mut |line| {
            if let Some((i, ring)) = &mut ring {
                ring.push(line);
                if let Some(c) = control.as_mut() {
                    c.line(lp, *i, line);
                }
            }
        });
        if let Some(c) = &mut self.control {
            c.flush_followers(&mut self.lp);
        }
        if !open {
            let _ = self.lp.deregister(out.fd.raw());
            self.outputs[slot] = None;
        }
    }

    /// Logs what a process wrote before it exited, before its exit is
    /// handled: records then follow cause and effect across jobs.
    fn drain_outputs_of(&mut self, pid: Option<i32>) {
        let Some(pid) = pid else { return };
        for slot in 0..self.outputs.len() {
            if self.outputs[slot].as_ref().is_some_and(|o| o.pid == pid) {
                self.on_output(slot);
            }
        }
    }

    // ---- exits ----

    fn reap(&mut self) {
        loop {
            match proc::reap_one() {
                Ok(Some((pid, status))) => self.reaped(pid, status),
                Ok(None) => {
                    self.no_children = false;
                    break;
                }
                Err(Errno::ECHILD) => {
                    self.no_children = true;
                    break;
                }
                Err(e) => {
                    error!("waitpid failed: {e}");
                    break;
                }
            }
        }
    }

    fn reaped(&mut self, pid: i32, status: ExitStatus) {
        let Some(at) = self.procs.iter().position(|p| p.pid == pid) else {
            debug!("reaped orphan pid {pid}");
            return;
        };
        let entry = self.procs.swap_remove(at);
        if let Some(f) = &entry._pidfd {
            let _ = self.lp.deregister(f.raw());
        }
        match entry.owner {
            Owner::Job(i) => self.job_exited(i, status),
            Owner::Check(i) => {
                self.drain_outputs_of(Some(pid));
                if self.job_at(i).check_pid != Some(pid) {
                    return; // aborted: its result describes nothing
                }
                self.job_at_mut(i).check_pid = None;
                self.cancel_timer(i, T::HealthTimeout);
                self.check_result(
                    i,
                    status == ExitStatus::Exited(0),
                    &format!("exited with {}", status.code()),
                );
            }
        }
    }

    fn job_exited(&mut self, i: usize, status: ExitStatus) {
        self.cancel_timer(i, T::RunTimeout);
        self.cancel_timer(i, T::StopKill);
        // A check in flight was about the run that just ended.
        self.abort_check(i);
        self.drain_outputs_of(self.job_at(i).pid);
        let ok = status == ExitStatus::Exited(0);
        let now = self.lp.now();
        let job = self.job_at_mut(i);
        job.pid = None;
        job.last_exit = Some(status);
        job.exited_at = now;
        // A job tug itself stopped did not fail.
        job.last_failed = !ok && !job.halting;
        let ran_for = now.saturating_sub(job.started_at);
        if ok || ran_for >= job.cfg.restart_reset_after {
            job.quick_failures = 0;
        } else {
            job.quick_failures += 1;
        }
        let name = job.cfg.name.clone();
        match status {
            ExitStatus::Exited(c) => info!("job {name} exited with {c}"),
            ExitStatus::Signaled(s) => info!("job {name} was killed by signal {s}"),
        }
        if job.is_main && self.main_code.is_none() {
            self.main_code = Some(status.code());
            self.job_at_mut(i).restarts_remain = Some(0);
            self.publish(
                if ok {
                    Code::ExitSuccess
                } else {
                    Code::ExitFailed
                },
                &name,
            );
            self.complete(i);
            self.begin_shutdown();
            return;
        }
        self.publish(
            if ok {
                Code::ExitSuccess
            } else {
                Code::ExitFailed
            },
            &name,
        );
        self.after_exit(i, 0);
    }

    /// What follows a run: restart (after the backoff, at least
    /// `min_delay`), wait for the next event, or stop for good.
    fn after_exit(&mut self, i: usize, min_delay: u64) {
        let job = &mut self.jobs[i];
        if job.halting {
            if job.wait_for_stopped.is_none() {
                self.complete(i);
            }
            return;
        }
        if core::mem::take(&mut job.pending_start) {
            return self.start_exec(i);
        }
        if matches!(job.cfg.when, When::Interval(_) | When::Cron { .. }) {
            // Periodic jobs run again on their next tick.
            return;
        }
        if job.restarts_remain != Some(0) {
            if let Some(n) = &mut job.restarts_remain {
                *n -= 1;
            }
            // Without a restartDelay, a job that keeps dying at once is
            // restarted at most once a second (s6's rule), not in a loop.
            let floor = (job.started_at + 1_000_000_000).saturating_sub(self.lp.now());
            let delay = backoff(job)
                .max(min_delay)
                .max(if job.cfg.restart_delay == 0 { floor } else { 0 });
            if delay == 0 {
                job.restarts += 1;
                return self.start_exec(i);
            }
            debug!("job {} restarts in {} ms", job.cfg.name, delay / 1_000_000);
            let at = self.lp.now() + delay;
            return self.set_timer(i, T::Restart, at);
        }
        if job.starts_remain != Some(0) && job.listening {
            return; // `each`: wait for the next event.
        }
        self.halt(i);
    }

    /// No more runs: publish `stopping`, let a preStop-style job finish,
    /// stop the process, then `stopped`.
    fn halt(&mut self, i: usize) {
        let job = self.job_at_mut(i);
        if job.halting || job.complete {
            return;
        }
        job.halting = true;
        job.listening = false;
        job.stopping_sent = true;
        let name = job.cfg.name.clone();
        let waits = job.wait_for_stopped.is_some();
        let stop_timeout = job.cfg.stop_timeout;
        // Out of the catalog before the signal: clients stop sending work
        // while the job drains.
        self.withdraw(i);
        self.cancel_timer(i, T::Interval);
        self.cancel_timer(i, T::Cron);
        self.cancel_timer(i, T::Restart);
        self.cancel_timer(i, T::WhenTimeout);
        // A stopping job's health is no news: a check now would only see
        // the stop itself (a refused or reset connection, a 503).
        self.cancel_timer(i, T::Health);
        self.abort_check(i);
        self.publish(Code::Stopping, &name);
        if waits {
            let at = self.lp.now() + stop_timeout;
            self.set_timer(i, T::StopWait, at);
        } else {
            self.stop_process(i);
        }
    }

    fn stop_process(&mut self, i: usize) {
        let job = self.job_at(i);
        match job.pid {
            Some(pid) => {
                debug!(
                    "stopping job {} (signal {})",
                    job.cfg.name, job.cfg.stop_signal
                );
                let _ = kill(-pid, job.cfg.stop_signal);
                let at = self.lp.now() + job.cfg.stop_timeout;
                self.set_timer(i, T::StopKill, at);
            }
            None => self.complete(i),
        }
    }

    fn complete(&mut self, i: usize) {
        if self.job_at(i).complete {
            return;
        }
        self.cancel_timers(i, None);
        self.abort_check(i);
        self.withdraw(i);
        let job = self.job_at_mut(i);
        job.complete = true;
        job.halting = true;
        let name = job.cfg.name.clone();
        // Every job publishes `stopping` once, then `stopped`.
        if !core::mem::replace(&mut job.stopping_sent, true) {
            self.publish(Code::Stopping, &name);
        }
        self.publish(Code::Stopped, &name);
    }

    // ---- timers ----

    fn set_timer(&mut self, i: usize, kind: T, at: u64) {
        if let Some(old) = self.job_at_mut(i).timers[kind as usize].take() {
            self.lp.cancel_timer(old);
        }
        let id = self.lp.add_timer(at, ((i as u64) << 8) | kind as u64);
        self.job_at_mut(i).timers[kind as usize] = Some(id);
        self.job_at_mut(i).timer_at[kind as usize] = at;
    }

    /// Every timer of job `i`, but `keep`.
    fn cancel_timers(&mut self, i: usize, keep: Option<T>) {
        for k in 0..T_COUNT {
            if keep.is_some_and(|t| t as usize == k) {
                continue;
            }
            if let Some(id) = self.job_at_mut(i).timers[k].take() {
                self.lp.cancel_timer(id);
            }
        }
    }

    fn cancel_timer(&mut self, i: usize, kind: T) {
        if let Some(id) = self.job_at_mut(i).timers[kind as usize].take() {
            self.lp.cancel_timer(id);
        }
    }

    fn on_timer(&mut self, key: u64) {
        if key == GRACE_KEY {
            let hit = self.signal_tree(libc::SIGKILL);
            if let Some(msg) = tree::grace_kill_message(self.stop_timeout, &hit) {
                warning!("{msg}");
            }
            return;
        }
        if key == TELEMETRY_BEAT_KEY {
            return self.telemetry_heartbeat();
        }
        let i = (key >> 8) as usize;
        let kind = (key & 0xff) as usize;
        if i >= self.jobs.len() {
            return;
        }
        self.job_at_mut(i).timers[kind] = None;
        let now = self.lp.now();
        match kind {
            k if k == T::WhenTimeout as usize => {
                warning!(
                    "job {}: when.timeout expired before its start event",
                    self.job_at(i).cfg.name
                );
                self.job_at_mut(i).starts_remain = Some(0);
                self.halt(i);
            }
            k if k == T::RunTimeout as usize => {
                let t = self.job_at(i).cfg.timeout.unwrap_or(0);
                self.kill_job(i, &format!("timed out ({})", crate::duration::display(t)))
            }
            k if k == T::StopKill as usize => {
                let t = self.job_at(i).cfg.stop_timeout;
                self.kill_job(
                    i,
                    &format!(
                        "did not stop within its stopTimeout ({})",
                        crate::duration::display(t)
                    ),
                )
            }
            k if k == T::StopWait as usize => {
                self.job_at_mut(i).wait_for_stopped = None;
                self.stop_process(i);
            }
            k if k == T::Restart as usize => {
                self.job_at_mut(i).restarts += 1;
                self.start_exec(i)
            }
            k if k == T::Interval as usize => {
                if let When::Interval(every) = self.job_at(i).cfg.when {
                    self.set_timer(i, T::Interval, now + every);
                }
                let job = self.job_at_mut(i);
                if job.restarts_remain == Some(0) {
                    self.halt(i);
                } else {
                    if let Some(n) = &mut job.restarts_remain {
                        *n -= 1;
                    }
                    self.start_exec(i);
                }
            }
            k if k == T::Cron as usize => {
                if self.job_at(i).pid.is_some() {
                    warning!(
                        "job {}: previous run still going, skipping this cron run",
                        self.job_at(i).cfg.name
                    );
                } else {
                    self.start_exec(i);
                }
                self.arm_cron(i);
            }
            k if k == T::Health as usize => {
                let every = self.job_at(i).cfg.health.as_ref().map_or(0, |h| h.interval);
                self.set_timer(i, T::Health, now + every);
                self.run_check(i);
            }
            k if k == T::HealthTimeout as usize => {
                if let Some(pid) = self.job_at(i).check_pid {
                    let _ = kill(-pid, libc::SIGKILL);
                }
                if let Some(why) = self.checks.expire(&mut self.lp, i) {
                    self.check_result(i, false, why);
                }
            }
            _ => {}
        }
    }

    /// SIGKILL to a running job's whole process group, naming whom it hits.
    fn kill_job(&self, i: usize, why: &str) {
        if let Some(pid) = self.job_at(i).pid {
            // Listed before the kill: dead processes have no names to read.
            let whom = match tree::group(pid) {
                Ok(procs) if !procs.is_empty() => tree::describe(&procs),
                _ => "its process group".into(),
            };
            warning!("job {} {why}: SIGKILL to {whom}", self.job_at(i).cfg.name);
            let _ = kill(-pid, libc::SIGKILL);
        }
    }

    fn arm_cron(&mut self, i: usize) {
        let When::Cron { expr, local } = &self.job_at(i).cfg.when else {
            return;
        };
        let Ok(schedule) = super::cron::Schedule::parse(expr) else {
            return;
        };
        let zone = if *local {
            local_zone(self.env)
        } else {
            super::timezone::Zone::Utc
        };
        let (now_wall, _) = wall_clock();
        match schedule.next_after(now_wall, &zone) {
            Some(next) => {
                let at = self.lp.now() + (next - now_wall).max(0) as u64 * 1_000_000_000;
                self.set_timer(i, T::Cron, at);
            }
            None => warning!("job {}: cron {expr:?} never fires", self.job_at(i).cfg.name),
        }
    }

    // ---- health ----

    /// Whether tug is stopping the job's process (for good, or to restart
    /// it): its checks would only report that stop.
    fn stopping(&self, i: usize) -> bool {
        let job = self.job_at(i);
        job.halting || job.timers[T::StopKill as usize].is_some()
    }

    /// Forgets the check in flight, if any: kills an exec check (its exit
    /// is then ignored), closes a network check, cancels a lookup.
    fn abort_check(&mut self, i: usize) {
        self.cancel_timer(i, T::HealthTimeout);
        if let Some(pid) = self.job_at_mut(i).check_pid.take() {
            let _ = kill(-pid, libc::SIGKILL);
        }
        self.checks.abort(&mut self.lp, i);
    }

    fn run_check(&mut self, i: usize) {
        let job = self.job_at(i);
        if job.complete
            || self.stopping(i)
            || job.status == Status::Maintenance
            || job.check_pid.is_some()
            || self.checks.busy(i)
        {
            return;
        }
        let Some(h) = job.cfg.health.clone() else {
            return;
        };
        let now = self.lp.now();
        self.job_at_mut(i).check_started = now;
        // The deadline covers a check's lookup too.
        self.set_timer(i, T::HealthTimeout, now + h.timeout);
        let started = match &h.check {
            Check::Exec(_) => self
                .spawn_argv(i, true)
                .map(|pid| self.job_at_mut(i).check_pid = Some(pid)),
            net => {
                let mut done = Vec::new();
                self.checks.start(&mut self.lp, i, net, &mut done);
                self.checks_done(done);
                Ok(())
            }
        };
        if let Err(msg) = started {
            self.cancel_timer(i, T::HealthTimeout);
            self.check_result(i, false, &msg);
        }
    }

    /// I/O or a timer of the network checks.
    fn on_net(&mut self, key: u64, timer: bool) {
        let mut done = Vec::new();
        if timer {
            self.checks.on_timer(&mut self.lp, key, &mut done);
        } else {
            self.checks.on_io(&mut self.lp, key, &mut done);
        }
        self.checks_done(done);
    }

    /// Network checks that ended: their deadline goes, their result counts.
    fn checks_done(&mut self, done: Vec<crate::health::Outcome>) {
        for (i, passed, detail) in done {
            self.cancel_timer(i, T::HealthTimeout);
            self.check_result(i, passed, &detail);
        }
    }

    fn check_result(&mut self, i: usize, passed: bool, detail: &str) {
        if self.stopping(i) {
            debug!(
                "job {}: health check result ignored: the job is stopping",
                self.job_at(i).cfg.name
            );
            return;
        }
        let job = &mut self.jobs[i];
        if job.status == Status::Maintenance || job.complete {
            return;
        }
        let name = job.cfg.name.clone();
        let took = self.lp.now().saturating_sub(job.check_started);
        self.metrics.check(&name, passed, took as f64 / 1e9);
        let job = self.job_at_mut(i);
        if passed {
            if job.status != Status::Healthy {
                info!("job {name} is healthy");
            }
            job.status = Status::Healthy;
            self.publish(Code::Healthy, &name);
        } else {
            if job.status != Status::Unhealthy {
                warning!("job {name} is unhealthy: {detail}");
            }
            job.status = Status::Unhealthy;
            self.publish(Code::Unhealthy, &name);
        }
        self.report_health(i, passed, detail);
        let now = self.lp.now();
        self.job_at_mut(i).last_check = Some((passed, detail.into(), now));
    }

    // ---- signals, shutdown, exit ----

    fn on_signal(&mut self, sig: i32) {
        match sig {
            libc::SIGCHLD => self.reap(),
            libc::SIGTERM | libc::SIGINT => {
                self.forward_to_main(sig);
                self.begin_shutdown();
            }
            libc::SIGHUP => self.publish(Code::Signal, "SIGHUP"),
            libc::SIGUSR2 => self.publish(Code::Signal, "SIGUSR2"),
            libc::SIGUSR1 => self.reopen_log(),
            other => self.forward_to_main(other),
        }
    }

    fn forward_to_main(&self, sig: i32) {
        if let Some(pid) = self.jobs.iter().find(|j| j.is_main).and_then(|j| j.pid) {
            let _ = kill(pid, sig);
        }
    }

    fn begin_shutdown(&mut self) {
        if self.shutting_down {
            return;
        }
        info!("shutting down");
        self.shutting_down = true;
        self.publish(Code::Shutdown, GLOBAL);
    }

    /// Every job is complete: stop leftover descendants (grace period =
    /// stopTimeout), then exit once nothing is left.
    fn begin_drain(&mut self) {
        self.draining = true;
        self.reap();
        if !self.no_children {
            self.signal_tree(libc::SIGTERM);
            let at = self.lp.now() + self.stop_timeout;
            self.lp.add_timer(at, GRACE_KEY);
        }
    }

    /// Sends `sig` to every descendant.
    fn signal_tree(&self, sig: i32) -> tree::Signalled {
        let hit = tree::signal_descendants(sig, 0);
        if let tree::Signalled::Nobody(e) = &hit {
            warning!("cannot read /proc ({e}): leftover processes are not stopped");
        }
        hit
    }

    fn finished(&mut self) -> Option<i32> {
        if !self.draining {
            return None;
        }
        // Nothing may be left behind in the catalog.
        if let Some(d) = &mut self.discovery {
            if !self.discovery_closing {
                self.discovery_closing = true;
                d.shutdown(&mut self.lp);
            }
            if !d.settled() {
                return None;
            }
        }
        if !self.no_children {
            self.reap();
            if !self.no_children {
                return None;
            }
        }
        // No process of ours is left to write: log what the pipes still
        // hold, then close them (a write end passed to some unrelated
        // process must not keep tug alive).
        for slot in 0..self.outputs.len() {
            self.on_output(slot);
            if let Some(out) = self.outputs[slot].take() {
                let _ = self.lp.deregister(out.fd.raw());
                drop(out);
            }
        }
        self.close_servers();
        Some(match self.main_code {
            Some(code) => code % 256,
            None if self.has_main => 0,
            // Without a main command: 1 if any job's last run failed and it
            // had no restarts left, else 0.
            None => self.failure_code(),
        })
    }

    /// 1 when a job's last run failed (saying which, as tug's last line),
    /// else 0.
    fn failure_code(&self) -> i32 {
        let failed: Vec<String> = self
            .jobs
            .iter()
            .filter(|j| j.last_failed)
            .map(|j| {
                let why = match j.last_exit {
                    Some(ExitStatus::Exited(c)) => format!("exit code {c}"),
                    Some(ExitStatus::Signaled(sig)) => format!(
                        "killed by {}",
                        crate::signame::name(sig).unwrap_or("a signal")
                    ),
                    None => "could not be started".into(),
                };
                format!("job {} failed ({why})", j.cfg.name)
            })
            .collect();
        if failed.is_empty() {
            return 0;
        }
        error!("exiting 1: {} with no restarts left", failed.join(", "));
        1
    }
}

/// Delay before a restart: restartDelay doubled for each quick failure in
/// a row (a run shorter than restartResetAfter), capped at restartMaxDelay.
fn backoff(job: &Job) -> u64 {
    let base = job.cfg.restart_delay;
    if base == 0 {
        return 0;
    }
    let exp = job.quick_failures.saturating_sub(1).min(32);
    base.saturating_mul(1u64 << exp)
        .min(job.cfg.restart_max_delay.max(base))
}

/// The zone of `timezone: "local"`: TZ, else /etc/localtime, else UTC.
fn local_zone(env: &Environ) -> super::timezone::Zone {
    use super::timezone::{LocalSource, Zone, local_source};
    match local_source(env.get("TZ")) {
        LocalSource::Posix(spec) => Zone::from_posix(&spec).unwrap_or(Zone::Utc),
        LocalSource::File(path) => CString::new(path)
            .ok()
            .and_then(|p| fd::read_file(&p).ok())
            .and_then(|bytes| Zone::from_tzif(&bytes).ok())
            .unwrap_or(Zone::Utc),
    }
}
