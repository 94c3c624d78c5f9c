//! A merged Chaperone config ([`load::Config`]) as tug's own config text
//! (JSON5, what `tug render` prints), which `config::parse` then checks
//! and decodes like any other: one model, one set of checks. Sans-IO: the
//! caller passes the process environment, a passwd lookup and a [`Shell`].
//!
//! Each key is expanded in its own layer (process → settings → service or
//! logging section; uid and gid in the parent's), `_CHAP_SERVICE` set in
//! each service's layer. A job's `env` is what the layer exports (no `_`
//! names, no empty values) where it differs from tug's environment, and
//! `null` for every other process variable: Chaperone replaced the
//! environment whole.
//!
//! Decisions where tug's model differs:
//! - Job names drop `.service` (`apache2`), as telchap's names and the
//!   log tags do; disabled services (and services whose `optional`
//!   program is missing) are left out, and edges to them dropped (a
//!   disabled prerequisite counts as done in Chaperone).
//! - forking with a pidfile is tug's forking job; without one Chaperone
//!   watched nothing after the exit, so it is a oneshot. `process_timeout`
//!   is a oneshot's run deadline and the others' start timeout.
//! - cron `interval`: 6 fields have seconds last (croniter), moved first
//!   for tug; `daily` and the other macros get their `@`. In UTC (issue
//!   #18); a failed run does not end the schedule.
//! - stdout/stderr `inherit` is `logging: {raw: true}`.
//! - Each target of a logging section (stdout, stderr, file, syslog_host)
//!   is one output, `NAME.stdout` and so on, in the classic line format;
//!   syslog_host is forwarded as RFC 3164 over UDP (with a `<PRI>`,
//!   which Chaperone left out).
//! - `exit_kills` is tug's `main` job: its exit ends tug, with its exit
//!   code (Chaperone exited 0 whatever the code). tug has one main job: a
//!   second exit_kills service gets a warning.
//! - A failed start (a oneshot's non-zero exit, a start timeout, a
//!   command that cannot run) ends tug with exit 1, as it cancelled
//!   Chaperone's start-up (which exited 0 for some of them); with
//!   `ignore_failures` its dependents start as if it had started:
//!   tug's `startFailure: "shutdown"` / `"continue"`.
//! - Not mapped, with a warning: `extended`, `overwrite`; a logging
//!   section's uid/gid is ignored.
//!   `startup_pause` and `idle_delay` have no equivalent and are dropped
//!   silently (tug does not sleep to guess).

use super::Options;
use super::expand::{Env, Shell, User, expand, public};
use super::load::{Config, Spot};
use super::schema::{EnvKeys, Kind, Scalar, Service, Val, boolean, is_upper, names};
use crate::config::words;
use crate::num::dec;
use crate::signame;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

/// A passwd entry: uid, gid, name, home.
pub type Passwd = (u32, u32, String, String);

/// What the mapping needs from outside.
pub struct Io<'a> {
    pub sh: &'a mut dyn Shell,
    /// A user by name or number (None: no such user).
    pub user: &'a dyn Fn(&str) -> Option<Passwd>,
    /// Whether a program is found (name, the service's PATH).
    pub found: &'a dyn Fn(&str, &str) -> bool,
}

/// tug's config text, and where each part of it came from.
pub struct Mapped {
    pub text: String,
    /// (first line in `text`, section, `FILE:LINE:COL: SECTION: `) in
    /// order of the lines.
    pub spots: Vec<(u32, Spot, String)>,
    pub warnings: Vec<String>,
}

/// A job on its way: the fields as JSON5 members, and its graph facts.
struct Job<'c> {
    svc: &'c Service,
    base: String,
    groups: Vec<String>,
    after: Vec<usize>,
}

struct Out<'f> {
    files: &'f [&'f str],
    text: String,
    line: u32,
    spots: Vec<(u32, Spot, String)>,
    errs: Vec<String>,
    warnings: Vec<String>,
}

impl Out<'_> {
    fn push(&mut self, s: &str) {
        self.line += s.bytes().filter(|&b| b == b'\n').count() as u32;
        self.text.push_str(s);
    }

    fn msg(&self, at: Spot, sec: &str, key: &str, msg: &str) -> String {
        let sep = if key.is_empty() { "" } else { "." };
        let file = self.files.get(at.file).copied().unwrap_or("?");
        format!("{file}:{}: {sec}{sep}{key}: {msg}", at.pos)
    }

    fn err(&mut self, at: Spot, sec: &str, key: &str, msg: &str) {
        let m = self.msg(at, sec, key, msg);
        self.errs.push(m);
    }

    fn warn(&mut self, at: Spot, sec: &str, key: &str, msg: &str) {
        let m = self.msg(at, sec, key, &format!("warning: {msg}"));
        self.warnings.push(m);
    }
}

/// A JSON5 string literal.
pub fn quote(s: &str) -> String {
    let mut q = String::new();
    quote_into(&mut q, s);
    q
}

/// Appends `s` as a string literal (JSON's escapes, which JSON5 reads).
fn quote_into(q: &mut String, s: &str) {
    crate::json::quote(q, s);
}

/// A job member, `      k: v,`: one non-inlined copy for the ~20
/// members written.
#[inline(never)]
fn put(b: &mut String, k: &str, v: &str) {
    for part in ["      ", k, ": ", v, ",\n"] {
        b.push_str(part);
    }
}

/// A job member whose value is the string literal of `v`.
#[inline(never)]
fn put_q(b: &mut String, k: &str, v: &str) {
    for part in ["      ", k, ": "] {
        b.push_str(part);
    }
    quote_into(b, v);
    b.push_str(",\n");
}

