//! Sans-IO HTTP/1.1: message writers and incremental parsers for tug's
//! clients (Consul, etcd, Docker) and servers (control socket, /metrics).
//! No sockets here: the loop reads bytes and feeds them in.
//!
//! Decisions:
//! - Lines end in CRLF or a bare LF (RFC 9112 §2.2 lets recipients accept
//!   LF). A CR anywhere else in a head is a control character: rejected,
//!   like obsolete line folding and non-token header names.
//! - Body length (RFC 9112 §6.3): responses to HEAD, 1xx, 204 and 304 have
//!   none; then Transfer-Encoding (`chunked` last: chunked, else until
//!   close), then Content-Length (repeats must agree), then until close
//!   (responses) or empty (requests). Requests accept only a lone
//!   `Transfer-Encoding: chunked`, never with Content-Length (smuggling).
//!   Chunk extensions and trailers are skipped. Interim 1xx responses
//!   (except 101) are skipped.
//! - Decoded body bytes land in a public `body` buffer the caller may drain
//!   at any time (etcd watch and Docker events streams); `max_body` caps
//!   the bytes held there, so a huge or endless body is an error, not OOM.
//! - Bytes after a complete message stay buffered for the next one
//!   (keep-alive, pipelining): `ResponseParser::reset` then `feed(&[])`,
//!   or the server's next `feed`. A client holds at most one head's worth.
//! - After an error a parser stays failed: answer (server) and close.

use crate::num::dec;
use crate::quote::q;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::{fmt, mem};

/// Header lines, names lowercased, values trimmed, in arrival order.
pub type Headers = Vec<(String, String)>;

/// A parse error. `status` is what a server answers before closing (400,
/// 413, 431, 501, 505); errors about responses carry 502.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    pub status: u16,
    pub msg: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

fn err(status: u16, msg: impl Into<String>) -> HttpError {
    HttpError {
        status,
        msg: msg.into(),
    }
}

/// A client request to serialize.
pub struct Request<'a> {
    pub method: &'a str,
    /// Origin form, percent-encoded: path and query.
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Serializes a client request. Adds `Host`, `Content-Length` when the body
/// is not empty or the method is PUT/POST, and `Connection: keep-alive`
/// unless `headers` has a Connection header. CR/LF in any text becomes a
/// space, so no value can inject a header.
pub fn write_request(out: &mut Vec<u8>, host: &str, req: &Request<'_>) {
    line(out, &[req.method, " ", req.path, " HTTP/1.1"]);
    line(out, &["Host: ", host]);
    let mut conn = false;
    for (n, v) in req.headers {
        line(out, &[n, ": ", v]);
        conn |= n.eq_ignore_ascii_case("connection");
    }
    if !conn {
        line(out, &["Connection: keep-alive"]);
    }
    if !req.body.is_empty() || matches!(req.method, "PUT" | "POST") {
        line(out, &["Content-Length: ", &format!("{}", req.body.len())]);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(req.body);
}

/// Serializes a server response with `Content-Length` (except for 1xx, 204
/// and 304, which never carry a body) and an explicit `Connection`.
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    reason: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) {
    line(out, &[&format!("HTTP/1.1 {status} "), reason]);
    for (n, v) in headers {
        line(out, &[n, ": ", v]);
    }
    let has_body = status >= 200 && status != 204 && status != 304;
    if has_body {
        line(out, &["Content-Length: ", &format!("{}", body.len())]);
    }
    let conn = if keep_alive { "keep-alive" } else { "close" };
    line(out, &["Connection: ", conn]);
    out.extend_from_slice(b"\r\n");
    if has_body {
        out.extend_from_slice(body);
    }
}

/// Appends one line made of `parts`, CR and LF replaced by spaces.
fn line(out: &mut Vec<u8>, parts: &[&str]) {
    for p in parts {
        out.extend(
            p.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    }
    out.extend_from_slice(b"\r\n");
}

/// A response's status line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
}

impl ResponseHead {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }
}

/// Incremental response parser for a client: `feed` bytes as they arrive,
/// read `head` once known and drain `body` whenever convenient.
pub struct ResponseParser {
    /// Set once the final (non-1xx) head has arrived.
    pub head: Option<ResponseHead>,
    /// Decoded body bytes not yet taken; at most `max_body` of them.
    pub body: Vec<u8>,
    codec: Codec,
    no_body: bool,
    keep: bool,
}

impl ResponseParser {
    pub fn new(max_body: usize) -> ResponseParser {
        ResponseParser {
            head: None,
            body: Vec::new(),
            codec: Codec::new(16 << 10, max_body),
            no_body: false,
            keep: false,
        }
    }

    /// Prepares for the next response on the connection (`no_body` for a
    /// HEAD request); bytes already fed past the last response are kept:
    /// `feed(&[])` parses them.
    pub fn reset(&mut self, no_body: bool) {
        self.head = None;
        self.body.clear();
        self.no_body = no_body;
        self.keep = false;
        if self.codec.st != St::Failed {
            self.codec.start(0, St::Head);
        }
    }

    /// Parses more input; true once the response is complete.
    pub fn feed(&mut self, data: &[u8]) -> Result<bool, HttpError> {
        let r = self.run(data);
        if r.is_err() {
            self.codec.st = St::Failed;
        }
        r.map_err(|e| HttpError { status: 502, ..e })
    }

    fn run(&mut self, data: &[u8]) -> Result<bool, HttpError> {
        let c = &mut self.codec;
        if c.st == St::Done && !data.is_empty() && c.buf.len() + data.len() > c.max_head {
            return Err(err(502, "unexpected data after the response"));
        }
        c.buf.extend_from_slice(data);
        while let Some(end) = c.advance(&mut self.body)? {
            let (first, headers) = parse_head(&c.buf[c.pos..end])?;
            let (status, v11, reason) = status_line(first)
                .ok_or_else(|| err(502, format!("malformed status line: {}", show(first))))?;
            let mut keep = keep_alive(&headers, v11);
            let st = if (100..200).contains(&status) && status != 101 {
                St::Head
            } else if self.no_body || status < 200 || status == 204 || status == 304 {
                St::Done
            } else {
                let (framing, mixed) = framing(&headers, false)?;
                let st = framing.unwrap_or(St::Close);
                keep &= !mixed && st != St::Close;
                st
            };
            if st != St::Head {
                self.keep = keep;
                self.head = Some(ResponseHead {
                    status,
                    reason: String::from_utf8_lossy(reason).into_owned(),
                    headers,
                });
            }
            c.start(end, st);
        }
        Ok(c.st == St::Done)
    }

