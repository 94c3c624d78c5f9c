//! Built-in health checks that need no program in the image (scratch
//! images have no curl or nc): `tcp` connects, `http` sends a GET and reads
//! the status line. Both run as non-blocking sockets in the loop; the
//! engine resolves the target's host first (the loop's resolver: hosts
//! file, then DNS), so names such as Docker's service aliases work.

use crate::config::schema::Check;
use crate::sys::Errno;
use crate::sys::fd::{Fd, read_raw};
use crate::sys::net::{self, Ip};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

pub enum Phase {
    Connecting,
    Sending(usize),
    Reading,
}

pub struct NetCheck {
    pub fd: Fd,
    phase: Phase,
    request: Option<Vec<u8>>,
    expect: Option<u16>,
    response: Vec<u8>,
}

/// What a check needs next from the loop.
pub enum Progress {
    WantWrite,
    WantRead,
    Done(Result<(), String>),
}

/// Where a `tcp` or `http` check connects: the host to resolve (a name or
/// an IP literal, without brackets) and the port.
pub fn target(check: &Check) -> Result<(String, u16), String> {
    let hostport = match check {
        Check::Tcp(addr) => addr.clone(),
        Check::Http { url, .. } => {
            let (hostport, _) = split_url(url)?;
            if hostport.ends_with(']') || !hostport.contains(':') {
                format!("{hostport}:80")
            } else {
                hostport.into()
            }
        }
        Check::Exec(_) => return Err("not a network check".into()),
    };
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| format!("{hostport:?} is not host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("bad port in {hostport:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.into(), port))
}

/// `http://HOST[:PORT]/PATH` as (HOST[:PORT], /PATH).
fn split_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

impl NetCheck {
    /// Starts `check` against `ip`, its target's host resolved.
    pub fn start(check: &Check, ip: Ip, port: u16) -> Result<NetCheck, String> {
        let (request, expect) = match check {
            Check::Http { url, status } => {
                let (hostport, path) = split_url(url)?;
                let request = format!(
                    "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: tug-health\r\nConnection: close\r\n\r\n"
                );
                (Some(request.into_bytes()), *status)
            }
            _ => (None, None),
        };
        Ok(NetCheck {
            fd: connect(ip, port)?,
            phase: Phase::Connecting,
            request,
            expect,
            response: Vec::new(),
        })
    }

    /// Advances after the socket became ready.
    pub fn advance(&mut self) -> Progress {
        loop {
            match self.phase {
                Phase::Connecting => {
                    if let Err(e) = net::take_error(&self.fd) {
                        return Progress::Done(Err(format!("connect: {e}")));
                    }
                    match self.request {
                        None => return Progress::Done(Ok(())),
                        Some(_) => self.phase = Phase::Sending(0),
                    }
                }
                Phase::Sending(done) => {
                    let req = self.request.as_deref().unwrap_or_default();
                    match net::send(&self.fd, &req[done..]) {
                        Ok(n) if done + n == req.len() => self.phase = Phase::Reading,
                        Ok(n) => self.phase = Phase::Sending(done + n),
                        Err(Errno::EAGAIN) => return Progress::WantWrite,
                        Err(e) => return Progress::Done(Err(format!("send: {e}"))),
                    }
                }
                Phase::Reading => {
                    let mut buf = [0u8; 512];
                    match read_raw(self.fd.raw(), &mut buf) {
                        Ok(0) => return Progress::Done(self.verdict(true)),
                        Ok(n) => {
                            self.response.extend_from_slice(&buf[..n]);
                            if self.response.contains(&b'\n') || self.response.len() > 4096 {
                                return Progress::Done(self.verdict(false));
                            }
                        }
                        Err(Errno::EAGAIN) => return Progress::WantRead,
                        Err(e) => return Progress::Done(Err(format!("read: {e}"))),
                    }
                }
            }
        }
    }

    pub fn wants_write(&self) -> bool {
        !matches!(self.phase, Phase::Reading)
    }

    /// Judges the status line: 2xx/3xx pass, or exactly `expect`.
    fn verdict(&self, eof: bool) -> Result<(), String> {
        let line = self
            .response
            .split(|&b| b == b'\n')
            .next()
            .unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut parts = line.split_ascii_whitespace();
        let status = match (
            parts.next(),
            parts.next().and_then(|s| s.parse::<u16>().ok()),
        ) {
            (Some(v), Some(code)) if v.starts_with("HTTP/") => code,
            _ if eof && self.response.is_empty() => {
                return Err("connection closed without a response".into());
            }
            _ => return Err(format!("not an HTTP response: {:?}", line.trim_end())),
        };
        let ok = match self.expect {
            Some(want) => status == want,
            None => (200..400).contains(&status),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("HTTP status {status}"))
        }
    }
}

fn connect(ip: Ip, port: u16) -> Result<Fd, String> {
    net::connect(ip, port).map_err(|e| format!("connect: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_of_tcp_and_http_checks() {
        let tcp = |a: &str| target(&Check::Tcp(a.into()));
        let http = |u: &str| {
            target(&Check::Http {
                url: u.into(),
                status: None,
            })
        };
        assert_eq!(tcp("[::1]:80"), Ok(("::1".into(), 80)));
        assert_eq!(tcp("db.internal:5432"), Ok(("db.internal".into(), 5432)));
        assert!(tcp("nohost").is_err());
        assert!(tcp("host:99999").is_err());
        assert_eq!(http("http://web/health"), Ok(("web".into(), 80)));
        assert_eq!(http("http://[fd00::1]:8080"), Ok(("fd00::1".into(), 8080)));
        assert!(http("https://web/").is_err());
    }

    #[test]
    fn checks_against_a_real_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            for reply in [
                "HTTP/1.1 204 No Content\r\n\r\n",
                "HTTP/1.0 503 Busy\r\n\r\n",
                "garbage\n",
            ] {
                let (mut s, _) = l.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).unwrap();
                s.write_all(reply.as_bytes()).unwrap();
            }
        });
        let run = |mut c: NetCheck| loop {
            // Wait for the readiness the check asked for (no busy loop).
            let ep = crate::sys::epoll::Epoll::new().unwrap();
            let want = if c.wants_write() {
                crate::sys::epoll::WRITABLE
            } else {
                crate::sys::epoll::READABLE
            };
            ep.add(c.fd.raw(), 0, want).unwrap();
            ep.wait(
                &mut [crate::sys::epoll::Ready {
                    token: 0,
                    events: 0,
                }; 1],
            )
            .unwrap();
            if let Progress::Done(r) = c.advance() {
                break r;
            }
        };
        let url = format!("http://127.0.0.1:{port}/health");
        let http = |status| Check::Http {
            url: url.clone(),
            status,
        };
        let lo = Ip::V4([127, 0, 0, 1]);
        assert_eq!(run(NetCheck::start(&http(None), lo, port).unwrap()), Ok(()));
        assert_eq!(
            run(NetCheck::start(&http(None), lo, port).unwrap()),
            Err("HTTP status 503".into())
        );
        assert!(
            run(NetCheck::start(&http(Some(200)), lo, port).unwrap())
                .unwrap_err()
                .contains("not an HTTP response")
        );
        server.join().unwrap();
        // Nothing listens there any more.
        let tcp = Check::Tcp(format!("127.0.0.1:{port}"));
        assert!(run(NetCheck::start(&tcp, lo, port).unwrap()).is_err());
    }
}