fn ms(secs: f64) -> String {
    format!("\"{}ms\"", (secs * 1000.0) as u64)
}

/// Chaperone's cron spec as tug's: 6 fields have seconds last.
pub fn cron(spec: &str) -> String {
    let f: Vec<&str> = spec.split_whitespace().collect();
    const MACROS: [&str; 6] = ["yearly", "annually", "monthly", "weekly", "daily", "hourly"];
    match f.len() {
        6 => format!("{} {}", f[5], f[..5].join(" ")),
        1 if MACROS.contains(&f[0].trim_start_matches('@')) => {
            format!("@{}", f[0].trim_start_matches('@'))
        }
        _ => f.join(" "),
    }
}

/// A uid/gid value as text, expanded (strings) in `env`.
fn ident(v: &Val<Scalar>, env: &[(String, String)], sh: &mut dyn Shell) -> Result<String, String> {
    match &v.v {
        Scalar::Str(s) => expand(s, env, None, sh),
        Scalar::Int(i) => Ok(i.to_string()),
        Scalar::Bool(b) => Ok(b.to_string()),
    }
}

/// Expands `v` in `env`, an error going to `o` with the key's spot.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn ex(
    o: &mut Out,
    io: &mut Io,
    v: Option<&Val<String>>,
    env: &[(String, String)],
    user: Option<(u32, u32)>,
    sec: &str,
    key: &str,
) -> Option<String> {
    let v = v?;
    match expand(&v.v, env, user, io.sh) {
        Ok(s) => Some(s),
        Err(e) => {
            o.err(v.at, sec, key, &e);
            None
        }
    }
}

fn layer(
    parent: &Rc<Env>,
    keys: &super::schema::EnvKeys,
    user: Option<&Passwd>,
    extra: &[(String, String)],
) -> Env {
    let set: Vec<(String, String)> = extra
        .iter()
        .cloned()
        .chain(keys.set.iter().map(|v| v.v.clone()))
        .collect();
    let none = Vec::new();
    Env::layer(
        parent,
        keys.inherit.as_ref().map_or(&none, |v| &v.v),
        user.map(|u| User {
            uid: u.0,
            gid: u.1,
            name: &u.2,
            home: &u.3,
        }),
        &set,
        keys.unset.as_ref().map_or(&none, |v| &v.v),
    )
}

/// A job's `exec` as JSON5.
fn exec_text(argv: &[String]) -> String {
    let mut t = String::from("[");
    for (i, w) in argv.iter().enumerate() {
        if i > 0 {
            t.push_str(", ");
        }
        quote_into(&mut t, w);
    }
    t.push(']');
    t
}

/// A job's `env` member: what the layer exports (`vars`) where it
/// differs from tug's own environment (`process`, which a job's starts
/// from), and `null` for the rest of the process environment.
fn env_text(vars: &[(String, String)], process: &[(String, String)]) -> String {
    let mut e = String::new();
    for (k, v) in vars.iter().filter(|x| !process.contains(x)) {
        e.push_str("        ");
        quote_into(&mut e, k);
        e.push_str(": ");
        quote_into(&mut e, v);
        e.push_str(",\n");
    }
    for (k, _) in process {
        // The names to_tug adds are not in tug's environment.
        let added = ["_CHAP_CONFIG_DIR", "_CHAP_INTERACTIVE", "_CHAP_TASK_MODE"];
        if !added.contains(&k.as_str()) && !vars.iter().any(|(n, _)| n == k) {
            e.push_str("        ");
            quote_into(&mut e, k);
            e.push_str(": null,\n");
        }
    }
    if e.is_empty() {
        e
    } else {
        format!("      env: {{\n{e}      }},\n")
    }
}

