//! The service kinds end to end (issue 10): notify, forking, oneshot,
//! inetd, socket activation, `after`, `readiness.fd` and tug's own
//! NOTIFY_SOCKET, each driven with real peers: Debian's nginx, dnsmasq,
//! systemd-notify, socat and nc, and the C peers in tests/peers/ (built
//! with cc by tests/common/peers.rs).
//!
//! tug logs to stdout (`logging.output`) so that its lines and its jobs'
//! output are waited for; nothing sleeps for synchronisation. The few
//! "not yet" checks (a client past `max` is not served while the others
//! live) read with a short timeout: they can only fail, never pass by luck.
//! A missing peer skips a test outside CI (`SKIPPED: ...`) and fails it in
//! CI; ::1 missing skips the IPv6 test everywhere (a property of the
//! machine's network, not of what is installed).

mod common;

use common::json;
use common::peers::*;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A job body that runs until signalled (short sleeps: a trapped signal
/// is handled at once).
const LOOP: &str = "while :; do sleep 1 & wait $!; done";

// ---- sandboxes ----

struct Sandbox {
    dir: PathBuf,
    sock: PathBuf,
    config: PathBuf,
    /// Pidfiles of daemons the test started through tug: killed on drop
    /// when they still name a process running from this dir.
    daemons: Vec<PathBuf>,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        let dir = fresh_dir(&format!("svc-{name}"));
        Sandbox {
            sock: dir.join("tug.sock"),
            config: dir.join("config.json5"),
            dir,
            daemons: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    /// `tug --config CONFIG --socket SOCK`, with no socket or notify
    /// socket inherited from the test's env.
    fn supervise(&self) -> Command {
        let mut c = tug_cmd(&[
            "--config",
            self.config.to_str().unwrap(),
            "--socket",
            self.sock.to_str().unwrap(),
        ]);
        c.env_remove("TUG_SOCKET").env_remove("NOTIFY_SOCKET");
        c
    }

    /// tug on `jobs` (the body of the `jobs` array), logging to stdout,
    /// once its control socket listens.
    fn start(&self, jobs: &str) -> Tug {
        self.start_with(jobs, |_| {})
    }

    fn start_with(&self, jobs: &str, env: impl FnOnce(&mut Command)) -> Tug {
        self.write_config(jobs);
        let mut c = self.supervise();
        env(&mut c);
        let mut t = Tug(Some(Running::start(c)));
        t.expect(&format!(
            "control socket listening on {}",
            self.sock.display()
        ));
        t
    }

    fn write_config(&self, jobs: &str) {
        let body = format!("{{ logging: {{ output: \"stdout\" }}, jobs: [\n{jobs}\n] }}");
        std::fs::write(&self.config, body).unwrap();
    }

    /// `tug ctl --socket SOCK ARGS`: (exit code, stdout, stderr).
    fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let mut c = tug_cmd(&["ctl", "--socket", self.sock.to_str().unwrap()]);
        c.args(args).env_remove("TUG_SOCKET");
        output(c)
    }

    fn ctl_ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.ctl(args);
        assert_eq!(code, 0, "tug ctl {args:?}: {out}{err}");
        out
    }

    /// A job's pid from `tug ctl status --json`.
    fn pid_of(&self, job: &str) -> Option<i64> {
        let doc = json::parse(&self.ctl_ok(&["status", "--json"]));
        json::items(json::at(&doc, &["jobs"]).expect("jobs"))
            .into_iter()
            .find(|j| json::str_at(j, &["name"]) == Some(job))
            .and_then(|j| json::i64_at(j, &["pid"]))
    }

    /// A fifo in the dir: a job blocks reading it until the test writes.
    fn fifo(&self, name: &str) -> String {
        let p = self.path(name);
        let c = std::ffi::CString::new(p.clone()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {p}");
        p
    }

    /// Writes a line into fifo `p` once a job has it open for reading
    /// (10 s at most).
    fn release(&self, p: &str) {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = wait_for(Duration::from_secs(10), || {
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(p)
                .ok()
        })
        .unwrap_or_else(|| panic!("nobody opened {p} for reading"));
        f.write_all(b"go\n").unwrap();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let dir = self.dir.to_str().unwrap().to_string();
        for p in &self.daemons {
            for pidfile in [p.clone(), p.with_extension("pid.oldbin")] {
                let Some(pid) = read_pid(&pidfile) else {
                    continue;
                };
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmd).contains(&dir) {
                    // SAFETY: kill has no memory preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running tug that is stopped (SIGTERM, then SIGKILL) even when a test
/// fails.
struct Tug(Option<Running>);

impl Tug {
    fn r(&mut self) -> &mut Running {
        self.0.as_mut().unwrap()
    }

    fn expect(&mut self, needle: &str) -> String {
        self.r().expect_line(needle)
    }

    fn pid(&mut self) -> i32 {
        self.r().pid()
    }

    /// Every line read so far (matched or not), in order.
    fn seen(&mut self) -> Vec<String> {
        self.r().seen.clone()
    }

    /// SIGTERM, then the exit and the rest of the output.
    fn terminate(mut self) -> (ExitStatus, Vec<String>, String) {
        send(self.pid(), libc::SIGTERM);
        self.0.take().unwrap().finish()
    }
}

impl Drop for Tug {
    fn drop(&mut self) {
        let Some(mut r) = self.0.take() else { return };
        if r.child.try_wait().unwrap().is_none() {
            send(r.pid(), libc::SIGTERM);
            let _ = wait_up_to(&mut r.child, Duration::from_secs(5));
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

/// The index of the first line containing `needle`.
fn at(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in {lines:#?}"))
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

// ---- notify ----

#[test]
fn notify_job_is_ready_on_systemd_notify_and_shows_its_status() {
    let Some(_) = need("systemd-notify") else {
        return;
    };
    let sb = Sandbox::new("sdnotify");
    // systemd-notify waits up to 5 s on a BARRIER=1 whose fd the receiver
    // must close: its exit code says whether tug did.
    let mut t = sb.start(&format!(
        r#"{{ name: "db", type: "notify", startTimeout: "8s",
              exec: ["sh", "-c", "echo db socket [$NOTIFY_SOCKET]; systemd-notify --ready --status='serving 42'; echo notified $?; {LOOP}"] }},
           {{ name: "web", after: ["db"], exec: ["sh", "-c", "echo web runs; {LOOP}"] }},
           {{ name: "onhealthy", exec: "echo db published healthy", when: {{ source: "db", once: "healthy" }} }}"#
    ));
    let line = t.expect("db socket [");
    let sock = line.split_once("db socket [").unwrap().1;
    assert!(
        sock.starts_with('@'),
        "NOTIFY_SOCKET is not abstract: {line}"
    );
    t.expect("job db is ready");
    t.expect("web runs");
    t.expect("db published healthy");
    let notified = t.expect("notified ");
    assert!(
        notified.contains("notified 0"),
        "systemd-notify failed (was its barrier fd closed?): {notified}"
    );
    let seen = t.seen();
    assert!(
        at(&seen, "job db is ready") < at(&seen, "web runs"),
        "web ran before db was ready: {seen:#?}"
    );
    let status = sb.ctl_ok(&["status"]);
    assert!(status.contains("serving 42"), "STATUS= not shown: {status}");
    let (code, _, err) = t.terminate();
    assert_eq!(code.code(), Some(0), "{err}");
}

#[test]
fn notify_watchdog_miss_restarts_the_job() {
    let Some(notify) = c_peer("notify") else {
        return;
    };
    let sb = Sandbox::new("watchdog");
    let mut t = sb.start(&format!(
        r#"{{ name: "pinger", type: "notify", watchdog: "300ms", restarts: 1,
              exec: [{}, "watchdog"] }}"#,
        q(s(&notify))
    ));
    // notify.c exits 2 unless WATCHDOG_USEC is set and WATCHDOG_PID is its
    // own pid.
    let first = number_after(&t.expect("sent READY=1"), "notify ");
    t.expect("job pinger is ready");
    t.expect(&format!("notify {first} sent WATCHDOG=1"));
    t.expect(&format!("notify {first} sent WATCHDOG=1"));
    assert_eq!(sb.pid_of("pinger"), Some(first as i64));
    // Pings stop: within a watchdog period tug must end and restart it.
    send(first, libc::SIGUSR1);
    t.expect(&format!("notify {first} watchdog stopped"));
    let second = number_after(&t.expect("sent READY=1"), "notify ");
    assert_ne!(first, second, "no restart after the missed watchdog");
    assert!(!alive(first), "the silent instance {first} still runs");
    let seen = t.seen();
    assert!(
        seen.iter()
            .any(|l| l.contains("job pinger") && l.contains("watchdog")),
        "tug did not log the missed watchdog: {seen:#?}"
    );
}

#[test]
fn notify_mainpid_moves_the_job_to_the_forked_child() {
    let Some(notify) = c_peer("notify") else {
        return;
    };
    let sb = Sandbox::new("mainpid");
    let mut t = sb.start(&format!(
        r#"{{ name: "mp", type: "notify", exec: [{}, "fork-then-mainpid"] }}"#,
        q(s(&notify))
    ));
    let child = number_after(&t.expect("child up"), "notify ");
    t.expect("parent exits");
    t.expect("job mp is ready");
    // The parent's exit is not the job's: the child is its main process.
    assert_eq!(sb.pid_of("mp"), Some(child as i64));
    sb.ctl_ok(&["stop", "mp"]);
    t.expect(&format!("notify {child} got TERM"));
    let seen = t.seen();
    assert!(
        at(&seen, "job mp is ready") < at(&seen, &format!("notify {child} got TERM")),
        "{seen:#?}"
    );
    assert!(
        seen[..at(&seen, &format!("notify {child} got TERM"))]
            .iter()
            .all(|l| !l.contains("job mp exited")),
        "the parent's exit was taken as the job's: {seen:#?}"
    );
}

#[test]
fn notify_start_timeout_miss_is_a_failure_and_blocks_dependents() {
    let Some(notify) = c_peer("notify") else {
        return;
    };
    let sb = Sandbox::new("starttimeout");
    let mut t = sb.start(&format!(
        r#"{{ name: "slow", type: "notify", startTimeout: "300ms", restarts: 1,
              exec: [{}, "silent"] }},
           {{ name: "dep", after: ["slow"], exec: "echo dep ran" }}"#,
        q(s(&notify))
    ));
    let first = number_after(&t.expect("silent"), "notify ");
    let second = number_after(&t.expect("silent"), "notify ");
    assert_ne!(first, second, "no restart after the first start timeout");
    t.expect("job dep will not start: slow failed");
    let seen = t.seen();
    assert!(!seen.iter().any(|l| l.contains("dep ran")), "{seen:#?}");
    assert!(
        !alive(first) && !alive(second),
        "a timed-out start still runs"
    );
}

#[test]
fn readiness_fd_newline_makes_the_job_ready() {
    let sb = Sandbox::new("readyfd");
    let gate = sb.fifo("gate");
    let mut t = sb.start(&format!(
        r#"{{ name: "y", readiness: {{ fd: 3 }},
              exec: ["sh", "-c", "echo y up; read x < {gate}; echo >&3; echo y told; {LOOP}"] }},
           {{ name: "z", after: ["y"], exec: "echo z ran" }}"#
    ));
    t.expect("y up");
    let before = t.seen();
    assert!(
        !before
            .iter()
            .any(|l| l.contains("z ran") || l.contains("job y is ready")),
        "y was ready before it wrote to fd 3: {before:#?}"
    );
    sb.release(&gate);
    t.expect("job y is ready");
    t.expect("z ran");
    let seen = t.seen();
    assert!(
        at(&seen, "job y is ready") < at(&seen, "z ran"),
        "{seen:#?}"
    );
}

// ---- forking ----

#[test]
fn forking_nginx_is_adopted_reloaded_upgraded_and_stopped() {
    let mut sb = Sandbox::new("nginx");
    let Some(ngx) = Nginx::new(&sb.dir) else {
        return;
    };
    sb.daemons.push(ngx.pidfile.clone());
    let mut t = sb.start(&format!(
        r#"{{ name: "web", type: "forking", pidfile: {}, exec: {} }}"#,
        q(s(&ngx.pidfile)),
        ngx.exec_json()
    ));
    let line = t.expect("job web: main pid ");
    let master = number_after(&line, "main pid ");
    assert!(line.contains(&s(&ngx.pidfile)), "{line}");
    assert_eq!(ngx.pid(), Some(master));
    t.expect("job web is ready");
    let worker = ngx.wait_serving();
    assert_eq!(sb.pid_of("web"), Some(master as i64));

    // Reload: same master, new worker.
    let (code, err) = ngx.signal_cmd("reload");
    assert_eq!(code, 0, "nginx -s reload: {err}");
    let worker2 = wait_for(Duration::from_secs(10), || {
        ngx.get().filter(|w| *w != worker)
    })
    .unwrap_or_else(|| panic!("no new worker after reload: {}", ngx.log()));
    assert_ne!(worker, worker2);
    assert_eq!(ngx.pid(), Some(master));
    assert_eq!(sb.pid_of("web"), Some(master as i64));

    // Binary upgrade: a new master writes nginx.pid; tug follows it, and
    // the old master's exit is not the job's.
    send(master, libc::SIGUSR2);
    let line = t.expect("job web: main pid is now ");
    let new_master = number_after(&line, "main pid is now ");
    assert_ne!(new_master, master);
    assert_eq!(ngx.pid(), Some(new_master));
    assert_eq!(ngx.oldbin_pid(), Some(master));
    send(master, libc::SIGQUIT);
    wait_for(Duration::from_secs(10), || (!alive(master)).then_some(()))
        .expect("the old master did not quit");
    assert!(ngx.get().is_some(), "the new master does not serve");
    assert_eq!(sb.pid_of("web"), Some(new_master as i64));
    let seen = t.seen();
    assert!(
        !seen.iter().any(|l| l.contains("job web exited")),
        "the old master's exit was taken as the job's: {seen:#?}"
    );

    // Stop: stopSignal to the daemon; nginx is gone afterwards.
    sb.ctl_ok(&["stop", "web"]);
    wait_for(Duration::from_secs(10), || {
        (!alive(new_master)).then_some(())
    })
    .unwrap_or_else(|| panic!("nginx {new_master} still runs after tug ctl stop web"));
    assert!(
        ngx.get().is_none(),
        "something still answers on nginx's port"
    );
    let (code, _, err) = t.terminate();
    assert_eq!(code.code(), Some(0), "{err}");
}

#[test]
fn forking_dnsmasq_is_adopted_restarted_past_its_stale_pidfile_and_stopped() {
    let mut sb = Sandbox::new("dnsmasq");
    let Some(dns) = Dnsmasq::new(&sb.dir) else {
        return;
    };
    sb.daemons.push(dns.pidfile.clone());
    let mut t = sb.start(&format!(
        r#"{{ name: "dns", type: "forking", pidfile: {}, restarts: 1, exec: {} }}"#,
        q(s(&dns.pidfile)),
        dns.exec_json()
    ));
    let first = number_after(&t.expect("job dns: main pid "), "main pid ");
    t.expect("job dns is ready");
    assert_eq!(dns.pid(), Some(first));
    assert_eq!(dns.query(), Some([127, 0, 0, 9]), "dnsmasq does not answer");

    // Killed behind tug's back: its pidfile stays (dnsmasq never removes
    // it); the restart must adopt the new daemon, not the stale pid.
    send(first, libc::SIGKILL);
    let second = number_after(&t.expect("job dns: main pid "), "main pid ");
    assert_ne!(first, second);
    assert_eq!(dns.pid(), Some(second));
    assert_eq!(dns.query(), Some([127, 0, 0, 9]));

    let (code, _, err) = t.terminate();
    assert_eq!(code.code(), Some(0), "{err}");
    assert!(!alive(second), "dnsmasq {second} outlived tug");
}

// ---- inetd ----

/// An inetd job `name` on `listen` running `exec` (JSON).
fn inetd_job(name: &str, listen: &str, max: u32, exec: &str) -> String {
    format!(
        r#"{{ name: "{name}", type: "inetd", listen: {}, max: {max}, exec: {exec} }}"#,
        q(listen)
    )
}

/// Waits until `addr` accepts (tug may bind after its control socket).
fn wait_listening(addr: SocketAddr) {
    wait_for(Duration::from_secs(10), || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()
    })
    .unwrap_or_else(|| panic!("nothing listens on {addr}"));
}

#[test]
fn inetd_serves_concurrent_socat_and_nc_clients() {
    let (Some(socat), Some(nc)) = (need("socat"), need("nc.openbsd")) else {
        return;
    };
    let sb = Sandbox::new("inetd");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut t = sb.start(&inetd_job(
        "echo",
        &format!("tcp://127.0.0.1:{port}"),
        20,
        r#"["sh", "-c", "echo instance $$ >&2; exec cat"]"#,
    ));
    wait_listening(addr);
    // stderr is logged, as the job's.
    t.expect("instance ");
    let mut kids = Vec::new();
    for i in 0..12 {
        let mut c = if i % 2 == 0 {
            let mut c = Command::new(&socat);
            c.args(["-t", "5", "-", &format!("TCP:127.0.0.1:{port}")]);
            c
        } else {
            let mut c = Command::new(&nc);
            c.args(["-N", "127.0.0.1", &port.to_string()]);
            c
        };
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        kids.push((i, c.spawn().expect("spawn a client")));
    }
    // Twelve clients at once, each with its own instance.
    for (i, k) in &mut kids {
        let mut stdin = k.stdin.take().unwrap();
        writeln!(stdin, "client {i} says hi").unwrap();
    }
    for (i, k) in kids {
        let o = wait_output(k);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("client {i} says hi\n"),
            "client {i}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let (code, _, err) = t.terminate();
    assert_eq!(code.code(), Some(0), "{err}");
}

/// A child's output, killing it after 10 s.
fn wait_output(mut k: std::process::Child) -> std::process::Output {
    let _ = wait_up_to(&mut k, Duration::from_secs(10));
    let _ = k.kill();
    k.wait_with_output().unwrap()
}

/// A connection to an inetd instance that answers `got LINE` per line.
struct Conn(BufReader<TcpStream>);

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
        Conn(BufReader::new(s))
    }

    fn say(&mut self, line: &str) {
        writeln!(self.0.get_mut(), "{line}").unwrap();
    }

    /// The next line, or None when none comes within `limit`.
    fn line_within(&mut self, limit: Duration) -> Option<String> {
        self.0.get_ref().set_read_timeout(Some(limit)).unwrap();
        let mut l = String::new();
        match self.0.read_line(&mut l) {
            Ok(n) if n > 0 => Some(l.trim_end().to_string()),
            _ => None,
        }
    }
}

