//! tug installed as `telchap` (a symlink named so): Chaperone's control
//! client over tug's own control socket (TUG_SOCKET here), against a tug
//! running a small chaperone.d. Every command, its output and exit code
//! (0 done, 1 command error, 2 bad usage, 3 tug not reachable).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory with `chaperone.d` (two services and console logging) and
/// `telchap`, a symlink to tug.
fn setup(tag: &str) -> PathBuf {
    let dir = fresh_dir(&format!("telchap-{tag}"));
    let conf = dir.join("chaperone.d");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("10-svc.conf"),
        "settings: { enable_syslog: false }\n\
         a.service: { command: \"sh -c 'echo a-up; exec sleep 1000'\" }\n\
         b.service: { command: \"sh -c 'echo b-up; exec sleep 1000'\", after: a.service }\n\
         console.logging: { selector: '*.*', stdout: true }\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(tug(), dir.join("telchap")).unwrap();
    dir
}

fn supervise(dir: &Path) -> Running {
    let mut c = tug_cmd(&[
        "--config",
        dir.join("chaperone.d").to_str().unwrap(),
        "--socket",
        dir.join("tug.sock").to_str().unwrap(),
    ]);
    c.env_remove("TUG_SOCKET").env_remove("NOTIFY_SOCKET");
    Running::start(c)
}

fn telchap_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(dir.join("telchap"));
    c.args(args).env("TUG_SOCKET", dir.join("tug.sock"));
    c
}

fn telchap(dir: &Path, args: &[&str]) -> (i32, String, String) {
    output(telchap_cmd(dir, args))
}