/// Maps `c` (read from `files`, by index) onto tug's config text, with
/// the chaperone command line's options (`--user`, CONSOLE, the logging
/// switches; the defaults for `tug --config`).
pub fn to_tug(
    c: &Config,
    files: &[&str],
    process: Vec<(String, String)>,
    opts: &Options,
    io: &mut Io,
) -> Result<Mapped, Vec<String>> {
    let mut o = Out {
        files,
        text: String::new(),
        line: 1,
        spots: Vec::new(),
        errs: Vec::new(),
        warnings: c.warnings.clone(),
    };
    let s = &c.settings;
    let root = Rc::new(Env::root(process.clone()));
    let root_ex = root.expanded(io.sh).map_err(|e| Vec::from([e]))?;
    let mut set_user = None;
    let mut set_ids = (None, None);
    if let Some(u) = &s.uid {
        match ident(u, &root_ex, io.sh) {
            Ok(name) => {
                set_user = (io.user)(&name);
                set_ids.0 = Some(name);
            }
            Err(e) => o.err(u.at, "settings", "uid", &e),
        }
    }
    // `--user` is the default user; settings' uid overrides it.
    if let (None, Some(u)) = (&s.uid, &opts.user) {
        set_user = (io.user)(u);
        set_ids.0 = Some(u.clone());
    }
    if let Some(g) = &s.gid {
        set_ids.1 = ident(g, &root_ex, io.sh).ok();
    }
    let settings = Rc::new(layer(&root, &s.env, set_user.as_ref(), &[]));
    let set_ex = match settings.expanded(io.sh) {
        Ok(v) => v,
        Err(e) => return Err(Vec::from([format!("settings.env_set: {e}")])),
    };

    o.push("// tug's config for a Chaperone config (tug render)\n{\n");
    let stop = s.shutdown_timeout.as_ref().map_or(8.0, |v| v.v);
    o.push(&format!(
        "  stopTimeout: {},\n",
        ms(if stop == 0.0 { 0.5 } else { stop })
    ));
    if !opts.no_syslog && s.enable_syslog.as_ref().is_none_or(|v| v.v) {
        o.push("  syslog: { socket: \"/dev/log\" },\n");
    }

    // The services that run, each with its expanded fields.
    let mut jobs: Vec<Job> = Vec::new();
    let mut bodies: Vec<String> = Vec::new();
    let mut main: Option<String> = None;
    let tty = process
        .iter()
        .any(|(k, v)| k == "_CHAP_INTERACTIVE" && v == "1");
    // The command line's command, service CONSOLE: it exits the system
    // when --exitkills, or on a tty unless --no-exitkills (Chaperone's
    // rule); its exit code is tug's then.
    let console = Service {
        name: "CONSOLE".into(),
        ..Default::default()
    };
    let console_kills = opts.exitkills || (!opts.no_exitkills && tty);
    // Per-spawn values tug does not set: the reference stays as written.
    let sections = [("settings", &s.env)].into_iter();
    for (sec, keys) in sections.chain(c.services.iter().map(|v| (v.name.as_str(), &v.env))) {
        for v in &keys.set {
            if ["_CHAP_SERVICE_SERIAL", "_CHAP_SERVICE_TIME"]
                .iter()
                .any(|n| v.v.1.contains(n))
            {
                let m = "_CHAP_SERVICE_SERIAL and _CHAP_SERVICE_TIME are not set by tug \
                         (per-spawn values): the reference stays as written";
                o.warn(v.at, sec, &format!("env_set.{}", v.v.0), m);
            }
        }
    }
    if console_kills && !opts.command.is_empty() {
        main = Some("CONSOLE".into());
    }
    if opts.disable_services && !c.services.is_empty() {
        o.warnings.push(String::from(
            "warning: services will not be configured due to --disable-services",
        ));
    }
    let services = if opts.disable_services {
        &[][..]
    } else {
        &c.services[..]
    };
    for svc in services {
        let sec = svc.name.as_str();
        let base = sec.strip_suffix(".service").unwrap_or(sec).to_string();
        let uid = match &svc.uid {
            Some(u) => ident(u, &set_ex, io.sh)
                .map_err(|e| o.err(u.at, sec, "uid", &e))
                .ok(),
            None => set_ids.0.clone(),
        };
        let gid = match &svc.gid {
            Some(g) => ident(g, &set_ex, io.sh).ok(),
            None if svc.uid.is_none() => set_ids.1.clone(),
            None => None,
        };
        let pw = uid.as_deref().and_then(|u| (io.user)(u));
        let extra = [("_CHAP_SERVICE".to_string(), sec.to_string())];
        let env = layer(&settings, &svc.env, pw.as_ref(), &extra);
        let user = env.user;
        let env = match env.expanded(io.sh) {
            Ok(v) => v,
            Err(e) => {
                o.err(svc.at, sec, "env_set", &e);
                continue;
            }
        };
        let enabled = match &svc.enabled {
            None => true,
            Some(Val {
                v: Scalar::Bool(b), ..
            }) => *b,
            Some(
                v @ Val {
                    v: Scalar::Str(s), ..
                },
            ) => match expand(s, &env, user, io.sh).map(|x| boolean(&x)) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    let m = format!("invalid boolean parameter for 'enabled': '{s}'");
                    o.err(v.at, sec, "enabled", &m);
                    continue;
                }
                Err(e) => {
                    o.err(v.at, sec, "enabled", &e);
                    continue;
                }
            },
            Some(_) => true,
        };
        if !enabled {
            continue;
        }
        let optional = svc.optional.as_ref().is_some_and(|v| v.v);
        if let (Some(u), None) = (&uid, &pw)
            && !optional
            && !u.bytes().all(|b| b.is_ascii_digit())
        {
            let m = format!("specified user ('{u}') does not exist");
            o.err(svc.uid.as_ref().map_or(svc.at, |v| v.at), sec, "uid", &m);
            continue;
        }
        let Some(cmd) = ex(&mut o, io, Some(&svc.command), &env, user, sec, "command") else {
            continue;
        };
        let argv = match words::split(&cmd) {
            Ok(w) if !w.is_empty() => w,
            Ok(_) => {
                o.err(svc.command.at, sec, "command", "empty command");
                continue;
            }
            Err(e) => {
                o.err(svc.command.at, sec, "command", e);
                continue;
            }
        };
        let path = env.iter().find(|(k, _)| k == "PATH").map_or("", |(_, v)| v);
        if optional && !(io.found)(&argv[0], path) {
            o.warn(
                svc.command.at,
                sec,
                "optional",
                &format!("{} is not found: the service is left out", argv[0]),
            );
            continue;
        }
        let mut b = String::new();
        put_q(&mut b, "name", &base);
        put(&mut b, "exec", &exec_text(&argv));
        let timeout = svc.process_timeout.as_ref().map(|v| v.v);
        let timeout = timeout.or(s.process_timeout.as_ref().map(|v| v.v));
        match svc.kind {
            Kind::Simple => {}
            Kind::Oneshot => {
                put(&mut b, "type", "\"oneshot\"");
                put(&mut b, "timeout", &ms(timeout.unwrap_or(60.0)));
            }
            Kind::Forking => match ex(&mut o, io, svc.pidfile.as_ref(), &env, user, sec, "pidfile")
            {
                Some(p) => {
                    put(&mut b, "type", "\"forking\"");
                    put_q(&mut b, "pidfile", &p);
                    put(&mut b, "startTimeout", &ms(timeout.unwrap_or(30.0)));
                }
                None => {
                    put(&mut b, "type", "\"oneshot\"");
                    put(&mut b, "timeout", &ms(timeout.unwrap_or(30.0)));
                }
            },
            Kind::Notify => {
                put(&mut b, "type", "\"notify\"");
                put(&mut b, "startTimeout", &ms(timeout.unwrap_or(300.0)));
            }
            Kind::Inetd => {
                let port = match &svc.port {
                    Some(Val {
                        v: Scalar::Int(p), ..
                    }) => Some(p.to_string()),
                    Some(p) => {
                        let v = Val {
                            v: scalar_text(&p.v),
                            at: p.at,
                        };
                        ex(&mut o, io, Some(&v), &env, user, sec, "port")
                    }
                    None => None,
                };
                match port.as_deref().map(|p| (p, dec::<u16>(p.trim()))) {
                    Some((_, Some(p))) => {
                        put(&mut b, "type", "\"inetd\"");
                        put(&mut b, "listen", &format!("\"tcp://0.0.0.0:{p}\""));
                    }
                    Some((p, None)) => {
                        let at = svc.port.as_ref().map_or(svc.at, |v| v.at);
                        o.err(at, sec, "port", &format!("'{p}' is not a port number"));
                    }
                    None => o.err(svc.at, sec, "port", "an inetd service needs a port"),
                }
            }
            Kind::Cron => match ex(
                &mut o,
                io,
                svc.interval.as_ref(),
                &env,
                user,
                sec,
                "interval",
            ) {
                Some(spec) => {
                    let expr = cron(&spec);
                    if let Err(e) = crate::calendar::cron::Schedule::parse(&expr) {
                        let at = svc.interval.as_ref().map_or(svc.at, |v| v.at);
                        o.err(at, sec, "interval", &format!("'{spec}': {e}"));
                    }
                    put(&mut b, "when", &format!("{{ cron: {} }}", quote(&expr)));
                }
                None => o.err(svc.at, sec, "interval", "a cron service needs an interval"),
            },
        }
        if svc.restart.as_ref().is_some_and(|v| v.v) && svc.kind != Kind::Cron {
            let limit = svc.restart_limit.as_ref().map_or(5, |v| v.v.max(0));
            put(&mut b, "restarts", &limit.to_string());
            let delay = svc.restart_delay.as_ref().map_or(3, |v| v.v.max(0));
            // Chaperone waited the same delay each time: no backoff.
            let delay = format!("\"{delay}s\"");
            put(&mut b, "restartDelay", &delay);
            put(&mut b, "restartMaxDelay", &delay);
        }
        // A failed start ends tug unless ignore_failures (the service's,
        // else settings', else --ignore-failures): then its dependents go
        // on as if it had started.
        let ignore = svc.ignore_failures.as_ref().or(s.ignore_failures.as_ref());
        let ignore = ignore.map_or(opts.ignore_failures, |v| v.v);
        put(
            &mut b,
            "startFailure",
            if ignore {
                "\"continue\""
            } else {
                "\"shutdown\""
            },
        );
        if let Some(sig) = &svc.kill_signal {
            put(
                &mut b,
                "stopSignal",
                &quote(signame::name(sig.v).unwrap_or("SIGTERM")),
            );
        }
        if let Some(u) = &uid {
            put_q(&mut b, "user", u);
        }
        if let Some(g) = &gid {
            put_q(&mut b, "group", g);
        }
        let dir = ex(
            &mut o,
            io,
            svc.directory.as_ref(),
            &env,
            user,
            sec,
            "directory",
        );
        if let Some(d) = dir.or_else(|| pw.as_ref().map(|p| p.3.clone())) {
            put_q(&mut b, "workdir", &d);
        }
        let inherit = |v: &Option<Val<bool>>| v.as_ref().is_some_and(|v| v.v);
        if inherit(&svc.stdout_inherit) || inherit(&svc.stderr_inherit) {
            put(&mut b, "logging", "{ raw: true }");
        }
        b.push_str(&env_text(&public(&env), &process));
        if let Some(v) = &svc.exit_kills
            && v.v
        {
            match &main {
                None => main = Some(base.clone()),
                Some(m) => {
                    let w =
                        format!("tug ends with one job's exit: {m}'s, the first; not this one's");
                    o.warn(v.at, sec, "exit_kills", &w);
                }
            }
        }
        let groups: Vec<String> = match &svc.service_groups {
            Some(g) => names(&g.v)
                .filter(|n| !n.is_empty())
                .map(String::from)
                .collect(),
            None => Vec::from(["default".to_string()]),
        };
        jobs.push(Job {
            svc,
            base,
            groups,
            after: Vec::new(),
        });
        bodies.push(b);
    }
    if !opts.command.is_empty() {
        let b = console_job(
            &mut o,
            io,
            opts,
            &settings,
            set_ids.0.as_deref(),
            tty,
            &process,
        );
        jobs.push(Job {
            svc: &console,
            base: console.name.clone(),
            groups: Vec::from([String::from("IDLE")]),
            after: Vec::new(),
        });
        bodies.push(b);
    }
    order(&mut jobs);
    if !jobs.is_empty() {
        o.push("  jobs: [\n");
    }
    for (j, b) in jobs.iter().zip(&bodies) {
        let (at, sec) = (j.svc.at, j.svc.name.clone());
        let here = o.msg(at, &sec, "", "");
        o.spots.push((o.line, at, here));
        o.push(&format!("    {{ // {sec}\n"));
        o.push(b);
        if !j.after.is_empty() {
            let names: Vec<String> = j.after.iter().map(|&k| quote(&jobs[k].base)).collect();
            o.push(&format!("      after: [{}],\n", names.join(", ")));
        }
        o.push("    },\n");
    }
    if !jobs.is_empty() {
        o.push("  ],\n");
    }
    if let Some(m) = &main {
        o.push(&format!("  main: {},\n", quote(m)));
    }
    logging(c, &mut o, io, opts, &settings, &set_ex);
    o.push("}\n");
    if o.errs.is_empty() {
        Ok(Mapped {
            text: o.text,
            spots: o.spots,
            warnings: o.warnings,
        })
    } else {
        o.errs.extend(o.warnings);
        Err(o.errs)
    }
}

