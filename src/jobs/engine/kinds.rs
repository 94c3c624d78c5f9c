//! The service kinds' I/O around the job machine: socket activation,
//! inetd listeners and their instances, sd_notify sockets, readiness
//! pipes, forking daemons' pidfiles, and tug's own upward notifications.
//!
//! Decisions:
//! - A notify socket, a readiness pipe and a pidfile watch live for one
//!   run: made before the spawn (so nothing the job says is missed),
//!   dropped when the run ends. Activation sockets and an inetd listener
//!   live as long as the job: bound before the first start, kept across
//!   restarts, so no connection is refused meanwhile.
//! - What a job says on its notify socket is read before its exit is
//!   handled (a parent that sends MAINPID= and exits at once).
//! - A main pid that moves (MAINPID=, a rewritten pidfile) must pass the
//!   adoption check (service::pidfile::adoptable); the old one's exit is
//!   then nobody's.
//! - tug's own NOTIFY_SOCKET gets READY=1 once every job that starts at
//!   startup and has a notion of readiness is ready or has stopped, and
//!   STOPPING=1 when shutdown begins; it is never passed on to a job.

use super::*;
use crate::config::kinds::Kind;
use crate::service::listen::{self, Acceptor};
use crate::service::notify::{self, Notice, NotifySocket, Upward};
use crate::service::pidfile::{self, Change, PidfileWatch};
use crate::sys::Errno;
use core::ffi::c_int;

/// A job's service-kind parts.
#[derive(Default)]
pub(super) struct JobKind {
    /// Socket activation: bound once, passed from fd 3 on every start.
    sockets: Vec<Fd>,
    acceptor: Option<Acceptor>,
    notify: Option<NotifySocket>,
    /// The uid a notification may come from (besides root).
    notify_uid: Option<u32>,
    readiness: Option<Fd>,
    pidfile: Option<PidfileWatch>,
    /// The last STATUS= of a notify job.
    pub(super) status: Option<String>,
}

/// What a run needs from its kind, made just before the spawn.
#[derive(Default)]
pub(super) struct Setup {
    pub(super) fds: Vec<(c_int, c_int)>,
    pub(super) env: Vec<(String, String)>,
    pub(super) pid_env: Vec<&'static str>,
    readiness: Option<(Fd, Fd)>,
    notify: Option<NotifySocket>,
    pidfile: Option<PidfileWatch>,
}

