//! A job's lifecycle as a sans-IO state machine.
//!
//! Contract: the engine feeds a [`Life`] one [`Input`] at a time (an event
//! from the bus, a timer, an exit, a readiness signal, a control op) with
//! the loop's clock, and carries out the [`Effect`]s it returns, in order:
//! spawn, signal, publish, arm or cancel a timer, advertise or withdraw.
//! The machine never touches a process, a socket or the loop, so every
//! state × input is unit-tested below without one.
//!
//! Decisions:
//! - A spawn is an effect whose outcome comes back at once as an input
//!   (`Started` or `SpawnFailed`): the machine never guesses a pid.
//! - Timers are named by [`T`]; the machine keeps each armed timer's
//!   deadline itself (status shows "next run in"), the engine keeps the
//!   loop's timer ids.
//! - Withdrawal from discovery comes before the stop signal (clients stop
//!   sending work while the job drains): `Withdraw` is emitted before
//!   `Signal` in every stop.
//! - What needs more than one job (the shutdown order, `after`, the
//!   preStop wait) is decided by the engine over all machines; a machine
//!   only reports its own readiness and completion.

use crate::config::kinds::Kind;
use crate::config::schema::{JobConfig, Restarts, When};
use crate::events::{Code, Ev, GLOBAL};
use crate::log::{debug, info, warning};
use crate::quote::list;
use crate::sys::process::ExitStatus;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Per-job timers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum T {
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
    /// startTimeout: readiness did not come.
    StartTimeout,
    /// notify's watchdog: WATCHDOG=1 did not come in time.
    Watchdog,
}
pub const T_COUNT: usize = 11;
const TIMERS: [T; T_COUNT] = [
    T::WhenTimeout,
    T::RunTimeout,
    T::StopKill,
    T::StopWait,
    T::Restart,
    T::Interval,
    T::Cron,
    T::Health,
    T::HealthTimeout,
    T::StartTimeout,
    T::Watchdog,
];

impl T {
    pub fn from_index(k: usize) -> Option<T> {
        TIMERS.get(k).copied()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    Unknown,
    Healthy,
    Unhealthy,
    Maintenance,
}

/// Where a job is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    /// Not stopping: waiting for an event or a tick, or running.
    Live,
    /// No more runs: stopping its process, or waiting for a preStop job.
    Halting,
    /// Stopped for good (until a control op or a reload revives it).
    Done,
}

/// What can happen to a job.
#[derive(Debug)]
pub enum Input<'a> {
    /// An event on the bus (every job sees every event, in order).
    Event(&'a Ev),
    /// The shutdown order reached this job: stop it.
    Halt,
    /// The spawn asked for by `Effect::Spawn` started this pid.
    Started(i32),
    /// The spawn failed (no fork, an unknown user, no pipes).
    SpawnFailed(String),
    /// The job's process exited.
    Exited(ExitStatus),
    Timer(T),
    /// A health check's result, and what it said.
    Checked(bool, &'a str),
    /// The job said it is ready (READY=1, the pidfile, its readiness fd).
    Ready,
    /// The job waited on by `after` are all ready now.
    DepsReady,
    /// A job in `after` stopped without ever being ready.
    DepFailed(&'a str),
    /// inetd: the listener is open (the answer to `Spawn`).
    Listening,
    /// inetd: a connection's process started, or exited.
    InstanceStarted(i32),
    InstanceExited(i32),
    /// The job's main process is now this pid (a forking daemon's pidfile,
    /// notify's MAINPID=).
    MainPid(i32),
    /// notify: WATCHDOG=1.
    Watchdog,
    /// notify: EXTEND_TIMEOUT_USEC=, in ns from now.
    ExtendTimeout(u64),
}

/// What the engine must do, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// Start a run; answer with `Started` or `SpawnFailed`.
    Spawn,
    /// This signal to the job's process group.
    Signal(i32),
    /// SIGKILL to the job's process group: this deadline passed.
    Kill(Deadline),
    Publish(Code),
    Arm(T, u64),
    Cancel(T),
    /// Compute the next cron tick and arm `T::Cron`.
    ArmCron,
    /// Register the job's service (its process runs).
    Advertise,
    /// Deregister it.
    Withdraw,
    /// Start a health check now (if none is in flight).
    RunCheck,
    /// Forget the check in flight.
    AbortCheck,
    /// The check in flight took too long: fail it.
    CheckTimedOut,
    /// The main command (after `--`) exited with this code: shut down.
    MainExited(i32),
    /// inetd: close the listener (no more connections).
    Unlisten,
    /// forking: the start command exited 0; read the pidfile now and
    /// watch it until it names the daemon.
    AwaitPidfile,
}

/// The deadlines whose miss kills a job's processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// `timeout`.
    Run,
    /// `stopTimeout` after the stop signal.
    Stop,
    /// `startTimeout` before readiness.
    Start,
    /// `watchdog` between WATCHDOG=1 pings.
    Watchdog,
}

impl Deadline {
    /// Why the job is killed, for the log: "timed out (3s)".
    pub fn why(self, cfg: &JobConfig) -> String {
        let (what, t) = match self {
            Deadline::Run => ("timed out", cfg.timeout.unwrap_or(0)),
            Deadline::Stop => ("did not stop within its stopTimeout", cfg.stop_timeout),
            Deadline::Start => (
                "was not ready within its startTimeout",
                cfg.service.start_timeout.unwrap_or(0),
            ),
            Deadline::Watchdog => ("missed its watchdog", cfg.service.watchdog.unwrap_or(0)),
        };
        format!("{what} ({})", crate::duration::display(t))
    }
}

/// A job's state. Its definition (`cfg`) changes only by reload.
pub struct Life {
    pub cfg: JobConfig,
    /// The `when` event (None: started by startup, interval or cron only).
    pub start_on: Option<Ev>,
    /// Whether the start event still starts the job.
    pub listening: bool,
    /// Starts left (None: unlimited).
    pub starts_remain: Option<u32>,
    pub restarts_remain: Option<u32>,
    pub phase: Phase,
    /// The job's process (or the daemon it adopted).
    pub pid: Option<i32>,
    pub started_at: u64,
    /// Start again as soon as the current run exits.
    pub pending_start: bool,
    /// Shutdown asked this job to stop; it waits for its dependents first.
    pub quit_requested: bool,
    stopping_sent: bool,
    /// Job whose `stopped` we wait for before stopping (ContainerPilot's
    /// preStop pattern: `when: {source: THIS, once: "stopping"}`).
    pub wait_for_stopped: Option<String>,
    pub status: Status,
    pub last_failed: bool,
    quick_failures: u32,
    /// Deadline of each armed timer.
    pub armed: [Option<u64>; T_COUNT],
    pub is_main: bool,
    /// Starts, and those the restart policy made after an exit (status).
    pub runs: u32,
    pub restarts: u32,
    pub last_exit: Option<ExitStatus>,
    pub exited_at: u64,
    /// `telchap disable`: no run starts (event, tick, restart, by hand)
    /// until it is enabled; a run going on goes on.
    pub disabled: bool,
    /// Stopped by the operator (`tug ctl stop`): it does not count as done,
    /// so tug keeps running until it is started again or shut down.
    pub held: bool,
    /// Why the last start failed, for the control socket's answer.
    pub start_error: Option<String>,
    /// Ready in the sense of `after` (see config::kinds).
    pub ready: bool,
    /// Was ready at least once (a dependency that stops after that did
    /// not fail its dependents).
    pub ever_ready: bool,
    /// `after`: the dependencies are not all ready yet; a start waits.
    pub blocked: bool,
    /// A start that came while blocked.
    deferred: bool,
    /// inetd: the listener is open.
    pub accepting: bool,
    /// inetd: the live connections' processes.
    pub instances: Vec<i32>,
    /// forking: the daemon was adopted from the pidfile (else `pid` is
    /// the start command's).
    pub adopted: bool,
}

