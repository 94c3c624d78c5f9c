//! tug as Chaperone in an image built the way chaperone-docker's are:
//! FROM scratch with Debian's busybox-static, /usr/local/bin/chaperone
//! being tug (and telchap a link to it), and a chaperone.d
//! (tests/chaperone_image/) with an init oneshot, a daemon that logs
//! through syslog (/dev/log), a cron job and an inetd service. `docker
//! run`, `docker exec telchap status`, `docker stop`: the output goes
//! where the logging sections say and the exit codes are as documented.
//! Needs a running Docker engine (no image is pulled) and /bin/busybox.

mod common;

use common::docker::{label, run_id};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn docker(args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    output(cmd)
}

fn docker_ok(args: &[&str]) -> String {
    let (c, out, err) = docker(args);
    assert_eq!(c, 0, "docker {args:?} failed: {err}");
    out
}

fn docker_ready() -> Result<(), String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`docker info` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run docker: {e}")),
    }
}

fn tag() -> String {
    format!("tug-test-chaperone-image:{}", run_id())
}

fn build(dir: &Path) {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/chaperone_image");
    std::fs::copy(tug(), dir.join("tug")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("busybox")).unwrap();
    let conf = dir.join("chaperone.d");
    std::fs::create_dir_all(&conf).unwrap();
    for e in std::fs::read_dir(fixtures.join("chaperone.d")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, conf.join(p.file_name().unwrap())).unwrap();
    }
    let dockerfile = format!(
        "FROM scratch\nLABEL {}\n\
         COPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"mkdir\", \"-p\", \"/usr/bin\", \"/sbin\", \"/usr/sbin\", \"/tmp\", \"/var/run\", \"/var/log\"]\n\
         RUN [\"/bin/busybox\", \"--install\", \"-s\"]\n\
         RUN [\"/bin/chmod\", \"1777\", \"/tmp\"]\n\
         COPY tug /usr/local/bin/chaperone\n\
         RUN [\"/bin/ln\", \"-s\", \"chaperone\", \"/usr/local/bin/telchap\"]\n\
         COPY chaperone.d /etc/chaperone.d\n\
         ENTRYPOINT [\"/usr/local/bin/chaperone\"]\n",
        label()
    );
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    let o = Command::new("docker")
        .args(["build", "-q", "--force-rm", "-t", &tag()])
        .arg(dir)
        .output()
        .expect("run docker build");
    assert!(
        o.status.success(),
        "docker build failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The container and the image, removed on drop (pass or fail).
struct Cleanup(String, PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
        let _ = Command::new("docker").args(["rmi", "-f", &tag()]).output();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

#[test]
fn a_chaperone_docker_style_image() {
    let ready = docker_ready();
    if !require(ready.is_ok(), &format!("no Docker engine ({ready:?})")) {
        return;
    }
    if !require(
        Path::new("/bin/busybox").exists(),
        "no /bin/busybox (busybox-static)",
    ) {
        return;
    }
    let name = format!("tug-test-{}-chaperone-image", run_id());
    let dir = fresh_dir("chaperone-image");
    let _cleanup = Cleanup(name.clone(), dir.clone());
    build(&dir);
    let label = label();
    docker_ok(&["run", "-d", "--name", &name, "--label", &label, &tag()]);
    let mut logs = Running::start({
        let mut c = Command::new("docker");
        c.args(["logs", "-f", &name]);
        c
    });
    // The console section: the init oneshot's output, the daemon's syslog
    // message, the cron job's, in the order they happen.
    logs.expect_line("init-ran");
    logs.expect_line("hello-from-daemon");
    logs.expect_line("tick-ran");
    logs.expect_line("job echo: accepting on");

    let exec = |args: &[&str]| {
        let mut all = vec!["exec", name.as_str()];
        all.extend_from_slice(args);
        docker(&all)
    };
    // The local0 section: the daemon's message in its file, and only it.
    let (code, log, err) = exec(&["cat", "/var/log/local0.log"]);
    assert_eq!(code, 0, "{err}");
    assert!(log.contains("hello-from-daemon"), "{log}");
    assert!(!log.contains("tick-ran"), "{log}");
    // The inetd service answers each connection.
    let (code, out, err) = exec(&["nc", "127.0.0.1", "8000"]);
    assert_eq!((code, out.as_str()), (0, "hello-from-inetd\n"), "{err}");

    let (code, out, err) = exec(&["telchap", "status"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(4)
        .map(|l| l.split_whitespace().collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[1]).collect();
    assert_eq!(names, ["daemon", "echo", "init", "tick"], "{out}");
    assert_eq!(rows[0][3], "running", "{out}");
    let (code, _, err) = exec(&["telchap", "stop", "nosuch"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "Command error: no such service: nosuch\n")
    );

    // docker stop: SIGTERM, exit 0 (Chaperone's status for it).
    docker_ok(&["stop", "-t", "10", &name]);
    let code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &name]);
    assert_eq!(code.trim(), "0");
    drop(logs);
}
