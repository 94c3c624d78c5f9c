//! The built-in syslog and the log router (issue 11, first part): real
//! senders (util-linux `logger`, Python's SysLogHandler, a raw datagram)
//! into `syslog.socket`, routed by selectors to stdout and to files, with
//! size rotation and an outside `mv` picked up.

mod common;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;

/// tug on `body` (the config's top level, without braces), stdout
/// captured, once its syslog socket listens.
fn start(dir: &Path, body: &str) -> Running {
    let config = dir.join("config.json5");
    std::fs::write(
        &config,
        format!("{{ logging: {{ output: \"stdout\" }}, {body} }}"),
    )
    .unwrap();
    let mut c = tug_cmd(&[
        "--config",
        config.to_str().unwrap(),
        "--socket",
        dir.join("tug.sock").to_str().unwrap(),
    ]);
    c.env_remove("TUG_SOCKET").env_remove("NOTIFY_SOCKET");
    let mut t = Running::start(c);
    t.expect_line("syslog listening on");
    t
}

/// SIGTERM, and tug's exit: every output is drained before it exits, so
/// the files are complete afterwards (no polling).
fn stop(t: Running) -> Vec<String> {
    send(t.pid(), libc::SIGTERM);
    let (code, seen, err) = t.finish();
    assert_eq!(code.code(), Some(0), "{err}");
    seen
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn logger(sock: &Path, args: &[&str]) {
    let st = Command::new("logger")
        .arg("-u")
        .arg(sock)
        .args(args)
        .status()
        .expect("logger (util-linux)");
    assert!(st.success());
}

#[test]
fn syslog_messages_are_routed_by_selector_to_stdout_and_a_file() {
    if !require(
        Command::new("logger").arg("--version").output().is_ok(),
        "util-linux logger",
    ) {
        return;
    }
    let dir = fresh_dir("logs-route");
    let sock = dir.join("dev.log");
    let file: PathBuf = dir.join("all.log");
    let mut t = start(
        &dir,
        &format!(
            r#"syslog: {{ socket: {:?} }},
               logs: [ {{ name: "console", selector: "*.info;![noisy].*", stdout: true, format: "classic" }},
                       {{ name: "all", selector: "*.*;![tug].*", file: {:?} }} ],
               jobs: [ {{ name: "s", exec: ["sleep", "1000"] }} ]"#,
            sock.to_str().unwrap(),
            file.to_str().unwrap()
        ),
    );
    logger(&sock, &["-t", "myapp", "hello from logger"]);
    logger(
        &sock,
        &[
            "--rfc5424",
            "-p",
            "local3.debug",
            "-t",
            "dbg",
            "a debug line",
        ],
    );
    logger(&sock, &["-t", "noisy", "excluded by program"]);
    let py = Command::new("python3")
        .args([
            "-c",
            "import logging, logging.handlers, sys\n\
             h = logging.handlers.SysLogHandler(address=sys.argv[1])\n\
             l = logging.getLogger('x'); l.addHandler(h); l.warning('python \u{e9}t\u{e9} \u{1f600}')",
            sock.to_str().unwrap(),
        ])
        .status()
        .expect("python3");
    assert!(py.success());
    // A 60 KiB message, whole.
    let big = "x".repeat(60 * 1024);
    UnixDatagram::unbound()
        .unwrap()
        .send_to(format!("<14>big: {big}").as_bytes(), &sock)
        .unwrap();
    // stdout: info and above, not from `noisy`.
    t.expect_line(": hello from logger");
    let line = t.expect_line("python");
    assert!(line.ends_with("python \u{e9}t\u{e9} \u{1f600}"), "{line}");
    let seen = stop(t);
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("a debug line") || l.contains("excluded by program")),
        "the console selector let through: {seen:#?}"
    );
    let all = lines(&file);
    assert_eq!(all.len(), 5, "{:#?}", &all[..all.len().min(4)]);
    assert!(
        all[0].ends_with(": hello from logger") && all[0].contains(" myapp["),
        "{all:#?}"
    );
    assert!(
        all[1].contains(" dbg[") && all[1].ends_with(": a debug line"),
        "{all:#?}"
    );
    assert!(
        all[2].contains(" noisy[") && all[2].ends_with(": excluded by program"),
        "{:#?}",
        &all[..4]
    );
    assert!(
        all[3].ends_with("python \u{e9}t\u{e9} \u{1f600}"),
        "UTF-8 intact: {all:#?}"
    );
    assert!(all[4].ends_with(&big), "the 60 KiB message whole");
}