/// CONSOLE's job body (not inlined: measured smaller): in group IDLE, with the default user, its output
/// tug's own (`inherit`), each argument expanded in its own layer and
/// never re-split; SIGHUP stops it on a tty.
#[inline(never)]
fn console_job(
    o: &mut Out,
    io: &mut Io,
    opts: &Options,
    settings: &Rc<Env>,
    user: Option<&str>,
    tty: bool,
    process: &[(String, String)],
) -> String {
    let pw = user.and_then(|u| (io.user)(u));
    let extra = [("_CHAP_SERVICE".to_string(), "CONSOLE".to_string())];
    let env = layer(settings, &EnvKeys::default(), pw.as_ref(), &extra);
    let ids = env.user;
    let env = env.expanded(io.sh).unwrap_or_default();
    let mut argv = Vec::new();
    for (i, a) in opts.command.iter().enumerate() {
        match expand(a, &env, ids, io.sh) {
            Ok(w) => argv.push(w),
            Err(e) => o
                .errs
                .push(format!("chaperone command line: argument {}: {e}", i + 1)),
        }
    }
    let mut b = format!(
        "      name: \"CONSOLE\",\n      exec: {},\n",
        exec_text(&argv)
    );
    if let Some(u) = user {
        b.push_str(&format!("      user: {},\n", quote(u)));
    }
    if let Some(p) = &pw {
        b.push_str(&format!("      workdir: {},\n", quote(&p.3)));
    }
    b.push_str("      logging: { raw: true },\n");
    // Chaperone's CONSOLE ignores failures, but in --task mode.
    let failure = if opts.task { "shutdown" } else { "continue" };
    b.push_str(&format!("      startFailure: \"{failure}\",\n"));
    if tty {
        b.push_str("      stopSignal: \"SIGHUP\",\n");
    }
    b.push_str(&env_text(&public(&env), process));
    b
}

