//! The job engine end to end: the real binary running configs that
//! reproduce ContainerPilot's scenarios (preStart, periodic tasks,
//! coprocesses, preStop/postStop, SIGHUP jobs, health checks) plus tug's
//! extensions. Jobs are small shell scripts; readiness is read from output
//! lines, never slept for.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;

/// A config file in a fresh temp dir.
fn config(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tug-jobs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json5");
    std::fs::write(&path, body).unwrap();
    path
}

fn supervise(path: &std::path::Path, main: &[&str]) -> Command {
    let mut c = tug_cmd(&["--config", path.to_str().unwrap()]);
    if !main.is_empty() {
        c.arg("--").args(main);
    }
    c
}

/// Job output lines (`msg="..." job=NAME`) in order, as (job, msg).
fn job_lines(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let msg = l.split_once(" msg=\"")?.1;
            let (msg, rest) = msg.split_once("\" job=\"")?;
            let job = rest.split_once('"')?.0;
            Some((job.to_string(), msg.replace("\\\"", "\"")))
        })
        .collect()
}

#[test]
fn prestart_must_succeed_before_the_app_starts() {
    let cfg = config(
        "prestart",
        r#"{
          jobs: [
            { name: "app", exec: "sh -c 'echo app running'",
              when: { source: "preStart", once: "exitSuccess" } },
            { name: "preStart", exec: ["sh", "-c", "echo preparing; exit 0"] }
          ]
        }"#,
    );
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 0, "{err}");
    let lines = job_lines(&err);
    assert_eq!(
        lines,
        [
            ("preStart".into(), "preparing".into()),
            ("app".into(), "app running".into())
        ],
        "{err}"
    );

    // A failing preStart: the app never runs, and tug reports the failure.
    let cfg = config(
        "prestart-fails",
        r#"{ jobs: [
            { name: "app", exec: "echo never", when: { source: "preStart", once: "exitSuccess" } },
            { name: "preStart", exec: "sh -c 'exit 3'" } ] }"#,
    );
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("never"), "{err}");
}

#[test]
fn periodic_task_runs_at_startup_then_each_interval_until_restarts_run_out() {
    let cfg = config(
        "periodic",
        r#"{ jobs: [ { name: "tick", exec: "echo tick", restarts: 3, timeout: "5s", when: { interval: "50ms" } } ] }"#,
    );
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(job_lines(&err).len(), 4, "startup run + 3 more: {err}");
}

#[test]
fn main_command_exit_code_is_tugs_and_coprocesses_are_stopped() {
    let cfg = config(
        "main",
        r#"{ stopTimeout: "5s", logging: { output: "stdout" }, jobs: [
            { name: "coprocess", exec: ["sh", "-c", "trap 'echo coprocess stopped; exit 0' TERM; echo coprocess up; while :; do sleep 1 & wait $!; done"],
              restarts: "unlimited" } ] }"#,
    );
    let p = probe_str();
    let mut r = Running::start(supervise(&cfg, &[&p, "term-after", "0"]));
    r.expect_line("ready");
    // Its trap is set once it says so.
    r.expect_line("coprocess up");
    send(r.pid(), libc::SIGTERM);
    r.expect_line("coprocess stopped");
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");

    // The main command's own exit code comes back.
    let (code, _, err) = output(supervise(&cfg, &[&p, "exit", "42"]));
    assert_eq!(code, 42, "{err}");
}

#[test]
fn sigterm_runs_prestop_then_stops_the_app_then_runs_poststop() {
    let cfg = config(
        "stopping",
        r#"{ logging: { output: "stdout" }, jobs: [
            { name: "app", exec: ["sh", "-c", "trap 'echo app got TERM; exit 0' TERM; echo app up; while :; do sleep 1 & wait $!; done"] },
            { name: "preStop", exec: "echo preStop ran", when: { source: "app", once: "stopping" } },
            { name: "postStop", exec: "echo postStop ran", when: { source: "app", once: "stopped" } }
          ] }"#,
    );
    // The log goes to stdout here, so the test can wait for lines.
    let mut r = Running::start(supervise(&cfg, &[]));
    r.expect_line("app up");
    send(r.pid(), libc::SIGTERM);
    let (status, out, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    let order: Vec<String> = job_lines(&out.join("\n"))
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let at = |m: &str| {
        order
            .iter()
            .position(|x| x == m)
            .unwrap_or_else(|| panic!("{m:?} missing: {order:?}"))
    };
    assert!(at("app up") < at("preStop ran"), "{order:?}");
    assert!(at("preStop ran") < at("app got TERM"), "{order:?}");
    assert!(at("app got TERM") < at("postStop ran"), "{order:?}");
}