#[test]
fn every_command_with_its_output_and_exit_code() {
    let dir = setup("all");
    let mut t = supervise(&dir);
    t.expect_line("a-up");
    t.expect_line("b-up");

    let (code, out, err) = telchap(&dir, &["status"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("tug ") && lines[0].ends_with(" (telchap)"),
        "{out}"
    );
    assert_eq!(lines[1], "Managed processes: 2 (2 enabled)", "{out}");
    let head: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(head, ["pid", "name", "enabled", "status", "note"], "{out}");
    let a: Vec<&str> = lines[4].split_whitespace().collect();
    assert_eq!(&a[1..], ["a", "true", "running", "-"], "{out}");
    assert!(a[0].parse::<u32>().is_ok(), "{out}");
    assert_eq!(lines[5].split_whitespace().nth(1), Some("b"), "{out}");

    // Names with or without `.service`.
    assert_eq!(
        telchap(&dir, &["stop", "b.service"]),
        (0, "services stopping.\n".into(), String::new())
    );
    t.expect_line("job b was killed by signal 15");
    assert_eq!(
        telchap(&dir, &["start", "--wait", "b"]),
        (0, "services started.\n".into(), String::new())
    );
    t.expect_line("b-up");
    assert_eq!(
        telchap(&dir, &["stop", "--force", "b"]),
        (0, "services stopping.\n".into(), String::new())
    );
    t.expect_line("job b was killed by signal 15");
    assert_eq!(
        telchap(&dir, &["start", "b"]),
        (0, "service start-up queued.\n".into(), String::new())
    );
    t.expect_line("b-up");
    assert_eq!(
        telchap(&dir, &["reset", "a.service", "b"]),
        (0, "services reset.\n".into(), String::new())
    );

    // Command errors: exit 1, Chaperone's message on stderr.
    let (code, out, err) = telchap(&dir, &["start", "nosuch.service"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(err, "Command error: no such service: nosuch\n");
    let (code, _, err) = telchap(&dir, &["start", "a"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("Command error: job a is already running"),
        "{err}"
    );
    // disable: start refuses (Chaperone's words), status says so;
    // stop --disable, start --enable, enable.
    assert_eq!(
        telchap(&dir, &["disable", "b"]),
        (0, "services disabled.\n".into(), String::new())
    );
    let (_, out, _) = telchap(&dir, &["status"]);
    assert!(out.contains("Managed processes: 2 (1 enabled)\n"), "{out}");
    let b: Vec<&str> = out.lines().nth(5).unwrap().split_whitespace().collect();
    assert_eq!(&b[1..4], ["b", "false", "running"], "{out}");
    assert_eq!(
        telchap(&dir, &["stop", "--disable", "b"]),
        (0, "services stopping.\n".into(), String::new())
    );
    t.expect_line("job b was killed by signal 15");
    let (code, _, err) = telchap(&dir, &["start", "b"]);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "Command error: can only start services which have been enabled: b\n"
        )
    );
    assert_eq!(
        telchap(&dir, &["start", "--enable", "b"]),
        (0, "service start-up queued.\n".into(), String::new())
    );
    t.expect_line("b-up");
    assert_eq!(
        telchap(&dir, &["enable", "b.service"]),
        (0, "services enabled.\n".into(), String::new())
    );
    let (_, out, _) = telchap(&dir, &["status"]);
    assert!(out.contains("Managed processes: 2 (2 enabled)\n"), "{out}");

    // dependencies: each job in start order with what it waits for.
    assert_eq!(
        telchap(&dir, &["dependencies"]),
        (0, "a\nb ----> depends on: a\n".into(), String::new())
    );
    // loglevel: a reload with every selector widened; the jobs run on.
    let pid_of = |name: &str| -> String {
        let (_, out, _) = telchap(&dir, &["status"]);
        let row = out
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name));
        row.and_then(|r| r.split_whitespace().next())
            .unwrap_or("")
            .to_string()
    };
    let before = pid_of("a");
    assert_eq!(
        telchap(&dir, &["loglevel"]),
        (0, "Forced Logging Level: NOT SET\n".into(), String::new())
    );
    assert_eq!(
        telchap(&dir, &["loglevel", "WARN"]),
        (
            0,
            "All logging set to include priorities >= *.warn\n".into(),
            String::new()
        )
    );
    assert_eq!(
        telchap(&dir, &["loglevel"]),
        (0, "Forced Logging Level: *.warn\n".into(), String::new())
    );
    assert_eq!(pid_of("a"), before);
    let (code, _, err) = telchap(&dir, &["loglevel", "loud"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("\"loud\" is not a priority"), "{err}");
    // stop --wait returns once the run is over: status says so at once.
    assert_eq!(
        telchap(&dir, &["stop", "--wait", "a"]),
        (0, "services stopped.\n".into(), String::new())
    );
    let (_, out, _) = telchap(&dir, &["status"]);
    let a: Vec<&str> = out.lines().nth(4).unwrap().split_whitespace().collect();
    assert_eq!(&a[1..4], ["a", "true", "stopped"], "{out}");
    // A job that is not running: answered at once.
    assert_eq!(
        telchap(&dir, &["stop", "--wait", "a"]).0,
        1,
        "a stopped job cannot be stopped again"
    );
    let (code, _, err) = telchap(&dir, &["shutdown", "soon"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("soon is not a number of seconds"), "{err}");
    // Bad usage: the usage text, exit 2.
    for cmd in [
        &[][..],
        &["bogus"],
        &["start"],
        &["status", "a"],
        &["stop", "--bogus", "a"],
        &["stop", "--enable", "a"],
        &["enable"],
    ] {
        let (code, out, err) = telchap(&dir, cmd);
        assert_eq!((code, out.as_str()), (2, ""), "{cmd:?}");
        assert!(
            err.starts_with("Usage:\n    telchap status\n"),
            "{cmd:?}: {err}"
        );
    }

    // A delayed shutdown: answered now, carried out when it is due. A
    // second request moves the first (systemd's `shutdown +N` does): the
    // delay that counts is the later one's.
    assert_eq!(
        telchap(&dir, &["shutdown", "0.3"]),
        (0, "Shutting down in 0.3 seconds\n".into(), String::new())
    );
    let moved = std::time::Instant::now();
    assert_eq!(
        telchap(&dir, &["shutdown", "1.5"]),
        (0, "Shutting down in 1.5 seconds\n".into(), String::new())
    );
    t.expect_line("the shutdown's delay has passed");
    assert!(
        moved.elapsed() >= std::time::Duration::from_millis(1500),
        "the first request's timer was not moved: {:?}",
        moved.elapsed()
    );
    let (status, _, err) = t.finish();
    assert!(status.success(), "{status:?} {err}");
}

#[test]
fn shutdown_now() {
    let dir = setup("now");
    let mut t = supervise(&dir);
    t.expect_line("b-up");
    assert_eq!(
        telchap(&dir, &["shutdown", "now"]),
        (0, "Shutting down now\n".into(), String::new())
    );
    let (status, _, err) = t.finish();
    assert!(status.success(), "{status:?} {err}");
}

#[test]
fn no_tug_listening() {
    let dir = setup("none");
    let (code, out, err) = telchap(&dir, &["status"]);
    assert_eq!((code, out.as_str()), (3, ""), "{err}");
    assert!(
        err.starts_with("chaperone does not seem to be listening, is it running?\n(telchap: "),
        "{err}"
    );
}

#[test]
fn another_uid_is_refused() {
    if !require(is_root(), "connecting as another uid needs root") {
        return;
    }
    use std::os::unix::process::CommandExt;
    let dir = setup("uid");
    let mut t = supervise(&dir);
    t.expect_line("a-up");
    let mut c = telchap_cmd(&dir, &["stop", "a"]);
    c.uid(65534).gid(65534);
    let (code, out, err) = output(c);
    assert_eq!((code, out.as_str()), (3, ""), "{err}");
    assert!(err.contains("permission denied"), "{err}");
    // Still running, a still up.
    let (code, out, _) = telchap(&dir, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains(" running "), "{out}");
}
