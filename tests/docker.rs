//! tug as PID 1 of a real Docker container, in a FROM scratch image like
//! Dockerfile.scratch builds: exit codes, `docker stop`, `docker kill` and
//! zombie reaping. Needs a running Docker engine (no image is pulled).

mod common;

use common::docker::{label, run_id};
use common::*;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `docker ARGS` to completion (10 s at most): (exit code, stdout, stderr).
fn docker(args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    let r = Running::start(cmd);
    let (status, out, err) = r.finish();
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap());
    (code, out.join("\n"), err)
}

fn docker_ok(args: &[&str]) -> String {
    let (c, out, err) = docker(args);
    assert_eq!(c, 0, "docker {args:?} failed: {err}");
    out
}

/// The test image (built once per test process), or None when the test
/// should skip because there is no usable Docker engine.
fn image() -> Option<&'static str> {
    static IMAGE: OnceLock<Result<String, String>> = OnceLock::new();
    let built = IMAGE.get_or_init(|| {
        let info = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output();
        match info {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return Err(format!(
                    "`docker info` failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(e) => return Err(format!("cannot run docker: {e}")),
        }
        Ok(build_image())
    });
    match built {
        Ok(tag) => Some(tag),
        Err(why) => {
            require(false, &format!("no Docker engine ({why})"));
            None
        }
    }
}

/// The image tag of this run.
fn image_tag() -> String {
    format!("tug-test-docker:{}", run_id())
}

fn build_image() -> String {
    let tag = image_tag();
    let dir = std::env::temp_dir().join(format!("tug-test-docker-{}", run_id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(tug(), dir.join("tug")).unwrap();
    std::fs::copy(probe(), dir.join("probe")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!(
            "FROM scratch\nLABEL {}\nCOPY tug probe /\nENTRYPOINT [\"/tug\", \"--\"]\n",
            label()
        ),
    )
    .unwrap();
    // Statics are never dropped: remove the image when the process exits
    // (libtest exits through exit(), which runs atexit handlers, whether
    // tests passed, failed or panicked). Registered before the build, so a
    // build that fails halfway leaves nothing tagged either.
    extern "C" fn remove_image() {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &image_tag()])
            .output();
    }
    // SAFETY: registering a plain extern "C" function.
    unsafe { libc::atexit(remove_image) };
    let o = Command::new("docker")
        .args(["build", "-q", "--force-rm", "-t", &tag])
        .arg(&dir)
        .output()
        .expect("run docker build");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        o.status.success(),
        "docker build failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    tag
}

/// A container named after this run and the test, force-removed on drop
/// (pass or fail), with the directory its config is mounted from.
struct Container(String);

impl Container {
    fn new(test: &str) -> Container {
        Container(format!("tug-test-{}-{test}", run_id()))
    }

    /// Where `start_with_config` writes the config (removed on drop).
    fn config_dir(&self) -> PathBuf {
        std::env::temp_dir().join(&self.0)
    }

    /// `docker logs -f`, read line by line (ends when the container does).
    fn follow_logs(&self) -> Running {
        let mut cmd = Command::new("docker");
        cmd.args(["logs", "-f", &self.0]);
        Running::start(cmd)
    }

    fn exit_code(&self) -> i32 {
        docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &self.0])
            .trim()
            .parse()
            .unwrap()
    }

    /// `docker stop -t 10` and how long it took.
    fn stop(&self) -> Duration {
        let t = Instant::now();
        docker_ok(&["stop", "-t", "10", &self.0]);
        t.elapsed()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
        let _ = std::fs::remove_dir_all(self.config_dir());
    }
}

/// `docker run --rm ARGS` in the foreground (ARGS name the image):
/// (exit code, stdout, stderr).
fn run(name: &Container, args: &[&str]) -> (i32, String, String) {
    let label = label();
    let mut all = vec!["run", "--rm", "--name", &name.0, "--label", &label];
    all.extend_from_slice(args);
    docker(&all)
}

/// `docker run -d IMAGE ARGS` under `name`.
fn start(image: &str, name: &Container, args: &[&str]) {
    let label = label();
    let mut all = vec!["run", "-d", "--name", &name.0, "--label", &label, image];
    all.extend_from_slice(args);
    docker_ok(&all);
}

/// `docker run -d` of `c` with tug as PID 1 running `config` (mounted
/// read-only at /etc/tug.json5); `docker_args` go before the image.
fn start_with_config(image: &str, c: &Container, config: &str, docker_args: &[&str]) {
    let dir = c.config_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("tug.json5");
    std::fs::write(&cfg, config).unwrap();
    let label = label();
    let volume = format!("{}:/etc/tug.json5:ro", cfg.display());
    let mut all = vec![
        "run", "-d", "--name", &c.0, "--label", &label, "-v", &volume,
    ];
    all.extend_from_slice(docker_args);
    all.extend_from_slice(&["--entrypoint", "/tug", image, "--config", "/etc/tug.json5"]);
    docker_ok(&all);
}