#[test]
fn sighup_and_sigusr2_start_their_jobs() {
    let cfg = config(
        "sighup",
        r#"{ logging: { output: "stdout" }, jobs: [
            { name: "keeper", exec: ["sh", "-c", "while :; do sleep 1 & wait $!; done"] },
            { name: "on-hup", exec: "echo got hup", when: { source: "SIGHUP" } },
            { name: "on-usr2", exec: "echo got usr2", when: { source: "SIGUSR2", each: "signal" } }
          ] }"#,
    );
    let mut r = Running::start(supervise(&cfg, &[]));
    r.expect_line("job keeper started");
    send(r.pid(), libc::SIGHUP);
    r.expect_line("got hup");
    send(r.pid(), libc::SIGUSR2);
    r.expect_line("got usr2");
    // Each time, not once.
    send(r.pid(), libc::SIGHUP);
    r.expect_line("got hup");
    send(r.pid(), libc::SIGTERM);
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn templates_render_the_environment_and_jobs_get_their_env() {
    let cfg = config(
        "template",
        r#"{ jobs: [ { name: "show", exec: ["sh", "-c", "echo \"$GREETING/$EXTRA/${GONE:-unset}\""],
             env: { EXTRA: '{{ .WHO | default "nobody" }}', GONE: null } } ] }"#,
    );
    let mut cmd = supervise(&cfg, &[]);
    cmd.env("GREETING", "a=b=c")
        .env("GONE", "should be removed");
    let (code, _, err) = output(cmd);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        job_lines(&err),
        [("show".into(), "a=b=c/nobody/unset".into())],
        "{err}"
    );
}

#[test]
fn wrapped_output_loses_no_line_and_raw_output_is_byte_exact() {
    // 5000 short lines, one 100 KiB line, invalid UTF-8, no final newline.
    let script = "i=0; while [ $i -lt 5000 ]; do echo line$i; i=$((i+1)); done; head -c 102400 /dev/zero | tr '\\0' x; echo; printf 'bad \\377 byte\\ntail'";
    let cfg = config(
        "wrapped",
        &format!(
            r#"{{ jobs: [ {{ name: "talk", exec: ["sh", "-c", "{}"] }} ] }}"#,
            script.replace('\\', "\\\\").replace('"', "\\\"")
        ),
    );
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 0);
    let lines = job_lines(&err);
    assert_eq!(
        lines.len(),
        5000 + 2 + 2,
        "64 KiB pieces: 5000 + 2 for the long line + 2"
    );
    assert_eq!(lines[4999].1, "line4999");
    assert_eq!(lines[5000].1.len() + lines[5001].1.len(), 102400);
    assert_eq!(lines[5002].1, "bad \u{fffd} byte");
    assert_eq!(lines[5003].1, "tail");

    let cfg = config(
        "raw",
        &format!(
            r#"{{ jobs: [ {{ name: "talk", exec: ["sh", "-c", "{}"], logging: {{ raw: true }} }} ] }}"#,
            script.replace('\\', "\\\\").replace('"', "\\\"")
        ),
    );
    let o = supervise(&cfg, &[]).output().unwrap();
    assert!(o.status.success());
    assert_eq!(
        o.stdout.len(),
        (0..5000).map(|i| format!("line{i}\n").len()).sum::<usize>()
            + 102401
            + b"bad \xff byte\ntail".len()
    );
    assert!(o.stdout.ends_with(b"bad \xff byte\ntail"));
}