#[test]
fn inetd_past_max_the_next_client_waits_until_one_finishes() {
    let sb = Sandbox::new("inetd-max");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _t = sb.start(&inetd_job(
        "echo",
        &format!("tcp://127.0.0.1:{port}"),
        2,
        r#"["sh", "-c", "while read l; do echo got $l; [ $l = bye ] && exit 0; done"]"#,
    ));
    wait_listening(addr); // that probe's instance sees EOF and exits
    let mut a = Conn::open(addr);
    a.say("a");
    assert_eq!(
        a.line_within(Duration::from_secs(10)).as_deref(),
        Some("got a")
    );
    let mut b = Conn::open(addr);
    b.say("b");
    assert_eq!(
        b.line_within(Duration::from_secs(10)).as_deref(),
        Some("got b")
    );
    // Two live instances = max: the third waits in the backlog.
    let mut c = Conn::open(addr);
    c.say("c");
    assert_eq!(
        c.line_within(Duration::from_millis(500)),
        None,
        "a third instance ran past max: 2"
    );
    a.say("bye");
    assert_eq!(
        a.line_within(Duration::from_secs(10)).as_deref(),
        Some("got bye")
    );
    assert_eq!(
        c.line_within(Duration::from_secs(10)).as_deref(),
        Some("got c"),
        "the waiting client was not served once an instance finished"
    );
}

