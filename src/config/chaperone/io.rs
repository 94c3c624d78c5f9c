//! The edge of the Chaperone front-end: whether a path is a Chaperone
//! config, reading it (a file, or a directory's `*.conf`/`*.yaml`), the
//! passwd lookup, the PATH search for `optional`, and backticks run by
//! `/bin/sh -c`.
//!
//! Backticks run while the config loads (before the loop starts, and on a
//! reload): blocking, as Chaperone's did, each (user, command) once per
//! load. Each has [`BACKTICK_TIMEOUT_MS`]: then its process group is
//! killed and it yields "" with a warning (Chaperone waited forever). So a
//! reload holds the loop for at most that per backtick; the commands real
//! configs use (`readlink`, `[ -f ]`, `echo`) take milliseconds.

use super::Options;
use super::expand::Shell;
use super::load::{self, wanted};
use super::map::{Io, Passwd};
use crate::env::Environ;
use crate::num::dec;
use crate::sys::fd::{dev_null, list_dir, pipe, poll_in, read_file};
use crate::sys::file::{S_IFREG, stat};
use crate::sys::process::wait_for;
use crate::sys::signal::SigSet;
use crate::sys::signal::kill;
use crate::sys::spawn::{Credentials, ExecPlan, fork_exec};
use crate::sys::time::now_ns;
use alloc::ffi::CString;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::ffi::c_char;

const S_IFDIR: u32 = 0o040_000;

/// How long one backtick may run.
pub const BACKTICK_TIMEOUT_MS: u64 = 10_000;

/// Whether `path` holds a Chaperone config: a directory, or a file whose
/// top level has `settings` or a `NAME.service` or `NAME.logging` key (a
/// line starting so: a file of only logging sections is Chaperone's too).
pub fn is_chaperone(path: &str) -> bool {
    let Ok(c) = CString::new(path) else {
        return false;
    };
    match stat(&c) {
        Ok(st) if st.kind == S_IFDIR => true,
        Ok(st) if st.kind == S_IFREG => read_file(&c).is_ok_and(|b| {
            String::from_utf8_lossy(&b).lines().any(|l| {
                let l = l.trim_start_matches(['"', '\'']);
                let key = l.split(':').next().unwrap_or("");
                let key = key.trim_end_matches(['"', '\'', ' ']);
                !l.starts_with([' ', '\t', '#'])
                    && (key == "settings"
                        || (key.len() > 8
                            && (key.ends_with(".service") || key.ends_with(".logging"))))
            })
        }),
        _ => false,
    }
}

/// `FILE: MSG` as the one error of [`read`]: one copy of the formatting.
#[inline(never)]
fn fail(file: &str, msg: core::fmt::Arguments) -> Vec<String> {
    Vec::from([format!("{file}: {msg}")])
}

