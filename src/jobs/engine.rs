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
mod kinds;
mod logging;
mod ops;
mod route;

use super::machine::{Effect, Input, Life, Status, T, T_COUNT};
use super::output::{LOG_RING, LogRing, Output};
use crate::config::kinds::{Kind, StartFailure};
use crate::config::schema::{Check, Config, JobConfig, Restarts, When};
use crate::control::Control;
use crate::discovery::Discovery;
use crate::env::Environ;
use crate::event_loop::{Event, EventLoop, READABLE, TimerId};
use crate::health::Checks;
use crate::log::{debug, error, info, warning};
use crate::process::command::{Command, Extras};
use crate::process::reaper::{self, Left, Sweep};
use crate::process::signals::{self, Inherited};
use crate::process::{tree, users};
use crate::quote::q;
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
use route::{Key, Token};

pub use crate::events::{CODES, Code, Ev, GLOBAL};

/// A job: its lifecycle (the sans-IO machine) and what the engine holds
/// for it: loop timers, the health check in flight, output, discovery.
struct Job {
    life: Life,
    argv: Vec<CString>,
    /// The loop's id of each timer the machine armed.
    timers: [Option<TimerId>; T_COUNT],
    check_pid: Option<i32>,
    /// When the running health check started (for its duration metric).
    check_started: u64,
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
    /// The service kind's sockets, pipes and watches (kinds.rs).
    kind: kinds::JobKind,
    /// inetd: the identity and environment of its instances (dropped when
    /// they may change: putenv, reload, a new listener).
    instance_setup: Option<(Option<users::Identity>, Vec<CString>)>,
}

impl Job {
    fn name(&self) -> &str {
        self.life.name()
    }
}

enum Owner {
    /// Job `i`'s main process (spawned, or adopted: a forking daemon).
    Job(usize),
    Check(usize),
    /// One of inetd job `i`'s connection processes.
    Instance(usize),
    /// No longer anybody's: a main pid that moved (nginx's old master
    /// after USR2, a notify job's parent after MAINPID=).
    Former(usize),
}

/// What `spawn_proc` starts.
enum Spawn {
    Run,
    Check,
    /// An inetd instance on this connection, from this peer.
    Instance(Fd, String),
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
    /// A delayed shutdown's timer (`POST /v3/shutdown?delay=`): a later
    /// request moves it, as `shutdown +N` does with systemd.
    shutdown_timer: Option<TimerId>,
    /// Exit code of the main command, once it exited.
    main_code: Option<i32>,
    has_main: bool,
    /// All jobs complete: only leftover processes remain to be reaped.
    draining: bool,
    no_children: bool,
    /// Leftover descendants once every job is complete: SIGTERM, then
    /// SIGKILL after stopTimeout.
    sweep: Sweep,
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
    /// Where the config came from, for reload (with the chaperone
    /// command line's options when tug runs as `chaperone`).
    config_path: String,
    chaperone: Option<crate::config::chaperone::Options>,
    started_ns: u64,
    hostname: String,
    /// tug's own NOTIFY_SOCKET (systemd, a notify-aware runtime), whether
    /// READY=1 went, and the last STATUS= sent.
    upward: Option<crate::service::notify::Upward>,
    upward_ready: bool,
    upward_status: String,
    /// Activation sockets of jobs a reload removed, for a job that lists
    /// the same address (dropped, so closed, when the reload is done).
    spare_sockets: Vec<(crate::service::listen::Listen, Fd)>,
    /// inetd instances whose exec has not reported yet (label, report).
    reports: Vec<(String, crate::process::command::Pending)>,
    /// The built-in syslog and the log outputs (`syslog`, `logs`).
    router: Option<logging::Router>,
    /// The job pipes are out of epoll: a log output is full.
    pipes_paused: bool,
    /// This host's interface addresses, read when something needs to
    /// choose one (discovery, telemetry) and again on reload.
    ifaces: core::result::Result<Vec<crate::net::interfaces::IfAddr>, String>,
}

/// How `run` was invoked, beyond the config itself.
pub struct Options<'a> {
    pub config_path: &'a str,
    pub chaperone: Option<&'a crate::config::chaperone::Options>,
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
        shutdown_timer: None,
        main_code: None,
        has_main: !main.is_empty(),
        draining: false,
        no_children: false,
        sweep: Sweep::new(
            config.stop_timeout,
            Key::Grace.raw(),
            "leftover processes are not stopped",
        ),
        log_path: None,
        dev_null: fd::dev_null().ok(),
        checks: crate::health::Checks::new(route::HEALTH_BASE),
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
        chaperone: opts.chaperone.cloned(),
        started_ns,
        hostname: crate::sys::host::hostname(),
        ifaces: Ok(Vec::new()),
        upward: kinds::upward(env),
        upward_ready: false,
        upward_status: String::new(),
        spare_sockets: Vec::new(),
        reports: Vec::new(),
        router: None,
        pipes_paused: false,
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
    match logging::Router::open(
        &mut s.lp,
        config.syslog.as_ref(),
        &config.logs,
        local_zone(env),
        &s.hostname,
    ) {
        Ok(router) => {
            // From here on tug's own records go through the router too.
            crate::log::hold(router.is_some());
            s.router = router;
        }
        Err(e) => {
            error!("{e}");
            return 1;
        }
    }
    let mut cfgs = config.jobs;
    if !main.is_empty() {
        cfgs.push(main_job(main, &cfgs, config.stop_timeout));
    }
    for cfg in cfgs {
        s.add_job(cfg);
    }
    if let Some(last) = s.jobs.last_mut().filter(|_| !main.is_empty()) {
        last.life.is_main = true;
    } else if let Some(j) = s
        .jobs
        .iter_mut()
        .find(|j| Some(j.name()) == config.main.as_deref())
    {
        j.life.is_main = true;
    }
    s.link_stop_waits();
    s.add_watches(&config.watches);
    s.start();
    let code = s.run_loop();
    // Written directly from here on (what the drain itself said).
    for (level, msg) in crate::log::hold(false) {
        fd::write_all(
            crate::log::output(),
            crate::log::line(level, &msg).as_bytes(),
        );
    }
    code
}

