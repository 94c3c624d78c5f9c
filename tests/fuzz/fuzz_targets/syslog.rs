//! The syslog parser and the TCP framing: any bytes give one record,
//! never a panic; what tug writes as RFC 5424 parses back to the same
//! record (facility, severity, program, pid, msgid, structured data,
//! text, and the time to the microsecond when its year has 4 digits);
//! the framing gives the same frames however the stream is split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tug::calendar::{DAY, civil_from_days};
use tug::logs::framing::Decoder;
use tug::logs::{format, syslog};

const RECEIVED: (i64, u32) = (1_796_595_852, 123_456_789);

fuzz_target!(|data: &[u8]| {
    let rec = syslog::parse(data, RECEIVED, 3600);
    assert!(rec.facility < 24 && rec.severity < 8);
    let mut m = Vec::new();
    format::rfc5424(&rec, "box", &mut m);
    let back = syslog::parse(&m, (0, 0), 0);
    let want = (
        rec.facility,
        rec.severity,
        &rec.program,
        rec.pid,
        &rec.msgid,
        &rec.structured,
        &rec.text,
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
    assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&m));
    if (0..=9999).contains(&civil_from_days(rec.time.0.div_euclid(DAY)).0) {
        assert_eq!(back.time, (rec.time.0, rec.time.1 / 1000 * 1000));
    }

    // Framing: whole, then split in two at a point the data chooses.
    let run = |pieces: &[&[u8]]| {
        let mut d = Decoder::new(64);
        let mut out = Vec::new();
        for p in pieces {
            out.extend(d.feed(p));
        }
        out.extend(d.finish());
        out
    };
    let whole = run(&[data]);
    // Bounded frames, and no byte invented.
    assert!(
        whole
            .iter()
            .all(|f| !f.bytes.is_empty() && f.bytes.len() <= 64)
    );
    assert!(whole.iter().map(|f| f.bytes.len()).sum::<usize>() <= data.len());
    let at = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let (a, b) = data.split_at(at);
    assert_eq!(run(&[a, b]), whole);
});