#[test]
fn a_file_output_rotates_by_size_keeping_n() {
    let dir = fresh_dir("logs-rotate");
    let sock = dir.join("dev.log");
    let file = dir.join("app.log");
    let t = start(
        &dir,
        &format!(
            r#"syslog: {{ socket: {:?} }},
               logs: [ {{ name: "f", selector: "*.*;![tug].*", file: {:?}, rotate: {{ size: 100, keep: 2 }} }} ]"#,
            sock.to_str().unwrap(),
            file.to_str().unwrap()
        ),
    );
    let s = UnixDatagram::unbound().unwrap();
    // Each line is ~50 bytes: two fill the 100-byte file, a third rotates.
    for k in 0..7 {
        s.send_to(format!("<14>app: message {k}").as_bytes(), &sock)
            .unwrap();
    }
    // Sent means queued at tug's socket, which tug reads out at exit.
    stop(t);
    let one = dir.join("app.log.1");
    let two = dir.join("app.log.2");
    assert!(one.exists() && two.exists(), "rotated copies");
    assert!(!dir.join("app.log.3").exists(), "keep: 2");
    let kept: Vec<String> = [&two, &one, &file].iter().flat_map(|p| lines(p)).collect();
    assert!(
        kept.last().unwrap().ends_with(": message 6"),
        "the newest in the file itself: {kept:#?}"
    );
    assert!(
        kept.windows(2).all(|w| w[0] < w[1]),
        "oldest first across the copies: {kept:#?}"
    );
    assert_eq!(
        lines(&file).len() + lines(&one).len() + lines(&two).len(),
        kept.len()
    );
}

#[test]
fn a_file_moved_away_by_an_outside_logrotate_is_reopened() {
    let dir = fresh_dir("logs-move");
    let sock = dir.join("dev.log");
    let file = dir.join("app.log");
    // The stdout copy tells the test when a record has been written.
    let mut t = start(
        &dir,
        &format!(
            r#"syslog: {{ socket: {:?} }},
               logs: [ {{ name: "f", selector: "*.*;![tug].*", file: {:?} }}, {{ name: "o", stdout: true }} ]"#,
            sock.to_str().unwrap(),
            file.to_str().unwrap()
        ),
    );
    let s = UnixDatagram::unbound().unwrap();
    s.send_to(b"<14>app: before the move", &sock).unwrap();
    t.expect_line("before the move");
    let moved = dir.join("app.log-20261206");
    std::fs::rename(&file, &moved).unwrap();
    s.send_to(b"<14>app: after the move", &sock).unwrap();
    stop(t);
    assert!(lines(&moved)[0].ends_with(": before the move"));
    assert_eq!(lines(&moved).len(), 1, "{:?}", lines(&moved));
    let fresh = lines(&file);
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert!(fresh[0].ends_with(": after the move"));
}

/// Bytes waiting in a pipe (FIONREAD on its read end).
fn pipe_held(fd: &impl std::os::fd::AsRawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer given.
    assert_eq!(
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) },
        0
    );
    n as usize
}

/// Whether a pipe's write end has room for a write (POLLOUT: a free page
/// slot), asked without waiting.
fn writable(fd: &impl std::os::fd::AsRawFd) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one pollfd, valid for the call; a zero timeout never blocks.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    n == 1 && p.revents & libc::POLLOUT != 0
}

/// Timestamps (ns) a job appended to `path`, one a line.
fn stamps(path: &Path) -> Vec<u64> {
    lines(path).iter().filter_map(|l| l.parse().ok()).collect()
}

