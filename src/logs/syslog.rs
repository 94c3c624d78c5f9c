//! Syslog messages as they arrive (one datagram, or one TCP frame from
//! `framing`) parsed into a `Record`. Sans-IO: `parse` is a pure function
//! of the bytes, the time they were received and the local UTC offset.
//!
//! Contract:
//! - Never fails and never drops: every input gives one record. What does
//!   not parse is kept whole as the text, facility user (1), severity
//!   notice (5), program "" (RFC 3164 §4.3.3's rule for a missing PRI).
//! - Any length, no cut. UTF-8 is kept; invalid sequences become U+FFFD.
//!   Trailing NULs, newlines and CRs are stripped (Python's handler sends
//!   a NUL, musl's syslog(3) a newline); NULs inside are kept (Chaperone
//!   split the datagram at them; nothing real sends several messages in
//!   one datagram).
//! - `raw` is the whole message as received (stripped, UTF-8-repaired),
//!   for `/regex/` selectors.
//!
//! Forms (after a valid `<PRI>`, 0-191, no leading zeros):
//! - RFC 5424 `1 TS HOST APP PROCID MSGID SD [SP MSG]`, NILVALUE `-` for
//!   any of them, a BOM in front of MSG dropped. A header that does not
//!   follow the grammar (bad timestamp, double space, unterminated SD) is
//!   not 5424: the rest after PRI is then read as below.
//! - BSD / local senders: `[TIMESTAMP SP] [HOST SP] [TAG] CONTENT`, where
//!   TIMESTAMP is `Mmm dd hh:mm:ss` (day space- or zero-padded, or one
//!   digit) or RFC 3339 (rsyslog's forwarding template). Both optional:
//!   Python's SysLogHandler sends `<12>text\0`, no timestamp at all.
//! - TAG is `prog[pid]:`, `prog:` or `prog[pid]` followed by a space:
//!   `prog` is bytes other than space, `[` and `:`, and a `prog` starting
//!   with `/` is reduced to its basename (Chaperone). One space after the
//!   colon is dropped; the rest is the text.
//!
//! Host or not (rsyslog's heuristic, simplified): glibc, musl and plain
//! `logger -u` write no host (`<28>Nov 23 13:49:40 prog[123]: msg`),
//! `logger --rfc3164` and remote forwarders do (`… vm prog: msg`). The
//! word after the timestamp is the tag when it is tag-shaped (ends in
//! `:` or has `[pid]`); else it is the host when it is printable ASCII
//! and the next word is tag-shaped; else there is neither and the whole
//! content is the text (`<13>hello world` has no program). So a host is
//! only recognised in front of a tag.
//!
//! Time: a 5424 timestamp is used as given (UTC; `-` means received). A
//! BSD timestamp has no year and no zone: it is local time at
//! `local_offset_s`, in the year of `received` (local), moved back a
//! year when its month is more than six months ahead of the received one
//! (a December message read in January) and forward in the opposite case
//! (a sender whose clock is ahead at New Year). One that names no real
//! date or time (`Feb 30`, `25:00:00`) is consumed but `received` is used.

use super::Record;
use crate::calendar::{DAY, civil_from_days, days_from_civil, days_in_month};
use alloc::string::String;

pub const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Facility user, severity notice: what a message without PRI is.
pub const DEFAULT_PRI: u8 = 13;

/// One message (a datagram or a frame) as a record; see the module header.
pub fn parse(datagram: &[u8], received: (i64, u32), local_offset_s: i32) -> Record {
    let mut end = datagram.len();
    while end > 0 && matches!(datagram[end - 1], 0 | b'\n' | b'\r') {
        end -= 1;
    }
    let msg = &datagram[..end];
    let raw = lossy(msg);
    let mut rec = Record {
        time: received,
        facility: DEFAULT_PRI / 8,
        severity: DEFAULT_PRI % 8,
        host: None,
        program: String::new(),
        pid: None,
        msgid: None,
        structured: None,
        text: String::new(),
        raw: String::new(),
    };
    match pri(msg) {
        Some((p, rest)) => {
            rec.facility = p / 8;
            rec.severity = p % 8;
            let is_5424 = rest
                .strip_prefix(b"1 ")
                .is_some_and(|r| rfc5424(r, &mut rec));
            if !is_5424 {
                bsd(rest, &mut rec, local_offset_s);
            }
        }
        None => rec.text = raw.clone(),
    }
    rec.raw = raw;
    rec
}

