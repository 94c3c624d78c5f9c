//! What the control socket can ask of the engine: status, per-job start,
//! stop, restart and signal, a job's recent output, reload, environment
//! for future spawns, metrics, maintenance and shutdown.

use super::advertise::watch_spec;
use super::*;
use crate::control::{
    CheckReport, JobAction, JobReport, OpError, Ops, Reply, Report, ServiceReport, WatchReport,
};
use crate::net::server::Request;
use crate::quote::q;

impl Supervisor<'_> {
    pub(super) fn status_report(&self) -> Report {
        let now = self.lp.now();
        // Loops, not collect: its first element would get a copy of the
        // whole report's code.
        let mut jobs = Vec::new();
        for j in self.jobs.iter().filter(|j| !j.removed) {
            jobs.push(self.job_report(j, now));
        }
        let mut watches = Vec::new();
        for w in &self.watches {
            watches.push(WatchReport {
                name: w.name.clone(),
                target: w.target(),
                healthy: w.healthy,
                instances: w.instances.clone(),
            });
        }
        Report {
            version: crate::cli::VERSION.into(),
            pid: proc::getpid(),
            uptime_ns: now.saturating_sub(self.started_ns),
            maintenance: self.maintenance,
            shutting_down: self.shutting_down,
            jobs,
            watches,
        }
    }

    /// One job's state, as status and the `tug_job_state` gauge show it.
    fn job_state(&self, j: &Job) -> &'static str {
        j.life.state(self.shutting_down)
    }

    /// The job-state gauges, brought up to date before a scrape: derived
    /// here, from the one place that decides a state, not tracked apart.
    /// The log router's counters into the metrics (before a scrape).
    pub(super) fn sync_log_metrics(&mut self) {
        if let Some(r) = &self.router {
            r.counts(&mut |family, label, v| self.metrics.log_count(family, label, v));
        }
    }

    pub(super) fn sync_job_states(&mut self) {
        self.sync_log_metrics();
        for j in self.jobs.iter().filter(|j| !j.removed) {
            let state = j.life.state(self.shutting_down);
            self.metrics.job_state(j.name(), state);
        }
    }

    fn job_report(&self, j: &Job, now: u64) -> JobReport {
        let state = self.job_state(j);
        let life = &j.life;
        let next_run_in_ns = [T::Restart, T::Interval, T::Cron]
            .iter()
            .filter_map(|k| life.armed[*k as usize])
            .map(|at| at.saturating_sub(now))
            .min();
        let ago = |at: u64| now.saturating_sub(at);
        JobReport {
            name: life.cfg.name.clone(),
            state,
            pid: life.pid,
            exec: life.cfg.exec.clone().unwrap_or_default(),
            when: when_text(&life.cfg.when),
            after: life.cfg.service.after.clone(),
            runs: life.runs,
            restarts: life.restarts,
            restart_limit: super::super::machine::restart_budget(life.cfg.restarts),
            started_ago_ns: (life.runs > 0).then(|| ago(life.started_at)),
            last_exit: life.last_exit.map(|s| match s {
                ExitStatus::Exited(c) => format!("exit {c}"),
                ExitStatus::Signaled(sig) => format!("signal {sig}"),
            }),
            last_exit_ago_ns: life.last_exit.map(|_| ago(life.exited_at)),
            check: life.cfg.health.as_ref().map(|h| {
                let (kind, target) = match &h.check {
                    Check::Exec(argv) => ("exec", argv.join(" ")),
                    Check::Http { url, .. } => ("http", url.clone()),
                    Check::Tcp(addr) => ("tcp", addr.clone()),
                };
                CheckReport {
                    kind,
                    target,
                    interval_ns: h.interval,
                    timeout_ns: h.timeout,
                    last: j
                        .last_check
                        .as_ref()
                        .map(|(p, d, at)| (*p, d.clone(), ago(*at))),
                }
            }),
            log: (!life.cfg.raw_output).then(|| (j.log.lines(), j.log.len())),
            health: life.cfg.health.as_ref().map(|_| match life.status {
                Status::Unknown => "unknown",
                Status::Healthy => "healthy",
                Status::Unhealthy => "unhealthy",
                Status::Maintenance => "maintenance",
            }),
            service: j.service.as_ref().map(|s| ServiceReport {
                id: s.id.clone(),
                address: s.address.clone(),
                port: s.port,
                registration: match (&self.discovery, j.advertised) {
                    (Some(d), true) => d.service_state(&s.id),
                    _ => "unregistered".into(),
                },
            }),
            next_run_in_ns,
            status: j.kind.status.clone(),
            disabled: life.disabled,
            instances: (life.cfg.service.kind == crate::config::kinds::Kind::Inetd)
                .then_some(life.instances.len()),
        }
    }

    /// Answers a control request: now, or as a stream of a job's output.
    pub(super) fn answer_control(&mut self, conn: u64, req: &Request) {
        let reply = crate::control::answer(req, self);
        let Some(c) = &mut self.control else { return };
        match reply {
            Reply::Now(resp) => c.server().respond(&mut self.lp, conn, resp),
            Reply::Follow(i, name) => c.follow(&mut self.lp, conn, i, &name, &self.jobs[i].log),
            Reply::WaitStop(i) => {
                let life = &self.jobs[i].life;
                if life.pid.is_none() && !life.awaiting_pidfile() {
                    let done = crate::net::server::Response::text(200, "stopped");
                    c.server().respond(&mut self.lp, conn, done);
                } else {
                    c.wait_stop(&mut self.lp, conn, i);
                }
            }
        }
    }

    pub(super) fn job_index(&self, name: &str) -> Option<usize> {
        self.jobs
            .iter()
            .position(|j| !j.removed && j.name() == name)
    }

    /// Replaces a running job's definition in place (reload): it keeps its
    /// index, and its process is restarted on the new definition.
    fn redefine(&mut self, i: usize, cfg: JobConfig) {
        info!("reload: job {} changed: restarting it", cfg.name);
        let service = self.service_of(&cfg);
        let argv = argv_of(&cfg);
        let mut out = Vec::new();
        let now = self.lp.now();
        // The machine withdraws the old service first, then it is replaced.
        self.job_at_mut(i).life.redefine_begin(&mut out);
        self.effects(i, out);
        let job = self.job_at_mut(i);
        job.argv = argv;
        job.service = service;
        job.instance_setup = None;
        let changes = self.kind_changes(i, &cfg.service);
        let mut out = Vec::new();
        self.job_at_mut(i).life.redefine(cfg, now, &mut out);
        self.kind_redefined(i, changes);
        self.effects(i, out);
        self.gate(i);
        if !self.job_at(i).life.blocked {
            self.step(i, Input::DepsReady);
        }
    }

    /// Applies a freshly loaded config: unchanged jobs are not touched,
    /// removed ones stop, new ones start, changed ones restart. Discovery,
    /// control and telemetry settings need a restart of tug.
    fn apply(&mut self, config: Config) {
        if self.discovery.is_some() {
            // Addresses may have changed since start-up.
            self.read_interfaces();
        }
        let mut incoming = config.jobs;
        for i in 0..self.jobs.len() {
            // The command line's main job is no config's; a config's
            // `main` job is compared like any other.
            if (self.has_main && self.job_at(i).life.is_main) || self.job_at(i).removed {
                continue;
            }
            let name = self.job_at(i).name().to_string();
            match incoming.iter().position(|c| c.name == name) {
                Some(k) => {
                    // The model holds no source positions: a job that only
                    // moved in the file compares equal.
                    let new = incoming.remove(k);
                    if new != self.job_at(i).life.cfg {
                        self.redefine(i, new);
                    }
                }
                None => {
                    info!("reload: job {name} removed: stopping it");
                    self.spare_sockets_of(i);
                    let job = self.job_at_mut(i);
                    job.removed = true;
                    // Nobody can ask for its output again: free the ring
                    // (up to 64 KiB a job, and reloads may remove many).
                    job.log = LogRing::new(0);
                    if let Some(c) = &mut self.control {
                        c.end_followers(&mut self.lp, i);
                    }
                    self.drive(i, Life::remove);
                    self.metrics.forget_job(&name);
                }
            }
        }
        for cfg in incoming {
            info!("reload: job {} added", cfg.name);
            self.add_job(cfg);
            let i = self.jobs.len() - 1;
            self.arm(i);
            self.drive(i, Life::kick);
        }
        if !self.has_main {
            // The reloaded config names the main job (or none) anew.
            for j in &mut self.jobs {
                j.life.is_main = !j.removed && Some(j.name()) == config.main.as_deref();
            }
        }
        self.link_stop_waits();
        self.spare_sockets.clear();
        // Watches: keep those whose definition is the same.
        let mut wanted: Vec<WatchSpec> = Vec::new();
        for w in &config.watches {
            wanted.push(watch_spec(w));
        }
        let mut kept = Vec::new();
        for w in core::mem::take(&mut self.watches) {
            if wanted.contains(&w.spec) {
                kept.push(w);
            } else if let Some(d) = &mut self.discovery {
                info!("reload: watch {} removed", w.name);
                d.remove_watch(&mut self.lp, w.index);
            }
        }
        self.watches = kept;
        for w in &config.watches {
            if !self.watches.iter().any(|k| k.spec == watch_spec(w)) {
                self.add_watch(w);
            }
        }
    }
}