#[test]
fn health_checks_fail_and_recover_and_drive_events() {
    let dir = std::env::temp_dir().join(format!("tug-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flag = dir.join("healthy");
    let cfg = config(
        "health",
        &format!(
            r#"{{ logging: {{ level: "INFO", output: "stdout" }}, jobs: [
                {{ name: "app", exec: ["sh", "-c", "while :; do sleep 1 & wait $!; done"],
                   health: {{ exec: "test -e {flag}", interval: "50ms", timeout: "1s" }} }},
                {{ name: "on-healthy", exec: "echo became healthy", when: {{ source: "app", once: "healthy" }} }}
              ] }}"#,
            flag = flag.display()
        ),
    );
    let mut r = Running::start(supervise(&cfg, &[]));
    // Unhealthy until the file exists, healthy once it does, and
    // unhealthy again when it goes away.
    r.expect_line("job app is unhealthy");
    std::fs::write(&flag, "").unwrap();
    r.expect_line("job app is healthy");
    r.expect_line("became healthy");
    std::fs::remove_file(&flag).unwrap();
    r.expect_line("job app is unhealthy");
    send(r.pid(), libc::SIGTERM);
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn built_in_http_and_tcp_checks() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let cfg = config(
        "builtin",
        &format!(
            r#"{{ logging: {{ output: "stdout" }}, jobs: [
                {{ name: "web", exec: ["sh", "-c", "while :; do sleep 1 & wait $!; done"],
                   health: {{ http: "http://127.0.0.1:{port}/health", interval: "50ms" }} }},
                {{ name: "db", exec: ["sh", "-c", "while :; do sleep 1 & wait $!; done"],
                   health: {{ tcp: "127.0.0.1:{port}", interval: "50ms" }} }},
                {{ name: "both", exec: "echo web healthy", when: {{ source: "web", once: "healthy" }} }},
                {{ name: "tcp-ok", exec: "echo db healthy", when: {{ source: "db", once: "healthy" }} }}
              ] }}"#
        ),
    );
    let mut r = Running::start(supervise(&cfg, &[]));
    r.expect_line("web healthy");
    r.expect_line("db healthy");
    send(r.pid(), libc::SIGTERM);
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn restart_limit_and_exponential_backoff() {
    let cfg = config(
        "backoff",
        r#"{ logging: { level: "DEBUG" }, jobs: [ { name: "flaky", exec: "sh -c 'echo run; exit 1'", restarts: 3,
             restartDelay: "20ms", restartMaxDelay: "50ms" } ] }"#,
    );
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 1, "the last run failed with no restarts left: {err}");
    assert_eq!(job_lines(&err).len(), 4, "1 run + 3 restarts: {err}");
    let delays: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split_once("restarts in "))
        .map(|(_, r)| r.split(' ').next().unwrap())
        .collect();
    assert_eq!(delays, ["20", "40", "50"], "doubling, capped: {err}");
}

#[test]
fn user_and_group_are_dropped() {
    if !require(is_root(), "dropping privileges needs root") {
        return;
    }
    let cfg = config(
        "user",
        r#"{ jobs: [ { name: "who", exec: "sh -c 'echo $(id -u):$(id -g):$USER:$HOME:$(id -G)'", user: "nobody", group: "65534", workdir: "/tmp" } ] }"#,
    );
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        job_lines(&err)[0].1,
        "65534:65534:nobody:/nonexistent:65534"
    );
}

#[test]
fn orphans_left_by_jobs_are_reaped() {
    let cfg = config(
        "zombies",
        r#"{ jobs: [ { name: "spawner", exec: ["sh", "-c", "for i in 1 2 3 4 5; do (sleep 0.05 &) ; done; echo spawned"] } ] }"#,
    );
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn json_logging_is_one_object_per_line() {
    let cfg = config(
        "json",
        r#"{ logging: { format: "json", level: "INFO" }, jobs: [ { name: "j", exec: "echo \"quoted\" text" } ] }"#,
    );
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 0, "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("\"job\":\"j\""))
        .expect(&err);
    assert!(
        line.starts_with("{\"time\":\"") && line.ends_with('}'),
        "{line}"
    );
    assert!(line.contains("\"msg\":\"quoted text\""), "{line}");
}