/// A selector widened to take at least `level` (`--log-level`): each
/// positive `FAC.PRI` piece gets the wider of PRI and `level`; an exact
/// `FAC.=PRI` keeps its priority and gains `FAC.level` (Chaperone wrote
/// `=level` over it, dropping what it selected). Negative pieces stay.
pub fn widen(selector: &str, level: &str) -> String {
    let rank = super::priority;
    let Some(want) = rank(level) else {
        return selector.to_string();
    };
    // Written into one String (no Vec of pieces to join).
    let mut out = String::new();
    for piece in selector.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push(';');
        }
        let (fac, pri) = piece.rsplit_once('.').unwrap_or((piece, "*"));
        let exact = pri.starts_with('=');
        let rank = if piece.contains('!') || pri == "*" {
            None
        } else {
            rank(pri.trim_start_matches('='))
        };
        match rank {
            Some(_) if exact => {
                let _ = write!(out, "{piece};{fac}.{level}");
            }
            Some(r) if r < want => {
                let _ = write!(out, "{fac}.{level}");
            }
            _ => out.push_str(piece),
        }
    }
    out
}

fn scalar_text(s: &Scalar) -> String {
    match s {
        Scalar::Str(s) => s.clone(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Bool(b) => b.to_string(),
    }
}

/// The logging sections as the router's outputs (`--no-console-log`:
/// none to stdout or stderr; `--log-level`: selectors widened).
fn logging(
    c: &Config,
    o: &mut Out,
    io: &mut Io,
    opts: &Options,
    settings: &Rc<Env>,
    set_ex: &[(String, String)],
) {
    let mut outs: Vec<(Spot, &str, String)> = Vec::new();
    for l in &c.logging {
        let sec = l.name.as_str();
        let base = sec.strip_suffix(".logging").unwrap_or(sec);
        let env = layer(settings, &Default::default(), None, &[]);
        let env = env.expanded(io.sh).unwrap_or_else(|_| set_ex.to_vec());
        match &l.enabled {
            Some(Val {
                v: Scalar::Bool(false),
                ..
            }) => continue,
            Some(
                v @ Val {
                    v: Scalar::Str(s), ..
                },
            ) => match expand(s, &env, None, io.sh).map(|x| boolean(&x)) {
                Ok(Some(true)) => {}
                Ok(Some(false)) => continue,
                _ => {
                    let m = format!("invalid boolean parameter for 'enabled': '{s}'");
                    o.err(v.at, sec, "enabled", &m);
                    continue;
                }
            },
            _ => {}
        }
        let mut sel = ex(o, io, l.selector.as_ref(), &env, None, sec, "selector");
        if let Some(level) = &opts.log_level {
            sel = Some(widen(sel.as_deref().unwrap_or("*.*"), level));
        }
        let sel = sel.map_or(String::new(), |s| format!(", selector: {}", quote(&s)));
        let on = |v: &Option<Val<bool>>| !opts.no_console_log && v.as_ref().is_some_and(|v| v.v);
        let mut targets: Vec<(&str, String)> = Vec::new();
        if on(&l.stdout) {
            targets.push(("stdout", "stdout: true, format: \"classic\"".into()));
        }
        if on(&l.stderr) {
            targets.push(("stderr", "stderr: true, format: \"classic\"".into()));
        }
        if let Some(f) = ex(o, io, l.file.as_ref(), &env, None, sec, "file") {
            targets.push(("file", format!("file: {}, format: \"classic\"", quote(&f))));
        }
        if let Some(h) = ex(
            o,
            io,
            l.syslog_host.as_ref(),
            &env,
            None,
            sec,
            "syslog_host",
        ) {
            let to = quote(&format!("udp://{h}"));
            targets.push(("forward", format!("forward: {to}, format: \"rfc3164\"")));
        }
        for (v, key) in [(&l.extended, "extended"), (&l.overwrite, "overwrite")] {
            if let Some(v) = v
                && v.v
            {
                o.warn(
                    v.at,
                    sec,
                    key,
                    "not mapped (tug writes the classic line, appending)",
                );
            }
        }
        for (t, body) in targets {
            let name = quote(&format!("{base}.{t}"));
            let line = format!("    {{ name: {name}{sel}, {body} }}, // {sec}\n");
            outs.push((l.at, sec, line));
        }
    }
    if !outs.is_empty() {
        o.push("  logs: [\n");
        for (at, sec, line) in outs {
            let here = o.msg(at, sec, "", "");
            o.spots.push((o.line, at, here));
            o.push(&line);
        }
        o.push("  ],\n");
    }
}

/// Chaperone's start order (its `get_startup_list`) as `after` edges:
/// IDLE after every other service, every other after INIT, `before`
/// turned round, and (Compat) a group named in one member's `after`
/// waited for by every member of that member's groups.
fn order(jobs: &mut [Job]) {
    let n = jobs.len();
    // The services a name in `after`/`before` means: a service, or a
    // group's members (unknown names mean none).
    let resolve = |jobs: &[Job], name: &str| -> Vec<usize> {
        (0..jobs.len())
            .filter(|&k| {
                let j = &jobs[k];
                j.svc.name == name
                    || (!name.ends_with(".service") && j.groups.iter().any(|g| g == name))
            })
            .collect()
    };
    let mut edges: Vec<(usize, usize)> = Vec::new();
    let mut group_after: Vec<(usize, String)> = Vec::new();
    for i in 0..n {
        let svc = jobs[i].svc;
        for name in svc.after.iter().flat_map(|v| names(&v.v)) {
            edges.extend(resolve(jobs, name).into_iter().map(|k| (i, k)));
            if !name.ends_with(".service") && !is_upper(name) {
                group_after.push((i, name.to_string()));
            }
        }
        for name in svc.before.iter().flat_map(|v| names(&v.v)) {
            edges.extend(resolve(jobs, name).into_iter().map(|k| (k, i)));
        }
        let is = |k: usize, g: &str| jobs[k].groups.iter().any(|x| x == g);
        for k in 0..n {
            if is(i, "IDLE") && !is(k, "IDLE") {
                edges.push((i, k));
            }
            if is(i, "INIT") && !is(k, "INIT") {
                edges.push((k, i));
            }
        }
    }
    for (i, h) in &group_after {
        let targets = resolve(jobs, h);
        for k in 0..n {
            if jobs[k].groups.iter().any(|g| jobs[*i].groups.contains(g)) {
                edges.extend(targets.iter().map(|&t| (k, t)));
            }
        }
    }
    for (a, b) in edges {
        if a != b && !jobs[a].after.contains(&b) {
            jobs[a].after.push(b);
        }
    }
    for j in jobs.iter_mut() {
        crate::sort::heap(&mut j.after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    struct Sh;
    impl Shell for Sh {
        fn run(&mut self, cmd: &str, _: Option<(u32, u32)>) -> String {
            format!("ran[{cmd}]")
        }
    }

    fn map(text: &str, env: &[(&str, &str)]) -> Result<Mapped, Vec<String>> {
        map_opts(text, env, &Options::default())
    }

    fn map_opts(text: &str, env: &[(&str, &str)], opts: &Options) -> Result<Mapped, Vec<String>> {
        let c = super::super::load::load(&[("c.conf", text)])?;
        let user = |u: &str| (u == "www").then(|| (33, 33, "www".into(), "/var/www".into()));
        let found = |p: &str, _: &str| p != "nosuch";
        let mut io = Io {
            sh: &mut Sh,
            user: &user,
            found: &found,
        };
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        to_tug(&c, &["c.conf"], env, opts, &mut io)
    }

    /// Each job's name and `after`, from the decoded model.
    fn graph(text: &str) -> Vec<(String, Vec<String>)> {
        let m = map(text, &[]).unwrap();
        let c = parse("t", &m.text).unwrap_or_else(|e| panic!("{e:?}\n{}", m.text));
        c.jobs
            .into_iter()
            .map(|j| (j.name, j.service.after))
            .collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn cron_seconds_last_and_macros() {
        assert_eq!(cron("* * * * * */10"), "*/10 * * * * *");
        assert_eq!(cron("0 3 * * *"), "0 3 * * *");
        assert_eq!(cron("daily"), "@daily");
        assert_eq!(cron("@hourly"), "@hourly");
    }

    #[test]
    fn order_idle_init_before_and_the_group_rule() {
        let g = graph(
            "settings: {enable_syslog: false}\n\
             a.service: {command: a, service_groups: INIT}\n\
             db.service: {command: db, service_groups: database}\n\
             web.service: {command: web, after: database}\n\
             rot.service: {command: rot}\n\
             pre.service: {command: pre, before: web.service}\n\
             last.service: {command: last, service_groups: IDLE}\n",
        );
        let by = |n: &str| g.iter().find(|j| j.0 == n).unwrap().1.clone();
        assert_eq!(by("a"), s(&[]));
        assert_eq!(by("db"), s(&["a"]));
        // The Compat rule: rot is in web's group (default), so it waits
        // for the group web named.
        assert_eq!(by("rot"), s(&["a", "db"]));
        assert_eq!(by("web"), s(&["a", "db", "pre"]));
        assert_eq!(by("pre"), s(&["a", "db"]));
        assert_eq!(by("last"), s(&["a", "db", "web", "rot", "pre"]));
    }

    #[test]
    fn disabled_and_unknown_names_drop_out() {
        let g = graph(
            "settings: {enable_syslog: false, env_set: {ON: 'no'}}\n\
             a.service: {command: a, enabled: '$(ON)'}\n\
             b.service: {command: b, after: 'a.service, nosuch.service, nogroup'}\n\
             c.service: {command: nosuch, optional: true}\n",
        );
        assert_eq!(g, [("b".to_string(), s(&[]))]);
    }

    #[test]
    fn a_cycle_is_an_error() {
        let m = map(
            "a.service: {command: a, after: b.service}\nb.service: {command: b, after: a.service}\n",
            &[],
        )
        .unwrap();
        assert!(parse("t", &m.text).is_err());
    }

    #[test]
    fn kinds_and_keys() {
        let m = map(
            "settings: {enable_syslog: false, process_timeout: 7}\n\
             o.service: {type: oneshot, command: 'o x'}\n\
             f.service: {type: forking, command: f, pidfile: /run/f.pid}\n\
             n.service: {type: notify, command: n, kill_signal: SIGQUIT}\n\
             i.service: {type: inetd, command: i, port: '$(PORT)'}\n\
             r.service: {command: r, restart: true, restart_delay: 1, uid: www}\n",
            &[("PORT", "8080")],
        )
        .unwrap();
        let c = parse("t", &m.text).unwrap();
        let j = |n: &str| c.jobs.iter().find(|j| j.name == n).unwrap();
        use crate::config::kinds::Kind as K;
        assert_eq!(j("o").service.kind, K::Oneshot);
        assert_eq!(j("o").timeout, Some(7_000_000_000));
        assert_eq!(j("f").service.kind, K::Forking);
        assert_eq!(j("f").service.pidfile.as_deref(), Some("/run/f.pid"));
        assert_eq!(j("n").stop_signal, libc::SIGQUIT);
        assert_eq!(j("i").service.kind, K::Inetd);
        assert_eq!(j("r").user.as_deref(), Some("www"));
        assert_eq!(j("r").workdir.as_deref(), Some("/var/www"));
        assert_eq!(j("r").restart_delay, 1_000_000_000);
        assert_eq!(j("r").restart_max_delay, 1_000_000_000);
        assert!(c.syslog.is_none());
        let env = &j("r").env;
        assert!(env.contains(&("HOME".into(), Some("/var/www".into()))));
        assert!(env.contains(&("USER".into(), Some("www".into()))));
    }

    #[test]
    fn env_layers_export_and_unset() {
        let m = map(
            "settings: {env_set: {A: '$(B)-x', E: ''}, env_unset: [DROP*]}\n\
             s.service: {command: 'echo $(A)', env_set: {B: 'from-svc', C: '`date`'}}\n",
            &[("B", "proc"), ("DROPME", "1"), ("_HIDDEN", "h")],
        )
        .unwrap();
        let c = parse("t", &m.text).unwrap();
        let j = &c.jobs[0];
        // A is expanded in the innermost layer: the service's B.
        assert_eq!(j.exec.as_ref().unwrap(), &s(&["echo", "from-svc-x"]));
        let env = &j.env;
        assert!(env.contains(&("C".into(), Some("ran[date]".into()))));
        assert!(env.contains(&("DROPME".into(), None)));
        assert!(env.contains(&("_HIDDEN".into(), None)));
        assert!(!env.iter().any(|(k, _)| k == "E"));
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let e = map("a.service: {command: a, enabled: maybe}\n", &[])
            .err()
            .unwrap();
        assert_eq!(
            e,
            ["c.conf:1:34: a.service.enabled: invalid boolean parameter for 'enabled': 'maybe'"]
        );
        let e = map(
            "a.service: {type: cron, command: a, interval: '* * *'}\n",
            &[],
        )
        .err()
        .unwrap();
        assert!(
            e[0].starts_with("c.conf:1:47: a.service.interval: '* * *': "),
            "{e:?}"
        );
        let e = map("a.service: {command: a, uid: nobody9}\n", &[])
            .err()
            .unwrap();
        assert_eq!(
            e,
            ["c.conf:1:30: a.service.uid: specified user ('nobody9') does not exist"]
        );
    }

    #[test]
    fn logging_sections_become_outputs() {
        let m = map(
            "settings: {enable_syslog: true}\n\
             console.logging: {selector: '*.warn', stdout: true, stderr: true}\n\
             files.logging: {file: /var/log/x-%d.log, syslog_host: 10.0.0.1}\n\
             off.logging: {stdout: true, enabled: false}\n",
            &[],
        )
        .unwrap();
        let c = parse("t", &m.text).unwrap();
        let names: Vec<&str> = c.logs.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "console.stdout",
                "console.stderr",
                "files.file",
                "files.forward"
            ]
        );
        assert_eq!(c.syslog.unwrap().socket.as_deref(), Some("/dev/log"));
    }

    #[test]
    fn console_is_an_idle_job_with_its_arguments_expanded_one_by_one() {
        let text = "settings: {enable_syslog: false, env_set: {WHO: 'set'}}\n\
                    a.service: {command: a}\n\
                    b.service: {command: b, before: CONSOLE}\n\
                    l.service: {command: l, service_groups: IDLE}\n";
        let opts = Options {
            command: s(&["echo", "$(WHO) $(_CHAP_SERVICE)"]),
            user: Some("www".into()),
            ..Default::default()
        };
        let m = map_opts(text, &[("_CHAP_INTERACTIVE", "0")], &opts).unwrap();
        let c = parse("t", &m.text).unwrap();
        let j = c.jobs.iter().find(|j| j.name == "CONSOLE").unwrap();
        // Not re-split: one argument, as Chaperone ran it.
        assert_eq!(j.exec.as_ref().unwrap(), &s(&["echo", "set CONSOLE"]));
        assert_eq!(j.user.as_deref(), Some("www"));
        assert_eq!(j.workdir.as_deref(), Some("/var/www"));
        assert_eq!(j.service.after, s(&["a", "b"]));
        // --user is every service's default user.
        assert!(c.jobs.iter().all(|j| j.user.as_deref() == Some("www")));
        // No tty and no --exitkills: CONSOLE's exit does not end tug.
        assert_eq!(c.main, None);
        let kills = |tty: &str, o: Options| {
            let m = map_opts(text, &[("_CHAP_INTERACTIVE", tty)], &o).unwrap();
            parse("t", &m.text).unwrap().main
        };
        let o = |exitkills, no_exitkills| Options {
            command: s(&["sh"]),
            exitkills,
            no_exitkills,
            ..Default::default()
        };
        assert_eq!(kills("1", o(false, false)).as_deref(), Some("CONSOLE"));
        assert_eq!(kills("1", o(false, true)), None);
        assert_eq!(kills("0", o(true, false)).as_deref(), Some("CONSOLE"));
        let m = map_opts(text, &[("_CHAP_INTERACTIVE", "1")], &o(false, false)).unwrap();
        let c = parse("t", &m.text).unwrap();
        let j = c.jobs.iter().find(|j| j.name == "CONSOLE").unwrap();
        assert_eq!(j.stop_signal, libc::SIGHUP);
    }

    #[test]
    fn a_failed_start_ends_tug_unless_ignore_failures() {
        use crate::config::kinds::StartFailure as F;
        let text = "settings: {enable_syslog: false, ignore_failures: true}\n\
                    a.service: {command: a}\n\
                    b.service: {command: b, ignore_failures: false}\n";
        let failures = |text: &str, opts: &Options| -> Vec<(String, F)> {
            let m = map_opts(text, &[], opts).unwrap();
            let c = parse("t", &m.text).unwrap();
            c.jobs
                .into_iter()
                .map(|j| (j.name, j.service.start_failure))
                .collect()
        };
        let console = Options {
            command: s(&["sh"]),
            ..Default::default()
        };
        assert_eq!(
            failures(text, &console),
            [
                ("a".into(), F::Continue),
                ("b".into(), F::Shutdown),
                ("CONSOLE".into(), F::Continue)
            ]
        );
        let ignore = Options {
            ignore_failures: true,
            ..Default::default()
        };
        let text = "c.service: {command: c}\n";
        assert_eq!(failures(text, &ignore), [("c".into(), F::Continue)]);
        assert_eq!(
            failures(text, &Options::default()),
            [("c".into(), F::Shutdown)]
        );
    }

    #[test]
    fn per_spawn_variables_are_warned() {
        let m = map(
            "s.service: {command: s, env_set: {N: '$(_CHAP_SERVICE_SERIAL)'}}\n",
            &[],
        );
        let w = m.unwrap().warnings;
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("c.conf:1:38: s.service.env_set.N: warning: _CHAP_SERVICE_SERIAL"),
            "{w:?}"
        );
    }

    #[test]
    fn disable_services_leaves_console_alone() {
        let opts = Options {
            command: s(&["sh"]),
            disable_services: true,
            task: true,
            ..Default::default()
        };
        let m = map_opts("a.service: {command: a}\n", &[], &opts).unwrap();
        let c = parse("t", &m.text).unwrap();
        let names: Vec<&str> = c.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["CONSOLE"]);
        assert!(
            m.warnings[0].contains("--disable-services"),
            "{:?}",
            m.warnings
        );
    }

    #[test]
    fn logging_switches() {
        let text = "console.logging: {selector: '*.warn;daemon.=debug;!auth.*', stdout: true}\n\
                    f.logging: {selector: 'cron.err', file: /x.log}\n";
        let opts = Options {
            no_console_log: true,
            no_syslog: true,
            log_level: Some("INFO".into()),
            ..Default::default()
        };
        let m = map_opts(text, &[], &opts).unwrap();
        let c = parse("t", &m.text).unwrap();
        assert!(c.syslog.is_none());
        let names: Vec<&str> = c.logs.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["f.file"]);
        assert!(m.text.contains("selector: \"cron.INFO\""), "{}", m.text);
        assert_eq!(
            widen("*.warn;daemon.=debug;!auth.*;kern.*;mail.!err", "info"),
            "*.info;daemon.=debug;daemon.info;!auth.*;kern.*;mail.!err"
        );
        assert_eq!(widen("*.err", "crit"), "*.err");
    }
}