/// The command after `--` as a job: starts at startup, never restarts, and
/// its output goes straight to tug's stdout/stderr.
fn main_job(argv: &[&CStr], others: &[JobConfig], stop_timeout: u64) -> JobConfig {
    let mut words = Vec::with_capacity(argv.len());
    for a in argv {
        words.push(a.to_string_lossy().into_owned());
    }
    let base = words[0].rsplit('/').next().unwrap_or("main").to_string();
    let name = if others.iter().any(|j| j.name == base) {
        format!("{base}-main")
    } else {
        base
    };
    JobConfig {
        name,
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
        service: Default::default(),
    }
}

/// Parses the `exec` words into C strings for execve.
fn argv_of(cfg: &JobConfig) -> Vec<CString> {
    cstrings(cfg.exec.as_deref().unwrap_or_default())
}

/// A pipe whose read end does not block (the loop reads it); an error
/// names `what`.
#[inline(never)]
fn reading_pipe(what: &str) -> core::result::Result<(Fd, Fd), String> {
    let (r, w) = fd::pipe().map_err(|e| format!("{what}: {e}"))?;
    fd::set_nonblocking(&r).map_err(|e| format!("{what}: {e}"))?;
    Ok((r, w))
}

/// Sets (or with None unsets) variable `k` among "NAME=value" entries
/// (each with its name's length): an old one goes, a new one is last.
#[inline(never)]
fn set_var(vars: &mut Vec<(usize, String)>, k: &str, v: Option<&str>) {
    vars.retain(|(n, e)| &e[..*n] != k);
    if let Some(v) = v {
        let mut e = String::with_capacity(k.len() + 1 + v.len());
        e.push_str(k);
        e.push('=');
        e.push_str(v);
        vars.push((k.len(), e));
    }
}

