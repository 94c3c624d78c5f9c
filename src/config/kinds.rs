//! The service kinds: tug's extensions to ContainerPilot's job schema
//! (`type`, `after`, `pidfile`, `listen`, `max`, `sockets`, `readiness`,
//! `watchdog`, `startTimeout`), decoded into [`Service`].
//!
//! Decisions:
//! - Each field belongs to the kinds it means something for; given to
//!   another kind it is an error, not ignored: a `pidfile` on a simple job
//!   would otherwise look like it worked.
//! - `after` names jobs only (not watches or signals: those have no
//!   readiness), and a cycle is an error naming the whole ring, since
//!   none of its jobs could ever start.
//! - An inetd job's connections each run once: `restarts` is an error.
//!   `max` defaults to 64 (systemd's MaxConnections= default).

use super::decode::{self as d, Errors, Fields, Path};
use super::json5::{Node, Pos};
use crate::quote::q;
use crate::service::listen::Listen;
use alloc::string::String;
use alloc::vec::Vec;

/// What a job's process is and when it counts as ready.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Kind {
    /// One long-running process (ContainerPilot's only kind): ready once
    /// started.
    #[default]
    Simple,
    /// Runs to completion: ready when it exited 0.
    Oneshot,
    /// The command forks a daemon and exits: ready when the pidfile names it.
    Forking,
    /// sd_notify: ready on READY=1.
    Notify,
    /// One process per accepted connection.
    Inetd,
}

/// The kinds' names, in [`Kind`]'s order.
const KIND_NAMES: [&str; 5] = ["simple", "oneshot", "forking", "notify", "inetd"];
const KINDS: [Kind; 5] = [
    Kind::Simple,
    Kind::Oneshot,
    Kind::Forking,
    Kind::Notify,
    Kind::Inetd,
];
/// KIND_NAMES joined, as messages list them (a test keeps them alike).
const KIND_LIST: &str = "simple, oneshot, forking, notify, inetd";

impl Kind {
    pub fn name(self) -> &'static str {
        KIND_NAMES[self as usize]
    }
}

/// What a failed start (the job stopped without ever being ready) does
/// to the rest: `startFailure`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum StartFailure {
    /// Its dependents never start (tug's default).
    #[default]
    Block,
    /// Its dependents start as if it had been ready (Chaperone's
    /// `ignore_failures`).
    Continue,
    /// tug shuts down, and exits 1 (Chaperone's default).
    Shutdown,
}

const START_FAILURES: [(&str, StartFailure); 3] = [
    ("block", StartFailure::Block),
    ("continue", StartFailure::Continue),
    ("shutdown", StartFailure::Shutdown),
];

/// Default `max` of an inetd job.
pub const INETD_MAX: u32 = 64;

/// A job's service-kind settings (all empty for a ContainerPilot job).
#[derive(Clone, PartialEq, Debug, Default)]
pub struct Service {
    pub kind: Kind,
    /// Jobs that must be ready before this one starts.
    pub after: Vec<String>,
    pub start_failure: StartFailure,
    pub pidfile: Option<String>,
    /// inetd: where to accept, and how many connections run at once.
    pub listen: Option<Listen>,
    pub max: u32,
    /// Socket activation: bound before the first start, passed from fd 3.
    pub sockets: Vec<Listen>,
    /// s6-style readiness: the job writes a newline to this fd.
    pub readiness_fd: Option<i32>,
    /// notify: WATCHDOG=1 must come at least this often.
    pub watchdog: Option<u64>,
    /// How long readiness may take (notify, forking, readiness.fd).
    pub start_timeout: Option<u64>,
}

impl Service {
    /// Whether the job has a moment of readiness later than its start.
    pub fn waits_for_ready(&self) -> bool {
        matches!(self.kind, Kind::Forking | Kind::Notify) || self.readiness_fd.is_some()
    }
}

/// The job keys this module decodes.
pub const KEYS: [&str; 10] = [
    "type",
    "after",
    "startFailure",
    "pidfile",
    "listen",
    "max",
    "sockets",
    "readiness",
    "watchdog",
    "startTimeout",
];

/// A key that only some kinds take: its value when given and `ok`, an
/// error when given on another kind. (A function, not a closure: one copy
/// of the message code for every key.)
#[inline(never)]
fn only<'n>(
    e: &mut Errors,
    f: &Fields<'n>,
    key: &str,
    ok: bool,
    kinds: &str,
    kind: Kind,
) -> Option<&'n Node> {
    let n = f.get(key)?;
    if !ok {
        f.atf(
            e,
            n.pos,
            key,
            format_args!("only for {kinds} (this job is {})", kind.name()),
        );
    }
    ok.then_some(n)
}