#[test]
fn config_errors_name_file_line_column_and_field() {
    let cfg = config(
        "bad",
        "{\n  jobs: [ { name: \"a\", exec: \"x\", restart: 3 } ],\n  stopTimeout: \"soon\"\n}",
    );
    let (code, _, err) = output(tug_cmd(&["check", cfg.to_str().unwrap()]));
    assert_eq!(code, 1);
    let f = cfg.display().to_string();
    assert!(
        err.contains(&format!(
            "{f}:2:35: jobs[0].restart: unknown key \"restart\" (did you mean \"restarts\"?)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{f}:3:16: stopTimeout: invalid duration")),
        "{err}"
    );

    let cfg = config("syntax", "{ jobs: [ { name: 'a' exec: 'x' } ] }");
    let (code, _, err) = output(tug_cmd(&["check", cfg.to_str().unwrap()]));
    assert_eq!(code, 1);
    assert!(err.contains(&format!("{}:1:", cfg.display())), "{err}");

    for (body, needle) in [
        (
            r#"{ jobs: [ { name: "a", exec: "x" }, { name: "a", exec: "y" } ] }"#,
            "duplicate job name",
        ),
        (
            r#"{ jobs: [ { name: "a", exec: "x", port: 80 } ] }"#,
            "must be set when 'port' is set",
        ),
        (
            r#"{ jobs: [ { name: "a", exec: "x", when: { interval: "1s", once: "healthy" } } ] }"#,
            "only one of",
        ),
        (
            r#"{ jobs: [ { name: "a", exec: "x", when: { cron: "61 * * * *" } } ] }"#,
            "when.cron",
        ),
        (
            r#"{ jobs: [ { name: "a", exec: "'unterminated" } ] }"#,
            "jobs[0].exec",
        ),
        (
            r#"{ jobs: [ { name: "a", exec: "x", restarts: "forever" } ] }"#,
            "jobs[0].restarts",
        ),
        (
            r#"{ jobs: [ { name: "a", exec: "x", stopSignal: "SIGNOPE" } ] }"#,
            "unknown signal",
        ),
        (r#"{ jobs: "no" }"#, "expected a list"),
        (r#"{ bogus: 1 }"#, "unknown key \"bogus\""),
    ] {
        let cfg = config("bad-case", body);
        let (code, _, err) = output(tug_cmd(&["check", cfg.to_str().unwrap()]));
        assert_eq!(code, 1, "{body}");
        assert!(err.contains(needle), "{body}: {err}");
    }
}

#[test]
fn render_prints_the_rendered_config() {
    let cfg = config("render", r#"{ consul: "{{ .CONSUL }}", jobs: [] }"#);
    let mut cmd = tug_cmd(&["render", cfg.to_str().unwrap()]);
    cmd.env("CONSUL", "consul.svc:8500");
    let (code, out, err) = output(cmd);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, r#"{ consul: "consul.svc:8500", jobs: [] }"#);
}

#[test]
fn stop_signal_run_timeout_and_when_timeout() {
    let cfg = config(
        "signals",
        r#"{ logging: { output: "stdout" }, jobs: [
            { name: "nginx", exec: ["sh", "-c", "trap 'echo graceful quit; exit 0' QUIT; echo nginx up; while :; do sleep 1 & wait $!; done"],
              stopSignal: "SIGQUIT" },
            { name: "slow", exec: ["sh", "-c", "echo slow up; exec sleep 30"], timeout: "100ms" },
            { name: "never", exec: "echo never", when: { source: "watch.nothing", once: "healthy", timeout: "100ms" } }
          ], watches: [ { name: "nothing", interval: 60 } ] }"#,
    );
    let mut r = Running::start(supervise(&cfg, &[]));
    r.expect_line("nginx up");
    r.expect_line("job slow timed out");
    r.expect_line("job slow was killed by signal 9");
    r.expect_line("job never: when.timeout expired");
    send(r.pid(), libc::SIGTERM);
    r.expect_line("graceful quit");
    let (status, lines, err) = r.finish();
    assert_eq!(status.code(), Some(1), "slow's last run failed: {err}");
    assert!(
        !lines.iter().any(|l| l.contains("msg=\"never\"")),
        "{lines:?}"
    );
}

#[test]
fn sigusr1_reopens_the_log_file() {
    let cfg = config(
        "reopen",
        r#"{ logging: { output: "LOG" }, jobs: [
            { name: "keeper", exec: ["sh", "-c", "while :; do sleep 1 & wait $!; done"] },
            { name: "on-hup", exec: "echo after reopen", when: { source: "SIGHUP" } } ] }"#,
    );
    let log = cfg.with_file_name("tug.log");
    let rotated = cfg.with_file_name("tug.log.1");
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("LOG", log.to_str().unwrap()),
    )
    .unwrap();
    let r = Running::start(supervise(&cfg, &[]));
    let wait_for = |path: &std::path::Path, needle: &str| {
        for _ in 0..2000 {
            if std::fs::read_to_string(path)
                .unwrap_or_default()
                .contains(needle)
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        panic!("{needle:?} never appeared in {}", path.display());
    };
    wait_for(&log, "job keeper started");
    std::fs::rename(&log, &rotated).unwrap();
    send(r.pid(), libc::SIGUSR1);
    wait_for(&log, "log file reopened");
    send(r.pid(), libc::SIGHUP);
    wait_for(&log, "after reopen");
    send(r.pid(), libc::SIGTERM);
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        !std::fs::read_to_string(&rotated)
            .unwrap()
            .contains("after reopen")
    );
}

