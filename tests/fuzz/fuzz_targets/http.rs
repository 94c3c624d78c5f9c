//! HTTP/1.1 parsers: any bytes, cut anywhere, must give the same messages
//! or error as when fed whole, never a panic; a message completes once and
//! consumes input; bodies never hold more bytes than came in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::net::http::{HttpError, ParsedRequest, RequestParser, ResponseParser};

/// Cuts `input` into pieces (some empty) whose sizes come from `data`.
fn pieces<'a>(input: &'a [u8], data: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    let mut k = 0;
    while !rest.is_empty() {
        let x = data[k % data.len()] as usize + k / data.len();
        k += 1;
        if x % 11 == 0 {
            out.push(&rest[..0]);
        }
        let (a, b) = rest.split_at((1 + x % 13).min(rest.len()));
        out.push(a);
        rest = b;
    }
    out
}

type Responses = (Vec<(u16, Vec<u8>)>, Result<(), HttpError>);

/// A keep-alive client: resets after each reusable response; `stream`
/// drains the body after every feed.
fn client(pieces: &[&[u8]], no_body: bool, max: usize, stream: bool) -> Responses {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut p = ResponseParser::new(max);
    p.reset(no_body);
    let (mut out, mut body, mut delivered) = (Vec::new(), Vec::new(), 0);
    let mut fed = pieces.iter();
    let end = loop {
        let Some(piece) = fed.next() else {
            let idle = !out.is_empty() && p.pending() == 0 && p.head.is_none();
            break if idle { Ok(()) } else { p.eof() };
        };
        let mut piece: &[u8] = piece;
        loop {
            let r = p.feed(std::mem::take(&mut piece));
            assert!(p.body.len() <= max);
            assert!(delivered + p.body.len() <= total);
            if stream || r == Ok(true) {
                delivered += p.body.len();
                body.append(&mut p.body);
            }
            match r {
                Err(e) => return (out, Err(e)),
                Ok(false) => break,
                Ok(true) => {
                    // Complete once: feeding nothing changes nothing.
                    assert_eq!(p.feed(&[]), Ok(true));
                    assert!(p.body.is_empty());
                    out.push((p.head.as_ref().unwrap().status, std::mem::take(&mut body)));
                    // A status line and a blank line at least.
                    assert!(out.len() * 14 <= total);
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

type Requests = (Vec<ParsedRequest>, Result<(), HttpError>);

fn server(pieces: &[&[u8]], max: usize) -> Requests {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut p = RequestParser::new(max);
    let (mut out, mut bodies) = (Vec::new(), 0);
    for piece in pieces {
        let mut r = p.feed(piece);
        p.expects_continue();
        loop {
            match r {
                Ok(Some(req)) => {
                    bodies += req.body.len();
                    assert!(req.body.len() <= max && bodies <= total);
                    out.push(req);
                    // "X * HTTP/1.0\n\n" is the shortest request.
                    assert!(out.len() * 14 <= total);
                }
                Ok(None) => break,
                Err(e) => return (out, Err(e)),
            }
            r = p.feed(b"");
        }
    }
    (out, Ok(()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let cut = pieces(input, data);
    let no_body = flags & 1 == 1;
    // Differential: whole versus cut, nothing over the body cap.
    let whole = client(&[input], no_body, 1 << 20, false);
    assert_eq!(client(&cut, no_body, 1 << 20, false), whole);
    assert_eq!(server(&cut, 1 << 20), server(&[input], 1 << 20));
    // Small caps: streaming drains, servers refuse.
    let max = usize::from(flags >> 1);
    let _ = client(&cut, no_body, max, true);
    let _ = server(&cut, max);
});
