//! Real peers for the service-kind tests (tests/services.rs): Debian's
//! nginx and dnsmasq as forking daemons, systemd-notify, socat and nc as
//! inetd clients, and the C peers in tests/peers/ built here with `cc`.
//! Each runs in the test's own temp dir on free loopback ports; nothing
//! touches /etc, /var or /run.
//!
//! Facts checked by hand on Debian 12 (nginx 1.22, dnsmasq 2.90, systemd
//! 252) that these helpers and the engine must respect:
//! - nginx's start command exits once the master has written its pidfile;
//!   `nginx -s reload` keeps the master pid (new workers); on SIGUSR2 the
//!   master renames nginx.pid to nginx.pid.oldbin, then its new master (a
//!   child of the old one) writes nginx.pid, so for a moment there is no
//!   nginx.pid at all. The new master re-execs argv[0] as given, without a
//!   PATH search: nginx must be started by its absolute path. A signal sent
//!   right after the pidfile appears can be lost (the master is not in its
//!   loop yet): wait for an answer on the port first.
//! - dnsmasq leaves its pidfile behind when it exits.
//! - systemd-notify sends its message then `BARRIER=1` with a pipe fd and
//!   waits up to 5 s for that fd to be closed by the receiver (exit 1,
//!   "Failed to invoke barrier", when it is not); `--no-block` skips that.
//!   As root it claims its parent's pid in SCM_CREDENTIALS; as another
//!   user the credentials carry its own pid.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `name` on PATH or in /usr/sbin, /sbin (a non-root PATH may lack them).
pub fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `tool(name)`, or a skip outside CI (a failure in CI) when it is missing.
pub fn need(name: &str) -> Option<PathBuf> {
    let found = tool(name);
    super::require(
        found.is_some(),
        &format!("{name} is not installed (scripts/test-deps.sh installs it)"),
    )
    .then(|| found.unwrap())
}

static BUILD: Mutex<()> = Mutex::new(());

/// tests/peers/NAME.c built with `cc` into the target dir's tmp (once per
/// test process; concurrent tests wait for the one build). None when there
/// is no `cc` (a skip outside CI); a build error fails the test.
pub fn c_peer(name: &str) -> Option<PathBuf> {
    let cc = need("cc")?;
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("peer-{name}-{}", std::process::id()));
    if out.exists() {
        return Some(out);
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/peers/{name}.c"));
    let tmp = out.with_extension("tmp");
    let o = Command::new(cc)
        .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&tmp)
        .arg(&src)
        .output()
        .expect("run cc");
    assert!(
        o.status.success(),
        "cc {}: {}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::rename(&tmp, &out).unwrap();
    Some(out)
}