/// tug's stdout is a pipe nobody reads: a chatty job's lines fill tug's
/// buffer and then wait (the job blocks in write), while a 100 ms
/// periodic job keeps ticking and a health check keeps passing; once the
/// pipe is read, every line arrives, in order. Both with a `logs` output
/// on stdout and with today's default (tug's log on stdout, no `logs`).
#[test]
fn a_blocked_stdout_holds_the_job_back_not_the_loop() {
    const LINES: usize = 30_000;
    for routed in [true, false] {
        let dir = fresh_dir(if routed {
            "logs-block-r"
        } else {
            "logs-block-d"
        });
        let (ticks, checks) = (dir.join("ticks"), dir.join("checks"));
        let logs = if routed {
            r#"logs: [ { name: "out", stdout: true, selector: "daemon.*", format: "classic" } ],"#
        } else {
            ""
        };
        let config = dir.join("config.json5");
        let pad = "x".repeat(80);
        std::fs::write(
            &config,
            format!(
                r#"{{ logging: {{ output: "stdout" }}, {logs}
                   jobs: [
                     {{ name: "chatty", exec: ["seq", "-f", "line %06g {pad}", "1", "{LINES}"] }},
                     {{ name: "tick", exec: ["sh", "-c", "date +%s%N >> {t}"], restarts: "unlimited",
                        when: {{ interval: "100ms" }} }},
                     {{ name: "web", exec: ["sleep", "1000"],
                        health: {{ exec: ["sh", "-c", "date +%s%N >> {c}; echo checked"],
                                   interval: "100ms", timeout: "5s" }} }} ] }}"#,
                t = ticks.display(),
                c = checks.display()
            ),
        )
        .unwrap();
        let sock = dir.join("tug.sock");
        let (reader, writer) = std::io::pipe().unwrap();
        // The test's own copy of the write end, only to ask the kernel
        // whether the pipe is full; dropped before reading to EOF.
        let probe = writer.try_clone().unwrap();
        let mut c = tug_cmd(&[
            "--config",
            config.to_str().unwrap(),
            "--socket",
            sock.to_str().unwrap(),
        ]);
        c.env_remove("TUG_SOCKET").env_remove("NOTIFY_SOCKET");
        c.stdout(writer).stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        drop(c);

        // Blocked: the pipe holds all it can and stays so. Full is the
        // kernel's word, not a byte count: each write tug makes starts a
        // new page when the last one lacks room, so how many bytes fill
        // the 16 pages depends on how tug batched its writes.
        let t0 = std::time::Instant::now();
        while writable(&probe) {
            assert!(t0.elapsed().as_secs() < 20, "the pipe never filled");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(pipe_held(&reader) > 0);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let held = pipe_held(&reader);
        let (ticks0, checks0) = (stamps(&ticks).len(), stamps(&checks).len());
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let tick = stamps(&ticks)[ticks0..].to_vec();
        let check = stamps(&checks)[checks0..].to_vec();
        // A full pipe still takes a write that fits in its last page's
        // free room; nothing more.
        let more = pipe_held(&reader) - held;
        assert!(more < 4096, "{more} bytes more went into a full pipe");
        assert!(tick.len() >= 12, "{} ticks in 1.5 s", tick.len());
        let gap = tick.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(gap < 300_000_000, "a tick came {gap} ns after the last");
        assert!(check.len() >= 8, "{} checks in 1.5 s", check.len());
        let status = Command::new(tug())
            .args(["ctl", "--socket", sock.to_str().unwrap(), "status"])
            .output()
            .unwrap();
        let status = String::from_utf8_lossy(&status.stdout).into_owned();
        assert!(
            status
                .lines()
                .any(|l| l.starts_with("web ") && l.contains(" healthy ")),
            "{status}"
        );

        // Unblocked: every line, in order.
        drop(probe);
        let mut got = 0;
        let pid = child.id() as i32;
        for line in std::io::BufRead::lines(std::io::BufReader::new(reader)) {
            let line = line.unwrap();
            let Some(at) = line.find("line ") else {
                continue;
            };
            if !line.contains("chatty") {
                continue;
            }
            got += 1;
            let want = format!("line {got:06} {pad}");
            assert!(line[at..].starts_with(&want), "{got}: {line}");
            if got == LINES {
                send(pid, libc::SIGTERM);
            }
        }
        assert_eq!(got, LINES);
        assert_eq!(
            wait_timeout(&mut child, std::time::Duration::from_secs(10)).code(),
            Some(0)
        );
    }
}