/// `<PRI>`: the value and what follows.
fn pri(s: &[u8]) -> Option<(u8, &[u8])> {
    let s = s.strip_prefix(b"<")?;
    let close = s.iter().take(4).position(|&b| b == b'>')?;
    let digits = &s[..close];
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let v = number(digits)?;
    (v <= 191).then_some((v as u8, &s[close + 1..]))
}

/// The header after `<PRI>1 `; fills `rec` only when all of it parses.
fn rfc5424(mut s: &[u8], rec: &mut Record) -> bool {
    let mut fields = [&b""[..]; 5];
    for f in &mut fields {
        match word(&mut s) {
            Some(w) => *f = w,
            None => return false,
        }
    }
    let [ts, host, app, procid, msgid] = fields;
    let time = if ts == b"-" {
        rec.time
    } else {
        match rfc3339(ts) {
            Some(t) => t,
            None => return false,
        }
    };
    let Some(sd) = sd_len(s) else { return false };
    let msg = match &s[sd..] {
        [] => &[][..],
        [b' ', m @ ..] => m,
        _ => return false,
    };
    rec.time = time;
    rec.host = nil(host);
    rec.program = nil(app).unwrap_or_default();
    rec.pid = number(procid).and_then(|p| i32::try_from(p).ok());
    rec.msgid = nil(msgid);
    rec.structured = nil(&s[..sd]);
    rec.text = lossy(msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg));
    true
}