use crate::discovery::WatchSpec;

/// What starts a job, for status: "at startup", "every 10s", "once db
/// healthy", "cron \"0 * * * *\" (UTC)".
fn when_text(when: &When) -> String {
    match when {
        When::Startup => "at startup".into(),
        When::Interval(every) => format!("every {}", crate::duration::display(*every)),
        When::Cron { expr, local } => {
            format!(
                "cron {expr} ({})",
                if *local { "local" } else { "UTC" },
                expr = q(&expr)
            )
        }
        When::Event {
            source, code, each, ..
        } => format!(
            "{} {source} {}",
            if *each { "each" } else { "once" },
            code.name()
        ),
    }
}

/// "(pid 42)", or nothing without a process.
fn pid_text(pid: Option<i32>) -> String {
    pid.map_or(String::new(), |p| format!(" (pid {p})"))
}

impl Supervisor<'_> {
    /// `tug ctl start`, or `restart` of a job with no process: a new run,
    /// or the reason it could not start (the exec failed, no fork...).
    fn start_by_hand(&mut self, i: usize, name: &str) -> core::result::Result<String, OpError> {
        info!("control: starting job {name}");
        self.drive(i, Life::start_by_hand);
        match &self.job_at(i).life.start_error {
            Some(why) => Err(OpError::Conflict(format!(
                "job {name} could not start: {why}"
            ))),
            None => Ok(format!(
                "started job {name}{}",
                pid_text(self.job_at(i).life.pid)
            )),
        }
    }
}

