//! Shared helpers for the integration tests: where the release binaries
//! are, running them with piped output, and reading readiness lines.
#![allow(dead_code)]

pub mod base64;
pub mod capture;
pub mod consul;
pub mod docker;
pub mod etcd;
pub mod http;
pub mod json;
pub mod peers;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-unknown-linux-musl/release")
}

/// The static release binary (`make build`); TUG_BIN overrides it (`make
/// test-tiny` sets it to `make tiny`'s). Every test runs tug through this.
pub fn tug() -> PathBuf {
    let p = std::env::var_os("TUG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("tug"));
    // Absolute: tests symlink to it and run it from other directories.
    let p = std::path::absolute(&p).unwrap_or(p);
    assert!(
        p.exists(),
        "{} is missing: run `make build` first (make test does)",
        p.display()
    );
    p
}

/// The static test child (`cargo build --release --target x86_64-unknown-linux-musl --example probe`).
pub fn probe() -> PathBuf {
    let p = target_dir().join("examples/probe");
    assert!(
        p.exists(),
        "{} is missing: run `make test`, which builds it",
        p.display()
    );
    p
}

pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Whether a test that needs `what` may run. Outside CI a missing
/// capability skips the test with `SKIPPED: <test>: <what>` on stderr; in
/// CI (`CI` set) it fails.
pub fn require(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    assert!(!in_ci(), "CI must be able to run this test, but {what}");
    skipped(what);
    false
}

/// Prints `SKIPPED: <test>: <why>` where a person running `cargo test`
/// sees it. libtest captures `eprintln!` and shows it only for failing
/// tests, and a skipped test passes; a write to the stderr handle itself
/// goes around that capture to the terminal. libtest runs each test on a
/// thread named after it.
fn skipped(why: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let line = format!("SKIPPED: {test}: {why}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A running process with its stdout read line by line on a thread, so a
/// test can wait for a specific line with a deadline.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
    /// Lines received but not yet matched by `expect_line`: lines from two
    /// processes may arrive in either order.
    unmatched: Vec<String>,
    /// stderr is drained on a thread too, so a chatty child never blocks.
    stderr: mpsc::Receiver<String>,
}

impl Running {
    pub fn start(mut cmd: Command) -> Running {
        // SIGHUP as a shell gives a foreground job: under nohup (or any
        // runner that ignores it) the child would start with it ignored,
        // tug passes inherited dispositions on, and the shells the tests
        // run could not trap it.
        // SAFETY: signal(2) is async-signal-safe, as code between fork
        // and exec must be; it touches no memory of the parent's.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                libc::signal(libc::SIGHUP, libc::SIG_DFL);
                Ok(())
            });
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let (etx, erx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            let _ = etx.send(s);
        });
        Running {
            child,
            lines: rx,
            seen: Vec::new(),
            unmatched: Vec::new(),
            stderr: erx,
        }
    }

    /// EOF on the process's stdin (it is a pipe held open until now).
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for a stdout line containing `needle` (10 s at most), taking
    /// earlier lines that no call has matched yet into account.
    pub fn expect_line(&mut self, needle: &str) -> String {
        if let Some(i) = self.unmatched.iter().position(|l| l.contains(needle)) {
            return self.unmatched.remove(i);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                    self.unmatched.push(line);
                }
                Err(_) => {
                    let err = self.stderr_now();
                    panic!(
                        "no line containing {needle:?}; saw {:?}; stderr: {err}",
                        self.seen
                    )
                }
            }
        }
    }

    fn stderr_now(&mut self) -> String {
        let _ = self.child.kill();
        // Grandchildren may still hold the pipe open: do not wait forever.
        self.stderr
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_default()
    }

    /// Waits for exit (10 s at most); returns the status, the remaining
    /// stdout lines and all of stderr.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        let status = wait_timeout(&mut self.child, Duration::from_secs(10));
        let err = self
            .stderr
            .recv_timeout(Duration::from_secs(10))
            .expect("stderr still open 10 s after exit");
        let mut rest = self.seen;
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            rest.push(l);
        }
        (status, rest, err)
    }
}

/// The exit status, or None if the child is still running after `limit`.
pub fn wait_up_to(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The exit status; kills the child and panics after `limit`.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    wait_up_to(child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("process {} did not exit within {limit:?}", child.id())
    })
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// A fresh empty dir `$TMPDIR/tug-{tag}-{pid}`; `tag` names the test.
pub fn fresh_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tug-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn send(pid: i32, sig: i32) {
    // SAFETY: kill has no memory preconditions.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
}

pub fn alive(pid: i32) -> bool {
    // A zombie still answers kill(0): look at its state too.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The direct children of `pid`, from /proc.
pub fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
            after
                .split_whitespace()
                .nth(1)
                .and_then(|x| x.parse::<i32>().ok())
                == Some(pid)
        })
        .collect()
}

/// `tug ARGS` as a Command.
pub fn tug_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(tug());
    c.args(args);
    c
}

pub fn probe_str() -> String {
    probe().to_str().unwrap().to_string()
}

/// Runs to completion and returns (exit code or 128+signal, stdout, stderr).
pub fn output(mut cmd: Command) -> (i32, String, String) {
    let o = cmd.stdin(Stdio::null()).output().expect("run");
    use std::os::unix::process::ExitStatusExt;
    let code = o
        .status
        .code()
        .unwrap_or_else(|| 128 + o.status.signal().unwrap());
    (
        code,
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The shutdown contract, for tug started by `launch(args)`: once the main
/// child exits, a descendant that handles SIGTERM is waited for (tug does
/// not sleep out the grace period), and one that ignores SIGTERM is killed
/// at the deadline, not before.
/// `same_pid_namespace`: whether the pid the descendant prints is ours too.
pub fn check_graceful_tree(launch: impl Fn(&[&str]) -> Command, same_pid_namespace: bool) {
    let p = probe_str();
    let start = Instant::now();
    let mut r = Running::start(launch(&["--grace", "20s", "--", &p, "tree", "term", "400"]));
    r.expect_line("descendant");
    let (status, lines, err) = r.finish();
    let took = start.elapsed();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(lines.iter().any(|l| l == "finished cleanly"), "{lines:?}");
    assert!(
        took >= Duration::from_millis(400),
        "tug left before the descendant finished: {took:?}"
    );
    assert!(
        took < Duration::from_secs(10),
        "tug slept out the grace period: {took:?}"
    );

    let start = Instant::now();
    let mut r = Running::start(launch(&[
        "--grace", "600ms", "--", &p, "tree", "ignore", "0",
    ]));
    let line = r.expect_line("descendant");
    let pid: i32 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let (status, _, err) = r.finish();
    let took = start.elapsed();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        took >= Duration::from_millis(600),
        "killed before the deadline: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    // (In a namespace of its own, the kernel kills what PID 1 leaves.)
    if same_pid_namespace {
        assert!(!alive(pid), "descendant {pid} survived tug");
    }
}

/// The number after `prefix` in `line` (a pid a job or a peer printed).
pub fn number_after(line: &str, prefix: &str) -> i32 {
    let rest = line
        .split_once(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in {line:?}"))
        .1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {prefix:?} in {line:?}"))
}