    /// The peer closed the connection: completes a read-until-close body,
    /// else the response was truncated.
    pub fn eof(&mut self) -> Result<(), HttpError> {
        self.keep = false;
        match self.codec.st {
            St::Close | St::Done => {
                self.codec.st = St::Done;
                Ok(())
            }
            _ => {
                self.codec.st = St::Failed;
                Err(err(
                    502,
                    "connection closed before the response was complete",
                ))
            }
        }
    }

    pub fn is_complete(&self) -> bool {
        self.codec.st == St::Done
    }

    /// Complete and the connection may carry another request: keep-alive,
    /// not read-until-close, no Transfer-Encoding with Content-Length.
    pub fn reusable(&self) -> bool {
        self.is_complete() && self.keep
    }

    /// Bytes received but not parsed yet (beyond a complete response they
    /// are unexpected when no other request is in flight).
    pub fn pending(&self) -> usize {
        self.codec.buf.len()
    }
}

/// A request as a server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRequest {
    pub method: String,
    /// The target up to `?`, still percent-encoded.
    pub path: String,
    /// The target after `?`, without it; empty if none.
    pub query: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    /// The client wants the connection kept open after the response.
    pub keep_alive: bool,
}

impl ParsedRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }
}

/// Incremental request parser for a server: heads up to 8 KiB, bodies up
/// to `max_body`. `feed` returns each complete request once; pipelined
/// bytes stay buffered, so after `Some` call `feed(&[])` until `None`
/// before reading more. On `Err`, answer `status` and close.
pub struct RequestParser {
    codec: Codec,
    body: Vec<u8>,
    req: Option<ParsedRequest>,
}

impl RequestParser {
    pub fn new(max_body: usize) -> RequestParser {
        RequestParser {
            codec: Codec::new(8 << 10, max_body),
            body: Vec::new(),
            req: None,
        }
    }

    pub fn feed(&mut self, data: &[u8]) -> Result<Option<ParsedRequest>, HttpError> {
        let r = self.run(data);
        if r.is_err() {
            self.codec.st = St::Failed;
        }
        r
    }

    fn run(&mut self, data: &[u8]) -> Result<Option<ParsedRequest>, HttpError> {
        let c = &mut self.codec;
        c.buf.extend_from_slice(data);
        while let Some(end) = c.advance(&mut self.body)? {
            let (req, st) = request_head(&c.buf[c.pos..end], c.max_body)?;
            self.req = Some(req);
            c.start(end, st);
        }
        if c.st != St::Done {
            return Ok(None);
        }
        c.start(c.pos, St::Head);
        let body = mem::take(&mut self.body);
        Ok(self.req.take().map(|r| ParsedRequest { body, ..r }))
    }

    /// The head asked for `Expect: 100-continue` and no body byte came yet:
    /// the server should send `HTTP/1.1 100 Continue\r\n\r\n` (once).
    pub fn expects_continue(&self) -> bool {
        self.body.is_empty()
            && self.req.as_ref().is_some_and(|r| {
                r.header("expect")
                    .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
            })
    }
}

fn request_head(head: &[u8], max_body: usize) -> Result<(ParsedRequest, St), HttpError> {
    let (first, headers) = parse_head(head)?;
    let bad_line = || err(400, format!("malformed request line: {}", show(first)));
    let mut parts = first.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_line());
    };
    if !is_token(method)
        || !(target.starts_with(b"/") || target == b"*")
        || target.iter().any(|&b| b <= b' ' || b >= 0x7f)
    {
        return Err(bad_line());
    }
    let v11 = match version {
        b"HTTP/1.1" => true,
        b"HTTP/1.0" => false,
        _ if version.starts_with(b"HTTP/") => {
            return Err(err(505, "HTTP version not supported"));
        }
        _ => return Err(bad_line()),
    };
    let hosts = headers.iter().filter(|(n, _)| n == "host").count();
    if hosts > 1 || (v11 && hosts == 0) {
        return Err(err(400, "missing or repeated Host header"));
    }
    let st = framing(&headers, true)?.0.unwrap_or(St::Done);
    if let St::Len(n) = st
        && n > max_body as u64
    {
        return Err(too_big(max_body));
    }
    // The target is visible ASCII, so these are plain copies.
    let target = String::from_utf8_lossy(target);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let req = ParsedRequest {
        method: String::from_utf8_lossy(method).into_owned(),
        path: path.into(),
        query: query.into(),
        keep_alive: keep_alive(&headers, v11),
        headers,
        body: Vec::new(),
    };
    Ok((req, st))
}

/// Where a message is: in its head, in a body framed some way, or done.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    Head,
    /// Content-Length bytes left.
    Len(u64),
    /// Expecting a chunk-size line.
    Size,
    /// Chunk bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// Trailer lines until an empty one.
    Trailer,
    /// Body runs until the peer closes.
    Close,
    Done,
    Failed,
}

/// The framing layer both parsers share: buffers input, finds heads and
/// decodes bodies. Consumed bytes leave `buf` at the end of each `advance`,
/// so work stays linear in the input.
struct Codec {
    buf: Vec<u8>,
    /// Start of the unconsumed input in `buf`.
    pos: usize,
    /// Bytes after `pos` already searched for the awaited line end.
    scan: usize,
    st: St,
    max_head: usize,
    max_body: usize,
    /// Trailer bytes seen in this message.
    trailer: usize,
}

/// Longest chunk-size line (with extensions).
const MAX_LINE: usize = 1024;

impl Codec {
    fn new(max_head: usize, max_body: usize) -> Codec {
        Codec {
            buf: Vec::new(),
            pos: 0,
            scan: 0,
            st: St::Head,
            max_head,
            max_body,
            trailer: 0,
        }
    }

