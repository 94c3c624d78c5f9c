//! Listening sockets: inetd-style accept and systemd socket activation.
//!
//! Contract:
//! - `Listen::parse` takes `tcp://IPV4:PORT`, `tcp://[IPV6]:PORT`,
//!   `unix:///absolute/path` and `unix://@abstract-name`; `Display` gives
//!   the same text back (IPv6 in its shortest form). Errors name the text
//!   and say what is wrong.
//! - `bind` makes the listener: non-blocking and CLOEXEC (the loop's
//!   acceptor needs the first; systemd's own listeners have both too, so
//!   socket-activated daemons expect it), backlog `JOB_BACKLOG`.
//! - `activation_env` gives LISTEN_FDS and LISTEN_FDNAMES; LISTEN_PID is
//!   only known after fork and comes from the spawn (`Extras::pid_env`).
//! - `Acceptor` accepts for an inetd job without ever blocking or
//!   spinning (below).
//!
//! Decisions:
//! - IP literals only: a listener is bound before the loop runs, and tug
//!   resolves names only inside the loop, asynchronously; a name would
//!   also bind just one of its addresses. The message says so.
//! - Port 0 is allowed: the kernel picks a free port, fixed from then on
//!   (the socket is bound once and kept across restarts). Tests need it
//!   to avoid racing for a port, and a config may use it when the port is
//!   learned some other way; `bound` gives the address with the real
//!   port for the log (`job echo: listening on tcp://127.0.0.1:41234`).
//! - `[::]`: IPV6_V6ONLY is the kernel's default, as systemd's
//!   BindIPv6Only=default: dual-stack unless net.ipv6.bindv6only=1.
//! - unix: the path must be absolute (tug's working directory is not the
//!   job's, a relative path would be a trap) and fit a sockaddr_un (107
//!   bytes). The file gets mode 0666: who may connect is the directory's
//!   business, as with systemd's SocketMode= default. A stale socket file
//!   (nobody answers on it) is replaced; a live one, or a file that is no
//!   socket, is an error. `@name` is Linux's abstract namespace: no file.
//!
//! The acceptor and the loop: epoll here is level-triggered, so a listener
//! with connections waiting stays readable until they are accepted. At
//! `max` live instances the acceptor must therefore *leave the epoll set*
//! (`EventLoop::deregister`), not merely skip the accept, or every turn
//! would wake at once: a spin. The waiting connections stay in the
//! kernel's backlog. When an instance exits the owner calls `watch` again
//! and, below `max`, the listener is registered again and the backlog is
//! served. The same holds for a resource error (EMFILE, ENFILE, ENOBUFS,
//! ENOMEM): the queue is still full and every retry would fail at once, so
//! the acceptor leaves the set until the owner's back-off timer calls
//! `retry`. The network errors accept(2) passes on from a connection that
//! died in the queue (ECONNABORTED, EPROTO, ...) only cost that
//! connection: accepting goes on.

use crate::event_loop::{EventLoop, READABLE};
use crate::net::dns::parse_ip;
use crate::net::interfaces::ip_text;
use crate::num::dec;
use crate::quote::q;
use crate::sys::Errno;
use crate::sys::fd::Fd;
use crate::sys::listen::{self, Peer};
use crate::sys::net::Ip;
use alloc::ffi::CString;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Where a job listens: `tcp://HOST:PORT` (IPv4 or `[IPv6]`) or
/// `unix:///path`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Listen {
    Tcp {
        ip: crate::sys::net::Ip,
        port: u16,
    },
    /// An absolute path, or `@name` for an abstract socket.
    Unix {
        path: String,
    },
}

/// The longest socket path: sun_path is 108 bytes with the NUL.
const MAX_PATH: usize = 107;

impl Listen {
    /// Parses a listen URI; the error says what is wrong, for the config's
    /// message.
    pub fn parse(text: &str) -> Result<Listen, String> {
        Listen::parse_why(text).map_err(|why| format!("{text}: {why}", text = q(&text)))
    }

