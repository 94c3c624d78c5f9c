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
//! - Between octet-counted frames LF, CR and spaces are skipped (some
//!   senders end each frame with LF).
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
                    if self.buf.is_empty() && matches!(b, b'\n' | b'\r' | b' ') {
                        // Between frames: some senders end each with LF.
                        s = &s[1..];
                    } else if b.is_ascii_digit() && self.buf.len() < 9 {
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
                    let room = self.max.saturating_sub(self.buf.len());
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
                            if self.buf.len() >= self.max && !s.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame `input` gives when fed in one piece, then split at
    /// every byte boundary (and byte by byte): always the same.
    fn frames(max: usize, input: &[u8]) -> Vec<(Vec<u8>, bool)> {
        let run = |pieces: &[&[u8]]| {
            let mut d = Decoder::new(max);
            let mut got: Vec<(Vec<u8>, bool)> = Vec::new();
            for p in pieces {
                got.extend(d.feed(p).into_iter().map(|f| (f.bytes, f.cut)));
            }
            got.extend(d.finish().map(|f| (f.bytes, f.cut)));
            got
        };
        let whole = run(&[input]);
        for i in 0..=input.len() {
            let (a, b) = input.split_at(i);
            assert_eq!(run(&[a, b]), whole, "split at {i}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(&bytes), whole, "byte by byte");
        whole
    }

    fn f(b: &[u8], cut: bool) -> (Vec<u8>, bool) {
        (b.to_vec(), cut)
    }

    #[test]
    fn octet_counting() {
        let got = frames(64, b"5 <13>a11 <13>b\nc d \n0 3 xyz");
        assert_eq!(
            got,
            [
                f(b"<13>a", false),
                f(b"<13>b\nc d \n", false),
                f(b"xyz", false)
            ]
        );
        // Over the maximum: pieces, all flagged; the next frame is whole.
        let got = frames(4, b"10 0123456789\n2 ok");
        assert_eq!(
            got,
            [
                f(b"0123", true),
                f(b"4567", true),
                f(b"89", true),
                f(b"ok", false)
            ]
        );
        // EOF in the middle of a message: what came, flagged.
        assert_eq!(frames(64, b"10 abc"), [f(b"abc", true)]);
        let mut d = Decoder::new(64);
        assert_eq!(d.octet_counting(), None);
        d.feed(b"1");
        assert_eq!(d.octet_counting(), Some(true));
    }

    #[test]
    fn newline_framing() {
        let got = frames(64, b"<13>a\r\n\n<14>b\n<15>c");
        assert_eq!(
            got,
            [f(b"<13>a", false), f(b"<14>b", false), f(b"<15>c", false)]
        );
        // A NUL is data, not a delimiter.
        assert_eq!(frames(64, b"<13>a\0b\n"), [f(b"<13>a\0b", false)]);
        // Long lines in pieces of the maximum; a line of exactly the
        // maximum is whole.
        let got = frames(4, b"<123456789\nabcd\nxy\n");
        let want = [
            f(b"<123", true),
            f(b"4567", true),
            f(b"89", true),
            f(b"abcd", false),
            f(b"xy", false),
        ];
        assert_eq!(got, want);
        assert_eq!(
            frames(4, b"<1234567\n"),
            [f(b"<123", true), f(b"4567", true)]
        );
        // A bad count longer than the maximum still comes out in pieces.
        assert_eq!(frames(4, b"123456x\n"), [f(b"123456", true), f(b"x", true)]);
        let mut d = Decoder::new(64);
        d.feed(b"<");
        assert_eq!(d.octet_counting(), Some(false));
    }

    #[test]
    fn a_bad_count_turns_to_lines_keeping_the_bytes() {
        let got = frames(64, b"12ab\n3 x\n");
        assert_eq!(got, [f(b"12ab", false), f(b"3 x", false)]);
        assert_eq!(frames(64, b"1234567890 x\n"), [f(b"1234567890 x", false)]);
        assert_eq!(frames(64, b"12"), [f(b"12", false)]);
    }

    #[test]
    fn a_60_kib_message_is_one_frame() {
        let msg = [b'm'; 60 * 1024];
        let mut d = Decoder::new(MAX_FRAME);
        let mut input = b"61440 ".to_vec();
        input.extend_from_slice(&msg);
        let mut got = Vec::new();
        for piece in input.chunks(1000) {
            got.extend(d.feed(piece));
        }
        assert_eq!(
            got,
            [Frame {
                bytes: msg.to_vec(),
                cut: false
            }]
        );
    }
}