    /// Switches to `st` with the input from `pos` on.
    fn start(&mut self, pos: usize, st: St) {
        self.pos = pos;
        self.scan = 0;
        self.st = st;
        self.trailer = 0;
    }

    /// Decodes buffered input into `body`. `Some(end)`: `buf[pos..end]` is
    /// a complete head; the caller parses it and calls `start(end, ..)`.
    fn advance(&mut self, body: &mut Vec<u8>) -> Result<Option<usize>, HttpError> {
        let r = self.decode(body);
        if !matches!(r, Ok(Some(_))) {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        r
    }

    fn decode(&mut self, body: &mut Vec<u8>) -> Result<Option<usize>, HttpError> {
        loop {
            let rest = self.buf.len() - self.pos;
            self.st = match self.st {
                St::Head => return self.head(),
                St::Len(n) | St::Data(n) => {
                    let take = (rest as u64).min(n) as usize;
                    if take == 0 {
                        return Ok(None);
                    }
                    self.put(body, take)?;
                    match (self.st, n - take as u64) {
                        (St::Len(_), 0) => St::Done,
                        (St::Len(_), left) => St::Len(left),
                        (_, 0) => St::DataEnd,
                        (_, left) => St::Data(left),
                    }
                }
                St::Close => {
                    if rest == 0 {
                        return Ok(None);
                    }
                    self.put(body, rest)?;
                    St::Close
                }
                St::Size => {
                    let Some((end, next)) = self.line(MAX_LINE, 400, "bad chunk size")? else {
                        return Ok(None);
                    };
                    let n = chunk_size(&self.buf[self.pos..end])
                        .ok_or_else(|| err(400, "bad chunk size"))?;
                    self.pos = next;
                    if n == 0 { St::Trailer } else { St::Data(n) }
                }
                St::DataEnd => {
                    let msg = "missing CRLF after chunk data";
                    match self.line(MAX_LINE, 400, msg)? {
                        None => return Ok(None),
                        Some((end, _)) if end > self.pos => return Err(err(400, msg)),
                        Some((_, next)) => self.pos = next,
                    }
                    St::Size
                }
                St::Trailer => {
                    let msg = "header too large";
                    let Some((end, next)) = self.line(self.max_head, 431, msg)? else {
                        return Ok(None);
                    };
                    self.trailer += next - self.pos;
                    if self.trailer > self.max_head {
                        return Err(err(431, msg));
                    }
                    let last = end == self.pos;
                    self.pos = next;
                    if last { St::Done } else { St::Trailer }
                }
                St::Done => return Ok(None),
                St::Failed => return Err(err(400, "connection unusable after an error")),
            };
        }
    }

    /// Finds the empty line ending a head, skipping empty lines before it.
    fn head(&mut self) -> Result<Option<usize>, HttpError> {
        let b = &self.buf;
        let mut p = self.pos;
        let mut from = p + self.scan;
        while let Some(i) = b[from..].iter().position(|&c| c == b'\n') {
            let i = from + i;
            from = i + 1;
            if i == p || (i == p + 1 && b[p] == b'\r') {
                p = from;
            } else if b[i - 1] == b'\n' || (b[i - 1] == b'\r' && b[i - 2] == b'\n') {
                self.pos = p;
                self.scan = 0;
                if from - p > self.max_head {
                    return Err(err(431, "header too large"));
                }
                return Ok(Some(from));
            }
        }
        self.pos = p;
        self.scan = b.len() - p;
        if self.scan > self.max_head {
            return Err(err(431, "header too large"));
        }
        Ok(None)
    }

    /// The line at `pos` as (content end, next line start), once complete;
    /// longer than `limit` is an error.
    fn line(
        &mut self,
        limit: usize,
        status: u16,
        msg: &str,
    ) -> Result<Option<(usize, usize)>, HttpError> {
        let (p, from) = (self.pos, self.pos + self.scan);
        let nl = self.buf[from..]
            .iter()
            .position(|&c| c == b'\n')
            .map(|i| from + i);
        let len = nl.unwrap_or(self.buf.len()) - p;
        if len > limit {
            return Err(err(status, msg));
        }
        self.scan = if nl.is_some() { 0 } else { len };
        Ok(nl.map(|nl| {
            let cr = nl > p && self.buf[nl - 1] == b'\r';
            (nl - cr as usize, nl + 1)
        }))
    }

    /// Moves `n` input bytes into `body`, within `max_body`.
    fn put(&mut self, body: &mut Vec<u8>, n: usize) -> Result<(), HttpError> {
        if body.len() + n > self.max_body {
            return Err(too_big(self.max_body));
        }
        body.extend_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(())
    }
}

fn too_big(max: usize) -> HttpError {
    err(413, format!("body exceeds {max} bytes"))
}

/// Splits a complete head into its start line and headers.
fn parse_head(head: &[u8]) -> Result<(&[u8], Headers), HttpError> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    let mut headers = Vec::new();
    for l in lines.take_while(|l| !l.is_empty()) {
        if l[0] == b' ' || l[0] == b'\t' {
            return Err(err(400, "obsolete line folding in header"));
        }
        let colon = l.iter().position(|&b| b == b':').unwrap_or(0);
        let (name, value) = (&l[..colon], trim(&l[colon + 1..]));
        if !is_token(name) {
            return Err(err(400, format!("malformed header line: {}", show(l))));
        }
        if value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(err(
                400,
                format!("control character in header {}", show(name)),
            ));
        }
        // Names are ASCII tokens; values may hold obs-text (kept lossily).
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        headers.push((name, String::from_utf8_lossy(value).into_owned()));
    }
    Ok((first, headers))
}

