//! INTERFACE STUB (to be implemented): a loop-driven HTTP/1.1 client over
//! non-blocking TCP and unix sockets, with name resolution inside the loop.
//!
//! Contract (callers rely on it):
//! - `start` never blocks and never fails synchronously: an error that is
//!   known at once (bad endpoint, ENOENT on a unix socket) is pushed to
//!   `out` as `Reply::Done` with `Err`.
//! - Tokens and timer keys: a client owns `token_base..token_base +
//!   TOKEN_SPAN`; the owner routes any token/key for which `owns` is true
//!   to `on_ready`/`on_timer`.
//! - Every call ends with exactly one `Reply::Done` (unless cancelled).
//!   Streaming calls first get one `Reply::Head` and any number of
//!   `Reply::Data` (decoded body bytes, chunk boundaries not preserved).
//! - Idle keep-alive connections are reused per endpoint.

use crate::event_loop::EventLoop;
use crate::net::http::ResponseHead;
use alloc::string::String;
use alloc::vec::Vec;

pub const TOKEN_SPAN: u64 = 1 << 32;

/// Where a server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A host name or IP literal (no brackets) and a port.
    Tcp { host: String, port: u16 },
    /// A unix socket path.
    Unix(String),
}

impl Endpoint {
    /// Parses `host:port`, `[v6]:port`, `http://host:port`, `host` (with
    /// `default_port`), `unix:///path` or `unix:/path`. `https://` is an
    /// error (no TLS in tug), said so.
    pub fn parse(_s: &str, _default_port: u16) -> Result<Endpoint, String> {
        unimplemented!()
    }

    /// The Host header value for requests to this endpoint.
    pub fn host_header(&self) -> String {
        unimplemented!()
    }
}

/// One request.
pub struct Call {
    pub method: &'static str,
    /// Origin form, already percent-encoded: path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Overall deadline for the whole exchange, from `start` (connect,
    /// write, head and body). None: no deadline (streams).
    pub timeout_ns: Option<u64>,
    /// Deliver the body as it arrives (`Reply::Head`, `Reply::Data`)
    /// instead of whole in `Done`.
    pub stream: bool,
    /// Largest body held at once (whole body, or undrained stream bytes).
    pub max_body: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CallId(pub u64);

#[derive(Debug)]
pub struct Response {
    pub head: ResponseHead,
    /// The whole body (empty for streams: it went out as `Data`).
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum Reply {
    Head(CallId, ResponseHead),
    Data(CallId, Vec<u8>),
    /// Err: a one-line reason (connect refused, timed out, bad response...).
    Done(CallId, Result<Response, String>),
}

pub struct Client {}

impl Client {
    pub fn new(_token_base: u64) -> Client {
        unimplemented!()
    }

    pub fn owns(&self, _token: u64) -> bool {
        unimplemented!()
    }

    pub fn start(
        &mut self,
        _lp: &mut EventLoop,
        _ep: &Endpoint,
        _call: Call,
        _out: &mut Vec<Reply>,
    ) -> CallId {
        unimplemented!()
    }

    /// Abandons a call: its connection is closed, no more replies.
    pub fn cancel(&mut self, _lp: &mut EventLoop, _id: CallId) {
        unimplemented!()
    }

    pub fn on_ready(&mut self, _lp: &mut EventLoop, _token: u64, _out: &mut Vec<Reply>) {
        unimplemented!()
    }

    pub fn on_timer(&mut self, _lp: &mut EventLoop, _key: u64, _out: &mut Vec<Reply>) {
        unimplemented!()
    }

    /// Calls not yet done.
    pub fn in_flight(&self) -> usize {
        unimplemented!()
    }
}