#[test]
fn inetd_a_client_that_never_sends_does_not_block_others() {
    let sb = Sandbox::new("inetd-silent");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _t = sb.start(&inetd_job(
        "echo",
        &format!("tcp://127.0.0.1:{port}"),
        10,
        r#"["cat"]"#,
    ));
    wait_listening(addr);
    let _silent = [Conn::open(addr), Conn::open(addr), Conn::open(addr)];
    for i in 0..5 {
        let text = format!("round {i}\n");
        let got = tcp_roundtrip(addr, &text).expect("roundtrip past the silent clients");
        assert_eq!(got, text);
    }
}

#[test]
fn inetd_on_ipv6_loopback() {
    if !have_ipv6_loopback() {
        let _ = std::io::stderr()
            .lock()
            .write_all(b"SKIPPED: inetd_on_ipv6_loopback: ::1 cannot be bound here\n");
        return;
    }
    let sb = Sandbox::new("inetd-v6");
    let port = free_port();
    let addr: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let _t = sb.start(&inetd_job(
        "echo6",
        &format!("tcp://[::1]:{port}"),
        4,
        r#"["cat"]"#,
    ));
    wait_listening(addr);
    assert_eq!(tcp_roundtrip(addr, "over v6\n").unwrap(), "over v6\n");
}

