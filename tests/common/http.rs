//! A blocking HTTP/1.1 client over std's TcpStream, for tests: one request
//! per connection (`Connection: close`), Content-Length, chunked and
//! read-until-close bodies, and a streaming reader for endless responses
//! (etcd watch). A short body is an error, so a cut response is visible.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> super::json::Node {
        super::json::parse(&self.text())
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HTTP {} {:?} {:?}",
            self.status,
            self.headers,
            self.text()
        )
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn connect(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let sa: SocketAddr = addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no address for {addr}"),
        )
    })?;
    let s = TcpStream::connect_timeout(&sa, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(s)
}

/// A response whose body has not been read yet.
pub struct Stream {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    body: Body,
}

enum Framing {
    Empty,
    Length(u64),
    Chunked { left: u64, done: bool },
    UntilClose,
}

struct Body {
    reader: BufReader<TcpStream>,
    framing: Framing,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match &mut self.framing {
            Framing::Empty => Ok(0),
            Framing::UntilClose => self.reader.read(buf),
            Framing::Length(0) => Ok(0),
            Framing::Length(left) => read_within(&mut self.reader, buf, left, "Content-Length"),
            Framing::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let line = read_line(&mut self.reader)?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("bad chunk size {line:?}"),
                        )
                    })?;
                    if size == 0 {
                        // Trailers, up to the empty line.
                        while !read_line(&mut self.reader)?.is_empty() {}
                        *done = true;
                        return Ok(0);
                    }
                    *left = size;
                }
                let n = read_within(&mut self.reader, buf, left, "the chunk")?;
                if *left == 0 && !read_line(&mut self.reader)?.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "no CRLF after chunk",
                    ));
                }
                Ok(n)
            }
        }
    }
}

/// Reads at most `left` bytes, counting them off; the connection closing
/// first is an error.
fn read_within(r: &mut impl Read, buf: &mut [u8], left: &mut u64, what: &str) -> io::Result<usize> {
    let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
    let n = r.read(&mut buf[..want])?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("body ended {left} bytes short of {what}"),
        ));
    }
    *left -= n as u64;
    Ok(n)
}

fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

impl Stream {
    /// Sends the request and reads the status line and headers.
    pub fn open(
        addr: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> io::Result<Stream> {
        let mut s = connect(addr, timeout)?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || matches!(method, "PUT" | "POST") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut req = head.into_bytes();
        req.extend_from_slice(body);
        s.write_all(&req)?;
        let mut reader = BufReader::new(s);
        let mut status;
        let mut hdrs;
        loop {
            let line = read_line(&mut reader)?;
            let mut parts = line.splitn(3, ' ');
            let version = parts.next().unwrap_or("");
            status = parts
                .next()
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad status line {line:?}"),
                    )
                })?;
            if !version.starts_with("HTTP/1.") {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad status line {line:?}"),
                ));
            }
            hdrs = Vec::new();
            loop {
                let h = read_line(&mut reader)?;
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("bad header {h:?}"))
                })?;
                hdrs.push((k.trim().to_string(), v.trim().to_string()));
            }
            if !(100..200).contains(&status) {
                break;
            }
        }
        let find = |name: &str| header(&hdrs, name);
        let framing = if method == "HEAD" || status == 204 || status == 304 {
            Framing::Empty
        } else if find("Transfer-Encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            Framing::Chunked {
                left: 0,
                done: false,
            }
        } else if let Some(n) = find("Content-Length") {
            Framing::Length(n.parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad Content-Length {n:?}"),
                )
            })?)
        } else {
            Framing::UntilClose
        };
        Ok(Stream {
            status,
            headers: hdrs,
            body: Body { reader, framing },
        })
    }

    /// Changes the read timeout of the connection (for long streams).
    pub fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.body
            .reader
            .get_ref()
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))
    }

    /// The next newline-terminated line of the body; None at its end.
    pub fn next_line(&mut self) -> io::Result<Option<String>> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match self.body.read(&mut byte)? {
                0 if line.is_empty() => return Ok(None),
                0 => break,
                _ if byte[0] == b'\n' => break,
                _ => line.push(byte[0]),
            }
        }
        Ok(Some(String::from_utf8_lossy(&line).into_owned()))
    }

    pub fn finish(mut self) -> io::Result<Response> {
        let mut body = Vec::new();
        self.body.read_to_end(&mut body)?;
        Ok(Response {
            status: self.status,
            headers: self.headers,
            body,
        })
    }
}

/// One request on a fresh connection.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<Response> {
    Stream::open(addr, method, path, headers, body, timeout)?.finish()
}

/// A request that must get an answer (any status); panics on I/O errors.
pub fn call(addr: &str, method: &str, path: &str, body: &str) -> Response {
    request(addr, method, path, &[], body.as_bytes(), TIMEOUT)
        .unwrap_or_else(|e| panic!("{method} http://{addr}{path}: {e}"))
}

/// Percent-encodes `s` for a URL path (keeping `/`) or a query value.
pub fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