/// The event that starts a job and how many starts it has (None: any).
pub fn start_rule(when: &When) -> (Option<Ev>, Option<u32>) {
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

pub fn restart_budget(r: Restarts) -> Option<u32> {
    match r {
        Restarts::Unlimited => None,
        Restarts::Limit(n) => Some(n),
    }
}

/// The effects of one input.
pub type Out = Vec<Effect>;

/// One effect more (not inlined: one call is smaller than a push).
#[inline(never)]
fn emit(out: &mut Out, e: Effect) {
    out.push(e);
}

impl Life {
    pub fn new(cfg: JobConfig) -> Life {
        let (start_on, starts_remain) = start_rule(&cfg.when);
        Life {
            restarts_remain: restart_budget(cfg.restarts),
            blocked: !cfg.service.after.is_empty(),
            cfg,
            start_on,
            listening: true,
            starts_remain,
            phase: Phase::Live,
            pid: None,
            started_at: 0,
            pending_start: false,
            quit_requested: false,
            stopping_sent: false,
            wait_for_stopped: None,
            status: Status::Unknown,
            last_failed: false,
            quick_failures: 0,
            armed: [None; T_COUNT],
            is_main: false,
            disabled: false,
            runs: 0,
            restarts: 0,
            last_exit: None,
            exited_at: 0,
            held: false,
            start_error: None,
            ready: false,
            ever_ready: false,
            deferred: false,
            accepting: false,
            instances: Vec::new(),
            adopted: false,
        }
    }

    fn kind(&self) -> Kind {
        self.cfg.service.kind
    }

    /// Whether any process of the job runs (or its listener is open).
    pub fn active(&self) -> bool {
        self.pid.is_some() || self.accepting || !self.instances.is_empty()
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Whether the jobs that start after this one may go: it is ready,
    /// or it is over and its failure does not hold them back
    /// (`startFailure: continue`).
    pub fn done_for_dependents(&self) -> bool {
        self.ready
            || (self.cfg.service.start_failure == crate::config::kinds::StartFailure::Continue
                && self.complete())
    }

    pub fn complete(&self) -> bool {
        self.phase == Phase::Done
    }

    /// No more runs: stopping or stopped.
    pub fn halting(&self) -> bool {
        self.phase != Phase::Live
    }

    /// Whether tug is stopping the job's process (for good, or to restart
    /// it): its checks would only report that stop.
    pub fn stopping(&self) -> bool {
        self.halting() || self.armed[T::StopKill as usize].is_some()
    }

    pub fn is_armed(&self, t: T) -> bool {
        self.armed[t as usize].is_some()
    }

    /// The state as status and the `tug_job_state` gauge show it.
    pub fn state(&self, shutting_down: bool) -> &'static str {
        if self.complete() {
            if shutting_down || self.held {
                "stopped"
            } else {
                "completed"
            }
        } else if self.active() && self.stopping() {
            "stopping"
        } else if self.awaiting_pidfile()
            || (self.pid.is_some() && !self.ready && self.cfg.service.waits_for_ready())
        {
            "starting"
        } else if self.active() {
            "running"
        } else if self.is_armed(T::Restart) {
            "restarting"
        } else {
            "waiting"
        }
    }

    pub fn arm(&mut self, t: T, at: u64, out: &mut Out) {
        self.armed[t as usize] = Some(at);
        emit(out, Effect::Arm(t, at));
    }

    pub fn cancel(&mut self, t: T, out: &mut Out) {
        if self.armed[t as usize].take().is_some() {
            emit(out, Effect::Cancel(t));
        }
    }

    /// Every armed timer but `keep`.
    fn cancel_all(&mut self, keep: Option<T>, out: &mut Out) {
        for t in TIMERS {
            if Some(t) != keep {
                self.cancel(t, out);
            }
        }
    }

    /// Runnable again, as configured: not stopping or stopped, the restart
    /// budget and backoff reset, health unknown (maintenance persists).
    pub fn rearm(&mut self) {
        self.phase = Phase::Live;
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

    /// A job's own clocks: health checks, interval, cron, when.timeout.
    pub fn arm_clocks(&mut self, now: u64, out: &mut Out) {
        if let Some(interval) = self.cfg.health.as_ref().map(|h| h.interval) {
            self.arm(T::Health, now + interval, out);
        }
        match self.cfg.when {
            When::Interval(every) => self.arm(T::Interval, now + every, out),
            When::Cron { .. } => emit(out, Effect::ArmCron),
            When::Event {
                timeout: Some(t), ..
            } => self.arm(T::WhenTimeout, now + t, out),
            _ => {}
        }
    }

    /// Feeds one input; the effects go to `out`, in order.
    pub fn on(&mut self, input: Input<'_>, now: u64, out: &mut Out) {
        match input {
            Input::Event(ev) => self.on_event(ev, now, out),
            Input::Halt => {
                // A periodic job stopped between runs would have run on
                // its next tick: a failed tick was one run, not the job's
                // end. A job waiting to restart after a failure keeps it:
                // shutdown took the restart it was counting on.
                if !self.halting() && self.periodic() {
                    self.last_failed = false;
                }
                self.halt(now, out)
            }
            Input::Started(pid) => self.started(pid, now, out),
            Input::SpawnFailed(msg) => self.spawn_failed(msg, now, out),
            Input::Exited(status) => self.exited(status, now, out),
            Input::Timer(t) => self.on_timer(t, now, out),
            Input::Checked(passed, detail) => self.checked(passed, detail, out),
            Input::Ready => self.became_ready(now, out),
            Input::DepsReady => {
                self.blocked = false;
                if core::mem::take(&mut self.deferred) && !self.halting() {
                    self.start_exec(out);
                }
            }
            Input::Listening => {
                self.accepting = true;
                self.runs += 1;
                self.started_at = now;
                emit(out, Effect::Advertise);
                self.became_ready(now, out);
            }
            Input::InstanceStarted(pid) => self.instances.push(pid),
            Input::InstanceExited(pid) => {
                self.instances.retain(|p| *p != pid);
                if self.halting() && !self.active() {
                    self.cancel(T::StopKill, out);
                    if self.wait_for_stopped.is_none() {
                        self.finish(out);
                    }
                }
            }
            Input::MainPid(pid) => self.adopt(pid, now, out),
            Input::Watchdog => {
                if let (Some(t), Some(_)) = (self.cfg.service.watchdog, self.pid) {
                    self.arm(T::Watchdog, now + t, out);
                }
            }
            // Extends, never shortens (systemd's rule); u64::MAX µs is
            // systemd's infinity: no deadline.
            Input::ExtendTimeout(ns) => match self.armed[T::StartTimeout as usize] {
                Some(_) if ns == u64::MAX => self.cancel(T::StartTimeout, out),
                Some(at) if now.saturating_add(ns) > at => {
                    self.arm(T::StartTimeout, now.saturating_add(ns), out)
                }
                _ => {}
            },
            Input::DepFailed(dep) => {
                if self.pid.is_none() && !self.halting() && self.runs == 0 {
                    info!("job {} will not start: {dep} failed", self.cfg.name);
                    self.listening = false;
                    self.starts_remain = Some(0);
                    self.last_failed = true;
                    self.halt(now, out);
                }
            }
        }
    }

    fn on_event(&mut self, ev: &Ev, now: u64, out: &mut Out) {
        if self.complete() {
            return;
        }
        match (ev.code, ev.source.as_str()) {
            (Code::Shutdown, GLOBAL) => return self.on_quit(out),
            (Code::EnterMaintenance, GLOBAL) => self.status = Status::Maintenance,
            (Code::ExitMaintenance, GLOBAL) => self.status = Status::Unknown,
            (Code::Stopped, src)
                if self.wait_for_stopped.as_deref() == Some(src) && self.halting() =>
            {
                self.cancel(T::StopWait, out);
                self.wait_for_stopped = None;
                self.stop_process(now, out);
            }
            _ => {}
        }
        if self.listening && self.start_on.as_ref() == Some(ev) {
            return self.on_start_event(now, out);
        }
        // Its source job stopped for good: an event this job waits for
        // from it can never come, so it will never start (or run again).
        if ev.code == Code::Stopped
            && self.listening
            && self.pid.is_none()
            && let Some(on) = &self.start_on
            && on.source == ev.source
            && on.code != Code::Stopped
        {
            info!(
                "job {} will not start: {} has stopped",
                self.cfg.name, ev.source
            );
            self.listening = false;
            self.halt(now, out);
        }
    }

    fn on_start_event(&mut self, now: u64, out: &mut Out) {
        if self.starts_remain == Some(0) {
            self.listening = false;
            return self.halt(now, out);
        }
        if let Some(n) = &mut self.starts_remain {
            *n -= 1;
            if *n == 0 {
                self.listening = false;
            }
        }
        self.cancel(T::WhenTimeout, out);
        self.start_exec(out);
    }

    /// Runs on interval or cron ticks.
    fn periodic(&self) -> bool {
        matches!(self.cfg.when, When::Interval(_) | When::Cron { .. })
    }

    /// `telchap reset`: the restart budget full again, the failure forgotten.
    pub fn reset(&mut self) {
        self.restarts_remain = restart_budget(self.cfg.restarts);
        self.restarts = 0;
        self.last_failed = false;
    }

    /// `telchap enable` (the restart budget full again) / `disable`.
    pub fn set_disabled(&mut self, off: bool) {
        self.disabled = off;
        if !off {
            self.restarts_remain = restart_budget(self.cfg.restarts);
        }
    }

    /// The control socket's start: revived if stopped, then a run now.
    pub fn start_by_hand(&mut self, now: u64, out: &mut Out) {
        self.revive(now, out);
        self.start_exec(out);
    }

    /// Makes a stopped job runnable again, as if newly configured, except
    /// that it does not wait for its `when` event: the operator is it.
    pub fn revive(&mut self, now: u64, out: &mut Out) {
        if !self.halting() {
            return;
        }
        let (_, starts) = start_rule(&self.cfg.when);
        self.rearm();
        self.listening = starts.is_none();
        self.starts_remain = starts.map(|_| 0);
        self.arm_clocks(now, out);
    }

    /// A job that starts at startup, added after startup: start it now.
    pub fn kick(&mut self, now: u64, out: &mut Out) {
        if self.listening && self.start_on.as_ref().is_some_and(is_startup) {
            self.on_start_event(now, out);
        }
    }

    /// Before a reload replaces the definition: timers off (a stop in
    /// progress keeps its SIGKILL deadline), out of the catalog.
    pub fn redefine_begin(&mut self, out: &mut Out) {
        self.cancel_all(Some(T::StopKill), out);
        emit(out, Effect::Withdraw);
    }

    /// Replaces the definition (reload): the process, if any, is stopped
    /// with the old stop signal and the new definition starts after it.
    pub fn redefine(&mut self, cfg: JobConfig, now: u64, out: &mut Out) {
        let old_signal = self.cfg.stop_signal;
        let (start_on, starts_remain) = start_rule(&cfg.when);
        // The engine lifts the gate once it knows the dependencies' state.
        self.blocked = !cfg.service.after.is_empty();
        self.deferred = false;
        self.cfg = cfg;
        self.rearm();
        self.start_on = start_on;
        self.starts_remain = starts_remain;
        self.listening = true;
        self.wait_for_stopped = None;
        self.arm_clocks(now, out);
        if self.pid.is_some() {
            // The new definition starts once the old process is gone.
            self.pending_start = self.start_on.as_ref().is_some_and(is_startup);
            emit(out, Effect::Signal(old_signal));
            self.arm(T::StopKill, now + self.cfg.stop_timeout, out);
        } else {
            self.kick(now, out);
        }
    }

    /// `tug ctl stop`: no more runs until started by hand.
    pub fn stop_by_hand(&mut self, now: u64, out: &mut Out) {
        self.restarts_remain = Some(0);
        self.pending_start = false;
        self.held = true;
        self.halt(now, out);
    }

    /// `tug ctl restart` of a running job: stop it, then start again.
    pub fn restart_by_hand(&mut self, now: u64, out: &mut Out) {
        self.pending_start = true;
        // A stop's own pace: no readiness or keep-alive deadline meanwhile.
        self.cancel(T::StartTimeout, out);
        self.cancel(T::Watchdog, out);
        emit(out, Effect::Signal(self.cfg.stop_signal));
        self.arm(T::StopKill, now + self.cfg.stop_timeout, out);
    }

    /// Dropped by a reload: no more runs.
    pub fn remove(&mut self, now: u64, out: &mut Out) {
        self.restarts_remain = Some(0);
        self.pending_start = false;
        self.halt(now, out);
    }

    fn on_quit(&mut self, out: &mut Out) {
        self.restarts_remain = Some(0);
        self.pending_start = false;
        self.cancel(T::Restart, out);
        self.cancel(T::Interval, out);
        self.cancel(T::Cron, out);
        let stop_triggered = matches!(
            self.start_on,
            Some(Ev {
                code: Code::Stopping | Code::Stopped,
                ..
            })
        );
        if stop_triggered && self.cfg.exec.is_some() && self.listening {
            // preStop/postStop jobs still run once, on their event.
            if self.starts_remain.is_none() {
                self.starts_remain = Some(1);
            }
            return;
        }
        self.listening = false;
        self.starts_remain = Some(0);
        self.quit_requested = true;
    }

    fn start_exec(&mut self, out: &mut Out) {
        if self.pid.is_some() {
            // One process per job: start again when this run exits.
            self.pending_start = true;
            return;
        }
        if self.cfg.exec.is_none() || self.disabled {
            return;
        }
        if self.blocked {
            // `after`: the start waits for the dependencies.
            debug!(
                "job {} waits for {}",
                self.cfg.name,
                list(&self.cfg.service.after)
            );
            self.deferred = true;
            return;
        }
        self.forget_health();
        self.start_error = None;
        emit(out, Effect::Spawn);
    }

    fn started(&mut self, pid: i32, now: u64, out: &mut Out) {
        self.runs += 1;
        self.pid = Some(pid);
        self.started_at = now;
        emit(out, Effect::Advertise);
        if let Some(t) = self.cfg.timeout {
            self.arm(T::RunTimeout, now + t, out);
        }
        self.adopted = false;
        match self.cfg.service.start_timeout {
            Some(t) if self.cfg.service.waits_for_ready() => {
                self.arm(T::StartTimeout, now + t, out)
            }
            // A pidfile that never comes must not leave the job starting
            // for ever: systemd's default, 90 s.
            None if self.kind() == Kind::Forking => {
                self.arm(T::StartTimeout, now + FORKING_START_TIMEOUT, out)
            }
            _ => {}
        }
        // A simple job without a health check is ready once started.
        if !self.cfg.service.waits_for_ready()
            && self.cfg.service.kind != Kind::Oneshot
            && self.cfg.health.is_none()
        {
            self.became_ready(now, out);
        }
    }

    fn spawn_failed(&mut self, msg: String, now: u64, out: &mut Out) {
        self.last_failed = true;
        self.start_error = Some(msg);
        emit(out, Effect::Publish(Code::ExitFailed));
        // Never retry a failed spawn synchronously: it would fail again at
        // once (unknown user, no pipes left), in a loop.
        self.after_exit(1_000_000_000, now, out);
    }

    /// Ready (see config::kinds): said once per run.
    fn became_ready(&mut self, now: u64, out: &mut Out) {
        self.cancel(T::StartTimeout, out);
        if self.ready {
            return;
        }
        self.ready = true;
        self.ever_ready = true;
        // The keep-alive starts once start-up is over, as systemd's does.
        if let Some(t) = self.cfg.service.watchdog {
            self.arm(T::Watchdog, now + t, out);
        }
        let svc = &self.cfg.service;
        // Said for the kinds that have a moment of readiness, and where
        // `after` makes it matter; a ContainerPilot job's log is unchanged.
        if svc.waits_for_ready() || svc.kind == Kind::Oneshot || !svc.after.is_empty() {
            info!("job {} is ready", self.cfg.name);
        }
        if svc.waits_for_ready() && self.cfg.health.is_none() {
            emit(out, Effect::Publish(Code::Healthy));
        }
    }

    /// forking: the start command exited 0 and the daemon is not adopted
    /// yet.
    pub fn awaiting_pidfile(&self) -> bool {
        self.kind() == Kind::Forking && self.pid.is_none() && self.is_armed(T::StartTimeout)
    }

    /// The job's main process is now `pid`.
    fn adopt(&mut self, pid: i32, now: u64, out: &mut Out) {
        let first = self.pid.is_none() || !self.adopted;
        self.pid = Some(pid);
        self.adopted = true;
        if first && self.kind() == Kind::Forking {
            self.started_at = now;
        }
        self.became_ready(now, out);
    }

    fn exited(&mut self, status: ExitStatus, now: u64, out: &mut Out) {
        if self.kind() == Kind::Forking
            && !self.adopted
            && status == ExitStatus::Exited(0)
            && !self.halting()
        {
            // The start command forked the daemon and exited: the pidfile
            // names the job's process from now on.
            self.pid = None;
            emit(out, Effect::AwaitPidfile);
            return;
        }
        self.cancel(T::RunTimeout, out);
        self.cancel(T::StopKill, out);
        self.cancel(T::StartTimeout, out);
        self.cancel(T::Watchdog, out);
        // A check in flight was about the run that just ended.
        self.cancel(T::HealthTimeout, out);
        emit(out, Effect::AbortCheck);
        let ok = status == ExitStatus::Exited(0);
        self.pid = None;
        self.last_exit = Some(status);
        self.exited_at = now;
        // A job tug itself stopped did not fail.
        self.last_failed = !ok && !self.halting();
        let ran_for = now.saturating_sub(self.started_at);
        if ok || ran_for >= self.cfg.restart_reset_after {
            self.quick_failures = 0;
        } else {
            self.quick_failures += 1;
        }
        let name = &self.cfg.name;
        match status {
            ExitStatus::Exited(c) => info!("job {name} exited with {c}"),
            ExitStatus::Signaled(s) => info!("job {name} was killed by signal {s}"),
        }
        if self.cfg.service.kind == Kind::Oneshot && ok {
            self.became_ready(now, out);
        }
        emit(
            out,
            Effect::Publish(if ok {
                Code::ExitSuccess
            } else {
                Code::ExitFailed
            }),
        );
        if self.is_main {
            self.restarts_remain = Some(0);
            self.finish(out);
            emit(out, Effect::MainExited(status.code()));
            return;
        }
        // A run that ends resets readiness (except a oneshot's success,
        // which stays: its dependents may start).
        if !(self.cfg.service.kind == Kind::Oneshot && ok) {
            self.ready = false;
        }
        self.after_exit(0, now, out);
    }

    /// What follows a run: restart (after the backoff, at least
    /// `min_delay`), wait for the next event, or stop for good.
    fn after_exit(&mut self, min_delay: u64, now: u64, out: &mut Out) {
        if self.halting() {
            if self.wait_for_stopped.is_none() {
                self.finish(out);
            }
            return;
        }
        if core::mem::take(&mut self.pending_start) {
            return self.start_exec(out);
        }
        if self.periodic() {
            // Periodic jobs run again on their next tick.
            return;
        }
        if self.restarts_remain != Some(0) && !self.disabled {
            if let Some(n) = &mut self.restarts_remain {
                *n -= 1;
            }
            // Without a restartDelay, a job that keeps dying at once is
            // restarted at most once a second (s6's rule), not in a loop.
            let floor = (self.started_at + 1_000_000_000).saturating_sub(now);
            let delay = self
                .backoff()
                .max(min_delay)
                .max(if self.cfg.restart_delay == 0 {
                    floor
                } else {
                    0
                });
            if delay == 0 {
                self.restarts += 1;
                return self.start_exec(out);
            }
            debug!("job {} restarts in {} ms", self.cfg.name, delay / 1_000_000);
            return self.arm(T::Restart, now + delay, out);
        }
        if self.starts_remain != Some(0) && self.listening {
            return; // `each`: wait for the next event.
        }
        self.halt(now, out);
    }

    /// Delay before a restart: restartDelay doubled for each quick failure
    /// in a row (a run shorter than restartResetAfter), capped at
    /// restartMaxDelay.
    fn backoff(&self) -> u64 {
        let base = self.cfg.restart_delay;
        if base == 0 {
            return 0;
        }
        let exp = self.quick_failures.saturating_sub(1).min(32);
        base.saturating_mul(1u64 << exp)
            .min(self.cfg.restart_max_delay.max(base))
    }

    /// No more runs: publish `stopping`, let a preStop-style job finish,
    /// stop the process, then `stopped`.
    fn halt(&mut self, now: u64, out: &mut Out) {
        if self.halting() {
            return;
        }
        self.phase = Phase::Halting;
        self.listening = false;
        self.stopping_sent = true;
        self.deferred = false;
        // Out of the catalog before the signal: clients stop sending work
        // while the job drains.
        emit(out, Effect::Withdraw);
        self.cancel(T::Interval, out);
        self.cancel(T::Cron, out);
        self.cancel(T::Restart, out);
        self.cancel(T::WhenTimeout, out);
        self.cancel(T::StartTimeout, out);
        self.cancel(T::Watchdog, out);
        // A stopping job's health is no news: a check now would only see
        // the stop itself (a refused or reset connection, a 503).
        self.cancel(T::Health, out);
        self.cancel(T::HealthTimeout, out);
        emit(out, Effect::AbortCheck);
        emit(out, Effect::Publish(Code::Stopping));
        if self.wait_for_stopped.is_some() {
            self.arm(T::StopWait, now + self.cfg.stop_timeout, out);
        } else {
            self.stop_process(now, out);
        }
    }

    fn stop_process(&mut self, now: u64, out: &mut Out) {
        if core::mem::take(&mut self.accepting) {
            emit(out, Effect::Unlisten);
        }
        match self.pid.or(self.instances.first().copied()) {
            Some(_) => {
                debug!(
                    "stopping job {} (signal {})",
                    self.cfg.name, self.cfg.stop_signal
                );
                emit(out, Effect::Signal(self.cfg.stop_signal));
                self.arm(T::StopKill, now + self.cfg.stop_timeout, out);
            }
            None => self.finish(out),
        }
    }

    fn finish(&mut self, out: &mut Out) {
        if self.complete() {
            return;
        }
        self.cancel_all(None, out);
        emit(out, Effect::AbortCheck);
        emit(out, Effect::Withdraw);
        self.phase = Phase::Done;
        // Every job publishes `stopping` once, then `stopped`.
        if !core::mem::replace(&mut self.stopping_sent, true) {
            emit(out, Effect::Publish(Code::Stopping));
        }
        emit(out, Effect::Publish(Code::Stopped));
    }

    fn on_timer(&mut self, t: T, now: u64, out: &mut Out) {
        self.armed[t as usize] = None;
        match t {
            T::WhenTimeout => {
                warning!(
                    "job {}: when.timeout expired before its start event",
                    self.cfg.name
                );
                self.starts_remain = Some(0);
                self.halt(now, out);
            }
            T::RunTimeout => self.kill(Deadline::Run, out),
            T::StopKill => self.kill(Deadline::Stop, out),
            T::StopWait => {
                self.wait_for_stopped = None;
                self.stop_process(now, out);
            }
            T::Restart => {
                self.restarts += 1;
                self.start_exec(out);
            }
            T::Interval => {
                if let When::Interval(every) = self.cfg.when {
                    self.arm(T::Interval, now + every, out);
                }
                if self.disabled {
                    // Skipped: its budget is not spent on a tick it did not run.
                } else if self.restarts_remain == Some(0) {
                    self.halt(now, out);
                } else {
                    if let Some(n) = &mut self.restarts_remain {
                        *n -= 1;
                    }
                    self.start_exec(out);
                }
            }
            T::Cron => {
                if self.pid.is_some() {
                    warning!(
                        "job {}: previous run still going, skipping this cron run",
                        self.cfg.name
                    );
                } else {
                    self.start_exec(out);
                }
                emit(out, Effect::ArmCron);
            }
            T::Health => {
                let every = self.cfg.health.as_ref().map_or(0, |h| h.interval);
                self.arm(T::Health, now + every, out);
                if !self.complete() && !self.stopping() && self.status != Status::Maintenance {
                    emit(out, Effect::RunCheck);
                }
            }
            T::HealthTimeout => emit(out, Effect::CheckTimedOut),
            T::StartTimeout if self.pid.is_none() => {
                // forking: the pidfile never named a live daemon.
                warning!(
                    "job {}: no live daemon in its pidfile within {}",
                    self.cfg.name,
                    crate::duration::display(
                        self.cfg
                            .service
                            .start_timeout
                            .unwrap_or(FORKING_START_TIMEOUT)
                    )
                );
                self.exited(ExitStatus::Exited(1), now, out);
            }
            T::StartTimeout => self.kill(Deadline::Start, out),
            T::Watchdog => self.kill(Deadline::Watchdog, out),
        }
    }

    fn kill(&self, why: Deadline, out: &mut Out) {
        if self.pid.is_some() || !self.instances.is_empty() {
            emit(out, Effect::Kill(why));
        }
    }

    /// A health check's result: the job's status, and the event.
    fn checked(&mut self, passed: bool, detail: &str, out: &mut Out) {
        let name = &self.cfg.name;
        if passed {
            if self.status != Status::Healthy {
                info!("job {name} is healthy");
            }
            self.status = Status::Healthy;
            emit(out, Effect::Publish(Code::Healthy));
            if !self.ready {
                self.ready = true;
                self.ever_ready = true;
                self.cancel(T::StartTimeout, out);
            }
        } else {
            if self.status != Status::Unhealthy {
                warning!("job {name} is unhealthy: {detail}");
            }
            self.status = Status::Unhealthy;
            emit(out, Effect::Publish(Code::Unhealthy));
        }
    }

    /// Whether a check result now would describe nothing (the job stops,
    /// is done or in maintenance).
    pub fn ignores_checks(&self) -> bool {
        self.stopping() || self.complete() || self.status == Status::Maintenance
    }
}

/// How long a forking job's pidfile may take without `startTimeout`.
pub const FORKING_START_TIMEOUT: u64 = 90_000_000_000;

pub fn is_startup(ev: &Ev) -> bool {
    ev.code == Code::Startup && ev.source == GLOBAL
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    const S: u64 = 1_000_000_000;

    fn life(job: &str) -> Life {
        let text = alloc::format!("{{jobs: [{job}, {{name: \"other\", exec: \"x\"}}]}}");
        let mut cfg = parse("t.json5", &text).unwrap_or_else(|e| panic!("{e:?}"));
        Life::new(cfg.jobs.remove(0))
    }

    fn ev(code: Code, source: &str) -> Ev {
        Ev {
            code,
            source: source.into(),
        }
    }

    fn on(l: &mut Life, input: Input<'_>, now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        l.on(input, now, &mut out);
        out
    }

    fn published(out: &[Effect]) -> Vec<Code> {
        out.iter()
            .filter_map(|e| match e {
                Effect::Publish(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    fn startup() -> Ev {
        ev(Code::Startup, GLOBAL)
    }

    /// Started at startup and running as pid 42.
    fn running(job: &str) -> Life {
        let mut l = life(job);
        assert_eq!(on(&mut l, Input::Event(&startup()), 0), [Effect::Spawn]);
        on(&mut l, Input::Started(42), 0);
        l
    }

    #[test]
    fn a_startup_job_spawns_once_and_is_ready() {
        let mut l = life(r#"{name: "a", exec: "x"}"#);
        assert_eq!(l.state(false), "waiting");
        assert_eq!(on(&mut l, Input::Event(&startup()), 0), [Effect::Spawn]);
        let out = on(&mut l, Input::Started(42), 5);
        assert_eq!(out, [Effect::Advertise]);
        assert!(l.ready && l.pid == Some(42) && l.started_at == 5);
        assert_eq!(l.state(false), "running");
        // A second startup does not start it again.
        assert_eq!(on(&mut l, Input::Event(&startup()), 6), []);
    }

    #[test]
    fn an_exit_with_no_restarts_stops_the_job_for_good() {
        let mut l = running(r#"{name: "a", exec: "x"}"#);
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(0)), S);
        assert_eq!(
            published(&out),
            [Code::ExitSuccess, Code::Stopping, Code::Stopped]
        );
        assert!(l.complete() && !l.last_failed);
        assert_eq!(l.state(false), "completed");
        assert_eq!(l.state(true), "stopped");
        // Nothing more happens to a complete job.
        assert_eq!(on(&mut l, Input::Event(&startup()), S), []);
    }

    #[test]
    fn a_failed_run_restarts_no_faster_than_once_a_second() {
        let mut l = running(r#"{name: "a", exec: "x", restarts: 2}"#);
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(1)), S / 10);
        assert_eq!(published(&out), [Code::ExitFailed]);
        assert!(out.contains(&Effect::Arm(T::Restart, S)), "{out:?}");
        assert_eq!(l.state(false), "restarting");
        assert_eq!(on(&mut l, Input::Timer(T::Restart), S), [Effect::Spawn]);
        assert_eq!(l.restarts, 1);
        on(&mut l, Input::Started(43), S);
        // Ran long enough: restarted at once.
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(1)), 3 * S);
        assert_eq!(out.last(), Some(&Effect::Spawn));
        on(&mut l, Input::Started(44), 3 * S);
        // Budget spent: the next failure is final, and it counts.
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(1)), 5 * S);
        assert!(l.complete() && l.last_failed, "{out:?}");
    }

    #[test]
    fn backoff_doubles_for_quick_failures_up_to_the_cap() {
        let mut l = running(
            r#"{name: "a", exec: "x", restarts: "unlimited", restartDelay: "1s", restartMaxDelay: "3s"}"#,
        );
        let mut delays = Vec::new();
        let mut now = 0;
        for _ in 0..4 {
            now += S / 2;
            let out = on(&mut l, Input::Exited(ExitStatus::Exited(1)), now);
            let Some(Effect::Arm(T::Restart, at)) = out.last() else {
                panic!("{out:?}")
            };
            delays.push((at - now) / (S / 2));
            now = *at;
            on(&mut l, Input::Timer(T::Restart), now);
            on(&mut l, Input::Started(50), now);
        }
        assert_eq!(delays, [2, 4, 6, 6], "1s, 2s, 3s (the cap), 3s");
    }

    #[test]
    fn a_spawn_failure_fails_the_run_and_waits_a_second() {
        let mut l = life(r#"{name: "a", exec: "x", restarts: 1}"#);
        on(&mut l, Input::Event(&startup()), 0);
        let out = on(&mut l, Input::SpawnFailed("no such user".into()), 0);
        assert_eq!(published(&out), [Code::ExitFailed]);
        assert!(out.contains(&Effect::Arm(T::Restart, S)), "{out:?}");
        assert_eq!(l.start_error.as_deref(), Some("no such user"));
    }

    #[test]
    fn halting_withdraws_before_the_stop_signal_then_kills_at_the_deadline() {
        let mut l = running(r#"{name: "a", exec: "x", stopTimeout: "2s", stopSignal: "SIGINT"}"#);
        let out = on(&mut l, Input::Halt, S);
        let w = out.iter().position(|e| *e == Effect::Withdraw).unwrap();
        let s = out
            .iter()
            .position(|e| *e == Effect::Signal(libc::SIGINT))
            .unwrap();
        assert!(w < s, "{out:?}");
        assert_eq!(published(&out), [Code::Stopping]);
        assert!(out.contains(&Effect::Arm(T::StopKill, 3 * S)));
        assert_eq!(l.state(false), "stopping");
        let out = on(&mut l, Input::Timer(T::StopKill), 3 * S);
        assert_eq!(out, [Effect::Kill(Deadline::Stop)]);
        assert_eq!(
            Deadline::Stop.why(&l.cfg),
            "did not stop within its stopTimeout (2s)"
        );
        let out = on(&mut l, Input::Exited(ExitStatus::Signaled(9)), 3 * S);
        assert_eq!(published(&out), [Code::ExitFailed, Code::Stopped]);
        assert!(!l.last_failed, "a job tug stopped did not fail");
    }

    #[test]
    fn halting_a_periodic_job_between_failed_runs_is_no_failure() {
        let mut l = running(r#"{name: "a", exec: "x", when: {interval: "1s"}}"#);
        on(&mut l, Input::Exited(ExitStatus::Exited(1)), S);
        assert!(l.last_failed && !l.halting());
        let out = on(&mut l, Input::Halt, S);
        assert!(l.complete(), "{out:?}");
        assert!(
            !l.last_failed,
            "its next run was due: the failed run was not its last"
        );
    }

    #[test]
    fn halting_a_job_waiting_to_restart_after_a_failure_keeps_the_failure() {
        let mut l = running(r#"{name: "a", exec: "x", restarts: 1, restartDelay: "1h"}"#);
        on(&mut l, Input::Exited(ExitStatus::Exited(3)), S);
        assert!(l.last_failed && !l.halting());
        let out = on(&mut l, Input::Halt, S);
        assert!(l.complete(), "{out:?}");
        assert!(l.last_failed, "shutdown took the restart it waited for");
    }

    #[test]
    fn a_disabled_job_starts_on_no_tick_and_is_not_restarted() {
        let mut l = running(r#"{name: "a", exec: "x", when: {interval: "1s"}, restarts: 3}"#);
        l.set_disabled(true);
        let out = on(&mut l, Input::Timer(T::Interval), S);
        assert!(!out.iter().any(|e| matches!(e, Effect::Spawn)), "{out:?}");
        assert_eq!(l.restarts_remain, Some(3), "a skipped tick spends nothing");
        let mut l = running(r#"{name: "b", exec: "x", restarts: "unlimited"}"#);
        l.set_disabled(true);
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(1)), S);
        assert!(
            !out.iter()
                .any(|e| matches!(e, Effect::Spawn | Effect::Arm(T::Restart, _))),
            "{out:?}"
        );
        l.set_disabled(false);
        let mut out = Vec::new();
        l.start_by_hand(S, &mut out);
        assert!(out.contains(&Effect::Spawn), "enabled, it starts: {out:?}");
    }

    #[test]
    fn a_halt_without_a_process_completes_at_once() {
        let mut l = life(r#"{name: "a", exec: "x", when: {source: "other", once: "healthy"}}"#);
        let out = on(&mut l, Input::Halt, 0);
        assert_eq!(published(&out), [Code::Stopping, Code::Stopped]);
        assert!(l.complete());
    }

    #[test]
    fn event_jobs_start_on_their_event_once_or_each_time() {
        let mut l = life(r#"{name: "a", exec: "x", when: {source: "other", once: "healthy"}}"#);
        let healthy = ev(Code::Healthy, "other");
        assert_eq!(on(&mut l, Input::Event(&startup()), 0), []);
        assert_eq!(on(&mut l, Input::Event(&healthy), 0), [Effect::Spawn]);
        on(&mut l, Input::Started(7), 0);
        assert!(!l.listening);
        let mut l = life(r#"{name: "a", exec: "x", when: {source: "other", each: "healthy"}}"#);
        for _ in 0..3 {
            assert_eq!(on(&mut l, Input::Event(&healthy), 0), [Effect::Spawn]);
            on(&mut l, Input::Started(7), 0);
            let out = on(&mut l, Input::Exited(ExitStatus::Exited(0)), S);
            assert_eq!(published(&out), [Code::ExitSuccess], "waits for the next");
        }
        // While it runs, the event queues one more run.
        on(&mut l, Input::Event(&healthy), 0);
        on(&mut l, Input::Started(8), 0);
        assert_eq!(on(&mut l, Input::Event(&healthy), 0), []);
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(0)), S);
        assert_eq!(out.last(), Some(&Effect::Spawn));
    }

    #[test]
    fn a_source_that_stopped_means_the_job_never_starts() {
        let mut l = life(r#"{name: "a", exec: "x", when: {source: "other", once: "healthy"}}"#);
        let out = on(&mut l, Input::Event(&ev(Code::Stopped, "other")), 0);
        assert_eq!(published(&out), [Code::Stopping, Code::Stopped]);
    }

    #[test]
    fn when_timeout_gives_up_on_the_start_event() {
        let mut l = life(
            r#"{name: "a", exec: "x", when: {source: "other", once: "healthy", timeout: "5s"}}"#,
        );
        let mut out = Vec::new();
        l.arm_clocks(0, &mut out);
        assert_eq!(out, [Effect::Arm(T::WhenTimeout, 5 * S)]);
        let out = on(&mut l, Input::Timer(T::WhenTimeout), 5 * S);
        assert!(l.complete(), "{out:?}");
    }

    #[test]
    fn shutdown_ends_restarts_and_waits_for_the_shutdown_order() {
        let mut l = running(r#"{name: "a", exec: "x", restarts: "unlimited"}"#);
        let out = on(&mut l, Input::Event(&ev(Code::Shutdown, GLOBAL)), S);
        assert_eq!(out, []);
        assert!(l.quit_requested && !l.halting());
        on(&mut l, Input::Halt, S);
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(0)), S);
        assert!(l.complete(), "no restart while shutting down: {out:?}");
    }

    #[test]
    fn a_prestop_job_still_runs_once_at_shutdown() {
        let mut l = life(r#"{name: "a", exec: "x", when: {source: "other", once: "stopping"}}"#);
        on(&mut l, Input::Event(&ev(Code::Shutdown, GLOBAL)), 0);
        assert!(!l.quit_requested && l.listening);
        let out = on(&mut l, Input::Event(&ev(Code::Stopping, "other")), 0);
        assert_eq!(out, [Effect::Spawn]);
    }

    #[test]
    fn a_job_waiting_for_its_prestop_job_stops_after_it() {
        let mut l = running(r#"{name: "a", exec: "x", stopTimeout: "4s"}"#);
        l.wait_for_stopped = Some("pre".into());
        let out = on(&mut l, Input::Halt, 0);
        assert!(out.contains(&Effect::Arm(T::StopWait, 4 * S)), "{out:?}");
        assert!(!out.iter().any(|e| matches!(e, Effect::Signal(_))));
        let out = on(&mut l, Input::Event(&ev(Code::Stopped, "pre")), S);
        assert!(out.contains(&Effect::Signal(libc::SIGTERM)), "{out:?}");
    }

    #[test]
    fn run_timeout_kills_the_group() {
        let mut l = running(r#"{name: "a", exec: "x", timeout: "3s"}"#);
        assert!(l.is_armed(T::RunTimeout));
        let out = on(&mut l, Input::Timer(T::RunTimeout), 3 * S);
        assert_eq!(out, [Effect::Kill(Deadline::Run)]);
        assert_eq!(Deadline::Run.why(&l.cfg), "timed out (3s)");
    }

    #[test]
    fn interval_jobs_run_on_every_tick() {
        let mut l = life(r#"{name: "a", exec: "x", when: {interval: "10s"}}"#);
        let mut out = Vec::new();
        l.arm_clocks(0, &mut out);
        assert_eq!(out, [Effect::Arm(T::Interval, 10 * S)]);
        on(&mut l, Input::Event(&startup()), 0);
        on(&mut l, Input::Started(1), 0);
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(0)), S);
        assert_eq!(published(&out), [Code::ExitSuccess]);
        let out = on(&mut l, Input::Timer(T::Interval), 10 * S);
        assert_eq!(out, [Effect::Arm(T::Interval, 20 * S), Effect::Spawn]);
    }

    #[test]
    fn cron_skips_a_tick_while_the_last_run_goes_on() {
        let mut l = life(r#"{name: "a", exec: "x", when: {cron: "* * * * *"}}"#);
        assert_eq!(
            on(&mut l, Input::Timer(T::Cron), 0),
            [Effect::Spawn, Effect::ArmCron]
        );
        on(&mut l, Input::Started(1), 0);
        assert_eq!(on(&mut l, Input::Timer(T::Cron), 60 * S), [Effect::ArmCron]);
    }

    #[test]
    fn health_checks_set_the_status_and_publish() {
        let mut l =
            running(r#"{name: "a", exec: "x", health: {exec: "true", interval: 5, ttl: 10}}"#);
        assert!(!l.ready, "with a check, ready is its first pass");
        let out = on(&mut l, Input::Timer(T::Health), 5 * S);
        assert_eq!(out, [Effect::Arm(T::Health, 10 * S), Effect::RunCheck]);
        let out = on(&mut l, Input::Checked(true, "ok"), 5 * S);
        assert_eq!(published(&out), [Code::Healthy]);
        assert!(l.ready && l.status == Status::Healthy);
        let out = on(&mut l, Input::Checked(false, "exited with 1"), 5 * S);
        assert_eq!(published(&out), [Code::Unhealthy]);
        // Maintenance holds the status and skips the checks.
        on(
            &mut l,
            Input::Event(&ev(Code::EnterMaintenance, GLOBAL)),
            5 * S,
        );
        assert!(l.ignores_checks());
        let out = on(&mut l, Input::Timer(T::Health), 10 * S);
        assert_eq!(out, [Effect::Arm(T::Health, 15 * S)]);
        on(
            &mut l,
            Input::Event(&ev(Code::ExitMaintenance, GLOBAL)),
            10 * S,
        );
        assert_eq!(l.status, Status::Unknown);
        let out = on(&mut l, Input::Timer(T::HealthTimeout), 10 * S);
        assert_eq!(out, [Effect::CheckTimedOut]);
    }

    #[test]
    fn a_restart_by_hand_signals_then_starts_again() {
        let mut l = running(r#"{name: "a", exec: "x"}"#);
        let mut out = Vec::new();
        l.restart_by_hand(0, &mut out);
        assert_eq!(out[0], Effect::Signal(libc::SIGTERM));
        let out = on(&mut l, Input::Exited(ExitStatus::Signaled(15)), S);
        assert_eq!(out.last(), Some(&Effect::Spawn));
    }

    #[test]
    fn a_stop_by_hand_holds_until_a_start_by_hand() {
        let mut l = running(r#"{name: "a", exec: "x", restarts: "unlimited"}"#);
        let mut out = Vec::new();
        l.stop_by_hand(0, &mut out);
        on(&mut l, Input::Exited(ExitStatus::Signaled(15)), S);
        assert!(l.complete() && l.held);
        assert_eq!(l.state(false), "stopped");
        let mut out = Vec::new();
        l.start_by_hand(2 * S, &mut out);
        assert_eq!(out.last(), Some(&Effect::Spawn));
        assert!(!l.halting() && !l.held);
    }

    #[test]
    fn the_main_command_exiting_shuts_tug_down() {
        let mut l = running(r#"{name: "a", exec: "x"}"#);
        l.is_main = true;
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(3)), S);
        assert_eq!(
            published(&out),
            [Code::ExitFailed, Code::Stopping, Code::Stopped]
        );
        assert_eq!(out.last(), Some(&Effect::MainExited(3)));
    }

    #[test]
    fn after_defers_a_start_until_the_dependencies_are_ready() {
        let mut l = life(r#"{name: "a", exec: "x", after: ["other"]}"#);
        assert!(l.blocked);
        assert_eq!(on(&mut l, Input::Event(&startup()), 0), []);
        assert_eq!(l.state(false), "waiting");
        assert_eq!(on(&mut l, Input::DepsReady, S), [Effect::Spawn]);
        // Not deferred: the next DepsReady starts nothing.
        on(&mut l, Input::Started(1), S);
        assert_eq!(on(&mut l, Input::DepsReady, S), []);
    }

    #[test]
    fn a_failed_dependency_stops_the_dependent_for_good() {
        let mut l = life(r#"{name: "a", exec: "x", after: ["other"]}"#);
        on(&mut l, Input::Event(&startup()), 0);
        let out = on(&mut l, Input::DepFailed("other"), 0);
        assert_eq!(published(&out), [Code::Stopping, Code::Stopped]);
        assert!(l.complete() && l.last_failed);
    }

    #[test]
    fn a_oneshot_is_ready_when_it_exited_0() {
        let mut l = running(r#"{name: "a", exec: "x", type: "oneshot"}"#);
        assert!(!l.ready);
        on(&mut l, Input::Exited(ExitStatus::Exited(0)), S);
        assert!(l.ready && l.complete());
        let mut l = running(r#"{name: "a", exec: "x", type: "oneshot"}"#);
        on(&mut l, Input::Exited(ExitStatus::Exited(1)), S);
        assert!(!l.ready && l.complete() && l.last_failed);
    }

    #[test]
    fn a_notify_job_is_starting_until_ready_within_its_start_timeout() {
        let mut l = life(r#"{name: "a", exec: "x", type: "notify", startTimeout: "2s"}"#);
        on(&mut l, Input::Event(&startup()), 0);
        let out = on(&mut l, Input::Started(9), 0);
        assert!(
            out.contains(&Effect::Arm(T::StartTimeout, 2 * S)),
            "{out:?}"
        );
        assert_eq!(l.state(false), "starting");
        let out = on(&mut l, Input::Ready, S);
        assert_eq!(
            out,
            [
                Effect::Cancel(T::StartTimeout),
                Effect::Publish(Code::Healthy)
            ]
        );
        assert_eq!(l.state(false), "running");
        // Said once.
        assert_eq!(on(&mut l, Input::Ready, S), []);
        let mut l = life(r#"{name: "a", exec: "x", type: "notify", startTimeout: "2s"}"#);
        on(&mut l, Input::Event(&startup()), 0);
        on(&mut l, Input::Started(9), 0);
        let out = on(&mut l, Input::Timer(T::StartTimeout), 2 * S);
        assert_eq!(out, [Effect::Kill(Deadline::Start)]);
        assert_eq!(
            Deadline::Start.why(&l.cfg),
            "was not ready within its startTimeout (2s)"
        );
    }

    #[test]
    fn a_reload_restarts_a_running_job_on_its_new_definition() {
        let mut l = running(r#"{name: "a", exec: "x", stopSignal: "SIGINT"}"#);
        let new = life(r#"{name: "a", exec: "y"}"#).cfg;
        let mut out = Vec::new();
        l.redefine_begin(&mut out);
        assert_eq!(out, [Effect::Withdraw]);
        let mut out = Vec::new();
        l.redefine(new, S, &mut out);
        assert_eq!(out[0], Effect::Signal(libc::SIGINT), "the old stop signal");
        let out = on(&mut l, Input::Exited(ExitStatus::Signaled(2)), S);
        assert_eq!(out.last(), Some(&Effect::Spawn));
    }

    #[test]
    fn an_inetd_job_listens_and_stops_after_its_instances() {
        let mut l =
            life(r#"{name: "a", exec: "cat", type: "inetd", listen: "tcp://127.0.0.1:2222"}"#);
        assert_eq!(on(&mut l, Input::Event(&startup()), 0), [Effect::Spawn]);
        let out = on(&mut l, Input::Listening, 0);
        assert_eq!(out, [Effect::Advertise]);
        assert!(l.ready && l.accepting && l.pid.is_none());
        assert_eq!(l.state(false), "running");
        on(&mut l, Input::InstanceStarted(10), 0);
        on(&mut l, Input::InstanceStarted(11), 0);
        on(&mut l, Input::InstanceExited(10), 0);
        assert_eq!(l.instances, [11]);
        let out = on(&mut l, Input::Halt, S);
        let unlisten = out.iter().position(|e| *e == Effect::Unlisten).unwrap();
        let signal = out
            .iter()
            .position(|e| *e == Effect::Signal(libc::SIGTERM))
            .unwrap();
        assert!(unlisten < signal, "{out:?}");
        assert_eq!(l.state(false), "stopping");
        let out = on(&mut l, Input::InstanceExited(11), S);
        assert_eq!(published(&out), [Code::Stopped]);
        assert!(l.complete());
    }

    #[test]
    fn an_inetd_job_without_connections_stops_at_once() {
        let mut l =
            life(r#"{name: "a", exec: "cat", type: "inetd", listen: "tcp://127.0.0.1:2222"}"#);
        on(&mut l, Input::Event(&startup()), 0);
        on(&mut l, Input::Listening, 0);
        let out = on(&mut l, Input::Halt, S);
        assert!(out.contains(&Effect::Unlisten));
        assert!(l.complete(), "{out:?}");
    }

    #[test]
    fn a_forking_job_waits_for_its_pidfile_and_follows_the_daemon() {
        let mut l = running(r#"{name: "a", exec: "d", type: "forking", pidfile: "/run/a.pid"}"#);
        assert!(l.is_armed(T::StartTimeout), "the 90 s default");
        assert_eq!(l.state(false), "starting");
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(0)), S);
        assert_eq!(
            out,
            [Effect::AwaitPidfile],
            "the start command's exit is not the job's"
        );
        assert!(l.awaiting_pidfile() && l.state(false) == "starting");
        let out = on(&mut l, Input::MainPid(77), S);
        assert_eq!(
            out,
            [
                Effect::Cancel(T::StartTimeout),
                Effect::Publish(Code::Healthy)
            ]
        );
        assert_eq!((l.pid, l.adopted, l.ready), (Some(77), true, true));
        // A rewritten pidfile (nginx's USR2 upgrade): the new master.
        assert_eq!(on(&mut l, Input::MainPid(78), 2 * S), []);
        assert_eq!(l.pid, Some(78));
        // The daemon's exit is the job's.
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(0)), 3 * S);
        assert!(l.complete(), "{out:?}");
    }

    #[test]
    fn a_forking_start_command_that_fails_fails_the_job() {
        let mut l = running(r#"{name: "a", exec: "d", type: "forking", pidfile: "/run/a.pid"}"#);
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(1)), S);
        assert_eq!(
            published(&out),
            [Code::ExitFailed, Code::Stopping, Code::Stopped]
        );
        assert!(l.last_failed);
    }

    #[test]
    fn a_pidfile_that_never_comes_fails_the_run() {
        let mut l = running(
            r#"{name: "a", exec: "d", type: "forking", pidfile: "/run/a.pid", startTimeout: "2s", restarts: 1}"#,
        );
        on(&mut l, Input::Exited(ExitStatus::Exited(0)), S);
        let out = on(&mut l, Input::Timer(T::StartTimeout), 2 * S);
        assert_eq!(published(&out), [Code::ExitFailed]);
        assert!(l.last_failed, "{out:?}");
        assert_eq!(out.last(), Some(&Effect::Spawn), "restarted: it ran 2s");
    }

    #[test]
    fn the_watchdog_is_fed_by_pings_and_kills_when_starved() {
        let mut l = running(r#"{name: "a", exec: "x", type: "notify", watchdog: "2s"}"#);
        assert!(!l.is_armed(T::Watchdog), "not before start-up is over");
        on(&mut l, Input::Ready, 0);
        assert_eq!(l.armed[T::Watchdog as usize], Some(2 * S));
        assert_eq!(
            on(&mut l, Input::Watchdog, S),
            [Effect::Arm(T::Watchdog, 3 * S)]
        );
        let out = on(&mut l, Input::Timer(T::Watchdog), 3 * S);
        assert_eq!(out, [Effect::Kill(Deadline::Watchdog)]);
        assert_eq!(Deadline::Watchdog.why(&l.cfg), "missed its watchdog (2s)");
    }

    #[test]
    fn extend_timeout_moves_the_start_deadline() {
        let mut l = running(r#"{name: "a", exec: "x", type: "notify", startTimeout: "2s"}"#);
        assert_eq!(
            on(&mut l, Input::ExtendTimeout(5 * S), S),
            [Effect::Arm(T::StartTimeout, 6 * S)]
        );
        on(&mut l, Input::Ready, S);
        assert_eq!(
            on(&mut l, Input::ExtendTimeout(5 * S), S),
            [],
            "ready: nothing to extend"
        );
    }

    #[test]
    fn a_mainpid_moves_the_main_process() {
        let mut l = running(r#"{name: "a", exec: "x", type: "notify"}"#);
        on(&mut l, Input::MainPid(50), 0);
        assert_eq!((l.pid, l.ready), (Some(50), true));
        let mut out = Vec::new();
        l.stop_by_hand(S, &mut out);
        assert!(out.contains(&Effect::Signal(libc::SIGTERM)));
        let out = on(&mut l, Input::Exited(ExitStatus::Exited(0)), S);
        assert!(l.complete(), "{out:?}");
    }

    #[test]
    fn a_stop_cancels_the_watchdog_and_a_queued_after_start() {
        let mut l = running(
            r#"{name: "a", exec: "x", type: "notify", watchdog: "1s", stopTimeout: "10s"}"#,
        );
        on(&mut l, Input::Ready, 0);
        let out = on(&mut l, Input::Halt, 0);
        assert!(out.contains(&Effect::Cancel(T::Watchdog)), "{out:?}");
        assert!(!l.is_armed(T::Watchdog));
        let mut d = life(r#"{name: "d", exec: "x", after: ["other"]}"#);
        on(&mut d, Input::Event(&startup()), 0);
        let mut out = Vec::new();
        d.stop_by_hand(0, &mut out);
        assert_eq!(
            on(&mut d, Input::DepsReady, S),
            [],
            "a stopped job stays stopped"
        );
    }

    #[test]
    fn extend_timeout_never_shortens_and_infinity_lifts_the_deadline() {
        let mut l = running(r#"{name: "a", exec: "x", type: "notify", startTimeout: "90s"}"#);
        assert_eq!(
            on(&mut l, Input::ExtendTimeout(S), 0),
            [],
            "1s would shorten 90s"
        );
        let out = on(&mut l, Input::ExtendTimeout(u64::MAX), 0);
        assert_eq!(out, [Effect::Cancel(T::StartTimeout)]);
    }

    #[test]
    fn every_timer_has_an_index() {
        for (k, t) in TIMERS.iter().enumerate() {
            assert_eq!(*t as usize, k);
            assert_eq!(T::from_index(k), Some(*t));
        }
        assert_eq!(T::from_index(T_COUNT), None);
    }
}