#[test]
fn exit_codes_and_signal_deaths_pass_through_docker_run() {
    let Some(img) = image() else { return };
    for (args, want) in [
        (["exit", "0"], 0),
        (["exit", "3"], 3),
        (["exit", "42"], 42),
        (["exit", "255"], 255),
        (["raise", "15"], 143),
        (["raise", "9"], 137),
    ] {
        // A name per run: --rm may still be removing the previous one.
        let c = Container::new(&format!("{}-{}", args[0], args[1]));
        let (code, _, err) = run(&c, &[img, "/probe", args[0], args[1]]);
        assert_eq!(code, want, "/probe {args:?}: stderr {err}");
    }
}

#[test]
fn missing_command_is_127_with_tugs_message() {
    let Some(img) = image() else { return };
    let c = Container::new("missing-command");
    let (code, _, err) = run(&c, &[img, "/nope"]);
    assert_eq!(code, 127, "stderr: {err}");
    assert!(
        err.contains("exec /nope failed"),
        "tug's message, not Docker's: {err}"
    );
}

#[test]
fn zombie_storm_is_reaped_by_tug_as_pid_1() {
    let Some(img) = image() else { return };
    let c = Container::new("zombies");
    let (code, out, err) = run(
        &c,
        &[
            "--entrypoint",
            "/tug",
            img,
            "-w",
            "--",
            "/probe",
            "orphans",
            "1000",
        ],
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("unreaped 0"), "{out}");
    // -w: one warning per orphan tug reaped (their parents were reaped by
    // probe itself).
    let warned = err
        .lines()
        .filter(|l| l.contains("Reaped zombie process"))
        .count();
    assert_eq!(
        warned,
        1000,
        "warnings on stderr: {}",
        err.lines().take(5).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn docker_stop_lets_a_well_behaved_child_finish() {
    let Some(img) = image() else { return };
    let c = Container::new("stop");
    start(img, &c, &["/probe", "term-after", "100"]);
    let mut logs = c.follow_logs();
    logs.expect_line("ready");
    let took = c.stop();
    eprintln!("docker stop took {took:?}");
    let (_, lines, err) = logs.finish();
    assert!(
        lines.iter().any(|l| l.contains("finished cleanly")),
        "logs: {lines:?} {err}"
    );
    assert_eq!(c.exit_code(), 0, "logs: {lines:?} {err}");
    assert!(
        took < Duration::from_secs(5),
        "docker stop took {took:?}: SIGTERM did not reach the child?"
    );
}

#[test]
fn docker_kill_signals_reach_the_child() {
    let Some(img) = image() else { return };
    let c = Container::new("signals");
    start(img, &c, &["/probe", "signals"]);
    let mut logs = c.follow_logs();
    let ready = logs.expect_line("main ready");
    assert!(
        ready.contains("(parent 1)"),
        "tug is PID 1 and probe's parent: {ready}"
    );
    docker_ok(&["kill", "-s", "USR1", &c.0]);
    logs.expect_line("main got 10");
    let took = c.stop();
    let (_, lines, err) = logs.finish();
    assert!(
        lines.iter().any(|l| l.contains("main got 15")),
        "logs: {lines:?} {err}"
    );
    assert_eq!(c.exit_code(), 0, "logs: {lines:?} {err}");
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
}

#[test]
fn a_config_runs_in_a_scratch_image() {
    let Some(img) = image() else { return };
    // No shell in the image: exec arrays only, the probe as every job.
    let c = Container::new("config");
    start_with_config(
        img,
        &c,
        r#"{ logging: { output: "stdout" }, jobs: [
            { name: "prestart", exec: ["/probe", "exit", "0"] },
            { name: "app", exec: ["/probe", "term-after", "50"], when: { source: "prestart", once: "exitSuccess" } } ] }"#,
        &[],
    );
    let mut logs = c.follow_logs();
    logs.expect_line("job prestart exited with 0");
    logs.expect_line("msg=\"ready\" job=\"app\"");
    let took = c.stop();
    let (_, lines, err) = logs.finish();
    assert!(
        lines.iter().any(|l| l.contains("finished cleanly")),
        "logs: {lines:?} {err}"
    );
    assert_eq!(c.exit_code(), 0, "logs: {lines:?} {err}");
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
}

