//! tug as an init: run one main child, forward signals to it, reap every
//! zombie, and shut the whole process tree down before exiting with the
//! main child's code.
//!
//! Shutdown starts when the main child exits or when tug gets SIGTERM or
//! SIGINT. Every other descendant then gets SIGTERM, and tug waits until
//! *all* of them are reaped or the grace period ends, when what is left gets
//! SIGKILL. tug exits the moment nothing is left: it never sleeps out the
//! grace period, and it never exits while descendants still run (tini #180:
//! the kernel would SIGKILL them mid-write when PID 1 exits).

use crate::cli::InitArgs;
use crate::env::Environ;
use crate::event_loop::{Event, EventLoop, READABLE};
use crate::log::{debug, fatal, info, warning};
use crate::process::command::Command;
use crate::process::reaper::{self, Left, Sweep};
use crate::process::signals::{self, Inherited};
use crate::signame;
use crate::sys::fd::Fd;
use crate::sys::process::{self as proc, ExitStatus};
use crate::sys::signal::kill;
use alloc::vec::Vec;

/// Loop token of the main child's pidfd.
const TOKEN_MAIN: u64 = 1;
/// Timer key of the grace deadline.
const TIMER_GRACE: u64 = 1;

struct MainChild {
    pid: i32,
    /// None on kernels without pidfd_open (< 5.3): SIGCHLD still works.
    pidfd: Option<Fd>,
}

struct Init<'a> {
    args: &'a InitArgs<'a>,
    lp: EventLoop,
    inherited: Inherited,
    main: Option<MainChild>,
    /// Exit code of the main child once it has been reaped.
    main_code: Option<i32>,
    no_children_left: bool,
    /// SIGTERM to the tree at shutdown, SIGKILL when the grace ends.
    sweep: Sweep,
}

/// Runs the init and returns tug's exit code.
pub fn run(args: &InitArgs<'_>, env: &Environ) -> i32 {
    match Init::start(args, env) {
        Ok(mut init) => init.run(),
        Err(code) => code,
    }
}

impl<'a> Init<'a> {
    fn start(args: &'a InitArgs<'a>, env: &Environ) -> core::result::Result<Init<'a>, i32> {
        let (inherited, lp) = signals::become_init().map_err(|e| {
            fatal!("cannot set up signal handling: {e}");
            1
        })?;
        if let Some(sig) = args.parent_death_signal {
            set_parent_death_signal(sig);
        }
        for sig in [libc::SIGTERM, libc::SIGINT] {
            if signals::was_ignored(sig) {
                // Normal for a background job of a non-interactive shell.
                info!(
                    "{} was ignored when tug started: it will not reach tug",
                    signame::name(sig).unwrap_or("?")
                );
            }
        }