#[test]
fn inetd_on_a_unix_socket() {
    let sb = Sandbox::new("inetd-unix");
    let path = sb.path("echo.sock");
    let _t = sb.start(&inetd_job(
        "uecho",
        &format!("unix://{path}"),
        4,
        r#"["cat"]"#,
    ));
    let mut s = wait_for(Duration::from_secs(10), || UnixStream::connect(&path).ok())
        .unwrap_or_else(|| panic!("nothing listens on {path}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"over unix\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "over unix\n");
}

// ---- socket activation ----

#[test]
fn socket_activation_keeps_the_socket_across_restarts() {
    let Some(activate) = c_peer("activate") else {
        return;
    };
    let sb = Sandbox::new("activate");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let upath = sb.path("app.sock");
    // 100 ms before each start accepts: clients queue in the backlog.
    let mut t = sb.start(&format!(
        r#"{{ name: "app", restarts: "unlimited", exec: [{}, "100"],
              sockets: [{}, {}] }}"#,
        q(s(&activate)),
        q(format!("tcp://127.0.0.1:{port}")),
        q(format!("unix://{upath}"))
    ));
    let line = t.expect(" fds (");
    let first = number_after(&line, "activate ");
    assert!(
        line.contains("listening on 2 fds (app:app)"),
        "LISTEN_FDS/LISTEN_FDNAMES: {line}"
    );
    let mut u = UnixStream::connect(&upath).expect("the unix socket");
    u.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = String::new();
    u.read_to_string(&mut got).unwrap();
    assert_eq!(got, format!("{first}\n"));

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let client = connect_loop_counting(
        addr,
        stop.clone(),
        Duration::from_secs(30),
        20_000,
        answered.clone(),
    );
    // The loop is under way (served by the first instance) before the
    // restart, or it may not span it.
    wait_for(Duration::from_secs(10), || {
        (answered.load(Ordering::SeqCst) > 0).then_some(())
    })
    .expect("the connect loop got no answer");
    sb.ctl_ok(&["restart", "app"]);
    let second = number_after(&t.expect("listening on 2 fds"), "activate ");
    assert_ne!(first, second);
    // Served by the new instance at least once while the loop runs.
    wait_for(Duration::from_secs(10), || {
        tcp_roundtrip(addr, "")
            .ok()
            .filter(|l| l.trim() == second.to_string())
    })
    .expect("the restarted server does not answer");
    stop.store(true, Ordering::SeqCst);
    let st = client.join().unwrap();
    assert_eq!(
        st.refused, 0,
        "connections refused across the restart: {st:?}"
    );
    assert_eq!(st.unanswered, 0, "{st:?}");
    assert!(st.other_errors.is_empty(), "{st:?}");
    assert!(
        st.lines.contains(&first.to_string()) && st.lines.contains(&second.to_string()),
        "the loop did not span the restart: {st:?}"
    );
}