/// A user-defined network, removed on drop.
struct Network(String);

impl Network {
    fn new(test: &str) -> Network {
        let name = format!("tug-test-{}-{test}", run_id());
        docker_ok(&["network", "create", "--label", &label(), &name]);
        Network(name)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

/// In a container on a user-defined network, the agent's name is only in
/// Docker's embedded DNS (127.0.0.11 in /etc/resolv.conf, not in
/// /etc/hosts): tug resolves it inside its loop, for discovery and for the
/// built-in http check (here against the same server, so the service is
/// registered only if the check's lookup worked), and advertises the
/// container's eth0 address.
#[test]
fn discovery_resolves_through_dockers_embedded_dns() {
    let Some(img) = image() else { return };
    let net = Network::new("dns");
    let label = label();
    let agent = Container::new("dns-agent");
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &agent.0,
        "--label",
        &label,
        "--network",
        &net.0,
        "--network-alias",
        "consul-agent",
        img,
        "/probe",
        "http-log",
        "8500",
    ]);
    let mut agent_log = agent.follow_logs();
    agent_log.expect_line("ready");

    let app = Container::new("dns-app");
    start_with_config(
        img,
        &app,
        r#"{ consul: "consul-agent:8500", logging: { output: "stdout" }, jobs: [
            { name: "web", exec: ["/probe", "sleep", "60000"], port: 8080, interfaces: ["eth0"],
              health: { http: "http://consul-agent:8500/health", interval: "200ms", ttl: "10s" } } ] }"#,
        &["--network", &net.0],
    );
    agent_log.expect_line("request GET /health");
    agent_log.expect_line("request PUT /v1/agent/service/register");
    agent_log.expect_line("request PUT /v1/agent/check/update/service:web-");
    let took = app.stop();
    agent_log.expect_line("request PUT /v1/agent/service/deregister/web-");
    assert_eq!(app.exit_code(), 0);
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
}

/// `docker exec C /tug ctl ...` works the first time in the FROM scratch
/// image, with no socket configured and no /var/run or /run in it: as
/// root tug creates /run and listens on /run/tug.sock (this container's
/// own); as another user, on the abstract @tug.sock. A container that
/// shares that network namespace finds the name but is refused: its tug
/// is not the one in ctl's pid namespace.
#[test]
fn tug_ctl_works_by_docker_exec_in_a_scratch_image() {
    let Some(img) = image() else { return };
    let config = r#"{ logging: { output: "stdout" }, jobs: [
        { name: "app", exec: ["/probe", "term-after", "50"] } ] }"#;
    let exec = |c: &Container, args: &[&str]| {
        let mut all = vec!["exec", &c.0, "/tug", "ctl"];
        all.extend_from_slice(args);
        docker(&all)
    };
    let mut keep = Vec::new();
    for (user, socket) in [("0", "/run/tug.sock"), ("65534", "@tug.sock")] {
        let c = Container::new(&format!("ctl-{user}"));
        start_with_config(img, &c, config, &["--user", user]);
        let mut logs = c.follow_logs();
        logs.expect_line(&format!("control socket listening on {socket}"));
        logs.expect_line("msg=\"ready\" job=\"app\"");
        let (code, out, err) = exec(&c, &["status"]);
        assert_eq!(code, 0, "{user}: {out}{err}");
        assert!(out.starts_with("tug 0.1.0, pid 1, up "), "{user}: {out}");
        assert!(out.contains("\napp  running"), "{user}: {out}");
        let (code, out, err) = exec(&c, &["logs", "app"]);
        assert_eq!((code, out.as_str()), (0, "ready"), "{user}: {err}");
        let (code, out, err) = exec(&c, &["status", "app"]);
        assert_eq!(code, 0, "{user}: {err}");
        assert!(
            out.contains("\nexec      /probe term-after 50\n"),
            "{user}: {out}"
        );
        assert!(
            out.contains("\nlog       1 line, 6 bytes kept (tug ctl logs app)"),
            "{user}: {out}"
        );
        keep.push(c);
    }

    let shared = Container::new("ctl-shared-net");
    let net = format!("container:{}", keep[1].0);
    start_with_config(
        img,
        &shared,
        config,
        &["--user", "65534", "--network", &net],
    );
    let mut logs = shared.follow_logs();
    logs.expect_line("no control socket: another tug is listening on @tug.sock");
    let (code, _, err) = exec(&shared, &["ping"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("the tug on @tug.sock is outside this pid namespace"),
        "{err}"
    );

    for c in keep.iter().chain([&shared]) {
        let took = c.stop();
        assert_eq!(c.exit_code(), 0);
        assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    }
}