/// `HTTP/1.x SSS[ reason]` as (status, is 1.1, reason).
fn status_line(l: &[u8]) -> Option<(u16, bool, &[u8])> {
    let [
        b'H',
        b'T',
        b'T',
        b'P',
        b'/',
        b'1',
        b'.',
        minor @ (b'0' | b'1'),
        b' ',
        a @ b'1'..=b'9',
        b @ b'0'..=b'9',
        c @ b'0'..=b'9',
        rest @ ..,
    ] = l
    else {
        return None;
    };
    let reason = match rest {
        [b' ', r @ ..] => r,
        _ if rest.is_empty() => rest,
        _ => return None,
    };
    if reason
        .iter()
        .any(|&b| (b < b' ' && b != b'\t') || b == 0x7f)
    {
        return None;
    }
    let d = |x: &u8| u16::from(x - b'0');
    Some((d(a) * 100 + d(b) * 10 + d(c), *minor == b'1', reason))
}

/// Body framing from the headers (None: no framing header) and whether
/// both Transfer-Encoding and Content-Length came.
fn framing(h: &[(String, String)], request: bool) -> Result<(Option<St>, bool), HttpError> {
    let (mut te, mut tes, mut len) = ("", 0, None);
    for (n, v) in h {
        if n == "transfer-encoding" {
            (te, tes) = (v, tes + 1);
        } else if n == "content-length" {
            for p in v.split(',') {
                let p = p.trim();
                let n = p
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| dec::<u64>(p))
                    .flatten()
                    .ok_or_else(|| err(400, format!("bad content-length {p}", p = q(&p))))?;
                if len.is_some_and(|l| l != n) {
                    return Err(err(400, "conflicting content-length"));
                }
                len = Some(n);
            }
        }
    }
    if tes == 0 {
        return Ok((
            len.map(|n| if n == 0 { St::Done } else { St::Len(n) }),
            false,
        ));
    }
    let last = te.rsplit(',').next().unwrap_or_default().trim();
    let chunked = last.eq_ignore_ascii_case("chunked");
    if request && !(chunked && tes == 1 && te == last && len.is_none()) {
        let status = if chunked || len.is_some() { 400 } else { 501 };
        return Err(err(
            status,
            format!("unsupported transfer-encoding {te}", te = q(&te)),
        ));
    }
    Ok((
        Some(if chunked { St::Size } else { St::Close }),
        len.is_some(),
    ))
}

/// A chunk-size line: hex digits, optional whitespace and `;extensions`.
fn chunk_size(l: &[u8]) -> Option<u64> {
    let digits = l.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = trim(&l[digits..]);
    if digits == 0 || !(rest.is_empty() || rest[0] == b';') {
        return None;
    }
    u64::from_str_radix(core::str::from_utf8(&l[..digits]).ok()?, 16).ok()
}

/// HTTP/1.1 keeps connections unless `close`; 1.0 only with `keep-alive`.
fn keep_alive(h: &[(String, String)], v11: bool) -> bool {
    let has = |token: &str| {
        h.iter()
            .filter(|(n, _)| n == "connection")
            .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if v11 {
        !has("close")
    } else {
        has("keep-alive")
    }
}

fn find<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', r @ ..] = s {
        s = r;
    }
    while let [r @ .., b' ' | b'\t'] = s {
        s = r;
    }
    s
}