#[test]
fn cron_jobs_with_a_seconds_field() {
    let cfg = config(
        "cron",
        r#"{ logging: { output: "stdout" }, jobs: [
            { name: "keeper", exec: ["sh", "-c", "while :; do sleep 1 & wait $!; done"] },
            { name: "every-second", exec: "echo cron ran", when: { cron: "* * * * * *" } } ] }"#,
    );
    let mut r = Running::start(supervise(&cfg, &[]));
    r.expect_line("cron ran");
    r.expect_line("cron ran");
    send(r.pid(), libc::SIGTERM);
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn a_crashing_job_without_restart_delay_restarts_at_most_once_a_second() {
    let cfg = config(
        "crashloop",
        r#"{ logging: { level: "DEBUG" }, jobs: [ { name: "crash", exec: "/nonexistent/crash", restarts: 2 } ] }"#,
    );
    let start = std::time::Instant::now();
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 1, "{err}");
    // Three runs, each restart a second after the previous start.
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(1900),
        "{:?}",
        start.elapsed()
    );
    let delays: Vec<u64> = err
        .lines()
        .filter_map(|l| l.split_once("restarts in "))
        .map(|(_, r)| r.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(delays.len(), 2, "{err}");
    assert!(delays.iter().all(|d| (1..=1000).contains(d)), "{delays:?}");
}

#[test]
fn a_job_whose_file_cannot_run_says_why() {
    use std::os::unix::fs::PermissionsExt;
    let dir = fresh_dir("cannot-run");
    let write = |name: &str, body: &str, mode: u32| {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path.to_str().unwrap().to_string()
    };
    let interp = write("interp", "not executable", 0o644);
    let missing = write("missing.sh", "#!/nonexistent/bash\necho hi\n", 0o755);
    let denied = write("denied.sh", &format!("#!{interp}\n"), 0o755);
    let plain = write("plain.sh", "#!/bin/sh\necho hi\n", 0o644);
    let cfg = config(
        "cannot-run",
        &format!(
            r#"{{ jobs: [ {{ name: "missing", exec: "{missing}" }},
                          {{ name: "denied", exec: "{denied}" }},
                          {{ name: "plain", exec: "{plain}" }} ] }}"#
        ),
    );
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 1, "{err}");
    for want in [
        format!(
            "job missing: cannot run {missing}: its interpreter /nonexistent/bash (#! line) was not found"
        ),
        format!(
            "job denied: cannot run {denied}: its interpreter {interp} (#! line) is not executable (Permission denied)"
        ),
        format!(
            "job plain: cannot run {plain}: it is not executable (Permission denied: no x permission bit)"
        ),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains("level=error") && l.contains(&want)),
            "{want}: {err}"
        );
    }
}

#[test]
fn sigkill_at_the_stop_timeout_and_at_the_grace_period_names_its_targets() {
    // A job that ignores SIGTERM is killed at its stopTimeout.
    let cfg = config(
        "stubborn",
        r#"{ logging: { output: "stdout" }, jobs: [
            { name: "stubborn", exec: ["sh", "-c", "trap '' TERM; echo ignoring; exec sleep 60"],
              stopTimeout: "200ms" } ] }"#,
    );
    let mut r = Running::start(supervise(&cfg, &[]));
    let started = r.expect_line("job stubborn started (pid ");
    let pid = started
        .split("(pid ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap()
        .to_string();
    r.expect_line("ignoring");
    send(r.pid(), libc::SIGTERM);
    let line = r.expect_line("did not stop");
    assert!(line.contains("level=warning"), "{line}");
    assert!(
        line.contains(&format!(
            "job stubborn did not stop within its stopTimeout (200ms): SIGKILL to 1 process: {pid} (sleep)"
        )),
        "{line}"
    );
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");

    // A process a finished job left behind is killed when the grace
    // period (the global stopTimeout) ends. The spawner exits only once
    // the leftover runs sleep (so it ignores SIGTERM already: otherwise
    // tug's SIGTERM could end it before its trap, and no SIGKILL follows).
    let cfg = config(
        "leftover",
        r#"{ stopTimeout: "200ms", logging: { output: "stdout" }, jobs: [
            { name: "spawner", exec: ["sh", "-c", "(trap '' TERM; exec sleep 60) & p=$!; until grep -qx sleep /proc/$p/comm; do :; done; echo $p"] } ] }"#,
    );
    let mut r = Running::start(supervise(&cfg, &[]));
    r.expect_line("job spawner exited with 0");
    let (status, lines, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    let all = lines.join("\n");
    let left = &job_lines(&all)[0].1;
    assert!(
        lines.iter().any(|l| l.contains("level=warning")
            && l.contains(&format!(
                "grace period (200ms) over: SIGKILL to 1 process: {left} (sleep)"
            ))),
        "{all}"
    );
}