/// The length of STRUCTURED-DATA at the start of `s`: `-` or `[…]…`,
/// with `\`-escapes inside quoted values.
fn sd_len(s: &[u8]) -> Option<usize> {
    if s.first() == Some(&b'-') {
        return Some(1);
    }
    let mut i = 0;
    while s.get(i) == Some(&b'[') {
        let mut quoted = false;
        i += 1;
        loop {
            match *s.get(i)? {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    (i > 0).then_some(i)
}

/// Everything after PRI that is not RFC 5424.
fn bsd(mut s: &[u8], rec: &mut Record, offset: i32) {
    if let Some((t, rest)) = bsd_time(s, rec.time, offset) {
        rec.time = t;
        s = rest;
    } else if let Some(sp) = s.iter().position(|&b| b == b' ')
        && let Some(t) = rfc3339(&s[..sp])
    {
        rec.time = t;
        s = &s[sp + 1..];
    }
    let mut found = tag(s);
    if found.is_none()
        && let Some(sp) = s.iter().position(|&b| b == b' ')
        && sp > 0
        && s[..sp].iter().all(|b| (33..127).contains(b))
        && let Some(t) = tag(&s[sp + 1..])
    {
        rec.host = Some(lossy(&s[..sp]));
        found = Some(t);
    }
    if let Some((prog, pid, text)) = found {
        let base = match prog.strip_prefix(b"/") {
            Some(_) => prog.rsplit(|&b| b == b'/').next().unwrap_or(prog),
            None => prog,
        };
        // `-` is RFC 5424's NILVALUE: no program.
        if base != b"-" {
            rec.program = lossy(base);
        }
        rec.pid = pid;
        s = text;
    }
    rec.text = lossy(s);
}

/// A TAG at the start of `s`: (program, pid, the text after it).
fn tag(s: &[u8]) -> Option<(&[u8], Option<i32>, &[u8])> {
    let n = s.iter().position(|&b| matches!(b, b' ' | b'[' | b':'))?;
    let prog = &s[..n];
    if prog.is_empty() || prog.iter().any(|&b| b < 33 || b == 127) {
        return None;
    }
    let mut pid = None;
    let mut rest = &s[n..];
    if rest[0] == b'[' {
        let close = rest.iter().position(|&b| b == b']')?;
        pid = number(&rest[1..close]).and_then(|p| i32::try_from(p).ok());
        rest = &rest[close + 1..];
        if let Some(r) = rest.strip_prefix(b" ") {
            return Some((prog, pid, r));
        }
    }
    let rest = rest.strip_prefix(b":")?;
    Some((prog, pid, rest.strip_prefix(b" ").unwrap_or(rest)))
}

/// `Mmm dd hh:mm:ss` (then a space or the end): the time and the rest.
fn bsd_time(s: &[u8], received: (i64, u32), offset: i32) -> Option<((i64, u32), &[u8])> {
    let m = MONTHS.iter().position(|m| s.starts_with(*m))? as u32 + 1;
    let s = s[3..].strip_prefix(b" ")?;
    let s = s.strip_prefix(b" ").unwrap_or(s);
    let (d, s) = digits(s, 1, 2)?;
    let (h, s) = digits(s.strip_prefix(b" ")?, 2, 2)?;
    let (mi, s) = digits(s.strip_prefix(b":")?, 2, 2)?;
    let (se, s) = digits(s.strip_prefix(b":")?, 2, 2)?;
    let rest = match s {
        [] => s,
        [b' ', r @ ..] => r,
        _ => return None,
    };
    let offset = i64::from(offset);
    let (y, now, _) = civil_from_days((received.0 + offset).div_euclid(DAY));
    let y = match m {
        _ if m > now + 6 => y - 1,
        _ if now > m + 6 => y + 1,
        _ => y,
    };
    let d = d as u32;
    let time = if (1..=days_in_month(y, m)).contains(&d) && h < 24 && mi < 60 && se < 61 {
        let t = days_from_civil(y, m, d) * DAY + h * 3600 + mi * 60 + se - offset;
        (t, 0)
    } else {
        received
    };
    Some((time, rest))
}

/// An RFC 3339 timestamp (`2026-12-06T22:24:12.602839+00:00`) as UTC.
pub fn rfc3339(s: &[u8]) -> Option<(i64, u32)> {
    let (y, s) = digits(s, 4, 4)?;
    let (mo, s) = digits(s.strip_prefix(b"-")?, 2, 2)?;
    let (d, s) = digits(s.strip_prefix(b"-")?, 2, 2)?;
    let s = s.strip_prefix(b"T").or_else(|| s.strip_prefix(b"t"))?;
    let (h, s) = digits(s, 2, 2)?;
    let (mi, s) = digits(s.strip_prefix(b":")?, 2, 2)?;
    let (se, mut s) = digits(s.strip_prefix(b":")?, 2, 2)?;
    let mut nanos = 0u32;
    if let Some(f) = s.strip_prefix(b".") {
        let n = f.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        for &b in &f[..n] {
            nanos = nanos * 10 + u32::from(b - b'0');
        }
        nanos *= 10u32.pow(9 - n as u32);
        s = &f[n..];
    }
    let offset = match s {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), ..] => {
            let (oh, r) = digits(&s[1..], 2, 2)?;
            let (om, r) = digits(r.strip_prefix(b":")?, 2, 2)?;
            if !r.is_empty() || oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let (mo, d) = (mo as u32, d as u32);
    let valid = (1..=12).contains(&mo)
        && (1..=days_in_month(y, mo)).contains(&d)
        && h < 24
        && mi < 60
        && se < 61;
    valid.then(|| {
        let t = days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + se - offset;
        (t, nanos)
    })
}

/// Between `min` and `max` ASCII digits at the start of `s`.
fn digits(s: &[u8], min: usize, max: usize) -> Option<(i64, &[u8])> {
    let n = s
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n < min {
        return None;
    }
    Some((number(&s[..n])? as i64, &s[n..]))
}

/// A run of ASCII digits (nothing else) that fits in 32 bits.
fn number(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u32, |v, &b| {
        let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
        v.checked_mul(10)?.checked_add(u32::from(d))
    })
}

/// The next space-delimited word (not empty), consuming one space.
fn word<'a>(s: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = s.iter().position(|&b| b == b' ')?;
    let w = &s[..n];
    *s = &s[n + 1..];
    (!w.is_empty()).then_some(w)
}

fn nil(w: &[u8]) -> Option<String> {
    (w != b"-").then(|| lossy(w))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// 2026-12-06 22:24:12 UTC: when the fixtures below were captured.
    const AT: i64 = 1_796_595_852;
    const RECV: (i64, u32) = (AT, 500);

    /// (facility, severity, host, program, pid, text, time)
    type Want<'a> = (
        u8,
        u8,
        Option<&'a str>,
        &'a str,
        Option<i32>,
        &'a str,
        (i64, u32),
    );

    fn check(msg: &[u8], want: Want<'_>) {
        let r = parse(msg, RECV, 0);
        let got = (
            r.facility,
            r.severity,
            r.host.as_deref(),
            r.program.as_str(),
            r.pid,
            r.text.as_str(),
            r.time,
        );
        assert_eq!(got, want, "{}", String::from_utf8_lossy(msg));
    }

    #[test]
    fn the_capture_time_is_right() {
        assert_eq!(
            AT,
            days_from_civil(2026, 12, 6) * DAY + 22 * 3600 + 24 * 60 + 12
        );
    }

    /// Datagrams captured on /dev/log from the real senders (a python3
    /// receiver on a unix datagram socket, in a private mount namespace).
    #[test]
    fn what_real_local_senders_send() {
        let t = (AT, 0);
        // glibc syslog(3), openlog("glibcprog", LOG_PID|LOG_PERROR, LOG_DAEMON).
        check(
            b"<28>Dec  6 22:24:12 glibcprog[10735]: hello from glibc \xc3\xa9\xf0\x9f\x98\x80",
            (
                3,
                4,
                None,
                "glibcprog",
                Some(10735),
                "hello from glibc é😀",
                t,
            ),
        );
        // glibc without openlog: the program's short name, no pid; a
        // newline the caller put at the end is sent.
        check(
            b"<14>Dec  6 22:24:12 glibc: no ident no pid",
            (1, 6, None, "glibc", None, "no ident no pid", t),
        );
        check(
            b"<131>Dec  6 22:24:12 glibc: line with newline\n",
            (16, 3, None, "glibc", None, "line with newline", t),
        );
        // musl syslog(3) (a static binary): always a trailing newline.
        check(
            b"<28>Dec  6 22:24:12 muslprog[10736]: hello from musl \xc3\xa9\xf0\x9f\x98\x80\n",
            (
                3,
                4,
                None,
                "muslprog",
                Some(10736),
                "hello from musl é😀",
                t,
            ),
        );
        // util-linux logger 2.38 -u SOCKET: no host by default...
        check(
            b"<28>Dec  6 22:24:12 loggertag: logger default",
            (3, 4, None, "loggertag", None, "logger default", t),
        );
        check(
            b"<13>Dec  6 22:24:12 loggertag[10766]: logger with pid",
            (1, 5, None, "loggertag", Some(10766), "logger with pid", t),
        );
        check(
            b"<13>Dec  6 22:24:12 root: logger no tag",
            (1, 5, None, "root", None, "logger no tag", t),
        );
        // ...the host with --rfc3164...
        check(
            b"<28>Dec  6 22:24:12 vm loggertag: logger rfc3164",
            (3, 4, Some("vm"), "loggertag", None, "logger rfc3164", t),
        );
        // ...and RFC 5424 with --rfc5424 (microseconds, an SD element).
        let r = parse(
            b"<131>1 2026-12-06T22:24:12.604738+00:00 vm loggertag 10762 MID [timeQuality tzKnown=\"1\" isSynced=\"0\"][zoo@123 tiger=\"hungry\"] logger 5424 sd",
            RECV,
            0,
        );
        assert_eq!(
            (
                r.facility,
                r.severity,
                r.host.as_deref(),
                r.program.as_str(),
                r.pid
            ),
            (16, 3, Some("vm"), "loggertag", Some(10762))
        );
        assert_eq!(
            (r.msgid.as_deref(), r.text.as_str(), r.time),
            (Some("MID"), "logger 5424 sd", (AT, 604_738_000))
        );
        assert_eq!(
            r.structured.as_deref(),
            Some("[timeQuality tzKnown=\"1\" isSynced=\"0\"][zoo@123 tiger=\"hungry\"]")
        );
        check(
            b"<28>1 2026-12-06T22:24:12.602839+00:00 vm loggertag - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] logger rfc5424",
            (3, 4, Some("vm"), "loggertag", None, "logger rfc5424", (AT, 602_839_000)),
        );
        // Python's logging.handlers.SysLogHandler: no timestamp, no tag
        // unless the formatter writes one, a trailing NUL.
        check(
            b"<12>python warning \xc3\xa9\x00",
            (1, 4, None, "", None, "python warning é", RECV),
        );
        check(
            b"<27>pyapp: y[10769]: python formatted\x00",
            (
                3,
                3,
                None,
                "pyapp",
                None,
                "y[10769]: python formatted",
                RECV,
            ),
        );
    }

    #[test]
    fn rfc5424_fields_bom_and_nilvalues() {
        check(b"<165>1 - - - - - -", (20, 5, None, "", None, "", RECV));
        check(
            b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed",
            (4, 2, Some("mymachine.example.com"), "su", None, "'su root' failed", (1_065_910_455, 3_000_000)),
        );
        // Offsets are applied; escapes inside SD values do not end it.
        let r = parse(
            b"<13>1 2003-08-24T05:14:15.000003-07:00 h a 1 - [x@1 v=\"a\\\"] b\\]\"] m",
            RECV,
            0,
        );
        assert_eq!(
            (r.time, r.pid, r.text.as_str()),
            ((1_061_727_255, 3000), Some(1), "m")
        );
        assert_eq!(r.structured.as_deref(), Some("[x@1 v=\"a\\\"] b\\]\"]"));
        // Not 5424 after all (bad time, unterminated SD): BSD rules, PRI kept.
        // (The BSD rules then see a host `1` and a tag `2003-13-01T00:`.)
        check(
            b"<13>1 2003-13-01T00:00:00Z h a - - - m",
            (
                1,
                5,
                Some("1"),
                "2003-13-01T00",
                None,
                "00:00Z h a - - - m",
                RECV,
            ),
        );
        check(
            b"<13>1 - h a - - [x m",
            (1, 5, None, "", None, "1 - h a - - [x m", RECV),
        );
        check(
            b"<13>1  h a - - - m",
            (1, 5, None, "", None, "1  h a - - - m", RECV),
        );
    }

    #[test]
    fn what_does_not_parse_is_kept_whole() {
        for m in [
            &b"hello world"[..],
            b"<192>x",
            b"<013>x",
            b"<>x",
            b"<13",
            b"",
            b"\xff",
        ] {
            let r = parse(m, RECV, 0);
            let text = String::from_utf8_lossy(m);
            assert_eq!(
                (r.facility, r.severity, r.program.as_str(), r.time),
                (1, 5, "", RECV)
            );
            assert_eq!((r.text.as_str(), r.raw.as_str()), (&*text, &*text));
        }
        // A PRI and then nothing recognisable: the rest is the text.
        check(b"<0>just text", (0, 0, None, "", None, "just text", RECV));
        check(b"<191>", (23, 7, None, "", None, "", RECV));
        // A host is only recognised in front of a tag.
        check(
            b"<13>Dec  6 22:24:12 vm some text",
            (1, 5, None, "", None, "vm some text", (AT, 0)),
        );
    }

    #[test]
    fn tags_pids_and_basenames() {
        let t = (AT, 0);
        check(
            b"<78>Dec  6 22:24:12 /usr/sbin/cron[77]: (root) CMD",
            (9, 6, None, "cron", Some(77), "(root) CMD", t),
        );
        check(
            b"<13>Dec  6 22:24:12 host /bin/x: y",
            (1, 5, Some("host"), "x", None, "y", t),
        );
        check(
            b"<13>Dec  6 22:24:12 prog[12] no colon",
            (1, 5, None, "prog", Some(12), "no colon", t),
        );
        check(
            b"<13>Dec  6 22:24:12 prog[abc]: odd pid",
            (1, 5, None, "prog", None, "odd pid", t),
        );
        check(
            b"<13>Dec  6 22:24:12 prog:",
            (1, 5, None, "prog", None, "", t),
        );
        check(
            b"<13>Dec  6 22:24:12 prog:  two spaces",
            (1, 5, None, "prog", None, " two spaces", t),
        );
        // rsyslog's forwarding template: an RFC 3339 time in a BSD message.
        check(
            b"<13>2026-12-06T22:24:12Z web nginx[3]: GET /",
            (1, 5, Some("web"), "nginx", Some(3), "GET /", t),
        );
        // One-digit and zero-padded days.
        check(b"<13>Dec 6 22:24:12 p: x", (1, 5, None, "p", None, "x", t));
        check(b"<13>Dec 06 22:24:12 p: x", (1, 5, None, "p", None, "x", t));
    }

    #[test]
    fn bsd_time_takes_the_year_and_zone_from_the_receiver() {
        let jan = days_from_civil(2027, 1, 1) * DAY + 5;
        let dec = days_from_civil(2026, 12, 31) * DAY + 86_000;
        let at = |y, m, d, s| days_from_civil(y, m, d) * DAY + s;
        // Read in January, written in December: last year.
        assert_eq!(
            parse(b"<13>Dec 31 23:59:59 p: x", (jan, 0), 0).time,
            (at(2026, 12, 31, 86_399), 0)
        );
        // A sender ahead at New Year: next year.
        assert_eq!(
            parse(b"<13>Jan  1 00:00:01 p: x", (dec, 0), 0).time,
            (at(2027, 1, 1, 1), 0)
        );
        // Local time at UTC+1 is an hour ahead of UTC; the local date
        // of `received` gives the year (already 2027 at +1 h).
        let r = parse(
            b"<13>Jan  1 00:30:00 p: x",
            (at(2026, 12, 31, 84_600), 0),
            3600,
        );
        assert_eq!(r.time, (at(2026, 12, 31, 84_600), 0));
        // 29 February only in leap years; impossible dates take `received`.
        assert_eq!(
            parse(b"<13>Feb 29 00:00:00 p: x", (at(2028, 3, 1, 0), 0), 0)
                .time
                .0,
            at(2028, 2, 29, 0)
        );
        for m in [
            &b"<13>Feb 29 00:00:00 p: x"[..],
            b"<13>Feb 30 00:00:00 p: x",
            b"<13>Dec  6 24:00:00 p: x",
            b"<13>Dec  0 10:00:00 p: x",
        ] {
            let r = parse(m, RECV, 0);
            assert_eq!(
                (r.time, r.program.as_str(), r.text.as_str()),
                (RECV, "p", "x")
            );
        }
    }

    #[test]
    fn utf8_is_kept_and_invalid_bytes_replaced_at_any_length() {
        check(
            b"<13>p: \xe2\x82\xac \xf0\x9f\x8e\x89 \xff\xc3(",
            (1, 5, None, "p", None, "€ 🎉 \u{fffd}\u{fffd}(", RECV),
        );
        // A 60 KiB message, whole; a trailing newline only is stripped.
        let mut m = b"<13>Dec  6 22:24:12 big[1]: ".to_vec();
        let body: Vec<u8> = (0..60 * 1024).map(|i| b"abc\xc3\xa9 \t"[i % 7]).collect();
        m.extend_from_slice(&body);
        m.extend_from_slice(b"\r\n\0");
        let r = parse(&m, RECV, 0);
        assert_eq!(r.text.as_bytes(), &body[..]);
        assert_eq!(r.raw.len(), m.len() - 3);
    }
}