/// Quotes the start of untrusted bytes for an error message.
/// Percent-encodes `s` onto `out` for a URL path or query: unreserved
/// characters stay, and so do those in `keep` (`/` for a KV key, `:` for a
/// check ID).
pub fn percent_encode(out: &mut String, s: &str, keep: &[u8]) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The text `s` percent-encodes; None for a bad escape or bytes that are
/// not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn show(b: &[u8]) -> String {
    format!("{}", q(&String::from_utf8_lossy(&b[..b.len().min(60)])))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a client sees: each complete response (status, body) in turn,
    /// resetting after each reusable one, then how the input ended.
    type Outcome = (Vec<(u16, Vec<u8>)>, Result<(), HttpError>);

    /// Feeds `pieces` like a keep-alive client, draining the body after
    /// every feed when `stream` is set.
    fn client(pieces: &[&[u8]], no_body: bool, max: usize, stream: bool) -> Outcome {
        let mut p = ResponseParser::new(max);
        p.reset(no_body);
        let mut out = Vec::new();
        let mut body = Vec::new();
        let mut fed = pieces.iter();
        let end = loop {
            let Some(piece) = fed.next() else {
                // Closing an idle keep-alive connection is fine.
                let idle = !out.is_empty() && p.pending() == 0 && p.head.is_none();
                break if idle { Ok(()) } else { p.eof() };
            };
            let mut piece: &[u8] = piece;
            loop {
                let r = p.feed(mem::take(&mut piece));
                if stream {
                    body.append(&mut p.body);
                }
                match r {
                    Err(e) => return (out, Err(e)),
                    Ok(false) => break,
                    Ok(true) => {
                        body.append(&mut p.body);
                        out.push((p.head.as_ref().unwrap().status, mem::take(&mut body)));
                        if !p.reusable() {
                            return (out, Ok(()));
                        }
                        p.reset(no_body);
                    }
                }
            }
        };
        if p.is_complete() {
            body.append(&mut p.body);
            out.push((p.head.as_ref().unwrap().status, body));
        }
        (out, end)
    }

    /// Every split the tests use: whole, byte by byte, pseudo-random.
    fn splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
        let mut all = vec![vec![input], input.chunks(1).collect()];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ input.len() as u64;
        for _ in 0..20 {
            let mut v = Vec::new();
            let mut rest = input;
            while !rest.is_empty() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let n = (seed % 9) as usize;
                let (a, b) = rest.split_at(n.min(rest.len()));
                v.push(a);
                rest = b;
            }
            all.push(v);
        }
        all
    }

    /// The client outcome, checked to be the same under every split and
    /// whether or not the body is drained as it comes.
    fn responses(input: &str, no_body: bool) -> Outcome {
        let input = input.as_bytes();
        let want = client(&[input], no_body, 1 << 20, false);
        for split in splits(input) {
            for stream in [false, true] {
                assert_eq!(client(&split, no_body, 1 << 20, stream), want, "{split:?}");
            }
        }
        want
    }

    fn ok(status: u16, body: &str) -> (u16, Vec<u8>) {
        (status, body.as_bytes().to_vec())
    }

    fn fails(input: &str) -> String {
        let (_, end) = responses(input, false);
        let e = end.unwrap_err();
        assert_eq!(e.status, 502);
        e.msg
    }

    #[test]
    fn consul_response() {
        let input = "HTTP/1.1 200 OK\r\nX-Consul-Index: 42\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]";
        let mut p = ResponseParser::new(1024);
        assert_eq!(p.feed(input.as_bytes()), Ok(true));
        let head = p.head.as_ref().unwrap();
        assert_eq!((head.status, head.reason.as_str()), (200, "OK"));
        assert_eq!(head.header("x-consul-index"), Some("42"));
        assert_eq!(head.header("Content-Type"), Some("application/json"));
        assert_eq!(head.header("X-Missing"), None);
        assert_eq!(p.body, b"[]");
        assert!(p.reusable());
        assert_eq!(p.pending(), 0);
        assert_eq!(responses(input, false), (vec![ok(200, "[]")], Ok(())));
    }

    #[test]
    fn content_length_and_keep_alive_sequence() {
        let two = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\
                   HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n\
                   HTTP/1.1 500 Internal Server Error\r\nContent-Length:3\r\n\r\nerr";
        let want = vec![ok(200, "hello"), ok(404, ""), ok(500, "err")];
        assert_eq!(responses(two, false), (want, Ok(())));
        // Connection: close and HTTP/1.0 end the sequence.
        let close = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(responses(close, false), (vec![ok(200, "x")], Ok(())));
        let old = "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx";
        let mut p = ResponseParser::new(10);
        assert_eq!(p.feed(old.as_bytes()), Ok(true));
        assert!(!p.reusable());
        p.reset(false);
        let old_keep = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx";
        assert_eq!(p.feed(old_keep.as_bytes()), Ok(true));
        assert!(p.reusable());
        // Leftover bytes wait for reset; a lot of them is an error.
        p.reset(false);
        assert_eq!(
            p.feed(b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 2"),
            Ok(true)
        );
        assert_eq!(p.pending(), 10);
        p.reset(false);
        assert_eq!(p.feed(b"00 OK\r\n\r\n"), Ok(false));
        assert_eq!(p.eof(), Ok(()));
        assert!(p.is_complete() && !p.reusable());
        let mut p = ResponseParser::new(10);
        assert_eq!(p.feed(b"HTTP/1.1 204 No Content\r\n\r\n"), Ok(true));
        let e = p.feed(&[b'x'; 17 << 10]).unwrap_err();
        assert_eq!(e.msg, "unexpected data after the response");
    }

    #[test]
    fn chunked() {
        let input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                     5\r\nhello\r\n\
                     7;name=value;x=\"y z\"\r\n, world\r\n\
                     A \r\n0123456789\r\n\
                     0\r\nGrpc-Trailer-Content-Type: application/grpc\r\nX-A: b\r\n\r\n";
        let want = vec![ok(200, "hello, world0123456789")];
        assert_eq!(responses(input, false), (want, Ok(())));
        // LF-only lines, upper-case hex, leading zeros, then another response.
        let lf = "HTTP/1.1 200 OK\nTransfer-Encoding: gzip, Chunked\n\n00B\nhello world\n0\n\nHTTP/1.1 204 No Content\n\n";
        assert_eq!(
            responses(lf, false),
            (vec![ok(200, "hello world"), ok(204, "")], Ok(()))
        );
        // Transfer-Encoding wins over Content-Length, but no reuse.
        let both = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\nHTTP/1.1 204 x\r\n\r\n";
        assert_eq!(responses(both, false), (vec![ok(200, "ab")], Ok(())));
        // Truncated in the middle of a chunk, a size line or the trailers.
        for cut in ["5\r\nhel", "5\r\nhello\r\n", "5\r\nhello\r\n0\r\nX: y\r\n"] {
            let input = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{cut}");
            assert_eq!(
                fails(&input),
                "connection closed before the response was complete"
            );
        }
    }

    #[test]
    fn bad_chunks() {
        for (chunks, msg) in [
            ("x\r\n", "bad chunk size"),
            ("\r\n", "bad chunk size"),
            ("-1\r\n", "bad chunk size"),
            ("5 x\r\nhello\r\n", "bad chunk size"),
            ("10000000000000000\r\n", "bad chunk size"),
            ("5\r\nhelloX\r\n0\r\n\r\n", "missing CRLF after chunk data"),
        ] {
            let input = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}");
            assert_eq!(fails(&input), msg, "{chunks:?}");
        }
        let long = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;{}\r\n",
            "e".repeat(2000)
        );
        assert_eq!(fails(&long), "bad chunk size");
        let long = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx{}",
            " ".repeat(2000)
        );
        assert_eq!(fails(&long), "missing CRLF after chunk data");
        let trailers = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n{}",
            "X: y\r\n".repeat(3000)
        );
        assert_eq!(fails(&trailers), "header too large");
    }

    #[test]
    fn read_until_close() {
        let input = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it\r\n\r\nHTTP/1.1 200 OK\r\n";
        let want = vec![ok(200, "all of it\r\n\r\nHTTP/1.1 200 OK\r\n")];
        assert_eq!(responses(input, false), (want, Ok(())));
        // Unknown transfer coding: until close too.
        let gz = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz";
        assert_eq!(responses(gz, false), (vec![ok(200, "zz")], Ok(())));
        let mut p = ResponseParser::new(100);
        assert_eq!(p.feed(b"HTTP/1.0 200 OK\r\n\r\nabc"), Ok(false));
        assert_eq!(p.body, b"abc");
        assert_eq!(p.eof(), Ok(()));
        assert!(p.is_complete() && !p.reusable());
    }

    #[test]
    fn no_body_responses() {
        // 204 and 304 ignore framing headers; HEAD too.
        let input = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n\
                     HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n\
                     HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        let want = vec![ok(204, ""), ok(304, ""), ok(200, "hi")];
        assert_eq!(responses(input, false), (want, Ok(())));
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nApi-Version: 1.41\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        assert_eq!(
            responses(head, true),
            (vec![ok(200, ""), ok(200, "")], Ok(()))
        );
        // Interim 1xx responses are skipped; 101 ends the HTTP part.
        let cont = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(responses(cont, false), (vec![ok(201, "ok")], Ok(())));
        let mut p = ResponseParser::new(100);
        assert_eq!(
            p.feed(b"HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\nraw"),
            Ok(true)
        );
        assert_eq!((p.head.as_ref().unwrap().status, p.pending()), (101, 3));
    }

    #[test]
    fn etcd_watch_stream() {
        let mut p = ResponseParser::new(4096);
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nGrpc-Metadata-Content-Type: application/grpc\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(p.feed(head.as_bytes()), Ok(false));
        assert_eq!(p.head.as_ref().unwrap().status, 200);
        let created = "{\"result\":{\"header\":{\"revision\":\"7\"},\"created\":true}}\n";
        let event = "{\"result\":{\"header\":{\"revision\":\"8\"},\"events\":[{\"kv\":{\"key\":\"YQ==\"}}]}}\n";
        let mut lines = Vec::new();
        // Messages arrive whole, split across chunks and mid-size-line; each
        // is usable as soon as its bytes are in, while the stream goes on.
        for round in 0..100 {
            let wire = format!(
                "{:x}\r\n{created}\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n",
                created.len(),
                20,
                &event[..20],
                event.len() - 20,
                &event[20..]
            );
            for piece in wire.as_bytes().chunks(7 + round % 5) {
                assert_eq!(p.feed(piece), Ok(false));
                while let Some(i) = p.body.iter().position(|&b| b == b'\n') {
                    lines.push(String::from_utf8(p.body.drain(..=i).collect()).unwrap());
                }
            }
            assert_eq!(lines.len(), 2 * (round + 1));
            assert!(p.body.is_empty());
        }
        assert_eq!(lines[198], created);
        assert_eq!(lines[199], event);
        assert!(!p.is_complete());
        // Not draining: the cap turns an endless stream into an error.
        let chunk = format!("400\r\n{}\r\n", "x".repeat(1024));
        let mut res = Ok(false);
        for _ in 0..5 {
            res = p.feed(chunk.as_bytes());
        }
        assert_eq!(res.unwrap_err().msg, "body exceeds 4096 bytes");
        assert_eq!(
            p.feed(b"").unwrap_err().msg,
            "connection unusable after an error"
        );
    }

    #[test]
    fn limits() {
        let big = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(17 << 10));
        assert_eq!(fails(&big), "header too large");
        let many = format!("HTTP/1.1 200 OK\r\n{}\r\n", "X: y\r\n".repeat(3000));
        assert_eq!(fails(&many), "header too large");
        // Within limits at 16 KiB.
        let fits = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(16000));
        assert_eq!(responses(&fits, true).0.len(), 1);
        let (_, end) = client(
            &[b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"],
            false,
            10,
            false,
        );
        assert_eq!(end.unwrap_err().msg, "body exceeds 10 bytes");
        let (_, end) = client(&[b"HTTP/1.1 200 OK\r\n\r\n", &[b'x'; 11]], false, 10, false);
        assert_eq!(end.unwrap_err().msg, "body exceeds 10 bytes");
        // Draining as it comes, the same bytes fit.
        let (out, end) = client(
            &[b"HTTP/1.1 200 OK\r\n\r\n", &[b'x'; 8], &[b'x'; 8]],
            false,
            10,
            true,
        );
        assert_eq!((out[0].1.len(), end), (16, Ok(())));
    }

    #[test]
    fn malformed_responses() {
        for (input, msg) in [
            ("HTTP/1.1 200\r\n\r\n", ""),
            ("HTTP/1.1 200 \r\n\r\n", ""),
            (
                "HTTP/1.0 400 Bad Request: missing required Host header\r\n\r\n",
                "",
            ),
            (
                "HTTP/2 200 OK\r\n\r\n",
                "malformed status line: \"HTTP/2 200 OK\"",
            ),
            (
                "HTTP/1.1 20 OK\r\n\r\n",
                "malformed status line: \"HTTP/1.1 20 OK\"",
            ),
            (
                "HTTP/1.1 2000 OK\r\n\r\n",
                "malformed status line: \"HTTP/1.1 2000 OK\"",
            ),
            (
                "HTTP/1.1  200 OK\r\n\r\n",
                "malformed status line: \"HTTP/1.1  200 OK\"",
            ),
            (
                "http/1.1 200 OK\r\n\r\n",
                "malformed status line: \"http/1.1 200 OK\"",
            ),
            (
                "HTTP/1.1 099 OK\r\n\r\n",
                "malformed status line: \"HTTP/1.1 099 OK\"",
            ),
            (
                "HTTP/1.1 200 O\rK\r\n\r\n",
                "malformed status line: \"HTTP/1.1 200 O\\rK\"",
            ),
            ("garbage\n\n", "malformed status line: \"garbage\""),
            (
                "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
                "obsolete line folding in header",
            ),
            (
                "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n",
                "obsolete line folding in header",
            ),
            (
                "HTTP/1.1 200 OK\r\nName : v\r\n\r\n",
                "malformed header line: \"Name : v\"",
            ),
            (
                "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                "malformed header line: \"no colon\"",
            ),
            (
                "HTTP/1.1 200 OK\r\n: v\r\n\r\n",
                "malformed header line: \": v\"",
            ),
            (
                "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
                "control character in header \"A\"",
            ),
            (
                "HTTP/1.1 200 OK\r\nA: b\0\r\n\r\n",
                "control character in header \"A\"",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "bad content-length \"-1\"",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
                "bad content-length \"+1\"",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 0x1\r\n\r\n",
                "bad content-length \"0x1\"",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
                "bad content-length \"\"",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                "bad content-length \"99999999999999999999\"",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
                "conflicting content-length",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nxx",
                "conflicting content-length",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxx",
                "connection closed before the response was complete",
            ),
            (
                "HTTP/1.1 200 OK\r\n",
                "connection closed before the response was complete",
            ),
            ("", "connection closed before the response was complete"),
        ] {
            let (out, end) = responses(input, false);
            if msg.is_empty() {
                assert_eq!((out.len(), end), (1, Ok(())), "{input:?}");
            } else {
                assert_eq!(end.unwrap_err().msg, msg, "{input:?}");
            }
        }
        // Equal repeats are one length; whitespace is trimmed.
        let dup = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2, 2\r\nX-Pad: \t a b \t\r\n\r\nok";
        assert_eq!(responses(dup, false), (vec![ok(200, "ok")], Ok(())));
        let mut p = ResponseParser::new(10);
        p.feed(dup.as_bytes()).unwrap();
        assert_eq!(p.head.unwrap().header("x-pad"), Some("a b"));
        // Blank lines before a status line are skipped.
        assert_eq!(
            responses("\r\n\nHTTP/1.1 204 x\r\n\r\n", false).0,
            vec![ok(204, "")]
        );
    }

    #[test]
    fn writes_requests() {
        let mut out = Vec::new();
        let headers = [
            ("Content-Type", "application/json"),
            ("X-Consul-Token", "t\r\nEvil: 1"),
        ];
        let req = Request {
            method: "PUT",
            path: "/v1/agent/service/register?replace-existing-checks",
            headers: &headers,
            body: b"{}",
        };
        write_request(&mut out, "127.0.0.1:8500", &req);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PUT /v1/agent/service/register?replace-existing-checks HTTP/1.1\r\nHost: 127.0.0.1:8500\r\n\
             Content-Type: application/json\r\nX-Consul-Token: t  Evil: 1\r\nConnection: keep-alive\r\n\
             Content-Length: 2\r\n\r\n{}"
        );
        let mut out = Vec::new();
        let put = Request {
            method: "PUT",
            path: "/x",
            headers: &[("connection", "close")],
            body: b"",
        };
        write_request(&mut out, "h", &put);
        assert_eq!(
            out,
            b"PUT /x HTTP/1.1\r\nHost: h\r\nconnection: close\r\nContent-Length: 0\r\n\r\n"
        );
        let mut out = Vec::new();
        let get = Request {
            method: "GET",
            path: "/_ping",
            headers: &[],
            body: b"",
        };
        write_request(&mut out, "docker", &get);
        assert_eq!(
            out,
            b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: keep-alive\r\n\r\n"
        );
        // A server reads what the client wrote.
        let mut out = Vec::new();
        write_request(&mut out, "h", &req);
        let got = RequestParser::new(100).feed(&out).unwrap().unwrap();
        assert_eq!(
            (got.method.as_str(), got.path.as_str()),
            ("PUT", "/v1/agent/service/register")
        );
        assert_eq!(got.query, "replace-existing-checks");
        assert_eq!((got.body.as_slice(), got.keep_alive), (&b"{}"[..], true));
        assert_eq!(got.header("x-consul-token"), Some("t  Evil: 1"));
    }

    #[test]
    fn writes_responses() {
        let mut out = Vec::new();
        let h = [("Content-Type", "text/plain; version=0.0.4")];
        write_response(&mut out, 200, "OK", &h, b"up 1\n", true);
        write_response(&mut out, 204, "No Content", &[], b"ignored", true);
        write_response(&mut out, 503, "Unavailable", &[], b"", false);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nup 1\n\
             HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n\
             HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let s = String::from_utf8(out).unwrap();
        let want = vec![ok(200, "up 1\n"), ok(204, ""), ok(503, "")];
        assert_eq!(responses(&s, false), (want, Ok(())));
    }

    /// What a server sees: every request, then how the input ended.
    fn server(pieces: &[&[u8]], max: usize) -> (Vec<ParsedRequest>, Result<(), HttpError>) {
        let mut p = RequestParser::new(max);
        let mut out = Vec::new();
        for piece in pieces {
            let mut r = p.feed(piece);
            loop {
                match r {
                    Ok(Some(req)) => out.push(req),
                    Ok(None) => break,
                    Err(e) => return (out, Err(e)),
                }
                r = p.feed(b"");
            }
        }
        (out, Ok(()))
    }

    /// Server outcome, the same under every split.
    fn requests(input: &str) -> (Vec<ParsedRequest>, Result<(), HttpError>) {
        let want = server(&[input.as_bytes()], 1000);
        for split in splits(input.as_bytes()) {
            assert_eq!(server(&split, 1000), want, "{split:?}");
        }
        want
    }

    fn rejects(input: &str) -> (u16, String) {
        let e = requests(input).1.expect_err(input);
        (e.status, e.msg)
    }

    #[test]
    fn parses_requests() {
        let input = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n\
                     POST /v1/reload?force=1&x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody\
                     \r\nPUT /chunked HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n3;x\nabc\n2\nde\n0\nT: 1\n\n\
                     GET / HTTP/1.0\r\n\r\n\
                     OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\nHost: h\r\n\r\n\
                     GET /last HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n\
                     GET /partial HTTP/1.1\r\nHost:";
        let (reqs, end) = requests(input);
        assert_eq!(end, Ok(()));
        let got: Vec<_> = reqs
            .iter()
            .map(|r| {
                let body = String::from_utf8(r.body.clone()).unwrap();
                (
                    r.method.as_str(),
                    r.path.as_str(),
                    r.query.as_str(),
                    body,
                    r.keep_alive,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("GET", "/metrics", "", String::new(), true),
                ("POST", "/v1/reload", "force=1&x", "body".into(), true),
                ("PUT", "/chunked", "", "abcde".into(), true),
                ("GET", "/", "", String::new(), false),
                ("OPTIONS", "*", "", String::new(), true),
                ("GET", "/last", "", String::new(), false),
            ]
        );
        assert_eq!(reqs[0].header("ACCEPT"), Some("*/*"));
        assert_eq!(reqs[0].headers[0], ("host".into(), "localhost".into()));
    }

    #[test]
    fn expect_continue() {
        let mut p = RequestParser::new(100);
        let head =
            b"POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(p.feed(head), Ok(None));
        assert!(p.expects_continue());
        assert_eq!(p.feed(b"a"), Ok(None));
        assert!(!p.expects_continue());
        assert_eq!(p.feed(b"bc").unwrap().unwrap().body, b"abc");
        assert!(!p.expects_continue());
    }

    #[test]
    fn hostile_requests() {
        for (input, status, msg) in [
            (
                "GET /x HTTP/1.1\r\n\r\n",
                400,
                "missing or repeated Host header",
            ),
            (
                "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                400,
                "missing or repeated Host header",
            ),
            (
                "GET /x HTTP/2.0\r\nHost: a\r\n\r\n",
                505,
                "HTTP version not supported",
            ),
            (
                "GET /x http/1.1\r\nHost: a\r\n\r\n",
                400,
                "malformed request line: \"GET /x http/1.1\"",
            ),
            (
                "GET  /x HTTP/1.1\r\nHost: a\r\n\r\n",
                400,
                "malformed request line: \"GET  /x HTTP/1.1\"",
            ),
            (
                "GET /x HTTP/1.1 \r\nHost: a\r\n\r\n",
                400,
                "malformed request line: \"GET /x HTTP/1.1 \"",
            ),
            (
                "GET x HTTP/1.1\r\nHost: a\r\n\r\n",
                400,
                "malformed request line: \"GET x HTTP/1.1\"",
            ),
            (
                "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
                400,
                "malformed request line: \"G(T / HTTP/1.1\"",
            ),
            (
                "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
                400,
                "malformed request line: \"GET /\\u{1} HTTP/1.1\"",
            ),
            (
                "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
                400,
                "malformed request line: \"GET /\\r HTTP/1.1\"",
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\n x\r\n\r\n",
                400,
                "obsolete line folding in header",
            ),
            (
                "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
                400,
                "malformed header line: \"Host : a\"",
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
                400,
                "control character in header \"Host\"",
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
                400,
                "bad content-length \"-5\"",
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
                "conflicting content-length",
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n",
                413,
                "body exceeds 1000 bytes",
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
                400,
                "bad content-length \"18446744073709551616\"",
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
                501,
                "unsupported transfer-encoding \"gzip\"",
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                400,
                "unsupported transfer-encoding \"gzip, chunked\"",
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                400,
                "unsupported transfer-encoding \"chunked\"",
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
                "unsupported transfer-encoding \"chunked\"",
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
                400,
                "bad chunk size",
            ),
        ] {
            assert_eq!(rejects(input), (status, msg.into()), "{input:?}");
        }
        let huge = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n{}",
            "x".repeat(1001)
        );
        assert_eq!(rejects(&huge), (413, "body exceeds 1000 bytes".into()));
        // Head limit (8 KiB) with and without the end in sight.
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "a".repeat(8200)
        );
        assert_eq!(rejects(&big), (431, "header too large".into()));
        let endless = "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n".repeat(500);
        assert_eq!(rejects(&endless), (431, "header too large".into()));
        let trailers = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n{}",
            "T: x\r\n".repeat(2000)
        );
        assert_eq!(rejects(&trailers), (431, "header too large".into()));
        // A chunked body over the cap, fed a piece at a time.
        let mut p = RequestParser::new(250);
        let head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(p.feed(head), Ok(None));
        let chunk = format!("64\r\n{}\r\n", "x".repeat(100));
        assert_eq!(p.feed(chunk.as_bytes()), Ok(None));
        assert_eq!(p.feed(chunk.as_bytes()), Ok(None));
        let e = p.feed(chunk.as_bytes()).unwrap_err();
        assert_eq!(e, err(413, "body exceeds 250 bytes"));
        assert_eq!(
            p.feed(b"GET / HTTP/1.0\r\n\r\n").unwrap_err().msg,
            "connection unusable after an error"
        );
        // Endless blank lines cost nothing and keep nothing.
        let mut p = RequestParser::new(10);
        for _ in 0..10000 {
            assert_eq!(p.feed(b"\r\n\r\n\n"), Ok(None));
        }
        assert_eq!(p.codec.buf.len(), 0);
    }

    #[test]
    fn linear_time() {
        // 1 MiB of tiny chunks in one feed, and a 16 KiB head byte by byte.
        let mut input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..200_000 {
            input.extend_from_slice(b"1\r\nx\r\n");
        }
        input.extend_from_slice(b"0\r\n\r\n");
        let mut p = ResponseParser::new(1 << 20);
        assert_eq!(p.feed(&input), Ok(true));
        assert_eq!(p.body.len(), 200_000);
        let head = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(16000));
        let mut p = ResponseParser::new(0);
        for b in head.as_bytes() {
            p.feed(&[*b]).unwrap();
        }
        assert!(p.is_complete() || p.head.is_some());
    }

    #[test]
    fn mutated_responses_never_panic_or_overgrow() {
        let seeds = [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000 {
            let mut m = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % m.len();
                match next() % 3 {
                    0 => m[i] = next() as u8,
                    1 => m.insert(i, b"\r\n0:;fF \x00"[(next() % 9) as usize]),
                    _ => {
                        m.remove(i);
                    }
                }
                if m.is_empty() {
                    m.push(b'H');
                }
            }
            let mut p = ResponseParser::new(16);
            p.reset(next() % 8 == 0);
            let mut rest = &m[..];
            while !rest.is_empty() {
                let n = 1 + (next() as usize) % 7;
                let (a, b) = rest.split_at(n.min(rest.len()));
                rest = b;
                match p.feed(a) {
                    Ok(true) if p.reusable() => p.reset(false),
                    Ok(_) => {}
                    Err(e) => {
                        assert_eq!(e.status, 502);
                        assert!(!e.msg.is_empty() && !e.msg.contains('\n'), "{e:?}");
                        break;
                    }
                }
                assert!(p.body.len() <= 16);
                assert!(p.pending() <= (16 << 10) + 8);
            }
            let _ = p.eof();
        }
    }

    #[test]
    fn random_bytes_are_rejected_within_the_head_limit() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200 {
            let mut p = ResponseParser::new(1 << 20);
            let mut fed = 0;
            let res = loop {
                let chunk: Vec<u8> = (0..4096)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed as u8
                    })
                    .collect();
                fed += chunk.len();
                match p.feed(&chunk) {
                    Ok(_) if fed < 1 << 20 => continue,
                    other => break other,
                }
            };
            assert!(res.is_err(), "{res:?}");
            assert!(fed <= 20 << 10, "accepted {fed} bytes of noise");
        }
    }
}
