//! tug as a real PID 1, in a fresh PID namespace (`unshare --pid --fork
//! --mount-proc`, needs root: CI runs as root). As PID 1, signals sent from
//! outside only arrive because tug blocks them for its signalfd, orphans
//! come to tug without a subreaper, and when tug exits the kernel kills
//! whatever is left in the namespace.

mod common;

use common::*;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Whether this machine lets us make PID namespaces (decided once).
fn namespaces_ok() -> bool {
    static OK: OnceLock<Result<(), String>> = OnceLock::new();
    let ok = OK.get_or_init(|| {
        if !is_root() {
            return Err("PID namespaces need root".into());
        }
        match Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "true"])
            .output()
        {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "unshare failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Err(format!("cannot run unshare: {e}")),
        }
    });
    require(ok.is_ok(), ok.as_ref().err().map_or("", String::as_str))
}

/// `unshare ... tug ARGS`: tug is PID 1 of a new namespace.
fn as_pid1(args: &[&str]) -> Command {
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(tug())
        .args(args);
    c
}

/// tug's pid as seen from outside: unshare's only child.
fn outer_pid(unshare: i32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let [pid] = children_of(unshare)[..] {
            return pid;
        }
        assert!(Instant::now() < deadline, "no tug under unshare {unshare}");
        std::thread::yield_now();
    }
}

#[test]
fn pid1_propagates_exit_codes() {
    if !namespaces_ok() {
        return;
    }
    let p = probe_str();
    for (args, want) in [
        (vec!["exit", "0"], 0),
        (vec!["exit", "42"], 42),
        (vec!["exit", "255"], 255),
        (vec!["raise", "15"], 143),
        (vec!["raise", "9"], 137),
    ] {
        let mut full = vec!["--", p.as_str()];
        full.extend(args.iter().copied());
        let (c, _, err) = output(as_pid1(&full));
        assert_eq!(c, want, "{args:?}: {err}");
    }
    let (c, _, err) = output(as_pid1(&["--", "/nonexistent"]));
    assert_eq!(c, 127, "{err}");
}

#[test]
fn pid1_reaps_a_storm_of_1000_orphans() {
    if !namespaces_ok() {
        return;
    }
    let (c, out, err) = output(as_pid1(&["-w", "--", &probe_str(), "orphans", "1000"]));
    assert_eq!(c, 0, "{out}\n{err}");
    assert!(out.contains("unreaped 0"), "{out}");
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("Reaped zombie process"))
            .count(),
        1000
    );
}

#[test]
fn pid1_receives_and_forwards_signals_sent_from_outside() {
    if !namespaces_ok() {
        return;
    }
    let mut r = Running::start(as_pid1(&["--", &probe_str(), "signals"]));
    r.expect_line("main ready (parent 1)");
    let tug = outer_pid(r.pid());
    for sig in [
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
        libc::SIGQUIT,
        40,
    ] {
        send(tug, sig);
        r.expect_line(&format!("main got {sig}"));
    }
    send(tug, libc::SIGTERM);
    r.expect_line("main got 15");
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn pid1_waits_for_descendants_then_kills_the_stubborn_ones() {
    if !namespaces_ok() {
        return;
    }
    check_graceful_tree(as_pid1, false);
}

#[test]
fn pid1_sigterm_from_outside_shuts_everything_down() {
    if !namespaces_ok() {
        return;
    }
    let mut r = Running::start(as_pid1(&["--", &probe_str(), "term-after", "100"]));
    r.expect_line("ready");
    let tug = outer_pid(r.pid());
    send(tug, libc::SIGTERM);
    r.expect_line("term received");
    let (status, lines, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(lines.iter().any(|l| l == "finished cleanly"));
}