/// The files of the config at `path`: (name, text) in reading order.
pub fn read(path: &str) -> Result<Vec<(String, String)>, Vec<String>> {
    let c = CString::new(path).map_err(|_| fail(path, format_args!("invalid path")))?;
    let st = stat(&c).map_err(|e| fail(path, format_args!("{e}")))?;
    let mut names = Vec::new();
    if st.kind == S_IFDIR {
        let list = list_dir(&c).map_err(|e| fail(path, format_args!("cannot list: {e}")))?;
        for n in list {
            let n = n.to_string_lossy().into_owned();
            if wanted(&n) {
                names.push(format!("{}/{n}", path.trim_end_matches('/')));
            }
        }
        // Python's order of str: byte order (`<` on str), small lists.
        crate::sort::small(&mut names, |a, b| a < b);
    } else {
        names.push(path.to_string());
    }
    let mut files = Vec::new();
    for name in names {
        let c =
            CString::new(name.as_str()).map_err(|_| fail(&name, format_args!("invalid path")))?;
        let bytes = read_file(&c).map_err(|e| fail(&name, format_args!("cannot read: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            fail(&name, format_args!("not UTF-8 (byte {at})"))
        })?;
        files.push((name, text));
    }
    Ok(files)
}

/// The passwd entry of a name or number (a bare number without one: its
/// own gid, home `/`).
/// `passwd` is /etc/passwd's text, read once per load
/// ([`crate::process::users::text_of`]).
pub fn user(passwd: &str, u: &str) -> Option<Passwd> {
    let id = crate::process::users::lookup_user(passwd, u).ok()?;
    Some((id.uid, id.gid, id.name, id.home))
}

/// Whether `prog` names an existing file, by itself or in `path`.
pub fn found(prog: &str, path: &str) -> bool {
    let exists = |p: &str| CString::new(p).is_ok_and(|c| stat(&c).is_ok());
    if prog.contains('/') {
        return exists(prog);
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .any(|d| exists(&format!("{d}/{prog}")))
}

/// A backtick run: (user, command, output).
type Ran = (Option<(u32, u32)>, String, String);

/// Backticks through `/bin/sh -c`, each (user, command) once.
pub struct Sh<'e> {
    pub env: &'e Environ,
    cache: Vec<Ran>,
    pub errors: Vec<String>,
    timeout_ms: u64,
}

impl<'e> Sh<'e> {
    pub fn new(env: &'e Environ) -> Sh<'e> {
        Sh {
            env,
            cache: Vec::new(),
            errors: Vec::new(),
            timeout_ms: BACKTICK_TIMEOUT_MS,
        }
    }

    fn spawn(&self, cmd: &str, user: Option<(u32, u32)>) -> Result<String, String> {
        let c = CString::new(cmd).map_err(|_| "a NUL in the command".to_string())?;
        let (rx, tx) = pipe().map_err(|e| format!("pipe: {e}"))?;
        let null = dev_null().map_err(|e| format!("/dev/null: {e}"))?;
        let argv: [*const c_char; 4] = [
            c"sh".as_ptr(),
            c"-c".as_ptr(),
            c.as_ptr(),
            core::ptr::null(),
        ];
        let envp = self.env.envp();
        let mask = SigSet::empty();
        let groups: Vec<u32> = user.map(|u| Vec::from([u.1])).unwrap_or_default();
        let plan = ExecPlan {
            candidates: &[c"/bin/sh"],
            argv: &argv,
            envp: &envp,
            // Its own group: a timeout kills whatever it started too.
            new_group: true,
            foreground: false,
            mask: &mask,
            dispositions: &[],
            stdio: [Some(null.raw()), Some(tx.raw()), Some(tx.raw())],
            workdir: None,
            credentials: user.map(|(uid, gid)| Credentials {
                uid,
                gid,
                groups: &groups,
            }),
            fds: &[],
            pid_env: &[],
        };
        let started = fork_exec(&plan).map_err(|e| format!("cannot run /bin/sh: {e}"))?;
        drop(tx);
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        let deadline = now_ns() + self.timeout_ms * 1_000_000;
        loop {
            let left = deadline.saturating_sub(now_ns()) / 1_000_000;
            if !poll_in(rx.raw(), left as i32).unwrap_or(false) {
                let _ = kill(-started.pid, libc::SIGKILL);
                let _ = wait_for(started.pid);
                return Err(format!(
                    "killed after {} ms: a backtick must finish while the config loads",
                    self.timeout_ms
                ));
            }
            match rx.read(&mut buf) {
                Ok(n) if n > 0 && out.len() <= 1 << 20 => out.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        let status = wait_for(started.pid).map_err(|e| format!("wait: {e}"))?;
        if let Some((_, e)) = started.exec_error {
            return Err(format!(
                "backticks need /bin/sh, and it cannot run here ({e}): write the value out"
            ));
        }
        if status.code() != 0 {
            return Err(format!("exited with {}", status.code()));
        }
        let text = String::from_utf8_lossy(&out).replace('\n', " ");
        Ok(text.trim().to_string())
    }
}

impl Shell for Sh<'_> {
    fn run(&mut self, cmd: &str, user: Option<(u32, u32)>) -> String {
        if let Some((_, _, out)) = self.cache.iter().find(|c| c.0 == user && c.1 == cmd) {
            return out.clone();
        }
        let out = self.spawn(cmd, user).unwrap_or_else(|e| {
            self.errors.push(format!("backtick `{cmd}`: {e}"));
            String::new()
        });
        self.cache.push((user, cmd.to_string(), out.clone()));
        out
    }
}

/// The user of `--user` or `--create-user`, checked: tug creates no
/// users (FROM scratch has no useradd, and the image is the place for
/// them), so a `--create-user` names one that exists, with the uid and
/// gid it gives (or the owner of its path).
// Not inlined: measured smaller (opt-level z, LTO).
#[inline(never)]
fn command_user(o: &Options, passwd: &str) -> Result<Option<Passwd>, String> {
    let Some(name) = &o.user else {
        return Ok(None);
    };
    let pw = user(passwd, name);
    let Some(spec) = o.create_user.as_deref() else {
        return pw
            .map(Some)
            .ok_or_else(|| format!("--user {name}: no such user in /etc/passwd"));
    };
    let spec = super::create_spec(spec).ok_or_else(|| format!("--create-user {spec}: invalid"))?;
    let Some(pw) = pw else {
        return Err(format!(
            "--create-user {name}: tug creates no users and there is no {name} in /etc/passwd; \
             add it to the image (useradd, adduser) or use --user with a uid"
        ));
    };
    let mut want = (spec.uid, spec.gid.map(String::from));
    if let Some(p) = &spec.path {
        let c = CString::new(p.as_str()).map_err(|_| format!("{p}: invalid path"))?;
        let st = stat(&c).map_err(|e| format!("--create-user {name}: {p}: {e}"))?;
        want = (want.0.or(Some(st.uid)), want.1.or(Some(st.gid.to_string())));
    }
    if want.0.is_some_and(|u| u != pw.0) {
        return Err(format!(
            "--create-user {name}: the user exists with uid {}, not {}",
            pw.0,
            want.0.unwrap_or_default()
        ));
    }
    if let Some(g) = want.1.filter(|g| dec::<u32>(g).is_some_and(|g| g != pw.1)) {
        return Err(format!(
            "--create-user {name}: the user exists with gid {}, not {g}",
            pw.1
        ));
    }
    Ok(Some(pw))
}

/// Reads and maps the Chaperone config at `path` (`tug --config`,
/// `tug render`): tug's config text, where its parts came from, the
/// warnings.
pub fn to_tug(path: &str, env: &Environ) -> Result<super::map::Mapped, Vec<String>> {
    let opts = Options {
        config: path.to_string(),
        ..Default::default()
    };
    map_with(&opts, env)
}

/// The same with options: the `chaperone` command line's (see
/// [`Options::command_line`]), or a running tug's forced log level.
pub fn map_with(opts: &Options, env: &Environ) -> Result<super::map::Mapped, Vec<String>> {
    let personality = opts.command_line;
    let one = |m: String| Vec::from([m]);
    // Read once: every service's uid and the command line's user look
    // up the same file.
    let passwd = crate::process::users::text_of(c"/etc/passwd");
    let pw = command_user(opts, &passwd).map_err(one)?;
    let mut path = opts.config.clone();
    if personality && !path.starts_with('/') {
        let home = pw.as_ref().map_or("/", |p| p.3.as_str());
        path = format!("{}/{path}", home.trim_end_matches('/'));
    }
    let exists = CString::new(path.as_str()).is_ok_and(|c| stat(&c).is_ok());
    let files = if personality && !exists {
        Vec::new()
    } else {
        read(&path)?
    };
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let config = load::load(&pairs)?;
    if personality && config.services.is_empty() && opts.command.is_empty() {
        return Err(one(format!(
            "{path}: there are no services configured to run, nor is there a command \
             specified on the command line to run as an application"
        )));
    }
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    let mut process: Vec<(String, String)> = env
        .pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let dir = path.trim_end_matches('/');
    let dir = match dir.rfind('/') {
        Some(0) => "/",
        Some(i) => &dir[..i],
        None => ".",
    };
    let tty = if crate::sys::fd::is_tty(0) { "1" } else { "0" };
    process.push(("_CHAP_CONFIG_DIR".into(), dir.into()));
    process.push(("_CHAP_INTERACTIVE".into(), tty.into()));
    if opts.task {
        process.push(("_CHAP_TASK_MODE".into(), "1".into()));
    }
    let mut sh = Sh::new(env);
    let mut io = Io {
        sh: &mut sh,
        user: &|u| user(&passwd, u),
        found: &found,
    };
    let mapped = super::map::to_tug(&config, &names, process, opts, &mut io);
    let mut mapped = mapped?;
    // A failed backtick yields "" as in Chaperone, logged: here a warning.
    for e in sh.errors {
        mapped.warnings.push(format!("{path}: warning: {e}"));
    }
    Ok(mapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_run_once_and_time_out() {
        let env = Environ::new(alloc::vec![c"PATH=/usr/bin:/bin"]);
        let mut sh = Sh::new(&env);
        sh.timeout_ms = 300;
        assert_eq!(sh.run("echo a; echo b", None), "a b");
        // A command that outlives its time is killed, with whatever it
        // started (its group), and yields "".
        let t0 = now_ns();
        assert_eq!(sh.run("sleep 30 & echo started; wait", None), "");
        assert!(now_ns() - t0 < 5_000_000_000);
        assert_eq!(sh.errors.len(), 1);
        assert!(
            sh.errors[0].contains("killed after 300 ms"),
            "{:?}",
            sh.errors
        );
        assert_eq!(sh.run("exit 3", None), "");
        assert!(sh.errors[1].ends_with("exited with 3"), "{:?}", sh.errors);
    }
}