    fn parse_why(text: &str) -> Result<Listen, String> {
        if let Some(path) = text.strip_prefix("unix://") {
            return parse_unix(path);
        }
        if let Some(rest) = text.strip_prefix("tcp://") {
            return parse_tcp(rest);
        }
        let hint = "a listen address is tcp://IP:PORT or unix:///path";
        if let Some((scheme, _)) = text.split_once("://") {
            let why = match scheme.to_ascii_lowercase().as_str() {
                "tcp" | "unix" => "the scheme must be lowercase",
                "udp" => "udp is not supported (stream sockets only)",
                "http" | "https" => "not a URL: tug listens for the job, not as a server",
                _ => "unsupported scheme",
            };
            return Err(format!("{why}; {hint}"));
        }
        if text.starts_with('/') {
            return Err(format!("write unix://{text} for a unix socket"));
        }
        if text.starts_with("unix:") {
            return Err("a unix socket is unix:///path (three slashes)".into());
        }
        if parse_tcp(text).is_ok() {
            return Err(format!("missing scheme: write tcp://{text}"));
        }
        Err(hint.into())
    }

    /// This address with the port a bound `fd` really has (port 0 asks
    /// the kernel for one), for the log.
    pub fn bound(&self, fd: &Fd) -> Listen {
        match (self, listen::local_port(fd)) {
            (Listen::Tcp { ip, .. }, Ok(port)) => Listen::Tcp { ip: *ip, port },
            _ => self.clone(),
        }
    }
}

fn parse_unix(path: &str) -> Result<Listen, String> {
    if path.is_empty() {
        return Err("empty socket path; write unix:///path".into());
    }
    if path.contains('\0') {
        return Err("NUL in socket path".into());
    }
    if path.len() > MAX_PATH {
        return Err(format!(
            "socket path too long ({} bytes; a unix socket path has at most {MAX_PATH})",
            path.len()
        ));
    }
    if path == "@" {
        return Err("empty abstract socket name after @".into());
    }
    if !path.starts_with('/') && !path.starts_with('@') {
        return Err(format!(
            "the socket path must be absolute: unix:///{path} (or unix://@name for an abstract socket)"
        ));
    }
    if path.ends_with('/') {
        return Err("the socket path names a directory".into());
    }
    Ok(Listen::Unix { path: path.into() })
}

fn parse_tcp(rest: &str) -> Result<Listen, String> {
    if rest.contains(['/', '?', '#']) {
        return Err("a path is not allowed after the port".into());
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("missing ']'")?;
        if host.contains('%') {
            return Err("an IPv6 zone (%iface) is not supported".into());
        }
        let Some(Ip::V6(a)) = parse_ip(host) else {
            return Err(format!(
                "{host} in brackets is not an IPv6 address",
                host = q(&host)
            ));
        };
        let port = match after.strip_prefix(':') {
            Some(p) => p,
            None if after.is_empty() => return Err("missing port: tcp://[IPV6]:PORT".into()),
            None => return Err("junk after ']'".into()),
        };
        (Ip::V6(a), port)
    } else {
        if matches!(parse_ip(rest), Some(Ip::V6(_))) {
            return Err(
                "missing port (and an IPv6 address goes in brackets: tcp://[::1]:80)".into(),
            );
        }
        let Some((host, port)) = rest.rsplit_once(':') else {
            return Err("missing port: tcp://IP:PORT".into());
        };
        if host.is_empty() {
            return Err("missing address: tcp://0.0.0.0:PORT listens on every IPv4 address".into());
        }
        if host.contains(':') {
            return Err("an IPv6 address goes in brackets: tcp://[::1]:80".into());
        }
        let Some(ip @ Ip::V4(_)) = parse_ip(host) else {
            return Err(format!(
                "{host} is not an IP address; tug binds before it can resolve names, so \
                 write an address (0.0.0.0, 127.0.0.1, [::], [::1])",
                host = q(&host)
            ));
        };
        (ip, port)
    };
    if port.is_empty() {
        return Err("missing port".into());
    }
    let port = port
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| dec::<u16>(port))
        .flatten()
        .ok_or_else(|| format!("port {port} is not a number 0-65535", port = q(&port)))?;
    Ok(Listen::Tcp { ip: host, port })
}

