//! Chaperone configs under tug (issue 12): every el-tests config of
//! Chaperone loads with `tug check`, and small chaperone.d directories
//! modelled on its el-tests (basic, simple, cron, fork, notify, inetd) run
//! under `tug --config DIR` with no flag saying they are Chaperone's.
//!
//! Each scenario's config routes every record (tug's and the jobs') to
//! stdout through a `console.logging` section, so the test waits for the
//! lines the jobs print; nothing sleeps for synchronisation.

mod common;

use common::peers::c_peer;
use common::*;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

const CONSOLE: &str = "console.logging: { selector: '*.*', stdout: true }\n";
const NO_SYSLOG: &str = "settings: { enable_syslog: false }\n";

fn el_tests() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/chaperone/el-tests")
}

/// A chaperone.d with `files` (name, text).
fn config_dir(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = fresh_dir(&format!("chap-{tag}"));
    let conf = dir.join("chaperone.d");
    std::fs::create_dir_all(&conf).unwrap();
    for (name, text) in files {
        std::fs::write(conf.join(name), text).unwrap();
    }
    conf
}

fn supervise(conf: &Path) -> Running {
    let sock = conf.parent().unwrap().join("tug.sock");
    let mut c = tug_cmd(&[
        "--config",
        conf.to_str().unwrap(),
        "--socket",
        sock.to_str().unwrap(),
    ]);
    c.env_remove("TUG_SOCKET").env_remove("NOTIFY_SOCKET");
    Running::start(c)
}

fn check(path: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = tug_cmd(&["check", path.to_str().unwrap()]);
    c.envs(env.iter().copied());
    output(c)
}

#[test]
fn every_el_tests_config_loads() {
    let mut seen = 0;
    for e in std::fs::read_dir(el_tests()).unwrap() {
        let path = e.unwrap().path();
        let (code, out, err) = check(&path, &[]);
        assert_eq!(code, 0, "{}: {out}{err}", path.display());
        assert!(out.contains(": OK"), "{out}");
        // With each of its services enabled too (they are off unless an
        // ENABLE_ variable says true).
        let text = std::fs::read_to_string(&path).unwrap();
        let vars: Vec<&str> = text
            .split("$(")
            .skip(1)
            .filter_map(|s| s.split(":-").next())
            .filter(|v| v.starts_with("ENABLE_"))
            .collect();
        let env: Vec<(&str, &str)> = vars.iter().map(|v| (*v, "true")).collect();
        let (code, out, err) = check(&path, &env);
        assert_eq!(code, 0, "{} with {env:?}: {out}{err}", path.display());
        seen += 1;
    }
    assert_eq!(seen, 7);
}

/// Chaperone's own configs beyond el-tests (samples/, sandbox/, doc/;
/// tests/compat/chaperone/NOTICE.md): each loads, or fails with the
/// error Chaperone 0.3.9 gave (its schema rejects the old spellings).
#[test]
fn every_config_of_chaperones_repository_loads_or_fails_as_it_did() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/chaperone/repo");
    let cases = [
        ("docsample.conf", "2 jobs"),
        ("centos-app.conf", "0 jobs"),
        ("test-cron.conf", "1 jobs"),
        ("distserv.d", "1 jobs"),
        ("centos-cron.conf", "cron.service: unknown key 'bin'"),
        ("docserver.d", "apache2.logging: unknown key 'filter'"),
    ];
    let mut seen = 0;
    for e in std::fs::read_dir(&repo).unwrap() {
        let name = e.unwrap().file_name();
        let name = name.to_str().unwrap();
        let Some((_, want)) = cases.iter().find(|c| c.0 == name) else {
            panic!("{name}: no expectation");
        };
        // `uid: $(USER:-www-data)`: a user every test machine has.
        let (code, out, err) = check(&repo.join(name), &[("USER", "root")]);
        if want.contains("jobs") {
            assert_eq!(code, 0, "{name}: {out}{err}");
            assert!(out.contains(want), "{name}: {out}");
        } else {
            assert_ne!(code, 0, "{name}: {out}{err}");
            assert!(err.contains(want), "{name}: {err}");
        }
        seen += 1;
    }
    assert_eq!(seen, cases.len());
}