#[test]
fn an_activation_socket_is_passed_blocking() {
    // Python's socket(fileno=3) trusts the fd's flags: accept() on a
    // non-blocking listener fails at once with EAGAIN (systemd passes
    // activation sockets blocking, and so must tug).
    let sb = Sandbox::new("act-blocking");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let script = "import socket; s = socket.socket(fileno=3); print('accepting', flush=True); c, _ = s.accept(); c.sendall(b'served\\n'); c.close()";
    let mut t = sb.start(&format!(
        r#"{{ name: "py", exec: ["python3", "-c", {}], sockets: [{}] }}"#,
        q(script),
        q(format!("tcp://127.0.0.1:{port}"))
    ));
    t.expect("accepting");
    let got = tcp_roundtrip(addr, "").expect("a connection to the activated job");
    assert_eq!(got.trim(), "served");
    t.expect("job py exited with 0");
}

#[test]
fn a_reload_that_renames_a_socket_activated_job_hands_its_socket_over() {
    let Some(activate) = c_peer("activate") else {
        return;
    };
    let sb = Sandbox::new("act-rename");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let job = |name: &str| {
        format!(
            r#"{{ name: "{name}", exec: [{}], sockets: [{}] }}"#,
            q(s(&activate)),
            q(format!("tcp://127.0.0.1:{port}"))
        )
    };
    let mut t = sb.start(&job("old"));
    let first = number_after(&t.expect("listening on 1 fds"), "activate ");
    sb.write_config(&job("new"));
    sb.ctl_ok(&["reload"]);
    let second = number_after(&t.expect("listening on 1 fds"), "activate ");
    assert_ne!(first, second);
    wait_for(Duration::from_secs(10), || {
        tcp_roundtrip(addr, "")
            .ok()
            .filter(|l| l.trim() == second.to_string())
    })
    .expect("the renamed job does not answer on the socket");
    let seen = t.seen();
    assert!(
        !seen.iter().any(|l| l.contains("Address in use")),
        "{seen:#?}"
    );
}