/// Decodes the service-kind keys of one job. `has_exec` says whether the
/// job gave a command, which every kind but simple needs.
#[inline(never)]
pub fn decode(e: &mut Errors, f: &Fields, at: Pos, has_exec: bool) -> Service {
    let mut s = Service {
        max: INETD_MAX,
        ..Service::default()
    };
    if let Some(n) = f.get("type") {
        let word = f.str(e, "type").unwrap_or_default();
        match KIND_NAMES.iter().position(|w| *w == word) {
            Some(i) => s.kind = KINDS[i],
            None if word.is_empty() && !matches!(n.value, super::json5::Value::String(_)) => {}
            None => {
                let hint = d::hint(d::closest(word, &KIND_NAMES));
                f.atf(
                    e,
                    n.pos,
                    "type",
                    format_args!(
                        "unknown type {word}: one of {KIND_LIST}{hint}",
                        word = q(&word)
                    ),
                );
            }
        }
    }
    let kind = s.kind;
    if kind != Kind::Simple && !has_exec {
        f.atf(
            e,
            at,
            "exec",
            format_args!("missing: a {} job needs a command", kind.name()),
        );
    }
    const FORKING: &str = "type \"forking\"";
    const INETD: &str = "type \"inetd\"";
    s.after = f.strings(e, "after").unwrap_or_default();
    if let Some(n) = f.get("startFailure") {
        let word = f.str(e, "startFailure").unwrap_or_default();
        match START_FAILURES.iter().find(|(w, _)| *w == word) {
            Some((_, v)) => s.start_failure = *v,
            None => f.atf(
                e,
                n.pos,
                "startFailure",
                format_args!("{word}: one of block, continue, shutdown", word = q(&word)),
            ),
        }
    }
    match (f.get("pidfile"), kind) {
        (Some(n), _) if only(e, f, "pidfile", kind == Kind::Forking, FORKING, kind).is_some() => {
            s.pidfile = f.string(e, "pidfile");
            if s.pidfile.as_deref().is_some_and(|x| !x.starts_with('/')) {
                f.at(e, n.pos, "pidfile", "must be an absolute path");
            }
        }
        (None, Kind::Forking) => f.at(e, at, "pidfile", "missing: a forking job needs a pidfile"),
        _ => {}
    }
    match (f.get("listen"), kind) {
        (Some(n), _) if only(e, f, "listen", kind == Kind::Inetd, INETD, kind).is_some() => {
            s.listen = listen(e, n, &f.key("listen"));
        }
        (None, Kind::Inetd) => f.at(
            e,
            at,
            "listen",
            "missing: an inetd job needs a listen address (tcp://HOST:PORT or unix:///path)",
        ),
        _ => {}
    }
    if only(e, f, "max", kind == Kind::Inetd, INETD, kind).is_some() {
        s.max = f
            .integer(e, "max", 1, 65536)
            .map_or(INETD_MAX, |v| v as u32);
    }
    if kind == Kind::Inetd
        && let Some(n) = f.get("restarts")
    {
        f.at(
            e,
            n.pos,
            "restarts",
            "an inetd job runs one process per connection, each once: it has no restarts",
        );
    }
    if let Some(n) = only(
        e,
        f,
        "sockets",
        kind != Kind::Inetd,
        "jobs that are not inetd (an inetd job has 'listen')",
        kind,
    ) {
        let path = f.key("sockets");
        let words = d::strings(e, n, &path).unwrap_or_default();
        for (i, w) in words.iter().enumerate() {
            match Listen::parse(w) {
                Ok(l) if s.sockets.contains(&l) => e.at(n.pos, &path.index(i), "listed twice"),
                Ok(l) => s.sockets.push(l),
                Err(msg) => e.at(n.pos, &path.index(i), msg),
            }
        }
    }
    if let Some(n) = only(
        e,
        f,
        "readiness",
        kind == Kind::Simple,
        "type \"simple\"",
        kind,
    ) && let Some(rf) = d::object(e, n, &f.key("readiness"), &["fd"])
    {
        match rf.get("fd") {
            Some(_) => s.readiness_fd = rf.integer(e, "fd", 3, 1023).map(|v| v as i32),
            None => rf.missing(e, "fd", "missing"),
        }
        let passed = 3..3 + s.sockets.len() as i32;
        if let Some(fd) = s.readiness_fd.filter(|fd| passed.contains(fd)) {
            rf.atf(
                e,
                n.pos,
                "fd",
                format_args!(
                    "fd {fd} is taken by 'sockets' (fds 3 to {})",
                    passed.end - 1
                ),
            );
        }
    }
    if only(
        e,
        f,
        "watchdog",
        kind == Kind::Notify,
        "type \"notify\"",
        kind,
    )
    .is_some()
    {
        s.watchdog = f.positive_duration(e, "watchdog");
    }
    if only(
        e,
        f,
        "startTimeout",
        s.waits_for_ready(),
        "jobs that become ready later than they start (notify, forking, readiness.fd)",
        kind,
    )
    .is_some()
    {
        s.start_timeout = f.positive_duration(e, "startTimeout");
    }
    s
}

