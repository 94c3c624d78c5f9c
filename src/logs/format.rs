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

use super::Record;
use super::syslog::MONTHS;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::syslog::parse;

    /// 2026-12-06 22:24:12.604738 UTC.
    const AT: (i64, u32) = (1_796_595_852, 604_738_123);

    fn rec(program: &str, pid: Option<i32>, text: &str) -> Record {
        Record {
            time: AT,
            facility: 3,
            severity: 4,
            host: None,
            program: program.into(),
            pid,
            msgid: None,
            structured: None,
            text: text.into(),
            raw: text.into(),
        }
    }

    fn line(fmt: Format, r: &Record) -> String {
        let mut out = Vec::new();
        write(fmt, r, "box", &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_and_json_mirror_tugs_own_lines() {
        let r = rec("web", Some(42), "say \"hi\"\n\u{1}é");
        assert_eq!(
            line(Format::Text, &r),
            "time=\"2026-12-06T22:24:12.604Z\" level=warning msg=\"say \\\"hi\\\"\\n\\u0001é\" job=\"web\" pid=42\n"
        );
        assert_eq!(
            line(Format::Json, &r),
            "{\"time\":\"2026-12-06T22:24:12.604Z\",\"level\":\"warning\",\"msg\":\"say \\\"hi\\\"\\n\\u0001é\",\"job\":\"web\",\"pid\":42}\n"
        );
        // tug's own records: no job, no pid, as today.
        let mut t = rec("tug", Some(1), "reloaded");
        t.severity = 6;
        assert_eq!(
            line(Format::Text, &t),
            "time=\"2026-12-06T22:24:12.604Z\" level=info msg=\"reloaded\"\n"
        );
        // A remote message names its host.
        let mut h = rec("", None, "x");
        h.host = Some("vm".into());
        h.severity = 0;
        assert_eq!(
            line(Format::Text, &h),
            "time=\"2026-12-06T22:24:12.604Z\" level=fatal msg=\"x\" host=\"vm\"\n"
        );
        let words: Vec<&str> = (0..8).map(level).collect();
        assert_eq!(
            words,
            [
                "fatal", "fatal", "fatal", "error", "warning", "info", "info", "debug"
            ]
        );
    }

    #[test]
    fn rfc5424_and_classic_lines() {
        let r = rec("web", Some(42), "hello 😀");
        assert_eq!(
            line(Format::Rfc5424, &r),
            "<28>1 2026-12-06T22:24:12.604738Z box web 42 - - hello 😀\n"
        );
        let mut n = rec("", None, "");
        n.host = Some("my host".into());
        n.msgid = Some("ID1".into());
        n.structured = Some("[a b=\"c\"]".into());
        assert_eq!(
            line(Format::Rfc5424, &n),
            "<28>1 2026-12-06T22:24:12.604738Z my_host - - ID1 [a b=\"c\"]\n"
        );
        // A year that has no four digits: NILVALUE.
        n.time = (-62_167_219_201, 0);
        assert!(line(Format::Rfc5424, &n).starts_with("<28>1 - my_host"));
        assert_eq!(
            line(Format::Classic { utc_offset: 0 }, &r),
            "Dec  6 22:24:12 box web[42]: hello 😀\n"
        );
        // Local time; the day padded with a space only below 10.
        let late = Format::Classic {
            utc_offset: 5 * 3600,
        };
        assert_eq!(
            line(late, &rec("cron", None, "x")),
            "Dec  7 03:24:12 box cron: x\n"
        );
        assert_eq!(
            line(Format::Classic { utc_offset: 0 }, &rec("", None, "bare")),
            "Dec  6 22:24:12 box bare\n"
        );
        let mut out = Vec::new();
        rfc3164(&r, "box", 0, &mut out);
        assert_eq!(out, "<28>Dec  6 22:24:12 box web[42]: hello 😀".as_bytes());
        let mut framed = Vec::new();
        octet_frame(&out, &mut framed);
        assert_eq!(framed, [&b"43 "[..], &out].concat());
    }

    #[test]
    fn what_is_written_parses_back() {
        let big: String = "x€🎉".repeat(6 * 1024);
        let mut recs = [
            rec("web", Some(42), "hello 😀"),
            rec("a", None, ""),
            rec("", None, "no program: here"),
            rec("p", Some(1), "\u{feff}starts with a BOM"),
            rec("big", Some(7), &big),
        ];
        recs[1].host = Some("remote".into());
        recs[1].msgid = Some("M".into());
        recs[1].structured = Some("[x@1 k=\"v\\]\"]".into());
        for r in &recs {
            let mut m = Vec::new();
            rfc5424(r, "box", &mut m);
            let back = parse(&m, (0, 0), 0);
            assert_eq!(back.time, (AT.0, AT.1 / 1000 * 1000));
            assert_eq!(
                back.host.as_deref(),
                Some(r.host.as_deref().unwrap_or("box"))
            );
            let got = (
                back.facility,
                back.severity,
                &back.program,
                back.pid,
                &back.msgid,
                &back.structured,
                &back.text,
            );
            assert_eq!(
                got,
                (
                    r.facility,
                    r.severity,
                    &r.program,
                    r.pid,
                    &r.msgid,
                    &r.structured,
                    &r.text
                )
            );
            if r.program.is_empty() {
                continue; // 3164 cannot say "no program" before a text with a colon
            }
            for off in [0, -7 * 3600] {
                let mut m = Vec::new();
                rfc3164(r, "box", off, &mut m);
                let back = parse(&m, AT, off);
                assert_eq!(back.time, (AT.0, 0));
                let got = (
                    back.facility,
                    back.severity,
                    back.host.as_deref(),
                    &back.program,
                    back.pid,
                    &back.text,
                );
                assert_eq!(
                    got,
                    (
                        3,
                        4,
                        Some(r.host.as_deref().unwrap_or("box")),
                        &r.program,
                        r.pid,
                        &r.text
                    )
                );
            }
        }
    }
}
