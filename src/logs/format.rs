//! A `Record` written for an output: one line in one of the four output
//! formats (`write`), or one message for a remote syslog (`rfc5424`,
//! `rfc3164`) and its TCP framing (`octet_frame`). Pure functions that
//! append to a buffer.
//!
//! Decisions:
//! - Text and JSON are tug's own line shapes (src/log.rs): `time="…"
//!   level=… msg="…"`, then ` job="…" pid=N` (a record's program and pid;
//!   none for tug's own records, program `tug`, whose lines today have
//!   neither), then ` host="…"` when the message named a host. Quoting is
//!   JSON's, as there. Levels from severities: emerg/alert/crit `fatal`,
//!   err `error`, warning `warning`, notice/info `info`, debug `debug`
//!   (the inverse of tug's own Level → severity: fatal is crit).
//!   The `stream=` of today's job lines is not in a Record and not written.
//! - RFC 5424: `<PRI>1 TS HOST APP PROCID MSGID SD [SP MSG]`, `-` for
//!   what is unknown, the time in UTC with microseconds and `Z` (`-` for
//!   a year outside 0000-9999). A space in a header field becomes `_`
//!   (it would split the header). No BOM is written in front of MSG
//!   unless the text itself starts with U+FEFF (the receiver strips one).
//! - Classic and RFC 3164 use local time at the given offset, the day
//!   padded with a space; `prog[pid]: ` is left out when there is no
//!   program. RFC 3164's 1024-byte limit is not applied: nothing is cut.
//! - The host is the record's own when it has one, else `host` (tug's).

use super::syslog::MONTHS;
use super::{FACILITIES, Record};
use crate::calendar::{DAY, civil_from_days};
use alloc::string::String;
use alloc::vec::Vec;

/// An output's line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `time="…" level=info msg="…" job="…" pid=N`
    Text,
    /// One JSON object per line, the same fields.
    Json,
    /// RFC 5424, one message per line.
    Rfc5424,
    /// `Mmm dd hh:mm:ss host prog[pid]: msg` in local time.
    Classic { utc_offset: i32 },
}

/// Appends `rec` as one line (with its newline).
pub fn write(fmt: Format, rec: &Record, host: &str, out: &mut Vec<u8>) {
    match fmt {
        Format::Text | Format::Json => structured(fmt == Format::Json, rec, out),
        Format::Rfc5424 => rfc5424(rec, host, out),
        Format::Classic { utc_offset } => classic(rec, host, utc_offset, out),
    }
    out.push(b'\n');
}

/// The level word of a severity, as tug's own lines name them.
pub fn level(severity: u8) -> &'static str {
    match severity {
        0..=2 => "fatal",
        3 => "error",
        4 => "warning",
        5 | 6 => "info",
        _ => "debug",
    }
}

fn structured(json: bool, rec: &Record, out: &mut Vec<u8>) {
    let job = (rec.program != "tug" && !rec.program.is_empty()).then_some(rec.program.as_str());
    let pid = if rec.program == "tug" { None } else { rec.pid };
    let mut time = Vec::with_capacity(24);
    timestamp(rec.time, 3, &mut time);
    let time = core::str::from_utf8(&time).unwrap_or("-");
    if json {
        let mut w = crate::json::Writer::new();
        w.begin_object()
            .field("time", time)
            .field("level", level(rec.severity));
        w.field("msg", &rec.text);
        if let Some(j) = job {
            w.field("job", j);
        }
        if let Some(p) = pid {
            w.key("pid").int(i64::from(p));
        }
        if let Some(h) = &rec.host {
            w.field("host", h);
        }
        w.end_object();
        out.extend_from_slice(w.finish().as_bytes());
        return;
    }
    out.extend_from_slice(b"time=\"");
    out.extend_from_slice(time.as_bytes());
    out.extend_from_slice(b"\" level=");
    out.extend_from_slice(level(rec.severity).as_bytes());
    out.extend_from_slice(b" msg=");
    quote(&rec.text, out);
    if let Some(j) = job {
        out.extend_from_slice(b" job=");
        quote(j, out);
    }
    if let Some(p) = pid {
        out.extend_from_slice(b" pid=");
        int(out, i64::from(p), 1);
    }
    if let Some(h) = &rec.host {
        out.extend_from_slice(b" host=");
        quote(h, out);
    }
}

fn quote(s: &str, out: &mut Vec<u8>) {
    let mut q = String::with_capacity(s.len() + 2);
    crate::json::quote(&mut q, s);
    out.extend_from_slice(q.as_bytes());
}