fn listen(e: &mut Errors, n: &Node, path: &Path) -> Option<Listen> {
    let text = d::text(e, n, path)?;
    Listen::parse(text)
        .map_err(|msg| e.at(n.pos, path, msg))
        .ok()
}

/// `after` across jobs: every name is a job, not the job itself, and no
/// ring. `names[i]` is job i's name, `after[i]` its list, `when[i]` the job
/// whose event (not a stop event) starts it, and `at[i]` where to point and
/// its index in the config's `jobs` (for the field path). A ring made of
/// `when` alone loads, as in ContainerPilot (the schema warns that it never
/// starts); one with an `after` in it is tug's own and an error.
pub fn check_after(
    e: &mut Errors,
    names: &[&str],
    after: &[&[String]],
    when: &[Option<usize>],
    at: &[(Pos, usize)],
) {
    let index = |name: &str| names.iter().position(|n| *n == name);
    let jobs = Path::Name("jobs");
    for (i, deps) in after.iter().enumerate() {
        let (pos, k) = at[i];
        let job = jobs.index(k);
        let path = job.key("after");
        for d in deps.iter() {
            match index(d) {
                Some(j) if j == i => e.at(pos, &path, "a job cannot start after itself"),
                Some(_) => {}
                None => {
                    let hint = d::hint(d::closest(d, names));
                    e.atf(
                        pos,
                        &path,
                        format_args!("{d} names no job{hint}", d = q(&d)),
                    );
                }
            }
        }
    }
    // Rings: a depth-first walk over "starts after" edges; each ring is
    // reported once, at the job where the walk closed it.
    // (Plain loops: the iterator chains cost more code.)
    let mut after_edges: Vec<Vec<usize>> = Vec::with_capacity(after.len());
    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(after.len());
    for (deps, w) in after.iter().zip(when) {
        let mut a = Vec::new();
        for d in deps.iter() {
            if let Some(k) = index(d) {
                a.push(k);
            }
        }
        let mut all = a.clone();
        all.extend(*w);
        after_edges.push(a);
        edges.push(all);
    }
    let mut state = alloc::vec![0u8; names.len()]; // 0 new, 1 on the path, 2 done
    let mut path: Vec<usize> = Vec::new();
    for start in 0..names.len() {
        walk(start, &edges, &mut state, &mut path, &mut |ring| {
            let n = ring.len();
            let by_after = (0..n).any(|m| after_edges[ring[m]].contains(&ring[(m + 1) % n]));
            if !by_after {
                return;
            }
            let (pos, k) = at[ring[0]];
            let mut words = String::new();
            for (i, &k) in ring.iter().chain(&ring[..1]).enumerate() {
                if i > 0 {
                    words.push_str(" → ");
                }
                words.push_str(names[k]);
            }
            e.atf(
                pos,
                &jobs.index(k).key("after"),
                format_args!("a cycle: the jobs wait on each other, so none can start: {words}"),
            );
        });
    }
}