/// `tcp://1.2.3.4:80`, `tcp://[::1]:80`, `unix:///path`, `unix://@name`.
impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tcp {
                ip: ip @ Ip::V4(_),
                port,
            } => write!(f, "tcp://{}:{port}", ip_text(ip)),
            Listen::Tcp { ip, port } => write!(f, "tcp://[{}]:{port}", ip_text(ip)),
            Listen::Unix { path } => write!(f, "unix://{path}"),
        }
    }
}

/// A connection's peer as text: `127.0.0.1:5555`, `[::1]:5555`, `unix`.
pub fn peer_text(peer: &Peer) -> String {
    match peer {
        Peer::Inet(ip @ Ip::V4(_), port) => format!("{}:{port}", ip_text(ip)),
        Peer::Inet(ip, port) => format!("[{}]:{port}", ip_text(ip)),
        Peer::Unix => "unix".into(),
    }
}

/// Binds and listens (module docs). For a unix path, an existing file is
/// replaced only if it is a socket nobody answers on. Errors name the
/// address.
pub fn bind(l: &Listen) -> Result<Fd, String> {
    let fail = |e: Errno| format!("cannot listen on {l}: {e}");
    match l {
        Listen::Tcp { ip, port } => listen::job_tcp_listener(*ip, *port).map_err(fail),
        Listen::Unix { path } => {
            let cpath = CString::new(path.as_bytes()).map_err(|_| format!("{l}: NUL in path"))?;
            match listen::job_unix_listener(&cpath, 0o666) {
                Err(Errno(libc::EADDRINUSE)) if !listen::is_abstract(path.as_bytes()) => {
                    replace_stale(&cpath, l)?;
                    listen::job_unix_listener(&cpath, 0o666).map_err(fail)
                }
                r => r.map_err(fail),
            }
        }
    }
}

/// Removes the socket file at `cpath` if nobody answers on it (as the
/// control socket does at start).
fn replace_stale(cpath: &CString, l: &Listen) -> Result<(), String> {
    match listen::is_socket(cpath) {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!(
                "cannot listen on {l}: the file exists and is not a socket"
            ));
        }
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(format!("cannot listen on {l}: {e}")),
    }
    if listen::unix_is_live(cpath) {
        return Err(format!(
            "cannot listen on {l}: another process is listening there"
        ));
    }
    match listen::unlink(cpath) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(format!(
            "cannot listen on {l}: cannot remove the stale socket: {e}"
        )),
    }
}

/// Removes a unix listener's file when the job is gone for good (nothing
/// for TCP or an abstract name). Only a socket is ever removed.
pub fn unbind(l: &Listen) {
    if let Listen::Unix { path } = l
        && !listen::is_abstract(path.as_bytes())
        && let Ok(cpath) = CString::new(path.as_bytes())
        && listen::is_socket(&cpath) == Ok(true)
    {
        let _ = listen::unlink(&cpath);
    }
}

/// Whether `name` may be a LISTEN_FDNAMES entry: systemd's rule
/// (fdname_is_valid): 1-255 printable ASCII characters, no `:` (the
/// separator).
pub fn fd_name_valid(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b':')
}

/// LISTEN_FDS and LISTEN_FDNAMES for fds 3.. named `names`, in order.
/// LISTEN_PID is the spawn's (`Extras::pid_env`). Err names a name that
/// `fd_name_valid` refuses.
pub fn activation_env(names: &[&str]) -> Result<Vec<(String, String)>, String> {
    if let Some(bad) = names.iter().find(|n| !fd_name_valid(n)) {
        return Err(format!(
            "{bad} cannot be a LISTEN_FDNAMES name (1-255 printable characters, no ':')",
            bad = q(&bad)
        ));
    }
    Ok(alloc::vec![
        ("LISTEN_FDS".into(), names.len().to_string()),
        ("LISTEN_FDNAMES".into(), names.join(":")),
    ])
}

/// The variables socket activation sets, which a job must never inherit
/// from tug's own environment (tug may itself be socket-activated).
pub const ACTIVATION_VARS: [&str; 3] = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/// The first fd socket activation passes (SD_LISTEN_FDS_START).
pub const FIRST_FD: i32 = 3;