/// Words as C strings (one with a NUL byte is left out).
fn cstrings(words: &[String]) -> Vec<CString> {
    let mut out = Vec::with_capacity(words.len());
    for w in words {
        if let Ok(c) = CString::new(w.as_str()) {
            out.push(c);
        }
    }
    out
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
        if crate::boot::debug_on() {
            crate::log::set_level(Level::Debug);
        }
        match config.logging.output.as_deref() {
            None => {}
            Some("stdout") => {
                crate::log::set_output(1);
            }
            Some(path) => {
                let c = CString::new(path)
                    .map_err(|_| format!("logging.output: invalid path {path}", path = q(&path)))?;
                let f = fd::open_append(&c)
                    .map_err(|e| format!("logging.output: cannot open {path}: {e}"))?;
                crate::log::set_output(fd::into_raw(f));
                self.log_path = Some(c);
            }
        }
        Ok(())
    }

    /// SIGUSR1 and `tug ctl logs reopen`: tug's log file and the log
    /// router's files; how many were reopened.
    fn reopen_all(&mut self) -> usize {
        let n = usize::from(self.reopen_log());
        n + self.router.as_mut().map_or(0, |r| r.reopen())
    }

    /// SIGUSR1: reopen the log file (after logrotate moved it); whether
    /// there was one, reopened.
    fn reopen_log(&mut self) -> bool {
        let Some(path) = &self.log_path else {
            return false;
        };
        match fd::open_append(path) {
            Ok(f) => {
                let old = crate::log::set_output(fd::into_raw(f));
                if old > 2 {
                    fd::close_raw(old);
                }
                info!("log file reopened");
                true
            }
            Err(e) => {
                error!("cannot reopen the log file: {e}");
                false
            }
        }
    }

    fn add_job(&mut self, cfg: JobConfig) {
        let argv = argv_of(&cfg);
        let service = self.service_of(&cfg);
        self.jobs.push(Job {
            life: Life::new(cfg),
            argv,
            timers: [None; T_COUNT],
            check_pid: None,
            check_started: 0,
            last_check: None,
            log: LogRing::new(LOG_RING),
            service,
            advertised: false,
            removed: false,
            kind: Default::default(),
            instance_setup: None,
        });
        let i = self.jobs.len() - 1;
        self.gate(i);
    }

    /// `after`: whether job `i`'s start must wait for a dependency.
    fn gate(&mut self, i: usize) {
        // (Names are unique among the jobs not removed.)
        let blocked = self.job_at(i).life.cfg.service.after.iter().any(|d| {
            !self
                .job_index(d)
                .is_some_and(|k| self.job_at(k).life.done_for_dependents())
        });
        self.job_at_mut(i).life.blocked = blocked;
    }

    /// A job that starts on another's `stopping` delays that job's stop
    /// until it has itself stopped.
    fn link_stop_waits(&mut self) {
        for i in 0..self.jobs.len() {
            if let Some(Ev {
                code: Code::Stopping,
                source,
            }) = self.job_at(i).life.start_on.clone()
            {
                let dependent = self.job_at(i).name().to_string();
                if let Some(j) = self.jobs.iter_mut().find(|j| j.name() == source) {
                    j.life.wait_for_stopped = Some(dependent);
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
        self.drive(i, Life::arm_clocks);
    }

    /// Runs one of job `i`'s machine's moves now and carries out its
    /// effects (a fn pointer: one copy, whatever the move).
    fn drive(&mut self, i: usize, by: fn(&mut Life, u64, &mut super::machine::Out)) {
        let (mut out, now) = (Vec::new(), self.lp.now());
        by(&mut self.job_at_mut(i).life, now, &mut out);
        self.effects(i, out);
    }

    /// Feeds job `i`'s machine one input and carries out its effects; if
    /// the job just became ready, lets the jobs waiting on it (`after`) go.
    fn step(&mut self, i: usize, input: Input<'_>) {
        let (mut out, now) = (Vec::new(), self.lp.now());
        let was_ready = self.job_at(i).life.ready;
        self.job_at_mut(i).life.on(input, now, &mut out);
        self.effects(i, out);
        let life = &self.job_at(i).life;
        if !was_ready && life.ready {
            self.release_dependents(i);
        } else if life.pid.is_none() && !life.awaiting_pidfile() {
            // The run is over (or never began): its sockets, pipes and
            // pidfile watch go, and whoever waits for its stop is told.
            self.kind_ended(i);
            if let Some(c) = &mut self.control {
                c.end_waiters(&mut self.lp, i);
            }
        }
    }

    /// Carries out a machine's effects, in order.
    fn effects(&mut self, i: usize, out: Vec<Effect>) {
        for effect in out {
            match effect {
                Effect::Spawn if self.job_at(i).life.cfg.service.kind == Kind::Inetd => {
                    self.open_listener(i)
                }
                Effect::Spawn => self.spawn_job(i),
                Effect::Signal(sig) => {
                    for pid in self.job_pids(i) {
                        let _ = signal_job_process(pid, sig);
                    }
                }
                Effect::Unlisten => self.unlisten(i),
                Effect::AwaitPidfile => self.await_pidfile(i),
                Effect::Kill(deadline) => {
                    let why = deadline.why(&self.job_at(i).life.cfg);
                    self.kill_job(i, &why)
                }
                Effect::Publish(code) => {
                    let source = self.job_at(i).name().to_string();
                    self.publish(code, &source);
                }
                Effect::Arm(t, at) => {
                    if let Some(old) = self.job_at_mut(i).timers[t as usize].take() {
                        self.lp.cancel_timer(old);
                    }
                    let id = self.lp.add_timer(at, Key::Job(i, t).raw());
                    self.job_at_mut(i).timers[t as usize] = Some(id);
                }
                Effect::Cancel(t) => {
                    if let Some(id) = self.job_at_mut(i).timers[t as usize].take() {
                        self.lp.cancel_timer(id);
                    }
                }
                Effect::ArmCron => self.arm_cron(i),
                Effect::Advertise => self.advertise(i),
                Effect::Withdraw => self.withdraw(i),
                Effect::RunCheck => self.run_check(i),
                Effect::AbortCheck => self.abort_check(i),
                Effect::CheckTimedOut => self.check_timed_out(i),
                Effect::MainExited(code) => {
                    if self.main_code.is_none() {
                        self.main_code = Some(code);
                    }
                    self.begin_shutdown();
                }
            }
        }
    }

    /// Job `i` is ready: each job waiting on it whose dependencies are now
    /// all ready may start.
    fn release_dependents(&mut self, i: usize) {
        let name = self.job_at(i).name().to_string();
        for d in 0..self.jobs.len() {
            let life = &self.job_at(d).life;
            if life.blocked && life.cfg.service.after.contains(&name) {
                self.gate(d);
                if !self.job_at(d).life.blocked {
                    self.step(d, Input::DepsReady);
                }
            }
        }
    }

    fn run_loop(&mut self) -> i32 {
        let mut events = Vec::with_capacity(16);
        loop {
            self.flush_logs();
            if let Err(e) = self.lp.turn(&mut events) {
                error!("event loop failed: {e}");
                return 1;
            }
            // Some news goes first in a turn: what a job says on its notify
            // socket (a READY=1 should not wait behind the job's output),
            // and a log file moved away (reopened before the records of
            // the same turn are written to it).
            let notice = |e: &Event| matches!(e, Event::Io(r) if matches!(Token::of(r.token), Some(Token::Notify(_) | Token::LogWatch(_))));
            for first in [true, false] {
                for ev in events.iter().filter(|e| notice(e) == first) {
                    self.on_event(ev);
                }
            }
            events.clear();
            self.notify_upward();
            if let Some(code) = self.finished() {
                // Chaperone's last line, which its users' scripts wait for.
                if self.chaperone.is_some() {
                    info!("Final termination phase.");
                }
                debug!("exiting after {} loop wake-ups", self.lp.wakeups());
                return code;
            }
        }
    }

    /// One event of a turn, and what it set going. Not inlined: the two
    /// passes of `run_loop` would each get a copy of every handler.
    #[inline(never)]
    fn on_event(&mut self, ev: &Event) {
        match *ev {
            Event::Signal(s) => self.on_signal(s.signo),
            Event::Timer(key) => self.on_timer(key),
            Event::Io(r) => self.on_io(r.token),
        }
        self.dispatch();
        self.flush_logs();
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
                // Telemetry and discovery consume events as the jobs do.
                self.metrics.event(ev.code.name(), &ev.source);
                self.report_health(&ev);
                for i in 0..self.jobs.len() {
                    self.step(i, Input::Event(&ev));
                }
                if ev.code == Code::Stopped {
                    self.dependency_stopped(&ev.source);
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
            .all(|j| j.life.complete() && (!j.life.held || self.shutting_down));
        if !self.draining && (self.shutting_down || !self.jobs.is_empty()) && done {
            self.begin_drain();
        }
    }

    /// A job stopped: if it never became ready, the jobs that start after
    /// it never will, unless its `startFailure` says they go on as if it
    /// had been (continue), or that its failure ends tug (shutdown).
    fn dependency_stopped(&mut self, source: &str) {
        let Some(dep) = self.job_index(source) else {
            return;
        };
        let life = &self.job_at(dep).life;
        if life.ever_ready {
            return;
        }
        match life.cfg.service.start_failure {
            StartFailure::Continue => return self.release_dependents(dep),
            StartFailure::Shutdown if life.last_failed && !self.shutting_down => {
                error!("system startup cancelled due to error: job {source} failed");
                self.begin_shutdown();
            }
            _ => {}
        }
        for d in 0..self.jobs.len() {
            if self
                .job_at(d)
                .life
                .cfg
                .service
                .after
                .iter()
                .any(|a| a == source)
            {
                self.step(d, Input::DepFailed(source));
            }
        }
    }

    /// Stops jobs in reverse order of their dependencies (`when` sources and
    /// `after`): a job goes once every job that depends on it has stopped.
    fn advance_shutdown(&mut self) {
        loop {
            let mut progressed = false;
            for i in 0..self.jobs.len() {
                let life = &self.job_at(i).life;
                if !life.quit_requested || life.halting() {
                    continue;
                }
                let name = life.name();
                // A preStop/postStop job runs *because* this one stops: it
                // never holds it back, whatever its `after` says.
                let blocked = self.jobs.iter().any(|d| {
                    let on_stop = matches!(
                        &d.life.start_on,
                        Some(Ev {
                            code: Code::Stopping | Code::Stopped,
                            ..
                        })
                    );
                    !d.life.complete()
                        && !on_stop
                        && (matches!(&d.life.start_on, Some(Ev { source, .. }) if source == name)
                            || d.life.cfg.service.after.iter().any(|a| a == name))
                });
                if !blocked {
                    self.step(i, Input::Halt);
                    progressed = true;
                }
            }
            if !progressed {
                return self.unblock_shutdown();
            }
        }
    }

    /// The shutdown order is stuck when nothing is stopping or running
    /// that could still publish the `stopped` it waits for (jobs that
    /// wait on each other): the rest stop now, said out loud.
    fn unblock_shutdown(&mut self) {
        let moving = self.jobs.iter().any(|j| {
            !j.life.complete() && (j.life.halting() || (j.life.active() && !j.life.quit_requested))
        });
        if moving {
            return;
        }
        for i in 0..self.jobs.len() {
            let life = &self.job_at(i).life;
            if life.quit_requested && !life.halting() {
                warning!(
                    "job {}: stopping out of order (the jobs wait on each other)",
                    life.name()
                );
                self.step(i, Input::Halt);
            }
        }
    }

    // ---- running ----

    /// The machine asked for a run: spawn it and tell the machine how that
    /// went.
    fn spawn_job(&mut self, i: usize) {
        match self.spawn_argv(i, false) {
            Ok(pid) => {
                let job = &self.jobs[i];
                if job.life.last_exit.is_some() {
                    self.metrics.job_restart(job.name());
                }
                self.step(i, Input::Started(pid));
            }
            Err(msg) => {
                error!("job {}: {msg}", self.job_at(i).name());
                self.step(i, Input::SpawnFailed(msg));
            }
        }
    }

    /// Forks and execs a job's command or its health check.
    fn spawn_argv(&mut self, i: usize, check: bool) -> core::result::Result<i32, String> {
        self.spawn_proc(i, if check { Spawn::Check } else { Spawn::Run })
    }

    /// Forks and execs a job's command (a run, or one inetd connection's
    /// instance) or its health check.
    fn spawn_proc(&mut self, i: usize, what: Spawn) -> core::result::Result<i32, String> {
        let check = matches!(what, Spawn::Check);
        // What the service kind adds: fds from 3, variables, a pipe.
        let kind = if matches!(what, Spawn::Run) {
            self.kind_setup(i)?
        } else {
            kinds::Setup::default()
        };
        let job = self.job_at(i);
        let cfg = &job.life.cfg;
        let (argv, raw, label) = match (&cfg.health, &what) {
            (Some(h), Spawn::Check) => match &h.check {
                Check::Exec(words) => {
                    (cstrings(words), h.raw_output, format!("check.{}", cfg.name))
                }
                _ => return Err("not an exec check".into()),
            },
            (_, Spawn::Instance(_, peer)) => (
                job.argv.clone(),
                cfg.raw_output,
                format!("{}[{peer}]", cfg.name),
            ),
            _ => (job.argv.clone(), cfg.raw_output, cfg.name.clone()),
        };
        // An inetd job's instances share one identity and environment,
        // made at the first connection (not /etc/passwd and the whole
        // environment again for each).
        let cached = match (&what, &job.instance_setup) {
            (Spawn::Instance(..), Some(c)) => Some(c.clone()),
            _ => None,
        };
        let (identity, env) = match cached {
            Some(c) => c,
            None => {
                let identity = match (&cfg.user, &cfg.group) {
                    (None, None) => None,
                    (u, g) => Some(users::resolve(u.as_deref(), g.as_deref())?),
                };
                let env = self.child_env(cfg, identity.as_ref(), &kind.env);
                (identity, env)
            }
        };
        if matches!(what, Spawn::Instance(..)) && job.instance_setup.is_none() {
            self.job_at_mut(i).instance_setup = Some((identity.clone(), env.clone()));
        }
        let job = self.job_at(i);
        let cfg = &job.life.cfg;
        let mut envp: Vec<*const c_char> = env.iter().map(|c| c.as_ptr()).collect();
        envp.push(core::ptr::null());
        let path = env
            .iter()
            .find_map(|v| v.to_str().ok()?.strip_prefix("PATH="))
            .map(String::from);
        let workdir = cfg.workdir.as_deref().and_then(|w| CString::new(w).ok());
        // Wrapped output goes through pipes; raw output is tug's own. An
        // instance's stdout is its connection: only stderr is logged.
        let instance = match &what {
            Spawn::Instance(conn, _) => Some(conn.raw()),
            _ => None,
        };
        let mut pipes: [Option<(Fd, Fd)>; 2] = [None, None];
        if !raw {
            for (k, p) in pipes.iter_mut().enumerate() {
                if k == 0 && instance.is_some() {
                    continue;
                }
                *p = Some(reading_pipe("pipe")?);
            }
        }
        let stdin = if let Some(conn) = instance {
            Some(conn)
        } else if job.life.is_main {
            None
        } else {
            self.dev_null.as_ref().map(Fd::raw)
        };
        let stdout = instance.or(pipes[0].as_ref().map(|p| p.1.raw()));
        let argv_refs: Vec<&CStr> = argv.iter().map(CString::as_c_str).collect();
        let groups = identity
            .as_ref()
            .map(|id| id.groups.clone())
            .unwrap_or_default();
        let command = Command {
            argv: &argv_refs,
            envp: &envp,
            path: path.as_deref(),
            new_group: true,
            foreground: job.life.is_main && proc::owns_foreground(),
            stdio: [stdin, stdout, pipes[1].as_ref().map(|p| p.1.raw())],
            workdir: workdir.as_deref(),
            credentials: identity.as_ref().map(|id| Credentials {
                uid: id.uid,
                gid: id.gid,
                groups: &groups,
            }),
        };
        let extras = Extras {
            fds: &kind.fds,
            pid_env: &kind.pid_env,
        };
        // An inetd instance does not make the loop wait for its exec (the
        // next connection is accepted meanwhile): its report comes later.
        let pid = if instance.is_some() {
            let pending = command
                .spawn_detached(&self.inherited, &extras)
                .map_err(|e| format!("fork failed: {e}"))?;
            let pid = pending.pid;
            if self
                .lp
                .register(pending.report.raw(), Token::Report(pid).raw(), READABLE)
                .is_ok()
            {
                self.reports.push((label.clone(), pending));
            }
            pid
        } else {
            let started = command
                .spawn_with(&self.inherited, &extras)
                .map_err(|e| format!("fork failed: {e}"))?;
            let pid = started.pid;
            match &started.error {
                Some(why) if check => error!("{label}: {why}"),
                Some(why) => {
                    error!("job {label}: {why}");
                    self.job_at_mut(i).life.start_error = Some(why.clone());
                }
                None if matches!(what, Spawn::Run) => info!("job {label} started (pid {pid})"),
                None => {}
            }
            pid
        };
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
        self.kind_started(i, kind);
        let owner = match what {
            Spawn::Run => Owner::Job(i),
            Spawn::Check => Owner::Check(i),
            Spawn::Instance(..) => {
                // A connection's process is our child: SIGCHLD tells of its
                // exit, and a pidfd would cost four syscalls a connection.
                self.procs.push(ProcEntry {
                    pid,
                    owner: Owner::Instance(i),
                    _pidfd: None,
                });
                return Ok(pid);
            }
        };
        self.own(pid, owner);
        Ok(pid)
    }

    /// An instance's exec report is readable: log a failed exec, forget it
    /// (out of epoll before the fd closes: a later child may hold a copy).
    fn on_report(&mut self, pid: i32) {
        let Some(k) = self.reports.iter().position(|(_, p)| p.pid == pid) else {
            return;
        };
        let Some(result) = self.reports[k].1.poll() else {
            return;
        };
        let (label, pending) = self.reports.swap_remove(k);
        let _ = self.lp.deregister(pending.report.raw());
        if let Err(why) = result {
            error!("job {label}: {why}");
        }
    }

    /// Follows a process of ours until it is reaped (a pid is unique among
    /// unreaped children); whether a pidfd follows it (else only SIGCHLD,
    /// which tells of children only).
    fn own(&mut self, pid: i32, owner: Owner) -> bool {
        let pidfd = proc::pidfd_open(pid).ok().filter(|f| {
            self.lp
                .register(f.raw(), Token::Pidfd(pid).raw(), READABLE)
                .is_ok()
        });
        let followed = pidfd.is_some();
        self.procs.push(ProcEntry {
            pid,
            owner,
            _pidfd: pidfd,
        });
        followed
    }

    /// tug's environment, plus CONTAINERPILOT_PID, the identity's HOME/USER/
    /// LOGNAME, the job's own `env` (set or unset), then what its kind
    /// sets (`kind`: LISTEN_FDS, NOTIFY_SOCKET...).
    fn child_env(
        &self,
        cfg: &JobConfig,
        identity: Option<&users::Identity>,
        kind: &[(String, String)],
    ) -> Vec<CString> {
        // "NAME=value" entries, each with its name's length.
        let mut vars: Vec<(usize, String)> = Vec::new();
        for (k, v) in self.env.pairs() {
            set_var(&mut vars, k, Some(v));
        }
        let set = &mut |k: &str, v: Option<&str>| set_var(&mut vars, k, v);
        set("CONTAINERPILOT_PID", Some(&format!("{}", proc::getpid())));
        // tug's own service manager and sockets are not the job's (its
        // own come with its kind, or from its `env`).
        set("NOTIFY_SOCKET", None);
        for k in crate::service::listen::ACTIVATION_VARS {
            set(k, None);
        }
        // Hooks find the socket with `tug ctl` and no config.
        if let Some(c) = &self.control {
            set("TUG_SOCKET", Some(c.path()));
        }
        for (k, v) in &self.extra_env {
            set(k, Some(v));
        }
        for (k, v) in self.discovery_env() {
            set(&k, Some(&v));
        }
        if let Some(id) = identity.filter(|id| !id.name.is_empty()) {
            set("HOME", Some(&id.home));
            set("USER", Some(&id.name));
            set("LOGNAME", Some(&id.name));
        }
        for (k, v) in &cfg.env {
            set(k, v.as_deref());
        }
        for (k, v) in kind {
            set(k, Some(v));
        }
        let mut out = Vec::with_capacity(vars.len());
        for (_, e) in vars {
            if let Ok(c) = CString::new(e) {
                out.push(c);
            }
        }
        out
    }

    /// Not inlined: `spawn_proc` adds two (stdout, stderr) in an
    /// unrolled loop.
    #[inline(never)]
    fn add_output(&mut self, out: Output) {
        let slot = self
            .outputs
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.outputs.push(None);
                self.outputs.len() - 1
            });
        // While a log output is full the pipe waits out of epoll.
        if self.pipes_paused
            || self
                .lp
                .register(out.fd.raw(), Token::Output(slot).raw(), READABLE)
                .is_ok()
        {
            self.outputs[slot] = Some(out);
        }
    }

    /// Tug's own records held since the last turn go to the router; the
    /// job pipes leave epoll while an output is full, and come back.
    fn flush_logs(&mut self) {
        let Some(r) = &mut self.router else { return };
        // Bounded: a record about a failed write may bring another.
        // Job lines wait in the buffers too: flushed at least once.
        for _ in 0..4 {
            let held = crate::log::take_held();
            let none = held.is_empty();
            for (level, msg) in held {
                r.own(level, msg);
            }
            r.flush_all(&mut self.lp);
            if none {
                break;
            }
        }
        if r.paused == self.pipes_paused {
            return;
        }
        self.pipes_paused = r.paused;
        for (slot, out) in self.outputs.iter().enumerate() {
            if let Some(out) = out {
                let fd = out.fd.raw();
                let _ = if r.paused {
                    self.lp.deregister(fd)
                } else {
                    self.lp.register(fd, Token::Output(slot).raw(), READABLE)
                };
            }
        }
    }

    fn on_output(&mut self, slot: usize) {
        self.pump_output(slot, false);
    }

    /// Reads a job pipe; `last`: also what is left of an unfinished line.
    fn pump_output(&mut self, slot: usize, last: bool) {
        let Some(out) = self.outputs.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        // A job's lines also go to its ring and its followers.
        let mut ring = out
            .ring
            .and_then(|i| Some((i, &mut self.jobs.get_mut(i)?.log)));
        let (lp, control, router) = (&mut self.lp, &mut self.control, &mut self.router);
        let mut sink = |src: &crate::log::Source<'_>, line: &[u8]| {
            match router {
                Some(r) => r.job_line(src, line),
                None => fd::write_all(crate::log::output(), &crate::log::job_line(src, line)),
            }
            if let Some((i, ring)) = &mut ring {
                ring.push(line);
                if let Some(c) = control.as_mut() {
                    c.line(lp, *i, line);
                }
            }
        };
        let open = out.pump(&mut sink);
        if last {
            out.flush_all(&mut sink);
        }
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
        let mut exits = Vec::new();
        let left = reaper::reap(&mut |pid, status| exits.push((pid, status)));
        for (pid, status) in exits {
            self.reaped(pid, status);
        }
        match left {
            Left::Some => {
                self.no_children = false;
                self.sweep.children_left();
            }
            Left::None => self.no_children = true,
            Left::Failed(e) => error!("waitpid failed: {e}"),
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
            Owner::Job(i) => {
                // What it said before it exited comes first: a MAINPID=
                // may have made this exit nobody's.
                self.on_notify(i);
                if self.job_at(i).life.pid == Some(pid) {
                    self.job_exited(i, status);
                } else {
                    self.former_exited(i, pid);
                }
            }
            Owner::Instance(i) => self.instance_exited(i, pid, status),
            Owner::Former(i) => self.former_exited(i, pid),
            Owner::Check(i) => {
                self.drain_outputs_of(Some(pid));
                if self.job_at(i).check_pid != Some(pid) {
                    return; // aborted: its result describes nothing
                }
                self.job_at_mut(i).check_pid = None;
                self.set_timer(i, T::HealthTimeout, None);
                self.check_result(
                    i,
                    status == ExitStatus::Exited(0),
                    &format!("exited with {}", status.code()),
                );
            }
        }
    }

    /// A process that was job `i`'s main one exited: only its output
    /// matters now.
    fn former_exited(&mut self, i: usize, pid: i32) {
        self.drain_outputs_of(Some(pid));
        debug!(
            "job {}: former main pid {pid} exited",
            self.job_at(i).name()
        );
    }

    fn job_exited(&mut self, i: usize, status: ExitStatus) {
        // Every pipe of the job's runs: an adopted main process writes to
        // the pipes of the process that started it.
        for slot in 0..self.outputs.len() {
            if self.outputs[slot]
                .as_ref()
                .is_some_and(|o| o.ring == Some(i))
            {
                self.on_output(slot);
            }
        }
        self.step(i, Input::Exited(status));
        if self.job_at(i).life.pid.is_none() {
            self.kind_ended(i);
        }
    }

    fn on_io(&mut self, raw: u64) {
        match Token::of(raw) {
            Some(Token::Output(slot)) => self.on_output(slot),
            Some(Token::Health(raw)) => self.on_net(raw, false),
            Some(Token::Pidfd(pid)) => self.on_pidfd(pid),
            Some(Token::Control(raw) | Token::Telemetry(raw)) => self.on_request(raw),
            Some(Token::Discovery(raw)) => self.on_discovery(raw, false),
            Some(Token::Listener(i)) => self.on_listener(i),
            Some(Token::Notify(i)) => self.on_notify(i),
            Some(Token::Readiness(i)) => self.on_readiness(i),
            Some(Token::Pidfile(i)) => self.on_pidfile(i),
            Some(Token::Report(pid)) => self.on_report(pid),
            Some(Token::Syslog(k)) => self.with_router(|r, lp| r.on_source(lp, Some(k), raw)),
            Some(Token::LogTcp(raw)) => self.with_router(|r, lp| r.on_source(lp, None, raw)),
            Some(Token::LogOut(_)) => self.with_router(|r, lp| r.on_output(lp)),
            Some(Token::LogWatch(k)) => self.with_router(|r, _| r.on_watch(k)),
            Some(Token::LogFwd(raw)) => self.with_router(|r, lp| r.on_forward(lp, raw, false)),
            None => debug!("readiness of unknown token {raw:#x}"),
        }
    }

    fn with_router(&mut self, f: impl FnOnce(&mut logging::Router, &mut EventLoop)) {
        if let Some(r) = &mut self.router {
            f(r, &mut self.lp);
        }
    }

    fn on_timer(&mut self, raw: u64) {
        match Key::of(raw) {
            Some(Key::Job(i, t)) if i < self.jobs.len() => {
                self.job_at_mut(i).timers[t as usize] = None;
                self.step(i, Input::Timer(t));
            }
            Some(Key::Grace) => self.sweep.expired(),
            Some(Key::TelemetryBeat) => self.telemetry_heartbeat(),
            Some(Key::Shutdown) => {
                self.shutdown_timer = None;
                info!("the shutdown's delay has passed");
                self.begin_shutdown();
            }
            Some(Key::ListenRetry(i)) => self.listen_retry(i),
            Some(Key::Control(raw) | Key::Telemetry(raw)) => self.on_server_timer(raw),
            Some(Key::Discovery(raw)) => self.on_discovery(raw, true),
            Some(Key::Health(raw)) => self.on_net(raw, true),
            Some(Key::LogFwd(raw)) => self.with_router(|r, lp| r.on_forward(lp, raw, true)),
            Some(Key::Job(..)) | None => debug!("unknown timer {raw:#x}"),
        }
    }

    /// The check in flight took too long: a process check is killed (its
    /// exit is then the result), a network check or lookup fails now.
    fn check_timed_out(&mut self, i: usize) {
        if let Some(pid) = self.job_at(i).check_pid {
            let _ = kill(-pid, libc::SIGKILL);
        }
        if let Some(why) = self.checks.expire(&mut self.lp, i) {
            self.check_result(i, false, why);
        }
    }

    /// Arms or cancels one of job `i`'s timers from outside its machine
    /// (the health check's deadline, the next cron tick).
    fn set_timer(&mut self, i: usize, t: T, at: Option<u64>) {
        let mut out = Vec::new();
        let life = &mut self.job_at_mut(i).life;
        match at {
            Some(at) => life.arm(t, at, &mut out),
            None => life.cancel(t, &mut out),
        }
        self.effects(i, out);
    }

    /// SIGKILL to a running job's whole process group, naming whom it hits.
    fn kill_job(&self, i: usize, why: &str) {
        let life = &self.job_at(i).life;
        if let Some(pid) = life.pid {
            // Listed before the kill: dead processes have no names to read.
            let whom = match tree::group(pid) {
                Ok(procs) if !procs.is_empty() => tree::describe(&procs),
                _ => "its process group".into(),
            };
            warning!("job {} {why}: SIGKILL to {whom}", life.name());
            let _ = signal_job_process(pid, libc::SIGKILL);
        }
        // An inetd job's connections: one line, not one /proc walk each.
        if !life.instances.is_empty() {
            warning!(
                "job {} {why}: SIGKILL to its {} connections' processes",
                life.name(),
                life.instances.len()
            );
            for &pid in &life.instances {
                let _ = signal_job_process(pid, libc::SIGKILL);
            }
        }
    }

    fn arm_cron(&mut self, i: usize) {
        let When::Cron { expr, local } = &self.job_at(i).life.cfg.when else {
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
                self.set_timer(i, T::Cron, Some(at));
            }
            None => warning!(
                "job {}: cron {expr} never fires",
                self.job_at(i).life.cfg.name,
                expr = q(&expr)
            ),
        }
    }

    // ---- health ----

    /// Forgets the check in flight, if any: kills an exec check (its exit
    /// is then ignored), closes a network check, cancels a lookup.
    fn abort_check(&mut self, i: usize) {
        if let Some(pid) = self.job_at_mut(i).check_pid.take() {
            let _ = kill(-pid, libc::SIGKILL);
        }
        self.checks.abort(&mut self.lp, i);
    }

    fn run_check(&mut self, i: usize) {
        let job = self.job_at(i);
        if job.life.ignores_checks() || job.check_pid.is_some() || self.checks.busy(i) {
            return;
        }
        let Some(h) = &job.life.cfg.health else {
            return;
        };
        let (timeout, exec) = (h.timeout, matches!(h.check, Check::Exec(_)));
        let now = self.lp.now();
        self.job_at_mut(i).check_started = now;
        // The deadline covers a check's lookup too.
        self.set_timer(i, T::HealthTimeout, Some(now + timeout));
        let started = if exec {
            self.spawn_argv(i, true)
                .map(|pid| self.job_at_mut(i).check_pid = Some(pid))
        } else {
            let mut done = Vec::new();
            // (Fields apart: the check is borrowed from the job's config.)
            if let Some(h) = &self.jobs[i].life.cfg.health {
                self.checks.start(&mut self.lp, i, &h.check, &mut done);
            }
            self.checks_done(done);
            Ok(())
        };
        if let Err(msg) = started {
            self.set_timer(i, T::HealthTimeout, None);
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
            self.set_timer(i, T::HealthTimeout, None);
            self.check_result(i, passed, &detail);
        }
    }

    fn check_result(&mut self, i: usize, passed: bool, detail: &str) {
        let life = &self.job_at(i).life;
        if life.stopping() {
            debug!(
                "job {}: health check result ignored: the job is stopping",
                life.name()
            );
            return;
        }
        if life.ignores_checks() {
            return;
        }
        let now = self.lp.now();
        let took = now.saturating_sub(self.job_at(i).check_started);
        // (Fields apart: the name is borrowed while the metrics change.)
        self.metrics
            .check(self.jobs[i].name(), passed, took as f64 / 1e9);
        self.job_at_mut(i).last_check = Some((passed, detail.into(), now));
        self.step(i, Input::Checked(passed, detail));
    }

    // ---- signals, shutdown, exit ----

    fn on_signal(&mut self, sig: i32) {
        // In a VM, poweroff/reboot/halt requests (SIGUSR1 too) become SIGTERM.
        let sig = crate::boot::stop_signal(sig);
        match sig {
            libc::SIGCHLD => self.reap(),
            libc::SIGTERM | libc::SIGINT => {
                self.forward_to_main(sig);
                self.begin_shutdown();
            }
            libc::SIGHUP | libc::SIGUSR2 => {
                // A Chaperone config has no jobs that start on signal
                // events: its command, CONSOLE, gets them (Chaperone
                // passed none on).
                if self.chaperone.is_some() {
                    self.forward_to_main(sig);
                }
                let name = if sig == libc::SIGHUP {
                    "SIGHUP"
                } else {
                    "SIGUSR2"
                };
                self.publish(Code::Signal, name);
            }
            libc::SIGUSR1 => {
                self.reopen_all();
            }
            other => self.forward_to_main(other),
        }
    }

    /// To the main job, or for a Chaperone config to CONSOLE.
    fn forward_to_main(&self, sig: i32) {
        let chaperone = self.chaperone.is_some();
        if let Some(pid) = self
            .jobs
            .iter()
            .find(|j| j.life.is_main)
            .or_else(|| {
                self.jobs
                    .iter()
                    .find(|j| chaperone && j.name() == "CONSOLE")
            })
            .and_then(|j| j.life.pid)
        {
            let _ = kill(pid, sig);
        }
    }

    fn begin_shutdown(&mut self) {
        if self.shutting_down {
            return;
        }
        info!("shutting down");
        self.shutting_down = true;
        self.notify_stopping();
        self.publish(Code::Shutdown, GLOBAL);
    }

    /// Every job is complete: stop leftover descendants (grace period =
    /// stopTimeout), then exit once nothing is left.
    fn begin_drain(&mut self) {
        self.draining = true;
        self.reap();
        if !self.no_children {
            self.sweep.begin(&mut self.lp, 0);
        }
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
            self.pump_output(slot, true);
            if let Some(out) = self.outputs[slot].take() {
                let _ = self.lp.deregister(out.fd.raw());
                drop(out);
            }
        }
        self.close_servers();
        self.flush_logs();
        if let Some(r) = &mut self.router {
            r.drain(&mut self.lp);
        }

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
        let mut failed = String::new();
        for j in self.jobs.iter().filter(|j| j.life.last_failed) {
            let why = match j.life.last_exit {
                Some(ExitStatus::Exited(c)) => format!("exit code {c}"),
                Some(ExitStatus::Signaled(sig)) => format!(
                    "killed by {}",
                    crate::signame::name(sig).unwrap_or("a signal")
                ),
                None => "could not be started".into(),
            };
            if !failed.is_empty() {
                failed.push_str(", ");
            }
            failed.push_str("job ");
            failed.push_str(j.name());
            failed.push_str(" failed (");
            failed.push_str(&why);
            failed.push(')');
        }
        if failed.is_empty() {
            return 0;
        }
        error!("exiting 1: {failed} with no restarts left");
        1
    }
}

/// A signal to a job's process and its group: every spawned process leads
/// its own group; an adopted one (MAINPID=, a pidfile) may lead none, and
/// then it alone is signalled.
fn signal_job_process(pid: i32, sig: i32) -> crate::sys::Result<()> {
    match kill(-pid, sig) {
        Err(crate::sys::Errno::ESRCH) => kill(pid, sig),
        done => done,
    }
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