/// A port free on 127.0.0.1 for both TCP and UDP a moment ago (dnsmasq
/// binds both).
pub fn free_port_tcp_udp() -> u16 {
    for _ in 0..50 {
        let port = super::free_port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP on 127.0.0.1");
}

/// Whether ::1 can be bound here (containers often have no IPv6).
pub fn have_ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// A JSON string literal for a config.
pub fn q(s: impl AsRef<str>) -> String {
    super::json::quote(s.as_ref())
}

// ---- nginx ----

/// An nginx config in `dir`: daemonizes (`daemon on`), one worker, every
/// path (pid, logs, temp dirs) inside `dir`, listening on 127.0.0.1:port.
/// `GET /` answers `nginx WORKER_PID`.
pub struct Nginx {
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub pidfile: PathBuf,
    pub error_log: PathBuf,
    pub port: u16,
}

impl Nginx {
    /// None (skip outside CI) when nginx is not installed.
    pub fn new(dir: &Path) -> Option<Nginx> {
        let bin = need("nginx")?;
        let port = super::free_port();
        let d = dir.display();
        // As root the workers would switch to nobody, who cannot write
        // the temp dirs the test made: keep them root. As another user
        // `user` only draws a warning, so it is left out.
        let user = if super::is_root() {
            "user root root;\n"
        } else {
            ""
        };
        let conf = format!(
            "{user}daemon on;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log notice;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/access.log;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"nginx $pid\\n\"; }} }}\n}}\n"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        Some(Nginx {
            bin,
            dir: dir.to_path_buf(),
            conf: path,
            pidfile: dir.join("nginx.pid"),
            error_log: dir.join("error.log"),
            port,
        })
    }

    /// The start command's argv: the absolute path (a binary upgrade
    /// re-execs argv[0]), `-e` so that nginx never opens the system's log
    /// before it has read the config.
    pub fn argv(&self) -> Vec<String> {
        let s = |p: &Path| p.to_str().unwrap().to_string();
        vec![
            s(&self.bin),
            "-p".into(),
            s(&self.dir),
            "-c".into(),
            s(&self.conf),
            "-e".into(),
            s(&self.error_log),
        ]
    }

    /// `argv()` as a JSON array for a job's `exec`.
    pub fn exec_json(&self) -> String {
        let items: Vec<String> = self.argv().iter().map(q).collect();
        format!("[{}]", items.join(", "))
    }

    /// `nginx ... -s SIGNAL` (reload, quit...): (exit code, stderr).
    pub fn signal_cmd(&self, sig: &str) -> (i32, String) {
        let argv = self.argv();
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]).args(["-s", sig]);
        let (code, _, err) = super::output(c);
        (code, err)
    }

    /// The pid in nginx.pid, if there is one.
    pub fn pid(&self) -> Option<i32> {
        read_pid(&self.pidfile)
    }

    /// The pid in nginx.pid.oldbin (during a binary upgrade).
    pub fn oldbin_pid(&self) -> Option<i32> {
        read_pid(&self.dir.join("nginx.pid.oldbin"))
    }

    /// The worker pid that answered `GET /`, or None when nothing answers.
    pub fn get(&self) -> Option<i32> {
        let addr = format!("127.0.0.1:{}", self.port);
        let r = super::http::request(&addr, "GET", "/", &[], b"", Duration::from_secs(2)).ok()?;
        if r.status != 200 {
            return None;
        }
        r.text().trim().strip_prefix("nginx ")?.parse().ok()
    }

    /// Waits (10 s at most) until `GET /` is answered; the worker's pid.
    pub fn wait_serving(&self) -> i32 {
        wait_for(Duration::from_secs(10), || self.get())
            .unwrap_or_else(|| panic!("nginx never answered on port {}: {}", self.port, self.log()))
    }

    /// The error log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }
}

pub fn read_pid(p: &Path) -> Option<i32> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Polls `f` every 5 ms until it gives Some or `limit` passes. For state
/// that has no event to wait on (another process's files); never for
/// tug's own progress, which is read from its log lines.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---- dnsmasq ----

/// A DNS-only dnsmasq (no DHCP, no resolv.conf, no /etc/hosts, no
/// upstream) that daemonizes and answers `tug.test` with 127.0.0.9.
pub struct Dnsmasq {
    pub bin: PathBuf,
    pub pidfile: PathBuf,
    pub log: PathBuf,
    pub port: u16,
}

impl Dnsmasq {
    pub fn new(dir: &Path) -> Option<Dnsmasq> {
        Some(Dnsmasq {
            bin: need("dnsmasq")?,
            pidfile: dir.join("dnsmasq.pid"),
            log: dir.join("dnsmasq.log"),
            port: free_port_tcp_udp(),
        })
    }

    pub fn argv(&self) -> Vec<String> {
        vec![
            self.bin.to_str().unwrap().into(),
            "--conf-file=/dev/null".into(),
            "--no-resolv".into(),
            "--no-hosts".into(),
            "--no-poll".into(),
            format!("--pid-file={}", self.pidfile.display()),
            format!("--port={}", self.port),
            "--listen-address=127.0.0.1".into(),
            "--bind-interfaces".into(),
            "--address=/tug.test/127.0.0.9".into(),
            format!("--log-facility={}", self.log.display()),
        ]
    }

    pub fn exec_json(&self) -> String {
        let items: Vec<String> = self.argv().iter().map(q).collect();
        format!("[{}]", items.join(", "))
    }

    pub fn pid(&self) -> Option<i32> {
        read_pid(&self.pidfile)
    }

    /// The A record dnsmasq gives for tug.test (one UDP query, 2 s).
    pub fn query(&self) -> Option<[u8; 4]> {
        let s = UdpSocket::bind("127.0.0.1:0").ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x03tug\x04test\x00\x00\x01\x00\x01");
        s.send_to(&q, ("127.0.0.1", self.port)).ok()?;
        let mut buf = [0u8; 512];
        let n = s.recv(&mut buf).ok()?;
        (n >= q.len() + 4 && buf[0..2] == q[0..2]).then(|| buf[n - 4..n].try_into().unwrap())
    }
}

// ---- clients ----