/// What one `accept_ready` produced.
#[derive(Debug, Default)]
pub struct Accepted {
    /// Connections (blocking, CLOEXEC: for a child's stdin and stdout)
    /// with their peers (`peer_text`).
    pub conns: Vec<(Fd, String)>,
    /// A failure that stopped accepting (the acceptor has paused: module
    /// docs); the owner logs it and calls `retry` after a back-off.
    pub error: Option<String>,
}

/// The listener of an inetd job and its place in the loop (module docs).
pub struct Acceptor {
    listener: Fd,
    token: u64,
    /// In the epoll set now.
    registered: bool,
    /// Stopped by a resource error until `retry`.
    failed: bool,
    /// For messages.
    name: String,
}

impl Acceptor {
    /// `listener` from `bind`; `token` routes its readiness to the owner.
    /// Not yet registered: call `watch`.
    pub fn new(listener: Fd, token: u64, name: String) -> Acceptor {
        Acceptor {
            listener,
            token,
            registered: false,
            failed: false,
            name,
        }
    }

    pub fn listener(&self) -> &Fd {
        &self.listener
    }

    /// Whether the listener is in the loop's epoll set.
    pub fn watched(&self) -> bool {
        self.registered
    }

    /// Accepts what is queued, while `live` plus the accepted stays below
    /// `max`; never blocks. Call on the listener's readiness, then spawn
    /// the connections and call `watch` with the new live count.
    pub fn accept_ready(&mut self, live: usize, max: usize) -> Accepted {
        let mut out = Accepted::default();
        while !self.failed && live + out.conns.len() < max {
            match listen::accept_conn(&self.listener) {
                Ok(Some((fd, peer))) => out.conns.push((fd, peer_text(&peer))),
                Ok(None) => break,
                // A connection that died in the queue: only it is lost.
                Err(e) if crate::sys::listen::lost_in_queue(e) => {}
                Err(e) => {
                    self.failed = true;
                    out.error = Some(format!("{}: accept: {e}", self.name));
                }
            }
        }
        out
    }

    /// Puts the listener in the epoll set or takes it out, to match
    /// `live < max` (and no pending failure). Call after spawning what
    /// `accept_ready` gave, whenever an instance exits, and after
    /// `retry`. Ok(true): watched now.
    pub fn watch(&mut self, lp: &EventLoop, live: usize, max: usize) -> Result<bool, String> {
        let want = !self.failed && live < max;
        if want != self.registered {
            let r = if want {
                lp.register(self.listener.raw(), self.token, READABLE)
            } else {
                lp.deregister(self.listener.raw())
            };
            r.map_err(|e| format!("{}: watching the listener: {e}", self.name))?;
            self.registered = want;
        }
        Ok(self.registered)
    }

    /// Ends the pause after a resource error (the owner's back-off timer);
    /// `watch` then registers the listener again.
    pub fn retry(&mut self) {
        self.failed = false;
    }