/// `<PRI>1 TS HOST APP PROCID MSGID SD [SP MSG]` (no newline).
pub fn rfc5424(rec: &Record, host: &str, out: &mut Vec<u8>) {
    pri(rec, out);
    out.extend_from_slice(b"1 ");
    if !timestamp(rec.time, 6, out) {
        out.push(b'-');
    }
    out.push(b' ');
    field(rec.host.as_deref().unwrap_or(host), out);
    out.push(b' ');
    field(&rec.program, out);
    out.push(b' ');
    match rec.pid {
        Some(p) => int(out, i64::from(p), 1),
        None => out.push(b'-'),
    }
    out.push(b' ');
    field(rec.msgid.as_deref().unwrap_or(""), out);
    out.push(b' ');
    out.extend_from_slice(rec.structured.as_deref().unwrap_or("-").as_bytes());
    if !rec.text.is_empty() {
        out.push(b' ');
        if rec.text.starts_with('\u{feff}') {
            out.extend_from_slice("\u{feff}".as_bytes());
        }
        out.extend_from_slice(rec.text.as_bytes());
    }
}

/// `<PRI>Mmm dd hh:mm:ss host prog[pid]: msg` (no newline), local time.
pub fn rfc3164(rec: &Record, host: &str, utc_offset: i32, out: &mut Vec<u8>) {
    pri(rec, out);
    classic(rec, host, utc_offset, out);
}

/// RFC 6587 octet counting: `LEN SP MSG`.
pub fn octet_frame(msg: &[u8], out: &mut Vec<u8>) {
    int(out, msg.len() as i64, 1);
    out.push(b' ');
    out.extend_from_slice(msg);
}

fn classic(rec: &Record, host: &str, utc_offset: i32, out: &mut Vec<u8>) {
    let t = rec.time.0.saturating_add(i64::from(utc_offset));
    let (_, m, d) = civil_from_days(t.div_euclid(DAY));
    let rem = t.rem_euclid(DAY);
    out.extend_from_slice(MONTHS[m as usize - 1]);
    out.push(b' ');
    if d < 10 {
        out.push(b' ');
    }
    for (i, v) in [i64::from(d), rem / 3600, rem / 60 % 60, rem % 60]
        .into_iter()
        .enumerate()
    {
        int(out, v, if i == 0 { 1 } else { 2 });
        out.push(if i == 0 || i == 3 { b' ' } else { b':' });
    }
    field(rec.host.as_deref().unwrap_or(host), out);
    out.push(b' ');
    if !rec.program.is_empty() {
        out.extend_from_slice(rec.program.as_bytes());
        if let Some(p) = rec.pid {
            out.push(b'[');
            int(out, i64::from(p), 1);
            out.push(b']');
        }
        out.extend_from_slice(b": ");
    }
    out.extend_from_slice(rec.text.as_bytes());
}

/// A header word: `-` when empty, spaces as `_`.
fn field(s: &str, out: &mut Vec<u8>) {
    if s.is_empty() {
        out.push(b'-');
    }
    out.extend(s.bytes().map(|b| if b == b' ' { b'_' } else { b }));
}

fn pri(rec: &Record, out: &mut Vec<u8>) {
    out.push(b'<');
    let p = i64::from(rec.facility.min(23)) * 8 + i64::from(rec.severity.min(7));
    int(out, p, 1);
    out.push(b'>');
}

/// RFC 3339 UTC with `digits` of fraction and `Z`; false (nothing
/// written) for a year that does not have four digits.
fn timestamp(t: (i64, u32), digits: u32, out: &mut Vec<u8>) -> bool {
    let (y, m, d) = civil_from_days(t.0.div_euclid(DAY));
    if !(0..=9999).contains(&y) {
        return false;
    }
    let rem = t.0.rem_euclid(DAY);
    let frac = i64::from(t.1.min(999_999_999) / 10u32.pow(9 - digits));
    let parts = [
        (y, 4, b'-'),
        (i64::from(m), 2, b'-'),
        (i64::from(d), 2, b'T'),
        (rem / 3600, 2, b':'),
        (rem / 60 % 60, 2, b':'),
        (rem % 60, 2, b'.'),
    ];
    for (v, w, sep) in parts {
        int(out, v, w);
        out.push(sep);
    }
    int(out, frac, digits as usize);
    out.push(b'Z');
    true
}

/// A decimal number, zero-padded to `width`.
fn int(out: &mut Vec<u8>, v: i64, width: usize) {
    if v < 0 {
        out.push(b'-');
    }
    let mut v = v.unsigned_abs();
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i.min(buf.len() - width.min(20))..]);
}

/// The facility's name (`user` for a code out of range).
pub fn facility(code: u8) -> &'static str {
    FACILITIES.get(usize::from(code)).copied().unwrap_or("user")
}