/// Debian's rsyslogd on loopback ports of its own (UDP and TCP in, one
/// file out: `PROGRAM MSG` a line), in the foreground.
struct Rsyslog {
    child: std::process::Child,
    conf: PathBuf,
    udp: u16,
    tcp: u16,
}

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

impl Rsyslog {
    fn start(dir: &Path, udp: u16, tcp: u16) -> Rsyslog {
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{d}\")\n\
                 module(load=\"imudp\")\nmodule(load=\"imtcp\")\n\
                 input(type=\"imudp\" address=\"127.0.0.1\" port=\"{udp}\")\n\
                 input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{tcp}\")\n\
                 template(name=\"t\" type=\"string\" string=\"%programname% %msg%\\n\")\n\
                 action(type=\"omfile\" file=\"{d}/received.log\" template=\"t\")\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let mut r = Rsyslog {
            child: Rsyslog::spawn(dir, &conf),
            conf,
            udp,
            tcp,
        };
        r.wait_ready();
        r
    }

    fn spawn(dir: &Path, conf: &Path) -> std::process::Child {
        Command::new(RSYSLOGD)
            .args(["-n", "-f"])
            .arg(conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("rsyslogd")
    }

    /// Both inputs bound: the UDP port in /proc/net/udp, the TCP one
    /// accepting.
    fn wait_ready(&mut self) {
        let hex = format!(":{:04X} ", self.udp);
        let t0 = std::time::Instant::now();
        loop {
            let udp = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
            if udp.contains(&hex) && std::net::TcpStream::connect(("127.0.0.1", self.tcp)).is_ok() {
                return;
            }
            assert!(self.child.try_wait().unwrap().is_none(), "rsyslogd exited");
            assert!(t0.elapsed().as_secs() < 20, "rsyslogd did not listen");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        send(self.child.id() as i32, libc::SIGTERM);
        self.child.wait().unwrap();
    }

    fn restart(&mut self, dir: &Path) {
        self.child = Rsyslog::spawn(dir, &self.conf);
        self.wait_ready();
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines rsyslogd wrote from `program`, once there are `n` (20 s).
fn received(dir: &Path, program: &str, n: usize) -> Vec<String> {
    let t0 = std::time::Instant::now();
    loop {
        let got: Vec<String> = lines(&dir.join("received.log"))
            .into_iter()
            .filter_map(|l| {
                Some(
                    l.strip_prefix(&format!("{program} "))?
                        .trim_start()
                        .to_string(),
                )
            })
            .collect();
        if got.len() >= n || t0.elapsed().as_secs() >= 20 {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Forwarding to a real rsyslogd over TCP (RFC 5424, octet counting) and
/// UDP (RFC 3164); rsyslogd stopped mid-stream and started again: over
/// TCP what was queued meanwhile arrives after the restart, all of it, in
/// order; over UDP what is sent after the restart arrives.
#[test]
fn forwarding_to_rsyslogd_survives_its_restart() {
    if !require(Path::new(RSYSLOGD).exists(), "rsyslogd (Debian's rsyslog)") {
        return;
    }
    let dir = fresh_dir("logs-forward");
    let (udp, tcp) = (free_port(), free_port());
    let mut rs = Rsyslog::start(&dir, udp, tcp);
    let sock = dir.join("dev.log");
    let mut t = start(
        &dir,
        &format!(
            r#"syslog: {{ socket: {:?} }},
               logs: [ {{ name: "o", stdout: true, selector: "*.*;![tcp,udp].*" }},
                       {{ name: "central", selector: "local0.*", forward: "tcp://127.0.0.1:{tcp}" }},
                       {{ name: "u", selector: "local1.*", forward: "udp://localhost:{udp}", format: "rfc3164" }} ]"#,
            sock.to_str().unwrap()
        ),
    );
    t.expect_line("logs central: forwarding to 127.0.0.1");
    let s = UnixDatagram::unbound().unwrap();
    let say = |prog: &str, pri: u32, k: usize| {
        s.send_to(format!("<{pri}>{prog}: message {k:05}").as_bytes(), &sock)
            .unwrap();
    };
    let want = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|k| format!("message {k:05}")).collect()
    };
    for k in 0..100 {
        say("tcp", 134, k);
        say("udp", 142, k);
    }
    assert_eq!(received(&dir, "tcp", 100), want(0..100));
    assert_eq!(received(&dir, "udp", 100), want(0..100));

    rs.stop();
    t.expect_line("the receiver closed the connection");
    // Queued while nobody listens (the reconnects are refused).
    for k in 100..200 {
        say("tcp", 134, k);
    }
    t.expect_line("Connection refused; retrying");
    rs.restart(&dir);
    assert_eq!(
        received(&dir, "tcp", 200),
        want(0..200),
        "TCP: queued, then sent"
    );
    for k in 200..300 {
        say("udp", 142, k);
    }
    let u = received(&dir, "udp", 200);
    assert_eq!(&u[100..], &want(200..300)[..], "UDP after the restart");
    stop(t);
}

/// SIGUSR1 and `tug ctl logs reopen` reopen the file outputs (records go
/// on to the file at the path), and the router's counters are on
/// /metrics: records in by source, out, bytes, rotations per output.
#[test]
fn sigusr1_and_ctl_logs_reopen_and_the_router_metrics() {
    let dir = fresh_dir("logs-reopen");
    let sock = dir.join("dev.log");
    let file = dir.join("app.log");
    let ctl_sock = dir.join("tug.sock");
    let mut t = start(
        &dir,
        &format!(
            r#"syslog: {{ socket: {:?} }},
               telemetry: {{ port: 0, interfaces: ["static:127.0.0.1"] }},
               logs: [ {{ name: "f", selector: "*.*;![tug].*", file: {:?}, rotate: {{ size: 1000, keep: 1 }} }},
                       {{ name: "o", stdout: true }} ]"#,
            sock.to_str().unwrap(),
            file.to_str().unwrap()
        ),
    );
    let line = t.expect_line("telemetry listening on ");
    let addr = line.split_once("telemetry listening on ").unwrap().1;
    let addr = addr.split(['"', ' ']).next().unwrap().to_string();
    let s = UnixDatagram::unbound().unwrap();
    s.send_to(b"<14>app: one", &sock).unwrap();
    t.expect_line("msg=\"one\"");
    send(t.pid(), libc::SIGUSR1);
    t.expect_line("logs f: ");
    let out = Command::new(tug())
        .args([
            "ctl",
            "--socket",
            ctl_sock.to_str().unwrap(),
            "logs",
            "reopen",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1 log files reopened\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.expect_line("1 log files reopened");
    for k in 0..30 {
        s.send_to(format!("<14>app: message {k:03}").as_bytes(), &sock)
            .unwrap();
    }
    t.expect_line("message 029");
    let r = common::http::call(&addr, "GET", "/metrics", "");
    let text = r.text();
    let value = |series: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in {text}"))
    };
    assert_eq!(value(r#"tug_log_records_in_total{source="unix"}"#), 31);
    assert_eq!(value(r#"tug_log_records_out_total{output="f"}"#), 31);
    assert!(value(r#"tug_log_records_in_total{source="tug"}"#) >= 3);
    assert!(value(r#"tug_log_bytes_total{output="f"}"#) > 31 * 20);
    assert!(value(r#"tug_log_rotations_total{output="f"}"#) >= 1);
    assert!(value(r#"tug_log_records_out_total{output="o"}"#) > 31);
    stop(t);
    let all: Vec<String> = [dir.join("app.log.1"), file.clone()]
        .iter()
        .flat_map(|p| lines(p))
        .collect();
    assert!(all.last().unwrap().ends_with("message 029"), "{all:?}");
}

/// 1,000,000 messages from 4 concurrent senders into one file: none
/// lost (the senders block while tug's buffer is full), each sender's in
/// its order.
#[test]
fn a_million_messages_from_four_senders_none_lost() {
    const PER: usize = 250_000;
    let dir = fresh_dir("logs-million");
    let sock = dir.join("dev.log");
    let file = dir.join("all.log");
    let t = start(
        &dir,
        &format!(
            r#"syslog: {{ socket: {:?} }},
               logs: [ {{ name: "all", selector: "*.*;![tug].*", file: {:?} }} ]"#,
            sock.to_str().unwrap(),
            file.to_str().unwrap()
        ),
    );
    let senders: Vec<_> = (0..4)
        .map(|s| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                let u = UnixDatagram::unbound().unwrap();
                for k in 0..PER {
                    let msg = format!("<14>flood: sender {s} message {k:06} {}", "y".repeat(60));
                    u.send_to(msg.as_bytes(), &sock).unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    stop(t);
    let text = std::fs::read_to_string(&file).unwrap();
    let mut next = [0usize; 4];
    for line in text.lines() {
        let rest = line.split_once("]: sender ").expect(line).1;
        let s: usize = rest[..1].parse().unwrap();
        let k: usize = rest[10..16].parse().unwrap();
        assert_eq!(k, next[s], "sender {s}: {line}");
        next[s] += 1;
    }
    assert_eq!(next, [PER; 4], "every message, none lost");
}

/// What a source has to say reaches tug's own log: a TCP message longer
/// than a frame is split, and tug says so.
#[test]
fn a_sources_notes_reach_tugs_log() {
    let dir = fresh_dir("logs-notes");
    let port = free_port();
    let mut t = start(
        &dir,
        &format!(
            r#"syslog: {{ socket: {:?}, tcp: "127.0.0.1:{port}" }},
               logs: [ {{ name: "o", stdout: true }} ]"#,
            dir.join("log.sock").to_str().unwrap(),
        ),
    );
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut msg = b"<14>big: ".to_vec();
    msg.resize(300 * 1024, b'x');
    msg.push(b'\n');
    std::io::Write::write_all(&mut c, &msg).unwrap();
    t.expect_line("bytes was split");
    drop(c);
    stop(t);
}

/// A job's line that starts with an sd-daemon(3) prefix, `<0>` to `<7>`,
/// has that severity, the prefix dropped; other lines keep their stream's
/// (stdout: info), `<9>` included.
#[test]
fn a_job_sets_its_own_severity_with_a_prefix() {
    let dir = fresh_dir("logs-prefix");
    let (errs, all) = (dir.join("err.log"), dir.join("all.log"));
    let t = start(
        &dir,
        &format!(
            r#"syslog: {{ socket: {:?} }},
               logs: [ {{ name: "e", selector: "daemon.=err", file: {:?} }},
                       {{ name: "a", selector: "daemon.*;![tug].*", file: {:?} }},
                       {{ name: "o", stdout: true }} ],
               jobs: [ {{ name: "job", exec: ["sh", "-c", "echo '<3>disk full'; echo plain; echo '<9>no level'"] }} ]"#,
            dir.join("log.sock").to_str().unwrap(),
            errs.to_str().unwrap(),
            all.to_str().unwrap(),
        ),
    );
    let mut t = t;
    t.expect_line("job job exited with 0");
    stop(t);
    let e = lines(&errs);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(e[0].ends_with("]: disk full"), "{e:#?}");
    let a = lines(&all);
    let ends: Vec<_> = a.iter().map(|l| l.rsplit("]: ").next().unwrap()).collect();
    assert_eq!(ends, ["disk full", "plain", "<9>no level"], "{a:#?}");
}

/// A C program using glibc's syslog(3), openlog(LOG_PID | LOG_PERROR):
/// its messages reach tug's /dev/log (the job runs in a mount namespace
/// of its own where /dev/log leads to the test's socket: glibc's path is
/// fixed) with their facility, severity, tag and pid, UTF-8 intact; the
/// copies LOG_PERROR writes to stderr are the job's stderr records
/// (daemon.warning, program = the job).
#[test]
fn glibc_syslog_with_log_pid_and_log_perror() {
    if !require(
        is_root(),
        "root, for a mount namespace with its own /dev/log",
    ) {
        return;
    }
    let Some(peer) = common::peers::c_peer("syslog") else {
        return;
    };
    let dir = fresh_dir("logs-glibc");
    let sock = dir.join("dev.log");
    let (syslog, stderr) = (dir.join("syslog.log"), dir.join("stderr.log"));
    let script = format!(
        "mount -t tmpfs t /dev && ln -s {} /dev/log && exec {} cpeer 3",
        sock.display(),
        peer.display()
    );
    let mut t = start(
        &dir,
        &format!(
            r#"syslog: {{ socket: {:?} }},
               logs: [ {{ name: "s", selector: "local2.*", file: {:?} }},
                       {{ name: "e", selector: "daemon.=warning", file: {:?} }},
                       {{ name: "o", stdout: true }} ],
               jobs: [ {{ name: "peer", exec: ["unshare", "-m", "sh", "-c", {script:?}] }} ]"#,
            sock.to_str().unwrap(),
            syslog.to_str().unwrap(),
            stderr.to_str().unwrap(),
        ),
    );
    let started = t.expect_line("job peer started (pid ");
    let pid = number_after(&started, "job peer started (pid ");
    t.expect_line("job peer exited with 0");
    stop(t);
    let got = lines(&syslog);
    let want = [
        "message 0",
        "message 1",
        "message 2",
        "caf\u{e9} \u{1f600}",
        "an error: done",
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (line, text) in got.iter().zip(want) {
        assert!(line.ends_with(&format!(" cpeer[{pid}]: {text}")), "{line}");
    }
    let err = lines(&stderr);
    assert_eq!(err.len(), want.len(), "{err:#?}");
    for (line, text) in err.iter().zip(want) {
        assert!(
            line.ends_with(&format!(" peer[{pid}]: cpeer[{pid}]: {text}")),
            "{line}"
        );
    }
}

/// A static program using musl's syslog(3) (LOG_PID | LOG_PERROR) in a
/// FROM scratch image with tug as PID 1 and `syslog: {}`: tug binds
/// /dev/log in the container (nothing else there does), the messages and
/// their stderr copies come out on `docker logs`, and tug exits 0 when
/// the program is done, its messages written first.
#[test]
fn musl_syslog_in_a_scratch_image() {
    let docker = Command::new("docker").arg("info").output();
    if !require(docker.is_ok_and(|o| o.status.success()), "a Docker engine") {
        return;
    }
    let Some(musl_gcc) = common::peers::need("musl-gcc") else {
        return;
    };
    let dir = fresh_dir("logs-musl");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/syslog.c");
    let o = Command::new(musl_gcc)
        .args(["-static", "-O2", "-Wall", "-Werror", "-o"])
        .arg(dir.join("msyslog"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::copy(tug(), dir.join("tug")).unwrap();
    std::fs::write(
        dir.join("config.json5"),
        r#"{ syslog: {}, logs: [ { name: "o", stdout: true, selector: "*.*;![tug].*", format: "classic" } ],
             jobs: [ { name: "peer", exec: ["/msyslog", "mpeer", "3"] } ] }"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY tug msyslog config.json5 /\n\
         ENTRYPOINT [\"/tug\", \"--config\", \"/config.json5\"]\n",
    )
    .unwrap();
    let tag = format!("tug-test-logs-musl:{}", std::process::id());
    let built = Command::new("docker")
        .args(["build", "-q", "--force-rm", "-t", &tag])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let run = Command::new("docker")
        .args(["run", "--rm", "--log-driver", "none", &tag])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let texts = [
        "message 0",
        "message 1",
        "message 2",
        "caf\u{e9} \u{1f600}",
        "an error: done",
    ];
    // Classic lines: `… mpeer[PID]: text` from syslog(3), `… peer[PID]:
    // mpeer[PID]: text` from the job's stderr.
    let from_stderr: Vec<&str> = out.lines().filter(|l| l.contains(" peer[")).collect();
    let from_syslog: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(" mpeer[") && !l.contains(" peer["))
        .collect();
    assert_eq!((from_syslog.len(), from_stderr.len()), (5, 5), "{out}");
    for text in texts {
        let suffix = format!("]: {text}");
        assert!(
            from_syslog
                .iter()
                .any(|l| l.contains(" mpeer[") && !l.contains(" peer[") && l.ends_with(&suffix)),
            "syslog {text:?}: {out}"
        );
        assert!(
            from_stderr.iter().any(|l| l.ends_with(&suffix)),
            "stderr {text:?}: {out}"
        );
    }
}