// ---- after ----

#[test]
fn after_a_diamond_starts_in_dependency_order() {
    let sb = Sandbox::new("diamond");
    let order = sb.path("order");
    let step = |name: &str, after: &str, kind: &str| {
        format!(
            r#"{{ name: "{name}", type: "{kind}", after: [{after}],
                  exec: ["sh", "-c", "echo {name} >> {order}; echo step {name}"] }}"#
        )
    };
    // a, b, c are oneshots (ready = exited 0): a file's order is the order
    // in which they ran, whatever the order in which tug reads their output.
    let mut t = sb.start(
        &[
            step("d", r#""b", "c""#, "simple"),
            step("b", r#""a""#, "oneshot"),
            step("c", r#""a""#, "oneshot"),
            step("a", "", "oneshot"),
        ]
        .join(",\n"),
    );
    t.expect("step d");
    t.expect("job d is ready");
    let got = std::fs::read_to_string(&order).unwrap();
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[0], "a", "{got:?}");
    assert_eq!(got[3], "d", "{got:?}");
    let mut mid = [got[1], got[2]];
    mid.sort();
    assert_eq!(mid, ["b", "c"], "{got:?}");
}

#[test]
fn after_a_failing_oneshot_blocks_its_dependents() {
    let sb = Sandbox::new("oneshot-fails");
    let mut t = sb.start(&format!(
        r#"{{ name: "init", type: "oneshot", exec: ["sh", "-c", "echo init fails; exit 3"] }},
           {{ name: "app", after: ["init"], exec: ["sh", "-c", "echo app ran; {LOOP}"] }},
           {{ name: "other", exec: ["sh", "-c", "echo other runs; {LOOP}"] }}"#
    ));
    t.expect("init fails");
    t.expect("job app will not start: init failed");
    t.expect("other runs");
    let status = sb.ctl_ok(&["status"]);
    let (_, out, _) = t.terminate();
    assert!(!out.iter().any(|l| l.contains("app ran")), "{out:#?}");
    assert!(status.contains("app"), "{status}");
}

#[test]
fn after_shutdown_stops_dependents_before_their_dependencies() {
    let sb = Sandbox::new("after-stop");
    let order = sb.path("order");
    // web takes a moment to stop: if tug signalled both at once, db's line
    // would come first.
    let mut t = sb.start(&format!(
        r#"{{ name: "db", exec: ["sh", "-c", "trap 'echo db stopped >> {order}; exit 0' TERM; echo db up; {LOOP}"] }},
           {{ name: "web", after: ["db"], exec: ["sh", "-c", "trap 'sleep 0.3; echo web stopped >> {order}; exit 0' TERM; echo web up; {LOOP}"] }}"#
    ));
    t.expect("db up");
    t.expect("web up");
    let (code, _, err) = t.terminate();
    assert_eq!(code.code(), Some(0), "{err}");
    let got = std::fs::read_to_string(&order).unwrap();
    assert_eq!(got, "web stopped\ndb stopped\n");
}

#[test]
fn a_prestop_job_after_its_own_source_does_not_hold_shutdown() {
    let sb = Sandbox::new("prestop-after");
    let t = sb.start(&format!(
        r#"{{ name: "app", exec: ["sh", "-c", "echo app up; {LOOP}"] }},
           {{ name: "pre", after: ["app"], when: {{ source: "app", once: "stopping" }},
              exec: "echo pre ran" }}"#
    ));
    let (code, seen, err) = t.terminate();
    assert_eq!(code.code(), Some(0), "{err}");
    assert!(seen.iter().any(|l| l.contains("pre ran")), "{seen:#?}");
}

#[test]
fn after_cycle_is_rejected_by_check_naming_the_cycle() {
    let sb = Sandbox::new("cycle");
    sb.write_config(
        r#"{ name: "alpha", exec: "true", after: ["gamma"] },
           { name: "beta", exec: "true", after: ["alpha"] },
           { name: "gamma", exec: "true", after: ["beta"] },
           { name: "delta", exec: "true", after: ["alpha"] }"#,
    );
    let (code, out, err) = output(tug_cmd(&["check", sb.config.to_str().unwrap()]));
    assert_ne!(code, 0, "a cycle passed tug check: {out}{err}");
    let text = format!("{out}{err}");
    assert!(text.contains("cycle"), "{text}");
    for name in ["alpha", "beta", "gamma"] {
        assert!(
            text.contains(name),
            "the cycle's {name} is not named: {text}"
        );
    }
    assert!(!text.contains("delta"), "delta is not in the cycle: {text}");
    // And the supervisor refuses it too.
    let (code, _, err) = output(sb.supervise());
    assert_ne!(code, 0, "{err}");
}

// ---- tug's own NOTIFY_SOCKET ----

#[test]
fn tug_notifies_its_own_manager_ready_and_stopping() {
    let Some(notify) = c_peer("notify") else {
        return;
    };
    let sb = Sandbox::new("own-notify");
    let mut mgr = NotifyReceiver::bind(&sb.dir);
    let gate = sb.fifo("gate");
    let env = mgr.env.clone();
    let mut t = sb.start_with(
        &format!(
            r#"{{ name: "db", type: "notify",
                  exec: ["sh", "-c", "echo db socket [$NOTIFY_SOCKET]; read x < {gate}; exec {} ready"] }},
               {{ name: "plain", exec: ["sh", "-c", "echo plain sees [${{NOTIFY_SOCKET-unset}}]; {LOOP}"] }}"#,
            s(&notify)
        ),
        |c| {
            c.env("NOTIFY_SOCKET", &env);
        },
    );
    t.expect("plain sees [unset]");
    let line = t.expect("db socket [");
    assert!(
        !line.contains(&format!("[{env}]")),
        "tug passed its own NOTIFY_SOCKET to the notify job: {line}"
    );
    let early = mgr.pending();
    assert!(
        !early.iter().any(|m| m.lines().any(|l| l == "READY=1")),
        "READY=1 before the notify job was ready: {early:?}"
    );
    sb.release(&gate);
    t.expect("sent READY=1");
    t.expect("job db is ready");
    mgr.expect("READY=1", Duration::from_secs(10));
    let (code, _, err) = t.terminate();
    assert_eq!(code.code(), Some(0), "{err}");
    mgr.expect("STOPPING=1", Duration::from_secs(10));
}