        let mut init = Init {
            args,
            lp,
            inherited,
            main: None,
            main_code: None,
            no_children_left: false,
            sweep: Sweep::new(args.grace_ns, TIMER_GRACE, "only the main child is stopped"),
        };
        init.spawn_main(env)?;
        Ok(init)
    }

    fn spawn_main(&mut self, env: &Environ) -> core::result::Result<(), i32> {
        let envp = env.envp();
        let argv0 = self.args.command[0].to_string_lossy();
        let cmd = Command {
            argv: &self.args.command,
            envp: &envp,
            path: env.get("PATH"),
            new_group: true,
            foreground: proc::owns_foreground(),
            stdio: [None; 3],
            workdir: None,
            credentials: None,
        };
        let started = cmd.spawn(&self.inherited).map_err(|e| {
            fatal!("fork failed: {e}");
            1
        })?;
        if let Some(why) = &started.error {
            // The child already exited with 127 or 126; it is reaped below
            // like any other exit, so -e and the grace logic still apply.
            fatal!("{why}");
        } else {
            info!("Spawned child process '{argv0}' with pid '{}'", started.pid);
        }
        let pidfd = match proc::pidfd_open(started.pid) {
            Ok(fd) => match self.lp.register(fd.raw(), TOKEN_MAIN, READABLE) {
                Ok(()) => Some(fd),
                Err(e) => {
                    debug!("cannot watch the main child's pidfd: {e}");
                    None
                }
            },
            Err(e) => {
                debug!("pidfd_open unavailable ({e}): relying on SIGCHLD");
                None
            }
        };
        self.main = Some(MainChild {
            pid: started.pid,
            pidfd,
        });
        Ok(())
    }

    fn run(&mut self) -> i32 {
        let mut events = Vec::with_capacity(16);
        loop {
            if let Err(e) = self.lp.turn(&mut events) {
                fatal!("event loop failed: {e}");
                return 1;
            }
            for ev in events.drain(..) {
                match ev {
                    Event::Signal(s) if s.signo == libc::SIGCHLD => self.reap(),
                    Event::Signal(s) => {
                        debug!("received signal {} from pid {}", s.signo, s.pid);
                        self.on_signal(s.signo);
                    }
                    Event::Io(r) if r.token == TOKEN_MAIN => self.reap(),
                    Event::Io(_) => {}
                    Event::Timer(TIMER_GRACE) => {
                        if !self.no_children_left {
                            self.sweep.expired();
                        }
                    }
                    Event::Timer(_) => {}
                }
            }
            if let (Some(code), true) = (self.main_code, self.no_children_left) {
                // The grace timer may still be pending: nothing to wait for.
                self.sweep.finish(&mut self.lp);
                debug!(
                    "exiting after {} loop wake-ups, {} timers pending",
                    self.lp.wakeups(),
                    self.lp.pending_timers()
                );
                return self.final_code(code);
            }
        }
    }

    fn on_signal(&mut self, sig: i32) {
        // In a VM, poweroff/reboot/halt requests stop the child with SIGTERM.
        let sig = crate::boot::stop_signal(sig);
        self.forward(sig);
        if sig == libc::SIGTERM || sig == libc::SIGINT {
            self.begin_shutdown();
        }
    }

    fn forward(&self, sig: i32) {
        let Some(main) = &self.main else {
            debug!("no main child to forward signal {sig} to");
            return;
        };
        debug!(
            "Passing signal: '{}'",
            signame::name(sig).unwrap_or("real-time")
        );
        let sent = if self.args.group {
            kill(-main.pid, sig)
        } else if let Some(fd) = &main.pidfd {
            proc::pidfd_send_signal(fd, sig)
        } else {
            kill(main.pid, sig)
        };
        match sent {
            Ok(()) => {}
            Err(e) if proc::is_gone(e) => warning!("Child was dead when forwarding signal"),
            Err(e) => warning!("cannot forward signal {sig}: {e}"),
        }
    }

    /// Reaps every exited child; after the main child, the rest of the
    /// tree is stopped.
    fn reap(&mut self) {
        let mut exits = Vec::new();
        let left = reaper::reap(&mut |pid, status| exits.push((pid, status)));
        for (pid, status) in exits {
            self.reaped(pid, status);
        }
        match left {
            Left::Some => {}
            Left::None => self.no_children_left = true,
            Left::Failed(e) => fatal!("waitpid failed: {e}"),
        }
        if self.main_code.is_some() && !self.no_children_left {
            if self.sweep.started() {
                self.sweep.children_left();
            } else {
                self.begin_shutdown();
            }
        }
    }

    fn reaped(&mut self, pid: i32, status: ExitStatus) {
        if self.main.as_ref().is_some_and(|m| m.pid == pid) {
            if let Some(fd) = self.main.take().and_then(|m| m.pidfd) {
                let _ = self.lp.deregister(fd.raw());
            }
            match status {
                ExitStatus::Exited(c) => info!("Main child exited normally (with status '{c}')"),
                ExitStatus::Signaled(s) => info!(
                    "Main child exited with signal '{}'",
                    signame::name(s).unwrap_or("?")
                ),
            }
            self.main_code = Some(status.code());
        } else if self.args.warn_on_reap {
            warning!("Reaped zombie process with pid={pid}");
        } else {
            debug!("Reaped child with pid: '{pid}'");
        }
    }

    /// The main child already got the forwarded signal; everybody else is
    /// asked to stop now.
    fn begin_shutdown(&mut self) {
        let spare = self.main.as_ref().map_or(0, |m| m.pid);
        self.sweep.begin(&mut self.lp, spare);
    }

    fn final_code(&self, code: i32) -> i32 {
        let code = (code % 256) as u8;
        if self.args.is_remapped(code) {
            0
        } else {
            i32::from(code)
        }
    }
}

/// -p SIG: the kernel only sends it if the parent dies *after* the prctl, so
/// check whether it already died (we were reparented) in between.
fn set_parent_death_signal(sig: i32) {
    let parent = proc::getppid();
    if let Err(e) = proc::set_parent_death_signal(sig) {
        fatal!("Failed to set up parent death signal: {e}");
        return;
    }
    if proc::getppid() != parent {
        let _ = kill(proc::getpid(), sig);
    }
}