/// What a connect loop saw.
#[derive(Debug, Default, Clone)]
pub struct LoopStats {
    pub attempts: u32,
    /// Connections that got a line back.
    pub answered: u32,
    pub refused: u32,
    /// Accepted, then closed or timed out with no line.
    pub unanswered: u32,
    pub other_errors: Vec<String>,
    /// The distinct lines received, in order of first sight.
    pub lines: Vec<String>,
}

/// Connects to `addr` over and over (a new connection each, reading one
/// line, as from a socket-activated server) until `stop` is set, `limit`
/// passes or `max` attempts are made. Each connect and read has a 3 s
/// timeout, so a hung server shows up as `unanswered`, not a hung test.
pub fn connect_loop(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    limit: Duration,
    max: u32,
) -> std::thread::JoinHandle<LoopStats> {
    connect_loop_counting(addr, stop, limit, max, Arc::default())
}

/// `connect_loop`, counting answered connections in `answered` as it
/// goes (a test waits on it to know the loop is under way).
pub fn connect_loop_counting(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    limit: Duration,
    max: u32,
    answered: Arc<std::sync::atomic::AtomicU32>,
) -> std::thread::JoinHandle<LoopStats> {
    std::thread::spawn(move || {
        let mut st = LoopStats::default();
        let deadline = Instant::now() + limit;
        while !stop.load(Ordering::SeqCst) && Instant::now() < deadline && st.attempts < max {
            st.attempts += 1;
            match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                    let mut line = String::new();
                    match BufReader::new(s).read_line(&mut line) {
                        Ok(n) if n > 0 => {
                            st.answered += 1;
                            answered.fetch_add(1, Ordering::SeqCst);
                            let l = line.trim_end().to_string();
                            if !st.lines.contains(&l) {
                                st.lines.push(l);
                            }
                        }
                        _ => st.unanswered += 1,
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => st.refused += 1,
                Err(e) => st.other_errors.push(e.to_string()),
            }
        }
        st
    })
}

/// Sends `text` on a new TCP connection, half-closes, and reads everything
/// back (10 s at most).
pub fn tcp_roundtrip(addr: SocketAddr, text: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(text.as_bytes())?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

// ---- an sd_notify receiver (tug's own NOTIFY_SOCKET) ----

/// A datagram socket standing in for systemd's notify socket, bound at a
/// path in the test's dir; `env` is the NOTIFY_SOCKET value for tug.
pub struct NotifyReceiver {
    sock: UnixDatagram,
    pub env: String,
    /// Every message received so far, in order.
    pub seen: Vec<String>,
    /// Received, not yet matched by `expect`.
    unmatched: Vec<String>,
}

impl NotifyReceiver {
    pub fn bind(dir: &Path) -> NotifyReceiver {
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        NotifyReceiver {
            sock,
            env: path.to_str().unwrap().to_string(),
            seen: Vec::new(),
            unmatched: Vec::new(),
        }
    }

    /// The same in the abstract namespace: NOTIFY_SOCKET is `@name`.
    pub fn bind_abstract(name: &str) -> NotifyReceiver {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).expect("bind the abstract notify socket");
        NotifyReceiver {
            sock,
            env: format!("@{name}"),
            seen: Vec::new(),
            unmatched: Vec::new(),
        }
    }

    /// Waits (`limit` at most) for a message with a line equal to `line`
    /// (e.g. "READY=1") that no call has matched yet; returns that
    /// message. Panics with what was seen.
    pub fn expect(&mut self, line: &str, limit: Duration) -> String {
        if let Some(i) = self
            .unmatched
            .iter()
            .position(|m| m.lines().any(|l| l == line))
        {
            return self.unmatched.remove(i);
        }
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("no {line:?} on NOTIFY_SOCKET; saw {:?}", self.seen);
            }
            self.sock.set_read_timeout(Some(left)).unwrap();
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                    self.seen.push(m.clone());
                    if m.lines().any(|l| l == line) {
                        return m;
                    }
                    self.unmatched.push(m);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("recv on the notify socket: {e}"),
            }
        }
    }

    /// The messages already queued, without waiting (for "not yet"
    /// checks after an event that would have sent one); `expect` still
    /// sees them.
    pub fn pending(&mut self) -> Vec<String> {
        self.sock.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        while let Ok(n) = self.sock.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            self.seen.push(m.clone());
            self.unmatched.push(m.clone());
            got.push(m);
        }
        self.sock.set_nonblocking(false).unwrap();
        got
    }
}
