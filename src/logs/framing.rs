//! Syslog over TCP: a sans-IO decoder that turns a connection's bytes
//! into messages. One `Decoder` per connection; `feed` takes whatever a
//! read returned and gives the frames it completed, `finish` the rest at
//! EOF.
//!
//! Decisions:
//! - Framing is detected once per connection from its first byte: a
//!   digit means RFC 6587 octet counting (`LEN SP MSG`), anything else
//!   (`<` normally) newline framing (LF ends a message, a CR before it
//!   is dropped; NUL is not a delimiter: 5424 MSG may hold any octet).
//!   Empty lines are skipped.
//! - A count that is not 1-9 digits and a space (a sender mixing the two)
//!   turns the connection to newline framing for good, keeping the bytes:
//!   rsyslog does the same, and nothing is lost.
//! - No frame is held beyond `max` bytes: a longer message is delivered
//!   in pieces of `max`, each flagged `cut` (the last piece too), so
//!   memory stays bounded and nothing is dropped.

use alloc::vec::Vec;

/// The default largest frame: 256 KiB.
pub const MAX_FRAME: usize = 256 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub bytes: Vec<u8>,
    /// A piece of a message longer than the decoder's maximum.
    pub cut: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Unknown,
    /// Reading the count; then `Octets(left)` of a message, `cut` when it
    /// is longer than the maximum.
    Count,
    Octets {
        left: usize,
        cut: bool,
    },
    Lines {
        cut: bool,
    },
}

pub struct Decoder {
    mode: Mode,
    buf: Vec<u8>,
    max: usize,
}

impl Decoder {
    pub fn new(max: usize) -> Decoder {
        Decoder {
            mode: Mode::Unknown,
            buf: Vec::new(),
            max: max.max(1),
        }
    }

    /// Whether the connection uses octet counting (None: no byte yet).
    pub fn octet_counting(&self) -> Option<bool> {
        match self.mode {
            Mode::Unknown => None,
            Mode::Lines { .. } => Some(false),
            _ => Some(true),
        }
    }

    /// The frames `bytes` completes, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        let mut s = bytes;
        while !s.is_empty() {
            match self.mode {
                Mode::Unknown => {
                    self.mode = if s[0].is_ascii_digit() {
                        Mode::Count
                    } else {
                        Mode::Lines { cut: false }
                    };
                }
                Mode::Count => {
                    let b = s[0];
                    if b.is_ascii_digit() && self.buf.len() < 9 {
                        self.buf.push(b);
                        s = &s[1..];
                    } else if b == b' ' && !self.buf.is_empty() {
                        let n = self
                            .buf
                            .iter()
                            .fold(0, |n, d| n * 10 + usize::from(d - b'0'));
                        self.buf.clear();
                        s = &s[1..];
                        self.mode = Mode::Octets {
                            left: n,
                            cut: n > self.max,
                        };
                        if n == 0 {
                            self.mode = Mode::Count;
                        }
                    } else {
                        // Not a count: the rest of the connection is lines,
                        // starting with the digits read so far.
                        self.mode = Mode::Lines { cut: false };
                    }
                }
                Mode::Octets { left, cut } => {
                    let take = left.min(s.len()).min(self.max - self.buf.len());
                    self.buf.extend_from_slice(&s[..take]);
                    s = &s[take..];
                    let left = left - take;
                    self.mode = Mode::Octets { left, cut };
                    if left == 0 || self.buf.len() == self.max {
                        out.push(self.take(cut));
                    }
                    if left == 0 {
                        self.mode = Mode::Count;
                    }
                }
                Mode::Lines { cut } => {
                    let room = self.max - self.buf.len();
                    match s.iter().take(room + 1).position(|&b| b == b'\n') {
                        Some(nl) => {
                            self.buf.extend_from_slice(&s[..nl]);
                            s = &s[nl + 1..];
                            if self.buf.last() == Some(&b'\r') {
                                self.buf.pop();
                            }
                            if !self.buf.is_empty() {
                                out.push(self.take(cut));
                            }
                            self.mode = Mode::Lines { cut: false };
                        }
                        None => {
                            let take = room.min(s.len());
                            self.buf.extend_from_slice(&s[..take]);
                            s = &s[take..];
                            if self.buf.len() == self.max && !s.is_empty() {
                                // Full and the line goes on: a piece.
                                out.push(self.take(true));
                                self.mode = Mode::Lines { cut: true };
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// At EOF: what is left, complete or not (an unfinished octet-counted
    /// message is flagged `cut`).
    pub fn finish(&mut self) -> Option<Frame> {
        let cut = match self.mode {
            Mode::Octets { .. } => true,
            Mode::Lines { cut } => cut,
            _ => false,
        };
        self.mode = Mode::Unknown;
        if let Some(b'\r') = self.buf.last() {
            self.buf.pop();
        }
        (!self.buf.is_empty()).then(|| self.take(cut))
    }

    fn take(&mut self, cut: bool) -> Frame {
        Frame {
            bytes: core::mem::take(&mut self.buf),
            cut,
        }
    }
}