    /// Leaves the loop (before the acceptor is dropped or the job is
    /// removed: a closed fd leaves epoll by itself only if no child holds
    /// a copy).
    pub fn unwatch(&mut self, lp: &EventLoop) {
        if self.registered {
            let _ = lp.deregister(self.listener.raw());
            self.registered = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn ok(text: &str) -> Listen {
        Listen::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> String {
        match Listen::parse(text) {
            Ok(l) => panic!("{text} parsed as {l:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn every_form_parses_and_prints_back() {
        let tcp = |ip, port| Listen::Tcp { ip, port };
        assert_eq!(ok("tcp://0.0.0.0:2222"), tcp(Ip::V4([0; 4]), 2222));
        assert_eq!(ok("tcp://127.0.0.1:80"), tcp(Ip::V4([127, 0, 0, 1]), 80));
        assert_eq!(ok("tcp://[::]:2222"), tcp(Ip::V6([0; 16]), 2222));
        let mut one = [0; 16];
        one[15] = 1;
        assert_eq!(ok("tcp://[::1]:80"), tcp(Ip::V6(one), 80));
        assert_eq!(
            ok("tcp://127.0.0.1:0"),
            tcp(Ip::V4([127, 0, 0, 1]), 0),
            "port 0: the kernel picks"
        );
        assert_eq!(ok("tcp://1.2.3.4:65535"), tcp(Ip::V4([1, 2, 3, 4]), 65535));
        assert_eq!(
            ok("unix:///run/app.sock"),
            Listen::Unix {
                path: "/run/app.sock".into()
            }
        );
        assert_eq!(
            ok("unix://@app"),
            Listen::Unix {
                path: "@app".into()
            }
        );
        for text in [
            "tcp://0.0.0.0:2222",
            "tcp://127.0.0.1:80",
            "tcp://[::]:2222",
            "tcp://[::1]:80",
            "tcp://[2001:db8::7]:8080",
            "tcp://[::ffff:10.0.0.1]:1",
            "unix:///tmp/x/app.sock",
            "unix://@tug-echo",
        ] {
            assert_eq!(ok(text).to_string(), text);
        }
        // Display is canonical: leading zeros go, IPv6 gets its short form.
        assert_eq!(ok("tcp://10.0.0.1:0080").to_string(), "tcp://10.0.0.1:80");
        assert_eq!(ok("tcp://[0:0::0:1]:80").to_string(), "tcp://[::1]:80");
        let longest = alloc::format!("unix:///{}", "a".repeat(MAX_PATH - 1));
        ok(&longest);
    }

    #[test]
    fn every_error_says_why() {
        let cases: &[(&str, &str)] = &[
            ("", "tcp://IP:PORT or unix:///path"),
            ("junk", "tcp://IP:PORT or unix:///path"),
            ("127.0.0.1:80", "missing scheme: write tcp://127.0.0.1:80"),
            ("/run/x.sock", "write unix:///run/x.sock"),
            ("unix:/run/x.sock", "three slashes"),
            ("TCP://1.2.3.4:80", "lowercase"),
            ("udp://1.2.3.4:53", "udp is not supported"),
            ("http://1.2.3.4:80", "not a URL"),
            ("ftp://1.2.3.4:21", "unsupported scheme"),
            (
                "tcp://localhost:80",
                "not an IP address; tug binds before it can resolve names",
            ),
            ("tcp://example.com:80", "not an IP address"),
            ("tcp://1.2.3:80", "not an IP address"),
            ("tcp://1.2.3.4", "missing port"),
            ("tcp://1.2.3.4:", "missing port"),
            ("tcp://[::1]", "missing port"),
            ("tcp://[::1]:", "missing port"),
            ("tcp://::1", "goes in brackets"),
            ("tcp://::1:80", "goes in brackets"),
            ("tcp://:80", "missing address"),
            ("tcp://", "missing port"),
            ("tcp://1.2.3.4:65536", "is not a number 0-65535"),
            ("tcp://1.2.3.4:-1", "is not a number 0-65535"),
            ("tcp://1.2.3.4:+80", "is not a number 0-65535"),
            ("tcp://1.2.3.4:http", "is not a number 0-65535"),
            ("tcp://1.2.3.4:80/", "a path is not allowed"),
            ("tcp://1.2.3.4:80?x", "a path is not allowed"),
            ("tcp://[::1:80", "missing ']'"),
            ("tcp://[1.2.3.4]:80", "is not an IPv6 address"),
            ("tcp://[fe80::1%eth0]:80", "zone"),
            ("tcp://[::1]x80", "junk after ']'"),
            ("tcp:// 1.2.3.4:80", "not an IP address"),
            ("unix://", "empty socket path"),
            ("unix://run/x.sock", "must be absolute: unix:///run/x.sock"),
            ("unix://@", "empty abstract socket name"),
            ("unix:///tmp/", "names a directory"),
            ("unix:///a\0b", "NUL"),
        ];
        for (text, want) in cases {
            let e = err(text);
            assert!(e.contains(want), "{text:?}: {e:?} lacks {want:?}");
            assert!(e.starts_with(&alloc::format!("{text:?}: ")), "{e}");
        }
        let long = alloc::format!("unix:///{}", "a".repeat(MAX_PATH));
        assert!(err(&long).contains("too long (108 bytes"), "{}", err(&long));
    }

    /// The fuzz target's property (tests/fuzz/fuzz_targets/listen.rs) over
    /// pseudo-random splices of the pieces the grammar is made of, for a
    /// machine without cargo-fuzz.
    #[test]
    fn parse_never_panics_and_prints_canonically() {
        let pieces = [
            "tcp://",
            "unix://",
            "[",
            "]",
            ":",
            "::",
            "/",
            "@",
            "0",
            "1",
            "80",
            "65535",
            "65536",
            "127.0.0.1",
            "::1",
            "ffff",
            ".",
            "%",
            "a",
            "\0",
            "é",
            " ",
            "udp://",
            "TCP://",
            "?",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..50_000 {
            let mut s = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for k in 0..(x % 7) {
                s.push_str(pieces[((x >> (8 * k)) % pieces.len() as u64) as usize]);
            }
            match Listen::parse(&s) {
                Ok(l) => {
                    let shown = l.to_string();
                    assert_eq!(
                        Listen::parse(&shown).as_ref(),
                        Ok(&l),
                        "{s:?} shown as {shown:?}"
                    );
                    assert_eq!(Listen::parse(&shown).unwrap().to_string(), shown);
                }
                Err(e) => assert!(e.starts_with(&alloc::format!("{s:?}: ")), "{e}"),
            }
        }
    }

    #[test]
    fn activation_env_and_names() {
        assert_eq!(
            activation_env(&["app", "app"]).unwrap(),
            [
                ("LISTEN_FDS".to_string(), "2".to_string()),
                ("LISTEN_FDNAMES".to_string(), "app:app".to_string()),
            ]
        );
        assert_eq!(activation_env(&[]).unwrap()[0].1, "0");
        assert!(
            activation_env(&["a:b"])
                .unwrap_err()
                .contains("\"a:b\" cannot be")
        );
        assert!(!fd_name_valid(""));
        assert!(!fd_name_valid("tab\there"));
        assert!(!fd_name_valid(&"x".repeat(256)));
        assert!(fd_name_valid(&"x".repeat(255)));
        assert!(fd_name_valid("web-1.http"));
    }

    #[test]
    fn peers_as_text() {
        assert_eq!(
            peer_text(&Peer::Inet(Ip::V4([127, 0, 0, 1]), 5555)),
            "127.0.0.1:5555"
        );
        let mut one = [0; 16];
        one[15] = 1;
        assert_eq!(peer_text(&Peer::Inet(Ip::V6(one), 5555)), "[::1]:5555");
        assert_eq!(peer_text(&Peer::Unix), "unix");
    }

    fn tmp_dir(tag: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(alloc::format!("tug-listen-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn bind_unix_replaces_only_a_stale_socket() {
        let dir = tmp_dir("bind");
        let path = dir.join("s.sock");
        let l = ok(&alloc::format!("unix://{}", path.display()));
        let fd = bind(&l).unwrap();
        assert!(listen::is_nonblocking(&fd).unwrap());
        // Live: refused, and the file stays.
        let e = bind(&l).unwrap_err();
        assert!(e.contains("another process is listening there"), "{e}");
        std::os::unix::net::UnixStream::connect(&path).unwrap();
        drop(fd);
        // Stale (nobody listens): replaced. A concurrent fork in another
        // test may hold the old listener until its exec, so wait for the
        // copy to go (bounded).
        let cpath = CString::new(path.to_str().unwrap()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while listen::unix_is_live(&cpath) && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        let fd = bind(&l).unwrap();
        std::os::unix::net::UnixStream::connect(&path).unwrap();
        drop(fd);
        unbind(&l);
        assert!(!path.exists(), "unbind removes the socket file");
        // Not a socket: never removed.
        std::fs::write(&path, b"data").unwrap();
        let e = bind(&l).unwrap_err();
        assert!(e.contains("exists and is not a socket"), "{e}");
        unbind(&l);
        assert!(path.exists(), "unbind leaves a regular file alone");
        let e = bind(&ok("unix:///nonexistent-dir-tug/x.sock")).unwrap_err();
        assert!(
            e.starts_with("cannot listen on unix:///nonexistent-dir-tug/x.sock: "),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bind_tcp_port_zero_reports_the_real_port() {
        let l = ok("tcp://127.0.0.1:0");
        let fd = bind(&l).unwrap();
        let real = l.bound(&fd);
        let Listen::Tcp { port, .. } = real else {
            panic!()
        };
        assert_ne!(port, 0);
        assert_eq!(real.to_string(), alloc::format!("tcp://127.0.0.1:{port}"));
        let e = bind(&real).unwrap_err();
        assert!(e.contains("in use"), "{e}");
    }

    /// An EventLoop over no signals, for the acceptor.
    fn event_loop() -> EventLoop {
        EventLoop::new(&crate::sys::signal::SigSet::empty()).unwrap()
    }

    #[test]
    fn acceptor_stops_at_max_and_leaves_the_epoll_set() {
        let l = ok("tcp://127.0.0.1:0");
        let fd = bind(&l).unwrap();
        let Listen::Tcp { port, .. } = l.bound(&fd) else {
            panic!()
        };
        let mut lp = event_loop();
        let mut acc = Acceptor::new(fd, 7, "job echo".into());
        assert!(acc.watch(&lp, 0, 2).unwrap());
        let clients: Vec<std::net::TcpStream> = (0..3)
            .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        // The loop reports the listener (blocks until it is readable).
        let mut events = Vec::new();
        lp.turn(&mut events).unwrap();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, crate::event_loop::Event::Io(r) if r.token == 7))
        );
        // Three are queued; max 2 takes two, then pauses.
        let got = acc.accept_ready(0, 2);
        assert!(got.error.is_none());
        assert_eq!(got.conns.len(), 2);
        for (conn, peer) in &got.conns {
            assert!(peer.starts_with("127.0.0.1:"), "{peer}");
            assert!(
                !listen::is_nonblocking(conn).unwrap(),
                "the child's socket blocks"
            );
        }
        let local = clients[0].local_addr().unwrap().port();
        assert_eq!(got.conns[0].1, alloc::format!("127.0.0.1:{local}"));
        assert!(
            !acc.watch(&lp, 2, 2).unwrap(),
            "at max: out of the epoll set"
        );
        assert!(!acc.watched());
        // Level-triggered and deregistered: the waiting connection wakes
        // nothing (a timer due now ends the turn instead).
        let at = lp.now();
        lp.add_timer(at, 99);
        events.clear();
        lp.turn(&mut events).unwrap();
        assert!(
            events
                .iter()
                .all(|e| !matches!(e, crate::event_loop::Event::Io(_))),
            "{events:?}"
        );
        // At max nothing more is accepted, even when asked.
        assert!(acc.accept_ready(2, 2).conns.is_empty());
        // One instance exits: watched again, and the backlog is served.
        assert!(acc.watch(&lp, 1, 2).unwrap());
        events.clear();
        lp.turn(&mut events).unwrap();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, crate::event_loop::Event::Io(r) if r.token == 7))
        );
        let got = acc.accept_ready(1, 2);
        assert_eq!(got.conns.len(), 1);
        // Empty queue: no connection, no error, still watched.
        assert!(acc.accept_ready(0, 2).conns.is_empty());
        assert!(acc.watch(&lp, 0, 2).unwrap());
        acc.unwatch(&lp);
        assert!(!acc.watched());
        drop(clients);
    }

    #[test]
    fn acceptor_over_a_unix_socket() {
        let dir = tmp_dir("acc");
        let path = dir.join("a.sock");
        let l = ok(&alloc::format!("unix://{}", path.display()));
        let mut acc = Acceptor::new(bind(&l).unwrap(), 1, "job u".into());
        let mut client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let mut got = acc.accept_ready(0, 10);
        let (conn, peer) = got.conns.pop().unwrap();
        assert_eq!(peer, "unix");
        client.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        assert_eq!(conn.read(&mut b).unwrap(), 1);
        drop(conn);
        assert_eq!(client.read(&mut b).unwrap(), 0);
        unbind(&l);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