#[test]
fn tug_notifies_an_abstract_manager_socket() {
    let sb = Sandbox::new("own-notify-abstract");
    let mut mgr = NotifyReceiver::bind_abstract(&format!("tug-test-{}", std::process::id()));
    let env = mgr.env.clone();
    let t = sb.start_with(
        &format!(r#"{{ name: "one", type: "oneshot", exec: "true" }}, {{ name: "s", exec: ["sh", "-c", "{LOOP}"] }}"#),
        |c| {
            c.env("NOTIFY_SOCKET", &env);
        },
    );
    mgr.expect("READY=1", Duration::from_secs(10));
    let (code, _, err) = t.terminate();
    assert_eq!(code.code(), Some(0), "{err}");
    mgr.expect("STOPPING=1", Duration::from_secs(10));
}

// ---- the peers themselves (these pass without tug's service kinds: they
// check on this machine the facts the tests above and the engine rely on) ----

#[test]
fn peer_nginx_daemonizes_reloads_in_place_and_upgrades_to_a_new_master() {
    let mut sb = Sandbox::new("peer-nginx");
    let Some(ngx) = Nginx::new(&sb.dir) else {
        return;
    };
    sb.daemons.push(ngx.pidfile.clone());
    let argv = ngx.argv();
    let (code, _, err) = output({
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    });
    // The start command exits once the pidfile is written.
    assert_eq!(code, 0, "{err}");
    let master = ngx.pid().expect("nginx.pid once the start command exited");
    let worker = ngx.wait_serving();
    assert_eq!(children_of(master), [worker]);
    assert_eq!(ngx.signal_cmd("reload").0, 0);
    wait_for(Duration::from_secs(10), || {
        ngx.get().filter(|w| *w != worker)
    })
    .expect("a new worker after reload");
    assert_eq!(ngx.pid(), Some(master), "reload changed the master");
    send(master, libc::SIGUSR2);
    let new_master = wait_for(Duration::from_secs(10), || {
        ngx.oldbin_pid()?;
        ngx.pid().filter(|p| *p != master)
    })
    .unwrap_or_else(|| panic!("no new master after USR2: {}", ngx.log()));
    assert_eq!(ngx.oldbin_pid(), Some(master));
    assert!(
        children_of(master).contains(&new_master),
        "the new master is the old one's child"
    );
    send(master, libc::SIGQUIT);
    send(new_master, libc::SIGTERM);
    wait_for(Duration::from_secs(10), || {
        (!alive(master) && !alive(new_master)).then_some(())
    })
    .expect("nginx did not stop");
}

#[test]
fn peer_dnsmasq_daemonizes_answers_and_leaves_its_pidfile() {
    let mut sb = Sandbox::new("peer-dnsmasq");
    let Some(dns) = Dnsmasq::new(&sb.dir) else {
        return;
    };
    sb.daemons.push(dns.pidfile.clone());
    let argv = dns.argv();
    let (code, _, err) = output({
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    });
    assert_eq!(code, 0, "{err}");
    let pid = dns
        .pid()
        .expect("the pidfile once the start command exited");
    assert_eq!(dns.query(), Some([127, 0, 0, 9]));
    send(pid, libc::SIGTERM);
    wait_for(Duration::from_secs(10), || (!alive(pid)).then_some(())).expect("dnsmasq stops");
    assert_eq!(
        dns.pid(),
        Some(pid),
        "dnsmasq removed its pidfile after all"
    );
}

#[test]
fn peer_notify_c_and_systemd_notify_speak_sd_notify() {
    let (Some(notify), Some(sdn)) = (c_peer("notify"), need("systemd-notify")) else {
        return;
    };
    let mut mgr = NotifyReceiver::bind_abstract(&format!("tug-peer-{}", std::process::id()));
    let mut r = Running::start({
        let mut c = Command::new(&notify);
        c.args(["ready", "all set"]).env("NOTIFY_SOCKET", &mgr.env);
        c
    });
    r.expect_line("sent READY=1 STATUS=all set");
    assert_eq!(
        mgr.expect("READY=1", Duration::from_secs(10)),
        "READY=1\nSTATUS=all set"
    );
    send(r.pid(), libc::SIGTERM);
    mgr.expect("STOPPING=1", Duration::from_secs(10));
    let (status, _, _) = r.finish();
    assert_eq!(status.code(), Some(0));

    // systemd-notify: the message, then BARRIER=1 with an fd it waits on;
    // a recv without room for fds closes it, and it exits 0 at once.
    let mut k = Command::new(&sdn)
        .args(["--ready", "--status=from systemd-notify"])
        .env("NOTIFY_SOCKET", &mgr.env)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let m = mgr.expect("READY=1", Duration::from_secs(10));
    assert!(m.contains("STATUS=from systemd-notify"), "{m:?}");
    mgr.expect("BARRIER=1", Duration::from_secs(10));
    let st = wait_up_to(&mut k, Duration::from_secs(3)).expect("systemd-notify still waits");
    assert!(st.success(), "systemd-notify: {st:?}");
}

#[test]
fn peer_activate_c_serves_under_systemd_socket_activate() {
    let (Some(activate), Some(ssa)) = (c_peer("activate"), need("systemd-socket-activate")) else {
        return;
    };
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut r = Running::start({
        let mut c = Command::new(ssa);
        c.args(["-l", &format!("127.0.0.1:{port}"), "--fdname=app"])
            .arg(&activate);
        c
    });
    // systemd-socket-activate says so on stderr; it execs on the first
    // connection, which waits in the backlog meanwhile.
    wait_listening(addr);
    let line = r.expect_line("listening on 1 fds (app)");
    let pid = number_after(&line, "activate ");
    assert_eq!(pid, r.pid(), "activate.c runs in the exec'd process");
    let stop = Arc::new(AtomicBool::new(false));
    let st = connect_loop(addr, stop, Duration::from_secs(10), 50)
        .join()
        .unwrap();
    assert_eq!(st.answered, 50, "{st:?}");
    assert_eq!(st.lines, [pid.to_string()], "{st:?}");
    send(r.pid(), libc::SIGTERM);
    let (status, _, err) = r.finish();
    assert_eq!(status.code(), Some(0), "{err}");
}