#[test]
fn the_cron_el_test_maps_its_seconds_last_interval() {
    let (code, out, err) = output({
        let mut c = tug_cmd(&["render", el_tests().join("cron-1.conf").to_str().unwrap()]);
        c.env("ENABLE_CRON1", "true");
        c
    });
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("when: { cron: \"*/10 * * * * *\" }"), "{out}");
}

#[test]
fn render_prints_a_tug_config_that_loads_as_one() {
    let conf = config_dir(
        "render",
        &[
            (
                "10-init.conf",
                "init.service: { type: oneshot, command: 'true', service_groups: INIT }\n",
            ),
            (
                "20-app.conf",
                "app.service: { command: 'sleep 1', restart: true }\n",
            ),
            ("30-log.conf", CONSOLE),
        ],
    );
    let (code, out, err) = output(tug_cmd(&["render", conf.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    let json5 = conf.parent().unwrap().join("tug.json5");
    std::fs::write(&json5, &out).unwrap();
    let (code, checked, err) = check(&json5, &[]);
    assert_eq!(code, 0, "{out}\n{checked}{err}");
    assert!(checked.contains("job app"), "{checked}");
    assert!(checked.contains("after init"), "{checked}");
}

#[test]
fn errors_name_the_file_line_and_key() {
    let conf = config_dir(
        "errors",
        &[(
            "a.conf",
            "a.service: {\n  command: x,\n  restrat: true,\n}\n",
        )],
    );
    let (code, out, err) = check(&conf, &[]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("a.conf:3:3: a.service: unknown key 'restrat' (did you mean 'restart'?)"),
        "{err}"
    );
    // What tug's own checks find is told at the section it came from.
    std::fs::write(
        conf.join("a.conf"),
        "a.service: {command: a, after: b.service}\nb.service: {command: b, after: a.service}\n",
    )
    .unwrap();
    let (code, _, err) = check(&conf, &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("a.conf:1:1: a.service: after: a cycle: the jobs wait on each other, so none can start: a → b → a"),
        "{err}"
    );
    // A file (not a directory) with a service at its top is Chaperone's too.
    let file = conf.join("a.conf");
    std::fs::write(&file, "b.service: { command: b, after: c.service }\n").unwrap();
    let (code, out, err) = check(&file, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("job b"), "{out}");
}

/// el-tests basic and simple: an INIT oneshot, then a simple service that
/// sees its layers' environment; tug ends when both have.
#[test]
fn basic_init_then_simple_with_the_environment_layers() {
    let conf = config_dir(
        "basic",
        &[
            (
                "00-settings.conf",
                "settings: {\n  enable_syslog: false,\n  env_set: { WHO: 'set-$(_CHAP_SERVICE)', GONE: x },\n}\n",
            ),
            (
                "10-init.conf",
                "init.service: { type: oneshot, service_groups: INIT,\n  command: \"sh -c 'echo init-ran'\" }\n",
            ),
            (
                "20-main.conf",
                "main.service: { command: \"sh -c 'echo main-sees $WHO [$GONE] $(HOME:+home)'\",\n  env_unset: [GONE] }\n",
            ),
            ("90-log.conf", CONSOLE),
        ],
    );
    let mut t = supervise(&conf);
    t.expect_line("init-ran");
    t.expect_line("job init is ready");
    let line = t.expect_line("main-sees");
    assert!(
        line.ends_with("main-sees set-main.service [] home"),
        "{line}"
    );
    let (status, _, err) = t.finish();
    assert!(status.success(), "{status:?} {err}");
}

/// el-tests fork: the launcher exits, the pidfile names the daemon, and a
/// service after it starts only then.
#[test]
fn forking_with_a_pidfile_then_its_dependent() {
    let dir = fresh_dir("chap-fork-pid");
    let pid = dir.join("d.pid");
    let daemon = format!(
        "d.service: {{ type: forking, pidfile: '{}',\n  command: \"sh -c 'sh -c \\\"echo daemon-up; exec sleep 30\\\" & echo $! > {}'\" }}\n",
        pid.display(),
        pid.display()
    );
    let conf = config_dir(
        "fork",
        &[
            ("00.conf", NO_SYSLOG),
            ("10-d.conf", &daemon),
            (
                "20-after.conf",
                "after.service: { type: oneshot, after: d.service, command: \"echo after-ran\" }\n",
            ),
            ("90-log.conf", CONSOLE),
        ],
    );
    let mut t = supervise(&conf);
    t.expect_line("job d is ready");
    t.expect_line("after-ran");
    let daemon_pid: i32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(daemon_pid));
    send(t.pid(), libc::SIGTERM);
    let (status, _, err) = t.finish();
    assert!(status.success(), "{status:?} {err}");
    assert!(!alive(daemon_pid), "the daemon outlived tug");
}

/// el-tests cron: `* * * * * *` (seconds last) runs every second; a failed
/// run does not end the schedule (Chaperone's flaw).
#[test]
fn cron_with_seconds_last_keeps_running_after_a_failure() {
    let dir = fresh_dir("chap-cron-n");
    let n = dir.join("n");
    let job = format!(
        "tick.service: {{ type: cron, interval: '* * * * * *',\n  command: \"sh -c 'echo x >> {0}; echo tick-$(wc -l < {0}); exit 1'\" }}\n",
        n.display()
    );
    let conf = config_dir(
        "cron",
        &[
            ("00.conf", NO_SYSLOG),
            ("10.conf", &job),
            ("90.conf", CONSOLE),
        ],
    );
    let mut t = supervise(&conf);
    t.expect_line("tick-1");
    t.expect_line("tick-2");
    send(t.pid(), libc::SIGTERM);
    let (status, _, err) = t.finish();
    assert!(status.success(), "{status:?} {err}");
}

/// el-tests inetd: each connection runs the command with the socket as
/// its stdio.
#[test]
fn inetd_port_serves_each_connection() {
    let port = free_port();
    let job = "hello.service: { type: inetd, port: '$(PORT)', command: \"echo hello-from-$(_CHAP_SERVICE)\" }\n";
    let conf = config_dir(
        "inetd",
        &[
            ("00.conf", NO_SYSLOG),
            ("10.conf", job),
            ("90.conf", CONSOLE),
        ],
    );
    let sock = conf.parent().unwrap().join("tug.sock");
    let mut c = tug_cmd(&[
        "--config",
        conf.to_str().unwrap(),
        "--socket",
        sock.to_str().unwrap(),
    ]);
    c.env_remove("TUG_SOCKET").env_remove("NOTIFY_SOCKET");
    c.env("PORT", port.to_string());
    let mut t = Running::start(c);
    t.expect_line("job hello: accepting on");
    for _ in 0..2 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        assert_eq!(got, "hello-from-hello.service\n");
    }
    send(t.pid(), libc::SIGTERM);
    let (status, _, err) = t.finish();
    assert!(status.success(), "{status:?} {err}");
}

/// el-tests notify: the dependent starts once READY=1 came.
#[test]
fn notify_ready_then_its_dependent() {
    let Some(notify) = c_peer("notify") else {
        return;
    };
    let job = format!(
        "n.service: {{ type: notify, command: '{} ready' }}\n\
         then.service: {{ type: oneshot, after: n.service, command: 'echo then-ran' }}\n",
        notify.display()
    );
    let conf = config_dir(
        "notify",
        &[
            ("00.conf", NO_SYSLOG),
            ("10.conf", &job),
            ("90.conf", CONSOLE),
        ],
    );
    let mut t = supervise(&conf);
    t.expect_line("sent READY=1");
    t.expect_line("then-ran");
    send(t.pid(), libc::SIGTERM);
    let (status, _, err) = t.finish();
    assert!(status.success(), "{status:?} {err}");
}

/// A backtick in an env_set value runs through /bin/sh once.
#[test]
fn backticks_run_through_the_shell() {
    let conf = config_dir(
        "backtick",
        &[(
            "a.conf",
            "settings: { enable_syslog: false, env_set: { V: '`echo from-sh`' } }\n\
             a.service: { type: oneshot, command: 'echo got-$(V)' }\n",
        )],
    );
    let (code, out, err) = output(tug_cmd(&["render", conf.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"echo\", \"got-from-sh\""), "{out}");
}

/// el-tests exitkills: the exit_kills service's exit ends tug, stopping
/// the others, with its code (Chaperone's exit 0 was a flaw).
#[test]
fn exit_kills_ends_tug_with_its_code() {
    let conf = config_dir(
        "exitkills",
        &[
            ("00.conf", NO_SYSLOG),
            (
                "10.conf",
                "keeper.service: { command: \"sh -c 'echo keeper-up; exec sleep 600'\" }\n\
                 kills.service: { exit_kills: true, after: keeper.service,\n  command: \"sh -c 'echo kills-exiting; exit 3'\" }\n",
            ),
            ("90.conf", CONSOLE),
        ],
    );
    let mut t = supervise(&conf);
    t.expect_line("keeper-up");
    t.expect_line("kills-exiting");
    let (status, _, err) = t.finish();
    assert_eq!(status.code(), Some(3), "{err}");
}

/// exit_kills on a forking service follows the daemon the pidfile names,
/// not the launcher (Chaperone's issue #4).
#[test]
fn exit_kills_on_forking_follows_the_daemon() {
    let dir = fresh_dir("chap-exitkills-fork");
    let pid = dir.join("d.pid");
    // The daemon's parent (the subshell) has exited, so the daemon is tug's
    // child (tug is a subreaper), before the pidfile appears: its exit
    // status is tug's to read. Killed while its parent still ran, it would
    // be a grandchild whose status nobody can read.
    let daemon = format!(
        "keeper.service: {{ command: \"sh -c 'exec sleep 600'\" }}\n\
         d.service: {{ type: forking, pidfile: '{0}', exit_kills: true,\n  command: \"sh -c '(sleep 600 & echo $! > {0}.new); mv {0}.new {0}'\" }}\n",
        pid.display()
    );
    let conf = config_dir(
        "exitkills-fork",
        &[
            ("00.conf", NO_SYSLOG),
            ("10.conf", &daemon),
            ("90.conf", CONSOLE),
        ],
    );
    let mut t = supervise(&conf);
    t.expect_line("job d is ready");
    let daemon_pid: i32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(t.pid()), "tug ended with the launcher");
    send(daemon_pid, libc::SIGKILL);
    let (status, _, err) = t.finish();
    assert!(!status.success(), "{status:?} {err}");
}

/// Chaperone's lamp sample as first written (`filter:`, `service_group:`)
/// fails as in Chaperone 0.3.9, naming the key meant; renamed, it loads
/// with the start order the samples rely on (init before the database).
#[test]
fn the_lamp_sample_old_spellings_then_renamed() {
    let old = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/chaperone/lamp-618243d");
    let (code, _, err) = check(&old, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("010-start.conf:15:3: init.service: unknown key 'service_group' (did you mean 'service_groups'?)"),
        "{err}"
    );
    assert!(
        err.contains("120-apache2.conf:24:3: apache2.logging: unknown key 'filter' (did you mean 'selector'?)"),
        "{err}"
    );
    let dir = fresh_dir("chap-lamp");
    let new = dir.join("chaperone.d");
    std::fs::create_dir_all(&new).unwrap();
    for e in std::fs::read_dir(&old).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let text = text
            .replace("filter:", "selector:")
            .replace("service_group:", "service_groups:");
        std::fs::write(new.join(p.file_name().unwrap()), text).unwrap();
    }
    let (code, out, err) = check(&new, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("job mysql:"), "{out}");
    assert!(out.contains("after init"), "{out}");
    // The second apache2.logging of one file is the one that counts.
    assert!(
        err.contains("'apache2.logging' is given again at line 22"),
        "{err}"
    );
}

