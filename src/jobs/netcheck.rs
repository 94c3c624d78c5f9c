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

pub fn parse_ip(s: &str) -> Option<Ip> {
    if let Some(v4) = parse_v4(s) {
        return Some(Ip::V4(v4));
    }
    parse_v6(s).map(Ip::V6)
}

fn parse_v4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn parse_v6(s: &str) -> Option<[u8; 16]> {
    // Mixed notation (`::ffff:1.2.3.4`): the last 32 bits as IPv4.
    if let Some(colon) = s.rfind(':')
        && s[colon + 1..].contains('.')
    {
        let v4 = parse_v4(&s[colon + 1..])?;
        // Parse it with two zero groups in place of the IPv4 part.
        let mut out = parse_v6(&format!("{}0:0", &s[..=colon]))?;
        out[12..].copy_from_slice(&v4);
        return Some(out);
    }
    let (head, tail) = match s.split_once("::") {
        Some((h, t)) => (h, Some(t)),
        None => (s, None),
    };
    let groups = |part: &str| -> Option<Vec<u16>> {
        if part.is_empty() {
            return Some(Vec::new());
        }
        part.split(':')
            .map(|g| {
                // from_str_radix would take a sign: `::+1` is not an address.
                if g.is_empty() || g.len() > 4 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
                    None
                } else {
                    u16::from_str_radix(g, 16).ok()
                }
            })
            .collect()
    };
    let h = groups(head)?;
    let t = match tail {
        Some(t) => groups(t)?,
        None => Vec::new(),
    };
    let total = h.len() + t.len();
    if (tail.is_none() && total != 8) || (tail.is_some() && total > 7) {
        return None;
    }
    let mut words = [0u16; 8];
    words[..h.len()].copy_from_slice(&h);
    words[8 - t.len()..].copy_from_slice(&t);
    let mut out = [0u8; 16];
    for (i, w) in words.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_signs_and_mixed_notation() {
        assert_eq!(parse_ip("::+1"), None);
        assert_eq!(parse_ip("::-1"), None);
        let mapped = parse_ip("::ffff:10.1.2.3").unwrap();
        let mut want = [0u8; 16];
        want[10..12].copy_from_slice(&[0xff, 0xff]);
        want[12..].copy_from_slice(&[10, 1, 2, 3]);
        assert_eq!(mapped, Ip::V6(want));
        assert!(parse_ip("1:2:3:4:5:6:1.2.3.4").is_some());
        assert_eq!(parse_ip("1:2:3:4:5:6:7:1.2.3.4"), None);
        assert_eq!(parse_ip("::ffff:1.2.3"), None);
        assert_eq!(
            crate::net::interfaces::ip_text(&mapped),
            "::ffff:10.1.2.3",
            "round trip"
        );
    }

    #[test]
    fn ip_literals() {
        assert_eq!(parse_ip("127.0.0.1"), Some(Ip::V4([127, 0, 0, 1])));
        assert_eq!(
            parse_ip("::1"),
            Some(Ip::V6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))
        );
        assert!(matches!(parse_ip("fe80::1:2"), Some(Ip::V6(_))));
        for bad in [
            "256.0.0.1",
            "1.2.3",
            "01.2.3.4",
            "1::2::3",
            "abcde::",
            "example.com",
            "",
        ] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
    }

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
            let mut pfd = libc::pollfd {
                fd: c.fd.raw(),
                events: if c.wants_write() {
                    libc::POLLOUT
                } else {
                    libc::POLLIN
                },
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, 5000) };
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