fn walk(
    i: usize,
    edges: &[Vec<usize>],
    state: &mut [u8],
    path: &mut Vec<usize>,
    ring: &mut dyn FnMut(&[usize]),
) {
    match state[i] {
        2 => return,
        1 => {
            // Self-edges are reported by the name check.
            if let Some(k) = path.iter().position(|&p| p == i)
                && path.len() - k > 1
            {
                ring(&path[k..]);
            }
            return;
        }
        _ => {}
    }
    state[i] = 1;
    path.push(i);
    for &j in &edges[i] {
        walk(j, edges, state, path, ring);
    }
    path.pop();
    state[i] = 2;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn the_kind_tables_agree() {
        assert_eq!(KIND_LIST, KIND_NAMES.join(", "));
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(*k as usize, i);
        }
    }

    use crate::config::test_errors as errors;

    fn service(text: &str) -> Service {
        let cfg = parse("t.json5", text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        cfg.jobs[0].service.clone()
    }

    #[test]
    fn kinds_and_their_fields() {
        let s = service(
            r#"{jobs: [{name: "a", exec: "x", type: "notify", watchdog: "2s", startTimeout: "5s"}]}"#,
        );
        assert_eq!(s.kind, Kind::Notify);
        assert_eq!(s.watchdog, Some(2_000_000_000));
        assert_eq!(s.start_timeout, Some(5_000_000_000));
        let s =
            service(r#"{jobs: [{name: "a", exec: "x", type: "forking", pidfile: "/run/a.pid"}]}"#);
        assert_eq!(s.pidfile.as_deref(), Some("/run/a.pid"));
        let s = service(r#"{jobs: [{name: "a", exec: "x", readiness: {fd: 5}}]}"#);
        assert_eq!((s.kind, s.readiness_fd), (Kind::Simple, Some(5)));
        let s = service(r#"{jobs: [{name: "a", exec: "x", startFailure: "continue"}]}"#);
        assert_eq!(s.start_failure, StartFailure::Continue);
        let e = errors(r#"{jobs: [{name: "a", exec: "x", startFailure: "die"}]}"#);
        assert!(
            e[0].contains("jobs[0].startFailure: \"die\": one of block, continue, shutdown"),
            "{e:?}"
        );
        let s = service(r#"{jobs: [{name: "a", exec: "x"}]}"#);
        assert_eq!(
            s,
            Service {
                max: INETD_MAX,
                ..Service::default()
            }
        );
    }

    #[test]
    fn misplaced_and_missing_fields_are_errors() {
        let e = errors(r#"{jobs: [{name: "a", exec: "x", pidfile: "/a.pid"}]}"#);
        assert!(
            e[0].contains("jobs[0].pidfile: only for type \"forking\" (this job is simple)"),
            "{e:?}"
        );
        let e = errors(r#"{jobs: [{name: "a", exec: "x", type: "forking"}]}"#);
        assert!(e[0].contains("jobs[0].pidfile: missing"), "{e:?}");
        let e = errors(r#"{jobs: [{name: "a", exec: "x", type: "forkin"}]}"#);
        assert!(
            e[0].contains("unknown type \"forkin\"") && e[0].contains("did you mean \"forking\"?"),
            "{e:?}"
        );
        let e = errors(r#"{jobs: [{name: "a", type: "oneshot"}]}"#);
        assert!(
            e[0].contains("jobs[0].exec: missing: a oneshot job needs a command"),
            "{e:?}"
        );
        let e = errors(r#"{jobs: [{name: "a", exec: "x", type: "notify", readiness: {fd: 3}}]}"#);
        assert!(
            e[0].contains("jobs[0].readiness: only for type \"simple\""),
            "{e:?}"
        );
        let e = errors(r#"{jobs: [{name: "a", exec: "x", startTimeout: "1s"}]}"#);
        assert!(
            e[0].contains("jobs[0].startTimeout: only for jobs that become ready later"),
            "{e:?}"
        );
        let e = errors(r#"{jobs: [{name: "a", exec: "x", readiness: {fd: 2}}]}"#);
        assert_eq!(e.len(), 1, "{e:?}");
    }

    #[test]
    fn after_names_jobs_without_rings() {
        let e =
            errors(r#"{jobs: [{name: "a", exec: "x", after: ["dbb"]}, {name: "db", exec: "x"}]}"#);
        assert!(
            e[0].contains("jobs[0].after: \"dbb\" names no job (did you mean \"db\"?)"),
            "{e:?}"
        );
        let e = errors(r#"{jobs: [{name: "a", exec: "x", after: ["a"]}]}"#);
        assert!(e[0].contains("cannot start after itself"), "{e:?}");
        let e = errors(
            r#"{jobs: [{name: "a", exec: "x", after: ["c"]}, {name: "b", exec: "x", after: ["a"]},
                       {name: "c", exec: "x", after: ["b"]}, {name: "d", exec: "x", after: ["a"]}]}"#,
        );
        assert_eq!(e.len(), 1, "one ring, reported once: {e:?}");
        assert!(
            e[0].contains("a cycle: the jobs wait on each other, so none can start: a → c → b → a"),
            "{e:?}"
        );
        // A ring through a `when` and an `after` is a ring too.
        let e = errors(
            r#"{jobs: [{name: "a", exec: "x", when: {source: "d", once: "healthy"}},
                       {name: "d", exec: "x", after: ["a"]}]}"#,
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("a cycle") && e[0].contains("→"), "{e:?}");
        // A preStop job after its own source is no ring: it starts on the
        // source's stopping.
        let prestop = r#"{jobs: [{name: "app", exec: "x"},
            {name: "pre", exec: "x", after: ["app"], when: {source: "app", once: "stopping"}}]}"#;
        assert_eq!(errors(prestop), Vec::<String>::new());
        let diamond = r#"{jobs: [{name: "a", exec: "x"}, {name: "b", exec: "x", after: ["a"]},
                                 {name: "c", exec: "x", after: ["a"]}, {name: "d", exec: "x", after: ["b", "c"]}]}"#;
        assert_eq!(errors(diamond), Vec::<String>::new());
    }
}