/// A `chaperone` link to tug in `conf`'s parent, and a Command on it
/// with `args`, the control socket beside it.
fn chaperone_cmd(conf: &Path, args: &[&str]) -> Command {
    let link = conf.parent().unwrap().join("chaperone");
    if !link.exists() {
        std::os::unix::fs::symlink(tug(), &link).unwrap();
    }
    let mut c = Command::new(&link);
    c.args(args);
    c.env_remove("NOTIFY_SOCKET").env_remove("_CHAP_OPTIONS");
    c.env("TUG_SOCKET", conf.parent().unwrap().join("tug.sock"));
    c
}

/// tug installed as `chaperone`: `--config` (a unique prefix will do),
/// the trailing command as CONSOLE, whose exit code tug returns with
/// `--exitkills`; `--user` and `--create-user` check their user.
#[test]
fn the_chaperone_personality() {
    let conf = config_dir(
        "personality",
        &[
            ("00.conf", NO_SYSLOG),
            (
                "10.conf",
                "svc.service: { command: \"sh -c 'echo svc-up; exec sleep 600'\" }\n",
            ),
            ("90.conf", CONSOLE),
        ],
    );
    let run = |args: &[&str]| output(chaperone_cmd(&conf, args));
    let (code, out, _) = run(&["--version"]);
    assert_eq!(
        (code, out.starts_with("chaperone (tug ")),
        (0, true),
        "{out}"
    );
    let (code, _, err) = run(&["--user", "nosuch-user", "true"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--user nosuch-user: no such user in /etc/passwd"),
        "{err}"
    );
    let (code, _, err) = run(&["--create-user", "nosuch-user:4242", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("tug creates no users"), "{err}");
    // --show-dependencies: tug's job graph, exit 0, nothing started.
    let (code, out, err) = run(&["--show-dep", "--config", conf.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": OK") && out.contains("job svc:"), "{out}");
    assert!(!out.contains("started (pid"), "{out}");
    let conf_s = conf.to_str().unwrap();
    let mut c = chaperone_cmd(&conf, &["--conf", conf_s, "--force", "--exitk", "sh", "-c"]);
    c.arg("read line; echo console-got-$line; exit 4");
    let mut t = Running::start(c);
    t.expect_line("svc-up");
    use std::io::Write;
    t.child.stdin.as_mut().unwrap().write_all(b"hi\n").unwrap();
    t.expect_line("console-got-hi");
    let (status, _, err) = t.finish();
    assert_eq!(status.code(), Some(4), "{err}");
}

/// Without a tty and without `--exitkills`, CONSOLE's exit does not end
/// the system (Chaperone's rule): the other services keep running, and
/// tug ends when they do.
#[test]
fn console_without_exitkills_leaves_the_services_running() {
    let dir = fresh_dir("chap-fifo");
    let fifo = dir.join("go");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let svc = format!(
        "svc.service: {{ command: \"sh -c 'echo svc-up; read x < {}; echo svc-got-$x'\" }}\n",
        fifo.display()
    );
    let conf = config_dir(
        "no-exitkills",
        &[
            ("00.conf", NO_SYSLOG),
            ("10.conf", &svc),
            ("90.conf", CONSOLE),
        ],
    );
    let conf_s = conf.to_str().unwrap();
    let c = chaperone_cmd(
        &conf,
        &["--config", conf_s, "sh", "-c", "echo console-done"],
    );
    let mut t = Running::start(c);
    t.close_stdin();
    t.expect_line("svc-up");
    t.expect_line("job CONSOLE exited with 0");
    // The service still runs: it takes a line and ends, and so does tug.
    std::fs::write(&fifo, "hi\n").unwrap();
    t.expect_line("svc-got-hi");
    let (status, _, err) = t.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    // Chaperone's last line, which scripts wait for.
    assert!(err.contains("Final termination phase."), "{err}");
}

/// `--task`: no services, no console log, `_CHAP_TASK_MODE=1` in the
/// process environment (seen through settings' env_set), CONSOLE's exit
/// code is tug's.
#[test]
fn task_mode_runs_only_the_command() {
    let conf = config_dir(
        "task",
        &[
            (
                "00.conf",
                "settings: { enable_syslog: false, env_set: { MODE: '$(_CHAP_TASK_MODE:-none)' } }\n",
            ),
            ("10.conf", "svc.service: { command: \"echo svc-ran\" }\n"),
            ("90.conf", CONSOLE),
        ],
    );
    let conf_s = conf.to_str().unwrap();
    let (code, out, err) = output(chaperone_cmd(
        &conf,
        &[
            "--config",
            conf_s,
            "--task",
            "sh",
            "-c",
            "echo mode=$MODE; exit 7",
        ],
    ));
    assert_eq!(code, 7, "{out}{err}");
    assert_eq!(out, "mode=1\n", "{err}");
    // _CHAP_OPTIONS gives defaults; the command line's own win.
    let mut c = chaperone_cmd(
        &conf,
        &["--exitkills", "sh", "-c", "echo mode=$MODE; exit 5"],
    );
    c.env(
        "_CHAP_OPTIONS",
        format!("--config {conf_s} --no-console-log"),
    );
    let (code, out, err) = output(c);
    assert_eq!(code, 5, "{out}{err}");
    assert!(out.contains("mode=none"), "{out}");
    assert!(!out.contains("started (pid"), "--no-console-log: {out}");
}

/// A failed start ends tug with exit 1 (Chaperone cancelled its start-up);
/// with `ignore_failures` the dependents start as if it had started.
#[test]
fn a_failed_start_ends_tug_unless_ignore_failures() {
    let services = |ignore: bool| {
        format!(
            "init.service: {{ type: oneshot, command: \"sh -c 'echo init-fails; exit 3'\", \
             ignore_failures: {ignore} }}\n\
             svc.service: {{ command: \"sh -c 'echo svc-up; exec sleep 600'\", after: init.service }}\n\
             other.service: {{ command: \"sh -c 'echo other-up; exec sleep 600'\" }}\n"
        )
    };
    let conf = config_dir(
        "start-failure",
        &[
            ("00.conf", NO_SYSLOG),
            ("10.conf", &services(false)),
            ("90.conf", CONSOLE),
        ],
    );
    let mut t = supervise(&conf);
    t.expect_line("system startup cancelled due to error: job init failed");
    let (status, out, err) = t.finish();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(!out.iter().any(|l| l.contains("svc-up")), "{out:?}");

    let conf = config_dir(
        "ignore-failures",
        &[
            ("00.conf", NO_SYSLOG),
            ("10.conf", &services(true)),
            ("90.conf", CONSOLE),
        ],
    );
    let mut t = supervise(&conf);
    t.expect_line("job init exited with 3");
    t.expect_line("svc-up");
    send(t.pid(), libc::SIGTERM);
    let (status, _, err) = t.finish();
    assert_eq!(status.code(), Some(1), "the failure is still told: {err}");
}

/// Signals sent to tug reach CONSOLE (Chaperone passed none on), with
/// or without `--exitkills`.
#[test]
fn signals_reach_console() {
    let conf = config_dir("signals", &[("00.conf", NO_SYSLOG), ("90.conf", CONSOLE)]);
    let conf_s = conf.to_str().unwrap();
    let script = "trap 'echo got-hup' HUP; trap 'echo got-quit; exit 0' QUIT; \
                  echo console-ready; while :; do sleep 0.05; done";
    let c = chaperone_cmd(&conf, &["--config", conf_s, "sh", "-c", script]);
    let mut t = Running::start(c);
    t.expect_line("console-ready");
    send(t.pid(), libc::SIGHUP);
    t.expect_line("got-hup");
    send(t.pid(), libc::SIGQUIT);
    t.expect_line("got-quit");
    // No other service: CONSOLE's end is everything's.
    t.expect_line("job CONSOLE exited with 0");
    let (status, _, err) = t.finish();
    assert_eq!(status.code(), Some(0), "{err}");
}