impl Supervisor<'_> {
    /// Binds, opens and watches what this run of job `i` needs.
    pub(super) fn kind_setup(&mut self, i: usize) -> core::result::Result<Setup, String> {
        let mut setup = Setup::default();
        let name = self.job_at(i).name().to_string();
        if !self.job_at(i).life.cfg.service.sockets.is_empty() {
            if self.job_at(i).kind.sockets.is_empty() {
                let mut bound = Vec::new();
                let addrs = self.job_at(i).life.cfg.service.sockets.clone();
                for l in &addrs {
                    // A removed job's socket for the same address (reload)
                    // is taken over: no gap, no EADDRINUSE.
                    let fd = match self.spare_sockets.iter().position(|(s, _)| s == l) {
                        Some(k) => self.spare_sockets.swap_remove(k).1,
                        None => {
                            let fd = listen::bind(l).map_err(|e| format!("socket {l}: {e}"))?;
                            // The job's own now: blocking, as systemd
                            // passes it; tug never accepts on it.
                            fd::set_blocking(&fd).map_err(|e| format!("socket {l}: {e}"))?;
                            fd
                        }
                    };
                    info!("job {name}: listening on {}", l.bound(&fd));
                    bound.push(fd);
                }
                self.job_at_mut(i).kind.sockets = bound;
            }
            let socks = &self.job_at(i).kind.sockets;
            for (k, fd) in socks.iter().enumerate() {
                setup.fds.push((fd.raw(), listen::FIRST_FD + k as c_int));
            }
            let names: Vec<&str> = socks.iter().map(|_| name.as_str()).collect();
            setup.env.extend(listen::activation_env(&names)?);
            setup.pid_env.push("LISTEN_PID");
        }
        let svc = &self.job_at(i).life.cfg.service;
        if svc.kind == Kind::Notify {
            let sock = NotifySocket::bind()?;
            setup
                .env
                .push(("NOTIFY_SOCKET".into(), sock.address().into()));
            if let Some(t) = svc.watchdog {
                setup
                    .env
                    .push(("WATCHDOG_USEC".into(), format!("{}", t / 1000)));
                setup.pid_env.push("WATCHDOG_PID");
            }
            setup.notify = Some(sock);
        }
        if let Some(n) = svc.readiness_fd {
            let (r, w) = super::reading_pipe("readiness pipe")?;
            setup.fds.push((w.raw(), n));
            setup.readiness = Some((r, w));
        }
        if let Some(path) = &svc.pidfile {
            setup.pidfile = Some(PidfileWatch::new(path)?);
        }
        Ok(setup)
    }

    /// The run started: its notify socket, readiness pipe and pidfile
    /// watch join the loop.
    pub(super) fn kind_started(&mut self, i: usize, setup: Setup) {
        if let Some(sock) = setup.notify {
            // Who may notify besides root: the job's user (looked up only
            // for a notify job).
            let life = &self.job_at(i).life;
            let uid = match (&life.cfg.user, &life.cfg.group) {
                (None, None) => Some(proc::getuid()),
                (u, g) => users::resolve(u.as_deref(), g.as_deref())
                    .ok()
                    .map(|id| id.uid),
            };
            let _ = self
                .lp
                .register(sock.fd(), Token::Notify(i).raw(), READABLE);
            let kind = &mut self.job_at_mut(i).kind;
            kind.notify = Some(sock);
            kind.notify_uid = uid;
            kind.status = None;
        }
        if let Some((r, w)) = setup.readiness {
            drop(w);
            let _ = self
                .lp
                .register(r.raw(), Token::Readiness(i).raw(), READABLE);
            self.job_at_mut(i).kind.readiness = Some(r);
        }
        if let Some(watch) = setup.pidfile {
            let _ = self
                .lp
                .register(watch.fd(), Token::Pidfile(i).raw(), READABLE);
            self.job_at_mut(i).kind.pidfile = Some(watch);
        }
    }

    /// The run ended (and what it said was read): its per-run parts go.
    pub(super) fn kind_ended(&mut self, i: usize) {
        if self.job_at(i).life.awaiting_pidfile() {
            return;
        }
        let kind = &mut self.job_at_mut(i).kind;
        let (n, r, p) = (
            kind.notify.take(),
            kind.readiness.take(),
            kind.pidfile.take(),
        );
        if let Some(n) = n {
            let _ = self.lp.deregister(n.fd());
        }
        if let Some(r) = r {
            let _ = self.lp.deregister(r.raw());
        }
        if let Some(p) = p {
            let _ = self.lp.deregister(p.fd());
        }
    }

    /// A reload replaced the definition: sockets bound for the old one
    /// are closed if the new one lists others.
    /// (`sockets`, `listener`: what changed, from `kind_changes`.)
    pub(super) fn kind_redefined(&mut self, i: usize, (sockets, listener): (bool, bool)) {
        if sockets {
            self.job_at_mut(i).kind.sockets.clear();
        }
        if listener {
            self.unlisten(i);
        }
    }

    /// What a new definition `new` of job `i` changes of its kind's
    /// sockets: (activation sockets, the inetd listener).
    pub(super) fn kind_changes(
        &self,
        i: usize,
        new: &crate::config::kinds::Service,
    ) -> (bool, bool) {
        let old = &self.job_at(i).life.cfg.service;
        (
            new.sockets != old.sockets,
            new.listen != old.listen || new.kind != old.kind,
        )
    }

    // ---- inetd ----

    /// `Spawn` for an inetd job: open the listener.
    pub(super) fn open_listener(&mut self, i: usize) {
        let name = self.job_at(i).name().to_string();
        let Some(l) = self.job_at(i).life.cfg.service.listen.clone() else {
            return;
        };
        self.job_at_mut(i).instance_setup = None;
        if self.job_at(i).kind.acceptor.is_none() {
            match listen::bind(&l) {
                Ok(fd) => {
                    info!("job {name}: accepting on {}", l.bound(&fd));
                    let a = Acceptor::new(fd, Token::Listener(i).raw(), format!("job {name}"));
                    self.job_at_mut(i).kind.acceptor = Some(a);
                }
                Err(e) => {
                    let msg = format!("cannot listen on {l}: {e}");
                    error!("job {name}: {msg}");
                    return self.step(i, Input::SpawnFailed(msg));
                }
            }
        }
        self.rewatch(i);
        self.step(i, Input::Listening);
    }

    /// The listener is in the loop exactly while instances are below `max`.
    fn rewatch(&mut self, i: usize) {
        let live = self.job_at(i).life.instances.len();
        let max = self.job_at(i).life.cfg.service.max as usize;
        let job = &mut self.jobs[i];
        if let Some(a) = &mut job.kind.acceptor
            && let Err(e) = a.watch(&self.lp, live, max)
        {
            error!("{e}");
        }
    }

    pub(super) fn on_listener(&mut self, i: usize) {
        let live = self.job_at(i).life.instances.len();
        let max = self.job_at(i).life.cfg.service.max as usize;
        let Some(a) = self.jobs.get_mut(i).and_then(|j| j.kind.acceptor.as_mut()) else {
            return;
        };
        let accepted = a.accept_ready(live, max);
        for (conn, peer) in accepted.conns {
            match self.spawn_proc(i, Spawn::Instance(conn, peer.clone())) {
                Ok(pid) => {
                    debug!(
                        "job {}: connection from {peer} (pid {pid})",
                        self.job_at(i).name()
                    );
                    self.step(i, Input::InstanceStarted(pid));
                }
                Err(e) => error!("job {}: connection from {peer}: {e}", self.job_at(i).name()),
            }
        }
        if let Some(e) = accepted.error {
            // Out of fds or memory: try again in a second, not in a loop.
            warning!("{e}: accepting again in 1s");
            let at = self.lp.now() + 1_000_000_000;
            self.lp.add_timer(at, Key::ListenRetry(i).raw());
        }
        self.rewatch(i);
    }

    pub(super) fn listen_retry(&mut self, i: usize) {
        if let Some(a) = self.jobs.get_mut(i).and_then(|j| j.kind.acceptor.as_mut()) {
            a.retry();
            self.rewatch(i);
        }
    }

    /// An instance ended: one more connection may be accepted.
    pub(super) fn instance_exited(&mut self, i: usize, pid: i32, status: ExitStatus) {
        self.drain_outputs_of(Some(pid));
        debug!(
            "job {}: instance {pid} exited with {}",
            self.job_at(i).name(),
            status.code()
        );
        self.step(i, Input::InstanceExited(pid));
        self.rewatch(i);
    }

    /// No more connections: the listener closes (a unix socket's file
    /// goes with it).
    pub(super) fn unlisten(&mut self, i: usize) {
        if let Some(mut a) = self.job_at_mut(i).kind.acceptor.take() {
            a.unwatch(&self.lp);
            if let Some(l) = &self.job_at(i).life.cfg.service.listen {
                listen::unbind(l);
            }
        }
    }

    /// A job left the config (reload): its sockets wait for a job that
    /// lists the same addresses, until the reload is done.
    pub(super) fn spare_sockets_of(&mut self, i: usize) {
        let fds = core::mem::take(&mut self.job_at_mut(i).kind.sockets);
        let addrs = self.job_at(i).life.cfg.service.sockets.clone();
        self.spare_sockets.extend(addrs.into_iter().zip(fds));
        self.unlisten(i);
    }

    /// Every pid of job `i`: its main process and its instances.
    pub(super) fn job_pids(&self, i: usize) -> Vec<i32> {
        let life = &self.job_at(i).life;
        let mut pids = life.instances.clone();
        if let Some(pid) = life.pid {
            pids.insert(0, pid);
        }
        pids
    }

    // ---- readiness ----

    pub(super) fn on_readiness(&mut self, i: usize) {
        let Some(r) = self.jobs.get(i).and_then(|j| j.kind.readiness.as_ref()) else {
            return;
        };
        let mut buf = [0u8; 256];
        let (ready, open) = match r.read(&mut buf) {
            Ok(0) => (false, false),
            Ok(n) => (buf[..n].contains(&b'\n'), true),
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => (false, true),
            Err(_) => (false, false),
        };
        if ready || !open {
            // Said once: the pipe has done its work.
            if let Some(r) = self.job_at_mut(i).kind.readiness.take() {
                let _ = self.lp.deregister(r.raw());
            }
        }
        if ready {
            self.step(i, Input::Ready);
        }
    }

    // ---- sd_notify ----

    /// Reads every queued notification of job `i`.
    pub(super) fn on_notify(&mut self, i: usize) {
        loop {
            let Some(msg) = self
                .jobs
                .get(i)
                .and_then(|j| j.kind.notify.as_ref())
                .and_then(NotifySocket::recv)
            else {
                return;
            };
            // The job's processes, and those that were its main one
            // before a MAINPID= (a wrapper's later STATUS=).
            let mut pids = self.job_pids(i);
            pids.extend(
                self.procs
                    .iter()
                    .filter(|p| matches!(p.owner, Owner::Former(j) if j == i))
                    .map(|p| p.pid),
            );
            let allowed = notify::sender_allowed(
                msg.pid,
                msg.uid,
                &pids,
                self.job_at(i).kind.notify_uid,
                |pid| notify::lineage(pid, &pids, |p| tree::lookup(p).map(|(pr, _)| pr.ppid)),
            );
            let name = self.job_at(i).name().to_string();
            if let Err(why) = allowed {
                warning!(
                    "job {name}: notification from pid {} refused: {why}",
                    msg.pid
                );
                continue;
            }
            for notice in msg.notices {
                self.notice(i, &name, notice);
            }
        }
    }

    fn notice(&mut self, i: usize, name: &str, notice: Notice) {
        match notice {
            Notice::Ready => self.step(i, Input::Ready),
            Notice::Status(text) => {
                debug!("job {name}: status: {text}");
                self.job_at_mut(i).kind.status = Some(text);
            }
            Notice::MainPid(pid) => self.adopt(i, pid, None),
            Notice::Watchdog => self.step(i, Input::Watchdog),
            Notice::WatchdogTrigger => {
                warning!("job {name}: WATCHDOG=trigger");
                self.step(i, Input::Timer(T::Watchdog));
            }
            Notice::ExtendTimeoutUsec(us) => {
                self.step(i, Input::ExtendTimeout(us.saturating_mul(1000)))
            }
            Notice::Stopping => info!("job {name} is stopping"),
            Notice::Reloading => info!("job {name} is reloading"),
            Notice::Errno(e) => warning!("job {name} reports errno {e}"),
            Notice::WatchdogUsec(_) | Notice::Barrier | Notice::Unknown(_) => {}
            Notice::Invalid(why) => warning!("job {name}: notification: {why}"),
        }
    }

    // ---- forking ----

    /// The start command exited 0: the pidfile names the daemon now, or
    /// will once it is written.
    pub(super) fn await_pidfile(&mut self, i: usize) {
        let read = match &self.job_at(i).kind.pidfile {
            Some(w) => w.read_now(),
            None => return,
        };
        match read {
            Ok(Some(pid)) => self.adopt_from_pidfile(i, pid),
            Ok(None) => debug!("job {}: waiting for its pidfile", self.job_at(i).name()),
            Err(e) => warning!("job {}: pidfile: {e}", self.job_at(i).name()),
        }
    }

    pub(super) fn on_pidfile(&mut self, i: usize) {
        let Some(change) = self
            .jobs
            .get_mut(i)
            .and_then(|j| j.kind.pidfile.as_mut())
            .and_then(PidfileWatch::on_readable)
        else {
            return;
        };
        let name = self.job_at(i).name().to_string();
        match change {
            Change::Pid(pid) => self.adopt_from_pidfile(i, pid),
            Change::Removed => debug!("job {name}: pidfile removed"),
            Change::Error(e) => warning!("job {name}: pidfile: {e}"),
        }
    }

    fn adopt_from_pidfile(&mut self, i: usize, pid: i32) {
        let path = self
            .job_at(i)
            .kind
            .pidfile
            .as_ref()
            .map(|w| String::from(w.path()));
        self.adopt(i, pid, path.as_deref());
    }

    /// Makes `pid` job `i`'s main process, if it may be (module docs).
    fn adopt(&mut self, i: usize, pid: i32, pidfile: Option<&str>) {
        let life = &self.job_at(i).life;
        if life.pid == Some(pid) || life.halting() {
            return;
        }
        let name = life.name().to_string();
        let mine = self.job_pids(i);
        let mut others = Vec::new();
        for p in &self.procs {
            if !matches!(p.owner, Owner::Job(j) | Owner::Instance(j) | Owner::Check(j) | Owner::Former(j) if j == i)
            {
                others.push(p.pid);
            }
        }
        if let Err(why) = pidfile::adoptable(pid, proc::getpid(), &others, &mine) {
            warning!("job {name}: main pid {pid} refused: {why}");
            return;
        }
        let first = !self.job_at(i).life.adopted;
        match pidfile {
            Some(path) if first => info!("job {name}: main pid {pid} (from {path})"),
            _ => info!("job {name}: main pid is now {pid}"),
        }
        for p in &mut self.procs {
            if matches!(p.owner, Owner::Job(j) if j == i) {
                p.owner = Owner::Former(i);
            }
        }
        // A former main pid coming back (a failed nginx upgrade) keeps its
        // entry; a new one must be followable (a pidfd, or our child).
        match self.procs.iter_mut().find(|p| p.pid == pid) {
            Some(p) => p.owner = Owner::Job(i),
            None => {
                if !self.own(pid, Owner::Job(i))
                    && tree::lookup(pid).is_some_and(|(p, _)| p.ppid != proc::getpid())
                {
                    warning!("job {name}: main pid {pid} refused: no pidfd to follow it by");
                    // (Just pushed: the last entry, the only one of `pid`.)
                    self.procs.pop();
                    return;
                }
            }
        }
        self.step(i, Input::MainPid(pid));
    }

    /// A pidfd fired: a child to reap, or an adopted process that is not
    /// tug's child (its exit status is not ours to read).
    pub(super) fn on_pidfd(&mut self, pid: i32) {
        self.reap();
        let Some(at) = self.procs.iter().position(|p| p.pid == pid) else {
            return;
        };
        // A pidfd is readable once its process exited; a child of ours
        // would have been reaped just now.
        let entry = self.procs.swap_remove(at);
        if let Some(f) = &entry._pidfd {
            let _ = self.lp.deregister(f.raw());
        }
        if let Owner::Job(i) = entry.owner {
            self.on_notify(i);
            info!(
                "job {}: main pid {pid} exited (not tug's child: its status is unknown)",
                self.job_at(i).name()
            );
            self.job_exited(i, ExitStatus::Exited(0));
        }
    }

    // ---- tug's own NOTIFY_SOCKET ----

    /// READY=1 (once) when every job that starts at startup and has a
    /// notion of readiness is ready or stopped.
    pub(super) fn notify_upward(&mut self) {
        if self.upward.is_none() || self.upward_ready {
            return;
        }
        let mut ready = 0;
        let mut waiting = Vec::new();
        for j in self.jobs.iter().filter(|j| !j.removed) {
            let life = &j.life;
            let svc = &life.cfg.service;
            let notion = svc.waits_for_ready()
                || svc.kind == Kind::Oneshot
                || life.cfg.health.is_some()
                || !svc.after.is_empty();
            if !notion || !matches!(life.cfg.when, When::Startup) {
                continue;
            }
            if life.ready || life.halting() {
                ready += 1;
            } else {
                waiting.push(j.name());
            }
        }
        let status = notify::summary(ready, &waiting);
        if status == self.upward_status {
            return;
        }
        let done = waiting.is_empty();
        if let Some(u) = &mut self.upward {
            u.send(&notify::format(done, false, &status));
        }
        self.upward_ready = done;
        self.upward_status = status;
    }

    pub(super) fn notify_stopping(&mut self) {
        if let Some(u) = &mut self.upward {
            u.send(&notify::format(false, true, "shutting down"));
        }
    }
}

/// tug's own NOTIFY_SOCKET, taken from its environment.
pub(super) fn upward(env: &Environ) -> Option<Upward> {
    Upward::from_env(env.get("NOTIFY_SOCKET"))
}