impl Ops for Supervisor<'_> {
    fn status(&self) -> Report {
        self.status_report()
    }

    fn job(&mut self, name: &str, action: JobAction) -> core::result::Result<String, OpError> {
        let i = self.job_index(name).ok_or(OpError::UnknownJob)?;
        let busy = |why: &str| Err(OpError::Conflict(format!("job {name} {why}")));
        if self.shutting_down && !matches!(action, JobAction::Signal(_)) {
            return busy("cannot change: tug is shutting down");
        }
        let pid = self.job_at(i).life.pid;
        match action {
            JobAction::Start if self.job_at(i).life.disabled => Err(OpError::Conflict(format!(
                "can only start services which have been enabled: {name}"
            ))),
            JobAction::Start => {
                let life = &self.job_at(i).life;
                if life.active() || life.awaiting_pidfile() {
                    return busy("is already running");
                }
                self.start_by_hand(i, name)
            }
            JobAction::Stop => {
                if self.job_at(i).life.halting() {
                    return busy("is already stopped");
                }
                info!("control: stopping job {name}");
                self.drive(i, Life::stop_by_hand);
                Ok(match pid {
                    Some(p) if self.job_at(i).life.pid.is_some() => {
                        format!("stopping job {name} (pid {p})")
                    }
                    _ => format!("stopped job {name}"),
                })
            }
            JobAction::Restart if self.job_at(i).life.accepting => busy(
                "accepts connections (inetd): each runs its own process; stop and start it instead",
            ),
            JobAction::Restart if self.job_at(i).life.awaiting_pidfile() => {
                busy("is starting (waiting for its pidfile)")
            }
            JobAction::Restart => match pid {
                Some(pid) if !self.job_at(i).life.halting() => {
                    info!("control: restarting job {name}");
                    self.drive(i, Life::restart_by_hand);
                    Ok(format!("restarting job {name} (pid {pid})"))
                }
                Some(_) => busy("is stopping"),
                None => self.start_by_hand(i, name),
            },
            JobAction::Reset => {
                info!("control: resetting job {name}");
                self.job_at_mut(i).life.reset();
                Ok(format!("reset job {name}"))
            }
            JobAction::Enable | JobAction::Disable => {
                let off = action == JobAction::Disable;
                self.job_at_mut(i).life.set_disabled(off);
                let word = if off { "disabled" } else { "enabled" };
                info!("control: job {name} {word}");
                Ok(format!("{word} job {name}"))
            }
            JobAction::Signal(sig) => match pid {
                Some(pid) => {
                    signal_job_process(pid, sig)
                        .map_err(|e| OpError::Conflict(format!("kill: {e}")))?;
                    let sig =
                        crate::signame::name(sig).map_or(format!("signal {sig}"), String::from);
                    Ok(format!("sent {sig} to job {name} (pid {pid})"))
                }
                None => busy("is not running"),
            },
        }
    }

    fn job_log(&self, name: &str) -> core::result::Result<(usize, &LogRing), OpError> {
        let i = self.job_index(name).ok_or(OpError::UnknownJob)?;
        if self.job_at(i).life.cfg.raw_output {
            return Err(OpError::Conflict(format!(
                "job {name} writes to tug's stdout and stderr itself (raw output): tug keeps none of it"
            )));
        }
        Ok((i, &self.job_at(i).log))
    }

    fn reload(&mut self) -> core::result::Result<(), Vec<String>> {
        info!("reloading {}", self.config_path);
        let chap = self.chaperone.as_ref();
        let config =
            crate::config::load_with(&self.config_path, chap, self.env).inspect_err(|errors| {
                error!(
                    "reload rejected, the running jobs are kept: {}",
                    errors.join("; ")
                );
            })?;
        for w in &config.warnings {
            warning!("{w}");
        }
        self.apply(config);
        Ok(())
    }

    fn putenv(&mut self, vars: Vec<(String, String)>) {
        for j in &mut self.jobs {
            j.instance_setup = None;
        }
        for (k, v) in vars {
            // (Names are unique: each replaces its old value.)
            if let Some(old) = self.extra_env.iter().position(|(name, _)| *name == k) {
                self.extra_env.remove(old);
            }
            self.extra_env.push((k, v));
        }
    }

    fn putmetric(&mut self, values: Vec<(String, f64)>) -> core::result::Result<(), String> {
        self.metrics.put(&values)
    }

    fn maintenance(&mut self, on: bool) {
        if on == self.maintenance {
            return;
        }
        self.maintenance = on;
        info!("maintenance mode {}", if on { "on" } else { "off" });
        if let Some(d) = &mut self.discovery {
            d.maintenance(&mut self.lp, on);
        }
        self.publish(
            if on {
                Code::EnterMaintenance
            } else {
                Code::ExitMaintenance
            },
            GLOBAL,
        );
    }

    fn shutdown(&mut self) {
        info!("control: shutdown requested");
        self.begin_shutdown();
    }

    fn shutdown_after(&mut self, delay_ns: u64) -> core::result::Result<(), String> {
        info!("control: shutdown requested in {} ms", delay_ns / 1_000_000);
        let at = self.lp.now().saturating_add(delay_ns);
        if let Some(old) = self.shutdown_timer.take() {
            self.lp.cancel_timer(old);
        }
        self.shutdown_timer = Some(self.lp.add_timer(at, Key::Shutdown.raw()));
        Ok(())
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.job_index(name)
    }

    fn log_level(&mut self, set: Option<&str>) -> core::result::Result<String, String> {
        let Some(chap) = &mut self.chaperone else {
            return Err("only a Chaperone config has a forced log level".into());
        };
        let Some(level) = set else {
            return Ok(chap.log_level.clone().unwrap_or_default());
        };
        if crate::config::chaperone::priority(level).is_none() {
            return Err(format!(
                "{level} is not a priority (emerg, alert, crit, err, warn, notice, info, debug)",
                level = q(&level)
            ));
        }
        let old = chap.log_level.replace(level.into());
        info!("control: log level forced to {level}: reloading");
        // The selectors are widened when the config is mapped.
        self.reload().map_err(|e| {
            if let Some(chap) = &mut self.chaperone {
                chap.log_level = old;
            }
            e.join("\n")
        })?;
        Ok(level.into())
    }

    fn logs_reopen(&mut self) -> String {
        let n = self.reopen_all();
        info!("control: {n} log files reopened");
        format!("{n} log files reopened")
    }

    fn count_request(&mut self, path: &str, status: u16) {
        self.metrics.control_request(path, status);
    }

    fn followers_full(&mut self) -> bool {
        self.control.as_mut().is_some_and(Control::followers_full)
    }
}