#[test]
fn a_health_check_in_flight_when_its_job_stops_reports_nothing() {
    // Stopped for good (shutdown), and stopped to restart (`tug ctl restart`).
    check_racing_a_stop(false);
    check_racing_a_stop(true);
}

/// A check is waiting for its answer when the job is stopped; while the
/// job drains, its server answers 503, as draining servers do. That is the
/// stop, not the job's health: tug must not log or publish `unhealthy`.
fn check_racing_a_stop(restart: bool) {
    use std::io::{Read, Write};
    // The check's server: accepts, and answers only when the test says so.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(s) = stream else { break };
            if tx.send(s).is_err() {
                break;
            }
        }
    });
    // The job holds its stop (in its TERM trap) until the test writes to
    // this fifo.
    let dir = fresh_dir(&format!("check-race-{restart}"));
    let fifo = dir.join("release");
    let sock = dir.join("tug.sock");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: c is a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let cfg = config(
        &format!("check-race-{restart}"),
        &format!(
            r#"{{ logging: {{ output: "stdout" }}, jobs: [
                {{ name: "web", exec: ["sh", "-c", "trap 'echo web stopping; read x < {fifo}; exit 0' TERM; echo web up; while :; do sleep 1 & wait $!; done"],
                   restarts: "unlimited",
                   health: {{ http: "http://127.0.0.1:{port}/", interval: "50ms", timeout: "30s" }} }} ] }}"#,
            fifo = fifo.display()
        ),
    );
    let mut cmd = supervise(&cfg, &[]);
    cmd.args(["--socket", sock.to_str().unwrap()]);
    let mut r = Running::start(cmd);
    r.expect_line("job web started");
    r.expect_line("web up");
    let mut conn = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the health check connects");
    let mut request = Vec::new();
    let mut buf = [0u8; 512];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "request cut short");
        request.extend_from_slice(&buf[..n]);
    }
    if restart {
        let (code, _, err) = output(tug_cmd(&[
            "ctl",
            "--socket",
            sock.to_str().unwrap(),
            "restart",
            "web",
        ]));
        assert_eq!(code, 0, "{err}");
    } else {
        send(r.pid(), libc::SIGTERM);
    }
    r.expect_line("web stopping");
    let _ = conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    // tug has dealt with the check once it closes its end.
    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
    std::fs::write(&fifo, "go\n").unwrap();
    if restart {
        r.expect_line("job web started");
        r.expect_line("web up");
        send(r.pid(), libc::SIGTERM);
        r.expect_line("web stopping");
        std::fs::write(&fifo, "go\n").unwrap();
    }
    let (status, lines, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        !lines.iter().any(|l| l.contains("unhealthy")),
        "the stop reported as the job's health (restart: {restart}): {lines:#?}"
    );
}

#[test]
fn exit_1_says_which_job_failed_in_tugs_last_line() {
    let cfg = config(
        "last-line",
        r#"{ jobs: [ { name: "migrate", exec: "sh -c 'exit 3'" },
                     { name: "seed", exec: "sh -c 'exit 0'" } ] }"#,
    );
    let (code, _, err) = output(supervise(&cfg, &[]));
    assert_eq!(code, 1, "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.contains("level=error"), "{err}");
    assert!(
        last.ends_with("msg=\"exiting 1: job migrate failed (exit code 3) with no restarts left\""),
        "{err}"
    );
}
